// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_ansible.c - a fleet over two hosts through Ansible (configs/ansible/):
 * ansible-playbook runs `vmm fleet run` on each fleet host in turn and
 * merges their reports.  The two "hosts" are two Ansible inventory entries
 * on this machine (ansible_connection=local), each owning QEMU guests of
 * its own (256 MiB): host-a two of Debian 6.1 amd64, host-b two of 6.1
 * and one of 6.12.
 *
 *   ansible_fleet: one play batch per host (serial 1); the merged report has
 *     every guest exactly once, applied (one guest of host-b runs 6.12, for
 *     which the catalog has nothing: no-patch-for-kernel), as each guest's
 *     own /proc/cmdline and `vmm list` show.
 *   ansible_halt: a catalog with a patch that cannot apply and max_fail 0
 *     halts host-a (exit 2); with max_fail_percentage 0 the play stops
 *     before host-b, whose guests are untouched (their /proc/version and
 *     `vmm list`), and the merged report says host-a halted, host-b did not
 *     run.
 *
 * Hermetic: the run directory has its own ansible.cfg, and HOME,
 * ANSIBLE_HOME and the temporary directories point into it.
 */
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gp_check.h"
#include "gp_hash.h"
#include "patch_util.h"

/* b3 runs another kernel (6.12), for which the catalog has no patch. */
#define NG 5
#define NOPATCH 4
static const char *const gname[NG] = { "a1", "a2", "b1", "b2", "b3" };
static const char *const ghost[NG] = { "host-a", "host-a", "host-b", "host-b", "host-b" };
static const char *const gflavor[NG] = { NULL, NULL, NULL, NULL, "6.12-amd64" };
static struct rig *g[NG];
static char dir[] = "/tmp/gp-ansible-XXXXXX";
static char vmm[PATH_MAX], playbook[PATH_MAX];

/* The fleet's policy on each host: one guest at a time, halt at the first
 * failure (the fleet's health check after each batch stays on). */
#define POLICY "\"serial\": \"1\", \"max_fail\": \"0\""

static const char bad_src[] =
	"#include <guestpatch.h>\n"
	"GP_PATCH(\"no-such-function\");\n"
	"static int new_fn(void)\n"
	"{\n"
	"	return 0;\n"
	"}\n"
	"GP_REPLACE(gp_test_no_such_function, new_fn);\n";

static void up(void)
{
	char *msg = NULL;

	if (!mkdtemp(dir))
		abort();
	for (int i = 0; i < NG; i++) {
		g[i] = rig_boot(&(struct rig_opts){ .cpus = 1, .mem_mb = 256, .flavor = gflavor[i] },
				&msg);
		if (!g[i]) {
			fprintf(stderr, "rig %s: %s\n", gname[i], msg);
			abort();
		}
	}
	char rel[PATH_MAX];

	snprintf(rel, sizeof(rel), "%s/vmm", rig_build_dir());
	if (!realpath(rel, vmm) || !realpath("configs/ansible/fleet.yml", playbook)) {
		fprintf(stderr, "ansible test: no %s or configs/ansible/fleet.yml (run from the tree)\n",
			rel);
		abort();
	}
}

static void down(void)
{
	char cmd[200];

	for (int i = 0; i < NG; i++)
		rig_kill(g[i]);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", dir);
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_msg(f, "cannot write %s", path);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

/* The guest's kernel build id, as `vmm info --json` reads it. */
static char *build_id(struct rig *r)
{
	char *out = NULL;
	json_object *o, *v;
	char *id;

	ck_assert_int_eq(pu_vmm(r, "info", "--json", &out, NULL), 0);
	o = json_tokener_parse(out);
	ck_assert_msg(o && json_object_object_get_ex(o, "build_id", &v), "vmm info: %.2000s", out);
	id = strdup(json_object_get_string(v));
	json_object_put(o);
	free(out);
	return id;
}

/*
 * A fleet inventory in dir/NAME naming both hosts and all four guests, with
 * the catalog: each file of `files` (relative: the role copies them next to
 * the inventory) for the guests' build id.
 */
static void fleet_inventory(const char *name, const char *bid, const char *const *files, int nfiles,
			    const char *policy)
{
	char path[PATH_MAX], *buf;
	size_t len;
	FILE *f = open_memstream(&buf, &len);

	fprintf(f, "{\n  \"version\": 1,\n"
		   "  \"hosts\": [ { \"name\": \"host-a\" }, { \"name\": \"host-b\" } ],\n"
		   "  \"rings\": [ { \"name\": \"all\" } ],\n  \"guests\": [\n");
	for (int i = 0; i < NG; i++)
		fprintf(f, "    { \"name\": \"%s\", \"host\": \"%s\", \"ring\": \"all\", \"target\": \"%s\" }%s\n",
			gname[i], ghost[i], rig_target(g[i]), i + 1 < NG ? "," : "");
	fprintf(f, "  ],\n  \"patches\": [\n");
	for (int i = 0; i < nfiles; i++)
		fprintf(f, "    { \"build_id\": \"%s\", \"file\": \"%s\" }%s\n", bid, files[i],
			i + 1 < nfiles ? "," : "");
	fprintf(f, "  ],\n  \"policy\": { %s }\n}\n", policy);
	fclose(f);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	put(path, buf);
	free(buf);
}

/* The Ansible side: its own config and an inventory of two local hosts. */
static void ansible_files(void)
{
	char path[PATH_MAX], text[4096];

	snprintf(path, sizeof(path), "%s/ansible.cfg", dir);
	snprintf(text, sizeof(text),
		 "[defaults]\n"
		 "host_key_checking = False\n"
		 "retry_files_enabled = False\n"
		 "nocolor = True\n"
		 "interpreter_python = /usr/bin/python3\n"
		 "local_tmp = %s/ansible/local\n"
		 "remote_tmp = %s/ansible/remote\n",
		 dir, dir);
	put(path, text);
	snprintf(path, sizeof(path), "%s/hosts.ini", dir);
	put(path, "[guestpatch_hosts]\n"
		  "host-a ansible_connection=local\n"
		  "host-b ansible_connection=local\n");
}

/* ansible-playbook over the fleet inventory dir/INV with the files given;
 * its output to dir/LOG; returns its exit status. */
static int playbook_run(const char *run, const char *inv, const char *files, const char *log,
			const char *extra)
{
	char *cmd = NULL;
	int rc;

	ck_assert(asprintf(&cmd,
		 "cd %s && env HOME=%s/home ANSIBLE_CONFIG=%s/ansible.cfg ANSIBLE_HOME=%s/ansible/home "
		 "ANSIBLE_LOCAL_TEMP=%s/ansible/local ANSIBLE_REMOTE_TEMP=%s/ansible/remote "
		 "ANSIBLE_ASYNC_DIR=%s/ansible/async ANSIBLE_HOST_KEY_CHECKING=False "
		 "ANSIBLE_NOCOLOR=1 "
		 "ansible-playbook -i hosts.ini %s "
		 "-e guestpatch_fleet_run_id=%s "
		 "-e guestpatch_fleet_inventory=%s/%s "
		 "-e '{\"guestpatch_fleet_files\": [%s]}' "
		 "-e guestpatch_fleet_vmm=%s "
		 "-e guestpatch_fleet_remote_dir=%s/remote "
		 "-e guestpatch_fleet_report_dir=%s/reports "
		 "-e guestpatch_fleet_max_fail_percentage=0 %s "
		 "> %s/%s 2>&1",
		 dir, dir, dir, dir, dir, dir, dir, playbook, run, dir, inv, files, vmm, dir, dir,
		 extra ? extra : "", dir, log) > 0);
	rc = system(cmd);
	ck_assert_msg(rc != -1 && WIFEXITED(rc), "%s", cmd);
	free(cmd);
	return WEXITSTATUS(rc);
}

static char *run_file(const char *run, const char *rel)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/reports/%s/%s", dir, run, rel);
	return rig_slurp(path);
}

static json_object *run_json(const char *run, const char *rel)
{
	char *text = run_file(run, rel);
	json_object *o = json_tokener_parse(text);

	ck_assert_msg(o, "%s/%s: not JSON: %.300s", run, rel, text);
	free(text);
	return o;
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Assert with a long text (an Ansible log): the text goes to stderr, the
 * message (Check caps its length) names the file. */
#define ck_assert_log(cond, text, what)                                             \
	do {                                                                        \
		if (!(cond))                                                        \
			fprintf(stderr, "---- %s ----\n%s\n----\n", (what), (text)); \
		ck_assert_msg((cond), "%s (%s printed above)", #cond, (what));     \
	} while (0)

/*
 * Hold the guest's vmm lock (vmm/cli/lock.c: an flock on a file named by
 * the FNV-1a hash of the gdbstub socket's real path) as another operator's
 * vmm would: every vmm step on that guest is then refused "busy".  Returns
 * the fd (close it to let go).
 */
static int hold_guest_lock(struct rig *r)
{
	const char *spec = rig_target(r), *gdb = strstr(spec, "gdb="), *dirp = getenv("GP_LOCK_DIR");
	char key[PATH_MAX], real[PATH_MAX], path[PATH_MAX + 64], text[100];
	uint64_t h;
	int fd;

	ck_assert(gdb);
	snprintf(key, sizeof(key), "%.*s", (int)strcspn(gdb + 4, ","), gdb + 4);
	ck_assert(realpath(key, real));
	h = gp_fnv1a(GP_FNV_OFFSET, real, strlen(real));
	snprintf(path, sizeof(path), "%s/target-%016llx.lock", dirp ? dirp : "/run/guestpatch",
		 (unsigned long long)h);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ck_assert_msg(fd >= 0, "%s", path);
	ck_assert_msg(flock(fd, LOCK_EX | LOCK_NB) == 0, "%s is held already", path);
	snprintf(text, sizeof(text), "pid %d: the ansible test holds it\n", (int)getpid());
	ck_assert(ftruncate(fd, 0) == 0 && pwrite(fd, text, strlen(text), 0) == (ssize_t)strlen(text));
	return fd;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* The merged fleet-report.jsonl: each guest's line, NULL if absent;
 * fails on a guest reported twice or one the fleet does not have. */
static void merged_lines(const char *run, json_object *line[NG])
{
	char *text = run_file(run, "fleet-report.jsonl"), *save = NULL;

	for (int i = 0; i < NG; i++)
		line[i] = NULL;
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		json_object *o = json_tokener_parse(l);
		const char *guest = o ? jstr(o, "guest") : NULL;
		int i;

		ck_assert_msg(guest, "%s: fleet-report.jsonl line: %s", run, l);
		for (i = 0; i < NG && strcmp(gname[i], guest); i++)
			;
		ck_assert_msg(i < NG, "%s: guest %s is not in the fleet", run, guest);
		ck_assert_msg(!line[i], "%s: guest %s reported twice", run, guest);
		ck_assert_str_eq(jstr(o, "host"), ghost[i]);
		line[i] = o;
	}
	free(text);
}

static json_object *summary_host(json_object *sum, const char *host)
{
	json_object *hosts, *h;

	ck_assert(json_object_object_get_ex(sum, "hosts", &hosts));
	for (size_t i = 0; i < json_object_array_length(hosts); i++) {
		h = json_object_array_get_idx(hosts, i);
		if (!strcmp(jstr(h, "host") ?: "", host))
			return h;
	}
	ck_abort_msg("summary: no host %s", host);
	return NULL;
}

static bool list_has(json_object *o, const char *key, const char *value)
{
	json_object *arr;

	if (!json_object_object_get_ex(o, key, &arr) || !json_object_is_type(arr, json_type_array))
		return false;
	for (size_t i = 0; i < json_object_array_length(arr); i++)
		if (!strcmp(json_object_get_string(json_object_array_get_idx(arr, i)) ?: "", value))
			return true;
	return false;
}

START_TEST(ansible_fleet)
{
	const char *files[] = { "cmdline_marker.o" };
	char *bid = build_id(g[0]), *log, *out, *sa, *sb, path[PATH_MAX];
	json_object *line[NG], *sum, *st[2];
	int rc;

	for (int i = 1; i < NG; i++) {
		char *b = build_id(g[i]);

		if (i == NOPATCH)
			ck_assert_str_ne(b, bid);
		else
			ck_assert_str_eq(b, bid);
		free(b);
	}
	(void)pu_build(g[0], dir, "cmdline_marker", NULL, NULL);
	ansible_files();
	fleet_inventory("fleet1.json", bid, files, 1, POLICY);
	{
		char list[PATH_MAX + 8];

		snprintf(list, sizeof(list), "\"%s/cmdline_marker.o\"", dir);
		rc = playbook_run("run1", "fleet1.json", list, "ansible1.log", NULL);
	}
	snprintf(path, sizeof(path), "%s/ansible1.log", dir);
	log = rig_slurp(path);
	ck_assert_log(rc == 0, log, "ansible1.log");
	/* One play batch per host: the host play's banner twice. */
	ck_assert_log(count(log, "PLAY [guestpatch fleet - vmm fleet run, host by host]") == 2, log,
		      "ansible1.log");

	/* Each host's run, and the one after the other (serial 1). */
	st[0] = run_json("run1", "hosts/host-a/status.json");
	st[1] = run_json("run1", "hosts/host-b/status.json");
	ck_assert_str_eq(jstr(st[0], "outcome"), "done");
	ck_assert_str_eq(jstr(st[1], "outcome"), "done");
	sa = (char *)jstr(st[0], "end");
	sb = (char *)jstr(st[1], "start");
	ck_assert_msg(sa && sb && strcmp(sa, sb) <= 0, "host-b started (%s) before host-a ended (%s)",
		      sb ?: "?", sa ?: "?");

	/* The merged report: every guest once, applied (b3: no patch for its
	 * kernel). */
	merged_lines("run1", line);
	for (int i = 0; i < NG; i++) {
		ck_assert_msg(line[i], "guest %s missing from the merged report", gname[i]);
		ck_assert_msg(!strcmp(jstr(line[i], "result") ?: "",
				      i == NOPATCH ? "no-patch-for-kernel" : "applied"),
			      "guest %s: %.1000s", gname[i], json_object_to_json_string(line[i]));
		ck_assert_msg(i == NOPATCH || list_has(line[i], "applied", "cmdline-marker"),
			      "guest %s: %.1000s", gname[i], json_object_to_json_string(line[i]));
		json_object_put(line[i]);
	}
	sum = run_json("run1", "fleet-summary.json");
	ck_assert_msg(json_object_get_boolean(json_object_object_get(sum, "ok")), "summary: %.2000s",
		      json_object_to_json_string(sum));
	ck_assert_int_eq(json_object_get_int(json_object_object_get(sum, "guests")), NG);
	ck_assert_str_eq(jstr(summary_host(sum, "host-a"), "outcome"), "done");
	ck_assert_str_eq(jstr(summary_host(sum, "host-b"), "outcome"), "done");
	out = run_file("run1", "fleet-report.txt");
	ck_assert_msg(strstr(out, "verdict: ok"), "%.2000s", out);
	free(out);

	/* ... which is what each guest shows. */
	for (int i = 0; i < NG; i++) {
		ck_assert_msg(pu_guest_has(g[i], "cat /proc/cmdline", "guestpatch: cmdline-marker applied") ==
				      (i != NOPATCH),
			      "guest %s: /proc/cmdline disagrees with the report", gname[i]);
		ck_assert_int_eq(pu_vmm(g[i], "list", NULL, &out, NULL), 0);
		ck_assert_msg((strstr(out, "cmdline-marker: applied") != NULL) == (i != NOPATCH),
			      "guest %s: vmm list: %.2000s", gname[i], out);
		free(out);
	}
	fprintf(stderr, "ansible: 2 hosts, one batch each, %d guests applied, 1 with no patch for its kernel (their /proc/cmdline and vmm list agree)\n",
		NG - 1);
	json_object_put(sum);
	json_object_put(st[0]);
	json_object_put(st[1]);
	free(log);
	free(bid);
}
END_TEST

START_TEST(ansible_halt)
{
	const char *files[] = { "version_tag.o", "no_such_function.o" };
	char *bid = build_id(g[0]), *log, *out, list[2 * PATH_MAX + 16], path[PATH_MAX];
	json_object *line[NG], *sum, *st;
	struct stat sbuf;
	int rc, failed = 0;

	for (int i = 0; i < NG; i++)
		ck_assert_msg(!pu_guest_has(g[i], "cat /proc/version", "guestpatch version-tag"),
			      "guest %s has version-tag before the run", gname[i]);
	(void)pu_build(g[0], dir, "version_tag", NULL, NULL);
	(void)pu_build(g[0], dir, "no_such_function", bad_src, NULL);
	ansible_files();
	/* rollback none: the guest keeps its failure and its error */
	fleet_inventory("fleet2.json", bid, files, 2, POLICY ", \"rollback\": \"none\"");
	snprintf(list, sizeof(list), "\"%s/version_tag.o\", \"%s/no_such_function.o\"", dir, dir);
	rc = playbook_run("run2", "fleet2.json", list, "ansible2.log", NULL);
	snprintf(path, sizeof(path), "%s/ansible2.log", dir);
	log = rig_slurp(path);
	ck_assert_log(rc != 0, log, "ansible2.log");
	ck_assert_log(strstr(log, "fatal: [host-a]") && strstr(log, "vmm fleet halted the run"), log,
		      "ansible2.log");
	/* host-b: no task ran (it is named only in the merge's table) */
	ck_assert_log(!strstr(log, ": [host-b]"), log, "ansible2.log");
	ck_assert_log(!strstr(log, "PLAY [guestpatch fleet - the merged report]"), log,
		      "ansible2.log");

	/* host-a halted (vmm exit 2), host-b never started. */
	st = run_json("run2", "hosts/host-a/status.json");
	ck_assert_str_eq(jstr(st, "outcome"), "halted");
	ck_assert_int_eq(json_object_get_int(json_object_object_get(st, "rc")), 2);
	json_object_put(st);
	snprintf(path, sizeof(path), "%s/reports/run2/hosts/host-b", dir);
	ck_assert_msg(stat(path, &sbuf) != 0, "%s exists", path);
	snprintf(path, sizeof(path), "%s/remote/run2/host-b", dir);
	ck_assert_msg(stat(path, &sbuf) != 0, "%s exists: host-b was touched", path);

	merged_lines("run2", line);
	out = run_file("run2", "fleet-report.jsonl");
	fprintf(stderr, "ansible: run2's merged report:\n%s", out);
	free(out);
	for (int i = 0; i < NG; i++) {
		if (!strcmp(ghost[i], "host-b")) {
			ck_assert_msg(!line[i], "host-b's guest %s in the report", gname[i]);
			continue;
		}
		/* failed, for the patch that cannot apply (the function it
		 * replaces is not in the guest's kernel) */
		if (line[i] && !strcmp(jstr(line[i], "result") ?: "", "failed")) {
			ck_assert_msg(strstr(jstr(line[i], "error") ?: "", "gp_test_no_such_function"),
				      "guest %s failed for another reason: %.1000s", gname[i],
				      json_object_to_json_string(line[i]));
			failed++;
		}
		if (line[i])
			json_object_put(line[i]);
	}
	ck_assert_msg(failed >= 1, "no guest of host-a failed");
	sum = run_json("run2", "fleet-summary.json");
	ck_assert(!json_object_get_boolean(json_object_object_get(sum, "ok")));
	ck_assert(list_has(sum, "halted", "host-a"));
	ck_assert(list_has(sum, "not_run", "host-b"));
	ck_assert_str_eq(jstr(summary_host(sum, "host-b"), "outcome"), "not-run");
	json_object_put(sum);
	out = run_file("run2", "fleet-report.txt");
	ck_assert_msg(strstr(out, "hosts halted: host-a") && strstr(out, "hosts did not run: host-b"),
		      "%.2000s", out);
	free(out);

	/* host-b's guests as they were: no version tag, no new patch. */
	for (int i = 0; i < NG; i++) {
		if (strcmp(ghost[i], "host-b"))
			continue;
		ck_assert_msg(!pu_guest_has(g[i], "cat /proc/version", "guestpatch version-tag"),
			      "host-b's guest %s was patched", gname[i]);
		ck_assert_int_eq(pu_vmm(g[i], "list", NULL, &out, NULL), 0);
		ck_assert_msg(!strstr(out, "version-tag") && !strstr(out, "no-such-function"),
			      "host-b's guest %s: vmm list: %.2000s", gname[i], out);
		free(out);
	}
	fprintf(stderr, "ansible: host-a halted (%d guest failed), the play stopped, host-b's guests untouched\n",
		failed);
	free(log);
	free(bid);
}
END_TEST

/*
 * Resume: a1's lock is held by "another vmm", so host-a's run halts at
 * its first batch (max_fail 0) and the play stops before host-b.  The lock
 * let go, the same playbook with guestpatch_fleet_resume resumes host-a
 * (`vmm fleet resume`: the guests not yet done) and starts host-b's run
 * (`vmm fleet run`: it has no run yet); each guest's /proc/version agrees
 * with the merged report.
 */
START_TEST(ansible_resume)
{
	const char *files[] = { "version_tag.o" };
	char *bid = build_id(g[0]), *log, *out, list[PATH_MAX + 8], path[PATH_MAX];
	json_object *line[NG], *sum, *st;
	int rc, fd;
	bool tagged[NG];

	for (int i = 0; i < NG; i++)
		tagged[i] = pu_guest_has(g[i], "cat /proc/version", "guestpatch version-tag");
	ck_assert_msg(!tagged[1] && !tagged[2] && !tagged[3] && !tagged[4],
		      "a guest other than a1 has version-tag before the run");
	(void)pu_build(g[0], dir, "version_tag", NULL, NULL);
	ansible_files();
	fleet_inventory("fleet3.json", bid, files, 1, POLICY ", \"rollback\": \"none\"");
	snprintf(list, sizeof(list), "\"%s/version_tag.o\"", dir);

	fd = hold_guest_lock(g[0]);
	rc = playbook_run("run3", "fleet3.json", list, "ansible3.log", NULL);
	close(fd);
	snprintf(path, sizeof(path), "%s/ansible3.log", dir);
	log = rig_slurp(path);
	ck_assert_log(rc != 0 && strstr(log, "vmm fleet halted the run") && !strstr(log, ": [host-b]"),
		      log, "ansible3.log");
	free(log);
	for (int i = 1; i < NG; i++)
		ck_assert_msg(!pu_guest_has(g[i], "cat /proc/version", "guestpatch version-tag"),
			      "guest %s patched before the resume", gname[i]);

	rc = playbook_run("run3", "fleet3.json", list, "ansible3r.log", "-e guestpatch_fleet_resume=true");
	snprintf(path, sizeof(path), "%s/ansible3r.log", dir);
	log = rig_slurp(path);
	ck_assert_log(strstr(log, "TASK [guestpatch_fleet : vmm fleet resume]") &&
			      strstr(log, "TASK [guestpatch_fleet : vmm fleet run]"),
		      log, "ansible3r.log");
	st = run_json("run3", "hosts/host-a/status.json");
	ck_assert_str_eq(jstr(st, "action"), "resume");
	ck_assert_msg(!strcmp(jstr(st, "outcome"), "done") || !strcmp(jstr(st, "outcome"), "failed-guests"),
		      "host-a after the resume: %.1000s", json_object_to_json_string(st));
	json_object_put(st);
	st = run_json("run3", "hosts/host-b/status.json");
	ck_assert_str_eq(jstr(st, "action"), "run");
	ck_assert_str_eq(jstr(st, "outcome"), "done");
	json_object_put(st);

	merged_lines("run3", line);
	out = run_file("run3", "fleet-report.txt");
	fprintf(stderr, "ansible: run3 after the resume:\n%s", out);
	free(out);
	for (int i = 0; i < NG; i++) {
		const char *res;
		bool has;

		ck_assert_msg(line[i], "guest %s missing from the merged report", gname[i]);
		res = jstr(line[i], "result") ?: "";
		has = pu_guest_has(g[i], "cat /proc/version", "guestpatch version-tag");
		if (i == NOPATCH)
			ck_assert_str_eq(res, "no-patch-for-kernel");
		else if (i > 0)
			ck_assert_msg(!strcmp(res, "applied"), "guest %s: %.1000s", gname[i],
				      json_object_to_json_string(line[i]));
		/* applied: the guest shows the tag; a1 keeps what it had */
		ck_assert_msg(has == (!strcmp(res, "applied") || (i == 0 && tagged[0])),
			      "guest %s: /proc/version %s the tag, report: %.1000s", gname[i],
			      has ? "has" : "lacks", json_object_to_json_string(line[i]));
		json_object_put(line[i]);
	}
	sum = run_json("run3", "fleet-summary.json");
	ck_assert(json_object_get_boolean(json_object_object_get(sum, "ok")));
	json_object_put(sum);
	fprintf(stderr, "ansible: host-a halted on a held guest lock, resumed through the role; host-b then ran\n");
	free(log);
	free(bid);
}
END_TEST

static TCase *ansible_tcase(void)
{
	TCase *tc = tcase_create("ansible");

	tcase_set_timeout(tc, 1800);
	tcase_add_unchecked_fixture(tc, up, down);
	tcase_add_test(tc, ansible_fleet);
	tcase_add_test(tc, ansible_halt);
	tcase_add_test(tc, ansible_resume);
	return tc;
}
GP_TCASE(ansible_tcase)
