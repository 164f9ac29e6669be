/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xmllib.h - libxml2 (libxml2.so.2), loaded only when policy XML is parsed.
 *
 * vmm is not linked with libxml2 (its start-up cost; see target/lvlib.h).
 * xmllib_load() dlopens it the first time gp_policy_parse/gp_state_parse
 * run and fills `xmllib` with pointers typed by libxml2's own prototypes.
 * xmlFree is a variable of libxml2 (a data symbol), so its member is a
 * pointer to that variable: call it as (*xmllib.xmlFree)(p).
 */
#ifndef GP_XMLLIB_H
#define GP_XMLLIB_H

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "gp_error.h"

#ifdef LIBXML_THREAD_ALLOC_ENABLED
#error "xmllib: this libxml2 makes xmlFree a per-thread macro; look it up as __xmlFree"
#endif

#define XMLLIB_SONAME "libxml2.so.2"

/* F(name): a function; D(name): a data symbol (a variable). */
#define XMLLIB_SYMS(F, D)            \
	F(xmlReadMemory)             \
	F(xmlDocGetRootElement)      \
	F(xmlFreeDoc)                \
	F(xmlGetProp)                \
	D(xmlFree)

struct xmllib {
#define XMLLIB_FUNC(name) typeof(&name) name;
#define XMLLIB_DATA(name) typeof(name) *name;
	XMLLIB_SYMS(XMLLIB_FUNC, XMLLIB_DATA)
#undef XMLLIB_FUNC
#undef XMLLIB_DATA
};

/* Filled by xmllib_load(); use only after it returned NULL. */
extern struct xmllib xmllib;

/* Loads libxml2 once; an error names the library or the missing symbol. */
struct gp_error *xmllib_load(void);

#endif
