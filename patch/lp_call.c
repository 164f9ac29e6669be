// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * lp_call.c - run fn(arg) in the guest's process context and get its
 * return value (lp_call.h says what for and the contract; the guest code
 * is guest-agent/src/call.S).
 *
 * The life of a call, each step in one pause unless said otherwise:
 *
 *  1. set-up: the record (call_state = 1, call_hooked = 1), the code page
 *     (hook + work function), the data page (armed = 1, the work item as
 *     INIT_WORK() leaves it), then last the jump at LP_AGENT_HOOK's ftrace
 *     NOP.  One journaled transaction: a tool killed in it leaves nothing.
 *  2. the guest runs: the next local timer interrupt takes the hook once
 *     (xchg on armed) and queues the item; a kworker runs it: fn(arg),
 *     then ret and done.  The tool reads the flags without pausing.
 *  3. unhook: once queued, the jump goes back to the NOP (call_hooked = 0).
 *     Or, if no CPU took the hook in time, the same plus the pages freed
 *     (nothing was queued: armed still 1 in the pause that removes it).
 *  4. finish: in a pause that reads done = 1, the item not pending, and no
 *     stack and no vCPU inside the code page, the pages are cleared and
 *     freed and the record dropped; ret is read in that pause.
 *
 * A tool that dies anywhere after 1 leaves the record; whoever comes next
 * (lp_call_leftover: every attach, and `vmm recover`) does 3 and 4 when
 * their conditions hold and otherwise leaves everything as it is.  The
 * pages of a call that never finishes stay reserved: a kworker blocked in
 * fn keeps valid memory under it forever rather than risk reuse.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lp_call.h"
#include "lp_engine.h"
#include "stacks.h"

#define PF_WQ_WORKER 0x00000020u	/* include/linux/sched.h: a workqueue worker */
#define HOOK_WAIT_NS 3000000000ull	/* the hook runs at the next timer tick */
#define FINISH_GRACE_NS 2000000000ull	/* done seen: the kworker leaves our page */

/* ---- pure parts ---- */

struct gp_error *lp_call_wq_layout(const struct kbtf *btf, struct lp_call_wq *wq)
{
	static const char *const consts[] = { "WORK_CPU_UNBOUND", "WORK_OFFQ_POOL_SHIFT",
					      "WORK_OFFQ_POOL_BITS", "WORK_STRUCT_PENDING_BIT",
					      "WORK_STRUCT_STATIC" };
	int64_t v[5];
	uint64_t sz_data, sz_entry, sz_func;
	struct gp_error *err;

	memset(wq, 0, sizeof(*wq));
	if (!btf)
		return gp_error_create(GP_ERR_UNSUPPORTED,
				       "calling into the guest needs its BTF (struct work_struct, the WORK_* constants)");
	for (size_t i = 0; i < ARRAY_SIZE(consts); i++)
		if ((err = kbtf_enumerator(btf, consts[i], &v[i])))
			return gp_error_wrap(err, "the guest's workqueue constants");
	if ((err = kbtf_sizeof(btf, "work_struct", &wq->work_size)) ||
	    (err = kbtf_offsetof(btf, "work_struct", "data", &wq->off_data, &sz_data)) ||
	    (err = kbtf_offsetof(btf, "work_struct", "entry", &wq->off_entry, &sz_entry)) ||
	    (err = kbtf_offsetof(btf, "work_struct", "func", &wq->off_func, &sz_func)))
		return gp_error_wrap(err, "the guest's struct work_struct");
	if (sz_data != 8 || sz_entry != 16 || sz_func != 8 || wq->work_size > LP_CALL_WORK_MAX ||
	    wq->off_data > wq->work_size - 8 || wq->off_entry > wq->work_size - 16 ||
	    wq->off_func > wq->work_size - 8)
		return gp_error_create(GP_ERR_UNSUPPORTED,
				       "the guest's struct work_struct (%llu bytes; data %llu+%llu, entry %llu+%llu, func %llu+%llu) is not the shape INIT_WORK() is reproduced for",
				       (unsigned long long)wq->work_size,
				       (unsigned long long)wq->off_data, (unsigned long long)sz_data,
				       (unsigned long long)wq->off_entry, (unsigned long long)sz_entry,
				       (unsigned long long)wq->off_func, (unsigned long long)sz_func);
	/* Members beyond these three: lockdep's map (CONFIG_LOCKDEP), which
	 * INIT_WORK() registers with lockdep; we cannot. */
	if (wq->work_size != sz_data + sz_entry + sz_func)
		return gp_error_create(GP_ERR_UNSUPPORTED,
				       "the guest's struct work_struct has %llu bytes beyond data, entry and func (lockdep's map, CONFIG_LOCKDEP): a work item cannot be initialised from outside",
				       (unsigned long long)(wq->work_size - sz_data - sz_entry - sz_func));
	if (v[4] != 0)
		return gp_error_create(GP_ERR_UNSUPPORTED,
				       "the guest has CONFIG_DEBUG_OBJECTS_WORK (WORK_STRUCT_STATIC is %lld): debugobjects would track, and complain about, a work item it never saw initialised",
				       (long long)v[4]);
	if (v[0] <= 0 || v[0] > 65536 || v[1] <= 0 || v[2] <= 0 || v[1] + v[2] > 64 || v[3] < 0 ||
	    v[3] >= v[1])
		return gp_error_create(GP_ERR_CORRUPT,
				       "the guest's workqueue constants make no sense (WORK_CPU_UNBOUND %lld, WORK_OFFQ_POOL_SHIFT %lld, WORK_OFFQ_POOL_BITS %lld, WORK_STRUCT_PENDING_BIT %lld)",
				       (long long)v[0], (long long)v[1], (long long)v[2], (long long)v[3]);
	wq->cpu_unbound = (uint64_t)v[0];
	/* include/linux/workqueue.h (6.1 and 6.12 alike):
	 * WORK_OFFQ_POOL_NONE = (1ul << WORK_OFFQ_POOL_BITS) - 1,
	 * WORK_STRUCT_NO_POOL = WORK_OFFQ_POOL_NONE << WORK_OFFQ_POOL_SHIFT;
	 * not in BTF itself (a 64-bit value, or a #define). */
	wq->no_pool = ((1ull << v[2]) - 1) << v[1];
	wq->pending_bit = (uint64_t)v[3];
	return NULL;
}

void lp_call_init_work(const struct lp_call_wq *wq, uint64_t work_va, uint64_t func,
		       uint8_t out[LP_CALL_WORK_MAX])
{
	uint64_t entry = work_va + wq->off_entry;

	/* INIT_WORK(): data = WORK_DATA_INIT(), INIT_LIST_HEAD(&entry), func. */
	memset(out, 0, LP_CALL_WORK_MAX);
	memcpy(out + wq->off_data, &wq->no_pool, 8);
	memcpy(out + wq->off_entry, &entry, 8);
	memcpy(out + wq->off_entry + 8, &entry, 8);
	memcpy(out + wq->off_func, &func, 8);
}

struct gp_error *lp_call_phase(const uint8_t f[LP_CALL_FLAGS], enum lp_call_phase *ph)
{
	uint8_t armed = f[LP_CALL_ARMED], queued = f[LP_CALL_QUEUED], qret = f[LP_CALL_QRET];
	uint8_t started = f[LP_CALL_STARTED], done = f[LP_CALL_DONE];

	if (armed > 1 || queued > 1 || qret > 1 || started > 1 || done > 1)
		return gp_error_create(GP_ERR_CORRUPT,
				       "the call's flags hold values the call agent never writes (armed %u, queued %u/%u, started %u, done %u)",
				       armed, queued, qret, started, done);
	if ((armed && (queued || started || done)) || (done && !started) || (queued && !qret))
		return gp_error_create(GP_ERR_CORRUPT,
				       "the call's flags are inconsistent (armed %u, queued %u/%u, started %u, done %u)",
				       armed, queued, qret, started, done);
	if (armed)
		*ph = LP_CALL_NOT_TAKEN;
	else if (done)
		*ph = LP_CALL_FINISHED;
	else if (started)
		*ph = LP_CALL_RUNNING;	/* the kworker may start before the hook sets queued */
	else if (queued)
		*ph = LP_CALL_QUEUED_WAIT;
	else
		*ph = LP_CALL_HOOKING;
	return NULL;
}

struct gp_error *lp_call_rec_check(const struct lp_hdr *h, uint64_t hook_site)
{
	if (!h->call_state)
		return NULL;
	if (h->call_state != 1 || h->call_hooked > 1 || h->call_site != hook_site ||
	    h->call_code_page < LP_FIRST_ALLOC ||
	    h->call_code_page >= LP_FIRST_ALLOC + LP_CODE_PAGES ||
	    h->call_data_page < LP_FIRST_ALLOC + LP_CODE_PAGES ||
	    h->call_data_page >= LP_JOURNAL_PAGE ||
	    h->page_owner[h->call_code_page] != LP_PAGE_SYSTEM ||
	    h->page_owner[h->call_data_page] != LP_PAGE_SYSTEM ||
	    (h->agent_state && (h->agent_code_page == h->call_code_page ||
				h->agent_data_page == h->call_data_page)))
		return gp_error_addr(GP_ERR_CORRUPT, LP_REGION_PA,
				     "the call record is corrupt (state %u, hooked %u, site 0x%llx, pages %u and %u)",
				     h->call_state, h->call_hooked, (unsigned long long)h->call_site,
				     h->call_code_page, h->call_data_page);
	return NULL;
}

/* ---- the guest's facts ---- */

struct call_syms {
	uint64_t site;		/* LP_AGENT_HOOK's ftrace site */
	struct lp_call_wq wq;
};

static struct gp_error *call_syms(struct kern *k, struct call_syms *s)
{
	static const char *const need[] = { "queue_work_on", "system_wq" };
	uint64_t a;
	struct gp_error *err;

	for (size_t i = 0; i < ARRAY_SIZE(need); i++)
		if (!kern_has_sym(k, need[i], &a))
			return gp_error_create(GP_ERR_UNSUPPORTED,
					       "the guest kernel has no unique symbol %s: cannot queue work to call into it",
					       need[i]);
	/* A kCFI kernel (clang CONFIG_CFI_CLANG) checks a hash before every
	 * indirect call's target; our work function has none. */
	if (kern_has_sym(k, "__cfi_queue_work_on", &a))
		return gp_error_create(GP_ERR_UNSUPPORTED,
				       "the guest kernel is built with kCFI (__cfi_queue_work_on): the work function would fail its check");
	if ((err = kern_sym(k, LP_AGENT_HOOK, &s->site)) ||
	    (err = lp_entry_site(k, s->site, &s->site)))
		return gp_error_wrap(err, "call agent");
	return lp_call_wq_layout(k->btf, &s->wq);
}

/* fn must start a kernel text function, or lie in a patch's code page. */
static struct gp_error *check_fn(struct kern *k, const struct lp_region *r, uint64_t fn)
{
	uint64_t off, size;
	const struct ksym *s = ksym_symbolize(k->syms, fn, &off, &size);

	if (s && !off && (s->type == 't' || s->type == 'T' || s->type == 'w' || s->type == 'W'))
		return NULL;
	if (r->present && fn >= lp_page_va(r, LP_FIRST_ALLOC) &&
	    fn < lp_page_va(r, LP_FIRST_ALLOC + LP_CODE_PAGES)) {
		uint8_t owner = r->hdr.page_owner[(fn - r->va) / 4096];

		if (owner && owner != LP_PAGE_SYSTEM)
			return NULL;
	}
	return gp_error_addr(GP_ERR_INVAL, fn,
			     "0x%llx is neither the start of a kernel function nor in a patch's code: not called",
			     (unsigned long long)fn);
}

/* ---- steps, paused ---- */

static struct gp_error *read_flags(struct kern *k, unsigned data_page, uint8_t f[LP_CALL_FLAGS])
{
	return tgt_read_phys(k->t, lp_page_pa(data_page), f, LP_CALL_FLAGS);
}

/* Anything inside the code page: a frame of any task, a vCPU's RIP, or a
 * workqueue worker whose stack cannot be followed to its end. */
static struct gp_error *page_in_use(struct kern *k, struct lp_ctx *c, uint64_t lo, bool *busy,
				    char *why, size_t wlen)
{
	struct lp_range rg = { .start = lo, .end = lo + 4096 };
	struct stacks_snapshot snap;
	struct gp_error *err;

	*busy = false;
	for (int v = 0; v < k->t->nr_vcpus && !*busy; v++) {
		struct tgt_regs regs;

		if ((err = tgt_get_regs(k->t, v, &regs)))
			return err;
		if (regs.rip >= rg.start && regs.rip < rg.end) {
			*busy = true;
			snprintf(why, wlen, "vCPU %d runs the call agent", v);
		}
	}
	if (*busy)
		return NULL;
	if ((err = stacks_take(c->stacks, &snap)))
		return err;
	for (size_t i = 0; i < snap.tasks.nr && !*busy; i++) {
		const struct task_info *t = &snap.tasks.v[i];
		int which;

		if (lp_frame_in(&snap.traces[i], &rg, 1, &which) >= 0) {
			*busy = true;
			snprintf(why, wlen, "task %d (%.16s) has the call agent on its stack", t->pid,
				 t->comm);
		} else if ((t->flags & PF_WQ_WORKER) && !snap.traces[i].reliable) {
			*busy = true;
			snprintf(why, wlen, "worker %d (%.16s) has a stack that cannot be followed (%.100s)",
				 t->pid, t->comm, snap.traces[i].why);
		}
	}
	stacks_free(&snap);
	return NULL;
}

struct finish {
	bool gone;		/* the record is dropped */
	bool ran;		/* fn returned; ret valid */
	int64_t ret;
	enum lp_call_phase phase;
	bool retry;		/* the pause went over its bound: undone */
	char why[200];		/* why it stays */
};

static struct gp_error *unhook(struct kern *k, struct lp_hdr *h)
{
	uint8_t nop[LP_AGENT_NOP_SIZE];
	struct gp_error *err;

	if (!h->call_hooked)
		return NULL;
	if ((err = lp_agent_ftrace_nop(nop)) ||
	    (err = lp_write_kernel_code(k, h->call_site, nop, sizeof(nop))))
		return err;
	h->call_hooked = 0;
	return NULL;
}

/*
 * One look at a call in flight (paused): take the hook out once it has
 * run (or, with cancel, if it never ran), and free everything once the
 * call has finished or certainly never will.  r->hdr is committed if it
 * changed.
 */
static struct gp_error *call_step(struct kern *k, struct lp_ctx *c, const struct call_syms *s,
				  struct lp_region *r, bool cancel, struct finish *fin)
{
	static const uint8_t zero[4096];
	struct lp_hdr *h = &r->hdr;
	uint8_t f[LP_CALL_FLAGS];
	bool busy = false, changed = false;
	struct gp_error *err;

	memset(fin, 0, sizeof(*fin));
	if ((err = lp_call_rec_check(h, s->site)))
		return err;
	if ((err = read_flags(k, h->call_data_page, f)) || (err = lp_call_phase(f, &fin->phase)))
		return gp_error_wrap(err, "the call of 0x%llx", (unsigned long long)h->call_fn);
	if (fin->phase >= LP_CALL_QUEUED_WAIT || (cancel && fin->phase == LP_CALL_NOT_TAKEN)) {
		changed = h->call_hooked;
		if ((err = unhook(k, h)))
			return err;
	}
	if (fin->phase == LP_CALL_FINISHED) {
		uint64_t wdata;

		/* process_one_work() clears PENDING before it calls the work
		 * function; set again, someone queued our item anew. */
		if ((err = tgt_read_phys(k->t, lp_page_pa(h->call_data_page) + LP_CALL_WORK +
					 s->wq.off_data, &wdata, 8)))
			return err;
		if ((wdata >> s->wq.pending_bit) & 1) {
			snprintf(fin->why, sizeof(fin->why),
				 "its work item is pending again (data 0x%llx)",
				 (unsigned long long)wdata);
			return changed ? lp_region_commit(k, r) : NULL;
		}
	}
	if (fin->phase == LP_CALL_FINISHED || (cancel && fin->phase == LP_CALL_NOT_TAKEN)) {
		if ((err = page_in_use(k, c, lp_page_va(r, h->call_code_page), &busy, fin->why,
				       sizeof(fin->why))))
			return err;
	} else {
		static const char *const words[] = {
			[LP_CALL_NOT_TAKEN] = "waiting for the timer hook to queue it",
			[LP_CALL_HOOKING] = "a CPU is queueing it",
			[LP_CALL_QUEUED_WAIT] = "queued on system_wq, not started yet",
			[LP_CALL_RUNNING] = "running in a kworker",
		};
		snprintf(fin->why, sizeof(fin->why), "%s", words[fin->phase]);
		busy = true;
	}
	if (busy)
		return changed ? lp_region_commit(k, r) : NULL;
	if (fin->phase == LP_CALL_FINISHED) {
		memcpy(&fin->ret, f + LP_CALL_RET, 8);
		fin->ran = true;
	}
	if ((err = lp_write_pages(k, h->call_code_page, zero, sizeof(zero), true)) ||
	    (err = lp_write_pages(k, h->call_data_page, zero, sizeof(zero), false)))
		return err;
	lp_rec_cb_call_gone(h, fin->ran, fin->ret);
	h->page_owner[h->call_code_page] = 0;
	h->page_owner[h->call_data_page] = 0;
	h->call_state = h->call_hooked = 0;
	h->call_site = h->call_fn = h->call_arg = h->call_started_unix = 0;
	h->call_code_page = h->call_data_page = 0;
	h->call_pid = 0;
	fin->gone = true;
	return lp_region_commit(k, r);
}

/* Step 1 (paused): everything the call needs, the hook written last. */
static struct gp_error *call_setup(struct kern *k, struct lp_ctx *c, const struct call_syms *s,
				   struct lp_region *r, uint64_t fn, uint64_t arg, uint32_t tag)
{
	static uint8_t code[LP_AGENT_CALL_CODE];
	struct lp_hdr *h = &r->hdr;
	struct lp_agent_call_vals v;
	struct finish fin;
	uint8_t data[LP_CALL_WORK + LP_CALL_WORK_MAX] = { [LP_CALL_ARMED] = 1 };
	uint8_t cur[LP_AGENT_NOP_SIZE], nop[LP_AGENT_NOP_SIZE], jmp[LP_AGENT_JMP_SIZE];
	uint64_t dva;
	int cp, dp;
	struct gp_error *err;

	if ((err = lp_region_load(k, r)))
		return err;
	if (r->present && h->call_state) {
		/* An earlier call: finished, it goes now; else we wait our turn. */
		if ((err = call_step(k, c, s, r, false, &fin)))
			return err;
		if (!fin.gone)
			return gp_error_create(GP_ERR_BUSY,
					       "a call of 0x%llx set up by vmm pid %d is still in flight in the guest (%s): one call at a time",
					       (unsigned long long)h->call_fn, h->call_pid, fin.why);
	}
	if (r->present && h->agent_state)
		return gp_error_create(GP_ERR_BUSY,
				       "the straggler agent of a transition holds %s's hook: try again after `vmm transition` or `vmm recover`",
				       LP_AGENT_HOOK);
	if ((err = check_fn(k, r, fn)))
		return err;
	if ((err = kern_read(k, s->site, cur, sizeof(cur))) || (err = lp_agent_ftrace_nop(nop)))
		return err;
	if (memcmp(cur, nop, sizeof(nop)))
		return gp_error_create(GP_ERR_BUSY,
				       "%s does not start with the ftrace NOP (traced, or hooked by someone else): cannot hook the call there",
				       LP_AGENT_HOOK);
	if ((err = lp_region_setup(k, r)))
		return err;
	cp = lp_region_alloc(r, true, 1);
	dp = lp_region_alloc(r, false, 1);
	if (cp < 0 || dp < 0)
		return gp_error_create(GP_ERR_LIMIT, "no free region page for the call agent");
	dva = lp_page_va(r, (unsigned)dp);
	v = (struct lp_agent_call_vals){
		.armed = dva + LP_CALL_ARMED, .queued = dva + LP_CALL_QUEUED,
		.qret = dva + LP_CALL_QRET, .started = dva + LP_CALL_STARTED,
		.done = dva + LP_CALL_DONE, .ret = dva + LP_CALL_RET, .work = dva + LP_CALL_WORK,
		.cpu_unbound = s->wq.cpu_unbound, .resume = s->site + LP_AGENT_NOP_SIZE,
		.fn = fn, .arg = arg,
	};
	if ((err = lp_return_thunk(k, &v.ret_thunk)) ||
	    (err = lp_agent_call(lp_page_va(r, (unsigned)cp), &v, lp_resolve_kernel, k, code)) ||
	    (err = lp_agent_jmp(s->site, lp_page_va(r, (unsigned)cp), jmp)))
		return err;
	lp_call_init_work(&s->wq, v.work, lp_page_va(r, (unsigned)cp) + LP_AGENT_CALL_WORK_OFF,
			  data + LP_CALL_WORK);
	h->page_owner[cp] = LP_PAGE_SYSTEM;
	h->page_owner[dp] = LP_PAGE_SYSTEM;
	h->call_state = 1;
	h->call_hooked = 1;
	h->call_site = s->site;
	h->call_code_page = (uint32_t)cp;
	h->call_data_page = (uint32_t)dp;
	h->call_fn = fn;
	h->call_arg = arg;
	h->call_started_unix = (uint64_t)time(NULL);
	h->call_pid = (int32_t)getpid();
	/* An owed callback (lp_kmod_cb.c): marked in the pause that sets its
	 * call up, unmarked in the one that sees the call end. */
	if (tag) {
		if (!h->cb_slot || tag > LP_KMOD_CB_MAX_OBJS)
			return gp_error_create(GP_ERR_INVAL, "no callback %u is owed", tag);
		h->cb_calling = tag;
	}
	if ((err = lp_write_alloc(k, (unsigned)cp, 1, code, sizeof(code), true)) ||
	    (err = lp_write_alloc(k, (unsigned)dp, 1, data, sizeof(data), false)) ||
	    (err = lp_region_commit(k, r)))
		return err;
	return lp_write_kernel_code(k, s->site, jmp, sizeof(jmp));
}

/* One pause for call_step on the record as it is now. */
static struct gp_error *step_paused(struct kern *k, struct lp_ctx *c, const struct call_syms *s,
				    bool cancel, struct finish *fin)
{
	struct lp_region r;
	struct gp_error *err;

	memset(fin, 0, sizeof(*fin));
	if ((err = tgt_pause(k->t)))
		return err;
	err = lp_region_load(k, &r);
	if (!err && (!r.present || !r.hdr.call_state))
		err = gp_error_create(GP_ERR_CORRUPT,
				      "the call's record disappeared from the region while the guest ran (another tool?)");
	if (!err)
		err = call_step(k, c, s, &r, cancel, fin);
	return lp_resume(k, err);
}

/* The flags as the guest has them now: from its RAM while it runs where
 * the target maps it, else in a brief pause. */
static struct gp_error *peek_flags(struct kern *k, unsigned data_page, uint8_t f[LP_CALL_FLAGS])
{
	const volatile uint8_t *m = tgt_map_phys(k->t, lp_page_pa(data_page), LP_CALL_FLAGS);
	struct gp_error *err;

	if (m) {
		for (int i = 0; i < LP_CALL_FLAGS; i++)
			f[i] = m[i];
		return NULL;
	}
	if ((err = tgt_pause(k->t)))
		return err;
	return tgt_resume_keep(k->t, read_flags(k, data_page, f));
}

/* A pause that went over the bound (--max-pause) was undone: try again
 * at the next look, the call goes on meanwhile.  Anything else ends the
 * wait (the record stays for the next command). */
static struct gp_error *step_retry(struct kern *k, struct lp_ctx *c, const struct call_syms *s,
				   bool cancel, struct finish *fin)
{
	struct gp_error *err = step_paused(k, c, s, cancel, fin);

	if (err && err->code == GP_ERR_TIMEOUT && !tgt_interrupted()) {
		snprintf(fin->why, sizeof(fin->why), "%.180s", err->msg ? err->msg : "");
		gp_error_destroy(err);
		fin->gone = false;
		fin->retry = true;
		return NULL;
	}
	return err;
}

static const char *phase_words(enum lp_call_phase ph)
{
	static const char *const words[] = {
		[LP_CALL_NOT_TAKEN] = "waiting for its timer hook",
		[LP_CALL_HOOKING] = "being queued",
		[LP_CALL_QUEUED_WAIT] = "queued, not started,",
		[LP_CALL_RUNNING] = "running",
		[LP_CALL_FINISHED] = "returning",
	};

	return words[ph];
}

static struct gp_error *call_wait(struct kern *k, struct lp_ctx *c, const struct call_syms *s,
				  unsigned data_page, uint64_t fn, double timeout_s, int64_t *ret)
{
	uint64_t t0 = gp_now_ns(), limit = (uint64_t)(timeout_s * 1e9), done_at = 0;
	unsigned sleep_us = 1000;
	bool hooked = true;
	struct finish fin = { 0 };
	uint8_t f[LP_CALL_FLAGS];
	enum lp_call_phase ph;
	struct gp_error *err;
	bool stepped;

	for (;;) {
		uint64_t now;

		gp_sleep_us(sleep_us);
		if (sleep_us < 50000)
			sleep_us *= 2;
		now = gp_now_ns() - t0;
		if ((err = peek_flags(k, data_page, f)) || (err = lp_call_phase(f, &ph)))
			return gp_error_wrap(err, "watching the call of 0x%llx", (unsigned long long)fn);
		if (ph == LP_CALL_NOT_TAKEN && (now > HOOK_WAIT_NS || now > limit)) {
			/* No CPU took the hook: take it out; in that pause the flags
			 * say for certain whether it ran after all. */
			if ((err = step_retry(k, c, s, true, &fin)))
				return err;
			if (fin.gone)
				return gp_error_create(GP_ERR_TIMEOUT,
						       "no CPU of the guest took the call's timer hook in %s within %.1f s (a guest in low-resolution timer mode, highres=off, never enters it): removed, 0x%llx was not called",
						       LP_AGENT_HOOK, now / 1e9, (unsigned long long)fn);
			continue;	/* it ran in the meantime, or a CPU is inside it */
		}
		stepped = false;
		if (hooked && ph >= LP_CALL_QUEUED_WAIT) {
			if ((err = step_retry(k, c, s, false, &fin)))
				return err;
			hooked = fin.retry;
			stepped = true;
			if (fin.gone)
				break;
		}
		if (ph == LP_CALL_FINISHED) {
			if (!done_at)
				done_at = now;
			/* The step just above already looked at this finish
			 * (a pause, the region, every stack): not again now. */
			if (!stepped && (err = step_retry(k, c, s, false, &fin)))
				return err;
			if (fin.gone)
				break;
			if (now - done_at > FINISH_GRACE_NS && now > limit)
				return gp_error_create(GP_ERR_TIMEOUT,
						       "the call of 0x%llx returned, but its pages cannot be freed yet (%s): its record stays; the next vmm command frees them",
						       (unsigned long long)fn, fin.why);
			continue;
		}
		if (tgt_interrupted())
			return gp_error_create(GP_ERR_INTERRUPTED,
					       "interrupted by a signal: the call of 0x%llx is still %s in the guest; its record stays, and the next vmm command cleans up once it has returned",
					       (unsigned long long)fn, phase_words(ph));
		if (now > limit)
			return gp_error_create(GP_ERR_TIMEOUT,
					       "the call of 0x%llx is still %s in the guest after %.1f s: nothing it may use is freed; its record stays, and the next vmm command (or `vmm recover`) cleans up once it has returned",
					       (unsigned long long)fn, phase_words(ph), timeout_s);
	}
	if (!fin.ran)
		return gp_error_create(GP_ERR_TIMEOUT,
				       "the call of 0x%llx was removed without running (its hook was never taken)",
				       (unsigned long long)fn);
	*ret = fin.ret;
	return NULL;
}

struct gp_error *lp_call(struct kern *k, uint64_t fn, uint64_t arg, double timeout_s,
			 int64_t *ret)
{
	return lp_call_tagged(k, fn, arg, timeout_s, 0, ret);
}

struct gp_error *lp_call_tagged(struct kern *k, uint64_t fn, uint64_t arg, double timeout_s,
				uint32_t tag, int64_t *ret)
{
	struct call_syms s;
	struct lp_ctx c;
	struct lp_region r;
	struct gp_error *err;

	if (timeout_s <= 0)
		timeout_s = 10;
	lp_journal_intent("call", NULL);
	if ((err = call_syms(k, &s)) || (err = lp_ctx_init(k, &c)))
		return err;
	if (!(err = tgt_pause(k->t)))
		err = lp_resume(k, call_setup(k, &c, &s, &r, fn, arg, tag));
	if (!err)
		err = call_wait(k, &c, &s, r.hdr.call_data_page, fn, timeout_s, ret);
	lp_ctx_free(&c);
	return err;
}

/* Paused, with the region loaded: what lp_call_leftover and `vmm recover`
 * do with a record they find.  The caller waits for nothing: a call that
 * never took its hook is cancelled, one that runs is left to run. */
struct gp_error *lp_call_leftover_paused(struct kern *k, struct lp_ctx *c, struct lp_region *r,
					 struct lp_call_leftover *out)
{
	struct call_syms s;
	struct finish fin;
	struct gp_error *err;

	memset(out, 0, sizeof(*out));
	if (!r->present || !r->hdr.call_state)
		return NULL;
	out->found = true;
	out->fn = r->hdr.call_fn;
	out->arg = r->hdr.call_arg;
	out->pid = r->hdr.call_pid;
	out->started_unix = r->hdr.call_started_unix;
	if ((err = call_syms(k, &s)) || (err = call_step(k, c, &s, r, true, &fin)))
		return err;
	out->cleaned = fin.gone;
	out->ran = fin.ran;
	out->ret = fin.ret;
	snprintf(out->state, sizeof(out->state), "%s", fin.why);
	return NULL;
}

struct gp_error *lp_call_leftover(struct kern *k, struct lp_call_leftover *out)
{
	struct lp_ctx c;
	struct lp_region r;
	struct gp_error *err;

	memset(out, 0, sizeof(*out));
	lp_journal_intent("call cleanup", NULL);
	if ((err = lp_ctx_init(k, &c)))
		return gp_error_wrap(err, "a call left in the guest: cannot check stacks before freeing it");
	if (!(err = tgt_pause(k->t))) {
		err = lp_region_load(k, &r);
		if (!err)
			err = lp_call_leftover_paused(k, &c, &r, out);
		err = lp_resume(k, err);
	}
	lp_ctx_free(&c);
	return err;
}
