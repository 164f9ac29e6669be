// SPDX-License-Identifier: GPL-2.0-or-later
/* pipewait read|write: block forever in pipe_read on an empty pipe, or in
 * pipe_write on a full one (the other end is kept open and idle). */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	static char buf[1 << 16];
	int fds[2];

	if (argc != 2 || pipe(fds)) {
		fprintf(stderr, "usage: pipewait read|write\n");
		return 2;
	}
	if (!strcmp(argv[1], "read"))
		return read(fds[0], buf, 1) < 0;
	for (;;)
		if (write(fds[1], buf, sizeof(buf)) < 0)
			return 1;
}
