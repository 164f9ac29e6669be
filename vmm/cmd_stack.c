// SPDX-License-Identifier: GPL-2.0-or-later
/* vmm stack: kernel stacks of guest tasks (issue 3). */
#include <stdio.h>

#include "cli.h"

int cmd_stack(struct cli *c, int argc, char **argv)
{
	(void)c;
	(void)argc;
	(void)argv;
	fprintf(stderr, "vmm: stack: not implemented yet\n");
	return 1;
}
