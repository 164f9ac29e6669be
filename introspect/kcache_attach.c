// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * kcache_attach.c - the attach cache at work (kcache.h): kern_attach()
 * takes its symbol table and BTF through here, from the cache when the
 * files fit the guest, else decoded from the guest and the files
 * rewritten; what commands learn from BTF is saved at detach.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gp_time.h"
#include "kcache.h"
#include "kernel.h"

#define BTF_CHUNK (64u << 10)

/* The BTF's hash, in chunks of BTF_CHUNK whether it was read in one piece
 * or chunk by chunk. */
static uint64_t chunk_hash(const uint8_t *p, size_t len, uint64_t h)
{
	for (size_t off = 0; off < len; off += BTF_CHUNK)
		h = kcache_hash(p + off, len - off < BTF_CHUNK ? len - off : BTF_CHUNK, h);
	return h;
}

/* The hash of len bytes of guest memory at va, straight from the RAM
 * mapping when it lies in the kernel image, else read chunk by chunk. */
static struct gp_error *guest_hash(struct kern *k, uint64_t va, size_t len, uint64_t *out)
{
	uint64_t h = (uint64_t)len;
	struct gp_error *err;
	uint8_t *buf;

	if (k->text_start && va >= k->text_start && va + len > va && va + len <= k->image_end) {
		const uint8_t *m = tgt_map_phys(k->t, va - KERN_START_KERNEL_MAP + k->phys_base, len);

		if (m) {
			*out = chunk_hash(m, len, h);
			return NULL;
		}
	}
	buf = malloc(BTF_CHUNK);
	if (!buf)
		return &gp_error_nomem;
	for (size_t off = 0; off < len; off += BTF_CHUNK) {
		size_t n = len - off < BTF_CHUNK ? len - off : BTF_CHUNK;

		if ((err = kern_read(k, va + off, buf, n))) {
			free(buf);
			return err;
		}
		h = kcache_hash(buf, n, h);
	}
	free(buf);
	*out = h;
	return NULL;
}

static uint64_t sample_seed(const struct kern *k)
{
	return gp_now_ns() ^ ((uint64_t)getpid() << 32) ^ k->kaslr_offset;
}

struct gp_error *kcache_attach_syms(struct kern *k, const struct ksym_raw *raw)
{
	struct gp_error *err, *why = NULL;
	struct kcache_file f;
	void *payload = NULL;
	size_t len = 0;

	if (!k->cache_dir || !k->build_id[0])
		return ksym_decode(raw, &k->syms);
	why = kcache_read(k->cache_dir, k->build_id, KCACHE_SYMS, &f);
	if (!why) {
		why = kcache_syms_decode(&f, raw, k->kaslr_offset, sample_seed(k), &k->syms);
		kcache_release(&f);
		if (!why) {
			snprintf(k->cache_syms, sizeof(k->cache_syms), "hit");
			return NULL;
		}
	}
	if (why == &gp_error_nomem)
		return why;
	if (why->code == GP_ERR_NOTFOUND)
		snprintf(k->cache_syms, sizeof(k->cache_syms), "miss");
	else
		snprintf(k->cache_syms, sizeof(k->cache_syms), "rebuilt (%.180s)", why->msg);
	gp_error_destroy(why);
	if ((err = ksym_decode(raw, &k->syms)))
		return err;
	if (!(why = kcache_syms_encode(k->syms, raw, k->kaslr_offset, &payload, &len)))
		why = kcache_write(k->cache_dir, k->build_id, KCACHE_SYMS, payload, len);
	free(payload);
	if (why) {
		size_t n = strlen(k->cache_syms);

		snprintf(k->cache_syms + n, sizeof(k->cache_syms) - n, ", not saved: %.100s", why->msg);
		gp_error_destroy(why);
	}
	return NULL;
}

static struct gp_error *fetch_btf(void *arg, uint64_t hash, void **data, size_t *len)
{
	struct kern *k = arg;
	struct gp_error *err;
	void *p;

	if ((err = kern_read_alloc(k, k->btf_va, k->btf_len, &p)))
		return err;
	if (chunk_hash(p, k->btf_len, (uint64_t)k->btf_len) != hash) {
		free(p);
		return gp_error_create(GP_ERR_CORRUPT, "the guest's BTF changed since attach");
	}
	*data = p;
	*len = k->btf_len;
	return NULL;
}

struct gp_error *kcache_attach_btf(struct kern *k, uint64_t va, size_t len)
{
	struct gp_error *err, *why = NULL;
	struct kcache_btf_head head;
	struct kcache_file f;
	void *data;

	k->btf_va = va;
	k->btf_len = len;
	if (k->cache_dir && k->build_id[0]) {
		why = kcache_read(k->cache_dir, k->build_id, KCACHE_BTF, &f);
		if (!why && f.len < sizeof(head))
			why = gp_error_create(GP_ERR_CORRUPT, "BTF: %zu bytes", f.len);
		if (!why) {
			memcpy(&head, f.payload, sizeof(head));
			if (head.btf_len != len)
				why = gp_error_create(GP_ERR_CORRUPT, "the guest's BTF is %zu bytes, %" PRIu64 " in the cache",
						      len, head.btf_len);
		}
		if (!why && (err = guest_hash(k, va, len, &k->btf_hash))) {
			kcache_release(&f);
			return gp_error_wrap(err, "reading guest BTF");
		}
		if (!why && head.btf_hash != k->btf_hash)
			why = gp_error_create(GP_ERR_CORRUPT, "the guest's BTF differs");
		if (!why && !(why = kbtf_lazy(len, k->btf_hash, fetch_btf, k, &k->btf)) &&
		    (why = kbtf_memo_import(k->btf, f.payload + sizeof(head), f.len - sizeof(head)))) {
			kbtf_free(k->btf);
			k->btf = NULL;
		}
		kcache_release(&f);
		if (!why) {
			snprintf(k->cache_btf, sizeof(k->cache_btf), "hit");
			return NULL;
		}
		if (why == &gp_error_nomem)
			return why;
		if (why->code == GP_ERR_NOTFOUND)
			snprintf(k->cache_btf, sizeof(k->cache_btf), "miss");
		else
			snprintf(k->cache_btf, sizeof(k->cache_btf), "rebuilt (%.180s)", why->msg);
		gp_error_destroy(why);
	}
	if ((err = kern_read_alloc(k, va, len, &data)))
		return gp_error_wrap(err, "reading guest BTF");
	k->btf_hash = chunk_hash(data, len, (uint64_t)len);
	err = kbtf_load(data, len, &k->btf);
	free(data);
	/* What is learnt now is saved at detach (a miss: even if nothing). */
	if (!err && k->cache_dir && k->build_id[0])
		k->btf->memo_dirty = true;
	return err;
}

void kcache_detach(struct kern *k)
{
	struct kcache_btf_head head = { .btf_len = k->btf_len, .btf_hash = k->btf_hash };
	void *memo = NULL, *p;
	size_t mlen = 0;

	if (!k->cache_dir || !k->build_id[0] || !k->btf || !k->btf_len || !kbtf_memo_dirty(k->btf))
		return;
	if (!gp_ok(kbtf_memo_export(k->btf, &memo, &mlen)))
		return;
	p = malloc(sizeof(head) + mlen);
	if (p) {
		memcpy(p, &head, sizeof(head));
		memcpy((uint8_t *)p + sizeof(head), memo, mlen);
		gp_error_destroy(kcache_write(k->cache_dir, k->build_id, KCACHE_BTF, p,
					      sizeof(head) + mlen));
	}
	free(p);
	free(memo);
}

/* The hints of all targets in one file, "0.vmci" (there is no build id
 * before VMCOREINFO is found): up to HINTS (target spec hash, address)
 * pairs, the newest first.  Writers racing lose a hint, nothing more. */
#define HINTS 64

struct vmci_hint {
	uint64_t spec_hash, pa;
};

static size_t read_hints(const struct kern *k, struct vmci_hint *h)
{
	struct kcache_file f;
	size_t n = 0;

	if (gp_ok(kcache_read(k->cache_dir, "0", KCACHE_VMCI, &f))) {
		if (f.len % sizeof(*h) == 0 && f.len <= HINTS * sizeof(*h)) {
			n = f.len / sizeof(*h);
			memcpy(h, f.payload, f.len);
		}
		kcache_release(&f);
	}
	return n;
}

static uint64_t spec_hash(const struct kern *k)
{
	return kcache_hash(k->t->spec, strlen(k->t->spec), 7);
}

bool kcache_vmci_hint(const struct kern *k, uint64_t *pa)
{
	struct vmci_hint h[HINTS];
	size_t n;
	uint64_t sh;

	if (!k->cache_dir || !k->t->spec)
		return false;
	n = read_hints(k, h);
	sh = spec_hash(k);
	for (size_t i = 0; i < n; i++)
		if (h[i].spec_hash == sh) {
			*pa = h[i].pa;
			return true;
		}
	return false;
}

void kcache_vmci_save(const struct kern *k, uint64_t pa)
{
	struct vmci_hint h[HINTS + 1];
	size_t n, m = 1;

	if (!k->cache_dir || !k->t->spec)
		return;
	n = read_hints(k, h + 1);
	h[0] = (struct vmci_hint){ spec_hash(k), pa };
	for (size_t i = 1; i <= n && m < HINTS; i++)
		if (h[i].spec_hash != h[0].spec_hash)
			h[m++] = h[i];
	gp_error_destroy(kcache_write(k->cache_dir, "0", KCACHE_VMCI, h, m * sizeof(*h)));
}

void kcache_note(const struct kern *k, char *buf, size_t len)
{
	if (!strcmp(k->cache_syms, k->cache_btf))
		snprintf(buf, len, "%s", k->cache_syms);
	else
		snprintf(buf, len, "symbols %s, BTF %s", k->cache_syms, k->cache_btf);
}
