// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Our own VMM's core on /dev/kvm with tiny freestanding guests (they run
 * even on the emulated KVM of these machines): 64-bit mode, serial output,
 * halt, shutdown, an exit the VMM does not handle, a guest that never
 * stops, and bad input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gp_check.h"
#include "kvmvm.h"
#include "rig/rig.h"
#include "target.h"

static struct kvmvm *boot(const unsigned char *code, size_t len, char **buf, size_t *blen,
			  FILE **f)
{
	struct kvmvm *v;

	ck_ok(kvmvm_create(4u << 20, 1, &v));
	*f = open_memstream(buf, blen);
	ck_assert(*f);
	v->serial = *f;
	ck_ok(kvmvm_load_flat64(v, code, len, 0x100000));
	return v;
}

START_TEST(serial_and_halt)
{
	/* In 64-bit mode: print "hi\n" on COM1, then HLT. A 64-bit-only
	 * instruction (movabs) proves the mode. */
	static const unsigned char code[] = {
		0x48, 0xb8, 0x68, 0x69, 0x0a, 0, 0, 0, 0, 0,	/* movabs $0x0a6968, %rax */
		0x66, 0xba, 0xf8, 0x03,			/* mov $0x3f8, %dx */
		0xee, 0x48, 0xc1, 0xe8, 0x08,		/* out %al,(%dx); shr $8, %rax */
		0xee, 0x48, 0xc1, 0xe8, 0x08,
		0xee, 0xf4,				/* out; hlt */
	};
	enum kvmvm_stop why;
	char *buf = NULL;
	size_t blen;
	FILE *f;
	struct kvmvm *v = boot(code, sizeof(code), &buf, &blen, &f);

	ck_ok(kvmvm_run(v, 100, &why));
	fclose(f);
	ck_assert_int_eq(why, KVMVM_HALTED);
	ck_assert_str_eq(buf, "hi\n");
	free(buf);
	kvmvm_destroy(v);
}
END_TEST

START_TEST(stops_cleanly)
{
	static const unsigned char ud2[] = { 0x0f, 0x0b };	/* no IDT: triple fault */
	static const unsigned char mmio[] = { 0x48, 0xc7, 0x04, 0x25, 0, 0, 0, 0x20, 1, 0, 0, 0 };
	/* out %al,$0x80; jmp back: runs forever */
	static const unsigned char loop[] = { 0xe6, 0x80, 0xeb, 0xfc };
	enum kvmvm_stop why;
	char *buf = NULL;
	size_t blen;
	FILE *f;
	struct kvmvm *v;

	v = boot(ud2, sizeof(ud2), &buf, &blen, &f);
	ck_ok(kvmvm_run(v, 100, &why));
	ck_assert_int_eq(why, KVMVM_SHUTDOWN);
	fclose(f);
	free(buf);
	kvmvm_destroy(v);

	/* movq $1, 0x20000000: beyond RAM, an MMIO exit nobody handles. */
	v = boot(mmio, sizeof(mmio), &buf, &blen, &f);
	ck_err(kvmvm_run(v, 100, &why), GP_ERR_UNSUPPORTED, "MMIO write of 8 bytes at 0x20000000");
	fclose(f);
	free(buf);
	kvmvm_destroy(v);

	v = boot(loop, sizeof(loop), &buf, &blen, &f);
	ck_err(kvmvm_run(v, 500, &why), GP_ERR_LIMIT, "still running after 500 exits");
	fclose(f);
	free(buf);
	kvmvm_destroy(v);
}
END_TEST

START_TEST(bad_input)
{
	struct kvmvm *v;
	static const unsigned char hlt = 0xf4;

	ck_err(kvmvm_create(1u << 20, 1, &v), GP_ERR_INVAL, "between 2 MiB and 64 GiB");
	ck_err(kvmvm_create((4u << 20) + 1, 1, &v), GP_ERR_INVAL, "multiple of 4 KiB");
	ck_err(kvmvm_create(4u << 20, 0, &v), GP_ERR_INVAL, "vCPUs");
	ck_err(kvmvm_create(4u << 20, 99, &v), GP_ERR_INVAL, "vCPUs");
	ck_ok(kvmvm_create(4u << 20, 1, &v));
	ck_err(kvmvm_load_flat64(v, &hlt, 1, 8u << 20), GP_ERR_INVAL, "does not fit");
	kvmvm_destroy(v);
}
END_TEST

/* The control socket: our QEMU target backend drives our own VMM, as it
 * drives QEMU (one client serves both). */
/* Every vCPU counts in its own word: rax = 0x200000 + 8 * rdi. */
static const unsigned char counter_code[] = {
	0x48, 0xc7, 0xc0, 0, 0, 0x20, 0,	/* mov $0x200000, %rax */
	0x48, 0x8d, 0x04, 0xf8,			/* lea (%rax,%rdi,8), %rax */
	0x48, 0xff, 0x00,			/* 1: incq (%rax) */
	0xeb, 0xfb,				/* jmp 1b */
};

static void control_socket(int nr)
{
	const unsigned char *code = counter_code;
	char path[64], spec[96];
	struct gdbsrv *srv;
	struct tgt_regs r;
	struct tgt *t;
	struct kvmvm *v;
	uint64_t c1, c2, c3, word = 0x1122334455667788ull;
	struct stat st;

	snprintf(path, sizeof(path), "/tmp/gp-vmm-%d.sock", (int)getpid());
	ck_ok(kvmvm_create(4u << 20, nr, &v));
	ck_ok(kvmvm_load_flat64(v, code, sizeof(counter_code), 0x100000));
	ck_ok(kvmvm_start(v));
	ck_ok(gdbsrv_start(v, path, &srv));
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	snprintf(spec, sizeof(spec), "qemu:gdb=%s", path);
	ck_ok(tgt_open(spec, &t));
	ck_assert_int_eq(t->nr_vcpus, nr);
	usleep(100000);
	ck_ok(tgt_pause(t));
	ck_ok(tgt_read_phys(t, 0x200000, &c1, 8));
	usleep(100000);
	ck_ok(tgt_read_phys(t, 0x200000, &c2, 8));
	ck_assert_msg(c1 == c2 && c1 > 0, "paused guest moved: %llu -> %llu", (unsigned long long)c1,
		      (unsigned long long)c2);
	for (int i = 0; i < nr; i++) {
		uint64_t ci;

		ck_ok(tgt_get_regs(t, i, &r));
		ck_assert_msg(r.rip >= 0x10000b && r.rip < 0x100010, "vCPU %d rip 0x%llx", i,
			      (unsigned long long)r.rip);
		ck_assert_uint_eq(r.rax, 0x200000 + 8ull * (uint64_t)i);
		ck_assert(r.efer & 0x400);
		ck_ok(tgt_read_phys(t, 0x200000 + 8ull * (uint64_t)i, &ci, 8));
		ck_assert_msg(ci > 0, "vCPU %d never ran", i);
	}
	ck_ok(tgt_write_code(t, 0x300000, &word, 8));
	ck_assert(!memcmp(v->mem + 0x300000, &word, 8));
	fprintf(stderr, "own VMM, %d vCPU%s: pause latency %.3f ms (kick to every vCPU out of KVM_RUN)\n",
		nr, nr == 1 ? "" : "s", v->last_pause_ns / 1e6);
	ck_ok(tgt_resume(t));
	usleep(100000);
	ck_ok(tgt_pause(t));
	ck_ok(tgt_read_phys(t, 0x200000, &c3, 8));
	ck_assert_msg(c3 > c2, "resumed guest did not run: %llu -> %llu", (unsigned long long)c2,
		      (unsigned long long)c3);
	ck_err(tgt_read_phys(t, 8u << 20, &c3, 8), GP_ERR_FAULT, "cannot read");
	ck_ok(tgt_resume(t));
	tgt_close(t);	/* detach: the guest keeps running */
	memcpy(&c1, v->mem + 0x200000, 8);
	usleep(100000);
	memcpy(&c2, v->mem + 0x200000, 8);
	ck_assert_msg(c2 > c1, "guest stopped after detach");
	gdbsrv_stop(srv);
	kvmvm_destroy(v);
}

START_TEST(control_socket_1)
{
	control_socket(1);
}
END_TEST

START_TEST(control_socket_4)
{
	control_socket(4);
}
END_TEST

/* Serial input: the guest polls LSR for data, reads a byte, writes it
 * back plus one, halts. */
START_TEST(serial_input)
{
	static const unsigned char code[] = {
		0x66, 0xba, 0xfd, 0x03,		/* mov $0x3fd, %dx */
		0xec,				/* 1: in (%dx), %al */
		0xa8, 0x01,			/* test $1, %al */
		0x74, 0xfb,			/* jz 1b */
		0x66, 0xba, 0xf8, 0x03,		/* mov $0x3f8, %dx */
		0xec, 0xfe, 0xc0, 0xee,		/* in; inc %al; out */
		0xf4,				/* hlt */
	};
	enum kvmvm_stop why;
	char *buf = NULL;
	size_t blen;
	FILE *f;
	struct kvmvm *v = boot(code, sizeof(code), &buf, &blen, &f);

	ck_assert_uint_eq(kvmvm_serial_rx(v, (const uint8_t *)"A", 1), 1);
	ck_ok(kvmvm_run(v, 1000, &why));
	fclose(f);
	ck_assert_int_eq(why, KVMVM_HALTED);
	ck_assert_str_eq(buf, "B");
	free(buf);
	kvmvm_destroy(v);
}
END_TEST

/* The UART at register level, as Linux's 8250 driver probes and drives
 * it (drivers/tty/serial/8250/8250_port.c: autoconfig, THRE test). */
START_TEST(uart_registers)
{
	struct kvmvm *v = calloc(1, sizeof(*v));
	char *buf = NULL;
	size_t blen;
	uint8_t b;

	ck_assert(v);
	v->serial = open_memstream(&buf, &blen);
	kvmvm_serial_init(v);
#define OUT(reg, val) do { b = (val); kvmvm_serial_io(v, 0x3f8 + (reg), true, &b); } while (0)
#define IN(reg) (kvmvm_serial_io(v, 0x3f8 + (reg), false, &b), b)
	OUT(1, 0);
	ck_assert_uint_eq(IN(1), 0);
	OUT(1, 0x0f);
	ck_assert_uint_eq(IN(1) & 0x0f, 0x0f);
	OUT(1, 0);
	OUT(4, 0x1a);				/* loopback, RTS, OUT2 */
	ck_assert_uint_eq(IN(6) & 0xf0, 0x90);	/* CTS, DCD */
	OUT(0, 'x');				/* loops back, not out */
	ck_assert_uint_eq(IN(5) & 1, 1);
	ck_assert_uint_eq(IN(0), 'x');
	ck_assert_uint_eq(IN(5) & 1, 0);
	OUT(4, 0x0b);
	OUT(2, 0x07);				/* FIFO on, clear */
	ck_assert_uint_eq(IN(2), 0xc1);		/* FIFO, no interrupt */
	OUT(1, 0x02);				/* THRI: pending at once */
	ck_assert_uint_eq(IN(2), 0xc2);
	ck_assert_uint_eq(IN(2), 0xc1);		/* reading IIR acknowledged it */
	OUT(1, 0x03);
	ck_assert_uint_eq(kvmvm_serial_rx(v, (const uint8_t *)"hi", 2), 2);
	ck_assert_uint_eq(IN(2), 0xc4);		/* data beats THRE */
	ck_assert_uint_eq(IN(0), 'h');
	ck_assert_uint_eq(IN(0), 'i');
	ck_assert_uint_eq(IN(2), 0xc1);
	OUT(3, 0x83);				/* DLAB: divisor latch */
	OUT(0, 1);
	OUT(1, 0);
	ck_assert_uint_eq(IN(0), 1);
	OUT(3, 0x03);
	OUT(0, 'o');
	OUT(0, 'k');
	ck_assert_uint_eq(IN(5) & 0x60, 0x60);	/* THRE, TEMT */
#undef OUT
#undef IN
	fclose(v->serial);
	ck_assert_str_eq(buf, "ok");
	free(buf);
	free(v);
}
END_TEST

/* A Linux-style VM (irqchip, threads) stops as one machine: an exit the
 * VMM does not handle on vCPU 0 stops every vCPU with the registers in
 * the error; a keyboard-controller reset ends it as a reboot. */
START_TEST(linux_vm_stops)
{
	static const unsigned char mmio[] = { 0x48, 0xc7, 0x04, 0x25, 0, 0, 0, 0x20, 1, 0, 0, 0 };
	static const unsigned char reset[] = { 0xb0, 0xfe, 0xe6, 0x64, 0xeb, 0xfe };
	struct kvmvm *v;

	ck_ok(kvmvm_create_linux(64u << 20, 2, &v));
	ck_ok(kvmvm_load_flat64(v, mmio, sizeof(mmio), 0x100000));
	ck_ok(kvmvm_start(v));
	ck_assert_int_eq(kvmvm_wait(v, 20000), KVMVM_FAILED);
	ck_assert_msg(v->err && strstr(v->err->msg, "MMIO write of 8 bytes at 0x20000000") &&
			      strstr(v->err->msg, "rip 0x10000"),
		      "error: %s", v->err ? v->err->msg : "none");
	for (int i = 0; i < v->nr_vcpus; i++)
		ck_assert_msg(v->vcpu[i].paused, "vCPU %d still runs", i);
	kvmvm_destroy(v);

	/* vCPU 0 fails at its first instruction while the others' threads
	 * are still being created: it kicks them by thread id, so no id may
	 * be unset then (CI once crashed here). 40 times, 8 vCPUs. */
	for (int n = 0; n < 40; n++) {
		ck_ok(kvmvm_create_linux(16u << 20, 8, &v));
		ck_ok(kvmvm_load_flat64(v, mmio, sizeof(mmio), 0x100000));
		ck_ok(kvmvm_start(v));
		ck_assert_int_eq(kvmvm_wait(v, 20000), KVMVM_FAILED);
		kvmvm_destroy(v);
	}

	ck_ok(kvmvm_create_linux(64u << 20, 1, &v));
	ck_ok(kvmvm_load_flat64(v, reset, sizeof(reset), 0x100000));
	ck_ok(kvmvm_start(v));
	ck_assert_int_eq(kvmvm_wait(v, 20000), KVMVM_RESET);
	ck_assert(!v->err);
	kvmvm_destroy(v);
}
END_TEST

static const char *kernel_path(void)
{
	static char path[512];

	snprintf(path, sizeof(path), "%s/kernels/amd64/vmlinuz", rig_build_dir());
	return path;
}

static const char *initrd_path(void)
{
	static char path[512];

	snprintf(path, sizeof(path), "%s/guest/initramfs.cpio.gz", rig_build_dir());
	return path;
}

static uint64_t rd64(const uint8_t *p) { uint64_t x; memcpy(&x, p, 8); return x; }
static uint32_t rd32(const uint8_t *p) { uint32_t x; memcpy(&x, p, 4); return x; }

/* What vmm run puts in guest memory for a real Debian kernel, checked on
 * this machine's KVM (which cannot run it far): zero page, e820 without
 * the inject slot, command line, initrd, MP table, entry registers; then
 * the vmm: target over the control socket, RAM through the memfd. */
START_TEST(linux_layout)
{
	static const char cmdline[] = "console=ttyS0 guestpatch=layout";
	struct kvmvm_kernel *k;
	struct kvmvm *v;
	struct gdbsrv *srv;
	struct tgt *t;
	struct tgt_regs r;
	const uint8_t *zp;
	uint8_t sum = 0, *mp, *inj;
	char path[64], spec[96], got[sizeof(cmdline)];
	uint32_t rd, rdlen;
	int ram = 0;
	FILE *f;
	long flen;
	uint8_t *file;

	ck_ok(kvmvm_kernel_open(kernel_path(), initrd_path(), cmdline, &k));
	ck_ok(kvmvm_create_linux(256u << 20, 2, &v));
	ck_ok(kvmvm_load_linux(v, k));
	kvmvm_kernel_free(k);
	zp = v->mem + 0x7000;
	ck_assert(!memcmp(zp + 0x202, "HdrS", 4));
	ck_assert_uint_eq(zp[0x210], 0xff);
	ck_assert_uint_eq(rd32(zp + 0x228), 0x20000);
	ck_assert_str_eq((char *)v->mem + 0x20000, cmdline);
	/* e820: RAM below 640K, from 1 MiB to the end, nothing at the
	 * inject slot, nothing in guestpatch's region reserved. */
	ck_assert_uint_ge(zp[0x1e8], 4);
	for (int i = 0; i < zp[0x1e8]; i++) {
		const uint8_t *e = zp + 0x2d0 + 20 * i;
		uint64_t a = rd64(e), len = rd64(e + 8);

		ck_assert_msg(a + len <= KVMVM_INJECT_PA || a >= KVMVM_INJECT_PA + KVMVM_INJECT_SIZE,
			      "e820 entry %d covers the inject slot", i);
		if (rd32(e + 16) == 1) {
			ram++;
			if (a == 0)
				ck_assert_uint_ge(len, 0x90000);
			if (a == 0x100000)
				ck_assert_uint_eq(a + len, 256u << 20);
		}
	}
	ck_assert_int_eq(ram, 2);
	/* initrd where the zero page says, byte for byte. */
	rd = rd32(zp + 0x218);
	rdlen = rd32(zp + 0x21c);
	f = fopen(initrd_path(), "rb");
	ck_assert(f);
	fseek(f, 0, SEEK_END);
	flen = ftell(f);
	rewind(f);
	ck_assert_uint_eq(rdlen, (uint32_t)flen);
	ck_assert_uint_eq(rd % 4096, 0);
	ck_assert_uint_le(rd + rdlen, 256u << 20);
	file = malloc((size_t)flen);
	ck_assert(file && fread(file, 1, (size_t)flen, f) == (size_t)flen);
	ck_assert(!memcmp(v->mem + rd, file, (size_t)flen));
	free(file);
	fclose(f);
	/* MP table: floating pointer and table checksums, one processor
	 * entry per vCPU. */
	mp = v->mem + 0xf0000;
	ck_assert(!memcmp(mp, "_MP_", 4));
	for (int i = 0; i < 16; i++)
		sum += mp[i];
	ck_assert_uint_eq(sum, 0);
	mp = v->mem + rd32(mp + 4);
	ck_assert(!memcmp(mp, "PCMP", 4));
	sum = 0;
	for (unsigned i = 0; i < (unsigned)(mp[4] | mp[5] << 8); i++)
		sum += mp[i];
	ck_assert_uint_eq(sum, 0);
	ck_assert_uint_eq(mp[44], 0);		/* processor */
	ck_assert_uint_eq(mp[44 + 3], 3);	/* enabled, BSP */
	ck_assert_uint_eq(mp[64], 0);
	ck_assert_uint_eq(mp[64 + 3], 1);	/* enabled AP */
	/* The inject slot is memory of its own. */
	inj = kvmvm_gpa(v, KVMVM_INJECT_PA, 4096);
	ck_assert(inj && (inj < v->mem || inj >= v->mem + v->mem_size));
	ck_assert(!kvmvm_gpa(v, KVMVM_INJECT_PA + KVMVM_INJECT_SIZE, 1));
	ck_assert(!kvmvm_gpa(v, 256u << 20, 1));
	ck_ok(kvmvm_get_regs(v, 0, &r));
	ck_assert_uint_eq(r.rip, 0x100200);
	ck_assert_uint_eq(r.rsi, 0x7000);
	ck_assert(r.efer & 0x400);

	/* Run it (slowly, on this KVM) and look through vmm:SOCKET. */
	snprintf(path, sizeof(path), "/tmp/gp-vmm-linux-%d.sock", (int)getpid());
	ck_ok(kvmvm_start(v));
	ck_ok(gdbsrv_start(v, path, &srv));
	snprintf(spec, sizeof(spec), "vmm:%s", path);
	ck_ok(tgt_open(spec, &t));
	ck_assert_int_eq(t->nr_vcpus, 2);
	ck_assert_uint_eq(t->ram_top, 256u << 20);
	ck_ok(tgt_pause(t));
	ck_ok(tgt_read_phys(t, 0x20000, got, sizeof(got)));
	ck_assert_str_eq(got, cmdline);
	ck_assert_msg(t->stats.reads_fast == 1 && t->stats.reads_slow == 0,
		      "RAM not mapped through the memfd (%llu fast, %llu slow)",
		      (unsigned long long)t->stats.reads_fast, (unsigned long long)t->stats.reads_slow);
	ck_ok(tgt_get_regs(t, 0, &r));
	ck_assert_msg(r.rip != 0x100200, "vCPU 0 never ran");
	ck_ok(tgt_resume(t));
	tgt_close(t);
	gdbsrv_stop(srv);
	kvmvm_destroy(v);
}
END_TEST

/* The PVH entry for a vmlinux ELF: segments at their physical addresses,
 * hvm_start_info with the command line, initrd module and memory map
 * (without the inject slot), vCPU 0 in 32-bit protected mode. */
START_TEST(pvh_layout)
{
	struct kvmvm_kernel *k;
	struct kvmvm *v;
	struct tgt_regs r;
	const uint8_t *si, *mod, *mm;
	char path[512];
	uint32_t n;

	snprintf(path, sizeof(path), "%s/guest/vmlinux", rig_build_dir());
	ck_ok(kvmvm_kernel_open(path, initrd_path(), "console=ttyS0 pvh", &k));
	ck_ok(kvmvm_create_linux(256u << 20, 1, &v));
	ck_ok(kvmvm_load_linux(v, k));
	kvmvm_kernel_free(k);
	si = v->mem + 0x7000;
	ck_assert_uint_eq(rd32(si), 0x336ec578);
	ck_assert_uint_eq(rd32(si + 4), 1);
	ck_assert_uint_eq(rd32(si + 12), 1);
	ck_assert_str_eq((char *)v->mem + rd64(si + 24), "console=ttyS0 pvh");
	mod = v->mem + rd64(si + 16);
	ck_assert_uint_ge(rd64(mod), 16u << 20);
	ck_assert(!memcmp(v->mem + rd64(mod), "\x1f\x8b", 2));	/* the gzip'd initrd */
	mm = v->mem + rd64(si + 40);
	n = rd32(si + 48);
	ck_assert_uint_ge(n, 4);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t a = rd64(mm + 24 * i), len = rd64(mm + 24 * i + 8);

		ck_assert(a + len <= KVMVM_INJECT_PA || a >= KVMVM_INJECT_PA + KVMVM_INJECT_SIZE);
	}
	/* Debian's vmlinux: text at 16 MiB, the kernel's own bytes there. */
	ck_assert(rd64(v->mem + (16u << 20)) != 0);
	ck_ok(kvmvm_get_regs(v, 0, &r));
	ck_assert_uint_eq(r.rbx, 0x7000);
	ck_assert_uint_ge(r.rip, 16u << 20);
	ck_assert_uint_eq(r.cr0 & 0x80000001u, 1);	/* protected mode, no paging */
	ck_assert_uint_eq(r.efer, 0);
	kvmvm_destroy(v);
}
END_TEST

/* vmm run with bad input: a clear error, exit 1, and no VM (its control
 * socket never appears). */
static void run_fails(const char *prefix, const char *args, const char *needle)
{
	char cmd[10000], sock[64], errf[64], *err;
	struct stat st;
	FILE *f;
	int rc;

	snprintf(sock, sizeof(sock), "/tmp/gp-run-%d.sock", (int)getpid());
	snprintf(errf, sizeof(errf), "/tmp/gp-run-%d.err", (int)getpid());
	unlink(sock);
	snprintf(cmd, sizeof(cmd), "%s %s/vmm run --gdb %s %s </dev/null >/dev/null 2>%s", prefix,
		 rig_build_dir(), sock, args, errf);
	rc = system(cmd);
	f = fopen(errf, "r");
	ck_assert(f);
	err = calloc(1, 4096);
	ck_assert(fread(err, 1, 4095, f) < 4095);
	fclose(f);
	unlink(errf);
	ck_assert_msg(WIFEXITED(rc) && WEXITSTATUS(rc) == 1, "%s: exit %d, stderr %s", cmd, rc, err);
	ck_assert_msg(strstr(err, needle), "%s: stderr '%s' lacks '%s'", cmd, err, needle);
	ck_assert_msg(stat(sock, &st) != 0, "%s left a control socket", cmd);
	free(err);
}

START_TEST(run_bad_input)
{
	char args[8192], dir[64], kern[128], tool[256], cmd[1024];
	const char *k = kernel_path(), *rd = initrd_path();

	snprintf(args, sizeof(args), "--kernel /nonexistent/vmlinuz");
	run_fails("", args, "cannot read kernel /nonexistent/vmlinuz");
	run_fails("", "--kernel /etc/passwd", "not a Linux kernel");
	snprintf(args, sizeof(args), "--kernel %s/vmm", rig_build_dir());
	run_fails("", args, "ELF file");
	snprintf(args, sizeof(args), "--kernel %s --initrd /nonexistent.cpio", k);
	run_fails("", args, "cannot read initrd /nonexistent.cpio");
	snprintf(args, sizeof(args), "--kernel %s --initrd %s --mem 64M", k, rd);
	run_fails("", args, "too little for this kernel and initrd");
	snprintf(args, sizeof(args), "--kernel %s --append '", k);
	for (int i = 0; i < 3000; i++)
		strcat(args, "a");
	strcat(args, "'");
	run_fails("", args, "command line is 3000 bytes");
	/* /dev/kvm missing: an empty /dev in a private mount namespace. */
	snprintf(args, sizeof(args), "--kernel %s", k);
	snprintf(cmd, sizeof(cmd), "unshare -m sh -c 'mount -t tmpfs none /dev && exec \"$0\" \"$@\"'");
	run_fails(cmd, args, "no KVM here");
	/* /dev/kvm not permitted: as nobody, with a copy of the tool and the
	 * kernel it may read. */
	snprintf(dir, sizeof(dir), "/tmp/gp-run-XXXXXX");
	ck_assert(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd), "chmod 755 %s && cp %s %s/vmlinuz && cp %s/vmm %s/vmm && chmod 644 %s/vmlinuz",
		 dir, k, dir, rig_build_dir(), dir, dir);
	ck_assert(system(cmd) == 0);
	snprintf(kern, sizeof(kern), "--kernel %s/vmlinuz", dir);
	snprintf(tool, sizeof(tool), "setpriv --reuid=65534 --regid=65534 --clear-groups sh -c 'shift; exec %s/vmm \"$@\"' sh",
		 dir);
	/* run_fails puts $GP_BUILD/vmm after the prefix; sh -c shifts it away
	 * and the tool copy runs instead (nobody cannot read the build dir's
	 * private files, the copy is world-readable). */
	run_fails(tool, kern, "are you allowed to use it");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert(system(cmd) == 0);
}
END_TEST

static TCase *kvmvm_tcase(void)
{
	TCase *tc = tcase_create("kvmvm");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, serial_and_halt);
	tcase_add_test(tc, stops_cleanly);
	tcase_add_test(tc, bad_input);
	tcase_add_test(tc, control_socket_1);
	tcase_add_test(tc, control_socket_4);
	tcase_add_test(tc, serial_input);
	tcase_add_test(tc, uart_registers);
	tcase_add_test(tc, linux_vm_stops);
	tcase_add_test(tc, linux_layout);
	tcase_add_test(tc, pvh_layout);
	tcase_add_test(tc, run_bad_input);
	return tc;
}
GP_TCASE(kvmvm_tcase)
