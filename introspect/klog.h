/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * klog.h - the guest kernel's log (its printk ring buffer), read from
 * guest memory, read-only, while the guest runs.
 *
 * The lockless ring buffer of 5.10 on (kernel/printk/printk_ringbuffer.c):
 * a ring of descriptors (state and the data block's logical positions), a
 * parallel array of `struct printk_info` (sequence number, timestamp,
 * level, text length) and a ring of data blocks holding the text.  Every
 * layout comes from the guest's VMCOREINFO (the kernel exports it for
 * crash tools: SYMBOL(prb), SIZE(printk_info), OFFSET(printk_info.seq), ...)
 * or, where VMCOREINFO has no key (the level and facility bitfields), from
 * its BTF; what neither has is refused by name.
 *
 * The reader is the kernel's own reader (prb_read_valid) made batch-wise:
 * one snapshot copies the descriptors, the infos and the text ring, then
 * the descriptors again; a record counts only if its descriptor was
 * finalized, with the same id, in both copies (a writer makes a
 * descriptor reusable before its data may be overwritten), so a guest
 * writing meanwhile yields a consistent set of records, never torn text.
 * Guest data is hostile: ring sizes are capped, every data block checked
 * as the kernel checks it (and its id against its descriptor), every walk
 * bounded by the ring's own size.
 */
#ifndef GP_KLOG_H
#define GP_KLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gp_error.h"
#include "kernel.h"

/* Caps on what a guest may claim (a hostile count_bits or size_bits
 * must not make us read gigabytes).  Debian: 2^17 text, 2^12 records;
 * log_buf_len= up to 32 MiB is read. */
#define KLOG_MAX_DATA_BITS 25
#define KLOG_MAX_DESC_BITS 22
#define KLOG_MAX_SNAPSHOT_BYTES (192u << 20)

/* How a guest's ring is laid out (klog_layout). */
struct klog_layout {
	uint64_t prb_ptr;	/* SYMBOL(prb): the pointer to the ring buffer */
	uint64_t rb_size;	/* SIZE(printk_ringbuffer) */
	uint64_t off_desc_ring, off_text_ring;
	/* prb_desc_ring */
	uint64_t dr_count_bits, dr_descs, dr_infos, dr_head_id, dr_tail_id;
	/* prb_desc, prb_data_blk_lpos */
	uint64_t desc_size, desc_state_var, desc_text_blk_lpos, lpos_begin, lpos_next;
	/* printk_info */
	uint64_t info_size, info_seq, info_ts_nsec, info_text_len, info_caller_id;
	bool have_level;	/* facility and level from BTF */
	uint64_t info_facility;	/* byte offset of u8 facility */
	uint64_t level_bit, level_bits;	/* the level bitfield */
	/* prb_data_ring */
	uint64_t tr_size_bits, tr_data, tr_head_lpos, tr_tail_lpos;
};

struct klog_record {
	uint64_t seq;
	uint64_t ts_ns;		/* ts_nsec: local_clock() at the printk */
	int level;		/* 0..7, -1 if the guest's BTF cannot tell */
	int facility;		/* 0..255, -1 likewise */
	uint32_t caller_id;
	const char *text;	/* text_len bytes, NUL-terminated; may hold
				 * newlines (one record, several lines) and
				 * any other byte the guest wrote */
	size_t text_len;
};

/* Called for each record in sequence order; return false to stop. */
typedef bool (*klog_fn)(const struct klog_record *r, void *arg);

struct klog_stats {
	uint64_t first_seq;	/* the oldest record still in the ring */
	uint64_t next_seq;	/* the next record the guest will finalize */
	uint64_t lost;		/* records at or after since_seq gone before
				 * we read them (overwritten, or data-less) */
	uint64_t records;	/* records passed to the callback */
	unsigned retries;	/* snapshots retaken because the tail moved */
};

/* The layout from k's VMCOREINFO (and BTF for level/facility). */
struct gp_error *klog_layout(struct kern *k, struct klog_layout *l);

/*
 * Every record with seq >= since_seq, oldest first, through fn.  Reads
 * the guest running (memory speed with a RAM file); a target that can
 * read only while paused is paused for the copy (one pause).  *st (may be
 * NULL) gets the ring's first and next sequence numbers.
 */
struct gp_error *kern_klog_read(struct kern *k, uint64_t since_seq, klog_fn fn, void *arg,
				struct klog_stats *st);

/* The next sequence number only (the descriptors and infos are read,
 * not the text): what a later `--since` starts from. */
struct gp_error *kern_klog_next_seq(struct kern *k, uint64_t *next_seq);

#endif
