// SPDX-License-Identifier: GPL-2.0-or-later
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "tasks.h"


/* include/linux/sched.h (6.1) */
#define TASK_REPORT 0x7f
#define TASK_UNINTERRUPTIBLE 0x2
#define TASK_NOLOAD 0x400
#define TASK_IDLE (TASK_UNINTERRUPTIBLE | TASK_NOLOAD)

char task_state_char(uint32_t state, uint32_t exit_state)
{
	static const char letters[] = "RSDTtXZPI";
	uint32_t s = (state | exit_state) & TASK_REPORT;
	int idx = 0;

	/* TASK_REPORT_IDLE: an idle kthread reports as 'I'. */
	if (state == TASK_IDLE)
		return 'I';
	while (s) {		/* fls() */
		idx++;
		s >>= 1;
	}
	return idx < (int)sizeof(letters) - 1 ? letters[idx] : '?';
}

static struct gp_error *off(struct kern *k, const char *type, const char *m,
			    uint64_t *o)
{
	return kern_offsetof(k, type, m, o);
}

struct gp_error *task_offsets_init(struct kern *k, struct task_offsets *o)
{
	struct gp_error *err;

	memset(o, 0, sizeof(*o));
	if ((err = off(k, "task_struct", "tasks", &o->tasks)) ||
	    (err = off(k, "task_struct", "thread_node", &o->thread_node)) ||
	    (err = off(k, "task_struct", "signal", &o->signal)) ||
	    (err = off(k, "signal_struct", "thread_head", &o->thread_head)) ||
	    (err = off(k, "task_struct", "pid", &o->pid)) ||
	    (err = off(k, "task_struct", "tgid", &o->tgid)) ||
	    (err = off(k, "task_struct", "comm", &o->comm)) ||
	    (err = off(k, "task_struct", "exit_state", &o->exit_state)) ||
	    (err = off(k, "task_struct", "flags", &o->flags)) ||
	    (err = off(k, "task_struct", "on_cpu", &o->on_cpu)) ||
	    (err = off(k, "task_struct", "stack", &o->stack)) ||
	    (err = off(k, "task_struct", "thread.sp", &o->thread_sp)) ||
	    (err = off(k, "task_struct", "thread_info.flags", &o->ti_flags)) ||
	    (err = off(k, "rq", "idle", &o->rq_idle)) ||
	    (err = off(k, "rq", "curr", &o->rq_curr)))
		return gp_error_wrap(err, "task layout");
	/* __state since 5.14 (commit 2f064a59a11f), state before. */
	if (!gp_ok(off(k, "task_struct", "__state", &o->state)) &&
	    (err = off(k, "task_struct", "state", &o->state)))
		return gp_error_wrap(err, "task layout");
	/* cpu moved into thread_info in 5.16 (commit bcf9033e5449). */
	if (!gp_ok(off(k, "task_struct", "thread_info.cpu", &o->cpu)) &&
	    (err = off(k, "task_struct", "cpu", &o->cpu)))
		return gp_error_wrap(err, "task layout");
	o->has_patch_state = k->btf && kbtf_has_member(k->btf, "task_struct",
							 "patch_state");
	if (o->has_patch_state &&
	    (err = off(k, "task_struct", "patch_state", &o->patch_state)))
		return err;
	if ((err = kbtf_array_len(k->btf, "task_struct", "comm", &o->comm_len)))
		return err;
	if (o->comm_len > TASK_COMM_MAX)
		o->comm_len = TASK_COMM_MAX;
	if ((err = kern_percpu_var(k, "current_task", &o->current_task)) ||
	    (err = kern_sym(k, "runqueues", &o->runqueues)))
		return gp_error_wrap(err, "per-cpu task pointers");
	return NULL;
}

/* An aligned, canonical kernel-half pointer for the guest's paging depth
 * (4-level: from 0xffff800000000000; 5-level: from 0xff00000000000000). */
static bool kptr_ok(const struct kern *k, uint64_t p)
{
	return (p >> 63) && pt_canonical(p, k->levels) && !(p & 7);
}

/* Visited set for loop detection: open addressing on task addresses. */
struct seen {
	uint64_t *slot;
	size_t cap;
};

static int seen_add(struct seen *s, uint64_t a)
{
	size_t i;

	if (!s->slot) {
		s->cap = 1u << 12;
		s->slot = calloc(s->cap, sizeof(uint64_t));
		if (!s->slot)
			return -1;
	}
	for (i = (a >> 4) * 0x9e3779b97f4a7c15ull % s->cap; s->slot[i];
	     i = (i + 1) % s->cap)
		if (s->slot[i] == a)
			return 1;
	s->slot[i] = a;
	return 0;
}

static int seen_grow(struct seen *s, size_t n)
{
	struct seen g = { 0 };

	if (!s->slot || n * 2 < s->cap)
		return 0;	/* seen_add() allocates the first table */
	g.cap = s->cap * 2;
	g.slot = calloc(g.cap, sizeof(uint64_t));
	if (!g.slot)
		return -1;
	for (size_t i = 0; i < s->cap; i++)
		if (s->slot[i])
			seen_add(&g, s->slot[i]);
	free(s->slot);
	*s = g;
	return 0;
}

static struct gp_error *read_task(struct kern *k, const struct task_offsets *o,
				  uint64_t addr, struct task_info *ti)
{
	struct gp_error *err;
	uint32_t on_cpu, cpu;
	int32_t ps;

	memset(ti, 0, sizeof(*ti));
	ti->addr = addr;
	ti->running_cpu = -1;
	ti->patch_state = INT32_MIN;
	if ((err = kern_read(k, addr + o->pid, &ti->pid, 4)) ||
	    (err = kern_read(k, addr + o->tgid, &ti->tgid, 4)) ||
	    (err = kern_read(k, addr + o->comm, ti->comm, o->comm_len)) ||
	    (err = kern_read_u32(k, addr + o->state, &ti->state)) ||
	    (err = kern_read_u32(k, addr + o->exit_state, &ti->exit_state)) ||
	    (err = kern_read_u32(k, addr + o->flags, &ti->flags)) ||
	    (err = kern_read_u32(k, addr + o->on_cpu, &on_cpu)) ||
	    (err = kern_read_u32(k, addr + o->cpu, &cpu)) ||
	    (err = kern_read_u64(k, addr + o->stack, &ti->stack)) ||
	    (err = kern_read_u64(k, addr + o->ti_flags, &ti->ti_flags)))
		return gp_error_wrap(err, "reading task at 0x%llx",
				     (unsigned long long)addr);
	if (o->has_patch_state) {
		if ((err = kern_read(k, addr + o->patch_state, &ps, 4)))
			return gp_error_wrap(err, "reading task at 0x%llx",
					     (unsigned long long)addr);
		ti->patch_state = ps;
	}
	ti->comm[TASK_COMM_MAX] = '\0';
	for (char *c = ti->comm; *c; c++)	/* guest text: keep it printable */
		if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
			*c = '?';
	ti->on_cpu = on_cpu != 0;
	ti->cpu = cpu < k->nr_cpu_ids ? (int32_t)cpu : -1;
	ti->state_char = task_state_char(ti->state, ti->exit_state);
	if (ti->pid < 0 || ti->pid > (1 << 22) || ti->tgid < 0 ||
	    ti->tgid > (1 << 22))
		return gp_error_addr(GP_ERR_CORRUPT, addr,
				     "task at 0x%llx has pid %d tgid %d",
				     (unsigned long long)addr, ti->pid,
				     ti->tgid);
	return NULL;
}

static struct gp_error *push(struct task_list *l, const struct task_info *ti)
{
	if (l->nr == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		struct task_info *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return &gp_error_nomem;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->nr++] = *ti;
	return NULL;
}

/* Follow list_head->next at `node`; check it is a plausible kernel pointer. */
static struct gp_error *next_node(struct kern *k, uint64_t node, uint64_t *next,
				  const char *what)
{
	struct gp_error *err = kern_read_u64(k, node, next);

	if (err)
		return gp_error_wrap(err, "cannot read %s at 0x%llx", what,
				     (unsigned long long)node);
	if (!kptr_ok(k, *next))
		return gp_error_addr(GP_ERR_CORRUPT, node,
				     "%s at 0x%llx points to 0x%llx, not a kernel address",
				     what, (unsigned long long)node,
				     (unsigned long long)*next);
	return NULL;
}

static struct gp_error *add_task(struct kern *k, const struct task_offsets *o,
				 struct seen *seen, uint64_t addr,
				 struct task_list *l)
{
	struct task_info ti;
	struct gp_error *err;
	int r;

	if (l->nr >= TASK_MAX)
		return gp_error_create(GP_ERR_LIMIT,
				       "more than %u tasks: stopping the walk",
				       TASK_MAX);
	if (seen_grow(seen, l->nr + 1) < 0 || (r = seen_add(seen, addr)) < 0)
		return &gp_error_nomem;
	if (r)
		return gp_error_addr(GP_ERR_CORRUPT, addr,
				     "task list loops: task 0x%llx seen twice",
				     (unsigned long long)addr);
	err = read_task(k, o, addr, &ti);
	if (!err)
		err = push(l, &ti);
	return err;
}

static struct gp_error *walk_threads(struct kern *k, const struct task_offsets *o,
				     struct seen *seen, uint64_t leader,
				     struct task_list *l)
{
	uint64_t signal, head, node;
	struct gp_error *err;
	size_t n = 0;

	if ((err = kern_read_u64(k, leader + o->signal, &signal)))
		return gp_error_wrap(err, "signal of task 0x%llx",
				     (unsigned long long)leader);
	if (!kptr_ok(k, signal))
		return gp_error_addr(GP_ERR_CORRUPT, leader,
				     "task 0x%llx has signal pointer 0x%llx",
				     (unsigned long long)leader,
				     (unsigned long long)signal);
	head = signal + o->thread_head;
	if ((err = next_node(k, head, &node, "thread list")))
		return err;
	while (node != head) {
		if (++n > TASK_MAX)
			return gp_error_addr(GP_ERR_LIMIT, head,
					     "thread list at 0x%llx does not end",
					     (unsigned long long)head);
		err = add_task(k, o, seen, node - o->thread_node, l);
		if (err)
			return err;
		if ((err = next_node(k, node, &node, "thread list")))
			return err;
	}
	return NULL;
}

struct gp_error *task_list_all(struct kern *k, const struct task_offsets *o,
			       struct task_list *out)
{
	struct seen seen = { 0 };
	uint64_t init_task, head, node;
	struct gp_error *err;
	size_t n = 0;

	memset(out, 0, sizeof(*out));
	if ((err = kern_sym(k, "init_task", &init_task)))
		return err;
	head = init_task + o->tasks;
	if ((err = next_node(k, head, &node, "process list")))
		goto fail;
	/* for_each_process_thread(): init_task itself is CPU 0's idle task
	 * and is listed with the idle tasks below. */
	while (node != head) {
		if (++n > TASK_MAX) {
			err = gp_error_addr(GP_ERR_LIMIT, head,
					    "process list does not end after %u entries",
					    TASK_MAX);
			goto fail;
		}
		err = walk_threads(k, o, &seen, node - o->tasks, out);
		if (err)
			goto fail;
		if ((err = next_node(k, node, &node, "process list")))
			goto fail;
	}
	for (unsigned cpu = 0; cpu < k->nr_cpu_ids; cpu++) {
		uint64_t rq, idle, cur, cur_ptr;
		struct task_info ti;
		bool found = false;

		if (!kern_cpu_online(k, cpu))
			continue;
		if ((err = kern_percpu(k, cpu, o->runqueues, &rq)) ||
		    (err = kern_read_u64(k, rq + o->rq_idle, &idle)) ||
		    (err = kern_percpu(k, cpu, o->current_task, &cur_ptr)) ||
		    (err = kern_read_u64(k, cur_ptr, &cur)))
			goto fail;
		if (!kptr_ok(k, idle) || !kptr_ok(k, cur)) {
			err = gp_error_addr(GP_ERR_CORRUPT, rq,
					    "CPU %u: idle 0x%llx / current 0x%llx are not kernel pointers",
					    cpu, (unsigned long long)idle,
					    (unsigned long long)cur);
			goto fail;
		}
		if ((err = read_task(k, o, idle, &ti)))
			goto fail;
		ti.idle = true;
		if ((err = push(out, &ti)))
			goto fail;
		/* What runs on this CPU now. A task missing from the lists
		 * (deep in do_exit, already unhashed) still runs old code:
		 * list it too, as DESIGN.md warns. */
		for (size_t i = 0; i < out->nr; i++)
			if (out->v[i].addr == cur) {
				out->v[i].running_cpu = (int)cpu;
				found = true;
			}
		if (!found) {
			if ((err = read_task(k, o, cur, &ti)))
				goto fail;
			ti.running_cpu = (int)cpu;
			if ((err = push(out, &ti)))
				goto fail;
		}
	}
	free(seen.slot);
	return NULL;
fail:
	free(seen.slot);
	task_list_free(out);
	return err;
}

void task_list_free(struct task_list *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}
