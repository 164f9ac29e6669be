// SPDX-License-Identifier: GPL-2.0-or-later
/* kmsgwait: block in the kernel's devkmsg_read (reading /dev/kmsg past its
 * end) until a new kernel message comes, then read on until end of file
 * or an error, and exit. Detaches from the shell first so its end never
 * reaches the interactive shell as SIGCHLD. */
#include <fcntl.h>
#include <unistd.h>

int main(void)
{
	static char buf[8192];
	int fd;

	if (fork())
		return 0;
	setsid();
	fd = open("/dev/kmsg", O_RDONLY);
	if (fd < 0 || lseek(fd, 0, SEEK_END) < 0)
		return 1;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	return 0;
}
