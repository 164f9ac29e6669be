/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stacks.h - one consistent snapshot of every task's kernel stack, taken
 * while the guest is paused: tasks that run on a vCPU are unwound from
 * that vCPU's registers, the others from their saved switch frames.
 * Used by `vmm stack` and by the patch safety check.
 */
#ifndef GP_STACKS_H
#define GP_STACKS_H

#include "stack.h"
#include "tasks.h"

/* Cap on the tasks of one snapshot: each costs a struct stack_trace
 * (about 1.7 KiB), so this bounds a snapshot near 220 MiB. Guests run a
 * few hundred to some tens of thousands of threads (pid_max is 32768 by
 * default below 32 CPUs); TASK_MAX alone would allow 1.7 GiB. */
#define STACKS_MAX_TASKS (1u << 17)

struct stacks_snapshot {
	struct task_list tasks;
	struct stack_trace *traces;	/* one per task */
	int *vcpu;			/* vCPU index a task runs on, or -1 */
};

/* Target must be paused. */
struct gp_error *stacks_take(struct stack_ctx *c, struct stacks_snapshot *s);
void stacks_free(struct stacks_snapshot *s);

#endif
