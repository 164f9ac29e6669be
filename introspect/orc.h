/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * orc.h - the guest kernel's ORC unwind tables, read from guest memory
 * (__start_orc_unwind_ip, __start_orc_unwind) and looked up by address.
 *
 * Layout as in Linux 6.1 (arch/x86/include/asm/orc_types.h): a table of
 * 32-bit self-relative instruction addresses, sorted at build time, and a
 * parallel table of 6-byte entries { s16 sp_offset; s16 bp_offset;
 * sp_reg:4, bp_reg:4; type:2, end:1 }.  Linux 6.4 (commit fb799447ae29)
 * changed the type field and added 'signal'; that format is refused.
 */
#ifndef GP_ORC_H
#define GP_ORC_H

#include <stddef.h>
#include <stdint.h>

#include "gp_error.h"
#include "kernel.h"

#define ORC_MAX_ENTRIES (4u << 20)

enum orc_reg {
	ORC_REG_UNDEFINED = 0,
	ORC_REG_PREV_SP = 1,
	ORC_REG_DX = 2,
	ORC_REG_DI = 3,
	ORC_REG_BP = 4,
	ORC_REG_SP = 5,
	ORC_REG_R10 = 6,
	ORC_REG_R13 = 7,
	ORC_REG_BP_INDIRECT = 8,
	ORC_REG_SP_INDIRECT = 9,
};

enum orc_type {
	ORC_TYPE_CALL = 0,
	ORC_TYPE_REGS = 1,
	ORC_TYPE_REGS_PARTIAL = 2,
};

struct orc_entry {
	int16_t sp_offset, bp_offset;
	uint8_t sp_reg, bp_reg, type, end;
};

struct orc_table {
	uint64_t *ip;		/* absolute, ascending */
	uint8_t *raw;		/* n * 6 bytes */
	size_t n;
	uint64_t text_start, text_end;	/* _text .. _etext */
	uint64_t init_start, init_end;	/* _sinittext .. _einittext, or 0 */
};

struct gp_error *orc_load(struct kern *k, struct orc_table **out);
/* Build from host copies (unit tests; or a vmlinux's sections). ip_rel are
 * the 32-bit self-relative entries located at ip_base. */
struct gp_error *orc_from_raw(const int32_t *ip_rel, uint64_t ip_base, const uint8_t *raw,
			      size_t n, uint64_t text_start, uint64_t text_end,
			      struct orc_table **out);
void orc_free(struct orc_table *t);
/* True if ip is kernel text the table covers: the core text, or the init
 * text that the boot CPU's idle stack still returns through after boot
 * (rest_init's callers); the kernel's own unwinder looks those up too. */
bool orc_text(const struct orc_table *t, uint64_t ip);
/* The entry covering ip, or false if ip is outside the table's text. */
bool orc_find(const struct orc_table *t, uint64_t ip, struct orc_entry *e);

#endif
