// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The libvirt test environment itself (tests/rig/lvrig.h), proven before
 * anything is built on it: a real libvirtd (scripts/libvirt-env.sh) runs a
 * real Debian system guest (scripts/mksysguest.sh) that boots systemd from
 * its own disk, runs the image's kernel, keeps its RAM in a shared file
 * QEMU names (query-memdev, qom-get) and `info mtree -f` maps, comes back
 * after `virsh reset` and after `systemctl reboot` inside, and ends with
 * `virsh destroy`, which a hook in /etc/libvirt/hooks/qemu.d/ sees. Every phase is timed
 * and printed ("libvirt_env: ...").
 *
 * The tests run in order on one domain (booted in an unchecked fixture):
 * the reboots and destroy come last.
 */
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gp_check.h"
#include "rig/lvrig.h"
#include "rig/rig.h"

#define MEM_MB 1024

static struct lvr *h;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void up(void)
{
	struct lvr_opts o = {.mem_mb = MEM_MB, .cpus = 2};
	char *msg = NULL;
	double t0 = now_s();

	ck_assert_msg(lvr_env_up(&msg) == 0, "libvirtd: %s", msg ? msg : "?");
	fprintf(stderr, "libvirt_env: libvirtd up in %.1f s\n", now_s() - t0);
	t0 = now_s();
	h = lvr_boot(&o, &msg);
	ck_assert_msg(h, "boot: %s", msg ? msg : "?");
	fprintf(stderr,
		"libvirt_env: %s (domain type %s) defined, started, shell after %.1f s (%.1f s in "
		"all)\n",
		lvr_name(h), lvr_virt_type(h), lvr_boot_seconds(h), now_s() - t0);
}

static void down(void)
{
	lvr_destroy(h);
	h = NULL;
}

/* Run a guest command that must succeed; its output, trailing newline cut. */
static char *guest(const char *cmd, double timeout_s)
{
	char *out = NULL;
	int st = lvr_exec(h, cmd, &out, timeout_s);

	ck_assert_msg(st == 0, "`%s` exited %d: %s; %s", cmd, st, out ? out : "", lvr_describe(h));
	out[strcspn(out, "\n")] = '\0';
	return out;
}

static char *virsh_ok(const char *what, const char *const *argv)
{
	char *out = NULL, *err = NULL;
	int st = lvr_virsh_argv(&out, &err, argv);

	ck_assert_msg(st == 0, "virsh %s: exit %d: %s", what, st, err ? err : "");
	free(err);
	return out;
}

static char *domstate(void)
{
	const char *argv[] = {"domstate", lvr_name(h), NULL};
	char *out = virsh_ok("domstate", argv);

	out[strcspn(out, "\n")] = '\0';
	return out;
}

START_TEST(domain_runs)
{
	char *s = domstate();

	ck_assert_msg(!strcmp(s, "running"), "virsh domstate says '%s'", s);
	free(s);
}
END_TEST

START_TEST(guest_runs_systemd)
{
	double t0 = now_s();
	char *comm = guest("ps -p 1 -o comm=", 30), *state;

	ck_assert_msg(!strcmp(comm, "systemd"), "PID 1 is '%s'", comm);
	/* `--wait` returns once start-up is over: running, or degraded if a
	 * unit failed (which the image should not have, but is still a
	 * system). starting/initializing/maintenance/stopping are not. */
	lvr_exec(h, "systemctl is-system-running --wait", &state, 240);
	ck_assert(state);
	state[strcspn(state, "\n")] = '\0';
	ck_assert_msg(!strcmp(state, "running") || !strcmp(state, "degraded"),
		      "systemctl is-system-running says '%s'", state);
	if (!strcmp(state, "degraded")) {
		char *failed = guest("systemctl --failed --no-legend --plain", 30);

		fprintf(stderr, "libvirt_env: degraded, failed units: %s\n", failed);
		free(failed);
	}
	fprintf(stderr, "libvirt_env: systemd %s after %.1f s more\n", state, now_s() - t0);
	free(state);
	/* Where the boot went (kernel, initrd, userspace), as the guest saw it. */
	state = guest("systemd-analyze time | head -n 1", 60);
	fprintf(stderr, "libvirt_env: guest says: %s\n", state);
	free(state);
	free(comm);
}
END_TEST

START_TEST(kernel_is_the_image)
{
	char path[512], want[128] = "";
	char *got = guest("uname -r", 30);
	FILE *f;

	snprintf(path, sizeof(path), "%s/sysguest/release", rig_build_dir());
	f = fopen(path, "r");
	ck_assert_msg(f, "no %s", path);
	ck_assert(fgets(want, sizeof(want), f));
	fclose(f);
	want[strcspn(want, "\n")] = '\0';
	ck_assert_msg(want[0] && !strcmp(got, want), "guest runs %s, the image's kernel is %s", got,
		      want);
	free(got);
}
END_TEST

/* The memdev behind the guest's RAM, from QEMU: its id, and share/size checked. */
static char *ram_memdev(void)
{
	char *out = NULL, *id;
	struct json_object *j, *ret, *m, *v;

	ck_assert_msg(lvr_qmp(h, "{\"execute\":\"query-memdev\"}", &out) == 0, "query-memdev: %s",
		      out ? out : "");
	j = json_tokener_parse(out);
	ck_assert_msg(j && json_object_object_get_ex(j, "return", &ret) &&
			      json_object_is_type(ret, json_type_array) &&
			      json_object_array_length(ret) == 1,
		      "query-memdev answered %s", out);
	m = json_object_array_get_idx(ret, 0);
	ck_assert_msg(json_object_object_get_ex(m, "share", &v) && json_object_get_boolean(v),
		      "the RAM backend is not shared: %s", out);
	ck_assert_msg(json_object_object_get_ex(m, "size", &v) &&
			      (uint64_t)json_object_get_int64(v) == (uint64_t)MEM_MB << 20,
		      "the RAM backend's size is not %d MiB: %s", MEM_MB, out);
	ck_assert_msg(json_object_object_get_ex(m, "id", &v), "no memdev id: %s", out);
	id = strdup(json_object_get_string(v));
	json_object_put(j);
	free(out);
	return id;
}

START_TEST(ram_mapped_in_mtree)
{
	char *id = ram_memdev(), *out = NULL, *save = NULL, needle[128];
	unsigned long long top = 0;
	int lines = 0;

	ck_assert_int_eq(lvr_hmp(h, "info mtree -f", &out), 0);
	/* "0000000000100000-000000003fffffff (prio 0, ram): pc.ram @..." */
	snprintf(needle, sizeof(needle), "ram): %s", id);
	for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		unsigned long long a, b;
		char *n = strstr(l, needle);

		if (!n || (n[strlen(needle)] && n[strlen(needle)] != ' ') ||
		    sscanf(l, " %llx-%llx", &a, &b) != 2)
			continue;
		lines++;
		if (b + 1 > top)
			top = b + 1;
	}
	/* Below q35's 2 GiB split the RAM is one run from 0 to its size. */
	ck_assert_msg(lines > 0, "info mtree -f shows no RAM region of %s", id);
	ck_assert_msg(top == (unsigned long long)MEM_MB << 20,
		      "%s is mapped up to %#llx, not %d MiB", id, top, MEM_MB);
	fprintf(stderr, "libvirt_env: info mtree -f: %d RAM ranges of %s, up to %#llx\n", lines, id,
		top);
	free(out);
	free(id);
}
END_TEST

START_TEST(ram_file_is_the_guests)
{
	char *id = ram_memdev(), *out = NULL, q[256], path[512], needle[192];
	struct json_object *j, *v;
	char *rel = guest("uname -r", 30);
	struct stat st;
	void *p;
	int fd;

	snprintf(q, sizeof(q),
		 "{\"execute\":\"qom-get\",\"arguments\":{\"path\":\"/objects/"
		 "%s\",\"property\":\"mem-path\"}}",
		 id);
	ck_assert_msg(lvr_qmp(h, q, &out) == 0, "qom-get: %s", out ? out : "");
	j = json_tokener_parse(out);
	ck_assert_msg(j && json_object_object_get_ex(j, "return", &v), "qom-get answered %s", out);
	snprintf(path, sizeof(path), "%s", json_object_get_string(v));
	json_object_put(j);
	free(out);
	ck_assert_msg(stat(path, &st) == 0, "the RAM file %s does not exist", path);
	ck_assert_msg(S_ISREG(st.st_mode) && st.st_size == (off_t)MEM_MB << 20,
		      "the RAM file %s has %lld bytes, not %d MiB", path, (long long)st.st_size,
		      MEM_MB);
	/* And it is this guest's memory: the kernel's VMCOREINFO note names
	 * the release the guest runs. */
	fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	ck_assert(p != MAP_FAILED);
	snprintf(needle, sizeof(needle), "OSRELEASE=%s\n", rel);
	ck_assert_msg(memmem(p, (size_t)st.st_size, needle, strlen(needle)),
		      "no '%s' in %s: not the guest's RAM?", needle, path);
	munmap(p, (size_t)st.st_size);
	fprintf(stderr, "libvirt_env: RAM file %s (%d MiB) holds the guest's VMCOREINFO\n", path,
		MEM_MB);
	free(rel);
	free(id);
}
END_TEST

START_TEST(reset_brings_the_shell_back)
{
	char *before = guest("cat /proc/sys/kernel/random/boot_id", 30), *after, *msg = NULL;
	char *s;

	ck_assert_msg(lvr_reset(h, &msg) == 0, "reset: %s", msg);
	fprintf(stderr, "libvirt_env: virsh reset to the shell again: %.1f s\n",
		lvr_boot_seconds(h));
	after = guest("cat /proc/sys/kernel/random/boot_id", 30);
	ck_assert_msg(strcmp(before, after), "boot_id %s did not change: no reboot happened",
		      after);
	s = domstate();
	ck_assert_msg(!strcmp(s, "running"), "after reset virsh domstate says '%s'", s);
	free(s);
	free(before);
	free(after);
}
END_TEST

START_TEST(reboot_inside_brings_the_shell_back)
{
	char *before = guest("cat /proc/sys/kernel/random/boot_id", 30), *after, *msg = NULL;

	ck_assert_msg(lvr_reboot(h, &msg) == 0, "reboot: %s", msg);
	fprintf(stderr, "libvirt_env: systemctl reboot to the shell again: %.1f s\n",
		lvr_boot_seconds(h));
	after = guest("cat /proc/sys/kernel/random/boot_id", 30);
	ck_assert_msg(strcmp(before, after), "boot_id %s did not change: no reboot happened",
		      after);
	free(before);
	free(after);
}
END_TEST

/* A hook in /etc/libvirt/hooks/qemu.d/ that logs what libvirt tells it
 * about this domain into its temp dir; libvirtd needs the SIGHUP when it is
 * the first hook file. */
static void install_hook(char *hook, size_t len, char *log, size_t loglen)
{
	char *msg = NULL;
	FILE *f;

	snprintf(hook, len, "/etc/libvirt/hooks/qemu.d/%s-probe", lvr_name(h));
	snprintf(log, loglen, "%s/hooks.log", lvr_dir(h));
	f = fopen(hook, "w");
	ck_assert_msg(f, "cannot write %s", hook);
	fprintf(f, "#!/bin/sh\n[ \"$1\" = %s ] && echo \"$1 $2 $3 $4\" >>%s\nexit 0\n", lvr_name(h),
		log);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(hook, 0755), 0);
	ck_assert_msg(lvr_env_reload(&msg) == 0, "reload: %s", msg);
}

START_TEST(destroy_ends_it)
{
	const char *argv[] = {"destroy", lvr_name(h), NULL};
	char hook[256], log[256], want[128], *s;
	double t0;
	FILE *f;

	install_hook(hook, sizeof(hook), log, sizeof(log));
	t0 = now_s();
	free(virsh_ok("destroy", argv));
	fprintf(stderr, "libvirt_env: virsh destroy took %.1f s\n", now_s() - t0);
	unlink(hook);
	s = domstate();
	ck_assert_msg(!strcmp(s, "shut off"), "after destroy virsh domstate says '%s'", s);
	free(s);
	ck_assert_msg(lvr_exec(h, "true", NULL, 10) != 0, "the guest's shell still answers");
	/* libvirt ran the hook for the stop: "stopped end -", "release end -". */
	f = fopen(log, "r");
	ck_assert_msg(f, "the hook never ran (no %s)", log);
	s = calloc(1, 4096);
	ck_assert(s && fread(s, 1, 4095, f) > 0);
	fclose(f);
	snprintf(want, sizeof(want), "%s stopped end -\n%s release end -\n", lvr_name(h),
		 lvr_name(h));
	ck_assert_msg(!strcmp(s, want), "the hook saw '%s', not '%s'", s, want);
	fprintf(stderr, "libvirt_env: a qemu.d hook saw the stop: %s", s);
	free(s);
}
END_TEST

static TCase *libvirt_env_tcase(void)
{
	TCase *tc = tcase_create("libvirt_env");

	tcase_set_timeout(tc, 600);
	tcase_add_unchecked_fixture(tc, up, down);
	tcase_add_test(tc, domain_runs);
	tcase_add_test(tc, guest_runs_systemd);
	tcase_add_test(tc, kernel_is_the_image);
	tcase_add_test(tc, ram_mapped_in_mtree);
	tcase_add_test(tc, ram_file_is_the_guests);
	tcase_add_test(tc, reset_brings_the_shell_back);
	tcase_add_test(tc, reboot_inside_brings_the_shell_back);
	tcase_add_test(tc, destroy_ends_it);
	return tc;
}

GP_TCASE(libvirt_env_tcase)
