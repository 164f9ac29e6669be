// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * introspect/ on synthetic guest memory, honest and hostile: VMCOREINFO,
 * kallsyms tables, page tables and the task list, each corrupted the ways a
 * broken or malicious guest could. Every case ends in a result or a clean
 * error naming the problem; ASan/UBSan watch for the rest.
 *
 * (About 840 lines: one case per way a guest can lie, for every reader in
 * introspect/; the cases share the synthetic-memory builders at the top.)
 */
#include <bpf/btf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gp_check.h"
#include "kernel.h"
#include "modules.h"
#include "tasks.h"

#define MEM_SIZE (8u << 20)
#define KMAP 0xffffffff80000000ull
#define DIRECT 0xffff888000000000ull

/* ---- a tiny guest: memory, a page allocator, page tables ---- */

struct fake {
	uint8_t *mem;
	uint64_t next_page;	/* bump allocator for tables and objects */
	uint64_t pml4;
	struct tgt *t;
};

static uint64_t alloc_page(struct fake *f)
{
	uint64_t pa = f->next_page;

	f->next_page += 4096;
	ck_assert(f->next_page <= MEM_SIZE);
	memset(f->mem + pa, 0, 4096);
	return pa;
}

static uint64_t *entry(struct fake *f, uint64_t table, unsigned idx)
{
	return (uint64_t *)(f->mem + table + idx * 8);
}

/* Map one 4K page va -> pa (4-level). */
static void map4k(struct fake *f, uint64_t va, uint64_t pa)
{
	uint64_t table = f->pml4;

	for (int shift = 39; shift > 12; shift -= 9) {
		uint64_t *e = entry(f, table, (va >> shift) & 511);

		if (!(*e & 1))
			*e = alloc_page(f) | 3;
		table = *e & PT_ADDR_MASK;
	}
	*entry(f, table, (va >> 12) & 511) = pa | 3;
}

static void fake_init(struct fake *f)
{
	f->mem = calloc(1, MEM_SIZE);
	ck_assert(f->mem);
	f->next_page = 0x100000;
	f->pml4 = alloc_page(f);
	ck_ok(tgt_buffer_new(f->mem, MEM_SIZE, NULL, 0, &f->t));
}

static void fake_free(struct fake *f)
{
	tgt_close(f->t);
	free(f->mem);
}

/* ---- VMCOREINFO ---- */

START_TEST(vmci_parse_cases)
{
	struct vmcoreinfo vi;
	uint64_t v;
	int64_t n;
	char *s;
	static const char good[] = "OSRELEASE=6.1.0-test\nKERNELOFFSET=36600000\n"
				   "NUMBER(phys_base)=-805306368\nSYMBOL(_stext)=ffffffffb7600000\n"
				   "SYMBOL(bad)=xyz\nNUMBER(big)=123456789012345678901234\n";

	ck_ok(vmci_parse(good, sizeof(good), 0x1000, &vi));
	ck_ok(vmci_get_str(&vi, "OSRELEASE", &s));
	ck_assert_str_eq(s, "6.1.0-test");
	free(s);
	ck_ok(vmci_get_hex(&vi, "KERNELOFFSET", &v));
	ck_assert_uint_eq(v, 0x36600000);
	ck_ok(vmci_get_num(&vi, "NUMBER(phys_base)", &n));
	ck_assert_int_eq(n, -805306368);
	ck_ok(vmci_symbol(&vi, "_stext", &v));
	ck_assert_uint_eq(v, 0xffffffffb7600000ull);
	ck_err(vmci_symbol(&vi, "bad", &v), GP_ERR_CORRUPT, "malformed");
	ck_err(vmci_get_num(&vi, "NUMBER(big)", &n), GP_ERR_CORRUPT, "malformed");
	ck_err(vmci_symbol(&vi, "absent", &v), GP_ERR_NOTFOUND, "SYMBOL(absent)");
	/* A key that is a prefix of another must not match it. */
	ck_err(vmci_get_hex(&vi, "KERNEL", &v), GP_ERR_NOTFOUND, "KERNEL");
	vmci_free(&vi);
	ck_err(vmci_parse("NOTVMCOREINFO=1\n", 16, 0x2000, &vi), GP_ERR_CORRUPT, "no VMCOREINFO");
	ck_err(vmci_parse("OSRELEASE=6.1\n\x01\x02", 16, 0x3000, &vi), GP_ERR_CORRUPT, "non-text byte");
}
END_TEST

static bool reject_first(const struct vmcoreinfo *vi, void *arg)
{
	int *calls = arg;

	(*calls)++;
	return vi->pa != 0x10000;	/* the planted page */
}

START_TEST(vmci_scan_rejects_planted)
{
	struct fake f;
	struct vmcoreinfo vi;
	int calls = 0;

	fake_init(&f);
	strcpy((char *)f.mem + 0x10000, "OSRELEASE=evil\n");
	strcpy((char *)f.mem + 0x20000, "OSRELEASE=6.1.0-real\n");
	ck_ok(vmci_scan(f.t, MEM_SIZE, reject_first, &calls, &vi));
	ck_assert_uint_eq(vi.pa, 0x20000);
	ck_assert_int_eq(calls, 2);
	vmci_free(&vi);
	memset(f.mem + 0x20000, 0, 64);
	ck_err(vmci_scan(f.t, MEM_SIZE, reject_first, &calls, &vi), GP_ERR_NOTFOUND,
	       "1 candidate rejected");
	fake_free(&f);
}
END_TEST

/* ---- kallsyms ---- */

struct ktables {
	uint8_t names[4096];
	size_t names_len;
	char tt[2048];
	size_t tt_len;
	uint16_t ti[256];
	int32_t offs[16];
	struct ksym_raw raw;
};

/* Token i is the character i for printable i, "??" otherwise. */
static void make_tokens(struct ktables *k)
{
	k->tt_len = 0;
	for (int i = 0; i < 256; i++) {
		k->ti[i] = (uint16_t)k->tt_len;
		if (i >= 0x20 && i < 0x7f) {
			k->tt[k->tt_len++] = (char)i;
		} else {
			k->tt[k->tt_len++] = '?';
			k->tt[k->tt_len++] = '?';
		}
		k->tt[k->tt_len++] = '\0';
	}
}

static void add_name(struct ktables *k, const char *typed_name)
{
	size_t len = strlen(typed_name);

	if (len >= 0x80) {	/* "big" symbol: two length bytes */
		k->names[k->names_len++] = (uint8_t)(0x80 | (len & 0x7f));
		k->names[k->names_len++] = (uint8_t)(len >> 7);
	} else {
		k->names[k->names_len++] = (uint8_t)len;
	}
	memcpy(k->names + k->names_len, typed_name, len);
	k->names_len += len;
}

static void make_tables(struct ktables *k, char *longname)
{
	memset(k, 0, sizeof(*k));
	make_tokens(k);
	add_name(k, "Tstart_kernel");
	add_name(k, "tlocal_helper");
	add_name(k, "tlocal_helper");
	add_name(k, "Acurrent_task");
	memset(longname, 'x', 200);
	longname[0] = 't';
	longname[200] = '\0';
	add_name(k, longname);
	k->offs[0] = -1 - 0x100;	/* relative: base + 0x100 */
	k->offs[1] = -1 - 0x200;
	k->offs[2] = -1 - 0x300;
	k->offs[3] = 0x1fb80;		/* absolute per-cpu offset */
	k->offs[4] = -1 - 0x400;
	k->raw = (struct ksym_raw){
		.num_syms = 5, .names = k->names, .names_len = k->names_len,
		.token_table = k->tt, .token_table_len = k->tt_len,
		.token_index = k->ti, .offsets = k->offs,
		.relative_base = 0xffffffff81000000ull, .absolute_percpu = true,
	};
}

START_TEST(kallsyms_decode_good)
{
	static struct ktables k;
	char longname[256];
	struct ksym_table *t;
	const struct ksym *s;
	uint64_t off, size;

	make_tables(&k, longname);
	ck_ok(ksym_decode(&k.raw, &t));
	ck_assert_uint_eq(t->nr, 5);
	ck_ok(ksym_lookup(t, "start_kernel", 0, &s));
	ck_assert_uint_eq(s->addr, 0xffffffff81000100ull);
	ck_assert_int_eq(s->type, 'T');
	ck_ok(ksym_lookup(t, "current_task", 0, &s));
	ck_assert_uint_eq(s->addr, 0x1fb80);
	ck_assert_int_eq(s->type, 'A');
	ck_ok(ksym_lookup(t, longname + 1, 0, &s));
	ck_assert_uint_eq(s->addr, 0xffffffff81000400ull);
	/* Duplicates: ambiguous unless a position picks one. */
	ck_err(ksym_lookup(t, "local_helper", 0, &s), GP_ERR_INVAL, "ambiguous");
	ck_ok(ksym_lookup(t, "local_helper", 2, &s));
	ck_assert_uint_eq(s->addr, 0xffffffff81000300ull);
	ck_err(ksym_lookup(t, "local_helper", 3, &s), GP_ERR_NOTFOUND, "2 occurrences");
	ck_err(ksym_lookup(t, "nope", 0, &s), GP_ERR_NOTFOUND, "nope");
	s = ksym_symbolize(t, 0xffffffff81000105ull, &off, &size);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(ksym_name(t, s), "start_kernel");
	ck_assert_uint_eq(off, 5);
	ck_assert_uint_eq(size, 0x100);
	ck_assert_ptr_null(ksym_symbolize(t, 0x1fb80, &off, &size));	/* 'A' only */
	ksym_free(t);
}
END_TEST

START_TEST(kallsyms_decode_hostile)
{
	static struct ktables k;
	char longname[256];
	struct ksym_table *t;

	make_tables(&k, longname);
	k.raw.names_len = 20;	/* truncated mid-stream */
	ck_err(ksym_decode(&k.raw, &t), GP_ERR_CORRUPT, "names end after");
	make_tables(&k, longname);
	k.ti[65] = (uint16_t)(k.tt_len + 10);	/* token past the table */
	ck_err(ksym_decode(&k.raw, &t), GP_ERR_CORRUPT, "runs past the token table");
	make_tables(&k, longname);
	k.raw.num_syms = 0;
	ck_err(ksym_decode(&k.raw, &t), GP_ERR_CORRUPT, "kallsyms_num_syms");
	k.raw.num_syms = 0x7fffffff;
	ck_err(ksym_decode(&k.raw, &t), GP_ERR_CORRUPT, "kallsyms_num_syms");
	/* A token that expands to 300 bytes, used 255 times. */
	make_tables(&k, longname);
	memset(k.tt + k.tt_len, 'y', 300);
	k.tt[k.tt_len + 300] = '\0';
	k.ti[1] = (uint16_t)k.tt_len;
	k.raw.token_table_len = k.tt_len + 301;
	k.names_len = 0;
	k.names[k.names_len++] = 0x80 | 0x7f;
	k.names[k.names_len++] = 1;	/* 255 tokens */
	memset(k.names + k.names_len, 1, 255);
	k.names_len += 255;
	k.raw.names_len = k.names_len;
	k.raw.num_syms = 1;
	ck_err(ksym_decode(&k.raw, &t), GP_ERR_CORRUPT, "expands past");
}
END_TEST

START_TEST(system_map)
{
	static const char map[] = "ffffffff81000000 T _stext\n000000000001fb80 A current_task\n"
				  "ffffffff81000100 t helper\n";
	struct ksym_table *t;
	const struct ksym *s;

	ck_ok(ksym_parse_map(map, sizeof(map) - 1, 0x1000000, &t));
	ck_ok(ksym_lookup(t, "_stext", 0, &s));
	ck_assert_uint_eq(s->addr, 0xffffffff82000000ull);
	ck_ok(ksym_lookup(t, "current_task", 0, &s));
	ck_assert_uint_eq(s->addr, 0x1fb80);	/* absolute: not shifted */
	ksym_free(t);
	ck_err(ksym_parse_map("garbage\n", 8, 0, &t), GP_ERR_INVAL, "line 1");
	ck_err(ksym_parse_map("", 0, 0, &t), GP_ERR_INVAL, "empty");
}
END_TEST

/* ---- page tables ---- */

START_TEST(page_walks)
{
	struct fake f;
	struct pt_walk w;
	uint64_t pdpt, pd;

	fake_init(&f);
	map4k(&f, 0xffffffff81000000ull, 0x200000);
	ck_ok(pt_translate(f.t, f.pml4, 4, 0xffffffff81000123ull, &w));
	ck_assert_uint_eq(w.pa, 0x200123);
	ck_assert_uint_eq(w.page_size, 4096);
	ck_assert_int_eq(w.depth, 4);
	/* 2M and 1G pages under a direct-map address. */
	pdpt = alloc_page(&f);
	pd = alloc_page(&f);
	*entry(&f, f.pml4, (DIRECT >> 39) & 511) = pdpt | 3;
	*entry(&f, pdpt, 0) = pd | 3;
	*entry(&f, pd, 1) = 0x400000 | 0x83;		/* 2M at DIRECT+2M */
	*entry(&f, pdpt, 1) = 0x40000000 | 0x83;	/* 1G at DIRECT+1G */
	ck_ok(pt_translate(f.t, f.pml4, 4, DIRECT + 0x200000 + 0x1234, &w));
	ck_assert_uint_eq(w.pa, 0x401234);
	ck_assert_uint_eq(w.page_size, 2u << 20);
	ck_ok(pt_translate(f.t, f.pml4, 4, DIRECT + 0x40000000 + 0x123456, &w));
	ck_assert_uint_eq(w.pa, 0x40123456);
	ck_assert_uint_eq(w.page_size, 1u << 30);
	/* Not present, at the PD level. */
	ck_err(pt_translate(f.t, f.pml4, 4, DIRECT + 0x600000, &w), GP_ERR_FAULT, "PD entry");
	/* A table pointer outside guest memory. */
	*entry(&f, pd, 5) = 0x7ff000000000ull | 3;
	ck_err(pt_translate(f.t, f.pml4, 4, DIRECT + 5 * 0x200000, &w), GP_ERR_FAULT, "outside");
	/* A table that points to itself still ends after four levels. */
	*entry(&f, pd, 6) = pd | 3;
	{
		struct gp_error *e = pt_translate(f.t, f.pml4, 4, DIRECT + 6 * 0x200000, &w);

		ck_assert_int_le(w.depth, 4);
		gp_error_destroy(e);
	}
	ck_err(pt_translate(f.t, f.pml4, 4, 0x0000800000000000ull, &w), GP_ERR_FAULT, "canonical");
	*entry(&f, f.pml4, 300) = 0x5000 | 0x83;	/* PS at PML4: reserved */
	ck_err(pt_translate(f.t, f.pml4, 4, 0xffff960000000000ull, &w), GP_ERR_CORRUPT, "reserved PS");
	/* 5-level: one more table on top. */
	{
		uint64_t pml5 = alloc_page(&f);

		*entry(&f, pml5, 511) = f.pml4 | 3;
		ck_ok(pt_translate(f.t, pml5, 5, 0xffffffff81000123ull, &w));
		ck_assert_uint_eq(w.pa, 0x200123);
		ck_assert_int_eq(w.depth, 5);
	}
	fake_free(&f);
}
END_TEST

/* ---- task list ---- */

/* How struct module looks in make_btf_layout()'s BTF. */
enum { BTF_MOD_CORE, BTF_MOD_MEM, BTF_MOD_NONE, BTF_MOD_MEM_NO_ENUM };

/* A BTF with just what task_offsets_init() needs. */
static struct kbtf *make_btf_layout(int layout)
{
	struct btf *b = btf__new_empty();
	int u32, i32, u64, chr, lh, ti, ts, task, sig, rq, comm, ptr;
	const void *raw;
	__u32 sz;
	struct kbtf *k;

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
	task = btf__add_struct(b, "task_struct", 512);
	btf__add_field(b, "thread_info", ti, 0, 0);
	btf__add_field(b, "__state", u32, 24 * 8, 0);
	btf__add_field(b, "stack", u64, 32 * 8, 0);
	btf__add_field(b, "flags", u32, 40 * 8, 0);
	btf__add_field(b, "on_cpu", i32, 44 * 8, 0);
	btf__add_field(b, "tasks", lh, 48 * 8, 0);
	btf__add_field(b, "exit_state", i32, 64 * 8, 0);
	btf__add_field(b, "pid", i32, 68 * 8, 0);
	btf__add_field(b, "tgid", i32, 72 * 8, 0);
	btf__add_field(b, "thread_node", lh, 80 * 8, 0);
	btf__add_field(b, "signal", u64, 96 * 8, 0);
	btf__add_field(b, "comm", comm, 104 * 8, 0);
	btf__add_field(b, "patch_state", i32, 120 * 8, 0);
	btf__add_field(b, "thread", ts, 128 * 8, 0);
	sig = btf__add_struct(b, "signal_struct", 64);
	btf__add_field(b, "thread_head", lh, 16 * 8, 0);
	rq = btf__add_struct(b, "rq", 64);
	btf__add_field(b, "curr", u64, 8 * 8, 0);
	btf__add_field(b, "idle", u64, 16 * 8, 0);
	/* struct module, as far as introspect/modules.c reads it: 6.1's
	 * core_layout, or 6.4+'s mem[MOD_MEM_NUM_TYPES] at 200. */
	{
		int lay, arch, mks, name, mod, mm, mem, en;

		lay = btf__add_struct(b, "module_layout", 24);
		btf__add_field(b, "base", u64, 0, 0);
		btf__add_field(b, "size", u32, 64, 0);
		btf__add_field(b, "text_size", u32, 96, 0);
		mm = btf__add_struct(b, "module_memory", 16);
		btf__add_field(b, "base", u64, 0, 0);
		btf__add_field(b, "size", u32, 64, 0);
		mem = btf__add_array(b, i32, mm, 7);
		if (layout != BTF_MOD_MEM_NO_ENUM) {
			en = btf__add_enum(b, "mod_mem_type", 4);
			btf__add_enum_value(b, "MOD_TEXT", 0);
			btf__add_enum_value(b, "MOD_DATA", 1);
			btf__add_enum_value(b, "MOD_RODATA", 2);
			(void)en;
		}
		arch = btf__add_struct(b, "mod_arch_specific", 24);
		btf__add_field(b, "num_orcs", u32, 0, 0);
		btf__add_field(b, "orc_unwind_ip", u64, 64, 0);
		btf__add_field(b, "orc_unwind", u64, 128, 0);
		mks = btf__add_struct(b, "mod_kallsyms", 24);
		btf__add_field(b, "symtab", u64, 0, 0);
		btf__add_field(b, "num_symtab", u32, 64, 0);
		btf__add_field(b, "strtab", u64, 128, 0);
		name = btf__add_array(b, i32, chr, 56);
		mod = btf__add_struct(b, "module", 400);
		btf__add_field(b, "state", u32, 0, 0);
		btf__add_field(b, "list", lh, 8 * 8, 0);
		btf__add_field(b, "name", name, 24 * 8, 0);
		if (layout == BTF_MOD_CORE)
			btf__add_field(b, "core_layout", lay, 80 * 8, 0);
		btf__add_field(b, "arch", arch, 112 * 8, 0);
		btf__add_field(b, "core_kallsyms", mks, 144 * 8, 0);
		if (layout == BTF_MOD_MEM || layout == BTF_MOD_MEM_NO_ENUM)
			btf__add_field(b, "mem", mem, 200 * 8, 0);
		(void)mod;
	}
	(void)sig;
	(void)rq;
	(void)task;
	raw = btf__raw_data(b, &sz);
	ck_ok(kbtf_load(raw, sz, &k));
	btf__free(b);
	return k;
}

static struct kbtf *make_btf(void)
{
	return make_btf_layout(BTF_MOD_CORE);
}

#define T_TASKS 48
#define T_THREAD_NODE 80
#define T_SIGNAL 96
#define S_HEAD 16
#define TASK_BASE 0xffff888000400000ull	/* direct map of pa 0x400000 */
#define TASK_PA 0x400000ull
#define TASK_SIZE 512

struct ftasks {
	struct fake f;
	struct kern k;
	uint64_t init_task;
};

static uint64_t task_va(int i)
{
	return TASK_BASE + (uint64_t)i * TASK_SIZE;
}

static uint8_t *task_mem(struct ftasks *s, int i)
{
	return s->f.mem + TASK_PA + (uint64_t)i * TASK_SIZE;
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

/* Task 0 is init_task (idle), processes 1..n_proc each with n_thr threads
 * (process i's leader is task i*10, its threads i*10+1..). */
static void build_tasks(struct ftasks *s, int n_proc, int n_thr)
{
	char map[1024];
	int leaders[16];

	memset(s, 0, sizeof(*s));
	fake_init(&s->f);
	for (uint64_t off = 0; off < 0x100000; off += 4096)
		map4k(&s->f, TASK_BASE + off, TASK_PA + off);
	s->init_task = task_va(0);
	/* per-cpu area at pa 0x500000 (DIRECT+0x500000): rq at +0x100, current_task at +0x0 */
	map4k(&s->f, DIRECT + 0x500000, 0x500000);
	put64(s->f.mem + 0x500000, task_va(0));		/* current_task */
	put64(s->f.mem + 0x500100 + 16, task_va(0));	/* rq.idle */
	s->k.t = s->f.t;
	s->k.levels = 4;
	s->k.pgd_pa = s->f.pml4;
	snprintf(map, sizeof(map),
		 "%016llx D init_task\n0000000000000000 A current_task\n0000000000000100 A runqueues\n",
		 (unsigned long long)s->init_task);
	ck_ok(ksym_parse_map(map, strlen(map), 0, &s->k.syms));
	s->k.btf = make_btf();
	s->k.nr_cpu_ids = 1;
	s->k.percpu_offset = calloc(1, 8);
	s->k.online_mask = calloc(1, 8);
	s->k.percpu_offset[0] = DIRECT + 0x500000;
	s->k.online_mask[0] = 1;
	/* Tasks. */
	for (int p = 0; p <= n_proc; p++) {
		int leader = p * 10;
		uint64_t sigva = task_va(leader) + 400;	/* signal_struct inside the slot's tail */

		leaders[p] = leader;
		for (int t = 0; t <= (p ? n_thr : 0); t++) {
			int id = leader + t;
			uint8_t *m = task_mem(s, id);

			put32(m + 68, (uint32_t)(p ? 100 + id : 0));
			put32(m + 72, (uint32_t)(p ? 100 + leader : 0));
			snprintf((char *)m + 104, 16, p ? "proc%d" : "swapper/0", p);
			put32(m + 24, 1);	/* S */
			put64(m + T_SIGNAL, sigva);
		}
		/* Thread list: head in signal_struct, through thread_node. */
		{
			uint64_t head = sigva + S_HEAD, prev = head;

			for (int t = 0; t <= (p ? n_thr : 0); t++) {
				uint64_t node = task_va(leader + t) + T_THREAD_NODE;

				put64(s->f.mem + (prev - TASK_BASE + TASK_PA), node);
				prev = node;
			}
			put64(s->f.mem + (prev - TASK_BASE + TASK_PA), head);
		}
	}
	/* Process list through tasks, starting at init_task. */
	for (int p = 0; p <= n_proc; p++) {
		uint64_t next = task_va(leaders[p == n_proc ? 0 : p + 1]) + T_TASKS;

		put64(task_mem(s, leaders[p]) + T_TASKS, next);
	}
}

static void free_tasks(struct ftasks *s)
{
	ksym_free(s->k.syms);
	kbtf_free(s->k.btf);
	free(s->k.percpu_offset);
	free(s->k.online_mask);
	fake_free(&s->f);
}

START_TEST(tasks_good)
{
	static struct ftasks s;
	struct task_offsets o;
	struct task_list l;
	int procs = 0;

	build_tasks(&s, 3, 2);
	ck_ok(task_offsets_init(&s.k, &o));
	ck_ok(task_list_all(&s.k, &o, &l));
	ck_assert_uint_eq(l.nr, 3 * 3 + 1);	/* 9 threads + idle */
	for (size_t i = 0; i < l.nr; i++) {
		if (l.v[i].idle) {
			ck_assert_str_eq(l.v[i].comm, "swapper/0");
			ck_assert_int_eq(l.v[i].running_cpu, 0);
			continue;
		}
		ck_assert_int_eq(l.v[i].state_char, 'S');
		if (l.v[i].pid == l.v[i].tgid)
			procs++;
	}
	ck_assert_int_eq(procs, 3);
	task_list_free(&l);
	free_tasks(&s);
}
END_TEST

START_TEST(tasks_hostile)
{
	static struct ftasks s;
	struct task_offsets o;
	struct task_list l;

	/* The last process points back to the second instead of init_task. */
	build_tasks(&s, 3, 1);
	ck_ok(task_offsets_init(&s.k, &o));
	put64(task_mem(&s, 30) + T_TASKS, task_va(20) + T_TASKS);
	ck_err(task_list_all(&s.k, &o, &l), GP_ERR_CORRUPT, "loops");
	free_tasks(&s);

	/* A thread list that loops without reaching its head. */
	build_tasks(&s, 2, 2);
	ck_ok(task_offsets_init(&s.k, &o));
	put64(task_mem(&s, 12) + T_THREAD_NODE, task_va(11) + T_THREAD_NODE);
	ck_err(task_list_all(&s.k, &o, &l), GP_ERR_CORRUPT, "loops");
	free_tasks(&s);

	/* next pointing into unmapped kernel memory. */
	build_tasks(&s, 2, 1);
	ck_ok(task_offsets_init(&s.k, &o));
	put64(task_mem(&s, 10) + T_TASKS, 0xffffc90000000000ull);
	ck_err(task_list_all(&s.k, &o, &l), GP_ERR_FAULT, "not present");
	free_tasks(&s);

	/* next pointing to user space. */
	build_tasks(&s, 2, 1);
	ck_ok(task_offsets_init(&s.k, &o));
	put64(task_mem(&s, 10) + T_TASKS, 0x400000);
	ck_err(task_list_all(&s.k, &o, &l), GP_ERR_CORRUPT, "not a kernel address");
	free_tasks(&s);

	/* A negative pid. */
	build_tasks(&s, 2, 1);
	ck_ok(task_offsets_init(&s.k, &o));
	put32(task_mem(&s, 11) + 68, (uint32_t)-5);
	ck_err(task_list_all(&s.k, &o, &l), GP_ERR_CORRUPT, "pid -5");
	free_tasks(&s);
}
END_TEST

START_TEST(state_letters)
{
	ck_assert_int_eq(task_state_char(0, 0), 'R');
	ck_assert_int_eq(task_state_char(1, 0), 'S');
	ck_assert_int_eq(task_state_char(2, 0), 'D');
	ck_assert_int_eq(task_state_char(0x402, 0), 'I');
	ck_assert_int_eq(task_state_char(0, 32), 'Z');
	ck_assert_int_eq(task_state_char(0, 16), 'X');
	ck_assert_int_eq(task_state_char(4, 0), 'T');
}
END_TEST

/* ---- whole attach on garbage and on inconsistent VMCOREINFO ---- */

START_TEST(attach_hostile)
{
	struct fake f;
	struct kern *k = NULL;
	unsigned seed = 42;
	char text[512];

	fake_init(&f);
	for (size_t i = 0; i < MEM_SIZE; i += 4) {
		seed = seed * 1664525 + 1013904223;
		memcpy(f.mem + i, &seed, 4);
	}
	ck_err(kern_attach(f.t, NULL, &k), GP_ERR_NOTFOUND, "no valid VMCOREINFO");
	/* VMCOREINFO whose _stext is not mapped where the formula says. */
	f.pml4 = 0x100000;
	memset(f.mem + 0x100000, 0, 0x100000);
	f.next_page = 0x101000;
	map4k(&f, 0xffffffff81000000ull, 0x300000);
	snprintf(text, sizeof(text),
		 "OSRELEASE=6.1.0-fake\nKERNELOFFSET=1000000\nNUMBER(phys_base)=0\n"
		 "SYMBOL(init_top_pgt)=%llx\nSYMBOL(_stext)=ffffffff81000000\n"
		 "SYMBOL(init_uts_ns)=ffffffff81000000\n",
		 (unsigned long long)(KMAP + 0x100000));
	memset(f.mem + 0x30000, 0, 4096);
	strcpy((char *)f.mem + 0x30000, text);
	ck_err(kern_attach(f.t, NULL, &k), GP_ERR_NOTFOUND, "_stext maps to 0x300000, not 0x1000000");
	/* The same with a required key missing. */
	strcpy((char *)f.mem + 0x30000, "OSRELEASE=6.1.0-fake\nKERNELOFFSET=1000000\n");
	ck_err(kern_attach(f.t, NULL, &k), GP_ERR_NOTFOUND, "phys_base");
	fake_free(&f);
}
END_TEST

/* Bounded random corruption of the task structures: must end cleanly. */
START_TEST(tasks_fuzz)
{
	static struct ftasks s;
	struct task_offsets o;
	unsigned seed = 7;

	build_tasks(&s, 4, 3);
	ck_ok(task_offsets_init(&s.k, &o));
	for (int iter = 0; iter < 1500; iter++) {
		static uint8_t saved[50 * TASK_SIZE];
		struct task_list l;
		struct gp_error *err;

		memcpy(saved, task_mem(&s, 0), sizeof(saved));
		for (int n = 0; n < 3; n++) {
			seed = seed * 1103515245 + 12345;
			task_mem(&s, 0)[(seed >> 4) % sizeof(saved)] ^= (uint8_t)(seed >> 24);
		}
		err = task_list_all(&s.k, &o, &l);
		if (!err)
			task_list_free(&l);
		gp_error_destroy(err);
		memcpy(task_mem(&s, 0), saved, sizeof(saved));
	}
	free_tasks(&s);
}
END_TEST

/* ---- modules ---- */

#define M_HEAD (TASK_BASE + 0x80000)
#define M_MOD(i) (TASK_BASE + 0x81000 + (uint64_t)(i) * 0x400)
#define M_TEXT(i) (TASK_BASE + 0x90000 + (uint64_t)(i) * 0x1000)
#define M_SYMS(i) (TASK_BASE + 0xa0000 + (uint64_t)(i) * 0x1000)
#define M_STRS(i) (M_SYMS(i) + 0x800)
#define M_ORC(i) (TASK_BASE + 0xb0000 + (uint64_t)(i) * 0x1000)

static uint8_t *vmem(struct ftasks *s, uint64_t va)
{
	return s->f.mem + (va - TASK_BASE + TASK_PA);
}

/* n modules "modN" on the list, each with 0x100 bytes of text, symbols
 * "fa" at +0 (a function), "fb" at +0x40, and a 2-entry ORC table. */
static void build_mods(struct ftasks *s, int n)
{
	char map[512];
	uint64_t prev = M_HEAD;

	build_tasks(s, 1, 0);
	ksym_free(s->k.syms);
	snprintf(map, sizeof(map),
		 "%016llx D init_task\n0000000000000000 A current_task\n0000000000000100 A runqueues\n%016llx d modules\n",
		 (unsigned long long)s->init_task, (unsigned long long)M_HEAD);
	ck_ok(ksym_parse_map(map, strlen(map), 0, &s->k.syms));
	for (int i = 0; i < n; i++) {
		uint8_t *m = vmem(s, M_MOD(i)), *sym = vmem(s, M_SYMS(i));
		static const char strs[] = "\0fa\0fb\0";
		int32_t rel;

		put64(vmem(s, prev), M_MOD(i) + 8);
		prev = M_MOD(i) + 8;
		snprintf((char *)m + 24, 56, "mod%d", i);
		put64(m + 80, M_TEXT(i));
		put32(m + 88, 0x1000);
		put32(m + 92, 0x100);
		put32(m + 112, 2);
		put64(m + 120, M_ORC(i));
		put64(m + 128, M_ORC(i) + 0x800);
		put64(m + 144, M_SYMS(i));
		put32(m + 152, 3);
		put64(m + 160, M_STRS(i));
		/* symbol 0 is the null symbol; then fb before fa (unsorted) */
		put32(sym + 24, 4), sym[24 + 4] = 2, put32(sym + 24 + 6, 1);
		put64(sym + 24 + 8, M_TEXT(i) + 0x40);
		put32(sym + 48, 1), sym[48 + 4] = 2, put32(sym + 48 + 6, 1);
		put64(sym + 48 + 8, M_TEXT(i));
		memcpy(vmem(s, M_STRS(i)), strs, sizeof(strs));
		/* ORC: self-relative ips at +0 and +0x40; entries: sp+8 call */
		for (int e = 0; e < 2; e++) {
			uint8_t *u = vmem(s, M_ORC(i) + 0x800 + e * 6);

			rel = (int32_t)(M_TEXT(i) + e * 0x40 - (M_ORC(i) + e * 4));
			memcpy(vmem(s, M_ORC(i) + e * 4), &rel, 4);
			u[0] = 8, u[4] = ORC_REG_SP | (ORC_REG_UNDEFINED << 4);
		}
	}
	put64(vmem(s, prev), M_HEAD);
}

#define M_RO(i) (TASK_BASE + 0xc0000 + (uint64_t)(i) * 0x1000)
#define M_MEM 200	/* struct module's mem[] in make_btf_layout(BTF_MOD_MEM) */

static const uint8_t hash_6_4[20] = {
	0xfe, 0x5d, 0x32, 0xbf, 0x58, 0x1b, 0xd6, 0x3b, 0x2c, 0xa9,
	0xa5, 0xc6, 0x5b, 0xa5, 0xa6, 0x25, 0xea, 0xb3, 0xfe, 0x24,
};

/* The same modules in 6.4+'s layout: text in mem[MOD_TEXT], rodata in
 * mem[MOD_RODATA] holding the 20-byte ORC header hdr[i] (none if NULL)
 * named by a symbol orc_header; ORC entries in the 6.4 format (CALL). */
static void build_mods_mem(struct ftasks *s, int n, const uint8_t *const *hdr)
{
	static const char strs[] = "\0fa\0fb\0orc_header\0";

	build_mods(s, n);
	kbtf_free(s->k.btf);
	s->k.btf = make_btf_layout(BTF_MOD_MEM);
	for (int i = 0; i < n; i++) {
		uint8_t *m = vmem(s, M_MOD(i)), *sym = vmem(s, M_SYMS(i));

		memset(m + 80, 0, 16);			/* no core_layout */
		put64(m + M_MEM + 0 * 16, M_TEXT(i));	/* mem[MOD_TEXT] */
		put32(m + M_MEM + 0 * 16 + 8, 0x100);
		put64(m + M_MEM + 2 * 16, M_RO(i));	/* mem[MOD_RODATA] */
		put32(m + M_MEM + 2 * 16 + 8, 0x100);
		memcpy(vmem(s, M_STRS(i)), strs, sizeof(strs));
		for (int e = 0; e < 2; e++)
			vmem(s, M_ORC(i) + 0x800 + e * 6)[5] = ORC_TYPE_CALL;
		if (!hdr[i])
			continue;
		memcpy(vmem(s, M_RO(i) + 0x10), hdr[i], 20);
		put32(m + 152, 4);
		put32(sym + 72, 7), sym[72 + 4] = 1, put32(sym + 72 + 6, 3);
		put64(sym + 72 + 8, M_RO(i) + 0x10);
		put64(sym + 72 + 16, 20);
	}
}

/* 6.4+: the text from mem[MOD_TEXT]; each module's ORC in the format its
 * own header names, refused (module kept, without ORC) when the header is
 * unknown or missing. */
START_TEST(modules_mem_layout)
{
	static struct ftasks s;
	static const uint8_t unknown[20] = { 0xdb, 0x84, 0xae, 0xd4 };
	const uint8_t *hdrs[4] = { hash_6_4, unknown, NULL, hash_6_4 };
	struct kmod_list l;
	const struct kmod *m;
	const struct kmod_sym *sym;
	struct orc_entry e;

	build_mods_mem(&s, 4, hdrs);
	/* mod3's header lies outside its rodata: as good as none. */
	put64(vmem(&s, M_SYMS(3) + 72 + 8), M_TEXT(3) + 0x10);
	memcpy(vmem(&s, M_TEXT(3) + 0x10), hash_6_4, 20);
	ck_ok(kmod_load(&s.k, orc_format_by_name("linux-6.4"), &l));
	ck_assert_uint_eq(l.n, 4);
	ck_assert_int_eq(l.skipped, 0);
	m = kmod_find(&l, M_TEXT(0) + 0x50);
	ck_assert(m && !strcmp(m->name, "mod0") && m->text_end == M_TEXT(0) + 0x100);
	sym = kmod_symbolize(m, M_TEXT(0) + 0x50);
	ck_assert(sym && !strcmp(m->strs + sym->name, "fb") && sym->size == 0xc0);
	ck_assert(m->orc && m->orc_fmt == orc_format_by_name("linux-6.4") && !m->orc_why[0]);
	ck_assert(orc_find(m->orc, M_TEXT(0) + 0x41, &e) && e.type == ORC_TYPE_CALL &&
		  e.sp_offset == 8);
	m = kmod_by_name(&l, "mod1");
	ck_assert(m && !m->orc);
	ck_assert_msg(strstr(m->orc_why, "db84aed4") && strstr(m->orc_why, "not one guestpatch knows"),
		      "%s", m->orc_why);
	ck_assert(kmod_symbolize(m, M_TEXT(1) + 0x10));	/* named all the same */
	m = kmod_by_name(&l, "mod2");
	ck_assert_msg(m && !m->orc && strstr(m->orc_why, "module mod2 shows no ORC header"), "%s",
		      m ? m->orc_why : "");
	m = kmod_by_name(&l, "mod3");
	ck_assert_msg(m && !m->orc && strstr(m->orc_why, "shows no ORC header"), "%s",
		      m ? m->orc_why : "");
	kmod_free(&l);

	/* A module's own header wins over the kernel's format: a 6.1 kernel
	 * (no header) would decode type 2 as REGS_PARTIAL. */
	ck_ok(kmod_load(&s.k, orc_format_by_name("linux-6.1"), &l));
	m = kmod_by_name(&l, "mod0");
	ck_assert(m && m->orc && orc_find(m->orc, M_TEXT(0), &e) && e.type == ORC_TYPE_CALL);
	/* Without a header there, the kernel's (header-less) format. */
	m = kmod_by_name(&l, "mod2");
	ck_assert(m && m->orc && m->orc_fmt == orc_format_by_name("linux-6.1"));
	kmod_free(&l);

	/* The kernel's format unknown: no module ORC at all. */
	ck_ok(kmod_load(&s.k, NULL, &l));
	ck_assert(l.n == 4 && !l.v[0].orc && strstr(l.v[0].orc_why, "unknown"));
	kmod_free(&l);
	free_tasks(&s);
}
END_TEST

/* A struct module guestpatch does not know is refused by name. */
START_TEST(modules_unknown_layout)
{
	static struct ftasks s;
	const uint8_t *hdrs[1] = { hash_6_4 };
	struct kmod_list l;

	build_mods_mem(&s, 1, hdrs);
	kbtf_free(s.k.btf);
	s.k.btf = make_btf_layout(BTF_MOD_NONE);
	ck_err(kmod_load(&s.k, orc_format_by_name("linux-6.4"), &l), GP_ERR_UNSUPPORTED,
	       "has neither of mem[] (Linux 6.4 on) and core_layout");
	kbtf_free(s.k.btf);
	s.k.btf = make_btf_layout(BTF_MOD_MEM_NO_ENUM);
	ck_err(kmod_load(&s.k, orc_format_by_name("linux-6.4"), &l), GP_ERR_NOTFOUND,
	       "no enum mod_mem_type");
	free_tasks(&s);
}
END_TEST

START_TEST(modules_good)
{
	static struct ftasks s;
	struct kmod_list l;
	const struct kmod *m;
	const struct kmod_sym *sym;
	struct orc_entry e;

	build_mods(&s, 3);
	ck_ok(kmod_load(&s.k, orc_format_by_name("linux-6.1"), &l));
	ck_assert_uint_eq(l.n, 3);
	ck_assert_int_eq(l.skipped, 0);
	m = kmod_find(&l, M_TEXT(1) + 0x50);
	ck_assert(m && !strcmp(m->name, "mod1"));
	ck_assert(!kmod_find(&l, M_TEXT(1) + 0x100));
	sym = kmod_symbolize(m, M_TEXT(1) + 0x50);
	ck_assert(sym && !strcmp(m->strs + sym->name, "fb"));
	ck_assert_uint_eq(sym->size, 0xc0);	/* to the end of the text, as the guest says */
	sym = kmod_symbolize(m, M_TEXT(1) + 0x3f);
	ck_assert(sym && !strcmp(m->strs + sym->name, "fa") && sym->size == 0x40);
	ck_assert(m->orc && orc_find(m->orc, M_TEXT(1) + 0x41, &e) && e.sp_offset == 8);
	kmod_free(&l);
	free_tasks(&s);
}
END_TEST

START_TEST(modules_hostile)
{
	static struct ftasks s;
	struct kmod_list l;

	/* The list loops without coming back to its head. */
	build_mods(&s, 3);
	put64(vmem(&s, M_MOD(2) + 8), M_MOD(1) + 8);
	ck_err(kmod_load(&s.k, orc_format_by_name("linux-6.1"), &l), GP_ERR_CORRUPT, "loops");
	free_tasks(&s);

	/* A next pointer into user space. */
	build_mods(&s, 2);
	put64(vmem(&s, M_MOD(0) + 8), 0x400000);
	ck_err(kmod_load(&s.k, orc_format_by_name("linux-6.1"), &l), GP_ERR_CORRUPT, "corrupt");
	free_tasks(&s);

	/* Bad records in single modules: skipped, the others kept. */
	build_mods(&s, 4);
	put32(vmem(&s, M_MOD(0) + 152), 0x7fffffff);		/* absurd symbol count */
	put64(vmem(&s, M_MOD(1) + 144), 0xffffc90000000000ull);	/* symtab unmapped */
	put32(vmem(&s, M_MOD(2) + 112), 0x7fffffff);		/* absurd ORC count */
	memset(vmem(&s, M_MOD(3) + 24), 'x', 56);		/* name without NUL: fine */
	ck_ok(kmod_load(&s.k, orc_format_by_name("linux-6.1"), &l));
	ck_assert_uint_eq(l.n, 1);
	ck_assert_int_eq(l.skipped, 3);
	ck_assert_uint_eq(strlen(l.v[0].name), 56);
	kmod_free(&l);
	free_tasks(&s);

	/* Unsorted ORC: refused for that module. */
	build_mods(&s, 1);
	{
		int32_t a, b;

		memcpy(&a, vmem(&s, M_ORC(0)), 4);
		memcpy(&b, vmem(&s, M_ORC(0) + 4), 4);
		a += 4, b -= 4;
		memcpy(vmem(&s, M_ORC(0)), &b, 4);
		memcpy(vmem(&s, M_ORC(0) + 4), &a, 4);
	}
	ck_ok(kmod_load(&s.k, orc_format_by_name("linux-6.1"), &l));
	ck_assert_uint_eq(l.n, 0);
	ck_assert_int_eq(l.skipped, 1);
	kmod_free(&l);
	free_tasks(&s);
}
END_TEST

static TCase *introspect_tcase(void)
{
	TCase *tc = tcase_create("introspect");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, vmci_parse_cases);
	tcase_add_test(tc, vmci_scan_rejects_planted);
	tcase_add_test(tc, kallsyms_decode_good);
	tcase_add_test(tc, kallsyms_decode_hostile);
	tcase_add_test(tc, system_map);
	tcase_add_test(tc, page_walks);
	tcase_add_test(tc, tasks_good);
	tcase_add_test(tc, tasks_hostile);
	tcase_add_test(tc, state_letters);
	tcase_add_test(tc, attach_hostile);
	tcase_add_test(tc, tasks_fuzz);
	tcase_add_test(tc, modules_good);
	tcase_add_test(tc, modules_hostile);
	tcase_add_test(tc, modules_mem_layout);
	tcase_add_test(tc, modules_unknown_layout);
	return tc;
}
GP_TCASE(introspect_tcase)
