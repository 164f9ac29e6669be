/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lp_patch.h - apply, remove and list patches (stop-the-world model).
 *
 * Every write to the guest happens inside one pause, after the safety
 * check passed in that same pause; a refused or timed-out operation writes
 * nothing, so guest memory stays byte-for-byte as it was.
 */
#ifndef GP_LP_PATCH_H
#define GP_LP_PATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "gp_error.h"
#include "kernel.h"
#include "lp_check.h"
#include "lp_region.h"

struct lp_opts {
	double timeout_s;	/* give up after this long (default 10 s) */
	bool force;		/* unpatch: allowed even if forced */
};

struct lp_report {
	char name[64];
	int attempts;
	double elapsed_ms;	/* wall time of the whole operation */
	/* The successful (or last) attempt's pause and its parts. */
	uint64_t pause_ns, stop_ns, resume_ns, check_ns, write_ns;
	uint64_t pause_ns_total;	/* all attempts */
	struct lp_check_result check;	/* the last check */
	int nr_funcs;
};

struct gp_error *lp_apply(struct kern *k, const char *obj_path,
			  const struct lp_opts *o, struct lp_report *rep);
struct gp_error *lp_remove(struct kern *k, const char *name,
			   const struct lp_opts *o, struct lp_report *rep);
/* Read the region records (pauses briefly). */
struct gp_error *lp_list(struct kern *k, struct lp_region *r);

#endif
