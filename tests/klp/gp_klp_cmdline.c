// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The yardstick: the same change as guest-agent/examples/cmdline_marker.c,
 * as a livepatch module for the guest kernel's own livepatch (after the
 * kernel's samples/livepatch/livepatch-sample.c). Built against Debian's
 * linux-headers for the guest kernel by scripts/klp-module.sh, loaded in
 * the guest with finit_module by tests/guest/klptime.c.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/module.h>
#include <linux/seq_file.h>

static int livepatch_cmdline_proc_show(struct seq_file *m, void *v)
{
	/* saved_command_line is not exported to modules; a marker will do.
	 * seq_write, not seq_puts: 6.12 has seq_puts as an inline around __seq_puts;
	 * seq_write is the same exported function in 6.1 and 6.12. */
	static const char marker[] = "klp: gp_klp_cmdline applied\n";

	seq_write(m, marker, sizeof(marker) - 1);
	return 0;
}

static struct klp_func funcs[] = {
	{
		.old_name = "cmdline_proc_show",
		.new_func = livepatch_cmdline_proc_show,
	},
	{}
};

static struct klp_object objs[] = {
	{
		/* name being NULL means vmlinux */
		.funcs = funcs,
	},
	{}
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
};

static int gp_klp_init(void)
{
	return klp_enable_patch(&patch);
}

static void gp_klp_exit(void)
{
}

module_init(gp_klp_init);
module_exit(gp_klp_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
