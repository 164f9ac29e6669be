/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * policy.h - desired state for one guest: which patches it wants (its
 * policy), what is applied (its state), and the plan between the two.
 *
 * The policy is an XML element the user keeps in the domain's <metadata>
 * (namespace GP_POLICY_NS; see configs/libvirt/README.md):
 *
 *   <policy>
 *     <patch file="/var/lib/guestpatch/patches/fix-6.1.0-28.o"/>
 *     <patch file="/var/lib/guestpatch/patches/fix-6.12.9.o" model="global" timeout="30"/>
 *   </policy>
 *
 * Each patch object names the kernel build id it was built for (vmm build
 * writes it), so one policy lists patches for every kernel the guest may
 * boot and only those built for the running kernel apply.  The policy is
 * the whole wanted set: a patch applied to the guest that no matching
 * entry names is removed.
 *
 * The state is written by `vmm reconcile` (namespace GP_STATE_NS), where
 * `virsh dumpxml` shows it:
 *
 *   <state kernel="BUILD-ID" release="6.1.0-28-amd64" result="applied" updated="2026-...">
 *     <applied name="fix" file="/var/lib/..." />
 *   </state>
 */
#ifndef GP_POLICY_H
#define GP_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "gp_error.h"

#define GP_POLICY_NS "urn:guestpatch:policy:1"
#define GP_STATE_NS "urn:guestpatch:state:1"
#define GP_POLICY_MAX 64
#define GP_FILE_MAX 512
#define GP_PNAME_MAX 64

struct gp_policy_entry {
	char file[GP_FILE_MAX];
	int model;		/* 0 the default, 1 global, 2 per-task */
	double timeout_s;	/* 0: the default */
};

struct gp_policy {
	struct gp_policy_entry e[GP_POLICY_MAX];
	size_t n;
};

/* Parse a policy element; bad input is refused by name. */
struct gp_error *gp_policy_parse(const char *xml, struct gp_policy *p);

/* One policy entry as its object describes itself. */
struct gp_wanted {
	char name[GP_PNAME_MAX];
	char build_id[48];
	const struct gp_policy_entry *entry;
};

struct gp_applied {
	char name[GP_PNAME_MAX];
	unsigned long long seq;	/* order applied */
};

/*
 * The plan for a kernel with build id kernel: of the described entries,
 * those built for it are wanted (two with one name: refused); apply the
 * wanted ones not applied (policy order), remove the applied ones not
 * wanted (newest first).  Indices into want / have.
 */
struct gp_plan {
	int apply[GP_POLICY_MAX];
	size_t napply;
	int remove[GP_POLICY_MAX];
	size_t nremove;
	int keep[GP_POLICY_MAX];	/* wanted and applied */
	size_t nkeep;
	size_t other_kernels;		/* entries built for another kernel */
};
struct gp_error *gp_plan_make(const char *kernel, const struct gp_wanted *want, size_t nwant,
			      const struct gp_applied *have, size_t nhave, struct gp_plan *plan);

struct gp_state {
	char kernel[48];
	char release[65];
	char result[32];
	char applied[GP_POLICY_MAX][GP_PNAME_MAX];
	char files[GP_POLICY_MAX][GP_FILE_MAX];
	size_t napplied;
};

/* The state as XML (malloc'd), with the time it was written. */
char *gp_state_xml(const struct gp_state *s);
/* Parse it back (for comparing: a reconcile that changes nothing writes
 * nothing). */
struct gp_error *gp_state_parse(const char *xml, struct gp_state *s);
bool gp_state_equal(const struct gp_state *a, const struct gp_state *b);

#endif
