// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "gp_time.h"
#include "kvmvm.h"
#include "target.h"

#define PML4_PA 0x1000
#define PDPT_PA 0x2000
#define PD_PA 0x3000
#define GDT_PA 0x500

static struct gp_error *add_slot(struct kvmvm *v, uint32_t slot, uint64_t pa, void *host, size_t len)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.guest_phys_addr = pa,
		.memory_size = len,
		.userspace_addr = (uint64_t)(uintptr_t)host,
	};

	if (ioctl(v->vm, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return gp_error_os(errno, "KVM_SET_USER_MEMORY_REGION (slot %u at 0x%llx, %zu bytes)",
				   slot, (unsigned long long)pa, len);
	return NULL;
}

/* The in-kernel PC chipset: PIC+IOAPIC+LAPICs and the PIT (with port
 * 0x61 answered in the kernel too). Must come before any vCPU. */
static struct gp_error *setup_pc(struct kvmvm *v)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	static const int caps[] = { KVM_CAP_IRQCHIP, KVM_CAP_PIT2, KVM_CAP_USER_MEMORY,
				    KVM_CAP_SET_TSS_ADDR, KVM_CAP_EXT_CPUID };
	static const char *const names[] = { "IRQCHIP", "PIT2", "USER_MEMORY", "SET_TSS_ADDR",
					     "EXT_CPUID" };

	for (size_t i = 0; i < ARRAY_SIZE(caps); i++)
		if (ioctl(v->kvm, KVM_CHECK_EXTENSION, caps[i]) <= 0)
			return gp_error_create(GP_ERR_UNSUPPORTED,
					       "this KVM lacks KVM_CAP_%s, which booting Linux needs",
					       names[i]);
	/* Three pages just below the BIOS area at 4 GiB, as QEMU and kvmtool
	 * place them (Intel's real-mode emulation needs a TSS there). */
	if (ioctl(v->vm, KVM_SET_TSS_ADDR, 0xfffbd000ul) < 0)
		return gp_error_os(errno, "KVM_SET_TSS_ADDR");
	if (ioctl(v->vm, KVM_CREATE_IRQCHIP, 0) < 0)
		return gp_error_os(errno, "KVM_CREATE_IRQCHIP");
	if (ioctl(v->vm, KVM_CREATE_PIT2, &pit) < 0)
		return gp_error_os(errno, "KVM_CREATE_PIT2");
	return NULL;
}

static struct gp_error *create(size_t mem_size, int nr_vcpus, bool linux_pc, struct kvmvm **out)
{
	struct kvm_cpuid2 *cpuid = NULL;
	struct gp_error *err;
	struct kvmvm *v;
	int api, sz;

	*out = NULL;
	if (mem_size < (2u << 20) || mem_size > (64ull << 30) || mem_size % 4096)
		return gp_error_create(GP_ERR_INVAL,
				       "guest memory must be a multiple of 4 KiB between 2 MiB and 64 GiB, not %zu bytes",
				       mem_size);
	if (nr_vcpus < 1 || nr_vcpus > KVMVM_MAX_VCPUS)
		return gp_error_create(GP_ERR_INVAL, "%d vCPUs: between 1 and %d, please", nr_vcpus,
				       KVMVM_MAX_VCPUS);
	v = calloc(1, sizeof(*v));
	if (!v)
		return &gp_error_nomem;
	v->vm = -1;
	v->mem_fd = -1;
	v->input_pipe[0] = v->input_pipe[1] = -1;
	v->linux_pc = linux_pc;
	for (int i = 0; i < KVMVM_MAX_VCPUS; i++)
		v->vcpu[i].fd = -1;
	v->serial = stdout;
	pthread_mutex_init(&v->mu, NULL);
	pthread_cond_init(&v->cv, NULL);
	kvmvm_serial_init(v);
	v->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (v->kvm < 0) {
		err = gp_error_os(errno, errno == ENOENT ? "open /dev/kvm (no KVM here: load the kvm and kvm-intel or kvm-amd modules)"
					 : "open /dev/kvm (are you allowed to use it? root or the kvm group)");
		goto fail;
	}
	api = ioctl(v->kvm, KVM_GET_API_VERSION, 0);
	if (api != KVM_API_VERSION) {
		err = gp_error_create(GP_ERR_UNSUPPORTED, "KVM API version %d, expected %d", api,
				      KVM_API_VERSION);
		goto fail;
	}
	v->vm = ioctl(v->kvm, KVM_CREATE_VM, 0);
	if (v->vm < 0) {
		err = gp_error_os(errno, "KVM_CREATE_VM");
		goto fail;
	}
	/* RAM lives in a memfd so a tool can be handed it (gdbsrv), sealed
	 * at its size: a tool maps it only if it can never shrink under its
	 * mapping (tgt_vmm.c), and no one can seal it further. */
	v->mem_fd = memfd_create("guest-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (v->mem_fd < 0 || ftruncate(v->mem_fd, (off_t)mem_size) < 0) {
		err = gp_error_os(errno, "creating %zu bytes of guest memory", mem_size);
		goto fail;
	}
	if (fcntl(v->mem_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		err = gp_error_os(errno, "sealing the guest memory's size");
		goto fail;
	}
	v->mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, v->mem_fd, 0);
	if (v->mem == MAP_FAILED) {
		v->mem = NULL;
		err = gp_error_os(errno, "allocating %zu bytes of guest memory", mem_size);
		goto fail;
	}
	v->mem_size = mem_size;
	v->low_size = mem_size;
	if (linux_pc && mem_size >= KVMVM_LOWMEM_SPLIT)
		v->low_size = KVMVM_LOWMEM_MAX;
	if ((err = add_slot(v, 0, 0, v->mem, v->low_size)))
		goto fail;
	if (v->low_size < mem_size &&
	    (err = add_slot(v, 1, 4ull << 30, v->mem + v->low_size, mem_size - v->low_size)))
		goto fail;
	if (linux_pc) {
		v->inject = mmap(NULL, KVMVM_INJECT_SIZE, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (v->inject == MAP_FAILED) {
			v->inject = NULL;
			err = gp_error_os(errno, "allocating the inject slot");
			goto fail;
		}
		if ((err = add_slot(v, 2, KVMVM_INJECT_PA, v->inject, KVMVM_INJECT_SIZE)) ||
		    (err = setup_pc(v)))
			goto fail;
	}
	sz = ioctl(v->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (sz < (int)sizeof(struct kvm_run)) {
		err = gp_error_os(errno, "KVM_GET_VCPU_MMAP_SIZE");
		goto fail;
	}
	v->run_size = (size_t)sz;
	/* CPUID as KVM supports it. */
	cpuid = calloc(1, sizeof(*cpuid) + 256 * sizeof(struct kvm_cpuid_entry2));
	if (!cpuid) {
		err = &gp_error_nomem;
		goto fail;
	}
	cpuid->nent = 256;
	if (ioctl(v->kvm, KVM_GET_SUPPORTED_CPUID, cpuid) < 0) {
		err = gp_error_os(errno, "KVM_GET_SUPPORTED_CPUID");
		goto fail;
	}
	for (int i = 0; i < nr_vcpus; i++) {
		if ((err = kvmvm_create_vcpu(v, i, cpuid)))
			goto fail;
		v->nr_vcpus = i + 1;
	}
	free(cpuid);
	*out = v;
	return NULL;
fail:
	free(cpuid);
	kvmvm_destroy(v);
	return err;
}

struct gp_error *kvmvm_create(size_t mem_size, int nr_vcpus, struct kvmvm **out)
{
	return create(mem_size, nr_vcpus, false, out);
}

struct gp_error *kvmvm_create_linux(size_t mem_size, int nr_vcpus, struct kvmvm **out)
{
	return create(mem_size, nr_vcpus, true, out);
}

uint8_t *kvmvm_gpa(struct kvmvm *v, uint64_t pa, size_t len)
{
	const uint64_t high = 4ull << 30;

	if (pa + len < pa)
		return NULL;
	if (pa + len <= v->low_size)
		return v->mem + pa;
	if (v->low_size < v->mem_size && pa >= high && pa + len - high <= v->mem_size - v->low_size)
		return v->mem + v->low_size + (pa - high);
	if (v->inject && pa >= KVMVM_INJECT_PA && pa + len <= KVMVM_INJECT_PA + KVMVM_INJECT_SIZE)
		return v->inject + (pa - KVMVM_INJECT_PA);
	return NULL;
}

void kvmvm_destroy(struct kvmvm *v)
{
	if (!v)
		return;
	if (v->nr_threads) {
		pthread_mutex_lock(&v->mu);
		v->quit = true;
		v->want_pause = false;
		pthread_cond_broadcast(&v->cv);
		pthread_mutex_unlock(&v->mu);
		for (int i = 0; i < v->nr_threads; i++) {
			v->vcpu[i].run->immediate_exit = 1;
			pthread_kill(v->vcpu[i].thread, SIGUSR1);
		}
		for (int i = 0; i < v->nr_threads; i++)
			pthread_join(v->vcpu[i].thread, NULL);
	}
	if (v->input_started) {
		close(v->input_pipe[1]);	/* the input thread's signal to end */
		pthread_join(v->input_thread, NULL);
		close(v->input_pipe[0]);
	}
	gp_error_destroy(v->err);
	for (int i = 0; i < KVMVM_MAX_VCPUS; i++) {
		if (v->vcpu[i].run)
			munmap(v->vcpu[i].run, v->run_size);
		if (v->vcpu[i].fd >= 0)
			close(v->vcpu[i].fd);
	}
	if (v->mem)
		munmap(v->mem, v->mem_size);
	if (v->inject)
		munmap(v->inject, KVMVM_INJECT_SIZE);
	if (v->mem_fd >= 0)
		close(v->mem_fd);
	if (v->vm >= 0)
		close(v->vm);
	if (v->kvm >= 0)
		close(v->kvm);
	free(v);
}

static void seg64(struct kvm_segment *s, uint16_t sel, bool code)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->limit = 0xffffffff;
	s->present = 1;
	s->s = 1;
	s->g = 1;
	s->type = code ? 11 : 3;	/* execute/read accessed, or read/write accessed */
	s->l = code;
	s->db = !code;
}

struct gp_error *kvmvm_load_flat64(struct kvmvm *v, const void *code, size_t len, uint64_t pa)
{
	static const uint64_t gdt[] = { 0, 0x00af9a000000ffffull, 0x00cf92000000ffffull };
	struct kvm_sregs sr;
	struct kvm_regs r;
	uint64_t *pml4 = (uint64_t *)(v->mem + PML4_PA), *pdpt = (uint64_t *)(v->mem + PDPT_PA);
	uint64_t *pd = (uint64_t *)(v->mem + PD_PA);

	if (pa < 0x10000 || pa > v->mem_size || len > v->mem_size - pa)
		return gp_error_create(GP_ERR_INVAL,
				       "image of %zu bytes at 0x%llx does not fit %zu bytes of guest memory above 64 KiB",
				       len, (unsigned long long)pa, v->mem_size);
	memcpy(v->mem + pa, code, len);
	memcpy(v->mem + GDT_PA, gdt, sizeof(gdt));
	pml4[0] = PDPT_PA | 3;
	pdpt[0] = PD_PA | 3;
	for (int i = 0; i < 512; i++)
		pd[i] = ((uint64_t)i << 21) | 0x83;	/* present, writable, 2 MiB */
	for (int i = 0; i < v->nr_vcpus; i++) {
		int fd = v->vcpu[i].fd;

		if (ioctl(fd, KVM_GET_SREGS, &sr) < 0)
			return gp_error_os(errno, "KVM_GET_SREGS");
		seg64(&sr.cs, 8, true);
		seg64(&sr.ds, 16, false);
		sr.es = sr.fs = sr.gs = sr.ss = sr.ds;
		sr.gdt.base = GDT_PA;
		sr.gdt.limit = sizeof(gdt) - 1;
		sr.cr3 = PML4_PA;
		sr.cr4 = 0x20;			/* PAE */
		sr.cr0 = 0x80000011;		/* PG, ET, PE */
		sr.efer = 0x500;		/* LME, LMA */
		if (ioctl(fd, KVM_SET_SREGS, &sr) < 0)
			return gp_error_os(errno, "KVM_SET_SREGS");
		memset(&r, 0, sizeof(r));
		r.rip = pa;
		r.rsp = (pa & ~0xfull) - (uint64_t)i * 4096;	/* one stack each */
		r.rdi = (uint64_t)i;
		r.rflags = 2;
		if (ioctl(fd, KVM_SET_REGS, &r) < 0)
			return gp_error_os(errno, "KVM_SET_REGS");
	}
	return NULL;
}

static struct gp_error *unhandled(struct kvmvm *v, int idx, const char *what)
{
	struct kvm_regs r;

	if (ioctl(v->vcpu[idx].fd, KVM_GET_REGS, &r) < 0)
		memset(&r, 0, sizeof(r));
	return gp_error_create(GP_ERR_UNSUPPORTED,
			       "guest stopped: vCPU %d: %s (exit reason %u) at rip 0x%llx rsp 0x%llx rax 0x%llx rbx 0x%llx rcx 0x%llx rdx 0x%llx rflags 0x%llx",
			       idx, what, v->vcpu[idx].run->exit_reason, (unsigned long long)r.rip,
			       (unsigned long long)r.rsp, (unsigned long long)r.rax,
			       (unsigned long long)r.rbx, (unsigned long long)r.rcx,
			       (unsigned long long)r.rdx, (unsigned long long)r.rflags);
}

/* One exit: false when the guest stopped (*why, or an error). */
static bool handle_exit(struct kvmvm *v, int idx, enum kvmvm_stop *why, struct gp_error **err)
{
	struct kvm_run *run = v->vcpu[idx].run;

	*err = NULL;
	switch (run->exit_reason) {
	case KVM_EXIT_HLT:
		*why = KVMVM_HALTED;
		return false;
	case KVM_EXIT_SHUTDOWN:
		*why = KVMVM_SHUTDOWN;
		return false;
	case KVM_EXIT_IO: {
		uint8_t *data = (uint8_t *)run + run->io.data_offset;
		uint16_t port = run->io.port;
		bool out = run->io.direction == KVM_EXIT_IO_OUT;

		for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size) {
			if (port >= KVMVM_SERIAL_PORT && port < KVMVM_SERIAL_PORT + 8 && run->io.size == 1) {
				kvmvm_serial_io(v, port, out, data);
				continue;
			}
			if (!out) {
				/* Nothing there. The keyboard controller's status
				 * and the CMOS read as 0 (idle, no update in
				 * progress) so Linux does not wait on them;
				 * anything else floats high, as on a bus. */
				bool zero = v->linux_pc && (port == 0x64 || port == 0x70 || port == 0x71);

				memset(data, zero ? 0 : 0xff, run->io.size);
				continue;
			}
			/* Reset: the keyboard controller's pulse (reboot=k, the
			 * kernel's default fallback) or the PCI reset register. */
			if (v->linux_pc && ((port == 0x64 && data[0] == 0xfe) ||
					    (port == 0xcf9 && run->io.size == 1 && (data[0] & 4)))) {
				*why = KVMVM_RESET;
				return false;
			}
		}
		return true;
	}
	case KVM_EXIT_SYSTEM_EVENT:
		if (run->system_event.type == KVM_SYSTEM_EVENT_RESET) {
			*why = KVMVM_RESET;
			return false;
		}
		if (run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN) {
			*why = KVMVM_POWEROFF;
			return false;
		}
		*err = unhandled(v, idx, "a system event the VMM does not know");
		break;
	case KVM_EXIT_MMIO: {
		char what[96];

		snprintf(what, sizeof(what), "MMIO %s of %u bytes at 0x%llx, where no device is",
			 run->mmio.is_write ? "write" : "read", run->mmio.len,
			 (unsigned long long)run->mmio.phys_addr);
		*err = unhandled(v, idx, what);
		break;
	}
	case KVM_EXIT_FAIL_ENTRY:
		*err = unhandled(v, idx, "VM entry failed");
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		*err = unhandled(v, idx, "KVM internal error (emulation failure?)");
		break;
	default:
		*err = unhandled(v, idx, "an exit the VMM does not handle");
		break;
	}
	*why = KVMVM_FAILED;
	return false;
}

struct gp_error *kvmvm_run(struct kvmvm *v, uint64_t max_exits, enum kvmvm_stop *why)
{
	struct gp_error *err;

	for (;;) {
		if (max_exits && v->exits >= max_exits)
			return gp_error_create(GP_ERR_LIMIT, "guest still running after %llu exits",
					       (unsigned long long)v->exits);
		if (ioctl(v->vcpu[0].fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return gp_error_os(errno, "KVM_RUN");
		}
		v->exits++;
		if (!handle_exit(v, 0, why, &err))
			return err;
	}
}

static void on_kick(int sig)
{
	(void)sig;	/* only there to make KVM_RUN return EINTR */
}

struct vcpu_arg {
	struct kvmvm *v;
	int idx;
};

static void *vcpu_thread(void *arg)
{
	struct vcpu_arg a = *(struct vcpu_arg *)arg;
	struct kvmvm *v = a.v;
	struct kvmvm_vcpu *c = &v->vcpu[a.idx];

	free(arg);
	for (;;) {
		enum kvmvm_stop why;
		struct gp_error *err;

		pthread_mutex_lock(&v->mu);
		while (v->want_pause && !v->quit) {
			c->paused = true;
			pthread_cond_broadcast(&v->cv);
			pthread_cond_wait(&v->cv, &v->mu);
		}
		c->paused = false;
		if (v->quit) {
			c->paused = true;
			pthread_cond_broadcast(&v->cv);
			pthread_mutex_unlock(&v->mu);
			return NULL;
		}
		pthread_mutex_unlock(&v->mu);
		if (ioctl(c->fd, KVM_RUN, 0) < 0) {
			/* EAGAIN: an AP left wait-for-SIPI; run it again. */
			if (errno == EINTR || errno == EAGAIN) {
				c->run->immediate_exit = 0;
				continue;
			}
			err = gp_error_os(errno, "KVM_RUN");
			why = KVMVM_FAILED;
		} else {
			__atomic_add_fetch(&v->exits, 1, __ATOMIC_RELAXED);
			if (handle_exit(v, a.idx, &why, &err))
				continue;
		}
		pthread_mutex_lock(&v->mu);
		c->stop = why;
		if (err && !v->err)
			v->err = err;
		else
			gp_error_destroy(err);
		c->paused = true;	/* a stopped vCPU is as still as a paused one */
		if (v->linux_pc && !v->vm_stop) {
			/* One machine: a reset, power-off or failure on any
			 * vCPU stops them all (the others are kicked out). */
			v->vm_stop = why;
			v->quit = true;
			for (int i = 0; i < v->nr_threads; i++)
				if (i != a.idx) {
					v->vcpu[i].run->immediate_exit = 1;
					pthread_kill(v->vcpu[i].thread, SIGUSR1);
				}
		}
		pthread_cond_broadcast(&v->cv);
		pthread_mutex_unlock(&v->mu);
		return NULL;
	}
}

struct gp_error *kvmvm_start(struct kvmvm *v)
{
	struct sigaction sa = { .sa_handler = on_kick };
	struct gp_error *err = NULL;

	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;	/* no SA_RESTART: KVM_RUN must return */
	sigaction(SIGUSR1, &sa, NULL);
	/* Under mu: a vCPU that stops at its first instruction kicks the
	 * others by thread id, so every id must be written before any vCPU
	 * runs (each thread takes mu first). */
	pthread_mutex_lock(&v->mu);
	for (int i = 0; i < v->nr_vcpus; i++) {
		struct vcpu_arg *a = malloc(sizeof(*a));
		int rc;

		if (!a) {
			err = &gp_error_nomem;
			break;
		}
		a->v = v;
		a->idx = i;
		rc = pthread_create(&v->vcpu[i].thread, NULL, vcpu_thread, a);
		if (rc) {
			free(a);
			/* Threads already started are stopped by destroy. */
			err = gp_error_os(rc, "starting vCPU thread %d", i);
			break;
		}
		v->nr_threads++;
	}
	pthread_mutex_unlock(&v->mu);
	return err;
}

static bool all_out(const struct kvmvm *v)
{
	for (int i = 0; i < v->nr_vcpus; i++)
		if (!v->vcpu[i].paused)
			return false;
	return true;
}

struct gp_error *kvmvm_pause(struct kvmvm *v)
{
	uint64_t t0 = gp_now_ns();

	pthread_mutex_lock(&v->mu);
	v->want_pause = true;
	/* immediate_exit covers a kick that arrives before KVM_RUN is entered. */
	for (int i = 0; i < v->nr_vcpus; i++)
		v->vcpu[i].run->immediate_exit = 1;
	pthread_mutex_unlock(&v->mu);
	for (int i = 0; i < v->nr_threads; i++)
		pthread_kill(v->vcpu[i].thread, SIGUSR1);
	pthread_mutex_lock(&v->mu);
	while (!all_out(v))
		pthread_cond_wait(&v->cv, &v->mu);
	pthread_mutex_unlock(&v->mu);
	v->last_pause_ns = gp_now_ns() - t0;
	return NULL;
}

void kvmvm_resume(struct kvmvm *v)
{
	pthread_mutex_lock(&v->mu);
	v->want_pause = false;
	for (int i = 0; i < v->nr_vcpus; i++)
		v->vcpu[i].run->immediate_exit = 0;
	pthread_cond_broadcast(&v->cv);
	pthread_mutex_unlock(&v->mu);
}

static enum kvmvm_stop vm_state(const struct kvmvm *v)
{
	enum kvmvm_stop s = KVMVM_HALTED;

	/* A Linux VM stops as one machine: stopped once every vCPU is out. */
	if (v->vm_stop)
		return all_out(v) ? v->vm_stop : KVMVM_RUNNING;
	for (int i = 0; i < v->nr_vcpus; i++) {
		if (v->vcpu[i].stop == KVMVM_FAILED)
			return KVMVM_FAILED;
		if (v->vcpu[i].stop == KVMVM_RUNNING)
			s = KVMVM_RUNNING;
		else if (s != KVMVM_RUNNING && v->vcpu[i].stop == KVMVM_SHUTDOWN)
			s = KVMVM_SHUTDOWN;
	}
	return s;
}

enum kvmvm_stop kvmvm_wait(struct kvmvm *v, int timeout_ms)
{
	struct timespec ts;
	enum kvmvm_stop s;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&v->mu);
	while ((s = vm_state(v)) == KVMVM_RUNNING)
		if (pthread_cond_timedwait(&v->cv, &v->mu, &ts))
			break;
	pthread_mutex_unlock(&v->mu);
	return s;
}

struct gp_error *kvmvm_get_regs(struct kvmvm *v, int idx, struct tgt_regs *t)
{
	struct kvm_regs r;
	struct kvm_sregs sr;
	int fd;

	if (idx < 0 || idx >= v->nr_vcpus)
		return gp_error_create(GP_ERR_INVAL, "no vCPU %d", idx);
	fd = v->vcpu[idx].fd;
	if (ioctl(fd, KVM_GET_REGS, &r) < 0 || ioctl(fd, KVM_GET_SREGS, &sr) < 0)
		return gp_error_os(errno, "reading vCPU registers");
	memset(t, 0, sizeof(*t));
	t->rax = r.rax; t->rbx = r.rbx; t->rcx = r.rcx; t->rdx = r.rdx;
	t->rsi = r.rsi; t->rdi = r.rdi; t->rbp = r.rbp; t->rsp = r.rsp;
	t->r8 = r.r8; t->r9 = r.r9; t->r10 = r.r10; t->r11 = r.r11;
	t->r12 = r.r12; t->r13 = r.r13; t->r14 = r.r14; t->r15 = r.r15;
	t->rip = r.rip; t->rflags = r.rflags;
	t->cs = sr.cs.selector; t->ss = sr.ss.selector; t->ds = sr.ds.selector;
	t->es = sr.es.selector; t->fs = sr.fs.selector; t->gs = sr.gs.selector;
	t->fs_base = sr.fs.base; t->gs_base = sr.gs.base;
	t->cr0 = sr.cr0; t->cr2 = sr.cr2; t->cr3 = sr.cr3; t->cr4 = sr.cr4; t->cr8 = sr.cr8;
	t->efer = sr.efer;
	/* MSR_KERNEL_GS_BASE */
	{
		struct {
			struct kvm_msrs h;
			struct kvm_msr_entry e;
		} m = { .h.nmsrs = 1, .e.index = 0xc0000102 };

		if (ioctl(fd, KVM_GET_MSRS, &m) == 1)
			t->kernel_gs_base = m.e.data;
	}
	return NULL;
}
