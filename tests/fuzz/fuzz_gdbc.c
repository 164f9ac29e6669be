// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_gdbc: the GDB remote protocol client (target/gdbc.c) reading a
 * hostile stub's byte stream. The input is everything the stub sends; the
 * client runs fz_gdbc_script() (handshake, registers, memory, continue,
 * stop, detach) over a socketpair whose other end plays the input and
 * drops what the client sends. Also the pure helpers on the raw input.
 */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char out[GDBC_MAX_PACKET];
	struct fz_pipe p;
	struct gdbc *g;

	gdbc_decode((const char *)data, size, out, sizeof(out));
	g = calloc(1, sizeof(*g));
	if (!g || !(g->buf = malloc(GDBC_MAX_PACKET + 1)))
		abort();
	g->timeout_ms = 10000;	/* never reached: the peer never stalls */
	g->packet_size = 4096;
	fz_pipe_start(&p, data, size);
	g->fd = p.fd[1];
	fz_gdbc_script(g);
	gdbc_close(g);
	fz_pipe_end(&p);
	return 0;
}
