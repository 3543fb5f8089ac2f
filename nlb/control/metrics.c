/* The metrics endpoint's HTTP side: its listening socket (bound with the
 * listeners) and the requests of a poll server (poll_server.h) on a
 * thread of its own: clients with a deadline each, one request per
 * connection, read by lib/metrics_request.c. */
#include "clock.h"
#include "control/metrics.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http1_error.h"
#include "log.h"
#include "metrics_request.h"
#include "tunables.h"

int metrics_open(struct metrics *m, struct nlb_runtime *rt, char *err, size_t errlen)
{
	memset(m, 0, sizeof(*m));
	m->rt = rt;
	m->lfd = -1;
	const struct nlb_config *cfg = rt->cfg;
	if (!cfg->stats_enabled)
		return 0;
	const struct nlb_addr *a = &cfg->stats_listen;
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	/* SO_REUSEADDR so a restart binds while old scrapes sit in
	 * TIME_WAIT; no SO_REUSEPORT, so a second nlb on the same address
	 * fails here instead of sharing the scrapes. */
	int e = 0;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (a->ss.ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)) {
		e = errno;
	} else if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0) {
		e = errno;
		if (e == EADDRINUSE && rt->upgrade) {
			/* The nlb being upgraded serves it until it stops. */
			nlb_info("metrics: %s is the running nlb's (-u): serving it once that "
				 "one stops", cfg->stats_listen_text);
			m->lfd = fd;
			m->bind_pending = true;
			return 0;
		}
	} else if (listen(fd, NLB_METRICS_BACKLOG) < 0) {
		e = errno;
	}
	if (e) {
		if (fd >= 0)
			close(fd);
		snprintf(err, errlen, "%s:%d: stats: cannot listen on %s: %s", cfg->path,
			 cfg->stats_line, cfg->stats_listen_text, strerror(e));
		return -e;
	}
	m->lfd = fd;
	return 0;
}

/* Queues an answer with status line status, and body (len bytes) unless
 * head_only: the connection's last (the server sends it, then closes). */
static void client_answer(struct poll_client *c, const char *status, const char *extra,
			  const char *ctype, const char *body, size_t len, bool head_only)
{
	nlb_strbuf_reset(&c->out);
	nlb_strbuf_printf(&c->out,
			  "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			  "%sConnection: close\r\nCache-Control: no-store\r\n\r\n",
			  status, ctype, len, extra ? extra : "");
	if (!head_only)
		nlb_strbuf_append(&c->out, body, len);
	if (nlb_strbuf_status(&c->out) < 0)
		nlb_warn("metrics: out of memory for an answer");	/* the server closes */
	c->closing = true;
}

static void client_error(struct poll_client *c, const char *status, const char *extra,
			 const char *text)
{
	client_answer(c, status, extra, "text/plain; charset=utf-8", text, strlen(text), false);
}

/* The page, now. */
static void client_page(struct metrics *m, struct poll_client *c, bool head)
{
	nlb_strbuf_reset(&m->body);
	if (metrics_render(m, &m->body) < 0) {
		nlb_warn("metrics: out of memory for a scrape");
		client_error(c, "500 Internal Server Error", NULL, "out of memory\n");
		return;
	}
	client_answer(c, "200 OK", NULL, "text/plain; version=0.0.4; charset=utf-8", m->body.p,
		      m->body.len, head);
}

/* More of the request head: answered once whole (or bad), as
 * metrics_request.h reads it.  What comes after it is never looked at. */
static void metrics_input(void *arg, struct poll_client *c)
{
	struct metrics *m = arg;
	enum nlb_metrics_answer a;
	enum nlb_http1_error why;
	if (nlb_metrics_request(c->in, c->in_len, NLB_METRICS_HEAD_MAX, &a, &why) == -EAGAIN)
		return;		/* and at EOF, nobody to answer: the server closes */
	switch (a) {
	case NLB_METRICS_BAD:
	case NLB_METRICS_TOO_LARGE:
		nlb_debug("metrics: bad request (%s)", nlb_http1_error_name(why));
		client_error(c, "400 Bad Request", NULL, a == NLB_METRICS_TOO_LARGE ?
			     "bad request: head too large\n" : "bad request\n");
		break;
	case NLB_METRICS_NOT_FOUND:
		client_error(c, "404 Not Found", NULL, "not found: metrics are at /metrics\n");
		break;
	case NLB_METRICS_NOT_ALLOWED:
		client_error(c, "405 Method Not Allowed", "Allow: GET, HEAD\r\n",
			     "method not allowed: use GET\n");
		break;
	case NLB_METRICS_PAGE:
	case NLB_METRICS_PAGE_HEAD:
		client_page(m, c, a == NLB_METRICS_PAGE_HEAD);
		break;
	}
}

/* Too slow: a best-effort 408 to a client still sending its request,
 * then the server closes. */
static void metrics_timeout(void *arg, struct poll_client *c)
{
	(void)arg;
	if (c->closing)
		return;
	static const char t[] = "HTTP/1.1 408 Request Timeout\r\n"
		"Content-Length: 0\r\nConnection: close\r\n\r\n";
	ssize_t w = send(c->fd, t, sizeof(t) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)w;
}

static const struct poll_server_conf metrics_server = {
	.name = "metrics",
	.max_clients = NLB_METRICS_MAX_CLIENTS,
	.in_max = NLB_METRICS_HEAD_MAX,
	.out_keep = SIZE_MAX,		/* a scrape's answer is as long each time */
	.deadline_ms = NLB_METRICS_TIMEOUT_MS,
	.linger_ms = NLB_METRICS_LINGER_MS,
	.on_input = metrics_input,
	.on_timeout = metrics_timeout,
};

/* nlb -u: binds the address once the old nlb has let it go (tried every
 * 100 ms).  False when the thread is stopped first, or the bind fails
 * otherwise (logged). */
static bool bind_when_free(struct metrics *m)
{
	const struct nlb_config *cfg = m->rt->cfg;
	const struct nlb_addr *a = &cfg->stats_listen;
	char text[sizeof(cfg->stats_listen_text)];
	snprintf(text, sizeof(text), "%s", cfg->stats_listen_text);
	for (;;) {
		if (bind(m->lfd, (const struct sockaddr *)&a->ss, a->len) == 0) {
			if (listen(m->lfd, NLB_METRICS_BACKLOG) < 0)
				break;
			nlb_info("metrics: serving http://%s/metrics (taken over)", text);
			return true;
		}
		if (errno != EADDRINUSE)
			break;
		struct pollfd stop = { .fd = m->thread.stop_fd, .events = POLLIN };
		control_thread_sleeping(&m->thread);
		int r = poll(&stop, 1, 100);
		control_thread_awake(&m->thread);
		if (r > 0)
			return false;
	}
	nlb_err("metrics: cannot listen on %s: %s%s", text, strerror(errno),
		errno == EACCES ? " (a port below 1024 needs root, and nlb runs as \"user\" now)" :
		"");
	return false;
}

static void metrics_main(void *arg)
{
	struct metrics *m = arg;
	if (m->bind_pending && !bind_when_free(m))
		return;
	poll_server_run(&m->server, &m->thread);
}

int metrics_start(struct metrics *m, const struct worker *workers, unsigned n_workers,
		  const struct health *h)
{
	if (m->lfd < 0)
		return 0;
	m->workers = workers;
	m->n_workers = n_workers;
	m->health = h;
	m->start_time = (int64_t)time(NULL);
	const struct nlb_config *cfg = m->rt->cfg;
	m->groups = calloc(NLB_MAX_GROUPS, sizeof(*m->groups));
	if (!m->groups || poll_server_init(&m->server, &metrics_server, m->lfd, m) < 0)
		return -ENOMEM;
	int ret = control_thread_start(&m->thread, "nlb-metrics", m->rt, NLB_QSBR_METRICS,
				       metrics_main, m);
	if (ret < 0)
		return ret;
	if (!m->bind_pending)
		nlb_info("metrics: serving http://%s/metrics", cfg->stats_listen_text);
	return 0;
}

void metrics_stop(struct metrics *m)
{
	control_thread_stop(&m->thread);
	poll_server_free(&m->server);
	free(m->snap);
	m->snap = NULL;
	m->snap_cap = 0;
	free(m->groups);
	m->groups = NULL;
	nlb_strbuf_free(&m->body);
	if (m->lfd >= 0)
		close(m->lfd);
	m->lfd = -1;
}
