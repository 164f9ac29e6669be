// SPDX-License-Identifier: GPL-2.0-or-later
/* lines: the attach sequence (translation, VMCOREINFO checks, symbols, BTF,
 * per-cpu, boot identity) reads best in one place. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gp_hash.h"
#include "kcache.h"
#include "kernel.h"

#define PAGE_SIZE 4096ull
/* new_utsname: sysname[65], nodename[65], release[65] (include/uapi/linux/utsname.h) */
#define UTS_RELEASE_OFF 130
#define UTS_LEN 65
#define SCAN_DEFAULT_LIMIT (4ull << 30)

/* ---- translation ---- */

static void tlb_check(struct kern *k)
{
	/* Page tables may change whenever the guest runs: the cache lives
	 * for one pause. A target that never runs (raw image) keeps it. */
	uint64_t gen = k->t->stats.pauses + (k->t->paused ? 0 : 1ull << 63);

	if (gen != k->tlb_gen) {
		memset(k->tlb, 0, sizeof(k->tlb));
		k->tlb_gen = gen;
	}
}

struct gp_error *kern_v2p(struct kern *k, uint64_t va, uint64_t *pa)
{
	struct kern_tlb_entry *e;
	struct pt_walk w;
	struct gp_error *err;
	uint64_t vpn = va >> 12;

	/* The kernel image is mapped linearly at __START_KERNEL_map
	 * (arch/x86/include/asm/page_64.h, __phys_addr_symbol). */
	if (va >= k->text_start && va < k->image_end) {
		*pa = va - KERN_START_KERNEL_MAP + k->phys_base;
		return NULL;
	}
	tlb_check(k);
	e = &k->tlb[vpn % KERN_TLB_SIZE];
	if (e->vpn == vpn + 1) {
		*pa = (e->pfn << 12) | (va & 0xfff);
		return NULL;
	}
	err = pt_translate(k->t, k->pgd_pa, k->levels, va, &w);
	if (err)
		return err;
	e->vpn = vpn + 1;
	e->pfn = w.pa >> 12;
	*pa = w.pa;
	return NULL;
}

struct gp_error *kern_read(struct kern *k, uint64_t va, void *buf, size_t len)
{
	uint8_t *out = buf;

	while (len) {
		size_t n = PAGE_SIZE - (va & (PAGE_SIZE - 1));
		struct gp_error *err;
		uint64_t pa;

		if (n > len)
			n = len;
		err = kern_v2p(k, va, &pa);
		if (!err)
			err = tgt_read_phys(k->t, pa, out, n);
		if (err)
			return err;
		va += n;
		out += n;
		len -= n;
	}
	return NULL;
}

struct gp_error *kern_read_u64(struct kern *k, uint64_t va, uint64_t *v)
{
	return kern_read(k, va, v, sizeof(*v));
}

struct gp_error *kern_read_u32(struct kern *k, uint64_t va, uint32_t *v)
{
	return kern_read(k, va, v, sizeof(*v));
}

struct gp_error *kern_sym(struct kern *k, const char *name, uint64_t *addr)
{
	const struct ksym *s;
	struct gp_error *err = ksym_lookup(k->syms, name, 0, &s);

	if (err)
		return err;
	*addr = s->addr;
	return NULL;
}

bool kern_has_sym(struct kern *k, const char *name, uint64_t *addr)
{
	return gp_ok(kern_sym(k, name, addr));
}

struct gp_error *kern_sym_first(struct kern *k, const char *const *names,
				uint64_t *addr)
{
	char list[256];
	size_t n = 0;

	for (size_t i = 0; names[i]; i++)
		if (kern_has_sym(k, names[i], addr))
			return NULL;
	list[0] = 0;
	for (size_t i = 0; names[i] && n < sizeof(list); i++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s'%s'",
				      i ? (names[i + 1] ? ", " : " or ") : "", names[i]);
	return gp_error_create(GP_ERR_NOTFOUND, "no symbol %s in the guest kernel", list);
}

struct gp_error *kern_offsetof(struct kern *k, const char *type,
			       const char *member, uint64_t *off)
{
	if (!k->btf)
		return gp_error_create(GP_ERR_UNSUPPORTED,
				       "no BTF for the guest kernel: need %s.%s (give --vmlinux)",
				       type, member);
	return kbtf_offsetof(k->btf, type, member, off, NULL);
}

/* ---- VMCOREINFO validation ---- */

struct accept_ctx {
	struct kern *k;
	const struct kern_opts *o;
	struct gp_error *last;	/* why the last candidate was rejected */
};

static struct gp_error *setup_from_vmci(struct kern *k,
					const struct vmcoreinfo *vi)
{
	struct gp_error *err;
	int64_t pb, l5;
	uint64_t pgd, stext, uts, pa_formula;
	char *rel = NULL, *bid = NULL;
	uint8_t release[UTS_LEN];
	struct pt_walk w;

	if ((err = vmci_get_hex(vi, "KERNELOFFSET", &k->kaslr_offset)) ||
	    (err = vmci_get_num(vi, "NUMBER(phys_base)", &pb)) ||
	    (err = vmci_symbol(vi, "init_top_pgt", &pgd)) ||
	    (err = vmci_symbol(vi, "_stext", &stext)) ||
	    (err = vmci_symbol(vi, "init_uts_ns", &uts)) ||
	    (err = vmci_get_str(vi, "OSRELEASE", &rel)))
		goto out;
	{
		/* Absent before 4.14: 4-level paging. */
		struct gp_error *e5 = vmci_get_num(vi, "NUMBER(pgtable_l5_enabled)", &l5);

		if (e5) {
			gp_error_destroy(e5);
			l5 = 0;
		}
	}
	k->phys_base = (uint64_t)pb;
	k->levels = l5 ? 5 : 4;
	if (pgd < KERN_START_KERNEL_MAP || stext < KERN_START_KERNEL_MAP ||
	    uts < KERN_START_KERNEL_MAP || strlen(rel) >= UTS_LEN) {
		err = gp_error_addr(GP_ERR_CORRUPT, vi->pa,
				    "VMCOREINFO at 0x%llx has kernel symbols outside the kernel map",
				    (unsigned long long)vi->pa);
		goto out;
	}
	k->pgd_pa = pgd - KERN_START_KERNEL_MAP + k->phys_base;
	k->text_start = k->image_end = 0;	/* no fast path until verified */

	/* The page tables must map _stext where the kernel-map formula says. */
	pa_formula = stext - KERN_START_KERNEL_MAP + k->phys_base;
	err = pt_translate(k->t, k->pgd_pa, k->levels, stext, &w);
	if (err)
		goto out;
	if (w.pa != pa_formula) {
		err = gp_error_addr(GP_ERR_CORRUPT, vi->pa,
				    "VMCOREINFO at 0x%llx: _stext maps to 0x%llx, not 0x%llx",
				    (unsigned long long)vi->pa,
				    (unsigned long long)w.pa,
				    (unsigned long long)pa_formula);
		goto out;
	}
	/* Every process's kernel root copies the kernel half of init_top_pgt,
	 * so vCPU 0's entry for the kernel map must be init_top_pgt's. */
	if (k->have_cr3) {
		uint64_t e;

		err = tgt_read_phys(k->t, k->pgd_pa + KERN_KMAP_TOP_INDEX * 8,
				    &e, sizeof(e));
		if (err)
			goto out;
		if (e != k->vcpu0_kmap_entry) {
			err = gp_error_addr(GP_ERR_CORRUPT, vi->pa,
					    "VMCOREINFO at 0x%llx disagrees with vCPU 0's page tables about the kernel map (top-level entry 0x%llx, vCPU 0 has 0x%llx)",
					    (unsigned long long)vi->pa,
					    (unsigned long long)e,
					    (unsigned long long)k->vcpu0_kmap_entry);
			goto out;
		}
	}
	err = pt_translate(k->t, k->pgd_pa, k->levels, uts + UTS_RELEASE_OFF, &w);
	if (!err)
		err = tgt_read_phys(k->t, w.pa, release, sizeof(release));
	if (err)
		goto out;
	release[UTS_LEN - 1] = 0;
	if (strcmp((char *)release, rel)) {
		err = gp_error_addr(GP_ERR_CORRUPT, vi->pa,
				    "VMCOREINFO says release %s, init_uts_ns says %.64s",
				    rel, release);
		goto out;
	}
	snprintf(k->release, sizeof(k->release), "%s", rel);
	if (gp_ok(vmci_get_str(vi, "BUILD-ID", &bid)))
		snprintf(k->build_id, sizeof(k->build_id), "%s", bid);
out:
	free(rel);
	free(bid);
	return err;
}

static bool accept_vmci(const struct vmcoreinfo *vi, void *arg)
{
	struct accept_ctx *c = arg;
	struct gp_error *err = NULL;

	for (size_t i = 0; c->o && i < c->o->nskip_vmci; i++)
		if (vi->pa == c->o->skip_vmci[i])
			err = gp_error_addr(GP_ERR_BUSY, vi->pa,
					    "VMCOREINFO at 0x%llx belongs to a kernel that does not run",
					    (unsigned long long)vi->pa);
	if (!err)
		err = setup_from_vmci(c->k, vi);

	if (!err)
		return true;
	gp_error_destroy(c->last);
	c->last = err;
	return false;
}

/* ---- kallsyms from guest memory ---- */

struct gp_error *kern_read_alloc(struct kern *k, uint64_t va, size_t len, void **out)
{
	void *p = malloc(len ? len : 1);
	struct gp_error *err;

	*out = NULL;
	if (!p)
		return &gp_error_nomem;
	err = kern_read(k, va, p, len);
	if (err) {
		free(p);
		return err;
	}
	*out = p;
	return NULL;
}

const void *kern_map(struct kern *k, uint64_t va, size_t len)
{
	uint64_t pa0, pa;

	if (!len || va + len < va || len > (256u << 20) || !gp_ok(kern_v2p(k, va, &pa0)))
		return NULL;
	/* Every page where the page tables say, contiguous from the first. */
	for (uint64_t p = (va & ~(PAGE_SIZE - 1)) + PAGE_SIZE; p < va + len; p += PAGE_SIZE)
		if (!gp_ok(kern_v2p(k, p, &pa)) || pa != pa0 + (p - va))
			return NULL;
	return tgt_map_phys(k->t, pa0, len);
}

struct gp_error *kern_map_or_read(struct kern *k, uint64_t va, size_t len, const void **p,
				  void **owned)
{
	*owned = NULL;
	if ((*p = kern_map(k, va, len)))
		return NULL;
	struct gp_error *err = kern_read_alloc(k, va, len, owned);

	if (err)
		return err;
	*p = *owned;
	return NULL;
}

static struct gp_error *kallsyms_from_memory(struct kern *k)
{
	uint64_t a_names, a_num, a_tt, a_ti, a_off, a_rb;
	struct ksym_raw raw = { .absolute_percpu = true };
	void *names = NULL, *tt = NULL, *offs = NULL;
	const void *m_names, *m_offs;
	uint16_t ti[256];
	struct gp_error *err;
	uint32_t num;
	size_t tt_len, names_len;
	uint16_t max_ti = 0;

	if ((err = vmci_symbol(&k->vi, "kallsyms_names", &a_names)) ||
	    (err = vmci_symbol(&k->vi, "kallsyms_num_syms", &a_num)) ||
	    (err = vmci_symbol(&k->vi, "kallsyms_token_table", &a_tt)) ||
	    (err = vmci_symbol(&k->vi, "kallsyms_token_index", &a_ti)) ||
	    (err = vmci_symbol(&k->vi, "kallsyms_offsets", &a_off)) ||
	    (err = vmci_symbol(&k->vi, "kallsyms_relative_base", &a_rb)))
		return err;
	if ((err = kern_read_u32(k, a_num, &num)) ||
	    (err = kern_read_u64(k, a_rb, &raw.relative_base)) ||
	    (err = kern_read(k, a_ti, ti, sizeof(ti))))
		return gp_error_wrap(err, "reading kallsyms tables");
	if (num == 0 || num > KSYM_MAX_SYMS)
		return gp_error_addr(GP_ERR_CORRUPT, a_num,
				     "kallsyms_num_syms at 0x%llx is %u",
				     (unsigned long long)a_num, num);
	for (int i = 0; i < 256; i++)
		if (ti[i] > max_ti)
			max_ti = ti[i];
	/* Tokens are short; the last one ends within a few bytes. */
	tt_len = (size_t)max_ti + 256;
	/* kallsyms_names lies just before the token table in every layout
	 * since 4.6 (scripts/kallsyms.c output order); bound it anyway. */
	names_len = a_tt > a_names ? a_tt - a_names : KSYM_MAX_NAMES_BYTES;
	if (names_len > KSYM_MAX_NAMES_BYTES)
		names_len = KSYM_MAX_NAMES_BYTES;
	/* The token table is copied: its strings are checked once, and the
	 * guest must not change them under strlen(). */
	if ((err = kern_read_alloc(k, a_tt, tt_len, &tt)) ||
	    (err = kern_map_or_read(k, a_off, (size_t)num * 4, &m_offs, &offs)) ||
	    (err = kern_map_or_read(k, a_names, names_len, &m_names, &names))) {
		err = gp_error_wrap(err, "reading kallsyms tables");
		goto out;
	}
	raw.num_syms = num;
	raw.names = m_names;
	raw.names_len = names_len;
	raw.token_table = tt;
	raw.token_table_len = tt_len;
	raw.token_index = ti;
	raw.offsets = m_offs;
	err = kcache_attach_syms(k, &raw);
	k->sym_source = "guest memory (kallsyms)";
out:
	free(names);
	free(tt);
	free(offs);
	return err;
}

static struct gp_error *read_file(const char *path, char **data, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (!f)
		return gp_error_os(errno, "open %s", path);
	for (;;) {
		if (n == cap) {
			char *nb;

			cap = cap ? cap * 2 : 1 << 20;
			if (cap > (1u << 30)) {
				fclose(f);
				free(buf);
				return gp_error_create(GP_ERR_LIMIT,
						       "%s is larger than 1 GiB",
						       path);
			}
			nb = realloc(buf, cap + 1);
			if (!nb) {
				fclose(f);
				free(buf);
				return &gp_error_nomem;
			}
			buf = nb;
		}
		size_t r = fread(buf + n, 1, cap - n, f);

		n += r;
		if (r == 0)
			break;
	}
	fclose(f);
	buf[n] = '\0';
	*data = buf;
	*len = n;
	return NULL;
}

static struct gp_error *load_symbols(struct kern *k, const struct kern_opts *o)
{
	struct gp_error *err;
	const struct ksym *s;
	uint64_t stext;

	if (o && o->system_map) {
		char *text = NULL;
		size_t len = 0;

		err = read_file(o->system_map, &text, &len);
		if (err)
			return err;
		err = ksym_parse_map(text, len, k->kaslr_offset, &k->syms);
		free(text);
		if (err)
			return gp_error_wrap(err, "%s", o->system_map);
		k->sym_source = "System.map";
	} else {
		err = kallsyms_from_memory(k);
		if (err && err->code == GP_ERR_NOTFOUND)
			return gp_error_wrap(err,
					     "this kernel does not publish kallsyms in VMCOREINFO (Linux < 6.0?); give --system-map");
		if (err)
			return err;
	}
	/* The symbols must agree with VMCOREINFO about _stext. */
	if ((err = vmci_symbol(&k->vi, "_stext", &stext)))
		return err;
	err = ksym_lookup(k->syms, "_stext", 0, &s);
	if (err)
		return gp_error_wrap(err, "symbols from %s", k->sym_source);
	if (s->addr != stext)
		return gp_error_create(GP_ERR_CORRUPT,
				       "symbols from %s put _stext at 0x%llx, VMCOREINFO at 0x%llx (wrong System.map?)",
				       k->sym_source,
				       (unsigned long long)s->addr,
				       (unsigned long long)stext);
	return NULL;
}

static struct gp_error *load_btf(struct kern *k, const struct kern_opts *o)
{
	uint64_t start = 0, stop = 0;
	struct gp_error *err;
	void *data;
	size_t len;

	if (o && o->vmlinux) {
		err = kern_elf_section(o->vmlinux, ".BTF", &data, &len);
		if (err)
			return err;
		err = kbtf_load(data, len, &k->btf);
		free(data);
		k->btf_source = "vmlinux .BTF";
		return err ? gp_error_wrap(err, "%s", o->vmlinux) : NULL;
	}
	if (!kern_has_sym(k, "__start_BTF", &start) ||
	    !kern_has_sym(k, "__stop_BTF", &stop))
		return gp_error_create(GP_ERR_NOTFOUND,
				       "the guest kernel has no BTF in memory (CONFIG_DEBUG_INFO_BTF); give --vmlinux");
	if (stop <= start || stop - start > KBTF_MAX_BYTES)
		return gp_error_addr(GP_ERR_CORRUPT, start,
				     "BTF bounds 0x%llx..0x%llx are implausible",
				     (unsigned long long)start,
				     (unsigned long long)stop);
	k->btf_source = "guest memory (.BTF)";
	return kcache_attach_btf(k, start, stop - start);
}

static struct gp_error *load_percpu(struct kern *k)
{
	uint64_t a_nr, a_off, a_mask;
	struct gp_error *err;
	uint32_t nr;
	size_t words;

	if ((err = kern_sym(k, "nr_cpu_ids", &a_nr)) ||
	    (err = kern_sym(k, "__per_cpu_offset", &a_off)) ||
	    (err = kern_sym(k, "__cpu_online_mask", &a_mask)) ||
	    (err = kern_read_u32(k, a_nr, &nr)))
		return gp_error_wrap(err, "per-cpu areas");
	if (nr == 0 || nr > KERN_MAX_CPUS)
		return gp_error_addr(GP_ERR_CORRUPT, a_nr,
				     "nr_cpu_ids is %u", nr);
	words = (nr + 63) / 64;
	k->nr_cpu_ids = nr;
	k->percpu_offset = calloc(nr, sizeof(uint64_t));
	k->online_mask = calloc(words, sizeof(uint64_t));
	if (!k->percpu_offset || !k->online_mask)
		return &gp_error_nomem;
	if ((err = kern_read(k, a_off, k->percpu_offset, nr * sizeof(uint64_t))) ||
	    (err = kern_read(k, a_mask, k->online_mask, words * 8)))
		return gp_error_wrap(err, "per-cpu areas");
	return NULL;
}

struct gp_error *kern_percpu(struct kern *k, unsigned cpu, uint64_t off,
			     uint64_t *addr)
{
	if (cpu >= k->nr_cpu_ids)
		return gp_error_create(GP_ERR_INVAL, "CPU %u >= nr_cpu_ids %u",
				       cpu, k->nr_cpu_ids);
	*addr = k->percpu_offset[cpu] + off;
	return NULL;
}

struct gp_error *kern_percpu_var(struct kern *k, const char *name,
				 uint64_t *off)
{
	uint64_t hot = 0, member = 0, size = 0;

	if (kern_has_sym(k, name, off))
		return NULL;
	if (!kern_has_sym(k, "pcpu_hot", &hot))
		return gp_error_create(GP_ERR_NOTFOUND,
				       "no per-cpu '%s' in the guest kernel: neither a symbol of that name nor a pcpu_hot with such a member",
				       name);
	if (!k->btf)
		return gp_error_create(GP_ERR_UNSUPPORTED,
				       "per-cpu '%s' is in pcpu_hot, and the guest kernel has no BTF to place it (give --vmlinux)",
				       name);
	if (!kbtf_has_member(k->btf, "pcpu_hot", name))
		return gp_error_create(GP_ERR_NOTFOUND,
				       "no per-cpu '%s' in the guest kernel: not a symbol, not a member of struct pcpu_hot",
				       name);
	{
		struct gp_error *err = kbtf_offsetof(k->btf, "pcpu_hot", name,
						     &member, &size);

		if (err)
			return err;
	}
	if (size != 8)
		return gp_error_create(GP_ERR_CORRUPT,
				       "guest BTF: pcpu_hot.%s is %llu bytes, not a pointer",
				       name, (unsigned long long)size);
	*off = hot + member;
	return NULL;
}

bool kern_cpu_online(const struct kern *k, unsigned cpu)
{
	return cpu < k->nr_cpu_ids &&
	       (k->online_mask[cpu / 64] >> (cpu % 64)) & 1;
}

void kern_features(struct kern *k, struct kern_features *f)
{
	uint64_t a;
	size_t len;

	memset(f, 0, sizeof(*f));
	f->btf = k->btf != NULL;
	f->orc = kern_has_sym(k, "__start_orc_unwind_ip", &a);
	f->ftrace = kern_has_sym(k, "__start_mcount_loc", &a) &&
		    kern_has_sym(k, "ftrace_ops_list", &a);
	f->livepatch = kern_has_sym(k, "klp_target_state", &a) &&
		       (!k->btf || kbtf_has_member(k->btf, "task_struct",
						   "patch_state"));
	f->kallsyms_in_vmcoreinfo =
		vmci_get(&k->vi, "SYMBOL(kallsyms_names)", &len) != NULL;
}

/* ---- the identity of this boot ---- */

/* init_task.stack_canary, or 0 with *why set. */
static uint64_t boot_canary(struct kern *k, const char **why)
{
	uint64_t init = 0, off = 0, size = 0, canary = 0;

	if (!k->btf) {
		*why = "no BTF to place task_struct.stack_canary";
		return 0;
	}
	if (!kbtf_has_member(k->btf, "task_struct", "stack_canary") ||
	    !gp_ok(kbtf_offsetof(k->btf, "task_struct", "stack_canary", &off, &size)) || size != 8) {
		*why = "no task_struct.stack_canary";
		return 0;
	}
	if (!kern_has_sym(k, "init_task", &init)) {
		*why = "no init_task symbol";
		return 0;
	}
	/* init_task is in the kernel image: kern_read takes the linear map,
	 * which needs no pause. */
	if (!gp_ok(kern_read_u64(k, init + off, &canary))) {
		*why = "init_task.stack_canary unreadable";
		return 0;
	}
	if (!canary)
		*why = "init_task.stack_canary not set yet";
	return canary;
}

void kern_boot_id(struct kern *k)
{
	uint64_t h = GP_FNV_OFFSET;
	const char *why = NULL;
	uint64_t canary = boot_canary(k, &why);

	h = gp_fnv1a(h, &k->kaslr_offset, sizeof(k->kaslr_offset));
	h = gp_fnv1a(h, &k->phys_base, sizeof(k->phys_base));
	h = gp_fnv1a(h, k->build_id, strnlen(k->build_id, sizeof(k->build_id)));
	if (canary)
		h = gp_fnv1a(h, &canary, sizeof(canary));
	k->boot_id = h ? h : 1;		/* 0 means "unknown" to whoever records it */
	k->boot_id_weak = !canary;
	k->boot_id_why = canary ? NULL : why;
}

/* VMCOREINFO where the cache says it was for this target, checked as
 * any candidate of the scan; true if it is there and accepted. */
static bool vmci_from_hint(struct kern *k, uint64_t limit, struct accept_ctx *ctx)
{
	uint8_t page[PAGE_SIZE];
	const void *m;
	uint64_t pa;

	if (!kcache_vmci_hint(k, &pa) || pa % PAGE_SIZE || pa >= limit)
		return false;
	if (!(m = tgt_map_phys(k->t, pa, PAGE_SIZE))) {
		if (!gp_ok(tgt_read_phys(k->t, pa, page, sizeof(page))))
			return false;
		m = page;
	}
	if (memcmp(m, "OSRELEASE=", 10) || !gp_ok(vmci_parse(m, PAGE_SIZE, pa, &k->vi)))
		return false;
	if (accept_vmci(&k->vi, ctx))
		return true;
	vmci_free(&k->vi);
	return false;
}

static struct gp_error *attach_paused(struct kern *k, const struct kern_opts *o)
/* (paused unless the RAM is mapped: see kern_attach) */
{
	struct accept_ctx ctx = { .k = k, .o = o };
	struct gp_error *err;
	uint64_t limit = k->t->ram_top ? k->t->ram_top : SCAN_DEFAULT_LIMIT;
	const struct ksym *s;
	uint64_t t0 = gp_now_ns(), t1;

	if (vmci_from_hint(k, limit, &ctx))
		err = NULL;
	else if (!(err = vmci_scan(k->t, limit, accept_vmci, &ctx, &k->vi)))
		kcache_vmci_save(k, k->vi.pa);
	if (err) {
		if (ctx.last)
			err = gp_error_wrap(err, "last candidate: %s",
					    ctx.last->msg);
		gp_error_destroy(ctx.last);
		return err;
	}
	gp_error_destroy(ctx.last);
	t1 = gp_now_ns();
	k->times.scan_ns = t1 - t0;
	err = load_symbols(k, o);
	if (err)
		return err;
	t0 = gp_now_ns();
	k->times.syms_ns = t0 - t1;
	/* Fast linear path for the kernel image, now that symbols agree. */
	if (gp_ok(ksym_lookup(k->syms, "_text", 0, &s)))
		k->text_start = s->addr;
	if (gp_ok(ksym_lookup(k->syms, "_end", 0, &s)) && s->addr > k->text_start &&
	    s->addr - k->text_start < (1ull << 30))
		k->image_end = s->addr;
	else
		k->text_start = 0;
	err = load_btf(k, o);
	if (err)
		return err;
	t1 = gp_now_ns();
	k->times.btf_ns = t1 - t0;
	kern_boot_id(k);
	err = load_percpu(k);
	k->times.rest_ns = gp_now_ns() - t1;
	return err;
}

struct gp_error *kern_attach(struct tgt *t, const struct kern_opts *o,
			     struct kern **out)
{
	uint64_t t0 = gp_now_ns(), paused0 = t->stats.pause_ns_total;
	/* With guest RAM mapped, everything attach reads is static after
	 * boot (VMCOREINFO, page tables of the kernel image, kallsyms, BTF,
	 * per-cpu offsets) and can be read while the guest runs; only the
	 * vCPU registers need a stop. Without a mapping every read goes
	 * through the backend, which needs the guest stopped throughout. */
	bool fast = tgt_map_phys(t, 0, 4096) != NULL;
	struct gp_error *err = NULL, *err2;
	struct kern *k;

	*out = NULL;
	k = calloc(1, sizeof(*k));
	if (!k)
		return &gp_error_nomem;
	k->t = t;
	if (o && o->vmlinux && !(k->vmlinux = strdup(o->vmlinux))) {
		free(k);
		return &gp_error_nomem;
	}
	snprintf(k->cache_syms, sizeof(k->cache_syms), "off");
	snprintf(k->cache_btf, sizeof(k->cache_btf), "off");
	if (!(o && o->no_cache)) {
		char dir[4096];

		if (kcache_dir(dir, sizeof(dir)) && !(k->cache_dir = strdup(dir))) {
			kern_detach(k);
			return &gp_error_nomem;
		}
	}
	if (t->nr_vcpus > 0 || !fast) {
		struct tgt_regs r;

		if ((err = tgt_pause(t))) {
			kern_detach(k);
			return err;
		}
		if (t->nr_vcpus > 0 && !(err = tgt_get_regs(t, 0, &r))) {
			k->vcpu0_cr3 = r.cr3;
			/* Unreadable: no check rather than no attach. */
			k->have_cr3 = gp_ok(tgt_read_phys(t,
				pt_cr3_kernel_root(r.cr3) + KERN_KMAP_TOP_INDEX * 8,
				&k->vcpu0_kmap_entry, sizeof(k->vcpu0_kmap_entry)));
		}
		if (fast || err) {
			err2 = tgt_resume(t);
			if (!err)
				err = err2;
			else
				gp_error_destroy(err2);
		}
	}
	if (!err && t->nr_vcpus == 0 && o && o->have_cr3) {
		k->vcpu0_cr3 = o->cr3;
		k->have_cr3 = gp_ok(tgt_read_phys(t, pt_cr3_kernel_root(o->cr3) + KERN_KMAP_TOP_INDEX * 8,
						  &k->vcpu0_kmap_entry, sizeof(k->vcpu0_kmap_entry)));
	}
	if (!err) {
		err = attach_paused(k, o);
		if (!fast) {
			err2 = tgt_resume(t);
			if (!err)
				err = err2;
			else
				gp_error_destroy(err2);
		}
	}
	if (err) {
		kern_detach(k);
		return err;
	}
	/* What guestpatch records in the guest from now on names this boot. */
	tgt_set_boot_id(t, k->boot_id);
	k->attach_ns = gp_now_ns() - t0;
	k->attach_pause_ns = t->stats.pause_ns_total - paused0;
	*out = k;
	return NULL;
}

void kern_detach(struct kern *k)
{
	if (!k)
		return;
	kcache_detach(k);
	free(k->cache_dir);
	vmci_free(&k->vi);
	free(k->vmlinux);
	ksym_free(k->syms);
	kbtf_free(k->btf);
	free(k->percpu_offset);
	free(k->online_mask);
	free(k);
}
