// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The identity of a boot (introspect/kernel.c, kern_boot_id): the layout
 * (KERNELOFFSET, phys_base, build id) and init_task.stack_canary, read
 * from a synthetic kernel image mapped linearly, with the member placed
 * by synthetic BTF.  Without the canary (no member, no BTF, still 0) the
 * identity is the layout's alone and says so.
 */
#include <bpf/btf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gp_check.h"
#include "kernel.h"

#define KMAP 0xffffffff80000000ull
#define MEM (1u << 20)
#define INIT_TASK 0x10000u
#define CANARY_OFF 0x48u

static uint8_t *mem;
static struct kern k;

/* struct task_struct { unsigned long state; ...; unsigned long `member`
 * at CANARY_OFF; } */
static struct kbtf *task_btf(const char *member)
{
	struct btf *b = btf__new_empty();
	struct kbtf *kb;
	const void *raw;
	__u32 sz;
	int ul, ts;

	ul = btf__add_int(b, "long unsigned int", 8, 0);
	ts = btf__add_struct(b, "task_struct", 256);
	ck_assert_int_gt(ts, 0);
	btf__add_field(b, "__state", ul, 0, 0);
	btf__add_field(b, member, ul, CANARY_OFF * 8, 0);
	raw = btf__raw_data(b, &sz);
	ck_ok(kbtf_load(raw, sz, &kb));
	btf__free(b);
	return kb;
}

static void setup(void)
{
	static const char map[] = "ffffffff80010000 D init_task\n";

	mem = calloc(1, MEM);
	ck_assert(mem);
	memset(&k, 0, sizeof(k));
	ck_ok(tgt_buffer_new(mem, MEM, NULL, 0, &k.t));
	k.text_start = KMAP;
	k.image_end = KMAP + MEM;
	k.kaslr_offset = 0x1c000000;
	k.phys_base = 0;
	snprintf(k.build_id, sizeof(k.build_id), "0123456789abcdef0123456789abcdef01234567");
	ck_ok(ksym_parse_map(map, sizeof(map) - 1, 0, &k.syms));
}

static void teardown(void)
{
	kbtf_free(k.btf);
	ksym_free(k.syms);
	tgt_close(k.t);
	free(mem);
}

static void set_canary(uint64_t v)
{
	memcpy(mem + INIT_TASK + CANARY_OFF, &v, 8);
}

START_TEST(canary_tells_boots_apart)
{
	uint64_t first, layout;

	k.btf = task_btf("stack_canary");
	set_canary(0x8a3f5c2e91d04b00ull);
	kern_boot_id(&k);
	ck_assert(!k.boot_id_weak && !k.boot_id_why);
	ck_assert_uint_ne(k.boot_id, 0);
	first = k.boot_id;
	kern_boot_id(&k);
	ck_assert_uint_eq(k.boot_id, first);	/* the same boot, the same id */
	/* A reboot into the same layout (nokaslr): only the canary differs. */
	set_canary(0x17e4aa09c3b25d00ull);
	kern_boot_id(&k);
	ck_assert(!k.boot_id_weak);
	ck_assert_uint_ne(k.boot_id, first);
	/* A reboot with another KASLR offset and the same canary (not that
	 * it happens): the layout tells them apart. */
	set_canary(0x8a3f5c2e91d04b00ull);
	k.kaslr_offset += 0x200000;
	kern_boot_id(&k);
	ck_assert_uint_ne(k.boot_id, first);
	/* Zero: not set up yet (too early in boot). */
	set_canary(0);
	kern_boot_id(&k);
	ck_assert(k.boot_id_weak);
	ck_assert_str_eq(k.boot_id_why, "init_task.stack_canary not set yet");
	layout = k.boot_id;
	kbtf_free(k.btf);
	k.btf = NULL;
	kern_boot_id(&k);
	ck_assert_uint_eq(k.boot_id, layout);
}
END_TEST

START_TEST(without_canary_weak)
{
	uint64_t layout;

	set_canary(0x8a3f5c2e91d04b00ull);
	/* No BTF at all. */
	kern_boot_id(&k);
	ck_assert(k.boot_id_weak);
	ck_assert_str_eq(k.boot_id_why, "no BTF to place task_struct.stack_canary");
	ck_assert_uint_ne(k.boot_id, 0);
	layout = k.boot_id;
	/* BTF without the member (CONFIG_STACKPROTECTOR off): the layout
	 * alone, the same id as without BTF. */
	k.btf = task_btf("stack_canary_not");
	kern_boot_id(&k);
	ck_assert(k.boot_id_weak);
	ck_assert_str_eq(k.boot_id_why, "no task_struct.stack_canary");
	ck_assert_uint_eq(k.boot_id, layout);
	/* The layout still counts. */
	k.phys_base = 0x1000000;
	kern_boot_id(&k);
	ck_assert_uint_ne(k.boot_id, layout);
	/* No init_task symbol. */
	kbtf_free(k.btf);
	k.btf = task_btf("stack_canary");
	ksym_free(k.syms);
	ck_ok(ksym_parse_map("ffffffff80010000 D init_tusk\n", 29, 0, &k.syms));
	kern_boot_id(&k);
	ck_assert(k.boot_id_weak);
	ck_assert_str_eq(k.boot_id_why, "no init_task symbol");
}
END_TEST

static TCase *boot_id_tcase(void)
{
	TCase *tc = tcase_create("boot_id");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, canary_tells_boots_apart);
	tcase_add_test(tc, without_canary_weak);
	return tc;
}
GP_TCASE(boot_id_tcase)
