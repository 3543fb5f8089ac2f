/* Suite "gateway": gateway mode end to end (doc/gateway.md): the real nlb
 * on the TUN device of the namespace lab (test/helpers/gateway_lab.h),
 * between a client and a server, with appliances in their own
 * namespace: either real nlb-appliance processes, or two appliances this
 * test plays itself (sockets in the appliances' namespace that decode
 * every GENEVE header, note which appliance saw which direction of which
 * flow and send the packet back).  Ping, TCP and UDP over IPv4 and IPv6
 * through an appliance and back; the header byte for byte; both
 * directions of a flow on one appliance; 2-tuple stickiness; a deny rule
 * on every appliance; returns that cross workers; forged returns dropped
 * and counted; idle flows forgotten; failover with and without
 * rebalancing; 10,500 flows; 8 MiB each way in full-size packets; path
 * MTU discovery; a gateway added and removed by reload; ICMP errors with
 * the flow they quote; returns from the wrong appliance dropped; the
 * deregistration delay.
 *
 * Needs root; addresses exist only inside the lab's namespaces. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "geneve.h"
#include "helpers.h"
#include "helpers/gateway_lab.h"
#include "helpers/netns.h"
#include "ip_packet.h"
#include "udp_batch.h"
#include "gwx.h"
#include "px.h"

TestSuite(gateway, .init = t_setup, .fini = t_teardown, .timeout = 60);

#define ECHO_PORT 9000
#define ENDPOINT 0x0123456789abcdefull
#define ATTACHMENT 0x1ull

struct gw {
	struct t_gwlab lab;
	struct t_nlb *nlb, *server, *server6;
	char *conf;
	char sock[96];
	uint16_t geneve_port;
	unsigned workers;	/* nlb's; 2 unless a test says */
};

static void gw_lab(struct gw *g)
{
	memset(g, 0, sizeof(*g));
	int rc = t_gwlab_up(&g->lab, T_GWLAB_GATEWAY);
	T_ASSERT(rc == 0, ": %s", t_netns_err());
	g->geneve_port = 6081;
	snprintf(g->sock, sizeof(g->sock), "/tmp/nlb-gw-%d.sock", (int)getpid());
}

/* The configuration of nlb in the lab: two workers (or g->workers), its
 * admin socket at sock, one gateway on nlbgw0 over the appliances at
 * 10.10.3.2 and .3, with gateway_extra in the gateway's keys and
 * group_extra in the group's.  Its path (t_file_remove it). */
static char *gw_config(const struct gw *g, const char *sock, const char *gateway_extra,
		       const char *group_extra)
{
	char *conf = t_write_config(
		"workers = %u;\nlog_level = \"info\";\n"
		"admin = { socket = \"%s\"; };\n"
		"gateways = ( { name = \"inspect\"; tun = \"%s\"; address = \"%s:%u\";\n"
		"  target_group = \"fw\"; endpoint_id = \"0x0123456789abcdef\"; attachment_id = \"0x1\";\n"
		"  %s } );\n"
		"target_groups = ( { name = \"fw\"; protocol = \"geneve\"; %s\n"
		"  targets = ( { address = \"%s:%u\"; }, { address = \"%s:%u\"; } ); } );\n",
		g->workers ? g->workers : 2, sock, T_GWLAB_TUN, T_GWLAB_GW_APPL4, g->geneve_port,
		gateway_extra ? gateway_extra : "", group_extra ? group_extra : "",
		T_GWLAB_APPL4_1, g->geneve_port, T_GWLAB_APPL4_2, g->geneve_port);
	T_ASSERT(conf);
	return conf;
}

/* nlb started in gw on conf, once it says it runs. */
static struct t_nlb *gw_spawn(struct gw *g, const char *conf)
{
	const char *argv[] = { t_nlb_bin(), "-c", conf, NULL };
	struct t_nlb *n = t_netns_spawn(g->lab.gw, argv);
	T_ASSERT(n, ": %s", t_netns_err());
	if (t_nlb_log_wait(n, " running: ", 10000) != 0) {
		t_nlb_dump_log(n, "nlb did not start");
		T_ASSERT(false, ": nlb did not start in the gateway namespace");
	}
	return n;
}

/* nlb (gw_config) and the echo servers. */
static void gw_start(struct gw *g, const char *gateway_extra, const char *group_extra)
{
	g->conf = gw_config(g, g->sock, gateway_extra, group_extra);
	g->nlb = gw_spawn(g, g->conf);
	g->server = gwx_serve(g->lab.server, T_GWLAB_SERVER4 ":9000", "--tcp-udp");
	g->server6 = gwx_serve(g->lab.server, "[" T_GWLAB_SERVER6 "]:9000", "--tcp-udp");
}

static int64_t gw_stat(struct gw *g, const char *key)
{
	int64_t v = -1;
	int rc = t_admin_stat(g->sock, key, &v);
	cr_assert_eq(rc, 0, "show stats %s: %s", key, strerror(-rc));
	return v;
}

static void gw_stop(struct gw *g)
{
	t_nlb_stop(g->server, 5000);
	t_nlb_free(g->server);
	t_nlb_stop(g->server6, 5000);
	t_nlb_free(g->server6);
	int rc = t_nlb_stop(g->nlb, 10000);
	if (rc != 0)
		t_nlb_dump_log(g->nlb, "nlb did not exit 0");
	cr_expect_eq(rc, 0, "nlb exit %d", rc);
	t_nlb_free(g->nlb);
	t_file_remove(g->conf);
	unlink(g->sock);
	t_gwlab_down(&g->lab);
}

/* ---- the appliances, played by this test ------------------------------ */

#define FLOWS_MAX 4096

/* What the test's appliances saw: per flow (its key under 5-tuple),
 * which appliance took each direction; and every header's fields. */
struct seen {
	struct nlb_tuple key;
	int appliance[2];	/* by direction: 0 the lower side's sending, 1 the other */
};

struct fake {
	int fd[2];
	pthread_t th;
	atomic_bool stop;
	pthread_mutex_t mu;
	struct seen flows[FLOWS_MAX];
	unsigned n_flows;
	uint64_t packets[2];
	uint64_t bad_header;	/* a header other than nlb's, decoded here */
	unsigned cookie_workers;	/* a bit per worker byte seen in cookies */
	bool split;		/* a flow seen at both appliances */
	bool drop;		/* return nothing */
	bool swap;		/* return each packet from the other appliance */
	bool gso_mix;		/* return what came within 50 ms as one GSO send per
				 * appliance, flows of every worker mixed */
};

/* The header as RFC 8926 lays it out, read here byte by byte: true
 * when it is exactly what nlb writes. */
static bool header_exact(const uint8_t *p, size_t len, uint32_t *cookie)
{
	static const uint8_t opt1[4] = { 0x01, 0x08, 0x01, 0x02 };
	static const uint8_t opt2[4] = { 0x01, 0x08, 0x02, 0x02 };
	static const uint8_t opt3[4] = { 0x01, 0x08, 0x03, 0x01 };
	static const uint8_t endpoint[8] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef };
	static const uint8_t attachment[8] = { 0, 0, 0, 0, 0, 0, 0, 1 };
	if (len < 40 || p[0] != 0x08 || p[1] != 0 || p[4] || p[5] || p[6] || p[7])
		return false;
	uint16_t proto = (uint16_t)(p[2] << 8 | p[3]);
	if (proto != 0x0800 && proto != 0x86dd)
		return false;
	if ((proto == 0x0800) != ((p[40] >> 4) == 4))
		return false;
	if (memcmp(p + 8, opt1, 4) || memcmp(p + 12, endpoint, 8) || memcmp(p + 20, opt2, 4) ||
	    memcmp(p + 24, attachment, 8) || memcmp(p + 32, opt3, 4))
		return false;
	*cookie = (uint32_t)p[36] << 24 | (uint32_t)p[37] << 16 | (uint32_t)p[38] << 8 | p[39];
	return true;
}

static void note(struct fake *f, int a, const uint8_t *p, size_t len)
{
	uint32_t cookie;
	struct nlb_ip_packet pkt;
	if (!header_exact(p, len, &cookie) || nlb_ip_packet_parse(p + 40, len - 40, &pkt) < 0) {
		f->bad_header++;
		return;
	}
	f->cookie_workers |= 1u << (cookie >> 24 & 7);
	struct nlb_tuple key;
	nlb_ip_flow_key(&pkt, NLB_GW_STICKY_5TUPLE, &key);
	int dir = memcmp(&key.src, &pkt.flow.src, 16) == 0 && key.sport == pkt.flow.sport ? 0 : 1;
	if (pkt.icmp_error)
		dir = !dir;	/* it travels against the packet it quotes */
	unsigned i;
	for (i = 0; i < f->n_flows; i++)
		if (memcmp(&f->flows[i].key, &key, sizeof(key)) == 0)
			break;
	if (i == f->n_flows) {
		if (f->n_flows == FLOWS_MAX)
			return;
		f->flows[i].key = key;
		f->flows[i].appliance[0] = f->flows[i].appliance[1] = -1;
		f->n_flows++;
	}
	struct seen *s = &f->flows[i];
	for (int d = 0; d < 2; d++)
		if (s->appliance[d] >= 0 && s->appliance[d] != a)
			f->split = true;
	s->appliance[dir] = a;
	f->packets[a]++;
}

/* gso_mix: datagrams of equal length held per appliance, then sent back
 * to their sender as one GSO send (segments of one size), which the
 * kernel steers whole by its first packet's cookie. */
#define MIX_MAX 64
struct mix {
	uint8_t pkt[MIX_MAX][512];
	size_t len[MIX_MAX];
	unsigned n;
	struct sockaddr_storage to;
	socklen_t to_len;
};

static void mix_flush(int fd, struct mix *m)
{
	if (!m->n)
		return;
	struct iovec iov[MIX_MAX];
	for (unsigned i = 0; i < m->n; i++)
		iov[i] = (struct iovec){ m->pkt[i], m->len[i] };
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} ctl;
	struct msghdr msg = { .msg_name = &m->to, .msg_namelen = m->to_len, .msg_iov = iov,
			      .msg_iovlen = m->n };
	if (m->n > 1) {
		uint16_t seg = (uint16_t)m->len[0];
		size_t off = 0;
		nlb_cmsg_put(ctl.buf, &off, SOL_UDP, UDP_SEGMENT, &seg, sizeof(seg));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = off;
	}
	cr_expect_geq(sendmsg(fd, &msg, 0), 0, "the mixed GSO send: %s", strerror(errno));
	m->n = 0;
}

static void *fake_mix_run(struct fake *f)
{
	static struct mix mix[2];
	int64_t first = 0;
	while (!atomic_load(&f->stop)) {
		struct pollfd p[2] = { { f->fd[0], POLLIN, 0 }, { f->fd[1], POLLIN, 0 } };
		poll(p, 2, 10);
		for (int a = 0; a < 2; a++) {
			struct mix *m = &mix[a];
			while (m->n < MIX_MAX) {
				m->to_len = sizeof(m->to);
				ssize_t n = recvfrom(f->fd[a], m->pkt[m->n], sizeof(m->pkt[0]),
						     MSG_DONTWAIT, (struct sockaddr *)&m->to, &m->to_len);
				if (n <= 0)
					break;
				/* one size per send: another size goes alone */
				if (m->n && (size_t)n != m->len[0]) {
					uint8_t keep[512];
					memcpy(keep, m->pkt[m->n], (size_t)n);
					mix_flush(f->fd[a], m);
					memcpy(m->pkt[0], keep, (size_t)n);
				}
				pthread_mutex_lock(&f->mu);
				note(f, a, m->pkt[m->n], (size_t)n);
				pthread_mutex_unlock(&f->mu);
				m->len[m->n++] = (size_t)n;
				if (!first)
					first = t_now_ms();
			}
		}
		if (first && (t_now_ms() - first >= 50 || mix[0].n == MIX_MAX || mix[1].n == MIX_MAX)) {
			for (int a = 0; a < 2; a++)
				mix_flush(f->fd[a], &mix[a]);
			first = 0;
		}
	}
	return NULL;
}

static void *fake_run(void *arg)
{
	struct fake *f = arg;
	static uint8_t buf[9300];
	if (f->gso_mix)
		return fake_mix_run(f);
	while (!atomic_load(&f->stop)) {
		struct pollfd p[2] = { { f->fd[0], POLLIN, 0 }, { f->fd[1], POLLIN, 0 } };
		if (poll(p, 2, 50) <= 0)
			continue;
		for (int a = 0; a < 2; a++) {
			if (!(p[a].revents & POLLIN))
				continue;
			struct sockaddr_storage from;
			socklen_t fl = sizeof(from);
			ssize_t n = recvfrom(f->fd[a], buf, sizeof(buf), MSG_DONTWAIT,
					     (struct sockaddr *)&from, &fl);
			if (n <= 0)
				continue;
			pthread_mutex_lock(&f->mu);
			note(f, a, buf, (size_t)n);
			bool drop = f->drop, swap = f->swap;
			pthread_mutex_unlock(&f->mu);
			if (!drop)
				sendto(f->fd[swap ? !a : a], buf, (size_t)n, 0, (struct sockaddr *)&from,
				       fl);
		}
	}
	return NULL;
}

static int udp_bound(const struct t_netns *ns, const char *addr, uint16_t port)
{
	int fd = t_netns_socket(ns, AF_INET, SOCK_DGRAM, 0);
	T_ASSERT(fd >= 0, ": %s", t_netns_err());
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	inet_pton(AF_INET, addr, &sa.sin_addr);
	T_ASSERT(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, ": bind %s:%u: %s", addr, port,
		 strerror(errno));
	return fd;
}

static void fake_start_mixing(struct fake *f, const struct gw *g, bool gso_mix)
{
	memset(f, 0, sizeof(*f));
	f->gso_mix = gso_mix;
	pthread_mutex_init(&f->mu, NULL);
	f->fd[0] = udp_bound(g->lab.appl, T_GWLAB_APPL4_1, g->geneve_port);
	f->fd[1] = udp_bound(g->lab.appl, T_GWLAB_APPL4_2, g->geneve_port);
	T_ASSERT(pthread_create(&f->th, NULL, fake_run, f) == 0);
}

static void fake_start(struct fake *f, const struct gw *g)
{
	fake_start_mixing(f, g, false);
}

static void fake_stop(struct fake *f)
{
	atomic_store(&f->stop, true);
	pthread_join(f->th, NULL);
	close(f->fd[0]);
	close(f->fd[1]);
}

/* n TCP round trips from the client, each on a connection of its own. */
static void tcp_flows_ok(struct gw *g, const char *addr, int n)
{
	for (int i = 0; i < n; i++)
		gwx_tcp_echo_ok(g->lab.client, addr, ECHO_PORT);
}

static const char *appliance_bin(void)
{
	const char *b = getenv("NLB_APPLIANCE");
	T_ASSERT(b && access(b, X_OK) == 0, ": NLB_APPLIANCE is not set (run through make test)");
	return b;
}

/* nlb-appliance on addr:6081 in the appliances' namespace, health on
 * addr:80, denying telnet; its rules for the echo server's port, which
 * allow as no rule would, count that traffic apart from the rest (the
 * gateway host's own IPv6 multicast reports on the device, say). */
static struct t_nlb *real_appliance(struct gw *g, const char *addr, const char *name)
{
	char l[40], h[40];
	snprintf(l, sizeof(l), "%s:%u", addr, g->geneve_port);
	snprintf(h, sizeof(h), "%s:80", addr);
	const char *argv[] = { appliance_bin(), "-l", l, "-H", h, "-n", name,
			       "-r", "deny tcp dport 23", "-r", "allow tcp dport 9000",
			       "-r", "allow tcp sport 9000", NULL };
	struct t_nlb *a = t_netns_spawn(g->lab.appl, argv);
	T_ASSERT(a, ": %s", t_netns_err());
	T_ASSERT(t_nlb_log_wait(a, "GENEVE on", 5000) == 0, ": nlb-appliance did not start");
	return a;
}

/* The two nlb-appliances of the lab, a1 and a2, and their end. */
static void real_appliances(struct gw *g, struct t_nlb *a[2])
{
	a[0] = real_appliance(g, T_GWLAB_APPL4_1, "a1");
	a[1] = real_appliance(g, T_GWLAB_APPL4_2, "a2");
}

/* Waits until nlb n has found appliance a2 healthy (its first check). */
static void appliance2_healthy(struct t_nlb *n)
{
	T_ASSERT(t_nlb_log_wait(n, T_GWLAB_APPL4_2 ":6081 in group fw: initial -> healthy",
				5000) == 0);
}

/* The lab with the two nlb-appliances, nlb health-checking them outside
 * GENEVE (TCP on port 80) and the echo servers, once a2 is healthy. */
static void gw_start_real(struct gw *g, struct t_nlb *a[2])
{
	gw_lab(g);
	real_appliances(g, a);
	gw_start(g, NULL, "health_check = { protocol = \"tcp\"; port = 80; interval_ms = 200;"
		 " healthy_threshold = 1; };");
	appliance2_healthy(g->nlb);
}

static void appliances_stop(struct t_nlb *a[2])
{
	for (int i = 0; i < 2; i++) {
		t_nlb_stop(a[i], 5000);
		t_nlb_free(a[i]);
	}
}

/* len bytes of pattern seed to the echo server (at server, its IPv4 or
 * IPv6 address) and back on a TCP connection from the client, every
 * byte checked. */
static void bulk_to(struct gw *g, const char *server, uint64_t len, uint64_t seed)
{
	int fd = gwx_connect(g->lab.client, SOCK_STREAM, server, ECHO_PORT);
	struct t_bulk_result r = { 0 };
	int rc = t_bulk(fd, len, seed, true, 30000, &r);
	close(fd);
	cr_expect_eq(rc, 0, "bulk: %s after %llu sent, %llu received", strerror(-rc),
		     (unsigned long long)r.sent, (unsigned long long)r.received);
	cr_expect_eq(r.received, len);
	cr_expect_eq(r.sum, t_pattern_sum(seed, len), "the bytes came back changed");
}

static void bulk_ok(struct gw *g, uint64_t len, uint64_t seed)
{
	bulk_to(g, T_GWLAB_SERVER4, len, seed);
}

/* An appliance's counter, from its health port through curl in gw. */
static uint64_t appliance_counter(struct gw *g, const char *addr, const char *key)
{
	char url[64], *out = NULL, k[40];
	snprintf(url, sizeof(url), "http://%s:80/", addr);
	const char *argv[] = { "curl", "-sS", "--max-time", "5", url, NULL };
	int rc = t_netns_run(g->lab.gw, argv, 10000, &out);
	cr_assert_eq(rc, 0, "curl %s: %s", url, out ? out : "");
	snprintf(k, sizeof(k), " %s=", key);
	const char *p = strstr(out, k);
	uint64_t v = p ? strtoull(p + strlen(k), NULL, 10) : UINT64_MAX;
	free(out);
	return v;
}

/* Packets of the echo server's TCP flows an appliance saw, both ways:
 * its two rules for port 9000. */
static uint64_t appliance_echo_packets(struct gw *g, const char *addr)
{
	char url[64], *out = NULL;
	snprintf(url, sizeof(url), "http://%s:80/", addr);
	const char *argv[] = { "curl", "-sS", "--max-time", "5", url, NULL };
	int rc = t_netns_run(g->lab.gw, argv, 10000, &out);
	cr_assert_eq(rc, 0, "curl %s: %s", url, out ? out : "");
	uint64_t n = 0;
	static const char *const rules[] = { "rule=\"allow tcp dport 9000\" matched=",
					     "rule=\"allow tcp sport 9000\" matched=" };
	for (int i = 0; i < 2; i++) {
		const char *p = strstr(out, rules[i]);
		cr_assert(p, "%s: no %s", url, rules[i]);
		n += strtoull(p + strlen(rules[i]), NULL, 10);
	}
	free(out);
	return n;
}

/* The worked example with nlb-appliance: ping, TCP and UDP over
 * IPv4 and IPv6 through an appliance and back, health-checked outside
 * GENEVE; telnet denied by every appliance (its SYN never reaches the
 * server, which would refuse it at once). */
T_TEST(gateway, through_nlb_appliance_both_families)
{
	struct gw g;
	struct t_nlb *a[2];
	gw_start_real(&g, a);
	cr_assert_eq(t_netns_ping(g.lab.client, T_GWLAB_SERVER4, 3000), 0, "%s", t_netns_err());
	cr_assert_eq(t_netns_ping(g.lab.client, T_GWLAB_SERVER6, 3000), 0, "%s", t_netns_err());
	cr_assert_eq(t_netns_ping(g.lab.server, T_GWLAB_CLIENT4, 3000), 0, "%s", t_netns_err());
	tcp_flows_ok(&g, T_GWLAB_SERVER4, 8);
	tcp_flows_ok(&g, T_GWLAB_SERVER6, 8);
	gwx_udp_echo_ok(g.lab.client, T_GWLAB_SERVER4, ECHO_PORT);
	gwx_udp_echo_ok(g.lab.client, T_GWLAB_SERVER6, ECHO_PORT);
	/* telnet: dropped by the appliance, so the connect times out */
	int fd = t_netns_socket(g.lab.client, AF_INET, SOCK_STREAM, 0);
	struct timeval tv = { 1, 0 };
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(23) };
	inet_pton(AF_INET, T_GWLAB_SERVER4, &sa.sin_addr);
	int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	int e = errno;
	close(fd);
	cr_expect(rc < 0 && (e == EINPROGRESS || e == ETIMEDOUT || e == EAGAIN),
		  "telnet: %s (refused would mean the SYN got through)", rc ? strerror(e) : "connected");
	uint64_t denied = appliance_counter(&g, T_GWLAB_APPL4_1, "denied") +
			  appliance_counter(&g, T_GWLAB_APPL4_2, "denied");
	uint64_t returned = appliance_counter(&g, T_GWLAB_APPL4_1, "returned") +
			    appliance_counter(&g, T_GWLAB_APPL4_2, "returned");
	cr_expect_geq(denied, 1, "the telnet SYN was denied");
	cr_expect_geq(returned, 40, "returned %llu", (unsigned long long)returned);
	cr_expect_eq(gw_stat(&g, "gw_returned"), (int64_t)returned, "what the appliances "
		     "returned, nlb wrote to the TUN");
	cr_expect_geq(gw_stat(&g, "gw_flows"), 20);
	cr_expect_eq(gw_stat(&g, "gw_unknown_flow"), 0);
	cr_expect_eq(gw_stat(&g, "gw_wrong_appliance"), 0);
	cr_expect_eq(gw_stat(&g, "gw_bad_geneve"), 0);
	appliances_stop(a);
	gw_stop(&g);
}

/* The appliances played here: every header is nlb's to the byte, both
 * directions of every flow reach one appliance, flows of both workers
 * (their cookies name them) come back to their owner, 40 connections all
 * succeed, and both appliances take flows. */
T_TEST(gateway, header_exact_flows_symmetric_returns_reach_their_worker)
{
	struct gw g;
	gw_lab(&g);
	struct fake f;
	fake_start(&f, &g);
	gw_start(&g, NULL, NULL);
	tcp_flows_ok(&g, T_GWLAB_SERVER4, 40);
	tcp_flows_ok(&g, T_GWLAB_SERVER6, 10);
	cr_assert_eq(t_netns_ping(g.lab.client, T_GWLAB_SERVER4, 3000), 0, "%s", t_netns_err());
	gwx_udp_echo_ok(g.lab.client, T_GWLAB_SERVER4, ECHO_PORT);
	pthread_mutex_lock(&f.mu);
	unsigned flows = f.n_flows, workers = f.cookie_workers;
	bool split = f.split;
	uint64_t bad = f.bad_header, p0 = f.packets[0], p1 = f.packets[1];
	unsigned both = 0;
	unsigned tcp = 0;
	for (unsigned i = 0; i < f.n_flows; i++) {
		if (f.flows[i].key.proto != IPPROTO_TCP)
			continue;	/* gw's own MLD reports on the TUN go one way */
		tcp++;
		both += f.flows[i].appliance[0] >= 0 && f.flows[i].appliance[1] >= 0;
	}
	pthread_mutex_unlock(&f.mu);
	cr_expect_eq(bad, 0, "%llu headers not nlb's to the byte", (unsigned long long)bad);
	cr_expect_geq(flows, 52, "flows seen: %u", flows);
	cr_expect_eq(tcp, 50, "TCP flows seen: %u", tcp);
	cr_expect_eq(both, tcp, "TCP flows seen both ways: %u of %u", both, tcp);
	cr_expect(!split, "a flow's directions reached different appliances");
	cr_expect(p0 > 0 && p1 > 0, "both appliances take flows: %llu and %llu",
		  (unsigned long long)p0, (unsigned long long)p1);
	cr_expect_eq(workers, 3u, "cookies of both workers (bits %#x): returns cross workers",
		     workers);
	cr_expect_eq(gw_stat(&g, "gw_unknown_flow"), 0);
	cr_expect_eq(gw_stat(&g, "gw_wrong_appliance"), 0);
	gw_stop(&g);
	fake_stop(&f);
}

/* 2-tuple stickiness: every flow between the two hosts, TCP, UDP and
 * ICMP, goes through one appliance. */
T_TEST(gateway, two_tuple_keeps_a_pair_of_hosts_on_one_appliance)
{
	struct gw g;
	gw_lab(&g);
	struct fake f;
	fake_start(&f, &g);
	gw_start(&g, "stickiness = \"2tuple\";", NULL);
	tcp_flows_ok(&g, T_GWLAB_SERVER4, 20);
	gwx_udp_echo_ok(g.lab.client, T_GWLAB_SERVER4, ECHO_PORT);
	cr_assert_eq(t_netns_ping(g.lab.client, T_GWLAB_SERVER4, 3000), 0, "%s", t_netns_err());
	uint8_t c[16] = { [10] = 0xff, [11] = 0xff }, sv[16] = { [10] = 0xff, [11] = 0xff };
	inet_pton(AF_INET, T_GWLAB_CLIENT4, c + 12);
	inet_pton(AF_INET, T_GWLAB_SERVER4, sv + 12);
	unsigned used = 0, pair_flows = 0;
	pthread_mutex_lock(&f.mu);
	for (unsigned i = 0; i < f.n_flows; i++) {
		const struct seen *x = &f.flows[i];
		bool pair = (!memcmp(x->key.src, c, 16) && !memcmp(x->key.dst, sv, 16)) ||
			    (!memcmp(x->key.src, sv, 16) && !memcmp(x->key.dst, c, 16));
		if (!pair)
			continue;	/* gw's own MLD reports on the TUN */
		pair_flows++;
		for (int d = 0; d < 2; d++)
			if (x->appliance[d] >= 0)
				used |= 1u << x->appliance[d];
	}
	pthread_mutex_unlock(&f.mu);
	cr_expect_geq(pair_flows, 22, "the pair's flows (5-tuple, as seen): %u", pair_flows);
	cr_expect(used == 1 || used == 2, "one appliance for the pair, not both (mask %#x)", used);
	gw_stop(&g);
	fake_stop(&f);
}

/* Returns nlb did not send: a header that is not nlb's, a cookie no
 * flow has, and a flow's packet from an address that is not its
 * appliance; each dropped and counted, nothing written to the TUN. */
T_TEST(gateway, forged_returns_are_dropped_and_counted)
{
	struct gw g;
	gw_lab(&g);
	struct fake f;
	fake_start(&f, &g);
	gw_start(&g, NULL, NULL);
	gwx_udp_echo_ok(g.lab.client, T_GWLAB_SERVER4, ECHO_PORT);
	/* The echo may have been sent more than once (gwx_udp_ask repeats
	 * it every 500 ms until an answer): the count is taken once the
	 * late answers have come too, 700 ms without a change. */
	int64_t returned = gw_stat(&g, "gw_returned"), was;
	do {
		was = returned;
		t_sleep_ms(700);
		returned = gw_stat(&g, "gw_returned");
	} while (returned != was);
	int fd = udp_bound(g.lab.appl, T_GWLAB_APPL4_1, 7000);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(g.geneve_port) };
	inet_pton(AF_INET, T_GWLAB_GW_APPL4, &to.sin_addr);
	/* not GENEVE */
	cr_assert_eq(sendto(fd, "hello", 5, 0, (struct sockaddr *)&to, sizeof(to)), 5);
	/* GENEVE with a cookie of worker 0 no flow has */
	uint8_t pkt[128] = { 0 };
	struct nlb_geneve_aws h = { NLB_GENEVE_PROTO_IPV4, ENDPOINT, ATTACHMENT, 0x00abcdef };
	nlb_geneve_write(pkt, &h);
	uint8_t *ip = pkt + NLB_GENEVE_AWS_LEN;
	ip[0] = 0x45;
	ip[3] = 28;
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	inet_pton(AF_INET, T_GWLAB_CLIENT4, ip + 12);
	inet_pton(AF_INET, T_GWLAB_SERVER4, ip + 16);
	ip[20] = 0x30;
	ip[22] = 0x23;
	ip[25] = 8;
	size_t n = NLB_GENEVE_AWS_LEN + 28;
	cr_assert_eq(sendto(fd, pkt, n, 0, (struct sockaddr *)&to, sizeof(to)), (ssize_t)n);
	/* the wrong endpoint id */
	h.endpoint_id = 1;
	nlb_geneve_write(pkt, &h);
	cr_assert_eq(sendto(fd, pkt, n, 0, (struct sockaddr *)&to, sizeof(to)), (ssize_t)n);
	close(fd);
	int64_t deadline = t_now_ms() + 3000;
	while ((gw_stat(&g, "gw_bad_geneve") < 2 || gw_stat(&g, "gw_unknown_flow") < 1) &&
	       t_now_ms() < deadline)
		t_sleep_ms(20);
	cr_expect_eq(gw_stat(&g, "gw_bad_geneve"), 2, "not GENEVE, and another endpoint's");
	cr_expect_eq(gw_stat(&g, "gw_unknown_flow"), 1);
	cr_expect_eq(gw_stat(&g, "gw_returned"), returned, "nothing forged reached the TUN");
	gw_stop(&g);
	fake_stop(&f);
}

/* A flow idle past udp_idle_timeout_ms is forgotten: the same 5-tuple
 * later is a new flow. */
T_TEST(gateway, idle_flows_are_forgotten)
{
	struct gw g;
	gw_lab(&g);
	struct fake f;
	fake_start(&f, &g);
	gw_start(&g, "udp_idle_timeout_ms = 1000;", NULL);
	int fd = gwx_connect(g.lab.client, SOCK_DGRAM, T_GWLAB_SERVER4, ECHO_PORT);
	char got[16];
	int64_t flows = 0;
	for (int round = 0; round < 2; round++) {
		ssize_t r = gwx_udp_ask(fd, "ping", 4, got, sizeof(got));
		cr_assert_eq(r, 4, "round %d: no echo", round);
		if (round == 0) {
			/* this one (twice when the echo came back on the
			 * other worker's queue before the first write), and
			 * gw's own MLD reports on the TUN */
			flows = gw_stat(&g, "gw_flows");
			cr_expect_geq(flows, 1);
			t_sleep_ms(2500);	/* past 1 s, and a tick of expiry */
		}
	}
	close(fd);
	cr_expect_gt(gw_stat(&g, "gw_flows"), flows, "the second exchange began a new flow");
	gw_stop(&g);
	fake_stop(&f);
}

/* Two nlb-appliances, health-checked every 200 ms; a connection held
 * through one of them, which is then stopped.  With failover, the flow
 * moves to the other and the connection goes on; without, the flow stays
 * with the dead appliance and the connection stalls, while new ones take
 * the live appliance. */
static void failover(const char *gateway_extra, bool moves)
{
	struct gw g;
	gw_lab(&g);
	struct t_nlb *a[2];
	real_appliances(&g, a);
	const char *addr[2] = { T_GWLAB_APPL4_1, T_GWLAB_APPL4_2 };
	gw_start(&g, gateway_extra, "health_check = { protocol = \"tcp\"; port = 80; "
		 "interval_ms = 200; timeout_ms = 200; healthy_threshold = 1; "
		 "unhealthy_threshold = 1; };");
	appliance2_healthy(g.nlb);
	T_ASSERT(t_nlb_log_wait(g.nlb, T_GWLAB_APPL4_1 ":6081 in group fw: initial -> healthy",
				5000) == 0);
	int fd = gwx_connect(g.lab.client, SOCK_STREAM, T_GWLAB_SERVER4, ECHO_PORT);
	uint64_t before[2] = { appliance_echo_packets(&g, addr[0]),
			       appliance_echo_packets(&g, addr[1]) };
	cr_assert_eq(t_round_trip(fd, "one", 3, 3000), 0);
	uint64_t after[2] = { appliance_echo_packets(&g, addr[0]),
			      appliance_echo_packets(&g, addr[1]) };
	int held = after[0] > before[0] ? 0 : 1;
	cr_assert(after[held] > before[held] && after[!held] == before[!held],
		  "the connection's packets went through one appliance: %llu->%llu, %llu->%llu",
		  (unsigned long long)before[0], (unsigned long long)after[0],
		  (unsigned long long)before[1], (unsigned long long)after[1]);
	t_nlb_stop(a[held], 5000);
	char line[96];
	snprintf(line, sizeof(line), "%s:6081 in group fw: healthy -> unhealthy", addr[held]);
	T_ASSERT(t_nlb_log_wait(g.nlb, line, 5000) == 0, ": %s not marked unhealthy", addr[held]);
	int rc = t_round_trip(fd, "two", 3, 2000);
	if (moves)
		cr_expect_eq(rc, 0, "rebalance: the connection goes on: %s", strerror(-rc));
	else
		cr_expect_neq(rc, 0, "no_rebalance: the flow stays with the dead appliance");
	close(fd);
	tcp_flows_ok(&g, T_GWLAB_SERVER4, 5);	/* new flows take the live one */
	t_nlb_stop(a[!held], 5000);
	t_nlb_free(a[0]);
	t_nlb_free(a[1]);
	gw_stop(&g);
}

T_TEST(gateway, no_rebalance_keeps_a_flow_with_its_appliance)
{
	failover(NULL, false);
}

T_TEST(gateway, rebalance_moves_a_flow_off_a_failed_appliance)
{
	failover("target_failover = \"rebalance\";", true);
}

/* More than 10,000 flows at once: short TCP connections, each its own
 * flow, all held until their idle timeout; every one answered. */
T_TEST(gateway, ten_thousand_flows, .timeout = 120)
{
	struct gw g;
	gw_lab(&g);
	struct t_nlb *a[2];
	real_appliances(&g, a);
	gw_start(&g, NULL, NULL);
	const char *bench = getenv("NLB_BENCH");
	T_ASSERT(bench && *bench);
	const char *argv[] = { bench, "tcp_crr", T_GWLAB_SERVER4 ":9000", "-t", "1", "-c", "32",
			       "-n", "10500", "--timeout", "5000", "--json", NULL };
	char *out = NULL;
	int rc = t_netns_run(g.lab.client, argv, 100000, &out);
	cr_assert_eq(rc, 0, "nlb-bench tcp_crr: exit %d: %s", rc, out ? out : "");
	cr_expect(out && strstr(out, "\"errors_total\":0,") && strstr(out, "\"responses\":10500,"), "%s",
		  out ? out : "");
	free(out);
	cr_expect_geq(gw_stat(&g, "gw_flows"), 10500, "flows: %lld",
		      (long long)gw_stat(&g, "gw_flows"));
	cr_expect_eq(gw_stat(&g, "gw_unknown_flow"), 0);
	cr_expect_eq(gw_stat(&g, "gw_no_target"), 0);
	appliances_stop(a);
	gw_stop(&g);
}

/* A gateway added by a reload (its device exists) serves at once; one a
 * reload removes lets go of the device, and traffic routed into it goes
 * nowhere again. */
T_TEST(gateway, added_and_removed_by_reload)
{
	struct gw g;
	gw_lab(&g);
	struct fake f;
	fake_start(&f, &g);
	g.conf = t_write_config("workers = 2;\nlog_level = \"info\";\n"
				"admin = { socket = \"%s\"; };\n"
				"target_groups = ( { name = \"fw\"; protocol = \"geneve\";\n"
				"  targets = ( { address = \"%s:6081\"; } ); } );\n",
				g.sock, T_GWLAB_APPL4_1);
	T_ASSERT(g.conf);
	g.nlb = gw_spawn(&g, g.conf);
	g.server = gwx_serve(g.lab.server, T_GWLAB_SERVER4 ":9000", "--tcp-udp");
	g.server6 = gwx_serve(g.lab.server, "[" T_GWLAB_SERVER6 "]:9000", "--tcp-udp");
	cr_expect_neq(t_netns_ping(g.lab.client, T_GWLAB_SERVER4, 600), 0,
		      "nothing reads the device yet");
	char text[1024];
	snprintf(text, sizeof(text), "workers = 2;\nlog_level = \"info\";\n"
		 "admin = { socket = \"%s\"; };\n"
		 "gateways = ( { name = \"inspect\"; tun = \"%s\"; address = \"%s:6081\";\n"
		 "  target_group = \"fw\"; endpoint_id = \"0x0123456789abcdef\"; attachment_id = \"0x1\"; } );\n"
		 "target_groups = ( { name = \"fw\"; protocol = \"geneve\";\n"
		 "  targets = ( { address = \"%s:6081\"; } ); } );\n",
		 g.sock, T_GWLAB_TUN, T_GWLAB_GW_APPL4, T_GWLAB_APPL4_1);
	struct px p = { .conf_path = g.conf, .nlb = g.nlb };
	cr_assert_eq(px_reload_text(&p, text), 1, "the reload adding the gateway was refused");
	cr_assert_eq(t_netns_ping(g.lab.client, T_GWLAB_SERVER4, 3000), 0, "%s", t_netns_err());
	tcp_flows_ok(&g, T_GWLAB_SERVER4, 5);
	cr_expect_geq(gw_stat(&g, "gw_returned"), 10);
	snprintf(text, sizeof(text), "workers = 2;\nlog_level = \"info\";\n"
		 "admin = { socket = \"%s\"; };\n"
		 "target_groups = ( { name = \"fw\"; protocol = \"geneve\";\n"
		 "  targets = ( { address = \"%s:6081\"; } ); } );\n", g.sock, T_GWLAB_APPL4_1);
	cr_assert_eq(px_reload_text(&p, text), 1, "the reload removing the gateway was refused");
	T_ASSERT(t_nlb_log_wait(g.nlb, "listener inspect: closed", 5000) == 0,
		 ": the gateway's slot was not let go");
	cr_expect_neq(t_netns_ping(g.lab.client, T_GWLAB_SERVER4, 600), 0,
		      "the device is no longer read");
	gw_stop(&g);
	fake_stop(&f);
}

/* Full-size packets: 8 MiB each way through an appliance on a TCP
 * stream, every byte back in order.  With the inner packets at the
 * client link's 1,500 bytes, the GENEVE datagrams (1,568) are more than
 * the appliances' link takes at its 1,500: the kernel fragments them (a
 * UDP socket's default path MTU discovery fragments what is over the
 * route's MTU), the appliance reassembles them, and nothing is lost.
 * AWS's appliances take 8,500 + 68 bytes: no fragments there. */
T_TEST(gateway, bulk_stream_of_full_size_packets)
{
	struct gw g;
	gw_lab(&g);
	struct t_nlb *a[2];
	real_appliances(&g, a);
	gw_start(&g, NULL, NULL);
	bulk_ok(&g, 8 << 20, 77);
	cr_expect_eq(gw_stat(&g, "gw_send_error"), 0);
	cr_expect_eq(gw_stat(&g, "gw_too_big"), 0);
	/* GSO sends of such datagrams are refused (segments over the
	 * link's MTU); they went again one by one, and later ones alone. */
	int64_t splits = gw_stat(&g, "gw_gso_split");
	cr_expect_geq(splits, 1, "no GSO send of 1,568-byte packets was tried and refused");
	cr_expect_leq(splits, 64, "%lld refused GSO sends: the refusal was not remembered",
		      (long long)splits);
	appliances_stop(a);
	gw_stop(&g);
}

/* Batches both ways: with the appliances' link at 9,000 bytes the
 * GENEVE datagrams of a TCP stream fit it, so nlb sends them to the
 * appliance in GSO sends of several, nlb-appliance returns those of one
 * flow together, and nlb (one worker: its socket takes GRO batches)
 * receives them as batches; the stream arrives whole. */
T_TEST(gateway, stream_moves_in_gso_and_gro_batches)
{
	struct gw g;
	gw_lab(&g);
	int rc = t_netns_ip(g.lab.gw, "link set %s mtu 9000", T_GWLAB_IF_APPL);
	T_ASSERT(rc == 0, ": %s", t_netns_err());
	rc = t_netns_ip(g.lab.appl, "link set %s mtu 9000", T_GWLAB_IF_PEER);
	T_ASSERT(rc == 0, ": %s", t_netns_err());
	struct t_nlb *a[2];
	real_appliances(&g, a);
	g.workers = 1;
	gw_start(&g, NULL, NULL);
	bulk_ok(&g, 8 << 20, 78);
	int64_t out = gw_stat(&g, "gw_to_appliance"), back = gw_stat(&g, "gw_returned");
	int64_t batched_out = gw_stat(&g, "gw_batched_out"), batched_in = gw_stat(&g, "gw_batched_in");
	cr_log_info("gateway batches: %lld of %lld packets to appliances in GSO sends, %lld of "
		    "%lld returned in GRO batches", (long long)batched_out, (long long)out,
		    (long long)batched_in, (long long)back);
	cr_expect_gt(batched_out, 0, "no packet went to an appliance in a GSO send");
	cr_expect_gt(batched_in, 0, "no packet came back in a GRO batch");
	cr_expect_eq(gw_stat(&g, "gw_gso_split"), 0, "a GSO send was refused");
	cr_expect_eq(gw_stat(&g, "gw_send_error"), 0);
	cr_expect_eq(gw_stat(&g, "gw_unknown_flow"), 0);
	cr_expect_eq(gw_stat(&g, "gw_wrong_appliance"), 0);
	cr_expect_eq(gw_stat(&g, "gw_bad_geneve"), 0);
	appliances_stop(a);
	gw_stop(&g);
}

/* Path MTU discovery across the gateway: the client and server links
 * and the device at 9,000 bytes, the gateway's inner MTU 8,500.  TCP
 * segments over 8,500 are dropped and each sender is told (ICMP
 * fragmentation needed, or ICMPv6 packet too big), lowers its path MTU,
 * and the stream goes on whole.  The gateway's address is IPv4: an IPv6
 * sender is answered from the address gw would reach it from. */
static void path_mtu_discovery(const char *server)
{
	struct gw g;
	gw_lab(&g);
	static const char *const links[][2] = {
		{ "gw", T_GWLAB_IF_CLIENT }, { "gw", T_GWLAB_IF_SERVER }, { "gw", T_GWLAB_TUN },
		{ "client", T_GWLAB_IF_PEER }, { "server", T_GWLAB_IF_PEER },
	};
	for (size_t i = 0; i < sizeof(links) / sizeof(*links); i++) {
		const struct t_netns *ns = !strcmp(links[i][0], "gw") ? g.lab.gw :
					   !strcmp(links[i][0], "client") ? g.lab.client : g.lab.server;
		int rc = t_netns_ip(ns, "link set %s mtu 9000", links[i][1]);
		T_ASSERT(rc == 0, ": %s", t_netns_err());
	}
	struct t_nlb *a[2];
	real_appliances(&g, a);
	gw_start(&g, NULL, NULL);
	bulk_to(&g, server, 4 << 20, 91);
	cr_expect_geq(gw_stat(&g, "gw_too_big"), 1, "no segment over 8,500 came");
	cr_expect_geq(gw_stat(&g, "gw_icmp_too_big"), 1, "no sender was told");
	cr_expect_eq(gw_stat(&g, "gw_tun_error"), 0);
	appliances_stop(a);
	gw_stop(&g);
}

T_TEST(gateway, too_big_tcp_is_answered_for_path_mtu_discovery)
{
	path_mtu_discovery(T_GWLAB_SERVER4);
}

T_TEST(gateway, too_big_tcp_over_ipv6_is_answered_with_packet_too_big)
{
	path_mtu_discovery(T_GWLAB_SERVER6);
}

/* An ICMP error belongs to the flow it quotes: a datagram to a port the
 * server does not serve comes back as "port unreachable" through the
 * appliance that took the datagram, and the client's socket sees it. */
T_TEST(gateway, icmp_errors_follow_the_flow_they_quote)
{
	struct gw g;
	gw_lab(&g);
	struct fake f;
	fake_start(&f, &g);
	gw_start(&g, NULL, NULL);
	int fd = gwx_connect(g.lab.client, SOCK_DGRAM, T_GWLAB_SERVER4, 9999);
	int err = 0;
	for (int k = 0; k < 6 && err != ECONNREFUSED; k++) {
		cr_assert_eq(send(fd, "x", 1, 0), 1);
		struct pollfd p = { fd, POLLIN, 0 };
		char c;
		if (poll(&p, 1, 500) == 1 && recv(fd, &c, 1, 0) < 0)
			err = errno;
	}
	close(fd);
	cr_expect_eq(err, ECONNREFUSED, "no port unreachable came back: %s", strerror(err));
	pthread_mutex_lock(&f.mu);
	bool split = f.split;
	unsigned both = 0;
	for (unsigned i = 0; i < f.n_flows; i++)
		both += f.flows[i].key.proto == IPPROTO_UDP && ntohs(f.flows[i].key.dport) == 9999 &&
			f.flows[i].appliance[0] >= 0 && f.flows[i].appliance[1] >= 0;
	pthread_mutex_unlock(&f.mu);
	cr_expect_eq(both, 1, "the datagram and its ICMP error were one flow, both ways");
	cr_expect(!split, "the ICMP error went through another appliance");
	gw_stop(&g);
	fake_stop(&f);
}

/* A flow's packet returned by the other appliance is dropped and
 * counted: an appliance answers only for the flows it was given. */
T_TEST(gateway, returns_from_another_appliance_are_dropped)
{
	struct gw g;
	gw_lab(&g);
	struct fake f;
	fake_start(&f, &g);
	f.swap = true;
	gw_start(&g, NULL, NULL);
	cr_expect_neq(t_netns_ping(g.lab.client, T_GWLAB_SERVER4, 1000), 0,
		      "a ping came back through the wrong appliance");
	cr_expect_geq(gw_stat(&g, "gw_wrong_appliance"), 1);
	cr_expect_eq(gw_stat(&g, "gw_returned"), 0);
	gw_stop(&g);
	fake_stop(&f);
}

/* A binary upgrade with a gateway: nlb B starts beside A on the same
 * gateway (its own admin socket: A's is in use), A gets SIGTERM and
 * exits.  A TCP connection and a UDP flow opened through A go on through
 * both while both run and through B alone after; new flows work
 * throughout; B takes up A's flows from their returns (the group picks
 * the same appliance) and drops nothing.  After A has gone, returns of
 * B's own new flows reach the worker that holds them (steering by slot,
 * whatever the order A's sockets left the group in): none is taken up
 * again. */
T_TEST(gateway, binary_upgrade_keeps_flows, .timeout = 90)
{
	struct gw g;
	gw_lab(&g);
	struct t_nlb *a[2];
	real_appliances(&g, a);
	gw_start(&g, NULL, NULL);
	int tcp = gwx_connect(g.lab.client, SOCK_STREAM, T_GWLAB_SERVER4, ECHO_PORT);
	int udp = gwx_connect(g.lab.client, SOCK_DGRAM, T_GWLAB_SERVER4, ECHO_PORT);
	char got[64];
	cr_assert_eq(t_round_trip(tcp, "before", 6, 3000), 0);
	cr_assert_eq(gwx_udp_ask(udp, "before", 6, got, sizeof(got)), 6);

	char sock_b[sizeof(g.sock) + 2];
	snprintf(sock_b, sizeof(sock_b), "%s.b", g.sock);
	char *conf_b = gw_config(&g, sock_b, NULL, NULL);
	struct t_nlb *b = gw_spawn(&g, conf_b);
	for (int i = 0; i < 5; i++) {
		cr_expect_eq(t_round_trip(tcp, "both", 4, 3000), 0, "the held connection, both running");
		cr_expect_eq(gwx_udp_ask(udp, "both", 4, got, sizeof(got)), 4,
			     "the held UDP flow, both running");
	}
	tcp_flows_ok(&g, T_GWLAB_SERVER4, 10);

	cr_assert_eq(kill(g.nlb->pid, SIGTERM), 0);
	int rc = t_nlb_wait(g.nlb, 10000);
	cr_expect_eq(rc, 0, "A's exit: %d", rc);
	for (int i = 0; i < 5; i++) {
		cr_expect_eq(t_round_trip(tcp, "after", 5, 3000), 0, "the held connection, B alone");
		cr_expect_eq(gwx_udp_ask(udp, "after", 5, got, sizeof(got)), 5,
			     "the held UDP flow, B alone");
	}
	int64_t adopted = 0, v;
	cr_assert_eq(t_admin_stat(sock_b, "gw_flows_adopted", &adopted), 0);
	tcp_flows_ok(&g, T_GWLAB_SERVER4, 20);
	for (int i = 0; i < 20; i++)
		gwx_udp_echo_ok(g.lab.client, T_GWLAB_SERVER4, ECHO_PORT);
	cr_assert_eq(t_admin_stat(sock_b, "gw_flows_adopted", &v), 0);
	cr_log_info("B took up %lld flows from returns while A ran, %lld after", (long long)adopted,
		    (long long)(v - adopted));
	cr_expect_eq(v, adopted, "returns of B's own flows reached another worker than theirs");
	static const char *const zero[] = { "gw_unknown_flow", "gw_wrong_appliance", "gw_bad_geneve",
					    "gw_send_error", "gw_tun_error" };
	for (size_t i = 0; i < sizeof(zero) / sizeof(*zero); i++) {
		cr_assert_eq(t_admin_stat(sock_b, zero[i], &v), 0);
		cr_expect_eq(v, 0, "B: %s = %lld", zero[i], (long long)v);
	}
	close(tcp);
	close(udp);
	appliances_stop(a);
	/* B is the one gw_stop ends */
	t_nlb_free(g.nlb);
	g.nlb = b;
	t_file_remove(g.conf);
	g.conf = conf_b;
	unlink(g.sock);
	memcpy(g.sock, sock_b, sizeof(g.sock) - 1);	/* it fits: made from g.sock */
	gw_stop(&g);
}

/* A GRO batch of returns mixing flows of both workers (an appliance
 * that batches across flows, as a NIC's GRO may merge its returns) is
 * received whole by one worker: the packets of the other's flows are
 * handed over to it, and every datagram comes back. */
T_TEST(gateway, gro_batches_mixing_workers_flows_are_handed_over)
{
	struct gw g;
	gw_lab(&g);
	struct fake f;
	fake_start_mixing(&f, &g, true);
	gw_start(&g, NULL, NULL);
	enum { N = 48 };
	int fd[N];
	for (int i = 0; i < N; i++)
		fd[i] = gwx_connect(g.lab.client, SOCK_DGRAM, T_GWLAB_SERVER4, ECHO_PORT);
	unsigned answered = 0;
	for (int round = 0; round < 5 && answered < N; round++) {
		char msg[16] = "mixed batches!!";
		for (int i = 0; i < N; i++)
			if (fd[i] >= 0)
				cr_assert_eq(send(fd[i], msg, sizeof(msg), 0), (ssize_t)sizeof(msg));
		int64_t deadline = t_now_ms() + 1000;
		while (answered < N && t_now_ms() < deadline) {
			for (int i = 0; i < N; i++) {
				char got[32];
				if (fd[i] >= 0 && recv(fd[i], got, sizeof(got), MSG_DONTWAIT) > 0) {
					close(fd[i]);
					fd[i] = -1;
					answered++;
				}
			}
			t_sleep_ms(5);
		}
	}
	for (int i = 0; i < N; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	cr_expect_eq(answered, N, "%u of %d flows answered", answered, N);
	int64_t handed = gw_stat(&g, "gw_handed_off"), batched = gw_stat(&g, "gw_batched_in");
	cr_log_info("mixed batches: %lld returns in GRO batches, %lld handed to the other worker",
		    (long long)batched, (long long)handed);
	cr_expect_eq(f.cookie_workers, 3u, "flows of both workers (bits %#x)", f.cookie_workers);
	cr_expect_gt(batched, 0, "no GRO batch came");
	cr_expect_gt(handed, 0, "no return was handed over");
	cr_expect_eq(gw_stat(&g, "gw_flows_adopted"), 0, "a worker took up another's flow");
	cr_expect_eq(gw_stat(&g, "gw_unknown_flow"), 0);
	cr_expect_eq(gw_stat(&g, "gw_handoff_full"), 0);
	gw_stop(&g);
	fake_stop(&f);
}

/* Flows the test's appliances saw, by the appliance that took them. */
static void flows_by_appliance(struct fake *f, unsigned n[2])
{
	n[0] = n[1] = 0;
	pthread_mutex_lock(&f->mu);
	for (unsigned i = 0; i < f->n_flows; i++) {
		int a = f->flows[i].appliance[0] >= 0 ? f->flows[i].appliance[0] :
			f->flows[i].appliance[1];
		if (a >= 0)
			n[a]++;
	}
	pthread_mutex_unlock(&f->mu);
}

/* A UDP round trip from the client's port sport to the echo server. */
static void udp_from_port(struct gw *g, uint16_t sport)
{
	int fd = t_netns_socket(g->lab.client, AF_INET, SOCK_DGRAM, 0);
	T_ASSERT(fd >= 0, ": %s", t_netns_err());
	struct sockaddr_in me = { .sin_family = AF_INET, .sin_port = htons(sport) };
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(ECHO_PORT) };
	inet_pton(AF_INET, T_GWLAB_SERVER4, &to.sin_addr);
	T_ASSERT(bind(fd, (struct sockaddr *)&me, sizeof(me)) == 0 &&
		 connect(fd, (struct sockaddr *)&to, sizeof(to)) == 0, ": port %u: %s", sport,
		 strerror(errno));
	static const char msg[] = "one flow";
	char got[32];
	ssize_t n = gwx_udp_ask(fd, msg, sizeof msg, got, sizeof got);
	close(fd);
	T_ASSERT(n == (ssize_t)sizeof msg, ": UDP echo from port %u: %zd bytes back", sport, n);
}

/* count new UDP flows from the client (each from a port no other flow
 * of the test had), and how many of them each appliance took. */
static void udp_flows_by_appliance(struct gw *g, struct fake *f, int count, unsigned took[2])
{
	static uint16_t next_port = 20000;
	unsigned before[2], after[2];
	flows_by_appliance(f, before);
	for (int i = 0; i < count; i++)
		udp_from_port(g, next_port++);
	flows_by_appliance(f, after);
	for (int a = 0; a < 2; a++)
		took[a] = after[a] - before[a];
}

static void admin_ok(struct gw *g, const char *fmt, const char *appliance)
{
	char cmd[128], out[1024];
	snprintf(cmd, sizeof(cmd), fmt, appliance, g->geneve_port);
	int rc = t_admin_command(g->sock, cmd, out, sizeof(out));
	cr_assert_eq(rc, 0, "%s: %s (%s)", cmd, out, strerror(-rc));
}

/* Weights and the admin commands apply to appliances as to any target:
 * a weight of 3 against 1 takes about three quarters of new flows; a
 * weight of 0 none; a drained appliance takes no new flow while a
 * connection it holds goes on through it; added back, it takes flows
 * again. */
T_TEST(gateway, weights_and_admin_commands_steer_new_flows, .timeout = 120)
{
	struct gw g;
	gw_lab(&g);
	struct fake f;
	fake_start(&f, &g);
	gw_start(&g, NULL, NULL);
	admin_ok(&g, "set weight fw %s:%u 3", T_GWLAB_APPL4_1);
	unsigned took[2];
	udp_flows_by_appliance(&g, &f, 200, took);
	cr_log_info("weights 3 and 1: %u and %u of 200 flows", took[0], took[1]);
	cr_expect_eq(took[0] + took[1], 200, "flows seen: %u", took[0] + took[1]);
	cr_expect(took[0] >= 120 && took[0] <= 180, "weight 3 of 4 took %u of 200 flows", took[0]);

	admin_ok(&g, "set weight fw %s:%u 0", T_GWLAB_APPL4_2);
	udp_flows_by_appliance(&g, &f, 30, took);
	cr_expect_eq(took[1], 0, "weight 0 took %u new flows", took[1]);
	cr_expect_eq(took[0], 30);
	admin_ok(&g, "set weight fw %s:%u 1", T_GWLAB_APPL4_2);

	/* a connection held by a1 (of a few, the first it takes), then a1
	 * drained */
	int fd = -1;
	uint64_t before0, after0;
	for (int i = 0; i < 20 && fd < 0; i++) {
		fd = gwx_connect(g.lab.client, SOCK_STREAM, T_GWLAB_SERVER4, ECHO_PORT);
		pthread_mutex_lock(&f.mu);
		before0 = f.packets[0];
		pthread_mutex_unlock(&f.mu);
		cr_assert_eq(t_round_trip(fd, "one", 3, 3000), 0);
		pthread_mutex_lock(&f.mu);
		after0 = f.packets[0];
		pthread_mutex_unlock(&f.mu);
		if (after0 == before0) {
			close(fd);
			fd = -1;
		}
	}
	cr_assert_geq(fd, 0, "no connection of 20 went through the appliance of weight 3");
	admin_ok(&g, "drain target fw %s:%u", T_GWLAB_APPL4_1);
	udp_flows_by_appliance(&g, &f, 30, took);
	cr_expect_eq(took[0], 0, "the drained appliance took %u new flows", took[0]);
	cr_expect_eq(took[1], 30);
	pthread_mutex_lock(&f.mu);
	before0 = f.packets[0];
	pthread_mutex_unlock(&f.mu);
	cr_expect_eq(t_round_trip(fd, "two", 3, 3000), 0, "the connection while its appliance drains");
	pthread_mutex_lock(&f.mu);
	after0 = f.packets[0];
	pthread_mutex_unlock(&f.mu);
	cr_expect_geq(after0 - before0, 2, "the held connection left the drained appliance");
	close(fd);

	admin_ok(&g, "add target fw %s:%u", T_GWLAB_APPL4_1);
	udp_flows_by_appliance(&g, &f, 100, took);
	cr_log_info("added back (weight 3 kept): %u and %u of 100 flows", took[0], took[1]);
	cr_expect_geq(took[0], 50, "the appliance added back took %u of 100 new flows", took[0]);
	cr_expect_eq(f.bad_header, 0);
	gw_stop(&g);
	fake_stop(&f);
}

/* An appliance deregistered (nlbctl remove target): new flows avoid it
 * at once; a flow it holds stays with it through the deregistration
 * delay, then moves to another and goes on; with either target_failover,
 * as the GWLB's. */
static void deregistered(const char *gateway_extra)
{
	struct gw g;
	gw_lab(&g);
	struct fake f;
	fake_start(&f, &g);
	gw_start(&g, gateway_extra, "deregistration_delay_ms = 1500;");
	int fd = gwx_connect(g.lab.client, SOCK_STREAM, T_GWLAB_SERVER4, ECHO_PORT);
	uint64_t before[2], after[2];
#define SNAP(x) do { pthread_mutex_lock(&f.mu); x[0] = f.packets[0]; x[1] = f.packets[1]; \
		     pthread_mutex_unlock(&f.mu); } while (0)
	SNAP(before);
	cr_assert_eq(t_round_trip(fd, "one", 3, 3000), 0);
	SNAP(after);
	int held = after[0] > before[0] ? 0 : 1;
	cr_assert(after[!held] == before[!held], "the connection used both appliances");
	const char *addr[2] = { T_GWLAB_APPL4_1, T_GWLAB_APPL4_2 };
	char cmd[96], out[1024];
	snprintf(cmd, sizeof(cmd), "remove target fw %s:%u", addr[held], g.geneve_port);
	cr_assert_eq(t_admin_command(g.sock, cmd, out, sizeof(out)), 0, "%s: %s", cmd, out);
	/* within the delay: the held flow stays, new flows take the other */
	SNAP(before);
	cr_assert_eq(t_round_trip(fd, "two", 3, 3000), 0);
	tcp_flows_ok(&g, T_GWLAB_SERVER4, 10);
	SNAP(after);
	cr_expect_geq(after[held] - before[held], 2, "the held flow left during the delay");
	cr_expect_leq(after[held] - before[held], 4, "new flows went to the leaving appliance: %llu",
		      (unsigned long long)(after[held] - before[held]));
	cr_expect_geq(after[!held] - before[!held], 10 * 5, "new flows did not take the other");
	/* past the delay the flow moves, and goes on */
	t_sleep_ms(2500);
	SNAP(before);
	cr_expect_eq(t_round_trip(fd, "three", 5, 3000), 0, "the connection after the delay");
	SNAP(after);
	cr_expect_eq(after[held], before[held], "the flow still used the removed appliance");
	cr_expect_geq(after[!held] - before[!held], 2, "the flow did not move");
#undef SNAP
	close(fd);
	gw_stop(&g);
	fake_stop(&f);
}

T_TEST(gateway, deregistration_delay_no_rebalance)
{
	deregistered(NULL);
}

T_TEST(gateway, deregistration_delay_rebalance)
{
	deregistered("target_failover = \"rebalance\";");
}

/* A restart after SIGKILL: the killed nlb's TUN queues and admin socket
 * are left behind; the next nlb on the same file takes the device's
 * queues again, replaces the stale socket, and flows pass as before. */
T_TEST(gateway, restart_after_sigkill_takes_up_the_device_and_socket)
{
	struct gw g;
	struct t_nlb *a[2];
	gw_start_real(&g, a);
	tcp_flows_ok(&g, T_GWLAB_SERVER4, 4);
	T_ASSERT(kill(g.nlb->pid, SIGKILL) == 0);
	cr_assert_neq(t_nlb_wait(g.nlb, 5000), -ETIMEDOUT, "the killed nlb did not exit");
	struct stat st;
	cr_assert_eq(stat(g.sock, &st), 0, "the killed nlb's admin socket is gone: nothing to clean");
	t_nlb_free(g.nlb);
	g.nlb = gw_spawn(&g, g.conf);
	appliance2_healthy(g.nlb);
	tcp_flows_ok(&g, T_GWLAB_SERVER4, 4);
	gwx_udp_echo_ok(g.lab.client, T_GWLAB_SERVER4, ECHO_PORT);
	cr_expect_geq(gw_stat(&g, "gw_flows"), 4, "the new nlb's admin socket answers");
	cr_expect_eq(gw_stat(&g, "gw_tun_error"), 0);
	appliances_stop(a);
	gw_stop(&g);
}
