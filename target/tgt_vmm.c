// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tgt_vmm.c - our own VMM (vmm run --gdb SOCKET) as a target: vmm:SOCKET.
 *
 * The control socket speaks the gdbstub dialect the QEMU backend drives,
 * so this backend is the QEMU one plus a fast RAM path: it first asks the
 * socket for the guest RAM's memfd (qGuestpatch.memfd, passed with
 * SCM_RIGHTS; that query does not stop the guest), then opens the QEMU
 * backend over that descriptor and the VMM's low-RAM split. A VMM that
 * does not answer the query still works, through packets only.
 *
 * The socket's peer is not trusted with more than it owns: it must run as
 * our uid or as root (SO_PEERCRED), and the descriptor must be a memfd
 * sealed against shrinking and growing (so the mapping can never SIGBUS
 * us) whose size is the size the peer claims. It is mapped as received,
 * never reopened by path (/proc/self/fd/N would reopen it read-write with
 * our own rights, whatever the peer handed us).
 *
 * Code writes go through the socket as with QEMU (tgt_qemu.c's rule);
 * on KVM a write through the mapping would do as well once every vCPU is
 * out of KVM_RUN, but one path for both keeps the engine's assumptions
 * in one place.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "gdbc.h"
#include "target.h"

/* The peer must be us or root: it is about to hand us memory to map. */
static struct gp_error *check_peer(const char *path, int s)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		return gp_error_os(errno, "SO_PEERCRED on %s", path);
	if (cr.uid != geteuid() && cr.uid != 0)
		return gp_error_create(GP_ERR_PROTOCOL,
				       "%s is served by uid %u (pid %d), neither our uid %u nor root: refusing it",
				       path, (unsigned)cr.uid, (int)cr.pid, (unsigned)geteuid());
	return NULL;
}

/* What the peer passed must be a memfd we can map for good: sealed against
 * resizing (seals first, so the size checked next cannot change), exactly
 * the size it claims, and open read-write. */
static struct gp_error *check_memfd(const char *path, int fd, unsigned long long size,
				    unsigned long long lowmem)
{
	const int need = F_SEAL_SHRINK | F_SEAL_GROW;
	struct stat st;
	int seals, fl;

	if (fstat(fd, &st) < 0)
		return gp_error_os(errno, "fstat the RAM descriptor from %s", path);
	if (!S_ISREG(st.st_mode))
		return gp_error_create(GP_ERR_PROTOCOL,
				       "%s passed a RAM descriptor that is not a memfd (file type 0%o)",
				       path, (unsigned)(st.st_mode & S_IFMT));
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0)
		return gp_error_create(GP_ERR_PROTOCOL,
				       "%s passed a RAM descriptor that is not a memfd (F_GET_SEALS: %s)",
				       path, strerror(errno));
	if ((seals & need) != need)
		return gp_error_create(GP_ERR_PROTOCOL,
				       "%s passed a RAM memfd that is not sealed against resizing (seals 0x%x, need F_SEAL_SHRINK|F_SEAL_GROW)",
				       path, (unsigned)seals);
	if (fstat(fd, &st) < 0)
		return gp_error_os(errno, "fstat the RAM memfd from %s", path);
	if (!size || (unsigned long long)st.st_size != size)
		return gp_error_create(GP_ERR_PROTOCOL,
				       "%s passed a RAM memfd of %lld bytes but claims %llu bytes",
				       path, (long long)st.st_size, size);
	if (lowmem > size)
		return gp_error_create(GP_ERR_PROTOCOL,
				       "%s claims %llu bytes of low RAM out of %llu", path, lowmem,
				       size);
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (fl & O_ACCMODE) != O_RDWR)
		return gp_error_create(GP_ERR_PROTOCOL,
				       "%s passed a RAM memfd that is not open read-write", path);
	return NULL;
}

/* Ask for the memfd. Returns NULL with *fd = -1 when the VMM has none. */
static struct gp_error *get_memfd(const char *path, int *fd, unsigned long long *size,
				  unsigned long long *lowmem)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static const char hex[] = "0123456789abcdef";
	const char *q = "qGuestpatch.memfd";
	char req[64], buf[256];
	size_t n = 0;
	uint8_t cs = gdbc_checksum(q, strlen(q));
	struct gp_error *err = NULL;
	/* One deadline for the whole query, however the peer paces it. */
	uint64_t deadline = gp_now_ns() + 10000 * 1000000ull;
	int s;

	*fd = -1;
	if (strlen(path) >= sizeof(sa.sun_path))
		return gp_error_create(GP_ERR_INVAL, "socket path too long: %s", path);
	strcpy(sa.sun_path, path);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return gp_error_os(errno, "socket");
	if ((err = gdbc_sock_connect(s, (struct sockaddr *)&sa, sizeof(sa), path, deadline))) {
		close(s);
		if (err->code == GP_ERR_OS) {
			int e = err->errnum;

			gp_error_destroy(err);
			err = gp_error_os(e, "connect to %s (is `vmm run --gdb %s` running?)", path,
					  path);
		}
		return err;
	}
	if ((err = check_peer(path, s)))
		goto out;
	snprintf(req, sizeof(req), "$%s#%c%c", q, hex[cs >> 4], hex[cs & 15]);
	if (send(s, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req)) {
		err = gp_error_os(errno, "write %s", path);
		goto out;
	}
	/* Read "+", then "$body#xx"; the fd rides on one of the reads. */
	for (;;) {
		union {
			struct cmsghdr h;
			char b[CMSG_SPACE(sizeof(int))];
		} ctl;
		struct iovec iov = { .iov_base = buf + n, .iov_len = sizeof(buf) - 1 - n };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
				    .msg_controllen = sizeof(ctl.b) };
		struct pollfd p = { .fd = s, .events = POLLIN };
		struct cmsghdr *c;
		uint64_t now = gp_now_ns();
		char *hash;
		ssize_t r;
		int rc;

		rc = now < deadline ? poll(&p, 1, (int)((deadline - now + 999999) / 1000000)) : 0;

		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0) {
			err = gp_error_create(GP_ERR_TIMEOUT, "%s did not answer within 10 s", path);
			goto out;
		}
		r = recvmsg(s, &m, MSG_CMSG_CLOEXEC);
		if (r <= 0) {
			err = gp_error_create(GP_ERR_PROTOCOL, "%s closed the connection", path);
			goto out;
		}
		for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
			size_t nfd;

			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
			    c->cmsg_len < CMSG_LEN(0))
				continue;
			/* Keep the last single descriptor; close any other
			 * the peer pushed on us. */
			nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < nfd; i++) {
				int one;

				memcpy(&one, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				if (*fd >= 0)
					close(*fd);
				*fd = nfd == 1 ? one : -1;
				if (nfd != 1)
					close(one);
			}
		}
		n += (size_t)r;
		buf[n] = '\0';
		hash = strchr(buf, '#');
		if (hash && strlen(hash) >= 3) {
			char *body = strchr(buf, '$');

			if (!body || body > hash) {
				err = gp_error_create(GP_ERR_PROTOCOL, "%s: malformed reply", path);
				goto out;
			}
			*hash = '\0';
			if (sscanf(body + 1, "size=%llx;lowmem=%llx", size, lowmem) != 2 && *fd >= 0) {
				close(*fd);	/* an fd without its description: ignore */
				*fd = -1;
			}
			if (*fd >= 0)
				err = check_memfd(path, *fd, *size, *lowmem);
			break;
		}
		if (n >= sizeof(buf) - 1) {
			err = gp_error_create(GP_ERR_PROTOCOL, "%s: reply too long", path);
			goto out;
		}
	}
out:
	close(s);
	if (err && *fd >= 0) {
		close(*fd);
		*fd = -1;
	}
	return err;
}

struct gp_error *tgt_vmm_open(const char *path, struct tgt **out)
{
	unsigned long long size = 0, lowmem = 0;
	struct gp_error *err;
	char spec[512];
	int fd;

	*out = NULL;
	if (!*path)
		return gp_error_create(GP_ERR_INVAL, "missing SOCKET (vmm:SOCKET)");
	if (strchr(path, ','))
		return gp_error_create(GP_ERR_INVAL, "socket path %s: no commas, please", path);
	if ((err = get_memfd(path, &fd, &size, &lowmem)))
		return err;
	snprintf(spec, sizeof(spec), "gdb=%s", path);
	if (fd >= 0)
		snprintf(spec, sizeof(spec), "gdb=%s,lowmem=0x%llx", path, lowmem);
	err = tgt_qemu_open_fd(spec, fd, out);
	if (fd >= 0)
		close(fd);	/* the mapping stays */
	return err;
}
