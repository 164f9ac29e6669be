/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * orc.h - the guest kernel's ORC unwind tables, read from guest memory
 * (__start_orc_unwind_ip, __start_orc_unwind) and looked up by address.
 *
 * A table of 32-bit self-relative instruction addresses, sorted at build
 * time, and a parallel table of 6-byte entries { s16 sp_offset; s16
 * bp_offset; sp_reg:4, bp_reg:4; then bits whose meaning changed }:
 * Linux up to 6.2 has type:2, end:1; Linux 6.4 (commit fb799447ae29 and
 * ffb1b4a41016) has type:3 (UNDEFINED, END_OF_STACK, CALL, REGS,
 * REGS_PARTIAL), signal:1.  Which one a guest uses is told by its
 * 20-byte ORC header (__start_orc_header, since b9f174c811e3 in 6.4) or,
 * for a kernel without one, by struct orc_entry in its BTF; the formats
 * guestpatch knows are one table in orc_format.c, and any other is refused
 * by name.  Entries are decoded into one shape (struct orc_entry below,
 * with the 6.4 meanings) so the unwinder has one set of rules.
 */
#ifndef GP_ORC_H
#define GP_ORC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

/* A decoded entry's type, numbered as Linux 6.4+ numbers it; entries of
 * older formats are decoded into these meanings.  Other values are types
 * the unwinder does not know (it stops, unreliable). */
enum orc_type {
	ORC_TYPE_UNDEFINED = 0,		/* no unwind data: unreliable */
	ORC_TYPE_END_OF_STACK = 1,	/* the bottom of a kthread or idle stack */
	ORC_TYPE_CALL = 2,
	ORC_TYPE_REGS = 3,
	ORC_TYPE_REGS_PARTIAL = 4,
};

struct orc_entry {
	int16_t sp_offset, bp_offset;
	uint8_t sp_reg, bp_reg;
	uint8_t type;		/* enum orc_type */
	bool signal;		/* the next frame's ip is not a return address */
};

#define ORC_HASH_LEN 20

/* Where the bits of the 6-byte entry lie, as struct orc_entry in a guest's
 * BTF shows them: bit offsets from the entry's start, -1 if absent. */
struct orc_shape {
	int sp_reg_bit, bp_reg_bit;	/* 4 bits each */
	int type_bit, type_bits;
	int end_bit, signal_bit;	/* 1 bit each */
};

/* One ORC entry format (orc_format.c holds the table). */
struct orc_format {
	const char *name;		/* "linux-6.1", in messages */
	const char *kernels;		/* which kernels use it */
	const char *hash;		/* its ORC header, as 40 hex digits; NULL: none */
	struct orc_shape shape;		/* struct orc_entry in BTF */
	void (*decode)(const uint8_t raw[6], struct orc_entry *e);
};

/* The format a kernel shows: hash is its ORC header (NULL: it has none),
 * btf_shape is struct orc_entry in its BTF (NULL: no such struct).  A
 * header names the format; without one, the BTF shape must be that of a
 * known header-less format; a BTF shape that disagrees with the header is
 * refused too.  Anything else: GP_ERR_UNSUPPORTED naming what was seen. */
struct gp_error *orc_format_pick(const uint8_t *hash, const struct orc_shape *btf_shape,
				 const struct orc_format **out);
/* orc_format_pick() on what the guest shows: its ORC header (kallsyms
 * __start_orc_header, or the --vmlinux file's .orc_header) and its BTF. */
struct gp_error *orc_format_detect(struct kern *k, const struct orc_format **out);
/* A format of the table by name (tests). */
const struct orc_format *orc_format_by_name(const char *name);

/* The instruction addresses are kept as the kernel keeps them: n 32-bit
 * entries, each relative to its own place (ip_base + 4 * i), decoded at
 * lookup (orc_ip).  The kernel's tables are looked up in place in the
 * guest RAM mapping when the target has one (read only; they are
 * read-only in the guest too): no copy of ~4 MB, no sort check of 340k
 * entries at every attach.  Such a table lives as long as the target's
 * mapping (the kern it was loaded from).  Every lookup stays within n
 * entries whatever the guest wrote there, and returns an entry whose
 * address is <= ip with the next one's > ip (what a binary search checks
 * on its way), so a table that is not sorted misleads only its own guest's
 * stack checks, as wrong entries would.  Tables built from host copies
 * (orc_from_raw: modules, patches, a vmlinux file, a target without a
 * mapping) are checked sorted when built. */
struct orc_table {
	const struct orc_format *fmt;	/* how raw decodes */
	const uint8_t *rel;	/* n * 4 bytes: s32 self-relative addresses, ascending */
	uint64_t ip_base;	/* where rel[0] lies */
	const uint8_t *raw;	/* n * 6 bytes */
	size_t n;
	void *owned;		/* the host copy rel and raw point into, or NULL */
	uint64_t text_start, text_end;	/* _text .. _etext */
	uint64_t init_start, init_end;	/* _sinittext .. _einittext, or 0 */
};

/* The address entry i stands for (i < t->n). */
static inline uint64_t orc_ip(const struct orc_table *t, size_t i)
{
	int32_t r;

	memcpy(&r, t->rel + i * 4, 4);
	return t->ip_base + i * 4 + (uint64_t)(int64_t)r;
}

/* The kernel's tables, in the format the kernel shows (orc_format_detect). */
struct gp_error *orc_load(struct kern *k, struct orc_table **out);
/* Build from host data, copied (unit tests; a vmlinux's sections; a
 * module's tables) and checked sorted. ip_rel are the 32-bit
 * self-relative entries located at ip_base; raw the n 6-byte entries in
 * format fmt. */
struct gp_error *orc_from_raw(const struct orc_format *fmt, const int32_t *ip_rel,
			      uint64_t ip_base, const uint8_t *raw, size_t n,
			      uint64_t text_start, uint64_t text_end, struct orc_table **out);
/* A table over data that stays where it is (the guest RAM mapping) and
 * outlives the table; not checked sorted (see struct orc_table). */
struct gp_error *orc_in_place(const struct orc_format *fmt, const void *ip_rel, uint64_t ip_base,
			      const void *raw, size_t n, uint64_t text_start, uint64_t text_end,
			      struct orc_table **out);
void orc_free(struct orc_table *t);
/* True if ip is kernel text the table covers: the core text, or the init
 * text that the boot CPU's idle stack still returns through after boot
 * (rest_init's callers); the kernel's own unwinder looks those up too. */
bool orc_text(const struct orc_table *t, uint64_t ip);
/* The entry covering ip, or false if ip is outside the table's text. */
bool orc_find(const struct orc_table *t, uint64_t ip, struct orc_entry *e);

#endif
