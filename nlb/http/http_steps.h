/* The inside of the HTTP module: the steps its files share.  The client
 * side and the exchange are http_proxy.c's, connections to targets and
 * their pools http_target.c's, the module's part of the worker
 * http_worker.c's; nothing outside nlb/http includes this. */
#ifndef NLB_HTTP_HTTP_STEPS_H
#define NLB_HTTP_HTTP_STEPS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/worker.h"
#include "http/http_conn-t.h"

struct nlb_tls_client;

#define HTTP_NO_IDX UINT32_MAX

static inline struct http_client *http_client_at(struct worker *w, uint32_t idx)
{
	return nlb_slot_at(&w->http.clients, idx);
}

static inline struct http_target *http_target_at(struct worker *w, uint32_t idx)
{
	return nlb_slot_at(&w->http.targets, idx);
}

static inline uint64_t http_client_ud(const struct http_client *c, unsigned op)
{
	return ud_pack(op, c->slot.idx, c->slot.gen);
}

static inline uint64_t http_target_ud(const struct http_target *u, unsigned op)
{
	return ud_pack(op, u->slot.idx, u->slot.gen);
}

/* The client u serves, or NULL when it has gone. */
static inline struct http_client *http_target_client(struct worker *w, const struct http_target *u)
{
	if (u->client == HTTP_NO_IDX)
		return NULL;
	struct http_client *c = http_client_at(w, u->client);
	return c->slot.gen == u->client_gen && c->upstream == u->slot.idx ? c : NULL;
}

static inline const struct nlb_listener_conf *http_listener_conf(struct worker *w,
								  const struct http_client *c)
{
	return w->rt->listeners[c->listener].conf;
}

/* c's target connection, or NULL. */
static inline struct http_target *http_upstream_of(struct worker *w, const struct http_client *c)
{
	return c->upstream == HTTP_NO_IDX ? NULL : http_target_at(w, c->upstream);
}

/* c had traffic this tick: it counts once among the worker's active
 * connections, which size the batch of completions the loop waits for
 * (core/loop.c), as TCP's connections do. */
static inline void http_client_active(struct worker *w, struct http_client *c)
{
	if (c->last_active_ms == w->now_ms)
		return;
	c->last_active_ms = w->now_ms;
	w->active_now++;
}

/* ---- http_proxy.c: a client and its requests --------------------------- */

/* The client of a completion, or NULL (logged) when its slot moved on. */
struct http_client *http_client_of(struct worker *w, const struct io_uring_cqe *cqe);
/* Frees a closing c once nothing in the ring refers to it. */
void http_client_maybe_free(struct worker *w, struct http_client *c);
/* The client closed or failed (res <= 0): c is closed. */
void http_client_ended(struct worker *w, struct http_client *c, int res);
/* Bytes moved: the idle timeout starts again. */
void http_touch(struct worker *w, struct http_client *c);
/* Lets go of c's target connection: pooled when reusable. */
void http_drop_upstream(struct worker *w, struct http_client *c, bool reusable);
/* After the last answer: FIN, then the client's bytes dropped until its
 * FIN or NLB_HTTP_LINGER_MS. */
void http_client_linger(struct worker *w, struct http_client *c);
/* One receive into c->in (or u->in), unless one is armed or it is full. */
void http_client_recv(struct worker *w, struct http_client *c);
void http_target_recv(struct worker *w, struct http_target *u);
/* Sends a then b (either may be empty) to fd with msg and iov, which
 * must stay put until the completion (user_data ud). */
void http_send2(struct worker *w, int fd, struct msghdr *msg, struct iovec *iov, const char *a,
		size_t alen, const char *b, size_t blen, uint64_t ud);
/* Sends a then b (either may be empty) to the client, through its TLS
 * on https; HTTP_OP_CLIENT_SEND completes it. */
void http_client_send(struct worker *w, struct http_client *c, const char *a, size_t alen,
		      const char *b, size_t blen);
/* c->out, allocated when first needed; 0 or -ENOMEM. */
int http_ensure_out(struct http_client *c);
/* nlb answers status itself; closes after it with close, or when the
 * request's body was not all read. */
void http_answer(struct worker *w, struct http_client *c, int status, bool close);
/* A rule's answer (http_route.c): keep-alive unless the request says
 * otherwise; counted by its caller. */
void http_answer_rule(struct worker *w, struct http_client *c, int status, const char *fields,
		      const char *content_type, const char *body, size_t body_len);
/* ---- http_route.c: the listener's rules -------------------------------- */

/* Sets c->group (and group stickiness) for the request whose head c
 * holds, by its listener's rules.  True: forward it; false: a rule or a
 * bad path answered it. */
bool http_route(struct worker *w, struct http_client *c);

/* How much of p (avail bytes) a body of this kind takes, *done set when
 * it ends there; -EINVAL for a chunked body that breaks its grammar. */
int64_t http_body_take(uint8_t kind, uint64_t *left, struct nlb_http1_chunked *chunks,
		       const char *p, uint32_t avail, uint8_t *done);
/* Sends the target what it has not had of the request. */
void http_request_send(struct worker *w, struct http_client *c, struct http_target *u);
/* Both the request and its response are through: the next request, or
 * the close. */
void http_exchange_end(struct worker *w, struct http_client *c);
/* Ready for the next request: what was pipelined moves to the front. */
void http_next_request(struct worker *w, struct http_client *c);

/* A client accepted on listener l (admitted already). */
void http_client_start(struct worker *w, uint32_t l, int fd);
/* Starts closing c (reset: with RST); the caller must not touch c again. */
void http_client_close(struct worker *w, struct http_client *c, bool reset);
/* c's timer ran out. */
void http_client_timeout(struct worker *w, struct http_client *c);
/* Puts c on timer list t with the given deadline (HT_NONE: on none). */
void http_client_timer(struct worker *w, struct http_client *c, enum http_timer t,
		       uint64_t deadline_ms);
/* Stopping: an idle client is closed now, a busy one after its exchange. */
void http_client_stop(struct worker *w, struct http_client *c);
/* The exchange's target connection is connected: the request goes out. */
void http_exchange_connected(struct worker *w, struct http_client *c, struct http_target *u);
/* The target connection failed to connect (res: the error). */
void http_exchange_connect_failed(struct worker *w, struct http_client *c, int res);

void http_on_client_recv(struct worker *w, const struct io_uring_cqe *cqe);
void http_on_target_send(struct worker *w, const struct io_uring_cqe *cqe);

/* ---- http_response.c: the response ------------------------------------- */

/* The target closed or failed (res <= 0) before the response ended. */
void http_target_ended(struct worker *w, struct http_client *c, struct http_target *u, int res);
void http_on_client_send(struct worker *w, const struct io_uring_cqe *cqe);
void http_on_target_recv(struct worker *w, const struct io_uring_cqe *cqe);

/* ---- http_log.c: the access log's lines -------------------------------- */

/* A request begins (h: its head, parsed from buf; NULL for one refused
 * before it parsed): what its line needs is kept. */
void http_log_request(struct worker *w, struct http_client *c, const struct nlb_http1_head *h,
		      const char *buf);
/* Its line, once, when it ends however it ends. */
void http_log_line(struct worker *w, struct http_client *c);

/* ---- http_tls.c: an https client's TLS ---------------------------------- */

/* c's TLS, its handshake to come: 0 or -ENOMEM. */
int http_tls_start(struct worker *w, struct http_client *c);
/* Frees c's TLS, if any. */
void http_tls_free(struct worker *w, struct http_client *c);
/* Ciphertext that came with the PROXY header: 0 or -ENOMEM. */
int http_tls_feed(struct http_client *c, const void *p, uint32_t len);
/* The module's receive into c->in and send of a then b, through TLS:
 * completed as HTTP_OP_CLIENT_RECV and HTTP_OP_CLIENT_SEND would be. */
void http_tls_recv(struct worker *w, struct http_client *c);
void http_tls_send(struct worker *w, struct http_client *c, const char *a, size_t alen,
		   const char *b, size_t blen);
/* After the last answer: close_notify, then FIN once it is out. */
void http_tls_linger(struct worker *w, struct http_client *c);
/* c is closing: the module's receive and send will not complete. */
void http_tls_closing(struct http_client *c);
/* HT_HANDSHAKE ran out. */
void http_tls_timeout(struct worker *w, struct http_client *c);

/* A target connection of a group with tls, connected: its handshake
 * under way (done: http_exchange_connected; failed: the connect fails).
 * 0, -ENOMEM, or -EPROTO when it failed at once. */
int http_tls_target_start(struct worker *w, struct http_target *u, struct nlb_tls_client *cli);
void http_tls_target_free(struct worker *w, struct http_target *u);
/* u is closing: the module's receive and send will not complete. */
void http_tls_target_closing(struct http_target *u);
/* Nothing of u's TLS is pending either way: it may wait in the pool. */
bool http_tls_target_idle_ok(const struct http_target *u);
void http_tls_target_recv(struct worker *w, struct http_target *u);
void http_tls_target_send(struct worker *w, struct http_target *u, const char *a, size_t alen,
			  const char *b, size_t blen);
void http_tls_on_recv(struct worker *w, const struct io_uring_cqe *cqe);
void http_tls_on_send(struct worker *w, const struct io_uring_cqe *cqe);
void http_tls_on_wake(struct worker *w, const struct io_uring_cqe *cqe);

/* ---- http_target.c: connections to targets and their pools ------------- */

/* A connection to target t of group g for client c: a pooled one (true
 * in *reused) unless fresh, else a new one whose connect is under way.
 * NULL when no socket could be had. */
struct http_target *http_target_get(struct worker *w, struct http_client *c, size_t g,
				    uint32_t t, bool fresh, bool *reused);
/* Done with u: back to its pool when it may serve again, else closed. */
void http_target_release(struct worker *w, struct http_target *u, bool reusable);
/* Starts closing u; the caller must not touch it again. */
void http_target_close(struct worker *w, struct http_target *u);
/* The slot of a target completion, or NULL when it is gone. */
struct http_target *http_target_of(struct worker *w, const struct io_uring_cqe *cqe);
/* Frees a closing u once nothing in the ring refers to it. */
void http_target_maybe_free(struct worker *w, struct http_target *u);
void http_on_target_connect(struct worker *w, const struct io_uring_cqe *cqe);
void http_on_target_poll(struct worker *w, const struct io_uring_cqe *cqe);
/* Pooled connections idle too long, or to targets gone or going. */
void http_pools_tick(struct worker *w, bool all);
void http_pools_free(struct worker *w);

#endif
