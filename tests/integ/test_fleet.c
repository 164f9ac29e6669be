// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `vmm fleet` on eight real guests booted once (tcase fleet): six Debian
 * 6.1 amd64, one 6.12 amd64 (a second kernel build) and one 6.1 cloud
 * (no patch in the catalog for its kernel), 256 MiB, 1 vCPU (g3: 2).  The
 * patch is the shipped example cmdline_marker.c built per kernel.  Each
 * guest's own /proc/cmdline and `vmm list` are the oracle.
 *
 *  plan:     `vmm fleet plan --json`: each guest's build id (as `vmm info`
 *            says), what would be applied, the cloud guest
 *            no-patch-for-kernel, an unreachable guest listed as such.
 *  bad canary: a patch that WARNs (cmdline_proc_show calling __warn())
 *            in the canary while a reader loops on /proc/cmdline: the run
 *            halts (exit 2) before ring 1, rolls the canary back; every
 *            other guest is untouched.  Needs `vmm health`.
 *  kill + resume: the run killed (SIGKILL) mid-batch in ring 1, then
 *            `vmm fleet resume`: every guest patched exactly once
 *            (`vmm list`, /proc/cmdline), the report agrees; a second run
 *            finds nothing to apply, and two guests of one group in one
 *            batch never ran a step at the same time (their step logs).
 *  stall:    a reader blocked in devkmsg_read while kmsg-eof is applied
 *            with --on-stall revert: the guest ends unpatched, the report
 *            names the task and function.
 *            With --on-stall signal the fake signal moves it: applied, the
 *            report still names what held it.
 *  rollback all: ring 1 fails its health check; the healthy canary is
 *            rolled back too, the marker of the earlier run stays.
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
#include "rig/rig.h"

#define NG 8
static struct rig *g[NG];
static const char *const flavor[NG] = { "amd64", "amd64", "amd64", "amd64", "amd64", "amd64",
					"6.12-amd64", "cloud-amd64" };
static char dir[64];
static char bid61[48], bid612[48], bidcloud[48];
static char marker61[256], marker612[256], warn61[256], kmsg61[256];

static void up(void)
{
	char *msg = NULL, sub[128];
	double t0 = (double)time(NULL);

	fu_scratch(dir, "gp-fleet-XXXXXX");
	for (int i = 0; i < NG; i++) {
		/* g3 has 2 vCPUs: the stall test needs the per-task model,
		 * which a 1-vCPU guest's kernel does not offer us (its SMP
		 * alternatives are patched out: no `lock` before the bit op
		 * lp_klp.c looks for TIF_PATCH_PENDING in; `vmm patch` falls
		 * back to the global model there). */
		g[i] = rig_boot(&(struct rig_opts){ .cpus = i == 3 ? 2 : 1, .mem_mb = 256, .flavor = flavor[i] },
				&msg);
		if (!g[i]) {
			fprintf(stderr, "rig %d (%s): %s\n", i, flavor[i], msg);
			abort();
		}
	}
	fprintf(stderr, "fleet: %d guests booted in %.0f s\n", NG, (double)time(NULL) - t0);
	fu_build_id(g[0], NULL, bid61);
	fu_build_id(g[6], NULL, bid612);
	fu_build_id(g[7], NULL, bidcloud);
	snprintf(sub, sizeof(sub), "%s/61", dir);
	mkdir(sub, 0755);
	snprintf(marker61, sizeof(marker61), "%s", pu_build(g[0], sub, "cmdline_marker", NULL, NULL));
	snprintf(warn61, sizeof(warn61), "%s", pu_build(g[0], sub, "cmdline_warn", fu_warn_src, NULL));
	snprintf(kmsg61, sizeof(kmsg61), "%s", pu_build(g[0], sub, "kmsg_eof", pu_kmsg_eof_src, NULL));
	snprintf(sub, sizeof(sub), "%s/612", dir);
	mkdir(sub, 0755);
	snprintf(marker612, sizeof(marker612), "%s", pu_build(g[6], sub, "cmdline_marker", NULL, NULL));
}

static void down(void)
{
	for (int i = 0; i < NG; i++)
		rig_kill(g[i]);
	fu_scratch_rm(dir);
}

/*
 * An inventory: guests first..last-1 (canary: the first), the 6.1 build
 * patched by p61, the 6.12 one by the marker; extra: more guests JSON.
 */
static const char *inventory(const char *name, int first, int last, const char *p61,
			     const char *policy, const char *extra)
{
	static char path[200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.json", dir, name);
	f = fopen(path, "w");
	ck_assert(f);
	fprintf(f, "{ \"version\": 1,\n  \"hosts\": [ {\"name\": \"local\", \"max_parallel\": 2} ],\n"
		   "  \"rings\": [ {\"name\": \"canary\", \"soak_s\": 1}, {\"name\": \"1\"} ],\n  \"guests\": [\n");
	for (int i = first; i < last; i++)
		fprintf(f, "    {\"name\": \"g%d\", \"host\": \"local\", \"target\": \"%s\", \"ring\": \"%s\"%s}%s\n",
			i, rig_target(g[i]), i == first ? "canary" : "1",
			i == 1 || i == 2 ? ", \"group\": \"pair\"" : "", i < last - 1 || extra ? "," : "");
	if (extra)
		fprintf(f, "%s\n", extra);
	fprintf(f, "  ],\n  \"patches\": [ {\"build_id\": \"%s\", \"file\": \"%s\"},\n"
		   "               {\"build_id\": \"%s\", \"file\": \"%s\"} ],\n"
		   "  \"policy\": %s }\n", bid61, p61, bid612, marker612, policy);
	fclose(f);
	return path;
}

/* `vmm fleet ARGS`: exit status, stdout and stderr. */
static int fleet(const char *args, char **out, char **err)
{
	char a[2048];

	snprintf(a, sizeof(a), "fleet %s", args);
	return rig_run_tool(g[0], a, out, err);
}

/* Times the marker line shows in the guest's /proc/cmdline. */
static int markers(struct rig *r)
{
	char *o = pu_guest(r, "grep -c 'cmdline-marker applied' /proc/cmdline || true");
	int n = atoi(o);

	free(o);
	return n;
}

/* How many patches named name `vmm list --json` shows, and how many in all. */
static int listed(struct rig *r, const char *name, int *total)
{
	return fu_listed(r, NULL, name, total, NULL);
}

/* The report line of guest gN in DIR/report.jsonl (a json object; put it). */
static json_object *report_of(const char *rundir, int n)
{
	char name[16];

	snprintf(name, sizeof(name), "g%d", n);
	return fu_report_of(rundir, name);
}

START_TEST(fleet_plan_lists_each_guest)
{
	char *out = NULL, *err = NULL, args[400];
	const char *inv = inventory("plan", 0, NG, marker61, "{\"serial\": \"3\"}",
				    "    {\"name\": \"ghost\", \"host\": \"local\", \"target\": \"qemu:gdb=/nonexistent/gdb.sock\", \"ring\": \"1\"}");
	json_object *j;
	int rc;

	snprintf(args, sizeof(args), "plan %s --json", inv);
	rc = fleet(args, &out, &err);
	ck_assert_msg(rc == 1, "plan exit %d (want 1: one guest unreachable): %s", rc, err);
	j = json_tokener_parse(out);
	ck_assert_msg(j && json_object_is_type(j, json_type_array) && json_object_array_length(j) == NG + 1,
		      "plan: %s", out);
	for (size_t i = 0; i < NG + 1; i++) {
		json_object *x = json_object_array_get_idx(j, i), *t;
		const char *name = fu_jstr(x, "guest"), *status = fu_jstr(x, "status");

		json_object_object_get_ex(x, "to_apply", &t);
		if (!strcmp(name, "ghost")) {
			ck_assert_str_eq(status, "unreachable");
			continue;
		}
		int n = atoi(name + 1);

		ck_assert_str_eq(fu_jstr(x, "build_id"), n == 6 ? bid612 : n == 7 ? bidcloud : bid61);
		ck_assert_str_eq(fu_jstr(x, "ring"), n == 0 ? "canary" : "1");
		if (n == 7) {
			ck_assert_str_eq(status, "no-patch-for-kernel");
			ck_assert_uint_eq(json_object_array_length(t), 0);
		} else {
			ck_assert_msg(!strcmp(status, "to-apply"), "%s: %s", name, status);
			ck_assert_uint_eq(json_object_array_length(t), 1);
			ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(t, 0)), "cmdline-marker");
		}
	}
	/* batches: canary 1; ring 1 (g1..g7 + ghost, serial 3): 3, 3, 2 */
	ck_assert_int_eq(json_object_get_int(json_object_object_get(json_object_array_get_idx(j, 0), "batch")), 1);
	ck_assert_int_eq(json_object_get_int(json_object_object_get(json_object_array_get_idx(j, 4), "batch")), 2);
	ck_assert_int_eq(json_object_get_int(json_object_object_get(json_object_array_get_idx(j, 8), "batch")), 3);
	json_object_put(j);
	free(out);
	free(err);
	/* the text form says the same */
	snprintf(args, sizeof(args), "plan %s", inv);
	fleet(args, &out, &err);
	ck_assert_msg(strstr(out, "no-patch-for-kernel") && strstr(out, "unreachable") &&
		      strstr(out, "cmdline-marker"), "plan: %s", out);
	free(out);
	free(err);
	/* an inventory whose catalog disagrees with the file is refused */
	{
		char bad[48];

		snprintf(bad, sizeof(bad), "%s", bid612);
		snprintf(bid612, sizeof(bid612), "%s", bid61);	/* the 6.12 marker under the 6.1 id */
		inv = inventory("badcat", 0, 2, marker61, "{}", NULL);
		snprintf(bid612, sizeof(bid612), "%s", bad);
		snprintf(args, sizeof(args), "plan %s", inv);
		rc = fleet(args, &out, &err);
		ck_assert_msg(rc == 1 && strstr(err, "was built for kernel build id"), "rc %d: %s", rc, err);
		free(out);
		free(err);
	}
}
END_TEST

START_TEST(fleet_bad_canary_halts_and_rolls_back)
{
	char *out = NULL, *err = NULL, args[600], rundir[200];
	const char *inv = inventory("bad", 0, NG, warn61,
				    "{\"serial\": \"3\", \"max_fail\": \"0\", \"rollback\": \"failed\", \"stall_s\": 10}", NULL);
	json_object *rep;
	int rc, total;

	snprintf(rundir, sizeof(rundir), "%s/run-bad", dir);
	/* a slow reader: every read WARNs once the patch is in */
	free(pu_guest(g[0], "printf 'while :; do cat /proc/cmdline >/dev/null; sleep 0.2; done\\n' > /tmp/slow.sh; "
			    "(sh /tmp/slow.sh 2>/dev/null &)"));
	snprintf(args, sizeof(args), "run %s --run-dir %s", inv, rundir);
	rc = fleet(args, &out, &err);
	free(pu_guest(g[0], "pkill -f slow.sh; true"));
	ck_assert_msg(rc == 2, "run exit %d (want 2, halted): %s\n%s", rc, out, err);
	ck_assert_msg(strstr(out, "halted: ring canary"), "%s", out);
	rep = report_of(rundir, 0);
	ck_assert_msg(!strcmp(fu_jstr(rep, "result"), "rolled-back"), "canary: %s",
		      json_object_to_json_string(rep));
	ck_assert_msg(strstr(fu_jstr(rep, "error"), "health"), "canary: %s", json_object_to_json_string(rep));
	json_object_put(rep);
	/* the canary is back as it was; the guest saw the WARNING */
	ck_assert_int_eq(listed(g[0], "cmdline-warn", &total), 0);
	ck_assert_int_eq(total, 0);
	ck_assert(pu_guest_has(g[0], "dmesg", "fleet-bad-patch.c"));
	/* ring 1: untouched, in each guest */
	for (int i = 1; i < NG; i++) {
		ck_assert_int_eq(listed(g[i], "cmdline-warn", &total), 0);
		ck_assert_msg(total == 0, "g%d has %d patches", i, total);
		ck_assert_int_eq(markers(g[i]), 0);
		rep = report_of(rundir, i);
		ck_assert_str_eq(fu_jstr(rep, "result"), "skipped");
		json_object_put(rep);
	}
	free(out);
	free(err);
	/* status says halted */
	snprintf(args, sizeof(args), "status %s", rundir);
	rc = fleet(args, &out, &err);
	ck_assert_msg(rc == 2 && strstr(out, "halted"), "status %d: %s %s", rc, out, err);
	free(out);
	free(err);
}
END_TEST

/* Phases of the guests in DIR/state.json: done, running, running a patch. */
static void state_counts(const char *rundir, int *done, int *running, int *patching)
{
	json_object *arr, *j = fu_state_guests(rundir, &arr);

	*done = *running = *patching = 0;
	for (size_t i = 0; j && i < json_object_array_length(arr); i++) {
		const char *ph = fu_jstr(json_object_array_get_idx(arr, i), "phase");

		*done += !strcmp(ph, "done");
		*running += !strcmp(ph, "running");
		*patching += !strcmp(ph, "running") &&
			     !strcmp(fu_jstr(json_object_array_get_idx(arr, i), "step"), "patch");
	}
	json_object_put(j);
}

/* The [start, end] times of each step in a guest's log ("--- STEP at T:",
 * "--- end at T:"); returns how many. */
static int step_times(const char *rundir, int n, double (*iv)[2], int max)
{
	char path[300], *text, *line, *save = NULL;
	int k = 0;

	snprintf(path, sizeof(path), "%s/log/g%d.log", rundir, n);
	text = rig_slurp(path);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *at = strstr(line, " at ");
		double t;

		if (strncmp(line, "--- ", 4) || !at)
			continue;
		t = atof(at + 4);
		if (!strncmp(line, "--- end at ", 11)) {
			if (k > 0)
				iv[k - 1][1] = t;
		} else if (k < max) {
			iv[k][0] = t;
			iv[k][1] = 1e18;	/* until its end shows */
			k++;
		}
	}
	free(text);
	return k;
}

START_TEST(fleet_killed_mid_batch_resumes)
{
	char *out = NULL, *err = NULL, args[600], rundir[200], cmd[1200];
	const char *inv = inventory("good", 0, NG, marker61,
				    "{\"serial\": \"2\", \"max_parallel\": 2, \"max_fail\": \"0\", \"stall_s\": 20}", NULL);
	int done = 0, running = 0, patching = 0, rc, status;
	pid_t pid;
	double t0 = (double)time(NULL);

	snprintf(rundir, sizeof(rundir), "%s/run-good", dir);
	pid = fu_fleet_spawn(inv, rundir, NULL);
	/* mid-batch in ring 1: the canary and a batch done, steps running */
	while ((double)time(NULL) - t0 < 400) {
		/* at best while a `vmm patch` step runs (it goes on as an
		 * orphan, holding the guest: resume must wait for it and not
		 * patch again); else any step once most are done */
		state_counts(rundir, &done, &running, &patching);
		if ((done >= 1 && patching > 0) || (done >= 5 && running > 0))
			break;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			char *o = NULL;

			snprintf(cmd, sizeof(cmd), "%s.out", rundir);
			o = rig_slurp(cmd);
			ck_abort_msg("the run ended before it could be killed (status %d): %s", status, o);
		}
		usleep(100 * 1000);
	}
	ck_assert_msg(done >= 1 && running > 0 && done < NG, "never mid-batch: done %d running %d", done, running);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	fprintf(stderr, "fleet: killed with %d done, %d running (%d in a patch step)\n", done, running,
		patching);
	snprintf(args, sizeof(args), "status %s", rundir);
	rc = fleet(args, &out, &err);
	ck_assert_msg(rc == 0 && strstr(out, "no process drives it"), "status %d: %s %s", rc, out, err);
	free(out);
	free(err);
	snprintf(args, sizeof(args), "resume %s", rundir);
	rc = fleet(args, &out, &err);
	ck_assert_msg(rc == 0, "resume exit %d: %s\n%s", rc, out, err);
	free(out);
	free(err);
	for (int i = 0; i < NG; i++) {
		json_object *rep = report_of(rundir, i);
		int total, n = listed(g[i], "cmdline-marker", &total);

		if (i == 7) {
			ck_assert_str_eq(fu_jstr(rep, "result"), "no-patch-for-kernel");
			ck_assert_int_eq(total, 0);
			ck_assert_int_eq(markers(g[i]), 0);
		} else {
			ck_assert_msg(!strcmp(fu_jstr(rep, "result"), "applied"), "g%d: %s", i,
				      json_object_to_json_string(rep));
			ck_assert_msg(n == 1 && total == 1, "g%d: cmdline-marker listed %d times of %d", i, n, total);
			ck_assert_msg(markers(g[i]) == 1, "g%d /proc/cmdline", i);
			ck_assert_str_eq(fu_jstr(rep, "build_id"), i == 6 ? bid612 : bid61);
		}
		json_object_put(rep);
	}
	/* resuming a finished run changes nothing */
	snprintf(args, sizeof(args), "resume %s", rundir);
	rc = fleet(args, &out, &err);
	ck_assert_msg(rc == 0 && strstr(err, "nothing to resume"), "%d %s", rc, err);
	free(out);
	free(err);
	/* a new run: nothing to apply anywhere */
	snprintf(args, sizeof(args), "run %s --run-dir %s-again --no-health --max-parallel 4", inv, rundir);
	rc = fleet(args, &out, &err);
	ck_assert_msg(rc == 0, "second run exit %d: %s %s", rc, out, err);
	free(out);
	free(err);
	snprintf(cmd, sizeof(cmd), "%s-again", rundir);
	for (int i = 0; i < 7; i++) {
		json_object *rep = report_of(cmd, i);

		ck_assert_str_eq(fu_jstr(rep, "result"), "nothing-to-apply");
		ck_assert_int_eq(listed(g[i], "cmdline-marker", NULL), 1);
		json_object_put(rep);
	}
	/* g1 and g2 share a batch and a group: at --max-parallel 4 they still
	 * never ran at once (their step intervals do not overlap) */
	{
		double a[16][2], b[16][2];
		int na = step_times(cmd, 1, a, 16), nb = step_times(cmd, 2, b, 16);

		ck_assert_msg(na >= 2 && nb >= 2, "step logs: %d, %d steps", na, nb);
		for (int x = 0; x < na; x++)
			for (int y = 0; y < nb; y++)
				ck_assert_msg(a[x][1] <= b[y][0] || b[y][1] <= a[x][0],
					      "g1 step [%.3f, %.3f] overlaps g2 step [%.3f, %.3f]", a[x][0],
					      a[x][1], b[y][0], b[y][1]);
	}
}
END_TEST

START_TEST(fleet_stall_reverted_and_named)
{
	char *out = NULL, *err = NULL, args[600], rundir[200];
	const char *inv;
	json_object *rep, *b;
	int rc;

	/* one guest, the kmsg-eof patch, a reader blocked in devkmsg_read */
	inv = inventory("stall", 3, 4, kmsg61, "{\"on_stall\": \"revert\", \"stall_s\": 2}", NULL);
	snprintf(rundir, sizeof(rundir), "%s/run-stall", dir);
	free(pu_guest(g[3], "kmsgwait; sleep 0.3"));
	snprintf(args, sizeof(args), "run %s --run-dir %s --no-health --max-fail 1", inv, rundir);
	rc = fleet(args, &out, &err);
	free(pu_guest(g[3], "kill $(pidof kmsgwait); sleep 0.2"));
	ck_assert_msg(rc == 1, "run exit %d (want 1: a guest failed, below the threshold): %s %s", rc, out, err);
	rep = report_of(rundir, 3);
	ck_assert_msg(!strcmp(fu_jstr(rep, "result"), "failed") && strstr(fu_jstr(rep, "error"), "reverted"),
		      "%s", json_object_to_json_string(rep));
	ck_assert(json_object_object_get_ex(rep, "blocking", &b) && json_object_array_length(b) >= 1);
	ck_assert_str_eq(fu_jstr(json_object_array_get_idx(b, 0), "comm"), "kmsgwait");
	ck_assert_msg(strstr(fu_jstr(json_object_array_get_idx(b, 0), "function"), "devkmsg_read"), "%s",
		      json_object_to_json_string(b));
	ck_assert_msg(strstr(out, "kmsgwait") && strstr(out, "devkmsg_read"), "table: %s", out);
	json_object_put(rep);
	ck_assert_int_eq(listed(g[3], "kmsg-eof", NULL), 0);
	free(out);
	free(err);
}
END_TEST

/* --on-stall signal: the fake signal moves the blocked reader; the patch
 * completes and the report still names what held it. */
START_TEST(fleet_stall_signalled)
{
	char *out = NULL, *err = NULL, args[600], rundir[200];
	const char *inv = inventory("stallsig", 3, 4, kmsg61, "{\"on_stall\": \"signal\", \"stall_s\": 2}", NULL);
	json_object *rep, *b;
	int rc;

	snprintf(rundir, sizeof(rundir), "%s/run-stallsig", dir);
	free(pu_guest(g[3], "kmsgwait; sleep 0.3"));
	snprintf(args, sizeof(args), "run %s --run-dir %s --no-health", inv, rundir);
	rc = fleet(args, &out, &err);
	free(pu_guest(g[3], "kill $(pidof kmsgwait) 2>/dev/null; sleep 0.2; true"));
	ck_assert_msg(rc == 0, "run exit %d: %s %s", rc, out, err);
	rep = report_of(rundir, 3);
	ck_assert_msg(!strcmp(fu_jstr(rep, "result"), "applied"), "%s", json_object_to_json_string(rep));
	ck_assert(json_object_object_get_ex(rep, "blocking", &b) && json_object_array_length(b) >= 1);
	ck_assert_str_eq(fu_jstr(json_object_array_get_idx(b, 0), "comm"), "kmsgwait");
	json_object_put(rep);
	ck_assert_int_eq(listed(g[3], "kmsg-eof", NULL), 1);
	ck_assert_int_eq(pu_vmm(g[3], "unpatch", "kmsg-eof", NULL, NULL), 0);
	free(out);
	free(err);
}
END_TEST

/* --rollback all: the healthy canary is rolled back too when ring 1 halts;
 * what an earlier run applied (the marker) stays. */
START_TEST(fleet_rollback_all)
{
	char *out = NULL, *err = NULL, args[600], rundir[200];
	const char *inv = inventory("rball", 4, 6, warn61,
				    "{\"max_fail\": \"0\", \"rollback\": \"all\", \"stall_s\": 10}", NULL);
	int rc;

	snprintf(rundir, sizeof(rundir), "%s/run-rball", dir);
	/* only ring 1's guest reads /proc/cmdline: the canary stays healthy */
	free(pu_guest(g[5], "printf 'while :; do cat /proc/cmdline >/dev/null; sleep 0.2; done\\n' > /tmp/slow.sh; "
			    "(sh /tmp/slow.sh 2>/dev/null &)"));
	/* A 2 s soak: the last ring too soaks and is checked whole, so the
	 * reader (every 0.2 s) has run the patch before that check. */
	snprintf(args, sizeof(args), "run %s --run-dir %s --soak 2", inv, rundir);
	rc = fleet(args, &out, &err);
	free(pu_guest(g[5], "pkill -f slow.sh; true"));
	ck_assert_msg(rc == 2 && strstr(out, "halted: ring 1"), "run exit %d: %s\n%s", rc, out, err);
	for (int i = 4; i <= 5; i++) {
		json_object *rep = report_of(rundir, i);
		int total;

		ck_assert_msg(!strcmp(fu_jstr(rep, "result"), "rolled-back"), "g%d: %s", i,
			      json_object_to_json_string(rep));
		ck_assert_int_eq(listed(g[i], "cmdline-warn", &total), 0);
		ck_assert_int_eq(listed(g[i], "cmdline-marker", NULL), 1);
		ck_assert_int_eq(total, 1);
		json_object_put(rep);
	}
	free(out);
	free(err);
}
END_TEST

static TCase *fleet_tcase(void)
{
	TCase *tc = tcase_create("fleet");

	tcase_add_unchecked_fixture(tc, up, down);
	tcase_set_timeout(tc, 900);
	tcase_add_test(tc, fleet_plan_lists_each_guest);
	tcase_add_test(tc, fleet_bad_canary_halts_and_rolls_back);
	tcase_add_test(tc, fleet_killed_mid_batch_resumes);
	tcase_add_test(tc, fleet_stall_reverted_and_named);
	tcase_add_test(tc, fleet_stall_signalled);
	tcase_add_test(tc, fleet_rollback_all);
	return tc;
}
GP_TCASE(fleet_tcase)
