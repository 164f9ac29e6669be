// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "run.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Append what fd has to *buf (NUL-terminated); false at EOF or error. */
static bool drain(int fd, char **buf, size_t *len)
{
	char chunk[4096];
	ssize_t n = read(fd, chunk, sizeof(chunk));
	char *nb;

	if (n <= 0)
		return n < 0 && errno == EINTR;
	nb = realloc(*buf, *len + (size_t)n + 1);
	if (!nb)
		return false;
	memcpy(nb + *len, chunk, (size_t)n);
	*len += (size_t)n;
	nb[*len] = '\0';
	*buf = nb;
	return true;
}

int rig_run_capture(const char *const *argv, char **out, char **err, double timeout_s)
{
	int po[2], pe[2], st, fd;
	char *b[2] = {NULL, NULL};
	size_t l[2] = {0, 0};
	bool open_[2] = {true, true};
	double end = now_s() + timeout_s;
	pid_t pid;

	if (out)
		*out = NULL;
	if (err)
		*err = NULL;
	if (pipe2(po, O_CLOEXEC))
		return -1;
	if (pipe2(pe, O_CLOEXEC)) {
		close(po[0]);
		close(po[1]);
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		close(po[0]), close(po[1]), close(pe[0]), close(pe[1]);
		return -1;
	}
	if (pid == 0) {
		fd = open("/dev/null", O_RDONLY);
		if (fd >= 0)
			dup2(fd, 0);
		dup2(po[1], 1);
		dup2(pe[1], 2);
		execvp(argv[0], (char *const *)argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	while (open_[0] || open_[1]) {
		struct pollfd p[2] = {{.fd = open_[0] ? po[0] : -1, .events = POLLIN},
				      {.fd = open_[1] ? pe[0] : -1, .events = POLLIN}};
		double left = end - now_s();

		if (left <= 0) {
			kill(pid, SIGKILL);
			break;
		}
		if (poll(p, 2, (int)(left * 1000) + 1) <= 0)
			continue;
		for (int i = 0; i < 2; i++)
			if (open_[i] && (p[i].revents & (POLLIN | POLLHUP | POLLERR)) &&
			    !drain(i ? pe[0] : po[0], &b[i], &l[i]))
				open_[i] = false;
	}
	close(po[0]);
	close(pe[0]);
	if (waitpid(pid, &st, 0) != pid)
		st = -1;
	for (int i = 0; i < 2; i++) {
		char **dst = i ? err : out;

		if (!b[i])
			b[i] = strdup("");
		if (dst)
			*dst = b[i];
		else
			free(b[i]);
	}
	if (now_s() >= end)
		return -1;
	return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void rig_rm_rf(const char *dir)
{
	const char *argv[] = {"rm", "-rf", "--one-file-system", dir, NULL};

	if (dir[0] && rig_run_capture(argv, NULL, NULL, 60) != 0)
		fprintf(stderr, "rig: cannot remove %s\n", dir);
}
