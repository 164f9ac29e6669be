// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * lp_kmod_cb.c - a livepatch module's callbacks and exit, run in the
 * guest where the kernel's livepatch core and rmmod run them (lp_kmod_cb.h
 * says when, and how what is owed survives the tool dying).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lp_call.h"
#include "lp_engine.h"
#include "lp_kmod.h"
#include "lp_kmod_cb.h"
#include "lp_patch.h"
#include "modules.h"

_Static_assert(LP_KMOD_MAX_OBJS <= LP_KMOD_CB_MAX_OBJS, "every klp_object has a bit in cb_todo");

#define RUN_MAX_STEPS 64	/* callbacks and stage changes in one run */

static const char *const cb_names[4] = { "pre_patch", "post_patch", "pre_unpatch",
					 "post_unpatch" };

static void log_add(struct lp_cb_log *log, const char *fmt_what, const char *obj, int64_t ret,
		    bool has_ret)
{
	size_t n;

	if (!log)
		return;
	n = strlen(log->text);
	if (n + 2 >= sizeof(log->text))
		return;
	if (has_ret)
		snprintf(log->text + n, sizeof(log->text) - n, "%s%s(%s)=%d", n ? " " : "", fmt_what,
			 obj[0] ? obj : "vmlinux", (int)ret);
	else
		snprintf(log->text + n, sizeof(log->text) - n, "%s%s(%s)", n ? " " : "", fmt_what,
			 obj[0] ? obj : "vmlinux");
}

/* ---- the objects, read from the patch's pages ---- */

struct cb_layout {
	uint64_t p_objs, o_size, o_name, o_funcs, o_cb[4];
};

static struct gp_error *cb_layout(const struct kbtf *b, struct cb_layout *l)
{
	static const char *const cb[4] = { "callbacks.pre_patch", "callbacks.post_patch",
					   "callbacks.pre_unpatch", "callbacks.post_unpatch" };
	struct gp_error *err;

	if (!b)
		return gp_error_create(GP_ERR_UNSUPPORTED,
				       "no BTF for the guest kernel: a livepatch module's callbacks cannot be found");
	if ((err = kbtf_offsetof(b, "klp_patch", "objs", &l->p_objs, NULL)) ||
	    (err = kbtf_sizeof(b, "klp_object", &l->o_size)) ||
	    (err = kbtf_offsetof(b, "klp_object", "name", &l->o_name, NULL)) ||
	    (err = kbtf_offsetof(b, "klp_object", "funcs", &l->o_funcs, NULL)))
		return gp_error_wrap(err, "the guest kernel's livepatch structures (BTF)");
	for (int i = 0; i < 4; i++)
		if ((err = kbtf_offsetof(b, "klp_object", cb[i], &l->o_cb[i], NULL)))
			return gp_error_wrap(err, "the guest kernel's livepatch structures (BTF)");
	if (!l->o_size || l->o_size > 4096)
		return gp_error_create(GP_ERR_UNSUPPORTED, "the guest's struct klp_object has %llu bytes",
				       (unsigned long long)l->o_size);
	return NULL;
}

struct pages {
	const uint8_t *buf;
	uint64_t va, len;
};

static bool in_pages(const struct pages *p, uint64_t va, uint64_t len)
{
	return va >= p->va && va - p->va <= p->len && len <= p->len - (va - p->va);
}

static uint64_t u64_at(const struct pages *p, uint64_t va)
{
	uint64_t v;

	memcpy(&v, p->buf + (va - p->va), 8);
	return v;
}

struct gp_error *lp_kmod_cb_read(struct kern *k, const struct lp_region *r, int slot,
				 struct lp_cb_objs *out)
{
	const struct lp_hdr *h = &r->hdr;
	const struct lp_rec_patch *p = &h->patches[slot];
	struct cb_layout l;
	struct pages d;
	uint64_t code_lo = lp_page_va(r, p->code_page);
	uint64_t code_hi = code_lo + (uint64_t)p->code_pages * 4096;
	uint64_t klp, objs;
	uint8_t *buf = NULL;
	struct gp_error *err = NULL;

	memset(out, 0, sizeof(*out));
	if (!h->kmods[slot].klp_off && !h->kmods[slot].exit_off)
		return NULL;
	if (!h->kmods[slot].klp_off)	/* a plain module run by vmm call */
		goto exit_fn;
	if ((err = cb_layout(k->btf, &l)))
		return err;
	d.va = lp_page_va(r, p->data_page);
	d.len = (uint64_t)p->data_pages * 4096;
	if (!d.len || !(buf = malloc(d.len)))
		return d.len ? &gp_error_nomem :
			       gp_error_create(GP_ERR_CORRUPT, "patch %s has no data pages", p->name);
	d.buf = buf;
	if ((err = tgt_read_phys(k->t, lp_page_pa(p->data_page), buf, d.len)))
		goto out;
	klp = r->va + h->kmods[slot].klp_off;
	if (!in_pages(&d, klp + l.p_objs, 8)) {
		err = gp_error_addr(GP_ERR_CORRUPT, klp,
				    "patch %s: its klp_patch record (0x%llx) is not in its data pages",
				    p->name, (unsigned long long)klp);
		goto out;
	}
	objs = u64_at(&d, klp + l.p_objs);
	for (int i = 0;; i++) {
		uint64_t va = objs + (uint64_t)i * l.o_size, name, funcs;
		struct lp_cb_obj *o = &out->v[out->n];

		if (!in_pages(&d, va, l.o_size)) {
			err = gp_error_addr(GP_ERR_CORRUPT, va,
					    "patch %s: klp_object %d is not in its data pages", p->name, i);
			goto out;
		}
		name = u64_at(&d, va + l.o_name);
		funcs = u64_at(&d, va + l.o_funcs);
		if (!name && !funcs)
			break;
		if (out->n >= LP_KMOD_CB_MAX_OBJS) {
			err = gp_error_create(GP_ERR_CORRUPT, "patch %s: more than %d klp_objects",
					      p->name, LP_KMOD_CB_MAX_OBJS);
			goto out;
		}
		o->va = va;
		if (name) {
			uint64_t avail;

			if (!in_pages(&d, name, 1)) {
				err = gp_error_addr(GP_ERR_CORRUPT, name,
						    "patch %s: klp_object %d's name is not in its data pages",
						    p->name, i);
				goto out;
			}
			avail = d.len - (name - d.va);
			if (avail > LP_MODULE_NAME)
				avail = LP_MODULE_NAME;
			if (!memchr(d.buf + (name - d.va), 0, avail)) {
				err = gp_error_addr(GP_ERR_CORRUPT, name,
						    "patch %s: klp_object %d's name is not a module name",
						    p->name, i);
				goto out;
			}
			snprintf(o->name, sizeof(o->name), "%s", (const char *)d.buf + (name - d.va));
		}
		for (int c = 0; c < 4; c++) {
			o->fn[c] = u64_at(&d, va + l.o_cb[c]);
			if (o->fn[c] && (o->fn[c] < code_lo || o->fn[c] >= code_hi)) {
				err = gp_error_addr(GP_ERR_CORRUPT, o->fn[c],
						    "patch %s: the %s callback of object %s (0x%llx) is not in its code pages",
						    p->name, cb_names[c], o->name[0] ? o->name : "vmlinux",
						    (unsigned long long)o->fn[c]);
				goto out;
			}
		}
		out->n++;
	}
	free(buf);
	buf = NULL;
exit_fn:
	if (h->kmods[slot].exit_off) {
		out->exit_fn = r->va + h->kmods[slot].exit_off;
		if (out->exit_fn < code_lo || out->exit_fn >= code_hi) {
			err = gp_error_addr(GP_ERR_CORRUPT, out->exit_fn,
					    "patch %s: its exit function is not in its code pages", p->name);
			goto out;
		}
	}
out:
	free(buf);
	return err;
}

struct gp_error *lp_kmod_cb_set_mods(const struct kbtf *btf, const struct kmod_list *mods,
				     const struct lp_kmod_patch *kp, struct lp_image *img)
{
	uint64_t off, size;
	struct gp_error *err;

	if ((err = kbtf_offsetof(btf, "klp_object", "mod", &off, &size)))
		return gp_error_wrap(err, "the guest kernel's struct klp_object (BTF)");
	if (size != 8)
		return gp_error_create(GP_ERR_UNSUPPORTED, "the guest's klp_object.mod has %llu bytes",
				       (unsigned long long)size);
	for (int i = 0; i < kp->nr_objs; i++) {
		const struct kmod *m = kp->objs[i].name[0] && mods ?
					       kmod_by_name(mods, kp->objs[i].name) : NULL;
		uint64_t va = kp->objs[i].va + off, v = m ? m->addr : 0;

		if (!kp->objs[i].name[0])
			continue;
		if (va < img->data_va || va - img->data_va > img->data_used ||
		    img->data_used - (va - img->data_va) < 8)
			return gp_error_addr(GP_ERR_INVAL, va, "klp_object %s lies outside the module's data",
					     kp->objs[i].name);
		memcpy(img->data + (va - img->data_va), &v, 8);
	}
	return NULL;
}

/* klp_init_object_loaded() is for loaded objects only: the functions of
 * a module object whose module the guest has not loaded are left out
 * (the kernel patches them when the module comes; we do not see it come:
 * not_loaded names them). */
void lp_kmod_skip_unloaded(struct lp_kmod_patch *kp, const struct kmod_list *mods,
			   struct lp_image *img, char *not_loaded, size_t len)
{
	int out = 0;

	for (int i = 0; i < kp->nr_objs; i++) {
		struct lp_kmod_object *ob = &kp->objs[i];
		bool loaded = !ob->name[0] || (mods && kmod_by_name(mods, ob->name));
		int first = out;

		for (int j = ob->first_func; j < ob->first_func + ob->nr_funcs; j++)
			if (loaded)
				img->funcs[out++] = img->funcs[j];
		if (!loaded) {
			size_t n = strlen(not_loaded);

			snprintf(not_loaded + n, len - n, "%s%s", n ? ", " : "", ob->name);
		}
		ob->first_func = first;
		ob->nr_funcs = out - first;
	}
	img->nr_funcs = out;
}

/* core.c's klp_is_object_loaded(): vmlinux, or a module the guest has. */
static bool obj_loaded(const struct lp_ctx *c, const struct lp_cb_obj *o)
{
	return !o->name[0] || kmod_by_name(&c->stacks->mods, o->name) != NULL;
}

/* ---- the owed callbacks ---- */

/* Which callback (index into lp_cb_obj.fn) a stage runs. */
static int stage_cb(uint32_t stage)
{
	switch (stage) {
	case LP_CB_PRE_PATCH: return 0;
	case LP_CB_POST_PATCH: return 1;
	case LP_CB_PRE_UNPATCH: return 2;
	default: return 3;	/* POST_UNPATCH, CANCEL */
	}
}

static void cb_clear(struct lp_hdr *h)
{
	h->cb_slot = h->cb_stage = h->cb_todo = h->cb_ok = h->cb_calling = 0;
}

struct next_call {
	uint64_t fn, arg;
	uint32_t tag;
	char what[16];
	char obj[LP_MODULE_NAME + 1];
};

/*
 * One step, paused with the region loaded: settle the stage (skip what
 * needs no call, move on when a stage is done, free the pages at the
 * end) and say which call is next (nc->fn 0: none).  *busy: a callback
 * set up by an earlier process is still in flight.
 */
static struct gp_error *step(struct kern *k, struct lp_ctx *c, struct lp_region *r,
			     struct next_call *nc, bool *busy, bool *idle)
{
	struct lp_hdr *h = &r->hdr;
	struct lp_cb_objs objs;
	int slot;
	struct gp_error *err;

	memset(nc, 0, sizeof(*nc));
	*busy = *idle = false;
	if (r->present && !h->cb_slot && (slot = lp_rec_exit_queued(h)) >= 0) {
		/* a patch an atomic replace dropped: its exit, then its pages */
		h->cb_slot = (uint32_t)slot + 1;
		h->cb_stage = LP_CB_EXIT;
		h->cb_todo = 1;
		h->cb_ok = 0;
		return lp_region_commit(k, r);
	}
	if (!r->present || !h->cb_slot) {
		*idle = true;
		return NULL;
	}
	if (h->cb_calling) {
		*busy = true;
		return NULL;
	}
	slot = (int)h->cb_slot - 1;
	if (h->cb_stage == LP_CB_PRE_PATCH) {
		/* the vmm that ran them is gone: klp_cancel_transition() */
		h->cb_stage = LP_CB_CANCEL;
		h->cb_todo = h->cb_ok;
	} else if (h->cb_stage == LP_CB_PRE_UNPATCH) {
		/* its unpatch never started: the patch stays applied */
		cb_clear(h);
		return lp_region_commit(k, r);
	} else if (h->cb_stage == LP_CB_INIT) {
		/* a module run by vmm call (lp_kmod_run.c), its vmm gone: an
		 * init never called is not called now (the pages go); one
		 * that returned 0 is owed its exit, as rmmod would run it */
		bool ran = !(h->cb_todo & 1);

		h->cb_stage = LP_CB_EXIT;
		h->cb_todo = ran && (int32_t)h->cb_ret == 0 && h->kmods[slot].exit_off ? 1 : 0;
	}
	if ((err = lp_kmod_cb_read(k, r, slot, &objs)))
		return err;
	if (h->cb_stage != LP_CB_EXIT) {
		int cb = stage_cb(h->cb_stage);

		for (int i = 0; i < LP_KMOD_CB_MAX_OBJS && h->cb_todo; i++) {
			const struct lp_cb_obj *o = &objs.v[i];

			if (!(h->cb_todo & (1u << i)))
				continue;
			if (i >= objs.n || !o->fn[cb] || !obj_loaded(c, o)) {
				h->cb_todo &= ~(1u << i);
				continue;
			}
			nc->fn = o->fn[cb];
			nc->arg = o->va;
			nc->tag = (uint32_t)i + 1;
			snprintf(nc->what, sizeof(nc->what), "%s", cb_names[cb]);
			snprintf(nc->obj, sizeof(nc->obj), "%s", o->name);
			return lp_region_commit(k, r);
		}
		if (h->cb_stage == LP_CB_POST_PATCH) {
			cb_clear(h);
			return lp_region_commit(k, r);
		}
		if (h->cb_stage == LP_CB_POST_UNPATCH && objs.exit_fn) {
			h->cb_stage = LP_CB_EXIT;
			h->cb_todo = 1;
		} else {
			h->cb_todo = 0;
		}
	}
	if (h->cb_stage == LP_CB_EXIT && (h->cb_todo & 1)) {
		nc->fn = objs.exit_fn;
		nc->tag = 1;
		snprintf(nc->what, sizeof(nc->what), "exit");
		snprintf(nc->obj, sizeof(nc->obj), "%s", h->patches[slot].name);
		return lp_region_commit(k, r);
	}
	/* Everything ran: the pages go (kept, never reused, if a forced
	 * transition may have left a task in its code). */
	{
		struct lp_hdr *old = malloc(sizeof(*old));

		if (!old)
			return &gp_error_nomem;
		*old = *h;
		if (h->patches[slot].state != LP_LOADED) {
			free(old);
			return gp_error_create(GP_ERR_CORRUPT,
					       "patch %s owes no more callbacks but is not a loaded patch's record",
					       h->patches[slot].name);
		}
		lp_rec_drop_patch(h, slot, h->patches[slot].flags & LP_FLAG_FORCED);
		cb_clear(h);
		err = lp_commit_change(k, r, old, c);
		free(old);
		*idle = true;
		return err;
	}
}

static struct gp_error *run_with(struct kern *k, struct lp_ctx *c, struct lp_cb_log *log)
{
	for (int n = 0; n < RUN_MAX_STEPS; n++) {
		struct next_call nc;
		struct lp_region r;
		bool busy = false, idle = false;
		int64_t ret = 0;
		struct gp_error *err;

		if ((err = tgt_pause(k->t)))
			return err;
		err = lp_region_load(k, &r);
		if (!err)
			err = step(k, c, &r, &nc, &busy, &idle);
		if ((err = lp_resume(k, err)))
			return gp_error_wrap(err, "the callbacks a livepatch module is owed");
		if (idle)
			return NULL;
		if (busy)
			return gp_error_create(GP_ERR_BUSY,
					       "a callback of patch %s set up by an earlier vmm is still running in the guest: the next vmm command runs the rest",
					       r.hdr.patches[r.hdr.cb_slot - 1].name);
		if (!nc.fn)
			continue;
		if ((err = lp_call_tagged(k, nc.fn, nc.arg, LP_CB_TIMEOUT_S, nc.tag, &ret)))
			return gp_error_wrap(err, "the %s callback of object %s", nc.what,
					     nc.obj[0] ? nc.obj : "vmlinux");
		/* only pre_patch returns a value (the others are void) */
		log_add(log, nc.what, nc.obj, ret, false);
	}
	return gp_error_create(GP_ERR_LIMIT, "more than %d steps of owed callbacks", RUN_MAX_STEPS);
}

struct gp_error *lp_kmod_cb_run(struct kern *k, struct lp_cb_log *log)
{
	struct lp_ctx c;
	struct lp_region r;
	struct gp_error *err;

	/* Nothing owed (nearly always): one look, no unwinder set up. */
	if ((err = tgt_pause(k->t)))
		return err;
	err = lp_region_load(k, &r);
	if ((err = lp_resume(k, err)) || !r.present ||
	    (!r.hdr.cb_slot && lp_rec_exit_queued(&r.hdr) < 0))
		return err;
	/* Kill tests: die with callbacks owed, e.g. right after a
	 * transition completed. */
	tgt_fault_point("GP_FAULT_KILL_BEFORE_CALLBACKS");
	if ((err = lp_ctx_init(k, &c)))
		return err;
	err = run_with(k, &c, log);
	lp_ctx_free(&c);
	return err;
}

void lp_kmod_cb_after(struct kern *k, struct lp_report *rep)
{
	struct lp_cb_log log;
	struct gp_error *err;
	size_t n = strlen(rep->callbacks);

	memset(&log, 0, sizeof(log));
	err = lp_kmod_cb_run(k, &log);
	if (log.text[0])
		snprintf(rep->callbacks + n, sizeof(rep->callbacks) - n, "%s%s", n ? " " : "",
			 log.text);
	if (err)
		snprintf(rep->callbacks_err, sizeof(rep->callbacks_err), "%.230s",
			 err->msg ? err->msg : "failed");
	gp_error_destroy(err);
}

/* ---- the stages a command drives itself ---- */

struct gp_error *lp_kmod_cb_cancel(struct kern *k, int slot, struct lp_cb_log *log)
{
	struct lp_region r;
	struct gp_error *err;

	if ((err = tgt_pause(k->t)))
		return err;
	err = lp_region_load(k, &r);
	if (!err && r.present && r.hdr.cb_slot == (uint32_t)slot + 1 &&
	    r.hdr.cb_stage == LP_CB_PRE_PATCH) {
		r.hdr.cb_stage = LP_CB_CANCEL;
		r.hdr.cb_todo = r.hdr.cb_ok;
		err = lp_region_commit(k, &r);
	}
	if ((err = lp_resume(k, err)))
		return err;
	return lp_kmod_cb_run(k, log);
}

struct gp_error *lp_kmod_cb_pre_patch(struct kern *k, struct lp_apply_ctx *a,
				      const char *const *obj_names, const uint64_t *obj_va,
				      const uint64_t *pre_patch, int nobjs, uint64_t *gen,
				      struct lp_cb_log *log)
{
	struct lp_region *r = &a->r;
	struct lp_hdr *h = &r->hdr;
	struct gp_error *err;

	/* The pages, as patch a->slot, nothing of it reachable. */
	if ((err = tgt_pause(k->t)))
		return err;
	err = lp_region_load(k, r);
	if (!err && h->generation != a->gen)
		err = gp_error_create(GP_ERR_BUSY,
				      "the guest's patch records changed while planning (another vmm process?); run the command again");
	if (!err && r->present && (h->cb_slot || h->trans_patch >= 0))
		err = gp_error_create(GP_ERR_BUSY,
				      "callbacks or a transition of another patch are pending; finish them first (vmm transition TARGET)");
	if (!err)
		err = lp_region_setup(k, r);
	if (!err)
		err = lp_write_alloc(k, a->code_page, (unsigned)(a->img->code_size / 4096),
				     a->img->code, a->img->code_used, true);
	if (!err)
		err = lp_write_alloc(k, a->data_page, (unsigned)(a->img->data_size / 4096),
				     a->img->data, a->img->data_used, false);
	if (!err) {
		lp_rec_set_patch(h, a->img, a->code_page, a->data_page, a->slot, LP_LOADED, a->flags);
		h->cb_slot = (uint32_t)a->slot + 1;
		h->cb_stage = LP_CB_PRE_PATCH;
		h->cb_todo = 0;
		h->cb_ok = 0;
		err = lp_region_commit(k, r);
	}
	if ((err = lp_resume(k, err)))
		return err;
	/* __klp_enable_patch(): pre_patch of each loaded object, in order. */
	for (int i = 0; i < nobjs && i < LP_KMOD_CB_MAX_OBJS; i++) {
		struct lp_cb_obj o = { .va = obj_va[i] };
		int64_t ret = 0;
		struct gp_error *cancel;

		snprintf(o.name, sizeof(o.name), "%s", obj_names[i]);
		if (!pre_patch[i] || !obj_loaded(a->c, &o))
			continue;
		err = lp_call_tagged(k, pre_patch[i], o.va, LP_CB_TIMEOUT_S, (uint32_t)i + 1, &ret);
		if (!err) {
			log_add(log, "pre_patch", o.name, ret, true);
			/* Kill tests: die between two pre_patch callbacks
			 * (the next vmm cancels). */
			tgt_fault_point("GP_FAULT_KILL_AFTER_PRE_PATCH");
			if ((int32_t)ret == 0)
				continue;
			err = gp_error_create(GP_ERR_INVAL,
					      "pre-patch callback failed for object '%s': it returned %d; patch %s not applied",
					      o.name[0] ? o.name : "vmlinux", (int)(int32_t)ret,
					      a->img->name);
		} else {
			err = gp_error_wrap(err,
					    "the pre_patch callback of object '%s' (outcome unknown, taken as failed); patch %s not applied",
					    o.name[0] ? o.name : "vmlinux", a->img->name);
		}
		/* klp_cancel_transition(): post_unpatch of those that succeeded */
		if ((cancel = lp_kmod_cb_cancel(k, a->slot, log)))
			err = gp_error_wrap(err, "%s; and cancelling it: %s",
					    err->msg ? err->msg : "", cancel->msg ? cancel->msg : "");
		gp_error_destroy(cancel);
		return err;
	}
	if ((err = tgt_pause(k->t)))
		return err;
	err = lp_region_load(k, r);
	*gen = h->generation;
	return lp_resume(k, err);
}

struct gp_error *lp_kmod_cb_pre_unpatch(struct kern *k, const char *name, bool force,
				       struct lp_cb_log *log)
{
	struct lp_ctx c;
	struct lp_region r;
	struct lp_cb_objs objs = { 0 };
	int slot = -1;
	bool run = false;
	struct gp_error *err;

	if ((err = lp_ctx_init(k, &c)))
		return err;
	if ((err = tgt_pause(k->t)))
		goto out;
	err = lp_region_load(k, &r);
	if (!err && r.present && (slot = lp_rec_find_patch(&r.hdr, name)) >= 0 &&
	    r.hdr.kmods[slot].klp_off && r.hdr.patches[slot].state == LP_APPLIED &&
	    !r.hdr.cb_slot && r.hdr.trans_patch < 0 &&
	    (force || !(r.hdr.patches[slot].flags & LP_FLAG_FORCED))) {
		err = lp_kmod_cb_read(k, &r, slot, &objs);
		for (int i = 0; !err && i < objs.n; i++)
			run |= objs.v[i].fn[2] != 0;
		if (!err && run) {
			r.hdr.cb_slot = (uint32_t)slot + 1;
			r.hdr.cb_stage = LP_CB_PRE_UNPATCH;
			r.hdr.cb_todo = (1u << LP_KMOD_CB_MAX_OBJS) - 1;
			err = lp_region_commit(k, &r);
		}
	}
	if ((err = lp_resume(k, err)) || !run)
		goto out;
	/* __klp_disable_patch(): pre_unpatch of each patched object. */
	for (int i = 0; i < objs.n; i++) {
		int64_t ret;

		if (!objs.v[i].fn[2] || !obj_loaded(&c, &objs.v[i]))
			continue;
		if ((err = lp_call_tagged(k, objs.v[i].fn[2], objs.v[i].va, LP_CB_TIMEOUT_S,
					  (uint32_t)i + 1, &ret)))
			break;
		log_add(log, "pre_unpatch", objs.v[i].name, 0, false);
	}
	{
		struct gp_error *e2 = tgt_pause(k->t);

		if (!e2) {
			e2 = lp_region_load(k, &r);
			if (!e2 && r.hdr.cb_slot == (uint32_t)slot + 1 &&
			    r.hdr.cb_stage == LP_CB_PRE_UNPATCH) {
				cb_clear(&r.hdr);
				e2 = lp_region_commit(k, &r);
			}
			e2 = lp_resume(k, e2);
		}
		if (!err)
			err = e2;
		else
			gp_error_destroy(e2);
	}
out:
	lp_ctx_free(&c);
	return err;
}
