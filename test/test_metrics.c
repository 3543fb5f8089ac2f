/* Suite "metrics": the Prometheus endpoint (stats = { listen }) of the
 * real nlb.  Known traffic (TCP connections with known byte counts, UDP
 * datagrams, a refused target, a denied client) must show as exact
 * counter values with their labels; target health and draining as
 * gauges; the body must satisfy promtool; the HTTP side must answer
 * 404, 405 and 400 where due, time out slow clients without making the
 * others wait for them, and keep serving; a second nlb on the same
 * stats address must fail at start naming it. */
#include <criterion/criterion.h>

#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control/counter_table.h"
#include "helpers.h"
#include "px.h"
#include "udp_srv.h"

TestSuite(metrics, .init = t_setup, .fini = t_teardown);

/* ---- a tiny HTTP client ------------------------------------------------ */

struct reply {
	int status;
	char *head;		/* status line and fields, NUL-terminated */
	char *body;		/* NUL-terminated */
	size_t body_len;
};

static void reply_free(struct reply *r)
{
	free(r->head);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* Reads fd to EOF (or timeout_ms in all) into a malloc'd buffer. */
static ssize_t read_to_eof(int fd, char **out, int timeout_ms)
{
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap + 1);
	if (!buf)
		return -ENOMEM;
	int64_t deadline = t_now_ms() + timeout_ms;
	for (;;) {
		int64_t left = deadline - t_now_ms();
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (left <= 0 || poll(&p, 1, (int)left) == 0) {
			free(buf);
			return -ETIMEDOUT;
		}
		if (len == cap) {
			char *n = realloc(buf, cap * 2 + 1);
			if (!n) {
				free(buf);
				return -ENOMEM;
			}
			buf = n;
			cap *= 2;
		}
		ssize_t n = recv(fd, buf + len, cap - len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = -errno;
			free(buf);
			return e;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*out = buf;
	return (ssize_t)len;
}

/* Sends req (len bytes) to 127.0.0.1:port, reads the answer to EOF and
 * splits it; 0, or -errno (-EPROTO: not an HTTP/1.1 answer). */
static int http_raw(uint16_t port, const char *req, size_t len, struct reply *r)
{
	memset(r, 0, sizeof(*r));
	int fd = t_connect(port);
	if (fd < 0)
		return fd;
	int rc = t_write_all(fd, req, len);
	char *all = NULL;
	ssize_t n = rc < 0 ? rc : read_to_eof(fd, &all, 10000);
	t_close(fd);
	if (n < 0)
		return (int)n;
	char *end = strstr(all, "\r\n\r\n");
	if (strncmp(all, "HTTP/1.1 ", 9) != 0 || !end) {
		free(all);
		return -EPROTO;
	}
	r->status = atoi(all + 9);
	*end = '\0';
	r->head = strdup(all);
	r->body_len = (size_t)n - (size_t)(end + 4 - all);
	r->body = malloc(r->body_len + 1);
	if (r->body) {
		memcpy(r->body, end + 4, r->body_len);
		r->body[r->body_len] = '\0';
	}
	free(all);
	return r->head && r->body ? 0 : -ENOMEM;
}

static int http_get(uint16_t port, const char *path, struct reply *r)
{
	char req[512];
	int n = snprintf(req, sizeof(req),
			 "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nAccept: */*\r\n\r\n", path, port);
	return http_raw(port, req, (size_t)n, r);
}

/* GET /metrics, which must answer 200; the body, malloc'd. */
static char *scrape(struct px *p, uint16_t port)
{
	struct reply r;
	int rc = http_get(port, "/metrics", &r);
	px_assert(p, rc == 0, "GET /metrics: %s", strerror(-rc));
	px_assert(p, r.status == 200, "GET /metrics: status %d", r.status);
	char *body = r.body;
	r.body = NULL;
	reply_free(&r);
	return body;
}

/* ---- reading the exposition ---------------------------------------------- */

/* The value of the sample whose name and labels are exactly series
 * ("nlb_x{a=\"b\"}"), or -1 when the body has no such line. */
static int64_t metric(const char *body, const char *series)
{
	size_t n = strlen(series);
	for (const char *line = body; line && *line; ) {
		if (strncmp(line, series, n) == 0 && line[n] == ' ')
			return strtoll(line + n + 1, NULL, 10);
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return -1;
}

/* metric() on a series written with printf arguments. */
static int64_t metricf(const char *body, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int64_t metricf(const char *body, const char *fmt, ...)
{
	char series[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(series, sizeof(series), fmt, ap);
	va_end(ap);
	return metric(body, series);
}

/* Sum of every sample whose line starts with prefix; *count gets how
 * many there were. */
static int64_t metric_sum(const char *body, const char *prefix, int *count)
{
	size_t n = strlen(prefix);
	int64_t sum = 0;
	*count = 0;
	for (const char *line = body; line && *line; ) {
		if (strncmp(line, prefix, n) == 0) {
			const char *sp = strchr(line, ' ');
			if (sp) {
				sum += strtoll(sp + 1, NULL, 10);
				(*count)++;
			}
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return sum;
}

/* Scrapes until series has value want (nlb finishes closing connections
 * a moment after the client does), at most 10 s; the last body. */
static char *scrape_until(struct px *p, uint16_t port, const char *series, int64_t want)
{
	int64_t deadline = t_now_ms() + 10000;
	for (;;) {
		char *body = scrape(p, port);
		if (metric(body, series) == want || t_now_ms() > deadline)
			return body;
		free(body);
		t_sleep_ms(20);
	}
}

/* ---- counters ---------------------------------------------------------- */

/* Five TCP connections of known sizes through "web", one client denied
 * there, one connection to a listener whose only target refuses, three
 * UDP datagrams through "dns": every counter the traffic touched has its
 * exact value, the others are 0, and the exit stats line agrees. */
T_TEST(metrics, counters_after_known_traffic, .timeout = 60)
{
	struct t_server *echo = t_server_start(T_SRV_ECHO, 0);
	T_ASSERT(echo);
	struct t_udp_server *usrv = t_udp_server_start("127.0.0.1", 0, false);
	T_ASSERT(usrv);
	uint16_t dead;
	int hold = t_port_hold(&dead);
	T_ASSERT(hold >= 0);
	uint16_t web = t_free_port(), dns = t_free_port(), down = t_free_port();
	uint16_t stats = t_free_port();
	char *conf = t_write_config(
		"workers = 2;\n"
		"stats = { listen = \"127.0.0.1:%u\"; };\n"
		"listeners = (\n"
		"  { name = \"web\"; address = \"127.0.0.1:%u\"; target_group = \"web\";"
		" deny = [ \"127.0.0.6\" ]; },\n"
		"  { name = \"dns\"; protocol = \"udp\"; address = \"127.0.0.1:%u\"; target_group = \"dns\"; },\n"
		"  { name = \"down\"; address = \"127.0.0.1:%u\"; target_group = \"down\"; }\n"
		");\n"
		"target_groups = (\n"
		"  { name = \"web\"; targets = ( { address = \"127.0.0.1:%u\"; } ); },\n"
		"  { name = \"dns\"; targets = ( { address = \"127.0.0.1:%u\"; } ); },\n"
		"  { name = \"down\"; connect_retries = 0;"
		" targets = ( { address = \"127.0.0.1:%u\"; } ); }\n"
		");\n",
		stats, web, dns, down, t_server_port(echo), t_udp_server_port(usrv), dead);
	T_ASSERT(conf);
	struct px p;
	px_spawn_conf(&p, conf);

	uint64_t tcp_bytes = 0;
	char buf[5000];
	memset(buf, 'm', sizeof(buf));
	for (int i = 0; i < 5; i++) {
		size_t len = 1000 + (size_t)i * 111;
		int fd = t_connect(web);
		px_assert(&p, fd >= 0, "connect web: %s", strerror(-fd));
		int rc = t_round_trip(fd, buf, len, 5000);
		t_close(fd);
		px_assert(&p, rc == 0, "round trip %d: %s", i, strerror(-rc));
		tcp_bytes += len;
	}
	int fd = t_connect_from("127.0.0.6", 0, web);
	px_assert(&p, fd >= 0, "connect from 127.0.0.6: %s", strerror(-fd));
	int rc = t_round_trip(fd, "x", 1, 5000);
	t_close(fd);
	px_assert(&p, rc == -ECONNRESET || rc == -EPIPE, "127.0.0.6 (denied) got: %s", strerror(-rc));
	fd = t_connect(down);
	px_assert(&p, fd >= 0, "connect down: %s", strerror(-fd));
	rc = t_round_trip(fd, "x", 1, 5000);
	t_close(fd);
	px_assert(&p, rc == -ECONNRESET || rc == -EPIPE, "down (refused target) got: %s",
		  strerror(-rc));

	int ufd = t_udp_socket("127.0.0.1");
	px_assert(&p, ufd >= 0, "udp socket: %s", strerror(-ufd));
	uint64_t udp_out = 0;
	for (int i = 1; i <= 3; i++) {
		char msg[64], answer[256];
		memset(msg, 'u', sizeof(msg));
		ssize_t n = t_udp_ask(ufd, "127.0.0.1", dns, msg, (size_t)i * 10, answer,
				      sizeof(answer), 5000);
		px_assert(&p, n > 0, "udp datagram %d: %s", i, strerror((int)-n));
		udp_out += (uint64_t)n;
	}

	/* nlb finishes closing a moment after the clients saw the end. */
	char *b = NULL;
	for (int64_t deadline = t_now_ms() + 10000; t_now_ms() < deadline; t_sleep_ms(20)) {
		free(b);
		b = scrape(&p, stats);
		if (metric(b, "nlb_active_flows{listener=\"web\"}") == 0 &&
		    metric(b, "nlb_active_flows{listener=\"down\"}") == 0 &&
		    metric(b, "nlb_tcp_closed_total{listener=\"web\"}") == 6)
			break;
	}
	px_assert(&p, metric(b, "nlb_active_flows{listener=\"web\"}") == 0, "web flows open");
	px_assert(&p, metric(b, "nlb_active_flows{listener=\"down\"}") == 0, "down flows open");
	px_assert(&p, metric(b, "nlb_active_flows{listener=\"dns\"}") == 1, "the UDP flow");
	px_assert(&p, metric(b, "nlb_new_flows_total{listener=\"web\",protocol=\"tcp\"}") == 6,
		  "web accepted");
	px_assert(&p, metric(b, "nlb_new_flows_total{listener=\"down\",protocol=\"tcp\"}") == 1,
		  "down accepted");
	px_assert(&p, metric(b, "nlb_new_flows_total{listener=\"dns\",protocol=\"udp\"}") == 1,
		  "dns flows");
	px_assert(&p, metric(b, "nlb_new_flows_total{listener=\"dns\",protocol=\"tcp\"}") == -1,
		  "a UDP listener has no TCP series");
	px_assert(&p, metricf(b, "nlb_processed_bytes_total{listener=\"web\",direction=\"in\"}") ==
		  (int64_t)tcp_bytes, "web bytes in");
	px_assert(&p, metricf(b, "nlb_processed_bytes_total{listener=\"web\",direction=\"out\"}") ==
		  (int64_t)tcp_bytes, "web bytes out");
	px_assert(&p, metric(b, "nlb_processed_bytes_total{listener=\"dns\",direction=\"in\"}") == 60,
		  "dns bytes in");
	px_assert(&p, metric(b, "nlb_processed_bytes_total{listener=\"dns\",direction=\"out\"}") ==
		  (int64_t)udp_out, "dns bytes out");
	px_assert(&p, metric(b, "nlb_udp_datagrams_total{listener=\"dns\",direction=\"in\"}") == 3,
		  "datagrams in");
	px_assert(&p, metric(b, "nlb_udp_datagrams_total{listener=\"dns\",direction=\"out\"}") == 3,
		  "datagrams out");
	px_assert(&p, metric(b, "nlb_connect_errors_total{listener=\"web\",reason=\"acl\"}") == 1,
		  "denied client");
	px_assert(&p, metric(b, "nlb_resets_total{listener=\"web\",reason=\"refused\"}") == 1,
		  "denied client reset");
	px_assert(&p, metric(b, "nlb_connect_errors_total{listener=\"down\",reason=\"refused\"}") == 1,
		  "refused connect");
	px_assert(&p, metric(b, "nlb_connect_errors_total{listener=\"down\",reason=\"no_target\"}") == 1,
		  "no target left");
	px_assert(&p, metric(b, "nlb_resets_total{listener=\"down\",reason=\"no_target\"}") == 1,
		  "reset for no target");
	px_assert(&p, metric(b, "nlb_connect_errors_total{listener=\"web\",reason=\"refused\"}") == 0,
		  "web refused connects");
	px_assert(&p, metric(b, "nlb_tcp_closed_total{listener=\"web\"}") == 6, "web closed");
	px_assert(&p, metric(b, "nlb_client_resets_total{listener=\"web\"}") == 0, "client resets");
	px_assert(&p, metric(b, "nlb_target_resets_total{listener=\"web\"}") == 0, "target resets");
	int n;
	px_assert(&p, metric_sum(b, "nlb_udp_dropped_total{listener=\"dns\",", &n) == 0 && n == 9,
		  "UDP drops: %d series", n);
	px_assert(&p, metric_sum(b, "nlb_udp_flows_ended_total{", &n) == 0 && n == 3, "flows ended");
	/* Per worker: both workers have a series, and they add up to every
	 * TCP connection accepted. */
	px_assert(&p, metric_sum(b, "nlb_worker_accepted_total{worker=", &n) == 7 && n == 2,
		  "per-worker accepted: %d series", n);
	px_assert(&p, metric_sum(b, "nlb_worker_active_flows{worker=", &n) == 1 && n == 2,
		  "per-worker flows");
	px_assert(&p, metricf(b, "nlb_target_active_connections{target_group=\"dns\",target=\"127.0.0.1:%u\"}",
			      t_udp_server_port(usrv)) == 1, "the UDP flow's target");
	px_assert(&p, metricf(b, "nlb_target_active_connections{target_group=\"web\",target=\"127.0.0.1:%u\"}",
			      t_server_port(echo)) == 0, "web target connections");
	px_assert(&p, metric(b, "nlb_workers") == 2, "workers");
	/* Groups without health checks: every target counts as healthy,
	 * and there are no probe counters. */
	px_assert(&p, metric(b, "nlb_healthy_hosts{target_group=\"web\"}") == 1, "healthy");
	px_assert(&p, metric(b, "nlb_unhealthy_hosts{target_group=\"web\"}") == 0, "unhealthy");
	px_assert(&p, strstr(b, "nlb_health_probes_total") == NULL, "probe counters without checks");
	free(b);

	close(ufd);
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "accepted"), 7);
	cr_expect_eq(px_stat(&p, "acl_denied"), 1);
	cr_expect_eq(px_stat(&p, "connect_refused"), 1);
	cr_expect_eq(px_stat(&p, "no_target"), 1);
	cr_expect_eq(px_stat(&p, "bytes_in"), (int64_t)(tcp_bytes + 60));
	cr_expect_eq(px_stat(&p, "bytes_out"), (int64_t)(tcp_bytes + udp_out));
	cr_expect_eq(px_stat(&p, "udp_in"), 3);
	cr_expect_eq(px_stat(&p, "udp_flows"), 1);
	px_free(&p);
	close(hold);
	t_udp_server_free(usrv);
	t_server_free(echo);
}

/* A UDP client denied on a tcp_udp listener is a dropped datagram, not
 * a refused connection; a TCP client denied there is the other way
 * round.  The exit line adds both into acl_denied, as it always did. */
T_TEST(metrics, tcp_udp_listener_splits_denials, .timeout = 30)
{
	struct t_udp_server *usrv = t_udp_server_start("127.0.0.1", 0, true);
	T_ASSERT(usrv);
	uint16_t port = t_free_port(), stats = t_free_port();
	char *conf = t_write_config(
		"workers = 1;\n"
		"stats = { listen = \"127.0.0.1:%u\"; };\n"
		"listeners = ( { name = \"both\"; protocol = \"tcp_udp\"; address = \"127.0.0.1:%u\";"
		" target_group = \"g\"; deny = [ \"127.0.0.6\", \"127.0.0.7\" ]; } );\n"
		"target_groups = ( { name = \"g\"; targets = ( { address = \"127.0.0.1:%u\"; } ); } );\n",
		stats, port, t_udp_server_port(usrv));
	T_ASSERT(conf);
	struct px p;
	px_spawn_conf(&p, conf);
	for (int i = 0; i < 2; i++) {
		int fd = t_connect_from(i ? "127.0.0.7" : "127.0.0.6", 0, port);
		px_assert(&p, fd >= 0, "connect: %s", strerror(-fd));
		int rc = t_round_trip(fd, "x", 1, 5000);
		t_close(fd);
		px_assert(&p, rc == -ECONNRESET || rc == -EPIPE, "denied client got: %s",
			  strerror(-rc));
	}
	int ufd = t_udp_socket("127.0.0.6");
	px_assert(&p, ufd >= 0, "udp socket: %s", strerror(-ufd));
	for (int i = 0; i < 3; i++)
		px_assert(&p, t_udp_send_to(ufd, "127.0.0.1", port, "dgram", 5) == 0, "send");
	close(ufd);
	char *b = scrape_until(&p, stats, "nlb_udp_dropped_total{listener=\"both\",reason=\"acl\"}", 3);
	px_assert(&p, metric(b, "nlb_udp_dropped_total{listener=\"both\",reason=\"acl\"}") == 3,
		  "dropped datagrams");
	px_assert(&p, metric(b, "nlb_connect_errors_total{listener=\"both\",reason=\"acl\"}") == 2,
		  "refused connections");
	px_assert(&p, metric(b, "nlb_new_flows_total{listener=\"both\",protocol=\"udp\"}") == 0,
		  "no flow for a denied client");
	free(b);
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "acl_denied"), 5);
	px_free(&p);
	t_udp_server_free(usrv);
}

/* ---- targets ------------------------------------------------------------ */

/* A health check on one live and one dead target: the host counts, each
 * target's health and state, the connection held to the live one, and
 * the probe counters. */
T_TEST(metrics, target_health, .timeout = 30)
{
	struct t_server *live = t_server_start(T_SRV_ECHO, 0);
	T_ASSERT(live);
	uint16_t dead;
	int hold = t_port_hold(&dead);
	T_ASSERT(hold >= 0);
	uint16_t port = t_free_port(), stats = t_free_port();
	char *conf = t_write_config(
		"workers = 2;\n"
		"stats = { listen = \"127.0.0.1:%u\"; };\n"
		"listeners = ( { name = \"web\"; address = \"127.0.0.1:%u\"; target_group = \"web\"; } );\n"
		"target_groups = ( { name = \"web\"; algorithm = \"round_robin\";\n"
		"  health_check = { interval_ms = 100; timeout_ms = 1000; unhealthy_threshold = 2; };\n"
		"  targets = ( { address = \"127.0.0.1:%u\"; weight = 3; },"
		" { address = \"127.0.0.1:%u\"; } ); } );\n",
		stats, port, t_server_port(live), dead);
	T_ASSERT(conf);
	struct px p;
	px_spawn_conf(&p, conf);
	char want[128];
	snprintf(want, sizeof(want), "target 127.0.0.1:%u in group web: initial -> healthy",
		 t_server_port(live));
	px_assert(&p, t_nlb_log_wait(p.nlb, want, 10000) == 0, "live target never healthy");
	snprintf(want, sizeof(want), "target 127.0.0.1:%u in group web: initial -> unhealthy", dead);
	px_assert(&p, t_nlb_log_wait(p.nlb, want, 10000) == 0, "dead target never unhealthy");
	int fd = t_connect(port);
	px_assert(&p, fd >= 0, "connect: %s", strerror(-fd));
	px_assert(&p, t_round_trip(fd, "ping", 4, 5000) == 0, "round trip");

	char *b = scrape(&p, stats);
	char lt[64], dt[64];
	snprintf(lt, sizeof(lt), "target_group=\"web\",target=\"127.0.0.1:%u\"", t_server_port(live));
	snprintf(dt, sizeof(dt), "target_group=\"web\",target=\"127.0.0.1:%u\"", dead);
	px_assert(&p, metric(b, "nlb_healthy_hosts{target_group=\"web\"}") == 1, "healthy hosts");
	px_assert(&p, metric(b, "nlb_unhealthy_hosts{target_group=\"web\"}") == 1, "unhealthy hosts");
	px_assert(&p, metricf(b, "nlb_target_health{%s}", lt) == 1, "live health");
	px_assert(&p, metricf(b, "nlb_target_health{%s}", dt) == 0, "dead health");
	px_assert(&p, metricf(b, "nlb_target_health_state{%s,state=\"healthy\"}", lt) == 1, "live");
	px_assert(&p, metricf(b, "nlb_target_health_state{%s,state=\"initial\"}", lt) == 0, "live");
	px_assert(&p, metricf(b, "nlb_target_health_state{%s,state=\"unhealthy\"}", lt) == 0, "live");
	px_assert(&p, metricf(b, "nlb_target_health_state{%s,state=\"unhealthy\"}", dt) == 1, "dead");
	px_assert(&p, metricf(b, "nlb_target_health_state{%s,state=\"healthy\"}", dt) == 0, "dead");
	px_assert(&p, metricf(b, "nlb_target_active_connections{%s}", lt) == 1, "live connections");
	px_assert(&p, metricf(b, "nlb_target_active_connections{%s}", dt) == 0, "dead connections");
	px_assert(&p, metricf(b, "nlb_target_draining{%s}", lt) == 0, "live draining");
	px_assert(&p, metricf(b, "nlb_target_weight{%s}", lt) == 3, "live weight");
	px_assert(&p, metricf(b, "nlb_target_weight{%s}", dt) == 1, "dead weight");
	px_assert(&p, metric(b, "nlb_health_state_changes_total{target_group=\"web\"}") == 2,
		  "state changes");
	px_assert(&p, metric(b, "nlb_health_probes_total{target_group=\"web\",result=\"pass\"}") >= 1,
		  "passed probes");
	px_assert(&p, metric(b, "nlb_health_probes_total{target_group=\"web\",result=\"fail\"}") >= 2,
		  "failed probes");
	free(b);
	t_close(fd);
	px_stop_ok(&p);
	px_free(&p);
	close(hold);
	t_server_free(live);
}

/* A target removed by a reload while it holds a connection: draining,
 * still counted, no longer a host of the group. */
T_TEST(metrics, draining_target, .timeout = 30)
{
	struct t_server *a = t_server_start(T_SRV_ECHO, 0);
	struct t_server *bsrv = t_server_start(T_SRV_ECHO, 0);
	T_ASSERT(a && bsrv);
	uint16_t port = t_free_port(), stats = t_free_port();
	const char *fmt =
		"workers = 1;\n"
		"stats = { listen = \"127.0.0.1:%u\"; };\n"
		"listeners = ( { name = \"web\"; address = \"127.0.0.1:%u\"; target_group = \"web\"; } );\n"
		"target_groups = ( { name = \"web\"; algorithm = \"round_robin\";"
		" deregistration_delay_ms = 60000;\n"
		"  targets = ( { address = \"127.0.0.1:%u\"; }%s ); } );\n";
	char more[64];
	snprintf(more, sizeof(more), ", { address = \"127.0.0.1:%u\"; }", t_server_port(bsrv));
	char *conf = t_write_config(fmt, stats, port, t_server_port(a), more);
	T_ASSERT(conf);
	struct px p;
	px_spawn_conf(&p, conf);
	/* Round robin on one worker: one connection to each target. */
	int fds[2];
	for (int i = 0; i < 2; i++) {
		fds[i] = t_connect(port);
		px_assert(&p, fds[i] >= 0, "connect: %s", strerror(-fds[i]));
		px_assert(&p, t_round_trip(fds[i], "x", 1, 5000) == 0, "round trip %d", i);
	}
	px_assert(&p, t_server_accepted(a) == 1 && t_server_accepted(bsrv) == 1,
		  "one connection each");
	char *b = scrape(&p, stats);
	px_assert(&p, metric(b, "nlb_table_builds_total{target_group=\"web\"}") == 1,
		  "table builds at start: %" PRId64,
		  metric(b, "nlb_table_builds_total{target_group=\"web\"}"));
	free(b);
	char text[1024];
	snprintf(text, sizeof(text), fmt, stats, port, t_server_port(bsrv), "");
	px_assert(&p, px_reload_text(&p, text) == 1, "reload not applied");

	b = scrape(&p, stats);
	px_assert(&p, metric(b, "nlb_table_builds_total{target_group=\"web\"}") == 2,
		  "table builds after the reload: %" PRId64,
		  metric(b, "nlb_table_builds_total{target_group=\"web\"}"));
	char at[64], bt[64];
	snprintf(at, sizeof(at), "target_group=\"web\",target=\"127.0.0.1:%u\"", t_server_port(a));
	snprintf(bt, sizeof(bt), "target_group=\"web\",target=\"127.0.0.1:%u\"", t_server_port(bsrv));
	px_assert(&p, metricf(b, "nlb_target_draining{%s}", at) == 1, "removed target draining");
	px_assert(&p, metricf(b, "nlb_target_draining{%s}", bt) == 0, "kept target draining");
	px_assert(&p, metricf(b, "nlb_target_active_connections{%s}", at) == 1, "drained conn");
	px_assert(&p, metricf(b, "nlb_target_health{%s}", at) == 0, "a draining target's health");
	px_assert(&p, metricf(b, "nlb_target_health{%s}", bt) == 1, "kept target's health");
	px_assert(&p, metric(b, "nlb_healthy_hosts{target_group=\"web\"}") == 1, "hosts");
	px_assert(&p, metric(b, "nlb_unhealthy_hosts{target_group=\"web\"}") == 0, "hosts");
	free(b);
	t_close(fds[0]);
	t_close(fds[1]);
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "table_builds"), 2, "the stats line's table_builds");
	px_free(&p);
	t_server_free(a);
	t_server_free(bsrv);
}

/* ---- the format ------------------------------------------------------------ */

/* The README and every text and manual page of doc/, one after the
 * other (free it). */
static char *docs_read(void)
{
	const char *src = getenv("NLB_SRCDIR");
	char pattern[4096];
	snprintf(pattern, sizeof(pattern), "{%s/README,%s/doc/*.md,%s/doc/*.[1-9]}",
		 src ? src : ".", src ? src : ".", src ? src : ".");
	glob_t g;
	if (glob(pattern, GLOB_BRACE, NULL, &g) != 0)
		return NULL;
	char *all = NULL;
	size_t len = 0;
	for (size_t i = 0; i < g.gl_pathc; i++) {
		size_t n = 0;
		char *text = t_file_read(g.gl_pathv[i], &n);
		char *grown = text ? realloc(all, len + n + 2) : NULL;
		if (!grown) {
			free(text);
			free(all);
			all = NULL;
			break;
		}
		all = grown;
		memcpy(all + len, text, n);
		len += n;
		all[len++] = '\n';
		all[len] = '\0';
		free(text);
	}
	globfree(&g);
	return all;
}

/* name occurs in text as a whole word (a metric name: letters, digits,
 * underscores), in whatever markup surrounds it. */
static bool names(const char *text, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = text; (p = strstr(p, name)) != NULL; p++) {
		bool start = p == text || !(isalnum((unsigned char)p[-1]) || p[-1] == '_');
		bool end = !(isalnum((unsigned char)p[n]) || p[n] == '_');
		if (start && end)
			return true;
	}
	return false;
}

/* Every kind of listener and group, names that need escaping, some
 * traffic: promtool (the Prometheus project's own checker, lint
 * included) finds nothing to say, every family has HELP and TYPE, the
 * documentation (README, doc/) names every family, and curl is served
 * too. */
T_TEST(metrics, promtool_accepts_the_body, .timeout = 60)
{
	T_ASSERT(access("/usr/bin/promtool", X_OK) == 0,
		 ": /usr/bin/promtool missing (make deps installs the prometheus package)");
	struct t_udp_server *usrv = t_udp_server_start("127.0.0.1", 0, true);
	T_ASSERT(usrv);
	uint16_t tport = t_free_port(), uport = t_free_port(), bport = t_free_port();
	uint16_t stats = t_free_port(), hport = t_free_port();
	char *conf = t_write_config(
		"workers = 2;\n"
		"stats = { listen = \"127.0.0.1:%u\"; };\n"
		"listeners = (\n"
		"  { name = \"t\\\"q\\\\b\"; address = \"127.0.0.1:%u\"; target_group = \"g\\\"1\"; },\n"
		"  { name = \"u\"; protocol = \"udp\"; address = \"127.0.0.1:%u\"; target_group = \"g2\"; },\n"
		"  { name = \"both\"; protocol = \"tcp_udp\"; address = \"127.0.0.1:%u\"; target_group = \"g2\"; },\n"
		"  { name = \"h\"; protocol = \"http\"; address = \"127.0.0.1:%u\";"
		" default_action = { forward = \"g3\"; }; }\n"
		");\n"
		"target_groups = (\n"
		"  { name = \"g\\\"1\"; health_check = { interval_ms = 100; };"
		" targets = ( { address = \"127.0.0.1:%u\"; } ); },\n"
		"  { name = \"g2\"; targets = ( { address = \"127.0.0.1:%u\"; } ); },\n"
		"  { name = \"g3\"; targets = ( { address = \"127.0.0.1:%u\"; } ); }\n"
		");\n",
		stats, tport, uport, bport, hport, t_udp_server_port(usrv), t_udp_server_port(usrv),
		t_udp_server_port(usrv));
	T_ASSERT(conf);
	struct px p;
	px_spawn_conf(&p, conf);
	int fd = t_connect(tport);
	px_assert(&p, fd >= 0, "connect: %s", strerror(-fd));
	px_assert(&p, t_round_trip(fd, "ping", 4, 5000) == 0, "round trip");
	t_close(fd);
	int ufd = t_udp_socket("127.0.0.1");
	char answer[128];
	px_assert(&p, ufd >= 0 && t_udp_ask(ufd, "127.0.0.1", uport, "d", 1, answer,
					     sizeof(answer), 5000) > 0, "udp");
	close(ufd);

	char *b = scrape(&p, stats);
	px_assert(&p, strstr(b, "nlb_new_flows_total{listener=\"t\\\"q\\\\b\",protocol=\"tcp\"} 1\n"),
		  "escaped listener name");
	char *path = t_write_config_exact("%s", b);
	T_ASSERT(path);
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "/usr/bin/promtool check metrics < %s", path);
	const char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	char *out = NULL;
	int rc = t_run(argv, 30000, &out);
	px_assert(&p, rc == 0 && out && out[0] == '\0', "promtool: exit %d: %s", rc,
		  out ? out : "");
	free(out);
	t_file_remove(path);

	/* Each family: HELP then TYPE, once, and named in the documentation. */
	char *docs = docs_read();
	px_assert(&p, docs != NULL, "cannot read the README and doc/");
	int families = 0;
	for (const char *line = b; line && *line; ) {
		if (strncmp(line, "# TYPE ", 7) == 0) {
			char name[128];
			px_assert(&p, sscanf(line + 7, "%127s", name) == 1, "TYPE line");
			char help[160], type[160];
			snprintf(help, sizeof(help), "# HELP %s ", name);
			snprintf(type, sizeof(type), "# TYPE %s ", name);
			px_assert(&p, strstr(b, help) != NULL, "%s has no HELP", name);
			px_assert(&p, strstr(strstr(b, type) + 1, type) == NULL, "%s twice", name);
			px_assert(&p, names(docs, name), "neither the README nor doc/ names %s", name);
			families++;
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	px_assert(&p, families >= 30, "only %d families", families);
	free(docs);
	free(b);

	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/metrics", stats);
	const char *curl[] = { "/usr/bin/curl", "-sS", "-f", "--max-time", "10", "-o", "/dev/null",
			       "-w", "%{http_code} %{content_type}", url, NULL };
	rc = t_run(curl, 15000, &out);
	px_assert(&p, rc == 0 && out && strcmp(out, "200 text/plain; version=0.0.4; charset=utf-8") == 0,
		  "curl: exit %d: %s", rc, out ? out : "");
	free(out);
	px_stop_ok(&p);
	px_free(&p);
	t_udp_server_free(usrv);
}

/* A scrape with every family but nlb_announced (a TCP, a UDP and a TLS listener, a health
 * check) has the table's families (control/counter_table.c), in its
 * order, with its HELP and TYPE, and each sample follows its family's
 * HELP: the renderer cannot say what the table and nlb-metrics(7) do
 * not. */
T_TEST(metrics, families_follow_the_table, .timeout = 60)
{
	/* A namespace of its own, for the gateway's TUN device (nlb makes
	 * it, and it goes with the namespace). */
	T_ASSERT(unshare(CLONE_NEWNET) == 0, ": unshare(CLONE_NEWNET): %s", strerror(errno));
	T_ASSERT(system("ip link set lo up") == 0);
	struct t_server *echo = t_server_start(T_SRV_ECHO, 0);
	T_ASSERT(echo);
	struct t_udp_server *usrv = t_udp_server_start("127.0.0.1", 0, false);
	T_ASSERT(usrv);
	struct t_tls tls;
	T_ASSERT(t_tls_init(&tls) == 0 && t_tls_leaf(&tls, "a", "a.test", "DNS:a.test", "ec") == 0);
	char pem[128], key[128];
	t_tls_path(&tls, "a.pem", pem, sizeof(pem));
	t_tls_path(&tls, "a.key", key, sizeof(key));
	uint16_t web = t_free_port(), dns = t_free_port(), stats = t_free_port();
	uint16_t https = t_free_port(), www = t_free_port(), gw = t_free_port();
	char *conf = t_write_config(
		"workers = 2;\n"
		"stats = { listen = \"127.0.0.1:%u\"; };\n"
		"listeners = (\n"
		"  { name = \"web\"; address = \"127.0.0.1:%u\"; target_group = \"web\"; },\n"
		"  { name = \"dns\"; protocol = \"udp\"; address = \"127.0.0.1:%u\"; target_group = \"dns\"; },\n"
		"  { name = \"https\"; protocol = \"tls\"; address = \"127.0.0.1:%u\"; target_group = \"web\";\n"
		"    tls = { certificates = ( { cert = \"%s\"; key = \"%s\"; } ); }; },\n"
		"  { name = \"www\"; protocol = \"http\"; address = \"127.0.0.1:%u\";"
		" rules = ( { priority = 1; path = \"/r\"; forward = \"app\"; } );"
		" default_action = { forward = \"app\"; }; }\n"
		");\n"
		"gateways = ( { name = \"inspect\"; tun = \"nlbmt0\"; address = \"127.0.0.1:%u\";"
		" target_group = \"fw\"; } );\n"
		"target_groups = (\n"
		"  { name = \"fw\"; protocol = \"geneve\"; targets = ( { address = \"127.0.0.1:%u\"; } ); },\n"
		"  { name = \"web\"; health_check = { interval_ms = 100; };"
		" targets = ( { address = \"127.0.0.1:%u\"; } ); },\n"
		"  { name = \"dns\"; targets = ( { address = \"127.0.0.1:%u\"; } ); },\n"
		"  { name = \"app\"; targets = ( { address = \"127.0.0.1:%u\"; } ); }\n"
		");\n",
		stats, web, dns, https, pem, key, www, gw, gw, t_server_port(echo),
		t_udp_server_port(usrv), t_server_port(echo));
	T_ASSERT(conf);
	struct px p;
	px_spawn_conf(&p, conf);
	char *b = scrape(&p, stats);
	bool seen[MF_END] = { false };
	int next = 0, families = 0;
	char last[128] = "";
	for (const char *line = b; line && *line; ) {
		char name[128];
		const char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t)(eol - line) : strlen(line);
		if (strncmp(line, "# HELP ", 7) == 0) {
			px_assert(&p, sscanf(line + 7, "%127s", name) == 1, "HELP line");
			int id = 0;
			while (id < MF_END && strcmp(nlb_metric_families[id].name, name) != 0)
				id++;
			px_assert(&p, id < MF_END, "%s is not in the table", name);
			px_assert(&p, id >= next, "%s comes before %s in the table", name,
				  next ? nlb_metric_families[next - 1].name : "-");
			const char *help = line + 7 + strlen(name) + 1;
			px_assert(&p, strlen(nlb_metric_families[id].help) == len - (size_t)(help - line) &&
				  strncmp(help, nlb_metric_families[id].help, len - (size_t)(help - line)) == 0,
				  "%s: HELP differs from the table's", name);
			seen[id] = true;
			next = id + 1;
			families++;
			snprintf(last, sizeof(last), "%s", name);
		} else if (strncmp(line, "# TYPE ", 7) == 0) {
			char type[32];
			px_assert(&p, sscanf(line + 7, "%127s %31s", name, type) == 2 &&
				  strcmp(name, last) == 0, "TYPE of %s after HELP of %s", name, last);
			px_assert(&p, strcmp(type, nlb_metric_families[next - 1].type) == 0,
				  "%s: TYPE %s", name, type);
		} else {
			size_t n = strcspn(line, "{ ");
			px_assert(&p, n < sizeof(name), "sample line");
			memcpy(name, line, n);
			name[n] = '\0';
			int id = 0;
			while (id < MF_END && strcmp(nlb_metric_families[id].name, name) != 0)
				id++;
			/* A histogram's samples: its name and a suffix. */
			static const char *const parts[] = { "_bucket", "_sum", "_count" };
			for (size_t k = 0; id == MF_END && k < 3; k++) {
				size_t stem = n - strlen(parts[k]);
				if (n <= strlen(parts[k]) || strcmp(name + stem, parts[k]) != 0)
					continue;
				for (id = 0; id < MF_END; id++)
					if (metric_family_is_histogram(&nlb_metric_families[id]) &&
					    strlen(nlb_metric_families[id].name) == stem &&
					    strncmp(nlb_metric_families[id].name, name, stem) == 0)
						break;
			}
			px_assert(&p, id < MF_END && seen[id], "sample of %s before its HELP", name);
		}
		line = eol ? eol + 1 : NULL;
	}
	/* nlb_announced needs announce = { }, whose routes would go into
	 * this namespace's tables: suite announce checks it in its own. */
	px_assert(&p, !seen[MF_ANNOUNCED], "nlb_announced without announce");
	px_assert(&p, families == MF_END - 1, "%d families of the table's %d (all but "
		  "nlb_announced)", families, MF_END);
	/* The certificate's expiry: made with -days 2 a moment ago. */
	char series[256];
	snprintf(series, sizeof(series),
		 "nlb_tls_certificate_not_after_seconds{listener=\"https\",file=\"%s\"}", pem);
	int64_t not_after = metric(b, series), now = (int64_t)time(NULL);
	px_assert(&p, not_after > now + 86400 && not_after <= now + 2 * 86400 + 60,
		  "%s = %lld, now %lld", series, (long long)not_after, (long long)now);
	free(b);
	px_stop_ok(&p);
	px_free(&p);
	t_udp_server_free(usrv);
	t_server_free(echo);
	t_tls_free(&tls);
}

/* ---- HTTP ------------------------------------------------------------------ */

static void minimal_nlb(struct px *p, uint16_t stats, const char *stats_addr)
{
	uint16_t port = t_free_port();
	char *conf = t_write_config(
		"workers = 1;\n"
		"stats = { listen = \"%s:%u\"; };\n"
		"listeners = ( { name = \"web\"; address = \"127.0.0.1:%u\"; target_group = \"g\"; } );\n"
		"target_groups = ( { name = \"g\"; targets = ( { address = \"127.0.0.1:9\"; } ); } );\n",
		stats_addr, stats, port);
	T_ASSERT(conf);
	px_spawn_conf(p, conf);
	p->conf.listen_port = port;
}

/* Wrong paths, methods and malformed or oversized heads get their
 * status; HEAD and a query string are served; nlb serves on after all. */
T_TEST(metrics, http_errors, .timeout = 60)
{
	uint16_t stats = t_free_port();
	struct px p;
	minimal_nlb(&p, stats, "127.0.0.1");
	struct reply r;
	int rc = http_get(stats, "/other", &r);
	px_assert(&p, rc == 0 && r.status == 404, "/other: %d %d", rc, r.status);
	reply_free(&r);
	rc = http_get(stats, "/metrics/", &r);
	px_assert(&p, rc == 0 && r.status == 404, "/metrics/: %d %d", rc, r.status);
	reply_free(&r);

	static const char post[] = "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\nfoo=bar\r\n";
	rc = http_raw(stats, post, sizeof(post) - 1, &r);
	px_assert(&p, rc == 0 && r.status == 405, "POST: %d %d", rc, r.status);
	px_assert(&p, strstr(r.head, "\r\nAllow: GET, HEAD") != NULL, "405 without Allow: %s", r.head);
	reply_free(&r);
	static const char del[] = "DELETE /metrics HTTP/1.1\r\n\r\n";
	rc = http_raw(stats, del, sizeof(del) - 1, &r);
	px_assert(&p, rc == 0 && r.status == 405, "DELETE: %d %d", rc, r.status);
	reply_free(&r);

	static const char *const bad[] = {
		"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n",
		"GET /metrics HTTP/2.0\r\n\r\n",
		"GET /metrics\r\n\r\n",
		"GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n",
		"GET /metrics HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rc = http_raw(stats, bad[i], strlen(bad[i]), &r);
		px_assert(&p, rc == 0 && r.status == 400, "bad request %zu: %d %d", i, rc, r.status);
		reply_free(&r);
	}
	/* 9 KiB of header fields: past the 8 KiB cap */
	size_t big_len = 9 * 1024;
	char *big = malloc(big_len + 64);
	T_ASSERT(big);
	int off = sprintf(big, "GET /metrics HTTP/1.1\r\nX-Big: ");
	memset(big + off, 'b', big_len - (size_t)off - 4);
	memcpy(big + big_len - 4, "\r\n\r\n", 4);
	rc = http_raw(stats, big, big_len, &r);
	free(big);
	px_assert(&p, rc == 0 && r.status == 400, "oversized: %d %d", rc, r.status);
	reply_free(&r);

	static const char head[] = "HEAD /metrics HTTP/1.1\r\n\r\n";
	rc = http_raw(stats, head, sizeof(head) - 1, &r);
	px_assert(&p, rc == 0 && r.status == 200 && r.body_len == 0, "HEAD: %d %d %zu", rc,
		  r.status, r.body_len);
	const char *cl = strstr(r.head, "Content-Length: ");
	px_assert(&p, cl && atoi(cl + 16) > 1000, "HEAD without the GET's length: %s", r.head);
	reply_free(&r);
	static const char lf[] = "GET /metrics?name[]=x HTTP/1.0\n\n";
	rc = http_raw(stats, lf, sizeof(lf) - 1, &r);
	px_assert(&p, rc == 0 && r.status == 200 && strstr(r.body, "nlb_build_info{"),
		  "HTTP/1.0 with a query: %d %d", rc, r.status);
	reply_free(&r);

	char *b = scrape(&p, stats);
	px_assert(&p, strstr(b, "\nnlb_build_info{version=\"") != NULL, "no build info");
	free(b);
	px_stop_ok(&p);
	px_free(&p);
}

/* A silent client, one that stops halfway through its request, and more
 * clients than the endpoint takes at once: a scrape is still answered
 * while they wait, and each of them is closed by nlb in the end. */
T_TEST(metrics, slow_clients_do_not_block_others, .timeout = 60)
{
	uint16_t stats = t_free_port();
	struct px p;
	minimal_nlb(&p, stats, "127.0.0.1");
	int silent = t_connect(stats);
	int partial = t_connect(stats);
	px_assert(&p, silent >= 0 && partial >= 0, "connect");
	px_assert(&p, t_write_all(partial, "GET /metr", 9) == 0, "write");
	char *b = scrape(&p, stats);
	px_assert(&p, strstr(b, "nlb_build_info{") != NULL, "scrape while others stall");
	free(b);
	px_assert(&p, t_wait_closed(silent, 30000) == 0, "the silent client was not closed");
	px_assert(&p, t_wait_closed(partial, 30000) == 0, "the partial client was not closed");
	t_close(silent);
	t_close(partial);

	/* 20 silent clients, more than are served at once: the extra ones
	 * wait in the backlog; once the first ones time out, a scrape
	 * behind them is answered. */
	int many[20];
	for (int i = 0; i < 20; i++) {
		many[i] = t_connect(stats);
		px_assert(&p, many[i] >= 0, "connect %d", i);
	}
	b = scrape(&p, stats);
	px_assert(&p, strstr(b, "nlb_build_info{") != NULL, "scrape behind 20 silent clients");
	free(b);
	for (int i = 0; i < 20; i++) {
		px_assert(&p, t_wait_closed(many[i], 30000) == 0, "silent client %d not closed", i);
		t_close(many[i]);
	}
	px_stop_ok(&p);
	px_free(&p);
}

/* The endpoint on IPv6 loopback, through curl. */
T_TEST(metrics, ipv6_listen_address, .timeout = 30)
{
	uint16_t stats = t_free_port();
	struct px p;
	minimal_nlb(&p, stats, "[::1]");
	char url[64];
	snprintf(url, sizeof(url), "http://[::1]:%u/metrics", stats);
	const char *curl[] = { "/usr/bin/curl", "-sS", "-g", "-f", "--max-time", "10", url, NULL };
	char *out = NULL;
	int rc = t_run(curl, 15000, &out);
	px_assert(&p, rc == 0 && out && strstr(out, "# TYPE nlb_build_info gauge\n"),
		  "curl [::1]: exit %d", rc);
	free(out);
	px_stop_ok(&p);
	px_free(&p);
}

/* Two nlb on one stats address: the second stops at start with the
 * file, line and address, and the first serves on. */
T_TEST(metrics, second_nlb_on_the_stats_address_fails, .timeout = 30)
{
	uint16_t stats = t_free_port();
	struct px p;
	minimal_nlb(&p, stats, "127.0.0.1");
	uint16_t port2 = t_free_port();
	char *conf2 = t_write_config(
		"workers = 1;\n"
		"stats = {\n"
		"  listen = \"127.0.0.1:%u\";\n"
		"};\n"
		"listeners = ( { name = \"web\"; address = \"127.0.0.1:%u\"; target_group = \"g\"; } );\n"
		"target_groups = ( { name = \"g\"; targets = ( { address = \"127.0.0.1:9\"; } ); } );\n",
		stats, port2);
	T_ASSERT(conf2);
	struct t_nlb *second = t_nlb_start(conf2);
	T_ASSERT(second);
	int rc = t_nlb_wait(second, 10000);
	char want[512];
	snprintf(want, sizeof(want), "%s:3: stats: cannot listen on 127.0.0.1:%u: Address already in use",
		 conf2, stats);
	bool said = t_nlb_log_contains(second, want);
	if (rc != 1 || !said)
		t_nlb_dump_log(second, "the second nlb");
	px_assert(&p, rc == 1, "second nlb exit %d (want 1)", rc);
	px_assert(&p, said, "no \"%s\"", want);
	px_assert(&p, t_listeners(port2) == 0, "the second nlb's listener outlived it");
	t_nlb_free(second);
	t_file_remove(conf2);
	char *b = scrape(&p, stats);
	px_assert(&p, strstr(b, "nlb_build_info{") != NULL, "the first nlb stopped serving");
	free(b);
	px_stop_ok(&p);
	px_free(&p);
}
