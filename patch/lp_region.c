// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lp_engine.h"

#define PAGE 4096ull
#define PMD_SIZE (2ull << 20)
/* Page-table entry bits (arch/x86/include/asm/pgtable_types.h). */
#define P_PRESENT 0x001ull
#define P_RW 0x002ull
#define P_ACCESSED 0x020ull
#define P_DIRTY 0x040ull
#define P_NX (1ull << 63)
#define KERNPG_TABLE (P_PRESENT | P_RW | P_ACCESSED | P_DIRTY)

static struct gp_error *kernel_version_ok(struct kern *k)
{
	int major = 0, minor = 0;

	if (sscanf(k->release, "%d.%d", &major, &minor) != 2)
		return gp_error_create(GP_ERR_UNSUPPORTED,
				       "cannot parse kernel release '%s'", k->release);
	/* Linux reserves the whole first MiB only since 5.13. */
	if (major < 5 || (major == 5 && minor < 13))
		return gp_error_create(GP_ERR_UNSUPPORTED,
				       "kernel %s may hand out memory below 1 MiB (needs >= 5.13): no safe place for injected code",
				       k->release);
	return NULL;
}

/* Where level2_kernel_pgt lives and which slot we use (or found used). */
static struct gp_error *plan_slot(struct kern *k, struct lp_region *r)
{
	uint64_t l2, l2_pa, end, rmh, rmh_pa;
	struct gp_error *err;
	uint32_t idx;

	if ((err = kern_sym(k, "level2_kernel_pgt", &l2)) ||
	    (err = kern_sym(k, "_end", &end)) ||
	    (err = kern_v2p(k, l2, &l2_pa)))
		return gp_error_wrap(err, "locating the kernel-image page table");
	if (end < KERN_START_KERNEL_MAP)
		return gp_error_create(GP_ERR_CORRUPT, "_end 0x%llx outside the kernel map",
				       (unsigned long long)end);
	/* One empty 2 MiB slot between _end and us, as a guard. */
	idx = (uint32_t)((end - 1 - KERN_START_KERNEL_MAP) / PMD_SIZE) + 2;
	if (idx >= 512)
		return gp_error_create(GP_ERR_UNSUPPORTED,
				       "no free 2 MiB slot after the kernel image (_end 0x%llx): KASLR put the kernel at the top of its window",
				       (unsigned long long)end);
	r->pmd_index = idx;
	r->pmd_entry_pa = l2_pa + idx * 8ull;
	r->va = KERN_START_KERNEL_MAP + idx * PMD_SIZE;
	/* The real-mode trampoline must lie above the region. */
	if (kern_has_sym(k, "real_mode_header", &rmh)) {
		if ((err = kern_read_u64(k, rmh, &rmh)))
			return gp_error_wrap(err, "reading real_mode_header");
		if (rmh && gp_ok(kern_v2p(k, rmh, &rmh_pa)) &&
		    rmh_pa < LP_REGION_PA + LP_REGION_SIZE)
			return gp_error_create(GP_ERR_UNSUPPORTED,
					       "the real-mode trampoline is at 0x%llx, inside guestpatch's region 0x%llx..0x%llx",
					       (unsigned long long)rmh_pa,
					       (unsigned long long)LP_REGION_PA,
					       (unsigned long long)(LP_REGION_PA + LP_REGION_SIZE));
	}
	return NULL;
}

static struct gp_error *version_ok(const struct lp_hdr *h)
{
	if (h->version != LP_VERSION || h->hdr_size != sizeof(*h))
		return gp_error_addr(GP_ERR_UNSUPPORTED, LP_REGION_PA,
				     "guestpatch region version %u (size %u) is not ours (version %u, size %zu)",
				     h->version, h->hdr_size, LP_VERSION, sizeof(*h));
	return NULL;
}

static bool slot_is_ours(uint64_t pmd)
{
	return (pmd & P_PRESENT) && (pmd & PT_ADDR_MASK) == lp_page_pa(LP_PTE_PAGE);
}

/*
 * A header of ours that names another boot (the reboot left RAM as it
 * was).  Nothing of it is live if this kernel's slot does not map our
 * page table: the kernel text is fresh from its image, so no site jumps
 * to the region, and nothing else reaches it.  Then it is set up anew
 * (*earlier).  If the slot does map it, something is not what a reboot
 * leaves: refused by name, nothing written.
 */
static struct gp_error *check_earlier_boot(struct kern *k, struct lp_region *r, bool *earlier)
{
	const struct lp_hdr *h = &r->hdr;
	struct gp_error *err;
	uint64_t pmd;

	*earlier = false;
	if (!lp_boot_earlier(k->t, h->boot_id))
		return NULL;
	if (h->region_pa != LP_REGION_PA || h->region_pages != LP_REGION_PAGES)
		return gp_error_addr(GP_ERR_CORRUPT, LP_REGION_PA,
				     "guestpatch region header of boot %016llx has a layout guestpatch never writes (0x%llx, %u pages)",
				     (unsigned long long)h->boot_id, (unsigned long long)h->region_pa,
				     h->region_pages);
	if ((err = tgt_read_phys(k->t, r->pmd_entry_pa, &pmd, sizeof(pmd))))
		return err;
	if (slot_is_ours(pmd))
		return gp_error_addr(GP_ERR_CORRUPT, r->pmd_entry_pa,
				     "the guestpatch region names another boot of this guest (%016llx, this boot is %016llx), yet this kernel's page-table slot %u maps it (0x%llx): that is not what a reboot leaves; refusing to use or replace it",
				     (unsigned long long)h->boot_id, (unsigned long long)k->t->boot_id,
				     r->pmd_index, (unsigned long long)pmd);
	*earlier = true;
	return NULL;
}

static struct gp_error *validate_hdr(struct kern *k, struct lp_region *r)
{
	const struct lp_hdr *h = &r->hdr;
	uint64_t pmd;
	uint8_t nop[LP_AGENT_NOP_SIZE];
	struct gp_error *err;

	if ((err = lp_agent_ftrace_nop(nop)))
		return err;
	if (h->region_pa != LP_REGION_PA || h->region_pages != LP_REGION_PAGES ||
	    h->pmd_index != r->pmd_index || h->pmd_entry_pa != r->pmd_entry_pa ||
	    h->region_va != r->va)
		return gp_error_addr(GP_ERR_CORRUPT, LP_REGION_PA,
				     "guestpatch region header disagrees with this kernel's layout (slot %u vs %u)",
				     h->pmd_index, r->pmd_index);
	if (!memchr(h->build_id, 0, sizeof(h->build_id)) || strcmp(h->build_id, k->build_id))
		return gp_error_addr(GP_ERR_CORRUPT, LP_REGION_PA,
				     "guestpatch region was set up for kernel %.40s, this is %s",
				     h->build_id, k->build_id);
	if ((err = tgt_read_phys(k->t, r->pmd_entry_pa, &pmd, sizeof(pmd))))
		return err;
	if (!slot_is_ours(pmd))
		return gp_error_addr(GP_ERR_CORRUPT, r->pmd_entry_pa,
				     "the kernel page-table slot of the guestpatch region holds 0x%llx%s",
				     (unsigned long long)pmd,
				     k->boot_id_weak ?
				     " (this kernel's boot identity is its layout alone: a reboot into the same layout leaves this too; see `vmm info`)" :
				     "");
	/* The records steer our writes on unpatch (original bytes go back to
	 * sites[].old_addr), and guest memory is untrusted: every address in
	 * them must be what we would have written ourselves. */
	for (int i = 0; i < LP_MAX_PATCHES; i++) {
		const struct lp_rec_patch *p = &h->patches[i];

		if (p->state == LP_FREE)
			continue;
		if ((p->state != LP_APPLIED && p->state != LP_PATCHING &&
		     p->state != LP_UNPATCHING && p->state != LP_LOADED) ||
		    ((p->state != LP_APPLIED && p->state != LP_LOADED) != (h->trans_patch == i)) ||
		    (p->state == LP_LOADED && h->cb_slot != (uint32_t)i + 1 &&
		     !h->kmods[i].exit_off) ||	/* else a replaced patch's exit is owed */
		    !memchr(p->name, 0, sizeof(p->name)) ||
		    !memchr(p->build_id, 0, sizeof(p->build_id)) ||
		    /* page + pages is a uint32 sum that can wrap: compare
		     * the count with the room left after the page instead. */
		    p->code_page < LP_FIRST_ALLOC ||
		    p->code_page > LP_FIRST_ALLOC + LP_CODE_PAGES ||
		    p->code_pages > LP_FIRST_ALLOC + LP_CODE_PAGES - p->code_page ||
		    p->data_page < LP_FIRST_ALLOC + LP_CODE_PAGES ||
		    p->data_page > LP_JOURNAL_PAGE ||
		    p->data_pages > LP_JOURNAL_PAGE - p->data_page)
			return gp_error_addr(GP_ERR_CORRUPT, LP_REGION_PA,
					     "patch record %d is corrupt", i);
	}
	if (h->cb_slot > LP_MAX_PATCHES || h->cb_stage > LP_CB_INIT ||
	    h->cb_calling > LP_KMOD_CB_MAX_OBJS || (!h->cb_slot != !h->cb_stage) ||
	    (h->cb_slot && h->patches[h->cb_slot - 1].state == LP_FREE) ||
	    (h->cb_calling && !h->call_state))
		return gp_error_addr(GP_ERR_CORRUPT, LP_REGION_PA,
				     "callback record (patch %u, stage %u, calling %u) is corrupt",
				     h->cb_slot, h->cb_stage, h->cb_calling);
	if (h->trans_patch != -1 &&
	    (h->trans_patch < 0 || h->trans_patch >= LP_MAX_PATCHES ||
	     h->patches[h->trans_patch].state == LP_FREE ||
	     (h->trans_target != KLP_PATCHED && h->trans_target != KLP_UNPATCHED)))
		return gp_error_addr(GP_ERR_CORRUPT, LP_REGION_PA,
				     "transition record (patch %d, target %d) is corrupt",
				     h->trans_patch, h->trans_target);
	if (h->agent_state) {
		uint64_t hook;

		if (h->agent_state != 1 || !kern_has_sym(k, LP_AGENT_HOOK, &hook) ||
		    !gp_ok(lp_entry_site(k, hook, &hook)) || h->agent_site != hook || h->agent_ntasks > LP_AGENT_MAX_TASKS ||
		    h->agent_code_page < LP_FIRST_ALLOC ||
		    h->agent_code_page >= LP_FIRST_ALLOC + LP_CODE_PAGES ||
		    h->agent_data_page < LP_FIRST_ALLOC + LP_CODE_PAGES ||
		    h->agent_data_page >= LP_JOURNAL_PAGE ||
		    h->page_owner[h->agent_code_page] != LP_PAGE_SYSTEM ||
		    h->page_owner[h->agent_data_page] != LP_PAGE_SYSTEM)
			return gp_error_addr(GP_ERR_CORRUPT, LP_REGION_PA,
					     "straggler agent record is corrupt");
	}
	for (int i = 0; i < LP_MAX_SITES; i++) {
		const struct lp_rec_site *st = &h->sites[i];
		uint64_t off, size, site;
		const struct ksym *sym;

		if (!st->in_use)
			continue;
		if (st->module) {
			/* A module's function: checked against the loaded module
			 * before every write (lp_patch.c); here, its shape. */
			const char *mn = st->module <= LP_MAX_MODULES ? h->modules[st->module - 1] : NULL;

			if (!mn || !memchr(mn, 0, LP_MODULE_NAME) || !mn[0] ||
			    st->old_addr < KERN_START_KERNEL_MAP + (1ull << 30) ||
			    (st->site_off && st->site_off != LP_AGENT_ENTRY_MAX) ||
			    st->tramp_va != lp_page_va(r, LP_TRAMP_PAGE) + (uint64_t)i * LP_TRAMP_SIZE ||
			    memcmp(st->orig, nop, 5))
				return gp_error_addr(GP_ERR_CORRUPT, LP_REGION_PA,
						     "site record %d (0x%llx, module) is corrupt", i,
						     (unsigned long long)st->old_addr);
			continue;
		}
		sym = ksym_symbolize(k->syms, st->old_addr, &off, &size);
		if (!sym || off || (sym->type != 't' && sym->type != 'T' && sym->type != 'w' &&
				    sym->type != 'W') ||
		    !gp_ok(lp_entry_site(k, st->old_addr, &site)) || lp_rec_site_addr(st) != site ||
		    st->tramp_va != lp_page_va(r, LP_TRAMP_PAGE) + (uint64_t)i * LP_TRAMP_SIZE ||
		    memcmp(st->orig, nop, 5))
			return gp_error_addr(GP_ERR_CORRUPT, LP_REGION_PA,
					     "site record %d (0x%llx) is corrupt", i,
					     (unsigned long long)st->old_addr);
	}
	for (int i = 0; i < LP_MAX_FUNCS_TOTAL; i++) {
		const struct lp_rec_func *f = &h->funcs[i];

		if (f->in_use && (f->patch >= LP_MAX_PATCHES || f->site >= LP_MAX_SITES ||
				  !h->sites[f->site].in_use ||
				  h->patches[f->patch].state == LP_FREE ||
				  !memchr(f->name, 0, sizeof(f->name)) || f->nop > 1 ||
				  (f->nop && (f->new_addr || !(h->patches[f->patch].flags &
							       LP_FLAG_REPLACE))) ||
				  (!f->nop && (f->new_addr < lp_page_va(r, h->patches[f->patch].code_page) ||
				  f->new_addr >= lp_page_va(r, h->patches[f->patch].code_page +
								h->patches[f->patch].code_pages)))))
			return gp_error_addr(GP_ERR_CORRUPT, LP_REGION_PA,
					     "function record %d is corrupt", i);
	}
	return NULL;
}

struct gp_error *lp_region_load(struct kern *k, struct lp_region *r)
{
	struct gp_error *err;
	uint64_t pmd;

	memset(r, 0, sizeof(*r));
	if ((err = plan_slot(k, r)))
		return err;
	if ((err = tgt_read_phys(k->t, LP_REGION_PA, &r->hdr, sizeof(r->hdr))))
		return gp_error_wrap(err, "reading the guestpatch region");
	if (!memcmp(r->hdr.magic, LP_MAGIC, sizeof(r->hdr.magic))) {
		bool earlier;

		if ((err = version_ok(&r->hdr)) || (err = check_earlier_boot(k, r, &earlier)))
			return err;
		if (!earlier) {
			if ((err = validate_hdr(k, r)))
				return err;
			r->present = true;
			return NULL;
		}
		r->earlier_boot = true;
		r->earlier_boot_id = r->hdr.boot_id;
	}
	memset(&r->hdr, 0, sizeof(r->hdr));
	if ((err = tgt_read_phys(k->t, r->pmd_entry_pa, &pmd, sizeof(pmd))))
		return err;
	if (pmd)
		return gp_error_addr(GP_ERR_BUSY, r->pmd_entry_pa,
				     "kernel page-table slot %u after the kernel image is in use (0x%llx), and holds no guestpatch region",
				     r->pmd_index, (unsigned long long)pmd);
	return NULL;
}

struct gp_error *lp_region_setup(struct kern *k, struct lp_region *r)
{
	static uint8_t page[PAGE];
	uint64_t ptes[512] = { 0 };
	struct lp_hdr *h = &r->hdr;
	struct gp_error *err;
	uint64_t pmd;

	if (r->present)
		return NULL;
	if ((err = kernel_version_ok(k)))
		return err;
	/* Memory the kernel never uses stays as firmware left it: zero. If
	 * anything is there, someone uses it: refuse.  The journal pages may
	 * hold our own journal already (a set-up that was rolled back), and
	 * every page may hold the region of an earlier boot: ours, and dead
	 * (lp_region_load checked it). */
	for (unsigned i = 0; i < LP_REGION_PAGES && !r->earlier_boot; i++) {
		if (i >= LP_JOURNAL_PAGE && lp_journal_present(k->t))
			break;
		if ((err = tgt_read_phys(k->t, lp_page_pa(i), page, PAGE)))
			return err;
		for (size_t j = 0; j < PAGE; j++)
			if (page[j])
				return gp_error_addr(GP_ERR_BUSY, lp_page_pa(i) + j,
						     "guest-physical 0x%llx is not free (byte 0x%02x): the guest uses memory guestpatch needs for injected code",
						     (unsigned long long)(lp_page_pa(i) + j), page[j]);
	}
	memset(h, 0, sizeof(*h));
	memcpy(h->magic, LP_MAGIC, sizeof(h->magic));
	h->version = LP_VERSION;
	h->hdr_size = sizeof(*h);
	h->region_pa = LP_REGION_PA;
	h->region_va = r->va;
	h->region_pages = LP_REGION_PAGES;
	h->pmd_index = r->pmd_index;
	h->pmd_entry_pa = r->pmd_entry_pa;
	h->next_seq = 1;
	snprintf(h->build_id, sizeof(h->build_id), "%s", k->build_id);
	h->boot_id = k->t->boot_id;
	h->trans_patch = -1;
	for (unsigned i = 0; i < LP_FIRST_ALLOC; i++)
		h->page_owner[i] = LP_PAGE_SYSTEM;
	for (unsigned i = LP_JOURNAL_PAGE; i < LP_REGION_PAGES; i++)
		h->page_owner[i] = LP_PAGE_SYSTEM;
	for (unsigned i = 0; i < LP_REGION_PAGES; i++) {
		uint64_t e = lp_page_pa(i) | P_PRESENT | P_ACCESSED;

		if (i == LP_PTE_PAGE || i >= LP_JOURNAL_PAGE)
			continue;	/* never mapped: nothing may write our PTEs
					 * or the journal */
		if (i < LP_HDR_PAGES)
			e |= P_NX;
		else if (i >= LP_FIRST_ALLOC + LP_CODE_PAGES)
			e |= P_RW | P_DIRTY | P_NX;
		ptes[i] = e;
	}
	/* Trampoline page: int3 everywhere until a slot is used. */
	if ((err = lp_agent_fill(page, PAGE)) ||
	    (err = lp_write_pages(k, LP_TRAMP_PAGE, page, PAGE, true)) ||
	    (err = lp_write_pages(k, LP_PTE_PAGE, (const uint8_t *)ptes, sizeof(ptes), false)) ||
	    (err = lp_region_commit(k, r)))
		return err;
	/* Last: the PMD entry makes it all visible. A not-present entry is
	 * never cached by the TLB, so no flush is needed. */
	pmd = lp_page_pa(LP_PTE_PAGE) | KERNPG_TABLE;
	if ((err = lp_write_phys(k, r->pmd_entry_pa, &pmd, sizeof(pmd), false)))
		return err;
	r->present = true;
	return NULL;
}

struct gp_error *lp_region_commit(struct kern *k, struct lp_region *r)
{
	r->hdr.generation++;
	return lp_write_phys(k, LP_REGION_PA, &r->hdr, sizeof(r->hdr), false);
}

int lp_region_alloc(const struct lp_region *r, bool code, unsigned count)
{
	unsigned lo = code ? LP_FIRST_ALLOC : LP_FIRST_ALLOC + LP_CODE_PAGES;
	unsigned hi = code ? LP_FIRST_ALLOC + LP_CODE_PAGES : LP_JOURNAL_PAGE;

	if (count == 0)
		return (int)lo;
	for (unsigned s = lo; s + count <= hi; s++) {
		unsigned n = 0;

		while (n < count && !r->hdr.page_owner[s + n])
			n++;
		if (n == count)
			return (int)s;
		s += n;
	}
	return -1;
}
