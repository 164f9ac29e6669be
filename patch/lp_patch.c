// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * lp_patch.c - the engine's entry points: apply, remove, list, status,
 * and what they share (the context, the retry loop around pauses, the
 * blocked-task report).  The work itself is done by lp_global.c (stop the
 * world) or lp_transition.c (per task), on records (lp_records.c) whose
 * code lp_redirect.c writes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lp_elf.h"
#include "lp_engine.h"
#include "lp_kmod.h"
#include "lp_kmod_cb.h"
#include "orc.h"
#include "stacks.h"

/*
 * Where a patch's returns go (it is built with -mfunction-return=
 * thunk-extern, so each `ret` is a `jmp __x86_return_thunk`): the way the
 * guest kernel's own returns went after boot (apply_returns()):
 *  - the kernel's x86_return_thunk names a mitigation thunk (retbleed,
 *    SRSO, call depth...): jump there;
 *  - it is the default __x86_return_thunk: from 6.9 reaching that one
 *    warns and taints (it jumps to __warn_thunk), and the kernel's own
 *    returns are plain `ret`: so are ours.  Before, it is a safe return
 *    the kernel itself may still use: jump there;
 *  - no return thunk in the kernel at all: plain `ret`.
 */
struct gp_error *lp_return_thunk(struct kern *k, uint64_t *addr)
{
	uint64_t def, var, cur, off, size;
	const struct ksym *s;
	struct gp_error *err;

	if (!kern_has_sym(k, "__x86_return_thunk", &def)) {
		*addr = LP_SYM_RET_INLINE;
		return NULL;
	}
	cur = def;
	if (kern_has_sym(k, "x86_return_thunk", &var)) {
		if ((err = kern_read_u64(k, var, &cur)))
			return gp_error_wrap(err, "reading the guest's x86_return_thunk");
		s = ksym_symbolize(k->syms, cur, &off, &size);
		if (!s || off || (s->type != 't' && s->type != 'T'))
			return gp_error_addr(GP_ERR_CORRUPT, var,
					     "the guest's x86_return_thunk holds 0x%llx, not the start of a kernel function",
					     (unsigned long long)cur);
	}
	if (cur != def || !kern_has_sym(k, "__warn_thunk", &var))
		*addr = cur;
	else
		*addr = LP_SYM_RET_INLINE;
	return NULL;
}

struct gp_error *lp_code_shape(struct kern *k, struct lp_code_shape *out)
{
	uint64_t ret, fn, site, off, size;
	const struct ksym *s;
	struct gp_error *err;

	memset(out, 0, sizeof(*out));
	if ((err = lp_return_thunk(k, &ret)))
		return err;
	if (ret != LP_SYM_RET_INLINE) {
		out->ret_thunk = ret;
		s = ksym_symbolize(k->syms, ret, &off, &size);
		snprintf(out->ret_name, sizeof(out->ret_name), "%s", s ? ksym_name(k->syms, s) : "?");
	}
	/* Every kernel has it; on IBT kernels every function starts with
	 * endbr64 or its sealed form. */
	if ((err = kern_sym(k, "vfs_read", &fn)) || (err = lp_entry_site(k, fn, &site)))
		return gp_error_wrap(err, "the entry of vfs_read");
	out->entry_off = (unsigned)(site - fn);
	return NULL;
}

struct gp_error *lp_resolve_kernel(void *arg, const char *name, uint64_t *addr)
{
	struct kern *k = arg;
	const struct ksym *s;
	struct gp_error *err = ksym_lookup(k->syms, name, 0, &s);

	if (err)
		return err;
	*addr = s->addr;
	return NULL;
}

/* A patch's symbols: the kernel's, and its returns as decided in a pause
 * (lp_return_thunk() reads guest data). */
struct patch_syms {
	struct kern *k;
	uint64_t ret;
};

static struct gp_error *resolve_patch(void *arg, const char *name, uint64_t *addr)
{
	const struct patch_syms *ps = arg;

	if (!strcmp(name, "__x86_return_thunk")) {
		*addr = ps->ret;
		return NULL;
	}
	return lp_resolve_kernel(ps->k, name, addr);
}

/* A patch's ORC block (lp_image.orc_*: n offsets, then n entries) handed
 * to the unwinder for its code [cs, ce).  Best effort: a table that does
 * not check out leaves that code unreliable, which is safe. */
static void add_patch_orc(struct stack_ctx *sc, const uint8_t *block, uint64_t va, uint32_t n,
			  uint64_t cs, uint64_t ce, const char *name)
{
	int32_t *ips = malloc((size_t)n * 4 + 1);
	struct orc_table *t = NULL;
	struct gp_error *err;

	if (!ips)
		return;
	memcpy(ips, block, (size_t)n * 4);
	err = orc_from_raw(sc->orc->fmt, ips, va, block + (size_t)n * 4, n, cs, ce, &t);
	if (!err)
		err = stack_ctx_add_orc(sc, cs, ce, t, name);
	gp_error_destroy(err);
	free(ips);
}

struct gp_error *lp_register_patch_orc(struct kern *k, struct stack_ctx *sc)
{
	struct {
		uint8_t *buf;
		uint64_t va, cs, ce;
		uint32_t n;
		char name[64];
	} got[LP_MAX_PATCHES];
	struct lp_region r;
	struct gp_error *err;
	bool paused_here = false;
	int ng = 0;

	if (!sc->orc)
		return NULL;
	/* Read while the guest runs where the target can (its RAM mapped):
	 * the header and the ORC blocks are written only by vmm, in pauses,
	 * under the lock this process holds, so there is nothing to race;
	 * one pause less for every command.  Paused on a target that reads
	 * only paused.  A region that is not ours to read (an earlier layout
	 * version, say) has no ORC for us: its code stays unreliable. */
	err = lp_region_load(k, &r);
	if (err && err->code == GP_ERR_BUSY && !k->t->paused && k->t->ops->pause) {
		gp_error_destroy(err);
		if ((err = tgt_pause(k->t)))
			return err;
		paused_here = true;
		err = lp_region_load(k, &r);
	}
	gp_error_destroy(err);
	for (int q = 0; r.present && q < LP_MAX_PATCHES; q++) {
		const struct lp_rec_patch *p = &r.hdr.patches[q];
		uint64_t dbytes = (uint64_t)p->data_pages * 4096, bytes = (uint64_t)p->orc_n * 10;

		if (p->state == LP_FREE || !p->orc_n || p->orc_n > ORC_MAX_ENTRIES ||
		    p->orc_off > dbytes || bytes > dbytes - p->orc_off ||
		    p->data_page + p->data_pages > LP_REGION_PAGES)
			continue;
		got[ng].buf = malloc(bytes);
		if (!got[ng].buf)
			continue;
		got[ng].va = lp_page_va(&r, p->data_page) + p->orc_off;
		if ((err = kern_read(k, got[ng].va, got[ng].buf, bytes))) {
			gp_error_destroy(err);
			free(got[ng].buf);
			continue;
		}
		got[ng].n = p->orc_n;
		got[ng].cs = lp_rec_code_start(&r, q);
		got[ng].ce = lp_rec_code_end(&r, q);
		snprintf(got[ng].name, sizeof(got[ng].name), "%s", p->name);
		ng++;
	}
	err = paused_here ? lp_resume(k, NULL) : NULL;
	for (int i = 0; i < ng; i++) {
		if (!err)
			add_patch_orc(sc, got[i].buf, got[i].va, got[i].n, got[i].cs, got[i].ce,
				      got[i].name);
		free(got[i].buf);
	}
	return err;
}

struct gp_error *lp_ctx_init(struct kern *k, struct lp_ctx *c)
{
	struct gp_error *err;

	memset(c, 0, sizeof(*c));
	if ((err = stack_ctx_init(k, &c->stacks)))
		return err;
	if ((err = lp_klp_init(k, &c->stacks->to, &c->klp)) ||
	    (err = lp_register_patch_orc(k, c->stacks))) {
		stack_ctx_free(c->stacks);
		c->stacks = NULL;
	}
	return err;
}

void lp_ctx_free(struct lp_ctx *c)
{
	stack_ctx_free(c->stacks);
	c->stacks = NULL;
}

bool lp_per_task_supported(struct kern *k, char *why, size_t len)
{
	struct lp_ctx c;
	struct gp_error *err = lp_ctx_init(k, &c);
	bool ok;

	if (err) {
		snprintf(why, len, "%s", err->msg ? err->msg : "cannot unwind stacks");
		gp_error_destroy(err);
		return false;
	}
	ok = c.klp.usable;
	snprintf(why, len, "%s", c.klp.why);
	lp_ctx_free(&c);
	return ok;
}

/* The functions a patch replaces: in the kernel (kallsyms), or in a loaded
 * module - written MODULE:NAME, or a NAME the kernel does not have. */
static struct gp_error *resolve_funcs(struct kern *k, const struct lp_ctx *c,
				      const struct lp_image *img, struct lp_target_func *tf)
{
	for (int i = 0; i < img->nr_funcs; i++) {
		const struct lp_func *f = &img->funcs[i];
		const char *colon = strchr(f->old_name, ':');
		const struct ksym *s = NULL;
		const struct kmod *m = NULL;
		uint64_t off, size = 0, addr = 0;
		struct gp_error *err = NULL;

		memset(&tf[i], 0, sizeof(tf[i]));
		if (colon) {
			char mod[LP_MODULE_NAME];

			snprintf(mod, sizeof(mod), "%.*s", (int)(colon - f->old_name), f->old_name);
			err = kmod_lookup(&c->stacks->mods, mod, colon + 1, &m, &addr, &size);
		} else if ((err = ksym_lookup(k->syms, f->old_name, f->old_pos, &s)) &&
			   err->code == GP_ERR_NOTFOUND && !f->old_pos) {
			struct gp_error *e2 = kmod_lookup(&c->stacks->mods, NULL, f->old_name, &m,
							  &addr, &size);

			if (!e2 || e2->code != GP_ERR_NOTFOUND) {
				gp_error_destroy(err);
				err = e2;
			} else {
				gp_error_destroy(e2);
			}
		}
		if (err)
			return gp_error_wrap(err, "patch %s replaces %s", img->name,
					     f->old_name);
		if (s) {
			if (s->type != 't' && s->type != 'T' && s->type != 'w' && s->type != 'W')
				return gp_error_create(GP_ERR_INVAL,
						       "patch %s replaces %s, which is not a function (type %c)",
						       img->name, f->old_name, s->type);
			addr = s->addr;
			if (!ksym_symbolize(k->syms, s->addr, &off, &size) || !size)
				size = 1;
		} else {
			snprintf(tf[i].module, sizeof(tf[i].module), "%.55s", m->name);
		}
		for (int j = 0; j < i; j++)
			if (tf[j].old_addr == addr)
				return gp_error_create(GP_ERR_INVAL,
						       "patch %s replaces %s twice", img->name,
						       f->old_name);
		tf[i].old_addr = addr;
		tf[i].old_size = size ? size : 1;
		tf[i].new_addr = f->new_addr;
		tf[i].pos = f->old_pos;
		snprintf(tf[i].name, sizeof(tf[i].name), "%s", f->old_name);
	}
	return NULL;
}

void lp_report_pause(struct kern *k, struct lp_report *rep)
{
	rep->pause_ns = k->t->stats.last_pause_ns;
	rep->stop_ns = k->t->stats.last_stop_ns;
	rep->resume_ns = k->t->stats.last_resume_ns;
}

size_t lp_blocker_list(const struct lp_check_result *c, char *list, size_t size)
{
	size_t n = 0;

	list[0] = '\0';
	for (int i = 0; i < c->nr_blockers && i < LP_MAX_BLOCKERS && n + 200 < size; i++) {
		const struct lp_blocker *b = &c->b[i];

		n += (size_t)snprintf(list + n, size - n, "\n  pid %d (%s)%s: %s", b->pid,
				      b->comm, b->running_cpu >= 0 ? " running" : "", b->reason);
	}
	if (c->nr_blockers > LP_MAX_BLOCKERS && n + 40 < size)
		n += (size_t)snprintf(list + n, size - n, "\n  ... and %d more",
				      c->nr_blockers - LP_MAX_BLOCKERS);
	return n;
}

static struct gp_error *blocked_error(const struct lp_report *rep, const char *what,
				      double timeout)
{
	const struct lp_check_result *c = &rep->check;
	char list[4096];

	lp_blocker_list(c, list, sizeof(list));
	return gp_error_create(GP_ERR_TIMEOUT,
			       "%s: not safe within %.1f s (%d attempts); guest unchanged. %d task%s blocked:%s",
			       what, timeout, rep->attempts, c->nr_blockers,
			       c->nr_blockers == 1 ? "" : "s", list);
}

struct gp_error *lp_retry_paused(struct kern *k, double timeout, unsigned backoff_min,
				     unsigned backoff_max, lp_attempt_fn attempt, void *arg,
				     struct lp_report *rep, bool *timed_out)
{
	unsigned backoff = backoff_min;
	uint64_t t0 = gp_now_ns();

	*timed_out = false;
	for (;;) {
		struct gp_error *err;
		bool blocked = false;

		if (tgt_interrupted())
			return gp_error_create(GP_ERR_INTERRUPTED,
					       "interrupted by a signal between two pauses: the guest runs, nothing is half done");
		rep->attempts++;
		if ((err = tgt_pause(k->t)))
			return err;
		err = lp_resume(k, attempt(k, arg, rep, &blocked));
		rep->pause_ns_total += k->t->stats.last_pause_ns;
		lp_report_pause(k, rep);
		if (err || !blocked)
			return err;
		if ((gp_now_ns() - t0) / 1e9 >= timeout || k->t->frozen) {
			*timed_out = true;
			return NULL;
		}
		gp_sleep_us(backoff);
		backoff = backoff * 2 > backoff_max ? backoff_max : backoff * 2;
	}
}

struct gp_error *lp_apply_checks(struct kern *k, struct lp_apply_ctx *a)
{
	struct gp_error *err = lp_region_load(k, &a->r);

	if (!err && a->r.hdr.generation != a->gen)
		err = gp_error_create(GP_ERR_BUSY,
				      "the guest's patch records changed while planning (another vmm process?); run the command again");
	if (!err && a->r.present && a->r.hdr.trans_patch >= 0)
		err = gp_error_create(GP_ERR_BUSY,
				      "patch %s is in transition; finish it first (vmm transition TARGET, or --reverse / --force)",
				      a->r.hdr.patches[a->r.hdr.trans_patch].name);
	for (int i = 0; !err && i < a->img->nr_funcs; i++)
		err = lp_check_site(k, &a->r, &a->tf[i]);
	return err;
}

/* The new patch's pages and records, in the state given. */
struct gp_error *lp_add_new_patch(struct kern *k, struct lp_apply_ctx *a, uint32_t state)
{
	struct gp_error *err;

	if (a->preloaded) {
		struct lp_hdr *h = &a->r.hdr;

		if (h->patches[a->slot].state != LP_LOADED || h->cb_slot != (uint32_t)a->slot + 1 ||
		    h->cb_stage != LP_CB_PRE_PATCH || h->cb_calling)
			return gp_error_create(GP_ERR_BUSY,
					       "the loaded pages of %s changed state while its pre_patch callbacks ran (another vmm process?)",
					       a->img->name);
		h->cb_slot = h->cb_stage = h->cb_todo = h->cb_ok = 0;
	} else if ((err = lp_write_alloc(k, a->code_page, (unsigned)(a->img->code_size / 4096),
					 a->img->code, a->img->code_used, true)) ||
		   (err = lp_write_alloc(k, a->data_page, (unsigned)(a->img->data_size / 4096),
					 a->img->data, a->img->data_used, false))) {
		return err;
	}
	return lp_rec_add_patch(&a->r.hdr, &a->r, a->img, a->tf, a->code_page, a->data_page,
				 a->slot, state, a->flags);
}

static bool choose_per_task(struct lp_ctx *c, const struct lp_opts *o, struct gp_error **err)
{
	enum lp_model m = o ? o->model : LP_MODEL_AUTO;

	*err = NULL;
	if (m == LP_MODEL_GLOBAL)
		return false;
	if (c->klp.usable)
		return true;
	if (m == LP_MODEL_PER_TASK)
		*err = gp_error_create(GP_ERR_UNSUPPORTED,
				       "the per-task model cannot run on this kernel: %s; use --model global",
				       c->klp.why);
	return false;
}

struct gp_error *lp_apply(struct kern *k, const char *obj_path, const struct lp_opts *o,
			  struct lp_report *rep)
{
	double timeout = o && o->timeout_s > 0 ? o->timeout_s : 10.0;
	struct lp_target_func tf[LP_MAX_FUNCS];
	struct lp_range ranges[LP_MAX_FUNCS + LP_MAX_PATCHES + 1];
	struct lp_image img = { 0 };
	struct lp_obj *obj = NULL;
	struct lp_kmod *km = NULL;	/* a Linux livepatch module (lp_kmod.h) */
	struct lp_kmod_exports ex = { 0 };
	struct lp_kmod_patch kp;
	struct lp_ctx c = { 0 };
	struct lp_region r;
	struct patch_syms ps = { .k = k };
	struct gp_error *err;
	size_t code_sz, data_sz, len;
	int code_page, data_page, slot = -1, nr = 0;
	uint64_t t0 = gp_now_ns(), gen;
	bool per_task, timed_out;

	memset(rep, 0, sizeof(*rep));
	len = strlen(obj_path);
	if (lp_kmod_file_is_module(obj_path) || (len > 3 && !strcmp(obj_path + len - 3, ".ko"))) {
		if ((err = lp_kmod_open_file(obj_path, &km)))
			return err;
		lp_kmod_sizes(km, &code_sz, &data_sz);
	} else {
		if ((err = lp_obj_open_file(obj_path, &obj)))
			return err;
		lp_obj_sizes(obj, &code_sz, &data_sz);
	}
	/* Plan where it goes (brief read-only pause). */
	if ((err = tgt_pause(k->t)))
		goto out;
	err = lp_region_load(k, &r);
	if (!err)
		err = lp_return_thunk(k, &ps.ret);
	if (!err && km)
		err = lp_kmod_read_exports(k, &ex);
	err = lp_resume(k, err);
	if (err)
		goto out;
	/* A module: built for this kernel (check_modinfo, check_version). */
	if (km && (err = lp_kmod_check(km, k->release, &ex)))
		goto out;
	gen = r.hdr.generation;
	code_page = lp_region_alloc(&r, true, (unsigned)(code_sz / 4096));
	data_page = lp_region_alloc(&r, false, (unsigned)(data_sz / 4096));
	if (code_page < 0 || data_page < 0) {
		err = gp_error_create(GP_ERR_LIMIT,
				      "%s: patch too large: needs %zu KiB code and %zu KiB data; the region has %u KiB code and %u KiB data in all, less what applied patches use",
				      obj_path, code_sz / 1024, data_sz / 1024,
				      LP_CODE_PAGES * 4,
				      (LP_JOURNAL_PAGE - LP_FIRST_ALLOC - LP_CODE_PAGES) * 4);
		goto out;
	}
	if (km) {
		uint64_t cd = 0;
		struct lp_kmod_guest g = { .ex = &ex, .syms = k->syms, .btf = k->btf,
					   .ret_thunk = resolve_patch, .arg = &ps };

		/* Its .klp.sym symbols may name a loaded module's. */
		if ((err = lp_ctx_init(k, &c)))
			goto out;
		g.mods = &c.stacks->mods;
		g.orc = c.stacks->orc != NULL;
		g.orc_hash = g.orc ? c.stacks->orc->fmt->hash : NULL;
		g.call_depth = kern_has_sym(k, "call_depth_return_thunk", &cd) && cd == ps.ret;
		if ((err = lp_kmod_link(km, &g, lp_page_va(&r, (unsigned)code_page),
					lp_page_va(&r, (unsigned)data_page), &img, &kp)))
			goto out;
		/* vermagic and every symbol CRC matched this kernel. */
		snprintf(img.build_id, sizeof(img.build_id), "%s", k->build_id);
		/* insmod's parameters, set before anything of it runs */
		if ((err = lp_kmod_set_params(km, k->btf, o ? o->params : NULL,
					      o ? o->nparams : 0)))
			goto out;
		/* Callbacks and exit run in the guest (lp_kmod_cb.c): the
		 * records keep where they are. */
		if (kp.has_callbacks || kp.exit_fn) {
			img.kmod_klp_va = kp.va;
			img.kmod_exit_fn = kp.exit_fn;
		}
		if (kp.has_callbacks && (err = lp_kmod_cb_set_mods(k->btf, g.mods, &kp, &img)))
			goto out;
		lp_kmod_skip_unloaded(&kp, g.mods, &img, rep->not_loaded,
				      sizeof(rep->not_loaded));
		if (!img.nr_funcs && !kp.has_callbacks) {
			err = gp_error_create(GP_ERR_NOTFOUND,
					      "%s: nothing to patch: the guest has not loaded %s",
					      obj_path, rep->not_loaded);
			goto out;
		}
		/* Stacks through its code unwind (its transition can meet them). */
		if (img.orc_n)
			add_patch_orc(c.stacks, img.data + (img.orc_va - img.data_va), img.orc_va,
				      img.orc_n, img.code_va, img.code_va + img.code_size, img.name);
	} else if (o && o->nparams) {
		err = gp_error_create(GP_ERR_INVAL,
				      "%s: parameters (%s) are for a livepatch module (FILE.ko)", obj_path,
				      o->params[0]);
		goto out;
	} else if ((err = lp_obj_link(obj, lp_page_va(&r, (unsigned)code_page),
				      lp_page_va(&r, (unsigned)data_page), resolve_patch, &ps, &img))) {
		goto out;
	}
	snprintf(rep->name, sizeof(rep->name), "%s", img.name);
	rep->nr_funcs = img.nr_funcs;
	lp_journal_intent("patch", img.name);
	if (!img.build_id[0] || strcmp(img.build_id, k->build_id)) {
		err = gp_error_create(GP_ERR_INVAL,
				      "%s: patch %s was built for kernel build id '%s', the guest runs %s",
				      obj_path, img.name, img.build_id[0] ? img.build_id : "(none)",
				      k->build_id);
		goto out;
	}
	if (lp_rec_find_patch(&r.hdr, img.name) >= 0) {
		err = gp_error_create(GP_ERR_BUSY, "patch %s is already applied", img.name);
		goto out;
	}
	for (int i = 0; i < LP_MAX_PATCHES && slot < 0; i++)
		if (r.hdr.patches[i].state == LP_FREE)
			slot = i;
	if (slot < 0) {
		err = gp_error_create(GP_ERR_LIMIT, "%d patches are applied already", LP_MAX_PATCHES);
		goto out;
	}
	if (!c.stacks && (err = lp_ctx_init(k, &c)))
		goto out;
	if ((err = resolve_funcs(k, &c, &img, tf)))
		goto out;
	per_task = choose_per_task(&c, o, &err);
	if (err)
		goto out;
	/* Global model: the functions being replaced, and for atomic replace
	 * the code of every patch it drops, must be on no stack. */
	for (int i = 0; i < img.nr_funcs; i++) {
		ranges[nr].start = tf[i].old_addr;
		ranges[nr].end = tf[i].old_addr + tf[i].old_size;
		snprintf(ranges[nr].name, sizeof(ranges[nr].name), "%s", tf[i].name);
		nr++;
	}
	if ((img.replace || (o && o->replace)) && r.present)
		for (int q = 0; q < LP_MAX_PATCHES; q++)
			if (r.hdr.patches[q].state != LP_FREE) {
				ranges[nr].start = lp_rec_code_start(&r, q);
				ranges[nr].end = lp_rec_code_end(&r, q);
				snprintf(ranges[nr].name, sizeof(ranges[nr].name), "code of patch %s",
					 r.hdr.patches[q].name);
				nr++;
			}
	{
		struct lp_apply_ctx ac = {
			.c = &c, .per_task = per_task, .gen = gen, .img = &img, .tf = tf,
			.ranges = ranges, .nr_ranges = nr,
			.code_page = (unsigned)code_page, .data_page = (unsigned)data_page,
			.slot = slot,
			.flags = (img.replace || (o && o->replace)) ? LP_FLAG_REPLACE : 0,
		};

		rep->per_task = per_task;
		/* A module with callbacks: its pages go in first, unreachable,
		 * and each loaded object's pre_patch runs (lp_kmod_cb.c). */
		if (img.kmod_klp_va && kp.has_callbacks) {
			const char *names[LP_KMOD_MAX_OBJS];
			uint64_t va[LP_KMOD_MAX_OBJS], pre[LP_KMOD_MAX_OBJS];
			struct lp_cb_log log = { { 0 } };

			for (int i = 0; i < kp.nr_objs; i++) {
				names[i] = kp.objs[i].name;
				va[i] = kp.objs[i].va;
				pre[i] = kp.objs[i].pre_patch;
			}
			err = lp_kmod_cb_pre_patch(k, &ac, names, va, pre, kp.nr_objs, &ac.gen, &log);
			snprintf(rep->callbacks, sizeof(rep->callbacks), "%s", log.text);
			if (err)
				goto out;
			ac.preloaded = true;
		}
		err = lp_retry_paused(k, timeout, LP_BACKOFF_MIN_US, LP_BACKOFF_MAX_US,
				   per_task ? lp_pertask_apply_attempt : lp_global_apply_attempt, &ac, rep,
				   &timed_out);
		if (!err && timed_out)
			err = blocked_error(rep, "patch", timeout);
		if (err && ac.preloaded) {
			/* It never went live: klp_cancel_transition() */
			struct lp_cb_log log = { { 0 } };
			struct gp_error *cancel = lp_kmod_cb_cancel(k, slot, &log);

			if (cancel)
				err = gp_error_wrap(err, "%s; cancelling its callbacks: %s",
						    err->msg ? err->msg : "",
						    cancel->msg ? cancel->msg : "");
			gp_error_destroy(cancel);
		} else if (!err && per_task) {
			err = lp_drive_transition(k, &c, o, rep, ac.done);
		}
		if (!err)
			lp_kmod_cb_after(k, rep);
	}
out:
	rep->elapsed_ms = (gp_now_ns() - t0) / 1e6;
	lp_ctx_free(&c);
	lp_image_free(&img);
	lp_obj_close(obj);
	lp_kmod_close(km);
	lp_kmod_exports_free(&ex);
	return err;
}

struct gp_error *lp_find_removable(struct kern *k, struct lp_remove_ctx *rc, struct lp_region *r,
				       int *slot)
{
	struct gp_error *err = lp_region_load(k, r);

	if (err)
		return err;
	if (!r->present && r->earlier_boot)
		return gp_error_create(GP_ERR_NOTFOUND,
				       "no patch named %s is applied: the guest was rebooted since the patches in its memory were applied, and a reboot drops every patch",
				       rc->name);
	if (!r->present || (*slot = lp_rec_find_patch(&r->hdr, rc->name)) < 0)
		return gp_error_create(GP_ERR_NOTFOUND, "no patch named %s is applied", rc->name);
	if (r->hdr.patches[*slot].state == LP_LOADED)
		return gp_error_create(GP_ERR_BUSY,
				       "patch %s is not live: its livepatch module's callbacks or exit are still owed (the next vmm command runs them)",
				       rc->name);
	if ((r->hdr.patches[*slot].flags & LP_FLAG_FORCED) && !rc->force)
		return gp_error_create(GP_ERR_BUSY,
				       "patch %s was forced: tasks may still run code from before it, so removing it is unsafe; use --force to remove it anyway (its code is then kept in the guest, never reused)",
				       rc->name);
	return NULL;
}

struct gp_error *lp_remove(struct kern *k, const char *name, const struct lp_opts *o,
			   struct lp_report *rep)
{
	double timeout = o && o->timeout_s > 0 ? o->timeout_s : 10.0;
	struct lp_ctx c;
	struct lp_remove_ctx rc = { .c = &c, .name = name, .force = o && o->force };
	struct gp_error *err;
	uint64_t t0 = gp_now_ns();
	bool timed_out;

	memset(rep, 0, sizeof(*rep));
	lp_journal_intent("unpatch", name);
	snprintf(rep->name, sizeof(rep->name), "%s", name);
	/* __klp_disable_patch(): pre_unpatch before the transition starts */
	{
		struct lp_cb_log log = { { 0 } };

		err = lp_kmod_cb_pre_unpatch(k, name, o && o->force, &log);
		snprintf(rep->callbacks, sizeof(rep->callbacks), "%s", log.text);
		if (err)
			return err;
	}
	if ((err = lp_ctx_init(k, &c)))
		return err;
	rc.per_task = choose_per_task(&c, o, &err);
	if (!err) {
		rep->per_task = rc.per_task;
		err = lp_retry_paused(k, timeout, LP_BACKOFF_MIN_US, LP_BACKOFF_MAX_US,
				   rc.per_task ? lp_pertask_remove_attempt : lp_global_remove_attempt, &rc,
				   rep, &timed_out);
		if (!err && timed_out)
			err = blocked_error(rep, "unpatch", timeout);
		else if (!err && rc.per_task)
			err = lp_drive_transition(k, &c, o, rep, rc.done);
		if (!err)
			lp_kmod_cb_after(k, rep);
	}
	rep->elapsed_ms = (gp_now_ns() - t0) / 1e6;
	lp_ctx_free(&c);
	return err;
}

struct gp_error *lp_list(struct kern *k, struct lp_region *r)
{
	struct gp_error *err = tgt_pause(k->t);

	if (err)
		return err;
	return lp_resume(k, lp_region_load(k, r));
}

struct gp_error *lp_status(struct kern *k, struct lp_region *r, struct lp_report *rep)
{
	struct lp_ctx c;
	struct gp_error *err;

	memset(rep, 0, sizeof(*rep));
	if ((err = lp_list(k, r)))
		return err;
	if (!r->present || r->hdr.trans_patch < 0)
		return NULL;
	if ((err = lp_ctx_init(k, &c)))
		return err;
	err = lp_transition_status(k, &c, r, rep);
	lp_ctx_free(&c);
	return err;
}
