/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lp_patch.h - apply, remove, list patches, and drive their transitions.
 *
 * Two consistency models:
 *  - global (stop the world): at one pause, no task may have a function
 *    being replaced or removed on its stack; then everything is written in
 *    that pause.  Works on any kernel.
 *  - per-task (the kernel's livepatch model, transition.c): tasks switch
 *    one by one as each becomes safe, using the guest's own
 *    task->patch_state, TIF_PATCH_PENDING and klp_target_state; the
 *    trampoline picks the old or new function for the current task.
 *
 * Every write to the guest happens while all vCPUs are paused; a refused
 * operation writes nothing, so guest memory stays byte-for-byte as it was.
 */
#ifndef GP_LP_PATCH_H
#define GP_LP_PATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "gp_error.h"
#include "kernel.h"
#include "lp_call.h"
#include "lp_check.h"
#include "lp_journal.h"
#include "lp_region.h"

enum lp_model {
	LP_MODEL_AUTO = 0,	/* per-task where the kernel supports it */
	LP_MODEL_GLOBAL,
	LP_MODEL_PER_TASK,
};

struct lp_opts {
	double timeout_s;	/* give up (global) or stop waiting (per-task); default 10 s */
	bool force;		/* unpatch: allowed even if the patch was forced */
	enum lp_model model;
	bool replace;		/* atomic replace, also set by GP_PATCH_REPLACE */
	bool no_wait;		/* per-task: start the transition and return */
	double signal_after_s;	/* per-task: straggler step after this many
				 * seconds without completion, and again each
				 * time as long again (0: default 5 s, <0: never) */
	/* A livepatch module's parameters, NAME=VALUE as to insmod. */
	const char *const *params;
	int nparams;
};

enum lp_trans_op {
	LP_TRANS_CONTINUE,	/* retry until complete or timeout */
	LP_TRANS_REVERSE,	/* flip the direction, then continue */
	LP_TRANS_FORCE,		/* switch every task now, mark forced */
	LP_TRANS_SIGNAL,	/* straggler step now, then continue */
};

struct lp_report {
	char name[64];
	int attempts;
	double elapsed_ms;	/* wall time of the whole operation */
	/* The successful (or last) attempt's pause and its parts. */
	uint64_t pause_ns, stop_ns, resume_ns, check_ns, write_ns;
	uint64_t pause_ns_total;	/* all attempts */
	struct lp_check_result check;	/* the last check: who blocks */
	int nr_funcs;
	/* per-task */
	bool per_task;
	bool in_progress;	/* the transition is left running in the guest */
	bool completed;		/* ... or it completed during this operation */
	int target;		/* KLP_PATCHED or KLP_UNPATCHED */
	size_t tasks, switched;	/* at the last attempt */
	int signal_rounds;	/* straggler steps carried out */
	char trans_patch[64];	/* the patch in transition, for status */
	/* A livepatch module's callbacks and exit run by this command
	 * (lp_kmod_cb.h), "pre_patch(vmlinux)=0 ...", and why owed ones
	 * could not run now (the next command runs them). */
	char callbacks[400];
	char callbacks_err[240];
	/* A livepatch module's objects for modules the guest has not loaded:
	 * not patched, as the kernel skips them (a later load of the module
	 * is not patched by guestpatch). */
	char not_loaded[240];
};

struct gp_error *lp_apply(struct kern *k, const char *obj_path,
			  const struct lp_opts *o, struct lp_report *rep);
struct gp_error *lp_remove(struct kern *k, const char *name,
			   const struct lp_opts *o, struct lp_report *rep);
struct gp_error *lp_transition(struct kern *k, enum lp_trans_op op,
			       const struct lp_opts *o, struct lp_report *rep);
/* Read the region records (pauses briefly). */
struct gp_error *lp_list(struct kern *k, struct lp_region *r);
/* Records plus, if a transition is in progress, which tasks have not
 * switched and why (a read-only stack check in one pause). */
struct gp_error *lp_status(struct kern *k, struct lp_region *r, struct lp_report *rep);

/* What `vmm recover` found and repaired (lp_recover.c). */
struct lp_recover_report {
	struct lp_jrecovery journal;	/* an interrupted pause, rolled back */
	bool target_reset;		/* klp_target_state was left set ... */
	int32_t old_target;		/* ... to this, with no transition */
	int tasks_reset;		/* tasks left with a patch state or pending flag */
	bool agent_removed;		/* a straggler agent left installed */
	bool region_earlier_boot;	/* the region is an earlier boot's (lp_region.h) */
	uint64_t region_boot_id;	/* the boot it names */
	struct lp_call_leftover call;	/* a call left in flight (lp_call.h) */
};

/* What every command finds first (lp_recover_journal). */
struct lp_attach_report {
	struct lp_jrecovery journal;	/* an interrupted pause, rolled back or
					 * (an earlier boot's) discarded */
	bool region_earlier_boot;	/* the region is an earlier boot's: the
					 * next patch sets it up anew */
	uint64_t region_boot_id;
	struct lp_call_leftover call;	/* a call left in flight (lp_call.h):
					 * cleaned up if it has finished */
	char call_err[240];		/* why it could not be looked at, or "" */
	char callbacks[400];		/* owed callbacks run (lp_kmod_cb.h) */
	char callbacks_err[240];	/* why owed ones could not run now */
};

/* Roll back an interrupted pause, then repair wedged per-task state. */
struct gp_error *lp_recover(struct kern *k, struct lp_recover_report *rep);
/* What every attach does first (pauses briefly): the journal, and a look
 * at the region (read only; its errors are left to the commands that use
 * it). */
struct gp_error *lp_recover_journal(struct kern *k, struct lp_attach_report *rep);
/* At the end of a command: clear the owner record in the guest if it
 * names this process (lp_journal.h). */
struct gp_error *lp_release(struct kern *k);
/* The journal roll-back as a target hook (tgt_set_recover). */
struct gp_error *lp_recover_hook(struct tgt *t);

/* Hand the unwinder the ORC of every applied patch that has one (a
 * livepatch module's, from the region records), so that stacks through
 * patch code unwind reliably.  Pauses briefly. */
struct stack_ctx;
struct gp_error *lp_register_patch_orc(struct kern *k, struct stack_ctx *sc);

/* Whether the per-task model can run on this kernel, and why not. */
bool lp_per_task_supported(struct kern *k, char *why, size_t len);

/* Exit status a CLI should use for an error from the calls above. */
#define LP_EXIT_IN_PROGRESS 3	/* transition left in progress */

/* How patches meet the guest's code (vmm info): where their returns go,
 * as lp_return_thunk() decides (ret_thunk 0: a plain ret; else the thunk
 * and its name), and where a function's ftrace site lies (entry_off: 4
 * after endbr64 on IBT kernels, else 0; read at vfs_read). */
struct lp_code_shape {
	uint64_t ret_thunk;
	char ret_name[128];
	unsigned entry_off;
};
struct gp_error *lp_code_shape(struct kern *k, struct lp_code_shape *out);

#endif
