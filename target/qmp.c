// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * qmp.c - the little of QMP the qemu target needs (the guest's RAM size,
 * and a continue as the last resort when a gdbstub detach failed), with
 * one deadline per conversation.
 */
#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "gdbc.h"
#include "gp_time.h"
#include "qmp.h"

/*
 * QMP. The peer is not trusted to answer, nor to answer briefly: each
 * conversation (connect, greeting, capabilities, one command) has one
 * deadline of QMP_TIMEOUT_MS, however the peer paces its bytes or how many
 * events it sends, and a QMP socket that does not accept us (QEMU serves
 * one client at a time; with another connected ours waits in the backlog,
 * or connect() blocks when that is full) times out the same way.
 */
#define QMP_TIMEOUT_MS 5000

/* One conversation: the socket and what was read past the last line
 * (QMP may send an event right behind a reply). */
struct qmp_conn {
	int fd;
	size_t len;		/* bytes in buf */
	char buf[65536];
};

/* Read one JSON object (line) before deadline.  Reads as much as the
 * socket has (not a byte a time: a conversation was ~1000 system calls). */
static struct gp_error *qmp_read(struct qmp_conn *c, uint64_t deadline, json_object **out)
{
	size_t scanned = 0;

	for (;;) {
		struct pollfd pf = { .fd = c->fd, .events = POLLIN };
		char *nl = memchr(c->buf + scanned, '\n', c->len - scanned);
		uint64_t now;
		ssize_t r;
		int rc;

		if (nl) {
			size_t line = (size_t)(nl - c->buf);

			*nl = '\0';
			*out = json_tokener_parse(c->buf);
			memmove(c->buf, nl + 1, c->len - line - 1);
			c->len -= line + 1;
			if (!*out)
				return gp_error_create(GP_ERR_PROTOCOL, "QMP sent malformed JSON");
			return NULL;
		}
		scanned = c->len;
		if (c->len >= sizeof(c->buf) - 1)
			return gp_error_create(GP_ERR_PROTOCOL, "QMP line too long");
		now = gp_now_ns();
		if (now >= deadline)
			return gp_error_create(GP_ERR_TIMEOUT, "QMP did not answer within %d ms%s",
					       QMP_TIMEOUT_MS, c->len ? " (it sent part of a line)" : "");
		rc = poll(&pf, 1, (int)((deadline - now + 999999) / 1000000));
		if (rc < 0 && errno != EINTR)
			return gp_error_os(errno, "poll QMP");
		if (rc <= 0)
			continue;
		r = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
		if (r <= 0)
			return gp_error_create(GP_ERR_PROTOCOL, "QMP closed the connection");
		c->len += (size_t)r;
	}
}

/* Reply to one command before deadline, skipping (at most 64)
 * asynchronous events. */
static struct gp_error *qmp_exec(struct qmp_conn *c, uint64_t deadline, const char *cmd,
				 json_object **ret)
{
	struct gp_error *err;
	size_t len = strlen(cmd);

	/* A command is short: the socket takes it at once unless the peer
	 * has not read for a long while. */
	if (send(c->fd, cmd, len, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)len)
		return gp_error_os(errno, "write QMP");
	for (int i = 0; i < 64; i++) {
		json_object *o, *v;

		if ((err = qmp_read(c, deadline, &o)))
			return err;
		if (!json_object_is_type(o, json_type_object)) {
			json_object_put(o);
			return gp_error_create(GP_ERR_PROTOCOL, "QMP sent JSON that is no object");
		}
		if (json_object_object_get_ex(o, "return", &v)) {
			*ret = json_object_get(v);
			json_object_put(o);
			return NULL;
		}
		if (json_object_object_get_ex(o, "error", &v)) {
			err = gp_error_create(GP_ERR_PROTOCOL, "QMP: %.200s",
					      json_object_to_json_string(v));
			json_object_put(o);
			return err;
		}
		json_object_put(o);	/* event */
	}
	return gp_error_create(GP_ERR_PROTOCOL, "QMP: no reply after 64 events");
}

static void qmp_hangup(struct qmp_conn *c)
{
	close(c->fd);
	free(c);
}

/* Connect to QMP and leave capabilities negotiation mode, before deadline.
 * *cp is malloc'd; qmp_hangup() closes and frees it. */
static struct gp_error *qmp_connect(const char *path, uint64_t deadline, struct qmp_conn **cp)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	json_object *greet = NULL, *r = NULL;
	struct gp_error *err;
	struct qmp_conn *c;
	char what[160];

	if (strlen(path) >= sizeof(sa.sun_path))
		return gp_error_create(GP_ERR_INVAL, "QMP path too long: %s", path);
	strcpy(sa.sun_path, path);
	snprintf(what, sizeof(what), "QMP %s", path);
	c = malloc(sizeof(*c));
	if (!c)
		return &gp_error_nomem;
	c->len = 0;
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		err = gp_error_os(errno, "socket");
		free(c);
		return err;
	}
	if ((err = gdbc_sock_connect(c->fd, (struct sockaddr *)&sa, sizeof(sa), what, deadline))) {
		qmp_hangup(c);
		return err;
	}
	if ((err = qmp_read(c, deadline, &greet)) ||
	    (err = qmp_exec(c, deadline, "{\"execute\":\"qmp_capabilities\"}\n", &r))) {
		qmp_hangup(c);
		json_object_put(greet);
		return gp_error_wrap(err, "QMP %s", path);
	}
	json_object_put(greet);
	json_object_put(r);
	*cp = c;
	return NULL;
}

/*
 * The most guest RAM we take from QMP: 64 TiB, the most a kernel with
 * 4-level paging can use (MAX_PHYSMEM_BITS 46) and more than any VM on
 * offer. Without a RAM file, ram_top bounds introspect's scans of
 * physical memory, one page at a time through the gdbstub; a lying QMP
 * must not turn that into 2^50 pages.
 */
#define QMP_MAX_RAM (64ull << 40)

/* Guest RAM size from query-memory-size-summary. */
static struct gp_error *ram_size(struct qmp_conn *c, const char *path, uint64_t deadline,
				 uint64_t *size)
{
	json_object *r = NULL, *v;
	struct gp_error *err;
	int64_t bytes;

	if ((err = qmp_exec(c, deadline, "{\"execute\":\"query-memory-size-summary\"}\n", &r)))
		goto out;
	if (!json_object_object_get_ex(r, "base-memory", &v) ||
	    !json_object_is_type(v, json_type_int) || (bytes = json_object_get_int64(v)) <= 0) {
		err = gp_error_create(GP_ERR_PROTOCOL, "QMP %s: no base-memory in %.200s", path,
				      json_object_to_json_string(r));
		goto out;
	}
	if ((uint64_t)bytes > QMP_MAX_RAM) {
		err = gp_error_create(GP_ERR_LIMIT,
				      "QMP %s says the guest has %lld bytes of RAM, more than the %llu TiB a guest can use (4-level paging)",
				      path, (long long)bytes, QMP_MAX_RAM >> 40);
		goto out;
	}
	*size = (uint64_t)bytes;
out:
	json_object_put(r);
	return err;
}

/* Whether the VM is stopped as its user stopped it (QMP `stop`, status
 * "paused"), from query-status. */
static struct gp_error *user_paused(struct qmp_conn *c, const char *path, uint64_t deadline,
				    bool *paused)
{
	json_object *r = NULL, *run, *st;
	struct gp_error *err;

	if (!(err = qmp_exec(c, deadline, "{\"execute\":\"query-status\"}\n", &r))) {
		if (!json_object_object_get_ex(r, "running", &run) ||
		    !json_object_object_get_ex(r, "status", &st) ||
		    !json_object_is_type(st, json_type_string))
			err = gp_error_create(GP_ERR_PROTOCOL, "QMP %s: no running/status in %.200s",
					      path, json_object_to_json_string(r));
		else
			*paused = !json_object_get_boolean(run) &&
				  !strcmp(json_object_get_string(st), "paused");
	}
	json_object_put(r);
	return err;
}

/* Both in one conversation (a connection costs a greeting and a
 * capabilities exchange).  Asked before our gdbstub connects: once
 * connected, the stub's own stop reads the same. */
struct gp_error *qmp_probe(const char *path, uint64_t *size, bool *paused)
{
	uint64_t deadline = gp_now_ns() + (uint64_t)QMP_TIMEOUT_MS * 1000000;
	struct gp_error *err;
	struct qmp_conn *c;

	*paused = false;
	if ((err = qmp_connect(path, deadline, &c)))
		return err;
	if (!(err = ram_size(c, path, deadline, size)))
		err = user_paused(c, path, deadline, paused);
	qmp_hangup(c);
	return err;
}

/* Let the guest run through QMP: the last resort when 'D' failed. */
struct gp_error *qmp_cont(const char *path)
{
	uint64_t deadline = gp_now_ns() + (uint64_t)QMP_TIMEOUT_MS * 1000000;
	json_object *r = NULL;
	struct gp_error *err;
	struct qmp_conn *c;

	if ((err = qmp_connect(path, deadline, &c)))
		return err;
	err = qmp_exec(c, deadline, "{\"execute\":\"cont\"}\n", &r);
	json_object_put(r);
	qmp_hangup(c);
	return err;
}
