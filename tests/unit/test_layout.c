// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Kernel facts picked from what the guest shows, one place per concern:
 * per-cpu variables (own symbol, or a member of pcpu_hot from BTF),
 * renamed symbols (first of a list), and the function-entry layout (the
 * ftrace NOP after endbr64 on IBT kernels).
 */
#include <bpf/btf.h>
#include <stdlib.h>
#include <string.h>

#include "gp_check.h"
#include "kallsyms.h"
#include "kbtf.h"
#include "kernel.h"
#include "lp_agent.h"

/* struct pcpu_hot as 6.12 lays it out (the part we read), plus a member
 * that is no pointer. */
static struct kbtf *pcpu_hot_btf(void)
{
	struct btf *b = btf__new_empty();
	int u16, u64, vp;
	const void *raw;
	struct kbtf *kb;
	__u32 sz;

	u16 = btf__add_int(b, "short unsigned int", 2, 0);
	u64 = btf__add_int(b, "long unsigned int", 8, 0);
	vp = btf__add_ptr(b, 0);
	btf__add_struct(b, "pcpu_hot", 64);
	btf__add_field(b, "current_task", vp, 0, 0);
	btf__add_field(b, "preempt_count", u64, 64, 0);
	btf__add_field(b, "hardirq_stack_ptr", vp, 192, 0);
	btf__add_field(b, "softirq_pending", u16, 256, 0);
	raw = btf__raw_data(b, &sz);
	ck_ok(kbtf_load(raw, sz, &kb));
	btf__free(b);
	return kb;
}

static void set_syms(struct kern *k, const char *map)
{
	ksym_free(k->syms);
	k->syms = NULL;
	ck_ok(ksym_parse_map(map, strlen(map), 0, &k->syms));
}

START_TEST(percpu_vars)
{
	struct kern k = { 0 };
	uint64_t off;

	/* 6.1 (and 6.15+): the variables' own symbols. */
	set_syms(&k, "0000000000020cc0 A current_task\n0000000000020cd8 A hardirq_stack_ptr\n");
	ck_ok(kern_percpu_var(&k, "current_task", &off));
	ck_assert_uint_eq(off, 0x20cc0);
	/* 6.2 to 6.14: members of pcpu_hot, placed by BTF. */
	set_syms(&k, "0000000000033a40 A pcpu_hot\n");
	ck_err(kern_percpu_var(&k, "current_task", &off), GP_ERR_UNSUPPORTED, "no BTF");
	k.btf = pcpu_hot_btf();
	ck_ok(kern_percpu_var(&k, "current_task", &off));
	ck_assert_uint_eq(off, 0x33a40);
	ck_ok(kern_percpu_var(&k, "hardirq_stack_ptr", &off));
	ck_assert_uint_eq(off, 0x33a40 + 24);
	/* Not a pointer, not there at all: refused by name. */
	ck_err(kern_percpu_var(&k, "softirq_pending", &off), GP_ERR_CORRUPT,
	       "pcpu_hot.softirq_pending is 2 bytes, not a pointer");
	ck_err(kern_percpu_var(&k, "top_of_stack", &off), GP_ERR_NOTFOUND,
	       "no per-cpu 'top_of_stack' in the guest kernel: not a symbol, not a member of struct pcpu_hot");
	/* Neither shape. */
	set_syms(&k, "0000000000000100 A runqueues\n");
	ck_err(kern_percpu_var(&k, "current_task", &off), GP_ERR_NOTFOUND,
	       "neither a symbol of that name nor a pcpu_hot");
	kbtf_free(k.btf);
	ksym_free(k.syms);
}
END_TEST

START_TEST(renamed_symbols)
{
	static const char *const names[] = { "ret_from_fork_asm", "ret_from_fork", NULL };
	static const char *const three[] = { "a_new", "a_mid", "a_old", NULL };
	struct kern k = { 0 };
	uint64_t a;

	set_syms(&k, "ffffffff81001000 T ret_from_fork\n");
	ck_ok(kern_sym_first(&k, names, &a));
	ck_assert_uint_eq(a, 0xffffffff81001000ull);
	/* 6.5+ has both: the newer name wins. */
	set_syms(&k, "ffffffff81001000 T ret_from_fork\nffffffff81002000 T ret_from_fork_asm\n");
	ck_ok(kern_sym_first(&k, names, &a));
	ck_assert_uint_eq(a, 0xffffffff81002000ull);
	ck_err(kern_sym_first(&k, three, &a), GP_ERR_NOTFOUND,
	       "no symbol 'a_new', 'a_mid' or 'a_old' in the guest kernel");
	ksym_free(k.syms);
}
END_TEST

START_TEST(entry_layout)
{
	static const uint8_t plain[4] = { 0x0f, 0x1f, 0x44, 0x00 };	/* the ftrace NOP */
	static const uint8_t endbr[4] = { 0xf3, 0x0f, 0x1e, 0xfa };
	static const uint8_t sealed[4] = { 0x66, 0x0f, 0x1f, 0x00 };
	static const uint8_t other[4] = { 0x55, 0x48, 0x89, 0xe5 };	/* push rbp; mov */
	unsigned off;

	ck_ok(lp_agent_entry_offset(plain, &off));
	ck_assert_uint_eq(off, 0);
	ck_ok(lp_agent_entry_offset(endbr, &off));
	ck_assert_uint_eq(off, 4);
	ck_ok(lp_agent_entry_offset(sealed, &off));
	ck_assert_uint_eq(off, 4);
	ck_ok(lp_agent_entry_offset(other, &off));
	ck_assert_uint_eq(off, 0);
}
END_TEST

static TCase *layout_tcase(void)
{
	TCase *tc = tcase_create("layout");

	tcase_add_test(tc, percpu_vars);
	tcase_add_test(tc, renamed_symbols);
	tcase_add_test(tc, entry_layout);
	return tc;
}
GP_TCASE(layout_tcase)
