// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * lp_records.c - editing the patch records (struct lp_hdr, lp_region.h).
 *
 * The records in the guest's region say what every ftrace site and
 * trampoline slot must hold.  An operation edits a host copy here, then
 * lp_commit_change() makes the guest's code agree and writes the copy
 * back.  Nothing in this file touches the guest.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lp_engine.h"

int lp_rec_find_patch(const struct lp_hdr *h, const char *name)
{
	for (int i = 0; i < LP_MAX_PATCHES; i++)
		if (h->patches[i].state != LP_FREE && !strcmp(h->patches[i].name, name))
			return i;
	return -1;
}

int lp_rec_find_site(const struct lp_hdr *h, uint64_t old_addr)
{
	for (int i = 0; i < LP_MAX_SITES; i++)
		if (h->sites[i].in_use && h->sites[i].old_addr == old_addr)
			return i;
	return -1;
}

/* The function records on a site, newest first (the func_stack). */
int lp_rec_site_stack(const struct lp_hdr *h, int site, int out[LP_MAX_PATCHES])
{
	int n = 0;

	for (int i = 0; i < LP_MAX_FUNCS_TOTAL && n < LP_MAX_PATCHES; i++) {
		int j;

		if (!h->funcs[i].in_use || (int)h->funcs[i].site != site)
			continue;
		for (j = n; j > 0 && h->patches[h->funcs[out[j - 1]].patch].seq <
					     h->patches[h->funcs[i].patch].seq; j--)
			out[j] = out[j - 1];
		out[j] = i;
		n++;
	}
	return n;
}

/* Where a function record sends its callers. */
uint64_t lp_rec_func_target(const struct lp_hdr *h, const struct lp_rec_func *f)
{
	return f->nop ? lp_rec_site_addr(&h->sites[f->site]) + LP_AGENT_NOP_SIZE : f->new_addr;
}

/* A site no function record uses any more is freed. */
void lp_rec_gc_sites(struct lp_hdr *h)
{
	int stack[LP_MAX_PATCHES];

	for (int s = 0; s < LP_MAX_SITES; s++)
		if (h->sites[s].in_use && !lp_rec_site_stack(h, s, stack))
			memset(&h->sites[s], 0, sizeof(h->sites[s]));
	for (int m = 0; m < LP_MAX_MODULES; m++) {
		bool used = false;

		for (int s = 0; s < LP_MAX_SITES; s++)
			used |= h->sites[s].in_use && (int)h->sites[s].module == m + 1;
		if (!used)
			memset(h->modules[m], 0, sizeof(h->modules[m]));
	}
}

/* Drop a patch's records; its pages become free, or leaked (kept, never
 * reused) when tasks may still run its code. */
void lp_rec_drop_patch(struct lp_hdr *h, int slot, bool leak)
{
	for (int f = 0; f < LP_MAX_FUNCS_TOTAL; f++)
		if (h->funcs[f].in_use && (int)h->funcs[f].patch == slot)
			memset(&h->funcs[f], 0, sizeof(h->funcs[f]));
	for (unsigned i = 0; i < LP_REGION_PAGES; i++)
		if (h->page_owner[i] == slot + 1)
			h->page_owner[i] = leak ? LP_PAGE_LEAKED : 0;
	memset(&h->patches[slot], 0, sizeof(h->patches[slot]));
	memset(&h->kmods[slot], 0, sizeof(h->kmods[slot]));
	if (h->cb_slot == (uint32_t)slot + 1) {
		h->cb_slot = h->cb_stage = h->cb_todo = h->cb_ok = 0;
		h->cb_ret = 0;
	}
}

void lp_rec_cb_patched(struct lp_hdr *h, int slot)
{
	if (!h->kmods[slot].klp_off)
		return;
	h->cb_slot = (uint32_t)slot + 1;
	h->cb_stage = LP_CB_POST_PATCH;
	h->cb_todo = (1u << LP_KMOD_CB_MAX_OBJS) - 1;
	h->cb_ok = 0;
}

/* The patch's functions are gone, its pages stay (LP_LOADED) for what it
 * is still owed; a leaked (forced) one is marked so. */
static void keep_loaded(struct lp_hdr *h, int slot, bool leak)
{
	for (int f = 0; f < LP_MAX_FUNCS_TOTAL; f++)
		if (h->funcs[f].in_use && (int)h->funcs[f].patch == slot)
			memset(&h->funcs[f], 0, sizeof(h->funcs[f]));
	h->patches[slot].state = LP_LOADED;
	if (leak)
		h->patches[slot].flags |= LP_FLAG_FORCED;
}

void lp_rec_cb_unpatched(struct lp_hdr *h, int slot, bool leak)
{
	if (!h->kmods[slot].klp_off) {
		lp_rec_drop_patch(h, slot, leak);
		return;
	}
	keep_loaded(h, slot, leak);
	h->cb_slot = (uint32_t)slot + 1;
	h->cb_stage = LP_CB_POST_UNPATCH;
	h->cb_todo = (1u << LP_KMOD_CB_MAX_OBJS) - 1;
	h->cb_ok = 0;
}

void lp_rec_replaced(struct lp_hdr *h, int slot, bool leak)
{
	if (h->patches[slot].state == LP_LOADED)
		return;	/* its own callbacks or exit are owed already */
	if (!h->kmods[slot].exit_off) {
		lp_rec_drop_patch(h, slot, leak);
		return;
	}
	/* rmmod of a replaced livepatch module runs its exit: owed, after
	 * the replacing patch's post_patch (lp_kmod_cb.c picks it up) */
	keep_loaded(h, slot, leak);
}

int lp_rec_exit_queued(const struct lp_hdr *h)
{
	for (int i = 0; i < LP_MAX_PATCHES; i++)
		if (h->patches[i].state == LP_LOADED && h->cb_slot != (uint32_t)i + 1 &&
		    h->kmods[i].exit_off)
			return i;
	return -1;
}

void lp_rec_cb_call_gone(struct lp_hdr *h, bool ran, int64_t ret)
{
	uint32_t i = h->cb_calling;

	h->cb_calling = 0;
	if (!i || i > LP_KMOD_CB_MAX_OBJS || !ran)
		return;	/* not ours, or it never ran: still owed */
	h->cb_todo &= ~(1u << (i - 1));
	h->cb_ret = ret;
	if (h->cb_stage == LP_CB_PRE_PATCH && (int32_t)ret == 0)
		h->cb_ok |= 1u << (i - 1);
}

void lp_rec_drop_nops(struct lp_hdr *h, int slot)
{
	for (int f = 0; f < LP_MAX_FUNCS_TOTAL; f++)
		if (h->funcs[f].in_use && (int)h->funcs[f].patch == slot && h->funcs[f].nop)
			memset(&h->funcs[f], 0, sizeof(h->funcs[f]));
}

void lp_rec_set_patch(struct lp_hdr *h, const struct lp_image *img, unsigned code_page,
		      unsigned data_page, int slot, uint32_t state, uint32_t flags)
{
	struct lp_rec_patch *p = &h->patches[slot];

	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", img->name);
	snprintf(p->build_id, sizeof(p->build_id), "%s", img->build_id);
	p->state = state;
	p->flags = flags;
	p->seq = h->next_seq++;
	p->code_page = code_page;
	p->code_pages = (uint32_t)(img->code_size / 4096);
	p->data_page = data_page;
	p->data_pages = (uint32_t)(img->data_size / 4096);
	p->applied_unix = (uint64_t)time(NULL);
	p->orc_off = img->orc_n ? (uint32_t)(img->orc_va - img->data_va) : 0;
	p->orc_n = img->orc_n;
	for (unsigned i = 0; i < p->code_pages; i++)
		h->page_owner[code_page + i] = (uint8_t)(slot + 1);
	for (unsigned i = 0; i < p->data_pages; i++)
		h->page_owner[data_page + i] = (uint8_t)(slot + 1);
	h->kmods[slot].klp_off = img->kmod_klp_va ? (uint32_t)(img->kmod_klp_va - h->region_va) : 0;
	h->kmods[slot].exit_off = img->kmod_exit_fn ? (uint32_t)(img->kmod_exit_fn - h->region_va) : 0;
}

/* Add a patch's records (state given); for atomic replace, a no-op
 * function for every patched function the new patch does not cover. */
struct gp_error *lp_rec_add_patch(struct lp_hdr *h, struct lp_region *r,
					  const struct lp_image *img, struct lp_target_func *tf,
					  unsigned code_page, unsigned data_page, int slot,
					  uint32_t state, uint32_t flags)
{
	int nf = img->nr_funcs;
	struct {
		int site;
		uint64_t new_addr, pos, old_size;
		const char *name;
		bool nop;
	} want[LP_MAX_FUNCS_TOTAL + LP_MAX_FUNCS];

	for (int i = 0; i < nf; i++) {
		struct lp_target_func *t = &tf[i];
		int s = t->site;

		if (s < 0) {
			for (s = 0; s < LP_MAX_SITES && h->sites[s].in_use; s++)
				;
			if (s == LP_MAX_SITES)
				return gp_error_create(GP_ERR_LIMIT, "more than %d patched functions",
						       LP_MAX_SITES);
			h->sites[s].in_use = 1;
			h->sites[s].old_addr = t->old_addr;
			h->sites[s].site_off = (uint8_t)(t->site_addr - t->old_addr);
			if (t->module[0]) {
				int m, free_m = -1;

				for (m = 0; m < LP_MAX_MODULES && strcmp(h->modules[m], t->module); m++)
					if (free_m < 0 && !h->modules[m][0])
						free_m = m;
				if (m == LP_MAX_MODULES) {
					if (free_m < 0)
						return gp_error_create(GP_ERR_LIMIT,
								       "functions of more than %d modules patched",
								       LP_MAX_MODULES);
					m = free_m;
					snprintf(h->modules[m], sizeof(h->modules[m]), "%s", t->module);
				}
				h->sites[s].module = (uint32_t)m + 1;
			}
			h->sites[s].tramp_va = lp_page_va(r, LP_TRAMP_PAGE) +
					       (uint64_t)s * LP_TRAMP_SIZE;
			{
				struct gp_error *err = lp_agent_ftrace_nop(h->sites[s].orig);

				if (err)
					return err;
			}
			t->site = s;
		}
		want[i].site = s;
		want[i].new_addr = t->new_addr;
		want[i].pos = t->pos;
		want[i].old_size = t->old_size;
		want[i].name = t->name;
		want[i].nop = false;
	}
	if (flags & LP_FLAG_REPLACE) {
		for (int f = 0; f < LP_MAX_FUNCS_TOTAL; f++) {
			const struct lp_rec_func *o = &h->funcs[f];
			bool covered = false;

			if (!o->in_use)
				continue;
			for (int i = 0; i < nf; i++)
				covered |= want[i].site == (int)o->site;
			if (covered)
				continue;
			want[nf].site = (int)o->site;
			want[nf].new_addr = 0;
			want[nf].pos = o->pos;
			want[nf].old_size = o->old_size;
			want[nf].name = o->name;
			want[nf].nop = true;
			nf++;
		}
	}
	lp_rec_set_patch(h, img, code_page, data_page, slot, state, flags);
	for (int i = 0; i < nf; i++) {
		int f;

		for (f = 0; f < LP_MAX_FUNCS_TOTAL && h->funcs[f].in_use; f++)
			;
		if (f == LP_MAX_FUNCS_TOTAL)
			return gp_error_create(GP_ERR_LIMIT, "more than %d replaced functions in all",
					       LP_MAX_FUNCS_TOTAL);
		h->funcs[f].in_use = 1;
		h->funcs[f].patch = (uint32_t)slot;
		h->funcs[f].site = (uint32_t)want[i].site;
		h->funcs[f].new_addr = want[i].new_addr;
		h->funcs[f].pos = want[i].pos;
		h->funcs[f].old_size = want[i].old_size;
		h->funcs[f].nop = want[i].nop;
		snprintf(h->funcs[f].name, sizeof(h->funcs[f].name), "%s", want[i].name);
	}
	return NULL;
}

uint64_t lp_rec_code_start(const struct lp_region *r, int p)
{
	return lp_page_va(r, r->hdr.patches[p].code_page);
}

uint64_t lp_rec_code_end(const struct lp_region *r, int p)
{
	return lp_rec_code_start(r, p) + r->hdr.patches[p].code_pages * 4096ull;
}

