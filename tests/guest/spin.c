// SPDX-License-Identifier: GPL-2.0-or-later
/* spin: read /dev/zero in large blocks forever (time spent in the kernel). */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

int main(void)
{
	size_t sz = 1 << 20;
	char *buf = malloc(sz);
	int fd = open("/dev/zero", O_RDONLY);

	if (!buf || fd < 0)
		return 1;
	for (;;)
		if (read(fd, buf, sz) < 0)
			return 1;
}
