// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * lvlib.c - libvirt loaded on demand (see lvlib.h).
 */
#include <dlfcn.h>
#include <stdbool.h>
#include <stddef.h>

#include "lvlib.h"

struct lvlib lvlib;

static bool loaded;

static struct gp_error *open_lib(const char *soname, void **h)
{
	/* RTLD_NOW: a libvirt too old for one of our symbols fails here. */
	*h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	if (!*h)
		return gp_error_create(GP_ERR_UNSUPPORTED,
				       "libvirt is not installed (%s): apt-get install libvirt0",
				       dlerror());
	return NULL;
}

static struct gp_error *sym(void *h, const char *soname, const char *name, void **out)
{
	dlerror();
	*out = dlsym(h, name);
	if (!*out)
		return gp_error_create(GP_ERR_UNSUPPORTED,
				       "%s has no symbol %s: this libvirt is too old or broken for guestpatch",
				       soname, name);
	return NULL;
}

struct gp_error *lvlib_load(void)
{
	struct lvlib l;
	struct gp_error *err;
	void *core, *qemu, *p;

	if (loaded)
		return NULL;
	if ((err = open_lib(LVLIB_SONAME, &core)))
		return err;
	if ((err = open_lib(LVLIB_QEMU_SONAME, &qemu))) {
		dlclose(core);
		return err;
	}
#define LVLIB_CORE(name)                                                    \
	if ((err = sym(core, LVLIB_SONAME, #name, &p)))                     \
		goto fail;                                                  \
	l.name = (typeof(l.name))p;
#define LVLIB_QEMU(name)                                                    \
	if ((err = sym(qemu, LVLIB_QEMU_SONAME, #name, &p)))                \
		goto fail;                                                  \
	l.name = (typeof(l.name))p;
	LVLIB_FUNCS(LVLIB_CORE, LVLIB_QEMU)
#undef LVLIB_CORE
#undef LVLIB_QEMU
	lvlib = l;
	loaded = true;
	return NULL;
fail:
	dlclose(qemu);
	dlclose(core);
	return err;
}
