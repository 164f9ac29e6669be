/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kallsyms.h - the guest kernel's symbol table.
 *
 * Decoded once from the compressed kallsyms tables in guest memory (or read
 * from a System.map) into an array in kallsyms order, plus two sorted
 * indexes: by name (ties in kallsyms order, so the Nth duplicate of a static
 * name is well defined, as klp_find_object_symbol counts them) and by
 * address.
 */
#ifndef GP_KALLSYMS_H
#define GP_KALLSYMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gp_error.h"

#define KSYM_MAX_SYMS (4u << 20)	/* sanity cap: 6.1 has ~100k-200k */
#define KSYM_NAME_LEN 512		/* KSYM_NAME_LEN since 6.1 */
#define KSYM_MAX_NAMES_BYTES (64u << 20)
/* Cap on the decoded names together (the string pool). Debian 6.1's ~94k
 * symbols take about 2.5 MiB; a hostile token table could expand 4M names
 * to 1 KiB each (4 GiB). */
#define KSYM_MAX_POOL_BYTES (64u << 20)

struct ksym {
	uint64_t addr;
	uint32_t name;		/* offset into the table's string pool */
	uint32_t index;		/* position in kallsyms order */
	char type;		/* 'T', 't', 'D', 'A', ... as /proc/kallsyms */
};

struct ksym_table {
	struct ksym *syms;	/* kallsyms order */
	size_t nr;
	char *pool;
	size_t pool_len, pool_cap;
	uint32_t *by_name;	/* indexes into syms, sorted by (name, index) */
	uint32_t *by_addr;	/* sorted by (addr, index) */
	/* A table from the host cache (kcache.c): pool, by_name and by_addr
	 * point into this read-only file mapping, and syms is an anonymous
	 * mapping of syms_map_len bytes; ksym_free unmaps them. */
	void *file_map;
	size_t file_map_len, syms_map_len;
};

static inline const char *ksym_name(const struct ksym_table *t,
				    const struct ksym *s)
{
	return t->pool + s->name;
}

/* The compressed tables as the kernel lays them out (kernel/kallsyms.c,
 * CONFIG_KALLSYMS_BASE_RELATIVE). Pointers are host copies. */
struct ksym_raw {
	uint32_t num_syms;
	const uint8_t *names;
	size_t names_len;
	const char *token_table;
	size_t token_table_len;
	const uint16_t *token_index;	/* 256 entries */
	const int32_t *offsets;		/* num_syms entries */
	uint64_t relative_base;
	/* CONFIG_KALLSYMS_ABSOLUTE_PERCPU (x86-64 SMP): non-negative offsets
	 * are absolute values (per-cpu symbols). */
	bool absolute_percpu;
};

struct gp_error *ksym_decode(const struct ksym_raw *raw,
			     struct ksym_table **out);

/* Pieces of ksym_decode, for checking a cached table against the guest's
 * (kcache.c).  The address of symbol i (< num_syms). */
uint64_t ksym_raw_addr(const struct ksym_raw *raw, uint32_t i);
/* Every token lies inside the token table; run before the two below. */
struct gp_error *ksym_check_tokens(const struct ksym_raw *raw);
/* Step *off (into raw->names) over symbol i's entry, bounds checked;
 * *codes: how many token codes it has (they end at the new *off). */
struct gp_error *ksym_skip_one(const struct ksym_raw *raw, uint32_t i, size_t *off,
			       size_t *codes);
/* Decode symbol i at *off: name[0] is its type, the rest its name
 * (NUL-terminated, *nlen bytes in all); *off steps past it. */
struct gp_error *ksym_decode_one(const struct ksym_raw *raw, uint32_t i, size_t *off,
				 char name[KSYM_NAME_LEN * 2], size_t *nlen);

/* System.map text ("ADDR TYPE NAME" lines); addresses shifted by delta
 * (the KASLR offset) except for 'A' symbols below the kernel map. */
struct gp_error *ksym_parse_map(const char *text, size_t len, uint64_t delta,
				struct ksym_table **out);

/* Builds the indexes; called by the constructors above. */
struct gp_error *ksym_finish(struct ksym_table *t);

void ksym_free(struct ksym_table *t);

/* All symbols called name, in kallsyms order: *first is a pointer into
 * t->by_name, *count how many. Returns false if there is none. */
bool ksym_find_all(const struct ksym_table *t, const char *name,
		   const uint32_t **first, size_t *count);

/* The address of a unique name; GP_ERR_NOTFOUND or GP_ERR_INVAL
 * (ambiguous: N symbols share the name) otherwise.  pos (1-based) picks the
 * pos-th duplicate in kallsyms order; 0 means "must be unique". */
struct gp_error *ksym_lookup(const struct ksym_table *t, const char *name,
			     unsigned long pos, const struct ksym **out);

/* The symbol containing addr: the last symbol at or below it (ties: the
 * first in kallsyms order), and its size up to the next higher address.
 * Absolute ('A') symbols are not considered.  NULL if addr is below all. */
const struct ksym *ksym_symbolize(const struct ksym_table *t, uint64_t addr,
				  uint64_t *offset, uint64_t *size);

#endif
