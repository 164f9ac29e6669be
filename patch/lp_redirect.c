// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * lp_redirect.c - redirection: the ftrace sites, the trampoline slots and
 * the code sync with its undo log.
 *
 * The 5-byte ftrace NOP at a replaced function's entry becomes `jmp rel32`
 * to the function's trampoline slot in our region.  Outside a transition
 * the slot holds `jmp rel32` to the newest replacement (the top of the
 * stack of patches on that function, as the kernel's func_stack).  During
 * a per-task transition the slot of each function of the patch in
 * transition dispatches as klp_ftrace_handler() does:
 *
 *	mov  %gs:current_task, %r11
 *	cmpl $KLP_UNPATCHED, patch_state(%r11)
 *	je   prev		# the replacement below, or the original + 5
 *	jmp  top		# the patch in transition
 *
 * (r11 and the flags are dead at a C function's entry.)  The slot's form
 * thus plays func->transition.
 *
 * The records in the region say what every site and slot must hold; each
 * operation edits a copy of the records and then lp_commit_change() writes
 * the bytes that differ, inside one pause, with an undo log.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lp_engine.h"

static bool jmp_reaches(uint64_t from, uint64_t to)
{
	int64_t d = (int64_t)(to - (from + 5));

	return d == (int32_t)d;
}

/* The dispatching slot (see the top of the file; guest-agent/src/trampoline.S). */
static struct gp_error *make_dispatch(uint8_t slot[LP_TRAMP_SIZE], uint64_t va,
				      const struct lp_klp *g, uint64_t prev, uint64_t top)
{
	if (!g || !g->usable)
		return gp_error_create(GP_ERR_UNSUPPORTED,
				       "a per-task transition is recorded but this kernel lacks what it needs: %s",
				       g ? g->why : "no livepatch support");
	return lp_agent_dispatch(va, g->current_task_off, (int32_t)g->patch_state_off, prev, top,
				 slot, LP_TRAMP_SIZE);
}

/* What a site's entry and its slot must hold according to the records. */
static struct gp_error *desired_code(const struct lp_hdr *h, int s, const struct lp_klp *g,
				     uint8_t entry[5], uint8_t slot[LP_TRAMP_SIZE])
{
	const struct lp_rec_site *st = &h->sites[s];
	int stack[LP_MAX_PATCHES];
	int n = lp_rec_site_stack(h, s, stack);
	const struct lp_rec_func *top;
	struct gp_error *err;

	if ((err = lp_agent_fill(slot, LP_TRAMP_SIZE)))
		return err;
	if (!n) {
		memcpy(entry, st->orig, 5);
		return NULL;
	}
	top = &h->funcs[stack[0]];
	if (!jmp_reaches(lp_rec_site_addr(st), st->tramp_va) ||
	    !jmp_reaches(st->tramp_va, lp_rec_func_target(h, top)))
		return gp_error_create(GP_ERR_UNSUPPORTED,
				       "%s is beyond a 32-bit jump from the region", top->name);
	if ((err = lp_agent_jmp(lp_rec_site_addr(st), st->tramp_va, entry)))
		return err;
	if (h->trans_patch >= 0 && (int)top->patch == h->trans_patch)
		return make_dispatch(slot, st->tramp_va, g,
				     n > 1 ? lp_rec_func_target(h, &h->funcs[stack[1]]) :
					     lp_rec_site_addr(st) + LP_AGENT_NOP_SIZE,
				     lp_rec_func_target(h, top));
	return lp_agent_plain_slot(st->tramp_va, lp_rec_func_target(h, top), slot, LP_TRAMP_SIZE);
}

/* Undo log for a failed write sequence: restore what was there. */
struct undo {
	struct {
		uint64_t va;
		uint8_t bytes[LP_TRAMP_SIZE];
		size_t len;
	} e[2 * LP_MAX_SITES + 4];
	int n;
};

/* Write code bytes if they differ from what the guest holds; log the old. */
static struct gp_error *code_update(struct kern *k, struct undo *u, uint64_t va,
				    const uint8_t *buf, size_t len)
{
	uint8_t cur[LP_TRAMP_SIZE];
	struct gp_error *err;

	if (len > sizeof(cur))
		return gp_error_create(GP_ERR_INVAL, "code write of %zu bytes", len);
	if ((err = kern_read(k, va, cur, len)))
		return gp_error_wrap(err, "reading code at 0x%llx", (unsigned long long)va);
	if (!memcmp(cur, buf, len))
		return NULL;
	if (u->n >= (int)ARRAY_SIZE(u->e))
		return gp_error_create(GP_ERR_LIMIT, "too many code writes in one step");
	memcpy(u->e[u->n].bytes, cur, len);
	u->e[u->n].va = va;
	u->e[u->n].len = len;
	u->n++;
	return lp_write_kernel_code(k, va, buf, len);
}

static void undo_all(struct kern *k, struct undo *u)
{
	while (u->n > 0) {
		u->n--;
		gp_error_destroy(lp_write_kernel_code(k, u->e[u->n].va, u->e[u->n].bytes,
						   u->e[u->n].len));
	}
}

/*
 * A module's function entry may only be written while the module is
 * loaded (our list was read in a pause of this process) and still holds
 * what we left there: the ftrace NOP or our jump. *gone: the module has
 * been unloaded, its text is no longer there to restore.
 */
static struct gp_error *module_site_ok(struct kern *k, const struct lp_hdr *h, int s,
				       const struct lp_ctx *c, bool *gone)
{
	const struct lp_rec_site *st = &h->sites[s];
	const struct kmod *m = kmod_by_name(&c->stacks->mods, h->modules[st->module - 1]);
	uint8_t cur[5], jmp[5], nop[5];
	struct gp_error *err;

	*gone = !m || st->old_addr < m->text_start || lp_rec_site_addr(st) + 5 > m->text_end;
	if (*gone)
		return NULL;
	if ((err = kern_read(k, lp_rec_site_addr(st), cur, 5)) || (err = lp_agent_ftrace_nop(nop)))
		return err;
	/* Out of reach, the site cannot hold our jump: only the NOP. */
	if ((err = lp_agent_jmp(lp_rec_site_addr(st), st->tramp_va, jmp)))
		memcpy(jmp, nop, 5);
	gp_error_destroy(err);
	if (memcmp(cur, nop, 5) && memcmp(cur, jmp, 5))
		return gp_error_addr(GP_ERR_CORRUPT, lp_rec_site_addr(st),
				     "%s's function at 0x%llx holds neither the ftrace NOP nor our jump at 0x%llx",
				     h->modules[st->module - 1], (unsigned long long)st->old_addr,
				     (unsigned long long)lp_rec_site_addr(st));
	return NULL;
}

/*
 * Make the guest's code agree with the records `h` (the guest held `old`):
 * slots before entries for sites that come into use, entries before slots
 * for sites that go out of use.  All inside one pause.
 */
static struct gp_error *sync_code(struct kern *k, const struct lp_hdr *old,
				  const struct lp_hdr *h, const struct lp_ctx *c, struct undo *u)
{
	struct gp_error *err;

	for (int s = 0; s < LP_MAX_SITES; s++) {
		uint8_t entry[5], slot[LP_TRAMP_SIZE];
		bool gone = false;

		if (h->sites[s].in_use) {
			if (h->sites[s].module && (err = module_site_ok(k, h, s, c, &gone)))
				return err;
			if ((err = desired_code(h, s, &c->klp, entry, slot)) ||
			    (err = code_update(k, u, h->sites[s].tramp_va, slot, sizeof(slot))) ||
			    (!gone && (err = code_update(k, u, lp_rec_site_addr(&h->sites[s]), entry, 5))))
				return err;
		} else if (old->sites[s].in_use) {
			if (old->sites[s].module && (err = module_site_ok(k, old, s, c, &gone)))
				return err;
			if ((err = lp_agent_fill(slot, sizeof(slot))))
				return err;
			if ((!gone &&
			     (err = code_update(k, u, lp_rec_site_addr(&old->sites[s]), old->sites[s].orig, 5))) ||
			    (err = code_update(k, u, old->sites[s].tramp_va, slot, sizeof(slot))))
				return err;
		}
	}
	return NULL;
}

/*
 * Apply a change of records: write the code, then the records, then clear
 * pages the change freed (free pages are zero: region set-up checks it).
 * On failure the code is put back and nothing of the records is written.
 */
struct gp_error *lp_commit_change(struct kern *k, struct lp_region *r, const struct lp_hdr *old,
				      const struct lp_ctx *c)
{
	static uint8_t zero[4096];
	struct undo u = { .n = 0 };
	struct gp_error *err;

	lp_rec_gc_sites(&r->hdr);
	if ((err = sync_code(k, old, &r->hdr, c, &u)) || (err = lp_region_commit(k, r))) {
		undo_all(k, &u);
		return err;
	}
	for (unsigned i = LP_FIRST_ALLOC; i < LP_JOURNAL_PAGE; i++) {
		if (!old->page_owner[i] || r->hdr.page_owner[i])
			continue;
		err = i < LP_FIRST_ALLOC + LP_CODE_PAGES ?
			lp_write_pages(k, i, zero, sizeof(zero), true) :
			lp_write_pages(k, i, zero, sizeof(zero), false);
		if (err)
			return gp_error_wrap(err, "clearing freed region page %u", i);
	}
	return NULL;
}

/* Where a function's ftrace site is: its entry, or after the endbr64 (or
 * sealed endbr64) an IBT kernel begins it with. */
struct gp_error *lp_entry_site(struct kern *k, uint64_t func, uint64_t *site)
{
	uint8_t entry[LP_AGENT_ENTRY_MAX];
	unsigned off;
	struct gp_error *err = kern_read(k, func, entry, sizeof(entry));

	if (err || (err = lp_agent_entry_offset(entry, &off)))
		return err;
	*site = func + off;
	return NULL;
}

/* The function's ftrace site must be the ftrace NOP, or our jump to its
 * slot; t->site_addr is set. */
struct gp_error *lp_check_site(struct kern *k, const struct lp_region *r,
				   struct lp_target_func *t)
{
	uint8_t cur[5], want[5], nop[5];
	struct gp_error *err = lp_entry_site(k, t->old_addr, &t->site_addr);

	if (!err)
		err = kern_read(k, t->site_addr, cur, sizeof(cur));
	if (err)
		return gp_error_wrap(err, "reading the entry of %s", t->name);
	if (t->old_size > 1 && t->site_addr + 5 > t->old_addr + t->old_size)
		return gp_error_addr(GP_ERR_INVAL, t->old_addr,
				     "%s at 0x%llx is %llu bytes, too short to hold a jump at its ftrace site",
				     t->name, (unsigned long long)t->old_addr,
				     (unsigned long long)t->old_size);
	t->site = lp_rec_find_site(&r->hdr, t->old_addr);
	if (t->site >= 0) {
		const struct lp_rec_site *st = &r->hdr.sites[t->site];

		if (lp_rec_site_addr(st) != t->site_addr)
			return gp_error_addr(GP_ERR_CORRUPT, t->old_addr,
					     "%s at 0x%llx: the records put its ftrace site at 0x%llx, its code at 0x%llx",
					     t->name, (unsigned long long)t->old_addr,
					     (unsigned long long)lp_rec_site_addr(st),
					     (unsigned long long)t->site_addr);
		if ((err = lp_agent_jmp(t->site_addr, st->tramp_va, want)))
			return err;
		if (memcmp(cur, want, 5))
			return gp_error_addr(GP_ERR_CORRUPT, t->site_addr,
					     "%s at 0x%llx should jump to guestpatch's trampoline but holds %02x %02x %02x %02x %02x",
					     t->name, (unsigned long long)t->site_addr,
					     cur[0], cur[1], cur[2], cur[3], cur[4]);
		return NULL;
	}
	if ((err = lp_agent_ftrace_nop(nop)))
		return err;
	if (memcmp(cur, nop, 5))
		return gp_error_addr(GP_ERR_BUSY, t->site_addr,
				     "%s at 0x%llx does not start with the 5-byte ftrace NOP (at 0x%llx: %02x %02x %02x %02x %02x): ftrace, a kprobe or another patcher uses it",
				     t->name, (unsigned long long)t->old_addr,
				     (unsigned long long)t->site_addr,
				     cur[0], cur[1], cur[2], cur[3], cur[4]);
	return NULL;
}
