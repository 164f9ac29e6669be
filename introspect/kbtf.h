/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kbtf.h - struct layouts from the guest kernel's own BTF (parsed with
 * libbpf).  Every structure offset guestpatch uses comes from here; none is
 * hard-coded.
 */
#ifndef GP_KBTF_H
#define GP_KBTF_H

#include <stddef.h>
#include <stdint.h>

#include "gp_error.h"

struct btf;

struct kbtf {
	struct btf *btf;
	size_t size;		/* bytes of raw BTF */
};

#define KBTF_MAX_BYTES (64u << 20)

/* Parse raw BTF (copied; the caller keeps data). */
struct gp_error *kbtf_load(const void *data, size_t len, struct kbtf **out);
void kbtf_free(struct kbtf *k);

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
