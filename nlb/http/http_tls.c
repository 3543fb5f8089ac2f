/* TLS in the HTTP module, on either side: an https listener's clients,
 * and connections to the targets of an http group with tls = { }.  The
 * module asks for a receive into its buffer and for sends of a head and a
 * body, as on a plain socket; here those become ciphertext receives and
 * sends on the ring through a lib/tls_end.h, and the module's completion
 * comes once the plaintext is there (the count read) or all of the
 * send's ciphertext is out (the plaintext's length), so the module's
 * steps are the same with TLS and without.
 *
 * A client's handshake runs inside its first receive (after the PROXY
 * header, which comes plain), under the listener's handshake_timeout_ms;
 * a target connection's runs after its connect and before the request,
 * under the group's connect_timeout_ms, and fails as a connect does.
 * Ciphertext is received into the free part of the buffer the plaintext
 * then goes to: the memory BIO has copied it by then, so TLS costs no
 * buffer of its own here. */
#include "http/http_steps.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "log.h"
#include "tls_client.h"
#include "tls_end.h"
#include "tls_server.h"
#include "tunables.h"
#include "balance/target_set.h"
#include "core/tls_counters.h"

struct http_tls {
	struct nlb_tls_end end;
	uint64_t hs_start_ms;
	uint64_t written;		/* ciphertext queued for the peer, all told */
	uint64_t sent;			/* ... and sent */
	uint64_t send_mark;		/* the module's send is out when sent reaches it */
	int32_t send_res;		/* its completion's result: the plaintext's length */
	int32_t ended;			/* what ended the socket's stream (0: FIN, -errno) */
	uint8_t target;			/* the owner is a struct http_target */
	uint8_t recv_armed, send_armed, wake_armed;	/* ring operations of ours */
	uint8_t hs_done;
	uint8_t closed;			/* the socket's stream ended: ended says how */
	uint8_t broken;			/* a send could not be queued: the owner is reset */
	uint8_t shut_when_sent;		/* linger: FIN once close_notify is out */
	uint8_t fail;			/* enum nlb_tls_fail */
};

/* The owner's side of the byte layer: its socket, its buffer and the
 * module's flags for its receive and send, which the layer completes. */
struct tls_io {
	struct http_tls *x;
	int fd;
	struct http_buf *in;
	uint8_t *inflight, *recv_armed, *send_armed;
	uint32_t idx, gen;
	unsigned op;			/* our first op: ..._TLS_RECV; + 1 send, + 2 wake */
	unsigned mod_recv, mod_send;	/* the module's ops */
	bool closing;
};

static struct tls_io client_io(struct http_client *c)
{
	return (struct tls_io){ c->tls, c->fd, &c->in, &c->inflight, &c->recv_armed,
				&c->send_armed, c->slot.idx, c->slot.gen, HTTP_OP_CLIENT_TLS_RECV,
				HTTP_OP_CLIENT_RECV, HTTP_OP_CLIENT_SEND, c->state == HC_CLOSING };
}

static struct tls_io target_io(struct http_target *u)
{
	return (struct tls_io){ u->tls, u->fd, &u->in, &u->inflight, &u->recv_armed,
				&u->send_armed, u->slot.idx, u->slot.gen, HTTP_OP_TARGET_TLS_RECV,
				HTTP_OP_TARGET_RECV, HTTP_OP_TARGET_SEND, u->state == HU_CLOSING };
}

/* A new TLS state on ssl (which it then owns, NULL meaning none could
 * be made): NULL when out of memory, ssl freed. */
static struct http_tls *tls_new(struct worker *w, SSL *ssl, bool target)
{
	struct http_tls *x = ssl ? calloc(1, sizeof(*x)) : NULL;
	if (!x || nlb_tls_end_init(&x->end) < 0) {
		free(x);
		SSL_free(ssl);
		return NULL;
	}
	if (nlb_tls_end_attach(&x->end, ssl) < 0) {	/* ssl freed */
		nlb_tls_end_fini(&x->end, &w->tls_pool);
		free(x);
		return NULL;
	}
	x->hs_start_ms = w->now_ms;
	x->target = target;
	return x;
}

static void tls_free(struct worker *w, struct http_tls **xp)
{
	if (!*xp)
		return;
	nlb_tls_end_fini(&(*xp)->end, &w->tls_pool);
	free(*xp);
	*xp = NULL;
}

/* The module's completion, as the ring would have given it; the caller
 * must not touch the owner or x after (either may be freed). */
static void deliver(struct worker *w, const struct tls_io *io, unsigned op, int res)
{
	struct io_uring_cqe cqe = { .user_data = ud_pack(op, io->idx, io->gen), .res = res };
	switch (op) {
	case HTTP_OP_CLIENT_RECV: http_on_client_recv(w, &cqe); break;
	case HTTP_OP_CLIENT_SEND: http_on_client_send(w, &cqe); break;
	case HTTP_OP_TARGET_RECV: http_on_target_recv(w, &cqe); break;
	default: http_on_target_send(w, &cqe); break;
	}
}

static void arm_wake(struct worker *w, const struct tls_io *io)
{
	if (io->x->wake_armed)
		return;
	struct io_uring_sqe *sqe = nlb_ring_sqe(&w->ring);
	io_uring_prep_nop(sqe);
	io_uring_sqe_set_data64(sqe, ud_pack(io->op + 2, io->idx, io->gen));
	io->x->wake_armed = 1;
	(*io->inflight)++;
}

/* A ciphertext receive; a target's handshake is bounded by its group's
 * connect_timeout_ms (ts), the receive cancelled when it runs out. */
static void arm_recv(struct worker *w, const struct tls_io *io,
		     const struct __kernel_timespec *ts)
{
	struct http_tls *x = io->x;
	if (x->recv_armed || x->closed || io->in->len >= io->in->cap)
		return;
	if (ts && io_uring_sq_space_left(&w->ring) < 2)
		io_uring_submit(&w->ring);
	struct io_uring_sqe *sqe = nlb_ring_sqe(&w->ring);
	io_uring_prep_recv(sqe, io->fd, io->in->p + io->in->len, io->in->cap - io->in->len, 0);
	io_uring_sqe_set_data64(sqe, ud_pack(io->op, io->idx, io->gen));
	x->recv_armed = 1;
	(*io->inflight)++;
	if (ts) {
		sqe->flags |= IOSQE_IO_LINK;
		sqe = nlb_ring_sqe(&w->ring);
		/* The group's configuration holds the timespec; the kernel
		 * reads it at submission, within this worker's QSBR period. */
		io_uring_prep_link_timeout(sqe, (struct __kernel_timespec *)ts, 0);
		io_uring_sqe_set_data64(sqe, ud_pack(OP_NONE, 0, 0));
	}
}

/* Sends what the peer is owed, unless a send is in flight. */
static void flush(struct worker *w, const struct tls_io *io)
{
	struct http_tls *x = io->x;
	if (x->send_armed || x->broken)
		return;
	const uint8_t *p;
	uint32_t n;
	bool nomem;
	if (!nlb_tls_end_next_send(&x->end, &w->tls_pool, &p, &n, &nomem)) {
		if (nomem) {
			x->broken = 1;
			arm_wake(w, io);
		}
		return;
	}
	struct io_uring_sqe *sqe = nlb_ring_sqe(&w->ring);
	io_uring_prep_send(sqe, io->fd, p, n, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, ud_pack(io->op + 1, io->idx, io->gen));
	x->send_armed = 1;
	(*io->inflight)++;
}

/* What OpenSSL wrote for the peer since last asked: queued. */
static void queued(struct http_tls *x)
{
	x->written = BIO_number_written(x->end.out);
}

/* The module's receive, once the handshake is done: plaintext into its
 * buffer, or the end of the stream, delivered; else more ciphertext
 * asked for.  A TLS error is delivered as a reset, and counted first
 * against listener l when l is not NO_LISTENER (a client's). */
#define NO_LISTENER UINT32_MAX
static void read_for_module(struct worker *w, const struct tls_io *io, uint32_t l)
{
	struct http_tls *x = io->x;
	if (!*io->recv_armed)
		return;		/* the ciphertext waits in the BIO until asked for */
	struct http_buf *in = io->in;
	int n = nlb_tls_end_read(&x->end, in->p + in->len, in->cap - in->len, &x->fail);
	/* A read may answer (a key update; tickets after the handshake). */
	queued(x);
	flush(w, io);
	if (n == 0 && !x->closed) {
		arm_recv(w, io, NULL);
		return;
	}
	if (n == -EPROTO) {
		if (l != NO_LISTENER)
			worker_count_tls_fail(w, l, (enum nlb_tls_fail)x->fail);
		n = -ECONNRESET;
	} else if (n == -EPIPE) {
		n = 0;			/* close_notify: the peer's end, as a FIN */
	} else if (n == 0) {
		n = x->ended;		/* FIN or an error, no close_notify */
	}
	deliver(w, io, io->mod_recv, n);
}

/* The module's receive: completed by a wake or a ciphertext receive. */
static void module_recv(struct worker *w, const struct tls_io *io)
{
	struct http_tls *x = io->x;
	*io->recv_armed = 1;
	(*io->inflight)++;
	if ((x->hs_done && nlb_tls_end_readable(&x->end)) || x->closed || x->broken)
		arm_wake(w, io);
	else if (!x->hs_done && nlb_tls_end_fed(&x->end))
		arm_wake(w, io);	/* what came with a PROXY header */
	else
		arm_recv(w, io, NULL);
}

static void module_send(struct worker *w, const struct tls_io *io, const char *a, size_t alen,
			const char *b, size_t blen)
{
	struct http_tls *x = io->x;
	*io->send_armed = 1;
	(*io->inflight)++;
	/* A head and a short body in one record: one record's overhead and
	 * one read for the peer, not two. */
	char one[NLB_TLS_READ_CHUNK];
	if (alen && blen && alen + blen <= sizeof(one)) {
		memcpy(one, a, alen);
		memcpy(one + alen, b, blen);
		a = one;
		alen += blen;
		blen = 0;
	}
	if (nlb_tls_end_write(&x->end, a, (uint32_t)alen) < 0 ||
	    nlb_tls_end_write(&x->end, b, (uint32_t)blen) < 0) {
		/* Its TLS failed before: the send fails as on a reset socket. */
		x->send_mark = x->sent;
		x->send_res = -EPIPE;
		arm_wake(w, io);
		return;
	}
	queued(x);
	x->send_mark = x->written;
	x->send_res = (int32_t)(alen + blen);
	flush(w, io);
}

/* The module's receive and send will not complete: the owner closes,
 * which cancels ours. */
static void module_closing(const struct tls_io *io)
{
	*io->inflight -= (uint8_t)(*io->recv_armed + *io->send_armed);
	*io->recv_armed = *io->send_armed = 0;
}

/* ---- an https listener's client ------------------------------------- */

int http_tls_start(struct worker *w, struct http_client *c)
{
	struct nlb_tls_server *srv = http_listener_conf(w, c)->tls.server;
	if (!srv || !(c->tls = tls_new(w, nlb_tls_server_ssl(srv), false)))
		return -ENOMEM;
	STAT_INC(wstats(w, c->listener), tls_active);
	return 0;
}

void http_tls_free(struct worker *w, struct http_client *c)
{
	if (!c->tls)
		return;
	tls_free(w, &c->tls);
	STAT_DEC(wstats(w, c->listener), tls_active);
}

int http_tls_feed(struct http_client *c, const void *p, uint32_t len)
{
	return nlb_tls_end_feed(&c->tls->end, p, len);
}

void http_tls_recv(struct worker *w, struct http_client *c)
{
	struct tls_io io = client_io(c);
	module_recv(w, &io);
}

void http_tls_send(struct worker *w, struct http_client *c, const char *a, size_t alen,
		   const char *b, size_t blen)
{
	struct tls_io io = client_io(c);
	module_send(w, &io, a, alen, b, blen);
}

void http_tls_linger(struct worker *w, struct http_client *c)
{
	struct tls_io io = client_io(c);
	nlb_tls_end_notify(&c->tls->end);
	queued(c->tls);
	c->tls->shut_when_sent = 1;
	if (nlb_tls_end_pending(&c->tls->end) == 0)
		shutdown(c->fd, SHUT_WR);
	else
		flush(w, &io);
}

void http_tls_closing(struct http_client *c)
{
	struct tls_io io = client_io(c);
	module_closing(&io);
}

/* The client's handshake failed (x->fail): counted; the alert OpenSSL
 * wrote goes out when there is one to say why, then the socket closes. */
static void client_handshake_failed(struct worker *w, struct http_client *c)
{
	struct http_tls *x = c->tls;
	worker_count_tls_fail(w, c->listener, (enum nlb_tls_fail)x->fail);
	nlb_debug_rl("listener %s: TLS handshake with a client failed: %s",
		     http_listener_conf(w, c)->name, nlb_tls_fail_name((enum nlb_tls_fail)x->fail));
	/* Nothing was asked of nlb: no line in the access log. */
	c->log_pending = 0;
	if (x->fail != NLB_TLS_FAIL_EOF && x->fail != NLB_TLS_FAIL_TIMEOUT &&
	    nlb_tls_end_pending(&x->end)) {
		struct tls_io io = client_io(c);
		http_client_timer(w, c, HT_LINGER, w->now_ms + NLB_HTTP_LINGER_MS);
		x->shut_when_sent = 1;
		c->state = HC_LINGER;
		flush(w, &io);
		return;
	}
	http_client_close(w, c, true);
}

/* One step of either end's handshake; what it wrote goes to the kernel
 * at once (a step is hundreds of microseconds of crypto, which the
 * batch's other answers should not wait behind).  1 done, 0 wants more
 * bytes, -1 failed with x->fail set: a peer gone mid-handshake is EOF,
 * unless its deadline had already passed. */
static int handshake_step(struct worker *w, struct http_tls *x, const struct tls_io *io)
{
	int r = nlb_tls_end_handshake(&x->end, &x->fail);
	queued(x);
	flush(w, io);
	worker_submit_now(w);
	if (r == 0 && x->closed) {
		if (x->fail != NLB_TLS_FAIL_TIMEOUT)
			x->fail = NLB_TLS_FAIL_EOF;
		r = -1;
	}
	return r;
}

/* After bytes came, or a wake: the handshake on, then the module's
 * receive when it waits for one. */
static void client_advance(struct worker *w, struct http_client *c)
{
	struct http_tls *x = c->tls;
	struct tls_io io = client_io(c);
	if (x->broken) {
		STAT_INC(wstats(w, c->listener), nomem);
		http_client_close(w, c, true);
		return;
	}
	if (!x->hs_done) {
		if (c->state == HC_LINGER)
			return;		/* a failed handshake's alert on its way */
		int r = handshake_step(w, x, &io);
		if (r < 0) {
			client_handshake_failed(w, c);
			return;
		}
		if (r == 0) {
			arm_recv(w, &io, NULL);
			return;
		}
		x->hs_done = 1;
		worker_count_tls_handshake(w, c->listener, x->end.ssl, x->hs_start_ms);
		http_client_timer(w, c, HT_REQUEST,
				  w->now_ms + http_listener_conf(w, c)->http.request_timeout_ms);
	}
	read_for_module(w, &io, c->listener);
}

void http_tls_timeout(struct worker *w, struct http_client *c)
{
	if (c->tls->hs_done || c->state == HC_LINGER) {
		http_client_close(w, c, true);
		return;
	}
	c->tls->fail = NLB_TLS_FAIL_TIMEOUT;
	client_handshake_failed(w, c);
}

/* ---- a connection to a target of an http group with tls ---------------- */

static const struct __kernel_timespec *hs_timeout(struct worker *w, const struct http_target *u)
{
	return &w->rt->groups[u->group].conf->connect_timeout_ts;
}

int http_tls_target_start(struct worker *w, struct http_target *u, struct nlb_tls_client *cli)
{
	const struct sockaddr_storage *ss = &target_at(w->rt, u->group, u->target)->addr.ss;
	char ip[INET6_ADDRSTRLEN] = "";
	nlb_addr_host((const struct sockaddr *)ss, ip, sizeof(ip));
	if (!(u->tls = tls_new(w, nlb_tls_client_ssl(cli, ip), true)))
		return -ENOMEM;
	struct tls_io io = target_io(u);
	int r = nlb_tls_end_handshake(&u->tls->end, &u->tls->fail);
	queued(u->tls);
	flush(w, &io);
	if (r < 0)
		return -EPROTO;
	arm_recv(w, &io, hs_timeout(w, u));
	return 0;
}

void http_tls_target_free(struct worker *w, struct http_target *u)
{
	tls_free(w, &u->tls);
}

void http_tls_target_closing(struct http_target *u)
{
	struct tls_io io = target_io(u);
	module_closing(&io);
}

bool http_tls_target_idle_ok(const struct http_target *u)
{
	return !u->tls || (!nlb_tls_end_readable(&u->tls->end) && !u->tls->closed &&
			   !u->tls->broken && nlb_tls_end_pending(&u->tls->end) == 0);
}

void http_tls_target_recv(struct worker *w, struct http_target *u)
{
	struct tls_io io = target_io(u);
	module_recv(w, &io);
}

void http_tls_target_send(struct worker *w, struct http_target *u, const char *a, size_t alen,
			  const char *b, size_t blen)
{
	struct tls_io io = target_io(u);
	module_send(w, &io, a, alen, b, blen);
}

/* The target's handshake failed or timed out: a connect that failed,
 * for its client (another target tried, or 502/504). */
static void target_handshake_failed(struct worker *w, struct http_target *u)
{
	struct http_client *c = http_target_client(w, u);
	enum nlb_tls_fail f = (enum nlb_tls_fail)u->tls->fail;
	if (c)
		nlb_debug_rl("http target %s: TLS handshake failed: %s",
			     target_at(w->rt, u->group, u->target)->addr_text, nlb_tls_fail_name(f));
	if (c)
		c->upstream = HTTP_NO_IDX;
	http_target_close(w, u);
	if (c)
		http_exchange_connect_failed(w, c, f == NLB_TLS_FAIL_TIMEOUT ? -ETIME : -EPROTO);
}

static void target_advance(struct worker *w, struct http_target *u)
{
	struct http_tls *x = u->tls;
	struct tls_io io = target_io(u);
	if (x->broken && !x->closed) {
		/* No send buffer: the connection fails as a reset one. */
		struct http_client *c = http_target_client(w, u);
		if (c)
			STAT_INC(wstats(w, c->listener), nomem);
		x->closed = 1;
		x->ended = -ENOMEM;
		if (*io.send_armed) {
			deliver(w, &io, io.mod_send, -ENOMEM);
			return;
		}
	}
	if (!x->hs_done) {
		int r = handshake_step(w, x, &io);
		if (r < 0) {
			target_handshake_failed(w, u);
			return;
		}
		if (r == 0) {
			arm_recv(w, &io, hs_timeout(w, u));
			return;
		}
		x->hs_done = 1;
		struct http_client *c = http_target_client(w, u);
		if (!c) {
			http_target_close(w, u);
			return;
		}
		u->state = HU_BUSY;
		http_exchange_connected(w, c, u);
		return;
	}
	read_for_module(w, &io, NO_LISTENER);
}

/* ---- completions -------------------------------------------------------- */

/* The owner of one of our completions and its byte layer, still open;
 * false otherwise (the owner freed once nothing of the ring refers to
 * it). */
static bool ours(struct worker *w, const struct io_uring_cqe *cqe, struct tls_io *io,
		 struct http_client **cp, struct http_target **up)
{
	unsigned op = ud_op(cqe->user_data);
	bool target = op >= HTTP_OP_TARGET_TLS_RECV;
	*cp = NULL;
	*up = NULL;
	if (target) {
		if (!(*up = http_target_of(w, cqe)))
			return false;
		*io = target_io(*up);
	} else {
		if (!(*cp = http_client_of(w, cqe)))
			return false;
		*io = client_io(*cp);
	}
	(*io->inflight)--;
	switch (op - io->op) {
	case 0: io->x->recv_armed = 0; break;
	case 1: io->x->send_armed = 0; break;
	default: io->x->wake_armed = 0; break;
	}
	if (!io->closing)
		return true;
	if (target)
		http_target_maybe_free(w, *up);
	else
		http_client_maybe_free(w, *cp);
	return false;
}

static void advance(struct worker *w, struct http_client *c, struct http_target *u)
{
	if (u)
		target_advance(w, u);
	else
		client_advance(w, c);
}

void http_tls_on_recv(struct worker *w, const struct io_uring_cqe *cqe)
{
	struct tls_io io;
	struct http_client *c;
	struct http_target *u;
	if (!ours(w, cqe, &io, &c, &u))
		return;
	struct http_tls *x = io.x;
	if (cqe->res > 0) {
		if (c)
			http_client_active(w, c);
		if (nlb_tls_end_feed(&x->end, io.in->p + io.in->len, (uint32_t)cqe->res) < 0)
			x->broken = 1;
	} else {
		x->closed = 1;
		/* Cancelled: a target's handshake ran out of time. */
		if (cqe->res == -ECANCELED && u && !x->hs_done)
			x->fail = NLB_TLS_FAIL_TIMEOUT;
		x->ended = cqe->res == -ECANCELED ? -ECONNRESET : cqe->res;
	}
	if (c && c->state == HC_LINGER && !x->hs_done) {
		/* A failed handshake's alert on its way: the client's bytes
		 * are not read on. */
		if (x->closed)
			http_client_close(w, c, false);
		return;
	}
	advance(w, c, u);
}

void http_tls_on_send(struct worker *w, const struct io_uring_cqe *cqe)
{
	struct tls_io io;
	struct http_client *c;
	struct http_target *u;
	if (!ours(w, cqe, &io, &c, &u))
		return;
	struct http_tls *x = io.x;
	if (cqe->res < 0) {
		x->closed = 1;
		x->ended = cqe->res;
		if (*io.send_armed)
			deliver(w, &io, io.mod_send, cqe->res);
		else if (u && !x->hs_done)
			target_handshake_failed(w, u);
		else if (c && (!x->hs_done || c->state == HC_LINGER))
			http_client_close(w, c, true);
		return;
	}
	nlb_tls_end_sent(&x->end, &w->tls_pool, (uint32_t)cqe->res);
	x->sent += (uint64_t)cqe->res;
	flush(w, &io);
	if (c && x->shut_when_sent && !x->send_armed) {
		x->shut_when_sent = 0;
		if (!x->hs_done) {
			/* A failed handshake's alert is out. */
			http_client_close(w, c, false);
			return;
		}
		shutdown(c->fd, SHUT_WR);
	}
	if (*io.send_armed && x->sent >= x->send_mark)
		deliver(w, &io, io.mod_send, x->send_res);
}

void http_tls_on_wake(struct worker *w, const struct io_uring_cqe *cqe)
{
	struct tls_io io;
	struct http_client *c;
	struct http_target *u;
	if (!ours(w, cqe, &io, &c, &u))
		return;
	struct http_tls *x = io.x;
	if (*io.send_armed && !x->broken && x->sent >= x->send_mark) {
		/* A send that failed at once; what woke the receive, next. */
		if (*io.recv_armed)
			arm_wake(w, &io);
		deliver(w, &io, io.mod_send, x->send_res);
		return;
	}
	advance(w, c, u);
}
