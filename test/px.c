/* One nlb over one target group for integration tests (see px.h). */
#include "px.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers/nginx_peer.h"
#include "http1_head.h"

void px_init(struct px *p, const char *forwarding)
{
	memset(p, 0, sizeof *p);
	t_proxy_conf_defaults(&p->conf);
	p->conf.forwarding = forwarding;
	p->conf.listen_port = t_free_port();
	T_ASSERT(p->conf.listen_port, ": no free port");
}

void px_target_weight(struct px *p, uint16_t port, unsigned weight)
{
	T_ASSERT(p->conf.n_targets < T_MAX_TARGETS);
	p->conf.weights[p->conf.n_targets] = weight;
	p->conf.targets[p->conf.n_targets++] = port;
}

void px_target(struct px *p, uint16_t port)
{
	px_target_weight(p, port, 1);
}

void px_failed(struct px *p, const char *what)
{
	t_failed();
	if (!p->nlb)
		return;
	if (t_nlb_wait(p->nlb, 0) == -ETIMEDOUT)
		t_nlb_stop(p->nlb, 3000);
	t_nlb_dump_log(p->nlb, what);
}

/* Waits until nlb accepts: its "running" line comes after every worker
 * has armed its accept.  Listening alone would not tell a second nlb on a
 * port the first already holds. */
void px_spawn(struct px *p, const char *path)
{
	p->nlb = t_nlb_start(path);
	T_ASSERT(p->nlb, ": starting nlb: %s", strerror(errno));
	int rc = t_nlb_wait_listening(p->nlb, p->conf.listen_port, 5000);
	px_assert(p, rc == 0, "nlb is not listening on 127.0.0.1:%u: %s",
		  p->conf.listen_port, rc == -ECHILD ? "it exited" : strerror(-rc));
	rc = t_nlb_log_wait(p->nlb, " running: ", 5000);
	px_assert(p, rc == 0, "nlb did not log that it is running");
}

void px_spawn_conf(struct px *p, char *conf)
{
	memset(p, 0, sizeof(*p));
	p->conf_path = conf;
	p->nlb = t_nlb_start(conf);
	T_ASSERT(p->nlb);
	/* A generous bound, not a speed check: under the sanitizers libconfig
	 * takes 15 s and more over a 100,000-prefix allow list (its arrays
	 * grow 16 elements at a time, and ASan's realloc always copies). */
	px_assert(p, t_nlb_log_wait(p->nlb, " running: ", 45000) == 0, "nlb did not start");
}

void px_start(struct px *p)
{
	T_ASSERT(t_nlb_bin(), ": NLB_BIN is not set (run through make test)");
	T_ASSERT(access(t_nlb_bin(), X_OK) == 0, ": NLB_BIN=%s: %s", t_nlb_bin(), strerror(errno));
	p->conf_path = t_write_proxy_config(&p->conf);
	T_ASSERT(p->conf_path, ": writing config: %s", strerror(errno));
	px_spawn(p, p->conf_path);
}

int px_stop(struct px *p)
{
	return t_nlb_stop(p->nlb, 15000);
}

void px_stop_ok(struct px *p)
{
	int rc = px_stop(p);
	px_assert(p, rc == 0, "nlb exit code %d after SIGTERM (want 0)", rc);
}

int64_t px_stat(struct px *p, const char *key)
{
	int64_t v = t_nlb_stat(p->nlb, key);
	px_assert(p, v >= 0, "no counter %s in the stats line", key);
	return v;
}

void px_admin(struct px *p)
{
	snprintf(p->admin_sock, sizeof p->admin_sock, "/tmp/nlb-px-%d-%u.sock", (int)getpid(),
		 p->conf.listen_port);
	p->conf.admin_socket = p->admin_sock;
}

void px_wait_stat(struct px *p, const char *key, int64_t want, int timeout_ms)
{
	int rc = t_admin_wait_stat(p->admin_sock, key, want, timeout_ms);
	px_assert(p, rc == 0, "nlb's %s did not reach %lld within %d ms: %s", key,
		  (long long)want, timeout_ms, strerror(-rc));
}

void px_free(struct px *p)
{
	if (p->admin_sock[0])
		unlink(p->admin_sock);
	t_nlb_free(p->nlb);
	t_file_remove(p->conf_path);
	p->nlb = NULL;
	p->conf_path = NULL;
}

int px_connect(struct px *p)
{
	int fd = t_connect(p->conf.listen_port);
	px_assert(p, fd >= 0, "connect to nlb: %s", strerror(-fd));
	return fd;
}

void px_round_trip_ok(struct px *p, int fd, const char *what)
{
	int rc = t_round_trip(fd, "ping", 4, 3000);
	px_assert(p, rc == 0, "%s: round trip through nlb: %s", what, strerror(-rc));
}

void px_connect_n(struct px *p, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		int fd = px_connect(p);
		px_round_trip_ok(p, fd, "new connection");
		t_close(fd);
	}
}

#define PX_APPLIED "applied: targets added="
#define PX_REFUSED "reload failed, still running"

int px_reload_text(struct px *p, const char *text)
{
	/* Written as t_write_config would, so allow_root does not change. */
	char *t = t_config_text(text);
	T_ASSERT(t);
	FILE *f = fopen(p->conf_path, "w");
	T_ASSERT(f != NULL, ": %s: %s", p->conf_path, strerror(errno));
	T_ASSERT(fputs(t, f) >= 0 && fclose(f) == 0, ": writing %s", p->conf_path);
	free(t);
	int applied = t_nlb_log_count(p->nlb, PX_APPLIED);
	int refused = t_nlb_log_count(p->nlb, PX_REFUSED);
	px_assert(p, kill(p->nlb->pid, SIGHUP) == 0, "SIGHUP: %s", strerror(errno));
	int64_t deadline = t_now_ms() + 5000;
	while (t_now_ms() < deadline) {
		if (t_nlb_log_count(p->nlb, PX_APPLIED) > applied)
			return 1;
		if (t_nlb_log_count(p->nlb, PX_REFUSED) > refused)
			return 0;
		t_sleep_ms(10);
	}
	return -ETIMEDOUT;
}

int px_reload(struct px *p)
{
	char *path = t_write_proxy_config(&p->conf);
	T_ASSERT(path, ": writing config: %s", strerror(errno));
	char *text = t_file_read(path, NULL);
	t_file_remove(path);
	T_ASSERT(text, ": reading the new config");
	int ret = px_reload_text(p, text);
	free(text);
	return ret;
}

void px_nginx_echo(struct t_nginx *n, uint16_t port, const char *extra)
{
	char servers[1024];
	snprintf(servers, sizeof(servers),
		 "server { listen 127.0.0.1:%u; keepalive_requests 10000; %s\n"
		 "  location / { return 200 \"uri=$uri xff=$http_x_forwarded_for "
		 "proto=$http_x_forwarded_proto port=$http_x_forwarded_port conn=$connection\\n\"; } }",
		 port, extra ? extra : "");
	T_ASSERT(t_nginx_start(n, servers, port) == 0, ": nginx");
}

int px_curl(char **out, const char *const *args)
{
	const char *argv[32] = { "/usr/bin/curl", "-sS", "--max-time", "10" };
	int n = 4;
	while (*args && n < 31)
		argv[n++] = *args++;
	argv[n] = NULL;
	return t_run(argv, 15000, out);
}

/* Reads one response from fd into buf (to a HEAD: the head alone): its
 * status, or -errno. */
int px_read_response(int fd, char *buf, size_t cap, size_t *got, int timeout_ms,
			    bool head_request)
{
	struct nlb_http1_head h;
	nlb_http1_head_init(&h, NLB_HTTP1_RESPONSE, 0, cap);
	size_t len = 0;
	int64_t deadline = t_now_ms() + timeout_ms;
	for (;;) {
		int r = nlb_http1_head_parse(&h, buf, len);
		if (r > 0) {
			size_t want = (size_t)r + (head_request ? 0 : h.content_length);
			while (len < want && len < cap) {
				ssize_t n = t_read_full(fd, buf + len, want - len, 3000);
				if (n <= 0)
					return -EPIPE;
				len += (size_t)n;
			}
			*got = len;
			return h.status;
		}
		if (r != -EAGAIN)
			return -EPROTO;
		struct pollfd pfd = { fd, POLLIN, 0 };
		int left = (int)(deadline - t_now_ms());
		if (left <= 0 || poll(&pfd, 1, left) <= 0)
			return -ETIMEDOUT;
		ssize_t n = recv(fd, buf + len, cap - len, 0);
		if (n <= 0)
			return n == 0 ? -EPIPE : -errno;
		len += (size_t)n;
	}
}

/* The metrics page at port, by curl (malloc'd). */
char *px_scrape(struct px *p, uint16_t port)
{
	char url[64], *out = NULL;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/metrics", port);
	const char *args[] = { "-f", url, NULL };
	int rc = px_curl(&out, args);
	px_assert(p, rc == 0 && out, "GET /metrics: curl exit %d", rc);
	return out;
}

/* The value of the sample whose name and labels are exactly series, or
 * -1 when body has no such line. */
double px_metric(const char *body, const char *series)
{
	size_t n = strlen(series);
	for (const char *line = body; line && *line; ) {
		if (strncmp(line, series, n) == 0 && line[n] == ' ')
			return strtod(line + n + 1, NULL);
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return -1;
}
