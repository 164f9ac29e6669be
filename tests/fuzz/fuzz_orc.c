// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_orc: ORC unwind tables (introspect/orc.c) in the format of struct
 * fz_orc_hdr: built with orc_from_raw() as the module reader builds
 * them, and over the input in place (orc_in_place(), as orc_load() uses
 * the guest's RAM mapping: not checked sorted), then looked up at every
 * entry's address, next to it, and at the edges of the text.
 */
#include "fuzz.h"
#include "orc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };
	struct fz_orc_hdr h;
	struct orc_table *t;
	struct orc_entry e;
	int32_t *rel;
	uint8_t *raw;
	size_t n;

	fz_take(&in, &h, sizeof(h));
	n = h.n;
	if (n > in.n / 10)
		n = in.n / 10;
	rel = malloc(n * 4 + 4);
	raw = malloc(n * 6 + 6);
	if (!rel || !raw)
		abort();
	fz_take(&in, rel, n * 4);
	fz_take(&in, raw, n * 6);
	/* Both entry formats guestpatch knows, picked by a bit of the input. */
	if (gp_ok(orc_from_raw(orc_format_by_name(h.ip_base & 1 ? "linux-6.4" : "linux-6.1"), rel,
			       h.ip_base, raw, n, h.text_start, h.text_end, &t))) {
		const uint64_t edges[] = { h.text_start, h.text_start - 1, h.text_end, h.text_end - 1,
					   h.init_start, h.init_end - 1, 0, ~0ull };

		t->init_start = h.init_start;
		t->init_end = h.init_end;
		for (size_t i = 0; i < t->n && i < 4096; i++) {
			orc_find(t, orc_ip(t, i), &e);
			orc_find(t, orc_ip(t, i) - 1, &e);
			orc_find(t, orc_ip(t, i) + 1, &e);
		}
		for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
			orc_text(t, edges[i]);
			orc_find(t, edges[i], &e);
		}
		orc_free(t);
	}
	/* In place, sorted or not: lookups stay within the n entries. */
	if (n && gp_ok(orc_in_place(orc_format_by_name(h.ip_base & 2 ? "linux-6.4" : "linux-6.1"),
				    rel, h.ip_base, raw, n, h.text_start, h.text_end, &t))) {
		for (size_t i = 0; i < n && i < 4096; i++) {
			orc_find(t, orc_ip(t, i), &e);
			orc_find(t, orc_ip(t, i) + 1, &e);
		}
		orc_find(t, h.text_start, &e);
		orc_find(t, h.text_end - 1, &e);
		orc_free(t);
	}
	free(rel);
	free(raw);
	return 0;
}
