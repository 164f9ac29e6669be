// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * gp-demo - the main job on the built-in default guest (make demo): boot a
 * Debian guest under QEMU, look at it from outside, patch
 * cmdline_proc_show live so /proc/cmdline prints a marker, show the guest's
 * behaviour before and after (also to a process that was already running),
 * then unpatch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rig/rig.h"

static struct rig *r;
static int failures;

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

/* Run vmm with ARGS, where "%T" stands for the target. */
static int host(const char *args)
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
	if (rc) {
		printf("(exit %d)\n", rc);
		failures++;
	}
	free(out);
	free(err);
	return rc;
}

int main(void)
{
	struct rig_opts ro = { .flavor = "amd64", .cpus = 2 };
	char *errmsg = NULL, cmd[1024];

	printf("Booting a Debian guest (linux-image-amd64) under QEMU TCG...\n");
	r = rig_boot(&ro, &errmsg);
	if (!r) {
		fprintf(stderr, "gp-demo: %s\n", errmsg);
		return 1;
	}
	printf("Guest up in %.1f s. Target: %s\n", rig_boot_seconds(r), rig_target(r));

	printf("\n=== 1. What the guest is, from its memory alone ===\n");
	host("info %T");
	host("sym %T cmdline_proc_show");
	guest("grep ' cmdline_proc_show$' /proc/kallsyms");

	printf("\n=== 2. Before: /proc/cmdline, and a reader that keeps running ===\n");
	guest("(while :; do cat /proc/cmdline > /tmp/seen; sleep 0.2; done) >/dev/null 2>&1 & sleep 1; cat /proc/cmdline");

	printf("\n=== 3. Build the example patch (guest-agent/examples/cmdline_marker.c) ===\n");
	snprintf(cmd, sizeof(cmd), "build guest-agent/examples/cmdline_marker.c -o %s/cmdline_marker.o --target %%T",
		 rig_build_dir());
	host(cmd);

	printf("\n=== 4. Patch it live, from outside ===\n");
	snprintf(cmd, sizeof(cmd), "patch %%T %s/cmdline_marker.o", rig_build_dir());
	host(cmd);
	host("list %T");
	guest("cat /proc/cmdline");
	guest("sleep 1; echo 'the reader started before the patch saw:'; cat /tmp/seen");

	printf("\n=== 5. Unpatch ===\n");
	host("unpatch %T cmdline-marker");
	guest("cat /proc/cmdline");
	guest("sleep 1; echo 'the reader now sees:'; cat /tmp/seen; kill %1; wait");
	host("list %T");

	printf("\n=== 6. Tasks and their kernel stacks, read from outside ===\n");
	host("ps %T");
	host("stack %T 1");
	rig_kill(r);
	printf("\n%s\n", failures ? "demo: some steps FAILED (see above)" : "demo: done");
	return failures ? 1 : 0;
}
