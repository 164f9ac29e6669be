// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Oracles we did not write: what guestpatch reads from outside must equal
 * what the guest kernel says about itself.
 *
 *  - kallsyms_oracle: every core-kernel line of the guest's /proc/kallsyms
 *    (read as root, kptr_restrict=0) equals our decoded table entry for
 *    entry, in order: address, type, name.  Lines with a "[module]" suffix
 *    (modules, BPF, ftrace trampolines) are not part of the core table and
 *    are left out of the comparison.  Run on two kernel builds: the current
 *    linux-image-amd64 and linux-image-cloud-amd64.
 *
 *  - ps_oracle: `vmm ps --json` equals the guest's own thread list from
 *    /proc/PID/task/TID, with 1, 2 and 4 vCPUs, while ~40 processes and
 *    ~120 threads of a workload sleep, attached after the guest has run.
 *    The guest's list is taken by a shell loop of builtins only (no fork),
 *    twice, around our snapshot: kernel workers may come and go, so every
 *    task in both guest lists must be in ours, and every task of ours must
 *    be in one of them.  comm: exact for user tasks; for kernel threads the
 *    guest prints the full kthread name or a "-workqueue" suffix
 *    (proc_task_name()), so ours (task->comm, 15 chars) must be its prefix.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gp_check.h"
#include "kernel.h"
#include "rig/rig.h"
#include "target.h"

/* ---- kallsyms ---- */

static void check_kallsyms(const char *flavor)
{
	struct rig_opts ro = { .flavor = flavor, .cpus = 2 };
	struct kern *k = NULL;
	struct tgt *t = NULL;
	char *errmsg = NULL, *out = NULL, *line, *save = NULL;
	size_t len = 0, i = 0, compared = 0;
	struct rig *r = rig_boot(&ro, &errmsg);

	ck_assert_msg(r, "boot %s: %s", flavor, errmsg ? errmsg : "?");
	ck_assert_int_eq(rig_exec_bulk(r, "cat /proc/kallsyms", &out, &len, 300), 0);
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
	rig_kill(r);
}

START_TEST(kallsyms_amd64)
{
	check_kallsyms("amd64");
}
END_TEST

START_TEST(kallsyms_cloud)
{
	check_kallsyms("cloud-amd64");
}
END_TEST

static TCase *kallsyms_oracle_tcase(void)
{
	TCase *tc = tcase_create("kallsyms_oracle");

	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, kallsyms_amd64);
	tcase_add_test(tc, kallsyms_cloud);
	return tc;
}
GP_TCASE(kallsyms_oracle_tcase)

/* ---- ps ---- */

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

static void check_ps(int cpus)
{
	struct rig_opts ro = { .flavor = "amd64", .cpus = cpus };
	char *errmsg = NULL, *out = NULL, *err = NULL, args[512];
	static struct glist before, after;
	struct rig *r = rig_boot(&ro, &errmsg);
	json_object *arr;
	int idle = 0, ours = 0, workload = 0;

	ck_assert_msg(r, "boot: %s", errmsg ? errmsg : "?");
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
	rig_kill(r);
}

START_TEST(ps_1cpu)
{
	check_ps(1);
}
END_TEST

START_TEST(ps_2cpu)
{
	check_ps(2);
}
END_TEST

START_TEST(ps_4cpu)
{
	check_ps(4);
}
END_TEST

static TCase *ps_oracle_tcase(void)
{
	TCase *tc = tcase_create("ps_oracle");

	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, ps_1cpu);
	tcase_add_test(tc, ps_2cpu);
	tcase_add_test(tc, ps_4cpu);
	return tc;
}
GP_TCASE(ps_oracle_tcase)

/* ---- fallbacks: --vmlinux (BTF and ORC from the vmlinuz file) and
 * --system-map (symbols from a System.map) give what memory gives ---- */

START_TEST(fallback_sources)
{
	struct rig_opts ro = { .flavor = "amd64", .cpus = 2 };
	char *errmsg = NULL, *out1 = NULL, *out2 = NULL, *err = NULL, args[1024], map[256];
	struct rig *r = rig_boot(&ro, &errmsg);
	struct tgt *t = NULL;
	struct kern *k = NULL;
	size_t len;
	char *ks, *line, *save = NULL;
	uint64_t kaslr;
	char bad[300];
	FILE *f, *fbad;

	ck_assert_msg(r, "boot: %s", errmsg ? errmsg : "?");
	/* BTF and ORC from the vmlinuz: the same stacks as from memory. */
	snprintf(args, sizeof(args), "stack %s 1 2 --json", rig_target(r));
	ck_assert_int_eq(rig_run_tool(r, args, &out1, NULL), 0);
	snprintf(args, sizeof(args), "stack %s 1 2 --json --vmlinux %s", rig_target(r), rig_kernel_path(r));
	ck_assert_msg(rig_run_tool(r, args, &out2, &err) == 0, "%s", err);
	ck_assert_msg(!strcmp(out1, out2), "stacks differ:\n%s\n%s", out1, out2);
	free(out1);
	free(out2);
	free(err);
	snprintf(args, sizeof(args), "info --json %s --vmlinux %s", rig_target(r), rig_kernel_path(r));
	ck_assert_int_eq(rig_run_tool(r, args, &out1, NULL), 0);
	ck_assert_msg(strstr(out1, "vmlinux .BTF"), "%s", out1);
	free(out1);
	/* A System.map made from the guest's kallsyms, minus the KASLR offset. */
	/* (QEMU's gdbstub serves one client at a time: close before vmm runs.) */
	ck_ok(tgt_open(rig_target(r), &t));
	ck_ok(kern_attach(t, NULL, &k));
	kaslr = k->kaslr_offset;
	kern_detach(k);
	tgt_close(t);
	ck_assert_int_eq(rig_exec_bulk(r, "cat /proc/kallsyms", &ks, &len, 300), 0);
	snprintf(map, sizeof(map), "/tmp/gp-sysmap-%d", (int)getpid());
	snprintf(bad, sizeof(bad), "%s.bad", map);
	f = fopen(map, "w");
	fbad = fopen(bad, "w");
	ck_assert(f && fbad);
	for (line = strtok_r(ks, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long long a;
		char type, name[600];

		if (strchr(line, '[') || sscanf(line, "%llx %c %599s", &a, &type, name) != 3)
			continue;
		if (type != 'A' || a >= 0xffffffff80000000ull)
			a -= kaslr;
		fprintf(f, "%016llx %c %s\n", a, type, name);
		/* The "wrong kernel": every moving symbol 2 MiB off. */
		fprintf(fbad, "%016llx %c %s\n", type == 'A' ? a : a + 0x200000, type, name);
	}
	fclose(f);
	fclose(fbad);
	free(ks);
	snprintf(args, sizeof(args), "sym %s cmdline_proc_show init_task --system-map %s", rig_target(r), map);
	ck_assert_msg(rig_run_tool(r, args, &out1, &err) == 0, "sym --system-map: %s", err);
	snprintf(args, sizeof(args), "sym %s cmdline_proc_show init_task", rig_target(r));
	ck_assert_int_eq(rig_run_tool(r, args, &out2, NULL), 0);
	ck_assert_msg(!strcmp(out1, out2) && strstr(out1, "cmdline_proc_show"), "%s vs %s (%s)", out1, out2, err);
	free(out1);
	free(out2);
	free(err);
	/* A System.map from another kernel (shifted by 2 MiB) is refused. */
	snprintf(args, sizeof(args), "sym %s init_task --system-map %s", rig_target(r), bad);
	ck_assert(rig_run_tool(r, args, NULL, &err) != 0);
	ck_assert_msg(strstr(err, "wrong System.map"), "%s", err);
	free(err);
	unlink(bad);
	unlink(map);
	rig_kill(r);
}
END_TEST

static TCase *fallbacks_tcase(void)
{
	TCase *tc = tcase_create("fallbacks");

	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, fallback_sources);
	return tc;
}
GP_TCASE(fallbacks_tcase)
