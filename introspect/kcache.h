/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kcache.h - a host-side cache of what attach decodes, per kernel build.
 *
 * Fleets run hundreds of short vmm processes against guests sharing a
 * handful of kernel builds; each attach decodes ~94k kallsyms names and
 * sorts them twice (~30 ms) and parses ~5 MB of BTF (~5 ms).  The cache
 * keeps, per build id (the guest's VMCOREINFO BUILD-ID):
 *
 *   <id>.syms  the decoded symbol table: names, types, both sorted
 *              indexes, and each address relative to the KASLR offset;
 *              with a hash of the guest's compressed kallsyms tables
 *              (kallsyms_names..token_table, token table, token index);
 *   <id>.btf   a hash of the guest's raw BTF and the results of the BTF
 *              lookups commands made (kbtf.c's memo), so an attach answers
 *              them without parsing the BTF at all;
 *   0.vmci     hints: where VMCOREINFO was found, per target spec, tried
 *              (and checked as any candidate) before scanning guest RAM.
 *
 * A file is untrusted input: header (magic, version, kind, build id,
 * payload size, payload hash) and every index and offset in it are
 * checked; anything wrong and it is ignored and rebuilt.  A file that
 * checks out is still validated against the guest at every attach: the
 * build id; the KASLR offset applied (relative_base - KASLR offset as
 * recorded); the hash of the guest's compressed tables; every symbol's
 * address against the guest's kallsyms_offsets; a sample of symbols (48
 * spread over the table and 16 random) decoded from the guest's tables
 * and compared by name and type; and the BTF hash.  Any mismatch: decode
 * from the guest as without a cache, and rewrite the file.
 *
 * Files are written to a temporary name and renamed (many vmm processes
 * may run at once), mode 0600 in a 0700 directory.
 */
#ifndef GP_KCACHE_H
#define GP_KCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gp_error.h"
#include "kallsyms.h"

#define KCACHE_MAGIC "GPKCACHE"
#define KCACHE_VERSION 1
#define KCACHE_MAX_FILE (256u << 20)

enum kcache_kind {
	KCACHE_SYMS = 1,
	KCACHE_BTF = 2,
	KCACHE_VMCI = 3,	/* "0.vmci": where VMCOREINFO was, per target */
};

struct kcache_hdr {
	char magic[8];
	uint32_t version;
	uint32_t kind;		/* enum kcache_kind */
	char build_id[40];	/* hex, not NUL-terminated */
	uint64_t payload_len;
	uint64_t payload_hash;	/* kcache_hash(payload, payload_len, 0) */
};

/* Header of a KCACHE_SYMS payload; then n records struct kcache_sym, n
 * u32 by_name, n u32 by_addr, and pool_len bytes of names: every name
 * once, NUL-terminated, in by_name order (so checking that order reads
 * the pool front to back). */
struct kcache_syms_head {
	uint32_t num_syms;
	uint32_t absolute_percpu;
	uint64_t pool_len;
	uint64_t names_len, token_table_len;
	uint64_t tables_hash;	/* kcache_tables_hash() of the guest's tables */
	uint64_t base_rel;	/* kallsyms_relative_base - KASLR offset */
};

#define KCACHE_ABS 0x100	/* kcache_sym.type: address not relocated */

struct kcache_sym {
	uint64_t addr_rel;	/* address - KASLR offset, or the address (KCACHE_ABS) */
	uint32_t name;		/* into the pool */
	uint32_t type;		/* the type character | KCACHE_ABS */
};

/* A fast non-cryptographic 64-bit hash (corruption and mismatch, not an
 * adversary: the directory is the user's own, 0700). */
uint64_t kcache_hash(const void *p, size_t n, uint64_t seed);
/* The hash of the compressed kallsyms tables recorded in a syms file. */
uint64_t kcache_tables_hash(const struct ksym_raw *raw);

/* The cache directory ($GP_CACHE_DIR; /var/cache/guestpatch as root;
 * $XDG_CACHE_HOME/guestpatch; ~/.cache/guestpatch) into buf, or NULL if
 * caching is off (GP_CACHE=0) or there is no such place. */
const char *kcache_dir(char *buf, size_t len);

/* A cache file mapped read-only. */
struct kcache_file {
	void *map;
	size_t map_len;
	const uint8_t *payload;
	size_t len;
};
/* Map DIR/<build_id>.<kind> after checking its header and checksum;
 * GP_ERR_NOTFOUND if there is none, GP_ERR_CORRUPT naming what is wrong
 * otherwise. */
struct gp_error *kcache_read(const char *dir, const char *build_id, enum kcache_kind kind,
			     struct kcache_file *f);
void kcache_release(struct kcache_file *f);
/* Write it (creating DIR 0700), atomically. */
struct gp_error *kcache_write(const char *dir, const char *build_id, enum kcache_kind kind,
			      const void *payload, size_t len);
/* The file's path (for messages and tests). */
void kcache_path(char *buf, size_t len, const char *dir, const char *build_id,
		 enum kcache_kind kind);

/* Serialize t, decoded from raw with KASLR offset kaslr. */
struct gp_error *kcache_syms_encode(const struct ksym_table *t, const struct ksym_raw *raw,
				    uint64_t kaslr, void **payload, size_t *len);
/* A table from a syms file, validated against the guest's raw tables and
 * KASLR offset as described above; seed picks the random sample.  The
 * table takes the file's mapping over (f is emptied) on success.  An
 * error says why it does not fit (the cache is then rebuilt). */
struct gp_error *kcache_syms_decode(struct kcache_file *f, const struct ksym_raw *raw,
				    uint64_t kaslr, uint64_t seed, struct ksym_table **out);

/* A KCACHE_BTF payload: the BTF's size and hash, then a kbtf memo. */
struct kcache_btf_head {
	uint64_t btf_len;
	uint64_t btf_hash;
};

#endif

/* ---- at attach (kernel.c) ---- */
struct kern;
/* k->syms from the cache if it fits the guest's raw tables, else decoded
 * (and the cache rewritten); k->cache_syms says which. */
struct gp_error *kcache_attach_syms(struct kern *k, const struct ksym_raw *raw);
/* k->btf for the guest's BTF at va (len bytes, in the kernel image): a
 * lazy one with the cached lookups if its hash fits, else parsed. */
struct gp_error *kcache_attach_btf(struct kern *k, uint64_t va, size_t len);
/* Save the BTF lookups learnt (at detach; failures are ignored). */
void kcache_detach(struct kern *k);
/* Where VMCOREINFO was found last time for this target (its spec
 * string): *pa, true if there is such a hint.  Only a hint: the page is
 * checked as any candidate of the scan, and the scan runs if it fails. */
bool kcache_vmci_hint(const struct kern *k, uint64_t *pa);
void kcache_vmci_save(const struct kern *k, uint64_t pa);
/* "hit", "miss", "off", or "rebuilt (why)", for --stats and vmm info. */
void kcache_note(const struct kern *k, char *buf, size_t len);
