// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_startup.c - vmm starts without libvirt and libxml2 (issue 14).
 *
 * They are dlopened when a command needs them (target/lvlib.h,
 * manage/xmllib.h), so they must not be NEEDED by build/vmm, a command that
 * does not need them must not load them, and a libvirt: target must still
 * load them and reach libvirt's functions through the table.  libvirt's
 * built-in test driver (test:///default) stands in for libvirtd here; the
 * libvirt and libvirt_env tcases drive a real libvirtd.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gp_check.h"
#include "rig/rig.h"

/* Runs CMD through sh; its stdout and stderr, malloc'd; exit status. */
static int run(const char *cmd, char **out)
{
	char path[] = "/tmp/gp-startup-XXXXXX", full[4096];
	int fd = mkstemp(path), st;

	ck_assert_int_ge(fd, 0);
	snprintf(full, sizeof(full), "%s >%s 2>&1", cmd, path);
	st = system(full);
	*out = rig_slurp(path);
	unlink(path);
	close(fd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

START_TEST(vmm_does_not_link_libvirt)
{
	char cmd[512], *out;
	int st;

	snprintf(cmd, sizeof(cmd), "readelf -d %s/vmm", rig_build_dir());
	st = run(cmd, &out);
	ck_assert_msg(st == 0, "readelf: %s", out);
	/* readelf works and shows the NEEDED list: libc is there. */
	ck_assert_msg(strstr(out, "(NEEDED)") && strstr(out, "[libc.so.6]"), "no NEEDED list: %s",
		      out);
	ck_assert_msg(!strstr(out, "libvirt"), "vmm still NEEDS libvirt: %s", out);
	ck_assert_msg(!strstr(out, "libxml2"), "vmm still NEEDS libxml2: %s", out);
	free(out);
}
END_TEST

START_TEST(non_libvirt_command_loads_no_libvirt)
{
	char cmd[512], *out;
	int st;

	/* LD_DEBUG=files lists every object the dynamic linker loads. */
	snprintf(cmd, sizeof(cmd), "LD_DEBUG=files %s/vmm --help", rig_build_dir());
	st = run(cmd, &out);
	ck_assert_msg(st == 0, "vmm --help exited %d: %s", st, out);
	ck_assert_msg(strstr(out, "Commands:"), "no usage: %s", out);
	ck_assert_msg(strstr(out, "file=libc.so.6"), "LD_DEBUG shows no loads: %s", out);
	ck_assert_msg(!strstr(out, "file=libvirt"),
		      "vmm --help loaded libvirt: %s", out);
	ck_assert_msg(!strstr(out, "file=libxml2"), "vmm --help loaded libxml2: %s", out);
	free(out);
}
END_TEST

START_TEST(libvirt_target_loads_libvirt_on_demand)
{
	char cmd[512], *out;
	int st;

	/* A domain the test driver lacks: lv_open connected, looked it up. */
	snprintf(cmd, sizeof(cmd),
		 "LD_DEBUG=files %s/vmm info 'libvirt:gp-no-such-domain,uri=test:///default'",
		 rig_build_dir());
	st = run(cmd, &out);
	ck_assert_msg(st == 1, "exit %d: %s", st, out);
	ck_assert_msg(strstr(out, "file=libvirt.so.0") && strstr(out, "file=libvirt-qemu.so.0"),
		      "libvirt not dlopened: %s", out);
	ck_assert_msg(strstr(out, "libvirt at test:///default has no domain 'gp-no-such-domain'"),
		      "no lookup error: %s", out);
	free(out);
	/* Its domain "test": a libvirt-qemu call made, refused by that driver. */
	snprintf(cmd, sizeof(cmd), "%s/vmm info 'libvirt:test,uri=test:///default'",
		 rig_build_dir());
	st = run(cmd, &out);
	ck_assert_msg(st == 1, "exit %d: %s", st, out);
	ck_assert_msg(strstr(out, "not supported by the connection driver: virDomainQemuMonitorCommand"),
		      "monitor call not reached: %s", out);
	free(out);
}
END_TEST

/*
 * libvirt and libxml2 made unloadable: in a mount namespace of its own,
 * /dev/null is bound over both libraries' files (root, as the tests run).
 * A non-libvirt command runs; a libvirt: target says what is missing.
 */
#define HIDE_LIBS                                                                        \
	"unshare -m sh -c 'for l in libvirt.so.0 libxml2.so.2; do "                        \
	"f=$(readlink -f \"$(ldconfig -p | awk -v l=$l \"\\$1 == l {print \\$NF; exit}\")\"); " \
	"[ -f \"$f\" ] && mount --bind /dev/null \"$f\" || exit 99; done; "                 \
	"exec \"$0\" \"$@\"' "

START_TEST(runs_with_libvirt_and_libxml2_absent)
{
	char cmd[1024], *out;
	int st;

	snprintf(cmd, sizeof(cmd), HIDE_LIBS "%s/vmm --help", rig_build_dir());
	st = run(cmd, &out);
	ck_assert_msg(st == 0, "vmm --help without libvirt exited %d: %s", st, out);
	ck_assert_msg(strstr(out, "Commands:"), "no usage: %s", out);
	free(out);
	snprintf(cmd, sizeof(cmd), HIDE_LIBS "%s/vmm info 'libvirt:x,uri=test:///default'",
		 rig_build_dir());
	st = run(cmd, &out);
	ck_assert_msg(st == 1, "exit %d: %s", st, out);
	ck_assert_msg(strstr(out, "libvirt is not installed (") && strstr(out, "libvirt.so.0") &&
			      strstr(out, "apt-get install libvirt0"),
		      "no clear error for a missing libvirt: %s", out);
	free(out);
}
END_TEST

static TCase *startup_tcase(void)
{
	TCase *tc = tcase_create("startup");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, vmm_does_not_link_libvirt);
	tcase_add_test(tc, non_libvirt_command_loads_no_libvirt);
	tcase_add_test(tc, libvirt_target_loads_libvirt_on_demand);
	tcase_add_test(tc, runs_with_libvirt_and_libxml2_absent);
	return tc;
}
GP_TCASE(startup_tcase)
