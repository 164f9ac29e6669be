/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qmp.h - QMP over a unix socket, for the qemu target (qmp.c). */
#ifndef GP_QMP_H
#define GP_QMP_H

#include <stdbool.h>
#include <stdint.h>

#include "gp_error.h"

/* In one conversation: guest RAM size from query-memory-size-summary
 * (bounded), and whether the VM is stopped by its user (query-status: not
 * running, "paused"). */
struct gp_error *qmp_probe(const char *path, uint64_t *size, bool *paused);
/* Let the guest run: the last resort when a gdbstub 'D' failed. */
struct gp_error *qmp_cont(const char *path);

#endif
