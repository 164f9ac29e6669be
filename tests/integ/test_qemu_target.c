// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The QEMU backend (target/tgt_qemu.c over target/gdbc.c) on a real guest: attach
 * leaves it running, one vCPU per gdb thread, pause really stops it and
 * resume really lets it go on (guest RAM frozen while paused, changing
 * after), vCPU registers of an idle guest, the same bytes through the RAM
 * file and through the gdbstub in physical mode, and a code write through
 * the gdbstub that reads back and is undone.  Prints what it measured
 * (pause and resume latency, gdbstub read throughput).
 *
 * QEMU's gdbstub serves one client at a time, so every test opens and
 * closes its own target; the guest is shared (booted in an unchecked
 * fixture, in the runner process, since Check forks each test).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gp_check.h"
#include "rig/rig.h"
#include "target.h"

#define CPUS	    2
#define MEM_MB	    256
#define KERNEL_HALF 0xffff800000000000ull /* 4-level; also in LA57's */
#define SIGN_BIT    (1ull << 63)	  /* kernel addresses, 4- or 5-level */

static struct rig *r;

static void up(void)
{
	struct rig_opts o = {.cpus = CPUS, .mem_mb = MEM_MB};
	char *msg = NULL;

	r = rig_boot(&o, &msg);
	ck_assert_msg(r, "boot: %s", msg ? msg : "?");
}

static void down(void)
{
	rig_kill(r);
	r = NULL;
}

/* The guest's RAM file, from the rig's target spec ("...,mem=PATH,..."),
 * mapped read-only: our own view, independent of the backend's. */
static const uint8_t *ram_file(size_t *len)
{
	const char *m = strstr(rig_target(r), "mem=");
	char path[256];
	struct stat st;
	void *p;
	int fd;

	ck_assert(m);
	snprintf(path, sizeof(path), "%.*s", (int)strcspn(m + 4, ","), m + 4);
	fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	*len = (size_t)st.st_size;
	p = mmap(NULL, *len, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	ck_assert(p != MAP_FAILED);
	return p;
}

static void alive(const char *when)
{
	char *out = NULL;

	ck_assert_msg(rig_exec(r, "echo al''ive", &out, 30) == 0, "guest does not answer %s", when);
	ck_assert_msg(out && strstr(out, "alive"), "guest printed '%s' %s", out ? out : "", when);
	free(out);
}

START_TEST(attach)
{
	struct tgt *t;

	ck_ok(tgt_open(rig_target(r), &t));
	ck_assert_int_eq(t->nr_vcpus, CPUS);
	ck_assert_uint_eq(t->ram_top, (uint64_t)MEM_MB << 20);
	ck_assert(!t->paused);
	/* QEMU stopped the guest when we connected; open let it go on. */
	alive("while a target is open");
	tgt_close(t);
	alive("after close");

	/* Without mem= and qmp= the backend knows nothing of RAM. */
	ck_ok(tgt_open(rig_target_nomem(r), &t));
	ck_assert_int_eq(t->nr_vcpus, CPUS);
	ck_assert_ptr_null(tgt_map_phys(t, 0x100000, 4096));
	tgt_close(t);

	/* One gdb client at a time: closing really let go of the stub. */
	ck_ok(tgt_open(rig_target(r), &t));
	tgt_close(t);
}
END_TEST

START_TEST(registers_of_idle_guest)
{
	struct tgt_regs regs;
	struct tgt *t;
	int in_kernel = 0;
	uint64_t t0;

	ck_ok(tgt_open(rig_target(r), &t));
	ck_err(tgt_get_regs(t, 0, &regs), GP_ERR_BUSY, "paused");
	ck_ok(tgt_pause(t));
	for (int v = 0; v < t->nr_vcpus; v++) {
		t0 = gp_now_ns();
		ck_ok(tgt_get_regs(t, v, &regs));
		if (v == 0)
			fprintf(stderr, "qemu_target: get_regs (Hg+g) %.3f ms\n",
				(double)(gp_now_ns() - t0) / 1e6);
		ck_assert_msg(regs.cr3, "vCPU %d: cr3 is 0", v);
		ck_assert_msg((regs.cr0 & 0x80000001) == 0x80000001, "vCPU %d: cr0 0x%llx", v,
			      (unsigned long long)regs.cr0);
		ck_assert_msg(regs.efer & 0x400, "vCPU %d: efer 0x%llx (no LMA)", v,
			      (unsigned long long)regs.efer);
		ck_assert_msg(regs.rflags & 2, "vCPU %d: rflags 0x%llx", v,
			      (unsigned long long)regs.rflags);
		/* The kernel's gs base is a per-cpu area in the direct map
		 * (0xff11... with LA57, which the rig's -cpu max enables),
		 * whichever of gs_base/k_gs_base holds it right now. */
		ck_assert_msg((regs.gs_base | regs.kernel_gs_base) & SIGN_BIT,
			      "vCPU %d: gs_base 0x%llx k_gs_base 0x%llx", v,
			      (unsigned long long)regs.gs_base,
			      (unsigned long long)regs.kernel_gs_base);
		if (regs.rip >= KERNEL_HALF)
			in_kernel++;
		fprintf(stderr, "qemu_target: vCPU %d rip %016llx rsp %016llx cr3 %llx cs %x\n", v,
			(unsigned long long)regs.rip, (unsigned long long)regs.rsp,
			(unsigned long long)regs.cr3, regs.cs);
	}
	ck_assert_msg(in_kernel > 0, "no vCPU of an idle guest runs kernel code");
	/* Cached for the pause: the same values again, without the stub. */
	{
		struct tgt_regs again;

		t0 = gp_now_ns();
		ck_ok(tgt_get_regs(t, 0, &again));
		ck_assert_uint_lt(gp_now_ns() - t0, 1000000);
	}
	ck_ok(tgt_resume(t));
	tgt_close(t);
}
END_TEST

START_TEST(pause_stops_resume_runs)
{
	static const char spin[] =
		"sh -c 'while :; do :; done' >/dev/null 2>&1 & echo $! > /tmp/spin.pid";
	uint64_t stop_sum = 0, stop_max = 0, res_sum = 0, res_max = 0;
	size_t len, changed = 0;
	const uint8_t *ram = ram_file(&len);
	uint8_t *copy = malloc(len);
	struct tgt *t;
	const int cycles = 50;

	ck_assert(copy);
	/* Open first: it lets the guest run even if an earlier test died
	 * with the guest paused (QEMU does not resume on hang-up). */
	ck_ok(tgt_open(rig_target(r), &t));
	/* Something that writes memory all the time, so that "frozen" and
	 * "running" are told apart even on a tickless idle kernel. */
	ck_assert_int_eq(rig_exec(r, spin, NULL, 30), 0);

	ck_ok(tgt_pause(t));
	memcpy(copy, ram, len);
	usleep(300000);
	ck_assert_msg(!memcmp(copy, ram, len), "guest RAM changed while paused");
	ck_ok(tgt_resume(t));
	usleep(300000);
	for (size_t i = 0; i < len; i += 4096)
		changed += !!memcmp(copy + i, ram + i, 4096);
	ck_assert_msg(changed > 0, "guest RAM frozen after resume");
	fprintf(stderr, "qemu_target: %zu pages changed in 300 ms after resume\n", changed);

	for (int i = 0; i < cycles; i++) {
		ck_ok(tgt_pause(t));
		ck_ok(tgt_resume(t));
		stop_sum += t->stats.last_stop_ns;
		res_sum += t->stats.last_resume_ns;
		if (t->stats.last_stop_ns > stop_max)
			stop_max = t->stats.last_stop_ns;
		if (t->stats.last_resume_ns > res_max)
			res_max = t->stats.last_resume_ns;
		usleep(2000);
	}
	fprintf(stderr,
		"qemu_target: pause (0x03 -> stop reply) mean %.3f ms max %.3f ms; resume ('c') "
		"mean %.3f ms max %.3f ms (%d cycles, 1 spinning task)\n",
		(double)stop_sum / cycles / 1e6, (double)stop_max / 1e6,
		(double)res_sum / cycles / 1e6, (double)res_max / 1e6, cycles);
	ck_assert_uint_eq(t->stats.pauses, (uint64_t)cycles + 1);

	/* Closing while paused: close resumes (detach), the guest goes on. */
	ck_ok(tgt_pause(t));
	tgt_close(t);
	/* wait: reap it now, not while the shell reads the next command (see rig.h) */
	ck_assert_int_eq(rig_exec(r, "kill $(cat /tmp/spin.pid); wait; true", NULL, 30), 0);
	alive("after closing a paused target");
	munmap((void *)ram, len);
	free(copy);
}
END_TEST

START_TEST(ram_file_equals_gdbstub)
{
	const size_t big = 16u << 20;
	const uint64_t pa = 0x1000000; /* 16..32 MiB: plain RAM, mostly in use */
	size_t len;
	const uint8_t *ram = ram_file(&len);
	uint8_t *buf = malloc(big);
	const uint8_t *p;
	struct tgt *t;
	uint64_t t0, dt;

	ck_assert(buf);
	ck_assert_uint_ge(len, pa + big);

	/* Through the gdbstub only (a target without mem=). */
	ck_ok(tgt_open(rig_target_nomem(r), &t));
	ck_err(tgt_read_phys(t, pa, buf, 16), GP_ERR_BUSY, "paused");
	ck_ok(tgt_pause(t));
	t0 = gp_now_ns();
	ck_ok(tgt_read_phys(t, pa, buf, big));
	dt = gp_now_ns() - t0;
	fprintf(stderr, "qemu_target: gdbstub read of %zu MiB: %.3f s, %.1f MB/s\n", big >> 20,
		(double)dt / 1e9, (double)big / ((double)dt / 1e9) / 1e6);
	ck_assert_msg(!memcmp(buf, ram + pa, big),
		      "gdbstub and RAM file disagree on [0x%llx, +%zu)", (unsigned long long)pa,
		      big);
	/* Odd sizes and addresses, and page 0 and the last page of RAM.
	 * (Not [0xa0000, 0xc0000): there the guest, and so the gdbstub,
	 * sees the VGA window, 0xff, while the file has the RAM below it.) */
	ck_ok(tgt_read_phys(t, 0x9e001, buf, 4097));
	ck_assert(!memcmp(buf, ram + 0x9e001, 4097));
	ck_ok(tgt_read_phys(t, 0, buf, 4096));
	ck_assert(!memcmp(buf, ram, 4096));
	ck_ok(tgt_read_phys(t, len - 4096, buf, 4096));
	ck_assert(!memcmp(buf, ram + len - 4096, 4096));
	ck_ok(tgt_resume(t));
	tgt_close(t);

	/* The same target with its RAM file: map_phys and the gdbstub path
	 * (called as the op, which tgt_read_phys would skip) in one pause. */
	ck_ok(tgt_open(rig_target(r), &t));
	ck_ok(tgt_pause(t));
	p = tgt_map_phys(t, pa, big);
	ck_assert_ptr_nonnull(p);
	ck_ok(t->ops->read_phys(t, pa, buf, 1 << 20));
	ck_assert(!memcmp(buf, p, 1 << 20));
	ck_assert_ptr_null(tgt_map_phys(t, len - 4096, 8192));
	/* Beyond RAM the stub would read devices or zeros: refused. */
	ck_err(tgt_read_phys(t, len - 4096, buf, 8192), GP_ERR_FAULT, "not guest RAM");
	ck_err(tgt_read_phys(t, 0xfec00000, buf, 16), GP_ERR_FAULT, "not guest RAM");
	ck_ok(tgt_resume(t));
	/* map_phys needs no pause: memory speed while the guest runs. */
	t0 = gp_now_ns();
	ck_ok(tgt_read_phys(t, pa, buf, big));
	dt = gp_now_ns() - t0;
	fprintf(stderr, "qemu_target: RAM file read of %zu MiB: %.1f MB/s\n", big >> 20,
		(double)big / ((double)dt / 1e9) / 1e6);
	tgt_close(t);
	munmap((void *)ram, len);
	free(buf);
}
END_TEST

START_TEST(code_write_and_undo)
{
	const uint64_t pa = 0x30000; /* a page the 6.1 kernel leaves alone */
	uint8_t orig[4], now[4], patch[4];
	const uint8_t *p;
	struct tgt *t;

	ck_ok(tgt_open(rig_target(r), &t));
	ck_err(tgt_write_code(t, pa, "x", 1), GP_ERR_BUSY, "paused");
	ck_ok(tgt_pause(t));
	p = tgt_map_phys(t, pa, sizeof(orig));
	ck_assert_ptr_nonnull(p);
	ck_ok(t->ops->read_phys(t, pa, orig, sizeof(orig)));
	for (size_t i = 0; i < sizeof(orig); i++)
		patch[i] = (uint8_t)~orig[i];
	/* One byte, then the rest: both must land exactly. */
	ck_ok(tgt_write_code(t, pa + 1, patch + 1, 1));
	ck_ok(t->ops->read_phys(t, pa, now, sizeof(now)));
	ck_assert(now[0] == orig[0] && now[1] == patch[1] && now[2] == orig[2]);
	ck_assert(p[1] == patch[1]); /* the RAM file sees gdbstub writes */
	ck_ok(tgt_write_code(t, pa, patch, sizeof(patch)));
	ck_assert(!memcmp(p, patch, sizeof(patch)));
	ck_ok(tgt_write_code(t, pa, orig, sizeof(orig)));
	ck_ok(t->ops->read_phys(t, pa, now, sizeof(now)));
	ck_assert(!memcmp(now, orig, sizeof(orig)));
	ck_assert(!memcmp(p, orig, sizeof(orig)));
	ck_ok(tgt_resume(t));
	/* Data writes go to the RAM file and need no pause. */
	ck_ok(tgt_write_phys(t, pa, patch, 2));
	ck_assert(!memcmp(p, patch, 2));
	ck_ok(tgt_write_phys(t, pa, orig, 2));
	tgt_close(t);
	alive("after code writes");
}
END_TEST

static TCase *qemu_target_tcase(void)
{
	TCase *tc = tcase_create("qemu_target");

	tcase_set_timeout(tc, 300);
	tcase_add_unchecked_fixture(tc, up, down);
	tcase_add_test(tc, attach);
	tcase_add_test(tc, registers_of_idle_guest);
	tcase_add_test(tc, pause_stops_resume_runs);
	tcase_add_test(tc, ram_file_equals_gdbstub);
	tcase_add_test(tc, code_write_and_undo);
	return tc;
}

GP_TCASE(qemu_target_tcase)
