// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modules.h"
#include "pgtable.h"

#define MODULE_STATE_UNFORMED 3
#define KMOD_MAX_STRTAB (4u << 20)
#define HDR_AMBIGUOUS 1		/* more than one orc_header (no kernel address) */

/*
 * The struct module layouts guestpatch knows: where a module's core text
 * lies, and its read-only data (where a 6.4+ module's ORC header sits).
 * This table is the one place that knows them; a guest is matched by the
 * members its BTF has, never by its version string, and a struct module
 * with neither (or both) is refused by name.
 *
 *   core_layout: struct module_layout core_layout { base; size; text_size;
 *     ... } (Linux 4.5 to 6.3; read from Debian's 6.1.0-57 BTF). Text is
 *     base..base+text_size. No ORC headers exist yet, so its rodata is
 *     not needed.
 *   mem: struct module_memory mem[MOD_MEM_NUM_TYPES] { base; size; ... }
 *     (ac3b43283923, "module: replace module_layout with module_memory",
 *     6.4; include/linux/module.h of Debian's 6.12.117 headers). Each type
 *     is its own allocation: text is mem[MOD_TEXT], rodata mem[MOD_RODATA],
 *     the indices taken from enum mod_mem_type in the guest's BTF. The
 *     kernel's find_kallsyms_symbol() ends a module's last text symbol at
 *     mem[MOD_TEXT].base + size, as we do.
 */
enum mod_layout_kind { MOD_LAYOUT_CORE, MOD_LAYOUT_MEM };

static const struct mod_layout {
	enum mod_layout_kind kind;
	const char *member;	/* the struct module member that names it */
	const char *kernels;
} mod_layouts[] = {
	{ MOD_LAYOUT_CORE, "core_layout", "Linux 4.5 to 6.3" },
	{ MOD_LAYOUT_MEM, "mem", "Linux 6.4 on (6.12 seen)" },
};

struct mod_offsets {
	const struct mod_layout *layout;
	uint64_t list, name, state;
	uint64_t text_base, text_size;	/* void *, unsigned int */
	uint64_t core_size;		/* core_layout.size (bounds text_size); 0 for mem[] */
	uint64_t ro_base, ro_size;	/* void *, unsigned int: rodata (mem[] only; else 0) */
	uint64_t num_orcs, orc_ip, orc_u;
	uint64_t symtab, num_symtab, strtab;
};

/* A member that must be a pointer (8 bytes) or an unsigned int (4). */
static struct gp_error *member(struct kern *k, const char *type, const char *path,
			       uint64_t want_size, uint64_t *off)
{
	uint64_t size;
	struct gp_error *err;

	if ((err = kbtf_offsetof(k->btf, type, path, off, &size)))
		return err;
	if (size != want_size)
		return gp_error_create(GP_ERR_UNSUPPORTED,
				       "struct %s's %s is %llu bytes, not %llu: the module layout is not one guestpatch knows",
				       type, path, (unsigned long long)size,
				       (unsigned long long)want_size);
	return NULL;
}

/* mem[MOD_TEXT] and mem[MOD_RODATA]: indices from enum mod_mem_type. */
static struct gp_error *mem_offsets(struct kern *k, struct mod_offsets *o)
{
	static const char *const types[] = { "MOD_TEXT", "MOD_RODATA" };
	uint64_t mem, mem_size, esize, n, base, size;
	uint64_t *bases[] = { &o->text_base, &o->ro_base }, *sizes[] = { &o->text_size, &o->ro_size };
	struct gp_error *err;

	if ((err = kbtf_offsetof(k->btf, "module", "mem", &mem, &mem_size)) ||
	    (err = kbtf_array_len(k->btf, "module", "mem", &n)) ||
	    (err = kbtf_sizeof(k->btf, "module_memory", &esize)) ||
	    (err = member(k, "module_memory", "base", 8, &base)) ||
	    (err = member(k, "module_memory", "size", 4, &size)))
		return err;
	if (!n || esize * n != mem_size)
		return gp_error_create(GP_ERR_UNSUPPORTED,
				       "struct module's mem[] is %llu bytes for %llu struct module_memory of %llu: not a layout guestpatch knows",
				       (unsigned long long)mem_size, (unsigned long long)n,
				       (unsigned long long)esize);
	for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
		int64_t v;

		if ((err = kbtf_enum_value(k->btf, "mod_mem_type", types[i], &v)))
			return err;
		if (v < 0 || (uint64_t)v >= n)
			return gp_error_create(GP_ERR_UNSUPPORTED,
					       "enum mod_mem_type's %s is %lld, outside struct module's mem[%llu]",
					       types[i], (long long)v, (unsigned long long)n);
		*bases[i] = mem + (uint64_t)v * esize + base;
		*sizes[i] = mem + (uint64_t)v * esize + size;
	}
	o->core_size = 0;
	return NULL;
}

static struct gp_error *core_offsets(struct kern *k, struct mod_offsets *o)
{
	struct gp_error *err;

	/* No ORC headers before 6.4, so no rodata to look for one in. */
	if ((err = member(k, "module", "core_layout.base", 8, &o->text_base)) ||
	    (err = member(k, "module", "core_layout.size", 4, &o->core_size)) ||
	    (err = member(k, "module", "core_layout.text_size", 4, &o->text_size)))
		return err;
	o->ro_base = o->ro_size = 0;
	return NULL;
}

static struct gp_error *offsets(struct kern *k, struct mod_offsets *o)
{
	struct gp_error *err;
	int found = 0;

	memset(o, 0, sizeof(*o));
	if (!k->btf)
		return gp_error_create(GP_ERR_UNSUPPORTED,
				       "no BTF for the guest kernel: need struct module (give --vmlinux)");
	for (size_t i = 0; i < ARRAY_SIZE(mod_layouts); i++)
		if (kbtf_has_member(k->btf, "module", mod_layouts[i].member)) {
			o->layout = &mod_layouts[i];
			found++;
		}
	if (found != 1)
		return gp_error_create(GP_ERR_UNSUPPORTED,
				       "the guest's struct module has %s of mem[] (Linux 6.4 on) and core_layout (up to 6.3): its module layout is not one guestpatch knows, so module code cannot be told",
				       found ? "both" : "neither");
	if ((err = kern_offsetof(k, "module", "list", &o->list)) ||
	    (err = kern_offsetof(k, "module", "name", &o->name)) ||
	    (err = kern_offsetof(k, "module", "state", &o->state)) ||
	    (err = o->layout->kind == MOD_LAYOUT_MEM ? mem_offsets(k, o) : core_offsets(k, o)) ||
	    (err = member(k, "module", "core_kallsyms.symtab", 8, &o->symtab)) ||
	    (err = member(k, "module", "core_kallsyms.num_symtab", 4, &o->num_symtab)) ||
	    (err = member(k, "module", "core_kallsyms.strtab", 8, &o->strtab)))
		return gp_error_wrap(err, "module layout (struct module's %s, %s)",
				     o->layout->member, o->layout->kernels);
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
 * Which ORC format a module's tables are in.  Since 6.4 every module has
 * its own 20-byte header, `static const u8 orc_header[]` in section
 * .orc_header (ORC_HEADER in arch/x86/include/asm/orc_header.h, put in
 * every module's .mod.c by b9f174c811e3, "x86/unwind/orc: Add ELF section
 * with ORC version identifier").  The module loader does not check it and
 * struct module does not point at it, so a module built for another
 * format would load and its tables would be misread by the kernel's own
 * unwinder; we read it instead: the header is an allocated, read-only
 * section, so the loader places it in the module's rodata, and its
 * symbol, orc_header, is kept in core_kallsyms (CONFIG_KALLSYMS_ALL, set
 * by Debian; both verified on a 6.12.117 guest).  The module's tables are
 * decoded in the format its own header names (orc_format.c); a header
 * naming no format we know, or a module without a header in a kernel
 * that has one (its format cannot be told), gets no ORC: its frames are
 * unreliable, and the reason is kept in orc_why.  Up to 6.3 there are no
 * headers anywhere: a module's tables are in the kernel's format, the one
 * struct orc_entry its unwinder decodes them with.  With the kernel's own
 * format unknown (kfmt NULL) no module ORC is read.
 */
static struct gp_error *module_orc_format(struct kern *k, const struct kmod *m, uint64_t hdr,
					  const struct orc_format *kfmt,
					  const struct orc_format **out)
{
	uint8_t hash[ORC_HASH_LEN];
	struct gp_error *err;

	*out = NULL;
	if (!kfmt)
		return gp_error_create(GP_ERR_UNSUPPORTED, "the kernel's own ORC format is unknown");
	if (!hdr) {
		if (!kfmt->hash) {
			*out = kfmt;
			return NULL;
		}
		return gp_error_create(GP_ERR_UNSUPPORTED,
				       "module %s shows no ORC header (no orc_header symbol in its rodata) in a kernel whose ORC format (%s) has one: its ORC format cannot be told",
				       m->name, kfmt->name);
	}
	if (hdr == HDR_AMBIGUOUS)
		return gp_error_create(GP_ERR_UNSUPPORTED,
				       "module %s has more than one orc_header: its ORC format cannot be told",
				       m->name);
	if ((err = kern_read(k, hdr, hash, sizeof(hash))))
		return gp_error_wrap(err, "module %s: reading its ORC header", m->name);
	if ((err = orc_format_pick(hash, NULL, out)))
		return gp_error_wrap(err, "module %s", m->name);
	return NULL;
}

static struct gp_error *read_orc(struct kern *k, const struct mod_offsets *o, uint64_t mod,
				 const struct orc_format *kfmt, uint64_t hdr, struct kmod *m,
				 struct kmod_budget *b)
{
	const struct orc_format *fmt;
	uint32_t n;
	uint64_t ip, u;
	int32_t *rel = NULL;
	uint8_t *raw = NULL;
	struct gp_error *err;

	if (!o->orc_ip)
		return NULL;
	if ((err = kern_read_u32(k, mod + o->num_orcs, &n)) ||
	    (err = kern_read_u64(k, mod + o->orc_ip, &ip)) ||
	    (err = kern_read_u64(k, mod + o->orc_u, &u)))
		return err;
	if (!n)
		return NULL;
	/* Refused: the module is kept (its text and symbols), without ORC. */
	if ((err = module_orc_format(k, m, hdr, kfmt, &fmt))) {
		snprintf(m->orc_why, sizeof(m->orc_why), "%s", err->msg);
		gp_error_destroy(err);
		return NULL;
	}
	m->orc_fmt = fmt;
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

/* Where a module's memory lies, as its struct module says. */
struct mod_ranges {
	uint64_t ro_start, ro_end;	/* read-only data (6.4+; else none) */
};

/* The module's symbols in core text into m; *hdr gets the address of its
 * ORC header (the orc_header object in its rodata), or 0 if it has none. */
static struct gp_error *read_syms(struct kern *k, const struct mod_offsets *o, uint64_t mod,
				  const struct mod_ranges *r, struct kmod *m, uint64_t *hdr,
				  struct kmod_budget *b)
{
	int headers = 0;

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
	*hdr = 0;
	for (uint32_t i = 0; i < n; i++)
		if (es[i].st_shndx && es[i].st_name < len &&
		    !strcmp(m->strs + es[i].st_name, "orc_header") && es[i].st_size == ORC_HASH_LEN &&
		    es[i].st_value >= r->ro_start && es[i].st_value <= r->ro_end - ORC_HASH_LEN &&
		    r->ro_end - r->ro_start >= ORC_HASH_LEN) {
			*hdr = es[i].st_value;
			headers++;
		}
	if (headers > 1)
		*hdr = HDR_AMBIGUOUS;
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
		uint64_t mod = node - o.list, base, ro_base = 0, hdr = 0;
		uint32_t state, text, core = 0, ro = 0;
		struct mod_ranges r;
		struct kmod m = { 0 };

		if (i >= KMOD_MAX || !kptr(k, node) || (node & 7)) {
			kmod_free(out);
			return gp_error_addr(GP_ERR_CORRUPT, node,
					     "module list at 0x%llx is corrupt or loops",
					     (unsigned long long)node);
		}
		if ((err = kern_read_u32(k, mod + o.state, &state)) ||
		    (err = kern_read(k, mod + o.name, m.name, KMOD_NAME_LEN)) ||
		    (err = kern_read_u64(k, mod + o.text_base, &base)) ||
		    (err = kern_read_u32(k, mod + o.text_size, &text)) ||
		    (o.core_size && (err = kern_read_u32(k, mod + o.core_size, &core))) ||
		    (o.ro_size && (err = kern_read_u64(k, mod + o.ro_base, &ro_base))) ||
		    (o.ro_size && (err = kern_read_u32(k, mod + o.ro_size, &ro))) ||
		    (err = kern_read_u64(k, node, &node))) {
			kmod_free(out);
			return gp_error_wrap(err, "reading module at 0x%llx", (unsigned long long)mod);
		}
		if (state == MODULE_STATE_UNFORMED)
			continue;
		m.addr = mod;
		m.name[KMOD_NAME_LEN] = '\0';
		for (char *c = m.name; *c; c++)
			if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
				*c = '?';
		/* Up to 6.3 the text is the start of core memory; from 6.4
		 * text and rodata are each their own. */
		if (!kptr(k, base) || !text || text > (1u << 30) || (o.core_size && text > core) ||
		    (ro && (!kptr(k, ro_base) || ro > (1u << 30)))) {
			out->skipped++;
			continue;
		}
		m.text_start = base;
		m.text_end = base + text;
		r.ro_start = ro ? ro_base : 0;
		r.ro_end = ro ? ro_base + ro : 0;
		err = read_syms(k, &o, mod, &r, &m, &hdr, &budget);
		if (!err)
			err = read_orc(k, &o, mod, fmt, hdr, &m, &budget);
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
