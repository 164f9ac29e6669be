// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * lp_write.c - the patch engine's writes into a guest: code at a kernel
 * address (through the target's code path, which invalidates translated
 * code under TCG), data at a kernel address, and region pages.  The only
 * other writer is lp_region.c (the region's page table and header).
 * introspect/ below only reads.  The target must be paused.
 */
#include "lp_engine.h"

struct gp_error *lp_write_kernel_code(struct kern *k, uint64_t va, const void *buf,
					  size_t len)
{
	uint64_t pa;
	struct gp_error *err = kern_v2p(k, va, &pa);

	/* Our writes never cross a page: sites are 5 bytes at a function
	 * start, slots are 32-byte aligned. Check anyway. */
	if (!err && ((va & 4095) + len > 4096))
		err = gp_error_addr(GP_ERR_INVAL, va, "code write crosses a page");
	if (err)
		return err;
	return tgt_write_code(k->t, pa, buf, len);
}

struct gp_error *lp_write_kernel_data(struct kern *k, uint64_t va, const void *buf, size_t len)
{
	uint64_t pa;
	struct gp_error *err;

	if ((va & 4095) + len > 4096)
		return gp_error_addr(GP_ERR_INVAL, va, "write at 0x%llx crosses a page",
				     (unsigned long long)va);
	if ((err = kern_v2p(k, va, &pa)))
		return err;
	return tgt_write_phys(k->t, pa, buf, len);
}

/* Write `size` bytes at the start of region page `page`. */
struct gp_error *lp_write_pages(struct kern *k, unsigned page, const uint8_t *buf,
				    size_t size, bool code)
{
	if (!size)
		return NULL;
	return code ? tgt_write_code(k->t, lp_page_pa(page), buf, size) :
		      tgt_write_phys(k->t, lp_page_pa(page), buf, size);
}
