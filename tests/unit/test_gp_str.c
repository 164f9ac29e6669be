// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * common/gp_str.c: guest-chosen strings (symbol, module and task names,
 * patch names from the guest's region) made safe for a terminal.
 */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "gp_check.h"
#include "gp_str.h"

START_TEST(escapes_control_and_high_bytes)
{
	char buf[64];

	ck_assert_str_eq(gp_str_escape("plain_name.isra.0", buf, sizeof(buf)), "plain_name.isra.0");
	ck_assert_str_eq(gp_str_escape("a\x1b[31mb", buf, sizeof(buf)), "a\\x1b[31mb");
	ck_assert_str_eq(gp_str_escape("tab\there\nnl\r", buf, sizeof(buf)), "tab\\x09here\\x0anl\\x0d");
	ck_assert_str_eq(gp_str_escape("del\x7f c1\x9b hi\xff", buf, sizeof(buf)),
			 "del\\x7f c1\\x9b hi\\xff");
	/* A backslash is doubled, so escaped output reads back one way. */
	ck_assert_str_eq(gp_str_escape("a\\x1b", buf, sizeof(buf)), "a\\\\x1b");
	ck_assert_str_eq(gp_str_escape("", buf, sizeof(buf)), "");
	ck_assert_str_eq(gp_str_escape(NULL, buf, sizeof(buf)), "(null)");
}
END_TEST

START_TEST(truncates_at_whole_escapes)
{
	char buf[8];

	/* 7 characters fit, and never half an escape. */
	ck_assert_str_eq(gp_str_escape("abcdefghij", buf, sizeof(buf)), "abcdefg");
	ck_assert_str_eq(gp_str_escape("abcd\x1b", buf, sizeof(buf)), "abcd");
	ck_assert_str_eq(gp_str_escape("abc\x1b", buf, sizeof(buf)), "abc\\x1b");
	ck_assert_str_eq(gp_str_escape("abcdef\\", buf, sizeof(buf)), "abcdef");
	ck_assert_str_eq(gp_str_escape("x", buf, 1), "");
}
END_TEST

START_TEST(escape_dup)
{
	char *s = gp_str_escape_dup("comm\x1b]0;owned\x07");

	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s, "comm\\x1b]0;owned\\x07");
	free(s);
	/* A long name is not truncated. */
	{
		char in[3000];

		memset(in, '\x01', sizeof(in) - 1);
		in[sizeof(in) - 1] = '\0';
		s = gp_str_escape_dup(in);
		ck_assert_ptr_nonnull(s);
		ck_assert_uint_eq(strlen(s), 4 * (sizeof(in) - 1));
		free(s);
	}
}
END_TEST

/* The JSON output needs no help: json-c writes control characters as
 * \u00XX (checked here so a json-c change is noticed). */
START_TEST(json_c_escapes_controls)
{
	json_object *o = json_object_new_string("a\x1b[31mb\n");
	const char *out = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);

	ck_assert_msg(!strchr(out, '\x1b') && !strchr(out, '\n'), "raw control in %s", out);
	ck_assert_msg(strstr(out, "\\u001b"), "got %s", out);
	json_object_put(o);
}
END_TEST

static TCase *gp_str_tcase(void)
{
	TCase *tc = tcase_create("gp_str");

	tcase_add_test(tc, escapes_control_and_high_bytes);
	tcase_add_test(tc, truncates_at_whole_escapes);
	tcase_add_test(tc, escape_dup);
	tcase_add_test(tc, json_c_escapes_controls);
	return tc;
}
GP_TCASE(gp_str_tcase)
