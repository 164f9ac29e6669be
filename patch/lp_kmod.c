// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * lp_kmod.c - a Linux livepatch module read as the kernel's module loader
 * reads it (kernel/module/main.c: setup_load_info, layout_sections,
 * get_next_modinfo): which sections are loaded, ignored or refused,
 * .modinfo, __versions, __mcount_loc, the klp_enable_patch() argument.
 * The guest's exports and the checks against them (check_modinfo,
 * check_version, resolve_symbol) are in lp_kmod_exports.c; linking and
 * the klp_patch in lp_kmod_link.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lp_kmod_int.h"

#define MAX_KO (64u << 20)
#define SHN_LIVEPATCH 0xff20
#define MODVERSION_SIZE 64	/* struct modversion_info on 64-bit */

static bool prefix(const char *s, const char *p)
{
	return !strncmp(s, p, strlen(p));
}

/*
 * What becomes of each allocated section of a module.  The kernel's
 * loader places every SHF_ALLOC section and then lets arch and subsystem
 * code read the special ones (module_finalize, ftrace, jump labels, ...).
 * We load code and plain data; the special sections are either honoured
 * another way (said below) or refused by name: the module's code would
 * rely on guest machinery that never hears of it.
 */
static const struct {
	const char *prefix;
	const char *why;	/* NULL: ignored (the reason is the comment) */
} special[] = {
	/* read by us, not loaded */
	{ ".modinfo", NULL },
	{ "__versions", NULL },
	{ "__mcount_loc", NULL },	/* each listed call becomes the ftrace NOP */
	/* never run: init code (the patch structures may not point there: a
	 * reference is refused as "lies in section .init.text"); its only
	 * job in a livepatch module is klp_enable_patch(), which we do
	 * (read_init_exit refuses an init that calls anything else).  Exit
	 * code (.exit.text, and .exit.data: module_exit()'s pointer to it) is
	 * loaded: it runs when the patch is unpatched, as rmmod runs it
	 * (lp_kmod_cb.c). */
	{ ".init.", NULL },
	/* module parameters are not registered: their defaults stay */
	{ "__param", NULL },
	/* objtool's lists for the loader: the `jmp __x86_return_thunk`
	 * returns are rewritten as the guest's returns are (lp_elf.c,
	 * apply_returns()); the retpoline thunks called are the kernel's own,
	 * already patched to its choice; call-depth sites are checked against
	 * the guest's return thunk when linking; IBT sealing only hardens
	 * (an endbr64 left in place is a no-op) */
	{ ".return_sites", NULL },
	{ ".retpoline_sites", NULL },
	{ ".call_sites", NULL },
	{ ".ibt_endbr_seal", NULL },
	{ "__patchable_function_entries", NULL },	/* padding NOPs before functions */
	/* the module's ORC header (compared with the guest's when linking;
	 * .orc_unwind and .orc_unwind_ip are loaded as data), BTF, notes */
	{ ".orc_header", NULL },
	{ ".BTF", NULL },
	{ ".note.", NULL },
	/* refused: machinery of the guest the module would need */
	{ ".altinstr", "alternatives (.altinstructions: CPU-feature patching at load)" },
	{ "__jump_table", "jump labels (static keys)" },
	{ ".static_call", "static calls" },
	{ "__ex_table", "exception table entries (uaccess fixups)" },
	{ "__bug_table", "BUG()/WARN() entries (a WARN in patch code would be an oops)" },
	{ ".smp_locks", "SMP lock prefixes" },
	{ ".data..percpu", "per-cpu variables" },
	{ "__ksymtab", "exported symbols (a livepatch that exports is not supported)" },
	{ "__kcrctab", "exported symbol CRCs" },
	{ "__tracepoints", "tracepoints" },
	{ "_ftrace_events", "trace events" },
	{ "__kprobes", "kprobe blacklist entries" },
	{ ".kprobes.text", "kprobe-excluded code" },
	{ ".noinstr.text", "noinstr code" },
	{ "__dyndbg", "dynamic debug entries" },
};

static bool is_data_name(const char *n)
{
	return !strcmp(n, ".data") || prefix(n, ".data.") || !strcmp(n, ".rodata") ||
	       prefix(n, ".rodata.") || !strcmp(n, ".bss") || prefix(n, ".bss.") ||
	       !strcmp(n, ".gnu.linkonce.this_module") || !strcmp(n, ".orc_unwind") ||
	       !strcmp(n, ".orc_unwind_ip") || !strcmp(n, ".exit.data");
}

struct gp_error *lp_kmod_sec_kind(struct lp_obj *o, const struct lp_sec *s,
				  enum lp_sec_kind *kind)
{
	*kind = LP_SEC_SKIP;
	if (!(s->sh.sh_flags & SHF_ALLOC) || !s->sh.sh_size ||
	    s->sh.sh_type == SHT_RELA || s->sh.sh_type == SHT_REL)
		return NULL;
	/* A plain module run by `vmm call` (lp_kmod_run.c): its init runs,
	 * so its init code and data are loaded like the rest. */
	if (o->mode == LP_MODE_KMOD_RUN && prefix(s->name, ".init.")) {
		if (!strcmp(s->name, ".init.text") || !strcmp(s->name, ".init.data") ||
		    !strcmp(s->name, ".init.rodata")) {
			*kind = s->sh.sh_flags & SHF_EXECINSTR ? LP_SEC_CODE : LP_SEC_DATA;
			return NULL;
		}
		return lp_elf_err(o, "section %s: guestpatch does not know what the kernel's module loader makes of it",
				  s->name);
	}
	for (size_t i = 0; i < ARRAY_SIZE(special); i++)
		if (prefix(s->name, special[i].prefix)) {
			if (special[i].why)
				return lp_elf_err(o, "section %s holds %s, which guestpatch cannot honour for a module it does not load",
						  s->name, special[i].why);
			return NULL;
		}
	if (s->sh.sh_flags & SHF_EXECINSTR) {
		if (strcmp(s->name, ".text") && !prefix(s->name, ".text.") &&
		    strcmp(s->name, ".exit.text"))
			return lp_elf_err(o, "code section %s: guestpatch does not know what the kernel's module loader makes of it",
					  s->name);
		*kind = LP_SEC_CODE;
		return NULL;
	}
	if (!is_data_name(s->name))
		return lp_elf_err(o, "section %s: guestpatch does not know what the kernel's module loader makes of it",
				  s->name);
	*kind = LP_SEC_DATA;
	return NULL;
}

/* ---- ELF probing ---- */

static int find_sec(const struct lp_obj *o, const char *name)
{
	for (size_t i = 0; i < o->nsec; i++)
		if (o->secs[i].name && !strcmp(o->secs[i].name, name))
			return (int)i;
	return -1;
}

bool lp_kmod_is_module(const void *elf, size_t len)
{
	Elf *e;
	size_t shstrndx;
	Elf_Scn *scn = NULL;
	bool yes = false;
	int n = 0;

	elf_version(EV_CURRENT);
	e = elf_memory((char *)elf, len);
	if (!e)
		return false;
	if (elf_kind(e) == ELF_K_ELF && !elf_getshdrstrndx(e, &shstrndx))
		while (!yes && (scn = elf_nextscn(e, scn)) && n++ < 4096) {
			GElf_Shdr sh;
			const char *name;

			if (!gelf_getshdr(scn, &sh))
				break;
			name = elf_strptr(e, shstrndx, sh.sh_name);
			yes = name && (!strcmp(name, ".modinfo") ||
				       !strcmp(name, ".gnu.linkonce.this_module"));
		}
	elf_end(e);
	return yes;
}

static struct gp_error *slurp(const char *path, void **buf, size_t *len)
{
	struct stat st;
	ssize_t got;
	int fd;

	*buf = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return gp_error_os(errno, "open %s", path);
	if (fstat(fd, &st) < 0 || st.st_size <= 0 || st.st_size > MAX_KO) {
		close(fd);
		return gp_error_create(GP_ERR_INVAL, "%s: empty or larger than %u MiB", path,
				       MAX_KO >> 20);
	}
	*buf = malloc((size_t)st.st_size);
	if (!*buf) {
		close(fd);
		return &gp_error_nomem;
	}
	got = read(fd, *buf, (size_t)st.st_size);
	close(fd);
	if (got != st.st_size) {
		free(*buf);
		*buf = NULL;
		return gp_error_os(errno ? errno : EIO, "read %s", path);
	}
	*len = (size_t)st.st_size;
	return NULL;
}

bool lp_kmod_file_is_module(const char *path)
{
	void *buf;
	size_t len;
	struct gp_error *err = slurp(path, &buf, &len);
	bool yes;

	if (err) {
		gp_error_destroy(err);
		return false;
	}
	yes = lp_kmod_is_module(buf, len);
	free(buf);
	return yes;
}

/* ---- .modinfo, __versions, __mcount_loc ---- */

static const uint8_t *sec_bytes(const struct lp_obj *o, int i)
{
	const struct lp_sec *s = &o->secs[i];

	if (s->sh.sh_type == SHT_NOBITS)
		return NULL;
	return (const uint8_t *)o->buf + s->sh.sh_offset;	/* bounds checked at open */
}

/* .modinfo: "key=value" strings, NUL-separated (get_next_modinfo). */
static struct gp_error *read_modinfo(struct lp_kmod *km)
{
	struct lp_obj *o = km->o;
	int i = find_sec(o, ".modinfo");
	const char *p, *end;
	bool livepatch = false, have_name = false, have_vermagic = false;

	if (i < 0 || !sec_bytes(o, i))
		return lp_elf_err(o, "no .modinfo section: not a kernel module");
	p = (const char *)sec_bytes(o, i);
	end = p + o->secs[i].sh.sh_size;
	if (o->secs[i].sh.sh_size && end[-1])
		return lp_elf_err(o, ".modinfo does not end with a NUL");
	for (; p < end; p += strlen(p) + 1) {
		const char *eq = strchr(p, '=');
		const char *v = eq ? eq + 1 : "";
		size_t klen = eq ? (size_t)(eq - p) : strlen(p);

		if (!*p)
			continue;
#define KEY(k) (klen == sizeof(k) - 1 && !strncmp(p, k, klen))
		if (KEY("livepatch")) {
			livepatch = !strcmp(v, "Y");
		} else if (KEY("vermagic")) {
			if (strlen(v) >= sizeof(km->vermagic))
				return lp_elf_err(o, ".modinfo: vermagic longer than %zu bytes",
						  sizeof(km->vermagic) - 1);
			snprintf(km->vermagic, sizeof(km->vermagic), "%s", v);
			have_vermagic = true;
		} else if (KEY("name")) {
			if (!*v || strlen(v) > LP_KMOD_NAME_LEN - 1)
				return lp_elf_err(o, ".modinfo: name must be 1..%d characters",
						  LP_KMOD_NAME_LEN - 1);
			snprintf(km->name, sizeof(km->name), "%s", v);
			have_name = true;
		} else if (KEY("license")) {
			snprintf(km->license, sizeof(km->license), "%s", v);
		} else if (KEY("import_ns")) {
			size_t n = strlen(km->import_ns);

			if (n + strlen(v) + 2 > sizeof(km->import_ns))
				return lp_elf_err(o, ".modinfo: too many import_ns entries");
			snprintf(km->import_ns + n, sizeof(km->import_ns) - n, "%s;", v);
		}
#undef KEY
	}
	if (km->run && livepatch)
		return lp_elf_err(o, "a livepatch module (its .modinfo has livepatch=Y): apply it with `vmm patch`, not run it");
	if (!livepatch && !km->run)
		return lp_elf_err(o, "not a livepatch module (its .modinfo has no livepatch=Y; build it with MODULE_INFO(livepatch, \"Y\"))");
	if (!have_vermagic)
		return lp_elf_err(o, ".modinfo has no vermagic: not built by the kernel's build system");
	if (!have_name)
		return lp_elf_err(o, ".modinfo has no name");
	for (const char *c = km->name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '-' || *c == '_'))
			return lp_elf_err(o, "module name '%s': not a kernel module name", km->name);
	return NULL;
}

static struct gp_error *read_versions(struct lp_kmod *km)
{
	struct lp_obj *o = km->o;
	int i = find_sec(o, "__versions");
	const uint8_t *b;
	size_t n;

	if (i < 0)
		return NULL;	/* built without CONFIG_MODVERSIONS: checked against the guest */
	b = sec_bytes(o, i);
	if (!b || o->secs[i].sh.sh_size % MODVERSION_SIZE)
		return lp_elf_err(o, "__versions has %llu bytes: not a list of %d-byte entries",
				  (unsigned long long)o->secs[i].sh.sh_size, MODVERSION_SIZE);
	n = o->secs[i].sh.sh_size / MODVERSION_SIZE;
	if (n > LP_KMOD_MAX_VERSIONS)
		return lp_elf_err(o, "__versions has %zu entries, at most %d", n,
				  LP_KMOD_MAX_VERSIONS);
	km->versions = calloc(n ? n : 1, sizeof(*km->versions));
	if (!km->versions)
		return &gp_error_nomem;
	for (size_t j = 0; j < n; j++) {
		const uint8_t *e = b + j * MODVERSION_SIZE;
		const char *name = (const char *)e + 8;

		memcpy(&km->versions[j].crc, e, 8);
		if (!memchr(name, 0, LP_KMOD_NAME_LEN) || !*name)
			return lp_elf_err(o, "__versions entry %zu: malformed symbol name", j);
		snprintf(km->versions[j].name, sizeof(km->versions[j].name), "%s", name);
	}
	km->nversions = n;
	km->have_versions = true;
	return NULL;
}

/* __mcount_loc: R_X86_64_64 to a code section + offset per `call
 * __fentry__` (ftrace_module_init reads the relocated pointers). */
static struct gp_error *read_mcount(struct lp_kmod *km)
{
	struct lp_obj *o = km->o;
	int mc = find_sec(o, "__mcount_loc");

	if (mc < 0)
		return NULL;
	for (size_t i = 0; i < o->nsec; i++) {
		const struct lp_sec *rs = &o->secs[i];
		struct lp_rela rl;
		struct gp_error *rerr;

		if (rs->sh.sh_type != SHT_RELA || rs->sh.sh_info != (unsigned)mc)
			continue;
		if ((rerr = lp_elf_rela(o, i, &rl)))
			return rerr;
		if (km->nmcount + rl.nrel > LP_KMOD_MAX_MCOUNT)
			return lp_elf_err(o, "__mcount_loc: more than %d entries", LP_KMOD_MAX_MCOUNT);
		km->mcount = realloc(km->mcount, (km->nmcount + rl.nrel + 1) * sizeof(*km->mcount));
		if (!km->mcount)
			return &gp_error_nomem;
		for (size_t j = 0; j < rl.nrel; j++) {
			GElf_Rela r;
			GElf_Sym sym;
			size_t si;
			uint64_t off;

			if (!gelf_getrela(rl.rd, (int)j, &r))
				return lp_elf_err(o, "%s: entry %zu unreadable", rs->name, j);
			si = GELF_R_SYM(r.r_info);
			if (GELF_R_TYPE(r.r_info) != R_X86_64_64 || si >= rl.nsyms ||
			    !gelf_getsym(rl.sd, (int)si, &sym) || sym.st_shndx == SHN_UNDEF ||
			    sym.st_shndx >= o->nsec || r.r_addend < 0)
				return lp_elf_err(o, "__mcount_loc entry %zu does not point into the module's code",
						  j);
			off = sym.st_value + (uint64_t)r.r_addend;
			if (o->secs[sym.st_shndx].kind == LP_SEC_SKIP)
				continue;	/* init code: never run */
			if (o->secs[sym.st_shndx].kind != LP_SEC_CODE ||
			    off >= o->secs[sym.st_shndx].sh.sh_size)
				return lp_elf_err(o, "__mcount_loc entry %zu points outside the module's code (%s+0x%llx)",
						  j, o->secs[sym.st_shndx].name,
						  (unsigned long long)off);
			km->mcount[km->nmcount++] = (struct lp_kmod_site){ .sec = sym.st_shndx,
									   .off = off };
		}
	}
	return NULL;
}

/* Whether the relocation at off of code section s fills the operand of
 * an instruction that loads %rdi, the first argument, with an address:
 * `mov $sym, %rdi` (48 c7 c7, R_X86_64_32S), `mov $sym, %edi` (bf,
 * R_X86_64_32) or `lea sym(%rip), %rdi` (48 8d 3d, R_X86_64_PC32 - 4).
 * Reading the guest's instructions, as lp_klp.c reads `lock bts`. */
static bool loads_rdi(const struct lp_obj *o, const struct lp_sec *s, const GElf_Rela *r)
{
	const uint8_t *b = (const uint8_t *)o->buf + s->sh.sh_offset;
	unsigned type = (unsigned)GELF_R_TYPE(r->r_info);
	uint64_t off = r->r_offset;

	if (s->sh.sh_type == SHT_NOBITS || off < 3 || off + 4 > s->sh.sh_size)
		return false;
	if (type == R_X86_64_32S)
		return b[off - 3] == 0x48 && b[off - 2] == 0xc7 && b[off - 1] == 0xc7;
	if (type == R_X86_64_32)
		return b[off - 1] == 0xbf;
	if (type == R_X86_64_PC32 && r->r_addend == -4)
		return b[off - 3] == 0x48 && b[off - 2] == 0x8d && b[off - 1] == 0x3d;
	return false;
}

/*
 * The patch the init function enables: `klp_enable_patch(&patch)` loads
 * its argument into %rdi before the call, with a relocation to the patch.
 * Read from the relocations and the instructions they sit in: the last
 * load of %rdi with an address of data within 32 bytes before the call.
 * Every call must agree; what cannot be read leaves enable_sec -1.
 */
static struct gp_error *read_enable_arg(struct lp_kmod *km)
{
	struct lp_obj *o = km->o;
	bool conflict = false;

	km->enable_sec = -1;
	for (size_t i = 0; i < o->nsec; i++) {
		const struct lp_sec *rs = &o->secs[i];
		struct lp_rela rl;
		struct gp_error *rerr;

		if (rs->sh.sh_type != SHT_RELA || rs->sh.sh_info >= o->nsec ||
		    !(o->secs[rs->sh.sh_info].sh.sh_flags & SHF_EXECINSTR))
			continue;
		if ((rerr = lp_elf_rela(o, i, &rl))) {
			gp_error_destroy(rerr);
			continue;
		}
		for (size_t j = 0; j < rl.nrel && j < (1u << 20); j++) {
			GElf_Rela r, a, best;
			GElf_Sym sym, asym;
			const char *name;
			bool found = false;

			if (!gelf_getrela(rl.rd, (int)j, &r) || GELF_R_SYM(r.r_info) >= rl.nsyms ||
			    !gelf_getsym(rl.sd, (int)GELF_R_SYM(r.r_info), &sym) ||
			    !(name = elf_strptr(o->elf, rl.strtab, sym.st_name)) ||
			    strcmp(name, "klp_enable_patch"))
				continue;
			memset(&best, 0, sizeof(best));
			for (size_t q = 0; q < rl.nrel && q < (1u << 20); q++) {
				if (!gelf_getrela(rl.rd, (int)q, &a) || a.r_offset >= r.r_offset ||
				    r.r_offset - a.r_offset > 32 || (found && a.r_offset < best.r_offset) ||
				    !loads_rdi(o, &o->secs[rs->sh.sh_info], &a))
					continue;
				best = a;
				found = true;
			}
			if (!found)
				continue;	/* not read: no cross-check from this call */
			if (GELF_R_SYM(best.r_info) >= rl.nsyms ||
			    !gelf_getsym(rl.sd, (int)GELF_R_SYM(best.r_info), &asym) ||
			    asym.st_shndx == SHN_UNDEF || asym.st_shndx >= o->nsec ||
			    (o->secs[asym.st_shndx].sh.sh_flags & SHF_EXECINSTR)) {
				conflict = true;
				continue;
			}
			{
				bool pcrel = GELF_R_TYPE(best.r_info) == R_X86_64_PC32 ||
					     GELF_R_TYPE(best.r_info) == R_X86_64_PLT32;
				uint64_t off = asym.st_value + (uint64_t)best.r_addend + (pcrel ? 4 : 0);

				if (km->enable_sec >= 0 && (km->enable_sec != asym.st_shndx ||
							    km->enable_off != off))
					conflict = true;
				km->enable_sec = asym.st_shndx;
				km->enable_off = off;
			}
		}
	}
	if (conflict)
		km->enable_sec = -1;
	return NULL;
}

/* What the init function calls besides klp_enable_patch(): the compiler's
 * and objtool's own (tracing, return and indirect-branch thunks, the
 * stack protector) are fine, anything else is work the module's init
 * would do in the guest and we would not: refused by name. */
static bool init_call_ok(const char *name)
{
	static const char *const ok[] = { "klp_enable_patch", "__fentry__", "__x86_return_thunk",
					  "__stack_chk_fail" };
	static const char *const ok_prefix[] = { "__x86_indirect_thunk_",
						 "__x86_indirect_call_thunk_",
						 "__x86_indirect_jump_thunk_" };

	for (size_t i = 0; i < ARRAY_SIZE(ok); i++)
		if (!strcmp(name, ok[i]))
			return true;
	for (size_t i = 0; i < ARRAY_SIZE(ok_prefix); i++)
		if (prefix(name, ok_prefix[i]))
			return true;
	return false;
}

/* The init code's undefined symbols (its calls into the kernel), and
 * cleanup_module (the module_exit() function's alias). */
static struct gp_error *read_init_exit(struct lp_kmod *km)
{
	struct lp_obj *o = km->o;

	km->exit_sec = km->init_sec = -1;
	for (size_t i = 0; i < o->nsec; i++) {
		const struct lp_sec *rs = &o->secs[i];
		Elf_Scn *scn;
		Elf_Data *sd;
		size_t nsyms;
		struct lp_rela rl;
		struct gp_error *rerr;

		if (rs->sh.sh_type == SHT_SYMTAB && (scn = elf_getscn(o->elf, i)) &&
		    (sd = elf_getdata(scn, NULL)) && rs->sh.sh_entsize) {
			nsyms = rs->sh.sh_size / rs->sh.sh_entsize;
			for (size_t j = 0; j < nsyms && j < (1u << 20); j++) {
				GElf_Sym sym;
				const char *name;

				bool init;

				if (!gelf_getsym(sd, (int)j, &sym) ||
				    !(name = elf_strptr(o->elf, rs->sh.sh_link, sym.st_name)) ||
				    (strcmp(name, "cleanup_module") &&
				     (!km->run || strcmp(name, "init_module"))) ||
				    sym.st_shndx == SHN_UNDEF || sym.st_shndx >= o->nsec)
					continue;
				init = !strcmp(name, "init_module");
				if (o->secs[sym.st_shndx].kind != LP_SEC_CODE ||
				    sym.st_value >= o->secs[sym.st_shndx].sh.sh_size)
					return lp_elf_err(o, "%s lies in section %s, which is not loaded as code",
							  name, o->secs[sym.st_shndx].name ?
								  o->secs[sym.st_shndx].name : "?");
				if (init) {
					km->init_sec = sym.st_shndx;
					km->init_off = sym.st_value;
				} else {
					km->exit_sec = sym.st_shndx;
					km->exit_off = sym.st_value;
				}
			}
			continue;
		}
		if (km->run || rs->sh.sh_type != SHT_RELA || rs->sh.sh_info >= o->nsec ||
		    !(o->secs[rs->sh.sh_info].sh.sh_flags & SHF_EXECINSTR) ||
		    !prefix(o->secs[rs->sh.sh_info].name, ".init."))
			continue;
		if ((rerr = lp_elf_rela(o, i, &rl)))
			return rerr;
		for (size_t j = 0; j < rl.nrel && j < (1u << 20); j++) {
			GElf_Rela r;
			GElf_Sym sym;
			const char *name;

			if (!gelf_getrela(rl.rd, (int)j, &r) || GELF_R_SYM(r.r_info) >= rl.nsyms ||
			    !gelf_getsym(rl.sd, (int)GELF_R_SYM(r.r_info), &sym) ||
			    sym.st_shndx != SHN_UNDEF ||
			    !(name = elf_strptr(o->elf, rl.strtab, sym.st_name)) || !*name)
				continue;
			if (!init_call_ok(name))
				return lp_elf_err(o, "the module's init function uses %s: only its klp_enable_patch() is done from outside (its init code never runs)",
						  name);
		}
	}
	return NULL;
}

static struct gp_error *open_mode(const void *elf, size_t len, const char *path, bool run,
				   struct lp_kmod **out)
{
	struct lp_kmod *km;
	struct gp_error *err;

	*out = NULL;
	km = calloc(1, sizeof(*km));
	if (!km)
		return &gp_error_nomem;
	km->run = run;
	if ((err = lp_elf_open(elf, len, path, run ? LP_MODE_KMOD_RUN : LP_MODE_KMOD, &km->o)))
		goto fail;
	if ((err = read_modinfo(km)) || (err = read_versions(km)) || (err = read_mcount(km)) ||
	    (!run && (err = read_enable_arg(km))) || (err = read_init_exit(km)))
		goto fail;
	if (run && km->init_sec < 0) {
		err = lp_elf_err(km->o, "no init_module (module_init()): nothing to run");
		goto fail;
	}
	km->this_module_sec = find_sec(km->o, ".gnu.linkonce.this_module");
	if (km->this_module_sec < 0 || km->o->secs[km->this_module_sec].kind != LP_SEC_DATA) {
		err = lp_elf_err(km->o, "no .gnu.linkonce.this_module section: not a kernel module");
		goto fail;
	}
	km->call_sites = find_sec(km->o, ".call_sites") >= 0;
	km->orc_sec = find_sec(km->o, ".orc_unwind");
	km->orc_ip_sec = find_sec(km->o, ".orc_unwind_ip");
	km->orc_header_sec = find_sec(km->o, ".orc_header");
	*out = km;
	return NULL;
fail:
	lp_kmod_close(km);
	return err;
}

struct gp_error *lp_kmod_open(const void *elf, size_t len, const char *path,
			      struct lp_kmod **out)
{
	return open_mode(elf, len, path, false, out);
}

struct gp_error *lp_kmod_open_run(const void *elf, size_t len, const char *path,
				  struct lp_kmod **out)
{
	return open_mode(elf, len, path, true, out);
}

struct gp_error *lp_kmod_open_file_mode(const char *path, bool run, struct lp_kmod **out)
{
	void *buf;
	size_t len;
	struct gp_error *err = slurp(path, &buf, &len);

	*out = NULL;
	if (err)
		return err;
	err = open_mode(buf, len, path, run, out);
	free(buf);
	return err;
}

struct gp_error *lp_kmod_open_file(const char *path, struct lp_kmod **out)
{
	return lp_kmod_open_file_mode(path, false, out);
}

void lp_kmod_close(struct lp_kmod *km)
{
	if (!km)
		return;
	lp_obj_close(km->o);
	free(km->versions);
	free(km->mcount);
	free(km->orc_drop);
	gp_error_destroy(km->modref_err);
	free(km);
}

const char *lp_kmod_name(const struct lp_kmod *km)
{
	return km->name;
}

const char *lp_kmod_vermagic(const struct lp_kmod *km)
{
	return km->vermagic;
}

void lp_kmod_sizes(const struct lp_kmod *km, size_t *code, size_t *data)
{
	lp_obj_sizes(km->o, code, data);
}
