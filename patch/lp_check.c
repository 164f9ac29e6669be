// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdio.h>
#include <string.h>

#include "lp_check.h"
#include "stacks.h"

void lp_blocker_add(struct lp_check_result *res, const struct task_info *t, int vcpu,
			uint64_t pc, const char *func, const char *reason)
{
	struct lp_blocker *b;

	if (res->nr_blockers++ >= LP_MAX_BLOCKERS)
		return;
	b = &res->b[res->nr_blockers - 1];
	b->pid = t->pid;
	snprintf(b->comm, sizeof(b->comm), "%s", t->comm);
	b->running_cpu = vcpu;
	b->pc = pc;
	snprintf(b->func, sizeof(b->func), "%s", func);
	snprintf(b->reason, sizeof(b->reason), "%s", reason);
}

struct gp_error *lp_check_stacks(struct stack_ctx *ctx, const struct lp_range *ranges,
				 int nr_ranges, struct lp_check_result *res)
{
	struct stacks_snapshot snap;
	struct gp_error *err;
	uint64_t t0 = gp_now_ns();

	memset(res, 0, sizeof(*res));
	if ((err = stacks_take(ctx, &snap)))
		return gp_error_wrap(err, "stack check");
	res->tasks = snap.tasks.nr;
	for (size_t i = 0; i < snap.tasks.nr; i++) {
		const struct task_info *t = &snap.tasks.v[i];
		const struct stack_trace *tr = &snap.traces[i];
		bool blocked = false;

		/* As klp_check_stack_func(): any frame inside a function
		 * being replaced (or removed) blocks. */
		for (int f = 0; f < tr->nr && !blocked; f++)
			for (int r = 0; r < nr_ranges && !blocked; r++)
				if (tr->f[f].pc >= ranges[r].start && tr->f[f].pc < ranges[r].end) {
					char why[160];

					snprintf(why, sizeof(why), "%s is on its stack (frame %d, pc 0x%llx)%s",
						 ranges[r].name, f, (unsigned long long)tr->f[f].pc,
						 snap.vcpu[i] >= 0 && f == 0 ? ", executing now" : "");
					lp_blocker_add(res, t, snap.vcpu[i], tr->f[f].pc, ranges[r].name, why);
					blocked = true;
				}
		/* As klp_check_stack(): an unreliable stack blocks too. */
		if (!blocked && !tr->reliable) {
			char why[200];

			snprintf(why, sizeof(why), "unreliable stack: %s", tr->why);
			lp_blocker_add(res, t, snap.vcpu[i], 0, "", why);
		}
	}
	stacks_free(&snap);
	res->check_ns = gp_now_ns() - t0;
	return NULL;
}

/* The first frame inside one of the ranges, or -1. */
int lp_frame_in(const struct stack_trace *tr, const struct lp_range *v, int n, int *which)
{
	for (int f = 0; f < tr->nr; f++)
		for (int i = 0; i < n; i++)
			if (tr->f[f].pc >= v[i].start && tr->f[f].pc < v[i].end) {
				*which = i;
				return f;
			}
	return -1;
}

