// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * lock.c - one owner per guest on this host.
 *
 * Before attaching to a live guest, vmm takes an exclusive flock on a file
 * named after the target (its gdbstub address or socket, or the libvirt
 * domain), in
 * /run/guestpatch (or /tmp/guestpatch-UID where there is no /run;
 * GP_LOCK_DIR overrides both).  A second vmm against the
 * same guest fails at once, naming the holder, instead of waiting for the
 * gdbstub (which serves one client) to time out.  The kernel releases a
 * flock when its holder dies, so a stale lock cannot exist; the file's
 * text is only the holder's description.  A vmm that was killed leaves
 * the lock with its guardian (they share the open file) until the guest
 * runs again: a vmm started meanwhile waits for that, up to 5 s.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "gp_hash.h"

/* What identifies the guest: the gdbstub address (qemu:), the socket's
 * real path (vmm:); raw: images are not locked. */
static bool lock_key(const char *spec, char *key, size_t len)
{
	const char *g;
	char real[PATH_MAX];

	if (!strncmp(spec, "libvirt:", 8)) {
		/* The URI and the domain as given (a name and a UUID for one
		 * domain lock apart; the lock in the guest still holds). */
		const char *d = spec + 8, *u = strstr(d, ",uri=");

		snprintf(key, len, "libvirt:%.*s/%.*s", u ? (int)strcspn(u + 5, ",") : 14,
			 u ? u + 5 : "qemu:///system", (int)strcspn(d, ","), d);
		return true;
	}
	if (!strncmp(spec, "vmm:", 4))
		g = spec + 4;
	else if (!strncmp(spec, "qemu:", 5) && (g = strstr(spec, "gdb=")))
		g += 4;
	else
		return false;
	snprintf(key, len, "%.*s", (int)strcspn(g, ","), g);
	if (key[0] == '/' && realpath(key, real))
		snprintf(key, len, "%s", real);
	return true;
}

struct gp_error *cli_lock(struct cli *c, int argc, char **argv)
{
	const char *dir = getenv("GP_LOCK_DIR");
	char key[PATH_MAX], path[PATH_MAX + 64], text[512], host[64] = "?", when[32], tmp[64];
	uint64_t h;
	size_t n = 0;
	time_t now = time(NULL);
	int fd;

	c->lock_fd = -1;
	if (!lock_key(c->target, key, sizeof(key)))
		return NULL;
	h = gp_fnv1a(GP_FNV_OFFSET, key, strlen(key));
	/* /run/guestpatch where /run exists (systemd hosts), else a
	 * per-user directory in /tmp (minimal systems). */
	if (!dir) {
		dir = "/run/guestpatch";
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			snprintf(tmp, sizeof(tmp), "/tmp/guestpatch-%u", (unsigned)getuid());
			dir = tmp;
		}
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return gp_error_os(errno, "lock directory %s (set GP_LOCK_DIR)", dir);
	snprintf(path, sizeof(path), "%s/target-%016llx.lock", dir, (unsigned long long)h);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return gp_error_os(errno, "lock file %s", path);
	/* Held by a live vmm: busy, at once.  Held after its vmm died: its
	 * guardian is rolling back and resuming the guest; wait for it. */
	for (int tries = 0; flock(fd, LOCK_EX | LOCK_NB) < 0; tries++) {
		int lock_errno = errno;
		ssize_t r = lock_errno == EWOULDBLOCK ? pread(fd, text, sizeof(text) - 1, 0) : -1;
		int holder = 0;

		if (r > 0) {
			text[r] = '\0';
			text[strcspn(text, "\n")] = '\0';
			sscanf(text, "pid %d", &holder);
		}
		if (r > 0 && holder > 0 && kill(holder, 0) < 0 && errno == ESRCH && tries < 100) {
			usleep(50000);
			continue;
		}
		close(fd);
		if (lock_errno != EWOULDBLOCK)
			return gp_error_os(lock_errno, "locking %s", path);
		if (r <= 0)	/* its holder has not written its name yet */
			snprintf(text, sizeof(text), "another vmm that has just started");
		return gp_error_create(GP_ERR_BUSY, "busy: %s is in use by %s (lock %s)",
				       c->target, text, path);
	}
	gethostname(host, sizeof(host) - 1);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime(&now));
	n = (size_t)snprintf(text, sizeof(text), "pid %d on %s since %s: vmm", (int)getpid(), host,
			     when);
	for (int i = 0; i < argc && n < sizeof(text) - 2; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, " %s", argv[i]);
	if (n >= sizeof(text) - 1)
		n = sizeof(text) - 2;
	text[n++] = '\n';
	if (ftruncate(fd, 0) < 0 || pwrite(fd, text, n, 0) != (ssize_t)n) {
		int e = errno;

		close(fd);
		return gp_error_os(e, "writing %s", path);
	}
	c->lock_fd = fd;
	return NULL;
}
