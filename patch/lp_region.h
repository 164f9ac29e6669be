/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lp_region.h - the guest memory that holds injected code, and the record
 * of every patch, kept in the guest so any later process can find it.
 *
 * Where (see docs/region.md for the argument):
 *  - physical: LP_REGION_PA..+LP_REGION_SIZE inside the first MiB, which
 *    Linux >= 5.13 reserves whole at boot and never hands to an allocator
 *    (commit f1d4d47c5851, "x86/setup: Always reserve the first 1M of
 *    RAM"), below the real-mode trampoline;
 *  - virtual: one free 2 MiB slot of level2_kernel_pgt after the kernel
 *    image (_end), inside the 1 GiB kernel-image window that no allocator
 *    uses, so rel32 calls and jumps reach the kernel both ways.
 *
 * Layout of the region (pages):
 *   0-3    header and records (struct lp_hdr), mapped read-only, NX
 *   4      the page table (PTEs) that maps the region; not mapped itself
 *   5      trampolines, 32 bytes per patched function, read-only, X
 *   6..    code pages (read-only, X) up to LP_CODE_PAGES, then data pages
 *          (read-write, NX) up to LP_JOURNAL_PAGE. Every PTE is written
 *          once when the region is set up and never changed, so no guest
 *          TLB can hold a stale permission for a page we reuse.
 *   60-79  the undo journal (lp_journal.h): guest-physical only, never
 *          mapped, so nothing in the guest can reach it by address.
 *
 * A reboot drops every patch: the new kernel boots from its image.  Where
 * the reboot leaves RAM as it was (a kexec, firmware that does not clear
 * low memory - SeaBIOS does clear 0x7000-0x90000 at every boot, qboot and
 * others do not), the region of the earlier boot is still here.  The
 * header names the boot it was set up in (boot_id), so it is told apart:
 * nothing of it is live (fresh kernel text, no jump reaches it), and the
 * next patch sets the region up anew over it.  Its code and data pages
 * may then hold stale bytes until reused, so allocations write whole
 * pages (lp_add_new_patch, the straggler agent).
 */
#ifndef GP_LP_REGION_H
#define GP_LP_REGION_H

#include <stdbool.h>
#include <stdint.h>

#include "gp_error.h"
#include "kernel.h"

#define LP_REGION_PA 0x40000ull
#define LP_REGION_PAGES 80u			/* 320 KiB: 0x40000..0x90000 */
#define LP_REGION_SIZE (LP_REGION_PAGES * 4096ull)
#define LP_HDR_PAGES 4u
#define LP_PTE_PAGE 4u
#define LP_TRAMP_PAGE 5u
#define LP_FIRST_ALLOC 6u
#define LP_CODE_PAGES 38u			/* pages 6..43 code, 44..59 data */
#define LP_JOURNAL_PAGE 60u			/* pages 60..79: the journal */
#define LP_JOURNAL_PAGES (LP_REGION_PAGES - LP_JOURNAL_PAGE)
#define LP_JOURNAL_PA (LP_REGION_PA + LP_JOURNAL_PAGE * 4096ull)
#define LP_TRAMP_SIZE 32u
#define LP_MAX_PATCHES 16
#define LP_MAX_SITES 88		/* 96 until version 6: room for the call record */
#define LP_MAX_FUNCS_TOTAL 96
#define LP_AGENT_MAX_TASKS 32
#define LP_MAX_MODULES 4		/* modules with patched functions */
#define LP_MODULE_NAME 56
#define LP_KMOD_CB_MAX_OBJS 16		/* klp_objects whose callbacks are tracked (cb_todo) */

/* Where the straggler agent hooks in: runs on every local timer interrupt,
 * in hard-IRQ context (see docs/per-task.md). */
#define LP_AGENT_HOOK "hrtimer_interrupt"

#define LP_MAGIC "guestpatch-rgn\0"	/* 16 bytes with the NUL */
#define LP_VERSION 7u			/* 3: the journal pages; 4: sites[].site_off;
					 * 5: boot_id; 6: the call record and
					 * patches[].orc_*; 7: kmods[] and the
					 * owed callbacks (cb_*), appended */

enum lp_patch_state {
	LP_FREE = 0,
	LP_APPLIED = 1,		/* every task runs it (transition complete) */
	LP_PATCHING = 2,	/* per-task transition towards it in progress */
	LP_UNPATCHING = 3,	/* per-task transition away from it in progress */
	LP_LOADED = 4,		/* a livepatch module's pages, nothing of it live:
				 * its callbacks run before it goes live (pre_patch)
				 * or after it went away (post_unpatch, exit);
				 * always the patch cb_slot names */
};

/* What a livepatch module's patch owes the guest (lp_hdr.cb_stage): the
 * callbacks the kernel's livepatch core would run now (lp_kmod_cb.c). */
enum lp_cb_stage {
	LP_CB_NONE = 0,
	LP_CB_PRE_PATCH = 1,	/* the applying vmm runs pre_patch (LP_LOADED) */
	LP_CB_POST_PATCH = 2,	/* patch transition complete: post_patch owed */
	LP_CB_PRE_UNPATCH = 3,	/* the unpatching vmm runs pre_unpatch */
	LP_CB_POST_UNPATCH = 4,	/* unpatched (LP_LOADED): post_unpatch, then exit */
	LP_CB_CANCEL = 5,	/* pre_patch failed (LP_LOADED): post_unpatch of
				 * the objects whose pre_patch succeeded, no exit */
	LP_CB_EXIT = 6,		/* the module's exit function, then the pages go */
	LP_CB_INIT = 7,		/* a plain module run by `vmm call` (LP_LOADED,
				 * lp_kmod_run.c): its init (cb_todo bit 0), then
				 * if it returned 0 its exit, then the pages go */
};

#define LP_FLAG_FORCED 1u	/* a transition was forced: tasks may still
				 * run code it replaced, removing it is unsafe */
#define LP_FLAG_REPLACE 2u	/* atomic replace: cumulative, drops the
				 * patches before it when its transition ends */

/* The guest's own per-task states (include/linux/livepatch.h). */
#define KLP_UNDEFINED (-1)
#define KLP_UNPATCHED 0
#define KLP_PATCHED 1

/* page_owner values */
#define LP_PAGE_SYSTEM 0xffu
#define LP_PAGE_LEAKED 0xfeu	/* code of a forced-away patch: kept, never reused */

/* One applied patch. */
struct lp_rec_patch {
	char name[64];
	char build_id[48];
	uint32_t state;		/* enum lp_patch_state */
	uint32_t flags;		/* LP_FLAG_* */
	uint64_t seq;		/* apply order: higher is newer (top of stack) */
	uint32_t code_page, code_pages;	/* region page index and count */
	uint32_t data_page, data_pages;
	uint64_t applied_unix;	/* host wall clock at apply */
	/* Its ORC (struct lp_image): at orc_off in its data pages, orc_n
	 * 32-bit self-relative ips then orc_n 6-byte entries; orc_n 0: none
	 * (its code is then unreliable on a stack). */
	uint32_t orc_off, orc_n;
};

/* One function replaced by one patch. */
struct lp_rec_func {
	uint32_t patch;		/* index into patches[], valid if in use */
	uint32_t site;		/* index into sites[] */
	uint64_t new_addr;	/* 0 for a no-op function (atomic replace) */
	char name[64];		/* the old function's name, for listings */
	uint64_t pos;		/* which duplicate */
	uint32_t in_use;
	uint32_t nop;		/* atomic replace: this function goes back to
				 * the original; dropped when the transition ends */
	uint64_t old_size;	/* bytes of the original function */
};

/* One redirected ftrace site (old function entry). */
struct lp_rec_site {
	uint64_t old_addr;	/* the replaced function */
	uint64_t tramp_va;	/* trampoline slot */
	uint8_t orig[5];	/* the original 5 bytes (NOP), for restoring */
	uint8_t site_off;	/* its ftrace NOP: old_addr + 0, or + 4 after
				 * endbr64 (IBT kernels) */
	uint8_t pad[2];
	uint32_t in_use;
	uint32_t module;	/* 0: the kernel; else modules[module - 1] */
};

static inline uint64_t lp_rec_site_addr(const struct lp_rec_site *st)
{
	return st->old_addr + st->site_off;
}

struct lp_hdr {
	char magic[16];
	uint32_t version;
	uint32_t hdr_size;	/* sizeof(struct lp_hdr) */
	uint64_t region_pa, region_va;
	uint32_t region_pages;
	uint32_t pmd_index;	/* the level2_kernel_pgt slot we installed */
	uint64_t pmd_entry_pa;	/* its guest-physical address */
	uint64_t generation;	/* bumped by every change */
	uint64_t next_seq;
	char build_id[48];	/* the kernel this region was set up in */
	uint64_t boot_id;	/* and its boot (kern_boot_id; 0 unknown) */
	/* The per-task transition in progress, as klp_transition_patch and
	 * klp_target_state: trans_patch is a patches[] index or -1. */
	int32_t trans_patch;
	int32_t trans_target;	/* KLP_PATCHED or KLP_UNPATCHED */
	uint64_t trans_started_unix;
	uint64_t trans_attempts;	/* try-complete attempts so far */
	uint64_t trans_signals;		/* straggler rounds sent */
	/* The straggler agent (lp_straggler.c), while installed: a one-shot hook
	 * at agent_site's entry, its code and data pages, and the tasks it
	 * holds a reference on (task_struct.usage) until it has run. */
	uint64_t agent_site;
	uint32_t agent_code_page, agent_data_page;
	uint32_t agent_state;		/* 0 none, 1 installed */
	uint32_t agent_ntasks;
	uint64_t agent_tasks[LP_AGENT_MAX_TASKS];
	uint8_t page_owner[LP_REGION_PAGES];	/* 0 free, LP_PAGE_*, else patch+1 */
	char modules[LP_MAX_MODULES][LP_MODULE_NAME];	/* names, for module sites */
	struct lp_rec_patch patches[LP_MAX_PATCHES];
	struct lp_rec_site sites[LP_MAX_SITES];
	struct lp_rec_func funcs[LP_MAX_FUNCS_TOTAL];
	/* A function call run in the guest's process context (lp_call.c),
	 * from the pause that sets it up until a pause sees it finished: its
	 * code page (the one-shot timer hook, and the work function) and data
	 * page (the work item, flags, result), both LP_PAGE_SYSTEM.  While
	 * call_hooked, LP_AGENT_HOOK's ftrace site jumps to the hook. */
	uint32_t call_state;		/* 0 none, 1 in flight */
	uint32_t call_hooked;		/* the hook at call_site is installed */
	uint64_t call_site;		/* LP_AGENT_HOOK's ftrace site */
	uint32_t call_code_page, call_data_page;
	uint64_t call_fn, call_arg;	/* what runs */
	uint64_t call_started_unix;	/* host wall clock at set-up */
	int32_t call_pid;		/* the vmm that set it up */
	uint32_t call_pad;
	/* Version 7: a livepatch module's callbacks and exit (lp_kmod_cb.c).
	 * kmods[i] belongs to patches[i]: where its struct klp_patch lies
	 * (in its data pages; its klp_objects and their callbacks are read
	 * from there with the guest's BTF) and its exit function (in its
	 * code pages), as offsets from region_va; klp_off 0: a patch without
	 * callbacks or exit.  cb_* name what is
	 * owed to the guest now: cb_slot (1 + the patch, 0 none) at stage
	 * cb_stage, for the klp_objects whose bit is set in cb_todo; the call
	 * record (call_*) runs the callback of object cb_calling - 1 (0:
	 * none of these), and the pause that sees that call end clears its
	 * bit, so a callback runs once whichever vmm process comes next. */
	struct lp_rec_kmod {
		uint32_t klp_off;
		uint32_t exit_off;	/* 0: none */
	} kmods[LP_MAX_PATCHES];
	uint32_t cb_slot;
	uint32_t cb_stage;		/* enum lp_cb_stage */
	uint32_t cb_todo;		/* bit i: klp_object i (LP_CB_EXIT: bit 0) */
	uint32_t cb_ok;			/* objects whose pre_patch returned 0 */
	uint32_t cb_calling;		/* 1 + object of the call in flight */
	uint32_t cb_pad;
	int64_t cb_ret;			/* what the last callback returned */
};

_Static_assert(sizeof(struct lp_hdr) <= LP_HDR_PAGES * 4096, "header fits");

/* The region as found in (or planned for) a guest. */
struct lp_region {
	bool present;		/* a valid header is in guest memory */
	/* The header in guest memory is an earlier boot's (a reboot that
	 * left RAM as it was): nothing of it is live, present is false and
	 * set-up may overwrite it. */
	bool earlier_boot;
	uint64_t earlier_boot_id;	/* the boot it names */
	struct lp_hdr hdr;	/* host copy; written back by lp_region_commit */
	uint64_t pmd_entry_pa;	/* where the slot's entry is */
	uint32_t pmd_index;
	uint64_t va;		/* region virtual base */
};

/* Read the region state (target paused). A missing region is not an
 * error: present = false and a plan for where it would go.  Nor is one of
 * an earlier boot, whose slot in this kernel's page table is not ours:
 * present = false, earlier_boot = true.  One of an earlier boot that this
 * kernel's slot does map is refused (that is not a reboot), as is one of
 * this boot that disagrees with the kernel. */
struct gp_error *lp_region_load(struct kern *k, struct lp_region *r);

/* First use: check the memory is unused (all zero, or an earlier boot's
 * region), write header, PTE page and the PMD entry. Target paused. */
struct gp_error *lp_region_setup(struct kern *k, struct lp_region *r);

/* Write the host copy of the header back (data write, target paused). */
struct gp_error *lp_region_commit(struct kern *k, struct lp_region *r);

/* Find `count` free pages of a kind (code or data); -1 if none. */
int lp_region_alloc(const struct lp_region *r, bool code, unsigned count);

/*
 * Editing the records (lp_records.c): pure functions of the host copy;
 * nothing here touches the guest.  The code that the records imply is
 * written by lp_commit_change() (lp_redirect.c).
 */
int lp_rec_find_patch(const struct lp_hdr *h, const char *name);	/* slot or -1 */
int lp_rec_find_site(const struct lp_hdr *h, uint64_t old_addr);	/* site or -1 */
/* The function records on a site, newest first (the kernel's func_stack). */
int lp_rec_site_stack(const struct lp_hdr *h, int site, int out[LP_MAX_PATCHES]);
/* Where a function record sends its callers. */
uint64_t lp_rec_func_target(const struct lp_hdr *h, const struct lp_rec_func *f);
/* Free sites (and module names) no function record uses any more. */
void lp_rec_gc_sites(struct lp_hdr *h);
/* Drop a patch's records; its pages become free, or leaked when tasks may
 * still run its code. */
void lp_rec_drop_patch(struct lp_hdr *h, int slot, bool leak);
/* The patch record (pages owned, state, flags, kmods[]) without its
 * functions (lp_rec_add_patch adds them). */
struct lp_image;
void lp_rec_set_patch(struct lp_hdr *h, const struct lp_image *img, unsigned code_page,
		      unsigned data_page, int slot, uint32_t state, uint32_t flags);
/* A livepatch module's callbacks (lp_kmod_cb.c), as the records see them.
 * Its transition to patched completed: post_patch owed (if it has
 * callbacks).  Completion of an unpatch: for a patch with callbacks or an
 * exit (kmods[slot].klp_off), its functions go but its pages stay, state
 * LP_LOADED, with post_unpatch and exit owed; else lp_rec_drop_patch. */
void lp_rec_cb_patched(struct lp_hdr *h, int slot);
void lp_rec_cb_unpatched(struct lp_hdr *h, int slot, bool leak);
/* A patch dropped by an atomic replace that completed: a livepatch
 * module with an exit stays, LP_LOADED without its functions, its exit
 * owed (rmmod would run it; lp_kmod_cb.c runs it after the replacing
 * patch's post_patch); else lp_rec_drop_patch.  A patch already
 * LP_LOADED is left as it is.  lp_rec_exit_queued: such a patch whose
 * exit is not yet the one owed now (cb_slot), -1 if none. */
void lp_rec_replaced(struct lp_hdr *h, int slot, bool leak);
int lp_rec_exit_queued(const struct lp_hdr *h);
/* The pause that sees the call record's call gone (lp_call.c): if it ran
 * an owed callback (cb_calling), that one is no longer owed. */
void lp_rec_cb_call_gone(struct lp_hdr *h, bool ran, int64_t ret);
/* Drop the no-op functions of an atomic-replace patch. */
void lp_rec_drop_nops(struct lp_hdr *h, int slot);
/* A patch's code pages as guest virtual addresses [start, end). */
uint64_t lp_rec_code_start(const struct lp_region *r, int p);
uint64_t lp_rec_code_end(const struct lp_region *r, int p);

static inline uint64_t lp_page_va(const struct lp_region *r, unsigned page)
{
	return r->va + (uint64_t)page * 4096;
}

static inline uint64_t lp_page_pa(unsigned page)
{
	return LP_REGION_PA + (uint64_t)page * 4096;
}

#endif
