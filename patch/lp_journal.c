// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * lp_journal.c - the undo journal in guest memory (see lp_journal.h).
 *
 * Layout of the journal pages (guest-physical LP_JOURNAL_PA):
 *   +0      header copy 0     struct jhdr, checksummed
 *   +512    header copy 1     (copy seq % 2 is written; the valid copy
 *                              with the higher seq is the current one)
 *   +1024   the owner         who is changing the guest now (a lock in the
 *                              guest, beside the host's flock)
 *   +4096   entries: { pa, len, flags } + the old bytes (unless they were
 *           all zero), each padded to 8 bytes, in the order written
 *
 * The order that makes a kill at any instant recoverable:
 *   1. the entry (old bytes) is written past `used`, which no valid
 *      header covers yet;
 *   2. a header copy covering it (used, count, running checksum) is
 *      written to the copy the current one is not in;
 *   3. the change itself is written.
 * A kill in 1 leaves bytes no header covers; in 2, a torn copy next to a
 * valid older one that does not cover the entry - and the change was not
 * made; in 3, a header that covers the entry, so recovery restores it.
 *
 * The header's intent and the owner record carry the boot they were
 * written in (lp_journal.h): what an earlier boot left is never replayed
 * on this one.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gp_hash.h"
#include "lp_journal.h"
#include "lp_region.h"

#define JPAGE 4096u
#define JHDR_OFF(copy) ((uint64_t)(copy) * 512u)
#define JENT_OFF 4096u
#define JCAP ((size_t)LP_JOURNAL_PAGES * JPAGE - JENT_OFF)
#define JMAGIC "GPJRNL2"	/* 2: intent.boot_id */
#define JMAGIC_V1 "GPJRNL1"	/* an older guestpatch's header, not read */
#define JSTATE_IDLE 0u
#define JSTATE_ACTIVE 1u
#define JF_CODE 1u		/* restore through the code path */
#define JF_OLD_ZERO 2u		/* the old bytes were all zero: not stored */
#define JF_KNOWN (JF_CODE | JF_OLD_ZERO)
#define JENT_MAX_LEN 4096u	/* writes are journaled page by page */
#define JMERGE_GAP 16u		/* runs of changed bytes closer than this are one */
#define COVER_MAX 4096		/* ranges remembered per transaction */


struct jhdr {
	char magic[8];
	uint64_t seq;
	uint32_t state;
	uint32_t nentries;
	uint64_t used;		/* bytes of entries */
	uint64_t entries_sum;	/* FNV-1a over the entries [0, used) */
	struct lp_jintent intent;
	uint64_t watch_pa;	/* the guest's jiffies, and its value when */
	uint64_t watch_val;	/* the transaction began (0: not watched) */
	uint64_t sum;		/* FNV-1a over this struct with sum = 0 */
};
_Static_assert(sizeof(struct jhdr) <= 512, "a header copy fits its slot");

#define JOWNER_OFF 1024u
#define JOWNER_MAGIC "GPOWNER"

struct jowner {
	char magic[8];
	struct lp_jintent who;
	uint64_t sum;
};

struct jent {
	uint64_t pa;
	uint32_t len;
	uint32_t flags;
};

static struct {
	struct tgt *owned;	/* the target whose owner record is ours */
	struct tgt *t;		/* the target the open transaction is on */
	bool active;
	uint64_t watch_pa;	/* jiffies, or 0 */
	uint64_t watch_val;
	struct jhdr h;		/* the header as last written */
	struct lp_jintent intent;
	int ncover;
	struct {
		uint64_t pa, end;
	} cover[COVER_MAX];
} tx;

static uint64_t jhdr_sum(const struct jhdr *h)
{
	struct jhdr c = *h;

	c.sum = 0;
	return gp_fnv1a(GP_FNV_OFFSET, &c, sizeof(c));
}

void lp_journal_watch(uint64_t pa)
{
	tx.watch_pa = pa;
}

static bool force_rollback;

void lp_journal_force(bool force)
{
	force_rollback = force;
}

void lp_journal_intent(const char *op, const char *patch)
{
	memset(&tx.intent, 0, sizeof(tx.intent));
	snprintf(tx.intent.op, sizeof(tx.intent.op), "%s", op ? op : "");
	snprintf(tx.intent.patch, sizeof(tx.intent.patch), "%s", patch ? patch : "");
	if (gethostname(tx.intent.host, sizeof(tx.intent.host) - 1))
		snprintf(tx.intent.host, sizeof(tx.intent.host), "?");
	tx.intent.pid = (int32_t)getpid();
	tx.intent.start_unix = (uint64_t)time(NULL);
}

bool lp_txn_active(const struct tgt *t)
{
	return tx.active && tx.t == t;
}

static bool jhdr_valid(const struct jhdr *h)
{
	return !memcmp(h->magic, JMAGIC, sizeof(h->magic)) && h->sum == jhdr_sum(h) &&
	       (h->state == JSTATE_IDLE || h->state == JSTATE_ACTIVE) && h->used <= JCAP &&
	       h->nentries <= JCAP / sizeof(struct jent) &&
	       memchr(h->intent.op, 0, sizeof(h->intent.op)) &&
	       memchr(h->intent.patch, 0, sizeof(h->intent.patch)) &&
	       memchr(h->intent.host, 0, sizeof(h->intent.host));
}

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* The current header: the valid copy with the higher seq. *torn: a copy
 * is neither valid nor blank. */
static struct gp_error *read_current(struct tgt *t, struct jhdr *cur, bool *found, bool *torn)
{
	struct jhdr c[2];
	bool ok[2];
	struct gp_error *err;

	*found = *torn = false;
	for (int i = 0; i < 2; i++) {
		if ((err = tgt_read_phys(t, LP_JOURNAL_PA + JHDR_OFF(i), &c[i], sizeof(c[i]))))
			return gp_error_wrap(err, "reading guestpatch's journal");
		ok[i] = jhdr_valid(&c[i]);
		*torn |= !ok[i] && !all_zero(&c[i], sizeof(c[i]));
	}
	if (!ok[0] && !ok[1])
		return NULL;
	*found = true;
	*cur = (ok[0] && (!ok[1] || c[0].seq > c[1].seq)) ? c[0] : c[1];
	return NULL;
}

bool lp_journal_present(struct tgt *t)
{
	char m[3][8];

	/* Our magic at the start of a header copy or the owner record: a
	 * write of ours, whole or torn (a torn write lands its start). */
	if (!gp_ok(tgt_read_phys(t, LP_JOURNAL_PA + JHDR_OFF(0), m[0], 8)) ||
	    !gp_ok(tgt_read_phys(t, LP_JOURNAL_PA + JHDR_OFF(1), m[1], 8)) ||
	    !gp_ok(tgt_read_phys(t, LP_JOURNAL_PA + JOWNER_OFF, m[2], 8)))
		return false;
	for (int i = 0; i < 2; i++)
		if (!memcmp(m[i], JMAGIC, 8) || !memcmp(m[i], JMAGIC_V1, 8))
			return true;
	return !memcmp(m[2], JOWNER_MAGIC, 8);
}

static struct gp_error *write_hdr(struct tgt *t, struct jhdr *h)
{
	h->sum = jhdr_sum(h);
	return tgt_write_phys(t, LP_JOURNAL_PA + JHDR_OFF(h->seq % 2), h, sizeof(*h));
}

static bool owner_valid(const struct jowner *o)
{
	struct jowner c = *o;

	c.sum = 0;
	return !memcmp(o->magic, JOWNER_MAGIC, sizeof(o->magic)) &&
	       o->sum == gp_fnv1a(GP_FNV_OFFSET, &c, sizeof(c)) &&
	       memchr(o->who.op, 0, sizeof(o->who.op)) && memchr(o->who.host, 0, sizeof(o->who.host)) &&
	       memchr(o->who.patch, 0, sizeof(o->who.patch));
}

/* A live owner elsewhere: busy.  A dead one on this host: stale, taken
 * over.  Then (write) the record says it is us: written after the
 * journal header, so that the journal pages hold a journal of ours first. */
static struct gp_error *claim(struct tgt *t, bool write)
{
	struct jowner o;
	char host[64] = "";
	struct gp_error *err;

	if (tx.owned == t)
		return NULL;
	if ((err = tgt_read_phys(t, LP_JOURNAL_PA + JOWNER_OFF, &o, sizeof(o))))
		return err;
	gethostname(host, sizeof(host) - 1);
	/* An owner of an earlier boot is stale whatever its pid: that vmm
	 * changed a kernel that is gone (lp_journal_recover reports it). */
	if (owner_valid(&o) && o.who.pid != tx.intent.pid && !lp_boot_earlier(t, o.who.boot_id)) {
		bool here = !strcmp(o.who.host, host);
		bool alive = !here || kill(o.who.pid, 0) == 0 || errno != ESRCH;

		if (alive) {
			char when[32] = "?";
			time_t st = (time_t)o.who.start_unix;

			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime(&st));
			return gp_error_create(GP_ERR_BUSY,
					       "busy: the guest is being changed by pid %d on %s since %s (`%s%s%s`)%s",
					       o.who.pid, o.who.host, when, o.who.op,
					       o.who.patch[0] ? " " : "", o.who.patch,
					       here ? "" : "; if that vmm is gone, `vmm recover TARGET` clears it");
		}
	}
	if (!write)
		return NULL;
	memset(&o, 0, sizeof(o));
	memcpy(o.magic, JOWNER_MAGIC, sizeof(o.magic));
	o.who = tx.intent;
	o.who.boot_id = t->boot_id;
	o.sum = gp_fnv1a(GP_FNV_OFFSET, &o, sizeof(o));
	if ((err = tgt_write_phys(t, LP_JOURNAL_PA + JOWNER_OFF, &o, sizeof(o))))
		return err;
	tx.owned = t;
	return NULL;
}

struct gp_error *lp_owner_release(struct tgt *t, bool anyone)
{
	static const struct jowner zero;
	struct jowner o;
	struct gp_error *err;

	if (!anyone && tx.owned != t)
		return NULL;
	if ((err = tgt_read_phys(t, LP_JOURNAL_PA + JOWNER_OFF, &o, sizeof(o))))
		return err;
	tx.owned = NULL;
	if (!anyone && (!owner_valid(&o) || o.who.pid != tx.intent.pid))
		return NULL;	/* someone else's by now: not ours to clear */
	if (!memcmp(&o, &zero, sizeof(o)))
		return NULL;
	return tgt_write_phys(t, LP_JOURNAL_PA + JOWNER_OFF, &zero, sizeof(zero));
}

static struct gp_error *begin(struct tgt *t)
{
	struct jhdr cur;
	bool found, torn;
	struct gp_error *err;

	if (tx.active && tx.t != t)
		return gp_error_create(GP_ERR_BUSY, "a journal transaction is open on another target");
	if (tx.active)
		return NULL;
	if ((err = read_current(t, &cur, &found, &torn)))
		return err;
	if (found && cur.state == JSTATE_ACTIVE && cur.nentries)
		return gp_error_addr(GP_ERR_BUSY, LP_JOURNAL_PA,
				     "guestpatch's journal holds an unfinished `%s` by pid %d on %s: run `vmm recover TARGET`",
				     cur.intent.op, cur.intent.pid, cur.intent.host);
	if (!tx.intent.pid)
		lp_journal_intent("?", NULL);
	if ((err = claim(t, false)))
		return err;
	memset(&tx.h, 0, sizeof(tx.h));
	memcpy(tx.h.magic, JMAGIC, sizeof(tx.h.magic));
	tx.h.seq = found ? cur.seq + 1 : 1;
	tx.h.state = JSTATE_ACTIVE;
	tx.h.entries_sum = GP_FNV_OFFSET;
	tx.h.intent = tx.intent;
	tx.h.intent.boot_id = t->boot_id;
	tx.t = t;
	tx.ncover = 0;
	tx.watch_val = 0;
	if (tx.watch_pa && (err = tgt_read_phys(t, tx.watch_pa, &tx.watch_val, 8)))
		return err;
	tx.h.watch_pa = tx.watch_pa;
	tx.h.watch_val = tx.watch_val;
	if ((err = write_hdr(t, &tx.h)) || (err = claim(t, true)))
		return err;
	tx.active = true;
	return NULL;
}

static bool covered(uint64_t pa, uint64_t end)
{
	for (int i = 0; i < tx.ncover; i++)
		if (tx.cover[i].pa <= pa && end <= tx.cover[i].end)
			return true;
	return false;
}

/* Journal the old bytes of [pa, pa+len) (len <= JENT_MAX_LEN). */
static struct gp_error *journal(struct tgt *t, uint64_t pa, const uint8_t *old, uint32_t len,
				bool code)
{
	uint8_t buf[sizeof(struct jent) + JENT_MAX_LEN];
	struct jent e = { .pa = pa, .len = len, .flags = code ? JF_CODE : 0 };
	size_t n = sizeof(e);
	struct gp_error *err;

	if (tx.active && covered(pa, pa + len))
		return NULL;
	if ((err = begin(t)))
		return err;
	if (all_zero(old, len))
		e.flags |= JF_OLD_ZERO;
	else
		memcpy(buf + n, old, len), n += len;
	memcpy(buf, &e, sizeof(e));
	while (n % 8)
		buf[n++] = 0;
	if (tx.h.used + n > JCAP)
		return gp_error_create(GP_ERR_LIMIT,
				       "the change is too large for guestpatch's journal (%zu bytes of undo data in one pause; the journal holds %zu)",
				       (size_t)(tx.h.used + n), JCAP);
	if ((err = tgt_write_phys(t, LP_JOURNAL_PA + JENT_OFF + tx.h.used, buf, n)))
		return err;
	tx.h.used += n;
	tx.h.nentries++;
	tx.h.entries_sum = gp_fnv1a(tx.h.entries_sum, buf, n);
	tx.h.seq++;
	if ((err = write_hdr(t, &tx.h)))
		return err;
	if (tx.ncover < COVER_MAX) {
		tx.cover[tx.ncover].pa = pa;
		tx.cover[tx.ncover].end = pa + len;
		tx.ncover++;
	}
	return NULL;
}

struct gp_error *lp_jwrite(struct tgt *t, uint64_t pa, const void *buf, size_t len, bool code)
{
	const uint8_t *nb = buf;
	uint8_t old[JENT_MAX_LEN];
	struct gp_error *err;

	if (!t->paused)
		return gp_error_create(GP_ERR_INVAL, "guest write while the guest runs (a bug)");
	if ((err = tgt_pause_check(t)))
		return err;
	while (len) {
		size_t chunk = JENT_MAX_LEN - (size_t)(pa % JENT_MAX_LEN);

		if (chunk > len)
			chunk = len;
		if ((err = tgt_read_phys(t, pa, old, chunk)))
			return err;
		/* Runs of bytes that change, close runs merged. */
		for (size_t i = 0; i < chunk;) {
			size_t s, e;

			if (old[i] == nb[i]) {
				i++;
				continue;
			}
			s = i;
			e = i + 1;
			for (size_t j = e; j < chunk && j < e + JMERGE_GAP; j++)
				if (old[j] != nb[j])
					e = j + 1;
			if ((err = journal(t, pa + s, old + s, (uint32_t)(e - s), code)))
				return err;
			err = code ? tgt_write_code(t, pa + s, nb + s, e - s) :
				     tgt_write_phys(t, pa + s, nb + s, e - s);
			if (err)
				return err;
			i = e;
		}
		pa += chunk;
		nb += chunk;
		len -= chunk;
	}
	return NULL;
}

/* The journal back to idle: after a roll-back, or in place of one for
 * what an earlier boot left (its entries are dropped unapplied). */
static struct gp_error *set_idle(struct tgt *t, struct jhdr *h)
{
	h->seq++;
	h->state = JSTATE_IDLE;
	h->nentries = 0;
	h->used = 0;
	h->entries_sum = GP_FNV_OFFSET;
	return write_hdr(t, h);
}

/* Roll back the entries the header h covers, newest first, and leave the
 * journal idle. */
static struct gp_error *roll_back(struct tgt *t, struct jhdr *h)
{
	static const uint8_t zero[JENT_MAX_LEN];
	uint8_t *ents = NULL;
	uint64_t *off = NULL;
	struct gp_error *err = NULL;
	uint64_t at = 0;

	if (h->used) {
		ents = malloc(h->used);
		off = calloc(h->nentries ? h->nentries : 1, sizeof(*off));
		if (!ents || !off) {
			err = &gp_error_nomem;
			goto out;
		}
		if ((err = tgt_read_phys(t, LP_JOURNAL_PA + JENT_OFF, ents, h->used)))
			goto out;
		if (gp_fnv1a(GP_FNV_OFFSET, ents, h->used) != h->entries_sum) {
			err = gp_error_addr(GP_ERR_CORRUPT, LP_JOURNAL_PA,
					    "guestpatch's journal entries do not match their checksum: cannot roll back `%s` (pid %d on %s)",
					    h->intent.op, h->intent.pid, h->intent.host);
			goto out;
		}
	}
	/* Index the entries, checking each before any is applied. */
	for (uint32_t i = 0; i < h->nentries; i++) {
		struct jent e;
		uint64_t n;

		if (at + sizeof(e) > h->used) {
			err = gp_error_addr(GP_ERR_CORRUPT, LP_JOURNAL_PA,
					    "journal entry %u lies past the journal's end", i);
			goto out;
		}
		memcpy(&e, ents + at, sizeof(e));
		n = sizeof(e) + ((e.flags & JF_OLD_ZERO) ? 0 : e.len);
		n = (n + 7) & ~7ull;
		if (!e.len || e.len > JENT_MAX_LEN || (e.flags & ~JF_KNOWN) || at + n > h->used ||
		    (t->ram_top && (e.pa >= t->ram_top || e.len > t->ram_top - e.pa))) {
			err = gp_error_addr(GP_ERR_CORRUPT, LP_JOURNAL_PA + JENT_OFF + at,
					    "journal entry %u (0x%llx, %u bytes) is corrupt", i,
					    (unsigned long long)e.pa, e.len);
			goto out;
		}
		off[i] = at;
		at += n;
	}
	for (uint32_t i = h->nentries; i-- > 0;) {
		struct jent e;
		const uint8_t *old;

		memcpy(&e, ents + off[i], sizeof(e));
		old = (e.flags & JF_OLD_ZERO) ? zero : ents + off[i] + sizeof(e);
		err = (e.flags & JF_CODE) ? tgt_write_code(t, e.pa, old, e.len) :
					    tgt_write_phys(t, e.pa, old, e.len);
		if (err) {
			err = gp_error_wrap(err, "rolling back journal entry %u", i);
			goto out;
		}
	}
	err = set_idle(t, h);
out:
	free(ents);
	free(off);
	return err;
}

struct gp_error *lp_journal_recover(struct tgt *t, struct lp_jrecovery *out)
{
	struct jhdr cur;
	struct jowner o;
	bool found;
	struct gp_error *err;

	memset(out, 0, sizeof(*out));
	if ((err = tgt_read_phys(t, LP_JOURNAL_PA + JOWNER_OFF, &o, sizeof(o))))
		return gp_error_wrap(err, "reading guestpatch's owner record");
	if (owner_valid(&o) && lp_boot_earlier(t, o.who.boot_id)) {
		out->owner_earlier_boot = true;
		out->owner = o.who;
	}
	if ((err = read_current(t, &cur, &found, &out->torn)) || !found)
		return err;
	if (cur.state != JSTATE_ACTIVE)
		return NULL;
	out->found = true;
	out->entries = cur.nentries;
	out->intent = cur.intent;
	if (lp_boot_earlier(t, cur.intent.boot_id)) {
		/* Never rolled back, whatever the jiffies say: the guest's
		 * jiffies restarted with the boot. */
		out->earlier_boot = true;
		err = set_idle(t, &cur);
		if (tx.t == t)
			tx.active = false;
		return err;
	}
	if (cur.watch_pa && !(tx.active && tx.t == t)) {
		uint64_t now = 0;

		if ((err = tgt_read_phys(t, cur.watch_pa, &now, 8)))
			return gp_error_wrap(err, "reading the guest's jiffies");
		out->guest_ran = now != cur.watch_val;
		if (out->guest_ran && !force_rollback)
			return gp_error_addr(GP_ERR_BUSY, LP_JOURNAL_PA,
					     "the journal holds an unfinished `%s%s%s` by pid %d on %s, and the guest has run since (jiffies %llu, now %llu): someone resumed it before recovery. Rolling back now could undo what the guest did meanwhile; check `vmm list`, then `vmm recover --force TARGET` rolls it back anyway",
					     cur.intent.op, cur.intent.patch[0] ? " " : "",
					     cur.intent.patch, cur.intent.pid, cur.intent.host,
					     (unsigned long long)cur.watch_val,
					     (unsigned long long)now);
	}
	err = roll_back(t, &cur);
	if (tx.t == t)
		tx.active = false;
	return err;
}

struct gp_error *lp_txn_end(struct tgt *t, struct gp_error *err)
{
	struct gp_error *e2;

	if (!lp_txn_active(t))
		return err;
	if (!err && tx.watch_pa) {
		uint64_t now = 0;

		if (!(err = tgt_read_phys(t, tx.watch_pa, &now, 8)) && now != tx.watch_val)
			err = gp_error_create(GP_ERR_BUSY,
					      "the guest ran while guestpatch held it paused (jiffies moved from %llu to %llu): another client resumed it? The writes of this pause are undone",
					      (unsigned long long)tx.watch_val,
					      (unsigned long long)now);
	}
	if (!err) {
		tx.h.seq++;
		tx.h.state = JSTATE_IDLE;
		tx.h.nentries = 0;
		tx.h.used = 0;
		tx.h.entries_sum = GP_FNV_OFFSET;
		if (!(err = write_hdr(t, &tx.h))) {
			tx.active = false;
			return NULL;
		}
	}
	/* Roll back from what is in the guest: the same path a later
	 * process takes. */
	{
		struct lp_jrecovery rec;

		e2 = lp_journal_recover(t, &rec);
	}
	tx.active = false;
	if (e2) {
		struct gp_error *w = gp_error_wrap(e2, "%s; and rolling back the writes made so far failed",
						   err->msg ? err->msg : "error");

		gp_error_destroy(err);
		return w;
	}
	return err;
}
