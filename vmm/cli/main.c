// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vmm - the guestpatch command line.  The only place that prints errors and
 * chooses exit codes.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "kernel.h"
#include "lp_patch.h"
#include "target.h"
#include "tasks.h"

static void usage(FILE *f)
{
	fputs("usage: vmm [OPTIONS] COMMAND TARGET [ARGS]\n"
	      "\n"
	      "Commands:\n"
	      "  info TARGET              kernel release, build id, KASLR offset, paging, vCPUs, features\n"
	      "  sym TARGET NAME|ADDRESS  look a symbol up by name (all duplicates) or an address\n"
	      "  ps TARGET                every task: processes, threads, idle tasks\n"
	      "  stack TARGET [PID...]    kernel stacks (--all: every task) with a reliability verdict\n"
	      "  patch TARGET FILE.o      apply a patch (or FILE.ko: a Linux livepatch module, from\n"
	      "                           outside): --model per-task|global (per-task where the\n"
	      "                           kernel has livepatch), --replace (atomic replace),\n"
	      "                           --timeout S (wait for the transition), --no-wait\n"
	      "  unpatch TARGET NAME      remove a patch through the same transition\n"
	      "                           (--force for a forced one)\n"
	      "  transition TARGET        drive the transition in progress to its end;\n"
	      "                           --reverse undoes it, --force completes it now (the\n"
	      "                           patch is then marked forced), --signal prods stragglers\n"
	      "  list TARGET              patches, the functions they replace, and the transition\n"
	      "                           in progress: each task not yet switched and why\n"
	      "  recover TARGET           roll back what an interrupted vmm left half done and\n"
	      "                           repair wedged per-task state (--force: even if the\n"
	      "                           guest ran since)\n"
	      "  call TARGET SYMBOL [ARG] debugging: the guest runs SYMBOL(ARG) in a kworker (process\n"
	      "                           context); prints what it returns (--timeout S, default 10)\n"
	      "  call TARGET FILE.ko [NAME=VALUE...]\n"
	      "                           run a plain kernel module once without the guest's\n"
	      "                           module loader: its init, then its exit, then it is gone\n"
	      "  build FILE.c -o FILE.o (--kernel VMLINUZ | --build-id ID | --target TARGET)\n"
	      "                           compile a patch with flags that fit the guest kernel\n"
	      "  reconcile libvirt:DOMAIN[,uri=URI]\n"
	      "                           wait for the guest's kernel, then apply the patches\n"
	      "                           its policy (domain metadata) wants for that kernel and\n"
	      "                           remove the others; records the result in the metadata\n"
	      "  watch [--uri URI]        reconcile opted-in guests on libvirt's reboot and start\n"
	      "                           events (runs until stopped; see configs/libvirt)\n"
	      "  dmesg TARGET [--since SEQ]\n"
	      "                           the guest kernel's log, read from its memory, as its\n"
	      "                           own dmesg prints it (--json: records with seq, level)\n"
	      "  health TARGET [--since SEQ] [--timeout S]\n"
	      "                           read-only health check: jiffies advance, no oops, BUG,\n"
	      "                           WARNING, panic, lockup or stall in the kernel's log\n"
	      "                           since SEQ, the taint; exit 0 healthy, 4 unhealthy\n"
	      "  run --kernel BZIMAGE|VMLINUX [--initrd F] [--append S] [--mem SIZE] [--cpus N] [--gdb SOCKET]\n"
	      "                           boot a Linux guest in our own KVM VMM (vmm run --help)\n"
	      "  fleet plan|run|status|resume INVENTORY|RUN\n"
	      "                           batch patching of many guests: rings, batches, a failure\n"
	      "                           threshold, rollback, a report (vmm fleet --help)\n"
	      "\n"
	      "Targets:\n"
	      "  qemu:gdb=HOST:PORT[,mem=PATH][,qmp=PATH][,lowmem=SIZE]\n"
	      "  qemu:gdb=/path/to/gdb.sock[,...]\n"
	      "  libvirt:DOMAIN[,uri=URI] a libvirt domain (name or UUID; default qemu:///system)\n"
	      "                           with shared file-backed memory\n"
	      "  vmm:SOCKET               our own VMM (vmm run --gdb SOCKET)\n"
	      "  raw:PATH                 a raw guest-physical memory image (read only)\n"
	      "\n"
	      "Options:\n"
	      "  -j, --json               machine-readable output\n"
	      "  -s, --stats              print timing (tool time, guest pause) to stderr\n"
	      "      --max-pause MS       give up (and undo) any attempt whose pause lasts longer\n"
	      "                           (default 500; GP_MAX_PAUSE_MS sets it too)\n"
	      "      --vmlinux FILE       take BTF from this vmlinux or vmlinuz\n"
	      "      --system-map FILE    take symbols from this System.map\n"
	      "      --no-cache           decode symbols and BTF from the guest, bypassing the host\n"
	      "                           cache (GP_CACHE=0 too; GP_CACHE_DIR moves it)\n"
	      "  -h, --help               this text\n",
	      f);
}

static int cmd_info(struct cli *c, int argc, char **argv)
{
	struct kern *k = c->k;
	struct kern_features f;
	struct lp_code_shape cs;
	struct gp_error *err;
	char shape_err[200] = "";
	int online = 0;

	kern_features(k, &f);
	for (unsigned i = 0; i < k->nr_cpu_ids; i++)
		online += kern_cpu_online(k, i);
	/* How patches would meet its code; a guest where that cannot be read
	 * is still described (the patch commands refuse it by name). */
	if ((err = lp_code_shape(k, &cs))) {
		snprintf(shape_err, sizeof(shape_err), "%s", err->msg);
		gp_error_destroy(err);
	}
	if (c->json) {
		json_object *o = json_object_new_object(), *fe;

		json_object_object_add(o, "release", json_object_new_string(k->release));
		json_object_object_add(o, "build_id", json_object_new_string(k->build_id));
		json_object_object_add(o, "kaslr_offset", json_object_new_string(cli_hex(k->kaslr_offset)));
		json_object_object_add(o, "phys_base", json_object_new_string(cli_hex(k->phys_base)));
		json_object_object_add(o, "boot_id", json_object_new_string(cli_hex(k->boot_id)));
		json_object_object_add(o, "boot_id_weak", json_object_new_boolean(k->boot_id_weak));
		if (k->boot_id_weak)
			json_object_object_add(o, "boot_id_why", json_object_new_string(k->boot_id_why));
		json_object_object_add(o, "paging_levels", json_object_new_int(k->levels));
		json_object_object_add(o, "vcpus", json_object_new_int(c->t->nr_vcpus));
		json_object_object_add(o, "online_cpus", json_object_new_int(online));
		json_object_object_add(o, "nr_cpu_ids", json_object_new_int((int)k->nr_cpu_ids));
		json_object_object_add(o, "vmcoreinfo", json_object_new_string(cli_hex(k->vi.pa)));
		json_object_object_add(o, "symbols", json_object_new_int64((int64_t)k->syms->nr));
		json_object_object_add(o, "symbol_source", json_object_new_string(k->sym_source));
		json_object_object_add(o, "btf_source", json_object_new_string(k->btf_source ? k->btf_source : ""));
		fe = json_object_new_object();
		json_object_object_add(fe, "livepatch", json_object_new_boolean(f.livepatch));
		json_object_object_add(fe, "orc", json_object_new_boolean(f.orc));
		json_object_object_add(fe, "btf", json_object_new_boolean(f.btf));
		json_object_object_add(fe, "ftrace", json_object_new_boolean(f.ftrace));
		json_object_object_add(o, "features", fe);
		if (shape_err[0]) {
			json_object_object_add(o, "code_shape_error", json_object_new_string(shape_err));
		} else {
			json_object_object_add(o, "returns", json_object_new_string(cs.ret_thunk ? cs.ret_name : "ret"));
			json_object_object_add(o, "ftrace_site_offset", json_object_new_int((int)cs.entry_off));
		}
		json_object_object_add(o, "attach_ms", json_object_new_double(k->attach_ns / 1e6));
		json_object_object_add(o, "attach_pause_ms", json_object_new_double(k->attach_pause_ns / 1e6));
		json_object_object_add(o, "cache", json_object_new_string(cli_cache_note(c)));
		cli_print_json(o);
		return 0;
	}
	printf("release:        %s\n", cli_str(k->release));
	printf("build id:       %s\n", k->build_id);
	printf("KASLR offset:   0x%" PRIx64 "\n", k->kaslr_offset);
	printf("phys_base:      0x%" PRIx64 "\n", k->phys_base);
	printf("boot id:        0x%016" PRIx64 "\n", k->boot_id);
	if (k->boot_id_weak)
		printf("boot identity:  layout only (%s): a reboot with the same layout is not told apart\n",
		       k->boot_id_why);
	printf("paging:         %d-level\n", k->levels);
	printf("vCPUs:          %d (kernel: %d online, nr_cpu_ids %u)\n",
	       c->t->nr_vcpus, online, k->nr_cpu_ids);
	printf("VMCOREINFO:     guest-physical 0x%" PRIx64 "\n", k->vi.pa);
	printf("symbols:        %zu from %s\n", k->syms->nr, k->sym_source);
	printf("BTF:            %s\n", k->btf_source ? k->btf_source : "none");
	printf("cache:          %s\n", cli_cache_note(c));
	printf("features:       livepatch=%s orc=%s btf=%s ftrace=%s\n",
	       f.livepatch ? "yes" : "no", f.orc ? "yes" : "no",
	       f.btf ? "yes" : "no", f.ftrace ? "yes" : "no");
	if (shape_err[0])
		printf("patch code:     cannot tell: %s\n", shape_err);
	else
		printf("patch code:     returns %s%s; ftrace site %s\n",
		       cs.ret_thunk ? "through " : "with a plain ret",
		       cs.ret_thunk ? cs.ret_name : " (the kernel's own returns are inline)",
		       cs.entry_off ? "4 bytes in, after endbr64 (IBT)" : "at function entry");
	return 0;
}

static int sym_one(struct cli *c, const char *arg)
{
	const struct ksym_table *t = c->k->syms;
	json_object *arr = c->json ? json_object_new_array() : NULL;
	char *end;
	uint64_t addr;
	const uint32_t *first;
	size_t n;

	errno = 0;
	addr = strtoull(arg, &end, 0);
	if (!errno && !*end && (!strncmp(arg, "0x", 2) || !strncmp(arg, "0X", 2))) {
		uint64_t off, size;
		const struct ksym *s = ksym_symbolize(t, addr, &off, &size);

		if (!s) {
			json_object_put(arr);
			fprintf(stderr, "vmm: sym: no symbol contains 0x%" PRIx64 "\n", addr);
			return 1;
		}
		if (arr) {
			json_object *o = json_object_new_object();

			json_object_object_add(o, "name", json_object_new_string(ksym_name(t, s)));
			json_object_object_add(o, "address", json_object_new_string(cli_hex(s->addr)));
			json_object_object_add(o, "type", json_object_new_string_len(&s->type, 1));
			json_object_object_add(o, "offset", json_object_new_int64((int64_t)off));
			json_object_object_add(o, "size", json_object_new_int64((int64_t)size));
			json_object_array_add(arr, o);
			cli_print_json(arr);
		} else {
			printf("%s+0x%" PRIx64 "/0x%" PRIx64 " (%016" PRIx64 " %c)\n",
			       cli_str(ksym_name(t, s)), off, size, s->addr, s->type);
		}
		return 0;
	}
	if (!ksym_find_all(t, arg, &first, &n)) {
		json_object_put(arr);
		fprintf(stderr, "vmm: sym: no symbol '%s' in the guest kernel\n", cli_str(arg));
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		const struct ksym *s = &t->syms[first[i]];

		if (arr) {
			json_object *o = json_object_new_object();

			json_object_object_add(o, "name", json_object_new_string(ksym_name(t, s)));
			json_object_object_add(o, "address", json_object_new_string(cli_hex(s->addr)));
			json_object_object_add(o, "type", json_object_new_string_len(&s->type, 1));
			json_object_object_add(o, "position", json_object_new_int((int)i + 1));
			json_object_array_add(arr, o);
		} else {
			printf("%016" PRIx64 " %c %s", s->addr, s->type, cli_str(ksym_name(t, s)));
			if (n > 1)
				printf("  [%zu of %zu]", i + 1, n);
			putchar('\n');
		}
	}
	if (arr)
		cli_print_json(arr);
	return 0;
}

static int cmd_sym(struct cli *c, int argc, char **argv)
{
	int ret = 0;

	if (argc < 1) {
		fprintf(stderr, "vmm: sym: missing NAME or ADDRESS\n");
		return 2;
	}
	for (int i = 0; i < argc; i++)
		ret |= sym_one(c, argv[i]);
	return ret;
}

static int cmd_ps(struct cli *c, int argc, char **argv)
{
	struct task_offsets o;
	struct task_list l;
	struct gp_error *err;

	err = task_offsets_init(c->k, &o);
	if (err)
		return cli_fail(err, "ps");
	err = tgt_pause(c->t);
	if (err)
		return cli_fail(err, "ps: pause");
	err = cli_resume(c, task_list_all(c->k, &o, &l));
	if (err)
		return cli_fail(err, "ps");
	if (c->json) {
		json_object *arr = json_object_new_array();

		for (size_t i = 0; i < l.nr; i++) {
			const struct task_info *ti = &l.v[i];
			json_object *x = json_object_new_object();

			json_object_object_add(x, "pid", json_object_new_int(ti->pid));
			json_object_object_add(x, "tgid", json_object_new_int(ti->tgid));
			json_object_object_add(x, "comm", json_object_new_string(ti->comm));
			json_object_object_add(x, "state", json_object_new_string_len(&ti->state_char, 1));
			json_object_object_add(x, "cpu", json_object_new_int(ti->cpu));
			json_object_object_add(x, "on_cpu", json_object_new_boolean(ti->on_cpu));
			json_object_object_add(x, "running_cpu", json_object_new_int(ti->running_cpu));
			json_object_object_add(x, "idle", json_object_new_boolean(ti->idle));
			json_object_object_add(x, "kthread", json_object_new_boolean(ti->flags & 0x00200000));
			json_object_object_add(x, "flags", json_object_new_string(cli_hex(ti->flags)));
			if (ti->patch_state != INT32_MIN)
				json_object_object_add(x, "patch_state", json_object_new_int(ti->patch_state));
			json_object_object_add(x, "task", json_object_new_string(cli_hex(ti->addr)));
			json_object_array_add(arr, x);
		}
		cli_print_json(arr);
	} else {
		printf("%7s %7s %-2s %3s %3s %-16s %s\n", "PID", "TGID", "S",
		       "CPU", "RUN", "COMM", "TASK");
		for (size_t i = 0; i < l.nr; i++) {
			const struct task_info *ti = &l.v[i];
			char run[16] = "-";

			if (ti->running_cpu >= 0)
				snprintf(run, sizeof(run), "%d", ti->running_cpu);
			printf("%7d %7d %-2c %3d %3s %-16s 0x%" PRIx64 "%s\n",
			       ti->pid, ti->tgid, ti->state_char, ti->cpu, run,
			       cli_str(ti->comm), ti->addr, ti->idle ? " idle" : "");
		}
	}
	cli_print_stats(c, "ps");
	if (c->stats)
		fprintf(stderr, "stats: ps listed %zu tasks\n", l.nr);
	task_list_free(&l);
	return 0;
}

static const struct command {
	const char *name;
	int (*fn)(struct cli *c, int argc, char **argv);
	bool stats_here;	/* main prints --stats after it */
	bool no_target;		/* takes no TARGET operand */
	/* Uses the region: says first if it is an earlier boot's, and what
	 * becomes of it (NULL: introspection, not its business). */
	const char *earlier_region;
} commands[] = {
	{ "info", cmd_info, true, false, NULL },
	{ "sym", cmd_sym, false, false, NULL },
	{ "ps", cmd_ps, false, false, NULL },
	{ "stack", cmd_stack, false, false, NULL },
	{ "patch", cmd_patch, false, false, "setting up anew" },
	{ "unpatch", cmd_unpatch, false, false, "the next `vmm patch` sets it up anew" },
	{ "list", cmd_list, false, false, "the next `vmm patch` sets it up anew" },
	{ "transition", cmd_transition, false, false, "the next `vmm patch` sets it up anew" },
	{ "recover", cmd_recover, false, false, NULL },	/* its report says it */
	{ "call", cmd_call, false, false, "the next `vmm patch` sets it up anew" },
	{ "build", cmd_build, false, true, NULL },
	{ "reconcile", cmd_reconcile, false, true, NULL },	/* attaches itself */
	{ "watch", cmd_watch, false, true, NULL },
	/* Read-only: they attach themselves, without the journal recovery
	 * (which may write). */
	{ "dmesg", cmd_dmesg, false, true, NULL },
	{ "health", cmd_health, false, true, NULL },
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "stats", no_argument, NULL, 's' },
		{ "vmlinux", required_argument, NULL, 'V' },
		{ "system-map", required_argument, NULL, 'M' },
		{ "all", no_argument, NULL, 'a' },
		{ "force", no_argument, NULL, 'f' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "model", required_argument, NULL, 'm' },
		{ "replace", no_argument, NULL, 'R' },
		{ "no-wait", no_argument, NULL, 'W' },
		{ "reverse", no_argument, NULL, 'r' },
		{ "signal", no_argument, NULL, 'S' },
		{ "output", required_argument, NULL, 'o' },
		{ "kernel", required_argument, NULL, 'K' },
		{ "build-id", required_argument, NULL, 'B' },
		{ "target", required_argument, NULL, 't' },
		{ "uri", required_argument, NULL, 'U' },
		{ "max-pause", required_argument, NULL, 'P' },
		{ "since", required_argument, NULL, 'N' },
		{ "no-cache", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct cli c = { 0 };
	struct gp_error *err;
	const struct command *ci = NULL;
	const char *cmd;
	int ch, ret;
	size_t i;

	if (argc > 1 && !strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "fleet"))
		return cmd_fleet(argc - 1, argv + 1);
	c.lock_fd = -1;
	/* SIGINT, SIGTERM, SIGHUP end the command between two pauses, never
	 * inside one; a killed vmm leaves the guest to its guardian, which
	 * rolls back the interrupted pause (the journal) and resumes it. */
	tgt_catch_signals();
	tgt_set_recover(lp_recover_hook);
	/* Options may come anywhere; the first operand is the command. */
	while ((ch = getopt_long(argc, argv, "jsho:", opts, NULL)) != -1) {
		switch (ch) {
		case 'j': c.json = true; break;
		case 's': c.stats = true; break;
		case 'a': c.all = true; break;
		case 'f': c.force = true; break;
		case 'R': c.replace = true; break;
		case 'W': c.no_wait = true; break;
		case 'r': c.reverse = true; break;
		case 'S': c.signal = true; break;
		case 'm':
			if (!strcmp(optarg, "per-task"))
				c.model = 2;
			else if (!strcmp(optarg, "global"))
				c.model = 1;
			else {
				fprintf(stderr, "vmm: --model %s: expected per-task or global\n", optarg);
				return 2;
			}
			break;
		case 'o': c.output = optarg; break;
		case 'K': c.kernel = optarg; break;
		case 'B': c.build_id = optarg; break;
		case 't': c.target = optarg; break;
		case 'U': c.uri = optarg; break;
		case 'T': {
			char *end;

			c.timeout_s = strtod(optarg, &end);
			if (*end || c.timeout_s <= 0 || c.timeout_s > 86400) {
				fprintf(stderr, "vmm: --timeout %s: expected seconds (0..86400)\n", optarg);
				return 2;
			}
			break;
		}
		case 'P': {
			char *end;

			c.max_pause_ms = strtol(optarg, &end, 10);
			if (*end || c.max_pause_ms <= 0 || c.max_pause_ms > 60000) {
				fprintf(stderr, "vmm: --max-pause %s: expected milliseconds (1..60000)\n",
					optarg);
				return 2;
			}
			break;
		}
		case 'N': {
			char *end;

			errno = 0;
			c.since = strtoull(optarg, &end, 10);
			if (errno || *end || !*optarg || *optarg == '-') {
				fprintf(stderr, "vmm: --since %s: expected a log sequence number\n", optarg);
				return 2;
			}
			c.have_since = true;
			break;
		}
		case 'V': c.kopts.vmlinux = optarg; break;
		case 'M': c.kopts.system_map = optarg; break;
		case 'C': c.kopts.no_cache = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	cmd = argv[optind++];
	for (i = 0; i < ARRAY_SIZE(commands) && !ci; i++)
		if (!strcmp(cmd, commands[i].name))
			ci = &commands[i];
	if (!ci) {
		fprintf(stderr, "vmm: unknown command '%s'\n", cmd);
		usage(stderr);
		return 2;
	}
	c.argv0 = argv[0];
	if (ci->no_target) {
		ret = ci->fn(&c, argc - optind, argv + optind);
		goto out;
	}
	if (optind >= argc) {
		fprintf(stderr, "vmm: %s: missing TARGET\n", cmd);
		return 2;
	}
	c.target = argv[optind++];
	if ((err = cli_lock(&c, argc - 1, argv + 1)) || (err = cli_attach(&c))) {
		ret = cli_fail(err, cmd);
		goto out;
	}
	if (c.max_pause_ms)
		c.t->max_pause_ns = (uint64_t)c.max_pause_ms * 1000000ull;
	/* Before anything else: finish what an interrupted vmm left (or drop
	 * what an earlier boot of the guest left). */
	if (strcmp(cmd, "recover") && c.t->ops->pause) {
		struct lp_attach_report rep;

		if ((err = lp_recover_journal(c.k, &rep))) {
			ret = cli_fail(err, cmd);
			goto out;
		}
		cli_say_rollback(&rep.journal);
		/* QMP cannot tell a user's `stop` from the stop a vmm killed
		 * mid-pause left (with its guardian gone too): an interrupted
		 * pause of this boot that the guest has not run since is ours,
		 * and the guest runs again at the end of this command. */
		if (c.t->frozen && rep.journal.found && !rep.journal.earlier_boot &&
		    !rep.journal.guest_ran) {
			fprintf(stderr, "vmm: the guest was left stopped by an interrupted vmm "
					"(pid %d, %s): it will run again\n",
				rep.journal.intent.pid, rep.journal.intent.op);
			tgt_thaw(c.t);
		}
		cli_say_call(&rep.call, rep.call_err);
		if (rep.callbacks[0])
			fprintf(stderr, "vmm: callbacks a livepatch module was owed ran: %s\n",
				cli_str(rep.callbacks));
		if (rep.callbacks_err[0])
			fprintf(stderr, "vmm: callbacks a livepatch module is owed could not run yet: %s\n",
				cli_str(rep.callbacks_err));
		if (rep.region_earlier_boot && ci->earlier_region)
			cli_say_earlier_region(ci->earlier_region);
	}
	ret = ci->fn(&c, argc - optind, argv + optind);
	if (ret == 0 && ci->stats_here)
		cli_print_stats(&c, cmd);
out:
	if (c.k)
		gp_error_destroy(lp_release(c.k));
	if (c.stats && c.k && c.t && !c.stats_printed)
		cli_print_stats(&c, cmd);	/* attach, its steps, the cache */
	if (c.stats && c.t)
		fprintf(stderr, "stats: %" PRIu64 " guest writes\n", c.t->stats.writes);
	kern_detach(c.k);
	tgt_close(c.t);
	if (c.lock_fd >= 0)
		close(c.lock_fd);
	return ret;
}
