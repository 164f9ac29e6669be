// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The undo journal (patch/lp_journal.c) over a buffer target: commit,
 * roll back, and - the point of it - a process killed with SIGKILL after
 * every single guest write of a transaction, whole or torn in half: each
 * time, recovery by another process brings memory back byte for byte.
 * The "guest" is a MAP_SHARED buffer, so it outlives the killed child as
 * a real guest outlives the tool.  And what an earlier boot of the guest
 * left (a reboot that did not clear RAM): its unfinished transaction is
 * discarded, never rolled back, and its owner record is stale.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gp_check.h"
#include "lp_journal.h"
#include "lp_region.h"
#include "target.h"

#define MEM (1u << 20)
#define A 0x10000u		/* some "kernel text" */
#define B 0x20000u		/* some "kernel data" */
#define JIFFIES 0x30000u
#define EARLIER_BOOT 0x6561726c69657221ull
#define THIS_BOOT 0x74686973626f6f74ull

static uint8_t *mem, *orig;
static struct tgt *t;

static void setup(void)
{
	mem = mmap(NULL, MEM, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert(mem != MAP_FAILED);
	orig = malloc(MEM);
	for (unsigned i = 0; i < 0x30000; i++)
		mem[i] = (uint8_t)(i * 7 + 3);
	memset(mem + 0x30000, 0, MEM - 0x30000);
	memcpy(orig, mem, MEM);
	ck_ok(tgt_buffer_new(mem, MEM, NULL, 0, &t));
	ck_ok(tgt_pause(t));
	lp_journal_intent("test", "p1");
}

static void teardown(void)
{
	tgt_fault_set(-1, false);
	tgt_close(t);
	munmap(mem, MEM);
	free(orig);
}

/* A transaction like a patch's: code at two places, data, a page of
 * zeroes turned into code, a second write over bytes already written. */
static struct gp_error *transaction(void)
{
	static uint8_t page[4096];
	uint8_t jmp[5] = { 1, 2, 3, 4, 5 }, word[8] = { 9, 9, 9, 9, 9, 9, 9, 9 };
	struct gp_error *err;

	memset(page, 0x5a, sizeof(page));
	if ((err = lp_jwrite(t, A + 0x100, jmp, sizeof(jmp), true)) ||
	    (err = lp_jwrite(t, A + 0x900, jmp, sizeof(jmp), true)) ||
	    (err = lp_jwrite(t, B + 8, word, sizeof(word), false)) ||
	    (err = lp_jwrite(t, 0x40000 + 6 * 4096, page, sizeof(page), true)))
		return err;
	word[0] = 7;
	return lp_jwrite(t, B + 8, word, sizeof(word), false);
}

START_TEST(commit_keeps_writes)
{
	struct lp_jrecovery rec;

	ck_ok(transaction());
	ck_ok(lp_txn_end(t, NULL));
	ck_assert_int_eq(mem[A + 0x100], 1);
	ck_assert_int_eq(mem[B + 8], 7);
	ck_ok(lp_journal_recover(t, &rec));
	ck_assert(!rec.found);
	ck_assert_int_eq(mem[B + 8], 7);
}
END_TEST

START_TEST(error_rolls_back)
{
	ck_ok(transaction());
	ck_err(lp_txn_end(t, gp_error_create(GP_ERR_BUSY, "blocked")), GP_ERR_BUSY, "blocked");
	/* Byte for byte as before, outside the journal pages. */
	ck_assert(!memcmp(mem, orig, LP_JOURNAL_PA));
	ck_assert(!memcmp(mem + LP_REGION_PA + LP_REGION_SIZE, orig + LP_REGION_PA + LP_REGION_SIZE,
			  MEM - LP_REGION_PA - LP_REGION_SIZE));
}
END_TEST

START_TEST(unchanged_bytes_not_written)
{
	uint64_t before = t->stats.writes;

	ck_ok(lp_jwrite(t, A, orig + A, 64, false));
	ck_assert_uint_eq(t->stats.writes, before);	/* nothing differs: no write at all */
	ck_ok(lp_txn_end(t, NULL));
}
END_TEST

START_TEST(journal_full_refused)
{
	static uint8_t big[64 * 4096];

	memset(big, 0x11, sizeof(big));
	/* Old bytes are non-zero here, so every byte needs undo data. */
	ck_ok(lp_jwrite(t, 0, big, 8 * 4096, false));
	ck_err(lp_jwrite(t, 0x8000, big, sizeof(big) - 0x8000, false), GP_ERR_LIMIT, "journal");
	ck_ok(lp_txn_end(t, NULL) ? NULL : NULL);
}
END_TEST

/* Run the transaction in a child killed after its nth write; 1: it got
 * there, 0: it finished first. */
static int killed_at(long n, bool torn)
{
	pid_t pid = fork();
	int st;

	ck_assert(pid >= 0);
	if (pid == 0) {
		tgt_fault_set(n, torn);
		if (transaction() || lp_txn_end(t, NULL))
			_exit(2);
		_exit(0);
	}
	ck_assert(waitpid(pid, &st, 0) == pid);
	if (WIFEXITED(st)) {
		ck_assert_int_eq(WEXITSTATUS(st), 0);
		return 0;
	}
	ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	return 1;
}

START_TEST(kill_at_every_write)
{
	static uint8_t fin[MEM];
	int points = 0, before = 0, after = 0;

	/* The committed image, from a run nobody kills. */
	ck_assert_int_eq(killed_at(-1, false), 0);
	memcpy(fin, mem, MEM);
	memcpy(mem, orig, LP_JOURNAL_PA);

	for (int torn = 0; torn < 2; torn++) {
		for (long n = 1;; n++) {
			struct lp_jrecovery rec;
			int k = killed_at(n, torn);

			ck_ok(lp_journal_recover(t, &rec));
			if (!k) {
				/* The whole transaction committed: its writes stay. */
				ck_assert_int_eq(mem[B + 8], 7);
				ck_assert(!rec.found);
				memcpy(mem, orig, LP_JOURNAL_PA);
				break;
			}
			points++;
			/* Whatever the kill left in the journal pages is ours
			 * and recognised as such (region set-up accepts it). */
			{
				bool zero = true;

				for (size_t i = 0; i < LP_JOURNAL_PAGES * 4096u && zero; i++)
					zero = !mem[LP_JOURNAL_PA + i];
				ck_assert_msg(zero || lp_journal_present(t),
					      "killed at write %ld: journal pages hold something unrecognised",
					      n);
			}
			/* All or nothing: as before, or (killed after the
			 * commit point) as committed. */
			if (!memcmp(mem, orig, LP_JOURNAL_PA)) {
				before++;
			} else {
				ck_assert_msg(!rec.found && !memcmp(mem, fin, LP_JOURNAL_PA),
					      "killed at write %ld%s: memory is neither as before nor as committed",
					      n, torn ? " (torn)" : "");
				after++;
				memcpy(mem, orig, LP_JOURNAL_PA);
			}
			if (rec.found)
				ck_assert_str_eq(rec.intent.op, "test");
		}
	}
	ck_assert_int_gt(points, 20);
	ck_assert_int_gt(before, 20);
	ck_assert_int_le(after, 2);	/* only a kill after the commit write */
}
END_TEST

/* A journal a hostile guest made up: refused, nothing written. */
START_TEST(hostile_journal_refused)
{
	struct lp_jrecovery rec;

	ck_ok(transaction());
	/* Flip a byte of the entries: the checksum no longer matches. */
	mem[LP_JOURNAL_PA + 4096 + 3] ^= 0x40;
	memcpy(orig, mem, MEM);
	ck_err(lp_journal_recover(t, &rec), GP_ERR_CORRUPT, "checksum");
	ck_assert(!memcmp(mem, orig, MEM));
}
END_TEST

/* The owner record in the guest: a live owner makes another process's
 * first write fail, naming it; a dead one (same host) is taken over. */
START_TEST(owner_lock)
{
	uint8_t v = 0x77;
	int fds[2];
	pid_t pid;
	char c;

	ck_assert(pipe(fds) == 0);
	pid = fork();
	ck_assert(pid >= 0);
	if (pid == 0) {
		lp_journal_intent("patch", "other");
		if (lp_jwrite(t, B, &v, 1, false) || lp_txn_end(t, NULL))
			_exit(2);
		if (write(fds[1], "x", 1) != 1)
			_exit(3);
		pause();	/* alive, owning the guest */
		_exit(0);
	}
	ck_assert(read(fds[0], &c, 1) == 1);
	ck_err(lp_jwrite(t, B + 1, &v, 1, false), GP_ERR_BUSY, "being changed by pid");
	ck_assert_int_eq(mem[B + 1], orig[B + 1]);	/* refused: nothing written */
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	/* Now a dead owner on this host: stale, taken over. */
	ck_ok(lp_jwrite(t, B + 1, &v, 1, false));
	ck_ok(lp_txn_end(t, NULL));
	ck_assert_int_eq(mem[B + 1], 0x77);
	ck_ok(lp_owner_release(t, false));
	close(fds[0]);
	close(fds[1]);
}
END_TEST

/* A child of boot `boot` journals the transaction and is killed before
 * its end: the journal is left active, the owner record names it. */
static void leave_unfinished(uint64_t boot, bool watch)
{
	pid_t pid = fork();
	int st;

	ck_assert(pid >= 0);
	if (pid == 0) {
		tgt_set_boot_id(t, boot);
		lp_journal_intent("patch", "cmdline-marker");
		if (watch)
			lp_journal_watch(JIFFIES);
		if (transaction())
			_exit(2);
		kill(getpid(), SIGKILL);	/* mid-pause, as a vmm killed there */
		_exit(3);
	}
	ck_assert(waitpid(pid, &st, 0) == pid);
	ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

/* The guest rebooted since: nothing of the transaction is live, and the
 * addresses it journaled hold other things in this boot.  Discarded, not
 * rolled back: the bytes it would have written back stay as they are -
 * even though the guest's jiffies moved (they restart with every boot),
 * which for a transaction of this boot means "refuse without --force". */
START_TEST(earlier_boot_discarded_not_rolled_back)
{
	static uint8_t now[MEM];
	struct lp_jrecovery rec;

	leave_unfinished(EARLIER_BOOT, true);
	mem[JIFFIES] ^= 1;	/* a new boot's jiffies */
	/* This boot: other objects where the old bytes were journaled. */
	memset(mem + A, 0x42, 0x1000);
	memset(mem + B, 0x24, 0x40);
	memcpy(now, mem, MEM);
	tgt_set_boot_id(t, THIS_BOOT);
	ck_ok(lp_journal_recover(t, &rec));
	ck_assert(rec.found && rec.earlier_boot);
	ck_assert_uint_eq(rec.intent.boot_id, EARLIER_BOOT);
	ck_assert_str_eq(rec.intent.op, "patch");
	ck_assert_uint_eq(rec.entries, 4);	/* B + 8 is journaled once */
	ck_assert(rec.owner_earlier_boot);	/* the killed child's record */
	/* Not one byte outside the journal pages was written. */
	ck_assert(!memcmp(mem, now, LP_JOURNAL_PA));
	ck_assert(!memcmp(mem + LP_REGION_PA + LP_REGION_SIZE, now + LP_REGION_PA + LP_REGION_SIZE,
			  MEM - LP_REGION_PA - LP_REGION_SIZE));
	/* The journal is idle now: nothing found again, and a transaction of
	 * this boot runs (taking over the stale owner record). */
	ck_ok(lp_journal_recover(t, &rec));
	ck_assert(!rec.found);
	ck_ok(transaction());
	ck_ok(lp_txn_end(t, NULL));
	ck_ok(lp_journal_recover(t, &rec));
	ck_assert(!rec.found && !rec.owner_earlier_boot);
}
END_TEST

/* The same interrupted transaction in this boot is rolled back as ever
 * (and, with the jiffies moved, refused without --force). */
START_TEST(same_boot_rolled_back)
{
	struct lp_jrecovery rec;

	leave_unfinished(THIS_BOOT, true);
	tgt_set_boot_id(t, THIS_BOOT);
	mem[JIFFIES] ^= 1;
	ck_err(lp_journal_recover(t, &rec), GP_ERR_BUSY, "the guest has run since");
	mem[JIFFIES] ^= 1;
	ck_ok(lp_journal_recover(t, &rec));
	ck_assert(rec.found && !rec.earlier_boot && !rec.owner_earlier_boot);
	ck_assert(!memcmp(mem, orig, LP_JOURNAL_PA));
}
END_TEST

/* An owner of an earlier boot is stale even while a process of that pid
 * lives (pids are reused, and that vmm's kernel is gone): taken over. */
START_TEST(earlier_boot_owner_taken_over)
{
	struct lp_jrecovery rec;
	uint8_t v = 0x77;
	int fds[2];
	pid_t pid;
	char c;

	ck_assert(pipe(fds) == 0);
	pid = fork();
	ck_assert(pid >= 0);
	if (pid == 0) {
		tgt_set_boot_id(t, EARLIER_BOOT);
		lp_journal_intent("patch", "other");
		if (lp_jwrite(t, B, &v, 1, false) || lp_txn_end(t, NULL))
			_exit(2);
		if (write(fds[1], "x", 1) != 1)
			_exit(3);
		pause();	/* alive, its owner record in the guest */
		_exit(0);
	}
	ck_assert(read(fds[0], &c, 1) == 1);
	tgt_set_boot_id(t, THIS_BOOT);
	ck_ok(lp_journal_recover(t, &rec));
	ck_assert(!rec.found && rec.owner_earlier_boot);
	ck_assert_int_eq(rec.owner.pid, pid);
	ck_assert_str_eq(rec.owner.patch, "other");
	ck_ok(lp_jwrite(t, B + 1, &v, 1, false));
	ck_ok(lp_txn_end(t, NULL));
	ck_assert_int_eq(mem[B + 1], 0x77);
	ck_ok(lp_journal_recover(t, &rec));
	ck_assert(!rec.owner_earlier_boot);	/* the record is ours now */
	ck_ok(lp_owner_release(t, false));
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(fds[0]);
	close(fds[1]);
}
END_TEST

static TCase *journal_tcase(void)
{
	TCase *tc = tcase_create("journal");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, commit_keeps_writes);
	tcase_add_test(tc, error_rolls_back);
	tcase_add_test(tc, unchanged_bytes_not_written);
	tcase_add_test(tc, journal_full_refused);
	tcase_add_test(tc, kill_at_every_write);
	tcase_add_test(tc, hostile_journal_refused);
	tcase_add_test(tc, owner_lock);
	tcase_add_test(tc, earlier_boot_discarded_not_rolled_back);
	tcase_add_test(tc, same_boot_rolled_back);
	tcase_add_test(tc, earlier_boot_owner_taken_over);
	return tc;
}
GP_TCASE(journal_tcase)
