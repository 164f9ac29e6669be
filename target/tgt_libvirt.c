// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tgt_libvirt.c - a libvirt-managed QEMU guest as a target:
 * libvirt:DOMAIN[,uri=URI].
 *
 * It is the qemu backend (tgt_qemu.c) with what it needs asked from QEMU
 * through libvirt (lvconn.c) instead of given by the user:
 *  - the RAM file and its layout: query-memdev, qom-get mem-path, and
 *    `info mtree -f`;
 *  - a gdbstub, started only for as long as the target is open, on a unix
 *    socket in the domain's own private directory (where libvirt keeps its
 *    monitor socket, as QEMU reports it), and stopped (`gdbserver none`)
 *    when it closes;
 *  - the run state first: a domain that is not running, or runs a
 *    migration, save or dump job, is refused by name; one its user paused
 *    (virsh suspend) is worked on paused and left paused: a gdbstub detach
 *    would resume it, so we hang up instead, and never send a continue.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "lvconn.h"
#include "target.h"

#define GDB_SOCK_NAME "guestpatch-gdb.sock"

struct lvt {
	struct lv *l;
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

/* Where the gdbstub socket goes: beside libvirt's monitor socket for this
 * domain (its private directory), as QEMU reports it.  Refuses when the
 * domain has a gdbstub of someone else's. */
static struct gp_error *gdb_sock_path(struct lvt *v)
{
	json_object *list = NULL;
	struct gp_error *err = NULL;
	const char *mon = NULL;
	size_t n;

	if ((err = lv_qmp(v->l, "{\"execute\":\"query-chardev\"}", &list)))
		return err;
	n = json_object_is_type(list, json_type_array) ? json_object_array_length(list) : 0;
	for (size_t i = 0; i < n && i < 256; i++) {
		json_object *c = json_object_array_get_idx(list, i), *lab, *fn;
		const char *label, *file;

		if (!json_object_object_get_ex(c, "label", &lab) ||
		    !json_object_object_get_ex(c, "filename", &fn))
			continue;
		label = json_object_get_string(lab);
		file = json_object_get_string(fn);
		if (!label || !file)
			continue;
		if (!strcmp(label, "charmonitor") && !strncmp(file, "unix:", 5))
			mon = file + 5;
		if (!strcmp(label, "gdb") && !strstr(file, GDB_SOCK_NAME)) {
			err = gp_error_create(GP_ERR_BUSY,
					      "domain %s already has a gdbstub (%.100s) that is not guestpatch's: detach it first (virsh qemu-monitor-command %s --hmp 'gdbserver none')",
					      lv_name(v->l), file, lv_name(v->l));
			goto out;
		}
	}
	if (!mon || !strchr(mon, '/')) {
		err = gp_error_create(GP_ERR_UNSUPPORTED,
				      "domain %s: QEMU names no unix monitor socket (charmonitor), so guestpatch has no private directory for its gdbstub",
				      lv_name(v->l));
		goto out;
	}
	{
		size_t dir = (size_t)(strrchr(mon, '/') - mon);

		if (dir + 1 + strlen(GDB_SOCK_NAME) >= sizeof(v->sock)) {
			err = gp_error_create(GP_ERR_UNSUPPORTED,
					      "domain %s: its directory %.*s is too long a path for a unix socket",
					      lv_name(v->l), (int)dir, mon);
			goto out;
		}
		snprintf(v->sock, sizeof(v->sock), "%.*s/%s", (int)dir, mon, GDB_SOCK_NAME);
	}
out:
	json_object_put(list);
	return err;
}

static struct gp_error *gdb_start(struct lvt *v)
{
	char cmd[200], *out = NULL;
	struct gp_error *err;

	/* A socket file left by a killed vmm: QEMU would not bind over it. */
	unlink(v->sock);
	snprintf(cmd, sizeof(cmd), "gdbserver unix:%s,server=on,wait=off", v->sock);
	if ((err = lv_hmp(v->l, cmd, &out)))
		return err;
	if (!strstr(out, "Waiting for gdb connection"))
		err = gp_error_create(GP_ERR_PROTOCOL, "domain %s: starting a gdbstub: QEMU said '%.200s'",
				      lv_name(v->l), out);
	free(out);
	return err;
}

static void gdb_stop(struct lvt *v)
{
	char *out = NULL;

	gp_error_destroy(lv_hmp(v->l, "gdbserver none", &out));
	free(out);
	unlink(v->sock);
}

static struct gp_error *lvt_cont(void *ctx)
{
	struct lvt *v = ctx;
	json_object *r = NULL;
	struct gp_error *err = lv_qmp(v->l, "{\"execute\":\"cont\"}", &r);

	json_object_put(r);
	return err;
}

static void lvt_closed(void *ctx)
{
	struct lvt *v = ctx;

	gdb_stop(v);
	lv_close(v->l);
	free(v);
}

struct gp_error *tgt_libvirt_open(const char *opts, struct tgt **out)
{
	struct tgt_ram_seg segs[TGT_MAX_RAM_SEGS];
	struct tgt_qemu_cfg cfg = { 0 };
	struct lv_state st;
	struct gp_error *err;
	struct lvt *v;
	size_t nsegs = 0;
	bool gdb_on = false;
	int fd = -1;

	*out = NULL;
	v = calloc(1, sizeof(*v));
	if (!v)
		return &gp_error_nomem;
	if ((err = lv_open(opts, &v->l)) || (err = lv_check_attachable(v->l, &st)) ||
	    (err = lv_ram(v->l, &fd, segs, &nsegs)) || (err = gdb_sock_path(v)) ||
	    (err = gdb_start(v)))
		goto fail;
	gdb_on = true;
	cfg.gdb = v->sock;
	cfg.mem_fd = fd;
	cfg.segs = segs;
	cfg.nsegs = nsegs;
	cfg.keep_paused = st.user_paused;
	cfg.cont = lvt_cont;
	cfg.closed = lvt_closed;
	cfg.ctx = v;
	if ((err = tgt_qemu_open_cfg(&cfg, out)))
		goto fail;
	close(fd);
	if (st.user_paused)
		fprintf(stderr, "guestpatch: domain %s is paused by its user; it stays paused\n",
			lv_name(v->l));
	return NULL;
fail:
	if (fd >= 0)
		close(fd);
	if (gdb_on)
		gdb_stop(v);
	lv_close(v->l);
	free(v);
	return err;
}

struct gp_error *tgt_libvirt_open_ram(struct lv *l, struct tgt **out, struct lv_state *st)
{
	struct tgt_ram_seg segs[TGT_MAX_RAM_SEGS];
	struct gp_error *err;
	size_t nsegs = 0;
	int fd = -1;

	*out = NULL;
	memset(st, 0, sizeof(*st));
	if (!(err = lv_state(l, st)) && !st->down && !(err = lv_ram(l, &fd, segs, &nsegs)))
		err = tgt_ram_open(fd, segs, nsegs, out);
	if (fd >= 0)
		close(fd);
	return err;
}
