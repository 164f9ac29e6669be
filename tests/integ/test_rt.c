// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A PREEMPT_RT guest (Debian's rt-amd64, 6.1 in tcase rt and 6.12 in
 * tcase rt612): the rig boots it (with
 * noirqdebug, tests/rig/rig.c), the introspection commands read it, the
 * engine sees its rt rwlock_t (tasklist_lock) and picks the RCU put for
 * the straggler agent, and the straggler scenario of test_transition.c
 * (a reader asleep in the patched devkmsg_read, `vmm transition
 * --signal`) completes with no warning in the guest's log and its taint
 * unchanged.  (6.12 is an IBT kernel: its ftrace sites, the agent's hook
 * included, are at +4.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gp_check.h"
#include "kernel.h"
#include "lp_agent.h"
#include "lp_engine.h"
#include "lp_klp.h"
#include "patch_util.h"
#include "rig/rig.h"
#include "target.h"
#include "tasks.h"

static struct rig *r;
static char dir[64];

static void up_flavor(const char *flavor)
{
	char *msg = NULL;

	snprintf(dir, sizeof(dir), "/tmp/gp-rt-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	r = rig_boot(&(struct rig_opts){ .flavor = flavor, .cpus = 2 }, &msg);
	if (!r) {
		fprintf(stderr, "rig (%s): %s\n", flavor, msg);
		abort();
	}
}

static void up(void)
{
	up_flavor("rt-amd64");
}

static void up612(void)
{
	up_flavor("6.12-rt-amd64");
}

static void down(void)
{
	pu_down(r, dir);
}


/* What the kernel's log must never say after our work. */
static void no_warnings(void)
{
	static const char *const bad[] = { "WARNING", "BUG", "Oops", "sleeping function called",
					   "scheduling while atomic", "nobody cared" };
	char *out = pu_guest(r, "dmesg");

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *at = strstr(out, bad[i]);

		if (!at)
			continue;
		/* From a little before the first such line, at most 3000
		 * characters: Check cannot carry a whole log (it exits 2,
		 * "Message string too long", and the reason is lost). */
		at = at - out > 600 ? at - 600 : out;
		ck_abort_msg("the guest's log says '%s' (%zu bytes of log; from shortly before):\n%.3000s",
			     bad[i], strlen(out), at);
	}
	free(out);
}

static long tainted(void)
{
	char *out = pu_guest(r, "cat /proc/sys/kernel/tainted");
	long t = strtol(out, NULL, 10);

	free(out);
	return t;
}

/* 1. Boots to the shell (noirqdebug), and info, ps and stack read it. */
START_TEST(rt_boots_and_reads)
{
	char *out = NULL, *err = NULL;

	ck_assert_msg(strstr(rig_kernel_release(r), "-rt-amd64"), "release %s",
		      rig_kernel_release(r));
	ck_assert(pu_guest_has(r, "uname -r", "-rt-amd64"));
	ck_assert(pu_guest_has(r, "cat /proc/cmdline", "noirqdebug"));
	ck_assert_msg(pu_vmm(r, "info", "", &out, &err) == 0, "info: %s", err);
	ck_assert_msg(strstr(out, rig_kernel_release(r)) && strstr(out, "livepatch=yes"), "%s", out);
	free(out);
	free(err);
	ck_assert_msg(pu_vmm(r, "ps", "", &out, &err) == 0, "ps: %s", err);
	/* ktimers/N: the PREEMPT_RT timer softirq threads. */
	ck_assert_msg(strstr(out, " init ") && strstr(out, "ktimers/0"), "%s", out);
	free(out);
	free(err);
	ck_assert_msg(pu_vmm(r, "stack", "--all", &out, &err) == 0, "stack: %s", err);
	ck_assert_msg(strstr(out, "reliable") && !strstr(out, "unreliable"), "%s", out);
	free(out);
	free(err);
	no_warnings();
}
END_TEST

/* 2. The engine's view: the rt rwlock_t from BTF, tasklist_lock mostly
 * free, and the straggler agent linked against this kernel with the RCU
 * put (call_rcu and __put_task_struct_rcu_cb resolve). */
START_TEST(rt_engine_view)
{
	static uint8_t code[4096];
	struct tgt *t = NULL;
	struct kern *k = NULL;
	struct task_offsets to;
	struct lp_klp g;
	struct lp_agent_put put = { .rcu = true };
	uint64_t task = 0, hook, usage_off, cb;
	const bool kthread = false;
	size_t len = 0;
	int free_seen = 0;

	ck_ok(tgt_open(rig_target(r), &t));
	ck_ok(kern_attach(t, NULL, &k));
	ck_ok(task_offsets_init(k, &to));
	ck_ok(lp_klp_init(k, &to, &g));
	ck_assert_msg(g.usable, "per-task model not usable: %s", g.why);
	ck_assert_int_eq(g.tasklist_shape, LP_RWLOCK_RWBASE_RT);
	ck_assert(lp_klp_preempt_rt(&g));
	for (int i = 0; i < 20; i++) {
		bool locked = true;

		ck_ok(tgt_pause(t));
		ck_ok(lp_klp_tasklist_write_locked(k, &g, &locked));
		ck_ok(tgt_resume(t));
		free_seen += !locked;
	}
	ck_assert_msg(free_seen > 0, "tasklist_lock write-held in 20 pauses out of 20");
	ck_ok(kern_sym(k, "init_task", &task));
	ck_ok(kern_sym(k, LP_AGENT_HOOK, &hook));
	ck_ok(kern_sym(k, "__put_task_struct_rcu_cb", &cb));
	ck_ok(kern_offsetof(k, "task_struct", "usage", &usage_off));
	ck_ok(kern_offsetof(k, "task_struct", "rcu", &put.rcu_off));
	/* Placed where the region would put it: in the kernel image's reach. */
	ck_ok(lp_entry_site(k, hook, &hook));
	ck_ok(lp_agent_straggler(hook & ~0xfffull, (hook & ~0xfffull) + 4096, usage_off,
				 hook + LP_AGENT_NOP_SIZE, &put, lp_resolve_kernel, k, &task, &kthread, 1, code, sizeof(code), &len));
	ck_assert_uint_gt(len, 0);
	/* The rip-relative lea of the callback: 48 8d 35 rel32. */
	{
		bool found = false;

		for (size_t i = 0; i + 7 <= len && !found; i++) {
			int32_t rel;

			if (code[i] != 0x48 || code[i + 1] != 0x8d || code[i + 2] != 0x35)
				continue;
			memcpy(&rel, code + i + 3, 4);
			found = (hook & ~0xfffull) + i + 7 + (uint64_t)(int64_t)rel == cb;
		}
		ck_assert_msg(found, "the RT agent does not load __put_task_struct_rcu_cb");
	}
	kern_detach(k);
	tgt_close(t);
}
END_TEST

/* 3. The straggler step on PREEMPT_RT: the reader asleep in devkmsg_read
 * is signalled by the agent in hard-IRQ context, leaves, switches; the
 * transition completes; nothing in the log, taint unchanged. */
START_TEST(rt_signal_moves_blocked_reader)
{
	const char *obj = pu_build(r, dir, "kmsg_eof", pu_kmsg_eof_src, NULL);
	struct hashes before, after;
	char rest[300], *out = NULL, *err = NULL;
	long taint0 = tainted();
	int rc;

	free(pu_guest(r, "kmsgwait; sleep 0.3"));
	ck_assert(!pu_guest_has(r, "pidof kmsgwait || echo none", "none"));
	snprintf(rest, sizeof(rest), "--timeout 1 %s", obj);
	rc = pu_vmm(r, "patch", rest, &out, &err);
	ck_assert_msg(rc == 3, "patch exit %d (want 3, in progress): %s %s", rc, out, err);
	ck_assert_msg(strstr(err, "kmsgwait") && strstr(err, "devkmsg_read is on its stack"),
		      "blocker not named: %s", err);
	free(out);
	free(err);
	before = pu_hash_guest(r);
	ck_assert_msg(pu_vmm(r, "transition", "--signal --timeout 20", &out, &err) == 0,
		      "transition --signal: %s", err);
	fprintf(stderr, "rt signal: %s", out);
	free(out);
	free(err);
	ck_assert(pu_guest_has(r, "pidof kmsgwait || echo none", "none"));
	after = pu_hash_guest(r);
	ck_assert_msg(after.text == before.text, "kernel text differs after the signal step");
	ck_assert_int_eq(pu_vmm(r, "list", "", &out, NULL), 0);
	ck_assert_msg(strstr(out, "kmsg-eof: applied"), "list: %s", out);
	free(out);
	ck_assert_msg(pu_vmm(r, "unpatch", "kmsg-eof", NULL, &err) == 0, "unpatch: %s", err);
	free(err);
	/* The original devkmsg_read again: the first read returns the log. */
	out = pu_guest(r, "dd if=/dev/kmsg bs=8192 count=1 2>/dev/null | wc -c");
	ck_assert_msg(atoi(out) > 0, "a read of /dev/kmsg after unpatch: %s", out);
	free(out);
	no_warnings();
	ck_assert_int_eq(tainted(), taint0);
}
END_TEST

static TCase *rt_tcase_for(const char *name, void (*fixture)(void))
{
	TCase *tc = tcase_create(name);

	tcase_set_timeout(tc, 900);
	tcase_add_unchecked_fixture(tc, fixture, down);
	tcase_add_test(tc, rt_boots_and_reads);
	tcase_add_test(tc, rt_engine_view);
	tcase_add_test(tc, rt_signal_moves_blocked_reader);
	return tc;
}

static TCase *rt_tcase(void)
{
	return rt_tcase_for("rt", up);
}
GP_TCASE(rt_tcase)

static TCase *rt612_tcase(void)
{
	return rt_tcase_for("rt612", up612);
}
GP_TCASE(rt612_tcase)
