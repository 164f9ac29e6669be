/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fleet_util.h - what the fleet tests (test_fleet.c, test_fleet_more.c)
 * share: the patch that WARNs, `vmm` on any target, reading a guest's
 * `vmm list`, a run's report.jsonl, state.json and step logs, and a
 * `vmm fleet run` in the background.
 */
#ifndef GP_FLEET_UTIL_H
#define GP_FLEET_UTIL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <sys/types.h>

#include "rig/rig.h"

/* "cmdline-warn": cmdline_proc_show calling __warn("fleet-bad-patch.c",
 * ...), so each read of /proc/cmdline WARNs (the health check fails). */
extern const char fu_warn_src[];

/* A string member of a JSON object ("" if absent). */
const char *fu_jstr(json_object *o, const char *key);
/* `$GP_BUILD/vmm ARGS` (through sh; r's directory holds the output files):
 * exit status, stdout and stderr (malloc'd, NULL to discard). */
int fu_vmm(struct rig *r, char **out, char **err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* How many patches named name `vmm list TARGET --json` shows (target NULL:
 * r's), how many in all (total), whether a transition is in progress
 * (trans); total and trans may be NULL. */
int fu_listed(struct rig *r, const char *target, const char *name, int *total, bool *trans);
/* Guest NAME's line in DIR/report.jsonl (put it); fails the test if none. */
json_object *fu_report_of(const char *rundir, const char *name);
/* DIR/state.json's guests array, in a root object to put (NULL if none). */
json_object *fu_state_guests(const char *rundir, json_object **guests);
/* The kernel build id `vmm info` reads from TARGET (NULL: r's) into out
 * (48 bytes). */
void fu_build_id(struct rig *r, const char *target, char *out);
/* A scratch directory from tmpl ("gp-fleet-XXXXXX") under /work, else
 * /tmp, into dir (64 bytes); removed by fu_scratch_rm unless
 * $GP_FLEET_KEEP is set. */
void fu_scratch(char *dir, const char *tmpl);
void fu_scratch_rm(const char *dir);
/* `vmm fleet run INVENTORY --run-dir DIR EXTRA...` in the background, its
 * stdout and stderr into DIR.out; its pid. */
pid_t fu_fleet_spawn(const char *inventory, const char *rundir, const char *extra);

#endif
