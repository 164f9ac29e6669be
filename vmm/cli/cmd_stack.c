// SPDX-License-Identifier: GPL-2.0-or-later
/* vmm stack: kernel stacks of guest tasks with a reliability verdict. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lp_patch.h"
#include "stacks.h"

static bool selected(const struct task_info *t, int argc, char **argv, bool all)
{
	if (all || argc == 0)
		return true;
	for (int i = 0; i < argc; i++)
		if (atoi(argv[i]) == t->pid)
			return true;
	return false;
}

int cmd_stack(struct cli *c, int argc, char **argv)
{
	struct stacks_snapshot snap;
	struct stack_ctx *ctx = NULL;
	struct gp_error *err;
	json_object *arr = c->json ? json_object_new_array() : NULL;
	int shown = 0;

	for (int i = 0; i < argc; i++)
		if (strspn(argv[i], "0123456789") != strlen(argv[i]) || !argv[i][0]) {
			json_object_put(arr);
			fprintf(stderr, "vmm: stack: '%s' is not a PID\n", argv[i]);
			return 2;
		}
	if ((err = stack_ctx_init(c->k, &ctx)) || (err = lp_register_patch_orc(c->k, ctx))) {
		stack_ctx_free(ctx);
		json_object_put(arr);
		return cli_fail(err, "stack");
	}
	if ((err = tgt_pause(c->t))) {
		stack_ctx_free(ctx);
		json_object_put(arr);
		return cli_fail(err, "stack: pause");
	}
	/* Read everything while paused; print after resuming. */
	err = cli_resume(c, stacks_take(ctx, &snap));
	if (err) {
		stack_ctx_free(ctx);
		json_object_put(arr);
		return cli_fail(err, "stack");
	}
	for (size_t i = 0; i < snap.tasks.nr; i++) {
		const struct task_info *t = &snap.tasks.v[i];
		const struct stack_trace *tr = &snap.traces[i];
		json_object *frames = NULL, *o = NULL;

		if (!selected(t, argc, argv, c->all))
			continue;
		shown++;
		if (arr) {
			o = json_object_new_object();
			frames = json_object_new_array();
			json_object_object_add(o, "pid", json_object_new_int(t->pid));
			json_object_object_add(o, "tgid", json_object_new_int(t->tgid));
			json_object_object_add(o, "comm", json_object_new_string(t->comm));
			json_object_object_add(o, "idle", json_object_new_boolean(t->idle));
			json_object_object_add(o, "vcpu", json_object_new_int(snap.vcpu[i]));
			json_object_object_add(o, "reliable", json_object_new_boolean(tr->reliable));
			json_object_object_add(o, "user_end", json_object_new_boolean(tr->user_end));
			json_object_object_add(o, "reason", json_object_new_string(tr->reliable ? "" : tr->why));
			json_object_object_add(o, "frames", frames);
			json_object_array_add(arr, o);
		} else {
			printf("%d %s (%c", t->pid, cli_str(t->comm), t->state_char);
			if (snap.vcpu[i] >= 0)
				printf(", running on vCPU %d", snap.vcpu[i]);
			printf(")\n");
		}
		for (int f = 0; f < tr->nr; f++) {
			const char *mod, *fn;
			uint64_t off, size;

			fn = stack_symbolize(ctx, tr->f[f].pc, &off, &size, &mod);
			if (!fn)
				fn = "?";
			if (frames) {
				json_object *x = json_object_new_object();

				json_object_object_add(x, "pc", json_object_new_string(cli_hex(tr->f[f].pc)));
				json_object_object_add(x, "sp", json_object_new_string(cli_hex(tr->f[f].sp)));
				json_object_object_add(x, "function", json_object_new_string(fn));
				if (mod)
					json_object_object_add(x, "module", json_object_new_string(mod));
				json_object_object_add(x, "offset", json_object_new_int64((int64_t)off));
				json_object_object_add(x, "size", json_object_new_int64((int64_t)size));
				json_object_object_add(x, "hidden_by_guest",
						       json_object_new_boolean(stack_hidden_by_guest(ctx, tr->f[f].pc)));
				json_object_array_add(frames, x);
			} else {
				printf("  %s+0x%" PRIx64 "/0x%" PRIx64 "%s%s%s%s\n", cli_str(fn), off, size,
				       mod ? " [" : "", mod ? cli_str(mod) : "", mod ? "]" : "",
				       tr->f[f].from_regs ? " (regs)" : "");
			}
		}
		if (!arr)
			printf("  %s%s\n\n", tr->reliable ? "reliable" : "unreliable: ",
			       tr->reliable ? (tr->user_end ? " (ends at user-mode entry)" : "") : cli_str(tr->why));
	}
	if (arr)
		cli_print_json(arr);
	cli_print_stats(c, "stack");
	stacks_free(&snap);
	stack_ctx_free(ctx);
	if (!shown && argc) {
		fprintf(stderr, "vmm: stack: no task with PID %s%s\n", argv[0], argc > 1 ? " (or the others)" : "");
		return 1;
	}
	return 0;
}
