// SPDX-License-Identifier: GPL-2.0-or-later
#include <bpf/btf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kbtf.h"

struct gp_error *kbtf_load(const void *data, size_t len, struct kbtf **out)
{
	struct kbtf *k;
	struct btf *btf;

	*out = NULL;
	if (len < 24 || len > KBTF_MAX_BYTES)
		return gp_error_create(GP_ERR_CORRUPT,
				       "BTF size %zu out of range", len);
	/* libbpf validates header, type and string sections. */
	btf = btf__new(data, (__u32)len);
	if (!btf)
		return gp_error_create(GP_ERR_CORRUPT,
				       "guest BTF (%zu bytes) does not parse: %s",
				       len, strerror(errno));
	k = calloc(1, sizeof(*k));
	if (!k) {
		btf__free(btf);
		return &gp_error_nomem;
	}
	k->btf = btf;
	k->size = len;
	*out = k;
	return NULL;
}

void kbtf_free(struct kbtf *k)
{
	if (!k)
		return;
	btf__free(k->btf);
	free(k);
}

/* Struct or union NAME, or a typedef of one: the kernel's rwlock_t,
 * spinlock_t and atomic_t are typedefs of anonymous structs.  A typedef
 * chain that loops or ends elsewhere is not found (btf__resolve_type()
 * bounds its depth). */
static int find_composite(const struct kbtf *k, const char *name)
{
	const struct btf_type *t;
	int id = btf__find_by_name_kind(k->btf, name, BTF_KIND_STRUCT);

	if (id < 0)
		id = btf__find_by_name_kind(k->btf, name, BTF_KIND_UNION);
	if (id >= 0)
		return id;
	id = btf__find_by_name_kind(k->btf, name, BTF_KIND_TYPEDEF);
	if (id < 0)
		return id;
	id = btf__resolve_type(k->btf, (__u32)id);
	t = id < 0 ? NULL : btf__type_by_id(k->btf, (__u32)id);
	return t && btf_is_composite(t) ? id : -1;
}

struct gp_error *kbtf_sizeof(const struct kbtf *k, const char *name,
			     uint64_t *size)
{
	int id = find_composite(k, name);

	if (id < 0)
		return gp_error_create(GP_ERR_NOTFOUND,
				       "guest BTF has no struct %s", name);
	*size = btf__type_by_id(k->btf, (__u32)id)->size;
	return NULL;
}

/*
 * Guest BTF is untrusted: an anonymous member may name its own struct, or
 * a chain of structs may each hold several anonymous copies of the next,
 * so a plain descent loops or takes exponential time.  A lookup remembers
 * the anonymous types it has searched (a type searched once without a
 * match cannot match the second time), stops at a nesting depth no kernel
 * comes near (6.1 nests anonymous members 3 deep) and counts the members
 * it looks at.
 */
#define KBTF_ANON_DEPTH 16
#define KBTF_MAX_STEPS (1u << 20)	/* members visited per path component */

enum { MEMBER_NONE = -1, MEMBER_BITFIELD = -2, MEMBER_CORRUPT = -3 };

struct member_search {
	const struct btf *btf;
	uint8_t *seen;		/* bitmap over type ids: anonymous types searched */
	uint32_t nr_types;
	uint32_t steps;
};

/* Find member `m` (one path component) in composite type id, descending
 * into anonymous members.  Returns the member's type id or MEMBER_*. */
static int find_member(struct member_search *ms, int id, const char *m,
		       uint64_t *bitoff, int depth)
{
	const struct btf *btf = ms->btf;
	const struct btf_type *t = btf__type_by_id(btf, (__u32)id);
	const struct btf_member *mem;

	if (!t || !btf_is_composite(t))
		return MEMBER_NONE;
	if (depth > KBTF_ANON_DEPTH)
		return MEMBER_CORRUPT;
	mem = btf_members(t);
	for (int i = 0; i < btf_vlen(t); i++, mem++) {
		const char *mn = btf__name_by_offset(btf, mem->name_off);
		uint64_t off = btf_member_bit_offset(t, (__u32)i);

		if (++ms->steps > KBTF_MAX_STEPS)
			return MEMBER_CORRUPT;
		if (mn && *mn) {
			if (!strcmp(mn, m)) {
				if (btf_member_bitfield_size(t, (__u32)i))
					return MEMBER_BITFIELD;
				*bitoff += off;
				return (int)mem->type;
			}
			continue;
		}
		/* Anonymous struct/union: search inside it, once. */
		int sub = btf__resolve_type(btf, mem->type);
		uint64_t inner = 0;
		int r;

		if (sub < 0 || (uint32_t)sub >= ms->nr_types)
			continue;
		if (ms->seen[sub / 8] & (1u << (sub % 8)))
			continue;
		ms->seen[sub / 8] |= (uint8_t)(1u << (sub % 8));
		r = find_member(ms, sub, m, &inner, depth + 1);
		if (r >= 0 || r == MEMBER_BITFIELD) {
			*bitoff += off + inner;
			return r;
		}
		if (r == MEMBER_CORRUPT)
			return r;
	}
	return MEMBER_NONE;
}

static struct gp_error *resolve_path(const struct kbtf *k, const char *name,
				     const char *path, uint64_t *offset,
				     int *type_id)
{
	char buf[256], *comp, *save = NULL;
	struct member_search ms;
	struct gp_error *err = NULL;
	uint64_t bits = 0;
	int id = find_composite(k, name);

	if (id < 0)
		return gp_error_create(GP_ERR_NOTFOUND,
				       "guest BTF has no struct %s", name);
	if (strlen(path) >= sizeof(buf))
		return gp_error_create(GP_ERR_INVAL, "member path too long");
	strcpy(buf, path);
	ms.btf = k->btf;
	ms.nr_types = btf__type_cnt(k->btf);
	ms.seen = malloc(ms.nr_types / 8 + 1);
	if (!ms.seen)
		return &gp_error_nomem;
	for (comp = strtok_r(buf, ".", &save); comp;
	     comp = strtok_r(NULL, ".", &save)) {
		int r = btf__resolve_type(k->btf, (__u32)id);

		if (r < 0) {
			err = gp_error_create(GP_ERR_CORRUPT,
					      "cannot resolve BTF type %d", id);
			break;
		}
		memset(ms.seen, 0, ms.nr_types / 8 + 1);
		ms.steps = 0;
		r = find_member(&ms, r, comp, &bits, 0);
		if (r == MEMBER_CORRUPT) {
			err = gp_error_create(GP_ERR_CORRUPT,
					      "guest BTF: the anonymous members of struct %s nest deeper than %d or take more than %u steps (looking for '%s')",
					      name, KBTF_ANON_DEPTH, KBTF_MAX_STEPS, comp);
			break;
		}
		if (r == MEMBER_BITFIELD) {
			err = gp_error_create(GP_ERR_UNSUPPORTED,
					      "%s.%s is a bitfield", name, path);
			break;
		}
		if (r < 0) {
			err = gp_error_create(GP_ERR_NOTFOUND,
					      "struct %s has no member %s (looking for '%s')",
					      name, path, comp);
			break;
		}
		id = r;
	}
	free(ms.seen);
	if (err)
		return err;
	if (bits % 8)
		return gp_error_create(GP_ERR_UNSUPPORTED,
				       "%s.%s is not byte aligned", name, path);
	*offset = bits / 8;
	*type_id = id;
	return NULL;
}

struct gp_error *kbtf_offsetof(const struct kbtf *k, const char *name,
			       const char *path, uint64_t *offset,
			       uint64_t *size)
{
	struct gp_error *err;
	__s64 sz;
	int id;

	err = resolve_path(k, name, path, offset, &id);
	if (err)
		return err;
	if (size) {
		sz = btf__resolve_size(k->btf, (__u32)id);
		if (sz < 0)
			return gp_error_create(GP_ERR_CORRUPT,
					       "cannot size %s.%s", name, path);
		*size = (uint64_t)sz;
	}
	return NULL;
}

struct gp_error *kbtf_array_len(const struct kbtf *k, const char *name,
				const char *path, uint64_t *nelems)
{
	const struct btf_type *t;
	struct gp_error *err;
	uint64_t off;
	int id;

	err = resolve_path(k, name, path, &off, &id);
	if (err)
		return err;
	id = btf__resolve_type(k->btf, (__u32)id);
	t = id < 0 ? NULL : btf__type_by_id(k->btf, (__u32)id);
	if (!t || !btf_is_array(t))
		return gp_error_create(GP_ERR_INVAL, "%s.%s is not an array",
				       name, path);
	*nelems = btf_array(t)->nelems;
	return NULL;
}

int kbtf_has_member(const struct kbtf *k, const char *name, const char *path)
{
	uint64_t off;
	int id;
	struct gp_error *err = resolve_path(k, name, path, &off, &id);

	gp_error_destroy(err);
	return !err;
}

struct gp_error *kbtf_bitfield(const struct kbtf *k, const char *name, const char *member,
			       uint64_t *bit_offset, uint64_t *bits)
{
	const struct btf_type *t;
	const struct btf_member *m;
	int id = find_composite(k, name);

	if (id < 0)
		return gp_error_create(GP_ERR_NOTFOUND, "guest BTF has no struct %s", name);
	t = btf__type_by_id(k->btf, (__u32)id);
	m = btf_members(t);
	for (int i = 0; i < btf_vlen(t) && i < (int)KBTF_MAX_STEPS; i++, m++) {
		const char *mn = btf__name_by_offset(k->btf, m->name_off);

		if (mn && !strcmp(mn, member)) {
			*bit_offset = btf_member_bit_offset(t, (__u32)i);
			*bits = btf_member_bitfield_size(t, (__u32)i);
			return NULL;
		}
	}
	return gp_error_create(GP_ERR_NOTFOUND, "struct %s has no member %s", name, member);
}

struct gp_error *kbtf_enum_value(const struct kbtf *k, const char *name, const char *enumerator,
				 int64_t *value)
{
	int id = btf__find_by_name_kind(k->btf, name, BTF_KIND_ENUM);
	const struct btf_type *t;
	const struct btf_enum *e;

	if (id < 0)
		return gp_error_create(GP_ERR_NOTFOUND, "guest BTF has no enum %s", name);
	t = btf__type_by_id(k->btf, (__u32)id);
	e = btf_enum(t);
	for (int i = 0; i < btf_vlen(t) && i < (int)KBTF_MAX_STEPS; i++, e++) {
		const char *en = btf__name_by_offset(k->btf, e->name_off);

		if (en && !strcmp(en, enumerator)) {
			*value = btf_kflag(t) ? (int64_t)e->val : (int64_t)(uint32_t)e->val;
			return NULL;
		}
	}
	return gp_error_create(GP_ERR_NOTFOUND, "enum %s has no %s", name, enumerator);
}

struct gp_error *kbtf_enumerator(const struct kbtf *k, const char *enumerator, int64_t *value)
{
	__u32 n = btf__type_cnt(k->btf);
	bool found = false;

	for (__u32 id = 1; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(k->btf, id);
		const struct btf_enum *e;

		if (!t || !btf_is_enum(t))
			continue;
		e = btf_enum(t);
		for (int i = 0; i < btf_vlen(t); i++, e++) {
			const char *en = btf__name_by_offset(k->btf, e->name_off);
			int64_t v;

			if (!en || strcmp(en, enumerator))
				continue;
			v = btf_kflag(t) ? (int64_t)e->val : (int64_t)(uint32_t)e->val;
			if (found && v != *value)
				return gp_error_create(GP_ERR_CORRUPT,
						       "guest BTF gives %s two values (%lld and %lld)",
						       enumerator, (long long)*value, (long long)v);
			*value = v;
			found = true;
		}
	}
	return found ? NULL : gp_error_create(GP_ERR_NOTFOUND, "guest BTF has no enumerator %s",
					      enumerator);
}
