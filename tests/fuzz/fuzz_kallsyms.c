// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_kallsyms: the kernel's compressed kallsyms tables
 * (introspect/kallsyms.c, ksym_decode) in the format of struct
 * fz_ksym_hdr, then lookups by name and by address in what decoded; and
 * the same input read as a System.map (ksym_parse_map).
 */
#include "fuzz.h"
#include "kallsyms.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void lookups(const struct ksym_table *t)
{
	static const char *const names[] = { "init_task", "_text", "_stext", "cmdline_proc_show",
					     "startup_64", "a", "" };
	const struct ksym *s;
	const uint32_t *first;
	size_t count;
	uint64_t off, sz;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		ksym_find_all(t, names[i], &first, &count);
		gp_error_destroy(ksym_lookup(t, names[i], 0, &s));
		gp_error_destroy(ksym_lookup(t, names[i], 2, &s));
	}
	for (size_t i = 0; i < t->nr && i < 64; i++) {
		const struct ksym *x = &t->syms[i * (t->nr / 64 + 1) % t->nr];

		gp_error_destroy(ksym_lookup(t, ksym_name(t, x), 1, &s));
		ksym_symbolize(t, x->addr, &off, &sz);
		ksym_symbolize(t, x->addr - 1, &off, &sz);
		ksym_symbolize(t, x->addr + 1, &off, &sz);
	}
	ksym_symbolize(t, 0, &off, &sz);
	ksym_symbolize(t, ~0ull, &off, &sz);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };
	struct fz_ksym_hdr h;
	struct ksym_raw raw = { 0 };
	struct ksym_table *t;
	size_t noffs;

	if (gp_ok(ksym_parse_map((const char *)data, size, 0x1000000, &t))) {
		lookups(t);
		ksym_free(t);
	}
	fz_take(&in, &h, sizeof(h));
	if (h.names_len > in.n)
		h.names_len = (uint32_t)in.n;
	raw.names = in.p;
	raw.names_len = h.names_len;
	in.p += h.names_len;
	in.n -= h.names_len;
	if (h.tt_len > in.n)
		h.tt_len = (uint32_t)in.n;
	raw.token_table = (const char *)in.p;
	raw.token_table_len = h.tt_len;
	in.p += h.tt_len;
	in.n -= h.tt_len;
	/* The offsets, aligned in a copy. */
	noffs = in.n / 4;
	raw.num_syms = h.num_syms < noffs ? h.num_syms : (uint32_t)noffs;
	{
		int32_t *offs = malloc(noffs * 4 + 4);

		if (!offs)
			abort();
		memcpy(offs, in.p, noffs * 4);
		raw.offsets = offs;
		raw.token_index = h.token_index;
		raw.relative_base = h.relative_base;
		raw.absolute_percpu = h.absolute_percpu & 1;
		if (gp_ok(ksym_decode(&raw, &t))) {
			lookups(t);
			ksym_free(t);
		}
		free(offs);
	}
	return 0;
}
