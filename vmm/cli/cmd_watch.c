// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cmd_watch.c - `vmm watch [--uri URI]`: reconcile libvirt guests on the
 * events no hook sees.
 *
 * A guest reboot (its own, or `virsh reset`) runs no libvirt hook, and
 * the new kernel boots with nothing applied; libvirt only sends a REBOOT
 * event.  So a long-running watcher listens to the domain events of one
 * libvirt (reboot and lifecycle "started": boot, restore, incoming
 * migration) and runs `vmm reconcile libvirt:NAME,uri=URI` for each
 * opted-in domain concerned (one with a guestpatch policy), one at a time
 * per domain: an event during a reconcile runs another after it.  The
 * connection is reopened when libvirtd restarts.  One line per decision
 * on stdout (the journal, under the systemd unit in configs/libvirt).
 * SIGINT/SIGTERM end it.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "lvconn.h"
#include "lvlib.h"
#include "policy.h"

#define MAX_DOMS 256

struct wdom {
	char name[256];
	pid_t pid;		/* its reconcile, or 0 */
	bool again;		/* an event came while it ran */
};

static struct {
	const char *uri;
	const char *self;
	struct wdom d[MAX_DOMS];
	bool closed;
} w;

static void wsay(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void wsay(const char *fmt, ...)
{
	char when[32];
	time_t now = time(NULL);
	struct tm tm;
	va_list ap;

	localtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	printf("%s watch: ", when);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void quiet(void *ud, virErrorPtr e)
{
	(void)ud;
	(void)e;
}

static void start(struct wdom *d)
{
	char spec[400];
	pid_t pid;

	snprintf(spec, sizeof(spec), "libvirt:%s,uri=%s", d->name, w.uri);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		execl(w.self, w.self, "reconcile", spec, (char *)NULL);
		fprintf(stderr, "vmm watch: exec %s: %s\n", w.self, strerror(errno));
		_exit(127);
	}
	if (pid < 0) {
		wsay("%s: cannot start a reconcile: %s", d->name, strerror(errno));
		return;
	}
	d->pid = pid;
	d->again = false;
	wsay("%s: reconcile started (pid %d)", d->name, (int)pid);
}

static void concerned(virDomainPtr dom, const char *why)
{
	const char *name = lvlib.virDomainGetName(dom);
	char *xml;
	struct wdom *d = NULL, *free_slot = NULL;

	if (!name)
		return;
	xml = lvlib.virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, GP_POLICY_NS,
				   VIR_DOMAIN_AFFECT_LIVE);
	if (!xml) {
		wsay("%s %s: no guestpatch policy, left alone", name, why);
		return;
	}
	free(xml);
	for (int i = 0; i < MAX_DOMS; i++) {
		if (!strcmp(w.d[i].name, name))
			d = &w.d[i];
		else if (!free_slot && !w.d[i].name[0])
			free_slot = &w.d[i];
	}
	if (!d && !(d = free_slot)) {
		wsay("%s %s: more than %d domains tracked, not reconciled", name, why, MAX_DOMS);
		return;
	}
	snprintf(d->name, sizeof(d->name), "%s", name);
	wsay("%s %s", name, why);
	if (d->pid) {
		d->again = true;
		wsay("%s: a reconcile runs (pid %d): another one after it", name, (int)d->pid);
		return;
	}
	start(d);
}

static int on_reboot(virConnectPtr conn, virDomainPtr dom, void *opaque)
{
	(void)conn;
	(void)opaque;
	concerned(dom, "rebooted");
	return 0;
}

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
	static const char *const started[] = { "booted", "migrated in", "restored",
					       "started from a snapshot", "woken up" };

	(void)conn;
	(void)opaque;
	if (event == VIR_DOMAIN_EVENT_STARTED) {
		char why[64];

		snprintf(why, sizeof(why), "started (%s)",
			 detail >= 0 && detail < 5 ? started[detail] : "?");
		concerned(dom, why);
	}
	return 0;
}

static void on_close(virConnectPtr conn, int reason, void *opaque)
{
	(void)conn;
	(void)reason;
	(void)opaque;
	w.closed = true;
}

static void reap(void)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (int i = 0; i < MAX_DOMS; i++) {
			struct wdom *d = &w.d[i];

			if (d->pid != pid)
				continue;
			d->pid = 0;
			wsay("%s: reconcile (pid %d) %s %d", d->name, (int)pid,
			     WIFEXITED(status) ? "exited" : "killed by signal",
			     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
			if (d->again)
				start(d);
		}
	}
}

/* A timer that wakes the loop, so children are reaped and signals seen. */
static void tick(int timer, void *opaque)
{
	(void)timer;
	(void)opaque;
}

int cmd_watch(struct cli *c, int argc, char **argv)
{
	static char self[4096];
	struct gp_error *err;
	ssize_t n;

	(void)argv;
	if (argc) {
		fprintf(stderr, "vmm: watch: usage: vmm watch [--uri URI]\n");
		return 2;
	}
	w.uri = c->uri ? c->uri : LV_DEFAULT_URI;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0) {
		fprintf(stderr, "vmm: watch: cannot find its own program: %s\n", strerror(errno));
		return 1;
	}
	self[n] = '\0';
	w.self = self;
	if ((err = lvlib_load()))
		return cli_fail(err, "watch");
	lvlib.virSetErrorFunc(NULL, quiet);
	if (lvlib.virEventRegisterDefaultImpl() < 0) {
		fprintf(stderr, "vmm: watch: libvirt event loop: %s\n", lvlib.virGetLastErrorMessage());
		return 1;
	}
	lvlib.virEventAddTimeout(500, tick, NULL, NULL);
	while (!tgt_interrupted()) {
		virConnectPtr conn = lvlib.virConnectOpen(w.uri);
		int id_reboot, id_life;

		if (!conn) {
			wsay("cannot connect to %s (%s); retrying in 5 s", w.uri, lvlib.virGetLastErrorMessage());
			for (int i = 0; i < 50 && !tgt_interrupted(); i++) {
				usleep(100000);
				reap();
			}
			continue;
		}
		w.closed = false;
		lvlib.virConnectRegisterCloseCallback(conn, on_close, NULL, NULL);
		id_reboot = lvlib.virConnectDomainEventRegisterAny(conn, NULL, VIR_DOMAIN_EVENT_ID_REBOOT,
							     VIR_DOMAIN_EVENT_CALLBACK(on_reboot), NULL, NULL);
		id_life = lvlib.virConnectDomainEventRegisterAny(conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
							   VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), NULL, NULL);
		if (id_reboot < 0 || id_life < 0) {
			wsay("cannot listen to %s's events: %s", w.uri, lvlib.virGetLastErrorMessage());
			lvlib.virConnectClose(conn);
			return 1;
		}
		wsay("listening to %s", w.uri);
		while (!w.closed && !tgt_interrupted()) {
			if (lvlib.virEventRunDefaultImpl() < 0)
				break;
			reap();
		}
		lvlib.virConnectDomainEventDeregisterAny(conn, id_reboot);
		lvlib.virConnectDomainEventDeregisterAny(conn, id_life);
		lvlib.virConnectUnregisterCloseCallback(conn, on_close);
		lvlib.virConnectClose(conn);
		if (w.closed)
			wsay("the connection to %s closed; reconnecting", w.uri);
	}
	wsay("stopped");
	return 0;
}
