// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_kbtf: the guest's BTF (introspect/kbtf.c, through libbpf's parser)
 * and every lookup guestpatch makes in it: the members tasks.c, modules.c
 * and stack.c ask for, task_offsets_init() itself, and sizes and member
 * paths of the first structs the BTF holds, by their own names.
 */
#include <bpf/btf.h>

#include "fuzz.h"
#include "kbtf.h"
#include "tasks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const paths[][2] = {
	{ "task_struct", "tasks" }, { "task_struct", "thread_node" }, { "task_struct", "signal" },
	{ "task_struct", "pid" }, { "task_struct", "comm" }, { "task_struct", "thread.sp" },
	{ "task_struct", "thread_info.flags" }, { "task_struct", "thread_info.cpu" },
	{ "task_struct", "patch_state" }, { "task_struct", "usage" }, { "task_struct", "__state" },
	{ "signal_struct", "thread_head" }, { "rq", "curr" }, { "rq", "idle" },
	{ "module", "list" }, { "module", "name" }, { "module", "core_layout.base" },
	{ "module", "core_layout.text_size" }, { "module", "core_kallsyms.strtab" },
	{ "module", "arch.orc_unwind_ip" }, { "pt_regs", "ip" }, { "pt_regs", "sp" },
	{ "inactive_task_frame", "ret_addr" }, { "inactive_task_frame", "bp" },
	{ "task_struct", "" }, { "task_struct", "." }, { "task_struct", "thread..sp" },
	{ "task_struct", "thread.sp.x.y.z" },
};

static void one(const struct kbtf *k, const char *name, const char *path)
{
	uint64_t off, sz;

	gp_error_destroy(kbtf_sizeof(k, name, &sz));
	gp_error_destroy(kbtf_offsetof(k, name, path, &off, &sz));
	gp_error_destroy(kbtf_array_len(k, name, path, &sz));
	kbtf_has_member(k, name, path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ksym_table *syms;
	static const char map[] = "0000000000000000 A current_task\n0000000000000100 A runqueues\n";
	struct kbtf *k;
	struct kern kern;
	struct task_offsets o;
	unsigned n, done = 0;

	if (!syms && ksym_parse_map(map, sizeof(map) - 1, 0, &syms))
		abort();
	if (!gp_ok(kbtf_load(data, size, &k)))
		return 0;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		one(k, paths[i][0], paths[i][1]);
	memset(&kern, 0, sizeof(kern));
	kern.btf = k;
	kern.syms = syms;
	gp_error_destroy(task_offsets_init(&kern, &o));
	/* Structs by their own names, members by theirs. */
	n = btf__type_cnt(k->btf);
	for (unsigned id = 1; id < n && done < 32; id++) {
		const struct btf_type *t = btf__type_by_id(k->btf, id);
		const char *name;

		if (!t || !btf_is_composite(t))
			continue;
		name = btf__name_by_offset(k->btf, t->name_off);
		if (!name || !*name)
			continue;
		done++;
		for (unsigned m = 0; m < btf_vlen(t) && m < 16; m++) {
			const char *mn = btf__name_by_offset(k->btf, btf_members(t)[m].name_off);
			char path[160];

			if (!mn)
				continue;
			one(k, name, mn);
			snprintf(path, sizeof(path), "%s.%s", mn, mn);
			one(k, name, path);
		}
	}
	kbtf_free(k);
	return 0;
}
