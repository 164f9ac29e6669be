// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * lp_straggler.c - the straggler step (klp_send_signals() in the seed's
 * transition.c): tasks that hold a transition back are sent the kernel's
 * fake signal, or woken, by a one-shot agent that runs inside the guest.
 */
#include <stdio.h>
#include <string.h>

#include "lp_engine.h"
#include "stacks.h"

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

/* What the agent needs to know of the guest besides the symbols it calls
 * (which the loader resolves when it links guest-agent/src/straggler.S). */
_Static_assert(LP_AGENT_MAX_TASKS <= LP_AGENT_STRAGGLER_MAX,
	       "the agent serves every task the region can record");

struct agent_syms {
	uint64_t hook;		/* LP_AGENT_HOOK's ftrace site */
	uint64_t usage_off;	/* offsetof(task_struct, usage) (BTF) */
};

static struct gp_error *agent_syms(struct kern *k, struct agent_syms *s)
{
	struct gp_error *err;

	if ((err = kern_sym(k, LP_AGENT_HOOK, &s->hook)) ||
	    (err = lp_entry_site(k, s->hook, &s->hook)) ||
	    (err = kern_offsetof(k, "task_struct", "usage", &s->usage_off)))
		return gp_error_wrap(err, "straggler agent");
	return NULL;
}

/*
 * How the agent drops the references it holds, from hard-IRQ context:
 * __put_task_struct() directly, except on PREEMPT_RT, where it takes
 * sleeping locks and the guest's own put_task_struct() hands the last
 * reference to RCU instead (guest-agent/src/straggler.S, agent_put_rcu).
 * An RT kernel without what that needs is refused by name.
 */
static struct gp_error *agent_put_how(struct kern *k, const struct lp_ctx *c,
				      struct lp_agent_put *put)
{
	static const char *const rt_syms[] = { "call_rcu", "__put_task_struct_rcu_cb" };
	struct gp_error *err;
	uint64_t addr;

	memset(put, 0, sizeof(*put));
	if (!lp_klp_preempt_rt(&c->klp))
		return NULL;
	for (size_t i = 0; i < sizeof(rt_syms) / sizeof(rt_syms[0]); i++)
		if (!kern_has_sym(k, rt_syms[i], &addr))
			return gp_error_create(GP_ERR_UNSUPPORTED,
					       "straggler agent: this PREEMPT_RT kernel has no unique symbol %s, needed to drop a task reference from hard-IRQ context as its put_task_struct() does",
					       rt_syms[i]);
	if ((err = kern_offsetof(k, "task_struct", "rcu", &put->rcu_off)))
		return gp_error_wrap(err, "straggler agent on PREEMPT_RT");
	put->rcu = true;
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
	return lp_write_kernel_data(k, task + off, &v, sizeof(v));
}

/* Remove an installed agent (paused); *busy if a task is inside it. */
static struct gp_error *agent_remove(struct kern *k, struct lp_ctx *c, struct lp_region *r,
				     bool give_up, bool *busy, bool *ran)
{
	static uint8_t zero[4096];
	struct lp_hdr *h = &r->hdr;
	struct stacks_snapshot snap;
	struct agent_syms s;
	uint8_t armed = 0, done = 0, nop[LP_AGENT_NOP_SIZE];
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

		*busy = lp_frame_in(&snap.traces[i], &rg, 1, &which) >= 0;
	}
	stacks_free(&snap);
	if (*busy)
		return NULL;
	if ((err = tgt_read_phys(k->t, lp_page_pa(h->agent_data_page) + LP_AGENT_ARMED, &armed, 1)) ||
	    (err = tgt_read_phys(k->t, lp_page_pa(h->agent_data_page) + LP_AGENT_DONE, &done, 1)))
		return err;
	if ((!armed && !done) || (armed && !give_up)) {
		*busy = true;	/* running, or not run yet */
		return NULL;
	}
	if ((err = lp_agent_ftrace_nop(nop)) ||
	    (err = lp_write_kernel_code(k, h->agent_site, nop, sizeof(nop))))
		return err;
	*ran = done;
	if (armed)	/* never ran: give the references back */
		for (uint32_t i = 0; i < h->agent_ntasks; i++)
			gp_error_destroy(task_usage_add(k, h->agent_tasks[i], s.usage_off, -1, true));
	if ((err = lp_write_pages(k, h->agent_code_page, zero, sizeof(zero), true)) ||
	    (err = lp_write_pages(k, h->agent_data_page, zero, sizeof(zero), false)))
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
static struct gp_error *agent_install(struct kern *k, struct lp_ctx *c, struct lp_region *r,
				      int *count)
{
	static uint8_t code[4096];
	struct lp_hdr *h = &r->hdr;
	struct stacks_snapshot snap;
	struct agent_syms s;
	struct lp_agent_put put;
	uint64_t task[LP_AGENT_MAX_TASKS];
	bool kthread[LP_AGENT_MAX_TASKS];
	uint8_t cur[5], jmp[5], nop[LP_AGENT_NOP_SIZE], data[16] = { [LP_AGENT_ARMED] = 1 };
	int n = 0, cp, dp;
	size_t size;
	struct gp_error *err;

	*count = 0;
	if ((err = agent_syms(k, &s)) || (err = agent_put_how(k, c, &put)))
		return err;
	if ((err = kern_read(k, s.hook, cur, 5)) || (err = lp_agent_ftrace_nop(nop)))
		return err;
	if (memcmp(cur, nop, 5))
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
	if ((err = lp_agent_straggler(lp_page_va(r, (unsigned)cp), lp_page_va(r, (unsigned)dp),
				      s.usage_off, s.hook + LP_AGENT_NOP_SIZE, &put, lp_resolve_kernel,
				      k, task, kthread, n, code,
				      sizeof(code), &size)) ||
	    (err = lp_agent_jmp(s.hook, lp_page_va(r, (unsigned)cp), jmp)))
		goto out;
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
	if ((err = lp_write_alloc(k, (unsigned)cp, 1, code, size, true)) ||
	    (err = lp_write_alloc(k, (unsigned)dp, 1, data, sizeof(data), false)) ||
	    (err = lp_region_commit(k, r)) ||
	    (err = lp_write_kernel_code(k, s.hook, jmp, 5)))
		goto out;
	*count = n;
out:
	stacks_free(&snap);
	return err;
}

struct gp_error *lp_straggler_leftover(struct kern *k, struct lp_ctx *c, struct lp_region *r,
				       bool *removed)
{
	bool busy = false, ran = false;
	struct gp_error *err = agent_remove(k, c, r, true, &busy, &ran);

	*removed = !err && !busy;
	return err;
}

struct gp_error *lp_signal_stragglers(struct kern *k, struct lp_ctx *c,
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
	if ((err = lp_resume(k, err)) || !n)
		return err;
	/* Let it run (the next local timer interrupt), then take it out. */
	t0 = gp_now_ns();
	do {
		gp_sleep_us(5000);
		if ((err = tgt_pause(k->t)))
			return err;
		err = lp_region_load(k, &r);
		if (!err)
			err = agent_remove(k, c, &r, gp_now_ns() - t0 > 1000000000ull, &busy, &ran);
		if ((err = lp_resume(k, err)))
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

