// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdio.h>
#include <string.h>

#include "kbtf.h"
#include "lp_engine.h"

static bool lock_prefix(uint8_t b)
{
	return b == 0xf0 || b == 0x3e;
}

int lp_klp_find_bitop(const uint8_t *code, size_t len, int reg)
{
	for (size_t i = 1; i + 3 < len; i++) {
		uint8_t modrm, mod, rm;
		size_t n = 1;

		if (code[i] != 0x0f || code[i + 1] != 0xba)
			continue;
		/* Only locked forms: the kernel's atomic test_and_{set,clear}_bit.
		 * A kernel that booted on one CPU has its LOCK prefixes (the
		 * .smp_locks sites) turned into DS prefixes, 0x3e
		 * (alternatives_smp_unlock() in arch/x86/kernel/alternative.c):
		 * the same instruction. */
		if (!(lock_prefix(code[i - 1]) ||
		      (i >= 2 && (code[i - 1] & 0xf0) == 0x40 && lock_prefix(code[i - 2]))))
			continue;
		modrm = code[i + 2];
		mod = modrm >> 6;
		rm = modrm & 7;
		if (((modrm >> 3) & 7) != reg || mod == 3)
			continue;
		if (rm == 4) {
			if (i + 3 >= len)
				continue;
			n++;
			if (mod == 0 && (code[i + 3] & 7) == 5)
				n += 4;
		} else if (mod == 0 && rm == 5) {
			n += 4;
		}
		if (mod == 1)
			n += 1;
		else if (mod == 2)
			n += 4;
		if (i + 2 + n >= len)
			continue;
		if (code[i + 2 + n] < 64)
			return code[i + 2 + n];
	}
	return -1;
}

/* The bit a function of the kernel's own livepatch code tests. */
static int bit_in(struct kern *k, const char *func, int reg)
{
	static uint8_t code[8192];
	uint64_t addr, off, size;
	const struct ksym *s;

	if (!kern_has_sym(k, func, &addr))
		return -1;
	s = ksym_symbolize(k->syms, addr, &off, &size);
	if (!s || !size || size > sizeof(code))
		size = sizeof(code);
	if (!gp_ok(kern_read(k, addr, code, size)))
		return -1;
	return lp_klp_find_bitop(code, size, reg);
}

/*
 * tasklist_lock is an rwlock_t, whose layout depends on PREEMPT_RT
 * (include/linux/rwlock_types.h, the same in 6.1 and 6.12):
 *
 * !PREEMPT_RT: { arch_rwlock_t raw_lock; ... }, x86's arch_rwlock_t is
 *   struct qrwlock { union { atomic_t cnts; ... }; arch_spinlock_t wait_lock; }.
 *   A writer holds it while the low byte of cnts is _QW_LOCKED (0x0ff);
 *   _QW_WAITING (0x100) is a writer still waiting
 *   (include/asm-generic/qrwlock.h).
 *
 * PREEMPT_RT: { struct rwbase_rt rwbase; atomic_t readers; ... }, with
 *   struct rwbase_rt { atomic_t readers; struct rt_mutex_base rtmutex; }
 *   (include/linux/rwbase_rt.h).  The word is rwbase.readers; the outer
 *   `readers` is another member that the locking code never uses (its
 *   name would match first, so the path is spelled in full).
 *   include/linux/rwbase_rt.h: READER_BIAS (1U << 31), WRITER_BIAS
 *   (1U << 30); an unlocked lock holds READER_BIAS (__RWBASE_INITIALIZER).
 *   kernel/locking/rwbase_rt.c: rwbase_write_lock() takes the rtmutex,
 *   then atomic_sub(READER_BIAS) (readers forced into the slow path),
 *   waits for the readers to leave, then sets WRITER_BIAS; unlock adds
 *   READER_BIAS - WRITER_BIAS back before anything else.  So READER_BIAS
 *   is clear exactly while a writer is in its critical section or about
 *   to enter it: write-held or pending.
 *
 * Read in Debian's linux-source-6.1 (6.1.192-3, the 6.1.0-57 kernels) and
 * linux-source-6.12 (6.12.117-1~deb12u1); the BTF of both -rt-amd64
 * kernels shows the PREEMPT_RT shape, the other flavours the qrwlock one.
 */
#define QRW_LOCKED_MASK 0x0ffu		/* _QW_LOCKED */
#define RWBASE_READER_BIAS (1u << 31)	/* READER_BIAS */

static bool member_u32(struct kern *k, const char *type, const char *path, uint64_t *off)
{
	uint64_t size = 0;
	struct gp_error *err = kbtf_offsetof(k->btf, type, path, off, &size);

	gp_error_destroy(err);
	return !err && size == 4;
}

struct gp_error *lp_klp_rwlock_shape(struct kern *k, enum lp_rwlock_shape *shape,
				     uint64_t *word_off)
{
	uint64_t qoff = 0, roff = 0;
	bool qrw, rt;

	*shape = LP_RWLOCK_UNKNOWN;
	*word_off = 0;
	if (!k->btf)
		return gp_error_create(GP_ERR_UNSUPPORTED,
				       "no BTF for the guest kernel: cannot tell what rwlock_t is (give --vmlinux)");
	qrw = member_u32(k, "rwlock_t", "raw_lock.cnts", &qoff);
	rt = member_u32(k, "rwlock_t", "rwbase.readers", &roff);
	if (qrw && !rt) {
		*shape = LP_RWLOCK_QRWLOCK;
		*word_off = qoff;
	} else if (rt && !qrw) {
		*shape = LP_RWLOCK_RWBASE_RT;
		*word_off = roff;
	} else {
		return gp_error_create(GP_ERR_UNSUPPORTED,
				       "rwlock_t in the guest's BTF is %s: not a shape guestpatch knows, so it cannot tell whether tasklist_lock is held for writing",
				       qrw ? "both a qrwlock (raw_lock.cnts) and a PREEMPT_RT rwbase_rt (rwbase.readers)" :
				       "neither a qrwlock (raw_lock.cnts) nor a PREEMPT_RT rwbase_rt (rwbase.readers), as 32-bit words");
	}
	return NULL;
}

bool lp_klp_rwlock_write_held(enum lp_rwlock_shape shape, uint32_t word)
{
	switch (shape) {
	case LP_RWLOCK_QRWLOCK:
		return (word & QRW_LOCKED_MASK) != 0;
	case LP_RWLOCK_RWBASE_RT:
		return !(word & RWBASE_READER_BIAS);
	default:
		return true;	/* unknown: never say free */
	}
}

bool lp_klp_preempt_rt(const struct lp_klp *g)
{
	return g->tasklist_shape == LP_RWLOCK_RWBASE_RT;
}

struct gp_error *lp_klp_init(struct kern *k, const struct task_offsets *to, struct lp_klp *g)
{
	enum lp_rwlock_shape shape;
	struct gp_error *err;
	uint64_t ct;

	memset(g, 0, sizeof(*g));
	g->tif_notify_signal = -1;
	if (!to->has_patch_state) {
		snprintf(g->why, sizeof(g->why),
			 "the kernel has no task_struct.patch_state (built without CONFIG_LIVEPATCH)");
		return NULL;
	}
	if (!kern_has_sym(k, "klp_target_state", &g->target_state_va) ||
	    !kern_has_sym(k, "klp_transition_patch", &g->transition_patch_va) ||
	    !kern_has_sym(k, "tasklist_lock", &g->tasklist_lock_va)) {
		snprintf(g->why, sizeof(g->why),
			 "kallsyms lacks klp_target_state, klp_transition_patch or tasklist_lock");
		return NULL;
	}
	if ((err = lp_klp_rwlock_shape(k, &shape, &g->tasklist_word_off))) {
		snprintf(g->why, sizeof(g->why), "tasklist_lock: %s", err->msg);
		gp_error_destroy(err);
		return NULL;
	}
	g->tasklist_shape = shape;
	/* test_and_clear_tsk_thread_flag(task, TIF_PATCH_PENDING) */
	g->tif_patch_pending = bit_in(k, "klp_update_patch_state", 6);
	if (g->tif_patch_pending < 0) {
		snprintf(g->why, sizeof(g->why),
			 "cannot find TIF_PATCH_PENDING in the code of klp_update_patch_state");
		return NULL;
	}
	/* set_notify_signal(task) in klp_send_signals(), often inlined. */
	g->tif_notify_signal = bit_in(k, "klp_send_signals", 5);
	if (g->tif_notify_signal < 0)
		g->tif_notify_signal = bit_in(k, "klp_try_complete_transition", 5);
	ct = to->current_task;
	if (ct >= 0x80000000ull) {
		snprintf(g->why, sizeof(g->why),
			 "per-cpu current_task at offset 0x%llx does not fit a 32-bit displacement",
			 (unsigned long long)ct);
		return NULL;
	}
	g->current_task_off = (int32_t)ct;
	g->patch_state_off = to->patch_state;
	g->ti_flags_off = to->ti_flags;
	if (g->patch_state_off >= 0x80000000ull) {
		snprintf(g->why, sizeof(g->why), "task_struct.patch_state offset too large");
		return NULL;
	}
	g->usable = true;
	return NULL;
}

struct gp_error *lp_klp_guest_busy(struct kern *k, const struct lp_klp *g, bool *busy)
{
	uint64_t p;
	struct gp_error *err = kern_read_u64(k, g->transition_patch_va, &p);

	if (err)
		return gp_error_wrap(err, "reading klp_transition_patch");
	*busy = p != 0;
	return NULL;
}

struct gp_error *lp_klp_tasklist_write_locked(struct kern *k, const struct lp_klp *g,
					      bool *locked)
{
	uint32_t word;
	struct gp_error *err;

	if (g->tasklist_shape != LP_RWLOCK_QRWLOCK && g->tasklist_shape != LP_RWLOCK_RWBASE_RT)
		return gp_error_create(GP_ERR_UNSUPPORTED,
				       "tasklist_lock: the shape of rwlock_t is not known");
	if ((err = kern_read_u32(k, g->tasklist_lock_va + g->tasklist_word_off, &word)))
		return gp_error_wrap(err, "reading tasklist_lock");
	*locked = lp_klp_rwlock_write_held((enum lp_rwlock_shape)g->tasklist_shape, word);
	return NULL;
}

struct gp_error *lp_klp_set_target(struct kern *k, const struct lp_klp *g, int32_t state)
{
	return lp_write_kernel_data(k, g->target_state_va, &state, sizeof(state));
}

struct gp_error *lp_klp_get_target(struct kern *k, const struct lp_klp *g, int32_t *state)
{
	return kern_read(k, g->target_state_va, state, sizeof(*state));
}

struct gp_error *lp_klp_set_task(struct kern *k, const struct lp_klp *g, struct task_info *t,
				 int32_t state, int pending)
{
	struct gp_error *err;

	if (state != INT32_MIN && state != t->patch_state) {
		if ((err = lp_write_kernel_data(k, t->addr + g->patch_state_off, &state, sizeof(state))))
			return gp_error_wrap(err, "setting patch_state of pid %d", t->pid);
		t->patch_state = state;
	}
	if (pending >= 0) {
		if ((err = lp_klp_task_flag(k, g, t->addr, g->tif_patch_pending, pending,
					    &t->ti_flags)))
			return gp_error_wrap(err, "pid %d", t->pid);
	}
	return NULL;
}

struct gp_error *lp_klp_task_flag(struct kern *k, const struct lp_klp *g, uint64_t task,
				  int bit, bool on, uint64_t *flags_out)
{
	uint64_t flags, mask = 1ull << bit;
	struct gp_error *err;

	/* Fresh read: a cached copy may predate this pause. */
	if ((err = kern_read_u64(k, task + g->ti_flags_off, &flags)))
		return gp_error_wrap(err, "reading thread flags");
	if (!!(flags & mask) != on) {
		flags = on ? flags | mask : flags & ~mask;
		if ((err = lp_write_kernel_data(k, task + g->ti_flags_off, &flags, sizeof(flags))))
			return gp_error_wrap(err, "setting thread flags");
	}
	if (flags_out)
		*flags_out = flags;
	return NULL;
}
