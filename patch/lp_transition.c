// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * lp_transition.c - the per-task transition, driven from outside.
 * (About 700 lines: the seed's steps and the attempts that drive them stay
 * together so the file reads next to transition.c from top to bottom.)
 *
 * Hold this file next to the kernel's kernel/livepatch/transition.c (the
 * seed): the same steps in the same order, done by the host while every
 * vCPU is paused, on the guest's own task->patch_state, TIF_PATCH_PENDING
 * and klp_target_state.  The guest itself switches tasks on their way to
 * user mode and in the idle loop (klp_update_patch_state), and children
 * inherit their parent's state (klp_copy_process): that is the guest's
 * code, untouched.
 *
 *   transition.c                  here
 *   klp_complete_transition()     complete_transition()
 *   klp_cancel_transition()       cancel_transition()
 *   klp_check_stack_func()        switch_ranges(), free_ranges() (what) and
 *   klp_check_stack()               lp_frame_in() (lp_check.c) (where)
 *   klp_try_switch_task()         try_switch_task()
 *   klp_send_signals()            lp_signal_stragglers() (lp_straggler.c)
 *   klp_try_complete_transition() try_complete_transition()
 *   klp_start_transition()        start_transition()
 *   klp_init_transition()         init_transition()
 *   klp_reverse_transition()      reverse_transition()
 *   klp_force_transition()        force_transition()
 *   klp_transition_work_fn()      lp_drive_transition() (the retry loop)
 *   klp_synchronize_transition()  not needed: every write is made while
 *                                 all vCPUs are paused, so each smp_wmb /
 *                                 smp_rmb pair of the seed becomes a pause
 *                                 boundary (docs/per-task.md, barrier by
 *                                 barrier)
 *
 * The trampoline slot plays func->transition and klp_ftrace_handler()
 * (lp_redirect.c).  Differences from the seed are explained where they
 * happen.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lp_engine.h"
#include "lp_kmod_cb.h"
#include "stacks.h"

static void add_range(struct lp_range *v, int *n, int max, uint64_t start, uint64_t end,
		      const char *what, const char *patch)
{
	for (int i = 0; i < *n; i++)
		if (v[i].start == start && v[i].end == end)
			return;
	if (*n >= max || start >= end)
		return;
	v[*n].start = start;
	v[*n].end = end;
	if (patch)
		snprintf(v[*n].name, sizeof(v[*n].name), "%s of patch %s", what, patch);
	else
		snprintf(v[*n].name, sizeof(v[*n].name), "%s", what);
	(*n)++;
}

#define MAX_RANGES (LP_MAX_FUNCS_TOTAL + LP_MAX_PATCHES + 2)

/*
 * What a task must not have on its stack to switch (klp_check_stack_func):
 * towards PATCHED, the function each replacement takes over from (the
 * original, or the replacement below it); towards UNPATCHED, the
 * replacement being taken away.  A replacement's extent is its patch's
 * code (helpers included).  And our trampolines: a task inside one is
 * mid-dispatch.
 */
static int switch_ranges(const struct lp_region *r, struct lp_range *v)
{
	const struct lp_hdr *h = &r->hdr;
	int P = h->trans_patch, n = 0;

	for (int f = 0; f < LP_MAX_FUNCS_TOTAL; f++) {
		const struct lp_rec_func *fn = &h->funcs[f];
		const struct lp_rec_site *st = &h->sites[fn->site];
		int stack[LP_MAX_PATCHES], ns, pos;

		if (!fn->in_use || (int)fn->patch != P)
			continue;
		if (h->trans_target == KLP_UNPATCHED) {
			if (fn->nop)
				add_range(v, &n, MAX_RANGES, st->old_addr, st->old_addr + fn->old_size,
					  fn->name, NULL);
			else
				add_range(v, &n, MAX_RANGES, lp_rec_code_start(r, P), lp_rec_code_end(r, P),
					  fn->name, h->patches[P].name);
			continue;
		}
		ns = lp_rec_site_stack(h, (int)fn->site, stack);
		for (pos = 0; pos < ns && stack[pos] != f; pos++)
			;
		if (pos + 1 < ns) {
			int q = (int)h->funcs[stack[pos + 1]].patch;

			add_range(v, &n, MAX_RANGES, lp_rec_code_start(r, q), lp_rec_code_end(r, q),
				  fn->name, h->patches[q].name);
		} else {
			add_range(v, &n, MAX_RANGES, st->old_addr, st->old_addr + fn->old_size,
				  fn->name, NULL);
		}
	}
	add_range(v, &n, MAX_RANGES, lp_page_va(r, LP_TRAMP_PAGE),
		  lp_page_va(r, LP_TRAMP_PAGE) + 4096, "guestpatch trampoline", NULL);
	return n;
}

/* Code that completing the transition frees: no task at all may be in it. */
static int free_ranges(const struct lp_region *r, struct lp_range *v)
{
	const struct lp_hdr *h = &r->hdr;
	int P = h->trans_patch, n = 0;

	if (h->trans_target == KLP_UNPATCHED)
		add_range(v, &n, MAX_RANGES, lp_rec_code_start(r, P), lp_rec_code_end(r, P),
			  "code", h->patches[P].name);
	else if (h->patches[P].flags & LP_FLAG_REPLACE)
		for (int q = 0; q < LP_MAX_PATCHES; q++)
			if (q != P && h->patches[q].state != LP_FREE)
				add_range(v, &n, MAX_RANGES, lp_rec_code_start(r, q),
					  lp_rec_code_end(r, q), "code (replaced)", h->patches[q].name);
	add_range(v, &n, MAX_RANGES, lp_page_va(r, LP_TRAMP_PAGE),
		  lp_page_va(r, LP_TRAMP_PAGE) + 4096, "guestpatch trampoline", NULL);
	return n;
}

/* Every task: set patch_state and the pending flag (-1 keeps the flag). */
static struct gp_error *set_all_tasks(struct kern *k, const struct lp_klp *g,
				      struct stacks_snapshot *snap, int32_t state, int pending)
{
	struct gp_error *err;

	for (size_t i = 0; i < snap->tasks.nr; i++)
		if ((err = lp_klp_set_task(k, g, &snap->tasks.v[i], state, pending)))
			return err;
	return NULL;
}

/* The guest must not be in a state where our task writes could miss a
 * task or race the kernel's own livepatch. */
static struct gp_error *guest_ready(struct kern *k, const struct lp_klp *g, bool *retry,
				    struct lp_report *rep)
{
	bool busy, locked;
	struct gp_error *err;

	*retry = false;
	if ((err = lp_klp_guest_busy(k, g, &busy)))
		return err;
	if (busy)
		return gp_error_create(GP_ERR_BUSY,
				       "the guest's own livepatch has a transition in progress (klp_transition_patch is set); wait for it to finish");
	if ((err = lp_klp_tasklist_write_locked(k, g, &locked)))
		return err;
	if (locked) {
		/* A fork or exit is half done: its child may have copied the
		 * parent's state without being on the list yet. Retry. */
		memset(&rep->check, 0, sizeof(rep->check));
		rep->check.nr_blockers = 1;
		snprintf(rep->check.b[0].reason, sizeof(rep->check.b[0].reason),
			 "tasklist_lock is held for writing (a fork or exit in progress)");
		*retry = true;
	}
	return NULL;
}

/*
 * klp_complete_transition(): records first, code
 * from them, then every task back to KLP_UNDEFINED and klp_target_state to
 * KLP_UNDEFINED.  All in this pause.
 */
static struct gp_error *complete_transition(struct kern *k, struct lp_ctx *c, struct lp_region *r,
					    struct stacks_snapshot *snap)
{
	struct lp_hdr *h = &r->hdr;
	struct lp_hdr *old = malloc(sizeof(*old));
	int P = h->trans_patch;
	struct gp_error *err;

	if (!old)
		return &gp_error_nomem;
	*old = *h;
	if (h->trans_target == KLP_PATCHED) {
		h->patches[P].state = LP_APPLIED;
		if (h->patches[P].flags & LP_FLAG_REPLACE) {
			for (int q = 0; q < LP_MAX_PATCHES; q++)
				if (q != P && h->patches[q].state != LP_FREE)
					lp_rec_replaced(h, q, h->patches[P].flags & LP_FLAG_FORCED);
			lp_rec_drop_nops(h, P);
		}
		/* klp_complete_transition(): post_patch of each object, owed
		 * from now on to whichever vmm runs next (lp_kmod_cb.c) */
		lp_rec_cb_patched(h, P);
	} else {
		/* post_unpatch, and the module's exit as rmmod would run it */
		lp_rec_cb_unpatched(h, P, h->patches[P].flags & LP_FLAG_FORCED);
	}
	h->trans_patch = -1;
	h->trans_target = 0;
	h->trans_attempts = 0;
	h->trans_signals = 0;
	err = lp_commit_change(k, r, old, c);
	if (!err)
		err = set_all_tasks(k, &c->klp, snap, KLP_UNDEFINED, 0);
	if (!err)
		err = lp_klp_set_target(k, &c->klp, KLP_UNDEFINED);
	free(old);
	return err;
}

/* What try_switch_task() checks a task against. */
struct switch_check {
	struct lp_range sw[MAX_RANGES];	/* no unswitched task may be in these */
	struct lp_range fr[MAX_RANGES];	/* no task at all: completion frees them */
	int nsw, nfr;
	int32_t target;
	bool dry;			/* only report */
};

/*
 * klp_try_switch_task() with klp_check_stack(): switch task i to the
 * target state unless something it must not be in is on its stack, or its
 * stack cannot be trusted; a task that blocks is recorded in rep->check
 * with the reason (the seed's -EBUSY / -EINVAL / -EADDRINUSE, in words).
 * The seed skips a task running on another CPU; we see every vCPU's
 * registers in the pause and unwind it like any other.
 */
static struct gp_error *try_switch_task(struct kern *k, struct lp_ctx *c,
					const struct stacks_snapshot *snap, size_t i,
					const struct switch_check *sc, struct lp_report *rep)
{
	struct task_info *t = &snap->tasks.v[i];
	const struct stack_trace *tr = &snap->traces[i];
	int which, f;
	char why[224];
	struct gp_error *err;

	if (t->patch_state == sc->target) {
		rep->switched++;
		/* Switched tasks only matter if they run code that
		 * completion frees (or sit in a trampoline). */
		if ((f = lp_frame_in(tr, sc->fr, sc->nfr, &which)) >= 0) {
			snprintf(why, sizeof(why), "%s is on its stack (frame %d, pc 0x%llx)",
				 sc->fr[which].name, f, (unsigned long long)tr->f[f].pc);
			lp_blocker_add(&rep->check, t, snap->vcpu[i], tr->f[f].pc, sc->fr[which].name,
				       why);
		}
		return NULL;
	}
	if (!t->stack) {
		/* A dead task with its stack freed runs nothing. */
	} else if ((f = lp_frame_in(tr, sc->sw, sc->nsw, &which)) >= 0) {
		snprintf(why, sizeof(why), "%s is on its stack (frame %d, pc 0x%llx)%s",
			 sc->sw[which].name, f, (unsigned long long)tr->f[f].pc,
			 snap->vcpu[i] >= 0 && f == 0 ? ", executing now" : "");
		lp_blocker_add(&rep->check, t, snap->vcpu[i], tr->f[f].pc, sc->sw[which].name, why);
		return NULL;
	} else if (!tr->reliable) {
		snprintf(why, sizeof(why), "unreliable stack: %s", tr->why);
		lp_blocker_add(&rep->check, t, snap->vcpu[i], 0, "", why);
		return NULL;
	}
	if (sc->dry)
		return NULL;
	if ((err = lp_klp_set_task(k, &c->klp, t, sc->target, 0)))
		return err;
	rep->switched++;
	return NULL;
}

/*
 * klp_try_complete_transition(): one attempt, target paused,
 * region loaded with a transition in progress: switch every task that is
 * safe; complete when none is left.  dry: only report.
 */
static struct gp_error *try_complete_transition(struct kern *k, struct lp_ctx *c, struct lp_region *r,
				     struct stacks_snapshot *snap, struct lp_report *rep, bool dry,
				     bool *done)
{
	struct switch_check sc = { .target = r->hdr.trans_target, .dry = dry };
	int32_t target = sc.target;
	struct gp_error *err;
	uint64_t t0 = gp_now_ns();

	sc.nsw = switch_ranges(r, sc.sw);
	sc.nfr = free_ranges(r, sc.fr);
	*done = false;
	memset(&rep->check, 0, sizeof(rep->check));
	rep->check.tasks = snap->tasks.nr;
	rep->tasks = snap->tasks.nr;
	rep->switched = 0;
	rep->target = target;
	rep->per_task = true;
	snprintf(rep->trans_patch, sizeof(rep->trans_patch), "%s",
		 r->hdr.patches[r->hdr.trans_patch].name);
	if (!rep->name[0])
		snprintf(rep->name, sizeof(rep->name), "%s", rep->trans_patch);
	for (size_t i = 0; i < snap->tasks.nr; i++)
		if ((err = try_switch_task(k, c, snap, i, &sc, rep)))
			return err;
	rep->check.check_ns = gp_now_ns() - t0;
	rep->check_ns = rep->check.check_ns;
	if (dry || rep->check.nr_blockers)
		return NULL;
	t0 = gp_now_ns();
	err = complete_transition(k, c, r, snap);
	rep->write_ns += gp_now_ns() - t0;
	if (!err)
		*done = true;
	return err;
}

/*
 * klp_start_transition(): mark every task TIF_PATCH_PENDING, then make the
 * functions visible: lp_commit_change() writes the slots (dispatching, for
 * the patch in transition) and the site jumps.  The seed registers its
 * ftrace handlers between init and start; we write all of it in the
 * caller's one pause, so the guest sees all of it or none.
 */
static struct gp_error *start_transition(struct kern *k, struct lp_ctx *c, struct lp_region *r,
					 const struct lp_hdr *old, struct stacks_snapshot *snap)
{
	struct gp_error *err = set_all_tasks(k, &c->klp, snap, INT32_MIN, 1);

	return err ? err : lp_commit_change(k, r, old, c);
}

/*
 * klp_init_transition(): the records name the patch in transition and
 * its target; every task gets the initial state (the opposite of the
 * target), then klp_target_state the target.  The seed's smp_wmb()
 * between the two is the pause boundary here (docs/per-task.md).
 */
static struct gp_error *init_transition(struct kern *k, struct lp_ctx *c, struct lp_region *r,
					struct stacks_snapshot *snap, int slot, int32_t target)
{
	struct lp_hdr *h = &r->hdr;
	struct gp_error *err;

	h->trans_patch = slot;
	h->trans_target = target;
	h->trans_started_unix = (uint64_t)time(NULL);
	h->trans_attempts = 1;
	if ((err = set_all_tasks(k, &c->klp, snap, !target, -1)))
		return err;
	return lp_klp_set_target(k, &c->klp, target);
}

/*
 * klp_cancel_transition(), for a start that failed inside its pause: every
 * task and klp_target_state go back as they were.  The records were not
 * written (lp_commit_change() writes them last and undoes its code).
 */
static void cancel_transition(struct kern *k, struct lp_ctx *c, struct stacks_snapshot *snap,
			      int32_t old_target)
{
	gp_error_destroy(set_all_tasks(k, &c->klp, snap, KLP_UNDEFINED, 0));
	gp_error_destroy(lp_klp_set_target(k, &c->klp, old_target));
}

/* klp_reverse_transition(): flip the direction of the transition in progress. */
static struct gp_error *reverse_transition(struct kern *k, struct lp_ctx *c, struct lp_region *r,
					 struct stacks_snapshot *snap)
{
	struct lp_hdr *h = &r->hdr;
	int32_t target = !h->trans_target;
	struct gp_error *err;

	/* Seed order: clear every pending flag, flip the target, set the
	 * flag again on every task not in the new target state. */
	if ((err = set_all_tasks(k, &c->klp, snap, INT32_MIN, 0)) ||
	    (err = lp_klp_set_target(k, &c->klp, target)))
		return err;
	for (size_t i = 0; i < snap->tasks.nr; i++)
		if (snap->tasks.v[i].patch_state != target &&
		    (err = lp_klp_set_task(k, &c->klp, &snap->tasks.v[i], INT32_MIN, 1)))
			return err;
	h->trans_target = target;
	h->patches[h->trans_patch].state = target == KLP_PATCHED ? LP_PATCHING : LP_UNPATCHING;
	return lp_region_commit(k, r);
}

/*
 * klp_force_transition(): every task to the target state now; the patch is
 * marked forced.  Completion then needs no check, but code some task may
 * still run is kept (leaked), never freed or reused.
 */
static struct gp_error *force_transition(struct kern *k, struct lp_ctx *c, struct lp_region *r,
					 struct stacks_snapshot *snap, struct lp_report *rep)
{
	int P = r->hdr.trans_patch;
	struct gp_error *err = set_all_tasks(k, &c->klp, snap, r->hdr.trans_target, 0);

	r->hdr.patches[P].flags |= LP_FLAG_FORCED;
	rep->target = r->hdr.trans_target;
	rep->per_task = true;
	rep->tasks = rep->switched = snap->tasks.nr;
	snprintf(rep->trans_patch, sizeof(rep->trans_patch), "%s", r->hdr.patches[P].name);
	return err ? err : complete_transition(k, c, r, snap);
}

/* --- driving it from outside: attempts, each in one pause ------------- */

/* Load the region and the snapshot for an attempt on a running transition. */
static struct gp_error *load_transition(struct kern *k, struct lp_ctx *c, struct lp_region *r,
					struct stacks_snapshot *snap, bool *retry,
					struct lp_report *rep)
{
	struct gp_error *err;

	memset(snap, 0, sizeof(*snap));
	if ((err = lp_region_load(k, r)))
		return err;
	if (!r->present || r->hdr.trans_patch < 0)
		return NULL;
	if (!c->klp.usable)
		return gp_error_create(GP_ERR_UNSUPPORTED,
				       "a per-task transition is recorded but cannot run here: %s",
				       c->klp.why);
	if ((err = guest_ready(k, &c->klp, retry, rep)) || *retry)
		return err;
	return stacks_take(c->stacks, snap);
}

struct trans_arg {
	struct lp_ctx *c;
	bool done;		/* transition completed or none in progress */
};

static struct gp_error *continue_attempt(struct kern *k, void *arg, struct lp_report *rep,
					 bool *blocked)
{
	struct trans_arg *a = arg;
	struct stacks_snapshot snap;
	struct lp_region r;
	bool retry = false;
	struct gp_error *err = load_transition(k, a->c, &r, &snap, &retry, rep);

	if (!err && (retry || !r.present || r.hdr.trans_patch < 0)) {
		*blocked = retry;
		a->done = !retry;
		stacks_free(&snap);
		return NULL;
	}
	if (!err) {
		r.hdr.trans_attempts++;
		err = try_complete_transition(k, a->c, &r, &snap, rep, false, &a->done);
		/* Record the attempt count unless completion rewrote it. */
		if (!err && !a->done)
			err = lp_region_commit(k, &r);
	}
	*blocked = !err && !a->done;
	stacks_free(&snap);
	return err;
}

/* Run try-complete until done, or the timeout leaves it in progress. */
struct gp_error *lp_drive_transition(struct kern *k, struct lp_ctx *c, const struct lp_opts *o,
					 struct lp_report *rep, bool done_already)
{
	double timeout = o && o->timeout_s > 0 ? o->timeout_s : 10.0;
	double signal_after = o && o->signal_after_s ? o->signal_after_s : LP_SIGNAL_AFTER_DEFAULT_S;
	struct trans_arg a = { .c = c, .done = done_already };
	uint64_t t0 = gp_now_ns();
	bool timed_out = false;
	struct gp_error *err;

	double next_signal = signal_after;

	while (!a.done) {
		double left = timeout - (gp_now_ns() - t0) / 1e9;

		if (o && o->no_wait)
			break;
		if (tgt_interrupted())
			break;
		if (left <= 0)
			break;
		/* Run in chunks so the straggler step can come in between. */
		if ((err = lp_retry_paused(k, left > 0.2 ? 0.2 : left,
					LP_TRANS_BACKOFF_MIN_US, LP_TRANS_BACKOFF_MAX_US, continue_attempt,
					&a, rep, &timed_out))) {
			if (err->code != GP_ERR_INTERRUPTED)
				return err;
			gp_error_destroy(err);
			break;
		}
		if (k->t->frozen)
			break;	/* tasks switch only when the guest runs again */
		if (!a.done && signal_after > 0 && (gp_now_ns() - t0) / 1e9 >= next_signal) {
			next_signal += signal_after;
			if ((err = lp_signal_stragglers(k, c, rep)))
				return err;
		}
	}
	rep->completed = a.done;
	rep->in_progress = !a.done;
	if (a.done)
		return NULL;
	{
		char list[4096];

		lp_blocker_list(&rep->check, list, sizeof(list));
		return gp_error_create(tgt_interrupted() ? GP_ERR_INTERRUPTED : GP_ERR_TIMEOUT,
				       "%stransition of patch %s to %s is still in progress after %d attempt%s (%zu of %zu tasks switched; the guest runs consistently meanwhile). Waiting for:%s\n"
				       "Run `vmm transition TARGET` to keep trying, --signal to prod the stragglers, --reverse to undo, or --force.",
				       tgt_interrupted() ? "interrupted by a signal: " : "", rep->trans_patch,
				       rep->target == KLP_PATCHED ? "patched" : "unpatched", rep->attempts,
				       rep->attempts == 1 ? "" : "s", rep->switched, rep->tasks, list);
	}
}

/* Per-task: init and start (klp_init_transition, klp_start_transition) in
 * one pause, then the first try-complete in that same pause. */
struct gp_error *lp_pertask_apply_attempt(struct kern *k, void *arg, struct lp_report *rep,
					      bool *blocked)
{
	struct lp_apply_ctx *a = arg;
	struct stacks_snapshot snap = { 0 };
	struct lp_hdr *old = NULL;
	struct gp_error *err = lp_apply_checks(k, a);
	bool retry = false, wrote_tasks = false;
	int32_t old_target = KLP_UNDEFINED;
	uint64_t tw;

	if (!err)
		err = guest_ready(k, &a->c->klp, &retry, rep);
	if (err || (*blocked = retry))
		return err;
	if ((err = lp_klp_get_target(k, &a->c->klp, &old_target)))
		return err;
	if (old_target != KLP_UNDEFINED)
		return gp_error_create(GP_ERR_BUSY,
				       "klp_target_state is %d, not KLP_UNDEFINED: a livepatch transition (ours or the guest's) was left half done; `vmm recover TARGET` repairs it",
				       old_target);
	if ((err = stacks_take(a->c->stacks, &snap)))
		return err;
	tw = gp_now_ns();
	if (!(old = malloc(sizeof(*old)))) {
		err = &gp_error_nomem;
		goto out;
	}
	if ((err = lp_region_setup(k, &a->r)))
		goto out;
	*old = a->r.hdr;
	for (size_t i = 0; i < snap.tasks.nr; i++)
		if (snap.tasks.v[i].patch_state != KLP_UNDEFINED) {
			err = gp_error_create(GP_ERR_BUSY,
					      "pid %d (%s) has patch_state %d, not KLP_UNDEFINED: a livepatch transition was left half done; `vmm recover TARGET` repairs it",
					      snap.tasks.v[i].pid, snap.tasks.v[i].comm,
					      snap.tasks.v[i].patch_state);
			goto out;
		}
	if ((err = lp_add_new_patch(k, a, LP_PATCHING)))
		goto out;
	wrote_tasks = true;
	if ((err = init_transition(k, a->c, &a->r, &snap, a->slot, KLP_PATCHED)) ||
	    (err = start_transition(k, a->c, &a->r, old, &snap)))
		goto out;
	rep->write_ns = gp_now_ns() - tw;
	err = try_complete_transition(k, a->c, &a->r, &snap, rep, false, &a->done);
	if (!err && !a->done)
		err = lp_region_commit(k, &a->r);
	stacks_free(&snap);
	free(old);
	return err;
out:
	if (wrote_tasks)
		cancel_transition(k, a->c, &snap, old_target);
	stacks_free(&snap);
	free(old);
	return err;
}

struct gp_error *lp_pertask_remove_attempt(struct kern *k, void *arg, struct lp_report *rep,
					       bool *blocked)
{
	struct lp_remove_ctx *rc = arg;
	struct stacks_snapshot snap = { 0 };
	struct lp_region r;
	struct lp_hdr *old = NULL;
	int slot = -1;
	bool retry = false;
	int32_t cur;
	uint64_t tw;
	struct gp_error *err = lp_find_removable(k, rc, &r, &slot);

	if (!err)
		err = guest_ready(k, &rc->c->klp, &retry, rep);
	if (err || (*blocked = retry))
		return err;
	if ((err = stacks_take(rc->c->stacks, &snap)))
		return err;
	tw = gp_now_ns();
	if (r.hdr.trans_patch >= 0) {
		/* Unpatching the patch in transition towards patched reverses it. */
		if (r.hdr.trans_patch != slot || r.hdr.trans_target != KLP_PATCHED) {
			err = gp_error_create(GP_ERR_BUSY,
					      "patch %s is in transition; finish it first (vmm transition TARGET)",
					      r.hdr.patches[r.hdr.trans_patch].name);
			goto out;
		}
		rc->reversed = true;
		if ((err = reverse_transition(k, rc->c, &r, &snap)))
			goto out;
	} else {
		if ((err = lp_klp_get_target(k, &rc->c->klp, &cur)))
			goto out;
		if (cur != KLP_UNDEFINED) {
			err = gp_error_create(GP_ERR_BUSY,
					      "klp_target_state is %d, not KLP_UNDEFINED: a livepatch transition was left half done; `vmm recover TARGET` repairs it",
					      cur);
			goto out;
		}
		if (!(old = malloc(sizeof(*old)))) {
			err = &gp_error_nomem;
			goto out;
		}
		*old = r.hdr;
		r.hdr.patches[slot].state = LP_UNPATCHING;
		if ((err = init_transition(k, rc->c, &r, &snap, slot, KLP_UNPATCHED)) ||
		    (err = start_transition(k, rc->c, &r, old, &snap))) {
			cancel_transition(k, rc->c, &snap, KLP_UNDEFINED);
			goto out;
		}
	}
	rep->write_ns = gp_now_ns() - tw;
	err = try_complete_transition(k, rc->c, &r, &snap, rep, false, &rc->done);
	if (!err && !rc->done)
		err = lp_region_commit(k, &r);
out:
	stacks_free(&snap);
	free(old);
	return err;
}

struct op_ctx {
	struct lp_ctx *c;
	enum lp_trans_op op;
	bool none, done;
};

static struct gp_error *op_attempt(struct kern *k, void *arg, struct lp_report *rep, bool *blocked)
{
	struct op_ctx *oc = arg;
	struct stacks_snapshot snap;
	struct lp_region r;
	bool retry = false;
	struct gp_error *err = load_transition(k, oc->c, &r, &snap, &retry, rep);
	int P;

	if (err || (*blocked = retry))
		goto out;
	if (!r.present || r.hdr.trans_patch < 0) {
		oc->none = true;
		goto out;
	}
	P = r.hdr.trans_patch;
	snprintf(rep->name, sizeof(rep->name), "%s", r.hdr.patches[P].name);
	if (oc->op == LP_TRANS_REVERSE) {
		if ((err = reverse_transition(k, oc->c, &r, &snap)))
			goto out;
		err = try_complete_transition(k, oc->c, &r, &snap, rep, false, &oc->done);
		if (!err && !oc->done)
			err = lp_region_commit(k, &r);
	} else if (oc->op == LP_TRANS_FORCE) {
		err = force_transition(k, oc->c, &r, &snap, rep);
		oc->done = !err;
	}
out:
	stacks_free(&snap);
	return err;
}

struct gp_error *lp_transition(struct kern *k, enum lp_trans_op op, const struct lp_opts *o,
			       struct lp_report *rep)
{
	double timeout = o && o->timeout_s > 0 ? o->timeout_s : 10.0;
	struct lp_ctx c;
	struct op_ctx oc = { .c = &c, .op = op };
	struct gp_error *err;
	uint64_t t0 = gp_now_ns();
	bool timed_out = false;

	memset(rep, 0, sizeof(*rep));
	lp_journal_intent("transition", NULL);
	if ((err = lp_ctx_init(k, &c)))
		return err;
	if (op == LP_TRANS_REVERSE || op == LP_TRANS_FORCE)
		err = lp_retry_paused(k, timeout, LP_BACKOFF_MIN_US, LP_BACKOFF_MAX_US, op_attempt, &oc, rep,
				   &timed_out);
	else if (op == LP_TRANS_SIGNAL)
		err = lp_signal_stragglers(k, &c, rep);
	if (!err && timed_out)
		err = gp_error_create(GP_ERR_TIMEOUT, "could not find a moment to change the transition within %.1f s (tasklist_lock held)", timeout);
	if (!err && oc.none)
		err = gp_error_create(GP_ERR_NOTFOUND, "no transition is in progress");
	if (!err)
		err = lp_drive_transition(k, &c, o, rep, oc.done);
	if (!err)
		lp_kmod_cb_after(k, rep);
	rep->elapsed_ms = (gp_now_ns() - t0) / 1e6;
	lp_ctx_free(&c);
	return err;
}

struct gp_error *lp_transition_status(struct kern *k, struct lp_ctx *c, struct lp_region *r,
				      struct lp_report *rep)
{
	struct stacks_snapshot snap = { 0 };
	struct gp_error *err;
	bool retry = false, done;

	if (!(err = tgt_pause(k->t))) {
		err = load_transition(k, c, r, &snap, &retry, rep);
		if (!err && !retry && r->present && r->hdr.trans_patch >= 0)
			err = try_complete_transition(k, c, r, &snap, rep, true, &done);
		err = lp_resume(k, err);
		lp_report_pause(k, rep);
	}
	stacks_free(&snap);
	return err;
}
