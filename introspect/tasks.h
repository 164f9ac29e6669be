/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tasks.h - the guest's tasks: processes, their threads, and each CPU's idle
 * task, read from the kernel's lists with every pointer checked and every
 * walk bounded.  Call with the target paused for a consistent snapshot.
 */
#ifndef GP_TASKS_H
#define GP_TASKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel.h"

#define TASK_MAX (1u << 20)	/* cap on tasks walked (PID_MAX_LIMIT is 4M; far more than any guest) */
#define TASK_COMM_MAX 16

struct task_offsets {
	uint64_t tasks, thread_node, signal, thread_head;
	uint64_t pid, tgid, comm, state, exit_state, flags, on_cpu, cpu;
	uint64_t stack, thread_sp;
	uint64_t ti_flags;	/* thread_info.flags (TIF_*) */
	bool has_patch_state;
	uint64_t patch_state;
	uint64_t rq_idle, rq_curr, current_task, runqueues;
	uint64_t comm_len;
};

struct task_info {
	uint64_t addr;		/* task_struct address */
	int32_t pid, tgid;
	char comm[TASK_COMM_MAX + 1];
	uint32_t state;		/* __state */
	uint32_t exit_state;
	char state_char;	/* as ps: R S D T t X Z P I */
	uint32_t flags;		/* PF_* */
	int32_t cpu;		/* CPU it last ran on */
	bool on_cpu;		/* task->on_cpu */
	bool idle;		/* a per-CPU idle task (pid 0) */
	int running_cpu;	/* CPU whose current it is, or -1 */
	int32_t patch_state;	/* KLP_* or INT32_MIN if the kernel has none */
	uint64_t stack;		/* kernel stack base */
	uint64_t ti_flags;	/* thread_info.flags: TIF_* bits */
};

struct task_list {
	struct task_info *v;
	size_t nr, cap;
};

struct gp_error *task_offsets_init(struct kern *k, struct task_offsets *o);

/* Every task: processes and their threads from init_task.tasks, then the
 * idle task of every online CPU.  Also marks what each CPU runs now. */
struct gp_error *task_list_all(struct kern *k, const struct task_offsets *o,
			       struct task_list *out);
void task_list_free(struct task_list *l);

/* ps's state letter for (__state | exit_state), as task_state_index(). */
char task_state_char(uint32_t state, uint32_t exit_state);

#endif
