// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Stacks read from outside: every still task against the guest's own
 * /proc/PID/stack (oracle.c), a kthread sleeping in module code among them,
 * and a task spinning on a vCPU unwound from its registers.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gp_check.h"
#include "kernel.h"
#include "oracle.h"
#include "rig/rig.h"
#include "stack.h"
#include "target.h"
#include "stacks.h"

START_TEST(stacks_equal_proc_stack)
{
	struct rig_opts ro = { .cpus = 2 };
	char *msg = NULL;
	struct rig *r = rig_boot(&ro, &msg);

	ck_assert_msg(r, "%s", msg);
	/* A module's kthread sleeping in module code (gp_test_sleeper.ko):
	 * unwound through the module's own ORC tables. */
	ck_assert_int_eq(rig_exec(r, "insmod /bin/gp_test_sleeper.ko", NULL, 60), 0);
	oracle_stacks(r, "gp_sleep_helper+");
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
