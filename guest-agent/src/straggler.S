/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * straggler.S - the straggler agent: what klp_send_signals() does for the
 * tasks a per-task transition is waiting for, run inside the guest
 * (docs/per-task.md, step 7).
 *
 * The host unrolls it for the tasks it picked while the guest was paused:
 *
 *	agent_head
 *	agent_user or agent_kthread	once per task, gp_task = that task,
 *	agent_put or agent_put_rcu	  each followed by one of these
 *	agent_done
 *	agent_out
 *
 * and hooks it at hrtimer_interrupt's ftrace NOP (the jmp piece of
 * trampoline.S, written in a pause; patch/lp_region.h's LP_AGENT_HOOK must
 * name the same function as agent_out's jump back).
 *
 * Context: hard IRQ, interrupts off, on whichever CPU takes the next local
 * timer interrupt.  Waking a task takes p->pi_lock and the runqueue lock,
 * both always taken with interrupts disabled, so the interrupted code on
 * this CPU cannot hold them; the kernel's own hrtimer_wakeup() wakes tasks
 * from this very context.  The tasks were pinned by the host (it raised
 * task_struct.usage while paused), so each task_struct stays valid until
 * the agent drops that reference.
 *
 * Registers: we are at hrtimer_interrupt's entry with its argument in %rdi;
 * we save %rdi and the callee-saved %rbx and use only call-clobbered
 * registers otherwise, so the code past its ftrace NOP (gp_resume: +5, or
 * +9 after an IBT endbr64) runs as if called directly.
 * Data page symbols gp_armed and gp_done are bytes the host set (armed = 1)
 * and reads back (done) in a later pause.
 */
#include "agent.h"

/*
 * agent_head: run once.  xchg is locked (a full barrier), so when several
 * CPUs take the interrupt together exactly one sees armed = 1; the others
 * go straight to agent_out.
 */
GP_PIECE(agent_head)
	push	%rdi
	xor	%eax, %eax
	xchg	%al, gp_armed(%rip)
	test	%al, %al
	jz	gp_agent_out
	push	%rbx

/*
 * agent_user: a user task that has not switched.  The host already set
 * TIF_NOTIFY_SIGNAL on it (the fake signal); wake it if it sleeps
 * interruptibly, else kick it out of user mode so it passes through
 * exit_to_user_mode and switches.  Leaves the task in %rbx for the put
 * piece that follows.
 */
GP_PIECE(agent_user)
	movabs	$gp_task, %rbx
	mov	%rbx, %rdi
	mov	$TASK_INTERRUPTIBLE, %esi
	call	wake_up_state
	test	%eax, %eax
	jnz	.Luser_woken
	mov	%rbx, %rdi
	call	kick_process
.Luser_woken:

/*
 * agent_kthread: a kthread that has not switched: only the wake-up (a
 * kthread gets no signal).  The task stays in %rbx, as after agent_user.
 */
GP_PIECE(agent_kthread)
	movabs	$gp_task, %rbx
	mov	%rbx, %rdi
	mov	$TASK_INTERRUPTIBLE, %esi
	call	wake_up_state

/*
 * agent_put: drop the host's reference on the task in %rbx, as
 * put_task_struct() does without PREEMPT_RT (include/linux/sched/task.h):
 * refcount_dec_and_test(&t->usage), then __put_task_struct(t) on the last
 * one.
 */
GP_PIECE(agent_put)
	lock decl gp_off_task_usage(%rbx)
	jnz	.Lput_end
	mov	%rbx, %rdi
	call	__put_task_struct
.Lput_end:

/*
 * agent_put_rcu: the same for PREEMPT_RT kernels, where __put_task_struct()
 * takes sleeping locks and must not run in hard-IRQ context: the last
 * reference is handed to RCU the way put_task_struct() does it there when
 * not preemptible, call_rcu(&t->rcu, __put_task_struct_rcu_cb) (6.1 and
 * 6.12's include/linux/sched/task.h; the callback is in kernel/fork.c).
 * gp_off_task_rcu is offsetof(task_struct, rcu).
 */
GP_PIECE(agent_put_rcu)
	lock decl gp_off_task_usage(%rbx)
	jnz	.Lput_rcu_end
	lea	gp_off_task_rcu(%rbx), %rdi
	lea	__put_task_struct_rcu_cb(%rip), %rsi
	call	call_rcu
.Lput_rcu_end:

/*
 * agent_done: tell the host the agent ran (it removes the hook in a later
 * pause once it sees this and no stack inside the agent).
 */
GP_PIECE(agent_done)
	movb	$1, gp_done(%rip)
	pop	%rbx

/*
 * agent_out: back to the hooked function past its NOP, as if the NOP had
 * run.  Global so that agent_head's jz can name it across pieces.
 */
GP_PIECE(agent_out)
	.globl	gp_agent_out
gp_agent_out:
	pop	%rdi
	jmp	gp_resume
