// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * kcache.c - the host-side cache of decoded kernel tables (kcache.h): the
 * file format, where it lives, and the checks a cached symbol table must
 * pass against the guest's own tables before it is used.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kcache.h"

#define HASH_K1 0x9e3779b97f4a7c15ull
#define HASH_K2 0xc2b2ae3d27d4eb4full

static inline uint64_t rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static inline uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= HASH_K2;
	h ^= h >> 29;
	return h;
}

uint64_t kcache_hash(const void *p, size_t n, uint64_t seed)
{
	const uint8_t *b = p;
	uint64_t s1[8], s2[8], h = seed ^ HASH_K1;
	size_t i = 0;

	/* Fletcher-64 in eight lanes (a sum and a sum of sums, so a word's
	 * position counts): plain adds the compiler vectorizes, ~18 GB/s
	 * here against ~7 for a multiply per word; mixed at the end. */
	for (int l = 0; l < 8; l++)
		s1[l] = s2[l] = seed + (uint64_t)l;
	for (; i + 64 <= n; i += 64)
		for (int l = 0; l < 8; l++) {
			s1[l] += rd64(b + i + 8 * l);
			s2[l] += s1[l];
		}
	for (int l = 0; l < 8; l++)
		h = mix((h ^ mix(s1[l])) * HASH_K1 + s2[l]);
	for (; i < n; i++)
		h = (h ^ b[i]) * HASH_K2;
	return mix(h ^ n);
}

uint64_t kcache_tables_hash(const struct ksym_raw *raw)
{
	uint64_t h = kcache_hash(&raw->num_syms, sizeof(raw->num_syms), 1);

	h = kcache_hash(raw->names, raw->names_len, h);
	h = kcache_hash(raw->token_table, raw->token_table_len, h);
	return kcache_hash(raw->token_index, 256 * sizeof(uint16_t), h);
}

/* ---- where ---- */

const char *kcache_dir(char *buf, size_t len)
{
	const char *e = getenv("GP_CACHE"), *x;
	int n;

	if (e && !strcmp(e, "0"))
		return NULL;
	if ((e = getenv("GP_CACHE_DIR")) && *e)
		n = snprintf(buf, len, "%s", e);
	else if (geteuid() == 0)
		n = snprintf(buf, len, "/var/cache/guestpatch");
	else if ((x = getenv("XDG_CACHE_HOME")) && x[0] == '/')
		n = snprintf(buf, len, "%s/guestpatch", x);
	else if ((x = getenv("HOME")) && x[0] == '/')
		n = snprintf(buf, len, "%s/.cache/guestpatch", x);
	else
		return NULL;
	return n > 0 && (size_t)n < len ? buf : NULL;
}

static const char *kind_ext(enum kcache_kind kind)
{
	return kind == KCACHE_SYMS ? "syms" : kind == KCACHE_BTF ? "btf" : "vmci";
}

void kcache_path(char *buf, size_t len, const char *dir, const char *build_id,
		 enum kcache_kind kind)
{
	snprintf(buf, len, "%s/%s.%s", dir, build_id, kind_ext(kind));
}

static bool build_id_ok(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > 40)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr("0123456789abcdef", id[i]))
			return false;
	return true;
}

/* mkdir -p, the directories we create 0700. */
static struct gp_error *make_dir(const char *dir)
{
	char p[4096];
	size_t n = strlen(dir);

	if (n >= sizeof(p))
		return gp_error_create(GP_ERR_INVAL, "cache directory name too long");
	memcpy(p, dir, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (p[i] != '/' && p[i] != 0)
			continue;
		p[i] = 0;
		if (mkdir(p, 0700) && errno != EEXIST)
			return gp_error_os(errno, "create cache directory %s", p);
		p[i] = i < n ? '/' : 0;
	}
	return NULL;
}

struct gp_error *kcache_read(const char *dir, const char *build_id, enum kcache_kind kind,
			     struct kcache_file *f)
{
	struct kcache_hdr h;
	struct gp_error *err = NULL;
	struct stat st;
	char path[4200];
	void *m;
	int fd;

	memset(f, 0, sizeof(*f));
	if (!build_id_ok(build_id))
		return gp_error_create(GP_ERR_INVAL, "no usable build id");
	kcache_path(path, sizeof(path), dir, build_id, kind);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? gp_error_create(GP_ERR_NOTFOUND, "no cache file")
				       : gp_error_os(errno, "open %s", path);
	if (fstat(fd, &st)) {
		err = gp_error_os(errno, "stat %s", path);
		close(fd);
		return err;
	}
	/* Only a file of our own, that nobody else may write. */
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022))
		err = gp_error_create(GP_ERR_CORRUPT, "%s is not a private file of this user", path);
	else if ((uint64_t)st.st_size < sizeof(h) || (uint64_t)st.st_size > KCACHE_MAX_FILE)
		err = gp_error_create(GP_ERR_CORRUPT, "%s: size %lld", path, (long long)st.st_size);
	if (err) {
		close(fd);
		return err;
	}
	/* Files are replaced by rename, never rewritten in place, so the
	 * mapping stays whole. */
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return gp_error_os(errno, "map %s", path);
	f->map = m;
	f->map_len = (size_t)st.st_size;
	memcpy(&h, m, sizeof(h));
	if (memcmp(h.magic, KCACHE_MAGIC, 8) || h.kind != (uint32_t)kind)
		err = gp_error_create(GP_ERR_CORRUPT, "bad header");
	else if (h.version != KCACHE_VERSION)
		err = gp_error_create(GP_ERR_CORRUPT, "version %u, not %u", h.version, KCACHE_VERSION);
	else if (strncmp(h.build_id, build_id, sizeof(h.build_id)) ||
		 (strlen(build_id) < sizeof(h.build_id) && h.build_id[strlen(build_id)]))
		err = gp_error_create(GP_ERR_CORRUPT, "the file is of another build id");
	else if (h.payload_len != (uint64_t)st.st_size - sizeof(h))
		err = gp_error_create(GP_ERR_CORRUPT, "size %lld, header says %" PRIu64 " + %zu",
				      (long long)st.st_size, h.payload_len, sizeof(h));
	else if (kcache_hash((const uint8_t *)m + sizeof(h), h.payload_len, 0) != h.payload_hash)
		err = gp_error_create(GP_ERR_CORRUPT, "checksum mismatch");
	if (err) {
		kcache_release(f);
		return err;
	}
	f->payload = (const uint8_t *)m + sizeof(h);
	f->len = h.payload_len;
	return NULL;
}

void kcache_release(struct kcache_file *f)
{
	if (f->map)
		munmap(f->map, f->map_len);
	memset(f, 0, sizeof(*f));
}

static struct gp_error *write_all(int fd, const void *buf, size_t len, const char *path)
{
	const uint8_t *b = buf;

	while (len) {
		ssize_t w = write(fd, b, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return gp_error_os(errno, "write %s", path);
		b += w;
		len -= (size_t)w;
	}
	return NULL;
}

struct gp_error *kcache_write(const char *dir, const char *build_id, enum kcache_kind kind,
			      const void *payload, size_t len)
{
	struct kcache_hdr h;
	struct gp_error *err;
	char path[4200], tmp[4300];
	int fd;

	if (!build_id_ok(build_id))
		return gp_error_create(GP_ERR_INVAL, "no usable build id");
	if (len > KCACHE_MAX_FILE - sizeof(h))
		return gp_error_create(GP_ERR_LIMIT, "cache payload of %zu bytes", len);
	if ((err = make_dir(dir)))
		return err;
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, KCACHE_MAGIC, 8);
	h.version = KCACHE_VERSION;
	h.kind = kind;
	memcpy(h.build_id, build_id, strlen(build_id));
	h.payload_len = len;
	h.payload_hash = kcache_hash(payload, len, 0);
	kcache_path(path, sizeof(path), dir, build_id, kind);
	snprintf(tmp, sizeof(tmp), "%s/.%s.%s.XXXXXX", dir, build_id, kind_ext(kind));
	fd = mkstemp(tmp);	/* 0600 */
	if (fd < 0)
		return gp_error_os(errno, "create %s", tmp);
	if (!(err = write_all(fd, &h, sizeof(h), tmp)) && !(err = write_all(fd, payload, len, tmp)) &&
	    close(fd))
		err = gp_error_os(errno, "close %s", tmp);
	else if (err)
		close(fd);
	if (!err && rename(tmp, path))
		err = gp_error_os(errno, "rename %s to %s", tmp, path);
	if (err)
		unlink(tmp);
	return err;
}

/* ---- the symbol table ---- */

static bool sym_absolute(const struct ksym_raw *raw, uint32_t i)
{
	return raw->absolute_percpu && raw->offsets[i] >= 0;
}

struct gp_error *kcache_syms_encode(const struct ksym_table *t, const struct ksym_raw *raw,
				    uint64_t kaslr, void **payload, size_t *len)
{
	struct kcache_syms_head head = { 0 };
	struct kcache_sym *s;
	size_t n = t->nr, total, pool_len = 0, off;
	uint8_t *p;
	char *pool;

	*payload = NULL;
	if (n != raw->num_syms || !n)
		return gp_error_create(GP_ERR_INVAL, "symbol table is not the guest's kallsyms");
	for (size_t i = 0; i < n; i++)
		pool_len += strlen(ksym_name(t, &t->syms[i])) + 1;
	total = sizeof(head) + n * (sizeof(*s) + 8) + pool_len;
	p = malloc(total);
	if (!p)
		return &gp_error_nomem;
	head.num_syms = (uint32_t)n;
	head.absolute_percpu = raw->absolute_percpu;
	head.pool_len = pool_len;
	head.names_len = raw->names_len;
	head.token_table_len = raw->token_table_len;
	head.tables_hash = kcache_tables_hash(raw);
	head.base_rel = raw->relative_base - kaslr;
	memcpy(p, &head, sizeof(head));
	s = (struct kcache_sym *)(p + sizeof(head));
	pool = (char *)p + sizeof(head) + n * (sizeof(*s) + 8);
	for (size_t i = 0; i < n; i++) {
		bool abs = sym_absolute(raw, (uint32_t)i);

		s[i].addr_rel = abs ? t->syms[i].addr : t->syms[i].addr - kaslr;
		s[i].type = (uint8_t)t->syms[i].type | (abs ? KCACHE_ABS : 0);
	}
	off = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t si = t->by_name[i];
		const char *nm = ksym_name(t, &t->syms[si]);
		size_t l = strlen(nm) + 1;

		s[si].name = (uint32_t)off;
		memcpy(pool + off, nm, l);
		off += l;
	}
	memcpy(p + sizeof(head) + n * sizeof(*s), t->by_name, n * 4);
	memcpy(p + sizeof(head) + n * (sizeof(*s) + 4), t->by_addr, n * 4);
	*payload = p;
	*len = total;
	return NULL;
}

/* A permutation of 0..n-1. */
static bool is_perm(const uint32_t *v, size_t n, uint8_t *seen)
{
	memset(seen, 0, n);
	for (size_t i = 0; i < n; i++) {
		if (v[i] >= n || seen[v[i]])
			return false;
		seen[v[i]] = 1;
	}
	return true;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

#define SAMPLE_SPREAD 48
#define SAMPLE_RANDOM 16

/* Walk the guest's names: every symbol's type (the first character of
 * its first token) is compared, and a sample of symbols is decoded whole
 * and compared by name. */
static struct gp_error *check_sample(const struct ksym_table *t, const struct ksym_raw *raw,
				     uint64_t seed)
{
	uint32_t idx[SAMPLE_SPREAD + SAMPLE_RANDOM + 1], n = (uint32_t)t->nr;
	uint64_t x = seed | 1;
	size_t ns = 0, off = 0, next = 0;
	struct gp_error *err;

	for (uint32_t j = 0; j < SAMPLE_SPREAD; j++)
		idx[ns++] = (uint32_t)((uint64_t)j * n / SAMPLE_SPREAD);
	idx[ns++] = n - 1;
	for (int j = 0; j < SAMPLE_RANDOM; j++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		idx[ns++] = (uint32_t)(x % n);
	}
	qsort(idx, ns, sizeof(idx[0]), cmp_u32);
	if ((err = ksym_check_tokens(raw)))
		return err;
	for (uint32_t i = 0; i < n; i++) {
		char name[KSYM_NAME_LEN * 2];
		size_t nlen, codes, start = off;

		if (next < ns && i == idx[next]) {
			if ((err = ksym_decode_one(raw, i, &off, name, &nlen)))
				return err;
			while (next < ns && idx[next] == i)
				next++;
		} else {
			if ((err = ksym_skip_one(raw, i, &off, &codes)))
				return err;
			name[0] = raw->token_table[raw->token_index[raw->names[off - codes]]];
			name[1] = 0;
			if (name[0] == t->syms[i].type)
				continue;
		}
		if (name[0] != t->syms[i].type || (off - start && name[1] &&
						   strcmp(name + 1, ksym_name(t, &t->syms[i]))))
			return gp_error_create(GP_ERR_CORRUPT,
					       "symbol %u is %c %.64s in the cache, %c %.64s in the guest",
					       i, t->syms[i].type, ksym_name(t, &t->syms[i]), name[0],
					       name[1] ? name + 1 : "...");
	}
	return NULL;
}

struct gp_error *kcache_syms_decode(struct kcache_file *f, const struct ksym_raw *raw,
				    uint64_t kaslr, uint64_t seed, struct ksym_table **out)
{
	const uint8_t *p = f->payload;
	size_t len = f->len;
	struct kcache_syms_head head;
	const struct kcache_sym *cs;
	const uint32_t *by_name, *by_addr;
	struct ksym_table *t = NULL;
	struct gp_error *err = NULL;
	uint8_t *seen = NULL;
	uint32_t *want = NULL;
	uint64_t n, need, off, prev;
	const char *pool;
	void *sm;

	*out = NULL;
	if (len < sizeof(head))
		return gp_error_create(GP_ERR_CORRUPT, "symbols: %zu bytes", len);
	memcpy(&head, p, sizeof(head));
	n = head.num_syms;
	if (n == 0 || n > KSYM_MAX_SYMS || head.pool_len == 0 || head.pool_len > KSYM_MAX_POOL_BYTES)
		return gp_error_create(GP_ERR_CORRUPT, "symbols: %" PRIu64 " symbols, %" PRIu64 " bytes of names",
				       n, head.pool_len);
	need = sizeof(head) + n * (sizeof(*cs) + 8) + head.pool_len;
	if (need != len)
		return gp_error_create(GP_ERR_CORRUPT, "symbols: %zu bytes, %" PRIu64 " expected", len, need);
	/* The guest's side. */
	if (n != raw->num_syms || head.names_len != raw->names_len ||
	    head.token_table_len != raw->token_table_len ||
	    head.absolute_percpu != (uint32_t)raw->absolute_percpu ||
	    head.tables_hash != kcache_tables_hash(raw))
		return gp_error_create(GP_ERR_CORRUPT, "the guest's kallsyms tables differ");
	if (head.base_rel != raw->relative_base - kaslr)
		return gp_error_create(GP_ERR_CORRUPT,
				       "kallsyms_relative_base - KASLR offset is 0x%" PRIx64 " in the guest, 0x%" PRIx64 " in the cache",
				       raw->relative_base - kaslr, head.base_rel);
	/* The header is 48 bytes and records 16: all of this is aligned in
	 * a page-aligned mapping. */
	cs = (const void *)(p + sizeof(head));
	by_name = (const void *)(p + sizeof(head) + n * sizeof(*cs));
	by_addr = by_name + n;
	pool = (const char *)(by_addr + n);
	t = calloc(1, sizeof(*t));
	seen = malloc(n);
	want = malloc(n * sizeof(*want));
	sm = mmap(NULL, n * sizeof(*t->syms), PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (!t || !seen || !want || sm == MAP_FAILED) {
		if (sm != MAP_FAILED)
			munmap(sm, n * sizeof(*t->syms));
		free(t);
		free(seen);
		free(want);
		return &gp_error_nomem;
	}
	t->syms = sm;
	t->syms_map_len = n * sizeof(*t->syms);
	t->nr = n;
	/* Until it checks out, the table does not own the file. */
	t->pool = (char *)pool;
	t->pool_len = t->pool_cap = head.pool_len;
	t->by_name = (uint32_t *)by_name;
	t->by_addr = (uint32_t *)by_addr;
	if (!is_perm(by_name, n, seen) || !is_perm(by_addr, n, seen)) {
		err = gp_error_create(GP_ERR_CORRUPT, "symbols: an index is not a permutation");
		goto fail;
	}
	/* The pool is the names in by_name order, each once: read front to
	 * back, it gives the name offset each symbol must have (want, a
	 * quarter of the records' size, so the records are then read in
	 * order rather than at random) and checks the order. */
	off = prev = 0;
	for (size_t i = 0; i < n; i++) {
		const char *e = memchr(pool + off, 0, head.pool_len - off);

		if (!e) {
			err = gp_error_create(GP_ERR_CORRUPT, "symbols: names out of place at %zu", i);
			goto fail;
		}
		if (i) {
			int c = strcmp(pool + prev, pool + off);

			if (c > 0 || (c == 0 && by_name[i - 1] > by_name[i])) {
				err = gp_error_create(GP_ERR_CORRUPT, "symbols: name index out of order at %zu", i);
				goto fail;
			}
		}
		want[by_name[i]] = (uint32_t)off;
		prev = off;
		off = (uint64_t)(e - pool) + 1;
	}
	if (off != head.pool_len) {
		err = gp_error_create(GP_ERR_CORRUPT, "symbols: %" PRIu64 " bytes of names unused",
				      head.pool_len - off);
		goto fail;
	}
	for (uint32_t i = 0; i < n; i++) {
		uint64_t at = ksym_raw_addr(raw, i);
		bool abs = cs[i].type & KCACHE_ABS;
		uint32_t c = cs[i].type & 0xff;

		if (cs[i].name != want[i]) {
			err = gp_error_create(GP_ERR_CORRUPT, "symbols: names out of place at record %u", i);
			goto fail;
		}
		if (c < 0x21 || c > 0x7e || (cs[i].type & ~0x1ffu)) {
			err = gp_error_create(GP_ERR_CORRUPT, "symbols: record %u malformed", i);
			goto fail;
		}
		t->syms[i].addr = abs ? cs[i].addr_rel : cs[i].addr_rel + kaslr;
		t->syms[i].name = cs[i].name;
		t->syms[i].index = i;
		t->syms[i].type = (char)c;
		if (abs != sym_absolute(raw, i) || t->syms[i].addr != at) {
			err = gp_error_create(GP_ERR_CORRUPT,
					      "symbol %u is at 0x%" PRIx64 " in the cache, 0x%" PRIx64 " in the guest",
					      i, t->syms[i].addr, at);
			goto fail;
		}
	}
	for (size_t i = 1; i < n; i++) {
		const struct ksym *a = &t->syms[by_addr[i - 1]], *b = &t->syms[by_addr[i]];

		if (a->addr > b->addr || (a->addr == b->addr && a->index > b->index)) {
			err = gp_error_create(GP_ERR_CORRUPT, "symbols: address index out of order at %zu", i);
			goto fail;
		}
	}
	if ((err = check_sample(t, raw, seed)))
		goto fail;
	free(seen);
	free(want);
	t->file_map = f->map;
	t->file_map_len = f->map_len;
	memset(f, 0, sizeof(*f));
	*out = t;
	return NULL;
fail:
	free(seen);
	free(want);
	t->pool = NULL;
	t->by_name = t->by_addr = NULL;
	ksym_free(t);
	return err;
}
