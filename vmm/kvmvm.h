/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kvmvm.h - our own minimal KVM virtual machine (issue 6, first steps):
 * a VM with one RAM slot and N vCPUs in 64-bit mode, an 8250 transmit
 * port, one thread per vCPU, a pause that kicks every vCPU out of KVM_RUN
 * and waits until all are out, and clean stops on HLT, shutdown or any
 * exit it does not handle (registers dumped, never a silent spin).
 * Booting Linux comes next; see README.
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
#define KVMVM_MAX_VCPUS 16

enum kvmvm_stop {
	KVMVM_RUNNING = 0,
	KVMVM_HALTED,		/* HLT */
	KVMVM_SHUTDOWN,		/* triple fault / shutdown */
	KVMVM_FAILED,		/* an exit we do not handle: see err */
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
	uint8_t *mem;
	size_t mem_size;
	FILE *serial;		/* where the guest's serial output goes */
	uint64_t exits;
	int nr_vcpus;
	struct kvmvm_vcpu vcpu[KVMVM_MAX_VCPUS];
	/* Threaded run (kvmvm_start). mu protects want_pause, quit, the
	 * vCPUs' paused/stop, and err; cv signals every change. */
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool want_pause, quit;
	struct gp_error *err;	/* the first unhandled exit */
	uint64_t last_pause_ns;	/* request to every vCPU out of KVM_RUN */
};

/* mem_size: bytes of guest RAM at guest-physical 0. */
struct gp_error *kvmvm_create(size_t mem_size, int nr_vcpus, struct kvmvm **out);
void kvmvm_destroy(struct kvmvm *v);

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
struct gp_error *gdbsrv_start(struct kvmvm *v, const char *path, struct gdbsrv **out);
void gdbsrv_stop(struct gdbsrv *s);

#endif
