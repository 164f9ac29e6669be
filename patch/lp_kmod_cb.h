/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lp_kmod_cb.h - a livepatch module's callbacks (klp_callbacks: pre_patch,
 * post_patch, pre_unpatch, post_unpatch) and its exit function, run in
 * the guest's process context with lp_call() at the points where the
 * kernel's livepatch core (kernel/livepatch/core.c, transition.c) and
 * rmmod run them:
 *
 *   __klp_enable_patch()      pre_patch of each loaded object, before
 *                             anything of the patch is live; one that
 *                             returns non-zero aborts: klp_cancel_transition()
 *                             runs post_unpatch of the objects whose
 *                             pre_patch succeeded, and the pages go
 *   klp_complete_transition() to patched: post_patch of each loaded object;
 *                             to unpatched: post_unpatch of each
 *   __klp_disable_patch()     pre_unpatch of each patched object, before
 *                             the unpatch transition starts
 *   rmmod (delete_module)     the module's exit, after post_unpatch: the
 *                             patch's pages go only after it has run
 *
 * What is owed after a transition completes is recorded in the region
 * (lp_hdr.cb_*, journaled like every header write) in the pause that
 * completes it, so whichever vmm process comes next runs it
 * (lp_kmod_cb_run: every attach, the commands that drive transitions,
 * `vmm recover`), each callback once: the pause that sets a callback's
 * call up marks it (cb_calling), the pause that sees the call end
 * (lp_call.c, this process or a later one) clears it from cb_todo.
 *
 * The callbacks and objects are read from the patch's own data pages in
 * the guest (its linked struct klp_patch, laid out by the guest's BTF);
 * guest memory is untrusted, so every pointer must lie in the patch's
 * own pages (callbacks in its code pages) or nothing is called.
 */
#ifndef GP_LP_KMOD_CB_H
#define GP_LP_KMOD_CB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gp_error.h"
#include "kernel.h"
#include "lp_region.h"

#define LP_CB_TIMEOUT_S 30.0	/* one callback's lp_call() */

/* A klp_object's callbacks as read from the guest. */
struct lp_cb_obj {
	char name[LP_MODULE_NAME + 1];	/* "" for vmlinux */
	uint64_t va;			/* the klp_object (the callbacks' argument) */
	uint64_t fn[4];			/* pre_patch, post_patch, pre_unpatch, post_unpatch */
};

struct lp_cb_objs {
	struct lp_cb_obj v[LP_KMOD_CB_MAX_OBJS];
	int n;
	uint64_t exit_fn;		/* 0: none */
};

/* What ran (for the report): "post_patch(vmlinux)=0 exit ..." */
struct lp_cb_log {
	char text[400];
};

/* klp_find_object_module(): each module object's klp_object.mod in the
 * linked copy points at the guest's struct module of that name when it is
 * loaded (callbacks read obj->mod), NULL otherwise. */
struct lp_image;
struct lp_kmod_patch;
struct kmod_list;
struct gp_error *lp_kmod_cb_set_mods(const struct kbtf *btf, const struct kmod_list *mods,
				     const struct lp_kmod_patch *kp, struct lp_image *img);

/* klp_init_object_loaded() is for loaded objects only: the functions of
 * module objects whose module the guest has not loaded are left out of
 * img (kp's objects updated); not_loaded gets their names. */
void lp_kmod_skip_unloaded(struct lp_kmod_patch *kp, const struct kmod_list *mods,
			   struct lp_image *img, char *not_loaded, size_t len);

/* Read patch slot's klp_objects and exit from its pages (paused, region
 * loaded), every pointer checked against its pages. */
struct gp_error *lp_kmod_cb_read(struct kern *k, const struct lp_region *r, int slot,
				 struct lp_cb_objs *out);

/* Run what is owed (lp_hdr.cb_*), until nothing is; a stage left behind
 * by a vmm that died in it is finished as the kernel would finish it
 * (pre_patch: cancelled; pre_unpatch: the patch stays).  A callback still
 * running from an earlier process is waited for by the next command. */
struct lp_ctx;
struct gp_error *lp_kmod_cb_run(struct kern *k, struct lp_cb_log *log);

/* Before a livepatch module with callbacks or an exit goes live: its
 * pages into the guest as patch `slot` in state LP_LOADED (one pause,
 * nothing of it reachable), then each loaded object's pre_patch.  On a
 * failing pre_patch (or a call whose outcome is unknown) the patch is
 * cancelled (lp_kmod_cb_cancel) and the error names the object and the
 * value.  On success *gen is the region's generation now (the apply
 * attempts check the records did not change after it). */
struct lp_apply_ctx;
struct gp_error *lp_kmod_cb_pre_patch(struct kern *k, struct lp_apply_ctx *a,
				      const char *const *obj_names, const uint64_t *obj_va,
				      const uint64_t *pre_patch, int nobjs, uint64_t *gen,
				      struct lp_cb_log *log);
/* At the end of a command that may have completed a transition: run what
 * is owed; what ran goes to rep->callbacks, why the rest could not run to
 * rep->callbacks_err (the command itself succeeded: the next one runs it). */
struct lp_report;
void lp_kmod_cb_after(struct kern *k, struct lp_report *rep);

/* The patch loaded by lp_kmod_cb_pre_patch did not go live: post_unpatch
 * of the objects whose pre_patch succeeded, then its pages go. */
struct gp_error *lp_kmod_cb_cancel(struct kern *k, int slot, struct lp_cb_log *log);

/* Before the unpatch transition of patch `name` starts: pre_unpatch of
 * each patched object (nothing if the patch has no callbacks, is not
 * applied, or is forced and `force` is not given: the unpatch refuses). */
struct gp_error *lp_kmod_cb_pre_unpatch(struct kern *k, const char *name, bool force,
				       struct lp_cb_log *log);

#endif
