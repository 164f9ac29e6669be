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
#include <unistd.h>

#include "gp_check.h"
#include "kvmvm.h"
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

static TCase *kvmvm_tcase(void)
{
	TCase *tc = tcase_create("kvmvm");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, serial_and_halt);
	tcase_add_test(tc, stops_cleanly);
	tcase_add_test(tc, bad_input);
	tcase_add_test(tc, control_socket_1);
	tcase_add_test(tc, control_socket_4);
	return tc;
}
GP_TCASE(kvmvm_tcase)
