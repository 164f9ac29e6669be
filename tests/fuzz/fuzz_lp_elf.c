// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_lp_elf: the patch object loader and linker (patch/lp_elf.c). The
 * input is an ELF file, opened as a patch (lp_obj_open, lp_obj_sizes,
 * lp_obj_link against a fake kernel) and as a guest-agent object whose
 * sections are linked as pieces (lp_obj_open_pieces, lp_obj_link_pieces),
 * one by one and all together.
 */
#include "fuzz.h"
#include "lp_elf.h"

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
	return 0;
}
