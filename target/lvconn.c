// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * lvconn.c - a libvirt domain as guestpatch uses it (see lvconn.h).
 *
 * libvirt owns QEMU's monitor; we speak to QEMU through libvirt's monitor
 * passthrough (virDomainQemuMonitorCommand, libvirt-qemu), which marks
 * the domain "tainted: custom-monitor" once.  What QEMU says (memdev
 * list, mem-path, the memory tree) decides which file we map and where
 * each guest-physical range lies in it: nothing is computed from names or
 * machine types.  libvirt itself is dlopened by lv_open (lvlib.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lvconn.h"
#include "lvlib.h"

struct lv {
	virConnectPtr conn;
	virDomainPtr dom;
	char uri[256];
	char name[256];
	char uuid[VIR_UUID_STRING_BUFLEN];
};

/* libvirt prints every error on stderr by default; we report our own. */
static void quiet(void *ud, virErrorPtr e)
{
	(void)ud;
	(void)e;
}

static struct gp_error *lv_err(enum gp_error_code code, const char *what)
{
	const char *m = lvlib.virGetLastErrorMessage();

	return gp_error_create(code, "%s: %s", what, m && *m ? m : "libvirt gave no reason");
}

const char *lv_name(const struct lv *l)
{
	return l->name;
}

const char *lv_uri(const struct lv *l)
{
	return l->uri;
}

const char *lv_uuid(const struct lv *l)
{
	return l->uuid;
}

struct gp_error *lv_open(const char *spec, struct lv **out)
{
	char dom[256] = "", uri[256] = LV_DEFAULT_URI;
	const char *comma = strchr(spec, ',');
	unsigned char raw[VIR_UUID_BUFLEN];
	struct gp_error *err;
	struct lv *l;
	size_t n = comma ? (size_t)(comma - spec) : strlen(spec);

	*out = NULL;
	if (!n || n >= sizeof(dom))
		return gp_error_create(GP_ERR_INVAL, "libvirt:DOMAIN[,uri=URI]: %s domain name",
				       n ? "too long a" : "missing the");
	memcpy(dom, spec, n);
	for (const char *o = comma; o; o = strchr(o + 1, ',')) {
		size_t len = strcspn(o + 1, ",");

		if (!strncmp(o + 1, "uri=", 4) && len > 4 && len - 4 < sizeof(uri))
			snprintf(uri, sizeof(uri), "%.*s", (int)(len - 4), o + 5);
		else
			return gp_error_create(GP_ERR_INVAL,
					       "libvirt target: unknown or bad option '%.*s' (expected uri=URI)",
					       (int)len, o + 1);
	}
	if ((err = lvlib_load()))
		return err;
	lvlib.virSetErrorFunc(NULL, quiet);
	l = calloc(1, sizeof(*l));
	if (!l)
		return &gp_error_nomem;
	snprintf(l->uri, sizeof(l->uri), "%s", uri);
	l->conn = lvlib.virConnectOpen(uri);
	if (!l->conn) {
		err = lv_err(GP_ERR_OS, "connecting to libvirt");

		free(l);
		return gp_error_wrap(err, "%s", uri);
	}
	/* A UUID names one domain for good; else a name. */
	if (strlen(dom) == VIR_UUID_STRING_BUFLEN - 1)
		l->dom = lvlib.virDomainLookupByUUIDString(l->conn, dom);
	if (!l->dom)
		l->dom = lvlib.virDomainLookupByName(l->conn, dom);
	if (!l->dom) {
		lv_close(l);
		return gp_error_create(GP_ERR_NOTFOUND, "libvirt at %s has no domain '%s'", uri, dom);
	}
	snprintf(l->name, sizeof(l->name), "%s", lvlib.virDomainGetName(l->dom));
	if (lvlib.virDomainGetUUID(l->dom, raw) == 0)
		lvlib.virDomainGetUUIDString(l->dom, l->uuid);
	*out = l;
	return NULL;
}

void lv_close(struct lv *l)
{
	if (!l)
		return;
	if (l->dom)
		lvlib.virDomainFree(l->dom);
	if (l->conn)
		lvlib.virConnectClose(l->conn);
	free(l);
}

static const char *paused_reason(int r)
{
	switch (r) {
	case VIR_DOMAIN_PAUSED_USER: return "user";
	case VIR_DOMAIN_PAUSED_MIGRATION: return "migration";
	case VIR_DOMAIN_PAUSED_SAVE: return "save";
	case VIR_DOMAIN_PAUSED_DUMP: return "dump";
	case VIR_DOMAIN_PAUSED_IOERROR: return "I/O error";
	case VIR_DOMAIN_PAUSED_WATCHDOG: return "watchdog";
	case VIR_DOMAIN_PAUSED_FROM_SNAPSHOT: return "from snapshot";
	case VIR_DOMAIN_PAUSED_SHUTTING_DOWN: return "shutting down";
	case VIR_DOMAIN_PAUSED_SNAPSHOT: return "snapshot";
	case VIR_DOMAIN_PAUSED_CRASHED: return "crashed";
	case VIR_DOMAIN_PAUSED_STARTING_UP: return "starting up";
	case VIR_DOMAIN_PAUSED_POSTCOPY: return "post-copy migration";
	case VIR_DOMAIN_PAUSED_POSTCOPY_FAILED: return "post-copy failed";
	default: return "unknown";
	}
}

static const char *job_name(int op)
{
	switch (op) {
	case VIR_DOMAIN_JOB_OPERATION_START: return "a start";
	case VIR_DOMAIN_JOB_OPERATION_SAVE: return "a save";
	case VIR_DOMAIN_JOB_OPERATION_RESTORE: return "a restore";
	case VIR_DOMAIN_JOB_OPERATION_MIGRATION_IN: return "an incoming migration";
	case VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT: return "a migration";
	case VIR_DOMAIN_JOB_OPERATION_SNAPSHOT: return "a snapshot";
	case VIR_DOMAIN_JOB_OPERATION_SNAPSHOT_REVERT: return "a snapshot revert";
	case VIR_DOMAIN_JOB_OPERATION_DUMP: return "a dump";
	default: return NULL;	/* backup and unknown: memory is not moved */
	}
}

struct gp_error *lv_state(struct lv *l, struct lv_state *st)
{
	virTypedParameterPtr params = NULL;
	int type = VIR_DOMAIN_JOB_NONE, nparams = 0, op = 0;

	memset(st, 0, sizeof(*st));
	if (lvlib.virDomainGetState(l->dom, &st->state, &st->reason, 0) < 0)
		return lv_err(GP_ERR_OS, "reading the domain's state");
	switch (st->state) {
	case VIR_DOMAIN_RUNNING:
		st->running = true;
		snprintf(st->text, sizeof(st->text), "running");
		break;
	case VIR_DOMAIN_PAUSED:
		st->user_paused = st->reason == VIR_DOMAIN_PAUSED_USER;
		st->busy = st->reason == VIR_DOMAIN_PAUSED_MIGRATION ||
			   st->reason == VIR_DOMAIN_PAUSED_SAVE || st->reason == VIR_DOMAIN_PAUSED_DUMP ||
			   st->reason == VIR_DOMAIN_PAUSED_SNAPSHOT ||
			   st->reason == VIR_DOMAIN_PAUSED_STARTING_UP ||
			   st->reason == VIR_DOMAIN_PAUSED_POSTCOPY;
		snprintf(st->text, sizeof(st->text), "paused (%s)", paused_reason(st->reason));
		break;
	case VIR_DOMAIN_SHUTOFF: st->down = true; snprintf(st->text, sizeof(st->text), "shut off"); break;
	case VIR_DOMAIN_SHUTDOWN: st->down = true; snprintf(st->text, sizeof(st->text), "shutting down"); break;
	case VIR_DOMAIN_CRASHED: st->down = true; snprintf(st->text, sizeof(st->text), "crashed"); break;
	case VIR_DOMAIN_PMSUSPENDED: snprintf(st->text, sizeof(st->text), "suspended to memory"); break;
	case VIR_DOMAIN_BLOCKED: snprintf(st->text, sizeof(st->text), "blocked"); break;
	default: snprintf(st->text, sizeof(st->text), "state %d", st->state); break;
	}
	if ((st->running || st->state == VIR_DOMAIN_PAUSED) &&
	    lvlib.virDomainGetJobStats(l->dom, &type, &params, &nparams, 0) == 0) {
		if (type != VIR_DOMAIN_JOB_NONE &&
		    lvlib.virTypedParamsGetInt(params, nparams, VIR_DOMAIN_JOB_OPERATION, &op) == 1 &&
		    job_name(op)) {
			st->busy = true;
			snprintf(st->text + strlen(st->text), sizeof(st->text) - strlen(st->text),
				 ", running %s job", job_name(op));
		}
		lvlib.virTypedParamsFree(params, nparams);
	}
	return NULL;
}

struct gp_error *lv_check_attachable(struct lv *l, struct lv_state *st)
{
	struct gp_error *err = lv_state(l, st);

	if (err)
		return err;
	if (st->busy)
		return gp_error_create(GP_ERR_BUSY,
				       "domain %s is %s: its memory may be moving; try again when it has finished",
				       l->name, st->text);
	if (!st->running && !st->user_paused)
		return gp_error_create(GP_ERR_BUSY, "domain %s is %s, not running", l->name, st->text);
	return NULL;
}

static struct gp_error *monitor(struct lv *l, const char *cmd, bool hmp, char **out)
{
	char *res = NULL;

	*out = NULL;
	if (lvlib.virDomainQemuMonitorCommand(l->dom, cmd, &res,
					hmp ? VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP : 0) < 0)
		return gp_error_wrap(lv_err(GP_ERR_PROTOCOL, "QEMU monitor through libvirt"),
				     "domain %s, `%.60s`", l->name, cmd);
	if (!res || strlen(res) > LV_REPLY_MAX) {
		free(res);
		return gp_error_create(GP_ERR_LIMIT, "domain %s: the monitor's reply to `%.60s` is %s",
				       l->name, cmd, res ? "too long" : "missing");
	}
	*out = res;
	return NULL;
}

struct gp_error *lv_hmp(struct lv *l, const char *cmd, char **out)
{
	return monitor(l, cmd, true, out);
}

struct gp_error *lv_qmp(struct lv *l, const char *cmd, json_object **ret)
{
	json_object *o, *v;
	struct gp_error *err;
	char *res;

	*ret = NULL;
	if ((err = monitor(l, cmd, false, &res)))
		return err;
	o = json_tokener_parse(res);
	free(res);
	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return gp_error_create(GP_ERR_PROTOCOL, "domain %s: QMP `%.60s`: no JSON object in reply",
				       l->name, cmd);
	}
	if (json_object_object_get_ex(o, "error", &v)) {
		err = gp_error_create(GP_ERR_PROTOCOL, "domain %s: QMP `%.60s`: %.200s", l->name, cmd,
				      json_object_to_json_string(v));
		json_object_put(o);
		return err;
	}
	if (!json_object_object_get_ex(o, "return", &v)) {
		json_object_put(o);
		return gp_error_create(GP_ERR_PROTOCOL, "domain %s: QMP `%.60s`: no return in reply",
				       l->name, cmd);
	}
	*ret = json_object_get(v);
	json_object_put(o);
	return NULL;
}

/* ---- guest RAM ---- */

static void add_seg(struct tgt_ram_seg *segs, size_t *n, uint64_t pa, uint64_t len, uint64_t off,
		    bool *full)
{
	if (*n && segs[*n - 1].pa + segs[*n - 1].len == pa &&
	    segs[*n - 1].off + segs[*n - 1].len == off) {
		segs[*n - 1].len += len;
		return;
	}
	if (*n >= TGT_MAX_RAM_SEGS) {
		*full = true;
		return;
	}
	segs[(*n)++] = (struct tgt_ram_seg){ .pa = pa, .len = len, .off = off };
}

struct gp_error *lv_parse_mtree(const char *text, const char *region,
				struct tgt_ram_seg *segs, size_t *nsegs)
{
	const char *line = text;
	bool in_memory = false, in_view = false, full = false;
	size_t lines = 0;

	*nsegs = 0;
	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char buf[512], name[256], kind[64];
		unsigned long long start, end, off = 0;
		int prio, used = 0;

		if (++lines > 200000)
			return gp_error_create(GP_ERR_LIMIT, "`info mtree -f`: more than 200000 lines");
		snprintf(buf, sizeof(buf), "%.*s", (int)(len < sizeof(buf) ? len : sizeof(buf) - 1),
			 line);
		line = nl ? nl + 1 : NULL;
		if (!strncmp(buf, "FlatView", 8)) {
			if (in_memory)
				break;	/* that view is over */
			in_view = true;
			continue;
		}
		if (in_view && strstr(buf, " AS \"memory\"") == buf) {
			in_memory = true;
			continue;
		}
		if (!in_memory)
			continue;
		/* "  START-END (prio N, KIND): NAME [@OFFSET] [KVM]" */
		if (sscanf(buf, " %llx-%llx (prio %d, %63[^)]): %255s%n", &start, &end, &prio, kind,
			   name, &used) != 5)
			continue;
		if (strcmp(name, region) || end < start)
			continue;
		sscanf(buf + used, " @%llx", &off);
		if (off + (end - start) < off)
			continue;
		add_seg(segs, nsegs, start, end - start + 1, off, &full);
	}
	if (full)
		return gp_error_create(GP_ERR_LIMIT,
				       "RAM region %s is split into more than %d pieces in the memory tree",
				       region, TGT_MAX_RAM_SEGS);
	if (!*nsegs)
		return gp_error_create(GP_ERR_NOTFOUND,
				       "the memory tree (`info mtree -f`) shows no RAM region '%s' in address space \"memory\"",
				       region);
	return NULL;
}

#define MEMBACKING_XML \
	"<memoryBacking><source type='file'/><access mode='shared'/></memoryBacking>"

struct gp_error *lv_ram(struct lv *l, int *fd, struct tgt_ram_seg *segs, size_t *nsegs)
{
	json_object *list = NULL, *path = NULL;
	struct gp_error *err;
	const char *id = NULL, *file;
	char cmd[512], *mtree = NULL;
	int64_t size = 0;
	struct stat st;
	size_t n;

	*fd = -1;
	if ((err = lv_qmp(l, "{\"execute\":\"query-memdev\"}", &list)))
		return err;
	n = json_object_is_type(list, json_type_array) ? json_object_array_length(list) : 0;
	for (size_t i = 0; i < n && i < 64; i++) {
		json_object *m = json_object_array_get_idx(list, i), *v;

		if (json_object_object_get_ex(m, "share", &v) && json_object_get_boolean(v) &&
		    json_object_object_get_ex(m, "id", &v) && json_object_is_type(v, json_type_string)) {
			if (id) {
				err = gp_error_create(GP_ERR_UNSUPPORTED,
						      "domain %s has more than one shared memory backend (NUMA nodes?): not supported yet",
						      l->name);
				goto out;
			}
			id = json_object_get_string(v);
			if (json_object_object_get_ex(m, "size", &v))
				size = json_object_get_int64(v);
		}
	}
	if (!id) {
		err = gp_error_create(GP_ERR_UNSUPPORTED,
				      "domain %s has no shared file-backed memory: guestpatch maps the guest's RAM file; add %s to its <domain> (virsh edit), then restart it",
				      l->name, MEMBACKING_XML);
		goto out;
	}
	if (strlen(id) > 200 || strpbrk(id, "\"\\/")) {
		err = gp_error_create(GP_ERR_PROTOCOL, "domain %s: odd memory backend id", l->name);
		goto out;
	}
	snprintf(cmd, sizeof(cmd),
		 "{\"execute\":\"qom-get\",\"arguments\":{\"path\":\"/objects/%s\",\"property\":\"mem-path\"}}",
		 id);
	if ((err = lv_qmp(l, cmd, &path)))
		goto out;
	file = json_object_is_type(path, json_type_string) ? json_object_get_string(path) : "";
	if (file[0] != '/') {
		err = gp_error_create(GP_ERR_UNSUPPORTED,
				      "domain %s: memory backend %s has no file (mem-path '%.100s'): add %s",
				      l->name, id, file, MEMBACKING_XML);
		goto out;
	}
	*fd = open(file, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (*fd < 0) {
		err = gp_error_os(errno, "domain %s: opening its RAM file %s", l->name, file);
		goto out;
	}
	if (fstat(*fd, &st) < 0 || !S_ISREG(st.st_mode) || size <= 0 || st.st_size != size) {
		err = gp_error_create(GP_ERR_INVAL,
				      "domain %s: RAM file %s is not a %lld-byte regular file, as QEMU says its backend %s is",
				      l->name, file, (long long)size, id);
		goto out;
	}
	if ((err = lv_hmp(l, "info mtree -f", &mtree)))
		goto out;
	err = lv_parse_mtree(mtree, id, segs, nsegs);
	if (err)
		err = gp_error_wrap(err, "domain %s", l->name);
out:
	if (err && *fd >= 0) {
		close(*fd);
		*fd = -1;
	}
	free(mtree);
	json_object_put(list);
	json_object_put(path);
	return err;
}

/* ---- metadata ---- */

struct gp_error *lv_meta_get(struct lv *l, const char *ns_uri, char **xml)
{
	virErrorPtr e;

	*xml = lvlib.virDomainGetMetadata(l->dom, VIR_DOMAIN_METADATA_ELEMENT, ns_uri,
				    VIR_DOMAIN_AFFECT_LIVE);
	if (*xml)
		return NULL;
	e = lvlib.virGetLastError();
	if (e && e->code == VIR_ERR_NO_DOMAIN_METADATA)
		return NULL;
	/* A domain that is not running has no live state: its config. */
	*xml = lvlib.virDomainGetMetadata(l->dom, VIR_DOMAIN_METADATA_ELEMENT, ns_uri,
				    VIR_DOMAIN_AFFECT_CURRENT);
	if (*xml)
		return NULL;
	e = lvlib.virGetLastError();
	if (e && e->code == VIR_ERR_NO_DOMAIN_METADATA)
		return NULL;
	return lv_err(GP_ERR_OS, "reading the domain's metadata");
}

struct gp_error *lv_meta_set(struct lv *l, const char *ns_uri, const char *key, const char *xml)
{
	if (lvlib.virDomainSetMetadata(l->dom, VIR_DOMAIN_METADATA_ELEMENT, xml, xml ? key : NULL, ns_uri,
				 VIR_DOMAIN_AFFECT_LIVE) < 0)
		return lv_err(GP_ERR_OS, "writing the domain's metadata");
	return NULL;
}
