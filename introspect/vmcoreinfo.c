// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmcoreinfo.h"

#define PAGE_SIZE 4096ull
#define MAGIC "OSRELEASE="

struct gp_error *vmci_parse(const void *text, size_t len, uint64_t pa,
			    struct vmcoreinfo *vi)
{
	const char *s = text;
	size_t n, i;

	memset(vi, 0, sizeof(*vi));
	if (len > VMCI_MAX_BYTES)
		len = VMCI_MAX_BYTES;
	n = strnlen(s, len);
	if (n < sizeof(MAGIC) - 1 || memcmp(s, MAGIC, sizeof(MAGIC) - 1))
		return gp_error_addr(GP_ERR_CORRUPT, pa,
				     "no VMCOREINFO at 0x%llx",
				     (unsigned long long)pa);
	/* Only printable lines: anything else is not the kernel's text. */
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c != '\n' && (c < 0x20 || c > 0x7e))
			return gp_error_addr(GP_ERR_CORRUPT, pa + i,
					     "VMCOREINFO at 0x%llx has a non-text byte 0x%02x at offset %zu",
					     (unsigned long long)pa, c, i);
	}
	vi->text = malloc(n + 1);
	if (!vi->text)
		return &gp_error_nomem;
	memcpy(vi->text, s, n);
	vi->text[n] = '\0';
	vi->len = n;
	vi->pa = pa;
	return NULL;
}

void vmci_free(struct vmcoreinfo *vi)
{
	free(vi->text);
	memset(vi, 0, sizeof(*vi));
}

const char *vmci_get(const struct vmcoreinfo *vi, const char *key, size_t *len)
{
	size_t klen = strlen(key);
	const char *p = vi->text, *end = vi->text + vi->len;

	while (p && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;

		if ((size_t)(eol - p) > klen && !memcmp(p, key, klen) &&
		    p[klen] == '=') {
			*len = (size_t)(eol - p) - klen - 1;
			return p + klen + 1;
		}
		p = nl ? nl + 1 : NULL;
	}
	return NULL;
}

struct gp_error *vmci_get_str(const struct vmcoreinfo *vi, const char *key,
			      char **out)
{
	size_t len;
	const char *v = vmci_get(vi, key, &len);

	if (!v)
		return gp_error_create(GP_ERR_NOTFOUND,
				       "VMCOREINFO has no %s", key);
	*out = strndup(v, len);
	return *out ? NULL : &gp_error_nomem;
}

static struct gp_error *get_int(const struct vmcoreinfo *vi, const char *key,
				int base, bool is_signed, uint64_t *out)
{
	char buf[32], *end;
	size_t len;
	const char *v = vmci_get(vi, key, &len);

	if (!v)
		return gp_error_create(GP_ERR_NOTFOUND,
				       "VMCOREINFO has no %s", key);
	if (len == 0 || len >= sizeof(buf))
		goto bad;
	memcpy(buf, v, len);
	buf[len] = '\0';
	errno = 0;
	if (is_signed)
		*out = (uint64_t)strtoll(buf, &end, base);
	else
		*out = strtoull(buf, &end, base);
	if (errno || *end || (!is_signed && buf[0] == '-'))
		goto bad;
	return NULL;
bad:
	return gp_error_addr(GP_ERR_CORRUPT, vi->pa,
			     "VMCOREINFO %s has a malformed value '%.*s'", key,
			     (int)(len > 40 ? 40 : len), v);
}

struct gp_error *vmci_get_hex(const struct vmcoreinfo *vi, const char *key,
			      uint64_t *out)
{
	return get_int(vi, key, 16, false, out);
}

struct gp_error *vmci_get_num(const struct vmcoreinfo *vi, const char *key,
			      int64_t *out)
{
	return get_int(vi, key, 10, true, (uint64_t *)out);
}

struct gp_error *vmci_symbol(const struct vmcoreinfo *vi, const char *name,
			     uint64_t *out)
{
	char key[128];

	snprintf(key, sizeof(key), "SYMBOL(%s)", name);
	return vmci_get_hex(vi, key, out);
}

static bool try_candidate(const void *page, uint64_t pa, vmci_accept_fn accept,
			  void *arg, struct vmcoreinfo *out)
{
	struct gp_error *err;

	err = vmci_parse(page, PAGE_SIZE, pa, out);
	if (err) {
		gp_error_destroy(err);
		return false;
	}
	if (!accept || accept(out, arg))
		return true;
	vmci_free(out);
	return false;
}

struct gp_error *vmci_scan(struct tgt *t, uint64_t limit, vmci_accept_fn accept,
			   void *arg, struct vmcoreinfo *out)
{
	/* Map in large chunks when the backend can; else 16-byte probes. */
	const uint64_t chunk = 64ull << 20;
	uint8_t probe[16], page[PAGE_SIZE];
	unsigned rejected = 0;
	uint64_t pa;

	memset(out, 0, sizeof(*out));
	for (pa = 0; pa < limit;) {
		uint64_t n = limit - pa < chunk ? limit - pa : chunk;
		const uint8_t *m = tgt_map_phys(t, pa, n);

		if (m) {
			for (uint64_t off = 0; off < n; off += PAGE_SIZE) {
				if (memcmp(m + off, MAGIC, sizeof(MAGIC) - 1))
					continue;
				if (try_candidate(m + off, pa + off, accept,
						  arg, out))
					return NULL;
				rejected++;
			}
			pa += n;
			continue;
		}
		struct gp_error *err = tgt_read_phys(t, pa, probe, sizeof(probe));

		if (err) {
			/* Holes (MMIO, unbacked) are skipped, not fatal. */
			gp_error_destroy(err);
			pa += PAGE_SIZE;
			continue;
		}
		if (!memcmp(probe, MAGIC, sizeof(MAGIC) - 1)) {
			err = tgt_read_phys(t, pa, page, sizeof(page));
			if (!err && try_candidate(page, pa, accept, arg, out))
				return NULL;
			gp_error_destroy(err);
			rejected++;
		}
		pa += PAGE_SIZE;
	}
	return gp_error_create(GP_ERR_NOTFOUND,
			       "no valid VMCOREINFO in guest-physical 0..0x%llx (%u candidate%s rejected); is this a Linux guest with CONFIG_CRASH_CORE, and has it finished booting?",
			       (unsigned long long)limit, rejected,
			       rejected == 1 ? "" : "s");
}
