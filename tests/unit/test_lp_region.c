// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * patch/lp_region.c: the region header found in guest memory is
 * untrusted; lp_region_load() validates it before anything is written by
 * its records. A small kernel image is mapped linearly at KMAP, with the
 * region at LP_REGION_PA and its level2_kernel_pgt slot.  And the region
 * an earlier boot of the guest left (a reboot that did not clear RAM):
 * told apart by its boot id, set up anew when this kernel's slot is not
 * ours, refused by name when it is.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gp_check.h"
#include "lp_engine.h"
#include "lp_region.h"

#define KMAP 0xffffffff80000000ull
#define MEM (4u << 20)
#define L2 (KMAP + 0x100000)		/* level2_kernel_pgt */
#define END (KMAP + 0x300000)		/* _end: the region takes slot 3 */
#define BUILD_ID "0123456789abcdef0123456789abcdef01234567"
#define THIS_BOOT 0x74686973626f6f74ull
#define EARLIER_BOOT 0x6561726c69657221ull

static uint8_t *mem;
static struct kern k;

static void setup(void)
{
	static const char map[] = "ffffffff80100000 D level2_kernel_pgt\n"
				  "ffffffff80300000 B _end\n";

	mem = calloc(1, MEM);
	ck_assert(mem);
	memset(&k, 0, sizeof(k));
	ck_ok(tgt_buffer_new(mem, MEM, NULL, 0, &k.t));
	k.text_start = KMAP;
	k.image_end = KMAP + MEM;
	k.levels = 4;
	snprintf(k.release, sizeof(k.release), "6.1.0-test");
	snprintf(k.build_id, sizeof(k.build_id), BUILD_ID);
	ck_ok(ksym_parse_map(map, sizeof(map) - 1, 0, &k.syms));
	tgt_set_boot_id(k.t, THIS_BOOT);
	k.boot_id = THIS_BOOT;
}

static void teardown(void)
{
	ksym_free(k.syms);
	tgt_close(k.t);
	free(mem);
}

/* A region as lp_region_setup() leaves it, with one applied patch. */
static struct lp_hdr *make_region(void)
{
	struct lp_hdr *h = (struct lp_hdr *)(mem + LP_REGION_PA);
	uint64_t pmd = lp_page_pa(LP_PTE_PAGE) | 0x63;
	const uint32_t slot = 3;

	memset(h, 0, sizeof(*h));
	memcpy(h->magic, LP_MAGIC, sizeof(h->magic));
	h->version = LP_VERSION;
	h->hdr_size = sizeof(*h);
	h->region_pa = LP_REGION_PA;
	h->region_pages = LP_REGION_PAGES;
	h->pmd_index = slot;
	h->pmd_entry_pa = (L2 - KMAP) + slot * 8ull;
	h->region_va = KMAP + slot * (2ull << 20);
	snprintf(h->build_id, sizeof(h->build_id), BUILD_ID);
	h->boot_id = THIS_BOOT;
	h->trans_patch = -1;
	memcpy(mem + h->pmd_entry_pa, &pmd, 8);
	snprintf(h->patches[0].name, sizeof(h->patches[0].name), "p");
	h->patches[0].state = LP_APPLIED;
	h->patches[0].code_page = LP_FIRST_ALLOC;
	h->patches[0].code_pages = 1;
	h->patches[0].data_page = LP_FIRST_ALLOC + LP_CODE_PAGES;
	h->patches[0].data_pages = 1;
	return h;
}

/* Issue 11: page + count are 32-bit sums; a record whose sum wraps past
 * 2^32 must not pass for one inside the region. */
START_TEST(page_ranges_do_not_wrap)
{
	struct lp_region r;
	struct lp_hdr *h;

	make_region();
	ck_ok(lp_region_load(&k, &r));
	ck_assert(r.present);

	h = make_region();
	h->patches[0].code_page = 0xfffffff0u;
	h->patches[0].code_pages = 0x20;	/* sum wraps to 0x10 */
	ck_err(lp_region_load(&k, &r), GP_ERR_CORRUPT, "patch record 0 is corrupt");

	h = make_region();
	h->patches[0].data_page = 0xffffffffu;
	h->patches[0].data_pages = 2;		/* sum wraps to 1 */
	ck_err(lp_region_load(&k, &r), GP_ERR_CORRUPT, "patch record 0 is corrupt");

	/* The edges that do fit still do. */
	h = make_region();
	h->patches[0].code_page = LP_FIRST_ALLOC + LP_CODE_PAGES - 2;
	h->patches[0].code_pages = 2;
	h->patches[0].data_page = LP_JOURNAL_PAGE - 1;
	h->patches[0].data_pages = 1;
	ck_ok(lp_region_load(&k, &r));
	h->patches[0].code_pages = 3;
	ck_err(lp_region_load(&k, &r), GP_ERR_CORRUPT, "patch record 0 is corrupt");

	/* Data pages end where the journal begins. */
	h = make_region();
	h->patches[0].data_page = LP_JOURNAL_PAGE;
	ck_err(lp_region_load(&k, &r), GP_ERR_CORRUPT, "patch record 0 is corrupt");
}
END_TEST

/* The earlier boot's region as a reboot leaves it: header, trampoline
 * page, a patch's code and data, in pages this kernel's page table does
 * not map (its slot is empty).  `slot`: the slot that boot used. */
static struct lp_hdr *make_earlier_region(uint32_t slot)
{
	struct lp_hdr *h = make_region();
	uint64_t zero = 0;

	h->boot_id = EARLIER_BOOT;
	h->pmd_index = slot;
	h->pmd_entry_pa = (L2 - KMAP) + slot * 8ull;
	h->region_va = KMAP + slot * (2ull << 20);
	/* This boot's slot 3 is empty: the reboot gave a fresh page table. */
	memcpy(mem + (L2 - KMAP) + 3 * 8, &zero, 8);
	memset(mem + lp_page_pa(LP_TRAMP_PAGE), 0xcc, 4096);
	memset(mem + lp_page_pa(LP_FIRST_ALLOC), 0x90, 300);
	memset(mem + lp_page_pa(LP_FIRST_ALLOC + LP_CODE_PAGES), 0x5a, 64);
	return h;
}

/* Set up the region in one committed pause, as an attempt does. */
static struct gp_error *setup_region(struct lp_region *r)
{
	struct gp_error *err;

	ck_ok(tgt_pause(k.t));
	err = lp_txn_end(k.t, lp_region_setup(&k, r));
	ck_ok(tgt_resume(k.t));
	return err;
}

START_TEST(earlier_boot_set_up_anew)
{
	const struct lp_hdr *h = (const struct lp_hdr *)(mem + LP_REGION_PA);
	static const uint8_t code[5] = { 0xc3, 0xc3, 0xc3, 0xc3, 0xc3 };
	struct lp_region r;
	uint64_t pmd;

	for (uint32_t slot = 3; slot <= 9; slot += 6) {	/* same layout, and KASLR moved */
		make_earlier_region(slot);
		ck_ok(lp_region_load(&k, &r));
		ck_assert(!r.present);
		ck_assert(r.earlier_boot);
		ck_assert_uint_eq(r.earlier_boot_id, EARLIER_BOOT);
		ck_assert_uint_eq(r.pmd_index, 3);
		ck_assert_uint_eq(r.hdr.generation, 0);	/* nothing of it is used */
		/* Its pages are not zero, and set-up takes them anyway. */
		ck_ok(setup_region(&r));
		ck_assert(r.present);
		ck_assert_uint_eq(h->boot_id, THIS_BOOT);
		ck_assert_uint_eq(h->pmd_index, 3);
		ck_assert_int_eq(h->patches[0].state, LP_FREE);
		memcpy(&pmd, mem + (L2 - KMAP) + 3 * 8, 8);
		ck_assert_uint_eq(pmd & ~0xfffull, lp_page_pa(LP_PTE_PAGE));
		ck_ok(lp_region_load(&k, &r));
		ck_assert(r.present && !r.earlier_boot);
	}
	/* The earlier boot's bytes in a page handed out again are cleared
	 * with it: the new patch's pages hold it and zeros. */
	ck_ok(tgt_pause(k.t));
	ck_ok(lp_write_alloc(&k, LP_FIRST_ALLOC, 1, code, sizeof(code), true));
	ck_ok(lp_write_alloc(&k, LP_FIRST_ALLOC + LP_CODE_PAGES, 1, NULL, 0, false));
	ck_ok(lp_txn_end(k.t, NULL));
	ck_ok(tgt_resume(k.t));
	ck_assert(!memcmp(mem + lp_page_pa(LP_FIRST_ALLOC), code, sizeof(code)));
	for (unsigned i = sizeof(code); i < 4096; i++)
		ck_assert_int_eq(mem[lp_page_pa(LP_FIRST_ALLOC) + i], 0);
	for (unsigned i = 0; i < 4096; i++)
		ck_assert_int_eq(mem[lp_page_pa(LP_FIRST_ALLOC + LP_CODE_PAGES) + i], 0);
}
END_TEST

/* The same boot, and inconsistent: corrupt, as always. */
START_TEST(same_boot_inconsistent_refused)
{
	struct lp_region r;
	uint64_t zero = 0;

	make_region();
	memcpy(mem + (L2 - KMAP) + 3 * 8, &zero, 8);
	ck_err(lp_region_load(&k, &r), GP_ERR_CORRUPT, "page-table slot of the guestpatch region holds 0x0");
	ck_assert(!r.earlier_boot);
	/* With an identity from the layout alone, a reboot into the same
	 * layout looks like this: the message says so. */
	k.boot_id_weak = true;
	ck_err(lp_region_load(&k, &r), GP_ERR_CORRUPT, "a reboot into the same layout");
	k.boot_id_weak = false;
	make_earlier_region(9);
	((struct lp_hdr *)(mem + LP_REGION_PA))->boot_id = THIS_BOOT;
	ck_err(lp_region_load(&k, &r), GP_ERR_CORRUPT, "disagrees with this kernel's layout");
	/* And the region is not set up over it. */
	ck_err(setup_region(&r), GP_ERR_BUSY, "not free");
	ck_assert_uint_eq(((struct lp_hdr *)(mem + LP_REGION_PA))->pmd_index, 9);
}
END_TEST

/* Another boot's header, yet this kernel's slot maps our page table:
 * not what a reboot leaves.  Refused by name, nothing taken over. */
START_TEST(earlier_boot_but_slot_ours_refused)
{
	struct lp_region r;
	uint64_t pmd = lp_page_pa(LP_PTE_PAGE) | 0x63;

	make_earlier_region(3);
	memcpy(mem + (L2 - KMAP) + 3 * 8, &pmd, 8);
	ck_err(lp_region_load(&k, &r), GP_ERR_CORRUPT, "not what a reboot leaves");
	ck_assert(!r.present);
	/* Telling boots apart needs this boot's id: without one (0), the
	 * region is checked as this boot's, as before boot ids (and here it
	 * is consistent). */
	tgt_set_boot_id(k.t, 0);
	ck_ok(lp_region_load(&k, &r));
	ck_assert(r.present && !r.earlier_boot);
}
END_TEST

static TCase *lp_region_tcase(void)
{
	TCase *tc = tcase_create("lp_region");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, page_ranges_do_not_wrap);
	tcase_add_test(tc, earlier_boot_set_up_anew);
	tcase_add_test(tc, same_boot_inconsistent_refused);
	tcase_add_test(tc, earlier_boot_but_slot_ours_refused);
	return tc;
}
GP_TCASE(lp_region_tcase)
