// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * patch/lp_region.c: the region header found in guest memory is
 * untrusted; lp_region_load() validates it before anything is written by
 * its records. A small kernel image is mapped linearly at KMAP, with the
 * region at LP_REGION_PA and its level2_kernel_pgt slot.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gp_check.h"
#include "lp_region.h"

#define KMAP 0xffffffff80000000ull
#define MEM (4u << 20)
#define L2 (KMAP + 0x100000)		/* level2_kernel_pgt */
#define END (KMAP + 0x300000)		/* _end: the region takes slot 3 */
#define BUILD_ID "0123456789abcdef0123456789abcdef01234567"

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

static TCase *lp_region_tcase(void)
{
	TCase *tc = tcase_create("lp_region");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, page_ranges_do_not_wrap);
	return tc;
}
GP_TCASE(lp_region_tcase)
