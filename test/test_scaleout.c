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
 *     withdraw_delay_ms) goes on through another host to the same target.
 * What the other checks of issue 21 ask (planned stops under load, a host
 * killed or silent, a host coming back) is not here yet. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <poll.h>
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

/* A TCP connection from the client (from src when not NULL) to the VIP:
 * the target's name ("t1".."t3"), or "" when it failed. */
static void ask_tcp(struct lab *lab, const char *src, char name[4])
{
	name[0] = '\0';
	int fd = t_netns_socket(&lab->client, AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0, "%s", t_netns_err());
	if (src) {
		struct sockaddr_in me = { .sin_family = AF_INET };
		inet_pton(AF_INET, src, &me.sin_addr);
		cr_assert_eq(bind(fd, (struct sockaddr *)&me, sizeof(me)), 0, "bind %s: %s", src,
			     strerror(errno));
	}
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(PORT) };
	inet_pton(AF_INET, VIP, &to.sin_addr);
	struct timeval tv = { 3, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	char buf[8];
	if (connect(fd, (struct sockaddr *)&to, sizeof(to)) == 0 &&
	    t_read_full(fd, buf, 3, 3000) == 3) {
		memcpy(name, buf, 2);
		name[2] = '\0';
	}
	close(fd);
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

T_TEST(scaleout, three_hosts_behind_ecmp, .timeout = 180)
{
	struct lab lab;
	lab_up(&lab);
	spread(&lab);
	agreement(&lab);
	udp_moves(&lab);
	lab_down(&lab);
}
