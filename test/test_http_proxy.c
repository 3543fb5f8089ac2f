/* Suite "http_proxy": the real nlb binary on an http listener, with curl,
 * wrk and raw sockets as clients and NGINX (or a target written here for
 * the misbehaviour NGINX will not show) behind it.  Owns the end-to-end
 * checks of issue 18's first data-path step: requests and bodies both
 * ways, keep-alive on both sides with pooled target connections,
 * X-Forwarded-*, pipelining, an upgrade to a tunnel, and each answer of
 * nlb's own produced by the cause the ALB gives it. */
#include <criterion/criterion.h>

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"
#include "helpers/nginx_peer.h"
#include "http1_head.h"
#include "px.h"

TestSuite(http_proxy, .init = t_setup, .fini = t_teardown);

/* An http listener over target port (0: none), group_extra into its group. */
static void http_px(struct px *p, uint16_t target, const char *listener_extra,
		    const char *group_extra)
{
	px_init(p, "auto");
	p->conf.protocol = "http";
	p->conf.listener_extra = listener_extra;
	p->conf.group_extra = group_extra;
	if (target)
		px_target(p, target);
}

static int read_response(int fd, char *buf, size_t cap, size_t *got, int timeout_ms)
{
	return px_read_response(fd, buf, cap, got, timeout_ms, false);
}

/* Sends req on a new connection and returns the status of the answer. */
static int raw_status(struct px *p, const char *req, size_t len)
{
	int fd = px_connect(p);
	T_ASSERT(t_write_all(fd, req, len) == 0);
	char buf[8192];
	size_t got;
	int st = read_response(fd, buf, sizeof(buf), &got, 3000);
	t_close(fd);
	return st;
}

T_TEST(http_proxy, keepalive_pool_and_forwarded_headers, .timeout = 60)
{
	struct t_nginx ng;
	uint16_t port = t_free_port();
	px_nginx_echo(&ng, port, NULL);
	struct px p;
	http_px(&p, port, NULL, NULL);
	px_start(&p);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/r", p.conf.listen_port);
	/* five requests on one client connection, one with its own XFF */
	char *out = NULL;
	const char *args[] = { "-H", "X-Forwarded-For: 203.0.113.9", url, url, url, url, url, NULL };
	int rc = px_curl(&out, args);
	px_assert(&p, rc == 0, "curl exited %d: %s", rc, out ? out : "");
	char want[128];
	snprintf(want, sizeof(want), "uri=/r xff=203.0.113.9, 127.0.0.1 proto=http port=%u",
		 p.conf.listen_port);
	unsigned lines = 0, conns[8] = { 0 }, n_conns = 0;
	for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n"), lines++) {
		cr_expect(strncmp(l, want, strlen(want)) == 0, "line %u: %s", lines, l);
		const char *c = strstr(l, "conn=");
		unsigned id = c ? (unsigned)atoi(c + 5) : 0;
		bool seen = false;
		for (unsigned k = 0; k < n_conns; k++)
			seen |= conns[k] == id;
		if (!seen && n_conns < 8)
			conns[n_conns++] = id;
	}
	free(out);
	cr_expect_eq(lines, 5);
	/* the target saw fewer connections than requests */
	cr_expect_eq(n_conns, 1, "target connections: %u for 5 requests", n_conns);
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "accepted"), 1);
	cr_expect_eq(px_stat(&p, "http_requests"), 5);
	cr_expect_eq(px_stat(&p, "http_target_2xx"), 5);
	cr_expect_eq(px_stat(&p, "http_target_new"), 1);
	cr_expect_eq(px_stat(&p, "http_target_reused"), 4);
	px_free(&p);
	t_nginx_free(&ng);
}

T_TEST(http_proxy, bodies_both_ways, .timeout = 120)
{
	char root[] = "/tmp/nlb-http-XXXXXX";
	T_ASSERT(mkdtemp(root) != NULL);
	char file[96], back[96], servers[512];
	snprintf(file, sizeof(file), "%s/in.bin", root);
	snprintf(back, sizeof(back), "%s/back.bin", root);
	/* 16 MiB of a pattern, PUT (with a length, then chunked) and read back */
	FILE *f = fopen(file, "w");
	T_ASSERT(f != NULL);
	static char chunk[1 << 16];
	for (uint64_t off = 0; off < 16u << 20; off += sizeof(chunk)) {
		t_pattern_fill(chunk, off, sizeof(chunk), 7);
		T_ASSERT(fwrite(chunk, 1, sizeof(chunk), f) == sizeof(chunk));
	}
	fclose(f);
	uint16_t port = t_free_port();
	snprintf(servers, sizeof(servers),
		 "server { listen 127.0.0.1:%u; root %s/www; client_max_body_size 64m;\n"
		 "  location / { dav_methods PUT; create_full_put_path on; } }", port, root);
	struct t_nginx ng;
	T_ASSERT(t_nginx_start(&ng, servers, port) == 0);
	struct px p;
	http_px(&p, port, NULL, NULL);
	px_start(&p);
	char url_a[96], url_b[96];
	snprintf(url_a, sizeof(url_a), "http://127.0.0.1:%u/a.bin", p.conf.listen_port);
	snprintf(url_b, sizeof(url_b), "http://127.0.0.1:%u/b.bin", p.conf.listen_port);
	const char *put_len[] = { "-f", "-T", file, url_a, NULL };
	const char *put_chunked[] = { "-f", "-H", "Transfer-Encoding: chunked", "-T", file, url_b,
				      NULL };
	px_assert(&p, px_curl(NULL, put_len) == 0, "PUT with Content-Length");
	px_assert(&p, px_curl(NULL, put_chunked) == 0, "PUT chunked");
	const char *urls[] = { url_a, url_b };
	for (int k = 0; k < 2; k++) {
		const char *get[] = { "-f", "-o", back, urls[k], NULL };
		px_assert(&p, px_curl(NULL, get) == 0, "GET %s", urls[k]);
		const char *cmp[] = { "/usr/bin/cmp", file, back, NULL };
		px_assert(&p, t_run(cmp, 10000, NULL) == 0, "%s came back different", urls[k]);
	}
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "http_requests"), 4);
	cr_expect_geq(px_stat(&p, "bytes_in"), 32 << 20);
	cr_expect_geq(px_stat(&p, "bytes_out"), 32 << 20);
	px_free(&p);
	t_nginx_free(&ng);
	const char *rm[] = { "/bin/rm", "-rf", root, NULL };
	t_run(rm, 10000, NULL);
}

T_TEST(http_proxy, pipelined_in_order, .timeout = 60)
{
	struct t_nginx ng;
	uint16_t port = t_free_port();
	px_nginx_echo(&ng, port, NULL);
	struct px p;
	http_px(&p, port, NULL, NULL);
	px_start(&p);
	int fd = px_connect(&p);
	static const char reqs[] = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"
				   "GET /2 HTTP/1.1\r\nHost: a\r\n\r\n"
				   "HEAD /3 HTTP/1.1\r\nHost: a\r\n\r\n"
				   "GET /4 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
	T_ASSERT(t_write_all(fd, reqs, sizeof(reqs) - 1) == 0);
	/* all four, then nlb closes (the last asked it to) */
	static char all[16384];
	size_t len = 0;
	ssize_t n;
	while (len < sizeof(all) && (n = t_read_full(fd, all + len, sizeof(all) - len, 3000)) > 0)
		len += (size_t)n;
	size_t at = 0;
	for (int k = 1; k <= 4; k++) {
		struct nlb_http1_head h;
		nlb_http1_head_init(&h, NLB_HTTP1_RESPONSE, 0, sizeof(all));
		int r = nlb_http1_head_parse(&h, all + at, len - at);
		px_assert(&p, r > 0 && h.status == 200, "response %d: %d (%.*s)", k, r,
			  (int)(len - at), all + at);
		size_t body = k == 3 ? 0 : (size_t)h.content_length;
		char want[16], text[512];
		snprintf(want, sizeof(want), "uri=/%d ", k);
		snprintf(text, sizeof(text), "%.*s", (int)((size_t)r + body), all + at);
		if (k != 3)
			cr_expect_not_null(strstr(text, want), "response %d: %s", k, text);
		if (k == 4)
			cr_expect_not_null(strstr(text, "Connection: close"), "%s", text);
		at += (size_t)r + body;
	}
	cr_expect_eq(at, len, "%zu bytes after the fourth response", len - at);
	t_close(fd);
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "http_requests"), 4);
	px_free(&p);
	t_nginx_free(&ng);
}

/* ---- a target written here: what NGINX does not do ----------------------- */

enum mini_mode {
	MINI_UPGRADE = 1,	/* 101, then echo */
	MINI_SLOW,		/* keep-alive; answers "/slow" after delay_ms */
	MINI_DROP_SECOND,	/* answers a connection's first request; closes at its
				 * second without a byte, as a keep-alive timeout
				 * racing the request would; connection after
				 * connection */
	MINI_TRUNCATE,		/* a head promising 100 bytes, 10 of them, close */
	MINI_GARBAGE,		/* an answer that is not HTTP */
};

struct mini {
	int lfd;
	uint16_t port;
	enum mini_mode mode;
	pthread_t thread;
	int served;
	int delay_ms;		/* MINI_SLOW's (mini_start: 500) */
};

/* MINI_DROP_SECOND's connections, one at a time until the listener
 * is shut down. */
static void *mini_drop_second(struct mini *m)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n";
	int fd;
	while ((fd = accept(m->lfd, NULL, NULL)) >= 0) {
		char buf[4096];
		size_t len = 0;
		int answered = 0;
		for (;;) {
			ssize_t n = recv(fd, buf + len, sizeof(buf) - len, 0);
			if (n <= 0)
				break;
			len += (size_t)n;
			if (!memmem(buf, len, "\r\n\r\n", 4))
				continue;
			if (answered++)
				break;	/* the second request: closed unanswered */
			t_write_all(fd, ok, sizeof(ok) - 1);
			len = 0;
		}
		close(fd);
		m->served++;
	}
	return NULL;
}

static void *mini_run(void *arg)
{
	struct mini *m = arg;
	if (m->mode == MINI_DROP_SECOND)
		return mini_drop_second(m);
	int fd = accept(m->lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	char buf[4096];
	size_t len = 0;
	while (len < sizeof(buf) && !memmem(buf, len, "\r\n\r\n", 4)) {
		ssize_t n = recv(fd, buf + len, sizeof(buf) - len, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	m->served = 1;
	if (m->mode == MINI_SLOW) {
		/* one connection, request after request, until it closes */
		static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n";
		for (;;) {
			char *end = memmem(buf, len, "\r\n\r\n", 4);
			if (!end) {
				ssize_t n = recv(fd, buf + len, sizeof(buf) - len, 0);
				if (n <= 0)
					break;
				len += (size_t)n;
				continue;
			}
			if (memmem(buf, (size_t)(end - buf), "/slow", 5))
				t_sleep_ms(m->delay_ms);
			t_write_all(fd, ok, sizeof(ok) - 1);
			size_t used = (size_t)(end + 4 - buf);
			memmove(buf, buf + used, len - used);
			len -= used;
		}
		close(fd);
		return NULL;
	}
	static const char up[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
				 "Connection: Upgrade\r\n\r\n";
	static const char cut[] = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789";
	static const char junk[] = "SSH-2.0-OpenSSH_9.2\r\n";
	if (m->mode == MINI_UPGRADE) {
		t_write_all(fd, up, sizeof(up) - 1);
		ssize_t n;
		while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
			t_write_all(fd, buf, (size_t)n);
	} else {
		const char *s = m->mode == MINI_TRUNCATE ? cut : junk;
		t_write_all(fd, s, strlen(s));
	}
	close(fd);
	return NULL;
}

static void mini_start_delay(struct mini *m, enum mini_mode mode, int delay_ms)
{
	m->mode = mode;
	m->served = 0;
	m->delay_ms = delay_ms;
	m->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	T_ASSERT(bind(m->lfd, (struct sockaddr *)&a, sizeof(a)) == 0);
	T_ASSERT(listen(m->lfd, 8) == 0);
	T_ASSERT(getsockname(m->lfd, (struct sockaddr *)&a, &alen) == 0);
	m->port = ntohs(a.sin_port);
	T_ASSERT(pthread_create(&m->thread, NULL, mini_run, m) == 0);
}

static void mini_start(struct mini *m, enum mini_mode mode)
{
	mini_start_delay(m, mode, 500);
}

static void mini_stop(struct mini *m)
{
	shutdown(m->lfd, SHUT_RDWR);
	pthread_join(m->thread, NULL);
	close(m->lfd);
}

T_TEST(http_proxy, upgrade_becomes_a_tunnel, .timeout = 30)
{
	struct mini m;
	mini_start(&m, MINI_UPGRADE);
	struct px p;
	http_px(&p, m.port, NULL, NULL);
	px_start(&p);
	int fd = px_connect(&p);
	static const char req[] = "GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
				  "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n";
	T_ASSERT(t_write_all(fd, req, sizeof(req) - 1) == 0);
	char buf[1024];
	size_t got;
	int st = read_response(fd, buf, sizeof(buf), &got, 3000);
	px_assert(&p, st == 101, "status %d", st);
	cr_expect_not_null(memmem(buf, got, "Upgrade: websocket", 18));
	/* bytes both ways, as they are */
	px_round_trip_ok(&p, fd, "through the tunnel");
	px_round_trip_ok(&p, fd, "through the tunnel again");
	t_close(fd);
	px_stop_ok(&p);
	mini_stop(&m);
	px_free(&p);
}

T_TEST(http_proxy, target_misbehaving, .timeout = 30)
{
	/* closes mid-body: the client is cut off, counted */
	struct mini m;
	mini_start(&m, MINI_TRUNCATE);
	struct px p;
	http_px(&p, m.port, NULL, NULL);
	px_start(&p);
	int fd = px_connect(&p);
	static const char req[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
	T_ASSERT(t_write_all(fd, req, sizeof(req) - 1) == 0);
	char buf[1024];
	size_t got;
	int st = read_response(fd, buf, sizeof(buf), &got, 3000);
	px_assert(&p, st < 0, "a response promising 100 bytes and sending 10 read whole: %d", st);
	t_close(fd);
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "http_truncated"), 1);
	mini_stop(&m);
	px_free(&p);

	/* answers what is not HTTP: 502 */
	mini_start(&m, MINI_GARBAGE);
	http_px(&p, m.port, NULL, NULL);
	px_start(&p);
	st = raw_status(&p, req, sizeof(req) - 1);
	px_assert(&p, st == 502, "status %d", st);
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "http_elb_502"), 1);
	mini_stop(&m);
	px_free(&p);
}

/* ---- nlb's answers, each from its cause ----------------------------------- */

/* One GET through a fresh nlb over target (0: an empty group); the status
 * curl saw, and counter must read 1 after. */
static void expect_answer(uint16_t target, const char *group_extra, int want, const char *counter)
{
	struct px p;
	http_px(&p, target, NULL, group_extra);
	p.conf.connect_retries = 0;
	px_start(&p);
	char url[64], *out = NULL;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", p.conf.listen_port);
	const char *args[] = { "-o", "/dev/null", "-w", "%{http_code}", url, NULL };
	int rc = px_curl(&out, args);
	px_assert(&p, rc == 0 && out && atoi(out) == want, "curl %d, status %s, want %d", rc,
		  out ? out : "-", want);
	free(out);
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, counter), 1, "%s", counter);
	px_free(&p);
}

T_TEST(http_proxy, answers_502_503_504, .timeout = 60)
{
	expect_answer(0, NULL, 503, "http_elb_503");
	uint16_t closed;
	int hold = t_port_hold(&closed);	/* bound, not listening: refused */
	expect_answer(closed, NULL, 502, "http_elb_502");
	close(hold);
	struct t_server *reset = t_server_start(T_SRV_RESET, 0);
	expect_answer(t_server_port(reset), NULL, 502, "target_reset");
	t_server_free(reset);
	struct t_server *silent = t_server_start(T_SRV_SILENT, 0);
	expect_answer(t_server_port(silent), "response_timeout_ms = 300;", 504, "http_elb_504");
	t_server_free(silent);
	struct t_blackhole *bh = t_blackhole_start();
	if (bh) {
		expect_answer(bh->port, NULL, 504, "connect_timeout");
		t_blackhole_free(bh);
	}
}

T_TEST(http_proxy, bad_requests_never_reach_the_target, .timeout = 60)
{
	struct t_server *s = t_server_start(T_SRV_HTTP, 0);
	struct px p;
	http_px(&p, t_server_port(s),
		"request_timeout_ms = 300; max_header_bytes = 2048; max_body_bytes = 1000;", NULL);
	px_start(&p);
	static const struct {
		const char *name, *req;
		int status;
	} cases[] = {
		{ "CL.TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG", 400 },
		{ "TE.CL", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n", 400 },
		{ "TE.TE obfuscated", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n", 501 },
		{ "TE.TE space", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n", 400 },
		{ "duplicate CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 400 },
		{ "CL +5", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello", 400 },
		{ "CL '5 5'", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5 5\r\n\r\nhello", 400 },
		{ "chunk size overflow", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n", 400 },
		{ "bare LF", "GET / HTTP/1.1\nHost: a\n\n", 400 },
		{ "obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400 },
		{ "no Host", "GET / HTTP/1.1\r\n\r\n", 400 },
		{ "two Host", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400 },
		{ "HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505 },
		{ "CONNECT", "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 405 },
		{ "CL over max_body_bytes", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n", 413 },
	};
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		int st = raw_status(&p, cases[k].req, strlen(cases[k].req));
		if (strcmp(cases[k].name, "chunk size overflow") == 0) {
			/* the head is good; the body is refused on its way: the
			 * connection is cut, nothing of the chunk passes */
			cr_expect(st < 0 || st == 400, "%s: %d", cases[k].name, st);
			continue;
		}
		cr_expect_eq(st, cases[k].status, "%s: %d, want %d", cases[k].name, st,
			     cases[k].status);
	}
	/* chunks past max_body_bytes: 413, once they pass it */
	static char chunked[2048];
	int cn = snprintf(chunked, sizeof(chunked),
			  "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n");
	memset(chunked + cn, 'b', 1000);
	cn += 1000;
	cn += snprintf(chunked + cn, sizeof(chunked) - (size_t)cn, "\r\n1\r\nX\r\n0\r\n\r\n");
	cr_expect_eq(raw_status(&p, chunked, (size_t)cn), 413);
	/* a head over max_header_bytes: 431 */
	char big[4096];
	int n = snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: a\r\nX-Big: ");
	memset(big + n, 'x', 3000);
	memcpy(big + n + 3000, "\r\n\r\n", 4);
	cr_expect_eq(raw_status(&p, big, (size_t)n + 3004), 431);
	/* half a head, then nothing: 408 after request_timeout_ms */
	int fd = px_connect(&p);
	T_ASSERT(t_write_all(fd, "GET / HTTP/1.1\r\nHo", 18) == 0);
	char buf[1024];
	size_t got;
	cr_expect_eq(read_response(fd, buf, sizeof(buf), &got, 3000), 408);
	t_close(fd);
	px_stop_ok(&p);
	/* none of it reached the target but two chunked heads (refused mid-body) */
	cr_expect_leq(t_server_accepted(s), 2, "the target saw %u connections", t_server_accepted(s));
	cr_expect_eq(px_stat(&p, "http_elb_413"), 2);
	cr_expect_eq(px_stat(&p, "http_elb_408"), 1);
	cr_expect_eq(px_stat(&p, "http_elb_431"), 1);
	cr_expect_eq(px_stat(&p, "http_elb_501"), 1);
	cr_expect_eq(px_stat(&p, "http_elb_505"), 1);
	cr_expect_eq(px_stat(&p, "http_elb_405"), 1);
	px_free(&p);
	t_server_free(s);
}

T_TEST(http_proxy, wrk_keepalive, .timeout = 60)
{
	if (access("/usr/bin/wrk", X_OK) != 0)
		cr_skip_test("wrk is not installed (bench deps)");
	struct t_nginx ng;
	uint16_t port = t_free_port();
	px_nginx_echo(&ng, port, NULL);
	struct px p;
	http_px(&p, port, NULL, NULL);
	p.conf.workers = 2;
	px_start(&p);
	char url[64], *out = NULL;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/w", p.conf.listen_port);
	const char *argv[] = { "/usr/bin/wrk", "-t", "1", "-c", "16", "-d", "2s", url, NULL };
	int rc = t_run(argv, 20000, &out);
	px_assert(&p, rc == 0, "wrk exited %d: %s", rc, out ? out : "");
	cr_expect_null(strstr(out, "Non-2xx"), "%s", out);
	cr_expect_null(strstr(out, "Socket errors"), "%s", out);
	free(out);
	px_stop_ok(&p);
	int64_t reqs = px_stat(&p, "http_requests"), conns = px_stat(&p, "http_target_new");
	cr_expect_gt(reqs, 1000, "%ld requests", (long)reqs);
	cr_expect_lt(conns, 64, "%ld target connections for %ld requests", (long)conns, (long)reqs);
	cr_expect_eq(px_stat(&p, "http_target_2xx"), reqs);
	px_free(&p);
	t_nginx_free(&ng);
}

/* SIGTERM: an idle keep-alive client is closed at once; a request in
 * flight gets its whole answer, with Connection: close; nlb exits 0. */
T_TEST(http_proxy, stop_drains_requests_in_flight, .timeout = 30)
{
	struct mini m;
	mini_start(&m, MINI_SLOW);
	struct px p;
	http_px(&p, m.port, NULL, NULL);
	px_start(&p);
	int idle = px_connect(&p), busy = px_connect(&p);
	static const char fast[] = "GET /fast HTTP/1.1\r\nHost: a\r\n\r\n";
	static const char slow[] = "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n";
	char buf[1024];
	size_t got;
	T_ASSERT(t_write_all(idle, fast, sizeof(fast) - 1) == 0);
	px_assert(&p, read_response(idle, buf, sizeof(buf), &got, 3000) == 200, "first request");
	T_ASSERT(t_write_all(busy, slow, sizeof(slow) - 1) == 0);
	t_sleep_ms(100);
	T_ASSERT(kill(p.nlb->pid, SIGTERM) == 0);
	/* the idle one closes well before the slow answer */
	int64_t t0 = t_now_ms();
	cr_expect_eq(t_wait_closed(idle, 2000), 0, "the idle client was not closed");
	cr_expect_lt(t_now_ms() - t0, 400);
	int st = read_response(busy, buf, sizeof(buf) - 1, &got, 3000);
	cr_expect_eq(st, 200, "the request in flight: %d", st);
	buf[st == 200 ? got : 0] = '\0';
	cr_expect_not_null(strstr(buf, "Connection: close"), "%s", buf);
	t_close(idle);
	t_close(busy);
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "http_requests"), 2);
	cr_expect_eq(px_stat(&p, "http_target_2xx"), 2);
	mini_stop(&m);
	px_free(&p);
}

/* A pooled connection the target closes as the next request reaches it:
 * the request (a GET) goes again on a new connection, once, and the
 * client never sees the failure. */
T_TEST(http_proxy, retry_after_a_pooled_connection_fails, .timeout = 30)
{
	struct mini m;
	mini_start(&m, MINI_DROP_SECOND);
	struct px p;
	http_px(&p, m.port, NULL, NULL);
	px_start(&p);
	int fd = px_connect(&p);
	static const char req[] = "GET /a HTTP/1.1\r\nHost: a\r\n\r\n";
	for (int k = 0; k < 2; k++) {
		char buf[1024];
		size_t got;
		T_ASSERT(t_write_all(fd, req, sizeof(req) - 1) == 0);
		int st = read_response(fd, buf, sizeof(buf), &got, 3000);
		px_assert(&p, st == 200, "request %d: %d", k + 1, st);
	}
	t_close(fd);
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "http_retries"), 1);
	cr_expect_eq(px_stat(&p, "http_target_new"), 2);
	cr_expect_eq(px_stat(&p, "http_target_reused"), 1);
	cr_expect_eq(px_stat(&p, "http_elb_502"), 0);
	mini_stop(&m);
	px_free(&p);
}

/* ---- the metrics page ------------------------------------------------------ */

/* Scrapes until series reads want, 3 s at most (a refusal is counted as
 * the client sees it, not before): the last body. */
static char *scrape_until(struct px *p, uint16_t port, const char *series, double want)
{
	int64_t deadline = t_now_ms() + 3000;
	for (;;) {
		char *body = px_scrape(p, port);
		if (px_metric(body, series) == want || t_now_ms() > deadline)
			return body;
		free(body);
		t_sleep_ms(20);
	}
}

#define RT "nlb_http_target_response_time_seconds"

/* The ALB's TargetResponseTime as a histogram: fast answers and ones the
 * target holds for 300 ms on one keep-alive connection; each response is
 * counted once, in the buckets its time falls in, and nlb's own answer
 * (a 400) is not.  300 ms is over the 0.25 bound and well within 0.5. */
T_TEST(http_proxy, target_response_time_histogram, .timeout = 30)
{
	struct mini m;
	mini_start_delay(&m, MINI_SLOW, 300);
	uint16_t stats = t_free_port();
	char top[96];
	snprintf(top, sizeof(top), "stats = { listen = \"127.0.0.1:%u\"; };\n", stats);
	struct px p;
	http_px(&p, m.port, NULL, NULL);
	p.conf.top_extra = top;
	px_start(&p);
	int fd = px_connect(&p);
	static const char *const paths[] = { "/fast", "/slow", "/fast", "/slow", "/fast" };
	for (size_t k = 0; k < 5; k++) {
		char req[128], buf[1024];
		size_t got;
		int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: a\r\n\r\n", paths[k]);
		T_ASSERT(t_write_all(fd, req, (size_t)n) == 0);
		int st = read_response(fd, buf, sizeof(buf), &got, 3000);
		px_assert(&p, st == 200, "%s: %d", paths[k], st);
	}
	t_close(fd);
	static const char bad[] = "GET / HTTP/1.1\r\n\r\n";	/* no Host */
	px_assert(&p, raw_status(&p, bad, sizeof(bad) - 1) == 400, "nlb's 400");

	char *b = px_scrape(&p, stats);
	cr_expect_eq(px_metric(b, RT "_count{listener=\"web\"}"), 5, "_count");
	cr_expect_eq(px_metric(b, RT "_bucket{listener=\"web\",le=\"+Inf\"}"), 5, "+Inf");
	cr_expect_eq(px_metric(b, RT "_bucket{listener=\"web\",le=\"0.25\"}"), 3, "0.25: the fast");
	cr_expect_eq(px_metric(b, RT "_bucket{listener=\"web\",le=\"0.5\"}"), 5, "0.5: all");
	cr_expect_eq(px_metric(b, RT "_bucket{listener=\"web\",le=\"10\"}"), 5, "10: all");
	double sum = px_metric(b, RT "_sum{listener=\"web\"}");
	cr_expect(sum >= 0.6 && sum < 1.6, "_sum %.3f: two answers of 0.3 s and three fast", sum);
	/* cumulative: no bucket holds fewer than the one before it */
	static const char *const le[] = { "0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
					  "0.5", "1", "2.5", "5", "10", "+Inf" };
	double last = 0;
	for (size_t k = 0; k < sizeof(le) / sizeof(le[0]); k++) {
		char series[160];
		snprintf(series, sizeof(series), RT "_bucket{listener=\"web\",le=\"%s\"}", le[k]);
		double v = px_metric(b, series);
		cr_expect(v >= last && v <= 5, "%s = %g after %g", series, v, last);
		last = v;
	}
	free(b);
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "http_target_2xx"), 5);
	cr_expect_eq(px_stat(&p, "http_elb_400"), 1);
	cr_expect_eq(px_stat(&p, "http_resp_time_le_250ms"), 3);
	mini_stop(&m);
	px_free(&p);
}

/* The ALB's RejectedConnectionCount: an http listener's clients refused
 * by max_connections are on the metrics page with the TCP listeners'. */
T_TEST(http_proxy, refused_connections_in_the_metrics, .timeout = 30)
{
	struct mini m;
	mini_start(&m, MINI_SLOW);
	uint16_t stats = t_free_port();
	char top[96];
	snprintf(top, sizeof(top), "stats = { listen = \"127.0.0.1:%u\"; };\n", stats);
	struct px p;
	http_px(&p, m.port, NULL, NULL);
	p.conf.top_extra = top;
	p.conf.max_connections = 1;
	px_start(&p);
	int fd = px_connect(&p);
	static const char req[] = "GET /fast HTTP/1.1\r\nHost: a\r\n\r\n";
	char buf[1024];
	size_t got;
	T_ASSERT(t_write_all(fd, req, sizeof(req) - 1) == 0);
	px_assert(&p, read_response(fd, buf, sizeof(buf), &got, 3000) == 200, "first client");
	/* the first still open: the second is over the limit, reset (as
	 * soon as accepted: its request may not even go out) */
	int second = px_connect(&p);
	(void)t_write_all(second, req, sizeof(req) - 1);
	cr_expect_lt(read_response(second, buf, sizeof(buf), &got, 3000), 0,
		     "a second client was answered");
	t_close(second);
	char *b = scrape_until(&p, stats, "nlb_connect_errors_total{listener=\"web\",reason=\"limit\"}", 1);
	cr_expect_eq(px_metric(b, "nlb_connect_errors_total{listener=\"web\",reason=\"limit\"}"), 1);
	cr_expect_eq(px_metric(b, "nlb_resets_total{listener=\"web\",reason=\"refused\"}"), 1);
	free(b);
	t_close(fd);
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "limit"), 1);
	mini_stop(&m);
	px_free(&p);
}

/* Lines of the file at path, waiting up to 3 s for at least want of them
 * (the writer flushes every 100 ms). */
static int log_lines(const char *path, int want, char *buf, size_t cap)
{
	int64_t deadline = t_now_ms() + 3000;
	int n = 0;
	do {
		FILE *f = fopen(path, "r");
		size_t len = f ? fread(buf, 1, cap - 1, f) : 0;
		if (f)
			fclose(f);
		buf[len] = '\0';
		n = 0;
		for (size_t i = 0; i < len; i++)
			n += buf[i] == '\n';
		if (n >= want)
			return n;
		t_sleep_ms(20);
	} while (t_now_ms() < deadline);
	return n;
}

T_TEST(http_proxy, access_log_lines_and_reopen, .timeout = 60)
{
	char dir[] = "/tmp/nlb-alog-XXXXXX";
	T_ASSERT(mkdtemp(dir) != NULL);
	char path[96], moved[96], top[160], buf[8192];
	snprintf(path, sizeof(path), "%s/access.log", dir);
	snprintf(moved, sizeof(moved), "%s/access.log.1", dir);
	snprintf(top, sizeof(top), "access_log = { path = \"%s\"; };\n", path);
	struct t_nginx ng;
	uint16_t port = t_free_port();
	px_nginx_echo(&ng, port, NULL);
	struct px p;
	http_px(&p, port, NULL, NULL);
	p.conf.top_extra = top;
	px_admin(&p);
	px_start(&p);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/a", p.conf.listen_port);
	const char *get[] = { "-o", "/dev/null", "-A", "t-agent \"q\"", url, NULL };
	px_assert(&p, px_curl(NULL, get) == 0, "curl");
	static const char lf[] = "GET / HTTP/1.1\nHost: a\n\n";
	cr_expect_eq(raw_status(&p, lf, sizeof(lf) - 1), 400);
	px_assert(&p, log_lines(path, 2, buf, sizeof(buf)) == 2, "lines: %s", buf);
	char *second = strchr(buf, '\n') + 1;
	/* time listener client target times... statuses bytes "request" "agent" reason */
	char want[96];
	snprintf(want, sizeof(want), " web 127.0.0.1:");
	cr_expect_not_null(strstr(buf, want), "%s", buf);
	snprintf(want, sizeof(want), " 127.0.0.1:%u ", port);
	cr_expect_not_null(strstr(buf, want), "target: %s", buf);
	cr_expect_not_null(strstr(buf, " 200 200 "), "%s", buf);
	cr_expect_not_null(strstr(buf, "\"GET /a HTTP/1.1\" \"t-agent \\\"q\\\"\" -\n"), "%s", buf);
	cr_expect_not_null(strstr(second, " - -1 -1 -1 400 - "), "%s", second);
	cr_expect_not_null(strstr(second, " bare_lf\n"), "%s", second);
	/* logrotate: moved away, then nlbctl reopen */
	T_ASSERT(rename(path, moved) == 0);
	const char *ctl[] = { getenv("NLB_CTL"), "-s", p.admin_sock, "reopen", NULL };
	char *out = NULL;
	px_assert(&p, ctl[0] && t_run(ctl, 5000, &out) == 0, "nlbctl reopen: %s", out ? out : "");
	free(out);
	t_sleep_ms(300);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/b", p.conf.listen_port);
	px_assert(&p, px_curl(NULL, get) == 0, "curl");
	px_assert(&p, log_lines(path, 1, buf, sizeof(buf)) == 1, "after reopen: %s", buf);
	cr_expect_not_null(strstr(buf, "\"GET /b HTTP/1.1\""), "%s", buf);
	/* and SIGHUP does the same */
	T_ASSERT(rename(path, moved) == 0);
	px_assert(&p, px_reload(&p) == 1, "reload");
	t_sleep_ms(300);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/c", p.conf.listen_port);
	px_assert(&p, px_curl(NULL, get) == 0, "curl");
	px_assert(&p, log_lines(path, 1, buf, sizeof(buf)) == 1, "after SIGHUP: %s", buf);
	cr_expect_not_null(strstr(buf, "\"GET /c HTTP/1.1\""), "%s", buf);
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "access_log_lines"), 4);
	cr_expect_eq(px_stat(&p, "access_log_dropped"), 0);
	px_free(&p);
	t_nginx_free(&ng);
	const char *rm[] = { "/bin/rm", "-rf", dir, NULL };
	t_run(rm, 10000, NULL);
}

/* accept_proxy_protocol: the client is who the PROXY header says, for
 * X-Forwarded-For and for the deny list; a connection without a header
 * is cut. */
T_TEST(http_proxy, proxy_protocol_from_clients, .timeout = 30)
{
	struct t_nginx ng;
	uint16_t port = t_free_port();
	px_nginx_echo(&ng, port, NULL);
	struct px p;
	http_px(&p, port, "accept_proxy_protocol = true; deny = [ \"198.51.100.0/24\" ];", NULL);
	uint16_t stats = t_free_port();
	char top[96];
	snprintf(top, sizeof(top), "stats = { listen = \"127.0.0.1:%u\"; };\n", stats);
	p.conf.top_extra = top;
	px_start(&p);
	static const char ok[] = "PROXY TCP4 203.0.113.7 127.0.0.1 5555 80\r\n"
				 "GET /p HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
	int fd = px_connect(&p);
	T_ASSERT(t_write_all(fd, ok, sizeof(ok) - 1) == 0);
	char buf[2048];
	size_t got;
	int st = read_response(fd, buf, sizeof(buf) - 1, &got, 3000);
	px_assert(&p, st == 200, "status %d", st);
	buf[got] = '\0';
	cr_expect_not_null(strstr(buf, "uri=/p xff=203.0.113.7 "), "%s", buf);
	t_close(fd);
	static const char denied[] = "PROXY TCP4 198.51.100.9 127.0.0.1 5555 80\r\n"
				     "GET /d HTTP/1.1\r\nHost: a\r\n\r\n";
	cr_expect_lt(raw_status(&p, denied, sizeof(denied) - 1), 0, "a denied source was answered");
	static const char none[] = "GET /n HTTP/1.1\r\nHost: a\r\n\r\n";
	cr_expect_lt(raw_status(&p, none, sizeof(none) - 1), 0, "no header, yet answered");
	/* the denial as the TCP listeners' are, on the metrics page */
	char *b = scrape_until(&p, stats, "nlb_connect_errors_total{listener=\"web\",reason=\"acl\"}", 1);
	cr_expect_eq(px_metric(b, "nlb_connect_errors_total{listener=\"web\",reason=\"acl\"}"), 1);
	free(b);
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "acl_denied"), 1);
	cr_expect_eq(px_stat(&p, "proxy_header_invalid"), 1);
	cr_expect_eq(px_stat(&p, "http_requests"), 1);
	px_free(&p);
	t_nginx_free(&ng);
}
