// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Example patch on another function: /proc/version gains a tag.
 * The original (fs/proc/version.c, 6.1) is:
 *
 *	static int version_proc_show(struct seq_file *m, void *v)
 *	{
 *		seq_printf(m, linux_proc_banner,
 *			utsname()->sysname, utsname()->release, utsname()->version);
 *		return 0;
 *	}
 *
 * utsname() reads current->nsproxy->uts_ns; this example keeps to the
 * boot namespace (init_uts_ns) to need no struct layouts.
 */
#include <guestpatch.h>

GP_PATCH("version-tag");

struct seq_file;
extern void seq_printf(struct seq_file *m, const char *fmt, ...);
extern const char linux_proc_banner[];
/* struct uts_namespace starts with struct new_utsname name (65-byte fields). */
extern char init_uts_ns[];

static int new_version_proc_show(struct seq_file *m, void *v)
{
	seq_printf(m, "[guestpatch version-tag] ");
	seq_printf(m, linux_proc_banner, init_uts_ns, init_uts_ns + 130,
		   init_uts_ns + 195);
	return 0;
}
GP_REPLACE(version_proc_show, new_version_proc_show);
