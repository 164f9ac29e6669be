// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * lvrig.c - Debian system guests under libvirt for tests (lvrig.h).
 * (lines: about 730, the whole life of a test domain in one place, as rig.c
 * keeps a busybox guest's: environment, domain XML, boot, reset, reconnect,
 * the console shell, virsh and the monitor.)
 *
 * Everything goes through virsh rather than the libvirt C API: the rig is
 * linked into every test and tool binary (RIG_OBJS), and what a test does
 * to a domain should be what a user types. The console exchange is
 * console.c's, shared with rig.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "console.h"
#include "lvrig.h"
#include "rig.h"
#include "run.h"

#define BOOT_TIMEOUT_S	300
#define VIRSH_TIMEOUT_S 120
#define MAX_LV		16
#define SHELL_UP	"guestpatch sysguest up" /* the image's login profile */
#define VIRT_TYPE_CACHE "/run/guestpatch/lv-virt-type"
#define ENV_SCRIPT	"scripts/libvirt-env.sh"

struct lvr {
	char name[64], target[80];
	char dir[64];
	char image[PATH_MAX];
	char release[128], kernel[PATH_MAX + 16];
	char virt_type[8];
	int mem_mb, boot_timeout_s;
	double boot_s;
	double alive_checked; /* when lvr_alive last asked libvirt */
	bool alive_last;
	struct rig_console con;
};

static struct lvr *live[MAX_LV];
static char errbuf[2048];

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int lvr_virsh_argv(char **out, char **err, const char *const *argv)
{
	const char *full[64] = {"virsh", "-q", "-c", LVR_URI};
	int n = 4;

	for (int i = 0; argv[i]; i++) {
		if (n >= 63)
			return -1;
		full[n++] = argv[i];
	}
	full[n] = NULL;
	return rig_run_capture(full, out, err, VIRSH_TIMEOUT_S);
}

int lvr_virsh(char **out, char **err, const char *fmt, ...)
{
	char args[4096], cmd[4200];
	const char *argv[] = {"sh", "-c", cmd, NULL};
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(args))
		return -1;
	snprintf(cmd, sizeof(cmd), "exec virsh -q -c %s %s", LVR_URI, args);
	return rig_run_capture(argv, out, err, VIRSH_TIMEOUT_S);
}

/* Quiet virsh on one domain: exit status only. */
static int virsh_q(const char *verb, const char *name)
{
	const char *argv[] = {verb, name, NULL};

	return lvr_virsh_argv(NULL, NULL, argv);
}

/* ---- cleanup of what a process leaves ---- */

static pid_t owner_pid;
static struct sigaction old_term, old_int;

static void undefine(const char *name)
{
	virsh_q("destroy", name);
	virsh_q("undefine", name);
}

static void destroy_all(void)
{
	for (int i = 0; i < MAX_LV; i++)
		if (live[i]) {
			undefine(live[i]->name);
			rig_rm_rf(live[i]->dir);
		}
}

static void at_exit(void)
{
	/* Check forks tests; only the process that booted cleans up. */
	if (getpid() == owner_pid)
		destroy_all();
}

static void on_signal(int sig)
{
	if (getpid() == owner_pid)
		destroy_all();
	/* Then whatever was there before (rig.c's handler, or the default). */
	sigaction(sig, sig == SIGTERM ? &old_term : &old_int, NULL);
	raise(sig);
}

static void track(struct lvr *h)
{
	static bool installed;

	if (!installed) {
		struct sigaction sa = {.sa_handler = on_signal};

		owner_pid = getpid();
		atexit(at_exit);
		sigaction(SIGTERM, &sa, &old_term);
		sigaction(SIGINT, &sa, &old_int);
		installed = true;
	}
	for (int i = 0; i < MAX_LV; i++)
		if (!live[i]) {
			live[i] = h;
			return;
		}
}

static void untrack(struct lvr *h)
{
	for (int i = 0; i < MAX_LV; i++)
		if (live[i] == h)
			live[i] = NULL;
}

/* "gp-lv-PID-..." of a process that no longer exists? */
static bool stale(const char *name, const char *prefix)
{
	int pid;

	if (strncmp(name, prefix, strlen(prefix)) ||
	    sscanf(name + strlen(prefix), "%d-", &pid) != 1 || pid <= 0)
		return false;
	return pid != getpid() && kill(pid, 0) < 0 && errno == ESRCH;
}

static void clean_leftovers(void)
{
	const char *argv[] = {"list", "--all", "--name", NULL};
	char *out = NULL, *save = NULL;
	glob_t g;

	if (lvr_virsh_argv(&out, NULL, argv) == 0)
		for (char *n = strtok_r(out, "\n", &save); n; n = strtok_r(NULL, "\n", &save))
			if (stale(n, "gp-lv-")) {
				fprintf(stderr,
					"lvrig: destroying %s, left by a test process that is "
					"gone\n",
					n);
				undefine(n);
			}
	free(out);
	if (glob("/tmp/gp-lv-*", 0, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc; i++)
			if (stale(g.gl_pathv[i], "/tmp/gp-lv-"))
				rig_rm_rf(g.gl_pathv[i]);
		globfree(&g);
	}
}

/* scripts/libvirt-env.sh VERB; its stderr (warnings) passed on. */
static int env_script(const char *verb, char **errmsg)
{
	const char *argv[] = {ENV_SCRIPT, verb, NULL};
	char *err = NULL;
	int st = rig_run_capture(argv, NULL, &err, 120);

	*errmsg = NULL;
	if (st != 0) {
		snprintf(errbuf, sizeof(errbuf), "%s %s failed (%d): %s", ENV_SCRIPT, verb, st,
			 err ? err : "");
		*errmsg = errbuf;
	} else if (err && *err) {
		fputs(err, stderr); /* e.g. a libvirtd started before qemu.conf had the settings */
	}
	free(err);
	return st ? -1 : 0;
}

int lvr_env_up(char **errmsg)
{
	static bool up;

	*errmsg = NULL;
	if (up)
		return 0;
	if (env_script("start", errmsg))
		return -1;
	clean_leftovers();
	up = true;
	return 0;
}

int lvr_env_reload(char **errmsg)
{
	return env_script("reload", errmsg);
}

/* ---- the domain ---- */

static void tail_of(const char *path, char *out, size_t cap)
{
	FILE *f = fopen(path, "r");
	long sz;
	size_t n;

	out[0] = '\0';
	if (!f)
		return;
	fseek(f, 0, SEEK_END);
	sz = ftell(f);
	fseek(f, sz > (long)cap - 1 ? sz - (long)cap + 1 : 0, SEEK_SET);
	n = fread(out, 1, cap - 1, f);
	out[n] = '\0';
	fclose(f);
}

const char *lvr_describe(struct lvr *h)
{
	static char buf[8192];
	char qlog[1500], con[3000], path[PATH_MAX];
	const char *argv[] = {"domstate", "--reason", h->name, NULL};
	char *state = NULL;

	lvr_virsh_argv(&state, NULL, argv);
	if (state)
		state[strcspn(state, "\n")] = '\0';
	snprintf(path, sizeof(path), "/var/log/libvirt/qemu/%s.log", h->name);
	tail_of(path, qlog, sizeof(qlog));
	snprintf(path, sizeof(path), "%s/console.log", h->dir);
	tail_of(path, con, sizeof(con));
	snprintf(buf, sizeof(buf),
		 "domain %s (%s) is %s; QEMU's log ends: %s; the console ends: %s", h->name,
		 h->virt_type, state && *state ? state : "unknown", qlog, con);
	free(state);
	return buf;
}

static int fail(struct lvr *h, char **errmsg, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct lvr *h, char **errmsg, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
	va_end(ap);
	if (h && n > 0 && (size_t)n < sizeof(errbuf))
		snprintf(errbuf + n, sizeof(errbuf) - (size_t)n, "; %s", lvr_describe(h));
	*errmsg = errbuf;
	return -1;
}

/* Is the domain still up (running, paused, ...)? Asked at most every 5 s:
 * the console read loop calls this often, and a QEMU that exits closes the
 * console socket anyway. */
static bool lvr_alive(void *arg)
{
	struct lvr *h = arg;
	const char *argv[] = {"domstate", h->name, NULL};
	char *out = NULL;

	if (now_s() - h->alive_checked < 5)
		return h->alive_last;
	h->alive_checked = now_s();
	if (lvr_virsh_argv(&out, NULL, argv) != 0)
		h->alive_last = false;
	else
		h->alive_last = !strstr(out, "shut off") && !strstr(out, "crashed");
	free(out);
	return h->alive_last;
}

static bool xml_safe(const char *s)
{
	return !strpbrk(s, "<>&'\"");
}

static int write_xml(struct lvr *h, const struct lvr_opts *o, char **errmsg)
{
	int cpus = o && o->cpus > 0 ? o->cpus : 2;
	const char *machine = o && o->machine ? o->machine : "q35";
	const char *append = o && o->append ? o->append : "";
	bool kvm = !strcmp(h->virt_type, "kvm");
	char path[PATH_MAX];
	FILE *f;

	if (!xml_safe(h->image) || !xml_safe(machine) || !xml_safe(append))
		return fail(NULL, errmsg, "a path or option has XML metacharacters: %s %s %s",
			    h->image, machine, append);
	snprintf(path, sizeof(path), "%s/domain.xml", h->dir);
	f = fopen(path, "w");
	if (!f)
		return fail(NULL, errmsg, "%s: %s", path, strerror(errno));
	fprintf(f,
		"<domain type='%s'>\n"
		"  <name>%s</name>\n"
		"  <memory unit='MiB'>%d</memory>\n"
		"  <vcpu>%d</vcpu>\n",
		h->virt_type, h->name, h->mem_mb, cpus);
	if (o && o->metadata)
		fprintf(f, "  <metadata>%s</metadata>\n", o->metadata);
	fprintf(f,
		"  <memoryBacking><source type='file'/><access mode='shared'/></memoryBacking>\n"
		"  <os>\n"
		"    <type arch='x86_64' machine='%s'>hvm</type>\n"
		"    <kernel>%s/vmlinuz</kernel>\n"
		"    <initrd>%s/initrd.img</initrd>\n"
		"    <cmdline>console=ttyS0 root=/dev/vda rw%s%s</cmdline>\n"
		"  </os>\n"
		"  <features><acpi/></features>\n"
		/* TCG: everything it emulates (LA57: 5-level paging, as the
		 * other rigs' -cpu max); KVM: the host's CPU. */
		"  <cpu mode='%s' check='none'/>\n"
		"  <on_poweroff>destroy</on_poweroff>\n"
		"  <on_reboot>restart</on_reboot>\n"
		"  <on_crash>destroy</on_crash>\n"
		"  <devices>\n"
		"    <disk type='file' device='disk'>\n"
		"      <driver name='qemu' type='qcow2'/>\n"
		"      <source file='%s/disk.qcow2'/>\n"
		"      <target dev='vda' bus='virtio'/>\n"
		"    </disk>\n"
		"    <serial type='unix'>\n"
		"      <source mode='bind' path='%s/con.sock'/>\n"
		"      <log file='%s/console.log' append='on'/>\n"
		"      <target port='0'/>\n"
		"    </serial>\n"
		"    <controller type='usb' model='none'/>\n"
		"    <memballoon model='none'/>\n"
		"    <video><model type='none'/></video>\n"
		"  </devices>\n"
		"</domain>\n",
		machine, h->image, h->image, *append ? " " : "", append,
		kvm ? "host-passthrough" : "maximum", h->dir, h->dir, h->dir);
	if (fclose(f))
		return fail(NULL, errmsg, "%s: %s", path, strerror(errno));
	return 0;
}

static int define(struct lvr *h, const struct lvr_opts *o, char **errmsg)
{
	char path[PATH_MAX], *err = NULL;
	const char *argv[] = {"define", path, NULL};

	if (write_xml(h, o, errmsg))
		return -1;
	snprintf(path, sizeof(path), "%s/domain.xml", h->dir);
	if (lvr_virsh_argv(NULL, &err, argv) != 0) {
		fail(NULL, errmsg, "virsh define %s: %s", path, err ? err : "");
		free(err);
		return -1;
	}
	free(err);
	return 0;
}

static bool socket_closed(int fd)
{
	char c;

	return fd < 0 || recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

int lvr_wait_shell(struct lvr *h, double timeout_s, char **errmsg)
{
	char path[PATH_MAX], *out;
	double t0 = now_s(), end = t0 + timeout_s;

	*errmsg = NULL;
	snprintf(path, sizeof(path), "%s/con.sock", h->dir);
	con_forget(&h->con);
	h->alive_checked = 0;
	for (;;) {
		double left = end - now_s();

		if (left <= 0)
			return fail(h, errmsg, "no shell on the serial console within %.0f s",
				    timeout_s);
		/* A new QEMU (libvirt restarting the domain) means a new socket. */
		if (socket_closed(h->con.fd)) {
			if (h->con.fd >= 0)
				close(h->con.fd);
			h->con.fd = con_connect_unix(path);
			if (h->con.fd < 0) {
				if (!lvr_alive(h))
					return fail(h, errmsg, "the domain is not running");
				usleep(100000);
				continue;
			}
		}
		out = con_read_until(&h->con, SHELL_UP, left < 5 ? left : 5);
		if (out) {
			free(out);
			break;
		}
		if (!lvr_alive(h))
			return fail(h, errmsg, "the domain stopped while booting");
		con_trim(&h->con, sizeof(SHELL_UP));
	}
	/* The profile has run; make sure the shell reads commands. */
	for (int tries = 0;; tries++) {
		if (con_exec(&h->con, "true", NULL, 10) == 0)
			break;
		if (tries > 5 || now_s() > end)
			return fail(h, errmsg, "the guest shell does not answer");
	}
	h->boot_s = now_s() - t0;
	return 0;
}

int lvr_reconnect(struct lvr *h, double timeout_s, char **errmsg)
{
	char path[PATH_MAX];
	double end = now_s() + timeout_s;

	*errmsg = NULL;
	snprintf(path, sizeof(path), "%s/con.sock", h->dir);
	con_close(&h->con);
	con_forget(&h->con);
	while ((h->con.fd = con_connect_unix(path)) < 0) {
		if (now_s() > end)
			return fail(h, errmsg, "no serial console socket within %.0f s", timeout_s);
		usleep(100000);
	}
	/* The guest runs on where it was: its shell answers as before. */
	for (int tries = 0;; tries++) {
		if (con_exec(&h->con, "true", NULL, 10) == 0)
			return 0;
		if (tries > 5 || now_s() > end)
			return fail(h, errmsg, "the guest shell does not answer after reconnecting");
	}
}

/* Make the guest boot, by `virsh VERB NAME` or by typing `typed` in its
 * shell, and wait for the shell; boot_s counts from the request. */
static int boot_by(struct lvr *h, const char *verb, const char *typed, double timeout_s,
		   char **errmsg)
{
	const char *argv[] = {verb, h->name, NULL};
	char *err = NULL;
	double t0 = now_s();
	int rc;

	*errmsg = NULL;
	if (!strcmp(verb, "start"))
		con_close(&h->con); /* a new QEMU, a new socket */
	con_forget(&h->con);
	if (typed ? lvr_send(h, typed) != 0 : lvr_virsh_argv(NULL, &err, argv) != 0) {
		fail(h, errmsg, "%s %s: %s", typed ? "typing" : "virsh", typed ? typed : verb,
		     err ? err : "");
		free(err);
		return -1;
	}
	free(err);
	rc = lvr_wait_shell(h, timeout_s, errmsg);
	h->boot_s = now_s() - t0;
	return rc;
}

int lvr_start(struct lvr *h, char **errmsg)
{
	return boot_by(h, "start", NULL, h->boot_timeout_s, errmsg);
}

int lvr_reset(struct lvr *h, char **errmsg)
{
	return boot_by(h, "reset", NULL, h->boot_timeout_s, errmsg);
}

int lvr_reboot(struct lvr *h, char **errmsg)
{
	return boot_by(h, "reboot", "systemctl reboot", h->boot_timeout_s, errmsg);
}

static const char *read_line(const char *path)
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

/* The domain type to use, and whether it still has to be proven by a boot. */
static const char *virt_type(const struct lvr_opts *o, bool *probe)
{
	const char *e = getenv("GP_LV_VIRT_TYPE"), *c;

	*probe = false;
	if (o && o->virt_type)
		return o->virt_type;
	if (e && *e)
		return e;
	c = read_line(VIRT_TYPE_CACHE);
	if (c && (!strcmp(c, "kvm") || !strcmp(c, "qemu")))
		return !strcmp(c, "kvm") ? "kvm" : "qemu";
	*probe = true;
	return "kvm";
}

static void remember_virt_type(const char *t, const char *why)
{
	FILE *f;

	mkdir("/run/guestpatch", 0755);
	f = fopen(VIRT_TYPE_CACHE, "w");
	if (!f)
		return;
	fprintf(f, "%s\n# lvrig.c: %s\n", t, why);
	fclose(f);
	fprintf(stderr, "lvrig: libvirt domain type '%s' on this machine (%s; kept in %s)\n", t,
		why, VIRT_TYPE_CACHE);
}

struct lvr *lvr_boot(const struct lvr_opts *o, char **errmsg)
{
	static unsigned count;
	const char *image = o && o->image ? o->image : NULL;
	char def[PATH_MAX], path[PATH_MAX + 32], disk[PATH_MAX + 16];
	const char *rel, *t;
	struct stat st;
	struct lvr *h;
	bool probe;

	*errmsg = NULL;
	if (lvr_env_up(errmsg))
		return NULL;
	if (!image) {
		snprintf(def, sizeof(def), "%s/sysguest", rig_build_dir());
		image = def;
	}
	snprintf(path, sizeof(path), "%s/.done", image);
	if (stat(path, &st)) {
		fail(NULL, errmsg, "no system guest image in %s: run `make sysguest`", image);
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		fail(NULL, errmsg, "out of memory");
		return NULL;
	}
	con_init(&h->con, -1, lvr_alive, h);
	if (!realpath(image, h->image)) {
		fail(NULL, errmsg, "%s: %s", image, strerror(errno));
		free(h);
		return NULL;
	}
	h->mem_mb = o && o->mem_mb > 0 ? o->mem_mb : 1024;
	h->boot_timeout_s = o && o->boot_timeout_s > 0 ? o->boot_timeout_s : BOOT_TIMEOUT_S;
	snprintf(path, sizeof(path), "%s/release", h->image);
	rel = read_line(path);
	snprintf(h->release, sizeof(h->release), "%s", rel ? rel : "");
	snprintf(h->kernel, sizeof(h->kernel), "%s/vmlinuz", h->image);
	snprintf(h->name, sizeof(h->name), "gp-lv-%d-%u", (int)getpid(), ++count);
	snprintf(h->target, sizeof(h->target), "libvirt:%s", h->name);
	snprintf(h->dir, sizeof(h->dir), "/tmp/gp-lv-%d-XXXXXX", (int)getpid());
	if (!mkdtemp(h->dir)) {
		fail(NULL, errmsg, "mkdtemp: %s", strerror(errno));
		free(h);
		return NULL;
	}
	track(h);
	snprintf(disk, sizeof(disk), "%s/disk.qcow2", h->dir);
	snprintf(path, sizeof(path), "%s/disk.raw", h->image);
	{
		const char *argv[] = {"qemu-img", "create", "-q", "-f", "qcow2", "-F",
				      "raw",	  "-b",	    path, disk, NULL};
		char *err = NULL;

		if (rig_run_capture(argv, NULL, &err, 60) != 0) {
			fail(NULL, errmsg, "qemu-img create %s over %s: %s", disk, path,
			     err ? err : "");
			free(err);
			lvr_destroy(h);
			return NULL;
		}
		free(err);
	}
	t = virt_type(o, &probe);
	snprintf(h->virt_type, sizeof(h->virt_type), "%s", t);
	if (define(h, o, errmsg)) {
		lvr_destroy(h);
		return NULL;
	}
	if (o && o->no_start)
		return h;
	if (probe) {
		/* Does KVM boot Linux here? (On these machines /dev/kvm is
		 * emulated and does not: ../shared/DESIGN.md.) */
		if (boot_by(h, "start", NULL, LVR_KVM_PROBE_S, errmsg) == 0) {
			remember_virt_type("kvm", "a kvm domain reached its shell");
			return h;
		}
		snprintf(path, sizeof(path), "a kvm domain did not reach its shell in %d s: %.400s",
			 LVR_KVM_PROBE_S, *errmsg);
		remember_virt_type("qemu", path);
		undefine(h->name);
		snprintf(h->virt_type, sizeof(h->virt_type), "qemu");
		if (define(h, o, errmsg)) {
			lvr_destroy(h);
			return NULL;
		}
	}
	if (lvr_start(h, errmsg)) {
		lvr_destroy(h);
		return NULL;
	}
	return h;
}

void lvr_destroy(struct lvr *h)
{
	if (!h)
		return;
	untrack(h);
	con_close(&h->con);
	undefine(h->name);
	rig_rm_rf(h->dir);
	free(h);
}

int lvr_exec(struct lvr *h, const char *cmd, char **out, double timeout_s)
{
	return con_exec(&h->con, cmd, out, timeout_s);
}

int lvr_send(struct lvr *h, const char *cmd)
{
	return con_send(&h->con, cmd) || con_send(&h->con, "\n") ? -1 : 0;
}

static int monitor(struct lvr *h, bool hmp, const char *cmd, char **out)
{
	const char *argv[] = {"qemu-monitor-command", h->name, hmp ? "--hmp" : cmd,
			      hmp ? cmd : NULL, NULL};

	return lvr_virsh_argv(out, NULL, argv);
}

int lvr_qmp(struct lvr *h, const char *json, char **out)
{
	return monitor(h, false, json, out);
}

int lvr_hmp(struct lvr *h, const char *cmd, char **out)
{
	return monitor(h, true, cmd, out);
}

const char *lvr_name(struct lvr *h)
{
	return h->name;
}
const char *lvr_target(struct lvr *h)
{
	return h->target;
}
const char *lvr_dir(struct lvr *h)
{
	return h->dir;
}
const char *lvr_virt_type(struct lvr *h)
{
	return h->virt_type;
}
const char *lvr_image(struct lvr *h)
{
	return h->image;
}
const char *lvr_kernel_release(struct lvr *h)
{
	return h->release;
}
const char *lvr_kernel_path(struct lvr *h)
{
	return h->kernel;
}
int lvr_mem_mb(struct lvr *h)
{
	return h->mem_mb;
}
double lvr_boot_seconds(struct lvr *h)
{
	return h->boot_s;
}
