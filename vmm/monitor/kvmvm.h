/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kvmvm.h - our own minimal KVM virtual machine (issue 6).
 *
 * Two kinds of VM:
 *  - kvmvm_create(): tiny freestanding guests for tests: one RAM slot, no
 *    irqchip (HLT exits to us), vCPUs put straight into 64-bit mode.
 *  - kvmvm_create_linux(): a PC that boots Linux: in-kernel irqchip and
 *    PIT, CPUID from KVM, the MSRs Linux expects, an MP table (so Linux
 *    finds every vCPU and the IOAPIC), an 8250 UART at 0x3f8 (IRQ 4), and
 *    the 64-bit boot protocol for a bzImage or the PVH entry of a vmlinux
 *    (kvmvm_linux.c).
 * Both: one thread per vCPU, a pause that kicks every vCPU out of KVM_RUN
 * and waits until all are out, clean stops on shutdown/reboot or any exit
 * the VMM does not handle (registers dumped, never a silent spin).
 *
 * Guest-physical layout of a Linux VM (see also kvmvm_linux.c):
 *   0x00000000 .. 0x0009fc00  RAM (e820 usable; Linux 6.1 reserves the
 *                              first MiB itself, guestpatch's region is
 *                              0x40000..0x90000 in there)
 *   0x0009fc00 .. 0x00100000  e820 reserved (EBDA, BIOS area, MP table)
 *   0x00100000 .. low end      RAM (low end = RAM size, or 2 GiB when the
 *                              guest has 2.75 GiB or more, as QEMU q35)
 *   KVMVM_INJECT_PA, 2 MiB     memory for injected code: a slot of its own
 *                              that the e820 map does NOT list, so the
 *                              guest kernel never allocates from it
 *   4 GiB ..                   the rest of RAM, if any
 */
#ifndef GP_KVMVM_H
#define GP_KVMVM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "gp_error.h"

#define KVMVM_SERIAL_PORT 0x3f8
#define KVMVM_SERIAL_IRQ 4
#define KVMVM_MAX_VCPUS 16
/* The slot for injected code (Linux VMs): not RAM in the e820 map. */
#define KVMVM_INJECT_PA 0xc0000000ull
#define KVMVM_INJECT_SIZE (2ull << 20)
/* Low RAM ends here at most (QEMU q35's rule, so tools agree). */
#define KVMVM_LOWMEM_SPLIT 0xb0000000ull
#define KVMVM_LOWMEM_MAX 0x80000000ull

enum kvmvm_stop {
	KVMVM_RUNNING = 0,
	KVMVM_HALTED,		/* HLT */
	KVMVM_SHUTDOWN,		/* triple fault / shutdown */
	KVMVM_FAILED,		/* an exit we do not handle: see err */
	KVMVM_RESET,		/* the guest asked for a reset (reboot) */
	KVMVM_POWEROFF,		/* the guest asked to be switched off */
};

/* A 16550A-compatible UART (kvmvm_serial.c). Guarded by its own lock:
 * vCPU threads and the input thread both touch it. */
#define KVMVM_SERIAL_FIFO 1024
struct kvmvm_serial {
	pthread_mutex_t mu;
	uint8_t ier, iir, fcr, lcr, mcr, lsr, msr, scr, dll, dlm;
	bool thr_ipending;	/* "transmitter empty" interrupt pending */
	bool irq_level;		/* what we last told KVM about IRQ 4 */
	uint8_t rx[KVMVM_SERIAL_FIFO];
	unsigned rx_head, rx_len;
};

struct kvmvm_vcpu {
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool paused;		/* out of KVM_RUN, waiting (under mu) */
	enum kvmvm_stop stop;	/* this vCPU stopped by itself */
};

struct kvmvm {
	int kvm, vm;
	size_t run_size;
	bool linux_pc;		/* kvmvm_create_linux: irqchip, PIT, UART IRQ */
	uint8_t *mem;		/* all RAM, contiguous here (memfd) */
	size_t mem_size;
	size_t low_size;	/* RAM at guest-physical 0; the rest at 4 GiB */
	int mem_fd;		/* memfd behind mem (handed to tools) */
	uint8_t *inject;	/* the KVMVM_INJECT_PA slot (Linux VMs) */
	FILE *serial;		/* where the guest's serial output goes */
	struct kvmvm_serial uart;
	uint64_t exits;
	int nr_vcpus;
	struct kvmvm_vcpu vcpu[KVMVM_MAX_VCPUS];
	/* Threaded run (kvmvm_start). mu protects want_pause, quit, the
	 * vCPUs' paused/stop, and err; cv signals every change. */
	int nr_threads;		/* vCPU threads created (0..nr_vcpus), under mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool want_pause, quit;
	struct gp_error *err;	/* the first unhandled exit */
	enum kvmvm_stop vm_stop;	/* Linux VMs: what stopped the whole VM */
	uint64_t last_pause_ns;	/* request to every vCPU out of KVM_RUN */
	/* Serial input thread (kvmvm_serial_input). */
	bool input_started;
	pthread_t input_thread;
	int input_fd;
	int input_pipe[2];	/* closing [1] ends the thread */
};

/* mem_size: bytes of guest RAM at guest-physical 0. */
struct gp_error *kvmvm_create(size_t mem_size, int nr_vcpus, struct kvmvm **out);
/* A Linux-capable PC (see above). Fails, leaving nothing behind, when
 * /dev/kvm is missing or not permitted, or KVM lacks what Linux needs. */
struct gp_error *kvmvm_create_linux(size_t mem_size, int nr_vcpus, struct kvmvm **out);
void kvmvm_destroy(struct kvmvm *v);

/* Host pointer to guest-physical [pa, pa+len) if it lies inside one RAM
 * slot or the inject slot, else NULL. */
uint8_t *kvmvm_gpa(struct kvmvm *v, uint64_t pa, size_t len);

/* A Linux kernel to boot (kvmvm_linux.c), read and checked before any VM
 * exists, so bad input never leaves a half-started VM. */
struct kvmvm_kernel;
/* kernel: a bzImage (64-bit boot protocol 2.12+) or a vmlinux ELF with a
 * PVH entry note; initrd may be NULL. */
struct gp_error *kvmvm_kernel_open(const char *kernel, const char *initrd, const char *cmdline,
				   struct kvmvm_kernel **out);
/* Does the kernel, with its initrd, fit mem_size bytes of RAM? */
struct gp_error *kvmvm_kernel_fits(const struct kvmvm_kernel *k, size_t mem_size);
/* Load it into a kvmvm_create_linux() VM: zero page, e820, command line,
 * initrd, MP table, page tables, vCPU 0 at the 64-bit entry. */
struct gp_error *kvmvm_load_linux(struct kvmvm *v, const struct kvmvm_kernel *k);
void kvmvm_kernel_free(struct kvmvm_kernel *k);

/* The UART (kvmvm_serial.c). */
void kvmvm_serial_init(struct kvmvm *v);
/* A port access in 0x3f8..0x3ff from a vCPU. */
void kvmvm_serial_io(struct kvmvm *v, uint16_t port, bool out, uint8_t *data);
/* Feed bytes read from fd to the guest's UART, in a thread, until EOF. */
struct gp_error *kvmvm_serial_input(struct kvmvm *v, int fd);
/* Queue bytes for the guest to read; returns how many fit. */
size_t kvmvm_serial_rx(struct kvmvm *v, const uint8_t *buf, size_t len);

/* Load a flat 64-bit image at `pa` and set every vCPU up to run it in long
 * mode: identity-mapped first GiB (2 MiB pages), flat GDT, rdi = vCPU
 * index, a 4 KiB stack each below the image. */
struct gp_error *kvmvm_load_flat64(struct kvmvm *v, const void *code, size_t len, uint64_t pa);

/* Run vCPU 0 in the calling thread until it halts or shuts down (*why),
 * or an exit we do not handle (an error naming it, with the registers).
 * max_exits bounds the loop (0: none). */
struct gp_error *kvmvm_run(struct kvmvm *v, uint64_t max_exits, enum kvmvm_stop *why);

/* Run every vCPU in a thread of its own. */
struct gp_error *kvmvm_start(struct kvmvm *v);
/* Kick every vCPU out of KVM_RUN and wait until all are out (or stopped).
 * Records the latency in last_pause_ns. */
struct gp_error *kvmvm_pause(struct kvmvm *v);
void kvmvm_resume(struct kvmvm *v);
/* Wait up to timeout_ms for every vCPU to stop by itself (or any to fail);
 * the VM's state: RUNNING if some vCPU still runs. */
enum kvmvm_stop kvmvm_wait(struct kvmvm *v, int timeout_ms);

/* Registers of vCPU idx in struct tgt_regs form (paused or stopped). */
struct tgt_regs;
struct gp_error *kvmvm_get_regs(struct kvmvm *v, int idx, struct tgt_regs *r);

/* A GDB remote-protocol control socket (unix, mode 0600) for the VM,
 * compatible with what tgt_qemu.c speaks to QEMU: Qqemu.PhyMemMode,
 * stop/continue, one thread per vCPU, registers with a target
 * description, memory. */
struct gdbsrv;
/* Beyond QEMU's dialect: "qGuestpatch.memfd" answers
 * "size=HEX;lowmem=HEX" and passes the guest RAM's memfd with the reply
 * (SCM_RIGHTS), for tools on the same host to read RAM at memory speed;
 * it does not stop the guest. */
struct gp_error *gdbsrv_start(struct kvmvm *v, const char *path, struct gdbsrv **out);
void gdbsrv_stop(struct gdbsrv *s);
/* Serve one connected client on fd until it hangs up: the control
 * socket's thread does this for each client it accepts; tests drive it
 * over a socketpair. The caller closes fd. */
void gdbsrv_session(struct kvmvm *v, int fd);

/* Internal to the monitor (kvmvm_cpu.c): create vCPU idx with its CPUID,
 * and for a Linux PC its MSRs and local APIC. */
struct kvm_cpuid2;
struct gp_error *kvmvm_create_vcpu(struct kvmvm *v, int idx, struct kvm_cpuid2 *cpuid);

#endif
