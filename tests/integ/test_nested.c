// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The real test of our own VMM: on the nested-KVM rig (tests/rig/nested.h)
 * `vmm run` boots a Debian kernel with the busybox initramfs, and the vmm
 * commands in the outer guest work against vmm:SOCKET as against QEMU:
 * info, ps, stack, patch (the inner guest's /proc/cmdline changes), list,
 * unpatch (it is restored). Then the guest reboots and the VMM ends
 * cleanly.
 *
 * The tests share one booted rig and run in order (Check forks each one;
 * state lives in the guests).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gp_check.h"
#include "rig/nested.h"

static struct nested *n;
static const char *boot_err;

static void up(void)
{
	char *msg = NULL;

	n = nested_boot(&(struct nested_opts){ .cpus = 2, .pause_log = true }, &msg);
	if (!n)
		boot_err = msg;
	else
		fprintf(stderr, "nested rig: outer guest up in %.1f s, inner guest (vmm run) at its init in %.1f s\n",
			nested_outer_boot_seconds(n), nested_inner_boot_seconds(n));
}

static void down(void)
{
	nested_kill(n);
}

static void need_rig(void)
{
	ck_assert_msg(n, "nested rig did not come up: %s", boot_err ? boot_err : "?");
}

static char *inner(const char *cmd)
{
	char *out = NULL;
	int rc = nested_inner(n, cmd, &out, 60);

	ck_assert_msg(rc == 0, "inner guest: '%s' exited %d: %s", cmd, rc, out ? out : "");
	return out;
}

/* vmm in the outer guest: "/nested/vmm SUB vmm:SOCK REST".  The inner
 * vCPUs run under KVM inside a TCG guest on two shared host cores, so a
 * pause there can take longer than the 500 ms real guests are allowed
 * (seen: 565 ms while other jobs ran); this rig tests the VMM, not the
 * bound (tests/integ/test_crash.c and the unit tests do), so it is 10 s. */
static int vmm(const char *sub, const char *rest, char **out)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "GP_MAX_PAUSE_MS=10000 /nested/vmm %s %s %s 2>&1", sub,
		 NESTED_TARGET, rest ? rest : "");
	return nested_outer(n, cmd, out, 300);
}

START_TEST(inner_boots)
{
	char *out;

	need_rig();
	out = inner("cat /proc/cmdline");
	ck_assert_msg(!strcmp(out, NESTED_APPEND "\n"), "inner /proc/cmdline: '%s'", out);
	free(out);
	out = inner("nproc");
	ck_assert_msg(atoi(out) == 2, "inner guest sees %s CPUs, expected 2", out);
	free(out);
	/* Console input arrives by interrupt (IRQ 4 through the IOAPIC). */
	out = inner("grep ttyS0 /proc/interrupts");
	ck_assert_msg(strstr(out, "IO-APIC") && strstr(out, "4-edge"), "ttyS0 interrupts: %s", out);
	free(out);
	/* The inject slot is not RAM to the guest: not in its e820 map. */
	out = inner("cat /proc/iomem");
	ck_assert_msg(strstr(out, "System RAM"), "iomem: %s", out);
	ck_assert_msg(!strstr(out, "c0000000"), "inject slot visible to the guest: %s", out);
	free(out);
	/* Known noise of this rig, not of the VMM: the SRSO advisory, and
	 * "XSAVE consistency problem" (fpu/xstate.c): the outer QEMU TCG
	 * CPU's XSAVE leaf and KVM's supported CPUID disagree on AVX state;
	 * QEMU -accel kvm in the same outer guest sees the same CPUID. */
	out = inner("dmesg | grep -v -e 'Speculative Return Stack Overflow' -e 'XSAVE consistency' "
		    "-e 'fpu/xstate.c' | grep -E 'WARNING|BUG|Oops' || true");
	ck_assert_msg(!*out, "inner kernel complained: %s", out);
	free(out);
}
END_TEST

START_TEST(vmm_commands)
{
	char *out = NULL;

	need_rig();
	ck_assert_msg(vmm("info", "--stats", &out) == 0, "vmm info: %s", out);
	ck_assert_msg(strstr(out, "release:        6."), "vmm info: %s", out);
	ck_assert_msg(strstr(out, "vCPUs:          2 (kernel: 2 online"), "vmm info: %s", out);
	/* RAM came through the memfd, not packet by packet. */
	ck_assert_msg(!strstr(out, " 0 fast,"), "no fast reads: %s", out);
	free(out);
	ck_assert_msg(vmm("ps", NULL, &out) == 0, "vmm ps: %s", out);
	ck_assert_msg(strstr(out, "      1       1 "), "vmm ps lacks pid 1: %s", out);
	ck_assert_msg(strstr(out, " idle"), "vmm ps lacks idle tasks: %s", out);
	free(out);
	ck_assert_msg(vmm("stack", "1", &out) == 0, "vmm stack 1: %s", out);
	ck_assert_msg(strstr(out, "reliable"), "vmm stack 1: %s", out);
	free(out);
}
END_TEST

START_TEST(patch_unpatch)
{
	char *before, *out = NULL;

	need_rig();
	before = inner("cat /proc/cmdline");
	ck_assert(!strstr(before, "guestpatch"));
	ck_assert_msg(vmm("patch", "/nested/cmdline_marker.o", &out) == 0, "vmm patch: %s", out);
	/* The per-task model, as on QEMU: the inner kernel has livepatch. */
	ck_assert_msg(strstr(out, "(per-task)"), "vmm patch: %s", out);
	free(out);
	ck_assert_msg(vmm("transition", NULL, &out) == 0, "vmm transition: %s", out);
	free(out);
	out = inner("cat /proc/cmdline");
	ck_assert_msg(strstr(out, "guestpatch: cmdline-marker applied\n" NESTED_APPEND), "patched /proc/cmdline: %s", out);
	free(out);
	ck_assert_msg(vmm("list", NULL, &out) == 0 && strstr(out, "cmdline-marker"), "vmm list: %s", out);
	free(out);
	ck_assert_msg(vmm("unpatch", "cmdline-marker", &out) == 0, "vmm unpatch: %s", out);
	free(out);
	out = inner("cat /proc/cmdline");
	ck_assert_msg(!strcmp(out, before), "after unpatch: '%s', before: '%s'", out, before);
	free(out);
	free(before);
}
END_TEST

START_TEST(pause_latency)
{
	char *out = NULL, *p;
	int count = 0, under = 0;
	double worst = 0;

	need_rig();
	ck_assert(nested_outer(n, "grep 'vmm: pause:' /tmp/inner.err", &out, 30) == 0);
	for (p = out; (p = strstr(p, " in ")); p += 4) {
		double ms = atof(p + 4);

		worst = ms > worst ? ms : worst;
		under += ms < 1.0;
		count++;
	}
	ck_assert_msg(count > 0, "no pause logged: %s", out);
	fprintf(stderr, "nested rig, own VMM, 2 vCPUs: %d pauses, %d within 1 ms, worst %.3f ms\n", count,
		under, worst);
	/* Target 1 ms (issue 6; make bench reports how often it is met).
	 * Here the bound is one for a broken pause: on this rig a kick is a
	 * signal in the outer guest whose vCPUs are QEMU TCG threads on a
	 * 2-core host, and from 9 to 24 of 24 pauses made 1 ms, the worst
	 * taking up to 14 ms, depending on the host's load. */
	ck_assert_msg(worst < 50, "pause took %.3f ms", worst);
	free(out);
}
END_TEST

START_TEST(reboot_ends_vmm)
{
	char *out = NULL;

	need_rig();
	/* The reply never comes: the guest is gone. */
	nested_inner(n, "reboot -f", NULL, 5);
	ck_assert_msg(nested_outer(n,
				   NESTED_WAIT_RC "; cat /tmp/inner.err; test -e " NESTED_SOCK " && echo socket-left; true",
				   &out, 60) == 0,
		      "waiting for the VMM: %s", out);
	ck_assert_msg(strstr(out, "rc=0") && strstr(out, "the guest rebooted"), "VMM after reboot: %s", out);
	ck_assert_msg(!strstr(out, "socket-left"), "control socket left behind: %s", out);
	free(out);
}
END_TEST

/* The PVH entry: the vmlinux ELF inside the same Debian package, booted
 * in the same outer guest after the bzImage guest rebooted. */
START_TEST(pvh_boot)
{
	char *msg = NULL, *out = NULL;

	need_rig();
	ck_assert_msg(nested_start_inner(n, &(struct nested_opts){ .cpus = 2, .kernel = "/nested/vmlinux" },
					 &msg) == 0,
		      "PVH boot: %s", msg);
	fprintf(stderr, "nested rig: vmlinux through the PVH entry at its init in %.1f s\n",
		nested_inner_boot_seconds(n));
	out = inner("cat /proc/cmdline; nproc; dmesg | grep -c 'Booting paravirtualized kernel on KVM'");
	ck_assert_msg(!strcmp(out, NESTED_APPEND "\n2\n1\n"), "PVH guest: %s", out);
	free(out);
	ck_assert_msg(vmm("info", NULL, &out) == 0 && strstr(out, "KASLR offset:   0x0\n"), "vmm info: %s", out);
	free(out);
	ck_assert_int_eq(nested_stop_inner(n), 128 + 15);
}
END_TEST

static TCase *nested_tcase(void)
{
	TCase *tc = tcase_create("nested");

	tcase_set_timeout(tc, 900);
	tcase_add_unchecked_fixture(tc, up, down);
	tcase_add_test(tc, inner_boots);
	tcase_add_test(tc, vmm_commands);
	tcase_add_test(tc, patch_unpatch);
	tcase_add_test(tc, pause_latency);
	tcase_add_test(tc, reboot_ends_vmm);
	tcase_add_test(tc, pvh_boot);
	return tc;
}
GP_TCASE(nested_tcase)
