/* Suite "udp": UDP and TCP_UDP listeners end to end through the real nlb.
 * Targets are udp_srv.h servers on 127.0.0.1 (or ::1) that answer with
 * their own port and the port of the nlb socket the datagram came from,
 * so a client learns which target served its flow and whether the flow
 * kept its socket. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"
#include "px.h"
#include "udp_srv.h"

TestSuite(udp, .init = t_setup, .fini = t_teardown);

/* The nlb process and its file are px's (so px_assert, px_stop_ok,
 * px_stat, px_reload_text and px_free apply); the listener is ux's own,
 * as px writes TCP-only configurations. */
struct ux {
	struct px p;
	uint16_t port;
	const char *ip;
};

/* nlb with one listener (protocol, on ip) over targets on ip at ports;
 * top is written first (global settings), extra into the listener,
 * group_extra into the group. */
static char *ux_text(const struct ux *u, const char *protocol, const char *algorithm,
		     const char *target_ip, const uint16_t *ports, size_t n, const char *top,
		     const char *extra, const char *group_extra)
{
	const char *ip = u->ip;
	bool v6 = strchr(ip, ':') != NULL;
	char list[1024] = "";
	for (size_t i = 0; i < n; i++) {
		size_t off = strlen(list);
		snprintf(list + off, sizeof(list) - off, "%s{ address = \"%s%s%s:%u\"; }",
			 i ? ", " : "", v6 ? "[" : "", target_ip, v6 ? "]" : "", ports[i]);
	}
	char *text = NULL;
	int rc = asprintf(&text,
		"workers = 2;\nlog_level = \"info\";\n%s\n"
		"listeners = ( { name = \"dns\"; protocol = \"%s\"; address = \"%s%s%s:%u\";\n"
		"  target_group = \"dns\"; %s } );\n"
		"target_groups = ( { name = \"dns\"; algorithm = \"%s\";\n  %s\n"
		"  targets = ( %s ); } );\n",
		top ? top : "", protocol, v6 ? "[" : "", ip, v6 ? "]" : "", u->port,
		extra ? extra : "", algorithm, group_extra ? group_extra : "", list);
	T_ASSERT(rc > 0);
	return text;
}

/* nlb on ip: one listener over targets at target_ip and ports. */
static void ux_start_at(struct ux *u, const char *ip, const char *protocol,
			const char *algorithm, const char *target_ip, const uint16_t *ports,
			size_t n, const char *top, const char *extra, const char *group_extra)
{
	memset(u, 0, sizeof(*u));
	u->ip = ip;
	u->port = t_free_port();
	T_ASSERT(u->port);
	char *text = ux_text(u, protocol, algorithm, target_ip, ports, n, top, extra,
			     group_extra);
	u->p.conf_path = t_write_config("%s", text);
	free(text);
	T_ASSERT(u->p.conf_path);
	u->p.nlb = t_nlb_start(u->p.conf_path);
	T_ASSERT(u->p.nlb);
	int rc = t_nlb_log_wait(u->p.nlb, " running: ", 5000);
	px_assert(&u->p, rc == 0, "nlb did not start");
}

static void ux_start(struct ux *u, const char *ip, const char *protocol, const char *algorithm,
		     struct t_udp_server **targets, size_t n, const char *extra,
		     const char *group_extra)
{
	uint16_t ports[8];
	T_ASSERT(n <= 8);
	for (size_t i = 0; i < n; i++)
		ports[i] = t_udp_server_port(targets[i]);
	ux_start_at(u, ip, protocol, algorithm, ip, ports, n, NULL, extra, group_extra);
}

/* One request through nlb on fd; the answer's target and nlb socket. */
static int ask(struct ux *u, int fd, const char *msg, unsigned *target, unsigned *via)
{
	char answer[512];
	ssize_t n = t_udp_ask(fd, u->ip, u->port, msg, strlen(msg), answer, sizeof(answer), 2000);
	if (n < 0)
		return (int)n;
	size_t ml = strlen(msg);
	if ((size_t)n < ml || strcmp(answer + n - ml, msg) != 0)
		return -EBADMSG;	/* not the answer to this request */
	return t_udp_answer_parse(answer, target, via);
}

static void ask_ok(struct ux *u, int fd, const char *msg, unsigned *target, unsigned *via)
{
	int rc = ask(u, fd, msg, target, via);
	px_assert(&u->p, rc == 0, "\"%s\" through nlb: %s", msg,
		  rc == -EPROTO ? "answer not from the listener's address" : strerror(-rc));
}

static void dns_like(const char *ip)
{
	struct t_udp_server *t[2] = { t_udp_server_start(ip, 0, false),
				      t_udp_server_start(ip, 0, false) };
	T_ASSERT(t[0] && t[1]);
	struct ux u;
	ux_start(&u, ip, "udp", "maglev", t, 2, NULL, NULL);
	enum { FLOWS = 100, EACH = 5 };
	int fds[FLOWS];
	unsigned per_target[2] = { 0, 0 };
	for (int i = 0; i < FLOWS; i++) {
		fds[i] = t_udp_socket(ip);
		T_ASSERT(fds[i] >= 0);
	}
	for (int k = 0; k < EACH; k++) {
		for (int i = 0; i < FLOWS; i++) {
			static unsigned first_target[FLOWS], first_via[FLOWS];
			char msg[64];
			snprintf(msg, sizeof(msg), "query %d.%d", i, k);
			unsigned target, via;
			ask_ok(&u, fds[i], msg, &target, &via);
			px_assert(&u.p, target == t_udp_server_port(t[0]) ||
				      target == t_udp_server_port(t[1]), "answer from %u", target);
			if (k == 0) {
				first_target[i] = target;
				first_via[i] = via;
				per_target[target == t_udp_server_port(t[1])]++;
			}
			px_assert(&u.p, target == first_target[i] && via == first_via[i],
				  "flow %d moved: %u via %u, then %u via %u", i, first_target[i],
				  first_via[i], target, via);
		}
	}
	for (int i = 0; i < FLOWS; i++)
		close(fds[i]);
	cr_log_info("udp %s: 100 flows: %u on one target, %u on the other", ip, per_target[0],
		    per_target[1]);
	px_assert(&u.p, per_target[0] > 10 && per_target[1] > 10, "split %u/%u",
		  per_target[0], per_target[1]);
	px_stop_ok(&u.p);
	cr_expect_eq(px_stat(&u.p, "udp_flows"), FLOWS);
	cr_expect_eq(px_stat(&u.p, "udp_in"), FLOWS * EACH);
	cr_expect_eq(px_stat(&u.p, "udp_out"), FLOWS * EACH);
	px_free(&u.p);
	t_udp_server_free(t[0]);
	t_udp_server_free(t[1]);
}

/* The DNS-like test: 100 flows of 5 requests each, each flow on
 * one target throughout, both targets used, answers from the listener. */
T_TEST(udp, dns_like_flows, .timeout = 30)
{
	dns_like("127.0.0.1");
}

T_TEST(udp, ipv6, .timeout = 30)
{
	dns_like("::1");
}

/* A silent flow ends after udp_idle_timeout_ms; its next datagram starts
 * a new flow (a new socket towards the target). */
T_TEST(udp, idle_flow_expires, .timeout = 30)
{
	struct t_udp_server *t = t_udp_server_start("127.0.0.1", 0, false);
	T_ASSERT(t);
	struct ux u;
	/* wide margins: a loaded CI machine may stall the test for a while */
	ux_start(&u, "127.0.0.1", "udp", "maglev", &t, 1, "udp_idle_timeout_ms = 1000;", NULL);
	int fd = t_udp_socket("127.0.0.1");
	unsigned target, via1, via2, via3;
	ask_ok(&u, fd, "one", &target, &via1);
	t_sleep_ms(100);
	ask_ok(&u, fd, "two", &target, &via2);
	px_assert(&u.p, via1 == via2, "the flow changed sockets within its idle timeout");
	t_sleep_ms(2000);
	ask_ok(&u, fd, "three", &target, &via3);
	px_assert(&u.p, via3 != via1, "the flow outlived udp_idle_timeout_ms (same socket %u)", via3);
	close(fd);
	px_stop_ok(&u.p);
	cr_expect_eq(px_stat(&u.p, "udp_flows"), 2);
	cr_expect_geq(px_stat(&u.p, "udp_expired"), 1);
	px_free(&u.p);
	t_udp_server_free(t);
}

/* A target marked down loses its flows to the other on their next
 * datagram; the other's flows never move. */
T_TEST(udp, unhealthy_target_flows_move, .timeout = 30)
{
	struct t_udp_server *t[2] = { t_udp_server_start("127.0.0.1", 0, true),
				      t_udp_server_start("127.0.0.1", 0, true) };
	T_ASSERT(t[0] && t[1]);
	struct ux u;
	ux_start(&u, "127.0.0.1", "udp", "maglev", t, 2, NULL,
		 "health_check = { interval_ms = 100; timeout_ms = 100; healthy_threshold = 1;"
		 " unhealthy_threshold = 2; };");
	char line[128];
	for (int i = 0; i < 2; i++) {
		snprintf(line, sizeof(line), "127.0.0.1:%u in group dns: initial -> healthy",
			 t_udp_server_port(t[i]));
		px_assert(&u.p, t_nlb_log_wait(u.p.nlb, line, 3000) == 0, "target %d never passed", i);
	}
	enum { FLOWS = 20 };
	int fds[FLOWS];
	unsigned target[FLOWS], via[FLOWS], on_a = 0;
	for (int i = 0; i < FLOWS; i++) {
		fds[i] = t_udp_socket("127.0.0.1");
		ask_ok(&u, fds[i], "before", &target[i], &via[i]);
		on_a += target[i] == t_udp_server_port(t[0]);
	}
	px_assert(&u.p, on_a > 0 && on_a < FLOWS, "all %d flows on one target", FLOWS);
	t_udp_server_stop(t[0]);
	snprintf(line, sizeof(line), "127.0.0.1:%u in group dns: healthy -> unhealthy",
		 t_udp_server_port(t[0]));
	px_assert(&u.p, t_nlb_log_wait(u.p.nlb, line, 3000) == 0, "A was not marked down");
	for (int i = 0; i < FLOWS; i++) {
		unsigned t2, v2;
		ask_ok(&u, fds[i], "after", &t2, &v2);
		px_assert(&u.p, t2 == t_udp_server_port(t[1]), "flow %d answered by %u", i, t2);
		if (target[i] == t_udp_server_port(t[1]))
			px_assert(&u.p, v2 == via[i], "flow %d on the healthy target moved", i);
		close(fds[i]);
	}
	px_stop_ok(&u.p);
	cr_expect_eq(px_stat(&u.p, "udp_moved"), on_a);
	cr_expect_eq(px_stat(&u.p, "udp_flows"), FLOWS + on_a);
	px_free(&u.p);
	t_udp_server_free(t[0]);
	t_udp_server_free(t[1]);
}

/* tcp_udp: both protocols on one port. */
T_TEST(udp, tcp_udp_one_port, .timeout = 30)
{
	struct t_udp_server *t = t_udp_server_start("127.0.0.1", 0, true);
	T_ASSERT(t);
	struct ux u;
	ux_start(&u, "127.0.0.1", "tcp_udp", "round_robin", &t, 1, NULL, NULL);
	int fd = t_udp_socket("127.0.0.1");
	unsigned target, via;
	ask_ok(&u, fd, "over udp", &target, &via);
	px_assert(&u.p, target == t_udp_server_port(t), "answered by %u", target);
	close(fd);
	int c = t_connect(u.port);
	px_assert(&u.p, c >= 0, "tcp connect: %s", strerror(-c));
	int rc = t_round_trip(c, "over tcp", 8, 2000);
	px_assert(&u.p, rc == 0, "tcp round trip: %s", strerror(-rc));
	t_close(c);
	px_stop_ok(&u.p);
	cr_expect_eq(px_stat(&u.p, "accepted"), 1);
	cr_expect_eq(px_stat(&u.p, "udp_flows"), 1);
	px_free(&u.p);
	t_udp_server_free(t);
}

/* A datagram larger than udp_max_datagram is dropped and counted, never
 * cut; the flow goes on. */
T_TEST(udp, oversized_datagram_dropped, .timeout = 30)
{
	struct t_udp_server *t = t_udp_server_start("127.0.0.1", 0, false);
	T_ASSERT(t);
	struct ux u;
	uint16_t port = t_udp_server_port(t);
	ux_start_at(&u, "127.0.0.1", "udp", "maglev", "127.0.0.1", &port, 1,
		    "udp_max_datagram = 9216;", NULL, NULL);
	int fd = t_udp_socket("127.0.0.1");
	static char big[20000];
	memset(big, 'x', sizeof(big));
	char answer[512];
	ssize_t n = t_udp_ask(fd, "127.0.0.1", u.port, big, sizeof(big), answer, sizeof(answer), 300);
	px_assert(&u.p, n == -ETIMEDOUT, "a 20000-byte datagram got an answer (%zd)", n);
	n = t_udp_ask(fd, "127.0.0.1", u.port, big, 9217, answer, sizeof(answer), 300);
	px_assert(&u.p, n == -ETIMEDOUT, "a 9217-byte datagram got an answer (%zd)", n);
	unsigned target, via;
	ask_ok(&u, fd, "small", &target, &via);
	/* its answer, with the target's "port:port:" before it, fits too */
	n = t_udp_ask(fd, "127.0.0.1", u.port, big, 9200, answer, sizeof(answer), 2000);
	px_assert(&u.p, n > 0, "a 9200-byte datagram was not forwarded: %s", strerror((int)-n));
	close(fd);
	px_stop_ok(&u.p);
	cr_expect_eq(px_stat(&u.p, "udp_too_big"), 2);
	px_free(&u.p);
	t_udp_server_free(t);
}

/* By default any datagram passes, whole: 60,000 bytes each way. */
T_TEST(udp, largest_datagrams_pass, .timeout = 30)
{
	struct t_udp_server *t = t_udp_server_start("127.0.0.1", 0, false);
	T_ASSERT(t);
	struct ux u;
	ux_start(&u, "127.0.0.1", "udp", "maglev", &t, 1, NULL, NULL);
	int fd = t_udp_socket("127.0.0.1");
	static char big[60000], answer[60100];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 26);
	ssize_t n = t_udp_ask(fd, "127.0.0.1", u.port, big, sizeof(big), answer, sizeof(answer),
			      2000);
	px_assert(&u.p, n > (ssize_t)sizeof(big), "no answer to 60000 bytes: %s",
		  strerror((int)-n));
	px_assert(&u.p, memcmp(answer + n - sizeof(big), big, sizeof(big)) == 0,
		  "the 60000 bytes came back changed");
	close(fd);
	px_stop_ok(&u.p);
	cr_expect_eq(px_stat(&u.p, "udp_too_big"), 0);
	cr_expect_eq(px_stat(&u.p, "bytes_in"), sizeof(big));
	px_free(&u.p);
	t_udp_server_free(t);
}

/* N datagrams of SEG bytes, datagram i filled with letter 'A' + i. */
static void fill_batch(char *buf, unsigned n, unsigned seg)
{
	for (unsigned i = 0; i < n; i++)
		memset(buf + (size_t)i * seg, 'A' + (int)i, seg);
}

/* Receives n answers from udp_srv targets on fd, each "<t>:<v>:" and one
 * datagram of seg bytes of one letter; expects every letter of the batch
 * once.  Returns 0 or a message. */
static const char *expect_batch_answers(int fd, unsigned n, unsigned seg)
{
	static char msg[128];
	bool seen[64] = { false };
	char buf[4096];
	for (unsigned k = 0; k < n; k++) {
		ssize_t len = t_udp_recv_from(fd, buf, sizeof(buf), 2000, NULL);
		if (len < 0)
			return snprintf(msg, sizeof(msg), "answer %u of %u: %s", k, n,
					strerror((int)-len)), msg;
		char *p = memchr(buf, ':', (size_t)len);
		p = p ? memchr(p + 1, ':', (size_t)(len - (p + 1 - buf))) : NULL;
		if (!p || buf + len - (p + 1) != (ssize_t)seg)
			return snprintf(msg, sizeof(msg), "answer %u is not one %u-byte datagram "
					"(%zd bytes)", k, seg, len), msg;
		unsigned letter = (unsigned)(p[1] - 'A');
		for (unsigned i = 0; i < seg; i++)
			if (p[1 + i] != p[1])
				return "a datagram mixes two of the batch";
		if (letter >= n || seen[letter])
			return snprintf(msg, sizeof(msg), "datagram %u seen twice or unknown", letter),
			       msg;
		seen[letter] = true;
	}
	return NULL;
}

/* GSO/GRO: a client's batch of 16 datagrams (one sendmsg with
 * UDP_SEGMENT) reaches nlb whole, as one GRO batch, leaves it as one GSO
 * send, and arrives at the target as 16 datagrams, each intact.  With
 * udp_gro = false the kernel splits the batch before nlb sees it. */
static void gso_batch(const char *top, bool batched)
{
	enum { N = 16, SEG = 1200 };
	struct t_udp_server *t = t_udp_server_start("127.0.0.1", 0, false);
	T_ASSERT(t);
	struct ux u;
	uint16_t port = t_udp_server_port(t);
	ux_start_at(&u, "127.0.0.1", "udp", "maglev", "127.0.0.1", &port, 1, top, NULL, NULL);
	px_assert(&u.p, t_nlb_log_contains(u.p.nlb, batched ? "GRO/GSO batching on" :
					   "GRO/GSO batching off"), "GRO/GSO not as configured");
	int fd = t_udp_socket("127.0.0.1");
	static char batch[N * SEG];
	fill_batch(batch, N, SEG);
	int rc = t_udp_send_gso(fd, "127.0.0.1", u.port, batch, sizeof(batch), SEG);
	px_assert(&u.p, rc == 0, "GSO send: %s", strerror(-rc));
	const char *err = expect_batch_answers(fd, N, SEG);
	px_assert(&u.p, !err, "%s", err);
	close(fd);
	px_stop_ok(&u.p);
	cr_expect_eq(t_udp_server_datagrams(t), N);
	cr_expect_eq(px_stat(&u.p, "udp_in"), N);
	cr_expect_eq(px_stat(&u.p, "udp_out"), N);
	if (batched)
		cr_expect_geq(px_stat(&u.p, "udp_gro_batches"), 1, "the batch did not arrive whole");
	else
		cr_expect_eq(px_stat(&u.p, "udp_gro_batches"), 0);
	cr_expect_eq(px_stat(&u.p, "udp_gso_split"), 0);
	px_free(&u.p);
	t_udp_server_free(t);
}

T_TEST(udp, gso_batch_keeps_datagrams, .timeout = 30)
{
	gso_batch(NULL, true);
}

T_TEST(udp, gro_off, .timeout = 30)
{
	gso_batch("udp_gro = false;", false);
}

/* The other way: a target's batch of 8 answers leaves nlb as one GSO
 * send and reaches the client as 8 datagrams from the listener. */
T_TEST(udp, gso_answers_to_client, .timeout = 30)
{
	enum { N = 8, SEG = 1000 };
	int tfd = t_udp_socket("127.0.0.1");
	T_ASSERT(tfd >= 0);
	uint16_t tport = t_udp_local_port(tfd);
	struct ux u;
	ux_start_at(&u, "127.0.0.1", "udp", "maglev", "127.0.0.1", &tport, 1, NULL, NULL, NULL);
	int fd = t_udp_socket("127.0.0.1");
	struct sockaddr_storage to;
	int rc = t_udp_send_to(fd, "127.0.0.1", u.port, "go", 2);
	px_assert(&u.p, rc == 0, "send: %s", strerror(-rc));
	char buf[64];
	ssize_t n = t_udp_recv_from(tfd, buf, sizeof(buf), 2000, &to);
	px_assert(&u.p, n == 2, "the target got %zd", n);
	static char batch[N * SEG], got[2048];
	fill_batch(batch, N, SEG);
	rc = t_udp_send_gso_sa(tfd, &to, batch, sizeof(batch), SEG);
	px_assert(&u.p, rc == 0, "GSO send: %s", strerror(-rc));
	bool seen[N] = { false };
	for (unsigned k = 0; k < N; k++) {
		struct sockaddr_storage from;
		n = t_udp_recv_from(fd, got, sizeof(got), 2000, &from);
		px_assert(&u.p, n == SEG, "answer %u: %zd bytes, not %d", k, n, SEG);
		px_assert(&u.p, t_sockaddr_port(&from) == u.port, "answer %u not from the listener", k);
		unsigned letter = (unsigned)(got[0] - 'A');
		px_assert(&u.p, letter < N && !seen[letter] && got[SEG - 1] == got[0],
			  "answer %u is not one datagram of the batch", k);
		seen[letter] = true;
	}
	close(fd);
	close(tfd);
	px_stop_ok(&u.p);
	cr_expect_eq(px_stat(&u.p, "udp_out"), N);
	cr_expect_geq(px_stat(&u.p, "udp_gro_batches"), 1, "the answers did not arrive whole");
	px_free(&u.p);
}

/* A path narrower than the batch's datagrams: the kernel refuses the GSO
 * send (a segment may not exceed the path MTU), so nlb sends them one by
 * one, fragmented, and every datagram arrives whole.  In a network
 * namespace of the test's own whose route to 127.0.0.2 has MTU 1300. */
T_TEST(udp, gso_refused_goes_one_by_one, .timeout = 30)
{
	enum { N = 8, SEG = 1400 };
	T_ASSERT(unshare(CLONE_NEWNET) == 0, "unshare(CLONE_NEWNET): %s", strerror(errno));
	T_ASSERT(system("ip link set lo up") == 0);
	T_ASSERT(system("ip route add local 127.0.0.2/32 dev lo table local mtu lock 1300") == 0);
	struct t_udp_server *t = t_udp_server_start("127.0.0.2", 0, false);
	T_ASSERT(t);
	struct ux u;
	uint16_t tport = t_udp_server_port(t);
	ux_start_at(&u, "127.0.0.1", "udp", "maglev", "127.0.0.2", &tport, 1, NULL, NULL, NULL);
	int fd = t_udp_socket("127.0.0.1");
	static char batch[N * SEG];
	fill_batch(batch, N, SEG);
	for (int round = 0; round < 2; round++) {
		int rc = t_udp_send_gso(fd, "127.0.0.1", u.port, batch, sizeof(batch), SEG);
		px_assert(&u.p, rc == 0, "GSO send: %s", strerror(-rc));
		const char *err = expect_batch_answers(fd, N, SEG);
		px_assert(&u.p, !err, "round %d: %s", round, err);
	}
	close(fd);
	px_stop_ok(&u.p);
	cr_expect_eq(t_udp_server_datagrams(t), 2 * N);
	cr_expect_eq(px_stat(&u.p, "udp_in"), 2 * N);
	cr_expect_geq(px_stat(&u.p, "udp_gso_split"), 2, "the batches were not split");
	cr_expect_eq(px_stat(&u.p, "udp_send_error"), 0);
	px_free(&u.p);
	t_udp_server_free(t);
}

/* max_flows: a new flow beyond it is dropped and counted; once flows
 * expire, new ones are taken again. */
T_TEST(udp, max_flows, .timeout = 30)
{
	struct t_udp_server *t = t_udp_server_start("127.0.0.1", 0, false);
	T_ASSERT(t);
	struct ux u;
	ux_start(&u, "127.0.0.1", "udp", "maglev", &t, 1,
		 "max_flows = 3; udp_idle_timeout_ms = 400;", NULL);
	int fds[4];
	unsigned target, via;
	for (int i = 0; i < 4; i++)
		fds[i] = t_udp_socket("127.0.0.1");
	for (int i = 0; i < 3; i++)
		ask_ok(&u, fds[i], "in", &target, &via);
	char answer[256];
	ssize_t rc = t_udp_ask(fds[3], u.ip, u.port, "over", 4, answer, sizeof(answer), 300);
	px_assert(&u.p, rc == -ETIMEDOUT, "a fourth flow was served (%zd)", rc);
	t_sleep_ms(1000);
	ask_ok(&u, fds[3], "later", &target, &via);
	for (int i = 0; i < 4; i++)
		close(fds[i]);
	px_stop_ok(&u.p);
	cr_expect_geq(px_stat(&u.p, "udp_flow_limit"), 1);
	cr_expect_eq(px_stat(&u.p, "udp_flows"), 4);
	px_free(&u.p);
	t_udp_server_free(t);
}

/* A target removed by reload keeps its flows until the deregistration
 * delay, then they end; new flows go to the targets left. */
T_TEST(udp, removed_target_drains, .timeout = 30)
{
	struct t_udp_server *t[2] = { t_udp_server_start("127.0.0.1", 0, false),
				      t_udp_server_start("127.0.0.1", 0, false) };
	T_ASSERT(t[0] && t[1]);
	struct ux u;
	const char *drain = "deregistration_delay_ms = 1000;";
	ux_start(&u, "127.0.0.1", "udp", "maglev", t, 2, NULL, drain);
	enum { FLOWS = 20 };
	int fds[FLOWS];
	unsigned target[FLOWS], via[FLOWS], on_a = 0;
	unsigned a = t_udp_server_port(t[0]), b = t_udp_server_port(t[1]);
	for (int i = 0; i < FLOWS; i++) {
		fds[i] = t_udp_socket("127.0.0.1");
		ask_ok(&u, fds[i], "before", &target[i], &via[i]);
		on_a += target[i] == a;
	}
	px_assert(&u.p, on_a > 0 && on_a < FLOWS, "all %d flows on one target", FLOWS);

	uint16_t left = (uint16_t)b;
	char *text = ux_text(&u, "udp", "maglev", "127.0.0.1", &left, 1, NULL, NULL, drain);
	int applied = px_reload_text(&u.p, text);
	free(text);
	px_assert(&u.p, applied == 1 &&
		  t_nlb_log_contains(u.p.nlb, "applied: targets added=0 removed=1"),
		  "the reload was not applied");
	for (int i = 0; i < FLOWS; i++) {
		unsigned t2, v2;
		ask_ok(&u, fds[i], "draining", &t2, &v2);
		px_assert(&u.p, t2 == target[i] && v2 == via[i], "flow %d moved while draining", i);
	}
	int fresh = t_udp_socket("127.0.0.1");
	unsigned t3, v3;
	ask_ok(&u, fresh, "new", &t3, &v3);
	px_assert(&u.p, t3 == b, "a new flow went to the removed target");
	close(fresh);
	px_assert(&u.p, t_nlb_log_wait(u.p.nlb, "in group dns: draining ended", 4000) == 0,
		  "draining did not end");
	for (int i = 0; i < FLOWS; i++) {
		unsigned t2, v2;
		ask_ok(&u, fds[i], "after", &t2, &v2);
		px_assert(&u.p, t2 == b, "flow %d still on the removed target after the delay", i);
		close(fds[i]);
	}
	px_stop_ok(&u.p);
	cr_expect_eq(px_stat(&u.p, "drain_reset"), on_a);
	px_free(&u.p);
	t_udp_server_free(t[0]);
	t_udp_server_free(t[1]);
}

/* 10,000 flows open at once, each answered.  Datagrams the kernel drops
 * in the burst are sent again (same socket, so the same flow). */
T_TEST(udp, ten_thousand_flows, .timeout = 60)
{
	struct t_udp_server *t[2] = { t_udp_server_start("127.0.0.1", 0, false),
				      t_udp_server_start("127.0.0.1", 0, false) };
	T_ASSERT(t[0] && t[1]);
	struct ux u;
	ux_start(&u, "127.0.0.1", "udp", "maglev", t, 2, NULL, NULL);
	enum { FLOWS = 10000, BATCH = 100 };
	int *fds = malloc(FLOWS * sizeof(int));
	bool *done = calloc(FLOWS, sizeof(bool));
	T_ASSERT(fds && done);
	for (int i = 0; i < FLOWS; i++) {
		fds[i] = t_udp_socket("127.0.0.1");
		px_assert(&u.p, fds[i] >= 0, "socket %d: %s", i, strerror(-fds[i]));
	}
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(u.port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	unsigned answered = 0;
	for (int round = 0; round < 20 && answered < FLOWS; round++) {
		for (int b = 0; b < FLOWS; b += BATCH) {
			struct pollfd p[BATCH];
			int n = 0;
			for (int i = b; i < b + BATCH; i++) {
				if (done[i])
					continue;
				sendto(fds[i], "hello", 5, 0, (struct sockaddr *)&to, sizeof(to));
				p[n++] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
			}
			int64_t until = t_now_ms() + 200;
			int waiting = n;
			while (waiting && t_now_ms() < until) {
				if (poll(p, (nfds_t)n, 50) <= 0)
					continue;
				for (int k = 0; k < n; k++) {
					char buf[128];
					if (!(p[k].revents & POLLIN) || recv(p[k].fd, buf, sizeof(buf), 0) <= 0)
						continue;
					for (int i = b; i < b + BATCH; i++)
						if (fds[i] == p[k].fd && !done[i]) {
							done[i] = true;
							answered++;
							waiting--;
						}
					p[k].fd = -p[k].fd - 1;	/* poll ignores negative fds */
				}
			}
		}
	}
	cr_log_info("udp: %u of %d flows answered", answered, FLOWS);
	px_assert(&u.p, answered == FLOWS, "%u of %d flows answered", answered, FLOWS);
	px_stop_ok(&u.p);
	cr_expect_eq(px_stat(&u.p, "udp_flows"), FLOWS);
	cr_expect_eq(px_stat(&u.p, "udp_flows_active"), FLOWS, "flows ended early");
	for (int i = 0; i < FLOWS; i++)
		close(fds[i]);
	free(fds);
	free(done);
	px_free(&u.p);
	t_udp_server_free(t[0]);
	t_udp_server_free(t[1]);
}
