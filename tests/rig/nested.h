/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * nested.h - the nested-KVM rig: our own VMM booting a real Linux guest.
 *
 * /dev/kvm on these machines cannot boot Linux (../shared/DESIGN.md), so
 * an outer Debian guest runs under QEMU TCG with -cpu EPYC (SVM and nested
 * paging emulated), loads kvm and kvm-amd from its own kernel package, and
 * inside it `vmm run` boots the inner guest: the same Debian kernel with
 * the busybox initramfs. The outer initramfs ($GP_BUILD/guest/nested.cpio.gz,
 * scripts/mknested.sh) carries the modules, our vmm binary with its
 * libraries, the inner kernel and initramfs, and the example patch.
 *
 * In the outer guest: the inner VMM's control socket is NESTED_SOCK, its
 * console input a FIFO (/tmp/in), its console output /tmp/inner.out, its
 * stderr /tmp/inner.err. vmm commands against the inner guest run in the
 * outer guest (nested_outer), commands inside the inner guest through its
 * console (nested_inner).
 */
#ifndef GP_NESTED_H
#define GP_NESTED_H

#include "rig.h"

#define NESTED_SOCK "/tmp/inner.sock"
#define NESTED_TARGET "vmm:" NESTED_SOCK
#define NESTED_APPEND "console=ttyS0 reboot=k panic=-1 quiet"
/* Outer shell: wait up to 30 s for the inner VMM to end, print "rc=N". */
#define NESTED_WAIT_RC                                                              \
	"i=0; while ! [ -e /tmp/inner.rc ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; " \
	"echo rc=$(cat /tmp/inner.rc)"

struct nested_opts {
	int cpus;		/* inner vCPUs, default 2 */
	int mem_mb;		/* inner RAM, default 256 */
	bool pause_log;		/* GP_VMM_PAUSE_LOG=1 for the inner VMM */
	const char *kernel;	/* in the outer guest; default /nested/vmlinuz
				 * (/nested/vmlinux boots through PVH) */
};

struct nested;

/* Boot the outer guest, load KVM, boot the inner guest to its shell.
 * NULL and *errmsg (static) on failure. */
struct nested *nested_boot(const struct nested_opts *o, char **errmsg);
/* Boot another inner guest in the same outer one (the previous must have
 * been stopped with nested_stop_inner). */
int nested_start_inner(struct nested *n, const struct nested_opts *o, char **errmsg);
/* Stop the inner VMM (SIGTERM) and wait for it; returns its exit status,
 * or -1. */
int nested_stop_inner(struct nested *n);
void nested_kill(struct nested *n);

/* A shell command in the outer guest (where vmm commands run). */
int nested_outer(struct nested *n, const char *cmd, char **out, double timeout_s);
/* A shell command in the inner guest, through its serial console. */
int nested_inner(struct nested *n, const char *cmd, char **out, double timeout_s);

/* Seconds from `vmm run` to the inner guest's init printing its banner. */
double nested_inner_boot_seconds(struct nested *n);
double nested_outer_boot_seconds(struct nested *n);

#endif
