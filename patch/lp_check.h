/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lp_check.h - the stop-the-world safety check: with every vCPU paused,
 * unwind every task (and whatever each vCPU runs, listed or not) and say
 * which tasks have a function of interest on their stack or cannot be
 * unwound reliably.  As klp_check_stack() does for one task, for all.
 */
#ifndef GP_LP_CHECK_H
#define GP_LP_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "gp_error.h"
#include "kernel.h"
#include "stack.h"

#define LP_MAX_BLOCKERS 32

struct lp_range {
	uint64_t start, end;	/* [start, end) */
	char name[64];
};

struct lp_blocker {
	int32_t pid;
	char comm[17];
	int running_cpu;	/* -1: not on a vCPU */
	uint64_t pc;		/* the frame that blocks, 0 if unreliable */
	char func[64];		/* the range's name it hit */
	char reason[160];	/* why, in words */
};

struct lp_check_result {
	size_t tasks;		/* tasks checked */
	int nr_blockers;	/* tasks that block (may exceed the array) */
	struct lp_blocker b[LP_MAX_BLOCKERS];
	uint64_t check_ns;	/* tool time spent */
};

/* Count a blocker; record it while there is room. */
void lp_blocker_add(struct lp_check_result *res, const struct task_info *t, int vcpu,
		    uint64_t pc, const char *func, const char *reason);

/* Target must be paused. ctx comes from stack_ctx_init() (made once,
 * outside the pause: the ORC tables do not change). */
struct gp_error *lp_check_stacks(struct stack_ctx *ctx, const struct lp_range *ranges,
				 int nr_ranges, struct lp_check_result *res);

/* The first frame of tr inside one of the ranges (its index in *which),
 * or -1. */
int lp_frame_in(const struct stack_trace *tr, const struct lp_range *v, int n, int *which);

#endif
