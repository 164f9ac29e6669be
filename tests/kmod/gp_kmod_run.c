// SPDX-License-Identifier: GPL-2.0
/*
 * gp_kmod_run - a plain module of our own, built like the kernel's
 * samples (scripts/klp-samples.sh), for `vmm call TARGET FILE.ko`
 * (tests/integ/test_kmod_run.c): its init is __init code reading
 * __initdata and THIS_MODULE->name, prints one line and returns its
 * parameter `ret` (a failing insmod when non-zero); its exit (__exit)
 * prints one line.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

static int ret;
module_param(ret, int, 0444);
MODULE_PARM_DESC(ret, "what the init function returns");

static char where[] __initdata = "init in .init.text";

static int __init gp_kmod_run_init(void)
{
	pr_info("%s, module %s, returning %d\n", where, THIS_MODULE->name, ret);
	return ret;
}

static void __exit gp_kmod_run_exit(void)
{
	pr_info("exit in .exit.text\n");
}

module_init(gp_kmod_run_init);
module_exit(gp_kmod_run_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("guestpatch test: a plain module run once by vmm call");
