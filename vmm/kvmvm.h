/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kvmvm.h - our own minimal KVM virtual machine (issue 6, first steps):
 * a VM with one RAM slot, vCPUs in 64-bit mode, an 8250 transmit port, and
 * a run loop that stops on HLT, shutdown or any exit it does not handle
 * (dumping the registers, never spinning).  Booting Linux, more vCPUs,
 * the control socket and the pause protocol come next; see README.
 */
#ifndef GP_KVMVM_H
#define GP_KVMVM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "gp_error.h"

#define KVMVM_SERIAL_PORT 0x3f8

struct kvmvm {
	int kvm, vm, vcpu;
	struct kvm_run *run;
	size_t run_size;
	uint8_t *mem;
	size_t mem_size;
	FILE *serial;		/* where the guest's serial output goes */
	uint64_t exits;
};

enum kvmvm_stop {
	KVMVM_HALTED = 1,	/* HLT */
	KVMVM_SHUTDOWN,		/* triple fault / shutdown */
};

/* mem_size: bytes of guest RAM at guest-physical 0. */
struct gp_error *kvmvm_create(size_t mem_size, struct kvmvm **out);
void kvmvm_destroy(struct kvmvm *v);

/* Load a flat 64-bit image at `pa` and set the vCPU up to run it in long
 * mode: identity-mapped first GiB (2 MiB pages), flat GDT, stack below
 * the image. */
struct gp_error *kvmvm_load_flat64(struct kvmvm *v, const void *code, size_t len, uint64_t pa);

/* Run until the guest halts or shuts down (*why), or an exit we do not
 * handle (an error naming it, with the registers). max_exits bounds the
 * loop (0: none). */
struct gp_error *kvmvm_run(struct kvmvm *v, uint64_t max_exits, enum kvmvm_stop *why);

#endif
