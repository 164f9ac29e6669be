// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * klptime enable MODULE.ko | klptime disable NAME
 *
 * Times the guest kernel's own livepatch transition, for comparison with
 * guestpatch's: `enable` loads a livepatch module (finit_module) and waits
 * until /sys/kernel/livepatch/NAME/transition reads 0; `disable` writes 0
 * to .../enabled, waits the same way, then unloads the module. Prints
 * "klptime: <what> <ms> ms" (CLOCK_MONOTONIC, polled every 0.5 ms).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int read_flag(const char *name, const char *file)
{
	char path[256], c = '?';
	int fd;

	snprintf(path, sizeof(path), "/sys/kernel/livepatch/%s/%s", name, file);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return errno == ENOENT ? -2 : -1;
	if (read(fd, &c, 1) != 1)
		c = '?';
	close(fd);
	return c == '0' ? 0 : c == '1' ? 1 : -1;
}

/* Wait until the transition is over (the patch's directory goes away once
 * an unpatched patch is freed); -1 after 60 s. */
static int wait_transition(const char *name, double t0)
{
	const struct timespec half = { 0, 500000 };
	int f;

	while ((f = read_flag(name, "transition")) != 0 && f != -2) {
		if (now_ms() - t0 > 60000)
			return -1;
		nanosleep(&half, NULL);
	}
	return 0;
}

int main(int argc, char **argv)
{
	char name[64];
	double t0;

	if (argc != 3)
		goto usage;
	if (!strcmp(argv[1], "enable")) {
		const char *base = strrchr(argv[2], '/') ? strrchr(argv[2], '/') + 1 : argv[2];
		int fd = open(argv[2], O_RDONLY);

		snprintf(name, sizeof(name), "%.*s", (int)strcspn(base, "."), base);
		if (fd < 0) {
			perror(argv[2]);
			return 1;
		}
		t0 = now_ms();
		if (syscall(SYS_finit_module, fd, "", 0)) {
			fprintf(stderr, "klptime: finit_module %s: %s\n", argv[2], strerror(errno));
			return 1;
		}
		if (wait_transition(name, t0)) {
			fprintf(stderr, "klptime: %s: transition not over after 60 s\n", name);
			return 1;
		}
		printf("klptime: enable %.3f ms\n", now_ms() - t0);
		return 0;
	}
	if (!strcmp(argv[1], "disable")) {
		char path[256];
		int fd;

		snprintf(name, sizeof(name), "%s", argv[2]);
		snprintf(path, sizeof(path), "/sys/kernel/livepatch/%s/enabled", name);
		fd = open(path, O_WRONLY);
		t0 = now_ms();
		if (fd < 0 || write(fd, "0", 1) != 1) {
			fprintf(stderr, "klptime: disabling %s: %s\n", name, strerror(errno));
			return 1;
		}
		close(fd);
		if (wait_transition(name, t0)) {
			fprintf(stderr, "klptime: %s: transition not over after 60 s\n", name);
			return 1;
		}
		printf("klptime: disable %.3f ms\n", now_ms() - t0);
		/* The patch is freed asynchronously; then the module can go. */
		for (int i = 0; syscall(SYS_delete_module, name, O_NONBLOCK); i++) {
			const struct timespec ms = { 0, 1000000 };

			if (i > 10000) {
				fprintf(stderr, "klptime: unloading %s: %s\n", name, strerror(errno));
				return 1;
			}
			nanosleep(&ms, NULL);
		}
		return 0;
	}
usage:
	fprintf(stderr, "usage: klptime enable MODULE.ko | klptime disable NAME\n");
	return 2;
}
