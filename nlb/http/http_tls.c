/* An https listener's clients: their TLS between the socket and the HTTP
 * module.  The module asks for a receive into c->in and for sends of a
 * head and a body, as on a plain client; here those become ciphertext
 * receives and sends on the ring through a lib/tls_end.h, and the
 * module's completion comes once the plaintext is there (the count read)
 * or all of the send's ciphertext is out (the plaintext's length), so
 * the module's steps are the same for both.  The handshake runs inside
 * the first receive (after the PROXY header, which comes plain), under
 * the listener's handshake_timeout_ms.  Ciphertext is received into the
 * free part of c->in, where the plaintext then goes: the memory BIO has
 * copied it by then, so a client costs no buffer of its own here. */
#include "http/http_steps.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "tls_end.h"
#include "tunables.h"
#include "tls_server.h"
#include "core/tls_counters.h"

struct http_tls {
	struct nlb_tls_end end;
	uint64_t hs_start_ms;
	uint64_t written;		/* ciphertext queued for the client, all told */
	uint64_t sent;			/* ... and sent */
	uint64_t send_mark;		/* the module's send is out when sent reaches it */
	int32_t send_res;		/* its completion's result: the plaintext's length */
	int32_t ended;			/* what ended the socket's stream (0: FIN, -errno) */
	uint8_t recv_armed, send_armed, wake_armed;	/* ring operations of ours */
	uint8_t hs_done;
	uint8_t closed;			/* the socket's stream ended: ended says how */
	uint8_t broken;			/* a send could not be queued: the client is reset */
	uint8_t shut_when_sent;		/* linger: FIN once close_notify is out */
	uint8_t fail;			/* enum nlb_tls_fail */
};

int http_tls_start(struct worker *w, struct http_client *c)
{
	struct nlb_tls_server *srv = http_listener_conf(w, c)->tls.server;
	struct http_tls *x = srv ? calloc(1, sizeof(*x)) : NULL;
	if (!x)
		return -ENOMEM;
	SSL *ssl = NULL;
	if (nlb_tls_end_init(&x->end) < 0 || !(ssl = nlb_tls_server_ssl(srv)) ||
	    nlb_tls_end_attach(&x->end, ssl) < 0) {
		if (!x->end.ssl)
			SSL_free(ssl);	/* attach frees it on failure; NULL is fine */
		nlb_tls_end_fini(&x->end, &w->tls_pool);
		free(x);
		return -ENOMEM;
	}
	x->hs_start_ms = w->now_ms;
	c->tls = x;
	STAT_INC(wstats(w, c->listener), tls_active);
	return 0;
}

void http_tls_free(struct worker *w, struct http_client *c)
{
	if (!c->tls)
		return;
	nlb_tls_end_fini(&c->tls->end, &w->tls_pool);
	free(c->tls);
	c->tls = NULL;
	STAT_DEC(wstats(w, c->listener), tls_active);
}

int http_tls_feed(struct http_client *c, const void *p, uint32_t len)
{
	return nlb_tls_end_feed(&c->tls->end, p, len);
}

/* The module's completion, as the ring would have given it; the caller
 * must not touch c or x after (c may be freed). */
static void deliver(struct worker *w, struct http_client *c, unsigned op, int res)
{
	struct io_uring_cqe cqe = { .user_data = http_client_ud(c, op), .res = res };
	if (op == HTTP_OP_CLIENT_RECV)
		http_on_client_recv(w, &cqe);
	else
		http_on_client_send(w, &cqe);
}

static void arm_wake(struct worker *w, struct http_client *c)
{
	struct http_tls *x = c->tls;
	if (x->wake_armed)
		return;
	struct io_uring_sqe *sqe = nlb_ring_sqe(&w->ring);
	io_uring_prep_nop(sqe);
	io_uring_sqe_set_data64(sqe, http_client_ud(c, HTTP_OP_CLIENT_TLS_WAKE));
	x->wake_armed = 1;
	c->inflight++;
}

static void arm_recv(struct worker *w, struct http_client *c)
{
	struct http_tls *x = c->tls;
	if (x->recv_armed || x->closed || c->in.len >= c->in.cap)
		return;
	struct io_uring_sqe *sqe = nlb_ring_sqe(&w->ring);
	io_uring_prep_recv(sqe, c->fd, c->in.p + c->in.len, c->in.cap - c->in.len, 0);
	io_uring_sqe_set_data64(sqe, http_client_ud(c, HTTP_OP_CLIENT_TLS_RECV));
	x->recv_armed = 1;
	c->inflight++;
}

/* Sends what the client is owed, unless a send is in flight. */
static void flush(struct worker *w, struct http_client *c)
{
	struct http_tls *x = c->tls;
	if (x->send_armed || x->broken)
		return;
	const uint8_t *p;
	uint32_t n;
	bool nomem;
	if (!nlb_tls_end_next_send(&x->end, &w->tls_pool, &p, &n, &nomem)) {
		if (nomem) {
			x->broken = 1;
			arm_wake(w, c);
		}
		return;
	}
	struct io_uring_sqe *sqe = nlb_ring_sqe(&w->ring);
	io_uring_prep_send(sqe, c->fd, p, n, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, http_client_ud(c, HTTP_OP_CLIENT_TLS_SEND));
	x->send_armed = 1;
	c->inflight++;
}

/* What OpenSSL wrote for the client since last asked: queued. */
static void queued(struct http_tls *x)
{
	x->written = BIO_number_written(x->end.out);
}

/* The handshake failed (x->fail): counted; the alert OpenSSL wrote goes
 * out when there is one to say why, then the socket is closed. */
static void handshake_failed(struct worker *w, struct http_client *c)
{
	struct http_tls *x = c->tls;
	worker_count_tls_fail(w, c->listener, (enum nlb_tls_fail)x->fail);
	nlb_debug_rl("listener %s: TLS handshake with a client failed: %s",
		     http_listener_conf(w, c)->name, nlb_tls_fail_name((enum nlb_tls_fail)x->fail));
	/* Nothing was asked of nlb: no line in the access log. */
	c->log_pending = 0;
	if (x->fail != NLB_TLS_FAIL_EOF && x->fail != NLB_TLS_FAIL_TIMEOUT &&
	    nlb_tls_end_pending(&x->end)) {
		http_client_timer(w, c, HT_LINGER, w->now_ms + NLB_HTTP_LINGER_MS);
		x->shut_when_sent = 1;
		c->state = HC_LINGER;
		flush(w, c);
		return;
	}
	http_client_close(w, c, true);
}

/* After bytes came, or a wake: the handshake on, then the module's
 * receive when it waits for one. */
static void advance(struct worker *w, struct http_client *c)
{
	struct http_tls *x = c->tls;
	if (x->broken) {
		STAT_INC(wstats(w, c->listener), nomem);
		http_client_close(w, c, true);
		return;
	}
	if (!x->hs_done) {
		if (c->state == HC_LINGER)
			return;		/* a failed handshake's alert on its way */
		int r = nlb_tls_end_handshake(&x->end, &x->fail);
		queued(x);
		flush(w, c);
		if (r == 0 && x->closed) {
			x->fail = NLB_TLS_FAIL_EOF;
			r = -1;
		}
		if (r < 0) {
			handshake_failed(w, c);
			return;
		}
		if (r == 0) {
			arm_recv(w, c);
			return;
		}
		x->hs_done = 1;
		worker_count_tls_handshake(w, c->listener, x->end.ssl, x->hs_start_ms);
		http_client_timer(w, c, HT_REQUEST,
				  w->now_ms + http_listener_conf(w, c)->http.request_timeout_ms);
	}
	if (!c->recv_armed)
		return;		/* the ciphertext waits in the BIO until asked for */
	int n = nlb_tls_end_read(&x->end, c->in.p + c->in.len, c->in.cap - c->in.len, &x->fail);
	/* A read may answer (a key update; tickets after the handshake). */
	queued(x);
	flush(w, c);
	if (n == 0 && !x->closed) {
		arm_recv(w, c);
		return;
	}
	if (n == -EPROTO) {
		worker_count_tls_fail(w, c->listener, (enum nlb_tls_fail)x->fail);
		n = -ECONNRESET;
	} else if (n == -EPIPE) {
		n = 0;			/* close_notify: the client's end, as a FIN */
	} else if (n == 0) {
		n = x->ended;		/* FIN or an error, no close_notify */
	}
	deliver(w, c, HTTP_OP_CLIENT_RECV, n);
}

void http_tls_recv(struct worker *w, struct http_client *c)
{
	struct http_tls *x = c->tls;
	/* The module's receive: completed by advance(). */
	c->recv_armed = 1;
	c->inflight++;
	if ((x->hs_done && nlb_tls_end_readable(&x->end)) || x->closed || x->broken)
		arm_wake(w, c);
	else if (!x->hs_done && nlb_tls_end_fed(&x->end))
		arm_wake(w, c);		/* what came with the PROXY header */
	else
		arm_recv(w, c);
}

void http_tls_send(struct worker *w, struct http_client *c, const char *a, size_t alen,
		   const char *b, size_t blen)
{
	struct http_tls *x = c->tls;
	c->send_armed = 1;
	c->inflight++;
	/* A head and a short body in one record: one record's overhead and
	 * one read for the client, not two. */
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
		arm_wake(w, c);
		return;
	}
	queued(x);
	x->send_mark = x->written;
	x->send_res = (int32_t)(alen + blen);	/* as given: a + b */
	flush(w, c);
}

void http_tls_linger(struct worker *w, struct http_client *c)
{
	struct http_tls *x = c->tls;
	nlb_tls_end_notify(&x->end);
	queued(x);
	x->shut_when_sent = 1;
	if (nlb_tls_end_pending(&x->end) == 0)
		shutdown(c->fd, SHUT_WR);
	else
		flush(w, c);
}

void http_tls_closing(struct http_client *c)
{
	/* The module's operations end with ours, which the close cancels. */
	c->inflight -= c->recv_armed + c->send_armed;
	c->recv_armed = c->send_armed = 0;
}

/* ---- completions -------------------------------------------------------- */

/* The client of one of our completions, still open; NULL otherwise
 * (freed once nothing of the ring refers to it). */
static struct http_client *ours(struct worker *w, const struct io_uring_cqe *cqe)
{
	struct http_client *c = http_client_of(w, cqe);
	if (!c)
		return NULL;
	c->inflight--;
	if (c->state == HC_CLOSING) {
		switch (ud_op(cqe->user_data)) {
		case HTTP_OP_CLIENT_TLS_RECV: c->tls->recv_armed = 0; break;
		case HTTP_OP_CLIENT_TLS_SEND: c->tls->send_armed = 0; break;
		default: c->tls->wake_armed = 0; break;
		}
		http_client_maybe_free(w, c);
		return NULL;
	}
	return c;
}

void http_tls_on_recv(struct worker *w, const struct io_uring_cqe *cqe)
{
	struct http_client *c = ours(w, cqe);
	if (!c)
		return;
	struct http_tls *x = c->tls;
	x->recv_armed = 0;
	if (cqe->res > 0) {
		http_client_active(w, c);
		if (nlb_tls_end_feed(&x->end, c->in.p + c->in.len, (uint32_t)cqe->res) < 0)
			x->broken = 1;
	} else {
		x->closed = 1;
		x->ended = cqe->res == -ECANCELED ? -ECONNRESET : cqe->res;
	}
	if (c->state == HC_LINGER && !x->hs_done) {
		/* A failed handshake's alert on its way: the client's bytes
		 * are not read on. */
		if (x->closed)
			http_client_close(w, c, false);
		return;
	}
	advance(w, c);
}

void http_tls_on_send(struct worker *w, const struct io_uring_cqe *cqe)
{
	struct http_client *c = ours(w, cqe);
	if (!c)
		return;
	struct http_tls *x = c->tls;
	x->send_armed = 0;
	if (cqe->res < 0) {
		x->closed = 1;
		x->ended = cqe->res;
		if (c->send_armed)
			deliver(w, c, HTTP_OP_CLIENT_SEND, cqe->res);
		else if (!x->hs_done || c->state == HC_LINGER)
			http_client_close(w, c, true);
		return;
	}
	nlb_tls_end_sent(&x->end, &w->tls_pool, (uint32_t)cqe->res);
	x->sent += (uint64_t)cqe->res;
	flush(w, c);
	if (x->shut_when_sent && !x->send_armed) {
		x->shut_when_sent = 0;
		if (!x->hs_done) {
			/* A failed handshake's alert is out. */
			http_client_close(w, c, false);
			return;
		}
		shutdown(c->fd, SHUT_WR);
	}
	if (c->send_armed && x->sent >= x->send_mark)
		deliver(w, c, HTTP_OP_CLIENT_SEND, x->send_res);
}

void http_tls_on_wake(struct worker *w, const struct io_uring_cqe *cqe)
{
	struct http_client *c = ours(w, cqe);
	if (!c)
		return;
	struct http_tls *x = c->tls;
	x->wake_armed = 0;
	if (c->send_armed && !x->broken && x->sent >= x->send_mark) {
		/* A send that failed at once; what woke the receive, next. */
		if (c->recv_armed)
			arm_wake(w, c);
		deliver(w, c, HTTP_OP_CLIENT_SEND, x->send_res);
		return;
	}
	advance(w, c);
}

/* The handshake's time ran out. */
void http_tls_timeout(struct worker *w, struct http_client *c)
{
	if (c->tls->hs_done || c->state == HC_LINGER) {
		http_client_close(w, c, true);
		return;
	}
	c->tls->fail = NLB_TLS_FAIL_TIMEOUT;
	handshake_failed(w, c);
}
