// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * lp_kmod_exports.c - what a livepatch module is checked against: the
 * guest kernel's exported symbols read from its __ksymtab/__kcrctab
 * tables as find_symbol() reads them (struct kernel_symbol's layout from
 * the guest's BTF), its vermagic, and the checks of check_modinfo(),
 * check_version() and resolve_symbol().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lp_kmod_int.h"

#define KSYM_STRS_MAX (8u << 20)

/* ---- the guest's exports ---- */

static int export_cmp(const void *a, const void *b, void *strs)
{
	const struct lp_kmod_export *x = a, *y = b;

	return strcmp((const char *)strs + x->name, (const char *)strs + y->name);
}

struct gp_error *lp_kmod_exports_finish(struct lp_kmod_exports *ex)
{
	if (!ex->strs || !ex->strs_len || ex->strs[ex->strs_len - 1])
		return gp_error_create(GP_ERR_CORRUPT, "export names are not NUL-terminated");
	for (size_t i = 0; i < ex->n; i++)
		if (ex->v[i].name >= ex->strs_len || ex->v[i].ns >= ex->strs_len)
			return gp_error_create(GP_ERR_CORRUPT, "export %zu: name outside its table", i);
	qsort_r(ex->v, ex->n, sizeof(*ex->v), export_cmp, ex->strs);
	return NULL;
}

const struct lp_kmod_export *lp_kmod_export_find(const struct lp_kmod_exports *ex,
						const char *name)
{
	size_t lo = 0, hi = ex->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, ex->strs + ex->v[mid].name);

		if (!c)
			return &ex->v[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

void lp_kmod_exports_free(struct lp_kmod_exports *ex)
{
	free(ex->v);
	free(ex->strs);
	ex->v = NULL;
	ex->strs = NULL;
	ex->n = ex->strs_len = 0;
}

/* The guest's vermagic: the kernel's own `vermagic` string (kernel/module/
 * main.c, what check_modinfo() compares), found by kallsyms. */
static void read_vermagic(struct kern *k, struct lp_kmod_exports *ex)
{
	uint64_t va;
	char buf[LP_KMOD_VERMAGIC_MAX];
	struct gp_error *err;

	ex->vermagic[0] = 0;
	if (!kern_has_sym(k, "vermagic", &va)) {
		snprintf(ex->vermagic_why, sizeof(ex->vermagic_why),
			 "the guest kernel's kallsyms has no 'vermagic' string");
		return;
	}
	if ((err = kern_read(k, va, buf, sizeof(buf)))) {
		snprintf(ex->vermagic_why, sizeof(ex->vermagic_why),
			 "reading the guest's vermagic: %s", err->msg ? err->msg : "failed");
		gp_error_destroy(err);
		return;
	}
	if (!memchr(buf, 0, sizeof(buf)) || strncmp(buf, k->release, strlen(k->release)) ||
	    buf[strlen(k->release)] != ' ') {
		snprintf(ex->vermagic_why, sizeof(ex->vermagic_why),
			 "the guest's 'vermagic' symbol does not hold a vermagic of release %s",
			 k->release);
		return;
	}
	snprintf(ex->vermagic, sizeof(ex->vermagic), "%s", buf);
}

struct ksymtab_layout {
	uint64_t size, value_off, name_off, ns_off;
};

/* struct kernel_symbol from the guest's BTF: the PREL32 form (x86-64:
 * int value_offset, name_offset, namespace_offset, each relative to
 * itself; include/linux/export.h in 6.1, export-internal.h in 6.12). */
static struct gp_error *ksymtab_layout(struct kern *k, struct ksymtab_layout *l)
{
	struct gp_error *err;
	uint64_t sz;

	if (!k->btf)
		return gp_error_create(GP_ERR_UNSUPPORTED,
				       "no BTF for the guest kernel: cannot read its exported symbols (struct kernel_symbol)");
	if ((err = kbtf_sizeof(k->btf, "kernel_symbol", &l->size)))
		return gp_error_wrap(err, "the guest's exported symbols");
	if (!kbtf_has_member(k->btf, "kernel_symbol", "value_offset"))
		return gp_error_create(GP_ERR_UNSUPPORTED,
				       "the guest's struct kernel_symbol has no value_offset: absolute ksymtab entries are not supported");
	if ((err = kbtf_offsetof(k->btf, "kernel_symbol", "value_offset", &l->value_off, &sz)) ||
	    sz != 4 ||
	    (err = kbtf_offsetof(k->btf, "kernel_symbol", "name_offset", &l->name_off, &sz)) ||
	    sz != 4)
		return err ? err : gp_error_create(GP_ERR_UNSUPPORTED,
						   "struct kernel_symbol's offsets are not 32-bit");
	l->ns_off = UINT64_MAX;
	if (kbtf_has_member(k->btf, "kernel_symbol", "namespace_offset") &&
	    ((err = kbtf_offsetof(k->btf, "kernel_symbol", "namespace_offset", &l->ns_off, &sz)) ||
	     sz != 4))
		return err ? err : gp_error_create(GP_ERR_UNSUPPORTED,
						   "struct kernel_symbol's namespace_offset is not 32-bit");
	if (l->size < 8 || l->size > 64)
		return gp_error_create(GP_ERR_UNSUPPORTED, "struct kernel_symbol of %llu bytes",
				       (unsigned long long)l->size);
	return NULL;
}

struct ksym_span {
	const char *what;
	uint64_t start, stop, crc;	/* crc: its __kcrctab, 0 if none */
	bool gpl;
};

struct gp_error *lp_kmod_read_exports(struct kern *k, struct lp_kmod_exports *ex)
{
	struct ksym_span spans[2] = {
		{ .what = "__ksymtab" }, { .what = "__ksymtab_gpl", .gpl = true },
	};
	struct ksymtab_layout l;
	struct gp_error *err;
	uint64_t *name_va = NULL, *ns_va = NULL, lo = UINT64_MAX, hi = 0;
	uint8_t *tab = NULL;
	size_t total = 0, n = 0;

	memset(ex, 0, sizeof(*ex));
	read_vermagic(k, ex);
	if ((err = ksymtab_layout(k, &l)))
		return err;
	for (int s = 0; s < 2; s++) {
		char a[64], b[64];
		uint64_t cstop;

		snprintf(a, sizeof(a), "__start_%s", spans[s].what);
		snprintf(b, sizeof(b), "__stop_%s", spans[s].what);
		if (!kern_has_sym(k, a, &spans[s].start) || !kern_has_sym(k, b, &spans[s].stop))
			return gp_error_create(GP_ERR_UNSUPPORTED,
					       "the guest's kallsyms has no %s/%s: cannot read its exported symbols",
					       a, b);
		if (spans[s].stop < spans[s].start ||
		    (spans[s].stop - spans[s].start) % l.size ||
		    (spans[s].stop - spans[s].start) / l.size > LP_KMOD_MAX_EXPORTS)
			return gp_error_addr(GP_ERR_CORRUPT, spans[s].start,
					     "the guest's %s is not a table of %llu-byte entries",
					     spans[s].what, (unsigned long long)l.size);
		total += (spans[s].stop - spans[s].start) / l.size;
		snprintf(a, sizeof(a), "__start___kcrctab%s", s ? "_gpl" : "");
		snprintf(b, sizeof(b), "__stop___kcrctab%s", s ? "_gpl" : "");
		if (kern_has_sym(k, a, &spans[s].crc)) {
			/* u32 CRCs, one per entry (5.19+: CONFIG_MODULE_REL_CRCS gone) */
			if (!kern_has_sym(k, b, &cstop) || cstop < spans[s].crc ||
			    (cstop - spans[s].crc) / 4 != (spans[s].stop - spans[s].start) / l.size)
				return gp_error_addr(GP_ERR_CORRUPT, spans[s].crc,
						     "the guest's %s does not hold one 32-bit CRC per %s entry",
						     a, spans[s].what);
		}
	}
	ex->have_crcs = spans[0].crc && spans[1].crc;
	if (total > LP_KMOD_MAX_EXPORTS)
		return gp_error_create(GP_ERR_LIMIT, "the guest exports %zu symbols, at most %u",
				       total, LP_KMOD_MAX_EXPORTS);
	ex->v = calloc(total ? total : 1, sizeof(*ex->v));
	name_va = calloc(total ? total : 1, sizeof(*name_va));
	ns_va = calloc(total ? total : 1, sizeof(*ns_va));
	if (!ex->v || !name_va || !ns_va) {
		err = &gp_error_nomem;
		goto out;
	}
	for (int s = 0; s < 2; s++) {
		size_t cnt = (spans[s].stop - spans[s].start) / l.size;
		uint32_t *crcs = NULL;

		free(tab);
		tab = malloc(cnt * l.size + 1);
		if (!tab) {
			err = &gp_error_nomem;
			goto out;
		}
		if (cnt && (err = kern_read(k, spans[s].start, tab, cnt * l.size)))
			goto out;
		if (ex->have_crcs && cnt) {
			crcs = malloc(cnt * 4);
			if (!crcs) {
				err = &gp_error_nomem;
				goto out;
			}
			if ((err = kern_read(k, spans[s].crc, crcs, cnt * 4))) {
				free(crcs);
				goto out;
			}
		}
		for (size_t i = 0; i < cnt; i++, n++) {
			const uint8_t *e = tab + i * l.size;
			uint64_t base = spans[s].start + i * l.size;
			int32_t v, nm, ns = 0;

			memcpy(&v, e + l.value_off, 4);
			memcpy(&nm, e + l.name_off, 4);
			if (l.ns_off != UINT64_MAX)
				memcpy(&ns, e + l.ns_off, 4);
			ex->v[n].value = base + l.value_off + (uint64_t)(int64_t)v;
			name_va[n] = base + l.name_off + (uint64_t)(int64_t)nm;
			ns_va[n] = ns ? base + l.ns_off + (uint64_t)(int64_t)ns : 0;
			ex->v[n].gpl = spans[s].gpl;
			ex->v[n].crc = crcs ? crcs[i] : 0;
			lo = name_va[n] < lo ? name_va[n] : lo;
			hi = name_va[n] > hi ? name_va[n] : hi;
			if (ns_va[n]) {
				lo = ns_va[n] < lo ? ns_va[n] : lo;
				hi = ns_va[n] > hi ? ns_va[n] : hi;
			}
		}
		free(crcs);
	}
	ex->n = n;
	/* The names lie together in __ksymtab_strings: read the span once. */
	if (n) {
		size_t span;

		if (hi - lo > KSYM_STRS_MAX)
			return gp_error_addr(GP_ERR_CORRUPT, lo,
					     "the guest's export names span %llu bytes (at most %u)",
					     (unsigned long long)(hi - lo), KSYM_STRS_MAX);
		span = (size_t)(hi - lo) + KSYM_NAME_LEN;
		ex->strs = malloc(span + 2);
		if (!ex->strs) {
			err = &gp_error_nomem;
			goto out;
		}
		if ((err = kern_read(k, lo, ex->strs + 1, span)))
			goto out;
		ex->strs[0] = 0;	/* offset 0: "no namespace" */
		ex->strs[span + 1] = 0;
		ex->strs_len = span + 2;
		for (size_t i = 0; i < n; i++) {
			ex->v[i].name = (uint32_t)(name_va[i] - lo + 1);
			ex->v[i].ns = ns_va[i] ? (uint32_t)(ns_va[i] - lo + 1) : 0;
			if (!memchr(ex->strs + ex->v[i].name, 0, KSYM_NAME_LEN)) {
				err = gp_error_addr(GP_ERR_CORRUPT, name_va[i],
						    "a guest export name is longer than %d bytes",
						    KSYM_NAME_LEN);
				goto out;
			}
		}
	} else {
		ex->strs = calloc(1, 1);
		ex->strs_len = 1;
		if (!ex->strs) {
			err = &gp_error_nomem;
			goto out;
		}
	}
	err = lp_kmod_exports_finish(ex);
out:
	free(tab);
	free(name_va);
	free(ns_va);
	if (err)
		lp_kmod_exports_free(ex);
	return err;
}

/* ---- check_modinfo / check_version ---- */

struct gp_error *lp_kmod_check(const struct lp_kmod *km, const char *release,
			       const struct lp_kmod_exports *ex)
{
	struct lp_obj *o = km->o;

	if (!ex->vermagic[0])
		return lp_elf_err(o, "cannot tell the guest kernel's vermagic (%s), so cannot check that %s was built for it",
				  ex->vermagic_why[0] ? ex->vermagic_why : "unknown", km->name);
	if (strcmp(km->vermagic, ex->vermagic))
		return lp_elf_err(o, "module %s was built for another kernel: its vermagic is '%s', the guest's (release %s) is '%s'",
				  km->name, km->vermagic, release, ex->vermagic);
	if (!km->have_versions)
		return ex->have_crcs ?
			lp_elf_err(o, "module %s has no __versions (built without CONFIG_MODVERSIONS), the guest kernel checks symbol versions",
				   km->name) : NULL;
	if (!ex->have_crcs)
		return lp_elf_err(o, "the guest kernel has no symbol CRC tables (__start___kcrctab), but module %s carries __versions: cannot check them",
				  km->name);
	for (size_t i = 0; i < km->nversions; i++) {
		const struct lp_kmod_version *v = &km->versions[i];
		const struct lp_kmod_export *e = lp_kmod_export_find(ex, v->name);

		if (!e)
			return lp_elf_err(o, "__versions names %s, which the guest kernel does not export (symbols of modules are not supported)",
					  v->name);
		if (v->crc != e->crc)
			return lp_elf_err(o, "module %s disagrees about version of symbol %s: CRC 0x%llx, the guest kernel's is 0x%x",
					  km->name, v->name, (unsigned long long)v->crc, e->crc);
	}
	return NULL;
}

/* An exported symbol the module uses (resolve_symbol): found, its CRC
 * listed, GPL-only symbols only for GPL-compatible licenses, namespaces
 * imported. */
struct gp_error *lp_kmod_resolve_export(const struct lp_kmod *km, const struct lp_kmod_exports *ex,
					const char *name, uint64_t *val)
{
	static const char *const gpl_ok[] = { "GPL", "GPL v2", "GPL and additional rights",
					      "Dual BSD/GPL", "Dual MIT/GPL", "Dual MPL/GPL" };
	const struct lp_kmod_export *e = lp_kmod_export_find(ex, name);
	bool gpl = false, listed = false;

	if (!e)
		return lp_elf_err(km->o, "unknown symbol %s: the guest kernel does not export it (symbols of modules, and unexported ones without .klp.sym, are not resolved)",
				  name);
	for (size_t i = 0; i < ARRAY_SIZE(gpl_ok); i++)
		gpl |= !strcmp(km->license, gpl_ok[i]);
	if (e->gpl && !gpl)
		return lp_elf_err(km->o, "%s is a GPL-only export and the module's license is '%s'",
				  name, km->license);
	if (e->ns && ex->strs[e->ns]) {
		char want[200];

		snprintf(want, sizeof(want), "%s;", ex->strs + e->ns);
		if (!strstr(km->import_ns, want))
			return lp_elf_err(km->o, "module %s uses symbol %s from namespace %s, but does not import it",
					  km->name, name, ex->strs + e->ns);
	}
	for (size_t i = 0; i < km->nversions; i++)
		listed |= !strcmp(km->versions[i].name, name);
	if (ex->have_crcs && km->have_versions && !listed)
		return lp_elf_err(km->o, "no symbol version for %s in __versions", name);
	*val = e->value;
	return NULL;
}
