/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lvconn.h - a libvirt domain as guestpatch uses it: the connection, the
 * domain's run state and jobs, QEMU's monitor through libvirt (QMP and
 * HMP passthrough, libvirt-qemu), the guest RAM file and its layout as
 * QEMU reports them, and the domain's <metadata>.
 *
 * Everything QEMU says is untrusted input: replies are bounded and
 * checked like a gdbstub peer's.
 */
#ifndef GP_LVCONN_H
#define GP_LVCONN_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "gp_error.h"
#include "target.h"

#define LV_DEFAULT_URI "qemu:///system"

struct lv;

/* What the domain is doing. */
struct lv_state {
	int state;		/* virDomainState */
	int reason;		/* its reason */
	bool running;		/* running: we may pause and resume it */
	bool user_paused;	/* paused by its user (virsh suspend): keep it so */
	bool busy;		/* a migration, save, dump or start is under way */
	bool down;		/* shut off, shutting down or crashed */
	char text[96];		/* "running", "paused (user)", "shut off", ... */
};

/* "DOMAIN[,uri=URI]": DOMAIN is a name or a UUID. */
struct gp_error *lv_open(const char *spec, struct lv **out);
void lv_close(struct lv *l);
const char *lv_name(const struct lv *l);
const char *lv_uri(const struct lv *l);
const char *lv_uuid(const struct lv *l);

struct gp_error *lv_state(struct lv *l, struct lv_state *st);
/* Refuse, by name, a domain that is not running or paused by its user, or
 * that runs a migration, save or dump job. */
struct gp_error *lv_check_attachable(struct lv *l, struct lv_state *st);

/* One QMP command (JSON text); *ret: its "return" member (a reference). */
struct gp_error *lv_qmp(struct lv *l, const char *cmd, json_object **ret);
/* One HMP command; *out: its text (malloc'd). */
struct gp_error *lv_hmp(struct lv *l, const char *cmd, char **out);

/*
 * The guest RAM: the shared memory backend QEMU names (query-memdev,
 * qom-get mem-path), opened read-write into *fd, and its layout from
 * `info mtree -f`.  Refuses by name a domain without shared file-backed
 * memory, saying which XML to add.
 */
struct gp_error *lv_ram(struct lv *l, int *fd, struct tgt_ram_seg *segs, size_t *nsegs);

/* Parse `info mtree -f` text: the pieces of address space "memory" that
 * are the RAM region `region`, merged where contiguous.  Pure. */
struct gp_error *lv_parse_mtree(const char *text, const char *region,
				struct tgt_ram_seg *segs, size_t *nsegs);

/* The domain's <metadata> element in namespace ns_uri (live), or *xml =
 * NULL when it has none.  Set: key is the XML prefix; xml NULL removes. */
struct gp_error *lv_meta_get(struct lv *l, const char *ns_uri, char **xml);
struct gp_error *lv_meta_set(struct lv *l, const char *ns_uri, const char *key,
			     const char *xml);

/* Guest RAM alone, read while the domain runs (tgt_ram_open), for waiting
 * on its kernel without pausing it; *st: the domain's state then.  The
 * layout is asked anew each time (a restore brings a new QEMU). */
struct gp_error *tgt_libvirt_open_ram(struct lv *l, struct tgt **out, struct lv_state *st);

/* The most a monitor reply may hold; anything larger is refused. */
#define LV_REPLY_MAX (4u << 20)

#endif
