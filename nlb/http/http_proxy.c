/* An http listener's client connections: each request head is read and
 * checked (lib/http1_head.c), its target picked by the group's
 * algorithm, and the request forwarded on a pooled or new connection
 * (http_target.c) with its body streamed as it comes; the response
 * comes back the same way (http_response.c).
 * One request at a time per client: pipelined ones wait in the buffer
 * and are served in order.  Where nlb cannot forward it answers itself
 * (lib/http1_answer.c) as the ALB does: 400/431/501/505 for bad
 * requests, 408 for a slow head, 502 for a target that refused, reset
 * or answered malformed, 503 without a target, 504 without a connection
 * or a response head in time. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "http1_answer.h"
#include "http1_forward.h"
#include "log.h"
#include "proxyproto.h"
#include "tunables.h"
#include "srclimit.h"
#include "tuple_hash.h"
#include "balance/pick.h"
#include "balance/target_set.h"
#include "http/http_steps.h"
#include "stream/admission.h"

struct http_client *http_client_of(struct worker *w, const struct io_uring_cqe *cqe)
{
	uint64_t ud = cqe->user_data;
	uint32_t idx = ud_idx(ud);
	struct http_client *c = idx < w->http.clients.n_slots ? http_client_at(w, idx) : NULL;
	if (c && c->slot.gen == ud_gen(ud) && c->state != HC_FREE)
		return c;
	worker_stale(w, cqe);
	return NULL;
}

/* ---- timers ------------------------------------------------------------- */

void http_client_timer(struct worker *w, struct http_client *c, enum http_timer t,
		       uint64_t deadline_ms)
{
	struct http_listener *hl = &w->listeners[c->listener].http;
	if (c->timer != HT_NONE)
		nlb_idle_remove(&w->http.clients, &hl->timers[c->timer], &c->slot);
	c->timer = (uint8_t)t;
	c->deadline_ms = deadline_ms;
	if (t != HT_NONE)
		nlb_idle_append(&w->http.clients, &hl->timers[t], &c->slot);
}

/* Bytes moved: the idle timeout starts again (coarse clock: most
 * completions in a burst see the same millisecond and skip the list). */
void http_touch(struct worker *w, struct http_client *c)
{
	if (c->timer != HT_IDLE || c->deadline_ms == w->now_ms + http_listener_conf(w, c)->idle_timeout_ms)
		return;
	http_client_timer(w, c, HT_IDLE, w->now_ms + http_listener_conf(w, c)->idle_timeout_ms);
}

/* ---- closing ------------------------------------------------------------ */

static void client_free(struct worker *w, struct http_client *c)
{
	const struct listener_rt *lr = &w->rt->listeners[c->listener];
	if (c->reset)
		worker_set_linger0(c->fd);
	worker_ring_close(w, c->fd);
	admission_release(w, c->listener, c->src_slot);
	if (lr->conf->max_connections)
		atomic_fetch_sub_explicit(&((struct listener_rt *)lr)->active, 1,
					  memory_order_relaxed);
	STAT_DEC(wstats(w, c->listener), active);
	STAT_INC(wstats(w, c->listener), closed);
	http_tls_free(w, c);
	free(c->in.p);
	free(c->out);
	free(c->head);
	free(c->log);
	c->state = HC_FREE;
	nlb_slot_free(&w->http.clients, c);
}

void http_client_maybe_free(struct worker *w, struct http_client *c)
{
	if (c->state == HC_CLOSING && c->inflight == 0)
		client_free(w, c);
}

/* The request no longer counts in its target's outstanding ones. */
static void uncount(struct worker *w, struct http_client *c)
{
	if (c->counted) {
		pick_conn_add(w->rt, w->id, c->group, c->target, -1);
		c->counted = 0;
	}
}

/* Lets go of c's target connection: pooled when reusable. */
void http_drop_upstream(struct worker *w, struct http_client *c, bool reusable)
{
	struct http_target *u = http_upstream_of(w, c);
	c->upstream = HTTP_NO_IDX;
	uncount(w, c);
	if (u)
		http_target_release(w, u, reusable);
}

void http_client_close(struct worker *w, struct http_client *c, bool reset)
{
	if (c->state == HC_CLOSING || c->state == HC_FREE)
		return;
	if (c->log_pending && !c->reason) {
		/* The ALB's 460: the client went before its answer did. */
		c->reason = "client_gone";
		if (!c->elb_status && !c->head_sent)
			c->elb_status = 460;
	}
	http_log_line(w, c);
	http_drop_upstream(w, c, false);
	http_client_timer(w, c, HT_NONE, 0);
	c->state = HC_CLOSING;
	c->reset = reset;
	if (c->tls)
		http_tls_closing(c);
	if (c->inflight)
		worker_cancel_fd(w, c->fd);
	http_client_maybe_free(w, c);
}

/* After the last answer: FIN, then whatever the client still sends is
 * read and dropped until its FIN or NLB_HTTP_LINGER_MS. */
void http_client_linger(struct worker *w, struct http_client *c)
{
	http_drop_upstream(w, c, false);
	if (c->tls)
		http_tls_linger(w, c);
	else
		shutdown(c->fd, SHUT_WR);
	c->state = HC_LINGER;
	c->in.len = c->in.off = 0;
	http_client_timer(w, c, HT_LINGER, w->now_ms + NLB_HTTP_LINGER_MS);
	http_client_recv(w, c);
}

/* ---- sending and receiving ---------------------------------------------- */

void http_client_recv(struct worker *w, struct http_client *c)
{
	if (c->recv_armed || c->in.len >= c->in.cap)
		return;
	if (c->tls && !c->pp_pending) {
		http_tls_recv(w, c);
		return;
	}
	struct io_uring_sqe *sqe = nlb_ring_sqe(&w->ring);
	io_uring_prep_recv(sqe, c->fd, c->in.p + c->in.len, c->in.cap - c->in.len, 0);
	io_uring_sqe_set_data64(sqe, http_client_ud(c, HTTP_OP_CLIENT_RECV));
	c->recv_armed = 1;
	c->inflight++;
}

/* Sends a, then b, to fd; one send per socket at a time. */
void http_send2(struct worker *w, int fd, struct msghdr *msg, struct iovec *iov, const char *a,
		  size_t alen, const char *b, size_t blen, uint64_t ud)
{
	int n = 0;
	if (alen)
		iov[n++] = (struct iovec){ (void *)a, alen };
	if (blen)
		iov[n++] = (struct iovec){ (void *)b, blen };
	memset(msg, 0, sizeof(*msg));
	msg->msg_iov = iov;
	msg->msg_iovlen = (size_t)n;
	struct io_uring_sqe *sqe = nlb_ring_sqe(&w->ring);
	io_uring_prep_sendmsg(sqe, fd, msg, MSG_NOSIGNAL | MSG_WAITALL);
	io_uring_sqe_set_data64(sqe, ud);
}

void http_client_send(struct worker *w, struct http_client *c, const char *a, size_t alen,
		      const char *b, size_t blen)
{
	if (c->tls) {
		http_tls_send(w, c, a, alen, b, blen);
		return;
	}
	http_send2(w, c->fd, &c->msg, c->iov, a, alen, b, blen,
		   http_client_ud(c, HTTP_OP_CLIENT_SEND));
	c->send_armed = 1;
	c->inflight++;
}

void http_target_recv(struct worker *w, struct http_target *u)
{
	if (u->recv_armed || u->in.len >= u->in.cap)
		return;
	if (u->tls) {
		http_tls_target_recv(w, u);
		return;
	}
	struct io_uring_sqe *sqe = nlb_ring_sqe(&w->ring);
	io_uring_prep_recv(sqe, u->fd, u->in.p + u->in.len, u->in.cap - u->in.len, 0);
	io_uring_sqe_set_data64(sqe, http_target_ud(u, HTTP_OP_TARGET_RECV));
	u->recv_armed = 1;
	u->inflight++;
}

/* ---- nlb's own answers -------------------------------------------------- */

static void count_answer(struct worker *w, const struct http_client *c, int status)
{
	struct worker_stats *st = wstats(w, c->listener);
	switch (status) {
	case 400: STAT_INC(st, http_elb_400); break;
	case 405: STAT_INC(st, http_elb_405); break;
	case 408: STAT_INC(st, http_elb_408); break;
	case 413: STAT_INC(st, http_elb_413); break;
	case 417: STAT_INC(st, http_elb_417); break;
	case 431: STAT_INC(st, http_elb_431); break;
	case 501: STAT_INC(st, http_elb_501); break;
	case 502: STAT_INC(st, http_elb_502); break;
	case 503: STAT_INC(st, http_elb_503); break;
	case 504: STAT_INC(st, http_elb_504); break;
	case 505: STAT_INC(st, http_elb_505); break;
	case 500: STAT_INC(st, http_elb_500); break;
	}
}

int http_ensure_out(struct http_client *c)
{
	if (!c->out && !(c->out = malloc(NLB_HTTP_BUF_SIZE + 512)))
		return -ENOMEM;
	return 0;
}

/* What every answer of nlb's does first: counted, any target connection
 * let go (not pooled: its state is unknown), and closing decided: with
 * close, or when the request's body was not read.  False when nothing
 * can be said any more (part of a response is out): c is closed. */
static bool answer_begin(struct worker *w, struct http_client *c, int status, bool close)
{
	c->elb_status = (uint16_t)status;
	http_drop_upstream(w, c, false);
	if (c->req_body != NLB_HTTP1_BODY_NONE && !c->req_done)
		close = true;	/* the rest of its body would read as a request */
	c->close_after |= close || w->stopping;
	if (c->head_sent || http_ensure_out(c) < 0) {
		http_client_close(w, c, true);
		return false;
	}
	return true;
}

static void answer_send(struct worker *w, struct http_client *c, int n)
{
	c->state = HC_ANSWER;
	c->out_len = (uint32_t)n;
	c->out_sent = 0;
	c->head_sent = 1;
	http_client_timer(w, c, HT_IDLE, w->now_ms + http_listener_conf(w, c)->idle_timeout_ms);
	http_client_send(w, c, c->out, c->out_len, NULL, 0);
}

void http_answer(struct worker *w, struct http_client *c, int status, bool close)
{
	count_answer(w, c, status);
	if (!answer_begin(w, c, status, close))
		return;
	answer_send(w, c, nlb_http1_answer(status, c->close_after, c->method == NLB_HTTP1_M_HEAD,
					   c->out, NLB_HTTP_BUF_SIZE + 512));
}

void http_answer_rule(struct worker *w, struct http_client *c, int status, const char *fields,
		      const char *content_type, const char *body, size_t body_len)
{
	if (!answer_begin(w, c, status, false))
		return;
	int n = nlb_http1_answer_with(status, c->close_after, c->method == NLB_HTTP1_M_HEAD,
				      fields, content_type, body, body_len, c->out,
				      NLB_HTTP_BUF_SIZE + 512);
	if (n < 0) {
		c->head_sent = 0;
		http_answer(w, c, 500, false);
		return;
	}
	answer_send(w, c, n);
}

/* ---- the request -------------------------------------------------------- */

/* How much of [off, len) of buf belongs to a body of this kind, *done
 * set when the body ends within it; -EINVAL when a chunked body breaks
 * the grammar. */
int64_t http_body_take(uint8_t kind, uint64_t *left, struct nlb_http1_chunked *chunks,
			 const char *p, uint32_t avail, uint8_t *done)
{
	switch ((enum nlb_http1_body)kind) {
	case NLB_HTTP1_BODY_NONE:
		*done = 1;
		return 0;
	case NLB_HTTP1_BODY_LENGTH: {
		uint64_t take = *left < avail ? *left : avail;
		*left -= take;
		*done = *left == 0;
		return (int64_t)take;
	}
	case NLB_HTTP1_BODY_CHUNKED: {
		ssize_t r = nlb_http1_chunked_scan(chunks, p, avail);
		if (r < 0)
			return -EINVAL;
		*done = chunks->done;
		return r;
	}
	case NLB_HTTP1_BODY_UNTIL_CLOSE:
	case NLB_HTTP1_BODY_TUNNEL:
		*done = 0;
		return avail;
	}
	return 0;
}

/* Sends what the target has not had of the request: the rest of the
 * head, then the body bytes the client buffer holds. */
void http_request_send(struct worker *w, struct http_client *c, struct http_target *u)
{
	if (u->send_armed || u->state != HU_BUSY)
		return;
	uint32_t avail = c->in.len - c->in.off;
	uint8_t done = c->req_done;
	int64_t take = 0;
	if (!c->req_done && avail) {
		take = http_body_take(c->req_body, &c->req_left, &c->req_chunks, c->in.p + c->in.off,
				 avail, &done);
		if (take < 0) {
			STAT_INC(wstats(w, c->listener), http_elb_400);
			http_client_close(w, c, true);	/* a bad chunk: the target has half a request */
			return;
		}
	} else if (!c->req_done && c->req_body == NLB_HTTP1_BODY_NONE) {
		done = 1;
	}
	uint64_t max = http_listener_conf(w, c)->http.max_body_bytes;
	if (max && c->req_body == NLB_HTTP1_BODY_CHUNKED && c->req_chunks.data_bytes > max) {
		/* Found on the way: the target has part of it and is let go. */
		c->reason = "body_too_large";
		http_answer(w, c, 413, true);
		return;
	}
	c->req_done = done;
	c->in.pending = (uint32_t)take;
	c->req_bytes += (uint64_t)take;
	uint32_t head_left = u->out_len - u->out_sent;
	if (!head_left && !take) {
		if (!c->req_done)
			http_client_recv(w, c);
		return;
	}
	if (u->tls) {
		http_tls_target_send(w, u, u->out + u->out_sent, head_left, c->in.p + c->in.off,
				     (size_t)take);
		return;
	}
	http_send2(w, u->fd, &u->msg, u->iov, u->out + u->out_sent, head_left, c->in.p + c->in.off,
	      (size_t)take, http_target_ud(u, HTTP_OP_TARGET_SEND));
	u->send_armed = 1;
	u->inflight++;
}

/* What pick_target needs per algorithm: maglev places a client by its
 * address and port, so a connection's requests keep their target. */
static int pick(struct worker *w, struct http_client *c)
{
	return pick_target(w->rt, &w->pick, c->group, c->hash, c->attempts, c->tried);
}

/* Sends the request to a target: picked, then a pooled or new connection. */
static void exchange_connect(struct worker *w, struct http_client *c)
{
	int t = pick(w, c);
	if (t < 0) {
		if (c->attempts == 0 && pick_fail_closed(w->rt, c->group))
			STAT_INC(wstats(w, c->listener), no_healthy);
		else
			STAT_INC(wstats(w, c->listener), no_target);
		c->reason = c->attempts ? "no_target_left" : pick_fail_closed(w->rt, c->group) ?
			    "no_healthy_target" : "no_target";
		http_answer(w, c, c->attempts ? 502 : 503, false);
		return;
	}
	c->target = (uint32_t)t;
	if (t < 64)
		c->tried |= 1ull << t;
	c->attempts++;
	pick_conn_add(w->rt, w->id, c->group, c->target, 1);
	c->counted = 1;
	bool reused;
	struct http_target *u = http_target_get(w, c, c->group, c->target, false, &reused);
	if (!u) {
		STAT_INC(wstats(w, c->listener), nomem);
		c->reason = "no_memory";
		http_answer(w, c, 503, true);
		return;
	}
	/* The forwarded head: built once, kept until the response starts
	 * so a request that a pooled connection failed can go again. */
	const struct nlb_listener_conf *lc = http_listener_conf(w, c);
	if (!u->out && !(u->out = malloc(lc->http.max_header_bytes + 512u))) {
		http_answer(w, c, 503, true);
		return;
	}
	struct nlb_http1_origin o = { lc->http.xff, c->addr, c->tls ? "https" : "http",
				      (uint16_t)nlb_addr_port((const struct sockaddr *)&lc->addr.ss) };
	int n = nlb_http1_forward_request(c->head, c->in.p, &o, u->out,
					  lc->http.max_header_bytes + 512u);
	if (n < 0) {
		c->reason = "head_too_large";
		http_answer(w, c, 431, true);
		return;
	}
	u->out_len = (uint32_t)n;
	u->out_sent = 0;
	if (reused) {
		STAT_INC(wstats(w, c->listener), http_target_reused);
		http_exchange_connected(w, c, u);
	}
}

void http_exchange_connected(struct worker *w, struct http_client *c, struct http_target *u)
{
	if (target_state(w->rt, c->group, c->target) == TARGET_DRAIN_CLOSING) {
		STAT_INC(wstats(w, c->listener), drain_reset);
		c->reason = "drain_reset";
		http_client_close(w, c, true);
		return;
	}
	http_request_send(w, c, u);
	/* A request refused on its way (a bad chunk) closed c and let u go. */
	if (c->state != HC_CLOSING && c->state != HC_FREE && u->state == HU_BUSY)
		http_target_recv(w, u);
}

void http_exchange_connect_failed(struct worker *w, struct http_client *c, int res)
{
	const struct nlb_group_conf *g = w->rt->groups[c->group].conf;
	uncount(w, c);
	bool timeout = res == -ECANCELED || res == -ETIME;
	bool tls = res == -EPROTO;	/* its TLS handshake failed */
	if (timeout)
		STAT_INC(wstats(w, c->listener), connect_timeout);
	else if (res == -ECONNREFUSED)
		STAT_INC(wstats(w, c->listener), connect_refused);
	else if (tls)
		STAT_INC(wstats(w, c->listener), connect_tls);
	else
		STAT_INC(wstats(w, c->listener), connect_error);
	if (pick_connect_failure_is_target(res))
		pick_live_result(w->rt, w->id, c->group, c->target, false);
	nlb_debug_rl("http target %s in group %s: connect failed (%s), attempt %u of %u",
		     target_at(w->rt, c->group, c->target)->addr_text, g->name,
		     timeout ? "timeout" : tls ? "TLS handshake" : strerror(-res), c->attempts,
		     g->connect_retries + 1);
	if (c->attempts <= g->connect_retries) {
		exchange_connect(w, c);
		return;
	}
	c->reason = timeout ? "connect_timeout" : res == -ECONNREFUSED ? "connect_refused" :
		    tls ? "target_tls_failed" : "connect_error";
	http_answer(w, c, timeout ? 504 : 502, false);
}

/* A whole request head is in c->in: checked, then sent on. */
static void request_start(struct worker *w, struct http_client *c, int head_len)
{
	struct nlb_http1_head *h = c->head;
	STAT_INC(wstats(w, c->listener), http_requests);
	http_log_request(w, c, h, c->in.p);
	c->req_bytes = (uint64_t)head_len;
	c->method = (uint8_t)h->method;
	c->minor = h->minor;
	c->req_body = (uint8_t)nlb_http1_head_body(h, NLB_HTTP1_M_OTHER);
	c->req_left = h->content_length;
	c->req_done = 0;
	c->resp_done = 0;
	c->head_sent = 0;
	c->attempts = 0;
	c->tried = 0;
	if (c->req_body == NLB_HTTP1_BODY_CHUNKED)
		nlb_http1_chunked_init(&c->req_chunks, 0, http_listener_conf(w, c)->http.max_header_bytes);
	/* HTTP/1.0 closes unless asked not to; 1.1 stays unless asked to. */
	c->close_after = h->minor == 0 ? !(h->flags & NLB_HTTP1_F_CONN_KEEP_ALIVE) :
			 !!(h->flags & NLB_HTTP1_F_CONN_CLOSE);
	c->in.off = (uint32_t)head_len;
	c->state = HC_EXCHANGE;
	http_client_timer(w, c, HT_IDLE, w->now_ms + http_listener_conf(w, c)->idle_timeout_ms);
	if (h->method == NLB_HTTP1_M_CONNECT) {
		c->reason = "connect_method";
		http_answer(w, c, 405, true);
		return;
	}
	uint64_t max = http_listener_conf(w, c)->http.max_body_bytes;
	if (max && c->req_body == NLB_HTTP1_BODY_LENGTH && h->content_length > max) {
		c->reason = "body_too_large";
		http_answer(w, c, 413, true);	/* before any of it reaches a target */
		return;
	}
	if (http_route(w, c))
		exchange_connect(w, c);
}

/* The client is ss (its socket's peer, or its PROXY header's source):
 * its address for X-Forwarded-For (no port, no brackets) and the log,
 * maglev's hash, then the allow and deny lists and per-source limits.
 * -EACCES when refused: c is closed. */
static int client_admit(struct worker *w, struct http_client *c,
			const struct sockaddr_storage *ss)
{
	const struct nlb_listener_conf *lc = http_listener_conf(w, c);
	nlb_addr_host((const struct sockaddr *)ss, c->addr, sizeof(c->addr));
	c->port = (uint16_t)nlb_addr_port((const struct sockaddr *)ss);
	memset(&c->src, 0, sizeof(c->src));
	memcpy(&c->src, ss, ss->ss_family == AF_INET6 ? sizeof(c->src.in6) : sizeof(c->src.in));
	struct nlb_tuple t;
	c->hash = nlb_tuple_from_sockaddr(&t, (const struct sockaddr *)ss,
					  (const struct sockaddr *)&lc->addr.ss, IPPROTO_TCP) == 0
		? nlb_tuple_hash(&t, w->rt->groups[c->group].conf->hash_seed, NLB_HASH_5TUPLE)
		: 0;
	if ((lc->allow || lc->deny || w->listeners[c->listener].srclimit.entries) &&
	    admission_check(w, c->listener, (const struct sockaddr *)ss, false, &c->src_slot) != 0) {
		http_client_close(w, c, true);
		return -EACCES;
	}
	return 0;
}

/* The timer of a client admitted: its handshake's on https, else its
 * first request's. */
static void first_timer(struct worker *w, struct http_client *c)
{
	const struct nlb_listener_conf *lc = http_listener_conf(w, c);
	if (c->tls)
		http_client_timer(w, c, HT_HANDSHAKE, w->now_ms + lc->tls.handshake_timeout_ms);
	else
		http_client_timer(w, c, HT_REQUEST, w->now_ms + lc->http.request_timeout_ms);
}

/* accept_proxy_protocol: the header before the first request.  0 once
 * it is in and taken off the buffer, -EAGAIN for more bytes, or -EINVAL
 * with c closed (a bad header, or a client refused by its address). */
static int proxy_header(struct worker *w, struct http_client *c)
{
	struct nlb_proxyproto pp;
	int r = nlb_proxyproto_parse((const uint8_t *)c->in.p, c->in.len, &pp);
	if (r == -EAGAIN && c->in.len < NLB_PROXYPROTO_V2_MAX)
		return -EAGAIN;
	if (r < 0) {
		STAT_INC(wstats(w, c->listener), proxy_header_invalid);
		http_client_close(w, c, true);
		return -EINVAL;
	}
	c->pp_pending = 0;
	memmove(c->in.p, c->in.p + r, c->in.len - (uint32_t)r);
	c->in.len -= (uint32_t)r;
	if (c->tls) {
		/* What followed the header is the ClientHello's. */
		if (http_tls_feed(c, c->in.p, c->in.len) < 0) {
			STAT_INC(wstats(w, c->listener), nomem);
			http_client_close(w, c, true);
			return -EINVAL;
		}
		c->in.len = 0;
	}
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (pp.has_addr)
		ss = pp.src;
	else if (getpeername(c->fd, (struct sockaddr *)&ss, &len) < 0)
		ss.ss_family = AF_UNSPEC;
	if (client_admit(w, c, &ss) < 0)
		return -EINVAL;
	first_timer(w, c);
	return 0;
}

/* More of a request head: parsed on from where it stopped. */
static void head_parse(struct worker *w, struct http_client *c)
{
	const struct nlb_listener_conf *lc = http_listener_conf(w, c);
	if (c->pp_pending) {
		int r = proxy_header(w, c);
		if (r == -EAGAIN)
			http_client_recv(w, c);
		if (r < 0 || c->in.len == 0) {
			if (r == 0)
				http_client_recv(w, c);
			return;
		}
	}
	if (c->timer != HT_REQUEST)
		http_client_timer(w, c, HT_REQUEST, w->now_ms + lc->http.request_timeout_ms);
	int r = nlb_http1_head_parse(c->head, c->in.p, c->in.len);
	if (r == -EAGAIN) {
		http_client_recv(w, c);
		return;
	}
	if (r < 0) {
		nlb_debug_rl("listener %s: request refused (%s)", lc->name,
			     nlb_http1_error_name(c->head->error));
		c->req_body = NLB_HTTP1_BODY_NONE;
		c->method = NLB_HTTP1_M_OTHER;
		c->head_sent = 0;
		http_log_request(w, c, NULL, NULL);
		c->reason = nlb_http1_error_name(c->head->error);
		c->req_bytes = c->in.len;
		http_answer(w, c, nlb_http1_error_status(c->head->error), true);
		return;
	}
	request_start(w, c, r);
}

/* Ready for the next request: what was pipelined moves to the front. */
void http_next_request(struct worker *w, struct http_client *c)
{
	const struct nlb_listener_conf *lc = http_listener_conf(w, c);
	uint32_t rest = c->in.len - c->in.off;
	memmove(c->in.p, c->in.p + c->in.off, rest);
	c->in.len = rest;
	c->in.off = c->in.pending = 0;
	c->state = HC_HEAD;
	c->head_sent = c->req_done = c->resp_done = 0;
	nlb_http1_head_init(c->head, NLB_HTTP1_REQUEST, 0, lc->http.max_header_bytes);
	if (rest) {
		head_parse(w, c);
		return;
	}
	http_client_timer(w, c, HT_KEEPALIVE, w->now_ms + lc->http.keepalive_timeout_ms);
	http_client_recv(w, c);
}

/* The request and its response are both through. */
void http_exchange_end(struct worker *w, struct http_client *c)
{
	struct http_target *u = http_upstream_of(w, c);
	bool reusable = u && u->reusable && u->in.off == u->in.len;
	http_log_line(w, c);
	http_drop_upstream(w, c, reusable);
	if (c->close_after || w->stopping) {
		http_client_linger(w, c);
		return;
	}
	http_next_request(w, c);
}

/* ---- completions -------------------------------------------------------- */

/* The client closed or failed (res <= 0). */
void http_client_ended(struct worker *w, struct http_client *c, int res)
{
	if (res < 0 && res != -ECANCELED)
		STAT_INC(wstats(w, c->listener), client_reset);
	if (c->state == HC_LINGER || (c->state == HC_HEAD && c->in.len == 0)) {
		http_client_close(w, c, false);
		return;
	}
	if (c->state == HC_EXCHANGE || c->state == HC_TUNNEL)
		STAT_INC(wstats(w, c->listener), http_client_gone);
	http_client_close(w, c, res < 0);
}

void http_on_client_recv(struct worker *w, const struct io_uring_cqe *cqe)
{
	struct http_client *c = http_client_of(w, cqe);
	if (!c)
		return;
	c->inflight--;
	c->recv_armed = 0;
	if (c->state == HC_CLOSING) {
		http_client_maybe_free(w, c);
		return;
	}
	if (cqe->res <= 0) {
		http_client_ended(w, c, cqe->res);
		return;
	}
	c->in.len += (uint32_t)cqe->res;
	http_client_active(w, c);
	switch (c->state) {
	case HC_HEAD:
		head_parse(w, c);
		break;
	case HC_EXCHANGE:
	case HC_TUNNEL: {
		http_touch(w, c);
		struct http_target *u = http_upstream_of(w, c);
		if (u)
			http_request_send(w, c, u);
		break;
	}
	case HC_LINGER:
		c->in.len = 0;
		http_client_recv(w, c);
		break;
	default:
		break;
	}
}

void http_on_target_send(struct worker *w, const struct io_uring_cqe *cqe)
{
	struct http_target *u = http_target_of(w, cqe);
	if (!u)
		return;
	u->inflight--;
	u->send_armed = 0;
	struct http_client *c = u->state == HU_BUSY ? http_target_client(w, u) : NULL;
	if (!c) {
		http_target_close(w, u);
		return;
	}
	if (cqe->res < 0) {
		/* The response side sees the close too, and decides. */
		u->send_failed = 1;
		if (!u->recv_armed)
			http_target_ended(w, c, u, cqe->res);
		return;
	}
	STAT_ADD(wstats(w, c->listener), bytes_in, (uint64_t)cqe->res);
	http_touch(w, c);
	u->out_sent = u->out_len;
	c->in.off += c->in.pending;
	c->in.pending = 0;
	if (c->req_done) {
		if (!c->t_sent_ms)
			c->t_sent_ms = w->now_ms;
		if (!u->spoke && c->state == HC_EXCHANGE)
			http_client_timer(w, c, HT_RESPONSE, w->now_ms +
					  w->rt->groups[c->group].conf->response_timeout_ms);
		if (c->resp_done)
			http_exchange_end(w, c);
		return;
	}
	if (c->in.off == c->in.len) {
		c->in.len = c->in.off = 0;
		http_client_recv(w, c);
	} else {
		http_request_send(w, c, u);
	}
}

/* ---- start, timers, stop ------------------------------------------------ */

void http_client_start(struct worker *w, uint32_t l, int fd)
{
	const struct nlb_listener_conf *lc = w->rt->listeners[l].conf;
	struct http_client *c = nlb_slot_alloc(&w->http.clients);
	uint32_t cap = lc->http.max_header_bytes > NLB_HTTP_BUF_SIZE ? lc->http.max_header_bytes
								      : NLB_HTTP_BUF_SIZE;
	char *in = c ? malloc(cap) : NULL;
	struct nlb_http1_head *head = in ? malloc(sizeof(*head)) : NULL;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (c)
		c->listener = (uint16_t)l;
	if (!head || getpeername(fd, (struct sockaddr *)&ss, &len) < 0 ||
	    (lc->protocol == NLB_PROTO_HTTPS && http_tls_start(w, c) < 0)) {
		free(head);
		free(in);
		if (c)
			nlb_slot_free(&w->http.clients, c);
		STAT_INC(wstats(w, l), nomem);
		worker_close_reset(fd);
		if (lc->max_connections)
			atomic_fetch_sub_explicit(&w->rt->listeners[l].active, 1, memory_order_relaxed);
		return;
	}
	STAT_INC(wstats(w, l), accepted);
	STAT_INC(wstats(w, l), active);
	c->state = HC_HEAD;
	c->fd = fd;
	c->listener = (uint16_t)l;
	c->group = (uint8_t)lc->group;
	c->upstream = HTTP_NO_IDX;
	c->in = (struct http_buf){ .p = in, .cap = cap };
	c->head = head;
	c->src_slot = NLB_SRCLIMIT_NO_SLOT;
	w->active_now++;
	nlb_http1_head_init(c->head, NLB_HTTP1_REQUEST, 0, lc->http.max_header_bytes);
	if (lc->accept_proxy_protocol) {
		/* Who the client is comes with its header: admitted then. */
		c->pp_pending = 1;
		http_client_timer(w, c, HT_REQUEST, w->now_ms + lc->proxy_protocol_timeout_ms);
	} else {
		if (client_admit(w, c, &ss) < 0)
			return;
		first_timer(w, c);
	}
	http_client_recv(w, c);
}

void http_client_timeout(struct worker *w, struct http_client *c)
{
	switch ((enum http_timer)c->timer) {
	case HT_REQUEST:
		if (c->pp_pending) {
			STAT_INC(wstats(w, c->listener), proxy_header_timeout);
			http_client_close(w, c, true);
			return;
		}
		if (c->in.len == 0) {
			/* Connected and silent: closed, nothing to answer. */
			http_client_close(w, c, false);
			return;
		}
		http_client_timer(w, c, HT_NONE, 0);
		c->req_body = NLB_HTTP1_BODY_NONE;
		c->method = NLB_HTTP1_M_OTHER;
		http_log_request(w, c, NULL, NULL);
		c->reason = "request_timeout";
		c->req_bytes = c->in.len;
		http_answer(w, c, 408, true);
		return;
	case HT_HANDSHAKE:
		http_tls_timeout(w, c);
		return;
	case HT_KEEPALIVE:
	case HT_LINGER:
		http_client_close(w, c, false);
		return;
	case HT_RESPONSE:
		http_client_timer(w, c, HT_NONE, 0);
		c->reason = "response_timeout";
		http_answer(w, c, 504, true);
		return;
	case HT_IDLE:
		STAT_INC(wstats(w, c->listener), idle_timeout);
		c->reason = "idle_timeout";
		http_client_close(w, c, true);
		return;
	case HT_NONE:
	case HT_COUNT:
		break;
	}
}

void http_client_stop(struct worker *w, struct http_client *c)
{
	if (c->state == HC_HEAD && c->in.len == 0)
		http_client_close(w, c, false);
	else
		c->close_after = 1;
}
