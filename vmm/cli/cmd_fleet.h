/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cmd_fleet.h - what the files of `vmm fleet` share: cmd_fleet.c (the
 * commands, the run directory, output) and cmd_fleet_run.c (the engine:
 * a pool of `vmm` child processes, one step each, driven guest by guest).
 */
#ifndef GP_CMD_FLEET_H
#define GP_CMD_FLEET_H

#include <stdbool.h>
#include <stdio.h>

#include "fleet.h"

enum fr_mode { FR_PLAN, FR_RUN };

/* Per guest of the plan: its child process and what it runs now. */
struct fr_job {
	int pid;		/* 0: none running */
	int step;		/* enum in cmd_fleet_run.c */
	int busy_retries;
	double started;		/* this step, seconds */
	double not_before;	/* a retry waits until then */
	long log_off;		/* the log's size when the step started */
	int mode;		/* apply, check, rollback */
	int to_apply[FLEET_MAX_WANTED];
	size_t nto_apply;
	bool in_transition;	/* the last list showed one */
	char trans_patch[FLEET_NAME_MAX];
	char forced[FLEET_MAX_WANTED][FLEET_NAME_MAX];	/* the last list's forced patches */
	size_t nforced;
};

struct fr {
	enum fr_mode mode;
	struct fleet_inv inv;
	struct fleet_plan plan;
	struct fleet_state st;
	struct fr_job *jobs;
	char dir[2048];		/* the run directory (a temp dir for plan) */
	char exe[4096];		/* ourselves, re-executed per step */
	int lock_fd;
	bool json;		/* final output as JSON (progress on stderr) */
	bool tty;		/* live progress display */
	FILE *out;		/* progress lines */
	double last_draw;
	int cur_batch;
};

enum fr_jmode { JM_APPLY, JM_CHECK, JM_ROLLBACK };

/* cmd_fleet_run.c */
/* Drive guests sel[0..n) (state indices) in mode m (enum fr_jmode) through
 * the pool until each is done; SIGINT/SIGTERM: start no more. */
void fr_pool(struct fr *fr, const size_t *sel, size_t n, int m);
/* The live progress line (a terminal only), at most 4 times a second. */
void fr_draw(struct fr *fr, bool force);
/* cmd_fleet_batch.c: run the plan's batches from st.next_batch on; 0 done, 2 halted, 1 error. */
int fr_run(struct fr *fr);
/* FR_PLAN: attach every guest read-only (info, list). */
int fr_probe(struct fr *fr);
/* Write state.json atomically (temp + fsync + rename); plan mode: nothing. */
void fr_save(struct fr *fr);
/* DIR/NAME replaced by text atomically (a temporary file, fsync, rename). */
struct gp_error *fr_write_file(const char *dir, const char *name, const char *text);
double fr_now(void);

#endif
