// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_kcache: a cache file of the attach cache (introspect/kcache.c)
 * against fixed guest tables.  The input is a mutation script applied to
 * a valid syms payload built here: a u32 length to cut it to, then (u32
 * offset, u8 xor) pairs; the payload is then decoded and validated
 * (kcache_syms_decode), and whatever it yields looked up.  The input read
 * whole is also imported as a BTF lookup memo (kbtf_memo_import).
 */
#include <sys/mman.h>

#include "fuzz.h"
#include "kbtf.h"
#include "kcache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N 300
#define KASLR 0x2e00000ull

static uint8_t names[N * 16];
static char tt[1024];
static uint16_t ti[256];
static int32_t offs[N];
static struct ksym_raw raw;
static void *good;
static size_t good_len;

static void init(void)
{
	size_t nl = 0, tl = 0;
	struct ksym_table *t;

	for (int i = 0; i < 256; i++) {
		ti[i] = (uint16_t)tl;
		tt[tl++] = i >= 0x21 && i < 0x7f ? (char)i : '?';
		tt[tl++] = 0;
	}
	for (int i = 0; i < N; i++) {
		char n[16];
		int len = snprintf(n, sizeof(n), "%cf%d", i % 5 ? 'T' : 'A', (i * 37) % 101);

		names[nl++] = (uint8_t)len;
		memcpy(names + nl, n, (size_t)len);
		nl += (size_t)len;
		offs[i] = i % 5 ? -1 - 16 * i : 8 * i;
	}
	raw = (struct ksym_raw){ .num_syms = N, .names = names, .names_len = nl, .token_table = tt,
				 .token_table_len = tl, .token_index = ti, .offsets = offs,
				 .relative_base = 0xffffffff81000000ull + KASLR, .absolute_percpu = true };
	if (ksym_decode(&raw, &t) || kcache_syms_encode(t, &raw, KASLR, &good, &good_len))
		abort();
	ksym_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };
	struct kcache_file f = { 0 };
	struct ksym_table *t = NULL;
	struct kbtf *k = NULL;
	uint32_t cut;
	uint8_t *p;
	size_t len;

	if (!good)
		init();
	fz_take(&in, &cut, sizeof(cut));
	len = cut && cut < good_len ? cut : good_len;
	/* The table takes a decoded file's mapping over: an anonymous one. */
	p = mmap(NULL, len + 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 0;
	memcpy(p, good, len);
	while (in.n >= 5) {
		uint32_t at;
		uint8_t x;

		fz_take(&in, &at, sizeof(at));
		fz_take(&in, &x, 1);
		p[at % len] ^= x;
	}
	f.map = p;
	f.map_len = len + 1;
	f.payload = p;
	f.len = len;
	if (gp_ok(kcache_syms_decode(&f, &raw, KASLR, size, &t))) {
		const struct ksym *s;
		uint64_t off, sz;

		for (size_t i = 0; i < t->nr; i += 7) {
			gp_error_destroy(ksym_lookup(t, ksym_name(t, &t->syms[i]), 1, &s));
			ksym_symbolize(t, t->syms[i].addr + 1, &off, &sz);
		}
		ksym_free(t);
	}
	kcache_release(&f);
	if (gp_ok(kbtf_lazy(4096, 1, NULL, NULL, &k))) {
		uint64_t v;

		gp_error_destroy(kbtf_memo_import(k, data, size));
		gp_error_destroy(kbtf_offsetof(k, "task_struct", "pid", &v, &v));
		kbtf_has_member(k, "task_struct", "stack_canary");
		kbtf_free(k);
	}
	return 0;
}
