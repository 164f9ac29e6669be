/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rig.h - real guests for tests, the demo and benchmarks: a Debian kernel
 * with a busybox initramfs under QEMU TCG, guest RAM in a shared file, the
 * gdbstub and QMP on private unix sockets, and a root shell on the serial
 * console that the test types into.
 *
 * Pattern for Check tests (the runner forks each test): boot in an
 * unchecked fixture, which runs in the runner process, share the rig across
 * the TCase's tests, kill it in the fixture's teardown:
 *
 *	static struct rig *r;
 *	static void up(void) { r = rig_boot(&(struct rig_opts){ 0 }, &msg); ... }
 *	static void down(void) { rig_kill(r); }
 *	tcase_add_unchecked_fixture(tc, up, down);
 *
 * Background jobs: end them with `kill %N; wait` in one command. A job that
 * dies while the guest's shell is reading the next command line can make
 * busybox's line editor drop that line (SIGCHLD mid-read), and the command
 * then times out.
 *
 * QEMU is always reaped: PR_SET_PDEATHSIG in the child, rig_kill(), and an
 * atexit/SIGTERM/SIGINT handler that kills every rig still alive.
 */
#ifndef GP_RIG_H
#define GP_RIG_H

#include <stdbool.h>
#include <stddef.h>

struct rig_opts {
	const char *flavor;	/* a dir of $GP_BUILD/kernels: "amd64" (default), "cloud-amd64",
				 * "rt-amd64", "6.12-amd64", ... (rt kernels get noirqdebug) */
	int cpus;		/* default 2 */
	int mem_mb;		/* default 256 */
	const char *append;	/* extra kernel command line */
	const char *cpu;	/* QEMU -cpu model; default "max" (LA57: 5-level paging) */
	const char *initrd;	/* default $GP_BUILD/guest/initramfs.cpio.gz */
	int boot_timeout_s;	/* default 120 */
	/* QEMU -bios (a file name QEMU finds in its data directory, or a
	 * path); NULL: its default, SeaBIOS, which clears 0x7000-0x90000 at
	 * every boot (startBoot(), "required by PMM spec").  "qboot.rom"
	 * (qemu-system-data) clears nothing: RAM survives a reboot, as under
	 * OVMF or a kexec. */
	const char *bios;
	bool reboot;		/* a guest reset reboots (else QEMU exits: -no-reboot) */
};

struct rig;

/* Boot and wait for the shell. NULL and *errmsg (static) on failure. */
struct rig *rig_boot(const struct rig_opts *o, char **errmsg);
void rig_kill(struct rig *r);

/* After a reset (rig_qmp "system_reset", or the guest's own reboot, with
 * rig_opts.reboot): wait until the guest's init is up again and its shell
 * answers.  0, or -1 on timeout or a dead guest. */
int rig_wait_boot(struct rig *r, double timeout_s);

/* One QMP command, e.g. "{\"execute\":\"system_reset\"}", on the rig's
 * QMP socket (a connection of its own: no vmm may hold QMP meanwhile).
 * 0 when QEMU answers "return"; -1 on an error answer, a timeout or a
 * dead QEMU.  *reply (malloc'd, may be NULL) gets the answer line. */
int rig_qmp(struct rig *r, const char *cmd, char **reply);

/* Run a shell command in the guest; *out (malloc'd, may be NULL to
 * discard) gets what it printed. Returns its exit status, or -1 on timeout
 * or a dead guest. */
int rig_exec(struct rig *r, const char *cmd, char **out, double timeout_s);
/* After a command got no answer: did the guest's console show a kernel
 * panic since the last answer? (rig_exec then printed its report.) */
bool rig_panicked(struct rig *r);
/* Same, with the command's stdout carried over the second serial port
 * (for megabytes of output). */
int rig_exec_bulk(struct rig *r, const char *cmd, char **out, size_t *len,
		  double timeout_s);

const char *rig_target(struct rig *r);		/* with mem= and qmp= */
const char *rig_target_nomem(struct rig *r);	/* gdbstub only */
const char *rig_kernel_release(struct rig *r);
const char *rig_kernel_path(struct rig *r);
const char *rig_build_dir(void);		/* $GP_BUILD or "build" */
double rig_boot_seconds(struct rig *r);
/* For failure messages: is QEMU alive, its log's end, console pending. */
const char *rig_describe(struct rig *r);

/* Run `$GP_BUILD/vmm ARGS` on the host (ARGS through sh); stdout/stderr
 * captured into malloc'd strings (NULL to discard). Returns exit status. */
int rig_run_tool(struct rig *r, const char *args, char **out, char **err);
/* A whole file, malloc'd ("" if it cannot be read). */
char *rig_slurp(const char *path);

#endif
