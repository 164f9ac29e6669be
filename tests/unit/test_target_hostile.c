// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Hostile peers of the target layer (issue 11): a control socket that
 * hands over a descriptor that is no sealed memfd of the size it claims,
 * or that runs as someone else; gdbstubs that trickle junk, answer with
 * empty 'm' replies forever, list no threads, or describe their registers
 * with includes that fan out or loop; a gdbstub that answers before it
 * acks, and one that checks our escapes; QMP sockets that do not accept,
 * accept and never answer, answer with an endless trickle of events, or
 * claim more RAM than any guest has.  Each fake peer runs in a child process
 * with an alarm, as in test_gdbrsp.c; every case must end with a clear
 * error, in bounded time, and never hang.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gdbc.h"
#include "gp_check.h"
#include "target.h"

static char tmpdir[48];
static char sock_path[100];
static pid_t peer_pid = -1;
static int peer_sync_fd = -1;	/* in the child: the parent waits on it */

static void peer_kill(void)
{
	if (peer_pid > 0) {
		kill(peer_pid, SIGKILL);
		waitpid(peer_pid, NULL, 0);
		peer_pid = -1;
	}
}

static void setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/gp-hostile-XXXXXX");
	ck_assert(mkdtemp(tmpdir));
	snprintf(sock_path, sizeof(sock_path), "%s/peer.sock", tmpdir);
}

static void teardown(void)
{
	char cmd[128];

	peer_kill();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", tmpdir);
}

static int bind_unix(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Fork a peer that runs fn(listening fd, arg) and exits. The socket is
 * bound here; listen() is the child's (it may change uid first), and the
 * parent returns once it listens. */
static void peer_start(void (*fn)(int lfd, int arg), int arg, unsigned alarm_s)
{
	int lfd = bind_unix(sock_path), sync[2];
	char c;

	peer_kill();
	ck_assert_int_eq(pipe(sync), 0);
	peer_pid = fork();
	ck_assert_int_ge(peer_pid, 0);
	if (peer_pid == 0) {
		/* Never outlive a broken test. The default action: Check's
		 * own SIGALRM handler, inherited, would kill the test too. */
		signal(SIGALRM, SIG_DFL);
		alarm(alarm_s);
		signal(SIGPIPE, SIG_DFL);
		close(sync[0]);
		peer_sync_fd = sync[1];
		fn(lfd, arg);
		_exit(0);
	}
	close(sync[1]);
	ck_assert_int_eq(read(sync[0], &c, 1), 1);
	close(sync[0]);
	close(lfd);
}

/* In the child: listen, then let the parent go on. */
static void peer_ready(int lfd)
{
	if (listen(lfd, 1) < 0 || write(peer_sync_fd, "r", 1) != 1)
		_exit(2);
	close(peer_sync_fd);
}

/* Read one "$...#xx" request (and nothing more). */
static void peer_read_packet(int fd)
{
	char c;

	while (read(fd, &c, 1) == 1 && c != '#')
		;
	if (read(fd, &c, 1) != 1 || read(fd, &c, 1) != 1)
		_exit(3);
}

/* ---- the vmm: control socket and its memfd ---- */

enum memfd_kind {
	MEMFD_SEALED,	/* what the monitor sends: the gdb stage comes next */
	MEMFD_UNSEALED, /* a memfd that may shrink under our mapping */
	MEMFD_REGULAR,	/* a plain file, no memfd */
	MEMFD_SMALL,	/* sealed, but smaller than claimed */
	MEMFD_OTHER_UID /* sealed and right, from a peer that is not us */
};

#define PEER_RAM 0x10000

static int memfd_make(enum memfd_kind kind)
{
	char path[128];
	int fd;

	if (kind == MEMFD_REGULAR) {
		snprintf(path, sizeof(path), "%s/ram", tmpdir);
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || ftruncate(fd, PEER_RAM) < 0)
			_exit(4);
		return fd;
	}
	fd = memfd_create("peer-ram", kind == MEMFD_UNSEALED ? 0 : MFD_ALLOW_SEALING);
	if (fd < 0 || ftruncate(fd, kind == MEMFD_SMALL ? 0x1000 : PEER_RAM) < 0)
		_exit(4);
	if (kind != MEMFD_UNSEALED && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0)
		_exit(4);
	return fd;
}

static void memfd_peer(int lfd, int kind)
{
	char body[64], pkt[96];
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov;
	struct msghdr m = {0};
	struct cmsghdr *c;
	int fd, mfd;

	mfd = memfd_make((enum memfd_kind)kind);
	if (kind == MEMFD_OTHER_UID && setuid(65534) < 0)
		_exit(5);
	peer_ready(lfd);
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		_exit(2);
	peer_read_packet(fd);
	snprintf(body, sizeof(body), "size=%x;lowmem=%x", PEER_RAM, PEER_RAM);
	snprintf(pkt, sizeof(pkt), "+$%s#%02x", body, gdbc_checksum(body, strlen(body)));
	iov.iov_base = pkt;
	iov.iov_len = strlen(pkt);
	memset(&ctl, 0, sizeof(ctl));
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = ctl.b;
	m.msg_controllen = sizeof(ctl.b);
	c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &mfd, sizeof(int));
	if (sendmsg(fd, &m, MSG_NOSIGNAL) < 0)
		_exit(3);
	close(fd);
	/* The gdbstub connection that follows a memfd we took: take the
	 * first request, then hang up (closing on unread data would be a
	 * reset, not the end of the stream). */
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		_exit(2);
	peer_read_packet(fd);
	shutdown(fd, SHUT_WR);
	while (read(fd, pkt, sizeof(pkt)) > 0)
		;
}

START_TEST(vmm_memfd_refused)
{
	static const struct {
		enum memfd_kind kind;
		enum gp_error_code code;
		const char *why;
	} cases[] = {
		{MEMFD_UNSEALED, GP_ERR_PROTOCOL, "not sealed against resizing"},
		{MEMFD_REGULAR, GP_ERR_PROTOCOL, "memfd"},
		{MEMFD_SMALL, GP_ERR_PROTOCOL, "4096 bytes but claims 65536"},
	};
	char spec[160];
	struct tgt *t = NULL;

	snprintf(spec, sizeof(spec), "vmm:%s", sock_path);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		peer_start(memfd_peer, cases[i].kind, 10);
		ck_err(tgt_open(spec, &t), cases[i].code, cases[i].why);
		ck_assert_ptr_null(t);
	}
	/* The monitor's own kind passes the checks: what fails next is the
	 * gdbstub stage (this peer hangs up there). */
	peer_start(memfd_peer, MEMFD_SEALED, 10);
	ck_err(tgt_open(spec, &t), GP_ERR_PROTOCOL, "closed");
	/* A peer that is neither us nor root; only root can stage one. */
	if (geteuid() == 0) {
		peer_start(memfd_peer, MEMFD_OTHER_UID, 10);
		ck_err(tgt_open(spec, &t), GP_ERR_PROTOCOL, "uid 65534");
	}
}
END_TEST

/* ---- gdbstubs: the client must end every exchange in bounded time ---- */

enum gdb_mode {
	GDB_TRICKLE,	     /* one junk byte every 100 ms, forever */
	GDB_EMPTY_M,	     /* 'm' with no thread, forever */
	GDB_NO_THREADS,	     /* an empty thread list */
	GDB_EMPTY_XFER,	     /* qXfer answered 'm' with no data, forever */
	GDB_XML_FANOUT,	     /* every document includes 50 new ones */
	GDB_XML_LOOP,	     /* target.xml includes itself */
	GDB_REPLY_FIRST,     /* the reply comes before the ack */
	GDB_CHECK_ESCAPES,   /* "Qesc:" must arrive escaped, checksum right */
};

static void gstub_send(int fd, const char *body)
{
	char pkt[8192];
	int n = snprintf(pkt, sizeof(pkt), "$%s#%02x", body, gdbc_checksum(body, strlen(body)));

	if (write(fd, pkt, (size_t)n) != n)
		_exit(3);
}

/* One request, raw (not decoded); false at the end of the stream. *ok
 * tells whether its checksum was right. */
static bool gstub_read(int fd, char *pkt, size_t cap, bool *ok)
{
	size_t n = 0;
	char c, cs[3] = {0};

	do {
		if (read(fd, &c, 1) != 1)
			return false;
	} while (c != '$');
	while (read(fd, &c, 1) == 1 && c != '#')
		if (n + 1 < cap)
			pkt[n++] = c;
	pkt[n] = '\0';
	if (read(fd, cs, 2) != 2)
		return false;
	*ok = strtoul(cs, NULL, 16) == gdbc_checksum(pkt, n);
	return true;
}

/* A document for qXfer in the fan-out and loop modes: in fan-out, each
 * includes 50 new ones, four levels deep (50^4 in all; no loop, no
 * nesting beyond what a stub may do). */
static void gstub_doc(enum gdb_mode mode, const char *annex, char *doc, size_t cap)
{
	size_t n = (size_t)snprintf(doc, cap, "<target>");
	int base = (int)(strlen(annex) > 4 ? strlen(annex) - 4 : 0), depth = 0;

	if (mode == GDB_XML_LOOP) {
		snprintf(doc + n, cap - n, "<xi:include href=\"target.xml\"/></target>");
		return;
	}
	for (const char *p = annex; *p; p++)
		depth += *p == '_';
	for (int i = 0; depth < 4 && i < 50 && n < cap; i++)
		n += (size_t)snprintf(doc + n, cap - n, "<xi:include href=\"%.*s_%d.xml\"/>",
				      base, annex, i);
	if (n < cap)
		snprintf(doc + n, cap - n, "</target>");
}

static void gstub_xfer(int fd, enum gdb_mode mode, const char *req)
{
	char annex[128], doc[4096], reply[512];
	unsigned long off, len;
	size_t dl;

	if (sscanf(req, "qXfer:features:read:%127[^:]:%lx,%lx", annex, &off, &len) != 3) {
		gstub_send(fd, "E01");
		return;
	}
	if (mode == GDB_EMPTY_XFER) {
		gstub_send(fd, "m");
		return;
	}
	gstub_doc(mode, annex, doc, sizeof(doc));
	dl = strlen(doc);
	if (len > 400)
		len = 400;
	if (off >= dl) {
		gstub_send(fd, "l");
		return;
	}
	if (len > dl - off)
		len = dl - off;
	reply[0] = off + len >= dl ? 'l' : 'm';
	memcpy(reply + 1, doc + off, len);
	reply[len + 1] = '\0';
	gstub_send(fd, reply);
}

static void gdb_peer(int lfd, int arg)
{
	enum gdb_mode mode = (enum gdb_mode)arg;
	char pkt[4096];
	bool ok;
	int fd;

	peer_ready(lfd);
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		_exit(2);
	if (mode == GDB_TRICKLE) {
		for (;;) {
			if (write(fd, "x", 1) != 1)
				_exit(0);
			usleep(100000);
		}
	}
	while (gstub_read(fd, pkt, sizeof(pkt), &ok)) {
		const char *reply = "";
		char raw[8256];

		if (!strncmp(pkt, "qSupported", 10))
			reply = "PacketSize=1000;qXfer:features:read+";
		else if (!strcmp(pkt, "qfThreadInfo"))
			reply = mode == GDB_EMPTY_M ? "m" : mode == GDB_NO_THREADS ? "l" : "m01";
		else if (!strcmp(pkt, "qsThreadInfo"))
			reply = mode == GDB_EMPTY_M ? "m" : "l";
		else if (!strncmp(pkt, "Qesc:", 5))
			reply = ok && !strcmp(pkt + 5, "a}\x03}\x04}]}\x0a" "b") ? "OK" : "E99";
		if (mode == GDB_REPLY_FIRST) {
			snprintf(raw, sizeof(raw), "$%s#%02x+", reply,
				 gdbc_checksum(reply, strlen(reply)));
			if (write(fd, raw, strlen(raw)) < 0)
				_exit(3);
			continue;
		}
		if (write(fd, "+", 1) != 1)
			_exit(3);
		if (!strncmp(pkt, "qXfer:features:read:", 20))
			gstub_xfer(fd, mode, pkt);
		else
			gstub_send(fd, reply);
	}
}

/* Connect to a stub in mode, with a 1 s exchange timeout. */
static struct gdbc *gdb_start(enum gdb_mode mode)
{
	struct gdbc *g;

	peer_start(gdb_peer, mode, 15);
	ck_ok(gdbc_connect(sock_path, 1000, &g));
	return g;
}

static void ck_quick(uint64_t t0, double max_s)
{
	double s = (double)(gp_now_ns() - t0) / 1e9;

	ck_assert_msg(s < max_s, "took %.1f s (at most %.1f s)", s, max_s);
}

START_TEST(gdbc_trickle)
{
	struct gdbc *g = gdb_start(GDB_TRICKLE);
	uint64_t t0 = gp_now_ns();

	/* Bytes keep coming, a reply never does: the exchange's deadline,
	 * not the gap between bytes, decides. */
	ck_err(gdbc_cmd(g, "qSupported"), GP_ERR_TIMEOUT, "gdbstub");
	ck_quick(t0, 3);
	gdbc_close(g);
}
END_TEST

START_TEST(gdbc_endless_threads)
{
	struct gdbc *g = gdb_start(GDB_EMPTY_M);
	uint64_t t0 = gp_now_ns();

	ck_err(gdbc_handshake(g), GP_ERR_PROTOCOL, "thread");
	ck_quick(t0, 5);
	gdbc_close(g);

	g = gdb_start(GDB_NO_THREADS);
	t0 = gp_now_ns();
	ck_err(gdbc_handshake(g), GP_ERR_PROTOCOL, "no threads");
	ck_quick(t0, 5);
	gdbc_close(g);
}
END_TEST

START_TEST(gdbc_endless_xfer)
{
	struct gdbc *g = gdb_start(GDB_EMPTY_XFER);
	uint64_t t0 = gp_now_ns();

	ck_err(gdbc_handshake(g), GP_ERR_PROTOCOL, "empty");
	ck_quick(t0, 5);
	gdbc_close(g);
}
END_TEST

START_TEST(gdbc_xml_includes)
{
	struct gdbc *g = gdb_start(GDB_XML_FANOUT);
	uint64_t t0 = gp_now_ns();

	ck_err(gdbc_handshake(g), GP_ERR_LIMIT, "documents");
	ck_quick(t0, 5);
	gdbc_close(g);

	g = gdb_start(GDB_XML_LOOP);
	t0 = gp_now_ns();
	ck_err(gdbc_handshake(g), GP_ERR_PROTOCOL, "loop");
	ck_quick(t0, 5);
	gdbc_close(g);
}
END_TEST

START_TEST(gdbc_reply_before_ack)
{
	struct gdbc *g = gdb_start(GDB_REPLY_FIRST);

	/* The reply that came while we waited for the ack is the reply. */
	ck_ok(gdbc_cmd(g, "qSupported"));
	ck_assert_str_eq(g->buf, "PacketSize=1000;qXfer:features:read+");
	ck_ok(gdbc_cmd(g, "qfThreadInfo"));
	ck_assert_str_eq(g->buf, "m01");
	gdbc_close(g);
}
END_TEST

START_TEST(gdbc_escapes)
{
	struct gdbc *g = gdb_start(GDB_CHECK_ESCAPES);

	/* '#', '$', '}' and '*' travel as '}' and the byte XOR 0x20. */
	ck_ok(gdbc_cmd_ok(g, "Qesc:a#$}*b"));
	gdbc_close(g);
}
END_TEST

/* ---- QMP: every conversation ends within its 5 s, whatever the peer ---- */

enum qmp_mode {
	QMP_SILENT,	/* accepts, never says a word */
	QMP_EVENTS,	/* greets, then only events, a byte every 10 ms */
	QMP_HUGE_RAM,	/* 2^62 bytes of base memory */
};

static void qmp_write(int fd, const char *s)
{
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		_exit(3);
}

/* Read up to the end of one command line. */
static void qmp_read_cmd(int fd)
{
	char c;

	while (read(fd, &c, 1) == 1 && c != '\n')
		;
}

static void qmp_peer(int lfd, int arg)
{
	static const char event[] =
		"{\"event\": \"RTC_CHANGE\", \"data\": {\"offset\": 0}, "
		"\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}}\n";
	enum qmp_mode mode = (enum qmp_mode)arg;
	int fd;

	peer_ready(lfd);
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		_exit(2);
	if (mode == QMP_SILENT) {
		pause();
		_exit(0);
	}
	qmp_write(fd, "{\"QMP\": {\"version\": {}, \"capabilities\": []}}\n");
	qmp_read_cmd(fd);
	qmp_write(fd, "{\"return\": {}}\n");
	qmp_read_cmd(fd);
	if (mode == QMP_HUGE_RAM) {
		qmp_write(fd, "{\"return\": {\"base-memory\": 4611686018427387904}}\n");
		qmp_read_cmd(fd);
		_exit(0);
	}
	for (;;) {
		for (size_t i = 0; i < sizeof(event) - 1; i++) {
			if (write(fd, event + i, 1) != 1)
				_exit(0);
			usleep(10000);
		}
	}
}

static void qmp_open(const char *qmp, enum gp_error_code code, const char *why)
{
	char spec[256];
	struct tgt *t = NULL;
	uint64_t t0 = gp_now_ns();

	/* QMP is asked before the gdbstub, which is not there. */
	snprintf(spec, sizeof(spec), "qemu:gdb=%s/no-gdb.sock,qmp=%s", tmpdir, qmp);
	ck_err(tgt_open(spec, &t), code, why);
	ck_assert_ptr_null(t);
	ck_quick(t0, 8);
}

START_TEST(qmp_silent)
{
	peer_start(qmp_peer, QMP_SILENT, 20);
	qmp_open(sock_path, GP_ERR_TIMEOUT, "QMP did not answer");
}
END_TEST

START_TEST(qmp_endless_events)
{
	/* Before, every byte restarted a 5 s wait, for up to 64 events. */
	peer_start(qmp_peer, QMP_EVENTS, 20);
	qmp_open(sock_path, GP_ERR_TIMEOUT, "QMP did not answer");
}
END_TEST

START_TEST(qmp_huge_ram)
{
	peer_start(qmp_peer, QMP_HUGE_RAM, 20);
	qmp_open(sock_path, GP_ERR_LIMIT, "64 TiB");
}
END_TEST

/* Another client holds QEMU's one QMP connection: QEMU does not accept
 * ours, and once the listener's backlog is full connect() itself would
 * block. A listener with a backlog of 0 and one connection queued. */
START_TEST(qmp_busy)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int lfd = bind_unix(sock_path), other;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	ck_assert_int_eq(listen(lfd, 0), 0);
	other = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_eq(connect(other, (struct sockaddr *)&sa, sizeof(sa)), 0);
	qmp_open(sock_path, GP_ERR_TIMEOUT, "another client");
	close(other);
	close(lfd);
}
END_TEST

static TCase *target_hostile_tcase(void)
{
	TCase *tc = tcase_create("target_hostile");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, vmm_memfd_refused);
	tcase_add_test(tc, gdbc_trickle);
	tcase_add_test(tc, gdbc_endless_threads);
	tcase_add_test(tc, gdbc_endless_xfer);
	tcase_add_test(tc, gdbc_xml_includes);
	tcase_add_test(tc, gdbc_reply_before_ack);
	tcase_add_test(tc, gdbc_escapes);
	tcase_add_test(tc, qmp_silent);
	tcase_add_test(tc, qmp_endless_events);
	tcase_add_test(tc, qmp_huge_ram);
	tcase_add_test(tc, qmp_busy);
	return tc;
}

GP_TCASE(target_hostile_tcase)
