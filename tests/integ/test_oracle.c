// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Oracles we did not write (oracle.c): `vmm ps` against the guest's /proc
 * with 1, 2 and 4 vCPUs, and the fallback sources (--vmlinux, --system-map)
 * against guest memory.  kallsyms and stacks are checked on every kernel
 * in test_kernels.c.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gp_check.h"
#include "kernel.h"
#include "oracle.h"
#include "patch_util.h"
#include "rig/rig.h"
#include "target.h"

/* ---- ps, with 1, 2 and 4 vCPUs (the kallsyms oracle runs on every
 * kernel in test_kernels.c) ---- */

static void check_ps(int cpus)
{
	struct rig_opts ro = { .flavor = "amd64", .cpus = cpus };
	char *errmsg = NULL;
	struct rig *r = rig_boot(&ro, &errmsg);

	ck_assert_msg(r, "boot: %s", errmsg ? errmsg : "?");
	oracle_ps(r, cpus);
	if (cpus == 1) {
		/* A kernel booted on one CPU runs with its LOCK prefixes made
		 * DS prefixes: the per-task model must still read its
		 * TIF_PATCH_PENDING from klp_update_patch_state's code. */
		char dir[64] = "/tmp/gp-up-XXXXXX", rest[300], *err = NULL;
		const char *marker = "guestpatch: cmdline-marker applied";

		ck_assert(mkdtemp(dir));
		snprintf(rest, sizeof(rest), "%s --model per-task",
			 pu_build(r, dir, "cmdline_marker", NULL, NULL));
		ck_assert_msg(pu_vmm(r, "patch", rest, NULL, &err) == 0, "per-task patch, 1 vCPU: %s", err);
		free(err);
		ck_assert(pu_guest_has(r, "cat /proc/cmdline", marker));
		ck_assert_msg(pu_vmm(r, "unpatch", "cmdline-marker --model per-task", NULL, &err) == 0,
			      "unpatch, 1 vCPU: %s", err);
		free(err);
		ck_assert(!pu_guest_has(r, "cat /proc/cmdline", marker));
	}
	rig_kill(r);
}

START_TEST(ps_1cpu)
{
	check_ps(1);
}
END_TEST

START_TEST(ps_2cpu)
{
	check_ps(2);
}
END_TEST

START_TEST(ps_4cpu)
{
	check_ps(4);
}
END_TEST

static TCase *ps_oracle_tcase(void)
{
	TCase *tc = tcase_create("ps_oracle");

	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, ps_1cpu);
	tcase_add_test(tc, ps_2cpu);
	tcase_add_test(tc, ps_4cpu);
	return tc;
}
GP_TCASE(ps_oracle_tcase)

/* ---- fallbacks: --vmlinux (BTF and ORC from the vmlinuz file) and
 * --system-map (symbols from a System.map) give what memory gives ---- */

START_TEST(fallback_sources)
{
	struct rig_opts ro = { .flavor = "amd64", .cpus = 2 };
	char *errmsg = NULL, *out1 = NULL, *out2 = NULL, *err = NULL, args[1024], map[256];
	struct rig *r = rig_boot(&ro, &errmsg);
	struct tgt *t = NULL;
	struct kern *k = NULL;
	size_t len;
	char *ks, *line, *save = NULL;
	uint64_t kaslr;
	char bad[300];
	FILE *f, *fbad;

	ck_assert_msg(r, "boot: %s", errmsg ? errmsg : "?");
	/* BTF and ORC from the vmlinuz: the same stacks as from memory. */
	snprintf(args, sizeof(args), "stack %s 1 2 --json", rig_target(r));
	ck_assert_int_eq(rig_run_tool(r, args, &out1, NULL), 0);
	snprintf(args, sizeof(args), "stack %s 1 2 --json --vmlinux %s", rig_target(r), rig_kernel_path(r));
	ck_assert_msg(rig_run_tool(r, args, &out2, &err) == 0, "%s", err);
	ck_assert_msg(!strcmp(out1, out2), "stacks differ:\n%s\n%s", out1, out2);
	free(out1);
	free(out2);
	free(err);
	snprintf(args, sizeof(args), "info --json %s --vmlinux %s", rig_target(r), rig_kernel_path(r));
	ck_assert_int_eq(rig_run_tool(r, args, &out1, NULL), 0);
	ck_assert_msg(strstr(out1, "vmlinux .BTF"), "%s", out1);
	free(out1);
	/* A System.map made from the guest's kallsyms, minus the KASLR offset. */
	/* (QEMU's gdbstub serves one client at a time: close before vmm runs.) */
	ck_ok(tgt_open(rig_target(r), &t));
	ck_ok(kern_attach(t, NULL, &k));
	kaslr = k->kaslr_offset;
	kern_detach(k);
	tgt_close(t);
	ck_assert_int_eq(rig_exec_bulk(r, "cat /proc/kallsyms", &ks, &len, 300), 0);
	snprintf(map, sizeof(map), "/tmp/gp-sysmap-%d", (int)getpid());
	snprintf(bad, sizeof(bad), "%s.bad", map);
	f = fopen(map, "w");
	fbad = fopen(bad, "w");
	ck_assert(f && fbad);
	for (line = strtok_r(ks, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long long a;
		char type, name[600];

		if (strchr(line, '[') || sscanf(line, "%llx %c %599s", &a, &type, name) != 3)
			continue;
		if (type != 'A' || a >= 0xffffffff80000000ull)
			a -= kaslr;
		fprintf(f, "%016llx %c %s\n", a, type, name);
		/* The "wrong kernel": every moving symbol 2 MiB off. */
		fprintf(fbad, "%016llx %c %s\n", type == 'A' ? a : a + 0x200000, type, name);
	}
	fclose(f);
	fclose(fbad);
	free(ks);
	snprintf(args, sizeof(args), "sym %s cmdline_proc_show init_task --system-map %s", rig_target(r), map);
	ck_assert_msg(rig_run_tool(r, args, &out1, &err) == 0, "sym --system-map: %s", err);
	snprintf(args, sizeof(args), "sym %s cmdline_proc_show init_task", rig_target(r));
	ck_assert_int_eq(rig_run_tool(r, args, &out2, NULL), 0);
	ck_assert_msg(!strcmp(out1, out2) && strstr(out1, "cmdline_proc_show"), "%s vs %s (%s)", out1, out2, err);
	free(out1);
	free(out2);
	free(err);
	/* A System.map from another kernel (shifted by 2 MiB) is refused. */
	snprintf(args, sizeof(args), "sym %s init_task --system-map %s", rig_target(r), bad);
	ck_assert(rig_run_tool(r, args, NULL, &err) != 0);
	ck_assert_msg(strstr(err, "wrong System.map"), "%s", err);
	free(err);
	unlink(bad);
	unlink(map);
	rig_kill(r);
}
END_TEST

static TCase *fallbacks_tcase(void)
{
	TCase *tc = tcase_create("fallbacks");

	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, fallback_sources);
	return tc;
}
GP_TCASE(fallbacks_tcase)
