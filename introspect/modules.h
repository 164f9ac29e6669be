/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * modules.h - the guest's loaded modules, read from its `modules` list:
 * where each one's core text lies, its ORC tables (so stacks through
 * module code unwind reliably, as the kernel's own unwinder does them) and
 * its symbols (so frames and messages name module functions).
 *
 * Layouts of struct module up to 6.3 (core_layout) and from 6.4
 * (mem[MOD_TEXT]), told apart by the guest's BTF, offsets from BTF; any
 * other refused by name (modules.c).  Each module's ORC tables are read in
 * the format its own ORC header names (6.4+), or the kernel's (no headers,
 * up to 6.3).  Guest memory is untrusted: the list
 * walk, table sizes and string lengths are all bounded and checked; a
 * module whose records do not hold together is skipped, not trusted.
 * Read with the target paused.
 */
#ifndef GP_MODULES_H
#define GP_MODULES_H

#include <stddef.h>
#include <stdint.h>

#include "gp_error.h"
#include "kernel.h"
#include "orc.h"

#define KMOD_MAX 4096
#define KMOD_MAX_SYMS (1u << 18)
#define KMOD_NAME_LEN 56
/* Caps on what one read of the module list reads and keeps, all modules
 * together (each module alone is bounded too: ORC_MAX_ENTRIES,
 * KMOD_MAX_SYMS, 4 MiB of strings). A few hundred modules of Debian 6.1
 * hold some 10^5 ORC entries and symbols and a few MiB of names; without
 * these, KMOD_MAX modules at their own bounds would be hundreds of GiB. */
#define KMOD_MAX_ORC_TOTAL (4u << 20)		/* ORC entries, as many as one kernel table may have */
#define KMOD_MAX_SYMS_TOTAL (1u << 20)		/* symbol table entries */
#define KMOD_MAX_STRTAB_TOTAL (64u << 20)	/* bytes of symbol names */

struct kmod_sym {
	uint64_t addr, size;
	uint32_t name;		/* offset into strs */
};

struct kmod {
	char name[KMOD_NAME_LEN + 1];
	uint64_t addr;			/* its struct module */
	uint64_t text_start, text_end;	/* core text */
	struct orc_table *orc;		/* NULL if the module has none, or it was refused */
	const struct orc_format *orc_fmt;	/* the format its tables were read in */
	char orc_why[200];		/* why its ORC was refused ("" if it was not) */
	struct kmod_sym *syms;		/* functions in core text, by address */
	size_t nsyms;
	char *strs;
	size_t strs_len;
};

struct kmod_list {
	struct kmod *v;
	size_t n;
	int skipped;			/* modules whose records did not check out */
};

/* The loaded modules. fmt is the kernel's own ORC format: a module's ORC
 * tables are read in the format its own ORC header names (6.4+), or in
 * fmt where no module has a header (up to 6.3); a module whose format
 * cannot be told, or is not known, is kept without ORC (orc_why says
 * why). With fmt NULL no module ORC is read. A struct module layout
 * guestpatch does not know is refused (GP_ERR_UNSUPPORTED). */
struct gp_error *kmod_load(struct kern *k, const struct orc_format *fmt, struct kmod_list *out);
void kmod_free(struct kmod_list *l);
/* The module whose core text holds addr, or NULL. */
const struct kmod *kmod_find(const struct kmod_list *l, uint64_t addr);
/* A function by name: in module `mod`, or (mod NULL) in any module, where
 * it must be unique. *m gets the module. */
struct gp_error *kmod_lookup(const struct kmod_list *l, const char *mod, const char *name,
			     const struct kmod **m, uint64_t *addr, uint64_t *size);
/* The loaded module of that name, or NULL. */
const struct kmod *kmod_by_name(const struct kmod_list *l, const char *mod);

/* The function symbol at or before addr in m, or NULL. */
const struct kmod_sym *kmod_symbolize(const struct kmod *m, uint64_t addr);

#endif
