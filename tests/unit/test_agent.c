// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The guest code built from guest-agent/src (patch/lp_agent.c) against
 * golden bytes: the vectors below are what the hand emitters that came
 * before it (make_jmp, make_dispatch, emit_agent in the old vmm/lp_patch.c)
 * produced for the same inputs, so what goes into a guest is unchanged
 * byte for byte.  And the piece linker's refusals on the real object.
 */
#include <stdio.h>
#include <string.h>

#include "gp_check.h"
#include "lp_agent.h"
#include "lp_elf.h"
#include "lp_region.h"

static void expect_bytes(const uint8_t *got, const char *want, size_t n, const char *what)
{
	char g[3 * 512 + 1] = "", w[3 * 512 + 1] = "";

	if (!memcmp(got, want, n))
		return;
	for (size_t i = 0; i < n && i < 512; i++) {
		snprintf(g + 3 * i, 4, "%02x ", got[i]);
		snprintf(w + 3 * i, 4, "%02x ", (uint8_t)want[i]);
	}
	ck_abort_msg("%s:\n got  %s\n want %s", what, g, w);
}

/* ---- jmp ---- */

static const struct {
	uint64_t from, to;
	const char *bytes;
} jmps[] = {
	{ 0xffffffff81234560ull, 0xffffffffc0a05000ull, "\xe9\x9b\x0a\x7d\x3f" },
	{ 0xffffffffc0a05020ull, 0xffffffffc0a07123ull, "\xe9\xfe\x20\x00\x00" },
	{ 0xffffffffc0a06000ull, 0xffffffff81000000ull, "\xe9\xfb\x9f\x5f\xc0" },
	{ 0xffffffffc0a05000ull, 0xffffffffc0a05000ull, "\xe9\xfb\xff\xff\xff" },
};

START_TEST(jmp_golden)
{
	for (size_t i = 0; i < ARRAY_SIZE(jmps); i++) {
		uint8_t out[LP_AGENT_JMP_SIZE];

		ck_ok(lp_agent_jmp(jmps[i].from, jmps[i].to, out));
		expect_bytes(out, jmps[i].bytes, sizeof(out), "jmp");
	}
}
END_TEST

START_TEST(jmp_out_of_reach)
{
	uint8_t out[LP_AGENT_JMP_SIZE];

	ck_err(lp_agent_jmp(0xffffffffc0a05000ull, 0xffff888000000000ull, out),
	       GP_ERR_UNSUPPORTED, "does not reach");
	ck_err(lp_agent_jmp(0xffffffffc0a05000ull, 0xffff888000000000ull, out),
	       GP_ERR_UNSUPPORTED, "jump from 0xffffffffc0a05000 to 0xffff888000000000");
	/* The edges of rel32: +2^31-1 reaches, +2^31 does not. */
	ck_ok(lp_agent_jmp(0xffffffff80000000ull, 0xffffffff80000005ull + 0x7fffffffull, out));
	expect_bytes(out, "\xe9\xff\xff\xff\x7f", 5, "jmp +2^31-1");
	ck_err(lp_agent_jmp(0xffffffff80000000ull, 0xffffffff80000005ull + 0x80000000ull, out),
	       GP_ERR_UNSUPPORTED, "does not reach");
}
END_TEST

/* ---- trampoline slots ---- */

START_TEST(dispatch_golden)
{
	uint8_t slot[LP_TRAMP_SIZE];

	memset(slot, 0x5a, sizeof(slot));
	ck_ok(lp_agent_dispatch(0xffffffffc0a05000ull, 0x1fb80, 0x9a0, 0xffffffff81234565ull,
				0xffffffffc0a06010ull, slot, sizeof(slot)));
	expect_bytes(slot,
		     "\x65\x4c\x8b\x1c\x25\x80\xfb\x01\x00\x41\x83\xbb\xa0\x09\x00\x00"
		     "\x00\x0f\x84\x4e\xf5\x82\xc0\xe9\xf4\x0f\x00\x00\xcc\xcc\xcc\xcc",
		     sizeof(slot), "dispatch A");
	memset(slot, 0x5a, sizeof(slot));
	ck_ok(lp_agent_dispatch(0xffffffffc0a05040ull, 0x2c0c0, 0xa28, 0xffffffffc0a08200ull,
				0xffffffffc0a09000ull, slot, sizeof(slot)));
	expect_bytes(slot,
		     "\x65\x4c\x8b\x1c\x25\xc0\xc0\x02\x00\x41\x83\xbb\x28\x0a\x00\x00"
		     "\x00\x0f\x84\xa9\x31\x00\x00\xe9\xa4\x3f\x00\x00\xcc\xcc\xcc\xcc",
		     sizeof(slot), "dispatch B");
}
END_TEST

START_TEST(dispatch_refusals)
{
	uint8_t slot[LP_TRAMP_SIZE];

	ck_err(lp_agent_dispatch(0xffffffffc0a05000ull, 0x1fb80, 0x9a0, 0xffff888000000000ull,
				 0xffffffffc0a06010ull, slot, sizeof(slot)),
	       GP_ERR_UNSUPPORTED, "'gp_prev'");
	ck_err(lp_agent_dispatch(0xffffffffc0a05000ull, 0x1fb80, 0x9a0, 0xffffffff81234565ull,
				 0xffff888000000000ull, slot, sizeof(slot)),
	       GP_ERR_UNSUPPORTED, "does not reach");
	ck_err(lp_agent_dispatch(0xffffffffc0a05000ull, 0x1fb80, 0x9a0, 0xffffffff81234565ull,
				 0xffffffffc0a06010ull, slot, 16),
	       GP_ERR_LIMIT, "buffer holds 16");
}
END_TEST

START_TEST(plain_slot_golden)
{
	uint8_t slot[LP_TRAMP_SIZE];

	memset(slot, 0x5a, sizeof(slot));
	ck_ok(lp_agent_plain_slot(0xffffffffc0a05060ull, 0xffffffffc0a06010ull, slot,
				  sizeof(slot)));
	expect_bytes(slot,
		     "\xe9\xab\x0f\x00\x00\xcc\xcc\xcc\xcc\xcc\xcc\xcc\xcc\xcc\xcc\xcc"
		     "\xcc\xcc\xcc\xcc\xcc\xcc\xcc\xcc\xcc\xcc\xcc\xcc\xcc\xcc\xcc\xcc",
		     sizeof(slot), "plain slot");
	ck_err(lp_agent_plain_slot(0xffffffffc0a05060ull, 0xffff888000000000ull, slot,
				   sizeof(slot)),
	       GP_ERR_UNSUPPORTED, "does not reach");
	ck_err(lp_agent_plain_slot(0xffffffffc0a05060ull, 0xffffffffc0a06010ull, slot, 4),
	       GP_ERR_LIMIT, "cannot hold");
}
END_TEST

START_TEST(nop_and_fill)
{
	uint8_t nop[LP_AGENT_NOP_SIZE], page[4096];

	ck_ok(lp_agent_ftrace_nop(nop));
	expect_bytes(nop, "\x0f\x1f\x44\x00\x00", sizeof(nop), "ftrace NOP");
	memset(page, 0, sizeof(page));
	ck_ok(lp_agent_fill(page, sizeof(page)));
	for (size_t i = 0; i < sizeof(page); i++)
		ck_assert_uint_eq(page[i], 0xcc);
	ck_ok(lp_agent_fill(page, 0));
}
END_TEST

/* ---- the straggler agent ---- */

#define HOOK 0xffffffff81169e40ull
#define AGENT_VA 0xffffffffc0a0b000ull
#define AGENT_DATA_VA 0xffffffffc0a0c000ull
#define USAGE_OFF 0x30
#define RCU_OFF 0x1360

/* Without PREEMPT_RT: __put_task_struct() on the last reference. */
static const struct lp_agent_put PUT = { .rcu = false };
/* PREEMPT_RT: call_rcu(&t->rcu, __put_task_struct_rcu_cb). */
static const struct lp_agent_put PUT_RT = { .rcu = true, .rcu_off = RCU_OFF };

static const uint64_t tasks[3] = { 0xffff888003a1c000ull, 0xffff888004b2d180ull,
				   0xffff888005c3e300ull };

struct fake_kernel {
	bool asked_hook;
	const char *missing;	/* answer this name with NOTFOUND */
};

static struct gp_error *fake_kernel(void *arg, const char *name, uint64_t *addr)
{
	struct fake_kernel *k = arg;
	static const struct {
		const char *name;
		uint64_t addr;
	} syms[] = {
		{ LP_AGENT_HOOK, HOOK },
		{ "wake_up_state", 0xffffffff810fb2a0ull },
		{ "kick_process", 0xffffffff810f9a10ull },
		{ "__put_task_struct", 0xffffffff810a5b30ull },
		{ "call_rcu", 0xffffffff81131f70ull },
		{ "__put_task_struct_rcu_cb", 0xffffffff810a5c10ull },
	};

	if (k->missing && !strcmp(name, k->missing))
		return gp_error_create(GP_ERR_NOTFOUND, "no symbol '%s' in the guest kernel", name);
	for (size_t i = 0; i < ARRAY_SIZE(syms); i++)
		if (!strcmp(name, syms[i].name)) {
			if (!strcmp(name, LP_AGENT_HOOK))
				k->asked_hook = true;
			*addr = syms[i].addr;
			return NULL;
		}
	ck_abort_msg("the agent asked the kernel for '%s'", name);
	return NULL;
}

static void straggler_golden_put(const struct lp_agent_put *put, const uint64_t *task,
				 const bool *kthread, int n, const char *want, size_t want_len,
				 const char *what)
{
	struct fake_kernel k = { 0 };
	uint8_t code[4096];
	size_t len = 0;

	memset(code, 0x5a, sizeof(code));
	ck_ok(lp_agent_straggler(AGENT_VA, AGENT_DATA_VA, USAGE_OFF, HOOK + 5, put, fake_kernel, &k, task,
				 kthread, n, code, sizeof(code), &len));

	ck_assert_msg(len == want_len, "%s: %zu bytes, want %zu", what, len, want_len);
	expect_bytes(code, want, len, what);
	ck_assert_uint_eq(code[len], 0x5a);	/* nothing written past it */
	/* It returns past the hook's NOP (HOOK + 5): the golden bytes' last jump. */
	ck_assert(!k.asked_hook);
}

static void straggler_golden(const uint64_t *task, const bool *kthread, int n,
			     const char *want, size_t want_len, const char *what)
{
	straggler_golden_put(&PUT, task, kthread, n, want, want_len, what);
}

START_TEST(straggler_n0)
{
	static const bool kt[1] = { false };

	straggler_golden(tasks, kt, 0,
			 "\x57\x31\xc0\x86\x05\xf7\x0f\x00\x00\x84\xc0\x0f\x84\x09\x00\x00"
			 "\x00\x53\xc6\x05\xef\x0f\x00\x00\x01\x5b\x5f\xe9\x25\xee\x75\xc0",
			 32, "agent n=0");
}
END_TEST

START_TEST(straggler_user)
{
	static const bool kt[1] = { false };

	straggler_golden(tasks, kt, 1,
			 "\x57\x31\xc0\x86\x05\xf7\x0f\x00\x00\x84\xc0\x0f\x84\x3d\x00\x00"
			 "\x00\x53\x48\xbb\x00\xc0\xa1\x03\x80\x88\xff\xff\x48\x89\xdf\xbe"
			 "\x01\x00\x00\x00\xe8\x77\x02\x6f\xc0\x85\xc0\x75\x08\x48\x89\xdf"
			 "\xe8\xdb\xe9\x6e\xc0\xf0\xff\x8b\x30\x00\x00\x00\x75\x08\x48\x89"
			 "\xdf\xe8\xea\xaa\x69\xc0\xc6\x05\xbb\x0f\x00\x00\x01\x5b\x5f\xe9"
			 "\xf1\xed\x75\xc0",
			 84, "agent n=1 user");
}
END_TEST

START_TEST(straggler_kthread)
{
	static const bool kt[1] = { true };

	straggler_golden(tasks + 1, kt, 1,
			 "\x57\x31\xc0\x86\x05\xf7\x0f\x00\x00\x84\xc0\x0f\x84\x31\x00\x00"
			 "\x00\x53\x48\xbb\x80\xd1\xb2\x04\x80\x88\xff\xff\x48\x89\xdf\xbe"
			 "\x01\x00\x00\x00\xe8\x77\x02\x6f\xc0\xf0\xff\x8b\x30\x00\x00\x00"
			 "\x75\x08\x48\x89\xdf\xe8\xf6\xaa\x69\xc0\xc6\x05\xc7\x0f\x00\x00"
			 "\x01\x5b\x5f\xe9\xfd\xed\x75\xc0",
			 72, "agent n=1 kthread");
}
END_TEST

START_TEST(straggler_mixed)
{
	static const bool kt[3] = { false, true, false };

	straggler_golden(tasks, kt, 3,
			 "\x57\x31\xc0\x86\x05\xf7\x0f\x00\x00\x84\xc0\x0f\x84\x99\x00\x00"
			 "\x00\x53\x48\xbb\x00\xc0\xa1\x03\x80\x88\xff\xff\x48\x89\xdf\xbe"
			 "\x01\x00\x00\x00\xe8\x77\x02\x6f\xc0\x85\xc0\x75\x08\x48\x89\xdf"
			 "\xe8\xdb\xe9\x6e\xc0\xf0\xff\x8b\x30\x00\x00\x00\x75\x08\x48\x89"
			 "\xdf\xe8\xea\xaa\x69\xc0\x48\xbb\x80\xd1\xb2\x04\x80\x88\xff\xff"
			 "\x48\x89\xdf\xbe\x01\x00\x00\x00\xe8\x43\x02\x6f\xc0\xf0\xff\x8b"
			 "\x30\x00\x00\x00\x75\x08\x48\x89\xdf\xe8\xc2\xaa\x69\xc0\x48\xbb"
			 "\x00\xe3\xc3\x05\x80\x88\xff\xff\x48\x89\xdf\xbe\x01\x00\x00\x00"
			 "\xe8\x1b\x02\x6f\xc0\x85\xc0\x75\x08\x48\x89\xdf\xe8\x7f\xe9\x6e"
			 "\xc0\xf0\xff\x8b\x30\x00\x00\x00\x75\x08\x48\x89\xdf\xe8\x8e\xaa"
			 "\x69\xc0\xc6\x05\x5f\x0f\x00\x00\x01\x5b\x5f\xe9\x95\xed\x75\xc0",
			 176, "agent n=3 user,kthread,user");
}
END_TEST

/* PREEMPT_RT: the same wake-ups, each reference dropped through
 * call_rcu(&t->rcu, __put_task_struct_rcu_cb). */
START_TEST(straggler_rt)
{
	static const bool kt[2] = { false, true };

	/* objdump: after each wake-up, lock decl 0x30(%rbx); jne over;
	 * lea 0x1360(%rbx),%rdi; lea __put_task_struct_rcu_cb(%rip),%rsi;
	 * call call_rcu. */
	straggler_golden_put(&PUT_RT, tasks, kt, 2,
			     "\x57\x31\xc0\x86\x05\xf7\x0f\x00\x00\x84\xc0\x0f\x84\x7b\x00\x00"
			     "\x00\x53\x48\xbb\x00\xc0\xa1\x03\x80\x88\xff\xff\x48\x89\xdf\xbe"
			     "\x01\x00\x00\x00\xe8\x77\x02\x6f\xc0\x85\xc0\x75\x08\x48\x89\xdf"
			     "\xe8\xdb\xe9\x6e\xc0\xf0\xff\x8b\x30\x00\x00\x00\x75\x13\x48\x8d"
			     "\xbb\x60\x13\x00\x00\x48\x8d\x35\xc4\xab\x69\xc0\xe8\x1f\x6f\x72"
			     "\xc0\x48\xbb\x80\xd1\xb2\x04\x80\x88\xff\xff\x48\x89\xdf\xbe\x01"
			     "\x00\x00\x00\xe8\x38\x02\x6f\xc0\xf0\xff\x8b\x30\x00\x00\x00\x75"
			     "\x13\x48\x8d\xbb\x60\x13\x00\x00\x48\x8d\x35\x91\xab\x69\xc0\xe8"
			     "\xec\x6e\x72\xc0\xc6\x05\x7d\x0f\x00\x00\x01\x5b\x5f\xe9\xb3\xed"
			     "\x75\xc0",
			     146, "agent n=2 user,kthread PREEMPT_RT");
}
END_TEST

START_TEST(straggler_refusals)
{
	static const bool kt[3] = { false, true, false };
	struct fake_kernel k = { 0 };
	uint64_t many[LP_AGENT_STRAGGLER_MAX + 1] = { 0 };
	bool many_kt[LP_AGENT_STRAGGLER_MAX + 1] = { false };
	uint8_t code[4096];
	size_t len = 1;

	/* 176 bytes needed. */
	ck_err(lp_agent_straggler(AGENT_VA, AGENT_DATA_VA, USAGE_OFF, HOOK + 5, &PUT, fake_kernel, &k, tasks, kt,
				  3, code, 175, &len),
	       GP_ERR_LIMIT, "need 176 bytes, the buffer holds 175");
	ck_assert_uint_eq(len, 0);
	ck_err(lp_agent_straggler(AGENT_VA, AGENT_DATA_VA, USAGE_OFF, HOOK + 5, &PUT, fake_kernel, &k, many,
				  many_kt, LP_AGENT_STRAGGLER_MAX + 1, code, sizeof(code), &len),
	       GP_ERR_LIMIT, "at most");
	ck_err(lp_agent_straggler(AGENT_VA, AGENT_DATA_VA, USAGE_OFF, HOOK + 5, &PUT, fake_kernel, &k, tasks, kt,
				  -1, code, sizeof(code), &len),
	       GP_ERR_LIMIT, "at most");
	/* As many tasks as allowed still fit in a page. */
	ck_ok(lp_agent_straggler(AGENT_VA, AGENT_DATA_VA, USAGE_OFF, HOOK + 5, &PUT, fake_kernel, &k, many,
				 many_kt, LP_AGENT_STRAGGLER_MAX, code, sizeof(code), &len));
	ck_ok(lp_agent_straggler(AGENT_VA, AGENT_DATA_VA, USAGE_OFF, HOOK + 5, &PUT_RT, fake_kernel, &k, many,
				 many_kt, LP_AGENT_STRAGGLER_MAX, code, sizeof(code), &len));
	/* The kernel's missing symbols are named. */
	k.missing = "__put_task_struct_rcu_cb";
	ck_err(lp_agent_straggler(AGENT_VA, AGENT_DATA_VA, USAGE_OFF, HOOK + 5, &PUT_RT, fake_kernel, &k,
				  tasks, kt, 3, code, sizeof(code), &len),
	       GP_ERR_NOTFOUND, "no symbol '__put_task_struct_rcu_cb'");
	k.missing = "kick_process";
	ck_err(lp_agent_straggler(AGENT_VA, AGENT_DATA_VA, USAGE_OFF, HOOK + 5, &PUT, fake_kernel, &k, tasks, kt,
				  3, code, sizeof(code), &len),
	       GP_ERR_NOTFOUND, "no symbol 'kick_process'");
	ck_err(lp_agent_straggler(AGENT_VA, AGENT_DATA_VA, USAGE_OFF, HOOK + 5, &PUT, NULL, NULL, tasks, kt,
				  3, code, sizeof(code), &len),
	       GP_ERR_NOTFOUND, "'wake_up_state'");
	/* A BTF offset that does not fit a disp32. */
	k.missing = NULL;
	ck_err(lp_agent_straggler(AGENT_VA, AGENT_DATA_VA, 0x80000000ull, HOOK + 5, &PUT, fake_kernel, &k,
				  tasks, kt, 3, code, sizeof(code), &len),
	       GP_ERR_INVAL, "gp_off_task_usage");
	/* The data page out of reach of the code. */
	ck_err(lp_agent_straggler(AGENT_VA, 0xffff888000000000ull, USAGE_OFF, HOOK + 5, &PUT, fake_kernel, &k,
				  tasks, kt, 3, code, sizeof(code), &len),
	       GP_ERR_UNSUPPORTED, "'gp_armed'");
}
END_TEST

/* ---- the piece linker on the real object ---- */

static struct gp_error *no_kernel(void *arg, const char *name, uint64_t *addr)
{
	(void)arg;
	*addr = 0xffffffff81000000ull + strlen(name);
	return NULL;
}

START_TEST(pieces_refusals)
{
	struct lp_obj *o = NULL;
	struct lp_image img;
	uint8_t buf[256];
	size_t len = 7;
	struct lp_piece p[LP_PIECES_MAX + 1];
	const struct lp_piece head = { ".text.gp_agent_head", no_kernel, NULL };
	const struct lp_piece out = { ".text.gp_agent_out", no_kernel, NULL };
	const struct lp_piece jmp = { ".text.gp_jmp", NULL, NULL };

	ck_ok(lp_agent_obj(&o));
	p[0] = (struct lp_piece){ ".text.gp_no_such_piece", no_kernel, NULL };
	ck_err(lp_obj_link_pieces(o, 0xffffffffc0a00000ull, p, 1, buf, sizeof(buf), &len),
	       GP_ERR_NOTFOUND, "no section .text.gp_no_such_piece");
	ck_assert_uint_eq(len, 0);
	/* Not a piece: a non-loaded section, and an empty one. */
	p[0] = (struct lp_piece){ ".symtab", no_kernel, NULL };
	ck_err(lp_obj_link_pieces(o, 0xffffffffc0a00000ull, p, 1, buf, sizeof(buf), &len),
	       GP_ERR_INVAL, "not a piece");
	p[0] = (struct lp_piece){ ".text", no_kernel, NULL };
	ck_err(lp_obj_link_pieces(o, 0xffffffffc0a00000ull, p, 1, buf, sizeof(buf), &len),
	       GP_ERR_INVAL, "not a piece");
	/* head's jz names gp_agent_out: placed twice, or not at all. */
	p[0] = head, p[1] = out, p[2] = out;
	ck_err(lp_obj_link_pieces(o, 0xffffffffc0a00000ull, p, 3, buf, sizeof(buf), &len),
	       GP_ERR_INVAL, "'gp_agent_out' in .text.gp_agent_out, which is placed 2 times");
	ck_err(lp_obj_link_pieces(o, 0xffffffffc0a00000ull, p, 1, buf, sizeof(buf), &len),
	       GP_ERR_INVAL, "placed 0 times");
	/* ...but placing it twice is fine while nothing refers to it. */
	ck_ok(lp_obj_link_pieces(o, 0xffffffffc0a00000ull, p + 1, 2, buf, sizeof(buf), &len));
	ck_assert_uint_eq(len, 12);
	expect_bytes(buf, "\x5f\xe9", 2, "out");
	expect_bytes(buf + 6, "\x5f\xe9", 2, "out again");
	/* Undefined symbols with no resolver. */
	p[0] = jmp;
	ck_err(lp_obj_link_pieces(o, 0xffffffffc0a00000ull, p, 1, buf, sizeof(buf), &len),
	       GP_ERR_NOTFOUND, "'gp_target' and nothing to resolve it");
	/* Bounds. */
	p[0] = head, p[1] = out;
	ck_err(lp_obj_link_pieces(o, 0xffffffffc0a00000ull, p, 2, buf, 23, &len),
	       GP_ERR_LIMIT, "need 24 bytes, the buffer holds 23");
	for (int i = 0; i <= LP_PIECES_MAX; i++)
		p[i] = out;
	ck_err(lp_obj_link_pieces(o, 0xffffffffc0a00000ull, p, LP_PIECES_MAX + 1, buf,
				  sizeof(buf), &len),
	       GP_ERR_LIMIT, "at most");
	/* Out of reach: a target 2 GiB away. */
	p[0] = out;
	ck_err(lp_obj_link_pieces(o, 0xffffffffc0a00000ull + 0x80000000ull, p, 1, buf,
				  sizeof(buf), &len),
	       GP_ERR_UNSUPPORTED, "relocation to 'gp_resume'");
	ck_ok(lp_obj_link_pieces(o, 0xffffffffc0a00000ull, p, 0, buf, sizeof(buf), &len));
	ck_assert_uint_eq(len, 0);
	/* A pieces object is no patch. */
	ck_err(lp_obj_link(o, 0xffffffffc0a00000ull, 0xffffffffc0b00000ull, no_kernel, NULL, &img),
	       GP_ERR_INVAL, "not as a patch");
}
END_TEST

/* The patch loader still refuses the agent: it declares no patch. */
extern const uint8_t _binary_agent_o_start[], _binary_agent_o_end[];

START_TEST(agent_is_no_patch)
{
	struct lp_obj *o = NULL;

	ck_err(lp_obj_open(_binary_agent_o_start,
			   (size_t)(_binary_agent_o_end - _binary_agent_o_start), "agent.o", &o),
	       GP_ERR_INVAL, "no .gp.patch section");
	ck_assert_ptr_null(o);
}
END_TEST

static TCase *agent_tcase(void)
{
	TCase *tc = tcase_create("agent");

	tcase_add_test(tc, jmp_golden);
	tcase_add_test(tc, jmp_out_of_reach);
	tcase_add_test(tc, dispatch_golden);
	tcase_add_test(tc, dispatch_refusals);
	tcase_add_test(tc, plain_slot_golden);
	tcase_add_test(tc, nop_and_fill);
	tcase_add_test(tc, straggler_n0);
	tcase_add_test(tc, straggler_user);
	tcase_add_test(tc, straggler_kthread);
	tcase_add_test(tc, straggler_mixed);
	tcase_add_test(tc, straggler_rt);
	tcase_add_test(tc, straggler_refusals);
	tcase_add_test(tc, pieces_refusals);
	tcase_add_test(tc, agent_is_no_patch);
	return tc;
}
GP_TCASE(agent_tcase)
