// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * orc.c - the kernel's ORC tables: read (in the format orc_format.c finds
 * the guest uses), checked, and looked up by address.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "orc.h"

/* A table over rel/raw (n entries); owned (may be NULL) is freed with it,
 * also on error.  check_sorted: every address checked ascending, for
 * tables built once from host copies. */
static struct gp_error *orc_make(const struct orc_format *fmt, const void *rel, uint64_t ip_base,
				 const void *raw, size_t n, uint64_t text_start, uint64_t text_end,
				 bool check_sorted, void *owned, struct orc_table **out)
{
	struct orc_table *t;

	*out = NULL;
	if (!fmt) {
		free(owned);
		return gp_error_create(GP_ERR_UNSUPPORTED, "ORC table of an unknown format");
	}
	if (!n || n > ORC_MAX_ENTRIES) {
		free(owned);
		return gp_error_create(GP_ERR_CORRUPT, "ORC table has %zu entries", n);
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		free(owned);
		return &gp_error_nomem;
	}
	t->fmt = fmt;
	t->rel = rel;
	t->ip_base = ip_base;
	t->raw = raw;
	t->n = n;
	t->owned = owned;
	t->text_start = text_start;
	t->text_end = text_end;
	/* The kernel sorts the table at build time (scripts/sorttable);
	 * binary search needs it, so check rather than trust. */
	for (size_t i = 1; check_sorted && i < n; i++) {
		uint64_t a = orc_ip(t, i - 1), b = orc_ip(t, i);

		if (b < a) {
			struct gp_error *err = gp_error_addr(GP_ERR_CORRUPT, b,
							     "ORC table not sorted at entry %zu (0x%llx after 0x%llx)",
							     i, (unsigned long long)b, (unsigned long long)a);

			orc_free(t);
			return err;
		}
	}
	*out = t;
	return NULL;
}

struct gp_error *orc_in_place(const struct orc_format *fmt, const void *ip_rel, uint64_t ip_base,
			      const void *raw, size_t n, uint64_t text_start, uint64_t text_end,
			      struct orc_table **out)
{
	return orc_make(fmt, ip_rel, ip_base, raw, n, text_start, text_end, false, NULL, out);
}

struct gp_error *orc_from_raw(const struct orc_format *fmt, const int32_t *ip_rel,
			      uint64_t ip_base, const uint8_t *raw, size_t n,
			      uint64_t text_start, uint64_t text_end, struct orc_table **out)
{
	uint8_t *copy;

	*out = NULL;
	if (!n || n > ORC_MAX_ENTRIES)
		return orc_make(fmt, NULL, ip_base, NULL, n, text_start, text_end, false, NULL, out);
	copy = malloc(n * 10);
	if (!copy)
		return &gp_error_nomem;
	memcpy(copy, ip_rel, n * 4);
	memcpy(copy + n * 4, raw, n * 6);
	return orc_make(fmt, copy, ip_base, copy + n * 4, n, text_start, text_end, true, copy, out);
}

/* From the vmlinux file's .orc_unwind_ip/.orc_unwind, relocated by the
 * KASLR offset: for kernels whose tables we cannot read from memory. */
static struct gp_error *orc_load_elf(struct kern *k, const struct orc_format *fmt,
				     struct orc_table **out)
{
	void *ip = NULL, *u = NULL;
	size_t ip_len, u_len;
	uint64_t ip_addr, text_s, text_e;
	struct gp_error *err;

	if ((err = kern_elf_section_at(k->vmlinux, ".orc_unwind_ip", &ip, &ip_len, &ip_addr)) ||
	    (err = kern_elf_section_at(k->vmlinux, ".orc_unwind", &u, &u_len, NULL)) ||
	    (err = kern_sym(k, "_text", &text_s)) || (err = kern_sym(k, "_etext", &text_e)))
		goto out;
	if (ip_len % 4 || u_len % 6 || ip_len / 4 != u_len / 6) {
		err = gp_error_create(GP_ERR_CORRUPT, "%s: ORC sections disagree (%zu and %zu bytes)",
				      k->vmlinux, ip_len, u_len);
		goto out;
	}
	err = orc_from_raw(fmt, ip, ip_addr + k->kaslr_offset, u, ip_len / 4, text_s, text_e, out);
out:
	free(ip);
	free(u);
	return err ? gp_error_wrap(err, "ORC tables from %s", k->vmlinux) : NULL;
}

struct gp_error *orc_load(struct kern *k, struct orc_table **out)
{
	uint64_t ip_s, ip_e, u_s, u_e, text_s, text_e;
	struct gp_error *err;
	const struct orc_format *fmt;
	const void *mrel, *mraw;
	void *rel = NULL, *raw = NULL;
	size_t n;

	*out = NULL;
	/* The format first: tables we cannot decode are not read at all. */
	if ((err = orc_format_detect(k, &fmt)))
		return err;
	if (k->vmlinux)
		return orc_load_elf(k, fmt, out);
	if ((err = kern_sym(k, "__start_orc_unwind_ip", &ip_s)) ||
	    (err = kern_sym(k, "__stop_orc_unwind_ip", &ip_e)) ||
	    (err = kern_sym(k, "__start_orc_unwind", &u_s)) ||
	    (err = kern_sym(k, "__stop_orc_unwind", &u_e)) ||
	    (err = kern_sym(k, "_text", &text_s)) ||
	    (err = kern_sym(k, "_etext", &text_e)))
		return gp_error_wrap(err, "ORC tables (CONFIG_UNWINDER_ORC)");
	if (ip_e <= ip_s || (ip_e - ip_s) % 4 || u_e <= u_s || (u_e - u_s) % 6 ||
	    (ip_e - ip_s) / 4 != (u_e - u_s) / 6)
		return gp_error_addr(GP_ERR_CORRUPT, ip_s,
				     "ORC table bounds disagree: %llu ip bytes, %llu entry bytes",
				     (unsigned long long)(ip_e - ip_s),
				     (unsigned long long)(u_e - u_s));
	n = (ip_e - ip_s) / 4;
	if (n > ORC_MAX_ENTRIES)
		return gp_error_addr(GP_ERR_CORRUPT, ip_s, "ORC table has %zu entries", n);
	/* Looked up in place in the RAM mapping when there is one (see
	 * orc.h); a copy read through the target otherwise, checked. */
	if ((err = kern_map_or_read(k, ip_s, n * 4, &mrel, &rel)) ||
	    (err = kern_map_or_read(k, u_s, n * 6, &mraw, &raw))) {
		free(rel);
		free(raw);
		return gp_error_wrap(err, "reading ORC tables");
	}
	if (!rel && !raw) {
		err = orc_in_place(fmt, mrel, ip_s, mraw, n, text_s, text_e, out);
	} else {
		err = orc_from_raw(fmt, mrel, ip_s, mraw, n, text_s, text_e, out);
		free(rel);
		free(raw);
	}
	if (!err && kern_has_sym(k, "_sinittext", &(*out)->init_start) &&
	    kern_has_sym(k, "_einittext", &(*out)->init_end) &&
	    (*out)->init_end < (*out)->init_start)
		(*out)->init_start = (*out)->init_end = 0;
	return err;
}

void orc_free(struct orc_table *t)
{
	if (!t)
		return;
	free(t->owned);
	free(t);
}

bool orc_text(const struct orc_table *t, uint64_t ip)
{
	return (ip >= t->text_start && ip < t->text_end) ||
	       (ip >= t->init_start && ip < t->init_end);
}

bool orc_find(const struct orc_table *t, uint64_t ip, struct orc_entry *e)
{
	size_t lo = 0, hi = t->n;
	const uint8_t *r;

	if (!orc_text(t, ip) || ip < orc_ip(t, 0))
		return false;
	while (lo < hi) {	/* first entry with address > ip */
		size_t mid = lo + (hi - lo) / 2;

		if (orc_ip(t, mid) <= ip)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* In place, a running guest may have changed entry 0 since the
	 * check above: no entry then, never raw[-1]. */
	if (lo == 0)
		return false;
	r = t->raw + (lo - 1) * 6;
	t->fmt->decode(r, e);
	return true;
}
