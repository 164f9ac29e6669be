// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The ORC unwinder on synthetic stacks: a proper end, a user-mode entry
 * end, and every way a stack can be untrustworthy, each with its reason;
 * never a crash or an endless walk.
 */
#include <stdlib.h>
#include <string.h>

#include "gp_check.h"
#include "stack.h"

#define KMAP 0xffffffff80000000ull
#define MEM (1u << 20)
#define TEXT (KMAP + 0x80000)		/* synthetic text */
#define STK (KMAP + 0x10000)		/* task stack base, 16K */
#define TSIZE 0x4000

/* Functions (offsets from TEXT). */
enum { F_A = 0x1000, F_B = 0x1100, F_END = 0x1200, F_UNDEF = 0x1300, F_REGS = 0x1400,
       F_LOOP = 0x1500, F_STEP = 0x1600, F_FAR = 0x1700, F_LAST = 0x1800 };

static uint8_t *mem;
static struct kern k;
static struct stack_ctx c;
static struct task_info task;

static void orc_entry(uint8_t *raw, int16_t sp_off, int sp_reg, int type, int end)
{
	int16_t bp_off = 0;

	memcpy(raw, &sp_off, 2);
	memcpy(raw + 2, &bp_off, 2);
	raw[4] = (uint8_t)(sp_reg | (ORC_REG_UNDEFINED << 4));
	raw[5] = (uint8_t)(type | (end << 2));
}

static void setup(void)
{
	static const struct { uint64_t off; int16_t sp; int reg, type, end; } e[] = {
		{ F_A, 16, ORC_REG_SP, ORC_TYPE_CALL, 0 },
		{ F_B, 8, ORC_REG_SP, ORC_TYPE_CALL, 0 },
		{ F_END, 0, ORC_REG_UNDEFINED, ORC_TYPE_CALL, 1 },
		{ F_UNDEF, 0, ORC_REG_UNDEFINED, ORC_TYPE_CALL, 0 },
		{ F_REGS, 0, ORC_REG_SP, ORC_TYPE_REGS, 0 },
		{ F_LOOP, 0, ORC_REG_SP, ORC_TYPE_CALL, 0 },
		{ F_STEP, 8, ORC_REG_SP, ORC_TYPE_CALL, 0 },
		{ F_FAR, 0x7000, ORC_REG_SP, ORC_TYPE_CALL, 0 },
		{ F_LAST, 0, ORC_REG_UNDEFINED, ORC_TYPE_CALL, 0 },
	};
	int32_t rel[ARRAY_SIZE(e)];
	uint8_t raw[ARRAY_SIZE(e) * 6];
	const uint64_t ipbase = KMAP + 0x70000;

	mem = calloc(1, MEM);
	ck_assert(mem);
	memset(&k, 0, sizeof(k));
	ck_ok(tgt_buffer_new(mem, MEM, NULL, 0, &k.t));
	/* Everything lives in the linearly mapped "kernel image". */
	k.text_start = KMAP;
	k.image_end = KMAP + MEM;
	k.phys_base = 0;
	k.levels = 4;
	for (size_t i = 0; i < ARRAY_SIZE(e); i++) {
		rel[i] = (int32_t)(TEXT + e[i].off - (ipbase + i * 4));
		orc_entry(raw + i * 6, e[i].sp, e[i].reg, e[i].type, e[i].end);
	}
	memset(&c, 0, sizeof(c));
	c.k = &k;
	ck_ok(orc_from_raw(rel, ipbase, raw, ARRAY_SIZE(e), TEXT + 0x800, TEXT + 0x2000, &c.orc));
	c.thread_size = TSIZE;
	c.irq_stack_size = TSIZE;
	/* struct pt_regs as in 6.1 */
	c.regs_size = 168;
	c.r_r13 = 16; c.r_bp = 32; c.r_r10 = 56; c.r_dx = 96; c.r_di = 112;
	c.r_ip = 128; c.r_cs = 136; c.r_sp = 152;
	memset(&task, 0, sizeof(task));
	task.stack = STK;
	task.pid = 42;
}

static void teardown(void)
{
	orc_free(c.orc);
	tgt_close(k.t);
	free(mem);
}

static void put(uint64_t va, uint64_t v)
{
	memcpy(mem + (va - KMAP), &v, 8);
}

static struct stack_trace run(uint64_t ip, uint64_t sp)
{
	struct tgt_regs r = { .rip = ip, .rsp = sp, .cs = 0x10 };
	struct stack_trace tr;

	stack_unwind_regs(&c, &task, &r, -1, &tr);
	return tr;
}

#define S0 (STK + 0x1000)

/* Near the top of the stack, where a kthread's bottom frame lives. */
#define ST (STK + TSIZE - 0x100)

START_TEST(reliable_to_end)
{
	struct stack_trace tr;

	put(ST + 8, TEXT + F_B + 0x10);		/* A's return address */
	put(ST + 16, TEXT + F_END + 0x10);	/* B's return address */
	tr = run(TEXT + F_A + 4, ST);
	ck_assert_msg(tr.reliable, "unreliable: %s", tr.why);
	ck_assert_int_eq(tr.nr, 3);
	ck_assert_uint_eq(tr.f[1].pc, TEXT + F_B + 0x10);
	ck_assert(!tr.user_end);
	/* The same end mark deep inside the stack is not a stack end (asm
	 * thunks carry end marks too). */
	put(S0 + 8, TEXT + F_B + 0x10);
	put(S0 + 16, TEXT + F_END + 0x10);
	tr = run(TEXT + F_A + 4, S0);
	ck_assert_int_eq(tr.reason, STACK_NO_END);
	ck_assert(!tr.reliable && strstr(tr.why, "not at the stack bottom"));
}
END_TEST

START_TEST(reliable_user_entry)
{
	struct stack_trace tr;
	uint64_t regs = S0 + 16;

	put(S0 + 8, TEXT + F_REGS + 0x10);
	put(regs + 128, 0x401000);	/* user ip */
	put(regs + 136, 0x33);		/* user cs */
	put(regs + 152, 0x7ffc0000);	/* user sp */
	tr = run(TEXT + F_A + 4, S0);
	ck_assert_msg(tr.reliable && tr.user_end, "got %s", tr.why);
	ck_assert_int_eq(tr.nr, 2);
}
END_TEST

START_TEST(unreliable_cases)
{
	struct stack_trace tr;
	uint64_t regs = S0 + 16;

	/* Kernel-mode registers mid-stack. */
	put(S0 + 8, TEXT + F_REGS + 0x10);
	put(regs + 128, TEXT + F_A + 8);
	put(regs + 136, 0x10);
	put(regs + 152, S0 + 0x200);
	tr = run(TEXT + F_A + 4, S0);
	ck_assert_int_eq(tr.reason, STACK_KERNEL_REGS);
	ck_assert(!tr.reliable && strstr(tr.why, "kernel-mode registers"));

	/* A return address in text that has no ORC entry. */
	put(S0 + 8, TEXT + 0x900);
	tr = run(TEXT + F_A + 4, S0);
	ck_assert_int_eq(tr.reason, STACK_NO_ORC);
	ck_assert(strstr(tr.why, "no ORC data"));

	/* Garbage return address. */
	put(S0 + 8, 0x4141414141414141ull);
	tr = run(TEXT + F_A + 4, S0);
	ck_assert_int_eq(tr.reason, STACK_BAD_RET);
	ck_assert(strstr(tr.why, "not kernel text"));

	/* A frame whose size carries sp off the stack. */
	tr = run(TEXT + F_FAR + 4, S0);
	ck_assert_int_eq(tr.reason, STACK_OFF_STACK);

	/* A frame of size 0: sp does not move up; must stop. */
	put(S0 - 8, TEXT + F_LOOP + 0x10);
	tr = run(TEXT + F_LOOP + 4, S0);
	ck_assert_int_eq(tr.reason, STACK_NOT_UP);

	/* A chain of returns that never ends: bounded. */
	for (uint64_t a = S0; a < STK + TSIZE; a += 8)
		put(a, TEXT + F_STEP + 0x10);
	tr = run(TEXT + F_STEP + 4, S0);
	ck_assert_int_eq(tr.reason, STACK_TOO_DEEP);
	ck_assert_int_eq(tr.nr, STACK_MAX_FRAMES);

	/* An undefined stack without the end mark. */
	tr = run(TEXT + F_UNDEF + 4, S0);
	ck_assert_int_eq(tr.reason, STACK_BAD_ORC);

	/* The vCPU's stack pointer is not on the task's stack at all. */
	tr = run(TEXT + F_A + 4, KMAP + 0xf0000);
	ck_assert_int_eq(tr.reason, STACK_OFF_STACK);

	/* A user-mode vCPU: the kernel stack is empty, reliably. */
	{
		struct tgt_regs r = { .rip = 0x401000, .rsp = 0x7ffc0000, .cs = 0x33 };

		stack_unwind_regs(&c, &task, &r, -1, &tr);
		ck_assert(tr.reliable && tr.user_end && tr.nr == 0);
	}
}
END_TEST

/* Issue 11: a pt_regs layout that does not fit the 256-byte buffer the
 * unwinder reads a frame's registers into (stack_ctx_init refuses it from
 * BTF; the unwinder itself does not trust it either). */
START_TEST(regs_layout_out_of_bounds)
{
	struct stack_trace tr;
	uint64_t regs = S0 + 16;

	put(S0 + 8, TEXT + F_REGS + 0x10);
	put(regs + 128, 0x401000);
	put(regs + 136, 0x33);
	put(regs + 152, 0x7ffc0000);
	c.r_ip = 4000;
	tr = run(TEXT + F_A + 4, S0);
	ck_assert_int_eq(tr.reason, STACK_BAD_ORC);
	ck_assert_msg(!tr.reliable && strstr(tr.why, "pt_regs"), "got %s", tr.why);
	c.r_ip = 164;	/* the last 4 bytes past the 168-byte struct */
	tr = run(TEXT + F_A + 4, S0);
	ck_assert_int_eq(tr.reason, STACK_BAD_ORC);
	c.r_ip = 128;
	tr = run(TEXT + F_A + 4, S0);
	ck_assert_msg(tr.reliable && tr.user_end, "got %s", tr.why);
}
END_TEST

/* Random stack contents: every walk ends, with any verdict. */
START_TEST(random_stacks)
{
	unsigned seed = 99;

	for (int iter = 0; iter < 3000; iter++) {
		struct stack_trace tr;

		for (uint64_t a = STK; a < STK + TSIZE; a += 8) {
			uint64_t v;

			seed = seed * 1103515245 + 12345;
			v = (seed >> 8) % 4 == 0 ? TEXT + 0x1000 + (seed % 0x900) :
			    (seed >> 8) % 4 == 1 ? STK + (seed % TSIZE) : (uint64_t)seed * 0x9e3779b97f4a7c15ull;
			put(a, v);
		}
		tr = run(TEXT + 0x1000 + (seed % 0x800), STK + 0x800 + (seed % 0x3000) / 8 * 8);
		ck_assert_int_le(tr.nr, STACK_MAX_FRAMES);
	}
}
END_TEST

static TCase *orc_tcase(void)
{
	TCase *tc = tcase_create("orc");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, reliable_to_end);
	tcase_add_test(tc, reliable_user_entry);
	tcase_add_test(tc, unreliable_cases);
	tcase_add_test(tc, random_stacks);
	tcase_add_test(tc, regs_layout_out_of_bounds);
	return tc;
}
GP_TCASE(orc_tcase)
