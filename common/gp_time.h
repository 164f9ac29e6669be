/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * gp_time.h - the monotonic clock every pause and timeout is measured on.
 */
#ifndef GP_TIME_H
#define GP_TIME_H

#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t gp_now_ns(void);
/* Sleep at least us microseconds (restarts after signals are not needed
 * here: callers re-check their own deadlines). */
void gp_sleep_us(unsigned us);

#endif
