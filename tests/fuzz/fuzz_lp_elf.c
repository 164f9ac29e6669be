// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_lp_elf: the patch object loader and linker (patch/lp_elf.c). The
 * input is an ELF file, opened as a patch (lp_obj_open, lp_obj_sizes,
 * lp_obj_link against a fake kernel) and as a guest-agent object whose
 * sections are linked as pieces (lp_obj_open_pieces, lp_obj_link_pieces),
 * one by one and all together; and as a Linux livepatch module
 * (lp_kmod_open, lp_kmod_check, lp_kmod_link against a made-up guest:
 * exports with CRCs, kallsyms, BTF of the livepatch structures), and as a
 * plain module run by vmm call (lp_kmod_open_run, lp_kmod_run_check, the
 * same check and link).
 */
#include <bpf/btf.h>

#include "fuzz.h"
#include "lp_elf.h"
#include "lp_kmod.h"
#include "lp_kmod_run.h"

#define KSYM_BASE 0xffffffffb8000000ull
#define CODE_VA 0xffffffffbb000000ull

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every name resolves near the kernel text, but for "missing_*" (absent)
 * and "far_*" (out of rel32 reach), as in tests/unit/test_lp_elf.c. */
static struct gp_error *resolve(void *arg, const char *name, uint64_t *addr)
{
	uint64_t h = 0;

	(void)arg;
	if (!strncmp(name, "missing_", 8))
		return gp_error_create(GP_ERR_NOTFOUND, "no symbol '%s'", name);
	if (!strncmp(name, "far_", 4)) {
		*addr = 0xffff888000000000ull;
		return NULL;
	}
	for (const char *c = name; *c; c++)
		h = h * 31 + (unsigned char)*c;
	*addr = KSYM_BASE + (h % 0x100000) * 16;
	return NULL;
}

static const char *const pieces[] = {
	".text.gp_int3", ".text.gp_ftrace_nop", ".text.gp_jmp", ".text.gp_dispatch",
	".text.gp_agent_head", ".text.gp_agent_kthread", ".text.gp_agent_user",
	".text.gp_agent_done", ".text.gp_agent_out", ".text", ".data",
};
#define NPIECES (sizeof(pieces) / sizeof(pieces[0]))

/* The made-up guest of tests/unit/test_lp_kmod.c: the structures with
 * the fields lp_kmod reads, at 6.1's offsets. */
static struct kbtf *kmod_btf(void)
{
	static struct kbtf *kb;
	struct btf *b;
	int ch, ul, bo, vp, arr, cb;
	const void *raw;
	__u32 size;

	if (kb)
		return kb;
	b = btf__new_empty();
	ch = btf__add_int(b, "char", 1, BTF_INT_SIGNED);
	ul = btf__add_int(b, "long unsigned int", 8, 0);
	bo = btf__add_int(b, "_Bool", 1, BTF_INT_BOOL);
	vp = btf__add_ptr(b, 0);
	arr = btf__add_array(b, ul, ch, 56);
	btf__add_struct(b, "module", 896);
	btf__add_field(b, "name", arr, 24 * 8, 0);
	btf__add_struct(b, "klp_func", 24);
	btf__add_field(b, "old_name", vp, 0, 0);
	btf__add_field(b, "new_func", vp, 64, 0);
	btf__add_field(b, "old_sympos", ul, 128, 0);
	cb = btf__add_struct(b, "klp_callbacks", 40);
	btf__add_field(b, "pre_patch", vp, 0, 0);
	btf__add_field(b, "post_patch", vp, 64, 0);
	btf__add_field(b, "pre_unpatch", vp, 128, 0);
	btf__add_field(b, "post_unpatch", vp, 192, 0);
	btf__add_field(b, "post_unpatch_enabled", bo, 256, 0);
	btf__add_struct(b, "klp_object", 56);
	btf__add_field(b, "name", vp, 0, 0);
	btf__add_field(b, "funcs", vp, 64, 0);
	btf__add_field(b, "callbacks", cb, 128, 0);
	btf__add_struct(b, "klp_state", 24);
	btf__add_field(b, "id", ul, 0, 0);
	btf__add_struct(b, "klp_patch", 32);
	btf__add_field(b, "mod", vp, 0, 0);
	btf__add_field(b, "objs", vp, 64, 0);
	btf__add_field(b, "states", vp, 128, 0);
	btf__add_field(b, "replace", bo, 192, 0);
	raw = btf__raw_data(b, &size);
	if (!raw || !gp_ok(kbtf_load(raw, size, &kb)))
		abort();
	btf__free(b);
	return kb;
}

static struct gp_error *ret_thunk(void *arg, const char *name, uint64_t *addr)
{
	return resolve(arg, name, addr);
}

/* Exports named as the seed's undefined symbols, without CRC tables (so
 * the CRC check refuses, and the link is still reached), vermagic the
 * module's own. */
static void kmod(const uint8_t *data, size_t size, bool run)
{
	static const char map[] = "ffffffff81001000 t secret_fn\nffffffff81003000 T version_proc_show\n";
	static struct ksym_table *syms;
	static const char *const names[] = { "__fentry__", "__x86_return_thunk", "_printk",
					      "module_layout", "msleep_interruptible", "seq_printf",
					      "seq_puts", "klp_enable_patch" };
	struct lp_kmod_exports ex = { 0 };
	struct lp_kmod_guest g = { .ex = &ex, .btf = kmod_btf(), .ret_thunk = ret_thunk };
	struct lp_kmod *km;
	size_t off = 1;

	if (!syms && !gp_ok(ksym_parse_map(map, sizeof(map) - 1, 0, &syms)))
		abort();
	g.syms = syms;
	if (!gp_ok(run ? lp_kmod_open_run(data, size, "fuzz.ko", &km) :
			 lp_kmod_open(data, size, "fuzz.ko", &km)))
		return;
	if (run && !gp_ok(lp_kmod_run_check(km))) {
		lp_kmod_close(km);
		return;
	}
	ex.v = calloc(sizeof(names) / sizeof(names[0]), sizeof(*ex.v));
	ex.strs = calloc(1, 256);
	if (!ex.v || !ex.strs)
		abort();
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		strcpy(ex.strs + off, names[i]);
		ex.v[i].name = (uint32_t)off;
		ex.v[i].value = KSYM_BASE + i * 64;
		off += strlen(names[i]) + 1;
	}
	ex.n = sizeof(names) / sizeof(names[0]);
	ex.strs_len = off;
	ex.have_crcs = false;
	snprintf(ex.vermagic, sizeof(ex.vermagic), "%s", lp_kmod_vermagic(km));
	if (gp_ok(lp_kmod_exports_finish(&ex))) {
		struct lp_image img;
		struct lp_kmod_patch p;

		gp_error_destroy(lp_kmod_check(km, "fuzz", &ex));
		if (gp_ok(lp_kmod_link(km, &g, CODE_VA, CODE_VA + (8u << 20), &img, &p)))
			lp_image_free(&img);
	}
	lp_kmod_exports_free(&ex);
	lp_kmod_close(km);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[64 << 10];
	struct lp_piece p[NPIECES];
	struct lp_image img;
	struct lp_obj *o;
	size_t code, dat, len;

	if (gp_ok(lp_obj_open(data, size, "fuzz.o", &o))) {
		lp_obj_sizes(o, &code, &dat);
		memset(&img, 0, sizeof(img));
		if (code + dat <= (64u << 20) &&
		    gp_ok(lp_obj_link(o, CODE_VA, CODE_VA + code, resolve, NULL, &img)))
			lp_image_free(&img);
		lp_obj_close(o);
	}
	if (gp_ok(lp_obj_open_pieces(data, size, "fuzz.o", &o))) {
		for (size_t i = 0; i < NPIECES; i++) {
			p[i] = (struct lp_piece){ pieces[i], resolve, NULL };
			gp_error_destroy(lp_obj_link_pieces(o, CODE_VA, &p[i], 1, buf, sizeof(buf),
							    &len));
		}
		gp_error_destroy(lp_obj_link_pieces(o, CODE_VA, p, NPIECES, buf, sizeof(buf), &len));
		/* The straggler agent's order: head, two tasks, done, out. */
		{
			const struct lp_piece a[] = { p[4], p[5], p[6], p[7], p[8] };

			gp_error_destroy(lp_obj_link_pieces(o, CODE_VA, a, 5, buf, sizeof(buf), &len));
		}
		lp_obj_close(o);
	}
	kmod(data, size, false);
	kmod(data, size, true);
	return 0;
}
