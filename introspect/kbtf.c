// SPDX-License-Identifier: GPL-2.0-or-later
#include <bpf/btf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gp_hash.h"
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

struct gp_error *kbtf_lazy(size_t len, uint64_t hash, kbtf_fetch_fn fetch, void *arg,
			   struct kbtf **out)
{
	struct kbtf *k;

	*out = NULL;
	if (len < 24 || len > KBTF_MAX_BYTES)
		return gp_error_create(GP_ERR_CORRUPT, "BTF size %zu out of range", len);
	k = calloc(1, sizeof(*k));
	if (!k)
		return &gp_error_nomem;
	k->size = len;
	k->hash = hash;
	k->fetch = fetch;
	k->fetch_arg = arg;
	*out = k;
	return NULL;
}

void kbtf_free(struct kbtf *k)
{
	if (!k)
		return;
	btf__free(k->btf);
	for (size_t i = 0; i < k->nmemo; i++) {
		free(k->memo[i].key);
		free(k->memo[i].msg);
	}
	free(k->memo);
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

static struct gp_error *kbtf_sizeof_parsed(const struct kbtf *k, const char *name,
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

static struct gp_error *kbtf_offsetof_parsed(const struct kbtf *k, const char *name,
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

static struct gp_error *kbtf_array_len_parsed(const struct kbtf *k, const char *name,
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

static int kbtf_has_member_parsed(const struct kbtf *k, const char *name, const char *path)
{
	uint64_t off;
	int id;
	struct gp_error *err = resolve_path(k, name, path, &off, &id);

	gp_error_destroy(err);
	return !err;
}

static struct gp_error *kbtf_bitfield_parsed(const struct kbtf *k, const char *name, const char *member,
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

static struct gp_error *kbtf_enum_value_parsed(const struct kbtf *k, const char *name, const char *enumerator,
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

/* ---- lookups remembered (kcache.c keeps them across runs) ----
 *
 * The kbtf is logically const to its users; parsing on demand and
 * remembering results change only this private state. */

#define MEMO_MAX 4096		/* distinct lookups kept */
#define MEMO_KEY_MAX 512	/* op, name, NUL, path */
#define MEMO_MSG_MAX 512

static uint64_t memo_hash(const char *key, size_t n)
{
	return gp_fnv1a(GP_FNV_OFFSET, key, n);
}

/* The key: op, name, NUL, path; 0 if too long to remember. */
static size_t memo_key(char *key, char op, const char *name, const char *path)
{
	size_t nl = strlen(name), pl = path ? strlen(path) : 0;

	if (2 + nl + pl > MEMO_KEY_MAX)
		return 0;
	key[0] = op;
	memcpy(key + 1, name, nl);
	key[1 + nl] = 0;
	memcpy(key + 2 + nl, path ? path : "", pl);
	return 2 + nl + pl;
}

static const struct kbtf_memo_ent *memo_get(const struct kbtf *k, const char *key, size_t n)
{
	uint64_t h = memo_hash(key, n);

	for (size_t i = 0; i < k->nmemo; i++)
		if (k->memo[i].h == h && k->memo[i].klen == n && !memcmp(k->memo[i].key, key, n))
			return &k->memo[i];
	return NULL;
}

static void memo_add(struct kbtf *k, const char *key, size_t n, int code, const char *msg,
		     uint64_t v1, uint64_t v2)
{
	struct kbtf_memo_ent *e;

	if (!n || k->nmemo >= MEMO_MAX || memo_get(k, key, n) ||
	    (msg && strlen(msg) >= MEMO_MSG_MAX))
		return;
	if (k->nmemo == k->capmemo) {
		size_t cap = k->capmemo ? k->capmemo * 2 : 64;
		struct kbtf_memo_ent *m = realloc(k->memo, cap * sizeof(*m));

		if (!m)
			return;
		k->memo = m;
		k->capmemo = cap;
	}
	e = &k->memo[k->nmemo];
	memset(e, 0, sizeof(*e));
	e->key = malloc(n);
	e->msg = msg ? strdup(msg) : NULL;
	if (!e->key || (msg && !e->msg)) {
		free(e->key);
		free(e->msg);
		return;
	}
	memcpy(e->key, key, n);
	e->klen = n;
	e->h = memo_hash(key, n);
	e->code = code;
	e->v1 = v1;
	e->v2 = v2;
	k->nmemo++;
	k->memo_dirty = true;
}

/* Parse the BTF if it has not been (a lazy kbtf whose memo missed). */
static struct gp_error *ensure_parsed(const struct kbtf *kc)
{
	struct kbtf *k = (struct kbtf *)kc;
	struct gp_error *err;
	struct kbtf *full;
	void *data = NULL;
	size_t len = 0;

	if (k->btf)
		return NULL;
	if (!k->fetch)
		return gp_error_create(GP_ERR_UNSUPPORTED, "no BTF loaded");
	if ((err = k->fetch(k->fetch_arg, k->hash, &data, &len)))
		return gp_error_wrap(err, "loading the guest BTF");
	err = kbtf_load(data, len, &full);
	free(data);
	if (err)
		return err;
	k->btf = full->btf;
	k->size = full->size;
	full->btf = NULL;
	kbtf_free(full);
	return NULL;
}

/* A remembered result: NULL with the values, or the error again. */
static struct gp_error *memo_result(const struct kbtf_memo_ent *e, uint64_t *v1, uint64_t *v2)
{
	if (e->code)
		return gp_error_create((enum gp_error_code)e->code, "%s", e->msg ? e->msg : "");
	if (v1)
		*v1 = e->v1;
	if (v2)
		*v2 = e->v2;
	return NULL;
}

static void memo_put(const struct kbtf *kc, const char *key, size_t n, struct gp_error *err,
		     uint64_t v1, uint64_t v2)
{
	/* Out of memory says nothing about the BTF: not remembered. */
	if (err == &gp_error_nomem)
		return;
	memo_add((struct kbtf *)kc, key, n, err ? (int)err->code : 0, err ? err->msg : NULL, v1, v2);
}

#define MEMO_LOOKUP(op, name, path, v1p, v2p, call)                               \
	do {                                                                      \
		char key_[MEMO_KEY_MAX];                                          \
		size_t n_ = memo_key(key_, op, name, path);                       \
		const struct kbtf_memo_ent *e_ = n_ ? memo_get(k, key_, n_) : NULL; \
		struct gp_error *err_;                                            \
		uint64_t a_ = 0, b_ = 0;                                          \
                                                                                  \
		if (e_)                                                           \
			return memo_result(e_, v1p, v2p);                         \
		if ((err_ = ensure_parsed(k)))                                    \
			return err_;                                              \
		err_ = call;                                                      \
		memo_put(k, key_, n_, err_, a_, b_);                              \
		if (!err_) {                                                      \
			if (v1p)                                                  \
				*(uint64_t *)(v1p) = a_;                          \
			if (v2p)                                                  \
				*(uint64_t *)(v2p) = b_;                          \
		}                                                                 \
		return err_;                                                      \
	} while (0)

struct gp_error *kbtf_sizeof(const struct kbtf *k, const char *name, uint64_t *size)
{
	MEMO_LOOKUP('S', name, NULL, size, (uint64_t *)NULL, kbtf_sizeof_parsed(k, name, &a_));
}

struct gp_error *kbtf_offsetof(const struct kbtf *k, const char *name, const char *path,
			       uint64_t *offset, uint64_t *size)
{
	if (size)
		MEMO_LOOKUP('o', name, path, offset, size, kbtf_offsetof_parsed(k, name, path, &a_, &b_));
	MEMO_LOOKUP('O', name, path, offset, (uint64_t *)NULL,
		    kbtf_offsetof_parsed(k, name, path, &a_, NULL));
}

struct gp_error *kbtf_array_len(const struct kbtf *k, const char *name, const char *path,
				uint64_t *nelems)
{
	MEMO_LOOKUP('A', name, path, nelems, (uint64_t *)NULL,
		    kbtf_array_len_parsed(k, name, path, &a_));
}

struct gp_error *kbtf_bitfield(const struct kbtf *k, const char *name, const char *member,
			       uint64_t *bit_offset, uint64_t *bits)
{
	MEMO_LOOKUP('B', name, member, bit_offset, bits,
		    kbtf_bitfield_parsed(k, name, member, &a_, &b_));
}

static struct gp_error *enum_value_u(const struct kbtf *k, const char *name, const char *en,
				     uint64_t *v)
{
	int64_t x = 0;
	struct gp_error *err = kbtf_enum_value_parsed(k, name, en, &x);

	*v = (uint64_t)x;
	return err;
}

struct gp_error *kbtf_enum_value(const struct kbtf *k, const char *name, const char *enumerator,
				 int64_t *value)
{
	MEMO_LOOKUP('E', name, enumerator, (uint64_t *)value, (uint64_t *)NULL,
		    enum_value_u(k, name, enumerator, &a_));
}

static struct gp_error *has_member_e(const struct kbtf *k, const char *name, const char *path,
				     uint64_t *v)
{
	*v = (uint64_t)kbtf_has_member_parsed(k, name, path);
	return NULL;
}

static struct gp_error *has_member(const struct kbtf *k, const char *name, const char *path,
				   uint64_t *v)
{
	MEMO_LOOKUP('H', name, path, v, (uint64_t *)NULL, has_member_e(k, name, path, &a_));
}

int kbtf_has_member(const struct kbtf *k, const char *name, const char *path)
{
	uint64_t v = 0;
	struct gp_error *err = has_member(k, name, path, &v);

	gp_error_destroy(err);
	return !err && v;
}

static struct gp_error *kbtf_enumerator_parsed(const struct kbtf *k, const char *enumerator,
					       int64_t *value)
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

static struct gp_error *enumerator_u(const struct kbtf *k, const char *enumerator, uint64_t *v)
{
	int64_t x = 0;
	struct gp_error *err = kbtf_enumerator_parsed(k, enumerator, &x);

	*v = (uint64_t)x;
	return err;
}

struct gp_error *kbtf_enumerator(const struct kbtf *k, const char *enumerator, int64_t *value)
{
	MEMO_LOOKUP('N', enumerator, NULL, (uint64_t *)value, (uint64_t *)NULL,
		    enumerator_u(k, enumerator, &a_));
}

/* Export format: a u32 count, then per entry u32 key length, u32 message
 * length (0: success), i32 code, u32 reserved, u64 v1, u64 v2, the key,
 * the message. */
struct memo_rec {
	uint32_t klen, mlen;
	int32_t code;
	uint32_t reserved;
	uint64_t v1, v2;
};

struct gp_error *kbtf_memo_export(const struct kbtf *k, void **data, size_t *len)
{
	size_t n = 4, off;
	uint8_t *p;
	uint32_t cnt = (uint32_t)k->nmemo;

	for (size_t i = 0; i < k->nmemo; i++)
		n += sizeof(struct memo_rec) + k->memo[i].klen + (k->memo[i].msg ? strlen(k->memo[i].msg) : 0);
	p = malloc(n);
	if (!p)
		return &gp_error_nomem;
	memcpy(p, &cnt, 4);
	off = 4;
	for (size_t i = 0; i < k->nmemo; i++) {
		const struct kbtf_memo_ent *e = &k->memo[i];
		struct memo_rec r = { .klen = (uint32_t)e->klen,
				      .mlen = e->msg ? (uint32_t)strlen(e->msg) : 0,
				      .code = e->code, .v1 = e->v1, .v2 = e->v2 };

		memcpy(p + off, &r, sizeof(r));
		off += sizeof(r);
		memcpy(p + off, e->key, e->klen);
		off += e->klen;
		memcpy(p + off, e->msg ? e->msg : "", r.mlen);
		off += r.mlen;
	}
	*data = p;
	*len = n;
	return NULL;
}

struct gp_error *kbtf_memo_import(struct kbtf *k, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t cnt;
	size_t off = 4;
	char msg[MEMO_MSG_MAX];

	if (len < 4)
		return gp_error_create(GP_ERR_CORRUPT, "BTF lookup cache: %zu bytes", len);
	memcpy(&cnt, p, 4);
	if (cnt > MEMO_MAX)
		return gp_error_create(GP_ERR_CORRUPT, "BTF lookup cache: %u entries", cnt);
	for (uint32_t i = 0; i < cnt; i++) {
		struct memo_rec r;
		const char *key;

		if (len - off < sizeof(r))
			goto bad;
		memcpy(&r, p + off, sizeof(r));
		off += sizeof(r);
		if (r.klen < 2 || r.klen > MEMO_KEY_MAX || r.mlen >= MEMO_MSG_MAX ||
		    len - off < (size_t)r.klen + r.mlen || r.code < 0 ||
		    r.code > GP_ERR_INTERRUPTED || (r.code == 0) != (r.mlen == 0) ||
		    !strchr("SoOABEHN", p[off]) || !memchr(p + off + 1, 0, r.klen - 1))
			goto bad;
		key = (const char *)p + off;
		off += r.klen;
		memcpy(msg, p + off, r.mlen);
		msg[r.mlen] = 0;
		off += r.mlen;
		if (r.code && strlen(msg) != r.mlen)
			goto bad;
		memo_add(k, key, r.klen, r.code, r.code ? msg : NULL, r.v1, r.v2);
	}
	if (off != len)
		goto bad;
	k->memo_dirty = false;
	return NULL;
bad:
	return gp_error_create(GP_ERR_CORRUPT, "BTF lookup cache: entry malformed at byte %zu", off);
}

bool kbtf_memo_dirty(const struct kbtf *k)
{
	return k->memo_dirty;
}

bool kbtf_parsed(const struct kbtf *k)
{
	return k->btf != NULL;
}
