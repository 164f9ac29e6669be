// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The kernel matrix: every kernel Debian 12 ships (6.1 and 6.12, each as
 * amd64, cloud-amd64 and rt-amd64), one boot each, with the guest's own
 * view as the oracle:
 *
 *  - kallsyms equal to /proc/kallsyms, `vmm ps` to /proc, every still
 *    task's stack to /proc/PID/stack (oracle.c);
 *  - two patches on different functions (the shipped examples, built for
 *    that kernel with `vmm build --kernel`) applied under the per-task
 *    model, seen in the guest's /proc/cmdline and /proc/version and in
 *    `vmm list`, then unpatched: the guest's output is back, and its
 *    kernel text hashes as before the first patch;
 *  - no warning in the guest's log and no change in its taint flags
 *    (/proc/sys/kernel/tainted) from boot to the end.
 *
 * return_thunks: where a patch's returns go, on 6.12 booted on a CPU
 * model that needs a return-thunk mitigation (QEMU's EPYC: retbleed and
 * SRSO, so the kernel picks srso_return_thunk) and on one that needs none
 * (QEMU's max: the kernel's returns are plain `ret`, and its default
 * __x86_return_thunk would WARN and taint if reached).  The oracle is the
 * guest's own "active return thunk: NAME" boot line: every return of the
 * patch must jump to NAME, or, without that line, be a plain ret.
 *
 * The kernels are fetched by `make kernels` (scripts/fetch-kernel.sh) from
 * Debian's meta packages; which one each flavour is, is in its directory's
 * release file.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gp_check.h"
#include "kernel.h"
#include "lp_agent.h"
#include "oracle.h"
#include "patch_util.h"
#include "rig/rig.h"

static const char *const flavors[] = {
	"amd64", "cloud-amd64", "rt-amd64",
	"6.12-amd64", "6.12-cloud-amd64", "6.12-rt-amd64",
};

/* The guest's log lines that mean the kernel complained. */
static const char log_cmd[] =
	"dmesg | grep -e 'WARNING:' -e 'BUG:' -e 'Call Trace' -e 'Oops' -e 'livepatch' ; true";

/* Stall reports of the serial IRQ thread: on rt kernels under TCG the
 * test rig's bulk channel (ttyS1, which carries the guest's
 * /proc/kallsyms, megabytes of it) is drained by a real-time IRQ thread
 * that can hog a vCPU long enough for RCU to report a stall, with its RIP
 * in the 8250 driver (oracle.c reads kallsyms in slices to avoid it).
 * Those are the harness's, not ours: counted, shown, and allowed only for
 * that shape. */
static const char serial_stall_cmd[] = "dmesg | grep -c 'RIP: 0010:serial8250_' ; true";

static int count_lines(const char *s, const char *line)
{
	int n = 0;

	for (const char *p = s; (p = strstr(p, line)); p += strlen(line))
		n++;
	return n;
}

/* The guest's complaints are what they were at boot; if not, the test
 * fails showing the end of its log. */
static void log_unchanged(struct rig *r, char *log0, int serial0, const char *what)
{
	char *out = pu_guest(r, log_cmd), *tail, *rest, *sc = pu_guest(r, serial_stall_cmd);
	int serial = atoi(sc) - serial0, traces;

	free(sc);
	if (strcmp(out, log0)) {
		rest = out + (strncmp(out, log0, strlen(log0)) ? 0 : strlen(log0));
		traces = count_lines(rest, "] Call Trace:\n");
		/* Only "Call Trace:" lines (a stall report has the stalled
		 * CPU's and the RCU kthread's), and a stall in the serial IRQ
		 * thread among them. */
		if (!(strstr(rig_kernel_release(r), "-rt-") && traces && serial >= 1 &&
		      serial * 2 >= traces && count_lines(rest, "\n") == traces)) {
			tail = pu_guest(r, "dmesg | tail -n 60");
			ck_abort_msg("%s: the guest's log gained:\n%s\nits end:\n%s", what, rest, tail);
		}
		fprintf(stderr, "%s: %d stall report(s) of the rt serial IRQ thread (the rig's bulk channel under TCG), not ours\n",
			what, traces);
	}
	free(out);
	free(log0);
}

static long tainted(struct rig *r)
{
	char *out = pu_guest(r, "cat /proc/sys/kernel/tainted");
	long v = strtol(out, NULL, 10);

	free(out);
	return v;
}

START_TEST(kernel_matrix)
{
	const char *flavor = flavors[_i];
	/* rt kernels boot with noirqdebug (rig.c says why). */
	struct rig_opts ro = { .flavor = flavor, .cpus = 2 };
	char dir[] = "/tmp/gp-kernels-XXXXXX", marker[200], tag[200], *msg = NULL, *out, *log0;
	struct rig *r = rig_boot(&ro, &msg);
	struct hashes h0, h1;
	long taint0;
	int stacks, serial0;

	ck_assert_msg(r, "boot %s: %s", flavor, msg ? msg : "?");
	ck_assert(mkdtemp(dir));
	taint0 = tainted(r);
	log0 = pu_guest(r, log_cmd);
	serial0 = atoi(out = pu_guest(r, serial_stall_cmd));
	free(out);

	oracle_kallsyms(r);
	oracle_ps(r, 2);
	stacks = oracle_stacks(r, NULL);

	snprintf(marker, sizeof(marker), "%s", pu_build(r, dir, "cmdline_marker", NULL, NULL));
	snprintf(tag, sizeof(tag), "%s", pu_build(r, dir, "version_tag", NULL, NULL));
	h0 = pu_hash_guest(r);
	ck_assert_msg(pu_vmm(r, "patch", marker, &out, NULL) == 0 && strstr(out, "(per-task)"),
		      "%s: patch cmdline_marker: %s", flavor, out);
	free(out);
	ck_assert_msg(pu_vmm(r, "patch", tag, &out, NULL) == 0 && strstr(out, "(per-task)"),
		      "%s: patch version_tag: %s", flavor, out);
	free(out);
	ck_assert(pu_guest_has(r, "cat /proc/cmdline", "guestpatch: cmdline-marker applied"));
	ck_assert(pu_guest_has(r, "cat /proc/version", "[guestpatch version-tag] Linux version"));
	ck_assert_int_eq(pu_vmm(r, "list", NULL, &out, NULL), 0);
	ck_assert_msg(strstr(out, "cmdline-marker: applied") && strstr(out, "version-tag: applied") &&
			      strstr(out, "cmdline_proc_show") && strstr(out, "version_proc_show"),
		      "%s: vmm list: %s", flavor, out);
	free(out);
	ck_assert_int_eq(pu_vmm(r, "unpatch", "version-tag", NULL, NULL), 0);
	ck_assert_int_eq(pu_vmm(r, "unpatch", "cmdline-marker", NULL, NULL), 0);
	ck_assert(!pu_guest_has(r, "cat /proc/cmdline /proc/version", "guestpatch"));
	h1 = pu_hash_guest(r);
	ck_assert_msg(h0.text == h1.text, "%s: kernel text differs after unpatch", flavor);

	ck_assert_int_eq(tainted(r), taint0);
	log_unchanged(r, log0, serial0, flavor);
	fprintf(stderr, "kernels: %s (%s, booted in %.1f s): kallsyms, ps, %d stacks equal the guest's; 2 patches applied per task and removed; taint %ld unchanged\n",
		flavor, rig_kernel_release(r), rig_boot_seconds(r), stacks, taint0);
	rig_kill(r);
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		ck_assert_int_eq(system(cmd), 0);
	}
}
END_TEST

/* The code of the one applied patch, from `vmm list --json`. */
static void patch_code(struct rig *r, uint64_t *va, size_t *len)
{
	char *out = NULL;
	json_object *root, *arr, *p, *v;

	ck_assert_int_eq(pu_vmm(r, "list", "--json", &out, NULL), 0);
	root = json_tokener_parse(out);
	ck_assert_msg(root && json_object_object_get_ex(root, "patches", &arr) &&
			      json_object_array_length(arr) == 1,
		      "vmm list --json: %s", out);
	p = json_object_array_get_idx(arr, 0);
	ck_assert(json_object_object_get_ex(p, "code", &v));
	*va = strtoull(json_object_get_string(v), NULL, 16);
	ck_assert(json_object_object_get_ex(p, "code_pages", &v));
	*len = (size_t)json_object_get_int(v) * 4096;
	json_object_put(root);
	free(out);
}

START_TEST(return_thunks)
{
	const char *cpu = _i ? "max" : "EPYC";
	struct rig_opts ro = { .flavor = "6.12-amd64", .cpus = 2, .cpu = cpu };
	char dir[] = "/tmp/gp-thunks-XXXXXX", obj[200], thunk[64] = "", *msg = NULL, *out, *line;
	char *log0;
	int serial0;
	struct rig *r = rig_boot(&ro, &msg);
	uint8_t code[8192], ret[LP_AGENT_JMP_SIZE];
	int to_thunk = 0, to_default = 0, rets = 0;
	uint64_t va, want = 0, def;
	struct kern *k = NULL;
	struct tgt *t = NULL;
	size_t len;
	long taint0;

	ck_assert_msg(r, "boot 6.12 on %s: %s", cpu, msg ? msg : "?");
	ck_assert(mkdtemp(dir));
	taint0 = tainted(r);
	/* With EPYC the guest warns about SRSO at boot: only new lines count. */
	log0 = pu_guest(r, log_cmd);
	serial0 = atoi(out = pu_guest(r, serial_stall_cmd));
	free(out);
	out = pu_guest(r, "dmesg | grep 'active return thunk:' | tail -n 1");
	if ((line = strstr(out, "active return thunk: ")))
		sscanf(line + strlen("active return thunk: "), "%63s", thunk);
	free(out);
	ck_assert_msg(_i ? !thunk[0] : !!thunk[0], "%s: the guest's return thunk is '%s'", cpu,
		      thunk);
	/* `vmm info` says the same, and that 6.12's functions start with
	 * endbr64 (Debian builds it with IBT). */
	ck_assert_int_eq(pu_vmm(r, "info", NULL, &out, NULL), 0);
	ck_assert_msg((line = strstr(out, "patch code:")) && strstr(line, "after endbr64 (IBT)"), "%s", out);
	if (thunk[0]) {
		char want_line[128];

		snprintf(want_line, sizeof(want_line), "returns through %s;", thunk);
		ck_assert_msg(strstr(line, want_line), "%s: guest's thunk %s; vmm info: %s", cpu, thunk, out);
	} else {
		ck_assert_msg(strstr(line, "returns with a plain ret"), "%s: vmm info: %s", cpu, out);
	}
	free(out);
	snprintf(obj, sizeof(obj), "%s", pu_build(r, dir, "cmdline_marker", NULL, NULL));
	ck_assert_int_eq(pu_vmm(r, "patch", obj, NULL, NULL), 0);
	ck_assert(pu_guest_has(r, "cat /proc/cmdline", "guestpatch: cmdline-marker applied"));
	patch_code(r, &va, &len);
	ck_assert(len <= sizeof(code));
	ck_ok(tgt_open(rig_target(r), &t));
	ck_ok(kern_attach(t, NULL, &k));
	ck_ok(kern_read(k, va, code, len));
	if (thunk[0])
		ck_ok(kern_sym(k, thunk, &want));
	ck_ok(kern_sym(k, "__x86_return_thunk", &def));
	ck_ok(lp_agent_ret_site(ret));
	for (size_t i = 0; i + 5 <= len; i++) {
		int32_t rel;
		uint64_t to;

		memcpy(&rel, code + i + 1, 4);
		to = va + i + 5 + (uint64_t)(int64_t)rel;
		to_thunk += code[i] == 0xe9 && want && to == want;
		to_default += code[i] == 0xe9 && to == def;
		rets += !memcmp(code + i, ret, sizeof(ret));
	}
	fprintf(stderr, "return_thunks: 6.12 on %s (guest's thunk: %s): %d returns to it, %d plain ret, %d to __x86_return_thunk\n",
		cpu, thunk[0] ? thunk : "none", to_thunk, rets, to_default);
	ck_assert_int_eq(to_default, 0);
	if (thunk[0])
		ck_assert_msg(to_thunk >= 1 && rets == 0, "returns: %d to %s, %d plain", to_thunk,
			      thunk, rets);
	else
		ck_assert_msg(rets >= 1, "no plain return in the patch");
	kern_detach(k);
	tgt_close(t);
	/* Run the patched code, then remove it: no warning, no taint. */
	free(pu_guest(r, "for i in 1 2 3 4 5 6 7 8; do cat /proc/cmdline; done >/dev/null"));
	ck_assert_int_eq(pu_vmm(r, "unpatch", "cmdline-marker", NULL, NULL), 0);
	ck_assert_int_eq(tainted(r), taint0);
	log_unchanged(r, log0, serial0, cpu);
	rig_kill(r);
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		ck_assert_int_eq(system(cmd), 0);
	}
}
END_TEST

static TCase *kernels_tcase(void)
{
	TCase *tc = tcase_create("kernels");

	tcase_set_timeout(tc, 900);
	tcase_add_loop_test(tc, kernel_matrix, 0, (int)(sizeof(flavors) / sizeof(flavors[0])));
	tcase_add_loop_test(tc, return_thunks, 0, 2);
	return tc;
}
GP_TCASE(kernels_tcase)
