// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * seeds.c - the fuzz corpora's seeds from a real guest (make fuzz-seeds).
 *
 * Boots one Debian guest with the rig (tests/rig/rig.h), loads a module
 * and applies the example patch with `vmm patch`, then writes into
 * tests/fuzz/corpus/NAME/real-* what each harness reads, in its format
 * (tests/fuzz/fuzz.h), taken from the guest through the target API:
 *   gdbc, gdbsrv   both sides of a gdbstub session with QEMU (the script
 *                  fuzz_gdbc runs, through a recording proxy)
 *   vmcoreinfo     the VMCOREINFO note
 *   kallsyms       the compressed tables, cut to their first symbols
 *   kbtf           a slice of the BTF: the structs guestpatch reads, with
 *                  the types they embed (pointers become void *)
 *   orc            the first ORC entries
 *   modules        the module list, each struct module, its symbols and ORC
 *   tasks          init_task and the first processes with their threads
 *                  (the last one's `next` closes the list), the idle and
 *                  current tasks of each CPU
 *   region         the region header with the patch applied
 *   journal        the journal pages after that patch committed
 * and, without a guest, journals with a transaction left open (active),
 * written by lp_journal.c itself on a buffer.
 */
#include <bpf/btf.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "fuzz.h"
#include "lp_journal.h"
#include "lp_region.h"
#include "rig.h"
#include "tasks.h"

static const char *dir = "tests/fuzz/corpus";

static void die(const char *what, struct gp_error *err)
{
	fprintf(stderr, "seeds: %s: %s\n", what, err && err->msg ? err->msg : "failed");
	exit(1);
}

static void ck(const char *what, struct gp_error *err)
{
	if (err)
		die(what, err);
}

static FILE *seed(const char *name, const char *file)
{
	char path[512];
	FILE *f;

	mkdir(dir, 0755);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%s", dir, name, file);
	if (!(f = fopen(path, "wb")))
		die(path, NULL);
	printf("seeds: %s\n", path);
	return f;
}

static void seed_blob(const char *name, const char *file, const void *p, size_t n)
{
	FILE *f = seed(name, file);

	fwrite(p, 1, n, f);
	fclose(f);
}

/* ---- gdbstub session, both sides ---- */

struct rec {
	int client, stub;	/* the proxy's ends */
	uint8_t *to_client, *to_stub;
	size_t nc, ns;
};

static void append(uint8_t **b, size_t *n, const char *p, size_t k)
{
	*b = realloc(*b, *n + k);
	memcpy(*b + *n, p, k);
	*n += k;
}

static void *proxy(void *arg)
{
	struct rec *r = arg;
	char buf[65536];

	for (;;) {
		struct pollfd p[2] = { { .fd = r->client, .events = POLLIN },
				       { .fd = r->stub, .events = POLLIN } };
		ssize_t n;

		if (poll(p, 2, 10000) <= 0)
			break;
		if (p[0].revents) {
			if ((n = read(r->client, buf, sizeof(buf))) <= 0)
				break;
			append(&r->to_stub, &r->ns, buf, (size_t)n);
			if (write(r->stub, buf, (size_t)n) != n)
				break;
		}
		if (p[1].revents) {
			if ((n = read(r->stub, buf, sizeof(buf))) <= 0)
				break;
			append(&r->to_client, &r->nc, buf, (size_t)n);
			if (write(r->client, buf, (size_t)n) != n)
				break;
		}
	}
	return NULL;
}

static void record_gdb(struct rig *rg)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct rec r = { 0 };
	struct gdbc *g = calloc(1, sizeof(*g));
	const char *spec = rig_target_nomem(rg);
	pthread_t th;
	int sp[2];

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", strstr(spec, "gdb=") + 4);
	r.stub = socket(AF_UNIX, SOCK_STREAM, 0);
	if (connect(r.stub, (struct sockaddr *)&sa, sizeof(sa)))
		die("connecting to QEMU's gdbstub", NULL);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
	r.client = sp[0];
	pthread_create(&th, NULL, proxy, &r);
	g->buf = malloc(GDBC_MAX_PACKET + 1);
	g->fd = sp[1];
	g->timeout_ms = 10000;
	g->packet_size = 4096;
	fz_gdbc_script(g);
	gdbc_close(g);
	pthread_join(th, NULL);
	close(r.stub);
	close(sp[0]);
	seed_blob("gdbc", "real-qemu-stub", r.to_client, r.nc);
	seed_blob("gdbsrv", "real-client", r.to_stub, r.ns);
}

/* ---- a BTF slice ---- */

struct slice {
	const struct btf *src;
	struct btf *dst;
	int *map;		/* src id -> dst id, 0: not yet */
};

static int copy_type(struct slice *s, int id);

static int copy_members(struct slice *s, const struct btf_type *t, int *ids)
{
	const struct btf_member *m = btf_members(t);

	for (unsigned i = 0; i < btf_vlen(t); i++)
		if ((ids[i] = copy_type(s, (int)m[i].type)) < 0)
			return -1;
	return 0;
}

static int copy_type(struct slice *s, int id)
{
	const struct btf_type *t;
	const char *name;
	int out = -1;

	if (id == 0)
		return 0;
	if (s->map[id])
		return s->map[id];
	t = btf__type_by_id(s->src, (unsigned)id);
	name = btf__name_by_offset(s->src, t->name_off);
	switch (btf_kind(t)) {
	case BTF_KIND_INT:
		out = btf__add_int(s->dst, name, (size_t)t->size, btf_int_encoding(t));
		break;
	case BTF_KIND_PTR:
	case BTF_KIND_FUNC_PROTO:
		out = btf__add_ptr(s->dst, 0);	/* void *: the slice stops here */
		break;
	case BTF_KIND_TYPEDEF: {
		int in = copy_type(s, (int)t->type);

		out = in < 0 ? -1 : btf__add_typedef(s->dst, name, in);
		break;
	}
	case BTF_KIND_CONST:
	case BTF_KIND_VOLATILE:
	case BTF_KIND_RESTRICT:
	case BTF_KIND_TYPE_TAG:
		out = copy_type(s, (int)t->type);
		break;
	case BTF_KIND_ARRAY: {
		const struct btf_array *a = btf_array(t);
		int e = copy_type(s, (int)a->type), ix = copy_type(s, (int)a->index_type);

		out = e < 0 || ix < 0 ? -1 : btf__add_array(s->dst, ix, e, (int)a->nelems);
		break;
	}
	case BTF_KIND_ENUM:
	case BTF_KIND_ENUM64:
	case BTF_KIND_FWD:
	case BTF_KIND_FLOAT:
		/* As a plain integer of its size: lookups never look inside. */
		out = btf__add_int(s->dst, name && *name ? name : "anon_enum",
				   btf_kind(t) == BTF_KIND_FWD ? 8 : (size_t)t->size, 0);
		break;
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION: {
		int *ids = calloc(btf_vlen(t) + 1, sizeof(int));
		const struct btf_member *m = btf_members(t);

		if (copy_members(s, t, ids)) {
			free(ids);
			return -1;
		}
		out = btf_is_struct(t) ? btf__add_struct(s->dst, name, t->size) :
					 btf__add_union(s->dst, name, t->size);
		for (unsigned i = 0; out > 0 && i < btf_vlen(t); i++)
			if (btf__add_field(s->dst, btf__name_by_offset(s->src, m[i].name_off), ids[i],
					   btf_member_bit_offset(t, i),
					   btf_member_bitfield_size(t, i)))
				out = -1;
		free(ids);
		break;
	}
	default:
		out = btf__add_int(s->dst, "other", 8, 0);
	}
	if (out > 0)
		s->map[id] = out;
	return out;
}

static void seed_btf(struct kern *k)
{
	static const char *const roots[] = { "task_struct", "signal_struct", "rq", "module",
					     "pt_regs", "inactive_task_frame", "list_head" };
	struct slice s = { .src = k->btf->btf, .dst = btf__new_empty() };
	const void *raw;
	__u32 sz;

	s.map = calloc(btf__type_cnt(s.src), sizeof(int));
	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
		int id = btf__find_by_name_kind(s.src, roots[i], BTF_KIND_STRUCT);

		if (id <= 0 || copy_type(&s, id) < 0)
			die(roots[i], NULL);
	}
	raw = btf__raw_data(s.dst, &sz);
	seed_blob("kbtf", "real-btf-slice", raw, sz);
	btf__free(s.dst);
	free(s.map);
}

/* ---- kallsyms, ORC ---- */

#define KSYM_N 1500

static void seed_kallsyms(struct kern *k)
{
	uint64_t a_names, a_tt, a_ti, a_off, a_rb;
	struct fz_ksym_hdr h = { .absolute_percpu = 1 };
	static uint8_t names[KSYM_N * 64], tt[8192];
	static int32_t offs[KSYM_N];
	size_t off = 0;
	uint16_t max = 0;
	FILE *f;

	ck("kallsyms", vmci_symbol(&k->vi, "kallsyms_names", &a_names));
	ck("kallsyms", vmci_symbol(&k->vi, "kallsyms_token_table", &a_tt));
	ck("kallsyms", vmci_symbol(&k->vi, "kallsyms_token_index", &a_ti));
	ck("kallsyms", vmci_symbol(&k->vi, "kallsyms_offsets", &a_off));
	ck("kallsyms", vmci_symbol(&k->vi, "kallsyms_relative_base", &a_rb));
	ck("kallsyms", kern_read(k, a_ti, h.token_index, sizeof(h.token_index)));
	ck("kallsyms", kern_read_u64(k, a_rb, &h.relative_base));
	ck("kallsyms", kern_read(k, a_names, names, sizeof(names)));
	ck("kallsyms", kern_read(k, a_off, offs, sizeof(offs)));
	for (int i = 0; i < 256; i++)
		if (h.token_index[i] > max)
			max = h.token_index[i];
	h.tt_len = max + 64u;
	ck("kallsyms", kern_read(k, a_tt, tt, h.tt_len));
	for (int i = 0; i < KSYM_N; i++) {
		size_t len = names[off++];

		if (len & 0x80)
			len = (len & 0x7f) | ((size_t)names[off++] << 7);
		off += len;
	}
	h.num_syms = KSYM_N;
	h.names_len = (uint32_t)off;
	f = seed("kallsyms", "real-first-1500");
	fwrite(&h, sizeof(h), 1, f);
	fwrite(names, 1, off, f);
	fwrite(tt, 1, h.tt_len, f);
	fwrite(offs, 4, KSYM_N, f);
	fclose(f);
}

#define ORC_N 1200

static void seed_orc(struct kern *k)
{
	struct fz_orc_hdr h = { .n = ORC_N };
	static int32_t rel[ORC_N];
	static uint8_t raw[ORC_N * 6];
	uint64_t u;
	FILE *f;

	ck("orc", kern_sym(k, "__start_orc_unwind_ip", &h.ip_base));
	ck("orc", kern_sym(k, "__start_orc_unwind", &u));
	ck("orc", kern_sym(k, "_text", &h.text_start));
	ck("orc", kern_sym(k, "_etext", &h.text_end));
	kern_has_sym(k, "_sinittext", &h.init_start);
	kern_has_sym(k, "_einittext", &h.init_end);
	ck("orc", kern_read(k, h.ip_base, rel, sizeof(rel)));
	ck("orc", kern_read(k, u, raw, sizeof(raw)));
	f = seed("orc", "real-first-1200");
	fwrite(&h, sizeof(h), 1, f);
	fwrite(rel, 4, ORC_N, f);
	fwrite(raw, 6, ORC_N, f);
	fclose(f);
}

/* ---- memory chunks ---- */

static void chunk(struct kern *k, FILE *f, uint64_t va, size_t len)
{
	uint8_t *b = malloc(len);

	if (b && gp_ok(kern_read(k, va, b, len)))
		fz_put_chunk(f, va, b, (uint32_t)len);
	free(b);
}

static uint64_t rd64(struct kern *k, uint64_t va)
{
	uint64_t v = 0;

	ck("reading guest memory", kern_read_u64(k, va, &v));
	return v;
}

static uint64_t off_of(struct kern *k, const char *type, const char *m)
{
	uint64_t o;

	ck(m, kern_offsetof(k, type, m, &o));
	return o;
}

static void seed_modules(struct kern *k)
{
	struct fz_mods_hdr h = { 0 };
	uint64_t head, node, sz;
	FILE *f;

	ck("modules", kern_sym(k, "modules", &head));
	ck("modules", kbtf_sizeof(k->btf, "module", &sz));
	h.modules = head;
	h.mod_size = (uint32_t)sz;
	h.list = (uint32_t)off_of(k, "module", "list");
	h.name = (uint32_t)off_of(k, "module", "name");
	h.state = (uint32_t)off_of(k, "module", "state");
	h.layout = (uint32_t)off_of(k, "module", "core_layout");
	h.base_rel = (uint32_t)(off_of(k, "module", "core_layout.base") - h.layout);
	h.size_rel = (uint32_t)(off_of(k, "module", "core_layout.size") - h.layout);
	h.text_size_rel = (uint32_t)(off_of(k, "module", "core_layout.text_size") - h.layout);
	h.kallsyms = (uint32_t)off_of(k, "module", "core_kallsyms");
	h.symtab_rel = (uint32_t)(off_of(k, "module", "core_kallsyms.symtab") - h.kallsyms);
	h.num_symtab_rel = (uint32_t)(off_of(k, "module", "core_kallsyms.num_symtab") - h.kallsyms);
	h.strtab_rel = (uint32_t)(off_of(k, "module", "core_kallsyms.strtab") - h.kallsyms);
	h.has_orc = 1;
	h.arch = (uint32_t)off_of(k, "module", "arch");
	h.num_orcs_rel = (uint32_t)(off_of(k, "module", "arch.num_orcs") - h.arch);
	h.orc_ip_rel = (uint32_t)(off_of(k, "module", "arch.orc_unwind_ip") - h.arch);
	h.orc_u_rel = (uint32_t)(off_of(k, "module", "arch.orc_unwind") - h.arch);
	f = seed("modules", "real-module-list");
	fwrite(&h, sizeof(h), 1, f);
	chunk(k, f, head, 16);
	node = rd64(k, head);
	for (int i = 0; node != head && i < 8; i++) {
		uint64_t mod = node - h.list, symtab, strtab, ip, u, maxname = 0;
		uint32_t nsym, norc;

		chunk(k, f, mod, sz);
		symtab = rd64(k, mod + h.kallsyms + h.symtab_rel);
		strtab = rd64(k, mod + h.kallsyms + h.strtab_rel);
		ck("modules", kern_read_u32(k, mod + h.kallsyms + h.num_symtab_rel, &nsym));
		ck("modules", kern_read_u32(k, mod + h.arch + h.num_orcs_rel, &norc));
		ip = rd64(k, mod + h.arch + h.orc_ip_rel);
		u = rd64(k, mod + h.arch + h.orc_u_rel);
		if (nsym < 4096) {
			chunk(k, f, symtab, (size_t)nsym * 24);
			for (uint32_t s = 0; s < nsym; s++) {
				uint32_t name;

				ck("modules", kern_read_u32(k, symtab + s * 24ull, &name));
				if (name > maxname)
					maxname = name;
			}
			chunk(k, f, strtab, maxname + 64);
		}
		if (norc && norc < 8192) {
			chunk(k, f, ip, (size_t)norc * 4);
			chunk(k, f, u, (size_t)norc * 6);
		}
		node = rd64(k, node);
	}
	fclose(f);
}

static void task_chunks(struct kern *k, const struct task_offsets *o, FILE *f, uint64_t t)
{
	const uint64_t fields[][2] = {
		{ o->tasks, 16 }, { o->thread_node, 16 }, { o->signal, 8 }, { o->pid, 4 },
		{ o->tgid, 4 }, { o->comm, 16 }, { o->state, 4 }, { o->exit_state, 4 },
		{ o->flags, 4 }, { o->on_cpu, 4 }, { o->cpu, 4 }, { o->stack, 8 },
		{ o->thread_sp, 8 }, { o->ti_flags, 8 }, { o->patch_state, 4 },
	};

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		chunk(k, f, t + fields[i][0], fields[i][1]);
}

#define TASK_PROCS 12

static void seed_tasks(struct kern *k)
{
	struct task_offsets o;
	struct fz_tasks_hdr h = { 0 };
	uint64_t init, node, last = 0;
	FILE *f;

	ck("tasks", task_offsets_init(k, &o));
	ck("tasks", kern_sym(k, "init_task", &init));
	h.init_task = init;
	h.tasks = o.tasks, h.thread_node = o.thread_node, h.signal = o.signal;
	h.thread_head = o.thread_head, h.pid = o.pid, h.tgid = o.tgid, h.comm = o.comm;
	h.state = o.state, h.exit_state = o.exit_state, h.flags = o.flags, h.on_cpu = o.on_cpu;
	h.cpu = o.cpu, h.stack = o.stack, h.thread_sp = o.thread_sp, h.ti_flags = o.ti_flags;
	h.has_patch_state = o.has_patch_state, h.patch_state = o.patch_state;
	h.rq_idle = o.rq_idle, h.rq_curr = o.rq_curr, h.current_task = o.current_task;
	h.runqueues = o.runqueues, h.comm_len = o.comm_len;
	h.nr_cpus = k->nr_cpu_ids < FZ_MAX_CPUS ? k->nr_cpu_ids : FZ_MAX_CPUS;
	for (unsigned c = 0; c < h.nr_cpus; c++) {
		h.percpu[c] = k->percpu_offset[c];
		if (kern_cpu_online(k, c))
			h.online |= 1ull << c;
	}
	f = seed("tasks", "real-first-12-processes");
	fwrite(&h, sizeof(h), 1, f);
	task_chunks(k, &o, f, init);
	node = rd64(k, init + o.tasks);
	for (int p = 0; p < TASK_PROCS && node != init + o.tasks; p++) {
		uint64_t t = node - o.tasks, sig = rd64(k, t + o.signal);
		uint64_t thead = sig + o.thread_head, tn;

		chunk(k, f, thead, 16);
		for (tn = rd64(k, thead); tn != thead; tn = rd64(k, tn))
			task_chunks(k, &o, f, tn - o.thread_node);
		last = t;
		node = rd64(k, node);
	}
	/* Close the list after the last process dumped. */
	node = init + o.tasks;
	fz_put_chunk(f, last + o.tasks, &node, 8);
	for (unsigned c = 0; c < h.nr_cpus; c++) {
		uint64_t rq = h.percpu[c] + o.runqueues, cur = h.percpu[c] + o.current_task;

		chunk(k, f, rq + o.rq_idle, 8);
		chunk(k, f, rq + o.rq_curr, 8);
		chunk(k, f, cur, 8);
		task_chunks(k, &o, f, rd64(k, rq + o.rq_idle));
		task_chunks(k, &o, f, rd64(k, cur));
	}
	fclose(f);
}

/* ---- region and journal ---- */

static void seed_region(struct kern *k)
{
	struct lp_region r;
	struct fz_region_hdr h = { 0 };
	uint64_t pmd;
	FILE *f;

	ck("region", lp_region_load(k, &r));
	if (!r.present)
		die("region: no patch applied", NULL);
	snprintf(h.build_id, sizeof(h.build_id), "%s", k->build_id);
	ck("region", kern_sym(k, "level2_kernel_pgt", &h.l2));
	ck("region", kern_sym(k, "_end", &h.end));
	ck("region", tgt_read_phys(k->t, r.pmd_entry_pa, &pmd, 8));
	h.pmd = pmd;
	kern_has_sym(k, LP_AGENT_HOOK, &h.hook);
	for (int s = 0; s < LP_MAX_SITES && h.nsyms < FZ_REGION_SYMS; s++) {
		const struct ksym *sym;
		uint64_t o, sz;

		if (!r.hdr.sites[s].in_use || r.hdr.sites[s].module)
			continue;
		sym = ksym_symbolize(k->syms, r.hdr.sites[s].old_addr, &o, &sz);
		if (!sym)
			continue;
		h.syms[h.nsyms].addr = sym->addr;
		h.syms[h.nsyms].type = sym->type;
		snprintf(h.syms[h.nsyms].name, sizeof(h.syms[0].name), "%s", ksym_name(k->syms, sym));
		h.nsyms++;
	}
	/* The harness's level2_kernel_pgt is at FZ_REGION_L2_PA, not here. */
	r.hdr.pmd_entry_pa = FZ_REGION_L2_PA + (h.l2 & 0xfff) + r.hdr.pmd_index * 8ull;
	f = seed("region", "real-one-patch");
	fwrite(&h, sizeof(h), 1, f);
	fwrite(&r.hdr, sizeof(r.hdr), 1, f);
	fclose(f);
	/* The same header after a reboot that left RAM as it was: another
	 * boot, this kernel's slot empty. */
	h.boot = FZ_REGION_OTHER_BOOT;
	h.pmd = 0;
	f = seed("region", "real-one-patch-earlier-boot");
	fwrite(&h, sizeof(h), 1, f);
	fwrite(&r.hdr, sizeof(r.hdr), 1, f);
	fclose(f);
}

/* The journal pages, trailing zeros cut (the harness zero-fills). */
static void seed_journal_from(struct tgt *t, uint8_t flags, const char *file)
{
	static uint8_t j[LP_JOURNAL_PAGES * 4096 + 1];
	size_t n = LP_JOURNAL_PAGES * 4096;

	j[0] = flags;
	ck("journal", tgt_read_phys(t, LP_JOURNAL_PA, j + 1, n));
	while (n && !j[n])
		n--;
	seed_blob("journal", file, j, n + 1);
}

/* Transactions left open by lp_journal.c itself, on a buffer guest. */
static void synth_journals(void)
{
	static uint8_t mem[1 << 20];
	struct tgt *t;
	uint8_t page[4096];

	ck("buffer", tgt_buffer_new(mem, sizeof(mem), NULL, 0, &t));
	tgt_set_boot_id(t, 0x60b6b2882c1006f7ull);	/* as kern_attach would */
	ck("pause", tgt_pause(t));
	lp_journal_intent("patch", "cmdline-marker");
	memset(page, 0xcc, sizeof(page));
	for (size_t i = 0; i < 0x2000; i++)
		mem[0x10000 + i] = (uint8_t)(i * 7);
	ck("jwrite", lp_jwrite(t, 0x10000, page, 16, false));
	ck("jwrite", lp_jwrite(t, 0x10100, page, 5, true));
	ck("jwrite", lp_jwrite(t, 0x20000, page, 4096, false));	/* old bytes all zero */
	seed_journal_from(t, 0, "synth-active-3-writes");
	seed_journal_from(t, FZ_JOURNAL_OTHER_BOOT, "synth-active-earlier-boot");
	gp_error_destroy(lp_txn_end(t, gp_error_create(GP_ERR_INVAL, "roll back")));
	seed_journal_from(t, 0, "synth-rolled-back");
	lp_journal_watch(0x30000);
	ck("jwrite", lp_jwrite(t, 0x11000, page, 64, false));
	mem[0x30000] = 1;	/* jiffies moved: the guest ran */
	seed_journal_from(t, 0, "synth-active-guest-ran");
	seed_journal_from(t, FZ_JOURNAL_FORCE, "synth-active-guest-ran-force");
	gp_error_destroy(lp_txn_end(t, NULL));
	lp_journal_watch(0);
	ck("resume", tgt_resume(t));
	tgt_close(t);
}

int main(int argc, char **argv)
{
	struct rig_opts ro = { .cpus = 2 };
	struct rig *rg;
	struct tgt *t;
	struct kern *k;
	char *msg, args[1024];

	if (argc > 1)
		dir = argv[1];
	synth_journals();
	if (argc > 2 && !strcmp(argv[2], "--synth-only"))
		return 0;
	if (!(rg = rig_boot(&ro, &msg)))
		die(msg, NULL);
	if (rig_exec(rg, "insmod /bin/gp_test_sleeper.ko; sleep 0.3", NULL, 30) != 0)
		die("insmod gp_test_sleeper.ko", NULL);
	record_gdb(rg);
	snprintf(args, sizeof(args), "patch '%s' %s/patches/cmdline_marker.o", rig_target(rg),
		 rig_build_dir());
	if (rig_run_tool(rg, args, NULL, &msg) != 0)
		die(msg, NULL);
	ck("open", tgt_open(rig_target(rg), &t));
	/* No attach cache: seed_btf walks the parsed BTF itself, which a
	 * warm cache does not parse (kcache.h). */
	ck("attach", kern_attach(t, &(struct kern_opts){ .no_cache = true }, &k));
	ck("pause", tgt_pause(t));
	seed_blob("vmcoreinfo", "real-vmcoreinfo", k->vi.text, k->vi.len);
	seed_kallsyms(k);
	seed_btf(k);
	seed_orc(k);
	seed_modules(k);
	seed_tasks(k);
	seed_region(k);
	seed_journal_from(t, 0, "real-after-patch");
	seed_journal_from(t, FZ_JOURNAL_FIX_SUMS, "real-after-patch-fixsums");
	ck("resume", tgt_resume(t));
	kern_detach(k);
	tgt_close(t);
	rig_kill(rg);
	return 0;
}
