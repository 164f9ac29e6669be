/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lp_journal.h - every change to a guest is a transaction, journaled in
 * the guest before the first write that matters.
 *
 * A transaction is the set of writes made in one pause.  Before each
 * write, the bytes it will overwrite are appended to an undo journal kept
 * in guest memory (region pages LP_JOURNAL_PAGE.., physical only: the
 * guest never maps them), and the journal's header is rewritten to cover
 * the new entry; only then is the write made.  The header exists twice
 * (A/B, alternating, each with a sequence number and a checksum), so a
 * write torn by a kill damages at most the copy being written and the
 * other still describes every write already made.  When the pause ends
 * the transaction commits (the header goes back to idle) or, on any
 * error, is rolled back from the journal, newest entry first.
 *
 * Whoever attaches next - the same tool, another `vmm` process, or the
 * guardian process that outlives a killed tool (target/tgt_guard.c) -
 * finds an active journal and rolls it back before doing anything else:
 * the guest is left exactly as it was before the interrupted pause.  All
 * of this works on guest-physical addresses and target calls only, so the
 * guardian can do it without the rest of the tool.
 *
 * The journal is guest memory, hence untrusted: it is bounded and
 * checksummed before use, and recovery writes only inside guest RAM.
 *
 * A reboot that does not clear RAM (a kexec, firmware that leaves low
 * memory alone) leaves the journal and owner record of the earlier boot
 * in place, while the new boot's kernel text, layout and tasks are all
 * new: old bytes written back at old addresses would land on whatever
 * lives there now.  So both carry the boot they were written in (the
 * target's boot_id, from introspect's kern_boot_id): an unfinished
 * transaction of an earlier boot is discarded, never rolled back, and an
 * owner record of an earlier boot is stale.  An unknown boot id (0, on
 * either side) compares equal to any.
 */
#ifndef GP_LP_JOURNAL_H
#define GP_LP_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gp_error.h"
#include "target.h"

/* What the interrupted transaction was doing, and who ran it. */
struct lp_jintent {
	char op[32];		/* "patch", "unpatch", "transition", ... */
	char patch[64];		/* the patch it concerns, "" if none */
	char host[64];
	int32_t pid;
	uint32_t pad;
	uint64_t start_unix;	/* when the command started (host clock) */
	uint64_t boot_id;	/* the guest boot it ran in (tgt.boot_id; 0 unknown) */
};

/* What recovery found and did. */
struct lp_jrecovery {
	bool found;		/* an unfinished transaction was there */
	bool torn;		/* one header copy was torn (the other was used) */
	uint32_t entries;	/* writes rolled back (or discarded) */
	bool guest_ran;		/* the guest ran after the interrupted pause */
	bool earlier_boot;	/* it was of an earlier boot: discarded, not
				 * rolled back (nothing of it is live) */
	struct lp_jintent intent;
	/* The owner record names a process of an earlier boot: stale, the
	 * next change takes it over (nothing is written for it here). */
	bool owner_earlier_boot;
	struct lp_jintent owner;
};

/* Whether a record made in boot `recorded` is of an earlier boot than the
 * target's (both known and different). */
static inline bool lp_boot_earlier(const struct tgt *t, uint64_t recorded)
{
	return t->boot_id && recorded && recorded != t->boot_id;
}

/* Name the operation the next transactions belong to (per process). */
void lp_journal_intent(const char *op, const char *patch);

/*
 * Write guest-physical [pa, pa+len) as part of the current transaction
 * (started by the first write of a pause).  code: through the target's
 * code path.  Only bytes that differ are written; bytes already journaled
 * in this transaction are not journaled again (the first old value is the
 * one to restore).  The target must be paused.
 */
struct gp_error *lp_jwrite(struct tgt *t, uint64_t pa, const void *buf, size_t len, bool code);

/*
 * End the current transaction before the pause ends: commit it when err
 * is NULL, else roll it back.  Returns err (or the commit's own error,
 * after rolling back).  No-op when nothing was written.
 */
struct gp_error *lp_txn_end(struct tgt *t, struct gp_error *err);

/* Guest-physical address of the guest's jiffies: a transaction whose
 * jiffies moved between its first write and its commit is rolled back
 * (the guest ran while we held it paused). */
void lp_journal_watch(uint64_t pa);

/*
 * The owner record in the guest: the first transaction of a process
 * claims it (a live owner elsewhere makes that fail: busy; a dead one on
 * this host is taken over); release clears it when the command ends
 * (anyone: whoever it names, for `vmm recover`).  Data only, no pause
 * needed where the target maps guest RAM.
 */
struct gp_error *lp_owner_release(struct tgt *t, bool anyone);

/* Whether this process has a transaction open on t. */
bool lp_txn_active(const struct tgt *t);

/*
 * Find an unfinished transaction in the guest's journal and roll it back
 * (one of an earlier boot: reset the journal to idle instead).  Reports
 * an owner record of an earlier boot too.  The target must be paused.
 * Also the guardian's hook (tgt_guard.c).
 */
struct gp_error *lp_journal_recover(struct tgt *t, struct lp_jrecovery *out);

/* Roll back even when the guest ran after the interrupted pause (`vmm
 * recover --force`); recovery refuses that by default. */
void lp_journal_force(bool force);

/* Whether the journal pages hold something of ours (our magic at a
 * header copy or the owner record, even from a torn write, or a header
 * of an older guestpatch's layout). */
bool lp_journal_present(struct tgt *t);

#endif
