/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * run.h - running host commands from the rigs, bounded.
 */
#ifndef GP_RIG_RUN_H
#define GP_RIG_RUN_H

/* Run argv (PATH searched) with stdin from /dev/null; its stdout and
 * stderr into malloc'd *out and *err (either may be NULL to discard).
 * Killed after timeout_s. Its exit status, or -1 if it could not run, was
 * killed by a signal or timed out. */
int rig_run_capture(const char *const *argv, char **out, char **err, double timeout_s);

/* rm -rf DIR (staying on its file system); says so on stderr if it fails. */
void rig_rm_rf(const char *dir);

#endif
