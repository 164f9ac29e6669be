/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stack.h - kernel stacks of guest tasks, unwound from outside with the
 * guest's own ORC data, and judged for reliability the way livepatch needs.
 *
 * A sleeping task is unwound from the frame __switch_to_asm left at
 * task->thread.sp (struct inactive_task_frame); a task running on a paused
 * vCPU from that vCPU's registers (the kernel itself cannot do this for
 * another CPU's running task; we can, because the vCPU is stopped).
 *
 * Reliable means: the walk ended where a kernel stack legitimately ends
 * (user-mode registers saved by the entry code, or an ORC "end" entry at
 * the bottom of a kthread or idle stack), every frame had ORC data and a
 * kernel-text return address, the stack pointer stayed on the task's own
 * stacks and only moved up, and no kernel-mode pt_regs sat mid-stack
 * (an interrupted kernel context: we refuse to reason about it).
 */
#ifndef GP_STACK_H
#define GP_STACK_H

#include <stdbool.h>
#include <stdint.h>

#include "kernel.h"
#include "modules.h"
#include "orc.h"
#include "tasks.h"

#define STACK_MAX_FRAMES 64
#define STACK_REGS_MAX 256	/* bytes of pt_regs read per frame (6.1: 168) */

enum stack_reason {
	STACK_OK = 0,
	STACK_NO_ORC,		/* no ORC entry for an address */
	STACK_BAD_ORC,		/* an ORC entry we cannot follow */
	STACK_OFF_STACK,	/* stack pointer outside the task's stacks */
	STACK_NOT_UP,		/* stack pointer did not move up (loop) */
	STACK_KERNEL_REGS,	/* kernel-mode pt_regs mid-stack */
	STACK_BAD_RET,		/* return address not in kernel text */
	STACK_TOO_DEEP,		/* more than STACK_MAX_FRAMES frames */
	STACK_READ,		/* a stack read failed */
	STACK_NO_END,		/* ran out of frames without a proper end */
};

struct stack_frame {
	uint64_t pc;
	uint64_t sp;
	bool from_regs;		/* pc came from saved registers (interrupt/entry) */
};

struct stack_trace {
	int nr;
	struct stack_frame f[STACK_MAX_FRAMES];
	bool reliable;
	bool user_end;		/* ended at user-mode entry registers */
	enum stack_reason reason;
	char why[160];
};

/* Code the guest's own tables do not know, with its ORC: handed in by a
 * caller that placed it (the patch engine's patches, from its records). */
struct stack_extra_orc {
	uint64_t start, end;		/* [start, end) of its code */
	struct orc_table *orc;		/* owned */
	char name[64];			/* for messages and symbolization */
};

#define STACK_MAX_EXTRA_ORC 32

struct stack_ctx {
	struct kern *k;
	struct orc_table *orc;
	struct kmod_list mods;	/* loaded modules: their text, ORC and symbols */
	char mods_why[200];	/* why no module is known, if reading them failed */
	struct task_offsets to;
	uint64_t thread_size;
	uint64_t frame_size, frame_bp, frame_ret;	/* inactive_task_frame */
	/* pt_regs member offsets */
	uint64_t r_ip, r_sp, r_cs, r_bp, r_r10, r_r13, r_di, r_dx, regs_size;
	uint64_t sched_start, sched_end, lock_start, lock_end;
	uint64_t ret_from_fork;
	uint64_t hardirq_stack_ptr;	/* per-cpu offset */
	uint64_t irq_stack_size;
	/* Exception (IST) stacks in the cpu_entry_area: the per-cpu pointer
	 * cea_exception_stacks and, from BTF, where each stack lies in
	 * struct cea_exception_stacks. nr_estacks is 0 if unknown. */
	uint64_t cea_exception_stacks;
	int nr_estacks;
	uint64_t estack_off[6], estack_size[6];
	struct stack_extra_orc extra[STACK_MAX_EXTRA_ORC];
	int nr_extra;
};

struct gp_error *stack_ctx_init(struct kern *k, struct stack_ctx **out);
void stack_ctx_free(struct stack_ctx *c);
/* Make [start, end) kernel text unwound with orc (the context owns it
 * from then on, also on error); it must not overlap the kernel's or a
 * module's text, nor another extra range.  name names it in symbolized
 * frames (as a module is named). */
struct gp_error *stack_ctx_add_orc(struct stack_ctx *c, uint64_t start, uint64_t end,
				   struct orc_table *orc, const char *name);

/* A task that is not running: from its saved switch frame. */
void stack_unwind_task(struct stack_ctx *c, const struct task_info *t, struct stack_trace *tr);
/* What a paused vCPU runs: from its registers; cpu is the kernel's CPU
 * number for that vCPU (for its IRQ stack), task the current task. */
void stack_unwind_regs(struct stack_ctx *c, const struct task_info *t, const struct tgt_regs *r,
		       int cpu, struct stack_trace *tr);

/* Frames the guest's own /proc/PID/stack leaves out: scheduler and lock
 * functions (in_sched_functions(), kernel/sched/core.c). */
bool stack_hidden_by_guest(const struct stack_ctx *c, uint64_t pc);

/* Which kernel CPU a vCPU is: its GS base (or, in user mode, the saved
 * kernel GS base) equals that CPU's per-cpu offset. -1 if none. */
int stack_vcpu_to_cpu(struct kern *k, const struct tgt_regs *r);

const char *stack_reason_name(enum stack_reason r);

/* The function holding pc, in the kernel or a module: its name (NULL if
 * none), the offset into it and its size, and the module's name (NULL for
 * the kernel itself). */
const char *stack_symbolize(const struct stack_ctx *c, uint64_t pc, uint64_t *off,
			    uint64_t *size, const char **module);

#endif
