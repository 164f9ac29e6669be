/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kernel.h - a guest kernel understood from outside: the context every
 * introspection and patching step works on (as drgn's "program").
 *
 * kern_attach() finds VMCOREINFO in guest RAM, checks it against the
 * kernel's own page tables, decodes kallsyms and loads BTF, all from guest
 * memory alone; optional host files (a vmlinux/vmlinuz, a System.map) stand
 * in for what an older kernel does not keep in memory.
 */
#ifndef GP_KERNEL_H
#define GP_KERNEL_H

#include <stdbool.h>
#include <stdint.h>

#include "gp_error.h"
#include "kallsyms.h"
#include "kbtf.h"
#include "pgtable.h"
#include "target.h"
#include "vmcoreinfo.h"

#define KERN_START_KERNEL_MAP 0xffffffff80000000ull	/* __START_KERNEL_map */
#define KERN_KMAP_TOP_INDEX 511	/* top-level index of __START_KERNEL_map, 4 or 5 levels */
#define KERN_TLB_SIZE 4096
#define KERN_MAX_CPUS 8192	/* NR_CPUS of Debian's amd64 config */

struct kern_opts {
	const char *vmlinux;	/* ELF vmlinux or a vmlinuz holding one */
	const char *system_map;	/* System.map for kernels without in-memory kallsyms */
	/* VMCOREINFO copies to pass over (guest-physical addresses): those
	 * of a kernel found not to run, e.g. left in RAM by a reset. */
	const uint64_t *skip_vmci;
	size_t nskip_vmci;
	/* vCPU 0's CR3, read by the caller without a pause (a monitor's
	 * register dump), for a target that has no vCPUs of its own (guest
	 * RAM alone): VMCOREINFO is validated against it as against the
	 * registers of a paused guest. */
	bool have_cr3;
	uint64_t cr3;
	bool no_cache;		/* --no-cache: decode everything (kcache.h) */
};

struct kern_tlb_entry {
	uint64_t vpn;		/* va >> 12, plus 1 so 0 means empty */
	uint64_t pfn;
};

struct kern {
	struct tgt *t;
	struct vmcoreinfo vi;
	char release[65];
	char build_id[41];
	uint64_t kaslr_offset;	/* KERNELOFFSET */
	uint64_t phys_base;	/* NUMBER(phys_base), as unsigned */
	int levels;		/* 4 or 5 */
	uint64_t pgd_pa;	/* init_top_pgt, physical */
	uint64_t text_start, image_end;	/* _text .. _end, the kernel image */
	struct ksym_table *syms;
	const char *sym_source;
	struct kbtf *btf;
	const char *btf_source;
	/* per-cpu */
	unsigned nr_cpu_ids;
	uint64_t *percpu_offset;	/* nr_cpu_ids entries */
	uint64_t *online_mask;		/* bitmap, (nr_cpu_ids + 63) / 64 words */
	/* translation cache, valid for one pause (see kern_tlb_check) */
	uint64_t tlb_gen;
	struct kern_tlb_entry tlb[KERN_TLB_SIZE];
	uint64_t attach_ns;	/* tool time spent in kern_attach */
	uint64_t attach_pause_ns;	/* guest time paused by kern_attach */
	struct {			/* tool time of attach's steps */
		uint64_t scan_ns;	/* VMCOREINFO scan and checks */
		uint64_t syms_ns;	/* symbols: decoded, or from the cache */
		uint64_t btf_ns;	/* BTF */
		uint64_t rest_ns;	/* boot id, per-cpu */
	} times;
	char *vmlinux;		/* --vmlinux, kept for later lookups (ORC) */
	bool have_cr3;
	uint64_t vcpu0_cr3;	/* vCPU 0's CR3 at attach, to validate VMCOREINFO */
	/* Top-level entry 511 (the kernel map, the same index with 4 and 5
	 * levels) of vCPU 0's kernel root, read while it was stopped: the
	 * process owning that CR3 may exit and free its tables as soon as
	 * the guest runs again, so later checks compare this snapshot. */
	uint64_t vcpu0_kmap_entry;
	/* This boot of the guest (kern_boot_id): what guestpatch records in
	 * the guest carries it, so state an earlier boot left in memory that
	 * a reboot did not clear is told from this boot's.  Never 0. */
	uint64_t boot_id;
	bool boot_id_weak;		/* from the layout alone: a reboot into
					 * the same layout is not told apart */
	const char *boot_id_why;	/* why it is weak, NULL if it is not */
	/* The host-side cache (kcache.h): its directory (NULL: not used),
	 * what it did for symbols and BTF ("hit", "miss", "rebuilt (why)"),
	 * and where the guest's BTF is, for a lazy parse. */
	char *cache_dir;
	char cache_syms[200], cache_btf[200];
	uint64_t btf_va, btf_hash;
	size_t btf_len;
};

/* Attach to the kernel running in t.  Pauses the guest for the duration
 * and resumes it. The kern borrows t (does not close it). */
struct gp_error *kern_attach(struct tgt *t, const struct kern_opts *opts,
			     struct kern **out);
void kern_detach(struct kern *k);

/*
 * The identity of this boot, into k->boot_id: a hash of what differs from
 * one boot to the next - KERNELOFFSET and phys_base (KASLR), the build id,
 * and init_task.stack_canary, the random value boot_init_stack_canary()
 * draws at every boot (CONFIG_STACKPROTECTOR, as Debian builds).  The
 * canary is read through the kernel image's linear map, so no pause is
 * needed.  Without it (no such member, no BTF, not set yet: 0) the layout
 * alone is used, k->boot_id_weak is set and k->boot_id_why says why.
 * Called by kern_attach(); needs symbols and, for the canary, BTF.
 * Cannot fail: what it cannot read makes the identity weak.
 */
void kern_boot_id(struct kern *k);

/* Kernel virtual to guest-physical. */
struct gp_error *kern_v2p(struct kern *k, uint64_t va, uint64_t *pa);
/* Read kernel virtual memory (any length, page by page). */
struct gp_error *kern_read(struct kern *k, uint64_t va, void *buf, size_t len);
struct gp_error *kern_read_u64(struct kern *k, uint64_t va, uint64_t *v);
struct gp_error *kern_read_u32(struct kern *k, uint64_t va, uint32_t *v);
/* len bytes at va as a pointer into the mapped guest RAM, when the target
 * maps it and the page tables put them contiguously; else NULL.  Valid
 * until the target is closed; the guest may write them meanwhile. */
const void *kern_map(struct kern *k, uint64_t va, size_t len);
/* len bytes at va copied into a new buffer (*out, to free). */
struct gp_error *kern_read_alloc(struct kern *k, uint64_t va, size_t len, void **out);
/* len bytes at va: mapped when kern_map can (*owned NULL), else a copy
 * (*owned, to free; *p points to it). */
struct gp_error *kern_map_or_read(struct kern *k, uint64_t va, size_t len, const void **p,
				  void **owned);

/* Symbol helpers (unique names only). */
struct gp_error *kern_sym(struct kern *k, const char *name, uint64_t *addr);
/* True and *addr set if name is a unique symbol; errors are swallowed. */
bool kern_has_sym(struct kern *k, const char *name, uint64_t *addr);

/* The first of a NULL-terminated list of names (a symbol renamed between
 * kernel series, newest first) that is a unique symbol; the error names
 * them all. */
struct gp_error *kern_sym_first(struct kern *k, const char *const *names,
				uint64_t *addr);

/* Member offset from BTF; errors name struct and member. */
struct gp_error *kern_offsetof(struct kern *k, const char *type,
			       const char *member, uint64_t *off);

/* Address of per-cpu variable at offset `off` for cpu. */
struct gp_error *kern_percpu(struct kern *k, unsigned cpu, uint64_t off,
			     uint64_t *addr);
bool kern_cpu_online(const struct kern *k, unsigned cpu);

/* The per-cpu offset of a hot per-cpu variable such as current_task or
 * hardirq_stack_ptr: its own symbol (up to 6.1, and again from 6.15), or
 * a member of per-cpu `struct pcpu_hot` (6.2 to 6.14), found from BTF.
 * The one place that knows where these live; refuses by name when
 * neither shape is in the guest. */
struct gp_error *kern_percpu_var(struct kern *k, const char *name,
				 uint64_t *off);

/* Features of the running kernel, from its symbols and BTF. */
struct kern_features {
	bool livepatch;		/* CONFIG_LIVEPATCH: klp_target_state, task->patch_state */
	bool orc;		/* CONFIG_UNWINDER_ORC: __start_orc_unwind_ip */
	bool btf;
	bool ftrace;		/* CONFIG_DYNAMIC_FTRACE: ftrace_ops_list, __start_mcount_loc */
	bool kallsyms_in_vmcoreinfo;
};
void kern_features(struct kern *k, struct kern_features *f);

/* vmlinux / vmlinuz on the host (elfsrc.c). */
struct gp_error *kern_elf_section(const char *path, const char *section,
				  void **data, size_t *len);
/* The same, with the section's link-time address (sh_addr). */
struct gp_error *kern_elf_section_at(const char *path, const char *section,
				     void **data, size_t *len, uint64_t *addr);
/* The vmlinux ELF inside a vmlinuz image img (vmlinuz.c): the payload
 * the boot header points at (or, without one, found by magic), compressed
 * with xz, zstd, lz4 (legacy frame), gzip or bzip2; at most
 * VMLINUZ_MAX_OUT bytes, and an ELF file.  path names it in errors. */
#define VMLINUZ_MAX_OUT (512u << 20)
struct gp_error *kern_vmlinuz_unpack(const char *path, const uint8_t *img, size_t len,
				     uint8_t **out, size_t *out_len);
/* The GNU build id of a vmlinux/vmlinuz, as 40 hex digits. */
struct gp_error *kern_elf_build_id(const char *path, char out[41]);

#endif
