// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * lp_kmod_link.c - a livepatch module linked where our engine puts it and
 * its static struct klp_patch decoded, as the kernel would:
 *  - simplify_symbols(): undefined symbols are the guest's exports
 *    (lp_kmod_resolve_export: CRC listed, GPL, namespaces);
 *  - klp_apply_section_relocs() / klp_resolve_symbols(): .klp.rela.OBJ.SEC
 *    sections, whose symbols are .klp.sym.OBJ.NAME,POS (SHN_LIVEPATCH),
 *    found in kallsyms (vmlinux) or a loaded module's symbols, the POS-th
 *    of their name (0: must be unique);
 *  - ftrace_module_init(): each `call __fentry__` __mcount_loc lists is
 *    the ftrace NOP before the code can run;
 *  - the module is never loaded, so of struct module (__this_module) a
 *    data-only copy is placed: klp_patch.mod points at it and
 *    THIS_MODULE->name reads its name; any other use is refused;
 *  - klp_init_patch(): klp_patch, its klp_objects and klp_funcs read from
 *    the linked copy (guest pointers into our pages) with the guest's BTF
 *    layouts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lp_kmod_int.h"

#define SHN_LIVEPATCH 0xff20

struct gp_error *lp_kmod_parse_klp_sym(const char *s, char obj[LP_KMOD_NAME_LEN],
				       char *name, size_t name_len, unsigned long *pos)
{
	const char *p, *dot, *comma;
	unsigned long v = 0;

	if (strncmp(s, ".klp.sym.", 9))
		return gp_error_create(GP_ERR_INVAL, "symbol %s has an incorrectly formatted name", s);
	p = s + 9;
	dot = strchr(p, '.');
	if (!dot || dot == p || dot - p > LP_KMOD_NAME_LEN - 1)
		return gp_error_create(GP_ERR_INVAL, "symbol %s has an incorrectly formatted name (object)", s);
	comma = strrchr(dot + 1, ',');
	if (!comma || comma == dot + 1 || (size_t)(comma - dot - 1) >= name_len ||
	    comma - dot - 1 > 511 || !comma[1])
		return gp_error_create(GP_ERR_INVAL, "symbol %s has an incorrectly formatted name (name,pos)", s);
	for (const char *d = comma + 1; *d; d++) {
		if (*d < '0' || *d > '9' || v > 1000000)
			return gp_error_create(GP_ERR_INVAL, "symbol %s: position is not a number", s);
		v = v * 10 + (unsigned long)(*d - '0');
	}
	memcpy(obj, p, (size_t)(dot - p));
	obj[dot - p] = 0;
	memcpy(name, dot + 1, (size_t)(comma - dot - 1));
	name[comma - dot - 1] = 0;
	*pos = v;
	return NULL;
}

/* The pos-th function called name in module m (0: it must be unique). */
static struct gp_error *mod_sym(const struct kmod *m, const char *name, unsigned long pos,
				uint64_t *addr)
{
	unsigned long seen = 0;

	for (size_t i = 0; i < m->nsyms; i++) {
		if (m->syms[i].name >= m->strs_len || strcmp(m->strs + m->syms[i].name, name))
			continue;
		seen++;
		if (seen == pos || (!pos && seen == 1))
			*addr = m->syms[i].addr;
	}
	if (!seen)
		return gp_error_create(GP_ERR_NOTFOUND, "no function %s in module %s (only its functions are known)",
				       name, m->name);
	if (!pos && seen > 1)
		return gp_error_create(GP_ERR_INVAL, "%lu functions called %s in module %s: give a position",
				       seen, name, m->name);
	if (pos > seen)
		return gp_error_create(GP_ERR_NOTFOUND, "module %s has %lu functions called %s, not %lu",
				       m->name, seen, name, pos);
	return NULL;
}

static struct gp_error *klp_sym(struct lp_kmod *km, const char *secname, const char *name,
				uint64_t *val)
{
	const struct lp_kmod_guest *g = km->g;
	char sec_obj[LP_KMOD_NAME_LEN], obj[LP_KMOD_NAME_LEN], sym[512];
	const char *p = secname + strlen(".klp.rela.");
	const char *dot = strchr(p, '.');
	unsigned long pos;
	struct gp_error *err;

	if (!dot || dot == p || dot - p > LP_KMOD_NAME_LEN - 1)
		return lp_elf_err(km->o, "section %s has an incorrectly formatted name", secname);
	memcpy(sec_obj, p, (size_t)(dot - p));
	sec_obj[dot - p] = 0;
	if ((err = lp_kmod_parse_klp_sym(name, obj, sym, sizeof(sym), &pos)))
		return gp_error_wrap(err, "%s", km->o->path);
	/* klp_resolve_symbols(): a module's section may not reach vmlinux. */
	if (strcmp(sec_obj, "vmlinux") && !strcmp(obj, "vmlinux"))
		return lp_elf_err(km->o, "invalid access to vmlinux symbol '%s' from module-specific livepatch relocation section %s",
				  sym, secname);
	if (!strcmp(obj, "vmlinux")) {
		const struct ksym *s;

		if ((err = ksym_lookup(g->syms, sym, pos, &s)))
			return gp_error_wrap(err, "%s: livepatch symbol %s", km->o->path, name);
		*val = s->addr;
		return NULL;
	}
	{
		const struct kmod *m = g->mods ? kmod_by_name(g->mods, obj) : NULL;

		if (!m)
			return lp_elf_err(km->o, "livepatch symbol %s: module %s is not loaded in the guest",
					  name, obj);
		if ((err = mod_sym(m, sym, pos, val)))
			return gp_error_wrap(err, "%s: livepatch symbol %s", km->o->path, name);
	}
	return NULL;
}

/* A reference to __this_module: klp_patch.mod (a pointer in data), or
 * THIS_MODULE->name. */
static struct gp_error *this_module_ref(struct lp_kmod *km, const struct lp_rela_at *at,
					const GElf_Sym *sym, const char *name, uint64_t *val)
{
	const struct lp_sec *s = &km->o->secs[km->this_module_sec];
	bool pcrel = at->type == R_X86_64_PC32 || at->type == R_X86_64_PLT32;
	int64_t field = (int64_t)sym->st_value + at->addend + (pcrel ? 4 : 0);

	*val = s->va + sym->st_value;
	if (at->type == R_X86_64_64 && field == 0 && at->target->kind == LP_SEC_DATA) {
		if (km->nmodrefs >= LP_KMOD_MAX_MODREFS)
			return lp_elf_err(km->o, "more than %d pointers to %s in data",
					  LP_KMOD_MAX_MODREFS, name);
		km->modref_va[km->nmodrefs++] = at->target->va + at->off;
		return NULL;
	}
	/* pc-relative: the displacement may be followed by an immediate of up
	 * to 4 bytes, so the addend is up to 4 below the field */
	if (field >= (int64_t)km->name_off - (pcrel ? 4 : 0) &&
	    field < (int64_t)(km->name_off + km->name_size))
		return NULL;
	return lp_elf_err(km->o, "%s+0x%llx uses %s+0x%llx: the module is never loaded into the guest, so of its struct module only klp_patch.mod and THIS_MODULE->name are honoured",
			  at->target->name, (unsigned long long)at->off, name,
			  (unsigned long long)field);
}

static struct gp_error *kmod_sym_value(struct lp_obj *o, const struct lp_sym_env *env,
				       const struct lp_rela_at *at, const GElf_Sym *sym,
				       const char *name, uint64_t *val)
{
	struct lp_kmod *km = env->kmod;
	struct gp_error *err;
	struct lp_sec *s;

	/* struct module's own pointers (init, exit): the copy is data only. */
	if (at->target == &o->secs[km->this_module_sec]) {
		*val = LP_SYM_SKIP;
		return NULL;
	}
	/* ORC entries of init and exit code, which is never loaded: dropped. */
	if (km->orc_ip_sec >= 0 && at->target == &o->secs[km->orc_ip_sec] &&
	    sym->st_shndx < o->nsec &&
	    sym->st_shndx != SHN_UNDEF && o->secs[sym->st_shndx].kind == LP_SEC_SKIP &&
	    at->off / 4 < at->target->sh.sh_size / 4) {
		km->orc_drop[at->off / 4] = true;
		*val = LP_SYM_SKIP;
		return NULL;
	}
	if (!strncmp(at->rsec->name, ".klp.rela.", 10)) {
		if (sym->st_shndx != SHN_LIVEPATCH)
			return lp_elf_err(o, "symbol %s is not marked as a livepatch symbol (in %s)",
					  name, at->rsec->name);
		return klp_sym(km, at->rsec->name, name, val);
	}
	if (sym->st_shndx == SHN_LIVEPATCH)
		return lp_elf_err(o, "livepatch symbol %s used by %s, not by a .klp.rela section",
				  name, at->rsec->name);
	if (sym->st_shndx == SHN_UNDEF) {
		if (!*name)
			return lp_elf_err(o, "relocation against an unnamed undefined symbol");
		if (!strcmp(name, "__fentry__")) {
			size_t idx = (size_t)(at->target - o->secs);

			for (size_t i = 0; i < km->nmcount; i++)
				if (km->mcount[i].sec == idx && km->mcount[i].off + 1 == at->off) {
					km->mcount[i].seen = true;
					*val = LP_SYM_FENTRY_NOP;
					return NULL;
				}
			/* not listed: left a call, as ftrace leaves it */
		}
		if ((err = lp_kmod_resolve_export(km, km->g->ex, name, val)))
			return err;
		if (!strcmp(name, "__x86_return_thunk"))
			return km->g->ret_thunk(km->g->arg, name, val);
		return NULL;
	}
	if (sym->st_shndx == (unsigned)km->this_module_sec)
		return this_module_ref(km, at, sym, name, val);
	if (sym->st_shndx == SHN_ABS) {
		*val = sym->st_value;
		return NULL;
	}
	if ((err = lp_elf_defined_sym_sec(o, sym, name, &s)))
		return err;
	*val = s->va + sym->st_value;
	return NULL;
}

struct gp_error *lp_kmod_link(struct lp_kmod *km, const struct lp_kmod_guest *g,
			      uint64_t code_va, uint64_t data_va, struct lp_image *img,
			      struct lp_kmod_patch *p)
{
	const struct lp_sym_env env = { .value = kmod_sym_value, .kmod = km };
	struct lp_obj *o = km->o;
	struct gp_error *err;
	uint64_t modsize;

	memset(p, 0, sizeof(*p));
	memset(img, 0, sizeof(*img));
	km->g = g;
	km->nmodrefs = 0;
	for (size_t i = 0; i < km->nmcount; i++)
		km->mcount[i].seen = false;
	if (!g->btf)
		return lp_elf_err(o, "no BTF for the guest kernel: the layouts of struct klp_patch and struct module cannot be known");
	/* setup_load_info(): the module was built with this struct module. */
	if ((err = kbtf_sizeof(g->btf, "module", &modsize)) ||
	    (err = kbtf_offsetof(g->btf, "module", "name", &km->name_off, &km->name_size)))
		return gp_error_wrap(err, "%s", o->path);
	if (o->secs[km->this_module_sec].sh.sh_size != modsize)
		return lp_elf_err(o, ".gnu.linkonce.this_module has %llu bytes, the guest's struct module %llu: built for another kernel configuration",
				  (unsigned long long)o->secs[km->this_module_sec].sh.sh_size,
				  (unsigned long long)modsize);
	if (km->call_sites && g->call_depth)
		return lp_elf_err(o, "section .call_sites: the guest kernel tracks call depth (its returns go through call_depth_return_thunk), and the module's calls would need call thunks");
	if (km->orc_ip_sec >= 0) {
		free(km->orc_drop);
		km->orc_drop = calloc(o->secs[km->orc_ip_sec].sh.sh_size / 4 + 1, sizeof(bool));
		if (!km->orc_drop)
			return &gp_error_nomem;
	}
	if ((err = lp_elf_place(o, code_va, data_va, img)) || (err = lp_elf_relocate(o, &env)) ||
	    (err = lp_kmod_orc(km, img)))
		goto fail;
	for (size_t i = 0; i < km->nmcount; i++)
		if (!km->mcount[i].seen) {
			err = lp_elf_err(o, "__mcount_loc lists %s+0x%llx, where there is no call to __fentry__",
					 o->secs[km->mcount[i].sec].name,
					 (unsigned long long)km->mcount[i].off);
			goto fail;
		}
	snprintf(img->name, sizeof(img->name), "%s", km->name);
	if (km->run) {
		/* a plain module: its init and exit, no klp_patch */
		p->init_fn = km->o->secs[km->init_sec].va + km->init_off;
		if (km->exit_sec >= 0)
			p->exit_fn = km->o->secs[km->exit_sec].va + km->exit_off;
		/* THIS_MODULE in data (a file_operations or driver .owner):
		 * something to register, which would outlive the run */
		if (km->nmodrefs) {
			err = lp_elf_err(o, "its data points at __this_module (THIS_MODULE, e.g. an .owner of something it registers): a module run by vmm call has no struct module in the guest");
			goto fail;
		}
		return NULL;
	}
	if ((err = lp_kmod_decode(km, img, p)))
		goto fail;
	return NULL;
fail:
	lp_image_free(img);
	return err;
}

/* ---- the module's ORC (unwind_module_init) ---- */

struct orc_ent {
	uint64_t ip;
	uint8_t raw[6];
	size_t idx;
};

static int orc_ent_cmp(const void *a, const void *b)
{
	const struct orc_ent *x = a, *y = b;

	if (x->ip != y->ip)
		return x->ip < y->ip ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/*
 * .orc_unwind_ip (relocated: 32-bit offsets to code, each relative to
 * itself) and .orc_unwind (6-byte entries), as the kernel sorts them at
 * module load, rewritten as one block where the two sections lay: the
 * sorted offsets, then the entries.  Entries of init/exit code are
 * dropped.  Without an ORC unwinder in the guest, or with the two
 * sections apart, the patch has no ORC (its code is then unreliable on a
 * stack, as before).
 */
struct gp_error *lp_kmod_orc(struct lp_kmod *km, struct lp_image *img)
{
	const struct lp_kmod_guest *g = km->g;
	struct lp_obj *o = km->o;
	const struct lp_sec *ips, *ents;
	struct orc_ent *v;
	size_t n, m = 0;
	uint64_t start, block;
	uint8_t *h;

	img->orc_n = 0;
	if (km->orc_sec < 0 && km->orc_ip_sec < 0)
		return NULL;
	if (km->orc_sec < 0 || km->orc_ip_sec < 0)
		return lp_elf_err(o, "one of .orc_unwind and .orc_unwind_ip without the other");
	ips = &o->secs[km->orc_ip_sec];
	ents = &o->secs[km->orc_sec];
	n = ips->sh.sh_size / 4;
	if (ips->sh.sh_size % 4 || ents->sh.sh_size != n * 6)
		return lp_elf_err(o, ".orc_unwind_ip (%llu bytes) and .orc_unwind (%llu bytes) do not hold the same number of entries",
				  (unsigned long long)ips->sh.sh_size,
				  (unsigned long long)ents->sh.sh_size);
	if (ips->kind != LP_SEC_DATA || ents->kind != LP_SEC_DATA || !n)
		return NULL;
	if (km->orc_header_sec >= 0) {
		const struct lp_sec *hs = &o->secs[km->orc_header_sec];
		const uint8_t *hb = (const uint8_t *)o->buf + hs->sh.sh_offset;
		char hex[41];

		if (hs->sh.sh_type == SHT_NOBITS || hs->sh.sh_size != 20)
			return lp_elf_err(o, ".orc_header has %llu bytes, not 20",
					  (unsigned long long)hs->sh.sh_size);
		for (int i = 0; i < 20; i++)
			snprintf(hex + 2 * i, 3, "%02x", hb[i]);
		if (g->orc && (!g->orc_hash || strcmp(hex, g->orc_hash)))
			return lp_elf_err(o, "the module's ORC header %s is not the guest kernel's (%s): built for another ORC format",
					  hex, g->orc_hash ? g->orc_hash : "none");
	}
	if (!g->orc)
		return NULL;
	if (ents->off + n * 6 == ips->off)
		start = ents->off;
	else if (ips->off + n * 4 == ents->off)
		start = ips->off;
	else
		return NULL;
	v = calloc(n, sizeof(*v));
	if (!v)
		return &gp_error_nomem;
	for (size_t i = 0; i < n; i++) {
		int32_t rel;

		if (km->orc_drop[i])
			continue;
		memcpy(&rel, ips->host + 4 * i, 4);
		v[m].ip = ips->va + 4 * i + (uint64_t)(int64_t)rel;
		if (v[m].ip < img->code_va || v[m].ip > img->code_va + img->code_used) {
			uint64_t bad = v[m].ip;

			free(v);
			return lp_elf_err(o, "ORC entry %zu is for 0x%llx, outside the module's code", i,
					  (unsigned long long)bad);
		}
		memcpy(v[m].raw, ents->host + 6 * i, 6);
		v[m].idx = i;
		m++;
	}
	qsort(v, m, sizeof(*v), orc_ent_cmp);
	h = img->data + start;
	block = img->data_va + start;
	memset(h, 0, n * 10);
	for (size_t i = 0; i < m; i++) {
		int32_t rel = (int32_t)(int64_t)(v[i].ip - (block + 4 * i));

		memcpy(h + 4 * i, &rel, 4);
		memcpy(h + 4 * m + 6 * i, v[i].raw, 6);
	}
	free(v);
	img->orc_va = m ? block : 0;
	img->orc_n = (uint32_t)m;
	return NULL;
}

/* ---- klp_patch, decoded from the linked copy ---- */

struct klp_layout {
	uint64_t p_mod, p_objs, p_states, p_replace, p_replace_size;
	bool has_states;
	uint64_t o_size, o_name, o_funcs, o_cb[4];
	uint64_t f_size, f_old_name, f_new_func, f_old_sympos;
	uint64_t s_size, s_id;
};

static struct gp_error *klp_layout(const struct kbtf *b, struct klp_layout *l)
{
	static const char *const cb[4] = { "callbacks.pre_patch", "callbacks.post_patch",
					   "callbacks.pre_unpatch", "callbacks.post_unpatch" };
	struct gp_error *err;
	uint64_t sz;

	if ((err = kbtf_offsetof(b, "klp_patch", "mod", &l->p_mod, NULL)) ||
	    (err = kbtf_offsetof(b, "klp_patch", "objs", &l->p_objs, NULL)) ||
	    (err = kbtf_offsetof(b, "klp_patch", "replace", &l->p_replace, &l->p_replace_size)) ||
	    (err = kbtf_sizeof(b, "klp_object", &l->o_size)) ||
	    (err = kbtf_offsetof(b, "klp_object", "name", &l->o_name, NULL)) ||
	    (err = kbtf_offsetof(b, "klp_object", "funcs", &l->o_funcs, NULL)) ||
	    (err = kbtf_sizeof(b, "klp_func", &l->f_size)) ||
	    (err = kbtf_offsetof(b, "klp_func", "old_name", &l->f_old_name, NULL)) ||
	    (err = kbtf_offsetof(b, "klp_func", "new_func", &l->f_new_func, NULL)) ||
	    (err = kbtf_offsetof(b, "klp_func", "old_sympos", &l->f_old_sympos, &sz)))
		return gp_error_wrap(err, "the guest kernel's livepatch structures (BTF)");
	for (int i = 0; i < 4; i++)
		if ((err = kbtf_offsetof(b, "klp_object", cb[i], &l->o_cb[i], NULL)))
			return gp_error_wrap(err, "the guest kernel's livepatch structures (BTF)");
	l->has_states = kbtf_has_member(b, "klp_patch", "states");
	if (l->has_states &&
	    ((err = kbtf_offsetof(b, "klp_patch", "states", &l->p_states, NULL)) ||
	     (err = kbtf_sizeof(b, "klp_state", &l->s_size)) ||
	     (err = kbtf_offsetof(b, "klp_state", "id", &l->s_id, NULL))))
		return gp_error_wrap(err, "the guest kernel's livepatch states (BTF)");
	if (!l->o_size || !l->f_size || l->o_size > 4096 || l->f_size > 4096 || l->p_replace_size != 1)
		return gp_error_create(GP_ERR_UNSUPPORTED, "the guest's klp_object/klp_func/replace sizes are not as expected");
	return NULL;
}

/* The host copy of [va, va+len) of the module's data, or NULL. */
static const uint8_t *data_at(const struct lp_image *img, uint64_t va, uint64_t len)
{
	if (va < img->data_va || va - img->data_va > img->data_used ||
	    len > img->data_used - (va - img->data_va))
		return NULL;
	return img->data + (va - img->data_va);
}

static struct gp_error *read_ptr(const struct lp_kmod *km, const struct lp_image *img,
				 uint64_t va, const char *what, uint64_t *v)
{
	const uint8_t *h = data_at(img, va, 8);

	if (!h)
		return lp_elf_err(km->o, "%s at 0x%llx lies outside the module's data", what,
				  (unsigned long long)va);
	memcpy(v, h, 8);
	return NULL;
}

static struct gp_error *read_str(const struct lp_kmod *km, const struct lp_image *img,
				 uint64_t va, const char *what, char *out, size_t cap)
{
	const uint8_t *h;
	size_t avail;

	if (!(h = data_at(img, va, 1)))
		return lp_elf_err(km->o, "%s points at 0x%llx, outside the module's data", what,
				  (unsigned long long)va);
	avail = img->data_used - (va - img->data_va);
	if (!memchr(h, 0, avail < cap ? avail : cap))
		return lp_elf_err(km->o, "%s is not a string of at most %zu characters", what,
				  cap - 1);
	snprintf(out, cap, "%s", (const char *)h);
	return NULL;
}

struct gp_error *lp_kmod_decode(struct lp_kmod *km, struct lp_image *img, struct lp_kmod_patch *p)
{
	struct klp_layout l;
	struct gp_error *err;
	uint64_t objs;
	const uint8_t *h;

	if ((err = klp_layout(km->g->btf, &l)))
		return err;
	/* The patch: the data whose `mod` points at __this_module, checked
	 * against (or, among several, picked by) what the init function
	 * hands klp_enable_patch(). */
	{
		uint64_t enable_va = 0;
		bool enable = km->enable_sec >= 0 && km->enable_sec < (int)km->o->nsec &&
			      km->o->secs[km->enable_sec].kind == LP_SEC_DATA;

		if (enable)
			enable_va = km->o->secs[km->enable_sec].va + km->enable_off;
		p->va = 0;
		for (int i = 0; i < km->nmodrefs; i++)
			if (km->nmodrefs == 1 || (enable && km->modref_va[i] - l.p_mod == enable_va))
				p->va = km->modref_va[i] - l.p_mod;
		if (km->nmodrefs == 0)
			return lp_elf_err(km->o, "no struct klp_patch: nothing in the module's data points at __this_module (klp_patch.mod = THIS_MODULE)");
		if (!p->va)
			return lp_elf_err(km->o, "%d pointers to __this_module in the module's data, and none is the klp_patch the init function enables: cannot tell which is the klp_patch's",
					  km->nmodrefs);
		if (enable && enable_va != p->va)
			return lp_elf_err(km->o, "the init function enables the klp_patch at 0x%llx, but klp_patch.mod is at 0x%llx",
					  (unsigned long long)enable_va,
					  (unsigned long long)(p->va + l.p_mod));
	}
	if ((err = read_ptr(km, img, p->va + l.p_objs, "klp_patch.objs", &objs)))
		return err;
	if (!(h = data_at(img, p->va + l.p_replace, 1)))
		return lp_elf_err(km->o, "klp_patch.replace lies outside the module's data");
	p->replace = *h != 0;
	img->replace = p->replace;
	if (l.has_states &&
	    (err = read_ptr(km, img, p->va + l.p_states, "klp_patch.states", &p->states)))
		return err;
	if (!objs)
		return lp_elf_err(km->o, "klp_patch.objs is NULL");
	for (int i = 0;; i++) {
		struct lp_kmod_object *ob = &p->objs[p->nr_objs];
		uint64_t va = objs + (uint64_t)i * l.o_size, name, funcs;

		if ((err = read_ptr(km, img, va + l.o_name, "klp_object.name", &name)) ||
		    (err = read_ptr(km, img, va + l.o_funcs, "klp_object.funcs", &funcs)))
			return err;
		if (!name && !funcs)
			break;
		if (p->nr_objs >= LP_KMOD_MAX_OBJS)
			return lp_elf_err(km->o, "more than %d klp_objects", LP_KMOD_MAX_OBJS);
		memset(ob, 0, sizeof(*ob));
		ob->va = va;
		if (name && (err = read_str(km, img, name, "klp_object.name", ob->name,
					    sizeof(ob->name))))
			return err;
		if (!strcmp(ob->name, "vmlinux"))
			return lp_elf_err(km->o, "klp_object named \"vmlinux\": vmlinux is a NULL name");
		if ((err = read_ptr(km, img, va + l.o_cb[0], "callbacks", &ob->pre_patch)) ||
		    (err = read_ptr(km, img, va + l.o_cb[1], "callbacks", &ob->post_patch)) ||
		    (err = read_ptr(km, img, va + l.o_cb[2], "callbacks", &ob->pre_unpatch)) ||
		    (err = read_ptr(km, img, va + l.o_cb[3], "callbacks", &ob->post_unpatch)))
			return err;
		if (!funcs)
			return lp_elf_err(km->o, "klp_object %s has no funcs",
					  ob->name[0] ? ob->name : "vmlinux");
		ob->first_func = img->nr_funcs;
		for (int j = 0;; j++) {
			uint64_t fva = funcs + (uint64_t)j * l.f_size, old_name, new_func, sympos;
			struct lp_func *f = &img->funcs[img->nr_funcs];
			char old[LP_SYM_MAX];

			if ((err = read_ptr(km, img, fva + l.f_old_name, "klp_func.old_name", &old_name)) ||
			    (err = read_ptr(km, img, fva + l.f_new_func, "klp_func.new_func", &new_func)) ||
			    (err = read_ptr(km, img, fva + l.f_old_sympos, "klp_func.old_sympos", &sympos)))
				return err;
			if (!old_name && !new_func && !sympos)
				break;
			if (img->nr_funcs >= LP_MAX_FUNCS)
				return lp_elf_err(km->o, "more than %d klp_funcs", LP_MAX_FUNCS);
			if (!old_name)
				return lp_elf_err(km->o, "a klp_func of object %s has no old_name",
						  ob->name[0] ? ob->name : "vmlinux");
			if ((err = read_str(km, img, old_name, "klp_func.old_name", old, sizeof(old))))
				return err;
			if (new_func < img->code_va || new_func >= img->code_va + img->code_used)
				return lp_elf_err(km->o, "klp_func %s: new_func 0x%llx is not in the module's loaded code (init code is never loaded)",
						  old, (unsigned long long)new_func);
			if (ob->name[0] && sympos > 1)
				return lp_elf_err(km->o, "klp_func %s:%s: old_sympos %llu in a module is not supported",
						  ob->name, old, (unsigned long long)sympos);
			if ((size_t)snprintf(f->old_name, sizeof(f->old_name), "%s%s%s", ob->name,
					     ob->name[0] ? ":" : "", old) >= sizeof(f->old_name))
				return lp_elf_err(km->o, "klp_func %s: name too long", old);
			for (int q = 0; q < img->nr_funcs; q++)
				if (!strcmp(img->funcs[q].old_name, f->old_name) &&
				    img->funcs[q].old_pos == sympos)
					return lp_elf_err(km->o, "%s is replaced twice", f->old_name);
			f->old_pos = (unsigned long)sympos;
			f->new_addr = new_func;
			img->nr_funcs++;
			ob->nr_funcs++;
		}
		p->nr_objs++;
	}
	/* What we cannot honour yet, now that everything is decoded. */
	if (p->states) {
		uint64_t id;

		if (!data_at(img, p->states + l.s_id, 8))
			return lp_elf_err(km->o, "klp_patch.states lies outside the module's data");
		memcpy(&id, data_at(img, p->states + l.s_id, 8), 8);
		if (id)
			return lp_elf_err(km->o, "the patch declares klp_states (system state ids, klp_state): not supported");
	}
	/* Callbacks run in the guest (lp_kmod_cb.c): each must be the
	 * module's loaded code. */
	for (int i = 0; i < p->nr_objs; i++) {
		const struct lp_kmod_object *ob = &p->objs[i];
		const uint64_t cb[4] = { ob->pre_patch, ob->post_patch, ob->pre_unpatch,
					 ob->post_unpatch };
		static const char *const cbn[4] = { "pre_patch", "post_patch", "pre_unpatch",
						    "post_unpatch" };

		for (int c = 0; c < 4; c++) {
			if (!cb[c])
				continue;
			if (cb[c] < img->code_va || cb[c] >= img->code_va + img->code_used)
				return lp_elf_err(km->o, "klp_object %s: its %s callback 0x%llx is not in the module's loaded code",
						  ob->name[0] ? ob->name : "vmlinux", cbn[c],
						  (unsigned long long)cb[c]);
			p->has_callbacks = true;
		}
	}
	/* A patch of callbacks alone (no function) is the kernel's too. */
	if (!p->nr_objs || (!img->nr_funcs && !p->has_callbacks))
		return lp_elf_err(km->o, "the klp_patch replaces no function");
	if (km->exit_sec >= 0)
		p->exit_fn = km->o->secs[km->exit_sec].va + km->exit_off;
	return NULL;
}
