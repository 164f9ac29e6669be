// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tgt_guard.c - the guardian: a process that outlives the tool and never
 * leaves the guest paused.
 *
 * QEMU's gdbstub does nothing when its client goes away: a tool killed
 * (SIGKILL, the OOM killer) while the guest is paused would leave it
 * paused for good.  So right after connecting, the backend forks a
 * guardian.  It shares the connection (the same socket), a pipe whose
 * only write end the tool holds, and one shared page in which the tool
 * says whether the guest is running, being paused or paused.  The
 * guardian sleeps on the pipe.  When the tool exits the pipe closes:
 *
 *  - guest running: nothing to do, the guardian exits;
 *  - guest paused (or being paused): the guardian takes the connection
 *    over (ends any packet the tool left half-written, drains what the
 *    stub sent, makes sure the guest is stopped), runs the recovery hook
 *    the upper layers registered (the journal roll-back of
 *    patch/lp_journal.c: the interrupted pause's writes are undone), lets
 *    the guest run, reports on stderr and exits.  The hook sees the boot
 *    id the tool set after the fork (tgt_set_boot_id, through the shared
 *    page), so it never rolls back a journal of an earlier boot.
 *
 * On a normal close the tool tells the guardian to exit first.  The
 * guardian ignores SIGINT, SIGTERM and SIGHUP and leaves the terminal's
 * process group, so a Ctrl-C meant for the tool does not reach it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "target.h"

struct tgt_guard {
	volatile struct tgt_guard_shared *sh;	/* shared with the guardian */
	int pipe_wr;				/* the tool's end; EOF = tool gone */
	pid_t pid;
};

void tgt_guard_state(struct tgt *t, enum tgt_guard_state st)
{
	if (t->guard)
		t->guard->sh->state = st;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0 && write(STDERR_FILENO, buf, (size_t)n > sizeof(buf) ? sizeof(buf) : (size_t)n) < 0)
		return;
}

/* The guardian itself (never returns). */
static void guard_main(struct tgt *t, volatile struct tgt_guard_shared *sh, int pipe_rd,
		       pid_t tool)
{
	struct pollfd p = { .fd = pipe_rd, .events = POLLIN };
	char c;
	struct gp_error *err;

	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	setpgid(0, 0);
	tgt_fault_set(-1, false);	/* the kill tests aim at the tool, not at us */
	for (;;) {
		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			_exit(1);
		if (p.revents) {
			ssize_t n = read(pipe_rd, &c, 1);

			if (n > 0 && c == 'x')
				_exit(0);	/* a normal close */
			if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
				break;		/* the tool is gone */
		}
	}
	if (sh->state == TGT_GUARD_RUNNING)
		_exit(0);
	say("guestpatch: vmm (pid %d) ended while the guest was paused; its guardian takes over\n",
	    (int)tool);
	t->paused = true;
	t->pause_depth = 1;
	t->boot_id = sh->boot_id;	/* learnt by the tool after the fork */
	if (t->ops->reclaim && (err = t->ops->reclaim(t))) {
		say("guestpatch: guardian: %s\n", err->msg);
		gp_error_destroy(err);
	}
	if (tgt_get_recover()) {
		err = tgt_get_recover()(t);
		if (err) {
			say("guestpatch: guardian: recovery failed: %s (the next vmm command retries it)\n",
			    err->msg);
			gp_error_destroy(err);
		}
	}
	err = t->ops->resume ? t->ops->resume(t) : NULL;
	if (err) {
		say("guestpatch: guardian: could not resume the guest: %s\n", err->msg);
		gp_error_destroy(err);
		_exit(1);
	}
	say("guestpatch: guardian: the guest runs again\n");
	_exit(0);
}

struct gp_error *tgt_guard_start(struct tgt *t, enum tgt_guard_state st)
{
	struct tgt_guard *g;
	int fds[2];
	pid_t pid;

	if (getenv("GP_NO_GUARDIAN"))
		return NULL;	/* tests of the unguarded behaviour */
	g = calloc(1, sizeof(*g));
	if (!g)
		return &gp_error_nomem;
	g->sh = mmap(NULL, sizeof(*g->sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1,
		     0);
	if (g->sh == MAP_FAILED) {
		free(g);
		return gp_error_os(errno, "guardian: shared page");
	}
	g->sh->state = st;
	g->sh->boot_id = t->boot_id;
	if (pipe2(fds, O_CLOEXEC) < 0) {
		munmap((void *)g->sh, sizeof(*g->sh));
		free(g);
		return gp_error_os(errno, "guardian: pipe");
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		int e = errno;

		close(fds[0]);
		close(fds[1]);
		munmap((void *)g->sh, sizeof(*g->sh));
		free(g);
		return gp_error_os(e, "guardian: fork");
	}
	if (pid == 0) {
		close(fds[1]);
		guard_main(t, g->sh, fds[0], getppid());
	}
	close(fds[0]);
	g->pipe_wr = fds[1];
	g->pid = pid;
	t->guard = g;
	return NULL;
}

void tgt_set_boot_id(struct tgt *t, uint64_t id)
{
	t->boot_id = id;
	if (t->guard)
		t->guard->sh->boot_id = id;
}

volatile struct tgt_guard_shared *tgt_guard_shared(struct tgt *t)
{
	return t->guard ? t->guard->sh : NULL;
}

void tgt_guard_stop(struct tgt *t)
{
	struct tgt_guard *g = t->guard;

	if (!g)
		return;
	if (write(g->pipe_wr, "x", 1) < 0) {
		/* it is gone already */
	}
	close(g->pipe_wr);
	while (waitpid(g->pid, NULL, 0) < 0 && errno == EINTR)
		;
	munmap((void *)g->sh, sizeof(*g->sh));
	free(g);
	t->guard = NULL;
}
