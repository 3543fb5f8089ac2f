/* Suite "appliance": the real nlb-appliance ($NLB_APPLIANCE) on
 * 127.0.0.1, sent GENEVE packets as nlb's gateway mode sends them (the
 * header written by lib/geneve.c, inner packets built here): allowed
 * packets come back byte for byte to their sender, denied ones and
 * malformed ones do not and are counted, the health port answers, and a
 * bad rule stops it at start with the reason. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "geneve.h"
#include "helpers.h"
#include "helpers/netns.h"
#include "px.h"

TestSuite(appliance, .init = t_setup, .fini = t_teardown);

static const char *appliance_bin(void)
{
	const char *b = getenv("NLB_APPLIANCE");
	T_ASSERT(b && access(b, X_OK) == 0, ": NLB_APPLIANCE is not set (run through make test)");
	return b;
}

struct app {
	struct t_nlb *proc;
	uint16_t port, health;
};

static void app_start(struct app *a, const char *const *rules)
{
	a->port = t_free_port();
	a->health = t_free_port();
	char l[32], h[32];
	snprintf(l, sizeof(l), "127.0.0.1:%u", a->port);
	snprintf(h, sizeof(h), "127.0.0.1:%u", a->health);
	const char *argv[32] = { appliance_bin(), "-l", l, "-H", h, "-n", "a1" };
	int n = 7;
	for (; rules && *rules && n < 29; rules++) {
		argv[n++] = "-r";
		argv[n++] = *rules;
	}
	argv[n] = NULL;
	a->proc = t_spawn(argv, NULL);
	T_ASSERT(a->proc);
	T_ASSERT(t_nlb_log_wait(a->proc, "GENEVE on", 5000) == 0, ": nlb-appliance did not start");
}

/* The appliance's counters page (malloc'd). */
static char *app_counters(struct app *a)
{
	char url[64], *out = NULL;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", a->health);
	const char *args[] = { "-f", url, NULL };
	int rc = px_curl(&out, args);
	cr_assert_eq(rc, 0, "GET %s: curl exit %d: %s", url, rc, out ? out : "");
	return out;
}

static uint64_t counter(const char *page, const char *key)
{
	char k[64];
	snprintf(k, sizeof(k), " %s=", key);
	const char *p = strstr(page, k);
	return p ? strtoull(p + strlen(k), NULL, 10) : UINT64_MAX;
}

/* An IPv4 packet 10.0.0.1 -> 10.0.0.2 of proto with ports (TCP: a SYN;
 * UDP: payload "hi"; ICMP: an echo request), into out; its length. */
static size_t ipv4(uint8_t *out, int proto, uint16_t sport, uint16_t dport)
{
	size_t l4 = proto == IPPROTO_TCP ? 20 : proto == IPPROTO_UDP ? 10 : 8;
	memset(out, 0, 20 + l4);
	out[0] = 0x45;
	out[2] = (uint8_t)((20 + l4) >> 8);
	out[3] = (uint8_t)(20 + l4);
	out[6] = 0x40;		/* DF */
	out[8] = 64;
	out[9] = (uint8_t)proto;
	memcpy(out + 12, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
	uint16_t c = t_inet_checksum(out, 20);
	out[10] = (uint8_t)(c >> 8);
	out[11] = (uint8_t)c;
	uint8_t *t = out + 20;
	if (proto == IPPROTO_ICMP) {
		t[0] = 8;
		c = t_inet_checksum(t, l4);
		t[2] = (uint8_t)(c >> 8);
		t[3] = (uint8_t)c;
	} else {
		t[0] = (uint8_t)(sport >> 8);
		t[1] = (uint8_t)sport;
		t[2] = (uint8_t)(dport >> 8);
		t[3] = (uint8_t)dport;
		if (proto == IPPROTO_TCP) {
			t[12] = 0x50;
			t[13] = 0x02;
		} else {
			t[5] = 10;
			t[8] = 'h';
			t[9] = 'i';
		}
	}
	return 20 + l4;
}

/* GENEVE around an inner packet, the cookie being cookie. */
static size_t geneve(uint8_t *out, const uint8_t *inner, size_t len, uint32_t cookie)
{
	struct nlb_geneve_aws g = { NLB_GENEVE_PROTO_IPV4, 0x0123456789abcdefull, 1, cookie };
	nlb_geneve_write(out, &g);
	memcpy(out + NLB_GENEVE_AWS_LEN, inner, len);
	return NLB_GENEVE_AWS_LEN + len;
}

static int udp_to(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	T_ASSERT(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	return fd;
}

/* What comes back within ms, or -ETIMEDOUT. */
static ssize_t back(int fd, uint8_t *buf, size_t cap, int ms)
{
	struct pollfd p = { fd, POLLIN, 0 };
	if (poll(&p, 1, ms) != 1)
		return -ETIMEDOUT;
	return recv(fd, buf, cap, 0);
}

T_TEST(appliance, returns_allowed_drops_denied, .timeout = 30)
{
	struct app a;
	static const char *const rules[] = { "deny tcp dport 23", "deny udp dport 9-10", NULL };
	app_start(&a, rules);
	int fd = udp_to(a.port);
	uint8_t inner[64], pkt[256], got[512];
	struct {
		int proto;
		uint16_t dport;
		bool returned;
	} c[] = {
		{ IPPROTO_TCP, 80, true }, { IPPROTO_TCP, 23, false }, { IPPROTO_UDP, 53, true },
		{ IPPROTO_UDP, 9, false }, { IPPROTO_UDP, 10, false }, { IPPROTO_ICMP, 0, true },
	};
	unsigned want_returned = 0, want_denied = 0;
	for (size_t i = 0; i < sizeof(c) / sizeof(*c); i++) {
		size_t n = geneve(pkt, inner, ipv4(inner, c[i].proto, 40000, c[i].dport),
				  0x1000u + (uint32_t)i);
		cr_assert_eq(send(fd, pkt, n, 0), (ssize_t)n);
		ssize_t r = back(fd, got, sizeof(got), c[i].returned ? 2000 : 200);
		if (c[i].returned) {
			want_returned++;
			cr_expect_eq(r, (ssize_t)n, "case %zu: %zd bytes back", i, r);
			cr_expect(r == (ssize_t)n && memcmp(got, pkt, n) == 0,
				  "case %zu: not the same bytes", i);
		} else {
			want_denied++;
			cr_expect_eq(r, -ETIMEDOUT, "case %zu: a denied packet came back", i);
		}
	}
	/* not GENEVE, a GENEVE header over a broken IP packet */
	cr_assert_eq(send(fd, "hello", 5, 0), 5);
	size_t n = geneve(pkt, (const uint8_t *)"\x45\x00\x00\xff", 4, 7);
	cr_assert_eq(send(fd, pkt, n, 0), (ssize_t)n);
	cr_expect_eq(back(fd, got, sizeof(got), 200), -ETIMEDOUT);
	char *page = app_counters(&a);
	cr_expect_eq(counter(page, "received"), sizeof(c) / sizeof(*c) + 2, "%s", page);
	cr_expect_eq(counter(page, "returned"), want_returned, "%s", page);
	cr_expect_eq(counter(page, "denied"), want_denied, "%s", page);
	cr_expect_eq(counter(page, "bad_geneve"), 1, "%s", page);
	cr_expect_eq(counter(page, "bad_ip"), 1, "%s", page);
	cr_expect(strstr(page, "rule=\"deny tcp dport 23\" matched=1\n"), "%s", page);
	cr_expect(strstr(page, "rule=\"deny udp dport 9-10\" matched=2\n"), "%s", page);
	free(page);
	close(fd);
	cr_expect_eq(t_nlb_stop(a.proc, 5000), 0);
	cr_expect(t_nlb_log_contains(a.proc, "name=a1 received=8 returned=3 denied=3"));
	t_nlb_free(a.proc);
}

/* Returns go to whoever sent: two senders, each gets its own packets. */
T_TEST(appliance, answers_each_sender, .timeout = 30)
{
	struct app a;
	app_start(&a, NULL);
	int s1 = udp_to(a.port), s2 = udp_to(a.port);
	uint8_t inner[64], p1[256], p2[256], got[512];
	size_t n1 = geneve(p1, inner, ipv4(inner, IPPROTO_UDP, 1111, 53), 1);
	size_t n2 = geneve(p2, inner, ipv4(inner, IPPROTO_UDP, 2222, 53), 2);
	for (int k = 0; k < 50; k++) {
		cr_assert_eq(send(s1, p1, n1, 0), (ssize_t)n1);
		cr_assert_eq(send(s2, p2, n2, 0), (ssize_t)n2);
	}
	for (int k = 0; k < 50; k++) {
		cr_assert_eq(back(s1, got, sizeof(got), 2000), (ssize_t)n1);
		cr_assert_eq(memcmp(got, p1, n1), 0);
		cr_assert_eq(back(s2, got, sizeof(got), 2000), (ssize_t)n2);
		cr_assert_eq(memcmp(got, p2, n2), 0);
	}
	close(s1);
	close(s2);
	t_nlb_stop(a.proc, 5000);
	t_nlb_free(a.proc);
}

T_TEST(appliance, a_bad_rule_stops_it_at_start, .timeout = 10)
{
	const char *argv[] = { appliance_bin(), "-l", "127.0.0.1:1", "-H", "none", "-r",
			       "deny tcp dport 99999", NULL };
	char *out = NULL;
	int rc = t_run(argv, 5000, &out);
	cr_expect_eq(rc, 2, "exit %d", rc);
	cr_expect(out && strstr(out, "-r: \"deny tcp dport 99999\": a port is N or N-M"), "%s",
		  out ? out : "");
	free(out);
}
