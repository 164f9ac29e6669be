// SPDX-License-Identifier: GPL-2.0-or-later
/* fleet_util.c - what the fleet tests share (fleet_util.h). */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fleet_util.h"
#include "gp_check.h"

const char fu_warn_src[] =
	"#include <guestpatch.h>\nGP_PATCH(\"cmdline-warn\");\n"
	"struct seq_file; struct pt_regs; struct warn_args;\n"
	"extern void seq_printf(struct seq_file *m, const char *f, ...);\n"
	"extern void __warn(const char *file, int line, void *caller, unsigned taint,\n"
	"                   struct pt_regs *regs, struct warn_args *args);\n"
	"extern char *saved_command_line;\n"
	"static int warn_show(struct seq_file *m, void *v)\n"
	"{\n"
	"	__warn(\"fleet-bad-patch.c\", 1, __builtin_return_address(0), 9, (void *)0, (void *)0);\n"
	"	seq_printf(m, \"%s\\n\", saved_command_line);\n"
	"	return 0;\n"
	"}\n"
	"GP_REPLACE(cmdline_proc_show, warn_show);\n";

const char *fu_jstr(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

int fu_vmm(struct rig *r, char **out, char **err, const char *fmt, ...)
{
	char args[3000];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	return rig_run_tool(r, args, out, err);
}

int fu_listed(struct rig *r, const char *target, const char *name, int *total, bool *trans)
{
	char *o = NULL, *e = NULL;
	json_object *j, *arr, *v;
	int n = 0, rc = fu_vmm(r, &o, &e, "list %s --json", target ? target : rig_target(r));

	ck_assert_msg(rc == 0, "list %s: %s", target ? target : rig_target(r), e);
	j = json_tokener_parse(o);
	ck_assert_msg(j && json_object_object_get_ex(j, "patches", &arr), "list: %s", o);
	for (size_t i = 0; i < json_object_array_length(arr); i++)
		if (json_object_object_get_ex(json_object_array_get_idx(arr, i), "name", &v) &&
		    !strcmp(json_object_get_string(v), name))
			n++;
	if (total)
		*total = (int)json_object_array_length(arr);
	if (trans)
		*trans = json_object_object_get_ex(j, "transition", &v) &&
			 json_object_is_type(v, json_type_object);
	json_object_put(j);
	free(o);
	free(e);
	return n;
}

json_object *fu_report_of(const char *rundir, const char *name)
{
	char path[300], *text, *line, *save = NULL;
	json_object *found = NULL;

	snprintf(path, sizeof(path), "%s/report.jsonl", rundir);
	text = rig_slurp(path);
	for (line = strtok_r(text, "\n", &save); line && !found; line = strtok_r(NULL, "\n", &save)) {
		json_object *j = json_tokener_parse(line), *v;

		if (j && json_object_object_get_ex(j, "guest", &v) && !strcmp(json_object_get_string(v), name))
			found = j;
		else
			json_object_put(j);
	}
	free(text);
	ck_assert_msg(found, "no report line for %s in %s", name, path);
	return found;
}

json_object *fu_state_guests(const char *rundir, json_object **guests)
{
	char path[300], *text;
	json_object *j;

	snprintf(path, sizeof(path), "%s/state.json", rundir);
	text = rig_slurp(path);
	j = json_tokener_parse(text);
	free(text);
	if (!j || !json_object_object_get_ex(j, "guests", guests) ||
	    !json_object_is_type(*guests, json_type_array)) {
		json_object_put(j);
		*guests = NULL;
		return NULL;
	}
	return j;
}

pid_t fu_fleet_spawn(const char *inventory, const char *rundir, const char *extra)
{
	char outp[300], cmd[1500];
	pid_t pid;

	snprintf(outp, sizeof(outp), "%s.out", rundir);
	snprintf(cmd, sizeof(cmd), "exec %s/vmm fleet run %s --run-dir %s %s >%s 2>&1", rig_build_dir(),
		 inventory, rundir, extra ? extra : "", outp);
	pid = fork();
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	ck_assert(pid > 0);
	return pid;
}

void fu_build_id(struct rig *r, const char *target, char *out)
{
	char *o = NULL, *e = NULL;
	json_object *j, *v;
	int rc = fu_vmm(r, &o, &e, "info %s --json", target ? target : rig_target(r));

	ck_assert_msg(rc == 0, "info: %s", e);
	j = json_tokener_parse(o);
	ck_assert(j && json_object_object_get_ex(j, "build_id", &v));
	snprintf(out, 48, "%s", json_object_get_string(v));
	json_object_put(j);
	free(o);
	free(e);
}

void fu_scratch(char *dir, const char *tmpl)
{
	snprintf(dir, 64, "/work/%s", tmpl);
	if (!mkdtemp(dir)) {
		snprintf(dir, 64, "/tmp/%s", tmpl);
		if (!mkdtemp(dir))
			abort();
	}
}

void fu_scratch_rm(const char *dir)
{
	char cmd[100];

	if (getenv("GP_FLEET_KEEP")) {
		fprintf(stderr, "fleet: kept %s\n", dir);
		return;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", dir);
}
