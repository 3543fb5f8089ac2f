/* Suite "announce": announce = { } through the real nlb in a network
 * namespace the test makes, its service address (10.99.0.10) on lo.
 * The routes "10.99.0.10/32 dev lo table 100 proto 249 metric PID" and
 * fd99::10/128's (a listener on each) are there while the target is healthy, withdrawn when it fails
 * and back when it recovers, each as nlbctl show announce says; on
 * SIGTERM it goes first while nlb still accepts for withdraw_delay_ms;
 * a second nlb beside the first (a binary upgrade) keeps the first's
 * route and adds its own, and the route of an nlb killed with SIGKILL is
 * removed by the next start; running as "nobody", nlb keeps CAP_NET_ADMIN
 * and no other capability with announce, none without (read from
 * /proc/PID/status); the gauge nlb_announced says what is announced. */
#include <criterion/criterion.h>

#include <errno.h>
#include <linux/capability.h>
#include <linux/netlink.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "helpers/netns.h"
#include "rtnl_route.h"
#include "gwx.h"

TestSuite(announce, .init = t_setup, .fini = t_teardown, .timeout = 60);

#define VIP "10.99.0.10"
#define VIP6 "fd99::10"
#define VIP_PORT 8080
#define TARGET "127.0.0.1:9001"

struct lab {
	struct t_netns *ns;
	char sock[96];
};

static void lab_up(struct lab *lab)
{
	memset(lab, 0, sizeof(*lab));
	lab->ns = t_netns_new("announce");
	T_ASSERT(lab->ns, ": %s", t_netns_err());
	int rc = t_netns_addr(lab->ns, "lo", VIP "/32");
	T_ASSERT(rc == 0, ": %s", t_netns_err());
	rc = t_netns_addr(lab->ns, "lo", VIP6 "/128");
	T_ASSERT(rc == 0, ": %s", t_netns_err());
	snprintf(lab->sock, sizeof(lab->sock), "/tmp/nlb-announce-%d.sock", (int)getpid());
}

/* nlb in the namespace on conf (announce unless plain), as user when not
 * NULL, its admin socket at sock, its metrics on 127.0.0.1:9100 when
 * stats; once it runs. */
static struct t_nlb *nlb_start(struct lab *lab, const char *sock, const char *user, bool plain,
			       bool stats, char **conf)
{
	*conf = t_write_config(
		"%s%s%s\nlog_level = \"info\";\nworkers = 1;\n"
		"admin = { socket = \"%s\"; };\n%s\n"
		"%s\n"
		"listeners = ( { name = \"vip\"; protocol = \"tcp\"; address = \"" VIP ":%d\";\n"
		"  target_group = \"g\"; },\n"
		"  { name = \"vip6\"; protocol = \"tcp\"; address = \"[" VIP6 "]:%d\";\n"
		"  target_group = \"g\"; } );\n"
		"target_groups = ( { name = \"g\"; targets = ( { address = \"" TARGET "\"; } );\n"
		"  health_check = { protocol = \"tcp\"; interval_ms = 200; timeout_ms = 150;\n"
		"    healthy_threshold = 1; unhealthy_threshold = 1; }; } );\n",
		user ? "user = \"" : "allow_root = true;", user ? user : "", user ? "\";" : "",
		sock, stats ? "stats = { listen = \"127.0.0.1:9100\"; };" : "", plain ? "" :
		"announce = { table = 100; prefixes = ( \"" VIP "/32\", \"" VIP6 "/128\" ); "
		"withdraw_delay_ms = 1500; };", VIP_PORT, VIP_PORT);
	T_ASSERT(*conf);
	chmod(*conf, 0644);	/* readable after the drop to user */
	const char *argv[] = { t_nlb_bin(), "-c", *conf, NULL };
	struct t_nlb *n = t_netns_spawn(lab->ns, argv);
	T_ASSERT(n, ": %s", t_netns_err());
	if (t_nlb_log_wait(n, " running: ", 10000) != 0) {
		t_nlb_dump_log(n, "nlb did not start");
		T_ASSERT(false, ": nlb did not start");
	}
	return n;
}

/* The metrics of nlb's routes in table 100 (protocol 249) now, into m
 * (cap): how many there are. */
static int routes(struct lab *lab, uint32_t *m, int cap)
{
	int fd = t_netns_socket(lab->ns, AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
	T_ASSERT(fd >= 0, ": %s", t_netns_err());
	struct nlb_route r[16];
	int n = nlb_rtnl_list(fd, 100, 249, r, 16);
	close(fd);
	T_ASSERT(n >= 0, ": listing table 100: %s", strerror(-n));
	for (int i = 0; i < n && i < cap; i++) {
		char text[64];
		nlb_prefix_format(&r[i], text, sizeof(text));
		cr_expect(!strcmp(text, VIP "/32") || !strcmp(text, VIP6 "/128"), "%s", text);
		cr_expect_eq(r[i].oif, 1, "the route is on lo");
		m[i] = r[i].metric;
	}
	return n;
}

/* Waits until the routes are exactly those of pids want[0..n), two each
 * (the IPv4 and the IPv6 prefix): 0, or -ETIMEDOUT after 5 s. */
static int wait_routes(struct lab *lab, const pid_t *want, int n)
{
	for (int64_t end = t_now_ms() + 5000; t_now_ms() < end; t_sleep_ms(50)) {
		uint32_t m[16];
		int k = routes(lab, m, 16);
		if (k != 2 * n)
			continue;
		int found = 0;
		for (int i = 0; i < n; i++)
			for (int j = 0; j < k; j++)
				found += m[j] == (uint32_t)want[i];
		if (found == 2 * n)
			return 0;
	}
	return -ETIMEDOUT;
}

static void show_announce(const char *sock, const char *state)
{
	char out[512];
	int rc = t_admin_command(sock, "show announce", out, sizeof(out));
	cr_assert_eq(rc, 0, "show announce: %s (%s)", out, strerror(-rc));
	cr_expect(strstr(out, "prefix=" VIP "/32 table=100 protocol=249") != NULL, "%s", out);
	cr_expect(strstr(out, "prefix=" VIP6 "/128 table=100 protocol=249") != NULL, "%s", out);
	cr_expect(strstr(out, state) != NULL, "show announce: %s, not %s", out, state);
}

/* nlb_announced's sample for the VIP, from the metrics page: 0 or 1,
 * -1 when there is none. */
static int gauge(struct lab *lab)
{
	int fd = gwx_connect(lab->ns, SOCK_STREAM, "127.0.0.1", 9100);
	static const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";
	cr_assert_eq(t_write_all(fd, req, sizeof(req) - 1), 0);
	static char page[1 << 16];
	ssize_t n = t_read_full(fd, page, sizeof(page) - 1, 3000);
	close(fd);
	cr_assert_gt(n, 0, "no metrics page");
	page[n] = '\0';
	const char *at = strstr(page, "nlb_announced{prefix=\"" VIP "/32\"} ");
	return at ? at[strlen("nlb_announced{prefix=\"" VIP "/32\"} ")] - '0' : -1;
}

static struct t_nlb *target_start(struct lab *lab)
{
	return gwx_serve(lab->ns, TARGET, NULL);
}

static void target_stop(struct t_nlb *t)
{
	t_nlb_stop(t, 5000);
	t_nlb_free(t);
}

/* The listener's route follows its target's health, and goes first at
 * SIGTERM: nlb still serves the address during the delay.  As nobody,
 * so the routes change after the privilege drop too. */
T_TEST(announce, route_follows_health_and_sigterm_withdraws_first)
{
	struct lab lab;
	lab_up(&lab);
	char *conf;
	struct t_nlb *n = nlb_start(&lab, lab.sock, "nobody", false, true, &conf);
	pid_t none[1] = { 0 };
	cr_expect_eq(routes(&lab, (uint32_t *)none, 0), 0, "announced with no healthy target");
	show_announce(lab.sock, "state=withdrawn");
	cr_expect_eq(gauge(&lab), 0);
	struct t_nlb *t = target_start(&lab);
	pid_t me[1] = { n->pid };
	cr_assert_eq(wait_routes(&lab, me, 1), 0, "no route once the target is healthy");
	show_announce(lab.sock, "state=announced");
	cr_expect_eq(gauge(&lab), 1);
	target_stop(t);
	cr_assert_eq(wait_routes(&lab, me, 0), 0, "the route stayed with the target down");
	show_announce(lab.sock, "state=withdrawn");
	t = target_start(&lab);
	cr_assert_eq(wait_routes(&lab, me, 1), 0, "no route once the target is back");

	cr_assert_eq(kill(n->pid, SIGTERM), 0);
	cr_assert_eq(wait_routes(&lab, me, 0), 0, "SIGTERM did not withdraw");
	/* withdrawn, and still serving for the delay */
	int fd = gwx_connect(lab.ns, SOCK_STREAM, VIP, VIP_PORT);
	cr_expect_eq(t_round_trip(fd, "still here", 10, 3000), 0, "nothing served during the delay");
	close(fd);
	cr_expect_eq(t_nlb_wait(n, 10000), 0, "nlb's exit");
	cr_expect(t_nlb_log_wait(n, "2 routes withdrawn; accepting for 1500 ms more", 10) == 0);
	t_nlb_free(n);
	target_stop(t);
	t_file_remove(conf);
	unlink(lab.sock);
	t_netns_free(lab.ns);
}

/* Each process owns its route: a second nlb (as in a binary upgrade)
 * adds its own beside the first's; the first killed with SIGKILL leaves
 * its route, which the next nlb to start removes, keeping the second's. */
T_TEST(announce, each_process_owns_its_route_and_stale_ones_go)
{
	struct lab lab;
	lab_up(&lab);
	struct t_nlb *t = target_start(&lab);
	char *conf_a, *conf_b, *conf_c, sock_b[sizeof(lab.sock) + 2], sock_c[sizeof(lab.sock) + 2];
	snprintf(sock_b, sizeof(sock_b), "%s.b", lab.sock);
	snprintf(sock_c, sizeof(sock_c), "%s.c", lab.sock);
	struct t_nlb *a = nlb_start(&lab, lab.sock, NULL, false, false, &conf_a);
	pid_t one[1] = { a->pid };
	cr_assert_eq(wait_routes(&lab, one, 1), 0);
	struct t_nlb *b = nlb_start(&lab, sock_b, NULL, false, false, &conf_b);
	pid_t two[2] = { a->pid, b->pid };
	cr_assert_eq(wait_routes(&lab, two, 2), 0, "the two nlb do not both announce");
	cr_expect(t_nlb_log_wait(b, "is nlb process", 10) == 0, "b did not keep a's route");

	cr_assert_eq(kill(a->pid, SIGKILL), 0);
	t_nlb_wait(a, 5000);
	cr_expect_eq(wait_routes(&lab, two, 2), 0, "a's route went with it");
	struct t_nlb *c = nlb_start(&lab, sock_c, NULL, false, false, &conf_c);
	pid_t after[2] = { b->pid, c->pid };
	cr_assert_eq(wait_routes(&lab, after, 2), 0, "a's stale route was not removed");
	cr_expect(t_nlb_log_wait(c, "removed the stale route " VIP "/32", 10) == 0);

	cr_expect_eq(t_nlb_stop(b, 10000), 0);
	cr_expect_eq(t_nlb_stop(c, 10000), 0);
	pid_t none[1] = { 0 };
	cr_expect_eq(wait_routes(&lab, none, 0), 0, "routes left after both stopped");
	t_nlb_free(a);
	t_nlb_free(b);
	t_nlb_free(c);
	target_stop(t);
	t_file_remove(conf_a);
	t_file_remove(conf_b);
	t_file_remove(conf_c);
	unlink(lab.sock);
	unlink(sock_b);
	unlink(sock_c);
	t_netns_free(lab.ns);
}

/* CapEff and CapPrm of pid, from /proc. */
static void caps(pid_t pid, unsigned long long *eff, unsigned long long *prm)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	cr_assert(f, "%s: %s", path, strerror(errno));
	*eff = *prm = ~0ull;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "CapEff: %llx", eff);
		sscanf(line, "CapPrm: %llx", prm);
	}
	fclose(f);
}

T_TEST(announce, keeps_cap_net_admin_only_with_announce)
{
	struct lab lab;
	lab_up(&lab);
	for (int plain = 0; plain < 2; plain++) {
		char *conf;
		struct t_nlb *n = nlb_start(&lab, lab.sock, "nobody", plain, false, &conf);
		unsigned long long eff, prm;
		caps(n->pid, &eff, &prm);
		unsigned long long want = plain ? 0 : 1ull << CAP_NET_ADMIN;
		cr_expect_eq(eff, want, "%s: CapEff %llx", plain ? "without announce" :
			     "with announce", eff);
		cr_expect_eq(prm, want, "%s: CapPrm %llx", plain ? "without announce" :
			     "with announce", prm);
		cr_expect_eq(t_nlb_stop(n, 10000), 0);
		t_nlb_free(n);
		t_file_remove(conf);
		unlink(lab.sock);
	}
	t_netns_free(lab.ns);
}
