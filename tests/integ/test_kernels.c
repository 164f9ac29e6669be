// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The kernel matrix: every kernel Debian 12 ships (6.1 and 6.12, each as
 * amd64, cloud-amd64 and rt-amd64), one boot each, with the guest's own
 * view as the oracle:
 *
 *  - kallsyms equal to /proc/kallsyms, `vmm ps` to /proc, every still
 *    task's stack to /proc/PID/stack (oracle.c);
 *  - two patches on different functions (the shipped examples, built for
 *    that kernel with `vmm build --kernel`) applied under the per-task
 *    model, seen in the guest's /proc/cmdline and /proc/version and in
 *    `vmm list`, then unpatched: the guest's output is back, and its
 *    kernel text hashes as before the first patch;
 *  - no warning in the guest's log and no change in its taint flags
 *    (/proc/sys/kernel/tainted) from boot to the end.
 *
 * The kernels are fetched by `make kernels` (scripts/fetch-kernel.sh) from
 * Debian's meta packages; which one each flavour is, is in its directory's
 * release file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gp_check.h"
#include "oracle.h"
#include "patch_util.h"
#include "rig/rig.h"

static const char *const flavors[] = {
	"amd64", "cloud-amd64", "rt-amd64",
	"6.12-amd64", "6.12-cloud-amd64", "6.12-rt-amd64",
};

/* The guest's log lines that mean the kernel complained. */
static const char log_cmd[] =
	"dmesg | grep -e 'WARNING:' -e 'BUG:' -e 'Call Trace' -e 'Oops' -e 'livepatch' ; true";

static long tainted(struct rig *r)
{
	char *out = pu_guest(r, "cat /proc/sys/kernel/tainted");
	long v = strtol(out, NULL, 10);

	free(out);
	return v;
}

START_TEST(kernel_matrix)
{
	const char *flavor = flavors[_i];
	/* rt kernels: under TCG the threaded 8250 IRQ is otherwise found
	 * "nobody cared" and disabled, and the serial shell stalls. */
	struct rig_opts ro = { .flavor = flavor, .cpus = 2,
			       .append = strstr(flavor, "rt-") ? "noirqdebug" : NULL };
	char dir[] = "/tmp/gp-kernels-XXXXXX", marker[200], tag[200], *msg = NULL, *out, *log0;
	struct rig *r = rig_boot(&ro, &msg);
	struct hashes h0, h1;
	long taint0;
	int stacks;

	ck_assert_msg(r, "boot %s: %s", flavor, msg ? msg : "?");
	ck_assert(mkdtemp(dir));
	taint0 = tainted(r);
	log0 = pu_guest(r, log_cmd);

	oracle_kallsyms(r);
	oracle_ps(r, 2);
	stacks = oracle_stacks(r, NULL);

	snprintf(marker, sizeof(marker), "%s", pu_build(r, dir, "cmdline_marker", NULL, NULL));
	snprintf(tag, sizeof(tag), "%s", pu_build(r, dir, "version_tag", NULL, NULL));
	h0 = pu_hash_guest(r);
	ck_assert_msg(pu_vmm(r, "patch", marker, &out, NULL) == 0 && strstr(out, "(per-task)"),
		      "%s: patch cmdline_marker: %s", flavor, out);
	free(out);
	ck_assert_msg(pu_vmm(r, "patch", tag, &out, NULL) == 0 && strstr(out, "(per-task)"),
		      "%s: patch version_tag: %s", flavor, out);
	free(out);
	ck_assert(pu_guest_has(r, "cat /proc/cmdline", "guestpatch: cmdline-marker applied"));
	ck_assert(pu_guest_has(r, "cat /proc/version", "[guestpatch version-tag] Linux version"));
	ck_assert_int_eq(pu_vmm(r, "list", NULL, &out, NULL), 0);
	ck_assert_msg(strstr(out, "cmdline-marker: applied") && strstr(out, "version-tag: applied") &&
			      strstr(out, "cmdline_proc_show") && strstr(out, "version_proc_show"),
		      "%s: vmm list: %s", flavor, out);
	free(out);
	ck_assert_int_eq(pu_vmm(r, "unpatch", "version-tag", NULL, NULL), 0);
	ck_assert_int_eq(pu_vmm(r, "unpatch", "cmdline-marker", NULL, NULL), 0);
	ck_assert(!pu_guest_has(r, "cat /proc/cmdline /proc/version", "guestpatch"));
	h1 = pu_hash_guest(r);
	ck_assert_msg(h0.text == h1.text, "%s: kernel text differs after unpatch", flavor);

	ck_assert_int_eq(tainted(r), taint0);
	out = pu_guest(r, log_cmd);
	ck_assert_msg(!strcmp(out, log0), "%s: the guest's log gained:\n%s", flavor,
		      out + (strncmp(out, log0, strlen(log0)) ? 0 : strlen(log0)));
	free(out);
	free(log0);
	fprintf(stderr, "kernels: %s (%s): kallsyms, ps, %d stacks equal the guest's; 2 patches applied per task and removed; taint %ld unchanged\n",
		flavor, rig_kernel_release(r), stacks, taint0);
	rig_kill(r);
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		ck_assert_int_eq(system(cmd), 0);
	}
}
END_TEST

static TCase *kernels_tcase(void)
{
	TCase *tc = tcase_create("kernels");

	tcase_set_timeout(tc, 900);
	tcase_add_loop_test(tc, kernel_matrix, 0, (int)(sizeof(flavors) / sizeof(flavors[0])));
	return tc;
}
GP_TCASE(kernels_tcase)
