/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * trampoline.S - the redirection code guestpatch writes into the guest
 * kernel: the jump at a replaced function's ftrace NOP, the per-function
 * trampoline slot, and the bytes it compares sites against and fills with.
 *
 * Each piece is one section (GP_PIECE); patch/lp_agent.c links the pieces
 * it needs at their guest address with the project's own loader
 * (patch/lp_elf.c).  Guest kernel symbols are spelled by their real names;
 * gp_* symbols are left undefined here and supplied by the host builder
 * for each placement.  Built with the guest kernel's code-generation
 * flags (guest-agent/agent.mk).
 */
#include "agent.h"

/*
 * jmp: a plain `jmp rel32` to gp_target.
 *
 * Written over a replaced function's 5-byte ftrace NOP (target: its
 * trampoline slot), as the whole of a slot outside a per-task transition
 * (target: the newest replacement), and over the straggler hook's NOP
 * (target: the agent).  Exactly 5 bytes, the size of the NOP it
 * replaces, so a CPU sees either the NOP or the whole jump (the host
 * writes it while every vCPU is paused).
 */
GP_PIECE(jmp)
	jmp	gp_target

/*
 * dispatch: a trampoline slot during a per-task transition, i.e.
 * klp_ftrace_handler() without ftrace (docs/per-task.md, "Dispatch").
 *
 * Runs at the entry of the replaced function, reached by the jump at its
 * ftrace NOP: any context the function itself may be called in.  It
 * clobbers only %r11 and the flags, which are dead at a C function's
 * entry (call-clobbered, and no argument is passed in them), so the
 * arguments in %rdi..%r9 and the stack reach prev or top untouched.
 *
 *	current_task			per-cpu variable (kallsyms), via %gs
 *	gp_off_task_patch_state		offsetof(task_struct, patch_state) (BTF)
 *	gp_prev				the replacement below, or the original + 5
 *	gp_top				the patch in transition
 *
 * No barrier between the two loads: x86 keeps loads in order, and both
 * values were written in the same pause.  The host pads the slot with
 * the int3 piece.
 */
GP_PIECE(dispatch)
	movq	%gs:current_task, %r11
	cmpl	$KLP_UNPATCHED, gp_off_task_patch_state(%r11)
	je	gp_prev
	jmp	gp_top

/*
 * ftrace_nop: the 5-byte NOP the kernel leaves at every traceable
 * function's entry (ftrace, -mfentry with nops).  Never executed from
 * here: the host compares a site against it before taking it over and
 * writes it back when giving the site up.  {disp8} because gas would
 * otherwise drop the zero displacement and emit the 4-byte form.
 */
GP_PIECE(ftrace_nop)
	{disp8} nopl 0x0(%rax,%rax,1)

/*
 * int3: fill for slot tails, free slots and free code pages, so that a
 * stray jump into them traps instead of running whatever lies there.
 */
GP_PIECE(int3)
	int3

/*
 * endbr and endbr_sealed: what an IBT kernel (CONFIG_X86_KERNEL_IBT, 6.2+
 * on Debian) puts before a function's ftrace NOP, which then sits at +4:
 * endbr64, or the 4-byte NOP the kernel overwrites unused ones with at
 * boot (arch/x86/kernel/alternative.c, gen_endbr_poison(): an operand-size
 * prefixed NOP3, unique to former endbr64 sites).  Never executed from
 * here: the host compares a function's first bytes against them to find
 * the ftrace site.
 */
GP_PIECE(endbr)
	endbr64

GP_PIECE(endbr_sealed)
	nopw	(%rax)

/*
 * ret_site: what a return becomes in patch code where the guest kernel
 * returns with a plain `ret` (no X86_FEATURE_RETHUNK): the kernel's own
 * patch_return() writes `ret` and int3 over each 5-byte `jmp
 * __x86_return_thunk`, and the host does the same to a patch's returns.
 */
GP_PIECE(ret_site)
	ret
	int3
	int3
	int3
	int3
