// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * lp_patch.c - apply and remove patches, and their transitions.
 *
 * Redirection: the 5-byte ftrace NOP at a replaced function's entry becomes
 * `jmp rel32` to the function's trampoline slot in our region.  Outside a
 * transition the slot holds `jmp rel32` to the newest replacement (the top
 * of the stack of patches on that function, as the kernel's func_stack).
 * During a per-task transition the slot of each function of the patch in
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
 * operation edits a copy of the records and then sync_code() writes the
 * bytes that differ, inside one pause, with an undo log.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lp_elf.h"
#include "lp_klp.h"
#include "lp_patch.h"
#include "stacks.h"

static const uint8_t ftrace_nop[5] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 };

#define BACKOFF_MIN_US 500
#define BACKOFF_MAX_US 100000
/* Per-task: first retry soon (tasks leave the kernel within
 * milliseconds), then back off; the kernel itself waits 1 s. */
#define TRANS_BACKOFF_MIN_US 1000
#define TRANS_BACKOFF_MAX_US 50000
#define SIGNAL_AFTER_DEFAULT_S 5.0

static void make_jmp(uint8_t out[5], uint64_t from, uint64_t to)
{
	int32_t rel = (int32_t)(int64_t)(to - (from + 5));

	out[0] = 0xe9;
	memcpy(out + 1, &rel, 4);
}

static bool jmp_reaches(uint64_t from, uint64_t to)
{
	int64_t d = (int64_t)(to - (from + 5));

	return d == (int32_t)d;
}

static void sleep_us(unsigned us)
{
	struct timespec ts = { us / 1000000, (long)(us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

static struct gp_error *resume_keep(struct kern *k, struct gp_error *err)
{
	return tgt_resume_keep(k->t, err);
}

static struct gp_error *resolve_kernel(void *arg, const char *name, uint64_t *addr)
{
	struct kern *k = arg;
	const struct ksym *s;
	struct gp_error *err = ksym_lookup(k->syms, name, 0, &s);

	if (err)
		return err;
	*addr = s->addr;
	return NULL;
}

static struct gp_error *write_kernel_code(struct kern *k, uint64_t va, const void *buf,
					  size_t len)
{
	uint64_t pa;
	struct gp_error *err = kern_v2p(k, va, &pa);

	/* Our writes never cross a page: sites are 5 bytes at a function
	 * start, slots are 32-byte aligned. Check anyway. */
	if (!err && ((va & 4095) + len > 4096))
		err = gp_error_addr(GP_ERR_INVAL, va, "code write crosses a page");
	if (err)
		return err;
	return tgt_write_code(k->t, pa, buf, len);
}

static int find_patch(const struct lp_hdr *h, const char *name)
{
	for (int i = 0; i < LP_MAX_PATCHES; i++)
		if (h->patches[i].state != LP_FREE && !strcmp(h->patches[i].name, name))
			return i;
	return -1;
}

static int find_site(const struct lp_hdr *h, uint64_t old_addr)
{
	for (int i = 0; i < LP_MAX_SITES; i++)
		if (h->sites[i].in_use && h->sites[i].old_addr == old_addr)
			return i;
	return -1;
}

/* The function records on a site, newest first (the func_stack). */
static int site_stack(const struct lp_hdr *h, int site, int out[LP_MAX_PATCHES])
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
static uint64_t func_target(const struct lp_hdr *h, const struct lp_rec_func *f)
{
	return f->nop ? h->sites[f->site].old_addr + 5 : f->new_addr;
}

/* --- per-task model support ------------------------------------------ */

struct pt_ctx {
	struct stack_ctx *stacks;
	struct lp_klp klp;
};

static struct gp_error *pt_ctx_init(struct kern *k, struct pt_ctx *c)
{
	struct gp_error *err;

	memset(c, 0, sizeof(*c));
	if ((err = stack_ctx_init(k, &c->stacks)))
		return err;
	if ((err = lp_klp_init(k, &c->stacks->to, &c->klp))) {
		stack_ctx_free(c->stacks);
		c->stacks = NULL;
	}
	return err;
}

static void pt_ctx_free(struct pt_ctx *c)
{
	stack_ctx_free(c->stacks);
	c->stacks = NULL;
}

bool lp_per_task_supported(struct kern *k, char *why, size_t len)
{
	struct pt_ctx c;
	struct gp_error *err = pt_ctx_init(k, &c);
	bool ok;

	if (err) {
		snprintf(why, len, "%s", err->msg ? err->msg : "cannot unwind stacks");
		gp_error_destroy(err);
		return false;
	}
	ok = c.klp.usable;
	snprintf(why, len, "%s", c.klp.why);
	pt_ctx_free(&c);
	return ok;
}

/* The dispatching slot (see the top of the file). */
static struct gp_error *make_dispatch(uint8_t slot[LP_TRAMP_SIZE], uint64_t va,
				      const struct lp_klp *g, uint64_t prev, uint64_t top)
{
	uint8_t *p = slot;
	int32_t rel;

	if (!g || !g->usable)
		return gp_error_create(GP_ERR_UNSUPPORTED,
				       "a per-task transition is recorded but this kernel lacks what it needs: %s",
				       g ? g->why : "no livepatch support");
	if (!jmp_reaches(va + 18, prev) || !jmp_reaches(va + 23, top))
		return gp_error_create(GP_ERR_UNSUPPORTED, "trampoline jump out of reach");
	/* mov %gs:disp32, %r11 */
	*p++ = 0x65, *p++ = 0x4c, *p++ = 0x8b, *p++ = 0x1c, *p++ = 0x25;
	memcpy(p, &g->current_task_off, 4), p += 4;
	/* cmpl $0, disp32(%r11) */
	*p++ = 0x41, *p++ = 0x83, *p++ = 0xbb;
	{
		int32_t off = (int32_t)g->patch_state_off;

		memcpy(p, &off, 4), p += 4;
	}
	*p++ = KLP_UNPATCHED;
	/* je prev */
	*p++ = 0x0f, *p++ = 0x84;
	rel = (int32_t)(int64_t)(prev - (va + (uint64_t)(p - slot) + 4));
	memcpy(p, &rel, 4), p += 4;
	/* jmp top */
	make_jmp(p, va + (uint64_t)(p - slot), top);
	return NULL;
}

/* What a site's entry and its slot must hold according to the records. */
static struct gp_error *desired_code(const struct lp_hdr *h, int s, const struct lp_klp *g,
				     uint8_t entry[5], uint8_t slot[LP_TRAMP_SIZE])
{
	const struct lp_rec_site *st = &h->sites[s];
	int stack[LP_MAX_PATCHES];
	int n = site_stack(h, s, stack);
	const struct lp_rec_func *top;

	memset(slot, 0xcc, LP_TRAMP_SIZE);
	if (!n) {
		memcpy(entry, st->orig, 5);
		return NULL;
	}
	top = &h->funcs[stack[0]];
	if (!jmp_reaches(st->old_addr, st->tramp_va) ||
	    !jmp_reaches(st->tramp_va, func_target(h, top)))
		return gp_error_create(GP_ERR_UNSUPPORTED,
				       "%s is beyond a 32-bit jump from the region", top->name);
	make_jmp(entry, st->old_addr, st->tramp_va);
	if (h->trans_patch >= 0 && (int)top->patch == h->trans_patch)
		return make_dispatch(slot, st->tramp_va, g,
				     n > 1 ? func_target(h, &h->funcs[stack[1]]) : st->old_addr + 5,
				     func_target(h, top));
	make_jmp(slot, st->tramp_va, func_target(h, top));
	return NULL;
}

/* A site no function record uses any more is freed. */
static void gc_sites(struct lp_hdr *h)
{
	int stack[LP_MAX_PATCHES];

	for (int s = 0; s < LP_MAX_SITES; s++)
		if (h->sites[s].in_use && !site_stack(h, s, stack))
			memset(&h->sites[s], 0, sizeof(h->sites[s]));
	for (int m = 0; m < LP_MAX_MODULES; m++) {
		bool used = false;

		for (int s = 0; s < LP_MAX_SITES; s++)
			used |= h->sites[s].in_use && (int)h->sites[s].module == m + 1;
		if (!used)
			memset(h->modules[m], 0, sizeof(h->modules[m]));
	}
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
	return write_kernel_code(k, va, buf, len);
}

static void undo_all(struct kern *k, struct undo *u)
{
	while (u->n > 0) {
		u->n--;
		gp_error_destroy(write_kernel_code(k, u->e[u->n].va, u->e[u->n].bytes,
						   u->e[u->n].len));
	}
}

/*
 * Make the guest's code agree with the records `h` (the guest held `old`):
 * slots before entries for sites that come into use, entries before slots
 * for sites that go out of use.  All inside one pause.
 */
/*
 * A module's function entry may only be written while the module is
 * loaded (our list was read in a pause of this process) and still holds
 * what we left there: the ftrace NOP or our jump. *gone: the module has
 * been unloaded, its text is no longer there to restore.
 */
static struct gp_error *module_site_ok(struct kern *k, const struct lp_hdr *h, int s,
				       const struct pt_ctx *c, bool *gone)
{
	const struct lp_rec_site *st = &h->sites[s];
	const struct kmod *m = kmod_by_name(&c->stacks->mods, h->modules[st->module - 1]);
	uint8_t cur[5], jmp[5];
	struct gp_error *err;

	*gone = !m || st->old_addr < m->text_start || st->old_addr + 5 > m->text_end;
	if (*gone)
		return NULL;
	if ((err = kern_read(k, st->old_addr, cur, 5)))
		return err;
	make_jmp(jmp, st->old_addr, st->tramp_va);
	if (memcmp(cur, ftrace_nop, 5) && memcmp(cur, jmp, 5))
		return gp_error_addr(GP_ERR_CORRUPT, st->old_addr,
				     "%s's function at 0x%llx holds neither the ftrace NOP nor our jump",
				     h->modules[st->module - 1], (unsigned long long)st->old_addr);
	return NULL;
}

/*
 * Make the guest's code agree with the records `h` (the guest held `old`):
 * slots before entries for sites that come into use, entries before slots
 * for sites that go out of use.  All inside one pause.
 */
static struct gp_error *sync_code(struct kern *k, const struct lp_hdr *old,
				  const struct lp_hdr *h, const struct pt_ctx *c, struct undo *u)
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
			    (!gone && (err = code_update(k, u, h->sites[s].old_addr, entry, 5))))
				return err;
		} else if (old->sites[s].in_use) {
			if (old->sites[s].module && (err = module_site_ok(k, old, s, c, &gone)))
				return err;
			memset(slot, 0xcc, sizeof(slot));
			if ((!gone &&
			     (err = code_update(k, u, old->sites[s].old_addr, old->sites[s].orig, 5))) ||
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
static struct gp_error *commit_change(struct kern *k, struct lp_region *r, const struct lp_hdr *old,
				      const struct pt_ctx *c)
{
	static uint8_t zero[4096];
	struct undo u = { .n = 0 };
	struct gp_error *err;

	gc_sites(&r->hdr);
	if ((err = sync_code(k, old, &r->hdr, c, &u)) || (err = lp_region_commit(k, r))) {
		undo_all(k, &u);
		return err;
	}
	for (unsigned i = LP_FIRST_ALLOC; i < LP_REGION_PAGES; i++) {
		if (!old->page_owner[i] || r->hdr.page_owner[i])
			continue;
		err = i < LP_FIRST_ALLOC + LP_CODE_PAGES ?
			tgt_write_code(k->t, lp_page_pa(i), zero, sizeof(zero)) :
			tgt_write_phys(k->t, lp_page_pa(i), zero, sizeof(zero));
		if (err)
			return gp_error_wrap(err, "clearing freed region page %u", i);
	}
	return NULL;
}

/* Drop a patch's records; its pages become free, or leaked (kept, never
 * reused) when tasks may still run its code. */
static void drop_patch(struct lp_hdr *h, int slot, bool leak)
{
	for (int f = 0; f < LP_MAX_FUNCS_TOTAL; f++)
		if (h->funcs[f].in_use && (int)h->funcs[f].patch == slot)
			memset(&h->funcs[f], 0, sizeof(h->funcs[f]));
	for (unsigned i = 0; i < LP_REGION_PAGES; i++)
		if (h->page_owner[i] == slot + 1)
			h->page_owner[i] = leak ? LP_PAGE_LEAKED : 0;
	memset(&h->patches[slot], 0, sizeof(h->patches[slot]));
}

static void drop_nops(struct lp_hdr *h, int slot)
{
	for (int f = 0; f < LP_MAX_FUNCS_TOTAL; f++)
		if (h->funcs[f].in_use && (int)h->funcs[f].patch == slot && h->funcs[f].nop)
			memset(&h->funcs[f], 0, sizeof(h->funcs[f]));
}

/* One function the patch replaces, resolved in the guest. */
struct target_func {
	uint64_t old_addr, old_size, new_addr;
	int site;		/* existing site index or -1 */
	char name[64];
	unsigned long pos;
	char module[LP_MODULE_NAME];	/* "" for the kernel itself */
};

/* The functions a patch replaces: in the kernel (kallsyms), or in a loaded
 * module - written MODULE:NAME, or a NAME the kernel does not have. */
static struct gp_error *resolve_funcs(struct kern *k, const struct pt_ctx *c,
				      const struct lp_image *img, struct target_func *tf)
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

/* The function entry must be the ftrace NOP, or our jump to its slot. */
static struct gp_error *check_site(struct kern *k, const struct lp_region *r,
				   struct target_func *t)
{
	uint8_t cur[5], want[5];
	struct gp_error *err = kern_read(k, t->old_addr, cur, sizeof(cur));

	if (err)
		return gp_error_wrap(err, "reading the entry of %s", t->name);
	t->site = find_site(&r->hdr, t->old_addr);
	if (t->site >= 0) {
		make_jmp(want, t->old_addr, r->hdr.sites[t->site].tramp_va);
		if (memcmp(cur, want, 5))
			return gp_error_addr(GP_ERR_CORRUPT, t->old_addr,
					     "%s at 0x%llx should jump to guestpatch's trampoline but holds %02x %02x %02x %02x %02x",
					     t->name, (unsigned long long)t->old_addr,
					     cur[0], cur[1], cur[2], cur[3], cur[4]);
		return NULL;
	}
	if (memcmp(cur, ftrace_nop, 5))
		return gp_error_addr(GP_ERR_BUSY, t->old_addr,
				     "%s at 0x%llx does not start with the 5-byte ftrace NOP (found %02x %02x %02x %02x %02x): ftrace, a kprobe or another patcher uses it",
				     t->name, (unsigned long long)t->old_addr,
				     cur[0], cur[1], cur[2], cur[3], cur[4]);
	return NULL;
}

/* Add a patch's records (state given); for atomic replace, a no-op
 * function for every patched function the new patch does not cover. */
static struct gp_error *add_patch_records(struct lp_hdr *h, struct lp_region *r,
					  const struct lp_image *img, struct target_func *tf,
					  unsigned code_page, unsigned data_page, int slot,
					  uint32_t state, uint32_t flags)
{
	struct lp_rec_patch *p = &h->patches[slot];
	int nf = img->nr_funcs;
	struct {
		int site;
		uint64_t new_addr, pos, old_size;
		const char *name;
		bool nop;
	} want[LP_MAX_FUNCS_TOTAL + LP_MAX_FUNCS];

	for (int i = 0; i < nf; i++) {
		struct target_func *t = &tf[i];
		int s = t->site;

		if (s < 0) {
			for (s = 0; s < LP_MAX_SITES && h->sites[s].in_use; s++)
				;
			if (s == LP_MAX_SITES)
				return gp_error_create(GP_ERR_LIMIT, "more than %d patched functions",
						       LP_MAX_SITES);
			h->sites[s].in_use = 1;
			h->sites[s].old_addr = t->old_addr;
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
			memcpy(h->sites[s].orig, ftrace_nop, 5);
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
	for (unsigned i = 0; i < p->code_pages; i++)
		h->page_owner[code_page + i] = (uint8_t)(slot + 1);
	for (unsigned i = 0; i < p->data_pages; i++)
		h->page_owner[data_page + i] = (uint8_t)(slot + 1);
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

/* --- reporting ---------------------------------------------------------- */

static void fill_report_pause(struct kern *k, struct lp_report *rep)
{
	rep->pause_ns = k->t->stats.last_pause_ns;
	rep->stop_ns = k->t->stats.last_stop_ns;
	rep->resume_ns = k->t->stats.last_resume_ns;
}

static size_t blocker_list(const struct lp_check_result *c, char *list, size_t size)
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

	blocker_list(c, list, sizeof(list));
	return gp_error_create(GP_ERR_TIMEOUT,
			       "%s: not safe within %.1f s (%d attempts); guest unchanged. %d task%s blocked:%s",
			       what, timeout, rep->attempts, c->nr_blockers,
			       c->nr_blockers == 1 ? "" : "s", list);
}

/* Write `size` bytes at the start of region page `page`. */
static struct gp_error *write_pages(struct kern *k, unsigned page, const uint8_t *buf,
				    size_t size, bool code)
{
	if (!size)
		return NULL;
	return code ? tgt_write_code(k->t, lp_page_pa(page), buf, size) :
		      tgt_write_phys(k->t, lp_page_pa(page), buf, size);
}

/*
 * The loop shared by every operation: pause, let `attempt` check (and, if
 * nothing blocks, write), resume; while it reports blockers, back off and
 * try again until the timeout.  `attempt` sets *blocked when it found
 * blockers and wrote nothing that must be finished.
 */
typedef struct gp_error *(*attempt_fn)(struct kern *k, void *arg, struct lp_report *rep,
				       bool *blocked);

static struct gp_error *retry_paused(struct kern *k, double timeout, unsigned backoff_min,
				     unsigned backoff_max, attempt_fn attempt, void *arg,
				     struct lp_report *rep, bool *timed_out)
{
	unsigned backoff = backoff_min;
	uint64_t t0 = gp_now_ns();

	*timed_out = false;
	for (;;) {
		struct gp_error *err;
		bool blocked = false;

		rep->attempts++;
		if ((err = tgt_pause(k->t)))
			return err;
		err = resume_keep(k, attempt(k, arg, rep, &blocked));
		rep->pause_ns_total += k->t->stats.last_pause_ns;
		fill_report_pause(k, rep);
		if (err || !blocked)
			return err;
		if ((gp_now_ns() - t0) / 1e9 >= timeout) {
			*timed_out = true;
			return NULL;
		}
		sleep_us(backoff);
		backoff = backoff * 2 > backoff_max ? backoff_max : backoff * 2;
	}
}

/* --- the per-task transition -------------------------------------------- */

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

static uint64_t patch_code_start(const struct lp_region *r, int p)
{
	return lp_page_va(r, r->hdr.patches[p].code_page);
}

static uint64_t patch_code_end(const struct lp_region *r, int p)
{
	return patch_code_start(r, p) + r->hdr.patches[p].code_pages * 4096ull;
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
				add_range(v, &n, MAX_RANGES, patch_code_start(r, P), patch_code_end(r, P),
					  fn->name, h->patches[P].name);
			continue;
		}
		ns = site_stack(h, (int)fn->site, stack);
		for (pos = 0; pos < ns && stack[pos] != f; pos++)
			;
		if (pos + 1 < ns) {
			int q = (int)h->funcs[stack[pos + 1]].patch;

			add_range(v, &n, MAX_RANGES, patch_code_start(r, q), patch_code_end(r, q),
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
		add_range(v, &n, MAX_RANGES, patch_code_start(r, P), patch_code_end(r, P),
			  "code", h->patches[P].name);
	else if (h->patches[P].flags & LP_FLAG_REPLACE)
		for (int q = 0; q < LP_MAX_PATCHES; q++)
			if (q != P && h->patches[q].state != LP_FREE)
				add_range(v, &n, MAX_RANGES, patch_code_start(r, q),
					  patch_code_end(r, q), "code (replaced)", h->patches[q].name);
	add_range(v, &n, MAX_RANGES, lp_page_va(r, LP_TRAMP_PAGE),
		  lp_page_va(r, LP_TRAMP_PAGE) + 4096, "guestpatch trampoline", NULL);
	return n;
}

/* The first frame inside one of the ranges, or -1. */
static int frame_in(const struct stack_trace *tr, const struct lp_range *v, int n, int *which)
{
	for (int f = 0; f < tr->nr; f++)
		for (int i = 0; i < n; i++)
			if (tr->f[f].pc >= v[i].start && tr->f[f].pc < v[i].end) {
				*which = i;
				return f;
			}
	return -1;
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
 * Complete the transition (klp_complete_transition): records first, code
 * from them, then every task back to KLP_UNDEFINED and klp_target_state to
 * KLP_UNDEFINED.  All in this pause.
 */
static struct gp_error *complete_transition(struct kern *k, struct pt_ctx *c, struct lp_region *r,
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
					drop_patch(h, q, h->patches[P].flags & LP_FLAG_FORCED);
			drop_nops(h, P);
		}
	} else {
		drop_patch(h, P, h->patches[P].flags & LP_FLAG_FORCED);
	}
	h->trans_patch = -1;
	h->trans_target = 0;
	h->trans_attempts = 0;
	h->trans_signals = 0;
	err = commit_change(k, r, old, c);
	if (!err)
		err = set_all_tasks(k, &c->klp, snap, KLP_UNDEFINED, 0);
	if (!err)
		err = lp_klp_set_target(k, &c->klp, KLP_UNDEFINED);
	free(old);
	return err;
}

/*
 * One try-complete attempt (klp_try_complete_transition), target paused,
 * region loaded with a transition in progress: switch every task that is
 * safe; complete when none is left.  dry: only report.
 */
static struct gp_error *try_complete(struct kern *k, struct pt_ctx *c, struct lp_region *r,
				     struct stacks_snapshot *snap, struct lp_report *rep, bool dry,
				     bool *done)
{
	struct lp_range sw[MAX_RANGES], fr[MAX_RANGES];
	int nsw = switch_ranges(r, sw), nfr = free_ranges(r, fr);
	int32_t target = r->hdr.trans_target;
	struct gp_error *err;
	uint64_t t0 = gp_now_ns();

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
	for (size_t i = 0; i < snap->tasks.nr; i++) {
		struct task_info *t = &snap->tasks.v[i];
		const struct stack_trace *tr = &snap->traces[i];
		int which, f;
		char why[224];

		if (t->patch_state == target) {
			rep->switched++;
			/* Switched tasks only matter if they run code that
			 * completion frees (or sit in a trampoline). */
			if ((f = frame_in(tr, fr, nfr, &which)) >= 0) {
				snprintf(why, sizeof(why), "%s is on its stack (frame %d, pc 0x%llx)",
					 fr[which].name, f, (unsigned long long)tr->f[f].pc);
				lp_blocker_add(&rep->check, t, snap->vcpu[i], tr->f[f].pc, fr[which].name, why);
			}
			continue;
		}
		if (!t->stack) {
			/* A dead task with its stack freed runs nothing. */
		} else if ((f = frame_in(tr, sw, nsw, &which)) >= 0) {
			snprintf(why, sizeof(why), "%s is on its stack (frame %d, pc 0x%llx)%s",
				 sw[which].name, f, (unsigned long long)tr->f[f].pc,
				 snap->vcpu[i] >= 0 && f == 0 ? ", executing now" : "");
			lp_blocker_add(&rep->check, t, snap->vcpu[i], tr->f[f].pc, sw[which].name, why);
			continue;
		} else if (!tr->reliable) {
			snprintf(why, sizeof(why), "unreliable stack: %s", tr->why);
			lp_blocker_add(&rep->check, t, snap->vcpu[i], 0, "", why);
			continue;
		}
		if (dry)
			continue;
		if ((err = lp_klp_set_task(k, &c->klp, t, target, 0)))
			return err;
		rep->switched++;
	}
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

/* Load the region and the snapshot for an attempt on a running transition. */
static struct gp_error *load_transition(struct kern *k, struct pt_ctx *c, struct lp_region *r,
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
	struct pt_ctx *c;
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
		err = try_complete(k, a->c, &r, &snap, rep, false, &a->done);
		/* Record the attempt count unless completion rewrote it. */
		if (!err && !a->done)
			err = lp_region_commit(k, &r);
	}
	*blocked = !err && !a->done;
	stacks_free(&snap);
	return err;
}

static struct gp_error *signal_stragglers(struct kern *k, struct pt_ctx *c,
					  struct lp_report *rep);

/* Run try-complete until done, or the timeout leaves it in progress. */
static struct gp_error *drive_transition(struct kern *k, struct pt_ctx *c, const struct lp_opts *o,
					 struct lp_report *rep, bool done_already)
{
	double timeout = o && o->timeout_s > 0 ? o->timeout_s : 10.0;
	double signal_after = o && o->signal_after_s ? o->signal_after_s : SIGNAL_AFTER_DEFAULT_S;
	struct trans_arg a = { .c = c, .done = done_already };
	uint64_t t0 = gp_now_ns();
	bool timed_out = false;
	struct gp_error *err;

	double next_signal = signal_after;

	while (!a.done) {
		double left = timeout - (gp_now_ns() - t0) / 1e9;

		if (o && o->no_wait)
			break;
		if (left <= 0)
			break;
		/* Run in chunks so the straggler step can come in between. */
		if ((err = retry_paused(k, left > 0.2 ? 0.2 : left,
					TRANS_BACKOFF_MIN_US, TRANS_BACKOFF_MAX_US, continue_attempt,
					&a, rep, &timed_out)))
			return err;
		if (!a.done && signal_after > 0 && (gp_now_ns() - t0) / 1e9 >= next_signal) {
			next_signal += signal_after;
			if ((err = signal_stragglers(k, c, rep)))
				return err;
		}
	}
	rep->completed = a.done;
	rep->in_progress = !a.done;
	if (a.done)
		return NULL;
	{
		char list[4096];

		blocker_list(&rep->check, list, sizeof(list));
		return gp_error_create(GP_ERR_TIMEOUT,
				       "transition of patch %s to %s is still in progress after %d attempt%s (%zu of %zu tasks switched; the guest runs consistently meanwhile). Waiting for:%s\n"
				       "Run `vmm transition TARGET` to keep trying, --signal to prod the stragglers, --reverse to undo, or --force.",
				       rep->trans_patch,
				       rep->target == KLP_PATCHED ? "patched" : "unpatched", rep->attempts,
				       rep->attempts == 1 ? "" : "s", rep->switched, rep->tasks, list);
	}
}

/*
 * Straggler step (klp_send_signals): a fake signal for user tasks that
 * have not switched (TIF_NOTIFY_SIGNAL, then wake_up_state() or
 * kick_process()), a wake-up for kthreads (wake_up_state()).  Waking a
 * task takes scheduler locks, so it must run inside the guest, in a
 * context where taking them is safe: we hook hrtimer_interrupt, the local
 * timer interrupt handler, which runs in hard-IRQ context with interrupts
 * off.  Every lock try_to_wake_up() takes (p->pi_lock, the runqueue lock)
 * is taken with interrupts disabled, so this CPU cannot be holding one
 * when the interrupt comes; timer callbacks wake tasks from this very
 * context all the time.  The hook is one-shot (an xchg on a flag) and is
 * removed again by the next pause.  The tasks are pinned while paused by
 * raising task_struct.usage, which the agent drops again
 * (put_task_struct()), so none can be freed between our pause and the
 * agent's run.  See docs/per-task.md.
 */
#define PF_KTHREAD 0x00200000u
#define AGENT_ARMED 0		/* data page offsets */
#define AGENT_DONE 8

struct agent_syms {
	uint64_t hook, wake, kick, put;
	uint64_t usage_off;
};

static void emit(uint8_t **p, const void *b, size_t n)
{
	memcpy(*p, b, n);
	*p += n;
}

static void emit_rel32(uint8_t **p, uint8_t *base, uint64_t va, uint64_t to)
{
	int32_t rel = (int32_t)(int64_t)(to - (va + (uint64_t)(*p - base) + 4));

	emit(p, &rel, 4);
}

/* The agent's code for `n` tasks; returns its size. */
static size_t emit_agent(uint8_t *code, uint64_t va, uint64_t data_va, const struct agent_syms *s,
			 const uint64_t *task, const bool *kthread, int n)
{
	uint8_t *p = code, *jz_out;
	int32_t usage = (int32_t)s->usage_off;

	emit(&p, "\x57\x31\xc0", 3);			/* push %rdi; xor %eax,%eax */
	emit(&p, "\x86\x05", 2);			/* xchg %al, armed(%rip) */
	emit_rel32(&p, code, va, data_va + AGENT_ARMED);
	emit(&p, "\x84\xc0\x0f\x84", 4);		/* test %al,%al; jz out */
	jz_out = p;
	emit(&p, "\0\0\0\0", 4);
	emit(&p, "\x53", 1);				/* push %rbx */
	for (int i = 0; i < n; i++) {
		emit(&p, "\x48\xbb", 2);		/* movabs $task, %rbx */
		emit(&p, &task[i], 8);
		emit(&p, "\x48\x89\xdf\xbe\x01\x00\x00\x00\xe8", 9);	/* mov %rbx,%rdi; mov $1,%esi; call */
		emit_rel32(&p, code, va, s->wake);
		if (!kthread[i]) {
			emit(&p, "\x85\xc0\x75\x08\x48\x89\xdf\xe8", 8);	/* test; jnz +8; mov; call */
			emit_rel32(&p, code, va, s->kick);
		}
		emit(&p, "\xf0\xff\x8b", 3);		/* lock decl usage(%rbx) */
		emit(&p, &usage, 4);
		emit(&p, "\x75\x08\x48\x89\xdf\xe8", 6);	/* jnz +8; mov %rbx,%rdi; call */
		emit_rel32(&p, code, va, s->put);
	}
	emit(&p, "\xc6\x05", 2);			/* movb $1, done(%rip) */
	emit_rel32(&p, code, va, data_va + AGENT_DONE);
	/* the rel32 above is followed by the imm8; fix the displacement */
	{
		int32_t rel;

		memcpy(&rel, p - 4, 4);
		rel -= 1;
		memcpy(p - 4, &rel, 4);
	}
	emit(&p, "\x01\x5b", 2);			/* imm8 1; pop %rbx */
	{
		int32_t rel = (int32_t)(p - (jz_out + 4));

		memcpy(jz_out, &rel, 4);
	}
	emit(&p, "\x5f\xe9", 2);			/* out: pop %rdi; jmp hook+5 */
	emit_rel32(&p, code, va, s->hook + 5);
	return (size_t)(p - code);
}

static struct gp_error *agent_syms(struct kern *k, struct agent_syms *s)
{
	struct gp_error *err;

	if ((err = kern_sym(k, LP_AGENT_HOOK, &s->hook)) ||
	    (err = kern_sym(k, "wake_up_state", &s->wake)) ||
	    (err = kern_sym(k, "kick_process", &s->kick)) ||
	    (err = kern_sym(k, "__put_task_struct", &s->put)) ||
	    (err = kern_offsetof(k, "task_struct", "usage", &s->usage_off)))
		return gp_error_wrap(err, "straggler agent");
	return NULL;
}

static struct gp_error *task_usage_add(struct kern *k, uint64_t task, uint64_t off, int delta,
				       bool keep_one)
{
	uint32_t v;
	struct gp_error *err = kern_read_u32(k, task + off, &v);

	if (err)
		return err;
	if (keep_one && (int64_t)v + delta < 1)
		return NULL;	/* never drop the last reference from outside */
	v = (uint32_t)((int64_t)v + delta);
	return kern_write(k, task + off, &v, sizeof(v));
}

/* Remove an installed agent (paused); *busy if a task is inside it. */
static struct gp_error *agent_remove(struct kern *k, struct pt_ctx *c, struct lp_region *r,
				     bool give_up, bool *busy, bool *ran)
{
	static uint8_t zero[4096];
	struct lp_hdr *h = &r->hdr;
	struct stacks_snapshot snap;
	struct agent_syms s;
	uint8_t armed = 0, done = 0;
	uint64_t lo = lp_page_va(r, h->agent_code_page);
	struct gp_error *err;

	*busy = *ran = false;
	if (!h->agent_state)
		return NULL;
	if ((err = agent_syms(k, &s)) || (err = stacks_take(c->stacks, &snap)))
		return err;
	for (size_t i = 0; i < snap.tasks.nr && !*busy; i++) {
		struct lp_range rg = { .start = lo, .end = lo + 4096 };
		int which;

		*busy = frame_in(&snap.traces[i], &rg, 1, &which) >= 0;
	}
	stacks_free(&snap);
	if (*busy)
		return NULL;
	if ((err = tgt_read_phys(k->t, lp_page_pa(h->agent_data_page) + AGENT_ARMED, &armed, 1)) ||
	    (err = tgt_read_phys(k->t, lp_page_pa(h->agent_data_page) + AGENT_DONE, &done, 1)))
		return err;
	if ((!armed && !done) || (armed && !give_up)) {
		*busy = true;	/* running, or not run yet */
		return NULL;
	}
	if ((err = write_kernel_code(k, h->agent_site, ftrace_nop, 5)))
		return err;
	*ran = done;
	if (armed)	/* never ran: give the references back */
		for (uint32_t i = 0; i < h->agent_ntasks; i++)
			gp_error_destroy(task_usage_add(k, h->agent_tasks[i], s.usage_off, -1, true));
	if ((err = tgt_write_code(k->t, lp_page_pa(h->agent_code_page), zero, sizeof(zero))) ||
	    (err = tgt_write_phys(k->t, lp_page_pa(h->agent_data_page), zero, sizeof(zero))))
		return err;
	h->page_owner[h->agent_code_page] = 0;
	h->page_owner[h->agent_data_page] = 0;
	h->agent_state = 0;
	h->agent_site = 0;
	h->agent_ntasks = 0;
	h->agent_code_page = h->agent_data_page = 0;
	memset(h->agent_tasks, 0, sizeof(h->agent_tasks));
	return lp_region_commit(k, r);
}

/* Install the agent for every task not yet switched (paused). */
static struct gp_error *agent_install(struct kern *k, struct pt_ctx *c, struct lp_region *r,
				      int *count)
{
	static uint8_t code[4096];
	struct lp_hdr *h = &r->hdr;
	struct stacks_snapshot snap;
	struct agent_syms s;
	uint64_t task[LP_AGENT_MAX_TASKS];
	bool kthread[LP_AGENT_MAX_TASKS];
	uint8_t cur[5], jmp[5], data[16] = { 1 };
	int n = 0, cp, dp;
	size_t size;
	struct gp_error *err;

	*count = 0;
	if ((err = agent_syms(k, &s)))
		return err;
	if ((err = kern_read(k, s.hook, cur, 5)))
		return err;
	if (memcmp(cur, ftrace_nop, 5))
		return gp_error_create(GP_ERR_BUSY,
				       "%s does not start with the ftrace NOP: cannot hook the straggler step there",
				       LP_AGENT_HOOK);
	if ((err = stacks_take(c->stacks, &snap)))
		return err;
	for (size_t i = 0; i < snap.tasks.nr && n < LP_AGENT_MAX_TASKS; i++) {
		struct task_info *t = &snap.tasks.v[i];

		if (t->patch_state == h->trans_target || t->idle || !t->stack || t->exit_state)
			continue;
		task[n] = t->addr;
		kthread[n] = t->flags & PF_KTHREAD;
		n++;
	}
	if (!n)
		goto out;
	cp = lp_region_alloc(r, true, 1);
	dp = lp_region_alloc(r, false, 1);
	if (cp < 0 || dp < 0) {
		err = gp_error_create(GP_ERR_LIMIT, "no free region page for the straggler agent");
		goto out;
	}
	memset(code, 0xcc, sizeof(code));
	size = emit_agent(code, lp_page_va(r, (unsigned)cp), lp_page_va(r, (unsigned)dp), &s, task,
			  kthread, n);
	if (size > sizeof(code)) {
		err = gp_error_create(GP_ERR_LIMIT, "straggler agent too large");
		goto out;
	}
	/* Pin the tasks, flag user tasks as klp_send_signals() does, then
	 * make the hook visible last. */
	for (int i = 0; i < n; i++) {
		if ((err = task_usage_add(k, task[i], s.usage_off, +1, false)) ||
		    (!kthread[i] && c->klp.tif_notify_signal >= 0 &&
		     (err = lp_klp_task_flag(k, &c->klp, task[i], c->klp.tif_notify_signal, true,
					     NULL))))
			goto out;
		h->agent_tasks[i] = task[i];
	}
	h->agent_ntasks = (uint32_t)n;
	h->agent_site = s.hook;
	h->agent_code_page = (uint32_t)cp;
	h->agent_data_page = (uint32_t)dp;
	h->agent_state = 1;
	h->page_owner[cp] = LP_PAGE_SYSTEM;
	h->page_owner[dp] = LP_PAGE_SYSTEM;
	h->trans_signals++;
	make_jmp(jmp, s.hook, lp_page_va(r, (unsigned)cp));
	if ((err = tgt_write_code(k->t, lp_page_pa((unsigned)cp), code, size)) ||
	    (err = tgt_write_phys(k->t, lp_page_pa((unsigned)dp), data, sizeof(data))) ||
	    (err = lp_region_commit(k, r)) ||
	    (err = write_kernel_code(k, s.hook, jmp, 5)))
		goto out;
	*count = n;
out:
	stacks_free(&snap);
	return err;
}

static struct gp_error *signal_stragglers(struct kern *k, struct pt_ctx *c,
					  struct lp_report *rep)
{
	struct lp_region r;
	struct gp_error *err;
	bool busy = false, ran = false;
	int n = 0;
	uint64_t t0;

	if (!c->klp.usable)
		return gp_error_create(GP_ERR_UNSUPPORTED, "no per-task model here: %s", c->klp.why);
	if (c->klp.tif_notify_signal < 0)
		return gp_error_create(GP_ERR_UNSUPPORTED,
				       "cannot find TIF_NOTIFY_SIGNAL in the guest's klp_send_signals(): no fake signals");
	if ((err = tgt_pause(k->t)))
		return err;
	err = lp_region_load(k, &r);
	if (!err && r.present && r.hdr.agent_state)
		err = agent_remove(k, c, &r, true, &busy, &ran);
	if (!err && !busy && r.present && r.hdr.trans_patch >= 0)
		err = agent_install(k, c, &r, &n);
	if ((err = resume_keep(k, err)) || !n)
		return err;
	/* Let it run (the next local timer interrupt), then take it out. */
	t0 = gp_now_ns();
	do {
		sleep_us(5000);
		if ((err = tgt_pause(k->t)))
			return err;
		err = lp_region_load(k, &r);
		if (!err)
			err = agent_remove(k, c, &r, gp_now_ns() - t0 > 1000000000ull, &busy, &ran);
		if ((err = resume_keep(k, err)))
			return err;
	} while (busy && gp_now_ns() - t0 < 3000000000ull);
	if (busy)
		return gp_error_create(GP_ERR_TIMEOUT,
				       "the straggler agent is still in use after 3 s; it stays installed and the next vmm transition removes it");
	if (!ran)
		return gp_error_create(GP_ERR_TIMEOUT,
				       "the straggler agent did not run within 1 s (no timer interrupt in the guest?); removed, nothing was signalled");
	rep->signal_rounds++;
	return NULL;
}

/* --- apply ----------------------------------------------------------------- */

struct apply_ctx {
	struct pt_ctx *c;
	bool per_task;
	struct lp_region r;
	uint64_t gen;
	const struct lp_image *img;
	struct target_func *tf;
	struct lp_range *ranges;
	int nr_ranges;
	unsigned code_page, data_page;
	int slot;
	uint32_t flags;
	bool done;		/* per-task: completed in the first pause */
};

static struct gp_error *apply_common_checks(struct kern *k, struct apply_ctx *a)
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
		err = check_site(k, &a->r, &a->tf[i]);
	return err;
}

/* The new patch's pages and records, in the state given. */
static struct gp_error *add_new_patch(struct kern *k, struct apply_ctx *a, uint32_t state)
{
	struct gp_error *err;

	if ((err = write_pages(k, a->code_page, a->img->code, a->img->code_used, true)) ||
	    (err = write_pages(k, a->data_page, a->img->data, a->img->data_used, false)))
		return err;
	return add_patch_records(&a->r.hdr, &a->r, a->img, a->tf, a->code_page, a->data_page,
				 a->slot, state, a->flags);
}

/* Global: everything in one pause once no stack holds what changes. */
static struct gp_error *apply_global_attempt(struct kern *k, void *arg, struct lp_report *rep,
					     bool *blocked)
{
	struct apply_ctx *a = arg;
	struct lp_hdr *old = NULL;
	struct gp_error *err = apply_common_checks(k, a);
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
	if ((err = add_new_patch(k, a, LP_APPLIED)))
		goto out;
	if (a->flags & LP_FLAG_REPLACE) {
		for (int q = 0; q < LP_MAX_PATCHES; q++)
			if (q != a->slot && a->r.hdr.patches[q].state != LP_FREE)
				drop_patch(&a->r.hdr, q, false);
		drop_nops(&a->r.hdr, a->slot);
	}
	err = commit_change(k, &a->r, old, a->c);
out:
	free(old);
	rep->write_ns = gp_now_ns() - tw;
	return err;
}

/* Per-task: init and start (klp_init_transition, klp_start_transition) in
 * one pause, then the first try-complete in that same pause. */
static struct gp_error *apply_pertask_attempt(struct kern *k, void *arg, struct lp_report *rep,
					      bool *blocked)
{
	struct apply_ctx *a = arg;
	struct stacks_snapshot snap = { 0 };
	struct lp_hdr *old = NULL;
	struct gp_error *err = apply_common_checks(k, a);
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
				       "klp_target_state is %d, not KLP_UNDEFINED: a livepatch transition (ours or the guest's) was left half done",
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
					      "pid %d (%s) has patch_state %d, not KLP_UNDEFINED: a livepatch transition was left half done",
					      snap.tasks.v[i].pid, snap.tasks.v[i].comm,
					      snap.tasks.v[i].patch_state);
			goto out;
		}
	if ((err = add_new_patch(k, a, LP_PATCHING)))
		goto out;
	a->r.hdr.trans_patch = a->slot;
	a->r.hdr.trans_target = KLP_PATCHED;
	a->r.hdr.trans_started_unix = (uint64_t)time(NULL);
	a->r.hdr.trans_attempts = 1;
	/* Seed order: every task to the initial state, then the target
	 * state, then the pending flags, then the functions become visible
	 * (sync_code writes the slots and site jumps). One pause: the guest
	 * sees all of it or none. */
	wrote_tasks = true;
	if ((err = set_all_tasks(k, &a->c->klp, &snap, KLP_UNPATCHED, -1)) ||
	    (err = lp_klp_set_target(k, &a->c->klp, KLP_PATCHED)) ||
	    (err = set_all_tasks(k, &a->c->klp, &snap, INT32_MIN, 1)) ||
	    (err = commit_change(k, &a->r, old, a->c)))
		goto out;
	rep->write_ns = gp_now_ns() - tw;
	err = try_complete(k, a->c, &a->r, &snap, rep, false, &a->done);
	if (!err && !a->done)
		err = lp_region_commit(k, &a->r);
	stacks_free(&snap);
	free(old);
	return err;
out:
	if (wrote_tasks) {
		/* Put every task and the target back as they were. */
		gp_error_destroy(set_all_tasks(k, &a->c->klp, &snap, KLP_UNDEFINED, 0));
		gp_error_destroy(lp_klp_set_target(k, &a->c->klp, old_target));
	}
	stacks_free(&snap);
	free(old);
	return err;
}

static bool choose_per_task(struct pt_ctx *c, const struct lp_opts *o, struct gp_error **err)
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
	struct target_func tf[LP_MAX_FUNCS];
	struct lp_range ranges[LP_MAX_FUNCS + LP_MAX_PATCHES + 1];
	struct lp_image img = { 0 };
	struct lp_obj *obj = NULL;
	struct pt_ctx c = { 0 };
	struct lp_region r;
	struct gp_error *err;
	size_t code_sz, data_sz;
	int code_page, data_page, slot = -1, nr = 0;
	uint64_t t0 = gp_now_ns(), gen;
	bool per_task, timed_out;

	memset(rep, 0, sizeof(*rep));
	if ((err = lp_obj_open_file(obj_path, &obj)))
		return err;
	lp_obj_sizes(obj, &code_sz, &data_sz);
	/* Plan where it goes (brief read-only pause). */
	if ((err = tgt_pause(k->t)))
		goto out;
	err = resume_keep(k, lp_region_load(k, &r));
	if (err)
		goto out;
	gen = r.hdr.generation;
	code_page = lp_region_alloc(&r, true, (unsigned)(code_sz / 4096));
	data_page = lp_region_alloc(&r, false, (unsigned)(data_sz / 4096));
	if (code_page < 0 || data_page < 0) {
		err = gp_error_create(GP_ERR_LIMIT,
				      "%s: patch too large: needs %zu KiB code and %zu KiB data; the region has %u KiB code and %u KiB data in all, less what applied patches use",
				      obj_path, code_sz / 1024, data_sz / 1024,
				      LP_CODE_PAGES * 4,
				      (LP_REGION_PAGES - LP_FIRST_ALLOC - LP_CODE_PAGES) * 4);
		goto out;
	}
	if ((err = lp_obj_link(obj, lp_page_va(&r, (unsigned)code_page),
			       lp_page_va(&r, (unsigned)data_page), resolve_kernel, k, &img)))
		goto out;
	snprintf(rep->name, sizeof(rep->name), "%s", img.name);
	rep->nr_funcs = img.nr_funcs;
	if (!img.build_id[0] || strcmp(img.build_id, k->build_id)) {
		err = gp_error_create(GP_ERR_INVAL,
				      "%s: patch %s was built for kernel build id '%s', the guest runs %s",
				      obj_path, img.name, img.build_id[0] ? img.build_id : "(none)",
				      k->build_id);
		goto out;
	}
	if (find_patch(&r.hdr, img.name) >= 0) {
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
	if ((err = pt_ctx_init(k, &c)))
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
				ranges[nr].start = patch_code_start(&r, q);
				ranges[nr].end = patch_code_end(&r, q);
				snprintf(ranges[nr].name, sizeof(ranges[nr].name), "code of patch %s",
					 r.hdr.patches[q].name);
				nr++;
			}
	{
		struct apply_ctx ac = {
			.c = &c, .per_task = per_task, .gen = gen, .img = &img, .tf = tf,
			.ranges = ranges, .nr_ranges = nr,
			.code_page = (unsigned)code_page, .data_page = (unsigned)data_page,
			.slot = slot,
			.flags = (img.replace || (o && o->replace)) ? LP_FLAG_REPLACE : 0,
		};

		rep->per_task = per_task;
		err = retry_paused(k, timeout, BACKOFF_MIN_US, BACKOFF_MAX_US,
				   per_task ? apply_pertask_attempt : apply_global_attempt, &ac, rep,
				   &timed_out);
		if (!err && timed_out)
			err = blocked_error(rep, "patch", timeout);
		else if (!err && per_task)
			err = drive_transition(k, &c, o, rep, ac.done);
	}
out:
	rep->elapsed_ms = (gp_now_ns() - t0) / 1e6;
	pt_ctx_free(&c);
	lp_image_free(&img);
	lp_obj_close(obj);
	return err;
}

/* --- remove ---------------------------------------------------------------- */

struct remove_ctx {
	struct pt_ctx *c;
	const char *name;
	bool force, per_task, reversed;
	bool done;
};

static struct gp_error *find_removable(struct kern *k, struct remove_ctx *rc, struct lp_region *r,
				       int *slot)
{
	struct gp_error *err = lp_region_load(k, r);

	if (err)
		return err;
	if (!r->present || (*slot = find_patch(&r->hdr, rc->name)) < 0)
		return gp_error_create(GP_ERR_NOTFOUND, "no patch named %s is applied", rc->name);
	if ((r->hdr.patches[*slot].flags & LP_FLAG_FORCED) && !rc->force)
		return gp_error_create(GP_ERR_BUSY,
				       "patch %s was forced: tasks may still run code from before it, so removing it is unsafe; use --force to remove it anyway (its code is then kept in the guest, never reused)",
				       rc->name);
	return NULL;
}

static struct gp_error *remove_global_attempt(struct kern *k, void *arg, struct lp_report *rep,
					      bool *blocked)
{
	struct remove_ctx *rc = arg;
	struct lp_range ranges[2];
	struct lp_region r;
	struct lp_hdr *old;
	int slot = -1;
	uint64_t tw;
	struct gp_error *err = find_removable(k, rc, &r, &slot);

	if (!err && r.hdr.trans_patch >= 0)
		err = gp_error_create(GP_ERR_BUSY,
				      "patch %s is in transition; finish it first (vmm transition TARGET)",
				      r.hdr.patches[r.hdr.trans_patch].name);
	if (err)
		return err;
	/* Nothing may be running in the replacement code or the slots; the
	 * old functions are fine (they come back). */
	ranges[0].start = patch_code_start(&r, slot);
	ranges[0].end = patch_code_end(&r, slot);
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
	drop_patch(&r.hdr, slot, r.hdr.patches[slot].flags & LP_FLAG_FORCED);
	err = commit_change(k, &r, old, rc->c);
	free(old);
	rep->write_ns = gp_now_ns() - tw;
	return err;
}

/* Flip the direction of the transition in progress (klp_reverse_transition). */
static struct gp_error *reverse_in_pause(struct kern *k, struct pt_ctx *c, struct lp_region *r,
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

static struct gp_error *remove_pertask_attempt(struct kern *k, void *arg, struct lp_report *rep,
					       bool *blocked)
{
	struct remove_ctx *rc = arg;
	struct stacks_snapshot snap = { 0 };
	struct lp_region r;
	struct lp_hdr *old = NULL;
	int slot = -1;
	bool retry = false;
	int32_t cur;
	uint64_t tw;
	struct gp_error *err = find_removable(k, rc, &r, &slot);

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
		if ((err = reverse_in_pause(k, rc->c, &r, &snap)))
			goto out;
	} else {
		if ((err = lp_klp_get_target(k, &rc->c->klp, &cur)))
			goto out;
		if (cur != KLP_UNDEFINED) {
			err = gp_error_create(GP_ERR_BUSY,
					      "klp_target_state is %d, not KLP_UNDEFINED: a livepatch transition was left half done",
					      cur);
			goto out;
		}
		if (!(old = malloc(sizeof(*old)))) {
			err = &gp_error_nomem;
			goto out;
		}
		*old = r.hdr;
		r.hdr.patches[slot].state = LP_UNPATCHING;
		r.hdr.trans_patch = slot;
		r.hdr.trans_target = KLP_UNPATCHED;
		r.hdr.trans_started_unix = (uint64_t)time(NULL);
		r.hdr.trans_attempts = 1;
		if ((err = set_all_tasks(k, &rc->c->klp, &snap, KLP_PATCHED, -1)) ||
		    (err = lp_klp_set_target(k, &rc->c->klp, KLP_UNPATCHED)) ||
		    (err = set_all_tasks(k, &rc->c->klp, &snap, INT32_MIN, 1)) ||
		    (err = commit_change(k, &r, old, rc->c))) {
			gp_error_destroy(set_all_tasks(k, &rc->c->klp, &snap, KLP_UNDEFINED, 0));
			gp_error_destroy(lp_klp_set_target(k, &rc->c->klp, KLP_UNDEFINED));
			goto out;
		}
	}
	rep->write_ns = gp_now_ns() - tw;
	err = try_complete(k, rc->c, &r, &snap, rep, false, &rc->done);
	if (!err && !rc->done)
		err = lp_region_commit(k, &r);
out:
	stacks_free(&snap);
	free(old);
	return err;
}

struct gp_error *lp_remove(struct kern *k, const char *name, const struct lp_opts *o,
			   struct lp_report *rep)
{
	double timeout = o && o->timeout_s > 0 ? o->timeout_s : 10.0;
	struct pt_ctx c;
	struct remove_ctx rc = { .c = &c, .name = name, .force = o && o->force };
	struct gp_error *err;
	uint64_t t0 = gp_now_ns();
	bool timed_out;

	memset(rep, 0, sizeof(*rep));
	snprintf(rep->name, sizeof(rep->name), "%s", name);
	if ((err = pt_ctx_init(k, &c)))
		return err;
	rc.per_task = choose_per_task(&c, o, &err);
	if (!err) {
		rep->per_task = rc.per_task;
		err = retry_paused(k, timeout, BACKOFF_MIN_US, BACKOFF_MAX_US,
				   rc.per_task ? remove_pertask_attempt : remove_global_attempt, &rc,
				   rep, &timed_out);
		if (!err && timed_out)
			err = blocked_error(rep, "unpatch", timeout);
		else if (!err && rc.per_task)
			err = drive_transition(k, &c, o, rep, rc.done);
	}
	rep->elapsed_ms = (gp_now_ns() - t0) / 1e6;
	pt_ctx_free(&c);
	return err;
}

/* --- transition control ------------------------------------------------ */

struct op_ctx {
	struct pt_ctx *c;
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
		if ((err = reverse_in_pause(k, oc->c, &r, &snap)))
			goto out;
		err = try_complete(k, oc->c, &r, &snap, rep, false, &oc->done);
		if (!err && !oc->done)
			err = lp_region_commit(k, &r);
	} else if (oc->op == LP_TRANS_FORCE) {
		/* klp_force_transition: every task to the target state; the
		 * patch is marked forced. Completion then needs no check, but
		 * code some task may still run is kept (leaked), not freed. */
		err = set_all_tasks(k, &oc->c->klp, &snap, r.hdr.trans_target, 0);
		r.hdr.patches[P].flags |= LP_FLAG_FORCED;
		rep->target = r.hdr.trans_target;
		rep->per_task = true;
		rep->tasks = rep->switched = snap.tasks.nr;
		snprintf(rep->trans_patch, sizeof(rep->trans_patch), "%s", r.hdr.patches[P].name);
		if (!err)
			err = complete_transition(k, oc->c, &r, &snap);
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
	struct pt_ctx c;
	struct op_ctx oc = { .c = &c, .op = op };
	struct gp_error *err;
	uint64_t t0 = gp_now_ns();
	bool timed_out = false;

	memset(rep, 0, sizeof(*rep));
	if ((err = pt_ctx_init(k, &c)))
		return err;
	if (op == LP_TRANS_REVERSE || op == LP_TRANS_FORCE)
		err = retry_paused(k, timeout, BACKOFF_MIN_US, BACKOFF_MAX_US, op_attempt, &oc, rep,
				   &timed_out);
	else if (op == LP_TRANS_SIGNAL)
		err = signal_stragglers(k, &c, rep);
	if (!err && timed_out)
		err = gp_error_create(GP_ERR_TIMEOUT, "could not find a moment to change the transition within %.1f s (tasklist_lock held)", timeout);
	if (!err && oc.none)
		err = gp_error_create(GP_ERR_NOTFOUND, "no transition is in progress");
	if (!err)
		err = drive_transition(k, &c, o, rep, oc.done);
	rep->elapsed_ms = (gp_now_ns() - t0) / 1e6;
	pt_ctx_free(&c);
	return err;
}

/* --- listing ---------------------------------------------------------- */

struct gp_error *lp_list(struct kern *k, struct lp_region *r)
{
	struct gp_error *err = tgt_pause(k->t);

	if (err)
		return err;
	return resume_keep(k, lp_region_load(k, r));
}

struct gp_error *lp_status(struct kern *k, struct lp_region *r, struct lp_report *rep)
{
	struct stacks_snapshot snap = { 0 };
	struct pt_ctx c;
	struct gp_error *err;
	bool retry = false, done;

	memset(rep, 0, sizeof(*rep));
	if ((err = lp_list(k, r)))
		return err;
	if (!r->present || r->hdr.trans_patch < 0)
		return NULL;
	if ((err = pt_ctx_init(k, &c)))
		return err;
	if (!(err = tgt_pause(k->t))) {
		err = load_transition(k, &c, r, &snap, &retry, rep);
		if (!err && !retry && r->present && r->hdr.trans_patch >= 0)
			err = try_complete(k, &c, r, &snap, rep, true, &done);
		err = resume_keep(k, err);
		fill_report_pause(k, rep);
	}
	stacks_free(&snap);
	pt_ctx_free(&c);
	return err;
}
