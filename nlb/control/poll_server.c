/* The control threads' stream server (poll_server.h): slots, accept with
 * a limit, timeouts, output flushing and the linger before a close.
 * Nothing a client sends is trusted: input is bounded, output is read
 * only as fast as the protocol appends it, and no client can stop the
 * loop or hold a slot past its timeouts. */
#include "control/poll_server.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "tunables.h"

int poll_server_init(struct poll_server *s, const struct poll_server_conf *conf, int lfd,
		     void *arg)
{
	*s = (struct poll_server){ .conf = conf, .arg = arg, .lfd = lfd };
	unsigned n = conf->max_clients;
	s->clients = calloc(n, sizeof(*s->clients));
	s->pfd = calloc(n + 2, sizeof(*s->pfd));
	s->at = calloc(n + 1, sizeof(*s->at));
	bool ok = s->clients && s->pfd && s->at;
	for (unsigned i = 0; s->clients && i < n; i++) {
		s->clients[i].fd = -1;
		ok = ok && (s->clients[i].in = malloc(conf->in_max)) != NULL;
	}
	if (!ok) {
		poll_server_free(s);
		return -ENOMEM;
	}
	return 0;
}

void poll_client_consume(struct poll_client *c, size_t n)
{
	c->in_len -= n;
	memmove(c->in, c->in + n, c->in_len);
}

static void client_close(struct poll_server *s, struct poll_client *c)
{
	close(c->fd);
	c->fd = -1;
	c->out_off = 0;
	if (c->out.cap > s->conf->out_keep)
		nlb_strbuf_free(&c->out);
	else
		nlb_strbuf_reset(&c->out);
}

/* Sends what it can of out; -errno when the connection is gone or an
 * answer did not fit in memory. */
static int client_send(struct poll_server *s, struct poll_client *c, uint64_t now)
{
	if (nlb_strbuf_status(&c->out) < 0)
		return -ENOMEM;
	while (poll_client_out_pending(c)) {
		ssize_t w = send(c->fd, c->out.p + c->out_off, poll_client_out_pending(c),
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return errno == EAGAIN ? 0 : -errno;	/* POLLOUT brings us back */
		c->out_off += (size_t)w;
		c->last_ms = now;
	}
	c->out_off = 0;
	if (c->out.cap > s->conf->out_keep)	/* a long answer: do not keep its room */
		nlb_strbuf_free(&c->out);
	else
		nlb_strbuf_reset(&c->out);
	return 0;
}

/* The protocol's turn, then the answers out; closes (or lingers) once
 * the connection is done with. */
static void client_progress(struct poll_server *s, struct poll_client *c, uint64_t now)
{
	if (!c->closing)
		s->conf->on_input(s->arg, c);
	if (client_send(s, c, now) < 0) {
		client_close(s, c);
		return;
	}
	if (poll_client_out_pending(c))
		return;
	if (c->closing && !c->eof) {
		/* Closing with unread bytes would reset the connection, and
		 * the client could lose the answer it has not read yet: send
		 * our FIN and drop what comes until the client's. */
		shutdown(c->fd, SHUT_WR);
		c->lingering = true;
		c->in_len = 0;
		uint64_t until = s->conf->linger_ms ? now + s->conf->linger_ms : UINT64_MAX;
		if (until < c->deadline_ms)
			c->deadline_ms = until;
	} else if (c->closing || c->eof) {
		client_close(s, c);
	}
}

static void client_event(struct poll_server *s, struct poll_client *c, short revents,
			 uint64_t now)
{
	const struct poll_server_conf *conf = s->conf;
	if (!c->lingering && (revents & POLLOUT) && client_send(s, c, now) < 0) {
		client_close(s, c);
		return;
	}
	/* POLLHUP and POLLERR come unasked, also while the input is full
	 * and answers wait: a recv of 0 bytes would read as EOF. */
	if ((revents & (POLLIN | POLLHUP | POLLERR)) && c->in_len < conf->in_max) {
		ssize_t r = recv(c->fd, c->in + c->in_len, conf->in_max - c->in_len, MSG_DONTWAIT);
		if (r < 0 && errno != EAGAIN && errno != EINTR) {
			client_close(s, c);
			return;
		}
		if (r == 0)
			c->eof = true;
		if (r > 0 && c->lingering) {
			c->discarded += (size_t)r;	/* in_len stays 0 */
		} else if (r > 0) {
			c->in_len += (size_t)r;
			c->last_ms = now;
		}
	}
	if (!c->lingering)
		client_progress(s, c, now);
	else if (c->eof || (conf->linger_max && c->discarded > conf->linger_max))
		client_close(s, c);
}

/* Takes waiting connections into free slots.  Out of descriptors (or
 * any error but the passing ones), accepting pauses a while rather than
 * spin on a listening socket that stays readable. */
static void accept_clients(struct poll_server *s, uint64_t now)
{
	const struct poll_server_conf *conf = s->conf;
	for (unsigned i = 0; i < conf->max_clients; i++) {
		struct poll_client *c = &s->clients[i];
		if (c->fd >= 0)
			continue;
		int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
				return;
			nlb_warn("%s: accept: %s", conf->name, strerror(errno));
			s->accept_resume_ms = now + NLB_ACCEPT_PAUSE_MS;
			return;
		}
		c->fd = fd;
		c->in_len = c->discarded = 0;
		c->eof = c->closing = c->lingering = false;
		c->last_ms = now;
		c->deadline_ms = conf->deadline_ms ? now + conf->deadline_ms : UINT64_MAX;
	}
}

/* When c is closed for a timeout. */
static uint64_t client_due(const struct poll_server_conf *conf, const struct poll_client *c)
{
	uint64_t idle = conf->idle_ms ? c->last_ms + conf->idle_ms : UINT64_MAX;
	return idle < c->deadline_ms ? idle : c->deadline_ms;
}

void poll_server_run(struct poll_server *s, struct control_thread *t)
{
	const struct poll_server_conf *conf = s->conf;
	for (;;) {
		uint64_t now = nlb_clock_ms();
		uint64_t wake = UINT64_MAX;
		unsigned busy = 0;
		nfds_t n = 0;
		s->pfd[n++] = (struct pollfd){ .fd = t->stop_fd, .events = POLLIN };
		for (unsigned i = 0; i < conf->max_clients; i++) {
			struct poll_client *c = &s->clients[i];
			if (c->fd < 0)
				continue;
			uint64_t due = client_due(conf, c);
			if (now >= due) {
				if (conf->on_timeout)
					conf->on_timeout(s->arg, c);
				client_close(s, c);
				continue;
			}
			busy++;
			if (due < wake)
				wake = due;
			s->at[n - 1] = i;
			s->pfd[n++] = (struct pollfd){
				.fd = c->fd,
				.events = poll_client_out_pending(c) && !c->lingering ? POLLOUT : POLLIN,
			};
		}
		/* When full, new clients wait in the backlog. */
		nfds_t lidx = 0;
		if (busy < conf->max_clients && now >= s->accept_resume_ms) {
			lidx = n;
			s->pfd[n++] = (struct pollfd){ .fd = s->lfd, .events = POLLIN };
		} else if (busy < conf->max_clients && s->accept_resume_ms < wake) {
			wake = s->accept_resume_ms;
		}
		int timeout = wake == UINT64_MAX ? -1 : wake > now ? (int)(wake - now) : 0;
		/* Protocols read the configuration between polls only. */
		control_thread_sleeping(t);
		int r = poll(s->pfd, n, timeout);
		control_thread_awake(t);
		if (r < 0 && errno != EINTR) {
			nlb_err("%s: poll: %s", conf->name, strerror(errno));
			return;
		}
		if (r <= 0)
			continue;
		if (s->pfd[0].revents)
			return;
		now = nlb_clock_ms();
		for (nfds_t k = 1; k < n; k++)
			if (k != lidx && s->pfd[k].revents)
				client_event(s, &s->clients[s->at[k - 1]], s->pfd[k].revents, now);
		if (lidx && s->pfd[lidx].revents)
			accept_clients(s, now);
	}
}

void poll_server_free(struct poll_server *s)
{
	for (unsigned i = 0; s->clients && i < s->conf->max_clients; i++) {
		struct poll_client *c = &s->clients[i];
		if (c->fd >= 0)
			close(c->fd);
		nlb_strbuf_free(&c->out);
		free(c->in);
	}
	free(s->clients);
	free(s->pfd);
	free(s->at);
	s->clients = NULL;
	s->pfd = NULL;
	s->at = NULL;
}
