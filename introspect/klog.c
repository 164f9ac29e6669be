// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * klog.c - the guest kernel's log from its printk ring buffer (klog.h).
 *
 * Shaped after the kernel's reader in kernel/printk/printk_ringbuffer.c
 * (6.1 and 6.12 alike, the lockless ring buffer of 5.10 on):
 *
 *	kernel				ours
 *	prb_first_seq()			first_seq()
 *	desc_read_finalized_seq()	slot_state(), on two copies of the descriptors
 *	get_data()			get_data()
 *	copy_data()			read_record()
 *	_prb_read_valid()		walk()
 *	prb_next_seq()			walk() without text
 *
 * The state word's layout and the state values are the ring buffer's own
 * constants (printk_ringbuffer.h: DESC_FLAGS_SHIFT = BITS_PER_LONG - 2,
 * enum desc_state), unchanged from 5.10 to 6.12; where the guest's BTF
 * has enum desc_state, its values are checked against them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "klog.h"

/* printk_ringbuffer.h */
#define DESC_FLAGS_SHIFT 62
#define DESC_ID_MASK (~(3ull << DESC_FLAGS_SHIFT))
#define DESC_ID(sv) ((sv) & DESC_ID_MASK)
#define DESC_STATE(sv) (3u & (unsigned)((sv) >> DESC_FLAGS_SHIFT))
enum { DESC_RESERVED = 0, DESC_COMMITTED = 1, DESC_FINALIZED = 2, DESC_REUSABLE = 3 };
#define FAILED_LPOS 0x1ull
#define NO_LPOS 0x3ull		/* EMPTY_LINE_LPOS in later kernels: an empty line */
#define LPOS_DATALESS(l) ((l) & 1ull)
#define BLK_ID_SIZE 8		/* struct prb_data_block: unsigned long id */

#define SNAPSHOT_TRIES 8
#define RB_MAX_SIZE 4096

/* ---- layout ---- */

/* KEY from VMCOREINFO, else struct.member from BTF, else a refusal that
 * names both. */
static struct gp_error *vi_or_btf(struct kern *k, const char *st, const char *member,
				  uint64_t *out)
{
	char key[128];
	int64_t v;
	struct gp_error *err;

	if (member)
		snprintf(key, sizeof(key), "OFFSET(%s.%s)", st, member);
	else
		snprintf(key, sizeof(key), "SIZE(%s)", st);
	err = vmci_get_num(&k->vi, key, &v);
	if (!err) {
		if (v < 0 || v > 65536)
			return gp_error_create(GP_ERR_CORRUPT, "VMCOREINFO %s=%lld is not a layout value",
					       key, (long long)v);
		*out = (uint64_t)v;
		return NULL;
	}
	if (err->code != GP_ERR_NOTFOUND || !k->btf)
		return gp_error_wrap(err, "the kernel log's layout");
	gp_error_destroy(err);
	if (member)
		err = kbtf_offsetof(k->btf, st, member, out, NULL);
	else
		err = kbtf_sizeof(k->btf, st, out);
	if (err)
		return gp_error_wrap(err, "the kernel log's layout: VMCOREINFO has no %s and BTF", key);
	return NULL;
}

/* The state values the reader relies on, checked against the guest's
 * BTF where it has enum desc_state (a kernel that renumbered them is
 * refused rather than misread). */
static struct gp_error *check_states(struct kern *k)
{
	static const struct { const char *name; int64_t v; } st[] = {
		{ "desc_reserved", DESC_RESERVED }, { "desc_committed", DESC_COMMITTED },
		{ "desc_finalized", DESC_FINALIZED }, { "desc_reusable", DESC_REUSABLE },
	};

	if (!k->btf)
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(st); i++) {
		int64_t v;
		struct gp_error *err = kbtf_enum_value(k->btf, "desc_state", st[i].name, &v);

		if (err) {
			gp_error_destroy(err);
			return NULL;	/* not in this BTF: the 5.10+ values */
		}
		if (v != st[i].v)
			return gp_error_create(GP_ERR_UNSUPPORTED,
					       "the guest's enum desc_state has %s = %lld, not %lld: a printk ring buffer guestpatch does not know",
					       st[i].name, (long long)v, (long long)st[i].v);
	}
	return NULL;
}

struct gp_error *klog_layout(struct kern *k, struct klog_layout *l)
{
	struct gp_error *err;
	uint64_t v;
	int64_t n;

	memset(l, 0, sizeof(*l));
	if ((err = vmci_symbol(&k->vi, "prb", &l->prb_ptr))) {
		gp_error_destroy(err);
		if (!gp_ok(vmci_symbol(&k->vi, "log_buf", &v)))
			return gp_error_create(GP_ERR_UNSUPPORTED,
					       "VMCOREINFO has no SYMBOL(prb): the kernel log cannot be found");
		return gp_error_create(GP_ERR_UNSUPPORTED,
				       "the guest keeps its log in the record buffer of kernels before 5.10 (SYMBOL(log_buf), no SYMBOL(prb)): not supported");
	}
	/* atomic_long_t is read as a plain 64-bit word. */
	if (gp_ok(vmci_get_num(&k->vi, "SIZE(atomic_long_t)", &n)) && n != 8)
		return gp_error_create(GP_ERR_UNSUPPORTED, "VMCOREINFO SIZE(atomic_long_t)=%lld, not 8",
				       (long long)n);
	if (gp_ok(vmci_get_num(&k->vi, "OFFSET(atomic_long_t.counter)", &n)) && n != 0)
		return gp_error_create(GP_ERR_UNSUPPORTED,
				       "VMCOREINFO OFFSET(atomic_long_t.counter)=%lld, not 0", (long long)n);
	if ((err = check_states(k)) ||
	    (err = vi_or_btf(k, "printk_ringbuffer", NULL, &l->rb_size)) ||
	    (err = vi_or_btf(k, "printk_ringbuffer", "desc_ring", &l->off_desc_ring)) ||
	    (err = vi_or_btf(k, "printk_ringbuffer", "text_data_ring", &l->off_text_ring)) ||
	    (err = vi_or_btf(k, "prb_desc_ring", "count_bits", &l->dr_count_bits)) ||
	    (err = vi_or_btf(k, "prb_desc_ring", "descs", &l->dr_descs)) ||
	    (err = vi_or_btf(k, "prb_desc_ring", "infos", &l->dr_infos)) ||
	    (err = vi_or_btf(k, "prb_desc_ring", "head_id", &l->dr_head_id)) ||
	    (err = vi_or_btf(k, "prb_desc_ring", "tail_id", &l->dr_tail_id)) ||
	    (err = vi_or_btf(k, "prb_desc", NULL, &l->desc_size)) ||
	    (err = vi_or_btf(k, "prb_desc", "state_var", &l->desc_state_var)) ||
	    (err = vi_or_btf(k, "prb_desc", "text_blk_lpos", &l->desc_text_blk_lpos)) ||
	    (err = vi_or_btf(k, "prb_data_blk_lpos", "begin", &l->lpos_begin)) ||
	    (err = vi_or_btf(k, "prb_data_blk_lpos", "next", &l->lpos_next)) ||
	    (err = vi_or_btf(k, "printk_info", NULL, &l->info_size)) ||
	    (err = vi_or_btf(k, "printk_info", "seq", &l->info_seq)) ||
	    (err = vi_or_btf(k, "printk_info", "ts_nsec", &l->info_ts_nsec)) ||
	    (err = vi_or_btf(k, "printk_info", "text_len", &l->info_text_len)) ||
	    (err = vi_or_btf(k, "printk_info", "caller_id", &l->info_caller_id)) ||
	    (err = vi_or_btf(k, "prb_data_ring", "size_bits", &l->tr_size_bits)) ||
	    (err = vi_or_btf(k, "prb_data_ring", "data", &l->tr_data)) ||
	    (err = vi_or_btf(k, "prb_data_ring", "head_lpos", &l->tr_head_lpos)) ||
	    (err = vi_or_btf(k, "prb_data_ring", "tail_lpos", &l->tr_tail_lpos)))
		return err;
	/* Every field inside its structure. */
	if (l->rb_size > RB_MAX_SIZE ||
	    l->off_desc_ring + l->dr_count_bits + 4 > l->rb_size ||
	    l->off_desc_ring + l->dr_descs + 8 > l->rb_size ||
	    l->off_desc_ring + l->dr_infos + 8 > l->rb_size ||
	    l->off_desc_ring + l->dr_head_id + 8 > l->rb_size ||
	    l->off_desc_ring + l->dr_tail_id + 8 > l->rb_size ||
	    l->off_text_ring + l->tr_size_bits + 4 > l->rb_size ||
	    l->off_text_ring + l->tr_data + 8 > l->rb_size ||
	    l->desc_size > 256 || l->desc_state_var + 8 > l->desc_size ||
	    l->desc_text_blk_lpos + l->lpos_begin + 8 > l->desc_size ||
	    l->desc_text_blk_lpos + l->lpos_next + 8 > l->desc_size ||
	    l->info_size > 1024 || l->info_seq + 8 > l->info_size ||
	    l->info_ts_nsec + 8 > l->info_size || l->info_text_len + 2 > l->info_size ||
	    l->info_caller_id + 4 > l->info_size)
		return gp_error_create(GP_ERR_CORRUPT,
				       "the kernel log's layout in VMCOREINFO does not fit together (printk_ringbuffer %llu bytes, prb_desc %llu, printk_info %llu)",
				       (unsigned long long)l->rb_size, (unsigned long long)l->desc_size,
				       (unsigned long long)l->info_size);
	/* Level and facility are bitfields VMCOREINFO does not describe. */
	if (k->btf) {
		uint64_t fsz = 0;

		l->have_level =
			gp_ok(kbtf_offsetof(k->btf, "printk_info", "facility", &l->info_facility, &fsz)) &&
			gp_ok(kbtf_bitfield(k->btf, "printk_info", "level", &l->level_bit, &l->level_bits)) &&
			fsz == 1 && l->info_facility < l->info_size && l->level_bits >= 1 &&
			l->level_bits <= 8 && l->level_bit + l->level_bits <= l->info_size * 8;
	}
	return NULL;
}

/* ---- a snapshot of the ring ---- */

struct snap {
	unsigned count_bits, size_bits;
	uint64_t descs_va, infos_va, data_va, head_id, tail_id;
	uint8_t *desc_a, *desc_b, *infos, *data;	/* data NULL: no text read */
};

static void snap_free(struct snap *s)
{
	free(s->desc_a);
	free(s->desc_b);
	free(s->infos);
	free(s->data);
	memset(s, 0, sizeof(*s));
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static struct gp_error *snap_take(struct kern *k, const struct klog_layout *l, bool text,
				  struct snap *s)
{
	uint8_t rb[RB_MAX_SIZE];
	const uint8_t *dr, *tr;
	uint64_t rb_va, count, dbytes, ibytes, data_bytes;
	struct gp_error *err;

	memset(s, 0, sizeof(*s));
	if ((err = kern_read_u64(k, l->prb_ptr, &rb_va)) ||
	    (err = kern_read(k, rb_va, rb, l->rb_size)))
		return gp_error_wrap(err, "reading the kernel log's ring buffer (prb)");
	dr = rb + l->off_desc_ring;
	tr = rb + l->off_text_ring;
	s->count_bits = get32(dr + l->dr_count_bits);
	s->descs_va = get64(dr + l->dr_descs);
	s->infos_va = get64(dr + l->dr_infos);
	s->head_id = get64(dr + l->dr_head_id);
	s->tail_id = get64(dr + l->dr_tail_id);
	s->size_bits = get32(tr + l->tr_size_bits);
	s->data_va = get64(tr + l->tr_data);
	if (s->count_bits < 1 || s->count_bits > KLOG_MAX_DESC_BITS)
		return gp_error_addr(GP_ERR_CORRUPT, rb_va,
				     "the kernel log's descriptor ring claims 2^%u descriptors (at most 2^%u are read)",
				     s->count_bits, KLOG_MAX_DESC_BITS);
	if (s->size_bits < 3 || s->size_bits > KLOG_MAX_DATA_BITS)
		return gp_error_addr(GP_ERR_CORRUPT, rb_va,
				     "the kernel log's text ring claims 2^%u bytes (at most 2^%u are read)",
				     s->size_bits, KLOG_MAX_DATA_BITS);
	count = 1ull << s->count_bits;
	dbytes = count * l->desc_size;
	ibytes = count * l->info_size;
	data_bytes = text ? 1ull << s->size_bits : 0;
	if (2 * dbytes + ibytes + data_bytes > KLOG_MAX_SNAPSHOT_BYTES)
		return gp_error_addr(GP_ERR_LIMIT, rb_va,
				     "the kernel log's rings take %llu bytes (at most %u are read)",
				     (unsigned long long)(2 * dbytes + ibytes + data_bytes),
				     KLOG_MAX_SNAPSHOT_BYTES);
	s->desc_a = malloc(dbytes);
	s->desc_b = malloc(dbytes);
	s->infos = malloc(ibytes);
	s->data = text ? malloc(data_bytes) : NULL;
	if (!s->desc_a || !s->desc_b || !s->infos || (text && !s->data))
		return &gp_error_nomem;
	/* As desc_read() and prb_read(): state, then what it guards, then
	 * the state again. */
	if ((err = kern_read(k, s->descs_va, s->desc_a, dbytes)))
		return gp_error_wrap(err, "reading the kernel log's descriptors");
	if ((err = kern_read(k, s->infos_va, s->infos, ibytes)))
		return gp_error_wrap(err, "reading the kernel log's record infos");
	if (text && (err = kern_read(k, s->data_va, s->data, data_bytes)))
		return gp_error_wrap(err, "reading the kernel log's text ring");
	if ((err = kern_read(k, s->descs_va, s->desc_b, dbytes)))
		return gp_error_wrap(err, "reading the kernel log's descriptors");
	return NULL;
}

static uint64_t sv_of(const struct klog_layout *l, const uint8_t *descs, uint64_t slot)
{
	return get64(descs + slot * l->desc_size + l->desc_state_var);
}

static const uint8_t *info_of(const struct klog_layout *l, const struct snap *s, uint64_t slot)
{
	return s->infos + slot * l->info_size;
}

/* prb_first_seq(): the tail descriptor's sequence number, if it was
 * finalized or reusable under its id all through the snapshot. */
static bool first_seq(const struct klog_layout *l, const struct snap *s, uint64_t *seq)
{
	uint64_t mask = (1ull << s->count_bits) - 1, slot = s->tail_id & mask;
	uint64_t a = sv_of(l, s->desc_a, slot), b = sv_of(l, s->desc_b, slot);

	if (a != b || DESC_ID(b) != DESC_ID(s->tail_id) ||
	    (DESC_STATE(b) != DESC_FINALIZED && DESC_STATE(b) != DESC_REUSABLE))
		return false;
	*seq = get64(info_of(l, s, slot) + l->info_seq);
	return true;
}

/*
 * get_data(): where a record's text block is in the text ring, checked as
 * the kernel checks it, and its block id against the descriptor's.  NULL:
 * no usable text (a data-less record, or a block that does not check).
 */
static const char *get_data(const struct snap *s, uint64_t begin, uint64_t next, uint64_t id,
			    size_t *size)
{
	uint64_t dsize = 1ull << s->size_bits, mask = dsize - 1, off, n;

	if (LPOS_DATALESS(begin) || LPOS_DATALESS(next)) {
		if (begin == NO_LPOS && next == NO_LPOS) {
			*size = 0;
			return "";
		}
		return NULL;
	}
	if ((begin >> s->size_bits) == (next >> s->size_bits) && begin < next) {
		off = begin & mask;	/* a regular block */
		n = next - begin;
	} else if (((begin + dsize) >> s->size_bits) == (next >> s->size_bits)) {
		off = 0;		/* wrapped: stored at the ring's start */
		n = next & mask;
	} else {
		return NULL;
	}
	if ((begin & 7) || (next & 7) || n < BLK_ID_SIZE || off + n > dsize)
		return NULL;
	if (DESC_ID(get64(s->data + off)) != id)
		return NULL;
	*size = n - BLK_ID_SIZE;
	return (const char *)s->data + off + BLK_ID_SIZE;
}

enum slot_verdict { SLOT_RECORD, SLOT_LOST, SLOT_STOP };

/* desc_read_finalized_seq() on both copies, for sequence number seq. */
static enum slot_verdict slot_state(const struct klog_layout *l, const struct snap *s,
				    uint64_t seq)
{
	uint64_t mask = (1ull << s->count_bits) - 1, slot = seq & mask;
	uint64_t a = sv_of(l, s->desc_a, slot), b = sv_of(l, s->desc_b, slot);
	uint64_t iseq = get64(info_of(l, s, slot) + l->info_seq);

	if (a != b) {
		/* Changed while we read: recycled (lost), or just finalized
		 * (the next read has it). */
		if (DESC_ID(a) != DESC_ID(b) || DESC_STATE(b) == DESC_REUSABLE)
			return SLOT_LOST;
		return SLOT_STOP;
	}
	if (DESC_STATE(b) == DESC_RESERVED || DESC_STATE(b) == DESC_COMMITTED)
		return SLOT_STOP;	/* not yet readable */
	if (iseq != seq) {
		/* A newer record in the slot: seq was overwritten (the
		 * kernel's reader catches up with the tail); an older one:
		 * seq is not written yet. */
		return iseq > seq && iseq - seq < (1ull << 62) ? SLOT_LOST : SLOT_STOP;
	}
	if ((DESC_ID(b) & mask) != slot)
		return SLOT_LOST;	/* an id that cannot be in this slot */
	return DESC_STATE(b) == DESC_FINALIZED ? SLOT_RECORD : SLOT_LOST;
}

/* copy_data(): the record at seq, or false if it has no usable text. */
static bool read_record(const struct klog_layout *l, const struct snap *s, uint64_t seq,
			char *buf, struct klog_record *r)
{
	uint64_t mask = (1ull << s->count_bits) - 1, slot = seq & mask;
	const uint8_t *d = s->desc_b + slot * l->desc_size, *in = info_of(l, s, slot);
	uint64_t begin = get64(d + l->desc_text_blk_lpos + l->lpos_begin);
	uint64_t next = get64(d + l->desc_text_blk_lpos + l->lpos_next);
	uint16_t text_len;
	const char *text;
	size_t size;

	memcpy(&text_len, in + l->info_text_len, 2);
	text = get_data(s, begin, next, DESC_ID(get64(d + l->desc_state_var)), &size);
	if (!text || size < text_len)
		return false;
	memcpy(buf, text, text_len);
	buf[text_len] = '\0';
	memset(r, 0, sizeof(*r));
	r->seq = seq;
	r->ts_ns = get64(in + l->info_ts_nsec);
	r->caller_id = get32(in + l->info_caller_id);
	r->text = buf;
	r->text_len = text_len;
	r->level = r->facility = -1;
	if (l->have_level) {
		uint64_t w = 0;
		size_t byte = l->level_bit / 8, nb = (l->level_bit % 8 + l->level_bits + 7) / 8;

		if (byte + nb <= l->info_size) {
			memcpy(&w, in + byte, nb);	/* little-endian */
			r->level = (int)((w >> (l->level_bit % 8)) & ((1u << l->level_bits) - 1));
		}
		r->facility = in[l->info_facility];
	}
	return true;
}

/* _prb_read_valid() over the snapshot, from since on; fn NULL: only the
 * sequence numbers.  false if the snapshot has no consistent tail. */
static bool walk(const struct klog_layout *l, const struct snap *s, uint64_t since, klog_fn fn,
		 void *arg, char *buf, struct klog_stats *st)
{
	uint64_t count = 1ull << s->count_bits, seq, first;
	bool go = true;

	if (!first_seq(l, s, &first))
		return false;
	st->first_seq = first;
	seq = first;
	if (since < first)
		st->lost += first - since;
	/* From the tail on, so that the next sequence number is the ring's
	 * whatever since is; at most one lap of the ring: no guest data can
	 * make this loop. */
	for (uint64_t i = 0; i < count; i++, seq++) {
		enum slot_verdict v = slot_state(l, s, seq);
		struct klog_record r;

		if (v == SLOT_STOP)
			break;
		if (seq < since)
			continue;
		if (v == SLOT_LOST || !fn) {
			st->lost += v == SLOT_LOST;
			continue;
		}
		if (!read_record(l, s, seq, buf, &r)) {
			st->lost++;
			continue;
		}
		if (go) {
			st->records++;
			go = fn(&r, arg);
		}
	}
	st->next_seq = seq;
	return true;
}

/* One consistent snapshot: retaken while the tail moves under it, taken
 * paused on a target that reads only paused. */
static struct gp_error *read_log(struct kern *k, uint64_t since, klog_fn fn, void *arg,
				 struct klog_stats *st)
{
	struct klog_layout l;
	struct gp_error *err;
	struct klog_stats dummy;
	char *buf = NULL;
	bool paused_here = false;

	if (!st)
		st = &dummy;
	memset(st, 0, sizeof(*st));
	if ((err = klog_layout(k, &l)))
		return err;
	if (fn && !(buf = malloc(65536 + 1)))	/* text_len is a u16 */
		return &gp_error_nomem;
	for (unsigned tries = 0;; tries++) {
		struct snap s;

		err = snap_take(k, &l, fn != NULL, &s);
		if (err && err->code == GP_ERR_BUSY && !k->t->paused && !paused_here &&
		    k->t->ops->pause) {
			/* The target reads only while the guest is paused. */
			gp_error_destroy(err);
			snap_free(&s);
			if ((err = tgt_pause(k->t)))
				break;
			paused_here = true;
			continue;
		}
		if (!err) {
			memset(st, 0, sizeof(*st));
			st->retries = tries;
			if (walk(&l, &s, since, fn, arg, buf, st)) {
				snap_free(&s);
				break;
			}
			if (tries + 1 >= SNAPSHOT_TRIES)
				err = gp_error_create(GP_ERR_BUSY,
						      "the guest's log moved under each of %d reads (its tail descriptor never read consistently)",
						      SNAPSHOT_TRIES);
		}
		snap_free(&s);
		if (err)
			break;
	}
	free(buf);
	if (paused_here)
		err = tgt_resume_keep(k->t, err);
	return err;
}

struct gp_error *kern_klog_read(struct kern *k, uint64_t since_seq, klog_fn fn, void *arg,
				struct klog_stats *st)
{
	if (!fn)
		return gp_error_create(GP_ERR_INVAL, "kern_klog_read needs a callback");
	return read_log(k, since_seq, fn, arg, st);
}

struct gp_error *kern_klog_next_seq(struct kern *k, uint64_t *next_seq)
{
	struct klog_stats st;
	struct gp_error *err = read_log(k, 0, NULL, NULL, &st);

	if (!err)
		*next_seq = st.next_seq;
	return err;
}
