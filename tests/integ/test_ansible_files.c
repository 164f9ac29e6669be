// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_ansible_files.c - the shipped Ansible files without guests (tcase
 * ansible_files): the report merge (fleet_merge.py) on hostile reports,
 * the playbook's syntax check and the example inventory.  The playbook
 * itself, on real guests, is test_ansible.c.
 */
#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gp_check.h"
#include "rig/rig.h"

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_msg(f, "cannot write %s", path);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
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

/*
 * fleet_merge.py on hostile reports (no guests needed): what breaks a rule
 * is left out and named, the rest merged; control characters never reach
 * the table; a host name that cannot name a directory is refused.
 */
static const char merge_py[] = "configs/ansible/roles/guestpatch_fleet/files/fleet_merge.py";

static void put_in(const char *top, const char *rel, const char *text)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", top, rel);
	put(path, text);
}

START_TEST(ansible_merge)
{
	char top[] = "/tmp/gp-ansible-merge-XXXXXX", cmd[PATH_MAX * 2], path[PATH_MAX];
	char *text, *big;
	json_object *sum, *probs;
	size_t nlines = 0;
	int rc;

	ck_assert(mkdtemp(top));
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/hosts/host-a %s/hosts/host-b", top, top);
	ck_assert_int_eq(system(cmd), 0);
	put_in(top, "hosts/host-a/status.json", "{\"host\": \"host-a\", \"outcome\": \"halted\", \"rc\": 2}");
	big = malloc((2u << 20) + 1);
	ck_assert(big);
	memset(big, 'x', 2u << 20);
	big[2u << 20] = 0;
	{
		char *rep;
		size_t len;
		FILE *f = open_memstream(&rep, &len);

		fprintf(f, "{\"host\":\"host-a\",\"guest\":\"a1\",\"result\":\"applied\",\"applied\":[\"p\"]}\n");
		fprintf(f, "{\"host\":\"host-a\",\"guest\":\"a2\",\"result\":\"failed\",\"error\":\"bad \\u001b[31mred\"}\n");
		fprintf(f, "not json\n");
		fprintf(f, "[1, 2]\n");
		fprintf(f, "{\"host\":\"host-b\",\"guest\":\"b9\",\"result\":\"applied\"}\n");
		fprintf(f, "{\"host\":\"host-a\",\"guest\":\"a1\",\"result\":\"applied\"}\n");
		fprintf(f, "{\"host\":\"host-a\",\"guest\":\"a3\",\"result\":\"exploded\"}\n");
		fprintf(f, "{\"host\":\"host-a\",\"result\":\"applied\"}\n");
		fprintf(f, "{\"host\":\"host-a\",\"guest\":\"a4\",\"result\":\"applied\",\"pad\":\"%s\"}\n", big);
		fclose(f);
		put_in(top, "hosts/host-a/report.jsonl", rep);
		free(rep);
	}
	free(big);
	put_in(top, "hosts/host-b/status.json", "{\"host\": \"host-b\", \"outcome\": \"done\", \"rc\": 0}");

	snprintf(cmd, sizeof(cmd), "python3 %s %s host-a host-b host-c >/dev/null", merge_py, top);
	ck_assert_int_eq(system(cmd), 0);

	snprintf(path, sizeof(path), "%s/fleet-report.jsonl", top);
	text = rig_slurp(path);
	for (char *p = text; (p = strchr(p, '\n')); p++)
		nlines++;
	ck_assert_msg(nlines == 2 && strstr(text, "\"a1\"") && strstr(text, "\"a2\""), "%.2000s", text);
	free(text);

	snprintf(path, sizeof(path), "%s/fleet-summary.json", top);
	text = rig_slurp(path);
	sum = json_tokener_parse(text);
	ck_assert_msg(sum, "%.2000s", text);
	ck_assert(!json_object_get_boolean(json_object_object_get(sum, "ok")));
	ck_assert(list_has(sum, "halted", "host-a"));
	ck_assert(list_has(sum, "done", "host-b"));
	ck_assert(list_has(sum, "not_run", "host-c"));
	ck_assert(json_object_object_get_ex(sum, "problems", &probs));
	/* not JSON, not an object, another host's guest, a1 twice, an unknown
	 * result, no guest name, a line over 1 MiB; host-b done without a report */
	ck_assert_msg(json_object_array_length(probs) == 8, "%.2000s", text);
	static const char *const needles[] = { "not JSON", "not an object", "for host host-b",
					       "a1 reported twice", "exploded", "no guest name",
					       "longer than", "left no report.jsonl" };
	for (size_t i = 0; i < sizeof(needles) / sizeof(needles[0]); i++)
		ck_assert_msg(strstr(text, needles[i]), "no problem '%s' in %.2000s", needles[i], text);
	json_object_put(sum);
	free(text);

	snprintf(path, sizeof(path), "%s/fleet-report.txt", top);
	text = rig_slurp(path);
	ck_assert_msg(!strchr(text, '\033') && strstr(text, "\\x1b[31mred"), "%.2000s", text);
	ck_assert(strstr(text, "verdict: NOT OK"));
	free(text);

	/* A host name that cannot name a directory: refused, nothing written. */
	snprintf(cmd, sizeof(cmd), "rm %s/fleet-*; python3 %s %s ../x 2>/dev/null", top, merge_py, top);
	rc = system(cmd);
	ck_assert(WIFEXITED(rc) && WEXITSTATUS(rc) == 1);
	snprintf(path, sizeof(path), "%s/fleet-summary.json", top);
	ck_assert(access(path, F_OK) != 0);

	snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* The shipped files: the playbook passes Ansible's syntax check and the
 * example inventory has its two hosts in the group the playbook runs on. */
START_TEST(ansible_examples)
{
	char top[] = "/tmp/gp-ansible-ex-XXXXXX", cmd[PATH_MAX * 2], path[PATH_MAX], *out;
	json_object *o, *grp, *hosts;

	ck_assert(mkdtemp(top));
	snprintf(cmd, sizeof(cmd),
		 "env HOME=%s ANSIBLE_HOME=%s/a ANSIBLE_LOCAL_TEMP=%s/t ansible-playbook --syntax-check "
		 "-i configs/ansible/inventory.example.ini configs/ansible/fleet.yml > %s/syntax 2>&1",
		 top, top, top, top);
	ck_assert_msg(system(cmd) == 0, "%s", cmd);
	snprintf(cmd, sizeof(cmd),
		 "env HOME=%s ANSIBLE_HOME=%s/a ANSIBLE_LOCAL_TEMP=%s/t ansible-inventory --list "
		 "-i configs/ansible/inventory.example.ini > %s/inv 2>&1",
		 top, top, top, top);
	ck_assert_msg(system(cmd) == 0, "%s", cmd);
	snprintf(path, sizeof(path), "%s/inv", top);
	out = rig_slurp(path);
	o = json_tokener_parse(out);
	ck_assert_msg(o && json_object_object_get_ex(o, "guestpatch_hosts", &grp) &&
			      json_object_object_get_ex(grp, "hosts", &hosts) &&
			      json_object_array_length(hosts) == 2,
		      "%.2000s", out);
	json_object_put(o);
	free(out);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

static TCase *ansible_files_tcase(void)
{
	TCase *tc = tcase_create("ansible_files");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, ansible_merge);
	tcase_add_test(tc, ansible_examples);
	return tc;
}
GP_TCASE(ansible_files_tcase)
