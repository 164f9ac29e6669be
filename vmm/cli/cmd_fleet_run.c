// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * lines: a guest's steps are one state machine (step_done) with the pool
 * that feeds it; apart, each would have to export the other's internals.
 *
 * cmd_fleet_run.c - the fleet engine: each guest goes through its steps,
 * each step a `vmm ... --json` child process of its own (re-exec of
 * /proc/self/exe), so a crash stays in one step and every step takes the
 * guest's host lock and journal like any vmm.  One parent drives a pool of
 * children under the overall and per-host caps and never runs two guests
 * of one anti-affinity group at once; it writes the state after every step.
 *
 * Steps of a guest being patched:
 *   info      build id (no patch for its kernel: done)
 *   base      `vmm health --json`: log_next_seq, the baseline (--no-health: none)
 *   list      what is applied, a transition in progress (an interrupted run)
 *   trans     drive that transition / a stalled one per the stall policy
 *   patch     one per patch to apply; exit 3 (still in transition) -> trans
 *   verify    `vmm list` again: applied = present - before
 * after its batch, `check` (`vmm health --since SEQ`); on a halt, rollback:
 *   `vmm transition --reverse` of a pending transition, `vmm unpatch` of
 *   what this run applied, newest first, then verify.
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cmd_fleet.h"
#include "lp_patch.h"

enum step { ST_INFO, ST_BASE, ST_LIST, ST_TRANS, ST_PATCH, ST_VERIFY, ST_CHECK, ST_REVERSE,
	    ST_UNPATCH };
static const char *const step_names[] = { "info", "health-baseline", "list", "transition",
	"patch", "verify", "health-check", "reverse", "unpatch" };

#define BUSY_RETRIES 60		/* a step refused "busy": 1 s apart */
#define WAIT_ROUNDS 20		/* --on-stall wait: stall_s each */
#define OUT_MAX (1u << 20)

double fr_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static char *slurp(const char *path, long off, size_t cap)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;

	if (!f)
		return strdup("");
	if (off > 0)
		fseek(f, off, SEEK_SET);
	if (!(buf = malloc(cap + 1))) {
		fclose(f);
		return NULL;
	}
	n = fread(buf, 1, cap, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void out_path(struct fr *fr, size_t i, char *p, size_t len)
{
	snprintf(p, len, "%s/out/%s.json", fr->dir, fr->inv.guests[fr->st.g[i].guest].name);
}

static void log_path(struct fr *fr, size_t i, char *p, size_t len)
{
	snprintf(p, len, "%s/log/%s.log", fr->dir, fr->inv.guests[fr->st.g[i].guest].name);
}

void fr_save(struct fr *fr)
{
	struct gp_error *err;
	char *s;

	if (fr->mode != FR_RUN)
		return;
	fr->st.updated = fr_now();
	if (!(s = fleet_state_json(&fr->st, &fr->inv)))
		return;
	if ((err = fr_write_file(fr->dir, "state.json", s))) {
		fprintf(stderr, "vmm: fleet: writing the run state: %s\n", err->msg);
		gp_error_destroy(err);
	}
	free(s);
}

/* Start `vmm ARGS... --json` for guest i; the target is always the 2nd arg. */
static void spawn(struct fr *fr, size_t i, enum step step, const char *const *args)
{
	struct fleet_gstate *g = &fr->st.g[i];
	struct fr_job *j = &fr->jobs[i];
	char op[4200], lp[4200];
	const char *argv[24];
	struct stat st;
	int n = 0, pid;

	out_path(fr, i, op, sizeof(op));
	log_path(fr, i, lp, sizeof(lp));
	j->step = step;
	j->started = fr_now();
	j->log_off = stat(lp, &st) ? 0 : (long)st.st_size;
	snprintf(g->step, sizeof(g->step), "%s", step_names[step]);
	g->phase = FLEET_RUNNING;
	argv[n++] = "vmm";
	for (int k = 0; args[k] && n < 20; k++)
		argv[n++] = args[k];
	argv[n++] = "--json";
	argv[n] = NULL;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		int o = open(op, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int l = open(lp, O_WRONLY | O_CREAT | O_APPEND, 0644);
		int nul = open("/dev/null", O_RDONLY);

		if (o < 0 || l < 0 || nul < 0)
			_exit(126);
		dprintf(l, "--- %s at %.3f:", step_names[step], fr_now());
		for (int k = 0; argv[k]; k++)
			dprintf(l, " %s", argv[k]);
		dprintf(l, "\n");
		dup2(nul, 0);
		dup2(o, 1);
		dup2(l, 2);
		execv(fr->exe, (char *const *)argv);
		dprintf(2, "vmm: fleet: cannot run %s: %s\n", fr->exe, strerror(errno));
		_exit(127);
	}
	if (pid < 0) {
		j->pid = 0;
		g->phase = FLEET_DONE;
		g->result = FLEET_R_FAILED;
		snprintf(g->error, sizeof(g->error), "fork: %s", strerror(errno));
		return;
	}
	j->pid = pid;
	fr_save(fr);
}

static const char *target_of(struct fr *fr, size_t i)
{
	return fr->inv.guests[fr->st.g[i].guest].target;
}

static void finish(struct fr *fr, size_t i, enum fleet_result r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void progress_line(struct fr *fr, size_t i);

static void finish(struct fr *fr, size_t i, enum fleet_result r, const char *fmt, ...)
{
	struct fleet_gstate *g = &fr->st.g[i];
	va_list ap;

	g->phase = FLEET_DONE;
	g->result = r;
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(g->error, sizeof(g->error), fmt, ap);
		va_end(ap);
	}
	fr->jobs[i].pid = 0;
	fr_save(fr);
	/* One line per guest, and one more if its health check fails. */
	if (fr->jobs[i].mode != JM_CHECK || r == FLEET_R_UNHEALTHY)
		progress_line(fr, i);
}

/* The last non-empty line a step wrote on stderr ("vmm: patch: ..."). */
static void last_error(struct fr *fr, size_t i, char *buf, size_t len)
{
	char lp[4200];
	char *s, *end, *line;

	log_path(fr, i, lp, sizeof(lp));
	s = slurp(lp, fr->jobs[i].log_off, 64 * 1024);
	buf[0] = '\0';
	if (!s)
		return;
	/* The last line that is not ours ("--- STEP at T: ..." or "--- end"). */
	line = NULL;
	for (char *p = s; p && *p; p = end ? end + 1 : NULL) {
		end = strchr(p, '\n');
		if (end)
			*end = '\0';
		if (strncmp(p, "--- ", 4) && p[strspn(p, " ")])
			line = p;
	}
	snprintf(buf, len, "%s", line ? line : "(no message)");
	free(s);
}

static void add_name(char (*v)[FLEET_NAME_MAX], size_t *n, const char *name)
{
	for (size_t k = 0; k < *n; k++)
		if (!strcmp(v[k], name))
			return;
	if (*n < FLEET_MAX_WANTED)
		snprintf(v[(*n)++], FLEET_NAME_MAX, "%s", name);
}

static bool has_name(char (*v)[FLEET_NAME_MAX], size_t n, const char *name)
{
	for (size_t k = 0; k < n; k++)
		if (!strcmp(v[k], name))
			return true;
	return false;
}

/* From `vmm list --json`: the names present, a transition in progress. */
static void take_list(struct fr *fr, size_t i, json_object *o)
{
	struct fleet_gstate *g = &fr->st.g[i];
	struct fr_job *j = &fr->jobs[i];
	json_object *arr, *t, *v;

	g->npresent = 0;
	j->nforced = 0;
	j->in_transition = false;
	if (json_object_object_get_ex(o, "patches", &arr) && json_object_is_type(arr, json_type_array))
		for (size_t k = 0; k < json_object_array_length(arr) && k < FLEET_MAX_WANTED; k++) {
			json_object *p = json_object_array_get_idx(arr, k), *f;

			if (!json_object_object_get_ex(p, "name", &v))
				continue;
			add_name(g->present, &g->npresent, json_object_get_string(v));
			if (json_object_object_get_ex(p, "forced", &f) && json_object_get_boolean(f))
				add_name(j->forced, &j->nforced, json_object_get_string(v));
		}
	if (json_object_object_get_ex(o, "transition", &t) && json_object_is_type(t, json_type_object)) {
		j->in_transition = true;
		snprintf(j->trans_patch, sizeof(j->trans_patch), "%s",
			 json_object_object_get_ex(t, "patch", &v) ? json_object_get_string(v) : "");
	}
	if (!g->have_before) {
		memcpy(g->before, g->present, sizeof(g->before));
		g->nbefore = g->npresent;
		g->have_before = true;
	}
}

/* applied = present - before; removed (by a replace) = before - present. */
static void account(struct fleet_gstate *g)
{
	for (size_t k = 0; k < g->npresent; k++)
		if (!has_name(g->before, g->nbefore, g->present[k]))
			add_name(g->applied, &g->napplied, g->present[k]);
	for (size_t k = 0; k < g->nbefore; k++)
		if (!has_name(g->present, g->npresent, g->before[k]))
			add_name(g->removed, &g->nremoved, g->before[k]);
}

/* The blocking tasks of a report's transition.waiting_for. */
static void take_blocking(struct fleet_gstate *g, json_object *o)
{
	json_object *t, *w, *v;

	if (!json_object_object_get_ex(o, "transition", &t) ||
	    !json_object_object_get_ex(t, "waiting_for", &w) || !json_object_is_type(w, json_type_array))
		return;
	g->nblocking = 0;
	for (size_t k = 0; k < json_object_array_length(w) && g->nblocking < FLEET_MAX_BLOCKING; k++) {
		json_object *b = json_object_array_get_idx(w, k);
		struct fleet_blocking *bl = &g->blocking[g->nblocking++];

		bl->pid = json_object_object_get_ex(b, "pid", &v) ? json_object_get_int(v) : 0;
		snprintf(bl->comm, sizeof(bl->comm), "%s",
			 json_object_object_get_ex(b, "comm", &v) ? json_object_get_string(v) : "");
		snprintf(bl->function, sizeof(bl->function), "%s",
			 json_object_object_get_ex(b, "function", &v) ? json_object_get_string(v) : "");
	}
}

static void take_pause(struct fleet_gstate *g, json_object *o)
{
	json_object *v;

	if (json_object_object_get_ex(o, "pause_total_ms", &v))
		g->pause_ms += json_object_get_double(v);
}

static char stall_buf[32];

static void start_trans(struct fr *fr, size_t i)
{
	const char *op = NULL;

	switch (fr->st.policy.on_stall) {
	case FLEET_STALL_WAIT: op = NULL; break;
	case FLEET_STALL_SIGNAL: op = "--signal"; break;
	case FLEET_STALL_REVERT: op = "--reverse"; break;
	case FLEET_STALL_FORCE: op = "--force"; break;
	}
	snprintf(stall_buf, sizeof(stall_buf), "%g", fr->st.policy.stall_s);
	fr->st.g[i].stall_rounds++;
	spawn(fr, i, ST_TRANS, (const char *const[]){ "transition", target_of(fr, i),
			"--timeout", stall_buf, op, NULL });
}

/* The next patch to apply, or verify. */
static void next_patch(struct fr *fr, size_t i)
{
	struct fleet_gstate *g = &fr->st.g[i];
	struct fr_job *j = &fr->jobs[i];

	if ((size_t)g->next < j->nto_apply) {
		snprintf(stall_buf, sizeof(stall_buf), "%g", fr->st.policy.stall_s);
		spawn(fr, i, ST_PATCH, (const char *const[]){ "patch", target_of(fr, i),
				fr->inv.patches[j->to_apply[g->next]].file, "--timeout", stall_buf, NULL });
		return;
	}
	spawn(fr, i, ST_VERIFY, (const char *const[]){ "list", target_of(fr, i), NULL });
}

static void start_guest(struct fr *fr, size_t i)
{
	struct fr_job *j = &fr->jobs[i];
	struct fleet_gstate *g = &fr->st.g[i];

	if (j->mode == JM_APPLY) {
		g->stall_rounds = 0;
		g->result = FLEET_R_NONE;
		g->error[0] = '\0';
		spawn(fr, i, ST_INFO, (const char *const[]){ "info", target_of(fr, i), NULL });
	} else if (j->mode == JM_CHECK) {
		char seq[32];

		snprintf(seq, sizeof(seq), "%lld", (long long)g->health_seq);
		spawn(fr, i, ST_CHECK, g->health_seq >= 0 ?
		      (const char *const[]){ "health", target_of(fr, i), "--since", seq, NULL } :
		      (const char *const[]){ "health", target_of(fr, i), NULL });
	} else {
		spawn(fr, i, ST_LIST, (const char *const[]){ "list", target_of(fr, i), NULL });
	}
}

/* Rollback: reverse a transition in progress, then unpatch newest first. */
static void rollback_next(struct fr *fr, size_t i)
{
	struct fleet_gstate *g = &fr->st.g[i];
	struct fr_job *j = &fr->jobs[i];

	snprintf(stall_buf, sizeof(stall_buf), "%g", fr->st.policy.stall_s);
	if (j->in_transition && !g->stall_rounds++) {
		spawn(fr, i, ST_REVERSE, (const char *const[]){ "transition", target_of(fr, i),
				"--reverse", "--timeout", stall_buf, NULL });
		return;
	}
	for (size_t k = g->napplied; k-- > 0;)
		if (has_name(g->present, g->npresent, g->applied[k])) {
			/* A patch this run applied and forced (--on-stall force,
			 * the operator's choice) is removed as the kernel's
			 * livepatch disables a forced patch: allowed, its code
			 * kept (vmm unpatch --force keeps it, never reused). */
			bool forced = fr->st.policy.on_stall == FLEET_STALL_FORCE &&
				      has_name(j->forced, j->nforced, g->applied[k]);

			char said[FLEET_NAME_MAX + 80];

			snprintf(said, sizeof(said), "%s was forced: removed with --force, its code kept in the guest",
				 g->applied[k]);
			/* Once per patch, also when a resumed run unpatches it again. */
			if (forced && !strstr(g->error, said))
				snprintf(g->error + strlen(g->error), sizeof(g->error) - strlen(g->error),
					 "%s%s", g->error[0] ? "; " : "", said);
			spawn(fr, i, ST_UNPATCH, (const char *const[]){ "unpatch", target_of(fr, i),
					g->applied[k], "--timeout", stall_buf, forced ? "--force" : NULL, NULL });
			return;
		}
	/* Nothing of this run is left in the guest. */
	for (size_t k = 0; k < g->napplied; k++)
		add_name(g->removed, &g->nremoved, g->applied[k]);
	{
		char why[FLEET_ERR_MAX];

		snprintf(why, sizeof(why), "%s", g->error[0] ? g->error : "rolled back");
		finish(fr, i, FLEET_R_ROLLED_BACK, "%s", why);
	}
}

/* A step of guest i ended with exit code rc; its stdout parsed (may be NULL). */
static void step_done(struct fr *fr, size_t i, int rc, json_object *o)
{
	struct fleet_gstate *g = &fr->st.g[i];
	struct fr_job *j = &fr->jobs[i];
	char msg[FLEET_ERR_MAX - 64];
	json_object *v;

	g->elapsed_ms += (fr_now() - j->started) * 1e3;
	j->pid = 0;
	last_error(fr, i, msg, sizeof(msg));
	/* A step stopped by the run's own SIGINT while a transition waited
	 * exits 130 with its report saying "in-progress": the transition is
	 * left in progress in the guest, as with exit 3. */
	if (rc == 130 && o && json_object_object_get_ex(o, "result", &v) &&
	    !strcmp(json_object_get_string(v), "in-progress"))
		rc = LP_EXIT_IN_PROGRESS;
	/* Another vmm holds the guest (an orphan step of a killed run): retry. */
	if (rc == 1 && strstr(msg, "busy:") && j->busy_retries++ < BUSY_RETRIES) {
		g->phase = FLEET_RUNNING;
		j->not_before = fr_now() + 1.0;
		j->pid = -1;	/* re-run this step when due */
		return;
	}
	switch ((enum step)j->step) {
	case ST_INFO:
		if (rc || !o || !json_object_object_get_ex(o, "build_id", &v))
			return finish(fr, i, FLEET_R_UNREACHABLE, "%s", msg);
		snprintf(g->build_id, sizeof(g->build_id), "%s", json_object_get_string(v));
		if (json_object_object_get_ex(o, "release", &v))
			snprintf(g->release, sizeof(g->release), "%s", json_object_get_string(v));
		g->nwanted = fleet_patches_for(&fr->inv, g->build_id, g->wanted, FLEET_MAX_WANTED);
		if (fr->mode == FR_RUN && fr->st.policy.health && g->nwanted)
			return spawn(fr, i, ST_BASE, (const char *const[]){ "health", target_of(fr, i), NULL });
		return spawn(fr, i, ST_LIST, (const char *const[]){ "list", target_of(fr, i), NULL });
	case ST_BASE:
		if (rc == 1 || !o || !json_object_object_get_ex(o, "log_next_seq", &v))
			return finish(fr, i, FLEET_R_FAILED, "health baseline: %s", msg);
		if (g->health_seq < 0)	/* a resumed guest keeps its first baseline */
			g->health_seq = json_object_get_int64(v);
		return spawn(fr, i, ST_LIST, (const char *const[]){ "list", target_of(fr, i), NULL });
	case ST_LIST:
		if (rc || !o)
			return finish(fr, i, j->mode == JM_ROLLBACK ? FLEET_R_FAILED : FLEET_R_UNREACHABLE,
				      "list: %s", msg);
		take_list(fr, i, o);
		if (j->mode == JM_ROLLBACK)
			return rollback_next(fr, i);
		j->nto_apply = fleet_to_apply(&fr->inv, g->wanted, g->nwanted, g->present, g->npresent,
					      j->to_apply);
		if (fr->mode == FR_PLAN) {
			g->phase = FLEET_DONE;
			g->result = !g->nwanted ? FLEET_R_NO_PATCH : j->nto_apply ? FLEET_R_NONE : FLEET_R_NOTHING;
			return;
		}
		if (j->in_transition && g->stall_rounds >= WAIT_ROUNDS)
			return finish(fr, i, FLEET_R_PENDING, "transition of %s still in progress",
				      j->trans_patch);
		if (j->in_transition)	/* left by an interrupted run: drive it on */
			return start_trans(fr, i);
		if (!g->nwanted)
			return finish(fr, i, FLEET_R_NO_PATCH, NULL);
		g->next = 0;
		if (!j->nto_apply) {	/* what the list shows is the end state */
			account(g);
			return finish(fr, i, g->napplied ? FLEET_R_APPLIED : FLEET_R_NOTHING, NULL);
		}
		return next_patch(fr, i);
	case ST_PATCH:
		if (o)
			take_pause(g, o);
		if (rc == LP_EXIT_IN_PROGRESS) {
			if (o)
				take_blocking(g, o);
			g->next++;
			return start_trans(fr, i);
		}
		if (rc) {
			snprintf(g->error, sizeof(g->error), "patch %.200s: %.290s",
				 fr->inv.patches[j->to_apply[g->next]].file, msg);
			g->result = FLEET_R_FAILED;
			return spawn(fr, i, ST_VERIFY, (const char *const[]){ "list", target_of(fr, i), NULL });
		}
		g->next++;
		return next_patch(fr, i);
	case ST_TRANS:
		if (o)
			take_pause(g, o);
		if (rc == LP_EXIT_IN_PROGRESS) {
			if (o)
				take_blocking(g, o);
			if (fr->st.policy.on_stall == FLEET_STALL_WAIT && g->stall_rounds < WAIT_ROUNDS)
				return start_trans(fr, i);
			if (fr->st.policy.on_stall == FLEET_STALL_SIGNAL && g->stall_rounds < 2)
				return start_trans(fr, i);
			g->result = FLEET_R_PENDING;
			snprintf(g->error, sizeof(g->error), "transition still in progress after --on-stall %s",
				 fleet_stall_name(fr->st.policy.on_stall));
			return spawn(fr, i, ST_VERIFY, (const char *const[]){ "list", target_of(fr, i), NULL });
		}
		if (rc) {
			g->result = FLEET_R_FAILED;
			snprintf(g->error, sizeof(g->error), "transition: %s", msg);
			return spawn(fr, i, ST_VERIFY, (const char *const[]){ "list", target_of(fr, i), NULL });
		}
		/* Reverted: failed, whether or not the step named its
		 * blockers (applying it again would only stall again). */
		if (fr->st.policy.on_stall == FLEET_STALL_REVERT) {
			g->result = FLEET_R_FAILED;
			snprintf(g->error, sizeof(g->error), "transition stalled on %d task%s; reverted (--on-stall revert)",
				 (int)g->nblocking, g->nblocking == 1 ? "" : "s");
			return spawn(fr, i, ST_VERIFY, (const char *const[]){ "list", target_of(fr, i), NULL });
		}
		if (fr->st.policy.on_stall == FLEET_STALL_FORCE)
			snprintf(g->error, sizeof(g->error), "transition forced (--on-stall force)");
		else if (g->nblocking)	/* the why column: it held, then moved */
			snprintf(g->error, sizeof(g->error), "transition stalled on %d task%s, completed after --on-stall %s",
				 (int)g->nblocking, g->nblocking == 1 ? "" : "s",
				 fleet_stall_name(fr->st.policy.on_stall));
		/* After a resumed transition: what is left to apply. */
		if (j->mode == JM_APPLY && !g->nwanted)
			return spawn(fr, i, ST_VERIFY, (const char *const[]){ "list", target_of(fr, i), NULL });
		return spawn(fr, i, ST_LIST, (const char *const[]){ "list", target_of(fr, i), NULL });
	case ST_VERIFY:
		if (rc || !o)
			return finish(fr, i, FLEET_R_FAILED, "verify: %s", msg);
		take_list(fr, i, o);
		account(g);
		if (g->result == FLEET_R_FAILED || g->result == FLEET_R_PENDING) {
			if (g->result == FLEET_R_PENDING && !j->in_transition)
				g->result = FLEET_R_APPLIED;	/* it completed meanwhile */
			else
				return finish(fr, i, g->result, NULL);
		}
		if (j->in_transition)
			return finish(fr, i, FLEET_R_PENDING, "transition of %s still in progress", j->trans_patch);
		return finish(fr, i, g->napplied ? FLEET_R_APPLIED : FLEET_R_NOTHING, NULL);
	case ST_CHECK:
		g->health_checked = true;
		if (rc == 0)
			return finish(fr, i, g->result, NULL);
		if (rc == 4) {
			snprintf(msg, sizeof(msg), "%s",
				 o && json_object_object_get_ex(o, "reason", &v) ? json_object_get_string(v) : "unhealthy");
			return finish(fr, i, FLEET_R_UNHEALTHY, "health: %s", msg);
		}
		return finish(fr, i, FLEET_R_UNHEALTHY, "health check failed: %s", msg);
	case ST_REVERSE:
		if (rc)
			snprintf(g->error, sizeof(g->error), "rollback: transition --reverse: %s", msg);
		return spawn(fr, i, ST_LIST, (const char *const[]){ "list", target_of(fr, i), NULL });
	case ST_UNPATCH:
		if (rc) {
			finish(fr, i, FLEET_R_FAILED, "rollback: unpatch: %s", msg);
			return;
		}
		for (size_t k = g->napplied; k-- > 0;)
			if (has_name(g->present, g->npresent, g->applied[k])) {
				add_name(g->removed, &g->nremoved, g->applied[k]);
				/* present: as if listed again */
				for (size_t m = 0; m < g->npresent; m++)
					if (!strcmp(g->present[m], g->applied[k])) {
						memmove(g->present[m], g->present[m + 1],
							(g->npresent - m - 1) * FLEET_NAME_MAX);
						g->npresent--;
						break;
					}
				break;
			}
		return rollback_next(fr, i);
	}
}

static void reap(struct fr *fr, size_t i, int status)
{
	char op[4200], lp[4200];
	int fd;
	char *text;
	json_object *o = NULL;
	int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);

	out_path(fr, i, op, sizeof(op));
	log_path(fr, i, lp, sizeof(lp));
	/* When each step ended: the log shows what ran when (and the test
	 * checks from it that two guests of a group never overlapped). */
	if ((fd = open(lp, O_WRONLY | O_APPEND | O_CLOEXEC)) >= 0) {
		dprintf(fd, "--- end at %.3f: exit %d\n", fr_now(), rc);
		close(fd);
	}
	text = slurp(op, 0, OUT_MAX);
	if (text && *text)
		o = json_tokener_parse(text);
	free(text);
	step_done(fr, i, rc, o);
	json_object_put(o);
}

/* ... */
static void progress_line(struct fr *fr, size_t i)
{
	struct fleet_gstate *g = &fr->st.g[i];
	const struct fleet_guest *gu = &fr->inv.guests[g->guest];
	int b = fr->plan.batch_of[g->guest];

	if (fr->tty || fr->mode != FR_RUN)
		return;
	fprintf(fr->out, "[%s batch %d] %s: %s%s%s\n", fr->inv.rings[gu->ring].name,
		b >= 0 ? fr->plan.batches[b].index + 1 : 0, gu->name, fleet_result_name(g->result),
		g->error[0] ? ": " : "", cli_str(g->error));
	fflush(fr->out);
}

void fr_draw(struct fr *fr, bool force)
{
	double now = fr_now();
	size_t fail = 0;

	if (!fr->tty || (!force && now - fr->last_draw < 0.25))
		return;
	fr->last_draw = now;
	fprintf(stderr, "\r\033[K");
	for (size_t r = 0; r < fr->inv.nrings; r++) {
		size_t n = 0, done = 0;

		for (size_t i = 0; i < fr->st.n; i++) {
			if (fr->inv.guests[fr->st.g[i].guest].ring != (int)r)
				continue;
			n++;
			done += fr->st.g[i].phase == FLEET_DONE;
			fail += fr->st.g[i].phase == FLEET_DONE && fleet_result_failed(fr->st.g[i].result);
		}
		if (n)
			fprintf(stderr, "%s %zu/%zu  ", fr->inv.rings[r].name, done, n);
	}
	if (fr->cur_batch >= 0 && (size_t)fr->cur_batch < fr->plan.nbatches)
		fprintf(stderr, "| batch %d of ring %s | failed %zu",
			fr->plan.batches[fr->cur_batch].index + 1,
			fr->inv.rings[fr->plan.batches[fr->cur_batch].ring].name, fail);
	fflush(stderr);
}

/* Whether guest i may start now: caps and groups. */
static bool may_start(struct fr *fr, size_t i, const bool *active)
{
	const struct fleet_guest *gu = &fr->inv.guests[fr->st.g[i].guest];
	int all = 0, host = 0;
	int hcap = fr->inv.hosts[gu->host].max_parallel;

	for (size_t k = 0; k < fr->st.n; k++) {
		const struct fleet_guest *o;

		if (!active[k])
			continue;
		o = &fr->inv.guests[fr->st.g[k].guest];
		all++;
		host += o->host == gu->host;
		if (gu->group[0] && !strcmp(o->group, gu->group))
			return false;
	}
	return all < fr->st.policy.max_parallel && (!hcap || host < hcap);
}

/*
 * Run guests sel[0..n) in mode m through the pool until each is done.
 * SIGINT/SIGTERM: stop starting new ones, wait for those running.
 */
void fr_pool(struct fr *fr, const size_t *sel, size_t n, int m)
{
	bool *active = calloc(fr->st.n, sizeof(bool)), *todo = calloc(fr->st.n, sizeof(bool));
	size_t left = 0;

	if (!active || !todo) {
		free(active);
		free(todo);
		return;
	}
	for (size_t k = 0; k < n; k++) {
		todo[sel[k]] = true;
		fr->jobs[sel[k]].mode = m;
		fr->jobs[sel[k]].pid = 0;
		fr->jobs[sel[k]].busy_retries = 0;
		fr->st.g[sel[k]].stall_rounds = 0;
		left++;
	}
	while (left) {
		int status, pid;

		for (size_t i = 0; i < fr->st.n && !tgt_interrupted(); i++) {
			if (todo[i] && !active[i] && may_start(fr, i, active)) {
				active[i] = true;
				todo[i] = false;
				fr->st.g[i].phase = FLEET_RUNNING;
				start_guest(fr, i);
			}
		}
		for (size_t i = 0; i < fr->st.n; i++) {
			struct fr_job *j = &fr->jobs[i];

			/* A busy retry: the guest's steps again from the start
			 * (each pipeline starts read-only: info or list). */
			if (active[i] && j->pid == -1 && fr_now() >= j->not_before) {
				j->pid = 0;
				start_guest(fr, i);
			}
		}
		pid = waitpid(-1, &status, WNOHANG);
		if (pid > 0) {
			for (size_t i = 0; i < fr->st.n; i++)
				if (active[i] && fr->jobs[i].pid == pid) {
					reap(fr, i, status);
					break;
				}
		} else {
			usleep(50 * 1000);
		}
		left = 0;
		for (size_t i = 0; i < fr->st.n; i++) {
			if (active[i] && fr->jobs[i].pid == 0 && fr->st.g[i].phase == FLEET_DONE)
				active[i] = false;
			left += active[i] || (todo[i] && !tgt_interrupted());
		}
		fr_draw(fr, false);
	}
	free(active);
	free(todo);
}

int fr_probe(struct fr *fr)
{
	size_t *sel = calloc(fr->st.n ? fr->st.n : 1, sizeof(size_t));

	if (!sel)
		return 1;
	for (size_t i = 0; i < fr->st.n; i++)
		sel[i] = i;
	fr_pool(fr, sel, fr->st.n, JM_APPLY);
	free(sel);
	return 0;
}

