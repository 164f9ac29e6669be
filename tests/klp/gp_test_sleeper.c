// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A module whose kthread ("gp_sleeper") sleeps in module code: the test
 * that stacks through module functions unwind reliably from outside (with
 * the module's own ORC tables) and name them as the guest does, and the
 * kthread the livepatch straggler step wakes out of a patched function.
 */
#include <linux/err.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/delay.h>
#include <linux/sched.h>

static struct task_struct *sleeper;
static unsigned long rounds;

static noinline void gp_sleep_helper(void)
{
	schedule_timeout_interruptible(MAX_SCHEDULE_TIMEOUT);
	WRITE_ONCE(rounds, rounds + 1);	/* not a tail call: stays on the stack */
}

/* Sleep in the helper until woken, then elsewhere for a while: woken by
 * a livepatch straggler step, this kthread leaves the helper and can be
 * switched while it sleeps in msleep(). */
static int gp_sleeper_fn(void *unused)
{
	while (!kthread_should_stop()) {
		gp_sleep_helper();
		msleep(500);
	}
	return 0;
}

static int __init gp_sleeper_init(void)
{
	sleeper = kthread_run(gp_sleeper_fn, NULL, "gp_sleeper");
	return PTR_ERR_OR_ZERO(sleeper);
}

static void __exit gp_sleeper_exit(void)
{
	kthread_stop(sleeper);
}

module_init(gp_sleeper_init);
module_exit(gp_sleeper_exit);
MODULE_LICENSE("GPL");
