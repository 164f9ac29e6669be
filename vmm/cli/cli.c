// SPDX-License-Identifier: GPL-2.0-or-later
/* Helpers shared by the vmm subcommands (see cli.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kcache.h"
#include "gp_str.h"

int cli_fail(struct gp_error *err, const char *what)
{
	int ret = err->code == GP_ERR_INTERRUPTED ? 130 : 1;
	const char *line = err->msg ? err->msg : "";

	/* Guest-chosen text may be in the message: escape it, line by line
	 * (the message's own newlines are kept). */
	fprintf(stderr, "vmm: %s: ", what);
	for (;;) {
		size_t n = strcspn(line, "\n");
		char *part = strndup(line, n);
		char *esc = part ? gp_str_escape_dup(part) : NULL;

		fputs(esc ? esc : "?", stderr);
		free(esc);
		free(part);
		if (!line[n])
			break;
		fputc('\n', stderr);
		line += n + 1;
	}
	fputc('\n', stderr);
	gp_error_destroy(err);
	return ret;
}

const char *cli_str(const char *s)
{
	/* Symbol names are at most 1 KiB (KSYM_NAME_LEN * 2), 4 KiB escaped. */
	static char buf[8][4 * 1024 + 1];
	static unsigned n;

	return gp_str_escape(s, buf[n++ % 8], sizeof(buf[0]));
}

void cli_print_json(json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

const char *cli_hex(uint64_t v)
{
	/* A few rotating buffers so one printf may use several. */
	static char buf[4][24];
	static unsigned n;
	char *b = buf[n++ % 4];

	snprintf(b, sizeof(buf[0]), "0x%" PRIx64, v);
	return b;
}

struct gp_error *cli_resume(struct cli *c, struct gp_error *err)
{
	return tgt_resume_keep(c->t, err);
}

struct gp_error *cli_attach(struct cli *c)
{
	struct gp_error *err = tgt_open(c->target, &c->t);

	if (err)
		return err;
	return kern_attach(c->t, &c->kopts, &c->k);
}

void cli_print_stats(struct cli *c, const char *what)
{
	if (!c->stats)
		return;
	c->stats_printed = true;
	fprintf(stderr,
		"stats: %s attach %.3f ms (guest paused %.3f ms of it); last pause %.3f ms (stop %.3f ms, resume %.3f ms); %" PRIu64
		" pauses, %.3f ms paused in all; %" PRIu64 " bytes read (%" PRIu64 " fast, %" PRIu64 " slow reads)\n",
		what, c->k ? c->k->attach_ns / 1e6 : 0.0, c->k ? c->k->attach_pause_ns / 1e6 : 0.0,
		c->t->stats.last_pause_ns / 1e6, c->t->stats.last_stop_ns / 1e6,
		c->t->stats.last_resume_ns / 1e6, c->t->stats.pauses,
		c->t->stats.pause_ns_total / 1e6, c->t->stats.bytes_read,
		c->t->stats.reads_fast, c->t->stats.reads_slow);
	if (c->k)
		fprintf(stderr, "stats: attach steps: VMCOREINFO %.3f ms, symbols %.3f ms, BTF %.3f ms, boot id and per-cpu %.3f ms; cache: %s\n",
			c->k->times.scan_ns / 1e6, c->k->times.syms_ns / 1e6, c->k->times.btf_ns / 1e6,
			c->k->times.rest_ns / 1e6, cli_cache_note(c));
}

const char *cli_cache_note(const struct cli *c)
{
	static char buf[500];

	if (!c->k)
		return "";
	kcache_note(c->k, buf, sizeof(buf));
	return buf;
}

