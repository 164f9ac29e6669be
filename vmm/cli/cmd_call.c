// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cmd_call.c - `vmm call TARGET SYMBOL [ARG] [--timeout S]`, a debugging
 * command: the guest runs SYMBOL(ARG) in process context (a kworker) and
 * the value it returns is printed (patch/lp_call.c).  SYMBOL is one of
 * the guest's kallsyms, unique or written NAME:N for the N-th duplicate.
 * Also what every command says about a call an earlier vmm left.
 *
 * `vmm call TARGET FILE.ko [NAME=VALUE...]`: a plain kernel module run
 * once, as insmod then rmmod would run it, without the guest's module
 * loader (patch/lp_kmod_run.h): its init, its exit, its pages freed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "lp_kmod.h"
#include "lp_kmod_run.h"
#include "lp_patch.h"

void cli_say_call(const struct lp_call_leftover *l, const char *err)
{
	if (err && err[0])
		fprintf(stderr, "vmm: a call left in the guest by an earlier vmm could not be looked at: %s\n",
			cli_str(err));
	if (!l->found)
		return;
	if (l->cleaned && l->ran)
		fprintf(stderr,
			"vmm: a call of 0x%" PRIx64 "(0x%" PRIx64 ") left by vmm pid %d had returned %" PRId64 " (0x%" PRIx64 "): its pages are freed\n",
			l->fn, l->arg, l->pid, l->ret, (uint64_t)l->ret);
	else if (l->cleaned)
		fprintf(stderr,
			"vmm: a call of 0x%" PRIx64 "(0x%" PRIx64 ") left by vmm pid %d had not been queued: cancelled, its pages are freed\n",
			l->fn, l->arg, l->pid);
	else
		fprintf(stderr,
			"vmm: a call of 0x%" PRIx64 "(0x%" PRIx64 ") left by vmm pid %d is still in flight in the guest (%s): its pages stay reserved until a later command sees it finished\n",
			l->fn, l->arg, l->pid, cli_str(l->state));
}

static struct gp_error *parse_symbol(struct kern *k, const char *arg, uint64_t *addr)
{
	char name[256];
	const char *colon = strrchr(arg, ':');
	unsigned long pos = 0;
	const struct ksym *s;
	struct gp_error *err;

	if (snprintf(name, sizeof(name), "%s", arg) >= (int)sizeof(name))
		return gp_error_create(GP_ERR_INVAL, "symbol name too long");
	if (colon) {
		char *end;

		errno = 0;
		pos = strtoul(colon + 1, &end, 10);
		if (errno || *end || !pos)
			return gp_error_create(GP_ERR_INVAL, "'%s': expected NAME or NAME:N (N from 1)",
					       arg);
		name[colon - arg] = 0;
	}
	if ((err = ksym_lookup(k->syms, name, pos, &s)))
		return err;
	if (s->type != 't' && s->type != 'T' && s->type != 'w' && s->type != 'W')
		return gp_error_create(GP_ERR_INVAL, "'%s' is not a function (kallsyms type %c)", name,
				       s->type);
	*addr = s->addr;
	return NULL;
}

static bool is_ko(const char *a)
{
	size_t n = strlen(a);

	return (n > 3 && !strcmp(a + n - 3, ".ko")) || (strchr(a, '/') && lp_kmod_file_is_module(a));
}

static int call_module(struct cli *c, int argc, char **argv)
{
	struct lp_kmod_run_report rep;
	struct gp_error *err;

	for (int i = 1; i < argc; i++)
		if (!strchr(argv[i], '='))
			return cli_fail(gp_error_create(GP_ERR_INVAL,
							"'%s': a module's parameters are NAME=VALUE",
							argv[i]), "call");
	err = lp_kmod_run(c->k, argv[0], (const char *const *)argv + 1, argc - 1, c->timeout_s,
			  &rep);
	if (rep.log_err[0])
		fprintf(stderr, "vmm: what the module is owed could not run yet: %s\n",
			cli_str(rep.log_err));
	if (err)
		return cli_fail(err, "call");
	if (c->json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "module", json_object_new_string(rep.name));
		json_object_object_add(o, "init_ret", json_object_new_int(rep.init_ret));
		json_object_object_add(o, "ran_after_init", json_object_new_string(rep.log));
		cli_print_json(o);
	} else {
		printf("%s: init_module returned %d; %s; its pages are freed\n", cli_str(rep.name),
		       rep.init_ret, rep.has_exit ? "cleanup_module ran" : "it has no cleanup_module");
	}
	cli_print_stats(c, "call");
	return 0;
}

int cmd_call(struct cli *c, int argc, char **argv)
{
	uint64_t fn, arg = 0;
	int64_t ret = 0;
	struct gp_error *err;

	if (argc >= 1 && is_ko(argv[0]))
		return call_module(c, argc, argv);
	if (argc < 1 || argc > 2)
		return cli_fail(gp_error_create(GP_ERR_INVAL, "expected SYMBOL [ARG]"), "call");
	if ((err = parse_symbol(c->k, argv[0], &fn)))
		return cli_fail(err, "call");
	if (argc == 2) {
		char *end;

		errno = 0;
		arg = argv[1][0] == '-' ? (uint64_t)strtoll(argv[1], &end, 0)
					: strtoull(argv[1], &end, 0);
		if (errno || *end || !argv[1][0])
			return cli_fail(gp_error_create(GP_ERR_INVAL,
							"ARG '%s': expected a number (decimal or 0x...)",
							argv[1]), "call");
	}
	if ((err = lp_call(c->k, fn, arg, c->timeout_s, &ret)))
		return cli_fail(err, "call");
	if (c->json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "symbol", json_object_new_string(argv[0]));
		json_object_object_add(o, "address", json_object_new_string(cli_hex(fn)));
		json_object_object_add(o, "arg", json_object_new_string(cli_hex(arg)));
		json_object_object_add(o, "ret", json_object_new_int64(ret));
		cli_print_json(o);
	} else {
		printf("%s(0x%" PRIx64 ") returned %" PRId64 " (0x%" PRIx64 ")\n", cli_str(argv[0]),
		       arg, ret, (uint64_t)ret);
	}
	cli_print_stats(c, "call");
	return 0;
}
