/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lp_call.h - run a function of the guest kernel, fn(arg), in process
 * context, from outside, and get its return value.
 *
 * What it is for: the kernel's livepatch core calls a livepatch module's
 * callbacks (pre_patch(struct klp_object *) returning int, post_patch,
 * pre_unpatch, post_unpatch) in process context at set points, and a
 * module's exit function runs in process context too.  guestpatch loads
 * no module into the guest, so it runs them itself with lp_call().
 *
 * How (patch/lp_call.c, guest-agent/src/call.S): in one pause a work item
 * (struct work_struct, laid out from the guest's BTF and initialised as
 * INIT_WORK() does) and its work function go into one data and one code
 * page of the region, with a record in the region header; a one-shot hook
 * at LP_AGENT_HOOK (the local timer interrupt) queues the item on
 * system_wq with queue_work_on(WORK_CPU_UNBOUND, ...).  A kworker then
 * runs the work function, which calls fn(arg) and stores its return value
 * and a done flag.  The tool watches the flag while the guest runs
 * (reading guest RAM, no pause), and frees the pages in a pause that sees
 * the call finished and no stack (nor vCPU) inside the code page.
 *
 * Every write is made in a pause and journaled (lp_write.c).  If the tool
 * dies at any moment, the record stays: the next vmm command (every
 * attach, lp_call_leftover) and `vmm recover` find it and free the pages
 * only once the call has certainly finished, or certainly never ran (its
 * hook was never taken); until then the pages stay reserved, so the work
 * item and code never become other memory under a kworker.
 */
#ifndef GP_LP_CALL_H
#define GP_LP_CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gp_error.h"
#include "kbtf.h"
#include "kernel.h"
#include "lp_region.h"

/*
 * Make the guest run fn(arg) in process context (a kworker of system_wq)
 * and wait for it, at most timeout_s seconds (<= 0: 10 s).  fn is a guest
 * kernel virtual address: the start of a function of the kernel's text
 * (kallsyms), or code in the region's pages (a patch's code).  It is
 * called as `long fn(void *arg)`: arg in %rdi, the return value from
 * %rax, the full 64 bits (a function returning int fills only the low 32:
 * callers of int-returning functions take (int)*ret, as the kernel does).
 *
 * Returns NULL with *ret set once fn has returned, and the pages are freed
 * again.  Callers decide what the value means: the .ko loader aborts a
 * patch when a pre_patch callback returns non-zero, exactly as the
 * kernel's klp_pre_patch_callback() does; lp_call() itself attaches no
 * meaning to it.  An error from lp_call() means the outcome is unknown
 * (fn may not have run, or may still be running): a caller must treat it
 * as a failure of the callback, never as success, and must not free or
 * unmap what fn may still use (a module's code and data) while
 * lp_call_leftover() reports the call in flight.
 *
 * Errors (nothing of the call is left unless the message says so):
 *  - GP_ERR_BUSY: another call is still in flight in this guest, or the
 *    straggler agent holds LP_AGENT_HOOK;
 *  - GP_ERR_UNSUPPORTED / NOTFOUND: the guest lacks what the mechanism
 *    needs (queue_work_on, system_wq, the work_struct layout or the
 *    workqueue constants in its BTF, a kernel with
 *    CONFIG_DEBUG_OBJECTS_WORK or lockdep in work_struct), named;
 *  - GP_ERR_INVAL: fn is not a function start in kernel text or region code;
 *  - GP_ERR_TIMEOUT: the hook never ran (no timer interrupt: everything
 *    was removed, fn did not run), or fn had not returned within the
 *    timeout: then it is STILL RUNNING in the guest, nothing it may use is
 *    freed, and the record stays for the next vmm command to clean up
 *    (the message says which).  *ret is not set.
 */
struct gp_error *lp_call(struct kern *k, uint64_t fn, uint64_t arg, double timeout_s,
			 int64_t *ret);

/* The same for a livepatch module's owed callback (lp_kmod_cb.c): tag is
 * 1 + its klp_object (hdr.cb_calling), set in the pause that sets the
 * call up; the pause that sees the call end (this process's or a later
 * one's) clears its bit of hdr.cb_todo if it ran.  0: lp_call(). */
struct gp_error *lp_call_tagged(struct kern *k, uint64_t fn, uint64_t arg, double timeout_s,
				uint32_t tag, int64_t *ret);

/* A call record left by an earlier vmm (killed, or timed out). */
struct lp_call_leftover {
	bool found;		/* a record was there */
	bool cleaned;		/* ... and is gone now: the call ended (or never ran) */
	bool ran;		/* fn returned (ret valid), when cleaned */
	uint64_t fn, arg;
	int64_t ret;
	int32_t pid;		/* the vmm that set it up */
	uint64_t started_unix;
	char state[200];		/* in words, when not cleaned */
};

/* Find a call record and clean it up if its call has finished (pauses
 * briefly; nothing if the region has no record). */
struct gp_error *lp_call_leftover(struct kern *k, struct lp_call_leftover *out);

/* The same with the target paused and the region loaded (`vmm recover`
 * does it inside its own pause). */
struct lp_ctx;
struct gp_error *lp_call_leftover_paused(struct kern *k, struct lp_ctx *c, struct lp_region *r,
					 struct lp_call_leftover *out);

/*
 * The pure parts, for tests.
 */

/* The data page (guest-agent/src/call.S's gp_* data symbols). */
#define LP_CALL_ARMED 0		/* u8: 1 from the host; the hook takes it with xchg */
#define LP_CALL_QUEUED 8	/* u8: the hook called queue_work_on() */
#define LP_CALL_QRET 9		/* u8: what it returned (1: queued) */
#define LP_CALL_STARTED 16	/* u8: the work function began */
#define LP_CALL_DONE 24		/* u8: fn returned; LP_CALL_RET holds its value */
#define LP_CALL_RET 32		/* u64 */
#define LP_CALL_WORK 64		/* struct work_struct */
#define LP_CALL_WORK_MAX 192	/* most bytes of work_struct accepted */
#define LP_CALL_FLAGS 64	/* bytes of flags and result read back */

/* What the guest's workqueue code expects of a work item, from its BTF. */
struct lp_call_wq {
	uint64_t work_size;		/* sizeof(struct work_struct) */
	uint64_t off_data, off_entry, off_func;
	uint64_t cpu_unbound;		/* WORK_CPU_UNBOUND */
	uint64_t no_pool;		/* WORK_STRUCT_NO_POOL: INIT_WORK()'s data */
	uint64_t pending_bit;		/* WORK_STRUCT_PENDING_BIT */
};

/* Derive it; refuses by name what cannot be derived, a work_struct with
 * members beyond data/entry/func (lockdep), and CONFIG_DEBUG_OBJECTS_WORK
 * (WORK_STRUCT_STATIC != 0: debugobjects would track our item). */
struct gp_error *lp_call_wq_layout(const struct kbtf *btf, struct lp_call_wq *wq);

/* The work item at work_va as INIT_WORK(work, func) leaves it. */
void lp_call_init_work(const struct lp_call_wq *wq, uint64_t work_va, uint64_t func,
		       uint8_t out[LP_CALL_WORK_MAX]);

enum lp_call_phase {
	LP_CALL_NOT_TAKEN,	/* armed: the hook never ran */
	LP_CALL_HOOKING,	/* a CPU is inside the hook */
	LP_CALL_QUEUED_WAIT,	/* queued, not started */
	LP_CALL_RUNNING,	/* fn is running */
	LP_CALL_FINISHED,	/* fn returned */
};

/* The phase the flags read back say, or an error naming what is
 * inconsistent (a hostile or corrupted guest: nothing is freed then). */
struct gp_error *lp_call_phase(const uint8_t flags[LP_CALL_FLAGS], enum lp_call_phase *ph);

/* The record's shape: pages where the call agent's may be, owned as they
 * must be, the site where the hook goes.  NULL if there is no record. */
struct gp_error *lp_call_rec_check(const struct lp_hdr *h, uint64_t hook_site);

#endif
