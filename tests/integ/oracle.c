// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Oracles we did not write: what guestpatch reads from outside a running
 * guest must equal what the guest kernel says about itself.  Shared by the
 * oracle, stack and kernel-matrix tests; each takes a booted rig.
 *
 *  - oracle_kallsyms: every core-kernel line of the guest's /proc/kallsyms
 *    (read as root, kptr_restrict=0) equals our decoded table entry for
 *    entry, in order: address, type, name.  Lines with a "[module]" suffix
 *    (modules, BPF, ftrace trampolines) are not part of the core table and
 *    are left out of the comparison.
 *
 *  - oracle_ps: `vmm ps --json` equals the guest's own thread list from
 *    /proc/PID/task/TID while ~40 processes and ~120 threads of a workload
 *    sleep.  The guest's list is taken by a shell loop of builtins only (no
 *    fork), twice, around our snapshot: kernel workers may come and go, so
 *    every task in both guest lists must be in ours, and every task of ours
 *    must be in one of them.  comm: exact for user tasks; for kernel
 *    threads the guest prints the full kthread name or a "-workqueue"
 *    suffix (proc_task_name()), so ours (task->comm, 15 chars) must be its
 *    prefix.
 *
 *  - oracle_stacks: stacks read from outside against the guest's own
 *    /proc/PID/stack (the kernel's ORC unwinder), task by task, function
 *    by function.  /proc/PID/stack uses stack_trace_save_tsk(), which drops
 *    scheduler and lock functions (in_sched_functions(): .sched.text and
 *    .spinlock.text); we drop the same frames, by the same sections, and
 *    then require the two lists to be equal entry for entry as
 *    "function+0xoffset/0xsize".  Only tasks that held still are compared:
 *    the guest's stack the same in two dumps, and ours the same in two
 *    snapshots taken between and after them; the dumping shell itself is
 *    left out.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gp_check.h"
#include "kernel.h"
#include "oracle.h"
#include "rig/rig.h"
#include "stack.h"
#include "stacks.h"
#include "target.h"

#define KALLSYMS_SLICE 20000u

void oracle_kallsyms(struct rig *r)
{
	const char *flavor = rig_kernel_release(r);
	struct kern *k = NULL;
	struct tgt *t = NULL;
	char *out = NULL, *line, *save = NULL;
	size_t len = 0, i = 0, compared = 0;

	/* In slices of 20000 lines with a pause between: the bulk serial
	 * port's IRQ thread drains each at once, and on an rt kernel under
	 * TCG it runs at real-time priority, so megabytes in one go starve
	 * RCU on its vCPU into a stall report. */
	/* The line count first, from the console: a slice that comes back
	 * short (the bulk channel lost it) is fetched again instead of being
	 * taken for the end of the file. Core symbols come before module
	 * and BPF ones, so lines added after the count do not matter. */
	unsigned total = 0;
	char *cnt = NULL;

	ck_assert_int_eq(rig_exec(r, "wc -l < /proc/kallsyms", &cnt, 120), 0);
	total = (unsigned)strtoul(cnt, NULL, 10);
	free(cnt);
	ck_assert_msg(total > 50000 && total < 2000000, "%s: /proc/kallsyms has %u lines?", flavor, total);
	for (unsigned from = 1; from <= total; from += KALLSYMS_SLICE) {
		unsigned want = total - from + 1 < KALLSYMS_SLICE ? total - from + 1 : KALLSYMS_SLICE;
		char cmd[200], *part = NULL;
		size_t plen = 0, got = 0;

		snprintf(cmd, sizeof(cmd), "sleep 1; sed -n '%u,%up' /proc/kallsyms", from,
			 from + want - 1);
		for (int attempt = 0; attempt < 3; attempt++) {
			free(part);
			part = NULL;
			ck_assert_int_eq(rig_exec_bulk(r, cmd, &part, &plen, 300), 0);
			got = 0;
			for (size_t j = 0; j < plen; j++)
				got += part[j] == '\n';
			if (got == want)
				break;
			fprintf(stderr, "kallsyms_oracle: %s: lines %u-%u came back as %zu lines, again\n",
				flavor, from, from + want - 1, got);
		}
		ck_assert_msg(got == want, "%s: lines %u-%u of /proc/kallsyms came back as %zu lines 3 times",
			      flavor, from, from + want - 1, got);
		ck_assert(out = realloc(out, len + plen + 1));
		memcpy(out + len, part, plen);
		len += plen;
		out[len] = '\0';
		free(part);
	}
	ck_assert(out);
	ck_ok(tgt_open(rig_target(r), &t));
	ck_ok(kern_attach(t, NULL, &k));
	ck_assert_str_eq(k->release, rig_kernel_release(r));
	for (line = strtok_r(out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		unsigned long long addr;
		char type, name[600];
		const struct ksym *s;

		if (strchr(line, '['))
			continue;	/* [module], [bpf], [__builtin__ftrace] */
		ck_assert_msg(sscanf(line, "%llx %c %599s", &addr, &type, name) == 3,
			      "unparsable kallsyms line '%s'", line);
		ck_assert_msg(i < k->syms->nr,
			      "guest has more symbols than our %zu (next: %s)",
			      k->syms->nr, line);
		s = &k->syms->syms[i++];
		ck_assert_msg(s->addr == addr && s->type == type &&
				      !strcmp(ksym_name(k->syms, s), name),
			      "%s symbol %zu: guest '%s', ours '%016llx %c %s'",
			      flavor, i - 1, line, (unsigned long long)s->addr,
			      s->type, ksym_name(k->syms, s));
		compared++;
	}
	ck_assert_msg(i == k->syms->nr,
		      "%s: guest listed %zu core symbols, we decoded %zu",
		      flavor, i, k->syms->nr);
	ck_assert_msg(compared > 50000, "only %zu symbols compared", compared);
	fprintf(stderr, "kallsyms_oracle: %s (%s): %zu symbols identical\n",
		flavor, k->release, compared);
	kern_detach(k);
	tgt_close(t);
	free(out);
}


struct gtask {
	int tid, tgid;
	char comm[64];
};

struct glist {
	struct gtask v[4096];
	int n;
};

/* Builtins only: the listing itself must not fork tasks into the list. */
static const char list_cmd[] =
	"for d in /proc/[0-9]*/task/[0-9]*; do "
	"c=; g=; read -r c < $d/comm 2>/dev/null || continue; "
	"while read -r key val; do [ \"$key\" = Tgid: ] && g=$val && break; done < $d/status; "
	"echo \"T ${d##*/} $g $c\"; done";

static void guest_list(struct rig *r, struct glist *l)
{
	char *out = NULL, *line, *save = NULL;

	ck_assert_int_eq(rig_exec(r, list_cmd, &out, 120), 0);
	l->n = 0;
	for (line = strtok_r(out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		struct gtask *g = &l->v[l->n];

		if (sscanf(line, "T %d %d %63[^\n]", &g->tid, &g->tgid,
			   g->comm) == 3 && l->n < (int)ARRAY_SIZE(l->v) - 1)
			l->n++;
	}
	free(out);
	ck_assert_msg(l->n > 20, "guest listed only %d tasks", l->n);
}

static const struct gtask *gfind(const struct glist *l, int tid)
{
	for (int i = 0; i < l->n; i++)
		if (l->v[i].tid == tid)
			return &l->v[i];
	return NULL;
}

void oracle_ps(struct rig *r, int cpus)
{
	char *out = NULL, *err = NULL, args[512];
	static struct glist before, after;
	json_object *arr;
	int idle = 0, ours = 0, workload = 0;

	/* A workload: 12 processes with 3 extra threads each, plus shells. */
	ck_assert_int_eq(rig_exec(r, "spawn 12 3 3600 >/dev/null 2>&1 & "
				     "for i in 1 2 3 4 5 6; do sleep 3600 & done; sleep 2",
				  NULL, 60), 0);
	guest_list(r, &before);
	snprintf(args, sizeof(args), "ps --json %s", rig_target(r));
	ck_assert_int_eq(rig_run_tool(r, args, &out, &err), 0);
	guest_list(r, &after);
	arr = json_tokener_parse(out);
	ck_assert_msg(arr && json_object_is_type(arr, json_type_array),
		      "vmm ps --json printed no array: %s", err);
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *x = json_object_array_get_idx(arr, i), *v;
		int pid, tgid;
		const char *comm;
		const struct gtask *g;
		bool kthread;

		json_object_object_get_ex(x, "pid", &v);
		pid = json_object_get_int(v);
		json_object_object_get_ex(x, "tgid", &v);
		tgid = json_object_get_int(v);
		json_object_object_get_ex(x, "comm", &v);
		comm = json_object_get_string(v);
		json_object_object_get_ex(x, "kthread", &v);
		kthread = json_object_get_boolean(v);
		json_object_object_get_ex(x, "idle", &v);
		if (json_object_get_boolean(v)) {
			idle++;
			ck_assert_int_eq(pid, 0);
			continue;
		}
		ours++;
		g = gfind(&before, pid);
		if (!g)
			g = gfind(&after, pid);
		ck_assert_msg(g, "%d vCPUs: our task %d (%s) is in neither guest list",
			      cpus, pid, comm);
		ck_assert_msg(g->tgid == tgid, "task %d: tgid %d, guest says %d",
			      pid, tgid, g->tgid);
		if (kthread)
			ck_assert_msg(!strncmp(g->comm, comm, strlen(comm)),
				      "kthread %d: comm '%s', guest '%s'", pid,
				      comm, g->comm);
		else
			ck_assert_msg(!strcmp(g->comm, comm),
				      "task %d: comm '%s', guest '%s'", pid,
				      comm, g->comm);
		if (!strcmp(comm, "spawn") || !strcmp(comm, "sleep")) {
			json_object_object_get_ex(x, "state", &v);
			ck_assert_msg(!strcmp(json_object_get_string(v), "S"),
				      "sleeping task %d (%s) has state %s", pid,
				      comm, json_object_get_string(v));
			workload++;
		}
	}
	/* Tasks in both guest lists must be in ours. */
	for (int i = 0; i < before.n; i++) {
		bool found = false;

		if (!gfind(&after, before.v[i].tid))
			continue;
		for (size_t j = 0; j < json_object_array_length(arr) && !found; j++) {
			json_object *x = json_object_array_get_idx(arr, j), *v;

			json_object_object_get_ex(x, "pid", &v);
			found = json_object_get_int(v) == before.v[i].tid;
		}
		ck_assert_msg(found, "%d vCPUs: guest task %d (%s) missing from vmm ps",
			      cpus, before.v[i].tid, before.v[i].comm);
	}
	ck_assert_int_eq(idle, cpus);
	/* 1 + 12 * 4 spawn tasks and 6 sleeps. */
	ck_assert_msg(workload >= 55, "only %d workload tasks seen", workload);
	fprintf(stderr, "ps_oracle: %d vCPUs: %d tasks + %d idle match the guest's /proc\n",
		cpus, ours, idle);
	json_object_put(arr);
	free(out);
	free(err);
	/* The workload sleeps on (an hour); later checks do not mind it. */
}

#define MAXT 512

struct gstack {
	int tid;
	char frames[2048];
};

static int parse_dump(char *out, struct gstack *g)
{
	char *line, *save = NULL;
	int n = -1;

	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "== ", 3)) {
			if (n + 1 >= MAXT)
				break;
			n++;
			g[n].tid = atoi(line + 3);
			g[n].frames[0] = '\0';
		} else if (n >= 0 && !strncmp(line, "[<0>] ", 6)) {
			strncat(g[n].frames, line + 6, sizeof(g[n].frames) - strlen(g[n].frames) - 2);
			strcat(g[n].frames, ";");
		}
	}
	return n + 1;
}

static const char dump_cmd[] =
	"for d in /proc/[0-9]*/task/[0-9]*; do echo \"== ${d##*/}\"; "
	"while read -r l; do echo \"$l\"; done < $d/stack; done 2>/dev/null";

static const struct gstack *find(const struct gstack *g, int n, int tid)
{
	for (int i = 0; i < n; i++)
		if (g[i].tid == tid)
			return &g[i];
	return NULL;
}

void oracle_trace_text(struct stack_ctx *ctx, const struct stack_trace *tr, char *buf,
		       size_t len)
{
	buf[0] = '\0';
	for (int f = 0; f < tr->nr; f++) {
		uint64_t off, size;
		const char *fn, *mod;
		char one[200];

		if (stack_hidden_by_guest(ctx, tr->f[f].pc))
			continue;
		fn = stack_symbolize(ctx, tr->f[f].pc, &off, &size, &mod);
		snprintf(one, sizeof(one), "%s+0x%llx/0x%llx%s%s%s;", fn ? fn : "?",
			 (unsigned long long)off, (unsigned long long)size, mod ? " [" : "",
			 mod ? mod : "", mod ? "]" : "");
		strncat(buf, one, len - strlen(buf) - 1);
	}
}

/*
 * A task the guest and we saw differently, though neither side saw it move
 * between its two looks: its wait can follow what the dump itself sets
 * off (the rcu_preempt kthread waits out a grace period that the dump's
 * frees started while the guest looks, and is idle again by the time we
 * look, both times; CI saw it once).  Look again at that task alone, the
 * guest and we back to back, a few times: true as soon as one look finds
 * both the same; otherwise the last pair is left in guest and ours.
 */
static bool same_on_a_second_look(struct rig *r, struct tgt *t, struct stack_ctx *ctx,
				  uint64_t addr, int pid, char *guest, size_t glen, char *ours,
				  size_t olen)
{
	static struct gstack one[MAXT];

	for (int round = 0; round < 5; round++) {
		struct stacks_snapshot s;
		char cmd[300], *out = NULL;
		bool found = false;

		snprintf(cmd, sizeof(cmd),
			 "echo '== %d'; while read -r l; do echo \"$l\"; done < /proc/%d/task/%d/stack",
			 pid, pid, pid);
		if (rig_exec_bulk(r, cmd, &out, &(size_t){ 0 }, 60) != 0 || parse_dump(out, one) != 1) {
			free(out);
			return false;
		}
		free(out);
		snprintf(guest, glen, "%s", one[0].frames);
		ck_ok(tgt_pause(t));
		ck_ok(stacks_take(ctx, &s));
		ck_ok(tgt_resume(t));
		for (size_t j = 0; j < s.tasks.nr && !found; j++)
			if (s.tasks.v[j].addr == addr && s.vcpu[j] < 0) {
				oracle_trace_text(ctx, &s.traces[j], ours, olen);
				found = true;
			}
		stacks_free(&s);
		if (!found)
			return false;
		if (!strcmp(ours, guest))
			return true;
		usleep(200 * 1000);
	}
	return false;
}

int oracle_stacks(struct rig *r, const char *module_fn)
{
	static struct gstack g1[MAXT], g2[MAXT];
	char *out;
	struct tgt *t = NULL;
	struct kern *k = NULL;
	struct stack_ctx *ctx = NULL;
	struct stacks_snapshot snap, snap2;
	int n1, n2, shell, compared = 0, reliable = 0, sleeping = 0, in_module = 0;

	/* The workload: nanosleep, pipes both ways, wait4, shells, kthreads,
	 * idle. */
	ck_assert_int_eq(rig_exec(r, "sleep 1000 & pipewait read & pipewait write & "
				     "sh -c 'sleep 1000; true' & sleep 2; echo $$", &out, 60), 0);
	shell = atoi(out);
	free(out);
	ck_assert_int_eq(rig_exec_bulk(r, dump_cmd, &out, &(size_t){ 0 }, 120), 0);
	n1 = parse_dump(out, g1);
	free(out);
	ck_ok(tgt_open(rig_target(r), &t));
	ck_ok(kern_attach(t, NULL, &k));
	ck_ok(stack_ctx_init(k, &ctx));
	/* What the dump set off (RCU grace periods for what it freed: the
	 * rcu_preempt kthread moves between its waits) settles before we
	 * look; an attach through the warm cache comes within ~10 ms of the
	 * dump, where an uncached one took ~50. */
	usleep(100 * 1000);
	ck_ok(tgt_pause(t));
	ck_ok(stacks_take(ctx, &snap));
	ck_ok(tgt_resume(t));
	ck_assert_int_eq(rig_exec_bulk(r, dump_cmd, &out, &(size_t){ 0 }, 120), 0);
	n2 = parse_dump(out, g2);
	free(out);
	ck_ok(tgt_pause(t));
	ck_ok(stacks_take(ctx, &snap2));
	ck_ok(tgt_resume(t));
	ck_assert_msg(n1 > 40 && n2 > 40, "dumps have %d and %d tasks", n1, n2);
	for (size_t i = 0; i < snap.tasks.nr; i++) {
		const struct task_info *ti = &snap.tasks.v[i];
		const struct stack_trace *tr = &snap.traces[i];
		const struct gstack *a, *b;
		char ours[2048] = "";

		if (tr->reliable)
			reliable++;
		if (ti->idle || ti->pid == shell || snap.vcpu[i] >= 0)
			continue;
		sleeping++;
		a = find(g1, n1, ti->pid);
		b = find(g2, n2, ti->pid);
		if (!a || !b || strcmp(a->frames, b->frames))
			continue;	/* moved between the dumps */
		{
			const struct stack_trace *tr2 = NULL;

			for (size_t j = 0; j < snap2.tasks.nr; j++)
				if (snap2.tasks.v[j].addr == ti->addr)
					tr2 = &snap2.traces[j];
			if (!tr2 || tr2->nr != tr->nr)
				continue;
			for (int f = 0; f < tr->nr && tr2; f++)
				if (tr2->f[f].pc != tr->f[f].pc)
					tr2 = NULL;
			if (!tr2)
				continue;	/* moved between our snapshots */
		}
		oracle_trace_text(ctx, tr, ours, sizeof(ours));
		if (strcmp(ours, a->frames)) {
			char guest[2048] = "", again[2048] = "";

			ck_assert_msg(same_on_a_second_look(r, t, ctx, ti->addr, ti->pid, guest,
							    sizeof(guest), again, sizeof(again)),
				      "task %d (%s):\n guest: %s\n ours:  %s\n looked at again, alone:\n guest: %s\n ours:  %s",
				      ti->pid, ti->comm, a->frames, ours, guest, again);
			fprintf(stderr, "stack_oracle: task %d (%s) had moved between the looks; alone, both see %s\n",
				ti->pid, ti->comm, again);
		}
		ck_assert_msg(tr->reliable, "task %d (%s) unreliable: %s", ti->pid, ti->comm, tr->why);
		compared++;
		in_module += module_fn && strstr(ours, module_fn);
	}
	fprintf(stderr, "stack_oracle: %s: %d sleeping tasks compared equal to /proc/PID/stack (of %d); %d of %zu traces reliable\n",
		rig_kernel_release(r), compared, sleeping, reliable, snap.tasks.nr);
	ck_assert_msg(compared >= sleeping - 5 && compared > 40, "only %d of %d compared", compared,
		      sleeping);
	if (module_fn)
		ck_assert_msg(in_module == 1, "the kthread sleeping in %s was not compared (%d)",
			      module_fn, in_module);
	stacks_free(&snap);
	stacks_free(&snap2);
	stack_ctx_free(ctx);
	kern_detach(k);
	tgt_close(t);
	return compared;
}

