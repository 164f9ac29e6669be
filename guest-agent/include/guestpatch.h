/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * guestpatch.h - write a live patch for a guest kernel in plain C.
 *
 *   #include <guestpatch.h>
 *
 *   GP_PATCH("cmdline-marker");
 *
 *   struct seq_file;
 *   extern void seq_printf(struct seq_file *m, const char *fmt, ...);
 *
 *   static int new_cmdline_proc_show(struct seq_file *m, void *v) { ... }
 *   GP_REPLACE(cmdline_proc_show, new_cmdline_proc_show);
 *
 * Build with `vmm build FILE.c -o FILE.o --kernel VMLINUZ` (or the make
 * rule), which compiles with flags that fit the guest kernel and records
 * the kernel's build id in the object.  Calls to kernel functions and
 * references to kernel data are resolved against the guest's kallsyms when
 * the patch is applied.
 *
 * The descriptors below live in non-loaded sections (.gp.*): the loader
 * reads them on the host; they never reach guest memory.
 */
#ifndef GUESTPATCH_H
#define GUESTPATCH_H

#define GP_NAME_MAX 64
#define GP_SYM_MAX 128

struct gp_patch_desc {
	char name[GP_NAME_MAX];
	/* Filled by `vmm build` through -DGP_TARGET_BUILD_ID="..." */
	char build_id[48];
	unsigned long flags;		/* GP_PATCH_F_* */
};

#define GP_PATCH_F_REPLACE 1UL		/* atomic replace: see GP_PATCH_REPLACE */

struct gp_func_desc {
	char old_name[GP_SYM_MAX];	/* the guest function replaced */
	unsigned long old_pos;		/* Nth symbol of that name, 0: unique */
	void *new_func;			/* its replacement, in this object */
};

#ifndef GP_TARGET_BUILD_ID
#define GP_TARGET_BUILD_ID ""
#endif

#define __GP_PATCH(pname, pflags)                                            \
	static const struct gp_patch_desc __gp_patch                         \
		__attribute__((used, section(".gp.patch"), aligned(8))) = {  \
		.name = pname,                                               \
		.build_id = GP_TARGET_BUILD_ID,                              \
		.flags = (pflags),                                           \
	}
#define GP_PATCH(pname) __GP_PATCH(pname, 0)
/* A cumulative patch: when its transition completes, every patch applied
 * before it is dropped, and functions it does not replace go back to the
 * original (the kernel's atomic replace, klp_patch.replace). */
#define GP_PATCH_REPLACE(pname) __GP_PATCH(pname, GP_PATCH_F_REPLACE)

#define __GP_CAT2(a, b) a##b
#define __GP_CAT(a, b) __GP_CAT2(a, b)

/* Replace the guest function OLD by NEW; OLD_POS picks among duplicate
 * static names (1-based, in kallsyms order; `vmm sym` lists them). */
#define GP_REPLACE_POS(oldf, pos, newf)                                      \
	static const struct gp_func_desc __GP_CAT(__gp_func_, __LINE__)      \
		__attribute__((used, section(".gp.funcs"), aligned(8))) = {  \
		.old_name = #oldf,                                           \
		.old_pos = (pos),                                            \
		.new_func = (void *)(newf),                                  \
	}
#define GP_REPLACE(oldf, newf) GP_REPLACE_POS(oldf, 0, newf)

#endif
