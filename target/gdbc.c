// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * gdbc.c - the GDB remote serial protocol client (gdbc.h).
 *
 * (About 800 lines: framing, the exchange deadlines, the handshake's
 * bounded loops over a hostile stub's replies, registers and memory are
 * one client and read best together.)
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "gdbc.h"
#include "target.h"

#define XML_MAX (256 * 1024)

uint8_t gdbc_checksum(const char *data, size_t len)
{
	uint8_t s = 0;

	for (size_t i = 0; i < len; i++)
		s = (uint8_t)(s + (uint8_t)data[i]);
	return s;
}

long gdbc_decode(const char *in, size_t len, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = in[i];

		if (c == '}') {
			if (++i >= len)
				return -1;
			c = (char)(in[i] ^ 0x20);
		} else if (c == '*') {
			/* Run-length: repeat the previous char (n - 29) times. */
			int n;

			if (!o || ++i >= len)
				return -1;
			n = (unsigned char)in[i] - 29;
			if (n < 3 || n > 97 || o + (size_t)n > cap)
				return -1;
			memset(out + o, out[o - 1], (size_t)n);
			o += (size_t)n;
			continue;
		}
		if (o >= cap)
			return -1;
		out[o++] = c;
	}
	return (long)o;
}

struct gp_error *gdbc_sock_connect(int fd, const struct sockaddr *sa, unsigned sa_len,
				   const char *what, uint64_t deadline)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return gp_error_os(errno, "fcntl socket for %s", what);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		uint64_t now = gp_now_ns();
		int soerr = 0;
		socklen_t sl = sizeof(soerr);

		if (!connect(fd, sa, sa_len))
			break;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN) {
			/* A unix listener whose backlog is full: it does not
			 * accept, most likely because another client holds it. */
			if (now >= deadline)
				return gp_error_create(GP_ERR_TIMEOUT,
						       "%s does not accept a connection (another client connected?)",
						       what);
			gp_sleep_us(10000);
			continue;
		}
		if (errno != EINPROGRESS)
			return gp_error_os(errno, "connect to %s", what);
		while (now < deadline) {
			int rc = poll(&p, 1, (int)((deadline - now + 999999) / 1000000));

			if (rc > 0 || (rc < 0 && errno != EINTR))
				break;
			now = gp_now_ns();
		}
		if (now >= deadline)
			return gp_error_create(GP_ERR_TIMEOUT, "connecting to %s timed out", what);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
			soerr = errno;
		if (soerr)
			return gp_error_os(soerr, "connect to %s", what);
		break;
	}
	if (fcntl(fd, F_SETFL, fl) < 0)
		return gp_error_os(errno, "fcntl socket for %s", what);
	return NULL;
}

static struct gp_error *connect_addr(const char *addr, int timeout_ms, int *fdp)
{
	uint64_t deadline = gp_now_ns() + (uint64_t)timeout_ms * 1000000;
	char what[160];
	struct gp_error *err;
	int fd;

	snprintf(what, sizeof(what), "gdbstub %s", addr);
	if (strchr(addr, '/')) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		if (strlen(addr) >= sizeof(sa.sun_path))
			return gp_error_create(GP_ERR_INVAL, "socket path too long: %s", addr);
		strcpy(sa.sun_path, addr);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return gp_error_os(errno, "socket");
		if ((err = gdbc_sock_connect(fd, (struct sockaddr *)&sa, sizeof(sa), what,
					     deadline))) {
			close(fd);
			return err;
		}
	} else {
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
		char host[256];
		const char *colon = strrchr(addr, ':');
		int rc;

		if (!colon || colon == addr || (size_t)(colon - addr) >= sizeof(host))
			return gp_error_create(GP_ERR_INVAL,
					       "gdbstub address '%s': expected HOST:PORT or a socket path",
					       addr);
		memcpy(host, addr, (size_t)(colon - addr));
		host[colon - addr] = '\0';
		rc = getaddrinfo(host, colon + 1, &hints, &res);
		if (rc)
			return gp_error_create(GP_ERR_INVAL, "gdbstub address '%s': %s", addr,
					       gai_strerror(rc));
		fd = -1;
		err = NULL;
		for (ai = res; ai; ai = ai->ai_next) {
			fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
			if (fd < 0)
				continue;
			gp_error_destroy(err);
			err = gdbc_sock_connect(fd, ai->ai_addr, ai->ai_addrlen, what, deadline);
			if (!err) {
				/* Small request/reply packets: without this,
				 * Nagle and delayed ACKs add ~40 ms per packet. */
				int one = 1;

				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				break;
			}
			close(fd);
			fd = -1;
		}
		freeaddrinfo(res);
		if (fd < 0)
			return err ? err : gp_error_os(errno, "connect to gdbstub %s", addr);
		gp_error_destroy(err);
	}
	*fdp = fd;
	return NULL;
}

struct gp_error *gdbc_connect(const char *addr, int timeout_ms, struct gdbc **out)
{
	struct gdbc *g;
	struct gp_error *err;

	*out = NULL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return &gp_error_nomem;
	g->buf = malloc(GDBC_MAX_PACKET + 1);
	if (!g->buf) {
		free(g);
		return &gp_error_nomem;
	}
	g->fd = -1;
	g->timeout_ms = timeout_ms > 0 ? timeout_ms : 10000;
	g->packet_size = 4096;
	err = connect_addr(addr, g->timeout_ms, &g->fd);
	if (err) {
		gdbc_close(g);
		return err;
	}
	*out = g;
	return NULL;
}

void gdbc_close(struct gdbc *g)
{
	if (!g)
		return;
	if (g->fd >= 0)
		close(g->fd);
	free(g->buf);
	free(g);
}

/* Start an exchange: its deadline is timeout_ms from now, or the end of
 * the operation it is part of, whichever comes first. */
static void exchange_begin(struct gdbc *g)
{
	g->deadline = gp_now_ns() + (uint64_t)g->timeout_ms * 1000000;
	if (g->op_deadline && g->op_deadline < g->deadline)
		g->deadline = g->op_deadline;
	g->rx = 0;
}

/* Wait for events on the socket until the exchange's deadline. */
static struct gp_error *wait_fd(struct gdbc *g, short events)
{
	for (;;) {
		struct pollfd p = { .fd = g->fd, .events = events };
		uint64_t now = gp_now_ns();
		int rc;

		if (now >= g->deadline) {
			if (!g->rx)
				return gp_error_create(GP_ERR_TIMEOUT,
						       "gdbstub did not answer within %d ms",
						       g->timeout_ms);
			return gp_error_create(GP_ERR_TIMEOUT,
					       "gdbstub sent no complete reply within %d ms (%zu bytes of something else)",
					       g->timeout_ms, g->rx);
		}
		rc = poll(&p, 1, (int)((g->deadline - now + 999999) / 1000000));
		if (rc > 0)
			return NULL;
		if (rc < 0 && errno != EINTR)
			return gp_error_os(errno, "poll gdbstub");
	}
}

static struct gp_error *read_byte(struct gdbc *g, char *c)
{
	struct gp_error *err;
	ssize_t n;

	if (g->in_pos < g->in_len) {
		*c = g->in[g->in_pos++];
		return NULL;
	}
	if ((err = wait_fd(g, POLLIN)))
		return err;
	n = read(g->fd, g->in, sizeof(g->in));
	if (n == 0)
		return gp_error_create(GP_ERR_PROTOCOL, "gdbstub closed the connection");
	if (n < 0)
		return gp_error_os(errno, "read gdbstub");
	g->rx += (size_t)n;
	g->in_pos = 1;
	g->in_len = (size_t)n;
	*c = g->in[0];
	return NULL;
}

/* Put back the byte read_byte() just returned. */
static void unread_byte(struct gdbc *g)
{
	g->in_pos--;
}

/* Send without blocking past the deadline (a peer that does not read). */
static struct gp_error *write_all(struct gdbc *g, const void *buf, size_t len)
{
	const char *p = buf;
	struct gp_error *err;

	while (len) {
		ssize_t n = send(g->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if ((err = wait_fd(g, POLLOUT)))
				return gp_error_wrap(err, "writing to the gdbstub");
			continue;
		}
		if (n <= 0)
			return gp_error_os(errno, "write gdbstub");
		p += n;
		len -= (size_t)n;
	}
	return NULL;
}

/* Send a packet, escaping the bytes that would break its framing ('#',
 * '$', '}', and '*', which the stub would take for a run) as '}' and the
 * byte XOR 0x20; the checksum covers what is sent. Within the exchange
 * begun by the caller. */
static struct gp_error *send_packet(struct gdbc *g, const char *data, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	char *pkt = malloc(2 * len + 5);
	struct gp_error *err = NULL;
	size_t o = 1;
	uint8_t cs;

	if (!pkt)
		return &gp_error_nomem;
	pkt[0] = '$';
	for (size_t i = 0; i < len; i++) {
		if (data[i] == '#' || data[i] == '$' || data[i] == '}' || data[i] == '*') {
			pkt[o++] = '}';
			pkt[o++] = (char)(data[i] ^ 0x20);
		} else {
			pkt[o++] = data[i];
		}
	}
	cs = gdbc_checksum(pkt + 1, o - 1);
	pkt[o++] = '#';
	pkt[o++] = hex[cs >> 4];
	pkt[o++] = hex[cs & 15];
	/* Without no-ack mode, wait for '+'; retransmit on '-' a few times. */
	for (int tries = 0; tries < 4; tries++) {
		char c;

		if ((err = write_all(g, pkt, o)) || g->noack)
			goto out;
		do {
			if ((err = read_byte(g, &c)))
				goto out;
			/* A packet before the ack (a stop reply, or the reply
			 * itself): keep it for recv_packet(), which skips the
			 * '+' that follows as noise. */
			if (c == '$') {
				unread_byte(g);
				goto out;
			}
		} while (c != '+' && c != '-');
		if (c == '+')
			goto out;
	}
	err = gp_error_create(GP_ERR_PROTOCOL, "gdbstub keeps rejecting a packet");
out:
	free(pkt);
	return err;
}

/* Receive one packet into g->buf (decoded). */
static struct gp_error *recv_packet(struct gdbc *g)
{
	static char raw[GDBC_MAX_PACKET];
	struct gp_error *err;
	size_t n = 0;
	char c, cs[2];
	long dl;

	do {
		if ((err = read_byte(g, &c)))
			return err;
	} while (c != '$');
	for (;;) {
		if ((err = read_byte(g, &c)))
			return err;
		if (c == '#')
			break;
		if (n >= sizeof(raw))
			return gp_error_create(GP_ERR_PROTOCOL, "gdbstub packet longer than %d bytes",
					       GDBC_MAX_PACKET);
		raw[n++] = c;
	}
	if ((err = read_byte(g, &cs[0])) || (err = read_byte(g, &cs[1])))
		return err;
	{
		char hx[3] = { cs[0], cs[1], 0 }, *end;
		unsigned long want = strtoul(hx, &end, 16);

		if (*end || want != gdbc_checksum(raw, n)) {
			if (!g->noack)
				write_all(g, "-", 1);
			return gp_error_create(GP_ERR_PROTOCOL, "gdbstub packet with a bad checksum");
		}
	}
	if (!g->noack && (err = write_all(g, "+", 1)))
		return err;
	dl = gdbc_decode(raw, n, g->buf, GDBC_MAX_PACKET);
	if (dl < 0)
		return gp_error_create(GP_ERR_PROTOCOL, "malformed gdbstub packet");
	g->buf[dl] = '\0';
	g->len = (size_t)dl;
	return NULL;
}

static bool is_stop_reply(const char *b)
{
	return (b[0] == 'T' || b[0] == 'S') && b[1] && b[2] &&
	       strchr("0123456789abcdefABCDEF", b[1]) && strchr("0123456789abcdefABCDEF", b[2]);
}

struct gp_error *gdbc_cmd(struct gdbc *g, const char *cmd)
{
	struct gp_error *err;

	exchange_begin(g);
	if ((err = send_packet(g, cmd, strlen(cmd))))
		return err;
	/* A stop reply may be pending from an earlier stop (QEMU sends one
	 * when a client attaches); skip those unless we asked for one. */
	for (int skipped = 0; skipped < 8; skipped++) {
		if ((err = recv_packet(g)))
			return err;
		if (cmd[0] == '?' || !is_stop_reply(g->buf))
			return NULL;
	}
	return gp_error_create(GP_ERR_PROTOCOL, "gdbstub answers '%s' with stop replies only", cmd);
}

struct gp_error *gdbc_cmd_ok(struct gdbc *g, const char *cmd)
{
	struct gp_error *err = gdbc_cmd(g, cmd);

	if (err)
		return err;
	if (strcmp(g->buf, "OK"))
		return gp_error_create(GP_ERR_PROTOCOL, "gdbstub answered '%.40s' to '%.40s'",
				       g->buf, cmd);
	return NULL;
}

static const char *xml_attr(const char *tag, const char *end, const char *name,
			    char *out, size_t cap)
{
	size_t nl = strlen(name);

	for (const char *p = tag; p + nl + 2 < end; p++) {
		if (strncmp(p, name, nl) || p[nl] != '=' || (p[nl + 1] != '"' && p[nl + 1] != '\'') ||
		    (p > tag && p[-1] != ' ' && p[-1] != '\t' && p[-1] != '\n'))
			continue;
		{
			char q = p[nl + 1];
			const char *v = p + nl + 2, *ve = memchr(v, q, (size_t)(end - v));

			if (!ve || (size_t)(ve - v) >= cap)
				return NULL;
			memcpy(out, v, (size_t)(ve - v));
			out[ve - v] = '\0';
			return out;
		}
	}
	return NULL;
}

struct gp_error *gdbc_parse_xml_regs(struct gdbc *g, const char *xml)
{
	const char *p = xml;

	while ((p = strstr(p, "<reg"))) {
		const char *end = strchr(p, '>');
		char name[32], bits[16], num[16];
		struct gdbc_reg *r;
		char *e;
		long bs, rn;

		if (!end)
			return gp_error_create(GP_ERR_PROTOCOL, "unterminated <reg> in target description");
		if (p[4] != ' ' && p[4] != '\t' && p[4] != '\n') {
			p = end;
			continue;
		}
		if (!xml_attr(p, end, "name", name, sizeof(name)) ||
		    !xml_attr(p, end, "bitsize", bits, sizeof(bits)))
			return gp_error_create(GP_ERR_PROTOCOL, "<reg> without name or bitsize");
		bs = strtol(bits, &e, 10);
		if (*e || bs <= 0 || bs > 1024 || bs % 8)
			return gp_error_create(GP_ERR_PROTOCOL, "register %s has bitsize %s", name, bits);
		if (xml_attr(p, end, "regnum", num, sizeof(num))) {
			rn = strtol(num, &e, 10);
			if (*e || rn != g->nr_regs)
				return gp_error_create(GP_ERR_UNSUPPORTED,
						       "register %s is numbered %s, out of order (expected %d)",
						       name, num, g->nr_regs);
		}
		if (g->nr_regs >= GDBC_MAX_REGS)
			return gp_error_create(GP_ERR_LIMIT, "more than %d registers", GDBC_MAX_REGS);
		r = &g->regs[g->nr_regs];
		snprintf(r->name, sizeof(r->name), "%s", name);
		r->bitsize = (int)bs;
		r->offset = g->nr_regs ? g->regs[g->nr_regs - 1].offset +
						 g->regs[g->nr_regs - 1].bitsize / 8 : 0;
		g->nr_regs++;
		p = end;
	}
	return NULL;
}

/* Read a qXfer object completely, at most budget bytes. */
static struct gp_error *read_xfer(struct gdbc *g, const char *annex, size_t budget, char **out)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap), cmd[256];
	struct gp_error *err;

	if (!buf)
		return &gp_error_nomem;
	for (;;) {
		snprintf(cmd, sizeof(cmd), "qXfer:features:read:%s:%zx,%zx", annex, n,
			 g->packet_size - 16);
		if ((err = gdbc_cmd(g, cmd)))
			goto fail;
		if (g->buf[0] != 'm' && g->buf[0] != 'l') {
			err = gp_error_create(GP_ERR_PROTOCOL, "qXfer %s: reply '%.20s'", annex, g->buf);
			goto fail;
		}
		/* Each 'm' must move on, or a stub could keep us asking. */
		if (g->buf[0] == 'm' && g->len < 2) {
			err = gp_error_create(GP_ERR_PROTOCOL,
					      "qXfer %s: an empty 'm' reply at offset %zu (no progress)",
					      annex, n);
			goto fail;
		}
		if (n + g->len > budget) {
			err = gp_error_create(GP_ERR_LIMIT, "target description %s too large", annex);
			goto fail;
		}
		while (n + g->len + 1 > cap) {
			char *nb = realloc(buf, cap * 2);

			if (!nb) {
				err = &gp_error_nomem;
				goto fail;
			}
			buf = nb;
			cap *= 2;
		}
		memcpy(buf + n, g->buf + 1, g->len - 1);
		n += g->len - 1;
		if (g->buf[0] == 'l')
			break;
	}
	buf[n] = '\0';
	*out = buf;
	return NULL;
fail:
	free(buf);
	return err;
}

/* What a target description may cost, all its documents together. */
struct layout_budget {
	int docs;		/* documents read so far */
	size_t bytes;		/* XML bytes left */
	const char *stack[5];	/* the documents being read, outermost first */
};

static struct gp_error *load_layout(struct gdbc *g, const char *annex, int depth,
				    struct layout_budget *b)
{
	struct gp_error *err;
	char *xml = NULL;
	const char *p;

	if (depth >= (int)ARRAY_SIZE(b->stack))
		return gp_error_create(GP_ERR_LIMIT, "target description includes nest too deep");
	for (int i = 0; i < depth; i++)
		if (!strcmp(b->stack[i], annex))
			return gp_error_create(GP_ERR_PROTOCOL,
					       "target description %s includes %s again: a loop",
					       b->stack[depth - 1], annex);
	if (++b->docs > GDBC_MAX_XML_DOCS)
		return gp_error_create(GP_ERR_LIMIT,
				       "target description in more than %d documents (at %s)",
				       GDBC_MAX_XML_DOCS, annex);
	if ((err = read_xfer(g, annex, b->bytes, &xml)))
		return err;
	b->bytes -= strlen(xml);
	b->stack[depth] = annex;
	/* Registers and includes in document order. */
	p = xml;
	for (;;) {
		const char *inc = strstr(p, "<xi:include");
		const char *reg = strstr(p, "<reg");

		if (!inc && !reg)
			break;
		if (reg && (!inc || reg < inc)) {
			const char *end = strchr(reg, '>');
			char *one;

			if (!end)
				break;
			one = strndup(reg, (size_t)(end - reg + 1));
			if (!one) {
				err = &gp_error_nomem;
				break;
			}
			err = gdbc_parse_xml_regs(g, one);
			free(one);
			if (err)
				break;
			p = end + 1;
		} else {
			const char *end = strchr(inc, '>');
			char href[128];

			if (!end || !xml_attr(inc, end, "href", href, sizeof(href))) {
				err = gp_error_create(GP_ERR_PROTOCOL, "bad xi:include in %s", annex);
				break;
			}
			if ((err = load_layout(g, href, depth + 1, b)))
				break;
			p = end + 1;
		}
	}
	free(xml);
	return err;
}

static struct gp_error *handshake(struct gdbc *g)
{
	struct layout_budget b = { .bytes = XML_MAX };
	struct gp_error *err;
	const char *ps;
	bool xml;

	if ((err = gdbc_cmd(g, "qSupported:xmlRegisters=i386;multiprocess-")))
		return err;
	if ((ps = strstr(g->buf, "PacketSize="))) {
		unsigned long v = strtoul(ps + 11, NULL, 16);

		if (v >= 256 && v <= GDBC_MAX_PACKET)
			g->packet_size = v;
	}
	/* Judge the qSupported reply before QStartNoAckMode overwrites it. */
	xml = strstr(g->buf, "qXfer:features:read+") != NULL;
	if (strstr(g->buf, "QStartNoAckMode+") && gp_ok(gdbc_cmd_ok(g, "QStartNoAckMode")))
		g->noack = true;
	if (!xml)
		return gp_error_create(GP_ERR_UNSUPPORTED,
				       "gdbstub does not describe its registers (no qXfer:features:read)");
	/* Threads: one per vCPU. Each 'm' must name one at least, so the
	 * list ends within GDBC_MAX_THREADS + 1 replies. */
	g->nr_threads = 0;
	if ((err = gdbc_cmd(g, "qfThreadInfo")))
		return err;
	while (g->buf[0] == 'm') {
		char *save = NULL, *tok;
		int before = g->nr_threads;

		for (tok = strtok_r(g->buf + 1, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			if (g->nr_threads >= GDBC_MAX_THREADS)
				return gp_error_create(GP_ERR_LIMIT, "more than %d vCPUs", GDBC_MAX_THREADS);
			snprintf(g->threads[g->nr_threads++], sizeof(g->threads[0]), "%s", tok);
		}
		if (g->nr_threads == before)
			return gp_error_create(GP_ERR_PROTOCOL,
					       "gdbstub's thread list goes on with an empty 'm' reply");
		if ((err = gdbc_cmd(g, "qsThreadInfo")))
			return err;
	}
	if (g->buf[0] != 'l' || !g->nr_threads)
		return gp_error_create(GP_ERR_PROTOCOL, "gdbstub lists no threads");
	g->nr_regs = 0;
	if ((err = load_layout(g, "target.xml", 0, &b)))
		return gp_error_wrap(err, "reading the register layout");
	if (!g->nr_regs)
		return gp_error_create(GP_ERR_PROTOCOL, "gdbstub describes no registers");
	return NULL;
}

struct gp_error *gdbc_handshake(struct gdbc *g)
{
	struct gp_error *err;

	/* Every exchange is bounded, and so is their number; the whole is
	 * bounded too, against a stub that answers slowly and at length. */
	g->op_deadline = gp_now_ns() +
			 (uint64_t)GDBC_HANDSHAKE_EXCHANGES * (uint64_t)g->timeout_ms * 1000000;
	err = handshake(g);
	g->op_deadline = 0;
	if (err && err->code == GP_ERR_TIMEOUT)
		err = gp_error_wrap(err, "handshake (at most %d ms)",
				    GDBC_HANDSHAKE_EXCHANGES * g->timeout_ms);
	return err;
}

struct gp_error *gdbc_stop(struct gdbc *g)
{
	struct gp_error *err;

	if (!g->running)
		return NULL;
	exchange_begin(g);
	if ((err = write_all(g, "\x03", 1)))
		return err;
	for (int i = 0; i < 16; i++) {
		if ((err = recv_packet(g)))
			return gp_error_wrap(err, "waiting for the guest to stop");
		if (is_stop_reply(g->buf)) {
			g->running = false;
			return NULL;
		}
	}
	return gp_error_create(GP_ERR_PROTOCOL, "no stop reply after interrupt");
}

struct gp_error *gdbc_cont(struct gdbc *g)
{
	struct gp_error *err;

	if (g->running)
		return NULL;
	exchange_begin(g);
	if ((err = send_packet(g, "c", 1)))
		return err;
	g->running = true;
	return NULL;
}

struct gp_error *gdbc_detach(struct gdbc *g)
{
	struct gp_error *err;

	if ((err = gdbc_stop(g)))
		return err;
	return gdbc_cmd_ok(g, "D");
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static struct gp_error *unhex(const char *in, size_t n, uint8_t *out)
{
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(in[2 * i]), lo = hexval(in[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return gp_error_create(GP_ERR_PROTOCOL, "non-hex data from gdbstub");
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return NULL;
}

struct gp_error *gdbc_read_regs(struct gdbc *g, int idx, uint8_t *raw)
{
	struct gp_error *err;
	char cmd[40];
	size_t n;

	if (idx < 0 || idx >= g->nr_threads)
		return gp_error_create(GP_ERR_INVAL, "no thread %d", idx);
	snprintf(cmd, sizeof(cmd), "Hg%s", g->threads[idx]);
	if ((err = gdbc_cmd_ok(g, cmd)) || (err = gdbc_cmd(g, "g")))
		return err;
	if (g->buf[0] == 'E' || g->len % 2)
		return gp_error_create(GP_ERR_PROTOCOL, "register read failed: %.20s", g->buf);
	n = g->len / 2;
	if (n > (size_t)GDBC_MAX_PACKET / 2)
		n = GDBC_MAX_PACKET / 2;
	g->g_bytes = (int)n;
	return unhex(g->buf, n, raw);
}

bool gdbc_drop_reg(struct gdbc *g, const char *name)
{
	for (int i = 0; i < g->nr_regs; i++) {
		if (strcmp(g->regs[i].name, name))
			continue;
		memmove(&g->regs[i], &g->regs[i + 1], sizeof(g->regs[0]) * (size_t)(g->nr_regs - i - 1));
		g->nr_regs--;
		for (int j = i; j < g->nr_regs; j++)
			g->regs[j].offset = j ? g->regs[j - 1].offset + g->regs[j - 1].bitsize / 8 : 0;
		return true;
	}
	return false;
}

bool gdbc_reg_value(const struct gdbc *g, const uint8_t *raw, const char *name, uint64_t *val)
{
	for (int i = 0; i < g->nr_regs; i++) {
		const struct gdbc_reg *r = &g->regs[i];

		if (strcmp(r->name, name))
			continue;
		if (r->offset + r->bitsize / 8 > g->g_bytes || r->bitsize > 64)
			return false;
		*val = 0;
		memcpy(val, raw + r->offset, (size_t)r->bitsize / 8);	/* little endian */
		return true;
	}
	return false;
}

struct gp_error *gdbc_read_mem(struct gdbc *g, uint64_t addr, void *buf, size_t len)
{
	size_t chunk = (g->packet_size - 8) / 2;
	uint8_t *out = buf;
	struct gp_error *err;
	char cmd[64];

	while (len) {
		size_t n = len < chunk ? len : chunk;

		snprintf(cmd, sizeof(cmd), "m%llx,%zx", (unsigned long long)addr, n);
		if ((err = gdbc_cmd(g, cmd)))
			return err;
		if (g->buf[0] == 'E' || g->len != 2 * n)
			return gp_error_addr(GP_ERR_FAULT, addr,
					     "gdbstub cannot read 0x%llx (+%zu): %.8s",
					     (unsigned long long)addr, n, g->buf);
		if ((err = unhex(g->buf, n, out)))
			return err;
		addr += n;
		out += n;
		len -= n;
	}
	return NULL;
}

struct gp_error *gdbc_write_mem(struct gdbc *g, uint64_t addr, const void *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t chunk = (g->packet_size - 40) / 2;
	const uint8_t *in = buf;
	struct gp_error *err;
	char *cmd = malloc(g->packet_size + 64);

	if (!cmd)
		return &gp_error_nomem;
	while (len) {
		size_t n = len < chunk ? len : chunk;
		int h = snprintf(cmd, 64, "M%llx,%zx:", (unsigned long long)addr, n);

		for (size_t i = 0; i < n; i++) {
			cmd[h + 2 * i] = hex[in[i] >> 4];
			cmd[h + 2 * i + 1] = hex[in[i] & 15];
		}
		cmd[h + 2 * n] = '\0';
		err = gdbc_cmd_ok(g, cmd);
		if (err) {
			free(cmd);
			return gp_error_wrap(err, "writing 0x%llx", (unsigned long long)addr);
		}
		addr += n;
		in += n;
		len -= n;
	}
	free(cmd);
	return NULL;
}
