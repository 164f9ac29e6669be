// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * gdbsrv.c - the control socket of our own VMM: the GDB remote serial
 * protocol on a unix socket (mode 0600), one client at a time, speaking
 * the dialect tgt_qemu.c speaks to QEMU (so one client serves both):
 * attaching stops the guest, 'c' runs it, 0x03 stops it, 'D' detaches and
 * runs it; Qqemu.PhyMemMode is accepted (memory is always physical here);
 * registers follow the target description we serve.
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
#include "kvmvm.h"
#include "target.h"

#define PKT_MAX 4096

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

static int send_pkt(struct gdbsrv *s, const char *data)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = strlen(data);
	char *p = malloc(n + 5);
	uint8_t cs = gdbc_checksum(data, n);
	int rc = 0;

	if (!p)
		return -1;
	p[0] = '$';
	memcpy(p + 1, data, n);
	p[n + 1] = '#';
	p[n + 2] = hex[cs >> 4];
	p[n + 3] = hex[cs & 15];
	if (send(s->cfd, p, n + 4, MSG_NOSIGNAL) != (ssize_t)(n + 4))
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

static void reply_regs(struct gdbsrv *s)
{
	struct tgt_regs r;
	uint8_t raw[33 * 8];
	char out[sizeof(raw) * 2 + 1];
	size_t n = 0;

	if (kvmvm_get_regs(s->v, s->sel, &r)) {
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
	} else if (sscanf(pkt, "m%llx,%llx", &addr, &len) == 2) {
		uint8_t *p = len <= (PKT_MAX - 8) / 2 ? kvmvm_gpa(v, addr, len) : NULL;

		if (!p)
			send_pkt(s, "E14");
		else {
			hexify(out, p, len);
			send_pkt(s, out);
		}
	} else if (sscanf(pkt, "M%llx,%llx:", &addr, &len) == 2) {
		const char *data = strchr(pkt, ':') + 1;
		uint8_t *p = len <= PKT_MAX ? kvmvm_gpa(v, addr, len) : NULL;

		if (!p || strlen(data) != 2 * len) {
			send_pkt(s, "E14");
			return;
		}
		for (unsigned long long i = 0; i < len; i++) {
			int b = unhex_byte(data + 2 * i);

			if (b < 0) {
				send_pkt(s, "E01");
				return;
			}
			p[i] = (uint8_t)b;
		}
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

/* Read one packet (or a 0x03 break, returned as "\\x03"). -1: closed. */
static int recv_pkt(struct gdbsrv *s, char *buf, size_t cap, int timeout_ms)
{
	size_t n = 0;
	char c;

	for (;;) {
		struct pollfd p = { .fd = s->cfd, .events = POLLIN };
		int rc = poll(&p, 1, n ? 5000 : timeout_ms);

		if (rc == 0)
			return n ? -1 : 0;	/* idle, or a peer stalled mid-packet */
		if (rc < 0 || read(s->cfd, &c, 1) != 1)
			return -1;
		if (!n) {
			if (c == 0x03) {
				strcpy(buf, "\x03");
				return 1;
			}
			if (c != '$')
				continue;	/* acks and noise */
			n = 1;
			continue;
		}
		if (c == '#') {
			char cs[2];

			if (read(s->cfd, cs, 2) != 2)
				return -1;
			buf[n - 1] = '\0';
			if (!s->noack && send(s->cfd, "+", 1, MSG_NOSIGNAL) != 1)
				return -1;
			return 1;
		}
		if (n >= cap)
			return -1;
		buf[n - 1] = c;
		n++;
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

static void *serve(void *arg)
{
	struct gdbsrv *s = arg;
	static char buf[PKT_MAX * 2];

	while (!s->quit) {
		struct pollfd p = { .fd = s->lfd, .events = POLLIN };

		if (poll(&p, 1, 100) <= 0)
			continue;
		s->cfd = accept(s->lfd, NULL, NULL);
		if (s->cfd < 0)
			continue;
		/* As QEMU: a client attaching stops the guest (at its first
		 * packet other than qGuestpatch.memfd, see above). */
		s->attached = false;
		s->running = false;
		s->noack = false;
		while (!s->quit) {
			int rc = recv_pkt(s, buf, sizeof(buf), 20);

			if (rc < 0)
				break;
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
		close(s->cfd);
		s->cfd = -1;
		if (s->attached)
			kvmvm_resume(s->v);	/* a vanished client leaves the guest running */
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
