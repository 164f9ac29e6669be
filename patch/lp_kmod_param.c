// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * lp_kmod_param.c - a livepatch module's parameters (module_param()),
 * given as NAME=VALUE after FILE.ko as to insmod: the variable the
 * parameter names gets the value in the linked copy, before anything of
 * the module runs (insmod's parse_args() does it before the init
 * function).  The parameter is found as the kernel finds it: its struct
 * kernel_param in the __param section (layout from the guest's BTF), the
 * relocations there giving its ops (param_ops_int, ...) and its variable.
 * Only the plain integer and bool kinds are honoured; anything else
 * (strings, arrays, callbacks of its own) is refused by name.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lp_kmod.h"
#include "lp_kmod_int.h"

#define MAX_PARAMS 32

static const struct {
	const char *ops;
	unsigned size;
	bool is_signed, is_bool;
} kinds[] = {
	{ "param_ops_int", 4, true, false },	{ "param_ops_uint", 4, false, false },
	{ "param_ops_long", 8, true, false },	{ "param_ops_ulong", 8, false, false },
	{ "param_ops_short", 2, true, false },	{ "param_ops_ushort", 2, false, false },
	{ "param_ops_byte", 1, false, false },	{ "param_ops_bool", 1, false, true },
};

static struct gp_error *parse_value(const struct lp_obj *o, const char *name, const char *v,
				    unsigned kind, uint8_t out[8])
{
	uint64_t u = 0;
	char *end;

	if (kinds[kind].is_bool) {
		/* param_set_bool(): kstrtobool */
		if (!strcmp(v, "1") || !strcmp(v, "y") || !strcmp(v, "Y") || !strcmp(v, "on"))
			u = 1;
		else if (!strcmp(v, "0") || !strcmp(v, "n") || !strcmp(v, "N") || !strcmp(v, "off"))
			u = 0;
		else
			return lp_elf_err(o, "parameter %s: '%s' is not a bool", name, v);
	} else {
		unsigned bits = kinds[kind].size * 8;

		errno = 0;
		if (kinds[kind].is_signed) {
			long long s = strtoll(v, &end, 0);

			if (errno || !*v || *end || (bits < 64 && (s < -(1ll << (bits - 1)) ||
								   s >= (1ll << (bits - 1)))))
				return lp_elf_err(o, "parameter %s: '%s' is not a %u-bit integer", name, v,
						  bits);
			u = (uint64_t)s;
		} else {
			unsigned long long x = strtoull(v, &end, 0);

			if (errno || !*v || *v == '-' || *end || (bits < 64 && x >> bits))
				return lp_elf_err(o, "parameter %s: '%s' is not an unsigned %u-bit integer",
						  name, v, bits);
			u = x;
		}
	}
	memcpy(out, &u, 8);	/* little-endian: the low bytes first */
	return NULL;
}

/* The symbol table and its data. */
static struct gp_error *symtab(const struct lp_obj *o, Elf_Data **sd, size_t *nsyms,
			       size_t *strndx)
{
	for (size_t i = 0; i < o->nsec; i++) {
		Elf_Scn *scn;

		if (o->secs[i].sh.sh_type != SHT_SYMTAB || !o->secs[i].sh.sh_entsize)
			continue;
		if (!(scn = elf_getscn(o->elf, i)) || !(*sd = elf_getdata(scn, NULL)))
			break;
		*nsyms = o->secs[i].sh.sh_size / o->secs[i].sh.sh_entsize;
		*strndx = o->secs[i].sh.sh_link;
		return NULL;
	}
	return lp_elf_err(o, "no symbol table");
}

/* One parameter: its kernel_param at off_kp of section psec. */
static struct gp_error *set_one(struct lp_kmod *km, int psec, uint64_t off_kp, uint64_t off_ops,
				uint64_t off_arg, const char *name, const char *value)
{
	struct lp_obj *o = km->o;
	int kind = -1, var_sec = -1;
	uint64_t var_off = 0;
	uint8_t val[8];
	struct gp_error *err;

	for (size_t i = 0; i < o->nsec; i++) {
		const struct lp_sec *rs = &o->secs[i];
		struct lp_rela rl;

		if (rs->sh.sh_type != SHT_RELA || rs->sh.sh_info != (unsigned)psec)
			continue;
		if ((err = lp_elf_rela(o, i, &rl)))
			return err;
		for (size_t j = 0; j < rl.nrel && j < (1u << 20); j++) {
			GElf_Rela r;
			GElf_Sym sym;
			const char *sn;

			if (!gelf_getrela(rl.rd, (int)j, &r) || GELF_R_SYM(r.r_info) >= rl.nsyms ||
			    !gelf_getsym(rl.sd, (int)GELF_R_SYM(r.r_info), &sym) ||
			    GELF_R_TYPE(r.r_info) != R_X86_64_64)
				continue;
			sn = elf_strptr(o->elf, rl.strtab, sym.st_name);
			if (r.r_offset == off_kp + off_ops) {
				for (size_t q = 0; q < ARRAY_SIZE(kinds); q++)
					if (sn && sym.st_shndx == SHN_UNDEF && !strcmp(sn, kinds[q].ops))
						kind = (int)q;
				if (kind < 0)
					return lp_elf_err(o, "parameter %s is of kind %s: only integer and bool parameters can be set",
							  name, sn && *sn ? sn : "(its own ops)");
			} else if (r.r_offset == off_kp + off_arg) {
				if (sym.st_shndx == SHN_UNDEF || sym.st_shndx >= o->nsec || r.r_addend < 0)
					return lp_elf_err(o, "parameter %s: its variable is not the module's own",
							  name);
				var_sec = sym.st_shndx;
				var_off = sym.st_value + (uint64_t)r.r_addend;
			}
		}
	}
	if (kind < 0 || var_sec < 0)
		return lp_elf_err(o, "parameter %s: its ops or its variable cannot be read from %s", name,
				  o->secs[psec].name);
	if (o->secs[var_sec].kind != LP_SEC_DATA || !o->secs[var_sec].host ||
	    var_off > o->secs[var_sec].sh.sh_size ||
	    o->secs[var_sec].sh.sh_size - var_off < kinds[kind].size)
		return lp_elf_err(o, "parameter %s: its variable (%s+0x%llx) is not in the module's loaded data",
				  name, o->secs[var_sec].name ? o->secs[var_sec].name : "?",
				  (unsigned long long)var_off);
	if ((err = parse_value(o, name, value, (unsigned)kind, val)))
		return err;
	memcpy(o->secs[var_sec].host + var_off, val, kinds[kind].size);
	return NULL;
}

struct gp_error *lp_kmod_set_params(struct lp_kmod *km, const struct kbtf *btf,
				    const char *const *params, int n)
{
	struct lp_obj *o = km->o;
	uint64_t off_ops, off_arg, kp_size;
	Elf_Data *sd = NULL;
	size_t nsyms = 0, strndx = 0;
	struct gp_error *err;

	if (n <= 0)
		return NULL;
	if (n > MAX_PARAMS)
		return lp_elf_err(o, "more than %d parameters", MAX_PARAMS);
	if (!btf)
		return lp_elf_err(o, "module parameters: no BTF for the guest (struct kernel_param)");
	if ((err = kbtf_sizeof(btf, "kernel_param", &kp_size)) ||
	    (err = kbtf_offsetof(btf, "kernel_param", "ops", &off_ops, NULL)) ||
	    (err = kbtf_offsetof(btf, "kernel_param", "arg", &off_arg, NULL)))
		return gp_error_wrap(err, "the guest's struct kernel_param (BTF)");
	if ((err = symtab(o, &sd, &nsyms, &strndx)))
		return err;
	for (int i = 0; i < n; i++) {
		const char *eq = strchr(params[i], '=');
		char name[128], want[140];
		bool found = false;

		if (!eq || eq == params[i] || (size_t)(eq - params[i]) >= sizeof(name))
			return lp_elf_err(o, "'%s' is not a parameter NAME=VALUE", params[i]);
		memcpy(name, params[i], (size_t)(eq - params[i]));
		name[eq - params[i]] = 0;
		snprintf(want, sizeof(want), "__param_%s", name);
		for (size_t j = 0; j < nsyms && j < (1u << 20) && !found; j++) {
			GElf_Sym sym;
			const char *sn;

			if (!gelf_getsym(sd, (int)j, &sym) ||
			    !(sn = elf_strptr(o->elf, strndx, sym.st_name)) || strcmp(sn, want) ||
			    sym.st_shndx == SHN_UNDEF || sym.st_shndx >= o->nsec ||
			    !o->secs[sym.st_shndx].name ||
			    strcmp(o->secs[sym.st_shndx].name, "__param") ||
			    sym.st_value > o->secs[sym.st_shndx].sh.sh_size ||
			    o->secs[sym.st_shndx].sh.sh_size - sym.st_value < kp_size)
				continue;
			if ((err = set_one(km, sym.st_shndx, sym.st_value, off_ops, off_arg, name,
					   eq + 1)))
				return err;
			found = true;
		}
		if (!found)
			return lp_elf_err(o, "the module has no parameter %s", name);
	}
	return NULL;
}
