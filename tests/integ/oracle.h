/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * oracle.h - the guest's own view as the oracle (oracle.c): kallsyms, the
 * task list, every still task's stack.  Each runs against a booted rig and
 * fails the test on the first difference.
 */
#ifndef GP_ORACLE_H
#define GP_ORACLE_H

#include "rig/rig.h"

/* /proc/kallsyms, core-kernel lines, equal entry for entry. */
void oracle_kallsyms(struct rig *r);
/* `vmm ps --json` against /proc/PID/task with a workload of ~170 tasks. */
void oracle_ps(struct rig *r, int cpus);
/* Every still task's stack against /proc/PID/stack; module_fn, if not
 * NULL, must appear in exactly one compared stack.  Returns how many. */
int oracle_stacks(struct rig *r, const char *module_fn);

#endif
