/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * gp_hash.h - FNV-1a, 64-bit: the checksum of the in-guest journal, the
 * boot id, keys of lookup tables.  Not for untrusted-collision uses.
 */
#ifndef GP_HASH_H
#define GP_HASH_H

#include <stddef.h>
#include <stdint.h>

#define GP_FNV_OFFSET 0xcbf29ce484222325ull
#define GP_FNV_PRIME 0x100000001b3ull

/* Continue the hash h over n bytes at p (start with GP_FNV_OFFSET). */
static inline uint64_t gp_fnv1a(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * GP_FNV_PRIME;
	return h;
}

#endif
