/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lp_elf_int.h - the loader's insides, shared by lp_elf.c (guestpatch
 * objects and the guest-agent's pieces) and lp_kmod.c (Linux livepatch
 * modules read as the kernel's module loader reads them).  Not for
 * callers outside those two: they use lp_elf.h / lp_kmod.h.
 */
#ifndef GP_LP_ELF_INT_H
#define GP_LP_ELF_INT_H

#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lp_elf.h"

enum lp_sec_kind { LP_SEC_SKIP, LP_SEC_CODE, LP_SEC_DATA, LP_SEC_DESC };

struct lp_sec {
	const char *name;
	enum lp_sec_kind kind;
	GElf_Shdr sh;
	uint64_t off;		/* offset in its area */
	uint8_t *host;		/* where its bytes are, once linked */
	uint64_t va;		/* guest address, once linked */
};

/* LP_MODE_KMOD_RUN: a plain kernel module run once by `vmm call`
 * (lp_kmod_run.c): as LP_MODE_KMOD, with its init code loaded. */
enum lp_obj_mode { LP_MODE_PATCH, LP_MODE_PIECES, LP_MODE_KMOD, LP_MODE_KMOD_RUN };

struct lp_obj {
	char *path;
	void *buf;
	size_t len;
	Elf *elf;
	size_t nsec;
	struct lp_sec *secs;
	size_t code_size, data_size;	/* page-rounded */
	size_t code_used, data_used;	/* bytes the sections fill */
	uint8_t *desc_patch, *desc_funcs;	/* host-only copies */
	size_t desc_funcs_size;
	int patch_sec, funcs_sec;
	bool pieces;		/* opened by lp_obj_open_pieces(): not a patch */
	enum lp_obj_mode mode;
};

/* Where a relocation is being applied, for a symbol's value to depend on
 * it (a kernel module's __this_module and .klp.sym symbols do). */
struct lp_rela_at {
	const struct lp_sec *rsec;	/* the relocation section */
	const struct lp_sec *target;	/* the section it patches */
	uint64_t off;			/* offset in target */
	unsigned type;
	int64_t addend;
};

/* Symbol values apply_rela() treats specially (never real addresses: the
 * first page is never mapped in a kernel). */
/* LP_SYM_RET_INLINE (lp_elf.h) is 1 */
#define LP_SYM_FENTRY_NOP 2ull	/* the `call __fentry__` becomes the ftrace NOP */
#define LP_SYM_SKIP 3ull	/* leave the bytes as the file has them */

struct lp_sym_env {
	struct gp_error *(*value)(struct lp_obj *o, const struct lp_sym_env *env,
				  const struct lp_rela_at *at, const GElf_Sym *sym,
				  const char *name, uint64_t *val);
	/* patch */
	lp_resolve_fn resolve;
	void *arg;
	/* pieces */
	const struct lp_piece *pieces;
	const int *piece_sec;		/* section index of each piece */
	const uint64_t *piece_va;	/* guest address of each piece */
	size_t npieces, cur;		/* all pieces; the one being relocated */
	/* kernel module (lp_kmod.c) */
	void *kmod;
};

struct gp_error *lp_elf_err(const struct lp_obj *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Relocation section i (SHT_RELA) of o with its symbol table, ready to
 * read: gelf_getrela(rd, j) for j < nrel, gelf_getsym(sd, k) for k <
 * nsyms, names from section strtab.  An error names the section. */
struct lp_rela {
	Elf_Data *rd, *sd;
	size_t nrel, nsyms;
	size_t strtab;
};
struct gp_error *lp_elf_rela(struct lp_obj *o, size_t i, struct lp_rela *out);

/* Open in a mode; LP_MODE_KMOD classifies sections with
 * lp_kmod_sec_kind() (lp_kmod.c). */
struct gp_error *lp_elf_open(const void *elf, size_t len, const char *path,
			     enum lp_obj_mode mode, struct lp_obj **out);
/* For LP_MODE_KMOD: what becomes of section s (its name and header set);
 * an error refuses the module. */
struct gp_error *lp_kmod_sec_kind(struct lp_obj *o, const struct lp_sec *s,
				  enum lp_sec_kind *kind);

/* A symbol the object itself defines, checked: its section is loaded and
 * holds it. */
struct gp_error *lp_elf_defined_sym_sec(struct lp_obj *o, const GElf_Sym *sym,
					const char *name, struct lp_sec **s);

/* Allocate img's host copies and place every loaded section at
 * code_va/data_va, copying its bytes. */
struct gp_error *lp_elf_place(struct lp_obj *o, uint64_t code_va, uint64_t data_va,
			      struct lp_image *img);
/* Apply every RELA section whose target is loaded, with env. */
struct gp_error *lp_elf_relocate(struct lp_obj *o, const struct lp_sym_env *env);

#endif
