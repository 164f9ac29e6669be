// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kallsyms.h"

static struct gp_error *pool_add(struct ksym_table *t, const char *s,
				 size_t n, uint32_t *off)
{
	if (t->pool_len + n + 1 > KSYM_MAX_POOL_BYTES)
		return gp_error_create(GP_ERR_LIMIT,
				       "symbol names exceed KSYM_MAX_POOL_BYTES (%u MiB) after %zu symbols",
				       KSYM_MAX_POOL_BYTES >> 20, t->nr);
	if (t->pool_len + n + 1 > t->pool_cap) {
		size_t cap = t->pool_cap ? t->pool_cap * 2 : 1u << 20;
		char *p;

		while (cap < t->pool_len + n + 1)
			cap *= 2;
		if (cap > KSYM_MAX_POOL_BYTES)
			cap = KSYM_MAX_POOL_BYTES;
		p = realloc(t->pool, cap);
		if (!p)
			return &gp_error_nomem;
		t->pool = p;
		t->pool_cap = cap;
	}
	memcpy(t->pool + t->pool_len, s, n);
	t->pool[t->pool_len + n] = '\0';
	*off = (uint32_t)t->pool_len;
	t->pool_len += n + 1;
	return NULL;
}

static struct ksym_table *table_new(size_t cap)
{
	struct ksym_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->syms = calloc(cap ? cap : 1, sizeof(*t->syms));
	if (!t->syms) {
		free(t);
		return NULL;
	}
	return t;
}

void ksym_free(struct ksym_table *t)
{
	if (!t)
		return;
	if (t->syms_map_len)
		munmap(t->syms, t->syms_map_len);
	else
		free(t->syms);
	if (t->file_map) {
		munmap(t->file_map, t->file_map_len);
	} else {
		free(t->pool);
		free(t->by_name);
		free(t->by_addr);
	}
	free(t);
}

uint64_t ksym_raw_addr(const struct ksym_raw *raw, uint32_t i)
{
	int32_t o = raw->offsets[i];

	if (raw->absolute_percpu)
		return o >= 0 ? (uint64_t)o : raw->relative_base - 1 - (uint64_t)(int64_t)o;
	return raw->relative_base + (uint32_t)o;
}

struct gp_error *ksym_skip_one(const struct ksym_raw *raw, uint32_t i, size_t *off,
			       size_t *codes)
{
	size_t o = *off, len;

	if (o >= raw->names_len)
		goto truncated;
	len = raw->names[o++];
	/* "Big" symbols (6.1, commit 73bbb94466fd): a set top bit
	 * means the length continues in the next byte. */
	if (len & 0x80) {
		if (o >= raw->names_len)
			goto truncated;
		len = (len & 0x7f) | ((size_t)raw->names[o++] << 7);
	}
	if (len == 0 || len > raw->names_len - o)
		goto truncated;
	*off = o + len;
	*codes = len;
	return NULL;
truncated:
	return gp_error_create(GP_ERR_CORRUPT,
			       "kallsyms names end after %u of %u symbols (%zu bytes)",
			       i, raw->num_syms, raw->names_len);
}

struct gp_error *ksym_decode_one(const struct ksym_raw *raw, uint32_t i, size_t *off,
				 char name[KSYM_NAME_LEN * 2], size_t *nlen)
{
	size_t start, n = 0, len = 0;
	/* The names may be guest memory the guest can change meanwhile:
	 * each byte is read once. */
	struct gp_error *err = ksym_skip_one(raw, i, off, &len);

	if (err)
		return err;
	start = *off - len;
	for (size_t j = 0; j < len; j++) {
		const char *tok = raw->token_table + raw->token_index[raw->names[start + j]];
		size_t tl = strlen(tok);

		if (n + tl >= KSYM_NAME_LEN * 2)
			return gp_error_create(GP_ERR_CORRUPT,
					       "kallsyms symbol %u expands past %u bytes",
					       i, KSYM_NAME_LEN * 2);
		memcpy(name + n, tok, tl);
		n += tl;
	}
	name[n] = 0;
	if (n < 2)
		return gp_error_create(GP_ERR_CORRUPT, "kallsyms symbol %u has an empty name", i);
	*nlen = n;
	return NULL;
}

struct gp_error *ksym_check_tokens(const struct ksym_raw *raw)
{
	/* Every token must be a NUL-terminated string inside the table. */
	for (int i = 0; i < 256; i++) {
		uint16_t ti = raw->token_index[i];

		if (ti >= raw->token_table_len ||
		    !memchr(raw->token_table + ti, '\0',
			    raw->token_table_len - ti))
			return gp_error_create(GP_ERR_CORRUPT,
					       "kallsyms token %d at offset %u runs past the token table (%zu bytes)",
					       i, ti, raw->token_table_len);
	}
	return NULL;
}

struct gp_error *ksym_decode(const struct ksym_raw *raw,
			     struct ksym_table **out)
{
	struct ksym_table *t;
	struct gp_error *err;
	size_t off = 0;

	*out = NULL;
	if (raw->num_syms == 0 || raw->num_syms > KSYM_MAX_SYMS)
		return gp_error_create(GP_ERR_CORRUPT,
				       "kallsyms_num_syms is %u (expected 1..%u)",
				       raw->num_syms, KSYM_MAX_SYMS);
	if ((err = ksym_check_tokens(raw)))
		return err;
	t = table_new(raw->num_syms);
	if (!t)
		return &gp_error_nomem;
	for (uint32_t i = 0; i < raw->num_syms; i++) {
		char name[KSYM_NAME_LEN * 2];
		size_t nlen;

		if ((err = ksym_decode_one(raw, i, &off, name, &nlen)))
			goto fail;
		t->syms[i].addr = ksym_raw_addr(raw, i);
		t->syms[i].type = name[0];
		t->syms[i].index = i;
		err = pool_add(t, name + 1, nlen - 1, &t->syms[i].name);
		if (err)
			goto fail;
		t->nr++;
	}
	err = ksym_finish(t);
	if (err)
		goto fail;
	*out = t;
	return NULL;
fail:
	ksym_free(t);
	return err;
}

struct gp_error *ksym_parse_map(const char *text, size_t len, uint64_t delta,
				struct ksym_table **out)
{
	struct ksym_table *t;
	struct gp_error *err = NULL;
	size_t cap = 1024, line = 0;
	const char *p = text, *end = text + len;

	*out = NULL;
	t = table_new(cap);
	if (!t)
		return &gp_error_nomem;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		char buf[KSYM_NAME_LEN + 64], name[KSYM_NAME_LEN + 1];
		unsigned long long addr;
		char type;
		size_t n = (size_t)(eol - p);

		line++;
		if (n == 0) {
			p = eol + 1;
			continue;
		}
		if (n >= sizeof(buf) ||
		    (memcpy(buf, p, n), buf[n] = '\0',
		     sscanf(buf, "%llx %c %512s", &addr, &type, name) != 3)) {
			err = gp_error_create(GP_ERR_INVAL,
					      "System.map line %zu is not 'ADDRESS TYPE NAME'",
					      line);
			goto fail;
		}
		if (t->nr == cap) {
			struct ksym *s;

			if (cap >= KSYM_MAX_SYMS) {
				err = gp_error_create(GP_ERR_LIMIT,
						      "System.map has more than %u symbols",
						      KSYM_MAX_SYMS);
				goto fail;
			}
			s = realloc(t->syms, cap * 2 * sizeof(*s));
			if (!s) {
				err = &gp_error_nomem;
				goto fail;
			}
			t->syms = s;
			cap *= 2;
		}
		/* Absolute symbols (per-cpu offsets) do not move with KASLR. */
		if (!((type == 'A' || type == 'a') &&
		      addr < 0xffffffff80000000ull))
			addr += delta;
		t->syms[t->nr].addr = addr;
		t->syms[t->nr].type = type;
		t->syms[t->nr].index = (uint32_t)t->nr;
		err = pool_add(t, name, strlen(name), &t->syms[t->nr].name);
		if (err)
			goto fail;
		t->nr++;
		p = eol + 1;
	}
	if (!t->nr) {
		err = gp_error_create(GP_ERR_INVAL, "System.map is empty");
		goto fail;
	}
	err = ksym_finish(t);
	if (err)
		goto fail;
	*out = t;
	return NULL;
fail:
	ksym_free(t);
	return err;
}

/* qsort has no context argument; the table being sorted is kept here. */
static const struct ksym_table *sort_table;

static int cmp_name(const void *a, const void *b)
{
	const struct ksym *x = &sort_table->syms[*(const uint32_t *)a];
	const struct ksym *y = &sort_table->syms[*(const uint32_t *)b];
	int c = strcmp(ksym_name(sort_table, x), ksym_name(sort_table, y));

	if (c)
		return c;
	return x->index < y->index ? -1 : x->index > y->index;
}

static int cmp_addr(const void *a, const void *b)
{
	const struct ksym *x = &sort_table->syms[*(const uint32_t *)a];
	const struct ksym *y = &sort_table->syms[*(const uint32_t *)b];

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

struct gp_error *ksym_finish(struct ksym_table *t)
{
	t->by_name = malloc(t->nr * sizeof(uint32_t));
	t->by_addr = malloc(t->nr * sizeof(uint32_t));
	if (!t->by_name || !t->by_addr)
		return &gp_error_nomem;
	for (size_t i = 0; i < t->nr; i++)
		t->by_name[i] = t->by_addr[i] = (uint32_t)i;
	sort_table = t;
	qsort(t->by_name, t->nr, sizeof(uint32_t), cmp_name);
	qsort(t->by_addr, t->nr, sizeof(uint32_t), cmp_addr);
	sort_table = NULL;
	return NULL;
}

bool ksym_find_all(const struct ksym_table *t, const char *name,
		   const uint32_t **first, size_t *count)
{
	size_t lo = 0, hi = t->nr, end;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(ksym_name(t, &t->syms[t->by_name[mid]]), name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (end = lo; end < t->nr &&
	     !strcmp(ksym_name(t, &t->syms[t->by_name[end]]), name);
	     end++)
		;
	*first = t->by_name + lo;
	*count = end - lo;
	return end > lo;
}

struct gp_error *ksym_lookup(const struct ksym_table *t, const char *name,
			     unsigned long pos, const struct ksym **out)
{
	const uint32_t *first;
	size_t n;

	*out = NULL;
	if (!ksym_find_all(t, name, &first, &n))
		return gp_error_create(GP_ERR_NOTFOUND,
				       "no symbol '%s' in the guest kernel",
				       name);
	if (pos == 0 && n > 1)
		return gp_error_create(GP_ERR_INVAL,
				       "symbol '%s' is ambiguous: %zu symbols share the name (pick one by position 1..%zu)",
				       name, n, n);
	if (pos > n)
		return gp_error_create(GP_ERR_NOTFOUND,
				       "symbol '%s' has %zu occurrence%s, not %lu",
				       name, n, n == 1 ? "" : "s", pos);
	*out = &t->syms[first[pos ? pos - 1 : 0]];
	return NULL;
}

const struct ksym *ksym_symbolize(const struct ksym_table *t, uint64_t addr,
				  uint64_t *offset, uint64_t *size)
{
	size_t lo = 0, hi = t->nr, i;
	const struct ksym *s;

	/* First entry with address > addr. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->syms[t->by_addr[mid]].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	/* Step back to the first symbol of that address that is not absolute. */
	i = lo - 1;
	while (i > 0 && t->syms[t->by_addr[i - 1]].addr ==
				t->syms[t->by_addr[i]].addr)
		i--;
	for (; i < lo; i++)
		if (t->syms[t->by_addr[i]].type != 'A' &&
		    t->syms[t->by_addr[i]].type != 'a')
			break;
	if (i == lo)
		return NULL;
	s = &t->syms[t->by_addr[i]];
	if (offset)
		*offset = addr - s->addr;
	if (size)
		*size = lo < t->nr ? t->syms[t->by_addr[lo]].addr - s->addr : 0;
	return s;
}
