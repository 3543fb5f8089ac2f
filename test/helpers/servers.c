/* In-process target servers and the black hole (see servers.h). */
#include "servers.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "pattern.h"
#include "ports.h"
#include "registry.h"
#include "time_ms.h"

/* One accepted connection, owned by the server thread while it runs. */
struct t_sconn {
	struct t_sconn *prev, *next;
	int fd;
	uint32_t events;		/* current epoll interest */
	uint64_t bytes_in, bytes_out, sum_in;
	char *pend;			/* echo bytes the peer has not taken */
	size_t pend_len, pend_off;
	uint64_t src_off;		/* sink/source progress */
	bool src_done, eof;
	char req[256];			/* T_SRV_HTTP: the request's first bytes */
	size_t req_len;
	uint32_t tail;			/* the last 4 bytes read, for "\r\n\r\n" */
};

struct t_server {
	struct t_server_opts o;
	int lfd, epfd, wakefd;
	pthread_t thread;
	bool running;
	struct t_sconn *conns;
	char *buf;			/* server thread's I/O buffer */
	char tag[16];
	size_t tag_len;
	atomic_uint accepted, open, closed;
	pthread_mutex_t lock;		/* guards results */
	struct t_conn_result results[T_SERVER_RESULTS];
	atomic_uint http_status;	/* T_SRV_HTTP's answer now */
	unsigned http_answered;		/* guarded by lock, as is: */
	char http_last[256];		/* the last request's head */
};

/* epoll data.ptr values that are not connections. */
static char listen_mark, wake_mark;

const char *t_end_name(enum t_end e)
{
	switch (e) {
	case T_END_EOF: return "EOF";
	case T_END_RESET: return "reset";
	case T_END_ERROR: return "error";
	case T_END_SERVER_RESET: return "server reset";
	case T_END_STOPPED: return "still open";
	}
	return "?";
}

static void server_reclaim(void *s)
{
	t_server_free(s);
}

static void sconn_end(struct t_server *s, struct t_sconn *c, enum t_end end,
		      int err)
{
	if (end == T_END_SERVER_RESET) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };
		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	}
	/* epoll drops a socket only when every descriptor of it is closed;
	 * a child being forked may hold a copy, so remove it explicitly. */
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	struct t_conn_result r = {
		.end = end, .err = err, .bytes_in = c->bytes_in,
		.bytes_out = c->bytes_out, .sum_in = c->sum_in,
	};
	pthread_mutex_lock(&s->lock);
	unsigned i = atomic_load(&s->closed);
	if (i < T_SERVER_RESULTS)
		s->results[i] = r;
	/* Published under the lock, after the result, so a reader that sees
	 * closed > i also sees results[i]. */
	atomic_fetch_add(&s->closed, 1);
	pthread_mutex_unlock(&s->lock);
	atomic_fetch_sub(&s->open, 1);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c->pend);
	free(c);
}

static void sconn_end_errno(struct t_server *s, struct t_sconn *c, int err)
{
	sconn_end(s, c, err == ECONNRESET ? T_END_RESET : T_END_ERROR, err);
}

static void sconn_want(struct t_server *s, struct t_sconn *c, uint32_t ev)
{
	if (c->events == ev)
		return;
	struct epoll_event e = { .events = ev, .data.ptr = c };
	epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &e);
	c->events = ev;
}

/* Sends what it can; returns bytes sent, or -errno (not -EAGAIN). */
static ssize_t sconn_send(struct t_sconn *c, const void *buf, size_t len)
{
	size_t off = 0;
	while (off < len) {
		ssize_t n = send(c->fd, (const char *)buf + off, len - off,
				 MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return -errno;
		}
		off += (size_t)n;
	}
	c->bytes_out += off;
	return (ssize_t)off;
}

/* Returns false if the connection ended. */
static bool sconn_echo_flush(struct t_server *s, struct t_sconn *c)
{
	ssize_t n = sconn_send(c, c->pend + c->pend_off, c->pend_len - c->pend_off);
	if (n < 0) {
		sconn_end_errno(s, c, (int)-n);
		return false;
	}
	c->pend_off += (size_t)n;
	if (c->pend_off == c->pend_len) {
		c->pend_off = c->pend_len = 0;
		sconn_want(s, c, EPOLLIN);
	} else {
		/* Stop reading until the peer takes what it sent: that is
		 * the backpressure a real echo server applies. */
		sconn_want(s, c, EPOLLOUT);
	}
	return true;
}

/* Returns false if the connection ended. */
static bool sconn_source(struct t_server *s, struct t_sconn *c)
{
	while (c->src_off < s->o.source_bytes) {
		uint64_t left = s->o.source_bytes - c->src_off;
		size_t len = left < T_CHUNK ? (size_t)left : T_CHUNK;
		t_pattern_fill(s->buf, c->src_off, len, s->o.source_seed);
		ssize_t n = sconn_send(c, s->buf, len);
		if (n < 0) {
			sconn_end_errno(s, c, (int)-n);
			return false;
		}
		c->src_off += (uint64_t)n;
		if ((size_t)n < len)
			return true;	/* EAGAIN: keep EPOLLOUT */
	}
	if (!c->src_done) {
		c->src_done = true;
		shutdown(c->fd, SHUT_WR);
	}
	if (c->eof) {
		sconn_end(s, c, T_END_EOF, 0);
		return false;
	}
	sconn_want(s, c, EPOLLIN);
	return true;
}

/* T_SRV_HTTP: looks for the end of the request head in the n bytes just
 * read into s->buf; once there, answers and ends the connection.  Returns
 * true if the connection ended. */
static bool sconn_http(struct t_server *s, struct t_sconn *c, size_t n)
{
	bool done = false;
	for (size_t i = 0; i < n && !done; i++) {
		unsigned char b = (unsigned char)s->buf[i];
		if (c->req_len < sizeof c->req - 1)
			c->req[c->req_len++] = (char)b;
		c->tail = c->tail << 8 | b;
		done = c->tail == 0x0d0a0d0a;	/* "\r\n\r\n" */
	}
	if (!done)
		return false;
	c->req[c->req_len] = '\0';
	char reply[96];
	int len = snprintf(reply, sizeof reply,
			   "HTTP/1.1 %u X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
			   atomic_load(&s->http_status));
	ssize_t w = sconn_send(c, reply, (size_t)len);
	pthread_mutex_lock(&s->lock);
	s->http_answered++;
	memcpy(s->http_last, c->req, c->req_len + 1);
	pthread_mutex_unlock(&s->lock);
	if (w < 0)
		sconn_end_errno(s, c, (int)-w);
	else
		sconn_end(s, c, T_END_EOF, 0);
	return true;
}

static void sconn_readable(struct t_server *s, struct t_sconn *c)
{
	/* A few reads per wakeup, so one busy connection cannot starve the
	 * thousands of others. */
	for (int round = 0; round < 4; round++) {
		ssize_t n = recv(c->fd, s->buf, T_CHUNK, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				sconn_end_errno(s, c, errno);
			return;
		}
		if (n == 0) {
			c->eof = true;
			if (s->o.mode == T_SRV_EOF_ANSWER) {
				char reply[96];
				int len = snprintf(reply, sizeof reply,
					"bytes=%" PRIu64 " sum=%016" PRIx64 "\n",
					c->bytes_in, c->sum_in);
				ssize_t w = sconn_send(c, reply, (size_t)len);
				if (w < 0) {
					sconn_end_errno(s, c, (int)-w);
					return;
				}
			}
			if (s->o.mode == T_SRV_SINK_SOURCE && !c->src_done) {
				sconn_want(s, c, EPOLLOUT);
				return;
			}
			sconn_end(s, c, T_END_EOF, 0);
			return;
		}
		c->bytes_in += (uint64_t)n;
		c->sum_in = t_sum_update(c->sum_in, s->buf, (size_t)n);
		switch (s->o.mode) {
		case T_SRV_ECHO: {
			ssize_t w = sconn_send(c, s->buf, (size_t)n);
			if (w < 0) {
				sconn_end_errno(s, c, (int)-w);
				return;
			}
			if (w < n) {
				c->pend = realloc(c->pend, (size_t)(n - w));
				if (!c->pend)
					abort();
				memcpy(c->pend, s->buf + w, (size_t)(n - w));
				c->pend_len = (size_t)(n - w);
				c->pend_off = 0;
				sconn_want(s, c, EPOLLOUT);
				return;
			}
			break;
		}
		case T_SRV_TAG: {
			ssize_t w = sconn_send(c, s->tag, s->tag_len);
			if (w < 0) {
				sconn_end_errno(s, c, (int)-w);
				return;
			}
			break;
		}
		case T_SRV_RESET:
			sconn_end(s, c, T_END_SERVER_RESET, 0);
			return;
		case T_SRV_HTTP:
			if (sconn_http(s, c, (size_t)n))
				return;
			break;
		case T_SRV_EOF_ANSWER:
		case T_SRV_SINK_SOURCE:
		case T_SRV_SILENT:
			break;
		}
	}
}

static void sconn_event(struct t_server *s, struct t_sconn *c, uint32_t ev)
{
	if (ev & EPOLLERR) {
		int err = 0;
		socklen_t len = sizeof err;
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		sconn_end_errno(s, c, err ? err : EIO);
		return;
	}
	if (s->o.mode == T_SRV_SILENT) {
		/* Never reads: a FIN or reset from the peer is all it acts on. */
		if (ev & (EPOLLRDHUP | EPOLLHUP))
			sconn_end(s, c, T_END_EOF, 0);
		return;
	}
	if (ev & EPOLLOUT) {
		if (s->o.mode == T_SRV_ECHO && c->pend_len) {
			if (!sconn_echo_flush(s, c))
				return;
		} else if (s->o.mode == T_SRV_SINK_SOURCE && !c->src_done) {
			if (!sconn_source(s, c))
				return;
		}
	}
	if ((ev & (EPOLLIN | EPOLLHUP)) && !(s->o.mode == T_SRV_ECHO && c->pend_len))
		sconn_readable(s, c);
	else if ((ev & EPOLLHUP) && !(ev & EPOLLOUT))
		sconn_end(s, c, T_END_ERROR, EPIPE);
}

static void server_accept(struct t_server *s)
{
	for (int i = 0; i < 64; i++) {
		int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR)
				fprintf(stderr, "t_server %u: accept: %s\n",
					s->o.port, strerror(errno));
			return;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		struct t_sconn *c = calloc(1, sizeof *c);
		if (!c)
			abort();
		c->fd = fd;
		c->sum_in = T_SUM_INIT;
		switch (s->o.mode) {
		case T_SRV_SILENT:
			c->events = EPOLLRDHUP;
			break;
		case T_SRV_SINK_SOURCE:
			c->events = s->o.source_bytes ? EPOLLIN | EPOLLOUT : EPOLLIN;
			c->src_done = !s->o.source_bytes;
			break;
		default:
			c->events = EPOLLIN;
			break;
		}
		struct epoll_event e = { .events = c->events, .data.ptr = c };
		if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &e) < 0)
			abort();
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
		atomic_fetch_add(&s->open, 1);
		atomic_fetch_add(&s->accepted, 1);
	}
}

static void *server_main(void *arg)
{
	struct t_server *s = arg;
	struct epoll_event evs[256];
	for (;;) {
		int n = epoll_wait(s->epfd, evs, 256, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;
			if (p == &wake_mark)
				return NULL;
			if (p == &listen_mark)
				server_accept(s);
		}
		/* Connections after the listener: an accepted connection may
		 * be freed by its own event in this batch, never by another. */
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;
			if (p != &listen_mark)
				sconn_event(s, p, evs[i].events);
		}
	}
	return NULL;
}

static int server_listen(struct t_server *s)
{
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return -errno;
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = {
		.sin_family = AF_INET,
		.sin_port = htons(s->o.port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	if (bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 ||
	    listen(lfd, s->o.backlog) < 0) {
		int e = errno;
		close(lfd);
		return -e;
	}
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	int wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (epfd < 0 || wakefd < 0) {
		int e = errno;
		close(lfd);
		if (epfd >= 0)
			close(epfd);
		if (wakefd >= 0)
			close(wakefd);
		return -e;
	}
	struct epoll_event le = { .events = EPOLLIN, .data.ptr = &listen_mark };
	struct epoll_event we = { .events = EPOLLIN, .data.ptr = &wake_mark };
	epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &le);
	epoll_ctl(epfd, EPOLL_CTL_ADD, wakefd, &we);
	s->lfd = lfd;
	s->epfd = epfd;
	s->wakefd = wakefd;
	int e = pthread_create(&s->thread, NULL, server_main, s);
	if (e) {
		close(lfd);
		close(epfd);
		close(wakefd);
		return -e;
	}
	s->running = true;
	return 0;
}

struct t_server *t_server_start_opts(const struct t_server_opts *o)
{
	struct t_server *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->o = *o;
	if (!s->o.port)
		s->o.port = t_free_port();
	if (!s->o.backlog)
		s->o.backlog = 4096;
	s->tag_len = (size_t)snprintf(s->tag, sizeof s->tag, "%u\n",
				      s->o.tag ? s->o.tag : s->o.port);
	atomic_init(&s->http_status, s->o.http_status ? s->o.http_status : 200);
	s->buf = malloc(T_CHUNK);
	pthread_mutex_init(&s->lock, NULL);
	int rc = s->buf ? server_listen(s) : -ENOMEM;
	if (rc < 0) {
		pthread_mutex_destroy(&s->lock);
		free(s->buf);
		free(s);
		errno = -rc;
		return NULL;
	}
	t_register(T_KIND_SERVER, s, server_reclaim);
	return s;
}

struct t_server *t_server_start(enum t_srv_mode mode, uint16_t port)
{
	struct t_server_opts o = { .mode = mode, .port = port };
	return t_server_start_opts(&o);
}

void t_server_stop(struct t_server *s)
{
	if (!s || !s->running)
		return;
	uint64_t one = 1;
	if (write(s->wakefd, &one, sizeof one) != sizeof one)
		abort();
	pthread_join(s->thread, NULL);
	s->running = false;
	while (s->conns)
		sconn_end(s, s->conns, T_END_STOPPED, 0);
	close(s->lfd);
	close(s->epfd);
	close(s->wakefd);
}

int t_server_restart(struct t_server *s)
{
	if (s->running)
		return -EBUSY;
	return server_listen(s);
}

void t_server_free(struct t_server *s)
{
	if (!s)
		return;
	t_server_stop(s);
	t_unregister(T_KIND_SERVER, s);
	pthread_mutex_destroy(&s->lock);
	free(s->buf);
	free(s);
}

uint16_t t_server_port(const struct t_server *s)
{
	return s->o.port;
}

unsigned t_server_accepted(struct t_server *s)
{
	return atomic_load(&s->accepted);
}

unsigned t_server_open(struct t_server *s)
{
	return atomic_load(&s->open);
}

unsigned t_server_closed(struct t_server *s)
{
	return atomic_load(&s->closed);
}

int t_server_result(struct t_server *s, unsigned i, struct t_conn_result *r)
{
	int rc = -ENOENT;
	pthread_mutex_lock(&s->lock);
	if (i < atomic_load(&s->closed) && i < T_SERVER_RESULTS) {
		*r = s->results[i];
		rc = 0;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static int wait_counter(atomic_uint *ctr, unsigned n, int timeout_ms)
{
	int64_t deadline = t_now_ms() + timeout_ms;
	while (atomic_load(ctr) < n) {
		if (t_now_ms() >= deadline)
			return -ETIMEDOUT;
		t_sleep_ms(2);
	}
	return 0;
}

int t_server_wait_closed(struct t_server *s, unsigned n, int timeout_ms)
{
	return wait_counter(&s->closed, n, timeout_ms);
}

int t_server_wait_accepted(struct t_server *s, unsigned n, int timeout_ms)
{
	return wait_counter(&s->accepted, n, timeout_ms);
}

void t_server_set_http_status(struct t_server *s, unsigned status)
{
	atomic_store(&s->http_status, status);
}

unsigned t_server_http_last(struct t_server *s, char *buf, size_t len)
{
	pthread_mutex_lock(&s->lock);
	unsigned n = s->http_answered;
	if (len)
		snprintf(buf, len, "%s", s->http_last);
	pthread_mutex_unlock(&s->lock);
	return n;
}

/* ---- a target that never completes a connect --------------------------- */

/* 0 if a non-blocking connect to port completes within ms, -EINPROGRESS if
 * it is still pending, -errno if it failed; *fdp gets the socket. */
static int connect_within(uint16_t port, int ms, int *fdp)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	*fdp = fd;
	if (fd < 0)
		return -errno;
	struct sockaddr_in a = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return -errno;
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	if (poll(&p, 1, ms) == 0)
		return -EINPROGRESS;
	int err = 0;
	socklen_t len = sizeof err;
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
	return -err;
}

struct t_blackhole *t_blackhole_start(void)
{
	struct t_blackhole *b = calloc(1, sizeof *b);
	if (!b)
		return NULL;
	b->port = t_free_port();
	b->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {
		.sin_family = AF_INET,
		.sin_port = htons(b->port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	/* Backlog 0 still admits one connection into the accept queue;
	 * once it is there the queue is full and SYNs are dropped. */
	if (b->lfd < 0 || bind(b->lfd, (struct sockaddr *)&a, sizeof a) < 0 ||
	    listen(b->lfd, 0) < 0)
		goto fail;
	for (;;) {
		int fd, rc = connect_within(b->port, 300, &fd);
		if (rc == -EINPROGRESS) {
			close(fd);	/* the proof: this connect hung */
			return b;
		}
		if (rc < 0 || b->n_fillers == (int)(sizeof b->fillers / sizeof b->fillers[0])) {
			if (fd >= 0)
				close(fd);
			goto fail;
		}
		b->fillers[b->n_fillers++] = fd;
	}
fail:
	t_blackhole_free(b);
	return NULL;
}

void t_blackhole_free(struct t_blackhole *b)
{
	if (!b)
		return;
	for (int i = 0; i < b->n_fillers; i++)
		close(b->fillers[i]);
	if (b->lfd >= 0)
		close(b->lfd);
	free(b);
}
