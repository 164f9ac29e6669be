// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * introspect/kbtf.c on hostile BTF, built with libbpf: anonymous members
 * that loop or fan out must answer (not found, or corrupt) at once.
 */
#include <bpf/btf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gp_check.h"
#include "gp_time.h"
#include "kbtf.h"

static struct kbtf *load(struct btf *b)
{
	const void *raw;
	struct kbtf *k;
	__u32 sz;

	raw = btf__raw_data(b, &sz);
	ck_assert(raw);
	ck_ok(kbtf_load(raw, sz, &k));
	btf__free(b);
	return k;
}

/* How long one lookup takes, in ms; it must not succeed. */
static uint64_t time_lookup(const struct kbtf *k, const char *type, const char *path)
{
	uint64_t t0 = gp_now_ns(), off, size;
	struct gp_error *err = kbtf_offsetof(k, type, path, &off, &size);

	ck_assert_msg(err, "%s.%s found at %llu", type, path, (unsigned long long)off);
	ck_assert_msg(err->code == GP_ERR_NOTFOUND || err->code == GP_ERR_CORRUPT,
		      "%s.%s: %s", type, path, err->msg);
	gp_error_destroy(err);
	return (gp_now_ns() - t0) / 1000000;
}

/* A struct whose anonymous members are itself, four times over: a
 * lookup that follows them without remembering where it has been takes
 * 4^depth steps. */
START_TEST(anon_self_reference)
{
	struct btf *b = btf__new_empty();
	int u64, s;
	uint64_t ms;

	u64 = btf__add_int(b, "long unsigned int", 8, 0);
	s = btf__add_struct(b, "selfish", 8);
	btf__add_field(b, "x", u64, 0, 0);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(btf__add_field(b, NULL, s, 0, 0), 0);
	{
		struct kbtf *k = load(b);
		uint64_t off, size;

		ms = time_lookup(k, "selfish", "nope");
		ck_assert_msg(ms < 500, "lookup took %llu ms", (unsigned long long)ms);
		/* What is there is still found. */
		ck_ok(kbtf_offsetof(k, "selfish", "x", &off, &size));
		ck_assert_uint_eq(size, 8);
		ck_assert(!kbtf_has_member(k, "selfish", "y"));
		kbtf_free(k);
	}
}
END_TEST

/* A chain of 20 distinct structs, each with four anonymous members of
 * the next: no loop, but 4^20 paths to the bottom. */
START_TEST(anon_fan_out)
{
	struct btf *b = btf__new_empty();
	int u64, ids[20];
	uint64_t ms;

	u64 = btf__add_int(b, "long unsigned int", 8, 0);
	/* Type ids are assigned in order: struct i is u64 + 1 + i. */
	for (int i = 0; i < 20; i++) {
		char name[16];

		snprintf(name, sizeof(name), "fan%d", i);
		ids[i] = btf__add_struct(b, name, 8);
		ck_assert_int_eq(ids[i], u64 + 1 + i);
		if (i == 19) {
			btf__add_field(b, "leaf", u64, 0, 0);
			continue;
		}
		for (int j = 0; j < 4; j++)
			ck_assert_int_eq(btf__add_field(b, NULL, u64 + 2 + i, 0, 0), 0);
	}
	{
		struct kbtf *k = load(b);
		uint64_t off, size;

		ms = time_lookup(k, "fan0", "nope");
		ck_assert_msg(ms < 500, "lookup took %llu ms", (unsigned long long)ms);
		ms = time_lookup(k, "fan0", "leaf.nope");
		ck_assert_msg(ms < 500, "lookup took %llu ms", (unsigned long long)ms);
		/* A leaf 19 anonymous levels down is deeper than any kernel
		 * nests: refused as corrupt, not searched. */
		ck_err(kbtf_offsetof(k, "fan0", "leaf", &off, &size), GP_ERR_CORRUPT,
		       "anonymous members");
		/* A few levels are fine. */
		ck_ok(kbtf_offsetof(k, "fan15", "leaf", &off, &size));
		ck_assert_uint_eq(off, 0);
		kbtf_free(k);
	}
}
END_TEST

/* A typedef of an anonymous struct is looked up like a struct (the
 * kernel's rwlock_t); a typedef of a scalar, or one that loops, is not a
 * struct. */
START_TEST(typedef_of_struct)
{
	struct btf *b = btf__new_empty();
	struct kbtf *k;
	uint64_t off, size;
	int i32, anon, loop_a;

	i32 = btf__add_int(b, "int", 4, BTF_INT_SIGNED);
	anon = btf__add_struct(b, NULL, 8);
	btf__add_field(b, "first", i32, 0, 0);
	btf__add_field(b, "readers", i32, 32, 0);
	ck_assert_int_gt(btf__add_typedef(b, "rwlock_t", anon), 0);
	ck_assert_int_gt(btf__add_typedef(b, "myint", i32), 0);
	loop_a = btf__add_typedef(b, "loop_a", i32 + 5);	/* -> loop_b */
	ck_assert_int_eq(loop_a, i32 + 4);
	ck_assert_int_gt(btf__add_typedef(b, "loop_b", loop_a), 0);
	k = load(b);
	ck_ok(kbtf_offsetof(k, "rwlock_t", "readers", &off, &size));
	ck_assert_uint_eq(off, 4);
	ck_assert_uint_eq(size, 4);
	ck_ok(kbtf_sizeof(k, "rwlock_t", &size));
	ck_assert_uint_eq(size, 8);
	ck_assert(kbtf_has_member(k, "rwlock_t", "first"));
	ck_assert(!kbtf_has_member(k, "rwlock_t", "nope"));
	ck_err(kbtf_offsetof(k, "myint", "x", &off, &size), GP_ERR_NOTFOUND, "no struct myint");
	ck_err(kbtf_offsetof(k, "loop_a", "x", &off, &size), GP_ERR_NOTFOUND, "no struct loop_a");
	kbtf_free(k);
}
END_TEST

static TCase *kbtf_tcase(void)
{
	TCase *tc = tcase_create("kbtf");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, anon_self_reference);
	tcase_add_test(tc, anon_fan_out);
	tcase_add_test(tc, typedef_of_struct);
	return tc;
}
GP_TCASE(kbtf_tcase)
