/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qmp.h - QMP over a unix socket, for the qemu target (qmp.c). */
#ifndef GP_QMP_H
#define GP_QMP_H

#include <stdbool.h>
#include <stdint.h>

#include "gp_error.h"

/* Guest RAM size from query-memory-size-summary (bounded). */
struct gp_error *qmp_ram_size(const char *path, uint64_t *size);
/* Let the guest run: the last resort when a gdbstub 'D' failed. */
struct gp_error *qmp_cont(const char *path);
/* The VM is stopped by its user (query-status: not running, "paused"). */
struct gp_error *qmp_user_paused(const char *path, bool *paused);

#endif
