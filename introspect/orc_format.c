// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * orc_format.c - which ORC entry format a guest kernel uses, and how each
 * one decodes.  The facts are the one table below; a guest is matched
 * against it by what it shows (its ORC header hash, struct orc_entry in
 * its BTF), never by its version string, and a format not in the table is
 * refused by name: a wrong decoder gives false "reliable" verdicts, and a
 * transition could then switch a task that is still inside a patched
 * function.
 *
 * How each fact was verified:
 *
 *   linux-6.1 (no header): struct orc_entry { ...; type:2; end:1 } is
 *     arch/x86/include/asm/orc_types.h up to Linux 6.2; the BTF shape was
 *     read from Debian's 6.1.0-57 vmlinux (type at bit 40, 2 bits; end at
 *     bit 42; no signal).
 *   linux-6.4 (hash fe5d32bf...fe24): the hash scripts/orc_hash.sh makes
 *     from orc_types.h with type:3, signal:1 and the ORC_TYPE_UNDEFINED..
 *     REGS_PARTIAL defines (fb799447ae29, ffb1b4a41016; the header itself
 *     is b9f174c811e3, all in 6.4).  Recomputed here with the script's awk
 *     | sha1sum over torvalds/linux orc_types.h at 6757641d3982 (the same
 *     hashed lines as linux-6.6.14's copy); read from a booted Debian 6.12
 *     guest's __start_orc_header (DESIGN.md); drgn's orc_info.c lists the
 *     same bytes for 6.4+.
 *
 * Not listed, so refused: Linux 6.3 (type:2, signal:1, end:1; drgn lists
 * header hash db84aed4...2c51 for 6.3.10+, which we have not recomputed
 * from a 6.3 orc_types.h), and any later change of orc_types.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orc.h"

static void decode_common(const uint8_t raw[6], struct orc_entry *e)
{
	memcpy(&e->sp_offset, raw, 2);
	memcpy(&e->bp_offset, raw + 2, 2);
	e->sp_reg = raw[4] & 15;
	e->bp_reg = raw[4] >> 4;
}

/* Up to 6.2: type:2 (CALL 0, REGS 1, REGS_PARTIAL 2), end:1; the kernel
 * (unwind_orc.c, 6.1) treats an undefined sp_reg as the end of the stack
 * if `end` is set and as an error otherwise, and REGS/REGS_PARTIAL imply
 * the signal flag. */
static void decode_6_1(const uint8_t raw[6], struct orc_entry *e)
{
	unsigned type = raw[5] & 3, end = (raw[5] >> 2) & 1;

	decode_common(raw, e);
	if (e->sp_reg == ORC_REG_UNDEFINED)
		e->type = end ? ORC_TYPE_END_OF_STACK : ORC_TYPE_UNDEFINED;
	else
		e->type = (uint8_t)(ORC_TYPE_CALL + type);	/* 3 becomes 5: unknown */
	e->signal = e->type == ORC_TYPE_REGS || e->type == ORC_TYPE_REGS_PARTIAL;
}

/* 6.4 on: type:3 with the enum orc_type values, signal:1. */
static void decode_6_4(const uint8_t raw[6], struct orc_entry *e)
{
	decode_common(raw, e);
	e->type = raw[5] & 7;
	e->signal = (raw[5] >> 3) & 1;
}

static const struct orc_format orc_formats[] = {
	{
		.name = "linux-6.1", .kernels = "Linux 4.14 to 6.2, no ORC header",
		.hash = NULL,
		.shape = { .sp_reg_bit = 32, .bp_reg_bit = 36, .type_bit = 40, .type_bits = 2,
			   .end_bit = 42, .signal_bit = -1 },
		.decode = decode_6_1,
	},
	{
		.name = "linux-6.4", .kernels = "Linux 6.4 on (6.6, 6.12 seen)",
		.hash = "fe5d32bf581bd63b2ca9a5c65ba5a625eab3fe24",
		.shape = { .sp_reg_bit = 32, .bp_reg_bit = 36, .type_bit = 40, .type_bits = 3,
			   .end_bit = -1, .signal_bit = 43 },
		.decode = decode_6_4,
	},
};

static const char refusal[] = "stacks cannot be checked, so nothing will be patched";

static void hash_hex(const uint8_t *h, char out[2 * ORC_HASH_LEN + 1])
{
	for (int i = 0; i < ORC_HASH_LEN; i++)
		sprintf(out + 2 * i, "%02x", h[i]);
}

static void shape_str(const struct orc_shape *s, char *buf, size_t len)
{
	snprintf(buf, len, "sp_reg@%d bp_reg@%d type:%d@%d end@%d signal@%d", s->sp_reg_bit,
		 s->bp_reg_bit, s->type_bits, s->type_bit, s->end_bit, s->signal_bit);
}

static bool shape_eq(const struct orc_shape *a, const struct orc_shape *b)
{
	return a->sp_reg_bit == b->sp_reg_bit && a->bp_reg_bit == b->bp_reg_bit &&
	       a->type_bit == b->type_bit && a->type_bits == b->type_bits &&
	       a->end_bit == b->end_bit && a->signal_bit == b->signal_bit;
}

const struct orc_format *orc_format_by_name(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(orc_formats); i++)
		if (!strcmp(orc_formats[i].name, name))
			return &orc_formats[i];
	return NULL;
}

struct gp_error *orc_format_pick(const uint8_t *hash, const struct orc_shape *btf_shape,
				 const struct orc_format **out)
{
	const struct orc_format *f = NULL;
	char hex[2 * ORC_HASH_LEN + 1] = "", shape[128];

	*out = NULL;
	if (hash)
		hash_hex(hash, hex);
	for (size_t i = 0; i < ARRAY_SIZE(orc_formats); i++) {
		const struct orc_format *c = &orc_formats[i];

		if (hash ? c->hash && !strcmp(c->hash, hex) :
			   !c->hash && btf_shape && shape_eq(&c->shape, btf_shape))
			f = c;
	}
	if (hash && !f)
		return gp_error_create(GP_ERR_UNSUPPORTED,
				       "ORC format %s is not one guestpatch knows: %s", hex, refusal);
	if (!hash && !btf_shape)
		return gp_error_create(GP_ERR_UNSUPPORTED,
				       "the guest kernel has no ORC header and its BTF has no struct orc_entry, so its ORC format cannot be told: %s",
				       refusal);
	if (!f) {
		shape_str(btf_shape, shape, sizeof(shape));
		return gp_error_create(GP_ERR_UNSUPPORTED,
				       "ORC format without a header, struct orc_entry { %s } in the guest's BTF, is not one guestpatch knows: %s",
				       shape, refusal);
	}
	/* A header and a BTF that disagree: trust neither. */
	if (btf_shape && !shape_eq(&f->shape, btf_shape)) {
		shape_str(btf_shape, shape, sizeof(shape));
		return gp_error_create(GP_ERR_UNSUPPORTED,
				       "ORC header %s names format %s, but the guest's BTF has struct orc_entry { %s }: %s",
				       hex, f->name, shape, refusal);
	}
	*out = f;
	return NULL;
}

/* struct orc_entry as the guest's BTF lays it out; false if BTF has none. */
static struct gp_error *btf_shape(struct kern *k, struct orc_shape *s, bool *have)
{
	static const struct { const char *name; size_t at; unsigned bits; bool optional; } m[] = {
		{ "sp_reg", offsetof(struct orc_shape, sp_reg_bit), 4, false },
		{ "bp_reg", offsetof(struct orc_shape, bp_reg_bit), 4, false },
		{ "type", offsetof(struct orc_shape, type_bit), 0, false },
		{ "end", offsetof(struct orc_shape, end_bit), 1, true },
		{ "signal", offsetof(struct orc_shape, signal_bit), 1, true },
	};
	uint64_t size;
	struct gp_error *err;

	*have = false;
	if (!k->btf || !gp_ok(kbtf_sizeof(k->btf, "orc_entry", &size)))
		return NULL;
	if (size != 6)
		return gp_error_create(GP_ERR_UNSUPPORTED,
				       "the guest's struct orc_entry is %llu bytes, not 6: %s",
				       (unsigned long long)size, refusal);
	for (size_t i = 0; i < ARRAY_SIZE(m); i++) {
		uint64_t off, bits;
		int *field = (int *)((char *)s + m[i].at);

		err = kbtf_bitfield(k->btf, "orc_entry", m[i].name, &off, &bits);
		if (err && err->code == GP_ERR_NOTFOUND && m[i].optional) {
			gp_error_destroy(err);
			*field = -1;
			continue;
		}
		if (err)
			return gp_error_wrap(err, "the guest's struct orc_entry");
		if (!bits || bits > 8 || off >= 48 || (m[i].bits && bits != m[i].bits))
			return gp_error_create(GP_ERR_UNSUPPORTED,
					       "the guest's struct orc_entry has %s as %llu bits at bit %llu: %s",
					       m[i].name, (unsigned long long)bits,
					       (unsigned long long)off, refusal);
		*field = (int)off;
		if (!strcmp(m[i].name, "type"))
			s->type_bits = (int)bits;
	}
	*have = true;
	return NULL;
}

/* The ORC header: 20 bytes at __start_orc_header in memory, or the
 * --vmlinux file's .orc_header section. */
static struct gp_error *read_header(struct kern *k, uint8_t hash[ORC_HASH_LEN], bool *have)
{
	uint64_t start, stop;
	struct gp_error *err;
	void *data = NULL;
	size_t len;

	*have = false;
	if (kern_has_sym(k, "__start_orc_header", &start)) {
		if (kern_has_sym(k, "__stop_orc_header", &stop) && stop - start != ORC_HASH_LEN)
			return gp_error_addr(GP_ERR_CORRUPT, start,
					     "the guest's ORC header is %lld bytes, not %d",
					     (long long)(stop - start), ORC_HASH_LEN);
		if ((err = kern_read(k, start, hash, ORC_HASH_LEN)))
			return gp_error_wrap(err, "reading the ORC header (__start_orc_header)");
		*have = true;
		return NULL;
	}
	if (!k->vmlinux)
		return NULL;
	err = kern_elf_section(k->vmlinux, ".orc_header", &data, &len);
	if (err && err->code == GP_ERR_NOTFOUND) {
		gp_error_destroy(err);
		return NULL;
	}
	if (err)
		return err;
	if (len != ORC_HASH_LEN)
		err = gp_error_create(GP_ERR_CORRUPT, "%s: .orc_header is %zu bytes, not %d",
				      k->vmlinux, len, ORC_HASH_LEN);
	else
		memcpy(hash, data, ORC_HASH_LEN);
	free(data);
	*have = !err;
	return err;
}

struct gp_error *orc_format_detect(struct kern *k, const struct orc_format **out)
{
	uint8_t hash[ORC_HASH_LEN];
	struct orc_shape shape;
	bool have_hash, have_shape;
	struct gp_error *err;

	*out = NULL;
	if ((err = read_header(k, hash, &have_hash)) || (err = btf_shape(k, &shape, &have_shape)))
		return err;
	return orc_format_pick(have_hash ? hash : NULL, have_shape ? &shape : NULL, out);
}
