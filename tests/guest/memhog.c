// SPDX-License-Identifier: GPL-2.0-or-later
/* memhog PERCENT: allocate and touch PERCENT of MemAvailable, then free it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	long pct = argc > 1 ? atol(argv[1]) : 80, avail_kb = 0, total = 0;
	char line[256];
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %ld kB", &avail_kb) == 1)
			break;
	if (f)
		fclose(f);
	for (long want = avail_kb / 100 * pct * 1024; total < want; total += 1 << 20) {
		char *p = malloc(1 << 20);

		if (!p)
			break;
		memset(p, 0x5a, 1 << 20);	/* touched, and never freed until exit */
	}
	printf("memhog: touched %ld MiB of %ld MiB available\n", total >> 20, avail_kb >> 10);
	return 0;
}
