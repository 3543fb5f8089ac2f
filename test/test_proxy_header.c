/* Suite "proxy_header": the PROXY protocol through the real nlb.  Headers
 * nlb sends to targets are read by a target socket of the test's and
 * decoded here with a decoder of the test's own (not lib/proxyproto's);
 * headers nlb accepts come from test clients, well formed or not; and a
 * real peer, NGINX with `listen ... proxy_protocol`, must see curl's own
 * address and port. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "px.h"
#include "udp_srv.h"

TestSuite(proxy_header, .init = t_setup, .fini = t_teardown);

/* ---- a target socket and the test's own header decoder ---------------- */

static int listen_on(const char *ip, uint16_t *port)
{
	int fd = t_tcp_listener(ip, port);
	T_ASSERT(fd >= 0, ": listen on %s: %s", ip, strerror(-fd));
	return fd;
}

static int accept_within(int lfd, int ms)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	if (poll(&p, 1, ms) != 1)
		return -ETIMEDOUT;
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct timeval tv = { .tv_sec = 2 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static bool read_exact(int fd, void *buf, size_t len)
{
	return recv(fd, buf, len, MSG_WAITALL) == (ssize_t)len;
}

struct hdr {
	int version;
	char proto[8];		/* "TCP4", "TCP6" (v1); "TCP4", "TCP6", "UDP4"... (v2) */
	char src[64], dst[64];
	unsigned sport, dport;
};

/* Reads one header from fd, decoding it the simple way, independently of
 * lib/proxyproto.c.  0 or -EPROTO. */
static int read_header(int fd, struct hdr *h)
{
	memset(h, 0, sizeof(*h));
	uint8_t b[256];
	if (!read_exact(fd, b, 16))
		return -EPROTO;
	static const uint8_t sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
					 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };
	if (memcmp(b, sig, 12) == 0) {
		h->version = 2;
		if (b[12] != 0x21)
			return -EPROTO;
		size_t len = (size_t)b[14] << 8 | b[15];
		if (len > sizeof(b) - 16 || !read_exact(fd, b + 16, len))
			return -EPROTO;
		int af = b[13] >> 4 == 1 ? AF_INET : b[13] >> 4 == 2 ? AF_INET6 : 0;
		const char *tp = (b[13] & 15) == 1 ? "TCP" : (b[13] & 15) == 2 ? "UDP" : "?";
		size_t alen = af == AF_INET ? 4 : 16;
		if (!af || len < 4 * 1 + 2 * alen)
			return -EPROTO;
		snprintf(h->proto, sizeof(h->proto), "%s%c", tp, af == AF_INET ? '4' : '6');
		inet_ntop(af, b + 16, h->src, sizeof(h->src));
		inet_ntop(af, b + 16 + alen, h->dst, sizeof(h->dst));
		h->sport = (unsigned)b[16 + 2 * alen] << 8 | b[17 + 2 * alen];
		h->dport = (unsigned)b[18 + 2 * alen] << 8 | b[19 + 2 * alen];
		return 0;
	}
	/* v1: the rest of the line, a byte at a time */
	size_t n = 16;
	while (n < 107 && !(n >= 2 && b[n - 2] == '\r' && b[n - 1] == '\n'))
		if (!read_exact(fd, b + n++, 1))
			return -EPROTO;
	b[n] = '\0';
	h->version = 1;
	if (sscanf((char *)b, "PROXY %7s %63s %63s %u %u\r\n", h->proto, h->src, h->dst,
		   &h->sport, &h->dport) != 5)
		return -EPROTO;
	return 0;
}

static uint16_t local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &len);
	return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					     : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* nlb with one listener (on listen_ip) over one target, the group's and
 * listener's extra keys written in. */
static void start(struct px *p, const char *listen_ip, uint16_t lport, const char *target_ip,
		  uint16_t tport, const char *group_extra, const char *listener_extra)
{
	bool v6l = strchr(listen_ip, ':'), v6t = strchr(target_ip, ':');
	char *conf = t_write_config(
		"workers = 1;\nlog_level = \"debug\";\n"
		"listeners = ( { name = \"l\"; address = \"%s%s%s:%u\"; target_group = \"g\"; %s } );\n"
		"target_groups = ( { name = \"g\"; %s targets = ( { address = \"%s%s%s:%u\"; } ); } );\n",
		v6l ? "[" : "", listen_ip, v6l ? "]" : "", lport,
		listener_extra ? listener_extra : "", group_extra ? group_extra : "",
		v6t ? "[" : "", target_ip, v6t ? "]" : "", tport);
	T_ASSERT(conf);
	memset(p, 0, sizeof(*p));
	p->conf_path = conf;
	p->conf.listen_port = lport;
	px_spawn(p, conf);
}

/* ---- sending ------------------------------------------------------------ */

/* A client from 127.0.0.5: the target reads a header naming that address
 * and the client's port, and the listener's address, then the client's
 * bytes; answers come back. */
static void sends(const char *version)
{
	uint16_t tport, lport = t_free_port();
	int lfd = listen_on("127.0.0.1", &tport);
	char extra[64];
	snprintf(extra, sizeof(extra), "proxy_protocol = \"%s\";", version);
	struct px p;
	start(&p, "127.0.0.1", lport, "127.0.0.1", tport, extra, NULL);
	int c = t_connect_from("127.0.0.5", 0, lport);
	px_assert(&p, c >= 0, "connect: %s", strerror(-c));
	px_assert(&p, t_write_all(c, "hello", 5) == 0, "write");
	int t = accept_within(lfd, 3000);
	px_assert(&p, t >= 0, "nlb did not connect to the target");
	struct hdr h;
	px_assert(&p, read_header(t, &h) == 0, "no valid header reached the target");
	cr_expect_eq(h.version, version[1] - '0');
	cr_expect_str_eq(h.proto, "TCP4");
	cr_expect_str_eq(h.src, "127.0.0.5");
	cr_expect_eq(h.sport, local_port(c), "source port %u, the client's is %u", h.sport,
		     local_port(c));
	cr_expect_str_eq(h.dst, "127.0.0.1");
	cr_expect_eq(h.dport, lport);
	char buf[5];
	px_assert(&p, read_exact(t, buf, 5) && memcmp(buf, "hello", 5) == 0,
		  "the client's bytes did not follow the header");
	px_assert(&p, send(t, "world", 5, 0) == 5, "target send");
	px_assert(&p, t_read_full(c, buf, 5, 2000) == 5 && memcmp(buf, "world", 5) == 0,
		  "the answer did not come back");
	t_close(c);
	close(t);
	close(lfd);
	px_stop_ok(&p);
	px_free(&p);
}

T_TEST(proxy_header, sends_v1, .timeout = 30)
{
	sends("v1");
}

T_TEST(proxy_header, sends_v2, .timeout = 30)
{
	sends("v2");
}

/* IPv6 clients, and families mixed between client and target: an IPv6
 * client to an IPv4 target is described as IPv6, an IPv4 client to an
 * IPv6 target as IPv4. */
T_TEST(proxy_header, families, .timeout = 30)
{
	const struct {
		const char *listen, *target, *version, *proto, *addr;
	} cases[] = {
		{ "::1", "127.0.0.1", "v2", "TCP6", "::1" },
		{ "::1", "::1", "v1", "TCP6", "::1" },
		{ "127.0.0.1", "::1", "v2", "TCP4", "127.0.0.1" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint16_t tport, lport = t_free_port();
		int lfd = listen_on(cases[i].target, &tport);
		char extra[64];
		snprintf(extra, sizeof(extra), "proxy_protocol = \"%s\";", cases[i].version);
		struct px p;
		start(&p, cases[i].listen, lport, cases[i].target, tport, extra, NULL);
		int fam = strchr(cases[i].listen, ':') ? AF_INET6 : AF_INET;
		int c = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_storage ss;
		memset(&ss, 0, sizeof(ss));
		socklen_t len;
		if (fam == AF_INET6) {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
			a->sin6_family = AF_INET6;
			a->sin6_port = htons(lport);
			a->sin6_addr = in6addr_loopback;
			len = sizeof(*a);
		} else {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;
			a->sin_family = AF_INET;
			a->sin_port = htons(lport);
			a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			len = sizeof(*a);
		}
		px_assert(&p, connect(c, (struct sockaddr *)&ss, len) == 0, "connect");
		int t = accept_within(lfd, 3000);
		px_assert(&p, t >= 0, "case %zu: nlb did not connect to the target", i);
		struct hdr h;
		px_assert(&p, read_header(t, &h) == 0, "case %zu: no valid header", i);
		cr_expect_str_eq(h.proto, cases[i].proto, "case %zu", i);
		cr_expect_str_eq(h.src, cases[i].addr, "case %zu", i);
		cr_expect_str_eq(h.dst, cases[i].addr, "case %zu", i);
		cr_expect_eq(h.sport, local_port(c), "case %zu", i);
		cr_expect_eq(h.dport, lport, "case %zu", i);
		close(c);
		close(t);
		close(lfd);
		px_stop_ok(&p);
		px_free(&p);
	}
}

/* ---- accepting ---------------------------------------------------------- */

struct acc {
	struct px p;
	int lfd;
	uint16_t lport;
};

/* A listener that accepts PROXY headers (timeout 400 ms) over a target
 * that is sent v1, so the test sees which client address nlb took. */
static void acc_start(struct acc *a, const char *listener_extra)
{
	uint16_t tport;
	a->lport = t_free_port();
	a->lfd = listen_on("127.0.0.1", &tport);
	char extra[256];
	snprintf(extra, sizeof(extra), "accept_proxy_protocol = true;"
		 " proxy_protocol_timeout_ms = 400; %s", listener_extra ? listener_extra : "");
	start(&a->p, "127.0.0.1", a->lport, "127.0.0.1", tport, "proxy_protocol = \"v1\";", extra);
}

/* Sends head then "hello" (in one write, or a byte at a time); expects the
 * target to be sent a header from src:sport to dst:dport, then "hello". */
static void acc_ok(struct acc *a, const void *head, size_t len, bool slow, const char *src,
		   unsigned sport, const char *dst, unsigned dport)
{
	int c = t_connect(a->lport);
	px_assert(&a->p, c >= 0, "connect");
	char msg[512];
	memcpy(msg, head, len);
	memcpy(msg + len, "hello", 5);
	for (size_t off = 0; off < len + 5; off += slow ? 1 : len + 5) {
		px_assert(&a->p, t_write_all(c, msg + off, slow ? 1 : len + 5) == 0, "write");
		if (slow)
			t_sleep_ms(5);
	}
	int t = accept_within(a->lfd, 3000);
	px_assert(&a->p, t >= 0, "nlb did not connect to the target");
	struct hdr h;
	px_assert(&a->p, read_header(t, &h) == 0, "no valid header at the target");
	char expect_src[64];
	snprintf(expect_src, sizeof(expect_src), "%s", src ? src : "127.0.0.1");
	cr_expect_str_eq(h.src, expect_src);
	cr_expect_eq(h.sport, sport ? sport : local_port(c));
	cr_expect_str_eq(h.dst, dst);
	cr_expect_eq(h.dport, dport);
	char buf[5];
	px_assert(&a->p, read_exact(t, buf, 5) && memcmp(buf, "hello", 5) == 0,
		  "the bytes after the header were not forwarded intact");
	close(t);
	t_close(c);
}

/* Sends head (then shuts down writing, if shut) and expects nlb to reset
 * the client without connecting to the target. */
static void acc_refused(struct acc *a, const void *head, size_t len, bool shut)
{
	int c = t_connect(a->lport);
	px_assert(&a->p, c >= 0, "connect");
	if (len)
		px_assert(&a->p, t_write_all(c, head, len) == 0, "write");
	if (shut)
		shutdown(c, SHUT_WR);
	int rc = t_wait_closed(c, 2000);
	px_assert(&a->p, rc == -ECONNRESET, "the client was not reset (%s)", strerror(-rc));
	t_close(c);
	px_assert(&a->p, accept_within(a->lfd, 0) == -ETIMEDOUT, "a refused client reached the target");
}

static void acc_free(struct acc *a)
{
	close(a->lfd);
	px_free(&a->p);
}

static size_t v2_header(uint8_t *b, uint8_t cmd, uint8_t fam, const void *addrs, size_t alen)
{
	static const uint8_t sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
					 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };
	memcpy(b, sig, 12);
	b[12] = cmd;
	b[13] = fam;
	b[14] = (uint8_t)(alen >> 8);
	b[15] = (uint8_t)alen;
	if (alen)
		memcpy(b + 16, addrs, alen);
	return 16 + alen;
}

T_TEST(proxy_header, accepts, .timeout = 30)
{
	struct acc a;
	acc_start(&a, NULL);
	const char *v1 = "PROXY TCP4 192.0.2.7 127.0.0.1 4242 80\r\n";
	acc_ok(&a, v1, strlen(v1), false, "192.0.2.7", 4242, "127.0.0.1", 80);
	acc_ok(&a, v1, strlen(v1), true, "192.0.2.7", 4242, "127.0.0.1", 80);

	uint8_t b[64], addrs[36];
	inet_pton(AF_INET6, "2001:db8::7", addrs);
	inet_pton(AF_INET6, "2001:db8::1", addrs + 16);
	addrs[32] = 4243 >> 8, addrs[33] = 4243 & 255, addrs[34] = 443 >> 8, addrs[35] = 443 & 255;
	size_t n = v2_header(b, 0x21, 0x21, addrs, 36);
	acc_ok(&a, b, n, false, "2001:db8::7", 4243, "2001:db8::1", 443);
	acc_ok(&a, b, n, true, "2001:db8::7", 4243, "2001:db8::1", 443);
	/* LOCAL: the connection's own addresses stand */
	n = v2_header(b, 0x20, 0x00, NULL, 0);
	acc_ok(&a, b, n, false, NULL, 0, "127.0.0.1", a.lport);
	const char *unknown = "PROXY UNKNOWN\r\n";
	acc_ok(&a, unknown, strlen(unknown), false, NULL, 0, "127.0.0.1", a.lport);

	const char *http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	acc_refused(&a, http, strlen(http), false);
	const char *cut = "PROXY TCP4 192.0.2.7 127.0";
	acc_refused(&a, cut, strlen(cut), true);
	const char *badport = "PROXY TCP4 192.0.2.7 127.0.0.1 99999 80\r\n";
	acc_refused(&a, badport, strlen(badport), false);
	n = v2_header(b, 0x21, 0x11, addrs, 8);
	b[14] = 3000 >> 8, b[15] = 3000 & 255;	/* longer than nlb takes */
	acc_refused(&a, b, 16, false);
	acc_refused(&a, "", 0, false);		/* nothing: the timeout */
	acc_refused(&a, "PROXY TCP4", 10, false);	/* a start, then nothing */

	px_stop_ok(&a.p);
	cr_expect_eq(px_stat(&a.p, "proxy_header_invalid"), 4);
	cr_expect_eq(px_stat(&a.p, "proxy_header_timeout"), 2);
	cr_expect_eq(px_stat(&a.p, "accepted"), 12);
	acc_free(&a);
}

/* The allow/deny lists judge the address in the header. */
T_TEST(proxy_header, lists_judge_the_header_address, .timeout = 30)
{
	struct acc a;
	acc_start(&a, "deny = [ \"192.0.2.0/24\" ];");
	const char *ok = "PROXY TCP4 198.51.100.1 127.0.0.1 4242 80\r\n";
	acc_ok(&a, ok, strlen(ok), false, "198.51.100.1", 4242, "127.0.0.1", 80);
	const char *denied = "PROXY TCP4 192.0.2.9 127.0.0.1 4242 80\r\n";
	acc_refused(&a, denied, strlen(denied), false);
	px_stop_ok(&a.p);
	cr_expect_eq(px_stat(&a.p, "acl_denied"), 1);
	acc_free(&a);
}

/* ---- a real peer: NGINX --------------------------------------------------- */

/* NGINX answers with the address and port its PROXY header named; curl
 * from 127.0.0.5 through nlb must be told its own. */
T_TEST(proxy_header, nginx_sees_the_client, .timeout = 60)
{
	uint16_t n1 = t_free_port(), n2 = t_free_port(), l1 = t_free_port(), l2 = t_free_port();
	char servers[256];
	snprintf(servers, sizeof(servers),
		 "  server { listen 127.0.0.1:%u proxy_protocol; listen 127.0.0.1:%u proxy_protocol;\n"
		 "    location / { return 200 \"$proxy_protocol_addr:$proxy_protocol_port\\n\"; } }\n",
		 n1, n2);
	struct t_nginx ng;
	int rc = t_nginx_start(&ng, servers, n2);
	T_ASSERT(rc == 0, ": nginx: %s (make deps installs it)", strerror(-rc));

	char *conf = t_write_config(
		"workers = 1;\n"
		"listeners = ( { name = \"a\"; address = \"127.0.0.1:%u\"; target_group = \"v1\"; },\n"
		"  { name = \"b\"; address = \"127.0.0.1:%u\"; target_group = \"v2\"; } );\n"
		"target_groups = (\n"
		"  { name = \"v1\"; proxy_protocol = \"v1\"; targets = ( { address = \"127.0.0.1:%u\"; } ); },\n"
		"  { name = \"v2\"; proxy_protocol = \"v2\"; targets = ( { address = \"127.0.0.1:%u\"; } ); } );\n",
		l1, l2, n1, n2);
	T_ASSERT(conf);
	struct px p;
	memset(&p, 0, sizeof(p));
	p.conf_path = conf;
	p.conf.listen_port = l2;
	px_spawn(&p, conf);
	uint16_t ports[2] = { l1, l2 };
	for (int i = 0; i < 2; i++) {
		char url[64];
		snprintf(url, sizeof(url), "http://127.0.0.1:%u/", ports[i]);
		const char *curl[] = { "/usr/bin/curl", "-sS", "--max-time", "5", "--interface", "127.0.0.5",
				       "-w", " %{local_port}", url, NULL };
		char *out = NULL;
		rc = t_run(curl, 10000, &out);
		char addr[64] = "";
		unsigned port = 0, local = 0;
		bool parsed = out && sscanf(out, "%63[^:]:%u %u", addr, &port, &local) == 3;
		px_assert(&p, rc == 0 && parsed, "curl through v%d: exit %d, output \"%s\"", i + 1, rc,
			  out ? out : "");
		cr_expect_str_eq(addr, "127.0.0.5", "v%d: NGINX saw %s", i + 1, addr);
		cr_expect_eq(port, local, "v%d: NGINX saw port %u, curl's was %u", i + 1, port, local);
		free(out);
	}
	px_stop_ok(&p);
	px_free(&p);
	t_nginx_free(&ng);
}

/* Health probes send a header only when health_check.proxy_protocol says
 * so, and then the spec's LOCAL form (v2) or UNKNOWN (v1): a probe relays
 * no client. */
T_TEST(proxy_header, health_probes, .timeout = 30)
{
	const struct {
		const char *group;
		const char *expect;
		size_t len;
	} cases[] = {
		{ "proxy_protocol = \"v2\"; health_check = { interval_ms = 100; proxy_protocol = true; };",
		  "\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00", 16 },
		{ "proxy_protocol = \"v1\"; health_check = { interval_ms = 100; proxy_protocol = true; };",
		  "PROXY UNKNOWN\r\n", 15 },
		{ "proxy_protocol = \"v2\"; health_check = { interval_ms = 100; };", "", 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint16_t tport, lport = t_free_port();
		int lfd = listen_on("127.0.0.1", &tport);
		struct px p;
		start(&p, "127.0.0.1", lport, "127.0.0.1", tport, cases[i].group, NULL);
		int t = accept_within(lfd, 3000);
		px_assert(&p, t >= 0, "case %zu: no probe came", i);
		char buf[64];
		ssize_t n = recv(t, buf, sizeof(buf), MSG_WAITALL);
		/* without a header the probe just closes (a FIN or a reset) */
		bool ok = cases[i].len ? n == (ssize_t)cases[i].len &&
					 memcmp(buf, cases[i].expect, cases[i].len) == 0 : n <= 0;
		px_assert(&p, ok,
			  "case %zu: the probe sent %zd bytes, not the %zu expected", i, n, cases[i].len);
		close(t);
		close(lfd);
		px_stop_ok(&p);
		px_free(&p);
	}
}

/* UDP: with v2 every datagram to the target starts with a DGRAM header
 * naming the client and the listener; answers go back without one. */
T_TEST(proxy_header, udp_v2_prefixes_each_datagram, .timeout = 30)
{
	int tfd = t_udp_socket("127.0.0.1");
	T_ASSERT(tfd >= 0);
	uint16_t tport = t_udp_local_port(tfd), lport = t_free_port();
	char *conf = t_write_config(
		"workers = 1;\n"
		"listeners = ( { name = \"u\"; protocol = \"udp\"; address = \"127.0.0.1:%u\";"
		" target_group = \"g\"; } );\n"
		"target_groups = ( { name = \"g\"; proxy_protocol = \"v2\";"
		" targets = ( { address = \"127.0.0.1:%u\"; } ); } );\n", lport, tport);
	T_ASSERT(conf);
	struct px p;
	memset(&p, 0, sizeof(p));
	p.conf_path = conf;
	p.nlb = t_nlb_start(conf);
	T_ASSERT(p.nlb);
	px_assert(&p, t_nlb_log_wait(p.nlb, " running: ", 5000) == 0, "nlb did not start");
	int c = t_udp_socket("127.0.0.5");
	T_ASSERT(c >= 0);
	for (int i = 0; i < 2; i++) {
		char msg[16];
		int len = snprintf(msg, sizeof(msg), "dgram %d", i);
		px_assert(&p, t_udp_send_to(c, "127.0.0.1", lport, msg, (size_t)len) == 0, "send");
		uint8_t b[256];
		struct sockaddr_storage from;
		ssize_t n = t_udp_recv_from(tfd, b, sizeof(b), 2000, &from);
		px_assert(&p, n == 28 + len, "datagram %d reached the target with %zd bytes", i, n);
		static const uint8_t sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
						 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };
		cr_expect(memcmp(b, sig, 12) == 0, "no v2 signature");
		cr_expect_eq(b[12], 0x21, "not PROXY");
		cr_expect_eq(b[13], 0x12, "not AF_INET over DGRAM");
		cr_expect_eq(b[14] << 8 | b[15], 12);
		char src[32], dst[32];
		inet_ntop(AF_INET, b + 16, src, sizeof(src));
		inet_ntop(AF_INET, b + 20, dst, sizeof(dst));
		cr_expect_str_eq(src, "127.0.0.5");
		cr_expect_str_eq(dst, "127.0.0.1");
		cr_expect_eq(b[24] << 8 | b[25], t_udp_local_port(c));
		cr_expect_eq(b[26] << 8 | b[27], lport);
		cr_expect(memcmp(b + 28, msg, (size_t)len) == 0, "the payload after the header changed");
		px_assert(&p, sendto(tfd, "answer", 6, 0, (struct sockaddr *)&from,
				     sizeof(struct sockaddr_in)) == 6, "answer");
		n = t_udp_recv_from(c, b, sizeof(b), 2000, NULL);
		px_assert(&p, n == 6 && memcmp(b, "answer", 6) == 0, "the answer came back as %zd bytes", n);
	}
	close(c);
	close(tfd);
	px_stop_ok(&p);
	px_free(&p);
}
