// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Reading TIF bit numbers out of the guest's own livepatch code
 * (patch/lp_klp.c): the locked bit instructions the kernel's
 * test_and_{clear,set}_tsk_thread_flag() compile to, and code that must
 * not match.
 */
#include <string.h>

#include "gp_check.h"
#include "lp_klp.h"

START_TEST(finds_btr_and_bts)
{
	/* push %rbp; lock btrq $13,(%rdi); jae ...  (klp_update_patch_state) */
	static const uint8_t btr[] = { 0x55, 0xf0, 0x48, 0x0f, 0xba, 0x37, 0x0d, 0x73, 0x05 };
	/* lock btsq $17,0x8(%rbx) with a disp8 */
	static const uint8_t bts8[] = { 0x90, 0xf0, 0x48, 0x0f, 0xba, 0x6b, 0x08, 0x11, 0xc3 };
	/* lock btsq $17,(%rsp) needs a SIB byte */
	static const uint8_t btssib[] = { 0x90, 0xf0, 0x48, 0x0f, 0xba, 0x2c, 0x24, 0x11, 0xc3 };
	/* lock btrl $3,0x1234(%rip) */
	static const uint8_t rip[] = { 0x90, 0xf0, 0x0f, 0xba, 0x35, 0x34, 0x12, 0, 0, 0x03, 0xc3 };

	ck_assert_int_eq(lp_klp_find_bitop(btr, sizeof(btr), 6), 13);
	ck_assert_int_eq(lp_klp_find_bitop(btr, sizeof(btr), 5), -1);
	ck_assert_int_eq(lp_klp_find_bitop(bts8, sizeof(bts8), 5), 17);
	ck_assert_int_eq(lp_klp_find_bitop(btssib, sizeof(btssib), 5), 17);
	ck_assert_int_eq(lp_klp_find_bitop(rip, sizeof(rip), 6), 3);
}
END_TEST

START_TEST(rejects_what_is_not_it)
{
	/* no lock prefix: not an atomic flag operation */
	static const uint8_t nolock[] = { 0x90, 0x48, 0x0f, 0xba, 0x37, 0x0d, 0xc3 };
	/* register operand (mod 3): bt on a register, not on the flags */
	static const uint8_t reg[] = { 0x90, 0xf0, 0x48, 0x0f, 0xba, 0xf0, 0x0d, 0xc3 };
	/* truncated before the immediate */
	static const uint8_t cut[] = { 0x90, 0xf0, 0x48, 0x0f, 0xba, 0x37 };
	/* an immediate beyond 63 is not a bit of an unsigned long */
	static const uint8_t big[] = { 0x90, 0xf0, 0x48, 0x0f, 0xba, 0x37, 0x80, 0xc3 };
	uint8_t junk[4096];

	ck_assert_int_eq(lp_klp_find_bitop(nolock, sizeof(nolock), 6), -1);
	ck_assert_int_eq(lp_klp_find_bitop(reg, sizeof(reg), 6), -1);
	ck_assert_int_eq(lp_klp_find_bitop(cut, sizeof(cut), 6), -1);
	ck_assert_int_eq(lp_klp_find_bitop(big, sizeof(big), 6), -1);
	ck_assert_int_eq(lp_klp_find_bitop(cut, 0, 6), -1);
	/* arbitrary bytes: whatever it returns is in range, and it ends */
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 37 + 11);
	ck_assert_int_ge(lp_klp_find_bitop(junk, sizeof(junk), 6), -1);
	ck_assert_int_lt(lp_klp_find_bitop(junk, sizeof(junk), 6), 64);
}
END_TEST

static TCase *lp_klp_tcase(void)
{
	TCase *tc = tcase_create("lp_klp");

	tcase_add_test(tc, finds_btr_and_bts);
	tcase_add_test(tc, rejects_what_is_not_it);
	return tc;
}
GP_TCASE(lp_klp_tcase)
