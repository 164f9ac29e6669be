/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cli.h - what the vmm subcommands share.  Each command lives in its own
 * file (vmm/cmd_*.c) as `int cmd_NAME(struct cli *c, int argc, char **argv)`
 * with argv holding the operands after TARGET; it returns the exit status
 * and prints its own errors through cli_fail().
 */
#ifndef GP_CLI_H
#define GP_CLI_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "kernel.h"
#include "target.h"

struct cli {
	bool json;
	bool stats;
	bool stats_printed;	/* cli_print_stats ran */
	bool all;		/* --all */
	bool force;		/* --force */
	bool replace;		/* --replace */
	bool no_wait;		/* --no-wait */
	bool reverse;		/* --reverse */
	bool signal;		/* --signal */
	int model;		/* --model: 0 auto, 1 global, 2 per-task (enum lp_model) */
	double timeout_s;	/* --timeout */
	long max_pause_ms;	/* --max-pause (0: the default) */
	int lock_fd;		/* the host-side lock (lock.c), or -1 */
	const char *output;	/* -o/--output */
	const char *kernel;	/* --kernel (vmm build) */
	const char *build_id;	/* --build-id (vmm build) */
	const char *target;	/* the TARGET operand, if any */
	const char *uri;	/* --uri (vmm watch) */
	bool have_since;	/* --since SEQ (vmm dmesg, vmm health) */
	uint64_t since;
	const char *argv0;
	struct kern_opts kopts;
	struct tgt *t;
	struct kern *k;
};

/* Print "vmm: WHAT: message" to stderr (the message escaped: it may quote
 * guest strings), destroy err, return 1. */
int cli_fail(struct gp_error *err, const char *what);
/* Print o pretty to stdout and drop the reference. */
void cli_print_json(json_object *o);
/* "0x..." in a static buffer of its own per call site slot (n: 0..3). */
const char *cli_hex(uint64_t v);
/* A guest-chosen string made safe for the terminal (gp_str_escape), in a
 * static buffer of its own per use (eight rotate, so one printf may use
 * several). For text output only: JSON is escaped by json-c. */
const char *cli_str(const char *s);
/* What the host-side cache did at attach (kcache_note), static buffer. */
const char *cli_cache_note(const struct cli *c);
/* Timing line on stderr when --stats was given. */
void cli_print_stats(struct cli *c, const char *what);
/* Resume after work done while paused; returns the first error of the two. */
struct gp_error *cli_resume(struct cli *c, struct gp_error *err);

/* Open c->target and attach (for commands that do it themselves). */
struct gp_error *cli_attach(struct cli *c);

/* Take the host-side lock on c->target (lock.c); argv: for the record. */
struct gp_error *cli_lock(struct cli *c, int argc, char **argv);

struct lp_jrecovery;
/* Say on stderr what a journal roll-back did (nothing if none), or that
 * the journal or owner record was of an earlier boot. */
void cli_say_rollback(const struct lp_jrecovery *r);
/* Say on stderr that the region is an earlier boot's; `then`: what
 * happens to it next. */
void cli_say_earlier_region(const char *then);

struct lp_call_leftover;
/* Say on stderr what became of a call an earlier vmm left in the guest
 * (nothing if none); err: why it could not be looked at, or "". */
void cli_say_call(const struct lp_call_leftover *l, const char *err);

/* Commands implemented outside main.c. */
int cmd_recover(struct cli *c, int argc, char **argv);
int cmd_call(struct cli *c, int argc, char **argv);
int cmd_stack(struct cli *c, int argc, char **argv);
int cmd_patch(struct cli *c, int argc, char **argv);
int cmd_unpatch(struct cli *c, int argc, char **argv);
int cmd_list(struct cli *c, int argc, char **argv);
int cmd_transition(struct cli *c, int argc, char **argv);
int cmd_build(struct cli *c, int argc, char **argv);
int cmd_reconcile(struct cli *c, int argc, char **argv);
int cmd_watch(struct cli *c, int argc, char **argv);
/* vmm fleet parses its own options (argv[0] = "fleet"; cmd_fleet.c). */
int cmd_fleet(int argc, char **argv);
int cmd_dmesg(struct cli *c, int argc, char **argv);	/* cmd_health.c */
int cmd_health(struct cli *c, int argc, char **argv);
/* vmm run takes no TARGET and parses its own options (argv[0] = "run"). */
int cmd_run(int argc, char **argv);

#endif
