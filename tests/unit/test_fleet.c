// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fleet logic (manage/fleet*.c): the inventory parser against good and
 * hostile inventories, Ansible's serial batches, the failure threshold,
 * what to apply given cumulative patches, the plan, and the state's JSON
 * round trip (and a tampered state refused).  The real runs are in
 * tests/integ/test_fleet.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet.h"
#include "gp_check.h"

#define BID_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define BID_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static const char good[] =
	"{ \"version\": 1,\n"
	"  \"hosts\": [ {\"name\": \"host-a\", \"uri\": \"qemu:///system\", \"max_parallel\": 2},\n"
	"             {\"name\": \"host-b\"} ],\n"
	"  \"guests\": [\n"
	"    {\"name\": \"web-01\", \"host\": \"host-a\", \"domain\": \"web-01\", \"ring\": \"canary\", \"group\": \"web\"},\n"
	"    {\"name\": \"web-02\", \"host\": \"host-a\", \"domain\": \"web-02\", \"ring\": \"1\", \"group\": \"web\"},\n"
	"    {\"name\": \"db-01\", \"host\": \"host-b\", \"target\": \"qemu:gdb=/run/db1.sock\", \"ring\": \"1\"},\n"
	"    {\"name\": \"db-02\", \"host\": \"host-b\", \"target\": \"qemu:gdb=/run/db2.sock\", \"ring\": \"1\"},\n"
	"    {\"name\": \"lab-1\", \"host\": \"host-a\", \"target\": \"qemu:gdb=/run/lab1.sock\", \"ring\": \"2\"} ],\n"
	"  \"rings\": [ {\"name\": \"canary\", \"soak_s\": 60}, {\"name\": \"1\", \"soak_s\": 0.5}, {\"name\": \"2\"} ],\n"
	"  \"patches\": [ {\"build_id\": \"" BID_A "\", \"file\": \"/p/a1.o\"},\n"
	"               {\"build_id\": \"" BID_A "\", \"file\": \"/p/a2.o\", \"cumulative\": true},\n"
	"               {\"build_id\": \"" BID_A "\", \"file\": \"/p/a3.o\"},\n"
	"               {\"build_id\": \"" BID_B "\", \"file\": \"/p/b1.o\"} ],\n"
	"  \"policy\": {\"serial\": \"1,2\", \"max_parallel\": 8, \"max_fail\": \"25%\", \"on_stall\": \"revert\",\n"
	"             \"stall_s\": 5, \"rollback\": \"batch\", \"health\": false} }\n";

START_TEST(inventory_parses)
{
	struct fleet_inv inv;

	ck_ok(fleet_inv_parse(good, strlen(good), &inv));
	ck_assert_uint_eq(inv.nhosts, 2);
	ck_assert_uint_eq(inv.nguests, 5);
	ck_assert_uint_eq(inv.nrings, 3);
	ck_assert_uint_eq(inv.npatches, 4);
	ck_assert_str_eq(inv.guests[0].target, "libvirt:web-01,uri=qemu:///system");
	ck_assert_str_eq(inv.guests[2].target, "qemu:gdb=/run/db1.sock");
	ck_assert_int_eq(inv.guests[2].host, 1);
	ck_assert_int_eq(inv.hosts[0].max_parallel, 2);
	ck_assert(inv.rings[1].soak_s == 0.5);
	ck_assert(inv.patches[1].cumulative && !inv.patches[0].cumulative);
	ck_assert_int_eq(inv.policy.serial.n, 2);
	ck_assert_int_eq(inv.policy.max_fail, 25);
	ck_assert(inv.policy.max_fail_pct);
	ck_assert_int_eq(inv.policy.on_stall, FLEET_STALL_REVERT);
	ck_assert_int_eq(inv.policy.rollback, FLEET_RB_BATCH);
	ck_assert(!inv.policy.health);
	ck_assert(inv.policy.stall_s == 5);
	fleet_inv_free(&inv);
}
END_TEST

/* Replace the first occurrence of from by to in good, parse, expect an
 * INVAL/LIMIT error naming needle. */
static void refused(const char *from, const char *to, const char *needle)
{
	char *buf = malloc(sizeof(good) + strlen(to) + 1);
	const char *at = strstr(good, from);
	struct fleet_inv inv;
	struct gp_error *err;

	ck_assert_msg(at, "test bug: '%s' not in the inventory", from);
	memcpy(buf, good, (size_t)(at - good));
	strcpy(buf + (at - good), to);
	strcat(buf, at + strlen(from));
	err = fleet_inv_parse(buf, strlen(buf), &inv);
	ck_assert_msg(err, "accepted: %s -> %s", from, to);
	ck_assert_msg(strstr(err->msg, needle), "'%s' lacks '%s'", err->msg, needle);
	ck_assert(err->code == GP_ERR_INVAL || err->code == GP_ERR_LIMIT);
	gp_error_destroy(err);
	free(buf);
}

START_TEST(hostile_inventories_are_refused_by_name)
{
	refused("\"version\": 1", "\"version\": 2", "version");
	refused("\"group\": \"web\"}", "\"group\": \"web\", \"colour\": 1}", "guests[0]: unknown key 'colour'");
	refused("\"soak_s\": 60", "\"soak_s\": \"60\"", "rings[0].soak_s: expected a number");
	refused("\"name\": \"web-02\"", "\"name\": \"web-01\"", "guests[1].name: 'web-01' is also guests[0]");
	refused("\"host\": \"host-b\", \"target\": \"qemu:gdb=/run/db1.sock\"",
		"\"host\": \"host-c\", \"target\": \"qemu:gdb=/run/db1.sock\"", "guests[2].host: no host 'host-c'");
	refused("\"ring\": \"2\"}", "\"ring\": \"3\"}", "guests[4].ring: no ring '3'");
	refused("\"build_id\": \"" BID_B "\"", "\"build_id\": \"BBBB\"", "patches[3].build_id");
	refused("\"domain\": \"web-01\"", "\"domain\": \"web-01\", \"target\": \"raw:/x\"", "exactly one of domain");
	refused("\"max_fail\": \"25%\"", "\"max_fail\": \"125%\"", "max_fail");
	refused("\"serial\": \"1,2\"", "\"serial\": \"1,,2\"", "serial");
	refused("\"serial\": \"1,2\"", "\"serial\": \"1,-2\"", "serial");
	refused("\"on_stall\": \"revert\"", "\"on_stall\": \"pray\"", "on_stall");
	refused("\"max_parallel\": 8", "\"max_parallel\": 100000", "out of range");
	refused("\"max_parallel\": 8", "\"max_parallel\": 1.5", "expected an integer");
	{
		static const char nul[] = "{\"version\": 1, \"hosts\": [{\"name\": \"h\"}], \"rings\": [{\"name\": \"r\"}],"
			" \"guests\": [{\"name\": \"g\", \"host\": \"h\", \"ring\": \"r\", \"target\": \"raw:/x\"}],"
			" \"patches\": [], \"policy\": null}";
		struct fleet_inv inv;

		ck_err(fleet_inv_parse(nul, strlen(nul), &inv), GP_ERR_INVAL, "policy: expected an object");
	}
	refused("\"health\": false", "\"health\": \"no\"", "expected true or false");
	refused("\"name\": \"lab-1\"", "\"name\": \"../etc\"", "guests[4]");
	refused("{\"name\": \"host-b\"}", "{\"name\": \"host-a\"}", "hosts[1].name");
	refused("\"file\": \"/p/a2.o\"", "\"file\": \"/p/a1.o\"", "patches[1].file");
	refused("\"policy\"", "\"policy\": 1, \"x\"", "unknown key 'x'");
	{
		static const char g[] = "{\"version\":1,\"hosts\":[{\"name\":\"h\"}],\"rings\":[{\"name\":\"r\"}],"
					"\"patches\":[],\"guests\":{\"a\":1}}";
		struct fleet_inv inv;

		ck_err(fleet_inv_parse(g, strlen(g), &inv), GP_ERR_INVAL, "guests: expected an array");
	}
	refused("\"hosts\": [", "\"hosts\": [{\"name\": \"\"},", "hosts[0].name: empty");
	/* syntax: the line is named */
	refused("\"rings\": [", "\"rings\": [,", "line 10");
	refused("}\n", "} trailing", "line 16");
}
END_TEST

START_TEST(hostile_sizes_are_capped)
{
	struct fleet_inv inv;
	size_t cap = 64 * 1024 * 4, len = 0;
	char *buf = malloc(cap);

	/* more guests than the cap */
	len += (size_t)snprintf(buf + len, cap - len,
				"{\"version\":1,\"hosts\":[{\"name\":\"h\"}],\"rings\":[{\"name\":\"r\"}],\"patches\":[],\"guests\":[");
	for (int i = 0; i < FLEET_MAX_GUESTS + 1; i++)
		len += (size_t)snprintf(buf + len, cap - len,
					"%s{\"name\":\"g%d\",\"host\":\"h\",\"ring\":\"r\",\"target\":\"raw:/x\"}",
					i ? "," : "", i);
	len += (size_t)snprintf(buf + len, cap - len, "]}");
	ck_err(fleet_inv_parse(buf, len, &inv), GP_ERR_LIMIT, "guests: more than 1024");
	/* a name longer than its field */
	len = (size_t)snprintf(buf, cap, "{\"version\":1,\"hosts\":[{\"name\":\"%0200d\"}]}", 0);
	ck_err(fleet_inv_parse(buf, len, &inv), GP_ERR_INVAL, "hosts[0].name: longer than");
	/* deep nesting does not recurse without bound */
	len = 0;
	for (int i = 0; i < 10000; i++)
		buf[len++] = '[';
	buf[len] = '\0';
	ck_err(fleet_inv_parse(buf, len, &inv), GP_ERR_INVAL, "inventory: line 1");
	/* not text at all */
	memset(buf, 0xff, 100);
	ck_err(fleet_inv_parse(buf, 100, &inv), GP_ERR_INVAL, "inventory: line 1");
	free(buf);
}
END_TEST

static size_t batches(const char *serial, size_t n, size_t *sizes)
{
	struct fleet_serial s;

	ck_ok(fleet_serial_parse(serial, &s));
	return fleet_serial_batches(&s, n, sizes, 64);
}

START_TEST(serial_follows_ansible)
{
	size_t sz[64], n;

	/* 1,5,25% over 20: 1, 5, then 25% of 20 = 5 repeated: 5, 5, 4 */
	n = batches("1,5,25%", 20, sz);
	ck_assert_uint_eq(n, 5);
	ck_assert_uint_eq(sz[0], 1);
	ck_assert_uint_eq(sz[1], 5);
	ck_assert_uint_eq(sz[2], 5);
	ck_assert_uint_eq(sz[3], 5);
	ck_assert_uint_eq(sz[4], 4);
	/* a percentage below one guest is one guest */
	n = batches("10%", 3, sz);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(sz[0], 1);
	/* 30% of 10 = 3: 3,3,3,1 */
	n = batches("30%", 10, sz);
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(sz[3], 1);
	/* empty (no serial): the whole ring; 0 too */
	n = batches("", 7, sz);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(sz[0], 7);
	n = batches("2,0", 7, sz);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(sz[1], 5);
	/* more than the ring */
	n = batches("100", 4, sz);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(sz[0], 4);
}
END_TEST

START_TEST(failure_threshold)
{
	struct fleet_policy p = { 0 };

	p.max_fail = 0;
	ck_assert(!fleet_fail_exceeds(&p, 0, 5));
	ck_assert(fleet_fail_exceeds(&p, 1, 5));
	p.max_fail = 2;
	ck_assert(!fleet_fail_exceeds(&p, 2, 5));
	ck_assert(fleet_fail_exceeds(&p, 3, 5));
	/* Ansible: halt when the failed share is greater than the percentage */
	p.max_fail = 25;
	p.max_fail_pct = true;
	ck_assert(!fleet_fail_exceeds(&p, 1, 4));
	ck_assert(fleet_fail_exceeds(&p, 2, 4));
	ck_assert(fleet_fail_exceeds(&p, 1, 3));
}
END_TEST

START_TEST(cumulative_and_applied)
{
	struct fleet_inv inv;
	int w[FLEET_MAX_WANTED], out[FLEET_MAX_WANTED];
	char have[2][FLEET_NAME_MAX] = { "a2", "a3" };
	size_t nw, n;

	ck_ok(fleet_inv_parse(good, strlen(good), &inv));
	snprintf(inv.patches[0].name, FLEET_NAME_MAX, "a1");
	snprintf(inv.patches[1].name, FLEET_NAME_MAX, "a2");
	snprintf(inv.patches[2].name, FLEET_NAME_MAX, "a3");
	nw = fleet_patches_for(&inv, BID_A, w, FLEET_MAX_WANTED);
	ck_assert_uint_eq(nw, 3);
	/* nothing applied: from the cumulative one on (a1 is replaced by a2) */
	n = fleet_to_apply(&inv, w, nw, have, 0, out);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(out[0], 1);
	ck_assert_int_eq(out[1], 2);
	/* a2 applied: only a3 */
	n = fleet_to_apply(&inv, w, nw, have, 1, out);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(out[0], 2);
	/* both: nothing to apply, never twice */
	ck_assert_uint_eq(fleet_to_apply(&inv, w, nw, have, 2, out), 0);
	ck_assert_uint_eq(fleet_patches_for(&inv, "cccccccccccccccccccccccccccccccccccccccc", w, 16), 0);
	fleet_inv_free(&inv);
}
END_TEST

START_TEST(plan_rings_batches_hosts)
{
	struct fleet_inv inv;
	struct fleet_plan p;

	ck_ok(fleet_inv_parse(good, strlen(good), &inv));
	ck_ok(fleet_plan_make(&inv, -1, &p));
	/* canary: web-01; ring 1: web-02 | db-01, db-02 (serial 1,2); ring 2: lab-1 */
	ck_assert_uint_eq(p.n, 5);
	ck_assert_uint_eq(p.nbatches, 4);
	ck_assert_int_eq(p.order[0], 0);
	ck_assert_int_eq(p.batches[1].ring, 1);
	ck_assert_uint_eq(p.batches[1].n, 1);
	ck_assert_uint_eq(p.batches[2].n, 2);
	ck_assert_int_eq(p.batches[2].index, 1);
	ck_assert_int_eq(p.batch_of[3], 2);
	ck_assert_int_eq(p.batches[3].ring, 2);
	fleet_plan_free(&p);
	/* one host only */
	ck_ok(fleet_plan_make(&inv, 1, &p));
	ck_assert_uint_eq(p.n, 2);
	ck_assert_int_eq(p.batch_of[0], -1);
	fleet_plan_free(&p);
	fleet_inv_free(&inv);
}
END_TEST

/* The state text j with its first `from` overwritten by `to` (as long):
 * parsed, it is refused with code, the message naming needle. */
static void tampered(const char *j, const char *from, const char *to, const struct fleet_inv *inv,
		     struct fleet_state *t, enum gp_error_code code, const char *needle)
{
	char *bad = strdup(j), *at = strstr(bad, from);

	ck_assert_msg(at && strlen(from) == strlen(to), "test bug: %s", from);
	memcpy(at, to, strlen(to));
	ck_err(fleet_state_parse(bad, strlen(bad), inv, t), code, needle);
	free(bad);
}

START_TEST(state_round_trip_and_tamper)
{
	struct fleet_inv inv;
	struct fleet_plan p;
	struct fleet_state s, t;
	char *j, *j2;

	ck_ok(fleet_inv_parse(good, strlen(good), &inv));
	ck_ok(fleet_plan_make(&inv, -1, &p));
	ck_ok(fleet_state_init(&s, &p));
	snprintf(s.run, sizeof(s.run), "run-1");
	s.policy = inv.policy;
	s.next_batch = 2;
	s.phase = FLEET_RUN_HALTED;
	snprintf(s.halt_reason, sizeof(s.halt_reason), "ring 1: 1 of 1 failed");
	s.g[0].phase = FLEET_DONE;
	s.g[0].result = FLEET_R_ROLLED_BACK;
	snprintf(s.g[0].build_id, 41, "%s", BID_A);
	s.g[0].wanted[0] = 0;
	s.g[0].wanted[1] = 1;
	s.g[0].nwanted = 2;
	snprintf(s.g[0].applied[0], FLEET_NAME_MAX, "a2");
	s.g[0].napplied = 1;
	s.g[0].nblocking = 1;
	s.g[0].blocking[0].pid = 42;
	snprintf(s.g[0].blocking[0].function, 128, "devkmsg_read");
	s.g[1].phase = FLEET_RUNNING;
	snprintf(s.g[1].step, sizeof(s.g[1].step), "patch");
	s.g[1].health_seq = 1234;
	j = fleet_state_json(&s, &inv);
	ck_assert_ptr_nonnull(j);
	ck_ok(fleet_state_init(&t, &p));
	ck_ok(fleet_state_parse(j, strlen(j), &inv, &t));
	ck_assert_str_eq(t.run, "run-1");
	ck_assert_int_eq(t.phase, FLEET_RUN_HALTED);
	ck_assert_int_eq(t.next_batch, 2);
	ck_assert_int_eq(t.g[0].result, FLEET_R_ROLLED_BACK);
	ck_assert_uint_eq(t.g[0].nwanted, 2);
	ck_assert_int_eq(t.g[0].wanted[1], 1);
	ck_assert_str_eq(t.g[0].applied[0], "a2");
	ck_assert_int_eq(t.g[0].blocking[0].pid, 42);
	ck_assert_int_eq(t.g[1].phase, FLEET_RUNNING);
	ck_assert_int_eq(t.g[1].health_seq, 1234);
	ck_assert_int_eq(t.policy.rollback, FLEET_RB_BATCH);
	ck_assert_int_eq(t.policy.serial.n, 2);
	j2 = fleet_state_json(&t, &inv);
	ck_assert_str_eq(j, j2);
	/* tampered: a guest the plan does not have, a bad result, a wanted
	 * file not in the catalog; the state's policy, read by the
	 * inventory's rules, and required */
	tampered(j, "\"web-02\"", "\"web-09\"", &inv, &t, GP_ERR_CORRUPT, "web-09");
	tampered(j, "\"rolled-back\"", "\"rolled-fwd!\"", &inv, &t, GP_ERR_CORRUPT, "result");
	tampered(j, "/p/a2.o", "/p/zz.o", &inv, &t, GP_ERR_CORRUPT, "not in the catalog");
	tampered(j, "\"batch\"", "\"bunch\"", &inv, &t, GP_ERR_INVAL, "rollback");
	tampered(j, "\"policy\"", "\"polizy\"", &inv, &t, GP_ERR_CORRUPT, "policy: missing");
	ck_err(fleet_state_parse("[1,2", 4, &inv, &t), GP_ERR_CORRUPT, "not a JSON object");
	free(j);
	free(j2);
	fleet_state_free(&s);
	fleet_state_free(&t);
	fleet_plan_free(&p);
	fleet_inv_free(&inv);
}
END_TEST

/* configs/README.md: the test that introduces a format loads every example. */
START_TEST(shipped_examples_parse)
{
	static const char *const ex[] = { "configs/fleet/example.json" };

	for (size_t i = 0; i < ARRAY_SIZE(ex); i++) {
		struct fleet_inv inv;
		struct fleet_plan p;

		ck_ok(fleet_inv_load(ex[i], &inv, NULL));
		ck_ok(fleet_plan_make(&inv, -1, &p));
		/* canary 1; ring 1: 3 guests, serial 1,5,25%: 1, 2; ring 2: 1, 1 */
		ck_assert_uint_eq(p.nbatches, 5);
		fleet_plan_free(&p);
		fleet_inv_free(&inv);
	}
}
END_TEST

static TCase *fleet_tcase(void)
{
	TCase *tc = tcase_create("fleet");

	tcase_add_test(tc, inventory_parses);
	tcase_add_test(tc, hostile_inventories_are_refused_by_name);
	tcase_add_test(tc, hostile_sizes_are_capped);
	tcase_add_test(tc, serial_follows_ansible);
	tcase_add_test(tc, failure_threshold);
	tcase_add_test(tc, cumulative_and_applied);
	tcase_add_test(tc, plan_rings_batches_hosts);
	tcase_add_test(tc, state_round_trip_and_tamper);
	tcase_add_test(tc, shipped_examples_parse);
	return tc;
}
GP_TCASE(fleet_tcase)
