// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * kvmvm_linux.c - booting a Linux bzImage in our own VMM with the 64-bit
 * boot protocol (Documentation/x86/boot.rst, "64-bit BOOT PROTOCOL"): the
 * protected-mode kernel at 1 MiB, a zero page (struct boot_params) with
 * the setup header copied from the image, an e820 map, the command line
 * and the initrd; vCPU 0 enters at load address + 0x200 in long mode with
 * identity-mapped page tables, %rsi pointing at the zero page, __BOOT_CS
 * (0x10) and __BOOT_DS (0x18). An MP table (Intel MultiProcessor
 * Specification 1.4) tells Linux about every vCPU, the IOAPIC and the ISA
 * interrupts, since there is no ACPI.
 *
 * Guest-physical layout below 1 MiB (0x40000..0x90000 is left alone for
 * guestpatch's region, see docs/region.md):
 *   0x00500  GDT
 *   0x01000  PML4, 0x2000 PDPT, 0x3000..0x6fff four page directories
 *            (identity map of the first 4 GiB, 2 MiB pages)
 *   0x07000  zero page (boot_params)
 *   0x0f000  initial stack top (the kernel switches to its own at once)
 *   0x20000  command line
 *   0xf0000  MP floating pointer and configuration table (e820 reserved)
 * The initrd goes at the top of low RAM.
 *
 * A vmlinux ELF boots through the PVH entry instead (the x86/HVM direct
 * boot ABI, Xen docs/misc/pvh.pandoc; Linux arch/x86/platform/pvh/): its
 * PT_LOAD segments at their physical addresses, an hvm_start_info at the
 * zero page's place with the command line, the initrd as module 0 and the
 * memory map (the same e820 entries), and vCPU 0 at the address of the
 * XEN_ELFNOTE_PHYS32_ENTRY note in 32-bit protected mode without paging,
 * %ebx pointing at the start info.
 *
 * The image is untrusted input: every header field used is bounds-checked
 * against the file before use.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kvmvm.h"

#define GDT_PA 0x500
#define PML4_PA 0x1000
#define PDPT_PA 0x2000
#define PD_PA 0x3000
#define ZERO_PAGE_PA 0x7000
#define STACK_TOP 0xf000
#define CMDLINE_PA 0x20000
#define CMDLINE_MAX 0x10000
#define MPTABLE_PA 0xf0000
#define KERNEL_PA 0x100000
#define EBDA_PA 0x9fc00

/* boot_params / setup header offsets (arch/x86/include/uapi/asm/bootparam.h) */
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE 0x0c4
#define BP_EXT_CMD_LINE_PTR 0x0c8
#define BP_E820_ENTRIES 0x1e8
#define BP_SETUP_SECTS 0x1f1
#define BP_VID_MODE 0x1fa
#define BP_JUMP 0x200
#define BP_HEADER 0x202
#define BP_VERSION 0x206
#define BP_TYPE_OF_LOADER 0x210
#define BP_LOADFLAGS 0x211
#define BP_RAMDISK_IMAGE 0x218
#define BP_RAMDISK_SIZE 0x21c
#define BP_HEAP_END_PTR 0x224
#define BP_CMD_LINE_PTR 0x228
#define BP_INITRD_ADDR_MAX 0x22c
#define BP_XLOADFLAGS 0x236
#define BP_CMDLINE_SIZE 0x238
#define BP_INIT_SIZE 0x260
#define BP_E820_TABLE 0x2d0
#define E820_MAX 128

#define LOADED_HIGH 0x01
#define CAN_USE_HEAP 0x80
#define XLF_KERNEL_64 0x01
#define E820_RAM 1
#define E820_RESERVED 2

#define PVH_MAX_SEGS 16
#define PVH_START_MAGIC 0x336ec578
#define XEN_ELFNOTE_PHYS32_ENTRY 18

struct pvh_seg {
	uint64_t off, paddr, filesz, memsz;
};

struct kvmvm_kernel {
	bool pvh;		/* a vmlinux ELF, booted at its PVH entry */
	uint64_t pvh_entry;
	uint64_t pvh_end;	/* end of the highest segment */
	int nr_segs;
	struct pvh_seg segs[PVH_MAX_SEGS];
	uint8_t *image;		/* the whole bzImage or vmlinux */
	size_t image_len;
	size_t setup_len;	/* real-mode part: (setup_sects + 1) * 512 */
	uint16_t version;
	uint32_t init_size;	/* memory the kernel needs from its load address */
	uint32_t cmdline_max;	/* bytes, without the NUL */
	uint64_t initrd_max;	/* highest address the initrd may touch */
	uint8_t *initrd;
	size_t initrd_len;
	char *cmdline;
};

static uint16_t get16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static struct gp_error *slurp(const char *path, const char *what, size_t max, uint8_t **buf,
			      size_t *len)
{
	struct stat st;
	size_t got = 0;
	int fd;

	*buf = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return gp_error_os(errno, "cannot read %s %s", what, path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return gp_error_create(GP_ERR_INVAL, "%s %s is not a regular file", what, path);
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return gp_error_create(GP_ERR_INVAL, "%s %s is too large (%lld bytes)", what, path,
				       (long long)st.st_size);
	}
	*buf = malloc((size_t)st.st_size + 1);
	if (!*buf) {
		close(fd);
		return &gp_error_nomem;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, *buf + got, (size_t)st.st_size - got);

		if (n <= 0) {
			struct gp_error *err = gp_error_os(n < 0 ? errno : EIO, "reading %s %s", what, path);

			close(fd);
			free(*buf);
			*buf = NULL;
			return err;
		}
		got += (size_t)n;
	}
	close(fd);
	*len = got;
	return NULL;
}

void kvmvm_kernel_free(struct kvmvm_kernel *k)
{
	if (!k)
		return;
	free(k->image);
	free(k->initrd);
	free(k->cmdline);
	free(k);
}

/* A vmlinux: ELF64 x86-64 with a PHYS32_ENTRY note and loadable segments
 * that fit below 4 GiB, above 1 MiB. */
static struct gp_error *parse_pvh(struct kvmvm_kernel *k, const char *path)
{
	const uint8_t *h = k->image;
	uint64_t phoff;
	uint16_t phentsize, phnum;

	if (k->image_len < 64 || h[4] != 2 || h[5] != 1 || get16(h + 18) != 62)
		return gp_error_create(GP_ERR_INVAL, "%s: not a 64-bit little-endian x86-64 ELF file", path);
	memcpy(&phoff, h + 32, 8);
	phentsize = get16(h + 54);
	phnum = get16(h + 56);
	if (phentsize < 56 || !phnum || phoff > k->image_len ||
	    (uint64_t)phnum * phentsize > k->image_len - phoff)
		return gp_error_create(GP_ERR_INVAL, "%s: program headers outside the file", path);
	/* Two passes: the entry note first (an ELF file that is not a
	 * kernel gets the right message), then the segments. */
	for (unsigned i = 0; i < 2u * phnum; i++) {
		const uint8_t *ph = h + phoff + (uint64_t)(i % phnum) * phentsize;
		bool notes = i < phnum;
		uint32_t type = get32(ph);
		uint64_t off, paddr, filesz, memsz;

		memcpy(&off, ph + 8, 8);
		memcpy(&paddr, ph + 24, 8);
		memcpy(&filesz, ph + 32, 8);
		memcpy(&memsz, ph + 40, 8);
		if (off > k->image_len || filesz > k->image_len - off)
			return gp_error_create(GP_ERR_INVAL, "%s: segment %u outside the file", path, i % phnum);
		if (!notes && i == phnum && !k->pvh_entry)
			return gp_error_create(GP_ERR_UNSUPPORTED,
					       "%s is an ELF file without a PVH entry (no Xen PHYS32_ENTRY note; CONFIG_PVH?): boot the bzImage",
					       path);
		if (!notes && type == 1 && memsz) {	/* PT_LOAD */
			if (k->nr_segs == PVH_MAX_SEGS)
				return gp_error_create(GP_ERR_INVAL, "%s: more than %d segments", path,
						       PVH_MAX_SEGS);
			if (filesz > memsz || paddr < KERNEL_PA || paddr > (4ull << 30) ||
			    memsz > (4ull << 30) - paddr)
				return gp_error_create(GP_ERR_INVAL,
						       "%s: segment %u (0x%llx, %llu bytes) is not between 1 MiB and 4 GiB",
						       path, i % phnum, (unsigned long long)paddr,
						       (unsigned long long)memsz);
			k->segs[k->nr_segs++] = (struct pvh_seg){ off, paddr, filesz, memsz };
			if (paddr + memsz > k->pvh_end)
				k->pvh_end = paddr + memsz;
		} else if (notes && type == 4) {	/* PT_NOTE: look for Xen's PHYS32_ENTRY */
			for (uint64_t p = 0; p + 12 <= filesz;) {
				const uint8_t *n = h + off + p;
				uint32_t namesz = get32(n), descsz = get32(n + 4), ntype = get32(n + 8);
				uint64_t name_end = 12 + (((uint64_t)namesz + 3) & ~3ull);
				uint64_t next = name_end + (((uint64_t)descsz + 3) & ~3ull);

				if (next > filesz - p)
					break;
				if (ntype == XEN_ELFNOTE_PHYS32_ENTRY && namesz == 4 &&
				    !memcmp(n + 12, "Xen", 4) && (descsz == 4 || descsz == 8)) {
					uint64_t e = 0;

					memcpy(&e, n + name_end, descsz);	/* little-endian */
					if (e >= KERNEL_PA && e < (4ull << 30))
						k->pvh_entry = e;
				}
				p += next;
			}
		}
	}
	if (!k->nr_segs)
		return gp_error_create(GP_ERR_INVAL, "%s: no loadable segment", path);
	k->pvh = true;
	k->init_size = (uint32_t)(k->pvh_end - KERNEL_PA);
	k->cmdline_max = 2047;	/* COMMAND_LINE_SIZE of x86 */
	k->initrd_max = 0xffffffff;
	return NULL;
}

static struct gp_error *parse_bzimage(struct kvmvm_kernel *k, const char *path)
{
	const uint8_t *h = k->image;
	unsigned sects;

	if (k->image_len >= 4 && !memcmp(h, "\x7f" "ELF", 4))
		return parse_pvh(k, path);
	if (k->image_len < 0x1000 || memcmp(h + BP_HEADER, "HdrS", 4) || get16(h + 0x1fe) != 0xaa55)
		return gp_error_create(GP_ERR_INVAL,
				       "%s is not a Linux kernel (no bzImage boot header 'HdrS', not an ELF vmlinux)",
				       path);
	k->version = get16(h + BP_VERSION);
	if (k->version < 0x20c)
		return gp_error_create(GP_ERR_UNSUPPORTED,
				       "%s: boot protocol %u.%02u, the 64-bit entry needs 2.12 or later",
				       path, k->version >> 8, k->version & 0xff);
	if (!(get16(h + BP_XLOADFLAGS) & XLF_KERNEL_64))
		return gp_error_create(GP_ERR_UNSUPPORTED, "%s is not a 64-bit kernel (XLF_KERNEL_64 clear)",
				       path);
	if (!(h[BP_LOADFLAGS] & LOADED_HIGH))
		return gp_error_create(GP_ERR_UNSUPPORTED, "%s is a zImage (loads low), not a bzImage", path);
	sects = h[BP_SETUP_SECTS] ? h[BP_SETUP_SECTS] : 4;
	k->setup_len = (size_t)(sects + 1) * 512;
	if (k->setup_len >= k->image_len)
		return gp_error_create(GP_ERR_INVAL, "%s: setup (%zu bytes) leaves no kernel in %zu bytes",
				       path, k->setup_len, k->image_len);
	/* The setup header must end inside the setup code it describes. */
	if ((size_t)BP_JUMP + 2 + h[BP_JUMP + 1] > k->setup_len)
		return gp_error_create(GP_ERR_INVAL, "%s: setup header runs past the setup code", path);
	k->init_size = get32(h + BP_INIT_SIZE);
	if (k->init_size < k->image_len - k->setup_len)
		k->init_size = (uint32_t)(k->image_len - k->setup_len);
	k->cmdline_max = get32(h + BP_CMDLINE_SIZE);
	if (!k->cmdline_max || k->cmdline_max >= CMDLINE_MAX)
		k->cmdline_max = CMDLINE_MAX - 1;
	k->initrd_max = get32(h + BP_INITRD_ADDR_MAX);
	return NULL;
}

struct gp_error *kvmvm_kernel_open(const char *kernel, const char *initrd, const char *cmdline,
				   struct kvmvm_kernel **out)
{
	struct kvmvm_kernel *k;
	struct gp_error *err;
	size_t len = strlen(cmdline ? cmdline : "");

	*out = NULL;
	k = calloc(1, sizeof(*k));
	if (!k)
		return &gp_error_nomem;
	if ((err = slurp(kernel, "kernel", 256u << 20, &k->image, &k->image_len)) ||
	    (err = parse_bzimage(k, kernel)))
		goto fail;
	if (len > k->cmdline_max) {
		err = gp_error_create(GP_ERR_INVAL, "kernel command line is %zu bytes, %s accepts at most %u",
				      len, kernel, k->cmdline_max);
		goto fail;
	}
	k->cmdline = strdup(cmdline ? cmdline : "");
	if (!k->cmdline) {
		err = &gp_error_nomem;
		goto fail;
	}
	if (initrd) {
		if ((err = slurp(initrd, "initrd", 2ull << 30, &k->initrd, &k->initrd_len)))
			goto fail;
		if (!k->initrd_len) {
			err = gp_error_create(GP_ERR_INVAL, "initrd %s is empty", initrd);
			goto fail;
		}
	}
	*out = k;
	return NULL;
fail:
	kvmvm_kernel_free(k);
	return err;
}

/* Where the initrd goes in low RAM of low_size bytes (0 if nowhere):
 * page-aligned, as high as the kernel allows, above what the kernel's
 * decompressor uses from its load address (init_size), plus 16 MiB of
 * headroom for the kernel's early allocations. */
static uint64_t initrd_addr(const struct kvmvm_kernel *k, uint64_t low_size)
{
	uint64_t top = low_size, floor = KERNEL_PA + k->init_size + (16ull << 20);

	if (k->initrd_max && top > k->initrd_max + 1)
		top = k->initrd_max + 1;
	if (top < k->initrd_len || ((top - k->initrd_len) & ~0xfffull) < floor)
		return 0;
	return (top - k->initrd_len) & ~0xfffull;
}

static uint64_t low_size_for(size_t mem_size)
{
	return mem_size >= KVMVM_LOWMEM_SPLIT ? KVMVM_LOWMEM_MAX : mem_size;
}

struct gp_error *kvmvm_kernel_fits(const struct kvmvm_kernel *k, size_t mem_size)
{
	/* The kernel image, its decompression buffer and the initrd, plus
	 * 32 MiB for the kernel to come up at all. */
	uint64_t need = KERNEL_PA + k->init_size + (16ull << 20) + k->initrd_len + (16ull << 20);

	need = (need + (1ull << 20) - 1) & ~((1ull << 20) - 1);
	if (mem_size < need || (k->initrd_len && !initrd_addr(k, low_size_for(mem_size))))
		return gp_error_create(GP_ERR_INVAL,
				       "%zu MiB of guest memory is too little for this kernel%s: it needs at least %llu MiB",
				       mem_size >> 20, k->initrd_len ? " and initrd" : "",
				       (unsigned long long)(need >> 20));
	return NULL;
}

/* ---- MP table (MultiProcessor Specification 1.4, chapter 4) ---- */

static uint8_t checksum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return (uint8_t)-s;
}

static size_t write_mptable(struct kvmvm *v, uint8_t *base)
{
	uint8_t *fp = base, *ct = base + 16, *e = ct + 44;
	uint8_t ioapic_id = (uint8_t)v->nr_vcpus;
	uint16_t count = 0;
	uint32_t sig = 0, feat = 0;

	/* Processor signature and features for the table: CPUID 1. */
	for (int i = 0; i < 1; i++) {
		struct {
			struct kvm_cpuid2 h;
			struct kvm_cpuid_entry2 e[256];
		} c = { .h.nent = 256 };

		if (ioctl(v->vcpu[0].fd, KVM_GET_CPUID2, &c) == 0)
			for (uint32_t j = 0; j < c.h.nent; j++)
				if (c.e[j].function == 1) {
					sig = c.e[j].eax;
					feat = c.e[j].edx;
				}
	}
	for (int i = 0; i < v->nr_vcpus; i++, e += 20, count++) {
		memset(e, 0, 20);
		e[0] = 0;			/* processor */
		e[1] = (uint8_t)i;		/* local APIC id */
		e[2] = 0x14;			/* local APIC version */
		e[3] = 1 | (i == 0 ? 2 : 0);	/* enabled, bootstrap */
		put32(e + 4, sig);
		put32(e + 8, feat);
	}
	memset(e, 0, 8);			/* bus 0: ISA */
	e[0] = 1;
	memcpy(e + 2, "ISA   ", 6);
	e += 8, count++;
	memset(e, 0, 8);			/* the IOAPIC */
	e[0] = 2;
	e[1] = ioapic_id;
	e[2] = 0x11;
	e[3] = 1;
	put32(e + 4, 0xfec00000);
	e += 8, count++;
	/* ISA IRQ n is IOAPIC pin n: KVM's default GSI routing. */
	for (int irq = 0; irq < 16; irq++, e += 8, count++) {
		memset(e, 0, 8);
		e[0] = 3;			/* I/O interrupt */
		e[1] = 0;			/* INT */
		e[4] = 0;			/* bus ISA */
		e[5] = (uint8_t)irq;
		e[6] = ioapic_id;
		e[7] = (uint8_t)irq;
	}
	/* LINT0: ExtINT from the 8259, LINT1: NMI, on every local APIC. */
	for (int lint = 0; lint < 2; lint++, e += 8, count++) {
		memset(e, 0, 8);
		e[0] = 4;
		e[1] = lint ? 1 : 3;		/* NMI : ExtINT */
		e[4] = 0;
		e[5] = 0;
		e[6] = 0xff;
		e[7] = (uint8_t)lint;
	}
	memset(ct, 0, 44);
	memcpy(ct, "PCMP", 4);
	put16(ct + 4, (uint16_t)(e - ct));	/* base table length */
	ct[6] = 4;				/* spec 1.4 */
	memcpy(ct + 8, "GUESTPCH", 8);
	memcpy(ct + 16, "KVMVM       ", 12);
	put16(ct + 34, count);
	put32(ct + 36, 0xfee00000);		/* local APIC address */
	ct[7] = checksum(ct, (size_t)(e - ct));
	memset(fp, 0, 16);
	memcpy(fp, "_MP_", 4);
	put32(fp + 4, (uint32_t)(MPTABLE_PA + 16));
	fp[8] = 1;				/* length in 16-byte units */
	fp[9] = 4;
	fp[10] = checksum(fp, 16);
	return (size_t)(e - base);
}

static void seg(struct kvm_segment *s, uint16_t sel, bool code)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->limit = 0xffffffff;
	s->present = 1;
	s->s = 1;
	s->g = 1;
	s->type = code ? 11 : 3;
	s->l = code;
	s->db = !code;
}

static void add_e820(uint8_t *zp, uint64_t addr, uint64_t size, uint32_t type)
{
	uint8_t n = zp[BP_E820_ENTRIES];
	uint8_t *e = zp + BP_E820_TABLE + 20 * n;

	if (n >= E820_MAX || !size)
		return;
	put64(e, addr);
	put64(e + 8, size);
	put32(e + 16, type);
	zp[BP_E820_ENTRIES] = n + 1;
}

/* The e820 map both entries share. */
static int memory_map(const struct kvmvm *v, uint64_t map[][3])
{
	int n = 0;

	map[n][0] = 0, map[n][1] = EBDA_PA, map[n++][2] = E820_RAM;
	map[n][0] = EBDA_PA, map[n][1] = 0xa0000 - EBDA_PA, map[n++][2] = E820_RESERVED;
	map[n][0] = 0xf0000, map[n][1] = 0x10000, map[n++][2] = E820_RESERVED;
	map[n][0] = KERNEL_PA, map[n][1] = v->low_size - KERNEL_PA, map[n++][2] = E820_RAM;
	if (v->mem_size > v->low_size)
		map[n][0] = 4ull << 30, map[n][1] = v->mem_size - v->low_size, map[n++][2] = E820_RAM;
	/* KVMVM_INJECT_PA is deliberately absent: the guest never uses it. */
	return n;
}

/* PVH: segments, hvm_start_info (version 1) with module and memory map,
 * vCPU 0 in flat 32-bit protected mode at the entry note's address. */
static struct gp_error *load_pvh(struct kvmvm *v, const struct kvmvm_kernel *k, uint64_t rd)
{
	static const uint64_t gdt[] = { 0, 0, 0x00cf9b000000ffffull, 0x00cf93000000ffffull };
	uint8_t *si = v->mem + ZERO_PAGE_PA, *mod = si + 0x40, *mm = si + 0x80;
	uint64_t map[8][3];
	int n = memory_map(v, map);
	struct kvm_sregs sr;
	struct kvm_regs r;

	if (k->pvh_end > v->low_size)
		return gp_error_create(GP_ERR_INVAL, "the kernel's segments end above low RAM");
	for (int i = 0; i < k->nr_segs; i++) {
		const struct pvh_seg *g = &k->segs[i];

		memcpy(v->mem + g->paddr, k->image + g->off, g->filesz);
		memset(v->mem + g->paddr + g->filesz, 0, g->memsz - g->filesz);
	}
	memset(si, 0, 4096);
	put32(si, PVH_START_MAGIC);
	put32(si + 4, 1);			/* version: has the memory map */
	put32(si + 12, k->initrd_len ? 1 : 0);	/* nr_modules */
	put64(si + 16, ZERO_PAGE_PA + 0x40);	/* modlist_paddr */
	put64(si + 24, CMDLINE_PA);		/* cmdline_paddr */
	put64(si + 32, 0);			/* rsdp_paddr: no ACPI */
	put64(si + 40, ZERO_PAGE_PA + 0x80);	/* memmap_paddr */
	put32(si + 48, (uint32_t)n);
	put64(mod, rd);
	put64(mod + 8, k->initrd_len);
	for (int i = 0; i < n; i++) {
		put64(mm + 24 * i, map[i][0]);
		put64(mm + 24 * i + 8, map[i][1]);
		put32(mm + 24 * i + 16, (uint32_t)map[i][2]);
	}
	memcpy(v->mem + GDT_PA, gdt, sizeof(gdt));
	if (ioctl(v->vcpu[0].fd, KVM_GET_SREGS, &sr) < 0)
		return gp_error_os(errno, "KVM_GET_SREGS");
	seg(&sr.cs, 0x10, true);
	sr.cs.l = 0;
	sr.cs.db = 1;
	seg(&sr.ds, 0x18, false);
	sr.es = sr.fs = sr.gs = sr.ss = sr.ds;
	sr.gdt.base = GDT_PA;
	sr.gdt.limit = sizeof(gdt) - 1;
	sr.cr0 = 0x11;		/* PE, ET; no paging */
	sr.cr4 = 0;
	sr.efer = 0;
	if (ioctl(v->vcpu[0].fd, KVM_SET_SREGS, &sr) < 0)
		return gp_error_os(errno, "KVM_SET_SREGS");
	memset(&r, 0, sizeof(r));
	r.rip = k->pvh_entry;
	r.rbx = ZERO_PAGE_PA;
	r.rflags = 2;
	if (ioctl(v->vcpu[0].fd, KVM_SET_REGS, &r) < 0)
		return gp_error_os(errno, "KVM_SET_REGS");
	return NULL;
}

struct gp_error *kvmvm_load_linux(struct kvmvm *v, const struct kvmvm_kernel *k)
{
	static const uint64_t gdt[] = { 0, 0, 0x00af9a000000ffffull, 0x00cf92000000ffffull };
	uint8_t *zp = v->mem + ZERO_PAGE_PA;
	uint64_t *pml4 = (uint64_t *)(v->mem + PML4_PA), *pdpt = (uint64_t *)(v->mem + PDPT_PA);
	uint64_t *pd = (uint64_t *)(v->mem + PD_PA);
	size_t hdr_end = BP_JUMP + 2 + k->image[BP_JUMP + 1];
	struct gp_error *err;
	struct kvm_sregs sr;
	struct kvm_regs r;
	uint64_t rd = 0;

	if (!v->linux_pc)
		return gp_error_create(GP_ERR_INVAL, "a Linux kernel needs a VM from kvmvm_create_linux");
	if ((err = kvmvm_kernel_fits(k, v->mem_size)))
		return err;
	if (k->initrd_len) {
		rd = initrd_addr(k, v->low_size);
		memcpy(v->mem + rd, k->initrd, k->initrd_len);
	}
	memcpy(v->mem + CMDLINE_PA, k->cmdline, strlen(k->cmdline) + 1);
	write_mptable(v, v->mem + MPTABLE_PA);
	if (k->pvh)
		return load_pvh(v, k, rd);
	memcpy(v->mem + KERNEL_PA, k->image + k->setup_len, k->image_len - k->setup_len);
	memcpy(v->mem + GDT_PA, gdt, sizeof(gdt));

	/* Identity map of 0..4 GiB with 2 MiB pages: the boot protocol
	 * wants the kernel, zero page, command line and initrd mapped. */
	pml4[0] = PDPT_PA | 3;
	for (int i = 0; i < 4; i++) {
		pdpt[i] = (PD_PA + 0x1000ull * (uint64_t)i) | 3;
		for (int j = 0; j < 512; j++)
			pd[i * 512 + j] = (((uint64_t)i << 30) | ((uint64_t)j << 21)) | 0x83;
	}

	/* Zero page: zeros, then the image's setup header where it belongs
	 * (boot.rst: copy from 0x1f1 to the end of the header). */
	memset(zp, 0, 4096);
	memcpy(zp + BP_SETUP_SECTS, k->image + BP_SETUP_SECTS, hdr_end - BP_SETUP_SECTS);
	put16(zp + BP_VID_MODE, 0xffff);		/* "normal" */
	zp[BP_TYPE_OF_LOADER] = 0xff;			/* undefined loader */
	zp[BP_LOADFLAGS] |= CAN_USE_HEAP;
	put16(zp + BP_HEAP_END_PTR, 0xfe00);
	put32(zp + BP_CMD_LINE_PTR, CMDLINE_PA);
	put32(zp + BP_EXT_CMD_LINE_PTR, 0);
	put32(zp + BP_RAMDISK_IMAGE, (uint32_t)rd);
	put32(zp + BP_RAMDISK_SIZE, (uint32_t)k->initrd_len);
	put32(zp + BP_EXT_RAMDISK_IMAGE, (uint32_t)(rd >> 32));
	put32(zp + BP_EXT_RAMDISK_SIZE, (uint32_t)((uint64_t)k->initrd_len >> 32));
	{
		uint64_t map[8][3];
		int n = memory_map(v, map);

		for (int i = 0; i < n; i++)
			add_e820(zp, map[i][0], map[i][1], (uint32_t)map[i][2]);
	}

	/* vCPU 0 at the 64-bit entry; the others wait for the kernel's
	 * INIT/SIPI in the in-kernel LAPIC. */
	if (ioctl(v->vcpu[0].fd, KVM_GET_SREGS, &sr) < 0)
		return gp_error_os(errno, "KVM_GET_SREGS");
	seg(&sr.cs, 0x10, true);
	seg(&sr.ds, 0x18, false);
	sr.es = sr.fs = sr.gs = sr.ss = sr.ds;
	sr.gdt.base = GDT_PA;
	sr.gdt.limit = sizeof(gdt) - 1;
	sr.idt.base = 0;
	sr.idt.limit = 0;
	sr.cr3 = PML4_PA;
	sr.cr4 = 0x20;		/* PAE */
	sr.cr0 = 0x80000011;	/* PG, ET, PE */
	sr.efer = 0x500;	/* LME, LMA */
	if (ioctl(v->vcpu[0].fd, KVM_SET_SREGS, &sr) < 0)
		return gp_error_os(errno, "KVM_SET_SREGS");
	memset(&r, 0, sizeof(r));
	r.rip = KERNEL_PA + 0x200;
	r.rsi = ZERO_PAGE_PA;
	r.rsp = STACK_TOP;
	r.rflags = 2;
	if (ioctl(v->vcpu[0].fd, KVM_SET_REGS, &r) < 0)
		return gp_error_os(errno, "KVM_SET_REGS");
	return NULL;
}
