// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * bench "kmod": a Linux livepatch module (the kernel's selftest module
 * test_klp_livepatch.ko, built for the guest kernel by
 * scripts/klp-samples.sh) applied two ways, side by side in one run on
 * one guest:
 *  - from outside: `vmm patch TARGET FILE.ko`, the whole process (attach,
 *    read the module and the guest's exports, link, the per-task
 *    transition) timed on the host, then `vmm unpatch`;
 *  - by the guest itself: insmod (finit_module) until
 *    /sys/kernel/livepatch/NAME/transition reads 0, timed inside the guest
 *    (tests/guest/klptime.c), then disabled and unloaded.
 * Medians of KMOD_RUNS; the machines are noisy.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "gp_error.h"
#include "gp_time.h"
#include "rig/rig.h"

#define KMOD_RUNS 7

static double run_ms(struct rig *r, const char *args)
{
	uint64_t t0 = gp_now_ns();
	char *err = NULL;
	int rc = rig_run_tool(r, args, NULL, &err);

	if (rc) {
		fprintf(stderr, "gp-bench: vmm %s: exit %d: %s\n", args, rc, err ? err : "");
		exit(1);
	}
	free(err);
	return (gp_now_ns() - t0) / 1e6;
}

static void bench_kmod(void)
{
	struct rig_opts ro = { .flavor = "amd64", .cpus = 2, .mem_mb = 512 };
	double ours[KMOD_RUNS], ours_un[KMOD_RUNS], guest[KMOD_RUNS], guest_un[KMOD_RUNS];
	char ko[300], args[600], *errmsg = NULL;
	struct rig *r;

	snprintf(ko, sizeof(ko), "%s/klp-samples/test_klp_livepatch.ko", rig_build_dir());
	r = rig_boot(&ro, &errmsg);
	if (!r) {
		bench_report("kmod: FAILED to boot: %s\n", errmsg);
		return;
	}
	bench_report("# livepatch modules: %s applied from outside and by the guest's insmod, kernel %s, %d vCPUs, QEMU TCG\n",
		     "test_klp_livepatch.ko", rig_kernel_release(r), ro.cpus);
	for (int i = 0; i < KMOD_RUNS; i++) {
		char *out = NULL, *p;

		snprintf(args, sizeof(args), "patch %s %s", rig_target(r), ko);
		ours[i] = run_ms(r, args);
		snprintf(args, sizeof(args), "unpatch %s test_klp_livepatch", rig_target(r));
		ours_un[i] = run_ms(r, args);
		if (rig_exec(r, "klptime enable /bin/test_klp_livepatch.ko && klptime disable test_klp_livepatch",
			     &out, 300) != 0 || !(p = strstr(out, "enable ")) ||
		    sscanf(p, "enable %lf", &guest[i]) != 1 || !(p = strstr(out, "disable ")) ||
		    sscanf(p, "disable %lf", &guest_un[i]) != 1) {
			bench_report("kmod: the guest's own insmod FAILED: %s\n", out ? out : "");
			free(out);
			rig_kill(r);
			return;
		}
		free(out);
	}
	{
		double om = bench_median_d(ours, KMOD_RUNS), gm = bench_median_d(guest, KMOD_RUNS);
		double oum = bench_median_d(ours_un, KMOD_RUNS), gum = bench_median_d(guest_un, KMOD_RUNS);

		bench_report("kmod: vmm patch FILE.ko, whole process, %d runs: median %.1f ms, worst %.1f ms; vmm unpatch median %.1f ms\n",
			     KMOD_RUNS, om, ours[KMOD_RUNS - 1], oum);
		bench_report("kmod: the guest's own insmod of the same module until its transition is over: median %.1f ms, worst %.1f ms; disable+unload median %.1f ms\n",
			     gm, guest[KMOD_RUNS - 1], gum);
		bench_report("kmod: ratio insmod / vmm patch at the median: %.2f (vmm's time includes attaching from outside; the guest's is its in-kernel time only)\n",
			     gm / om);
	}
	rig_kill(r);
}
GP_BENCH("kmod", bench_kmod)
