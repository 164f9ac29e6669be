// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "console.h"
#include "rig.h"

#define BOOT_TIMEOUT_S 120
#define MAX_RIGS 16

struct rig {
	pid_t qemu;
	struct rig_console con;	/* the shell on ttyS0 (console.h) */
	char dir[64];
	char target[512], target_nomem[512];
	char qmp[128];		/* QMP socket */
	char release[128], kernel[512];
	double boot_s;
	off_t bulk_off;
	bool reaped;		/* QEMU ended and was waited for; status below */
	int status;
	bool panic_told;	/* its kernel's panic report was printed */
};

static struct rig *live[MAX_RIGS];
static char errbuf[10240];

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

const char *rig_build_dir(void)
{
	const char *b = getenv("GP_BUILD");

	return b && *b ? b : "build";
}

static void kill_all(void)
{
	for (int i = 0; i < MAX_RIGS; i++)
		if (live[i] && live[i]->qemu > 0 && !live[i]->reaped && getpid() != live[i]->qemu)
			kill(live[i]->qemu, SIGKILL);
}

static void on_signal(int sig)
{
	kill_all();
	signal(sig, SIG_DFL);
	raise(sig);
}

static pid_t owner_pid;

static void at_exit(void)
{
	/* Check forks tests; only the process that booted kills. */
	if (getpid() == owner_pid)
		kill_all();
}

static void track(struct rig *r)
{
	static int installed;

	if (!installed) {
		owner_pid = getpid();
		atexit(at_exit);
		signal(SIGTERM, on_signal);
		signal(SIGINT, on_signal);
		installed = 1;
	}
	for (int i = 0; i < MAX_RIGS; i++)
		if (!live[i]) {
			live[i] = r;
			return;
		}
}

static void untrack(struct rig *r)
{
	for (int i = 0; i < MAX_RIGS; i++)
		if (live[i] == r)
			live[i] = NULL;
}

static char *read_small(const char *path)
{
	static char buf[256];
	FILE *f = fopen(path, "r");

	if (!f)
		return NULL;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

static void log_tail(struct rig *r, char *out, size_t cap)
{
	char path[128];
	FILE *f;
	long sz;
	size_t n;

	snprintf(path, sizeof(path), "%s/qemu.log", r->dir);
	out[0] = '\0';
	f = fopen(path, "r");
	if (!f)
		return;
	fseek(f, 0, SEEK_END);
	sz = ftell(f);
	fseek(f, sz > (long)cap - 1 ? sz - (long)cap + 1 : 0, SEEK_SET);
	n = fread(out, 1, cap - 1, f);
	out[n] = '\0';
	fclose(f);
}

/*
 * Is this a PREEMPT_RT kernel?  Decided from the kernel's release string,
 * not the flavor name: the flavor is only the directory the kernel was
 * unpacked into (any name a caller chose), while the release is what the
 * kernel itself reports (`uname -r`) and what Debian names its flavours
 * by: ABI-FLAVOUR, and the PREEMPT_RT builds are exactly the "-rt-ARCH"
 * ones (6.1.0-57-rt-amd64, 6.12.117+deb12-rt-amd64).
 */
static int release_is_rt(const char *rel)
{
	const char *p = rel ? strstr(rel, "-rt-") : NULL;

	/* The last "-"-separated part is the architecture: "-rt-amd64". */
	return p && p[4] && !strchr(p + 4, '-');
}

/* QEMU's state: "running", or how it ended. Only the process that
 * started it can wait for it; a test's forked child asks the kernel
 * whether the pid is still there. */
static const char *qemu_state(struct rig *r, char *buf, size_t cap)
{
	pid_t w;

	if (!r->reaped) {
		w = waitpid(r->qemu, &r->status, WNOHANG);
		if (w == 0)
			return "running";
		if (w < 0)
			return kill(r->qemu, 0) == 0 ? "running" : "gone (it was not ours to wait for)";
		r->reaped = true;
	}
	if (WIFSIGNALED(r->status))
		snprintf(buf, cap, "killed by signal %d", WTERMSIG(r->status));
	else
		snprintf(buf, cap, "exited with status %d (with -no-reboot, a guest reset or panic ends QEMU)",
			 WEXITSTATUS(r->status));
	return buf;
}

static int qemu_alive(struct rig *r)
{
	char buf[128];

	return r->qemu > 0 && !strcmp(qemu_state(r, buf, sizeof(buf)), "running");
}

static bool qemu_alive_cb(void *r)
{
	return qemu_alive(r);
}

/*
 * If text (console output, not NUL-terminated) shows a kernel panic, print
 * the report that led to it, from its first line (an oops, a BUG, a
 * warning, or the panic line itself when nothing came before it) to the
 * panic line and what follows it (its last 4000 bytes): who panicked, in
 * which function, on which stack. Nothing otherwise.
 */
static void print_oops(const char *text, size_t len, const char *who)
{
	static const char *const starts[] = { "BUG:", "Oops", "WARNING:", "general protection", "Kernel panic", NULL };
	const char *at = memmem(text, len, "Kernel panic", 12), *from = at;
	bool cut = false;
	size_t n;

	if (!at)
		return;
	for (const char *const *m = starts; *m; m++) {
		const char *hit = memmem(text, (size_t)(at - text), *m, strlen(*m));

		if (hit && hit < from)
			from = hit;
	}
	/* Back to the start of that line. */
	while (from > text && from[-1] != '\n')
		from--;
	n = (size_t)(text + len - from);
	if (n > 4000) {
		from = text + len - 4000;
		n = 4000;
		cut = true;
	}
	fprintf(stderr, "rig: %s panicked; its report%s:\n", who, cut ? " (its last 4000 bytes)" : "");
	for (size_t i = 0; i < n; i++)
		if (from[i] != '\r')
			fputc(from[i], stderr);
	fputc('\n', stderr);
}

bool rig_panicked(struct rig *r)
{
	return r && r->con.pend && memmem(r->con.pend, r->con.pend_len, "Kernel panic", 12);
}

int rig_exec(struct rig *r, const char *cmd, char **out, double timeout_s)
{
	double t0 = now_s();
	int rc = con_exec(&r->con, cmd, out, timeout_s);

	/* No answer (no shell exits -1): say what the console showed, for a
	 * failure that an assertion on the status alone leaves unexplained. */
	if (rc == -1) {
		const struct rig_console *c = &r->con;
		size_t from = c->pend_len > 300 ? c->pend_len - 300 : 0;
		char tail[301], state[128];
		bool panicked = rig_panicked(r);
		size_t n = 0;

		for (size_t i = from; c->pend && i < c->pend_len; i++)
			if (c->pend[i] != '\r')
				tail[n++] = c->pend[i] == '\n' ? '|' : c->pend[i];
		tail[n] = '\0';
		fprintf(stderr, "rig: no answer to `%.80s` %s %.0f s; QEMU %s; the console since the last answer ends: %s\n",
			cmd, panicked ? "(its kernel panicked) in" : "within", now_s() - t0,
			qemu_state(r, state, sizeof(state)), n ? tail : "(nothing)");
		if (!r->panic_told && panicked) {
			print_oops(c->pend, c->pend_len, "the guest's kernel");
			r->panic_told = true;
		}
	}
	return rc;
}

int rig_exec_bulk(struct rig *r, const char *cmd, char **out, size_t *len, double timeout_s)
{
	char full[8192], path[128], endm[64];
	double end = now_s() + timeout_s;
	struct stat st;
	int status;

	*out = NULL;
	*len = 0;
	snprintf(path, sizeof(path), "%s/bulk.out", r->dir);
	snprintf(endm, sizeof(endm), "@@GPBULK%u@@", r->con.seq + 1);
	if ((size_t)snprintf(full, sizeof(full),
			     "{ %s; echo \"@@GPBULK\"'%u@@'; } > /dev/ttyS1", cmd, r->con.seq + 1) >= sizeof(full))
		return -1;
	status = rig_exec(r, full, NULL, timeout_s);
	if (status < 0)
		return -1;
	/* The UART drains after the command returns; wait for the end mark. */
	for (;;) {
		FILE *f;
		char *buf, *hit;
		size_t n;

		if (stat(path, &st) == 0 && st.st_size > r->bulk_off) {
			size_t sz = (size_t)(st.st_size - r->bulk_off);

			buf = malloc(sz + 1);
			f = fopen(path, "rb");
			if (!buf || !f) {
				free(buf);
				if (f)
					fclose(f);
				return -1;
			}
			fseek(f, r->bulk_off, SEEK_SET);
			n = fread(buf, 1, sz, f);
			fclose(f);
			buf[n] = '\0';
			if ((hit = memmem(buf, n, endm, strlen(endm)))) {
				*hit = '\0';
				r->bulk_off += (off_t)(hit - buf) + (off_t)strlen(endm) + 1;
				*len = (size_t)(hit - buf);
				*out = buf;
				return status;
			}
			free(buf);
		}
		if (now_s() > end || !qemu_alive(r))
			return -1;
		usleep(20000);
	}
}

/* Wait for the guest's init, then make its shell quiet and machine-
 * friendly: 0, -1 (no init in time) or -2 (the shell does not answer). */
static int wait_shell(struct rig *r, double timeout_s)
{
	char *out = con_read_until(&r->con, "guestpatch guest up", timeout_s);

	if (!out)
		return -1;
	free(out);
	/* Let the shell start, then set it up. */
	for (int tries = 0;; tries++) {
		if (con_exec(&r->con, "PS1=''; PS2=''; stty -F /dev/ttyS1 raw -echo 2>/dev/null; true",
			     NULL, 5) == 0)
			return 0;
		if (tries > 10)
			return -2;
	}
}

static struct rig *fail(struct rig *r, char **errmsg, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static struct rig *fail(struct rig *r, char **errmsg, const char *fmt, ...)
{
	char tail[600];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
	va_end(ap);
	if (r && r->dir[0] && n > 0 && (size_t)n < sizeof(errbuf)) {
		log_tail(r, tail, sizeof(tail));
		if (tail[0])
			snprintf(errbuf + n, sizeof(errbuf) - (size_t)n, "; QEMU log: %s", tail);
	}
	if (r)
		rig_kill(r);
	*errmsg = errbuf;
	return NULL;
}

static struct rig *rig_boot_once(const struct rig_opts *o, char **errmsg)
{
	const char *flavor = o && o->flavor ? o->flavor : "amd64";
	int cpus = o && o->cpus > 0 ? o->cpus : 2;
	int mem = o && o->mem_mb > 0 ? o->mem_mb : 256;
	const char *cpu = o && o->cpu ? o->cpu : "max";
	int boot_timeout = o && o->boot_timeout_s > 0 ? o->boot_timeout_s : BOOT_TIMEOUT_S;
	char initrd[512], ram[128], con[128], gdb[128], qmp[128], bulk[128], logp[128];
	char append[1024], memobj[256], smp[16], memarg[16], gdbarg[200], qmparg[200];
	char serial0[300], serial1[200];
	const char *rel;
	struct rig *r;
	double t0 = now_s();
	struct stat st;
	int fd;

	*errmsg = NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return fail(NULL, errmsg, "out of memory");
	con_init(&r->con, -1, qemu_alive_cb, r);
	r->qemu = -1;
	snprintf(r->kernel, sizeof(r->kernel), "%s/kernels/%s/vmlinuz", rig_build_dir(), flavor);
	if (o && o->initrd)
		snprintf(initrd, sizeof(initrd), "%s", o->initrd);
	else
		snprintf(initrd, sizeof(initrd), "%s/guest/initramfs.cpio.gz", rig_build_dir());
	if (stat(r->kernel, &st) || stat(initrd, &st))
		return fail(r, errmsg, "no guest kernel %s or initramfs %s: run `make guest`",
			    r->kernel, initrd);
	snprintf(ram, sizeof(ram), "%s/kernels/%s/release", rig_build_dir(), flavor);
	rel = read_small(ram);
	snprintf(r->release, sizeof(r->release), "%s", rel ? rel : "");
	/* An rt kernel under TCG boots slower, and more so on a loaded
	 * machine (CI ran out of 120 s once). */
	if (!(o && o->boot_timeout_s > 0) && release_is_rt(r->release))
		boot_timeout = 2 * BOOT_TIMEOUT_S;
	snprintf(r->dir, sizeof(r->dir), "/tmp/gp-rig-XXXXXX");
	if (!mkdtemp(r->dir)) {
		r->dir[0] = '\0';
		return fail(r, errmsg, "mkdtemp: %s", strerror(errno));
	}
	snprintf(ram, sizeof(ram), "%s/ram", r->dir);
	snprintf(con, sizeof(con), "%s/con.sock", r->dir);
	snprintf(gdb, sizeof(gdb), "%s/gdb.sock", r->dir);
	snprintf(qmp, sizeof(qmp), "%s/qmp.sock", r->dir);
	snprintf(r->qmp, sizeof(r->qmp), "%s", qmp);
	snprintf(bulk, sizeof(bulk), "%s/bulk.out", r->dir);
	snprintf(logp, sizeof(logp), "%s/qemu.log", r->dir);
	/*
	 * PREEMPT_RT forces every interrupt handler into a thread.  Under QEMU
	 * TCG the 8250 UART's threaded interrupt is counted unhandled often
	 * enough that the spurious-interrupt detector (note_interrupt) says
	 * "irq 4: nobody cared" and disables the line, and the shell on ttyS0
	 * stalls.  `noirqdebug` turns that detector off and nothing else.
	 * Other kernels boot with the command line they always had.
	 */
	snprintf(append, sizeof(append), "console=ttyS0 panic=-1 quiet%s%s%s",
		 release_is_rt(r->release) ? " noirqdebug" : "",
		 o && o->append ? " " : "", o && o->append ? o->append : "");
	snprintf(memobj, sizeof(memobj), "memory-backend-file,id=mem,size=%dM,mem-path=%s,share=on",
		 mem, ram);
	snprintf(smp, sizeof(smp), "%d", cpus);
	snprintf(memarg, sizeof(memarg), "%d", mem);
	snprintf(gdbarg, sizeof(gdbarg), "unix:%s,server=on,wait=off", gdb);
	snprintf(qmparg, sizeof(qmparg), "unix:%s,server=on,wait=off", qmp);
	/* The console also goes to a file, so a guest that dies leaves its
	 * last words (rig_describe()). */
	snprintf(serial0, sizeof(serial0), "socket,id=con,path=%s,server=on,wait=off,logfile=%s/console.log",
		 con, r->dir);
	snprintf(serial1, sizeof(serial1), "file:%s", bulk);
	snprintf(r->target, sizeof(r->target), "qemu:gdb=%s,mem=%s,qmp=%s", gdb, ram, qmp);
	snprintf(r->target_nomem, sizeof(r->target_nomem), "qemu:gdb=%s", gdb);

	r->qemu = fork();
	if (r->qemu < 0)
		return fail(r, errmsg, "fork: %s", strerror(errno));
	if (r->qemu == 0) {
		const char *argv[48] = {
			"qemu-system-x86_64", "-M", "q35", "-accel", "tcg", "-cpu", cpu,
			"-smp", smp, "-m", memarg, "-nographic",
			"-object", memobj, "-machine", "memory-backend=mem",
			"-kernel", r->kernel, "-initrd", initrd, "-append", append,
			"-chardev", serial0, "-serial", "chardev:con", "-serial", serial1,
			"-gdb", gdbarg, "-qmp", qmparg, "-monitor", "none",
			"-display", "none", "-nic", "none",
		};
		int argc = 0;

		while (argv[argc])
			argc++;
		if (!o || !o->reboot)
			argv[argc++] = "-no-reboot";
		if (o && o->bios) {
			argv[argc++] = "-bios";
			argv[argc++] = o->bios;
		}
		argv[argc] = NULL;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		fd = open("/dev/null", O_RDONLY);
		if (fd >= 0)
			dup2(fd, 0);
		execvp(argv[0], (char *const *)argv);
		fprintf(stderr, "exec qemu-system-x86_64: %s\n", strerror(errno));
		_exit(127);
	}
	track(r);
	/* The console socket appears once QEMU is up. */
	while ((r->con.fd = con_connect_unix(con)) < 0) {
		if (!qemu_alive(r))
			return fail(r, errmsg, "QEMU exited during start-up");
		if (now_s() - t0 > 30)
			return fail(r, errmsg, "QEMU's console socket did not appear");
		usleep(20000);
	}
	switch (wait_shell(r, boot_timeout)) {
	case -1:
		return fail(r, errmsg, "the guest did not boot to its init within %d s (%s)",
			    boot_timeout, rig_describe(r));
	case -2:
		return fail(r, errmsg, "the guest shell does not answer (%s)", rig_describe(r));
	}
	r->boot_s = now_s() - t0;
	return r;
}

/*
 * A guest that panics while it boots, before any test has touched it, is
 * booted again (twice at most), saying so: 6.12 kernels under TCG with two
 * vCPUs on a loaded machine have panicked a few times in early boot
 * (sched_clock_cpu in an interrupt), with nothing of guestpatch involved.
 * Any other failure, and a third panic, fail the boot.
 */
struct rig *rig_boot(const struct rig_opts *o, char **errmsg)
{
	for (int attempt = 1;; attempt++) {
		struct rig *r = rig_boot_once(o, errmsg);
		const char *at;

		if (r || attempt == 3 || !*errmsg || !(at = strstr(*errmsg, "Kernel panic")))
			return r;
		fprintf(stderr, "rig: the %s guest panicked while booting, before any test touched it (%.80s); booting it again (%d of 3)\n",
			o && o->flavor ? o->flavor : "amd64", at, attempt + 1);
		/* Its oops, for whoever looks into the cause (not known yet). */
		print_oops(*errmsg, strlen(*errmsg), "it");
	}
}

int rig_wait_boot(struct rig *r, double timeout_s)
{
	return wait_shell(r, timeout_s) ? -1 : 0;
}

int rig_qmp(struct rig *r, const char *cmd, char **reply)
{
	static const char caps[] = "{\"execute\":\"qmp_capabilities\"}\n";
	char buf[8192], line[1024];
	size_t len = 0;
	double end = now_s() + 10;
	int fd, step = 0, ret = -1;

	if (reply)
		*reply = NULL;
	if ((size_t)snprintf(line, sizeof(line), "%s\n", cmd) >= sizeof(line) ||
	    (fd = con_connect_unix(r->qmp)) < 0)
		return -1;
	/* Greeting, then capabilities' answer, then the command's: each
	 * ends a line with "return" or "error"; events come in between. */
	while (step < 3 && now_s() < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char *nl;
		ssize_t n;

		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		while ((nl = strchr(buf, '\n'))) {
			*nl = '\0';
			if (step == 0 && strstr(buf, "\"QMP\"")) {
				step = write(fd, caps, sizeof(caps) - 1) == (ssize_t)sizeof(caps) - 1 ? 1 : 3;
			} else if (step == 1 && strstr(buf, "\"return\"")) {
				step = write(fd, line, strlen(line)) == (ssize_t)strlen(line) ? 2 : 3;
			} else if (step == 2 && (strstr(buf, "\"return\"") || strstr(buf, "\"error\""))) {
				ret = strstr(buf, "\"return\"") ? 0 : -1;
				if (reply)
					*reply = strdup(buf);
				step = 3;
			}
			len -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, len + 1);
		}
		if (len == sizeof(buf) - 1)
			break;
	}
	close(fd);
	return ret;
}

void rig_kill(struct rig *r)
{
	char cmd[128];
	int st;

	if (!r)
		return;
	untrack(r);
	con_close(&r->con);
	if (r->qemu > 0 && r->boot_s > 0 && !qemu_alive(r))
		/* It ended before its tests did: say so where it shows. */
		fprintf(stderr, "rig: QEMU of the %s guest had ended before its tests were done: %s\n",
			r->release, rig_describe(r));
	if (r->qemu > 0 && !r->reaped) {
		kill(r->qemu, SIGTERM);
		for (int i = 0; i < 100 && waitpid(r->qemu, &st, WNOHANG) == 0; i++)
			usleep(10000);
		kill(r->qemu, SIGKILL);
		waitpid(r->qemu, &st, 0);
	}
	if (r->dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", r->dir);
		if (system(cmd))
			fprintf(stderr, "rig: cannot remove %s\n", r->dir);
	}
	free(r);
}

const char *rig_target(struct rig *r) { return r->target; }
const char *rig_target_nomem(struct rig *r) { return r->target_nomem; }
const char *rig_kernel_release(struct rig *r) { return r->release; }
const char *rig_kernel_path(struct rig *r) { return r->kernel; }
double rig_boot_seconds(struct rig *r) { return r->boot_s; }

char *rig_slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return strdup("");
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	if (buf) {
		size_t got = fread(buf, 1, (size_t)n, f);

		buf[got] = '\0';
	}
	fclose(f);
	return buf;
}

int rig_run_tool(struct rig *r, const char *args, char **out, char **err)
{
	char cmd[4096], o[128], e[128];
	int st;

	snprintf(o, sizeof(o), "%s/tool.out", r->dir);
	snprintf(e, sizeof(e), "%s/tool.err", r->dir);
	if ((size_t)snprintf(cmd, sizeof(cmd), "%s/vmm %s >%s 2>%s", rig_build_dir(), args, o, e) >=
	    sizeof(cmd))
		return -1;
	st = system(cmd);
	if (out)
		*out = rig_slurp(o);
	if (err)
		*err = rig_slurp(e);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

const char *rig_describe(struct rig *r)
{
	static char buf[8192];
	char tail[1500], con[3000] = "", path[128], state[128];
	FILE *f;

	log_tail(r, tail, sizeof(tail));
	snprintf(path, sizeof(path), "%s/console.log", r->dir);
	if ((f = fopen(path, "r"))) {
		long sz;
		size_t n;

		fseek(f, 0, SEEK_END);
		sz = ftell(f);
		fseek(f, sz > (long)sizeof(con) - 1 ? sz - (long)sizeof(con) + 1 : 0, SEEK_SET);
		n = fread(con, 1, sizeof(con) - 1, f);
		con[n] = '\0';
		fclose(f);
	}
	snprintf(buf, sizeof(buf), "QEMU %s; its log ends: %s; the console ends: %s",
		 qemu_state(r, state, sizeof(state)), tail, con);
	return buf;
}
