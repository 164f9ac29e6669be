/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz.h - what the libFuzzer harnesses (tests/fuzz/fuzz_*.c) and the seed
 * tool (tests/fuzz/seeds.c) share: the input formats of the harnesses that
 * take more than one raw blob, a small guest built from an input (a
 * buffer target with 4-level page tables that map the pages the input
 * names), and a socketpair fed from an input for the protocol harnesses.
 *
 * Formats are little-endian and fixed-size headers followed by data; a
 * short input reads as zeros past its end, so every input is a valid one.
 * Guest memory is given as chunks: { u64 va; u32 len; u8 bytes[len] }.
 */
#ifndef GP_FUZZ_H
#define GP_FUZZ_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kernel.h"
#include "pgtable.h"
#include "target.h"

/* ---- reading an input ---- */

struct fz_in {
	const uint8_t *p;
	size_t n;
};

/* Copy n bytes out (zeros past the end of the input). */
static inline void fz_take(struct fz_in *in, void *out, size_t n)
{
	size_t k = n < in->n ? n : in->n;

	memcpy(out, in->p, k);
	memset((uint8_t *)out + k, 0, n - k);
	in->p += k;
	in->n -= k;
}

/* ---- input formats ---- */

#define FZ_MAX_CPUS 4

/* fuzz_tasks: this header, then chunks. The offsets are struct
 * task_offsets' (from the guest's BTF in a real seed). */
struct fz_tasks_hdr {
	uint64_t init_task;
	uint64_t tasks, thread_node, signal, thread_head;
	uint64_t pid, tgid, comm, state, exit_state, flags, on_cpu, cpu;
	uint64_t stack, thread_sp, ti_flags, patch_state;
	uint64_t rq_idle, rq_curr, current_task, runqueues;
	uint64_t comm_len;
	uint32_t has_patch_state;
	uint32_t nr_cpus;		/* 1..FZ_MAX_CPUS */
	uint64_t online;		/* bitmap */
	uint64_t percpu[FZ_MAX_CPUS];	/* __per_cpu_offset[] */
};

/* fuzz_modules: this header, then chunks. Offsets inside struct module;
 * the *_rel ones are inside the nested struct at the group's offset
 * (core_layout, core_kallsyms, arch). The harness makes a BTF of them. */
struct fz_mods_hdr {
	uint64_t modules;		/* the list head's address */
	uint32_t mod_size;
	uint32_t list, name, state;
	uint32_t layout, base_rel, size_rel, text_size_rel;
	uint32_t kallsyms, symtab_rel, num_symtab_rel, strtab_rel;
	uint32_t has_orc, arch, num_orcs_rel, orc_ip_rel, orc_u_rel;
	/* bit 0: 6.4+'s mem[] at `layout` instead of core_layout, with
	 * (bits 8-11) + 1 struct module_memory of 16 bytes, MOD_TEXT = bits
	 * 16-19 and MOD_RODATA = bits 20-23 in enum mod_mem_type, and the
	 * kernel's ORC format 6.4's (each module's own orc_header read). */
	uint32_t mem_layout;
};

/* fuzz_orc: this header, then n int32 self-relative ips, then n 6-byte
 * entries (n is cut to what the input holds). */
struct fz_orc_hdr {
	uint64_t ip_base;
	uint64_t text_start, text_end;
	uint64_t init_start, init_end;
	uint32_t n;
	uint32_t pad;
};

/* fuzz_kallsyms: this header, then names_len bytes of kallsyms_names,
 * tt_len bytes of kallsyms_token_table, then kallsyms_offsets (num_syms
 * is cut to the offsets the input holds). */
struct fz_ksym_hdr {
	uint32_t num_syms;
	uint32_t names_len;
	uint32_t tt_len;
	uint32_t absolute_percpu;
	uint64_t relative_base;
	uint16_t token_index[256];
};

/* fuzz_region: this header, then the region's header pages (struct
 * lp_hdr) as found at LP_REGION_PA. The kernel it describes: its build
 * id, level2_kernel_pgt, _end, the value in the region's slot of
 * level2_kernel_pgt, hrtimer_interrupt (0: none), and a few symbols
 * (the patched functions) for the site records; `boot` says which boot
 * the kernel is in (FZ_REGION_*). */
#define FZ_REGION_SYMS 8
struct fz_region_sym {
	uint64_t addr;
	char type;
	char name[23];
};
/* The harness maps level2_kernel_pgt's page here; a real header's
 * pmd_entry_pa is moved along (seeds.c). */
#define FZ_REGION_L2_PA 0xa0000ull
struct fz_region_hdr {
	char build_id[48];
	uint64_t l2, end, pmd, hook;
	uint32_t nsyms;
	uint32_t boot;
	struct fz_region_sym syms[FZ_REGION_SYMS];
};
#define FZ_REGION_SAME_BOOT 0u		/* the boot the header names */
#define FZ_REGION_OTHER_BOOT 1u		/* another: an earlier boot's region
					 * (then set up anew over it, rolled back) */
#define FZ_REGION_UNKNOWN_BOOT 2u	/* no boot id (0) */

/* fuzz_journal: one byte of flags, then the journal pages as found at
 * LP_JOURNAL_PA. */
#define FZ_JOURNAL_FIX_SUMS 1u	/* the harness makes the checksums right */
#define FZ_JOURNAL_FORCE 2u	/* lp_journal_force(true) */
/* 4: the harness's own transaction is rolled back, not committed */
#define FZ_JOURNAL_OTHER_BOOT 8u	/* the guest is in another boot than the
					 * one header copy 0 names (else the same) */

/* ---- a small guest from chunks ---- */

#define FZ_VM_SIZE (4u << 20)

struct fz_vm {
	uint8_t *mem;
	uint64_t next;		/* next free page */
	uint64_t pml4;
	struct tgt *t;
};

static inline void fz_vm_init(struct fz_vm *vm)
{
	vm->mem = calloc(1, FZ_VM_SIZE);
	if (!vm->mem || tgt_buffer_new(vm->mem, FZ_VM_SIZE, NULL, 0, &vm->t))
		abort();
	vm->next = FZ_VM_SIZE;
}

static inline uint64_t fz_vm_alloc(struct fz_vm *vm)
{
	uint64_t pa = vm->next;

	if (pa + 4096 > FZ_VM_SIZE)
		return 0;
	vm->next += 4096;
	return pa;
}

/* Empty: no page mapped (page 0 stays unused). */
static inline void fz_vm_reset(struct fz_vm *vm)
{
	memset(vm->mem, 0, vm->next);
	vm->next = 4096;
	vm->pml4 = fz_vm_alloc(vm);
}

/* The host copy of the page mapped at va, mapping a new one if needed;
 * NULL when memory is full. */
static inline uint8_t *fz_vm_page(struct fz_vm *vm, uint64_t va)
{
	uint64_t table = vm->pml4;

	for (int shift = 48; shift >= 12; shift -= 9) {
		uint64_t e;
		uint8_t *ep = vm->mem + table + ((va >> shift) & 511) * 8;

		memcpy(&e, ep, 8);
		if (!(e & PT_PRESENT)) {
			uint64_t pa = fz_vm_alloc(vm);

			if (!pa)
				return NULL;
			e = pa | PT_PRESENT | PT_RW;
			memcpy(ep, &e, 8);
		}
		table = e & PT_ADDR_MASK;
	}
	return vm->mem + table;
}

static inline void fz_vm_write(struct fz_vm *vm, uint64_t va, const uint8_t *p, size_t len)
{
	while (len) {
		size_t n = 4096 - (va & 4095);
		uint8_t *page = fz_vm_page(vm, va);

		if (!page)
			return;
		if (n > len)
			n = len;
		memcpy(page + (va & 4095), p, n);
		va += n;
		p += n;
		len -= n;
	}
}

/* Map and fill every chunk of the rest of the input. */
static inline void fz_vm_chunks(struct fz_vm *vm, struct fz_in *in)
{
	while (in->n >= 12) {
		uint64_t va;
		uint32_t len;

		fz_take(in, &va, 8);
		fz_take(in, &len, 4);
		if (len > in->n)
			len = (uint32_t)in->n;
		fz_vm_write(vm, va, in->p, len);
		in->p += len;
		in->n -= len;
	}
}

/* A kern over the small guest (no symbols, BTF or CPUs yet). */
static inline void fz_vm_kern(struct fz_vm *vm, struct kern *k)
{
	memset(k, 0, sizeof(*k));
	k->t = vm->t;
	k->levels = 5;
	k->pgd_pa = vm->pml4;
	snprintf(k->release, sizeof(k->release), "6.1.0-fuzz");
}

static inline void fz_put_chunk(FILE *f, uint64_t va, const void *p, uint32_t len)
{
	fwrite(&va, 8, 1, f);
	fwrite(&len, 4, 1, f);
	fwrite(p, 1, len, f);
}

/* ---- a byte stream for a protocol peer ---- */

/*
 * fd[1] is for the code under test; a thread writes the input into fd[0],
 * then shuts its sending side (the peer reads EOF after the last byte),
 * and reads and drops whatever the code under test sends, until it closes
 * fd[1]. Nothing waits on a clock: the peer never stalls.
 */
struct fz_pipe {
	int fd[2];
	pthread_t th;
	const uint8_t *data;
	size_t len;
};

static inline void *fz_pipe_thread(void *arg)
{
	struct fz_pipe *p = arg;
	size_t off = 0;
	char sink[16384];
	bool shut = false;

	for (;;) {
		struct pollfd pf = { .fd = p->fd[0], .events = POLLIN | (shut ? 0 : POLLOUT) };

		if (!shut && off == p->len) {
			shutdown(p->fd[0], SHUT_WR);
			shut = true;
			continue;
		}
		if (poll(&pf, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pf.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = read(p->fd[0], sink, sizeof(sink));

			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
				break;
		}
		if (!shut && (pf.revents & POLLOUT)) {
			ssize_t n = send(p->fd[0], p->data + off, p->len - off,
					 MSG_NOSIGNAL | MSG_DONTWAIT);

			if (n > 0)
				off += (size_t)n;
			else if (n < 0 && errno != EAGAIN && errno != EINTR)
				off = p->len;	/* the peer is gone */
		}
	}
	return NULL;
}

static inline void fz_pipe_start(struct fz_pipe *p, const uint8_t *data, size_t len)
{
	p->data = data;
	p->len = len;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p->fd) ||
	    fcntl(p->fd[0], F_SETFL, O_NONBLOCK) ||
	    pthread_create(&p->th, NULL, fz_pipe_thread, p))
		abort();
}

/* After the code under test closed fd[1]. */
static inline void fz_pipe_end(struct fz_pipe *p)
{
	pthread_join(p->th, NULL);
	close(p->fd[0]);
}

/* ---- the gdbstub client's script ---- */

/*
 * What fuzz_gdbc does with a stub, and what the seed tool did with QEMU's
 * when it recorded the stub's side (so the recording is a deep seed):
 * the handshake, registers, memory read and written back, continue, stop,
 * detach. Every step runs whatever the one before returned.
 */
#include "gdbc.h"

static inline void fz_gdbc_script(struct gdbc *g)
{
	static uint8_t raw[GDBC_MAX_PACKET / 2];
	uint8_t mem[300];
	uint64_t v;

	gp_error_destroy(gdbc_handshake(g));
	gdbc_drop_reg(g, "orig_rax");
	gp_error_destroy(gdbc_cmd_ok(g, "Qqemu.PhyMemMode:1"));
	if (gp_ok(gdbc_read_regs(g, 0, raw)))
		for (int i = 0; i < g->nr_regs; i++)
			gdbc_reg_value(g, raw, g->regs[i].name, &v);
	gp_error_destroy(gdbc_read_regs(g, g->nr_threads - 1, raw));
	memset(mem, 0, sizeof(mem));
	gp_error_destroy(gdbc_read_mem(g, 0x1000, mem, sizeof(mem)));
	gp_error_destroy(gdbc_write_mem(g, 0x1000, mem, 16));
	gp_error_destroy(gdbc_cont(g));
	gp_error_destroy(gdbc_stop(g));
	gp_error_destroy(gdbc_detach(g));
}

#endif
