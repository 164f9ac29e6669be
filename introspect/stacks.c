// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stacks.h"

struct gp_error *stacks_take(struct stack_ctx *c, struct stacks_snapshot *s)
{
	struct kern *k = c->k;
	struct tgt_regs regs[TGT_MAX_VCPUS];
	int cpu_of_vcpu[TGT_MAX_VCPUS];
	struct gp_error *err;

	memset(s, 0, sizeof(*s));
	if ((err = task_list_all(k, &c->to, &s->tasks)))
		return err;
	if (s->tasks.nr > STACKS_MAX_TASKS) {
		err = gp_error_create(GP_ERR_LIMIT,
				      "the guest lists %zu tasks, more than STACKS_MAX_TASKS (%u) in one stack snapshot",
				      s->tasks.nr, STACKS_MAX_TASKS);
		stacks_free(s);
		return err;
	}
	s->traces = calloc(s->tasks.nr ? s->tasks.nr : 1, sizeof(*s->traces));
	s->vcpu = calloc(s->tasks.nr ? s->tasks.nr : 1, sizeof(int));
	if (!s->traces || !s->vcpu) {
		stacks_free(s);
		return &gp_error_nomem;
	}
	for (int v = 0; v < k->t->nr_vcpus && v < TGT_MAX_VCPUS; v++) {
		if ((err = tgt_get_regs(k->t, v, &regs[v]))) {
			stacks_free(s);
			return err;
		}
		cpu_of_vcpu[v] = stack_vcpu_to_cpu(k, &regs[v]);
	}
	for (size_t i = 0; i < s->tasks.nr; i++) {
		const struct task_info *t = &s->tasks.v[i];

		s->vcpu[i] = -1;
		if (t->running_cpu >= 0)
			for (int v = 0; v < k->t->nr_vcpus && v < TGT_MAX_VCPUS; v++)
				if (cpu_of_vcpu[v] == t->running_cpu)
					s->vcpu[i] = v;
		if (s->vcpu[i] >= 0)
			stack_unwind_regs(c, t, &regs[s->vcpu[i]], t->running_cpu, &s->traces[i]);
		else if (t->running_cpu >= 0) {
			/* Current on a CPU no vCPU claims: cannot see it. */
			memset(&s->traces[i], 0, sizeof(s->traces[i]));
			s->traces[i].reason = STACK_NO_END;
			snprintf(s->traces[i].why, sizeof(s->traces[i].why),
				 "running on CPU %d, which no vCPU's registers match", t->running_cpu);
		} else
			stack_unwind_task(c, t, &s->traces[i]);
	}
	return NULL;
}

void stacks_free(struct stacks_snapshot *s)
{
	task_list_free(&s->tasks);
	free(s->traces);
	free(s->vcpu);
	memset(s, 0, sizeof(*s));
}
