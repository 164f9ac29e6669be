/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * agent.h - constants of the guest kernel that the code in guest-agent/src
 * bakes in as immediates (the assembler sees only this header).
 *
 * These are kernel ABI values, stable across the kernels guestpatch
 * supports; anything that varies between builds (structure offsets,
 * addresses) is an undefined symbol the host resolves instead (see
 * patch/lp_agent.c).
 */
#ifndef GP_AGENT_H
#define GP_AGENT_H

/* task_struct.patch_state (include/linux/livepatch.h); the host's copy is
 * KLP_UNPATCHED in patch/lp_region.h. */
#define KLP_UNPATCHED		0

/* wake_up_state()'s state mask (include/linux/sched.h), as
 * klp_send_signals() uses it for kthreads and signalled user tasks. */
#define TASK_INTERRUPTIBLE	0x0001

/* Every piece is its own section, placed back to back by the host: no
 * alignment, so the pieces concatenate exactly. */
#define GP_PIECE(name)	.section .text.gp_##name, "ax", @progbits

#endif
