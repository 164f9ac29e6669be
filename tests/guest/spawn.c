// SPDX-License-Identifier: GPL-2.0-or-later
/* spawn P T SECS: P processes, each with T extra threads, all asleep for
 * SECS seconds (nanosleep), then exit. Prints "ready" when all are up. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int secs;

static void *sleeper(void *arg)
{
	struct timespec ts = { secs, 0 };

	(void)arg;
	nanosleep(&ts, NULL);
	return NULL;
}

int main(int argc, char **argv)
{
	int procs, threads;

	if (argc != 4) {
		fprintf(stderr, "usage: spawn PROCS THREADS SECS\n");
		return 2;
	}
	procs = atoi(argv[1]);
	threads = atoi(argv[2]);
	secs = atoi(argv[3]);
	for (int p = 0; p < procs; p++) {
		if (fork() == 0) {
			pthread_t t;

			for (int i = 0; i < threads; i++)
				pthread_create(&t, NULL, sleeper, NULL);
			sleeper(NULL);
			_exit(0);
		}
	}
	printf("ready\n");
	fflush(stdout);
	while (wait(NULL) > 0)
		;
	return 0;
}
