// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libvirt guests, for real: a Debian system guest (systemd, its own disk,
 * built from Debian's packages: scripts/mksysguest.sh) run by a real
 * libvirtd the tests start (tests/rig/lvrig.c), patched through
 * libvirt:NAME, kept patched by policy through `vmm reconcile`, the hook
 * libvirtd runs (start, restore) and `vmm watch` (reboot).  Oracles: the
 * guest's own /proc/cmdline, uname, dmesg, and virsh (domstate, dumpxml,
 * the monitor).
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gp_check.h"
#include "rig/lvrig.h"
#include "rig/rig.h"

#define MARKER "guestpatch: cmdline-marker applied"

static struct lvr *g;
static char obj[300], other[300];
/* The hook as installed, one per test process (they may run side by side
 * on one libvirtd; each acts only on domains with a policy). */
static char hook[200];

/* build/vmm ARGS (given to sh), output in *out / *err (malloc'd). */
static int vmm(char **out, char **err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int vmm(char **out, char **err, const char *fmt, ...)
{
	char args[2048], cmd[3000], o[300], e[300];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(o, sizeof(o), "%s/vmm.out", lvr_dir(g));
	snprintf(e, sizeof(e), "%s/vmm.err", lvr_dir(g));
	snprintf(cmd, sizeof(cmd), "%s/vmm %s >%s 2>%s", rig_build_dir(), args, o, e);
	st = system(cmd);
	if (out)
		*out = rig_slurp(o);
	if (err)
		*err = rig_slurp(e);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *guest(const char *cmd)
{
	char *out = NULL;
	int rc = lvr_exec(g, cmd, &out, 60);

	if (rc != 0)
		fprintf(stderr, "libvirt: guest `%s` exits %d: %s\n%s\n", cmd, rc, out ? out : "",
			lvr_describe(g));
	ck_assert_msg(rc == 0, "guest `%.200s` exits %d: %.500s (details above)", cmd, rc,
		      out ? out : "");
	return out;
}

static bool guest_patched(void)
{
	char *c = guest("cat /proc/cmdline");
	bool yes = strstr(c, MARKER) != NULL;

	free(c);
	return yes;
}

static bool wait_patched(bool want, double s)
{
	for (double t = 0; t < s; t += 1) {
		if (guest_patched() == want)
			return true;
		sleep(1);
	}
	return false;
}

static char *domstate(void)
{
	char *out = NULL;

	lvr_virsh(&out, NULL, "domstate %s --reason", lvr_name(g));
	return out;
}

static char *metadata(void)
{
	char *out = NULL, *a, *b;

	lvr_virsh(&out, NULL, "dumpxml %s", lvr_name(g));
	a = strstr(out, "<metadata>");
	b = a ? strstr(a, "</metadata>") : NULL;
	if (!a || !b)
		return out;
	b[strlen("</metadata>")] = '\0';
	memmove(out, a, strlen(a) + 1);
	return out;
}

static void no_oops(const char *when)
{
	char *d = guest("dmesg | grep -E 'WARNING|BUG|Oops|general protection' || true");

	ck_assert_msg(!*d, "%s: the guest's log has: %s", when, d);
	free(d);
}

static void up(void)
{
	char *e = NULL, cmd[1200];
	struct lvr_opts o = { 0 };

	snprintf(hook, sizeof(hook), "/etc/libvirt/hooks/qemu.d/guestpatch-test-%d", (int)getpid());
	g = lvr_boot(&o, &e);
	ck_assert_msg(g, "booting a Debian system guest under libvirt: %s", e);
	fprintf(stderr, "libvirt: %s guest %s (%s) booted in %.1f s\n", lvr_virt_type(g),
		lvr_name(g), lvr_kernel_release(g), lvr_boot_seconds(g));
	/* The example patch, built for the guest's own kernel, and the same
	 * patch as if built for another kernel. */
	snprintf(obj, sizeof(obj), "%s/cmdline_marker.o", lvr_dir(g));
	snprintf(other, sizeof(other), "%s/cmdline_marker_other.o", lvr_dir(g));
	snprintf(cmd, sizeof(cmd), "%s/vmm build guest-agent/examples/cmdline_marker.c -o %s --kernel %s >/dev/null && "
		 "%s/vmm build guest-agent/examples/cmdline_marker.c -o %s --build-id %s >/dev/null",
		 rig_build_dir(), obj, lvr_kernel_path(g), rig_build_dir(), other,
		 "0123456789abcdef0123456789abcdef01234567");
	ck_assert_msg(system(cmd) == 0, "%s", cmd);
}

static void down(void)
{
	unlink(hook);
	lvr_destroy(g);
}

START_TEST(target_patches_a_system_guest)
{
	char *out = NULL, *err = NULL, *u, *s;

	ck_assert_int_eq(vmm(&out, &err, "info libvirt:%s", lvr_name(g)), 0);
	u = guest("uname -r");
	u[strcspn(u, "\n")] = '\0';
	ck_assert_msg(strstr(out, u), "vmm info says %s; the guest's uname -r %s", out, u);
	free(out);
	free(err);
	free(u);
	ck_assert_int_eq(vmm(&out, &err, "ps libvirt:%s --json", lvr_name(g)), 0);
	ck_assert_msg(strstr(out, "\"comm\":\"systemd\"") || strstr(out, "\"comm\": \"systemd\""),
		      "vmm ps shows no systemd: %.300s", out);
	free(out);
	free(err);
	ck_assert(!guest_patched());
	ck_assert_msg(vmm(&out, &err, "patch %s %s --stats", lvr_target(g), obj) == 0, "%s%s", out, err);
	fprintf(stderr, "libvirt: %s", out);
	free(out);
	free(err);
	ck_assert(guest_patched());
	s = domstate();
	ck_assert_msg(strstr(s, "running"), "after patch the domain is %s", s);
	free(s);
	/* The gdbstub was only there for the command. */
	ck_assert_int_eq(lvr_qmp(g, "{\"execute\":\"query-chardev\"}", &out), 0);
	ck_assert_msg(!strstr(out, "guestpatch-gdb"), "a gdbstub is left: %s", out);
	free(out);
	ck_assert_int_eq(vmm(&out, &err, "list %s", lvr_target(g)), 0);
	ck_assert_msg(strstr(out, "cmdline-marker: applied"), "%s", out);
	free(out);
	free(err);
	ck_assert_int_eq(vmm(NULL, NULL, "unpatch %s cmdline-marker", lvr_target(g)), 0);
	ck_assert(!guest_patched());
	no_oops("patch and unpatch");
}
END_TEST

/* virsh suspend: worked on paused, left paused.  The per-task transition
 * starts in the one pause there is and goes on when the guest runs. */
START_TEST(a_guest_its_user_paused_stays_paused)
{
	char *out = NULL, *err = NULL, *s;
	int rc;

	free(guest("udevadm settle; systemctl is-system-running --wait >/dev/null; true"));
	ck_assert_int_eq(lvr_virsh(NULL, NULL, "suspend %s", lvr_name(g)), 0);
	rc = vmm(&out, &err, "patch %s %s --timeout 5", lvr_target(g), obj);
	ck_assert_msg(rc == 0 || rc == 3, "vmm patch on a paused guest exits %d: %s%s", rc, out, err);
	ck_assert_msg(strstr(err, "paused by its user; it stays paused"), "%s", err);
	fprintf(stderr, "libvirt: on the paused guest vmm patch exits %d\n", rc);
	free(out);
	free(err);
	s = domstate();
	ck_assert_msg(strstr(s, "paused (user)"), "after vmm patch the domain is %s", s);
	free(s);
	ck_assert_int_eq(vmm(NULL, NULL, "list %s", lvr_target(g)), 0);
	s = domstate();
	ck_assert_msg(strstr(s, "paused (user)"), "after vmm list the domain is %s", s);
	free(s);
	ck_assert_int_eq(lvr_virsh(NULL, NULL, "resume %s", lvr_name(g)), 0);
	if (rc == 3)
		ck_assert_int_eq(vmm(NULL, NULL, "transition %s --timeout 60", lvr_target(g)), 0);
	ck_assert(guest_patched());
	ck_assert_int_eq(vmm(NULL, NULL, "unpatch %s cmdline-marker", lvr_target(g)), 0);
	ck_assert(!guest_patched());
}
END_TEST

START_TEST(refusals_name_what_is_wrong)
{
	char *out = NULL, *err = NULL, xml[2048], path[300], *bd = realpath(rig_build_dir(), NULL), *se = NULL;
	FILE *f;

	ck_assert_int_eq(vmm(&out, &err, "info libvirt:no-such-domain-%d", (int)getpid()), 1);
	ck_assert_msg(strstr(err, "has no domain"), "%s", err);
	free(out);
	free(err);
	/* Defined, not running; and running without shared file-backed RAM
	 * (the small busybox guest of the other tests is enough). */
	snprintf(path, sizeof(path), "%s/plain.xml", lvr_dir(g));
	snprintf(xml, sizeof(xml),
		 "<domain type='qemu'><name>%s-plain</name><memory unit='MiB'>256</memory><vcpu>1</vcpu>"
		 "<os><type arch='x86_64'>hvm</type><kernel>%s</kernel><initrd>%s/guest/initramfs.cpio.gz</initrd>"
		 "<cmdline>console=ttyS0</cmdline></os><devices><serial type='file'><source path='%s/plain.log'/></serial>"
		 "</devices></domain>",
		 lvr_name(g), lvr_kernel_path(g), bd, lvr_dir(g));
	free(bd);
	f = fopen(path, "w");
	fputs(xml, f);
	fclose(f);
	ck_assert_int_eq(lvr_virsh(NULL, NULL, "define %s", path), 0);
	ck_assert_int_eq(vmm(&out, &err, "info libvirt:%s-plain", lvr_name(g)), 1);
	ck_assert_msg(strstr(err, "shut off, not running"), "%s", err);
	free(out);
	free(err);
	ck_assert_msg(lvr_virsh(NULL, &se, "start %s-plain", lvr_name(g)) == 0, "virsh start: %s", se);
	free(se);
	ck_assert_int_eq(vmm(&out, &err, "info libvirt:%s-plain", lvr_name(g)), 1);
	ck_assert_msg(strstr(err, "no shared file-backed memory") && strstr(err, "<memoryBacking>"),
		      "%s", err);
	free(out);
	free(err);
	lvr_virsh(NULL, NULL, "destroy %s-plain", lvr_name(g));
	lvr_virsh(NULL, NULL, "undefine %s-plain", lvr_name(g));
}
END_TEST

static void set_policy(const char *inner, const char *where)
{
	char *err = NULL;
	int rc = lvr_virsh(NULL, &err,
			   "metadata %s urn:guestpatch:policy:1 --key gp %s --set '<policy>%s</policy>'",
			   lvr_name(g), where, inner);

	ck_assert_msg(rc == 0, "virsh metadata: %s", err);
	free(err);
}

START_TEST(reconcile_applies_the_policy_and_is_idempotent)
{
	char *out = NULL, *err = NULL, *m1, *m2, pol[1000];

	/* No policy: nothing to do. */
	ck_assert_int_eq(vmm(&out, &err, "reconcile %s --timeout 300", lvr_target(g)), 0);
	ck_assert_msg(strstr(out, "no guestpatch policy"), "%s", out);
	free(out);
	free(err);
	snprintf(pol, sizeof(pol), "<patch file=\"%s\"/><patch file=\"%s\"/>", other, obj);
	set_policy(pol, "--live");
	ck_assert_msg(vmm(&out, &err, "reconcile %s --timeout 300", lvr_target(g)) == 0, "%s%s", out, err);
	fprintf(stderr, "libvirt: %s", out);
	ck_assert_msg(strstr(out, "cmdline-marker: wanted: applied") &&
			      strstr(out, "1 policy patch built for other kernels"),
		      "%s", out);
	free(out);
	free(err);
	ck_assert(guest_patched());
	m1 = metadata();
	ck_assert_msg(strstr(m1, "result=\"applied\"") && strstr(m1, "applied name=\"cmdline-marker\""),
		      "dumpxml: %.1500s", m1);
	/* Again: nothing changes, nothing is written. */
	ck_assert_int_eq(vmm(&out, &err, "reconcile %s --timeout 300", lvr_target(g)), 0);
	ck_assert_msg(strstr(out, "nothing to change") && !strstr(out, "state recorded"), "%s", out);
	free(out);
	free(err);
	m2 = metadata();
	ck_assert_str_eq(m1, m2);
	free(m1);
	free(m2);
	/* Not wanted any more: removed, and recorded. */
	set_policy("", "--live");
	ck_assert_int_eq(vmm(&out, &err, "reconcile %s --timeout 300", lvr_target(g)), 0);
	ck_assert_msg(strstr(out, "cmdline-marker: not wanted: removed"), "%s", out);
	free(out);
	free(err);
	ck_assert(!guest_patched());
	m1 = metadata();
	ck_assert_msg(!strstr(m1, "applied name="), "dumpxml: %.1500s", m1);
	free(m1);
	no_oops("reconcile");
}
END_TEST

/* The hook (as installed, with build/vmm and a log of its own): a start
 * and a restore of an opted-in domain are reconciled in the background. */
START_TEST(hook_reconciles_on_start_and_restore)
{
	char cmd[2000], log[300], pol[600], save[300], *e = NULL, *l;

	snprintf(log, sizeof(log), "%s/hook.log", lvr_dir(g));
	snprintf(cmd, sizeof(cmd),
		 "sed -e 's|^VMM=.*|VMM=%s/vmm|' -e 's|^LOG=.*|LOG=%s|' -e 's|^RUN=.*|RUN=%s|' "
		 "configs/libvirt/guestpatch-hook > %s && chmod 755 %s && (pkill -HUP -x libvirtd; sleep 2)",
		 realpath(rig_build_dir(), NULL), log, lvr_dir(g), hook, hook);
	ck_assert_msg(system(cmd) == 0, "%s", cmd);
	snprintf(pol, sizeof(pol), "<patch file=\"%s\"/>", obj);
	set_policy(pol, "--live --config");
	ck_assert_int_eq(lvr_virsh(NULL, NULL, "destroy %s", lvr_name(g)), 0);
	/* Started paused: the hook's reconcile waits for it to run; the
	 * domain stopped: the hook stops that reconcile. */
	ck_assert_int_eq(lvr_virsh(NULL, NULL, "start --paused %s", lvr_name(g)), 0);
	for (int i = 0; i < 30; i++) {
		l = rig_slurp(log);
		if (strstr(l, "waiting: the domain is paused"))
			break;
		free(l);
		l = NULL;
		sleep(1);
	}
	ck_assert_msg(l, "the hook's reconcile does not wait for a paused domain: %.1500s", rig_slurp(log));
	free(l);
	ck_assert_int_eq(lvr_virsh(NULL, NULL, "destroy %s", lvr_name(g)), 0);
	sleep(2);
	l = rig_slurp(log);
	/* Either the hook stopped it, or it saw the domain go down first and
	 * ended by itself; in both cases it is gone. */
	ck_assert_msg(strstr(l, "stopped/end: stopped its reconcile (pid") ||
			      strstr(l, "release/end: stopped its reconcile (pid") ||
			      strstr(l, "has already ended"),
		      "the hook did not stop the reconcile: %.1500s", l);
	{
		char pg[300];

		snprintf(pg, sizeof(pg), "pgrep -f '[r]econcile libvirt:%s,' >/dev/null", lvr_name(g));
		ck_assert_msg(system(pg) != 0, "a reconcile still runs: %.1500s", l);
	}
	free(l);
	{
		char pidf[400], *pid;

		snprintf(pidf, sizeof(pidf), "%s/reconcile-%s.pid", lvr_dir(g), lvr_name(g));
		pid = rig_slurp(pidf);
		ck_assert_msg(!*pid, "the reconcile's pid file is left: %s", pid);
		free(pid);
	}
	ck_assert_msg(lvr_start(g, &e) == 0, "virsh start: %s", e);
	ck_assert_msg(wait_patched(true, 180), "not patched 180 s after the shell came up; hook log: %.1500s",
		      rig_slurp(log));
	l = rig_slurp(log);
	ck_assert_msg(strstr(l, "started/begin: reconcile started") &&
			      strstr(l, "cmdline-marker: wanted: applied"),
		      "hook log: %.1500s", l);
	free(l);
	/* Save and restore: the patch lives in RAM, so it is there at once;
	 * the reconcile the hook starts finds nothing to change. */
	snprintf(save, sizeof(save), "%s/save.img", lvr_dir(g));
	ck_assert_int_eq(lvr_virsh(NULL, NULL, "save %s %s", lvr_name(g), save), 0);
	ck_assert_int_eq(lvr_virsh(NULL, NULL, "restore %s", save), 0);
	unlink(save);
	ck_assert_msg(lvr_reconnect(g, 60, &e) == 0, "after the restore: %.500s", e);
	ck_assert(guest_patched());
	for (int i = 0; i < 120; i++) {
		l = rig_slurp(log);
		if (strstr(l, "nothing to change"))
			break;
		free(l);
		l = NULL;
		sleep(1);
	}
	ck_assert_msg(l, "no reconcile after the restore: %.1500s", rig_slurp(log));
	free(l);
	no_oops("hook");
}
END_TEST

/* A reboot runs no hook: vmm watch sees libvirt's reboot event. */
START_TEST(watch_repatches_after_a_reboot)
{
	char wlog[300], *e = NULL, *l;
	pid_t pid;
	int st;

	/* Each test runs in a child of the fixture's process: a console
	 * connection the last test made anew (start, restore) is not ours. */
	ck_assert_msg(lvr_reconnect(g, 60, &e) == 0, "%.500s", e);
	snprintf(wlog, sizeof(wlog), "%s/watch.log", lvr_dir(g));
	pid = fork();
	if (pid == 0) {
		char bin[300];

		snprintf(bin, sizeof(bin), "%s/vmm", rig_build_dir());
		if (!freopen(wlog, "w", stdout) || !freopen(wlog, "a", stderr))
			_exit(126);
		execl(bin, bin, "watch", (char *)NULL);
		_exit(127);
	}
	sleep(2);
	ck_assert(guest_patched());
	ck_assert_msg(lvr_reset(g, &e) == 0, "virsh reset: %s", e);
	ck_assert_msg(wait_patched(true, 180), "not patched 180 s after the reboot; watch log: %.1500s",
		      rig_slurp(wlog));
	kill(pid, SIGTERM);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	l = rig_slurp(wlog);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "vmm watch ended %d: %s", st, l);
	ck_assert_msg(strstr(l, "rebooted") && strstr(l, "reconcile started") && strstr(l, "stopped"),
		      "watch log: %.1500s", l);
	free(l);
	no_oops("reboot");
	ck_assert_int_eq(vmm(NULL, NULL, "unpatch %s cmdline-marker", lvr_target(g)), 0);
}
END_TEST

static TCase *libvirt_tcase(void)
{
	TCase *tc = tcase_create("libvirt");

	tcase_add_unchecked_fixture(tc, up, down);
	tcase_set_timeout(tc, 900);
	tcase_add_test(tc, target_patches_a_system_guest);
	tcase_add_test(tc, a_guest_its_user_paused_stays_paused);
	tcase_add_test(tc, refusals_name_what_is_wrong);
	tcase_add_test(tc, reconcile_applies_the_policy_and_is_idempotent);
	tcase_add_test(tc, hook_reconciles_on_start_and_restore);
	tcase_add_test(tc, watch_repatches_after_a_reboot);
	return tc;
}
GP_TCASE(libvirt_tcase)
