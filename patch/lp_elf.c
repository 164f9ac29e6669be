// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * lp_elf.c - the loader: x86-64 relocatable objects parsed, checked, laid
 * out at guest addresses and relocated; patches (lp_obj_link) and the
 * guest-agent's pieces (lp_obj_link_pieces) alike.
 * (lines: about 850, because both link modes share the section table, the
 * symbol rules and the one relocation routine with its checks, so that the
 * guest-agent gets exactly the checks a patch gets; livepatch modules
 * (lp_kmod*.c) use the same insides through lp_elf_int.h.)
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
#include "lp_elf_int.h"
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

struct gp_error *lp_elf_err(const struct lp_obj *o, const char *fmt, ...)
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

/* A loaded section's offset in its area (code or data). */
static void place_sec(struct lp_obj *o, struct lp_sec *s)
{
	size_t *area = s->kind == LP_SEC_CODE ? &o->code_size : &o->data_size;

	*area = align_up(*area, s->sh.sh_addralign);
	s->off = *area;
	*area += s->sh.sh_size;
}

static struct gp_error *classify(struct lp_obj *o, bool patch)
{
	struct gp_error *err;
	size_t shstrndx, i;
	Elf_Scn *scn = NULL;

	if (elf_getshdrstrndx(o->elf, &shstrndx) || elf_getshdrnum(o->elf, &o->nsec))
		return lp_elf_err(o, "no section headers: %s", elf_errmsg(-1));
	if (o->nsec == 0 || o->nsec > MAX_SECTIONS)
		return lp_elf_err(o, "%zu sections", o->nsec);
	o->secs = calloc(o->nsec, sizeof(*o->secs));
	if (!o->secs)
		return &gp_error_nomem;
	o->patch_sec = o->funcs_sec = -1;
	while ((scn = elf_nextscn(o->elf, scn))) {
		struct lp_sec *s;

		i = elf_ndxscn(scn);
		if (i >= o->nsec)
			return lp_elf_err(o, "bad section index %zu", i);
		s = &o->secs[i];
		if (!gelf_getshdr(scn, &s->sh))
			return lp_elf_err(o, "section %zu: %s", i, elf_errmsg(-1));
		s->name = elf_strptr(o->elf, shstrndx, s->sh.sh_name);
		if (!s->name)
			return lp_elf_err(o, "section %zu has no name", i);
		if (s->sh.sh_type != SHT_NOBITS &&
		    (s->sh.sh_offset > o->len ||
		     s->sh.sh_size > o->len - s->sh.sh_offset))
			return lp_elf_err(o, "section %s lies outside the file", s->name);
		/* .bss has no bytes in the file: bound it like the rest. */
		if (s->sh.sh_size > MAX_OBJ)
			return lp_elf_err(o, "section %s is %llu bytes", s->name,
				       (unsigned long long)s->sh.sh_size);
		if (s->sh.sh_addralign > PAGE)
			return lp_elf_err(o, "section %s wants %llu-byte alignment",
				       s->name, (unsigned long long)s->sh.sh_addralign);
		if (o->mode == LP_MODE_KMOD || o->mode == LP_MODE_KMOD_RUN) {
			/* A kernel module: the loader's own rules (lp_kmod.c). */
			if ((err = lp_kmod_sec_kind(o, s, &s->kind)))
				return err;
			if (s->kind == LP_SEC_CODE || s->kind == LP_SEC_DATA)
				place_sec(o, s);
			continue;
		}
		for (size_t r = 0; r < ARRAY_SIZE(refused); r++)
			if (!strncmp(s->name, refused[r].prefix,
				     strlen(refused[r].prefix)) &&
			    s->sh.sh_size)
				return lp_elf_err(o, "section %s holds %s, which guestpatch cannot honour",
					       s->name, refused[r].why);
		/* One descriptor section of each kind: the host copies are
		 * sized from it, and a second would be copied and relocated
		 * into the same buffer. */
		if (!strcmp(s->name, ".gp.patch")) {
			if (o->patch_sec >= 0)
				return lp_elf_err(o, "more than one .gp.patch section (sections %d and %zu): one GP_PATCH per object",
					       o->patch_sec, i);
			s->kind = LP_SEC_DESC;
			o->patch_sec = (int)i;
		} else if (!strcmp(s->name, ".gp.funcs")) {
			if (o->funcs_sec >= 0)
				return lp_elf_err(o, "more than one .gp.funcs section (sections %d and %zu)",
					       o->funcs_sec, i);
			s->kind = LP_SEC_DESC;
			o->funcs_sec = (int)i;
		} else if (!(s->sh.sh_flags & SHF_ALLOC) || !s->sh.sh_size) {
			s->kind = LP_SEC_SKIP;
		} else if (!strncmp(s->name, ".gp.", 4)) {
			return lp_elf_err(o, "unknown descriptor section %s", s->name);
		} else {
			s->kind = s->sh.sh_flags & SHF_EXECINSTR ? LP_SEC_CODE : LP_SEC_DATA;
			place_sec(o, s);
		}
	}
	if (o->mode == LP_MODE_KMOD || o->mode == LP_MODE_KMOD_RUN)
		goto sizes;
	if (!patch)
		return NULL;	/* pieces are checked when placed */
	if (o->patch_sec < 0)
		return lp_elf_err(o, "no .gp.patch section: declare the patch with GP_PATCH(\"name\") (guestpatch.h)");
	if (o->funcs_sec < 0)
		return lp_elf_err(o, "no .gp.funcs section: the patch replaces no function (GP_REPLACE)");
	if (o->secs[o->patch_sec].sh.sh_size != sizeof(struct gp_patch_desc_raw))
		return lp_elf_err(o, ".gp.patch has %llu bytes, expected %zu (one GP_PATCH, matching guestpatch.h)",
			       (unsigned long long)o->secs[o->patch_sec].sh.sh_size,
			       sizeof(struct gp_patch_desc_raw));
	if (o->secs[o->funcs_sec].sh.sh_size % sizeof(struct gp_func_desc_raw) ||
	    o->secs[o->funcs_sec].sh.sh_size / sizeof(struct gp_func_desc_raw) > LP_MAX_FUNCS)
		return lp_elf_err(o, ".gp.funcs has %llu bytes: not a list of at most %d GP_REPLACE entries",
			       (unsigned long long)o->secs[o->funcs_sec].sh.sh_size,
			       LP_MAX_FUNCS);
sizes:
	if (!o->code_size)
		return lp_elf_err(o, "no code");
	o->code_used = o->code_size;
	o->data_used = o->data_size;
	o->code_size = align_up(o->code_size, PAGE);
	o->data_size = align_up(o->data_size, PAGE);
	return NULL;
}

struct gp_error *lp_elf_open(const void *elf, size_t len, const char *path,
			     enum lp_obj_mode mode, struct lp_obj **out)
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
		err = lp_elf_err(o, "not an ELF file");
		goto fail;
	}
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64 ||
	    eh.e_type != ET_REL) {
		err = lp_elf_err(o, "not an x86-64 relocatable object (ELF class %d, machine %d, type %d)",
			      eh.e_ident[EI_CLASS], eh.e_machine, eh.e_type);
		goto fail;
	}
	if (eh.e_shoff > len || (uint64_t)eh.e_shnum * eh.e_shentsize > len - eh.e_shoff) {
		err = lp_elf_err(o, "truncated or corrupt: its section header table (offset %llu, %u entries) lies past the end of the file (%zu bytes)",
				 (unsigned long long)eh.e_shoff, eh.e_shnum, len);
		goto fail;
	}
	o->mode = mode;
	o->pieces = mode == LP_MODE_PIECES;
	err = classify(o, mode == LP_MODE_PATCH);
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
	return lp_elf_open(elf, len, path, LP_MODE_PATCH, out);
}

struct gp_error *lp_obj_open_pieces(const void *elf, size_t len, const char *path,
				    struct lp_obj **out)
{
	return lp_elf_open(elf, len, path ? path : "pieces", LP_MODE_PIECES, out);
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

/* How a relocation's symbol gets its value (struct lp_sym_env,
 * lp_elf_int.h): a patch has one placement per section and one
 * resolver; pieces are placed at will, each with its own. */

/* A symbol the object itself defines, checked the same way for both. */
struct gp_error *lp_elf_defined_sym_sec(struct lp_obj *o, const GElf_Sym *sym,
					const char *name, struct lp_sec **s)
{
	if (sym->st_shndx == SHN_COMMON)
		return lp_elf_err(o, "common symbol '%s': build with -fno-common", name);
	if (sym->st_shndx >= o->nsec || sym->st_shndx >= SHN_LORESERVE)
		return lp_elf_err(o, "symbol '%s' in section %u", name, sym->st_shndx);
	*s = &o->secs[sym->st_shndx];
	if ((*s)->kind == LP_SEC_SKIP || (*s)->kind == LP_SEC_DESC)
		return lp_elf_err(o, "symbol '%s' lies in section %s, which is not loaded",
			       name, (*s)->name);
	if (sym->st_value > (*s)->sh.sh_size)
		return lp_elf_err(o, "symbol '%s' lies past the end of %s", name, (*s)->name);
	return NULL;
}

static struct gp_error *patch_sym_value(struct lp_obj *o, const struct lp_sym_env *env,
					const struct lp_rela_at *at, const GElf_Sym *sym, const char *name, uint64_t *val)
{
	struct gp_error *err;
	struct lp_sec *s;

	if (sym->st_shndx == SHN_UNDEF) {
		if (!*name)
			return lp_elf_err(o, "relocation against an unnamed undefined symbol");
		if (!strcmp(name, "__fentry__") || !strcmp(name, "mcount") ||
		    !strcmp(name, "__mcount"))
			return lp_elf_err(o, "the patch calls %s: build it without -pg/-mfentry (vmm build does)",
				       name);
		err = env->resolve(env->arg, name, val);
		return err ? gp_error_wrap(err, "%s: undefined symbol '%s'", o->path,
					   name) : NULL;
	}
	if (sym->st_shndx == SHN_ABS) {
		*val = sym->st_value;
		return NULL;
	}
	if ((err = lp_elf_defined_sym_sec(o, sym, name, &s)))
		return err;
	*val = s->va + sym->st_value;
	return NULL;
}

/* A `jmp rel32` to the return thunk becomes the guest's plain return. */
static struct gp_error *ret_inline(struct lp_obj *o, const struct lp_sec *target, uint8_t *host,
				   uint64_t off, unsigned type, int64_t A, const char *name)
{
	uint8_t jmp[LP_AGENT_JMP_SIZE], ret[LP_AGENT_JMP_SIZE];
	struct gp_error *err;

	if ((err = lp_agent_jmp(0, LP_AGENT_JMP_SIZE, jmp)) || (err = lp_agent_ret_site(ret)))
		return err;
	if ((type != R_X86_64_PLT32 && type != R_X86_64_PC32) || A != -4 || off < 1 ||
	    off + 4 > target->sh.sh_size)
		return lp_elf_err(o, "%s+0x%llx: a reference to '%s' that is not a jump to it",
			       target->name, (unsigned long long)off, name);
	if (host[off - 1] != jmp[0])
		return lp_elf_err(o, "%s+0x%llx: a conditional or indirect use of '%s': the guest kernel returns with a plain ret, which only a 5-byte jmp can become",
			       target->name, (unsigned long long)off, name);
	memcpy(host + off - 1, ret, sizeof(ret));
	return NULL;
}

/* A `call __fentry__` that __mcount_loc lists becomes the ftrace NOP, as
 * ftrace's module init (ftrace_module_init -> ftrace_nop_initialize)
 * makes it before the module's code first runs. */
static struct gp_error *fentry_nop(struct lp_obj *o, const struct lp_sec *target, uint8_t *host,
				   uint64_t off, unsigned type, int64_t A)
{
	uint8_t nop[LP_AGENT_NOP_SIZE];
	struct gp_error *err;

	if ((type != R_X86_64_PLT32 && type != R_X86_64_PC32) || A != -4 || off < 1 ||
	    off + 4 > target->sh.sh_size)
		return lp_elf_err(o, "%s+0x%llx: a reference to __fentry__ that is not a call to it",
				  target->name, (unsigned long long)off);
	if ((err = lp_agent_ftrace_nop(nop)))
		return err;
	memcpy(host + off - 1, nop, sizeof(nop));
	return NULL;
}

struct gp_error *lp_elf_rela(struct lp_obj *o, size_t i, struct lp_rela *out)
{
	const struct lp_sec *rs = &o->secs[i];
	Elf_Scn *scn = elf_getscn(o->elf, i), *symscn = elf_getscn(o->elf, rs->sh.sh_link);
	GElf_Shdr symsh;

	memset(out, 0, sizeof(*out));
	if (!symscn || !gelf_getshdr(symscn, &symsh) || symsh.sh_type != SHT_SYMTAB)
		return lp_elf_err(o, "%s has no symbol table", rs->name);
	if (!scn || !(out->rd = elf_getdata(scn, NULL)) || !(out->sd = elf_getdata(symscn, NULL)) ||
	    !symsh.sh_entsize || !rs->sh.sh_entsize)
		return lp_elf_err(o, "%s: unreadable", rs->name);
	out->nrel = rs->sh.sh_size / rs->sh.sh_entsize;
	out->nsyms = symsh.sh_size / symsh.sh_entsize;
	out->strtab = symsh.sh_link;
	return NULL;
}

static struct gp_error *apply_rela(struct lp_obj *o, struct lp_sec *rs,
				   uint8_t *host, uint64_t va, const struct lp_sym_env *env)
{
	struct lp_sec *target;
	struct lp_rela rl;
	struct gp_error *rerr;

	if (rs->sh.sh_info >= o->nsec)
		return lp_elf_err(o, "%s applies to section %u", rs->name, rs->sh.sh_info);
	target = &o->secs[rs->sh.sh_info];
	if (target->kind == LP_SEC_SKIP)
		return NULL;	/* debug info and the like */
	if (!host)	/* a patch: the section's own placement */
		host = target->host, va = target->va;
	if ((rerr = lp_elf_rela(o, (size_t)(rs - o->secs), &rl)))
		return rerr;
	for (size_t i = 0; i < rl.nrel; i++) {
		GElf_Rela r;
		uint64_t S, P, v;
		int64_t A;
		unsigned type;
		const char *name = "?";
		struct gp_error *err;
		uint8_t *where;
		unsigned width;
		struct lp_rela_at at;

		if (!gelf_getrela(rl.rd, (int)i, &r))
			return lp_elf_err(o, "%s: entry %zu unreadable", rs->name, i);
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
			return lp_elf_err(o, "%s entry %zu: relocation type %u (%s) is not supported",
				       rs->name, i, type, rel_name(type));
		}
		if (r.r_offset > target->sh.sh_size ||
		    width > target->sh.sh_size - r.r_offset)
			return lp_elf_err(o, "%s entry %zu: offset 0x%llx outside %s",
				       rs->name, i, (unsigned long long)r.r_offset,
				       target->name);
		{
			size_t idx = GELF_R_SYM(r.r_info);
			GElf_Sym sym;

			if (idx >= rl.nsyms || !gelf_getsym(rl.sd, (int)idx, &sym))
				return lp_elf_err(o, "relocation names symbol %zu of %zu", idx, rl.nsyms);
			name = elf_strptr(o->elf, rl.strtab, sym.st_name);
			if (!name)
				name = "?";
			/* A section symbol (local labels) reads as its section. */
			if (!*name && sym.st_shndx != SHN_UNDEF && sym.st_shndx < o->nsec)
				name = o->secs[sym.st_shndx].name;
			at.rsec = rs;
			at.target = target;
			at.off = r.r_offset;
			at.type = type;
			at.addend = r.r_addend;
			err = env->value(o, env, &at, &sym, name, &S);
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
		if (S == LP_SYM_SKIP)
			continue;
		if (S == LP_SYM_FENTRY_NOP) {
			if ((err = fentry_nop(o, target, host, r.r_offset, type, A)))
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
				return lp_elf_err(o, "relocation to '%s' from %s+0x%llx does not reach (%lld bytes): the patch must load within 2 GiB of the kernel",
					       name, target->name,
					       (unsigned long long)r.r_offset, (long long)d);
			memcpy(where, &d32, 4);
			break;
		}
		case R_X86_64_32: {
			uint64_t x = S + (uint64_t)A;
			uint32_t x32 = (uint32_t)x;

			if (x != x32)
				return lp_elf_err(o, "R_X86_64_32 to '%s' in %s: value 0x%llx does not fit (build with -mcmodel=kernel)",
					       name, target->name, (unsigned long long)x);
			memcpy(where, &x32, 4);
			break;
		}
		case R_X86_64_32S: {
			int64_t x = (int64_t)(S + (uint64_t)A);
			int32_t x32 = (int32_t)x;

			if (x != x32)
				return lp_elf_err(o, "R_X86_64_32S to '%s' in %s: value 0x%llx does not fit",
					       name, target->name, (unsigned long long)x);
			memcpy(where, &x32, 4);
			break;
		}
		}
	}
	return NULL;
}

struct gp_error *lp_elf_place(struct lp_obj *o, uint64_t code_va, uint64_t data_va,
			      struct lp_image *img)
{
	memset(img, 0, sizeof(*img));
	if (o->pieces)
		return lp_elf_err(o, "opened as pieces, not as a patch");
	img->code = calloc(1, o->code_size);
	img->data = calloc(1, o->data_size ? o->data_size : 1);
	if (o->mode == LP_MODE_PATCH) {
		o->desc_patch = calloc(1, sizeof(struct gp_patch_desc_raw));
		o->desc_funcs_size = o->secs[o->funcs_sec].sh.sh_size;
		o->desc_funcs = calloc(1, o->desc_funcs_size ? o->desc_funcs_size : 1);
		if (!o->desc_patch || !o->desc_funcs)
			return &gp_error_nomem;
	}
	if (!img->code || !img->data)
		return &gp_error_nomem;
	img->code_size = o->code_size;
	img->code_used = o->code_used;
	img->data_used = o->data_used;
	img->data_size = o->data_size;
	img->code_va = code_va;
	img->data_va = data_va;
	/* Place every loaded section and copy its bytes. */
	for (size_t i = 0; i < o->nsec; i++) {
		struct lp_sec *s = &o->secs[i];

		switch (s->kind) {
		case LP_SEC_CODE:
			s->host = img->code + s->off;
			s->va = code_va + s->off;
			break;
		case LP_SEC_DATA:
			s->host = img->data + s->off;
			s->va = data_va + s->off;
			break;
		case LP_SEC_DESC:
			s->host = (int)i == o->patch_sec ? o->desc_patch : o->desc_funcs;
			s->va = 0;
			break;
		default:
			continue;
		}
		if (s->sh.sh_type != SHT_NOBITS)
			memcpy(s->host, (uint8_t *)o->buf + s->sh.sh_offset, s->sh.sh_size);
	}
	return NULL;
}

struct gp_error *lp_elf_relocate(struct lp_obj *o, const struct lp_sym_env *env)
{
	struct gp_error *err;
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(o->elf, scn))) {
		struct lp_sec *s = &o->secs[elf_ndxscn(scn)];

		if (s->sh.sh_type == SHT_REL)
			return lp_elf_err(o, "%s: REL relocations (without addends) are not supported",
					  s->name);
		if (s->sh.sh_type != SHT_RELA)
			continue;
		if ((err = apply_rela(o, s, NULL, 0, env)))
			return err;
	}
	return NULL;
}

struct gp_error *lp_obj_link(struct lp_obj *o, uint64_t code_va,
			     uint64_t data_va, lp_resolve_fn resolve,
			     void *arg, struct lp_image *img)
{
	struct gp_error *err;
	struct gp_patch_desc_raw pd;
	const struct lp_sym_env env = { .value = patch_sym_value, .resolve = resolve, .arg = arg };
	size_t nf;

	if (o->mode != LP_MODE_PATCH) {
		memset(img, 0, sizeof(*img));
		return lp_elf_err(o, o->pieces ? "opened as pieces, not as a patch" : "a kernel module, not a guestpatch object");
	}
	if ((err = lp_elf_place(o, code_va, data_va, img)) ||
	    (err = lp_elf_relocate(o, &env)))
		goto fail;
	/* Descriptors, now relocated. */
	memcpy(&pd, o->desc_patch, sizeof(pd));
	if (!memchr(pd.name, 0, sizeof(pd.name)) || !pd.name[0] ||
	    !memchr(pd.build_id, 0, sizeof(pd.build_id))) {
		err = lp_elf_err(o, ".gp.patch: the patch name must be 1..%zu characters",
			      sizeof(pd.name) - 1);
		goto fail;
	}
	for (const char *c = pd.name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' || *c == '.')) {
			err = lp_elf_err(o, "patch name '%s': use letters, digits, '-', '_', '.'",
				      pd.name);
			goto fail;
		}
	snprintf(img->name, sizeof(img->name), "%s", pd.name);
	snprintf(img->build_id, sizeof(img->build_id), "%s", pd.build_id);
	if (pd.flags & ~1ull) {
		err = lp_elf_err(o, ".gp.patch: unknown flags 0x%llx", (unsigned long long)pd.flags);
		goto fail;
	}
	img->replace = pd.flags & 1;
	nf = o->desc_funcs_size / sizeof(struct gp_func_desc_raw);
	if (!nf) {
		err = lp_elf_err(o, "the patch replaces no function");
		goto fail;
	}
	for (size_t i = 0; i < nf; i++) {
		struct gp_func_desc_raw fd;
		struct lp_func *f = &img->funcs[i];

		memcpy(&fd, o->desc_funcs + i * sizeof(fd), sizeof(fd));
		if (!memchr(fd.old_name, 0, sizeof(fd.old_name)) || !fd.old_name[0]) {
			err = lp_elf_err(o, "GP_REPLACE entry %zu has no function name", i);
			goto fail;
		}
		if (fd.new_func < code_va || fd.new_func >= code_va + o->code_size) {
			err = lp_elf_err(o, "GP_REPLACE(%s): the replacement is not a function of this patch",
				      fd.old_name);
			goto fail;
		}
		for (size_t j = 0; j < i; j++)
			if (!strcmp(img->funcs[j].old_name, fd.old_name) &&
			    img->funcs[j].old_pos == fd.old_pos) {
				err = lp_elf_err(o, "%s is replaced twice", fd.old_name);
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
static struct gp_error *piece_sym_value(struct lp_obj *o, const struct lp_sym_env *env,
					const struct lp_rela_at *at, const GElf_Sym *sym, const char *name, uint64_t *val)
{
	const struct lp_piece *p = &env->pieces[env->cur];
	const char *from = o->secs[env->piece_sec[env->cur]].name;
	struct gp_error *err;
	struct lp_sec *s;
	size_t placed = 0, once = 0;

	if (sym->st_shndx == SHN_UNDEF) {
		if (!*name)
			return lp_elf_err(o, "piece %s: relocation against an unnamed undefined symbol",
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
	if ((err = lp_elf_defined_sym_sec(o, sym, name, &s)))
		return err;
	if (sym->st_shndx == (size_t)env->piece_sec[env->cur]) {
		*val = env->piece_va[env->cur] + sym->st_value;
		return NULL;
	}
	for (size_t i = 0; i < env->npieces; i++)
		if ((size_t)env->piece_sec[i] == sym->st_shndx) {
			placed++;
			once = i;
		}
	if (placed != 1)
		return lp_elf_err(o, "piece %s refers to '%s' in %s, which is placed %zu times (must be once)",
			       from, name, s->name, placed);
	*val = env->piece_va[once] + sym->st_value;
	return NULL;
}

struct gp_error *lp_obj_link_pieces(struct lp_obj *o, uint64_t va,
				    const struct lp_piece *pieces, size_t n,
				    uint8_t *buf, size_t cap, size_t *len)
{
	int sec_of[LP_PIECES_MAX];
	uint64_t va_of[LP_PIECES_MAX];
	size_t off_of[LP_PIECES_MAX];
	struct lp_sym_env env = { .value = piece_sym_value, .pieces = pieces,
			       .piece_sec = sec_of, .piece_va = va_of, .npieces = n };
	size_t total = 0;
	struct gp_error *err;

	*len = 0;
	if (n > LP_PIECES_MAX)
		return gp_error_create(GP_ERR_LIMIT, "%s: %zu pieces, at most %d", o->path, n,
				       LP_PIECES_MAX);
	/* Find and lay out every piece before writing a byte. */
	for (size_t i = 0; i < n; i++) {
		const struct lp_sec *s = NULL;
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
		if (s->kind != LP_SEC_CODE && s->kind != LP_SEC_DATA)
			return lp_elf_err(o, "section %s is not a piece (not loaded, or empty)", s->name);
		align = s->sh.sh_addralign ? s->sh.sh_addralign : 1;
		if ((va + total) % align)
			return lp_elf_err(o, "piece %s wants %llu-byte alignment but falls at 0x%llx: pieces are placed back to back",
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
		const struct lp_sec *s = &o->secs[sec_of[i]];

		if (s->sh.sh_type == SHT_NOBITS)
			memset(buf + off_of[i], 0, s->sh.sh_size);
		else
			memcpy(buf + off_of[i], (uint8_t *)o->buf + s->sh.sh_offset, s->sh.sh_size);
	}
	/* Relocate each placement with its own view of the symbols. */
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < o->nsec; j++) {
			struct lp_sec *rs = &o->secs[j];
			Elf_Scn *scn;

			if ((rs->sh.sh_type != SHT_RELA && rs->sh.sh_type != SHT_REL) ||
			    rs->sh.sh_info != (unsigned)sec_of[i])
				continue;
			if (rs->sh.sh_type == SHT_REL)
				return lp_elf_err(o, "%s: REL relocations (without addends) are not supported",
					       rs->name);
			scn = elf_getscn(o->elf, j);
			if (!scn)
				return lp_elf_err(o, "%s: %s", rs->name, elf_errmsg(-1));
			env.cur = i;
			err = apply_rela(o, rs, buf + off_of[i], va_of[i], &env);
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
	const struct lp_sec *s;
	struct gp_patch_desc_raw pd;

	if (o->mode != LP_MODE_PATCH)
		return lp_elf_err(o, "not a guestpatch object");
	s = &o->secs[o->patch_sec];

	/* Checked at open: the section is there and exactly this size.  Its
	 * name and build id are bytes, no relocation touches them. */
	if (s->sh.sh_type == SHT_NOBITS || s->sh.sh_offset > o->len ||
	    sizeof(pd) > o->len - s->sh.sh_offset)
		return lp_elf_err(o, ".gp.patch has no contents");
	memcpy(&pd, (const uint8_t *)o->buf + s->sh.sh_offset, sizeof(pd));
	if (!memchr(pd.name, 0, sizeof(pd.name)) || !pd.name[0] ||
	    !memchr(pd.build_id, 0, sizeof(pd.build_id)))
		return lp_elf_err(o, ".gp.patch: malformed name or build id");
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
