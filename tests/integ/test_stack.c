// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Stacks read from outside against the guest's own /proc/PID/stack (the
 * kernel's ORC unwinder), task by task, function by function.
 *
 * How frames the guest leaves out are treated: /proc/PID/stack uses
 * stack_trace_save_tsk(), which drops scheduler and lock functions
 * (in_sched_functions(): .sched.text and .spinlock.text, e.g. __schedule,
 * schedule, schedule_timeout). We drop the same frames, by the same
 * sections, and then require the two lists to be equal entry for entry as
 * "function+0xoffset/0xsize". Only tasks that held still are compared: the
 * guest's stack the same in two dumps, and ours the same in two snapshots
 * taken between and after them (a task that moved cannot be compared); the
 * dumping shell itself is left out.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gp_check.h"
#include "kernel.h"
#include "rig/rig.h"
#include "stack.h"
#include "target.h"
#include "stacks.h"

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

START_TEST(stacks_equal_proc_stack)
{
	static struct gstack g1[MAXT], g2[MAXT];
	struct rig_opts ro = { .cpus = 2 };
	char *msg = NULL, *out;
	struct rig *r = rig_boot(&ro, &msg);
	struct tgt *t = NULL;
	struct kern *k = NULL;
	struct stack_ctx *ctx = NULL;
	struct stacks_snapshot snap, snap2;
	int n1, n2, shell, compared = 0, reliable = 0, sleeping = 0, in_module = 0;

	ck_assert_msg(r, "%s", msg);
	/* The workload the issue names: nanosleep, pipes both ways, wait4,
	 * shells, kthreads, idle. */
	/* A module's kthread sleeping in module code (gp_test_sleeper.ko):
	 * unwound through the module's own ORC tables. */
	ck_assert_int_eq(rig_exec(r, "insmod /bin/gp_test_sleeper.ko", NULL, 60), 0);
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
			strncat(ours, one, sizeof(ours) - strlen(ours) - 1);
		}
		ck_assert_msg(!strcmp(ours, a->frames), "task %d (%s):\n guest: %s\n ours:  %s",
			      ti->pid, ti->comm, a->frames, ours);
		ck_assert_msg(tr->reliable, "task %d (%s) unreliable: %s", ti->pid, ti->comm, tr->why);
		compared++;
		in_module += strstr(ours, "gp_sleep_helper+") && strstr(ours, " [gp_test_sleeper]");
	}
	fprintf(stderr, "stack_oracle: %d sleeping tasks compared equal to /proc/PID/stack (of %d); %d of %zu traces reliable\n",
		compared, sleeping, reliable, snap.tasks.nr);
	ck_assert_msg(compared >= sleeping - 5 && compared > 40, "only %d of %d compared", compared,
		      sleeping);
	ck_assert_msg(in_module == 1, "the kthread sleeping in module code was not compared (%d)",
		      in_module);
	stacks_free(&snap);
	stacks_free(&snap2);
	stack_ctx_free(ctx);
	kern_detach(k);
	tgt_close(t);
	rig_kill(r);
}
END_TEST

/* A task spinning in the kernel, unwound from vCPU registers 100 times. */
START_TEST(spinning_task_from_registers)
{
	struct rig_opts ro = { .cpus = 2 };
	char *msg = NULL, *out;
	struct rig *r = rig_boot(&ro, &msg);
	struct tgt *t = NULL;
	struct kern *k = NULL;
	struct stack_ctx *ctx = NULL;
	int pid, on_vcpu = 0, in_kernel = 0, rel = 0, user = 0, syscall_bottom = 0;
	char reasons[512] = "";
	uint64_t entry;

	ck_assert_msg(r, "%s", msg);
	ck_assert_int_eq(rig_exec(r, "spin & echo $!", &out, 30), 0);
	pid = atoi(out);
	free(out);
	ck_ok(tgt_open(rig_target(r), &t));
	ck_ok(kern_attach(t, NULL, &k));
	ck_ok(stack_ctx_init(k, &ctx));
	ck_ok(kern_sym(k, "entry_SYSCALL_64_after_hwframe", &entry));
	for (int i = 0; i < 100; i++) {
		struct stacks_snapshot snap;

		ck_ok(tgt_pause(t));
		ck_ok(stacks_take(ctx, &snap));
		ck_ok(tgt_resume(t));
		for (size_t j = 0; j < snap.tasks.nr; j++) {
			const struct stack_trace *tr = &snap.traces[j];

			if (snap.tasks.v[j].pid != pid || snap.vcpu[j] < 0)
				continue;
			on_vcpu++;
			if (tr->user_end && tr->nr == 0) {
				user++;
				rel += tr->reliable;
				continue;
			}
			in_kernel++;
			if (tr->reliable) {
				const struct ksym *s = ksym_symbolize(k->syms, tr->f[tr->nr - 1].pc, NULL, NULL);

				/* It ends at user-mode registers saved by an entry
				 * point: the syscall entry, or an interrupt or
				 * exception entry (asm_*) that hit user mode. */
				rel++;
				ck_assert_msg(tr->user_end, "reliable trace of a user task not ending at user registers");
				ck_assert_msg(s && (s->addr == entry || !strncmp(ksym_name(k->syms, s), "asm_", 4) ||
						    !strncmp(ksym_name(k->syms, s), "entry_", 6)),
					      "reliable trace ends in %s (%d frames, user_end %d), not an entry point",
					      s ? ksym_name(k->syms, s) : "?", tr->nr, tr->user_end);
				syscall_bottom += s->addr == entry;
			} else if (strlen(reasons) < 300) {
				strcat(reasons, tr->why);
				strcat(reasons, "; ");
			}
		}
		stacks_free(&snap);
	}
	fprintf(stderr, "spinning task: on a vCPU in %d of 100 pauses (%d in the kernel, %d in user mode); %d reliable (%d through the syscall entry). Unreliable because: %s\n",
		on_vcpu, in_kernel, user, rel, syscall_bottom, reasons[0] ? reasons : "-");
	ck_assert_msg(on_vcpu >= 50, "spin ran on a vCPU in only %d pauses", on_vcpu);
	ck_assert_msg(in_kernel > 0, "never caught in the kernel");
	stack_ctx_free(ctx);
	kern_detach(k);
	tgt_close(t);
	rig_kill(r);
}
END_TEST

static TCase *stack_oracle_tcase(void)
{
	TCase *tc = tcase_create("stack_oracle");

	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, stacks_equal_proc_stack);
	tcase_add_test(tc, spinning_task_from_registers);
	return tc;
}
GP_TCASE(stack_oracle_tcase)
