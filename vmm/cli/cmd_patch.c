// SPDX-License-Identifier: GPL-2.0-or-later
/* vmm patch / unpatch / list / build. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "lp_patch.h"

static json_object *blockers_json(const struct lp_check_result *c)
{
	json_object *arr = json_object_new_array();

	for (int i = 0; i < c->nr_blockers && i < LP_MAX_BLOCKERS; i++) {
		const struct lp_blocker *b = &c->b[i];
		json_object *x = json_object_new_object();

		json_object_object_add(x, "pid", json_object_new_int(b->pid));
		json_object_object_add(x, "comm", json_object_new_string(b->comm));
		json_object_object_add(x, "running_vcpu", json_object_new_int(b->running_cpu));
		json_object_object_add(x, "function", json_object_new_string(b->func));
		json_object_object_add(x, "pc", json_object_new_string(cli_hex(b->pc)));
		json_object_object_add(x, "reason", json_object_new_string(b->reason));
		json_object_array_add(arr, x);
	}
	return arr;
}

static json_object *transition_json(const struct lp_report *r)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "patch", json_object_new_string(r->trans_patch));
	json_object_object_add(o, "target", json_object_new_string(r->target == KLP_PATCHED ? "patched" : "unpatched"));
	json_object_object_add(o, "tasks", json_object_new_int64((int64_t)r->tasks));
	json_object_object_add(o, "switched", json_object_new_int64((int64_t)r->switched));
	json_object_object_add(o, "not_switched", json_object_new_int(r->check.nr_blockers));
	json_object_object_add(o, "waiting_for", blockers_json(&r->check));
	return o;
}

static json_object *report_json(const struct lp_report *r)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(r->name));
	json_object_object_add(o, "model", json_object_new_string(r->per_task ? "per-task" : "global"));
	json_object_object_add(o, "attempts", json_object_new_int(r->attempts));
	json_object_object_add(o, "elapsed_ms", json_object_new_double(r->elapsed_ms));
	json_object_object_add(o, "pause_ms", json_object_new_double(r->pause_ns / 1e6));
	json_object_object_add(o, "stop_ms", json_object_new_double(r->stop_ns / 1e6));
	json_object_object_add(o, "resume_ms", json_object_new_double(r->resume_ns / 1e6));
	json_object_object_add(o, "check_ms", json_object_new_double(r->check_ns / 1e6));
	json_object_object_add(o, "write_ms", json_object_new_double(r->write_ns / 1e6));
	json_object_object_add(o, "pause_total_ms", json_object_new_double(r->pause_ns_total / 1e6));
	json_object_object_add(o, "tasks_checked", json_object_new_int64((int64_t)r->check.tasks));
	if (r->per_task)
		json_object_object_add(o, "transition", transition_json(r));
	return o;
}

static void report_text(const char *what, const struct lp_report *r)
{
	printf("%s %s (%s): %d attempt%s, %.1f ms; guest paused %.3f ms in all, last pause %.3f ms (stop %.3f, check %.3f, writes %.3f, resume %.3f ms), %zu tasks\n",
	       what, cli_str(r->name), r->per_task ? "per-task" : "global", r->attempts,
	       r->attempts == 1 ? "" : "s", r->elapsed_ms, r->pause_ns_total / 1e6,
	       r->pause_ns / 1e6, r->stop_ns / 1e6, r->check_ns / 1e6, r->write_ns / 1e6,
	       r->resume_ns / 1e6, r->check.tasks);
}

static int finish(struct cli *c, const char *cmd, const char *what, struct gp_error *err,
		  const struct lp_report *rep)
{
	if (err && rep->in_progress) {
		/* Not a failure of the guest: the transition runs on.  Stopped
		 * by a signal while waiting, vmm says so and exits 130 (vmm.1),
		 * the transition left in progress all the same. */
		if (c->json) {
			json_object *o = report_json(rep);

			json_object_object_add(o, "result", json_object_new_string("in-progress"));
			cli_print_json(o);
		}
		return cli_fail(err, cmd) == 130 ? 130 : LP_EXIT_IN_PROGRESS;
	}
	if (rep->not_loaded[0])
		fprintf(stderr, "vmm: %s: not patched, their modules are not loaded (a later load of them is not patched): %s\n",
			cmd, cli_str(rep->not_loaded));
	if (rep->callbacks[0] && !c->json)
		fprintf(err ? stderr : stdout, "callbacks run in the guest: %s\n",
			cli_str(rep->callbacks));
	if (rep->callbacks_err[0])
		fprintf(stderr, "vmm: %s: callbacks owed to the guest could not run yet (the next vmm command runs them): %s\n",
			cmd, cli_str(rep->callbacks_err));
	if (err)
		return cli_fail(err, cmd);
	if (c->json) {
		json_object *o = report_json(rep);

		if (rep->callbacks[0])
			json_object_object_add(o, "callbacks", json_object_new_string(rep->callbacks));

		json_object_object_add(o, "result", json_object_new_string(what));
		cli_print_json(o);
	} else {
		report_text(what, rep);
	}
	return 0;
}

static void opts_from_cli(const struct cli *c, struct lp_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->timeout_s = c->timeout_s;
	o->force = c->force;
	o->model = (enum lp_model)c->model;
	o->replace = c->replace;
	o->no_wait = c->no_wait;
}

int cmd_patch(struct cli *c, int argc, char **argv)
{
	struct lp_opts o;
	struct lp_report rep;

	if (argc < 1) {
		fprintf(stderr, "vmm: patch: expected one patch object (FILE.o), or FILE.ko [NAME=VALUE...]\n");
		return 2;
	}
	opts_from_cli(c, &o);
	o.force = false;
	/* a livepatch module's parameters, as to insmod */
	o.params = (const char *const *)argv + 1;
	o.nparams = argc - 1;
	return finish(c, "patch", "patched", lp_apply(c->k, argv[0], &o, &rep), &rep);
}

int cmd_unpatch(struct cli *c, int argc, char **argv)
{
	struct lp_opts o;
	struct lp_report rep;

	if (argc != 1) {
		fprintf(stderr, "vmm: unpatch: expected one patch NAME (see vmm list)\n");
		return 2;
	}
	opts_from_cli(c, &o);
	return finish(c, "unpatch", "unpatched", lp_remove(c->k, argv[0], &o, &rep), &rep);
}

int cmd_transition(struct cli *c, int argc, char **argv)
{
	struct lp_opts o;
	struct lp_report rep;
	enum lp_trans_op op = LP_TRANS_CONTINUE;
	const char *what = "transition complete";

	(void)argv;
	if (argc != 0 || c->reverse + c->force + c->signal > 1) {
		fprintf(stderr, "vmm: transition: usage: vmm transition TARGET [--reverse | --force | --signal] [--timeout S]\n");
		return 2;
	}
	opts_from_cli(c, &o);
	if (c->reverse)
		op = LP_TRANS_REVERSE, what = "transition reversed and complete";
	else if (c->force)
		op = LP_TRANS_FORCE, what = "transition forced";
	else if (c->signal)
		op = LP_TRANS_SIGNAL;
	return finish(c, "transition", what, lp_transition(c->k, op, &o, &rep), &rep);
}

static const char *state_name(uint32_t s)
{
	switch (s) {
	case LP_APPLIED: return "applied";
	case LP_PATCHING: return "patching";
	case LP_LOADED: return "loaded (callbacks owed)";
	case LP_UNPATCHING: return "unpatching";
	default: return "?";
	}
}

int cmd_list(struct cli *c, int argc, char **argv)
{
	struct lp_region r;
	struct lp_report st;
	struct gp_error *err = lp_status(c->k, &r, &st);
	json_object *arr = NULL, *root = NULL;
	int n = 0;

	if (err)
		return cli_fail(err, "list");
	if (c->json) {
		root = json_object_new_object();
		arr = json_object_new_array();
	}
	for (int i = 0; r.present && i < LP_MAX_PATCHES; i++) {
		const struct lp_rec_patch *p = &r.hdr.patches[i];
		json_object *o = NULL, *funcs = NULL;

		if (p->state == LP_FREE)
			continue;
		n++;
		if (arr) {
			o = json_object_new_object();
			funcs = json_object_new_array();
			json_object_object_add(o, "name", json_object_new_string(p->name));
			json_object_object_add(o, "state", json_object_new_string(state_name(p->state)));
			json_object_object_add(o, "replace", json_object_new_boolean(p->flags & LP_FLAG_REPLACE));
			json_object_object_add(o, "forced", json_object_new_boolean(p->flags & LP_FLAG_FORCED));
			json_object_object_add(o, "order", json_object_new_int64((int64_t)p->seq));
			json_object_object_add(o, "build_id", json_object_new_string(p->build_id));
			json_object_object_add(o, "code", json_object_new_string(cli_hex(lp_page_va(&r, p->code_page))));
			json_object_object_add(o, "code_pages", json_object_new_int((int)p->code_pages));
			json_object_object_add(o, "data_pages", json_object_new_int((int)p->data_pages));
			json_object_object_add(o, "functions", funcs);
			json_object_array_add(arr, o);
		} else {
			printf("%s: %s%s%s (order %" PRIu64 "), code at 0x%" PRIx64 " (%u+%u pages)\n",
			       cli_str(p->name), state_name(p->state),
			       p->flags & LP_FLAG_FORCED ? ", forced (unpatch needs --force)" : "",
			       p->flags & LP_FLAG_REPLACE ? ", atomic replace" : "", p->seq,
			       lp_page_va(&r, p->code_page), p->code_pages, p->data_pages);
		}
		for (int f = 0; f < LP_MAX_FUNCS_TOTAL; f++) {
			const struct lp_rec_func *fn = &r.hdr.funcs[f];
			const struct lp_rec_site *s;
			int top = -1;

			if (!fn->in_use || (int)fn->patch != i)
				continue;
			s = &r.hdr.sites[fn->site];
			/* Is this patch the active one on that function? */
			for (int g = 0; g < LP_MAX_FUNCS_TOTAL; g++)
				if (r.hdr.funcs[g].in_use && r.hdr.funcs[g].site == fn->site &&
				    (top < 0 || r.hdr.patches[r.hdr.funcs[g].patch].seq >
						r.hdr.patches[r.hdr.funcs[top].patch].seq))
					top = g;
			if (funcs) {
				json_object *x = json_object_new_object();

				json_object_object_add(x, "function", json_object_new_string(fn->name));
				json_object_object_add(x, "old", json_object_new_string(cli_hex(s->old_addr)));
				json_object_object_add(x, "new", json_object_new_string(fn->nop ? "original" : cli_hex(fn->new_addr)));
				json_object_object_add(x, "active", json_object_new_boolean(top == f));
				json_object_array_add(funcs, x);
			} else {
				if (fn->nop)
					printf("  %s 0x%" PRIx64 " -> original (atomic replace)\n", cli_str(fn->name),
					       s->old_addr);
				else
					printf("  %s 0x%" PRIx64 " -> 0x%" PRIx64 "%s\n", cli_str(fn->name), s->old_addr,
					       fn->new_addr, top == f ? "" : " (stacked below a newer patch)");
			}
		}
	}
	if (root) {
		json_object_object_add(root, "patches", arr);
		json_object_object_add(root, "earlier_boot", json_object_new_boolean(r.earlier_boot));
		json_object_object_add(root, "transition", st.per_task ? transition_json(&st) : NULL);
		cli_print_json(root);
		return 0;
	}
	if (!n && r.earlier_boot)
		printf("no patches applied: the state in guest memory is from an earlier boot of this guest (rebooted since), and a reboot drops every patch\n");
	else if (!n)
		printf("no patches applied\n");
	if (st.per_task) {
		printf("transition: patch %s to %s, %zu of %zu tasks switched; %d not yet:\n",
		       cli_str(st.trans_patch), st.target == KLP_PATCHED ? "patched" : "unpatched",
		       st.switched, st.tasks, st.check.nr_blockers);
		for (int i = 0; i < st.check.nr_blockers && i < LP_MAX_BLOCKERS; i++)
			printf("  pid %d (%s)%s: %s\n", st.check.b[i].pid, cli_str(st.check.b[i].comm),
			       st.check.b[i].running_cpu >= 0 ? " running" : "",
			       cli_str(st.check.b[i].reason));
	}
	return 0;
}

/* Where guestpatch.h lives: $GP_INCLUDE, next to the binary in the source
 * tree (build/vmm -> guest-agent/include), or the installed copy. */
static const char *include_dir(const char *argv0)
{
	static char buf[PATH_MAX + 64];
	char exe[PATH_MAX], *slash;
	ssize_t n;
	struct stat st;
	const char *env = getenv("GP_INCLUDE");

	if (env)
		return env;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		if ((slash = strrchr(exe, '/'))) {
			*slash = '\0';
			snprintf(buf, sizeof(buf), "%s/../guest-agent/include", exe);
			if (!stat(buf, &st))
				return buf;
			snprintf(buf, sizeof(buf), "%s/../share/guestpatch/include", exe);
			if (!stat(buf, &st))
				return buf;
		}
	}
	(void)argv0;
	return "/usr/local/share/guestpatch/include";
}

int cmd_build(struct cli *c, int argc, char **argv)
{
	/* The guest kernel's own code-generation flags (arch/x86/Makefile,
	 * 6.1): kernel code model, no red zone, no SSE/x87, no PIC, no stack
	 * protector (its canary lives in per-cpu data we do not set up),
	 * return and indirect thunks resolved against the guest's own
	 * (__x86_return_thunk, __x86_indirect_thunk_*), and nothing that needs
	 * apply-time registration (jump tables, fentry, unwind tables).
	 * endbr64 at each function's entry (-fcf-protection=branch), as IBT
	 * kernels (6.12) need where a patch function's address reaches the
	 * kernel; elsewhere it is a NOP. */
	static const char *const flags[] = {
		"-c", "-O2", "-std=gnu11", "-ffreestanding", "-nostdinc",
		"-fno-pic", "-fno-pie", "-mcmodel=kernel", "-mno-red-zone",
		"-fno-stack-protector", "-mno-sse", "-mno-mmx", "-mno-sse2",
		"-mno-3dnow", "-mno-avx", "-mno-80387", "-mno-fp-ret-in-387",
		"-mskip-rax-setup", "-mfunction-return=thunk-extern",
		"-mindirect-branch=thunk-extern", "-mindirect-branch-register",
		"-fno-jump-tables", "-fcf-protection=branch", "-fno-common",
		"-fno-asynchronous-unwind-tables", "-fno-unwind-tables",
		"-fno-strict-aliasing", "-fno-delete-null-pointer-checks",
		"-fno-builtin", "-Wall", "-Werror=implicit-function-declaration",
	};
	char bid[48] = "", define[96], inc[PATH_MAX + 80];
	const char *cc = getenv("CC") ? getenv("CC") : "gcc";
	const char *args[ARRAY_SIZE(flags) + 16];
	struct gp_error *err;
	int n = 0, status;
	pid_t pid;

	if (argc != 1 || !c->output) {
		fprintf(stderr, "vmm: build: usage: vmm build FILE.c -o FILE.o (--kernel VMLINUZ | --build-id ID | --target TARGET)\n");
		return 2;
	}
	if (c->build_id) {
		if (strlen(c->build_id) != 40 || strspn(c->build_id, "0123456789abcdef") != 40) {
			fprintf(stderr, "vmm: build: --build-id %s: expected 40 lowercase hex digits\n",
				c->build_id);
			return 2;
		}
		snprintf(bid, sizeof(bid), "%s", c->build_id);
	} else if (c->kernel) {
		if ((err = kern_elf_build_id(c->kernel, bid)))
			return cli_fail(err, "build");
	} else if (c->target) {
		if ((err = cli_attach(c)))
			return cli_fail(err, "build");
		snprintf(bid, sizeof(bid), "%s", c->k->build_id);
	} else {
		fprintf(stderr, "vmm: build: name the guest kernel: --kernel VMLINUZ, --build-id ID or --target TARGET\n");
		return 2;
	}
	snprintf(define, sizeof(define), "-DGP_TARGET_BUILD_ID=\"%s\"", bid);
	snprintf(inc, sizeof(inc), "-I%s", include_dir(c->argv0));
	args[n++] = cc;
	for (size_t i = 0; i < ARRAY_SIZE(flags); i++)
		args[n++] = flags[i];
	args[n++] = inc;
	args[n++] = define;
	args[n++] = "-o";
	args[n++] = c->output;
	args[n++] = argv[0];
	args[n] = NULL;
	pid = fork();
	if (pid < 0)
		return cli_fail(gp_error_os(errno, "fork"), "build");
	if (pid == 0) {
		execvp(cc, (char *const *)args);
		fprintf(stderr, "vmm: build: cannot run %s: %s\n", cc, strerror(errno));
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "vmm: build: %s failed for %s\n", cc, argv[0]);
		return 1;
	}
	if (!c->json)
		printf("built %s for kernel build id %s\n", c->output, cli_str(bid));
	return 0;
}
