// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The per-task consistency model on a real guest, after the kernel's own
 * livepatch self-tests: an idle transition, a task blocked in the function
 * being patched (named, then completing on its own once it leaves),
 * reverse and force while blocked, stacked patches and atomic replace, and
 * patch/unpatch cycles under load with every reader seeing old then new.
 *
 * The guest's own view is the oracle: /proc/PID/patch_state (the kernel's
 * proc_pid_patch_state) shows each task's state as the guest sees it.
 * Run on 6.1 (amd64) and on 6.12 (transition612).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gp_check.h"
#include "kernel.h"
#include "lp_patch.h"
#include "patch_util.h"
#include "rig/rig.h"
#include "target.h"

static struct rig *r;
static char dir[64];

static void up(void)
{
	pu_up(&r, dir, sizeof(dir), "/tmp/gp-trans-XXXXXX", NULL);
}

/* The same tests on 6.12 (IBT entries, pcpu_hot, the 6.4 ORC format). */
static void up612(void)
{
	pu_up(&r, dir, sizeof(dir), "/tmp/gp-trans-XXXXXX", "6.12-amd64");
}

static void down(void)
{
	pu_down(r, dir);
}

/* Bytes the first read of /dev/kmsg returns: > 0 unpatched, 0 patched. */
static int kmsg_bytes(void)
{
	char *out = pu_guest(r, "dd if=/dev/kmsg bs=8192 count=1 2>/dev/null | wc -c");
	int n = atoi(out);

	free(out);
	return n;
}

static const char second_src[] =
	"#include <guestpatch.h>\nGP_PATCH(\"cmdline-second\");\nstruct seq_file;\n"
	"extern void seq_printf(struct seq_file *m, const char *f, ...);\n"
	"static int second(struct seq_file *m, void *v) { seq_printf(m, \"second patch on top\\n\"); return 0; }\n"
	"GP_REPLACE(cmdline_proc_show, second);\n";

static const char replace_src[] =
	"#include <guestpatch.h>\nGP_PATCH_REPLACE(\"cumulative\");\nstruct seq_file;\n"
	"extern void seq_printf(struct seq_file *m, const char *f, ...);\n"
	"static int third(struct seq_file *m, void *v) { seq_printf(m, \"cumulative patch\\n\"); return 0; }\n"
	"GP_REPLACE(cmdline_proc_show, third);\n";

/* Every task's patch_state as the guest reports it: how many hold `want`,
 * and how many do not. */
static void guest_states(int want, int *match, int *other, char *others, size_t len)
{
	char *out = pu_guest(r, "for p in /proc/[0-9]*; do s=$(cat $p/patch_state 2>/dev/null) && "
				"echo \"${p#/proc/} $s $(cat $p/comm 2>/dev/null)\"; done");
	char *line, *save = NULL;
	size_t n = 0;

	*match = *other = 0;
	if (others && len)
		others[0] = '\0';
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		int pid, st;

		if (sscanf(line, "%d %d", &pid, &st) != 2)
			continue;
		if (st == want) {
			(*match)++;
		} else {
			(*other)++;
			if (others && n + 64 < len)
				n += (size_t)snprintf(others + n, len - n, "[%s] ", line);
		}
	}
	free(out);
}

static int waiter_pid(void)
{
	char *out = pu_guest(r, "pidof kmsgwait || echo 0");
	int pid = atoi(out);

	free(out);
	return pid;
}

/* 1. Idle guest: the transition completes; every task back to
 * KLP_UNDEFINED; unpatch through the same model restores the text. */
START_TEST(idle_transition_completes)
{
	const char *obj = pu_build(r, dir, "cmdline_marker", NULL, NULL);
	struct hashes before = pu_hash_guest(r), after;
	char *out = NULL, *err = NULL, others[2000];
	int match, other;

	ck_assert(!pu_guest_has(r, "cat /proc/cmdline", "guestpatch"));
	ck_assert_msg(pu_vmm(r, "patch", obj, &out, &err) == 0, "patch: %s", err);
	ck_assert_msg(strstr(out, "(per-task)"), "not per-task: %s", out);
	fprintf(stderr, "idle transition: %s", out);
	free(out);
	free(err);
	ck_assert(pu_guest_has(r, "cat /proc/cmdline", "guestpatch: cmdline-marker applied"));
	guest_states(-1, &match, &other, others, sizeof(others));
	ck_assert_msg(other == 0 && match > 10, "tasks not back to -1: %s", others);
	ck_assert_msg(pu_vmm(r, "unpatch", "cmdline-marker", &out, &err) == 0, "unpatch: %s", err);
	ck_assert_msg(strstr(out, "(per-task)"), "unpatch not per-task: %s", out);
	free(out);
	free(err);
	ck_assert(!pu_guest_has(r, "cat /proc/cmdline", "guestpatch"));
	after = pu_hash_guest(r);
	ck_assert_msg(after.text == before.text, "kernel text differs after unpatch");
	guest_states(-1, &match, &other, others, sizeof(others));
	ck_assert_msg(other == 0, "tasks not back to -1 after unpatch: %s", others);
}
END_TEST

/*
 * The code guestpatch wrote into the guest, read back and disassembled by
 * binutils' objdump (an oracle we did not write): bytes from
 * guest-agent/src/trampoline.S, linked by our loader, must still be the
 * instructions the hand-written emitter produced before them.  Whitespace
 * is collapsed so "mov    %gs:..." reads "mov %gs:...".
 */
static char *disasm(const uint8_t *code, size_t len, uint64_t va)
{
	char path[] = "/tmp/gp-disasm-XXXXXX", cmd[256], *out;
	size_t cap = 8192, n = 0;
	FILE *f;
	int fd = mkstemp(path), c, sp = 0;

	ck_assert(fd >= 0);
	ck_assert(write(fd, code, len) == (ssize_t)len);
	close(fd);
	snprintf(cmd, sizeof(cmd),
		 "objdump -D -b binary -m i386:x86-64 --adjust-vma=0x%llx %s | grep '^ *[0-9a-f]*:'",
		 (unsigned long long)va, path);
	ck_assert((f = popen(cmd, "r")));
	ck_assert((out = calloc(1, cap)));
	while ((c = fgetc(f)) != EOF && n + 1 < cap) {
		if (c == ' ' || c == '\t') {
			sp = 1;
			continue;
		}
		if (sp && n)
			out[n++] = ' ';
		sp = 0;
		out[n++] = (char)c;
	}
	pclose(f);
	unlink(path);
	return out;
}

/* With a transition in progress on devkmsg_read: its entry jumps to its
 * slot, and the slot dispatches on the current task's patch_state as
 * klp_ftrace_handler() does. */
static void check_dispatch_disasm(void)
{
	struct tgt *t = NULL;
	struct kern *k = NULL;
	struct lp_region reg;
	uint64_t fn, site, cur_task, ps_off, slot = 0, top = 0;
	uint8_t entry[9], code[LP_TRAMP_SIZE];
	char want[160], *d;

	ck_ok(tgt_open(rig_target(r), &t));
	ck_ok(kern_attach(t, NULL, &k));
	ck_ok(kern_sym(k, "devkmsg_read", &fn));
	ck_ok(kern_percpu_var(k, "current_task", &cur_task));
	ck_ok(kern_offsetof(k, "task_struct", "patch_state", &ps_off));
	ck_ok(lp_list(k, &reg));
	ck_assert(reg.present && reg.hdr.trans_patch >= 0);
	for (int i = 0; i < LP_MAX_FUNCS_TOTAL; i++)
		if (reg.hdr.funcs[i].in_use && !strcmp(reg.hdr.funcs[i].name, "devkmsg_read")) {
			slot = reg.hdr.sites[reg.hdr.funcs[i].site].tramp_va;
			top = reg.hdr.funcs[i].new_addr;
		}
	ck_assert(slot && top);
	ck_ok(tgt_pause(t));
	ck_ok(kern_read(k, fn, entry, sizeof(entry)));
	ck_ok(kern_read(k, slot, code, sizeof(code)));
	ck_ok(tgt_resume(t));
	kern_detach(k);
	tgt_close(t);

	/* The ftrace site: the entry, or past an IBT endbr64 (or the 4-byte
	 * NOP the kernel seals unused ones with) as objdump reads it. */
	d = disasm(entry, sizeof(entry), fn);
	site = fn + (!strncmp(strchr(d, ':') + 1, " f3 0f 1e fa endbr64", 20) ||
		     !strncmp(strchr(d, ':') + 1, " 66 0f 1f 00 nopw (%rax)", 24) ? 4 : 0);
	snprintf(want, sizeof(want), "%llx: e9 ", (unsigned long long)site);
	ck_assert_msg(strstr(d, want), "devkmsg_read: no jump at its site 0x%llx: %s",
		      (unsigned long long)site, d);
	snprintf(want, sizeof(want), "jmp 0x%llx", (unsigned long long)slot);
	ck_assert_msg(strstr(d, want), "devkmsg_read entry: want '%s', objdump says: %s", want, d);
	free(d);
	d = disasm(code, sizeof(code), slot);
	fprintf(stderr, "dispatch slot as objdump reads it: %s", d);
	snprintf(want, sizeof(want), "mov %%gs:0x%llx,%%r11", (unsigned long long)cur_task);
	ck_assert_msg(strstr(d, want), "slot: want '%s': %s", want, d);
	snprintf(want, sizeof(want), "cmpl $0x0,0x%llx(%%r11)", (unsigned long long)ps_off);
	ck_assert_msg(strstr(d, want), "slot: want '%s': %s", want, d);
	snprintf(want, sizeof(want), "je 0x%llx", (unsigned long long)(site + 5));
	ck_assert_msg(strstr(d, want), "slot: want '%s' (the original past its NOP): %s", want, d);
	snprintf(want, sizeof(want), "jmp 0x%llx", (unsigned long long)top);
	ck_assert_msg(strstr(d, want), "slot: want '%s' (the replacement): %s", want, d);
	ck_assert_msg(strstr(d, "int3"), "slot tail is not int3: %s", d);
	free(d);
}

/* Start the kmsg-eof patch while a task sleeps in devkmsg_read: the
 * transition stays in progress naming it; every other task switched. */
static int start_blocked(const char *obj)
{
	char cmd[64], *out = NULL, *err = NULL, others[2000];
	int pid, match, other, rc;

	free(pu_guest(r, "kmsgwait; sleep 0.3"));
	pid = waiter_pid();
	ck_assert_msg(pid > 0, "kmsgwait not running");
	rc = pu_vmm(r, "patch", "--timeout 1", NULL, NULL);	/* usage error: no file */
	ck_assert_int_ne(rc, 0);
	{
		char rest[300];

		snprintf(rest, sizeof(rest), "--timeout 1 %s", obj);
		rc = pu_vmm(r, "patch", rest, &out, &err);
	}
	ck_assert_msg(rc == 3, "patch exit %d (want 3, in progress): %s %s", rc, out, err);
	ck_assert_msg(strstr(err, "still in progress") && strstr(err, "kmsgwait") &&
			      strstr(err, "devkmsg_read is on its stack"),
		      "blocker not named: %s", err);
	free(out);
	free(err);
	/* vmm list from a fresh process names it too. */
	ck_assert_int_eq(pu_vmm(r, "list", "", &out, NULL), 0);
	ck_assert_msg(strstr(out, "kmsg-eof: patching") && strstr(out, "(kmsgwait)") &&
			      strstr(out, "devkmsg_read"),
		      "list: %s", out);
	free(out);
	ck_assert_int_eq(pu_vmm(r, "list", "--json", &out, NULL), 0);
	ck_assert_msg(strstr(out, "\"waiting_for\"") &&
			      (strstr(out, "\"comm\":\"kmsgwait\"") || strstr(out, "\"comm\": \"kmsgwait\"")),
		      "list --json: %s", out);
	free(out);
	/* The guest's own view: the sleeper unpatched, everyone else patched. */
	snprintf(cmd, sizeof(cmd), "cat /proc/%d/patch_state", pid);
	ck_assert(pu_guest_has(r, cmd, "0"));
	guest_states(1, &match, &other, others, sizeof(others));
	ck_assert_msg(other == 1 && strstr(others, "kmsgwait"),
		      "want only kmsgwait unswitched, got %d: %s", other, others);
	check_dispatch_disasm();
	return pid;
}

/* 2. A blocked task is named; once it leaves (a new kernel message wakes
 * it and it returns to user mode, where the guest switches it itself),
 * the transition completes. */
START_TEST(blocked_task_named_then_completes)
{
	const char *obj = pu_build(r, dir, "kmsg_eof", pu_kmsg_eof_src, NULL);
	char *out = NULL, *err = NULL, others[2000];
	int match, other;

	ck_assert_int_gt(kmsg_bytes(), 0);
	start_blocked(obj);
	/* Still blocked a second later: nothing completes it by itself. */
	ck_assert_int_eq(pu_vmm(r, "transition", "--timeout 1", NULL, NULL), 3);
	free(pu_guest(r, "echo wake-up > /dev/kmsg; sleep 0.2"));
	ck_assert_msg(pu_vmm(r, "transition", "--timeout 30", &out, &err) == 0,
		      "transition: %s", err);
	fprintf(stderr, "blocked transition: %s", out);
	free(out);
	free(err);
	ck_assert_int_eq(waiter_pid(), 0);	/* it read EOF from the new function */
	guest_states(-1, &match, &other, others, sizeof(others));
	ck_assert_msg(other == 0, "after completion: %s", others);
	ck_assert_int_eq(pu_vmm(r, "list", "", &out, NULL), 0);
	ck_assert_msg(strstr(out, "kmsg-eof: applied"), "list: %s", out);
	free(out);
	ck_assert_int_eq(kmsg_bytes(), 0);
	ck_assert_msg(pu_vmm(r, "unpatch", "kmsg-eof", NULL, &err) == 0, "unpatch: %s", err);
	free(err);
	ck_assert_int_gt(kmsg_bytes(), 0);
}
END_TEST

/* 3. Reverse while blocked: ends unpatched, text identical to before. */
START_TEST(reverse_while_blocked)
{
	const char *obj = pu_build(r, dir, "kmsg_eof", pu_kmsg_eof_src, NULL);
	struct hashes before = pu_hash_guest(r), after;
	char *out = NULL, *err = NULL, others[2000];
	int match, other;

	start_blocked(obj);
	ck_assert_msg(pu_vmm(r, "transition", "--reverse --timeout 20", &out, &err) == 0,
		      "reverse: %s", err);
	fprintf(stderr, "reverse: %s", out);
	free(out);
	free(err);
	ck_assert_msg(waiter_pid() > 0, "the reader should still wait");
	after = pu_hash_guest(r);
	ck_assert_msg(after.text == before.text, "kernel text differs after reverse");
	guest_states(-1, &match, &other, others, sizeof(others));
	ck_assert_msg(other == 0, "after reverse: %s", others);
	ck_assert_int_eq(pu_vmm(r, "list", "", &out, NULL), 0);
	ck_assert_msg(strstr(out, "no patches applied"), "list: %s", out);
	free(out);
	free(pu_guest(r, "kill $(pidof kmsgwait); sleep 0.2"));
}
END_TEST

/* 4. Force while blocked: completes, marked forced, unpatch needs --force. */
START_TEST(force_while_blocked)
{
	const char *obj = pu_build(r, dir, "kmsg_eof", pu_kmsg_eof_src, NULL);
	char *out = NULL, *err = NULL, others[2000];
	int match, other;

	start_blocked(obj);
	ck_assert_msg(pu_vmm(r, "transition", "--force", &out, &err) == 0, "force: %s", err);
	free(out);
	free(err);
	guest_states(-1, &match, &other, others, sizeof(others));
	ck_assert_msg(other == 0, "after force: %s", others);
	ck_assert_int_eq(pu_vmm(r, "list", "", &out, NULL), 0);
	ck_assert_msg(strstr(out, "kmsg-eof: applied, forced"), "list: %s", out);
	free(out);
	ck_assert_int_ne(pu_vmm(r, "unpatch", "kmsg-eof", NULL, &err), 0);
	ck_assert_msg(strstr(err, "was forced") && strstr(err, "--force"), "%s", err);
	free(err);
	free(pu_guest(r, "kill $(pidof kmsgwait); sleep 0.2"));
	ck_assert_msg(pu_vmm(r, "unpatch", "--force kmsg-eof", NULL, &err) == 0, "unpatch --force: %s",
		      err);
	free(err);
	ck_assert_int_eq(pu_vmm(r, "list", "", &out, NULL), 0);
	ck_assert_msg(strstr(out, "no patches applied"), "list: %s", out);
	free(out);
}
END_TEST

/* 5. Stragglers: the fake signal, delivered by code run inside the guest
 * (a one-shot hook on the timer interrupt), makes the blocked reader
 * leave devkmsg_read; it switches on its way to user mode and its read
 * restarts in the new function (end of file). */
START_TEST(signal_moves_blocked_reader)
{
	const char *obj = pu_build(r, dir, "kmsg_eof", pu_kmsg_eof_src, NULL);
	struct hashes before, after;
	char *out = NULL, *err = NULL;

	start_blocked(obj);
	before = pu_hash_guest(r);
	ck_assert_msg(pu_vmm(r, "transition", "--signal --timeout 20", &out, &err) == 0,
		      "transition --signal: %s", err);
	fprintf(stderr, "signal: %s", out);
	free(out);
	free(err);
	ck_assert_int_eq(waiter_pid(), 0);
	after = pu_hash_guest(r);
	/* The hook is gone again: the text is as it was before the signal
	 * step (the patch's own redirection included). */
	ck_assert_msg(after.text == before.text, "kernel text differs after the signal step");
	ck_assert(!pu_guest_has(r, "dmesg", "Oops"));
	ck_assert(!pu_guest_has(r, "dmesg", "WARNING"));
	ck_assert_msg(pu_vmm(r, "unpatch", "kmsg-eof", NULL, &err) == 0, "unpatch: %s", err);
	free(err);
}
END_TEST

static long ctxt_switches(int pid)
{
	char cmd[100], *out, *p;
	long n = -1;

	snprintf(cmd, sizeof(cmd), "cat /proc/%d/status", pid);
	out = pu_guest(r, cmd);
	if ((p = strstr(out, "voluntary_ctxt_switches:")))
		n = atol(p + strlen("voluntary_ctxt_switches:"));
	free(out);
	return n;
}

/* 5b. The straggler step wakes a kthread: khungtaskd sleeps in the loop
 * of its main function, watchdog() (kernel/hung_task.c), so a patch of
 * that function waits for it; the wake-up makes it run (its voluntary
 * context switches go up) - and, being a loop that never returns, sleep
 * in the same function again, so, as with the kernel's own livepatch,
 * this transition can only be reversed or forced. */
/* Which of the kernel's functions named `name` (1-based, kallsyms order,
 * from the guest's own /proc/kallsyms) holds a frame of task `pid`. */
static int position_on_stack(const char *name, int pid)
{
	char cmd[200], *syms, *stack, *line, *save = NULL;
	unsigned long long addr[8], pc, best_d = ~0ull;
	int n = 0, best = 0;

	snprintf(cmd, sizeof(cmd), "grep ' %s$' /proc/kallsyms", name);
	syms = pu_guest(r, cmd);
	for (line = strtok_r(syms, "\n", &save); line && n < 8; line = strtok_r(NULL, "\n", &save))
		addr[n++] = strtoull(line, NULL, 16);
	free(syms);
	snprintf(cmd, sizeof(cmd), "--json %d", pid);
	ck_assert_int_eq(pu_vmm(r, "stack", cmd, &stack, NULL), 0);
	for (char *p = stack; (p = strstr(p, "\"pc\"")); p++) {
		char *q = strstr(p, "0x");

		if (!q)
			break;
		pc = strtoull(q, NULL, 16);
		for (int i = 0; i < n; i++)
			if (pc >= addr[i] && pc - addr[i] < best_d)
				best_d = pc - addr[i], best = i + 1;
	}
	free(stack);
	ck_assert_msg(best > 0 && best_d < 0x2000, "no %s on the stack of pid %d", name, pid);
	return best;
}

START_TEST(signal_wakes_kthread)
{
	struct hashes before = pu_hash_guest(r), after;
	char rest[300], src[400], *out = NULL, *err = NULL;
	const char *obj;
	long n0, n1;
	int pid;

	out = pu_guest(r, "pidof khungtaskd || echo 0");
	pid = atoi(out);
	free(out);
	ck_assert_msg(pid > 0, "no khungtaskd in the guest");
	snprintf(src, sizeof(src),
		 "#include <guestpatch.h>\nGP_PATCH(\"hungwd\");\n"
		 "static int new_watchdog(void *unused) { return 0; }\n"
		 "GP_REPLACE_POS(watchdog, %d, new_watchdog);\n", position_on_stack("watchdog", pid));
	obj = pu_build(r, dir, "hungwd", src, NULL);
	snprintf(rest, sizeof(rest), "--timeout 1 %s", obj);
	ck_assert_msg(pu_vmm(r, "patch", rest, NULL, &err) == 3, "patch: %s", err);
	ck_assert_msg(strstr(err, "(khungtaskd)") && strstr(err, "watchdog is on its stack"), "%s", err);
	free(err);
	n0 = ctxt_switches(pid);
	ck_assert_int_eq(pu_vmm(r, "transition", "--signal --timeout 1", NULL, &err), 3);
	free(err);
	n1 = ctxt_switches(pid);
	fprintf(stderr, "khungtaskd voluntary context switches: %ld before the signal step, %ld after\n",
		n0, n1);
	ck_assert_msg(n1 > n0, "khungtaskd was not woken (%ld -> %ld)", n0, n1);
	ck_assert_msg(pu_vmm(r, "transition", "--reverse --timeout 10", NULL, &err) == 0, "reverse: %s",
		      err);
	free(err);
	after = pu_hash_guest(r);
	ck_assert_msg(after.text == before.text, "kernel text differs after reverse");
}
END_TEST

/* The guest's own livepatch mid-transition (klp_transition_patch set):
 * refused with a clear message, guest memory untouched. */
/* Write 8 bytes at a kernel symbol, return what was there. The gdbstub
 * serves one client at a time: open, write, close. */
static uint64_t poke_sym(const char *sym, uint64_t val)
{
	struct tgt *t = NULL;
	struct kern *k = NULL;
	uint64_t va, pa, old;

	ck_ok(tgt_open(rig_target(r), &t));
	ck_ok(kern_attach(t, NULL, &k));
	ck_ok(kern_sym(k, sym, &va));
	ck_ok(kern_v2p(k, va, &pa));
	ck_ok(tgt_pause(t));
	ck_ok(tgt_read_phys(t, pa, &old, 8));
	ck_ok(tgt_write_phys(t, pa, val == 1 ? &va : &val, 8));	/* 1: the symbol's own address */
	ck_ok(tgt_resume(t));
	kern_detach(k);
	tgt_close(t);
	return old;
}

START_TEST(refuses_while_guest_livepatch_busy)
{
	const char *obj = pu_build(r, dir, "cmdline_marker", NULL, NULL);
	struct hashes before, after;
	uint64_t old;
	char *err = NULL;
	int rc;

	/* Any non-NULL pointer: nothing in the guest reads it meanwhile. */
	old = poke_sym("klp_transition_patch", 1);
	ck_assert_msg(old == 0, "the guest's livepatch is busy already");
	before = pu_hash_guest(r);
	rc = pu_vmm(r, "patch", obj, NULL, &err);
	after = pu_hash_guest(r);
	poke_sym("klp_transition_patch", 0);
	ck_assert_int_ne(rc, 0);
	ck_assert_msg(strstr(err, "the guest's own livepatch has a transition in progress"), "%s", err);
	free(err);
	ck_assert(before.text == after.text && before.region == after.region);
	ck_assert(!pu_guest_has(r, "cat /proc/cmdline", "guestpatch"));
}
END_TEST

/* 6. Stacked patches on one function, and an atomic replace over two. */
START_TEST(stacked_and_atomic_replace)
{
	char o1[200], o2[200], o3[200], o4[200], *out = NULL;
	struct hashes before = pu_hash_guest(r), after;

	snprintf(o1, sizeof(o1), "%s", pu_build(r, dir, "cmdline_marker", NULL, NULL));
	snprintf(o2, sizeof(o2), "%s", pu_build(r, dir, "second", second_src, NULL));
	snprintf(o3, sizeof(o3), "%s", pu_build(r, dir, "version_tag", NULL, NULL));
	snprintf(o4, sizeof(o4), "%s", pu_build(r, dir, "cumulative", replace_src, NULL));
	/* Stack two on cmdline_proc_show; unstack the top: the lower one runs. */
	ck_assert_int_eq(pu_vmm(r, "patch", o1, NULL, NULL), 0);
	ck_assert_int_eq(pu_vmm(r, "patch", o2, NULL, NULL), 0);
	ck_assert(pu_guest_has(r, "cat /proc/cmdline", "second patch on top"));
	ck_assert_int_eq(pu_vmm(r, "unpatch", "cmdline-second", NULL, NULL), 0);
	ck_assert(pu_guest_has(r, "cat /proc/cmdline", "cmdline-marker applied"));
	/* Two patches on two functions, then a cumulative one that covers
	 * only cmdline_proc_show: it replaces both, /proc/version goes back
	 * to the original. */
	ck_assert_int_eq(pu_vmm(r, "patch", o3, NULL, NULL), 0);
	ck_assert(pu_guest_has(r, "cat /proc/version", "[guestpatch version-tag]"));
	ck_assert_int_eq(pu_vmm(r, "patch", o4, NULL, NULL), 0);
	ck_assert(pu_guest_has(r, "cat /proc/cmdline", "cumulative patch"));
	ck_assert(!pu_guest_has(r, "cat /proc/version", "guestpatch"));
	ck_assert_int_eq(pu_vmm(r, "list", "", &out, NULL), 0);
	ck_assert_msg(strstr(out, "cumulative: applied") && !strstr(out, "cmdline-marker") &&
			      !strstr(out, "version-tag") && !strstr(out, "version_proc_show"),
		      "list after replace: %s", out);
	free(out);
	ck_assert_int_eq(pu_vmm(r, "unpatch", "cumulative", NULL, NULL), 0);
	ck_assert(!pu_guest_has(r, "cat /proc/cmdline", "patch"));
	after = pu_hash_guest(r);
	ck_assert_msg(after.text == before.text, "kernel text differs at the end");
}
END_TEST

/* 7. Readers on both vCPUs through 20 cycles: within one transition a
 * reader never goes back from new to old, so each reader flips at most
 * once per transition; no oops or warning. */
START_TEST(cycles_under_load)
{
	const char *obj = pu_build(r, dir, "cmdline_marker", NULL, NULL);
	char *out;

	pu_readers_start(r, 2);
	for (int i = 0; i < 20; i++) {
		char *err = NULL;

		ck_assert_msg(pu_vmm(r, "patch", obj, NULL, &err) == 0, "cycle %d patch: %s", i, err);
		free(err);
		ck_assert_msg(pu_vmm(r, "unpatch", "cmdline-marker", NULL, &err) == 0,
			      "cycle %d unpatch: %s", i, err);
		free(err);
	}
	pu_readers_stop(r);
	for (int f = 1; f <= 2; f++) {
		char cmd[40], *line, *save = NULL;
		int lines = 0, marked = 0, to_new = 0, to_old = 0, prev = 0;

		snprintf(cmd, sizeof(cmd), "cat /tmp/r%d", f);
		ck_assert_int_eq(rig_exec_bulk(r, cmd, &out, &(size_t){ 0 }, 120), 0);
		for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			int now;

			lines++;
			if (!strcmp(line, "guestpatch: cmdline-marker applied")) {
				now = 2, marked++;
				/* The patched text goes on with the command line. */
				line = strtok_r(NULL, "\n", &save);
				ck_assert_msg(line && !strncmp(line, "console=ttyS0", 13),
					      "torn read after the marker: '%s'", line ? line : "");
			} else if (!strncmp(line, "console=ttyS0", 13)) {
				now = 1;
			} else {
				ck_abort_msg("torn read: '%s'", line);
			}
			to_new += prev == 1 && now == 2;
			to_old += prev == 2 && now == 1;
			prev = now;
		}
		free(out);
		fprintf(stderr, "per-task cycles: reader %d: %d reads, %d new, %d old->new, %d new->old\n",
			f, lines, marked, to_new, to_old);
		ck_assert_msg(lines > 100, "only %d reads", lines);
		ck_assert_msg(to_new <= 20 && to_old <= 20,
			      "reader %d flipped %d/%d times in 20 cycles: new then old within a transition",
			      f, to_new, to_old);
	}
	ck_assert(!pu_guest_has(r, "dmesg", "Oops"));
	ck_assert(!pu_guest_has(r, "dmesg", "WARNING"));
	ck_assert(!pu_guest_has(r, "dmesg", "BUG"));
}
END_TEST

static TCase *transition_tcase(void)
{
	TCase *tc = tcase_create("transition");

	tcase_set_timeout(tc, 900);
	tcase_add_unchecked_fixture(tc, up, down);
	tcase_add_test(tc, idle_transition_completes);
	tcase_add_test(tc, blocked_task_named_then_completes);
	tcase_add_test(tc, reverse_while_blocked);
	tcase_add_test(tc, force_while_blocked);
	tcase_add_test(tc, signal_moves_blocked_reader);
	tcase_add_test(tc, refuses_while_guest_livepatch_busy);
	tcase_add_test(tc, signal_wakes_kthread);
	tcase_add_test(tc, stacked_and_atomic_replace);
	tcase_add_test(tc, cycles_under_load);
	return tc;
}
GP_TCASE(transition_tcase)

/* On 6.12 (its test modules from build/guest/initramfs-6.12-amd64). */
static TCase *transition612_tcase(void)
{
	TCase *tc = tcase_create("transition612");

	tcase_set_timeout(tc, 900);
	tcase_add_unchecked_fixture(tc, up612, down);
	tcase_add_test(tc, idle_transition_completes);
	tcase_add_test(tc, blocked_task_named_then_completes);
	tcase_add_test(tc, reverse_while_blocked);
	tcase_add_test(tc, force_while_blocked);
	tcase_add_test(tc, signal_moves_blocked_reader);
	tcase_add_test(tc, refuses_while_guest_livepatch_busy);
	tcase_add_test(tc, signal_wakes_kthread);
	tcase_add_test(tc, stacked_and_atomic_replace);
	tcase_add_test(tc, cycles_under_load);
	return tc;
}
GP_TCASE(transition612_tcase)
