// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The guest's own livepatch beside ours (issue 5): a livepatch module for
 * the same function, built against Debian's linux-headers, loads and
 * completes its transition in the guest (the yardstick `make bench` times);
 * while it holds cmdline_proc_show our patch of that function is refused
 * with the guest unchanged, and our per-task transition on another
 * function runs alongside it and leaves the guest's livepatch able to
 * unload cleanly (every task back to KLP_UNDEFINED, no warning).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gp_check.h"
#include "kernel.h"
#include "patch_util.h"
#include "rig/rig.h"
#include "target.h"

static struct rig *r;
static char dir[64];

static void up(void)
{
	pu_up(&r, dir, sizeof(dir), "/tmp/gp-klp-XXXXXX", NULL);
}

/* The same on 6.12, its modules built against its own headers. */
static void up612(void)
{
	pu_up(&r, dir, sizeof(dir), "/tmp/gp-klp-XXXXXX", "6.12-amd64");
}

static void down(void)
{
	pu_down(r, dir);
}

START_TEST(guest_livepatch_beside_ours)
{
	char o1[200], *out, *err = NULL;
	const char *o2;
	struct hashes before, after;

	snprintf(o1, sizeof(o1), "%s", pu_build(r, dir, "cmdline_marker", NULL, NULL));
	o2 = pu_build(r, dir, "version_tag", NULL, NULL);
	out = pu_guest(r, "klptime enable /bin/gp_klp_cmdline.ko");
	ck_assert_msg(strstr(out, "klptime: enable"), "%s", out);
	fprintf(stderr, "guest livepatch: %s", out);
	free(out);
	ck_assert(pu_guest_has(r, "cat /proc/cmdline", "klp: gp_klp_cmdline applied"));
	ck_assert(pu_guest_has(r, "dmesg", "gp_klp_cmdline': patching complete"));

	/* The function is the guest's livepatch's now: refused, unchanged. */
	before = pu_hash_guest(r);
	ck_assert_int_ne(pu_vmm(r, "patch", o1, NULL, &err), 0);
	ck_assert_msg(strstr(err, "does not start with the 5-byte ftrace NOP"), "%s", err);
	free(err);
	after = pu_hash_guest(r);
	ck_assert(before.text == after.text && before.region == after.region);

	/* Another function: our transition runs beside the guest's patch. */
	ck_assert_msg(pu_vmm(r, "patch", o2, &out, &err) == 0, "patch: %s", err);
	ck_assert_msg(strstr(out, "(per-task)"), "%s", out);
	free(out);
	free(err);
	ck_assert(pu_guest_has(r, "cat /proc/version", "[guestpatch version-tag]"));
	ck_assert(pu_guest_has(r, "cat /proc/cmdline", "klp: gp_klp_cmdline applied"));
	ck_assert_int_eq(pu_vmm(r, "unpatch", "version-tag", NULL, NULL), 0);

	/* The guest's livepatch still takes itself out cleanly. */
	out = NULL;
	rig_exec(r, "klptime disable gp_klp_cmdline 2>&1; dmesg | tail -5", &out, 120);
	ck_assert_msg(out && strstr(out, "klptime: disable"), "%s", out);
	free(out);
	ck_assert(!pu_guest_has(r, "cat /proc/cmdline", "klp:"));
	ck_assert(!pu_guest_has(r, "cat /proc/modules", "gp_klp_cmdline"));
	ck_assert(!pu_guest_has(r, "dmesg", "WARNING"));
	/* And our patch of the function it had works again. */
	ck_assert_int_eq(pu_vmm(r, "patch", o1, NULL, NULL), 0);
	ck_assert(pu_guest_has(r, "cat /proc/cmdline", "guestpatch: cmdline-marker applied"));
	ck_assert_int_eq(pu_vmm(r, "unpatch", "cmdline-marker", NULL, NULL), 0);
}
END_TEST

/* A kthread sleeping in module code unwinds reliably through the module's
 * own ORC tables, so it does not hold a per-task transition back. */
START_TEST(module_kthread_does_not_block)
{
	const char *obj = pu_build(r, dir, "cmdline_marker", NULL, NULL);
	char *out = NULL, *err = NULL;

	free(pu_guest(r, "insmod /bin/gp_test_sleeper.ko; sleep 0.3"));
	ck_assert(pu_guest_has(r, "cat /proc/[0-9]*/comm", "gp_sleeper"));
	ck_assert_msg(pu_vmm(r, "patch", "--timeout 5", &out, &err) != 0, "usage");
	free(out);
	free(err);
	{
		char rest[300];

		snprintf(rest, sizeof(rest), "--timeout 5 %s", obj);
		ck_assert_msg(pu_vmm(r, "patch", rest, &out, &err) == 0, "patch: %s", err);
	}
	ck_assert_msg(strstr(out, "(per-task)"), "%s", out);
	free(out);
	free(err);
	ck_assert_int_eq(pu_vmm(r, "stack", "--all", &out, NULL), 0);
	ck_assert_msg(strstr(out, "gp_sleep_helper+") && strstr(out, "[gp_test_sleeper]"), "%s", out);
	free(out);
	ck_assert_int_eq(pu_vmm(r, "unpatch", "cmdline-marker", NULL, NULL), 0);
	free(pu_guest(r, "rmmod gp_test_sleeper"));
}
END_TEST

/* The first bytes of a module function, read from outside at the address
 * the guest's /proc/kallsyms gives. */
static void module_entry(const char *func, uint8_t out[5])
{
	char cmd[200], *o;
	unsigned long long addr;
	struct tgt *t = NULL;
	struct kern *k = NULL;

	snprintf(cmd, sizeof(cmd), "grep ' %s\t' /proc/kallsyms || grep ' %s ' /proc/kallsyms", func, func);
	o = pu_guest(r, cmd);
	addr = strtoull(o, NULL, 16);
	free(o);
	ck_assert_msg(addr, "%s not in the guest's kallsyms", func);
	ck_ok(tgt_open(rig_target(r), &t));
	ck_ok(kern_attach(t, NULL, &k));
	ck_ok(tgt_pause(t));
	ck_ok(kern_read(k, addr, out, 5));
	ck_ok(tgt_resume(t));
	kern_detach(k);
	tgt_close(t);
}

/* Issue 5, must-show 5: a kthread asleep in a patched function (a module's,
 * gp_test_sleeper:gp_sleep_helper) holds the transition; the straggler
 * step wakes it, it leaves the function, and the transition completes. */
START_TEST(kthread_woken_transition_completes)
{
	const char *obj = pu_build(r, dir, "ktsleep",
				   "#include <guestpatch.h>\nGP_PATCH(\"ktsleep\");\n"
				   "extern long schedule_timeout_interruptible(long t);\n"
				   "static void h(void) { schedule_timeout_interruptible(0x7fffffffffffffffL); }\n"
				   "GP_REPLACE(gp_test_sleeper:gp_sleep_helper, h);\n", NULL);
	struct hashes before;
	char rest[300], *out = NULL, *err = NULL;
	int rc;

	uint8_t entry[5];

	free(pu_guest(r, "insmod /bin/gp_test_sleeper.ko; sleep 0.3"));
	before = pu_hash_guest(r);
	module_entry("gp_sleep_helper", entry);
	ck_assert_msg(!memcmp(entry, "\x0f\x1f\x44\x00\x00", 5), "module function lacks the ftrace NOP");
	snprintf(rest, sizeof(rest), "--timeout 1 %s", obj);
	rc = pu_vmm(r, "patch", rest, NULL, &err);
	ck_assert_msg(rc == 3, "patch exit %d: %s", rc, err);
	ck_assert_msg(strstr(err, "(gp_sleeper)") &&
			      strstr(err, "gp_test_sleeper:gp_sleep_helper is on its stack"),
		      "%s", err);
	free(err);
	/* Not leaving by itself. */
	ck_assert_int_eq(pu_vmm(r, "transition", "--timeout 1", NULL, NULL), 3);
	ck_assert_msg(pu_vmm(r, "transition", "--signal --timeout 10", &out, &err) == 0,
		      "transition --signal: %s", err);
	fprintf(stderr, "kthread straggler: %s", out);
	free(out);
	free(err);
	ck_assert_int_eq(pu_vmm(r, "list", "", &out, NULL), 0);
	ck_assert_msg(strstr(out, "ktsleep: applied") && !strstr(out, "transition:"), "%s", out);
	free(out);
	module_entry("gp_sleep_helper", entry);
	ck_assert_int_eq(entry[0], 0xe9);	/* our jump */
	/* Back out the same way (it may sleep in the replacement now). */
	rc = pu_vmm(r, "unpatch", "--timeout 1 ktsleep", NULL, NULL);
	if (rc == 3)
		rc = pu_vmm(r, "transition", "--signal --timeout 10", NULL, NULL);
	ck_assert_int_eq(rc, 0);
	ck_assert_msg(pu_hash_guest(r).text == before.text, "kernel text differs after unpatch");
	module_entry("gp_sleep_helper", entry);
	ck_assert_msg(!memcmp(entry, "\x0f\x1f\x44\x00\x00", 5), "the module's NOP is not back");
	free(pu_guest(r, "rmmod gp_test_sleeper"));
	ck_assert(!pu_guest_has(r, "dmesg", "WARNING"));

	/* A patched module unloaded: unpatch must not write into the text
	 * that went with it, and still clears the records. */
	free(pu_guest(r, "insmod /bin/gp_test_sleeper.ko; sleep 0.3"));
	rc = pu_vmm(r, "patch", rest, NULL, NULL);
	if (rc == 3)
		rc = pu_vmm(r, "transition", "--signal --timeout 10", NULL, NULL);
	ck_assert_int_eq(rc, 0);
	free(pu_guest(r, "rmmod gp_test_sleeper"));
	ck_assert_msg(pu_vmm(r, "unpatch", "--timeout 10 ktsleep", NULL, &err) == 0, "unpatch: %s", err);
	free(err);
	ck_assert_int_eq(pu_vmm(r, "list", "", &out, NULL), 0);
	ck_assert_msg(strstr(out, "no patches applied"), "%s", out);
	free(out);
	ck_assert(!pu_guest_has(r, "dmesg", "WARNING"));
	ck_assert(!pu_guest_has(r, "dmesg", "Oops"));
}
END_TEST

static TCase *klp_tcase(void)
{
	TCase *tc = tcase_create("klp");

	tcase_set_timeout(tc, 600);
	tcase_add_unchecked_fixture(tc, up, down);
	tcase_add_test(tc, guest_livepatch_beside_ours);
	tcase_add_test(tc, module_kthread_does_not_block);
	tcase_add_test(tc, kthread_woken_transition_completes);
	return tc;
}
GP_TCASE(klp_tcase)

static TCase *klp612_tcase(void)
{
	TCase *tc = tcase_create("klp612");

	tcase_set_timeout(tc, 600);
	tcase_add_unchecked_fixture(tc, up612, down);
	tcase_add_test(tc, guest_livepatch_beside_ours);
	tcase_add_test(tc, module_kthread_does_not_block);
	tcase_add_test(tc, kthread_woken_transition_completes);
	return tc;
}
GP_TCASE(klp612_tcase)
