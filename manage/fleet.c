// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fleet.c - the fleet inventory (strict JSON parsing, patch catalog checks),
 * the policy values, Ansible-style batches and the plan.  Pure logic: the
 * runner is vmm/cli/cmd_fleet*.c.  The format: configs/fleet/README.md.
 *
 * lines: one strict parser per inventory section plus the plan; they share
 * the checked getters at the top, which is why they stay in one file.
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fleet.h"
#include "lp_elf.h"

static struct gp_error *bad(const char *key, const char *what)
{
	return gp_error_create(GP_ERR_INVAL, "inventory: %s: %s", key, what);
}

/* Every key of o must be in keys[] (NULL-terminated). */
static struct gp_error *only_keys(json_object *o, const char *where, const char *const *keys)
{
	json_object_object_foreach(o, k, v) {
		size_t i;

		(void)v;
		for (i = 0; keys[i]; i++)
			if (!strcmp(k, keys[i]))
				break;
		if (!keys[i])
			return gp_error_create(GP_ERR_INVAL, "inventory: %s: unknown key '%.64s'",
					       where, k);
	}
	return NULL;
}

static struct gp_error *get_str(json_object *o, const char *where, const char *key, bool need,
				char *dst, size_t cap)
{
	json_object *v;
	char path[160];
	size_t len;

	snprintf(path, sizeof(path), "%s.%s", where, key);
	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null)) {
		if (need)
			return bad(path, "missing");
		return NULL;
	}
	if (!json_object_is_type(v, json_type_string))
		return bad(path, "expected a string");
	len = (size_t)json_object_get_string_len(v);
	if (len >= cap)
		return gp_error_create(GP_ERR_INVAL, "inventory: %s: longer than %zu bytes", path,
				       cap - 1);
	if (memchr(json_object_get_string(v), '\0', len))
		return bad(path, "contains a NUL byte");
	if (need && !len)
		return bad(path, "empty");
	memcpy(dst, json_object_get_string(v), len + 1);
	return NULL;
}

static struct gp_error *get_num(json_object *o, const char *where, const char *key, double lo,
				double hi, bool integer, double *dst)
{
	json_object *v;
	char path[160];
	double d;

	snprintf(path, sizeof(path), "%s.%s", where, key);
	if (!json_object_object_get_ex(o, key, &v))
		return NULL;
	if (json_object_is_type(v, json_type_int))
		d = (double)json_object_get_int64(v);
	else if (json_object_is_type(v, json_type_double) && !integer)
		d = json_object_get_double(v);
	else
		return bad(path, integer ? "expected an integer" : "expected a number");
	if (!isfinite(d) || d < lo || d > hi)
		return gp_error_create(GP_ERR_INVAL, "inventory: %s: %g is out of range (%g..%g)",
				       path, d, lo, hi);
	*dst = d;
	return NULL;
}

static struct gp_error *get_bool(json_object *o, const char *where, const char *key, bool *dst)
{
	json_object *v;
	char path[160];

	snprintf(path, sizeof(path), "%s.%s", where, key);
	if (!json_object_object_get_ex(o, key, &v))
		return NULL;
	if (!json_object_is_type(v, json_type_boolean))
		return bad(path, "expected true or false");
	*dst = json_object_get_boolean(v);
	return NULL;
}

/* A name: printable, no '/', no leading '.', so it can name a file. */
static struct gp_error *check_name(const char *where, const char *s)
{
	if (s[0] == '.')
		return bad(where, "a name may not start with '.'");
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == '/' || (unsigned char)*p >= 0x7f)
			return bad(where, "a name may hold only printable ASCII without spaces or '/'");
	return NULL;
}

static struct gp_error *get_array(json_object *root, const char *key, bool need, size_t cap,
				  json_object **out)
{
	json_object *v;

	*out = NULL;
	if (!json_object_object_get_ex(root, key, &v)) {
		if (need)
			return bad(key, "missing");
		return NULL;
	}
	if (!json_object_is_type(v, json_type_array))
		return bad(key, "expected an array");
	if (json_object_array_length(v) > cap)
		return gp_error_create(GP_ERR_LIMIT, "inventory: %s: more than %zu entries", key, cap);
	*out = v;
	return NULL;
}

const char *fleet_stall_name(enum fleet_stall s)
{
	static const char *const n[] = { "wait", "signal", "revert", "force" };

	return (unsigned)s < ARRAY_SIZE(n) ? n[s] : "?";
}

const char *fleet_rollback_name(enum fleet_rollback r)
{
	static const char *const n[] = { "none", "failed", "batch", "all" };

	return (unsigned)r < ARRAY_SIZE(n) ? n[r] : "?";
}

struct gp_error *fleet_stall_parse(const char *s, enum fleet_stall *out)
{
	for (int i = 0; i <= FLEET_STALL_FORCE; i++)
		if (!strcmp(s, fleet_stall_name(i))) {
			*out = i;
			return NULL;
		}
	return gp_error_create(GP_ERR_INVAL, "on_stall '%.32s': expected wait, signal, revert or force", s);
}

struct gp_error *fleet_rollback_parse(const char *s, enum fleet_rollback *out)
{
	for (int i = 0; i <= FLEET_RB_ALL; i++)
		if (!strcmp(s, fleet_rollback_name(i))) {
			*out = i;
			return NULL;
		}
	return gp_error_create(GP_ERR_INVAL, "rollback '%.32s': expected none, failed, batch or all", s);
}

/* "N" or "P%"; N up to 100000, P 0..100. */
static bool parse_count(const char *s, size_t len, int *v, bool *pct)
{
	long n = 0;
	size_t i;

	*pct = len > 0 && s[len - 1] == '%';
	if (*pct)
		len--;
	if (!len || len > 6)
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		n = n * 10 + (s[i] - '0');
	}
	if (*pct && n > 100)
		return false;
	*v = (int)n;
	return true;
}

struct gp_error *fleet_serial_parse(const char *s, struct fleet_serial *out)
{
	const char *p = s;

	memset(out, 0, sizeof(*out));
	if (strlen(s) >= 128)
		return gp_error_create(GP_ERR_INVAL, "serial: longer than 127 bytes");
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		if (out->n == FLEET_MAX_SERIAL)
			return gp_error_create(GP_ERR_LIMIT, "serial '%s': more than %d entries", s,
					       FLEET_MAX_SERIAL);
		if (!parse_count(p, len, &out->val[out->n], &out->pct[out->n]))
			return gp_error_create(GP_ERR_INVAL,
					       "serial '%s': expected a list of counts or percentages (\"1,5,25%%\")",
					       s);
		out->n++;
		if (!comma)
			break;
		p = comma + 1;
		if (!*p)
			return gp_error_create(GP_ERR_INVAL, "serial '%s': ends with a comma", s);
	}
	return NULL;
}

struct gp_error *fleet_max_fail_parse(const char *s, int *n, bool *pct)
{
	if (!parse_count(s, strlen(s), n, pct))
		return gp_error_create(GP_ERR_INVAL, "max_fail '%.32s': expected N or P%% (0..100)", s);
	return NULL;
}

size_t fleet_serial_batches(const struct fleet_serial *s, size_t n, size_t *sizes, size_t max)
{
	size_t nb = 0, left = n;
	int cur = 0;

	while (left && nb < max) {
		long size;

		if (!s->n) {
			size = 0;
		} else if (s->pct[cur]) {
			/* pct_to_int(): int(pct / 100 * n) or 1 */
			size = (long)((double)s->val[cur] / 100.0 * (double)n);
			if (size < 1)
				size = 1;
		} else {
			size = s->val[cur];
		}
		if (size <= 0 || (size_t)size > left)
			size = (long)left;
		/* The last batch slot takes the rest: never more than max. */
		if (nb == max - 1)
			size = (long)left;
		sizes[nb++] = (size_t)size;
		left -= (size_t)size;
		if (cur < s->n - 1)
			cur++;
	}
	return nb;
}

bool fleet_fail_exceeds(const struct fleet_policy *p, size_t nfail, size_t size)
{
	if (p->max_fail_pct)
		return size && (double)nfail * 100.0 / (double)size > (double)p->max_fail;
	return nfail > (size_t)p->max_fail;
}

static bool hex40(const char *s)
{
	return strlen(s) == 40 && strspn(s, "0123456789abcdef") == 40;
}

struct gp_error *fleet_policy_parse(json_object *o, struct fleet_policy *p)
{
	static const char *const keys[] = { "serial", "max_parallel", "max_fail", "on_stall",
		"stall_s", "rollback", "health", "soak_s", NULL };
	struct gp_error *err;
	char buf[128];
	double d;

	memset(p, 0, sizeof(*p));
	p->max_parallel = 4;
	p->on_stall = FLEET_STALL_SIGNAL;
	p->stall_s = 30;
	p->rollback = FLEET_RB_FAILED;
	p->health = true;
	p->soak_s = -1;
	if (!o)
		return NULL;
	if (!json_object_is_type(o, json_type_object))
		return bad("policy", "expected an object");
	if ((err = only_keys(o, "policy", keys)))
		return err;
	buf[0] = '\0';
	if ((err = get_str(o, "policy", "serial", false, buf, sizeof(buf))))
		return err;
	if (buf[0]) {
		if ((err = fleet_serial_parse(buf, &p->serial)))
			return gp_error_wrap(err, "inventory: policy");
		snprintf(p->serial_text, sizeof(p->serial_text), "%s", buf);
	}
	d = p->max_parallel;
	if ((err = get_num(o, "policy", "max_parallel", 1, 256, true, &d)))
		return err;
	p->max_parallel = (int)d;
	buf[0] = '\0';
	if ((err = get_str(o, "policy", "max_fail", false, buf, 16)))
		return err;
	if (buf[0] && (err = fleet_max_fail_parse(buf, &p->max_fail, &p->max_fail_pct)))
		return gp_error_wrap(err, "inventory: policy");
	buf[0] = '\0';
	if ((err = get_str(o, "policy", "on_stall", false, buf, 16)))
		return err;
	if (buf[0] && (err = fleet_stall_parse(buf, &p->on_stall)))
		return gp_error_wrap(err, "inventory: policy");
	if ((err = get_num(o, "policy", "stall_s", 1, 86400, false, &p->stall_s)))
		return err;
	buf[0] = '\0';
	if ((err = get_str(o, "policy", "rollback", false, buf, 16)))
		return err;
	if (buf[0] && (err = fleet_rollback_parse(buf, &p->rollback)))
		return gp_error_wrap(err, "inventory: policy");
	if ((err = get_bool(o, "policy", "health", &p->health)))
		return err;
	return get_num(o, "policy", "soak_s", 0, 7 * 86400, false, &p->soak_s);
}

static struct gp_error *parse_hosts(json_object *root, struct fleet_inv *inv)
{
	static const char *const keys[] = { "name", "uri", "max_parallel", NULL };
	json_object *arr;
	struct gp_error *err;

	if ((err = get_array(root, "hosts", true, FLEET_MAX_HOSTS, &arr)))
		return err;
	inv->nhosts = json_object_array_length(arr);
	if (!inv->nhosts)
		return bad("hosts", "no host");
	if (!(inv->hosts = calloc(inv->nhosts, sizeof(*inv->hosts))))
		return &gp_error_nomem;
	for (size_t i = 0; i < inv->nhosts; i++) {
		json_object *o = json_object_array_get_idx(arr, i);
		struct fleet_host *h = &inv->hosts[i];
		char where[32];
		double d = 0;

		snprintf(where, sizeof(where), "hosts[%zu]", i);
		if (!json_object_is_type(o, json_type_object))
			return bad(where, "expected an object");
		if ((err = only_keys(o, where, keys)) ||
		    (err = get_str(o, where, "name", true, h->name, sizeof(h->name))) ||
		    (err = check_name(where, h->name)) ||
		    (err = get_str(o, where, "uri", false, h->uri, sizeof(h->uri))) ||
		    (err = get_num(o, where, "max_parallel", 1, 256, true, &d)))
			return err;
		h->max_parallel = (int)d;
		if (strchr(h->uri, ','))
			return bad(where, "uri: a ',' cannot be passed in a libvirt: target spec");
		for (size_t j = 0; j < i; j++)
			if (!strcmp(inv->hosts[j].name, h->name))
				return gp_error_create(GP_ERR_INVAL, "inventory: %s.name: '%s' is also hosts[%zu]",
						       where, h->name, j);
	}
	return NULL;
}

static struct gp_error *parse_rings(json_object *root, struct fleet_inv *inv)
{
	static const char *const keys[] = { "name", "soak_s", NULL };
	json_object *arr;
	struct gp_error *err;

	if ((err = get_array(root, "rings", true, FLEET_MAX_RINGS, &arr)))
		return err;
	inv->nrings = json_object_array_length(arr);
	if (!inv->nrings)
		return bad("rings", "no ring");
	for (size_t i = 0; i < inv->nrings; i++) {
		json_object *o = json_object_array_get_idx(arr, i);
		struct fleet_ring *r = &inv->rings[i];
		char where[32];

		snprintf(where, sizeof(where), "rings[%zu]", i);
		if (!json_object_is_type(o, json_type_object))
			return bad(where, "expected an object");
		if ((err = only_keys(o, where, keys)) ||
		    (err = get_str(o, where, "name", true, r->name, sizeof(r->name))) ||
		    (err = check_name(where, r->name)) ||
		    (err = get_num(o, where, "soak_s", 0, 7 * 86400, false, &r->soak_s)))
			return err;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(inv->rings[j].name, r->name))
				return gp_error_create(GP_ERR_INVAL, "inventory: %s.name: '%s' is also rings[%zu]",
						       where, r->name, j);
	}
	return NULL;
}

static int ring_index(const struct fleet_inv *inv, const char *name)
{
	for (size_t i = 0; i < inv->nrings; i++)
		if (!strcmp(inv->rings[i].name, name))
			return (int)i;
	return -1;
}

int fleet_inv_host(const struct fleet_inv *inv, const char *name)
{
	for (size_t i = 0; i < inv->nhosts; i++)
		if (!strcmp(inv->hosts[i].name, name))
			return (int)i;
	return -1;
}

int fleet_inv_guest(const struct fleet_inv *inv, const char *name)
{
	for (size_t i = 0; i < inv->nguests; i++)
		if (!strcmp(inv->guests[i].name, name))
			return (int)i;
	return -1;
}

static struct gp_error *parse_guests(json_object *root, struct fleet_inv *inv)
{
	static const char *const keys[] = { "name", "host", "domain", "target", "ring", "group", NULL };
	json_object *arr;
	struct gp_error *err;

	if ((err = get_array(root, "guests", true, FLEET_MAX_GUESTS, &arr)))
		return err;
	inv->nguests = json_object_array_length(arr);
	if (!inv->nguests)
		return bad("guests", "no guest");
	if (!(inv->guests = calloc(inv->nguests, sizeof(*inv->guests))))
		return &gp_error_nomem;
	for (size_t i = 0; i < inv->nguests; i++) {
		json_object *o = json_object_array_get_idx(arr, i);
		struct fleet_guest *g = &inv->guests[i];
		char where[32], host[FLEET_NAME_MAX] = "", ring[FLEET_NAME_MAX] = "";
		char domain[FLEET_NAME_MAX * 2] = "";

		snprintf(where, sizeof(where), "guests[%zu]", i);
		if (!json_object_is_type(o, json_type_object))
			return bad(where, "expected an object");
		if ((err = only_keys(o, where, keys)) ||
		    (err = get_str(o, where, "name", true, g->name, sizeof(g->name))) ||
		    (err = check_name(where, g->name)) ||
		    (err = get_str(o, where, "host", true, host, sizeof(host))) ||
		    (err = get_str(o, where, "ring", true, ring, sizeof(ring))) ||
		    (err = get_str(o, where, "group", false, g->group, sizeof(g->group))) ||
		    (err = get_str(o, where, "domain", false, domain, sizeof(domain))) ||
		    (err = get_str(o, where, "target", false, g->target, sizeof(g->target))))
			return err;
		if ((g->host = fleet_inv_host(inv, host)) < 0)
			return gp_error_create(GP_ERR_INVAL, "inventory: %s.host: no host '%s' in hosts",
					       where, host);
		if ((g->ring = ring_index(inv, ring)) < 0)
			return gp_error_create(GP_ERR_INVAL, "inventory: %s.ring: no ring '%s' in rings",
					       where, ring);
		if (!!domain[0] == !!g->target[0])
			return bad(where, "give exactly one of domain (a libvirt domain on the host's uri) or target (any target spec)");
		if (domain[0]) {
			const char *uri = inv->hosts[g->host].uri;
			int n;

			if (strchr(domain, ','))
				return bad(where, "domain: a ',' cannot be passed in a libvirt: target spec");
			n = snprintf(g->target, sizeof(g->target), "libvirt:%s%s%s", domain,
				     uri[0] ? ",uri=" : "", uri);
			if (n < 0 || (size_t)n >= sizeof(g->target))
				return bad(where, "domain and uri make a target spec too long");
		}
		for (size_t j = 0; j < i; j++)
			if (!strcmp(inv->guests[j].name, g->name))
				return gp_error_create(GP_ERR_INVAL, "inventory: %s.name: '%s' is also guests[%zu]",
						       where, g->name, j);
	}
	return NULL;
}

static struct gp_error *parse_patches(json_object *root, struct fleet_inv *inv)
{
	static const char *const keys[] = { "build_id", "file", "cumulative", NULL };
	json_object *arr;
	struct gp_error *err;

	if ((err = get_array(root, "patches", true, FLEET_MAX_PATCHES, &arr)))
		return err;
	inv->npatches = json_object_array_length(arr);
	if (inv->npatches && !(inv->patches = calloc(inv->npatches, sizeof(*inv->patches))))
		return &gp_error_nomem;
	for (size_t i = 0; i < inv->npatches; i++) {
		json_object *o = json_object_array_get_idx(arr, i);
		struct fleet_patch *p = &inv->patches[i];
		char where[32];
		size_t same = 0;

		snprintf(where, sizeof(where), "patches[%zu]", i);
		if (!json_object_is_type(o, json_type_object))
			return bad(where, "expected an object");
		if ((err = only_keys(o, where, keys)) ||
		    (err = get_str(o, where, "build_id", true, p->build_id, sizeof(p->build_id))) ||
		    (err = get_str(o, where, "file", true, p->file, sizeof(p->file))) ||
		    (err = get_bool(o, where, "cumulative", &p->cumulative)))
			return err;
		if (!hex40(p->build_id))
			return gp_error_create(GP_ERR_INVAL,
					       "inventory: %s.build_id: '%s' is not a build id (40 lowercase hex digits)",
					       where, p->build_id);
		for (size_t j = 0; j < i; j++) {
			if (strcmp(inv->patches[j].build_id, p->build_id))
				continue;
			if (!strcmp(inv->patches[j].file, p->file))
				return gp_error_create(GP_ERR_INVAL, "inventory: %s.file: '%s' is also patches[%zu] for this build",
						       where, p->file, j);
			same++;
		}
		if (same >= FLEET_MAX_WANTED)
			return gp_error_create(GP_ERR_LIMIT, "inventory: %s: more than %d patches for build %s",
					       where, FLEET_MAX_WANTED, p->build_id);
	}
	return NULL;
}

struct gp_error *fleet_inv_parse(const char *text, size_t len, struct fleet_inv *inv)
{
	static const char *const keys[] = { "version", "hosts", "guests", "rings", "patches",
		"policy", NULL };
	json_tokener *tok;
	json_object *root, *v;
	struct gp_error *err = NULL;

	memset(inv, 0, sizeof(*inv));
	if (len > FLEET_FILE_MAX)
		return gp_error_create(GP_ERR_LIMIT, "inventory: larger than %u bytes", FLEET_FILE_MAX);
	if (!(tok = json_tokener_new_ex(32)))
		return &gp_error_nomem;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, text, (int)len);
	if (!root || json_tokener_get_parse_end(tok) < len) {
		size_t end = json_tokener_get_parse_end(tok), line = 1, col = 1;
		enum json_tokener_error je = json_tokener_get_error(tok);

		for (size_t i = 0; i < end && i < len; i++, col++)
			if (text[i] == '\n')
				line++, col = 0;
		/* Trailing whitespace after the value is fine. */
		if (root && strspn(text + end, " \t\r\n") == len - end)
			goto parsed;
		json_object_put(root);
		json_tokener_free(tok);
		return gp_error_create(GP_ERR_INVAL, "inventory: line %zu, column %zu: %s", line, col,
				       root ? "text after the JSON value" :
				       je == json_tokener_continue ? "unexpected end" :
				       json_tokener_error_desc(je));
	}
parsed:
	json_tokener_free(tok);
	if (!json_object_is_type(root, json_type_object)) {
		err = bad("(top)", "expected an object");
		goto out;
	}
	if ((err = only_keys(root, "(top)", keys)))
		goto out;
	if (!json_object_object_get_ex(root, "version", &v) ||
	    !json_object_is_type(v, json_type_int) || json_object_get_int64(v) != 1) {
		err = bad("version", "expected 1");
		goto out;
	}
	if ((err = parse_hosts(root, inv)) || (err = parse_rings(root, inv)) ||
	    (err = parse_guests(root, inv)) || (err = parse_patches(root, inv)))
		goto out;
	/* The policy: absent, the defaults (json-c leaves v NULL); present,
	 * an object (null too is refused). */
	if (json_object_object_get_ex(root, "policy", &v) && !v)
		err = bad("policy", "expected an object");
	else
		err = fleet_policy_parse(v, &inv->policy);
out:
	json_object_put(root);
	if (err)
		fleet_inv_free(inv);
	return err;
}

struct gp_error *fleet_inv_load(const char *path, struct fleet_inv *inv, char **text)
{
	struct gp_error *err;
	struct stat st;
	char *buf;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	memset(inv, 0, sizeof(*inv));
	if (text)
		*text = NULL;
	if (fd < 0)
		return gp_error_os(errno, "inventory %s", path);
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > FLEET_FILE_MAX) {
		close(fd);
		return gp_error_create(GP_ERR_INVAL, "inventory %s: not a regular file of at most %u bytes",
				       path, FLEET_FILE_MAX);
	}
	if (!(buf = malloc((size_t)st.st_size + 1))) {
		close(fd);
		return &gp_error_nomem;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	if ((err = fleet_inv_parse(buf, got, inv))) {
		free(buf);
		return gp_error_wrap(err, "%s", path);
	}
	if (text)
		*text = buf;
	else
		free(buf);
	return NULL;
}

struct gp_error *fleet_inv_check_files(struct fleet_inv *inv)
{
	for (size_t i = 0; i < inv->npatches; i++) {
		struct fleet_patch *p = &inv->patches[i];
		struct lp_obj *o = NULL;
		char bid[48];
		struct gp_error *err = lp_obj_open_file(p->file, &o);

		if (!err)
			err = lp_obj_describe(o, p->name, bid, &p->obj_replace);
		lp_obj_close(o);
		if (err)
			return gp_error_wrap(err, "inventory: patches[%zu].file", i);
		if (strcmp(bid, p->build_id))
			return gp_error_create(GP_ERR_INVAL,
					       "inventory: patches[%zu]: %s was built for kernel build id %s, the catalog says %s",
					       i, p->file, bid, p->build_id);
		if (p->obj_replace && !p->cumulative)
			return gp_error_create(GP_ERR_INVAL,
					       "inventory: patches[%zu]: %s declares atomic replace (GP_PATCH_REPLACE): mark it \"cumulative\": true",
					       i, p->file);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(inv->patches[j].build_id, p->build_id) &&
			    !strcmp(inv->patches[j].name, p->name))
				return gp_error_create(GP_ERR_INVAL,
						       "inventory: patches[%zu]: patch name '%s' is also patches[%zu]'s for this build",
						       i, p->name, j);
	}
	return NULL;
}

void fleet_inv_free(struct fleet_inv *inv)
{
	free(inv->hosts);
	free(inv->guests);
	free(inv->patches);
	memset(inv, 0, sizeof(*inv));
}

size_t fleet_patches_for(const struct fleet_inv *inv, const char *build_id, int *idx, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < inv->npatches && n < max; i++)
		if (!strcmp(inv->patches[i].build_id, build_id))
			idx[n++] = (int)i;
	return n;
}

size_t fleet_to_apply(const struct fleet_inv *inv, const int *wanted, size_t nwanted,
		      char (*applied)[FLEET_NAME_MAX], size_t napplied, int *out)
{
	size_t start = 0, n = 0;

	for (size_t i = 0; i < nwanted; i++)
		if (inv->patches[wanted[i]].cumulative)
			start = i;
	for (size_t i = start; i < nwanted; i++) {
		bool have = false;

		for (size_t j = 0; j < napplied && !have; j++)
			have = !strcmp(applied[j], inv->patches[wanted[i]].name);
		if (!have)
			out[n++] = wanted[i];
	}
	return n;
}

struct gp_error *fleet_plan_make(const struct fleet_inv *inv, int host, struct fleet_plan *plan)
{
	size_t sizes[FLEET_MAX_GUESTS];

	memset(plan, 0, sizeof(*plan));
	plan->order = calloc(inv->nguests ? inv->nguests : 1, sizeof(*plan->order));
	plan->batch_of = calloc(inv->nguests ? inv->nguests : 1, sizeof(*plan->batch_of));
	plan->batches = calloc(inv->nguests ? inv->nguests : 1, sizeof(*plan->batches));
	if (!plan->order || !plan->batch_of || !plan->batches) {
		fleet_plan_free(plan);
		return &gp_error_nomem;
	}
	for (size_t i = 0; i < inv->nguests; i++)
		plan->batch_of[i] = -1;
	for (size_t r = 0; r < inv->nrings; r++) {
		size_t first = plan->n, nb, pos;

		for (size_t i = 0; i < inv->nguests; i++)
			if (inv->guests[i].ring == (int)r && (host < 0 || inv->guests[i].host == host))
				plan->order[plan->n++] = (int)i;
		if (plan->n == first)
			continue;
		nb = fleet_serial_batches(&inv->policy.serial, plan->n - first, sizes,
					  ARRAY_SIZE(sizes));
		pos = first;
		for (size_t b = 0; b < nb; b++) {
			struct fleet_batch *B = &plan->batches[plan->nbatches];

			B->ring = (int)r;
			B->index = (int)b;
			B->first = pos;
			B->n = sizes[b];
			for (size_t k = pos; k < pos + sizes[b]; k++)
				plan->batch_of[plan->order[k]] = (int)plan->nbatches;
			pos += sizes[b];
			plan->nbatches++;
		}
	}
	if (!plan->n) {
		fleet_plan_free(plan);
		return gp_error_create(GP_ERR_INVAL, "inventory: no guest%s%s",
				       host >= 0 ? " on host " : "", host >= 0 ? inv->hosts[host].name : "");
	}
	return NULL;
}

void fleet_plan_free(struct fleet_plan *plan)
{
	free(plan->order);
	free(plan->batches);
	free(plan->batch_of);
	memset(plan, 0, sizeof(*plan));
}
