// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A patched guest rebooted: the new kernel boots unpatched, and the state
 * guestpatch kept in guest memory (region, journal, owner record) is the
 * earlier boot's.  The rig boots qboot, which, unlike SeaBIOS, leaves low
 * memory as it was across a reset (as OVMF or a kexec do), so the earlier
 * boot's bytes are really there.  Before the reset a `vmm unpatch` is
 * killed mid-pause with no guardian: the journal is left active and the
 * owner record names a dead vmm.  After it:
 *
 *  - `vmm recover` discards the journal (nothing of it is rolled back:
 *    the kernel text hashes the same before and after) and says so;
 *  - `vmm info` shows another boot id;
 *  - `vmm list` exits 0, lists no patch, says "earlier boot" and writes
 *    nothing (0 guest writes);
 *  - the guest's /proc/cmdline is unpatched;
 *  - `vmm patch` sets the region up anew and the marker shows; `vmm
 *    unpatch` removes it and the kernel text hashes as before;
 *  - no oops or warning in the guest's log.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gp_check.h"
#include "patch_util.h"
#include "rig/rig.h"

static struct rig *r;
static char dir[64];

static void up(void)
{
	char *msg = NULL;

	snprintf(dir, sizeof(dir), "/tmp/gp-reboot-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	r = rig_boot(&(struct rig_opts){ .cpus = 2, .bios = "qboot.rom", .reboot = true }, &msg);
	if (!r) {
		fprintf(stderr, "rig: %s\n", msg);
		abort();
	}
}

static void down(void)
{
	pu_down(r, dir);
}

/* `vmm info --json`'s boot id; *weak: whether it is the layout's alone. */
static uint64_t boot_id(bool *weak)
{
	char *out = NULL;
	json_object *o, *v;
	uint64_t id;

	ck_assert_int_eq(pu_vmm(r, "info --json", NULL, &out, NULL), 0);
	o = json_tokener_parse(out);
	ck_assert_msg(o && json_object_object_get_ex(o, "boot_id", &v), "info: %s", out);
	id = strtoull(json_object_get_string(v), NULL, 16);
	ck_assert(json_object_object_get_ex(o, "boot_id_weak", &v));
	*weak = json_object_get_boolean(v);
	json_object_put(o);
	free(out);
	return id;
}

static bool marker(void)
{
	return pu_guest_has(r, "cat /proc/cmdline", "guestpatch: cmdline-marker applied");
}

/* QMP shows the stop a vmm killed mid-pause left (its guardian gone too)
 * as it shows a user's `stop`: the next command must tell them apart by
 * the journal, roll the pause back and let the guest run again, not keep
 * it stopped as a user-paused guest. */
START_TEST(killed_pause_runs_again)
{
	const char *obj = pu_build(r, dir, "cmdline_marker", NULL, NULL);
	char *out = NULL, *err = NULL, *reply = NULL;
	int rc;

	ck_assert_msg(pu_vmm(r, "patch", obj, NULL, &err) == 0, "patch: %s", err);
	free(err);
	setenv("GP_NO_GUARDIAN", "1", 1);
	setenv("GP_FAULT_KILL_AT_WRITE", "3", 1);
	rc = pu_vmm(r, "unpatch", "cmdline-marker", NULL, NULL);
	unsetenv("GP_FAULT_KILL_AT_WRITE");
	unsetenv("GP_NO_GUARDIAN");
	ck_assert_msg(rc != 0, "unpatch was not killed");
	ck_assert_msg(rig_qmp(r, "{\"execute\":\"query-status\"}", &reply) == 0 && reply &&
			      strstr(reply, "\"running\": false"),
		      "the killed vmm did not leave the guest stopped: %s", reply ? reply : "");
	free(reply);

	rc = pu_vmm(r, "list", NULL, &out, &err);
	ck_assert_msg(rc == 0, "list: %s", err);
	ck_assert_msg(strstr(err, "left stopped by an interrupted vmm"), "list: %s", err);
	ck_assert_msg(strstr(out, "cmdline-marker: applied"), "list after roll-back: %s", out);
	free(out);
	free(err);
	ck_assert_msg(rig_qmp(r, "{\"execute\":\"query-status\"}", &reply) == 0 && reply &&
			      strstr(reply, "\"running\": true"),
		      "the guest was left stopped: %s", reply ? reply : "");
	free(reply);
	ck_assert(marker());
	ck_assert_msg(pu_vmm(r, "unpatch", "cmdline-marker", NULL, &err) == 0, "unpatch: %s", err);
	free(err);
	ck_assert(!marker());
}
END_TEST

START_TEST(reboot_drops_patches)
{
	const char *obj = pu_build(r, dir, "cmdline_marker", NULL, NULL);
	char *out = NULL, *err = NULL, *reply = NULL;
	struct hashes before, after;
	uint64_t first, second;
	bool weak;
	int rc;

	first = boot_id(&weak);
	ck_assert_msg(!weak, "Debian's kernels have task_struct.stack_canary");
	ck_assert_msg(pu_vmm(r, "patch", obj, NULL, &err) == 0, "patch: %s", err);
	free(err);
	ck_assert(marker());
	/* A vmm killed at its third write, with no guardian to roll it back:
	 * the guest stays paused with an active journal. */
	setenv("GP_NO_GUARDIAN", "1", 1);
	setenv("GP_FAULT_KILL_AT_WRITE", "3", 1);
	rc = pu_vmm(r, "unpatch", "cmdline-marker", NULL, NULL);
	unsetenv("GP_FAULT_KILL_AT_WRITE");
	unsetenv("GP_NO_GUARDIAN");
	ck_assert_msg(rc != 0, "unpatch was not killed");

	/* The reset: RAM stays as it was. */
	ck_assert_msg(rig_qmp(r, "{\"execute\":\"system_reset\"}", &reply) == 0, "system_reset: %s",
		      reply ? reply : rig_describe(r));
	free(reply);
	ck_assert_msg(rig_qmp(r, "{\"execute\":\"cont\"}", &reply) == 0, "cont: %s",
		      reply ? reply : rig_describe(r));
	free(reply);
	ck_assert_msg(rig_wait_boot(r, 120) == 0, "the guest did not come back: %s", rig_describe(r));
	ck_assert(!marker());

	/* The unfinished unpatch is the earlier boot's: discarded, not one
	 * byte of the kernel written.  (Any vmm command would discard it
	 * first thing: recover is the first to run.) */
	before = pu_hash_guest(r);
	rc = pu_vmm(r, "recover", NULL, &out, &err);
	ck_assert_msg(rc == 0, "recover: %s", err);
	ck_assert_msg(strstr(err, "unfinished `unpatch cmdline-marker`") &&
		      strstr(err, "from an earlier boot of this guest: discarded"), "recover: %s", err);
	ck_assert_msg(strstr(out, "discarded an unfinished `unpatch`") &&
		      strstr(out, "earlier boot"), "recover: %s", out);
	free(out);
	free(err);
	after = pu_hash_guest(r);
	ck_assert_msg(after.text == before.text, "recover wrote into the kernel text");
	second = boot_id(&weak);
	ck_assert_uint_ne(second, first);

	/* list: nothing applied, says why, writes nothing. */
	rc = pu_vmm(r, "list --stats", NULL, &out, &err);
	ck_assert_msg(rc == 0, "list: %s", err);
	ck_assert_msg(strstr(out, "no patches applied") && strstr(out, "earlier boot"), "list: %s", out);
	ck_assert_msg(strstr(err, "stats: 0 guest writes"), "list wrote: %s", err);
	free(out);
	free(err);
	ck_assert(pu_hash_guest(r).region == after.region);
	ck_assert(!marker());

	/* Patch again: set up anew over the earlier region. */
	ck_assert_msg(pu_vmm(r, "patch", obj, NULL, &err) == 0, "patch after reboot: %s", err);
	ck_assert_msg(strstr(err, "setting up anew"), "patch: %s", err);
	free(err);
	ck_assert(marker());
	rc = pu_vmm(r, "list", NULL, &out, NULL);
	ck_assert_msg(rc == 0 && strstr(out, "cmdline-marker: applied") && !strstr(out, "earlier boot"),
		      "list: %s", out);
	free(out);
	ck_assert_msg(pu_vmm(r, "unpatch", "cmdline-marker", NULL, &err) == 0, "unpatch: %s", err);
	free(err);
	ck_assert(!marker());
	ck_assert_msg(pu_hash_guest(r).text == before.text, "kernel text differs after unpatch");

	out = pu_guest(r, "dmesg | grep -E 'WARNING:|BUG:|Oops|general protection' || true");
	ck_assert_msg(!strstr(out, "WARNING:") && !strstr(out, "BUG:") && !strstr(out, "Oops") &&
		      !strstr(out, "general protection"), "guest log: %s", out);
	free(out);
}
END_TEST

static TCase *reboot_tcase(void)
{
	TCase *tc = tcase_create("reboot");

	tcase_set_timeout(tc, 300);
	tcase_add_unchecked_fixture(tc, up, down);
	tcase_add_test(tc, killed_pause_runs_again);
	tcase_add_test(tc, reboot_drops_patches);
	return tc;
}
GP_TCASE(reboot_tcase)
