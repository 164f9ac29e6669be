// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The guest's kernel log read from outside (vmm dmesg) against the
 * guest's own view: busybox dmesg (syslog(2)) line for line, and
 * /dev/kmsg (tests/guest/kmsgdump.c) record for record with sequence
 * numbers, at boot, after thousands of lines have wrapped the ring, and
 * while the guest writes; --since; and vmm health: healthy when idle, a
 * real kernel WARN() (tests/klp/gp_test_warn.c) found and named, a line
 * user space forged through /dev/kmsg not taken for the kernel's, and a
 * guest paused through QMP found not running (and left paused).
 * One guest per kernel (6.1, 6.12), booted once per tcase.
 */
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gp_check.h"
#include "gp_time.h"
#include "rig/rig.h"

static struct rig *r;

static void boot(const char *flavor)
{
	char initrd[300], *msg = NULL;
	struct stat st;

	snprintf(initrd, sizeof(initrd), "%s/guest/initramfs-%s.cpio.gz", rig_build_dir(),
		 flavor ? flavor : "");
	r = rig_boot(&(struct rig_opts){ .cpus = 2, .flavor = flavor,
					 .initrd = flavor && !stat(initrd, &st) ? initrd : NULL },
		     &msg);
	if (!r) {
		fprintf(stderr, "rig: %s\n", msg);
		abort();
	}
}

static void up61(void) { boot(NULL); }
static void up612(void) { boot("6.12-amd64"); }
static void down(void) { rig_kill(r); }

/* `vmm CMD TARGET ARGS...`: its exit status; stdout in *out. */
static int vmm(char **out, char **err, const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int vmm(char **out, char **err, const char *cmd, const char *fmt, ...)
{
	char rest[512], args[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rest, sizeof(rest), fmt, ap);
	va_end(ap);
	snprintf(args, sizeof(args), "%s '%s' %s", cmd, rig_target(r), rest);
	return rig_run_tool(r, args, out, err);
}

static json_object *vmm_json(int want_rc, const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static json_object *vmm_json(int want_rc, const char *cmd, const char *fmt, ...)
{
	char rest[512], *out = NULL, *err = NULL;
	json_object *o;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(rest, sizeof(rest), fmt, ap);
	va_end(ap);
	rc = vmm(&out, &err, cmd, "--json %s", rest);
	ck_assert_msg(rc == want_rc, "vmm %s %s: exit %d (want %d): %s\n%.2000s", cmd, rest, rc,
		      want_rc, err, out);
	o = json_tokener_parse(out);
	ck_assert_msg(o, "vmm %s: not JSON: %.2000s", cmd, out);
	free(out);
	free(err);
	return o;
}

/* ---- lines ---- */

struct lines {
	char **v;
	size_t n;
};

/* Split at newlines; carriage returns and trailing blanks dropped (both
 * sides alike), empty lines dropped. */
static struct lines split(char *s)
{
	struct lines l = { 0 };

	for (char *p = s, *nl; p && *p; p = nl ? nl + 1 : NULL) {
		size_t n;

		nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		n = strlen(p);
		while (n && (p[n - 1] == '\r' || p[n - 1] == ' '))
			p[--n] = '\0';
		if (!n)
			continue;
		l.v = realloc(l.v, (l.n + 1) * sizeof(*l.v));
		ck_assert(l.v);
		l.v[l.n++] = p;
	}
	return l;
}

static bool has_line(const struct lines *l, const char *needle)
{
	for (size_t i = 0; i < l->n; i++)
		if (strstr(l->v[i], needle))
			return true;
	return false;
}

/*
 * vmm dmesg against busybox dmesg: the guest's lines are the last of
 * ours (syslog(2) returns what fits in a buffer of the log's size once
 * formatted, so after a wrap it may leave out a few of the oldest
 * records the ring still has); at most `extra` more lines on our side.
 * Returns our lines (caller frees v and *buf).
 */
static struct lines dmesg_vs_guest(size_t extra, char **buf, char **gbuf)
{
	struct lines ours, theirs;
	size_t glen, off;
	char *err = NULL;
	int rc;

	rc = vmm(buf, &err, "dmesg", "%s", "");
	ck_assert_msg(rc == 0, "vmm dmesg: %s", err);
	free(err);
	ck_assert_int_eq(rig_exec_bulk(r, "dmesg", gbuf, &glen, 300), 0);
	if (getenv("GP_KLOG_DEBUG")) {
		FILE *f = fopen("build/klog-ours.txt", "w");

		fputs(*buf, f);
		fclose(f);
		f = fopen("build/klog-theirs.txt", "w");
		fputs(*gbuf, f);
		fclose(f);
	}
	ours = split(*buf);
	theirs = split(*gbuf);
	ck_assert_msg(ours.n > 50 && theirs.n > 50, "%zu lines from vmm, %zu from the guest", ours.n,
		      theirs.n);
	/* Where the guest's first line is in ours: what the ring has
	 * beyond what syslog(2) returned. */
	for (off = 0; off < ours.n && strcmp(ours.v[off], theirs.v[0]); off++)
		;
	ck_assert_msg(off < ours.n, "the guest's first line is not in vmm dmesg: %s", theirs.v[0]);
	ck_assert_msg(off <= extra, "vmm dmesg has %zu lines before the guest's first", off);
	/* The guest may have logged a line or two after we read. */
	ck_assert_msg(theirs.n + off >= ours.n && theirs.n + off - ours.n <= 10,
		      "vmm dmesg has %zu lines, the guest's dmesg %zu (from our line %zu)", ours.n,
		      theirs.n, off);
	for (size_t i = 0; off + i < ours.n; i++)
		ck_assert_msg(!strcmp(ours.v[off + i], theirs.v[i]),
			      "line %zu of the guest's dmesg differs:\n  vmm:   %s\n  guest: %s", i,
			      ours.v[off + i], theirs.v[i]);
	free(theirs.v);
	return ours;
}

/* A record's text as /dev/kmsg shows it (msg_add_ext_text()). */
static char *kmsg_escape(const char *s)
{
	char *out = malloc(strlen(s) * 4 + 1), *p = out;

	ck_assert(out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < ' ' || c >= 127 || c == '\\')
			p += sprintf(p, "\\x%02x", c);
		else
			*p++ = (char)c;
	}
	*p = '\0';
	return out;
}

/* vmm dmesg --json against /dev/kmsg: the same first record, and every
 * record in both with the same sequence number and text.  Returns the
 * number of records compared. */
static size_t json_vs_kmsg(void)
{
	json_object *arr = vmm_json(0, "dmesg", "%s", "");
	char *kbuf = NULL;
	size_t klen, n = json_object_array_length(arr), same = 0;
	struct lines k;
	uint64_t first, last;

	ck_assert_int_eq(rig_exec_bulk(r, "kmsgdump", &kbuf, &klen, 300), 0);
	k = split(kbuf);
	ck_assert_msg(n > 50 && k.n > 50, "%zu records from vmm, %zu from /dev/kmsg", n, k.n);
	first = (uint64_t)json_object_get_int64(
		json_object_object_get(json_object_array_get_idx(arr, 0), "seq"));
	last = (uint64_t)json_object_get_int64(
		json_object_object_get(json_object_array_get_idx(arr, n - 1), "seq"));
	ck_assert_msg(strtoull(k.v[0], NULL, 10) == first,
		      "the oldest record: seq %llu by vmm, %s by /dev/kmsg",
		      (unsigned long long)first, k.v[0]);
	for (size_t i = 0; i < k.n; i++) {
		uint64_t seq = strtoull(k.v[i], NULL, 10);
		json_object *rec;
		char *esc;

		if (seq > last)
			break;	/* logged after vmm read */
		ck_assert_msg(seq - first < n, "seq %llu out of vmm's range", (unsigned long long)seq);
		rec = json_object_array_get_idx(arr, seq - first);
		ck_assert_uint_eq(json_object_get_int64(json_object_object_get(rec, "seq")), seq);
		esc = kmsg_escape(json_object_get_string(json_object_object_get(rec, "text")));
		/* split() dropped the trailing blanks of kmsg's line */
		for (size_t e = strlen(esc); e && esc[e - 1] == ' ';)
			esc[--e] = '\0';
		ck_assert_msg(!strcmp(esc, strchr(k.v[i], ' ') + 1),
			      "record %llu differs:\n  vmm:  %s\n  kmsg: %s", (unsigned long long)seq,
			      esc, strchr(k.v[i], ' ') + 1);
		free(esc);
		same++;
	}
	ck_assert_uint_eq(same, n);
	free(k.v);
	free(kbuf);
	json_object_put(arr);
	return same;
}

static void dmesg_at_boot(void)
{
	char *buf = NULL, *gbuf = NULL;
	struct lines ours = dmesg_vs_guest(0, &buf, &gbuf);

	/* Nothing wrapped yet: the log from its very first line. */
	ck_assert_msg(strstr(ours.v[0], "Linux version "), "first line: %s", ours.v[0]);
	ck_assert_msg(!strncmp(ours.v[0], "[    0.000000] ", 15), "first line: %s", ours.v[0]);
	free(ours.v);
	free(buf);
	free(gbuf);
	json_vs_kmsg();
}

#define FILL_LINES 2500
#define FILL_DOTS "................................................................"
#define FILL_FMT "gp-klog-fill %d " FILL_DOTS

/* The log at boot, the same on both sides from its first line; then
 * thousands of lines through /dev/kmsg, written while vmm reads: every
 * read consistent (no torn text, consecutive sequence numbers), and the
 * ring wrapped the same way on both sides.  (One test: the rig's bulk
 * channel keeps its place per process, and Check forks each test.) */
START_TEST(dmesg_matches_guest)
{
	char cmd[512], *buf = NULL, *gbuf = NULL, want[160];
	struct lines ours;
	int reads = 0, done = 0, midway = 0;
	uint64_t deadline;

	dmesg_at_boot();

	snprintf(cmd, sizeof(cmd),
		 "setsid sh -c 'i=0; while [ $i -lt %d ]; do echo \"gp-klog-fill $i " FILL_DOTS
		 "\" >/dev/kmsg; i=$((i+1)); [ $((i %% 25)) = 0 ] && usleep 50000; done' "
		 "</dev/null >/dev/null 2>&1 &",
		 FILL_LINES);
	ck_assert_int_eq(rig_exec(r, cmd, NULL, 120), 0);
	/* At least 200 reads, and on until the writer is done or 3 minutes
	 * passed: a fast vmm (~10 ms a read) makes 200 reads before the
	 * writer's 100 pauses of 50 ms are over. */
	deadline = gp_now_ns() + 180ull * 1000000000;
	for (int round = 0; !done && (round < 200 || gp_now_ns() < deadline); round++) {
		json_object *arr = vmm_json(0, "dmesg", "%s", "");
		size_t n = json_object_array_length(arr);
		uint64_t prev = 0;
		int top = -1;

		reads++;
		for (size_t i = 0; i < n; i++) {
			json_object *rec = json_object_array_get_idx(arr, i);
			uint64_t seq = (uint64_t)json_object_get_int64(json_object_object_get(rec, "seq"));
			const char *text = json_object_get_string(json_object_object_get(rec, "text"));
			int k;

			/* Nothing is lost at this pace: consecutive. */
			ck_assert_msg(i == 0 || seq == prev + 1, "seq %llu after %llu",
				      (unsigned long long)seq, (unsigned long long)prev);
			prev = seq;
			if (sscanf(text, "gp-klog-fill %d ", &k) == 1) {
				snprintf(want, sizeof(want), FILL_FMT, k);
				ck_assert_msg(!strcmp(text, want), "torn record %llu: %s",
					      (unsigned long long)seq, text);
				done |= k == FILL_LINES - 1;
				top = k > top ? k : top;
			}
		}
		midway += top >= 0 && top < FILL_LINES - 1;
		json_object_put(arr);
	}
	ck_assert_msg(done, "the guest's %d lines never all arrived (%d reads)", FILL_LINES, reads);
	ck_assert_msg(midway >= 1, "no read while the guest was writing (%d reads)", reads);
	/* The ring (128 KiB of text) holds about half of them now. */
	ours = dmesg_vs_guest(400, &buf, &gbuf);
	ck_assert(!has_line(&ours, "Linux version "));
	ck_assert(!has_line(&ours, "gp-klog-fill 0 "));
	ck_assert(has_line(&ours, "gp-klog-fill 2499 "));
	free(ours.v);
	free(buf);
	free(gbuf);
	ck_assert_uint_gt(json_vs_kmsg(), 800);
	fprintf(stderr, "klog: %d consistent reads, %d of them while the guest wrote\n", reads,
		midway);
}
END_TEST

static uint64_t next_seq(void)
{
	json_object *o = vmm_json(0, "health", "--timeout 60");
	uint64_t n = (uint64_t)json_object_get_int64(json_object_object_get(o, "log_next_seq"));

	json_object_put(o);
	return n;
}

START_TEST(dmesg_since)
{
	uint64_t n = next_seq();
	json_object *arr;

	ck_assert_int_eq(rig_exec(r, "for i in 1 2 3; do echo \"<5>gp-klog-since $i\" >/dev/kmsg; done",
				  NULL, 30), 0);
	arr = vmm_json(0, "dmesg", "--since %llu", (unsigned long long)n);
	ck_assert_uint_eq(json_object_array_length(arr), 3);
	for (int i = 0; i < 3; i++) {
		json_object *rec = json_object_array_get_idx(arr, i);
		char want[64];

		snprintf(want, sizeof(want), "gp-klog-since %d", i + 1);
		ck_assert_uint_eq(json_object_get_int64(json_object_object_get(rec, "seq")), n + i);
		ck_assert_str_eq(json_object_get_string(json_object_object_get(rec, "text")), want);
		ck_assert_int_eq(json_object_get_int(json_object_object_get(rec, "level")), 5);
		ck_assert_int_eq(json_object_get_int(json_object_object_get(rec, "facility")), 1);
	}
	json_object_put(arr);
	/* Past the end: nothing. */
	arr = vmm_json(0, "dmesg", "--since %llu", (unsigned long long)n + 3);
	ck_assert_uint_eq(json_object_array_length(arr), 0);
	json_object_put(arr);
}
END_TEST

#define TAINT_WARN (1ull << 9)

START_TEST(health_idle_then_warn)
{
	json_object *o, *bad;
	uint64_t n, taint0;
	const char *text;
	char *out = NULL, *err = NULL;
	int rc;

	/* Idle: healthy, jiffies moving, no --since: no scan. */
	o = vmm_json(0, "health", "--timeout 60");
	ck_assert(json_object_get_boolean(json_object_object_get(o, "healthy")));
	ck_assert(json_object_get_boolean(json_object_object_get(o, "jiffies_advanced")));
	ck_assert_uint_gt(json_object_get_int64(json_object_object_get(o, "jiffies_after")),
			  json_object_get_int64(json_object_object_get(o, "jiffies_before")));
	ck_assert(json_object_is_type(json_object_object_get(o, "since_seq"), json_type_null));
	ck_assert_str_eq(json_object_get_string(json_object_object_get(o, "reason")), "");
	n = (uint64_t)json_object_get_int64(json_object_object_get(o, "log_next_seq"));
	taint0 = (uint64_t)json_object_get_int64(json_object_object_get(o, "tainted"));
	ck_assert_msg(!(taint0 & TAINT_WARN), "tainted %llx before any warning",
		      (unsigned long long)taint0);
	json_object_put(o);

	/* No pause beyond the attach's: the log and jiffies are read from
	 * the RAM file while the guest runs. */
	{
		char *sout = NULL, *serr = NULL, *p;
		long pauses;

		rc = vmm(&sout, &serr, "health", "--stats --timeout 60");
		ck_assert_msg(rc == 0, "health --stats: %d %s", rc, serr);
		p = strstr(serr, " pauses, ");
		ck_assert_msg(p, "%s", serr);
		while (p > serr && p[-1] >= '0' && p[-1] <= '9')
			p--;
		pauses = strtol(p, NULL, 10);
		ck_assert_msg(pauses >= 1 && pauses <= 2, "health paused the guest %ld times: %s", pauses,
			      serr);
		free(sout);
		free(serr);
	}

	/* A user-space line that looks like a warning: /dev/kmsg gives it
	 * facility user, so it is not the kernel's. */
	ck_assert_int_eq(rig_exec(r, "echo '<4>WARNING: CPU: 0 PID: 1 at forged_by_user+0x0/0x0' >/dev/kmsg",
				  NULL, 30), 0);
	o = vmm_json(0, "health", "--since %llu --timeout 60", (unsigned long long)n);
	ck_assert(json_object_get_boolean(json_object_object_get(o, "healthy")));
	ck_assert_uint_eq(json_object_array_length(json_object_object_get(o, "bad")), 0);
	ck_assert_uint_eq(json_object_get_int64(json_object_object_get(o, "since_seq")), n);
	json_object_put(o);

	/* A real WARN() in the kernel. */
	ck_assert_int_eq(rig_exec(r, "insmod /bin/gp_test_warn.ko", NULL, 60), 0);
	o = vmm_json(4, "health", "--since %llu --timeout 60", (unsigned long long)n);
	ck_assert(!json_object_get_boolean(json_object_object_get(o, "healthy")));
	ck_assert(json_object_get_boolean(json_object_object_get(o, "jiffies_advanced")));
	bad = json_object_object_get(o, "bad");
	ck_assert_uint_ge(json_object_array_length(bad), 1);
	text = json_object_get_string(json_object_object_get(json_object_array_get_idx(bad, 0), "text"));
	ck_assert_msg(!strncmp(text, "WARNING: CPU: ", 14) && strstr(text, "gp_test_warn"),
		      "bad[0]: %s", text);
	ck_assert_uint_gt(json_object_get_int64(json_object_object_get(json_object_array_get_idx(bad, 0), "seq")),
			  n);
	ck_assert_msg(strstr(json_object_get_string(json_object_object_get(o, "reason")), "report"),
		      "reason: %s", json_object_get_string(json_object_object_get(o, "reason")));
	ck_assert(json_object_get_int64(json_object_object_get(o, "tainted")) & TAINT_WARN);
	n = (uint64_t)json_object_get_int64(json_object_object_get(o, "log_next_seq"));
	json_object_put(o);
	/* The text form names the line too. */
	rc = vmm(&out, &err, "health", "--since 0 --timeout 60");
	ck_assert_msg(rc == 4, "exit %d: %s", rc, err);
	ck_assert_msg(strstr(out, "healthy:  no") && strstr(out, "] WARNING: CPU: "), "%s", out);
	free(out);
	free(err);
	/* Since after it: healthy again. */
	o = vmm_json(0, "health", "--since %llu --timeout 60", (unsigned long long)n);
	ck_assert(json_object_get_boolean(json_object_object_get(o, "healthy")));
	json_object_put(o);
	/* A --since beyond the log: it started anew (a reboot). */
	o = vmm_json(4, "health", "--since %llu --timeout 60", (unsigned long long)n + 1000000);
	ck_assert_msg(strstr(json_object_get_string(json_object_object_get(o, "reason")), "rebooted"),
		      "%s", json_object_get_string(json_object_object_get(o, "reason")));
	json_object_put(o);
}
END_TEST

START_TEST(health_paused_guest)
{
	json_object *o;
	char *reply = NULL;

	ck_assert_msg(rig_qmp(r, "{\"execute\":\"stop\"}", &reply) == 0, "stop: %s", reply);
	free(reply);
	o = vmm_json(4, "health", "--timeout 2");
	ck_assert(!json_object_get_boolean(json_object_object_get(o, "healthy")));
	ck_assert(!json_object_get_boolean(json_object_object_get(o, "jiffies_advanced")));
	ck_assert_uint_eq(json_object_get_int64(json_object_object_get(o, "jiffies_after")),
			  json_object_get_int64(json_object_object_get(o, "jiffies_before")));
	ck_assert(json_object_get_boolean(json_object_object_get(o, "paused")));
	ck_assert_msg(strstr(json_object_get_string(json_object_object_get(o, "reason")), "jiffies did not advance"),
		      "%s", json_object_get_string(json_object_object_get(o, "reason")));
	json_object_put(o);
	/* Left paused as its user left it. */
	reply = NULL;
	ck_assert_int_eq(rig_qmp(r, "{\"execute\":\"query-status\"}", &reply), 0);
	ck_assert_msg(reply && strstr(reply, "\"paused\""), "%s", reply);
	free(reply);
	ck_assert_int_eq(rig_qmp(r, "{\"execute\":\"cont\"}", NULL), 0);
	o = vmm_json(0, "health", "--timeout 60");
	ck_assert(json_object_get_boolean(json_object_object_get(o, "healthy")));
	json_object_put(o);
}
END_TEST

/* Through the gdbstub alone (no RAM file): reads need the guest paused,
 * so the log is copied in one pause and jiffies in one each; the same
 * log, and healthy. */
START_TEST(gdbstub_only_target)
{
	char args[512], *a = NULL, *b = NULL, *err = NULL;
	struct lines la, lb;
	int rc;

	rc = vmm(&a, &err, "dmesg", "%s", "");
	ck_assert_msg(rc == 0, "dmesg: %s", err);
	free(err);
	snprintf(args, sizeof(args), "dmesg '%s'", rig_target_nomem(r));
	rc = rig_run_tool(r, args, &b, &err);
	ck_assert_msg(rc == 0, "dmesg (gdbstub only): %s", err);
	free(err);
	la = split(a);
	lb = split(b);
	ck_assert_uint_gt(la.n, 50);
	ck_assert_uint_ge(lb.n, la.n);
	for (size_t i = 0; i < la.n; i++)
		ck_assert_str_eq(la.v[i], lb.v[i]);
	free(la.v);
	free(lb.v);
	free(a);
	free(b);
	snprintf(args, sizeof(args), "health '%s' --json --timeout 60", rig_target_nomem(r));
	rc = rig_run_tool(r, args, &a, &err);
	ck_assert_msg(rc == 0 && strstr(a, "\"healthy\":true"), "health (gdbstub only): %d %s %s", rc,
		      a, err);
	free(a);
	free(err);
}
END_TEST

static TCase *tests(TCase *tc, void (*up)(void))
{
	tcase_set_timeout(tc, 900);
	tcase_add_unchecked_fixture(tc, up, down);
	tcase_add_test(tc, dmesg_matches_guest);
	tcase_add_test(tc, dmesg_since);
	tcase_add_test(tc, health_idle_then_warn);
	tcase_add_test(tc, health_paused_guest);
	tcase_add_test(tc, gdbstub_only_target);
	return tc;
}

static TCase *klog_tcase(void)
{
	return tests(tcase_create("klog"), up61);
}
GP_TCASE(klog_tcase)

static TCase *klog612_tcase(void)
{
	return tests(tcase_create("klog612"), up612);
}
GP_TCASE(klog612_tcase)
