/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lp_kmod_run.h - a plain kernel module (not a livepatch: the kernel's
 * test_klp_shadow_vars.ko, say) run once in the guest from outside, as
 * insmod followed by rmmod would run it, without the guest's module
 * loader: `vmm call TARGET FILE.ko [NAME=VALUE...]`.
 *
 * The module is read and linked as a livepatch module is (lp_kmod.h: the
 * same section rules, vermagic and __versions CRCs, exports, refusals by
 * name), with its init code and data loaded too; its pages go into the
 * region as a patch record in state LP_LOADED with owed stage
 * LP_CB_INIT (lp_region.h), nothing of it reachable from the kernel.  Its
 * init_module runs in a kworker (lp_call.c, tagged as an owed callback);
 * if it returns 0 its cleanup_module runs (stage LP_CB_EXIT, as after a
 * livepatch module's unpatch), then the pages go.  A vmm killed at any
 * point leaves records the next command finishes (lp_kmod_cb_run): an
 * init never called is not called, one that returned 0 gets its exit.
 *
 * What would outlive the run is refused by name before anything is
 * written (lp_kmod_run_check): data pointing at THIS_MODULE (an .owner),
 * and calls to kernel functions that register something (a denylist of
 * name patterns: register/notifier/timer/workqueue/kthread/sysfs/procfs/
 * debugfs/device/irq/call_rcu ...).  The list is a broad filter, not a
 * proof: an init that hands a pointer to its code or data to the kernel
 * by other means, and an exit that does not undo it, is not detected.
 */
#ifndef GP_LP_KMOD_RUN_H
#define GP_LP_KMOD_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "gp_error.h"
#include "kernel.h"

struct lp_kmod;

struct lp_kmod_run_report {
	char name[64];		/* the module's */
	int init_ret;		/* what init_module returned */
	bool init_ran;
	bool has_exit;		/* it has a cleanup_module */
	char log[400];		/* what ran after init: "exit(NAME)" */
	char log_err[240];	/* why that could not run (the next command runs it) */
};

/* The refusals above, on a module opened with lp_kmod_open_run(). */
struct gp_error *lp_kmod_run_check(const struct lp_kmod *km);

/* Run module `path` in the guest (attached, not paused): link, load,
 * init, exit if init returned 0, free.  params: NAME=VALUE as to insmod
 * (integer and bool parameters, lp_kmod_param.c).  Returns an error when
 * the module is refused, the run could not happen, or init returned
 * non-zero (rep->init_ret says what; the pages are gone then too). */
struct gp_error *lp_kmod_run(struct kern *k, const char *path, const char *const *params,
			     int nparams, double timeout_s, struct lp_kmod_run_report *rep);

#endif
