/* The response side of an HTTP exchange: a target's response head read
 * (1xx ones passed on, the final one rewritten for the client by
 * lib/http1_forward.c), its body sent on as it comes until its framing
 * says it ended, and what happens when a target closes early: the one
 * retry on a new connection, a 502, or a cut-off client.  The client side
 * and the request are http_proxy.c's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http1_forward.h"
#include "http_rules.h"
#include "log.h"
#include "tunables.h"
#include "balance/pick.h"
#include "balance/target_set.h"
#include "http/http_steps.h"

/* A target's final response head: its status class, and its time (the
 * ALB's TargetResponseTime: from the request all sent to the head parsed)
 * into the cumulative buckets, each counting the responses within its
 * bound.  A 101 is neither, so the histogram's count is the classes' sum. */
static void count_response(struct worker *w, const struct http_client *c, int status)
{
	struct worker_stats *st = wstats(w, c->listener);
	if (status >= 500)
		STAT_INC(st, http_target_5xx);
	else if (status >= 400)
		STAT_INC(st, http_target_4xx);
	else if (status >= 300)
		STAT_INC(st, http_target_3xx);
	else if (status >= 200)
		STAT_INC(st, http_target_2xx);
	else
		return;
	/* The coarse clock's milliseconds: a target on loopback reads 0, as
	 * does one that answers before the whole request went out (t_sent_ms
	 * not yet set). */
	uint64_t ms = c->t_sent_ms && w->now_ms > c->t_sent_ms ? w->now_ms - c->t_sent_ms : 0;
	STAT_ADD(st, http_resp_time_ms, ms);
	/* From the largest bucket down, after +Inf (the class): a scrape reads
	 * them the other way (counters-t.h's order), so on x86, whose stores
	 * are seen in order, it never finds a bucket above a larger one. */
	if (ms <= 10000)
		STAT_INC(st, http_resp_time_le_10s);
	if (ms <= 5000)
		STAT_INC(st, http_resp_time_le_5s);
	if (ms <= 2500)
		STAT_INC(st, http_resp_time_le_2500ms);
	if (ms <= 1000)
		STAT_INC(st, http_resp_time_le_1s);
	if (ms <= 500)
		STAT_INC(st, http_resp_time_le_500ms);
	if (ms <= 250)
		STAT_INC(st, http_resp_time_le_250ms);
	if (ms <= 100)
		STAT_INC(st, http_resp_time_le_100ms);
	if (ms <= 50)
		STAT_INC(st, http_resp_time_le_50ms);
	if (ms <= 25)
		STAT_INC(st, http_resp_time_le_25ms);
	if (ms <= 10)
		STAT_INC(st, http_resp_time_le_10ms);
	if (ms <= 5)
		STAT_INC(st, http_resp_time_le_5ms);
}

/* Sends the client what u->in holds of the response past u->in.off,
 * after the head in c->out when it has not gone yet. */
static void response_send(struct worker *w, struct http_client *c, struct http_target *u)
{
	if (c->send_armed)
		return;
	uint32_t avail = u->in.len - u->in.off;
	uint8_t done = 0;
	int64_t take = http_body_take(c->resp_body, &c->resp_left, &c->resp_chunks,
				 u->in.p + u->in.off, avail, &done);
	if (take < 0) {
		STAT_INC(wstats(w, c->listener), http_truncated);
		c->reason = "bad_response_body";
		http_client_close(w, c, true);
		return;
	}
	c->resp_done = done;
	u->in.pending = (uint32_t)take;
	uint32_t head_left = c->out_len - c->out_sent;
	if (!head_left && !take) {
		if (c->resp_done) {
			if (c->req_done)
				http_exchange_end(w, c);
		} else {
			u->in.len = u->in.off = 0;
			http_target_recv(w, u);
		}
		return;
	}
	http_client_send(w, c, c->out + c->out_sent, head_left, u->in.p + u->in.off, (size_t)take);
}

/* A response head is whole in u->in: a 1xx goes on and the next head is
 * read; the final one is rewritten for the client and the body follows. */
static void response_head(struct worker *w, struct http_client *c, struct http_target *u, int r)
{
	struct nlb_http1_head *h = u->head;
	if (http_ensure_out(c) < 0) {
		http_client_close(w, c, true);
		return;
	}
	bool interim = h->status < 200 && h->status != 101;
	if (!interim) {
		u->head_done = 1;
		c->target_status = h->status;
		c->t_resp_ms = w->now_ms;
		count_response(w, c, h->status);
		c->resp_body = (uint8_t)nlb_http1_head_body(h, (enum nlb_http1_method)c->method);
		c->resp_left = h->content_length;
		if (c->resp_body == NLB_HTTP1_BODY_CHUNKED)
			nlb_http1_chunked_init(&c->resp_chunks, NLB_HTTP1_LENIENT, NLB_HTTP_BUF_SIZE);
		u->reusable = h->minor == 1 ? !(h->flags & NLB_HTTP1_F_CONN_CLOSE) :
			      !!(h->flags & NLB_HTTP1_F_CONN_KEEP_ALIVE);
		if (c->resp_body == NLB_HTTP1_BODY_UNTIL_CLOSE || c->resp_body == NLB_HTTP1_BODY_TUNNEL)
			u->reusable = 0;
		/* A body the client cannot tell the end of closes it; so does
		 * a request whose body the target did not wait for. */
		if (c->resp_body == NLB_HTTP1_BODY_UNTIL_CLOSE || !c->req_done)
			c->close_after = 1;
		if (w->stopping)
			c->close_after = 1;
		c->head_sent = 1;
		http_client_timer(w, c, HT_IDLE, w->now_ms + http_listener_conf(w, c)->idle_timeout_ms);
	}
	char cookie[128];
	if (!interim && c->sticky_s)
		snprintf(cookie, sizeof(cookie), "Set-Cookie: " NLB_HTTP_STICKY_COOKIE
			 "=%016llx; Max-Age=%u; Path=/\r\n", (unsigned long long)c->sticky_cookie,
			 c->sticky_s);
	int n = nlb_http1_forward_response(h, u->in.p, c->minor, !interim && c->close_after,
					   !interim && c->sticky_s ? cookie : NULL, c->out,
					   NLB_HTTP_BUF_SIZE + 512);
	if (n < 0) {
		c->reason = "response_head_too_large";
		http_answer(w, c, 502, true);
		return;
	}
	c->out_len = (uint32_t)n;
	c->out_sent = 0;
	u->in.off = (uint32_t)r;
	if (interim) {
		/* The 1xx alone; the bytes after it are parsed once it is out. */
		c->resp_body = NLB_HTTP1_BODY_NONE;
		http_client_send(w, c, c->out, c->out_len, NULL, 0);
		return;
	}
	if (c->resp_body == NLB_HTTP1_BODY_TUNNEL) {
		/* 101: from now on bytes pass both ways until either end closes. */
		c->state = HC_TUNNEL;
		c->req_body = NLB_HTTP1_BODY_TUNNEL;
		c->req_done = 0;
		c->close_after = 1;
		if (c->in.off == c->in.len) {
			c->in.len = c->in.off = 0;
			http_client_recv(w, c);
		} else {
			http_request_send(w, c, u);
		}
	}
	response_send(w, c, u);
}

/* u->in grew: the head parsed on, or the body sent on. */
static void response_input(struct worker *w, struct http_client *c, struct http_target *u)
{
	if (u->head_done) {
		response_send(w, c, u);
		return;
	}
	int r = nlb_http1_head_parse(u->head, u->in.p, u->in.len);
	if (r == -EAGAIN) {
		http_target_recv(w, u);
		return;
	}
	if (r < 0) {
		nlb_debug_rl("http target %s: malformed response (%s)",
			     target_at(w->rt, c->group, c->target)->addr_text,
			     nlb_http1_error_name(u->head->error));
		c->reason = "bad_response";
		http_answer(w, c, 502, !c->req_done);
		return;
	}
	response_head(w, c, u, r);
}

/* The target closed or failed (res <= 0) before the response ended. */
void http_target_ended(struct worker *w, struct http_client *c, struct http_target *u, int res)
{
	if (res < 0)
		STAT_INC(wstats(w, c->listener), target_reset);
	if (u->head_done) {
		if (res == 0 && c->resp_body == NLB_HTTP1_BODY_UNTIL_CLOSE) {
			c->resp_done = 1;
			u->reusable = 0;
			if (c->req_done)
				http_exchange_end(w, c);
			return;
		}
		if (c->state == HC_TUNNEL) {
			http_client_close(w, c, false);
			return;
		}
		STAT_INC(wstats(w, c->listener), http_truncated);
		c->reason = "truncated";
		http_client_close(w, c, true);
		return;
	}
	/* Nothing of the answer yet.  A pooled connection may have been
	 * closed by the target as the request went out: once more on a new
	 * one, when the request can be sent again whole and safely. */
	bool idempotent = c->method != NLB_HTTP1_M_POST && c->method != NLB_HTTP1_M_PATCH &&
			  c->method != NLB_HTTP1_M_OTHER && c->method != NLB_HTTP1_M_CONNECT;
	if (u->reused && !u->spoke && c->req_body == NLB_HTTP1_BODY_NONE &&
	    (idempotent || u->send_failed)) {
		STAT_INC(wstats(w, c->listener), http_retries);
		char *out = u->out;
		uint32_t out_len = u->out_len;
		u->out = NULL;
		http_drop_upstream(w, c, false);
		c->req_done = 0;
		bool reused;
		struct http_target *nu = NULL;
		/* A new connection to the same target: it was chosen. */
		pick_conn_add(w->rt, w->id, c->group, c->target, 1);
		c->counted = 1;
		nu = http_target_get(w, c, c->group, c->target, true, &reused);
		if (!nu) {
			free(out);
			c->reason = "no_memory";
			http_answer(w, c, 502, false);
			return;
		}
		free(nu->out);
		nu->out = out;
		nu->out_len = out_len;
		nu->out_sent = 0;
		if (reused)
			http_exchange_connected(w, c, nu);
		return;
	}
	pick_live_result(w->rt, w->id, c->group, c->target, false);
	c->reason = res < 0 ? "target_reset" : "target_closed";
	http_answer(w, c, 502, !c->req_done);
}


/* ---- completions ----------------------------------------------------- */

void http_on_client_send(struct worker *w, const struct io_uring_cqe *cqe)
{
	struct http_client *c = http_client_of(w, cqe);
	if (!c)
		return;
	c->inflight--;
	c->send_armed = 0;
	if (c->state == HC_CLOSING) {
		http_client_maybe_free(w, c);
		return;
	}
	if (cqe->res < 0) {
		http_client_ended(w, c, cqe->res);
		return;
	}
	STAT_ADD(wstats(w, c->listener), bytes_out, (uint64_t)cqe->res);
	c->resp_bytes += (uint64_t)cqe->res;
	c->out_sent = c->out_len;
	if (c->state == HC_ANSWER) {
		http_log_line(w, c);
		if (c->close_after) {
			http_client_linger(w, c);
			return;
		}
		http_next_request(w, c);
		return;
	}
	http_touch(w, c);
	struct http_target *u = http_upstream_of(w, c);
	if (!u) {
		http_client_close(w, c, true);
		return;
	}
	u->in.off += u->in.pending;
	u->in.pending = 0;
	if (!u->head_done) {
		/* A 1xx went out: what follows it is the next head. */
		uint32_t rest = u->in.len - u->in.off;
		memmove(u->in.p, u->in.p + u->in.off, rest);
		u->in.len = rest;
		u->in.off = 0;
		nlb_http1_head_init(u->head, NLB_HTTP1_RESPONSE, NLB_HTTP1_LENIENT, NLB_HTTP_BUF_SIZE);
		response_input(w, c, u);
		return;
	}
	if (c->resp_done) {
		if (c->req_done)
			http_exchange_end(w, c);
		return;
	}
	if (u->in.off == u->in.len) {
		u->in.len = u->in.off = 0;
		http_target_recv(w, u);
	} else {
		response_send(w, c, u);
	}
}

void http_on_target_recv(struct worker *w, const struct io_uring_cqe *cqe)
{
	struct http_target *u = http_target_of(w, cqe);
	if (!u)
		return;
	u->inflight--;
	u->recv_armed = 0;
	struct http_client *c = u->state == HU_BUSY ? http_target_client(w, u) : NULL;
	if (!c) {
		http_target_close(w, u);
		return;
	}
	if (cqe->res <= 0) {
		http_target_ended(w, c, u, cqe->res);
		return;
	}
	if (!u->spoke) {
		u->spoke = 1;
		pick_live_result(w->rt, w->id, c->group, c->target, true);
		if (c->timer == HT_RESPONSE)
			http_client_timer(w, c, HT_IDLE,
					  w->now_ms + http_listener_conf(w, c)->idle_timeout_ms);
	}
	http_touch(w, c);
	http_client_active(w, c);
	u->in.len += (uint32_t)cqe->res;
	response_input(w, c, u);
}
