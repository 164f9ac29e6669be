// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * kvmvm_cpu.c - one vCPU as Linux expects to find it: CPUID, MSRs, local
 * APIC (kvmvm.c creates them; this file says what each one holds).
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "kvmvm.h"

/* Per-vCPU CPUID: KVM's supported set, with this vCPU's APIC id, and the
 * hypervisor bit (Linux then looks for KVM's paravirt leaves, which
 * KVM_GET_SUPPORTED_CPUID includes: kvmclock, PV EOI, ...). */
static void cpuid_for(struct kvm_cpuid2 *c, int idx)
{
	bool avx = true;

	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == 1)
			avx = c->entries[i].ecx & (1u << 28);
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		switch (e->function) {
		case 1:
			e->ebx = (e->ebx & 0x00ffffffu) | ((uint32_t)idx << 24);
			e->ecx |= 1u << 31;
			break;
		case 0xb:
		case 0x1f:
			e->edx = (uint32_t)idx;	/* x2APIC id */
			break;
		case 0xd:
			/* Under a nested QEMU TCG host the XSAVE leaf can offer
			 * AVX state (XCR0 bit 2 and the AVX-512 bits that need
			 * it) on a CPU without AVX; Linux then warns "XSAVE
			 * consistency problem". Offer only what leaf 1 backs. */
			if (!avx && e->index == 0)
				e->eax &= ~0xe4u;
			else if (!avx && (e->index == 2 || (e->index >= 5 && e->index <= 7)))
				e->eax = e->ebx = e->ecx = e->edx = 0;
			break;
		case 0x8000001e:
			e->eax = (uint32_t)idx;	/* AMD extended APIC id */
			break;
		}
	}
}

/* The MSRs a 64-bit Linux expects a firmware to have initialised (the set
 * kvmtool programs: syscall/sysenter targets clear, TSC 0, fast strings). */
static struct gp_error *setup_msrs(struct kvmvm *v, int idx)
{
	static const struct {
		uint32_t index;
		uint64_t data;
	} init[] = {
		{ 0x174, 0 }, { 0x175, 0 }, { 0x176, 0 },	/* SYSENTER_CS/ESP/EIP */
		{ 0xc0000081, 0 }, { 0xc0000082, 0 },	/* STAR, LSTAR */
		{ 0xc0000083, 0 }, { 0xc0000084, 0 },	/* CSTAR, SYSCALL_MASK */
		{ 0xc0000102, 0 },			/* KERNEL_GS_BASE */
		{ 0x10, 0 },				/* TSC */
		{ 0x1a0, 1 },				/* MISC_ENABLE: fast strings */
	};
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e[ARRAY_SIZE(init)];
	} m;
	int rc;

	memset(&m, 0, sizeof(m));
	m.h.nmsrs = ARRAY_SIZE(init);
	for (size_t i = 0; i < ARRAY_SIZE(init); i++) {
		m.e[i].index = init[i].index;
		m.e[i].data = init[i].data;
	}
	rc = ioctl(v->vcpu[idx].fd, KVM_SET_MSRS, &m);
	if (rc < 0)
		return gp_error_os(errno, "KVM_SET_MSRS on vCPU %d", idx);
	if (rc != (int)ARRAY_SIZE(init))
		return gp_error_create(GP_ERR_UNSUPPORTED, "KVM refused MSR 0x%x on vCPU %d",
				       init[rc].index, idx);
	return NULL;
}

/* Local APIC: LINT0 delivers the 8259's ExtINT, LINT1 NMI, as a BIOS
 * leaves them (Linux's virtual-wire mode relies on it). */
static struct gp_error *setup_lapic(struct kvmvm *v, int idx)
{
	struct kvm_lapic_state l;
	uint32_t lvt;

	if (ioctl(v->vcpu[idx].fd, KVM_GET_LAPIC, &l) < 0)
		return gp_error_os(errno, "KVM_GET_LAPIC on vCPU %d", idx);
	memcpy(&lvt, l.regs + 0x350, 4);
	lvt = (lvt & ~0x700u) | (7u << 8);	/* ExtINT */
	memcpy(l.regs + 0x350, &lvt, 4);
	memcpy(&lvt, l.regs + 0x360, 4);
	lvt = (lvt & ~0x700u) | (4u << 8);	/* NMI */
	memcpy(l.regs + 0x360, &lvt, 4);
	if (ioctl(v->vcpu[idx].fd, KVM_SET_LAPIC, &l) < 0)
		return gp_error_os(errno, "KVM_SET_LAPIC on vCPU %d", idx);
	return NULL;
}

struct gp_error *kvmvm_create_vcpu(struct kvmvm *v, int idx, struct kvm_cpuid2 *cpuid)
{
	struct kvmvm_vcpu *c = &v->vcpu[idx];
	struct gp_error *err;

	c->fd = ioctl(v->vm, KVM_CREATE_VCPU, idx);
	if (c->fd < 0)
		return gp_error_os(errno, "KVM_CREATE_VCPU %d", idx);
	c->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
	if (c->run == MAP_FAILED) {
		c->run = NULL;
		return gp_error_os(errno, "mmap kvm_run of vCPU %d", idx);
	}
	if (v->linux_pc)
		cpuid_for(cpuid, idx);
	if (ioctl(c->fd, KVM_SET_CPUID2, cpuid) < 0)
		return gp_error_os(errno, "setting CPUID of vCPU %d", idx);
	if (v->linux_pc && ((err = setup_msrs(v, idx)) || (err = setup_lapic(v, idx))))
		return err;
	return NULL;
}

