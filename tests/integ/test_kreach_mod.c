// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Modules on Linux 6.12 (issue 12): Debian's 6.12-amd64 kernel booted with
 * the initramfs that holds the test modules built against its headers
 * (make guest: build/guest/initramfs-6.12-amd64.cpio.gz). struct module
 * keeps text in mem[MOD_TEXT] there, and each module carries its own ORC
 * header; checked against what the guest itself says:
 *
 *   - every module in /proc/modules is seen, at the address the guest
 *     prints (mem[MOD_TEXT].base), its ORC read in the format its header
 *     names; gp_test_sleeper's functions at the addresses of
 *     /proc/kallsyms;
 *   - the kthread sleeping in module code unwinds reliably through the
 *     module's ORC, frame for frame as /proc/PID/stack, and `vmm stack`
 *     names the module frame;
 *   - a module function patched with the per-task model and unpatched
 *     (the kthread asleep in it is woken by the straggler step).
 *
 * gp_sleep_helper is a static function whose address is never taken, so
 * the compiler gives it no endbr64 and its NOP is at +0, as in 6.1 (the
 * test checks that first); the straggler step hooks hrtimer_interrupt,
 * whose NOP is at +4 after its endbr64 (lp_entry_site).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gp_check.h"
#include "kernel.h"
#include "modules.h"
#include "oracle.h"
#include "patch_util.h"
#include "rig/rig.h"
#include "stack.h"
#include "stacks.h"
#include "target.h"

#define FLAVOR "6.12-amd64"

static struct rig *r;
static char dir[64];

static void up(void)
{
	char initrd[300], *msg = NULL;

	snprintf(dir, sizeof(dir), "/tmp/gp-mod612-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	snprintf(initrd, sizeof(initrd), "%s/guest/initramfs-" FLAVOR ".cpio.gz", rig_build_dir());
	r = rig_boot(&(struct rig_opts){ .flavor = FLAVOR, .cpus = 2, .initrd = initrd }, &msg);
	if (!r) {
		fprintf(stderr, "rig: %s\n", msg);
		abort();
	}
}

static void down(void)
{
	pu_down(r, dir);
}

/* The module's kthread, asleep: its pid. */
static int sleeper_up(void)
{
	char *out;
	int pid;

	if (!pu_guest_has(r, "cat /proc/modules", "gp_test_sleeper "))
		free(pu_guest(r, "insmod /bin/gp_test_sleeper.ko; sleep 0.5"));
	out = pu_guest(r, "for p in /proc/[0-9]*; do [ \"$(cat $p/comm)\" = gp_sleeper ] && "
			  "echo ${p#/proc/}; done; true");
	pid = atoi(out);
	free(out);
	ck_assert_msg(pid > 0, "no gp_sleeper kthread");
	return pid;
}

/* The guest's address for a symbol of module mod in /proc/kallsyms. */
static uint64_t guest_sym(const char *name, const char *mod)
{
	char cmd[300], *out;
	uint64_t a;

	snprintf(cmd, sizeof(cmd), "awk '$3 == \"%s\" && $4 == \"[%s]\" { print $1 }' /proc/kallsyms",
		 name, mod);
	out = pu_guest(r, cmd);
	a = strtoull(out, NULL, 16);
	free(out);
	ck_assert_msg(a, "%s [%s] not in the guest's kallsyms", name, mod);
	return a;
}

/* Our stack of task pid, as /proc/PID/stack prints it ("f+0xo/0xs [m];"). */
static void our_stack(struct stack_ctx *ctx, const struct stacks_snapshot *snap, int pid,
		      char *buf, size_t len, bool *reliable, char *why, size_t wlen)
{
	buf[0] = '\0';
	*reliable = false;
	for (size_t i = 0; i < snap->tasks.nr; i++) {
		const struct stack_trace *tr = &snap->traces[i];

		if (snap->tasks.v[i].pid != pid)
			continue;
		*reliable = tr->reliable;
		snprintf(why, wlen, "%s", tr->why);
		oracle_trace_text(ctx, tr, buf, len);
	}
}

static void guest_stack(int pid, char *buf, size_t len)
{
	char cmd[100], *out, *line, *save = NULL;

	snprintf(cmd, sizeof(cmd), "cat /proc/%d/stack", pid);
	out = pu_guest(r, cmd);
	buf[0] = '\0';
	for (line = strtok_r(out, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save))
		if (!strncmp(line, "[<0>] ", 6)) {
			strncat(buf, line + 6, len - strlen(buf) - 2);
			strcat(buf, ";");
		}
	free(out);
}

START_TEST(mod612_modules_and_stacks)
{
	struct tgt *t = NULL;
	struct kern *k = NULL;
	struct stack_ctx *ctx = NULL;
	const struct kmod *m;
	char *out, *line, *save = NULL;
	int pid, nguest = 0, tries;
	uint64_t addr, size;
	bool same = false;

	ck_assert_str_eq(rig_kernel_release(r), "6.12.117+deb12-amd64");
	pid = sleeper_up();
	ck_ok(tgt_open(rig_target(r), &t));
	ck_ok(kern_attach(t, NULL, &k));
	ck_ok(stack_ctx_init(k, &ctx));
	ck_assert_msg(!ctx->mods_why[0], "modules: %s", ctx->mods_why);
	ck_assert_msg(ctx->orc->fmt && !strcmp(ctx->orc->fmt->name, "linux-6.4"), "kernel ORC %s",
		      ctx->orc->fmt ? ctx->orc->fmt->name : "?");

	/* Every module the guest lists, at the address it prints. */
	out = pu_guest(r, "cat /proc/modules");
	for (line = strtok_r(out, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
		char name[64];
		unsigned long long base;

		if (sscanf(line, "%63s %*s %*s %*s %*s %llx", name, &base) != 2)
			continue;
		nguest++;
		m = kmod_by_name(&ctx->mods, name);
		ck_assert_msg(m, "module %s (guest: %s) not seen", name, line);
		ck_assert_msg(m->text_start == base, "module %s: text at 0x%llx, guest says 0x%llx", name,
			      (unsigned long long)m->text_start, base);
		ck_assert_msg(m->orc && m->orc_fmt && !strcmp(m->orc_fmt->name, "linux-6.4"),
			      "module %s: no ORC (%s)", name, m->orc_why);
	}
	free(out);
	ck_assert_int_eq((int)ctx->mods.n, nguest);
	ck_assert_int_eq(ctx->mods.skipped, 0);
	fprintf(stderr, "mod612: %d modules seen, as /proc/modules lists them\n", nguest);

	/* Its functions, where /proc/kallsyms puts them. */
	{
		static const char *const fns[] = { "gp_sleep_helper", "gp_sleeper_fn" };

		for (size_t i = 0; i < ARRAY_SIZE(fns); i++) {
			ck_ok(kmod_lookup(&ctx->mods, "gp_test_sleeper", fns[i], &m, &addr, &size));
			ck_assert_msg(addr == guest_sym(fns[i], "gp_test_sleeper"), "%s at 0x%llx", fns[i],
				      (unsigned long long)addr);
		}
	}

	/* The kthread asleep in module code: reliable, frame for frame as
	 * the guest's own unwinder says (compared when two reads of
	 * /proc/PID/stack around our snapshot agree). */
	for (tries = 0; tries < 5 && !same; tries++) {
		static char g1[2048], g2[2048], ours[2048], why[200];
		struct stacks_snapshot snap;
		bool rel;

		guest_stack(pid, g1, sizeof(g1));
		ck_ok(tgt_pause(t));
		ck_ok(stacks_take(ctx, &snap));
		ck_ok(tgt_resume(t));
		guest_stack(pid, g2, sizeof(g2));
		our_stack(ctx, &snap, pid, ours, sizeof(ours), &rel, why, sizeof(why));
		stacks_free(&snap);
		if (strcmp(g1, g2))
			continue;
		same = true;
		ck_assert_msg(!strcmp(ours, g1), "gp_sleeper:\n guest: %s\n ours:  %s", g1, ours);
		ck_assert_msg(rel, "gp_sleeper unreliable: %s", why);
		ck_assert_msg(strstr(ours, "gp_sleep_helper+") && strstr(ours, " [gp_test_sleeper]"),
			      "%s", ours);
		fprintf(stderr, "mod612: gp_sleeper's stack as the guest's: %s\n", ours);
	}
	ck_assert_msg(same, "gp_sleeper's /proc/PID/stack never held still");
	stack_ctx_free(ctx);
	kern_detach(k);
	tgt_close(t);

	/* And the command line says so. */
	{
		char pids[16];

		snprintf(pids, sizeof(pids), "%d", pid);
		ck_assert_int_eq(pu_vmm(r, "stack", pids, &out, NULL), 0);
		ck_assert_msg(strstr(out, "gp_sleep_helper+") && strstr(out, "[gp_test_sleeper]") &&
				      strstr(out, "  reliable"),
			      "%s", out);
		free(out);
	}
}
END_TEST

/* The first bytes of a module function, read from outside. */
static void entry_bytes(uint64_t addr, uint8_t out[9])
{
	struct tgt *t = NULL;
	struct kern *k = NULL;

	ck_ok(tgt_open(rig_target(r), &t));
	ck_ok(kern_attach(t, NULL, &k));
	ck_ok(tgt_pause(t));
	ck_ok(kern_read(k, addr, out, 9));
	ck_ok(tgt_resume(t));
	kern_detach(k);
	tgt_close(t);
}

static const uint8_t nop5[5] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 };

static const char ktsleep_src[] =
	"#include <guestpatch.h>\nGP_PATCH(\"ktsleep612\");\n"
	"extern long schedule_timeout_interruptible(long t);\n"
	"static void h(void) { schedule_timeout_interruptible(0x7fffffffffffffffL); }\n"
	"GP_REPLACE(gp_test_sleeper:gp_sleep_helper, h);\n";

/* gp_sleep_helper's address, checked to start with the ftrace NOP. */
static uint64_t helper_with_nop(void)
{
	uint64_t fn = guest_sym("gp_sleep_helper", "gp_test_sleeper");
	uint8_t entry[9];

	entry_bytes(fn, entry);
	ck_assert_msg(!memcmp(entry, nop5, 5),
		      "gp_sleep_helper does not start with the ftrace NOP (%02x %02x %02x %02x %02x): "
		      "with endbr64 first the NOP is at +4, which needs the patch engine's 6.12 site offsets",
		      entry[0], entry[1], entry[2], entry[3], entry[4]);
	return fn;
}

/* `vmm patch --model per-task`, held back by the kthread asleep in the
 * function: exit 3, the blocker named, our jump already at the site. */
static void patch_blocked(const char *obj, uint64_t fn)
{
	char rest[300], *out = NULL, *err = NULL;
	uint8_t entry[9];
	int rc;

	snprintf(rest, sizeof(rest), "--model per-task --timeout 1 %s", obj);
	rc = pu_vmm(r, "patch", rest, &out, &err);
	ck_assert_msg(rc == 3, "patch exit %d: %s%s", rc, out, err);
	ck_assert_msg(strstr(err, "(gp_sleeper)") &&
			      strstr(err, "gp_test_sleeper:gp_sleep_helper is on its stack"),
		      "%s", err);
	free(out);
	free(err);
	entry_bytes(fn, entry);
	ck_assert_int_eq(entry[0], 0xe9);
}

static void clean_end(uint64_t fn)
{
	uint8_t entry[9];
	char *out;

	entry_bytes(fn, entry);
	ck_assert_msg(!memcmp(entry, nop5, 5), "the module's NOP is not back");
	ck_assert_int_eq(pu_vmm(r, "list", "", &out, NULL), 0);
	ck_assert_msg(strstr(out, "no patches applied"), "%s", out);
	free(out);
	out = pu_guest(r, "dmesg | grep -E 'WARNING|Oops|BUG:' || true");
	ck_assert_msg(!strstr(out, "WARNING") && !strstr(out, "Oops") && !strstr(out, "BUG:"), "%s", out);
	free(out);
}

/* A module function patched with the per-task model, without the
 * straggler step: the transition held by the kthread asleep in it is
 * reversed (the site back to the NOP); then patched again, forced, and
 * unpatched (nobody runs the replacement: no task is in it). */
START_TEST(mod612_patch_module_function)
{
	char obj[200], *out = NULL, *err = NULL;
	uint8_t entry[9];
	uint64_t fn;
	int rc;

	snprintf(obj, sizeof(obj), "%s", pu_build(r, dir, "ktsleep612", ktsleep_src, NULL));
	sleeper_up();
	fn = helper_with_nop();
	patch_blocked(obj, fn);
	ck_assert_int_eq(pu_vmm(r, "list", "", &out, NULL), 0);
	ck_assert_msg(strstr(out, "ktsleep612") && strstr(out, "gp_sleeper"), "%s", out);
	free(out);
	rc = pu_vmm(r, "transition", "--reverse --timeout 10", &out, &err);
	ck_assert_msg(rc == 0, "transition --reverse: exit %d: %s%s", rc, out, err);
	free(out);
	free(err);
	clean_end(fn);

	patch_blocked(obj, fn);
	rc = pu_vmm(r, "transition", "--force", &out, &err);
	ck_assert_msg(rc == 0, "transition --force: exit %d: %s%s", rc, out, err);
	free(out);
	free(err);
	ck_assert_int_eq(pu_vmm(r, "list", "", &out, NULL), 0);
	ck_assert_msg(strstr(out, "ktsleep612: applied") && strstr(out, "forced") &&
			      !strstr(out, "transition:"),
		      "%s", out);
	free(out);
	entry_bytes(fn, entry);
	ck_assert_int_eq(entry[0], 0xe9);
	rc = pu_vmm(r, "unpatch", "--force --timeout 10 ktsleep612", &out, &err);
	ck_assert_msg(rc == 0, "unpatch --force: exit %d: %s%s", rc, out, err);
	free(out);
	free(err);
	clean_end(fn);
	fprintf(stderr, "mod612: gp_sleep_helper patched per task, reversed; patched, forced, unpatched\n");
}
END_TEST

/*
 * The straggler step on 6.12: it hooks hrtimer_interrupt at its ftrace NOP,
 * +4 after its endbr64. The flow is the 6.1 test's
 * (test_klp.c, kthread_woken_transition_completes): the kthread asleep in
 * the patched module function is woken, leaves it, and the transition
 * completes; unpatched the same way.
 */
START_TEST(mod612_patch_straggler)
{
	char obj[200], *out = NULL, *err = NULL;
	uint8_t entry[9];
	uint64_t fn;
	int rc;

	snprintf(obj, sizeof(obj), "%s", pu_build(r, dir, "ktsleep612", ktsleep_src, NULL));
	sleeper_up();
	fn = helper_with_nop();
	patch_blocked(obj, fn);
	rc = pu_vmm(r, "transition", "--signal --timeout 10", &out, &err);
	if (rc)
		pu_vmm(r, "transition", "--reverse --timeout 10", NULL, NULL);	/* leave it clean */
	ck_assert_msg(rc == 0, "transition --signal: %s", err);
	fprintf(stderr, "mod612: straggler: %s", out);
	free(out);
	free(err);
	ck_assert_int_eq(pu_vmm(r, "list", "", &out, NULL), 0);
	ck_assert_msg(strstr(out, "ktsleep612: applied") && !strstr(out, "transition:"), "%s", out);
	free(out);
	entry_bytes(fn, entry);
	ck_assert_int_eq(entry[0], 0xe9);
	rc = pu_vmm(r, "unpatch", "--timeout 1 ktsleep612", NULL, NULL);
	if (rc == 3)
		rc = pu_vmm(r, "transition", "--signal --timeout 10", NULL, NULL);
	ck_assert_int_eq(rc, 0);
	clean_end(fn);
	free(pu_guest(r, "rmmod gp_test_sleeper"));
}
END_TEST

static TCase *mod612_tcase(void)
{
	TCase *tc = tcase_create("mod612");

	tcase_set_timeout(tc, 600);
	tcase_add_unchecked_fixture(tc, up, down);
	tcase_add_test(tc, mod612_modules_and_stacks);
	tcase_add_test(tc, mod612_patch_module_function);
	tcase_add_test(tc, mod612_patch_straggler);
	return tc;
}
GP_TCASE(mod612_tcase)
