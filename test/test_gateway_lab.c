/* Suite "gateway_lab": the namespace lab gateway mode's tests and
 * benchmark run in (test/helpers/gateway_lab.h), checked on its own,
 * before any nlb runs in it.  Plain mode: TCP and UDP through gw (IPv4
 * and IPv6, to nlb-bench serve in the server namespace), pings both ways,
 * the appliances reachable from gw.  Gateway mode: the TUN is there and
 * the policy routing sends client and server traffic into it -- a ping
 * is not answered while nothing reads the TUN, and is once a reflector
 * (a stand-in for nlb that writes each packet back) does, which shows
 * that what nlb writes into the TUN is routed on to its destination.  The
 * tun driver's queue choice, which gateway mode relies on: both
 * directions of a flow come out of one queue, and out of the queue the
 * flow was last written on.  And the clean-up: every
 * namespace is gone after the lab is taken down, and after a failed
 * test's teardown, with what ran inside killed.
 *
 * Needs root; addresses exist only inside the lab's namespaces. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "geneve.h"
#include "helpers.h"
#include "helpers/gateway_lab.h"
#include "helpers/netns.h"
#include "gwx.h"

TestSuite(gateway_lab, .init = t_setup, .fini = t_teardown, .timeout = 30);

#define ECHO_PORT 9000

static const char *appliance_bin(void)
{
	const char *b = getenv("NLB_APPLIANCE");
	T_ASSERT(b && access(b, X_OK) == 0, ": NLB_APPLIANCE is not set (run through make test)");
	return b;
}

static void lab_up(struct t_gwlab *lab, enum t_gwlab_mode mode)
{
	int rc = t_gwlab_up(lab, mode);
	T_ASSERT(rc == 0, ": %s", t_netns_err());
}

/* Takes the lab down and expects each of its namespaces gone. */
static void lab_down(struct t_gwlab *lab)
{
	char names[4][T_NETNS_NAME_MAX];
	const struct t_netns *all[] = { lab->client, lab->gw, lab->server, lab->appl };
	for (int i = 0; i < 4; i++)
		snprintf(names[i], sizeof names[i], "%s", all[i] ? all[i]->name : "");
	t_gwlab_down(lab);
	for (int i = 0; i < 4; i++)
		cr_expect(!*names[i] || !t_netns_exists(names[i]), "netns %s is still there",
			  names[i]);
}

static void stop(struct t_nlb *h)
{
	int rc = t_nlb_stop(h, 5000);
	cr_expect_eq(rc, 0, "exit %d", rc);
	if (rc != 0)
		t_nlb_dump_log(h, "did not exit 0");
	t_nlb_free(h);
}

static void ping_ok(const struct t_netns *ns, const char *addr)
{
	int rc = t_netns_ping(ns, addr, 3000);
	T_ASSERT(rc == 0, ": %s", t_netns_err());
}

/* An ip command's output in ns (malloc'd), expected to succeed. */
static char *ip_out(const struct t_netns *ns, const char *const args[])
{
	const char *argv[16] = { "ip" };
	int n = 1;
	while (*args && n < 15)
		argv[n++] = *args++;
	argv[n] = NULL;
	char *out = NULL;
	int rc = t_netns_run(ns, argv, 5000, &out);
	T_ASSERT(rc == 0 && out, ": %s", t_netns_err());
	return out;
}

/* TX dropped of ifname in ns, from `ip -s link show`. */
static long tx_dropped(const struct t_netns *ns, const char *ifname)
{
	const char *args[] = { "-s", "link", "show", ifname, NULL };
	char *out = ip_out(ns, args);
	long bytes, packets, errors, dropped = -1;
	const char *tx = strstr(out, "TX:");
	const char *nl = tx ? strchr(tx, '\n') : NULL;
	if (!nl || sscanf(nl + 1, " %ld %ld %ld %ld", &bytes, &packets, &errors, &dropped) != 4)
		dropped = -1;
	free(out);
	return dropped;
}

T_TEST(gateway_lab, plain_carries_tcp_and_udp_both_families)
{
	struct t_gwlab lab;
	lab_up(&lab, T_GWLAB_PLAIN);
	struct t_nlb *s4 = gwx_serve(lab.server, T_GWLAB_SERVER4 ":9000", "--tcp-udp");
	struct t_nlb *s6 = gwx_serve(lab.server, "[" T_GWLAB_SERVER6 "]:9000", "--tcp-udp");
	gwx_tcp_echo_ok(lab.client, lab.server4, ECHO_PORT);
	gwx_tcp_echo_ok(lab.client, lab.server6, ECHO_PORT);
	gwx_udp_echo_ok(lab.client, lab.server4, ECHO_PORT);
	gwx_udp_echo_ok(lab.client, lab.server6, ECHO_PORT);
	stop(s4);
	stop(s6);
	lab_down(&lab);
}

T_TEST(gateway_lab, plain_answers_pings_both_ways)
{
	struct t_gwlab lab;
	lab_up(&lab, T_GWLAB_PLAIN);
	ping_ok(lab.client, lab.server4);
	ping_ok(lab.client, lab.server6);
	ping_ok(lab.server, lab.client4);
	ping_ok(lab.server, lab.client6);
	ping_ok(lab.gw, lab.appl4[0]);
	ping_ok(lab.gw, lab.appl4[1]);
	/* No TUN, no rules in plain mode. */
	const char *args[] = { "rule", "show", NULL };
	char *rules = ip_out(lab.gw, args);
	cr_expect(!strstr(rules, "lookup 100"), "%s", rules);
	free(rules);
	lab_down(&lab);
}

/* Without nlb the TUN has no queue, no carrier, and drops what the policy
 * routing sends it: client to server is cut, in both families, while gw
 * itself still answers (the local table comes before the rules). */
T_TEST(gateway_lab, gateway_routes_into_the_tun)
{
	struct t_gwlab lab;
	lab_up(&lab, T_GWLAB_GATEWAY);
	const char *link[] = { "-d", "link", "show", T_GWLAB_TUN, NULL };
	char *out = ip_out(lab.gw, link);
	cr_expect(strstr(out, "mtu 8500") && strstr(out, "tun type tun") &&
		  strstr(out, "multi_queue") && strstr(out, "persist on"), "%s", out);
	free(out);
	/* What the kernel would do with a packet from the client and from
	 * the server, and with one nlb writes into the TUN. */
	static const struct {
		bool v6;
		const char *dst, *src, *iif, *want;
	} route[] = {
		{ false, T_GWLAB_SERVER4, T_GWLAB_CLIENT4, T_GWLAB_IF_CLIENT, "dev nlbgw0 table 100" },
		{ false, T_GWLAB_CLIENT4, T_GWLAB_SERVER4, T_GWLAB_IF_SERVER, "dev nlbgw0 table 100" },
		{ true, T_GWLAB_SERVER6, T_GWLAB_CLIENT6, T_GWLAB_IF_CLIENT, "dev nlbgw0 table 100" },
		{ true, T_GWLAB_CLIENT6, T_GWLAB_SERVER6, T_GWLAB_IF_SERVER, "dev nlbgw0 table 100" },
		{ false, T_GWLAB_SERVER4, T_GWLAB_CLIENT4, T_GWLAB_TUN, "dev to-server" },
		{ false, T_GWLAB_CLIENT4, T_GWLAB_SERVER4, T_GWLAB_TUN, "dev to-client" },
		{ true, T_GWLAB_SERVER6, T_GWLAB_CLIENT6, T_GWLAB_TUN, "dev to-server" },
		{ true, T_GWLAB_CLIENT6, T_GWLAB_SERVER6, T_GWLAB_TUN, "dev to-client" },
	};
	for (size_t i = 0; i < sizeof route / sizeof *route; i++) {
		const char *args[] = { route[i].v6 ? "-6" : "-4", "route", "get", route[i].dst,
				       "from", route[i].src, "iif", route[i].iif, NULL };
		out = ip_out(lab.gw, args);
		cr_expect(strstr(out, route[i].want), "route get %s from %s iif %s: want \"%s\": %s",
			  route[i].dst, route[i].src, route[i].iif, route[i].want, out);
		free(out);
	}
	long dropped = tx_dropped(lab.gw, T_GWLAB_TUN);
	cr_assert_eq(t_netns_ping(lab.client, lab.server4, 1000), -ETIMEDOUT,
		     "ping through a TUN nobody reads was answered");
	cr_assert_eq(t_netns_ping(lab.client, lab.server6, 1000), -ETIMEDOUT,
		     "ping6 through a TUN nobody reads was answered");
	long now = tx_dropped(lab.gw, T_GWLAB_TUN);
	cr_expect(dropped >= 0 && now >= dropped + 4,
		  "the pings did not end in nlbgw0: TX dropped %ld, then %ld", dropped, now);
	ping_ok(lab.client, lab.gw_client4);
	ping_ok(lab.client, lab.gw_client6);
	lab_down(&lab);
}

/* With something reading the TUN and writing each packet back (what nlb
 * does once the appliance returns it), the path is whole again. */
T_TEST(gateway_lab, gateway_path_is_whole_when_the_tun_is_served)
{
	struct t_gwlab lab;
	lab_up(&lab, T_GWLAB_GATEWAY);
	struct t_nlb *s4 = gwx_serve(lab.server, T_GWLAB_SERVER4 ":9000", "--tcp-udp");
	struct t_gwlab_reflector *r = t_gwlab_reflect_start(&lab, 1, false);
	T_ASSERT(r, ": %s", t_netns_err());
	ping_ok(lab.client, lab.server4);
	ping_ok(lab.client, lab.server6);
	gwx_tcp_echo_ok(lab.client, lab.server4, ECHO_PORT);
	gwx_udp_echo_ok(lab.client, lab.server4, ECHO_PORT);
	struct t_gwlab_reflected seen;
	t_gwlab_reflect_stop(r, &seen);
	/* A ping and its reply at least, each way round: 2 + 2; TCP's
	 * handshake, data and close; the datagram and its echo. */
	cr_expect(seen.packets >= 12, "the reflector saw %lu packets", (unsigned long)seen.packets);
	cr_expect_eq(seen.write_errors, 0);
	stop(s4);
	lab_down(&lab);
}

/* Gateway mode gives each flow to the worker whose TUN queue the kernel
 * picks, and needs both directions of a flow to come out of that one
 * queue while the worker writes the flow's packets back on it
 * (doc/gateway.md, "Where a flow lives").  Four queues, every packet
 * written back on the queue it came from, 16 connections: none of them
 * is split, and they do not all share a queue. */
T_TEST(gateway_lab, tun_keeps_each_flow_on_one_queue)
{
	struct t_gwlab lab;
	lab_up(&lab, T_GWLAB_GATEWAY);
	struct t_nlb *s4 = gwx_serve(lab.server, T_GWLAB_SERVER4 ":9000", NULL);
	struct t_gwlab_reflector *r = t_gwlab_reflect_start(&lab, 4, false);
	T_ASSERT(r, ": %s", t_netns_err());
	for (int i = 0; i < 16; i++)
		gwx_tcp_echo_ok(lab.client, lab.server4, ECHO_PORT);
	/* The last connection's FIN and its answer. */
	t_sleep_ms(50);
	struct t_gwlab_reflected seen;
	t_gwlab_reflect_stop(r, &seen);
	int used = 0;
	for (int q = 0; q < 4; q++)
		used += seen.per_queue[q] > 0;
	cr_expect(seen.flows >= 16, "%u flows", seen.flows);
	cr_expect_eq(seen.split_flows, 0, "%u of %u flows came out of more than one queue",
		     seen.split_flows, seen.flows);
	cr_expect(used >= 2, "every flow on one queue: %lu %lu %lu %lu",
		  (unsigned long)seen.per_queue[0], (unsigned long)seen.per_queue[1],
		  (unsigned long)seen.per_queue[2], (unsigned long)seen.per_queue[3]);
	stop(s4);
	lab_down(&lab);
}

/* And the kernel follows the writer: with every packet written back on
 * the other queue, a packet that comes after the kernel has taken the
 * flow's last write (20 ms and more later) comes out of that write's
 * queue, not the one the flow hash gives.  One connection, a round trip
 * every 100 ms: each request is such a packet. */
T_TEST(gateway_lab, tun_queue_follows_the_last_write)
{
	struct t_gwlab lab;
	lab_up(&lab, T_GWLAB_GATEWAY);
	struct t_nlb *s4 = gwx_serve(lab.server, T_GWLAB_SERVER4 ":9000", NULL);
	struct t_gwlab_reflector *r = t_gwlab_reflect_start(&lab, 2, true);
	T_ASSERT(r, ": %s", t_netns_err());
	int fd = gwx_connect(lab.client, SOCK_STREAM, lab.server4, ECHO_PORT);
	int rc = 0;
	for (int i = 0; i < 6 && rc == 0; i++) {
		t_sleep_ms(100);
		rc = t_round_trip(fd, "ping", 4, 3000);
	}
	close(fd);
	struct t_gwlab_reflected seen;
	t_gwlab_reflect_stop(r, &seen);
	cr_expect_eq(rc, 0, "round trips through the reflector: %s", strerror(-rc));
	cr_expect(seen.settled >= 6, "%lu settled packets", (unsigned long)seen.settled);
	cr_expect_eq(seen.settled_followed, seen.settled,
		     "%lu of %lu settled packets came out of another queue than their flow's "
		     "last write", (unsigned long)(seen.settled - seen.settled_followed),
		     (unsigned long)seen.settled);
	cr_expect(seen.per_queue[0] && seen.per_queue[1], "queues: %lu, %lu",
		  (unsigned long)seen.per_queue[0], (unsigned long)seen.per_queue[1]);
	stop(s4);
	lab_down(&lab);
}

/* The appliances' side: nlb-appliance on 10.10.3.2 answers its health
 * port over HTTP and returns a GENEVE packet to gw, which sent it. */
T_TEST(gateway_lab, appliance_answers_gw)
{
	struct t_gwlab lab;
	lab_up(&lab, T_GWLAB_GATEWAY);
	const char *argv[] = { appliance_bin(), "-l", T_GWLAB_APPL4_1 ":6081", "-H",
			       T_GWLAB_APPL4_1 ":80", "-n", "a1", NULL };
	struct t_nlb *a = t_netns_spawn(lab.appl, argv);
	T_ASSERT(a, ": %s", t_netns_err());
	if (t_nlb_log_wait(a, "GENEVE on", 5000) != 0) {
		t_nlb_dump_log(a, "nlb-appliance did not start");
		T_ASSERT(false, ": nlb-appliance did not start");
	}
	/* Its health port, seen from inside appl (not from the test's own
	 * namespace, where nothing listens on 80). */
	int rc = t_netns_wait_listening(lab.appl, a, 80, 2000);
	cr_expect_eq(rc, 0, "%s", t_netns_err());
	cr_expect_eq(t_netns_listeners(lab.gw, 80), 0);
	const char *curl[] = { "curl", "-sS", "--max-time", "5", "http://" T_GWLAB_APPL4_1 ":80/",
			       NULL };
	char *page = NULL;
	rc = t_netns_run(lab.gw, curl, 8000, &page);
	cr_expect_eq(rc, 0, "curl from gw: %s", t_netns_err());
	cr_expect(page && strstr(page, "received="), "%s", page ? page : "");
	free(page);

	uint8_t pkt[NLB_GENEVE_AWS_LEN + 20], got[256];
	struct nlb_geneve_aws g = { NLB_GENEVE_PROTO_IPV4, 1, 2, 3 };
	nlb_geneve_write(pkt, &g);
	uint8_t *ip = pkt + NLB_GENEVE_AWS_LEN;	/* 10.10.1.2 -> 10.10.2.2, proto 253 */
	memset(ip, 0, 20);
	memcpy(ip, "\x45\x00\x00\x14\x00\x00\x40\x00\x40\xfd", 10);
	memcpy(ip + 12, "\x0a\x0a\x01\x02\x0a\x0a\x02\x02", 8);
	uint16_t sum = t_inet_checksum(ip, 20);
	ip[10] = (uint8_t)(sum >> 8);
	ip[11] = (uint8_t)sum;
	int fd = gwx_connect(lab.gw, SOCK_DGRAM, T_GWLAB_APPL4_1, 6081);
	ssize_t n = gwx_udp_ask(fd, pkt, sizeof pkt, got, sizeof got);
	close(fd);
	cr_expect(n == (ssize_t)sizeof pkt && !memcmp(got, pkt, sizeof pkt),
		  "GENEVE from gw to the appliance: %zd bytes back", n);
	stop(a);
	lab_down(&lab);
}

/* What a failed test leaves is reclaimed: a child process builds a lab,
 * starts a process inside that nothing registered (detached with setsid,
 * as a daemon would), marks itself failed and runs t_teardown, as
 * Criterion does after a failed assertion.  Every namespace must be gone
 * and the process dead. */
T_TEST(gateway_lab, teardown_after_a_failure_deletes_everything)
{
	int pfd[2];
	cr_assert_eq(pipe(pfd), 0);
	pid_t child = fork();
	cr_assert(child >= 0);
	if (child == 0) {
		/* No Criterion assertion in here: the child reports by pipe. */
		close(pfd[0]);
		struct t_gwlab lab;
		char msg[512] = "";
		if (t_gwlab_up(&lab, T_GWLAB_GATEWAY) == 0) {
			char *out = NULL;
			int rc = t_netns_sh(lab.server, 5000, &out,
					    "setsid sleep 60 </dev/null >/dev/null 2>&1 & echo $!");
			snprintf(msg, sizeof msg, "%s %s %s %s %d", lab.client->name, lab.gw->name,
				 lab.server->name, lab.appl->name, rc == 0 && out ? atoi(out) : -1);
			free(out);
		}
		if (write(pfd[1], msg, strlen(msg)) < 0)
			_exit(2);
		close(pfd[1]);
		/* Its "teardown reclaimed ..." line is expected: not shown. */
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (null >= 0)
			dup2(null, 2);
		t_failed();
		t_teardown();
		_exit(0);
	}
	close(pfd[1]);
	char msg[512] = "";
	ssize_t len = 0, n;
	while ((n = read(pfd[0], msg + len, sizeof msg - 1 - (size_t)len)) > 0)
		len += n;
	close(pfd[0]);
	int st;
	cr_assert_eq(waitpid(child, &st, 0), child);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child ended with status %#x", st);
	char names[4][T_NETNS_NAME_MAX];
	int pid = -1;
	cr_assert_eq(sscanf(msg, "%63s %63s %63s %63s %d", names[0], names[1], names[2],
			    names[3], &pid), 5, "the child could not build the lab: \"%s\"", msg);
	cr_assert(pid > 0, "the child could not start sleep in %s", names[2]);
	for (int i = 0; i < 4; i++)
		cr_expect(!t_netns_exists(names[i]), "netns %s survived the teardown", names[i]);
	/* Killed; reaped by init, or its subreaper, shortly after. */
	char path[64], state = 0;
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	for (int i = 0; i < 100; i++) {
		FILE *f = fopen(path, "re");
		state = 0;
		if (!f || fscanf(f, "%*d (%*[^)]) %c", &state) != 1)
			state = 0;
		if (f)
			fclose(f);
		if (!state || state == 'Z')
			break;
		t_sleep_ms(20);
	}
	cr_expect(!state || state == 'Z', "pid %d, started in %s, is still running (state %c)",
		  pid, names[2], state);
}
