// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The pure parts of patch/lp_call.c: the workqueue layout and constants
 * from BTF in the shapes 6.1 (one anonymous enum) and 6.12 (named enums)
 * have, and the refusals (no constant, lockdep in work_struct,
 * CONFIG_DEBUG_OBJECTS_WORK); the work item as INIT_WORK() leaves it; the
 * phase the flags read back say, and flags no call agent writes; the call
 * record's shape; the call agent linked from guest-agent/src/call.S.
 */
#include <bpf/btf.h>
#include <stdio.h>
#include <string.h>

#include "gp_check.h"
#include "kbtf.h"
#include "lp_agent.h"
#include "lp_call.h"
#include "lp_elf.h"
#include "lp_region.h"

struct wq_shape {
	bool named;		/* 6.12: enum work_bits / wq_misc_consts */
	long pool_shift, pool_bits, unbound, static_flag;
	bool no_unbound;
	int extra;		/* bytes of work_struct after func (lockdep) */
};

static struct kbtf *wq_btf(const struct wq_shape *s)
{
	struct btf *b = btf__new_empty();
	int ul, lh, ptr, e;
	const void *raw;
	struct kbtf *k;
	__u32 sz;

	ul = btf__add_int(b, "long unsigned int", 8, 0);
	lh = btf__add_struct(b, "list_head", 16);
	ptr = btf__add_ptr(b, lh);
	btf__add_field(b, "next", ptr, 0, 0);
	btf__add_field(b, "prev", ptr, 64, 0);
	btf__add_struct(b, "work_struct", (__u32)(32 + s->extra));
	btf__add_field(b, "data", ul, 0, 0);
	btf__add_field(b, "entry", lh, 64, 0);
	btf__add_field(b, "func", ptr, 192, 0);
	if (s->extra)
		btf__add_field(b, "lockdep_map", ul, 256, 0);
	e = btf__add_enum(b, s->named ? "work_bits" : NULL, 4);
	ck_assert_int_gt(e, 0);
	btf__add_enum_value(b, "WORK_STRUCT_PENDING_BIT", 0);
	btf__add_enum_value(b, "WORK_OFFQ_POOL_SHIFT", s->pool_shift);
	btf__add_enum_value(b, "WORK_OFFQ_POOL_BITS", s->pool_bits);
	if (s->named)
		btf__add_enum(b, "work_flags", 4);
	btf__add_enum_value(b, "WORK_STRUCT_STATIC", s->static_flag);
	if (s->named)
		btf__add_enum(b, "wq_misc_consts", 4);
	if (!s->no_unbound)
		btf__add_enum_value(b, "WORK_CPU_UNBOUND", s->unbound);
	raw = btf__raw_data(b, &sz);
	ck_assert(raw);
	ck_ok(kbtf_load(raw, sz, &k));
	btf__free(b);
	return k;
}

START_TEST(wq_layout_61_and_612)
{
	/* Debian 6.1 and 6.12 as their BTF has them. */
	const struct wq_shape v61 = { .pool_shift = 5, .pool_bits = 31, .unbound = 8192 };
	const struct wq_shape v612 = { .named = true, .pool_shift = 21, .pool_bits = 31,
				       .unbound = 8192 };
	struct lp_call_wq wq;
	struct kbtf *k = wq_btf(&v61);

	ck_ok(lp_call_wq_layout(k, &wq));
	ck_assert_uint_eq(wq.work_size, 32);
	ck_assert_uint_eq(wq.off_data, 0);
	ck_assert_uint_eq(wq.off_entry, 8);
	ck_assert_uint_eq(wq.off_func, 24);
	ck_assert_uint_eq(wq.cpu_unbound, 8192);
	ck_assert_uint_eq(wq.no_pool, 0x7fffffffull << 5);
	ck_assert_uint_eq(wq.pending_bit, 0);
	kbtf_free(k);
	k = wq_btf(&v612);
	ck_ok(lp_call_wq_layout(k, &wq));
	ck_assert_uint_eq(wq.no_pool, 0x7fffffffull << 21);
	kbtf_free(k);
}
END_TEST

START_TEST(wq_layout_refusals)
{
	struct lp_call_wq wq;
	struct kbtf *k;

	ck_err(lp_call_wq_layout(NULL, &wq), GP_ERR_UNSUPPORTED, "needs its BTF");
	k = wq_btf(&(struct wq_shape){ .pool_shift = 5, .pool_bits = 31, .no_unbound = true });
	ck_err(lp_call_wq_layout(k, &wq), GP_ERR_NOTFOUND, "WORK_CPU_UNBOUND");
	kbtf_free(k);
	k = wq_btf(&(struct wq_shape){ .pool_shift = 5, .pool_bits = 31, .unbound = 64,
				       .extra = 16 });
	ck_err(lp_call_wq_layout(k, &wq), GP_ERR_UNSUPPORTED, "CONFIG_LOCKDEP");
	kbtf_free(k);
	k = wq_btf(&(struct wq_shape){ .pool_shift = 6, .pool_bits = 31, .unbound = 64,
				       .static_flag = 16 });
	ck_err(lp_call_wq_layout(k, &wq), GP_ERR_UNSUPPORTED, "CONFIG_DEBUG_OBJECTS_WORK");
	kbtf_free(k);
	k = wq_btf(&(struct wq_shape){ .pool_shift = 40, .pool_bits = 31, .unbound = 64 });
	ck_err(lp_call_wq_layout(k, &wq), GP_ERR_CORRUPT, "make no sense");
	kbtf_free(k);
}
END_TEST

START_TEST(init_work_bytes)
{
	const struct lp_call_wq wq = { .work_size = 32, .off_data = 0, .off_entry = 8,
				       .off_func = 24, .no_pool = 0xfffffffe0ull };
	uint8_t w[LP_CALL_WORK_MAX];
	uint64_t v;

	lp_call_init_work(&wq, 0xffffffffc0a2c040ull, 0xffffffffc0a06800ull, w);
	memcpy(&v, w, 8);
	ck_assert_uint_eq(v, 0xfffffffe0ull);
	memcpy(&v, w + 8, 8);
	ck_assert_uint_eq(v, 0xffffffffc0a2c048ull);	/* entry.next = &entry */
	memcpy(&v, w + 16, 8);
	ck_assert_uint_eq(v, 0xffffffffc0a2c048ull);	/* entry.prev = &entry */
	memcpy(&v, w + 24, 8);
	ck_assert_uint_eq(v, 0xffffffffc0a06800ull);
	for (size_t i = 32; i < sizeof(w); i++)
		ck_assert_uint_eq(w[i], 0);
}
END_TEST

static struct gp_error *phase_of(int armed, int queued, int qret, int started, int done,
				 enum lp_call_phase *ph)
{
	uint8_t f[LP_CALL_FLAGS] = { 0 };

	f[LP_CALL_ARMED] = (uint8_t)armed;
	f[LP_CALL_QUEUED] = (uint8_t)queued;
	f[LP_CALL_QRET] = (uint8_t)qret;
	f[LP_CALL_STARTED] = (uint8_t)started;
	f[LP_CALL_DONE] = (uint8_t)done;
	return lp_call_phase(f, ph);
}

START_TEST(phases)
{
	enum lp_call_phase ph;

	ck_ok(phase_of(1, 0, 0, 0, 0, &ph));
	ck_assert_int_eq(ph, LP_CALL_NOT_TAKEN);
	ck_ok(phase_of(0, 0, 0, 0, 0, &ph));
	ck_assert_int_eq(ph, LP_CALL_HOOKING);
	ck_ok(phase_of(0, 1, 1, 0, 0, &ph));
	ck_assert_int_eq(ph, LP_CALL_QUEUED_WAIT);
	ck_ok(phase_of(0, 1, 1, 1, 0, &ph));
	ck_assert_int_eq(ph, LP_CALL_RUNNING);
	/* The kworker may start (and finish) before the hook sets queued. */
	ck_ok(phase_of(0, 0, 0, 1, 0, &ph));
	ck_assert_int_eq(ph, LP_CALL_RUNNING);
	ck_ok(phase_of(0, 0, 0, 1, 1, &ph));
	ck_assert_int_eq(ph, LP_CALL_FINISHED);
	ck_ok(phase_of(0, 1, 1, 1, 1, &ph));
	ck_assert_int_eq(ph, LP_CALL_FINISHED);
	/* What the agent never writes. */
	ck_err(phase_of(2, 0, 0, 0, 0, &ph), GP_ERR_CORRUPT, "never writes");
	ck_err(phase_of(0, 0, 0, 0, 0xff, &ph), GP_ERR_CORRUPT, "never writes");
	ck_err(phase_of(1, 1, 1, 0, 0, &ph), GP_ERR_CORRUPT, "inconsistent");
	ck_err(phase_of(0, 0, 0, 0, 1, &ph), GP_ERR_CORRUPT, "inconsistent");
	ck_err(phase_of(0, 1, 0, 0, 0, &ph), GP_ERR_CORRUPT, "inconsistent");
}
END_TEST

START_TEST(record_shape)
{
	static struct lp_hdr h;
	const uint64_t site = 0xffffffff81234564ull;

	memset(&h, 0, sizeof(h));
	ck_ok(lp_call_rec_check(&h, site));	/* no record */
	h.call_state = 1;
	h.call_hooked = 1;
	h.call_site = site;
	h.call_code_page = LP_FIRST_ALLOC;
	h.call_data_page = LP_FIRST_ALLOC + LP_CODE_PAGES;
	h.page_owner[h.call_code_page] = LP_PAGE_SYSTEM;
	h.page_owner[h.call_data_page] = LP_PAGE_SYSTEM;
	ck_ok(lp_call_rec_check(&h, site));
	ck_err(lp_call_rec_check(&h, site + 1), GP_ERR_CORRUPT, "call record is corrupt");
	h.call_code_page = h.call_data_page;	/* code in a data page */
	ck_err(lp_call_rec_check(&h, site), GP_ERR_CORRUPT, "call record is corrupt");
	h.call_code_page = LP_FIRST_ALLOC;
	h.call_data_page = LP_JOURNAL_PAGE;	/* the journal */
	ck_err(lp_call_rec_check(&h, site), GP_ERR_CORRUPT, "call record is corrupt");
	h.call_data_page = 0xffffffffu;
	ck_err(lp_call_rec_check(&h, site), GP_ERR_CORRUPT, "call record is corrupt");
	h.call_data_page = LP_FIRST_ALLOC + LP_CODE_PAGES;
	h.page_owner[h.call_code_page] = 1;	/* a patch's page */
	ck_err(lp_call_rec_check(&h, site), GP_ERR_CORRUPT, "call record is corrupt");
	h.page_owner[h.call_code_page] = LP_PAGE_SYSTEM;
	h.call_state = 7;
	ck_err(lp_call_rec_check(&h, site), GP_ERR_CORRUPT, "call record is corrupt");
}
END_TEST

static struct gp_error *fake_kernel(void *arg, const char *name, uint64_t *addr)
{
	(void)arg;
	if (!strcmp(name, "queue_work_on"))
		*addr = 0xffffffff810c1230ull;
	else if (!strcmp(name, "system_wq"))
		*addr = 0xffffffff82a10040ull;
	else
		return gp_error_create(GP_ERR_NOTFOUND, "no symbol %s", name);
	return NULL;
}

START_TEST(agent_links)
{
	static uint8_t code[LP_AGENT_CALL_CODE];
	const uint64_t va = 0xffffffff83a0b000ull, dva = 0xffffffff83a2d000ull;
	struct lp_agent_call_vals v = {
		.armed = dva + LP_CALL_ARMED, .queued = dva + LP_CALL_QUEUED,
		.qret = dva + LP_CALL_QRET, .started = dva + LP_CALL_STARTED,
		.done = dva + LP_CALL_DONE, .ret = dva + LP_CALL_RET, .work = dva + LP_CALL_WORK,
		.cpu_unbound = 8192, .resume = 0xffffffff81150a25ull,
		.fn = 0xffffffff81234560ull, .arg = 42, .ret_thunk = 0xffffffff82000a40ull,
	};
	unsigned off;

	ck_ok(lp_agent_call(va, &v, fake_kernel, NULL, code));
	/* The work function starts with endbr64: process_one_work() calls it
	 * indirectly, which IBT kernels check. */
	ck_ok(lp_agent_entry_offset(code + LP_AGENT_CALL_WORK_OFF, &off));
	ck_assert_uint_eq(off, 4);
	/* A plain return where the guest has no thunk. */
	v.ret_thunk = LP_SYM_RET_INLINE;
	ck_ok(lp_agent_call(va, &v, fake_kernel, NULL, code));
	/* fn beyond a rel32 call from the page: refused, not truncated. */
	v.fn = 0xffff888000001000ull;
	ck_err(lp_agent_call(va, &v, fake_kernel, NULL, code), GP_ERR_UNSUPPORTED, "call agent");
	/* The guest lacks what the hook calls. */
	v.fn = 0xffffffff81234560ull;
	ck_err(lp_agent_call(va, &v, NULL, NULL, code), GP_ERR_NOTFOUND,
	       "its builder does not provide");
}
END_TEST

static TCase *lp_call_tcase(void)
{
	TCase *tc = tcase_create("lp_call");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, wq_layout_61_and_612);
	tcase_add_test(tc, wq_layout_refusals);
	tcase_add_test(tc, init_work_bytes);
	tcase_add_test(tc, phases);
	tcase_add_test(tc, record_shape);
	tcase_add_test(tc, agent_links);
	return tc;
}
GP_TCASE(lp_call_tcase)
