/* Suite "upgrade": the zero-downtime binary upgrade of the README.  nlb B
 * starts on the same configuration while nlb A serves (both bind with
 * SO_REUSEPORT), then A gets SIGTERM: it closes its listeners at once and
 * drains.  Clients keep connecting throughout and every connection must be
 * served; A's open connection keeps working until it closes, and then A
 * exits 0.  Both tests run in a network namespace of their own with
 * net.ipv4.tcp_migrate_req = 1: without it the kernel resets what is in
 * the closing listener's queue (a few connections in a quarter of the
 * switch-overs under load here; see the README). */
#include <criterion/criterion.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "px.h"

TestSuite(upgrade, .init = t_setup, .fini = t_teardown);

/* Clients that connect, make one round trip and close, over and over,
 * until told to stop; failures are counted by kind. */
struct churn {
	uint16_t port;
	atomic_bool stop;
	atomic_uint done;	/* served: connected and answered */
	atomic_uint refused;	/* connect failed */
	atomic_uint reset;	/* connected, then reset or closed unanswered */
	atomic_uint other;
	atomic_int last_err;
};

static void *churn_main(void *arg)
{
	struct churn *c = arg;
	while (!atomic_load(&c->stop)) {
		int fd = t_connect_raw(c->port);
		if (fd < 0) {
			atomic_fetch_add(&c->refused, 1);
			atomic_store(&c->last_err, -fd);
			continue;
		}
		int rc = t_round_trip(fd, "upgrade", 7, 5000);
		close(fd);
		if (rc == 0)
			atomic_fetch_add(&c->done, 1);
		else if (rc == -ECONNRESET || rc == -EPIPE)
			atomic_fetch_add(&c->reset, 1);
		else
			atomic_fetch_add(&c->other, 1);
		if (rc)
			atomic_store(&c->last_err, -rc);
	}
	return NULL;
}

static unsigned failed(struct churn *c)
{
	return atomic_load(&c->refused) + atomic_load(&c->reset) + atomic_load(&c->other);
}

static bool wait_done(struct churn *c, unsigned n, int timeout_ms)
{
	int64_t deadline = t_now_ms() + timeout_ms;
	while (atomic_load(&c->done) + failed(c) < n && t_now_ms() < deadline)
		t_sleep_ms(1);
	return atomic_load(&c->done) + failed(c) >= n;
}

/* A: nlb with two workers over target, shutdown_timeout_ms as given
 * (0: the default). */
static void start_a(struct px *a, uint16_t target, uint64_t shutdown_ms)
{
	px_init(a, "auto");
	a->conf.workers = 2;
	if (shutdown_ms)
		a->conf.shutdown_timeout_ms = shutdown_ms;
	px_target(a, target);
	px_start(a);
}

/* B: a second nlb on A's file (its conf_path stays A's), both listening
 * with SO_REUSEPORT. */
static void start_b(struct px *b, struct px *a)
{
	memset(b, 0, sizeof *b);
	b->conf = a->conf;
	px_spawn(b, a->conf_path);
	px_assert(b, t_listeners(a->conf.listen_port) == 4,
		  "%d listening sockets, want A's 2 and B's 2", t_listeners(a->conf.listen_port));
}

struct outcome {
	unsigned connects, refused, reset, other;
	int64_t a_accepted, b_accepted;
};

/* The procedure: A serves, with one long connection; B starts on the same
 * file; `threads` clients churn; after `before` connections A gets
 * SIGTERM; once A's listeners are gone `after` more connections are made;
 * the long connection still works, A is still draining; it closes and A
 * exits 0.  The counts go to *o. */
static void switch_over(unsigned threads, unsigned before, unsigned after, struct outcome *o)
{
	struct t_server *echo = t_server_start(T_SRV_ECHO, 0);
	T_ASSERT(echo);
	struct px a, b;
	/* the close, not shutdown_timeout_ms, ends A */
	start_a(&a, t_server_port(echo), 60000);
	int long_fd = px_connect(&a);
	px_assert(&a, t_round_trip(long_fd, "long", 4, 3000) == 0, "the long connection");
	start_b(&b, &a);

	struct churn c = { .port = a.conf.listen_port };
	pthread_t th[8];
	T_ASSERT(threads <= 8);
	for (unsigned i = 0; i < threads; i++)
		T_ASSERT(pthread_create(&th[i], NULL, churn_main, &c) == 0);
	px_assert(&a, wait_done(&c, before, 20000), "clients stalled before the SIGTERM");
	px_assert(&a, kill(a.nlb->pid, SIGTERM) == 0);
	/* Each worker of A says when its listening sockets are closed; then
	 * only B's two are left on the port.  (Polling /proc/net/tcp instead
	 * is slow in a network namespace: it walks the host's whole table.) */
	int64_t deadline = t_now_ms() + 5000;
	while (t_nlb_log_count(a.nlb, "stopped accepting") < 2 && t_now_ms() < deadline)
		t_sleep_ms(1);
	px_assert(&a, t_nlb_log_count(a.nlb, "stopped accepting") == 2,
		  "A's workers did not stop accepting");
	unsigned at_close = atomic_load(&c.done) + failed(&c);
	px_assert(&a, t_listeners(a.conf.listen_port) == 2, "A still listens after SIGTERM");
	px_assert(&b, wait_done(&c, at_close + after, 20000), "clients stalled after the SIGTERM");
	atomic_store(&c.stop, true);
	for (unsigned i = 0; i < threads; i++)
		pthread_join(th[i], NULL);

	/* A drains: the long connection works, A runs on until it closes. */
	px_assert(&a, t_round_trip(long_fd, "still", 5, 3000) == 0,
		  "the long connection broke when A stopped accepting");
	px_assert(&a, t_nlb_wait(a.nlb, 0) == -ETIMEDOUT, "A exited with a connection open");
	px_assert(&a, t_nlb_log_contains(a.nlb, "connections to drain"), "A did not drain");
	px_assert(&a, t_round_trip(long_fd, "again", 5, 3000) == 0, "the long connection");
	t_close(long_fd);
	int rc = t_nlb_wait(a.nlb, 10000);
	px_assert(&a, rc == 0, "A's exit code %d once its last connection closed, want 0", rc);

	/* New connections after A is gone: B's. */
	int fd = px_connect(&b);
	px_assert(&b, t_round_trip(fd, "b", 1, 3000) == 0, "B does not serve");
	t_close(fd);
	px_stop_ok(&b);

	o->connects = atomic_load(&c.done) + failed(&c);
	o->refused = atomic_load(&c.refused);
	o->reset = atomic_load(&c.reset);
	o->other = atomic_load(&c.other);
	o->a_accepted = px_stat(&a, "accepted");
	o->b_accepted = px_stat(&b, "accepted");
	cr_log_info("upgrade: %u connections, %u refused, %u reset, %u other (last error %s); "
		    "A accepted %" PRId64 ", B %" PRId64, o->connects, o->refused, o->reset, o->other,
		    strerror(atomic_load(&c.last_err)), o->a_accepted, o->b_accepted);
	/* Every connection is counted by one nlb: the long one, the clients'
	 * and B's last (a failed one may not have been accepted at all). */
	unsigned failures = o->refused + o->reset + o->other;
	cr_expect_geq(o->a_accepted + o->b_accepted, (int64_t)(o->connects - failures) + 2);
	cr_expect_leq(o->a_accepted + o->b_accepted, (int64_t)o->connects + 2);
	cr_expect_eq(px_stat(&a, "shutdown_reset"), 0);
	px_free(&a);
	b.conf_path = NULL;	/* A's, removed with it */
	px_free(&b);
	t_server_free(echo);
}

/* A network namespace of the test's own, with net.ipv4.tcp_migrate_req
 * = 1: a closing listener hands the connections in its queues to another
 * socket of its SO_REUSEPORT group instead of resetting them (Linux 5.14).
 * Without it a handful in tens of thousands were reset here (README). */
static void own_netns_with_migration(void)
{
	T_ASSERT(unshare(CLONE_NEWNET) == 0, ": unshare(CLONE_NEWNET): %s", strerror(errno));
	T_ASSERT(system("ip link set lo up") == 0);
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_migrate_req", "w");
	if (!f)
		cr_skip_test("no net.ipv4.tcp_migrate_req (Linux 5.14 or later)");
	T_ASSERT(fputs("1\n", f) >= 0 && fclose(f) == 0);
}

/* The test: one client, 25 connections before the SIGTERM and 25
 * after A's listeners are gone, none refused or reset. */
T_TEST(upgrade, takeover_without_refusal, .timeout = 60)
{
	own_netns_with_migration();
	struct outcome o;
	switch_over(1, 25, 25, &o);
	cr_assert_eq(o.refused + o.reset + o.other, 0,
		     "%u of %u connections failed across the switch (%u refused, %u reset)",
		     o.refused + o.reset + o.other, o.connects, o.refused, o.reset);
	/* Those after A stopped were B's, and B's last one. */
	cr_assert_geq(o.b_accepted, 25 + 1);
}

/* Eight clients churning (thousands of connections a second) across the
 * switch: still none lost.  Before a stopping nlb served what it had
 * accepted and waited for its accepts' last completions, a few were reset
 * in about one switch-over in ten here. */
T_TEST(upgrade, takeover_under_load, .timeout = 120)
{
	own_netns_with_migration();
	struct outcome o;
	switch_over(8, 2000, 2000, &o);
	cr_assert_eq(o.refused + o.reset + o.other, 0,
		     "%u of %u connections failed across the switch (%u refused, %u reset)",
		     o.refused + o.reset + o.other, o.connects, o.refused, o.reset);
	cr_assert_geq(o.b_accepted, 2000 + 1);
}

/* SIGKILL of one side in the middle of an upgrade (both serving, before
 * the old one's SIGTERM): the other serves on.  What the killed process
 * had accepted dies with it (at most one connection per client thread,
 * reset); what sat in its listeners' queues moves to the survivor's
 * (tcp_migrate_req), so no client is refused, and every connection after
 * the kill is served. */
static void killed_midway(bool kill_new)
{
	enum { THREADS = 4, BEFORE = 500, AFTER = 1000 };
	struct t_server *echo = t_server_start(T_SRV_ECHO, 0);
	T_ASSERT(echo);
	struct px a, b;
	start_a(&a, t_server_port(echo), 0);
	start_b(&b, &a);
	struct px *killed = kill_new ? &b : &a, *survivor = kill_new ? &a : &b;

	struct churn c = { .port = a.conf.listen_port };
	pthread_t th[THREADS];
	for (unsigned i = 0; i < THREADS; i++)
		T_ASSERT(pthread_create(&th[i], NULL, churn_main, &c) == 0);
	px_assert(survivor, wait_done(&c, BEFORE, 20000), "clients stalled before the kill");
	unsigned failed_at_kill = failed(&c);
	px_assert(survivor, kill(killed->nlb->pid, SIGKILL) == 0);
	int rc = t_nlb_wait(killed->nlb, 5000);
	px_assert(survivor, rc != -ETIMEDOUT, "the killed nlb did not exit");
	unsigned at_kill = atomic_load(&c.done) + failed(&c);
	px_assert(survivor, wait_done(&c, at_kill + AFTER, 20000), "clients stalled after the kill");
	atomic_store(&c.stop, true);
	for (unsigned i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	unsigned failed_after = failed(&c) - failed_at_kill;
	cr_log_info("%s killed: %u connections, %u refused, %u reset, %u other",
		    kill_new ? "the new nlb" : "the old nlb", atomic_load(&c.done) + failed(&c),
		    atomic_load(&c.refused), atomic_load(&c.reset), atomic_load(&c.other));
	px_assert(survivor, failed_at_kill == 0, "%u failures before the kill", failed_at_kill);
	cr_expect_eq(atomic_load(&c.refused), 0, "clients refused");
	cr_expect_leq(failed_after, THREADS, "%u failed after the kill: more than were in flight",
		      failed_after);
	int fd = px_connect(survivor);
	px_assert(survivor, t_round_trip(fd, "on", 2, 3000) == 0, "the survivor does not serve");
	t_close(fd);
	px_stop_ok(survivor);
	cr_expect_eq(px_stat(survivor, "nomem"), 0);
	px_free(&a);
	b.conf_path = NULL;	/* A's, removed with it */
	px_free(&b);
	t_server_free(echo);
}

T_TEST(upgrade, old_killed_midway_new_serves_on, .timeout = 90)
{
	own_netns_with_migration();
	killed_midway(false);
}

T_TEST(upgrade, new_killed_midway_old_serves_on, .timeout = 90)
{
	own_netns_with_migration();
	killed_midway(true);
}

/* nlb -u on a configuration with a metrics endpoint: the running nlb
 * holds the address (no SO_REUSEPORT, so that two nlbs never share
 * scrapes), the new one starts anyway and serves traffic, and takes the
 * endpoint over once the old one has stopped. */
T_TEST(upgrade, metrics_endpoint_taken_over, .timeout = 60)
{
	struct t_server *echo = t_server_start(T_SRV_ECHO, 0);
	T_ASSERT(echo);
	uint16_t mport = t_free_port();
	char top[96];
	snprintf(top, sizeof(top), "stats = { listen = \"127.0.0.1:%u\"; };", mport);
	struct px a;
	px_init(&a, "auto");
	a.conf.top_extra = top;
	px_target(&a, t_server_port(echo));
	px_start(&a);
	char *page = px_scrape(&a, mport);
	px_assert(&a, page && strstr(page, "nlb_workers"), "the old nlb's metrics");
	free(page);

	struct px b;
	memset(&b, 0, sizeof b);
	b.conf = a.conf;
	const char *argv[] = { t_nlb_bin(), "-u", "-c", a.conf_path, NULL };
	b.nlb = t_spawn(argv, NULL);
	T_ASSERT(b.nlb);
	px_assert(&b, t_nlb_log_wait(b.nlb, " running: ", 10000) == 0,
		  "nlb -u did not start beside an nlb with a metrics endpoint");
	px_assert(&b, t_nlb_log_contains(b.nlb, "serving it once that one stops"),
		  "no word of the endpoint to take over");
	px_stop_ok(&a);
	px_assert(&b, t_nlb_log_wait(b.nlb, "(taken over)", 5000) == 0,
		  "the new nlb never took the metrics endpoint");
	int fd = px_connect(&b);
	px_assert(&b, t_round_trip(fd, "b", 1, 3000) == 0, "the new nlb does not serve");
	t_close(fd);
	page = px_scrape(&b, mport);
	px_assert(&b, page && strstr(page, "nlb_tcp_closed_total"), "the new nlb's metrics");
	free(page);
	px_stop_ok(&b);
	px_free(&a);
	px_free(&b);
	t_server_free(echo);
}
