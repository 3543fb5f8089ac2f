/* nlb-bench end to end: `serve` as the target, each client mode for a
 * second with --json, and a target killed in the middle of a run.  Checks
 * accounting (requests = responses + errors + in_flight) and that runs end;
 * no throughput or latency thresholds.  udp_stream: its datagram counts,
 * GSO and not, the options it refuses, and that serve --udp echoes a UDP
 * GSO burst as the datagrams it was made of, with and without --no-gro.
 * --verify: clean through serve, and a target flipping one byte is one
 * corrupt answer and one corrupt byte; a datagram answered after its
 * timeout is one late answer; --interval's lines add up.  build/tls-bench
 * ($NLB_TLS_BENCH) runs every case: each handshake completes, tickets come
 * exactly where they are sent, and the resumed case resumes.
 *
 * The binary is $NLB_BENCH (make test sets it), else build/nlb-bench.
 * The server listens on port 0 and the test reads the port the kernel gave
 * it from its "nlb-bench serve: MODE on 127.0.0.1:PORT" line: the kernel
 * picks a free port and nothing can take it between the pick and the bind.
 * Every process is a t_spawn child: t_teardown kills and reaps whatever a
 * failed test left behind. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"

TestSuite(bench, .init = t_setup, .fini = t_teardown, .timeout = 60);

static const char *bench_bin(void)
{
	const char *p = getenv("NLB_BENCH");
	if (p && *p)
		return p;
	if (access("build/nlb-bench", X_OK) == 0)
		return "build/nlb-bench";
	cr_assert_fail("set NLB_BENCH to the nlb-bench binary (make test does)");
	return NULL;
}

struct served {
	struct t_nlb *h;
	char addr[32];		/* 127.0.0.1:PORT */
};

/* Starts `nlb-bench serve --mode MODE [extra] [extra2] 127.0.0.1:0` and
 * learns its port. */
static void serve_start2(struct served *s, const char *mode, const char *extra,
			 const char *extra2)
{
	const char *argv[8];
	int n = 0;
	argv[n++] = bench_bin();
	argv[n++] = "serve";
	argv[n++] = "--mode";
	argv[n++] = mode;
	if (extra)
		argv[n++] = extra;
	if (extra2)
		argv[n++] = extra2;
	argv[n++] = "127.0.0.1:0";
	argv[n] = NULL;
	s->h = t_spawn(argv, NULL);
	cr_assert_not_null(s->h, "spawning %s serve: %s", argv[0], strerror(errno));

	static const char marker[] = " on 127.0.0.1:";
	unsigned long port = 0;
	int64_t deadline = t_now_ms() + 5000;
	while (port == 0 && t_now_ms() < deadline) {
		char *log = t_nlb_log(s->h);
		char *p = log ? strstr(log, marker) : NULL;
		if (p && strchr(p, '\n'))
			port = strtoul(p + sizeof(marker) - 1, NULL, 10);
		free(log);
		if (port == 0)
			t_sleep_ms(10);
	}
	if (port == 0 || port > 65535) {
		t_nlb_dump_log(s->h, "serve did not say where it listens");
		t_failed();
		cr_assert_fail("serve did not start");
	}
	snprintf(s->addr, sizeof(s->addr), "127.0.0.1:%lu", port);
}

static void serve_start(struct served *s, const char *mode, const char *extra)
{
	serve_start2(s, mode, extra, NULL);
}

static void serve_stop(struct served *s)
{
	int rc = t_nlb_stop(s->h, 5000);
	if (rc != 0)
		t_nlb_dump_log(s->h, "serve did not exit 0 on SIGTERM");
	cr_expect_eq(rc, 0, "serve exit code %d on SIGTERM", rc);
	t_nlb_free(s->h);
	s->h = NULL;
}

struct outcome {
	int rc;
	uint64_t requests, responses, in_flight, errors, errors_total;
	double duration_s;
	int parsed;
};

/* Where the value of "key" starts in obj, or NULL. */
static const char *json_value(const char *obj, const char *key)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *p = strstr(obj, pat);
	return p ? p + strlen(pat) : NULL;
}

static int json_u64(const char *obj, const char *key, uint64_t *out)
{
	const char *v = json_value(obj, key);
	char *end;
	if (!v)
		return -1;
	*out = strtoull(v, &end, 10);
	return end == v ? -1 : 0;
}

static int json_double(const char *obj, const char *key, double *out)
{
	const char *v = json_value(obj, key);
	char *end;
	if (!v)
		return -1;
	*out = strtod(v, &end);
	return end == v ? -1 : 0;
}

/* Sums every value of the "errors" object. */
static int json_errors(const char *obj, uint64_t *out)
{
	const char *p = strstr(obj, "\"errors\":{");
	if (!p)
		return -1;
	p += strlen("\"errors\":{");
	*out = 0;
	while (*p && *p != '}') {
		const char *colon = strchr(p, ':');
		if (!colon)
			return -1;
		char *end;
		*out += strtoull(colon + 1, &end, 10);
		if (end == colon + 1)
			return -1;
		p = *end == ',' ? end + 1 : end;
	}
	return *p == '}' ? 0 : -1;
}

static void parse(const char *out, struct outcome *o)
{
	const char *obj = out ? strstr(out, "{\"mode\":") : NULL;
	o->parsed = obj &&
		json_u64(obj, "requests", &o->requests) == 0 &&
		json_u64(obj, "responses", &o->responses) == 0 &&
		json_u64(obj, "in_flight", &o->in_flight) == 0 &&
		json_u64(obj, "errors_total", &o->errors_total) == 0 &&
		json_errors(obj, &o->errors) == 0 &&
		strstr(obj, "\"latency_us\":{\"p50\":") != NULL;
	if (!obj || json_double(obj, "duration_s", &o->duration_s) < 0)
		o->duration_s = -1;
}

static void expect_accounting(const struct outcome *o, const char *out)
{
	if (!o->parsed)
		fprintf(stderr, "---- client output ----\n%s\n----\n", out ? out : "(none)");
	cr_assert(o->parsed, "no JSON report from the client");
	cr_expect_eq(o->errors, o->errors_total, "errors %llu, errors_total %llu",
		     (unsigned long long)o->errors, (unsigned long long)o->errors_total);
	cr_expect_eq(o->requests, o->responses + o->errors + o->in_flight,
		     "requests %llu != responses %llu + errors %llu + in_flight %llu",
		     (unsigned long long)o->requests, (unsigned long long)o->responses,
		     (unsigned long long)o->errors, (unsigned long long)o->in_flight);
}

/* Runs `nlb-bench MODE ADDR args... --json` to completion. */
static void run_client(const char *mode, const char *addr, const char *const args[],
		       int timeout_ms, struct outcome *o, char **out)
{
	const char *argv[24];
	int n = 0;
	argv[n++] = bench_bin();
	argv[n++] = mode;
	argv[n++] = addr;
	for (int i = 0; args[i]; i++)
		argv[n++] = args[i];
	argv[n++] = "--json";
	argv[n] = NULL;
	memset(o, 0, sizeof(*o));
	o->rc = t_run(argv, timeout_ms, out);
	parse(*out, o);
}

/* A one-second run of mode against a fresh `serve --mode smode`. */
static void one_second(const char *mode, const char *smode, const char *sextra,
		       const char *const args[])
{
	struct served s;
	serve_start(&s, smode, sextra);
	struct outcome o;
	char *out = NULL;
	run_client(mode, s.addr, args, 10000, &o, &out);
	cr_expect_eq(o.rc, 0, "%s exit code %d", mode, o.rc);
	expect_accounting(&o, out);
	cr_expect_gt(o.responses, 0, "%s: no responses", mode);
	cr_expect_eq(o.errors, 0, "%s: %llu errors against a healthy serve", mode,
		     (unsigned long long)o.errors);
	if (o.rc != 0 || !o.parsed || o.responses == 0)
		fprintf(stderr, "---- %s output ----\n%s\n----\n", mode, out ? out : "");
	free(out);
	serve_stop(&s);
}

T_TEST(bench, tcp_rr)
{
	static const char *const args[] = { "-d", "1", "-c", "8", "-t", "2", NULL };
	one_second("tcp_rr", "echo", NULL, args);
}

T_TEST(bench, tcp_crr)
{
	static const char *const args[] = { "-d", "1", "-c", "8", "-t", "2", NULL };
	one_second("tcp_crr", "echo", NULL, args);
}

T_TEST(bench, tcp_stream)
{
	static const char *const args[] = { "-d", "1", "-c", "2", "-t", "2", NULL };
	one_second("tcp_stream", "discard", NULL, args);
}

T_TEST(bench, udp_rr)
{
	static const char *const args[] = { "-d", "1", "-c", "8", "-t", "2", NULL };
	one_second("udp_rr", "echo", "--udp", args);
}

T_TEST(bench, tcp_rr_open_loop)
{
	static const char *const args[] = { "-d", "1", "-c", "4", "-t", "1",
					    "--rate", "2000", "--size", "100", NULL };
	one_second("tcp_rr", "echo", NULL, args);
}

T_TEST(bench, tcp_rr_count)
{
	/* -n: every request is settled when the run ends, and a healthy
	 * target answers them all. */
	struct served s;
	serve_start(&s, "echo", "-t2");
	static const char *const args[] = { "-n", "5000", "-c", "7", "-t", "2",
					    "--size", "1000", NULL };
	struct outcome o;
	char *out = NULL;
	run_client("tcp_rr", s.addr, args, 30000, &o, &out);
	cr_expect_eq(o.rc, 0);
	expect_accounting(&o, out);
	cr_expect_eq(o.in_flight, 0);
	cr_expect_eq(o.requests, 5000);
	cr_expect_eq(o.responses, 5000);
	free(out);
	serve_stop(&s);
}

T_TEST(bench, killed_server)
{
	/* SIGKILL the target half-way through a 2 s run: the client must
	 * count errors (reset, short, refused) and end on time. */
	struct served s;
	serve_start(&s, "echo", NULL);
	const char *argv[] = { bench_bin(), "tcp_rr", s.addr, "-d", "2", "-c", "8",
			       "-t", "2", "--json", NULL };
	int64_t t0 = t_now_ms();
	struct t_nlb *c = t_spawn(argv, NULL);
	cr_assert_not_null(c);
	t_sleep_ms(700);
	kill(s.h->pid, SIGKILL);
	cr_expect_eq(t_nlb_wait(s.h, 5000), 128 + SIGKILL);
	t_nlb_free(s.h);

	int64_t left = t0 + 2000 + 2000 - t_now_ms();
	int rc = t_nlb_wait(c, left > 0 ? (int)left : 0);
	cr_expect_eq(rc, 0, "client exit %d (-ETIMEDOUT: still running 2 s after its deadline)",
		     rc);
	char *out = t_nlb_log(c);
	struct outcome o;
	memset(&o, 0, sizeof(o));
	parse(out, &o);
	expect_accounting(&o, out);
	cr_expect_gt(o.errors, 0, "a killed target must show up as errors");
	cr_expect_gt(o.responses, 0, "the target answered before it was killed");
	free(out);
	t_nlb_free(c);
}

T_TEST(bench, serve_sigint_and_usage)
{
	struct served s;
	serve_start(&s, "discard", NULL);
	kill(s.h->pid, SIGINT);
	cr_expect_eq(t_nlb_wait(s.h, 5000), 0, "serve must exit 0 on SIGINT");
	t_nlb_free(s.h);

	const char *bad[] = { bench_bin(), "tcp_rr", "127.0.0.1:1", "--size", "0", NULL };
	char *out = NULL;
	cr_expect_eq(t_run(bad, 5000, &out), 2, "a bad option is exit code 2");
	cr_expect(out && strstr(out, "usage:"), "a bad option prints the usage");
	free(out);
}

/* ---- udp_stream ------------------------------------------------------ */

/* A one-second udp_stream of 4 flows, bursts of 16 x 1200 bytes (client
 * extra: --no-gso or NULL) against serve --udp (serve extra: --no-gro or
 * NULL): bursts are answered, nothing is lost, and datagrams_per_s is
 * answered bursts x 16 / duration. */
static void udp_stream_second(const char *client_extra, const char *serve_extra)
{
	struct served s;
	serve_start2(&s, "echo", "--udp", serve_extra);
	const char *args[] = { "-c", "4", "-d", "1", "--gso", "16", "--size", "1200",
			       client_extra, NULL };
	struct outcome o;
	char *out = NULL;
	run_client("udp_stream", s.addr, args, 10000, &o, &out);
	cr_expect_eq(o.rc, 0, "udp_stream exit code %d", o.rc);
	expect_accounting(&o, out);
	cr_expect_gt(o.responses, 0, "no burst answered");
	cr_expect_eq(o.errors, 0, "%llu errors against a healthy serve",
		     (unsigned long long)o.errors);

	const char *obj = out ? strstr(out, "{\"mode\":\"udp_stream\"") : NULL;
	double dps = -1;
	uint64_t burst = 0, answered = 0, sent = 0, received = 0;
	cr_assert(obj && json_double(obj, "datagrams_per_s", &dps) == 0 &&
		  json_u64(obj, "burst_datagrams", &burst) == 0 &&
		  json_u64(obj, "datagrams_answered", &answered) == 0 &&
		  json_u64(obj, "datagrams_sent", &sent) == 0 &&
		  json_u64(obj, "datagrams_received", &received) == 0,
		  "no udp_stream figures in: %s", out ? out : "(none)");
	cr_expect_eq(burst, 16);
	cr_expect(strstr(obj, client_extra ? "\"gso\":false" : "\"gso\":true") != NULL,
		  "gso flag wrong in: %s", obj);
	cr_expect_eq(answered, o.responses * 16, "datagrams_answered %llu, responses %llu",
		     (unsigned long long)answered, (unsigned long long)o.responses);
	cr_expect_gt(o.duration_s, 0.9);
	/* duration_s is printed to the millisecond: 0.2% is plenty. */
	double want = (double)o.responses * 16 / o.duration_s;
	cr_expect(fabs(dps - want) <= want * 0.002, "datagrams_per_s %.3f, answered x 16 / "
		  "duration_s %.3f", dps, want);
	/* Every sent datagram of an answered burst came back; at most the
	 * bursts in flight at the deadline are partly sent or received. */
	cr_expect_geq(sent, answered);
	cr_expect_geq(received, answered);
	cr_expect_leq(sent, (o.responses + o.in_flight) * 16);
	cr_expect_leq(received, (o.responses + o.in_flight) * 16);
	if (o.rc != 0 || o.errors != 0 || o.responses == 0)
		fprintf(stderr, "---- udp_stream output ----\n%s\n----\n", out ? out : "");
	free(out);
	serve_stop(&s);
}

T_TEST(bench, udp_stream_gso)
{
	udp_stream_second(NULL, NULL);
}

T_TEST(bench, udp_stream_no_gso)
{
	udp_stream_second("--no-gso", NULL);
}

T_TEST(bench, udp_stream_serve_no_gro)
{
	/* GSO bursts into a socket without UDP_GRO: the kernel splits them,
	 * serve echoes datagram by datagram. */
	udp_stream_second(NULL, "--no-gro");
}

/* `nlb-bench args...` must exit 2 with a message containing want. */
static void expect_refused(const char *const args[], const char *want)
{
	const char *argv[16];
	int n = 0;
	argv[n++] = bench_bin();
	for (int i = 0; args[i]; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	char *out = NULL;
	int rc = t_run(argv, 5000, &out);
	cr_expect_eq(rc, 2, "%s %s ...: exit code %d, not 2", args[0], args[2], rc);
	cr_expect(out && strstr(out, want), "no \"%s\" in: %s", want, out ? out : "(none)");
	free(out);
}

T_TEST(bench, udp_stream_refused_options)
{
	/* Nothing listens: these must fail before any packet is sent. */
	static const char *const gso65[] = { "udp_stream", "127.0.0.1:9", "--gso", "65", NULL };
	expect_refused(gso65, "--gso: '65' is not a number of datagrams per burst in 1..64");
	/* 64 x 1200 = 76800 bytes: more than one GSO send can carry. */
	static const char *const big[] = { "udp_stream", "127.0.0.1:9", "--gso", "64",
					   "--size", "1200", NULL };
	expect_refused(big, "76800 bytes, more than the 65507");
	static const char *const big_nogso[] = { "udp_stream", "127.0.0.1:9", "--no-gso",
						 "--size", "5000", NULL };
	expect_refused(big_nogso, "16 x 5000 bytes is 80000 bytes");
	static const char *const resp[] = { "udp_stream", "127.0.0.1:9", "--size", "100,200",
					    NULL };
	expect_refused(resp, "--size takes REQ only");
	static const char *const tiny[] = { "udp_stream", "127.0.0.1:9", "--size", "7", NULL };
	expect_refused(tiny, "udp_stream: --size must be in 8..65507");
	static const char *const rr[] = { "udp_rr", "127.0.0.1:9", "--gso", "4", NULL };
	expect_refused(rr, "--gso and --no-gso are for udp_stream");
	static const char *const srv[] = { "serve", "--udp", "--no-gso", "127.0.0.1:0", NULL };
	expect_refused(srv, "serve takes --mode");
	static const char *const cli[] = { "udp_stream", "127.0.0.1:9", "--no-gro", NULL };
	expect_refused(cli, "--no-gro are for serve");
}

/* A UDP socket connected to serve, UDP_GRO on if gro. */
static int gso_client(const struct served *s, int gro)
{
	unsigned long port = strtoul(strchr(s->addr, ':') + 1, NULL, 10);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	T_ASSERT(fd >= 0, ": %s", strerror(errno));
	int one = 1;
	if (gro && setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) != 0) {
		close(fd);
		T_ASSERT(0, ": UDP_GRO: %s", strerror(errno));
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		T_ASSERT(0, ": connect: %s", strerror(errno));
	}
	return fd;
}

/* Sends 4 datagrams of 1000 bytes (the first of each byte 'A'+i, the rest
 * 'a'+i) as one sendmsg with UDP_SEGMENT = 1000. */
static void send_gso_burst(int fd)
{
	static char data[4000];
	for (int i = 0; i < 4; i++) {
		memset(data + i * 1000, 'a' + i, 1000);
		data[i * 1000] = (char)('A' + i);
	}
	struct iovec iov = { .iov_base = data, .iov_len = sizeof(data) };
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} ctl;
	memset(&ctl, 0, sizeof(ctl));
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_UDP;
	cm->cmsg_type = UDP_SEGMENT;
	cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
	uint16_t seg = 1000;
	memcpy(CMSG_DATA(cm), &seg, sizeof(seg));
	ssize_t n = sendmsg(fd, &msg, 0);
	cr_assert_eq(n, 4000, "UDP_SEGMENT sendmsg: %zd (%s)", n, n < 0 ? strerror(errno) : "");
}

struct rx {
	size_t len;
	int gso;		/* the UDP_GRO cmsg's segment size, 0 if none */
	char first, last;	/* bytes at 0 and len - 1 */
};

/* Receives until 4000 bytes have come back or 2 s pass; returns the
 * number of receives. */
static int recv_echo(int fd, struct rx *rx, int max)
{
	static char buf[70000];
	size_t total = 0;
	int n = 0;
	int64_t deadline = t_now_ms() + 2000;
	while (total < 4000 && n < max) {
		int64_t left = deadline - t_now_ms();
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (left <= 0 || poll(&p, 1, (int)left) != 1)
			break;
		union {
			char buf[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} ctl;
		memset(&ctl, 0, sizeof(ctl));
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
				      .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
		ssize_t len = recvmsg(fd, &msg, MSG_DONTWAIT);
		if (len <= 0)
			break;
		rx[n].len = (size_t)len;
		rx[n].gso = 0;
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
			if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO)
				memcpy(&rx[n].gso, CMSG_DATA(cm), sizeof(int));
		rx[n].first = buf[0];
		rx[n].last = buf[len - 1];
		total += (size_t)len;
		n++;
	}
	return n;
}

/* Without GRO on the client's side the echo must be 4 separate 1000-byte
 * datagrams, in order, with their own contents, whether serve received
 * them as one GRO batch or not. */
static void expect_four_datagrams(const struct served *s, int gro, const char *what)
{
	int fd = gso_client(s, gro);
	send_gso_burst(fd);
	struct rx rx[8];
	int n = recv_echo(fd, rx, 8);
	close(fd);
	cr_expect_eq(n, 4, "%s: %d receives, want 4 datagrams", what, n);
	for (int i = 0; i < n && i < 4; i++) {
		cr_expect_eq(rx[i].len, 1000, "%s: datagram %d is %zu bytes", what, i, rx[i].len);
		cr_expect_eq(rx[i].gso, 0, "%s: datagram %d has a UDP_GRO cmsg", what, i);
		cr_expect_eq(rx[i].first, 'A' + i, "%s: datagram %d starts with '%c'", what, i,
			     rx[i].first);
		cr_expect_eq(rx[i].last, 'a' + i, "%s: datagram %d ends with '%c'", what, i,
			     rx[i].last);
	}
}

T_TEST(bench, serve_gro_echo_keeps_datagram_sizes)
{
	struct served s;
	serve_start(&s, "echo", "--udp");
	expect_four_datagrams(&s, 0, "client without GRO");

	/* A client with GRO gets the echo as it left serve: one batch of
	 * 4000 bytes in 1000-byte segments, i.e. one UDP_SEGMENT send (on
	 * loopback nothing coalesces separate datagrams). */
	int fd = gso_client(&s, 1);
	send_gso_burst(fd);
	struct rx rx[8];
	int n = recv_echo(fd, rx, 8);
	close(fd);
	cr_expect_eq(n, 1, "client with GRO: %d receives, want one batch", n);
	if (n >= 1) {
		cr_expect_eq(rx[0].len, 4000, "batch of %zu bytes", rx[0].len);
		cr_expect_eq(rx[0].gso, 1000, "UDP_GRO segment size %d", rx[0].gso);
		cr_expect_eq(rx[0].first, 'A');
		cr_expect_eq(rx[0].last, 'd');
	}
	serve_stop(&s);
}

T_TEST(bench, serve_no_gro_echo)
{
	struct served s;
	serve_start2(&s, "echo", "--udp", "--no-gro");
	expect_four_datagrams(&s, 0, "client without GRO");
	/* serve --no-gro sends 4 datagrams: a GRO client gets them one by
	 * one on loopback. */
	expect_four_datagrams(&s, 1, "client with GRO, serve --no-gro");
	serve_stop(&s);
}

/* ---- --verify and --interval ------------------------------------------ */

/* Pulls "key":N out of the report (the final object) of out. */
static uint64_t report_u64(const char *out, const char *key)
{
	const char *obj = out ? strstr(out, "{\"mode\":") : NULL;
	uint64_t v = UINT64_MAX;
	if (!obj || json_u64(obj, key, &v) != 0)
		cr_expect_fail("no \"%s\" in: %s", key, out ? out : "(none)");
	return v;
}

T_TEST(bench, verify_clean)
{
	/* Through a healthy echo every answer is its request: no corrupt
	 * answer, no corrupt byte, with requests of several sizes (one
	 * 100 KiB answer takes several receives, each checked at its
	 * offset). */
	struct served s;
	serve_start(&s, "echo", "--tcp-udp");
	static const char *const modes[] = { "tcp_rr", "tcp_crr", "udp_rr", "tcp_rr" };
	static const char *const sizes[] = { "64", "3000", "1200", "100k" };
	for (int i = 0; i < 4; i++) {
		const char *args[] = { "-n", "400", "-c", "4", "-t", "2", "--size", sizes[i],
				       "--verify", NULL };
		struct outcome o;
		char *out = NULL;
		run_client(modes[i], s.addr, args, 20000, &o, &out);
		cr_expect_eq(o.rc, 0, "%s exit code %d", modes[i], o.rc);
		expect_accounting(&o, out);
		cr_expect_eq(o.responses, 400, "%s --size %s: %s", modes[i], sizes[i], out);
		cr_expect(out && strstr(out, "\"verify\":true,\"corrupt_bytes\":0,"), "%s", out);
		cr_expect(out && strstr(out, "\"corrupt\":0}"), "%s", out);
		free(out);
	}
	serve_stop(&s);
}

/* An echo target that flips one byte: of its TCP stream at offset
 * FLIP_TCP_AT (of each connection), and of the FLIP_UDP_NTH datagram it
 * gets; the rest it echoes as it came, the HOLD_UDP_NTH datagram late. */
#define FLIP_TCP_AT  1000u
#define FLIP_UDP_NTH 5u
/* ... and holds the datagram after that (the 6th) this long before
 * echoing it, for a client whose timeout is shorter: a late answer */
#define HOLD_UDP_NTH 6u
#define HOLD_UDP_MS  150

struct flipper {
	int lfd, ufd;
	uint16_t tcp_port, udp_port;
	pthread_t th;
	atomic_bool stop;
	atomic_uint flipped;
};

static void *flipper_run(void *arg)
{
	struct flipper *f = arg;
	int cfd = -1;
	uint64_t off = 0;
	unsigned dgrams = 0;
	char buf[65536], held[2048];
	ssize_t held_len = 0;
	struct sockaddr_storage held_to;
	socklen_t held_tolen = 0;
	int64_t held_until = 0;
	while (!atomic_load(&f->stop)) {
		struct pollfd p[3] = { { .fd = f->lfd, .events = POLLIN },
				       { .fd = f->ufd, .events = POLLIN },
				       { .fd = cfd, .events = POLLIN } };
		if (held_len > 0 && t_now_ms() >= held_until) {
			sendto(f->ufd, held, (size_t)held_len, 0, (struct sockaddr *)&held_to, held_tolen);
			held_len = 0;
		}
		if (poll(p, cfd >= 0 ? 3 : 2, 20) <= 0)
			continue;
		if (p[0].revents & POLLIN) {
			int fd = accept(f->lfd, NULL, NULL);
			if (fd >= 0 && cfd >= 0)
				close(fd);	/* one client at a time */
			else if (fd >= 0) {
				cfd = fd;
				off = 0;
			}
		}
		if (p[1].revents & POLLIN) {
			struct sockaddr_storage from;
			socklen_t flen = sizeof(from);
			ssize_t n = recvfrom(f->ufd, buf, sizeof(buf), 0, (struct sockaddr *)&from,
					     &flen);
			if (n > 20 && ++dgrams == FLIP_UDP_NTH) {
				buf[20] ^= 0x10;
				atomic_fetch_add(&f->flipped, 1);
			}
			if (n > 0 && dgrams == HOLD_UDP_NTH && (size_t)n <= sizeof(held)) {
				memcpy(held, buf, (size_t)n);
				held_len = n;
				held_to = from;
				held_tolen = flen;
				held_until = t_now_ms() + HOLD_UDP_MS;
			} else if (n > 0) {
				sendto(f->ufd, buf, (size_t)n, 0, (struct sockaddr *)&from, flen);
			}
		}
		if (cfd >= 0 && (p[2].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t n = read(cfd, buf, sizeof(buf));
			if (n <= 0) {
				close(cfd);
				cfd = -1;
				continue;
			}
			if (off <= FLIP_TCP_AT && FLIP_TCP_AT < off + (uint64_t)n) {
				buf[FLIP_TCP_AT - off] ^= 0x01;
				atomic_fetch_add(&f->flipped, 1);
			}
			off += (uint64_t)n;
			if (t_write_all(cfd, buf, (size_t)n) != 0) {
				close(cfd);
				cfd = -1;
			}
		}
	}
	if (cfd >= 0)
		close(cfd);
	return NULL;
}

static uint16_t bound_port(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	return ntohs(a.sin_port);
}

static void flipper_start(struct flipper *f)
{
	memset(f, 0, sizeof(*f));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	f->ufd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert(f->lfd >= 0 && f->ufd >= 0);
	cr_assert_eq(bind(f->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(f->lfd, 16), 0);
	cr_assert_eq(bind(f->ufd, (struct sockaddr *)&a, sizeof(a)), 0);
	f->tcp_port = bound_port(f->lfd);
	f->udp_port = bound_port(f->ufd);
	cr_assert_eq(pthread_create(&f->th, NULL, flipper_run, f), 0);
}

static void flipper_stop(struct flipper *f)
{
	atomic_store(&f->stop, true);
	pthread_join(f->th, NULL);
	close(f->lfd);
	close(f->ufd);
}

/* 50 requests of 64 bytes on one connection (flow) through the flipper,
 * with or without --verify: its report. */
static char *through_flipper(const char *mode, uint16_t port, int verify)
{
	char addr[32];
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	/* udp_rr paced at 100/s (0.5 s) so that the late answer comes
	 * while the run goes on */
	int udp = strcmp(mode, "udp_rr") == 0;
	const char *args[] = { "-n", "50", "-c", "1", "-t", "1", "--timeout", udp ? "100" : "2000",
			       "--rate", udp ? "100" : "1000000", verify ? "--verify" : NULL, NULL };
	struct outcome o;
	char *out = NULL;
	run_client(mode, addr, args, 20000, &o, &out);
	cr_expect_eq(o.rc, 0, "%s exit code %d: %s", mode, o.rc, out);
	expect_accounting(&o, out);
	cr_expect_eq(o.requests, 50);
	return out;
}

T_TEST(bench, verify_catches_a_flipped_byte)
{
	/* One byte flipped on the way back is one corrupt answer (tcp_rr:
	 * the 16th, which holds stream offset 1000; udp_rr: the 5th) and one
	 * corrupt byte; the others are answered.  Without --verify the same
	 * target looks healthy: the check is what catches it. */
	struct flipper f;
	flipper_start(&f);
	char *out = through_flipper("tcp_rr", f.tcp_port, 1);
	cr_expect(out && strstr(out, "\"corrupt_bytes\":1,"), "tcp_rr: %s", out);
	cr_expect(out && strstr(out, "\"corrupt\":1}"), "tcp_rr: %s", out);
	cr_expect_eq(report_u64(out, "responses"), 49, "tcp_rr: %s", out);
	free(out);
	/* udp_rr: the 6th datagram comes back 150 ms late, after its 100 ms
	 * timeout: a timeout, and a late answer, not a corrupt one */
	out = through_flipper("udp_rr", f.udp_port, 1);
	cr_expect(out && strstr(out, "\"corrupt_bytes\":1,"), "udp_rr: %s", out);
	cr_expect(out && strstr(out, "\"corrupt\":1}"), "udp_rr: %s", out);
	cr_expect(out && strstr(out, "\"timeout\":1,"), "udp_rr: %s", out);
	cr_expect_eq(report_u64(out, "late_answers"), 1, "udp_rr: %s", out);
	cr_expect_eq(report_u64(out, "responses"), 48, "udp_rr: %s", out);
	free(out);
	out = through_flipper("tcp_rr", f.tcp_port, 0);
	cr_expect_eq(report_u64(out, "errors_total"), 0, "without --verify: %s", out);
	free(out);
	/* the flips the client saw are the ones the target made */
	cr_expect_eq(atomic_load(&f.flipped), 3);
	flipper_stop(&f);
}

T_TEST(bench, verify_refused_options)
{
	static const char *const stream[] = { "tcp_stream", "127.0.0.1:9", "--verify", NULL };
	expect_refused(stream, "--verify is for tcp_rr, tcp_crr and udp_rr");
	static const char *const resp[] = { "tcp_rr", "127.0.0.1:9", "--verify", "--size",
					    "64,128", NULL };
	expect_refused(resp, "--verify checks an echo");
	static const char *const ival[] = { "tcp_rr", "127.0.0.1:9", "--interval", "0", NULL };
	expect_refused(ival, "--interval: '0' is not seconds");
}

T_TEST(bench, interval_lines_add_up)
{
	/* 1.2 s in intervals of 0.5 s: two whole lines and the rest in a
	 * third; their answers and errors add up to the report's. */
	struct served s;
	serve_start(&s, "echo", NULL);
	static const char *const args[] = { "-d", "1.2", "-c", "2", "-t", "1", "--interval",
					    "0.5", "--verify", NULL };
	struct outcome o;
	char *out = NULL;
	run_client("tcp_rr", s.addr, args, 10000, &o, &out);
	cr_expect_eq(o.rc, 0);
	expect_accounting(&o, out);
	unsigned lines = 0;
	uint64_t sum = 0, errs = 0;
	for (const char *p = out; p && (p = strstr(p, "{\"interval\":")); p++) {
		uint64_t n = 0, r = 0, e = 0;
		cr_expect(json_u64(p, "interval", &n) == 0 && json_u64(p, "responses", &r) == 0 &&
			  json_u64(p, "errors_total", &e) == 0 &&
			  strstr(p, "\"latency_us\":{\"p50\":") != NULL &&
			  strstr(p, "\"from_send_us\":{\"p99\":") != NULL, "line: %s", p);
		cr_expect_eq(n, lines + 1);
		lines++;
		sum += r;
		errs += e;
	}
	cr_expect_eq(lines, 3, "%u interval lines in: %s", lines, out);
	cr_expect_eq(sum, o.responses, "lines %llu, report %llu", (unsigned long long)sum,
		     (unsigned long long)o.responses);
	cr_expect_eq(errs, o.errors);
	free(out);
	serve_stop(&s);
}

/* ---- tls-bench (bench/micro/tls_bench.c) ------------------------------ */

/* A few handshakes a case: the program itself fails a case whose
 * handshakes fail, whose tickets are not what it configures, or whose
 * resumptions do not resume; here, every case printed a figure. */
T_TEST(bench, tls_bench_cases)
{
	const char *bin = getenv("NLB_TLS_BENCH");
	if (!bin || !*bin)
		bin = "build/tls-bench";
	const char *argv[] = { bin, "3", NULL };
	char *out = NULL;
	int rc = t_run(argv, 60000, &out);
	cr_expect_eq(rc, 0, "tls-bench exit code %d: %s", rc, out ? out : "");
	static const char *const cases[] = {
		"TLS 1.3 full, no tickets", "TLS 1.3 full, 2 tickets", "TLS 1.3 resumed (ticket)",
		"TLS 1.2 full, no tickets", "TLS 1.3 full, RSA-2048, no tickets",
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *line = out ? strstr(out, cases[i]) : NULL;
		double us = 0;
		cr_expect(line && sscanf(line + strlen(cases[i]), "%lf", &us) == 1 && us > 0,
			  "no figure for \"%s\" in: %s", cases[i], out ? out : "");
	}
	free(out);
}
