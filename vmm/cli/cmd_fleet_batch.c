// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cmd_fleet_batch.c - the fleet run, batch by batch: the pool of each batch
 * (cmd_fleet_run.c), then its health check and the failure threshold; a
 * halt rolls back per policy; between rings, the soak and a health check of
 * the whole ring before.  The state is saved after every decision, so
 * `vmm fleet resume` starts at the first batch not finished.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cmd_fleet.h"

/* Health-check the done guests among sel that this run changed; returns
 * how many the check found unhealthy. */
static size_t check(struct fr *fr, const size_t *sel, size_t n)
{
	size_t *c = calloc(n ? n : 1, sizeof(size_t)), nc = 0, bad = 0;

	if (!c)
		return 0;
	for (size_t k = 0; k < n; k++) {
		struct fleet_gstate *g = &fr->st.g[sel[k]];

		if (g->phase == FLEET_DONE &&
		    (g->result == FLEET_R_APPLIED || g->result == FLEET_R_PENDING))
			c[nc++] = sel[k];
	}
	if (fr->st.policy.health && nc)
		fr_pool(fr, c, nc, JM_CHECK);
	for (size_t k = 0; k < nc; k++)
		bad += fr->st.g[c[k]].result == FLEET_R_UNHEALTHY;
	free(c);
	return bad;
}

static size_t failures(struct fr *fr, const size_t *sel, size_t n)
{
	size_t f = 0;

	for (size_t k = 0; k < n; k++)
		f += fr->st.g[sel[k]].phase == FLEET_DONE && fleet_result_failed(fr->st.g[sel[k]].result);
	return f;
}

/* Roll back per policy after a halt in batch b (sel: its guests). */
static void rollback(struct fr *fr, const size_t *sel, size_t n)
{
	size_t *r = calloc(fr->st.n ? fr->st.n : 1, sizeof(size_t)), nr = 0;

	if (!r)
		return;
	switch (fr->st.policy.rollback) {
	case FLEET_RB_NONE:
		break;
	case FLEET_RB_FAILED:
		for (size_t k = 0; k < n; k++)
			if (fleet_result_failed(fr->st.g[sel[k]].result))
				r[nr++] = sel[k];
		break;
	case FLEET_RB_BATCH:
		for (size_t k = 0; k < n; k++)
			r[nr++] = sel[k];
		break;
	case FLEET_RB_ALL:
		for (size_t i = 0; i < fr->st.n; i++)
			if (fr->st.g[i].phase == FLEET_DONE)
				r[nr++] = i;
		break;
	}
	/* Only guests where this run left something (or a transition). */
	for (size_t k = 0; k < nr;) {
		struct fleet_gstate *g = &fr->st.g[r[k]];

		if (g->phase == FLEET_DONE && (g->napplied || g->result == FLEET_R_PENDING))
			k++;
		else
			r[k] = r[--nr];
	}
	if (nr) {
		if (fr->mode == FR_RUN && !fr->tty)
			fprintf(fr->out, "rolling back %zu guest%s (--rollback %s)\n", nr, nr == 1 ? "" : "s",
				fleet_rollback_name(fr->st.policy.rollback));
		fr_pool(fr, r, nr, JM_ROLLBACK);
	}
	fr->st.rolled_back = true;
	free(r);
}

static double soak_of(struct fr *fr, int ring)
{
	return fr->st.policy.soak_s >= 0 ? fr->st.policy.soak_s : fr->inv.rings[ring].soak_s;
}

/* Sleep s seconds, or until interrupted. */
static void soak(struct fr *fr, int ring, double s)
{
	double end = fr_now() + s;

	if (s <= 0)
		return;
	if (!fr->tty)
		fprintf(fr->out, "ring %s done: soaking %g s\n", fr->inv.rings[ring].name, s);
	while (fr_now() < end && !tgt_interrupted()) {
		usleep(100 * 1000);
		fr_draw(fr, false);
	}
}

/* The failures of sel[0..n) (a batch, or a ring after its soak) exceed
 * max_fail: halt with the reason given, the threshold appended, and roll
 * back per policy; the state saved before and after.  Returns 2. */
static int halt(struct fr *fr, const size_t *sel, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int halt(struct fr *fr, const size_t *sel, size_t n, const char *fmt, ...)
{
	char *r = fr->st.halt_reason;
	size_t len;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r, sizeof(fr->st.halt_reason), fmt, ap);
	va_end(ap);
	len = strlen(r);
	snprintf(r + len, sizeof(fr->st.halt_reason) - len, " (max_fail %d%s)", fr->st.policy.max_fail,
		 fr->st.policy.max_fail_pct ? "%" : "");
	fr->st.phase = FLEET_RUN_HALTED;
	fr_save(fr);
	rollback(fr, sel, n);
	fr_save(fr);
	return 2;
}

/* Before batch b (b == nbatches: after the last one), the ring of batch
 * b - 1 soaks, then is checked whole; only what the soak revealed counts
 * (each batch's own failures were judged with the batch).  0, 2 halted
 * (rolled back per policy), -1 interrupted. */
static int ring_soak(struct fr *fr, size_t b, size_t *sel)
{
	int pr = fr->plan.batches[b - 1].ring;
	size_t n = 0, nf;

	for (size_t k = 0; k < fr->plan.n; k++)
		if (fr->inv.guests[fr->st.g[k].guest].ring == pr)
			sel[n++] = k;
	soak(fr, pr, soak_of(fr, pr));
	if (tgt_interrupted())
		return -1;
	for (size_t k = 0; k < n; k++)
		fr->st.g[sel[k]].health_checked = false;
	nf = check(fr, sel, n);
	fr->st.rings_soaked = (int)b;
	if (fleet_fail_exceeds(&fr->st.policy, nf, n))
		return halt(fr, sel, n, "ring %s: %zu of %zu guests unhealthy after the soak",
			    fr->inv.rings[pr].name, nf, n);
	fr_save(fr);
	return 0;
}

int fr_run(struct fr *fr)
{
	size_t *sel = calloc(fr->st.n ? fr->st.n : 1, sizeof(size_t));
	int ret = 0;

	if (!sel)
		return 1;
	fr->st.phase = FLEET_RUN_RUNNING;
	fr->st.halt_reason[0] = '\0';
	fr_save(fr);
	for (size_t b = (size_t)fr->st.next_batch; b < fr->plan.nbatches; b++) {
		const struct fleet_batch *B = &fr->plan.batches[b];
		size_t n = 0, nf;

		fr->cur_batch = (int)b;
		/* A new ring: the previous one soaks, then is checked whole. */
		if (b > 0 && fr->plan.batches[b - 1].ring != B->ring && fr->st.rings_soaked < (int)b) {
			int r = ring_soak(fr, b, sel);

			if (r < 0)
				break;
			if (r) {
				ret = r;
				break;
			}
		}
		n = 0;
		for (size_t k = B->first; k < B->first + B->n; k++)
			sel[n++] = k;
		{
			/* pending, and those an interrupted run left running */
			size_t *todo = calloc(n ? n : 1, sizeof(size_t)), nt = 0;

			if (!todo) {
				ret = 1;
				break;
			}
			for (size_t k = 0; k < n; k++)
				if (fr->st.g[sel[k]].phase != FLEET_DONE)
					todo[nt++] = sel[k];
			if (!fr->tty)
				fprintf(fr->out, "ring %s, batch %d: %zu guest%s\n", fr->inv.rings[B->ring].name,
					B->index + 1, n, n == 1 ? "" : "s");
			fr_pool(fr, todo, nt, JM_APPLY);
			free(todo);
		}
		if (tgt_interrupted())
			break;
		/* The health check after the batch (a resumed batch: those not yet checked). */
		{
			size_t *c = calloc(n ? n : 1, sizeof(size_t)), nc = 0;

			for (size_t k = 0; c && k < n; k++)
				if (!fr->st.g[sel[k]].health_checked)
					c[nc++] = sel[k];
			if (c)
				check(fr, c, nc);
			free(c);
		}
		nf = failures(fr, sel, n);
		fr->st.next_batch = (int)b + 1;
		if (fleet_fail_exceeds(&fr->st.policy, nf, n)) {
			ret = halt(fr, sel, n, "ring %s, batch %d: %zu of %zu guests failed",
				   fr->inv.rings[B->ring].name, B->index + 1, nf, n);
			break;
		}
		fr_save(fr);
	}
	/* The last ring soaks and is checked whole too, like the others. */
	if (!ret && !tgt_interrupted() && fr->plan.nbatches &&
	    fr->st.next_batch == (int)fr->plan.nbatches &&
	    fr->st.rings_soaked < (int)fr->plan.nbatches) {
		int r = ring_soak(fr, fr->plan.nbatches, sel);

		if (r > 0)
			ret = r;
	}
	fr_draw(fr, true);
	if (fr->tty)
		fputc('\n', stderr);
	if (!ret && tgt_interrupted()) {
		snprintf(fr->st.halt_reason, sizeof(fr->st.halt_reason),
			 "interrupted by a signal: `vmm fleet resume` continues");
		fr->st.phase = FLEET_RUN_HALTED;
		fr_save(fr);
		ret = 1;
	} else if (!ret) {
		fr->st.phase = FLEET_RUN_DONE;
		fr_save(fr);
		for (size_t i = 0; i < fr->st.n; i++)
			if (fleet_result_failed(fr->st.g[i].result))
				ret = 1;
	}
	free(sel);
	return ret;
}
