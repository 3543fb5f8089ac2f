/* Suite "health": active health checks and passive detection, end to end,
 * through the real nlb ($NLB_BIN).  A target group with a health_check
 * block starts every target "initial" and gives it flows once it passed a
 * probe; each state change is logged as
 *
 *	target 127.0.0.1:PORT in group web: OLD -> NEW (reason)
 *
 * and the tests wait for those lines.  Targets are in-process T_SRV_TAG
 * servers answering any read with their own port, so a client sees which
 * target served it (t_server_accepted would count the probes too), or
 * T_SRV_HTTP servers for http checks.  Traffic runs from a client thread
 * that makes a connection every 20 ms and records who served it.  Every
 * test picks its own ports, so the suite runs with --jobs=2. */
#include <criterion/criterion.h>

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "helpers.h"
#include "px.h"
#include "tunables.h"
#include "udp_srv.h"

TestSuite(health, .init = t_setup, .fini = t_teardown);

/* Slack for scheduling, log polling (10 ms) and a loaded 2-core machine
 * running two tests at once, on top of what the contract allows. */
#define MARGIN_MS 1000

/* ---- configuration and log lines --------------------------------------- */

/* "health_check = { ... };" plus fail_open, for group_extra. */
static void hc_extra(char *buf, size_t len, const char *protocol, unsigned port,
		     unsigned interval_ms, unsigned timeout_ms, unsigned healthy,
		     unsigned unhealthy, const char *http_keys, bool fail_open)
{
	snprintf(buf, len,
		 "health_check = { protocol = \"%s\"; port = %u; interval_ms = %u;"
		 " timeout_ms = %u; healthy_threshold = %u; unhealthy_threshold = %u;%s };"
		 " fail_open = %s;",
		 protocol, port, interval_ms, timeout_ms, healthy, unhealthy,
		 http_keys ? http_keys : "", fail_open ? "true" : "false");
}

static void hc_line(char *buf, size_t len, uint16_t port, const char *from, const char *to)
{
	snprintf(buf, len, "target 127.0.0.1:%u in group web: %s -> %s", port, from, to);
}

static bool hc_logged(struct px *p, uint16_t port, const char *from, const char *to)
{
	char needle[128];
	hc_line(needle, sizeof needle, port, from, to);
	return t_nlb_log_contains(p->nlb, needle);
}

/* Waits for the state change line; fails the test if it does not come
 * within timeout_ms.  Returns the ms waited. */
static int64_t hc_wait(struct px *p, uint16_t port, const char *from, const char *to,
		       int timeout_ms)
{
	char needle[128];
	hc_line(needle, sizeof needle, port, from, to);
	int64_t t0 = t_now_ms();
	int rc = t_nlb_log_wait(p->nlb, needle, timeout_ms);
	px_assert(p, rc == 0, "no \"%s\" logged within %d ms", needle, timeout_ms);
	return t_now_ms() - t0;
}

/* The rest of the state change line (its reason), malloc'd, or NULL. */
static char *hc_line_text(struct px *p, uint16_t port, const char *from, const char *to)
{
	char needle[128];
	hc_line(needle, sizeof needle, port, from, to);
	char *log = t_nlb_log(p->nlb);
	char *at = log ? strstr(log, needle) : NULL;
	char *line = NULL;
	if (at)
		line = strndup(at, strcspn(at, "\n"));
	free(log);
	return line;
}

/* ---- one client connection -------------------------------------------- */

/* Connects to nlb on port, sends a byte and reads the "<port>\n" of the
 * tag server that answered.  t_connect_raw, not t_connect: the fd
 * registry is not for threads.  Returns the target's port or -errno (-EPIPE for an
 * early EOF). */
static int ask(uint16_t port)
{
	int fd = t_connect_raw(port);
	if (fd < 0)
		return fd;
	int rc = 0;
	if (send(fd, "?", 1, MSG_NOSIGNAL) != 1) {
		rc = -errno;
		close(fd);
		return rc;
	}
	char line[16];
	size_t len = 0;
	int64_t deadline = t_now_ms() + 3000;
	while (!rc) {
		int left = (int)(deadline - t_now_ms());
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		int pr = poll(&pf, 1, left > 0 ? left : 0);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0) {
			rc = pr < 0 ? -errno : -ETIMEDOUT;
			break;
		}
		ssize_t n = recv(fd, line + len, sizeof line - 1 - len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : -EPIPE;
			break;
		}
		len += (size_t)n;
		line[len] = '\0';
		if (strchr(line, '\n'))
			rc = atoi(line) > 0 ? atoi(line) : -EPROTO;
		else if (len == sizeof line - 1)
			rc = -EPROTO;
	}
	close(fd);
	return rc;
}

/* ---- a client loop ------------------------------------------------------ */

#define LOOP_MAX 4096
#define LOOP_EVERY_MS 20

/* A thread connecting through nlb every 20 ms.  Each connection is made
 * holding pause, so the test can stop a server with no connection in
 * flight: a connection the server closes under the client would fail for
 * reasons that are not what is tested. */
struct loop {
	uint16_t port;
	pthread_t thread;
	pthread_mutex_t pause;
	atomic_bool stop;
	atomic_uint n;			/* records written */
	int64_t at[LOOP_MAX];		/* start of each connection */
	int got[LOOP_MAX];		/* ask()'s result */
};

static void *loop_main(void *arg)
{
	struct loop *l = arg;
	while (!atomic_load(&l->stop) && atomic_load(&l->n) < LOOP_MAX) {
		pthread_mutex_lock(&l->pause);
		int64_t t0 = t_now_ms();
		int r = ask(l->port);
		pthread_mutex_unlock(&l->pause);
		unsigned i = atomic_load(&l->n);
		l->at[i] = t0;
		l->got[i] = r;
		atomic_store(&l->n, i + 1);
		int64_t next = t0 + LOOP_EVERY_MS - t_now_ms();
		if (next > 0)
			t_sleep_ms((int)next);
	}
	return NULL;
}

static struct loop *loop_start(uint16_t port)
{
	struct loop *l = calloc(1, sizeof *l);
	T_ASSERT(l);
	l->port = port;
	pthread_mutex_init(&l->pause, NULL);
	T_ASSERT(pthread_create(&l->thread, NULL, loop_main, l) == 0);
	return l;
}

static void loop_join(struct loop *l)
{
	atomic_store(&l->stop, true);
	pthread_join(l->thread, NULL);
	pthread_mutex_destroy(&l->pause);
}

/* Connections started in [from, to) (ms, CLOCK_MONOTONIC); of those, how
 * many port served (*by) and how many failed (*failed, first error in
 * *err). */
struct loop_count {
	unsigned n, by, failed;
	int err;
};

static struct loop_count loop_count(const struct loop *l, int64_t from, int64_t to,
				    uint16_t port)
{
	struct loop_count c = { 0 };
	unsigned n = atomic_load(&l->n);
	for (unsigned i = 0; i < n; i++) {
		if (l->at[i] < from || l->at[i] >= to)
			continue;
		c.n++;
		c.by += l->got[i] == port;
		if (l->got[i] < 0 && !c.failed++)
			c.err = -l->got[i];
	}
	return c;
}

/* ---- targets ------------------------------------------------------------ */

static struct t_server *tag_target(struct px *p)
{
	struct t_server *s = t_server_start(T_SRV_TAG, 0);
	T_ASSERT(s, ": starting a tag server: %s", strerror(errno));
	px_target(p, t_server_port(s));
	return s;
}

static struct t_server *http_target(struct px *p, unsigned status)
{
	struct t_server_opts o = { .mode = T_SRV_HTTP, .http_status = status };
	struct t_server *s = t_server_start_opts(&o);
	T_ASSERT(s, ": starting an http server: %s", strerror(errno));
	px_target(p, t_server_port(s));
	return s;
}

static int held_port(uint16_t *port)
{
	int fd = t_port_hold(port);
	T_ASSERT(fd >= 0, ": holding a port: %s", strerror(-fd));
	return fd;
}

/* ---- 1, 2: a stopped target goes, and comes back ------------------------ */

enum { TCP_INTERVAL = 200, TCP_TIMEOUT = 100, TCP_UNHEALTHY = 2, TCP_HEALTHY = 4 };

/* Two tag targets A and B under tcp checks, both healthy, and the client
 * loop running through nlb.  Then B's server stops (no connection in
 * flight): B must be logged healthy -> unhealthy within interval x
 * unhealthy_threshold + timeout (+ margin; live refusals may mark it
 * sooner, passively).  The loop keeps going 1.5 s more. */
struct stopped {
	struct px p;
	struct t_server *a, *b;
	struct loop *l;
	int64_t t_stop, t_down;
};

static void stop_b(struct stopped *st)
{
	struct px *p = &st->p;
	char extra[512];
	px_init(p, "auto");
	st->a = tag_target(p);
	st->b = tag_target(p);
	p->conf.connect_retries = 2;
	hc_extra(extra, sizeof extra, "tcp", 0, TCP_INTERVAL, TCP_TIMEOUT, TCP_HEALTHY,
		 TCP_UNHEALTHY, NULL, true);
	p->conf.group_extra = extra;
	px_start(p);
	uint16_t a = t_server_port(st->a), b = t_server_port(st->b);
	hc_wait(p, a, "initial", "healthy", 1000 + MARGIN_MS);
	hc_wait(p, b, "initial", "healthy", 1000 + MARGIN_MS);

	st->l = loop_start(p->conf.listen_port);
	t_sleep_ms(300);
	pthread_mutex_lock(&st->l->pause);
	t_server_stop(st->b);
	st->t_stop = t_now_ms();
	pthread_mutex_unlock(&st->l->pause);

	int limit = TCP_INTERVAL * TCP_UNHEALTHY + TCP_TIMEOUT + MARGIN_MS;
	int64_t waited = hc_wait(p, b, "healthy", "unhealthy", limit);
	st->t_down = t_now_ms();
	cr_log_info("health: stopped target logged unhealthy %" PRId64 " ms after it "
		    "stopped (limit %d)", waited, limit);
	t_sleep_ms(1500);

	struct loop_count before = loop_count(st->l, 0, st->t_stop, 0);
	struct loop_count ab = loop_count(st->l, 0, st->t_stop, a);
	struct loop_count bb = loop_count(st->l, 0, st->t_stop, b);
	px_assert(p, ab.by > 0 && bb.by > 0, "before the stop, A served %u and B %u of %u",
		  ab.by, bb.by, before.n);
}

/* Every connection the loop made so far was served. */
static void loop_all_served(struct px *p, const struct loop *l)
{
	struct loop_count all = loop_count(l, 0, INT64_MAX, 0);
	px_assert(p, all.failed == 0, "%u of %u client connections failed (first: %s)",
		  all.failed, all.n, strerror(all.err));
}

T_TEST(health, tcp_stopped_target_unhealthy, .timeout = 30)
{
	struct stopped st;
	stop_b(&st);
	struct px *p = &st.p;
	loop_join(st.l);
	loop_all_served(p, st.l);

	/* B's server is down, so no connection can reach it; what shows
	 * that nlb stopped trying is connect_refused: a connection refused by
	 * B is one started while B was still taken (before the line, + 100 ms
	 * to publish), at most one refusal each (a retry skips B).  Probes
	 * refused by B are allowed for in case they count too.  Without the
	 * mark, half the later connections would be refused. */
	uint16_t b = t_server_port(st.b);
	struct loop_count window = loop_count(st.l, st.t_stop, st.t_down + 100, 0);
	struct loop_count after = loop_count(st.l, st.t_down + 100, INT64_MAX, 0);
	struct loop_count after_b = loop_count(st.l, st.t_down + 100, INT64_MAX, b);
	int64_t t_end = t_now_ms();
	px_assert(p, after.n >= 40, "only %u connections after B was marked", after.n);
	px_assert(p, after_b.by == 0, "B served %u connections while stopped?", after_b.by);
	px_stop_ok(p);
	int64_t refused = px_stat(p, "connect_refused");
	int64_t probe_slack = (t_end - st.t_stop) / TCP_INTERVAL + 2;
	cr_log_info("health: %" PRId64 " refusals; %u connections between the stop and the "
		    "mark, %u after", refused, window.n, after.n);
	cr_expect_leq(refused, window.n + probe_slack,
		      "%" PRId64 " refusals, but only %u connections were made while B was "
		      "taken (+ %" PRId64 " probes): nlb kept sending to an unhealthy target",
		      refused, window.n, probe_slack);
	cr_expect_gt(px_stat(p, "health_probes"), 0);
	cr_expect_eq(px_stat(p, "health_changes"), 3, "A and B initial -> healthy, "
		     "B healthy -> unhealthy");
	free(st.l);
	px_free(p);
	t_server_free(st.a);
	t_server_free(st.b);
}

T_TEST(health, tcp_restarted_target_comes_back, .timeout = 30)
{
	struct stopped st;
	stop_b(&st);
	struct px *p = &st.p;
	uint16_t b = t_server_port(st.b);
	int rc = t_server_restart(st.b);
	px_assert(p, rc == 0, "restarting B on %u: %s", b, strerror(-rc));
	int64_t t_restart = t_now_ms();

	/* healthy_threshold passes, one per interval: the first may come at
	 * once, the last (threshold - 1) intervals later.  Healthy on the
	 * first pass would be at most one interval. */
	int limit = TCP_HEALTHY * TCP_INTERVAL + MARGIN_MS;
	int64_t waited = hc_wait(p, b, "unhealthy", "healthy", limit);
	int64_t t_up = t_now_ms();
	cr_log_info("health: restarted target healthy after %" PRId64 " ms", waited);
	px_assert(p, t_up - t_restart >= (TCP_HEALTHY - 1) * TCP_INTERVAL / 2,
		  "B healthy %" PRId64 " ms after its restart: sooner than %d passes %d ms "
		  "apart", t_up - t_restart, TCP_HEALTHY, TCP_INTERVAL);
	t_sleep_ms(1000);
	loop_join(st.l);
	loop_all_served(p, st.l);

	struct loop_count down = loop_count(st.l, st.t_down + 100, t_restart, b);
	struct loop_count back = loop_count(st.l, t_up + 100, INT64_MAX, b);
	px_assert(p, down.by == 0, "B served %u connections while down?", down.by);
	px_assert(p, back.n >= 30 && back.by >= back.n / 4,
		  "B served %u of %u connections after it came back", back.by, back.n);
	px_stop_ok(p);
	cr_expect_eq(px_stat(p, "health_changes"), 4);
	free(st.l);
	px_free(p);
	t_server_free(st.a);
	t_server_free(st.b);
}

/* Without traffic, only probes can see B stop (in the tests above, live
 * refusals usually mark it first): healthy -> unhealthy within interval x
 * unhealthy_threshold + timeout, and not attributed to passive
 * detection. */
T_TEST(health, tcp_probes_mark_stopped_target, .timeout = 30)
{
	struct px p;
	char extra[512];
	px_init(&p, "auto");
	struct t_server *a = tag_target(&p), *b = tag_target(&p);
	hc_extra(extra, sizeof extra, "tcp", 0, TCP_INTERVAL, TCP_TIMEOUT, TCP_HEALTHY,
		 TCP_UNHEALTHY, NULL, true);
	p.conf.group_extra = extra;
	px_start(&p);
	uint16_t pb = t_server_port(b);
	hc_wait(&p, t_server_port(a), "initial", "healthy", 1000 + MARGIN_MS);
	hc_wait(&p, pb, "initial", "healthy", 1000 + MARGIN_MS);
	t_server_stop(b);
	int limit = TCP_INTERVAL * TCP_UNHEALTHY + TCP_TIMEOUT + MARGIN_MS;
	int64_t waited = hc_wait(&p, pb, "healthy", "unhealthy", limit);
	char *line = hc_line_text(&p, pb, "healthy", "unhealthy");
	cr_log_info("health: %s, %" PRId64 " ms after the stop", line ? line : "?", waited);
	bool passive = line && strstr(line, "passive");
	free(line);
	px_assert(&p, !passive, "no traffic ran, yet the change is called passive");
	/* The first failed probe comes at most an interval after the stop,
	 * the threshold-th (threshold - 1) intervals later. */
	px_assert(&p, waited >= (TCP_UNHEALTHY - 1) * TCP_INTERVAL / 2,
		  "unhealthy %" PRId64 " ms after the stop: sooner than %d failed probes",
		  waited, TCP_UNHEALTHY);
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "connect_refused"), 0);
	px_free(&p);
	t_server_free(a);
	t_server_free(b);
}

/* ---- 3, 4: http ---------------------------------------------------------- */

/* A answers 200 and B 503 (matcher 200-399): A healthy, B unhealthy.  Then
 * they swap answers and states.  The probe is GET path HTTP/1.1 with Host
 * and Connection: close. */
T_TEST(health, http_status_decides, .timeout = 30)
{
	enum { INTERVAL = 200, TIMEOUT = 150, HEALTHY = 2, UNHEALTHY = 2 };
	struct px p;
	char extra[512];
	px_init(&p, "auto");
	struct t_server *a = http_target(&p, 200), *b = http_target(&p, 503);
	hc_extra(extra, sizeof extra, "http", 0, INTERVAL, TIMEOUT, HEALTHY, UNHEALTHY,
		 " path = \"/healthz\"; matcher = \"200-399\";", true);
	p.conf.group_extra = extra;
	px_start(&p);
	uint16_t pa = t_server_port(a), pb = t_server_port(b);
	hc_wait(&p, pa, "initial", "healthy", 1000 + MARGIN_MS);
	hc_wait(&p, pb, "initial", "unhealthy", 1000 + UNHEALTHY * INTERVAL + MARGIN_MS);
	px_assert(&p, !hc_logged(&p, pb, "initial", "healthy"), "B answering 503 was healthy");

	char req[256];
	unsigned answered = t_server_http_last(a, req, sizeof req);
	px_assert(&p, answered >= 1, "A answered no request");
	cr_log_info("health: probe request: %s", req);
	px_assert(&p, !strncmp(req, "GET /healthz HTTP/1.1\r\n", 23), "request line: %.40s", req);
	px_assert(&p, strcasestr(req, "\r\nHost: ") != NULL, "no Host header");
	px_assert(&p, strcasestr(req, "\r\nConnection: close\r\n") != NULL,
		  "no Connection: close");

	t_server_set_http_status(a, 503);
	t_server_set_http_status(b, 302);
	hc_wait(&p, pb, "unhealthy", "healthy", HEALTHY * INTERVAL + MARGIN_MS);
	hc_wait(&p, pa, "healthy", "unhealthy", UNHEALTHY * INTERVAL + MARGIN_MS);
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "health_changes"), 4);
	int64_t probes = px_stat(&p, "health_probes");
	unsigned served = t_server_http_last(a, NULL, 0) + t_server_http_last(b, NULL, 0);
	cr_expect_geq(probes, served, "health_probes %" PRId64 ", but the targets answered %u",
		      probes, served);
	px_free(&p);
	t_server_free(a);
	t_server_free(b);
}

/* A target that accepts and never answers fails by timeout: initial ->
 * unhealthy, after its probes connected (so not a refusal).  A target
 * answering 200 beside it is the control. */
T_TEST(health, http_silent_target_times_out, .timeout = 30)
{
	enum { INTERVAL = 500, TIMEOUT = 300, UNHEALTHY = 2 };
	struct px p;
	char extra[512];
	px_init(&p, "auto");
	struct t_server *ok = http_target(&p, 200);
	struct t_server *silent = t_server_start(T_SRV_SILENT, 0);
	T_ASSERT(silent);
	px_target(&p, t_server_port(silent));
	hc_extra(extra, sizeof extra, "http", 0, INTERVAL, TIMEOUT, 2, UNHEALTHY, NULL, true);
	p.conf.group_extra = extra;
	px_start(&p);
	int64_t t0 = t_now_ms();
	hc_wait(&p, t_server_port(ok), "initial", "healthy", 1000 + MARGIN_MS);
	int limit = 1000 + UNHEALTHY * INTERVAL + TIMEOUT + MARGIN_MS;
	hc_wait(&p, t_server_port(silent), "initial", "unhealthy", limit);
	int64_t ms = t_now_ms() - t0;
	cr_log_info("health: silent target unhealthy %" PRId64 " ms after start", ms);
	px_assert(&p, ms >= TIMEOUT, "unhealthy after %" PRId64 " ms: before one timeout", ms);
	px_assert(&p, t_server_accepted(silent) >= UNHEALTHY,
		  "the silent target accepted %u probes: they did not connect",
		  t_server_accepted(silent));
	px_assert(&p, !hc_logged(&p, t_server_port(silent), "initial", "healthy"),
		  "a silent target passed an http check");
	px_stop_ok(&p);
	px_free(&p);
	t_server_free(ok);
	t_server_free(silent);
}

/* ---- 5: initial state ---------------------------------------------------- */

/* Two tag targets up and one port refusing from the start.  Once A and B
 * passed their first probe, connections reach both; the refusing target
 * is logged initial -> unhealthy and never gets a connection attempt:
 * connect_refused stays 0. */
T_TEST(health, initial_state, .timeout = 30)
{
	enum { INTERVAL = 200, N = 20 };
	struct px p;
	char extra[512];
	px_init(&p, "auto");
	struct t_server *a = tag_target(&p), *b = tag_target(&p);
	uint16_t pc;
	int hold = held_port(&pc);
	px_target(&p, pc);
	hc_extra(extra, sizeof extra, "tcp", 0, INTERVAL, 100, 2, 2, NULL, true);
	p.conf.group_extra = extra;
	px_start(&p);
	uint16_t pa = t_server_port(a), pb = t_server_port(b);
	/* First probes are spread over min(interval, 1 s) after start. */
	hc_wait(&p, pa, "initial", "healthy", INTERVAL + MARGIN_MS);
	hc_wait(&p, pb, "initial", "healthy", INTERVAL + MARGIN_MS);

	unsigned by_a = 0, by_b = 0;
	for (int i = 0; i < N; i++) {
		int r = ask(p.conf.listen_port);
		px_assert(&p, r > 0, "connection %d: %s", i, strerror(-r));
		by_a += r == pa;
		by_b += r == pb;
	}
	px_assert(&p, by_a >= N / 4 && by_b >= N / 4, "A served %u, B %u of %d", by_a, by_b, N);
	hc_wait(&p, pc, "initial", "unhealthy", 2 * INTERVAL + MARGIN_MS);
	px_assert(&p, !hc_logged(&p, pc, "initial", "healthy"), "a refusing target was healthy");
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "connect_refused"), 0,
		     "the refusing target was given connections");
	cr_expect_eq(px_stat(&p, "health_changes"), 3);
	cr_expect_eq(px_stat(&p, "accepted"), N);
	px_free(&p);
	close(hold);
	t_server_free(a);
	t_server_free(b);
}

/* ---- 6: no healthy target --------------------------------------------- */

/* Two tag targets whose traffic port works, checked on a held port that
 * refuses: both become unhealthy while able to serve. */
static void all_unhealthy(struct px *p, struct t_server **a, struct t_server **b,
			  int *hold, bool fail_open, char *extra, size_t len)
{
	uint16_t hp;
	*hold = held_port(&hp);
	px_init(p, "auto");
	*a = tag_target(p);
	*b = tag_target(p);
	hc_extra(extra, len, "tcp", hp, 200, 100, 2, 2, NULL, fail_open);
	p->conf.group_extra = extra;
	px_start(p);
	hc_wait(p, t_server_port(*a), "initial", "unhealthy", 1000 + 400 + MARGIN_MS);
	hc_wait(p, t_server_port(*b), "initial", "unhealthy", 1000 + 400 + MARGIN_MS);
}

/* fail_open = true: with no healthy target, all of them take flows. */
T_TEST(health, fail_open_serves_all, .timeout = 30)
{
	enum { N = 20 };
	struct px p;
	struct t_server *a, *b;
	int hold;
	char extra[512];
	all_unhealthy(&p, &a, &b, &hold, true, extra, sizeof extra);
	unsigned by_a = 0, by_b = 0;
	for (int i = 0; i < N; i++) {
		int r = ask(p.conf.listen_port);
		px_assert(&p, r > 0, "connection %d with no healthy target: %s", i, strerror(-r));
		by_a += r == t_server_port(a);
		by_b += r == t_server_port(b);
	}
	px_assert(&p, by_a > 0 && by_b > 0, "fail open: A served %u, B %u of %d",
		  by_a, by_b, N);
	/* Probes go to the held port: the traffic ports saw only clients. */
	px_assert(&p, t_server_accepted(a) + t_server_accepted(b) == N,
		  "targets accepted %u + %u", t_server_accepted(a), t_server_accepted(b));
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "no_healthy"), 0);
	cr_expect_eq(px_stat(&p, "no_target"), 0);
	cr_expect_eq(px_stat(&p, "accepted"), N);
	px_free(&p);
	close(hold);
	t_server_free(a);
	t_server_free(b);
}

/* fail_open = false: with no healthy target a client is reset at once,
 * no target sees it, and no_healthy counts it. */
T_TEST(health, fail_closed_resets, .timeout = 30)
{
	enum { N = 5 };
	struct px p;
	struct t_server *a, *b;
	int hold;
	char extra[512];
	all_unhealthy(&p, &a, &b, &hold, false, extra, sizeof extra);
	for (int i = 0; i < N; i++) {
		int fd = px_connect(&p);
		int64_t t0 = t_now_ms();
		int rc = t_wait_closed(fd, 3000);
		int64_t ms = t_now_ms() - t0;
		t_close(fd);
		px_assert(&p, rc == -ECONNRESET, "connection %d with no healthy target: %s", i,
			  rc == 0 ? "closed with a FIN, want a reset" :
			  rc == -ETIMEDOUT ? "still open after 3 s" : strerror(-rc));
		px_assert(&p, ms < 500, "connection %d reset after %" PRId64 " ms", i, ms);
	}
	px_assert(&p, t_server_accepted(a) + t_server_accepted(b) == 0,
		  "targets accepted %u + %u while failing closed",
		  t_server_accepted(a), t_server_accepted(b));
	px_stop_ok(&p);
	px_assert(&p, px_stat(&p, "no_healthy") == N, "no_healthy = %" PRId64 ", want %d",
		  px_stat(&p, "no_healthy"), N);
	cr_expect_eq(px_stat(&p, "no_target"), 0);
	cr_expect_eq(px_stat(&p, "connect_refused"), 0);
	px_free(&p);
	close(hold);
	t_server_free(a);
	t_server_free(b);
}

/* ---- 7: passive detection ----------------------------------------------- */

/* How target B fails its live connects in passive_case. */
enum passive_cause {
	PASSIVE_STOPPED,	/* its server stops: connects refused */
	PASSIVE_UNREACHABLE,	/* its SYNs answered with ICMP host unreachable */
};

/* interval 60 s: after the first probes no other comes during the test.
 * B fails (cause); live connections that pick B fail and are retried on
 * A.  unhealthy_threshold (2) failures in a row mark B unhealthy at
 * once, with "passive" in the reason, and nlb stops trying it.  The
 * failures are counted as counter (connect_refused, connect_error). */
static void passive_case(enum passive_cause cause, const char *counter)
{
	enum { UNHEALTHY = 2 };
	struct px p;
	char extra[512];
	if (cause == PASSIVE_UNREACHABLE) {
		/* A namespace of the test's own, for the rule below. */
		T_ASSERT(unshare(CLONE_NEWNET) == 0, ": unshare(CLONE_NEWNET): %s",
			 strerror(errno));
		T_ASSERT(system("ip link set lo up") == 0);
	}
	px_init(&p, "auto");
	struct t_server *a = tag_target(&p), *b = tag_target(&p);
	p.conf.connect_retries = 2;
	hc_extra(extra, sizeof extra, "tcp", 0, 60000, 1000, 2, UNHEALTHY, NULL, true);
	p.conf.group_extra = extra;
	px_start(&p);
	uint16_t pa = t_server_port(a), pb = t_server_port(b);
	hc_wait(&p, pa, "initial", "healthy", 1000 + MARGIN_MS);
	hc_wait(&p, pb, "initial", "healthy", 1000 + MARGIN_MS);

	struct loop *l = loop_start(p.conf.listen_port);
	t_sleep_ms(200);
	int rc = 0;
	pthread_mutex_lock(&l->pause);
	if (cause == PASSIVE_STOPPED) {
		t_server_stop(b);
	} else {
		/* The server stays up; a SYN to it is answered with ICMP host
		 * unreachable, so a connect fails with EHOSTUNREACH (nlb's
		 * connect_error), as when a route to the target is gone. */
		char cmd[256];
		snprintf(cmd, sizeof cmd,
			 "nft add table inet nlbt && nft add chain inet nlbt out "
			 "'{ type filter hook output priority 0; }' && nft add rule inet nlbt out "
			 "tcp dport %u tcp flags syn reject with icmpx type host-unreachable",
			 pb);
		rc = system(cmd);
	}
	int64_t t_stop = t_now_ms();
	pthread_mutex_unlock(&l->pause);
	px_assert(&p, rc == 0, "nft failed (%d)", rc);

	int64_t waited = hc_wait(&p, pb, "healthy", "unhealthy", 1000);
	int64_t t_down = t_now_ms();
	char *line = hc_line_text(&p, pb, "healthy", "unhealthy");
	cr_log_info("health: %s, %" PRId64 " ms after B failed", line ? line : "?", waited);
	bool passive = line && strstr(line, "passive");
	free(line);
	px_assert(&p, passive, "the change is not attributed to passive detection");
	t_sleep_ms(1000);
	loop_join(l);
	loop_all_served(&p, l);
	struct loop_count after = loop_count(l, t_down + 100, INT64_MAX, 0);
	struct loop_count window = loop_count(l, t_stop, t_down, 0);
	px_assert(&p, after.n >= 30, "only %u connections after B was marked", after.n);
	px_stop_ok(&p);
	/* UNHEALTHY failures mark B; a few more may be under way within the
	 * ~100 ms it may take.  Had nlb gone on trying B, about half of the
	 * later connections would fail too. */
	int64_t failed = px_stat(&p, counter);
	cr_log_info("health: passive: %" PRId64 " %s, %u connections between B's failure "
		    "and the mark, %u after", failed, counter, window.n, after.n);
	cr_expect_geq(failed, UNHEALTHY);
	cr_expect_leq(failed, UNHEALTHY + 3, "%" PRId64 " %s: nlb kept trying B", failed, counter);
	if (cause == PASSIVE_UNREACHABLE)
		cr_expect_eq(px_stat(&p, "connect_refused"), 0);
	cr_expect_eq(px_stat(&p, "health_changes"), 3);
	free(l);
	px_free(&p);
	t_server_free(a);
	t_server_free(b);
}

T_TEST(health, passive_marks_refusing_target, .timeout = 30)
{
	passive_case(PASSIVE_STOPPED, "connect_refused");
}

/* A connect failing otherwise than refused or timed out (here
 * EHOSTUNREACH) is the target's failure too. */
T_TEST(health, passive_marks_unreachable_target, .timeout = 30)
{
	passive_case(PASSIVE_UNREACHABLE, "connect_error");
}

/* ---- 8: 1,000 targets ----------------------------------------------------- */

/* 1,000 listening sockets never accepted from: the kernel completes each
 * probe's handshake in the backlog (128 deep; 3 s at 100 ms is ~31 per
 * target).  Probes keep pace: at least 70% of 1000 x 3000 / 100 complete,
 * and every target is logged initial -> healthy. */
/* n listening sockets on 127.0.0.1, never accepted from, their ports
 * in port[]. */
static void backlog_targets(int *lfd, uint16_t *port, int n)
{
	for (int i = 0; i < n; i++) {
		lfd[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		T_ASSERT(lfd[i] >= 0, ": socket %d: %s", i, strerror(errno));
		struct sockaddr_in a = {
			.sin_family = AF_INET,
			.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
		};
		socklen_t alen = sizeof a;
		T_ASSERT(bind(lfd[i], (struct sockaddr *)&a, sizeof a) == 0 &&
			 listen(lfd[i], 128) == 0 &&
			 getsockname(lfd[i], (struct sockaddr *)&a, &alen) == 0,
			 ": listener %d: %s", i, strerror(errno));
		port[i] = ntohs(a.sin_port);
	}
}

/* The targets list of a group for those ports, malloc'd. */
static char *target_list(const uint16_t *port, int n)
{
	size_t cap = (size_t)n * 64, off = 0;
	char *targets = malloc(cap);
	T_ASSERT(targets);
	for (int i = 0; i < n; i++)
		off += (size_t)snprintf(targets + off, cap - off,
					"%s{ address = \"127.0.0.1:%u\"; }\n",
					i ? "      , " : "", port[i]);
	return targets;
}

/* Starts nlb on path and waits for its "running" line.  Not px_spawn:
 * its wait for the listener reads /proc/net/tcp, which the probes fill
 * with tens of thousands of sockets (and other tests' leftovers may
 * too); reading it all can take seconds.  The "running" line comes once
 * every worker accepts. */
static void spawn_many(struct px *p, char *path)
{
	T_ASSERT(path, ": writing config: %s", strerror(errno));
	p->conf_path = path;
	T_ASSERT(t_nlb_bin(), ": NLB_BIN is not set (run through make test)");
	p->nlb = t_nlb_start(path);
	T_ASSERT(p->nlb, ": starting nlb: %s", strerror(errno));
	int64_t deadline = t_now_ms() + 10000;
	while (!t_nlb_log_contains(p->nlb, " running: ") && t_nlb_wait(p->nlb, 0) == -ETIMEDOUT &&
	       t_now_ms() < deadline)
		t_sleep_ms(10);
	bool exited = t_nlb_wait(p->nlb, 0) != -ETIMEDOUT;
	px_assert(p, t_nlb_log_contains(p->nlb, " running: "),
		  "nlb did not log that it is running (%s)", exited ? "it exited" : "in 10 s");
}

T_TEST(health, thousand_targets, .timeout = 30)
{
	enum { N = 1000, INTERVAL = 100, RUN_MS = 3000 };
	static int lfd[N];
	static uint16_t port[N];
	backlog_targets(lfd, port, N);
	char *targets = target_list(port, N);

	struct px p;
	px_init(&p, "auto");
	char *path = t_write_config(
		"workers = 1;\n"
		"log_level = \"info\";\n"
		"listeners = (\n"
		"  { name = \"web\"; protocol = \"tcp\"; address = \"127.0.0.1:%u\";"
		" target_group = \"web\"; }\n"
		");\n"
		"target_groups = (\n"
		"  { name = \"web\"; algorithm = \"round_robin\";\n"
		"    health_check = { protocol = \"tcp\"; interval_ms = %d; timeout_ms = %d;"
		" healthy_threshold = 2; unhealthy_threshold = 2; };\n"
		"    targets = ( %s ); }\n"
		");\n",
		p.conf.listen_port, INTERVAL, INTERVAL, targets);
	free(targets);
	spawn_many(&p, path);
	t_sleep_ms(RUN_MS);
	px_stop_ok(&p);

	char *log = t_nlb_log(p.nlb);
	T_ASSERT(log);
	int missing = 0, first_missing = -1, unhealthy = 0;
	char needle[128];
	for (int i = 0; i < N; i++) {
		hc_line(needle, sizeof needle, port[i], "initial", "healthy");
		if (!strstr(log, needle) && !missing++)
			first_missing = i;
	}
	for (const char *q = log; (q = strstr(q, "-> unhealthy")); q++)
		unhealthy++;
	free(log);
	int64_t probes = px_stat(&p, "health_probes");
	cr_log_info("health: 1000 targets: %" PRId64 " probes in %d ms, %d unhealthy changes",
		    probes, RUN_MS, unhealthy);
	if (missing)
		px_failed(&p, "targets never healthy");
	cr_assert_eq(missing, 0, "%d of %d targets never logged initial -> healthy (first: "
		     "127.0.0.1:%u)", missing, N, first_missing >= 0 ? port[first_missing] : 0);
	int64_t want = (int64_t)N * RUN_MS / INTERVAL * 7 / 10;
	cr_expect_geq(probes, want, "%" PRId64 " probes in %d ms, want at least %" PRId64,
		      probes, RUN_MS, want);
	px_free(&p);
	for (int i = 0; i < N; i++)
		close(lfd[i]);
}

/* Health changes are published in batches.  1,000 targets under maglev
 * (M = 100003: a build is 1.8 ms) turn healthy at start, their first
 * probes spread over 1 s; one table per change would be 1,000 builds.
 * Within a group, health publishes are a hold-down apart (more than
 * NLB_HEALTH_PUBLISH_HOLD_MS - 1 ms, counting nlb's and the test's
 * truncation to whole ms), and all of them come after the start and
 * before the test sees the last change logged (a line is written after
 * the publish that includes it).  So there are at most 2 + (elapsed + 1)
 * / (hold - 1) builds: the start's, the first change's, then one per
 * hold-down.  That holds on any machine, a slow one taking longer and so
 * allowing more; and it fails without coalescing, since 1,001 builds
 * would need 99 s, more than the test's 30 s wait. */
T_TEST(health, thousand_targets_coalesce_rebuilds, .timeout = 60)
{
	enum { N = 1000, WAIT_MS = 30000 };
	static int lfd[N];
	static uint16_t port[N];
	backlog_targets(lfd, port, N);
	char *targets = target_list(port, N);

	struct px p;
	px_init(&p, "auto");
	char *path = t_write_config(
		"workers = 1;\n"
		"log_level = \"info\";\n"
		"listeners = (\n"
		"  { name = \"web\"; protocol = \"tcp\"; address = \"127.0.0.1:%u\";"
		" target_group = \"web\"; }\n"
		");\n"
		"target_groups = (\n"
		"  { name = \"web\"; algorithm = \"maglev\"; maglev_table_size = 100003;\n"
		"    health_check = { protocol = \"tcp\"; interval_ms = 60000; timeout_ms = 5000;"
		" healthy_threshold = 1; };\n"
		"    targets = ( %s ); }\n"
		");\n",
		p.conf.listen_port, targets);
	free(targets);
	int64_t t0 = t_now_ms();
	spawn_many(&p, path);
	int healthy = 0;
	while ((healthy = t_nlb_log_count(p.nlb, ": initial -> healthy")) < N &&
	       t_nlb_wait(p.nlb, 0) == -ETIMEDOUT && t_now_ms() - t0 < WAIT_MS)
		t_sleep_ms(20);
	int64_t elapsed = t_now_ms() - t0;
	px_assert(&p, healthy == N, "%d of %d targets logged healthy in %" PRId64 " ms",
		  healthy, N, elapsed);
	px_stop_ok(&p);
	int64_t builds = px_stat(&p, "table_builds");
	int64_t bound = 2 + (elapsed + 1) / (NLB_HEALTH_PUBLISH_HOLD_MS - 1);
	cr_log_info("health: 1000 targets healthy in %" PRId64 " ms with %" PRId64
		    " table builds (bound %" PRId64 ")", elapsed, builds, bound);
	cr_expect_leq(builds, bound, "%" PRId64 " table builds for %d health changes in %"
		      PRId64 " ms: not coalesced (at most %" PRId64 ")", builds, N, elapsed, bound);
	cr_expect_eq(px_stat(&p, "health_changes"), N);
	px_free(&p);
	for (int i = 0; i < N; i++)
		close(lfd[i]);
}

/* One client: sends a byte, true when some answer comes back. */
static bool answered(struct px *p)
{
	int fd = px_connect(p);
	char c;
	bool ok = t_write_all(fd, "?", 1) == 0 && t_read_full(fd, &c, 1, 2000) == 1;
	t_close(fd);
	return ok;
}

/* Resets from a target during live traffic count as failures too: B
 * passes its TCP probe (it accepts) but resets every connection on its
 * first read.  Live connections that reach B see the reset; two in a row
 * mark B unhealthy at once ("passive"), and later clients all reach A. */
T_TEST(health, passive_counts_target_resets, .timeout = 30)
{
	enum { UNHEALTHY = 2 };
	struct px p;
	char extra[512];
	px_init(&p, "auto");
	p.conf.algorithm = "round_robin";
	struct t_server *a = tag_target(&p);
	struct t_server *b = t_server_start(T_SRV_RESET, 0);
	T_ASSERT(b);
	px_target(&p, t_server_port(b));
	hc_extra(extra, sizeof extra, "tcp", 0, 60000, 1000, 2, UNHEALTHY, NULL, true);
	p.conf.group_extra = extra;
	px_start(&p);
	uint16_t pb = t_server_port(b);
	hc_wait(&p, t_server_port(a), "initial", "healthy", 1000 + MARGIN_MS);
	hc_wait(&p, pb, "initial", "healthy", 1000 + MARGIN_MS);

	/* Round robin alternates, so B sees every other client until it is
	 * marked: within the first few. */
	int failed_early = 0;
	for (int i = 0; i < 6; i++)
		failed_early += !answered(&p);
	hc_wait(&p, pb, "healthy", "unhealthy", 1000);
	char *line = hc_line_text(&p, pb, "healthy", "unhealthy");
	bool passive = line && strstr(line, "passive");
	free(line);
	px_assert(&p, passive, "B's resets did not mark it unhealthy by passive detection");
	t_sleep_ms(100);
	int failed_late = 0;
	for (int i = 0; i < 20; i++)
		failed_late += !answered(&p);
	px_stop_ok(&p);
	cr_expect_geq(failed_early, UNHEALTHY, "only %d clients met B's resets", failed_early);
	cr_expect_eq(failed_late, 0, "%d clients still reached B after it was marked", failed_late);
	cr_expect_geq(px_stat(&p, "target_reset"), UNHEALTHY);
	px_free(&p);
	t_server_free(a);
	t_server_free(b);
}

/* ---- 9: the longest path ------------------------------------------------- */

/* Reads from fd until the blank line that ends a request head, at most
 * cap - 1 bytes (NUL-terminated); returns the head's length, or -1. */
static ssize_t read_head(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	while (len + 1 < cap) {
		ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
		if (n <= 0)
			return -1;
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			return (ssize_t)len;
	}
	return -1;
}

/* An http check whose path is the longest nlb takes (1,024 characters,
 * the AWS limit) to an IPv6 target (the longest Host value) behind a
 * PROXY v2 header: all three must fit in the probe's request.  This test
 * is the target, on [::1]: it reads the LOCAL header, then the request,
 * finds the whole path in its request line, answers 200, and the target
 * turns healthy. */
T_TEST(health, longest_path_ipv6_proxy_v2, .timeout = 30)
{
	enum { PATH_LEN = 1024 };
	static char path[PATH_LEN + 1];
	path[0] = '/';
	for (int i = 1; i < PATH_LEN; i++)
		path[i] = (char)('a' + i % 26);
	path[PATH_LEN] = '\0';
	uint16_t tport;
	int lfd = t_tcp_listener("::1", &tport);
	T_ASSERT(lfd >= 0, ": listen on [::1]: %s", strerror(-lfd));
	struct px p;
	px_init(&p, "auto");
	char *conf = t_write_config(
		"workers = 1;\nlog_level = \"info\";\n"
		"listeners = ( { name = \"web\"; address = \"127.0.0.1:%u\";"
		" target_group = \"web\"; } );\n"
		"target_groups = ( { name = \"web\"; proxy_protocol = \"v2\";\n"
		"  health_check = { protocol = \"http\"; interval_ms = 60000; timeout_ms = 5000;"
		" proxy_protocol = true;\n    path = \"%s\"; };\n"
		"  targets = ( { address = \"[::1]:%u\"; } ); } );\n",
		p.conf.listen_port, path, tport);
	T_ASSERT(conf, ": writing config: %s", strerror(errno));
	p.conf_path = conf;
	px_spawn(&p, conf);

	struct pollfd pf = { .fd = lfd, .events = POLLIN };
	px_assert(&p, poll(&pf, 1, 3000) == 1, "no probe came within 3 s");
	int t = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	px_assert(&p, t >= 0, "accept: %s", strerror(errno));
	struct timeval tv = { .tv_sec = 3 };
	setsockopt(t, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	/* v2 signature, then version 2 + LOCAL, no family, no addresses */
	static const uint8_t local[16] = "\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00";
	uint8_t hdr[16];
	px_assert(&p, recv(t, hdr, sizeof hdr, MSG_WAITALL) == (ssize_t)sizeof hdr &&
		      memcmp(hdr, local, sizeof hdr) == 0, "no PROXY v2 LOCAL header first");
	static char head[4096];
	ssize_t n = read_head(t, head, sizeof head);
	px_assert(&p, n > 0, "no whole request head after the header");
	char line[PATH_LEN + 32];
	snprintf(line, sizeof line, "GET %s HTTP/1.1\r\n", path);
	px_assert(&p, strncmp(head, line, strlen(line)) == 0,
		  "the request line is not GET with the whole path: %.60s...", head);
	char host[64];
	snprintf(host, sizeof host, "\r\nHost: [::1]:%u\r\n", tport);
	px_assert(&p, strstr(head, host) != NULL, "no Host header naming [::1]:%u", tport);
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
				 "Connection: close\r\n\r\n";
	px_assert(&p, t_write_all(t, ok, sizeof ok - 1) == 0, "answering the probe");
	char needle[128];
	snprintf(needle, sizeof needle, "target [::1]:%u in group web: initial -> healthy", tport);
	int rc = t_nlb_log_wait(p.nlb, needle, 3000);
	close(t);
	close(lfd);
	px_assert(&p, rc == 0, "no \"%s\" logged", needle);
	px_stop_ok(&p);
	px_free(&p);
}
