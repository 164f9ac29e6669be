// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A plain kernel module run once from outside: `vmm call TARGET FILE.ko`
 * (patch/lp_kmod_run.c), never loaded by the guest's module loader.  Test
 * material nobody here wrote: the kernel's selftest module
 * test_klp_shadow_vars (its init exercises klp_shadow_alloc, get,
 * get_or_alloc, free and free_all and prints each step, pointers as PTRn).
 * The oracle is tools/testing/selftests/livepatch/test-shadow-vars.sh from
 * the same linux-source tarball (copied next to the modules by
 * scripts/klp-samples.sh): the expected block of its check_result is read
 * at test time, not copied here; and a plain module of our own
 * (tests/kmod/gp_kmod_run.c: __init code, a parameter, init's return
 * value).  The guest's own view: its kernel log,
 * its /proc/modules; and kernel text and the region's pages after a run
 * as they were before it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gp_check.h"
#include "gp_hash.h"
#include "lp_region.h"
#include "patch_util.h"
#include "rig/rig.h"
#include "target.h"

static struct rig *r;
static char dir[64];
static const char *flavor;	/* NULL: 6.1 (amd64) */

#define SV "test_klp_shadow_vars"
#define MAX_WANT 256

static void up(void)
{
	flavor = NULL;
	pu_up(&r, dir, sizeof(dir), "/tmp/gp-kmodrun-XXXXXX", NULL);
}

static void up612(void)
{
	flavor = "6.12-amd64";
	pu_up(&r, dir, sizeof(dir), "/tmp/gp-kmodrun-XXXXXX", flavor);
}

static void down(void)
{
	pu_down(r, dir);
}

static const char *sample(const char *file)
{
	return pu_klp_sample(flavor, file);
}

static void guest(const char *cmd)
{
	free(pu_guest(r, cmd));
}

/* vmm SUB ARGS must exit with `want`; stdout and stderr joined, returned. */
static char *vmm(const char *sub, const char *rest, int want)
{
	char *out = NULL, *err = NULL, *all;
	int rc = pu_vmm(r, sub, rest, &out, &err);

	fprintf(stderr, "kmodrun: vmm %s %s -> %d\n%s%s", sub, rest, rc, out ? out : "",
		err ? err : "");
	ck_assert_msg(rc == want, "vmm %s %s: exit %d, not %d: %s%s", sub, rest, rc, want, out,
		      err);
	ck_assert(asprintf(&all, "%s%s", out ? out : "", err ? err : "") > 0);
	free(out);
	free(err);
	return all;
}

/*
 * test-shadow-vars.sh: MOD_TEST=NAME, then check_result "...": the lines
 * of that block that begin with "$MOD_TEST: " are what the module prints,
 * with $MOD_TEST its name.  want[] gets them (malloc'd), NULL-ended.
 */
static int expected_lines(char **want)
{
	FILE *f = fopen(sample("test-shadow-vars.sh"), "r");
	char line[1024], mod[128] = "";
	bool in = false;
	int n = 0;

	ck_assert(f);
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (!strncmp(line, "MOD_TEST=", 9))
			snprintf(mod, sizeof(mod), "%.120s", line + 9);
		if (!in && !strncmp(line, "check_result \"", 14)) {
			in = true;
			continue;
		}
		if (!in)
			continue;
		if (!strncmp(line, "$MOD_TEST: ", 11)) {
			ck_assert(mod[0] && n < MAX_WANT - 1);
			ck_assert(asprintf(&want[n], "%s: %s", mod, line + 11) > 0);
			n++;
		}
		if (strchr(line, '"'))
			break;
	}
	fclose(f);
	want[n] = NULL;
	ck_assert_msg(!strcmp(mod, SV) && n > 40,
		      "test-shadow-vars.sh: MOD_TEST '%s', %d expected lines: not the script this test knows",
		      mod, n);
	return n;
}

/* The guest's kernel log lines of the module since the last clear. */
static void log_is_expected(void)
{
	char *want[MAX_WANT], *out, *line, *save = NULL;
	int n = 0, nwant = expected_lines(want);

	out = pu_guest(r, "dmesg | grep '" SV ":'; echo end-of-log");
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *msg;
		char *cr;

		if (!strstr(line, SV ":") || strstr(line, "grep") || !strchr(line, ']') ||
		    strstr(line, "taint"))
			continue;
		if ((cr = strchr(line, '\r')))
			*cr = 0;
		msg = strchr(line, ']') + 1;
		while (*msg == ' ')
			msg++;
		ck_assert_msg(n < nwant, "unexpected line %d: \"%s\"", n, msg);
		ck_assert_msg(!strcmp(msg, want[n]), "line %d: \"%s\", expected \"%s\"", n, msg,
			      want[n]);
		n++;
	}
	ck_assert_msg(n == nwant, "line %d missing: \"%s\"", n, n < nwant ? want[n] : "");
	for (int i = 0; i < nwant; i++)
		free(want[i]);
	free(out);
}

static void not_listed(void)
{
	char *out = vmm("list", "", 0);

	ck_assert_msg(!strstr(out, SV), "%s", out);
	free(out);
	ck_assert(!pu_guest_has(r, "cat /proc/modules; echo end", SV));
	ck_assert(pu_guest_has(r, "lsmod; echo end-of-lsmod", "end-of-lsmod"));
	ck_assert(!pu_guest_has(r, "lsmod; echo end", SV));
	ck_assert(!pu_guest_has(r, "ls /sys/module/; echo end", SV));
}

static void run_shadow_vars(void)
{
	char rest[400], *out;

	guest("dmesg -c >/dev/null; echo cleared");
	snprintf(rest, sizeof(rest), "--timeout 60 %s", sample(SV ".ko"));
	out = vmm("call", rest, 0);
	ck_assert_msg(strstr(out, SV ": init_module returned 0; cleanup_module ran"), "%s", out);
	free(out);
	log_is_expected();
	not_listed();
}

/* test-shadow-vars.sh's scenario, by vmm call instead of modprobe: the
 * same lines; nothing of it left (the guest's lsmod, vmm list, kernel
 * text, the region's pages); and again (it can run twice, as it can be
 * loaded twice). */
START_TEST(shadow_vars)
{
	struct hashes before;
	uint64_t pages_before;

	run_shadow_vars();	/* the first sets the region up */
	before = pu_hash_guest(r);
	pages_before = pu_region_pages_hash(r);
	run_shadow_vars();
	ck_assert_msg(pu_hash_guest(r).text == before.text, "kernel text changed by a run");
	ck_assert_msg(pu_region_pages_hash(r) == pages_before, "region pages left behind by a run");
	pu_no_oops(r);
}
END_TEST

/* Refused by name, nothing written: `vmm patch` of this plain module,
 * `vmm call` of a livepatch, of a module that registers work that would
 * outlive the run, of a corrupted module. */
START_TEST(refusals)
{
	struct hashes before = pu_hash_guest(r);
	uint64_t pages_before = pu_region_pages_hash(r);
	char rest[400], *out, bad[300];
	FILE *f;

	snprintf(rest, sizeof(rest), "%s", sample(SV ".ko"));
	out = vmm("patch", rest, 1);
	ck_assert_msg(strstr(out, "not a livepatch module"), "%s", out);
	free(out);
	snprintf(rest, sizeof(rest), "%s", sample("livepatch-sample.ko"));
	out = vmm("call", rest, 1);
	ck_assert_msg(strstr(out, "a livepatch module (its .modinfo has livepatch=Y)"), "%s", out);
	free(out);
	snprintf(rest, sizeof(rest), "%s", sample("livepatch-shadow-mod.ko"));
	out = vmm("call", rest, 1);
	ck_assert_msg(strstr(out, "would outlive the run"), "%s", out);
	free(out);
	snprintf(rest, sizeof(rest), "%s nosuch=1", sample(SV ".ko"));
	out = vmm("call", rest, 1);
	ck_assert_msg(strstr(out, "the module has no parameter nosuch"), "%s", out);
	free(out);
	/* a copy cut short */
	snprintf(bad, sizeof(bad), "%s/cut.ko", dir);
	{
		FILE *in = fopen(sample(SV ".ko"), "rb");
		char buf[2000];
		size_t got;

		ck_assert(in);
		got = fread(buf, 1, sizeof(buf), in);
		fclose(in);
		ck_assert((f = fopen(bad, "wb")) && fwrite(buf, 1, got, f) == got);
		fclose(f);
	}
	out = vmm("call", bad, 1);
	ck_assert_msg(strstr(out, "cut.ko"), "%s", out);
	free(out);
	ck_assert_msg(pu_hash_guest(r).text == before.text, "kernel text changed by a refusal");
	ck_assert_msg(pu_region_pages_hash(r) == pages_before, "region pages changed by a refusal");
	not_listed();
	pu_no_oops(r);
}
END_TEST

/* The vmm killed right after init returned: the next command runs its
 * exit (rmmod's part) and frees the pages.  Killed before init was
 * called: the next command frees the pages, init never runs. */
START_TEST(killed)
{
	struct hashes before;
	uint64_t pages_before;
	char rest[400], *out;
	int rc;

	run_shadow_vars();	/* the region exists */
	before = pu_hash_guest(r);
	pages_before = pu_region_pages_hash(r);
	guest("dmesg -c >/dev/null; echo cleared");
	snprintf(rest, sizeof(rest), "--timeout 60 %s", sample(SV ".ko"));
	setenv("GP_FAULT_KILL_AFTER_INIT", "1", 1);
	rc = pu_vmm(r, "call", rest, NULL, NULL);
	unsetenv("GP_FAULT_KILL_AFTER_INIT");
	ck_assert_msg(rc == 128 + 9, "vmm call was not killed: %d", rc);
	out = vmm("list", "", 0);
	ck_assert_msg(strstr(out, "callbacks a livepatch module was owed ran: exit(" SV ")"), "%s",
		      out);
	free(out);
	log_is_expected();
	not_listed();
	ck_assert_msg(pu_hash_guest(r).text == before.text, "kernel text changed");
	ck_assert_msg(pu_region_pages_hash(r) == pages_before, "region pages left behind");

	guest("dmesg -c >/dev/null; echo cleared");
	setenv("GP_FAULT_KILL_BEFORE_INIT", "1", 1);
	rc = pu_vmm(r, "call", rest, NULL, NULL);
	unsetenv("GP_FAULT_KILL_BEFORE_INIT");
	ck_assert_msg(rc == 128 + 9, "vmm call was not killed: %d", rc);
	free(vmm("list", "", 0));
	not_listed();
	ck_assert(!pu_guest_has(r, "dmesg; echo end", SV ":"));
	ck_assert_msg(pu_hash_guest(r).text == before.text, "kernel text changed");
	ck_assert_msg(pu_region_pages_hash(r) == pages_before, "region pages left behind");
	pu_no_oops(r);
}
END_TEST

/* The lines of the guest's kernel log that begin with `tag` (after the
 * timestamp) since the last clear, joined by '|'. */
static char *log_lines(const char *tag)
{
	char cmd[200], *out, *line, *save = NULL, *all = calloc(1, 4096);
	size_t n = 0;

	ck_assert(all);
	snprintf(cmd, sizeof(cmd), "dmesg | grep '%s'; echo end-of-log", tag);
	out = pu_guest(r, cmd);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *msg;
		char *cr;

		if (!strchr(line, ']') || strstr(line, "grep"))
			continue;
		if ((cr = strchr(line, '\r')))
			*cr = 0;
		msg = strchr(line, ']') + 1;
		while (*msg == ' ')
			msg++;
		if (strncmp(msg, tag, strlen(tag)))
			continue;
		n += (size_t)snprintf(all + n, 4096 - n, "%s%s", n ? "|" : "", msg);
		ck_assert(n < 4096);
	}
	free(out);
	return all;
}

/*
 * Our own plain module (tests/kmod/gp_kmod_run.c): its init is in
 * .init.text and reads .init.data and THIS_MODULE->name; its parameter
 * `ret` is what init returns.  0: init then exit, in that order; -19:
 * vmm exits 1 saying so, the exit does not run (as after a failed
 * insmod), and nothing is left.
 */
START_TEST(init_code_and_return_value)
{
	static const char *const ok =
		"gp_kmod_run: init in .init.text, module gp_kmod_run, returning 0|"
		"gp_kmod_run: exit in .exit.text";
	static const char *const fail =
		"gp_kmod_run: init in .init.text, module gp_kmod_run, returning -19";
	struct hashes before;
	uint64_t pages_before;
	char rest[400], *out;

	run_shadow_vars();	/* the region exists */
	before = pu_hash_guest(r);
	pages_before = pu_region_pages_hash(r);
	guest("dmesg -c >/dev/null; echo cleared");
	snprintf(rest, sizeof(rest), "--timeout 60 %s", sample("gp_kmod_run.ko"));
	out = vmm("call", rest, 0);
	ck_assert_msg(strstr(out, "gp_kmod_run: init_module returned 0; cleanup_module ran"), "%s",
		      out);
	free(out);
	out = log_lines("gp_kmod_run:");
	ck_assert_msg(!strcmp(out, ok), "log: \"%s\", expected \"%s\"", out, ok);
	free(out);
	guest("dmesg -c >/dev/null; echo cleared");
	snprintf(rest, sizeof(rest), "--timeout 60 %s ret=-19", sample("gp_kmod_run.ko"));
	out = vmm("call", rest, 1);
	ck_assert_msg(strstr(out, "gp_kmod_run: init_module returned -19 (as insmod would fail): its exit is not run"),
		      "%s", out);
	free(out);
	out = log_lines("gp_kmod_run:");
	ck_assert_msg(!strcmp(out, fail), "log: \"%s\", expected \"%s\"", out, fail);
	free(out);
	not_listed();
	ck_assert(!pu_guest_has(r, "cat /proc/modules; echo end", "gp_kmod_run"));
	ck_assert_msg(pu_hash_guest(r).text == before.text, "kernel text changed");
	ck_assert_msg(pu_region_pages_hash(r) == pages_before, "region pages left behind");
	pu_no_oops(r);
}
END_TEST

/*
 * A livepatch module dropped by an atomic replace: its exit runs when the
 * replace completes, as rmmod of the replaced module would run it.
 * livepatch-shadow-fix1 on the guest's livepatch-shadow-mod, replaced by
 * livepatch-shadow-fix2 --replace: fix1's exit frees the SV_LEAK shadow
 * variables left with its destructor, which prints each
 * ("livepatch_fix1_dummy_leak_dtor: dummy @ ..."); fix2 frees those of
 * the dummies it sees with its own destructor, so fix1's lines after the
 * replace come from fix1's exit.  Killed right after the replace
 * completed, before the exit: the next command runs it.
 */
static void replace_fix1(const char *env)
{
	char rest[600], *out;
	int rc;

	snprintf(rest, sizeof(rest), "--timeout 30 %s", sample("livepatch-shadow-fix1.ko"));
	free(vmm("patch", rest, 0));
	guest("sleep 4; echo slept");	/* dummies with leak shadows of fix1 */
	guest("dmesg -c >/dev/null; echo cleared");
	snprintf(rest, sizeof(rest), "--timeout 30 --replace %s", sample("livepatch-shadow-fix2.ko"));
	if (env) {
		setenv(env, "1", 1);
		rc = pu_vmm(r, "patch", rest, NULL, NULL);
		unsetenv(env);
		ck_assert_msg(rc == 128 + 9, "vmm patch was not killed: %d", rc);
		out = vmm("list", "", 0);
		ck_assert_msg(strstr(out, "livepatch_shadow_fix1: loaded (callbacks owed)") ||
				      strstr(out, "owed ran: exit(livepatch_shadow_fix1)"),
			      "%s", out);
		free(out);
		out = vmm("list", "", 0);
	} else {
		out = vmm("patch", rest, 0);
		free(out);
		out = vmm("list", "", 0);
	}
	/* fix1 gone from the records, fix2 applied */
	ck_assert_msg(!strstr(out, "livepatch_shadow_fix1") &&
			      strstr(out, "livepatch_shadow_fix2: applied"), "%s", out);
	free(out);
	out = pu_guest(r, "dmesg | grep livepatch_fix1_dummy_leak_dtor; echo end");
	fprintf(stderr, "kmodrun replace: %s", out);
	ck_assert_msg(strstr(out, "livepatch_fix1_dummy_leak_dtor: dummy @") &&
			      strstr(out, "prevented leak @"), "fix1's exit freed nothing: %s", out);
	free(out);
	free(vmm("unpatch", "--timeout 30 livepatch_shadow_fix2", 0));
}

START_TEST(replaced_exit)
{
	char *out;

	guest("insmod /bin/livepatch-shadow-mod.ko && sleep 1 && echo ok");
	replace_fix1(NULL);
	/* the exit is reported by the command that completed the replace */
	replace_fix1("GP_FAULT_KILL_BEFORE_CALLBACKS");
	out = vmm("list", "", 0);
	ck_assert_msg(!strstr(out, "livepatch_shadow"), "%s", out);
	free(out);
	/* (fix2 does not replace dummy_alloc: after the replace, dummies
	 * it frees without a leak shadow say "leaked!", as the sample would) */
	guest("rmmod livepatch_shadow_mod; echo done");
	pu_no_oops(r);
}
END_TEST

static void add_tests(TCase *tc)
{
	tcase_set_timeout(tc, 1200);
	tcase_add_test(tc, shadow_vars);
	tcase_add_test(tc, refusals);
	tcase_add_test(tc, killed);
	tcase_add_test(tc, init_code_and_return_value);
	tcase_add_test(tc, replaced_exit);
}

static TCase *kmodrun_tcase(void)
{
	TCase *tc = tcase_create("kmodrun");

	tcase_add_unchecked_fixture(tc, up, down);
	add_tests(tc);
	return tc;
}
GP_TCASE(kmodrun_tcase)

static TCase *kmodrun612_tcase(void)
{
	TCase *tc = tcase_create("kmodrun612");

	tcase_add_unchecked_fixture(tc, up612, down);
	add_tests(tc);
	return tc;
}
GP_TCASE(kmodrun612_tcase)
