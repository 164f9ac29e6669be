// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "console.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

void con_init(struct rig_console *c, int fd, bool (*alive)(void *), void *arg)
{
	*c = (struct rig_console){.fd = fd, .alive = alive, .arg = arg};
}

void con_close(struct rig_console *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->pend);
	c->pend = NULL;
	c->pend_len = 0;
}

int con_connect_unix(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return fd;
	if (fd >= 0)
		close(fd);
	return -1;
}

void con_forget(struct rig_console *c)
{
	c->pend_len = 0;
}

void con_trim(struct rig_console *c, size_t keep)
{
	if (c->pend_len > keep) {
		memmove(c->pend, c->pend + c->pend_len - keep, keep);
		c->pend_len = keep;
	}
}

/* The last line of a kernel's panic report. */
#define PANIC_END "---[ end Kernel panic"
#define PANIC_END_LEN (sizeof(PANIC_END) - 1)

char *con_read_until(struct rig_console *c, const char *marker, double timeout_s)
{
	size_t cap = 65536 + c->pend_len, len = 0, mlen = strlen(marker);
	char *buf = malloc(cap + 1);
	double end = now_s() + timeout_s;

	if (!buf)
		return NULL;
	if (c->pend_len)
		memcpy(buf, c->pend, c->pend_len);
	len = c->pend_len;
	buf[len] = '\0';
	c->pend_len = 0;
	for (;;) {
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		char *hit = len >= mlen ? memmem(buf, len, marker, mlen) : NULL;
		double left = end - now_s();
		ssize_t n;

		if (hit) {
			size_t rest = len - (size_t)(hit - buf) - mlen;
			char *np = realloc(c->pend, rest + 1);

			if (np) {
				memcpy(np, hit + mlen, rest);
				c->pend = np;
				c->pend_len = rest;
			}
			*hit = '\0';
			return buf;
		}
		if (left <= 0 || c->fd < 0 || (c->alive && !c->alive(c->arg)))
			break;
		if (poll(&p, 1, (int)(left * 1000) + 1) <= 0)
			continue;
		if (len + 4096 + 1 > cap) {
			char *nb = realloc(buf, cap * 2 + 1);

			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
		n = read(c->fd, buf + len, 4096);
		if (n <= 0)
			break;
		if (getenv("GP_RIG_DEBUG"))
			fprintf(stderr, "rig< %.*s\n", (int)n, buf + len);
		len += (size_t)n;
		buf[len] = '\0';
		/* A kernel that finished its panic report answers nothing more:
		 * stop waiting (the caller sees the report in what is kept).
		 * Only the new bytes and the line's length before them. */
		size_t scan = len - (size_t)n > PANIC_END_LEN ? len - (size_t)n - PANIC_END_LEN : 0;

		if (memmem(buf + scan, len - scan, PANIC_END, PANIC_END_LEN))
			break;
	}
	/* Keep what came, so a late marker is not lost for good. */
	free(c->pend);
	c->pend = buf;
	c->pend_len = len;
	return NULL;
}

int con_send(struct rig_console *c, const char *s)
{
	size_t len = strlen(s);

	if (c->fd < 0)
		return -1;
	while (len) {
		/* A socket: a guest that is gone is an error, not SIGPIPE. */
		ssize_t n = send(c->fd, s, len, MSG_NOSIGNAL);

		if (n < 0 && errno == ENOTSOCK)
			n = write(c->fd, s, len);

		if (n <= 0)
			return -1;
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Drop \r and a leading newline. */
static void clean(char *s)
{
	char *w = s;

	for (char *p = s; *p; p++)
		if (*p != '\r')
			*w++ = *p;
	*w = '\0';
	while (s[0] == '\n')
		memmove(s, s + 1, strlen(s));
}

int con_exec(struct rig_console *c, const char *cmd, char **out, double timeout_s)
{
	char line[8192], marker[64], *text, *tail;
	int status = -1;
	unsigned seq = ++c->seq;

	if (out)
		*out = NULL;
	/* The marker in the command is split by quotes, so only its output
	 * (with the exit status) matches. */
	snprintf(marker, sizeof(marker), "@@GP%u-%d@@", seq, (int)getpid());
	if ((size_t)snprintf(line, sizeof(line), "%s\necho \"@@GP\"'%u-%d'\"@@$?@@\"\n", cmd, seq,
			     (int)getpid()) >= sizeof(line))
		return -1;
	if (con_send(c, line) < 0)
		return -1;
	text = con_read_until(c, marker, timeout_s);
	if (!text)
		return -1;
	/* After the marker: "<status>@@". */
	tail = con_read_until(c, "@@", 5);
	if (tail) {
		status = atoi(tail);
		free(tail);
	}
	clean(text);
	if (out)
		*out = text;
	else
		free(text);
	return status;
}
