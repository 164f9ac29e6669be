// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The host-side attach cache (introspect/kcache.c) on a real 6.1 guest:
 *
 *  - `vmm sym`, `vmm info`, `vmm stack --all`, `vmm ps` print the same
 *    with a cold cache, a warm one and --no-cache (`info` but for its
 *    "cache:" line, which says miss, then hit, then off);
 *  - the guest's /proc/kallsyms is the oracle for symbols served from the
 *    cache (every 1500th line, and named ones);
 *  - a cache file made for other kallsyms tables (as another build's file
 *    under this build id's name), one with a symbol's address changed
 *    (checksum fixed up, and not) are detected, said ("rebuilt (why)"),
 *    and the output is right; the next attach is a hit again; VMCOREINFO
 *    hints to pages without it are passed over;
 *  - after a reset with a new KASLR offset, the same build is served
 *    from the cache, and /proc/kallsyms agrees;
 *  - `vmm patch` / `vmm unpatch` of the shipped example through a warm
 *    cache: /proc/cmdline changes and goes back.
 *
 * The cache lives in a directory of the test's own (GP_CACHE_DIR, which
 * the vmm processes inherit).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gp_check.h"
#include "kcache.h"
#include "kernel.h"
#include "patch_util.h"
#include "rig/rig.h"
#include "target.h"

static struct rig *r;
static char dir[64], cache[128];

static void up(void)
{
	char *msg = NULL;

	snprintf(dir, sizeof(dir), "/tmp/gp-acache-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	snprintf(cache, sizeof(cache), "%s/cache", dir);
	setenv("GP_CACHE_DIR", cache, 1);
	unsetenv("GP_CACHE");
	r = rig_boot(&(struct rig_opts){ .cpus = 2, .reboot = true }, &msg);
	if (!r) {
		fprintf(stderr, "rig: %s\n", msg);
		abort();
	}
}

static void down(void)
{
	pu_down(r, dir);
	unsetenv("GP_CACHE_DIR");
}

static void empty_cache(void)
{
	char cmd[200];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", cache);
	ck_assert_int_eq(system(cmd), 0);
}

/* `vmm OPTS CMD TARGET ARGS`: stdout (malloc'd); stderr into *err. */
static char *vmm(const char *opts, const char *cmd, const char *args, char **err)
{
	char a[1200];
	char *out = NULL, *e = NULL;
	int rc;

	snprintf(a, sizeof(a), "%s %s %s %s", opts, cmd, rig_target(r), args ? args : "");
	rc = rig_run_tool(r, a, &out, &e);
	ck_assert_msg(rc == 0, "vmm %s: exit %d: %s", a, rc, e ? e : "");
	if (err)
		*err = e;
	else
		free(e);
	return out ? out : strdup("");
}

/* The "cache:" line of `vmm info`, cut out of out (which keeps the rest). */
static void cut_cache_line(char *out, char *note, size_t len)
{
	char *p = strstr(out, "\ncache:");
	char *e;

	ck_assert_msg(p, "no cache line in: %s", out);
	e = strchr(p + 1, '\n');
	ck_assert(e);
	snprintf(note, len, "%.*s", (int)(e - p - 1 - 6), p + 7);
	while (*note == ' ')
		memmove(note, note + 1, strlen(note));
	memmove(p, e, strlen(e) + 1);
}

static char sym_args[300];
static const char *cmds[][2] = {
	{ "sym", sym_args },
	{ "info", NULL },
	{ "ps", NULL },
	{ "stack", "--all" },
};

/* Three rounds at most: the guest may change between runs (a kworker
 * comes or goes, a task wakes); a difference the cache makes is in all. */
START_TEST(same_output_cold_warm_uncached)
{
	int same_rounds = 0;
	char *so = vmm("--no-cache", "sym", "schedule", NULL);

	/* Names, a static name with duplicates, and an address inside
	 * schedule (KASLR moves it). */
	snprintf(sym_args, sizeof(sym_args),
		 "schedule _stext cmdline_proc_show init_task do_one_initcall 0x%llx",
		 strtoull(so, NULL, 16) + 0x10);
	free(so);

	for (int round = 0; round < 3 && !same_rounds; round++) {
		char *o[3][4], note[3][200];
		bool same = true;

		for (int v = 0; v < 3; v++) {
			if (v == 0)
				empty_cache();
			for (size_t c = 0; c < 4; c++) {
				/* The cold run is the first command after emptying. */
				o[v][c] = vmm(v == 2 ? "--no-cache" : "", cmds[c][0], cmds[c][1], NULL);
				if (!strcmp(cmds[c][0], "info"))
					cut_cache_line(o[v][c], note[v], sizeof(note[v]));
			}
		}
		/* sym ran first, so info after it is already warm: the cold
		 * attach is checked with info below. */
		ck_assert_str_eq(note[1], "hit");
		ck_assert_str_eq(note[2], "off");
		for (size_t c = 0; c < 4; c++) {
			bool eq = !strcmp(o[0][c], o[1][c]) && !strcmp(o[1][c], o[2][c]);

			if (!eq) {
				fprintf(stderr, "acache: round %d: vmm %s differs (cold %zu, warm %zu, uncached %zu bytes)\n",
					round, cmds[c][0], strlen(o[0][c]), strlen(o[1][c]), strlen(o[2][c]));
				/* Symbols and info do not depend on timing. */
				ck_assert_msg(c >= 2, "vmm %s: cold:\n%s\nwarm:\n%s\nuncached:\n%s", cmds[c][0],
					      o[0][c], o[1][c], o[2][c]);
			}
			same = same && eq;
		}
		for (int v = 0; v < 3; v++)
			for (size_t c = 0; c < 4; c++)
				free(o[v][c]);
		same_rounds += same;
	}
	ck_assert_msg(same_rounds, "ps/stack differed in every round");
	/* The cold attach itself. */
	{
		char *out, note[200];

		empty_cache();
		out = vmm("", "info", NULL, NULL);
		cut_cache_line(out, note, sizeof(note));
		ck_assert_str_eq(note, "miss");
		free(out);
		out = vmm("", "info", NULL, NULL);
		cut_cache_line(out, note, sizeof(note));
		ck_assert_str_eq(note, "hit");
		free(out);
	}
}
END_TEST

/* Symbols served from a warm cache against /proc/kallsyms: every 1500th
 * line and a few by name, index for index (core lines precede modules'). */
static void kallsyms_oracle(struct kern *k)
{
	char *out = NULL, *line, *save = NULL;
	size_t checked = 0;

	ck_assert_int_eq(rig_exec(r, "awk 'NR % 1500 == 1 { print NR, $0 }' /proc/kallsyms; grep -nE ' (schedule|_stext|cmdline_proc_show|init_task|__per_cpu_offset|nr_cpu_ids)$' /proc/kallsyms | tr : ' '",
				  &out, 120),
			 0);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long long addr;
		unsigned long nr;
		char type, name[600];
		const struct ksym *s;

		if (strchr(line, '['))
			continue;
		ck_assert_msg(sscanf(line, "%lu %llx %c %599s", &nr, &addr, &type, name) == 4, "line '%s'",
			      line);
		ck_assert_msg(nr >= 1 && nr <= k->syms->nr, "line %lu of %zu", nr, k->syms->nr);
		s = &k->syms->syms[nr - 1];
		ck_assert_msg(s->addr == addr && s->type == type && !strcmp(ksym_name(k->syms, s), name),
			      "/proc/kallsyms line %lu '%s', ours %016llx %c %s", nr, line,
			      (unsigned long long)s->addr, s->type, ksym_name(k->syms, s));
		checked++;
	}
	ck_assert_msg(checked > 50, "only %zu symbols compared", checked);
	free(out);
}

static struct kern *attach(struct tgt **t)
{
	struct kern *k = NULL;

	ck_ok(tgt_open(rig_target(r), t));
	ck_ok(kern_attach(*t, NULL, &k));
	return k;
}

START_TEST(proc_kallsyms_through_cache)
{
	struct tgt *t = NULL;
	struct kern *k;

	empty_cache();
	k = attach(&t);
	ck_assert_str_eq(k->cache_syms, "miss");
	kern_detach(k);
	tgt_close(t);
	k = attach(&t);
	ck_assert_str_eq(k->cache_syms, "hit");
	ck_assert_str_eq(k->cache_btf, "hit");
	kallsyms_oracle(k);
	kern_detach(k);
	tgt_close(t);
}
END_TEST

/* The syms file, read whole; *len its size. */
static uint8_t *read_syms(const char *bid, size_t *len)
{
	char path[300];
	FILE *f;
	uint8_t *b;
	struct stat st;

	kcache_path(path, sizeof(path), cache, bid, KCACHE_SYMS);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	f = fopen(path, "rb");
	ck_assert(f);
	b = malloc((size_t)st.st_size);
	ck_assert_int_eq(fread(b, 1, (size_t)st.st_size, f), st.st_size);
	fclose(f);
	*len = (size_t)st.st_size;
	return b;
}

static void write_syms(const char *bid, uint8_t *b, size_t len, bool fix)
{
	char path[300];
	FILE *f;

	if (fix) {
		struct kcache_hdr h;

		memcpy(&h, b, sizeof(h));
		h.payload_hash = kcache_hash(b + sizeof(h), len - sizeof(h), 0);
		memcpy(b, &h, sizeof(h));
	}
	kcache_path(path, sizeof(path), cache, bid, KCACHE_SYMS);
	f = fopen(path, "wb");
	ck_assert(f);
	ck_assert_int_eq(fwrite(b, 1, len, f), len);
	fclose(f);
	ck_assert_int_eq(chmod(path, 0600), 0);
}

/* `vmm --stats sym cmdline_proc_show`: its output equals want, and the
 * stats line says the cache note; returns it (static). */
static const char *sym_and_note(const char *want)
{
	static char note[300];
	char *err = NULL, *out = vmm("--stats", "sym", "cmdline_proc_show schedule", &err);
	const char *p = strstr(err, "; cache: ");

	ck_assert_msg(p, "no cache note in: %s", err);
	snprintf(note, sizeof(note), "%.*s", (int)strcspn(p + 9, "\n"), p + 9);
	ck_assert_str_eq(out, want);
	free(out);
	free(err);
	return note;
}

START_TEST(tampered_and_foreign_files_rebuilt)
{
	struct tgt *t = NULL;
	struct kern *k;
	char bid[41], *want;
	const char *note;
	size_t len, head_at = sizeof(struct kcache_hdr);
	uint8_t *orig, *b;
	uint32_t idx;

	empty_cache();
	k = attach(&t);
	snprintf(bid, sizeof(bid), "%s", k->build_id);
	{
		const struct ksym *s;

		ck_ok(ksym_lookup(k->syms, "cmdline_proc_show", 0, &s));
		idx = s->index;
	}
	kern_detach(k);
	tgt_close(t);
	want = vmm("--no-cache", "sym", "cmdline_proc_show schedule", NULL);
	orig = read_syms(bid, &len);
	b = malloc(len);

	/* Another kernel's file under this build id's name: its tables hash
	 * is not this guest's. */
	memcpy(b, orig, len);
	((struct kcache_syms_head *)(b + head_at))->tables_hash ^= 0x5a5a;
	write_syms(bid, b, len, true);
	note = sym_and_note(want);
	ck_assert_msg(strstr(note, "rebuilt (the guest's kallsyms tables differ)"), "note: %s", note);
	ck_assert_str_eq(sym_and_note(want), "hit");

	/* cmdline_proc_show's address moved by 16, checksum fixed up. */
	for (int fix = 1; fix >= 0; fix--) {
		struct kcache_sym *cs = (void *)(b + head_at + sizeof(struct kcache_syms_head));

		memcpy(b, orig, len);
		cs[idx].addr_rel += 16;
		write_syms(bid, b, len, fix);
		note = sym_and_note(want);
		if (fix)
			ck_assert_msg(strstr(note, "rebuilt (symbol ") && strstr(note, "in the guest"),
				      "note: %s", note);
		else
			ck_assert_msg(strstr(note, "rebuilt (checksum mismatch)"), "note: %s", note);
		ck_assert_str_eq(sym_and_note(want), "hit");
	}
	/* Another build id's file (header and all) copied under this name. */
	memcpy(b, orig, len);
	memcpy(((struct kcache_hdr *)b)->build_id, "0000000000", 10);
	write_syms(bid, b, len, false);
	note = sym_and_note(want);
	ck_assert_msg(strstr(note, "rebuilt (the file is of another build id)"), "note: %s", note);
	ck_assert_str_eq(sym_and_note(want), "hit");
	/* Garbage. */
	memset(b, 0x41, len);
	write_syms(bid, b, len / 3, false);
	note = sym_and_note(want);
	ck_assert_msg(strstr(note, "rebuilt (bad header)"), "note: %s", note);
	/* A VMCOREINFO hint to a page that holds none, then one to the
	 * guest's last page: each is tried, refused, and the scan finds it. */
	for (int i = 0; i < 2; i++) {
		const char *spec = rig_target(r);
		uint64_t hint[2] = { kcache_hash(spec, strlen(spec), 7), i ? (256ull << 20) - 4096 : 0x1000 };

		ck_ok(kcache_write(cache, "0", KCACHE_VMCI, hint, sizeof(hint)));
		ck_assert_str_eq(sym_and_note(want), "hit");
	}
	free(b);
	free(orig);
	free(want);
}
END_TEST

/* The same build after a reset with another KASLR offset: a hit, moved. */
START_TEST(new_kaslr_offset_served)
{
	struct tgt *t = NULL;
	struct kern *k;
	uint64_t before;
	char *reply = NULL;
	int tries = 0;

	k = attach(&t);
	before = k->kaslr_offset;
	kern_detach(k);
	tgt_close(t);
	do {
		ck_assert_msg(rig_qmp(r, "{\"execute\":\"system_reset\"}", &reply) == 0, "system_reset: %s",
			      reply ? reply : "");
		free(reply);
		reply = NULL;
		ck_assert_msg(rig_wait_boot(r, 240) == 0, "no reboot: %s", rig_describe(r));
		k = attach(&t);
		if (k->kaslr_offset != before)
			break;
		kern_detach(k);
		tgt_close(t);	/* the same slot by chance: once more */
	} while (++tries < 3);
	ck_assert_msg(k->kaslr_offset != before, "KASLR offset 0x%llx three times",
		      (unsigned long long)before);
	fprintf(stderr, "acache: KASLR 0x%llx -> 0x%llx: symbols %s, BTF %s\n",
		(unsigned long long)before, (unsigned long long)k->kaslr_offset, k->cache_syms,
		k->cache_btf);
	ck_assert_str_eq(k->cache_syms, "hit");
	ck_assert_str_eq(k->cache_btf, "hit");
	kallsyms_oracle(k);
	kern_detach(k);
	tgt_close(t);
}
END_TEST

START_TEST(patch_through_warm_cache)
{
	const char *obj = pu_build(r, dir, "cmdline_marker", NULL, NULL);
	char args[300], *err = NULL, *out;

	free(vmm("", "info", NULL, NULL));	/* warm */
	snprintf(args, sizeof(args), "%s", obj);
	out = vmm("--stats", "patch", args, &err);
	ck_assert_msg(strstr(err, "; cache: hit"), "patch stats: %s", err);
	free(out);
	free(err);
	ck_assert(pu_guest_has(r, "cat /proc/cmdline", "guestpatch: cmdline-marker applied"));
	out = vmm("--stats", "unpatch", "cmdline-marker", &err);
	ck_assert_msg(strstr(err, "; cache: hit"), "unpatch stats: %s", err);
	free(out);
	free(err);
	ck_assert(!pu_guest_has(r, "cat /proc/cmdline", "cmdline-marker applied"));
}
END_TEST

static TCase *acache_tcase(void)
{
	TCase *tc = tcase_create("acache");

	tcase_set_timeout(tc, 900);
	tcase_add_unchecked_fixture(tc, up, down);
	tcase_add_test(tc, same_output_cold_warm_uncached);
	tcase_add_test(tc, proc_kallsyms_through_cache);
	tcase_add_test(tc, tampered_and_foreign_files_rebuilt);
	tcase_add_test(tc, patch_through_warm_cache);
	tcase_add_test(tc, new_kaslr_offset_served);
	return tc;
}
GP_TCASE(acache_tcase)
