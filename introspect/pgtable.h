/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pgtable.h - x86-64 page-table walks (4- and 5-level; 1G, 2M, 4K pages).
 *
 * The walk keeps every level's entry for diagnostics, as LibVMI's page_info
 * does: when a translation fails, the caller can say which level was not
 * present.
 */
#ifndef GP_PGTABLE_H
#define GP_PGTABLE_H

#include <stdint.h>

#include "gp_error.h"
#include "target.h"

#define PT_PRESENT (1ull << 0)
#define PT_RW (1ull << 1)
#define PT_USER (1ull << 2)
#define PT_PSE (1ull << 7)
#define PT_NX (1ull << 63)
/* Bits 12..51 hold the physical frame (MAXPHYADDR up to 52). */
#define PT_ADDR_MASK 0x000ffffffffff000ull

struct pt_walk {
	int levels;		/* 4 or 5 */
	uint64_t entry[5];	/* entry read at each level, top first */
	uint64_t entry_pa[5];	/* where each entry lives */
	int depth;		/* how many entries were read */
	uint64_t pa;		/* result */
	uint64_t page_size;	/* 4K, 2M or 1G */
	uint64_t flags;		/* effective: RW/USER anded, NX ored */
};

/* The root of a kernel page table from a CR3 value: drops PCID bits, the
 * no-flush bit and PTI's user-half bit (the user PGD is kernel PGD + 4K). */
uint64_t pt_cr3_kernel_root(uint64_t cr3);

/* True if va is canonical for the given paging depth. */
int pt_canonical(uint64_t va, int levels);

/* Translate va with the table at root_pa.  GP_ERR_FAULT names the level
 * whose entry was not present. */
struct gp_error *pt_translate(struct tgt *t, uint64_t root_pa, int levels,
			      uint64_t va, struct pt_walk *w);

#endif
