// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_vmcoreinfo: VMCOREINFO text (introspect/vmcoreinfo.c) as a guest
 * page holds it: parsed, every key kern_attach() asks for read as string,
 * hex, number and symbol, and found by vmci_scan() in a small memory image
 * that holds it at a page start.
 */
#include "fuzz.h"
#include "vmcoreinfo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const keys[] = {
	"OSRELEASE", "BUILD-ID", "KERNELOFFSET", "NUMBER(phys_base)", "PAGESIZE",
	"NUMBER(pgtable_l5_enabled)", "SYMBOL(init_top_pgt)", "SYMBOL(_stext)",
	"SYMBOL(init_uts_ns)", "SYMBOL(kallsyms_names)", "SYMBOL(kallsyms_num_syms)",
	"SYMBOL(kallsyms_token_table)", "SYMBOL(kallsyms_token_index)",
	"SYMBOL(kallsyms_offsets)", "SYMBOL(kallsyms_relative_base)",
	"OFFSET(uts_namespace.name)", "SIZE(list_head)", "CRASHTIME", "",
};

static bool accept_all(const struct vmcoreinfo *vi, void *arg)
{
	(void)vi;
	return arg != NULL;
}

static void lookups(const struct vmcoreinfo *vi)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		uint64_t h;
		int64_t n;
		size_t len;
		char *s = NULL;

		vmci_get(vi, keys[i], &len);
		if (gp_ok(vmci_get_str(vi, keys[i], &s)))
			free(s);
		gp_error_destroy(vmci_get_hex(vi, keys[i], &h));
		gp_error_destroy(vmci_get_num(vi, keys[i], &n));
		gp_error_destroy(vmci_symbol(vi, keys[i] + (keys[i][0] == 'S' ? 7 : 0), &h));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t mem[4 * 4096];
	static struct tgt *t;
	struct vmcoreinfo vi;

	if (gp_ok(vmci_parse(data, size, 0x1000, &vi))) {
		lookups(&vi);
		vmci_free(&vi);
	}
	if (!t && tgt_buffer_new(mem, sizeof(mem), NULL, 0, &t))
		abort();
	memset(mem, 0, sizeof(mem));
	memcpy(mem + 4096, data, size < 2 * 4096 ? size : 2 * 4096);
	if (gp_ok(vmci_scan(t, sizeof(mem), accept_all, &vi, &vi))) {
		lookups(&vi);
		vmci_free(&vi);
	}
	return 0;
}
