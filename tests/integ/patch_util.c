// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdio.h>
#include <unistd.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include "gp_check.h"
#include "gp_hash.h"
#include "kernel.h"
#include "lp_region.h"
#include "patch_util.h"
#include "target.h"

void pu_up(struct rig **r, char *dir, size_t len, const char *tmpl, const char *flavor)
{
	char *msg = NULL;

	snprintf(dir, len, "%s", tmpl);
	if (!mkdtemp(dir))
		abort();
	/* A kernel other than amd64 has its test modules in an initramfs of
	 * its own where the Makefile builds one. */
	char initrd[300];
	struct stat st;

	snprintf(initrd, sizeof(initrd), "%s/guest/initramfs-%s.cpio.gz", rig_build_dir(),
		 flavor ? flavor : "");
	*r = rig_boot(&(struct rig_opts){ .cpus = 2, .flavor = flavor,
					  .initrd = flavor && !stat(initrd, &st) ? initrd : NULL },
		      &msg);
	if (!*r) {
		fprintf(stderr, "rig: %s\n", msg);
		abort();
	}
}

void pu_down(struct rig *r, const char *dir)
{
	char cmd[100];

	rig_kill(r);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", dir);
}

struct hashes pu_hash_guest(struct rig *r)
{
	static uint8_t buf[1 << 16];
	struct hashes h = { GP_FNV_OFFSET, GP_FNV_OFFSET };
	struct tgt *t = NULL;
	struct kern *k = NULL;
	uint64_t text, end, pa;

	ck_ok(tgt_open(rig_target(r), &t));
	ck_ok(kern_attach(t, NULL, &k));
	ck_ok(kern_sym(k, "_text", &text));
	ck_ok(kern_sym(k, "_etext", &end));
	ck_ok(tgt_pause(t));
	for (uint64_t va = text; va < end; va += sizeof(buf)) {
		size_t n = end - va < sizeof(buf) ? end - va : sizeof(buf);

		ck_ok(kern_v2p(k, va, &pa));
		ck_ok(tgt_read_phys(t, pa, buf, n));
		h.text = gp_fnv1a(h.text, buf, n);
	}
	for (uint64_t off = 0; off < LP_REGION_SIZE; off += sizeof(buf)) {
		ck_ok(tgt_read_phys(t, LP_REGION_PA + off, buf, sizeof(buf)));
		h.region = gp_fnv1a(h.region, buf, sizeof(buf));
	}
	ck_ok(tgt_resume(t));
	kern_detach(k);
	tgt_close(t);
	return h;
}

char *pu_guest(struct rig *r, const char *cmd)
{
	char *out = NULL;

	ck_assert_msg(rig_exec(r, cmd, &out, 120) == 0, "guest command failed: %s (%s)", cmd,
		      rig_describe(r));
	return out;
}

bool pu_guest_has(struct rig *r, const char *cmd, const char *needle)
{
	char *out = pu_guest(r, cmd);
	bool yes = strstr(out, needle) != NULL;

	free(out);
	return yes;
}

void pu_readers_start(struct rig *r, int n)
{
	char cmd[200];

	free(pu_guest(r, "printf 'while :; do cat /proc/cmdline; done > $1\\n' > /tmp/reader.sh"));
	for (int i = 1; i <= n; i++) {
		snprintf(cmd, sizeof(cmd), "rm -f /tmp/r%d; (sh /tmp/reader.sh /tmp/r%d 2>/dev/null &)", i, i);
		free(pu_guest(r, cmd));
	}
	free(pu_guest(r, "sleep 1"));
}

void pu_readers_stop(struct rig *r)
{
	free(pu_guest(r, "pkill -f reader.sh; sleep 0.3; true"));
}

int pu_vmm(struct rig *r, const char *sub, const char *rest, char **out, char **err)
{
	char args[1200];
	char *o = NULL, *e = NULL;
	int rc;

	snprintf(args, sizeof(args), "%s %s %s", sub, rig_target(r), rest ? rest : "");
	rc = rig_run_tool(r, args, &o, &e);
	if (out)
		*out = o;
	else
		free(o);
	if (err)
		*err = e;
	else
		free(e);
	return rc;
}

const char pu_kmsg_eof_src[] =
	"#include <guestpatch.h>\n"
	"GP_PATCH(\"kmsg-eof\");\n"
	"struct file;\n"
	"static long new_devkmsg_read(struct file *f, char *buf, unsigned long n, long long *pos)\n"
	"{\n"
	"	return 0;\n"
	"}\n"
	"GP_REPLACE(devkmsg_read, new_devkmsg_read);\n";

const char *pu_build(struct rig *r, const char *dir, const char *name, const char *src,
		     const char *extra)
{
	static char obj[200];
	char path[200], cmd[1200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.c", dir, name);
	snprintf(obj, sizeof(obj), "%s/%s.o", dir, name);
	if (src) {
		f = fopen(path, "w");
		ck_assert(f);
		fputs(src, f);
		fclose(f);
	} else {
		snprintf(path, sizeof(path), "guest-agent/examples/%s.c", name);
	}
	if (extra && strstr(extra, "--build-id"))
		snprintf(cmd, sizeof(cmd), "%s/vmm build %s -o %s %s >/dev/null", rig_build_dir(),
			 path, obj, extra);
	else
		snprintf(cmd, sizeof(cmd), "%s/vmm build %s -o %s %s --kernel %s >/dev/null",
			 rig_build_dir(), path, obj, extra ? extra : "", rig_kernel_path(r));
	ck_assert_msg(system(cmd) == 0, "%s", cmd);
	return obj;
}

const char *pu_klp_sample(const char *flavor, const char *file)
{
	static char path[4][300];
	static int n;
	char *p = path[n++ % 4];

	snprintf(p, 300, "%s/%s/%s", rig_build_dir(),
		 flavor ? "klp-samples-6.12-amd64" : "klp-samples", file);
	ck_assert_msg(access(p, R_OK) == 0, "%s missing: make klp-samples", p);
	return p;
}

void pu_no_oops(struct rig *r)
{
	char *out = pu_guest(r, "dmesg");

	ck_assert_msg(!strstr(out, "WARNING") && !strstr(out, "Oops") && !strstr(out, "BUG:"),
		      "%s", out);
	free(out);
}

uint64_t pu_region_pages_hash(struct rig *r)
{
	static uint8_t buf[4096];
	uint64_t h = GP_FNV_OFFSET;
	struct tgt *t = NULL;

	ck_ok(tgt_open(rig_target(r), &t));
	ck_ok(tgt_pause(t));
	for (unsigned p = LP_TRAMP_PAGE; p < LP_JOURNAL_PAGE; p++) {
		ck_ok(tgt_read_phys(t, LP_REGION_PA + p * 4096ull, buf, sizeof(buf)));
		h = gp_fnv1a(h, buf, sizeof(buf));
	}
	ck_ok(tgt_resume(t));
	tgt_close(t);
	return h;
}
