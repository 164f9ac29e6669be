// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_tasks: the task list walk (introspect/tasks.c, task_list_all) over
 * a small guest whose memory the input gives: struct fz_tasks_hdr (the
 * layout, as task_offsets_init() leaves it, init_task and the per-cpu
 * areas), then chunks of kernel memory (task_structs, signal_structs,
 * runqueues, current_task).
 */
#include "fuzz.h"
#include "tasks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz_vm vm;
	static struct kern k;
	static uint64_t percpu[FZ_MAX_CPUS], online;
	struct fz_in in = { data, size };
	struct fz_tasks_hdr h;
	struct task_offsets o = { 0 };
	struct task_list l;
	char map[64];

	if (!vm.mem)
		fz_vm_init(&vm);
	fz_take(&in, &h, sizeof(h));
	fz_vm_reset(&vm);
	fz_vm_chunks(&vm, &in);
	fz_vm_kern(&vm, &k);
	snprintf(map, sizeof(map), "%016llx D init_task\n", (unsigned long long)h.init_task);
	if (!gp_ok(ksym_parse_map(map, strlen(map), 0, &k.syms)))
		return 0;
	k.nr_cpu_ids = h.nr_cpus < 1 ? 1 : h.nr_cpus > FZ_MAX_CPUS ? FZ_MAX_CPUS : h.nr_cpus;
	memcpy(percpu, h.percpu, sizeof(percpu));
	online = h.online;
	k.percpu_offset = percpu;
	k.online_mask = &online;
	/* As task_offsets_init() leaves them. */
	o.tasks = h.tasks, o.thread_node = h.thread_node, o.signal = h.signal;
	o.thread_head = h.thread_head, o.pid = h.pid, o.tgid = h.tgid, o.comm = h.comm;
	o.state = h.state, o.exit_state = h.exit_state, o.flags = h.flags, o.on_cpu = h.on_cpu;
	o.cpu = h.cpu, o.stack = h.stack, o.thread_sp = h.thread_sp, o.ti_flags = h.ti_flags;
	o.has_patch_state = h.has_patch_state & 1, o.patch_state = h.patch_state;
	o.rq_idle = h.rq_idle, o.rq_curr = h.rq_curr, o.current_task = h.current_task;
	o.runqueues = h.runqueues;
	o.comm_len = h.comm_len > TASK_COMM_MAX ? TASK_COMM_MAX : h.comm_len;
	if (gp_ok(task_list_all(&k, &o, &l))) {
		for (size_t i = 0; i < l.nr; i++)
			task_state_char(l.v[i].state, l.v[i].exit_state);
		task_list_free(&l);
	}
	ksym_free(k.syms);
	return 0;
}
