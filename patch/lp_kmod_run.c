// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * lp_kmod_run.c - a plain kernel module run once in the guest from
 * outside: its init, then its exit, then its pages go (lp_kmod_run.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lp_call.h"
#include "lp_engine.h"
#include "lp_journal.h"
#include "lp_kmod_cb.h"
#include "lp_kmod_int.h"
#include "lp_kmod_run.h"
#include "lp_patch.h"

/*
 * Kernel functions whose names say they hand the kernel something that
 * stays after the call (a callback, an object, a name in a filesystem):
 * a module run by vmm call is gone when its exit returns, so these are
 * refused broadly (substrings of the undefined symbol's name).
 */
static const char *const outlives[] = {
	"register",	/* register_*, *_register, notifier chains, chrdevs */
	"notifier", "timer", "work",	/* timers, workqueues, work items */
	"kthread", "wake_up_process", "call_rcu", "sysfs_", "proc_create", "proc_mkdir",
	"debugfs_", "kobject_", "device_", "class_", "cdev_", "request_", "input_",
	"netdev", "sock_", "kprobe", "tracepoint", "ftrace", "klp_enable_patch",
	"module_put", "try_module_get", "__module_get",
};

struct gp_error *lp_kmod_run_check(const struct lp_kmod *km)
{
	const struct lp_obj *o = km->o;

	for (size_t i = 0; i < o->nsec; i++) {
		const struct lp_sec *s = &o->secs[i];
		Elf_Scn *scn;
		Elf_Data *sd;
		size_t nsyms;

		if (s->sh.sh_type != SHT_SYMTAB || !s->sh.sh_entsize ||
		    !(scn = elf_getscn(o->elf, i)) || !(sd = elf_getdata(scn, NULL)))
			continue;
		nsyms = s->sh.sh_size / s->sh.sh_entsize;
		for (size_t j = 1; j < nsyms && j < (1u << 20); j++) {
			GElf_Sym sym;
			const char *name;

			if (!gelf_getsym(sd, (int)j, &sym) || sym.st_shndx != SHN_UNDEF ||
			    !(name = elf_strptr(o->elf, s->sh.sh_link, sym.st_name)) || !*name)
				continue;
			for (size_t p = 0; p < ARRAY_SIZE(outlives); p++)
				if (strstr(name, outlives[p]))
					return lp_elf_err((struct lp_obj *)o,
							  "the module uses %s: what it registers would outlive the run, and a module run by vmm call is gone when its exit returns (refused: kernel functions whose names contain \"%s\")",
							  name, outlives[p]);
		}
	}
	return NULL;
}

/* __x86_return_thunk: the engine's answer, read in the planning pause. */
static struct gp_error *ret_fixed(void *arg, const char *name, uint64_t *addr)
{
	(void)name;
	*addr = *(const uint64_t *)arg;
	return NULL;
}

struct plan {
	struct lp_kmod *km;
	struct lp_kmod_exports ex;
	struct lp_image img;
	struct lp_kmod_patch kp;
	struct lp_ctx c;
	struct lp_region r;
	int code_page, data_page, slot;
	uint64_t gen;
};

/* Read, check against the guest, link (a brief read-only pause). */
static struct gp_error *plan(struct kern *k, const char *path, const char *const *params,
			     int nparams, struct plan *p)
{
	size_t code_sz, data_sz;
	uint64_t ret = 0, cd = 0;
	struct gp_error *err;

	if ((err = lp_kmod_open_file_mode(path, true, &p->km)) || (err = lp_kmod_run_check(p->km)))
		return err;
	lp_kmod_sizes(p->km, &code_sz, &data_sz);
	if ((err = tgt_pause(k->t)))
		return err;
	err = lp_region_load(k, &p->r);
	if (!err)
		err = lp_return_thunk(k, &ret);
	if (!err)
		err = lp_kmod_read_exports(k, &p->ex);
	if ((err = lp_resume(k, err)))
		return err;
	if ((err = lp_kmod_check(p->km, k->release, &p->ex)))
		return err;
	if (p->r.present && (p->r.hdr.cb_slot || p->r.hdr.trans_patch >= 0))
		return gp_error_create(GP_ERR_BUSY,
				       "callbacks or a transition of a patch are pending; finish them first (vmm transition TARGET)");
	if (p->r.present && lp_rec_find_patch(&p->r.hdr, lp_kmod_name(p->km)) >= 0)
		return gp_error_create(GP_ERR_BUSY, "a patch named %s is applied: a module run by vmm call takes the same kind of record, by name",
				       lp_kmod_name(p->km));
	p->gen = p->r.hdr.generation;
	p->slot = -1;
	for (int i = 0; i < LP_MAX_PATCHES && p->slot < 0; i++)
		if (!p->r.present || p->r.hdr.patches[i].state == LP_FREE)
			p->slot = i;
	if (p->slot < 0)
		return gp_error_create(GP_ERR_LIMIT, "%d patches are applied already: no record free for the run",
				       LP_MAX_PATCHES);
	p->code_page = lp_region_alloc(&p->r, true, (unsigned)(code_sz / 4096));
	p->data_page = lp_region_alloc(&p->r, false, (unsigned)(data_sz / 4096));
	if (p->code_page < 0 || p->data_page < 0)
		return gp_error_create(GP_ERR_LIMIT,
				       "%s: too large for the region: needs %zu KiB code and %zu KiB data",
				       path, code_sz / 1024, data_sz / 1024);
	if ((err = lp_ctx_init(k, &p->c)))
		return err;
	{
		struct lp_kmod_guest g = { .ex = &p->ex, .syms = k->syms, .btf = k->btf,
					   .ret_thunk = ret_fixed, .arg = &ret };

		g.mods = &p->c.stacks->mods;
		g.orc = p->c.stacks->orc != NULL;
		g.orc_hash = g.orc ? p->c.stacks->orc->fmt->hash : NULL;
		g.call_depth = kern_has_sym(k, "call_depth_return_thunk", &cd) && cd == ret;
		if ((err = lp_kmod_link(p->km, &g, lp_page_va(&p->r, (unsigned)p->code_page),
					lp_page_va(&p->r, (unsigned)p->data_page), &p->img, &p->kp)))
			return err;
	}
	if ((err = lp_kmod_set_params(p->km, k->btf, params, nparams)))
		return err;
	snprintf(p->img.build_id, sizeof(p->img.build_id), "%s", k->build_id);
	p->img.kmod_klp_va = 0;
	p->img.kmod_exit_fn = p->kp.exit_fn;
	return NULL;
}

/* The pages in as patch p->slot, LP_LOADED, init owed (one pause). */
static struct gp_error *load(struct kern *k, struct plan *p)
{
	struct lp_hdr *h = &p->r.hdr;
	struct gp_error *err;

	if ((err = tgt_pause(k->t)))
		return err;
	err = lp_region_load(k, &p->r);
	if (!err && h->generation != p->gen)
		err = gp_error_create(GP_ERR_BUSY,
				      "the guest's patch records changed while planning (another vmm process?); run the command again");
	if (!err && p->r.present && (h->cb_slot || h->trans_patch >= 0))
		err = gp_error_create(GP_ERR_BUSY, "callbacks or a transition of a patch are pending");
	if (!err)
		err = lp_region_setup(k, &p->r);
	if (!err)
		err = lp_write_alloc(k, (unsigned)p->code_page, (unsigned)(p->img.code_size / 4096),
				     p->img.code, p->img.code_used, true);
	if (!err)
		err = lp_write_alloc(k, (unsigned)p->data_page, (unsigned)(p->img.data_size / 4096),
				     p->img.data, p->img.data_used, false);
	if (!err) {
		lp_rec_set_patch(h, &p->img, (unsigned)p->code_page, (unsigned)p->data_page, p->slot,
				 LP_LOADED, 0);
		h->cb_slot = (uint32_t)p->slot + 1;
		h->cb_stage = LP_CB_INIT;
		h->cb_todo = 1;
		h->cb_ok = 0;
		h->cb_ret = 0;
		err = lp_region_commit(k, &p->r);
	}
	return lp_resume(k, err);
}

/* After init: exit owed if it returned 0, else the pages go (one pause;
 * lp_kmod_cb_run does the rest). */
static struct gp_error *after_init(struct kern *k, struct plan *p)
{
	struct lp_hdr *h = &p->r.hdr;
	struct gp_error *err;

	if ((err = tgt_pause(k->t)))
		return err;
	err = lp_region_load(k, &p->r);
	if (!err && p->r.present && h->cb_slot == (uint32_t)p->slot + 1 &&
	    h->cb_stage == LP_CB_INIT && !h->cb_calling) {
		bool ran = !(h->cb_todo & 1);

		h->cb_stage = LP_CB_EXIT;
		h->cb_todo = ran && (int32_t)h->cb_ret == 0 && h->kmods[p->slot].exit_off ? 1 : 0;
		err = lp_region_commit(k, &p->r);
	}
	return lp_resume(k, err);
}

struct gp_error *lp_kmod_run(struct kern *k, const char *path, const char *const *params,
			     int nparams, double timeout_s, struct lp_kmod_run_report *rep)
{
	struct plan p;
	struct lp_cb_log log;
	int64_t ret = 0;
	struct gp_error *err, *e2;

	memset(rep, 0, sizeof(*rep));
	memset(&p, 0, sizeof(p));
	memset(&log, 0, sizeof(log));
	err = plan(k, path, params, nparams, &p);
	if (p.km)
		snprintf(rep->name, sizeof(rep->name), "%s", lp_kmod_name(p.km));
	rep->has_exit = p.kp.exit_fn != 0;
	if (err)
		goto out;
	lp_journal_intent("call", p.img.name);
	if ((err = load(k, &p)))
		goto out;
	tgt_fault_point("GP_FAULT_KILL_BEFORE_INIT");	/* tests: die with init owed */
	err = lp_call_tagged(k, p.kp.init_fn, 0, timeout_s > 0 ? timeout_s : LP_CB_TIMEOUT_S, 1,
			     &ret);
	if (err) {
		err = gp_error_wrap(err, "%s: init_module (outcome unknown: the next vmm command finishes the run)",
				    rep->name);
	} else {
		rep->init_ran = true;
		rep->init_ret = (int)(int32_t)ret;
		tgt_fault_point("GP_FAULT_KILL_AFTER_INIT");	/* tests: die with exit owed */
		err = after_init(k, &p);
	}
	/* exit (if owed) and the pages: as after a livepatch module's unpatch */
	e2 = lp_kmod_cb_run(k, &log);
	snprintf(rep->log, sizeof(rep->log), "%s", log.text);
	if (e2)
		snprintf(rep->log_err, sizeof(rep->log_err), "%.230s", e2->msg ? e2->msg : "failed");
	if (!err)
		err = e2;
	else
		gp_error_destroy(e2);
	if (!err && rep->init_ret)
		err = gp_error_create(GP_ERR_INVAL,
				      "%s: init_module returned %d (as insmod would fail): its exit is not run, its pages are freed",
				      rep->name, rep->init_ret);
out:
	lp_ctx_free(&p.c);
	lp_image_free(&p.img);
	lp_kmod_close(p.km);
	lp_kmod_exports_free(&p.ex);
	return err;
}
