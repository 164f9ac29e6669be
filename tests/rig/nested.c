// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nested.h"

#define INNER_BOOT_TIMEOUT_S 300

struct nested {
	struct rig *outer;
	unsigned seq;
	double outer_boot_s, inner_boot_s;
	bool outer_lost; /* the outer guest stopped answering (or panicked) */
};

static char errbuf[2048];

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Boot the outer guest and load KVM in it (n->outer). */
static int boot_outer(struct nested *n, char **errmsg)
{
	struct rig_opts ro = { .flavor = "amd64", .cpus = 2, .mem_mb = 2048, .cpu = "EPYC",
			       .boot_timeout_s = 240 };
	char initrd[512], *out = NULL;
	double t0 = now_s();

	snprintf(initrd, sizeof(initrd), "%s/guest/nested.cpio.gz", rig_build_dir());
	ro.initrd = initrd;
	n->outer = rig_boot(&ro, errmsg);
	if (!n->outer)
		return -1;
	n->outer_boot_s = now_s() - t0;
	if (rig_exec(n->outer,
		     "cd /nested && for m in irqbypass ccp kvm kvm-amd; do insmod $m.ko || break; done; cd /; "
		     "test -c /dev/kvm",
		     &out, 120) != 0) {
		snprintf(errbuf, sizeof(errbuf), "KVM did not come up in the outer guest: %s",
			 out ? out : "");
		free(out);
		*errmsg = errbuf;
		return -1;
	}
	free(out);
	return 0;
}

int nested_outer(struct nested *n, const char *cmd, char **out, double timeout_s)
{
	return rig_exec(n->outer, cmd, out, timeout_s);
}

/* cmd inside single quotes for the outer shell. */
static bool quote(char *dst, size_t cap, const char *src)
{
	size_t o = 0;

	if (cap < 3)
		return false;
	dst[o++] = '\'';
	for (; *src; src++) {
		const char *piece = *src == '\'' ? "'\\''" : NULL;
		size_t len = piece ? strlen(piece) : 1;

		if (o + len + 2 >= cap)
			return false;
		if (piece)
			memcpy(dst + o, piece, len);
		else
			dst[o] = *src;
		o += len;
	}
	dst[o++] = '\'';
	dst[o] = '\0';
	return true;
}

int nested_inner(struct nested *n, const char *cmd, char **out, double timeout_s)
{
	char inner[4096], q[4096], outer[8192], marker[32], *text = NULL, *hit;
	unsigned seq = ++n->seq;
	int polls = (int)(timeout_s * 10) + 1, status;

	if (out)
		*out = NULL;
	/* The marker is split in what is typed (the inner shell has echo off
	 * anyway) so only the command's completion prints it whole. */
	snprintf(marker, sizeof(marker), "@@IN%u@@", seq);
	if ((size_t)snprintf(inner, sizeof(inner), "%s\necho \"@@IN\"'%u@@'\"$?@@\"", cmd, seq) >=
		    sizeof(inner) ||
	    !quote(q, sizeof(q), inner))
		return -1;
	if ((size_t)snprintf(outer, sizeof(outer),
			     "off=$(wc -c < /tmp/inner.out); printf '%%s\\n' %s > /tmp/in; i=0; "
			     "while ! tail -c +$((off+1)) /tmp/inner.out | grep -q '%s' && [ $i -lt %d ]; do "
			     "sleep 0.1; i=$((i+1)); done; tail -c +$((off+1)) /tmp/inner.out",
			     q, marker, polls) >= sizeof(outer))
		return -1;
	if (rig_exec(n->outer, outer, &text, timeout_s + 30) != 0 || !text) {
		free(text);
		return -1;
	}
	hit = strstr(text, marker);
	if (!hit) {
		free(text);
		return -1;
	}
	status = atoi(hit + strlen(marker));
	*hit = '\0';
	if (out)
		*out = text;
	else
		free(text);
	return status;
}

static int start_inner_once(struct nested *n, const struct nested_opts *o, char **errmsg)
{
	int cpus = o && o->cpus > 0 ? o->cpus : 2, mem = o && o->mem_mb > 0 ? o->mem_mb : 256;
	char cmd[1024], *out = NULL;
	double t0;
	int st;

	*errmsg = NULL;
	n->outer_lost = false;
	snprintf(cmd, sizeof(cmd),
		 "rm -f /tmp/in /tmp/inner.out /tmp/inner.err /tmp/inner.rc /tmp/inner.pid; mkfifo /tmp/in; "
		 "exec 3<>/tmp/in; "
		 "( %s/nested/vmm run --kernel %s --initrd /nested/initramfs.cpio.gz "
		 "--mem %dM --cpus %d --gdb %s --append '%s' </tmp/in & echo $! > /tmp/inner.pid; wait $!; "
		 "echo $? > /tmp/inner.rc ) >/tmp/inner.out 2>/tmp/inner.err & "
		 "while ! [ -s /tmp/inner.pid ]; do sleep 0.1; done",
		 o && o->pause_log ? "GP_VMM_PAUSE_LOG=1 " : "", o && o->kernel ? o->kernel : "/nested/vmlinuz",
		 mem, cpus, NESTED_SOCK, NESTED_APPEND);
	t0 = now_s();
	if (rig_exec(n->outer, cmd, NULL, 30) != 0) {
		*errmsg = "starting vmm run in the outer guest failed";
		return -1;
	}
	/* Wait in rounds of up to 5 s, each answered (0: up, 1: booting, 2:
	 * vmm ended): an outer guest that stops answering is seen in 30 s,
	 * not at the end of the whole boot timeout. */
	for (st = 1; st == 1 && now_s() - t0 < INNER_BOOT_TIMEOUT_S;)
		st = rig_exec(n->outer,
			      "i=0; while ! grep -q 'guestpatch guest up' /tmp/inner.out && [ $i -lt 50 ] && "
			      "kill -0 $(cat /tmp/inner.pid) 2>/dev/null; do sleep 0.1; i=$((i+1)); done; "
			      "if grep -q 'guestpatch guest up' /tmp/inner.out; then true; "
			      "elif kill -0 $(cat /tmp/inner.pid) 2>/dev/null; then (exit 1); else (exit 2); fi",
			      NULL, 30);
	if (st == -1) {
		n->outer_lost = true;
		*errmsg = rig_panicked(n->outer) ? "the outer guest's kernel panicked while the inner guest booted"
						 : "the outer guest stopped answering while the inner guest booted";
		return -1;
	}
	if (st != 0) {
		/* (An inner panic's last line, as it is, would end the outer
		 * console's wait as the outer kernel's own would: console.h.) */
		rig_exec(n->outer,
			 "tail -c 1500 /tmp/inner.out | sed 's/---\\[ end Kernel panic/--- end Kernel panic/'; echo; "
			 "echo '-- vmm stderr:'; cat /tmp/inner.err",
			 &out, 30);
		snprintf(errbuf, sizeof(errbuf), "the inner guest did not reach its init in %d s%s: %s",
			 INNER_BOOT_TIMEOUT_S, st == 2 ? " (vmm run ended)" : "", out ? out : "");
		free(out);
		*errmsg = errbuf;
		return -1;
	}
	n->inner_boot_s = now_s() - t0;
	/* As rig_boot: a quiet shell. Retry until the shell reads input.
	 * (An asynchronous command's stdin is /dev/null unless redirected:
	 * hence the explicit </tmp/in on vmm run itself.) */
	for (int tries = 0;; tries++) {
		if (nested_inner(n, "PS1=''; PS2=''; true", NULL, 5) == 0)
			break;
		if (tries > 10) {
			*errmsg = "the inner guest's shell does not answer";
			return -1;
		}
	}
	return 0;
}

/*
 * An inner guest that resets (triple fault) before its init, with
 * nothing of guestpatch's patching involved yet, is started again (twice
 * at most), saying so: CI saw one do that under load, its console empty.
 * If the outer guest's kernel panics or stops answering meanwhile (CI
 * saw "corrupted stack end detected inside scheduler" once, in the outer
 * Debian kernel under TCG's emulated SVM, while our VMM started a PVH
 * guest; a run here saw the outer guest fall silent once: a user program
 * such as our VMM cannot do either to a sound kernel on a sound CPU), a
 * panic report is printed and the outer guest is booted again, once.
 * Any other failure, a third reset and a second lost outer guest fail.
 */
int nested_start_inner(struct nested *n, const struct nested_opts *o, char **errmsg)
{
	bool outer_again = false;

	for (int attempt = 1;; attempt++) {
		int rc = start_inner_once(n, o, errmsg);

		if (!rc || attempt == 3 || !*errmsg)
			return rc;
		if (n->outer_lost && !outer_again) {
			/* See the comment above: the outer kernel, not ours. */
			fprintf(stderr, "nested: %s%s; booting the outer guest again, once\n", *errmsg,
				rig_panicked(n->outer) ? " (its report above)" : "");
			outer_again = true;
			rig_kill(n->outer);
			n->outer = NULL;
			if (boot_outer(n, errmsg))
				return -1;
			continue;
		}
		if (!strstr(*errmsg, "triple-faulted"))
			return rc;
		fprintf(stderr, "nested: the inner guest reset before its init; starting it again (%d of 3); it said: %s\n",
			attempt + 1, *errmsg);
	}
}

int nested_stop_inner(struct nested *n)
{
	char *out = NULL;
	int st = -1;

	if (rig_exec(n->outer, "kill $(cat /tmp/inner.pid); " NESTED_WAIT_RC "; exec 3>&-", &out, 60) == 0 &&
	    out) {
		char *p = strstr(out, "rc=");

		if (p)
			st = atoi(p + 3);
	}
	free(out);
	return st;
}

struct nested *nested_boot(const struct nested_opts *o, char **errmsg)
{
	struct nested *n = calloc(1, sizeof(*n));

	*errmsg = NULL;
	if (!n) {
		*errmsg = "out of memory";
		return NULL;
	}
	if (boot_outer(n, errmsg) || nested_start_inner(n, o, errmsg)) {
		nested_kill(n);
		return NULL;
	}
	return n;
}

void nested_kill(struct nested *n)
{
	if (!n)
		return;
	rig_kill(n->outer);
	free(n);
}

double nested_inner_boot_seconds(struct nested *n) { return n->inner_boot_s; }
double nested_outer_boot_seconds(struct nested *n) { return n->outer_boot_s; }
