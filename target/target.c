// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * target.c - the generic part of the target interface: spec parsing, pause
 * nesting and accounting, argument checks, and the two simplest backends
 * (a caller's buffer, and a raw memory image file).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "target.h"

struct gp_error *tgt_open(const char *spec, struct tgt **out)
{
	struct gp_error *err;

	*out = NULL;
	if (!spec || !*spec)
		return gp_error_create(GP_ERR_INVAL, "empty target");
	if (!strncmp(spec, "qemu:", 5))
		err = tgt_qemu_open(spec + 5, out);
	else if (!strncmp(spec, "vmm:", 4))
		err = tgt_vmm_open(spec + 4, out);
	else if (!strncmp(spec, "raw:", 4))
		err = tgt_raw_open(spec + 4, out);
	else if (!strncmp(spec, "libvirt:", 8))
		err = tgt_libvirt_open(spec + 8, out);
	else
		return gp_error_create(GP_ERR_INVAL,
				       "unknown target '%s' (expected qemu:gdb=HOST:PORT[,mem=PATH][,qmp=PATH], libvirt:DOMAIN[,uri=URI], vmm:SOCKET or raw:PATH)",
				       spec);
	if (err)
		return gp_error_wrap(err, "target '%s'", spec);
	(*out)->spec = strdup(spec);
	{
		const char *e = getenv("GP_MAX_PAUSE_MS");
		long ms = e ? strtol(e, NULL, 10) : TGT_MAX_PAUSE_MS_DEFAULT;

		(*out)->max_pause_ns = ms > 0 ? (uint64_t)ms * 1000000ull : 0;
	}
	return NULL;
}

/* ---- signals: held during a pause ---- */

static volatile sig_atomic_t interrupted;
static sigset_t held_sigs;

static void on_signal(int sig)
{
	interrupted = sig;
}

void tgt_catch_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

bool tgt_interrupted(void)
{
	return interrupted != 0;
}

static void hold_signals(bool hold)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, SIGINT);
	sigaddset(&s, SIGTERM);
	sigaddset(&s, SIGHUP);
	if (hold)
		sigprocmask(SIG_BLOCK, &s, &held_sigs);
	else
		sigprocmask(SIG_SETMASK, &held_sigs, NULL);
}

struct gp_error *tgt_pause_check(struct tgt *t)
{
	uint64_t d;

	if (!t->paused || !t->max_pause_ns || !t->ops->pause)
		return NULL;
	d = gp_now_ns() - t->pause_start_ns;
	if (d <= t->max_pause_ns)
		return NULL;
	return gp_error_create(GP_ERR_TIMEOUT,
			       "the guest has been paused for %.1f ms, longer than the %.0f ms allowed (GP_MAX_PAUSE_MS / --max-pause): this attempt is given up and undone",
			       d / 1e6, t->max_pause_ns / 1e6);
}

/* ---- fault injection for the kill tests: GP_FAULT_KILL_AT_WRITE=N[,torn]
 * kills the process with SIGKILL right after the Nth guest write of the
 * process (torn: after the first half of it). ---- */

static long fault_at = -1;
static long fault_writes;
static bool fault_torn;

static void fault_init(void);

void tgt_fault_set(long at_write, bool torn)
{
	fault_init();
	fault_at = at_write;
	fault_torn = torn;
	fault_writes = 0;
}

static void fault_init(void)
{
	static bool done;
	const char *e;

	if (done)
		return;
	done = true;
	if ((e = getenv("GP_FAULT_KILL_AT_WRITE"))) {
		fault_at = strtol(e, NULL, 10);
		fault_torn = strstr(e, ",torn") != NULL;
	}
}

void tgt_fault_point(const char *name)
{
	if (getenv(name))
		raise(SIGKILL);
}

typedef struct gp_error *(*write_fn)(struct tgt *t, uint64_t pa, const void *buf, size_t len);

static struct gp_error *counted_write(struct tgt *t, write_fn fn, uint64_t pa, const void *buf,
				      size_t len)
{
	struct gp_error *err;

	fault_init();
	t->stats.writes++;
	fault_writes++;
	if (fault_writes == fault_at && fault_torn && len > 1) {
		gp_error_destroy(fn(t, pa, buf, len / 2));
		raise(SIGKILL);
	}
	err = fn(t, pa, buf, len);
	if (fault_writes == fault_at)
		raise(SIGKILL);
	return err;
}

static tgt_recover_fn recover_hook;

void tgt_set_recover(tgt_recover_fn fn)
{
	recover_hook = fn;
}

tgt_recover_fn tgt_get_recover(void)
{
	return recover_hook;
}

void tgt_thaw(struct tgt *t)
{
	if (t)
		t->frozen = false;
}

void tgt_close(struct tgt *t)
{
	char *spec;

	if (!t)
		return;
	if (t->paused && t->ops->pause) {
		/* Never leave a pause with writes half done: undo them. */
		if (recover_hook)
			gp_error_destroy(recover_hook(t));
		t->pause_depth = 1;
		gp_error_destroy(tgt_resume(t));
	}
	spec = t->spec;
	t->ops->close(t);
	free(spec);
}

struct gp_error *tgt_pause(struct tgt *t)
{
	struct gp_error *err;
	uint64_t t0;

	if (t->pause_depth++ > 0)
		return NULL;
	if (!t->ops->pause) {
		t->paused = true;	/* nothing runs: a static image */
		t->pause_start_ns = gp_now_ns();
		return NULL;
	}
	hold_signals(true);
	t0 = gp_now_ns();
	tgt_guard_state(t, TGT_GUARD_PAUSING);
	err = t->ops->pause(t);
	if (err) {
		t->pause_depth--;
		hold_signals(false);
		return err;
	}
	tgt_guard_state(t, TGT_GUARD_PAUSED);
	t->pause_start_ns = gp_now_ns();
	t->stats.last_stop_ns = t->pause_start_ns - t0;
	t->paused = true;
	return NULL;
}

struct gp_error *tgt_resume(struct tgt *t)
{
	struct gp_error *err = NULL;
	uint64_t t0;

	if (t->pause_depth <= 0)
		return gp_error_create(GP_ERR_INVAL, "resume without pause");
	if (--t->pause_depth > 0)
		return NULL;
	t0 = gp_now_ns();
	if (t->ops->resume)
		err = t->ops->resume(t);
	if (err) {
		t->pause_depth++;
		return err;
	}
	t->stats.last_resume_ns = gp_now_ns() - t0;
	t->stats.last_pause_ns = gp_now_ns() - t->pause_start_ns;
	t->stats.pause_ns_total += t->stats.last_pause_ns;
	t->stats.pauses++;
	t->paused = false;
	if (t->ops->pause) {
		tgt_guard_state(t, TGT_GUARD_RUNNING);
		hold_signals(false);
	}
	return NULL;
}

struct gp_error *tgt_get_regs(struct tgt *t, int vcpu, struct tgt_regs *regs)
{
	if (vcpu < 0 || vcpu >= t->nr_vcpus)
		return gp_error_create(GP_ERR_INVAL,
				       "vCPU %d does not exist (target has %d)",
				       vcpu, t->nr_vcpus);
	if (!t->ops->get_regs)
		return gp_error_create(GP_ERR_UNSUPPORTED,
				       "%s target has no vCPU registers",
				       t->ops->name);
	return t->ops->get_regs(t, vcpu, regs);
}

const void *tgt_map_phys(struct tgt *t, uint64_t pa, size_t len)
{
	if (!t->ops->map_phys || pa + len < pa)
		return NULL;
	return t->ops->map_phys(t, pa, len);
}

struct gp_error *tgt_read_phys(struct tgt *t, uint64_t pa, void *buf,
			       size_t len)
{
	const void *p;

	if (pa + len < pa)
		return gp_error_addr(GP_ERR_FAULT, pa,
				     "physical range at 0x%llx wraps",
				     (unsigned long long)pa);
	t->stats.bytes_read += len;
	p = tgt_map_phys(t, pa, len);
	if (p) {
		t->stats.reads_fast++;
		memcpy(buf, p, len);
		return NULL;
	}
	t->stats.reads_slow++;
	return t->ops->read_phys(t, pa, buf, len);
}

struct gp_error *tgt_write_phys(struct tgt *t, uint64_t pa, const void *buf,
				size_t len)
{
	if (!t->ops->write_phys)
		return gp_error_create(GP_ERR_UNSUPPORTED,
				       "%s target is read-only", t->ops->name);
	if (pa + len < pa)
		return gp_error_addr(GP_ERR_FAULT, pa, "physical range wraps");
	return counted_write(t, t->ops->write_phys, pa, buf, len);
}

struct gp_error *tgt_write_code(struct tgt *t, uint64_t pa, const void *buf,
				size_t len)
{
	if (!t->paused)
		return gp_error_create(GP_ERR_BUSY,
				       "code writes need every vCPU paused");
	if (t->ops->write_code)
		return counted_write(t, t->ops->write_code, pa, buf, len);
	return tgt_write_phys(t, pa, buf, len);
}

/* ---- buffer backend: guest-physical 0..len is a caller's buffer ---- */

struct buf_priv {
	uint8_t *buf;
	size_t len;
	bool owned_map;		/* raw backend: munmap on close */
	struct tgt_regs regs[TGT_MAX_VCPUS];
};

static const void *buf_map_phys(struct tgt *t, uint64_t pa, size_t len)
{
	struct buf_priv *p = t->priv;

	if (pa > p->len || len > p->len - pa)
		return NULL;
	return p->buf + pa;
}

static struct gp_error *buf_read_phys(struct tgt *t, uint64_t pa, void *buf,
				      size_t len)
{
	(void)buf;
	(void)len;
	return gp_error_addr(GP_ERR_FAULT, pa,
			     "physical address 0x%llx is outside %s memory",
			     (unsigned long long)pa, t->ops->name);
}

static struct gp_error *buf_write_phys(struct tgt *t, uint64_t pa,
				       const void *buf, size_t len)
{
	struct buf_priv *p = t->priv;

	if (pa > p->len || len > p->len - pa)
		return buf_read_phys(t, pa, NULL, len);
	memcpy(p->buf + pa, buf, len);
	return NULL;
}

static struct gp_error *buf_get_regs(struct tgt *t, int vcpu,
				     struct tgt_regs *regs)
{
	struct buf_priv *p = t->priv;

	*regs = p->regs[vcpu];
	return NULL;
}

static void buf_close(struct tgt *t)
{
	struct buf_priv *p = t->priv;

	if (p->owned_map)
		munmap(p->buf, p->len);
	free(p);
	free(t);
}

static const struct tgt_ops buf_ops = {
	.name = "buffer",
	.get_regs = buf_get_regs,
	.read_phys = buf_read_phys,
	.write_phys = buf_write_phys,
	.map_phys = buf_map_phys,
	.close = buf_close,
};

static const struct tgt_ops raw_ops = {
	.name = "raw",
	.get_regs = buf_get_regs,
	.read_phys = buf_read_phys,
	.map_phys = buf_map_phys,
	.close = buf_close,
};

static struct gp_error *buf_new(const struct tgt_ops *ops, void *buf,
				size_t len, const struct tgt_regs *regs,
				int nr_regs, struct tgt **out)
{
	struct buf_priv *p;
	struct tgt *t;

	if (nr_regs < 0 || nr_regs > TGT_MAX_VCPUS)
		return gp_error_create(GP_ERR_INVAL, "bad vCPU count %d",
				       nr_regs);
	t = calloc(1, sizeof(*t));
	p = calloc(1, sizeof(*p));
	if (!t || !p) {
		free(t);
		free(p);
		return &gp_error_nomem;
	}
	p->buf = buf;
	p->len = len;
	if (nr_regs)
		memcpy(p->regs, regs, sizeof(*regs) * (size_t)nr_regs);
	t->ops = ops;
	t->priv = p;
	t->nr_vcpus = nr_regs;
	t->ram_top = len;
	*out = t;
	return NULL;
}

struct gp_error *tgt_buffer_new(void *buf, size_t len,
				const struct tgt_regs *regs, int nr_regs,
				struct tgt **out)
{
	return buf_new(&buf_ops, buf, len, regs, nr_regs, out);
}

struct gp_error *tgt_raw_open(const char *path, struct tgt **out)
{
	struct gp_error *err;
	struct stat st;
	void *map;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return gp_error_os(errno, "open %s", path);
	if (fstat(fd, &st) < 0 || st.st_size <= 0) {
		err = gp_error_create(GP_ERR_INVAL, "%s: empty or unreadable",
				      path);
		close(fd);
		return err;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return gp_error_os(errno, "mmap %s", path);
	err = buf_new(&raw_ops, map, (size_t)st.st_size, NULL, 0, out);
	if (err) {
		munmap(map, (size_t)st.st_size);
		return err;
	}
	((struct buf_priv *)(*out)->priv)->owned_map = true;
	return NULL;
}

struct gp_error *tgt_resume_keep(struct tgt *t, struct gp_error *err)
{
	struct gp_error *e2 = tgt_resume(t);

	if (!err)
		return e2;
	gp_error_destroy(e2);
	return err;
}
