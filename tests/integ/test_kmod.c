// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Linux livepatch modules applied from outside (issue 15): the kernel's
 * own samples and selftest modules (scripts/klp-samples.sh builds them
 * from Debian's linux-source with Debian's linux-headers for the guest
 * kernel) given to `vmm patch TARGET FILE.ko`.  The oracle is what
 * tools/testing/selftests/livepatch/test-livepatch.sh expects of them in
 * the guest's /proc, while the guest's own lsmod and /sys/kernel/livepatch
 * never see them; refused modules leave guest memory byte for byte as it
 * was.
 */
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gp_check.h"
#include "patch_util.h"
#include "rig/rig.h"

static struct rig *r;
static char dir[64];
static const char *flavor;	/* NULL: 6.1 (amd64) */

static void up(void)
{
	flavor = NULL;
	pu_up(&r, dir, sizeof(dir), "/tmp/gp-kmod-XXXXXX", NULL);
}

static void up612(void)
{
	flavor = "6.12-amd64";
	pu_up(&r, dir, sizeof(dir), "/tmp/gp-kmod-XXXXXX", flavor);
}

static void down(void)
{
	pu_down(r, dir);
}

/* A sample module built for the rig's kernel (or the other one). */
static const char *ko(const char *name, bool other)
{
	static char path[4][300];
	static int n;
	const char *sub = (flavor != NULL) != other ? "klp-samples-6.12-amd64" : "klp-samples";
	char *p = path[n++ % 4];
	struct stat st;

	snprintf(p, 300, "%s/%s/%s.ko", rig_build_dir(), sub, name);
	ck_assert_msg(!stat(p, &st), "%s missing: make klp-samples", p);
	return p;
}

/* The guest's own view: not a module, not a livepatch of its own. */
static void guest_does_not_list(const char *name)
{
	char cmd[200];

	ck_assert(!pu_guest_has(r, "cat /proc/modules", name));
	snprintf(cmd, sizeof(cmd), "ls /sys/kernel/livepatch/ 2>&1; echo end");
	ck_assert(!pu_guest_has(r, cmd, name));
}

static void patch_ok(const char *rest)
{
	char *out = NULL, *err = NULL;
	int rc = pu_vmm(r, "patch", rest, &out, &err);

	ck_assert_msg(rc == 0, "vmm patch %s: exit %d: %s", rest, rc, err);
	fprintf(stderr, "kmod: %s", out);
	free(out);
	free(err);
}

/* livepatch-sample.ko: /proc/cmdline says so, nothing in the guest lists
 * it, `vmm list` does, and unpatch puts the text back. */
START_TEST(sample_applied_from_outside)
{
	struct hashes before = pu_hash_guest(r);
	char *out = NULL;

	patch_ok(ko("livepatch-sample", false));
	ck_assert(pu_guest_has(r, "cat /proc/cmdline", "this has been live patched"));
	guest_does_not_list("livepatch_sample");
	ck_assert_int_eq(pu_vmm(r, "list", "", &out, NULL), 0);
	ck_assert_msg(strstr(out, "livepatch_sample: applied") && strstr(out, "cmdline_proc_show"),
		      "%s", out);
	free(out);
	ck_assert_int_eq(pu_vmm(r, "unpatch", "livepatch_sample", NULL, NULL), 0);
	ck_assert(!pu_guest_has(r, "cat /proc/cmdline", "live patched"));
	ck_assert_msg(pu_hash_guest(r).text == before.text, "kernel text differs after unpatch");
	ck_assert_int_eq(pu_vmm(r, "list", "", &out, NULL), 0);
	ck_assert_msg(!strstr(out, "livepatch_sample"), "%s", out);
	free(out);
	pu_no_oops(r);
}
END_TEST

/* test-livepatch.sh, "atomic replace livepatch", step by step: the
 * replace=1 the script gives modprobe is our --replace (the module sets
 * klp_patch.replace from its parameter in its init function, which is
 * never run). */
START_TEST(atomic_replace_as_the_selftest)
{
	struct hashes before = pu_hash_guest(r);
	char rest[400], *out = NULL;

	patch_ok(ko("test_klp_livepatch", false));
	ck_assert(pu_guest_has(r, "grep 'live patched' /proc/cmdline",
			       "test_klp_livepatch: this has been live patched"));
	ck_assert(!pu_guest_has(r, "grep 'live patched' /proc/meminfo; echo end", "live patched"));

	snprintf(rest, sizeof(rest), "--replace %s", ko("test_klp_atomic_replace", false));
	patch_ok(rest);
	ck_assert(!pu_guest_has(r, "grep 'live patched' /proc/cmdline; echo end", "live patched"));
	ck_assert(pu_guest_has(r, "grep 'live patched' /proc/meminfo",
			       "test_klp_atomic_replace: this has been live patched"));
	ck_assert_int_eq(pu_vmm(r, "list", "", &out, NULL), 0);
	ck_assert_msg(!strstr(out, "test_klp_livepatch") &&
			      strstr(out, "test_klp_atomic_replace: applied"), "%s", out);
	free(out);
	guest_does_not_list("test_klp");

	/* "rmmod $MOD_LIVEPATCH": it is gone already */
	ck_assert_int_ne(pu_vmm(r, "unpatch", "test_klp_livepatch", NULL, NULL), 0);
	ck_assert(pu_guest_has(r, "grep 'live patched' /proc/meminfo",
			       "test_klp_atomic_replace: this has been live patched"));
	ck_assert_int_eq(pu_vmm(r, "unpatch", "test_klp_atomic_replace", NULL, NULL), 0);
	ck_assert(!pu_guest_has(r, "grep 'live patched' /proc/cmdline /proc/meminfo; echo end",
				"live patched"));
	ck_assert_msg(pu_hash_guest(r).text == before.text, "kernel text differs after unpatch");
	pu_no_oops(r);
}
END_TEST

/* A copy of a module with the CRC of one __versions entry flipped. */
static const char *flip_crc(const char *src, const char *sym)
{
	static char dst[300];
	char *buf = rig_slurp(src);
	struct stat st;
	Elf *e;
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	bool done = false;
	FILE *f;

	ck_assert(!stat(src, &st));
	elf_version(EV_CURRENT);
	e = elf_memory(buf, (size_t)st.st_size);
	ck_assert(e && !elf_getshdrstrndx(e, &shstrndx));
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;

		gelf_getshdr(scn, &sh);
		if (strcmp(elf_strptr(e, shstrndx, sh.sh_name), "__versions"))
			continue;
		for (uint64_t o = 0; o + 64 <= sh.sh_size; o += 64)
			if (!strcmp(buf + sh.sh_offset + o + 8, sym)) {
				buf[sh.sh_offset + o] ^= 0x5a;
				done = true;
			}
	}
	elf_end(e);
	ck_assert_msg(done, "no __versions entry for %s in %s", sym, src);
	snprintf(dst, sizeof(dst), "%s/crc-flipped.ko", dir);
	f = fopen(dst, "wb");
	ck_assert(f && fwrite(buf, 1, (size_t)st.st_size, f) == (size_t)st.st_size);
	fclose(f);
	free(buf);
	return dst;
}

static const char *truncated(const char *src, long keep)
{
	static char dst[300];
	char *buf = rig_slurp(src);
	FILE *f;

	snprintf(dst, sizeof(dst), "%s/truncated.ko", dir);
	f = fopen(dst, "wb");
	ck_assert(f && fwrite(buf, 1, (size_t)keep, f) == (size_t)keep);
	fclose(f);
	free(buf);
	return dst;
}

static void refused(const char *file, const char *needle)
{
	struct hashes before = pu_hash_guest(r), after;
	char *err = NULL;
	int rc = pu_vmm(r, "patch", file, NULL, &err);

	ck_assert_msg(rc != 0, "%s was applied", file);
	ck_assert_msg(err && strstr(err, needle), "%s: expected \"%s\" in: %s", file, needle, err);
	fprintf(stderr, "kmod refused: %s", err);
	free(err);
	after = pu_hash_guest(r);
	ck_assert_msg(before.text == after.text && before.region == after.region,
		      "guest memory changed by a refused module");
}

START_TEST(refusals_change_nothing)
{
	char gp_sleeper[300];
	struct stat st;

	/* built for the other kernel: vermagic */
	refused(ko("livepatch-sample", true), "was built for another kernel");
	refused(flip_crc(ko("livepatch-sample", false), "seq_printf"),
		"disagrees about version of symbol seq_printf");
	refused(ko("test_klp_shadow_vars", false), "not a livepatch module");
	/* callbacks run now (test_kmod_cb.c); a parameter it does not have
	 * is refused by name */
	{
		char arg[400];

		snprintf(arg, sizeof(arg), "%s nosuch=1", ko("livepatch-callbacks-demo", false));
		refused(arg, "the module has no parameter nosuch");
	}
	snprintf(gp_sleeper, sizeof(gp_sleeper), "%s/%s/gp_test_sleeper.ko", rig_build_dir(),
		 flavor ? "klp-6.12-amd64" : "klp");
	refused(gp_sleeper, "not a livepatch module");
	ck_assert(!stat(ko("livepatch-sample", false), &st));
	refused(truncated(ko("livepatch-sample", false), st.st_size / 2),
		"truncated.ko: truncated or corrupt");
	refused(truncated(ko("livepatch-sample", false), 100), "truncated.ko: truncated or corrupt");
	pu_no_oops(r);
}
END_TEST

/* A task asleep inside the module's replacement unwinds reliably through
 * the module's own ORC, loaded with the patch and found from the region
 * records by a later vmm process (`vmm stack`). */
START_TEST(stack_through_patch_code_is_reliable)
{
	char *out = NULL, *err = NULL, pid[32];
	int rc;

	patch_ok(ko("gp_kmod_sleepy", false));
	out = pu_guest(r, "cat /proc/version >/dev/null & echo $!; sleep 1");
	snprintf(pid, sizeof(pid), "%d", atoi(out));
	free(out);
	ck_assert_msg(atoi(pid) > 1, "no reader pid");
	ck_assert_int_eq(pu_vmm(r, "stack", pid, &out, &err), 0);
	fprintf(stderr, "kmod stack: %s", out);
	ck_assert_msg(strstr(out, "[gp_kmod_sleepy]") && strstr(out, "msleep_interruptible"),
		      "%s", out);
	ck_assert_msg(strstr(out, "reliable") && !strstr(out, "unreliable"), "%s", out);
	free(out);
	free(err);
	/* Out of patch code, the patch comes off. */
	free(pu_guest(r, "kill %1 2>/dev/null; kill $(pidof cat) 2>/dev/null; sleep 0.5; echo done"));
	rc = pu_vmm(r, "unpatch", "--timeout 20 gp_kmod_sleepy", NULL, &err);
	ck_assert_msg(rc == 0, "unpatch: %d %s", rc, err);
	free(err);
	ck_assert(!pu_guest_has(r, "cat /proc/version", "gp_kmod_sleepy"));
	pu_no_oops(r);
}
END_TEST

/* samples/livepatch: livepatch-shadow-fix1 patches functions of the
 * guest's own module livepatch-shadow-mod (insmod'ed in the guest: a
 * klp_object named after a loaded module) and keeps shadow variables with
 * the guest's klp_shadow_* functions: its dummy_alloc attaches one to
 * each new dummy, and its dummy_free frees it ("prevented leak"). */
START_TEST(shadow_variables_in_a_module_object)
{
	char *out = NULL;
	int rc = -1;

	free(pu_guest(r, "insmod /bin/livepatch-shadow-mod.ko && sleep 1 && echo ok"));
	patch_ok(ko("livepatch-shadow-fix1", false));
	guest_does_not_list("livepatch_shadow_fix1");
	/* a dummy allocated by the patch expires after 12 s, freed by it */
	for (int i = 0; i < 40 && rc; i++) {
		free(out);
		out = pu_guest(r, "sleep 1; dmesg | grep livepatch_fix1 | tail -3; echo end");
		rc = strstr(out, "livepatch_fix1_dummy_leak_dtor: dummy @") ? 0 : -1;
	}
	fprintf(stderr, "kmod shadow: %s", out);
	ck_assert_msg(rc == 0, "no shadow variable freed by the patch: %s", out);
	ck_assert(strstr(out, "prevented leak @"));
	free(out);
	ck_assert(pu_guest_has(r, "dmesg", "livepatch_fix1_dummy_alloc: dummy @"));
	ck_assert_int_eq(pu_vmm(r, "unpatch", "--timeout 20 livepatch_shadow_fix1", NULL, NULL), 0);
	ck_assert(pu_guest_has(r, "cat /proc/modules", "livepatch_shadow_mod"));
	free(pu_guest(r, "rmmod livepatch_shadow_mod; echo done"));
	pu_no_oops(r);
}
END_TEST

static TCase *kmod_tcase(void)
{
	TCase *tc = tcase_create("kmod");

	tcase_set_timeout(tc, 900);
	tcase_add_unchecked_fixture(tc, up, down);
	tcase_add_test(tc, sample_applied_from_outside);
	tcase_add_test(tc, atomic_replace_as_the_selftest);
	tcase_add_test(tc, refusals_change_nothing);
	tcase_add_test(tc, stack_through_patch_code_is_reliable);
	tcase_add_test(tc, shadow_variables_in_a_module_object);
	return tc;
}
GP_TCASE(kmod_tcase)

static TCase *kmod612_tcase(void)
{
	TCase *tc = tcase_create("kmod612");

	tcase_set_timeout(tc, 900);
	tcase_add_unchecked_fixture(tc, up612, down);
	tcase_add_test(tc, sample_applied_from_outside);
	tcase_add_test(tc, atomic_replace_as_the_selftest);
	tcase_add_test(tc, refusals_change_nothing);
	tcase_add_test(tc, stack_through_patch_code_is_reliable);
	tcase_add_test(tc, shadow_variables_in_a_module_object);
	return tc;
}
GP_TCASE(kmod612_tcase)
