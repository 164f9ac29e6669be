// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cmd_reconcile.c - `vmm reconcile libvirt:DOMAIN[,uri=URI]`: bring a
 * libvirt guest to the patches its policy wants (manage/policy.h).
 *
 *  1. Read the policy from the domain's metadata; none: nothing to do.
 *  2. Wait (--timeout, default 600 s) until the domain runs (through a
 *     restore, an incoming migration, or its user's pause) and its kernel
 *     is up, read from the RAM file without pausing it: VMCOREINFO found,
 *     its jiffies advancing (a copy a reset left in RAM stands still and
 *     is passed over), and system_state at SYSTEM_RUNNING.
 *  3. Take the host lock (waiting while another vmm holds the guest),
 *     attach, finish what an interrupted vmm left, and read what is
 *     applied.
 *  4. Remove what is applied and not wanted, apply what is wanted and not
 *     applied (each patch object names its kernel's build id), and
 *     record the result in the domain's metadata, where `virsh dumpxml`
 *     shows it; a run that changes nothing writes nothing.
 * One line per decision on stdout (or one JSON object with --json).
 * Exit 0 done (or nothing to do), 1 failed, 3 a transition still runs.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "lp_elf.h"
#include "lp_patch.h"
#include "lvconn.h"
#include "policy.h"

#define DEFAULT_WAIT_S 600.0
#define DEFAULT_PATCH_TIMEOUT_S 60.0

struct rc {
	struct cli *c;
	const char *dom;	/* for messages */
	json_object *log;	/* --json: the decisions */
};

static void say(struct rc *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct rc *r, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (r->log)
		json_object_array_add(r->log, json_object_new_string(buf));
	else {
		printf("reconcile %s: %s\n", r->dom, buf);
		fflush(stdout);
	}
}

static double now_s(void)
{
	return gp_now_ns() / 1e9;
}

/* vCPU 0's CR0 and CR3 from the monitor's register dump: no pause (QEMU
 * reads them from the vCPU thread; the guest is never stopped). */
static bool monitor_cr3(struct lv *l, uint64_t *cr0, uint64_t *cr3)
{
	char *out = NULL, *p;
	bool ok = false;

	if (gp_ok(lv_hmp(l, "info registers", &out)) &&
	    (p = strstr(out, "CR0=")) && sscanf(p, "CR0=%" SCNx64, cr0) == 1 &&
	    (p = strstr(out, "CR3=")) && sscanf(p, "CR3=%" SCNx64, cr3) == 1)
		ok = true;
	free(out);
	return ok;
}

/* The kernel in the RAM file: up and past boot?  Read while the guest
 * runs: its VMCOREINFO (validated against vCPU 0's page tables, so a
 * copy a reset left in RAM is passed over, as a paused attach would) and
 * system_state at SYSTEM_RUNNING.  *why says what is missing. */
static bool kernel_up(struct lv *l, char *why, size_t wlen, bool *stopped)
{
	struct kern_opts ko = { 0 };
	struct lv_state st;
	struct tgt *t = NULL;
	struct kern *k = NULL;
	struct gp_error *err;
	uint64_t sys = 0, cr0 = 0;
	int64_t running = 0;
	uint32_t state = 0;
	bool up = false;

	*stopped = false;
	err = tgt_libvirt_open_ram(l, &t, &st);
	if (st.down || (!err && !st.running)) {
		snprintf(why, wlen, "the domain is %s", st.text);
		*stopped = st.down;
		gp_error_destroy(err);
		goto out;
	}
	if (err) {
		snprintf(why, wlen, "%s", err->msg);
		gp_error_destroy(err);
		return false;
	}
	if (!monitor_cr3(l, &cr0, &ko.cr3)) {
		snprintf(why, wlen, "QEMU's monitor shows no vCPU 0 registers");
		goto out;
	}
	if (!(cr0 & 0x80000000ull)) {	/* CR0.PG: paging not on yet */
		snprintf(why, wlen, "vCPU 0 runs without paging (firmware or boot loader)");
		goto out;
	}
	ko.have_cr3 = true;
	if ((err = kern_attach(t, &ko, &k))) {
		snprintf(why, wlen, "no kernel up yet (%s)", err->msg);
		gp_error_destroy(err);
		goto out;
	}
	if (!kern_has_sym(k, "system_state", &sys) || !k->btf ||
	    !gp_ok(kbtf_enum_value(k->btf, "system_states", "SYSTEM_RUNNING", &running))) {
		snprintf(why, wlen, "kernel %s: no system_state or BTF to tell whether it is up",
			 k->release);
		goto out;
	}
	if (!gp_ok(kern_read_u32(k, sys, &state)))
		goto out;
	if ((int64_t)state != running) {
		snprintf(why, wlen, "kernel %s is still booting (system_state %u)", k->release, state);
		goto out;
	}
	up = true;
out:
	kern_detach(k);
	tgt_close(t);
	return up;
}

/* What the guest has applied, by name. */
static struct gp_error *applied_set(struct kern *k, struct gp_applied *have, size_t *nhave,
				    bool *in_transition)
{
	struct lp_region reg;
	struct gp_error *err = lp_list(k, &reg);

	*nhave = 0;
	*in_transition = false;
	if (err)
		return err;
	for (int i = 0; reg.present && i < LP_MAX_PATCHES && *nhave < GP_POLICY_MAX; i++) {
		const struct lp_rec_patch *p = &reg.hdr.patches[i];

		if (p->state == LP_FREE)
			continue;
		*in_transition |= p->state != LP_APPLIED;
		snprintf(have[*nhave].name, GP_PNAME_MAX, "%s", p->name);
		have[(*nhave)++].seq = p->seq;
	}
	return NULL;
}

static struct gp_error *describe(const struct gp_policy *pol, struct gp_wanted *want)
{
	for (size_t i = 0; i < pol->n; i++) {
		struct lp_obj *o = NULL;
		bool repl;
		struct gp_error *err = lp_obj_open_file(pol->e[i].file, &o);

		if (!err)
			err = lp_obj_describe(o, want[i].name, want[i].build_id, &repl);
		lp_obj_close(o);
		if (err)
			return gp_error_wrap(err, "policy patch %s", pol->e[i].file);
		want[i].entry = &pol->e[i];
	}
	return NULL;
}

static void opts_for(const struct gp_policy_entry *e, struct lp_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->model = e ? (enum lp_model)e->model : LP_MODEL_AUTO;
	o->timeout_s = e && e->timeout_s > 0 ? e->timeout_s : DEFAULT_PATCH_TIMEOUT_S;
}

int cmd_reconcile(struct cli *c, int argc, char **argv)
{
	static struct gp_policy pol;
	static struct gp_wanted want[GP_POLICY_MAX];
	static struct gp_applied have[GP_POLICY_MAX];
	static struct gp_state st, old;
	struct rc r = { .c = c };
	struct gp_plan plan;
	struct gp_error *err = NULL;
	struct lv *l = NULL;
	char *xml = NULL, why[512] = "", last_why[512] = "";
	size_t nhave = 0;
	double wait_s = c->timeout_s > 0 ? c->timeout_s : DEFAULT_WAIT_S, deadline;
	bool stopped = false, in_trans = false, pending = false, changed = false;
	int ret = 1;

	if (argc != 1 || strncmp(argv[0], "libvirt:", 8)) {
		fprintf(stderr, "vmm: reconcile: usage: vmm reconcile libvirt:DOMAIN[,uri=URI] [--timeout S] [--json]\n");
		return 2;
	}
	c->target = argv[0];
	r.dom = argv[0] + 8;
	if (c->json)
		r.log = json_object_new_array();
	/* 1. The policy. */
	if ((err = lv_open(argv[0] + 8, &l)) || (err = lv_meta_get(l, GP_POLICY_NS, &xml)))
		goto fail;
	if (!xml) {
		say(&r, "no guestpatch policy in the domain's metadata (namespace %s): nothing to do",
		    GP_POLICY_NS);
		ret = 0;
		goto out;
	}
	if ((err = gp_policy_parse(xml, &pol)) || (err = describe(&pol, want)))
		goto fail;
	free(xml);
	xml = NULL;
	/* 2. Wait for the kernel, 3. lock and attach; an attach that fails
	 * (the kernel went away, a reset under way) waits again. */
	deadline = now_s() + wait_s;
	for (;;) {
		if (tgt_interrupted()) {
			err = gp_error_create(GP_ERR_INTERRUPTED, "interrupted while waiting: %s", why);
			goto fail;
		}
		if (now_s() > deadline) {
			err = gp_error_create(GP_ERR_TIMEOUT, "gave up after %.0f s: %s", wait_s, why);
			goto fail;
		}
		if (!kernel_up(l, why, sizeof(why), &stopped)) {
			if (stopped) {
				err = gp_error_create(GP_ERR_BUSY, "%s", why);
				goto fail;
			}
		} else if (c->lock_fd < 0 && (err = cli_lock(c, argc, argv))) {
			/* Another vmm on this guest: wait for it. */
			if (err->code != GP_ERR_BUSY)
				goto fail;
			snprintf(why, sizeof(why), "%s", err->msg);
			gp_error_destroy(err);
			err = NULL;
		} else if ((err = cli_attach(c))) {
			snprintf(why, sizeof(why), "attaching: %s", err->msg);
			gp_error_destroy(err);
			err = NULL;
			kern_detach(c->k);
			tgt_close(c->t);
			c->k = NULL;
			c->t = NULL;
		} else {
			break;
		}
		if (strcmp(why, last_why)) {
			say(&r, "waiting: %s", why);
			snprintf(last_why, sizeof(last_why), "%s", why);
		}
		usleep(500000);
	}
	{
		struct lp_attach_report rec;

		if ((err = lp_recover_journal(c->k, &rec)))
			goto fail;
		cli_say_rollback(&rec.journal);
		if (rec.region_earlier_boot)
			say(&r, "the state in guest memory is from an earlier boot of the guest: nothing of it is live; set up anew when something is applied");
	}
	say(&r, "kernel %s, build id %s", c->k->release, c->k->build_id);
	if ((err = applied_set(c->k, have, &nhave, &in_trans)))
		goto fail;
	if (in_trans) {
		struct lp_opts o;
		struct lp_report rep;

		opts_for(NULL, &o);
		say(&r, "a transition is in progress: driving it on first");
		err = lp_transition(c->k, LP_TRANS_CONTINUE, &o, &rep);
		if (err && rep.in_progress) {
			say(&r, "transition still in progress: %s", err->msg);
			gp_error_destroy(err);
			err = NULL;
			ret = LP_EXIT_IN_PROGRESS;
			goto record;
		}
		if (err)
			goto fail;
		changed = true;
		if ((err = applied_set(c->k, have, &nhave, &in_trans)))
			goto fail;
	}
	/* 4. The plan. */
	if ((err = gp_plan_make(c->k->build_id, want, pol.n, have, nhave, &plan)))
		goto fail;
	if (plan.other_kernels)
		say(&r, "%zu policy patch%s built for other kernels: not for this one", plan.other_kernels,
		    plan.other_kernels == 1 ? "" : "es");
	for (size_t i = 0; i < plan.nkeep; i++)
		say(&r, "%s: wanted and applied", want[plan.keep[i]].name);
	for (size_t i = 0; i < plan.nremove && !pending; i++) {
		struct lp_opts o;
		struct lp_report rep;
		const char *name = have[plan.remove[i]].name;

		opts_for(NULL, &o);
		err = lp_remove(c->k, name, &o, &rep);
		changed = true;
		if (err && rep.in_progress) {
			say(&r, "%s: not wanted; removal in progress: %s", name, err->msg);
			gp_error_destroy(err);
			err = NULL;
			pending = true;
			break;
		}
		if (err)
			goto fail;
		say(&r, "%s: not wanted: removed (paused %.3f ms)", name, rep.pause_ns_total / 1e6);
	}
	for (size_t i = 0; i < plan.napply && !pending; i++) {
		const struct gp_wanted *w = &want[plan.apply[i]];
		struct lp_opts o;
		struct lp_report rep;

		opts_for(w->entry, &o);
		err = lp_apply(c->k, w->entry->file, &o, &rep);
		changed = true;
		if (err && rep.in_progress) {
			say(&r, "%s: wanted; transition in progress: %s", w->name, err->msg);
			gp_error_destroy(err);
			err = NULL;
			pending = true;
			break;
		}
		if (err) {
			err = gp_error_wrap(err, "applying %s (%s)", w->name, w->entry->file);
			goto fail;
		}
		say(&r, "%s: wanted: applied (paused %.3f ms)", w->name, rep.pause_ns_total / 1e6);
	}
	if (!plan.napply && !plan.nremove && !changed)
		say(&r, "nothing to change");
	ret = pending ? LP_EXIT_IN_PROGRESS : 0;
record:
	/* What is there now, recorded where virsh dumpxml shows it. */
	if ((err = applied_set(c->k, have, &nhave, &in_trans)))
		goto fail;
	memset(&st, 0, sizeof(st));
	snprintf(st.kernel, sizeof(st.kernel), "%s", c->k->build_id);
	snprintf(st.release, sizeof(st.release), "%s", c->k->release);
	snprintf(st.result, sizeof(st.result), "%s", in_trans ? "in-progress" : "applied");
	for (size_t i = 0; i < nhave; i++) {
		snprintf(st.applied[st.napplied], GP_PNAME_MAX, "%s", have[i].name);
		for (size_t j = 0; j < pol.n; j++)
			if (!strcmp(want[j].name, have[i].name) && !strcmp(want[j].build_id, c->k->build_id))
				snprintf(st.files[st.napplied], GP_FILE_MAX, "%s", pol.e[j].file);
		st.napplied++;
	}
	if ((err = lv_meta_get(l, GP_STATE_NS, &xml)))
		goto fail;
	if (!xml || !gp_ok(gp_state_parse(xml, &old)) || !gp_state_equal(&old, &st)) {
		char *nx = gp_state_xml(&st);

		err = nx ? lv_meta_set(l, GP_STATE_NS, "guestpatch", nx) : &gp_error_nomem;
		free(nx);
		if (err)
			goto fail;
		say(&r, "state recorded in the domain's metadata: %zu patch%s applied%s", st.napplied,
		    st.napplied == 1 ? "" : "es", in_trans ? ", a transition in progress" : "");
	}
	goto out;
fail:
	ret = cli_fail(err, "reconcile");
	err = NULL;
out:
	if (r.log) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "domain", json_object_new_string(r.dom));
		json_object_object_add(o, "exit", json_object_new_int(ret));
		json_object_object_add(o, "log", r.log);
		cli_print_json(o);
	}
	free(xml);
	lv_close(l);
	return ret;
}
