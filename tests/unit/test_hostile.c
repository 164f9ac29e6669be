// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * introspect/ against a guest that lies in bulk: BTF layouts that do not
 * fit the buffers they index, and tables sized to make the tool allocate
 * gigabytes.  A small kernel image is mapped linearly at KMAP (as the
 * kernel's own image is), with its symbols, BTF, ORC table and tasks; each
 * case bends one part of it and expects an error naming the limit.
 */
#include <bpf/btf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gp_check.h"
#include "kallsyms.h"
#include "modules.h"
#include "stack.h"
#include "stacks.h"

#define KMAP 0xffffffff80000000ull
#define MEM (24u << 20)
#define TEXT (KMAP + 0x100000)		/* _text .. _etext */
#define ORC_IP (KMAP + 0x200000)
#define ORC_U (KMAP + 0x201000)
#define PCPU (KMAP + 0x210000)		/* CPU 0's per-cpu area */
#define INIT_STACK (KMAP + 0x220000)	/* 16K */
#define SIG (KMAP + 0x230000)		/* the one process's signal_struct */
#define TASKS (KMAP + 0x300000)		/* task i at TASKS + i * TSZ */
#define TSZ 160ull
#define MAX_TASKS ((MEM - 0x300000) / TSZ)

/* struct task_struct as this BTF lays it out */
#define T_STATE 24
#define T_STACK 32
#define T_TASKS 48
#define T_PID 68
#define T_TGID 72
#define T_THREAD_NODE 80
#define T_SIGNAL 96
#define T_COMM 104
#define S_HEAD 16
/* struct module */
#define MOD_SIZE 200
#define M_LIST 8
#define M_NAME 24
#define M_BASE 80
#define M_SIZE 88
#define M_TEXT_SIZE 92
#define M_NUM_ORCS 112
#define M_ORC_IP 120
#define M_ORC_U 128
#define M_SYMTAB 144
#define M_NUM_SYMTAB 152
#define M_STRTAB 160
#define MODULES (KMAP + 0x240000)	/* the list head */
#define MODS (KMAP + 0x241000)		/* module i at MODS + i * 0x100 */
#define MOD_SYMTAB (KMAP + 0x250000)	/* one symbol, shared */
#define UNMAPPED 0xffffc90000000000ull	/* vmalloc space nobody mapped */

struct mini {
	uint8_t *mem;
	struct kern k;
};

static uint8_t *at(struct mini *m, uint64_t va)
{
	ck_assert(va >= KMAP && va < KMAP + MEM);
	return m->mem + (va - KMAP);
}

static void put64(struct mini *m, uint64_t va, uint64_t v)
{
	memcpy(at(m, va), &v, 8);
}

static void put32(struct mini *m, uint64_t va, uint32_t v)
{
	memcpy(at(m, va), &v, 4);
}

/* pt_regs as in 6.1 (168 bytes), but with ip at ip_off and the struct
 * regs_size bytes long. */
static struct kbtf *make_btf(uint32_t ip_off, uint32_t regs_size)
{
	struct btf *b = btf__new_empty();
	int u32, i32, u64, chr, lh, ptr, ti, ts, comm, regs;
	const void *raw;
	struct kbtf *k;
	__u32 sz;

	u32 = btf__add_int(b, "unsigned int", 4, 0);
	i32 = btf__add_int(b, "int", 4, BTF_INT_SIGNED);
	u64 = btf__add_int(b, "long unsigned int", 8, 0);
	chr = btf__add_int(b, "char", 1, BTF_INT_CHAR);
	lh = btf__add_struct(b, "list_head", 16);
	ptr = btf__add_ptr(b, lh);
	btf__add_field(b, "next", ptr, 0, 0);
	btf__add_field(b, "prev", ptr, 64, 0);
	ti = btf__add_struct(b, "thread_info", 24);
	btf__add_field(b, "flags", u64, 0, 0);
	btf__add_field(b, "cpu", u32, 128, 0);
	ts = btf__add_struct(b, "thread_struct", 16);
	btf__add_field(b, "es", u64, 0, 0);
	btf__add_field(b, "sp", u64, 64, 0);
	comm = btf__add_array(b, i32, chr, 16);
	btf__add_struct(b, "task_struct", TSZ);
	btf__add_field(b, "thread_info", ti, 0, 0);
	btf__add_field(b, "__state", u32, T_STATE * 8, 0);
	btf__add_field(b, "stack", u64, T_STACK * 8, 0);
	btf__add_field(b, "flags", u32, 40 * 8, 0);
	btf__add_field(b, "on_cpu", i32, 44 * 8, 0);
	btf__add_field(b, "tasks", lh, T_TASKS * 8, 0);
	btf__add_field(b, "exit_state", i32, 64 * 8, 0);
	btf__add_field(b, "pid", i32, T_PID * 8, 0);
	btf__add_field(b, "tgid", i32, T_TGID * 8, 0);
	btf__add_field(b, "thread_node", lh, T_THREAD_NODE * 8, 0);
	btf__add_field(b, "signal", u64, T_SIGNAL * 8, 0);
	btf__add_field(b, "comm", comm, T_COMM * 8, 0);
	btf__add_field(b, "thread", ts, 128 * 8, 0);
	btf__add_struct(b, "signal_struct", 64);
	btf__add_field(b, "thread_head", lh, S_HEAD * 8, 0);
	btf__add_struct(b, "rq", 64);
	btf__add_field(b, "curr", u64, 8 * 8, 0);
	btf__add_field(b, "idle", u64, 16 * 8, 0);
	btf__add_struct(b, "inactive_task_frame", 56);
	btf__add_field(b, "bp", u64, 40 * 8, 0);
	btf__add_field(b, "ret_addr", u64, 48 * 8, 0);
	/* struct module, as far as introspect/modules.c reads it */
	{
		int lay, arch, mks, name;

		lay = btf__add_struct(b, "module_layout", 24);
		btf__add_field(b, "base", u64, 0, 0);
		btf__add_field(b, "size", u32, 64, 0);
		btf__add_field(b, "text_size", u32, 96, 0);
		arch = btf__add_struct(b, "mod_arch_specific", 24);
		btf__add_field(b, "num_orcs", u32, 0, 0);
		btf__add_field(b, "orc_unwind_ip", u64, 64, 0);
		btf__add_field(b, "orc_unwind", u64, 128, 0);
		mks = btf__add_struct(b, "mod_kallsyms", 24);
		btf__add_field(b, "symtab", u64, 0, 0);
		btf__add_field(b, "num_symtab", u32, 64, 0);
		btf__add_field(b, "strtab", u64, 128, 0);
		name = btf__add_array(b, i32, chr, 56);
		btf__add_struct(b, "module", MOD_SIZE);
		btf__add_field(b, "state", u32, 0, 0);
		btf__add_field(b, "list", lh, 8 * 8, 0);
		btf__add_field(b, "name", name, 24 * 8, 0);
		btf__add_field(b, "core_layout", lay, 80 * 8, 0);
		btf__add_field(b, "arch", arch, 112 * 8, 0);
		btf__add_field(b, "core_kallsyms", mks, 144 * 8, 0);
	}
	regs = btf__add_struct(b, "pt_regs", regs_size);
	btf__add_field(b, "r13", u64, 16 * 8, 0);
	btf__add_field(b, "bp", u64, 32 * 8, 0);
	btf__add_field(b, "r10", u64, 56 * 8, 0);
	btf__add_field(b, "dx", u64, 96 * 8, 0);
	btf__add_field(b, "di", u64, 112 * 8, 0);
	btf__add_field(b, "ip", u64, ip_off * 8, 0);
	btf__add_field(b, "cs", u64, 136 * 8, 0);
	btf__add_field(b, "sp", u64, 152 * 8, 0);
	(void)regs;
	/* struct orc_entry as 6.1 has it: the ORC format of a kernel
	 * without an ORC header (introspect/orc_format.c) */
	{
		int s16 = btf__add_int(b, "short int", 2, BTF_INT_SIGNED);

		btf__add_struct(b, "orc_entry", 6);
		btf__add_field(b, "sp_offset", s16, 0, 0);
		btf__add_field(b, "bp_offset", s16, 16, 0);
		btf__add_field(b, "sp_reg", u32, 32, 4);
		btf__add_field(b, "bp_reg", u32, 36, 4);
		btf__add_field(b, "type", u32, 40, 2);
		btf__add_field(b, "end", u32, 42, 1);
	}
	raw = btf__raw_data(b, &sz);
	ck_ok(kbtf_load(raw, sz, &k));
	btf__free(b);
	return k;
}

static uint64_t task_va(size_t i)
{
	return TASKS + i * TSZ;
}

/* Task 0 is init_task (CPU 0's idle task); tasks 1..nthreads are the
 * threads of one process led by task 1. */
static void mini_init(struct mini *m, struct kbtf *btf, size_t nthreads)
{
	char map[2048];
	uint64_t prev;
	int32_t rel;
	static const uint8_t orc_end[6] = { 0, 0, 0, 0, 0, 4 };	/* undefined sp, end */

	ck_assert(nthreads + 1 <= MAX_TASKS);
	memset(m, 0, sizeof(*m));
	m->mem = calloc(1, MEM);
	ck_assert(m->mem);
	ck_ok(tgt_buffer_new(m->mem, MEM, NULL, 0, &m->k.t));
	m->k.text_start = KMAP;
	m->k.image_end = KMAP + MEM;
	m->k.levels = 4;
	m->k.btf = btf;
	snprintf(map, sizeof(map),
		 "%016llx T _text\n%016llx T _etext\n"
		 "%016llx T __sched_text_start\n%016llx T __sched_text_end\n"
		 "%016llx T __lock_text_start\n%016llx T __lock_text_end\n"
		 "%016llx T ret_from_fork\n"
		 "%016llx r __start_orc_unwind_ip\n%016llx r __stop_orc_unwind_ip\n"
		 "%016llx r __start_orc_unwind\n%016llx r __stop_orc_unwind\n"
		 "%016llx D init_stack\n%016llx D __end_init_task\n"
		 "%016llx D init_task\n"
		 "0000000000000000 A current_task\n0000000000000100 A runqueues\n"
		 "0000000000000200 A hardirq_stack_ptr\n%016llx d modules\n",
		 TEXT, TEXT + 0x1000, TEXT + 0x100, TEXT + 0x200, TEXT + 0x200, TEXT + 0x300,
		 TEXT + 0x300, ORC_IP, ORC_IP + 4, ORC_U, ORC_U + 6, INIT_STACK,
		 INIT_STACK + 0x4000, (unsigned long long)task_va(0), MODULES);
	ck_ok(ksym_parse_map(map, strlen(map), 0, &m->k.syms));
	rel = (int32_t)(TEXT - ORC_IP);
	memcpy(at(m, ORC_IP), &rel, 4);
	memcpy(at(m, ORC_U), orc_end, 6);
	m->k.nr_cpu_ids = 1;
	m->k.percpu_offset = calloc(1, 8);
	m->k.online_mask = calloc(1, 8);
	m->k.percpu_offset[0] = PCPU;
	m->k.online_mask[0] = 1;
	put64(m, PCPU, task_va(0));		/* current_task */
	put64(m, PCPU + 0x100 + 16, task_va(0));	/* rq.idle */
	/* init_task -> task 1 -> init_task on the process list */
	put64(m, task_va(0) + T_TASKS, task_va(1) + T_TASKS);
	put64(m, task_va(1) + T_TASKS, task_va(0) + T_TASKS);
	snprintf((char *)at(m, task_va(0) + T_COMM), 16, "swapper/0");
	/* every thread on the process's thread list */
	prev = SIG + S_HEAD;
	for (size_t i = 1; i <= nthreads; i++) {
		uint64_t t = task_va(i);

		put32(m, t + T_PID, (uint32_t)(100 + i));
		put32(m, t + T_TGID, 101);
		put32(m, t + T_STATE, 1);
		put64(m, t + T_SIGNAL, SIG);
		snprintf((char *)at(m, t + T_COMM), 16, "t%zu", i);
		put64(m, prev, t + T_THREAD_NODE);
		prev = t + T_THREAD_NODE;
	}
	put64(m, prev, SIG + S_HEAD);
	put64(m, MODULES, MODULES);	/* no modules */
}

/* n modules on the list, each with 0x100 bytes of text; tables
 * unmapped, so each one alone is skipped once it has been sized. */
static void add_modules(struct mini *m, int n, uint32_t orcs, uint32_t syms)
{
	uint64_t prev = MODULES;

	ck_assert(MODS + (uint64_t)n * 0x100 <= MOD_SYMTAB);
	for (int i = 0; i < n; i++) {
		uint64_t mod = MODS + (uint64_t)i * 0x100;

		put64(m, prev, mod + M_LIST);
		prev = mod + M_LIST;
		snprintf((char *)at(m, mod + M_NAME), 56, "mod%d", i);
		put64(m, mod + M_BASE, TEXT + 0x800);
		put32(m, mod + M_SIZE, 0x1000);
		put32(m, mod + M_TEXT_SIZE, 0x100);
		put32(m, mod + M_NUM_ORCS, orcs);
		put64(m, mod + M_ORC_IP, UNMAPPED);
		put64(m, mod + M_ORC_U, UNMAPPED);
		put32(m, mod + M_NUM_SYMTAB, syms);
		put64(m, mod + M_SYMTAB, syms == 1 ? MOD_SYMTAB : UNMAPPED);
		put64(m, mod + M_STRTAB, UNMAPPED);
	}
	put64(m, prev, MODULES);
}

static void mini_free(struct mini *m)
{
	ksym_free(m->k.syms);
	kbtf_free(m->k.btf);
	free(m->k.percpu_offset);
	free(m->k.online_mask);
	tgt_close(m->k.t);
	free(m->mem);
}

/* Issue 11: pt_regs member offsets come from guest BTF and index a
 * 256-byte buffer on every interrupt frame; a layout that does not fit
 * is refused when the unwinder is set up, by name. */
START_TEST(pt_regs_layout)
{
	static struct mini m;
	struct stack_ctx *c;

	/* The honest layout. */
	mini_init(&m, make_btf(128, 168), 2);
	ck_ok(stack_ctx_init(&m.k, &c));
	ck_assert_uint_eq(c->r_ip, 128);
	stack_ctx_free(c);
	mini_free(&m);
	/* ip far past the struct and any buffer. */
	mini_init(&m, make_btf(4000, 168), 2);
	ck_err(stack_ctx_init(&m.k, &c), GP_ERR_CORRUPT, "pt_regs");
	mini_free(&m);
	/* ip inside the struct but its last 8 bytes past the end. */
	mini_init(&m, make_btf(164, 168), 2);
	ck_err(stack_ctx_init(&m.k, &c), GP_ERR_CORRUPT, "pt_regs member ip");
	mini_free(&m);
	/* A struct larger than the buffer the unwinder reads it into. */
	mini_init(&m, make_btf(128, 4096), 2);
	ck_err(stack_ctx_init(&m.k, &c), GP_ERR_CORRUPT, "pt_regs");
	mini_free(&m);
}
END_TEST

/* Issue 11: module count x table sizes. Each module alone is within its
 * own bounds; together they pass the caps, which name themselves. */
START_TEST(module_totals)
{
	static struct mini m;
	struct kmod_list l;

	/* Two modules of 3M ORC entries each: 6M > KMOD_MAX_ORC_TOTAL. */
	mini_init(&m, make_btf(128, 168), 1);
	add_modules(&m, 2, 3u << 20, 0);
	ck_err(kmod_load(&m.k, orc_format_by_name("linux-6.1"), &l), GP_ERR_LIMIT, "KMOD_MAX_ORC_TOTAL");
	mini_free(&m);
	/* One of them alone: read, found unreadable, skipped. */
	mini_init(&m, make_btf(128, 168), 1);
	add_modules(&m, 1, 3u << 20, 0);
	ck_ok(kmod_load(&m.k, orc_format_by_name("linux-6.1"), &l));
	ck_assert_uint_eq(l.n, 0);
	ck_assert_int_eq(l.skipped, 1);
	kmod_free(&l);
	mini_free(&m);
	/* Five modules of KMOD_MAX_SYMS symbols. */
	mini_init(&m, make_btf(128, 168), 1);
	add_modules(&m, 5, 0, KMOD_MAX_SYMS);
	ck_err(kmod_load(&m.k, orc_format_by_name("linux-6.1"), &l), GP_ERR_LIMIT, "KMOD_MAX_SYMS_TOTAL");
	mini_free(&m);
	/* 17 modules each naming a symbol 4 MiB into its string table. */
	mini_init(&m, make_btf(128, 168), 1);
	put32(&m, MOD_SYMTAB + 24, (4u << 20) - 1024);	/* symbol 1's st_name */
	add_modules(&m, 17, 0, 2);
	for (int i = 0; i < 17; i++)
		put64(&m, MODS + (uint64_t)i * 0x100 + M_SYMTAB, MOD_SYMTAB);
	ck_err(kmod_load(&m.k, orc_format_by_name("linux-6.1"), &l), GP_ERR_LIMIT, "KMOD_MAX_STRTAB_TOTAL");
	mini_free(&m);
}
END_TEST

/* Issue 11: a snapshot holds a stack_trace per task; a guest listing
 * more tasks than STACKS_MAX_TASKS gets an error, not 1.7 GiB of them. */
START_TEST(snapshot_tasks)
{
	static struct mini m;
	struct stacks_snapshot snap;
	struct stack_ctx *c;

	mini_init(&m, make_btf(128, 168), 3);
	ck_ok(stack_ctx_init(&m.k, &c));
	ck_ok(stacks_take(c, &snap));
	ck_assert_uint_eq(snap.tasks.nr, 4);
	stacks_free(&snap);
	stack_ctx_free(c);
	mini_free(&m);

	mini_init(&m, make_btf(128, 168), STACKS_MAX_TASKS);	/* plus init_task */
	ck_ok(stack_ctx_init(&m.k, &c));
	ck_err(stacks_take(c, &snap), GP_ERR_LIMIT, "STACKS_MAX_TASKS");
	stack_ctx_free(c);
	mini_free(&m);
}
END_TEST

/* Issue 11: 70000 names of 1 KiB each (tokens that expand): past
 * KSYM_MAX_POOL_BYTES, refused by name before the pool grows past it. */
START_TEST(kallsyms_pool)
{
	enum { N = 70000 };
	static uint8_t names[N * 9];
	static int32_t offsets[N];
	static char tt[1024];
	uint16_t ti[256];
	size_t tt_len = 0, nl = 0;
	struct ksym_raw raw;
	struct ksym_table *t;

	/* token i is the character i, token 1 is 250 'y's */
	for (int i = 0; i < 256; i++) {
		ti[i] = (uint16_t)tt_len;
		if (i == 1) {
			memset(tt + tt_len, 'y', 250);
			tt_len += 250;
		} else {
			tt[tt_len++] = i >= 0x20 && i < 0x7f ? (char)i : '?';
		}
		tt[tt_len++] = '\0';
		ck_assert(tt_len < sizeof(tt));
	}
	for (int i = 0; i < N; i++) {
		names[nl++] = 8;
		names[nl++] = 'T';
		names[nl++] = (uint8_t)('0' + i % 64);
		names[nl++] = (uint8_t)('0' + i / 64 % 64);
		names[nl++] = (uint8_t)('0' + i / 4096);
		memset(names + nl, 1, 4);	/* "T" + 3 + 1000 bytes */
		nl += 4;
		offsets[i] = -1 - i * 16;
	}
	raw = (struct ksym_raw){ .num_syms = N, .names = names, .names_len = nl,
				 .token_table = tt, .token_table_len = tt_len,
				 .token_index = ti, .offsets = offsets,
				 .relative_base = KMAP, .absolute_percpu = true };
	ck_err(ksym_decode(&raw, &t), GP_ERR_LIMIT, "KSYM_MAX_POOL_BYTES");
	/* A tenth of them decode. */
	raw.num_syms = N / 10;
	ck_ok(ksym_decode(&raw, &t));
	ck_assert_uint_eq(t->nr, N / 10);
	ksym_free(t);
}
END_TEST

static TCase *hostile_tcase(void)
{
	TCase *tc = tcase_create("hostile");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, pt_regs_layout);
	tcase_add_test(tc, module_totals);
	tcase_add_test(tc, snapshot_tasks);
	tcase_add_test(tc, kallsyms_pool);
	return tc;
}
GP_TCASE(hostile_tcase)
