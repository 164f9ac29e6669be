/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lp_agent.h - the bytes guestpatch writes into guest kernel code, built
 * from guest-agent/src (assembled at build time, embedded in the host
 * library) and linked at their guest address by lp_elf.c's piece linker.
 *
 * Host C never spells an opcode: every function here places pieces of
 * the embedded object and fills in the values only the host knows
 * (addresses, BTF offsets, the tasks to wake).  Results are exactly the
 * bytes for `va`; nothing here touches the guest.
 */
#ifndef GP_LP_AGENT_H
#define GP_LP_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gp_error.h"
#include "lp_elf.h"

/* The straggler agent's data page (the gp_armed / gp_done symbols of
 * guest-agent/src/straggler.S): the host sets `armed` to 1 before
 * hooking the agent, which takes it with xchg; the agent sets `done`. */
#define LP_AGENT_ARMED 0
#define LP_AGENT_DONE 8

/* A `jmp rel32`, and the ftrace NOP it replaces: the same size. */
#define LP_AGENT_JMP_SIZE 5
#define LP_AGENT_NOP_SIZE 5

/* Most tasks one straggler agent can serve (pieces: head, done, out, and
 * two per task: the wake-up and the put). */
#define LP_AGENT_STRAGGLER_MAX ((LP_PIECES_MAX - 3) / 2)

/* How the straggler agent drops its reference on each task: as the
 * guest's put_task_struct() does from hard-IRQ context. */
struct lp_agent_put {
	/* PREEMPT_RT: call_rcu(&t->rcu, __put_task_struct_rcu_cb) on the last
	 * reference (piece agent_put_rcu); otherwise __put_task_struct(t)
	 * (piece agent_put). */
	bool rcu;
	uint64_t rcu_off;	/* offsetof(task_struct, rcu), when rcu */
};

/* The embedded object, opened on first use and kept; for tests/tools. */
struct gp_error *lp_agent_obj(struct lp_obj **o);

/* `jmp to` placed at va; an error if to is beyond a rel32 from va. */
struct gp_error *lp_agent_jmp(uint64_t va, uint64_t to, uint8_t out[LP_AGENT_JMP_SIZE]);

/*
 * A trampoline slot at va in dispatch form (per-task transition):
 * tasks whose patch_state is KLP_UNPATCHED go to prev, others to top.
 * current_task_off: per-cpu offset of current_task; patch_state_off:
 * offsetof(task_struct, patch_state).  The rest of the slot_size bytes
 * is int3.
 */
struct gp_error *lp_agent_dispatch(uint64_t va, int32_t current_task_off,
				   int32_t patch_state_off, uint64_t prev, uint64_t top,
				   uint8_t *slot, size_t slot_size);

/* A trampoline slot at va that jumps to top; the rest is int3. */
struct gp_error *lp_agent_plain_slot(uint64_t va, uint64_t top, uint8_t *slot,
				     size_t slot_size);

/*
 * The straggler agent at va for n tasks (user tasks are woken or kicked,
 * kthreads woken; each task's reference is dropped as *put says), with its
 * data page at data_va.  resolve_kernel answers the guest kernel's symbols
 * it calls (wake_up_state, kick_process, __put_task_struct or call_rcu and
 * __put_task_struct_rcu_cb); it ends with a jump to resume, just past
 * LP_AGENT_HOOK's ftrace NOP; usage_off is offsetof(task_struct, usage).
 * *len gets the size used of code (cap bytes).
 */
struct gp_error *lp_agent_straggler(uint64_t va, uint64_t data_va, uint64_t usage_off,
				    uint64_t resume, const struct lp_agent_put *put,
				    lp_resolve_fn resolve_kernel, void *arg,
				    const uint64_t *task, const bool *kthread, int n,
				    uint8_t *code, size_t cap, size_t *len);

/* The kernel's 5-byte ftrace NOP, as sites are compared against it. */
struct gp_error *lp_agent_ftrace_nop(uint8_t out[LP_AGENT_NOP_SIZE]);

/* Fill buf with int3 (slot tails, free slots and code pages). */
struct gp_error *lp_agent_fill(uint8_t *buf, size_t len);

/* Where a function's ftrace site is, from its first bytes: *off = 4 after
 * endbr64 or its sealed form (IBT kernels), else 0. */
#define LP_AGENT_ENTRY_MAX 4
struct gp_error *lp_agent_entry_offset(const uint8_t entry[LP_AGENT_ENTRY_MAX], unsigned *off);

/* `ret` padded with int3 to the size of a `jmp rel32`: a patch's return
 * where the guest kernel returns without a thunk. */
struct gp_error *lp_agent_ret_site(uint8_t out[LP_AGENT_JMP_SIZE]);

/*
 * The call agent (guest-agent/src/call.S, patch/lp_call.c): one code page
 * with the one-shot timer hook at its start, which queues the work item,
 * and the work function at LP_AGENT_CALL_WORK_OFF, which calls fn(arg) in
 * a kworker.  Every value is a guest address except cpu_unbound
 * (WORK_CPU_UNBOUND) and ret_thunk (where the guest's returns go, or
 * LP_SYM_RET_INLINE for a plain ret); resume is LP_AGENT_HOOK past its
 * ftrace NOP.  The rest of the page is int3.
 */
#define LP_AGENT_CALL_CODE 4096u
#define LP_AGENT_CALL_WORK_OFF 2048u
struct lp_agent_call_vals {
	uint64_t armed, queued, qret, started, done, ret, work;	/* data page */
	uint64_t cpu_unbound, resume, fn, arg, ret_thunk;
};
struct gp_error *lp_agent_call(uint64_t va, const struct lp_agent_call_vals *v,
			       lp_resolve_fn resolve_kernel, void *arg,
			       uint8_t code[LP_AGENT_CALL_CODE]);

#endif
