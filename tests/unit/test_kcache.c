// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * introspect/kcache.c: the host-side cache of decoded symbols and BTF
 * lookups.  A cache file is untrusted input: every mutation (bytes
 * flipped with or without the checksum fixed up, truncated, extended,
 * another build id, a foreign version, a file others may write) is
 * refused or yields exactly the table the guest's tables decode to; none
 * crashes (this runs under ASan and UBSan).  Round trips across KASLR
 * offsets; concurrent writers leave a whole file.
 */
#include <bpf/btf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gp_check.h"
#include "kbtf.h"
#include "kcache.h"

#define NSYMS 3000
#define BID "0123456789abcdef0123456789abcdef01234567"
#define KASLR 0x1a00000ull

struct gtables {
	uint8_t names[NSYMS * 24];
	size_t names_len;
	char tt[2048];
	size_t tt_len;
	uint16_t ti[256];
	int32_t offs[NSYMS];
	struct ksym_raw raw;
};

static struct gtables g;
static char dir[256];

/* Token i is the character i (printable), "??" otherwise. */
static void make_guest(uint64_t kaslr)
{
	memset(&g, 0, sizeof(g));
	for (int i = 0; i < 256; i++) {
		g.ti[i] = (uint16_t)g.tt_len;
		if (i >= 0x20 && i < 0x7f) {
			g.tt[g.tt_len++] = (char)i;
		} else {
			g.tt[g.tt_len++] = '?';
			g.tt[g.tt_len++] = '?';
		}
		g.tt[g.tt_len++] = 0;
	}
	for (int i = 0; i < NSYMS; i++) {
		char n[32];
		/* Some duplicates (static functions), some per-cpu symbols. */
		int len = snprintf(n, sizeof(n), "%csym_%05d", i % 7 == 3 ? 'A' : (i % 2 ? 't' : 'T'),
				   i % 11 == 5 ? 5 : (i * 7919) % 10007);

		g.names[g.names_len++] = (uint8_t)len;
		memcpy(g.names + g.names_len, n, (size_t)len);
		g.names_len += (size_t)len;
		g.offs[i] = i % 7 == 3 ? 0x1000 + i * 8 : -1 - (int32_t)(0x1000 + i * 16);
	}
	g.raw = (struct ksym_raw){
		.num_syms = NSYMS, .names = g.names, .names_len = g.names_len,
		.token_table = g.tt, .token_table_len = g.tt_len, .token_index = g.ti,
		.offsets = g.offs, .relative_base = 0xffffffff81000000ull + kaslr,
		.absolute_percpu = true,
	};
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/gp-kcache-%d", (int)getpid());
}

static void teardown(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", dir);
}

static void same_table(const struct ksym_table *a, const struct ksym_table *b)
{
	ck_assert_uint_eq(a->nr, b->nr);
	for (size_t i = 0; i < a->nr; i++) {
		ck_assert_uint_eq(a->syms[i].addr, b->syms[i].addr);
		ck_assert_int_eq(a->syms[i].type, b->syms[i].type);
		ck_assert_uint_eq(a->syms[i].index, b->syms[i].index);
		ck_assert_str_eq(ksym_name(a, &a->syms[i]), ksym_name(b, &b->syms[i]));
		ck_assert_uint_eq(a->by_name[i], b->by_name[i]);
		ck_assert_uint_eq(a->by_addr[i], b->by_addr[i]);
	}
}

/* Decode from the guest tables, encode and write the cache file. */
static struct ksym_table *prime(uint64_t kaslr)
{
	struct ksym_table *t;
	void *p;
	size_t len;

	make_guest(kaslr);
	ck_ok(ksym_decode(&g.raw, &t));
	ck_ok(kcache_syms_encode(t, &g.raw, kaslr, &p, &len));
	ck_ok(kcache_write(dir, BID, KCACHE_SYMS, p, len));
	free(p);
	return t;
}

/* Read the cache file and decode it against the guest: NULL or why not. */
static struct gp_error *load(uint64_t kaslr, uint64_t seed, struct ksym_table **out)
{
	struct kcache_file f;
	struct gp_error *err = kcache_read(dir, BID, KCACHE_SYMS, &f);

	*out = NULL;
	if (err)
		return err;
	err = kcache_syms_decode(&f, &g.raw, kaslr, seed, out);
	kcache_release(&f);
	return err;
}

static char *path_of(enum kcache_kind kind)
{
	static char p[512];

	kcache_path(p, sizeof(p), dir, BID, kind);
	return p;
}

static uint8_t *slurp(size_t *len)
{
	FILE *f = fopen(path_of(KCACHE_SYMS), "rb");
	uint8_t *b;
	long n;

	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	b = malloc((size_t)n);
	ck_assert_int_eq(fread(b, 1, (size_t)n, f), n);
	fclose(f);
	*len = (size_t)n;
	return b;
}

static void spill(const uint8_t *b, size_t len, bool fix_checksum)
{
	char tmp[600];
	FILE *f;

	if (fix_checksum && len >= sizeof(struct kcache_hdr)) {
		struct kcache_hdr h;

		memcpy(&h, b, sizeof(h));
		h.payload_hash = kcache_hash(b + sizeof(h), len - sizeof(h), 0);
		memcpy((uint8_t *)b, &h, sizeof(h));
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path_of(KCACHE_SYMS));
	f = fopen(tmp, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fwrite(b, 1, len, f), len);
	fclose(f);
	chmod(tmp, 0600);
	ck_assert_int_eq(rename(tmp, path_of(KCACHE_SYMS)), 0);
}

START_TEST(round_trip_and_kaslr)
{
	struct ksym_table *t = prime(KASLR), *c, *t2;
	const struct ksym *s;
	struct stat st;

	ck_ok(load(KASLR, 1, &c));
	same_table(t, c);
	ck_ok(ksym_lookup(c, "sym_00005", 3, &s));
	ksym_free(c);
	/* Private: a 0700 directory, a 0600 file. */
	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0700);
	ck_assert_int_eq(stat(path_of(KCACHE_SYMS), &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	/* Another guest of the build, another KASLR offset: served, moved. */
	make_guest(0x3c00000);
	ck_ok(ksym_decode(&g.raw, &t2));
	ck_ok(load(0x3c00000, 2, &c));
	same_table(t2, c);
	ck_assert_uint_ne(c->syms[0].addr, t->syms[0].addr);
	ck_assert_uint_eq(c->syms[3].addr, t->syms[3].addr);	/* absolute: not moved */
	ksym_free(c);
	/* A KASLR offset that does not account for relative_base. */
	ck_err(load(0x3c00000 + 0x200000, 3, &c), GP_ERR_CORRUPT, "KASLR offset");
	ksym_free(t);
	ksym_free(t2);
}
END_TEST

START_TEST(guest_differs)
{
	struct ksym_table *t = prime(KASLR), *c;

	/* A name in the guest's tables changed: the tables hash differs. */
	g.names[100] ^= 1;
	ck_err(load(KASLR, 1, &c), GP_ERR_CORRUPT, "kallsyms tables differ");
	g.names[100] ^= 1;
	/* A symbol's offset changed (the hash covers names, not offsets):
	 * every address is compared. */
	g.offs[1234] -= 16;
	ck_err(load(KASLR, 1, &c), GP_ERR_CORRUPT, "in the guest");
	g.offs[1234] += 16;
	g.raw.num_syms--;
	ck_err(load(KASLR, 1, &c), GP_ERR_CORRUPT, "differ");
	ksym_free(t);
}
END_TEST

START_TEST(header_mutations)
{
	struct ksym_table *t = prime(KASLR), *c;
	size_t len;
	uint8_t *orig = slurp(&len), *b = malloc(len + 64);

	/* Every header byte, checksum fixed up or not. */
	for (size_t i = 0; i < sizeof(struct kcache_hdr); i++) {
		for (int fix = 0; fix < 2; fix++) {
			struct gp_error *err;

			memcpy(b, orig, len);
			b[i] ^= 0x41;
			spill(b, len, fix && (i < offsetof(struct kcache_hdr, payload_hash)));
			err = load(KASLR, 1, &c);
			ck_assert_msg(err, "header byte %zu flipped (fix %d) accepted", i, fix);
			ck_assert_int_eq(err->code, GP_ERR_CORRUPT);
			gp_error_destroy(err);
		}
	}
	/* Truncated anywhere, extended. */
	for (size_t n = 0; n < len; n += len / 97 + 1) {
		struct gp_error *err;

		spill(orig, n, true);
		err = load(KASLR, 1, &c);
		ck_assert_msg(err, "truncated to %zu accepted", n);
		gp_error_destroy(err);
	}
	memcpy(b, orig, len);
	memset(b + len, 0, 64);
	spill(b, len + 64, true);
	ck_err(load(KASLR, 1, &c), GP_ERR_CORRUPT, "header says");
	/* Writable by others: not trusted. */
	spill(orig, len, false);
	ck_assert_int_eq(chmod(path_of(KCACHE_SYMS), 0666), 0);
	ck_err(load(KASLR, 1, &c), GP_ERR_CORRUPT, "not a private file");
	/* Another build id's file copied under this one's name. */
	memcpy(b, orig, len);
	memcpy(b + offsetof(struct kcache_hdr, build_id), "f", 1);
	spill(b, len, true);
	ck_err(load(KASLR, 1, &c), GP_ERR_CORRUPT, "another build id");
	free(b);
	free(orig);
	ksym_free(t);
}
END_TEST

/* Payload bytes flipped: without the checksum fixed, always refused; with
 * it fixed, refused or (a name byte outside the sample that keeps the
 * order) accepted - never a crash, and every address is still right. */
START_TEST(payload_mutations)
{
	struct ksym_table *t = prime(KASLR), *c;
	size_t len, hdr = sizeof(struct kcache_hdr), names_at;
	uint8_t *orig = slurp(&len), *b = malloc(len);
	unsigned accepted = 0, refused = 0;
	uint64_t x = 88172645463325252ull;

	names_at = hdr + sizeof(struct kcache_syms_head) + NSYMS * (sizeof(struct kcache_sym) + 8);
	for (int r = 0; r < 600; r++) {
		struct gp_error *err;
		size_t at;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		at = hdr + x % (len - hdr);
		memcpy(b, orig, len);
		b[at] ^= (uint8_t)(1u << (x >> 60 & 7));
		spill(b, len, r % 2);
		err = load(KASLR, x, &c);
		if (!(r % 2)) {
			ck_assert_msg(err, "byte %zu flipped, checksum not fixed: accepted", at);
			ck_assert_str_eq(err->msg, "checksum mismatch");
		}
		if (err) {
			refused++;
			gp_error_destroy(err);
			continue;
		}
		/* Only a name byte can go unnoticed (names are sampled). */
		ck_assert_msg(at >= names_at, "byte %zu (before the names at %zu) flipped: accepted", at,
			      names_at);
		for (size_t i = 0; i < c->nr; i++)
			ck_assert_uint_eq(c->syms[i].addr, t->syms[i].addr);
		accepted++;
		ksym_free(c);
	}
	ck_assert_uint_gt(refused, 300);
	fprintf(stderr, "kcache payload mutations: %u refused, %u accepted (name bytes)\n", refused,
		accepted);
	free(b);
	free(orig);
	ksym_free(t);
}
END_TEST

/* A symbol changed in the cache, checksum fixed up: found against the
 * guest's own tables. */
START_TEST(tampered_name_sampled)
{
	struct ksym_table *t = prime(KASLR), *c;
	size_t len, names_at;
	uint8_t *b = slurp(&len);
	const struct kcache_sym *cs;
	char *nm;

	names_at = sizeof(struct kcache_hdr) + sizeof(struct kcache_syms_head) +
		   NSYMS * (sizeof(struct kcache_sym) + 8);
	cs = (const void *)(b + sizeof(struct kcache_hdr) + sizeof(struct kcache_syms_head));
	nm = (char *)b + names_at + cs[0].name;
	ck_assert_str_eq(nm, "sym_00000");
	/* A type change: the name order does not see it, the walk over the
	 * guest's names does. */
	((struct kcache_sym *)cs)[0].type = 'W';
	spill(b, len, true);
	ck_err(load(KASLR, 1, &c), GP_ERR_CORRUPT, "symbol 0 is W sym_00000 in the cache");
	free(b);
	ksym_free(t);
}
END_TEST

START_TEST(concurrent_writers)
{
	struct ksym_table *t = prime(KASLR), *c;
	void *p;
	size_t len;
	int status;

	ck_ok(kcache_syms_encode(t, &g.raw, KASLR, &p, &len));
	for (int i = 0; i < 8; i++)
		if (fork() == 0) {
			for (int j = 0; j < 20; j++)
				if (kcache_write(dir, BID, KCACHE_SYMS, p, len))
					_exit(1);
			_exit(0);
		}
	for (int i = 0; i < 40; i++) {
		ck_ok(load(KASLR, (uint64_t)i, &c));
		ksym_free(c);
	}
	for (int i = 0; i < 8; i++) {
		ck_assert_int_ne(wait(&status), -1);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	ck_ok(load(KASLR, 1, &c));
	same_table(t, c);
	ksym_free(c);
	free(p);
	ksym_free(t);
}
END_TEST

START_TEST(cache_dir_env)
{
	char buf[512];

	setenv("GP_CACHE_DIR", "/x/y", 1);
	ck_assert_str_eq(kcache_dir(buf, sizeof(buf)), "/x/y");
	setenv("GP_CACHE", "0", 1);
	ck_assert_ptr_null(kcache_dir(buf, sizeof(buf)));
	unsetenv("GP_CACHE");
	unsetenv("GP_CACHE_DIR");
	if (geteuid() == 0)
		ck_assert_str_eq(kcache_dir(buf, sizeof(buf)), "/var/cache/guestpatch");
}
END_TEST

/* The BTF lookup memo: a round trip answers without BTF; mutated memo
 * files are refused or answer only what they hold, never crash. */
START_TEST(btf_memo)
{
	struct btf *b = btf__new_empty();
	struct kbtf *k, *l;
	const void *raw;
	void *memo;
	size_t mlen;
	uint64_t off = 0, size = 0;
	int u64, s;
	__u32 sz;

	u64 = btf__add_int(b, "long unsigned int", 8, 0);
	s = btf__add_struct(b, "task", 16);
	btf__add_field(b, "a", u64, 0, 0);
	btf__add_field(b, "b", u64, 64, 0);
	ck_assert_int_gt(s, 0);
	raw = btf__raw_data(b, &sz);
	ck_ok(kbtf_load(raw, sz, &k));
	ck_ok(kbtf_offsetof(k, "task", "b", &off, &size));
	ck_err(kbtf_offsetof(k, "task", "c", &off, &size), GP_ERR_NOTFOUND, "has no member c");
	ck_assert(kbtf_has_member(k, "task", "a"));
	ck_assert(kbtf_memo_dirty(k));
	ck_ok(kbtf_memo_export(k, &memo, &mlen));
	/* A lazy kbtf that cannot fetch: answers come from the memo alone. */
	ck_ok(kbtf_lazy(sz, 1, NULL, NULL, &l));
	ck_ok(kbtf_memo_import(l, memo, mlen));
	off = size = 0;
	ck_ok(kbtf_offsetof(l, "task", "b", &off, &size));
	ck_assert_uint_eq(off, 8);
	ck_assert_uint_eq(size, 8);
	ck_err(kbtf_offsetof(l, "task", "c", &off, &size), GP_ERR_NOTFOUND, "has no member c");
	ck_assert(kbtf_has_member(l, "task", "a"));
	ck_assert(!kbtf_parsed(l));
	/* A lookup the memo lacks needs the BTF: refused by name here. */
	ck_err(kbtf_sizeof(l, "task", &size), GP_ERR_UNSUPPORTED, "no BTF");
	kbtf_free(l);
	for (size_t i = 0; i < mlen * 8; i++) {
		uint8_t *m = malloc(mlen);
		struct gp_error *err;

		memcpy(m, memo, mlen);
		m[i / 8] ^= (uint8_t)(1u << (i % 8));
		ck_ok(kbtf_lazy(sz, 1, NULL, NULL, &l));
		err = kbtf_memo_import(l, m, i % 3 ? mlen : i / 8);
		gp_error_destroy(err);
		gp_error_destroy(kbtf_offsetof(l, "task", "b", &off, &size));
		kbtf_free(l);
		free(m);
	}
	free(memo);
	kbtf_free(k);
	btf__free(b);
}
END_TEST

static TCase *kcache_tcase(void)
{
	TCase *tc = tcase_create("kcache");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, round_trip_and_kaslr);
	tcase_add_test(tc, guest_differs);
	tcase_add_test(tc, header_mutations);
	tcase_add_test(tc, payload_mutations);
	tcase_add_test(tc, tampered_name_sampled);
	tcase_add_test(tc, concurrent_writers);
	tcase_add_test(tc, cache_dir_env);
	tcase_add_test(tc, btf_memo);
	return tc;
}
GP_TCASE(kcache_tcase)
