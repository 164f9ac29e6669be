/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lp_elf.h - a patch object (x86-64 ELF relocatable) parsed, laid out and
 * linked against the guest kernel's symbols.
 *
 * Two steps so that the caller can find room in the guest first:
 * lp_obj_open() parses and checks the object and reports the sizes it
 * needs; lp_obj_link() lays it out at the guest addresses given, applies
 * every relocation and decodes the patch's descriptors.  Nothing here
 * touches the guest.
 *
 * The same loader links the guest agent (guest-agent/src), which is not a
 * patch: lp_obj_open_pieces() opens any relocatable object, and
 * lp_obj_link_pieces() links chosen sections of it ("pieces") back to back
 * at a guest address, with the same relocation checks.
 */
#ifndef GP_LP_ELF_H
#define GP_LP_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gp_error.h"

#define LP_NAME_MAX 64
#define LP_SYM_MAX 128
#define LP_MAX_FUNCS 64

struct lp_obj;

/* Resolves an undefined symbol of the patch against the guest kernel. */
typedef struct gp_error *(*lp_resolve_fn)(void *arg, const char *name,
					  uint64_t *addr);

/* A resolver's answer for __x86_return_thunk where the guest kernel
 * returns with a plain `ret` (no return thunk in use): each `jmp rel32`
 * to it becomes `ret` and int3 in place, as the kernel's own
 * patch_return() does; a conditional jump to it is refused. */
#define LP_SYM_RET_INLINE 1ull

struct lp_func {
	char old_name[LP_SYM_MAX];
	unsigned long old_pos;	/* 0: must be unique */
	uint64_t new_addr;	/* guest address of the replacement */
};

struct lp_image {
	char name[LP_NAME_MAX];
	char build_id[48];	/* "" when the patch names none */
	bool replace;		/* GP_PATCH_REPLACE: atomic replace */
	uint8_t *code;		/* host copy, code_size bytes, for code_va */
	size_t code_size;
	uint8_t *data;		/* host copy, data_size bytes, for data_va */
	size_t data_size;
	uint64_t code_va, data_va;
	/* Bytes the sections fill; the rest of the pages is zero
	 * (lp_write_alloc writes only bytes that differ). */
	size_t code_used, data_used;
	struct lp_func funcs[LP_MAX_FUNCS];
	int nr_funcs;
	/* The patch's own ORC tables, in its data pages (a livepatch module's
	 * .orc_unwind_ip/.orc_unwind, relocated and sorted): orc_n 32-bit
	 * self-relative ips at orc_va, then orc_n 6-byte entries, in the guest
	 * kernel's ORC format; orc_n 0: none. */
	uint64_t orc_va;
	uint32_t orc_n;
	/* A livepatch module with callbacks or an exit function: its struct
	 * klp_patch and its exit (0: none), kept in the region records
	 * (lp_kmod_cb.c); both 0 otherwise. */
	uint64_t kmod_klp_va, kmod_exit_fn;
};

/* Parse a patch object. path is for messages. The object is copied. */
struct gp_error *lp_obj_open(const void *elf, size_t len, const char *path,
			     struct lp_obj **out);
struct gp_error *lp_obj_open_file(const char *path, struct lp_obj **out);
/* Page-rounded bytes needed for code (RX) and data (RW). */
void lp_obj_sizes(const struct lp_obj *o, size_t *code, size_t *data);
/* Lay out at code_va/data_va, resolve, relocate, decode descriptors. */
struct gp_error *lp_obj_link(struct lp_obj *o, uint64_t code_va,
			     uint64_t data_va, lp_resolve_fn resolve,
			     void *arg, struct lp_image *img);

/* Parse an object whose sections are linked as pieces (no descriptors
 * needed); lp_obj_link() refuses it. */
struct gp_error *lp_obj_open_pieces(const void *elf, size_t len, const char *path,
				    struct lp_obj **out);

#define LP_PIECES_MAX 96

struct lp_piece {
	const char *section;	/* the object's section to place */
	lp_resolve_fn resolve;	/* its undefined symbols; NULL: it has none */
	void *arg;
};

/*
 * Place pieces[0..n) contiguously from va into buf (cap bytes; *len gets
 * the bytes used) and relocate them.  A piece may be placed several
 * times: a symbol of its own section means that placement; a symbol of
 * another piece's section needs that section placed exactly once (an
 * error names it otherwise); undefined symbols go to the piece's
 * resolver.  A section's alignment must hold where it falls: pieces are
 * never padded.  buf is written only once every piece is found and fits;
 * after a relocation error its contents are undefined and *len is 0.
 */
struct gp_error *lp_obj_link_pieces(struct lp_obj *o, uint64_t va,
				    const struct lp_piece *pieces, size_t n,
				    uint8_t *buf, size_t cap, size_t *len);
/* What the object says of itself, without linking it: its name, the
 * kernel build id it was built for ("" if none), atomic replace. */
struct gp_error *lp_obj_describe(const struct lp_obj *o, char name[LP_NAME_MAX],
				 char build_id[48], bool *replace);
void lp_obj_close(struct lp_obj *o);
void lp_image_free(struct lp_image *img);

#endif
