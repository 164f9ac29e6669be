// SPDX-License-Identifier: GPL-2.0-or-later
/* Runner shared by check_unit and check_integ: collects registered TCases
 * into one suite. GP_TCASES=name1,name2 runs only those. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gp_check.h"

#define MAX_TCASES 128

static struct {
	const char *name;
	gp_tcase_factory f;
} tcases[MAX_TCASES];
static int nr_tcases;

void gp_register_tcase(const char *name, gp_tcase_factory f)
{
	if (nr_tcases < MAX_TCASES) {
		tcases[nr_tcases].name = name;
		tcases[nr_tcases].f = f;
		nr_tcases++;
	}
}

static int selected(const char *name)
{
	const char *sel = getenv("GP_TCASES");
	size_t n = strlen(name);
	const char *p;

	if (!sel || !*sel)
		return 1;
	for (p = sel; (p = strstr(p, name)); p += n)
		if ((p == sel || p[-1] == ',') && (p[n] == ',' || !p[n]))
			return 1;
	return 0;
}

int gp_check_main(const char *suite_name);
int gp_check_main(const char *suite_name)
{
	Suite *s = suite_create(suite_name);
	SRunner *sr;
	int failed, i;

	for (i = 0; i < nr_tcases; i++)
		if (selected(tcases[i].name))
			suite_add_tcase(s, tcases[i].f());
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);	/* CK_VERBOSITY=verbose lists each test */
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
