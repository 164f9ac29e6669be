// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_gdbsrv: the monitor's control socket (vmm/monitor/gdbsrv.c) reading
 * a hostile client's byte stream. The input is everything the client
 * sends; gdbsrv_session() serves it over a socketpair for a VM with 64 KiB
 * of RAM and no vCPUs, and returns when the input ends (the client hangs
 * up). Its replies are dropped.
 */
#include "fuzz.h"
#include "kvmvm.h"

#define RAM (64u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kvmvm v;
	static uint8_t *ram;
	struct fz_pipe p;

	if (!ram) {
		ram = malloc(RAM);
		if (!ram)
			abort();
		pthread_mutex_init(&v.mu, NULL);
		pthread_cond_init(&v.cv, NULL);
	}
	for (size_t i = 0; i < RAM; i++)
		ram[i] = (uint8_t)i;
	v.mem = ram;
	v.mem_size = v.low_size = RAM;
	v.mem_fd = -1;
	fz_pipe_start(&p, data, size);
	gdbsrv_session(&v, p.fd[1]);
	close(p.fd[1]);
	fz_pipe_end(&p);
	return 0;
}
