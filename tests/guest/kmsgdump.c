// SPDX-License-Identifier: GPL-2.0-or-later
/* kmsgdump: every record /dev/kmsg still has, oldest first, one line each:
 * "SEQ TEXT" (TEXT as /dev/kmsg gives it: bytes below 0x20, 0x7f and up,
 * and backslashes escaped as \xNN), then exit at its end (non-blocking).
 * The oracle for vmm dmesg's sequence numbers and texts. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
	static char buf[8192 + 1];
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);

	if (fd < 0)
		return 1;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		char *semi, *nl, *comma;

		if (n < 0 && errno == EPIPE)
			continue;	/* overwritten while we read: go on */
		if (n <= 0)
			break;
		buf[n] = '\0';
		/* "PRIO,SEQ,TS,FLAGS[,...];TEXT\n[ KEY=VALUE\n...]" */
		comma = strchr(buf, ',');
		semi = strchr(buf, ';');
		if (!comma || !semi)
			continue;
		nl = strchr(semi, '\n');
		if (nl)
			*nl = '\0';
		printf("%lu %s\n", strtoul(comma + 1, NULL, 10), semi + 1);
	}
	return 0;
}
