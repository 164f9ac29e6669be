// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vmlinuz.c - the vmlinux ELF inside a bzImage (vmlinuz), for --vmlinux
 * and `vmm build --kernel`.
 *
 * The boot header (Documentation/arch/x86/boot.rst, protocol 2.08+) says
 * where the compressed payload lies: payload_offset and payload_length,
 * from the start of the protected-mode code.  The payload's first bytes
 * name its compressor, as the kernel's CONFIG_KERNEL_* chose it (Debian:
 * xz for 6.1 amd64, lz4 for 6.1 cloud-amd64, zstd for 6.12), and its last
 * four bytes are the uncompressed size (arch/x86/boot/compressed:
 * the *_with_size rules; gzip's own ISIZE), which bounds and checks the
 * output.  An image without a boot header is searched for a payload by
 * magic.  Output is capped at VMLINUZ_MAX_OUT and must be an ELF file.
 */
#include <bzlib.h>
#include <lz4.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "kernel.h"

struct outbuf {
	uint8_t *p;
	size_t len, cap;
	size_t max;		/* the most it may hold: an error beyond */
	const char *why;	/* what sets max, for the error */
};

#define CHUNK (4u << 20)

/*
 * Room for up to `want` more bytes (at least one).  The buffer grows to
 * max + 1 at most, so a stream that ends exactly at max can finish and
 * one that goes on is caught (over_max()), never written past.
 */
static struct gp_error *grow(struct outbuf *o, size_t want)
{
	size_t limit = o->max + 1, cap = o->cap ? o->cap : CHUNK;
	uint8_t *p;

	if (o->cap - o->len >= want || (o->cap == limit && o->cap > o->len))
		return NULL;
	if (o->len >= limit)
		return gp_error_create(GP_ERR_LIMIT, "the payload decompresses to more than %zu bytes (%s)",
				       o->max, o->why);
	while (cap - o->len < want && cap < limit)
		cap *= 2;
	if (cap > limit)
		cap = limit;
	p = realloc(o->p, cap);
	if (!p)
		return &gp_error_nomem;
	o->p = p;
	o->cap = cap;
	return NULL;
}

static struct gp_error *un_xz(const uint8_t *in, size_t len, struct outbuf *o)
{
	lzma_stream s = LZMA_STREAM_INIT;
	struct gp_error *err = NULL;
	lzma_ret r;

	if (lzma_stream_decoder(&s, UINT64_MAX, 0) != LZMA_OK)
		return gp_error_create(GP_ERR_OS, "lzma init failed");
	s.next_in = in;
	s.avail_in = len;
	do {
		if ((err = grow(o, CHUNK)))
			break;
		s.next_out = o->p + o->len;
		s.avail_out = o->cap - o->len;
		r = lzma_code(&s, LZMA_FINISH);
		o->len = o->cap - s.avail_out;
		if (r != LZMA_OK && r != LZMA_STREAM_END)
			err = gp_error_create(GP_ERR_CORRUPT,
					      "xz payload does not decompress (lzma error %d%s)", (int)r,
					      r == LZMA_BUF_ERROR ? ": truncated" : "");
	} while (!err && r != LZMA_STREAM_END);
	lzma_end(&s);
	return err;
}

static struct gp_error *un_zstd(const uint8_t *in, size_t len, struct outbuf *o)
{
	ZSTD_DStream *d = ZSTD_createDStream();
	ZSTD_inBuffer ib = { in, len, 0 };
	struct gp_error *err = NULL;
	unsigned long long claim;
	size_t r = 1;

	if (!d)
		return &gp_error_nomem;
	claim = ZSTD_getFrameContentSize(in, len);
	if (claim != ZSTD_CONTENTSIZE_UNKNOWN && claim != ZSTD_CONTENTSIZE_ERROR && claim > o->max)
		err = gp_error_create(GP_ERR_LIMIT,
				      "zstd payload claims %llu bytes, more than %zu (%s)", claim, o->max,
				      o->why);
	while (!err && r) {
		ZSTD_outBuffer ob;

		if ((err = grow(o, CHUNK)))
			break;
		ob = (ZSTD_outBuffer){ o->p + o->len, o->cap - o->len, 0 };
		r = ZSTD_decompressStream(d, &ob, &ib);
		o->len += ob.pos;
		if (ZSTD_isError(r))
			err = gp_error_create(GP_ERR_CORRUPT, "zstd payload does not decompress: %s",
					      ZSTD_getErrorName(r));
		else if (r && ib.pos == ib.size && ob.pos < ob.size)
			err = gp_error_create(GP_ERR_CORRUPT,
					      "zstd payload does not decompress: truncated");
	}
	ZSTD_freeDStream(d);
	return err;
}

/* The lz4 "legacy" format the kernel's boot wrapper uses (lz4 -l): the
 * magic, then blocks of { le32 size; data } each of at most 8 MiB out. */
#define LZ4_LEGACY_MAGIC 0x184c2102u
#define LZ4_LEGACY_BLOCK (8u << 20)

static struct gp_error *un_lz4(const uint8_t *in, size_t len, struct outbuf *o, bool sized)
{
	size_t pos = 4;
	struct gp_error *err;

	/* Blocks until the input ends; a boot image's payload ends with
	 * its 4-byte size, which is no block. */
	while (len - pos >= 4) {
		uint32_t n;
		size_t room;
		int r;

		memcpy(&n, in + pos, 4);
		if (sized && len - pos == 4)
			break;
		pos += 4;
		if (n == LZ4_LEGACY_MAGIC)
			continue;
		if (!n || n > (uint32_t)LZ4_compressBound(LZ4_LEGACY_BLOCK) || n > len - pos) {
			if (!sized && o->len)
				break;	/* whatever follows the stream in the image */
			return gp_error_create(GP_ERR_CORRUPT,
					       "lz4 payload does not decompress: a block of %u bytes with %zu left%s",
					       n, len - pos, n > len - pos ? ": truncated" : "");
		}
		if ((err = grow(o, LZ4_LEGACY_BLOCK)))
			return err;
		room = o->cap - o->len < LZ4_LEGACY_BLOCK ? o->cap - o->len : LZ4_LEGACY_BLOCK;
		r = LZ4_decompress_safe((const char *)in + pos, (char *)o->p + o->len, (int)n,
					(int)room);
		if (r < 0 && room < LZ4_LEGACY_BLOCK)	/* o->max left less than a block */
			return gp_error_create(GP_ERR_LIMIT,
					       "lz4 payload: block at +%zu is corrupt or decompresses past %zu bytes (%s)",
					       pos, o->max, o->why);
		if (r < 0)
			return gp_error_create(GP_ERR_CORRUPT,
					       "lz4 payload does not decompress: block at +%zu is corrupt",
					       pos);
		o->len += (size_t)r;
		pos += n;
	}
	if (!o->len)
		return gp_error_create(GP_ERR_CORRUPT, "lz4 payload holds no block");
	return NULL;
}

static struct gp_error *un_gzip(const uint8_t *in, size_t len, struct outbuf *o)
{
	z_stream z = { 0 };
	struct gp_error *err = NULL;
	int r = Z_OK;

	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return gp_error_create(GP_ERR_OS, "zlib init failed");
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)(len > UINT32_MAX ? UINT32_MAX : len);
	while (!err && r != Z_STREAM_END) {
		if ((err = grow(o, CHUNK)))
			break;
		z.next_out = o->p + o->len;
		z.avail_out = (uInt)(o->cap - o->len > UINT32_MAX ? UINT32_MAX : o->cap - o->len);
		r = inflate(&z, Z_NO_FLUSH);
		o->len = (size_t)(z.next_out - o->p);
		if (r == Z_BUF_ERROR || (r == Z_OK && !z.avail_in && z.avail_out))
			err = gp_error_create(GP_ERR_CORRUPT, "gzip payload does not decompress: truncated");
		else if (r != Z_OK && r != Z_STREAM_END)
			err = gp_error_create(GP_ERR_CORRUPT, "gzip payload does not decompress: %s",
					      z.msg ? z.msg : "zlib error");
	}
	inflateEnd(&z);
	return err;
}

static struct gp_error *un_bzip2(const uint8_t *in, size_t len, struct outbuf *o)
{
	bz_stream b = { 0 };
	struct gp_error *err = NULL;
	int r = BZ_OK;

	if (BZ2_bzDecompressInit(&b, 0, 0) != BZ_OK)
		return gp_error_create(GP_ERR_OS, "bzip2 init failed");
	b.next_in = (char *)in;
	b.avail_in = (unsigned)(len > UINT32_MAX ? UINT32_MAX : len);
	while (!err && r != BZ_STREAM_END) {
		if ((err = grow(o, CHUNK)))
			break;
		b.next_out = (char *)o->p + o->len;
		b.avail_out = (unsigned)(o->cap - o->len > UINT32_MAX ? UINT32_MAX : o->cap - o->len);
		r = BZ2_bzDecompress(&b);
		o->len = (size_t)((uint8_t *)b.next_out - o->p);
		if (r == BZ_OK && !b.avail_in && b.avail_out)
			err = gp_error_create(GP_ERR_CORRUPT, "bzip2 payload does not decompress: truncated");
		else if (r != BZ_OK && r != BZ_STREAM_END)
			err = gp_error_create(GP_ERR_CORRUPT,
					      "bzip2 payload does not decompress (bzip2 error %d)", r);
	}
	BZ2_bzDecompressEnd(&b);
	return err;
}

enum comp { C_XZ, C_ZSTD, C_LZ4, C_GZIP, C_BZIP2 };

/* The compressors the kernel's boot wrapper may use that we read, by the
 * first bytes of their output. */
static const struct {
	enum comp c;
	const char *name;
	uint8_t magic[6];
	size_t len;
} comps[] = {
	{ C_XZ, "xz", { 0xfd, '7', 'z', 'X', 'Z', 0 }, 6 },
	{ C_ZSTD, "zstd", { '(', 0xb5, '/', 0xfd }, 4 },
	{ C_LZ4, "lz4", { 0x02, '!', 'L', 0x18 }, 4 },
	{ C_GZIP, "gzip", { 0x1f, 0x8b, 8 }, 3 },	/* with deflate, the only method */
	{ C_BZIP2, "bzip2", { 'B', 'Z', 'h' }, 3 },
};

static int comp_at(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(comps); i++)
		if (len >= comps[i].len && !memcmp(p, comps[i].magic, comps[i].len))
			return (int)i;
	return -1;
}

/* One payload: decompress, check against its claimed size, check ELF. */
static struct gp_error *unpack_one(const char *path, int ci, const uint8_t *in, size_t len,
				   bool sized, uint8_t **out, size_t *out_len)
{
	struct outbuf o = { .max = VMLINUZ_MAX_OUT, .why = "VMLINUZ_MAX_OUT" };
	struct gp_error *err;
	uint32_t claim = 0;

	if (sized) {
		memcpy(&claim, in + len - 4, 4);
		if (claim > VMLINUZ_MAX_OUT)
			return gp_error_create(GP_ERR_LIMIT,
					       "%s: the image claims %u bytes uncompressed, more than %u MiB (VMLINUZ_MAX_OUT)",
					       path, claim, VMLINUZ_MAX_OUT >> 20);
		/* The uncompressed size bounds the output too. */
		o.max = claim;
		o.why = "the size the image gives";
	}
	switch (comps[ci].c) {
	case C_XZ: err = un_xz(in, len, &o); break;
	case C_ZSTD: err = un_zstd(in, len, &o); break;
	case C_LZ4: err = un_lz4(in, len, &o, sized); break;
	case C_GZIP: err = un_gzip(in, len, &o); break;
	default: err = un_bzip2(in, len, &o); break;
	}
	if (!err && o.len > o.max)
		err = gp_error_create(GP_ERR_LIMIT, "%s payload decompresses to more than %zu bytes (%s)",
				      comps[ci].name, o.max, o.why);
	if (!err && sized && o.len != claim)
		err = gp_error_create(GP_ERR_CORRUPT,
				      "%s payload decompresses to %zu bytes, the image says %u",
				      comps[ci].name, o.len, claim);
	if (!err && (o.len < 64 || memcmp(o.p, "\177ELF", 4)))
		err = gp_error_create(GP_ERR_CORRUPT, "%s payload does not hold an ELF vmlinux",
				      comps[ci].name);
	if (err) {
		free(o.p);
		return gp_error_wrap(err, "%s", path);
	}
	*out = o.p;
	*out_len = o.len;
	return NULL;
}

#define BOOT_SETUP_SECTS 0x1f1
#define BOOT_HEADER 0x202		/* "HdrS" */
#define BOOT_VERSION 0x206
#define BOOT_PAYLOAD_OFFSET 0x248	/* protocol 2.08+ */
#define BOOT_PAYLOAD_LENGTH 0x24c
#define SCAN_TRIES 16

struct gp_error *kern_vmlinuz_unpack(const char *path, const uint8_t *img, size_t len,
				     uint8_t **out, size_t *out_len)
{
	struct gp_error *err = NULL;
	uint16_t version;
	const uint8_t *p;
	int ci, tries = 0;

	*out = NULL;
	*out_len = 0;
	if (len >= BOOT_PAYLOAD_LENGTH + 4 && !memcmp(img + BOOT_HEADER, "HdrS", 4) &&
	    (memcpy(&version, img + BOOT_VERSION, 2), version >= 0x208)) {
		uint32_t off, plen;
		size_t base = ((size_t)(img[BOOT_SETUP_SECTS] ? img[BOOT_SETUP_SECTS] : 4) + 1) * 512;

		memcpy(&off, img + BOOT_PAYLOAD_OFFSET, 4);
		memcpy(&plen, img + BOOT_PAYLOAD_LENGTH, 4);
		if (base > len || off > len - base || plen > len - base - off || plen < 8)
			return gp_error_create(GP_ERR_CORRUPT,
					       "%s: the boot header's payload (%u bytes at +%u) lies outside the file (%zu bytes)",
					       path, plen, off, len);
		p = img + base + off;
		ci = comp_at(p, plen);
		if (ci < 0)
			return gp_error_create(GP_ERR_UNSUPPORTED,
					       "%s: the payload is compressed in a way guestpatch does not read (first bytes %02x %02x %02x %02x; it reads xz, zstd, lz4, gzip, bzip2)",
					       path, p[0], p[1], p[2], p[3]);
		return unpack_one(path, ci, p, plen, true, out, out_len);
	}
	/* No boot header: the first payload that unpacks into an ELF file. */
	for (p = img; p < img + len && tries < SCAN_TRIES; p++) {
		if ((ci = comp_at(p, (size_t)(img + len - p))) < 0)
			continue;
		tries++;
		gp_error_destroy(err);
		err = unpack_one(path, ci, p, (size_t)(img + len - p), false, out, out_len);
		if (!err || err->code == GP_ERR_LIMIT || err == &gp_error_nomem)
			return err;
	}
	return err ? err : gp_error_create(GP_ERR_INVAL,
					   "%s is neither an ELF vmlinux nor a vmlinuz with a payload guestpatch reads (xz, zstd, lz4, gzip, bzip2)",
					   path);
}
