/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lvlib.h - libvirt (libvirt.so.0, libvirt-qemu.so.0), loaded only when a
 * command needs it.
 *
 * vmm is not linked with libvirt: Debian links libvirt and its ~50
 * libraries with BIND_NOW, which cost every `vmm` process ~20 ms at start
 * even when it never talks to libvirt.  lvlib_load() dlopens libvirt the
 * first time a `libvirt:` target, `vmm reconcile` or `vmm watch` needs it
 * and fills `lvlib` with its functions.  Each pointer has the type of the
 * prototype in libvirt's own headers (typeof), so calls stay type-checked.
 */
#ifndef GP_LVLIB_H
#define GP_LVLIB_H

#include <libvirt/libvirt-qemu.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "gp_error.h"

#define LVLIB_SONAME "libvirt.so.0"
#define LVLIB_QEMU_SONAME "libvirt-qemu.so.0"

/* X(name): a function of libvirt.so.0; Q(name): of libvirt-qemu.so.0. */
#define LVLIB_FUNCS(X, Q)                          \
	X(virConnectClose)                         \
	X(virConnectDomainEventDeregisterAny)      \
	X(virConnectDomainEventRegisterAny)        \
	X(virConnectOpen)                          \
	X(virConnectRegisterCloseCallback)         \
	X(virConnectUnregisterCloseCallback)       \
	X(virDomainFree)                           \
	X(virDomainGetJobStats)                    \
	X(virDomainGetMetadata)                    \
	X(virDomainGetName)                        \
	X(virDomainGetState)                       \
	X(virDomainGetUUID)                        \
	X(virDomainGetUUIDString)                  \
	X(virDomainLookupByName)                   \
	X(virDomainLookupByUUIDString)             \
	X(virDomainSetMetadata)                    \
	X(virEventAddTimeout)                      \
	X(virEventRegisterDefaultImpl)             \
	X(virEventRunDefaultImpl)                  \
	X(virGetLastError)                         \
	X(virGetLastErrorMessage)                  \
	X(virSetErrorFunc)                         \
	X(virTypedParamsFree)                      \
	X(virTypedParamsGetInt)                    \
	Q(virDomainQemuMonitorCommand)

struct lvlib {
#define LVLIB_MEMBER(name) typeof(&name) name;
	LVLIB_FUNCS(LVLIB_MEMBER, LVLIB_MEMBER)
#undef LVLIB_MEMBER
};

/* Filled by lvlib_load(); use only after it returned NULL. */
extern struct lvlib lvlib;

/*
 * Loads libvirt once (later calls return at once).  An error names the
 * library, or the library and the symbol it lacks, and how to install it.
 */
struct gp_error *lvlib_load(void);

#endif
