/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench.h - what the benchmark sections of gp-bench share.  Each section
 * is a file tests/tools/bench_*.c that registers itself with GP_BENCH();
 * gp-bench runs the base benchmarks (bench.c) and then every section in
 * turn.  GP_BENCH_ONLY=name[,name...] runs only those (the base one is
 * called "base").  Results go through bench_report(): printed and written
 * to the results file.  These machines are noisy: report medians, and
 * ratios measured side by side in one run.
 */
#ifndef GP_BENCH_H
#define GP_BENCH_H

#include <stdbool.h>
#include <stdint.h>

#include "gp_error.h"

typedef void (*gp_bench_fn)(void);
void gp_register_bench(const char *name, gp_bench_fn fn);

#define GP_BENCH(name, fn)                                                  \
	static void __attribute__((constructor)) gp_bench_reg_##fn(void)    \
	{                                                                   \
		gp_register_bench(name, fn);                                \
	}

void bench_report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Sorts v in place; v[n - 1] is then the worst. */
double bench_median_ms(uint64_t *v, int n);
double bench_median_d(double *v, int n);
/* Print what failed and exit 1. */
void bench_die(struct gp_error *err, const char *what) __attribute__((noreturn));
/* Whether GP_BENCH_ONLY selects this section. */
bool bench_selected(const char *name);

#endif
