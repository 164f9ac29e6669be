// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `vmm fleet` paths test_fleet.c does not take, on real guests booted once
 * per tcase.  Each guest's own view (/proc/cmdline, its processes, dmesg)
 * and `vmm list` are the oracle.
 *
 * tcase fleet_more: three Debian 6.1 amd64 guests (g0 with 2 vCPUs: the
 * per-task model, see test_fleet.c; g1, g2 with 1), 256 MiB.
 *  stall wait:  a reader blocked in devkmsg_read while kmsg-eof is applied
 *               with --on-stall wait: the run waits (two transition rounds
 *               and more, still running), the reader is let go (a kernel
 *               message wakes it, the new devkmsg_read gives it end of file
 *               and it exits), the run then finishes: applied, the report
 *               naming the reader's pid, `kmsgwait` and `devkmsg_read`.
 *  stall force: the same with --on-stall force: applied, the report names
 *               the reader, which still sleeps in the old function.
 *  forced, then a halt: a patch the run forced (--on-stall force) is
 *               rolled back as the kernel disables a forced patch: removed
 *               with --force, its code kept; the report says so, the
 *               reader still sleeps in the old function.
 *  rollback batch: canary g0 | ring 1 {g1, g2} in one batch; the patch
 *               WARNs when /proc/cmdline is read, and only g2 reads it:
 *               the batch fails its health check, the run halts, and both
 *               g1 (healthy) and g2 are rolled back; the canary's earlier
 *               batch keeps its patch.
 *
 * tcase fleet_libvirt: one QEMU guest (the canary) and one Debian system
 * guest under a libvirtd the test starts (tests/rig/lvrig.h), named in the
 * inventory by its libvirt domain on a second host entry: plan and run
 * patch both, as each guest's /proc/cmdline shows.
 */
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fleet_util.h"
#include "gp_check.h"
#include "patch_util.h"
#include "rig/lvrig.h"
#include "rig/rig.h"

#define NG 3
static struct rig *g[NG];
static char dir[64];
static char bid61[48], warn61[256], kmsg61[256];

/* What a step of guest NAME in DIR/state.json runs now ("" when none). */
static void step_of(const char *rundir, const char *name, char *step, size_t len)
{
	json_object *arr, *j = fu_state_guests(rundir, &arr);

	step[0] = '\0';
	for (size_t i = 0; j && i < json_object_array_length(arr); i++) {
		json_object *x = json_object_array_get_idx(arr, i);

		if (!strcmp(fu_jstr(x, "guest"), name) && !strcmp(fu_jstr(x, "phase"), "running"))
			snprintf(step, len, "%s", fu_jstr(x, "step"));
	}
	json_object_put(j);
}

/* How many times a step named STEP started in guest NAME's step log. */
static int steps_started(const char *rundir, const char *name, const char *step)
{
	char path[300], want[64], *text, *p;
	int n = 0;

	snprintf(path, sizeof(path), "%s/log/%s.log", rundir, name);
	snprintf(want, sizeof(want), "--- %s at ", step);
	text = rig_slurp(path);
	for (p = text; (p = strstr(p, want)); p += strlen(want))
		n++;
	free(text);
	return n;
}

/* ---- tcase fleet_more: three QEMU guests ---- */

static void up(void)
{
	char *msg = NULL;
	double t0 = (double)time(NULL);

	fu_scratch(dir, "gp-fleetm-XXXXXX");
	for (int i = 0; i < NG; i++) {
		g[i] = rig_boot(&(struct rig_opts){ .cpus = i == 0 ? 2 : 1, .mem_mb = 256 }, &msg);
		if (!g[i]) {
			fprintf(stderr, "rig %d: %s\n", i, msg);
			abort();
		}
	}
	fprintf(stderr, "fleet_more: %d guests booted in %.0f s\n", NG, (double)time(NULL) - t0);
	fu_build_id(g[0], NULL, bid61);
	snprintf(warn61, sizeof(warn61), "%s", pu_build(g[0], dir, "cmdline_warn", fu_warn_src, NULL));
	snprintf(kmsg61, sizeof(kmsg61), "%s", pu_build(g[0], dir, "kmsg_eof", pu_kmsg_eof_src, NULL));
}

static void down(void)
{
	for (int i = 0; i < NG; i++)
		rig_kill(g[i]);
	fu_scratch_rm(dir);
}

/* An inventory of guests g[first..last) (the first: ring canary, the
 * others ring 1), then extra (more guests, JSON) if not NULL; the 6.1
 * build patched by p61. */
static const char *inventory(const char *name, int first, int last, const char *p61, const char *policy,
			     const char *extra)
{
	static char path[200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.json", dir, name);
	f = fopen(path, "w");
	ck_assert(f);
	fprintf(f, "{ \"version\": 1,\n  \"hosts\": [ {\"name\": \"local\", \"max_parallel\": 2} ],\n"
		   "  \"rings\": [ {\"name\": \"canary\"}, {\"name\": \"1\"} ],\n  \"guests\": [\n");
	for (int i = first; i < last; i++)
		fprintf(f, "    {\"name\": \"g%d\", \"host\": \"local\", \"target\": \"%s\", \"ring\": \"%s\"}%s\n",
			i, rig_target(g[i]), i == first ? "canary" : "1", i < last - 1 || extra ? "," : "");
	if (extra)
		fprintf(f, "%s\n", extra);
	fprintf(f, "  ],\n  \"patches\": [ {\"build_id\": \"%s\", \"file\": \"%s\"} ],\n"
		   "  \"policy\": %s }\n", bid61, p61, policy);
	fclose(f);
	return path;
}

/* The pid of the guest's kmsgwait, 0 if none runs. */
static int kmsgwait_pid(struct rig *r)
{
	char *o = pu_guest(r, "pidof kmsgwait || echo 0");
	int pid = atoi(o);

	free(o);
	return pid;
}

/* Start a reader blocked in devkmsg_read in g0; its pid. */
static int block_reader(void)
{
	int pid;

	ck_assert_int_eq(kmsgwait_pid(g[0]), 0);
	free(pu_guest(g[0], "kmsgwait; sleep 0.3"));
	pid = kmsgwait_pid(g[0]);
	ck_assert_msg(pid > 0, "kmsgwait does not run in the guest");
	return pid;
}

/* The report's blocking list names the reader (pid, comm, function). */
static void names_reader(json_object *rep, int pid)
{
	json_object *b, *x;

	ck_assert_msg(json_object_object_get_ex(rep, "blocking", &b) && json_object_array_length(b) >= 1,
		      "no blocking task: %s", json_object_to_json_string(rep));
	x = json_object_array_get_idx(b, 0);
	ck_assert_str_eq(fu_jstr(x, "comm"), "kmsgwait");
	ck_assert_msg(strstr(fu_jstr(x, "function"), "devkmsg_read"), "%s", json_object_to_json_string(b));
	ck_assert_msg(json_object_get_int(json_object_object_get(x, "pid")) == pid,
		      "blocking pid %s, the guest's kmsgwait is %d", json_object_to_json_string(b), pid);
}

/* After a stall handled per policy (why: in the report's error): g0's
 * report says applied and names the reader; the guest shows the patch
 * once and no transition left. */
/* g0 shows kmsg-eof once, nothing else, and no transition left. */
static void kmsg_eof_once(void)
{
	bool trans = true;
	int total = 0;

	ck_assert_int_eq(fu_listed(g[0], NULL, "kmsg-eof", &total, &trans), 1);
	ck_assert_int_eq(total, 1);
	ck_assert(!trans);
}

static void stall_applied(const char *rundir, int reader, const char *why)
{
	json_object *rep = fu_report_of(rundir, "g0");

	ck_assert_msg(!strcmp(fu_jstr(rep, "result"), "applied") && strstr(fu_jstr(rep, "error"), why),
		      "%s", json_object_to_json_string(rep));
	names_reader(rep, reader);
	json_object_put(rep);
	kmsg_eof_once();
}

/* `vmm unpatch` (flags: "--force" for a forced patch). */
static void unpatch(struct rig *r, const char *name, const char *flags)
{
	char *out = NULL, *err = NULL;
	int rc = fu_vmm(r, &out, &err, "unpatch %s %s %s", rig_target(r), name, flags);

	ck_assert_msg(rc == 0, "unpatch %s: %s", name, err);
	free(out);
	free(err);
}

START_TEST(fleet_stall_wait_finishes_when_the_task_lets_go)
{
	char rundir[200], outp[220], step[32] = "";
	const char *inv = inventory("wait", 0, 1, kmsg61, "{\"on_stall\": \"wait\", \"stall_s\": 2}", NULL);
	int reader = block_reader(), status, rounds = 0;
	double t0 = (double)time(NULL);
	pid_t pid;

	snprintf(rundir, sizeof(rundir), "%s/run-wait", dir);
	snprintf(outp, sizeof(outp), "%s.out", rundir);
	pid = fu_fleet_spawn(inv, rundir, "--no-health");
	/* The run waits: a second round of `vmm transition` (each 2 s) has
	 * started, and the run has not ended. */
	while ((double)time(NULL) - t0 < 400) {
		step_of(rundir, "g0", step, sizeof(step));
		rounds = steps_started(rundir, "g0", "transition");
		if (rounds >= 2 && !strcmp(step, "transition"))
			break;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			char *o = rig_slurp(outp);

			ck_abort_msg("the run ended (status %d) before it waited: %s", status, o);
		}
		usleep(200 * 1000);
	}
	ck_assert_msg(rounds >= 2, "never waited: %d transition rounds, step '%s'", rounds, step);
	ck_assert_int_eq(waitpid(pid, &status, WNOHANG), 0);
	/* The reader still sleeps in the guest (`vmm list` here would take
	 * the guest's lock from the run's next round: not while it runs). */
	ck_assert_int_eq(kmsgwait_pid(g[0]), reader);
	/* Let it go: a kernel message wakes the reader; the new devkmsg_read
	 * then gives it end of file, and it exits. */
	free(pu_guest(g[0], "echo fleet-more-wake > /dev/kmsg"));
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "run status %d: %s", status,
		      rig_slurp(outp));
	stall_applied(rundir, reader, "--on-stall wait");
	/* The reader is gone: the new function ended its read. */
	for (int i = 0; i < 20 && kmsgwait_pid(g[0]); i++)
		usleep(250 * 1000);
	ck_assert_int_eq(kmsgwait_pid(g[0]), 0);
	unpatch(g[0], "kmsg-eof", "");
}
END_TEST

/* After a forced transition: the reader still sleeps in the old function
 * (nothing woke it); end it, and remove the patch (a forced one needs
 * --force: vmm refuses otherwise). */
static void end_forced(int reader)
{
	ck_assert_int_eq(kmsgwait_pid(g[0]), reader);
	free(pu_guest(g[0], "kill $(pidof kmsgwait); sleep 0.3"));
	ck_assert_int_eq(kmsgwait_pid(g[0]), 0);
	unpatch(g[0], "kmsg-eof", "--force");
}

START_TEST(fleet_stall_force_completes_and_names_the_task)
{
	char rundir[200], *out = NULL, *err = NULL;
	const char *inv = inventory("force", 0, 1, kmsg61, "{\"on_stall\": \"force\", \"stall_s\": 2}", NULL);
	int reader = block_reader(), rc;

	snprintf(rundir, sizeof(rundir), "%s/run-force", dir);
	rc = fu_vmm(g[0], &out, &err, "fleet run %s --run-dir %s --no-health", inv, rundir);
	ck_assert_msg(rc == 0, "run exit %d: %s %s", rc, out, err);
	ck_assert_msg(strstr(out, "kmsgwait") && strstr(out, "devkmsg_read"), "table: %s", out);
	free(out);
	free(err);
	/* Forced: applied, and the reader still sleeps in the old function
	 * (nothing woke it). */
	stall_applied(rundir, reader, "forced");
	end_forced(reader);
}
END_TEST

/* A patch the run forced is rolled back with --force (the operator chose
 * --on-stall force): the guest is reported rolled-back, saying it was
 * forced, and no longer has the patch. */
START_TEST(fleet_forced_patch_is_rolled_back)
{
	char rundir[200], *out = NULL, *err = NULL;
	const char *inv = inventory("forcerb", 0, 1, kmsg61,
				    "{\"on_stall\": \"force\", \"stall_s\": 2, \"max_fail\": \"0\", \"rollback\": \"all\"}",
				    "    {\"name\": \"ghost\", \"host\": \"local\", \"target\": \"qemu:gdb=/nonexistent/gdb.sock\", \"ring\": \"1\"}");
	int reader = block_reader(), rc;
	json_object *rep;

	snprintf(rundir, sizeof(rundir), "%s/run-forcerb", dir);
	rc = fu_vmm(g[0], &out, &err, "fleet run %s --run-dir %s --no-health", inv, rundir);
	ck_assert_msg(rc == 2 && strstr(out, "halted: ring 1"), "run exit %d: %s %s", rc, out, err);
	ck_assert_msg(strstr(out, "g0: applied: transition forced"), "%s", out);
	free(out);
	free(err);
	rep = fu_report_of(rundir, "ghost");
	ck_assert_str_eq(fu_jstr(rep, "result"), "unreachable");
	json_object_put(rep);
	rep = fu_report_of(rundir, "g0");
	ck_assert_msg(!strcmp(fu_jstr(rep, "result"), "rolled-back") &&
		      strstr(fu_jstr(rep, "error"), "kmsg-eof was forced: removed with --force"),
		      "%s", json_object_to_json_string(rep));
	names_reader(rep, reader);
	json_object_put(rep);
	{
		bool trans = true;
		int total = -1;

		ck_assert_int_eq(fu_listed(g[0], NULL, "kmsg-eof", &total, &trans), 0);
		ck_assert_int_eq(total, 0);
		ck_assert(!trans);
	}
	/* The reader still sleeps in the old function; it ends as usual. */
	ck_assert_int_eq(kmsgwait_pid(g[0]), reader);
	free(pu_guest(g[0], "kill $(pidof kmsgwait); sleep 0.3"));
	ck_assert_int_eq(kmsgwait_pid(g[0]), 0);
}
END_TEST

START_TEST(fleet_rollback_batch_keeps_earlier_batches)
{
	char rundir[200], *out = NULL, *err = NULL;
	const char *inv = inventory("rbbatch", 0, 3, warn61,
				    "{\"max_fail\": \"0\", \"rollback\": \"batch\", \"stall_s\": 10}", NULL);
	int rc, total;
	json_object *rep;

	snprintf(rundir, sizeof(rundir), "%s/run-rbbatch", dir);
	/* Only g2 reads /proc/cmdline: g0 and g1 stay healthy. */
	free(pu_guest(g[2], "printf 'while :; do cat /proc/cmdline >/dev/null; sleep 0.2; done\\n' > /tmp/slow.sh; "
			    "(sh /tmp/slow.sh 2>/dev/null &)"));
	/* A 2 s soak: the reader has run the patch before the ring's check
	 * at the latest. */
	rc = fu_vmm(g[0], &out, &err, "fleet run %s --run-dir %s --soak 2", inv, rundir);
	free(pu_guest(g[2], "pkill -f slow.sh; true"));
	ck_assert_msg(rc == 2 && strstr(out, "halted: ring 1"), "run exit %d: %s\n%s", rc, out, err);
	ck_assert_msg(strstr(out, "rollback: batch"), "%s", out);
	free(out);
	free(err);
	/* The canary's batch, before the halt: kept. */
	rep = fu_report_of(rundir, "g0");
	ck_assert_msg(!strcmp(fu_jstr(rep, "result"), "applied"), "g0: %s", json_object_to_json_string(rep));
	json_object_put(rep);
	ck_assert_int_eq(fu_listed(g[0], NULL, "cmdline-warn", &total, NULL), 1);
	ck_assert_int_eq(total, 1);
	/* The failing batch, whole: g2 failed its check, g1 was healthy. */
	for (int i = 1; i <= 2; i++) {
		char name[8];

		snprintf(name, sizeof(name), "g%d", i);
		rep = fu_report_of(rundir, name);
		ck_assert_msg(!strcmp(fu_jstr(rep, "result"), "rolled-back"), "%s: %s", name,
			      json_object_to_json_string(rep));
		ck_assert_msg(json_object_array_length(json_object_object_get(rep, "removed")) == 1 &&
			      !strcmp(json_object_get_string(json_object_array_get_idx(
				      json_object_object_get(rep, "removed"), 0)), "cmdline-warn"),
			      "%s: %s", name, json_object_to_json_string(rep));
		if (i == 2)
			ck_assert_msg(strstr(fu_jstr(rep, "error"), "health"), "%s", json_object_to_json_string(rep));
		else
			ck_assert_msg(!strstr(fu_jstr(rep, "error"), "health"), "g1 was healthy: %s",
				      json_object_to_json_string(rep));
		json_object_put(rep);
		ck_assert_int_eq(fu_listed(g[i], NULL, "cmdline-warn", &total, NULL), 0);
		ck_assert_int_eq(total, 0);
	}
	ck_assert(pu_guest_has(g[2], "dmesg", "fleet-bad-patch.c"));
	/* status: halted in ring 1 */
	rc = fu_vmm(g[0], &out, &err, "fleet status %s", rundir);
	ck_assert_msg(rc == 2 && strstr(out, "halt reason: ring 1"), "status %d: %s %s", rc, out, err);
	free(out);
	free(err);
	unpatch(g[0], "cmdline-warn", "");
}
END_TEST

static TCase *fleet_more_tcase(void)
{
	TCase *tc = tcase_create("fleet_more");

	tcase_add_unchecked_fixture(tc, up, down);
	tcase_set_timeout(tc, 900);
	tcase_add_test(tc, fleet_stall_wait_finishes_when_the_task_lets_go);
	tcase_add_test(tc, fleet_stall_force_completes_and_names_the_task);
	tcase_add_test(tc, fleet_forced_patch_is_rolled_back);
	tcase_add_test(tc, fleet_rollback_batch_keeps_earlier_batches);
	return tc;
}
GP_TCASE(fleet_more_tcase)

/* ---- tcase fleet_libvirt: a QEMU canary and a libvirt guest ---- */

#define MARKER "guestpatch: cmdline-marker applied"

static struct rig *q;
static struct lvr *lv;
static char bidq[48], bidlv[48], markq[300], marklv[300];

static void lv_up(void)
{
	char *msg = NULL, cmd[1200];

	fu_scratch(dir, "gp-fleetm-XXXXXX");
	q = rig_boot(&(struct rig_opts){ .cpus = 1, .mem_mb = 256 }, &msg);
	ck_assert_msg(q, "rig: %s", msg);
	lv = lvr_boot(&(struct lvr_opts){ 0 }, &msg);
	ck_assert_msg(lv, "booting a Debian system guest under libvirt: %s", msg);
	fprintf(stderr, "fleet_libvirt: %s guest %s (%s) booted in %.1f s\n", lvr_virt_type(lv),
		lvr_name(lv), lvr_kernel_release(lv), lvr_boot_seconds(lv));
	fu_build_id(q, NULL, bidq);
	fu_build_id(q, lvr_target(lv), bidlv);
	snprintf(markq, sizeof(markq), "%s/marker_q.o", dir);
	snprintf(marklv, sizeof(marklv), "%s/marker_lv.o", dir);
	snprintf(cmd, sizeof(cmd), "%s/vmm build guest-agent/examples/cmdline_marker.c -o %s --kernel %s >/dev/null && "
		 "%s/vmm build guest-agent/examples/cmdline_marker.c -o %s --kernel %s >/dev/null",
		 rig_build_dir(), markq, rig_kernel_path(q), rig_build_dir(), marklv, lvr_kernel_path(lv));
	ck_assert_msg(system(cmd) == 0, "%s", cmd);
}

static void lv_down(void)
{
	lvr_destroy(lv);
	rig_kill(q);
	fu_scratch_rm(dir);
}

static bool lv_marked(void)
{
	char *out = NULL;
	int rc = lvr_exec(lv, "cat /proc/cmdline", &out, 60);
	bool yes = rc == 0 && out && strstr(out, MARKER);

	ck_assert_msg(rc == 0, "libvirt guest: cat /proc/cmdline exits %d: %s", rc, lvr_describe(lv));
	free(out);
	return yes;
}

START_TEST(fleet_patches_a_libvirt_guest)
{
	char path[300], rundir[200], *out = NULL, *err = NULL;
	FILE *f;
	int rc;
	json_object *j, *rep;

	ck_assert(!lv_marked());
	ck_assert(!pu_guest_has(q, "cat /proc/cmdline", MARKER));
	/* Two hosts: the QEMU guest by target spec, the libvirt one by its
	 * domain on its host's URI. */
	snprintf(path, sizeof(path), "%s/lv.json", dir);
	f = fopen(path, "w");
	ck_assert(f);
	fprintf(f, "{ \"version\": 1,\n"
		   "  \"hosts\": [ {\"name\": \"local\"}, {\"name\": \"lvhost\", \"uri\": \"%s\"} ],\n"
		   "  \"rings\": [ {\"name\": \"canary\"}, {\"name\": \"1\"} ],\n"
		   "  \"guests\": [ {\"name\": \"q0\", \"host\": \"local\", \"target\": \"%s\", \"ring\": \"canary\"},\n"
		   "              {\"name\": \"lv0\", \"host\": \"lvhost\", \"domain\": \"%s\", \"ring\": \"1\"} ],\n"
		   "  \"patches\": [ {\"build_id\": \"%s\", \"file\": \"%s\"}",
		LVR_URI, rig_target(q), lvr_name(lv), bidq, markq);
	if (strcmp(bidq, bidlv))
		fprintf(f, ",\n               {\"build_id\": \"%s\", \"file\": \"%s\"}", bidlv, marklv);
	fprintf(f, " ] }\n");
	fclose(f);
	/* plan: the libvirt guest's build id as `vmm info` reads it */
	rc = fu_vmm(q, &out, &err, "fleet plan %s --json", path);
	ck_assert_msg(rc == 0, "plan exit %d: %s %s", rc, out, err);
	j = json_tokener_parse(out);
	ck_assert_msg(j && json_object_array_length(j) == 2, "plan: %s", out);
	for (size_t i = 0; i < 2; i++) {
		json_object *x = json_object_array_get_idx(j, i);
		bool islv = !strcmp(fu_jstr(x, "guest"), "lv0");

		ck_assert_str_eq(fu_jstr(x, "build_id"), islv ? bidlv : bidq);
		ck_assert_str_eq(fu_jstr(x, "status"), "to-apply");
		if (islv) {
			ck_assert_str_eq(fu_jstr(x, "host"), "lvhost");
			ck_assert_msg(!strncmp(fu_jstr(x, "target"), "libvirt:", 8) &&
				      strstr(fu_jstr(x, "target"), lvr_name(lv)), "%s", fu_jstr(x, "target"));
		}
	}
	json_object_put(j);
	free(out);
	free(err);
	/* run, with the health check: both applied, in each guest */
	snprintf(rundir, sizeof(rundir), "%s/run-lv", dir);
	rc = fu_vmm(q, &out, &err, "fleet run %s --run-dir %s", path, rundir);
	ck_assert_msg(rc == 0, "run exit %d: %s\n%s", rc, out, err);
	free(out);
	free(err);
	rep = fu_report_of(rundir, "lv0");
	ck_assert_msg(!strcmp(fu_jstr(rep, "result"), "applied"), "%s", json_object_to_json_string(rep));
	ck_assert_str_eq(fu_jstr(rep, "host"), "lvhost");
	ck_assert_str_eq(fu_jstr(rep, "build_id"), bidlv);
	json_object_put(rep);
	rep = fu_report_of(rundir, "q0");
	ck_assert_msg(!strcmp(fu_jstr(rep, "result"), "applied"), "%s", json_object_to_json_string(rep));
	json_object_put(rep);
	ck_assert(lv_marked());
	ck_assert(pu_guest_has(q, "cat /proc/cmdline", MARKER));
	ck_assert_int_eq(fu_listed(q, lvr_target(lv), "cmdline-marker", NULL, NULL), 1);
	ck_assert_int_eq(fu_listed(q, NULL, "cmdline-marker", NULL, NULL), 1);
	/* --host lvhost: only the libvirt guest, nothing left to apply */
	rc = fu_vmm(q, &out, &err, "fleet run %s --run-dir %s-again --host lvhost --no-health", path, rundir);
	ck_assert_msg(rc == 0, "second run exit %d: %s\n%s", rc, out, err);
	free(out);
	free(err);
	snprintf(path, sizeof(path), "%s-again", rundir);
	rep = fu_report_of(path, "lv0");
	ck_assert_str_eq(fu_jstr(rep, "result"), "nothing-to-apply");
	json_object_put(rep);
	ck_assert_int_eq(fu_listed(q, lvr_target(lv), "cmdline-marker", NULL, NULL), 1);
}
END_TEST

static TCase *fleet_libvirt_tcase(void)
{
	TCase *tc = tcase_create("fleet_libvirt");

	tcase_add_unchecked_fixture(tc, lv_up, lv_down);
	tcase_set_timeout(tc, 900);
	tcase_add_test(tc, fleet_patches_a_libvirt_guest);
	return tc;
}
GP_TCASE(fleet_libvirt_tcase)
