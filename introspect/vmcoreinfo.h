/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vmcoreinfo.h - the kernel's VMCOREINFO text, found in guest RAM.
 *
 * The kernel keeps a page of "KEY=VALUE\n" lines for crash tools
 * (kernel/crash_core.c, crash_save_vmcoreinfo_init()).  The page is
 * allocated with get_zeroed_page() and starts with "OSRELEASE=", so a scan
 * of page starts finds it.  Its contents are guest data: every value is
 * parsed strictly and checked by the caller before it is trusted.
 */
#ifndef GP_VMCOREINFO_H
#define GP_VMCOREINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gp_error.h"
#include "target.h"

#define VMCI_MAX_BYTES 4096	/* VMCOREINFO_BYTES on x86-64 (one page) */

struct vmcoreinfo {
	uint64_t pa;		/* where the text was found */
	char *text;		/* NUL-terminated copy */
	size_t len;
};

/* Parse text (not necessarily NUL-terminated, at most len bytes) into vi.
 * Fails with GP_ERR_CORRUPT if it is not VMCOREINFO-shaped. */
struct gp_error *vmci_parse(const void *text, size_t len, uint64_t pa,
			    struct vmcoreinfo *vi);
void vmci_free(struct vmcoreinfo *vi);

/* Value of KEY ("OSRELEASE", "SYMBOL(init_task)", ...): pointer into the
 * text (not NUL-terminated: up to '\n'), and its length; NULL if absent. */
const char *vmci_get(const struct vmcoreinfo *vi, const char *key, size_t *len);
/* KEY's value as a string copy (caller frees). */
struct gp_error *vmci_get_str(const struct vmcoreinfo *vi, const char *key,
			      char **out);
/* SYMBOL(x) and KERNELOFFSET are hex; NUMBER(x) is signed decimal. */
struct gp_error *vmci_get_hex(const struct vmcoreinfo *vi, const char *key,
			      uint64_t *out);
struct gp_error *vmci_get_num(const struct vmcoreinfo *vi, const char *key,
			      int64_t *out);
struct gp_error *vmci_symbol(const struct vmcoreinfo *vi, const char *name,
			     uint64_t *out);

/*
 * Candidate callback for vmci_scan(): return true to accept (the scan stops),
 * false to go on looking.  A hostile user can plant a page that starts with
 * "OSRELEASE=" in its own memory, so the caller validates each candidate
 * against the kernel's own page tables before trusting it.
 */
typedef bool (*vmci_accept_fn)(const struct vmcoreinfo *vi, void *arg);

/* Scan page starts of guest-physical [0, limit) for VMCOREINFO. */
struct gp_error *vmci_scan(struct tgt *t, uint64_t limit, vmci_accept_fn accept,
			   void *arg, struct vmcoreinfo *out);

#endif
