// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_region: the region header a guest holds (patch/lp_region.c,
 * lp_region_load and its validation) in the format of struct
 * fz_region_hdr; a header that validates is then used as the engine uses
 * it (patch/lp_records.c: stacks, targets, allocation, dropping patches),
 * and one of an earlier boot is set up anew over (patch/lp_region.c,
 * lp_region_setup), that pause then rolled back.
 */
#include "fuzz.h"
#include "lp_engine.h"
#include "lp_region.h"

#define MEM (1u << 20)
#define L2_PA FZ_REGION_L2_PA

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void sane_name(char *s, size_t cap)
{
	s[cap - 1] = '\0';
	if (!*s)
		strcpy(s, "f");
	for (; *s; s++)
		if (!(*s == '_' || *s == '.' || (*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= 'A' && *s <= 'Z')))
			*s = '_';
}

static void use_records(struct lp_region *r)
{
	static struct lp_region c;
	struct lp_hdr *h = &r->hdr;
	int stack[LP_MAX_PATCHES];

	for (int i = 0; i < LP_MAX_PATCHES; i++) {
		if (h->patches[i].state == LP_FREE)
			continue;
		lp_rec_code_start(r, i);
		lp_rec_code_end(r, i);
		lp_rec_find_patch(h, h->patches[i].name);
	}
	for (int s = 0; s < LP_MAX_SITES; s++)
		if (h->sites[s].in_use) {
			lp_rec_site_stack(h, s, stack);
			lp_rec_find_site(h, h->sites[s].old_addr);
		}
	for (int f = 0; f < LP_MAX_FUNCS_TOTAL; f++)
		if (h->funcs[f].in_use)
			lp_rec_func_target(h, &h->funcs[f]);
	for (unsigned n = 1; n <= 4; n++) {
		lp_region_alloc(r, true, n);
		lp_region_alloc(r, false, n);
	}
	for (int i = 0; i < LP_MAX_PATCHES; i++) {
		if (h->patches[i].state == LP_FREE)
			continue;
		c = *r;
		lp_rec_drop_nops(&c.hdr, i);
		lp_rec_drop_patch(&c.hdr, i, i & 1);
		lp_rec_gc_sites(&c.hdr);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *mem;
	static struct kern k;
	static struct lp_region r;
	struct fz_in in = { data, size };
	struct fz_region_hdr h;
	char map[1024];
	size_t n = 0;
	uint64_t text, idx, boot;

	if (!mem && !(mem = calloc(1, MEM)))
		abort();
	fz_take(&in, &h, sizeof(h));
	memset(mem + LP_REGION_PA, 0, LP_REGION_SIZE);
	memset(mem + L2_PA, 0, 0x2000);
	fz_take(&in, mem + LP_REGION_PA, sizeof(struct lp_hdr));
	memset(&k, 0, sizeof(k));
	if (tgt_buffer_new(mem, MEM, NULL, 0, &k.t))
		abort();
	k.levels = 4;
	memcpy(&boot, mem + LP_REGION_PA + offsetof(struct lp_hdr, boot_id), sizeof(boot));
	tgt_set_boot_id(k.t, h.boot == FZ_REGION_UNKNOWN_BOOT ? 0 :
			     h.boot == FZ_REGION_OTHER_BOOT ? ~boot : boot);
	snprintf(k.release, sizeof(k.release), "6.1.0-fuzz");
	h.build_id[40] = '\0';
	snprintf(k.build_id, sizeof(k.build_id), "%s", h.build_id);
	/* level2_kernel_pgt's page is mapped linearly, as the kernel image. */
	text = h.l2 & ~0xfffull;
	k.text_start = text;
	k.image_end = text + 0x1000;
	k.phys_base = L2_PA - (text - KERN_START_KERNEL_MAP);
	idx = (h.end - 1 - KERN_START_KERNEL_MAP) / (2ull << 20) + 2;
	if (h.end >= KERN_START_KERNEL_MAP && idx < 512)
		memcpy(mem + L2_PA + (h.l2 & 0xfff) + idx * 8, &h.pmd, 8);
	n += (size_t)snprintf(map + n, sizeof(map) - n, "%016llx D level2_kernel_pgt\n%016llx B _end\n",
			      (unsigned long long)h.l2, (unsigned long long)h.end);
	if (h.hook)
		n += (size_t)snprintf(map + n, sizeof(map) - n, "%016llx T %s\n",
				      (unsigned long long)h.hook, LP_AGENT_HOOK);
	for (uint32_t i = 0; i < h.nsyms && i < FZ_REGION_SYMS; i++) {
		struct fz_region_sym *s = &h.syms[i];

		sane_name(s->name, sizeof(s->name));
		if (!((s->type >= 'a' && s->type <= 'z') || (s->type >= 'A' && s->type <= 'Z')))
			s->type = 't';
		n += (size_t)snprintf(map + n, sizeof(map) - n, "%016llx %c %s\n",
				      (unsigned long long)s->addr, s->type, s->name);
	}
	if (gp_ok(ksym_parse_map(map, n, 0, &k.syms))) {
		if (gp_ok(lp_region_load(&k, &r)) && r.present)
			use_records(&r);
		else if (r.earlier_boot && gp_ok(tgt_pause(k.t))) {
			struct gp_error *err = lp_region_setup(&k, &r);

			/* Rolled back: the journal's undo of a set-up. */
			if (!err)
				err = gp_error_create(GP_ERR_INVAL, "undo");
			gp_error_destroy(lp_txn_end(k.t, err));
			gp_error_destroy(tgt_resume(k.t));
		}
		ksym_free(k.syms);
	}
	tgt_close(k.t);
	return 0;
}
