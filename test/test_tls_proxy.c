/* Suite "tls_proxy": the real nlb binary terminating TLS on a tls
 * listener and speaking TLS to targets, against real TLS peers: curl,
 * openssl s_client, nginx, and OpenSSL's own client in this process,
 * with certificates made by the openssl command for each test.  Owns the
 * end-to-end checks of TLS: certificates by SNI, policies, ALPN, bulk
 * both ways, resumption, reloads, and every bad input a client can send. */
#include <criterion/criterion.h>

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"
#include "proxyproto.h"
#include "px.h"

#define MiB (1024ULL * 1024)

TestSuite(tls_proxy, .init = t_setup, .fini = t_teardown);

/* A tls listener in front of target port, certificates a (a.test and
 * *.w.test) and b (b.test), a first: the default.  tls_extra is written
 * into tls = { }. */
static void tls_px(struct px *p, struct t_tls *t, uint16_t target, const char *tls_extra,
		   unsigned workers)
{
	static char extra[2048];
	char a_pem[128], a_key[128], b_pem[128], b_key[128];
	px_init(p, "auto");
	p->conf.protocol = "tls";
	p->conf.workers = workers ? workers : 1;
	snprintf(extra, sizeof(extra),
		 "tls = { certificates = ( { cert = \"%s\"; key = \"%s\"; },"
		 " { cert = \"%s\"; key = \"%s\"; } ); %s };",
		 t_tls_path(t, "a.pem", a_pem, sizeof(a_pem)), t_tls_path(t, "a.key", a_key, sizeof(a_key)),
		 t_tls_path(t, "b.pem", b_pem, sizeof(b_pem)), t_tls_path(t, "b.key", b_key, sizeof(b_key)),
		 tls_extra ? tls_extra : "");
	p->conf.listener_extra = extra;
	px_target(p, target);
}

static void certs(struct t_tls *t)
{
	T_ASSERT(t_tls_init(t) == 0, ": openssl req for the CA");
	T_ASSERT(t_tls_leaf(t, "a", "a.test", "DNS:a.test,DNS:*.w.test", "ec") == 0);
	T_ASSERT(t_tls_leaf(t, "b", "b.test", "DNS:b.test", "ec") == 0);
}

/* The CN of the certificate nlb shows for sni, after a round trip. */
static void expect_cert(struct px *p, const char *ca, const char *sni, const char *want)
{
	int fd;
	struct t_tls_client_opts o = { .sni = sni, .ca = ca };
	SSL *ssl = t_tls_connect(p->conf.listen_port, &o, &fd);
	px_assert(p, ssl != NULL, "TLS handshake with SNI %s", sni ? sni : "(none)");
	char cn[128];
	cr_expect_str_eq(t_tls_peer_cn(ssl, cn, sizeof(cn)), want, "SNI %s: certificate %s, want %s",
			 sni ? sni : "(none)", cn, want);
	px_assert(p, t_tls_round_trip(ssl, "hello", 5) == 0, "round trip over TLS");
	t_tls_close(ssl, fd);
}

T_TEST(tls_proxy, sni_picks_the_certificate, .timeout = 60)
{
	struct t_tls t;
	certs(&t);
	struct t_server *echo = t_server_start(T_SRV_ECHO, 0);
	struct px p;
	tls_px(&p, &t, t_server_port(echo), NULL, 1);
	px_start(&p);
	char ca[128];
	t_tls_path(&t, "ca.pem", ca, sizeof(ca));
	expect_cert(&p, ca, "a.test", "a.test");
	expect_cert(&p, ca, "b.test", "b.test");
	expect_cert(&p, ca, "x.w.test", "a.test");	/* the wildcard */
	expect_cert(&p, NULL, "unknown.test", "a.test");	/* the default */
	expect_cert(&p, NULL, "x.y.w.test", "a.test");	/* a wildcard is one label */
	expect_cert(&p, NULL, NULL, "a.test");
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "tls_handshakes_tls13"), 6);
	cr_expect_eq(px_stat(&p, "tls_hs_le_1s"), 6, "six handshakes on loopback within 1 s");
	cr_expect_eq(px_stat(&p, "tls_active"), 0);
	cr_expect_eq(px_stat(&p, "accepted"), 6);
	px_free(&p);
	t_server_free(echo);
	t_tls_free(&t);
}

T_TEST(tls_proxy, curl_over_https, .timeout = 60)
{
	struct t_tls t;
	certs(&t);
	struct t_server_opts so = { .mode = T_SRV_HTTP, .http_status = 204 };
	struct t_server *http = t_server_start_opts(&so);
	struct px p;
	tls_px(&p, &t, t_server_port(http), "alpn = \"http1-only\";", 1);
	px_start(&p);
	char ca[128], resolve[64], url[64];
	snprintf(resolve, sizeof(resolve), "b.test:%u:127.0.0.1", p.conf.listen_port);
	snprintf(url, sizeof(url), "https://b.test:%u/", p.conf.listen_port);
	const char *argv[] = { "/usr/bin/curl", "-sS", "--max-time", "10", "--cacert",
			       t_tls_path(&t, "ca.pem", ca, sizeof(ca)), "--resolve", resolve, "-o",
			       "/dev/null", "-w", "%{http_code} %{http_version}", url, NULL };
	char *out = NULL;
	int rc = t_run(argv, 20000, &out);
	px_assert(&p, rc == 0, "curl exited %d: %s", rc, out ? out : "");
	/* ALPN http1-only: curl offers h2 and http/1.1 and gets 1.1. */
	cr_expect(out && strstr(out, "204 1.1"), "curl said \"%s\", want \"204 1.1\"", out);
	free(out);
	px_stop_ok(&p);
	px_free(&p);
	t_server_free(http);
	t_tls_free(&t);
}

/* What `openssl s_client` says about a handshake with nlb. */
static char *s_client(struct px *p, const char *const extra[])
{
	char connect[32];
	snprintf(connect, sizeof(connect), "127.0.0.1:%u", p->conf.listen_port);
	const char *argv[24] = { "/usr/bin/openssl", "s_client", "-connect", connect, "-servername",
				 "a.test", NULL };
	size_t n = 6;
	for (size_t i = 0; extra && extra[i] && n < 22; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	char *out = NULL;
	t_run(argv, 20000, &out);	/* stdin is /dev/null: it ends at once */
	return out ? out : strdup("");
}

static void alpn(const char *setting, const char *want)
{
	struct t_tls t;
	certs(&t);
	struct t_server *echo = t_server_start(T_SRV_ECHO, 0);
	struct px p;
	tls_px(&p, &t, t_server_port(echo), setting, 1);
	px_start(&p);
	char *out = s_client(&p, (const char *const[]){ "-alpn", "h2,http/1.1", NULL });
	cr_expect(strstr(out, want), "s_client said:\n%s\nwant \"%s\"", out, want);
	free(out);
	px_stop_ok(&p);
	px_free(&p);
	t_server_free(echo);
	t_tls_free(&t);
}

T_TEST(tls_proxy, alpn_http1_only, .timeout = 60)
{
	alpn("alpn = \"http1-only\";", "ALPN protocol: http/1.1");
}

T_TEST(tls_proxy, alpn_none_answers_nothing, .timeout = 60)
{
	alpn(NULL, "No ALPN negotiated");
}

T_TEST(tls_proxy, tls13_only_refuses_tls12, .timeout = 60)
{
	struct t_tls t;
	certs(&t);
	struct t_server *echo = t_server_start(T_SRV_ECHO, 0);
	struct px p;
	tls_px(&p, &t, t_server_port(echo), "policy = \"tls13-only\";", 1);
	px_start(&p);
	int fd;
	struct t_tls_client_opts o = { .sni = "a.test", .max_version = TLS1_2_VERSION };
	SSL *ssl = t_tls_connect(p.conf.listen_port, &o, &fd);
	cr_expect_null(ssl, "a TLS 1.2 client got through tls13-only");
	t_tls_close(ssl, fd);
	o.max_version = 0;
	ssl = t_tls_connect(p.conf.listen_port, &o, &fd);
	px_assert(&p, ssl != NULL, "a TLS 1.3 client under tls13-only");
	t_tls_close(ssl, fd);
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "tls_fail_version"), 1);
	cr_expect_eq(px_stat(&p, "tls_handshakes_tls13"), 1);
	px_free(&p);
	t_server_free(echo);
	t_tls_free(&t);
}

T_TEST(tls_proxy, tls12_by_default_and_tls10_refused, .timeout = 60)
{
	struct t_tls t;
	certs(&t);
	struct t_server *echo = t_server_start(T_SRV_ECHO, 0);
	struct px p;
	tls_px(&p, &t, t_server_port(echo), NULL, 1);
	px_start(&p);
	int fd;
	struct t_tls_client_opts o = { .sni = "a.test", .max_version = TLS1_2_VERSION };
	SSL *ssl = t_tls_connect(p.conf.listen_port, &o, &fd);
	px_assert(&p, ssl != NULL, "TLS 1.2 under the default policy");
	px_assert(&p, t_tls_round_trip(ssl, "12", 2) == 0, "TLS 1.2 round trip");
	t_tls_close(ssl, fd);
	/* Debian's OpenSSL offers TLS 1.0 only at security level 0. */
	char *out = s_client(&p, (const char *const[]){ "-tls1", "-cipher", "DEFAULT@SECLEVEL=0",
							 NULL });
	cr_expect(strstr(out, "Cipher is (NONE)") && strstr(out, "alert protocol version"),
		  "TLS 1.0 was accepted:\n%s", out);
	free(out);
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "tls_handshakes_tls12"), 1);
	cr_expect_eq(px_stat(&p, "tls_fail_version"), 1);
	px_free(&p);
	t_server_free(echo);
	t_tls_free(&t);
}

T_TEST(tls_proxy, bulk_64mib_each_way, .timeout = 120)
{
	const uint64_t len = 64 * MiB, up = 0xA11CE, down = 0xB0B;
	struct t_tls t;
	certs(&t);
	struct t_server_opts so = {
		.mode = T_SRV_SINK_SOURCE, .source_bytes = len, .source_seed = down,
	};
	struct t_server *srv = t_server_start_opts(&so);
	struct px p;
	tls_px(&p, &t, t_server_port(srv), NULL, 1);
	px_start(&p);
	int fd;
	struct t_tls_client_opts o = { .sni = "a.test" };
	SSL *ssl = t_tls_connect(p.conf.listen_port, &o, &fd);
	px_assert(&p, ssl != NULL, "handshake");
	uint64_t got = 0, sum = 0;
	int rc = t_tls_bulk(ssl, fd, len, up, 90000, &got, &sum);
	t_tls_close(ssl, fd);
	px_assert(&p, rc == 0, "bulk over TLS: %llu bytes back", (unsigned long long)got);
	cr_expect_eq(got, len, "client got %llu bytes", (unsigned long long)got);
	cr_expect_eq(sum, t_pattern_sum(down, len), "client's checksum");
	px_assert(&p, t_server_wait_closed(srv, 1, 10000) == 0, "target saw no end");
	struct t_conn_result r;
	T_ASSERT(t_server_result(srv, 0, &r) == 0);
	cr_expect_eq(r.end, T_END_EOF, "target saw %s", t_end_name(r.end));
	cr_expect_eq(r.bytes_in, len);
	cr_expect_eq(r.sum_in, t_pattern_sum(up, len), "target's checksum");
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "bytes_in"), (int64_t)len);
	cr_expect_eq(px_stat(&p, "bytes_out"), (int64_t)len);
	px_free(&p);
	t_server_free(srv);
	t_tls_free(&t);
}

/* The target is told the client's SNI, ALPN and TLS version in the PROXY
 * v2 header: the echo target sends the header back, for the test to read. */
T_TEST(tls_proxy, proxy_v2_carries_sni_and_alpn, .timeout = 60)
{
	struct t_tls t;
	certs(&t);
	struct t_server *echo = t_server_start(T_SRV_ECHO, 0);
	struct px p;
	tls_px(&p, &t, t_server_port(echo), "alpn = \"http1-only\";", 1);
	p.conf.group_extra = "proxy_protocol = \"v2\";";
	px_start(&p);
	int fd;
	struct t_tls_client_opts o = { .sni = "b.test", .alpn = "h2,http/1.1" };
	SSL *ssl = t_tls_connect(p.conf.listen_port, &o, &fd);
	px_assert(&p, ssl != NULL, "handshake");
	T_ASSERT(SSL_write(ssl, "x", 1) == 1);
	uint8_t buf[2048];
	size_t have = 0;
	int hlen = -EAGAIN;
	struct nlb_proxyproto pp;
	while (hlen == -EAGAIN && have < sizeof(buf)) {
		int n = SSL_read(ssl, buf + have, (int)(sizeof(buf) - have));
		if (n <= 0)
			break;
		have += (size_t)n;
		hlen = nlb_proxyproto_parse(buf, have, &pp);
	}
	px_assert(&p, hlen > 0, "no PROXY v2 header came back: %d", hlen);
	char authority[64] = "", alpn[32] = "", version[16] = "";
	uint8_t client = 0;
	for (size_t off = pp.tlv_off; off + 3 <= pp.tlv_off + pp.tlv_len;) {
		uint8_t type = buf[off];
		size_t len = (size_t)buf[off + 1] << 8 | buf[off + 2];
		const uint8_t *v = buf + off + 3;
		if (type == NLB_PP2_TYPE_AUTHORITY && len < sizeof(authority))
			memcpy(authority, v, len);
		if (type == NLB_PP2_TYPE_ALPN && len < sizeof(alpn))
			memcpy(alpn, v, len);
		if (type == NLB_PP2_TYPE_SSL && len >= 5) {
			client = v[0];
			for (size_t s = 5; s + 3 <= len;) {
				size_t sl = (size_t)v[s + 1] << 8 | v[s + 2];
				if (v[s] == NLB_PP2_SUBTYPE_SSL_VERSION && sl < sizeof(version))
					memcpy(version, v + s + 3, sl);
				s += 3 + sl;
			}
		}
		off += 3 + len;
	}
	cr_expect_str_eq(authority, "b.test");
	cr_expect_str_eq(alpn, "http/1.1");
	cr_expect_eq(client, NLB_PP2_CLIENT_SSL);
	cr_expect_str_eq(version, "TLSv1.3");
	t_tls_close(ssl, fd);
	px_stop_ok(&p);
	px_free(&p);
	t_server_free(echo);
	t_tls_free(&t);
}

/* ---- TLS to targets: NGINX with ssl ---------------------------------- */

/* NGINX serving HTTPS on two ports, certificate a (a.test) on the first
 * and b (b.test) on the second, each answering its own port number. */
struct ngx {
	struct t_nginx nginx;
	uint16_t port[2];
};

static void ngx_start(struct ngx *n, struct t_tls *t)
{
	n->port[0] = t_free_port();
	n->port[1] = t_free_port();
	char servers[1024], a_pem[128], a_key[128], b_pem[128], b_key[128];
	snprintf(servers, sizeof(servers),
		 "  server { listen 127.0.0.1:%u ssl; ssl_certificate %s; ssl_certificate_key %s;\n"
		 "    location / { return 200 \"$server_port\\n\"; } }\n"
		 "  server { listen 127.0.0.1:%u ssl; ssl_certificate %s; ssl_certificate_key %s;\n"
		 "    location / { return 200 \"$server_port\\n\"; } }\n",
		 n->port[0], t_tls_path(t, "a.pem", a_pem, sizeof(a_pem)),
		 t_tls_path(t, "a.key", a_key, sizeof(a_key)),
		 n->port[1], t_tls_path(t, "b.pem", b_pem, sizeof(b_pem)),
		 t_tls_path(t, "b.key", b_key, sizeof(b_key)));
	int rc = t_nginx_start(&n->nginx, servers, n->port[1]);
	T_ASSERT(rc == 0, ": nginx: %s (make deps installs it)", strerror(-rc));
}

static void ngx_free(struct ngx *n)
{
	t_nginx_free(&n->nginx);
}

/* curl http://nlb/ n times: how many answers came from each NGINX port. */
static int curl_count(struct px *p, const struct ngx *n, int times, int got[2])
{
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", p->conf.listen_port);
	int ok = 0;
	got[0] = got[1] = 0;
	for (int i = 0; i < times; i++) {
		const char *argv[] = { "/usr/bin/curl", "-sS", "--max-time", "10", url, NULL };
		char *out = NULL;
		if (t_run(argv, 20000, &out) == 0 && out) {
			unsigned port = (unsigned)atoi(out);
			got[0] += port == n->port[0];
			got[1] += port == n->port[1];
			ok += port == n->port[0] || port == n->port[1];
		}
		free(out);
	}
	return ok;
}

/* Certificates, NGINX on two ports (a.test's certificate, then
 * b.test's) and nlb with a plain tcp listener over a group of both with
 * tls = { [ca] server_name; more }: what the to_targets tests share. */
struct to_targets {
	struct t_tls t;
	struct ngx n;
	struct px p;
};

static void to_targets_start(struct to_targets *f, bool verify, const char *name,
			     const char *more)
{
	static char extra[1024];
	char ca[128];
	certs(&f->t);
	ngx_start(&f->n, &f->t);
	snprintf(extra, sizeof(extra), "tls = { %s%s%s server_name = \"%s\"; %s };",
		 verify ? "ca = \"" : "", verify ? t_tls_path(&f->t, "ca.pem", ca, sizeof(ca)) : "",
		 verify ? "\";" : "", name, more ? more : "");
	px_init(&f->p, "auto");
	f->p.conf.group_extra = extra;
	f->p.conf.connect_retries = 2;
	px_target(&f->p, f->n.port[0]);
	px_target(&f->p, f->n.port[1]);
	px_start(&f->p);
}

/* After the test has stopped nlb and read its counters. */
static void to_targets_free(struct to_targets *f)
{
	px_free(&f->p);
	ngx_free(&f->n);
	t_tls_free(&f->t);
}

T_TEST(tls_proxy, to_targets_verified_and_retried, .timeout = 90)
{
	struct to_targets f;
	to_targets_start(&f, true, "b.test", NULL);
	int got[2];
	/* Round robin offers both; a.test's certificate does not name
	 * b.test, so each client ends on the second, after a retry when
	 * it was offered the first. */
	int ok = curl_count(&f.p, &f.n, 6, got);
	cr_expect_eq(ok, 6, "%d of 6 requests answered", ok);
	cr_expect_eq(got[0], 0, "%d answers from the target whose name is wrong", got[0]);
	px_stop_ok(&f.p);
	cr_expect_geq(px_stat(&f.p, "connect_tls"), 1);
	cr_expect_eq(px_stat(&f.p, "no_target"), 0);
	to_targets_free(&f);
}

T_TEST(tls_proxy, to_targets_refused_on_a_wrong_name, .timeout = 90)
{
	struct to_targets f;
	to_targets_start(&f, true, "c.test", NULL);
	int got[2];
	int ok = curl_count(&f.p, &f.n, 2, got);
	cr_expect_eq(ok, 0, "%d requests answered by targets that do not name c.test", ok);
	px_stop_ok(&f.p);
	int64_t tls = px_stat(&f.p, "connect_tls"), none = px_stat(&f.p, "no_target");
	/* Each client tries each target once, then has none left. */
	cr_expect_eq(tls, 4, "connect_tls %lld: want 2 attempts for each of 2 clients",
		     (long long)tls);
	cr_expect_eq(none, 2, "no_target %lld", (long long)none);
	to_targets_free(&f);
}

T_TEST(tls_proxy, to_targets_unverified_without_ca, .timeout = 90)
{
	struct to_targets f;
	to_targets_start(&f, false, "c.test", NULL);
	int got[2];
	int ok = curl_count(&f.p, &f.n, 4, got);
	cr_expect_eq(ok, 4, "%d of 4 answered", ok);
	cr_expect(got[0] > 0 && got[1] > 0, "answers %d and %d: both targets should serve",
		  got[0], got[1]);
	px_stop_ok(&f.p);
	cr_expect_eq(px_stat(&f.p, "connect_tls"), 0);
	to_targets_free(&f);
}

/* A target that answers the ClientHello with bytes that are not TLS
 * (a server speaking another protocol on the port) fails its handshake
 * with reason not_tls and is given up like a refused connect: each
 * client offered it goes on to the TLS target. */
T_TEST(tls_proxy, to_targets_not_tls_is_retried, .timeout = 90)
{
	struct t_tls t;
	struct ngx n;
	struct px p;
	certs(&t);
	ngx_start(&n, &t);
	struct t_server *plain = t_server_start(T_SRV_TAG, 0);
	T_ASSERT(plain != NULL, ": tag server: %s", strerror(errno));
	px_init(&p, "auto");
	p.conf.log_level = "debug";
	p.conf.group_extra = "tls = { server_name = \"b.test\"; };";
	p.conf.connect_retries = 2;
	px_target(&p, t_server_port(plain));
	px_target(&p, n.port[1]);
	px_start(&p);
	int got[2];
	int ok = curl_count(&p, &n, 6, got);
	cr_expect_eq(ok, 6, "%d of 6 requests answered", ok);
	cr_expect_eq(got[1], 6, "%d answers from the TLS target", got[1]);
	char want[128];
	snprintf(want, sizeof(want), "target 127.0.0.1:%u in group web: TLS handshake failed (not_tls)",
		 t_server_port(plain));
	int rc = t_nlb_log_wait(p.nlb, want, 10000);
	px_assert(&p, rc == 0, "no \"%s\" in nlb's log", want);
	px_stop_ok(&p);
	unsigned offered = t_server_accepted(plain);
	int64_t tls = px_stat(&p, "connect_tls");
	/* Round robin offers the plain target to about half the clients. */
	cr_expect(offered >= 1, "the plain target was never offered");
	cr_expect_eq(tls, (int64_t)offered, "connect_tls %lld for %u handshakes with the plain target",
		     (long long)tls, offered);
	cr_expect_eq(px_stat(&p, "no_target"), 0);
	px_free(&p);
	t_server_free(plain);
	ngx_free(&n);
	t_tls_free(&t);
}

/* Health checks over TLS: https verifies as the group does (NGINX's
 * first port shows a.test, not the b.test the group wants); tls without
 * the group's tls only asks for a handshake, which a plain target fails. */
static void hc_wait_log(struct px *p, uint16_t port, const char *change)
{
	char want[128];
	snprintf(want, sizeof(want), "target 127.0.0.1:%u in group web: %s", port, change);
	int rc = t_nlb_log_wait(p->nlb, want, 10000);
	px_assert(p, rc == 0, "no \"%s\" in nlb's log", want);
}

T_TEST(tls_proxy, health_checks_over_tls, .timeout = 90)
{
	struct to_targets f;
	to_targets_start(&f, true, "b.test", "}; health_check = { protocol = \"https\";"
			 " interval_ms = 100; timeout_ms = 1000; healthy_threshold = 1;"
			 " unhealthy_threshold = 1; path = \"/\"; matcher = \"200\";");
	hc_wait_log(&f.p, f.n.port[1], "initial -> healthy (HTTP 200)");
	hc_wait_log(&f.p, f.n.port[0], "initial -> unhealthy (TLS handshake: verify)");
	px_stop_ok(&f.p);
	px_free(&f.p);

	/* tls, no group tls: a handshake passes, a plain echo target fails. */
	struct t_server *echo = t_server_start(T_SRV_ECHO, 0);
	px_init(&f.p, "auto");
	f.p.conf.group_extra = "health_check = { protocol = \"tls\"; interval_ms = 100;"
			       " healthy_threshold = 1; unhealthy_threshold = 1; timeout_ms = 1000; };";
	px_target(&f.p, f.n.port[0]);
	px_target(&f.p, t_server_port(echo));
	px_start(&f.p);
	hc_wait_log(&f.p, f.n.port[0], "initial -> healthy (TLS handshake)");
	hc_wait_log(&f.p, t_server_port(echo), "initial -> unhealthy");
	px_stop_ok(&f.p);
	t_server_free(echo);
	to_targets_free(&f);
}

/* ---- resumption --------------------------------------------------------- */

/* A session from a handshake with port (after a round trip, which brings
 * TLS 1.3's ticket), or NULL. */
static SSL_SESSION *session_from(uint16_t port, SSL_SESSION *resume, int *reused)
{
	int fd;
	struct t_tls_client_opts o = { .sni = "a.test", .session = resume };
	SSL *ssl = t_tls_connect(port, &o, &fd);
	if (!ssl)
		return NULL;
	SSL_SESSION *s = NULL;
	if (t_tls_round_trip(ssl, "tick", 4) == 0)
		s = SSL_get1_session(ssl);
	*reused = SSL_session_reused(ssl);
	t_tls_close(ssl, fd);
	return s;
}

T_TEST(tls_proxy, tickets_resume_on_every_worker, .timeout = 60)
{
	struct t_tls t;
	certs(&t);
	struct t_server *echo = t_server_start(T_SRV_ECHO, 0);
	struct px p;
	tls_px(&p, &t, t_server_port(echo), NULL, 2);
	px_start(&p);
	int reused;
	SSL_SESSION *s = session_from(p.conf.listen_port, NULL, &reused);
	px_assert(&p, s != NULL, "first handshake");
	/* SO_REUSEPORT spreads these over both workers. */
	int n_reused = 0;
	for (int i = 0; i < 8; i++) {
		SSL_SESSION *s2 = session_from(p.conf.listen_port, s, &reused);
		n_reused += reused;
		SSL_SESSION_free(s2);
	}
	SSL_SESSION_free(s);
	cr_expect_eq(n_reused, 8, "%d of 8 resumed", n_reused);
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "tls_resumed"), 8);
	px_free(&p);
	t_server_free(echo);
	t_tls_free(&t);
}

static void two_hosts(bool shared, int want_reused)
{
	struct t_tls t;
	certs(&t);
	char keys[128];
	t_tls_path(&t, "ticket.keys", keys, sizeof(keys));
	FILE *f = fopen(keys, "w");
	T_ASSERT(f);
	fprintf(f, "# two hosts, one key\n"
		"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWYwMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n");
	fclose(f);
	char extra[256] = "";
	if (shared)
		snprintf(extra, sizeof(extra), "ticket_keys = \"%s\";", keys);
	struct t_server *echo = t_server_start(T_SRV_ECHO, 0);
	struct px a, b;
	tls_px(&a, &t, t_server_port(echo), extra, 1);
	px_start(&a);
	tls_px(&b, &t, t_server_port(echo), extra, 1);
	px_start(&b);
	int reused;
	SSL_SESSION *s = session_from(a.conf.listen_port, NULL, &reused);
	px_assert(&a, s != NULL, "handshake with the first nlb");
	SSL_SESSION *s2 = session_from(b.conf.listen_port, s, &reused);
	px_assert(&b, s2 != NULL, "handshake with the second nlb");
	cr_expect_eq(reused, want_reused, "resumed on the other host: %d, want %d", reused,
		     want_reused);
	SSL_SESSION_free(s);
	SSL_SESSION_free(s2);
	px_stop_ok(&a);
	px_stop_ok(&b);
	cr_expect_eq(px_stat(&b, "tls_resumed"), want_reused);
	px_free(&a);
	px_free(&b);
	t_server_free(echo);
	t_tls_free(&t);
}

/* The tickets (sessions) a full handshake brings, after a round trip;
 * -1 when it failed. */
static int tickets_from(uint16_t port, int max_version)
{
	int fd, n = 0;
	struct t_tls_client_opts o = { .sni = "a.test", .max_version = max_version,
				       .tickets = &n };
	SSL *ssl = t_tls_connect(port, &o, &fd);
	if (!ssl)
		return -1;
	if (t_tls_round_trip(ssl, "tick", 4) != 0)
		n = -1;
	t_tls_close(ssl, fd);
	return n;
}

/* session_tickets: the TLS 1.3 tickets a full handshake sends (2 by
 * default, OpenSSL's number); TLS 1.2 has one or none.  With 0 nothing
 * resumes, not even a ticket under the same ticket_keys from an nlb that
 * issues them, and the unused keys are warned about. */
T_TEST(tls_proxy, session_tickets_sets_how_many_are_sent, .timeout = 60)
{
	struct t_tls t;
	certs(&t);
	char keys[128], extra[3][256];
	t_tls_path(&t, "ticket.keys", keys, sizeof(keys));
	FILE *f = fopen(keys, "w");
	T_ASSERT(f);
	fprintf(f, "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWYwMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n");
	fclose(f);
	const int want[3] = { 2, 1, 0 };
	snprintf(extra[0], sizeof(extra[0]), "ticket_keys = \"%s\";", keys);
	snprintf(extra[1], sizeof(extra[1]), "ticket_keys = \"%s\"; session_tickets = 1;", keys);
	snprintf(extra[2], sizeof(extra[2]), "ticket_keys = \"%s\"; session_tickets = 0;", keys);
	struct t_server *echo = t_server_start(T_SRV_ECHO, 0);
	SSL_SESSION *issued = NULL;
	for (int i = 0; i < 3; i++) {
		struct px p;
		tls_px(&p, &t, t_server_port(echo), extra[i], 1);
		px_start(&p);
		int reused, n13 = tickets_from(p.conf.listen_port, 0);
		int n12 = tickets_from(p.conf.listen_port, TLS1_2_VERSION);
		cr_expect_eq(n13, want[i], "%s: TLS 1.3: %d tickets, want %d", extra[i], n13, want[i]);
		cr_expect_eq(n12, want[i] > 0, "%s: TLS 1.2: %d tickets", extra[i], n12);
		if (i == 0)
			issued = session_from(p.conf.listen_port, NULL, &reused);
		px_assert(&p, issued != NULL, "no session from the first nlb");
		/* Not through tickets_from: a client that counts tickets keeps a
		 * cache, and OpenSSL marks a TLS 1.3 session of a cache used once
		 * it has resumed. */
		SSL_SESSION_free(session_from(p.conf.listen_port, issued, &reused));
		cr_expect_eq(reused, want[i] > 0, "%s: the first nlb's ticket resumed: %d", extra[i],
			     reused);
		px_stop_ok(&p);
		cr_expect_eq(px_stat(&p, "tls_resumed"), want[i] > 0);
		cr_expect_eq(t_nlb_log_contains(p.nlb, "session_tickets = 0: no session resumes"),
			     want[i] == 0, "%s: the warning for unused ticket_keys", extra[i]);
		px_free(&p);
	}
	SSL_SESSION_free(issued);
	t_server_free(echo);
	t_tls_free(&t);
}

T_TEST(tls_proxy, ticket_keys_resume_on_another_host, .timeout = 60) { two_hosts(true, 1); }
T_TEST(tls_proxy, own_keys_resume_on_this_host_only, .timeout = 60) { two_hosts(false, 0); }

/* ---- reload --------------------------------------------------------------- */

T_TEST(tls_proxy, reload_swaps_the_certificate, .timeout = 60)
{
	struct t_tls t;
	certs(&t);
	struct t_server *echo = t_server_start(T_SRV_ECHO, 0);
	struct px p;
	tls_px(&p, &t, t_server_port(echo), NULL, 1);
	px_start(&p);
	int fd;
	struct t_tls_client_opts o = { .sni = "a.test" };
	SSL *before = t_tls_connect(p.conf.listen_port, &o, &fd);
	px_assert(&p, before != NULL, "handshake before the reload");
	px_assert(&p, t_tls_round_trip(before, "one", 3) == 0, "round trip before");
	/* The same file names, a new certificate in them. */
	T_ASSERT(t_tls_leaf(&t, "a", "a2.test", "DNS:a.test", "ec") == 0);
	px_assert(&p, px_reload(&p) == 1, "reload applied");
	expect_cert(&p, NULL, "a.test", "a2.test");
	px_assert(&p, t_tls_round_trip(before, "two", 3) == 0, "the old connection after the reload");
	t_tls_close(before, fd);
	/* A key nlb cannot read: the reload is refused whole, naming it. */
	char key[128];
	T_ASSERT(truncate(t_tls_path(&t, "b.key", key, sizeof(key)), 0) == 0);
	px_assert(&p, px_reload(&p) == 0, "a reload with an empty key file was applied");
	cr_expect(t_nlb_log_contains(p.nlb, key), "the refusal does not name %s", key);
	expect_cert(&p, NULL, "a.test", "a2.test");
	px_stop_ok(&p);
	px_free(&p);
	t_server_free(echo);
	t_tls_free(&t);
}

T_TEST(tls_proxy, show_certificates, .timeout = 60)
{
	struct t_tls t;
	certs(&t);
	struct t_server *echo = t_server_start(T_SRV_ECHO, 0);
	struct px p;
	tls_px(&p, &t, t_server_port(echo), NULL, 1);
	px_admin(&p);
	px_start(&p);
	const char *ctl = getenv("NLB_CTL");
	T_ASSERT(ctl, ": NLB_CTL is not set (run through make test)");
	const char *argv[] = { ctl, "-s", p.admin_sock, "show", "certificates", NULL };
	char *out = NULL;
	int rc = t_run(argv, 10000, &out);
	px_assert(&p, rc == 0, "nlbctl show certificates: exit %d: %s", rc, out ? out : "");
	char a_pem[128], b_pem[128], want[512];
	snprintf(want, sizeof(want), "listener=web file=%s default=yes key=EC-P-256 ",
		 t_tls_path(&t, "a.pem", a_pem, sizeof(a_pem)));
	cr_expect(out && strstr(out, want), "no \"%s\" in:\n%s", want, out);
	/* Made with -days 2 a moment ago: 2 days, or 1 and a bit. */
	cr_expect(out && (strstr(out, "days_left=1 names=a.test,*.w.test subject=\"CN=a.test\"") ||
			  strstr(out, "days_left=2 names=a.test,*.w.test subject=\"CN=a.test\"")),
		  "a.pem's line:\n%s", out);
	snprintf(want, sizeof(want), "listener=web file=%s default=no ",
		 t_tls_path(&t, "b.pem", b_pem, sizeof(b_pem)));
	cr_expect(out && strstr(out, want), "no \"%s\" in:\n%s", want, out);
	free(out);
	px_stop_ok(&p);
	px_free(&p);
	t_server_free(echo);
	t_tls_free(&t);
}

/* Warnings: at start, for each TLS file the user nlb drops to cannot read
 * (the test's certificate directory is root's, mode 0700), since the next
 * reload would fail; from nlb -t, for a group that encrypts without
 * verifying. */
T_TEST(tls_proxy, warnings_for_unreadable_files_and_unverified_groups, .timeout = 60)
{
	struct t_tls t;
	certs(&t);
	struct t_server *echo = t_server_start(T_SRV_ECHO, 0);
	uint16_t port = t_free_port();
	char a_pem[128], a_key[128];
	t_tls_path(&t, "a.pem", a_pem, sizeof(a_pem));
	t_tls_path(&t, "a.key", a_key, sizeof(a_key));
	char *conf = t_write_config(
		"user = \"nobody\"; group = \"nogroup\"; workers = 1;\n"
		"listeners = ( { name = \"web\"; protocol = \"tls\"; address = \"127.0.0.1:%u\";\n"
		"  target_group = \"web\"; tls = { certificates = ( { cert = \"%s\"; key = \"%s\"; } ); }; } );\n"
		"target_groups = ( { name = \"web\"; tls = { server_name = \"x.test\"; };\n"
		"  targets = ( { address = \"127.0.0.1:%u\"; } ); } );\n",
		port, a_pem, a_key, t_server_port(echo));
	T_ASSERT(conf);
	const char *argv[] = { t_nlb_bin(), "-t", "-c", conf, NULL };
	char *out = NULL;
	int rc = t_run(argv, 20000, &out);
	cr_expect_eq(rc, 0, "nlb -t: exit %d: %s", rc, out ? out : "");
	cr_expect(out && strstr(out, "warning: ") && strstr(out, "tls without \"ca\""),
		  "nlb -t said: %s", out ? out : "");
	free(out);
	struct px p;
	px_spawn_conf(&p, conf);
	char want[256];
	snprintf(want, sizeof(want), "key %s cannot be read as the user nlb runs as", a_key);
	cr_expect(t_nlb_log_contains(p.nlb, want), "no \"%s\" in nlb's log", want);
	cr_expect(t_nlb_log_contains(p.nlb, "tls without \\\"ca\\\""),
		  "no warning for the unverified group at start");
	px_stop_ok(&p);
	px_free(&p);
	t_server_free(echo);
	t_tls_free(&t);
}

/* ---- bad input ---------------------------------------------------------- */

T_TEST(tls_proxy, plain_http_is_refused, .timeout = 60)
{
	struct t_tls t;
	certs(&t);
	struct t_server *echo = t_server_start(T_SRV_ECHO, 0);
	struct px p;
	tls_px(&p, &t, t_server_port(echo), NULL, 1);
	px_start(&p);
	int fd = px_connect(&p);
	T_ASSERT(t_write_all(fd, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 27) == 0);
	int rc = t_wait_closed(fd, 5000);
	cr_expect(rc != -ETIMEDOUT, "nlb kept a plain HTTP client open");
	t_close(fd);
	/* Random bytes, likewise. */
	fd = px_connect(&p);
	char noise[512];
	t_pattern_fill(noise, 0, sizeof(noise), 99);
	noise[0] = 0x17;	/* a record type, not a handshake */
	T_ASSERT(t_write_all(fd, noise, sizeof(noise)) == 0);
	cr_expect(t_wait_closed(fd, 5000) != -ETIMEDOUT, "nlb kept a noise client open");
	t_close(fd);
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "tls_fail_not_tls") + px_stat(&p, "tls_fail_protocol"), 2);
	cr_expect_eq(px_stat(&p, "tls_fail_not_tls") >= 1, true);
	cr_expect_eq(t_server_accepted(echo), 0, "a target was connected for a bad client");
	px_free(&p);
	t_server_free(echo);
	t_tls_free(&t);
}

T_TEST(tls_proxy, handshake_timeout_resets, .timeout = 60)
{
	struct t_tls t;
	certs(&t);
	struct t_server *echo = t_server_start(T_SRV_ECHO, 0);
	struct px p;
	tls_px(&p, &t, t_server_port(echo), "handshake_timeout_ms = 300;", 1);
	px_start(&p);
	int fd = px_connect(&p);
	int64_t t0 = t_now_ms();
	int rc = t_wait_closed(fd, 5000);
	cr_expect(rc != -ETIMEDOUT, "a silent client still open after 5 s");
	cr_expect(t_now_ms() - t0 >= 250, "closed before the timeout");
	t_close(fd);
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "tls_fail_timeout"), 1);
	px_free(&p);
	t_server_free(echo);
	t_tls_free(&t);
}

/* The client's handshake written a byte a segment: nlb reassembles. */
T_TEST(tls_proxy, client_hello_in_one_byte_segments, .timeout = 60)
{
	struct t_tls t;
	certs(&t);
	struct t_server *echo = t_server_start(T_SRV_ECHO, 0);
	struct px p;
	tls_px(&p, &t, t_server_port(echo), NULL, 1);
	px_start(&p);
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = SSL_new(ctx);
	BIO *in = BIO_new(BIO_s_mem()), *out = BIO_new(BIO_s_mem());
	SSL_set_bio(ssl, in, out);
	SSL_set_connect_state(ssl);
	SSL_set_tlsext_host_name(ssl, "b.test");
	int fd = px_connect(&p);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	int r = 0;
	int64_t deadline = t_now_ms() + 10000;
	bool first = true;
	int hello_len = 0;
	while ((r = SSL_do_handshake(ssl)) != 1 && t_now_ms() < deadline) {
		char buf[16384];
		int n;
		while ((n = BIO_read(out, buf, sizeof(buf))) > 0) {
			if (first) {	/* the ClientHello, one byte at a time */
				hello_len = n;
				for (int i = 0; i < n; i++) {
					T_ASSERT(t_write_all(fd, buf + i, 1) == 0);
					t_sleep_ms(1);
				}
				first = false;
			} else {
				T_ASSERT(t_write_all(fd, buf, (size_t)n) == 0);
			}
		}
		ssize_t got = recv(fd, buf, sizeof(buf), 0);
		if (got <= 0)
			break;
		BIO_write(in, buf, (int)got);
	}
	cr_expect_eq(r, 1, "handshake over 1-byte segments did not finish");
	{	/* the client's Finished, still in its BIO */
		char buf[4096];
		int n;
		while ((n = BIO_read(out, buf, sizeof(buf))) > 0)
			T_ASSERT(t_write_all(fd, buf, (size_t)n) == 0);
	}
	int64_t t_end = t_now_ms() + 3000;
	while (t_now_ms() < t_end) {	/* nlb has it once it connects to the target */
		if (t_server_accepted(echo) >= 1)
			break;
		t_sleep_ms(10);
	}
	char cn[64];
	cr_expect_str_eq(t_tls_peer_cn(ssl, cn, sizeof(cn)), "b.test");
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	t_close(fd);
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "tls_handshakes_tls13"), 1);
	/* A millisecond between bytes: the handshake took at least that. */
	int64_t ms = px_stat(&p, "tls_hs_ms");
	cr_expect_geq(ms, hello_len, "handshake of %lld ms over %d bytes a ms apart",
		      (long long)ms, hello_len);
	cr_expect_eq(px_stat(&p, "tls_hs_le_5ms"), 0);
	cr_expect_eq(px_stat(&p, "tls_hs_le_1s") + (ms > 1000), 1);
	px_free(&p);
	t_server_free(echo);
	t_tls_free(&t);
}

T_TEST(tls_proxy, renegotiation_is_refused, .timeout = 60)
{
	struct t_tls t;
	certs(&t);
	struct t_server *echo = t_server_start(T_SRV_ECHO, 0);
	struct px p;
	tls_px(&p, &t, t_server_port(echo), NULL, 1);
	px_start(&p);
	int fd;
	struct t_tls_client_opts o = { .sni = "a.test", .max_version = TLS1_2_VERSION };
	SSL *ssl = t_tls_connect(p.conf.listen_port, &o, &fd);
	px_assert(&p, ssl != NULL, "TLS 1.2 handshake");
	px_assert(&p, t_tls_round_trip(ssl, "before", 6) == 0, "round trip");
	SSL_renegotiate(ssl);
	int r = SSL_do_handshake(ssl);
	char buf[16];
	int n = r == 1 ? SSL_read(ssl, buf, sizeof(buf)) : -1;
	cr_expect(r != 1 || n <= 0, "a renegotiation went through");
	ERR_clear_error();
	t_tls_close(ssl, fd);
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "tls_fail_renegotiation"), 1);
	px_free(&p);
	t_server_free(echo);
	t_tls_free(&t);
}
