/* The metrics endpoint's HTTP side: its listening socket (bound with the
 * listeners) and the thread serving it, one poll loop over non-blocking
 * clients with a deadline each, one request per connection. */
#include "clock.h"
#include "control/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http_req.h"
#include "log.h"
#include "tunables.h"

enum client_phase {
	CLIENT_FREE = 0,
	CLIENT_READING,		/* the request head */
	CLIENT_WRITING,		/* the answer */
	CLIENT_LINGER,		/* answered, FIN sent: reading what is left */
};

struct metrics_client {
	int fd;
	enum client_phase phase;
	int64_t deadline_ms;
	size_t in_len;
	size_t out_off;
	struct nlb_strbuf out;
	char in[NLB_METRICS_HEAD_MAX];
};


int metrics_open(struct metrics *m, struct nlb_runtime *rt, char *err, size_t errlen)
{
	memset(m, 0, sizeof(*m));
	m->rt = rt;
	m->lfd = m->stop_fd = -1;
	const struct nlb_config *cfg = rt->cfg;
	if (!cfg->stats_enabled)
		return 0;
	const struct nlb_addr *a = &cfg->stats_listen;
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	/* SO_REUSEADDR so a restart binds while old scrapes sit in
	 * TIME_WAIT; no SO_REUSEPORT, so a second nlb on the same address
	 * fails here instead of sharing the scrapes. */
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (a->ss.ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0 ||
	    listen(fd, NLB_METRICS_BACKLOG) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		snprintf(err, errlen, "%s:%d: stats: cannot listen on %s: %s", cfg->path,
			 cfg->stats_line, cfg->stats_listen_text, strerror(e));
		return -e;
	}
	m->lfd = fd;
	return 0;
}

static void client_close(struct metrics_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->phase = CLIENT_FREE;
	nlb_strbuf_reset(&c->out);
}

/* The answer is out: send FIN, then read and drop whatever the client
 * still sends (a body we never looked at, say) until it closes, so our
 * close finds nothing unread and is a FIN, not a reset that could
 * destroy the answer before the client has read it. */
static void client_answered(struct metrics_client *c, int64_t now)
{
	shutdown(c->fd, SHUT_WR);
	c->phase = CLIENT_LINGER;
	if (c->deadline_ms > now + NLB_METRICS_LINGER_MS)
		c->deadline_ms = now + NLB_METRICS_LINGER_MS;
}

static void client_write(struct metrics_client *c, int64_t now)
{
	while (c->out_off < c->out.len) {
		ssize_t n = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;	/* POLLOUT brings us back */
			client_close(c);
			return;
		}
		c->out_off += (size_t)n;
	}
	client_answered(c, now);
}

/* Queues an answer with status line status, and body (len bytes) unless
 * head_only, then starts sending it. */
static void client_answer(struct metrics_client *c, const char *status, const char *extra,
			  const char *ctype, const char *body, size_t len, bool head_only,
			  int64_t now)
{
	nlb_strbuf_reset(&c->out);
	nlb_strbuf_printf(&c->out,
			  "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			  "%sConnection: close\r\nCache-Control: no-store\r\n\r\n",
			  status, ctype, len, extra ? extra : "");
	if (!head_only)
		nlb_strbuf_append(&c->out, body, len);
	if (nlb_strbuf_status(&c->out) < 0) {
		nlb_warn("metrics: out of memory for an answer");
		client_close(c);
		return;
	}
	c->out_off = 0;
	c->phase = CLIENT_WRITING;
	client_write(c, now);
}

static void client_error(struct metrics_client *c, const char *status, const char *extra,
			 const char *text, int64_t now)
{
	client_answer(c, status, extra, "text/plain; charset=utf-8", text, strlen(text), false,
		      now);
}

static bool span_eq(const char *p, size_t n, const char *s)
{
	return strlen(s) == n && memcmp(p, s, n) == 0;
}

/* A whole request head is in: answer it. */
static void client_request(struct metrics *m, struct metrics_client *c,
			   const struct nlb_http_req *req, int64_t now)
{
	/* The path is the target up to its query, which is ignored (some
	 * scrapers add parameters). */
	size_t plen = 0;
	while (plen < req->target_len && req->target[plen] != '?')
		plen++;
	if (!span_eq(req->target, plen, "/metrics")) {
		client_error(c, "404 Not Found", NULL, "not found: metrics are at /metrics\n", now);
		return;
	}
	bool head = span_eq(req->method, req->method_len, "HEAD");
	if (!head && !span_eq(req->method, req->method_len, "GET")) {
		client_error(c, "405 Method Not Allowed", "Allow: GET, HEAD\r\n",
			     "method not allowed: use GET\n", now);
		return;
	}
	nlb_strbuf_reset(&m->body);
	if (metrics_render(m, &m->body) < 0) {
		nlb_warn("metrics: out of memory for a scrape");
		client_error(c, "500 Internal Server Error", NULL, "out of memory\n", now);
		return;
	}
	client_answer(c, "200 OK", NULL, "text/plain; version=0.0.4; charset=utf-8", m->body.p,
		      m->body.len, head, now);
}

static void client_read(struct metrics *m, struct metrics_client *c, int64_t now)
{
	if (c->phase == CLIENT_LINGER) {
		char drop[4096];
		ssize_t n = recv(c->fd, drop, sizeof(drop), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			client_close(c);
		return;
	}
	ssize_t n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* Gone, or done sending before a whole head: nobody to answer. */
		client_close(c);
		return;
	}
	c->in_len += (size_t)n;
	struct nlb_http_req req;
	int r = nlb_http_req_parse(c->in, c->in_len, sizeof(c->in), &req);
	if (r == -EAGAIN)
		return;
	if (r < 0) {
		nlb_debug("metrics: bad request (%s)", r == -E2BIG ? "head too large" : "malformed");
		client_error(c, "400 Bad Request", NULL,
			     r == -E2BIG ? "bad request: head too large\n" : "bad request\n", now);
		return;
	}
	client_request(m, c, &req, now);
}

static void accept_clients(struct metrics *m, int64_t now)
{
	for (unsigned i = 0; i < NLB_METRICS_MAX_CLIENTS; i++) {
		struct metrics_client *c = &m->clients[i];
		if (c->phase != CLIENT_FREE)
			continue;
		int fd = accept4(m->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				/* The socket stays readable: poll would spin. */
				m->accept_paused = true;
				m->accept_resume_ms = now + NLB_ACCEPT_PAUSE_MS;
			}
			return;
		}
		c->fd = fd;
		c->phase = CLIENT_READING;
		c->deadline_ms = now + NLB_METRICS_TIMEOUT_MS;
		c->in_len = 0;
		c->out_off = 0;
	}
}

static void *metrics_main(void *arg)
{
	struct metrics *m = arg;
	struct pollfd pfd[2 + NLB_METRICS_MAX_CLIENTS];
	int at[NLB_METRICS_MAX_CLIENTS];	/* pfd index -> client */
	for (;;) {
		int64_t now = (int64_t)nlb_clock_ms();
		int64_t wake = -1;
		unsigned busy = 0;
		nfds_t n = 0;
		pfd[n++] = (struct pollfd){ .fd = m->stop_fd, .events = POLLIN };
		for (unsigned i = 0; i < NLB_METRICS_MAX_CLIENTS; i++) {
			struct metrics_client *c = &m->clients[i];
			if (c->phase == CLIENT_FREE)
				continue;
			if (now >= c->deadline_ms) {
				/* Too slow: a best-effort 408 to a client still
				 * sending its request, then the close. */
				if (c->phase == CLIENT_READING) {
					static const char t[] = "HTTP/1.1 408 Request Timeout\r\n"
						"Content-Length: 0\r\nConnection: close\r\n\r\n";
					ssize_t w = send(c->fd, t, sizeof(t) - 1,
							 MSG_NOSIGNAL | MSG_DONTWAIT);
					(void)w;
				}
				client_close(c);
				continue;
			}
			busy++;
			if (wake < 0 || c->deadline_ms < wake)
				wake = c->deadline_ms;
			at[n - 1] = (int)i;
			pfd[n++] = (struct pollfd){
				.fd = c->fd,
				.events = c->phase == CLIENT_WRITING ? POLLOUT : POLLIN,
			};
		}
		if (m->accept_paused && now >= m->accept_resume_ms)
			m->accept_paused = false;
		nfds_t lidx = 0;
		if (busy < NLB_METRICS_MAX_CLIENTS && !m->accept_paused) {
			lidx = n;
			pfd[n++] = (struct pollfd){ .fd = m->lfd, .events = POLLIN };
		} else if (m->accept_paused && (wake < 0 || m->accept_resume_ms < wake)) {
			wake = m->accept_resume_ms;
		}
		int timeout = wake < 0 ? -1 : wake > now ? (int)(wake - now) : 0;
		/* A scrape reads the configuration (names, groups) between
		 * polls only: offline while waiting (QSBR, runtime.h). */
		nlb_qsbr_offline(&m->rt->qsbr, NLB_QSBR_READER(m->rt, NLB_QSBR_METRICS));
		int r = poll(pfd, n, timeout);
		nlb_qsbr_quiescent(&m->rt->qsbr, NLB_QSBR_READER(m->rt, NLB_QSBR_METRICS));
		if (r < 0 && errno != EINTR) {
			nlb_err("metrics: poll: %s", strerror(errno));
			break;
		}
		if (r <= 0)
			continue;
		if (pfd[0].revents)
			break;
		now = (int64_t)nlb_clock_ms();
		for (nfds_t k = 1; k < n; k++) {
			if (!pfd[k].revents || k == lidx)
				continue;
			struct metrics_client *c = &m->clients[at[k - 1]];
			if (c->phase == CLIENT_WRITING)
				client_write(c, now);
			else
				client_read(m, c, now);
		}
		if (lidx && pfd[lidx].revents)
			accept_clients(m, now);
	}
	nlb_qsbr_offline(&m->rt->qsbr, NLB_QSBR_READER(m->rt, NLB_QSBR_METRICS));
	return NULL;
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
	m->clients = calloc(NLB_METRICS_MAX_CLIENTS, sizeof(*m->clients));
	m->groups = calloc(NLB_MAX_GROUPS, sizeof(*m->groups));
	m->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!m->clients || !m->groups || m->stop_fd < 0)
		return -ENOMEM;
	for (unsigned i = 0; i < NLB_METRICS_MAX_CLIENTS; i++)
		m->clients[i].fd = -1;
	int ret = pthread_create(&m->thread, NULL, metrics_main, m);
	if (ret != 0)
		return -ret;
	m->running = true;
	nlb_info("metrics: serving http://%s/metrics", cfg->stats_listen_text);
	return 0;
}

void metrics_stop(struct metrics *m)
{
	if (m->running) {
		uint64_t one = 1;
		ssize_t w = write(m->stop_fd, &one, sizeof(one));
		(void)w;
		pthread_join(m->thread, NULL);
		m->running = false;
	}
	for (unsigned i = 0; m->clients && i < NLB_METRICS_MAX_CLIENTS; i++) {
		client_close(&m->clients[i]);
		nlb_strbuf_free(&m->clients[i].out);
	}
	free(m->clients);
	m->clients = NULL;
	free(m->snap);
	m->snap = NULL;
	m->snap_cap = 0;
	free(m->groups);
	m->groups = NULL;
	nlb_strbuf_free(&m->body);
	if (m->stop_fd >= 0)
		close(m->stop_fd);
	if (m->lfd >= 0)
		close(m->lfd);
	m->stop_fd = m->lfd = -1;
}
