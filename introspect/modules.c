// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modules.h"
#include "pgtable.h"

#define MODULE_STATE_UNFORMED 3
#define KMOD_MAX_STRTAB (4u << 20)

struct mod_offsets {
	uint64_t list, name, state, base, size, text_size;
	uint64_t num_orcs, orc_ip, orc_u;
	uint64_t symtab, num_symtab, strtab;
};

static struct gp_error *offsets(struct kern *k, struct mod_offsets *o)
{
	struct gp_error *err;

	if ((err = kern_offsetof(k, "module", "list", &o->list)) ||
	    (err = kern_offsetof(k, "module", "name", &o->name)) ||
	    (err = kern_offsetof(k, "module", "state", &o->state)) ||
	    (err = kern_offsetof(k, "module", "core_layout.base", &o->base)) ||
	    (err = kern_offsetof(k, "module", "core_layout.size", &o->size)) ||
	    (err = kern_offsetof(k, "module", "core_layout.text_size", &o->text_size)) ||
	    (err = kern_offsetof(k, "module", "core_kallsyms.symtab", &o->symtab)) ||
	    (err = kern_offsetof(k, "module", "core_kallsyms.num_symtab", &o->num_symtab)) ||
	    (err = kern_offsetof(k, "module", "core_kallsyms.strtab", &o->strtab)))
		return gp_error_wrap(err, "module layout");
	/* ORC per module (CONFIG_UNWINDER_ORC). */
	if (!gp_ok(kern_offsetof(k, "module", "arch.num_orcs", &o->num_orcs)) ||
	    !gp_ok(kern_offsetof(k, "module", "arch.orc_unwind_ip", &o->orc_ip)) ||
	    !gp_ok(kern_offsetof(k, "module", "arch.orc_unwind", &o->orc_u)))
		o->num_orcs = o->orc_ip = o->orc_u = 0;
	return NULL;
}

/* What this read of the module list has taken so far (KMOD_MAX_*_TOTAL). */
struct kmod_budget {
	uint64_t orcs, syms, strtab;
};

/* Take n of a total capped at cap, or a GP_ERR_LIMIT naming the cap. */
static struct gp_error *budget_take(uint64_t *used, uint64_t n, uint64_t cap,
				    const char *cap_name, const char *what, const char *mod)
{
	if (n > cap - *used)
		return gp_error_create(GP_ERR_LIMIT,
				       "module %s: %llu more %s would exceed %s (%llu for all modules together)",
				       mod, (unsigned long long)n, what, cap_name,
				       (unsigned long long)cap);
	*used += n;
	return NULL;
}

static bool kptr(const struct kern *k, uint64_t p)
{
	return (p >> 63) && pt_canonical(p, k->levels);
}

static int sym_cmp(const void *a, const void *b)
{
	const struct kmod_sym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/*
 * A module's ORC entries are taken to be in the kernel's format: struct
 * module does not point at the module's own .orc_header (6.4+), and the
 * kernel's own unwinder decodes module tables with its one struct
 * orc_entry (unwind_module_init() takes them as they are); the header,
 * added to vmlinux and to every module's .mod.c from the same orc_types.h
 * by b9f174c811e3 ("x86/unwind/orc: Add ELF section with ORC version
 * identifier", 6.4), is not checked by the module loader.  So a module
 * built for another ORC format would break the guest's own unwinder too;
 * and with the kernel's format unknown (fmt NULL) no module ORC is read.
 */
static struct gp_error *read_orc(struct kern *k, const struct mod_offsets *o, uint64_t mod,
				 const struct orc_format *fmt, struct kmod *m, struct kmod_budget *b)
{
	uint32_t n;
	uint64_t ip, u;
	int32_t *rel = NULL;
	uint8_t *raw = NULL;
	struct gp_error *err;

	if (!o->orc_ip || !fmt)
		return NULL;
	if ((err = kern_read_u32(k, mod + o->num_orcs, &n)) ||
	    (err = kern_read_u64(k, mod + o->orc_ip, &ip)) ||
	    (err = kern_read_u64(k, mod + o->orc_u, &u)))
		return err;
	if (!n)
		return NULL;
	if (n > ORC_MAX_ENTRIES || !kptr(k, ip) || !kptr(k, u))
		return gp_error_addr(GP_ERR_CORRUPT, mod, "module %s: ORC table of %u entries at 0x%llx",
				     m->name, n, (unsigned long long)ip);
	/* Counted when read, kept or not: reading is the cost. */
	if ((err = budget_take(&b->orcs, n, KMOD_MAX_ORC_TOTAL, "KMOD_MAX_ORC_TOTAL",
			       "ORC entries", m->name)))
		return err;
	rel = malloc((size_t)n * 4);
	raw = malloc((size_t)n * 6);
	if (!rel || !raw)
		err = &gp_error_nomem;
	else if (!(err = kern_read(k, ip, rel, (size_t)n * 4)) &&
		 !(err = kern_read(k, u, raw, (size_t)n * 6)))
		err = orc_from_raw(fmt, rel, ip, raw, n, m->text_start, m->text_end, &m->orc);
	free(rel);
	free(raw);
	return err;
}

/* Elf64_Sym as the kernel keeps it in core_kallsyms. */
struct elf_sym {
	uint32_t st_name;
	uint8_t st_info, st_other;
	uint16_t st_shndx;
	uint64_t st_value, st_size;
};

static struct gp_error *read_syms(struct kern *k, const struct mod_offsets *o, uint64_t mod,
				  struct kmod *m, struct kmod_budget *b)
{
	uint64_t symtab, strtab, maxname = 0;
	uint32_t n;
	struct elf_sym *es = NULL;
	struct gp_error *err;
	size_t len;

	if ((err = kern_read_u64(k, mod + o->symtab, &symtab)) ||
	    (err = kern_read_u32(k, mod + o->num_symtab, &n)) ||
	    (err = kern_read_u64(k, mod + o->strtab, &strtab)))
		return err;
	if (!n)
		return NULL;
	if (n > KMOD_MAX_SYMS || !kptr(k, symtab) || !kptr(k, strtab))
		return gp_error_addr(GP_ERR_CORRUPT, mod, "module %s: %u symbols at 0x%llx", m->name,
				     n, (unsigned long long)symtab);
	if ((err = budget_take(&b->syms, n, KMOD_MAX_SYMS_TOTAL, "KMOD_MAX_SYMS_TOTAL",
			       "symbols", m->name)))
		return err;
	if (!(es = malloc((size_t)n * sizeof(*es))) || !(m->syms = calloc(n, sizeof(*m->syms)))) {
		free(es);
		return &gp_error_nomem;
	}
	if ((err = kern_read(k, symtab, es, (size_t)n * sizeof(*es))))
		goto out;
	for (uint32_t i = 0; i < n; i++)
		if (es[i].st_name > maxname)
			maxname = es[i].st_name;
	/* The string table has no recorded length: read up to past the last
	 * name (names are bounded by KSYM_NAME_LEN, 512 in 6.1). */
	len = maxname + 512;
	if (len > KMOD_MAX_STRTAB) {
		err = gp_error_addr(GP_ERR_CORRUPT, strtab, "module %s: string table too large", m->name);
		goto out;
	}
	if ((err = budget_take(&b->strtab, len, KMOD_MAX_STRTAB_TOTAL, "KMOD_MAX_STRTAB_TOTAL",
			       "bytes of symbol names", m->name)))
		goto out;
	if (!(m->strs = calloc(1, len + 1))) {
		err = &gp_error_nomem;
		goto out;
	}
	/* The table may end on a page before the 512 bytes do: shorten. */
	while (len > maxname + 1 && !gp_ok(kern_read(k, strtab, m->strs, len)))
		len = len > 4096 ? len - 4096 : maxname + 1;
	if ((err = kern_read(k, strtab, m->strs, len)))
		goto out;
	m->strs[len] = '\0';
	m->strs_len = len;
	/* As the kernel's find_kallsyms_symbol(): every named, defined
	 * symbol counts, and a symbol's size runs to the next one (or the end
	 * of the text), so names and sizes read as the guest prints them. */
	for (uint32_t i = 0; i < n; i++) {
		if (!es[i].st_shndx || es[i].st_value < m->text_start ||
		    es[i].st_value >= m->text_end || es[i].st_name >= len || !m->strs[es[i].st_name])
			continue;
		m->syms[m->nsyms].addr = es[i].st_value;
		m->syms[m->nsyms].size = es[i].st_size;
		m->syms[m->nsyms].name = es[i].st_name;
		m->nsyms++;
	}
	qsort(m->syms, m->nsyms, sizeof(*m->syms), sym_cmp);
	for (size_t i = 0; i < m->nsyms; i++) {
		size_t j = i + 1;

		while (j < m->nsyms && m->syms[j].addr == m->syms[i].addr)
			j++;
		m->syms[i].size = (j < m->nsyms ? m->syms[j].addr : m->text_end) - m->syms[i].addr;
	}
out:
	free(es);
	return err;
}

static void kmod_clear(struct kmod *m)
{
	orc_free(m->orc);
	free(m->syms);
	free(m->strs);
	memset(m, 0, sizeof(*m));
}

struct gp_error *kmod_load(struct kern *k, const struct orc_format *fmt, struct kmod_list *out)
{
	struct kmod_budget budget = { 0 };
	struct mod_offsets o;
	uint64_t head, node;
	struct gp_error *err;
	size_t cap = 0;

	memset(out, 0, sizeof(*out));
	if (!kern_has_sym(k, "modules", &head))
		return NULL;	/* built without modules, or no such symbol: none */
	if ((err = offsets(k, &o)))
		return err;
	if ((err = kern_read_u64(k, head, &node)))
		return gp_error_wrap(err, "reading the module list");
	for (size_t i = 0; node != head; i++) {
		uint64_t mod = node - o.list, base, size = 0, text = 0;
		uint32_t state;
		struct kmod m = { 0 };

		if (i >= KMOD_MAX || !kptr(k, node) || (node & 7)) {
			kmod_free(out);
			return gp_error_addr(GP_ERR_CORRUPT, node,
					     "module list at 0x%llx is corrupt or loops",
					     (unsigned long long)node);
		}
		if ((err = kern_read_u32(k, mod + o.state, &state)) ||
		    (err = kern_read(k, mod + o.name, m.name, KMOD_NAME_LEN)) ||
		    (err = kern_read_u64(k, mod + o.base, &base)) ||
		    (err = kern_read_u32(k, mod + o.size, (uint32_t *)&size)) ||
		    (err = kern_read_u32(k, mod + o.text_size, (uint32_t *)&text)) ||
		    (err = kern_read_u64(k, node, &node))) {
			kmod_free(out);
			return gp_error_wrap(err, "reading module at 0x%llx", (unsigned long long)mod);
		}
		size &= 0xffffffffu;
		text &= 0xffffffffu;
		if (state == MODULE_STATE_UNFORMED)
			continue;
		m.name[KMOD_NAME_LEN] = '\0';
		for (char *c = m.name; *c; c++)
			if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
				*c = '?';
		if (!kptr(k, base) || !text || text > size || size > (1u << 30)) {
			out->skipped++;
			continue;
		}
		m.text_start = base;
		m.text_end = base + text;
		err = read_orc(k, &o, mod, fmt, &m, &budget);
		if (!err)
			err = read_syms(k, &o, mod, &m, &budget);
		if (err && err->code == GP_ERR_LIMIT) {
			/* The list as a whole is too much: not one module's fault. */
			kmod_clear(&m);
			kmod_free(out);
			return err;
		}
		if (err) {
			gp_error_destroy(err);
			kmod_clear(&m);
			out->skipped++;
			continue;
		}
		if (out->n == cap) {
			struct kmod *v = realloc(out->v, (cap = cap ? cap * 2 : 32) * sizeof(*v));

			if (!v) {
				kmod_clear(&m);
				kmod_free(out);
				return &gp_error_nomem;
			}
			out->v = v;
		}
		out->v[out->n++] = m;
	}
	return NULL;
}

void kmod_free(struct kmod_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		kmod_clear(&l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

const struct kmod *kmod_find(const struct kmod_list *l, uint64_t addr)
{
	for (size_t i = 0; i < l->n; i++)
		if (addr >= l->v[i].text_start && addr < l->v[i].text_end)
			return &l->v[i];
	return NULL;
}

const struct kmod_sym *kmod_symbolize(const struct kmod *m, uint64_t addr)
{
	size_t lo = 0, hi = m->nsyms;

	while (lo < hi) {	/* first symbol above addr */
		size_t mid = lo + (hi - lo) / 2;

		if (m->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? &m->syms[lo - 1] : NULL;
}

const struct kmod *kmod_by_name(const struct kmod_list *l, const char *mod)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].name, mod))
			return &l->v[i];
	return NULL;
}

struct gp_error *kmod_lookup(const struct kmod_list *l, const char *mod, const char *name,
			     const struct kmod **m, uint64_t *addr, uint64_t *size)
{
	int found = 0;

	*m = NULL;
	for (size_t i = 0; i < l->n; i++) {
		if (mod && strcmp(l->v[i].name, mod))
			continue;
		for (size_t j = 0; j < l->v[i].nsyms; j++)
			if (!strcmp(l->v[i].strs + l->v[i].syms[j].name, name)) {
				if (found++)
					continue;
				*m = &l->v[i];
				*addr = l->v[i].syms[j].addr;
				*size = l->v[i].syms[j].size;
			}
	}
	if (mod && !kmod_by_name(l, mod))
		return gp_error_create(GP_ERR_NOTFOUND, "module %s is not loaded", mod);
	if (!found)
		return gp_error_create(GP_ERR_NOTFOUND, "no symbol '%s' in %s%s", name,
				       mod ? "module " : "the kernel or any loaded module",
				       mod ? mod : "");
	if (found > 1)
		return gp_error_create(GP_ERR_INVAL,
				       "symbol '%s' is ambiguous: %d module symbols share the name (write MODULE:%s)",
				       name, found, name);
	return NULL;
}
