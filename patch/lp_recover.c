// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * lp_recover.c - `vmm recover`: bring a guest back to a state every other
 * command accepts, whatever an interrupted tool (or an older version of
 * it) left behind.
 *
 *  1. An unfinished transaction in the journal is rolled back (the same
 *     roll-back every attach does, lp_journal.c); one of an earlier boot
 *     of the guest is discarded instead, and an owner record of one
 *     cleared.  A region of an earlier boot is reported, not touched: the
 *     next patch sets it up anew.
 *  2. With no transition recorded in our region and the guest's own
 *     livepatch idle (klp_transition_patch NULL), klp_target_state must be
 *     KLP_UNDEFINED and every task KLP_UNDEFINED without TIF_PATCH_PENDING,
 *     as klp_complete_transition() leaves them.  Anything else is the
 *     trace of a transition nobody will finish: reset it.
 *  3. A straggler agent left installed with no transition is taken out;
 *     the task references it holds are given back only if it never ran
 *     (it drops them itself when it runs), so each is dropped once.
 *  4. A call left in flight (lp_call.c) is cleaned up if it has finished,
 *     cancelled if its hook was never taken, and else left running.
 * All of it in one pause, itself one journaled transaction.
 */
#include <stdio.h>
#include <string.h>

#include "lp_engine.h"
#include "lp_kmod_cb.h"
#include "stacks.h"

static struct gp_error *repair(struct kern *k, struct lp_ctx *c, struct lp_recover_report *rep)
{
	struct lp_region r;
	struct stacks_snapshot snap = { 0 };
	bool busy = false;
	int32_t target;
	struct gp_error *err;

	if ((err = lp_journal_recover(k->t, &rep->journal)) ||
	    (err = lp_owner_release(k->t, true)) || (err = lp_region_load(k, &r)))
		return err;
	rep->region_earlier_boot = r.earlier_boot;
	rep->region_boot_id = r.earlier_boot_id;
	if (r.present && r.hdr.call_state &&
	    (err = lp_call_leftover_paused(k, c, &r, &rep->call))) {
		/* A record that cannot be read as a call's (corrupt flags or
		 * pages) is left as it is, pages reserved: the rest of the
		 * repair goes on. */
		if (err->code != GP_ERR_CORRUPT)
			return err;
		rep->call.found = true;
		snprintf(rep->call.state, sizeof(rep->call.state), "%.190s",
			 err->msg ? err->msg : "corrupt");
		gp_error_destroy(err);
	}
	if (r.present && r.hdr.trans_patch >= 0)
		return NULL;	/* a transition of ours: vmm transition drives it */
	if (r.present && r.hdr.agent_state &&
	    (err = lp_straggler_leftover(k, c, &r, &rep->agent_removed)))
		return err;
	if (!c->klp.usable)
		return NULL;
	if ((err = lp_klp_guest_busy(k, &c->klp, &busy)) || busy)
		return err;	/* the guest's own livepatch is at work: not ours */
	if ((err = lp_klp_get_target(k, &c->klp, &target)))
		return err;
	if (target != KLP_UNDEFINED) {
		rep->old_target = target;
		rep->target_reset = true;
		if ((err = lp_klp_set_target(k, &c->klp, KLP_UNDEFINED)))
			return err;
	}
	if ((err = stacks_take(c->stacks, &snap)))
		return err;
	for (size_t i = 0; i < snap.tasks.nr && !err; i++) {
		struct task_info *t = &snap.tasks.v[i];
		bool pending = c->klp.tif_patch_pending >= 0 &&
			       (t->ti_flags >> c->klp.tif_patch_pending) & 1;

		if (t->patch_state == KLP_UNDEFINED && !pending)
			continue;
		rep->tasks_reset++;
		err = lp_klp_set_task(k, &c->klp, t, KLP_UNDEFINED, 0);
	}
	stacks_free(&snap);
	return err;
}

struct gp_error *lp_recover(struct kern *k, struct lp_recover_report *rep)
{
	struct lp_ctx c;
	struct gp_error *err;

	memset(rep, 0, sizeof(*rep));
	lp_journal_intent("recover", NULL);
	if ((err = lp_ctx_init(k, &c)))
		return err;
	if (!(err = tgt_pause(k->t)))
		err = lp_resume(k, repair(k, &c, rep));
	lp_ctx_free(&c);
	return err;
}

struct gp_error *lp_recover_journal(struct kern *k, struct lp_attach_report *rep)
{
	struct lp_region r;
	struct gp_error *err;

	bool call = false, owed = false;

	memset(rep, 0, sizeof(*rep));
	if ((err = tgt_pause(k->t)))
		return err;
	if (!(err = lp_journal_recover(k->t, &rep->journal))) {
		gp_error_destroy(lp_region_load(k, &r));
		rep->region_earlier_boot = r.earlier_boot;
		rep->region_boot_id = r.earlier_boot_id;
		call = r.present && r.hdr.call_state;
		owed = r.present && r.hdr.cb_slot;
	}
	if ((err = tgt_resume_keep(k->t, err)) || (!call && !owed))
		return err;
	/* A call an earlier vmm left in flight: freed now if it has finished
	 * (its own pause, with a stack check). */
	if (call && (err = lp_call_leftover(k, &rep->call))) {
		snprintf(rep->call_err, sizeof(rep->call_err), "%s",
			 err->msg ? err->msg : "failed");
		gp_error_destroy(err);
	}
	/* Callbacks a livepatch module is owed (an earlier vmm completed its
	 * transition, or died running them): run now. */
	if (owed) {
		struct lp_cb_log log;

		memset(&log, 0, sizeof(log));
		err = lp_kmod_cb_run(k, &log);
		snprintf(rep->callbacks, sizeof(rep->callbacks), "%s", log.text);
		if (err)
			snprintf(rep->callbacks_err, sizeof(rep->callbacks_err), "%.230s",
				 err->msg ? err->msg : "failed");
		gp_error_destroy(err);
	}
	return NULL;
}

struct gp_error *lp_release(struct kern *k)
{
	struct gp_error *err;

	if (k->t->paused || tgt_map_phys(k->t, LP_JOURNAL_PA, 4096))
		return lp_owner_release(k->t, false);
	if ((err = tgt_pause(k->t)))
		return err;
	return tgt_resume_keep(k->t, lp_owner_release(k->t, false));
}

struct gp_error *lp_recover_hook(struct tgt *t)
{
	struct lp_jrecovery rec;

	return lp_journal_recover(t, &rec);
}
