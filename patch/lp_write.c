// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * lp_write.c - every write the patch engine makes into a guest: code at a
 * kernel address (through the target's code path, which invalidates
 * translated code under TCG), data at a kernel address, region pages, and
 * guest-physical bytes.  Each is journaled first (lp_journal.c), and
 * lp_resume() ends the pause's transaction - committed, or rolled back on
 * error - before the guest runs again.  introspect/ below only reads.
 * The target must be paused.
 */
#include "lp_engine.h"
#include "lp_journal.h"

/* The guest's jiffies, watched by the journal: if it moves between the
 * first write of a pause and its commit, something let the guest run in
 * the middle of our writes (another QMP or gdb client's `cont`). */
static void watch_jiffies(struct kern *k)
{
	static struct kern *done;
	uint64_t va, pa;

	if (done == k)
		return;
	done = k;
	if ((kern_has_sym(k, "jiffies_64", &va) || kern_has_sym(k, "jiffies", &va)) &&
	    gp_ok(kern_v2p(k, va, &pa)))
		lp_journal_watch(pa);
}

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
	watch_jiffies(k);
	return lp_jwrite(k->t, pa, buf, len, true);
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
	watch_jiffies(k);
	return lp_jwrite(k->t, pa, buf, len, false);
}

/* Write `size` bytes at the start of region page `page`. */
struct gp_error *lp_write_pages(struct kern *k, unsigned page, const uint8_t *buf,
				    size_t size, bool code)
{
	if (!size)
		return NULL;
	watch_jiffies(k);
	return lp_jwrite(k->t, lp_page_pa(page), buf, size, code);
}

struct gp_error *lp_write_alloc(struct kern *k, unsigned page, unsigned pages, const uint8_t *buf,
				size_t used, bool code)
{
	static const uint8_t zero[4096];
	size_t end = (size_t)pages * 4096, off = used;
	struct gp_error *err;

	if (used > end)
		return gp_error_create(GP_ERR_INVAL, "%zu bytes do not fit %u region pages (a bug)",
				       used, pages);
	if ((err = lp_write_pages(k, page, buf, used, code)))
		return err;
	while (off < end) {
		size_t n = 4096 - off % 4096;

		if ((err = lp_jwrite(k->t, lp_page_pa(page) + off, zero, n, code)))
			return err;
		off += n;
	}
	return NULL;
}

/* Guest-physical, for the region's own page table and entry. */
struct gp_error *lp_write_phys(struct kern *k, uint64_t pa, const void *buf, size_t len,
			       bool code)
{
	watch_jiffies(k);
	return lp_jwrite(k->t, pa, buf, len, code);
}

struct gp_error *lp_resume(struct kern *k, struct gp_error *err)
{
	return tgt_resume_keep(k->t, lp_txn_end(k->t, err));
}
