/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * console.h - a root shell on a guest's serial console, driven by a program:
 * type a command, read what it prints up to a marker that carries its exit
 * status. Shared by rig.c (busybox guests under our own QEMU command line)
 * and lvrig.c (Debian system guests under libvirt).
 *
 * The guest side must have echo off and an empty prompt (the busybox init
 * and the system guest's login profile do that), so what comes back is
 * only what the command printed, then "@@GP<seq>-<pid>@@<status>@@".
 * Anything else the console carries meanwhile (a kernel message above the
 * console log level) ends up in the output.
 */
#ifndef GP_RIG_CONSOLE_H
#define GP_RIG_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>

struct rig_console {
	int fd;	      /* a connected stream socket; -1 when closed */
	unsigned seq; /* commands typed so far (numbers the markers) */
	char *pend;   /* bytes read past the last marker */
	size_t pend_len;
	/* Is the guest still there? Checked while waiting; NULL: assume so. */
	bool (*alive)(void *arg);
	void *arg;
};

/* Take over fd (closed by con_close). */
void con_init(struct rig_console *c, int fd, bool (*alive)(void *), void *arg);
void con_close(struct rig_console *c);

/* Connect to a unix stream socket; -1 if it is not there (yet). */
int con_connect_unix(const char *path);

/* Read until `marker` appears; the text before it (malloc'd), or NULL on
 * timeout, EOF, a dead guest or a guest kernel that finished a panic
 * report ("---[ end Kernel panic"; a command that prints another kernel's
 * report must change that line). Bytes after the marker are kept for the
 * next read; on failure everything read is kept. */
char *con_read_until(struct rig_console *c, const char *marker, double timeout_s);

/* Type s as it is (no newline added). 0, or -1 if the write failed. */
int con_send(struct rig_console *c, const char *s);

/* Forget the bytes read and not consumed yet (e.g. before a reboot, so a
 * marker printed before it cannot match after it). */
void con_forget(struct rig_console *c);

/* Keep only the last `keep` bytes read and not consumed (waiting for a
 * marker in rounds: a marker split between two rounds still matches). */
void con_trim(struct rig_console *c, size_t keep);

/* Run a shell command; *out (malloc'd; out may be NULL to discard) gets
 * what it printed, \r removed. Returns its exit status, or -1 on timeout,
 * a dead guest or a panicked one. */
int con_exec(struct rig_console *c, const char *cmd, char **out, double timeout_s);

#endif
