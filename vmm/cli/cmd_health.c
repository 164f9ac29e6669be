// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vmm dmesg and vmm health: the guest's kernel log read from outside
 * (introspect/klog.c), and a health check built on it and on jiffies.
 *
 * Both are read-only: they attach without the journal recovery the
 * patching commands do first (which may write), never write guest memory,
 * and pause the guest only as long as the attach needs (and, on a target
 * that reads memory only while paused, for each read).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gp_str.h"
#include "gp_time.h"
#include "klog.h"

#define HEALTH_WINDOW_S 5.0	/* default --timeout: how long jiffies may take to move */
#define HEALTH_POLL_US 10000
#define HEALTH_MAX_BAD 100

/* Bad usage: 2, as main's own checks. */
static int usage_error(const char *cmd, int argc, char **argv)
{
	if (argc < 1)
		fprintf(stderr, "vmm: %s: missing TARGET\n", cmd);
	else if (argc > 1)
		fprintf(stderr, "vmm: %s: unexpected operand '%s'\n", cmd, cli_str(argv[1]));
	else
		return 0;
	return 2;
}

/* Attach as the other commands do, minus the journal recovery. */
static struct gp_error *attach(struct cli *c, int argc, char **argv)
{
	struct gp_error *err;

	c->target = argv[0];
	if ((err = cli_lock(c, argc, argv)) || (err = cli_attach(c)))
		return err;
	return NULL;
}

/* ---- dmesg ---- */

/* One line as the guest's dmesg shows it: "[%5lu.%06lu] " and the text
 * (print_time() in kernel/printk/printk.c); bytes a terminal would act
 * on escaped, tabs kept. */
static void print_line(uint64_t ts_ns, const char *s, size_t n)
{
	char *part = strndup(s, n), *esc;

	printf("[%5" PRIu64 ".%06" PRIu64 "] ", ts_ns / UINT64_C(1000000000), ts_ns % UINT64_C(1000000000) / 1000);
	if (!part) {
		puts("?");
		return;
	}
	for (char *p = part, *q; *p; p = q) {
		q = p + strcspn(p, "\t");
		if (q > p) {
			char save = *q;

			*q = '\0';
			esc = gp_str_escape_dup(p);
			fputs(esc ? esc : "?", stdout);
			free(esc);
			*q = save;
		}
		if (*q == '\t')
			putchar(*q++);
	}
	putchar('\n');
	free(part);
}

/* A record's lines, each with the record's time stamp, as syslog(2) and
 * so the guest's dmesg give them (record_print_text()). */
static void print_record(const struct klog_record *r)
{
	const char *p = r->text, *end = r->text + r->text_len;

	do {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;

		print_line(r->ts_ns, p, (size_t)(eol - p));
		p = nl ? nl + 1 : end;
	} while (p < end);
}

static json_object *record_json(const struct klog_record *r)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "seq", json_object_new_int64((int64_t)r->seq));
	json_object_object_add(o, "ts_ns", json_object_new_int64((int64_t)r->ts_ns));
	json_object_object_add(o, "level", r->level < 0 ? NULL : json_object_new_int(r->level));
	json_object_object_add(o, "facility", r->facility < 0 ? NULL : json_object_new_int(r->facility));
	json_object_object_add(o, "text", json_object_new_string_len(r->text, (int)r->text_len));
	return o;
}

static bool dmesg_one(const struct klog_record *r, void *arg)
{
	json_object *arr = arg;

	if (arr)
		json_object_array_add(arr, record_json(r));
	else
		print_record(r);
	return true;
}

static int dmesg(struct cli *c, int argc, char **argv)
{
	json_object *arr;
	struct klog_stats st;
	struct gp_error *err;

	if (usage_error("dmesg", argc, argv))
		return 2;
	if ((err = attach(c, argc, argv)))
		return cli_fail(err, "dmesg");
	arr = c->json ? json_object_new_array() : NULL;
	if ((err = kern_klog_read(c->k, c->have_since ? c->since : 0, dmesg_one, arr, &st))) {
		json_object_put(arr);
		return cli_fail(err, "dmesg");
	}
	if (arr)
		cli_print_json(arr);
	if (c->stats)
		fprintf(stderr, "stats: dmesg %" PRIu64 " records, seq %" PRIu64 "..%" PRIu64
			" in the ring, %" PRIu64 " lost, %u retries\n",
			st.records, st.first_seq, st.next_seq, st.lost, st.retries);
	cli_print_stats(c, "dmesg");
	return 0;
}

/* ---- health ---- */

/*
 * What the kernel prints when something went wrong, as it prints it
 * (kernel/panic.c __warn() and panic(), arch/x86/kernel/dumpstack.c
 * __die_header(), arch/x86/mm/fault.c, kernel/watchdog.c,
 * kernel/hung_task.c, kernel/rcu/tree_stall.h).  `start`: only at the
 * start of a line.  Matched in the kernel's own records (facility 0):
 * user space writing to /dev/kmsg gets facility 1 or more and cannot
 * forge them.
 */
static const struct bad_pattern {
	const char *text;
	bool start;
} bad_patterns[] = {
	{ "WARNING: ", true },			/* WARN(), WARN_ON() */
	{ "BUG: ", false },			/* BUG: kernel NULL pointer dereference,
						 * BUG: unable to handle page fault,
						 * watchdog: BUG: soft lockup, ... */
	{ "kernel BUG at ", true },		/* BUG(), BUG_ON() */
	{ "Oops: ", true },			/* __die_header() */
	{ "general protection fault", true },	/* die_addr() before 6.10 */
	{ "Kernel panic - not syncing", false },	/* panic() */
	{ "nable to handle ", false },		/* (U|u)nable to handle kernel paging request, page fault */
	{ "soft lockup - CPU#", false },	/* watchdog */
	{ "hard LOCKUP", false },
	{ "blocked for more than ", false },	/* hung_task: INFO: task X:N blocked for more than N seconds. */
	{ "detected stall", false },		/* rcu: INFO: rcu_preempt (self-)detected stall(s) on CPU */
	{ "detected stalls on CPUs", false },
};

static const char *bad_match(const char *s, size_t n)
{
	for (size_t i = 0; i < ARRAY_SIZE(bad_patterns); i++) {
		const struct bad_pattern *b = &bad_patterns[i];
		size_t bl = strlen(b->text);

		if (b->start) {
			if (n >= bl && !memcmp(s, b->text, bl))
				return b->text;
		} else if (n >= bl && memmem(s, n, b->text, bl)) {
			return b->text;
		}
	}
	return NULL;
}

struct health_scan {
	json_object *bad;	/* array */
	uint64_t nbad, records;
};

static bool health_one(const struct klog_record *r, void *arg)
{
	struct health_scan *h = arg;
	const char *p = r->text, *end = r->text + r->text_len, *m = NULL;

	h->records++;
	if (r->facility > 0)
		return true;	/* user space's (/dev/kmsg), not the kernel's */
	while (p < end && !m) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;

		m = bad_match(p, (size_t)(eol - p));
		p = nl ? nl + 1 : end;
	}
	if (!m)
		return true;
	if (h->nbad++ < HEALTH_MAX_BAD) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "seq", json_object_new_int64((int64_t)r->seq));
		json_object_object_add(o, "ts_ns", json_object_new_int64((int64_t)r->ts_ns));
		json_object_object_add(o, "text", json_object_new_string_len(r->text, (int)r->text_len));
		json_object_object_add(o, "match", json_object_new_string(m));
		json_object_array_add(h->bad, o);
	}
	return true;
}

/* A u64 of the running guest; on a target that reads only paused, one
 * brief pause. */
static struct gp_error *read_live_u64(struct cli *c, uint64_t va, uint64_t *v)
{
	struct gp_error *err = kern_read_u64(c->k, va, v);

	if (!err || err->code != GP_ERR_BUSY || c->t->paused)
		return err;
	gp_error_destroy(err);
	if ((err = tgt_pause(c->t)))
		return err;
	return tgt_resume_keep(c->t, kern_read_u64(c->k, va, v));
}

static void add_reason(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void add_reason(char *buf, size_t size, const char *fmt, ...)
{
	size_t n = strlen(buf);
	va_list ap;

	if (n && n + 2 < size) {
		strcpy(buf + n, "; ");
		n += 2;
	}
	va_start(ap, fmt);
	vsnprintf(buf + n, size - n, fmt, ap);
	va_end(ap);
}

static int health(struct cli *c, int argc, char **argv)
{
	struct health_scan h = { 0 };
	struct klog_stats st = { 0 };
	struct gp_error *err;
	uint64_t jva, tva, j0 = 0, j1 = 0, taint = 0, start, window_ns;
	bool advanced = false, healthy, restarted = false;
	char reason[1024] = "";
	json_object *o;

	if (usage_error("health", argc, argv))
		return 2;
	if ((err = attach(c, argc, argv)))
		return cli_fail(err, "health: cannot attach");
	window_ns = (uint64_t)((c->timeout_s > 0 ? c->timeout_s : HEALTH_WINDOW_S) * 1e9);
	if (!kern_has_sym(c->k, "jiffies_64", &jva) && !kern_has_sym(c->k, "jiffies", &jva))
		return cli_fail(gp_error_create(GP_ERR_NOTFOUND,
						"the guest's kallsyms has neither jiffies_64 nor jiffies"),
				"health");
	if ((err = kern_sym(c->k, "tainted_mask", &tva)))
		return cli_fail(gp_error_wrap(err, "the guest's taint (tainted_mask)"), "health");
	if ((err = read_live_u64(c, jva, &j0)))
		return cli_fail(gp_error_wrap(err, "reading jiffies"), "health");
	start = gp_now_ns();
	/* The log and the taint while the guest runs on. */
	h.bad = json_object_new_array();
	if (c->have_since)
		err = kern_klog_read(c->k, c->since, health_one, &h, &st);
	else
		err = kern_klog_next_seq(c->k, &st.next_seq);
	if (!err)
		err = read_live_u64(c, tva, &taint);
	if (err) {
		json_object_put(h.bad);
		return cli_fail(err, "health: reading the guest's log");
	}
	/* jiffies: tens of ms apart at first; an idle tickless guest may
	 * sleep longer, so look again until the window ends. */
	do {
		gp_sleep_us(HEALTH_POLL_US);
		if ((err = read_live_u64(c, jva, &j1))) {
			json_object_put(h.bad);
			return cli_fail(gp_error_wrap(err, "reading jiffies"), "health");
		}
		advanced = j1 != j0;
	} while (!advanced && gp_now_ns() - start < window_ns && !tgt_interrupted());

	if (!advanced)
		add_reason(reason, sizeof(reason), "jiffies did not advance in %.1f s (%" PRIu64 ")%s",
			   (gp_now_ns() - start) / 1e9, j0,
			   c->t->frozen ? ": the guest is paused (its user stopped it)" :
					  ": the guest kernel does not run");
	if (c->have_since && c->since > st.next_seq) {
		restarted = true;
		add_reason(reason, sizeof(reason),
			   "the log's next sequence number %" PRIu64 " is below --since %" PRIu64
			   ": the guest rebooted (its log started anew)", st.next_seq, c->since);
	}
	if (h.nbad)
		add_reason(reason, sizeof(reason), "%" PRIu64 " kernel log record%s since %" PRIu64
			   " report%s a problem (first: seq %" PRIu64 ")", h.nbad, h.nbad == 1 ? "" : "s",
			   c->since, h.nbad == 1 ? "s" : "",
			   (uint64_t)json_object_get_int64(json_object_object_get(
				   json_object_array_get_idx(h.bad, 0), "seq")));
	healthy = advanced && !h.nbad && !restarted;

	if (c->json) {
		o = json_object_new_object();
		json_object_object_add(o, "healthy", json_object_new_boolean(healthy));
		json_object_object_add(o, "jiffies_advanced", json_object_new_boolean(advanced));
		json_object_object_add(o, "jiffies_before", json_object_new_int64((int64_t)j0));
		json_object_object_add(o, "jiffies_after", json_object_new_int64((int64_t)j1));
		json_object_object_add(o, "log_next_seq", json_object_new_int64((int64_t)st.next_seq));
		json_object_object_add(o, "since_seq", c->have_since ?
				       json_object_new_int64((int64_t)c->since) : NULL);
		json_object_object_add(o, "tainted", json_object_new_int64((int64_t)taint));
		json_object_object_add(o, "bad", h.bad);
		json_object_object_add(o, "reason", json_object_new_string(reason));
		/* Beyond the contract: what the scan saw. */
		if (c->have_since) {
			json_object_object_add(o, "log_first_seq", json_object_new_int64((int64_t)st.first_seq));
			json_object_object_add(o, "records_scanned", json_object_new_int64((int64_t)h.records));
			json_object_object_add(o, "lost", json_object_new_int64((int64_t)st.lost));
		}
		json_object_object_add(o, "paused", json_object_new_boolean(c->t->frozen));
		cli_print_json(o);
	} else {
		printf("healthy:  %s\n", healthy ? "yes" : "no");
		printf("jiffies:  %" PRIu64 " -> %" PRIu64 " (%s)\n", j0, j1,
		       advanced ? "advancing" : "not advancing");
		printf("log:      next seq %" PRIu64, st.next_seq);
		if (c->have_since)
			printf(" (since %" PRIu64 ": %" PRIu64 " records read, %" PRIu64
			       " lost before they could be read)", c->since, h.records, st.lost);
		putchar('\n');
		printf("tainted:  %" PRIu64 " (0x%" PRIx64 ")\n", taint, taint);
		for (size_t i = 0; i < json_object_array_length(h.bad); i++) {
			json_object *b = json_object_array_get_idx(h.bad, i);
			const char *text = json_object_get_string(json_object_object_get(b, "text"));
			uint64_t ts = (uint64_t)json_object_get_int64(json_object_object_get(b, "ts_ns"));

			printf("bad:      seq %" PRId64 " ",
			       json_object_get_int64(json_object_object_get(b, "seq")));
			print_line(ts, text, strcspn(text, "\n"));
		}
		if (*reason)
			printf("reason:   %s\n", cli_str(reason));
		json_object_put(h.bad);
	}
	cli_print_stats(c, "health");
	return healthy ? 0 : 4;
}

/* Detached here: main's end would look for an owner record of ours in
 * the guest (lp_release), which a read-only command never writes, and
 * on a target without a RAM file that look is one more pause. */
int cmd_dmesg(struct cli *c, int argc, char **argv)
{
	int ret = dmesg(c, argc, argv);

	kern_detach(c->k);
	c->k = NULL;
	return ret;
}

int cmd_health(struct cli *c, int argc, char **argv)
{
	int ret = health(c, argc, argv);

	kern_detach(c->k);
	c->k = NULL;
	return ret;
}
