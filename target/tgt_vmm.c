// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tgt_vmm.c - our own VMM (vmm run --gdb SOCKET) as a target: vmm:SOCKET.
 *
 * The control socket speaks the gdbstub dialect the QEMU backend drives,
 * so this backend is the QEMU one plus a fast RAM path: it first asks the
 * socket for the guest RAM's memfd (qGuestpatch.memfd, passed with
 * SCM_RIGHTS; that query does not stop the guest), then opens the QEMU
 * backend with mem=/proc/self/fd/N and the VMM's low-RAM split. A VMM that
 * does not answer the query still works, through packets only.
 *
 * Code writes go through the socket as with QEMU (tgt_qemu.c's rule);
 * on KVM a write through the mapping would do as well once every vCPU is
 * out of KVM_RUN, but one path for both keeps the engine's assumptions
 * in one place.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "gdbc.h"
#include "target.h"

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
	int s;

	*fd = -1;
	if (strlen(path) >= sizeof(sa.sun_path))
		return gp_error_create(GP_ERR_INVAL, "socket path too long: %s", path);
	strcpy(sa.sun_path, path);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return gp_error_os(errno, "socket");
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = gp_error_os(errno, "connect to %s (is `vmm run --gdb %s` running?)", path, path);
		close(s);
		return err;
	}
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
		char *hash;
		ssize_t r;

		if (poll(&p, 1, 10000) <= 0) {
			err = gp_error_create(GP_ERR_TIMEOUT, "%s did not answer", path);
			goto out;
		}
		r = recvmsg(s, &m, MSG_CMSG_CLOEXEC);
		if (r <= 0) {
			err = gp_error_create(GP_ERR_PROTOCOL, "%s closed the connection", path);
			goto out;
		}
		for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
			    c->cmsg_len == CMSG_LEN(sizeof(int))) {
				if (*fd >= 0)
					close(*fd);
				memcpy(fd, CMSG_DATA(c), sizeof(int));
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
	if (fd >= 0)
		snprintf(spec, sizeof(spec), "gdb=%s,mem=/proc/self/fd/%d,lowmem=0x%llx", path, fd,
			 lowmem);
	else
		snprintf(spec, sizeof(spec), "gdb=%s", path);
	err = tgt_qemu_open(spec, out);
	if (fd >= 0)
		close(fd);	/* the mapping stays */
	return err;
}
