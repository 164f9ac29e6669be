// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Livepatch modules (patch/lp_kmod*.c) on synthetic modules compiled here:
 * a C file shaped as the kernel's build makes a livepatch .ko (.modinfo,
 * __versions, .gnu.linkonce.this_module, __mcount_loc from -mrecord-mcount,
 * a static klp_patch), linked against a made-up guest (exports with CRCs,
 * kallsyms from a System.map, BTF built with libbpf); and on corrupted
 * copies of it.
 */
#include <bpf/btf.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gp_check.h"
#include "lp_agent.h"
#include "lp_kmod.h"
#include "lp_kmod_run.h"
#include "stack.h"

#define CODE_VA 0xffffffffbb000000ull
#define DATA_VA 0xffffffffbb100000ull
#define RET_THUNK 0xffffffff81e00000ull
#define VERMAGIC "6.1.0-unit SMP preempt mod_unload modversions "

static char tmpdir[64];

static const char mod_src[] =
	"struct module { char pad[24]; char name[56]; char rest[48]; };\n"
	"struct klp_func { const char *old_name; void *new_func; unsigned long old_sympos; };\n"
	"struct klp_callbacks { void *pre_patch, *post_patch, *pre_unpatch, *post_unpatch; _Bool e; };\n"
	"struct klp_object { const char *name; struct klp_func *funcs; struct klp_callbacks callbacks; };\n"
	"struct klp_state { unsigned long id; unsigned int version; void *data; };\n"
	"struct klp_patch { struct module *mod; struct klp_object *objs; struct klp_state *states; _Bool replace; };\n"
	"struct module __this_module __attribute__((section(\".gnu.linkonce.this_module\"))) = { .name = \"unit_lp\" };\n"
	"static const char mi[] __attribute__((section(\".modinfo\"), used)) =\n"
	"#ifndef NOLIVEPATCH\n"
	"  \"livepatch=Y\\0\"\n"
	"#endif\n"
	"  \"license=GPL\\0name=unit_lp\\0vermagic=\" VERMAGIC;\n"
	"struct mv { unsigned long crc; char name[56]; };\n"
	"static const struct mv vers[] __attribute__((section(\"__versions\"), used, aligned(32))) = {\n"
	"  { 0x1111, \"seq_printf\" }, { 0x2222, \"__fentry__\" }, { 0x3333, \"__x86_return_thunk\" },\n"
	"  { 0x5555, \"klp_enable_patch\" } };\n"
	"extern int seq_printf(void *m, const char *f, ...);\n"
	"static int new_show(void *m, void *v)\n"
	"{\n"
	"#ifdef BADFIELD\n"
	"  return __this_module.rest[3];\n"
	"#endif\n"
	"  seq_printf(m, \"%s: patched\\n\", __this_module.name); return 0; }\n"
	"#ifdef KLPSYM\n"
	"extern int secret_fn(void) __asm__(\"\\\".klp.sym.vmlinux.secret_fn,2\\\"\");\n"
	"__attribute__((section(\".text.klp\"), no_instrument_function, function_return(\"keep\"), used))\n"
	"int uses_secret(void) { return secret_fn() + 1; }\n"
	"asm(\".section .klp.rela.vmlinux..text.klp,\\\"\\\",@progbits\\n.byte 0\\n.previous\");\n"
	"#endif\n"
	"static struct klp_func funcs[] = { { .old_name = \"cmdline_proc_show\", .new_func = new_show }, {} };\n"
	"static struct klp_func mfuncs[] = { { .old_name = \"mod_fn\", .new_func = new_show, .old_sympos = 1 }, {} };\n"
	"#ifdef STATES\n"
	"static struct klp_state states[] = { { .id = 7 }, {} };\n"
	"#define ST .states = states,\n"
	"#else\n"
	"#define ST\n"
	"#endif\n"
	"static struct klp_object objs[] = { { .funcs = funcs,\n"
	"#ifdef CALLBACK\n"
	"  .callbacks.post_patch = new_show,\n"
	"#endif\n"
	"  }, { .name = \"somemod\", .funcs = mfuncs }, {} };\n"
	"#ifndef NOPATCH\n"
	"static struct klp_patch patch __attribute__((used)) = { .mod = &__this_module, .objs = objs, ST\n"
	"#ifdef REPLACE\n"
	"  .replace = 1,\n"
	"#endif\n"
	"};\n"
	"#endif\n"
	"#ifdef RUNINIT\n"	/* a plain module's init (vmm call) */
	"__attribute__((section(\".init.text\"), used)) int init_module(void)\n"
	"{ return seq_printf(0, \"init\"); }\n"
	"#endif\n"
	"#ifdef RUNREG\n"
	"extern int register_chrdev_region(unsigned, unsigned, const char *);\n"
	"__attribute__((section(\".init.text\"), used)) int init_module(void)\n"
	"{ return register_chrdev_region(1, 1, \"x\"); }\n"
	"#endif\n"
	"#ifdef TWOREFS\n"
	"static struct module *owner __attribute__((used)) = &__this_module;\n"
	"static struct klp_patch decoy __attribute__((used)) = { .mod = &__this_module };\n"
	"#endif\n"
	"#ifdef ENABLE\n"
	"extern int klp_enable_patch(struct klp_patch *);\n"
	"static int other;\n"
	"__attribute__((section(\".init.text\"), used)) int init_module(void)\n"
	"{\n"
	"#ifdef SETREPLACE\n"
	"  patch.replace = other;\n"	/* as test_klp_atomic_replace does */
	"#endif\n"
	"#ifdef INITCALL\n"
	"  seq_printf(0, \"init\");\n"	/* work the init would do in the guest */
	"#endif\n"
	"  return klp_enable_patch(ENABLE); }\n"
	"#endif\n"
	"#ifdef EXIT\n"
	"__attribute__((section(\".exit.text\"), used)) void cleanup_module(void)\n"
	"{ seq_printf(0, \"bye\"); }\n"
	"#endif\n";

/* The module, built as the kernel builds modules (-mfentry with
 * __mcount_loc, return thunks); defs: extra -D options. */
static char *compile(const char *name, const char *defs)
{
	static char obj[256];
	char c[256], cmd[2048];
	FILE *f;

	snprintf(c, sizeof(c), "%s/%s.c", tmpdir, name);
	snprintf(obj, sizeof(obj), "%s/%s.ko", tmpdir, name);
	f = fopen(c, "w");
	ck_assert(f);
	fputs(mod_src, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd),
		 "gcc -c -O2 -ffreestanding -nostdinc -fno-pic -mcmodel=kernel -mno-red-zone "
		 "-fno-stack-protector -mno-sse -mno-mmx -mno-80387 -mfunction-return=thunk-extern "
		 "-pg -mfentry -mrecord-mcount -fno-asynchronous-unwind-tables -fno-common "
		 "-DVERMAGIC='\"%s\"' %s -o %s %s",
		 VERMAGIC, defs, obj, c);
	ck_assert_msg(system(cmd) == 0, "compile failed: %s", cmd);
	return obj;
}

static void *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	void *buf;
	long n;

	ck_assert(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n);
	ck_assert(buf && fread(buf, 1, (size_t)n, f) == (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* The made-up guest. */
static struct kbtf *btf;
static struct ksym_table *syms;
static struct lp_kmod_exports ex;

static void add(struct btf *b, const char *name, int type, int bit)
{
	ck_assert_int_eq(btf__add_field(b, name, type, bit, 0), 0);
}

static void make_btf(void)
{
	struct btf *b = btf__new_empty();
	int ch = btf__add_int(b, "char", 1, BTF_INT_SIGNED);
	int ul = btf__add_int(b, "long unsigned int", 8, 0);
	int in = btf__add_int(b, "int", 4, BTF_INT_SIGNED);
	int bo = btf__add_int(b, "_Bool", 1, BTF_INT_BOOL);
	int vp = btf__add_ptr(b, 0);
	int arr = btf__add_array(b, ul, ch, 56);
	int cb;
	const void *raw;
	__u32 size;

	btf__add_struct(b, "module", 128);
	add(b, "name", arr, 24 * 8);
	btf__add_struct(b, "klp_func", 24);
	add(b, "old_name", vp, 0);
	add(b, "new_func", vp, 64);
	add(b, "old_sympos", ul, 128);
	cb = btf__add_struct(b, "klp_callbacks", 40);
	add(b, "pre_patch", vp, 0);
	add(b, "post_patch", vp, 64);
	add(b, "pre_unpatch", vp, 128);
	add(b, "post_unpatch", vp, 192);
	add(b, "post_unpatch_enabled", bo, 256);
	btf__add_struct(b, "klp_object", 56);
	add(b, "name", vp, 0);
	add(b, "funcs", vp, 64);
	add(b, "callbacks", cb, 128);
	btf__add_struct(b, "klp_state", 24);
	add(b, "id", ul, 0);
	btf__add_struct(b, "klp_patch", 32);
	add(b, "mod", vp, 0);
	add(b, "objs", vp, 64);
	add(b, "states", vp, 128);
	add(b, "replace", bo, 192);
	btf__add_struct(b, "kernel_symbol", 12);
	add(b, "value_offset", in, 0);
	add(b, "name_offset", in, 32);
	add(b, "namespace_offset", in, 64);
	raw = btf__raw_data(b, &size);
	ck_assert(raw);
	ck_ok(kbtf_load(raw, size, &btf));
	btf__free(b);
}

static void make_exports(void)
{
	static const char names[] = "\0seq_printf\0__fentry__\0__x86_return_thunk\0gpl_only\0klp_enable_patch\0";
	memset(&ex, 0, sizeof(ex));
	ex.strs = malloc(sizeof(names));
	memcpy(ex.strs, names, sizeof(names));
	ex.strs_len = sizeof(names);
	ex.v = calloc(5, sizeof(*ex.v));
	ex.v[0] = (struct lp_kmod_export){ .value = 0xffffffff81100000ull, .crc = 0x1111, .name = 1 };
	ex.v[1] = (struct lp_kmod_export){ .value = 0xffffffff81200000ull, .crc = 0x2222, .name = 12 };
	ex.v[2] = (struct lp_kmod_export){ .value = 0xffffffff81e00000ull, .crc = 0x3333, .name = 23 };
	ex.v[3] = (struct lp_kmod_export){ .value = 0xffffffff81300000ull, .crc = 0x4444, .name = 42,
					    .gpl = true };
	ex.v[4] = (struct lp_kmod_export){ .value = 0xffffffff81400000ull, .crc = 0x5555, .name = 51 };
	ex.n = 5;
	ex.have_crcs = true;
	snprintf(ex.vermagic, sizeof(ex.vermagic), "%s", VERMAGIC);
	ck_ok(lp_kmod_exports_finish(&ex));
}

static struct gp_error *ret_thunk(void *arg, const char *name, uint64_t *addr)
{
	(void)arg;
	ck_assert_str_eq(name, "__x86_return_thunk");
	*addr = RET_THUNK;
	return NULL;
}

static void setup(void)
{
	static const char map[] = "ffffffff81001000 t secret_fn\n"
				  "ffffffff81002000 t secret_fn\n"
				  "ffffffff81003000 T cmdline_proc_show\n";

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/gp-lpkmod-XXXXXX");
	ck_assert(mkdtemp(tmpdir));
	make_btf();
	make_exports();
	ck_ok(ksym_parse_map(map, sizeof(map) - 1, 0, &syms));
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
	kbtf_free(btf);
	ksym_free(syms);
	lp_kmod_exports_free(&ex);
}

static struct lp_kmod_guest guest(void)
{
	return (struct lp_kmod_guest){ .ex = &ex, .syms = syms, .btf = btf,
				       .ret_thunk = ret_thunk };
}

/* Open, check and link; the first error. */
static struct gp_error *load(const char *path, struct lp_image *img, struct lp_kmod_patch *p)
{
	struct lp_kmod *km = NULL;
	struct lp_kmod_guest g = guest();
	struct gp_error *err = lp_kmod_open_file(path, &km);

	if (!err)
		err = lp_kmod_check(km, "6.1.0-unit", &ex);
	if (!err)
		err = lp_kmod_link(km, &g, CODE_VA, DATA_VA, img, p);
	lp_kmod_close(km);
	return err;
}

START_TEST(links_and_decodes)
{
	struct lp_image img;
	struct lp_kmod_patch p;
	uint8_t nop[LP_AGENT_NOP_SIZE];

	ck_ok(load(compile("good", "-DREPLACE"), &img, &p));
	ck_assert_str_eq(img.name, "unit_lp");
	ck_assert(img.replace && p.replace);
	ck_assert_int_eq(img.nr_funcs, 2);
	ck_assert_str_eq(img.funcs[0].old_name, "cmdline_proc_show");
	ck_assert_uint_eq(img.funcs[0].old_pos, 0);
	ck_assert_str_eq(img.funcs[1].old_name, "somemod:mod_fn");
	ck_assert_uint_eq(img.funcs[1].old_pos, 1);
	ck_assert(img.funcs[0].new_addr >= CODE_VA && img.funcs[0].new_addr < CODE_VA + img.code_used);
	ck_assert_int_eq(p.nr_objs, 2);
	ck_assert_str_eq(p.objs[0].name, "");
	ck_assert_str_eq(p.objs[1].name, "somemod");
	ck_assert(p.objs[0].va >= DATA_VA && p.objs[1].va == p.objs[0].va + 56);
	ck_assert(p.va >= DATA_VA && p.va < DATA_VA + img.data_used);
	/* klp_patch.mod: the data-only copy of __this_module, with its name */
	{
		uint64_t mod;

		memcpy(&mod, img.data + (p.va - DATA_VA), 8);
		ck_assert(mod >= DATA_VA && mod < DATA_VA + img.data_used);
		ck_assert_str_eq((char *)img.data + (mod - DATA_VA) + 24, "unit_lp");
	}
	/* the replacement starts with the ftrace NOP where `call __fentry__` was */
	ck_ok(lp_agent_ftrace_nop(nop));
	ck_assert(!memcmp(img.code + (img.funcs[0].new_addr - CODE_VA), nop, sizeof(nop)));
	lp_image_free(&img);

	ck_ok(load(compile("noreplace", ""), &img, &p));
	ck_assert(!img.replace);
	lp_image_free(&img);
}
END_TEST

/* .klp.rela.vmlinux..text.klp with .klp.sym.vmlinux.secret_fn,2: the
 * second secret_fn in kallsyms order. */
START_TEST(klp_relocations)
{
	const char *path = compile("klpsym", "-DKLPSYM");
	size_t len, shstrndx, rela = 0, dummy = 0;
	uint8_t *buf = slurp(path, &len);
	Elf *e;
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	GElf_Ehdr eh;
	struct lp_image img;
	struct lp_kmod_patch p;
	struct lp_kmod *km;
	struct lp_kmod_guest g = guest();
	FILE *f;

	/* Give the real relocation section the klp name (swap the names of
	 * .rela.text.klp and the placeholder), mark the symbol SHN_LIVEPATCH. */
	elf_version(EV_CURRENT);
	e = elf_memory((char *)buf, len);
	ck_assert(e && gelf_getehdr(e, &eh) && !elf_getshdrstrndx(e, &shstrndx));
	while ((scn = elf_nextscn(e, scn))) {
		const char *n;

		gelf_getshdr(scn, &sh);
		n = elf_strptr(e, shstrndx, sh.sh_name);
		if (!strcmp(n, ".rela.text.klp"))
			rela = elf_ndxscn(scn);
		if (!strcmp(n, ".klp.rela.vmlinux..text.klp"))
			dummy = elf_ndxscn(scn);
		if (sh.sh_type == SHT_SYMTAB) {
			for (size_t i = 0; i < sh.sh_size / sizeof(Elf64_Sym); i++) {
				Elf64_Sym *s = (Elf64_Sym *)(buf + sh.sh_offset) + i;

				if (!strcmp(elf_strptr(e, sh.sh_link, s->st_name),
					    ".klp.sym.vmlinux.secret_fn,2"))
					s->st_shndx = 0xff20;
			}
		}
	}
	ck_assert(rela && dummy);
	{
		Elf64_Shdr *shdr = (Elf64_Shdr *)(buf + eh.e_shoff);
		uint32_t t = shdr[rela].sh_name;

		shdr[rela].sh_name = shdr[dummy].sh_name;
		shdr[dummy].sh_name = t;
	}
	elf_end(e);
	f = fopen(path, "wb");
	ck_assert(f && fwrite(buf, 1, len, f) == len);
	fclose(f);
	free(buf);

	ck_ok(lp_kmod_open_file(path, &km));
	ck_ok(lp_kmod_link(km, &g, CODE_VA, DATA_VA, &img, &p));
	/* uses_secret: the call's rel32 reaches 0xffffffff81002000 */
	{
		uint8_t *code = img.code;
		bool found = false;

		for (size_t i = 0; i + 5 <= img.code_used; i++) {
			int32_t d;

			memcpy(&d, code + i + 1, 4);
			if (CODE_VA + i + 5 + (uint64_t)(int64_t)d == 0xffffffff81002000ull)
				found = true;
		}
		ck_assert_msg(found, "no call to the second secret_fn");
	}
	lp_image_free(&img);
	lp_kmod_close(km);
}
END_TEST

START_TEST(refusals)
{
	struct lp_image img;
	struct lp_kmod_patch p;

	ck_err(load(compile("nolp", "-DNOLIVEPATCH"), &img, &p), GP_ERR_INVAL,
	       "not a livepatch module");
	/* callbacks are run in the guest now: decoded, in the loaded code */
	ck_ok(load(compile("cb", "-DCALLBACK"), &img, &p));
	ck_assert(p.has_callbacks);
	ck_assert(p.objs[0].post_patch >= img.code_va &&
		  p.objs[0].post_patch < img.code_va + img.code_used);
	ck_assert(!p.objs[0].pre_patch && !p.objs[0].pre_unpatch && !p.objs[0].post_unpatch);
	ck_assert(!p.objs[1].post_patch);
	lp_image_free(&img);
	ck_err(load(compile("st", "-DSTATES"), &img, &p), GP_ERR_INVAL, "klp_state");
	ck_err(load(compile("field", "-DBADFIELD"), &img, &p), GP_ERR_INVAL,
	       "only klp_patch.mod and THIS_MODULE->name are honoured");
	/* the guest's vermagic differs; a CRC differs; the guest cannot tell */
	snprintf(ex.vermagic, sizeof(ex.vermagic), "6.1.0-other SMP preempt mod_unload modversions ");
	ck_err(load(compile("good", ""), &img, &p), GP_ERR_INVAL, "was built for another kernel");
	ex.vermagic[0] = 0;
	snprintf(ex.vermagic_why, sizeof(ex.vermagic_why), "no 'vermagic' string");
	ck_err(load(compile("good", ""), &img, &p), GP_ERR_INVAL,
	       "cannot tell the guest kernel's vermagic (no 'vermagic' string)");
	snprintf(ex.vermagic, sizeof(ex.vermagic), "%s", VERMAGIC);
	ex.v[0].crc ^= 1;	/* sorted: __fentry__ first */
	ck_err(load(compile("good", ""), &img, &p), GP_ERR_INVAL,
	       "disagrees about version of symbol __fentry__");
	ex.v[0].crc ^= 1;
	ex.have_crcs = false;
	ck_err(load(compile("good", ""), &img, &p), GP_ERR_INVAL, "no symbol CRC tables");
	ex.have_crcs = true;
	ck_ok(load(compile("good", ""), &img, &p));
	lp_image_free(&img);
}
END_TEST

/* The exit function is loaded (it runs at unpatch, as at rmmod); an init
 * function that does more than klp_enable_patch() is refused by name. */
START_TEST(exit_loaded_init_checked)
{
	struct lp_image img;
	struct lp_kmod_patch p;

	ck_ok(load(compile("noexit", "'-DENABLE=&patch'"), &img, &p));
	ck_assert(!p.exit_fn && !p.has_callbacks);
	lp_image_free(&img);
	ck_ok(load(compile("exit", "-DEXIT '-DENABLE=&patch'"), &img, &p));
	ck_assert(p.exit_fn >= img.code_va && p.exit_fn < img.code_va + img.code_used);
	lp_image_free(&img);
	ck_err(load(compile("initcall", "-DINITCALL '-DENABLE=&patch'"), &img, &p), GP_ERR_INVAL,
	       "the module's init function uses seq_printf: only its klp_enable_patch() is done from outside");
}
END_TEST

/* A plain module opened to run (vmm call, lp_kmod_run.h): its init code
 * loaded and linked, init_fn and exit_fn in the code; a livepatch, a
 * module without init, one that registers something, one whose data
 * points at THIS_MODULE: refused by name. */
static struct gp_error *load_run(const char *path, struct lp_image *img, struct lp_kmod_patch *p)
{
	struct lp_kmod *km = NULL;
	struct lp_kmod_guest g = guest();
	void *buf;
	size_t len;
	struct gp_error *err;

	buf = slurp(path, &len);
	err = lp_kmod_open_run(buf, len, path, &km);
	free(buf);
	if (!err)
		err = lp_kmod_run_check(km);
	if (!err)
		err = lp_kmod_check(km, "6.1.0-unit", &ex);
	if (!err)
		err = lp_kmod_link(km, &g, CODE_VA, DATA_VA, img, p);
	lp_kmod_close(km);
	return err;
}

START_TEST(run_mode)
{
	struct lp_image img;
	struct lp_kmod_patch p;

	ck_ok(load_run(compile("run", "-DNOLIVEPATCH -DNOPATCH -DRUNINIT -DEXIT"), &img, &p));
	ck_assert(p.init_fn >= img.code_va && p.init_fn < img.code_va + img.code_used);
	ck_assert(p.exit_fn >= img.code_va && p.exit_fn < img.code_va + img.code_used);
	ck_assert(p.init_fn != p.exit_fn && !p.va && !p.nr_objs);
	lp_image_free(&img);
	ck_err(load_run(compile("runlp", "-DNOPATCH -DRUNINIT"), &img, &p), GP_ERR_INVAL,
	       "a livepatch module (its .modinfo has livepatch=Y)");
	ck_err(load_run(compile("runnoinit", "-DNOLIVEPATCH -DNOPATCH -DEXIT"), &img, &p), GP_ERR_INVAL,
	       "no init_module");
	ck_err(load_run(compile("runreg", "-DNOLIVEPATCH -DNOPATCH -DRUNREG"), &img, &p),
	       GP_ERR_INVAL, "the module uses register_chrdev_region: what it registers would outlive the run");
	ck_err(load_run(compile("runmod", "-DNOLIVEPATCH -DRUNINIT"), &img, &p), GP_ERR_INVAL,
	       "its data points at __this_module");
	/* and vmm patch still refuses the plain module */
	ck_err(load(compile("run", "-DNOLIVEPATCH -DNOPATCH -DRUNINIT -DEXIT"), &img, &p), GP_ERR_INVAL,
	       "not a livepatch module");
}
END_TEST

/* Which data is the klp_patch: the one pointer to __this_module, or
 * among several the one the init function hands klp_enable_patch(). */
START_TEST(finding_the_patch)
{
	struct lp_image img;
	struct lp_kmod_patch p;

	ck_err(load(compile("two", "-DTWOREFS"), &img, &p), GP_ERR_INVAL,
	       "3 pointers to __this_module in the module's data, and none is the klp_patch the init function enables");
	ck_ok(load(compile("twoenable", "-DTWOREFS '-DENABLE=&patch'"), &img, &p));
	ck_assert_int_eq(img.nr_funcs, 2);
	lp_image_free(&img);
	ck_ok(load(compile("enable", "'-DENABLE=&patch'"), &img, &p));
	lp_image_free(&img);
	ck_ok(load(compile("setreplace", "-DTWOREFS -DSETREPLACE '-DENABLE=&patch'"), &img, &p));
	lp_image_free(&img);
	ck_err(load(compile("wrongenable", "'-DENABLE=(void *)&other'"), &img, &p), GP_ERR_INVAL,
	       "the init function enables the klp_patch at");
}
END_TEST

START_TEST(klp_sym_names)
{
	char obj[LP_KMOD_NAME_LEN], name[512];
	unsigned long pos;

	ck_ok(lp_kmod_parse_klp_sym(".klp.sym.vmlinux.foo,0", obj, name, sizeof(name), &pos));
	ck_assert_str_eq(obj, "vmlinux");
	ck_assert_str_eq(name, "foo");
	ck_assert_uint_eq(pos, 0);
	ck_ok(lp_kmod_parse_klp_sym(".klp.sym.mod.a.b,12", obj, name, sizeof(name), &pos));
	ck_assert_str_eq(obj, "mod");
	ck_assert_str_eq(name, "a.b");
	ck_assert_uint_eq(pos, 12);
	ck_err(lp_kmod_parse_klp_sym(".klp.sym.vmlinux.foo", obj, name, sizeof(name), &pos),
	       GP_ERR_INVAL, "incorrectly formatted");
	ck_err(lp_kmod_parse_klp_sym(".klp.sym..foo,1", obj, name, sizeof(name), &pos),
	       GP_ERR_INVAL, "incorrectly formatted");
	ck_err(lp_kmod_parse_klp_sym(".klp.sym.vmlinux.foo,1x", obj, name, sizeof(name), &pos),
	       GP_ERR_INVAL, "not a number");
	ck_err(lp_kmod_parse_klp_sym(".klp.sym.vmlinux.,1", obj, name, sizeof(name), &pos),
	       GP_ERR_INVAL, "incorrectly formatted");
	ck_err(lp_kmod_parse_klp_sym("foo", obj, name, sizeof(name), &pos), GP_ERR_INVAL,
	       "incorrectly formatted");
}
END_TEST

/* Every truncation and a sweep of byte flips: refused or linked, never a
 * crash (ASan/UBSan build), never an image outside its pages. */
START_TEST(hostile_modules)
{
	size_t len;
	uint8_t *good = slurp(compile("good", ""), &len);
	uint8_t *mut = malloc(len);
	struct lp_kmod_guest g = guest();

	for (size_t cut = 0; cut < len; cut += len / 97 + 1) {
		struct lp_kmod *km = NULL;
		struct gp_error *err = lp_kmod_open(good, cut, "cut", &km);

		ck_assert_msg(err, "a module cut to %zu of %zu bytes was accepted", cut, len);
		gp_error_destroy(err);
	}
	for (size_t i = 0; i < len; i += 7) {
		struct lp_kmod *km = NULL;
		struct gp_error *err;

		memcpy(mut, good, len);
		mut[i] ^= (uint8_t)(0x5a + i);
		err = lp_kmod_open(mut, len, "flipped", &km);
		if (!err)
			err = lp_kmod_check(km, "6.1.0-unit", &ex);
		if (!err) {
			struct lp_image img;
			struct lp_kmod_patch p;

			err = lp_kmod_link(km, &g, CODE_VA, DATA_VA, &img, &p);
			if (!err) {
				for (int f = 0; f < img.nr_funcs; f++)
					ck_assert(img.funcs[f].new_addr >= CODE_VA &&
						  img.funcs[f].new_addr < CODE_VA + img.code_size);
				lp_image_free(&img);
			}
		}
		gp_error_destroy(err);
		lp_kmod_close(km);
	}
	free(mut);
	free(good);
}
END_TEST

/* A table of n entries for [start, end): one entry per 16 bytes. */
static struct orc_table *table(uint64_t start, uint64_t end)
{
	const struct orc_format *fmt = orc_format_by_name("linux-6.1");
	size_t n = (size_t)((end - start) / 16);
	int32_t *rel = calloc(n, 4);
	uint8_t *raw = calloc(n, 6);
	struct orc_table *t;

	ck_assert(fmt && rel && raw);
	for (size_t i = 0; i < n; i++)
		rel[i] = (int32_t)(start + 16 * i - (0x1000 + 4 * i));
	ck_ok(orc_from_raw(fmt, rel, 0x1000, raw, n, start, end, &t));
	free(rel);
	free(raw);
	return t;
}

/* Patch code handed to the unwinder (stack_ctx_add_orc): its range must
 * not overlap the kernel's text, a module's or another patch's; frames in
 * it are named after it. */
START_TEST(extra_orc_ranges)
{
	struct stack_ctx *c = calloc(1, sizeof(*c));
	const char *mod = NULL;
	uint64_t off;

	c->orc = table(0xffffffff81000000ull, 0xffffffff81001000ull);
	ck_err(stack_ctx_add_orc(c, 0xffffffff80fff000ull, 0xffffffff81000010ull,
				 table(0xffffffff80fff000ull, 0xffffffff81000010ull), "over-kernel"),
	       GP_ERR_INVAL, "overlaps kernel or module text");
	ck_ok(stack_ctx_add_orc(c, CODE_VA, CODE_VA + 0x1000, table(CODE_VA, CODE_VA + 0x1000), "p1"));
	ck_err(stack_ctx_add_orc(c, CODE_VA + 0x800, CODE_VA + 0x2000,
				 table(CODE_VA + 0x800, CODE_VA + 0x2000), "p2"),
	       GP_ERR_INVAL, "ORC for p2 overlaps that of p1");
	ck_err(stack_ctx_add_orc(c, CODE_VA, CODE_VA, NULL, "empty"), GP_ERR_INVAL, "empty");
	ck_assert(!stack_symbolize(c, CODE_VA + 0x13, &off, NULL, &mod));
	ck_assert_str_eq(mod, "p1");
	ck_assert_uint_eq(off, 0x13);
	ck_assert_int_eq(c->nr_extra, 1);
	stack_ctx_free(c);
}
END_TEST

static TCase *lp_kmod_tcase(void)
{
	TCase *tc = tcase_create("lp_kmod");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, links_and_decodes);
	tcase_add_test(tc, klp_relocations);
	tcase_add_test(tc, refusals);
	tcase_add_test(tc, klp_sym_names);
	tcase_add_test(tc, finding_the_patch);
	tcase_add_test(tc, exit_loaded_init_checked);
	tcase_add_test(tc, extra_orc_ranges);
	tcase_add_test(tc, hostile_modules);
	tcase_add_test(tc, run_mode);
	return tc;
}
GP_TCASE(lp_kmod_tcase)
