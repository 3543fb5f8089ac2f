/* Suite "balance": which target the real nlb ($NLB_BIN) picks for each
 * connection, seen from the client.  Every target is an in-process
 * T_SRV_TAG server answering any read with its own port, so each answer
 * names the target that served it.  Owns the end-to-end checks of the
 * algorithms: round_robin's shares, least_conn's and random2's connection
 * counts summed over workers, maglev's agreement between nlb processes and
 * its retries past a refused target, and weight 0.  Every test picks its
 * own ports, so the suite runs with --jobs=2. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "helpers.h"
#include "px.h"

/* Connections per measurement: round numbers for the weights used here. */
#define N_CONNS 100

TestSuite(balance, .init = t_setup, .fini = t_teardown);

/* An nlb on algorithm with workers, forwarding auto. */
static void bal_init(struct px *p, const char *algorithm, unsigned workers)
{
	px_init(p, "auto");
	p->conf.algorithm = algorithm;
	p->conf.workers = workers;
}

/* Sends a byte on fd and reads the answer "<port>\n" of the target that
 * got it; returns that target's index in p's configuration. */
static int px_ask(struct px *p, int fd)
{
	int rc = t_write_all(fd, "?", 1);
	px_assert(p, rc == 0, "send through nlb: %s", strerror(-rc));
	char line[16];
	size_t len = 0;
	for (;;) {
		ssize_t n = t_read_full(fd, line + len, 1, 5000);
		px_assert(p, n == 1, "reading a target's answer through nlb: %s",
			  n == 0 ? "EOF" : strerror((int)-n));
		if (line[len] == '\n')
			break;
		len++;
		px_assert(p, len < sizeof line, "answer too long");
	}
	line[len] = '\0';
	unsigned long port = strtoul(line, NULL, 10);
	for (size_t i = 0; i < p->conf.n_targets; i++)
		if (p->conf.targets[i] == port)
			return (int)i;
	px_assert(p, false, "answer \"%s\" names none of the targets", line);
	return -1;
}

/* n connections one after another, each asked once and closed; got[i]
 * counts those target i served. */
static void px_sequential(struct px *p, unsigned n, unsigned *got)
{
	for (unsigned k = 0; k < n; k++) {
		int fd = px_connect(p);
		got[px_ask(p, fd)]++;
		t_close(fd);
	}
}

/* One connection from src_ip:src_port, asked once, closed with a reset
 * (no TIME_WAIT on either side: the same port can connect again at once);
 * returns the index of the target that served it. */
static int px_ask_from(struct px *p, const char *src_ip, uint16_t src_port)
{
	int fd = t_connect_from(src_ip, src_port, p->conf.listen_port);
	px_assert(p, fd >= 0, "connect to nlb from %s:%u: %s", src_ip, src_port,
		  strerror(-fd));
	int t = px_ask(p, fd);
	t_close_reset(fd);
	return t;
}

/* ---- targets and ports ------------------------------------------------ */

/* n tag servers on fresh ports, added to p's targets with weights w (NULL:
 * 1 each). */
static void px_tag_targets(struct px *p, struct t_server **s, size_t n, const unsigned *w)
{
	for (size_t i = 0; i < n; i++) {
		s[i] = t_server_start(T_SRV_TAG, 0);
		T_ASSERT(s[i], ": starting a tag server: %s", strerror(errno));
		px_target_weight(p, t_server_port(s[i]), w ? w[i] : 1);
	}
}

static void servers_free(struct t_server **s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		t_server_free(s[i]);
}

/* t_port_hold's port, or the test fails. */
static int port_hold(uint16_t *port)
{
	int fd = t_port_hold(port);
	T_ASSERT(fd >= 0, ": holding a port: %s", strerror(-fd));
	return fd;
}

static void ports_release(const int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
}

/* The connections each server accepted are the answers it gave. */
static void px_expect_accepted(struct px *p, struct t_server **s, const unsigned *got)
{
	for (size_t i = 0; i < p->conf.n_targets; i++)
		if (s[i])
			cr_expect_eq(t_server_accepted(s[i]), got[i],
				     "target %zu accepted %u connections, answered %u",
				     i, t_server_accepted(s[i]), got[i]);
}

/* ---- round_robin ------------------------------------------------------ */

/* Smooth weighted round robin per worker: with one worker the shares are
 * exact over any multiple of the weights' sum. */
static void round_robin_exact(const unsigned *w, size_t n, const unsigned *want)
{
	struct t_server *s[T_MAX_TARGETS];
	struct px p;
	bal_init(&p, "round_robin", 1);
	px_tag_targets(&p, s, n, w);
	px_start(&p);
	unsigned got[T_MAX_TARGETS] = { 0 };
	px_sequential(&p, N_CONNS, got);
	for (size_t i = 0; i < n; i++)
		px_assert(&p, got[i] == want[i],
			  "target %zu (weight %u) served %u of %u, want %u", i, w[i],
			  got[i], N_CONNS, want[i]);
	px_expect_accepted(&p, s, got);
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "accepted"), N_CONNS);
	cr_expect_eq(px_stat(&p, "connect_refused"), 0);
	cr_expect_eq(px_stat(&p, "no_target"), 0);
	px_free(&p);
	servers_free(s, n);
}

T_TEST(balance, round_robin_equal_one_worker, .timeout = 30)
{
	static const unsigned w[] = { 1, 1 }, want[] = { 50, 50 };
	round_robin_exact(w, 2, want);
}

T_TEST(balance, round_robin_weighted_1_3, .timeout = 30)
{
	static const unsigned w[] = { 1, 3 }, want[] = { 25, 75 };
	round_robin_exact(w, 2, want);
}

/* The kernel spreads connections over the two workers' listening sockets
 * (SO_REUSEPORT), and each worker runs its own rotation: a worker's share
 * of each target is within one of half its connections, so the total is
 * within two of 50. */
T_TEST(balance, round_robin_equal_two_workers, .timeout = 30)
{
	struct t_server *s[2];
	struct px p;
	bal_init(&p, "round_robin", 2);
	px_tag_targets(&p, s, 2, NULL);
	px_start(&p);
	unsigned got[T_MAX_TARGETS] = { 0 };
	px_sequential(&p, N_CONNS, got);
	for (size_t i = 0; i < 2; i++)
		px_assert(&p, got[i] >= 48 && got[i] <= 52,
			  "target %zu served %u of %u, want 50 +- 2", i, got[i], N_CONNS);
	px_expect_accepted(&p, s, got);
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "accepted"), N_CONNS);
	px_free(&p);
	servers_free(s, 2);
}

/* The default algorithm's rotation, connection by connection: two equal
 * targets take turns. */
T_TEST(balance, round_robin_alternates, .timeout = 30)
{
	struct t_server *a = t_server_start(T_SRV_TAG, 0);
	struct t_server *b = t_server_start(T_SRV_TAG, 0);
	T_ASSERT(a && b);
	struct px p;
	px_init(&p, "auto");
	px_target(&p, t_server_port(a));
	px_target(&p, t_server_port(b));
	px_start(&p);

	unsigned prev = 0, n_a = 0, n_b = 0;
	for (int i = 0; i < 10; i++) {
		int fd = px_connect(&p);
		char tag[16] = "";
		px_assert(&p, t_write_all(fd, "?", 1) == 0, "write");
		ssize_t n = t_read_full(fd, tag, 6, 5000);	/* "NNNNN\n" */
		t_close(fd);
		px_assert(&p, n > 0, "connection %d: no tag (%s)", i,
			  n < 0 ? strerror((int)-n) : "EOF");
		unsigned port = (unsigned)strtoul(tag, NULL, 10);
		T_ASSERT(port == t_server_port(a) || port == t_server_port(b),
			 ": connection %d answered by \"%s\"", i, tag);
		cr_expect_neq(port, prev, "connection %d went to %u again", i, port);
		prev = port;
		n_a += port == t_server_port(a);
		n_b += port == t_server_port(b);
	}
	cr_expect(n_a == 5 && n_b == 5, "split %u/%u, want 5/5", n_a, n_b);
	px_stop_ok(&p);
	px_free(&p);
	t_server_free(a);
	t_server_free(b);
}

/* ---- least_conn and random2 ------------------------------------------- */

/* Two targets, two workers.  While B refuses (its port is held, not
 * listening), 50 connections are opened and kept: each lands on A, as a
 * refused attempt is retried elsewhere and no longer counts.  Then B comes
 * up with 0 connections against A's 50, so each of the next 50 (kept open
 * too) must go to B: B has k < 50 when the k-th is picked, whichever
 * worker picks it, since the counts are summed over workers.
 *
 * random2 with two targets compares both of them, except when its 16
 * draws all fall on the same one (2^-15 of picks); then it takes that one
 * without comparing.  So min_to_b is 50 for least_conn and 49 for
 * random2, whose chance of sending one of the 50 to A is about 50 x 2^-16
 * (two in the same run: about 3e-7). */
static void fills_the_emptier(const char *algorithm, unsigned min_to_b)
{
	enum { HELD = 50 };
	static int fds[2 * HELD];
	struct px p;
	bal_init(&p, algorithm, 2);
	struct t_server *a = t_server_start(T_SRV_TAG, 0);
	T_ASSERT(a);
	uint16_t b_port;
	int b_hold = port_hold(&b_port);
	px_target_weight(&p, t_server_port(a), 1);
	px_target_weight(&p, b_port, 1);
	px_start(&p);

	for (int i = 0; i < HELD; i++) {
		fds[i] = px_connect(&p);
		int t = px_ask(&p, fds[i]);
		px_assert(&p, t == 0, "connection %d went to target %d while B is down", i, t);
	}
	px_assert(&p, t_server_open(a) == HELD, "A holds %u connections, want %d",
		  t_server_open(a), HELD);

	struct t_server *b = t_server_start(T_SRV_TAG, b_port);
	T_ASSERT(b, ": starting B on its port %u: %s", b_port, strerror(errno));
	close(b_hold);

	unsigned to_b = 0;
	for (int i = 0; i < HELD; i++) {
		fds[HELD + i] = px_connect(&p);
		to_b += px_ask(&p, fds[HELD + i]) == 1;
	}
	px_assert(&p, to_b >= min_to_b,
		  "%s: %u of %d new connections went to B (0 connections) rather than "
		  "A (50), want at least %u", algorithm, to_b, HELD, min_to_b);
	cr_expect_eq(t_server_accepted(b), to_b);
	cr_expect_eq(t_server_accepted(a), 2 * HELD - to_b);

	for (int i = 0; i < 2 * HELD; i++)
		t_close(fds[i]);
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "accepted"), 2 * HELD);
	cr_expect_eq(px_stat(&p, "no_target"), 0);
	/* B was down for the first 50: at most one refusal each (a retry
	 * skips a target already tried), and some there were. */
	int64_t refused = px_stat(&p, "connect_refused");
	cr_expect(refused >= 1 && refused <= HELD, "connect_refused %lld", (long long)refused);
	cr_log_info("balance/%s: %u of %d to B; %lld refusals while B was down",
		    algorithm, to_b, HELD, (long long)refused);
	px_free(&p);
	t_server_free(a);
	t_server_free(b);
}

T_TEST(balance, least_conn_fills_the_emptier, .timeout = 30)
{
	fills_the_emptier("least_conn", 50);
}

T_TEST(balance, random2_fills_the_emptier, .timeout = 30)
{
	fills_the_emptier("random2", 49);
}

/* ---- maglev ----------------------------------------------------------- */

/* Two nlb processes on one configuration file share the listening port
 * (SO_REUSEPORT).  100 clients on fixed source ports go through the first
 * alone; then the second starts and the first exits, and the same 100
 * source ports must reach the same targets: the table is keyed by target
 * address and the hash by the flow's tuple, nothing per process. */
T_TEST(balance, maglev_same_target_from_another_nlb, .timeout = 60)
{
	enum { N = N_CONNS, TARGETS = 4 };
	static uint16_t port[N];
	static int hold[N], first[N];
	struct t_server *s[TARGETS];
	struct px a, b;
	bal_init(&a, "maglev", 2);
	px_tag_targets(&a, s, TARGETS, NULL);
	px_start(&a);
	for (int i = 0; i < N; i++)
		hold[i] = port_hold(&port[i]);

	unsigned got[T_MAX_TARGETS] = { 0 };
	for (int i = 0; i < N; i++) {
		first[i] = px_ask_from(&a, "127.0.0.1", port[i]);
		got[first[i]]++;
	}
	/* The hash spreads: a target with none of 100 flows has odds
	 * 4 x (3/4)^100, about 1e-12. */
	for (int t = 0; t < TARGETS; t++)
		px_assert(&a, got[t] > 0, "target %d got none of %d flows (%u %u %u %u)", t, N,
			  got[0], got[1], got[2], got[3]);

	/* Let the targets finish with the flows before forking the second
	 * nlb: a child holds copies of the servers' sockets until its
	 * close_range, and a socket closed meanwhile stays in the server's
	 * epoll set with a freed pointer (t_server's sconn_end closes
	 * without EPOLL_CTL_DEL; ASan caught it). */
	for (int t = 0; t < TARGETS; t++)
		px_assert(&a, t_server_wait_closed(s[t], t_server_accepted(s[t]), 5000) == 0,
			  "target %d still has connections", t);

	b = a;
	b.conf_path = NULL;	/* a's file, removed with a */
	b.nlb = NULL;
	px_spawn(&b, a.conf_path);
	px_assert(&b, t_listeners(a.conf.listen_port) == 4,
		  "%d sockets listen on the port, want 2 per nlb", t_listeners(a.conf.listen_port));
	px_stop_ok(&a);
	/* nlb closes its listening sockets at SIGTERM, but an nlb with no
	 * connection exits at once, and its sockets stay in LISTEN (and in
	 * the SO_REUSEPORT group) for a few ms after its exit: a connection
	 * the kernel hands one meanwhile is reset when it goes.  Not what
	 * this test is about (reported separately): wait until they are
	 * gone. */
	int64_t deadline = t_now_ms() + 5000;
	while (t_listeners(a.conf.listen_port) > 2 && t_now_ms() < deadline)
		t_sleep_ms(1);
	px_assert(&b, t_listeners(a.conf.listen_port) == 2,
		  "%d sockets still listen 5 s after the first nlb exited",
		  t_listeners(a.conf.listen_port));
	cr_expect_eq(px_stat(&a, "accepted"), N, "the first nlb accepted %lld",
		     (long long)px_stat(&a, "accepted"));

	int moved = 0, example = 0, then = -1;
	for (int i = 0; i < N; i++) {
		int t = px_ask_from(&b, "127.0.0.1", port[i]);
		if (t != first[i] && !moved++) {
			example = i;
			then = t;
		}
	}
	px_assert(&b, moved == 0,
		  "%d of %d flows reached another target through the second nlb "
		  "(source port %u: target %d, then %d)", moved, N,
		  port[example], first[example], then);
	px_stop_ok(&b);
	cr_expect_eq(px_stat(&b, "accepted"), N);
	cr_expect_eq(px_stat(&b, "connect_refused"), 0);
	ports_release(hold, N);
	px_free(&b);
	px_free(&a);
	servers_free(s, TARGETS);
}

/* hash_fields = "source_ip": every port of one client address reaches one
 * target; different addresses (127.0.0.0/8 is all loopback) spread. */
T_TEST(balance, maglev_source_ip_sticks, .timeout = 30)
{
	enum { TARGETS = 4, ADDRS = 16 };
	struct t_server *s[TARGETS];
	struct px p;
	bal_init(&p, "maglev", 2);
	p.conf.hash_fields = "source_ip";
	px_tag_targets(&p, s, TARGETS, NULL);
	px_start(&p);

	unsigned got[T_MAX_TARGETS] = { 0 };
	px_sequential(&p, N_CONNS, got);
	int used = 0;
	for (int t = 0; t < TARGETS; t++)
		used += got[t] > 0;
	px_assert(&p, used == 1, "%d connections from 127.0.0.1 reached %d targets "
		  "(%u %u %u %u), want one", N_CONNS, used, got[0], got[1], got[2], got[3]);

	/* Each address twice (two source ports), the same target both
	 * times; over 17 addresses one target alone has odds 4 x 4^-17. */
	unsigned by_addr[T_MAX_TARGETS] = { 0 };
	for (int k = 0; k < ADDRS; k++) {
		char ip[16];
		snprintf(ip, sizeof ip, "127.0.0.%d", 2 + k);
		int t1 = px_ask_from(&p, ip, 0), t2 = px_ask_from(&p, ip, 0);
		px_assert(&p, t1 == t2, "client %s reached target %d, then %d", ip, t1, t2);
		by_addr[t1]++;
	}
	used = 0;
	for (int t = 0; t < TARGETS; t++)
		used += got[t] + by_addr[t] > 0;
	px_assert(&p, used > 1, "17 client addresses all reached one target");
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "accepted"), N_CONNS + 2 * ADDRS);
	px_free(&p);
	servers_free(s, TARGETS);
}

/* One of four targets refuses (its port is held, not listening).  Flows
 * whose table entry is that target are refused and re-hashed to another
 * target, so every client is served.  The worker's flow table remembers
 * where each flow went, so a second round from the same source ports
 * lands where the first did without meeting the refusing target again
 * (a 4-tuple always reaches the same worker through SO_REUSEPORT). */
T_TEST(balance, maglev_retries_past_refused_target, .timeout = 60)
{
	enum { N = N_CONNS, TARGETS = 4, DEAD = 2 };
	static uint16_t port[N];
	static int hold[N], first[N];
	struct t_server *s[TARGETS] = { NULL };
	struct px p;
	bal_init(&p, "maglev", 2);
	uint16_t dead_port;
	int dead_hold = -1;
	for (int t = 0; t < TARGETS; t++) {
		if (t == DEAD) {
			dead_hold = port_hold(&dead_port);
			px_target_weight(&p, dead_port, 1);
			continue;
		}
		s[t] = t_server_start(T_SRV_TAG, 0);
		T_ASSERT(s[t]);
		px_target_weight(&p, t_server_port(s[t]), 1);
	}
	px_start(&p);
	for (int i = 0; i < N; i++)
		hold[i] = port_hold(&port[i]);

	unsigned got[T_MAX_TARGETS] = { 0 };
	for (int i = 0; i < N; i++) {
		first[i] = px_ask_from(&p, "127.0.0.1", port[i]);
		got[first[i]]++;
	}
	for (int i = 0; i < N; i++) {
		int t = px_ask_from(&p, "127.0.0.1", port[i]);
		px_assert(&p, t == first[i], "source port %u reached target %d, then %d",
			  port[i], first[i], t);
	}
	px_assert(&p, got[DEAD] == 0, "the refusing target answered?");
	for (int t = 0; t < TARGETS; t++)
		if (t != DEAD)
			px_assert(&p, got[t] > 0, "live target %d got none of %d flows", t, N);
	px_stop_ok(&p);
	int64_t refused = px_stat(&p, "connect_refused");
	cr_expect_gt(refused, 0, "no flow met the refusing target");
	cr_expect_leq(refused, N, "%lld refusals: a flow meets the refusing target at "
		      "most once, in the first round", (long long)refused);
	cr_expect_eq(px_stat(&p, "flow_hits"), N, "every second-round connection "
		     "must be placed by the flow table");
	cr_expect_eq(px_stat(&p, "accepted"), 2 * N);
	cr_expect_eq(px_stat(&p, "no_target"), 0);
	cr_log_info("balance/maglev_retries_past_refused_target: %lld of %d flows refused once",
		    (long long)refused, N);
	ports_release(hold, N);
	close(dead_hold);
	px_free(&p);
	servers_free(s, TARGETS);
}

/* ---- weight 0 --------------------------------------------------------- */

/* Three running targets, the middle one with weight 0: it never gets a
 * connection, the other two share them. */
static void weight_zero(const char *algorithm, unsigned workers)
{
	static const unsigned w[] = { 1, 0, 1 };
	struct t_server *s[3];
	struct px p;
	bal_init(&p, algorithm, workers);
	px_tag_targets(&p, s, 3, w);
	px_start(&p);
	unsigned got[T_MAX_TARGETS] = { 0 };
	px_sequential(&p, N_CONNS, got);
	px_assert(&p, got[1] == 0, "%s: the weight-0 target served %u of %u",
		  algorithm, got[1], N_CONNS);
	px_assert(&p, got[0] > 0 && got[2] > 0, "%s: shares %u/%u/%u", algorithm,
		  got[0], got[1], got[2]);
	if (!strcmp(algorithm, "round_robin") && workers == 1)
		px_assert(&p, got[0] == 50 && got[2] == 50, "round_robin: %u/%u/%u, want 50/0/50",
			  got[0], got[1], got[2]);
	cr_expect_eq(t_server_accepted(s[1]), 0);
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "accepted"), N_CONNS);
	px_free(&p);
	servers_free(s, 3);
}

T_TEST(balance, weight_zero_maglev, .timeout = 30) { weight_zero("maglev", 2); }
T_TEST(balance, weight_zero_round_robin, .timeout = 30) { weight_zero("round_robin", 1); }
T_TEST(balance, weight_zero_least_conn, .timeout = 30) { weight_zero("least_conn", 2); }
T_TEST(balance, weight_zero_random2, .timeout = 30) { weight_zero("random2", 2); }

/* hash_fields = source_ip with one of two targets refusing: a client whose
 * hash names the refusing target is moved once, and the worker's flow
 * table keeps it on the target that worked, so its later connections
 * (new source ports, same address) meet no refusal.  Without the flow
 * table each of them would be refused and retried again. */
T_TEST(balance, maglev_source_ip_stays_where_it_works, .timeout = 60)
{
	enum { IPS = 12, PER = 5 };
	struct t_server *live = t_server_start(T_SRV_TAG, 0);
	T_ASSERT(live);
	struct px p;
	bal_init(&p, "maglev", 1);
	p.conf.hash_fields = "source_ip";
	uint16_t dead_port;
	int dead_hold = port_hold(&dead_port);
	px_target_weight(&p, dead_port, 1);
	px_target_weight(&p, t_server_port(live), 1);
	px_start(&p);

	for (int ip = 0; ip < IPS; ip++) {
		char src[32];
		snprintf(src, sizeof src, "127.0.0.%d", ip + 2);
		for (int k = 0; k < PER; k++) {
			int t = px_ask_from(&p, src, 0);
			px_assert(&p, t == 1, "%s connection %d reached target %d", src, k, t);
		}
	}
	px_stop_ok(&p);
	int64_t refused = px_stat(&p, "connect_refused");
	int64_t hits = px_stat(&p, "flow_hits");
	cr_expect_gt(refused, 0, "no client hashed to the refusing target: the test proves nothing");
	cr_expect_leq(refused, IPS, "%lld refusals for %d clients: a client must meet the "
		      "refusing target at most once", (long long)refused, IPS);
	cr_expect_eq(hits, IPS * (PER - 1), "flow table placed %lld of %d later connections",
		     (long long)hits, IPS * (PER - 1));
	cr_expect_eq(px_stat(&p, "no_target"), 0);
	px_free(&p);
	close(dead_hold);
	t_server_free(live);
}
