/* Suite "reload": SIGHUP adds, removes and moves listeners and target
 * groups (TCP and UDP) and applies their settings in place, end to end
 * through the real nlb, without dropping an established connection or a
 * UDP flow; what only a restart applies (workers, cpus, the other keys
 * the key tables mark so) is reported key by key, kept at its running
 * value, and the rest still applied.  (Target lists and draining are
 * suite "drain".) */
#include <criterion/criterion.h>

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"
#include "px.h"
#include "udp_srv.h"

TestSuite(reload, .init = t_setup, .fini = t_teardown);

static void round_trip_ok(struct px *p, int fd, const char *what)
{
	int rc = t_round_trip(fd, "ping", 4, 3000);
	px_assert(p, rc == 0, "%s: round trip through nlb: %s", what, strerror(-rc));
}

/* nlb on text, serving once it says so. */
static void start_text(struct px *p, const char *text)
{
	memset(p, 0, sizeof(*p));
	p->conf_path = t_write_config("%s", text);
	T_ASSERT(p->conf_path);
	p->nlb = t_nlb_start(p->conf_path);
	T_ASSERT(p->nlb);
	px_assert(p, t_nlb_log_wait(p->nlb, " running: ", 5000) == 0, "nlb did not start");
}

static void reload_ok(struct px *p, const char *text)
{
	int applied = px_reload_text(p, text);
	px_assert(p, applied == 1, "the reload was not applied (%d)", applied);
}

/* A listener removed by reload closes at once for new clients; its open
 * connection goes on to its natural end, then the listener is gone; a
 * listener added serves at once; one moved to another port under the
 * same name serves there. */
T_TEST(reload, listeners_added_and_removed, .timeout = 30)
{
	struct t_server *t = t_server_start(T_SRV_ECHO, 0);
	T_ASSERT(t);
	uint16_t pa = t_free_port(), pb = t_free_port(), pc = t_free_port(), pc2 = t_free_port();
	uint16_t pt = t_server_port(t);
	char v1[1024], v2[1024];
	snprintf(v1, sizeof(v1),
		 "workers = 2;\n"
		 "listeners = ( { name = \"a\"; address = \"127.0.0.1:%u\"; target_group = \"g\"; },\n"
		 "  { name = \"c\"; address = \"127.0.0.1:%u\"; target_group = \"g\"; } );\n"
		 "target_groups = ( { name = \"g\"; algorithm = \"round_robin\";"
		 " targets = ( { address = \"127.0.0.1:%u\"; } ); } );\n", pa, pc, pt);
	snprintf(v2, sizeof(v2),
		 "workers = 2;\n"
		 "listeners = ( { name = \"c\"; address = \"127.0.0.1:%u\"; target_group = \"g\"; },\n"
		 "  { name = \"b\"; address = \"127.0.0.1:%u\"; target_group = \"g\"; } );\n"
		 "target_groups = ( { name = \"g\"; algorithm = \"round_robin\";"
		 " targets = ( { address = \"127.0.0.1:%u\"; } ); } );\n", pc2, pb, pt);
	struct px p;
	start_text(&p, v1);
	int c = t_connect(pa);
	px_assert(&p, c >= 0, "connect a: %s", strerror(-c));
	round_trip_ok(&p, c, "a, before");
	reload_ok(&p, v2);
	px_assert(&p, t_nlb_log_contains(p.nlb, "listeners added=2 removed=2; 0 changes need a restart"),
		  "the summary does not count the listeners");
	px_assert(&p, t_nlb_log_contains(p.nlb, "listener a: removed"), "no removal line");
	int b = t_connect(pb);
	px_assert(&p, b >= 0, "connect b after the reload: %s", strerror(-b));
	round_trip_ok(&p, b, "b, added");
	t_close(b);
	int m = t_connect(pc2);
	px_assert(&p, m >= 0, "c at its new port: %s", strerror(-m));
	round_trip_ok(&p, m, "c, moved");
	t_close(m);
	/* the workers close their sockets at their next tick */
	int rc = 0;
	for (int i = 0; i < 100; i++) {
		rc = t_connect(pa);
		if (rc < 0)
			break;
		t_close(rc);
		t_sleep_ms(20);
	}
	px_assert(&p, rc == -ECONNREFUSED, "a still accepts after its removal (%d)", rc);
	rc = t_connect(pc);
	px_assert(&p, rc == -ECONNREFUSED, "c still accepts at its old port (%d)", rc);
	round_trip_ok(&p, c, "a's open connection, after the reload");
	px_assert(&p, !t_nlb_log_contains(p.nlb, "listener a: closed"),
		  "a closed while a connection was open on it");
	t_close(c);
	px_assert(&p, t_nlb_log_wait(p.nlb, "listener a: closed", 3000) == 0,
		  "the removed listener never finished");
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "shutdown_reset"), 0);
	px_free(&p);
	t_server_free(t);
}

/* Groups added and removed, and a UDP listener added to an nlb that
 * started with TCP only (so with no UDP buffers or flow table): the
 * listener switched to an added group sends new clients there while its
 * open connection stays with the removed group's target, which drains;
 * the UDP listener serves at once; a later reload takes the removed
 * group back (its slot, by name) and removes the UDP listener, whose
 * open flow goes on. */
T_TEST(reload, groups_and_udp_listener_added_and_removed, .timeout = 40)
{
	struct t_server *ta = t_server_start(T_SRV_ECHO, 0), *tb = t_server_start(T_SRV_ECHO, 0);
	struct t_udp_server *us = t_udp_server_start("127.0.0.1", 0, false);
	T_ASSERT(ta && tb && us);
	uint16_t pa = t_free_port(), pu = t_free_port();
	char v1[1024], v2[1024], v3[1024];
	snprintf(v1, sizeof(v1),
		 "workers = 2;\n"
		 "listeners = ( { name = \"a\"; address = \"127.0.0.1:%u\"; target_group = \"g1\"; } );\n"
		 "target_groups = ( { name = \"g1\"; algorithm = \"round_robin\";"
		 " deregistration_delay_ms = 60000;"
		 " targets = ( { address = \"127.0.0.1:%u\"; } ); } );\n", pa, t_server_port(ta));
	snprintf(v2, sizeof(v2),
		 "workers = 2;\n"
		 "listeners = ( { name = \"a\"; address = \"127.0.0.1:%u\"; target_group = \"g2\"; },\n"
		 "  { name = \"u\"; protocol = \"udp\"; address = \"127.0.0.1:%u\"; target_group = \"g3\"; } );\n"
		 "target_groups = ( { name = \"g2\"; targets = ( { address = \"127.0.0.1:%u\"; } ); },\n"
		 "  { name = \"g3\"; algorithm = \"least_conn\";"
		 " targets = ( { address = \"127.0.0.1:%u\"; } ); } );\n",
		 pa, pu, t_server_port(tb), t_udp_server_port(us));
	snprintf(v3, sizeof(v3),
		 "workers = 2;\n"
		 "listeners = ( { name = \"a\"; address = \"127.0.0.1:%u\"; target_group = \"g1\"; } );\n"
		 "target_groups = ( { name = \"g1\"; algorithm = \"round_robin\";"
		 " targets = ( { address = \"127.0.0.1:%u\"; } ); } );\n", pa, t_server_port(ta));
	struct px p;
	start_text(&p, v1);
	int c = t_connect(pa);
	round_trip_ok(&p, c, "a, before");

	reload_ok(&p, v2);
	px_assert(&p, t_nlb_log_contains(p.nlb, "target groups added=2 removed=1; listeners added=1 "
					 "removed=0; 0 changes need a restart"),
		  "the summary does not count the groups and the listener");
	px_assert(&p, t_nlb_log_contains(p.nlb, "target group g1: removed"), "no removal line");
	px_assert(&p, t_nlb_log_contains(p.nlb, "listener a: target group g1 -> g2"),
		  "no line for the listener's new group");
	round_trip_ok(&p, c, "the open connection, its group removed");
	int d = t_connect(pa);
	round_trip_ok(&p, d, "a new client of a");
	px_assert(&p, t_server_accepted(tb) == 1 && t_server_accepted(ta) == 1,
		  "the new client went to the old group (a %u, b %u)", t_server_accepted(ta),
		  t_server_accepted(tb));
	int u = t_udp_socket("127.0.0.1");
	char ans[256];
	unsigned target = 0, via = 0;
	ssize_t n = -1;
	/* the workers take the listener up at their next tick */
	for (int i = 0; i < 20 && n <= 0; i++)
		n = t_udp_ask(u, "127.0.0.1", pu, "one", 3, ans, sizeof(ans), 250);
	px_assert(&p, n > 0 && t_udp_answer_parse(ans, &target, &via) == 0,
		  "the added UDP listener does not answer");
	px_assert(&p, target == t_udp_server_port(us), "the flow went to %u", target);
	px_assert(&p, !t_nlb_log_contains(p.nlb, "in group g1: draining ended"),
		  "g1's target finished draining with a connection open");
	t_close(c);
	px_assert(&p, t_nlb_log_wait(p.nlb, "in group g1: draining ended", 3000) == 0,
		  "the removed group's target never finished draining");

	reload_ok(&p, v3);
	px_assert(&p, t_nlb_log_contains(p.nlb, "target groups added=1 removed=2; listeners added=0 "
					 "removed=1; 0 changes need a restart"),
		  "the second summary is wrong");
	round_trip_ok(&p, d, "the connection to g2, removed since");
	int e = t_connect(pa);
	round_trip_ok(&p, e, "a new client of a, back on g1");
	px_assert(&p, t_server_accepted(ta) == 2, "g1 did not come back (%u)", t_server_accepted(ta));
	unsigned target2 = 0, via2 = 0;
	n = t_udp_ask(u, "127.0.0.1", pu, "two", 3, ans, sizeof(ans), 2000);
	px_assert(&p, n > 0 && t_udp_answer_parse(ans, &target2, &via2) == 0,
		  "the open flow of the removed UDP listener stopped");
	px_assert(&p, target2 == target && via2 == via, "the flow moved");
	t_close(d);
	t_close(e);
	close(u);
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "client_reset") + px_stat(&p, "target_reset") +
		     px_stat(&p, "drain_reset"), 0);
	cr_expect_geq(px_stat(&p, "udp_in"), 2);
	px_free(&p);
	t_server_free(ta);
	t_server_free(tb);
	t_udp_server_free(us);
}

/* A health check added by reload takes a dead target out (the live one
 * keeps serving meanwhile: it starts from its running state, healthy);
 * removed again, every target takes flows as in a group without one. */
T_TEST(reload, health_check_added_and_removed, .timeout = 30)
{
	struct t_server *up = t_server_start(T_SRV_ECHO, 0);
	T_ASSERT(up);
	uint16_t pl = t_free_port(), down = t_free_port();
	char v1[1024], v2[1024];
	const char *fmt =
		"workers = 1;\n"
		"listeners = ( { name = \"l\"; address = \"127.0.0.1:%u\"; target_group = \"g\"; } );\n"
		"target_groups = ( { name = \"g\"; algorithm = \"round_robin\"; connect_retries = 1; %s\n"
		" targets = ( { address = \"127.0.0.1:%u\"; }, { address = \"127.0.0.1:%u\"; } ); } );\n";
	snprintf(v1, sizeof(v1), fmt, pl, "", t_server_port(up), down);
	snprintf(v2, sizeof(v2), fmt, pl, "health_check = { interval_ms = 100; timeout_ms = 500;"
		 " healthy_threshold = 2; unhealthy_threshold = 2; };", t_server_port(up), down);
	char down_line[128], up_line[128];
	snprintf(down_line, sizeof(down_line), "target 127.0.0.1:%u in group g: healthy -> unhealthy",
		 down);
	snprintf(up_line, sizeof(up_line), "target 127.0.0.1:%u in group g: healthy ->",
		 t_server_port(up));
	struct px p;
	start_text(&p, v1);
	reload_ok(&p, v2);
	px_assert(&p, t_nlb_log_wait(p.nlb, down_line, 3000) == 0,
		  "the added check did not take the dead target out");
	px_assert(&p, !t_nlb_log_contains(p.nlb, up_line), "the live target changed state");
	for (int i = 0; i < 4; i++) {
		int c = t_connect(pl);
		round_trip_ok(&p, c, "with the check");
		t_close(c);
	}
	reload_ok(&p, v1);
	for (int i = 0; i < 4; i++) {
		int c = t_connect(pl);
		round_trip_ok(&p, c, "without the check");	/* retried on the live one */
		t_close(c);
	}
	px_stop_ok(&p);
	/* Round robin over two: the dead one was offered again only once
	 * the check was gone, 2 of those 4 times. */
	cr_expect_eq(px_stat(&p, "connect_refused"), 2);
	px_free(&p);
	t_server_free(up);
}

/* A listener changed in place: a deny list added by reload refuses new
 * clients from that address while an open connection from it goes on. */
T_TEST(reload, listener_changed_in_place, .timeout = 30)
{
	struct t_server *t = t_server_start(T_SRV_ECHO, 0);
	T_ASSERT(t);
	uint16_t pl = t_free_port(), pt = t_server_port(t);
	char v1[1024], v2[1024];
	const char *fmt =
		"workers = 1;\n"
		"listeners = ( { name = \"l\"; address = \"127.0.0.1:%u\"; target_group = \"g\"; %s } );\n"
		"target_groups = ( { name = \"g\"; targets = ( { address = \"127.0.0.1:%u\"; } ); } );\n";
	snprintf(v1, sizeof(v1), fmt, pl, "", pt);
	snprintf(v2, sizeof(v2), fmt, pl, "deny = [ \"127.0.0.5\" ]; idle_timeout_ms = 60000;", pt);
	struct px p;
	start_text(&p, v1);
	int c = t_connect_from("127.0.0.5", 0, pl);
	px_assert(&p, c >= 0, "connect: %s", strerror(-c));
	round_trip_ok(&p, c, "before");
	reload_ok(&p, v2);
	px_assert(&p, t_nlb_log_contains(p.nlb, "needs a restart") ||
		  t_nlb_log_contains(p.nlb, "0 changes need a restart"), "no summary");
	round_trip_ok(&p, c, "the open connection from the newly denied address");
	int d = t_connect_from("127.0.0.5", 0, pl);
	px_assert(&p, d >= 0, "connect: %s", strerror(-d));
	int rc = t_round_trip(d, "ping", 4, 2000);
	px_assert(&p, rc == -ECONNRESET || rc == -EPIPE, "a new client from 127.0.0.5 got in (%d)", rc);
	t_close(d);
	int e = t_connect_from("127.0.0.6", 0, pl);
	round_trip_ok(&p, e, "another address");
	t_close(e);
	t_close(c);
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "acl_denied"), 1);
	px_free(&p);
	t_server_free(t);
}

/* Accepts one connection nlb makes to lfd within 3 s; -1 if none. */
static int accept_one(int lfd)
{
	for (int i = 0; i < 300; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			return fd;
		t_sleep_ms(10);
	}
	return -1;
}

/* A group changed in place: PROXY headers for new connections (the open
 * one is not touched), and other settings, in a file whose listeners and
 * groups are also written in another order. */
T_TEST(reload, group_changed_in_place, .timeout = 30)
{
	uint16_t tport, lport = t_free_port(), lport2 = t_free_port();
	int lfd = t_tcp_listener("127.0.0.1", &tport);
	T_ASSERT(lfd >= 0);
	struct t_server *other = t_server_start(T_SRV_ECHO, 0);
	T_ASSERT(other);
	char v1[1536], v2[1536];
	snprintf(v1, sizeof(v1),
		 "workers = 1;\n"
		 "listeners = ( { name = \"l\"; address = \"127.0.0.1:%u\"; target_group = \"g\"; },\n"
		 "  { name = \"m\"; address = \"127.0.0.1:%u\"; target_group = \"h\"; } );\n"
		 "target_groups = ( { name = \"g\"; targets = ( { address = \"127.0.0.1:%u\"; } ); },\n"
		 "  { name = \"h\"; targets = ( { address = \"127.0.0.1:%u\"; } ); } );\n",
		 lport, lport2, tport, t_server_port(other));
	snprintf(v2, sizeof(v2),
		 "workers = 1;\n"
		 "listeners = ( { name = \"m\"; address = \"127.0.0.1:%u\"; target_group = \"h\"; },\n"
		 "  { name = \"l\"; address = \"127.0.0.1:%u\"; target_group = \"g\"; } );\n"
		 "target_groups = ( { name = \"h\"; algorithm = \"round_robin\";"
		 " targets = ( { address = \"127.0.0.1:%u\"; } ); },\n"
		 "  { name = \"g\"; proxy_protocol = \"v1\"; connect_timeout_ms = 500;"
		 " algorithm = \"least_conn\"; targets = ( { address = \"127.0.0.1:%u\"; } ); } );\n",
		 lport2, lport, t_server_port(other), tport);
	struct px p;
	start_text(&p, v1);
	int c = t_connect(lport);
	px_assert(&p, c >= 0 && t_write_all(c, "one", 3) == 0, "connect before");
	int t1 = accept_one(lfd);
	px_assert(&p, t1 >= 0, "nlb did not connect to the target");
	char buf[128];
	ssize_t n = t_read_full(t1, buf, 3, 2000);
	px_assert(&p, n == 3 && memcmp(buf, "one", 3) == 0, "before: the target got %zd bytes", n);
	reload_ok(&p, v2);
	px_assert(&p, t_nlb_log_contains(p.nlb, "removed=0; 0 changes need a restart"),
		  "the settings were not applied in place");
	int d = t_connect(lport);
	px_assert(&p, d >= 0 && t_write_all(d, "two", 3) == 0, "connect after");
	int t2 = accept_one(lfd);
	px_assert(&p, t2 >= 0, "nlb did not connect to the target after the reload");
	char want[64];
	int wl = snprintf(want, sizeof(want), "PROXY TCP4 127.0.0.1 127.0.0.1 %u %u\r\ntwo",
			  t_udp_local_port(d), lport);
	n = t_read_full(t2, buf, (size_t)wl, 2000);
	buf[n > 0 ? n : 0] = '\0';
	px_assert(&p, n == wl && memcmp(buf, want, (size_t)wl) == 0,
		  "after: the target got \"%s\", not \"%s\"", buf, want);
	/* the open connection goes on, without a header in the middle */
	px_assert(&p, t_write_all(c, "three", 5) == 0, "write");
	n = t_read_full(t1, buf, 5, 2000);
	px_assert(&p, n == 5 && memcmp(buf, "three", 5) == 0, "the open connection got %zd bytes", n);
	int e = t_connect(lport2);
	round_trip_ok(&p, e, "the other listener, written in another order");
	t_close(e);
	t_close(c);
	t_close(d);
	close(t1);
	close(t2);
	close(lfd);
	px_stop_ok(&p);
	px_free(&p);
	t_server_free(other);
}

/* The test: a long-lived TCP connection and a live UDP flow both
 * keep working through a reload that replaces the target set and changes
 * listener and group settings; new flows see the new targets. */
T_TEST(reload, connections_and_flows_survive, .timeout = 30)
{
	struct t_udp_server *a = t_udp_server_start("127.0.0.1", 0, true);
	struct t_udp_server *b = t_udp_server_start("127.0.0.1", 0, true);
	T_ASSERT(a && b);
	uint16_t pl = t_free_port();
	char v1[1536], v2[1536];
	snprintf(v1, sizeof(v1),
		 "workers = 2;\n"
		 "listeners = ( { name = \"l\"; protocol = \"tcp_udp\"; address = \"127.0.0.1:%u\";"
		 " target_group = \"g\"; } );\n"
		 "target_groups = ( { name = \"g\"; deregistration_delay_ms = 60000;"
		 " targets = ( { address = \"127.0.0.1:%u\"; } ); } );\n",
		 pl, t_udp_server_port(a));
	snprintf(v2, sizeof(v2),
		 "workers = 2;\n"
		 "listeners = ( { name = \"l\"; protocol = \"tcp_udp\"; address = \"127.0.0.1:%u\";"
		 " target_group = \"g\"; udp_idle_timeout_ms = 60000; } );\n"
		 "target_groups = ( { name = \"g\"; deregistration_delay_ms = 60000;"
		 " connect_timeout_ms = 1000; connect_retries = 1;"
		 " targets = ( { address = \"127.0.0.1:%u\"; } ); } );\n",
		 pl, t_udp_server_port(b));
	struct px p;
	start_text(&p, v1);
	int c = t_connect(pl);
	round_trip_ok(&p, c, "tcp before");
	int u = t_udp_socket("127.0.0.1");
	char ans[256];
	unsigned target, via, target2, via2;
	ssize_t n = t_udp_ask(u, "127.0.0.1", pl, "one", 3, ans, sizeof(ans), 2000);
	px_assert(&p, n > 0 && t_udp_answer_parse(ans, &target, &via) == 0, "udp before");
	px_assert(&p, target == t_udp_server_port(a), "udp flow on %u", target);
	reload_ok(&p, v2);
	round_trip_ok(&p, c, "tcp after");
	n = t_udp_ask(u, "127.0.0.1", pl, "two", 3, ans, sizeof(ans), 2000);
	px_assert(&p, n > 0 && t_udp_answer_parse(ans, &target2, &via2) == 0, "udp after");
	px_assert(&p, target2 == target && via2 == via, "the UDP flow moved: %u via %u, then %u via %u",
		  target, via, target2, via2);
	int u2 = t_udp_socket("127.0.0.1");
	n = t_udp_ask(u2, "127.0.0.1", pl, "new", 3, ans, sizeof(ans), 2000);
	px_assert(&p, n > 0 && t_udp_answer_parse(ans, &target2, &via2) == 0, "new udp flow");
	px_assert(&p, target2 == t_udp_server_port(b), "a new flow went to %u", target2);
	px_assert(&p, t_nlb_log_contains(p.nlb, "removed=0; 0 changes need a restart"),
		  "not applied in place");
	t_close(c);
	close(u);
	close(u2);
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "client_reset") + px_stat(&p, "target_reset") +
		     px_stat(&p, "drain_reset"), 0);
	px_free(&p);
	t_udp_server_free(a);
	t_udp_server_free(b);
}

/* workers cannot change without a restart: nlb says so and applies the
 * rest (here a deny list). */
T_TEST(reload, workers_need_a_restart, .timeout = 30)
{
	struct t_server *t = t_server_start(T_SRV_ECHO, 0);
	T_ASSERT(t);
	uint16_t pl = t_free_port(), pt = t_server_port(t);
	char v1[1024], v2[1024];
	snprintf(v1, sizeof(v1),
		 "workers = 1;\n"
		 "listeners = ( { name = \"l\"; address = \"127.0.0.1:%u\"; target_group = \"g\"; } );\n"
		 "target_groups = ( { name = \"g\"; targets = ( { address = \"127.0.0.1:%u\"; } ); } );\n",
		 pl, pt);
	snprintf(v2, sizeof(v2),
		 "workers = 2;\n"
		 "listeners = ( { name = \"l\"; address = \"127.0.0.1:%u\"; target_group = \"g\";"
		 " deny = [ \"127.0.0.7\" ]; } );\n"
		 "target_groups = ( { name = \"g\"; targets = ( { address = \"127.0.0.1:%u\"; } ); } );\n",
		 pl, pt);
	struct px p;
	start_text(&p, v1);
	reload_ok(&p, v2);
	px_assert(&p, t_nlb_log_contains(p.nlb, "workers\\\" changed; not applied until a restart"),
		  "no restart line for workers");
	px_assert(&p, t_nlb_log_contains(p.nlb, "; 1 changes need a restart"),
		  "the rest was not applied");
	int c = t_connect_from("127.0.0.7", 0, pl);
	int rc = t_round_trip(c, "ping", 4, 2000);
	px_assert(&p, rc == -ECONNRESET || rc == -EPIPE, "the deny list was not applied (%d)", rc);
	t_close(c);
	px_stop_ok(&p);
	px_free(&p);
	t_server_free(t);
}

/* cpus cannot change without a restart either: nlb says so, keeps its
 * CPUs and applies the rest.  The same CPUs written another way are no
 * change. */
T_TEST(reload, cpus_need_a_restart, .timeout = 30)
{
	cpu_set_t mask;
	T_ASSERT(sched_getaffinity(0, sizeof(mask), &mask) == 0);
	if (!CPU_ISSET(0, &mask) || !CPU_ISSET(1, &mask))
		cr_skip_test("CPUs 0 and 1 are not both among this test's CPUs");
	struct t_server *t = t_server_start(T_SRV_ECHO, 0);
	T_ASSERT(t);
	uint16_t pl = t_free_port(), pt = t_server_port(t);
	const char *fmt =
		"cpus = \"%s\";\n"
		"listeners = ( { name = \"l\"; address = \"127.0.0.1:%u\"; target_group = \"g\";"
		" %s } );\n"
		"target_groups = ( { name = \"g\"; targets = ( { address = \"127.0.0.1:%u\"; } ); } );\n";
	char v1[1024], v2[1024], v3[1024];
	snprintf(v1, sizeof(v1), fmt, "0", pl, "", pt);
	snprintf(v2, sizeof(v2), fmt, "1", pl, "deny = [ \"127.0.0.7\" ];", pt);
	snprintf(v3, sizeof(v3), fmt, "0-0", pl, "", pt);
	struct px p;
	start_text(&p, v1);
	px_assert(&p, t_nlb_log_contains(p.nlb, "workers: 1 on CPUs 0"), "not one worker on CPU 0");
	reload_ok(&p, v2);
	px_assert(&p, t_nlb_log_contains(p.nlb, "cpus\\\" changed; not applied until a restart"),
		  "no restart line for cpus");
	px_assert(&p, t_nlb_log_contains(p.nlb, "; 1 changes need a restart"),
		  "not exactly one change needing a restart");
	int c = t_connect_from("127.0.0.7", 0, pl);
	int rc = t_round_trip(c, "ping", 4, 2000);
	px_assert(&p, rc == -ECONNRESET || rc == -EPIPE, "the deny list was not applied (%d)", rc);
	t_close(c);

	reload_ok(&p, v3);
	px_assert(&p, t_nlb_log_count(p.nlb, "cpus\\\" changed") == 1,
		  "\"0-0\" is CPU 0, as running, yet reported as a change");
	px_assert(&p, t_nlb_log_contains(p.nlb, "; 0 changes need a restart"),
		  "the second reload needs a restart");
	c = t_connect_from("127.0.0.7", 0, pl);
	round_trip_ok(&p, c, "deny list gone");
	t_close(c);
	px_stop_ok(&p);
	px_free(&p);
	t_server_free(t);
}

/* max_flows applies in place: raised, each worker's flow table grows
 * (its open flows moved over) and a flow refused before gets in, while
 * the one open before keeps its target. */
T_TEST(reload, max_flows_raised, .timeout = 30)
{
	struct t_udp_server *us = t_udp_server_start("127.0.0.1", 0, false);
	T_ASSERT(us);
	uint16_t pu = t_free_port();
	char v1[1024], v2[1024];
	const char *fmt =
		"workers = 1;\n"
		"listeners = ( { name = \"u\"; protocol = \"udp\"; address = \"127.0.0.1:%u\";"
		" target_group = \"g\"; max_flows = %u; } );\n"
		"target_groups = ( { name = \"g\"; targets = ( { address = \"127.0.0.1:%u\"; } ); } );\n";
	snprintf(v1, sizeof(v1), fmt, pu, 1u, t_udp_server_port(us));
	snprintf(v2, sizeof(v2), fmt, pu, 2u, t_udp_server_port(us));
	struct px p;
	start_text(&p, v1);
	int a = t_udp_socket("127.0.0.1"), b = t_udp_socket("127.0.0.1");
	char ans[256];
	unsigned target, via, target2, via2;
	ssize_t n = t_udp_ask(a, "127.0.0.1", pu, "a1", 2, ans, sizeof(ans), 2000);
	px_assert(&p, n > 0 && t_udp_answer_parse(ans, &target, &via) == 0, "the first flow");
	n = t_udp_ask(b, "127.0.0.1", pu, "b1", 2, ans, sizeof(ans), 300);
	px_assert(&p, n == -ETIMEDOUT, "a second flow got past max_flows = 1 (%zd)", n);
	reload_ok(&p, v2);
	n = -1;
	for (int i = 0; i < 10 && n <= 0; i++)
		n = t_udp_ask(b, "127.0.0.1", pu, "b2", 2, ans, sizeof(ans), 300);
	px_assert(&p, n > 0, "the second flow is still refused after max_flows = 2");
	n = t_udp_ask(a, "127.0.0.1", pu, "a2", 2, ans, sizeof(ans), 2000);
	px_assert(&p, n > 0 && t_udp_answer_parse(ans, &target2, &via2) == 0 &&
		  target2 == target && via2 == via, "the first flow lost its way");
	close(a);
	close(b);
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "udp_flow_limit"), 1);
	px_free(&p);
	t_udp_server_free(us);
}

/* Every restart-only key changed in one reload: each is named on its own
 * line, the count says how many, nlb keeps running with the old values
 * (max_connections 1 still refuses a second client; the metrics endpoint
 * and the admin socket stay where they were), and the rest of the file
 * applies (a deny list). */
T_TEST(reload, restart_only_keys_named_and_kept, .timeout = 30)
{
	struct t_server *t = t_server_start(T_SRV_ECHO, 0);
	T_ASSERT(t);
	uint16_t pl = t_free_port(), pt = t_server_port(t);
	uint16_t stats1 = t_free_port(), stats2 = t_free_port();
	char sock1[64], sock2[64];
	snprintf(sock1, sizeof(sock1), "/tmp/nlb-reload-%d-a.sock", (int)getpid());
	snprintf(sock2, sizeof(sock2), "/tmp/nlb-reload-%d-b.sock", (int)getpid());
	char v1[2048], v2[2048];
	snprintf(v1, sizeof(v1),
		 "workers = 1; forwarding = \"copy\"; flow_table_size = 1024;\n"
		 "udp_max_datagram = 512; udp_gro = false; allow_root = true;\n"
		 "stats = { listen = \"127.0.0.1:%u\"; };\n"
		 "admin = { socket = \"%s\"; mode = 0600; };\n"
		 "listeners = ( { name = \"l\"; address = \"127.0.0.1:%u\"; target_group = \"g\";"
		 " max_connections = 1; } );\n"
		 "target_groups = ( { name = \"g\"; max_targets = 4;"
		 " targets = ( { address = \"127.0.0.1:%u\"; } ); } );\n",
		 stats1, sock1, pl, pt);
	snprintf(v2, sizeof(v2),
		 "workers = 2; forwarding = \"splice\"; flow_table_size = 2048;\n"
		 "udp_max_datagram = 1024; udp_gro = true;\n"
		 "user = \"nobody\"; group = \"nogroup\"; allow_root = false;\n"
		 "stats = { listen = \"127.0.0.1:%u\"; };\n"
		 "admin = { socket = \"%s\"; mode = 0660; };\n"
		 "listeners = ( { name = \"l\"; address = \"127.0.0.1:%u\"; target_group = \"g\";"
		 " max_connections = 2; max_connections_per_source = 5;"
		 " new_connections_per_source_per_s = 5; deny = [ \"127.0.0.7\" ]; } );\n"
		 "target_groups = ( { name = \"g\"; max_targets = 8;"
		 " targets = ( { address = \"127.0.0.1:%u\"; } ); } );\n",
		 stats2, sock2, pl, pt);
	struct px p;
	start_text(&p, v1);
	reload_ok(&p, v2);
	static const char *const top[] = {
		"workers", "forwarding", "flow_table_size", "udp_max_datagram", "udp_gro",
		"stats", "admin", "user", "group", "allow_root",
	};
	char line[160];
	for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++) {
		snprintf(line, sizeof(line), "reload: \\\"%s\\\" changed; not applied until a restart",
			 top[i]);
		px_assert(&p, t_nlb_log_count(p.nlb, line) == 1, "not one line: %s", line);
	}
	static const char *const listener[] = {
		"max_connections", "max_connections_per_source", "new_connections_per_source_per_s",
	};
	for (size_t i = 0; i < sizeof(listener) / sizeof(listener[0]); i++) {
		snprintf(line, sizeof(line), "reload: listener l: \\\"%s\\\" changed; not applied "
			 "until a restart", listener[i]);
		px_assert(&p, t_nlb_log_count(p.nlb, line) == 1, "not one line: %s", line);
	}
	px_assert(&p, t_nlb_log_count(p.nlb, "reload: target group g: \\\"max_targets\\\" "
				       "changed; not applied until a restart") == 1,
		  "no line for max_targets");
	px_assert(&p, t_nlb_log_contains(p.nlb, "; 14 changes need a restart"),
		  "the summary does not count 14 changes");

	/* applied: the deny list */
	int d = t_connect_from("127.0.0.7", 0, pl);
	int rc = t_round_trip(d, "ping", 4, 2000);
	px_assert(&p, rc == -ECONNRESET || rc == -EPIPE, "the deny list was not applied (%d)", rc);
	t_close(d);
	/* kept: max_connections = 1 */
	int c = t_connect(pl);
	round_trip_ok(&p, c, "the first client");
	int e = t_connect(pl);
	rc = t_round_trip(e, "ping", 4, 2000);
	px_assert(&p, rc == -ECONNRESET || rc == -EPIPE, "a second client got in (%d)", rc);
	t_close(e);
	t_close(c);
	/* kept: the metrics endpoint and the admin socket */
	px_assert(&p, t_listeners(stats1) == 1 && t_listeners(stats2) == 0,
		  "metrics on %u: %d sockets, on %u: %d", stats1, t_listeners(stats1), stats2,
		  t_listeners(stats2));
	int64_t v = -1;
	px_assert(&p, t_admin_stat(sock1, "acl_denied", &v) == 0 && v == 1,
		  "the admin socket %s does not answer (%lld)", sock1, (long long)v);
	px_assert(&p, access(sock2, F_OK) < 0, "%s was created by a reload", sock2);
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "acl_denied"), 1);
	cr_expect_eq(px_stat(&p, "limit"), 1);
	px_free(&p);
	t_server_free(t);
}
