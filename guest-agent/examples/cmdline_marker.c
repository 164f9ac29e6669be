// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Example patch: /proc/cmdline prints a marker line before the command line.
 * The original (fs/proc/cmdline.c, 6.1 and 6.12) is:
 *
 *	static int cmdline_proc_show(struct seq_file *m, void *v)
 *	{
 *		seq_puts(m, saved_command_line);
 *		seq_putc(m, '\n');
 *		return 0;
 *	}
 *
 * seq_puts is an inline around __seq_puts since 6.3 (no symbol there), so
 * the replacement calls what both series export: seq_printf and seq_putc.
 */
#include <guestpatch.h>

GP_PATCH("cmdline-marker");

struct seq_file;
extern void seq_printf(struct seq_file *m, const char *fmt, ...);
extern void seq_putc(struct seq_file *m, char c);
extern char *saved_command_line;

static int new_cmdline_proc_show(struct seq_file *m, void *v)
{
	seq_printf(m, "guestpatch: cmdline-marker applied\n%s", saved_command_line);
	seq_putc(m, '\n');
	return 0;
}
GP_REPLACE(cmdline_proc_show, new_cmdline_proc_show);
