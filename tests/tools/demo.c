// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * gp-demo - the main job on the built-in default guest (make demo): boot a
 * Debian guest under QEMU, then look at it from outside with `vmm` and put
 * what the guest says about itself beside it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rig/rig.h"

static struct rig *r;

static void guest(const char *cmd)
{
	char *out = NULL;
	int rc;

	printf("\n[guest]$ %s\n", cmd);
	rc = rig_exec(r, cmd, &out, 120);
	fputs(out ? out : "", stdout);
	if (rc)
		printf("(exit %d)\n", rc);
	free(out);
}

/* Run vmm with ARGS, where the first "%T" stands for the target. */
static void host(const char *args)
{
	char *out = NULL, *err = NULL, buf[1024];
	const char *t = strstr(args, "%T");
	int rc;

	if (t)
		snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(t - args), args, rig_target(r), t + 2);
	else
		snprintf(buf, sizeof(buf), "%s", args);
	printf("\n[host]$ vmm %s\n", buf);
	rc = rig_run_tool(r, buf, &out, &err);
	fputs(out ? out : "", stdout);
	fputs(err ? err : "", stdout);
	if (rc)
		printf("(exit %d)\n", rc);
	free(out);
	free(err);
}

int main(void)
{
	struct rig_opts ro = { .flavor = "amd64", .cpus = 2 };
	char *errmsg = NULL;

	printf("Booting a Debian guest (linux-image-amd64) under QEMU TCG...\n");
	r = rig_boot(&ro, &errmsg);
	if (!r) {
		fprintf(stderr, "gp-demo: %s\n", errmsg);
		return 1;
	}
	printf("Guest up. Target: %s\n", rig_target(r));
	guest("uname -r; cat /proc/cmdline");
	guest("grep -E ' (cmdline_proc_show|init_task|_stext)$' /proc/kallsyms");
	host("info --stats %T");
	host("sym %T cmdline_proc_show init_task _stext");
	guest("sleep 600 & sleep 600 & ps -o pid,stat,comm | tail -n 5");
	host("ps --stats %T");
	printf("\nPatching (vmm patch/unpatch) is not implemented yet: see README.md.\n");
	rig_kill(r);
	return 0;
}
