// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gp_str.h"

/* What byte c prints as: itself, or its escape; returns the length. */
static size_t escape_one(unsigned char c, char out[5])
{
	if (c == '\\') {
		out[0] = out[1] = '\\';
		return 2;
	}
	if (c >= 0x20 && c <= 0x7e) {
		out[0] = (char)c;
		return 1;
	}
	snprintf(out, 5, "\\x%02x", c);
	return 4;
}

const char *gp_str_escape(const char *s, char *buf, size_t size)
{
	size_t n = 0;

	if (!size)
		return buf;
	if (!s)
		s = "(null)";
	for (; *s; s++) {
		char e[5];
		size_t len = escape_one((unsigned char)*s, e);

		if (len >= size - n)
			break;
		memcpy(buf + n, e, len);
		n += len;
	}
	buf[n] = '\0';
	return buf;
}

char *gp_str_escape_dup(const char *s)
{
	size_t size;
	char *buf;

	if (!s)
		s = "(null)";
	size = strlen(s) * 4 + 1;	/* every byte at its longest */
	buf = malloc(size);
	if (buf)
		gp_str_escape(s, buf, size);
	return buf;
}
