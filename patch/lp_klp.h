/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lp_klp.h - the guest kernel's own per-task livepatch state, driven from
 * outside: task->patch_state, TIF_PATCH_PENDING in thread_info.flags, and
 * klp_target_state.  With these set right the guest switches tasks itself
 * where the kernel's livepatch would (return to user mode, the idle loop)
 * and children inherit their parent's state at fork (klp_copy_process),
 * without any module of ours in the guest.
 *
 * Everything here reads or writes guest memory and needs the target
 * paused.  See docs/per-task.md for the ordering argument.
 */
#ifndef GP_LP_KLP_H
#define GP_LP_KLP_H

#include <stdbool.h>
#include <stdint.h>

#include "gp_error.h"
#include "kernel.h"
#include "tasks.h"

/* What rwlock_t is in the guest, read from its BTF (lp_klp_rwlock_shape). */
enum lp_rwlock_shape {
	LP_RWLOCK_UNKNOWN,
	LP_RWLOCK_QRWLOCK,	/* !PREEMPT_RT: raw_lock (struct qrwlock), word cnts */
	LP_RWLOCK_RWBASE_RT,	/* PREEMPT_RT: rwbase (struct rwbase_rt), word readers */
};

struct lp_klp {
	bool usable;			/* the per-task model can run here */
	char why[200];			/* if not: what is missing */
	uint64_t target_state_va;	/* klp_target_state (int) */
	uint64_t transition_patch_va;	/* klp_transition_patch (pointer) */
	uint64_t tasklist_lock_va;	/* tasklist_lock (rwlock_t) */
	int tasklist_shape;		/* enum lp_rwlock_shape, from BTF */
	uint64_t tasklist_word_off;	/* the 32-bit word its check reads */
	int tif_patch_pending;		/* bit in thread_info.flags */
	int tif_notify_signal;		/* bit, or -1 if not found */
	int32_t current_task_off;	/* per-cpu offset of current_task */
	uint64_t patch_state_off;	/* task_struct.patch_state */
	uint64_t ti_flags_off;		/* task_struct.thread_info.flags */
};

/* Find what the per-task model needs in this kernel (reads kernel text to
 * learn the TIF bit numbers from the kernel's own livepatch code). Never
 * fails for a kernel without livepatch: usable = false and why says so. */
struct gp_error *lp_klp_init(struct kern *k, const struct task_offsets *to,
			     struct lp_klp *g);

/* The guest's own livepatch: a transition of its own in progress? */
struct gp_error *lp_klp_guest_busy(struct kern *k, const struct lp_klp *g, bool *busy);
/* Is tasklist_lock held for writing (a fork or exit half done)?  On
 * PREEMPT_RT also true while a writer waits for readers to leave. */
struct gp_error *lp_klp_tasklist_write_locked(struct kern *k, const struct lp_klp *g,
					      bool *locked);

/* Which rwlock_t the guest has, and the offset in it of the word that says
 * whether a writer holds it, from the guest's BTF.  A shape not known here
 * is refused by name (GP_ERR_UNSUPPORTED), never guessed.  lp_klp_init()
 * calls it; exposed for unit tests. */
struct gp_error *lp_klp_rwlock_shape(struct kern *k, enum lp_rwlock_shape *shape,
				     uint64_t *word_off);
/* Whether that word (read from the guest) says write-held. */
bool lp_klp_rwlock_write_held(enum lp_rwlock_shape shape, uint32_t word);

/* Is the guest a PREEMPT_RT kernel?  rwlock_t's shape follows
 * CONFIG_PREEMPT_RT exactly (include/linux/rwlock_types.h picks the
 * rwbase_rt one under it), so its BTF says.  Valid once lp_klp_init()
 * made g usable. */
bool lp_klp_preempt_rt(const struct lp_klp *g);

struct gp_error *lp_klp_set_target(struct kern *k, const struct lp_klp *g, int32_t state);
struct gp_error *lp_klp_get_target(struct kern *k, const struct lp_klp *g, int32_t *state);

/* One task: set patch_state (unless INT32_MIN) and set/clear/keep the
 * pending flag (pending: 1 set, 0 clear, -1 keep). Updates *t. */
struct gp_error *lp_klp_set_task(struct kern *k, const struct lp_klp *g, struct task_info *t,
				 int32_t state, int pending);

/* Set or clear one bit of a task's thread_info.flags (read afresh);
 * flags_out (may be NULL) gets the flags as left. */
struct gp_error *lp_klp_task_flag(struct kern *k, const struct lp_klp *g, uint64_t task,
				  int bit, bool on, uint64_t *flags_out);

/* Decode the bit number of the first `lock bt{r,s} $imm8, mem` with the
 * given ModRM reg field (6: btr, 5: bts) in code[0..len). -1 if none.
 * Exposed for unit tests. */
int lp_klp_find_bitop(const uint8_t *code, size_t len, int reg);

#endif
