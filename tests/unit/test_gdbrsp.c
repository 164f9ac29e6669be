// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The GDB remote protocol client (target/gdbc.c) and the QEMU backend
 * (target/tgt_qemu.c) without QEMU: the pure helpers (checksum, '}' escapes,
 * '*' run-length, register layout from target XML), option parsing, and a
 * fake gdbstub in a child process that answers the way QEMU 7.2 does, or
 * does not answer, or answers garbage.  Nothing here may hang: every
 * client read has a timeout and every stub child has an alarm.
 *
 * (About 800 lines: the fake gdbstub and the cases that drive it belong
 * together; each case is short.)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gdbc.h"
#include "gp_check.h"
#include "target.h"

/* ---- pure helpers ---- */

START_TEST(checksum)
{
	ck_assert_uint_eq(gdbc_checksum("", 0), 0);
	ck_assert_uint_eq(gdbc_checksum("OK", 2), 0x9a);
	/* The classic example from the GDB manual: $g#67. */
	ck_assert_uint_eq(gdbc_checksum("g", 1), 0x67);
	/* Modulo 256. */
	ck_assert_uint_eq(gdbc_checksum("\xff\xff", 2), 0xfe);
}
END_TEST

static long dec(const char *in, char *out, size_t cap)
{
	long n = gdbc_decode(in, strlen(in), out, cap);

	if (n >= 0)
		out[n] = '\0';
	return n;
}

START_TEST(decode)
{
	char out[256];

	ck_assert_int_eq(dec("OK", out, 200), 2);
	ck_assert_str_eq(out, "OK");
	/* '}' escapes: the next byte XOR 0x20 ('#' '$' '}' '*' travel so). */
	ck_assert_int_eq(dec("a}\x03}\x04}]}\x0a"
			     "b",
			     out, 200),
			 6);
	ck_assert_str_eq(out, "a#$}*b");
	/* Run-length: "0* " is '0' plus ' ' - 29 = 3 more. */
	ck_assert_int_eq(dec("0* ", out, 200), 4);
	ck_assert_str_eq(out, "0000");
	ck_assert_int_eq(dec("x0*\"y", out, 200), 8);
	ck_assert_str_eq(out, "x000000y");
	/* The largest count, '~' = 126: 97 repeats. */
	ck_assert_int_eq(dec("f*~", out, 200), 98);
	ck_assert(out[0] == 'f' && out[97] == 'f');
	/* A run after an escaped byte repeats the decoded byte. */
	ck_assert_int_eq(dec("}\x03* ", out, 200), 4);
	ck_assert_str_eq(out, "####");

	/* Malformed: dangling escape, run with nothing before it or without
	 * a count, counts out of range, output beyond the buffer. */
	ck_assert_int_lt(dec("ab}", out, 200), 0);
	ck_assert_int_lt(dec("*  ", out, 200), 0);
	ck_assert_int_lt(dec("a*", out, 200), 0);
	ck_assert_int_lt(dec("a*\x1f", out, 200), 0);
	ck_assert_int_lt(dec("a*\x7f", out, 200), 0);
	ck_assert_int_lt(dec("abcdef", out, 4), 0);
	ck_assert_int_lt(dec("a*~", out, 50), 0);
	ck_assert_int_eq(dec("abcd", out, 4), 4);
}
END_TEST

static struct gdbc *new_gdbc(void)
{
	struct gdbc *g = calloc(1, sizeof(*g));

	ck_assert(g);
	g->fd = -1;
	return g;
}

START_TEST(xml_layout)
{
	static const char xml[] =
		"<?xml version=\"1.0\"?>\n<!DOCTYPE feature SYSTEM \"gdb-target.dtd\">\n"
		"<feature name=\"org.gnu.gdb.i386.core\">\n"
		"  <flags id=\"i386_eflags\" size=\"4\">\n"
		"    <field name=\"CF\" start=\"0\" end=\"0\"/>\n  </flags>\n"
		"  <reg name=\"rax\" bitsize=\"64\" type=\"int64\" regnum=\"0\"/>\n"
		"  <reg name='rbx' bitsize='64'/>\n"
		"  <reg\tbitsize=\"32\" name=\"eflags\" type=\"i386_eflags\"/>\n"
		"  <reg name=\"cs\" bitsize=\"32\"/>\n"
		"  <register_like name=\"junk\" bitsize=\"8\"/>\n"
		"  <reg name=\"st0\" bitsize=\"80\" type=\"i387_ext\"/>\n"
		"  <reg name=\"cr3\" bitsize=\"64\"/>\n"
		"</feature>\n";
	uint8_t raw[64];
	struct gdbc *g = new_gdbc();
	uint64_t v;

	ck_ok(gdbc_parse_xml_regs(g, xml));
	ck_assert_int_eq(g->nr_regs, 6);
	ck_assert_str_eq(g->regs[0].name, "rax");
	ck_assert_str_eq(g->regs[2].name, "eflags");
	ck_assert_int_eq(g->regs[2].bitsize, 32);
	ck_assert_int_eq(g->regs[2].offset, 16);
	ck_assert_int_eq(g->regs[3].offset, 20);
	ck_assert_int_eq(g->regs[4].offset, 24); /* st0: 10 bytes */
	ck_assert_int_eq(g->regs[5].offset, 34);

	/* Values are little-endian at their offsets in the 'g' reply. */
	for (size_t i = 0; i < sizeof(raw); i++)
		raw[i] = (uint8_t)i;
	g->g_bytes = 42;
	ck_assert(gdbc_reg_value(g, raw, "rbx", &v));
	ck_assert_uint_eq(v, 0x0f0e0d0c0b0a0908ull);
	ck_assert(gdbc_reg_value(g, raw, "cs", &v));
	ck_assert_uint_eq(v, 0x17161514);
	ck_assert(gdbc_reg_value(g, raw, "cr3", &v));
	ck_assert_uint_eq(v, 0x2928272625242322ull);
	ck_assert(!gdbc_reg_value(g, raw, "st0", &v)); /* wider than 64 */
	ck_assert(!gdbc_reg_value(g, raw, "rcx", &v));
	/* A register beyond what the stub sent is absent, not garbage. */
	g->g_bytes = 40;
	ck_assert(!gdbc_reg_value(g, raw, "cr3", &v));

	/* Dropping a register moves the later ones down. */
	ck_assert(gdbc_drop_reg(g, "st0"));
	ck_assert(!gdbc_drop_reg(g, "st0"));
	ck_assert_int_eq(g->nr_regs, 5);
	ck_assert_int_eq(g->regs[4].offset, 24);
	ck_assert(gdbc_reg_value(g, raw, "cr3", &v));
	ck_assert_uint_eq(v, 0x1f1e1d1c1b1a1918ull);

	/* Parsing continues the numbering (an xi:included second file). */
	ck_ok(gdbc_parse_xml_regs(g, "<reg name=\"cr4\" bitsize=\"64\" regnum=\"5\"/>"));
	ck_assert_int_eq(g->nr_regs, 6);
	ck_assert_int_eq(g->regs[5].offset, 32);
	free(g);
}
END_TEST

START_TEST(xml_hostile)
{
	struct gdbc *g = new_gdbc();
	char *big;
	size_t n = 0;

	ck_err(gdbc_parse_xml_regs(g, "<reg name=\"rax\" bitsize=\"64\""), GP_ERR_PROTOCOL,
	       "unterminated");
	g->nr_regs = 0;
	ck_err(gdbc_parse_xml_regs(g, "<reg name=\"rax\"/>"), GP_ERR_PROTOCOL, "bitsize");
	ck_err(gdbc_parse_xml_regs(g, "<reg bitsize=\"64\"/>"), GP_ERR_PROTOCOL, "name");
	ck_err(gdbc_parse_xml_regs(g, "<reg name=\"rax\" bitsize=\"-8\"/>"), GP_ERR_PROTOCOL,
	       "rax");
	ck_err(gdbc_parse_xml_regs(g, "<reg name=\"rax\" bitsize=\"12\"/>"), GP_ERR_PROTOCOL,
	       "rax");
	ck_err(gdbc_parse_xml_regs(g, "<reg name=\"rax\" bitsize=\"64x\"/>"), GP_ERR_PROTOCOL,
	       "rax");
	ck_err(gdbc_parse_xml_regs(g, "<reg name=\"rax\" bitsize=\"999999999999\"/>"),
	       GP_ERR_PROTOCOL, "rax");
	/* A name longer than we keep is refused, not truncated. */
	ck_err(gdbc_parse_xml_regs(g, "<reg name=\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\" "
				      "bitsize=\"64\"/>"),
	       GP_ERR_PROTOCOL, "name");
	/* Registers numbered out of order would break 'g' offsets. */
	ck_err(gdbc_parse_xml_regs(g, "<reg name=\"rax\" bitsize=\"64\" regnum=\"7\"/>"),
	       GP_ERR_UNSUPPORTED, "rax");
	ck_assert_int_eq(g->nr_regs, 0);

	/* More registers than the table holds: an error, no overflow. */
	big = malloc(64 * (GDBC_MAX_REGS + 10));
	ck_assert(big);
	for (int i = 0; i < GDBC_MAX_REGS + 5; i++)
		n += (size_t)sprintf(big + n, "<reg name=\"r%d\" bitsize=\"64\"/>", i);
	ck_err(gdbc_parse_xml_regs(g, big), GP_ERR_LIMIT, "registers");
	ck_assert_int_eq(g->nr_regs, GDBC_MAX_REGS);
	free(big);
	free(g);
}
END_TEST

/* ---- option parsing: errors before any connection is made ---- */

START_TEST(options)
{
	struct tgt *t = (struct tgt *)1;

	ck_err(tgt_open("qemu:gdb=127.0.0.1:1,bogus=1", &t), GP_ERR_INVAL, "bogus=1");
	ck_assert_ptr_null(t);
	ck_err(tgt_open("qemu:gdb=127.0.0.1:1,memory=/x", &t), GP_ERR_INVAL, "memory=/x");
	ck_err(tgt_open("qemu:mem=/tmp/x", &t), GP_ERR_INVAL, "gdb=");
	ck_err(tgt_open("qemu:gdb=", &t), GP_ERR_INVAL, "gdb=");
	ck_err(tgt_open("qemu:", &t), GP_ERR_INVAL, "gdb=");
	ck_err(tgt_open("qemu:gdb=127.0.0.1:1,lowmem=lots", &t), GP_ERR_INVAL, "lowmem=lots");
	ck_err(tgt_open("qemu:gdb=127.0.0.1:1,lowmem=2Q", &t), GP_ERR_INVAL, "lowmem=2Q");
	ck_err(tgt_open("qemu:gdb=127.0.0.1:1,mem=/nonexistent/ram", &t), GP_ERR_OS,
	       "/nonexistent/ram");
	ck_err(tgt_open("qemu:gdb=noport", &t), GP_ERR_INVAL, "noport");
	ck_err(tgt_open("qemu:gdb=/nonexistent/gdb.sock", &t), GP_ERR_OS, "/nonexistent/gdb.sock");
	ck_assert_ptr_null(t);
}
END_TEST

/* ---- a fake gdbstub in a child process ---- */

enum stub_mode {
	STUB_QEMU,	   /* answers like QEMU 7.2 (acks, no no-ack mode) */
	STUB_SILENT,	   /* accepts, never answers */
	STUB_BAD_CHECKSUM, /* well-framed replies, wrong checksum */
	STUB_JUNK_CLOSE,   /* bytes that are no packet, then hangs up */
	STUB_BAD_HEX,	   /* 'm' replies that are not hex */
};

#define STUB_MEM 0x10000 /* fake guest-physical memory: 0..64 KiB */

static char tmpdir[48];
static char sock_path[100];
static pid_t stub_pid = -1;

static void stub_send(int fd, const char *body)
{
	char pkt[8192];
	int n = snprintf(pkt, sizeof(pkt), "$%s#%02x", body, gdbc_checksum(body, strlen(body)));

	if (write(fd, pkt, (size_t)n) != n)
		_exit(3);
}

/* Hex with '*' run-length, as stubs may send it: a run continues with
 * '*' and a count char (29 + repeats); counts that would give '#' or '$'
 * (6 and 7 repeats) are avoided by sending 5. */
static void rle_hex(const uint8_t *in, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	char plain[2048];
	size_t len = 0, o = 0;

	for (size_t i = 0; i < n; i++) {
		plain[len++] = hx[in[i] >> 4];
		plain[len++] = hx[in[i] & 15];
	}
	for (size_t i = 0; i < len;) {
		size_t run = 1, rep;

		while (i + run < len && plain[i + run] == plain[i] && run < 98)
			run++;
		out[o++] = plain[i];
		rep = run - 1;
		if (rep >= 3) {
			if (rep == 6 || rep == 7)
				rep = 5;
			out[o++] = '*';
			out[o++] = (char)(29 + rep);
			i += 1 + rep;
		} else {
			i++;
		}
	}
	out[o] = '\0';
}

static const char stub_target_xml[] =
	"<?xml version=\"1.0\"?><!DOCTYPE target SYSTEM \"gdb-target.dtd\">"
	"<target><architecture>i386:x86-64</architecture>"
	"<xi:include href=\"core.xml\"/><xi:include href=\"sys.xml\"/></target>";

/* What the client needs, spread over two included files as QEMU does
 * (with its i386-64bit.xml quirk: ss_base, ds_base and es_base are
 * described but not sent in 'g'). */
static char stub_core_xml[2048], stub_sys_xml[2048];

static const char *const core_regs[] = {
	"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8",
	"r9",  "r10", "r11", "r12", "r13", "r14", "r15", "rip",
};
static const char *const seg_regs[] = {"eflags", "cs", "ss", "ds", "es", "fs", "gs"};
static const char *const sys_regs[] = {
	"fs_base", "gs_base", "k_gs_base", "cr0", "cr2", "cr3", "cr4", "cr8", "efer",
};

static void stub_build_xml(void)
{
	size_t n = 0;

	n += (size_t)sprintf(stub_core_xml + n, "<feature name=\"org.gnu.gdb.i386.core\">");
	for (size_t i = 0; i < ARRAY_SIZE(core_regs); i++)
		n += (size_t)sprintf(stub_core_xml + n, "<reg name=\"%s\" bitsize=\"64\"/>",
				     core_regs[i]);
	for (size_t i = 0; i < ARRAY_SIZE(seg_regs); i++)
		n += (size_t)sprintf(stub_core_xml + n, "<reg name=\"%s\" bitsize=\"32\"/>",
				     seg_regs[i]);
	sprintf(stub_core_xml + n, "</feature>");
	n = 0;
	n += (size_t)sprintf(
		stub_sys_xml + n,
		"<feature name=\"org.gnu.gdb.i386.linux\">"
		"<reg name=\"ss_base\" bitsize=\"64\"/><reg name=\"ds_base\" bitsize=\"64\"/>"
		"<reg name=\"es_base\" bitsize=\"64\"/>");
	for (size_t i = 0; i < ARRAY_SIZE(sys_regs); i++)
		n += (size_t)sprintf(stub_sys_xml + n, "<reg name=\"%s\" bitsize=\"64\"/>",
				     sys_regs[i]);
	sprintf(stub_sys_xml + n, "</feature>");
}

/* The 'g' reply of thread tid (1-based): what QEMU sends, i.e. without
 * the three segment bases. */
static size_t stub_regs(int tid, uint8_t *raw)
{
	size_t n = 0;
	uint64_t v;
	uint32_t v32;

	for (size_t i = 0; i < ARRAY_SIZE(core_regs); i++) {
		v = i == 16 ? 0xffffffff81000000ull + (uint64_t)tid : (uint64_t)tid << 8 | i;
		memcpy(raw + n, &v, 8);
		n += 8;
	}
	for (size_t i = 0; i < ARRAY_SIZE(seg_regs); i++) {
		v32 = i == 0 ? 0x246 : i == 1 ? 0x10 : 0x18;
		memcpy(raw + n, &v32, 4);
		n += 4;
	}
	for (size_t i = 0; i < ARRAY_SIZE(sys_regs); i++) {
		static const uint64_t vals[] = {
			0, 0, 0, 0x80050033, 0, 0x1000, 0x3506f0, 0, 0xd01,
		};
		v = vals[i];
		if (i == 1)
			v = 0xffff888000000000ull + (uint64_t)tid * 0x100000;
		if (i == 5)
			v = 0x1000ull * (uint64_t)(tid + 1); /* cr3 per vCPU */
		memcpy(raw + n, &v, 8);
		n += 8;
	}
	return n;
}

static void stub_xfer(int fd, const char *annex, unsigned long off, unsigned long len)
{
	const char *doc = !strcmp(annex, "target.xml") ? stub_target_xml
			  : !strcmp(annex, "core.xml") ? stub_core_xml
			  : !strcmp(annex, "sys.xml")  ? stub_sys_xml
						       : NULL;
	char reply[4200];
	size_t dl;

	if (!doc) {
		stub_send(fd, "E00");
		return;
	}
	dl = strlen(doc);
	/* Small pieces, so the client has to ask several times. */
	if (len > 100)
		len = 100;
	if (off >= dl) {
		stub_send(fd, "l");
		return;
	}
	if (len > dl - off)
		len = dl - off;
	reply[0] = off + len >= dl ? 'l' : 'm';
	memcpy(reply + 1, doc + off, len);
	reply[len + 1] = '\0';
	stub_send(fd, reply);
}

static int hexnib(char c)
{
	return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

static void stub_serve(int fd, enum stub_mode mode)
{
	static uint8_t mem[STUB_MEM];
	char pkt[8192];
	size_t n = 0;
	bool running = false, in_pkt = false;
	int cur = 1, qs = 0;
	char c;

	for (size_t i = 0; i < sizeof(mem); i++)
		mem[i] = (uint8_t)(i * 7 + (i >> 8));
	if (mode == STUB_SILENT) {
		pause();
		_exit(0);
	}
	if (mode == STUB_JUNK_CLOSE) {
		/* Take the request first: closing on unread data would make
		 * the client see a reset instead of the end of the stream. */
		while (read(fd, &c, 1) == 1 && c != '#')
			;
		if (read(fd, pkt, 2) != 2 || write(fd, "hello, I am not a gdbstub\r\n", 27) < 0)
			_exit(3);
		shutdown(fd, SHUT_WR);
		while (read(fd, &c, 1) == 1)
			;
		_exit(0);
	}
	/* QEMU sends a stop reply of its own when a client attaches. */
	stub_send(fd, "T02thread:01;");
	while (read(fd, &c, 1) == 1) {
		if (!in_pkt) {
			if (c == 0x03 && running) {
				running = false;
				stub_send(fd, "T02thread:01;");
			} else if (c == '$') {
				in_pkt = true;
				n = 0;
			}
			continue;
		}
		if (c != '#') {
			if (n < sizeof(pkt) - 1)
				pkt[n++] = c;
			continue;
		}
		in_pkt = false;
		pkt[n] = '\0';
		if (read(fd, &c, 1) != 1 || read(fd, &c, 1) != 1)
			break;
		if (write(fd, "+", 1) != 1)
			break;
		if (mode == STUB_BAD_CHECKSUM) {
			if (write(fd, "$OK#00", 6) != 6)
				break;
			continue;
		}
		if (!strncmp(pkt, "qSupported", 10)) {
			stub_send(fd, "PacketSize=1000;qXfer:features:read+;vContSupported+;"
				      "multiprocess+");
		} else if (!strcmp(pkt, "qfThreadInfo")) {
			qs = 0;
			stub_send(fd, "m01");
		} else if (!strcmp(pkt, "qsThreadInfo")) {
			stub_send(fd, qs++ ? "l" : "m02");
		} else if (!strncmp(pkt, "qXfer:features:read:", 20)) {
			char annex[64];
			unsigned long off, len;

			if (sscanf(pkt + 20, "%63[^:]:%lx,%lx", annex, &off, &len) == 3)
				stub_xfer(fd, annex, off, len);
			else
				stub_send(fd, "E01");
		} else if (!strcmp(pkt, "Qqemu.PhyMemMode:1")) {
			stub_send(fd, "OK");
		} else if (!strncmp(pkt, "Hg", 2)) {
			cur = (int)strtol(pkt + 2, NULL, 16);
			stub_send(fd, cur == 1 || cur == 2 ? "OK" : "E22");
		} else if (!strcmp(pkt, "g")) {
			uint8_t raw[512];
			char hex[2048];

			rle_hex(raw, stub_regs(cur, raw), hex);
			stub_send(fd, hex);
		} else if (pkt[0] == 'm') {
			unsigned long a, l;
			char hex[4200];

			if (mode == STUB_BAD_HEX) {
				stub_send(fd, "zzzzzzzz");
				continue;
			}
			if (sscanf(pkt + 1, "%lx,%lx", &a, &l) != 2 || a >= STUB_MEM ||
			    l > STUB_MEM - a || l > 2048) {
				stub_send(fd, "E14");
				continue;
			}
			for (unsigned long i = 0; i < l; i++)
				sprintf(hex + 2 * i, "%02x", mem[a + i]);
			hex[2 * l] = '\0';
			stub_send(fd, hex);
		} else if (pkt[0] == 'M') {
			unsigned long a, l;
			char *colon = strchr(pkt, ':');

			if (!colon || sscanf(pkt + 1, "%lx,%lx", &a, &l) != 2 || a >= STUB_MEM ||
			    l > STUB_MEM - a || strlen(colon + 1) != 2 * l) {
				stub_send(fd, "E14");
				continue;
			}
			for (unsigned long i = 0; i < l; i++)
				mem[a + i] = (uint8_t)(hexnib(colon[1 + 2 * i]) << 4 |
						       hexnib(colon[2 + 2 * i]));
			stub_send(fd, "OK");
		} else if (!strcmp(pkt, "c")) {
			running = true; /* no reply until the next stop */
		} else if (!strcmp(pkt, "?")) {
			stub_send(fd, "T02thread:01;");
		} else if (!strcmp(pkt, "D")) {
			stub_send(fd, "OK");
			_exit(0);
		} else {
			stub_send(fd, "");
		}
	}
	_exit(0);
}

/* Listen first, then fork: the client can connect as soon as we return. */
static void stub_start(enum stub_mode mode, bool tcp, char *addr, size_t cap)
{
	int lfd, fd;

	if (stub_pid > 0) { /* the previous stub of this test */
		kill(stub_pid, SIGKILL);
		waitpid(stub_pid, NULL, 0);
		stub_pid = -1;
	}
	if (tcp) {
		struct sockaddr_in sa = {.sin_family = AF_INET};
		socklen_t sl = sizeof(sa);

		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		lfd = socket(AF_INET, SOCK_STREAM, 0);
		ck_assert_int_ge(lfd, 0);
		ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
		snprintf(addr, cap, "127.0.0.1:%d", ntohs(sa.sin_port));
	} else {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};

		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
		unlink(sock_path);
		lfd = socket(AF_UNIX, SOCK_STREAM, 0);
		ck_assert_int_ge(lfd, 0);
		ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		snprintf(addr, cap, "%s", sock_path);
	}
	ck_assert_int_eq(listen(lfd, 1), 0);
	stub_pid = fork();
	ck_assert_int_ge(stub_pid, 0);
	if (stub_pid == 0) {
		alarm(30); /* never outlive a broken test */
		signal(SIGPIPE, SIG_DFL);
		fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			_exit(2);
		close(lfd);
		stub_serve(fd, mode);
	}
	close(lfd);
}

static void setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/gp-gdbrsp-XXXXXX");
	ck_assert(mkdtemp(tmpdir));
	snprintf(sock_path, sizeof(sock_path), "%s/gdb.sock", tmpdir);
	stub_build_xml();
}

static void teardown(void)
{
	char cmd[128];

	if (stub_pid > 0) {
		kill(stub_pid, SIGKILL);
		waitpid(stub_pid, NULL, 0);
		stub_pid = -1;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", tmpdir);
}

START_TEST(silent_peer_times_out)
{
	char addr[160];
	struct gdbc *g;
	uint64_t t0;

	stub_start(STUB_SILENT, false, addr, sizeof(addr));
	ck_ok(gdbc_connect(addr, 300, &g));
	t0 = gp_now_ns();
	ck_err(gdbc_cmd(g, "qSupported"), GP_ERR_TIMEOUT, "gdbstub");
	ck_assert_uint_lt(gp_now_ns() - t0, 3000000000ull);
	gdbc_close(g);
}
END_TEST

START_TEST(garbage_is_a_protocol_error)
{
	char addr[160];
	struct gdbc *g;

	stub_start(STUB_BAD_CHECKSUM, false, addr, sizeof(addr));
	ck_ok(gdbc_connect(addr, 2000, &g));
	ck_err(gdbc_cmd(g, "qSupported"), GP_ERR_PROTOCOL, "checksum");
	gdbc_close(g);
	teardown();
	setup();

	stub_start(STUB_JUNK_CLOSE, false, addr, sizeof(addr));
	ck_ok(gdbc_connect(addr, 2000, &g));
	ck_err(gdbc_cmd(g, "qSupported"), GP_ERR_PROTOCOL, "closed");
	gdbc_close(g);
}
END_TEST

START_TEST(bad_hex_memory)
{
	struct tgt *t;
	char spec[200], addr[160];
	uint8_t buf[16];

	stub_start(STUB_BAD_HEX, false, addr, sizeof(addr));
	snprintf(spec, sizeof(spec), "qemu:gdb=%s", addr);
	ck_ok(tgt_open(spec, &t));
	ck_ok(tgt_pause(t));
	ck_err(tgt_read_phys(t, 0x100, buf, sizeof(buf)), GP_ERR_FAULT, "0x100");
	ck_ok(tgt_resume(t));
	tgt_close(t);
}
END_TEST

/* The whole backend against the QEMU-like stub, over TCP or a unix socket. */
static void full_session(bool tcp)
{
	struct tgt *t;
	struct tgt_regs r;
	char spec[200], addr[160];
	uint8_t buf[10000], want[10000];

	stub_start(STUB_QEMU, tcp, addr, sizeof(addr));
	snprintf(spec, sizeof(spec), "qemu:gdb=%s", addr);
	ck_ok(tgt_open(spec, &t));
	ck_assert_int_eq(t->nr_vcpus, 2);
	ck_assert(!t->paused);
	/* Running: the gdbstub cannot serve reads, and says so. */
	ck_err(tgt_read_phys(t, 0, buf, 16), GP_ERR_BUSY, "paused");
	ck_assert_ptr_null(tgt_map_phys(t, 0, 16));

	ck_ok(tgt_pause(t));
	for (int v = 0; v < 2; v++) {
		ck_ok(tgt_get_regs(t, v, &r));
		ck_assert_uint_eq(r.rax, (uint64_t)(v + 1) << 8);
		ck_assert_uint_eq(r.r15, (uint64_t)(v + 1) << 8 | 15);
		ck_assert_uint_eq(r.rip, 0xffffffff81000000ull + (uint64_t)v + 1);
		ck_assert_uint_eq(r.rflags, 0x246);
		ck_assert_uint_eq(r.cs, 0x10);
		ck_assert_uint_eq(r.gs, 0x18);
		ck_assert_uint_eq(r.gs_base, 0xffff888000000000ull + (uint64_t)(v + 1) * 0x100000);
		ck_assert_uint_eq(r.cr0, 0x80050033);
		ck_assert_uint_eq(r.cr3, 0x1000ull * (uint64_t)(v + 2));
		ck_assert_uint_eq(r.cr4, 0x3506f0);
		ck_assert_uint_eq(r.efer, 0xd01);
	}
	ck_err(tgt_get_regs(t, 2, &r), GP_ERR_INVAL, "vCPU 2");

	/* Large reads are split to fit PacketSize (0x1000). */
	for (size_t i = 0; i < sizeof(want); i++) {
		size_t a = 0x3000 + i;

		want[i] = (uint8_t)(a * 7 + (a >> 8));
	}
	ck_ok(tgt_read_phys(t, 0x3000, buf, sizeof(buf)));
	ck_assert(!memcmp(buf, want, sizeof(buf)));
	ck_assert_int_ge(t->stats.reads_slow, 1);
	ck_err(tgt_read_phys(t, STUB_MEM - 8, buf, 16), GP_ERR_FAULT, "gdbstub");

	/* Code writes go through 'M'; data writes without a RAM file too. */
	memset(want, 0xcc, 5000);
	ck_ok(tgt_write_code(t, 0x8000, want, 5000));
	ck_ok(tgt_read_phys(t, 0x8000, buf, 5000));
	ck_assert(!memcmp(buf, want, 5000));
	ck_ok(tgt_write_phys(t, 0x8000, "\x90\x90", 2));
	ck_ok(tgt_read_phys(t, 0x7fff, buf, 4));
	ck_assert(buf[1] == 0x90 && buf[2] == 0x90 && buf[3] == 0xcc);

	ck_ok(tgt_resume(t));
	ck_err(tgt_write_code(t, 0x8000, want, 1), GP_ERR_BUSY, "paused");
	/* Pause and resume again: the stub sees 0x03 and 'c'. */
	ck_ok(tgt_pause(t));
	ck_ok(tgt_get_regs(t, 1, &r));
	ck_assert_uint_eq(r.cr3, 0x3000);
	ck_ok(tgt_resume(t));
	tgt_close(t);
	/* close detached with 'D': the stub exits 0 on it. */
	{
		int st;

		ck_assert_int_eq(waitpid(stub_pid, &st, 0), stub_pid);
		stub_pid = -1;
		ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
}

START_TEST(session_unix)
{
	full_session(false);
}
END_TEST

START_TEST(session_tcp)
{
	full_session(true);
}
END_TEST

/* The RAM file: guest-physical below lowmem at offset pa, above 4 GiB at
 * offset lowmem + (pa - 4 GiB); the hole in between is not RAM. */
START_TEST(ram_file_mapping)
{
	char spec[400], addr[160], ram[128];
	struct tgt *t;
	const uint8_t *p;
	uint8_t buf[8];
	int fd;

	snprintf(ram, sizeof(ram), "%s/ram", tmpdir);
	fd = open(ram, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 0x3000), 0);
	ck_assert_int_eq(pwrite(fd, "LOW", 3, 0x10), 3);
	ck_assert_int_eq(pwrite(fd, "HIGH", 4, 0x1000), 4);
	stub_start(STUB_QEMU, false, addr, sizeof(addr));
	snprintf(spec, sizeof(spec), "qemu:gdb=%s,mem=%s,lowmem=0x1000", addr, ram);
	ck_ok(tgt_open(spec, &t));
	ck_assert_uint_eq(t->ram_top, 0x100002000ull);
	p = tgt_map_phys(t, 0x10, 3);
	ck_assert(p && !memcmp(p, "LOW", 3));
	p = tgt_map_phys(t, 0x100000000ull, 4);
	ck_assert(p && !memcmp(p, "HIGH", 4));
	ck_assert_ptr_nonnull(tgt_map_phys(t, 0x100000000ull, 0x2000));
	ck_assert_ptr_null(tgt_map_phys(t, 0x100000000ull, 0x2001));
	ck_assert_ptr_null(tgt_map_phys(t, 0xff0, 0x20));	/* straddles lowmem */
	ck_assert_ptr_null(tgt_map_phys(t, 0x2000, 8));		/* the hole */
	ck_assert_ptr_null(tgt_map_phys(t, UINT64_MAX - 2, 8)); /* wraps */
	/* Reads of RAM need no pause: they come from the file. */
	ck_ok(tgt_read_phys(t, 0x100000001ull, buf, 3));
	ck_assert(!memcmp(buf, "IGH", 3));
	/* Data writes to RAM land in the file, even while running. */
	ck_ok(tgt_write_phys(t, 0x100000000ull, "high", 4));
	ck_assert_int_eq(pread(fd, buf, 4, 0x1000), 4);
	ck_assert(!memcmp(buf, "high", 4));
	/* Outside RAM nothing goes to the gdbstub (it would touch MMIO). */
	ck_err(tgt_write_phys(t, 0x2000, "x", 1), GP_ERR_FAULT, "not guest RAM");
	ck_ok(tgt_pause(t));
	ck_err(tgt_read_phys(t, 0x2000, buf, 8), GP_ERR_FAULT, "0x2000");
	ck_err(tgt_read_phys(t, 0xff8, buf, 8 + 1), GP_ERR_FAULT, "not guest RAM");
	ck_err(tgt_read_phys(t, 0x100001ffcull, buf, 8), GP_ERR_FAULT, "not guest RAM");
	ck_err(tgt_write_code(t, 0x100002000ull, "x", 1), GP_ERR_FAULT, "not guest RAM");
	/* RAM, through the gdbstub (the stub has its own 64 KiB). */
	ck_ok(t->ops->read_phys(t, 0x10, buf, 3));
	ck_ok(tgt_write_code(t, 0x10, "\xcc", 1));
	ck_ok(tgt_resume(t));
	tgt_close(t);
	close(fd);

	/* Without lowmem=, a small RAM file is all low memory (q35 rule). */
	stub_start(STUB_QEMU, false, addr, sizeof(addr));
	snprintf(spec, sizeof(spec), "qemu:gdb=%s,mem=%s", addr, ram);
	ck_ok(tgt_open(spec, &t));
	ck_assert_uint_eq(t->ram_top, 0x3000);
	ck_assert_ptr_nonnull(tgt_map_phys(t, 0x2ff8, 8));
	ck_assert_ptr_null(tgt_map_phys(t, 0x100000000ull, 8));
	tgt_close(t);
}
END_TEST

static TCase *gdbrsp_tcase(void)
{
	TCase *tc = tcase_create("gdbrsp");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, checksum);
	tcase_add_test(tc, decode);
	tcase_add_test(tc, xml_layout);
	tcase_add_test(tc, xml_hostile);
	tcase_add_test(tc, options);
	tcase_add_test(tc, silent_peer_times_out);
	tcase_add_test(tc, garbage_is_a_protocol_error);
	tcase_add_test(tc, bad_hex_memory);
	tcase_add_test(tc, session_unix);
	tcase_add_test(tc, session_tcp);
	tcase_add_test(tc, ram_file_mapping);
	return tc;
}

GP_TCASE(gdbrsp_tcase)
