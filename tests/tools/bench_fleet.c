// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * bench section "fleet": `vmm fleet run` wall time for N guests on one
 * host (6 Debian 6.1 guests, 1 vCPU each, one ring, one batch), at
 * concurrency 1 and at the cap (N), with the guest pause per guest as the
 * report says (`pause_ms`: the sum of the patch's pauses in that guest).
 * The patch is cmdline_marker; it is removed between the two runs.
 * GP_FLEET_N sets N (default 6).
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "rig/rig.h"

#define MAXN 16

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "bench fleet: %s: %s\n", what, detail ? detail : "");
	exit(1);
}

static void fleet_bench(void)
{
	struct rig *g[MAXN];
	char dir[64] = "/work/gp-bench-fleet-XXXXXX", cmd[4096], obj[128], inv[128], bid[48] = "";
	char *out = NULL, *err = NULL, *msg = NULL;
	const char *env = getenv("GP_FLEET_N");
	int n = env ? atoi(env) : 6;
	json_object *j, *v;

	if (n < 1 || n > MAXN)
		n = 6;
	if (!mkdtemp(dir)) {
		snprintf(dir, sizeof(dir), "/tmp/gp-bench-fleet-XXXXXX");
		if (!mkdtemp(dir))
			die("mkdtemp", NULL);
	}
	for (int i = 0; i < n; i++)
		if (!(g[i] = rig_boot(&(struct rig_opts){ .cpus = 1, .mem_mb = 256 }, &msg)))
			die("boot", msg);
	snprintf(obj, sizeof(obj), "%s/cmdline_marker.o", dir);
	snprintf(cmd, sizeof(cmd), "build guest-agent/examples/cmdline_marker.c -o %s --kernel %s", obj,
		 rig_kernel_path(g[0]));
	if (rig_run_tool(g[0], cmd, NULL, &err))
		die("vmm build", err);
	free(err);
	snprintf(cmd, sizeof(cmd), "info %s --json", rig_target(g[0]));
	if (rig_run_tool(g[0], cmd, &out, NULL) || !(j = json_tokener_parse(out)) ||
	    !json_object_object_get_ex(j, "build_id", &v))
		die("vmm info", out);
	snprintf(bid, sizeof(bid), "%s", json_object_get_string(v));
	json_object_put(j);
	free(out);
	snprintf(inv, sizeof(inv), "%s/inventory.json", dir);
	{
		FILE *f = fopen(inv, "w");

		if (!f)
			die("inventory", inv);
		fprintf(f, "{\"version\":1,\"hosts\":[{\"name\":\"local\"}],\"rings\":[{\"name\":\"all\"}],\"guests\":[");
		for (int i = 0; i < n; i++)
			fprintf(f, "%s{\"name\":\"g%d\",\"host\":\"local\",\"ring\":\"all\",\"target\":\"%s\"}",
				i ? "," : "", i, rig_target(g[i]));
		fprintf(f, "],\"patches\":[{\"build_id\":\"%s\",\"file\":\"%s\"}],\"policy\":{\"max_parallel\":%d}}\n",
			bid, obj, MAXN);
		fclose(f);
	}
	for (int round = 0; round < 2; round++) {
		int conc = round ? n : 1;
		double t0, wall, pause[MAXN], pmax = 0, sum = 0;
		char rundir[128], *rep, *line, *save = NULL;
		int np = 0;

		snprintf(rundir, sizeof(rundir), "%s/run-%d", dir, conc);
		snprintf(cmd, sizeof(cmd), "fleet run %s --run-dir %s --no-health --max-parallel %d", inv, rundir,
			 conc);
		t0 = now_s();
		if (rig_run_tool(g[0], cmd, &out, &err))
			die("vmm fleet run", err);
		wall = now_s() - t0;
		free(out);
		free(err);
		snprintf(cmd, sizeof(cmd), "%s/report.jsonl", rundir);
		rep = rig_slurp(cmd);
		for (line = strtok_r(rep, "\n", &save); line && np < MAXN; line = strtok_r(NULL, "\n", &save)) {
			json_object *x = json_tokener_parse(line);

			if (x && json_object_object_get_ex(x, "result", &v) &&
			    strcmp(json_object_get_string(v), "applied"))
				die("a guest was not patched", line);
			if (x && json_object_object_get_ex(x, "pause_ms", &v)) {
				pause[np] = json_object_get_double(v);
				sum += pause[np];
				if (pause[np] > pmax)
					pmax = pause[np];
				np++;
			}
			json_object_put(x);
		}
		free(rep);
		if (np != n)
			die("report", "not one line per guest");
		bench_report("fleet: %d guests, one host, concurrency %d: wall %.1f s (%.2f s per guest); guest pause per guest median %.2f ms, max %.2f ms\n",
			     n, conc, wall, wall / n, bench_median_d(pause, np), pmax);
		(void)sum;
		for (int i = 0; i < n; i++) {
			snprintf(cmd, sizeof(cmd), "unpatch %s cmdline-marker", rig_target(g[i]));
			if (rig_run_tool(g[i], cmd, NULL, &err))
				die("unpatch", err);
			free(err);
		}
	}
	for (int i = 0; i < n; i++)
		rig_kill(g[i]);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", dir);
}
GP_BENCH("fleet", fleet_bench)
