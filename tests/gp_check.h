/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * gp_check.h - Check test registration shared by the unit and integration
 * runners.  Each test file defines one TCase factory per module and registers
 * it with GP_TCASE(); the runner (tests/{unit,integ}/main.c) collects them,
 * so adding a test file never touches the runner.
 */
#ifndef GP_CHECK_H
#define GP_CHECK_H

#include <check.h>
#include <string.h>

#include "gp_error.h"

typedef TCase *(*gp_tcase_factory)(void);
void gp_register_tcase(const char *name, gp_tcase_factory f);

#define GP_TCASE(fn)                                                        \
	static void __attribute__((constructor)) gp_reg_##fn(void)          \
	{                                                                   \
		gp_register_tcase(#fn, fn);                                 \
	}

/* Assert an operation succeeded; on failure print the error's message. */
#define ck_ok(expr)                                                         \
	do {                                                                \
		struct gp_error *_e = (expr);                               \
		ck_assert_msg(!_e, "%s failed: %s", #expr,                  \
			      _e ? _e->msg : "");                           \
	} while (0)

/* Assert an operation failed with code and a message containing needle. */
#define ck_err(expr, ecode, needle)                                         \
	do {                                                                \
		struct gp_error *_e = (expr);                               \
		ck_assert_msg(_e, "%s succeeded, expected %s error", #expr, \
			      gp_error_code_name(ecode));                   \
		ck_assert_msg(_e->code == (ecode),                          \
			      "%s: code %s, expected %s (%s)", #expr,       \
			      gp_error_code_name(_e->code),                 \
			      gp_error_code_name(ecode), _e->msg);          \
		ck_assert_msg(strstr(_e->msg, (needle)),                    \
			      "%s: message '%s' lacks '%s'", #expr,         \
			      _e->msg, (needle));                           \
		gp_error_destroy(_e);                                       \
	} while (0)

#endif
