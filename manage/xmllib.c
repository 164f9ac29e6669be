// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * xmllib.c - libxml2 loaded on demand (see xmllib.h).
 */
#include <dlfcn.h>
#include <stdbool.h>
#include <stddef.h>

#include "xmllib.h"

struct xmllib xmllib;

static bool loaded;

struct gp_error *xmllib_load(void)
{
	struct xmllib x;
	void *h, *p;

	if (loaded)
		return NULL;
	h = dlopen(XMLLIB_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return gp_error_create(GP_ERR_UNSUPPORTED,
				       "libxml2 is not installed (%s): apt-get install libxml2",
				       dlerror());
#define XMLLIB_LOOKUP(name)                                                              \
	dlerror();                                                                       \
	if (!(p = dlsym(h, #name))) {                                                    \
		dlclose(h);                                                              \
		return gp_error_create(GP_ERR_UNSUPPORTED,                               \
				       "%s has no symbol %s: this libxml2 is too old or broken", \
				       XMLLIB_SONAME, #name);                            \
	}                                                                                \
	x.name = (typeof(x.name))p;
	XMLLIB_SYMS(XMLLIB_LOOKUP, XMLLIB_LOOKUP)
#undef XMLLIB_LOOKUP
	xmllib = x;
	loaded = true;
	return NULL;
}
