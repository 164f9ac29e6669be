// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Desired state for libvirt guests (manage/policy.c) and the layout of a
 * libvirt guest's RAM as QEMU reports it (target/lvconn.c's mtree parser):
 * pure logic, checked here; the real thing against a real libvirtd is in
 * tests/integ/test_libvirt.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gp_check.h"
#include "lvconn.h"
#include "policy.h"

/* `info mtree -f` of a libvirt domain (pc machine, 1 GiB, file-backed
 * shared RAM), as QEMU 7.2 printed it here, cut to what matters. */
static const char mtree_pc[] =
	"FlatView #0\n"
	" AS \"memory\", root: system\n"
	" AS \"cpu-memory-0\", root: system\n"
	" AS \"virtio-blk-pci\", root: bus master container\n"
	" Root memory region: system\n"
	"  0000000000000000-00000000000c2fff (prio 0, ram): pc.ram KVM\n"
	"  00000000000c3000-00000000000e7fff (prio 0, rom): pc.ram @00000000000c3000 KVM\n"
	"  00000000000e8000-00000000000effff (prio 0, ram): pc.ram @00000000000e8000 KVM\n"
	"  00000000000f0000-00000000000fffff (prio 0, rom): pc.ram @00000000000f0000 KVM\n"
	"  0000000000100000-000000003fffffff (prio 0, ram): pc.ram @0000000000100000 KVM\n"
	"  00000000febf4000-00000000febf4fff (prio 0, i/o): virtio-pci-common-virtio-blk\n"
	"  00000000fffc0000-00000000ffffffff (prio 0, rom): pc.bios KVM\n"
	"\n"
	"FlatView #1\n"
	" AS \"I/O\", root: io\n"
	" Root memory region: io\n"
	"  0000000000000000-0000000000000007 (prio 0, i/o): pc.ram\n";

START_TEST(mtree_merges_the_pieces_of_one_ram_region)
{
	struct tgt_ram_seg s[TGT_MAX_RAM_SEGS];
	size_t n;

	ck_ok(lv_parse_mtree(mtree_pc, "pc.ram", s, &n));
	/* All of it at matching file offsets: one piece; the I/O space's
	 * "pc.ram" is another address space and does not count. */
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(s[0].pa, 0);
	ck_assert_uint_eq(s[0].len, 0x40000000);
	ck_assert_uint_eq(s[0].off, 0);
}
END_TEST

START_TEST(mtree_keeps_ram_above_4g_at_its_offset)
{
	static const char q35[] =
		"FlatView #3\n"
		" AS \"memory\", root: system\n"
		"  0000000000000000-000000000009ffff (prio 0, ram): ram-node0\n"
		"  00000000000a0000-00000000000bffff (prio 1, i/o): vga-lowmem\n"
		"  0000000000100000-000000007fffffff (prio 0, ram): ram-node0 @0000000000100000\n"
		"  0000000100000000-000000017fffffff (prio 0, ram): ram-node0 @0000000080000000\n";
	struct tgt_ram_seg s[TGT_MAX_RAM_SEGS];
	size_t n;

	ck_ok(lv_parse_mtree(q35, "ram-node0", s, &n));
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(s[1].pa, 0x100000);
	ck_assert_uint_eq(s[1].len, 0x7ff00000);
	ck_assert_uint_eq(s[2].pa, 0x100000000ull);
	ck_assert_uint_eq(s[2].off, 0x80000000ull);
	ck_assert_uint_eq(s[2].len, 0x80000000ull);
}
END_TEST

START_TEST(mtree_hostile_replies_are_refused_by_name)
{
	struct tgt_ram_seg s[TGT_MAX_RAM_SEGS];
	char *many = malloc(64 * 1024), *p;
	size_t n;

	ck_err(lv_parse_mtree(mtree_pc, "no-such-ram", s, &n), GP_ERR_NOTFOUND, "no-such-ram");
	ck_err(lv_parse_mtree("", "pc.ram", s, &n), GP_ERR_NOTFOUND, "pc.ram");
	/* 40 pieces that do not merge (gaps between them). */
	p = many + sprintf(many, "FlatView #0\n AS \"memory\", root: system\n");
	for (int i = 0; i < 40; i++)
		p += sprintf(p, "  %016llx-%016llx (prio 0, ram): pc.ram @%016llx\n",
			     (unsigned long long)i * 0x20000, (unsigned long long)i * 0x20000 + 0xfff,
			     (unsigned long long)i * 0x20000);
	ck_err(lv_parse_mtree(many, "pc.ram", s, &n), GP_ERR_LIMIT, "more than");
	/* An end before its start, an offset that wraps: skipped. */
	ck_err(lv_parse_mtree("FlatView #0\n AS \"memory\", root: system\n"
			      "  0000000000002000-0000000000001000 (prio 0, ram): pc.ram\n"
			      "  0000000000000000-0000000000000fff (prio 0, ram): pc.ram @ffffffffffffff00\n",
			      "pc.ram", s, &n),
	       GP_ERR_NOTFOUND, "pc.ram");
	free(many);
}
END_TEST

START_TEST(policy_example_loads)
{
	struct gp_policy *p = calloc(1, sizeof(*p));
	FILE *f = fopen("configs/libvirt/policy-example.xml", "r");
	char buf[8192];
	size_t n;

	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	ck_ok(gp_policy_parse(buf, p));
	ck_assert_uint_eq(p->n, 3);
	ck_assert_int_eq(p->e[0].model, 0);
	ck_assert_int_eq(p->e[1].model, 2);
	ck_assert(p->e[1].timeout_s == 120);
	ck_assert_int_eq(p->e[2].model, 1);
	/* As libvirt hands it back: with its namespace prefix. */
	ck_ok(gp_policy_parse("<gp:policy xmlns:gp=\"urn:guestpatch:policy:1\">"
			      "<gp:patch file=\"/p/a.o\"/></gp:policy>", p));
	ck_assert_uint_eq(p->n, 1);
	ck_assert_str_eq(p->e[0].file, "/p/a.o");
	free(p);
}
END_TEST

START_TEST(policy_bad_input_is_refused_by_name)
{
	struct gp_policy *p = calloc(1, sizeof(*p));
	char *big = malloc(100000), *q;

	ck_err(gp_policy_parse("<policy><patch/></policy>", p), GP_ERR_INVAL, "file=");
	ck_err(gp_policy_parse("<policy><patch file=\"rel/a.o\"/></policy>", p), GP_ERR_INVAL,
	       "absolute");
	ck_err(gp_policy_parse("<policy><patch file=\"/a.o\" model=\"fast\"/></policy>", p),
	       GP_ERR_INVAL, "model=");
	ck_err(gp_policy_parse("<policy><patch file=\"/a.o\" timeout=\"-1\"/></policy>", p),
	       GP_ERR_INVAL, "timeout=");
	ck_err(gp_policy_parse("<policy><patch file=\"/a.o\" timeout=\"nan\"/></policy>", p),
	       GP_ERR_INVAL, "timeout=");
	ck_err(gp_policy_parse("<policy><script file=\"/a.o\"/></policy>", p), GP_ERR_INVAL,
	       "<script>");
	ck_err(gp_policy_parse("<state/>", p), GP_ERR_INVAL, "<policy>");
	ck_err(gp_policy_parse("<policy><patch", p), GP_ERR_INVAL, "well-formed");
	q = big + sprintf(big, "<policy>");
	for (int i = 0; i < 65; i++)
		q += sprintf(q, "<patch file=\"/p/%d.o\"/>", i);
	sprintf(q, "</policy>");
	ck_err(gp_policy_parse(big, p), GP_ERR_LIMIT, "more than 64");
	/* A file name longer than the room for it. */
	q = big + sprintf(big, "<policy><patch file=\"/");
	memset(q, 'a', 600);
	sprintf(q + 600, "\"/></policy>");
	ck_err(gp_policy_parse(big, p), GP_ERR_INVAL, "too long");
	/* External entities are not fetched or expanded. */
	ck_err(gp_policy_parse("<!DOCTYPE policy [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
			       "<policy><patch file=\"&x;\"/></policy>", p),
	       GP_ERR_INVAL, "guestpatch policy");
	free(big);
	free(p);
}
END_TEST

START_TEST(plan_applies_removes_and_keeps)
{
	struct gp_policy_entry e[4] = { { .file = "/a" }, { .file = "/b" }, { .file = "/c" },
					{ .file = "/f" } };
	struct gp_wanted want[4] = {
		{ "a", "K", &e[0] }, { "b", "K", &e[1] }, { "c", "OTHER", &e[2] }, { "f", "K", &e[3] },
	};
	struct gp_applied have[4] = { { "a", 3 }, { "d", 1 }, { "e", 2 }, { "c", 4 } };
	struct gp_plan plan;

	ck_ok(gp_plan_make("K", want, 4, have, 4, &plan));
	ck_assert_uint_eq(plan.napply, 2);	/* b, f in policy order */
	ck_assert_int_eq(plan.apply[0], 1);
	ck_assert_int_eq(plan.apply[1], 3);
	ck_assert_uint_eq(plan.nkeep, 1);
	ck_assert_int_eq(plan.keep[0], 0);
	/* c is applied but wanted only for another kernel: removed; newest
	 * first: c (4), e (2), d (1). */
	ck_assert_uint_eq(plan.nremove, 3);
	ck_assert_str_eq(have[plan.remove[0]].name, "c");
	ck_assert_str_eq(have[plan.remove[1]].name, "e");
	ck_assert_str_eq(have[plan.remove[2]].name, "d");
	ck_assert_uint_eq(plan.other_kernels, 1);
	/* Run again after it: nothing to do. */
	{
		struct gp_applied now[3] = { { "a", 3 }, { "b", 5 }, { "f", 6 } };

		ck_ok(gp_plan_make("K", want, 4, now, 3, &plan));
		ck_assert_uint_eq(plan.napply + plan.nremove, 0);
		ck_assert_uint_eq(plan.nkeep, 3);
	}
	/* Two entries with one name for one kernel: refused. */
	strcpy(want[1].name, "a");
	ck_err(gp_plan_make("K", want, 4, have, 4, &plan), GP_ERR_INVAL, "two patches called 'a'");
}
END_TEST

START_TEST(state_round_trip_and_compare)
{
	struct gp_state *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	char *x;

	strcpy(a->kernel, "6a2b4ac77585b8cf102cba771300e573c8489b69");
	strcpy(a->release, "6.1.0-57-amd64");
	strcpy(a->result, "applied");
	a->napplied = 2;
	strcpy(a->applied[0], "cmdline-marker");
	strcpy(a->files[0], "/var/lib/guestpatch/a&b<\"c\">.o");
	strcpy(a->applied[1], "kmsg-eof");
	x = gp_state_xml(a);
	ck_assert_ptr_nonnull(x);
	ck_assert_ptr_nonnull(strstr(x, "updated=\""));
	ck_ok(gp_state_parse(x, b));
	ck_assert(gp_state_equal(a, b));
	ck_assert_str_eq(b->files[0], a->files[0]);
	strcpy(b->result, "in-progress");
	ck_assert(!gp_state_equal(a, b));
	free(x);
	free(a);
	free(b);
}
END_TEST

static TCase *policy_tcase(void)
{
	TCase *tc = tcase_create("policy");

	tcase_add_test(tc, mtree_merges_the_pieces_of_one_ram_region);
	tcase_add_test(tc, mtree_keeps_ram_above_4g_at_its_offset);
	tcase_add_test(tc, mtree_hostile_replies_are_refused_by_name);
	tcase_add_test(tc, policy_example_loads);
	tcase_add_test(tc, policy_bad_input_is_refused_by_name);
	tcase_add_test(tc, plan_applies_removes_and_keeps);
	tcase_add_test(tc, state_round_trip_and_compare);
	return tc;
}
GP_TCASE(policy_tcase)
