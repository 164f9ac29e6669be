// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A module whose init does one real WARN(): the kernel prints its
 * "WARNING: CPU: N PID: N at ..." record with a call trace and taints
 * itself (TAINT_WARN), as any kernel warning does.  Harmless otherwise;
 * `vmm health --since` must see it (tests/integ/test_klog.c).
 */
#include <linux/bug.h>
#include <linux/module.h>

static int __init gp_test_warn_init(void)
{
	WARN(1, "gp_test_warn: a warning on purpose\n");
	return 0;
}

static void __exit gp_test_warn_exit(void)
{
}

module_init(gp_test_warn_init);
module_exit(gp_test_warn_exit);
MODULE_LICENSE("GPL");
