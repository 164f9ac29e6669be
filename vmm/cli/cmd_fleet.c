// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cmd_fleet.c - `vmm fleet plan|run|status|resume`: options, the run
 * directory (inventory copy, plan, state, report, per-guest logs, a lock),
 * and the output (report.jsonl, the table, the summary per ring and batch).
 * The engine is cmd_fleet_run.c; the logic is manage/fleet*.c.
 *
 * lines: four subcommands and their output, sharing the run directory's
 * helpers; about 700.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cmd_fleet.h"

#define RUN_ROOT "/var/lib/guestpatch/fleet"

struct fopts {
	const char *host, *run_dir, *serial, *max_fail, *on_stall, *rollback;
	int max_parallel;
	double stall_s, soak_s;
	bool no_health, json;
};

static int usage_fleet(FILE *f)
{
	fputs("usage: vmm fleet plan INVENTORY [--host NAME] [--json]\n"
	      "       vmm fleet run INVENTORY [--host NAME] [--run-dir DIR] [--serial S] [--max-parallel N]\n"
	      "                 [--max-fail N|P%] [--on-stall wait|signal|revert|force] [--stall-timeout S]\n"
	      "                 [--rollback none|failed|batch|all] [--soak S] [--no-health] [--json]\n"
	      "       vmm fleet status RUN-ID|DIR [--json]\n"
	      "       vmm fleet resume RUN-ID|DIR [--json]\n"
	      "The inventory format: configs/fleet/README.md. Exit: 0 done, 2 halted (failure\n"
	      "threshold), 1 error or a guest failed below the threshold.\n", f);
	return f == stdout ? 0 : 2;
}

static int fail(struct gp_error *err)
{
	return cli_fail(err, "fleet");
}

static struct gp_error *apply_flags(const struct fopts *o, struct fleet_policy *p)
{
	struct gp_error *err;

	if (o->serial) {
		if ((err = fleet_serial_parse(o->serial, &p->serial)))
			return err;
		snprintf(p->serial_text, sizeof(p->serial_text), "%s", o->serial);
	}
	if (o->max_parallel)
		p->max_parallel = o->max_parallel;
	if (o->max_fail && (err = fleet_max_fail_parse(o->max_fail, &p->max_fail, &p->max_fail_pct)))
		return err;
	if (o->on_stall && (err = fleet_stall_parse(o->on_stall, &p->on_stall)))
		return err;
	if (o->rollback && (err = fleet_rollback_parse(o->rollback, &p->rollback)))
		return err;
	if (o->stall_s > 0)
		p->stall_s = o->stall_s;
	if (o->soak_s >= 0)
		p->soak_s = o->soak_s;
	if (o->no_health)
		p->health = false;
	return NULL;
}

struct gp_error *fr_write_file(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	size_t len = strlen(text), off = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		return gp_error_os(errno, "%s", tmp);
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n <= 0) {
			close(fd);
			return gp_error_os(errno, "writing %s", tmp);
		}
		off += (size_t)n;
	}
	if (fsync(fd)) {
		int e = errno;

		close(fd);
		return gp_error_os(e, "%s", tmp);
	}
	if (close(fd) || rename(tmp, path))
		return gp_error_os(errno, "%s", path);
	return NULL;
}

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;

	if (!f)
		return NULL;
	buf = malloc(FLEET_FILE_MAX * 4 + 1);
	n = buf ? fread(buf, 1, FLEET_FILE_MAX * 4, f) : 0;
	fclose(f);
	if (buf)
		buf[n] = '\0';
	return buf;
}

/* One process drives a run: an flock on DIR/lock, not inherited by steps. */
static struct gp_error *lock_run(struct fr *fr)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/lock", fr->dir);
	if ((fr->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
		return gp_error_os(errno, "%s", path);
	if (flock(fr->lock_fd, LOCK_EX | LOCK_NB))
		return gp_error_create(GP_ERR_BUSY, "busy: run %s is driven by another vmm fleet process (%s)",
				       fr->dir, path);
	if (ftruncate(fr->lock_fd, 0) == 0)
		dprintf(fr->lock_fd, "%d\n", (int)getpid());
	return NULL;
}

static void fr_free(struct fr *fr)
{
	fleet_state_free(&fr->st);
	fleet_plan_free(&fr->plan);
	fleet_inv_free(&fr->inv);
	free(fr->jobs);
	if (fr->lock_fd >= 0)
		close(fr->lock_fd);
}

static struct gp_error *fr_setup(struct fr *fr, int host)
{
	struct gp_error *err;
	/* Each step runs this very binary, even if a newer vmm replaced the
	 * file meanwhile (a run never mixes versions). */
	snprintf(fr->exe, sizeof(fr->exe), "/proc/self/exe");
	if (access(fr->exe, X_OK))
		return gp_error_os(errno, "/proc/self/exe");
	if ((err = fleet_plan_make(&fr->inv, host, &fr->plan)) ||
	    (err = fleet_state_init(&fr->st, &fr->plan)))
		return err;
	if (!(fr->jobs = calloc(fr->st.n, sizeof(*fr->jobs))))
		return &gp_error_nomem;
	fr->st.policy = fr->inv.policy;
	fr->tty = !fr->json && isatty(1);
	fr->out = fr->json ? stderr : stdout;
	fr->cur_batch = -1;
	return NULL;
}

/* plan and run: the inventory (with its text when text is not NULL),
 * its patch files checked, the flags over its policy, --host, the plan.
 * 0, or the exit status (the error printed); fr_free() in either case. */
static int open_inventory(const struct fopts *o, const char *path, struct fr *fr, char **text)
{
	struct gp_error *err;
	int host = -1;

	if ((err = fleet_inv_load(path, &fr->inv, text)) || (err = fleet_inv_check_files(&fr->inv)) ||
	    (err = apply_flags(o, &fr->inv.policy)))
		return fail(err);
	if (o->host && (host = fleet_inv_host(&fr->inv, o->host)) < 0) {
		fprintf(stderr, "vmm: fleet: --host %s: no such host in the inventory\n", o->host);
		return 2;
	}
	if ((err = fr_setup(fr, host)))
		return fail(err);
	return 0;
}

static void mkdirs(const char *dir)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s", dir);
	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = '\0';
			mkdir(p, 0755);
			*s = '/';
		}
	mkdir(p, 0755);
}

static const char *batch_str(const struct fr *fr, int guest)
{
	static char buf[16];
	int b = fr->plan.batch_of[guest];

	snprintf(buf, sizeof(buf), "%d", b >= 0 ? fr->plan.batches[b].index + 1 : 0);
	return buf;
}

/* report.jsonl, then the table and the summary (or --json). */
static void report(struct fr *fr, int ret)
{
	json_object *all = json_object_new_array(), *root, *sum = json_object_new_array();
	size_t cap = 4096, len = 0;
	char *lines = malloc(cap);
	struct gp_error *err;

	for (size_t i = 0; lines && i < fr->st.n; i++) {
		char *l = fleet_report_line(&fr->st, &fr->inv, &fr->plan, i);
		size_t ll = l ? strlen(l) : 0;

		if (!l)
			continue;
		if (len + ll + 2 > cap) {
			char *nl = realloc(lines, (cap = (len + ll + 2) * 2));

			if (!nl) {
				free(l);
				break;
			}
			lines = nl;
		}
		memcpy(lines + len, l, ll);
		len += ll;
		lines[len++] = '\n';
		json_object_array_add(all, json_tokener_parse(l));
		free(l);
	}
	if (lines) {
		lines[len] = '\0';
		if ((err = fr_write_file(fr->dir, "report.jsonl", lines)))
			cli_fail(err, "fleet: report");
	}
	free(lines);
	for (size_t b = 0; b < fr->plan.nbatches; b++) {
		const struct fleet_batch *B = &fr->plan.batches[b];
		json_object *o = json_object_new_object();
		size_t nf = 0, nd = 0;

		for (size_t k = B->first; k < B->first + B->n; k++) {
			nd += fr->st.g[k].phase == FLEET_DONE;
			nf += fr->st.g[k].phase == FLEET_DONE && fleet_result_failed(fr->st.g[k].result);
		}
		json_object_object_add(o, "ring", json_object_new_string(fr->inv.rings[B->ring].name));
		json_object_object_add(o, "batch", json_object_new_int(B->index + 1));
		json_object_object_add(o, "guests", json_object_new_int((int)B->n));
		json_object_object_add(o, "done", json_object_new_int((int)nd));
		json_object_object_add(o, "failed", json_object_new_int((int)nf));
		json_object_array_add(sum, o);
	}
	if (fr->json) {
		root = json_object_new_object();
		json_object_object_add(root, "run", json_object_new_string(fr->st.run));
		json_object_object_add(root, "dir", json_object_new_string(fr->dir));
		json_object_object_add(root, "phase", json_object_new_string(
			fr->st.phase == FLEET_RUN_DONE ? "done" : fr->st.phase == FLEET_RUN_HALTED ? "halted" : "running"));
		json_object_object_add(root, "halt_reason", json_object_new_string(fr->st.halt_reason));
		json_object_object_add(root, "exit", json_object_new_int(ret));
		json_object_object_add(root, "batches", sum);
		json_object_object_add(root, "guests", all);
		cli_print_json(root);
		return;
	}
	printf("\n%-16s %-10s %-8s %-5s %-20s %-22s %s\n", "GUEST", "HOST", "RING", "BATCH",
	       "RESULT", "APPLIED", "WHY");
	for (size_t i = 0; i < fr->st.n; i++) {
		const struct fleet_gstate *g = &fr->st.g[i];
		const struct fleet_guest *gu = &fr->inv.guests[g->guest];
		char applied[256] = "";
		const char *res = g->phase == FLEET_DONE ? fleet_result_name(g->result) :
				  g->phase == FLEET_RUNNING ? "in-progress" :
				  fr->st.phase == FLEET_RUN_RUNNING ? "pending" : "skipped";

		for (size_t k = 0; k < g->napplied; k++)
			snprintf(applied + strlen(applied), sizeof(applied) - strlen(applied), "%s%s",
				 k ? "," : "", g->applied[k]);
		if (!applied[0])
			snprintf(applied, sizeof(applied), "-");
		printf("%-16s %-10s %-8s %-5s %-20s %-22s %s", cli_str(gu->name),
		       cli_str(fr->inv.hosts[gu->host].name), cli_str(fr->inv.rings[gu->ring].name),
		       batch_str(fr, g->guest), res, cli_str(applied), cli_str(g->error));
		for (size_t k = 0; k < g->nblocking; k++)
			printf("%s pid %d (%s) in %s", k ? "," : " blocked by:", g->blocking[k].pid,
			       cli_str(g->blocking[k].comm), cli_str(g->blocking[k].function));
		putchar('\n');
	}
	printf("\nsummary:\n");
	for (size_t k = 0; k < json_object_array_length(sum); k++) {
		json_object *o = json_object_array_get_idx(sum, k), *v;
		int n, d, f;

		json_object_object_get_ex(o, "guests", &v), n = json_object_get_int(v);
		json_object_object_get_ex(o, "done", &v), d = json_object_get_int(v);
		json_object_object_get_ex(o, "failed", &v), f = json_object_get_int(v);
		json_object_object_get_ex(o, "ring", &v);
		printf("  ring %-8s batch %-3zu %d guest%s, %d done, %d failed\n", cli_str(json_object_get_string(v)),
		       (size_t)fr->plan.batches[k].index + 1, n, n == 1 ? "" : "s", d, f);
	}
	if (fr->st.phase == FLEET_RUN_HALTED)
		printf("halted: %s; rollback: %s\n", cli_str(fr->st.halt_reason),
		       fr->st.rolled_back ? fleet_rollback_name(fr->st.policy.rollback) : "not done");
	printf("run %s: %s (report: %s/report.jsonl)\n", fr->st.run,
	       fr->st.phase == FLEET_RUN_DONE ? "done" : fr->st.phase == FLEET_RUN_HALTED ? "halted" : "stopped",
	       fr->dir);
	json_object_put(all);
	json_object_put(sum);
}

static int fleet_plan(struct fopts *o, const char *inventory)
{
	struct fr fr = { .mode = FR_PLAN, .lock_fd = -1, .json = o->json };
	char tmpl[] = "/tmp/gp-fleet-plan.XXXXXX";
	int ret = open_inventory(o, inventory, &fr, NULL);
	json_object *arr;

	if (ret) {
		fr_free(&fr);
		return ret;
	}
	if (!mkdtemp(tmpl)) {
		fr_free(&fr);
		return fail(gp_error_os(errno, "mkdtemp"));
	}
	snprintf(fr.dir, sizeof(fr.dir), "%s", tmpl);
	{
		char p[PATH_MAX];

		snprintf(p, sizeof(p), "%s/out", fr.dir);
		mkdirs(p);
		snprintf(p, sizeof(p), "%s/log", fr.dir);
		mkdirs(p);
	}
	fr_probe(&fr);
	arr = json_object_new_array();
	if (!o->json)
		printf("%-16s %-10s %-8s %-5s %-14s %-24s %-24s %s\n", "GUEST", "HOST", "RING", "BATCH",
		       "KERNEL", "APPLIED", "TO APPLY", "STATUS");
	for (size_t i = 0; i < fr.st.n; i++) {
		struct fleet_gstate *g = &fr.st.g[i];
		const struct fleet_guest *gu = &fr.inv.guests[g->guest];
		const char *status = g->result == FLEET_R_UNREACHABLE ? "unreachable" :
				     g->result == FLEET_R_NO_PATCH ? "no-patch-for-kernel" :
				     g->result == FLEET_R_NOTHING ? "nothing-to-apply" :
				     g->result == FLEET_R_FAILED ? "error" : "to-apply";
		char have[256] = "", todo[256] = "";
		json_object *x = json_object_new_object(), *a = json_object_new_array(),
			    *w = json_object_new_array(), *t = json_object_new_array();
		int idx[FLEET_MAX_WANTED];
		size_t nt = fleet_to_apply(&fr.inv, g->wanted, g->nwanted, g->present, g->npresent, idx);

		for (size_t k = 0; k < g->npresent; k++) {
			json_object_array_add(a, json_object_new_string(g->present[k]));
			snprintf(have + strlen(have), sizeof(have) - strlen(have), "%s%s", k ? "," : "",
				 g->present[k]);
		}
		for (size_t k = 0; k < g->nwanted; k++)
			json_object_array_add(w, json_object_new_string(fr.inv.patches[g->wanted[k]].file));
		for (size_t k = 0; g->result != FLEET_R_UNREACHABLE && k < nt; k++) {
			json_object_array_add(t, json_object_new_string(fr.inv.patches[idx[k]].name));
			snprintf(todo + strlen(todo), sizeof(todo) - strlen(todo), "%s%s", k ? "," : "",
				 fr.inv.patches[idx[k]].name);
		}
		json_object_object_add(x, "guest", json_object_new_string(gu->name));
		json_object_object_add(x, "host", json_object_new_string(fr.inv.hosts[gu->host].name));
		json_object_object_add(x, "target", json_object_new_string(gu->target));
		json_object_object_add(x, "ring", json_object_new_string(fr.inv.rings[gu->ring].name));
		json_object_object_add(x, "batch", json_object_new_int(atoi(batch_str(&fr, g->guest))));
		json_object_object_add(x, "group", json_object_new_string(gu->group));
		json_object_object_add(x, "build_id", json_object_new_string(g->build_id));
		json_object_object_add(x, "release", json_object_new_string(g->release));
		json_object_object_add(x, "wanted", w);
		json_object_object_add(x, "applied", a);
		json_object_object_add(x, "to_apply", t);
		json_object_object_add(x, "status", json_object_new_string(status));
		json_object_object_add(x, "error", json_object_new_string(g->error));
		json_object_array_add(arr, x);
		if (!o->json)
			printf("%-16s %-10s %-8s %-5s %-14.14s %-24s %-24s %s%s%s\n", cli_str(gu->name),
			       cli_str(fr.inv.hosts[gu->host].name), cli_str(fr.inv.rings[gu->ring].name),
			       batch_str(&fr, g->guest), g->release[0] ? cli_str(g->release) : "?",
			       have[0] ? cli_str(have) : "-", todo[0] ? cli_str(todo) : "-", status,
			       g->error[0] ? ": " : "", cli_str(g->error));
		if (g->result == FLEET_R_UNREACHABLE || g->result == FLEET_R_FAILED)
			ret = 1;
	}
	if (o->json)
		cli_print_json(arr);
	else
		json_object_put(arr);
	{
		char cmd[PATH_MAX + 16];

		/* our temp dir: out/, log/ and their files */
		snprintf(cmd, sizeof(cmd), "%s/out", fr.dir);
		for (size_t i = 0; i < fr.st.n; i++) {
			char p[PATH_MAX + 96];

			snprintf(p, sizeof(p), "%s/out/%s.json", fr.dir, fr.inv.guests[fr.st.g[i].guest].name);
			unlink(p);
			snprintf(p, sizeof(p), "%s/log/%s.log", fr.dir, fr.inv.guests[fr.st.g[i].guest].name);
			unlink(p);
		}
		rmdir(cmd);
		snprintf(cmd, sizeof(cmd), "%s/log", fr.dir);
		rmdir(cmd);
		rmdir(fr.dir);
	}
	fr_free(&fr);
	return ret;
}

static void run_dir_of(const char *arg, char *dir, size_t len)
{
	struct stat st;

	if (strchr(arg, '/') || (!stat(arg, &st) && S_ISDIR(st.st_mode)))
		snprintf(dir, len, "%s", arg);
	else
		snprintf(dir, len, "%s/%s", RUN_ROOT, arg);
}

static int fleet_run(struct fopts *o, const char *inventory)
{
	struct fr fr = { .mode = FR_RUN, .lock_fd = -1, .json = o->json };
	struct gp_error *err = NULL;
	char *text = NULL, *pj, path[PATH_MAX];
	int ret = open_inventory(o, inventory, &fr, &text);
	time_t now = time(NULL);
	struct tm tm;
	struct stat st;

	if (ret) {
		free(text);
		fr_free(&fr);
		return ret;
	}
	gmtime_r(&now, &tm);
	snprintf(fr.st.run, sizeof(fr.st.run), "%04d%02d%02dT%02d%02d%02dZ-%s-%d", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, o->host ? o->host : "all",
		 (int)getpid());
	snprintf(fr.st.host, sizeof(fr.st.host), "%s", o->host ? o->host : "");
	fr.st.started = fr_now();
	if (o->run_dir) {
		snprintf(fr.dir, sizeof(fr.dir), "%s", o->run_dir);
	} else if (geteuid() == 0) {
		snprintf(fr.dir, sizeof(fr.dir), "%s/%s", RUN_ROOT, fr.st.run);
	} else {
		err = gp_error_create(GP_ERR_INVAL, "not root: name a run directory with --run-dir DIR");
		goto out;
	}
	snprintf(path, sizeof(path), "%s/state.json", fr.dir);
	if (!stat(path, &st)) {
		err = gp_error_create(GP_ERR_INVAL, "%s holds a run already: `vmm fleet resume %s` continues it",
				      fr.dir, fr.dir);
		goto out;
	}
	mkdirs(fr.dir);
	snprintf(path, sizeof(path), "%s/out", fr.dir);
	mkdirs(path);
	snprintf(path, sizeof(path), "%s/log", fr.dir);
	mkdirs(path);
	if ((err = lock_run(&fr)))
		goto out;
	/* The run keeps its own copy of the inventory (the text it parsed):
	 * resume needs nothing else. */
	if ((err = fr_write_file(fr.dir, "inventory.json", text)))
		goto out;
	{
		json_object *p = json_object_new_object(), *b = json_object_new_array();

		for (size_t k = 0; k < fr.plan.nbatches; k++) {
			json_object *x = json_object_new_object(), *g = json_object_new_array();

			json_object_object_add(x, "ring", json_object_new_string(fr.inv.rings[fr.plan.batches[k].ring].name));
			json_object_object_add(x, "batch", json_object_new_int(fr.plan.batches[k].index + 1));
			for (size_t m = fr.plan.batches[k].first; m < fr.plan.batches[k].first + fr.plan.batches[k].n; m++)
				json_object_array_add(g, json_object_new_string(fr.inv.guests[fr.plan.order[m]].name));
			json_object_object_add(x, "guests", g);
			json_object_array_add(b, x);
		}
		pj = fleet_policy_json(&fr.st.policy);
		json_object_object_add(p, "run", json_object_new_string(fr.st.run));
		json_object_object_add(p, "policy", pj ? json_tokener_parse(pj) : NULL);
		free(pj);
		json_object_object_add(p, "batches", b);
		err = fr_write_file(fr.dir, "plan.json", json_object_to_json_string_ext(p, JSON_C_TO_STRING_PRETTY));
		json_object_put(p);
		if (err)
			goto out;
	}
	if (!fr.json)
		printf("run %s in %s: %zu guests, %zu batches\n", fr.st.run, fr.dir, fr.st.n, fr.plan.nbatches);
	ret = fr_run(&fr);
	report(&fr, ret);
	free(text);
	fr_free(&fr);
	return ret;
out:
	free(text);
	fr_free(&fr);
	return fail(err);
}

/* Load DIR's run: its inventory copy, then its state. */
static struct gp_error *load_run(struct fr *fr, const char *arg)
{
	struct gp_error *err;
	char path[PATH_MAX], *text;
	json_object *root, *v;
	int host = -1;

	run_dir_of(arg, fr->dir, sizeof(fr->dir));
	snprintf(path, sizeof(path), "%s/inventory.json", fr->dir);
	if ((err = fleet_inv_load(path, &fr->inv, NULL)))
		return err;
	snprintf(path, sizeof(path), "%s/state.json", fr->dir);
	if (!(text = read_all(path)))
		return gp_error_os(errno, "%s", path);
	/* The run's host and policy (flags included) first: the batches
	 * follow them, and the state's guests are those of that plan. */
	root = json_tokener_parse(text);
	if (root && json_object_object_get_ex(root, "host", &v) && json_object_get_string_len(v) &&
	    (host = fleet_inv_host(&fr->inv, json_object_get_string(v))) < 0)
		err = gp_error_create(GP_ERR_CORRUPT, "host not in the inventory");
	else if (root && json_object_object_get_ex(root, "policy", &v) && v)
		err = fleet_policy_parse(v, &fr->inv.policy);
	json_object_put(root);
	if (!err && !(err = fr_setup(fr, host)))
		err = fleet_state_parse(text, strlen(text), &fr->inv, &fr->st);
	free(text);
	return err ? gp_error_wrap(err, "%s", path) : NULL;
}

static int fleet_status(struct fopts *o, const char *arg)
{
	struct fr fr = { .mode = FR_PLAN, .lock_fd = -1, .json = o->json };
	struct gp_error *err = load_run(&fr, arg);
	int ret;

	if (err) {
		fr_free(&fr);
		return fail(err);
	}
	if (fr.json) {
		json_object *arr = json_object_new_array(), *root = json_object_new_object();

		for (size_t i = 0; i < fr.st.n; i++) {
			char *l = fleet_report_line(&fr.st, &fr.inv, &fr.plan, i);

			json_object_array_add(arr, l ? json_tokener_parse(l) : NULL);
			free(l);
		}
		json_object_object_add(root, "run", json_object_new_string(fr.st.run));
		json_object_object_add(root, "dir", json_object_new_string(fr.dir));
		json_object_object_add(root, "phase", json_object_new_string(
			fr.st.phase == FLEET_RUN_DONE ? "done" : fr.st.phase == FLEET_RUN_HALTED ? "halted" : "running"));
		json_object_object_add(root, "halt_reason", json_object_new_string(fr.st.halt_reason));
		json_object_object_add(root, "next_batch", json_object_new_int(fr.st.next_batch + 1));
		json_object_object_add(root, "batches", json_object_new_int((int)fr.plan.nbatches));
		json_object_object_add(root, "guests", arr);
		cli_print_json(root);
	} else {
		char path[PATH_MAX];
		int fd;

		snprintf(path, sizeof(path), "%s/lock", fr.dir);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		printf("run %s (%s): %s%s, next batch %d of %zu%s\n", fr.st.run, fr.dir,
		       fr.st.phase == FLEET_RUN_DONE ? "done" : fr.st.phase == FLEET_RUN_HALTED ? "halted" : "running",
		       fd >= 0 && fr.st.phase == FLEET_RUN_RUNNING && !flock(fd, LOCK_SH | LOCK_NB) ?
		       " (no process drives it: `vmm fleet resume` continues)" : "",
		       fr.st.next_batch + 1, fr.plan.nbatches, "");
		if (fd >= 0)
			close(fd);
		for (size_t i = 0; i < fr.st.n; i++) {
			const struct fleet_gstate *g = &fr.st.g[i];

			printf("  %-16s %-8s batch %-3s %-12s %s%s%s\n",
			       cli_str(fr.inv.guests[g->guest].name),
			       cli_str(fr.inv.rings[fr.inv.guests[g->guest].ring].name),
			       batch_str(&fr, g->guest),
			       g->phase == FLEET_DONE ? "done" : g->phase == FLEET_RUNNING ? "in-progress" : "pending",
			       g->phase == FLEET_RUNNING ? g->step : fleet_result_name(g->result),
			       g->error[0] ? ": " : "", cli_str(g->error));
		}
		if (fr.st.halt_reason[0])
			printf("halt reason: %s\n", cli_str(fr.st.halt_reason));
	}
	ret = fr.st.phase == FLEET_RUN_HALTED ? 2 : 0;
	fr_free(&fr);
	return ret;
}

static int fleet_resume(struct fopts *o, const char *arg)
{
	struct fr fr = { .mode = FR_RUN, .lock_fd = -1, .json = o->json };
	struct gp_error *err = load_run(&fr, arg);
	int ret;

	if (!err)
		err = lock_run(&fr);
	if (!err)
		err = fleet_inv_check_files(&fr.inv);
	if (err) {
		fr_free(&fr);
		return fail(err);
	}
	if (fr.st.phase == FLEET_RUN_DONE) {
		fprintf(stderr, "vmm: fleet: run %s is done: nothing to resume\n", fr.st.run);
		fr_free(&fr);
		return 0;
	}
	/* A guest found in progress starts over from its first step, which
	 * reads the guest (list): applied already, a transition to drive on. */
	for (size_t i = 0; i < fr.st.n; i++)
		if (fr.st.g[i].phase == FLEET_RUNNING)
			fr.st.g[i].phase = FLEET_PENDING;
	if (!fr.json)
		printf("resuming run %s in %s at batch %d of %zu%s%s\n", fr.st.run, fr.dir,
		       fr.st.next_batch + 1, fr.plan.nbatches, fr.st.halt_reason[0] ? " (was: " : "",
		       fr.st.halt_reason[0] ? fr.st.halt_reason : "");
	if (!fr.json && fr.st.halt_reason[0])
		printf(")\n");
	ret = fr_run(&fr);
	report(&fr, ret);
	fr_free(&fr);
	return ret;
}

int cmd_fleet(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "run-dir", required_argument, NULL, 'd' },
		{ "serial", required_argument, NULL, 's' },
		{ "max-parallel", required_argument, NULL, 'p' },
		{ "max-fail", required_argument, NULL, 'f' },
		{ "on-stall", required_argument, NULL, 'S' },
		{ "stall-timeout", required_argument, NULL, 'T' },
		{ "rollback", required_argument, NULL, 'r' },
		{ "soak", required_argument, NULL, 'k' },
		{ "no-health", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct fopts o = { .soak_s = -1 };
	const char *sub;
	char *end;
	int ch;

	tgt_catch_signals();
	optind = 1;
	while ((ch = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (ch) {
		case 'H': o.host = optarg; break;
		case 'd': o.run_dir = optarg; break;
		case 's': o.serial = optarg; break;
		case 'f': o.max_fail = optarg; break;
		case 'S': o.on_stall = optarg; break;
		case 'r': o.rollback = optarg; break;
		case 'n': o.no_health = true; break;
		case 'j': o.json = true; break;
		case 'p':
			o.max_parallel = (int)strtol(optarg, &end, 10);
			if (*end || o.max_parallel < 1 || o.max_parallel > 256) {
				fprintf(stderr, "vmm: fleet: --max-parallel %s: expected 1..256\n", optarg);
				return 2;
			}
			break;
		case 'T':
		case 'k': {
			double d = strtod(optarg, &end);

			if (*end || d < (ch == 'T' ? 1 : 0) || d > 7 * 86400) {
				fprintf(stderr, "vmm: fleet: --%s %s: expected seconds\n",
					ch == 'T' ? "stall-timeout" : "soak", optarg);
				return 2;
			}
			*(ch == 'T' ? &o.stall_s : &o.soak_s) = d;
			break;
		}
		case 'h': return usage_fleet(stdout);
		default: return usage_fleet(stderr);
		}
	}
	if (optind + 2 != argc)
		return usage_fleet(stderr);
	sub = argv[optind];
	if (!strcmp(sub, "plan"))
		return fleet_plan(&o, argv[optind + 1]);
	if (!strcmp(sub, "run"))
		return fleet_run(&o, argv[optind + 1]);
	if (!strcmp(sub, "status"))
		return fleet_status(&o, argv[optind + 1]);
	if (!strcmp(sub, "resume"))
		return fleet_resume(&o, argv[optind + 1]);
	fprintf(stderr, "vmm: fleet: unknown subcommand '%s'\n", sub);
	return usage_fleet(stderr);
}
