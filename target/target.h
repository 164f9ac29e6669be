/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * target.h - where guest memory and vCPUs come from.
 *
 * One interface, several backends (QEMU through its gdbstub, our own VMM, a
 * raw memory image).  introspect/ and the patch engine use only the tgt_*
 * functions below and never know which backend they run on.
 *
 * Addresses here are guest-PHYSICAL.  Virtual translation is introspect's
 * business (it knows the guest's page tables).
 */
#ifndef GP_TARGET_H
#define GP_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gp_error.h"
#include "gp_time.h"

#define TGT_MAX_VCPUS 64

/* x86-64 vCPU state that introspection and patching need. */
struct tgt_regs {
	/* General registers in the kernel's pt_regs naming. */
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rip, rflags;
	uint16_t cs, ss, ds, es, fs, gs;
	uint64_t fs_base, gs_base, kernel_gs_base;
	uint64_t cr0, cr2, cr3, cr4, cr8, efer;
};

struct tgt;

/* What the tool tells its guardian (tgt_guard.c) about the guest. */
enum tgt_guard_state {
	TGT_GUARD_RUNNING = 0,
	TGT_GUARD_PAUSING,	/* a stop was or may have been requested */
	TGT_GUARD_PAUSED,
};

struct tgt_guard_shared {
	enum tgt_guard_state state;
	uint64_t boot_id;	/* t->boot_id, for the guardian's recovery hook */
};

struct tgt_ops {
	const char *name;
	/* Stop every vCPU; when it returns no vCPU executes guest code. */
	struct gp_error *(*pause)(struct tgt *t);
	struct gp_error *(*resume)(struct tgt *t);
	struct gp_error *(*get_regs)(struct tgt *t, int vcpu,
				     struct tgt_regs *regs);
	struct gp_error *(*read_phys)(struct tgt *t, uint64_t pa, void *buf,
				      size_t len);
	/* Data write; the guest sees it once it reads that memory again. */
	struct gp_error *(*write_phys)(struct tgt *t, uint64_t pa,
				       const void *buf, size_t len);
	/*
	 * Code write: guaranteed to be seen by instruction fetch (under TCG
	 * this must invalidate translated blocks, so it goes through the
	 * gdbstub).  NULL means write_phys already has that property.
	 */
	struct gp_error *(*write_code)(struct tgt *t, uint64_t pa,
				       const void *buf, size_t len);
	/*
	 * Optional: a direct pointer to guest RAM [pa, pa+len), valid while the
	 * target is open, or NULL when the backend has none for that range.
	 */
	const void *(*map_phys)(struct tgt *t, uint64_t pa, size_t len);
	/*
	 * Optional, for the guardian: after the tool died at any point,
	 * get a connection of its own to the guest (the tool's died with
	 * it), the guest stopped.
	 */
	struct gp_error *(*reclaim)(struct tgt *t);
	void (*close)(struct tgt *t);
};

struct tgt_stats {
	uint64_t pauses;	/* number of pause/resume cycles */
	uint64_t pause_ns_total;	/* guest time spent paused by us */
	uint64_t last_pause_ns;	/* duration of the last completed pause */
	uint64_t last_stop_ns;	/* how long the last pause request took */
	uint64_t last_resume_ns;	/* how long the last resume request took */
	uint64_t bytes_read;
	uint64_t writes;	/* write_phys and write_code calls */
	uint64_t reads_fast;	/* reads served by map_phys */
	uint64_t reads_slow;	/* reads through read_phys */
};

struct tgt {
	const struct tgt_ops *ops;
	char *spec;		/* the string the user gave */
	int nr_vcpus;
	/* Guest-physical end of RAM as the backend knows it (0: unknown).
	 * Bounds scans of physical memory. */
	uint64_t ram_top;
	bool paused;		/* paused by us */
	/* The guest never runs between our pauses (its user paused it, and
	 * we leave it so): retrying an attempt can change nothing. */
	bool frozen;
	int pause_depth;	/* nested tgt_pause calls */
	uint64_t pause_start_ns;
	/* A pause longer than this fails tgt_pause_check() (0: no bound). */
	uint64_t max_pause_ns;
	struct tgt_stats stats;
	struct tgt_guard *guard;	/* the guardian, if the backend has one */
	/* The guest's current boot as the layers above identified it
	 * (introspect's kern_boot_id; 0: unknown).  Opaque here: what the
	 * patch engine records in the guest carries it, so that its own
	 * state of an earlier boot, left in memory a reboot did not clear,
	 * is never taken for this boot's (patch/lp_journal.c).  Set with
	 * tgt_set_boot_id, which tells the guardian too. */
	uint64_t boot_id;
	void *priv;		/* backend state */
};

/* The default bound on one pause (tgt_open sets max_pause_ns; the
 * environment's GP_MAX_PAUSE_MS overrides it). */
#define TGT_MAX_PAUSE_MS_DEFAULT 500

/*
 * Open a target from a spec string:
 *   qemu:gdb=HOST:PORT[,mem=PATH][,qmp=PATH][,lowmem=SIZE]
 *   qemu:gdb=/path/to/unix.sock[,...]
 *   vmm:SOCKET          our own VMM's control socket (vmm run --gdb)
 *   raw:PATH            read-only raw guest-physical memory image
 * Attaching may stop the guest (QEMU's gdbstub does); tgt_open leaves it
 * running on return unless the backend cannot.
 */
struct gp_error *tgt_open(const char *spec, struct tgt **out);
void tgt_close(struct tgt *t);
/* A frozen guest (its user paused it, as far as the backend can tell)
 * found to have been stopped by an interrupted vmm instead: undo the
 * freeze, so the command resumes it as any other.  No-op otherwise. */
void tgt_thaw(struct tgt *t);

/* Pause/resume nest: only the outermost pair touches the guest. */
struct gp_error *tgt_pause(struct tgt *t);
struct gp_error *tgt_resume(struct tgt *t);
/* Resume after work done while paused: the work's error if it failed,
 * else the resume's (the other is dropped). */
struct gp_error *tgt_resume_keep(struct tgt *t, struct gp_error *err);
struct gp_error *tgt_get_regs(struct tgt *t, int vcpu, struct tgt_regs *regs);
struct gp_error *tgt_read_phys(struct tgt *t, uint64_t pa, void *buf,
			       size_t len);
struct gp_error *tgt_write_phys(struct tgt *t, uint64_t pa, const void *buf,
				size_t len);
struct gp_error *tgt_write_code(struct tgt *t, uint64_t pa, const void *buf,
				size_t len);
/* Direct pointer into guest RAM, or NULL (then use tgt_read_phys). */
const void *tgt_map_phys(struct tgt *t, uint64_t pa, size_t len);
/* GP_ERR_TIMEOUT once the current pause has lasted longer than
 * t->max_pause_ns: the caller gives up the attempt, undoes, resumes. */
struct gp_error *tgt_pause_check(struct tgt *t);

/* Fault injection for the kill tests: SIGKILL right after the process's
 * Nth guest write (torn: after the first half of it); also set by the
 * environment, GP_FAULT_KILL_AT_WRITE=N[,torn].  N counts from the call. */
void tgt_fault_set(long at_write, bool torn);
/* Fault injection for the kill tests at a named point: SIGKILL right here
 * if the environment has `name` (GP_FAULT_KILL_...) set. */
void tgt_fault_point(const char *name);

/*
 * SIGINT, SIGTERM and SIGHUP are held while the guest is paused, so a
 * pause always ends with its writes finished or undone; once it is over
 * they are delivered.  tgt_interrupted() says whether one came (the CLI
 * installs the handler with tgt_catch_signals()).
 */
void tgt_catch_signals(void);
bool tgt_interrupted(void);

/*
 * The guardian (tgt_guard.c): a process that outlives the tool and lets
 * the guest run again if the tool dies while it is paused, after calling
 * the recovery hook (set once, before tgt_open) on the target.
 */
typedef struct gp_error *(*tgt_recover_fn)(struct tgt *t);
/* The hook (the journal roll-back): called by the guardian, and by
 * tgt_close() on a target left paused, before the guest runs again. */
void tgt_set_recover(tgt_recover_fn fn);
tgt_recover_fn tgt_get_recover(void);
struct gp_error *tgt_guard_start(struct tgt *t, enum tgt_guard_state st);
void tgt_guard_state(struct tgt *t, enum tgt_guard_state st);
/* Set t->boot_id, and the guardian's copy its recovery hook sees. */
void tgt_set_boot_id(struct tgt *t, uint64_t id);
volatile struct tgt_guard_shared *tgt_guard_shared(struct tgt *t);
void tgt_guard_stop(struct tgt *t);

/* A target over a caller-owned buffer: guest-physical 0..len. For tests and
 * for images already in memory. Writes go to the buffer. No vCPUs unless
 * regs are supplied. */
struct gp_error *tgt_buffer_new(void *buf, size_t len,
				const struct tgt_regs *regs, int nr_regs,
				struct tgt **out);

/* Backend constructors (used by tgt_open). */
struct gp_error *tgt_qemu_open(const char *opts, struct tgt **out);
struct gp_error *tgt_raw_open(const char *path, struct tgt **out);
struct gp_error *tgt_vmm_open(const char *path, struct tgt **out);
/* The QEMU backend (opts as after "qemu:", without mem=) over a RAM
 * descriptor the caller has checked (tgt_vmm.c): mem_fd itself is mapped,
 * never reopened by path; the caller keeps and closes it. */
struct gp_error *tgt_qemu_open_fd(const char *opts, int mem_fd, struct tgt **out);

/* One piece of guest RAM as QEMU lays it out: guest-physical [pa, pa+len)
 * is at offset off of the RAM file. */
struct tgt_ram_seg {
	uint64_t pa, len, off;
};
#define TGT_MAX_RAM_SEGS 16

/* A QEMU reached through a wrapping backend (tgt_libvirt.c). */
struct tgt_qemu_cfg {
	const char *gdb;		/* the gdbstub: SOCKET or HOST:PORT */
	int mem_fd;			/* the RAM file (mapped shared; not kept) */
	const struct tgt_ram_seg *segs;	/* its layout */
	size_t nsegs;
	bool keep_paused;		/* its user paused it: never resume */
	struct gp_error *(*cont)(void *ctx);	/* last resort when 'D' fails */
	void (*closed)(void *ctx);	/* after the gdbstub connection is gone */
	void *ctx;
};
struct gp_error *tgt_qemu_open_cfg(const struct tgt_qemu_cfg *cfg, struct tgt **out);
/* A read-only view of guest RAM alone (no gdbstub, never paused), laid
 * out as segs say; the descriptor is mapped, not kept. */
struct gp_error *tgt_ram_open(int mem_fd, const struct tgt_ram_seg *segs, size_t nsegs,
			      struct tgt **out);
/* libvirt:DOMAIN[,uri=URI] (tgt_libvirt.c). */
struct gp_error *tgt_libvirt_open(const char *opts, struct tgt **out);


#endif
