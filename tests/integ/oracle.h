/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * oracle.h - the guest's own view as the oracle (oracle.c): kallsyms, the
 * task list, every still task's stack.  Each runs against a booted rig and
 * fails the test on the first difference.
 */
#ifndef GP_ORACLE_H
#define GP_ORACLE_H

#include <stddef.h>

#include "rig/rig.h"
#include "stack.h"

/* /proc/kallsyms, core-kernel lines, equal entry for entry. */
void oracle_kallsyms(struct rig *r);
/* `vmm ps --json` against /proc/PID/task with a workload of ~170 tasks. */
void oracle_ps(struct rig *r, int cpus);
/* Every still task's stack against /proc/PID/stack; module_fn, if not
 * NULL, must appear in exactly one compared stack.  Returns how many. */
int oracle_stacks(struct rig *r, const char *module_fn);
/* A trace as /proc/PID/stack prints it, "func+0xoff/0xsize [mod];" per
 * frame, without the frames the guest leaves out. */
void oracle_trace_text(struct stack_ctx *ctx, const struct stack_trace *tr, char *buf,
		       size_t len);

#endif
