// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The patch loader (patch/lp_elf.c) on real objects compiled here with the
 * same flags `vmm build` uses, and on corrupted ones.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gp_check.h"
#include "lp_agent.h"
#include "lp_elf.h"

#define CODE_VA 0xffffffffbb000000ull
#define DATA_VA 0xffffffffbb100000ull
#define KSYM_BASE 0xffffffffb8000000ull

static char tmpdir[64];

/* Compile C source into an object with vmm build's flags; returns path. */
static char *compile(const char *name, const char *src)
{
	static char obj[256];
	char c[256], cmd[2048];
	FILE *f;

	snprintf(c, sizeof(c), "%s/%s.c", tmpdir, name);
	snprintf(obj, sizeof(obj), "%s/%s.o", tmpdir, name);
	f = fopen(c, "w");
	ck_assert(f);
	fputs(src, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd),
		 "gcc -c -O2 -ffreestanding -nostdinc -fno-pic -mcmodel=kernel -mno-red-zone "
		 "-fno-stack-protector -mno-sse -mno-mmx -mno-80387 -mfunction-return=thunk-extern "
		 "-fno-asynchronous-unwind-tables -fno-common -fno-jump-tables -Iguest-agent/include "
		 "-DGP_TARGET_BUILD_ID='\"0123456789abcdef0123456789abcdef01234567\"' -o %s %s",
		 obj, c);
	ck_assert_msg(system(cmd) == 0, "compile failed: %s", cmd);
	return obj;
}

/* A fake kernel: every name resolves to KSYM_BASE + hash, except those
 * starting with "missing_" and "far_" (out of rel32 reach). */
static struct gp_error *resolve(void *arg, const char *name, uint64_t *addr)
{
	uint64_t h = 0;

	(void)arg;
	if (!strncmp(name, "missing_", 8))
		return gp_error_create(GP_ERR_NOTFOUND, "no symbol '%s' in the guest kernel", name);
	if (!strncmp(name, "far_", 4)) {
		*addr = 0xffff888000000000ull;
		return NULL;
	}
	for (const char *c = name; *c; c++)
		h = h * 31 + (unsigned char)*c;
	*addr = KSYM_BASE + (h % 0x100000) * 16;
	return NULL;
}

static const char good_src[] =
	"#include <guestpatch.h>\n"
	"GP_PATCH(\"unit-good\");\n"
	"struct seq_file;\n"
	"extern int seq_puts(struct seq_file *m, const char *s);\n"
	"extern char *saved_command_line;\n"
	"static int counter;\n"
	"static int new_show(struct seq_file *m, void *v)\n"
	"{ counter++; seq_puts(m, \"hello\\n\"); seq_puts(m, saved_command_line); return counter; }\n"
	"static int new_other(struct seq_file *m, void *v) { return seq_puts(m, \"x\"); }\n"
	"GP_REPLACE(cmdline_proc_show, new_show);\n"
	"GP_REPLACE_POS(some_static, 2, new_other);\n";

static void setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/gp-lpelf-XXXXXX");
	ck_assert(mkdtemp(tmpdir));
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(links_and_relocates)
{
	struct lp_obj *o = NULL;
	struct lp_image img;
	size_t code, data;
	uint64_t seq_puts;
	int found_call = 0;

	ck_ok(lp_obj_open_file(compile("good", good_src), &o));
	lp_obj_sizes(o, &code, &data);
	ck_assert_uint_eq(code, 4096);
	ck_assert_uint_eq(data, 4096);
	ck_ok(lp_obj_link(o, CODE_VA, DATA_VA, resolve, NULL, &img));
	ck_assert_str_eq(img.name, "unit-good");
	ck_assert_str_eq(img.build_id, "0123456789abcdef0123456789abcdef01234567");
	ck_assert_int_eq(img.nr_funcs, 2);
	/* The compiler may emit the descriptors in either order. */
	if (strcmp(img.funcs[0].old_name, "cmdline_proc_show")) {
		struct lp_func t = img.funcs[0];

		img.funcs[0] = img.funcs[1];
		img.funcs[1] = t;
	}
	ck_assert_str_eq(img.funcs[0].old_name, "cmdline_proc_show");
	ck_assert_uint_eq(img.funcs[0].old_pos, 0);
	ck_assert_str_eq(img.funcs[1].old_name, "some_static");
	ck_assert_uint_eq(img.funcs[1].old_pos, 2);
	ck_assert(img.funcs[0].new_addr >= CODE_VA && img.funcs[0].new_addr < CODE_VA + code);
	ck_assert(img.funcs[1].new_addr != img.funcs[0].new_addr);
	/* Every `call rel32` in the code must land on seq_puts. */
	ck_ok(resolve(NULL, "seq_puts", &seq_puts));
	for (size_t i = 0; i + 5 <= img.code_size; i++) {
		int32_t rel;

		if (img.code[i] != 0xe8)
			continue;
		memcpy(&rel, img.code + i + 1, 4);
		if (CODE_VA + i + 5 + (uint64_t)(int64_t)rel == seq_puts)
			found_call++;
	}
	ck_assert_msg(found_call >= 2, "found %d calls to seq_puts", found_call);
	lp_image_free(&img);
	lp_obj_close(o);
}
END_TEST

static void expect_link_error(const char *name, const char *src, enum gp_error_code code,
			      const char *needle)
{
	struct lp_obj *o = NULL;
	struct lp_image img;
	struct gp_error *err = lp_obj_open_file(compile(name, src), &o);

	if (!err) {
		err = lp_obj_link(o, CODE_VA, DATA_VA, resolve, NULL, &img);
		if (!err)
			lp_image_free(&img);
	}
	ck_assert_msg(err, "%s: loaded, expected '%s'", name, needle);
	ck_assert_msg(err->code == code && strstr(err->msg, needle),
		      "%s: got [%s] %s, expected [%s] ...%s...", name,
		      gp_error_code_name(err->code), err->msg,
		      gp_error_code_name(code), needle);
	gp_error_destroy(err);
	lp_obj_close(o);
}

START_TEST(refusals)
{
	expect_link_error("undef",
			  "#include <guestpatch.h>\nGP_PATCH(\"u\");\n"
			  "extern int missing_helper(void);\n"
			  "static int f(void) { return missing_helper(); }\n"
			  "GP_REPLACE(x, f);\n",
			  GP_ERR_NOTFOUND, "missing_helper");
	expect_link_error("far",
			  "#include <guestpatch.h>\nGP_PATCH(\"u\");\n"
			  "extern int far_away(void);\n"
			  "static int f(void) { return far_away(); }\n"
			  "GP_REPLACE(x, f);\n",
			  GP_ERR_INVAL, "does not reach");
	expect_link_error("nopatch",
			  "#include <guestpatch.h>\n"
			  "int f(void) { return 1; }\n",
			  GP_ERR_INVAL, "GP_PATCH");
	expect_link_error("nofuncs",
			  "#include <guestpatch.h>\nGP_PATCH(\"u\");\n"
			  "int f(void) { return 1; }\n",
			  GP_ERR_INVAL, "GP_REPLACE");
	expect_link_error("jumplabel",
			  "#include <guestpatch.h>\nGP_PATCH(\"u\");\n"
			  "static int f(void) { asm volatile(\".pushsection __jump_table,\\\"aw\\\"\\n.quad 0\\n.popsection\"); return 1; }\n"
			  "GP_REPLACE(x, f);\n",
			  GP_ERR_INVAL, "jump labels");
	expect_link_error("badname",
			  "#include <guestpatch.h>\nGP_PATCH(\"bad name!\");\n"
			  "static int f(void) { return 1; }\n"
			  "GP_REPLACE(x, f);\n",
			  GP_ERR_INVAL, "patch name");
	expect_link_error("twice",
			  "#include <guestpatch.h>\nGP_PATCH(\"u\");\n"
			  "static int f(void) { return 1; }\n"
			  "static int g(void) { return 2; }\n"
			  "GP_REPLACE(x, f);\nGP_REPLACE(x, g);\n",
			  GP_ERR_INVAL, "replaced twice");
	expect_link_error("fentry",
			  "#include <guestpatch.h>\nGP_PATCH(\"u\");\n"
			  "extern void __fentry__(void);\n"
			  "static int f(void) { __fentry__(); return 1; }\n"
			  "GP_REPLACE(x, f);\n",
			  GP_ERR_INVAL, "__fentry__");
}
END_TEST

/* Truncated and bit-flipped objects: a clean error or a clean load, never
 * a crash (ASan/UBSan watch). */
START_TEST(corrupt_objects)
{
	FILE *f = fopen(compile("good2", good_src), "rb");
	uint8_t *buf, *mut;
	long len;
	unsigned seed = 12345;

	ck_assert(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	buf = malloc((size_t)len);
	mut = malloc((size_t)len);
	ck_assert_int_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	for (long cut = 0; cut < len; cut += 7) {
		struct lp_obj *o = NULL;
		struct gp_error *err = lp_obj_open(buf, (size_t)cut, "cut", &o);

		if (!err) {
			struct lp_image img;

			err = lp_obj_link(o, CODE_VA, DATA_VA, resolve, NULL, &img);
			if (!err)
				lp_image_free(&img);
		}
		gp_error_destroy(err);
		lp_obj_close(o);
	}
	for (int iter = 0; iter < 3000; iter++) {
		struct lp_obj *o = NULL;
		struct gp_error *err;

		memcpy(mut, buf, (size_t)len);
		for (int k = 0; k < 4; k++) {
			seed = seed * 1103515245 + 12345;
			mut[(seed >> 8) % (unsigned long)len] ^= (uint8_t)(1u << ((seed >> 3) & 7));
		}
		err = lp_obj_open(mut, (size_t)len, "flipped", &o);
		if (!err) {
			struct lp_image img;

			err = lp_obj_link(o, CODE_VA, DATA_VA, resolve, NULL, &img);
			if (!err)
				lp_image_free(&img);
		}
		gp_error_destroy(err);
		lp_obj_close(o);
	}
	ck_err(lp_obj_open("not an elf at all", 17, "text", &(struct lp_obj *){ NULL }),
	       GP_ERR_INVAL, "not an ELF");
	free(buf);
	free(mut);
}
END_TEST

/* Assemble source into an object with guest-agent/agent.mk's flags. */
static char *assemble(const char *name, const char *src)
{
	static char obj[256];
	char S[256], cmd[1024];
	FILE *f;

	snprintf(S, sizeof(S), "%s/%s.S", tmpdir, name);
	snprintf(obj, sizeof(obj), "%s/%s.o", tmpdir, name);
	f = fopen(S, "w");
	ck_assert(f);
	fputs(src, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd),
		 "gcc -c -m64 -mcmodel=kernel -fno-pic -mno-red-zone -nostdinc -o %s %s", obj, S);
	ck_assert_msg(system(cmd) == 0, "assemble failed: %s", cmd);
	return obj;
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	ck_assert(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n);
	ck_assert(buf);
	ck_assert_int_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static const char pieces_src[] =
	/* Refers to itself by a global name: each copy to its own start.
	 * (gas would resolve a jmp itself, short; call and movabs keep a
	 * relocation against the global symbol.) */
	"\t.section .text.self, \"ax\", @progbits\n"
	"\t.globl self_start\n"
	"self_start:\n"
	"\tcall self_start\n"
	"\tmovabs $self_start, %rax\n"
	/* A local label of another section: a section-symbol relocation. */
	"\t.section .text.ref, \"ax\", @progbits\n"
	"\tjmp .Lthere\n"
	"\tmovabs $ext_value, %rax\n"
	"\t.section .text.there, \"ax\", @progbits\n"
	"\tnop\n"
	".Lthere:\n"
	"\tret\n"
	"\t.section .text.aligned, \"ax\", @progbits\n"
	"\t.balign 8\n"
	"\tret\n"
	"\t.section .data.d, \"aw\", @progbits\n"
	"\t.quad self_start\n";

static struct gp_error *ext(void *arg, const char *name, uint64_t *addr)
{
	(void)arg;
	ck_assert_str_eq(name, "ext_value");
	*addr = 0x1122334455667788ull;
	return NULL;
}

#define PIECES_VA 0xffffffffc0a00000ull

/* Corrupted objects may name anything. */
static struct gp_error *ext_any(void *arg, const char *name, uint64_t *addr)
{
	(void)arg;
	*addr = PIECES_VA + strlen(name);
	return NULL;
}

START_TEST(pieces)
{
	const char *path = assemble("pieces", pieces_src);
	struct lp_obj *o = NULL;
	struct lp_image img;
	const struct lp_piece self = { ".text.self" }, ref = { ".text.ref", ext, NULL },
			      there = { ".text.there" }, aligned = { ".text.aligned" },
			      data = { ".data.d" };
	struct lp_piece p[4];
	uint8_t buf[64];
	size_t len;
	int32_t rel;
	uint64_t q;

	ck_err(lp_obj_open_file(path, &o), GP_ERR_INVAL, "no .gp.patch section");
	{
		size_t n;
		uint8_t *elf = slurp(path, &n);

		ck_ok(lp_obj_open_pieces(elf, n, path, &o));
		free(elf);
	}
	/* Two copies of self: each calls and names its own start. */
	p[0] = self, p[1] = self;
	ck_ok(lp_obj_link_pieces(o, PIECES_VA, p, 2, buf, sizeof(buf), &len));
	ck_assert_uint_eq(len, 30);
	for (int i = 0; i < 2; i++) {
		ck_assert(!memcmp(buf + 15 * i, "\xe8\xfb\xff\xff\xff\x48\xb8", 7));
		memcpy(&q, buf + 15 * i + 7, 8);
		ck_assert_uint_eq(q, PIECES_VA + 15 * (unsigned)i);
	}
	/* ...but from elsewhere, self_start is ambiguous. */
	p[2] = data;
	ck_err(lp_obj_link_pieces(o, PIECES_VA, p, 3, buf, sizeof(buf), &len),
	       GP_ERR_INVAL, "'self_start' in .text.self, which is placed 2 times");
	p[0] = data, p[1] = self;
	ck_ok(lp_obj_link_pieces(o, PIECES_VA, p, 2, buf, sizeof(buf), &len));
	memcpy(&q, buf, 8);
	ck_assert_uint_eq(q, PIECES_VA + 8);
	/* ref jumps to .Lthere, 1 byte into there, wherever there lands. */
	p[0] = there, p[1] = ref;
	ck_ok(lp_obj_link_pieces(o, PIECES_VA, p, 2, buf, sizeof(buf), &len));
	ck_assert_uint_eq(len, 2 + 5 + 10);
	ck_assert_uint_eq(buf[2], 0xe9);
	memcpy(&rel, buf + 3, 4);
	ck_assert_int_eq(rel, 1 - (2 + 5));
	memcpy(&q, buf + 2 + 5 + 2, 8);
	ck_assert_uint_eq(q, 0x1122334455667788ull);
	p[0] = ref;
	ck_err(lp_obj_link_pieces(o, PIECES_VA, p, 1, buf, sizeof(buf), &len),
	       GP_ERR_INVAL, "'.text.there' in .text.there, which is placed 0 times");
	/* Alignment holds where a piece falls, or the link fails. */
	p[0] = aligned, p[1] = there, p[2] = aligned;
	ck_ok(lp_obj_link_pieces(o, PIECES_VA, p, 1, buf, sizeof(buf), &len));
	ck_err(lp_obj_link_pieces(o, PIECES_VA, p, 3, buf, sizeof(buf), &len),
	       GP_ERR_INVAL, "wants 8-byte alignment");
	ck_err(lp_obj_link_pieces(o, PIECES_VA + 4, p, 1, buf, sizeof(buf), &len),
	       GP_ERR_INVAL, "wants 8-byte alignment");
	ck_err(lp_obj_link(o, CODE_VA, DATA_VA, resolve, NULL, &img), GP_ERR_INVAL,
	       "not as a patch");
	lp_obj_close(o);
	/* A patch opens as pieces too (one loader), but not the reverse. */
	{
		size_t n;
		uint8_t *elf = slurp(compile("good3", good_src), &n);

		ck_ok(lp_obj_open_pieces(elf, n, "good3", &o));
		free(elf);
		lp_obj_close(o);
	}
}
END_TEST

/* The pieces path on truncated and bit-flipped objects: never a crash. */
START_TEST(pieces_corrupt)
{
	size_t len;
	uint8_t *buf = slurp(assemble("pieces2", pieces_src), &len), *mut = malloc(len);
	static const struct lp_piece p[] = {
		{ ".text.there" }, { ".text.ref", ext_any, NULL }, { ".text.self" }, { ".data.d" },
	};
	uint8_t out[256];
	unsigned seed = 54321;

	ck_assert(mut);
	for (int iter = 0; iter < 3000; iter++) {
		struct lp_obj *o = NULL;
		size_t n = len, used;
		struct gp_error *err;

		memcpy(mut, buf, len);
		if (iter % 4 == 0) {
			n = (size_t)iter * 7 % len;
		} else {
			for (int k = 0; k < 4; k++) {
				seed = seed * 1103515245 + 12345;
				mut[(seed >> 8) % len] ^= (uint8_t)(1u << ((seed >> 3) & 7));
			}
		}
		err = lp_obj_open_pieces(mut, n, "flipped", &o);
		if (!err)
			err = lp_obj_link_pieces(o, PIECES_VA, p, ARRAY_SIZE(p), out,
						 sizeof(out), &used);
		gp_error_destroy(err);
		lp_obj_close(o);
	}
	free(buf);
	free(mut);
}
END_TEST

/*
 * A patch written in assembly, so the section table is exactly as written:
 * `unique` gives a second section of the same name, placed before the one
 * the C macros would emit. The first of each is the larger, so a loader
 * that sizes its copy from the last one copies and relocates past it.
 */
#define DESC_FUNC                                                           \
	"\t.balign 8\n\t.ascii \"cmdline_proc_show\"\n\t.fill 128 - 17, 1, 0\n" \
	"\t.quad 0\n\t.quad new_show\n"

static const char two_patch_src[] =
	"\t.text\nnew_show:\n\tret\n"
	"\t.section .gp.patch, \"a\", @progbits, unique, 1\n"
	"\t.balign 8\n\t.ascii \"first\"\n\t.fill 64 - 5 + 48 + 8, 1, 0\n"
	"\t.fill 120, 1, 0x41\n"	/* a second descriptor's worth more */
	"\t.section .gp.patch, \"a\", @progbits, unique, 2\n"
	"\t.balign 8\n\t.ascii \"second\"\n\t.fill 64 - 6 + 48 + 8, 1, 0\n"
	"\t.section .gp.funcs, \"a\", @progbits\n" DESC_FUNC;

static const char two_funcs_src[] =
	"\t.text\nnew_show:\n\tret\n"
	"\t.section .gp.patch, \"a\", @progbits\n"
	"\t.balign 8\n\t.ascii \"p\"\n\t.fill 64 - 1 + 48 + 8, 1, 0\n"
	"\t.section .gp.funcs, \"a\", @progbits, unique, 1\n" DESC_FUNC DESC_FUNC DESC_FUNC
	"\t.section .gp.funcs, \"a\", @progbits, unique, 2\n" DESC_FUNC;

static void expect_asm_error(const char *name, const char *src, const char *needle)
{
	size_t len;
	uint8_t *elf = slurp(assemble(name, src), &len);
	struct lp_obj *o = NULL;
	struct lp_image img;
	struct gp_error *err = lp_obj_open(elf, len, name, &o);

	if (!err) {
		err = lp_obj_link(o, CODE_VA, DATA_VA, resolve, NULL, &img);
		if (!err)
			lp_image_free(&img);
	}
	ck_assert_msg(err, "%s: loaded, expected '%s'", name, needle);
	ck_assert_msg(err->code == GP_ERR_INVAL && strstr(err->msg, needle),
		      "%s: got [%s] %s, expected ...%s...", name,
		      gp_error_code_name(err->code), err->msg, needle);
	gp_error_destroy(err);
	lp_obj_close(o);
	free(elf);
}

/* Issue 11: one descriptor section of each kind, or the object is refused
 * by name (before, the second was copied and relocated past its buffer). */
START_TEST(duplicate_descriptor_sections)
{
	expect_asm_error("twopatch", two_patch_src, "more than one .gp.patch section");
	expect_asm_error("twofuncs", two_funcs_src, "more than one .gp.funcs section");
	/* The same object with one of each loads. */
	{
		static const char one_src[] =
			"\t.text\nnew_show:\n\tret\n"
			"\t.section .gp.patch, \"a\", @progbits\n"
			"\t.balign 8\n\t.ascii \"p\"\n\t.fill 64 - 1 + 48 + 8, 1, 0\n"
			"\t.section .gp.funcs, \"a\", @progbits\n" DESC_FUNC;
		size_t len;
		uint8_t *elf = slurp(assemble("one", one_src), &len);
		struct lp_obj *o = NULL;
		struct lp_image img;

		ck_ok(lp_obj_open(elf, len, "one", &o));
		ck_ok(lp_obj_link(o, CODE_VA, DATA_VA, resolve, NULL, &img));
		ck_assert_str_eq(img.name, "p");
		ck_assert_int_eq(img.nr_funcs, 1);
		ck_assert_uint_eq(img.funcs[0].new_addr, CODE_VA);
		lp_image_free(&img);
		lp_obj_close(o);
		free(elf);
	}
}
END_TEST

/* A fake kernel whose returns are plain `ret` (resolver arg non-NULL):
 * __x86_return_thunk answers LP_SYM_RET_INLINE. */
static struct gp_error *resolve_ret_inline(void *arg, const char *name, uint64_t *addr)
{
	if (!strcmp(name, "__x86_return_thunk")) {
		*addr = LP_SYM_RET_INLINE;
		return NULL;
	}
	return resolve(arg, name, addr);
}

static const char returns_src[] =
	"#include <guestpatch.h>\n"
	"GP_PATCH(\"unit-returns\");\n"
	"extern int other(int);\n"
	"static int new_f(int x) { if (x > 3) return other(x) + 1; if (x < 0) return 7; return x * 5; }\n"
	"GP_REPLACE(f, new_f);\n";

/* Count `jmp rel32` to `to`, and ret-site pieces, in the linked code. */
static void count_returns(const struct lp_image *img, uint64_t to, int *jmps, int *rets)
{
	uint8_t ret[LP_AGENT_JMP_SIZE];

	ck_ok(lp_agent_ret_site(ret));
	*jmps = *rets = 0;
	for (size_t i = 0; i + 5 <= img->code_size; i++) {
		int32_t rel;

		memcpy(&rel, img->code + i + 1, 4);
		if (img->code[i] == 0xe9 && CODE_VA + i + 5 + (uint64_t)(int64_t)rel == to)
			(*jmps)++;
		if (!memcmp(img->code + i, ret, sizeof(ret)))
			(*rets)++;
	}
}

/* A patch's returns go where the guest kernel's go: to its return thunk,
 * or a plain ret written over each `jmp __x86_return_thunk`. */
START_TEST(returns_follow_the_guest)
{
	struct lp_obj *o = NULL;
	struct lp_image img;
	uint64_t thunk;
	int jmps, rets, sites;
	char *obj = compile("returns", returns_src);

	ck_ok(resolve(NULL, "__x86_return_thunk", &thunk));
	ck_ok(lp_obj_open_file(obj, &o));
	ck_ok(lp_obj_link(o, CODE_VA, DATA_VA, resolve, NULL, &img));
	count_returns(&img, thunk, &sites, &rets);
	ck_assert_msg(sites >= 2, "%d returns through the thunk", sites);
	ck_assert_int_eq(rets, 0);
	lp_image_free(&img);
	lp_obj_close(o);
	ck_ok(lp_obj_open_file(obj, &o));
	ck_ok(lp_obj_link(o, CODE_VA, DATA_VA, resolve_ret_inline, NULL, &img));
	count_returns(&img, thunk, &jmps, &rets);
	ck_assert_int_eq(jmps, 0);
	ck_assert_int_eq(rets, sites);
	lp_image_free(&img);
	lp_obj_close(o);
	/* A conditional jump or a call to the thunk cannot become a ret. */
	obj = compile("jcc_ret", "#include <guestpatch.h>\nGP_PATCH(\"unit-jcc\");\n"
				 "extern int new_f(void);\nGP_REPLACE(f, new_f);\n"
				 "asm(\".text\\n.globl new_f\\nnew_f: test %eax, %eax\\n"
				 "jne __x86_return_thunk\\nret\\n\");\n");
	ck_ok(lp_obj_open_file(obj, &o));
	ck_err(lp_obj_link(o, CODE_VA, DATA_VA, resolve_ret_inline, NULL, &img), GP_ERR_INVAL,
	       "a conditional or indirect use of '__x86_return_thunk'");
	lp_obj_close(o);
	obj = compile("call_ret", "#include <guestpatch.h>\nGP_PATCH(\"unit-call\");\n"
				  "extern int new_f(void);\nGP_REPLACE(f, new_f);\n"
				  "asm(\".text\\n.globl new_f\\nnew_f: call __x86_return_thunk\\nret\\n\");\n");
	ck_ok(lp_obj_open_file(obj, &o));
	ck_err(lp_obj_link(o, CODE_VA, DATA_VA, resolve_ret_inline, NULL, &img), GP_ERR_INVAL,
	       "a conditional or indirect use of '__x86_return_thunk'");
	lp_obj_close(o);
}
END_TEST

static TCase *lp_elf_tcase(void)
{
	TCase *tc = tcase_create("lp_elf");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, links_and_relocates);
	tcase_add_test(tc, returns_follow_the_guest);
	tcase_add_test(tc, refusals);
	tcase_add_test(tc, corrupt_objects);
	tcase_add_test(tc, pieces);
	tcase_add_test(tc, pieces_corrupt);
	tcase_add_test(tc, duplicate_descriptor_sections);
	return tc;
}
GP_TCASE(lp_elf_tcase)
