// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Patches on a real guest, stop-the-world model: apply and unpatch seen by
 * processes already running, stacking, refusals that leave guest memory
 * byte-for-byte as it was, cycles under load, and the region surviving
 * memory pressure.
 *
 * "Byte-for-byte" is checked by hashing (FNV-1a) with the guest paused:
 * the kernel text (_text.._etext) and guestpatch's region.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gp_check.h"
#include "kernel.h"
#include "lp_region.h"
#include "patch_util.h"
#include "rig/rig.h"
#include "target.h"

static struct rig *r;
static char dir[64];

/* This file tests the stop-the-world model; test_transition.c the
 * per-task one. Refusals run under both. */
static const char *model = "--model global";

static struct hashes hash_guest(void)
{
	return pu_hash_guest(r);
}

static char *guest(const char *cmd)
{
	return pu_guest(r, cmd);
}

static bool guest_has(const char *cmd, const char *needle)
{
	return pu_guest_has(r, cmd, needle);
}

static int vmm(const char *sub, const char *rest, char **err)
{
	char args[1000];

	if (strcmp(sub, "patch") && strcmp(sub, "unpatch"))
		return pu_vmm(r, sub, rest, NULL, err);
	snprintf(args, sizeof(args), "%s %s", model, rest ? rest : "");
	return pu_vmm(r, sub, args, NULL, err);
}

static const char *build(const char *name, const char *src, const char *extra)
{
	return pu_build(r, dir, name, src, extra);
}

static const char second_src[] =
	"#include <guestpatch.h>\nGP_PATCH(\"cmdline-second\");\nstruct seq_file;\n"
	"extern void seq_printf(struct seq_file *m, const char *f, ...);\n"
	"static int second(struct seq_file *m, void *v) { seq_printf(m, \"second patch on top\\n\"); return 0; }\n"
	"GP_REPLACE(cmdline_proc_show, second);\n";

static void up(void)
{
	pu_up(&r, dir, sizeof(dir), "/tmp/gp-patch-XXXXXX", NULL);
}

static void down(void)
{
	pu_down(r, dir);
}

START_TEST(apply_and_unpatch)
{
	struct hashes before, patched, after;
	const char *obj = build("cmdline_marker", NULL, NULL);
	char *err = NULL, *out;

	/* A reader started before the patch. */
	free(guest("(while :; do cat /proc/cmdline > /tmp/cl.new; mv /tmp/cl.new /tmp/cl; sleep 0.2; done) >/dev/null 2>&1 &"));
	ck_assert(!guest_has("cat /proc/cmdline", "guestpatch"));
	before = hash_guest();
	ck_assert_msg(vmm("patch", obj, &err) == 0, "patch: %s", err);
	free(err);
	ck_assert(guest_has("cat /proc/cmdline", "guestpatch: cmdline-marker applied"));
	ck_assert_msg(guest_has("sleep 1; cat /tmp/cl", "guestpatch: cmdline-marker applied"),
		      "the reader started before the patch does not see it");
	patched = hash_guest();
	ck_assert_msg(patched.text != before.text, "kernel text did not change");
	{
		char args[600];

		snprintf(args, sizeof(args), "list --json %s", rig_target(r));
		ck_assert_int_eq(rig_run_tool(r, args, &out, NULL), 0);
		ck_assert_msg(strstr(out, "\"cmdline-marker\"") && strstr(out, "cmdline_proc_show"),
			      "list: %s", out);
		free(out);
	}
	ck_assert_msg(vmm("unpatch", "cmdline-marker", &err) == 0, "unpatch: %s", err);
	free(err);
	ck_assert(!guest_has("cat /proc/cmdline", "guestpatch"));
	ck_assert(!guest_has("sleep 1; cat /tmp/cl", "guestpatch"));
	after = hash_guest();
	ck_assert_msg(after.text == before.text, "kernel text differs after unpatch");
	free(guest("kill %1; wait; true"));
}
END_TEST

START_TEST(stack_and_unstack)
{
	const char *o1 = build("cmdline_marker", NULL, NULL);
	char o1c[200], *err = NULL;
	struct hashes before = hash_guest(), after;

	snprintf(o1c, sizeof(o1c), "%s", o1);
	const char *o2 = build("second", second_src, NULL);

	ck_assert_int_eq(vmm("patch", o1c, NULL), 0);
	ck_assert_int_eq(vmm("patch", o2, NULL), 0);
	ck_assert(guest_has("cat /proc/cmdline", "second patch on top"));
	/* Re-applying an applied patch is refused. */
	ck_assert(vmm("patch", o2, &err) != 0 && strstr(err, "already applied"));
	free(err);
	ck_assert_int_eq(vmm("unpatch", "cmdline-second", NULL), 0);
	ck_assert(guest_has("cat /proc/cmdline", "cmdline-marker applied"));
	/* Out of order: remove the lower one while the top is on. */
	ck_assert_int_eq(vmm("patch", o2, NULL), 0);
	ck_assert_int_eq(vmm("unpatch", "cmdline-marker", NULL), 0);
	ck_assert(guest_has("cat /proc/cmdline", "second patch on top"));
	ck_assert_int_eq(vmm("unpatch", "cmdline-second", NULL), 0);
	ck_assert(!guest_has("cat /proc/cmdline", "patch"));
	after = hash_guest();
	ck_assert_msg(after.text == before.text, "kernel text differs after unstacking");
}
END_TEST

static void refused(const char *obj, const char *extra_args, const char *needle)
{
	struct hashes before = hash_guest(), after;
	char rest[600], *err = NULL;

	snprintf(rest, sizeof(rest), "%s %s", extra_args ? extra_args : "", obj);
	ck_assert_msg(vmm("patch", rest, &err) != 0, "patch %s succeeded", obj);
	ck_assert_msg(strstr(err, needle), "patch %s: error '%s' lacks '%s'", obj, err, needle);
	free(err);
	after = hash_guest();
	ck_assert_msg(after.text == before.text && after.region == before.region,
		      "refused patch %s changed guest memory", obj);
}

static void refusals_body(int _i);
START_TEST(refusals_change_nothing)
{
	refusals_body(_i);
}
END_TEST

static void refusals_body(int _i)
{
	(void)_i;
	char trunc[200], cmd[500];

	refused(build("missing",
		      "#include <guestpatch.h>\nGP_PATCH(\"missing\");\n"
		      "extern int no_such_function_xyz(void);\n"
		      "static int f(void *m, void *v) { return no_such_function_xyz(); }\n"
		      "GP_REPLACE(cmdline_proc_show, f);\n", NULL),
		NULL, "no_such_function_xyz");
	refused(build("wrongid", second_src,
		      "--build-id 0123456789abcdef0123456789abcdef01234567"),
		NULL, "built for kernel build id '0123456789abcdef");
	snprintf(trunc, sizeof(trunc), "%s/trunc.o", dir);
	snprintf(cmd, sizeof(cmd), "head -c 300 %s/second.o > %s", dir, trunc);
	ck_assert_int_eq(system(cmd), 0);
	refused(trunc, NULL, "trunc.o");
	refused(build("notnop",
		      "#include <guestpatch.h>\nGP_PATCH(\"notnop\");\n"
		      "static int f(void) { return 0; }\nGP_REPLACE(entry_SYSCALL_64, f);\n", NULL),
		NULL, "does not start with the 5-byte ftrace NOP");
	refused(build("toolarge",
		      "#include <guestpatch.h>\nGP_PATCH(\"toolarge\");\n"
		      "static char big[400000] = { 1 };\n"
		      "static int f(void *m, void *v) { return big[(long)v]; }\n"
		      "GP_REPLACE(cmdline_proc_show, f);\n", NULL),
		NULL, "patch too large");
	refused(build("nosuchfunc",
		      "#include <guestpatch.h>\nGP_PATCH(\"nosuchfunc\");\n"
		      "static int f(void) { return 0; }\nGP_REPLACE(no_such_kernel_function, f);\n", NULL),
		NULL, "no_such_kernel_function");
	if (!strcmp(model, "--model global")) {
		/* The same refusals through the per-task model. */
		model = "--model per-task";
		refusals_body(_i);
		model = "--model global";
	}
}

/* A reader blocked in pipe_read holds the function: the patch times out
 * naming it, and the guest is unchanged. */
START_TEST(blocked_task_times_out)
{
	const char *obj = build("piperead",
				"#include <guestpatch.h>\nGP_PATCH(\"piperead\");\n"
				"struct kiocb; struct iov_iter;\n"
				"extern long pipe_read(struct kiocb *, struct iov_iter *);\n"
				"static long f(struct kiocb *a, struct iov_iter *b) { return 0; }\n"
				"GP_REPLACE(pipe_read, f);\n", NULL);

	free(guest("pipewait read >/dev/null 2>&1 & sleep 1"));
	refused(obj, "--timeout 1", "pipe_read is on its stack");
	{
		char *err = NULL;

		ck_assert(vmm("patch", "--timeout 1 x", &err) != 0);
		free(err);
		vmm("patch", obj, &err);	/* again, to read the message */
		ck_assert_msg(strstr(err, "pipewait"), "blocker not named: %s", err);
		free(err);
	}
	free(guest("kill %1; wait; true"));
}
END_TEST

/* Processes on both vCPUs read /proc/cmdline in a loop through 20
 * patch/unpatch cycles: every read is the old or the new text, and the
 * guest logs no oops or warning. */
START_TEST(cycles_under_load)
{
	const char *obj = build("cmdline_marker", NULL, NULL);
	char *out, *line, *save = NULL;
	int lines = 0, marked = 0;

	pu_readers_start(r, 2);
	for (int i = 0; i < 20; i++) {
		char *err = NULL;

		ck_assert_msg(vmm("patch", obj, &err) == 0, "cycle %d patch: %s", i, err);
		free(err);
		ck_assert_msg(vmm("unpatch", "cmdline-marker", &err) == 0, "cycle %d unpatch: %s", i, err);
		free(err);
	}
	pu_readers_stop(r);
	ck_assert_int_eq(rig_exec_bulk(r, "cat /tmp/r1 /tmp/r2", &out, &(size_t){ 0 }, 120), 0);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		lines++;
		if (!strcmp(line, "guestpatch: cmdline-marker applied"))
			marked++;
		else
			ck_assert_msg(!strncmp(line, "console=ttyS0", 13), "torn read: '%s'", line);
	}
	free(out);
	ck_assert_msg(lines > 100, "only %d reads", lines);
	fprintf(stderr, "cycles_under_load: %d reads, %d saw the patch\n", lines, marked);
	ck_assert(!guest_has("dmesg", "Oops"));
	ck_assert(!guest_has("dmesg", "WARNING"));
	ck_assert(!guest_has("dmesg", "BUG"));
}
END_TEST

/* After patching, the guest uses most of its memory and frees it: the
 * region and the redirection are intact. */
START_TEST(region_survives_memory_pressure)
{
	const char *obj = build("cmdline_marker", NULL, NULL);
	struct hashes h1, h2;
	char *out;

	ck_assert_int_eq(vmm("patch", obj, NULL), 0);
	h1 = hash_guest();
	out = guest("memhog 90; echo 3 > /proc/sys/vm/drop_caches; memhog 90");
	ck_assert_msg(strstr(out, "memhog: touched"), "%s", out);
	free(out);
	h2 = hash_guest();
	ck_assert_msg(h1.region == h2.region && h1.text == h2.text,
		      "region or redirection changed under memory pressure");
	ck_assert(guest_has("cat /proc/cmdline", "cmdline-marker applied"));
	ck_assert_int_eq(vmm("unpatch", "cmdline-marker", NULL), 0);
}
END_TEST

/* The second example, on another function, together with the first. */
START_TEST(two_examples_together)
{
	char o1[200];

	snprintf(o1, sizeof(o1), "%s", build("cmdline_marker", NULL, NULL));
	const char *o2 = build("version_tag", NULL, NULL);

	ck_assert(!guest_has("cat /proc/version", "guestpatch"));
	ck_assert_int_eq(vmm("patch", o1, NULL), 0);
	ck_assert_int_eq(vmm("patch", o2, NULL), 0);
	ck_assert(guest_has("cat /proc/version", "[guestpatch version-tag] Linux version"));
	ck_assert(guest_has("cat /proc/cmdline", "cmdline-marker applied"));
	ck_assert_int_eq(vmm("unpatch", "version-tag", NULL), 0);
	ck_assert(!guest_has("cat /proc/version", "guestpatch"));
	ck_assert(guest_has("cat /proc/cmdline", "cmdline-marker applied"));
	ck_assert_int_eq(vmm("unpatch", "cmdline-marker", NULL), 0);
}
END_TEST

/* The records in the guest are untrusted: a forged site address must not
 * steer our writes. */
START_TEST(forged_records_refused)
{
	const char *obj = build("cmdline_marker", NULL, NULL);
	struct hashes before, after;
	struct tgt *t = NULL;
	uint64_t addr, forged = 0xffffffff81000123ull;
	uint64_t where = LP_REGION_PA + offsetof(struct lp_hdr, sites[0].old_addr);
	char *err = NULL;

	ck_assert_int_eq(vmm("patch", obj, NULL), 0);
	ck_ok(tgt_open(rig_target(r), &t));
	ck_ok(tgt_pause(t));
	ck_ok(tgt_read_phys(t, where, &addr, 8));
	ck_ok(tgt_write_phys(t, where, &forged, 8));
	ck_ok(tgt_resume(t));
	tgt_close(t);
	before = hash_guest();
	ck_assert(vmm("unpatch", "cmdline-marker", &err) != 0);
	ck_assert_msg(strstr(err, "site record 0"), "%s", err);
	free(err);
	after = hash_guest();
	ck_assert(before.text == after.text && before.region == after.region);
	/* Put it back: unpatch works again. */
	ck_ok(tgt_open(rig_target(r), &t));
	ck_ok(tgt_pause(t));
	ck_ok(tgt_write_phys(t, where, &addr, 8));
	ck_ok(tgt_resume(t));
	tgt_close(t);
	ck_assert_int_eq(vmm("unpatch", "cmdline-marker", NULL), 0);
	ck_assert(!guest_has("cat /proc/cmdline", "guestpatch"));
}
END_TEST

static TCase *patch_tcase(void)
{
	TCase *tc = tcase_create("patch");

	tcase_set_timeout(tc, 600);
	tcase_add_unchecked_fixture(tc, up, down);
	tcase_add_test(tc, apply_and_unpatch);
	tcase_add_test(tc, stack_and_unstack);
	tcase_add_test(tc, two_examples_together);
	tcase_add_test(tc, forged_records_refused);
	tcase_add_test(tc, refusals_change_nothing);
	tcase_add_test(tc, blocked_task_times_out);
	tcase_add_test(tc, cycles_under_load);
	tcase_add_test(tc, region_survives_memory_pressure);
	return tc;
}
GP_TCASE(patch_tcase)
