/* A TLS connection's life: the steps of stream/tcp_proxy.c's connection
 * where an end speaks TLS (stream/tcp_tls.h is its byte layer).  The
 * client's handshake comes before a target is chosen, the target's after
 * its connect; a target whose handshake fails is given up like one that
 * refused; then plaintext moves between the ends through their TLS,
 * never by splice.  Entry points and the plain path's steps it takes:
 * stream/tcp_proxy_steps.h. */
#include "stream/tcp_proxy_steps.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "tls_client.h"
#include "tls_server.h"
#include "tunables.h"
#include "balance/pick.h"
#include "balance/target_set.h"
#include "core/tls_counters.h"
#include "core/worker.h"
#include "stream/tcp_conn.h"
#include "stream/tcp_tls.h"

/* Starts a send of what end is owed, unless one is in flight. */
static void tls_flush(struct worker *w, struct conn *c, int end)
{
	int dir = end == END_TARGET ? DIR_C2T : DIR_T2C;
	struct half *h = &c->half[dir];
	struct conn_tls *x = c->tls;
	if ((h->flags & (HALF_SEND | HALF_POLL_OUT | HALF_SHUT)) ||
	    (end == END_TARGET && (c->tfd < 0 || x->retry)))
		return;
	const uint8_t *p;
	uint32_t n;
	bool nomem;
	if (!nlb_tls_end_next_send(&x->end[end], &w->tls_pool, &p, &n, &nomem)) {
		if (nomem) {
			STAT_INC(wstats(w, c->listener), nomem);
			tcp_conn_close(w, c, true);
		}
		return;
	}
	struct io_uring_sqe *sqe = nlb_ring_sqe(&w->ring);
	io_uring_prep_send(sqe, end == END_CLIENT ? c->cfd : c->tfd, p, n, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, conn_ud_dir(c, TCP_OP_SEND, dir));
	h->flags |= HALF_SEND;
	c->inflight++;
	if (end == END_TARGET)
		x->target_ops++;
}

/* The client's handshake failed (x->fail): counted, and closed once the
 * alert OpenSSL wrote has gone out (a client then says why). */
static void tls_client_failed(struct worker *w, struct conn *c)
{
	struct conn_tls *x = c->tls;
	worker_count_tls_fail(w, c->listener, (enum nlb_tls_fail)x->fail);
	nlb_debug_rl("listener %s: TLS handshake with a client failed: %s",
		     w->rt->listeners[c->listener].conf->name,
		     nlb_tls_fail_name((enum nlb_tls_fail)x->fail));
	if (x->fail != NLB_TLS_FAIL_EOF && x->fail != NLB_TLS_FAIL_TIMEOUT &&
	    tls_pending(x, END_CLIENT)) {
		x->close_when_sent = 1;
		tls_flush(w, c, END_CLIENT);
		return;
	}
	tcp_conn_close(w, c, true);
}

void tls_start_client(struct worker *w, struct conn *c)
{
	struct nlb_tls_server *srv = w->rt->listeners[c->listener].conf->tls.server;
	struct conn_tls *x = srv ? tls_conn_new() : NULL;
	SSL *ssl = x ? nlb_tls_server_ssl(srv) : NULL;
	if (!ssl || tls_attach(x, END_CLIENT, ssl) < 0) {
		tls_conn_free(&w->tls_pool, x);
		STAT_INC(wstats(w, c->listener), nomem);
		tcp_conn_close(w, c, true);
		return;
	}
	c->tls = x;
	x->hs_start_ms = w->now_ms;
	STAT_INC(wstats(w, c->listener), tls_active);
	tcp_conn_move(w, c, CONN_HANDSHAKE);
	tcp_arm_recv(w, c, DIR_C2T);
}

static void tls_client_done(struct worker *w, struct conn *c)
{
	worker_count_tls_handshake(w, c->listener, c->tls->end[END_CLIENT].ssl,
				   c->tls->hs_start_ms);
	tcp_conn_move(w, c, CONN_CONNECTING);
	tcp_start_connect(w, c);
}

static void tls_target_retry(struct worker *w, struct conn *c)
{
	struct conn_tls *x = c->tls;
	x->retry = 0;
	if (tls_detach(&w->tls_pool, x, END_TARGET) < 0) {
		STAT_INC(wstats(w, c->listener), nomem);
		tcp_conn_close(w, c, true);
		return;
	}
	c->half[DIR_C2T].flags &= (uint16_t)~(HALF_SEND | HALF_POLL_OUT);
	c->half[DIR_T2C].flags = 0;
	/* Nothing of the ring refers to the socket any more. */
	tcp_next_target(w, c);
}

/* The target's handshake failed or timed out (x->fail): counted as a
 * connect failure, and another target tried once nothing of the ring
 * refers to this one's socket. */
static void tls_target_failed(struct worker *w, struct conn *c)
{
	struct conn_tls *x = c->tls;
	const struct nlb_group_conf *g = w->rt->groups[c->group].conf;
	if (x->fail == NLB_TLS_FAIL_TIMEOUT)
		STAT_INC(wstats(w, c->listener), connect_timeout);
	else
		STAT_INC(wstats(w, c->listener), connect_tls);
	nlb_debug_rl("target %s in group %s: TLS handshake failed (%s), attempt %u of %u",
		     target_at(w->rt, c->group, c->target)->addr_text, g->name,
		     nlb_tls_fail_name((enum nlb_tls_fail)x->fail), c->attempts,
		     g->connect_retries + 1);
	pick_live_result(w->rt, w->id, c->group, c->target, false);
	x->retry = 1;
	tcp_conn_move(w, c, CONN_CONNECTING);
	if (x->target_ops) {
		worker_cancel_fd(w, c->tfd);
		return;
	}
	tls_target_retry(w, c);
}

/* A request on the target's socket completed while a retry waits. */
static void tls_target_op_done(struct worker *w, struct conn *c)
{
	if (c->tls->target_ops == 0)
		tls_target_retry(w, c);
}

void tls_start_target(struct worker *w, struct conn *c, struct nlb_tls_client *client)
{
	struct conn_tls *x = c->tls;
	if (!x && !(x = c->tls = tls_conn_new())) {
		STAT_INC(wstats(w, c->listener), nomem);
		tcp_conn_close(w, c, true);
		return;
	}
	const struct sockaddr_storage *ss = &target_at(w->rt, c->group, c->target)->addr.ss;
	char ip[INET6_ADDRSTRLEN] = "";
	nlb_addr_host((const struct sockaddr *)ss, ip, sizeof(ip));
	SSL *ssl = nlb_tls_client_ssl(client, ip);
	if (!ssl || tls_attach(x, END_TARGET, ssl) < 0) {
		STAT_INC(wstats(w, c->listener), nomem);
		tcp_conn_close(w, c, true);
		return;
	}
	tcp_conn_move(w, c, CONN_TARGET_HS);
	if (tls_handshake(x, END_TARGET) < 0) {
		tls_target_failed(w, c);
		return;
	}
	tls_flush(w, c, END_TARGET);
	if (c->state == CONN_TARGET_HS)
		tcp_arm_recv(w, c, DIR_T2C);
}

/* dir's source is done (FIN or close_notify): once all it sent is out,
 * close_notify to a TLS destination, then FIN. */
static void tls_maybe_shutdown(struct worker *w, struct conn *c, int dir)
{
	struct half *h = &c->half[dir];
	int end = tls_dst_end(dir);
	if (c->state != CONN_OPEN || !(h->flags & HALF_EOF) ||
	    (h->flags & (HALF_SHUT | HALF_SEND | HALF_POLL_OUT)) || tls_pending(c->tls, end))
		return;
	if (tls_notify(c->tls, end)) {
		tls_flush(w, c, end);
		return;
	}
	tcp_half_shutdown(w, c, dir);
}

/* Receives on dir again where its state reads that end and what the
 * other end is owed has drained below the low water mark. */
void tls_maybe_rearm(struct worker *w, struct conn *c, int dir)
{
	struct half *h = &c->half[dir];
	struct conn_tls *x = c->tls;
	int src = tls_src_end(dir);
	if ((h->flags & (HALF_RECV | HALF_EOF | HALF_STARVED)) || x->close_when_sent ||
	    (src == END_TARGET && x->retry))
		return;
	bool reads = c->state == CONN_OPEN || (c->state == CONN_HANDSHAKE && src == END_CLIENT) ||
		     (c->state == CONN_TARGET_HS && src == END_TARGET);
	if (reads && tls_pending(x, tls_dst_end(dir)) < NLB_DIR_LOW_WATER)
		tcp_arm_recv(w, c, dir);
}

/* In the open state: what end's TLS holds goes to the other end. */
static void tls_forward(struct worker *w, struct conn *c, int end)
{
	struct conn_tls *x = c->tls;
	int dir = end == END_CLIENT ? DIR_C2T : DIR_T2C;
	int r = 0;
	if (x->end[end].ssl) {
		uint64_t moved = 0;
		r = tls_read(x, end, &moved);
		if (moved) {
			count_bytes(w, c, dir, moved);
			note_target_spoke(w, c, dir);
			conn_touch(w, c);
		}
		/* What end's TLS answered (a key update, an alert) */
		tls_flush(w, c, end);
	}
	tls_flush(w, c, !end);
	if (c->state != CONN_OPEN)
		return;
	if (r < 0) {
		if (end == END_CLIENT)
			worker_count_tls_fail(w, c->listener, (enum nlb_tls_fail)x->fail);
		else
			STAT_INC(wstats(w, c->listener), target_reset);
		tcp_conn_close(w, c, true);
		return;
	}
	if (r == 1) {
		c->half[dir].flags |= HALF_EOF;
		tls_maybe_shutdown(w, c, dir);
		return;
	}
	if (tls_pending(x, !end) >= NLB_DIR_HIGH_WATER)
		tcp_cancel_recv(w, c, dir);
}

void tls_start_forwarding(struct worker *w, struct conn *c)
{
	tcp_conn_move(w, c, CONN_OPEN);
	w->active_now++;
	for (int dir = 0; dir < 2; dir++)
		tls_maybe_rearm(w, c, dir);
	/* What came while the other end was being set up. */
	for (int end = 0; end < 2 && c->state == CONN_OPEN; end++)
		if (c->tls->end[end].ssl)
			tls_forward(w, c, end);
	for (int dir = 0; dir < 2 && c->state == CONN_OPEN; dir++)
		tls_maybe_shutdown(w, c, dir);
}

/* What bytes from end allow, by state. */
static void tls_after_input(struct worker *w, struct conn *c, int end)
{
	struct conn_tls *x = c->tls;
	int r;
	switch (c->state) {
	case CONN_HANDSHAKE:
	case CONN_TARGET_HS: {
		/* The end in its handshake; the other end's bytes wait. */
		int state = c->state, hs = state == CONN_HANDSHAKE ? END_CLIENT : END_TARGET;
		if (end != hs)
			break;
		if ((r = tls_handshake(x, hs)) < 0) {
			if (hs == END_CLIENT)
				tls_client_failed(w, c);
			else
				tls_target_failed(w, c);
			return;
		}
		tls_flush(w, c, hs);
		if (r == 1 && c->state == state) {
			if (hs == END_CLIENT)
				tls_client_done(w, c);
			else
				tls_start_forwarding(w, c);
		}
		worker_submit_now(w);
		return;
	}
	case CONN_OPEN:
		tls_forward(w, c, end);
		return;
	default:
		break;
	}
	/* The client's bytes wait for a target: bounded like a queue. */
	if (nlb_tls_end_fed(&x->end[end]) >= NLB_DIR_HIGH_WATER)
		tcp_cancel_recv(w, c, end == END_CLIENT ? DIR_C2T : DIR_T2C);
}

/* A receive's buffers, fed to the TLS layer and given back; -ENOMEM
 * when one could not be. */
static int tls_take(struct worker *w, struct conn *c, int end, uint16_t bid, uint32_t len)
{
	int ret = 0;
	do {
		uint32_t n = len < NLB_BUF_SIZE ? len : NLB_BUF_SIZE;
		uint16_t next = len > NLB_BUF_SIZE ? (uint16_t)nlb_bufring_next(&w->tcp.bufs, bid) :
						     NO_BUF;
		if (ret == 0)
			ret = tls_input(c->tls, end, nlb_bufring_addr(&w->tcp.bufs, bid), n);
		tcp_buf_recycle(&w->tcp, bid);
		len -= n;
		bid = next;
	} while (len);
	return ret;
}

void tls_on_recv(struct worker *w, struct conn *c, int dir, const struct io_uring_cqe *cqe)
{
	struct half *h = &c->half[dir];
	struct conn_tls *x = c->tls;
	int res = cqe->res, end = tls_src_end(dir);
	bool more = cqe->flags & IORING_CQE_F_MORE;
	if (!more) {
		h->flags &= (uint16_t)~(HALF_RECV | HALF_RECV_CANCEL);
		c->inflight--;
		if (end == END_TARGET)
			x->target_ops--;
	}
	bool dropped = c->state == CONN_CLOSING || x->close_when_sent ||
		       (end == END_TARGET && x->retry);
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		uint16_t bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		uint32_t len = res > 0 ? (uint32_t)res : 0;
		if (dropped || res <= 0) {
			tcp_take_received(&w->tcp, NULL, bid, len);
		} else if (tls_take(w, c, end, bid, len) < 0) {
			STAT_INC(wstats(w, c->listener), nomem);
			tcp_conn_close(w, c, true);
		} else if (!x->end[end].ssl) {
			/* Plaintext from a plain end: payload as it came. */
			count_bytes(w, c, dir, len);
			note_target_spoke(w, c, dir);
			conn_touch(w, c);
		}
	}
	if (c->state == CONN_CLOSING) {
		tcp_conn_maybe_finalize(w, c);
		return;
	}
	if (end == END_TARGET && x->retry) {
		tls_target_op_done(w, c);
		return;
	}
	if (x->close_when_sent)
		return;
	if (res > 0) {
		tls_after_input(w, c, end);
		if (!more && c->state != CONN_CLOSING)
			tls_maybe_rearm(w, c, dir);
		return;
	}
	if (res == -ENOBUFS) {
		tcp_half_starve(w, c, dir);
		return;
	}
	if (res == -ECANCELED) {
		tls_maybe_rearm(w, c, dir);
		return;
	}
	/* The end closed (0) or reset. */
	if (c->state == CONN_HANDSHAKE) {
		x->fail = NLB_TLS_FAIL_EOF;
		tls_client_failed(w, c);
		return;
	}
	if (c->state == CONN_TARGET_HS && end == END_TARGET) {
		x->fail = NLB_TLS_FAIL_EOF;
		tls_target_failed(w, c);
		return;
	}
	if (res < 0) {
		tcp_count_reset(w, c, dir, true);
		tcp_conn_close(w, c, true);
		return;
	}
	h->flags |= HALF_EOF;
	tls_maybe_shutdown(w, c, dir);
}

/* A send or poll on end's socket completed: true when that is all there
 * is to it (c closing, or its target being replaced). */
static bool tls_op_ended(struct worker *w, struct conn *c, int end)
{
	struct conn_tls *x = c->tls;
	if (end == END_TARGET)
		x->target_ops--;
	if (c->state == CONN_CLOSING) {
		tcp_conn_maybe_finalize(w, c);
		return true;
	}
	if (end == END_TARGET && x->retry) {
		tls_target_op_done(w, c);
		return true;
	}
	return false;
}

void tls_on_send(struct worker *w, struct conn *c, int dir, int res)
{
	struct half *h = &c->half[dir];
	struct conn_tls *x = c->tls;
	int end = tls_dst_end(dir);
	c->inflight--;
	h->flags &= (uint16_t)~HALF_SEND;
	if (tls_op_ended(w, c, end))
		return;
	if (res == -EAGAIN) {
		tcp_arm_poll(w, c, dir, true);
		return;
	}
	if (res < 0) {
		if (c->state == CONN_TARGET_HS && end == END_TARGET) {
			x->fail = NLB_TLS_FAIL_EOF;
			tls_target_failed(w, c);
		} else if (c->state == CONN_HANDSHAKE && !x->close_when_sent) {
			x->fail = NLB_TLS_FAIL_EOF;
			tls_client_failed(w, c);
		} else {
			if (!x->close_when_sent)
				tcp_count_reset(w, c, dir, false);
			tcp_conn_close(w, c, true);
		}
		return;
	}
	nlb_tls_end_sent(&x->end[end], &w->tls_pool, (uint32_t)res);
	if (x->close_when_sent && tls_pending(x, END_CLIENT) == 0) {
		tcp_conn_close(w, c, false);
		return;
	}
	tls_flush(w, c, end);
	if (c->state != CONN_OPEN)
		return;
	tls_maybe_shutdown(w, c, dir);
	if (c->state == CONN_OPEN)
		tls_maybe_rearm(w, c, dir);
}

void tls_on_poll_out(struct worker *w, struct conn *c, int dir)
{
	if (!tls_op_ended(w, c, tls_dst_end(dir)))
		tls_flush(w, c, tls_dst_end(dir));
}

/* Handshakes past their time: a client's is reset, a target's counts as
 * a connect timeout and another target is tried. */
void tls_tick(struct worker *w, struct tcp_listener *tl)
{
	struct conn *c;
	while ((c = nlb_idle_oldest(&w->tcp.conns, &tl->hs))) {
		const struct nlb_listener_conf *lc = w->rt->listeners[c->listener].conf;
		if (c->last_active_ms + lc->tls.handshake_timeout_ms > w->now_ms)
			break;
		if (c->tls->close_when_sent) {	/* failed, counted: its alert is stuck */
			tcp_conn_close(w, c, true);
			continue;
		}
		c->tls->fail = NLB_TLS_FAIL_TIMEOUT;
		tls_client_failed(w, c);
	}
	while ((c = nlb_idle_oldest(&w->tcp.conns, &tl->target_hs))) {
		const struct nlb_group_conf *g = w->rt->groups[c->group].conf;
		if (c->last_active_ms + g->connect_timeout_ms > w->now_ms)
			break;
		c->tls->fail = NLB_TLS_FAIL_TIMEOUT;
		tls_target_failed(w, c);
	}
}
