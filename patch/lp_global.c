// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * lp_global.c - the stop-the-world model: one pause at which no task has a
 * function being replaced (or code being freed) on its stack, and every
 * write in that same pause; or, while some task blocks, nothing written.
 * Works on any kernel, with or without CONFIG_LIVEPATCH.
 */
#include <stdio.h>
#include <stdlib.h>

#include "lp_engine.h"

/* Global: everything in one pause once no stack holds what changes. */
struct gp_error *lp_global_apply_attempt(struct kern *k, void *arg, struct lp_report *rep,
					     bool *blocked)
{
	struct lp_apply_ctx *a = arg;
	struct lp_hdr *old = NULL;
	struct gp_error *err = lp_apply_checks(k, a);
	uint64_t tw;

	if (!err)
		err = lp_check_stacks(a->c->stacks, a->ranges, a->nr_ranges, &rep->check);
	rep->check_ns = rep->check.check_ns;
	if (err || (*blocked = rep->check.nr_blockers > 0))
		return err;
	tw = gp_now_ns();
	if (!(old = malloc(sizeof(*old))))
		return &gp_error_nomem;
	if ((err = lp_region_setup(k, &a->r)))
		goto out;
	*old = a->r.hdr;
	if ((err = lp_add_new_patch(k, a, LP_APPLIED)))
		goto out;
	if (a->flags & LP_FLAG_REPLACE) {
		for (int q = 0; q < LP_MAX_PATCHES; q++)
			if (q != a->slot && a->r.hdr.patches[q].state != LP_FREE)
				lp_rec_replaced(&a->r.hdr, q, false);
		lp_rec_drop_nops(&a->r.hdr, a->slot);
	}
	lp_rec_cb_patched(&a->r.hdr, a->slot);
	err = lp_commit_change(k, &a->r, old, a->c);
out:
	free(old);
	rep->write_ns = gp_now_ns() - tw;
	return err;
}

struct gp_error *lp_global_remove_attempt(struct kern *k, void *arg, struct lp_report *rep,
					      bool *blocked)
{
	struct lp_remove_ctx *rc = arg;
	struct lp_range ranges[2];
	struct lp_region r;
	struct lp_hdr *old;
	int slot = -1;
	uint64_t tw;
	struct gp_error *err = lp_find_removable(k, rc, &r, &slot);

	if (!err && r.hdr.trans_patch >= 0)
		err = gp_error_create(GP_ERR_BUSY,
				      "patch %s is in transition; finish it first (vmm transition TARGET)",
				      r.hdr.patches[r.hdr.trans_patch].name);
	if (err)
		return err;
	/* Nothing may be running in the replacement code or the slots; the
	 * old functions are fine (they come back). */
	ranges[0].start = lp_rec_code_start(&r, slot);
	ranges[0].end = lp_rec_code_end(&r, slot);
	snprintf(ranges[0].name, sizeof(ranges[0].name), "%s (patch code)", rc->name);
	ranges[1].start = lp_page_va(&r, LP_TRAMP_PAGE);
	ranges[1].end = ranges[1].start + 4096;
	snprintf(ranges[1].name, sizeof(ranges[1].name), "guestpatch trampolines");
	err = lp_check_stacks(rc->c->stacks, ranges, 2, &rep->check);
	rep->check_ns = rep->check.check_ns;
	if (err || (*blocked = rep->check.nr_blockers > 0))
		return err;
	tw = gp_now_ns();
	if (!(old = malloc(sizeof(*old))))
		return &gp_error_nomem;
	*old = r.hdr;
	lp_rec_cb_unpatched(&r.hdr, slot, r.hdr.patches[slot].flags & LP_FLAG_FORCED);
	err = lp_commit_change(k, &r, old, rc->c);
	free(old);
	rep->write_ns = gp_now_ns() - tw;
	return err;
}

