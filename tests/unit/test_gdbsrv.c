// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The monitor's control socket (vmm/monitor/gdbsrv.c) against a hostile
 * client (issue 11), without KVM: gdbsrv_session() serves one end of a
 * socketpair over a VM with RAM and no vCPUs, in a thread; the test writes
 * raw bytes at the other end.  Malformed packets are answered "E..", bad
 * checksums are nacked and dropped, '}' escapes are decoded, and an
 * oversized packet is refused; none of them may crash or stop the server.
 */
#include <poll.h>
#include <sanitizer/lsan_interface.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gdbc.h"
#include "gp_check.h"
#include "kvmvm.h"

#define SRV_RAM 0x10000

struct srv {
	struct kvmvm v;
	int fd[2];	/* [0]: the test's end; [1]: the server's */
	pthread_t thread;
};

static void *srv_thread(void *arg)
{
	struct srv *s = arg;

	gdbsrv_session(&s->v, s->fd[1]);
	return NULL;
}

static struct srv *srv_start(void)
{
	struct srv *s = calloc(1, sizeof(*s));

	ck_assert(s);
	s->v.mem = malloc(SRV_RAM);
	ck_assert(s->v.mem);
	for (size_t i = 0; i < SRV_RAM; i++)
		s->v.mem[i] = (uint8_t)i;
	s->v.mem_size = s->v.low_size = SRV_RAM;
	s->v.mem_fd = -1;
	pthread_mutex_init(&s->v.mu, NULL);
	pthread_cond_init(&s->v.cv, NULL);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, s->fd), 0);
	ck_assert_int_eq(pthread_create(&s->thread, NULL, srv_thread, s), 0);
	return s;
}

/* Hang up: the session must end (it would not, were it stuck). */
static void srv_stop(struct srv *s)
{
	close(s->fd[0]);
	ck_assert_int_eq(pthread_join(s->thread, NULL), 0);
	close(s->fd[1]);
	free(s->v.mem);
	free(s);
}

static void put(struct srv *s, const void *raw, size_t len)
{
	ck_assert_int_eq(write(s->fd[0], raw, len), (ssize_t)len);
}

/* "$body#xx" with the checksum of the raw body (as sent, escapes and all). */
static void put_pkt(struct srv *s, const char *body)
{
	char pkt[256];
	int n = snprintf(pkt, sizeof(pkt), "$%s#%02x", body, gdbc_checksum(body, strlen(body)));

	put(s, pkt, (size_t)n);
}

/* Read exactly what want is (or time out after 2 s) and compare. */
static void expect(struct srv *s, const char *want)
{
	char got[512];
	size_t n = 0, wl = strlen(want);

	ck_assert(wl < sizeof(got));
	while (n < wl) {
		struct pollfd p = {.fd = s->fd[0], .events = POLLIN};
		ssize_t r;

		ck_assert_msg(poll(&p, 1, 2000) == 1, "no answer; got '%.*s', want '%s'", (int)n,
			      got, want);
		r = read(s->fd[0], got + n, wl - n);
		ck_assert_msg(r > 0, "server hung up; got '%.*s', want '%s'", (int)n, got, want);
		n += (size_t)r;
	}
	got[n] = '\0';
	ck_assert_str_eq(got, want);
}

/* "+$body#xx": an ack, then the reply. */
static void expect_reply(struct srv *s, const char *body)
{
	char want[300];

	snprintf(want, sizeof(want), "+$%s#%02x", body, gdbc_checksum(body, strlen(body)));
	expect(s, want);
}

static char get_byte(struct srv *s)
{
	struct pollfd p = {.fd = s->fd[0], .events = POLLIN};
	char c;

	ck_assert_msg(poll(&p, 1, 2000) == 1, "the server did not answer");
	ck_assert_msg(read(s->fd[0], &c, 1) == 1, "the server hung up");
	return c;
}

/* The next reply: what came before its '$' (acks, nacks) in pre, its body
 * in body; the checksum must be right. */
static void get_reply(struct srv *s, char *pre, char *body, size_t cap)
{
	size_t n = 0, np = 0;
	char c, cs[3];

	while ((c = get_byte(s)) != '$') {
		ck_assert(np + 1 < cap);
		pre[np++] = c;
	}
	pre[np] = '\0';
	while ((c = get_byte(s)) != '#') {
		ck_assert(n + 1 < cap);
		body[n++] = c;
	}
	body[n] = '\0';
	cs[0] = get_byte(s);
	cs[1] = get_byte(s);
	cs[2] = '\0';
	ck_assert_uint_eq(strtoul(cs, NULL, 16), gdbc_checksum(body, n));
}

START_TEST(gdbsrv_malformed)
{
	static const char *const bad[] = {
		"M10,2",	/* no ':' (this crashed the monitor) */
		"M10",	   "M,2:0000", "M10,2:zzzz", "M10,2:001", "Mzz,2:0000", "M10,2:00000000",
		"m",	   "m10",      "mzz,2",	     "m10,2x",	  "m-1,2",	"m10,",
		"m10,}",	/* a dangling escape */
		"m10,2\x00", /* a NUL inside */
	};
	struct srv *s = srv_start();
	char pre[64], body[4200];

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		/* bad[] holds C strings: the one with a NUL is sent whole. */
		size_t len = i == ARRAY_SIZE(bad) - 1 ? 6 : strlen(bad[i]);
		char pkt[64];
		int n = 1 + (int)len;

		pkt[0] = '$';
		memcpy(pkt + 1, bad[i], len);
		n += snprintf(pkt + n, sizeof(pkt) - (size_t)n, "#%02x", gdbc_checksum(bad[i], len));
		put(s, pkt, (size_t)n);
		get_reply(s, pre, body, sizeof(body));
		ck_assert_msg(!strcmp(pre, "+") && body[0] == 'E' && strlen(body) == 3,
			      "'%s' answered '%s' '%s'", bad[i], pre, body);
	}
	/* And the server still serves. */
	put_pkt(s, "m10,3");
	expect_reply(s, "101112");
	put_pkt(s, "M10,2:abcd");
	expect_reply(s, "OK");
	put_pkt(s, "m10,2");
	expect_reply(s, "abcd");
	srv_stop(s);
}
END_TEST

START_TEST(gdbsrv_checksum_and_escapes)
{
	struct srv *s = srv_start();
	char pkt[16000];
	size_t n = 0;

	/* A bad checksum: '-', and the packet is dropped (no reply). */
	put(s, "$m10,2#00", 9);
	expect(s, "-");
	put(s, "$m10,2#zz", 9);
	expect(s, "-");
	/* The retransmission, right, is served. */
	put_pkt(s, "m10,2");
	expect_reply(s, "1011");
	/* '}' escapes are decoded ('1' travels as '}' 0x11 here), and the
	 * checksum covers the bytes as sent. */
	put_pkt(s, "m}\x11" "0,2");
	expect_reply(s, "1011");
	put_pkt(s, "M20,1:}\x11}\x12");
	expect_reply(s, "OK");
	put_pkt(s, "m20,1");
	expect_reply(s, "12");

	/* A packet beyond any size we serve: refused, not a hang-up. */
	pkt[n++] = '$';
	memset(pkt + n, 'a', 12000);
	n += 12000;
	n += (size_t)snprintf(pkt + n, 8, "#%02x", gdbc_checksum(pkt + 1, 12000));
	put(s, pkt, n);
	{
		char pre[16], body[64];

		get_reply(s, pre, body, sizeof(body));
		ck_assert_str_eq(pre, "+");
		ck_assert_msg(body[0] == 'E', "an oversized packet answered '%s'", body);
	}
	put_pkt(s, "m10,1");
	expect_reply(s, "10");
	srv_stop(s);
}
END_TEST

/* Found by fuzz_gdbsrv: every 'g' the VM could not answer (no vCPU, or
 * one not paused) leaked the error behind its "E01", so a client could
 * grow the monitor's memory without end. */
START_TEST(gdbsrv_failed_regs_do_not_leak)
{
	struct srv *s = srv_start();

	for (int i = 0; i < 3; i++) {
		put_pkt(s, "g");
		expect_reply(s, "E01");
	}
	srv_stop(s);
	ck_assert_int_eq(__lsan_do_recoverable_leak_check(), 0);
}
END_TEST

static TCase *gdbsrv_tcase(void)
{
	TCase *tc = tcase_create("gdbsrv");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, gdbsrv_malformed);
	tcase_add_test(tc, gdbsrv_checksum_and_escapes);
	tcase_add_test(tc, gdbsrv_failed_regs_do_not_leak);
	return tc;
}

GP_TCASE(gdbsrv_tcase)
