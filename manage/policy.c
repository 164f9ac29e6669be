// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * policy.c - a guest's wanted patches, its recorded state, and the plan
 * between them (see policy.h).  Pure: no guest, no libvirt; the XML comes
 * from the domain's metadata, which its owner (or anyone allowed to edit
 * the domain) writes, so it is checked like any other input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy.h"
#include "xmllib.h"

#define XML_MAX (1u << 20)

static struct gp_error *read_doc(const char *xml, const char *root_name, xmlDocPtr *doc,
				 xmlNodePtr *root)
{
	size_t len = strlen(xml);
	struct gp_error *err;

	*doc = NULL;
	if ((err = xmllib_load()))
		return err;
	if (len > XML_MAX)
		return gp_error_create(GP_ERR_LIMIT, "guestpatch %s: more than %u bytes of XML",
				       root_name, XML_MAX);
	*doc = xmllib.xmlReadMemory(xml, (int)len, root_name, NULL,
			     XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_NOERROR |
				     XML_PARSE_NOWARNING);
	if (!*doc)
		return gp_error_create(GP_ERR_INVAL, "guestpatch %s: not well-formed XML", root_name);
	*root = xmllib.xmlDocGetRootElement(*doc);
	if (!*root || strcmp((const char *)(*root)->name, root_name)) {
		xmllib.xmlFreeDoc(*doc);
		*doc = NULL;
		return gp_error_create(GP_ERR_INVAL, "guestpatch metadata: expected a <%s> element",
				       root_name);
	}
	return NULL;
}

/* An attribute copied into buf; false if absent or too long. */
static bool attr(xmlNodePtr n, const char *name, char *buf, size_t len, bool *too_long)
{
	xmlChar *v = xmllib.xmlGetProp(n, (const xmlChar *)name);
	bool ok = v != NULL;

	if (v && strlen((const char *)v) >= len) {
		*too_long = true;
		ok = false;
	}
	if (ok)
		snprintf(buf, len, "%s", (const char *)v);
	(*xmllib.xmlFree)(v);
	return ok;
}

struct gp_error *gp_policy_parse(const char *xml, struct gp_policy *p)
{
	struct gp_error *err = NULL;
	xmlDocPtr doc;
	xmlNodePtr root;
	size_t i = 0;

	memset(p, 0, sizeof(*p));
	if ((err = read_doc(xml, "policy", &doc, &root)))
		return err;
	for (xmlNodePtr n = root->children; n && !err; n = n->next) {
		struct gp_policy_entry *e;
		char model[16] = "", tmo[32] = "";
		bool long_ = false;

		if (n->type != XML_ELEMENT_NODE)
			continue;
		i++;
		if (strcmp((const char *)n->name, "patch")) {
			err = gp_error_create(GP_ERR_INVAL, "guestpatch policy: element %zu is <%.40s>, expected <patch file=\"...\"/>",
					      i, (const char *)n->name);
			break;
		}
		if (p->n >= GP_POLICY_MAX) {
			err = gp_error_create(GP_ERR_LIMIT, "guestpatch policy: more than %d patches",
					      GP_POLICY_MAX);
			break;
		}
		e = &p->e[p->n];
		if (!attr(n, "file", e->file, sizeof(e->file), &long_) || e->file[0] != '/') {
			err = gp_error_create(GP_ERR_INVAL, "guestpatch policy: patch %zu: %s", i,
					      long_ ? "file= is too long" :
						      "needs file=\"/absolute/path/to/patch.o\"");
			break;
		}
		if (attr(n, "model", model, sizeof(model), &long_)) {
			if (!strcmp(model, "global"))
				e->model = 1;
			else if (!strcmp(model, "per-task"))
				e->model = 2;
			else
				err = gp_error_create(GP_ERR_INVAL, "guestpatch policy: patch %zu: model=\"%.16s\": expected per-task or global",
						      i, model);
		}
		if (!err && attr(n, "timeout", tmo, sizeof(tmo), &long_)) {
			char *end;

			e->timeout_s = strtod(tmo, &end);
			if (*end || !(e->timeout_s > 0 && e->timeout_s <= 86400))
				err = gp_error_create(GP_ERR_INVAL, "guestpatch policy: patch %zu: timeout=\"%.32s\": expected seconds (0..86400)",
						      i, tmo);
		}
		if (!err && long_)
			err = gp_error_create(GP_ERR_INVAL, "guestpatch policy: patch %zu: an attribute is too long", i);
		p->n++;
	}
	xmllib.xmlFreeDoc(doc);
	return err;
}

struct gp_error *gp_plan_make(const char *kernel, const struct gp_wanted *want, size_t nwant,
			      const struct gp_applied *have, size_t nhave, struct gp_plan *plan)
{
	bool wanted[GP_POLICY_MAX] = { 0 };

	memset(plan, 0, sizeof(*plan));
	if (nwant > GP_POLICY_MAX || nhave > GP_POLICY_MAX)
		return gp_error_create(GP_ERR_LIMIT, "more than %d patches", GP_POLICY_MAX);
	for (size_t i = 0; i < nwant; i++) {
		bool applied = false;

		if (strcmp(want[i].build_id, kernel)) {
			plan->other_kernels++;
			continue;
		}
		for (size_t j = 0; j < i; j++)
			if (wanted[j] && !strcmp(want[j].name, want[i].name))
				return gp_error_create(GP_ERR_INVAL,
						       "the policy names two patches called '%s' for this kernel (%s and %s)",
						       want[i].name,
						       want[j].entry ? want[j].entry->file : "?",
						       want[i].entry ? want[i].entry->file : "?");
		wanted[i] = true;
		for (size_t j = 0; j < nhave; j++)
			applied |= !strcmp(have[j].name, want[i].name);
		if (applied)
			plan->keep[plan->nkeep++] = (int)i;
		else
			plan->apply[plan->napply++] = (int)i;
	}
	/* Remove the newest first: the reverse of the order they went in. */
	for (;;) {
		int best = -1;

		for (size_t j = 0; j < nhave; j++) {
			bool keep = false, done = false;

			for (size_t i = 0; i < nwant; i++)
				keep |= wanted[i] && !strcmp(want[i].name, have[j].name);
			for (size_t r = 0; r < plan->nremove; r++)
				done |= plan->remove[r] == (int)j;
			if (!keep && !done && (best < 0 || have[j].seq > have[best].seq))
				best = (int)j;
		}
		if (best < 0)
			break;
		plan->remove[plan->nremove++] = best;
	}
	return NULL;
}

/* XML-escape s into out (attribute values). */
static void esc(char *out, size_t len, const char *s)
{
	size_t n = 0;

	for (; *s && n + 7 < len; s++) {
		const char *r = NULL;

		switch (*s) {
		case '&': r = "&amp;"; break;
		case '<': r = "&lt;"; break;
		case '>': r = "&gt;"; break;
		case '"': r = "&quot;"; break;
		default: break;
		}
		if (r) {
			memcpy(out + n, r, strlen(r));
			n += strlen(r);
		} else if ((unsigned char)*s >= 0x20) {
			out[n++] = *s;
		}
	}
	out[n] = '\0';
}

char *gp_state_xml(const struct gp_state *s)
{
	size_t cap = 512 + s->napplied * (GP_PNAME_MAX * 6 + GP_FILE_MAX * 6 + 64), n;
	char *out = malloc(cap), a[GP_FILE_MAX * 6], b[GP_FILE_MAX * 6], when[32];
	time_t now = time(NULL);
	struct tm tm;

	if (!out)
		return NULL;
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	esc(a, sizeof(a), s->release);
	esc(b, sizeof(b), s->result);
	n = (size_t)snprintf(out, cap, "<state kernel=\"%s\" release=\"%s\" result=\"%s\" updated=\"%s\">",
			     s->kernel, a, b, when);
	for (size_t i = 0; i < s->napplied && n < cap; i++) {
		esc(a, sizeof(a), s->applied[i]);
		esc(b, sizeof(b), s->files[i]);
		n += (size_t)snprintf(out + n, cap - n, "<applied name=\"%s\" file=\"%s\"/>", a, b);
	}
	if (n < cap)
		snprintf(out + n, cap - n, "</state>");
	return out;
}

struct gp_error *gp_state_parse(const char *xml, struct gp_state *s)
{
	struct gp_error *err = NULL;
	xmlDocPtr doc;
	xmlNodePtr root;
	bool long_ = false;

	memset(s, 0, sizeof(*s));
	if ((err = read_doc(xml, "state", &doc, &root)))
		return err;
	attr(root, "kernel", s->kernel, sizeof(s->kernel), &long_);
	attr(root, "release", s->release, sizeof(s->release), &long_);
	attr(root, "result", s->result, sizeof(s->result), &long_);
	for (xmlNodePtr n = root->children; n; n = n->next) {
		if (n->type != XML_ELEMENT_NODE || strcmp((const char *)n->name, "applied"))
			continue;
		if (s->napplied >= GP_POLICY_MAX)
			break;
		attr(n, "name", s->applied[s->napplied], GP_PNAME_MAX, &long_);
		attr(n, "file", s->files[s->napplied], GP_FILE_MAX, &long_);
		s->napplied++;
	}
	xmllib.xmlFreeDoc(doc);
	if (long_)
		return gp_error_create(GP_ERR_INVAL, "guestpatch state: an attribute is too long");
	return NULL;
}

bool gp_state_equal(const struct gp_state *a, const struct gp_state *b)
{
	if (strcmp(a->kernel, b->kernel) || strcmp(a->release, b->release) ||
	    strcmp(a->result, b->result) || a->napplied != b->napplied)
		return false;
	for (size_t i = 0; i < a->napplied; i++)
		if (strcmp(a->applied[i], b->applied[i]) || strcmp(a->files[i], b->files[i]))
			return false;
	return true;
}
