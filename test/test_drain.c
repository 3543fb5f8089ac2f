/* Suite "drain": targets added and removed by reloading the configuration
 * (SIGHUP), end to end through the real nlb.  A removed target takes no
 * new connection; its open ones go on for deregistration_delay_ms and are
 * then reset, and nlb logs when draining ends.  Targets are echo servers
 * on 127.0.0.1 and no test here has health checks unless it says so, so a
 * server's accept count is exactly the connections nlb sent it. */
#include <criterion/criterion.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "px.h"

TestSuite(drain, .init = t_setup, .fini = t_teardown);

static void set_targets(struct px *p, const uint16_t *ports, size_t n)
{
	p->conf.n_targets = 0;
	for (size_t i = 0; i < n; i++)
		px_target(p, ports[i]);
}

/* One target A, one open connection c to it, then a reload that replaces
 * A by B. */
struct swapped {
	struct px p;
	struct t_server *a, *b;
	int c;
	int64_t t_reload;
};

static void swap_a_for_b(struct swapped *s, const char *extra)
{
	s->a = t_server_start(T_SRV_ECHO, 0);
	s->b = t_server_start(T_SRV_ECHO, 0);
	T_ASSERT(s->a && s->b);
	struct px *p = &s->p;
	px_init(p, "auto");
	p->conf.group_extra = extra;
	px_target(p, t_server_port(s->a));
	px_start(p);
	s->c = px_connect(p);
	px_round_trip_ok(p, s->c, "before the reload");
	px_assert(p, t_server_accepted(s->a) == 1, "A accepted %u", t_server_accepted(s->a));

	uint16_t b = t_server_port(s->b);
	set_targets(p, &b, 1);
	s->t_reload = t_now_ms();
	px_assert(p, px_reload(p) == 1, "the reload was not applied");
	char line[128];
	snprintf(line, sizeof(line), "target 127.0.0.1:%u in group web: removed, draining",
		 t_server_port(s->a));
	px_assert(p, t_nlb_log_contains(p->nlb, line), "no line \"%s\"", line);
}

static void swapped_free(struct swapped *s)
{
	px_free(&s->p);
	t_server_free(s->a);
	t_server_free(s->b);
}

/* The test: the open connection lives through the delay, new ones
 * go elsewhere at once, and at the delay it is reset and draining ends. */
T_TEST(drain, removed_target_keeps_connection_until_delay, .timeout = 30)
{
	struct swapped s;
	swap_a_for_b(&s, "deregistration_delay_ms = 1500;");
	struct px *p = &s.p;

	px_connect_n(p, 10);
	px_assert(p, t_server_accepted(s.b) == 10 && t_server_accepted(s.a) == 1,
		  "after the reload A accepted %u (want 1), B %u (want 10)",
		  t_server_accepted(s.a), t_server_accepted(s.b));
	px_round_trip_ok(p, s.c, "draining, before the delay");
	t_sleep_ms(500);
	px_round_trip_ok(p, s.c, "draining, 500 ms in");

	int rc = t_wait_closed(s.c, 5000);
	int64_t closed_after = t_now_ms() - s.t_reload;
	cr_log_info("drain: connection to the removed target reset %" PRId64
		    " ms after the reload (deregistration_delay_ms 1500)", closed_after);
	px_assert(p, rc == -ECONNRESET, "the draining connection ended with %s, want a reset",
		  rc == 0 ? "EOF" : strerror(-rc));
	px_assert(p, closed_after >= 1400, "reset after %" PRId64 " ms, before the delay",
		  closed_after);
	rc = t_nlb_log_wait(p->nlb, "in group web: draining ended after", 3000);
	px_assert(p, rc == 0, "no \"draining ended\" line");
	px_assert(p, t_nlb_log_contains(p->nlb, "connections reset at the deadline"),
		  "the end of draining does not say the connection was reset");
	px_assert(p, t_server_wait_closed(s.a, 1, 3000) == 0, "A's side of it is still open");
	t_close(s.c);
	px_connect_n(p, 3);
	px_assert(p, t_server_accepted(s.a) == 1, "A got %u connections after removal",
		  t_server_accepted(s.a) - 1);
	px_stop_ok(p);
	cr_expect_eq(px_stat(p, "drain_reset"), 1);
	cr_expect_eq(px_stat(p, "no_target"), 0);
	swapped_free(&s);
}

/* Draining ends as soon as the last connection does, and the freed slot
 * can take a target again. */
T_TEST(drain, ends_when_connections_finish, .timeout = 30)
{
	struct swapped s;
	swap_a_for_b(&s, "deregistration_delay_ms = 60000;");
	struct px *p = &s.p;
	px_round_trip_ok(p, s.c, "draining");
	px_assert(p, !t_nlb_log_contains(p->nlb, "draining ended"),
		  "draining ended with a connection open");
	t_close(s.c);
	int rc = t_nlb_log_wait(p->nlb, "in group web: draining ended after", 3000);
	px_assert(p, rc == 0, "draining did not end when the last connection closed");
	px_assert(p, t_nlb_log_contains(p->nlb, "(no connection left)"));

	/* A comes back (into its old slot, or any free one) next to B. */
	uint16_t both[2] = { t_server_port(s.a), t_server_port(s.b) };
	set_targets(p, both, 2);
	px_assert(p, px_reload(p) == 1, "the reload was not applied");
	px_connect_n(p, 10);
	px_assert(p, t_server_accepted(s.a) == 6 && t_server_accepted(s.b) == 5,
		  "round robin over A and B: A accepted %u (want 1 + 5), B %u (want 5)",
		  t_server_accepted(s.a), t_server_accepted(s.b));
	px_stop_ok(p);
	cr_expect_eq(px_stat(p, "drain_reset"), 0);
	swapped_free(&s);
}

/* A target listed again while draining takes flows again and keeps the
 * connections it had. */
T_TEST(drain, readded_while_draining, .timeout = 30)
{
	struct swapped s;
	swap_a_for_b(&s, "deregistration_delay_ms = 1000;");
	struct px *p = &s.p;
	uint16_t both[2] = { t_server_port(s.a), t_server_port(s.b) };
	set_targets(p, both, 2);
	px_assert(p, px_reload(p) == 1, "the reload was not applied");
	px_assert(p, t_nlb_log_contains(p->nlb, "in group web: added again while draining"));
	px_connect_n(p, 10);
	px_assert(p, t_server_accepted(s.a) == 6 && t_server_accepted(s.b) == 5,
		  "A accepted %u (want 1 + 5), B %u (want 5)",
		  t_server_accepted(s.a), t_server_accepted(s.b));
	/* Past the old delay, the connection is still there. */
	t_sleep_ms(1500);
	px_round_trip_ok(p, s.c, "after the delay of its cancelled draining");
	t_close(s.c);
	px_stop_ok(p);
	cr_expect_eq(px_stat(p, "drain_reset"), 0);
	cr_expect(!t_nlb_log_contains(p->nlb, "draining ended"));
	swapped_free(&s);
}

/* A reload adds targets and changes weights while connections flow. */
T_TEST(drain, reload_adds_and_reweights, .timeout = 30)
{
	struct t_server *a = t_server_start(T_SRV_ECHO, 0);
	struct t_server *b = t_server_start(T_SRV_ECHO, 0);
	T_ASSERT(a && b);
	struct px p;
	px_init(&p, "auto");
	px_target(&p, t_server_port(a));
	px_start(&p);
	int c = px_connect(&p);
	px_round_trip_ok(&p, c, "before");
	px_target_weight(&p, t_server_port(b), 3);
	px_assert(&p, px_reload(&p) == 1, "the reload was not applied");
	px_assert(&p, t_nlb_log_contains(p.nlb, "added=1 removed=0 reweighted=0"));
	px_connect_n(&p, 8);
	px_assert(&p, t_server_accepted(a) == 1 + 2 && t_server_accepted(b) == 6,
		  "weights 1:3 over 8 connections: A %u (want 1 + 2), B %u (want 6)",
		  t_server_accepted(a), t_server_accepted(b));
	p.conf.weights[1] = 1;
	px_assert(&p, px_reload(&p) == 1, "the reload was not applied");
	px_assert(&p, t_nlb_log_contains(p.nlb, "added=0 removed=0 reweighted=1"));
	px_connect_n(&p, 8);
	px_assert(&p, t_server_accepted(a) == 3 + 4 && t_server_accepted(b) == 6 + 4,
		  "weights 1:1 over 8 more: A %u (want 3 + 4), B %u (want 6 + 4)",
		  t_server_accepted(a), t_server_accepted(b));
	px_round_trip_ok(&p, c, "after two reloads");
	t_close(c);
	px_stop_ok(&p);
	px_free(&p);
	t_server_free(a);
	t_server_free(b);
}

/* An invalid file is refused with its file:line error, and nlb goes on
 * with what it had; so is a target list the running groups cannot take. */
T_TEST(drain, invalid_reload_keeps_configuration, .timeout = 30)
{
	struct t_server *a = t_server_start(T_SRV_ECHO, 0);
	struct t_server *b = t_server_start(T_SRV_ECHO, 0);
	struct t_server *d = t_server_start(T_SRV_ECHO, 0);
	T_ASSERT(a && b && d);
	struct px p;
	px_init(&p, "auto");
	p.conf.group_extra = "max_targets = 3;";
	px_target(&p, t_server_port(a));
	px_start(&p);
	int c = px_connect(&p);
	px_round_trip_ok(&p, c, "before");

	px_assert(&p, px_reload_text(&p, "workers = 1;\nlisteners = (\n  { name = 1; }\n);\n") == 0,
		  "a broken file was applied");
	char want[PATH_MAX + 32];
	snprintf(want, sizeof(want), "%s:3:", p.conf_path);
	px_assert(&p, t_nlb_log_contains(p.nlb, want), "the refusal does not name %s", want);

	/* B and D come, A drains (c is open): three slots of three.  E
	 * alone would need a fourth, as B and D would drain too. */
	uint16_t next[2] = { t_server_port(b), t_server_port(d) };
	set_targets(&p, next, 2);
	px_assert(&p, px_reload(&p) == 1, "B and D with A draining fit max_targets 3");
	px_assert(&p, px_reload(&p) == 1, "the same list again was refused");
	px_assert(&p, t_nlb_log_contains(p.nlb, "added=0 removed=0 reweighted=0 returned=0"));
	uint16_t e = t_free_port();
	set_targets(&p, &e, 1);
	px_assert(&p, px_reload(&p) == 0, "a fourth slot beyond max_targets 3 was taken");
	px_assert(&p, t_nlb_log_contains(p.nlb, "more than max_targets 3"));

	px_connect_n(&p, 4);
	px_assert(&p, t_server_accepted(b) == 2 && t_server_accepted(d) == 2 &&
		      t_server_accepted(a) == 1,
		  "after the refused reloads: A %u (want 1), B %u, D %u (want 2 each)",
		  t_server_accepted(a), t_server_accepted(b), t_server_accepted(d));
	px_round_trip_ok(&p, c, "after the refused reloads");
	t_close(c);
	px_stop_ok(&p);
	px_free(&p);
	t_server_free(a);
	t_server_free(b);
	t_server_free(d);
}

/* With health checks, an added target is probed and takes flows once it
 * passes; a removed one is probed no more. */
T_TEST(drain, health_follows_reload, .timeout = 30)
{
	struct t_server *a = t_server_start(T_SRV_ECHO, 0);
	struct t_server *b = t_server_start(T_SRV_ECHO, 0);
	T_ASSERT(a && b);
	struct px p;
	px_init(&p, "auto");
	p.conf.group_extra = "deregistration_delay_ms = 0;\n"
		"health_check = { interval_ms = 100; timeout_ms = 100; healthy_threshold = 2; };";
	px_target(&p, t_server_port(a));
	px_start(&p);
	char line[128];
	snprintf(line, sizeof(line), "target 127.0.0.1:%u in group web: initial -> healthy",
		 t_server_port(a));
	px_assert(&p, t_nlb_log_wait(p.nlb, line, 3000) == 0, "A never passed");

	uint16_t b_port = t_server_port(b);
	set_targets(&p, &b_port, 1);
	px_assert(&p, px_reload(&p) == 1, "the reload was not applied");
	snprintf(line, sizeof(line), "target 127.0.0.1:%u in group web: initial -> healthy", b_port);
	px_assert(&p, t_nlb_log_wait(p.nlb, line, 3000) == 0, "B never passed");
	px_assert(&p, t_nlb_log_wait(p.nlb, "draining ended", 3000) == 0, "A did not drain");
	unsigned a_seen = t_server_accepted(a);
	unsigned b_before = t_server_accepted(b);
	t_sleep_ms(500);	/* five intervals */
	px_assert(&p, t_server_accepted(a) == a_seen, "A was probed %u times after removal",
		  t_server_accepted(a) - a_seen);
	px_assert(&p, t_server_accepted(b) > b_before, "B is not probed");
	px_connect_n(&p, 4);
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "no_target"), 0);
	cr_expect_eq(px_stat(&p, "no_healthy"), 0);
	px_free(&p);
	t_server_free(a);
	t_server_free(b);
}
