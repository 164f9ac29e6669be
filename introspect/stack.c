// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * stack.c - the ORC unwinder, after arch/x86/kernel/unwind_orc.c (6.1, and
 * 6.4's END_OF_STACK/UNDEFINED types and signal bit, which ORC entries of
 * every format are decoded into):
 * the same per-frame rules, run over guest memory with every read checked
 * against the stacks the task may use.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stack.h"

/* The stacks a task may be on: its own, its CPU's IRQ stack, and the
 * CPU's exception stacks (#DF, NMI, #DB, #MC, #VC, #VC2). */
enum { STK_TASK = 0, STK_IRQ = 1, STK_EXC = 2, STK_MAX = 8, STK_NONE = -1 };

struct regs_view {
	bool valid;
	uint64_t ip, sp, cs, bp, r10, r13, di, dx;
	bool full;
};

struct ustate {
	struct stack_ctx *c;
	struct stack_trace *tr;
	uint64_t ip, sp, bp;
	bool signal;
	struct regs_view regs, prev_regs;
	bool regs_on_stack;	/* regs were read from the stack (not a vCPU) */
	uint64_t lo[STK_MAX], hi[STK_MAX];	/* stack bounds (hi exclusive) */
	int cur;		/* which stack sp is on */
	unsigned used_mask;	/* stacks left behind: never return to them */
};

const char *stack_reason_name(enum stack_reason r)
{
	static const char *const n[] = {
		[STACK_OK] = "ok", [STACK_NO_ORC] = "no-orc", [STACK_BAD_ORC] = "bad-orc",
		[STACK_OFF_STACK] = "off-stack", [STACK_NOT_UP] = "not-up",
		[STACK_KERNEL_REGS] = "kernel-regs", [STACK_BAD_RET] = "bad-return",
		[STACK_TOO_DEEP] = "too-deep", [STACK_READ] = "read-error",
		[STACK_NO_END] = "no-end",
	};

	return (unsigned)r < ARRAY_SIZE(n) && n[r] ? n[r] : "?";
}

static bool fail(struct ustate *s, enum stack_reason r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static bool fail(struct ustate *s, enum stack_reason r, const char *fmt, ...)
{
	va_list ap;

	s->tr->reliable = false;
	s->tr->reason = r;
	va_start(ap, fmt);
	vsnprintf(s->tr->why, sizeof(s->tr->why), fmt, ap);
	va_end(ap);
	return false;
}

static int which_stack(const struct ustate *s, uint64_t addr, uint64_t len)
{
	for (int i = 0; i < STK_MAX; i++)
		if (s->hi[i] > s->lo[i] && addr >= s->lo[i] && addr + len <= s->hi[i] &&
		    addr + len >= addr)
			return i;
	return STK_NONE;
}

/* Read len bytes at addr, which must lie on a stack the task may use now:
 * the current one, or one it has not left behind (the kernel's
 * stack_access_ok() with its stack_mask). */
static bool stack_read(struct ustate *s, uint64_t addr, void *buf, uint64_t len)
{
	int st = which_stack(s, addr, len);
	struct gp_error *err;

	if (st == STK_NONE || (st != s->cur && (s->used_mask & (1u << st))))
		return fail(s, STACK_OFF_STACK, "stack address 0x%llx is outside the task's stacks",
			    (unsigned long long)addr);
	err = kern_read(s->c->k, addr, buf, len);
	if (err) {
		fail(s, STACK_READ, "cannot read stack at 0x%llx: %.100s", (unsigned long long)addr,
		     err->msg);
		gp_error_destroy(err);
		return false;
	}
	return true;
}

static bool deref(struct ustate *s, uint64_t addr, uint64_t *v)
{
	return stack_read(s, addr, v, 8);
}

static bool get_reg(const struct ustate *s, int which, uint64_t *v)
{
	const struct regs_view *r = s->regs.valid && s->regs.full ? &s->regs :
				    s->prev_regs.valid ? &s->prev_regs : NULL;

	if (!r)
		return false;
	switch (which) {
	case ORC_REG_DX: *v = r->dx; return true;
	case ORC_REG_DI: *v = r->di; return true;
	case ORC_REG_R10: *v = r->r10; return true;
	case ORC_REG_R13: *v = r->r13; return true;
	case ORC_REG_BP: *v = r->bp; return true;
	default: return false;
	}
}

/* The pt_regs members the unwinder reads, by name, for the checks. */
#define REGS_MEMBERS(X) X(ip) X(sp) X(cs) X(bp) X(r10) X(r13) X(di) X(dx)
#define REG_ENUM(f) REG_##f,
enum { REGS_MEMBERS(REG_ENUM) NR_REGS_MEMBERS };
#undef REG_ENUM

/* Each member 8 bytes inside the struct, the struct inside the buffer
 * read_pt_regs() reads it into; NULL or the first member that is not. */
static const char *regs_layout_bad(const struct stack_ctx *c)
{
	if (c->regs_size > STACK_REGS_MAX || c->regs_size < 8)
		return "(the struct)";
#define CHECK(f) if (c->r_##f > c->regs_size - 8) return #f;
	REGS_MEMBERS(CHECK)
#undef CHECK
	return NULL;
}

static bool read_pt_regs(struct ustate *s, uint64_t addr, struct regs_view *r)
{
	struct stack_ctx *c = s->c;
	uint8_t buf[STACK_REGS_MAX];
	const char *bad = regs_layout_bad(c);

	if (bad)
		return fail(s, STACK_BAD_ORC, "pt_regs layout does not fit: member %s", bad);
	if (!stack_read(s, addr, buf, c->regs_size))
		return false;
#define G(f, off) memcpy(&r->f, buf + (off), 8)
	G(ip, c->r_ip); G(sp, c->r_sp); G(cs, c->r_cs); G(bp, c->r_bp);
	G(r10, c->r_r10); G(r13, c->r_r13); G(di, c->r_di); G(dx, c->r_dx);
#undef G
	r->valid = r->full = true;
	return true;
}

/* The iret frame only: ip, cs, flags, sp, ss at addr. */
static bool read_iret(struct ustate *s, uint64_t addr, struct regs_view *r)
{
	uint64_t f[5];

	if (!stack_read(s, addr, f, sizeof(f)))
		return false;
	memset(r, 0, sizeof(*r));
	r->ip = f[0];
	r->cs = f[1];
	r->sp = f[3];
	r->valid = true;
	r->full = false;
	return true;
}

static const struct stack_extra_orc *extra_find(const struct stack_ctx *c, uint64_t ip)
{
	for (int i = 0; i < c->nr_extra; i++)
		if (ip >= c->extra[i].start && ip < c->extra[i].end)
			return &c->extra[i];
	return NULL;
}

static bool kernel_text(const struct stack_ctx *c, uint64_t ip)
{
	return orc_text(c->orc, ip) || kmod_find(&c->mods, ip) || extra_find(c, ip);
}

/* The ORC entry for ip: the kernel's tables, or the module's. */
static bool find_orc(const struct stack_ctx *c, uint64_t ip, struct orc_entry *o)
{
	const struct kmod *m;

	const struct stack_extra_orc *x;

	if (orc_find(c->orc, ip, o))
		return true;
	if ((x = extra_find(c, ip)))
		return orc_find(x->orc, ip, o);
	m = kmod_find(&c->mods, ip);
	return m && m->orc && orc_find(m->orc, ip, o);
}

static bool user_mode(const struct regs_view *r)
{
	return (r->cs & 3) == 3;
}

/* One step; true if there is a next frame, false at the end (check
 * tr->reason: STACK_OK means a proper end). */
static bool next_frame(struct ustate *s)
{
	struct stack_ctx *c = s->c;
	struct orc_entry o;
	uint64_t sp, prev_sp = s->sp, lookup = s->signal ? s->ip : s->ip - 1;
	int prev_stack = s->cur, st;
	bool indirect = false;

	if (!find_orc(c, lookup, &o)) {
		const struct kmod *m = kmod_find(&c->mods, lookup);

		if (m && m->orc_why[0])
			return fail(s, STACK_NO_ORC, "no ORC data for 0x%llx: %s",
				    (unsigned long long)s->ip, m->orc_why);
		return fail(s, STACK_NO_ORC, "no ORC data for 0x%llx", (unsigned long long)s->ip);
	}
	/* Decoded into the 6.4+ meanings whatever the guest's format
	 * (orc_format.c): 6.1's undefined sp_reg with or without `end` is
	 * END_OF_STACK or UNDEFINED here. */
	if (o.type == ORC_TYPE_UNDEFINED)
		return fail(s, STACK_BAD_ORC, "undefined stack at 0x%llx", (unsigned long long)s->ip);
	if (o.type == ORC_TYPE_END_OF_STACK) {
		/* The bottom of a kthread or idle stack: ret_from_fork or the
		 * CPU start-up code, with at most a pt_regs above it. An end
		 * mark anywhere else (asm thunks carry one too) is not where a
		 * task's stack ends. */
		if (s->cur != STK_TASK || s->sp > s->hi[STK_TASK] ||
		    s->hi[STK_TASK] - s->sp > c->regs_size + 128)
			return fail(s, STACK_NO_END,
				    "ORC end mark at 0x%llx with sp 0x%llx, not at the stack bottom",
				    (unsigned long long)s->ip, (unsigned long long)s->sp);
		return false;
	}
	s->signal = o.signal;
	switch (o.sp_reg) {
	case ORC_REG_SP: sp = s->sp + (uint64_t)(int64_t)o.sp_offset; break;
	case ORC_REG_BP: sp = s->bp + (uint64_t)(int64_t)o.sp_offset; break;
	case ORC_REG_SP_INDIRECT: sp = s->sp; indirect = true; break;
	case ORC_REG_BP_INDIRECT: sp = s->bp + (uint64_t)(int64_t)o.sp_offset; indirect = true; break;
	case ORC_REG_R10:
	case ORC_REG_R13:
	case ORC_REG_DI:
	case ORC_REG_DX:
		if (!get_reg(s, o.sp_reg, &sp))
			return fail(s, STACK_BAD_ORC, "0x%llx needs register %d without saved registers",
				    (unsigned long long)s->ip, o.sp_reg);
		break;
	default:
		return fail(s, STACK_BAD_ORC, "unknown ORC sp_reg %d at 0x%llx", o.sp_reg,
			    (unsigned long long)s->ip);
	}
	if (indirect) {
		if (!deref(s, sp, &sp))
			return false;
		if (o.sp_reg == ORC_REG_SP_INDIRECT)
			sp += (uint64_t)(int64_t)o.sp_offset;
	}
	switch (o.type) {
	case ORC_TYPE_CALL:
		if (!deref(s, sp - 8, &s->ip))
			return false;
		s->sp = sp;
		s->regs.valid = s->prev_regs.valid = false;
		break;
	case ORC_TYPE_REGS:
		if (!read_pt_regs(s, sp, &s->regs))
			return false;
		s->prev_regs.valid = false;
		s->regs_on_stack = true;
		s->ip = s->regs.ip;
		s->sp = s->regs.sp;
		break;
	case ORC_TYPE_REGS_PARTIAL: {
		struct regs_view prev = s->regs;

		if (!read_iret(s, sp, &s->regs))
			return false;
		s->prev_regs = prev.valid && prev.full ? prev : (struct regs_view){ 0 };
		s->regs_on_stack = true;
		s->ip = s->regs.ip;
		s->sp = s->regs.sp;
		break;
	}
	default:
		return fail(s, STACK_BAD_ORC, "unknown ORC type %d at 0x%llx", o.type,
			    (unsigned long long)s->ip);
	}
	switch (o.bp_reg) {
	case ORC_REG_UNDEFINED: {
		uint64_t v;

		if (get_reg(s, ORC_REG_BP, &v))
			s->bp = v;
		break;
	}
	case ORC_REG_PREV_SP:
		if (!deref(s, sp + (uint64_t)(int64_t)o.bp_offset, &s->bp))
			return false;
		break;
	case ORC_REG_BP:
		if (!deref(s, s->bp + (uint64_t)(int64_t)o.bp_offset, &s->bp))
			return false;
		break;
	default:
		return fail(s, STACK_BAD_ORC, "unknown ORC bp_reg %d", o.bp_reg);
	}
	/* Which stack are we on now? Moving to another one retires the old. */
	if (s->regs.valid && user_mode(&s->regs))
		return true;	/* sp is a user address: the caller ends here */
	st = which_stack(s, s->sp, 8);
	if (st == STK_NONE || (st != s->cur && (s->used_mask & (1u << st))))
		return fail(s, STACK_OFF_STACK, "stack pointer 0x%llx left the task's stacks",
			    (unsigned long long)s->sp);
	if (st != s->cur) {
		s->used_mask |= 1u << s->cur;
		s->cur = st;
	} else if (st == prev_stack && s->sp <= prev_sp) {
		/* unwind_orc.c: "Prevent a recursive loop due to bad ORC data" */
		return fail(s, STACK_NOT_UP, "stack pointer did not move up at 0x%llx",
			    (unsigned long long)s->sp);
	}
	return true;
}

static void walk(struct ustate *s)
{
	struct stack_trace *tr = s->tr;

	for (;;) {
		if (s->regs.valid) {
			/* arch_stack_walk_reliable(): user-mode registers are
			 * where a user task's kernel stack ends. */
			if (user_mode(&s->regs)) {
				tr->user_end = true;
				tr->reliable = true;
				return;
			}
			if (s->regs_on_stack) {
				fail(s, STACK_KERNEL_REGS,
				     "kernel-mode registers on the stack at frame %d (interrupted at 0x%llx)",
				     tr->nr, (unsigned long long)s->regs.ip);
				/* Still record the frame: it is useful to see. */
			}
		}
		if (!kernel_text(s->c, s->ip)) {
			if (tr->reason == STACK_OK)
				fail(s, STACK_BAD_RET, "return address 0x%llx is not kernel text%s%s%s",
				     (unsigned long long)s->ip, s->c->mods_why[0] ? " (no modules known: " : "",
				     s->c->mods_why, s->c->mods_why[0] ? ")" : "");
			/* Still record it, then stop: an address outside
			 * kernel and module text may be guestpatch's own
			 * code (a trampoline, the straggler agent, a patch),
			 * and whoever frees or rewrites that code must see a
			 * vCPU or a sleeping task inside it. */
			if (tr->nr < STACK_MAX_FRAMES) {
				tr->f[tr->nr].pc = s->ip;
				tr->f[tr->nr].sp = s->sp;
				tr->f[tr->nr].from_regs = s->regs.valid;
				tr->nr++;
			}
			return;
		}
		if (tr->nr >= STACK_MAX_FRAMES) {
			fail(s, STACK_TOO_DEEP, "more than %d frames", STACK_MAX_FRAMES);
			return;
		}
		tr->f[tr->nr].pc = s->ip;
		tr->f[tr->nr].sp = s->sp;
		tr->f[tr->nr].from_regs = s->regs.valid;
		tr->nr++;
		if (tr->reason != STACK_OK)
			return;
		if (!next_frame(s)) {
			if (tr->reason == STACK_OK)
				tr->reliable = true;
			return;
		}
	}
}

static void init_state(struct stack_ctx *c, const struct task_info *t, struct ustate *s,
		       struct stack_trace *tr)
{
	memset(s, 0, sizeof(*s));
	memset(tr, 0, sizeof(*tr));
	s->c = c;
	s->tr = tr;
	s->lo[STK_TASK] = t->stack;
	s->hi[STK_TASK] = t->stack + c->thread_size;
	s->cur = STK_TASK;
}

void stack_unwind_task(struct stack_ctx *c, const struct task_info *t, struct stack_trace *tr)
{
	uint64_t tsp, frame[16];
	struct gp_error *err;
	struct ustate s;

	init_state(c, t, &s, tr);
	err = kern_read_u64(c->k, t->addr + c->to.thread_sp, &tsp);
	if (err) {
		fail(&s, STACK_READ, "cannot read thread.sp: %.100s", err->msg);
		gp_error_destroy(err);
		return;
	}
	if (c->frame_size > sizeof(frame) || !stack_read(&s, tsp, frame, c->frame_size))
		return;
	/* __unwind_start() for a blocked task (arch/x86/kernel/unwind_orc.c) */
	s.sp = tsp + c->frame_size;
	s.bp = frame[c->frame_bp / 8];
	s.ip = frame[c->frame_ret / 8];
	s.signal = s.ip == c->ret_from_fork;
	walk(&s);
}

void stack_unwind_regs(struct stack_ctx *c, const struct task_info *t, const struct tgt_regs *r,
		       int cpu, struct stack_trace *tr)
{
	struct ustate s;

	init_state(c, t, &s, tr);
	if (cpu >= 0) {
		uint64_t pp, top;

		if (gp_ok(kern_percpu(c->k, (unsigned)cpu, c->hardirq_stack_ptr, &pp)) &&
		    gp_ok(kern_read_u64(c->k, pp, &top)) && top) {
			/* hardirq_stack_ptr points at the top-most word. */
			s.hi[STK_IRQ] = top + 8;
			s.lo[STK_IRQ] = top + 8 - c->irq_stack_size;
		}
		if (c->nr_estacks &&
		    gp_ok(kern_percpu(c->k, (unsigned)cpu, c->cea_exception_stacks, &pp)) &&
		    gp_ok(kern_read_u64(c->k, pp, &top)) && top) {
			for (int i = 0; i < c->nr_estacks && STK_EXC + i < STK_MAX; i++) {
				s.lo[STK_EXC + i] = top + c->estack_off[i];
				s.hi[STK_EXC + i] = top + c->estack_off[i] + c->estack_size[i];
			}
		}
	}
	s.ip = r->rip;
	s.sp = r->rsp;
	s.bp = r->rbp;
	s.signal = true;
	s.regs = (struct regs_view){ .valid = true, .full = true, .ip = r->rip, .sp = r->rsp,
				     .cs = r->cs, .bp = r->rbp, .r10 = r->r10, .r13 = r->r13,
				     .di = r->rdi, .dx = r->rdx };
	if (!user_mode(&s.regs)) {
		int st = which_stack(&s, s.sp, 8);

		if (st == STK_NONE) {
			fail(&s, STACK_OFF_STACK, "vCPU stack pointer 0x%llx is on no stack of this task",
			     (unsigned long long)s.sp);
			tr->f[0].pc = s.ip;
			tr->f[0].sp = s.sp;
			tr->f[0].from_regs = true;
			tr->nr = 1;
			return;
		}
		s.cur = st;
	}
	walk(&s);
}

bool stack_hidden_by_guest(const struct stack_ctx *c, uint64_t pc)
{
	return (pc >= c->sched_start && pc < c->sched_end) ||
	       (pc >= c->lock_start && pc < c->lock_end);
}

int stack_vcpu_to_cpu(struct kern *k, const struct tgt_regs *r)
{
	for (unsigned cpu = 0; cpu < k->nr_cpu_ids; cpu++) {
		if (!kern_cpu_online(k, cpu))
			continue;
		if (r->gs_base == k->percpu_offset[cpu] || r->kernel_gs_base == k->percpu_offset[cpu])
			return (int)cpu;
	}
	return -1;
}

/* The end of init_task's stack (THREAD_SIZE from init_stack): renamed in
 * 6.2 (vmlinux.lds.h). */
static const char *const end_init_names[] = { "__end_init_stack", "__end_init_task", NULL };
/* Where a new task's switch frame returns, the address __unwind_start()
 * compares against: the asm entry since 6.5 (ret_from_fork_asm), the C
 * function before. The newer name first: 6.5+ has both. */
static const char *const fork_names[] = { "ret_from_fork_asm", "ret_from_fork", NULL };

struct gp_error *stack_ctx_init(struct kern *k, struct stack_ctx **out)
{
	struct stack_ctx *c = calloc(1, sizeof(*c));
	uint64_t init_stack, end_init, regs_member_size[NR_REGS_MEMBERS];
	struct gp_error *err;

	*out = NULL;
	if (!c)
		return &gp_error_nomem;
	c->k = k;
	if ((err = task_offsets_init(k, &c->to)) || (err = orc_load(k, &c->orc)))
		goto fail;
	/* Modules come and go: read them in a pause. A module list that does
	 * not check out leaves none known: frames in module code are then
	 * unreliable, which is safe. */
	if ((err = tgt_pause(k->t)))
		goto fail;
	if ((err = kmod_load(k, c->orc->fmt, &c->mods))) {
		snprintf(c->mods_why, sizeof(c->mods_why), "%s", err->msg);
		gp_error_destroy(err);
		kmod_free(&c->mods);
	}
	if ((err = tgt_resume(k->t)))
		goto fail;
	/* THREAD_SIZE is not in BTF; init_stack is one (vmlinux.lds.h). */
	if ((err = kern_sym(k, "init_stack", &init_stack)) ||
	    (err = kern_sym_first(k, end_init_names, &end_init)))
		goto fail;
	c->thread_size = end_init - init_stack;
	if (c->thread_size < 4096 || c->thread_size > (1u << 20) || (c->thread_size & 4095)) {
		err = gp_error_create(GP_ERR_CORRUPT, "THREAD_SIZE %llu is implausible",
				      (unsigned long long)c->thread_size);
		goto fail;
	}
	c->irq_stack_size = c->thread_size;	/* IRQ_STACK_SIZE == THREAD_SIZE on x86-64 */
	if ((err = kbtf_sizeof(k->btf, "inactive_task_frame", &c->frame_size)) ||
	    (err = kbtf_offsetof(k->btf, "inactive_task_frame", "bp", &c->frame_bp, NULL)) ||
	    (err = kbtf_offsetof(k->btf, "inactive_task_frame", "ret_addr", &c->frame_ret, NULL)) ||
	    (err = kbtf_sizeof(k->btf, "pt_regs", &c->regs_size)) ||
	    (err = kbtf_offsetof(k->btf, "pt_regs", "ip", &c->r_ip, &regs_member_size[REG_ip])) ||
	    (err = kbtf_offsetof(k->btf, "pt_regs", "sp", &c->r_sp, &regs_member_size[REG_sp])) ||
	    (err = kbtf_offsetof(k->btf, "pt_regs", "cs", &c->r_cs, &regs_member_size[REG_cs])) ||
	    (err = kbtf_offsetof(k->btf, "pt_regs", "bp", &c->r_bp, &regs_member_size[REG_bp])) ||
	    (err = kbtf_offsetof(k->btf, "pt_regs", "r10", &c->r_r10, &regs_member_size[REG_r10])) ||
	    (err = kbtf_offsetof(k->btf, "pt_regs", "r13", &c->r_r13, &regs_member_size[REG_r13])) ||
	    (err = kbtf_offsetof(k->btf, "pt_regs", "di", &c->r_di, &regs_member_size[REG_di])) ||
	    (err = kbtf_offsetof(k->btf, "pt_regs", "dx", &c->r_dx, &regs_member_size[REG_dx])))
		goto fail;
	/* Guest BTF is untrusted and these index host buffers: the frame is
	 * read into 16 words, pt_regs into STACK_REGS_MAX bytes. */
	if (c->frame_bp % 8 || c->frame_ret % 8 || c->frame_size > 128 ||
	    c->frame_size < 8 || c->frame_ret > c->frame_size - 8 ||
	    c->frame_bp > c->frame_size - 8) {
		err = gp_error_create(GP_ERR_CORRUPT,
				      "inactive_task_frame layout is implausible (%llu bytes, bp at %llu, ret_addr at %llu)",
				      (unsigned long long)c->frame_size,
				      (unsigned long long)c->frame_bp,
				      (unsigned long long)c->frame_ret);
		goto fail;
	}
	if (c->regs_size > STACK_REGS_MAX || c->regs_size < 8) {
		err = gp_error_create(GP_ERR_CORRUPT,
				      "guest BTF: struct pt_regs is %llu bytes (the unwinder reads at most %d)",
				      (unsigned long long)c->regs_size, STACK_REGS_MAX);
		goto fail;
	}
	/* 6.9+ makes cs a union of u16 cs, u64 csx and FRED bits: a 2-byte
	 * cs at the start of its 8-byte slot (only its low bits are used). */
	if (regs_member_size[REG_cs] == 2)
		regs_member_size[REG_cs] = 8;
#define CHECK(f)                                                                          \
	if (!err && (c->r_##f > c->regs_size - 8 || regs_member_size[REG_##f] != 8))      \
		err = gp_error_create(GP_ERR_CORRUPT,                                     \
				      "guest BTF: pt_regs member " #f " at offset %llu (%llu bytes) does not fit the %llu-byte struct", \
				      (unsigned long long)c->r_##f,                       \
				      (unsigned long long)regs_member_size[REG_##f],      \
				      (unsigned long long)c->regs_size);
	REGS_MEMBERS(CHECK)
#undef CHECK
	if (err)
		goto fail;
	if ((err = kern_sym(k, "__sched_text_start", &c->sched_start)) ||
	    (err = kern_sym(k, "__sched_text_end", &c->sched_end)) ||
	    (err = kern_sym(k, "__lock_text_start", &c->lock_start)) ||
	    (err = kern_sym(k, "__lock_text_end", &c->lock_end)) ||
	    (err = kern_sym_first(k, fork_names, &c->ret_from_fork)) ||
	    (err = kern_percpu_var(k, "hardirq_stack_ptr", &c->hardirq_stack_ptr)))
		goto fail;
	/* Exception stacks: optional (older kernels lay them out otherwise). */
	if (kern_has_sym(k, "cea_exception_stacks", &c->cea_exception_stacks)) {
		static const char *const names[] = { "DF_stack", "NMI_stack", "DB_stack",
						     "MCE_stack", "VC_stack", "VC2_stack" };

		for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
			uint64_t off, size;

			if (!gp_ok(kbtf_offsetof(k->btf, "cea_exception_stacks", names[i], &off, &size)) ||
			    !size)
				continue;
			c->estack_off[c->nr_estacks] = off;
			c->estack_size[c->nr_estacks] = size;
			c->nr_estacks++;
		}
	}
	*out = c;
	return NULL;
fail:
	stack_ctx_free(c);
	return gp_error_wrap(err, "stack unwinder");
}

const char *stack_symbolize(const struct stack_ctx *c, uint64_t pc, uint64_t *off,
			    uint64_t *size, const char **module)
{
	const struct kmod *m = kmod_find(&c->mods, pc);
	uint64_t o, sz;

	if (!off)
		off = &o;
	if (!size)
		size = &sz;
	*module = NULL;
	*off = *size = 0;
	{
		const struct stack_extra_orc *x = extra_find(c, pc);

		if (x) {
			*module = x->name;
			*off = pc - x->start;
			return NULL;
		}
	}
	if (m) {
		const struct kmod_sym *s = kmod_symbolize(m, pc);

		*module = m->name;
		if (!s)
			return NULL;
		*off = pc - s->addr;
		*size = s->size;
		return m->strs + s->name;
	}
	{
		const struct ksym *s = ksym_symbolize(c->k->syms, pc, off, size);

		return s ? ksym_name(c->k->syms, s) : NULL;
	}
}

void stack_ctx_free(struct stack_ctx *c)
{
	if (!c)
		return;
	orc_free(c->orc);
	kmod_free(&c->mods);
	for (int i = 0; i < c->nr_extra; i++)
		orc_free(c->extra[i].orc);
	free(c);
}

struct gp_error *stack_ctx_add_orc(struct stack_ctx *c, uint64_t start, uint64_t end,
				   struct orc_table *orc, const char *name)
{
	struct stack_extra_orc *x;

	if (c->nr_extra >= STACK_MAX_EXTRA_ORC || start >= end || orc_text(c->orc, start) ||
	    orc_text(c->orc, end - 1) || kmod_find(&c->mods, start) || kmod_find(&c->mods, end - 1)) {
		orc_free(orc);
		return gp_error_addr(GP_ERR_INVAL, start,
				     "ORC for %s (0x%llx..0x%llx): %s", name,
				     (unsigned long long)start, (unsigned long long)end,
				     c->nr_extra >= STACK_MAX_EXTRA_ORC ? "too many ranges" :
				     "the range is empty or overlaps kernel or module text");
	}
	for (int i = 0; i < c->nr_extra; i++)
		if (start < c->extra[i].end && c->extra[i].start < end) {
			orc_free(orc);
			return gp_error_addr(GP_ERR_INVAL, start, "ORC for %s overlaps that of %s",
					     name, c->extra[i].name);
		}
	x = &c->extra[c->nr_extra++];
	x->start = start;
	x->end = end;
	x->orc = orc;
	snprintf(x->name, sizeof(x->name), "%s", name);
	return NULL;
}
