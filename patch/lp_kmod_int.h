/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lp_kmod_int.h - what lp_kmod.c (reading a module) and lp_kmod_link.c
 * (linking it, decoding its klp_patch) share.
 */
#ifndef GP_LP_KMOD_INT_H
#define GP_LP_KMOD_INT_H

#include "lp_elf_int.h"
#include "lp_kmod.h"

#define LP_KMOD_MAX_VERSIONS 4096
#define LP_KMOD_MAX_MCOUNT 65536
#define LP_KMOD_MAX_MODREFS 16

/* struct modversion_info: unsigned long crc; char name[MODULE_NAME_LEN]. */
struct lp_kmod_version {
	uint64_t crc;
	char name[LP_KMOD_NAME_LEN + 1];
};

/* A `call __fentry__` that __mcount_loc lists: section and offset of the
 * call instruction. */
struct lp_kmod_site {
	uint32_t sec;
	uint64_t off;
	bool seen;	/* its relocation was found and made a NOP */
};

struct lp_kmod {
	struct lp_obj *o;
	char name[LP_KMOD_NAME_LEN + 1];
	char vermagic[LP_KMOD_VERMAGIC_MAX];
	char license[64];
	char import_ns[512];	/* every import_ns=, ';'-separated */
	struct lp_kmod_version *versions;
	size_t nversions;
	bool have_versions;
	struct lp_kmod_site *mcount;
	size_t nmcount;
	int this_module_sec;	/* .gnu.linkonce.this_module, loaded as data */
	bool call_sites;	/* .call_sites present */
	int orc_sec, orc_ip_sec, orc_header_sec;	/* -1 if absent */
	/* The argument of the init function's call to klp_enable_patch(),
	 * where it could be read: section and offset; -1 if not. */
	int enable_sec;
	uint64_t enable_off;
	/* cleanup_module (the exit function) in .exit.text: section and
	 * offset; -1 if the module has none. */
	int exit_sec;
	uint64_t exit_off;
	/* A plain module run by `vmm call` (lp_kmod_run.c): no klp_patch,
	 * init code loaded, init_module's section and offset. */
	bool run;
	int init_sec;
	uint64_t init_off;
	bool *orc_drop;		/* entries of .orc_unwind_ip for init/exit code */
	/* While linking: the guest, and where data holds &__this_module. */
	const struct lp_kmod_guest *g;
	uint64_t name_off, name_size;	/* struct module's name member */
	uint64_t modref_va[LP_KMOD_MAX_MODREFS];
	int nmodrefs;
	struct gp_error *modref_err;	/* a use of __this_module refused */
};

const struct lp_kmod_export *lp_kmod_export_find(const struct lp_kmod_exports *ex,
						const char *name);
/* An exported symbol the module uses, as resolve_symbol() checks it. */
struct gp_error *lp_kmod_resolve_export(const struct lp_kmod *km, const struct lp_kmod_exports *ex,
					const char *name, uint64_t *val);
/* The module's ORC, relocated, made one sorted block for img. */
struct gp_error *lp_kmod_orc(struct lp_kmod *km, struct lp_image *img);
struct gp_error *lp_kmod_decode(struct lp_kmod *km, struct lp_image *img,
				struct lp_kmod_patch *p);

#endif
