// SPDX-License-Identifier: GPL-2.0-or-later
/* nsleep SECONDS: sleep in clock_nanosleep (the kernel's common_nsleep)
 * under a name of its own, then exit. Detaches from the shell first so
 * its end never reaches the interactive shell as SIGCHLD. */
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct timespec ts;

	if (argc != 2)
		return 2;
	if (fork())
		return 0;	/* the shell sees this one end at once */
	setsid();
	ts.tv_sec = atol(argv[1]);
	ts.tv_nsec = 0;
	return clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL) != 0;
}
