// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A livepatch module's callbacks and exit, run in the guest by `vmm patch
 * TARGET FILE.ko` / `vmm unpatch` (patch/lp_kmod_cb.c).  Test material
 * nobody here wrote: the kernel's selftest modules test_klp_callbacks_demo
 * (its callbacks print "CALLBACK: vmlinux" or "CALLBACK: MOD -> STATE"),
 * test_klp_callbacks_demo2, the plain modules test_klp_callbacks_mod and
 * test_klp_callbacks_busy the guest insmods itself, and
 * samples/livepatch's livepatch-shadow-mod with -fix1 and -fix2.  The
 * oracle is tools/testing/selftests/livepatch/test-callbacks.sh: the lines
 * the modules print to the guest's kernel log, in its order, with `vmm
 * patch`/`vmm unpatch` where the script loads and disables the livepatch
 * (the "livepatch: ..." lines are the kernel's core's, which never runs
 * here).  Scenarios needing a module loaded after the patch are not
 * reproduced (guestpatch does not see module loads).
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

#define DEMO "test_klp_callbacks_demo"
#define DEMO2 "test_klp_callbacks_demo2"
#define MOD "test_klp_callbacks_mod"
#define BUSY "test_klp_callbacks_busy"
#define LIVE "[MODULE_STATE_LIVE] Normal state"

static void up(void)
{
	flavor = NULL;
	pu_up(&r, dir, sizeof(dir), "/tmp/gp-kmodcb-XXXXXX", NULL);
}

static void up612(void)
{
	flavor = "6.12-amd64";
	pu_up(&r, dir, sizeof(dir), "/tmp/gp-kmodcb-XXXXXX", flavor);
}

static void down(void)
{
	pu_down(r, dir);
}

static const char *ko(const char *name)
{
	char file[200];

	snprintf(file, sizeof(file), "%s.ko", name);
	return pu_klp_sample(flavor, file);
}

static void guest(const char *cmd)
{
	free(pu_guest(r, cmd));
}

/* vmm SUB ARGS must exit with `want`; its stderr and stdout logged. */
static char *vmm(const char *sub, const char *rest, int want)
{
	char *out = NULL, *err = NULL;
	int rc = pu_vmm(r, sub, rest, &out, &err);

	fprintf(stderr, "kmodcb: vmm %s %s -> %d\n%s%s", sub, rest, rc, out ? out : "",
		err ? err : "");
	ck_assert_msg(rc == want, "vmm %s %s: exit %d, not %d: %s%s", sub, rest, rc, want, out,
		      err);
	free(out);
	return err;
}

static void patch(const char *name, const char *extra)
{
	char rest[600];

	snprintf(rest, sizeof(rest), "--timeout 30 %s %s", ko(name), extra ? extra : "");
	free(vmm("patch", rest, 0));
}

static void unpatch(const char *name)
{
	char rest[200];

	snprintf(rest, sizeof(rest), "--timeout 30 %s", name);
	free(vmm("unpatch", rest, 0));
}

/*
 * The guest's kernel log lines that contain `tag` since the last
 * log_clear(), without their timestamps, must be `want` (NULL-ended),
 * in that order and no others.
 */
static void log_clear(void)
{
	guest("dmesg -c >/dev/null; echo cleared");
}

static void log_is(const char *tag, const char *const *want)
{
	char cmd[200], *out, *line, *save = NULL;
	int n = 0;

	snprintf(cmd, sizeof(cmd), "dmesg | grep '%s'; echo end-of-log", tag);
	out = pu_guest(r, cmd);
	fprintf(stderr, "kmodcb log (%s):\n%s", tag, out);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *msg = line;
		char *cr;

		/* the kernel's own lines at the first out-of-tree, unsigned insmod */
		if (!strstr(line, tag) || strstr(line, "grep") || !strchr(line, ']') ||
		    strstr(line, "taint"))
			continue;
		if ((cr = strchr(line, '\r')))
			*cr = 0;
		msg = strchr(line, ']') + 1;
		while (*msg == ' ')
			msg++;
		ck_assert_msg(want[n], "unexpected line %d: \"%s\"", n, msg);
		ck_assert_msg(!strcmp(msg, want[n]), "line %d: \"%s\", expected \"%s\"", n, msg,
			      want[n]);
		n++;
	}
	ck_assert_msg(!want[n], "line %d missing: \"%s\"", n, want[n] ? want[n] : "");
	free(out);
}

/* test-callbacks.sh, "target module before livepatch". */
START_TEST(target_module_before_livepatch)
{
	static const char *const want[] = {
		MOD ": " MOD "_init",
		DEMO ": pre_patch_callback: vmlinux",
		DEMO ": pre_patch_callback: " MOD " -> " LIVE,
		DEMO ": post_patch_callback: vmlinux",
		DEMO ": post_patch_callback: " MOD " -> " LIVE,
		DEMO ": pre_unpatch_callback: vmlinux",
		DEMO ": pre_unpatch_callback: " MOD " -> " LIVE,
		DEMO ": post_unpatch_callback: vmlinux",
		DEMO ": post_unpatch_callback: " MOD " -> " LIVE,
		MOD ": " MOD "_exit",
		NULL
	};
	char *out = NULL;

	log_clear();
	guest("insmod /bin/" MOD ".ko && echo ok");
	patch(DEMO, NULL);
	/* the guest's own view: no module, no livepatch of its own */
	ck_assert(!pu_guest_has(r, "cat /proc/modules", DEMO));
	ck_assert(!pu_guest_has(r, "ls /sys/kernel/livepatch/ 2>&1; echo end", DEMO));
	ck_assert_int_eq(pu_vmm(r, "list", "", &out, NULL), 0);
	ck_assert_msg(strstr(out, DEMO ": applied"), "%s", out);
	free(out);
	unpatch(DEMO);
	guest("rmmod " MOD "; echo done");
	log_is("test_klp_callbacks", want);
	ck_assert_int_eq(pu_vmm(r, "list", "", &out, NULL), 0);
	ck_assert_msg(!strstr(out, DEMO), "%s", out);
	free(out);
	pu_no_oops(r);
}
END_TEST

/* "target module not present": only vmlinux's callbacks run. */
START_TEST(target_module_not_present)
{
	static const char *const want[] = {
		DEMO ": pre_patch_callback: vmlinux",
		DEMO ": post_patch_callback: vmlinux",
		DEMO ": pre_unpatch_callback: vmlinux",
		DEMO ": post_unpatch_callback: vmlinux",
		NULL
	};
	char rest[400], *err;

	log_clear();
	snprintf(rest, sizeof(rest), "--timeout 30 %s", ko(DEMO));
	err = vmm("patch", rest, 0);
	/* its objects for modules the guest has not loaded are said */
	ck_assert_msg(strstr(err, MOD) && strstr(err, BUSY), "%s", err);
	free(err);
	unpatch(DEMO);
	log_is("test_klp_callbacks", want);
	pu_no_oops(r);
}
END_TEST

/* "pre-patch callback -ENODEV": pre_patch_ret=-19 set as insmod would set
 * it; vmlinux's pre_patch fails, nothing is left: kernel text and the
 * region's pages as they were, no patch listed. */
START_TEST(pre_patch_enodev)
{
	static const char *const want[] = {
		MOD ": " MOD "_init",
		DEMO ": pre_patch_callback: vmlinux",
		MOD ": " MOD "_exit",
		NULL
	};
	struct hashes before, after;
	uint64_t pages_before;
	char rest[400], *err, *l1 = NULL, *l2 = NULL;

	log_clear();
	guest("insmod /bin/" MOD ".ko && echo ok");
	ck_assert_int_eq(pu_vmm(r, "list", "", &l1, NULL), 0);
	before = pu_hash_guest(r);
	pages_before = pu_region_pages_hash(r);
	snprintf(rest, sizeof(rest), "--timeout 30 %s pre_patch_ret=-19", ko(DEMO));
	err = vmm("patch", rest, 1);
	ck_assert_msg(strstr(err, "pre-patch callback failed for object 'vmlinux': it returned -19"),
		      "%s", err);
	free(err);
	after = pu_hash_guest(r);
	ck_assert_msg(before.text == after.text, "kernel text changed by an aborted patch");
	ck_assert_msg(pages_before == pu_region_pages_hash(r), "region pages changed by an aborted patch");
	ck_assert_int_eq(pu_vmm(r, "list", "", &l2, NULL), 0);
	ck_assert_msg(!strcmp(l1, l2), "vmm list before:\n%s\nafter:\n%s", l1, l2);
	free(l1);
	free(l2);
	guest("rmmod " MOD "; echo done");
	log_is("test_klp_callbacks", want);
	/* a parameter it does not have, or of a kind not honoured */
	snprintf(rest, sizeof(rest), "%s nosuch=1", ko(DEMO));
	err = vmm("patch", rest, 1);
	ck_assert_msg(strstr(err, "the module has no parameter nosuch"), "%s", err);
	free(err);
	snprintf(rest, sizeof(rest), "%s pre_patch_ret=abc", ko(DEMO));
	err = vmm("patch", rest, 1);
	ck_assert_msg(strstr(err, "'abc' is not a 32-bit integer"), "%s", err);
	free(err);
	pu_no_oops(r);
}
END_TEST

/* The vmm applying it killed right after the first pre_patch callback
 * returned (before the next, nothing of the patch live): the next command
 * cancels as klp_cancel_transition() would, post_unpatch for the object
 * whose pre_patch succeeded, no exit, the pages gone. */
START_TEST(pre_patch_killed_cancels)
{
	static const char *const want[] = {
		BUSY ": " BUSY "_init",
		BUSY ": busymod_work_func enter",
		BUSY ": busymod_work_func exit",
		DEMO ": pre_patch_callback: vmlinux",
		DEMO ": post_unpatch_callback: vmlinux",
		BUSY ": " BUSY "_exit",
		NULL
	};
	struct hashes before;
	uint64_t pages_before;
	char rest[400], *out = NULL;
	int rc;

	log_clear();
	guest("insmod /bin/" BUSY ".ko block_transition=N && sleep 1 && echo ok");
	before = pu_hash_guest(r);
	pages_before = pu_region_pages_hash(r);
	snprintf(rest, sizeof(rest), "--timeout 30 %s", ko(DEMO));
	setenv("GP_FAULT_KILL_AFTER_PRE_PATCH", "1", 1);
	rc = pu_vmm(r, "patch", rest, NULL, NULL);
	unsetenv("GP_FAULT_KILL_AFTER_PRE_PATCH");
	ck_assert_msg(rc == 128 + 9, "vmm patch was not killed: %d", rc);
	out = vmm("list", "", 0);
	ck_assert_msg(strstr(out, "callbacks a livepatch module was owed ran: post_unpatch(vmlinux)"),
		      "%s", out);
	free(out);
	ck_assert_int_eq(pu_vmm(r, "list", "", &out, NULL), 0);
	ck_assert_msg(!strstr(out, DEMO), "%s", out);
	free(out);
	ck_assert_msg(pu_hash_guest(r).text == before.text, "kernel text changed");
	ck_assert_msg(pu_region_pages_hash(r) == pages_before, "region pages left behind");
	guest("rmmod " BUSY "; echo done");
	log_is("test_klp_callbacks", want);
	pu_no_oops(r);
}
END_TEST

/* "multiple target modules" without the module loaded later: the busy
 * module's work function is patched (a real function of a module object)
 * and every loaded object's callbacks run around it. */
START_TEST(busy_module_not_blocking)
{
	static const char *const want[] = {
		BUSY ": " BUSY "_init",
		BUSY ": busymod_work_func enter",
		BUSY ": busymod_work_func exit",
		DEMO ": pre_patch_callback: vmlinux",
		DEMO ": pre_patch_callback: " BUSY " -> " LIVE,
		DEMO ": post_patch_callback: vmlinux",
		DEMO ": post_patch_callback: " BUSY " -> " LIVE,
		DEMO ": pre_unpatch_callback: vmlinux",
		DEMO ": pre_unpatch_callback: " BUSY " -> " LIVE,
		DEMO ": post_unpatch_callback: vmlinux",
		DEMO ": post_unpatch_callback: " BUSY " -> " LIVE,
		BUSY ": " BUSY "_exit",
		NULL
	};

	log_clear();
	guest("insmod /bin/" BUSY ".ko block_transition=N && sleep 1 && echo ok");
	patch(DEMO, NULL);
	unpatch(DEMO);
	guest("rmmod " BUSY "; echo done");
	log_is("test_klp_callbacks", want);
	pu_no_oops(r);
}
END_TEST

/*
 * "busy target module", the transition held up by the busy module's
 * work function sleeping in the function the patch replaces: pre_patch
 * runs, post_patch does not until the transition completes, in a later
 * vmm command - here one SIGKILLed right after completing it (before
 * running the callbacks it then owes), so the next command runs them,
 * each once.  Then the script's reversal: unpatching, post_unpatch.
 */
START_TEST(busy_target_post_patch_later)
{
	static const char *const want_pending[] = {
		BUSY ": " BUSY "_init",
		BUSY ": busymod_work_func enter",
		DEMO ": pre_patch_callback: vmlinux",
		DEMO ": pre_patch_callback: " BUSY " -> " LIVE,
		NULL
	};
	static const char *const want_done[] = {
		BUSY ": " BUSY "_init",
		BUSY ": busymod_work_func enter",
		DEMO ": pre_patch_callback: vmlinux",
		DEMO ": pre_patch_callback: " BUSY " -> " LIVE,
		BUSY ": busymod_work_func exit",
		DEMO ": post_patch_callback: vmlinux",
		DEMO ": post_patch_callback: " BUSY " -> " LIVE,
		NULL
	};
	static const char *const want_end[] = {
		DEMO ": pre_unpatch_callback: vmlinux",
		DEMO ": pre_unpatch_callback: " BUSY " -> " LIVE,
		DEMO ": post_unpatch_callback: vmlinux",
		DEMO ": post_unpatch_callback: " BUSY " -> " LIVE,
		BUSY ": " BUSY "_exit",
		NULL
	};
	char rest[400], *out = NULL;
	int rc;

	log_clear();
	guest("insmod /bin/" BUSY ".ko block_transition=Y && sleep 1 && echo ok");
	snprintf(rest, sizeof(rest), "--timeout 3 %s", ko(DEMO));
	free(vmm("patch", rest, 3));	/* left in progress */
	ck_assert_int_eq(pu_vmm(r, "list", "", &out, NULL), 0);
	ck_assert_msg(strstr(out, DEMO ": patching"), "%s", out);
	free(out);
	log_is("test_klp_callbacks", want_pending);
	/* the work function leaves the old code; the next command completes
	 * the transition and dies before the owed post_patch */
	guest("echo N > /sys/module/" BUSY "/parameters/block_transition; sleep 1; echo ok");
	setenv("GP_FAULT_KILL_BEFORE_CALLBACKS", "1", 1);
	rc = pu_vmm(r, "transition", "--timeout 30", NULL, NULL);
	unsetenv("GP_FAULT_KILL_BEFORE_CALLBACKS");
	ck_assert_msg(rc == 128 + 9, "vmm transition was not killed: %d", rc);
	/* completed (the records say so), nothing run yet */
	log_is("test_klp_callbacks", (const char *const[]){ want_done[0], want_done[1], want_done[2],
							    want_done[3], want_done[4], NULL });
	/* the next command (any) runs them, once */
	out = vmm("list", "", 0);
	ck_assert_msg(strstr(out, "callbacks a livepatch module was owed ran: post_patch(vmlinux) post_patch(" BUSY ")"),
		      "%s", out);
	free(out);
	free(vmm("list", "", 0));
	log_is("test_klp_callbacks", want_done);
	ck_assert_int_eq(pu_vmm(r, "list", "", &out, NULL), 0);
	ck_assert_msg(strstr(out, DEMO ": applied"), "%s", out);
	free(out);
	log_clear();
	unpatch(DEMO);
	guest("rmmod " BUSY "; echo done");
	log_is("test_klp_callbacks", want_end);
	pu_no_oops(r);
}
END_TEST

/* "busy target module" as the script has it (without the module it
 * loads meanwhile): the stalled patch transition is reversed (the
 * script's disable; here `vmm transition --reverse`), so no post_patch
 * and no pre_unpatch run, but post_unpatch does, then the exit. */
START_TEST(busy_target_reversed)
{
	static const char *const want[] = {
		BUSY ": " BUSY "_init",
		BUSY ": busymod_work_func enter",
		DEMO ": pre_patch_callback: vmlinux",
		DEMO ": pre_patch_callback: " BUSY " -> " LIVE,
		DEMO ": post_unpatch_callback: vmlinux",
		DEMO ": post_unpatch_callback: " BUSY " -> " LIVE,
		BUSY ": busymod_work_func exit",
		BUSY ": " BUSY "_exit",
		NULL
	};
	char rest[400], *out = NULL;

	log_clear();
	guest("insmod /bin/" BUSY ".ko block_transition=Y && sleep 1 && echo ok");
	snprintf(rest, sizeof(rest), "--timeout 3 %s", ko(DEMO));
	free(vmm("patch", rest, 3));
	free(vmm("transition", "--reverse --timeout 30", 0));
	ck_assert_int_eq(pu_vmm(r, "list", "", &out, NULL), 0);
	ck_assert_msg(!strstr(out, DEMO), "%s", out);
	free(out);
	guest("rmmod " BUSY "; echo done");
	log_is("test_klp_callbacks", want);
	pu_no_oops(r);
}
END_TEST

/* "multiple livepatches" and "atomic replace": demo2 is a patch of
 * callbacks alone; replaced, demo's unpatch callbacks never run. */
START_TEST(multiple_and_replace)
{
	static const char *const want_multi[] = {
		DEMO ": pre_patch_callback: vmlinux",
		DEMO ": post_patch_callback: vmlinux",
		DEMO2 ": pre_patch_callback: vmlinux",
		DEMO2 ": post_patch_callback: vmlinux",
		DEMO2 ": pre_unpatch_callback: vmlinux",
		DEMO2 ": post_unpatch_callback: vmlinux",
		DEMO ": pre_unpatch_callback: vmlinux",
		DEMO ": post_unpatch_callback: vmlinux",
		NULL
	};
	static const char *const want_replace[] = {
		DEMO ": pre_patch_callback: vmlinux",
		DEMO ": post_patch_callback: vmlinux",
		DEMO2 ": pre_patch_callback: vmlinux",
		DEMO2 ": post_patch_callback: vmlinux",
		DEMO2 ": pre_unpatch_callback: vmlinux",
		DEMO2 ": post_unpatch_callback: vmlinux",
		NULL
	};
	char *out = NULL;

	log_clear();
	patch(DEMO, NULL);
	patch(DEMO2, NULL);
	unpatch(DEMO2);
	unpatch(DEMO);
	log_is("test_klp_callbacks", want_multi);

	/* replace=1 is set by the module's init, which never runs: --replace */
	log_clear();
	patch(DEMO, NULL);
	patch(DEMO2, "--replace");
	ck_assert_int_eq(pu_vmm(r, "list", "", &out, NULL), 0);
	ck_assert_msg(!strstr(out, DEMO ":") && strstr(out, DEMO2 ": applied"), "%s", out);
	free(out);
	unpatch(DEMO2);
	log_is("test_klp_callbacks", want_replace);
	pu_no_oops(r);
}
END_TEST

/*
 * samples/livepatch: livepatch-shadow-fix1 and -fix2 stacked on the
 * guest's livepatch-shadow-mod, unpatched in reverse order as the
 * sample's usage says; each unpatch runs the module's exit, and fix1's
 * frees every SV_LEAK shadow variable left with its destructor, which
 * says so for each ("livepatch_fix1_dummy_leak_dtor: dummy @ ...").
 */
START_TEST(shadow_fix1_fix2_exits)
{
	char *out = NULL;
	int found = 0;

	guest("insmod /bin/livepatch-shadow-mod.ko && sleep 1 && echo ok");
	patch("livepatch-shadow-fix1", NULL);
	patch("livepatch-shadow-fix2", NULL);
	/* fix2 counts checks on each dummy in a shadow variable of its own */
	for (int i = 0; i < 60 && !found; i++) {
		free(out);
		out = pu_guest(r, "sleep 1; dmesg | grep 'livepatch_fix2_dummy_free' | tail -2; echo end");
		found = strstr(out, "check counter = ") != NULL;
	}
	ck_assert_msg(found, "fix2 never freed a dummy: %s", out);
	free(out);
	unpatch("livepatch_shadow_fix2");
	log_clear();
	unpatch("livepatch_shadow_fix1");
	/* its exit ran: the dtor freed the leak shadows left */
	out = pu_guest(r, "dmesg | grep livepatch_fix1_dummy_leak_dtor; echo end");
	fprintf(stderr, "kmodcb shadow: %s", out);
	ck_assert_msg(strstr(out, "livepatch_fix1_dummy_leak_dtor: dummy @") &&
			      strstr(out, "prevented leak @"), "fix1's exit freed nothing: %s", out);
	free(out);
	ck_assert(!pu_guest_has(r, "dmesg; echo end", "leaked!"));
	ck_assert(pu_guest_has(r, "cat /proc/modules", "livepatch_shadow_mod"));
	guest("rmmod livepatch_shadow_mod; echo done");
	pu_no_oops(r);
}
END_TEST

static void add_tests(TCase *tc)
{
	tcase_set_timeout(tc, 1200);
	tcase_add_test(tc, target_module_before_livepatch);
	tcase_add_test(tc, target_module_not_present);
	tcase_add_test(tc, pre_patch_enodev);
	tcase_add_test(tc, pre_patch_killed_cancels);
	tcase_add_test(tc, busy_module_not_blocking);
	tcase_add_test(tc, busy_target_post_patch_later);
	tcase_add_test(tc, busy_target_reversed);
	tcase_add_test(tc, multiple_and_replace);
	tcase_add_test(tc, shadow_fix1_fix2_exits);
}

static TCase *kmodcb_tcase(void)
{
	TCase *tc = tcase_create("kmodcb");

	tcase_add_unchecked_fixture(tc, up, down);
	add_tests(tc);
	return tc;
}
GP_TCASE(kmodcb_tcase)

static TCase *kmodcb612_tcase(void)
{
	TCase *tc = tcase_create("kmodcb612");

	tcase_add_unchecked_fixture(tc, up612, down);
	add_tests(tc);
	return tc;
}
GP_TCASE(kmodcb612_tcase)
