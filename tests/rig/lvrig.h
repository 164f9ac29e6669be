/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lvrig.h - real Debian system guests under a real libvirtd, for the tests
 * of the libvirt target, reconcile and the hook script.
 *
 * The daemon is the machine's own libvirtd on qemu:///system, brought up by
 * scripts/libvirt-env.sh (lvr_env_up()). The guest is the image
 * scripts/mksysguest.sh builds ($GP_BUILD/sysguest, `make sysguest`):
 * Debian 12 from Debian's packages, systemd as PID 1, its own disk. Each
 * domain gets a temporary directory /tmp/gp-lv-PID-XXXXXX holding a qcow2
 * overlay over the image's disk.raw (the image stays clean), the domain XML,
 * the serial console's unix socket and its log. The domain is persistent
 * (defined, then started) so hooks and `virsh start` behave as for users;
 * it boots the image's kernel directly (`console=ttyS0 root=/dev/vda rw`),
 * RAM in a shared file (<memoryBacking><source type='file'/><access
 * mode='shared'/>), a virtio disk, no network. Its name is
 * gp-lv-PID-N: unique per test process, and a domain whose process is gone
 * is destroyed by the next lvr_env_up() (and by `libvirt-env.sh stop`).
 *
 * Domain type: $GP_LV_VIRT_TYPE ("kvm" or "qemu") if set; otherwise the
 * first lvr_boot() on this machine since it booted tries "kvm" (CPU
 * host-passthrough) and keeps it if the guest reaches its shell within
 * LVR_KVM_PROBE_S, else destroys it and uses "qemu" (TCG, CPU "maximum",
 * as the other rigs' -cpu max: 5-level paging). The verdict is kept in
 * /run/guestpatch/lv-virt-type, so later processes do not probe again.
 *
 * Pattern for Check tests, as rig.h: boot in an unchecked fixture (the
 * runner process), share the guest across the TCase's tests, lvr_destroy()
 * in the teardown. A process that exits destroys the domains it booted
 * (atexit, SIGTERM, SIGINT).
 *
 * The shell is root's login shell on ttyS0 (autologin): echo and line
 * editing off, console log level 1, so lvr_exec() sees only what the
 * command prints. After a guest reboot (lvr_reset(), lvr_reboot(), or a
 * reboot of its own followed by lvr_wait_shell()) the same holds again.
 */
#ifndef GP_LVRIG_H
#define GP_LVRIG_H

#include <stdbool.h>
#include <stddef.h>

#define LVR_URI	       "qemu:///system"
#define LVR_KVM_PROBE_S 60

struct lvr_opts {
	int cpus;	       /* default 2 */
	int mem_mb;	       /* default 1024 */
	const char *virt_type; /* "kvm" or "qemu"; NULL: see above */
	const char *machine;   /* default "q35" ("pc" for i440fx) */
	const char *append;    /* more kernel command line */
	const char *image;     /* default $GP_BUILD/sysguest */
	const char *metadata;  /* XML put inside <metadata> as it is (elements
				* with their own namespace), NULL: none */
	bool no_start;	       /* define only: lvr_start() starts it */
	int boot_timeout_s;    /* to the shell; default 300 (TCG on a busy
				* 2-core machine: 30-80 s) */
};

struct lvr;

/* Bring up libvirtd (scripts/libvirt-env.sh start), once per process, and
 * destroy leftovers of test processes that are gone. 0, or -1 and *errmsg
 * (static). */
int lvr_env_up(char **errmsg);

/* SIGHUP to libvirtd (scripts/libvirt-env.sh reload), waiting until it
 * answers again: needed after installing the *first* hook file in
 * /etc/libvirt/hooks/qemu.d/ (libvirtd looks for hooks only at start-up
 * and on SIGHUP). 0, or -1 and *errmsg (static). */
int lvr_env_reload(char **errmsg);

/* Define a domain and (unless o->no_start) start it and wait for the shell.
 * Calls lvr_env_up(). NULL and *errmsg (static) on failure, with the end of
 * QEMU's log and of the console in it. */
struct lvr *lvr_boot(const struct lvr_opts *o, char **errmsg);
/* Start a defined domain (`virsh start`) and wait for the shell. */
int lvr_start(struct lvr *h, char **errmsg);
/* Wait for the shell after a reboot or start: the login profile's line,
 * then a command that answers. Bytes read before are forgotten. */
int lvr_wait_shell(struct lvr *h, double timeout_s, char **errmsg);
/* Connect to the console of a new QEMU running the same guest (after
 * `virsh restore`, an incoming migration): no boot, the shell answers. */
int lvr_reconnect(struct lvr *h, double timeout_s, char **errmsg);
/* `virsh reset` (a hardware reset: no shutdown, no hook runs), then
 * lvr_wait_shell(). */
int lvr_reset(struct lvr *h, char **errmsg);
/* `systemctl reboot` in the guest (systemd shuts down, the kernel
 * reboots, QEMU resets: on_reboot is restart), then lvr_wait_shell(). */
int lvr_reboot(struct lvr *h, char **errmsg);
/* `virsh destroy`, `virsh undefine`, remove the temp dir, free h. */
void lvr_destroy(struct lvr *h);

/* Run a shell command in the guest; *out (malloc'd; out may be NULL)
 * gets what it printed. Its exit status, or -1 on timeout or a guest that
 * is gone. */
int lvr_exec(struct lvr *h, const char *cmd, char **out, double timeout_s);
/* Type a command without waiting for it (`systemctl reboot`, ...). */
int lvr_send(struct lvr *h, const char *cmd);

/* `virsh -q -c LVR_URI ARGS` with ARGS formatted and given to sh (quote them
 * yourself); stdout and stderr into malloc'd *out / *err (either may be
 * NULL to discard). Its exit status; -1 if it could not run or took over
 * 120 s (then killed). */
int lvr_virsh(char **out, char **err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The same with argv (no shell), argv[0] being virsh's first argument. */
int lvr_virsh_argv(char **out, char **err, const char *const *argv);
/* `virsh qemu-monitor-command NAME JSON` and `... --hmp CMD`. */
int lvr_qmp(struct lvr *h, const char *json, char **out);
int lvr_hmp(struct lvr *h, const char *cmd, char **out);

const char *lvr_name(struct lvr *h);	     /* gp-lv-PID-N */
const char *lvr_target(struct lvr *h);	     /* "libvirt:gp-lv-PID-N" */
const char *lvr_dir(struct lvr *h);	     /* its temp dir */
const char *lvr_virt_type(struct lvr *h);	     /* "kvm" or "qemu" */
const char *lvr_image(struct lvr *h);	     /* the image dir */
const char *lvr_kernel_release(struct lvr *h); /* the image's release file */
const char *lvr_kernel_path(struct lvr *h);    /* the image's vmlinuz */
int lvr_mem_mb(struct lvr *h);
double lvr_boot_seconds(struct lvr *h); /* last start, reset or reboot to shell */
/* For failure messages: domain state, QEMU's log end, the console's end. */
const char *lvr_describe(struct lvr *h);

#endif
