// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * lp_patch.c - apply and remove patches, stop-the-world model.
 *
 * Redirection: the 5-byte ftrace NOP at a replaced function's entry becomes
 * `jmp rel32` to the function's trampoline slot in our region; the slot
 * holds `jmp rel32` to the newest replacement (the top of the stack of
 * patches on that function, as the kernel's func_stack).  Stacking and
 * unstacking only rewrite the slot; removing the last replacement puts the
 * original NOP back, byte for byte.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lp_elf.h"
#include "lp_patch.h"

static const uint8_t ftrace_nop[5] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 };

#define BACKOFF_MIN_US 500
#define BACKOFF_MAX_US 100000

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
	struct gp_error *e2 = tgt_resume(k->t);

	if (!err)
		return e2;
	gp_error_destroy(e2);
	return err;
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

static struct gp_error *read_kernel_bytes(struct kern *k, uint64_t va, void *buf,
					  size_t len)
{
	return kern_read(k, va, buf, len);
}

static struct gp_error *write_kernel_code(struct kern *k, uint64_t va,
					  const void *buf, size_t len)
{
	uint64_t pa;
	struct gp_error *err = kern_v2p(k, va, &pa);

	/* Our writes never cross a page: sites are 5 bytes at a function
	 * start, slots are 16-byte aligned. Check anyway. */
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

/* The newest patch's function record on a site, skipping patch `skip`. */
static int top_func(const struct lp_hdr *h, int site, int skip)
{
	int best = -1;

	for (int i = 0; i < LP_MAX_FUNCS_TOTAL; i++) {
		const struct lp_rec_func *f = &h->funcs[i];

		if (!f->in_use || (int)f->site != site || (int)f->patch == skip)
			continue;
		if (best < 0 || h->patches[f->patch].seq > h->patches[h->funcs[best].patch].seq)
			best = i;
	}
	return best;
}

/* One function the patch replaces, resolved in the guest. */
struct target_func {
	uint64_t old_addr, old_size, new_addr;
	int site;		/* existing site index or -1 */
	char name[64];
	unsigned long pos;
};

static struct gp_error *resolve_funcs(struct kern *k, const struct lp_image *img,
				      struct target_func *tf)
{
	for (int i = 0; i < img->nr_funcs; i++) {
		const struct lp_func *f = &img->funcs[i];
		const struct ksym *s;
		uint64_t off, size;
		struct gp_error *err = ksym_lookup(k->syms, f->old_name, f->old_pos, &s);

		if (err)
			return gp_error_wrap(err, "patch %s replaces %s", img->name,
					     f->old_name);
		if (s->type != 't' && s->type != 'T' && s->type != 'w' && s->type != 'W')
			return gp_error_create(GP_ERR_INVAL,
					       "patch %s replaces %s, which is not a function (type %c)",
					       img->name, f->old_name, s->type);
		if (!ksym_symbolize(k->syms, s->addr, &off, &size) || !size)
			size = 1;
		tf[i].old_addr = s->addr;
		tf[i].old_size = size;
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
	struct gp_error *err = read_kernel_bytes(k, t->old_addr, cur, sizeof(cur));

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

static void fill_report_pause(struct kern *k, struct lp_report *rep)
{
	rep->pause_ns = k->t->stats.last_pause_ns;
	rep->stop_ns = k->t->stats.last_stop_ns;
	rep->resume_ns = k->t->stats.last_resume_ns;
}

static struct gp_error *blocked_error(const struct lp_report *rep, const char *what,
				      double timeout)
{
	const struct lp_check_result *c = &rep->check;
	char list[2048] = "";
	size_t n = 0;

	for (int i = 0; i < c->nr_blockers && i < LP_MAX_BLOCKERS && n < sizeof(list) - 200; i++) {
		const struct lp_blocker *b = &c->b[i];

		n += (size_t)snprintf(list + n, sizeof(list) - n, "\n  pid %d (%s)%s: %s",
				      b->pid, b->comm,
				      b->running_cpu >= 0 ? " running" : "", b->reason);
	}
	return gp_error_create(GP_ERR_TIMEOUT,
			       "%s: not safe within %.1f s (%d attempts); guest unchanged. %d task%s blocked:%s",
			       what, timeout, rep->attempts, c->nr_blockers,
			       c->nr_blockers == 1 ? "" : "s", list);
}

/* Undo log for a failed write sequence: restore what was there. */
struct undo {
	struct {
		uint64_t va;
		uint8_t bytes[16];
		size_t len;
	} e[2 * LP_MAX_FUNCS + 4];
	int n;
};

static struct gp_error *logged_code_write(struct kern *k, struct undo *u,
					  uint64_t va, const void *buf, size_t len)
{
	struct gp_error *err;

	if (u->n < (int)ARRAY_SIZE(u->e) && len <= sizeof(u->e[0].bytes)) {
		err = read_kernel_bytes(k, va, u->e[u->n].bytes, len);
		if (err)
			return err;
		u->e[u->n].va = va;
		u->e[u->n].len = len;
		u->n++;
	}
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

/* Write `size` bytes at the start of region page `page` (free pages are
 * zero: region set-up checks it, unpatch restores it). */
static struct gp_error *write_pages(struct kern *k, unsigned page, const uint8_t *buf,
				    size_t size, bool code)
{
	if (!size)
		return NULL;
	return code ? tgt_write_code(k->t, lp_page_pa(page), buf, size) :
		      tgt_write_phys(k->t, lp_page_pa(page), buf, size);
}

/* Everything the apply writes, in an order that keeps the guest consistent
 * at each step: new pages, slots, then the jumps into them, then records. */
static struct gp_error *apply_writes(struct kern *k, struct lp_region *r,
				     const struct lp_image *img, struct target_func *tf,
				     unsigned code_page, unsigned data_page, int slot)
{
	struct lp_hdr *h = &r->hdr;
	struct lp_rec_patch *p = &h->patches[slot];
	struct gp_error *err;
	struct undo u = { .n = 0 };
	int new_site[LP_MAX_FUNCS];

	if ((err = lp_region_setup(k, r)) ||
	    (err = write_pages(k, code_page, img->code, img->code_used, true)) ||
	    (err = write_pages(k, data_page, img->data, img->data_used, false)))
		return err;
	for (int i = 0; i < img->nr_funcs; i++) {
		struct target_func *t = &tf[i];
		uint8_t slotcode[LP_TRAMP_SIZE];
		int s = t->site;

		new_site[i] = -1;
		if (s < 0) {
			for (s = 0; s < LP_MAX_SITES && h->sites[s].in_use; s++)
				;
			if (s == LP_MAX_SITES) {
				err = gp_error_create(GP_ERR_LIMIT, "more than %d patched functions",
						      LP_MAX_SITES);
				goto fail;
			}
			h->sites[s].in_use = 1;
			h->sites[s].old_addr = t->old_addr;
			h->sites[s].tramp_va = lp_page_va(r, LP_TRAMP_PAGE) +
					       (uint64_t)s * LP_TRAMP_SIZE;
			memcpy(h->sites[s].orig, ftrace_nop, 5);
			new_site[i] = s;
			t->site = s;
		}
		if (!jmp_reaches(t->old_addr, h->sites[s].tramp_va) ||
		    !jmp_reaches(h->sites[s].tramp_va, t->new_addr)) {
			err = gp_error_create(GP_ERR_UNSUPPORTED,
					      "%s is beyond a 32-bit jump from the region", t->name);
			goto fail;
		}
		memset(slotcode, 0xcc, sizeof(slotcode));
		make_jmp(slotcode, h->sites[s].tramp_va, t->new_addr);
		if ((err = logged_code_write(k, &u, h->sites[s].tramp_va, slotcode,
					     sizeof(slotcode))))
			goto fail;
	}
	for (int i = 0; i < img->nr_funcs; i++) {
		uint8_t jmp[5];

		if (new_site[i] < 0)
			continue;
		make_jmp(jmp, tf[i].old_addr, h->sites[tf[i].site].tramp_va);
		if ((err = logged_code_write(k, &u, tf[i].old_addr, jmp, 5)))
			goto fail;
	}
	/* Records. */
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", img->name);
	snprintf(p->build_id, sizeof(p->build_id), "%s", img->build_id);
	p->state = LP_APPLIED;
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
	for (int i = 0; i < img->nr_funcs; i++) {
		int f;

		for (f = 0; f < LP_MAX_FUNCS_TOTAL && h->funcs[f].in_use; f++)
			;
		if (f == LP_MAX_FUNCS_TOTAL) {
			err = gp_error_create(GP_ERR_LIMIT, "more than %d replaced functions in all",
					      LP_MAX_FUNCS_TOTAL);
			goto fail;
		}
		h->funcs[f].in_use = 1;
		h->funcs[f].patch = (uint32_t)slot;
		h->funcs[f].site = (uint32_t)tf[i].site;
		h->funcs[f].new_addr = tf[i].new_addr;
		h->funcs[f].pos = tf[i].pos;
		snprintf(h->funcs[f].name, sizeof(h->funcs[f].name), "%s", tf[i].name);
	}
	if ((err = lp_region_commit(k, r)))
		goto fail;
	return NULL;
fail:
	undo_all(k, &u);
	return err;
}

/*
 * The stop-the-world loop shared by apply and remove: pause, let `attempt`
 * check (and, if nothing blocks, write), resume; on blockers back off and
 * try again until the timeout, then report who blocked. `attempt` sets
 * *blocked when the check found blockers and wrote nothing.
 */
typedef struct gp_error *(*attempt_fn)(struct kern *k, void *arg, struct lp_report *rep,
				       bool *blocked);

static struct gp_error *retry_paused(struct kern *k, double timeout, const char *what,
				     attempt_fn attempt, void *arg, struct lp_report *rep)
{
	unsigned backoff = BACKOFF_MIN_US;
	uint64_t t0 = gp_now_ns();

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
		if ((gp_now_ns() - t0) / 1e9 >= timeout)
			return blocked_error(rep, what, timeout);
		sleep_us(backoff);
		backoff = backoff * 2 > BACKOFF_MAX_US ? BACKOFF_MAX_US : backoff * 2;
	}
}

struct apply_ctx {
	struct stack_ctx *stacks;
	struct lp_region r;
	uint64_t gen;
	const struct lp_image *img;
	struct target_func *tf;
	struct lp_range *ranges;
	unsigned code_page, data_page;
	int slot;
};

static struct gp_error *apply_attempt(struct kern *k, void *arg, struct lp_report *rep,
				      bool *blocked)
{
	struct apply_ctx *a = arg;
	struct gp_error *err = lp_region_load(k, &a->r);
	uint64_t tw;

	if (!err && a->r.hdr.generation != a->gen)
		err = gp_error_create(GP_ERR_BUSY,
				      "the guest's patch records changed while planning (another vmm process?); run the command again");
	for (int i = 0; !err && i < a->img->nr_funcs; i++)
		err = check_site(k, &a->r, &a->tf[i]);
	if (!err)
		err = lp_check_stacks(a->stacks, a->ranges, a->img->nr_funcs, &rep->check);
	rep->check_ns = rep->check.check_ns;
	if (err || (*blocked = rep->check.nr_blockers > 0))
		return err;
	tw = gp_now_ns();
	err = apply_writes(k, &a->r, a->img, a->tf, a->code_page, a->data_page, a->slot);
	rep->write_ns = gp_now_ns() - tw;
	return err;
}

struct gp_error *lp_apply(struct kern *k, const char *obj_path, const struct lp_opts *o,
			  struct lp_report *rep)
{
	double timeout = o && o->timeout_s > 0 ? o->timeout_s : 10.0;
	struct target_func tf[LP_MAX_FUNCS];
	struct lp_range ranges[LP_MAX_FUNCS];
	struct lp_image img = { 0 };
	struct lp_obj *obj = NULL;
	struct stack_ctx *ctx = NULL;
	struct lp_region r;
	struct gp_error *err;
	size_t code_sz, data_sz;
	int code_page, data_page, slot = -1;
	uint64_t t0 = gp_now_ns(), gen;

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
	if ((err = resolve_funcs(k, &img, tf)))
		goto out;
	if ((err = stack_ctx_init(k, &ctx)))
		goto out;
	for (int i = 0; i < img.nr_funcs; i++) {
		ranges[i].start = tf[i].old_addr;
		ranges[i].end = tf[i].old_addr + tf[i].old_size;
		snprintf(ranges[i].name, sizeof(ranges[i].name), "%s", tf[i].name);
	}
	{
		struct apply_ctx ac = {
			.stacks = ctx, .gen = gen, .img = &img, .tf = tf, .ranges = ranges,
			.code_page = (unsigned)code_page, .data_page = (unsigned)data_page,
			.slot = slot,
		};

		err = retry_paused(k, timeout, "patch", apply_attempt, &ac, rep);
	}
out:
	rep->elapsed_ms = (gp_now_ns() - t0) / 1e6;
	stack_ctx_free(ctx);
	lp_image_free(&img);
	lp_obj_close(obj);
	return err;
}

static struct gp_error *remove_writes(struct kern *k, struct lp_region *r, int slot)
{
	struct lp_hdr *h = &r->hdr;
	struct lp_rec_patch *p = &h->patches[slot];
	struct gp_error *err;
	struct undo u = { .n = 0 };
	static uint8_t zero[4096];

	for (int f = 0; f < LP_MAX_FUNCS_TOTAL; f++) {
		struct lp_rec_func *fn = &h->funcs[f];
		struct lp_rec_site *s;
		int next;

		if (!fn->in_use || (int)fn->patch != slot)
			continue;
		s = &h->sites[fn->site];
		next = top_func(h, (int)fn->site, slot);
		if (next >= 0) {
			uint8_t slotcode[LP_TRAMP_SIZE];

			memset(slotcode, 0xcc, sizeof(slotcode));
			make_jmp(slotcode, s->tramp_va, h->funcs[next].new_addr);
			err = logged_code_write(k, &u, s->tramp_va, slotcode, sizeof(slotcode));
		} else if (s->in_use) {
			err = logged_code_write(k, &u, s->old_addr, s->orig, 5);
		} else {
			err = NULL;
		}
		if (err)
			goto fail;
	}
	/* Now nothing jumps into the patch: free sites, slots and pages. */
	for (int f = 0; f < LP_MAX_FUNCS_TOTAL; f++) {
		struct lp_rec_func *fn = &h->funcs[f];
		struct lp_rec_site *s;

		if (!fn->in_use || (int)fn->patch != slot)
			continue;
		s = &h->sites[fn->site];
		if (s->in_use && top_func(h, (int)fn->site, slot) < 0) {
			uint8_t int3[LP_TRAMP_SIZE];

			memset(int3, 0xcc, sizeof(int3));
			if ((err = write_kernel_code(k, s->tramp_va, int3, sizeof(int3))))
				goto fail;
			memset(s, 0, sizeof(*s));
		}
		memset(fn, 0, sizeof(*fn));
	}
	for (unsigned i = 0; i < LP_REGION_PAGES; i++) {
		if (h->page_owner[i] != slot + 1)
			continue;
		err = i < LP_FIRST_ALLOC + LP_CODE_PAGES ?
			tgt_write_code(k->t, lp_page_pa(i), zero, sizeof(zero)) :
			tgt_write_phys(k->t, lp_page_pa(i), zero, sizeof(zero));
		if (err)
			goto fail;
		h->page_owner[i] = 0;
	}
	memset(p, 0, sizeof(*p));
	return lp_region_commit(k, r);
fail:
	undo_all(k, &u);
	return err;
}

struct remove_ctx {
	struct stack_ctx *stacks;
	const char *name;
	bool force;
};

static struct gp_error *remove_attempt(struct kern *k, void *arg, struct lp_report *rep,
				       bool *blocked)
{
	struct remove_ctx *rc = arg;
	struct lp_range ranges[2];
	const struct lp_rec_patch *p;
	struct lp_region r;
	struct gp_error *err = lp_region_load(k, &r);
	uint64_t tw;
	int slot = -1;

	if (!err && (!r.present || (slot = find_patch(&r.hdr, rc->name)) < 0))
		err = gp_error_create(GP_ERR_NOTFOUND, "no patch named %s is applied", rc->name);
	if (!err && (r.hdr.patches[slot].flags & LP_FLAG_FORCED) && !rc->force)
		err = gp_error_create(GP_ERR_BUSY,
				      "patch %s was forced: tasks may still run its code, so removing it is unsafe; use --force to remove it anyway",
				      rc->name);
	if (err)
		return err;
	/* Nothing may be running in the replacement code or the slots; the
	 * old functions are fine (they come back). */
	p = &r.hdr.patches[slot];
	ranges[0].start = lp_page_va(&r, p->code_page);
	ranges[0].end = ranges[0].start + p->code_pages * 4096ull;
	snprintf(ranges[0].name, sizeof(ranges[0].name), "%s (patch code)", rc->name);
	ranges[1].start = lp_page_va(&r, LP_TRAMP_PAGE);
	ranges[1].end = ranges[1].start + 4096;
	snprintf(ranges[1].name, sizeof(ranges[1].name), "guestpatch trampolines");
	err = lp_check_stacks(rc->stacks, ranges, 2, &rep->check);
	rep->check_ns = rep->check.check_ns;
	if (err || (*blocked = rep->check.nr_blockers > 0))
		return err;
	tw = gp_now_ns();
	err = remove_writes(k, &r, slot);
	rep->write_ns = gp_now_ns() - tw;
	return err;
}

struct gp_error *lp_remove(struct kern *k, const char *name, const struct lp_opts *o,
			   struct lp_report *rep)
{
	double timeout = o && o->timeout_s > 0 ? o->timeout_s : 10.0;
	struct remove_ctx rc = { .name = name, .force = o && o->force };
	struct gp_error *err;
	uint64_t t0 = gp_now_ns();

	memset(rep, 0, sizeof(*rep));
	snprintf(rep->name, sizeof(rep->name), "%s", name);
	if ((err = stack_ctx_init(k, &rc.stacks)))
		return err;
	err = retry_paused(k, timeout, "unpatch", remove_attempt, &rc, rep);
	rep->elapsed_ms = (gp_now_ns() - t0) / 1e6;
	stack_ctx_free(rc.stacks);
	return err;
}

struct gp_error *lp_list(struct kern *k, struct lp_region *r)
{
	struct gp_error *err = tgt_pause(k->t);

	if (err)
		return err;
	return resume_keep(k, lp_region_load(k, r));
}
