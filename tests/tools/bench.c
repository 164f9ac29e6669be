// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * gp-bench - benchmarks on a real guest (make bench). Results are appended
 * to the file named by argv[1] and printed.  These machines are noisy:
 * compare ratios measured in one run, and the guest pause time the tool
 * itself records.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "kernel.h"
#include "kvmvm.h"
#include "lp_patch.h"
#include "rig/nested.h"
#include "rig/rig.h"
#include "stack.h"
#include "stacks.h"
#include "target.h"
#include "tasks.h"

#define RUNS 21

static FILE *outf;

#define report bench_report
#define MAX_BENCH 32

static struct {
	const char *name;
	gp_bench_fn fn;
} benches[MAX_BENCH];
static int nr_benches;

void gp_register_bench(const char *name, gp_bench_fn fn)
{
	if (nr_benches < MAX_BENCH) {
		benches[nr_benches].name = name;
		benches[nr_benches].fn = fn;
		nr_benches++;
	}
}

bool bench_selected(const char *name)
{
	const char *sel = getenv("GP_BENCH_ONLY");
	size_t n = strlen(name);
	const char *p;

	if (!sel || !*sel)
		return true;
	for (p = sel; (p = strstr(p, name)); p += n)
		if ((p == sel || p[-1] == ',') && (p[n] == ',' || !p[n]))
			return true;
	return false;
}

static int cmp_double_(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double bench_median_d(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double_);
	return v[n / 2];
}

void bench_report(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	va_start(ap, fmt);
	vfprintf(outf, fmt, ap);
	va_end(ap);
	fflush(stdout);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

#define median_ms bench_median_ms
double bench_median_ms(uint64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_u64);
	return v[n / 2] / 1e6;
}

#define die bench_die
void bench_die(struct gp_error *err, const char *what)
{
	fprintf(stderr, "gp-bench: %s: %s\n", what, err ? err->msg : "failed");
	exit(1);
}

#define MRUNS 7

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Patch and unpatch MRUNS times with each model: completion time (the
 * whole operation, tool side) and the guest pause, median and worst. */
struct ours {
	double median_ms, worst_ms;	/* per-task patch completion */
};

static struct ours models(struct kern *k, const char *obj, const char *label)
{
	struct ours res = { 0, 0 };
	static const struct {
		enum lp_model m;
		const char *name;
	} ms[] = { { LP_MODEL_PER_TASK, "per-task" }, { LP_MODEL_GLOBAL, "global" } };

	for (size_t mi = 0; mi < ARRAY_SIZE(ms); mi++) {
		uint64_t done[MRUNS], pause[MRUNS], check[MRUNS], write[MRUNS], stop[MRUNS];
		uint64_t udone[MRUNS], upause[MRUNS];
		struct lp_opts o = { .timeout_s = 30, .model = ms[mi].m };
		struct lp_report rep;
		struct gp_error *err;
		int attempts = 0;

		for (int i = 0; i < MRUNS; i++) {
			if ((err = lp_apply(k, obj, &o, &rep)))
				die(err, "patch");
			done[i] = (uint64_t)(rep.elapsed_ms * 1e6);
			pause[i] = rep.pause_ns_total;
			check[i] = rep.check_ns;
			write[i] = rep.write_ns;
			stop[i] = rep.stop_ns;
			attempts += rep.attempts;
			if ((err = lp_remove(k, "cmdline-marker", &o, &rep)))
				die(err, "unpatch");
			udone[i] = (uint64_t)(rep.elapsed_ms * 1e6);
			upause[i] = rep.pause_ns_total;
		}
		/* median_ms() sorts in place: [MRUNS - 1] is then the worst. */
		median_ms(done, MRUNS);
		median_ms(pause, MRUNS);
		median_ms(udone, MRUNS);
		median_ms(upause, MRUNS);
		median_ms(check, MRUNS);
		median_ms(write, MRUNS);
		median_ms(stop, MRUNS);
		report("patch, %s model, %s, %d runs: completion median %.1f ms, worst %.1f ms (%.1f attempts on average); guest paused median %.3f ms, worst %.3f ms in all (last pause: stop %.3f, stack check %.3f, writes %.3f ms); unpatch completion median %.1f ms, worst %.1f ms, paused median %.3f ms\n",
		       ms[mi].name, label, MRUNS, done[MRUNS / 2] / 1e6, done[MRUNS - 1] / 1e6,
		       attempts / (double)MRUNS, pause[MRUNS / 2] / 1e6, pause[MRUNS - 1] / 1e6,
		       stop[MRUNS / 2] / 1e6, check[MRUNS / 2] / 1e6, write[MRUNS / 2] / 1e6,
		       udone[MRUNS / 2] / 1e6, udone[MRUNS - 1] / 1e6, upause[MRUNS / 2] / 1e6);
		if (ms[mi].m == LP_MODEL_PER_TASK) {
			res.median_ms = done[MRUNS / 2] / 1e6;
			res.worst_ms = done[MRUNS - 1] / 1e6;
		}
	}
	return res;
}

/* The guest's own livepatch on the same function and workload: a module
 * built against Debian's linux-headers, loaded and unloaded KRUNS times
 * (tests/guest/klptime.c times each transition inside the guest). */
#define KRUNS 5

static void yardstick(struct rig *r, const char *label, struct ours o)
{
	double en[KRUNS], dis[KRUNS];

	for (int i = 0; i < KRUNS; i++) {
		char *out = NULL, *p;

		if (rig_exec(r, "klptime enable /bin/gp_klp_cmdline.ko && klptime disable gp_klp_cmdline",
			     &out, 300) != 0 || !(p = strstr(out, "enable ")) ||
		    sscanf(p, "enable %lf", &en[i]) != 1 || !(p = strstr(out, "disable ")) ||
		    sscanf(p, "disable %lf", &dis[i]) != 1)
			die(NULL, "the guest's own livepatch (klptime)");
		free(out);
	}
	qsort(en, KRUNS, sizeof(*en), cmp_double);
	qsort(dis, KRUNS, sizeof(*dis), cmp_double);
	if (o.median_ms <= 0) {	/* ours could not run here (said above) */
		report("the guest's own livepatch, same patch, %s, %d runs: transition median %.1f ms, worst %.1f ms (unpatch median %.1f ms, worst %.1f ms); ours: not measured\n",
		       label, KRUNS, en[KRUNS / 2], en[KRUNS - 1], dis[KRUNS / 2], dis[KRUNS - 1]);
		return;
	}
	report("the guest's own livepatch, same patch, %s, %d runs: transition median %.1f ms, worst %.1f ms (unpatch median %.1f ms, worst %.1f ms); ours (per-task) median %.1f ms, worst %.1f ms: %.0fx faster at the median, %.0fx at the worst\n",
	       label, KRUNS, en[KRUNS / 2], en[KRUNS - 1], dis[KRUNS / 2], dis[KRUNS - 1],
	       o.median_ms, o.worst_ms, en[KRUNS / 2] / o.median_ms, en[KRUNS - 1] / o.worst_ms);
}

/* Linux 6.12 (Debian's 6.12-amd64, booted with the initramfs holding
 * the livepatch module built against its headers): the guest's own
 * livepatch beside ours, on an idle guest (cmdline_proc_show starts with
 * endbr64 there, its ftrace NOP at +4). Ours is said FAILED, not
 * measured, if the patch engine refuses it. */
static void bench_612(void)
{
	char initrd[300], src[300], obj[300], cmd[1024], *errmsg = NULL;
	struct rig_opts ro = { .flavor = "6.12-amd64", .cpus = 2, .mem_mb = 512, .initrd = initrd };
	struct lp_opts lo = { .timeout_s = 30, .model = LP_MODEL_PER_TASK };
	struct ours o = { 0, 0 };
	struct lp_report rep;
	struct gp_error *err;
	struct tgt *t = NULL;
	struct kern *k = NULL;
	struct rig *r;

	snprintf(initrd, sizeof(initrd), "%s/guest/initramfs-6.12-amd64.cpio.gz", rig_build_dir());
	r = rig_boot(&ro, &errmsg);
	if (!r) {
		report("Linux 6.12: FAILED to boot: %s\n", errmsg);
		return;
	}
	report("# Linux 6.12: kernel %s, %d vCPUs, %d MiB, QEMU TCG\n", rig_kernel_release(r), ro.cpus,
	       ro.mem_mb);
	if ((err = tgt_open(rig_target(r), &t)) || (err = kern_attach(t, NULL, &k)))
		die(err, "attach (6.12)");
	/* The shipped example, built for this kernel. */
	snprintf(src, sizeof(src), "guest-agent/examples/cmdline_marker.c");
	snprintf(obj, sizeof(obj), "%s/bench_cmdline_612.o", rig_build_dir());
	snprintf(cmd, sizeof(cmd), "%s/vmm build %s -o %s --kernel %s >/dev/null", rig_build_dir(), src,
		 obj, rig_kernel_path(r));
	if (system(cmd))
		die(NULL, "build the example patch for 6.12");
	if ((err = lp_apply(k, obj, &lo, &rep))) {
		report("patch, per-task model, idle guest, 6.12: FAILED: %s\n", err->msg);
		gp_error_destroy(err);
	} else if ((err = lp_remove(k, "cmdline-marker", &lo, &rep))) {
		die(err, "unpatch (6.12)");
	} else {
		o = models(k, obj, "idle guest, 6.12");
	}
	yardstick(r, "idle guest, 6.12", o);
	kern_detach(k);
	tgt_close(t);
	rig_kill(r);
}

static void bench_base(void)
{
	struct rig_opts ro = { .flavor = "amd64", .cpus = 2, .mem_mb = 512 };
	uint64_t attach[RUNS], list[RUNS], pause[RUNS], stop[RUNS], resume[RUNS];
	struct task_offsets toff;
	struct gp_error *err;
	struct kern *k = NULL;
	struct tgt *t = NULL, *tg = NULL;
	char *errmsg = NULL;
	struct rig *r;
	size_t ntasks = 0;
	char obj[256];
	double gdb_mbps = 0;
	static uint8_t buf[1 << 20];

	r = rig_boot(&ro, &errmsg);
	if (!r) {
		fprintf(stderr, "gp-bench: boot: %s\n", errmsg);
		exit(1);
	}
	report("# guestpatch benchmarks: kernel %s, %d vCPUs, %d MiB, QEMU TCG\n",
	       rig_kernel_release(r), ro.cpus, ro.mem_mb);

	/* 1. the gdbstub alone (it serves one client at a time: first). */
	if ((err = tgt_open(rig_target_nomem(r), &tg)))
		die(err, "open gdbstub-only target");
	{
		struct kern *kg = NULL;
		uint64_t t0, t2;

		err = kern_attach(tg, NULL, &kg);
		if (err) {
			report("attach through the gdbstub only: FAILED: %s\n", err->msg);
			gp_error_destroy(err);
		} else {
			report("attach through the gdbstub only: %.1f ms (%llu bytes read), guest paused %.1f ms\n",
			       kg->attach_ns / 1e6, (unsigned long long)tg->stats.bytes_read,
			       kg->attach_pause_ns / 1e6);
			kern_detach(kg);
		}
		if ((err = tgt_pause(tg)))
			die(err, "pause");
		t0 = gp_now_ns();
		if ((err = tgt_read_phys(tg, 16ull << 20, buf, sizeof(buf))))
			die(err, "gdb read");
		t2 = gp_now_ns() - t0;
		if ((err = tgt_resume(tg)))
			die(err, "resume");
		gdb_mbps = sizeof(buf) / (t2 / 1e3);
		report("pause/resume latency, gdbstub: stop %.3f ms, resume %.3f ms\n",
		       tg->stats.last_stop_ns / 1e6, tg->stats.last_resume_ns / 1e6);
	}
	tgt_close(tg);

	/* 2. attach + VMCOREINFO scan + kallsyms decode + BTF, RAM file. */
	if ((err = tgt_open(rig_target(r), &t)))
		die(err, "open target");
	for (int i = 0; i < RUNS; i++) {
		if ((err = kern_attach(t, NULL, &k)))
			die(err, "attach");
		attach[i] = k->attach_ns;
		pause[i] = k->attach_pause_ns;
		if (i < RUNS - 1)
			kern_detach(k);
	}
	report("attach (scan VMCOREINFO, decode %zu symbols, load BTF), RAM file: median %.2f ms tool time, guest paused %.3f ms (median of %d)\n",
	       k->syms->nr, median_ms(attach, RUNS), median_ms(pause, RUNS), RUNS);

	/* 3. physical read throughput: RAM file vs gdbstub. */
	{
		uint64_t t0, t1;

		if ((err = tgt_pause(t)))
			die(err, "pause");
		t0 = gp_now_ns();
		for (int i = 0; i < 64; i++)
			if ((err = tgt_read_phys(t, 16ull << 20, buf, sizeof(buf))))
				die(err, "read");
		t1 = gp_now_ns();
		if ((err = tgt_resume(t)))
			die(err, "resume");
		report("physical reads: RAM file %.0f MB/s, gdbstub %.2f MB/s (ratio %.0fx)\n",
		       64.0 * sizeof(buf) / ((t1 - t0) / 1e3), gdb_mbps,
		       (64.0 * sizeof(buf) / ((t1 - t0) / 1e3)) / gdb_mbps);
	}

	/* 3b. patch and unpatch on the idle guest, both models. */
	snprintf(obj, sizeof(obj), "%s/bench_cmdline.o", rig_build_dir());
	{
		char cmd[1024];

		snprintf(cmd, sizeof(cmd), "%s/vmm build guest-agent/examples/cmdline_marker.c -o %s --kernel %s >/dev/null",
			 rig_build_dir(), obj, rig_kernel_path(r));
		if (system(cmd))
			die(NULL, "build the example patch");
	}
	yardstick(r, "idle guest", models(k, obj, "idle guest"));

	/* 4. list every task of a guest running ~1000 threads. */
	if (rig_exec(r, "spawn 10 100 3600 >/dev/null 2>&1 & sleep 5", NULL, 300) != 0)
		die(NULL, "start 1000-thread workload");
	if ((err = task_offsets_init(k, &toff)))
		die(err, "task layout");
	for (int i = 0; i < RUNS; i++) {
		struct task_list l;
		uint64_t t0;

		if ((err = tgt_pause(t)))
			die(err, "pause");
		t0 = gp_now_ns();
		if ((err = task_list_all(k, &toff, &l)))
			die(err, "task list");
		list[i] = gp_now_ns() - t0;
		ntasks = l.nr;
		task_list_free(&l);
		if ((err = tgt_resume(t)))
			die(err, "resume");
		pause[i] = t->stats.last_pause_ns;
		stop[i] = t->stats.last_stop_ns;
		resume[i] = t->stats.last_resume_ns;
	}
	report("task list of %zu tasks: median %.3f ms tool time (%.2f us/task); guest pause %.3f ms (stop %.3f ms, resume %.3f ms)\n",
	       ntasks, median_ms(list, RUNS), median_ms(list, RUNS) * 1e3 / (double)ntasks,
	       median_ms(pause, RUNS), median_ms(stop, RUNS), median_ms(resume, RUNS));

	/* 5. unwind every task of the ~1000-thread guest. */
	{
		struct stack_ctx *ctx = NULL;
		uint64_t t0, unwind[RUNS], load;
		size_t frames = 0, tasks = 0, reliable = 0;

		t0 = gp_now_ns();
		if ((err = stack_ctx_init(k, &ctx)))
			die(err, "stack unwinder");
		load = gp_now_ns() - t0;
		for (int i = 0; i < RUNS; i++) {
			struct stacks_snapshot snap;

			if ((err = tgt_pause(t)))
				die(err, "pause");
			t0 = gp_now_ns();
			if ((err = stacks_take(ctx, &snap)))
				die(err, "stacks");
			unwind[i] = gp_now_ns() - t0;
			if ((err = tgt_resume(t)))
				die(err, "resume");
			pause[i] = t->stats.last_pause_ns;
			frames = reliable = 0;
			tasks = snap.tasks.nr;
			for (size_t j = 0; j < snap.tasks.nr; j++) {
				frames += (size_t)snap.traces[j].nr;
				reliable += snap.traces[j].reliable;
			}
			stacks_free(&snap);
		}
		report("unwind every task: %zu tasks, %zu frames (%zu reliable traces): median %.3f ms tool time (list + unwind), %.2f us/task, %.0f frames/s, %.0f tasks/s; guest pause %.3f ms; ORC tables loaded once in %.1f ms\n",
		       tasks, frames, reliable, median_ms(unwind, RUNS),
		       median_ms(unwind, RUNS) * 1e3 / (double)tasks,
		       frames / (median_ms(unwind, RUNS) / 1e3), tasks / (median_ms(unwind, RUNS) / 1e3),
		       median_ms(pause, RUNS), load / 1e6);
		stack_ctx_free(ctx);
	}

	/* 6. apply and unpatch on this busy guest, both models. */
	models(k, obj, "busy guest (~1000 sleeping threads)");
	/* 7. the same under load: processes on both vCPUs calling the
	 * patched function in a loop. */
	if (rig_exec(r, "(while :; do cat /proc/cmdline; done) >/dev/null 2>&1 & "
			"(while :; do cat /proc/cmdline; done) >/dev/null 2>&1 & sleep 1", NULL, 60) != 0)
		die(NULL, "start the load");
	yardstick(r, "under load", models(k, obj, "under load (2 readers of /proc/cmdline)"));
	rig_exec(r, "kill %2 %3; wait; true", NULL, 60);
	kern_detach(k);
	tgt_close(t);
	rig_kill(r);

	/* 7. our own VMM: pause latency (kick to every vCPU out of KVM_RUN),
	 * tiny guests on this machine's KVM (emulated here: the real figure
	 * comes from the nested-KVM rig, not built yet). */
	for (int nr = 1; nr <= 4; nr *= 2) {
		static const unsigned char spin[] = { 0xeb, 0xfe };	/* jmp . */
		uint64_t lat[RUNS];
		struct kvmvm *v;

		if ((err = kvmvm_create(4u << 20, nr, &v)) ||
		    (err = kvmvm_load_flat64(v, spin, sizeof(spin), 0x100000)) ||
		    (err = kvmvm_start(v))) {
			report("own VMM, %d vCPUs: FAILED: %s\n", nr, err->msg);
			gp_error_destroy(err);
			break;
		}
		for (int i = 0; i < RUNS; i++) {
			usleep(2000);
			kvmvm_pause(v);
			lat[i] = v->last_pause_ns;
			kvmvm_resume(v);
		}
		{
			double med = median_ms(lat, RUNS);	/* sorts lat */

			report("own VMM pause latency, %d vCPU%s (this machine's emulated KVM): median %.3f ms, worst %.3f ms\n",
			       nr, nr == 1 ? "" : "s", med, lat[RUNS - 1] / 1e6);
		}
		kvmvm_destroy(v);
	}

	/* 8. our own VMM booting Linux on the nested-KVM rig: boot time to
	 * init, and the pause latency the VMM itself measures (request to
	 * every vCPU out of KVM_RUN) while vmm commands drive it. */
	{
		struct nested *n = NULL;

		for (int nr = 1; nr <= 4; nr *= 2) {
			struct nested_opts no = { .cpus = nr, .pause_log = true };
			double lat[256], worst = 0;
			int cnt = 0, under = 0, st;
			char *out = NULL, *p;

			if (!n) {
				n = nested_boot(&no, &errmsg);
				if (!n) {
					report("own VMM on the nested-KVM rig: FAILED: %s\n", errmsg);
					break;
				}
				report("nested-KVM rig: outer guest (QEMU TCG -cpu EPYC, 2 vCPUs, 2 GiB) up in %.1f s\n",
				       nested_outer_boot_seconds(n));
			} else if ((st = nested_stop_inner(n)) != 128 + 15 ||
				   nested_start_inner(n, &no, &errmsg)) {
				report("own VMM on the nested-KVM rig, %d vCPUs: FAILED: %s (previous VMM exit %d)\n",
				       nr, errmsg ? errmsg : "restart", st);
				break;
			}
			report("own VMM on the nested-KVM rig, %d vCPU%s, 256 MiB: vmm run to the guest's init in %.1f s\n",
			       nr, nr == 1 ? "" : "s", nested_inner_boot_seconds(n));
			for (int i = 0; i < 5; i++)
				nested_outer(n, "/nested/vmm info " NESTED_TARGET " >/dev/null 2>&1", NULL, 300);
			nested_outer(n, "grep 'vmm: pause:' /tmp/inner.err", &out, 30);
			for (p = out; p && (p = strstr(p, " in ")) && cnt < 256; p += 4) {
				lat[cnt] = atof(p + 4);
				worst = lat[cnt] > worst ? lat[cnt] : worst;
				under += lat[cnt] < 1.0;
				cnt++;
			}
			free(out);
			if (!cnt) {
				report("own VMM pause latency on the nested-KVM rig, %d vCPUs: FAILED: no pause logged\n", nr);
				continue;
			}
			for (int i = 1; i < cnt; i++)	/* insertion sort for the median */
				for (int j = i; j > 0 && lat[j] < lat[j - 1]; j--) {
					double x = lat[j];

					lat[j] = lat[j - 1];
					lat[j - 1] = x;
				}
			report("own VMM pause latency on the nested-KVM rig, %d vCPU%s: median %.3f ms, worst %.3f ms, %d of %d pauses within 1 ms (5x vmm info)\n",
			       nr, nr == 1 ? "" : "s", lat[cnt / 2], worst, under, cnt);
		}
		nested_kill(n);
	}
}

int main(int argc, char **argv)
{
	outf = fopen(argc > 1 ? argv[1] : "build/bench.txt", "w");
	if (!outf) {
		perror("gp-bench: output file");
		return 1;
	}
	if (bench_selected("base"))
		bench_base();
	if (bench_selected("6.12"))
		bench_612();
	for (int i = 0; i < nr_benches; i++)
		if (bench_selected(benches[i].name))
			benches[i].fn();
	fclose(outf);
	return 0;
}
