/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * gp_error.h - errors that carry their cause.
 *
 * Every fallible function in guestpatch returns a struct gp_error *: NULL on
 * success, otherwise an error object owned by the caller, who either returns
 * it further up or destroys it with gp_error_destroy().  Only the CLI prints
 * errors and exits.  Out of memory returns a preallocated static error so the
 * error path itself never needs to allocate.
 */
#ifndef GP_ERROR_H
#define GP_ERROR_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

enum gp_error_code {
	GP_ERR_NOMEM = 1,	/* host allocation failed */
	GP_ERR_OS,		/* a host system call failed; errnum set */
	GP_ERR_INVAL,		/* bad user input (option, spec, file) */
	GP_ERR_FAULT,		/* guest address not mapped / not RAM; addr set */
	GP_ERR_CORRUPT,		/* guest data fails a consistency check; addr set */
	GP_ERR_NOTFOUND,	/* a symbol, type or member does not exist */
	GP_ERR_PROTOCOL,	/* target protocol violation (gdbstub, QMP) */
	GP_ERR_UNSUPPORTED,	/* the target or kernel cannot do this */
	GP_ERR_TIMEOUT,		/* a wait ran out of time */
	GP_ERR_BUSY,		/* the guest is in a state that forbids this now */
	GP_ERR_LIMIT,		/* a walk or table exceeded its bound */
	GP_ERR_INTERRUPTED,	/* SIGINT, SIGTERM or SIGHUP: stopped cleanly */
};

struct gp_error {
	enum gp_error_code code;
	int errnum;		/* errno for GP_ERR_OS, else 0 */
	bool has_addr;
	uint64_t addr;		/* guest address involved, if has_addr */
	char *msg;		/* human readable, no trailing newline */
};

/* The preallocated out-of-memory error; gp_error_destroy() ignores it. */
extern struct gp_error gp_error_nomem;

struct gp_error *gp_error_create(enum gp_error_code code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* An error about a guest address; the address is stored, not only printed. */
struct gp_error *gp_error_addr(enum gp_error_code code, uint64_t addr,
			       const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A failed host call: "<what>: <strerror(errnum)>". */
struct gp_error *gp_error_os(int errnum, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Prefix context to an error's message ("reading task list: <old msg>"). */
struct gp_error *gp_error_wrap(struct gp_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void gp_error_destroy(struct gp_error *err);
const char *gp_error_code_name(enum gp_error_code code);
/* Swallow an error: true if err was NULL. For optional lookups. */
bool gp_ok(struct gp_error *err);

static inline void gp_error_cleanup(struct gp_error **errp)
{
	gp_error_destroy(*errp);
}

/* Free a malloc'd pointer when it goes out of scope. */
static inline void gp_freep(void *p)
{
	free(*(void **)p);
}
#define _cleanup_free_ __attribute__((cleanup(gp_freep)))

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
