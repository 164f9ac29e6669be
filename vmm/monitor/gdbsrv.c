// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * gdbsrv.c - the control socket of our own VMM: the GDB remote serial
 * protocol on a unix socket (mode 0600), one client at a time, speaking
 * the dialect tgt_qemu.c speaks to QEMU (so one client serves both):
 * attaching stops the guest, 'c' runs it, 0x03 stops it, 'D' detaches and
 * runs it; Qqemu.PhyMemMode is accepted (memory is always physical here);
 * registers follow the target description we serve.
 *
 * The client is not trusted: packets are bounded (PKT_MAX decoded), their
 * checksums checked (a bad one is nacked with '-' and dropped), '}' escapes
 * and '*' runs decoded, and a packet that is malformed or too long is
 * answered "E01"; a client that stalls mid-packet for PKT_STALL_MS is
 * hung up on.
 *
 * One extension: "qGuestpatch.memfd" replies "size=HEX;lowmem=HEX" with
 * the guest RAM's memfd attached (SCM_RIGHTS), so a tool on this host maps
 * RAM instead of reading it through packets (tgt_vmm.c). It may come first
 * and then does not stop the guest: the stop that attaching implies
 * happens at the first other packet.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "gdbc.h"
#include "gp_time.h"
#include "kvmvm.h"
#include "target.h"

#define PKT_MAX 4096
#define PKT_STALL_MS 5000	/* from '$' to the checksum's last digit */

struct gdbsrv {
	struct kvmvm *v;
	int lfd, cfd;
	char path[108];
	pthread_t thread;
	volatile bool quit;
	bool noack;
	bool running;		/* the client let the guest run */
	bool attached;		/* the attach stop happened */
	int sel;		/* vCPU selected by Hg */
};

static const char target_xml[] =
	"<?xml version=\"1.0\"?><!DOCTYPE target SYSTEM \"gdb-target.dtd\">"
	"<target><architecture>i386:x86-64</architecture><feature name=\"org.gnu.gdb.i386.core\">"
	"<reg name=\"rax\" bitsize=\"64\"/><reg name=\"rbx\" bitsize=\"64\"/><reg name=\"rcx\" bitsize=\"64\"/>"
	"<reg name=\"rdx\" bitsize=\"64\"/><reg name=\"rsi\" bitsize=\"64\"/><reg name=\"rdi\" bitsize=\"64\"/>"
	"<reg name=\"rbp\" bitsize=\"64\"/><reg name=\"rsp\" bitsize=\"64\"/><reg name=\"r8\" bitsize=\"64\"/>"
	"<reg name=\"r9\" bitsize=\"64\"/><reg name=\"r10\" bitsize=\"64\"/><reg name=\"r11\" bitsize=\"64\"/>"
	"<reg name=\"r12\" bitsize=\"64\"/><reg name=\"r13\" bitsize=\"64\"/><reg name=\"r14\" bitsize=\"64\"/>"
	"<reg name=\"r15\" bitsize=\"64\"/><reg name=\"rip\" bitsize=\"64\"/><reg name=\"eflags\" bitsize=\"32\"/>"
	"<reg name=\"cs\" bitsize=\"32\"/><reg name=\"ss\" bitsize=\"32\"/><reg name=\"ds\" bitsize=\"32\"/>"
	"<reg name=\"es\" bitsize=\"32\"/><reg name=\"fs\" bitsize=\"32\"/><reg name=\"gs\" bitsize=\"32\"/>"
	"<reg name=\"fs_base\" bitsize=\"64\"/><reg name=\"gs_base\" bitsize=\"64\"/>"
	"<reg name=\"k_gs_base\" bitsize=\"64\"/><reg name=\"cr0\" bitsize=\"64\"/><reg name=\"cr2\" bitsize=\"64\"/>"
	"<reg name=\"cr3\" bitsize=\"64\"/><reg name=\"cr4\" bitsize=\"64\"/><reg name=\"cr8\" bitsize=\"64\"/>"
	"<reg name=\"efer\" bitsize=\"64\"/></feature></target>";

/* Send data as a packet, escaping what would break its framing. */
static int send_pkt(struct gdbsrv *s, const char *data)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = strlen(data), o = 1;
	char *p = malloc(2 * n + 5);
	uint8_t cs;
	int rc = 0;

	if (!p)
		return -1;
	p[0] = '$';
	for (size_t i = 0; i < n; i++) {
		if (strchr("#$}*", data[i])) {
			p[o++] = '}';
			p[o++] = (char)(data[i] ^ 0x20);
		} else {
			p[o++] = data[i];
		}
	}
	cs = gdbc_checksum(p + 1, o - 1);
	p[o++] = '#';
	p[o++] = hex[cs >> 4];
	p[o++] = hex[cs & 15];
	if (send(s->cfd, p, o, MSG_NOSIGNAL) != (ssize_t)o)
		rc = -1;
	free(p);
	return rc;
}

static void hexify(char *out, const uint8_t *in, size_t n)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int unhex_byte(const char *p)
{
	int v = 0;

	for (int i = 0; i < 2; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/* A hex number of 1 to 16 digits at *p; moves *p past it. */
static bool parse_hex(const char **p, unsigned long long *val)
{
	unsigned long long v = 0;
	int n = 0;

	for (;; n++) {
		char c = (*p)[n];
		int d = c >= '0' && c <= '9' ? c - '0'
		      : c >= 'a' && c <= 'f' ? c - 'a' + 10
		      : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;

		if (d < 0)
			break;
		if (n == 16)
			return false;
		v = v << 4 | (unsigned)d;
	}
	*p += n;
	*val = v;
	return n > 0;
}

/* "ADDR,LEN" in hex, followed by end (the end of the packet, or ':'). */
static bool parse_addr_len(const char **p, unsigned long long *addr, unsigned long long *len,
			   char end)
{
	if (!parse_hex(p, addr) || **p != ',')
		return false;
	(*p)++;
	return parse_hex(p, len) && **p == end;
}

static void reply_regs(struct gdbsrv *s)
{
	struct tgt_regs r;
	uint8_t raw[33 * 8];
	char out[sizeof(raw) * 2 + 1];
	size_t n = 0;

	if (!gp_ok(kvmvm_get_regs(s->v, s->sel, &r))) {
		send_pkt(s, "E01");
		return;
	}
#define PUT(val, bytes)                                 \
	do {                                            \
		uint64_t _v = (val);                    \
		memcpy(raw + n, &_v, (bytes));          \
		n += (bytes);                           \
	} while (0)
	PUT(r.rax, 8); PUT(r.rbx, 8); PUT(r.rcx, 8); PUT(r.rdx, 8);
	PUT(r.rsi, 8); PUT(r.rdi, 8); PUT(r.rbp, 8); PUT(r.rsp, 8);
	PUT(r.r8, 8); PUT(r.r9, 8); PUT(r.r10, 8); PUT(r.r11, 8);
	PUT(r.r12, 8); PUT(r.r13, 8); PUT(r.r14, 8); PUT(r.r15, 8);
	PUT(r.rip, 8); PUT(r.rflags, 4);
	PUT(r.cs, 4); PUT(r.ss, 4); PUT(r.ds, 4); PUT(r.es, 4); PUT(r.fs, 4); PUT(r.gs, 4);
	PUT(r.fs_base, 8); PUT(r.gs_base, 8); PUT(r.kernel_gs_base, 8);
	PUT(r.cr0, 8); PUT(r.cr2, 8); PUT(r.cr3, 8); PUT(r.cr4, 8); PUT(r.cr8, 8); PUT(r.efer, 8);
#undef PUT
	hexify(out, raw, n);
	send_pkt(s, out);
}

/* The reply to qGuestpatch.memfd, with the memfd riding along. */
static void send_memfd(struct gdbsrv *s)
{
	static const char hex[] = "0123456789abcdef";
	char body[96], pkt[112];
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov;
	struct msghdr m = { 0 };
	struct cmsghdr *c;
	uint8_t cs;
	int n;

	if (s->v->mem_fd < 0) {
		send_pkt(s, "E01");
		return;
	}
	snprintf(body, sizeof(body), "size=%zx;lowmem=%zx", s->v->mem_size, s->v->low_size);
	cs = gdbc_checksum(body, strlen(body));
	n = snprintf(pkt, sizeof(pkt), "$%s#%c%c", body, hex[cs >> 4], hex[cs & 15]);
	iov.iov_base = pkt;
	iov.iov_len = (size_t)n;
	memset(&ctl, 0, sizeof(ctl));
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = ctl.buf;
	m.msg_controllen = sizeof(ctl.buf);
	c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &s->v->mem_fd, sizeof(int));
	sendmsg(s->cfd, &m, MSG_NOSIGNAL);
}

static void handle(struct gdbsrv *s, char *pkt)
{
	struct kvmvm *v = s->v;
	unsigned long long addr, len;
	char out[PKT_MAX + 16];

	if (!strncmp(pkt, "qSupported", 10)) {
		send_pkt(s, "PacketSize=1000;qXfer:features:read+;QStartNoAckMode+");
	} else if (!strcmp(pkt, "QStartNoAckMode")) {
		send_pkt(s, "OK");
		s->noack = true;
	} else if (!strcmp(pkt, "?")) {
		send_pkt(s, "T05thread:01;");
	} else if (!strcmp(pkt, "qfThreadInfo")) {
		/* Thread ids 1..N, one per vCPU, as QEMU numbers them. */
		size_t n = 1;

		out[0] = 'm';
		for (int i = 0; i < v->nr_vcpus; i++)
			n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%02x", i ? "," : "", i + 1);
		send_pkt(s, out);
	} else if (!strcmp(pkt, "qsThreadInfo")) {
		send_pkt(s, "l");
	} else if (!strncmp(pkt, "Hg", 2)) {
		long id = strtol(pkt + 2, NULL, 16);

		if (id > 0 && id <= v->nr_vcpus) {
			s->sel = (int)id - 1;
			send_pkt(s, "OK");
		} else if (id == 0 || id == -1) {
			send_pkt(s, "OK");
		} else {
			send_pkt(s, "E22");
		}
	} else if (!strncmp(pkt, "Hc", 2) || !strcmp(pkt, "Qqemu.PhyMemMode:1")) {
		send_pkt(s, "OK");
	} else if (!strcmp(pkt, "g")) {
		reply_regs(s);
	} else if (sscanf(pkt, "qXfer:features:read:target.xml:%llx,%llx", &addr, &len) == 2) {
		size_t total = sizeof(target_xml) - 1;

		if (len > PKT_MAX - 8)
			len = PKT_MAX - 8;
		if (addr >= total) {
			send_pkt(s, "l");
		} else {
			size_t n = total - addr < len ? total - addr : len;

			out[0] = addr + n >= total ? 'l' : 'm';
			memcpy(out + 1, target_xml + addr, n);
			out[n + 1] = '\0';
			send_pkt(s, out);
		}
	} else if (pkt[0] == 'm') {
		const char *q = pkt + 1;
		uint8_t *p;

		if (!parse_addr_len(&q, &addr, &len, '\0')) {
			send_pkt(s, "E01");
			return;
		}
		p = len <= (PKT_MAX - 8) / 2 ? kvmvm_gpa(v, addr, len) : NULL;
		if (!p) {
			send_pkt(s, "E14");
			return;
		}
		hexify(out, p, len);
		send_pkt(s, out);
	} else if (pkt[0] == 'M') {
		const char *data = pkt + 1;
		uint8_t *p;

		/* (len bounded first: 2 * len must not wrap) */
		if (!parse_addr_len(&data, &addr, &len, ':') || len > PKT_MAX / 2 ||
		    strlen(++data) != 2 * len) {
			send_pkt(s, "E01");
			return;
		}
		p = kvmvm_gpa(v, addr, len);
		if (!p) {
			send_pkt(s, "E14");
			return;
		}
		/* All of it is hex before any of it is written. */
		for (unsigned long long i = 0; i < 2 * len; i += 2)
			if (unhex_byte(data + i) < 0) {
				send_pkt(s, "E01");
				return;
			}
		for (unsigned long long i = 0; i < len; i++)
			p[i] = (uint8_t)unhex_byte(data + 2 * i);
		send_pkt(s, "OK");
	} else if (!strcmp(pkt, "c")) {
		kvmvm_resume(v);
		s->running = true;	/* the stop reply comes at the next stop */
	} else if (!strcmp(pkt, "D")) {
		send_pkt(s, "OK");
		kvmvm_resume(v);
		s->running = true;
	} else {
		send_pkt(s, "");	/* unsupported */
	}
}

/* One byte before deadline (gp_now_ns): 1, or 0 when the time is up, or
 * -1 when the client hung up. */
static int read_by(struct gdbsrv *s, char *c, uint64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = s->cfd, .events = POLLIN };
		uint64_t now = gp_now_ns();
		int rc;

		if (now >= deadline)
			return 0;
		rc = poll(&p, 1, (int)((deadline - now + 999999) / 1000000));
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return -1;
		if (rc == 0)
			continue;	/* the deadline check above decides */
		return read(s->cfd, c, 1) == 1 ? 1 : -1;
	}
}

static int hexdig(char c)
{
	char b[3] = { '0', c, '\0' };

	return unhex_byte(b);
}

/*
 * Read one packet into buf (cap bytes), decoded and NUL-terminated, or a
 * 0x03 break (returned as "\x03"). Returns 1 for a packet, 2 for a packet
 * to refuse (too long, undecodable, a NUL inside; acked, buf empty), 0 when
 * no packet began within timeout_ms (noise does not extend it), -1 when the
 * client hung up or stalled mid-packet. Bad checksums are nacked and
 * dropped here.
 */
static int recv_pkt(struct gdbsrv *s, char *buf, size_t cap, int timeout_ms)
{
	static char raw[PKT_MAX * 2];
	uint64_t idle = gp_now_ns() + (uint64_t)timeout_ms * 1000000;

	for (;;) {
		uint64_t deadline;
		size_t n = 0;
		bool too_long = false;
		char c, cs[2];
		int rc, hi, lo;
		long dl;

		rc = read_by(s, &c, idle);
		if (rc <= 0)
			return rc;
		if (c == 0x03) {
			strcpy(buf, "\x03");
			return 1;
		}
		if (c != '$')
			continue;	/* acks and noise */
		deadline = gp_now_ns() + (uint64_t)PKT_STALL_MS * 1000000;
		for (;;) {
			if ((rc = read_by(s, &c, deadline)) <= 0)
				return -1;
			if (c == '#')
				break;
			if (n < sizeof(raw))
				raw[n++] = c;
			else
				too_long = true;	/* read on to its end */
		}
		if (read_by(s, &cs[0], deadline) <= 0 || read_by(s, &cs[1], deadline) <= 0)
			return -1;
		hi = hexdig(cs[0]);
		lo = hexdig(cs[1]);
		if (!too_long && (hi < 0 || lo < 0 || (hi << 4 | lo) != gdbc_checksum(raw, n))) {
			/* Ask again, and forget this one. */
			if (!s->noack && send(s->cfd, "-", 1, MSG_NOSIGNAL) != 1)
				return -1;
			continue;
		}
		if (!s->noack && send(s->cfd, "+", 1, MSG_NOSIGNAL) != 1)
			return -1;
		buf[0] = '\0';
		if (too_long)
			return 2;
		dl = gdbc_decode(raw, n, buf, cap - 1);
		if (dl < 0 || memchr(buf, '\0', (size_t)dl)) {
			buf[0] = '\0';
			return 2;
		}
		buf[dl] = '\0';
		return 1;
	}
}

/* Pause every vCPU; with GP_VMM_PAUSE_LOG set in the environment, log the
 * latency the VMM measured (request to every vCPU out of KVM_RUN) on
 * stderr, for benchmarks that run the VMM elsewhere (the nested rig). */
static void pause_vm(struct gdbsrv *s)
{
	kvmvm_pause(s->v);
	if (getenv("GP_VMM_PAUSE_LOG"))
		fprintf(stderr, "vmm: pause: %d vCPUs out of KVM_RUN in %.3f ms\n", s->v->nr_vcpus,
			s->v->last_pause_ns / 1e6);
}

/* One client, until it hangs up or the server quits. */
static void session(struct gdbsrv *s)
{
	static char buf[PKT_MAX * 2];

	/* As QEMU: a client attaching stops the guest (at its first
	 * packet other than qGuestpatch.memfd, see above). */
	s->attached = false;
	s->running = false;
	s->noack = false;
	while (!s->quit) {
		int rc = recv_pkt(s, buf, sizeof(buf), 20);

		if (rc < 0)
			break;
		if (rc == 2) {
			send_pkt(s, "E01");	/* malformed, or too long */
			continue;
		}
		if (rc == 0) {
			/* Idle: report a guest that stopped by itself. */
			if (s->running && kvmvm_wait(s->v, 0) != KVMVM_RUNNING) {
				send_pkt(s, "S05");
				s->running = false;
			}
			continue;
		}
		if (!strcmp(buf, "qGuestpatch.memfd")) {
			send_memfd(s);
			continue;
		}
		if (!s->attached) {
			pause_vm(s);
			s->attached = true;
		}
		if (buf[0] == 0x03) {
			pause_vm(s);
			if (s->running)
				send_pkt(s, "T02thread:01;");
			s->running = false;
			continue;
		}
		handle(s, buf);
	}
	if (s->attached)
		kvmvm_resume(s->v);	/* a vanished client leaves the guest running */
}

void gdbsrv_session(struct kvmvm *v, int fd)
{
	struct gdbsrv s = { .v = v, .lfd = -1, .cfd = fd };

	session(&s);
}

static void *serve(void *arg)
{
	struct gdbsrv *s = arg;

	while (!s->quit) {
		struct pollfd p = { .fd = s->lfd, .events = POLLIN };

		if (poll(&p, 1, 100) <= 0)
			continue;
		s->cfd = accept(s->lfd, NULL, NULL);
		if (s->cfd < 0)
			continue;
		session(s);
		close(s->cfd);
		s->cfd = -1;
	}
	return NULL;
}

struct gp_error *gdbsrv_start(struct kvmvm *v, const char *path, struct gdbsrv **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct gdbsrv *s;
	mode_t old;
	int rc;

	*out = NULL;
	if (strlen(path) >= sizeof(sa.sun_path))
		return gp_error_create(GP_ERR_INVAL, "control socket path too long: %s", path);
	s = calloc(1, sizeof(*s));
	if (!s)
		return &gp_error_nomem;
	s->v = v;
	s->cfd = -1;
	strcpy(s->path, path);
	strcpy(sa.sun_path, path);
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->lfd < 0) {
		free(s);
		return gp_error_os(errno, "socket");
	}
	unlink(path);
	old = umask(0177);	/* the socket is mode 0600: it controls the VM */
	rc = bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0 || listen(s->lfd, 1) < 0) {
		struct gp_error *err = gp_error_os(errno, "control socket %s", path);

		close(s->lfd);
		free(s);
		return err;
	}
	rc = pthread_create(&s->thread, NULL, serve, s);
	if (rc) {
		close(s->lfd);
		free(s);
		return gp_error_os(rc, "control socket thread");
	}
	*out = s;
	return NULL;
}

void gdbsrv_stop(struct gdbsrv *s)
{
	if (!s)
		return;
	s->quit = true;
	pthread_join(s->thread, NULL);
	if (s->cfd >= 0)
		close(s->cfd);
	close(s->lfd);
	unlink(s->path);
	free(s);
}
