// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * lp_agent.c - build guest code from the embedded guest-agent object.
 *
 * guest-agent/agent.mk assembles the .S files of guest-agent/src into
 * agent.o and embeds it here as _binary_agent_o_start/_end.  Each piece is
 * a section of it (GP_PIECE in guest-agent/include/agent.h); the builders
 * below choose pieces, place them with lp_obj_link_pieces() and answer
 * the pieces' gp_* symbols, the values only the host knows.
 */
#include <string.h>

#include "lp_agent.h"
#include "lp_elf.h"

extern const uint8_t _binary_agent_o_start[], _binary_agent_o_end[];

#define AGENT_PATH "guest-agent/agent.o"
#define PIECE(name) ".text.gp_" name

static struct lp_obj *agent_obj;

struct gp_error *lp_agent_obj(struct lp_obj **o)
{
	struct gp_error *err;

	if (!agent_obj) {
		err = lp_obj_open_pieces(_binary_agent_o_start,
					 (size_t)(_binary_agent_o_end - _binary_agent_o_start),
					 AGENT_PATH, &agent_obj);
		if (err)
			return gp_error_wrap(err, "the embedded guest agent");
	}
	*o = agent_obj;
	return NULL;
}

/* The values a builder gives one placed piece. */
#define AGENT_VALS 6

struct agent_ctx {
	struct {
		const char *name;
		uint64_t val;
	} v[AGENT_VALS];
	int nv;
	lp_resolve_fn kernel;	/* the guest kernel's other symbols, or NULL */
	void *karg;
};

static void ctx_set(struct agent_ctx *c, const char *name, uint64_t val)
{
	/* Callers set at most AGENT_VALS names: a static property. */
	c->v[c->nv].name = name;
	c->v[c->nv].val = val;
	c->nv++;
}

static struct gp_error *agent_resolve(void *arg, const char *name, uint64_t *addr)
{
	const struct agent_ctx *c = arg;

	for (int i = 0; i < c->nv; i++)
		if (!strcmp(c->v[i].name, name)) {
			*addr = c->v[i].val;
			return NULL;
		}
	/* gp_* names are ours: never ask the guest kernel about them. */
	if (!c->kernel || !strncmp(name, "gp_", 3))
		return gp_error_create(GP_ERR_NOTFOUND,
				       "the guest agent uses '%s', which its builder does not provide",
				       name);
	return c->kernel(c->karg, name, addr);
}

/* Place pieces into buf: exactly cap bytes, or up to cap if len != NULL. */
static struct gp_error *place(uint64_t va, const struct lp_piece *p, size_t n, uint8_t *buf,
			     size_t cap, size_t *len)
{
	struct lp_obj *o = NULL;
	struct gp_error *err;
	size_t used;

	if ((err = lp_agent_obj(&o)) ||
	    (err = lp_obj_link_pieces(o, va, p, n, buf, cap, &used)))
		return err;
	if (len)
		*len = used;
	else if (used != cap)
		return gp_error_create(GP_ERR_CORRUPT,
				       "%s: %s is %zu bytes, expected %zu", AGENT_PATH,
				       p[0].section, used, cap);
	return NULL;
}

struct gp_error *lp_agent_fill(uint8_t *buf, size_t len)
{
	static const struct lp_piece p = { PIECE("int3") };
	uint8_t pat[16];
	size_t k;
	struct gp_error *err = place(0, &p, 1, pat, sizeof(pat), &k);

	if (err)
		return gp_error_wrap(err, "int3 fill");
	if (!k || len % k)
		return gp_error_create(GP_ERR_INVAL, "int3 fill: %zu bytes is not a multiple of %zu",
				       len, k);
	for (size_t i = 0; i < len; i += k)
		memcpy(buf + i, pat, k);
	return NULL;
}

struct gp_error *lp_agent_ftrace_nop(uint8_t out[LP_AGENT_NOP_SIZE])
{
	static const struct lp_piece p = { PIECE("ftrace_nop") };
	struct gp_error *err = place(0, &p, 1, out, LP_AGENT_NOP_SIZE, NULL);

	return err ? gp_error_wrap(err, "ftrace NOP") : NULL;
}

struct gp_error *lp_agent_entry_offset(const uint8_t entry[LP_AGENT_ENTRY_MAX], unsigned *off)
{
	static const char *const marks[] = { PIECE("endbr"), PIECE("endbr_sealed") };
	uint8_t b[16];
	size_t n;

	*off = 0;
	for (size_t i = 0; i < ARRAY_SIZE(marks); i++) {
		const struct lp_piece p = { marks[i] };
		struct gp_error *err = place(0, &p, 1, b, sizeof(b), &n);

		if (err)
			return gp_error_wrap(err, "function entry mark %s", marks[i]);
		if (!n || n > LP_AGENT_ENTRY_MAX)
			return gp_error_create(GP_ERR_CORRUPT, "%s: %s is %zu bytes", AGENT_PATH,
					       marks[i], n);
		if (!memcmp(entry, b, n)) {
			*off = (unsigned)n;
			return NULL;
		}
	}
	return NULL;
}

struct gp_error *lp_agent_ret_site(uint8_t out[LP_AGENT_JMP_SIZE])
{
	static const struct lp_piece p = { PIECE("ret_site") };
	struct gp_error *err = place(0, &p, 1, out, LP_AGENT_JMP_SIZE, NULL);

	return err ? gp_error_wrap(err, "plain return") : NULL;
}

struct gp_error *lp_agent_jmp(uint64_t va, uint64_t to, uint8_t out[LP_AGENT_JMP_SIZE])
{
	struct agent_ctx c = { .nv = 0 };
	const struct lp_piece p = { PIECE("jmp"), agent_resolve, &c };
	struct gp_error *err;

	ctx_set(&c, "gp_target", to);
	err = place(va, &p, 1, out, LP_AGENT_JMP_SIZE, NULL);
	return err ? gp_error_wrap(err, "jump from 0x%llx to 0x%llx", (unsigned long long)va,
				   (unsigned long long)to) : NULL;
}

/* Code of `used` bytes at the start of a slot; int3 after it. */
static struct gp_error *slot_tail(uint8_t *slot, size_t used, size_t slot_size)
{
	return lp_agent_fill(slot + used, slot_size - used);
}

struct gp_error *lp_agent_plain_slot(uint64_t va, uint64_t top, uint8_t *slot,
				     size_t slot_size)
{
	struct gp_error *err;

	if (slot_size < LP_AGENT_JMP_SIZE)
		return gp_error_create(GP_ERR_LIMIT, "a slot of %zu bytes cannot hold a jump",
				       slot_size);
	if ((err = lp_agent_jmp(va, top, slot)))
		return gp_error_wrap(err, "trampoline slot at 0x%llx", (unsigned long long)va);
	return slot_tail(slot, LP_AGENT_JMP_SIZE, slot_size);
}

struct gp_error *lp_agent_dispatch(uint64_t va, int32_t current_task_off,
				   int32_t patch_state_off, uint64_t prev, uint64_t top,
				   uint8_t *slot, size_t slot_size)
{
	struct agent_ctx c = { .nv = 0 };
	const struct lp_piece p = { PIECE("dispatch"), agent_resolve, &c };
	struct gp_error *err;
	size_t used;

	/* current_task is a kernel symbol, but the caller already has its
	 * per-cpu offset (and nothing else of the kernel is needed). */
	ctx_set(&c, "current_task", (uint64_t)(int64_t)current_task_off);
	ctx_set(&c, "gp_off_task_patch_state", (uint64_t)(int64_t)patch_state_off);
	ctx_set(&c, "gp_prev", prev);
	ctx_set(&c, "gp_top", top);
	if ((err = place(va, &p, 1, slot, slot_size, &used)))
		return gp_error_wrap(err, "dispatching trampoline slot at 0x%llx",
				     (unsigned long long)va);
	return slot_tail(slot, used, slot_size);
}

struct gp_error *lp_agent_straggler(uint64_t va, uint64_t data_va, uint64_t usage_off,
				    uint64_t resume, const struct lp_agent_put *put,
				    lp_resolve_fn resolve_kernel, void *arg,
				    const uint64_t *task, const bool *kthread, int n,
				    uint8_t *code, size_t cap, size_t *len)
{
	struct agent_ctx base = { .kernel = resolve_kernel, .karg = arg };
	struct agent_ctx ctx[LP_AGENT_STRAGGLER_MAX];
	struct lp_piece p[LP_PIECES_MAX];
	size_t np = 0;
	struct gp_error *err;

	*len = 0;
	if (n < 0 || n > LP_AGENT_STRAGGLER_MAX)
		return gp_error_create(GP_ERR_LIMIT, "straggler agent for %d tasks: at most %d",
				       n, LP_AGENT_STRAGGLER_MAX);
	ctx_set(&base, "gp_armed", data_va + LP_AGENT_ARMED);
	ctx_set(&base, "gp_done", data_va + LP_AGENT_DONE);
	ctx_set(&base, "gp_off_task_usage", usage_off);
	ctx_set(&base, "gp_resume", resume);
	if (put->rcu)
		ctx_set(&base, "gp_off_task_rcu", put->rcu_off);
	p[np++] = (struct lp_piece){ PIECE("agent_head"), agent_resolve, &base };
	for (int i = 0; i < n; i++) {
		ctx[i] = base;
		ctx_set(&ctx[i], "gp_task", task[i]);
		p[np++] = (struct lp_piece){ kthread[i] ? PIECE("agent_kthread") :
					     PIECE("agent_user"), agent_resolve, &ctx[i] };
		p[np++] = (struct lp_piece){ put->rcu ? PIECE("agent_put_rcu") : PIECE("agent_put"),
					     agent_resolve, &base };
	}
	p[np++] = (struct lp_piece){ PIECE("agent_done"), agent_resolve, &base };
	p[np++] = (struct lp_piece){ PIECE("agent_out"), agent_resolve, &base };
	err = place(va, p, np, code, cap, len);
	return err ? gp_error_wrap(err, "straggler agent at 0x%llx", (unsigned long long)va) : NULL;
}

struct gp_error *lp_agent_call(uint64_t va, const struct lp_agent_call_vals *v,
			       lp_resolve_fn resolve_kernel, void *arg,
			       uint8_t code[LP_AGENT_CALL_CODE])
{
	struct agent_ctx hook = { .kernel = resolve_kernel, .karg = arg };
	struct agent_ctx work = { .kernel = resolve_kernel, .karg = arg };
	const struct lp_piece ph = { PIECE("call_hook"), agent_resolve, &hook };
	const struct lp_piece pw = { PIECE("call_work"), agent_resolve, &work };
	struct gp_error *err;
	size_t used;

	ctx_set(&hook, "gp_armed", v->armed);
	ctx_set(&hook, "gp_queued", v->queued);
	ctx_set(&hook, "gp_qret", v->qret);
	ctx_set(&hook, "gp_work", v->work);
	ctx_set(&hook, "gp_cpu_unbound", v->cpu_unbound);
	ctx_set(&hook, "gp_resume", v->resume);
	ctx_set(&work, "gp_started", v->started);
	ctx_set(&work, "gp_done", v->done);
	ctx_set(&work, "gp_ret", v->ret);
	ctx_set(&work, "gp_fn", v->fn);
	ctx_set(&work, "gp_arg", v->arg);
	ctx_set(&work, "__x86_return_thunk", v->ret_thunk);
	if ((err = lp_agent_fill(code, LP_AGENT_CALL_CODE)) ||
	    (err = place(va, &ph, 1, code, LP_AGENT_CALL_WORK_OFF, &used)) ||
	    (err = place(va + LP_AGENT_CALL_WORK_OFF, &pw, 1, code + LP_AGENT_CALL_WORK_OFF,
			 LP_AGENT_CALL_CODE - LP_AGENT_CALL_WORK_OFF, &used)))
		return gp_error_wrap(err, "call agent at 0x%llx", (unsigned long long)va);
	return NULL;
}
