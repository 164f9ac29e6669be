// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vmlinuz unpacking: a small ELF compressed by each compressor's own
 * command-line tool (xz, zstd, lz4 -l, gzip, bzip2, as the kernel's boot
 * wrapper invokes them) inside a fake bzImage, read back byte for byte and
 * through kern_elf_section(); truncated, corrupt, oversized and foreign
 * payloads refused with the cause named.
 */
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gp_check.h"
#include "kernel.h"

/* More than one lz4 legacy block (8 MiB). */
#define SEC_LEN ((8u << 20) + 300000)
#define SEC_ADDR 0xffffffff81000000ull
#define SETUP_SECTS 1
#define PAYLOAD_OFF 0x100

static char dir[64];
static uint8_t *elf;		/* the ELF file */
static size_t elf_len;
static uint8_t *sec;		/* its one section's bytes */

static const struct { const char *name, *cmd; } tools[] = {
	{ "xz", "xz -1 -c --check=crc32" },
	{ "zstd", "zstd -q -c" },
	{ "lz4", "lz4 -q -l -c" },
	{ "gzip", "gzip -n -c" },
	{ "bzip2", "bzip2 -c" },
};

static uint8_t *slurp(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *b;
	int fd = open(path, O_RDONLY);

	ck_assert_msg(fd >= 0, "open %s", path);
	ck_assert(!fstat(fd, &st));
	b = malloc((size_t)st.st_size + 1);
	ck_assert(b);
	ck_assert(read(fd, b, (size_t)st.st_size) == st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return b;
}

static void spit(const char *path, const void *b, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ck_assert(fd >= 0);
	ck_assert(write(fd, b, len) == (ssize_t)len);
	close(fd);
}

/* An x86-64 ELF with one section, .testsec, of compressible bytes. */
static void make_elf(const char *path)
{
	static char names[] = "\0.testsec\0.shstrtab";
	Elf64_Ehdr *eh;
	Elf64_Shdr *sh;
	Elf_Scn *s, *strs;
	Elf_Data *d;
	Elf *e;
	int fd;

	sec = malloc(SEC_LEN);
	ck_assert(sec);
	for (size_t i = 0; i < SEC_LEN; i++)
		sec[i] = (uint8_t)("guestpatch "[i % 11] + (((i * 2654435761u) >> 13) & 3));
	ck_assert(elf_version(EV_CURRENT) != EV_NONE);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert(fd >= 0);
	e = elf_begin(fd, ELF_C_WRITE, NULL);
	ck_assert(e && (eh = elf64_newehdr(e)));
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_machine = EM_X86_64;
	eh->e_type = ET_EXEC;
	s = elf_newscn(e);
	d = elf_newdata(s);
	d->d_buf = sec;
	d->d_size = SEC_LEN;
	d->d_type = ELF_T_BYTE;
	d->d_align = 1;
	sh = elf64_getshdr(s);
	sh->sh_name = 1;
	sh->sh_type = SHT_PROGBITS;
	sh->sh_flags = SHF_ALLOC;
	sh->sh_addr = SEC_ADDR;
	strs = elf_newscn(e);
	d = elf_newdata(strs);
	d->d_buf = names;
	d->d_size = sizeof(names);
	d->d_type = ELF_T_BYTE;
	d->d_align = 1;
	sh = elf64_getshdr(strs);
	sh->sh_name = 10;
	sh->sh_type = SHT_STRTAB;
	eh->e_shstrndx = (Elf64_Half)elf_ndxscn(strs);
	ck_assert(elf_update(e, ELF_C_WRITE) > 0);
	elf_end(e);
	close(fd);
}

static void run_tool(size_t i, const char *input, char *out, size_t outlen);

/* Once for the test case (the compressors are the slow part): the ELF
 * and its compressed forms, in a fresh directory. */
static void setup(void)
{
	char p[128];

	strcpy(dir, "/tmp/gp-vmlinuz-XXXXXX");
	ck_assert(mkdtemp(dir));
	snprintf(p, sizeof(p), "%s/vmlinux", dir);
	make_elf(p);
	for (size_t i = 0; i < ARRAY_SIZE(tools); i++)
		run_tool(i, NULL, p, sizeof(p));
}

/* Per test: the ELF as the tests compare it. */
static void load(void)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/vmlinux", dir);
	elf = slurp(p, &elf_len);
}

static void unload(void)
{
	free(elf);
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert(system(cmd) == 0);
	free(sec);
}

/* `input` in dir compressed by tool i, into out.<tool>[.input]. */
static void run_tool(size_t i, const char *input, char *out, size_t outlen)
{
	char cmd[512];

	snprintf(out, outlen, "%s/out.%s%s%s", dir, tools[i].name, input ? "." : "",
		 input ? input : "");
	snprintf(cmd, sizeof(cmd), "%s %s/%s > %s", tools[i].cmd, dir, input ? input : "vmlinux",
		 out);
	ck_assert_msg(system(cmd) == 0, "`%s` failed: is %s installed (scripts/deps.sh)?", cmd,
		      tools[i].name);
}

/* The ELF compressed by tool i (done once, in setup), or `input`. */
static uint8_t *compress(size_t i, const char *input, size_t *len)
{
	char out[128];
	uint8_t *b;

	if (input)
		run_tool(i, input, out, sizeof(out));
	else
		snprintf(out, sizeof(out), "%s/out.%s", dir, tools[i].name);
	b = slurp(out, len);
	ck_assert_uint_ge(*len, 256);
	return b;
}

/* A bzImage-like blob: setup sectors with the boot header, then the
 * protected-mode code holding the payload (the compressed data and its
 * 4-byte uncompressed size) at PAYLOAD_OFF, then a tail. */
static uint8_t *bzimage(const uint8_t *c, size_t clen, uint32_t claim, bool header, size_t *len)
{
	size_t base = (SETUP_SECTS + 1) * 512, plen = clen + 4;
	uint8_t *b;
	uint32_t v;
	uint16_t ver = 0x20f;

	*len = base + PAYLOAD_OFF + plen + 512;
	b = calloc(1, *len);
	ck_assert(b);
	memset(b, 0x90, base + PAYLOAD_OFF);	/* stands in for code */
	if (header) {
		b[0x1f1] = SETUP_SECTS;
		memcpy(b + 0x202, "HdrS", 4);
		memcpy(b + 0x206, &ver, 2);
		v = PAYLOAD_OFF;
		memcpy(b + 0x248, &v, 4);
		v = (uint32_t)plen;
		memcpy(b + 0x24c, &v, 4);
	}
	memcpy(b + base + PAYLOAD_OFF, c, clen);
	memcpy(b + base + PAYLOAD_OFF + clen, &claim, 4);
	return b;
}

static struct gp_error *unpack(const uint8_t *img, size_t len, uint8_t **out, size_t *out_len)
{
	return kern_vmlinuz_unpack("test-vmlinuz", img, len, out, out_len);
}

START_TEST(each_compressor)
{
	size_t clen, len, out_len, dlen;
	uint8_t *c = compress((size_t)_i, NULL, &clen), *img, *out;
	char path[128];
	void *data;
	uint64_t addr;

	/* With a boot header: exactly the ELF. */
	img = bzimage(c, clen, (uint32_t)elf_len, true, &len);
	ck_ok(unpack(img, len, &out, &out_len));
	ck_assert_uint_eq(out_len, elf_len);
	ck_assert(!memcmp(out, elf, elf_len));
	free(out);
	/* The same through a file, as --vmlinux reads one. */
	snprintf(path, sizeof(path), "%s/vmlinuz.%s", dir, tools[_i].name);
	spit(path, img, len);
	ck_ok(kern_elf_section_at(path, ".testsec", &data, &dlen, &addr));
	ck_assert_uint_eq(dlen, SEC_LEN);
	ck_assert_uint_eq(addr, SEC_ADDR);
	ck_assert(!memcmp(data, sec, SEC_LEN));
	free(data);
	free(img);
	/* Without one: found by its magic. */
	img = bzimage(c, clen, (uint32_t)elf_len, false, &len);
	ck_ok(unpack(img, len, &out, &out_len));
	ck_assert_uint_eq(out_len, elf_len);
	ck_assert(!memcmp(out, elf, elf_len));
	free(out);
	free(img);
	free(c);
}
END_TEST

/* Truncated or corrupt: refused as corrupt, naming the compressor. */
START_TEST(truncated_or_corrupt)
{
	size_t clen, len, out_len;
	uint8_t *c = compress((size_t)_i, NULL, &clen), *img, *out = NULL;
	char what[32];
	struct gp_error *err;

	snprintf(what, sizeof(what), "%s payload", tools[_i].name);
	img = bzimage(c, clen / 2, (uint32_t)elf_len, true, &len);
	err = unpack(img, len, &out, &out_len);
	ck_assert_msg(err && err->code == GP_ERR_CORRUPT && strstr(err->msg, what),
		      "truncated %s: %s", tools[_i].name, err ? err->msg : "accepted");
	ck_assert(!out);
	gp_error_destroy(err);
	free(img);
	memset(c + clen / 2, 0xff, 64);
	img = bzimage(c, clen, (uint32_t)elf_len, true, &len);
	err = unpack(img, len, &out, &out_len);
	ck_assert_msg(err && (err->code == GP_ERR_CORRUPT || err->code == GP_ERR_LIMIT),
		      "corrupt %s: %s", tools[_i].name, err ? err->msg : "accepted");
	ck_assert(!out);
	gp_error_destroy(err);
	free(img);
	free(c);
}
END_TEST

/* The image's size claim bounds the output: over the cap refused before
 * decompressing; an output longer or shorter than the claim refused. */
START_TEST(size_claims)
{
	size_t clen, len, out_len;
	uint8_t *c = compress((size_t)_i, NULL, &clen), *img, *out = NULL;

	img = bzimage(c, clen, 0xf0000000u, true, &len);
	ck_err(unpack(img, len, &out, &out_len), GP_ERR_LIMIT, "more than 512 MiB (VMLINUZ_MAX_OUT)");
	free(img);
	img = bzimage(c, clen, (uint32_t)elf_len - 1000, true, &len);
	{
		struct gp_error *err = unpack(img, len, &out, &out_len);

		/* zstd's frame header gives the size too, and says so first. */
		ck_assert_msg(err && err->code == GP_ERR_LIMIT &&
			      (strstr(err->msg, "the size the image gives") || strstr(err->msg, "claims")),
			      "short claim: %s", err ? err->msg : "accepted");
		gp_error_destroy(err);
	}
	free(img);
	img = bzimage(c, clen, (uint32_t)elf_len + 1000, true, &len);
	ck_err(unpack(img, len, &out, &out_len), GP_ERR_CORRUPT, "the image says");
	ck_assert(!out);
	free(img);
	free(c);
}
END_TEST

START_TEST(foreign_payloads)
{
	static const uint8_t lzma_alone[16] = { 0x5d, 0, 0, 0x80, 0 };
	size_t clen, len, out_len;
	uint8_t *c, *img, *out = NULL;
	char path[128];

	/* Not an ELF inside. */
	snprintf(path, sizeof(path), "%s/notelf", dir);
	spit(path, sec, 100000);
	c = compress(1, "notelf", &clen);
	img = bzimage(c, clen, 100000, true, &len);
	ck_err(unpack(img, len, &out, &out_len), GP_ERR_CORRUPT, "does not hold an ELF vmlinux");
	free(img);
	free(c);
	/* A compressor we do not read (lzma, lzo): refused by its bytes. */
	img = bzimage(lzma_alone, sizeof(lzma_alone), 1000, true, &len);
	ck_err(unpack(img, len, &out, &out_len), GP_ERR_UNSUPPORTED, "first bytes 5d 00 00 80");
	/* A boot header pointing outside the file. */
	{
		uint32_t big = 0x7fffffff;

		memcpy(img + 0x24c, &big, 4);
		ck_err(unpack(img, len, &out, &out_len), GP_ERR_CORRUPT, "lies outside the file");
	}
	free(img);
	/* Nothing recognisable at all. */
	img = calloc(1, 4096);
	ck_err(unpack(img, 4096, &out, &out_len), GP_ERR_INVAL, "neither an ELF vmlinux nor");
	ck_assert(!out);
	free(img);
}
END_TEST

static TCase *vmlinuz_tcase(void)
{
	TCase *tc = tcase_create("vmlinuz");

	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_checked_fixture(tc, load, unload);
	tcase_add_loop_test(tc, each_compressor, 0, ARRAY_SIZE(tools));
	tcase_add_loop_test(tc, truncated_or_corrupt, 0, ARRAY_SIZE(tools));
	tcase_add_loop_test(tc, size_claims, 0, ARRAY_SIZE(tools));
	tcase_add_test(tc, foreign_payloads);
	return tc;
}
GP_TCASE(vmlinuz_tcase)
