// SPDX-License-Identifier: GPL-2.0
/*
 * gp_kmod_sleepy - a livepatch module of our own, built like the kernel's
 * samples (scripts/klp-samples.sh): /proc/version made to sleep 30 s
 * (interruptibly) inside the replacement, so a test can catch a task
 * asleep in patch code and unwind it through the module's ORC
 * (tests/integ/test_kmod.c).
 */
#include <linux/delay.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/module.h>
#include <linux/seq_file.h>

static noinline int gp_sleepy_version_show(struct seq_file *m, void *v)
{
	msleep_interruptible(30000);
	seq_puts(m, "gp_kmod_sleepy: woke up\n");
	return 0;
}

static struct klp_func funcs[] = {
	{
		.old_name = "version_proc_show",
		.new_func = gp_sleepy_version_show,
	}, { }
};

static struct klp_object objs[] = {
	{
		/* name being NULL means vmlinux */
		.funcs = funcs,
	}, { }
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
};

static int __init gp_sleepy_init(void)
{
	return klp_enable_patch(&patch);
}

static void __exit gp_sleepy_exit(void)
{
}

module_init(gp_sleepy_init);
module_exit(gp_sleepy_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
