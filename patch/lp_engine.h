/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lp_engine.h - what the patch engine's files share; not for callers
 * outside patch/ (they use lp_patch.h).
 *
 *   lp_patch.c       entry points, the retry loop around pauses, reports
 *   lp_records.c     editing the records (lp_region.h)
 *   lp_redirect.c    sites, trampoline slots, code sync with undo log
 *   lp_write.c       every write into the guest
 *   lp_global.c      the stop-the-world model
 *   lp_transition.c  the per-task transition (the seed's transition.c)
 *   lp_straggler.c   the straggler step (klp_send_signals)
 */
#ifndef GP_LP_ENGINE_H
#define GP_LP_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "lp_agent.h"
#include "lp_check.h"
#include "lp_elf.h"
#include "lp_journal.h"
#include "lp_klp.h"
#include "lp_patch.h"
#include "lp_region.h"
#include "stack.h"

/* Global model, and the per-task model's first attempt: back off from
 * 0.5 ms to 100 ms between pauses. */
#define LP_BACKOFF_MIN_US 500
#define LP_BACKOFF_MAX_US 100000
/* Per-task: first retry soon (tasks leave the kernel within
 * milliseconds), then back off; the kernel itself waits 1 s. */
#define LP_TRANS_BACKOFF_MIN_US 1000
#define LP_TRANS_BACKOFF_MAX_US 50000
#define LP_SIGNAL_AFTER_DEFAULT_S 5.0

/* The stack unwinder and the guest's livepatch facts, made once per
 * command, outside any pause. */
struct lp_ctx {
	struct stack_ctx *stacks;
	struct lp_klp klp;
};

/* One function the patch replaces, resolved in the guest. */
struct lp_target_func {
	uint64_t old_addr, old_size, new_addr;
	uint64_t site_addr;	/* its ftrace NOP (lp_check_site) */
	int site;		/* existing site index or -1 */
	char name[64];
	unsigned long pos;
	char module[LP_MODULE_NAME];	/* "" for the kernel itself */
};

/*
 * The loop shared by every operation: pause, let `attempt` check (and, if
 * nothing blocks, write), resume; while it reports blockers, back off and
 * try again until the timeout.  `attempt` sets *blocked when it found
 * blockers and wrote nothing that must be finished.
 */
typedef struct gp_error *(*lp_attempt_fn)(struct kern *k, void *arg, struct lp_report *rep,
				       bool *blocked);

struct lp_apply_ctx {
	struct lp_ctx *c;
	bool per_task;
	struct lp_region r;
	uint64_t gen;
	const struct lp_image *img;
	struct lp_target_func *tf;
	struct lp_range *ranges;
	int nr_ranges;
	unsigned code_page, data_page;
	int slot;
	uint32_t flags;
	bool done;		/* per-task: completed in the first pause */
	/* A livepatch module whose pages are in the guest already (state
	 * LP_LOADED: its pre_patch callbacks ran): not written again, and
	 * the stage it held them in ends in the same pause. */
	bool preloaded;
};

struct lp_remove_ctx {
	struct lp_ctx *c;
	const char *name;
	bool force, per_task, reversed;
	bool done;
};


/* lp_patch.c */
struct gp_error *lp_ctx_init(struct kern *k, struct lp_ctx *c);
void lp_ctx_free(struct lp_ctx *c);
/* Where a `jmp __x86_return_thunk` of ours goes: the mitigation thunk the
 * guest's x86_return_thunk names, or LP_SYM_RET_INLINE (a plain ret) where
 * the kernel's own returns are plain (lp_patch.c says why).  Reads guest
 * data: paused. */
struct gp_error *lp_return_thunk(struct kern *k, uint64_t *addr);
/* lp_resolve_fn over the guest's kallsyms. */
struct gp_error *lp_resolve_kernel(void *arg, const char *name, uint64_t *addr);
struct gp_error *lp_retry_paused(struct kern *k, double timeout, unsigned backoff_min,
				 unsigned backoff_max, lp_attempt_fn attempt, void *arg,
				 struct lp_report *rep, bool *timed_out);
void lp_report_pause(struct kern *k, struct lp_report *rep);
size_t lp_blocker_list(const struct lp_check_result *c, char *list, size_t size);
/* Checks every apply attempt repeats in its pause: the records did not
 * change since planning, no transition runs, every site is as expected. */
struct gp_error *lp_apply_checks(struct kern *k, struct lp_apply_ctx *a);
/* Write the new patch's pages and add its records in the state given. */
struct gp_error *lp_add_new_patch(struct kern *k, struct lp_apply_ctx *a, uint32_t state);
struct gp_error *lp_find_removable(struct kern *k, struct lp_remove_ctx *rc, struct lp_region *r,
				   int *slot);

/* lp_records.c (the rest is in lp_region.h) */
struct gp_error *lp_rec_add_patch(struct lp_hdr *h, struct lp_region *r,
				  const struct lp_image *img, struct lp_target_func *tf,
				  unsigned code_page, unsigned data_page, int slot,
				  uint32_t state, uint32_t flags);

/* lp_redirect.c */
/* Make the guest's code agree with r->hdr (the guest held `old`), write
 * the records, clear freed pages; on failure the code is put back. */
struct gp_error *lp_commit_change(struct kern *k, struct lp_region *r, const struct lp_hdr *old,
				  const struct lp_ctx *c);
/* A function's ftrace site: func, or func + 4 after endbr64 (IBT). */
struct gp_error *lp_entry_site(struct kern *k, uint64_t func, uint64_t *site);
/* The ftrace site of t must hold the NOP, or our jump to its slot;
 * sets t->site_addr. */
struct gp_error *lp_check_site(struct kern *k, const struct lp_region *r,
			       struct lp_target_func *t);

/* lp_write.c: every write into the guest (target paused) */
/* Code at a kernel virtual address (never across a page). */
struct gp_error *lp_write_kernel_code(struct kern *k, uint64_t va, const void *buf, size_t len);
/* Data at a kernel virtual address, within one page. */
struct gp_error *lp_write_kernel_data(struct kern *k, uint64_t va, const void *buf, size_t len);
/* Write `size` bytes at the start of region page `page`. */
struct gp_error *lp_write_pages(struct kern *k, unsigned page, const uint8_t *buf, size_t size,
				bool code);
/* Newly allocated region pages [page, page + pages): `used` bytes of buf
 * at the start, zeros after.  Free pages are zero except where an earlier
 * boot's region left bytes (lp_region.h): those are cleared here, and only
 * bytes that differ are written, so zero pages cost nothing. */
struct gp_error *lp_write_alloc(struct kern *k, unsigned page, unsigned pages, const uint8_t *buf,
				size_t used, bool code);
/* Guest-physical bytes. */
struct gp_error *lp_write_phys(struct kern *k, uint64_t pa, const void *buf, size_t len,
			       bool code);
/* End the pause: commit its writes (or roll them back when err is set),
 * then resume; returns err, or the first error of those steps. */
struct gp_error *lp_resume(struct kern *k, struct gp_error *err);

/* lp_global.c: attempts for lp_retry_paused (arg: lp_apply_ctx, lp_remove_ctx) */
struct gp_error *lp_global_apply_attempt(struct kern *k, void *arg, struct lp_report *rep,
					 bool *blocked);
struct gp_error *lp_global_remove_attempt(struct kern *k, void *arg, struct lp_report *rep,
					  bool *blocked);

/* lp_transition.c */
struct gp_error *lp_pertask_apply_attempt(struct kern *k, void *arg, struct lp_report *rep,
					  bool *blocked);
struct gp_error *lp_pertask_remove_attempt(struct kern *k, void *arg, struct lp_report *rep,
					   bool *blocked);
/* Run try-complete until done, or the timeout leaves it in progress. */
struct gp_error *lp_drive_transition(struct kern *k, struct lp_ctx *c, const struct lp_opts *o,
				     struct lp_report *rep, bool done_already);
/* Which tasks have not switched and why (one read-only pause). */
struct gp_error *lp_transition_status(struct kern *k, struct lp_ctx *c, struct lp_region *r,
				      struct lp_report *rep);

/* lp_straggler.c */
struct gp_error *lp_signal_stragglers(struct kern *k, struct lp_ctx *c, struct lp_report *rep);
/* Take out an agent left installed (paused); the references it holds are
 * given back only if it never ran. */
struct gp_error *lp_straggler_leftover(struct kern *k, struct lp_ctx *c, struct lp_region *r,
				       bool *removed);

#endif
