// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cmd_recover.c - `vmm recover TARGET [--force]`: roll back what an
 * interrupted vmm left in the guest and repair wedged per-task state
 * (patch/lp_recover.c says what and why).
 */
#include <stdio.h>
#include <time.h>

#include "cli.h"
#include "lp_patch.h"

void cli_say_rollback(const struct lp_jrecovery *r)
{
	char when[32] = "?";
	time_t t = (time_t)r->intent.start_unix;

	if (r->owner_earlier_boot)
		fprintf(stderr,
			"vmm: the guest's owner record names pid %d on %s (`%s%s%s`) of an earlier boot of this guest: stale (that boot's kernel is gone); the next change takes it over\n",
			r->owner.pid, cli_str(r->owner.host), cli_str(r->owner.op),
			r->owner.patch[0] ? " " : "", cli_str(r->owner.patch));
	if (!r->found)
		return;
	if (r->earlier_boot) {
		fprintf(stderr,
			"vmm: the journal holds an unfinished `%s%s%s` of pid %d on %s from an earlier boot of this guest: discarded (nothing of it is live after the reboot)\n",
			cli_str(r->intent.op), r->intent.patch[0] ? " " : "", cli_str(r->intent.patch),
			r->intent.pid, cli_str(r->intent.host));
		return;
	}
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime(&t));
	fprintf(stderr,
		"vmm: found an unfinished `%s%s%s` by pid %d on %s (started %s): rolled back its %u write%s; the guest is as before that pause\n",
		r->intent.op, r->intent.patch[0] ? " " : "", r->intent.patch, r->intent.pid,
		r->intent.host, when, r->entries, r->entries == 1 ? "" : "s");
}

void cli_say_earlier_region(const char *then)
{
	fprintf(stderr,
		"guestpatch: the region in guest memory is from an earlier boot of this guest (rebooted since): nothing of it is live; %s\n",
		then);
}

int cmd_recover(struct cli *c, int argc, char **argv)
{
	struct lp_recover_report rep;
	struct gp_error *err;

	if (argc)
		return cli_fail(gp_error_create(GP_ERR_INVAL, "recover takes no operand after TARGET"),
				"recover");
	lp_journal_force(c->force);
	if ((err = lp_recover(c->k, &rep)))
		return cli_fail(err, "recover");
	cli_say_rollback(&rep.journal);
	cli_say_call(&rep.call, NULL);
	if (rep.region_earlier_boot)
		cli_say_earlier_region("the next `vmm patch` sets it up anew");
	if (c->json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "rolled_back", json_object_new_int((int)rep.journal.entries));
		json_object_object_add(o, "interrupted_op",
				       json_object_new_string(rep.journal.found ? rep.journal.intent.op : ""));
		json_object_object_add(o, "discarded_earlier_boot",
				       json_object_new_boolean(rep.journal.earlier_boot));
		json_object_object_add(o, "region_earlier_boot",
				       json_object_new_boolean(rep.region_earlier_boot));
		json_object_object_add(o, "target_state_reset", json_object_new_boolean(rep.target_reset));
		json_object_object_add(o, "tasks_reset", json_object_new_int(rep.tasks_reset));
		json_object_object_add(o, "agent_removed", json_object_new_boolean(rep.agent_removed));
		json_object_object_add(o, "call_found", json_object_new_boolean(rep.call.found));
		json_object_object_add(o, "call_cleaned", json_object_new_boolean(rep.call.cleaned));
		cli_print_json(o);
		return 0;
	}
	if (!rep.journal.found && !rep.target_reset && !rep.tasks_reset && !rep.agent_removed &&
	    !rep.region_earlier_boot && !rep.journal.owner_earlier_boot && !rep.call.found) {
		puts("nothing to recover: no unfinished change, no wedged per-task state");
		return 0;
	}
	if (rep.journal.found && rep.journal.earlier_boot)
		printf("discarded an unfinished `%s` of an earlier boot of this guest (%u write%s, none rolled back: nothing of it is live after the reboot)\n",
		       cli_str(rep.journal.intent.op), rep.journal.entries,
		       rep.journal.entries == 1 ? "" : "s");
	else if (rep.journal.found)
		printf("rolled back %u write%s of an interrupted `%s`\n", rep.journal.entries,
		       rep.journal.entries == 1 ? "" : "s", rep.journal.intent.op);
	if (rep.journal.owner_earlier_boot)
		puts("cleared the owner record of an earlier boot of this guest");
	if (rep.region_earlier_boot)
		puts("the region in guest memory is an earlier boot's: no patch of it is live; the next `vmm patch` sets it up anew");
	if (rep.target_reset)
		printf("klp_target_state was %d with no transition in progress: reset to KLP_UNDEFINED\n",
		       rep.old_target);
	if (rep.tasks_reset)
		printf("%d task%s had a patch state or TIF_PATCH_PENDING with no transition: reset\n",
		       rep.tasks_reset, rep.tasks_reset == 1 ? "" : "s");
	if (rep.agent_removed)
		puts("a straggler agent left installed was removed");
	if (rep.call.found)
		puts(rep.call.cleaned ? "a call left in flight had ended: its pages are freed"
				      : "a call left in flight has not ended: left running, its pages stay reserved");
	return 0;
}
