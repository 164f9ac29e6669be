/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * patch_util.h - what the patch and transition tests share: hashing the
 * guest's kernel text and guestpatch region with the guest paused, running
 * vmm against the rig, running guest commands, building patches.
 */
#ifndef GP_PATCH_UTIL_H
#define GP_PATCH_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rig/rig.h"

struct hashes {
	uint64_t text, region;
};

/* Unchecked fixture for a TCase: boot a 2-vCPU rig of the kernel flavor
 * given (NULL: amd64; with build/guest/initramfs-FLAVOR.cpio.gz, its test
 * modules, if there is one) and make a scratch directory from `tmpl`
 * (mkdtemp form) into dir; both end in pu_down. */
void pu_up(struct rig **r, char *dir, size_t len, const char *tmpl, const char *flavor);
void pu_down(struct rig *r, const char *dir);

/* FNV-1a of _text.._etext and of the region, read in one pause. */
struct hashes pu_hash_guest(struct rig *r);
/* Run a guest command that must succeed; its output (malloc'd). */
char *pu_guest(struct rig *r, const char *cmd);
/* A file of the livepatch samples built for flavor (NULL: 6.1) by make
 * klp-samples (build/klp-samples*); asserted present.  Four live at once. */
const char *pu_klp_sample(const char *flavor, const char *file);
/* The guest's log has no WARNING, Oops or BUG. */
void pu_no_oops(struct rig *r);
/* A hash of the region's code and data pages (not its header, whose
 * generation counts, nor its journal, which records each pause). */
uint64_t pu_region_pages_hash(struct rig *r);
bool pu_guest_has(struct rig *r, const char *cmd, const char *needle);
/* `vmm SUB TARGET REST`; stdout and stderr to out and err when not NULL. */
int pu_vmm(struct rig *r, const char *sub, const char *rest, char **out, char **err);
/* Readers of /proc/cmdline looping into /tmp/r1../tmp/rN, detached from
 * the guest's interactive shell (no job of its own can end while it reads
 * a command line), and their end. */
void pu_readers_start(struct rig *r, int n);
void pu_readers_stop(struct rig *r);

/* The "kmsg-eof" patch: devkmsg_read (kernel/printk/printk.c) made to
 * return end-of-file, so a task reading /dev/kmsg past its end sleeps
 * inside the original (the blocked-task and straggler tests). */
extern const char pu_kmsg_eof_src[];

/* Build guest-agent/examples/NAME.c (src NULL) or the source given into
 * DIR/NAME.o for the rig's kernel; returns a static path (copy it). */
const char *pu_build(struct rig *r, const char *dir, const char *name, const char *src,
		     const char *extra);

#endif
