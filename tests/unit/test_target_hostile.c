// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Hostile peers of the target layer (issue 11): a control socket that
 * hands over a descriptor that is no sealed memfd of the size it claims,
 * or that runs as someone else.  Each fake peer runs in a child process
 * with an alarm, as in test_gdbrsp.c; every case must end with a clear
 * error, in bounded time, and never hang.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
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
		alarm(alarm_s); /* never outlive a broken test */
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

static TCase *target_hostile_tcase(void)
{
	TCase *tc = tcase_create("target_hostile");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, vmm_memfd_refused);
	return tc;
}

GP_TCASE(target_hostile_tcase)
