/* Suite "https_proxy": the real nlb binary on an https listener, with
 * curl, wrk and a TLS client written on OpenSSL in front and NGINX
 * behind.  What TLS adds to an http listener: the handshake (SNI, ALPN
 * http/1.1), requests and bodies both ways through it, keep-alive and
 * pipelining, X-Forwarded-Proto https, a PROXY header before the
 * ClientHello, close_notify after the last answer, and each failed
 * handshake counted by its class (plain HTTP, timeout, renegotiation);
 * and an http group's TLS to its targets (NGINX with ssl): pooled
 * connections, and a name the certificate lacks answered 502. */
#include <criterion/criterion.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "helpers.h"
#include "helpers/nginx_peer.h"
#include "helpers/tls_peers.h"
#include "px.h"

TestSuite(https_proxy, .init = t_setup, .fini = t_teardown);

/* An https listener over target port with certificate a (a.test),
 * tls_extra into its tls = { } and listener_extra beside it. */
static void https_px(struct px *p, struct t_tls *t, uint16_t target, const char *tls_extra,
		     const char *listener_extra)
{
	static char extra[2048];
	char pem[256], key[256];
	T_ASSERT(t_tls_init(t) == 0, ": openssl req for the CA");
	T_ASSERT(t_tls_leaf(t, "a", "a.test", "DNS:a.test", "ec") == 0);
	px_init(p, "auto");
	p->conf.protocol = "https";
	snprintf(extra, sizeof(extra),
		 "tls = { certificates = ( { cert = \"%s\"; key = \"%s\"; } ); %s }; %s",
		 t_tls_path(t, "a.pem", pem, sizeof(pem)), t_tls_path(t, "a.key", key, sizeof(key)),
		 tls_extra ? tls_extra : "", listener_extra ? listener_extra : "");
	p->conf.listener_extra = extra;
	px_target(p, target);
}

/* SSL_write all of buf: 0 or -1. */
static int tls_write(SSL *ssl, const char *buf)
{
	return SSL_write(ssl, buf, (int)strlen(buf)) == (int)strlen(buf) ? 0 : -1;
}

/* Everything ssl gives until the peer ends: its close_notify (*notify
 * true) or a FIN or reset without one.  The bytes, NUL-terminated. */
static size_t tls_read_all(SSL *ssl, char *buf, size_t cap, bool *notify)
{
	size_t got = 0;
	*notify = false;
	for (;;) {
		int n = SSL_read(ssl, buf + got, (int)(cap - 1 - got));
		if (n > 0) {
			got += (size_t)n;
			if (got == cap - 1)
				break;
			continue;
		}
		*notify = SSL_get_error(ssl, n) == SSL_ERROR_ZERO_RETURN;
		ERR_clear_error();
		break;
	}
	buf[got] = '\0';
	return got;
}

static unsigned count_of(const char *hay, const char *needle)
{
	unsigned n = 0;
	for (const char *s = hay; (s = strstr(s, needle)); s += strlen(needle))
		n++;
	return n;
}

T_TEST(https_proxy, requests_bodies_and_forwarded_proto, .timeout = 60)
{
	/* NGINX: the echo, a file to fetch, and an upload that a second
	 * server counts (NGINX buffers it whole, chunked or not). */
	char dir[] = "/tmp/nlb-test-https-XXXXXX", file[128], servers[2048];
	T_ASSERT(mkdtemp(dir) != NULL);
	snprintf(file, sizeof(file), "%s/big.bin", dir);
	FILE *f = fopen(file, "w");
	T_ASSERT(f != NULL);
	for (unsigned i = 0; i < (3u << 20) / 4; i++)
		fwrite(&i, 4, 1, f);
	fclose(f);
	uint16_t port = t_free_port(), count_port = t_free_port();
	snprintf(servers, sizeof(servers),
		 "server { listen 127.0.0.1:%u; keepalive_requests 10000; client_max_body_size 64m;\n"
		 "  location / { return 200 \"uri=$uri xff=$http_x_forwarded_for "
		 "proto=$http_x_forwarded_proto port=$http_x_forwarded_port\\n\"; }\n"
		 "  location /f/ { alias %s/; }\n"
		 "  location = /up { proxy_pass http://127.0.0.1:%u/; } }\n"
		 "server { listen 127.0.0.1:%u; client_max_body_size 64m;\n  location / { return 200 \"got=$content_length\\n\"; } }",
		 port, dir, count_port, count_port);
	struct t_nginx ng;
	T_ASSERT(t_nginx_start(&ng, servers, port) == 0, ": nginx");
	struct t_tls t;
	struct px p;
	https_px(&p, &t, port, NULL, NULL);
	px_start(&p);
	char ca[256], resolve[64], url[96], url_f[96], url_up[96], back[160];
	t_tls_path(&t, "ca.pem", ca, sizeof(ca));
	snprintf(resolve, sizeof(resolve), "a.test:%u:127.0.0.1", p.conf.listen_port);
	snprintf(url, sizeof(url), "https://a.test:%u/r", p.conf.listen_port);
	snprintf(url_f, sizeof(url_f), "https://a.test:%u/f/big.bin", p.conf.listen_port);
	snprintf(url_up, sizeof(url_up), "https://a.test:%u/up", p.conf.listen_port);
	snprintf(back, sizeof(back), "%s/back.bin", dir);

	/* Three requests on one connection, verified against the CA. */
	char *out = NULL;
	const char *three[] = { "-v", "--cacert", ca, "--resolve", resolve, url, url, url, NULL };
	int rc = px_curl(&out, three);
	px_assert(&p, rc == 0, "curl exited %d: %s", rc, out ? out : "");
	char want[96];
	snprintf(want, sizeof(want), "uri=/r xff=127.0.0.1 proto=https port=%u", p.conf.listen_port);
	cr_expect_eq(count_of(out, want), 3, "three echoes of %s in: %s", want, out);
	cr_expect_not_null(strstr(out, "ALPN: server accepted http/1.1"), "ALPN: %s", out);
	cr_expect_eq(count_of(out, "Re-using existing connection"), 2, "keep-alive: %s", out);
	free(out);

	/* 3 MiB down, and up with a length and chunked. */
	const char *get[] = { "-f", "--cacert", ca, "--resolve", resolve, "-o", back, url_f, NULL };
	px_assert(&p, px_curl(NULL, get) == 0, "GET big.bin");
	const char *cmp[] = { "/usr/bin/cmp", file, back, NULL };
	px_assert(&p, t_run(cmp, 10000, NULL) == 0, "big.bin came back different");

	char at_file[160];
	snprintf(at_file, sizeof(at_file), "@%s", file);
	const char *up[] = { "-f", "--cacert", ca, "--resolve", resolve, "--data-binary", at_file,
			     url_up, NULL };
	const char *up_chunked[] = { "-f", "--cacert", ca, "--resolve", resolve, "-H",
				     "Transfer-Encoding: chunked", "--data-binary", at_file, url_up,
				     NULL };
	out = NULL;
	px_assert(&p, px_curl(&out, up) == 0, "POST with Content-Length: %s", out ? out : "");
	cr_expect_not_null(strstr(out, "got=3145728"), "%s", out);
	free(out);
	out = NULL;
	px_assert(&p, px_curl(&out, up_chunked) == 0, "POST chunked: %s", out ? out : "");
	cr_expect_not_null(strstr(out, "got=3145728"), "%s", out);
	free(out);

	/* wrk: many clients at once, every answer a 200. */
	char wrk_url[96];
	snprintf(wrk_url, sizeof(wrk_url), "https://127.0.0.1:%u/w", p.conf.listen_port);
	const char *wrk[] = { "/usr/bin/wrk", "-t1", "-c16", "-d1s", wrk_url, NULL };
	out = NULL;
	px_assert(&p, t_run(wrk, 20000, &out) == 0, "wrk: %s", out ? out : "");
	cr_expect_null(strstr(out, "Non-2xx"), "%s", out);
	cr_expect_null(strstr(out, "Socket errors"), "%s", out);
	free(out);
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "tls_active"), 0);
	cr_expect_eq(px_stat(&p, "http_elb_502"), 0);
	cr_expect(px_stat(&p, "tls_handshakes_tls13") >= 20, "curl's 4 and wrk's 16");
	px_free(&p);
	t_nginx_free(&ng);
	t_tls_free(&t);
	unlink(file);
	unlink(back);
	rmdir(dir);
}

T_TEST(https_proxy, pipelined_then_close_notify_after_the_last_answer, .timeout = 60)
{
	struct t_nginx ng;
	uint16_t port = t_free_port();
	px_nginx_echo(&ng, port, NULL);
	struct t_tls t;
	struct px p;
	https_px(&p, &t, port, NULL, NULL);
	px_start(&p);
	int fd;
	struct t_tls_client_opts o = { .sni = "a.test" };
	SSL *ssl = t_tls_connect(p.conf.listen_port, &o, &fd);
	px_assert(&p, ssl != NULL, "handshake");
	/* Two requests in one record; the second asks to close. */
	px_assert(&p, tls_write(ssl, "GET /one HTTP/1.1\r\nHost: a\r\n\r\n"
				     "GET /two HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n") == 0,
		  "write");
	static char buf[8192];
	bool notify;
	tls_read_all(ssl, buf, sizeof(buf), &notify);
	const char *one = strstr(buf, "uri=/one"), *two = strstr(buf, "uri=/two");
	cr_expect(one && two && one < two, "in order: %s", buf);
	cr_expect(notify, "close_notify before the FIN: %s", buf);
	t_tls_close(ssl, fd);
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "http_requests"), 2);
	px_free(&p);
	t_nginx_free(&ng);
	t_tls_free(&t);
}

T_TEST(https_proxy, proxy_header_before_the_client_hello, .timeout = 60)
{
	struct t_nginx ng;
	uint16_t port = t_free_port();
	px_nginx_echo(&ng, port, NULL);
	struct t_tls t;
	struct px p;
	https_px(&p, &t, port, NULL, "accept_proxy_protocol = true;");
	px_start(&p);
	int fd;
	struct t_tls_client_opts o = { .sni = "a.test",
				       .before = "PROXY TCP4 203.0.113.7 127.0.0.1 5555 443\r\n" };
	SSL *ssl = t_tls_connect(p.conf.listen_port, &o, &fd);
	px_assert(&p, ssl != NULL, "handshake after the PROXY header");
	px_assert(&p, tls_write(ssl, "GET /pp HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n") == 0,
		  "write");
	static char buf[4096];
	bool notify;
	tls_read_all(ssl, buf, sizeof(buf), &notify);
	cr_expect_not_null(strstr(buf, "uri=/pp xff=203.0.113.7 proto=https"), "%s", buf);
	t_tls_close(ssl, fd);
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "tls_handshakes_tls13"), 1);
	px_free(&p);
	t_nginx_free(&ng);
	t_tls_free(&t);
}

/* Reads fd until it ends (0), within timeout_ms: true when it did. */
static bool ends_within(int fd, int timeout_ms)
{
	char buf[512];
	int64_t deadline = t_now_ms() + timeout_ms;
	for (;;) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		int left = (int)(deadline - t_now_ms());
		if (left <= 0 || poll(&pfd, 1, left) <= 0)
			return false;
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			return true;
	}
}

T_TEST(https_proxy, failed_handshakes_counted_by_class, .timeout = 60)
{
	struct t_nginx ng;
	uint16_t port = t_free_port();
	px_nginx_echo(&ng, port, NULL);
	struct t_tls t;
	struct px p;
	https_px(&p, &t, port, "handshake_timeout_ms = 300;", NULL);
	px_start(&p);

	/* Plain HTTP to the TLS port: closed, not_tls. */
	int fd = px_connect(&p);
	static const char get[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
	T_ASSERT(t_write_all(fd, get, sizeof(get) - 1) == 0);
	px_assert(&p, ends_within(fd, 5000), "plain HTTP closed");
	t_close(fd);

	/* Connected and silent: closed at the handshake timeout. */
	fd = px_connect(&p);
	px_assert(&p, ends_within(fd, 5000), "a silent client closed");
	t_close(fd);

	/* TLS 1.2, then a renegotiation: refused, the connection reset. */
	struct t_tls_client_opts o = { .sni = "a.test", .max_version = TLS1_2_VERSION };
	SSL *ssl = t_tls_connect(p.conf.listen_port, &o, &fd);
	px_assert(&p, ssl != NULL, "TLS 1.2 handshake");
	px_assert(&p, tls_write(ssl, "GET /x HTTP/1.1\r\nHost: a\r\n\r\n") == 0, "write");
	char buf[2048];
	int n = SSL_read(ssl, buf, sizeof(buf) - 1);
	px_assert(&p, n > 0, "first answer");
	SSL_renegotiate(ssl);
	SSL_do_handshake(ssl);
	ERR_clear_error();
	bool notify;
	tls_read_all(ssl, buf, sizeof(buf), &notify);
	t_tls_close(ssl, fd);

	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "tls_fail_not_tls"), 1);
	cr_expect_eq(px_stat(&p, "tls_fail_timeout"), 1);
	cr_expect_eq(px_stat(&p, "tls_fail_renegotiation"), 1, "alert %ld protocol %ld eof %ld reset %ld", (long)px_stat(&p, "tls_fail_alert"), (long)px_stat(&p, "tls_fail_protocol"), (long)px_stat(&p, "tls_fail_eof"), (long)px_stat(&p, "client_reset"));
	cr_expect_eq(px_stat(&p, "tls_handshakes_tls12"), 1);
	cr_expect_eq(px_stat(&p, "http_requests"), 1, "no request from the failed ones");
	cr_expect_eq(px_stat(&p, "tls_active"), 0);
	px_free(&p);
	t_nginx_free(&ng);
	t_tls_free(&t);
}

/* NGINX over TLS on port (certificate "t" of t, for app.internal),
 * answering what it was sent and on which of its connections. */
static void nginx_tls_echo(struct t_nginx *n, struct t_tls *t, uint16_t port)
{
	char servers[2048], pem[256], key[256];
	T_ASSERT(t_tls_leaf(t, "t", "app.internal", "DNS:app.internal", "ec") == 0);
	snprintf(servers, sizeof(servers),
		 "server { listen 127.0.0.1:%u ssl; keepalive_requests 10000;\n"
		 "  ssl_certificate %s; ssl_certificate_key %s; client_max_body_size 64m;\n"
		 "  location / { return 200 \"uri=$uri https=$https conn=$connection "
		 "len=$content_length\\n\"; } }",
		 port, t_tls_path(t, "t.pem", pem, sizeof(pem)),
		 t_tls_path(t, "t.key", key, sizeof(key)));
	T_ASSERT(t_nginx_start(n, servers, port) == 0, ": nginx");
}

/* An http listener over that target, its group verifying server_name. */
static void tls_group_px(struct px *p, struct t_tls *t, uint16_t target, const char *name)
{
	static char group[512];
	char ca[256];
	px_init(p, "auto");
	p->conf.protocol = "http";
	snprintf(group, sizeof(group), "tls = { ca = \"%s\"; server_name = \"%s\"; };",
		 t_tls_path(t, "ca.pem", ca, sizeof(ca)), name);
	p->conf.group_extra = group;
	px_target(p, target);
}

T_TEST(https_proxy, tls_to_targets_of_an_http_group, .timeout = 60)
{
	struct t_tls t;
	T_ASSERT(t_tls_init(&t) == 0, ": openssl req for the CA");
	struct t_nginx ng;
	uint16_t port = t_free_port();
	nginx_tls_echo(&ng, &t, port);
	struct px p;
	tls_group_px(&p, &t, port, "app.internal");
	px_start(&p);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/r", p.conf.listen_port);
	/* Five requests on one client connection, one with a body. */
	char *out = NULL;
	const char *args[] = { url, url, url, url, "-d", "0123456789", url, NULL };
	int rc = px_curl(&out, args);
	px_assert(&p, rc == 0, "curl exited %d: %s", rc, out ? out : "");
	cr_expect_eq(count_of(out, "uri=/r https=on"), 5, "%s", out);
	cr_expect_not_null(strstr(out, "len=10"), "the body went through: %s", out);
	/* All on one pooled connection: NGINX numbers its connections. */
	const char *c1 = strstr(out, "conn=");
	unsigned first = c1 ? (unsigned)atoi(c1 + 5) : 0;
	char same[32];
	snprintf(same, sizeof(same), "conn=%u ", first);
	cr_expect_eq(count_of(out, same), 5, "one target connection: %s", out);
	free(out);
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "http_target_new"), 1);
	cr_expect_eq(px_stat(&p, "http_target_reused"), 4);
	cr_expect_eq(px_stat(&p, "connect_tls"), 0);
	px_free(&p);

	/* A name the certificate does not have: each attempt fails its
	 * handshake, counted, and the client is answered 502. */
	tls_group_px(&p, &t, port, "other.internal");
	px_start(&p);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/r", p.conf.listen_port);
	out = NULL;
	const char *status[] = { "-o", "/dev/null", "-w", "%{http_code}", url, NULL };
	rc = px_curl(&out, status);
	px_assert(&p, rc == 0 && out && strstr(out, "502"), "rc %d: %s", rc, out ? out : "");
	free(out);
	px_stop_ok(&p);
	cr_expect_geq(px_stat(&p, "connect_tls"), 1);
	cr_expect_eq(px_stat(&p, "http_elb_502"), 1);
	px_free(&p);
	t_nginx_free(&ng);
	t_tls_free(&t);
}
