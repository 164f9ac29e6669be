// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Example patch: /proc/cmdline prints a marker line before the command line.
 * The original (fs/proc/cmdline.c, 6.1) is:
 *
 *	static int cmdline_proc_show(struct seq_file *m, void *v)
 *	{
 *		seq_puts(m, saved_command_line);
 *		seq_putc(m, '\n');
 *		return 0;
 *	}
 */
#include <guestpatch.h>

GP_PATCH("cmdline-marker");

struct seq_file;
extern int seq_puts(struct seq_file *m, const char *s);
extern void seq_putc(struct seq_file *m, char c);
extern char *saved_command_line;

static int new_cmdline_proc_show(struct seq_file *m, void *v)
{
	seq_puts(m, "guestpatch: cmdline-marker applied\n");
	seq_puts(m, saved_command_line);
	seq_putc(m, '\n');
	return 0;
}
GP_REPLACE(cmdline_proc_show, new_cmdline_proc_show);
