/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * gdbc.h - a GDB remote serial protocol client, just enough to drive
 * QEMU's gdbstub (and our own VMM's, later): packets with checksums,
 * escapes and run-length decoding, no-ack mode, stop/continue, threads
 * (one per vCPU), register layout from the target's XML, and memory.
 *
 * The peer is not trusted. Every exchange (a command and its reply, a stop,
 * a continue) has an overall deadline of timeout_ms on the monotonic clock,
 * however the peer paces its bytes, and the handshake as a whole has
 * GDBC_HANDSHAKE_EXCHANGES times that; loops over replies are bounded
 * (threads, qXfer pieces, included documents), so a silent, trickling or
 * garbled peer yields an error, never a hang.
 */
#ifndef GP_GDBC_H
#define GP_GDBC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gp_error.h"

#define GDBC_MAX_PACKET 65536
#define GDBC_MAX_REGS 256
#define GDBC_MAX_THREADS 64
#define GDBC_MAX_XML_DOCS 16	/* target description documents, includes and all */
#define GDBC_HANDSHAKE_EXCHANGES 4	/* the handshake's budget, in exchange timeouts */

struct gdbc_reg {
	char name[32];
	int bitsize;
	int offset;		/* byte offset in the 'g' reply */
};

struct gdbc {
	int fd;
	bool noack;
	int timeout_ms;		/* the budget of one exchange */
	uint64_t deadline;	/* gp_now_ns() deadline of the exchange under way */
	uint64_t op_deadline;	/* of a longer operation (handshake), or 0 */
	size_t rx;		/* bytes received in the exchange under way */
	size_t packet_size;	/* the stub's PacketSize */
	char *buf;		/* last reply, decoded, NUL-terminated */
	size_t len;
	int nr_regs;
	struct gdbc_reg regs[GDBC_MAX_REGS];
	int g_bytes;		/* size of the 'g' reply in bytes */
	int nr_threads;
	char threads[GDBC_MAX_THREADS][24];
	bool running;		/* we sent 'c' and saw no stop since */
	char in[8192];		/* bytes received, not yet consumed */
	size_t in_pos, in_len;
};

/* Connect fd (a stream socket) to sa before deadline (gp_now_ns) and leave
 * it blocking: a listener that does not accept (a unix socket's backlog
 * full, e.g. while another client holds it) or a host that does not answer
 * is a GP_ERR_TIMEOUT naming what, never a hang. For every backend's
 * sockets (gdbstub, QMP, the VMM's control socket). */
struct sockaddr;
struct gp_error *gdbc_sock_connect(int fd, const struct sockaddr *sa, unsigned sa_len,
				   const char *what, uint64_t deadline);

/* addr: "HOST:PORT" or a unix socket path. */
struct gp_error *gdbc_connect(const char *addr, int timeout_ms, struct gdbc **out);
void gdbc_close(struct gdbc *g);

/* Send a command and wait for its reply (stop replies that arrive
 * unsolicited are skipped). The reply is in g->buf. */
struct gp_error *gdbc_cmd(struct gdbc *g, const char *cmd);
/* As gdbc_cmd, then fail unless the reply is "OK". */
struct gp_error *gdbc_cmd_ok(struct gdbc *g, const char *cmd);

/* Setup after connect: features, no-ack, threads, register layout. */
struct gp_error *gdbc_handshake(struct gdbc *g);

struct gp_error *gdbc_stop(struct gdbc *g);	/* 0x03, wait for stop reply */
struct gp_error *gdbc_cont(struct gdbc *g);	/* 'c', no reply awaited */
struct gp_error *gdbc_detach(struct gdbc *g);

/* Remove register name from the layout (later offsets move down).
 * Returns false if it was not there. */
bool gdbc_drop_reg(struct gdbc *g, const char *name);
/* Read all registers of thread idx into raw (g->g_bytes bytes). */
struct gp_error *gdbc_read_regs(struct gdbc *g, int idx, uint8_t *raw);
/* Value of register name from a raw 'g' buffer; false if absent. */
bool gdbc_reg_value(const struct gdbc *g, const uint8_t *raw, const char *name,
		    uint64_t *val);

struct gp_error *gdbc_read_mem(struct gdbc *g, uint64_t addr, void *buf, size_t len);
struct gp_error *gdbc_write_mem(struct gdbc *g, uint64_t addr, const void *buf,
				size_t len);

/* Pure helpers, exported for unit tests. */
uint8_t gdbc_checksum(const char *data, size_t len);
/* Decode a packet body: '}' escapes and '*' run-length. out must hold
 * GDBC_MAX_PACKET bytes. Returns length or -1 if malformed. */
long gdbc_decode(const char *in, size_t len, char *out, size_t cap);
/* Parse <reg .../> elements of a target description into g->regs,
 * continuing numbering from g->nr_regs. */
struct gp_error *gdbc_parse_xml_regs(struct gdbc *g, const char *xml);

#endif
