/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lp_kmod.h - a Linux livepatch module (MODULE_INFO(livepatch, "Y"),
 * built with the guest kernel's headers) read as the kernel's module
 * loader and livepatch core read it, and turned into a patch image for
 * our engine.  The module is never loaded into the guest: no insmod, no
 * struct module there, nothing in its lsmod or /sys/kernel/livepatch.
 *
 * The steps follow the kernel's:
 *   lp_kmod_open()        load_module(): setup_load_info(), the sections
 *                         (lp_kmod_sec_kind: loaded, ignored, or refused
 *                         by name), .modinfo (livepatch=Y, vermagic,
 *                         name), __versions, __mcount_loc
 *   lp_kmod_read_exports() the guest's __ksymtab/__kcrctab, as
 *                         find_symbol() reads them (layout from its BTF)
 *   lp_kmod_check()       check_modinfo() (vermagic) and check_version()
 *                         (every __versions CRC)
 *   lp_kmod_link()        simplify_symbols() + apply_relocations() (the
 *                         exported symbols), klp_apply_section_relocs()
 *                         (.klp.rela.OBJ.SEC, .klp.sym.OBJ.NAME,POS), the
 *                         ftrace NOPs (ftrace_module_init); then the
 *                         static struct klp_patch decoded from the linked
 *                         copy with the guest's own BTF layouts
 */
#ifndef GP_LP_KMOD_H
#define GP_LP_KMOD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gp_error.h"
#include "kernel.h"
#include "lp_elf.h"
#include "modules.h"

#define LP_KMOD_MAX_OBJS 16
#define LP_KMOD_NAME_LEN 56		/* MODULE_NAME_LEN on x86-64 */
#define LP_KMOD_MAX_EXPORTS (1u << 17)	/* Debian's vmlinux exports ~15k */
#define LP_KMOD_VERMAGIC_MAX 256

struct lp_kmod;

/* One klp_object of the patch, as decoded (guest addresses are where the
 * linked copy puts them: the patch's data pages). */
struct lp_kmod_object {
	char name[LP_KMOD_NAME_LEN + 1];	/* "" for vmlinux */
	uint64_t va;				/* the klp_object */
	/* Its callbacks (klp_callbacks), in the module's loaded code, run
	 * in the guest by lp_kmod_cb.c; 0: none. */
	uint64_t pre_patch, post_patch, pre_unpatch, post_unpatch;
	int first_func, nr_funcs;		/* in lp_image.funcs */
};

struct lp_kmod_patch {
	uint64_t va;		/* the static struct klp_patch */
	bool replace;
	uint64_t states;	/* klp_state array, 0 if none */
	struct lp_kmod_object objs[LP_KMOD_MAX_OBJS];
	int nr_objs;
	bool has_callbacks;	/* some object has one */
	uint64_t exit_fn;	/* cleanup_module in .exit.text; 0: none */
	uint64_t init_fn;	/* init_module of a module opened to run; else 0 */
};

/* The guest kernel's exported symbols: name, value, CRC (when it has CRC
 * tables), GPL-only, namespace. */
struct lp_kmod_export {
	uint64_t value;
	uint32_t crc;
	bool gpl;
	uint32_t name, ns;	/* offsets into strs; ns 0: none */
};

struct lp_kmod_exports {
	struct lp_kmod_export *v;	/* sorted by name */
	size_t n;
	char *strs;
	size_t strs_len;
	bool have_crcs;
	char vermagic[LP_KMOD_VERMAGIC_MAX];	/* the guest's own, "" if unknown */
	char vermagic_why[160];			/* why unknown */
};

/* True if the ELF file looks like a kernel module (a .modinfo or
 * .gnu.linkonce.this_module section): the caller then uses lp_kmod_*. */
bool lp_kmod_is_module(const void *elf, size_t len);
bool lp_kmod_file_is_module(const char *path);

/* Parse and check a module (nothing of the guest needed); the buffer is
 * copied.  Refuses a module that is not a livepatch, lacks vermagic or
 * name, or has sections we cannot honour. */
struct gp_error *lp_kmod_open(const void *elf, size_t len, const char *path,
			      struct lp_kmod **out);
struct gp_error *lp_kmod_open_file(const char *path, struct lp_kmod **out);
/* The same for a plain module (not a livepatch; a livepatch is refused)
 * run once by `vmm call` (lp_kmod_run.h): its init code is loaded and
 * linked, it has no klp_patch; lp_kmod_link then gives init_fn/exit_fn. */
struct gp_error *lp_kmod_open_run(const void *elf, size_t len, const char *path,
				  struct lp_kmod **out);
struct gp_error *lp_kmod_open_file_mode(const char *path, bool run, struct lp_kmod **out);
void lp_kmod_close(struct lp_kmod *km);

const char *lp_kmod_name(const struct lp_kmod *km);
const char *lp_kmod_vermagic(const struct lp_kmod *km);
/* Page-rounded bytes of code and data. */
void lp_kmod_sizes(const struct lp_kmod *km, size_t *code, size_t *data);

/* Read the guest's exports and vermagic (target paused). */
struct gp_error *lp_kmod_read_exports(struct kern *k, struct lp_kmod_exports *ex);
void lp_kmod_exports_free(struct lp_kmod_exports *ex);
/* Build an exports table from host data (tests, and the reader above):
 * takes ownership of v and strs; sorts v. */
struct gp_error *lp_kmod_exports_finish(struct lp_kmod_exports *ex);

/* vermagic and every __versions CRC against the guest's. */
struct gp_error *lp_kmod_check(const struct lp_kmod *km, const char *release,
			       const struct lp_kmod_exports *ex);

/* What linking needs of the guest. */
struct lp_kmod_guest {
	const struct lp_kmod_exports *ex;
	const struct ksym_table *syms;	/* kallsyms: .klp.sym.vmlinux.* */
	const struct kmod_list *mods;	/* loaded modules: .klp.sym.MOD.*, may be NULL */
	const struct kbtf *btf;		/* klp_patch, klp_object, klp_func, module */
	/* The engine's answer for __x86_return_thunk (lp_patch.c). */
	lp_resolve_fn ret_thunk;
	void *arg;
	/* The guest returns through call_depth_return_thunk (call depth
	 * tracking is on): a module's .call_sites would need call thunks. */
	bool call_depth;
	/* The guest's ORC: whether it has an ORC unwinder (then the module's
	 * ORC is loaded with it, img->orc_*) and its ORC header as 40 hex
	 * digits (NULL: none, up to 6.3), which a module's must equal. */
	bool orc;
	const char *orc_hash;
};

/* Lay out at code_va/data_va, resolve and relocate, decode the klp_patch:
 * img gets the replaced functions ("NAME", or "MOD:NAME" for a module's
 * object) and the module's name as the patch name; *p the decoded
 * structures.  Nothing here touches the guest. */
struct gp_error *lp_kmod_link(struct lp_kmod *km, const struct lp_kmod_guest *g,
			      uint64_t code_va, uint64_t data_va, struct lp_image *img,
			      struct lp_kmod_patch *p);

/* Module parameters NAME=VALUE (as to insmod) set in the linked copy
 * (after lp_kmod_link, before the pages go to the guest): integer and
 * bool parameters only (lp_kmod_param.c). */
struct gp_error *lp_kmod_set_params(struct lp_kmod *km, const struct kbtf *btf,
				    const char *const *params, int n);

/* ".klp.sym.OBJ.NAME,POS" split as klp_resolve_symbols() does (OBJ at
 * most 55 characters, NAME at most 511, POS a decimal). */
struct gp_error *lp_kmod_parse_klp_sym(const char *s, char obj[LP_KMOD_NAME_LEN],
				       char *name, size_t name_len, unsigned long *pos);

#endif
