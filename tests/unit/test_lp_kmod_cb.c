// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The records a livepatch module's callbacks keep in the region
 * (patch/lp_records.c, lp_rec_cb_*; patch/lp_kmod_cb.c runs them): what a
 * completed transition owes, the "loaded" record an unpatch leaves for
 * post_unpatch and the exit, and the pause that sees a callback's call end
 * clearing exactly that callback (once, and not if it never ran).
 */
#include <stdio.h>
#include <string.h>

#include "gp_check.h"
#include "lp_elf.h"
#include "lp_region.h"

static struct lp_hdr h;

/* A patch in slot 2 with two functions, and one of another patch. */
static void setup(bool kmod)
{
	memset(&h, 0, sizeof(h));
	h.region_va = 0xffffffffc0000000ull;
	h.patches[2].state = LP_APPLIED;
	snprintf(h.patches[2].name, sizeof(h.patches[2].name), "demo");
	h.patches[2].code_page = 6;
	h.patches[2].code_pages = 1;
	h.patches[2].data_page = 44;
	h.patches[2].data_pages = 1;
	h.page_owner[6] = 3;
	h.page_owner[44] = 3;
	h.funcs[0] = (struct lp_rec_func){ .patch = 2, .in_use = 1 };
	h.funcs[1] = (struct lp_rec_func){ .patch = 2, .in_use = 1 };
	h.funcs[2] = (struct lp_rec_func){ .patch = 0, .in_use = 1 };
	h.patches[0].state = LP_APPLIED;
	if (kmod)
		h.kmods[2] = (struct lp_rec_kmod){ .klp_off = 44 * 4096 + 0x40, .exit_off = 6 * 4096 };
}

START_TEST(patched_owes_post_patch)
{
	setup(false);
	lp_rec_cb_patched(&h, 2);
	ck_assert_uint_eq(h.cb_slot, 0);	/* nothing: not a module with callbacks */
	setup(true);
	lp_rec_cb_patched(&h, 2);
	ck_assert_uint_eq(h.cb_slot, 3);
	ck_assert_uint_eq(h.cb_stage, LP_CB_POST_PATCH);
	ck_assert_uint_eq(h.cb_todo, (1u << LP_KMOD_CB_MAX_OBJS) - 1);
	ck_assert_uint_eq(h.patches[2].state, LP_APPLIED);
}
END_TEST

START_TEST(unpatched_keeps_pages_for_exit)
{
	setup(false);
	lp_rec_cb_unpatched(&h, 2, false);
	ck_assert_uint_eq(h.patches[2].state, LP_FREE);	/* dropped as before */
	ck_assert_uint_eq(h.page_owner[6], 0);
	ck_assert(!h.funcs[0].in_use && !h.funcs[1].in_use && h.funcs[2].in_use);

	setup(true);
	lp_rec_cb_unpatched(&h, 2, true);
	ck_assert_uint_eq(h.patches[2].state, LP_LOADED);
	ck_assert(h.patches[2].flags & LP_FLAG_FORCED);	/* its pages are leaked at the end */
	ck_assert_uint_eq(h.page_owner[6], 3);
	ck_assert_uint_eq(h.page_owner[44], 3);
	ck_assert(!h.funcs[0].in_use && !h.funcs[1].in_use && h.funcs[2].in_use);
	ck_assert_uint_eq(h.cb_slot, 3);
	ck_assert_uint_eq(h.cb_stage, LP_CB_POST_UNPATCH);
	/* the end: dropped, pages leaked (forced), the record and kmods cleared */
	lp_rec_drop_patch(&h, 2, true);
	ck_assert_uint_eq(h.page_owner[6], LP_PAGE_LEAKED);
	ck_assert_uint_eq(h.cb_slot, 0);
	ck_assert_uint_eq(h.cb_stage, 0);
	ck_assert_uint_eq(h.kmods[2].klp_off, 0);
}
END_TEST

START_TEST(call_gone_clears_once)
{
	setup(true);
	h.cb_slot = 3;
	h.cb_stage = LP_CB_PRE_PATCH;
	h.cb_todo = 0x7;
	/* a call of no callback: nothing changes */
	lp_rec_cb_call_gone(&h, true, 5);
	ck_assert_uint_eq(h.cb_todo, 0x7);
	/* object 1's pre_patch returned 0 */
	h.cb_calling = 2;
	lp_rec_cb_call_gone(&h, true, 0);
	ck_assert_uint_eq(h.cb_calling, 0);
	ck_assert_uint_eq(h.cb_todo, 0x5);
	ck_assert_uint_eq(h.cb_ok, 0x2);
	/* object 0's never ran (its hook was never taken): still owed */
	h.cb_calling = 1;
	lp_rec_cb_call_gone(&h, false, 0);
	ck_assert_uint_eq(h.cb_calling, 0);
	ck_assert_uint_eq(h.cb_todo, 0x5);
	/* object 2's returned -19 (an int in the low 32 bits) */
	h.cb_calling = 3;
	lp_rec_cb_call_gone(&h, true, (int64_t)0xffffffffffffffedull);
	ck_assert_uint_eq(h.cb_todo, 0x1);
	ck_assert_uint_eq(h.cb_ok, 0x2);
	ck_assert_int_eq((int32_t)h.cb_ret, -19);
	/* a hostile index */
	h.cb_calling = 99;
	lp_rec_cb_call_gone(&h, true, 0);
	ck_assert_uint_eq(h.cb_calling, 0);
	ck_assert_uint_eq(h.cb_todo, 0x1);
}
END_TEST

START_TEST(set_patch_records_kmod)
{
	struct lp_image img;

	memset(&h, 0, sizeof(h));
	memset(&img, 0, sizeof(img));
	h.region_va = 0xffffffffc0000000ull;
	snprintf(img.name, sizeof(img.name), "demo");
	img.code_size = 4096;
	img.data_size = 8192;
	img.kmod_klp_va = h.region_va + 44 * 4096 + 0x80;
	img.kmod_exit_fn = h.region_va + 6 * 4096 + 0x10;
	lp_rec_set_patch(&h, &img, 6, 44, 1, LP_LOADED, 0);
	ck_assert_uint_eq(h.patches[1].state, LP_LOADED);
	ck_assert_uint_eq(h.page_owner[6], 2);
	ck_assert_uint_eq(h.page_owner[44], 2);
	ck_assert_uint_eq(h.page_owner[45], 2);
	ck_assert_uint_eq(h.kmods[1].klp_off, 44 * 4096 + 0x80);
	ck_assert_uint_eq(h.kmods[1].exit_off, 6 * 4096 + 0x10);
}
END_TEST

/* An atomic replace completed: a dropped patch with an exit keeps its
 * pages, "loaded", functions gone, its exit queued (not cb_slot); one
 * without is dropped; one already loaded is left as it is. */
START_TEST(replaced_keeps_pages_for_exit)
{
	setup(false);
	lp_rec_replaced(&h, 2, false);
	ck_assert_uint_eq(h.patches[2].state, LP_FREE);
	ck_assert_uint_eq(h.page_owner[6], 0);
	ck_assert_int_eq(lp_rec_exit_queued(&h), -1);

	setup(true);
	lp_rec_replaced(&h, 2, false);
	ck_assert_uint_eq(h.patches[2].state, LP_LOADED);
	ck_assert(!(h.patches[2].flags & LP_FLAG_FORCED));
	ck_assert_uint_eq(h.page_owner[6], 3);
	ck_assert_uint_eq(h.page_owner[44], 3);
	ck_assert(!h.funcs[0].in_use && !h.funcs[1].in_use && h.funcs[2].in_use);
	ck_assert_uint_eq(h.cb_slot, 0);
	ck_assert_int_eq(lp_rec_exit_queued(&h), 2);
	/* being run (cb_slot): no longer queued */
	h.cb_slot = 3;
	h.cb_stage = LP_CB_EXIT;
	ck_assert_int_eq(lp_rec_exit_queued(&h), -1);
	/* a loaded patch (its own callbacks owed) is not touched */
	h.funcs[0].in_use = 1;
	lp_rec_replaced(&h, 2, true);
	ck_assert(h.funcs[0].in_use && !(h.patches[2].flags & LP_FLAG_FORCED));
	ck_assert_uint_eq(h.cb_slot, 3);

	setup(true);
	lp_rec_replaced(&h, 2, true);	/* forced: its pages are leaked at the end */
	ck_assert(h.patches[2].flags & LP_FLAG_FORCED);
}
END_TEST

static TCase *lp_kmod_cb_tcase(void)
{
	TCase *tc = tcase_create("lp_kmod_cb");

	tcase_add_test(tc, patched_owes_post_patch);
	tcase_add_test(tc, unpatched_keeps_pages_for_exit);
	tcase_add_test(tc, call_gone_clears_once);
	tcase_add_test(tc, set_patch_records_kmod);
	tcase_add_test(tc, replaced_keeps_pages_for_exit);
	return tc;
}
GP_TCASE(lp_kmod_cb_tcase)
