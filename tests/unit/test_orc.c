// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The ORC unwinder on synthetic stacks: a proper end, a user-mode entry
 * end, and every way a stack can be untrustworthy, each with its reason;
 * never a crash or an endless walk.
 */
#include <bpf/btf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gp_check.h"
#include "kallsyms.h"
#include "stack.h"

#define KMAP 0xffffffff80000000ull
#define MEM (1u << 20)
#define TEXT (KMAP + 0x80000)		/* synthetic text */
#define STK (KMAP + 0x10000)		/* task stack base, 16K */
#define TSIZE 0x4000

/* Functions (offsets from TEXT). */
enum { F_A = 0x1000, F_B = 0x1100, F_END = 0x1200, F_UNDEF = 0x1300, F_REGS = 0x1400,
       F_LOOP = 0x1500, F_STEP = 0x1600, F_FAR = 0x1700, F_IRET = 0x1780, F_LAST = 0x1800 };

static uint8_t *mem;
static struct kern k;
static struct stack_ctx c;
static struct task_info task;

/* The synthetic table, in the meanings every format decodes into; an
 * undefined sp_reg with `end` is the end of the stack, as 6.1 writes it. */
static const struct { uint64_t off; int16_t sp; int reg, type, end; } ents[] = {
	{ F_A, 16, ORC_REG_SP, ORC_TYPE_CALL, 0 },
	{ F_B, 8, ORC_REG_SP, ORC_TYPE_CALL, 0 },
	{ F_END, 0, ORC_REG_UNDEFINED, ORC_TYPE_CALL, 1 },
	{ F_UNDEF, 0, ORC_REG_UNDEFINED, ORC_TYPE_CALL, 0 },
	{ F_REGS, 0, ORC_REG_SP, ORC_TYPE_REGS, 0 },
	{ F_LOOP, 0, ORC_REG_SP, ORC_TYPE_CALL, 0 },
	{ F_STEP, 8, ORC_REG_SP, ORC_TYPE_CALL, 0 },
	{ F_FAR, 0x7000, ORC_REG_SP, ORC_TYPE_CALL, 0 },
	{ F_IRET, 0, ORC_REG_SP, ORC_TYPE_REGS_PARTIAL, 0 },
	{ F_LAST, 0, ORC_REG_UNDEFINED, ORC_TYPE_CALL, 0 },
};

#define IPBASE (KMAP + 0x70000)

/* One 6-byte entry as a kernel of format `f` writes it: 6.1 (type:2 with
 * CALL 0, end:1) or 6.4 (type:3 with UNDEFINED 0 ... REGS_PARTIAL 4,
 * signal:1, which objtool sets for the REGS types). */
static void orc_entry(const struct orc_format *f, uint8_t *raw, int16_t sp_off, int sp_reg,
		      int type, int end)
{
	int16_t bp_off = 0;

	memcpy(raw, &sp_off, 2);
	memcpy(raw + 2, &bp_off, 2);
	raw[4] = (uint8_t)(sp_reg | (ORC_REG_UNDEFINED << 4));
	if (!strcmp(f->name, "linux-6.1")) {
		raw[5] = (uint8_t)((type - ORC_TYPE_CALL) | (end << 2));
		return;
	}
	if (sp_reg == ORC_REG_UNDEFINED)
		type = end ? ORC_TYPE_END_OF_STACK : ORC_TYPE_UNDEFINED;
	raw[5] = (uint8_t)(type | ((type == ORC_TYPE_REGS || type == ORC_TYPE_REGS_PARTIAL) << 3));
}

static void build_table(const struct orc_format *f, int32_t *rel, uint8_t *raw)
{
	for (size_t i = 0; i < ARRAY_SIZE(ents); i++) {
		rel[i] = (int32_t)(TEXT + ents[i].off - (IPBASE + i * 4));
		orc_entry(f, raw + i * 6, ents[i].sp, ents[i].reg, ents[i].type, ents[i].end);
	}
}

static const char *const format_names[] = { "linux-6.1", "linux-6.4" };

/* The unwinder's table in format i of format_names. */
static void use_format(int i)
{
	const struct orc_format *f = orc_format_by_name(format_names[i]);
	int32_t rel[ARRAY_SIZE(ents)];
	uint8_t raw[ARRAY_SIZE(ents) * 6];

	ck_assert(f);
	build_table(f, rel, raw);
	orc_free(c.orc);
	c.orc = NULL;
	ck_ok(orc_from_raw(f, rel, IPBASE, raw, ARRAY_SIZE(ents), TEXT + 0x800, TEXT + 0x2000,
			   &c.orc));
}

static void setup(void)
{
	mem = calloc(1, MEM);
	ck_assert(mem);
	memset(&k, 0, sizeof(k));
	ck_ok(tgt_buffer_new(mem, MEM, NULL, 0, &k.t));
	/* Everything lives in the linearly mapped "kernel image". */
	k.text_start = KMAP;
	k.image_end = KMAP + MEM;
	k.phys_base = 0;
	k.levels = 4;
	memset(&c, 0, sizeof(c));
	c.k = &k;
	use_format(0);
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

	use_format(_i);

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

	use_format(_i);

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

	use_format(_i);

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
	/* ... still recorded as the last frame: it may be guestpatch's own
	 * code (a patch, a trampoline, the agent), and the checks that free
	 * that code must see it on the stack. */
	ck_assert_int_ge(tr.nr, 2);
	ck_assert_uint_eq(tr.f[tr.nr - 1].pc, 0x4141414141414141ull);

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

	use_format(_i);

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

	use_format(_i);

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

/* REGS_PARTIAL: the iret frame only; user-mode entry ends reliably, a
 * kernel-mode one mid-stack does not. */
START_TEST(regs_partial)
{
	struct stack_trace tr;
	uint64_t f = S0 + 16;	/* ip, cs, flags, sp, ss */

	use_format(_i);
	put(S0 + 8, TEXT + F_IRET + 0x10);
	put(f, 0x401000);
	put(f + 8, 0x33);
	put(f + 24, 0x7ffc0000);
	tr = run(TEXT + F_A + 4, S0);
	ck_assert_msg(tr.reliable && tr.user_end, "got %s", tr.why);
	ck_assert_int_eq(tr.nr, 2);
	put(f, TEXT + F_A + 8);
	put(f + 8, 0x10);
	put(f + 24, S0 + 0x200);
	tr = run(TEXT + F_A + 4, S0);
	ck_assert_int_eq(tr.reason, STACK_KERNEL_REGS);
	ck_assert(!tr.reliable);
}
END_TEST

/* 6.4+ entries, byte by byte: each type and the signal bit. The same
 * bytes read with 6.1's rules mean something else (an UNDEFINED entry
 * would unwind as a CALL): the reason the format is never guessed. */
START_TEST(decode_6_4_entries)
{
	static const struct { uint8_t b4, b5; int type; bool signal; } v[] = {
		{ ORC_REG_SP, 0x02, ORC_TYPE_CALL, false },
		{ ORC_REG_SP, 0x0a, ORC_TYPE_CALL, true },
		{ ORC_REG_SP, 0x0b, ORC_TYPE_REGS, true },
		{ ORC_REG_SP, 0x0c, ORC_TYPE_REGS_PARTIAL, true },
		{ ORC_REG_UNDEFINED, 0x01, ORC_TYPE_END_OF_STACK, false },
		{ ORC_REG_SP, 0x00, ORC_TYPE_UNDEFINED, false },
		{ ORC_REG_SP, 0x05, 5, false },	/* no such type: the unwinder stops */
	};
	const struct orc_format *f64 = orc_format_by_name("linux-6.4");
	const struct orc_format *f61 = orc_format_by_name("linux-6.1");
	int32_t rel[ARRAY_SIZE(v)];
	uint8_t raw[ARRAY_SIZE(v) * 6];
	struct orc_table *t;
	struct orc_entry e;
	struct stack_trace tr;

	ck_assert(f64 && f61);
	memset(raw, 0, sizeof(raw));
	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		rel[i] = (int32_t)(TEXT + 0x1000 + i * 0x100 - (IPBASE + i * 4));
		raw[i * 6] = 8;
		raw[i * 6 + 4] = v[i].b4;
		raw[i * 6 + 5] = v[i].b5;
	}
	ck_ok(orc_from_raw(f64, rel, IPBASE, raw, ARRAY_SIZE(v), TEXT + 0x800, TEXT + 0x2000, &t));
	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		ck_assert(orc_find(t, TEXT + 0x1000 + i * 0x100 + 4, &e));
		ck_assert_int_eq(e.type, v[i].type);
		ck_assert_int_eq(e.signal, v[i].signal);
		ck_assert_int_eq(e.sp_reg, v[i].b4);
		ck_assert_int_eq(e.sp_offset, 8);
	}
	/* The UNDEFINED entry (index 5) under 6.4 rules stops the walk... */
	orc_free(c.orc);
	c.orc = t;
	tr = run(TEXT + 0x1500 + 4, S0);
	ck_assert_int_eq(tr.reason, STACK_BAD_ORC);
	ck_assert(strstr(tr.why, "undefined stack"));
	/* ... and with 6.1's rules it would read as a plain CALL frame. */
	orc_free(c.orc);
	ck_ok(orc_from_raw(f61, rel, IPBASE, raw, ARRAY_SIZE(v), TEXT + 0x800, TEXT + 0x2000, &c.orc));
	ck_assert(orc_find(c.orc, TEXT + 0x1500 + 4, &e) && e.type == ORC_TYPE_CALL);
	ck_assert(orc_find(c.orc, TEXT + 0x1000 + 4, &e) && e.type == ORC_TYPE_REGS_PARTIAL);
	/* No table without a format. */
	ck_err(orc_from_raw(NULL, rel, IPBASE, raw, ARRAY_SIZE(v), TEXT + 0x800, TEXT + 0x2000, &t),
	       GP_ERR_UNSUPPORTED, "unknown format");
}
END_TEST

static const uint8_t hash_6_12[ORC_HASH_LEN] = {
	0xfe, 0x5d, 0x32, 0xbf, 0x58, 0x1b, 0xd6, 0x3b, 0x2c, 0xa9,
	0xa5, 0xc6, 0x5b, 0xa5, 0xa6, 0x25, 0xea, 0xb3, 0xfe, 0x24,
};
/* drgn's hash for 6.3.10+: not one we list (type:2, signal:1, end:1). */
static const uint8_t hash_6_3[ORC_HASH_LEN] = {
	0xdb, 0x84, 0xae, 0xd4, 0x10, 0x3b, 0x31, 0xdd, 0x51, 0xe0,
	0x17, 0xf8, 0xf7, 0x97, 0x83, 0xca, 0x98, 0x5c, 0x2c, 0x51,
};
static const struct orc_shape shape_6_1 = { 32, 36, 40, 2, 42, -1 };
static const struct orc_shape shape_6_3 = { 32, 36, 40, 2, 43, 42 };
static const struct orc_shape shape_6_4 = { 32, 36, 40, 3, -1, 43 };

#define UNKNOWN_MSG "ORC format db84aed4103b31dd51e017f8f79783ca985c2c51 is not one guestpatch knows: stacks cannot be checked, so nothing will be patched"

START_TEST(format_pick)
{
	const struct orc_format *f;

	/* The header names the format; BTF, if it has the struct, agrees. */
	ck_ok(orc_format_pick(hash_6_12, NULL, &f));
	ck_assert_str_eq(f->name, "linux-6.4");
	ck_ok(orc_format_pick(hash_6_12, &shape_6_4, &f));
	ck_assert_str_eq(f->name, "linux-6.4");
	/* A 6.1-shaped entry under a 6.12 header: never decoded as 6.1. */
	ck_err(orc_format_pick(hash_6_12, &shape_6_1, &f), GP_ERR_UNSUPPORTED,
	       "names format linux-6.4, but the guest's BTF has struct orc_entry");
	ck_assert(!f);
	/* An unknown header is refused by name, whatever BTF says. */
	ck_err(orc_format_pick(hash_6_3, NULL, &f), GP_ERR_UNSUPPORTED, UNKNOWN_MSG);
	ck_err(orc_format_pick(hash_6_3, &shape_6_1, &f), GP_ERR_UNSUPPORTED, UNKNOWN_MSG);
	/* No header: 6.1's shape only. */
	ck_ok(orc_format_pick(NULL, &shape_6_1, &f));
	ck_assert_str_eq(f->name, "linux-6.1");
	ck_err(orc_format_pick(NULL, &shape_6_3, &f), GP_ERR_UNSUPPORTED,
	       "type:2@40 end@43 signal@42 } in the guest's BTF, is not one guestpatch knows");
	ck_err(orc_format_pick(NULL, &shape_6_4, &f), GP_ERR_UNSUPPORTED, "is not one guestpatch knows");
	ck_err(orc_format_pick(NULL, NULL, &f), GP_ERR_UNSUPPORTED, "no struct orc_entry");
	ck_assert(!orc_format_by_name("linux-6.3"));
}
END_TEST

/* struct orc_entry in a BTF: shape 0 = 6.1, 1 = 6.4, 2 = 6.4 but 8 bytes. */
static struct kbtf *orc_btf(int shape)
{
	struct btf *b = btf__new_empty();
	int s16, u32;
	const void *raw;
	struct kbtf *kb;
	__u32 sz;

	s16 = btf__add_int(b, "short int", 2, BTF_INT_SIGNED);
	u32 = btf__add_int(b, "unsigned int", 4, 0);
	btf__add_struct(b, "orc_entry", shape == 2 ? 8 : 6);
	btf__add_field(b, "sp_offset", s16, 0, 0);
	btf__add_field(b, "bp_offset", s16, 16, 0);
	btf__add_field(b, "sp_reg", u32, 32, 4);
	btf__add_field(b, "bp_reg", u32, 36, 4);
	if (shape == 0) {
		btf__add_field(b, "type", u32, 40, 2);
		btf__add_field(b, "end", u32, 42, 1);
	} else {
		btf__add_field(b, "type", u32, 40, 3);
		btf__add_field(b, "signal", u32, 43, 1);
	}
	raw = btf__raw_data(b, &sz);
	ck_ok(kbtf_load(raw, sz, &kb));
	btf__free(b);
	return kb;
}

#define UBASE (KMAP + 0x71000)
#define HDR (KMAP + 0x72000)

/* The guest's tables and symbols: with the ORC header's two symbols, or
 * without them (and then __stop_orc_header at hdr_len). */
static void guest_tables(const char *fmt, bool header, unsigned hdr_len)
{
	int32_t rel[ARRAY_SIZE(ents)];
	uint8_t raw[ARRAY_SIZE(ents) * 6];
	char map[1024];
	int n;

	build_table(orc_format_by_name(fmt), rel, raw);
	memcpy(mem + (IPBASE - KMAP), rel, sizeof(rel));
	memcpy(mem + (UBASE - KMAP), raw, sizeof(raw));
	n = snprintf(map, sizeof(map),
		     "%016llx T _text\n%016llx T _etext\n"
		     "%016llx r __start_orc_unwind_ip\n%016llx r __stop_orc_unwind_ip\n"
		     "%016llx r __start_orc_unwind\n%016llx r __stop_orc_unwind\n",
		     TEXT + 0x800, TEXT + 0x2000, IPBASE, IPBASE + sizeof(rel), UBASE,
		     UBASE + sizeof(raw));
	if (header)
		snprintf(map + n, sizeof(map) - (size_t)n,
			 "%016llx r __start_orc_header\n%016llx r __stop_orc_header\n", HDR,
			 HDR + hdr_len);
	ksym_free(k.syms);
	k.syms = NULL;
	ck_ok(ksym_parse_map(map, strlen(map), 0, &k.syms));
}

/* orc_load() on what the guest shows: the header in its memory, the shape
 * in its BTF. */
START_TEST(format_from_guest)
{
	struct kbtf *b61 = orc_btf(0), *b64 = orc_btf(1), *bbad = orc_btf(2);
	struct orc_table *t;
	struct orc_entry e;

	/* 6.12: the header's hash, 6.4+ entries, decoded by 6.4 rules. */
	guest_tables("linux-6.4", true, ORC_HASH_LEN);
	memcpy(mem + (HDR - KMAP), hash_6_12, ORC_HASH_LEN);
	ck_ok(orc_load(&k, &t));
	ck_assert_str_eq(t->fmt->name, "linux-6.4");
	ck_assert(orc_find(t, TEXT + F_A + 4, &e) && e.type == ORC_TYPE_CALL && !e.signal);
	ck_assert(orc_find(t, TEXT + F_END + 4, &e) && e.type == ORC_TYPE_END_OF_STACK);
	ck_assert(orc_find(t, TEXT + F_UNDEF + 4, &e) && e.type == ORC_TYPE_UNDEFINED);
	ck_assert(orc_find(t, TEXT + F_REGS + 4, &e) && e.type == ORC_TYPE_REGS && e.signal);
	ck_assert(orc_find(t, TEXT + F_IRET + 4, &e) && e.type == ORC_TYPE_REGS_PARTIAL);
	orc_free(t);
	k.btf = b64;
	ck_ok(orc_load(&k, &t));
	orc_free(t);
	/* The header says 6.12, BTF says 6.1: refused, not decoded as 6.1. */
	k.btf = b61;
	ck_err(orc_load(&k, &t), GP_ERR_UNSUPPORTED, "names format linux-6.4");
	ck_assert(!t);
	k.btf = bbad;
	ck_err(orc_load(&k, &t), GP_ERR_UNSUPPORTED, "8 bytes, not 6");
	/* An unknown header: refused by name. */
	k.btf = NULL;
	memcpy(mem + (HDR - KMAP), hash_6_3, ORC_HASH_LEN);
	ck_err(orc_load(&k, &t), GP_ERR_UNSUPPORTED, UNKNOWN_MSG);
	/* A header that is not 20 bytes. */
	guest_tables("linux-6.4", true, 16);
	ck_err(orc_load(&k, &t), GP_ERR_CORRUPT, "16 bytes, not 20");
	/* 6.1: no header symbol, BTF with 6.1's struct orc_entry. */
	guest_tables("linux-6.1", false, 0);
	k.btf = b61;
	ck_ok(orc_load(&k, &t));
	ck_assert_str_eq(t->fmt->name, "linux-6.1");
	ck_assert(orc_find(t, TEXT + F_END + 4, &e) && e.type == ORC_TYPE_END_OF_STACK);
	ck_assert(orc_find(t, TEXT + F_UNDEF + 4, &e) && e.type == ORC_TYPE_UNDEFINED);
	ck_assert(orc_find(t, TEXT + F_REGS + 4, &e) && e.type == ORC_TYPE_REGS && e.signal);
	orc_free(t);
	/* No header, 6.4-shaped entries: no format to name them; refused. */
	k.btf = b64;
	ck_err(orc_load(&k, &t), GP_ERR_UNSUPPORTED, "is not one guestpatch knows");
	/* No header and nothing in BTF to tell the format by. */
	k.btf = NULL;
	ck_err(orc_load(&k, &t), GP_ERR_UNSUPPORTED, "cannot be told");
	ksym_free(k.syms);
	k.syms = NULL;
	kbtf_free(b61);
	kbtf_free(b64);
	kbtf_free(bbad);
}
END_TEST

/* The kernel's table is looked up where it lies in guest RAM (no copy);
 * a table that is not sorted is refused when copied, and looked up in
 * place it stays within its entries whatever they say. */
START_TEST(table_in_place)
{
	struct kbtf *b61 = orc_btf(0);
	struct orc_table *t;
	struct orc_entry e;
	int32_t rel[ARRAY_SIZE(ents)];
	uint8_t raw[ARRAY_SIZE(ents) * 6];
	uint8_t fill[6] = { 0 };

	guest_tables("linux-6.1", false, 0);
	k.btf = b61;
	ck_ok(orc_load(&k, &t));
	ck_assert_ptr_null(t->owned);
	ck_assert_ptr_eq(t->rel, mem + (IPBASE - KMAP));
	ck_assert_ptr_eq(t->raw, mem + (UBASE - KMAP));
	ck_assert(orc_find(t, TEXT + F_A + 4, &e) && e.type == ORC_TYPE_CALL && e.sp_offset == 16);
	/* What the guest's memory says at lookup time (it is paused then). */
	fill[0] = 24;
	fill[4] = ORC_REG_SP;
	memcpy(mem + (UBASE - KMAP), fill, 6);
	ck_assert(orc_find(t, TEXT + F_A + 4, &e) && e.sp_offset == 24);
	orc_free(t);

	/* Entries 2 and 5 swapped: not sorted. */
	memcpy(rel, mem + (IPBASE - KMAP), sizeof(rel));
	memcpy(raw, mem + (UBASE - KMAP), sizeof(raw));
	rel[2] = (int32_t)(TEXT + ents[5].off - (IPBASE + 2 * 4));
	rel[5] = (int32_t)(TEXT + ents[2].off - (IPBASE + 5 * 4));
	ck_err(orc_from_raw(orc_format_by_name("linux-6.1"), rel, IPBASE, raw, ARRAY_SIZE(ents),
			    TEXT + 0x800, TEXT + 0x2000, &t),
	       GP_ERR_CORRUPT, "not sorted at entry 3");
	ck_assert(!t);
	k.btf = NULL;
	ksym_free(k.syms);
	k.syms = NULL;
	kbtf_free(b61);

	/* Garbage in place, in buffers of exactly n entries (the sanitizer
	 * catches a read past them): every lookup stays inside them. */
	srand(7);
	for (int round = 0; round < 200; round++) {
		size_t n = 1 + (size_t)rand() % 64;
		uint8_t *r = malloc(n * 4), *u = malloc(n * 6);

		ck_assert(r && u);
		for (size_t i = 0; i < n * 4; i++)
			r[i] = (uint8_t)(round & 1 ? rand() : (rand() & 3) ? 0 : rand());
		for (size_t i = 0; i < n * 6; i++)
			u[i] = (uint8_t)rand();
		ck_ok(orc_in_place(orc_format_by_name("linux-6.4"), r, TEXT + 0x1000, u, n, TEXT,
				   TEXT + 0x4000, &t));
		for (int q = 0; q < 64; q++) {
			uint64_t ip = TEXT + (uint64_t)(rand() % 0x4000);

			if (orc_find(t, ip, &e))
				ck_assert(ip >= orc_ip(t, 0));
		}
		orc_free(t);
		free(r);
		free(u);
	}
}
END_TEST

static TCase *orc_tcase(void)
{
	TCase *tc = tcase_create("orc");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	/* The unwinder's cases in every format the table knows. */
	tcase_add_loop_test(tc, reliable_to_end, 0, ARRAY_SIZE(format_names));
	tcase_add_loop_test(tc, reliable_user_entry, 0, ARRAY_SIZE(format_names));
	tcase_add_loop_test(tc, unreliable_cases, 0, ARRAY_SIZE(format_names));
	tcase_add_loop_test(tc, random_stacks, 0, ARRAY_SIZE(format_names));
	tcase_add_loop_test(tc, regs_layout_out_of_bounds, 0, ARRAY_SIZE(format_names));
	tcase_add_loop_test(tc, regs_partial, 0, ARRAY_SIZE(format_names));
	tcase_add_test(tc, decode_6_4_entries);
	tcase_add_test(tc, format_pick);
	tcase_add_test(tc, format_from_guest);
	tcase_add_test(tc, table_in_place);
	return tc;
}
GP_TCASE(orc_tcase)
