// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_modules: the guest's module list (introspect/modules.c, kmod_load)
 * over a small guest whose memory the input gives: struct fz_mods_hdr (the
 * `modules` head and struct module's layout, made into a BTF here), then
 * chunks of kernel memory (the list, struct modules, symbol and string
 * tables, ORC tables); then every lookup on what was read.  Both layouts
 * of struct module: 6.1's core_layout and 6.4+'s mem[] with enum
 * mod_mem_type, whatever indices the input gives.
 */
#include <bpf/btf.h>
#include <stdbool.h>

#include "fuzz.h"
#include "modules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* struct module as far as modules.c reads it, at the header's offsets. */
static struct kbtf *make_btf(const struct fz_mods_hdr *h)
{
	struct btf *b = btf__new_empty();
	struct kbtf *k = NULL;
	int u32, u64, chr, i32, lh, lay, mks, arch = 0, name, mod, rc = 0;
	bool mem = h->mem_layout & 1;
	unsigned nmem = ((h->mem_layout >> 8) & 15) + 1;
	const void *raw;
	__u32 sz;

#define F(n, t, off) (rc |= btf__add_field(b, n, t, (uint32_t)(off) * 8, 0))
	if (!b)
		return NULL;
	u32 = btf__add_int(b, "unsigned int", 4, 0);
	i32 = btf__add_int(b, "int", 4, BTF_INT_SIGNED);
	u64 = btf__add_int(b, "long unsigned int", 8, 0);
	chr = btf__add_int(b, "char", 1, BTF_INT_CHAR);
	lh = btf__add_struct(b, "list_head", 16);
	F("next", u64, 0);
	F("prev", u64, 8);
	if (mem) {
		int mm = btf__add_struct(b, "module_memory", 16);

		F("base", u64, h->base_rel & 0xfff);
		F("size", u32, h->size_rel & 0xfff);
		rc |= btf__add_enum(b, "mod_mem_type", 4) < 0;
		rc |= btf__add_enum_value(b, "MOD_TEXT", (h->mem_layout >> 16) & 15);
		rc |= btf__add_enum_value(b, "MOD_RODATA", (h->mem_layout >> 20) & 15);
		lay = btf__add_array(b, i32, mm, nmem);
	} else {
		lay = btf__add_struct(b, "module_layout", 24);
		F("base", u64, h->base_rel & 0xfff);
		F("size", u32, h->size_rel & 0xfff);
		F("text_size", u32, h->text_size_rel & 0xfff);
	}
	mks = btf__add_struct(b, "mod_kallsyms", 24);
	F("symtab", u64, h->symtab_rel & 0xfff);
	F("num_symtab", u32, h->num_symtab_rel & 0xfff);
	F("strtab", u64, h->strtab_rel & 0xfff);
	if (h->has_orc & 1) {
		arch = btf__add_struct(b, "mod_arch_specific", 24);
		F("num_orcs", u32, h->num_orcs_rel & 0xfff);
		F("orc_unwind_ip", u64, h->orc_ip_rel & 0xfff);
		F("orc_unwind", u64, h->orc_u_rel & 0xfff);
	}
	name = btf__add_array(b, i32, chr, 56);
	mod = btf__add_struct(b, "module", h->mod_size & 0xffff);
	F("state", u32, h->state & 0xffff);
	F("list", lh, h->list & 0xffff);
	F("name", name, h->name & 0xffff);
	F(mem ? "mem" : "core_layout", lay, h->layout & 0xffff);
	F("core_kallsyms", mks, h->kallsyms & 0xffff);
	if (arch)
		F("arch", arch, h->arch & 0xffff);
#undef F
	if (u32 > 0 && u64 > 0 && chr > 0 && i32 > 0 && lh > 0 && lay > 0 && mks > 0 &&
	    arch >= 0 && name > 0 && mod > 0 && !rc && (raw = btf__raw_data(b, &sz)))
		gp_error_destroy(kbtf_load(raw, sz, &k));
	btf__free(b);
	return k;
}

static void lookups(const struct kmod_list *l)
{
	const struct kmod *m;
	uint64_t addr, size;
	struct orc_entry e;

	for (size_t i = 0; i < l->n; i++) {
		const struct kmod *x = &l->v[i];

		kmod_find(l, x->text_start);
		kmod_find(l, x->text_end - 1);
		kmod_by_name(l, x->name);
		kmod_symbolize(x, x->text_start);
		kmod_symbolize(x, x->text_end - 1);
		if (x->orc)
			orc_find(x->orc, x->text_start, &e);
		for (size_t j = 0; j < x->nsyms && j < 64; j++) {
			kmod_symbolize(x, x->syms[j].addr);
			gp_error_destroy(kmod_lookup(l, x->name, x->strs + x->syms[j].name, &m,
						     &addr, &size));
			gp_error_destroy(kmod_lookup(l, NULL, x->strs + x->syms[j].name, &m,
						     &addr, &size));
		}
	}
	gp_error_destroy(kmod_lookup(l, "absent", "f", &m, &addr, &size));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz_vm vm;
	static struct kern k;
	static struct fz_mods_hdr last;
	static struct kbtf *btf;
	struct fz_in in = { data, size };
	struct fz_mods_hdr h;
	struct kmod_list l;
	char map[64];

	if (!vm.mem)
		fz_vm_init(&vm);
	fz_take(&in, &h, sizeof(h));
	/* One BTF per layout: most inputs keep the one before. */
	if (!btf || memcmp(&h.mod_size, &last.mod_size, sizeof(h) - 8)) {
		kbtf_free(btf);
		btf = make_btf(&h);
		last = h;
	}
	if (!btf)
		return 0;
	fz_vm_reset(&vm);
	fz_vm_chunks(&vm, &in);
	fz_vm_kern(&vm, &k);
	k.btf = btf;
	snprintf(map, sizeof(map), "%016llx d modules\n", (unsigned long long)h.modules);
	if (!gp_ok(ksym_parse_map(map, strlen(map), 0, &k.syms)))
		return 0;
	if (gp_ok(kmod_load(&k, orc_format_by_name(h.mem_layout & 1 ? "linux-6.4" : "linux-6.1"),
			    &l))) {
		lookups(&l);
		kmod_free(&l);
	}
	ksym_free(k.syms);
	return 0;
}
