// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * lp_elf.c - the loader: x86-64 relocatable objects parsed, checked, laid
 * out at guest addresses and relocated; patches (lp_obj_link) and the
 * guest-agent's pieces (lp_obj_link_pieces) alike.
 * (About 750 lines: both link modes share the section table, the symbol
 * rules and the one relocation routine with its checks, so that the
 * guest-agent gets exactly the checks a patch gets.)
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lp_elf.h"
#include "lp_agent.h"

#define PAGE 4096ull
#define MAX_OBJ (64u << 20)
#define MAX_SECTIONS 4096

/* Must match guest-agent/include/guestpatch.h. */
struct gp_patch_desc_raw {
	char name[64];
	char build_id[48];
	uint64_t flags;		/* GP_PATCH_F_* */
};
struct gp_func_desc_raw {
	char old_name[128];
	uint64_t old_pos;
	uint64_t new_func;
};

enum sec_kind { SEC_SKIP, SEC_CODE, SEC_DATA, SEC_DESC };

struct sec {
	const char *name;
	enum sec_kind kind;
	GElf_Shdr sh;
	uint64_t off;		/* offset in its area */
	uint8_t *host;		/* where its bytes are, once linked */
	uint64_t va;		/* guest address, once linked */
};

struct lp_obj {
	char *path;
	void *buf;
	size_t len;
	Elf *elf;
	size_t nsec;
	struct sec *secs;
	size_t code_size, data_size;	/* page-rounded */
	size_t code_used, data_used;	/* bytes the sections fill */
	uint8_t *desc_patch, *desc_funcs;	/* host-only copies */
	size_t desc_funcs_size;
	int patch_sec, funcs_sec;
	bool pieces;		/* opened by lp_obj_open_pieces(): not a patch */
};

/* Sections whose semantics need the guest's runtime machinery, which a
 * patch loaded from outside cannot register. */
static const struct {
	const char *prefix;
	const char *why;
} refused[] = {
	{ ".altinstr", "alternatives (apply-time CPU feature patching)" },
	{ "__jump_table", "jump labels (static keys)" },
	{ ".static_call", "static calls" },
	{ "__mcount_loc", "ftrace call sites (build without -pg/-mfentry)" },
	{ "__patchable_function_entries", "patchable function entries" },
	{ "__ex_table", "exception table entries (uaccess fixups)" },
	{ "__bug_table", "BUG()/WARN() entries" },
	{ ".smp_locks", "SMP lock prefixes" },
	{ ".data..percpu", "per-cpu variables" },
	{ ".init.", "init sections" },
	{ ".exit.", "exit sections" },
	{ ".retpoline_sites", "objtool retpoline sites" },
	{ ".return_sites", "objtool return sites" },
	{ ".call_sites", "objtool call sites" },
	{ ".orc_unwind", "ORC data" },
	{ ".gnu.linkonce.this_module", "a kernel module descriptor (this is a module, not a guestpatch object)" },
};

static struct gp_error *obj_err(const struct lp_obj *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static struct gp_error *obj_err(const struct lp_obj *o, const char *fmt, ...)
{
	struct gp_error *err;
	char *msg;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	err = gp_error_create(GP_ERR_INVAL, "%s: %s", o->path,
			      msg ? msg : "invalid patch object");
	free(msg);
	return err;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	if (a < 1)
		a = 1;
	return (v + a - 1) / a * a;
}

static struct gp_error *classify(struct lp_obj *o, bool patch)
{
	size_t shstrndx, i;
	Elf_Scn *scn = NULL;

	if (elf_getshdrstrndx(o->elf, &shstrndx) || elf_getshdrnum(o->elf, &o->nsec))
		return obj_err(o, "no section headers: %s", elf_errmsg(-1));
	if (o->nsec == 0 || o->nsec > MAX_SECTIONS)
		return obj_err(o, "%zu sections", o->nsec);
	o->secs = calloc(o->nsec, sizeof(*o->secs));
	if (!o->secs)
		return &gp_error_nomem;
	o->patch_sec = o->funcs_sec = -1;
	while ((scn = elf_nextscn(o->elf, scn))) {
		struct sec *s;

		i = elf_ndxscn(scn);
		if (i >= o->nsec)
			return obj_err(o, "bad section index %zu", i);
		s = &o->secs[i];
		if (!gelf_getshdr(scn, &s->sh))
			return obj_err(o, "section %zu: %s", i, elf_errmsg(-1));
		s->name = elf_strptr(o->elf, shstrndx, s->sh.sh_name);
		if (!s->name)
			return obj_err(o, "section %zu has no name", i);
		if (s->sh.sh_type != SHT_NOBITS &&
		    (s->sh.sh_offset > o->len ||
		     s->sh.sh_size > o->len - s->sh.sh_offset))
			return obj_err(o, "section %s lies outside the file", s->name);
		/* .bss has no bytes in the file: bound it like the rest. */
		if (s->sh.sh_size > MAX_OBJ)
			return obj_err(o, "section %s is %llu bytes", s->name,
				       (unsigned long long)s->sh.sh_size);
		if (s->sh.sh_addralign > PAGE)
			return obj_err(o, "section %s wants %llu-byte alignment",
				       s->name, (unsigned long long)s->sh.sh_addralign);
		for (size_t r = 0; r < ARRAY_SIZE(refused); r++)
			if (!strncmp(s->name, refused[r].prefix,
				     strlen(refused[r].prefix)) &&
			    s->sh.sh_size)
				return obj_err(o, "section %s holds %s, which guestpatch cannot honour",
					       s->name, refused[r].why);
		/* One descriptor section of each kind: the host copies are
		 * sized from it, and a second would be copied and relocated
		 * into the same buffer. */
		if (!strcmp(s->name, ".gp.patch")) {
			if (o->patch_sec >= 0)
				return obj_err(o, "more than one .gp.patch section (sections %d and %zu): one GP_PATCH per object",
					       o->patch_sec, i);
			s->kind = SEC_DESC;
			o->patch_sec = (int)i;
		} else if (!strcmp(s->name, ".gp.funcs")) {
			if (o->funcs_sec >= 0)
				return obj_err(o, "more than one .gp.funcs section (sections %d and %zu)",
					       o->funcs_sec, i);
			s->kind = SEC_DESC;
			o->funcs_sec = (int)i;
		} else if (!(s->sh.sh_flags & SHF_ALLOC) || !s->sh.sh_size) {
			s->kind = SEC_SKIP;
		} else if (!strncmp(s->name, ".gp.", 4)) {
			return obj_err(o, "unknown descriptor section %s", s->name);
		} else if (s->sh.sh_flags & SHF_EXECINSTR) {
			s->kind = SEC_CODE;
			o->code_size = align_up(o->code_size, s->sh.sh_addralign);
			s->off = o->code_size;
			o->code_size += s->sh.sh_size;
		} else {
			s->kind = SEC_DATA;
			o->data_size = align_up(o->data_size, s->sh.sh_addralign);
			s->off = o->data_size;
			o->data_size += s->sh.sh_size;
		}
	}
	if (!patch)
		return NULL;	/* pieces are checked when placed */
	if (o->patch_sec < 0)
		return obj_err(o, "no .gp.patch section: declare the patch with GP_PATCH(\"name\") (guestpatch.h)");
	if (o->funcs_sec < 0)
		return obj_err(o, "no .gp.funcs section: the patch replaces no function (GP_REPLACE)");
	if (o->secs[o->patch_sec].sh.sh_size != sizeof(struct gp_patch_desc_raw))
		return obj_err(o, ".gp.patch has %llu bytes, expected %zu (one GP_PATCH, matching guestpatch.h)",
			       (unsigned long long)o->secs[o->patch_sec].sh.sh_size,
			       sizeof(struct gp_patch_desc_raw));
	if (o->secs[o->funcs_sec].sh.sh_size % sizeof(struct gp_func_desc_raw) ||
	    o->secs[o->funcs_sec].sh.sh_size / sizeof(struct gp_func_desc_raw) > LP_MAX_FUNCS)
		return obj_err(o, ".gp.funcs has %llu bytes: not a list of at most %d GP_REPLACE entries",
			       (unsigned long long)o->secs[o->funcs_sec].sh.sh_size,
			       LP_MAX_FUNCS);
	if (!o->code_size)
		return obj_err(o, "no code");
	o->code_used = o->code_size;
	o->data_used = o->data_size;
	o->code_size = align_up(o->code_size, PAGE);
	o->data_size = align_up(o->data_size, PAGE);
	return NULL;
}

static struct gp_error *obj_open(const void *elf, size_t len, const char *path,
				 bool patch, struct lp_obj **out)
{
	struct gp_error *err;
	struct lp_obj *o;
	GElf_Ehdr eh;

	*out = NULL;
	o = calloc(1, sizeof(*o));
	if (!o)
		return &gp_error_nomem;
	o->path = strdup(path ? path : "patch");
	o->buf = malloc(len ? len : 1);
	if (!o->path || !o->buf) {
		lp_obj_close(o);
		return &gp_error_nomem;
	}
	memcpy(o->buf, elf, len);
	o->len = len;
	elf_version(EV_CURRENT);
	o->elf = elf_memory(o->buf, len);
	if (!o->elf || elf_kind(o->elf) != ELF_K_ELF || !gelf_getehdr(o->elf, &eh)) {
		err = obj_err(o, "not an ELF file");
		goto fail;
	}
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64 ||
	    eh.e_type != ET_REL) {
		err = obj_err(o, "not an x86-64 relocatable object (ELF class %d, machine %d, type %d)",
			      eh.e_ident[EI_CLASS], eh.e_machine, eh.e_type);
		goto fail;
	}
	o->pieces = !patch;
	err = classify(o, patch);
	if (err)
		goto fail;
	*out = o;
	return NULL;
fail:
	lp_obj_close(o);
	return err;
}

struct gp_error *lp_obj_open(const void *elf, size_t len, const char *path,
			     struct lp_obj **out)
{
	return obj_open(elf, len, path, true, out);
}

struct gp_error *lp_obj_open_pieces(const void *elf, size_t len, const char *path,
				    struct lp_obj **out)
{
	return obj_open(elf, len, path ? path : "pieces", false, out);
}

struct gp_error *lp_obj_open_file(const char *path, struct lp_obj **out)
{
	struct gp_error *err;
	struct stat st;
	void *buf;
	int fd;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return gp_error_os(errno, "open %s", path);
	if (fstat(fd, &st) < 0 || st.st_size <= 0 || st.st_size > MAX_OBJ) {
		close(fd);
		return gp_error_create(GP_ERR_INVAL, "%s: empty or larger than %u MiB",
				       path, MAX_OBJ >> 20);
	}
	buf = malloc((size_t)st.st_size);
	if (!buf) {
		close(fd);
		return &gp_error_nomem;
	}
	if (read(fd, buf, (size_t)st.st_size) != st.st_size) {
		err = gp_error_os(errno ? errno : EIO, "read %s", path);
	} else {
		err = lp_obj_open(buf, (size_t)st.st_size, path, out);
	}
	free(buf);
	close(fd);
	return err;
}

void lp_obj_sizes(const struct lp_obj *o, size_t *code, size_t *data)
{
	*code = o->code_size;
	*data = o->data_size;
}

static const char *rel_name(unsigned type)
{
	switch (type) {
	case R_X86_64_GOTPCREL: return "R_X86_64_GOTPCREL";
	case R_X86_64_GOTPCRELX: return "R_X86_64_GOTPCRELX";
	case R_X86_64_REX_GOTPCRELX: return "R_X86_64_REX_GOTPCRELX";
	case R_X86_64_TPOFF32: return "R_X86_64_TPOFF32";
	case R_X86_64_GOT32: return "R_X86_64_GOT32";
	case R_X86_64_COPY: return "R_X86_64_COPY";
	case R_X86_64_16: return "R_X86_64_16";
	case R_X86_64_8: return "R_X86_64_8";
	default: return "an unsupported type";
	}
}

/*
 * How a relocation's symbol gets its value: a patch has one placement per
 * section and one resolver; pieces are placed at will, each with its own.
 */
struct sym_env {
	struct gp_error *(*value)(struct lp_obj *o, const struct sym_env *env,
				  const GElf_Sym *sym, const char *name, uint64_t *val);
	/* patch */
	lp_resolve_fn resolve;
	void *arg;
	/* pieces */
	const struct lp_piece *pieces;
	const int *piece_sec;		/* section index of each piece */
	const uint64_t *piece_va;	/* guest address of each piece */
	size_t npieces, cur;		/* all pieces; the one being relocated */
};

/* A symbol the object itself defines, checked the same way for both. */
static struct gp_error *defined_sym_sec(struct lp_obj *o, const GElf_Sym *sym,
					const char *name, struct sec **s)
{
	if (sym->st_shndx == SHN_COMMON)
		return obj_err(o, "common symbol '%s': build with -fno-common", name);
	if (sym->st_shndx >= o->nsec || sym->st_shndx >= SHN_LORESERVE)
		return obj_err(o, "symbol '%s' in section %u", name, sym->st_shndx);
	*s = &o->secs[sym->st_shndx];
	if ((*s)->kind == SEC_SKIP || (*s)->kind == SEC_DESC)
		return obj_err(o, "symbol '%s' lies in section %s, which is not loaded",
			       name, (*s)->name);
	if (sym->st_value > (*s)->sh.sh_size)
		return obj_err(o, "symbol '%s' lies past the end of %s", name, (*s)->name);
	return NULL;
}

static struct gp_error *patch_sym_value(struct lp_obj *o, const struct sym_env *env,
					const GElf_Sym *sym, const char *name, uint64_t *val)
{
	struct gp_error *err;
	struct sec *s;

	if (sym->st_shndx == SHN_UNDEF) {
		if (!*name)
			return obj_err(o, "relocation against an unnamed undefined symbol");
		if (!strcmp(name, "__fentry__") || !strcmp(name, "mcount") ||
		    !strcmp(name, "__mcount"))
			return obj_err(o, "the patch calls %s: build it without -pg/-mfentry (vmm build does)",
				       name);
		err = env->resolve(env->arg, name, val);
		return err ? gp_error_wrap(err, "%s: undefined symbol '%s'", o->path,
					   name) : NULL;
	}
	if (sym->st_shndx == SHN_ABS) {
		*val = sym->st_value;
		return NULL;
	}
	if ((err = defined_sym_sec(o, sym, name, &s)))
		return err;
	*val = s->va + sym->st_value;
	return NULL;
}

/* A `jmp rel32` to the return thunk becomes the guest's plain return. */
static struct gp_error *ret_inline(struct lp_obj *o, const struct sec *target, uint8_t *host,
				   uint64_t off, unsigned type, int64_t A, const char *name)
{
	uint8_t jmp[LP_AGENT_JMP_SIZE], ret[LP_AGENT_JMP_SIZE];
	struct gp_error *err;

	if ((err = lp_agent_jmp(0, LP_AGENT_JMP_SIZE, jmp)) || (err = lp_agent_ret_site(ret)))
		return err;
	if ((type != R_X86_64_PLT32 && type != R_X86_64_PC32) || A != -4 || off < 1 ||
	    off + 4 > target->sh.sh_size)
		return obj_err(o, "%s+0x%llx: a reference to '%s' that is not a jump to it",
			       target->name, (unsigned long long)off, name);
	if (host[off - 1] != jmp[0])
		return obj_err(o, "%s+0x%llx: a conditional or indirect use of '%s': the guest kernel returns with a plain ret, which only a 5-byte jmp can become",
			       target->name, (unsigned long long)off, name);
	memcpy(host + off - 1, ret, sizeof(ret));
	return NULL;
}

static struct gp_error *apply_rela(struct lp_obj *o, struct sec *rs, Elf_Scn *rscn,
				   uint8_t *host, uint64_t va, const struct sym_env *env)
{
	struct sec *target;
	Elf_Scn *symscn;
	GElf_Shdr symsh;
	Elf_Data *rdata, *symdata;
	size_t nrel, nsyms;

	if (rs->sh.sh_info >= o->nsec)
		return obj_err(o, "%s applies to section %u", rs->name, rs->sh.sh_info);
	target = &o->secs[rs->sh.sh_info];
	if (target->kind == SEC_SKIP)
		return NULL;	/* debug info and the like */
	if (!host)	/* a patch: the section's own placement */
		host = target->host, va = target->va;
	symscn = elf_getscn(o->elf, rs->sh.sh_link);
	if (!symscn || !gelf_getshdr(symscn, &symsh) || symsh.sh_type != SHT_SYMTAB)
		return obj_err(o, "%s has no symbol table", rs->name);
	rdata = elf_getdata(rscn, NULL);
	symdata = elf_getdata(symscn, NULL);
	if (!rdata || !symdata || !symsh.sh_entsize || !rs->sh.sh_entsize)
		return obj_err(o, "%s: unreadable", rs->name);
	nrel = rs->sh.sh_size / rs->sh.sh_entsize;
	nsyms = symsh.sh_size / symsh.sh_entsize;
	for (size_t i = 0; i < nrel; i++) {
		GElf_Rela r;
		uint64_t S, P, v;
		int64_t A;
		unsigned type;
		const char *name = "?";
		struct gp_error *err;
		uint8_t *where;
		unsigned width;

		if (!gelf_getrela(rdata, (int)i, &r))
			return obj_err(o, "%s: entry %zu unreadable", rs->name, i);
		type = (unsigned)GELF_R_TYPE(r.r_info);
		if (type == R_X86_64_NONE)
			continue;
		switch (type) {
		case R_X86_64_64:
		case R_X86_64_PC64: width = 8; break;
		case R_X86_64_PC32:
		case R_X86_64_PLT32:
		case R_X86_64_32:
		case R_X86_64_32S: width = 4; break;
		default:
			return obj_err(o, "%s entry %zu: relocation type %u (%s) is not supported",
				       rs->name, i, type, rel_name(type));
		}
		if (r.r_offset > target->sh.sh_size ||
		    width > target->sh.sh_size - r.r_offset)
			return obj_err(o, "%s entry %zu: offset 0x%llx outside %s",
				       rs->name, i, (unsigned long long)r.r_offset,
				       target->name);
		{
			size_t idx = GELF_R_SYM(r.r_info);
			GElf_Sym sym;

			if (idx >= nsyms || !gelf_getsym(symdata, (int)idx, &sym))
				return obj_err(o, "relocation names symbol %zu of %zu", idx, nsyms);
			name = elf_strptr(o->elf, symsh.sh_link, sym.st_name);
			if (!name)
				name = "?";
			/* A section symbol (local labels) reads as its section. */
			if (!*name && sym.st_shndx != SHN_UNDEF && sym.st_shndx < o->nsec)
				name = o->secs[sym.st_shndx].name;
			err = env->value(o, env, &sym, name, &S);
			if (err)
				return err;
		}
		A = r.r_addend;
		P = va + r.r_offset;
		where = host + r.r_offset;
		if (S == LP_SYM_RET_INLINE) {
			if ((err = ret_inline(o, target, host, r.r_offset, type, A, name)))
				return err;
			continue;
		}
		switch (type) {
		case R_X86_64_64:
			v = S + (uint64_t)A;
			memcpy(where, &v, 8);
			break;
		case R_X86_64_PC64:
			v = S + (uint64_t)A - P;
			memcpy(where, &v, 8);
			break;
		case R_X86_64_PC32:
		case R_X86_64_PLT32: {
			int64_t d = (int64_t)(S + (uint64_t)A - P);
			int32_t d32 = (int32_t)d;

			if (d != d32 && o->pieces)
				return gp_error_addr(GP_ERR_UNSUPPORTED, P,
						     "%s: relocation to '%s' (0x%llx) from %s+0x%llx at 0x%llx does not reach (%lld bytes, beyond a 32-bit displacement)",
						     o->path, name, (unsigned long long)S,
						     target->name, (unsigned long long)r.r_offset,
						     (unsigned long long)P, (long long)d);
			if (d != d32)
				return obj_err(o, "relocation to '%s' from %s+0x%llx does not reach (%lld bytes): the patch must load within 2 GiB of the kernel",
					       name, target->name,
					       (unsigned long long)r.r_offset, (long long)d);
			memcpy(where, &d32, 4);
			break;
		}
		case R_X86_64_32: {
			uint64_t x = S + (uint64_t)A;
			uint32_t x32 = (uint32_t)x;

			if (x != x32)
				return obj_err(o, "R_X86_64_32 to '%s' in %s: value 0x%llx does not fit (build with -mcmodel=kernel)",
					       name, target->name, (unsigned long long)x);
			memcpy(where, &x32, 4);
			break;
		}
		case R_X86_64_32S: {
			int64_t x = (int64_t)(S + (uint64_t)A);
			int32_t x32 = (int32_t)x;

			if (x != x32)
				return obj_err(o, "R_X86_64_32S to '%s' in %s: value 0x%llx does not fit",
					       name, target->name, (unsigned long long)x);
			memcpy(where, &x32, 4);
			break;
		}
		}
	}
	return NULL;
}

struct gp_error *lp_obj_link(struct lp_obj *o, uint64_t code_va,
			     uint64_t data_va, lp_resolve_fn resolve,
			     void *arg, struct lp_image *img)
{
	struct gp_error *err;
	Elf_Scn *scn = NULL;
	struct gp_patch_desc_raw pd;
	const struct sym_env env = { .value = patch_sym_value, .resolve = resolve, .arg = arg };
	size_t nf;

	memset(img, 0, sizeof(*img));
	if (o->pieces)
		return obj_err(o, "opened as pieces, not as a patch");
	img->code = calloc(1, o->code_size);
	img->data = calloc(1, o->data_size ? o->data_size : 1);
	o->desc_patch = calloc(1, sizeof(struct gp_patch_desc_raw));
	o->desc_funcs_size = o->secs[o->funcs_sec].sh.sh_size;
	o->desc_funcs = calloc(1, o->desc_funcs_size ? o->desc_funcs_size : 1);
	if (!img->code || !img->data || !o->desc_patch || !o->desc_funcs) {
		err = &gp_error_nomem;
		goto fail;
	}
	img->code_size = o->code_size;
	img->code_used = o->code_used;
	img->data_used = o->data_used;
	img->data_size = o->data_size;
	img->code_va = code_va;
	img->data_va = data_va;
	/* Place every loaded section and copy its bytes. */
	for (size_t i = 0; i < o->nsec; i++) {
		struct sec *s = &o->secs[i];

		switch (s->kind) {
		case SEC_CODE:
			s->host = img->code + s->off;
			s->va = code_va + s->off;
			break;
		case SEC_DATA:
			s->host = img->data + s->off;
			s->va = data_va + s->off;
			break;
		case SEC_DESC:
			s->host = (int)i == o->patch_sec ? o->desc_patch : o->desc_funcs;
			s->va = 0;
			break;
		default:
			continue;
		}
		if (s->sh.sh_type != SHT_NOBITS)
			memcpy(s->host, (uint8_t *)o->buf + s->sh.sh_offset, s->sh.sh_size);
	}
	while ((scn = elf_nextscn(o->elf, scn))) {
		struct sec *s = &o->secs[elf_ndxscn(scn)];

		if (s->sh.sh_type == SHT_REL) {
			err = obj_err(o, "%s: REL relocations (without addends) are not supported",
				      s->name);
			goto fail;
		}
		if (s->sh.sh_type != SHT_RELA)
			continue;
		err = apply_rela(o, s, scn, NULL, 0, &env);
		if (err)
			goto fail;
	}
	/* Descriptors, now relocated. */
	memcpy(&pd, o->desc_patch, sizeof(pd));
	if (!memchr(pd.name, 0, sizeof(pd.name)) || !pd.name[0] ||
	    !memchr(pd.build_id, 0, sizeof(pd.build_id))) {
		err = obj_err(o, ".gp.patch: the patch name must be 1..%zu characters",
			      sizeof(pd.name) - 1);
		goto fail;
	}
	for (const char *c = pd.name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' || *c == '.')) {
			err = obj_err(o, "patch name '%s': use letters, digits, '-', '_', '.'",
				      pd.name);
			goto fail;
		}
	snprintf(img->name, sizeof(img->name), "%s", pd.name);
	snprintf(img->build_id, sizeof(img->build_id), "%s", pd.build_id);
	if (pd.flags & ~1ull) {
		err = obj_err(o, ".gp.patch: unknown flags 0x%llx", (unsigned long long)pd.flags);
		goto fail;
	}
	img->replace = pd.flags & 1;
	nf = o->desc_funcs_size / sizeof(struct gp_func_desc_raw);
	if (!nf) {
		err = obj_err(o, "the patch replaces no function");
		goto fail;
	}
	for (size_t i = 0; i < nf; i++) {
		struct gp_func_desc_raw fd;
		struct lp_func *f = &img->funcs[i];

		memcpy(&fd, o->desc_funcs + i * sizeof(fd), sizeof(fd));
		if (!memchr(fd.old_name, 0, sizeof(fd.old_name)) || !fd.old_name[0]) {
			err = obj_err(o, "GP_REPLACE entry %zu has no function name", i);
			goto fail;
		}
		if (fd.new_func < code_va || fd.new_func >= code_va + o->code_size) {
			err = obj_err(o, "GP_REPLACE(%s): the replacement is not a function of this patch",
				      fd.old_name);
			goto fail;
		}
		for (size_t j = 0; j < i; j++)
			if (!strcmp(img->funcs[j].old_name, fd.old_name) &&
			    img->funcs[j].old_pos == fd.old_pos) {
				err = obj_err(o, "%s is replaced twice", fd.old_name);
				goto fail;
			}
		snprintf(f->old_name, sizeof(f->old_name), "%s", fd.old_name);
		f->old_pos = (unsigned long)fd.old_pos;
		f->new_addr = fd.new_func;
	}
	img->nr_funcs = (int)nf;
	return NULL;
fail:
	lp_image_free(img);
	return err;
}

/*
 * A symbol seen from piece env->cur: its own section means this very
 * placement (a piece placed once per task refers to its own copy);
 * another section must be placed exactly once, or the reference would
 * be ambiguous (several) or dangling (none).
 */
static struct gp_error *piece_sym_value(struct lp_obj *o, const struct sym_env *env,
					const GElf_Sym *sym, const char *name, uint64_t *val)
{
	const struct lp_piece *p = &env->pieces[env->cur];
	const char *from = o->secs[env->piece_sec[env->cur]].name;
	struct gp_error *err;
	struct sec *s;
	size_t placed = 0, at = 0;

	if (sym->st_shndx == SHN_UNDEF) {
		if (!*name)
			return obj_err(o, "piece %s: relocation against an unnamed undefined symbol",
				       from);
		if (!p->resolve)
			return gp_error_create(GP_ERR_NOTFOUND,
					       "%s: piece %s: undefined symbol '%s' and nothing to resolve it",
					       o->path, from, name);
		err = p->resolve(p->arg, name, val);
		return err ? gp_error_wrap(err, "%s: piece %s: undefined symbol '%s'", o->path,
					   from, name) : NULL;
	}
	if (sym->st_shndx == SHN_ABS) {
		*val = sym->st_value;
		return NULL;
	}
	if ((err = defined_sym_sec(o, sym, name, &s)))
		return err;
	if (sym->st_shndx == (size_t)env->piece_sec[env->cur]) {
		*val = env->piece_va[env->cur] + sym->st_value;
		return NULL;
	}
	for (size_t i = 0; i < env->npieces; i++)
		if ((size_t)env->piece_sec[i] == sym->st_shndx) {
			placed++;
			at = i;
		}
	if (placed != 1)
		return obj_err(o, "piece %s refers to '%s' in %s, which is placed %zu times (must be once)",
			       from, name, s->name, placed);
	*val = env->piece_va[at] + sym->st_value;
	return NULL;
}

struct gp_error *lp_obj_link_pieces(struct lp_obj *o, uint64_t va,
				    const struct lp_piece *pieces, size_t n,
				    uint8_t *buf, size_t cap, size_t *len)
{
	int sec_of[LP_PIECES_MAX];
	uint64_t va_of[LP_PIECES_MAX];
	size_t off_of[LP_PIECES_MAX];
	struct sym_env env = { .value = piece_sym_value, .pieces = pieces,
			       .piece_sec = sec_of, .piece_va = va_of, .npieces = n };
	size_t total = 0;
	struct gp_error *err;

	*len = 0;
	if (n > LP_PIECES_MAX)
		return gp_error_create(GP_ERR_LIMIT, "%s: %zu pieces, at most %d", o->path, n,
				       LP_PIECES_MAX);
	/* Find and lay out every piece before writing a byte. */
	for (size_t i = 0; i < n; i++) {
		const struct sec *s = NULL;
		uint64_t align;

		for (size_t j = 0; j < o->nsec && pieces[i].section; j++)
			if (o->secs[j].name && !strcmp(o->secs[j].name, pieces[i].section)) {
				s = &o->secs[j];
				sec_of[i] = (int)j;
				break;
			}
		if (!s)
			return gp_error_create(GP_ERR_NOTFOUND, "%s: no section %s", o->path,
					       pieces[i].section ? pieces[i].section : "(null)");
		if (s->kind != SEC_CODE && s->kind != SEC_DATA)
			return obj_err(o, "section %s is not a piece (not loaded, or empty)", s->name);
		align = s->sh.sh_addralign ? s->sh.sh_addralign : 1;
		if ((va + total) % align)
			return obj_err(o, "piece %s wants %llu-byte alignment but falls at 0x%llx: pieces are placed back to back",
				       s->name, (unsigned long long)align,
				       (unsigned long long)(va + total));
		off_of[i] = total;
		va_of[i] = va + total;
		total += s->sh.sh_size;	/* each below MAX_OBJ: no overflow */
	}
	if (total > cap)
		return gp_error_create(GP_ERR_LIMIT, "%s: the pieces need %zu bytes, the buffer holds %zu",
				       o->path, total, cap);
	for (size_t i = 0; i < n; i++) {
		const struct sec *s = &o->secs[sec_of[i]];

		if (s->sh.sh_type == SHT_NOBITS)
			memset(buf + off_of[i], 0, s->sh.sh_size);
		else
			memcpy(buf + off_of[i], (uint8_t *)o->buf + s->sh.sh_offset, s->sh.sh_size);
	}
	/* Relocate each placement with its own view of the symbols. */
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < o->nsec; j++) {
			struct sec *rs = &o->secs[j];
			Elf_Scn *scn;

			if ((rs->sh.sh_type != SHT_RELA && rs->sh.sh_type != SHT_REL) ||
			    rs->sh.sh_info != (unsigned)sec_of[i])
				continue;
			if (rs->sh.sh_type == SHT_REL)
				return obj_err(o, "%s: REL relocations (without addends) are not supported",
					       rs->name);
			scn = elf_getscn(o->elf, j);
			if (!scn)
				return obj_err(o, "%s: %s", rs->name, elf_errmsg(-1));
			env.cur = i;
			err = apply_rela(o, rs, scn, buf + off_of[i], va_of[i], &env);
			if (err)
				return err;
		}
	}
	*len = total;
	return NULL;
}

struct gp_error *lp_obj_describe(const struct lp_obj *o, char name[LP_NAME_MAX],
				 char build_id[48], bool *replace)
{
	const struct sec *s = &o->secs[o->patch_sec];
	struct gp_patch_desc_raw pd;

	/* Checked at open: the section is there and exactly this size.  Its
	 * name and build id are bytes, no relocation touches them. */
	if (s->sh.sh_type == SHT_NOBITS || s->sh.sh_offset > o->len ||
	    sizeof(pd) > o->len - s->sh.sh_offset)
		return obj_err(o, ".gp.patch has no contents");
	memcpy(&pd, (const uint8_t *)o->buf + s->sh.sh_offset, sizeof(pd));
	if (!memchr(pd.name, 0, sizeof(pd.name)) || !pd.name[0] ||
	    !memchr(pd.build_id, 0, sizeof(pd.build_id)))
		return obj_err(o, ".gp.patch: malformed name or build id");
	snprintf(name, LP_NAME_MAX, "%s", pd.name);
	snprintf(build_id, 48, "%s", pd.build_id);
	*replace = pd.flags & 1;
	return NULL;
}

void lp_obj_close(struct lp_obj *o)
{
	if (!o)
		return;
	if (o->elf)
		elf_end(o->elf);
	free(o->buf);
	free(o->path);
	free(o->secs);
	free(o->desc_patch);
	free(o->desc_funcs);
	free(o);
}

void lp_image_free(struct lp_image *img)
{
	free(img->code);
	free(img->data);
	img->code = img->data = NULL;
}
