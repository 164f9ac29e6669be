/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * call.S - run one function of the guest kernel, fn(arg), in process
 * context, for the host (patch/lp_call.c): the mechanism livepatch
 * callbacks need (pre_patch, post_patch, ..., run by the kernel's
 * livepatch core in process context) and that module exit functions need.
 *
 * Two pieces, each placed alone in one code page of the region:
 *
 *	call_hook	at the page's start; hooked at LP_AGENT_HOOK's ftrace NOP
 *			(hrtimer_interrupt, as the straggler agent is) by the jmp
 *			piece of trampoline.S, written in a pause
 *	call_work	at LP_CALL_WORK_OFF: the work function of the work item
 *
 * call_hook, hard-IRQ context, interrupts off, one-shot (xchg on gp_armed,
 * so exactly one CPU takes it): queue_work_on(WORK_CPU_UNBOUND, system_wq,
 * gp_work), as queue_work() does.  queue_work_on() saves and disables
 * interrupts itself and takes only the pool's raw spinlock, always taken
 * with interrupts off, so the interrupted code on this CPU cannot hold it;
 * the kernel queues work from hard-IRQ context all the time.  The work
 * item in the data page was initialised by the host as INIT_WORK() does
 * (data = WORK_STRUCT_NO_POOL, entry an empty list, func = call_work).
 *
 * call_work, process context (a kworker, system_wq): fn(arg), then the
 * return value and the done flag for the host.  The host frees nothing
 * until done is set and no stack holds an address in the code page.  It
 * is reached by an indirect call from process_one_work(), so it starts
 * with endbr64 (IBT kernels; a NOP elsewhere), and it keeps a frame
 * pointer so that the guest's own unwinder (its frame-pointer fallback
 * for code ORC does not cover) can walk through it (dump_stack() in fn).
 *
 * Host-supplied symbols:
 *	gp_armed, gp_queued, gp_qret, gp_started, gp_done, gp_ret
 *				the data page's flags and result (lp_call.h)
 *	gp_work			the work item in the data page
 *	gp_cpu_unbound		WORK_CPU_UNBOUND (the guest's BTF)
 *	gp_resume		LP_AGENT_HOOK past its ftrace NOP
 *	gp_fn, gp_arg		what to call
 *	__x86_return_thunk	how the guest's own functions return (the
 *				host resolves it as it does for patches)
 */
#include "agent.h"

GP_PIECE(call_hook)
	push	%rdi
	xor	%eax, %eax
	xchg	%al, gp_armed(%rip)
	test	%al, %al
	jz	.Lhook_out
	movabs	$gp_cpu_unbound, %rdi
	mov	system_wq(%rip), %rsi
	movabs	$gp_work, %rdx
	call	queue_work_on
	mov	%al, gp_qret(%rip)
	movb	$1, gp_queued(%rip)
.Lhook_out:
	pop	%rdi
	jmp	gp_resume

GP_PIECE(call_work)
	endbr64
	push	%rbp
	mov	%rsp, %rbp
	movb	$1, gp_started(%rip)
	movabs	$gp_arg, %rdi
	call	gp_fn
	mov	%rax, gp_ret(%rip)
	movb	$1, gp_done(%rip)
	pop	%rbp
	jmp	__x86_return_thunk
