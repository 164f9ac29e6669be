// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gp_error.h"

struct gp_error gp_error_nomem = {
	.code = GP_ERR_NOMEM,
	.errnum = ENOMEM,
	.msg = (char *)"out of memory",
};

__attribute__((format(printf, 5, 0)))
static struct gp_error *vcreate(enum gp_error_code code, int errnum,
				bool has_addr, uint64_t addr, const char *fmt,
				va_list ap)
{
	struct gp_error *err = calloc(1, sizeof(*err));

	if (!err)
		return &gp_error_nomem;
	if (vasprintf(&err->msg, fmt, ap) < 0) {
		free(err);
		return &gp_error_nomem;
	}
	err->code = code;
	err->errnum = errnum;
	err->has_addr = has_addr;
	err->addr = addr;
	return err;
}

struct gp_error *gp_error_create(enum gp_error_code code, const char *fmt, ...)
{
	struct gp_error *err;
	va_list ap;

	va_start(ap, fmt);
	err = vcreate(code, 0, false, 0, fmt, ap);
	va_end(ap);
	return err;
}

struct gp_error *gp_error_addr(enum gp_error_code code, uint64_t addr,
			       const char *fmt, ...)
{
	struct gp_error *err;
	va_list ap;

	va_start(ap, fmt);
	err = vcreate(code, 0, true, addr, fmt, ap);
	va_end(ap);
	return err;
}

struct gp_error *gp_error_os(int errnum, const char *fmt, ...)
{
	struct gp_error *err;
	char *what;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&what, fmt, ap) < 0) {
		va_end(ap);
		return &gp_error_nomem;
	}
	va_end(ap);
	err = gp_error_create(GP_ERR_OS, "%s: %s", what, strerror(errnum));
	free(what);
	if (err != &gp_error_nomem)
		err->errnum = errnum;
	return err;
}

struct gp_error *gp_error_wrap(struct gp_error *err, const char *fmt, ...)
{
	char *prefix, *msg;
	va_list ap;

	if (!err || err == &gp_error_nomem)
		return err;
	va_start(ap, fmt);
	if (vasprintf(&prefix, fmt, ap) < 0) {
		va_end(ap);
		return err;
	}
	va_end(ap);
	if (asprintf(&msg, "%s: %s", prefix, err->msg) >= 0) {
		free(err->msg);
		err->msg = msg;
	}
	free(prefix);
	return err;
}

void gp_error_destroy(struct gp_error *err)
{
	if (!err || err == &gp_error_nomem)
		return;
	free(err->msg);
	free(err);
}

const char *gp_error_code_name(enum gp_error_code code)
{
	static const char *const names[] = {
		[GP_ERR_NOMEM] = "nomem",	[GP_ERR_OS] = "os",
		[GP_ERR_INVAL] = "inval",	[GP_ERR_FAULT] = "fault",
		[GP_ERR_CORRUPT] = "corrupt",	[GP_ERR_NOTFOUND] = "notfound",
		[GP_ERR_PROTOCOL] = "protocol", [GP_ERR_UNSUPPORTED] = "unsupported",
		[GP_ERR_TIMEOUT] = "timeout",	[GP_ERR_BUSY] = "busy",
		[GP_ERR_LIMIT] = "limit",	[GP_ERR_INTERRUPTED] = "interrupted",
	};

	if ((unsigned)code < ARRAY_SIZE(names) && names[code])
		return names[code];
	return "unknown";
}

bool gp_ok(struct gp_error *err)
{
	gp_error_destroy(err);
	return !err;
}
