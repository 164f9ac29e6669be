// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vmm run - boot a Linux kernel (bzImage, or vmlinux through PVH) in our
 * own KVM VMM, its serial console on this terminal, optionally with a
 * control socket for the other vmm commands (target vmm:SOCKET).
 *
 * Everything that can be checked before a VM exists is checked first
 * (options, kernel, initrd, command line, memory size), and every failure
 * after that tears down what was built: bad input never leaves a
 * half-started VM behind.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "kvmvm.h"

#define DEFAULT_APPEND "console=ttyS0 reboot=k panic=-1"

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

static void run_usage(FILE *f)
{
	fputs("usage: vmm run --kernel BZIMAGE|VMLINUX [--initrd FILE] [--append CMDLINE] [--mem SIZE]\n"
	      "               [--cpus N] [--gdb SOCKET]\n"
	      "\n"
	      "Boot a Linux kernel in guestpatch's own KVM VMM (a bzImage through the 64-bit\n"
	      "boot protocol, a vmlinux ELF through its PVH entry); its serial console (ttyS0)\n"
	      "is this terminal. --mem takes K, M or G (default 256M), --cpus 1..16\n"
	      "(default 1). --append defaults to \"" DEFAULT_APPEND "\".\n"
	      "--gdb SOCKET opens a control socket (mode 0600): use vmm:SOCKET as the\n"
	      "TARGET of the other commands. A guest reboot or power-off ends the VMM\n"
	      "(exit 0); an exit the VMM does not handle stops it with the registers\n"
	      "(exit 1). Ctrl-C on the terminal stops the VMM.\n",
	      f);
}

static bool parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return false;
	switch (*end) {
	case 'G': case 'g': v <<= 30; end++; break;
	case 'M': case 'm': v <<= 20; end++; break;
	case 'K': case 'k': v <<= 10; end++; break;
	case '\0': v <<= 20; break;	/* plain numbers are MiB, as QEMU's -m */
	default: return false;
	}
	if (*end == 'B' || *end == 'b' || *end == 'i')
		end++;
	if (*end)
		return false;
	*out = (size_t)v;
	return true;
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "kernel", required_argument, NULL, 'k' },
		{ "initrd", required_argument, NULL, 'i' },
		{ "append", required_argument, NULL, 'a' },
		{ "mem", required_argument, NULL, 'm' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "gdb", required_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *kernel = NULL, *initrd = NULL, *append = DEFAULT_APPEND, *gdb = NULL;
	size_t mem = 256u << 20;
	int cpus = 1, ch, ret = 1;
	struct kvmvm_kernel *k = NULL;
	struct kvmvm *v = NULL;
	struct gdbsrv *srv = NULL;
	struct gp_error *err;
	struct termios saved;
	bool tty = false;
	enum kvmvm_stop why;
	struct sigaction sa = { .sa_handler = on_signal };

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'k': kernel = optarg; break;
		case 'i': initrd = optarg; break;
		case 'a': append = optarg; break;
		case 'g': gdb = optarg; break;
		case 'm':
			if (!parse_size(optarg, &mem)) {
				fprintf(stderr, "vmm: run: --mem %s: expected a size such as 512M or 2G\n", optarg);
				return 2;
			}
			break;
		case 'c': {
			char *end;
			long n = strtol(optarg, &end, 10);

			if (*end || n < 1 || n > KVMVM_MAX_VCPUS) {
				fprintf(stderr, "vmm: run: --cpus %s: expected 1..%d\n", optarg, KVMVM_MAX_VCPUS);
				return 2;
			}
			cpus = (int)n;
			break;
		}
		case 'h': run_usage(stdout); return 0;
		default: run_usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vmm: run: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (!kernel) {
		fprintf(stderr, "vmm: run: missing --kernel BZIMAGE|VMLINUX\n");
		run_usage(stderr);
		return 2;
	}
	if (mem % 4096 || mem < (16u << 20)) {
		fprintf(stderr, "vmm: run: --mem: a multiple of 4 KiB and at least 16 MiB, please\n");
		return 2;
	}

	/* Input first, then the VM. */
	if ((err = kvmvm_kernel_open(kernel, initrd, append, &k)) ||
	    (err = kvmvm_kernel_fits(k, mem)))
		goto fail;
	if ((err = kvmvm_create_linux(mem, cpus, &v)) || (err = kvmvm_load_linux(v, k)))
		goto fail;
	kvmvm_kernel_free(k);
	k = NULL;
	if (gdb && (err = gdbsrv_start(v, gdb, &srv)))
		goto fail;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (isatty(0) && tcgetattr(0, &saved) == 0) {
		struct termios raw = saved;

		/* Raw keys to the guest, but Ctrl-C still stops the VMM. */
		cfmakeraw(&raw);
		raw.c_lflag |= ISIG;
		raw.c_oflag |= OPOST | ONLCR;
		tty = tcsetattr(0, TCSANOW, &raw) == 0;
	}
	if ((err = kvmvm_serial_input(v, 0)) || (err = kvmvm_start(v)))
		goto fail;
	fprintf(stderr, "vmm: run: %zu MiB, %d vCPU%s%s%s; injected-code slot at guest-physical 0x%llx (%llu MiB, not in the e820 map)\n",
		mem >> 20, cpus, cpus == 1 ? "" : "s", gdb ? ", control socket " : "", gdb ? gdb : "",
		KVMVM_INJECT_PA, KVMVM_INJECT_SIZE >> 20);

	while ((why = kvmvm_wait(v, 200)) == KVMVM_RUNNING && !got_signal)
		;
	switch (why) {
	case KVMVM_RESET:
		fprintf(stderr, "\r\nvmm: run: the guest rebooted; the VMM stops (no reboot)\n");
		ret = 0;
		break;
	case KVMVM_POWEROFF:
	case KVMVM_HALTED:
		fprintf(stderr, "\r\nvmm: run: the guest powered off\n");
		ret = 0;
		break;
	case KVMVM_SHUTDOWN:
		fprintf(stderr, "\r\nvmm: run: the guest triple-faulted (a reset); the VMM stops\n");
		ret = 0;
		break;
	case KVMVM_FAILED:
		pthread_mutex_lock(&v->mu);
		fprintf(stderr, "\r\nvmm: run: %s\n", v->err ? v->err->msg : "guest failed");
		pthread_mutex_unlock(&v->mu);
		ret = 1;
		break;
	case KVMVM_RUNNING:
		fprintf(stderr, "\r\nvmm: run: stopped by signal %d\n", (int)got_signal);
		ret = 128 + got_signal;
		break;
	}
	err = NULL;
fail:
	if (tty)
		tcsetattr(0, TCSANOW, &saved);
	gdbsrv_stop(srv);
	kvmvm_destroy(v);
	kvmvm_kernel_free(k);
	if (err)
		return cli_fail(err, "run");
	return ret;
}
