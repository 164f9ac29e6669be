// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tgt_qemu.c - a running QEMU as a target: its gdbstub for stop/continue,
 * registers, guest-physical memory (Qqemu.PhyMemMode) and code writes; its
 * guest RAM file (memory-backend-file,share=on) for reads at memory speed;
 * and, optionally, QMP for what the gdbstub does not tell (RAM size).
 *
 * Code writes always go through the gdbstub: under TCG, a write through the
 * RAM file is not seen by code QEMU already translated (verified, see
 * ../shared/DESIGN.md); the gdbstub's write invalidates translated blocks.
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "gdbc.h"
#include "qmp.h"
#include "target.h"

#define FOUR_GB (4ull << 30)

struct qemu_priv {
	struct gdbc *g;
	uint8_t *ram;		/* RAM file mapping, or NULL */
	size_t ram_len;
	uint64_t lowmem;	/* RAM below this is at file offset = pa */
	uint64_t ram_size;	/* from the RAM file or QMP; 0: unknown */
	bool regs_valid[TGT_MAX_VCPUS];
	struct tgt_regs regs[TGT_MAX_VCPUS];
	char *qmp_path;
	char *gdb_path;		/* the gdbstub's address, for the guardian */
	/* Set by a wrapping backend (tgt_libvirt.c), see tgt_qemu_cfg. */
	struct tgt_ram_seg segs[TGT_MAX_RAM_SEGS];
	size_t nsegs;
	struct gp_error *(*cont_fn)(void *ctx);
	void (*closed_fn)(void *ctx);
	void *ctx;
};

static uint64_t parse_size(const char *s, bool *ok)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 0);

	*ok = end != s;
	switch (*end) {
	case 'G': case 'g': v <<= 30; end++; break;
	case 'M': case 'm': v <<= 20; end++; break;
	case 'K': case 'k': v <<= 10; end++; break;
	default: break;
	}
	if (*end)
		*ok = false;
	return v;
}

/* guest-physical -> RAM file offset, or -1 if not RAM we map. */
static int64_t file_off(const struct qemu_priv *p, uint64_t pa, size_t len)
{
	uint64_t off;

	if (!p->ram || pa + len < pa)
		return -1;
	if (p->nsegs) {
		/* The layout QEMU reported: [pa, pa+len) inside one segment. */
		for (size_t i = 0; i < p->nsegs; i++) {
			const struct tgt_ram_seg *sg = &p->segs[i];

			if (pa >= sg->pa && pa - sg->pa <= sg->len && len <= sg->len - (pa - sg->pa)) {
				off = sg->off + (pa - sg->pa);
				if (off > p->ram_len || len > p->ram_len - off)
					return -1;
				return (int64_t)off;
			}
		}
		return -1;
	}
	if (pa + len <= p->lowmem)
		off = pa;
	else if (pa >= FOUR_GB)
		off = pa - FOUR_GB + p->lowmem;
	else
		return -1;
	if (off > p->ram_len || len > p->ram_len - off)
		return -1;
	return (int64_t)off;
}

static const void *qemu_map_phys(struct tgt *t, uint64_t pa, size_t len)
{
	struct qemu_priv *p = t->priv;
	int64_t off = file_off(p, pa, len);

	return off < 0 ? NULL : p->ram + off;
}

static struct gp_error *qemu_pause(struct tgt *t)
{
	struct qemu_priv *p = t->priv;

	memset(p->regs_valid, 0, sizeof(p->regs_valid));
	return gdbc_stop(p->g);
}

static struct gp_error *qemu_resume(struct tgt *t)
{
	struct qemu_priv *p = t->priv;
	struct gp_error *err;

	memset(p->regs_valid, 0, sizeof(p->regs_valid));
	if (t->frozen)
		return NULL;	/* its user paused it: it stays paused */
	err = p->g ? gdbc_cont(p->g) :
		     gp_error_create(GP_ERR_PROTOCOL, "no gdbstub connection");
	if (err && (p->qmp_path || p->cont_fn)) {
		/* The guest must run whatever became of the gdbstub
		 * connection (the guardian could not make one, say): QMP
		 * `cont`, or the wrapping backend's resume, can do that. */
		struct gp_error *e2 = p->qmp_path ? qmp_cont(p->qmp_path) : p->cont_fn(p->ctx);

		if (!e2) {
			gp_error_destroy(err);
			if (p->g)
				p->g->running = true;
			return NULL;
		}
		gp_error_destroy(e2);
	}
	return err;
}

static struct gp_error *need_stopped(struct tgt *t, const char *what)
{
	struct qemu_priv *p = t->priv;

	if (!p->g)
		return gp_error_create(GP_ERR_PROTOCOL, "%s: no gdbstub connection", what);
	if (p->g->running)
		return gp_error_create(GP_ERR_BUSY,
				       "%s through the gdbstub needs the guest paused", what);
	return NULL;
}

/*
 * QEMU 7.2's i386-64bit.xml describes ss_base, ds_base and es_base after the
 * segment selectors, but its 'g' reply leaves them out
 * (x86_cpu_gdb_read_register() has no index for them), so everything after
 * gs would be read 24 bytes off.  Detect that by size, once: the layout is
 * longer than the reply by exactly those three registers.  Any other layout
 * is left alone (a fixed QEMU, our own VMM's stub, a stub that sends only a
 * prefix of its registers): the CR0/EFER check below catches a bad one.
 */
static void fit_layout(struct gdbc *g)
{
	static const char *const unsent[] = { "ss_base", "ds_base", "es_base" };
	const struct gdbc_reg *last = &g->regs[g->nr_regs - 1];
	int total = last->offset + last->bitsize / 8, extra = 0;

	if (total <= g->g_bytes)
		return;
	for (int i = 0; i < g->nr_regs; i++)
		for (size_t j = 0; j < ARRAY_SIZE(unsent); j++)
			if (!strcmp(g->regs[i].name, unsent[j]))
				extra += g->regs[i].bitsize / 8;
	if (total - extra != g->g_bytes)
		return;
	for (size_t j = 0; j < ARRAY_SIZE(unsent); j++)
		gdbc_drop_reg(g, unsent[j]);
}

static struct gp_error *qemu_get_regs(struct tgt *t, int vcpu, struct tgt_regs *r)
{
	static const struct {
		const char *name;
		size_t off;
		int size;
	} map[] = {
#define R(n, f) { n, offsetof(struct tgt_regs, f), sizeof(((struct tgt_regs *)0)->f) }
		R("rax", rax), R("rbx", rbx), R("rcx", rcx), R("rdx", rdx),
		R("rsi", rsi), R("rdi", rdi), R("rbp", rbp), R("rsp", rsp),
		R("r8", r8), R("r9", r9), R("r10", r10), R("r11", r11),
		R("r12", r12), R("r13", r13), R("r14", r14), R("r15", r15),
		R("rip", rip), R("eflags", rflags), R("cs", cs), R("ss", ss),
		R("ds", ds), R("es", es), R("fs", fs), R("gs", gs),
		R("fs_base", fs_base), R("gs_base", gs_base),
		R("k_gs_base", kernel_gs_base), R("cr0", cr0), R("cr2", cr2),
		R("cr3", cr3), R("cr4", cr4), R("cr8", cr8), R("efer", efer),
#undef R
	};
	struct qemu_priv *p = t->priv;
	static uint8_t raw[GDBC_MAX_PACKET / 2];
	struct gp_error *err;

	if (p->regs_valid[vcpu]) {
		*r = p->regs[vcpu];
		return NULL;
	}
	if ((err = need_stopped(t, "reading registers")) ||
	    (err = gdbc_read_regs(p->g, vcpu, raw)))
		return gp_error_wrap(err, "vCPU %d", vcpu);
	fit_layout(p->g);
	memset(r, 0, sizeof(*r));
	for (size_t i = 0; i < ARRAY_SIZE(map); i++) {
		uint64_t v;

		if (!gdbc_reg_value(p->g, raw, map[i].name, &v)) {
			/* Segment bases and control registers matter: without
			 * them there are no per-cpu data and no page tables. */
			if (map[i].off >= offsetof(struct tgt_regs, fs_base))
				return gp_error_create(GP_ERR_UNSUPPORTED,
						       "gdbstub does not report register %s (QEMU too old?)",
						       map[i].name);
			continue;
		}
		if (map[i].size == 8) {
			memcpy((char *)r + map[i].off, &v, 8);
		} else {
			uint16_t v16 = (uint16_t)v;

			memcpy((char *)r + map[i].off, &v16, 2);
		}
	}
	/* A 64-bit guest has CR0.PE|PG and EFER.LMA set; anything else means
	 * the layout and the reply still disagree (or the guest is not in
	 * long mode, which nothing above us can handle either). */
	if ((r->cr0 & 0x80000001ull) != 0x80000001ull || !(r->efer & 0x400))
		return gp_error_create(GP_ERR_UNSUPPORTED,
				       "vCPU %d: registers from the gdbstub do not look like a 64-bit guest (cr0 0x%llx, efer 0x%llx)",
				       vcpu, (unsigned long long)r->cr0,
				       (unsigned long long)r->efer);
	p->regs[vcpu] = *r;
	p->regs_valid[vcpu] = true;
	return NULL;
}

/*
 * In physical mode QEMU's gdbstub accesses memory as a CPU would: outside RAM
 * it reads device registers (MMIO side effects), reads zeros where nothing
 * is mapped, and answers OK to writes that go nowhere (QEMU 7.2).  So when
 * the RAM layout is known, only RAM goes to the stub.
 */
static struct gp_error *check_ram(const struct qemu_priv *p, uint64_t pa, size_t len)
{
	uint64_t low = p->lowmem < p->ram_size ? p->lowmem : p->ram_size;

	if (p->nsegs) {
		/* The layout QEMU reported (RAM file offsets aside). */
		for (size_t i = 0; i < p->nsegs; i++)
			if (pa >= p->segs[i].pa && pa - p->segs[i].pa <= p->segs[i].len &&
			    len <= p->segs[i].len - (pa - p->segs[i].pa))
				return NULL;
		return gp_error_addr(GP_ERR_FAULT, pa,
				     "guest-physical 0x%llx (+%zu) is not guest RAM in the layout QEMU reports",
				     (unsigned long long)pa, len);
	}
	if (!p->ram_size || pa + len < pa)
		return NULL;
	if (pa + len <= low ||
	    (pa >= FOUR_GB && pa - FOUR_GB <= p->ram_size - low &&
	     len <= p->ram_size - low - (pa - FOUR_GB)))
		return NULL;
	return gp_error_addr(GP_ERR_FAULT, pa,
			     "guest-physical 0x%llx (+%zu) is not guest RAM (RAM: 0..0x%llx%s)",
			     (unsigned long long)pa, len, (unsigned long long)low,
			     p->ram_size > low ? " and from 4 GiB" : "");
}

static struct gp_error *qemu_read_phys(struct tgt *t, uint64_t pa, void *buf, size_t len)
{
	struct qemu_priv *p = t->priv;
	struct gp_error *err;

	if ((err = check_ram(p, pa, len)) || (err = need_stopped(t, "reading memory")))
		return err;
	return gdbc_read_mem(p->g, pa, buf, len);
}

static struct gp_error *qemu_write_code(struct tgt *t, uint64_t pa, const void *buf, size_t len)
{
	struct qemu_priv *p = t->priv;
	struct gp_error *err;

	if ((err = check_ram(p, pa, len)) || (err = need_stopped(t, "writing memory")))
		return err;
	return gdbc_write_mem(p->g, pa, buf, len);
}

static struct gp_error *qemu_write_phys(struct tgt *t, uint64_t pa, const void *buf, size_t len)
{
	struct qemu_priv *p = t->priv;
	int64_t off = file_off(p, pa, len);

	if (off >= 0) {
		memcpy(p->ram + off, buf, len);
		return NULL;
	}
	return qemu_write_code(t, pa, buf, len);
}


/* A new gdbstub connection made ready for us: described (threads,
 * registers) and in physical-memory mode.  Both the tool's attach and the
 * guardian's take-over come through here. */
static struct gp_error *gdb_describe(struct gdbc *g)
{
	struct gp_error *err;

	if ((err = gdbc_handshake(g)))
		return err;
	return gdbc_cmd_ok(g, "Qqemu.PhyMemMode:1");
}

/*
 * The guardian's take-over (tgt_guard.c) after the tool died.  The
 * guardian is started before the tool connects to the gdbstub (QEMU stops
 * the guest as it accepts a connection, whether or not the tool lives on
 * to let it run), so it holds no connection of the tool's: that one died
 * with the tool, mid-packet or not, and whatever no-ack mode it had
 * reached goes with it.  The guardian makes its own, as the tool's attach
 * does.  QEMU keeps the guest stopped when a client hangs up, and a new
 * connection stops it too: from here on it is as after the handshake.
 */
static struct gp_error *qemu_reclaim(struct tgt *t)
{
	struct qemu_priv *p = t->priv;
	struct gp_error *err;

	gdbc_close(p->g);
	p->g = NULL;
	if (!p->gdb_path)
		return gp_error_create(GP_ERR_PROTOCOL, "no gdbstub address to connect to");
	if ((err = gdbc_connect(p->gdb_path, 10000, &p->g)) || (err = gdb_describe(p->g))) {
		gdbc_close(p->g);
		p->g = NULL;
		return gp_error_wrap(err, "gdbstub %s", p->gdb_path);
	}
	p->g->running = false;
	memset(p->regs_valid, 0, sizeof(p->regs_valid));
	return NULL;
}

static void qemu_close(struct tgt *t)
{
	struct qemu_priv *p = t->priv;
	struct gp_error *err;

	/* Detach stops the guest for a moment: still the guardian's watch. */
	tgt_guard_state(t, TGT_GUARD_PAUSING);
	if (p->g && t->frozen) {
		/* 'D' would resume a guest its user paused; QEMU 7.2 leaves
		 * the VM as it is when a client just hangs up. */
		gdbc_close(p->g);
	} else if (p->g) {
		/* Detach resumes the guest.  QEMU 7.2 does NOT resume it when
		 * a client just hangs up (its gdb_chr_event() only stops the
		 * VM on connect), so if 'D' failed, ask QMP when we can. */
		err = gdbc_detach(p->g);
		gdbc_close(p->g);
		if (err && p->qmp_path)
			gp_error_destroy(qmp_cont(p->qmp_path));
		else if (err && p->cont_fn)
			gp_error_destroy(p->cont_fn(p->ctx));
		gp_error_destroy(err);
	}
	tgt_guard_stop(t);
	if (p->closed_fn)
		p->closed_fn(p->ctx);
	if (p->ram)
		munmap(p->ram, p->ram_len);
	free(p->qmp_path);
	free(p->gdb_path);
	free(p);
	free(t);
}

static const struct tgt_ops qemu_ops = {
	.name = "qemu",
	.pause = qemu_pause,
	.resume = qemu_resume,
	.get_regs = qemu_get_regs,
	.read_phys = qemu_read_phys,
	.write_phys = qemu_write_phys,
	.write_code = qemu_write_code,
	.map_phys = qemu_map_phys,
	.reclaim = qemu_reclaim,
	.close = qemu_close,
};

/* Map the guest RAM behind fd (a RAM file we opened, or a descriptor a
 * caller checked); what names it in errors. */
static struct gp_error *map_ram(struct qemu_priv *p, int fd, const char *what)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return gp_error_os(errno, "fstat guest RAM %s", what);
	if (st.st_size <= 0)
		return gp_error_create(GP_ERR_INVAL, "guest RAM file %s is empty", what);
	p->ram_len = (size_t)st.st_size;
	p->ram = mmap(NULL, p->ram_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p->ram == MAP_FAILED) {
		p->ram = NULL;
		return gp_error_os(errno, "mmap %s", what);
	}
	return NULL;
}

/* Connect to the gdbstub, hand the guest to the guardian, describe it and
 * let it run (unless its user paused it). */
static struct gp_error *gdb_attach(struct tgt *t, const char *gdb)
{
	struct qemu_priv *p = t->priv;
	struct gp_error *err;

	if (!(p->gdb_path = strdup(gdb)))
		return &gp_error_nomem;
	/* Connecting stops the guest (QEMU stops it as it accepts, even if
	 * we die right after connect() returns): the guardian watches from
	 * before the connect. */
	if ((err = tgt_guard_start(t, TGT_GUARD_PAUSED)))
		return err;
	if ((err = gdbc_connect(gdb, 10000, &p->g)))
		return err;
	/* Kill tests: die connected, the guest stopped by the connect,
	 * nothing said yet. */
	tgt_fault_point("GP_FAULT_KILL_AFTER_CONNECT");
	/* Describe the guest, then let it run. */
	if ((err = gdb_describe(p->g)))
		return err;
	t->nr_vcpus = p->g->nr_threads > TGT_MAX_VCPUS ? TGT_MAX_VCPUS : p->g->nr_threads;
	if (t->frozen)
		return NULL;	/* as its user left it; our pauses are no-ops */
	if ((err = gdbc_cont(p->g)))
		return err;
	tgt_guard_state(t, TGT_GUARD_RUNNING);
	return NULL;
}

/* A target over a RAM file laid out as segs say: t, its priv, the mapping
 * and ram_top (the end of the highest segment). */
static struct gp_error *seg_target_new(const struct tgt_ops *ops, int mem_fd,
				       const struct tgt_ram_seg *segs, size_t nsegs,
				       struct tgt **out)
{
	struct qemu_priv *p;
	struct gp_error *err;
	struct tgt *t;

	*out = NULL;
	if (mem_fd < 0 || !nsegs || nsegs > TGT_MAX_RAM_SEGS)
		return gp_error_create(GP_ERR_INVAL, "guest RAM: no file, or %zu layout segments",
				       nsegs);
	t = calloc(1, sizeof(*t));
	p = calloc(1, sizeof(*p));
	if (!t || !p) {
		free(t);
		free(p);
		return &gp_error_nomem;
	}
	t->ops = ops;
	t->priv = p;
	memcpy(p->segs, segs, nsegs * sizeof(*segs));
	p->nsegs = nsegs;
	if ((err = map_ram(p, mem_fd, "RAM file"))) {
		free(p);
		free(t);
		return err;
	}
	p->ram_size = p->ram_len;
	for (size_t i = 0; i < nsegs; i++) {
		const struct tgt_ram_seg *sg = &segs[i];

		if (sg->off > p->ram_len || sg->len > p->ram_len - sg->off ||
		    sg->pa + sg->len < sg->pa) {
			err = gp_error_create(GP_ERR_INVAL,
					      "RAM segment 0x%llx+0x%llx at file offset 0x%llx lies outside the %zu-byte RAM file",
					      (unsigned long long)sg->pa, (unsigned long long)sg->len,
					      (unsigned long long)sg->off, p->ram_len);
			munmap(p->ram, p->ram_len);
			free(p);
			free(t);
			return err;
		}
		if (sg->pa + sg->len > t->ram_top)
			t->ram_top = sg->pa + sg->len;
	}
	*out = t;
	return NULL;
}

struct gp_error *tgt_qemu_open_cfg(const struct tgt_qemu_cfg *cfg, struct tgt **out)
{
	struct qemu_priv *p;
	struct gp_error *err;
	struct tgt *t;

	*out = NULL;
	if (!cfg->gdb)
		return gp_error_create(GP_ERR_INVAL, "qemu target: no gdbstub");
	if ((err = seg_target_new(&qemu_ops, cfg->mem_fd, cfg->segs, cfg->nsegs, &t)))
		return err;
	p = t->priv;
	t->frozen = cfg->keep_paused;
	p->cont_fn = cfg->cont;
	p->ctx = cfg->ctx;
	if ((err = gdb_attach(t, cfg->gdb))) {
		qemu_close(t);
		return err;
	}
	/* Only now: a failed open must not call back into its caller. */
	p->closed_fn = cfg->closed;
	*out = t;
	return NULL;
}

/* ---- guest RAM alone: read while the guest runs ---- */

static struct gp_error *ram_read_phys(struct tgt *t, uint64_t pa, void *buf, size_t len)
{
	struct qemu_priv *p = t->priv;
	int64_t off = file_off(p, pa, len);

	if (off < 0)
		return gp_error_addr(GP_ERR_FAULT, pa, "guest-physical 0x%llx+%zu is not RAM",
				     (unsigned long long)pa, len);
	memcpy(buf, p->ram + off, len);
	return NULL;
}

static void ram_close(struct tgt *t)
{
	struct qemu_priv *p = t->priv;

	if (p->ram)
		munmap(p->ram, p->ram_len);
	free(p);
	free(t);
}

static const struct tgt_ops ram_ops = {
	.name = "ram",
	.read_phys = ram_read_phys,
	.map_phys = qemu_map_phys,
	.close = ram_close,
};

struct gp_error *tgt_ram_open(int mem_fd, const struct tgt_ram_seg *segs, size_t nsegs,
			      struct tgt **out)
{
	return seg_target_new(&ram_ops, mem_fd, segs, nsegs, out);
}

struct gp_error *tgt_qemu_open(const char *opts, struct tgt **out)
{
	return tgt_qemu_open_fd(opts, -1, out);
}

struct gp_error *tgt_qemu_open_fd(const char *opts, int mem_fd, struct tgt **out)
{
	char *copy = strdup(opts), *tok, *save = NULL;
	const char *gdb = NULL, *mem = NULL, *qmp = NULL, *lowmem = NULL;
	struct qemu_priv *p = NULL;
	struct gp_error *err = NULL;
	struct tgt *t = NULL;
	uint64_t ram_size = 0;

	*out = NULL;
	if (!copy)
		return &gp_error_nomem;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strncmp(tok, "gdb=", 4))
			gdb = tok + 4;
		else if (!strncmp(tok, "mem=", 4))
			mem = tok + 4;
		else if (!strncmp(tok, "qmp=", 4))
			qmp = tok + 4;
		else if (!strncmp(tok, "lowmem=", 7))
			lowmem = tok + 7;
		else {
			err = gp_error_create(GP_ERR_INVAL,
					      "unknown option '%s' (expected gdb=, mem=, qmp=, lowmem=)", tok);
			goto fail;
		}
	}
	if (!gdb || !*gdb) {
		err = gp_error_create(GP_ERR_INVAL, "missing gdb=HOST:PORT or gdb=SOCKET");
		goto fail;
	}
	t = calloc(1, sizeof(*t));
	p = calloc(1, sizeof(*p));
	if (!t || !p) {
		err = &gp_error_nomem;
		goto fail;
	}
	t->ops = &qemu_ops;
	t->priv = p;
	if (mem && mem_fd >= 0) {
		err = gp_error_create(GP_ERR_INVAL, "mem=%s given with a RAM descriptor", mem);
		goto fail;
	}
	if (mem) {
		int fd = open(mem, O_RDWR | O_CLOEXEC);

		if (fd < 0) {
			err = gp_error_os(errno, "open guest RAM file %s", mem);
			goto fail;
		}
		err = map_ram(p, fd, mem);
		close(fd);
		if (err)
			goto fail;
		ram_size = p->ram_len;
	} else if (mem_fd >= 0) {
		/* The descriptor itself, never reopened by path: a path
		 * (/proc/self/fd/N) would open it again with our own rights. */
		if ((err = map_ram(p, mem_fd, "descriptor")))
			goto fail;
		ram_size = p->ram_len;
		mem = "the RAM descriptor";
	}
	if (qmp) {
		p->qmp_path = strdup(qmp);
		/* A VM its user stopped (QMP `stop`) is worked on paused and
		 * left paused, as libvirt's are (tgt_libvirt.c): attaching
		 * must not resume it. */
		if ((err = qmp_probe(qmp, &ram_size, &t->frozen)))
			goto fail;
		if (p->ram && ram_size != p->ram_len) {
			err = gp_error_create(GP_ERR_INVAL,
					      "QMP says the guest has %llu bytes of RAM, %s has %zu",
					      (unsigned long long)ram_size, mem, p->ram_len);
			goto fail;
		}
	}
	/* QEMU q35 (hw/i386/pc_q35.c): RAM below 4 GiB ends at 2 GiB when the
	 * guest has 2.75 GiB or more, else all of it is low. */
	p->lowmem = ram_size >= 0xb0000000ull ? 0x80000000ull : ram_size;
	if (lowmem) {
		bool ok;

		p->lowmem = parse_size(lowmem, &ok);
		if (!ok) {
			err = gp_error_create(GP_ERR_INVAL, "lowmem=%s: not a size", lowmem);
			goto fail;
		}
	}
	p->ram_size = ram_size;
	t->ram_top = ram_size > p->lowmem ? FOUR_GB + (ram_size - p->lowmem) : ram_size;
	if ((err = gdb_attach(t, gdb)))
		goto fail;
	free(copy);
	*out = t;
	return NULL;
fail:
	free(copy);
	if (t && p)
		qemu_close(t);
	else {
		free(t);
		free(p);
	}
	return err;
}
