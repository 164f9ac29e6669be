// SPDX-License-Identifier: GPL-2.0-or-later
#include <string.h>

#include "pgtable.h"

static const char *const level_names[5] = { "PML5", "PML4", "PDPT", "PD",
					    "PT" };

uint64_t pt_cr3_kernel_root(uint64_t cr3)
{
	/* PTI: PTI_USER_PGTABLE_BIT is PAGE_SHIFT (arch/x86/mm/pti.c). */
	return cr3 & PT_ADDR_MASK & ~(1ull << 12);
}

int pt_canonical(uint64_t va, int levels)
{
	int bits = levels == 5 ? 57 : 48;
	int64_t s = (int64_t)(va << (64 - bits)) >> (64 - bits);

	return (uint64_t)s == va;
}

struct gp_error *pt_translate(struct tgt *t, uint64_t root_pa, int levels,
			      uint64_t va, struct pt_walk *w)
{
	uint64_t table = root_pa & PT_ADDR_MASK;
	int first = levels == 5 ? 0 : 1;
	uint64_t flags = PT_RW | PT_USER;

	memset(w, 0, sizeof(*w));
	w->levels = levels;
	if (levels != 4 && levels != 5)
		return gp_error_create(GP_ERR_INVAL, "bad paging depth %d",
				       levels);
	if (!pt_canonical(va, levels))
		return gp_error_addr(GP_ERR_FAULT, va,
				     "0x%llx is not a canonical address",
				     (unsigned long long)va);
	for (int lvl = first; lvl < 5; lvl++) {
		/* Shift for this level: PML5 48, PML4 39, PDPT 30, PD 21, PT 12. */
		int shift = 12 + 9 * (4 - lvl);
		uint64_t idx = (va >> shift) & 511;
		uint64_t epa = table + idx * 8;
		uint64_t e;
		struct gp_error *err;

		err = tgt_read_phys(t, epa, &e, sizeof(e));
		if (err)
			return gp_error_wrap(err,
					     "reading %s entry for 0x%llx at 0x%llx",
					     level_names[lvl],
					     (unsigned long long)va,
					     (unsigned long long)epa);
		w->entry[w->depth] = e;
		w->entry_pa[w->depth] = epa;
		w->depth++;
		if (!(e & PT_PRESENT))
			return gp_error_addr(GP_ERR_FAULT, va,
					     "0x%llx: page not present (%s entry 0x%llx at 0x%llx)",
					     (unsigned long long)va,
					     level_names[lvl],
					     (unsigned long long)e,
					     (unsigned long long)epa);
		flags &= e & (PT_RW | PT_USER);
		flags |= e & PT_NX;
		/* A large page at PDPT (1G) or PD (2M); PSE is reserved at
		 * PML4/PML5, where we treat it as corrupt. */
		if ((e & PT_PSE) && lvl >= 2 && lvl <= 3) {
			uint64_t size = 1ull << shift;
			uint64_t base = e & PT_ADDR_MASK & ~(size - 1);

			w->pa = base | (va & (size - 1));
			w->page_size = size;
			w->flags = flags | PT_PRESENT;
			return NULL;
		}
		if ((e & PT_PSE) && lvl < 2)
			return gp_error_addr(GP_ERR_CORRUPT, va,
					     "0x%llx: %s entry 0x%llx has the reserved PS bit",
					     (unsigned long long)va,
					     level_names[lvl],
					     (unsigned long long)e);
		table = e & PT_ADDR_MASK;
	}
	w->pa = table | (va & 0xfff);
	w->page_size = 4096;
	w->flags = flags | PT_PRESENT;
	return NULL;
}
