// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Reading TIF bit numbers out of the guest's own livepatch code
 * (patch/lp_klp.c): the locked bit instructions the kernel's
 * test_and_{clear,set}_tsk_thread_flag() compile to, and code that must
 * not match.  And the tasklist_lock check on both shapes of rwlock_t
 * (qrwlock, PREEMPT_RT's rwbase_rt), read from synthetic BTF and memory.
 */
#include <bpf/btf.h>
#include <stdlib.h>
#include <string.h>

#include "gp_check.h"
#include "kbtf.h"
#include "lp_klp.h"

START_TEST(finds_btr_and_bts)
{
	/* push %rbp; lock btrq $13,(%rdi); jae ...  (klp_update_patch_state) */
	static const uint8_t btr[] = { 0x55, 0xf0, 0x48, 0x0f, 0xba, 0x37, 0x0d, 0x73, 0x05 };
	/* lock btsq $17,0x8(%rbx) with a disp8 */
	static const uint8_t bts8[] = { 0x90, 0xf0, 0x48, 0x0f, 0xba, 0x6b, 0x08, 0x11, 0xc3 };
	/* lock btsq $17,(%rsp) needs a SIB byte */
	static const uint8_t btssib[] = { 0x90, 0xf0, 0x48, 0x0f, 0xba, 0x2c, 0x24, 0x11, 0xc3 };
	/* lock btrl $3,0x1234(%rip) */
	static const uint8_t rip[] = { 0x90, 0xf0, 0x0f, 0xba, 0x35, 0x34, 0x12, 0, 0, 0x03, 0xc3 };

	ck_assert_int_eq(lp_klp_find_bitop(btr, sizeof(btr), 6), 13);
	ck_assert_int_eq(lp_klp_find_bitop(btr, sizeof(btr), 5), -1);
	ck_assert_int_eq(lp_klp_find_bitop(bts8, sizeof(bts8), 5), 17);
	ck_assert_int_eq(lp_klp_find_bitop(btssib, sizeof(btssib), 5), 17);
	ck_assert_int_eq(lp_klp_find_bitop(rip, sizeof(rip), 6), 3);
	/* A kernel booted on one CPU: its LOCK prefixes are DS (0x3e). */
	static const uint8_t up[] = { 0x90, 0x3e, 0x48, 0x0f, 0xba, 0x37, 0x0d, 0xc3 };
	static const uint8_t uprip[] = { 0x90, 0x3e, 0x0f, 0xba, 0x35, 0x34, 0x12, 0, 0, 0x03, 0xc3 };

	ck_assert_int_eq(lp_klp_find_bitop(up, sizeof(up), 6), 13);
	ck_assert_int_eq(lp_klp_find_bitop(uprip, sizeof(uprip), 6), 3);
}
END_TEST

START_TEST(rejects_what_is_not_it)
{
	/* no lock prefix: not an atomic flag operation */
	static const uint8_t nolock[] = { 0x90, 0x48, 0x0f, 0xba, 0x37, 0x0d, 0xc3 };
	/* register operand (mod 3): bt on a register, not on the flags */
	static const uint8_t reg[] = { 0x90, 0xf0, 0x48, 0x0f, 0xba, 0xf0, 0x0d, 0xc3 };
	/* truncated before the immediate */
	static const uint8_t cut[] = { 0x90, 0xf0, 0x48, 0x0f, 0xba, 0x37 };
	/* an immediate beyond 63 is not a bit of an unsigned long */
	static const uint8_t big[] = { 0x90, 0xf0, 0x48, 0x0f, 0xba, 0x37, 0x80, 0xc3 };
	uint8_t junk[4096];

	ck_assert_int_eq(lp_klp_find_bitop(nolock, sizeof(nolock), 6), -1);
	ck_assert_int_eq(lp_klp_find_bitop(reg, sizeof(reg), 6), -1);
	ck_assert_int_eq(lp_klp_find_bitop(cut, sizeof(cut), 6), -1);
	ck_assert_int_eq(lp_klp_find_bitop(big, sizeof(big), 6), -1);
	ck_assert_int_eq(lp_klp_find_bitop(cut, 0, 6), -1);
	/* arbitrary bytes: whatever it returns is in range, and it ends */
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 37 + 11);
	ck_assert_int_ge(lp_klp_find_bitop(junk, sizeof(junk), 6), -1);
	ck_assert_int_lt(lp_klp_find_bitop(junk, sizeof(junk), 6), 64);
}
END_TEST

/* ---- tasklist_lock: rwlock_t as the guest's BTF describes it ---- */

enum shape_kind {
	SHAPE_QRWLOCK,		/* 6.1/6.12 amd64 and cloud */
	SHAPE_RT,		/* 6.1/6.12 rt-amd64 */
	SHAPE_RT_PADDED,	/* rwbase not at offset 0: the offset must come from BTF */
	SHAPE_READERS_ONLY,	/* a `readers` but no rwbase: unknown */
	SHAPE_BOTH,		/* both words: unknown */
	SHAPE_WIDE_CNTS,	/* raw_lock.cnts of 8 bytes: unknown */
	SHAPE_NONE,		/* no rwlock_t at all */
};

/* The types as the 6.1 kernels' BTF has them (include/linux/rwlock_types.h,
 * rwbase_rt.h, asm-generic/qrwlock_types.h), trimmed to what matters. */
static struct kbtf *rwlock_btf(enum shape_kind kind)
{
	struct btf *b = btf__new_empty();
	int i32, i64, u8, atomic, lstate, anon_w, un, qrw, arch, rtm, rwb, rw;
	const void *raw;
	struct kbtf *k;
	__u32 sz;

	i32 = btf__add_int(b, "int", 4, BTF_INT_SIGNED);
	i64 = btf__add_int(b, "long int", 8, BTF_INT_SIGNED);
	u8 = btf__add_int(b, "unsigned char", 1, 0);
	atomic = btf__add_struct(b, NULL, 4);
	btf__add_field(b, "counter", i32, 0, 0);
	atomic = btf__add_typedef(b, "atomic_t", atomic);
	/* struct qrwlock { union { atomic_t cnts; struct { u8 wlocked; u8 __lstate[3]; }; };
	 *		    arch_spinlock_t wait_lock; } */
	lstate = btf__add_array(b, i32, u8, 3);
	anon_w = btf__add_struct(b, NULL, 4);
	btf__add_field(b, "wlocked", u8, 0, 0);
	btf__add_field(b, "__lstate", lstate, 8, 0);
	un = btf__add_union(b, NULL, kind == SHAPE_WIDE_CNTS ? 8 : 4);
	btf__add_field(b, "cnts", kind == SHAPE_WIDE_CNTS ? i64 : atomic, 0, 0);
	btf__add_field(b, NULL, anon_w, 0, 0);
	qrw = btf__add_struct(b, "qrwlock", kind == SHAPE_WIDE_CNTS ? 16 : 8);
	btf__add_field(b, NULL, un, 0, 0);
	btf__add_field(b, "wait_lock", atomic, kind == SHAPE_WIDE_CNTS ? 64 : 32, 0);
	arch = btf__add_typedef(b, "arch_rwlock_t", qrw);
	/* struct rwbase_rt { atomic_t readers; struct rt_mutex_base rtmutex; } */
	rtm = btf__add_struct(b, "rt_mutex_base", 32);
	btf__add_field(b, "owner", i64, 192, 0);
	rwb = btf__add_struct(b, "rwbase_rt", 40);
	btf__add_field(b, "readers", atomic, 0, 0);
	btf__add_field(b, "rtmutex", rtm, 64, 0);
	switch (kind) {
	case SHAPE_QRWLOCK:
	case SHAPE_WIDE_CNTS:
		rw = btf__add_struct(b, NULL, kind == SHAPE_WIDE_CNTS ? 16 : 8);
		btf__add_field(b, "raw_lock", arch, 0, 0);
		break;
	case SHAPE_RT:
		/* typedef struct { struct rwbase_rt rwbase; atomic_t readers; } rwlock_t; */
		rw = btf__add_struct(b, NULL, 48);
		btf__add_field(b, "rwbase", rwb, 0, 0);
		btf__add_field(b, "readers", atomic, 40 * 8, 0);
		break;
	case SHAPE_RT_PADDED:
		rw = btf__add_struct(b, NULL, 56);
		btf__add_field(b, "readers", atomic, 0, 0);
		btf__add_field(b, "rwbase", rwb, 8 * 8, 0);
		break;
	case SHAPE_READERS_ONLY:
		rw = btf__add_struct(b, NULL, 8);
		btf__add_field(b, "readers", atomic, 0, 0);
		break;
	case SHAPE_BOTH:
		rw = btf__add_struct(b, NULL, 48);
		btf__add_field(b, "raw_lock", arch, 0, 0);
		btf__add_field(b, "rwbase", rwb, 8 * 8, 0);
		break;
	default:
		rw = -1;
		break;
	}
	if (rw > 0)
		ck_assert_int_gt(btf__add_typedef(b, "rwlock_t", rw), 0);
	raw = btf__raw_data(b, &sz);
	ck_assert(raw);
	ck_ok(kbtf_load(raw, sz, &k));
	btf__free(b);
	return k;
}

#define IMG_VA 0xffffffff81000000ull
#define IMG_SIZE 0x10000u
#define LOCK_VA (IMG_VA + 0x2000)	/* tasklist_lock, in the image's data */

/* A guest with just a kernel image (mapped linearly, at physical 0) and
 * its BTF; tasklist_lock at LOCK_VA. */
struct fake_guest {
	uint8_t *mem;
	struct tgt *t;
	struct kern k;
	struct lp_klp g;
};

static void guest_up(struct fake_guest *f, enum shape_kind kind)
{
	enum lp_rwlock_shape shape;

	memset(f, 0, sizeof(*f));
	f->mem = calloc(1, IMG_SIZE);
	ck_assert(f->mem);
	ck_ok(tgt_buffer_new(f->mem, IMG_SIZE, NULL, 0, &f->t));
	f->k.t = f->t;
	f->k.levels = 4;
	f->k.text_start = IMG_VA;
	f->k.image_end = IMG_VA + IMG_SIZE;
	f->k.phys_base = 0 - (IMG_VA - KERN_START_KERNEL_MAP);	/* IMG_VA is at physical 0 */
	f->k.btf = rwlock_btf(kind);
	f->g.tasklist_lock_va = LOCK_VA;
	ck_ok(lp_klp_rwlock_shape(&f->k, &shape, &f->g.tasklist_word_off));
	f->g.tasklist_shape = shape;
}

static void guest_down(struct fake_guest *f)
{
	kbtf_free(f->k.btf);
	tgt_close(f->t);
	free(f->mem);
}

static void put_u32(struct fake_guest *f, uint64_t va, uint32_t v)
{
	memcpy(f->mem + (va - IMG_VA), &v, 4);
}

static bool locked(struct fake_guest *f)
{
	bool l = false;

	ck_ok(lp_klp_tasklist_write_locked(&f->k, &f->g, &l));
	return l;
}

START_TEST(tasklist_qrwlock)
{
	struct fake_guest f;

	guest_up(&f, SHAPE_QRWLOCK);
	ck_assert_int_eq(f.g.tasklist_shape, LP_RWLOCK_QRWLOCK);
	ck_assert_uint_eq(f.g.tasklist_word_off, 0);
	put_u32(&f, LOCK_VA, 0);			/* unlocked */
	ck_assert(!locked(&f));
	put_u32(&f, LOCK_VA, 3u << 9);			/* three readers (_QR_BIAS each) */
	ck_assert(!locked(&f));
	put_u32(&f, LOCK_VA, (2u << 9) | 0x100);	/* readers, a writer waiting */
	ck_assert(!locked(&f));
	put_u32(&f, LOCK_VA, 0x0ff);			/* _QW_LOCKED */
	ck_assert(locked(&f));
	put_u32(&f, LOCK_VA, 0x1ff);			/* locked, another writer waiting */
	ck_assert(locked(&f));
	guest_down(&f);
}
END_TEST

START_TEST(tasklist_rwbase_rt)
{
	static const enum shape_kind kinds[] = { SHAPE_RT, SHAPE_RT_PADDED };

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		struct fake_guest f;
		uint64_t word = LOCK_VA + (kinds[i] == SHAPE_RT ? 0 : 8);
		/* rwlock_t's own `readers` (unused by the kernel): garbage
		 * that must not be read. */
		uint64_t decoy = LOCK_VA + (kinds[i] == SHAPE_RT ? 40 : 0);

		guest_up(&f, kinds[i]);
		ck_assert_int_eq(f.g.tasklist_shape, LP_RWLOCK_RWBASE_RT);
		ck_assert_uint_eq(f.g.tasklist_word_off, word - LOCK_VA);
		put_u32(&f, decoy, 0x12345678);
		put_u32(&f, word, 1u << 31);		/* READER_BIAS: unlocked */
		ck_assert(!locked(&f));
		put_u32(&f, word, (1u << 31) + 3);	/* three readers */
		ck_assert(!locked(&f));
		put_u32(&f, word, 2);			/* a writer removed the bias, 2 readers left */
		ck_assert(locked(&f));
		put_u32(&f, word, 0);			/* readers gone, WRITER_BIAS not yet set */
		ck_assert(locked(&f));
		put_u32(&f, word, 1u << 30);		/* WRITER_BIAS: write-held */
		ck_assert(locked(&f));
		put_u32(&f, decoy, 1u << 31);
		ck_assert(locked(&f));			/* the decoy says nothing */
		guest_down(&f);
	}
}
END_TEST

START_TEST(tasklist_unknown_shapes_refused)
{
	static const struct {
		enum shape_kind kind;
		const char *msg;
	} cases[] = {
		{ SHAPE_READERS_ONLY, "neither a qrwlock (raw_lock.cnts) nor a PREEMPT_RT rwbase_rt" },
		{ SHAPE_BOTH, "both a qrwlock" },
		{ SHAPE_WIDE_CNTS, "neither" },
		{ SHAPE_NONE, "neither" },
	};
	struct kern k = { 0 };
	enum lp_rwlock_shape shape;
	uint64_t off;
	struct lp_klp g = { .tasklist_shape = LP_RWLOCK_UNKNOWN };
	bool l = false;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		k.btf = rwlock_btf(cases[i].kind);
		ck_err(lp_klp_rwlock_shape(&k, &shape, &off), GP_ERR_UNSUPPORTED, cases[i].msg);
		ck_assert_int_eq(shape, LP_RWLOCK_UNKNOWN);
		kbtf_free(k.btf);
	}
	k.btf = NULL;
	ck_err(lp_klp_rwlock_shape(&k, &shape, &off), GP_ERR_UNSUPPORTED, "no BTF");
	/* Never read as if it were one of the known ones. */
	ck_err(lp_klp_tasklist_write_locked(&k, &g, &l), GP_ERR_UNSUPPORTED, "not known");
	ck_assert(lp_klp_rwlock_write_held(LP_RWLOCK_UNKNOWN, 1u << 31));
}
END_TEST

static TCase *lp_klp_tcase(void)
{
	TCase *tc = tcase_create("lp_klp");

	tcase_add_test(tc, finds_btr_and_bts);
	tcase_add_test(tc, rejects_what_is_not_it);
	tcase_add_test(tc, tasklist_qrwlock);
	tcase_add_test(tc, tasklist_rwbase_rt);
	tcase_add_test(tc, tasklist_unknown_shapes_refused);
	return tc;
}
GP_TCASE(lp_klp_tcase)
