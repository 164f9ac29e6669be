// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A killed tool never freezes, tears or wedges a real guest.
 *
 * `vmm patch` (including the first-time region set-up) and `vmm unpatch`
 * are killed with SIGKILL right after their Nth guest write
 * (GP_FAULT_KILL_AT_WRITE, target.c), N = 1, 2, ... until the command gets
 * through; each write is also torn in half once.  After every kill, with
 * oracles from inside the guest:
 *  - the guest runs again within 2 s (its shell answers: the guardian
 *    rolled the pause back and resumed it);
 *  - the next `vmm list` tells the truth: the patch is listed as applied
 *    exactly when the guest's /proc/cmdline shows it;
 *  - after unpatching what is there, the kernel text hashes equal to
 *    before, and the guest's log has no oops, BUG or WARNING.
 * make check samples the kill points (every one of the first 40, then a
 * stride); GP_CRASH_FULL=1 (make crashtest) takes every one.  The number
 * of kill points covered is printed.
 *
 * Also: SIGINT at random moments, SIGKILL at random moments, two vmm at
 * once against one guest, and the wedged per-task states `vmm recover`
 * repairs.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gp_check.h"
#include "kernel.h"
#include "patch_util.h"
#include "rig/rig.h"
#include "target.h"

static struct rig *r;
static char dir[64];
static char obj[256];

static void up(void)
{
	pu_up(&r, dir, sizeof(dir), "/tmp/gp-crash-XXXXXX", NULL);
}

static void down(void)
{
	pu_down(r, dir);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static char *slurp_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 65536);
	size_t n;

	ck_assert(buf);
	if (f) {
		n = fread(buf, 1, 65535, f);
		buf[n] = '\0';
		fclose(f);
	}
	return buf;
}

/*
 * Start `vmm ARGS` (space-separated) with an optional fault; returns its
 * pid.  stdout and stderr go to DIR/run.out and DIR/run.err.
 */
static pid_t start_vmm(const char *fault, const char *args)
{
	char buf[1024], path[128], *argv[32];
	int argc = 0;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/vmm", rig_build_dir());
	argv[argc++] = path;
	snprintf(buf, sizeof(buf), "%s", args);
	for (char *tok = strtok(buf, " "); tok && argc < 31; tok = strtok(NULL, " "))
		argv[argc++] = tok;
	argv[argc] = NULL;
	pid = fork();
	ck_assert(pid >= 0);
	if (pid == 0) {
		char o[128], e[128];

		snprintf(o, sizeof(o), "%s/run.out", dir);
		snprintf(e, sizeof(e), "%s/run.err", dir);
		if (!freopen(o, "w", stdout) || !freopen(e, "w", stderr))
			_exit(127);
		if (fault)
			setenv("GP_FAULT_KILL_AT_WRITE", fault, 1);
		execv(path, argv);
		_exit(127);
	}
	return pid;
}

/* Exit status, or -signal. */
static int wait_vmm(pid_t pid)
{
	int st;

	ck_assert(waitpid(pid, &st, 0) == pid);
	return WIFSIGNALED(st) ? -WTERMSIG(st) : WEXITSTATUS(st);
}

static int run_vmm(const char *fault, const char *args)
{
	return wait_vmm(start_vmm(fault, args));
}

static bool guest_answers(double within_s)
{
	double t0 = now_s();
	char *out = NULL;
	int rc = rig_exec(r, "echo alive", &out, within_s + 1.0);
	bool ok = rc == 0 && out && strstr(out, "alive") && now_s() - t0 <= within_s + 1.0;

	free(out);
	return ok;
}

static int guest_log_problems(void)
{
	char *out = pu_guest(r, "dmesg | grep -cE 'Oops|BUG:|WARNING:|general protection' || true");
	int n = atoi(out);

	free(out);
	if (n) {
		out = pu_guest(r, "dmesg | grep -E 'Oops|BUG:|WARNING:|general protection' | head -5");
		fprintf(stderr, "crash: the guest's log: %s\n", out);
		free(out);
	}
	return n;
}

static char *dir_file(const char *name)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return slurp_file(p);
}

/* After a kill: the guest runs, the record is true, and cleaning up
 * leaves the kernel text as it was.  Returns 1 if the patch was there. */
static int check_after_kill(const struct hashes *base, const char *what, long n)
{
	char args[600], *list, *err;
	bool listed, applied_in_guest;
	struct hashes h;
	int rc;

	ck_assert_msg(guest_answers(2.0), "%s killed at write %ld: the guest does not run again within 2 s (%s)",
		      what, n, rig_describe(r));
	snprintf(args, sizeof(args), "list %s", rig_target(r));
	rc = run_vmm(NULL, args);
	list = dir_file("run.out");
	err = dir_file("run.err");
	ck_assert_msg(rc == 0, "%s killed at write %ld: vmm list exits %d: %s", what, n, rc, err);
	if (strstr(list, "patching")) {
		/* A transition left in progress is a consistent state: the
		 * guest runs it; drive it to its end. */
		snprintf(args, sizeof(args), "transition %s --timeout 20", rig_target(r));
		ck_assert_int_eq(run_vmm(NULL, args), 0);
		free(list);
		snprintf(args, sizeof(args), "list %s", rig_target(r));
		ck_assert_int_eq(run_vmm(NULL, args), 0);
		list = dir_file("run.out");
	}
	listed = strstr(list, "cmdline-marker") != NULL;
	applied_in_guest = pu_guest_has(r, "cat /proc/cmdline", "guestpatch");
	ck_assert_msg(listed == applied_in_guest,
		      "%s killed at write %ld: vmm list says %s, the guest's /proc/cmdline says %s: %s",
		      what, n, listed ? "applied" : "absent", applied_in_guest ? "patched" : "not",
		      list);
	free(list);
	free(err);
	if (listed) {
		snprintf(args, sizeof(args), "unpatch %s cmdline-marker", rig_target(r));
		rc = run_vmm(NULL, args);
		ck_assert_msg(rc == 0, "%s killed at write %ld: unpatch after it exits %d", what, n, rc);
	}
	h = pu_hash_guest(r);
	ck_assert_msg(h.text == base->text, "%s killed at write %ld: kernel text differs from before",
		      what, n);
	return listed;
}

/* The kill points to take: all with GP_CRASH_FULL, else the first 40 and
 * then every 9th. */
static long next_point(long n)
{
	if (getenv("GP_CRASH_FULL") || n < 40)
		return n + 1;
	return n + 9;
}

/* Readers of /proc/cmdline in the guest while vmm is killed again and
 * again: each read must be the original line or the patched one, never
 * anything torn. */
static void readers_start(void)
{
	free(pu_guest(r, "printf 'while :; do cat /proc/cmdline; sleep 0.02; done > $1\\n' > /tmp/creader.sh"));
	free(pu_guest(r, "rm -f /tmp/c1 /tmp/c2; (sh /tmp/creader.sh /tmp/c1 2>/dev/null &); (sh /tmp/creader.sh /tmp/c2 2>/dev/null &)"));
}

static void readers_check(const char *what)
{
	char *out = NULL, *line, *save = NULL;
	int lines = 0, marked = 0;

	free(pu_guest(r, "pkill -f creader.sh; sleep 0.3; true"));
	ck_assert_int_eq(rig_exec_bulk(r, "cat /tmp/c1 /tmp/c2", &out, &(size_t){ 0 }, 120), 0);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "@@GPBULK", 8))
			continue;	/* the rig's own end marker */
		lines++;
		if (!strcmp(line, "guestpatch: cmdline-marker applied"))
			marked++;
		else
			ck_assert_msg(!strncmp(line, "console=ttyS0", 13), "%s: torn read: '%s'", what,
				      line);
	}
	free(out);
	ck_assert_msg(lines > 50, "%s: only %d reads", what, lines);
	fprintf(stderr, "crash: %s: readers saw %d reads, %d of them patched, none torn\n", what,
		lines, marked);
}

static void kill_loop(const char *op, bool torn_too)
{
	struct hashes base = pu_hash_guest(r);
	char args[600], fault[32];
	int points = 0, present = 0, refused = 0;

	readers_start();
	snprintf(obj, sizeof(obj), "%s", pu_build(r, dir, "cmdline_marker", NULL, NULL));
	for (int torn = 0; torn < (torn_too ? 2 : 1); torn++) {
		for (long n = 1;; n = next_point(n)) {
			int rc;

			if (!strcmp(op, "unpatch")) {
				snprintf(args, sizeof(args), "patch %s %s", rig_target(r), obj);
				ck_assert_int_eq(run_vmm(NULL, args), 0);
				snprintf(args, sizeof(args), "unpatch %s cmdline-marker", rig_target(r));
			} else {
				snprintf(args, sizeof(args), "patch %s %s", rig_target(r), obj);
			}
			snprintf(fault, sizeof(fault), "%ld%s", n, torn ? ",torn" : "");
			rc = run_vmm(fault, args);
			if (rc == 0) {
				/* Got through before write n: the end. */
				check_after_kill(&base, op, n);
				break;
			}
			if (rc == 1) {
				/* A clean refusal (with its message) rather than a
				 * kill: allowed, said, and the guest checked the same. */
				char *e = dir_file("run.err");

				fprintf(stderr, "crash: %s with a fault at write %ld refused before it: %s", op,
					n, e);
				free(e);
				refused++;
				check_after_kill(&base, op, n);
				continue;
			}
			ck_assert_msg(rc == -SIGKILL, "%s with a fault at write %ld exits %d: %s", op, n, rc,
				      dir_file("run.err"));
			points++;
			present += check_after_kill(&base, op, n);
		}
	}
	fprintf(stderr, "crash: %s killed at %d write%s (%s); the patch was there afterwards %d time%s, absent %d; every time the guest ran within 2 s, vmm list was true and the text came back\n",
		op, points, points == 1 ? "" : "s",
		getenv("GP_CRASH_FULL") ? (torn_too ? "every write, whole and torn" : "every write") :
					  "sampled: GP_CRASH_FULL=1 for all",
		present, present == 1 ? "" : "s", points - present);
	ck_assert_int_gt(points, 10);
	ck_assert_msg(refused <= points / 10, "%s: %d refusals against %d kills", op, refused, points);
	ck_assert_int_eq(guest_log_problems(), 0);
	readers_check(op);
}

/* First: on a fresh guest, so the first kills land in the region set-up. */
START_TEST(kill_patch_at_every_write)
{
	kill_loop("patch", true);
}
END_TEST

START_TEST(kill_unpatch_at_every_write)
{
	kill_loop("unpatch", false);
}
END_TEST

/* A per-task transition held by a reader blocked in devkmsg_read, then
 * the reader let go: what is left is completion (or, with --signal, the
 * straggler step first).  vmm transition is killed at its Nth write. */
static void kill_transition_loop(const char *extra)
{
	struct hashes base = pu_hash_guest(r);
	char args[600], fault[32], kobj[256], *list;
	int points = 0, applied = 0;

	/* A reader blocked in devkmsg_read keeps the transition, and so
	 * its vmm, waiting. */
	snprintf(kobj, sizeof(kobj), "%s", pu_build(r, dir, "kmsg_eof", pu_kmsg_eof_src, NULL));
	for (long n = 1;; n = n < 20 || getenv("GP_CRASH_FULL") ? n + 1 : n + 23) {
		int rc, frc;

		free(pu_guest(r, "kmsgwait; sleep 0.3"));
		snprintf(args, sizeof(args), "patch %s %s --timeout 1", rig_target(r), kobj);
		ck_assert_int_eq(run_vmm(NULL, args), 3);
		if (!*extra)	/* completion alone: let the reader go first */
			free(pu_guest(r, "echo wake-up > /dev/kmsg; sleep 0.3"));
		snprintf(args, sizeof(args), "transition %s --timeout 10 %s", rig_target(r), extra);
		snprintf(fault, sizeof(fault), "%ld", n);
		frc = run_vmm(fault, args);
		ck_assert_msg(frc == 0 || frc == -SIGKILL || frc == 1 || frc == 3,
			      "transition %s with a fault at write %ld exits %d", extra, n, frc);
		if (frc == 1 || frc == 3) {
			char *e = dir_file("run.err");

			fprintf(stderr, "crash: transition %s with a fault at write %ld ended without reaching it (exit %d): %s",
				extra, n, frc, e);
			free(e);
		}
		if (frc == -SIGKILL) {
			points++;
			ck_assert_msg(guest_answers(2.0),
				      "transition %s killed at write %ld: the guest does not run again within 2 s (%s)",
				      extra, n, rig_describe(r));
		}
		/* The truth, then clean up: finish the transition (the reader
		 * is let go now in any case), take out a straggler agent left
		 * behind, unpatch. */
		snprintf(args, sizeof(args), "list %s", rig_target(r));
		ck_assert_int_eq(run_vmm(NULL, args), 0);
		list = dir_file("run.out");
		ck_assert_msg(strstr(list, "kmsg-eof: patching") || strstr(list, "kmsg-eof: applied"),
			      "transition %s killed at write %ld: vmm list: %s", extra, n, list);
		applied += frc != 0 && strstr(list, "kmsg-eof: applied") != NULL;
		{
			char *o = NULL;
			int wrc = rig_exec(r, "echo wake-up > /dev/kmsg; sleep 0.3", &o, 20);

			ck_assert_msg(wrc == 0, "transition %s killed at write %ld: afterwards the guest command fails (%d: %s); vmm list said: %s; the killed vmm said: %s; %s",
				      extra, n, wrc, o ? o : "", list, dir_file("run.err"), rig_describe(r));
			free(o);
		}
		free(list);
		snprintf(args, sizeof(args), "transition %s --timeout 20", rig_target(r));
		rc = run_vmm(NULL, args);
		ck_assert_msg(rc == 0 || rc == 1, "finishing the transition: exit %d", rc);
		snprintf(args, sizeof(args), "recover %s", rig_target(r));
		ck_assert_int_eq(run_vmm(NULL, args), 0);
		snprintf(args, sizeof(args), "unpatch %s kmsg-eof", rig_target(r));
		ck_assert_int_eq(run_vmm(NULL, args), 0);
		free(pu_guest(r, "kill $(pidof kmsgwait) 2>/dev/null; sleep 0.1; true"));
		ck_assert_msg(pu_hash_guest(r).text == base.text,
			      "transition %s killed at write %ld: kernel text differs after cleaning up",
			      extra, n);
		if (frc == 0 || frc == 3)
			break;	/* got through (or waited out its timeout) before write n */
		ck_assert_msg(n < 5000, "transition %s: no end to its writes", extra);
	}
	fprintf(stderr, "crash: transition%s%s killed at %d writes%s; applied afterwards %d times, still in progress %d; every time the guest ran within 2 s, vmm list was true and the text came back\n",
		*extra ? " " : "", extra, points,
		getenv("GP_CRASH_FULL") ? " (every write)" : " (sampled)", applied, points - applied);
	ck_assert_int_gt(points, 5);
	ck_assert_int_eq(guest_log_problems(), 0);
}

START_TEST(kill_completion_at_every_write)
{
	kill_transition_loop("");
}
END_TEST

START_TEST(kill_signal_step_at_every_write)
{
	kill_transition_loop("--signal");
}
END_TEST

/* SIGINT and SIGKILL at random moments of a patch/unpatch cycle. */
START_TEST(signals_at_random_moments)
{
	struct hashes base = pu_hash_guest(r);
	char args[600];
	unsigned seed = (unsigned)time(NULL);

	snprintf(obj, sizeof(obj), "%s", pu_build(r, dir, "cmdline_marker", NULL, NULL));
	fprintf(stderr, "crash: random signals, seed %u\n", seed);
	srand(seed);
	for (int i = 0; i < 12; i++) {
		int sig = i % 2 ? SIGKILL : SIGINT;
		pid_t pid;
		int rc;

		snprintf(args, sizeof(args), "patch %s %s", rig_target(r), obj);
		pid = start_vmm(NULL, args);
		usleep((useconds_t)(rand() % 400000));
		kill(pid, sig);
		rc = wait_vmm(pid);
		ck_assert_msg(rc == 0 || rc == 1 || rc == 130 || rc == -sig,
			      "vmm patch after signal %d exits %d", sig, rc);
		check_after_kill(&base, sig == SIGINT ? "patch (SIGINT)" : "patch (SIGKILL)", -1);
	}
	ck_assert_int_eq(guest_log_problems(), 0);
}
END_TEST

/* Wake the kmsgwait reader a test left blocked in devkmsg_read; the
 * kmsg-eof transition then completes, and the patch is taken out. */
static void release_reader_and_unpatch(void)
{
	char args[600];

	free(pu_guest(r, "echo wake-up > /dev/kmsg; sleep 0.2"));
	snprintf(args, sizeof(args), "transition %s --timeout 20", rig_target(r));
	ck_assert_int_eq(run_vmm(NULL, args), 0);
	snprintf(args, sizeof(args), "unpatch %s kmsg-eof", rig_target(r));
	ck_assert_int_eq(run_vmm(NULL, args), 0);
}

/* SIGINT while vmm waits for a per-task transition: it says it was
 * interrupted and exits 130 (vmm.1), and the transition stays in progress
 * in the guest, which a later `vmm transition` finishes. */
START_TEST(sigint_while_waiting_exits_130)
{
	char args[600], kobj[256], *out;
	pid_t pid;
	int rc;

	snprintf(kobj, sizeof(kobj), "%s", pu_build(r, dir, "kmsg_eof", pu_kmsg_eof_src, NULL));
	free(pu_guest(r, "kmsgwait; sleep 0.3"));
	snprintf(args, sizeof(args), "patch %s %s --timeout 30", rig_target(r), kobj);
	pid = start_vmm(NULL, args);
	sleep(3);	/* well into its wait for the blocked reader */
	kill(pid, SIGINT);
	rc = wait_vmm(pid);
	out = dir_file("run.err");
	ck_assert_msg(rc == 130 && strstr(out, "interrupted by a signal"),
		      "vmm patch stopped by SIGINT while waiting: exit %d: %s", rc, out);
	free(out);
	ck_assert(guest_answers(2.0));
	snprintf(args, sizeof(args), "list %s", rig_target(r));
	ck_assert_int_eq(run_vmm(NULL, args), 0);
	out = dir_file("run.out");
	ck_assert_msg(strstr(out, "kmsg-eof") && strstr(out, "patching"), "after SIGINT: %s", out);
	free(out);
	release_reader_and_unpatch();
}
END_TEST

/* Killed right after its connect to the gdbstub returned, before a word
 * of the handshake: QEMU stops the guest as it accepts the connection,
 * and the guardian, started before the connect, lets it run again. */
START_TEST(killed_right_after_connect)
{
	char args[600], *err;
	int rc;

	snprintf(obj, sizeof(obj), "%s", pu_build(r, dir, "cmdline_marker", NULL, NULL));
	for (int i = 0; i < 3; i++) {
		setenv("GP_FAULT_KILL_AFTER_CONNECT", "1", 1);
		snprintf(args, sizeof(args), i == 1 ? "list %s" : "patch %s %s", rig_target(r), obj);
		rc = run_vmm(NULL, args);
		unsetenv("GP_FAULT_KILL_AFTER_CONNECT");
		ck_assert_int_eq(rc, -SIGKILL);
		ck_assert_msg(guest_answers(2.0),
			      "killed after connect (%d): the guest does not run again within 2 s (%s)", i,
			      rig_describe(r));
		err = dir_file("run.err");
		ck_assert_msg(strstr(err, "the guest runs again"), "killed after connect: %s", err);
		free(err);
		snprintf(args, sizeof(args), "list %s", rig_target(r));
		ck_assert_int_eq(run_vmm(NULL, args), 0);
		err = dir_file("run.out");
		ck_assert_msg(!strstr(err, "cmdline-marker"), "killed after connect: %s", err);
		free(err);
	}
}
END_TEST

/* Two vmm patch against one guest: the second fails within 1 s naming
 * the first; once the first is gone the guest is free again. */
START_TEST(second_vmm_is_told_who_holds_the_guest)
{
	char args[600], kobj[256], *err;
	pid_t first;
	double t0;
	int rc;

	snprintf(obj, sizeof(obj), "%s", pu_build(r, dir, "cmdline_marker", NULL, NULL));
	snprintf(kobj, sizeof(kobj), "%s", pu_build(r, dir, "kmsg_eof", pu_kmsg_eof_src, NULL));
	free(pu_guest(r, "kmsgwait; sleep 0.3"));
	/* The first waits up to 4 s for a reader blocked in devkmsg_read. */
	snprintf(args, sizeof(args), "patch %s %s --timeout 4", rig_target(r),
		 kobj);
	first = start_vmm(NULL, args);
	usleep(700000);
	t0 = now_s();
	{
		char cmd[800];

		snprintf(cmd, sizeof(cmd), "%s/vmm patch %s %s >%s/second.out 2>%s/second.err",
			 rig_build_dir(), rig_target(r), obj, dir, dir);
		rc = system(cmd);
		rc = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
	}
	err = dir_file("second.err");
	ck_assert_msg(rc == 1 && strstr(err, "busy") && strstr(err, "in use by pid"),
		      "second vmm: exit %d: %s", rc, err);
	ck_assert_msg(now_s() - t0 < 1.0, "the second vmm took %.2f s to fail", now_s() - t0);
	fprintf(stderr, "crash: second vmm refused at once: %s", err);
	free(err);
	ck_assert_int_eq(wait_vmm(first), 3);	/* still in progress: the reader */
	release_reader_and_unpatch();	/* and the guest is free */
}
END_TEST

/* The wedged state of old: klp_target_state left set with no transition.
 * Every per-task command refuses; vmm recover repairs it. */
START_TEST(recover_repairs_wedged_target_state)
{
	struct tgt *t = NULL;
	struct kern *k = NULL;
	uint64_t va, pa;
	int32_t one = 1, undef = -1, now = 0;
	char args[600], *out;

	snprintf(obj, sizeof(obj), "%s", pu_build(r, dir, "cmdline_marker", NULL, NULL));
	ck_ok(tgt_open(rig_target(r), &t));
	ck_ok(kern_attach(t, NULL, &k));
	ck_ok(kern_sym(k, "klp_target_state", &va));
	ck_ok(kern_v2p(k, va, &pa));
	ck_ok(tgt_pause(t));
	ck_ok(tgt_write_phys(t, pa, &one, 4));
	ck_ok(tgt_resume(t));
	kern_detach(k);
	tgt_close(t);
	snprintf(args, sizeof(args), "patch %s %s", rig_target(r), obj);
	ck_assert_int_ne(run_vmm(NULL, args), 0);
	out = dir_file("run.err");
	ck_assert_msg(strstr(out, "klp_target_state"), "refusal does not say why: %s", out);
	free(out);
	snprintf(args, sizeof(args), "recover %s", rig_target(r));
	ck_assert_int_eq(run_vmm(NULL, args), 0);
	out = dir_file("run.out");
	ck_assert_msg(strstr(out, "klp_target_state was 1"), "recover: %s", out);
	free(out);
	ck_ok(tgt_open(rig_target(r), &t));
	ck_ok(tgt_pause(t));
	ck_ok(tgt_read_phys(t, pa, &now, 4));
	ck_ok(tgt_resume(t));
	tgt_close(t);
	ck_assert_int_eq(now, undef);
	snprintf(args, sizeof(args), "patch %s %s", rig_target(r), obj);
	ck_assert_int_eq(run_vmm(NULL, args), 0);
	snprintf(args, sizeof(args), "unpatch %s cmdline-marker", rig_target(r));
	ck_assert_int_eq(run_vmm(NULL, args), 0);
	snprintf(args, sizeof(args), "recover %s", rig_target(r));
	ck_assert_int_eq(run_vmm(NULL, args), 0);
	out = dir_file("run.out");
	ck_assert_msg(strstr(out, "nothing to recover"), "second recover: %s", out);
	free(out);
}
END_TEST

/* GP_CRASH_TESTS="name name ..." (make crashtest CRASH_TESTS=...) takes
 * only the loops named: the full loops run for hours, and a run of some
 * of them should not count the others as passed. */
static bool crash_wanted(const char *name)
{
	const char *only = getenv("GP_CRASH_TESTS");
	size_t len = strlen(name);

	if (!only || !*only)
		return true;
	for (const char *p = only; (p = strstr(p, name)); p += len)
		if ((p == only || p[-1] == ' ' || p[-1] == ',') &&
		    (!p[len] || p[len] == ' ' || p[len] == ','))
			return true;
	return false;
}

#define CRASH_ADD(tc, fn)                   \
	do {                                \
		if (crash_wanted(#fn))      \
			tcase_add_test(tc, fn); \
	} while (0)

static TCase *crash_tcase(void)
{
	TCase *tc = tcase_create("crash");

	tcase_add_unchecked_fixture(tc, up, down);
	tcase_set_timeout(tc, 3000);
	CRASH_ADD(tc, kill_patch_at_every_write);
	CRASH_ADD(tc, kill_unpatch_at_every_write);
	CRASH_ADD(tc, kill_completion_at_every_write);
	CRASH_ADD(tc, kill_signal_step_at_every_write);
	CRASH_ADD(tc, signals_at_random_moments);
	CRASH_ADD(tc, killed_right_after_connect);
	CRASH_ADD(tc, sigint_while_waiting_exits_130);
	CRASH_ADD(tc, second_vmm_is_told_who_holds_the_guest);
	CRASH_ADD(tc, recover_repairs_wedged_target_state);
	return tc;
}
GP_TCASE(crash_tcase)
