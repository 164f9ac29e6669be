// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_klog: the kernel log reader (introspect/klog.c) over a small guest
 * built from the input: a header { u64 unused; u32 vmci_len; u32 pad },
 * vmci_len bytes of VMCOREINFO text (the layout, SYMBOL(prb)), then
 * chunks of guest memory (fuzz.h).  Every record is read, from the start
 * and from a sequence number the input picks, and the next sequence
 * number; ASan and UBSan watch, and the callback checks each record's
 * text is as long as it says.
 */
#include "fuzz.h"
#include "klog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz_klog_hdr {
	uint64_t since;
	uint32_t vmci_len;
	uint32_t pad;
};

static bool each(const struct klog_record *r, void *arg)
{
	size_t *n = arg;

	if (strlen(r->text) > r->text_len || r->text_len > 65535)
		abort();
	return ++*n < 100000;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz_vm vm;
	struct fz_in in = { data, size };
	struct fz_klog_hdr h;
	struct klog_stats st;
	struct kern k;
	char text[VMCI_MAX_BYTES];
	uint64_t next;
	size_t n = 0;

	if (!vm.mem)
		fz_vm_init(&vm);
	fz_vm_reset(&vm);
	fz_take(&in, &h, sizeof(h));
	if (h.vmci_len > sizeof(text))
		h.vmci_len = sizeof(text);
	fz_take(&in, text, h.vmci_len);
	fz_vm_chunks(&vm, &in);
	fz_vm_kern(&vm, &k);
	if (!gp_ok(vmci_parse(text, h.vmci_len, 0, &k.vi)))
		return 0;
	gp_error_destroy(kern_klog_read(&k, 0, each, &n, &st));
	gp_error_destroy(kern_klog_read(&k, h.since, each, &n, &st));
	gp_error_destroy(kern_klog_next_seq(&k, &next));
	vmci_free(&k.vi);
	return 0;
}
