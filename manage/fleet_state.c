// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fleet_state.c - a fleet run's state (per guest: pending, running a step,
 * done with a result) as JSON, written by the runner after every step and
 * read back by `vmm fleet status` and `vmm fleet resume`; and the report
 * line per guest (report.jsonl).  The state file is untrusted on the way
 * back in: every value is checked against the inventory and the caps.
 */
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet.h"

static const char *const result_names[] = {
	[FLEET_R_NONE] = "",
	[FLEET_R_APPLIED] = "applied",
	[FLEET_R_NOTHING] = "nothing-to-apply",
	[FLEET_R_NO_PATCH] = "no-patch-for-kernel",
	[FLEET_R_PENDING] = "transition-pending",
	[FLEET_R_FAILED] = "failed",
	[FLEET_R_ROLLED_BACK] = "rolled-back",
	[FLEET_R_SKIPPED] = "skipped",
	[FLEET_R_UNREACHABLE] = "unreachable",
	[FLEET_R_UNHEALTHY] = "unhealthy",
};

const char *fleet_result_name(enum fleet_result r)
{
	return (unsigned)r < ARRAY_SIZE(result_names) ? result_names[r] : "?";
}

bool fleet_result_failed(enum fleet_result r)
{
	return r == FLEET_R_PENDING || r == FLEET_R_FAILED || r == FLEET_R_UNREACHABLE ||
	       r == FLEET_R_UNHEALTHY || r == FLEET_R_ROLLED_BACK;
}

static const char *const phase_names[] = { "pending", "running", "done" };
static const char *const run_phase_names[] = { "running", "halted", "done" };

struct gp_error *fleet_state_init(struct fleet_state *s, const struct fleet_plan *plan)
{
	memset(s, 0, sizeof(*s));
	if (!(s->g = calloc(plan->n ? plan->n : 1, sizeof(*s->g))))
		return &gp_error_nomem;
	s->n = plan->n;
	for (size_t i = 0; i < plan->n; i++) {
		s->g[i].guest = plan->order[i];
		s->g[i].health_seq = -1;
	}
	return NULL;
}

void fleet_state_free(struct fleet_state *s)
{
	free(s->g);
	memset(s, 0, sizeof(*s));
}

static json_object *names_json(char (*v)[FLEET_NAME_MAX], size_t n)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

static json_object *blocking_json(const struct fleet_gstate *g)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; i < g->nblocking; i++) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "pid", json_object_new_int(g->blocking[i].pid));
		json_object_object_add(o, "comm", json_object_new_string(g->blocking[i].comm));
		json_object_object_add(o, "function", json_object_new_string(g->blocking[i].function));
		json_object_array_add(a, o);
	}
	return a;
}

char *fleet_policy_json(const struct fleet_policy *p)
{
	json_object *o = json_object_new_object();
	char mf[16];
	char *s;

	snprintf(mf, sizeof(mf), "%d%s", p->max_fail, p->max_fail_pct ? "%" : "");
	json_object_object_add(o, "serial", json_object_new_string(p->serial_text));
	json_object_object_add(o, "max_parallel", json_object_new_int(p->max_parallel));
	json_object_object_add(o, "max_fail", json_object_new_string(mf));
	json_object_object_add(o, "on_stall", json_object_new_string(fleet_stall_name(p->on_stall)));
	json_object_object_add(o, "stall_s", json_object_new_double(p->stall_s));
	json_object_object_add(o, "rollback", json_object_new_string(fleet_rollback_name(p->rollback)));
	json_object_object_add(o, "health", json_object_new_boolean(p->health));
	if (p->soak_s >= 0)
		json_object_object_add(o, "soak_s", json_object_new_double(p->soak_s));
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return s;
}

char *fleet_state_json(const struct fleet_state *s, const struct fleet_inv *inv)
{
	json_object *o = json_object_new_object(), *arr = json_object_new_array(), *pol;
	char *pj = fleet_policy_json(&s->policy), *out;

	json_object_object_add(o, "version", json_object_new_int(1));
	json_object_object_add(o, "run", json_object_new_string(s->run));
	json_object_object_add(o, "host", json_object_new_string(s->host));
	pol = pj ? json_tokener_parse(pj) : NULL;
	free(pj);
	json_object_object_add(o, "policy", pol);
	json_object_object_add(o, "phase", json_object_new_string(run_phase_names[s->phase]));
	json_object_object_add(o, "halt_reason", json_object_new_string(s->halt_reason));
	json_object_object_add(o, "next_batch", json_object_new_int(s->next_batch));
	json_object_object_add(o, "rings_soaked", json_object_new_int(s->rings_soaked));
	json_object_object_add(o, "rolled_back", json_object_new_boolean(s->rolled_back));
	json_object_object_add(o, "started", json_object_new_double(s->started));
	json_object_object_add(o, "updated", json_object_new_double(s->updated));
	for (size_t i = 0; i < s->n; i++) {
		const struct fleet_gstate *g = &s->g[i];
		json_object *x = json_object_new_object(), *w = json_object_new_array();

		json_object_object_add(x, "guest", json_object_new_string(inv->guests[g->guest].name));
		json_object_object_add(x, "phase", json_object_new_string(phase_names[g->phase]));
		json_object_object_add(x, "step", json_object_new_string(g->step));
		json_object_object_add(x, "result", json_object_new_string(fleet_result_name(g->result)));
		json_object_object_add(x, "build_id", json_object_new_string(g->build_id));
		json_object_object_add(x, "release", json_object_new_string(g->release));
		for (size_t k = 0; k < g->nwanted; k++)
			json_object_array_add(w, json_object_new_string(inv->patches[g->wanted[k]].file));
		json_object_object_add(x, "wanted", w);
		json_object_object_add(x, "applied", names_json((char (*)[FLEET_NAME_MAX])g->applied, g->napplied));
		json_object_object_add(x, "removed", names_json((char (*)[FLEET_NAME_MAX])g->removed, g->nremoved));
		json_object_object_add(x, "present", names_json((char (*)[FLEET_NAME_MAX])g->present, g->npresent));
		json_object_object_add(x, "before", names_json((char (*)[FLEET_NAME_MAX])g->before, g->nbefore));
		json_object_object_add(x, "have_before", json_object_new_boolean(g->have_before));
		json_object_object_add(x, "error", json_object_new_string(g->error));
		json_object_object_add(x, "blocking", blocking_json(g));
		json_object_object_add(x, "pause_ms", json_object_new_double(g->pause_ms));
		json_object_object_add(x, "elapsed_ms", json_object_new_double(g->elapsed_ms));
		json_object_object_add(x, "health_seq", json_object_new_int64(g->health_seq));
		json_object_object_add(x, "health_checked", json_object_new_boolean(g->health_checked));
		json_object_object_add(x, "next", json_object_new_int(g->next));
		json_object_array_add(arr, x);
	}
	json_object_object_add(o, "guests", arr);
	out = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return out;
}

/* Checked getters for the state file: a wrong or missing value is named. */
static struct gp_error *sget(json_object *o, const char *key, char *dst, size_t cap)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return gp_error_create(GP_ERR_CORRUPT, "state: %s: missing or not a string", key);
	if ((size_t)json_object_get_string_len(v) >= cap)
		return gp_error_create(GP_ERR_CORRUPT, "state: %s: too long", key);
	snprintf(dst, cap, "%s", json_object_get_string(v));
	return NULL;
}

static struct gp_error *nget(json_object *o, const char *key, double lo, double hi, double *dst)
{
	json_object *v;
	double d;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !(json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)))
		return gp_error_create(GP_ERR_CORRUPT, "state: %s: missing or not a number", key);
	d = json_object_get_double(v);
	if (!isfinite(d) || d < lo || d > hi)
		return gp_error_create(GP_ERR_CORRUPT, "state: %s: out of range", key);
	*dst = d;
	return NULL;
}

static int name_index(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(names[i], s))
			return (int)i;
	return -1;
}

static struct gp_error *names_get(json_object *o, const char *key, char (*dst)[FLEET_NAME_MAX],
				  size_t *n)
{
	json_object *a;

	*n = 0;
	if (!json_object_object_get_ex(o, key, &a) || !json_object_is_type(a, json_type_array) ||
	    json_object_array_length(a) > FLEET_MAX_WANTED)
		return gp_error_create(GP_ERR_CORRUPT, "state: %s: missing, not an array or too long", key);
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *v = json_object_array_get_idx(a, i);

		if (!json_object_is_type(v, json_type_string) ||
		    json_object_get_string_len(v) >= FLEET_NAME_MAX)
			return gp_error_create(GP_ERR_CORRUPT, "state: %s[%zu]: not a name", key, i);
		snprintf(dst[(*n)++], FLEET_NAME_MAX, "%s", json_object_get_string(v));
	}
	return NULL;
}

static struct gp_error *guest_parse(json_object *x, const struct fleet_inv *inv,
				    struct fleet_gstate *g)
{
	char buf[FLEET_SPEC_MAX];
	json_object *a;
	struct gp_error *err;
	double d;
	int k;

	if ((err = sget(x, "guest", buf, sizeof(buf))))
		return err;
	if (strcmp(buf, inv->guests[g->guest].name))
		return gp_error_create(GP_ERR_CORRUPT, "state: guest '%.64s' where the plan has '%s'",
				       buf, inv->guests[g->guest].name);
	if ((err = sget(x, "phase", buf, sizeof(buf))))
		return err;
	if ((k = name_index(phase_names, ARRAY_SIZE(phase_names), buf)) < 0)
		return gp_error_create(GP_ERR_CORRUPT, "state: phase '%.32s'", buf);
	g->phase = k;
	if ((err = sget(x, "result", buf, sizeof(buf))))
		return err;
	if ((k = name_index(result_names, ARRAY_SIZE(result_names), buf)) < 0)
		return gp_error_create(GP_ERR_CORRUPT, "state: result '%.32s'", buf);
	g->result = k;
	if ((err = sget(x, "step", g->step, sizeof(g->step))) ||
	    (err = sget(x, "build_id", g->build_id, sizeof(g->build_id))) ||
	    (err = sget(x, "release", g->release, sizeof(g->release))) ||
	    (err = sget(x, "error", g->error, sizeof(g->error))) ||
	    (err = names_get(x, "applied", g->applied, &g->napplied)) ||
	    (err = names_get(x, "removed", g->removed, &g->nremoved)) ||
	    (err = names_get(x, "present", g->present, &g->npresent)) ||
	    (err = names_get(x, "before", g->before, &g->nbefore)) ||
	    (err = nget(x, "pause_ms", 0, 1e12, &g->pause_ms)) ||
	    (err = nget(x, "elapsed_ms", 0, 1e12, &g->elapsed_ms)))
		return err;
	if ((err = nget(x, "health_seq", -1, 9e15, &d)))
		return err;
	g->health_seq = (int64_t)d;
	if ((err = nget(x, "next", 0, FLEET_MAX_WANTED, &d)))
		return err;
	g->next = (int)d;
	if (json_object_object_get_ex(x, "have_before", &a))
		g->have_before = json_object_get_boolean(a);
	if (json_object_object_get_ex(x, "health_checked", &a))
		g->health_checked = json_object_get_boolean(a);
	/* wanted: re-derived from the catalog by file, in order. */
	if (!json_object_object_get_ex(x, "wanted", &a) || !json_object_is_type(a, json_type_array) ||
	    json_object_array_length(a) > FLEET_MAX_WANTED)
		return gp_error_create(GP_ERR_CORRUPT, "state: wanted: not an array of at most %d", FLEET_MAX_WANTED);
	g->nwanted = 0;
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		const char *f = json_object_get_string(json_object_array_get_idx(a, i));
		size_t p;

		for (p = 0; f && p < inv->npatches; p++)
			if (!strcmp(inv->patches[p].file, f) && !strcmp(inv->patches[p].build_id, g->build_id))
				break;
		if (!f || p == inv->npatches)
			return gp_error_create(GP_ERR_CORRUPT, "state: wanted[%zu]: not in the catalog for build %s",
					       i, g->build_id);
		g->wanted[g->nwanted++] = (int)p;
	}
	if (!json_object_object_get_ex(x, "blocking", &a) || !json_object_is_type(a, json_type_array))
		return gp_error_create(GP_ERR_CORRUPT, "state: blocking: not an array");
	g->nblocking = 0;
	for (size_t i = 0; i < json_object_array_length(a) && i < FLEET_MAX_BLOCKING; i++) {
		json_object *b = json_object_array_get_idx(a, i);
		struct fleet_blocking *bl = &g->blocking[g->nblocking];

		if (!json_object_is_type(b, json_type_object) ||
		    (err = sget(b, "comm", bl->comm, sizeof(bl->comm))) ||
		    (err = sget(b, "function", bl->function, sizeof(bl->function))) ||
		    (err = nget(b, "pid", 0, 1 << 30, &d)))
			return err ? err : gp_error_create(GP_ERR_CORRUPT, "state: blocking[%zu]", i);
		bl->pid = (int)d;
		g->nblocking++;
	}
	return NULL;
}

struct gp_error *fleet_state_parse(const char *text, size_t len, const struct fleet_inv *inv,
				   struct fleet_state *s)
{
	json_object *root, *arr, *pol;
	struct gp_error *err = NULL;
	char buf[FLEET_ERR_MAX];
	double d;
	int k;

	if (len > FLEET_FILE_MAX * 4)
		return gp_error_create(GP_ERR_LIMIT, "state: larger than %u bytes", FLEET_FILE_MAX * 4);
	root = json_tokener_parse(text);
	if (!root || !json_object_is_type(root, json_type_object)) {
		json_object_put(root);
		return gp_error_create(GP_ERR_CORRUPT, "state: not a JSON object");
	}
	if ((err = sget(root, "run", s->run, sizeof(s->run))) ||
	    (err = sget(root, "host", s->host, sizeof(s->host))) ||
	    (err = sget(root, "halt_reason", s->halt_reason, sizeof(s->halt_reason))) ||
	    (err = sget(root, "phase", buf, sizeof(buf))))
		goto out;
	if ((k = name_index(run_phase_names, ARRAY_SIZE(run_phase_names), buf)) < 0) {
		err = gp_error_create(GP_ERR_CORRUPT, "state: phase '%.32s'", buf);
		goto out;
	}
	s->phase = k;
	if ((err = nget(root, "next_batch", 0, FLEET_MAX_GUESTS, &d)))
		goto out;
	s->next_batch = (int)d;
	if ((err = nget(root, "rings_soaked", 0, FLEET_MAX_GUESTS, &d)))
		goto out;
	s->rings_soaked = (int)d;
	if ((err = nget(root, "started", 0, 1e11, &s->started)) ||
	    (err = nget(root, "updated", 0, 1e11, &s->updated)))
		goto out;
	if (json_object_object_get_ex(root, "rolled_back", &arr))
		s->rolled_back = json_object_get_boolean(arr);
	/* The policy: parsed by the inventory's own rules. */
	if (!json_object_object_get_ex(root, "policy", &pol) || !pol) {
		err = gp_error_create(GP_ERR_CORRUPT, "state: policy: missing");
		goto out;
	}
	if ((err = fleet_policy_parse(pol, &s->policy))) {
		err = gp_error_wrap(err, "state");
		goto out;
	}
	if (!json_object_object_get_ex(root, "guests", &arr) || !json_object_is_type(arr, json_type_array) ||
	    json_object_array_length(arr) != s->n) {
		err = gp_error_create(GP_ERR_CORRUPT, "state: guests: not the %zu guests of the plan", s->n);
		goto out;
	}
	for (size_t i = 0; i < s->n && !err; i++) {
		json_object *x = json_object_array_get_idx(arr, i);

		if (!json_object_is_type(x, json_type_object))
			err = gp_error_create(GP_ERR_CORRUPT, "state: guests[%zu]: not an object", i);
		else if ((err = guest_parse(x, inv, &s->g[i])))
			err = gp_error_wrap(err, "guests[%zu]", i);
	}
out:
	json_object_put(root);
	return err;
}

char *fleet_report_line(const struct fleet_state *s, const struct fleet_inv *inv,
			const struct fleet_plan *plan, size_t i)
{
	const struct fleet_gstate *g = &s->g[i];
	const struct fleet_guest *gu = &inv->guests[g->guest];
	int b = plan->batch_of[g->guest];
	json_object *o = json_object_new_object(), *w = json_object_new_array();
	char *out;

	json_object_object_add(o, "run", json_object_new_string(s->run));
	json_object_object_add(o, "host", json_object_new_string(inv->hosts[gu->host].name));
	json_object_object_add(o, "guest", json_object_new_string(gu->name));
	json_object_object_add(o, "target", json_object_new_string(gu->target));
	json_object_object_add(o, "ring", json_object_new_string(inv->rings[gu->ring].name));
	json_object_object_add(o, "batch", json_object_new_int(b >= 0 ? plan->batches[b].index + 1 : 0));
	json_object_object_add(o, "build_id", json_object_new_string(g->build_id));
	for (size_t k = 0; k < g->nwanted; k++)
		json_object_array_add(w, json_object_new_string(inv->patches[g->wanted[k]].name[0] ?
								 inv->patches[g->wanted[k]].name :
								 inv->patches[g->wanted[k]].file));
	json_object_object_add(o, "wanted", w);
	json_object_object_add(o, "applied", names_json((char (*)[FLEET_NAME_MAX])g->applied, g->napplied));
	json_object_object_add(o, "removed", names_json((char (*)[FLEET_NAME_MAX])g->removed, g->nremoved));
	json_object_object_add(o, "present", names_json((char (*)[FLEET_NAME_MAX])g->present, g->npresent));
	json_object_object_add(o, "result", json_object_new_string(g->phase == FLEET_DONE ?
								  fleet_result_name(g->result) :
								  g->phase == FLEET_RUNNING ? "in-progress" :
								  s->phase == FLEET_RUN_RUNNING ? "pending" : "skipped"));
	json_object_object_add(o, "error", json_object_new_string(g->error));
	json_object_object_add(o, "blocking", blocking_json(g));
	json_object_object_add(o, "pause_ms", json_object_new_double(g->pause_ms));
	json_object_object_add(o, "elapsed_ms", json_object_new_double(g->elapsed_ms));
	out = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return out;
}
