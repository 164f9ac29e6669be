/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fleet.h - fleet batch patching, the pure logic: the inventory (hosts,
 * guests, rings, a patch catalog keyed by kernel build id, a rollout
 * policy), the plan (rings in order, batches after Ansible's `serial`), the
 * failure threshold, and the run's state with its JSON form.  `vmm fleet`
 * (vmm/cli/cmd_fleet*.c) drives it; the format is in configs/fleet/README.md.
 *
 * Everything here is bounded: an inventory is untrusted input (caps below),
 * and every refusal names the key that is wrong ("guests[3].ring: ...").
 */
#ifndef GP_FLEET_H
#define GP_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gp_error.h"

#define FLEET_FILE_MAX (4u << 20)	/* inventory / state file size */
#define FLEET_MAX_HOSTS 64
#define FLEET_MAX_GUESTS 1024
#define FLEET_MAX_RINGS 16
#define FLEET_MAX_PATCHES 256
#define FLEET_MAX_WANTED 16		/* patches per kernel build */
#define FLEET_MAX_SERIAL 16		/* entries of a serial list */
#define FLEET_MAX_BLOCKING 8
#define FLEET_NAME_MAX 64
#define FLEET_SPEC_MAX 512		/* target specs, URIs, paths */
#define FLEET_ERR_MAX 512

struct fleet_host {
	char name[FLEET_NAME_MAX];
	char uri[FLEET_SPEC_MAX];	/* "" : libvirt's default */
	int max_parallel;		/* 0: no per-host cap */
};

struct fleet_guest {
	char name[FLEET_NAME_MAX];
	int host;			/* index into hosts */
	int ring;			/* index into rings */
	char group[FLEET_NAME_MAX];	/* anti-affinity group, "" none */
	/* The target spec: given, or libvirt:DOMAIN[,uri=URI] from domain. */
	char target[FLEET_SPEC_MAX];
};

struct fleet_ring {
	char name[FLEET_NAME_MAX];
	double soak_s;			/* wait after the ring, before its health check */
};

struct fleet_patch {
	char build_id[41];
	char file[FLEET_SPEC_MAX];
	bool cumulative;
	/* From the object itself (fleet_inv_check_files): its GP_PATCH name
	 * and whether it declares atomic replace. */
	char name[FLEET_NAME_MAX];
	bool obj_replace;
};

enum fleet_stall { FLEET_STALL_WAIT, FLEET_STALL_SIGNAL, FLEET_STALL_REVERT, FLEET_STALL_FORCE };
enum fleet_rollback { FLEET_RB_NONE, FLEET_RB_FAILED, FLEET_RB_BATCH, FLEET_RB_ALL };

struct fleet_serial {
	int n;				/* 0: the whole ring at once */
	int val[FLEET_MAX_SERIAL];
	bool pct[FLEET_MAX_SERIAL];
};

struct fleet_policy {
	char serial_text[128];
	struct fleet_serial serial;
	int max_parallel;		/* overall cap (>= 1) */
	int max_fail;			/* failures tolerated per batch ... */
	bool max_fail_pct;		/* ... or a percentage of the batch */
	enum fleet_stall on_stall;
	double stall_s;			/* each patch/transition step waits this long */
	enum fleet_rollback rollback;
	bool health;
	double soak_s;			/* < 0: each ring's own soak_s */
};

struct fleet_inv {
	struct fleet_host *hosts;
	size_t nhosts;
	struct fleet_guest *guests;
	size_t nguests;
	struct fleet_ring rings[FLEET_MAX_RINGS];
	size_t nrings;
	struct fleet_patch *patches;
	size_t npatches;
	struct fleet_policy policy;
};

/* Parse an inventory (JSON text of len bytes); strict: unknown keys, wrong
 * types, duplicates, dangling references and values beyond the caps are
 * refused naming the key.  Patch files are not opened here. */
struct gp_error *fleet_inv_parse(const char *text, size_t len, struct fleet_inv *inv);
/* Read and parse a file (at most FLEET_FILE_MAX bytes); with text, the
 * file's text too (malloc'd, NUL-terminated: the run's copy of it). */
struct gp_error *fleet_inv_load(const char *path, struct fleet_inv *inv, char **text);
/* Open each catalog file, read the build id and name it records (patch/
 * lp_elf.c), and refuse an entry whose build id disagrees with its file. */
struct gp_error *fleet_inv_check_files(struct fleet_inv *inv);
void fleet_inv_free(struct fleet_inv *inv);
int fleet_inv_host(const struct fleet_inv *inv, const char *name);	/* -1 */
int fleet_inv_guest(const struct fleet_inv *inv, const char *name);	/* -1 */

/* The policy block (a JSON object; NULL: the defaults), by the inventory's
 * rules; the state file's copy of the effective policy is read by it too. */
struct json_object;
struct gp_error *fleet_policy_parse(struct json_object *o, struct fleet_policy *p);
/* Policy values as the flags and the policy block write them. */
struct gp_error *fleet_serial_parse(const char *s, struct fleet_serial *out);
struct gp_error *fleet_max_fail_parse(const char *s, int *n, bool *pct);
struct gp_error *fleet_stall_parse(const char *s, enum fleet_stall *out);
struct gp_error *fleet_rollback_parse(const char *s, enum fleet_rollback *out);
const char *fleet_stall_name(enum fleet_stall s);
const char *fleet_rollback_name(enum fleet_rollback r);

/*
 * Batch sizes of a ring of n guests, as Ansible's `serial`
 * (playbook_executor._get_serialized_batches): the list's values in turn,
 * the last one repeated until the ring is used up; a percentage is of the
 * ring's size, rounded down, at least 1; 0 (or an empty list) takes the
 * whole rest.  Returns the number of batches written to sizes (<= max).
 */
size_t fleet_serial_batches(const struct fleet_serial *s, size_t n, size_t *sizes, size_t max);

/* Whether nfail failures in a batch of size guests exceed the threshold
 * (Ansible: halt when the failed share is greater than max_fail_percentage). */
bool fleet_fail_exceeds(const struct fleet_policy *p, size_t nfail, size_t size);

/* The patches of the catalog for a kernel build id, in catalog order
 * (indices into inv->patches); returns how many. */
size_t fleet_patches_for(const struct fleet_inv *inv, const char *build_id, int *idx, size_t max);
/* Of those wanted (catalog order) and the names applied in the guest: which
 * to apply now.  A cumulative patch replaces every earlier one, so the work
 * starts at the last cumulative patch wanted; one already applied is not
 * applied again.  Returns how many indices went to out. */
size_t fleet_to_apply(const struct fleet_inv *inv, const int *wanted, size_t nwanted,
		      char (*applied)[FLEET_NAME_MAX], size_t napplied, int *out);

/*
 * The plan: rings in inventory order, each ring's guests (of one host, or
 * all) in inventory order cut into batches.  Two guests of one anti-
 * affinity group may share a batch; the runner never runs them at once.
 */
struct fleet_batch {
	int ring;
	int index;		/* within the ring, from 0 */
	size_t first, n;	/* into order[] */
};

struct fleet_plan {
	int *order;		/* guest indices */
	size_t n;
	struct fleet_batch *batches;
	size_t nbatches;
	int *batch_of;		/* per guest index: its batch, -1 not in this run */
};

struct gp_error *fleet_plan_make(const struct fleet_inv *inv, int host, struct fleet_plan *plan);
void fleet_plan_free(struct fleet_plan *plan);

/* The run's state: one record per guest of the plan (fleet_state.c). */
enum fleet_phase { FLEET_PENDING, FLEET_RUNNING, FLEET_DONE };

enum fleet_result {
	FLEET_R_NONE,
	FLEET_R_APPLIED,
	FLEET_R_NOTHING,		/* nothing-to-apply */
	FLEET_R_NO_PATCH,		/* no-patch-for-kernel */
	FLEET_R_PENDING,		/* transition-pending */
	FLEET_R_FAILED,
	FLEET_R_ROLLED_BACK,
	FLEET_R_SKIPPED,
	FLEET_R_UNREACHABLE,
	FLEET_R_UNHEALTHY,
};
const char *fleet_result_name(enum fleet_result r);
/* Whether a result counts against max_fail. */
bool fleet_result_failed(enum fleet_result r);

struct fleet_blocking {
	int pid;
	char comm[32];
	char function[128];
};

struct fleet_gstate {
	int guest;			/* index into the inventory */
	enum fleet_phase phase;
	char step[32];			/* the step running or last run */
	enum fleet_result result;
	char build_id[41];
	char release[80];
	int wanted[FLEET_MAX_WANTED];	/* catalog indices */
	size_t nwanted;
	char applied[FLEET_MAX_WANTED][FLEET_NAME_MAX];	/* by this run */
	size_t napplied;
	char removed[FLEET_MAX_WANTED][FLEET_NAME_MAX];	/* by this run (rollback, replace) */
	size_t nremoved;
	/* In the guest at its first `vmm list` of this run (applied =
	 * present - before, removed = before - present + rolled back). */
	char before[FLEET_MAX_WANTED][FLEET_NAME_MAX];
	size_t nbefore;
	bool have_before;
	/* In the guest at its last `vmm list` (what it shows, whoever applied it). */
	char present[FLEET_MAX_WANTED][FLEET_NAME_MAX];
	size_t npresent;
	char error[FLEET_ERR_MAX];
	struct fleet_blocking blocking[FLEET_MAX_BLOCKING];
	size_t nblocking;
	double pause_ms, elapsed_ms;
	int64_t health_seq;		/* log_next_seq at the baseline, -1 none */
	bool health_checked;		/* after its batch */
	int next;			/* position in to_apply */
	int stall_rounds;
};

enum fleet_run_phase { FLEET_RUN_RUNNING, FLEET_RUN_HALTED, FLEET_RUN_DONE };

struct fleet_state {
	char run[FLEET_NAME_MAX * 2];
	char host[FLEET_NAME_MAX];	/* --host, "" all */
	struct fleet_policy policy;	/* effective (inventory + flags) */
	enum fleet_run_phase phase;
	char halt_reason[FLEET_ERR_MAX];
	int next_batch;			/* first batch not finished */
	int rings_soaked;		/* the ring soak + check before batch N is done */
	bool rolled_back;
	struct fleet_gstate *g;		/* one per plan.order entry, same order */
	size_t n;
	double started, updated;	/* seconds since the epoch */
};

/* A fresh state for a plan. */
struct gp_error *fleet_state_init(struct fleet_state *s, const struct fleet_plan *plan);
void fleet_state_free(struct fleet_state *s);
/* JSON text (malloc'd) and back; parse checks every value against inv. */
char *fleet_state_json(const struct fleet_state *s, const struct fleet_inv *inv);
struct gp_error *fleet_state_parse(const char *text, size_t len, const struct fleet_inv *inv,
				   struct fleet_state *s);
/* One report line (report.jsonl) for a guest, malloc'd, no newline. */
char *fleet_report_line(const struct fleet_state *s, const struct fleet_inv *inv,
			const struct fleet_plan *plan, size_t i);
/* The policy as JSON text (for the plan file), malloc'd. */
char *fleet_policy_json(const struct fleet_policy *p);

#endif
