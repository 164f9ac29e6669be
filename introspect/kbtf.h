/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kbtf.h - struct layouts from the guest kernel's own BTF (parsed with
 * libbpf).  Every structure offset guestpatch uses comes from here; none is
 * hard-coded.
 */
#ifndef GP_KBTF_H
#define GP_KBTF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gp_error.h"

struct btf;

/* Fetches the raw BTF (malloc'd) for a lazy kbtf, checking it still
 * hashes to hash. */
typedef struct gp_error *(*kbtf_fetch_fn)(void *arg, uint64_t hash, void **data, size_t *len);

struct kbtf_memo_ent {
	uint64_t h;
	char *key;
	size_t klen;
	int code;		/* 0, or the gp_error_code the lookup returned */
	char *msg;		/* its message */
	uint64_t v1, v2;
};

/* Lookups go through a memo of their results; kcache.c saves it per
 * kernel build, so a later attach can answer them without parsing the
 * BTF at all (a lazy kbtf parses it on the first lookup the memo lacks). */
struct kbtf {
	struct btf *btf;	/* NULL: lazy, not parsed yet */
	size_t size;		/* bytes of raw BTF */
	uint64_t hash;		/* lazy: the raw BTF's hash (kcache_hash) */
	kbtf_fetch_fn fetch;
	void *fetch_arg;
	struct kbtf_memo_ent *memo;
	size_t nmemo, capmemo;
	bool memo_dirty;	/* results learnt since import */
};

#define KBTF_MAX_BYTES (64u << 20)

/* Parse raw BTF (copied; the caller keeps data). */
struct gp_error *kbtf_load(const void *data, size_t len, struct kbtf **out);
void kbtf_free(struct kbtf *k);
/* A kbtf of len bytes parsed only when a lookup misses the memo, through
 * fetch(arg, hash, ...). */
struct gp_error *kbtf_lazy(size_t len, uint64_t hash, kbtf_fetch_fn fetch, void *arg,
			   struct kbtf **out);
/* The memo, serialized (malloc'd), and read back (untrusted: checked). */
struct gp_error *kbtf_memo_export(const struct kbtf *k, void **data, size_t *len);
struct gp_error *kbtf_memo_import(struct kbtf *k, const void *data, size_t len);
bool kbtf_memo_dirty(const struct kbtf *k);
bool kbtf_parsed(const struct kbtf *k);

/* NAME below is a struct or union, or a typedef of one (rwlock_t). */

/* Size of struct/union NAME. */
struct gp_error *kbtf_sizeof(const struct kbtf *k, const char *name,
			     uint64_t *size);

/* Byte offset and size of PATH inside struct NAME.  PATH is dotted
 * ("thread.sp", "thread_info.cpu"); members of anonymous structs and unions
 * are found as the compiler finds them.  Bitfields are refused. */
struct gp_error *kbtf_offsetof(const struct kbtf *k, const char *name,
			       const char *path, uint64_t *offset,
			       uint64_t *size);

/* Element count of array member PATH in struct NAME (e.g. comm: 16). */
struct gp_error *kbtf_array_len(const struct kbtf *k, const char *name,
				const char *path, uint64_t *nelems);

/* Bit offset and bitfield width (0: not a bitfield) of MEMBER, a direct
 * member of struct NAME (struct orc_entry's bits, say). */
struct gp_error *kbtf_bitfield(const struct kbtf *k, const char *name, const char *member,
			       uint64_t *bit_offset, uint64_t *bits);

/* The value of ENUMERATOR in enum NAME (mod_mem_type's MOD_TEXT, say). */
struct gp_error *kbtf_enum_value(const struct kbtf *k, const char *name, const char *enumerator,
				 int64_t *value);

/* The value of ENUMERATOR in whichever enum has it, named or anonymous
 * (the workqueue's WORK_* constants are in an anonymous enum up to 6.8).
 * Refused if two enums give it different values. */
struct gp_error *kbtf_enumerator(const struct kbtf *k, const char *enumerator, int64_t *value);

/* True if struct NAME has member PATH. */
int kbtf_has_member(const struct kbtf *k, const char *name, const char *path);

#endif
