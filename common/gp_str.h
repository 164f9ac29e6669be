/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * gp_str.h - strings a guest chose (symbol, module and task names, patch
 * names read back from the guest's region), made safe to print: a hostile
 * guest must not drive the user's terminal with escape sequences.
 */
#ifndef GP_STR_H
#define GP_STR_H

#include <stddef.h>

/* s with every byte outside printable ASCII (0x20..0x7e) written as \xNN
 * and a backslash as \\, into buf (size bytes, always NUL-terminated;
 * truncated before an escape that does not fit whole).  Returns buf.
 * NULL reads as "(null)". */
const char *gp_str_escape(const char *s, char *buf, size_t size);
/* The same, whole, in a malloc'd string; NULL if out of memory. */
char *gp_str_escape_dup(const char *s);

#endif
