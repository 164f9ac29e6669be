// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_journal: the undo journal a guest holds (patch/lp_journal.c). The
 * input is a byte of FZ_JOURNAL_* flags and the journal pages as found at
 * LP_JOURNAL_PA in a 1 MiB guest; recovery runs on them (twice: the
 * second finds what the first left), then a transaction of one write is
 * opened on top and committed or rolled back. With FZ_JOURNAL_FIX_SUMS
 * the harness makes both header copies' checksums right first, so that
 * mutations reach past them.  The guest is in the boot header copy 0
 * names, or (FZ_JOURNAL_OTHER_BOOT) another: what an earlier boot left.
 */
#include "gp_hash.h"
#include "fuzz.h"
#include "lp_journal.h"
#include "lp_region.h"

#define MEM (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The header's layout, as lp_journal.c's comment gives it (struct jhdr). */
struct jhdr {
	char magic[8];
	uint64_t seq;
	uint32_t state;
	uint32_t nentries;
	uint64_t used;
	uint64_t entries_sum;
	struct lp_jintent intent;
	uint64_t watch_pa;
	uint64_t watch_val;
	uint64_t sum;
};
#define JENT_OFF 4096u
#define JCAP ((size_t)LP_JOURNAL_PAGES * 4096 - JENT_OFF)


static void fix_sums(uint8_t *j)
{
	for (int i = 0; i < 2; i++) {
		struct jhdr h;

		memcpy(&h, j + 512 * i, sizeof(h));
		if (h.used <= JCAP)
			h.entries_sum = gp_fnv1a(GP_FNV_OFFSET, j + JENT_OFF, h.used);
		h.sum = 0;
		h.sum = gp_fnv1a(GP_FNV_OFFSET, &h, sizeof(h));
		memcpy(j + 512 * i, &h, sizeof(h));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *mem;
	static struct tgt *t;
	struct fz_in in = { data, size };
	struct lp_jrecovery rec;
	uint8_t flags;

	if (!mem && (!(mem = calloc(1, MEM)) || tgt_buffer_new(mem, MEM, NULL, 0, &t)))
		abort();
	memset(mem, 0, MEM);
	fz_take(&in, &flags, 1);
	fz_take(&in, mem + LP_JOURNAL_PA, LP_JOURNAL_PAGES * 4096);
	if (flags & FZ_JOURNAL_FIX_SUMS)
		fix_sums(mem + LP_JOURNAL_PA);
	{
		struct jhdr h0;

		memcpy(&h0, mem + LP_JOURNAL_PA, sizeof(h0));
		tgt_set_boot_id(t, (flags & FZ_JOURNAL_OTHER_BOOT) ? ~h0.intent.boot_id :
								       h0.intent.boot_id);
	}
	lp_journal_force(flags & FZ_JOURNAL_FORCE);
	lp_journal_present(t);
	gp_error_destroy(lp_journal_recover(t, &rec));
	gp_error_destroy(lp_journal_recover(t, &rec));
	/* A transaction on top of what recovery left. */
	if (gp_ok(lp_jwrite(t, 0x1000, "fuzz", 4, false)))
		gp_error_destroy(lp_txn_end(t, (flags & 4) ? gp_error_create(GP_ERR_INVAL, "undo") :
							     NULL));
	else
		gp_error_destroy(lp_txn_end(t, NULL));
	return 0;
}
