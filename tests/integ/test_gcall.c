// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Calling into a real guest from outside (patch/lp_call.c, `vmm call`):
 * fn(arg) runs in a kworker, in process context, and its value comes back.
 *
 * The guest's own view is the oracle: the pid a kernel function returns is
 * a kworker in /proc, its parent kthreadd; a patch function's printk line
 * and dump_stack() (Comm: kworker, "Workqueue:", process_one_work) are in
 * dmesg.  A call that outlives the tool's timeout, or a tool SIGKILLed
 * during a call, leave a record that the next command cleans up once the
 * call has returned; the region is read straight from guest RAM (the rig's
 * RAM file) to see that nothing stays reserved.  After each test: no Oops,
 * BUG or WARNING in dmesg, taint unchanged.
 * Run on 6.1 (gcall) and 6.12 (gcall612).
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
#include "lp_call.h"
#include "lp_region.h"
#include "patch_util.h"
#include "rig/rig.h"

static struct rig *r;
static char dir[64];
static char taint0[64];

static void boot(const char *flavor)
{
	char *t;

	pu_up(&r, dir, sizeof(dir), "/tmp/gp-gcall-XXXXXX", flavor);
	t = pu_guest(r, "cat /proc/sys/kernel/tainted");
	snprintf(taint0, sizeof(taint0), "%s", t);
	free(t);
}

static void up(void) { boot(NULL); }
static void up612(void) { boot("6.12-amd64"); }
static void down(void) { pu_down(r, dir); }

/* Guest-physical bytes from the rig's RAM file, while the guest runs. */
static void ram_read(uint64_t pa, void *buf, size_t len)
{
	const char *m = strstr(rig_target(r), "mem=");
	char path[256];
	int fd;

	ck_assert(m);
	snprintf(path, sizeof(path), "%s", m + 4);
	path[strcspn(path, ",")] = 0;
	fd = open(path, O_RDONLY);
	ck_assert_msg(fd >= 0, "open %s", path);
	ck_assert(pread(fd, buf, len, (off_t)pa) == (ssize_t)len);
	close(fd);
}

static struct lp_hdr *hdr(void)
{
	static struct lp_hdr h;

	ram_read(LP_REGION_PA, &h, sizeof(h));
	return &h;
}

/* No call record, and no region page reserved for one (nor for anything
 * else of the system: no straggler agent runs in these tests). */
static void region_clean(const char *when)
{
	const struct lp_hdr *h = hdr();

	if (memcmp(h->magic, LP_MAGIC, sizeof(h->magic)))
		return;		/* no region at all */
	ck_assert_msg(!h->call_state, "%s: a call record stays (fn 0x%llx)", when,
		      (unsigned long long)h->call_fn);
	ck_assert_msg(!h->agent_state, "%s: a straggler agent is installed", when);
	for (unsigned p = LP_FIRST_ALLOC; p < LP_JOURNAL_PAGE; p++)
		ck_assert_msg(h->page_owner[p] != LP_PAGE_SYSTEM,
			      "%s: region page %u is still reserved", when, p);
}

static void guest_healthy(void)
{
	char *t = pu_guest(r, "cat /proc/sys/kernel/tainted");
	char *bad = pu_guest(r, "dmesg | grep -E 'Oops|BUG|WARNING|general protection' | head -5; true");

	ck_assert_msg(!bad[0], "guest log: %s", bad);
	ck_assert_msg(!strcmp(t, taint0), "taint went from %s to %s", taint0, t);
	free(t);
	free(bad);
}

/* `vmm call` that must succeed; the value it printed. */
static long long vmm_call(const char *args)
{
	char *out = NULL, *err = NULL;
	long long v = 0;
	const char *p;
	int rc = pu_vmm(r, "call", args, &out, &err);

	ck_assert_msg(rc == 0, "vmm call %s: exit %d: %s", args, rc, err);
	p = strstr(out, " returned ");
	ck_assert_msg(p && sscanf(p, " returned %lld", &v) == 1, "output: %s", out);
	fprintf(stderr, "gcall: vmm call %s: %s", args, out);
	free(out);
	free(err);
	return v;
}

/* 1. Kernel functions whose value the guest can confirm: getppid() of a
 * kworker is kthreadd (2); getpid() is a kworker, by /proc. */
START_TEST(call_kernel_function)
{
	long long ppid, pid;
	char cmd[100], *comm;

	ppid = vmm_call("__x64_sys_getppid");
	ck_assert_int_eq(ppid, 2);
	pid = vmm_call("__x64_sys_getpid 0");
	ck_assert_msg(pid > 2, "pid %lld", pid);
	snprintf(cmd, sizeof(cmd), "cat /proc/%lld/comm; cat /proc/%lld/status | grep PPid", pid,
		 pid);
	comm = pu_guest(r, cmd);
	fprintf(stderr, "gcall: pid %lld in the guest: %s", pid, comm);
	ck_assert_msg(!strncmp(comm, "kworker/", 8), "pid %lld is %s", pid, comm);
	ck_assert_msg(strstr(comm, "PPid:\t2"), "%s", comm);
	free(comm);
	region_clean("after two calls");
	/* Refusals: not a function; unknown name. */
	ck_assert(pu_vmm(r, "call", "jiffies", NULL, NULL) != 0);
	ck_assert(pu_vmm(r, "call", "no_such_function_gp", NULL, NULL) != 0);
	guest_healthy();
}
END_TEST

/* 2. Code of a patch: cmdline_proc_show replaced by a function that, given
 * a small number instead of a seq_file, prints it, sleeps, dumps its stack
 * and returns 3n+1. */
static const char call_src[] =
	"#include <guestpatch.h>\nGP_PATCH(\"gcall-test\");\nstruct seq_file;\n"
	"extern void seq_printf(struct seq_file *m, const char *f, ...);\n"
	"extern int _printk(const char *f, ...);\nextern void msleep(unsigned int ms);\n"
	"extern void dump_stack(void);\nextern char *saved_command_line;\n"
	"static int f(struct seq_file *m, void *v)\n{\n"
	"	unsigned long n = (unsigned long)m;\n"
	"	if (n < 4096) {\n"
	"		_printk(\"gcall-test: called with %lu\\n\", n);\n"
	"		msleep(50);\n		dump_stack();\n"
	"		return (int)(3 * n + 1);\n	}\n"
	"	seq_printf(m, \"%s\\n\", saved_command_line);\n	return 0;\n}\n"
	"GP_REPLACE(cmdline_proc_show, f);\n";

START_TEST(call_patch_code)
{
	const char *obj = pu_build(r, dir, "gcall_test", call_src, NULL);
	char *out = NULL, *err = NULL, *log;
	long long v;

	ck_assert_msg(pu_vmm(r, "patch", obj, &out, &err) == 0, "patch: %s", err);
	free(out);
	free(err);
	ck_assert(pu_guest_has(r, "cat /proc/cmdline", "console="));
	v = vmm_call("cmdline_proc_show 1234");
	ck_assert_int_eq(v, 3 * 1234 + 1);
	log = pu_guest(r, "dmesg | grep -A40 'gcall-test: called with 1234'");
	fprintf(stderr, "gcall: guest log:\n%s", log);
	ck_assert_msg(strstr(log, "gcall-test: called with 1234"), "%s", log);
	ck_assert_msg(strstr(log, "Comm: kworker/"), "not a kworker: %s", log);
	ck_assert_msg(strstr(log, "Workqueue: events"), "not system_wq: %s", log);
	ck_assert_msg(strstr(log, "process_one_work"), "not from process_one_work: %s", log);
	free(log);
	ck_assert_msg(pu_vmm(r, "unpatch", "gcall-test", &out, &err) == 0, "unpatch: %s", err);
	free(out);
	free(err);
	region_clean("after the patch call and unpatch");
	guest_healthy();
}
END_TEST

/* Wait (bounded) until `vmm list` says the call left behind was freed. */
static void wait_cleanup(const char *sub, double limit_s)
{
	time_t t0 = time(NULL);
	char *err = NULL;

	for (;;) {
		ck_assert_msg(pu_vmm(r, sub, "", NULL, &err) == 0, "%s: %s", sub, err);
		if (!hdr()->call_state) {
			fprintf(stderr, "gcall: %s after %lds: %s", sub, (long)(time(NULL) - t0), err);
			free(err);
			return;
		}
		ck_assert_msg(strstr(err, "still in flight"), "%s said: %s", sub, err);
		free(err);
		ck_assert_msg(difftime(time(NULL), t0) < limit_s, "the call was never cleaned up");
		sleep(2);
	}
}

/* 3. A call longer than the timeout: reported still running, its record
 * stays; a later command frees it once msleep returned. */
START_TEST(call_timeout_then_cleanup)
{
	char *out = NULL, *err = NULL;
	int rc = pu_vmm(r, "call", "msleep 15000 --timeout 3", &out, &err);

	fprintf(stderr, "gcall: timed-out call: exit %d: %s%s", rc, out, err);
	ck_assert_int_ne(rc, 0);
	ck_assert_msg(strstr(err, "still running in the guest"), "%s", err);
	free(out);
	free(err);
	ck_assert_msg(hdr()->call_state == 1, "the record of a running call is gone");
	ck_assert(!hdr()->call_hooked);
	/* One call at a time. */
	rc = pu_vmm(r, "call", "__x64_sys_getppid", NULL, &err);
	ck_assert_msg(rc != 0 && strstr(err, "one call at a time"), "exit %d: %s", rc, err);
	free(err);
	wait_cleanup("list", 240);
	region_clean("after the timed-out call ended");
	ck_assert_int_eq(vmm_call("__x64_sys_getppid"), 2);
	guest_healthy();
}
END_TEST

/* 4. The tool SIGKILLed while the guest runs the call: `vmm list` says it
 * is still in flight, `vmm recover` frees it once it has returned. */
START_TEST(call_sigkill)
{
	char cmd[600];
	pid_t pid;
	int status;
	time_t t0 = time(NULL);
	uint8_t started = 0;

	snprintf(cmd, sizeof(cmd), "exec %s/vmm call %s msleep 12000 --timeout 60 >/dev/null 2>&1",
		 rig_build_dir(), rig_target(r));
	pid = fork();
	ck_assert(pid >= 0);
	if (!pid) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	/* Until the kworker runs msleep (the data page's started flag). */
	while (!started) {
		const struct lp_hdr *h = hdr();

		if (!memcmp(h->magic, LP_MAGIC, sizeof(h->magic)) && h->call_state)
			ram_read(LP_REGION_PA + h->call_data_page * 4096ull + LP_CALL_STARTED,
				 &started, 1);
		ck_assert_msg(difftime(time(NULL), t0) < 120, "the call never started");
		usleep(100000);
	}
	kill(pid, SIGKILL);
	ck_assert(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status));
	fprintf(stderr, "gcall: vmm killed %lds after start\n", (long)(time(NULL) - t0));
	ck_assert(hdr()->call_state == 1);
	wait_cleanup("recover", 240);
	region_clean("after the killed call ended");
	ck_assert_int_eq(vmm_call("__x64_sys_getppid"), 2);
	guest_healthy();
}
END_TEST

/* 5. `vmm call` killed right after its Nth guest write, whole and torn,
 * for every N until it gets through: each time the guest runs on, the
 * next command (`vmm list`) finds either nothing (the guardian rolled the
 * interrupted pause back) or a call that has returned, which it frees;
 * nothing stays reserved. */
START_TEST(call_killed_at_every_write)
{
	char cmd[700];
	int n, killed = 0, leftovers = 0;

	for (n = 1; n < 400; n++) {
		char *err = NULL;
		bool torn = n % 2 == 0;
		int status, rc;
		pid_t pid;

		snprintf(cmd, sizeof(cmd),
			 "GP_FAULT_KILL_AT_WRITE=%d%s exec %s/vmm call %s __x64_sys_getppid >%s/k.out 2>&1",
			 (n + 1) / 2, torn ? ",torn" : "", rig_build_dir(), rig_target(r), dir);
		pid = fork();
		ck_assert(pid >= 0);
		if (!pid) {
			execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
			_exit(127);
		}
		ck_assert(waitpid(pid, &status, 0) == pid);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			break;
		ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
			      "kill at write %d%s: status 0x%x", (n + 1) / 2, torn ? " torn" : "",
			      status);
		killed++;
		leftovers += hdr()->call_state != 0;
		rc = pu_vmm(r, "list", "", NULL, &err);
		ck_assert_msg(rc == 0, "list after kill %d: %s", n, err);
		free(err);
		region_clean("after a killed call and vmm list");
	}
	fprintf(stderr, "gcall: vmm call killed at %d writes (whole and torn), %d left a record that the next command freed\n",
		killed, leftovers);
	ck_assert_msg(n < 400, "vmm call never got through");
	ck_assert_msg(killed >= 4, "only %d kill points", killed);
	ck_assert_msg(leftovers > 0, "no kill left a call behind: the leftover path was not exercised");
	ck_assert_int_eq(vmm_call("__x64_sys_getppid"), 2);
	guest_healthy();
}
END_TEST

/*
 * 6. A guest whose timer never enters LP_AGENT_HOOK: booted with
 * highres=off, its local timer interrupt runs the low-resolution tick
 * handlers, never hrtimer_interrupt.  The hook is never taken: `vmm call`
 * takes it out again and says fn was not called; a `vmm call` killed
 * while it waits for the hook leaves a record that the next command
 * cancels (the untaken-hook path).  Nothing stays reserved.
 */
static void up_lowres(void)
{
	char *msg = NULL, *t;

	snprintf(dir, sizeof(dir), "/tmp/gp-gcall-XXXXXX");
	ck_assert(mkdtemp(dir));
	r = rig_boot(&(struct rig_opts){ .cpus = 2, .append = "highres=off" }, &msg);
	if (!r) {
		fprintf(stderr, "rig: %s\n", msg);
		abort();
	}
	t = pu_guest(r, "cat /proc/sys/kernel/tainted");
	snprintf(taint0, sizeof(taint0), "%s", t);
	free(t);
}

START_TEST(call_hook_never_taken)
{
	char cmd[600], *out = NULL, *err = NULL;
	time_t t0;
	pid_t pid;
	int status, rc;

	ck_assert(pu_guest_has(r, "cat /proc/cmdline", "highres=off"));
	rc = pu_vmm(r, "call", "__x64_sys_getppid", &out, &err);
	fprintf(stderr, "gcall: untaken hook: exit %d: %s%s", rc, out, err);
	ck_assert_int_ne(rc, 0);
	ck_assert_msg(strstr(err, "took the call's timer hook") && strstr(err, "was not called"),
		      "%s", err);
	free(out);
	free(err);
	region_clean("after a call whose hook was never taken");
	/* Killed while it waits for the hook. */
	snprintf(cmd, sizeof(cmd), "exec %s/vmm call %s __x64_sys_getppid >/dev/null 2>&1",
		 rig_build_dir(), rig_target(r));
	pid = fork();
	ck_assert(pid >= 0);
	if (!pid) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	t0 = time(NULL);
	while (!(!memcmp(hdr()->magic, LP_MAGIC, sizeof(hdr()->magic)) && hdr()->call_state)) {
		ck_assert_msg(difftime(time(NULL), t0) < 60, "no call record appeared");
		usleep(50000);
	}
	kill(pid, SIGKILL);
	ck_assert(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status));
	ck_assert(hdr()->call_state && hdr()->call_hooked);
	ck_assert_msg(pu_vmm(r, "list", "", NULL, &err) == 0, "list: %s", err);
	fprintf(stderr, "gcall: list after the kill: %s", err);
	ck_assert_msg(strstr(err, "had not been queued: cancelled"), "%s", err);
	free(err);
	region_clean("after the untaken call was cancelled");
	guest_healthy();
}
END_TEST

static TCase *gcall_lowres_tcase(void)
{
	TCase *tc = tcase_create("gcall_lowres");

	tcase_set_timeout(tc, 600);
	tcase_add_unchecked_fixture(tc, up_lowres, down);
	tcase_add_test(tc, call_hook_never_taken);
	return tc;
}
GP_TCASE(gcall_lowres_tcase)

static TCase *make(const char *name, void (*u)(void))
{
	TCase *tc = tcase_create(name);

	tcase_set_timeout(tc, 900);
	tcase_add_unchecked_fixture(tc, u, down);
	tcase_add_test(tc, call_kernel_function);
	tcase_add_test(tc, call_patch_code);
	tcase_add_test(tc, call_timeout_then_cleanup);
	tcase_add_test(tc, call_sigkill);
	tcase_add_test(tc, call_killed_at_every_write);
	return tc;
}

static TCase *gcall_tcase(void) { return make("gcall", up); }
static TCase *gcall612_tcase(void) { return make("gcall612", up612); }
GP_TCASE(gcall_tcase)
GP_TCASE(gcall612_tcase)
