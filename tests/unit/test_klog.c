// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * introspect/klog.c on a synthetic printk ring buffer laid out as 6.1's
 * (VMCOREINFO keys as the kernel writes them), filled by a writer that
 * follows the kernel's data_alloc(): ids and logical positions starting
 * where the kernel starts them (so both overflow), blocks that wrap to the
 * ring's start, records overwritten and made reusable.  Then a hostile
 * guest: sizes, positions, ids, states and sequence numbers that lie, and
 * layouts VMCOREINFO does not give.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gp_check.h"
#include "klog.h"

#define MEM (4u << 20)
#define KMAP 0xffffffff80000000ull
#define RB_PA 0x1000ull		/* struct printk_ringbuffer */
#define PRB_PA 0x2000ull	/* the prb pointer */
#define DESCS_PA 0x10000ull
#define INFOS_PA 0x100000ull
#define DATA_PA 0x200000ull

/* 6.1 x86-64 */
#define INFO_SIZE 88
#define DESC_SIZE 24
#define ID_MASK (~(3ull << 62))

enum { RESERVED, COMMITTED, FINALIZED, REUSABLE };

struct ring {
	uint8_t *mem;
	struct kern k;
	unsigned cbits, sbits;
	uint64_t head_lpos, tail_lpos, seq;	/* next seq */
	uint64_t first;			/* oldest seq not made reusable */
	int wrapped_blocks;
	char vmci[4096];
};

static uint64_t va(uint64_t pa)
{
	return KMAP + pa;
}

static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static uint64_t id_of(struct ring *g, uint64_t seq)
{
	return (seq - (1ull << g->cbits)) & ID_MASK;	/* DESC0_ID + 1 + seq */
}

static uint8_t *desc(struct ring *g, uint64_t seq)
{
	return g->mem + DESCS_PA + (seq & ((1ull << g->cbits) - 1)) * DESC_SIZE;
}

static uint8_t *info(struct ring *g, uint64_t seq)
{
	return g->mem + INFOS_PA + (seq & ((1ull << g->cbits) - 1)) * INFO_SIZE;
}

static void set_state(struct ring *g, uint64_t seq, int st)
{
	put64(desc(g, seq), ((uint64_t)st << 62) | id_of(g, seq));
}

static void write_rb(struct ring *g)
{
	uint8_t *rb = g->mem + RB_PA;

	put32(rb + 0, g->cbits);
	put64(rb + 8, va(DESCS_PA));
	put64(rb + 16, va(INFOS_PA));
	put64(rb + 24, id_of(g, g->seq - 1));	/* head_id */
	put64(rb + 32, id_of(g, g->first));	/* tail_id */
	put32(rb + 48, g->sbits);
	put64(rb + 56, va(DATA_PA));
	put64(rb + 64, g->head_lpos);
	put64(rb + 72, g->tail_lpos);
}

static const char vmci_fmt[] =
	"OSRELEASE=6.1.0-test\n"
	"SYMBOL(prb)=%llx\n"
	"SIZE(printk_ringbuffer)=88\n"
	"OFFSET(printk_ringbuffer.desc_ring)=0\n"
	"OFFSET(printk_ringbuffer.text_data_ring)=48\n"
	"OFFSET(printk_ringbuffer.fail)=80\n"
	"SIZE(prb_desc_ring)=48\n"
	"OFFSET(prb_desc_ring.count_bits)=0\n"
	"OFFSET(prb_desc_ring.descs)=8\n"
	"OFFSET(prb_desc_ring.infos)=16\n"
	"OFFSET(prb_desc_ring.head_id)=24\n"
	"OFFSET(prb_desc_ring.tail_id)=32\n"
	"SIZE(prb_desc)=24\n"
	"OFFSET(prb_desc.state_var)=0\n"
	"OFFSET(prb_desc.text_blk_lpos)=8\n"
	"SIZE(prb_data_blk_lpos)=16\n"
	"OFFSET(prb_data_blk_lpos.begin)=0\n"
	"OFFSET(prb_data_blk_lpos.next)=8\n"
	"SIZE(printk_info)=88\n"
	"OFFSET(printk_info.seq)=0\n"
	"OFFSET(printk_info.ts_nsec)=8\n"
	"OFFSET(printk_info.text_len)=16\n"
	"OFFSET(printk_info.caller_id)=20\n"
	"OFFSET(printk_info.dev_info)=24\n"
	"SIZE(prb_data_ring)=32\n"
	"OFFSET(prb_data_ring.size_bits)=0\n"
	"OFFSET(prb_data_ring.data)=8\n"
	"OFFSET(prb_data_ring.head_lpos)=16\n"
	"OFFSET(prb_data_ring.tail_lpos)=24\n"
	"SIZE(atomic_long_t)=8\n"
	"OFFSET(atomic_long_t.counter)=0\n";

static void set_vmci(struct ring *g, const char *text)
{
	vmci_free(&g->k.vi);
	ck_ok(vmci_parse(text, strlen(text), 0, &g->k.vi));
}

/* A ring of 2^cbits records and 2^sbits bytes of text, empty as the
 * kernel's _DEFINE_PRINTKRB leaves it. */
static void ring_init(struct ring *g, unsigned cbits, unsigned sbits)
{
	memset(g, 0, sizeof(*g));
	g->mem = calloc(1, MEM);
	ck_assert(g->mem);
	g->cbits = cbits;
	g->sbits = sbits;
	g->head_lpos = g->tail_lpos = -(1ull << sbits);	/* BLK0_LPOS */
	/* The initial tail: the last descriptor, reusable, seq 0. */
	put64(desc(g, (1ull << cbits) - 1), (3ull << 62) | (-((1ull << cbits) + 1) & ID_MASK));
	put64(desc(g, (1ull << cbits) - 1) + 8, 1);	/* FAILED_LPOS */
	put64(desc(g, (1ull << cbits) - 1) + 16, 1);
	put64(info(g, 0), -(1ull << cbits));		/* hack #1 */
	put64(g->mem + PRB_PA, va(RB_PA));
	ck_ok(tgt_buffer_new(g->mem, MEM, NULL, 0, &g->k.t));
	g->k.text_start = KMAP;
	g->k.image_end = KMAP + MEM;
	g->k.phys_base = 0;
	g->k.levels = 4;
	g->k.pgd_pa = 0x3000;	/* an empty top level: nothing else mapped */
	snprintf(g->vmci, sizeof(g->vmci), vmci_fmt, (unsigned long long)va(PRB_PA));
	set_vmci(g, g->vmci);
	/* The bootstrap tail: seq 0 in a reusable descriptor (hack #2). */
	put64(g->mem + RB_PA + 32, -((1ull << cbits) + 1) & ID_MASK);
	put32(g->mem + RB_PA, cbits);
	put64(g->mem + RB_PA + 8, va(DESCS_PA));
	put64(g->mem + RB_PA + 16, va(INFOS_PA));
	put32(g->mem + RB_PA + 48, sbits);
	put64(g->mem + RB_PA + 56, va(DATA_PA));
}

static void ring_free(struct ring *g)
{
	tgt_close(g->k.t);
	vmci_free(&g->k.vi);
	free(g->mem);
}

/* Push the tail to lpos (data_push_tail()): every record whose block
 * starts before it becomes reusable, and the tail moves to the end of
 * the last of them. */
static void push_tail(struct ring *g, uint64_t lpos)
{
	while (g->first < g->seq && (int64_t)(get64(desc(g, g->first) + 8) - lpos) < 0) {
		g->tail_lpos = get64(desc(g, g->first) + 16);
		set_state(g, g->first, REUSABLE);
		g->first++;
	}
}

/* prb_reserve() + commit + finalize of one record (data_alloc()). */
static uint64_t add(struct ring *g, const char *text, int state)
{
	uint64_t size = 1ull << g->sbits, len = strlen(text), blk = (8 + len + 7) & ~7ull;
	uint64_t begin = g->head_lpos, next = begin + blk, seq = g->seq, at;

	ck_assert(blk <= size / 2);
	if ((begin >> g->sbits) != (next >> g->sbits)) {
		next = (next & ~(size - 1)) + blk;	/* DATA_THIS_WRAP_START_LPOS + size */
		at = 0;
		g->wrapped_blocks++;
	} else {
		at = begin & (size - 1);
	}
	/* A full descriptor ring recycles the oldest descriptor. */
	if (seq - g->first >= (1ull << g->cbits))
		push_tail(g, get64(desc(g, g->first) + 16));
	push_tail(g, next - size);
	put64(g->mem + DATA_PA + at, id_of(g, seq));
	memcpy(g->mem + DATA_PA + at + 8, text, len);
	put64(desc(g, seq) + 8, begin);
	put64(desc(g, seq) + 16, next);
	memset(info(g, seq), 0, INFO_SIZE);
	put64(info(g, seq), seq);
	put64(info(g, seq) + 8, 1000000ull * seq + 7);
	info(g, seq)[16] = (uint8_t)len;
	info(g, seq)[17] = (uint8_t)(len >> 8);
	info(g, seq)[18] = 0;
	set_state(g, seq, state);
	g->head_lpos = next;
	g->seq++;
	write_rb(g);
	return seq;
}

struct got {
	int n;
	uint64_t seq[4096];
	char text[4096][128];
	int level[4096];
	uint64_t ts[4096];
};

static bool collect(const struct klog_record *r, void *arg)
{
	struct got *g = arg;

	ck_assert_int_lt(g->n, 4096);
	g->seq[g->n] = r->seq;
	g->level[g->n] = r->level;
	g->ts[g->n] = r->ts_ns;
	snprintf(g->text[g->n], sizeof(g->text[0]), "%s", r->text);
	ck_assert_uint_eq(strlen(r->text), r->text_len);
	g->n++;
	return true;
}

static struct got *read_all(struct ring *g, uint64_t since, struct klog_stats *st)
{
	struct got *o = calloc(1, sizeof(*o));

	ck_assert(o);
	ck_ok(kern_klog_read(&g->k, since, collect, o, st));
	return o;
}

START_TEST(klog_basic)
{
	struct ring g;
	struct klog_stats st;
	struct got *o;
	uint64_t next;

	ring_init(&g, 4, 10);
	/* Empty: nothing, and the next record is seq 0. */
	o = read_all(&g, 0, &st);
	ck_assert_int_eq(o->n, 0);
	ck_assert_uint_eq(st.next_seq, 0);
	free(o);
	add(&g, "Linux version 6.1.0-test", FINALIZED);
	add(&g, "line two\nwith a second line", FINALIZED);
	add(&g, "", FINALIZED);
	add(&g, "fourth", FINALIZED);
	o = read_all(&g, 0, &st);
	ck_assert_int_eq(o->n, 4);
	ck_assert_str_eq(o->text[0], "Linux version 6.1.0-test");
	ck_assert_str_eq(o->text[1], "line two\nwith a second line");
	ck_assert_str_eq(o->text[2], "");
	ck_assert_uint_eq(o->seq[3], 3);
	ck_assert_uint_eq(o->ts[3], 3000007);
	ck_assert_int_eq(o->level[0], -1);	/* no BTF: not known */
	ck_assert_uint_eq(st.first_seq, 0);
	ck_assert_uint_eq(st.next_seq, 4);
	ck_assert_uint_eq(st.lost, 0);
	free(o);
	ck_ok(kern_klog_next_seq(&g.k, &next));
	ck_assert_uint_eq(next, 4);
	/* --since */
	o = read_all(&g, 2, &st);
	ck_assert_int_eq(o->n, 2);
	ck_assert_uint_eq(o->seq[0], 2);
	free(o);
	o = read_all(&g, 99, &st);
	ck_assert_int_eq(o->n, 0);
	ck_assert_uint_eq(st.next_seq, 4);
	free(o);
	/* A committed (not finalized) record: readers stop there, as the
	 * kernel's do, even with a finalized one after it. */
	add(&g, "being extended", COMMITTED);
	add(&g, "after it", FINALIZED);
	o = read_all(&g, 0, &st);
	ck_assert_int_eq(o->n, 4);
	ck_assert_uint_eq(st.next_seq, 4);
	free(o);
	set_state(&g, 4, FINALIZED);
	o = read_all(&g, 0, &st);
	ck_assert_int_eq(o->n, 6);
	ck_assert_uint_eq(st.next_seq, 6);
	free(o);
	ring_free(&g);
}
END_TEST

/* Hundreds of records through a small ring: the text ring wraps (blocks
 * stored at its start), descriptors are recycled, logical positions and
 * ids overflow; what is left reads back exactly, oldest gone. */
START_TEST(klog_wrapped)
{
	struct ring g;
	struct klog_stats st;
	struct got *o;
	char t[128];

	ring_init(&g, 5, 10);	/* 32 records, 1 KiB of text */
	for (int i = 0; i < 500; i++) {
		snprintf(t, sizeof(t), "record %d %.*s", i, i % 61, "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnop");
		add(&g, t, FINALIZED);
	}
	ck_assert_int_gt(g.wrapped_blocks, 10);
	o = read_all(&g, 0, &st);
	ck_assert_int_gt(o->n, 5);
	ck_assert_uint_eq(st.next_seq, 500);
	ck_assert_uint_eq(st.first_seq, g.first);
	ck_assert_uint_eq(o->seq[0], g.first);
	for (int i = 0; i < o->n; i++) {
		int n = (int)o->seq[i];

		snprintf(t, sizeof(t), "record %d %.*s", n, n % 61, "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnop");
		ck_assert_str_eq(o->text[i], t);
		ck_assert_uint_eq(o->seq[i], g.first + (uint64_t)i);
	}
	ck_assert_uint_eq(o->seq[o->n - 1], 499);
	free(o);
	/* Asking for what was overwritten: counted as lost. */
	o = read_all(&g, 10, &st);
	ck_assert_uint_eq(st.lost, g.first - 10);
	free(o);
	ring_free(&g);
}
END_TEST

static void vmci_without(struct ring *g, const char *key)
{
	char text[4096], *p;

	snprintf(text, sizeof(text), "%s", g->vmci);
	p = strstr(text, key);
	ck_assert(p);
	memmove(p, strchr(p, '\n') + 1, strlen(strchr(p, '\n') + 1) + 1);
	set_vmci(g, text);
}

static void vmci_with(struct ring *g, const char *key, const char *value)
{
	char text[4096], *p, *nl;

	snprintf(text, sizeof(text), "%s", g->vmci);
	p = strstr(text, key);
	ck_assert(p);
	p += strlen(key) + 1;
	nl = strchr(p, '\n');
	memmove(p + strlen(value), nl, strlen(nl) + 1);
	memcpy(p, value, strlen(value));
	set_vmci(g, text);
}

START_TEST(klog_hostile_layout)
{
	struct ring g;
	uint64_t next;

	ring_init(&g, 4, 10);
	add(&g, "x", FINALIZED);
	vmci_without(&g, "OFFSET(printk_info.text_len)");
	ck_err(kern_klog_next_seq(&g.k, &next), GP_ERR_NOTFOUND, "OFFSET(printk_info.text_len)");
	set_vmci(&g, g.vmci);
	vmci_with(&g, "OFFSET(printk_info.seq)", "84");
	ck_err(kern_klog_next_seq(&g.k, &next), GP_ERR_CORRUPT, "does not fit together");
	vmci_with(&g, "OFFSET(printk_info.seq)", "99999999");
	ck_err(kern_klog_next_seq(&g.k, &next), GP_ERR_CORRUPT, "not a layout value");
	set_vmci(&g, "OSRELEASE=4.19\nSYMBOL(log_buf)=ffffffff81000000\n");
	ck_err(kern_klog_next_seq(&g.k, &next), GP_ERR_UNSUPPORTED, "before 5.10");
	set_vmci(&g, "OSRELEASE=6.1\n");
	ck_err(kern_klog_next_seq(&g.k, &next), GP_ERR_UNSUPPORTED, "SYMBOL(prb)");
	vmci_free(&g.k.vi);
	snprintf(g.vmci, sizeof(g.vmci), vmci_fmt, 0xffff888012345000ull);	/* unmapped */
	set_vmci(&g, g.vmci);
	ck_err(kern_klog_next_seq(&g.k, &next), GP_ERR_FAULT, "prb");
	ring_free(&g);
}
END_TEST

START_TEST(klog_hostile_ring)
{
	struct ring g;
	struct klog_stats st;
	struct got *o;
	uint64_t next;

	ring_init(&g, 4, 10);
	for (int i = 0; i < 8; i++) {
		char t[32];

		snprintf(t, sizeof(t), "rec%d", i);
		add(&g, t, FINALIZED);
	}
	/* Sizes a guest must not make us read. */
	put32(g.mem + RB_PA, 40);
	ck_err(kern_klog_next_seq(&g.k, &next), GP_ERR_CORRUPT, "2^40 descriptors");
	put32(g.mem + RB_PA, 0);
	ck_err(kern_klog_next_seq(&g.k, &next), GP_ERR_CORRUPT, "2^0 descriptors");
	put32(g.mem + RB_PA, 4);
	put32(g.mem + RB_PA + 48, 63);
	ck_err(kern_klog_next_seq(&g.k, &next), GP_ERR_CORRUPT, "2^63 bytes");
	put32(g.mem + RB_PA + 48, 10);
	put64(g.mem + RB_PA + 56, 0xffff888000000000ull);	/* text ring unmapped */
	ck_err(kern_klog_read(&g.k, 0, collect, NULL, &st), GP_ERR_FAULT, "text ring");
	put64(g.mem + RB_PA + 56, va(DATA_PA));

	/* Record 1: text_len beyond its block; 2: a block that goes
	 * backwards; 3: unaligned; 4: the block's id is another record's;
	 * 5: a data-less (failed) record.  Each is lost, the rest read. */
	info(&g, 1)[16] = 200;
	put64(desc(&g, 2) + 16, get64(desc(&g, 2) + 8) - 8);
	put64(desc(&g, 3) + 8, get64(desc(&g, 3) + 8) + 3);
	put64(g.mem + DATA_PA + (get64(desc(&g, 4) + 8) & 1023), 12345);
	put64(desc(&g, 5) + 8, 1);
	put64(desc(&g, 5) + 16, 1);
	o = read_all(&g, 0, &st);
	ck_assert_int_eq(o->n, 3);
	ck_assert_str_eq(o->text[0], "rec0");
	ck_assert_str_eq(o->text[1], "rec6");
	ck_assert_uint_eq(st.lost, 5);
	ck_assert_uint_eq(st.next_seq, 8);
	free(o);

	/* Every descriptor finalized and claiming the same sequence number,
	 * or ever larger ones: the walk ends within one lap. */
	for (int i = 0; i < 16; i++) {
		set_state(&g, (uint64_t)i, FINALIZED);
		put64(info(&g, (uint64_t)i), 3);
	}
	o = read_all(&g, 0, &st);
	ck_assert_int_le(o->n, 16);
	free(o);
	for (int i = 0; i < 16; i++)
		put64(info(&g, (uint64_t)i), (uint64_t)i + 16 * 1000);
	o = read_all(&g, 0, &st);
	ck_assert_int_le(o->n, 16);
	free(o);

	/* A tail that never reads consistently: refused after retries. */
	put64(g.mem + RB_PA + 32, 0x123456789ull);
	ck_err(kern_klog_next_seq(&g.k, &next), GP_ERR_BUSY, "moved under each");
	ring_free(&g);
}
END_TEST

static TCase *klog_tcase(void)
{
	TCase *tc = tcase_create("klog");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, klog_basic);
	tcase_add_test(tc, klog_wrapped);
	tcase_add_test(tc, klog_hostile_layout);
	tcase_add_test(tc, klog_hostile_ring);
	return tc;
}
GP_TCASE(klog_tcase)
