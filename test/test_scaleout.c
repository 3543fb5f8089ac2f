/* Suite "scaleout": three nlb hosts behind an ECMP router, each announcing
 * the service address 10.99.0.10 by BGP (BIRD) while it can serve it: the
 * lab of bench/scaleout-lab, in network namespaces this test names after
 * itself (so a crashed run's are swept), with its NGINX targets answering
 * "t1", "t2" or "t3".  Checks, each printing its figures:
 *  1. new connections spread over the three hosts;
 *  2. with maglev and hash_fields = "source_ip" a client reaches the same
 *     target whichever host takes it: 1,000 clients, three connections
 *     each, every answer of a client the same;
 *  3. a UDP flow whose host stops (SIGTERM: withdrawn, then stopped after
 *     withdraw_delay_ms) goes on through another host to the same target;
 *  4. a planned stop (SIGTERM) of one host under a steady stream of new
 *     connections: none fails; the established connections that break,
 *     through that host and through the others (plain multipath moves
 *     some of theirs too), counted;
 *  5. the host coming back (the lab's supervisor starts nlb again, as
 *     the unit's Restart= would): new connections go on, the established
 *     ones the others lose to it counted;
 *  6. nlb killed with SIGKILL: its route stays (BIRD still announces it)
 *     until the next nlb's start removes it, and new connections to that
 *     host fail meanwhile (how many, for how long); and a host gone
 *     silent (nftables drops all it sends; its link stays up): BFD
 *     withdraws it, and new connections fail until then (for how long). */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"
#include "helpers/netns.h"

TestSuite(scaleout, .init = t_setup, .fini = t_teardown, .timeout = 180);

#define VIP "10.99.0.10"
#define PORT 9000
#define HOSTS 3

struct lab {
	char prefix[48], dir[80], script[512], build[512];
	struct t_netns client;
};

static int lab_cmd(struct lab *lab, const char *verb, char **out)
{
	char env_prefix[80], env_dir[120];
	snprintf(env_prefix, sizeof(env_prefix), "LAB_PREFIX=%s", lab->prefix);
	snprintf(env_dir, sizeof(env_dir), "LAB_DIR=%s", lab->dir);
	const char *argv[] = { "/usr/bin/env", env_prefix, env_dir, lab->script, verb, lab->build, NULL };
	return t_run(argv, 60000, out);
}

static void lab_up(struct lab *lab)
{
	memset(lab, 0, sizeof(*lab));
	/* t_netns_sweep's pattern: nlbt-<pid>-<n>-<role> */
	snprintf(lab->prefix, sizeof(lab->prefix), "nlbt-%d-90-", (int)getpid());
	snprintf(lab->dir, sizeof(lab->dir), "/tmp/nlbt-%d-scaleout", (int)getpid());
	const char *src = getenv("NLB_SRCDIR");
	T_ASSERT(src && *src, ": NLB_SRCDIR is not set (run through make test)");
	snprintf(lab->script, sizeof(lab->script), "%s/bench/scaleout-lab", src);
	char bin[512];
	snprintf(bin, sizeof(bin), "%s", t_nlb_bin());
	snprintf(lab->build, sizeof(lab->build), "%s", dirname(bin));
	snprintf(lab->client.name, sizeof(lab->client.name), "%sclient", lab->prefix);
	char *out = NULL;
	int rc = lab_cmd(lab, "up", &out);
	if (rc != 0) {
		char *down = NULL;
		lab_cmd(lab, "down", &down);
		free(down);
	}
	T_ASSERT(rc == 0, ": bench/scaleout-lab up: exit %d: %s", rc, out ? out : "");
	free(out);
}

static void lab_down(struct lab *lab)
{
	char *out = NULL;
	int rc = lab_cmd(lab, "down", &out);
	cr_expect_eq(rc, 0, "bench/scaleout-lab down: %s", out ? out : "");
	free(out);
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", lab->dir);
	const char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	t_run(argv, 10000, NULL);
}

static int64_t host_stat(struct lab *lab, int h, const char *key)
{
	char sock[128];
	snprintf(sock, sizeof(sock), "%s/h%d.sock", lab->dir, h);
	int64_t v = -1;
	int rc = t_admin_stat(sock, key, &v);
	cr_assert_eq(rc, 0, "h%d: show stats %s: %s", h, key, strerror(-rc));
	return v;
}

/* One TCP exchange from the client (from src when not NULL) with the
 * VIP on port (9000: a target's name, into name when not NULL; 9001: an
 * echo), within timeout_ms: 0; -ENOTSOCK when no socket could be made,
 * -EADDRNOTAVAIL when src could not be bound, -EIO when the exchange
 * failed.  No assertion: the stream thread calls it too. */
static int exchange(struct lab *lab, uint16_t port, const char *src, int timeout_ms,
		    char name[4])
{
	if (name)
		name[0] = '\0';
	int fd = t_netns_socket(&lab->client, AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -ENOTSOCK;
	if (src) {
		struct sockaddr_in me = { .sin_family = AF_INET };
		inet_pton(AF_INET, src, &me.sin_addr);
		if (bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0) {
			close(fd);
			return -EADDRNOTAVAIL;
		}
	}
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port) };
	inet_pton(AF_INET, VIP, &to.sin_addr);
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	size_t want = port == 9001 ? 4 : 3;
	char buf[8];
	bool ok = connect(fd, (struct sockaddr *)&to, sizeof(to)) == 0 &&
		  (port != 9001 || t_write_all(fd, "ping", 4) == 0) &&
		  t_read_full(fd, buf, want, timeout_ms) == (ssize_t)want;
	close(fd);
	if (ok && name) {
		memcpy(name, buf, 2);
		name[2] = '\0';
	}
	return ok ? 0 : -EIO;
}

/* A TCP connection from the client (from src when not NULL) to the VIP:
 * the target's name ("t1".."t3"), or "" when it failed. */
static void ask_tcp(struct lab *lab, const char *src, char name[4])
{
	int rc = exchange(lab, PORT, src, 3000, name);
	cr_assert(rc != -ENOTSOCK, "%s", t_netns_err());
	cr_assert(rc != -EADDRNOTAVAIL, "bind %s: %s", src ? src : "", strerror(errno));
}

/* 1: new connections over the hosts. */
static void spread(struct lab *lab)
{
	int64_t before[HOSTS + 1], after[HOSTS + 1];
	for (int h = 1; h <= HOSTS; h++)
		before[h] = host_stat(lab, h, "accepted");
	int ok = 0, n = 300;
	for (int i = 0; i < n; i++) {
		char name[4];
		ask_tcp(lab, NULL, name);
		ok += name[0] == 't';
	}
	cr_expect_eq(ok, n, "%d of %d connections answered", ok, n);
	char text[128] = "";
	for (int h = 1; h <= HOSTS; h++) {
		after[h] = host_stat(lab, h, "accepted");
		size_t used = strlen(text);
		snprintf(text + used, sizeof(text) - used, " h%d %lld", h,
			 (long long)(after[h] - before[h]));
	}
	cr_log_info("check 1, %d new connections by host:%s", n, text);
	for (int h = 1; h <= HOSTS; h++)
		cr_expect_geq(after[h] - before[h], n / 6, "h%d took too few:%s", h, text);
}

/* 2: 1,000 clients (sources 10.50.128.1 onwards, local to the client
 * namespace through a local route), three connections each. */
static void agreement(struct lab *lab)
{
	int rc = t_netns_ip(&lab->client, "route add local 10.50.128.0/17 dev lo");
	cr_assert_eq(rc, 0, "%s", t_netns_err());
	int clients = 1000, agree = 0, answered = 0, seen[4] = { 0 };
	for (int k = 0; k < clients; k++) {
		char src[32], first[4], name[4];
		snprintf(src, sizeof(src), "10.50.%d.%d", 128 + (k + 1) / 250, 1 + (k + 1) % 250);
		ask_tcp(lab, src, first);
		bool same = first[0] == 't';
		for (int c = 1; c < 3; c++) {
			ask_tcp(lab, src, name);
			same = same && strcmp(name, first) == 0;
		}
		answered += first[0] == 't';
		agree += same;
		if (first[0] == 't' && first[1] >= '1' && first[1] <= '3')
			seen[first[1] - '0']++;
	}
	cr_log_info("check 2, %d clients x 3 connections: %d answered, %d (%.1f%%) reached one "
		    "target each time; clients by target: t1 %d, t2 %d, t3 %d", clients, answered,
		    agree, 100.0 * agree / clients, seen[1], seen[2], seen[3]);
	cr_expect_eq(agree, clients, "%d of %d clients reached one target", agree, clients);
	for (int t = 1; t <= 3; t++)
		cr_expect_gt(seen[t], clients / 6, "t%d had %d clients", t, seen[t]);
}

/* 3: a UDP flow, its host stopped. */
static void udp_moves(struct lab *lab)
{
	int fd = t_netns_socket(&lab->client, AF_INET, SOCK_DGRAM, 0);
	cr_assert_geq(fd, 0, "%s", t_netns_err());
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(PORT) };
	inet_pton(AF_INET, VIP, &to.sin_addr);
	cr_assert_eq(connect(fd, (struct sockaddr *)&to, sizeof(to)), 0);
	int64_t before[HOSTS + 1];
	for (int h = 1; h <= HOSTS; h++)
		before[h] = host_stat(lab, h, "udp_in");
	char first[8] = "", got[8];
	for (int i = 0; i < 5 && !first[0]; i++) {
		cr_assert_eq(send(fd, "x", 1, 0), 1);
		struct pollfd p = { fd, POLLIN, 0 };
		if (poll(&p, 1, 500) == 1 && recv(fd, got, sizeof(got), 0) >= 2)
			memcpy(first, got, 2);
	}
	cr_assert(first[0] == 't', "the UDP flow had no answer");
	int carrier = 0;
	for (int h = 1; h <= HOSTS; h++)
		if (host_stat(lab, h, "udp_in") > before[h])
			carrier = h;
	cr_assert_gt(carrier, 0, "no host counted the flow");
	char pidfile[128];
	snprintf(pidfile, sizeof(pidfile), "%s/h%d.nlb.pid", lab->dir, carrier);
	char *pid_text = t_file_read(pidfile, NULL);
	cr_assert(pid_text, "%s", pidfile);
	pid_t pid = (pid_t)atoi(pid_text);
	free(pid_text);
	int64_t stopped = t_now_ms(), last = stopped, gap = 0, answers = 0, wrong = 0;
	cr_assert_eq(kill(pid, SIGTERM), 0);
	/* a datagram every 50 ms for 8 s: answers until the host stops, a
	 * gap perhaps, then answers through another host */
	while (t_now_ms() - stopped < 8000) {
		send(fd, "x", 1, 0);
		struct pollfd p = { fd, POLLIN, 0 };
		if (poll(&p, 1, 50) == 1 && recv(fd, got, sizeof(got), 0) >= 2) {
			int64_t now = t_now_ms();
			if (now - last > gap)
				gap = now - last;
			last = now;
			answers++;
			wrong += memcmp(got, first, 2) != 0;
		}
		t_sleep_ms(50);
	}
	int64_t after[HOSTS + 1];
	int others = 0;
	for (int h = 1; h <= HOSTS; h++)
		if (h != carrier && (after[h] = host_stat(lab, h, "udp_in")) > before[h])
			others = h;
	cr_log_info("check 3, a UDP flow through h%d (target %s), h%d stopped: %lld answers in "
		    "8 s after, the longest gap %lld ms, %lld from another target; now through h%d",
		    carrier, first, carrier, (long long)answers, (long long)gap, (long long)wrong,
		    others);
	cr_expect_eq(wrong, 0, "the flow reached another target");
	cr_expect_gt(others, 0, "the flow did not move to another host");
	cr_expect_gt(answers, 40, "the flow did not go on");
	cr_expect_lt(t_now_ms() - last, 1000, "no answer in the last second");
	close(fd);
}

/* New connections one after another, counted, while a check runs. */
struct stream {
	struct lab *lab;
	pthread_t th;
	atomic_bool stop;
	atomic_int ok, failed;
	_Atomic int64_t first_fail, last_fail;
};

static void *stream_run(void *arg)
{
	struct stream *s = arg;
	while (!atomic_load(&s->stop)) {
		if (exchange(s->lab, PORT, NULL, 1000, NULL) == 0) {
			atomic_fetch_add(&s->ok, 1);
		} else {
			int64_t now = t_now_ms();
			atomic_fetch_add(&s->failed, 1);
			int64_t zero = 0;
			atomic_compare_exchange_strong(&s->first_fail, &zero, now);
			atomic_store(&s->last_fail, now);
		}
		t_sleep_ms(5);
	}
	return NULL;
}

static void stream_start(struct stream *s, struct lab *lab)
{
	memset(s, 0, sizeof(*s));
	s->lab = lab;
	cr_assert_eq(pthread_create(&s->th, NULL, stream_run, s), 0);
}

static void stream_stop(struct stream *s)
{
	atomic_store(&s->stop, true);
	pthread_join(s->th, NULL);
}

/* The router's paths to the VIP now. */
static int paths(struct lab *lab)
{
	char *out = NULL, router[64];
	snprintf(router, sizeof(router), "%srouter", lab->prefix);
	struct t_netns r;
	snprintf(r.name, sizeof(r.name), "%s", router);
	int rc = t_netns_sh(&r, 5000, &out, "ip route show %s | grep -c nexthop || true", VIP);
	int n = rc == 0 && out ? atoi(out) : -1;
	free(out);
	return n;
}

/* Waits until the router has want paths to the VIP: the ms it took, or
 * -1 after timeout_ms. */
static int64_t wait_paths(struct lab *lab, int want, int timeout_ms)
{
	int64_t start = t_now_ms();
	while (t_now_ms() - start < timeout_ms) {
		if (paths(lab) == want)
			return t_now_ms() - start;
		t_sleep_ms(20);
	}
	return -1;
}

static pid_t host_pid(struct lab *lab, int h)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/h%d.nlb.pid", lab->dir, h);
	char *text = t_file_read(path, NULL);
	cr_assert(text, "%s", path);
	pid_t pid = (pid_t)atoi(text);
	free(text);
	return pid;
}

/* n connections to the echo port, each with a round trip. */
static void open_echo(struct lab *lab, int *fd, int n)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9001) };
	inet_pton(AF_INET, VIP, &to.sin_addr);
	for (int i = 0; i < n; i++) {
		fd[i] = t_netns_socket(&lab->client, AF_INET, SOCK_STREAM, 0);
		cr_assert_geq(fd[i], 0);
		cr_assert_eq(connect(fd[i], (struct sockaddr *)&to, sizeof(to)), 0, "%s",
			     strerror(errno));
		cr_assert_eq(t_round_trip(fd[i], "open", 4, 3000), 0, "echo connection %d", i);
	}
}

/* How many of them a round trip no longer crosses (reset, or silence). */
static int broken_echo(int *fd, int n)
{
	int broken = 0;
	for (int i = 0; i < n; i++) {
		broken += t_round_trip(fd[i], "again", 5, 2000) != 0;
		close(fd[i]);
	}
	return broken;
}

#define ESTABLISHED 30

/* 4 and 5: h1 stopped under a stream of new connections, and back. */
static void planned_stop_and_return(struct lab *lab)
{
	int fd[ESTABLISHED];
	open_echo(lab, fd, ESTABLISHED);
	int64_t on_h1 = host_stat(lab, 1, "active");
	struct stream s;
	stream_start(&s, lab);
	t_sleep_ms(300);
	pid_t pid = host_pid(lab, 1);
	cr_assert_eq(kill(pid, SIGTERM), 0);
	int64_t withdrawn = wait_paths(lab, HOSTS - 1, 5000);
	cr_assert_geq(withdrawn, 0, "the router kept its path through h1");
	/* h1 stops accepting 1 s after withdrawing, and exits */
	for (int i = 0; i < 100 && kill(pid, 0) == 0; i++)
		t_sleep_ms(50);
	t_sleep_ms(300);
	int broken = broken_echo(fd, ESTABLISHED);
	/* open new ones while h1 is away, then let it come back */
	open_echo(lab, fd, ESTABLISHED);
	int64_t back = wait_paths(lab, HOSTS, 30000);
	cr_assert_geq(back, 0, "h1 did not come back");
	t_sleep_ms(300);
	stream_stop(&s);
	int lost_to_h1 = broken_echo(fd, ESTABLISHED);
	cr_log_info("check 4, h1 stopped (SIGTERM) under a stream of new connections: the router "
		    "dropped its path %lld ms after; new connections %d succeeded, %d failed; of %d "
		    "established (%lld through h1) %d broke, so %lld through h2 and h3",
		    (long long)withdrawn, atomic_load(&s.ok), atomic_load(&s.failed), ESTABLISHED,
		    (long long)on_h1, broken, (long long)(broken - on_h1));
	cr_log_info("check 5, h1 back (started again by the supervisor, announced once its "
		    "targets were healthy): %d of %d connections established through h2 and h3 "
		    "meanwhile broke (plain multipath moved them to h1)", lost_to_h1, ESTABLISHED);
	cr_expect_eq(atomic_load(&s.failed), 0, "new connections failed across a planned stop");
	cr_expect_geq(broken, on_h1, "connections through h1 survived its stop?");
}

/* 6: SIGKILL, then silence. */
static void killed_and_silent(struct lab *lab)
{
	struct stream s;
	stream_start(&s, lab);
	t_sleep_ms(300);
	pid_t pid = host_pid(lab, 2);
	int64_t killed = t_now_ms();
	cr_assert_eq(kill(pid, SIGKILL), 0);
	/* the supervisor's next nlb finds the stale route */
	char log[128];
	snprintf(log, sizeof(log), "%s/h2.nlb.log", lab->dir);
	int64_t cleaned = -1;
	for (int i = 0; i < 200 && cleaned < 0; i++) {
		char *text = t_file_read(log, NULL);
		if (text && strstr(text, "removed the stale route " VIP "/32"))
			cleaned = t_now_ms() - killed;
		free(text);
		t_sleep_ms(50);
	}
	cr_expect_geq(cleaned, 0, "the stale route was not removed");
	cr_expect_geq(wait_paths(lab, HOSTS, 30000), 0, "h2 did not come back");
	t_sleep_ms(1000);
	stream_stop(&s);
	int failed = atomic_load(&s.failed);
	int64_t window = failed ? atomic_load(&s.last_fail) - atomic_load(&s.first_fail) : 0;
	cr_log_info("check 6, h2's nlb killed (SIGKILL): its route stayed until the next nlb "
		    "removed it %lld ms later; %d of %d new connections failed, over %lld ms",
		    (long long)cleaned, failed, failed + atomic_load(&s.ok), (long long)window);
	cr_expect_lt(t_now_ms() - atomic_load(&s.last_fail), 2000, "still failing");

	/* h3 sends nothing more (nftables drops whatever it would send), but
	 * its link stays up: only BFD can tell */
	struct t_netns h3;
	snprintf(h3.name, sizeof(h3.name), "%sh3", lab->prefix);
	stream_start(&s, lab);
	t_sleep_ms(300);
	int64_t silent = t_now_ms();
	char *out = NULL;
	int rc = t_netns_sh(&h3, 5000, &out, "nft add table inet silent && nft add chain inet "
			    "silent out '{ type filter hook output priority 0; policy drop; }'");
	cr_assert_eq(rc, 0, "nft: %s", out ? out : t_netns_err());
	free(out);
	int64_t gone = wait_paths(lab, HOSTS - 1, 5000);
	cr_assert_geq(gone, 0, "the router kept its path through the silent h3");
	t_sleep_ms(1500);
	stream_stop(&s);
	failed = atomic_load(&s.failed);
	int64_t recovered = failed ? atomic_load(&s.last_fail) - silent : 0;
	cr_log_info("check 6, h3 silent: the router dropped its path %lld ms after (BFD 100 ms x "
		    "3); %d of %d new connections failed (each gave up after 1 s), the last "
		    "failure %lld ms after h3 went silent", (long long)gone, failed,
		    failed + atomic_load(&s.ok), (long long)recovered);
	cr_expect_lt(gone, 2000, "BFD took %lld ms", (long long)gone);
	t_netns_sh(&h3, 5000, NULL, "nft delete table inet silent");
}

T_TEST(scaleout, three_hosts_behind_ecmp, .timeout = 180)
{
	struct lab lab;
	lab_up(&lab);
	spread(&lab);
	agreement(&lab);
	udp_moves(&lab);
	cr_assert_geq(wait_paths(&lab, HOSTS, 30000), 0, "the stopped host did not come back");
	planned_stop_and_return(&lab);
	killed_and_silent(&lab);
	lab_down(&lab);
}
