/* HTTP as a protocol module of the worker loop (core/proto-t.h): its op
 * table, the accepts of http listeners' sockets, the timers of its
 * clients and its part of the worker's start, reloads, ticks and stop.
 * A client's requests are http_proxy.c's; target connections and their
 * pools http_target.c's. */
#include "http/http_worker.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "tunables.h"
#include "balance/target_set.h"
#include "http/http_steps.h"
#include "stream/admission.h"

static void arm_accept(struct worker *w, uint32_t l)
{
	struct http_listener *hl = &w->listeners[l].http;
	struct io_uring_sqe *sqe = nlb_ring_sqe(&w->ring);
	io_uring_prep_multishot_accept(sqe, hl->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, ud_pack(HTTP_OP_ACCEPT, l, 0));
	hl->accepting = true;
}

static void accept_one(struct worker *w, uint32_t l, int fd)
{
	if (admission_accept(w, l, fd))
		http_client_start(w, l, fd);
}

static void on_accept(struct worker *w, const struct io_uring_cqe *cqe)
{
	uint32_t l = ud_idx(cqe->user_data);
	struct http_listener *hl = &w->listeners[l].http;
	if (!(cqe->flags & IORING_CQE_F_MORE))
		hl->accepting = false;
	int err = -cqe->res;
	if (cqe->res >= 0) {
		accept_one(w, l, cqe->res);
	} else if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
		if (!hl->paused) {
			nlb_warn_rl("worker %u: listener %s: accept paused: %s", w->id,
				    w->rt->listeners[l].conf->name, strerror(err));
			STAT_INC(wstats(w, l), accept_paused);
		}
		hl->paused = true;
		hl->resume_ms = w->now_ms + NLB_ACCEPT_PAUSE_MS;
	} else if (err != ECANCELED && err != EINTR && err != ECONNABORTED) {
		nlb_warn_rl("worker %u: listener %s: accept: %s", w->id,
			    w->rt->listeners[l].conf->name, strerror(err));
	}
	if (!hl->accepting && !hl->paused && !w->stopping && hl->fd >= 0)
		arm_accept(w, l);
}

static const struct worker_op http_ops[] = {
	[HTTP_OP_ACCEPT - NLB_OPS_HTTP] = { "http_accept", on_accept },
	[HTTP_OP_CLIENT_RECV - NLB_OPS_HTTP] = { "http_client_recv", http_on_client_recv },
	[HTTP_OP_CLIENT_SEND - NLB_OPS_HTTP] = { "http_client_send", http_on_client_send },
	[HTTP_OP_TARGET_CONNECT - NLB_OPS_HTTP] = { "http_target_connect", http_on_target_connect },
	[HTTP_OP_TARGET_CONNECT_TIMEOUT - NLB_OPS_HTTP] = { "http_target_connect_timeout",
							    http_on_target_connect },
	[HTTP_OP_TARGET_RECV - NLB_OPS_HTTP] = { "http_target_recv", http_on_target_recv },
	[HTTP_OP_TARGET_SEND - NLB_OPS_HTTP] = { "http_target_send", http_on_target_send },
	[HTTP_OP_TARGET_POLL - NLB_OPS_HTTP] = { "http_target_poll", http_on_target_poll },
	[HTTP_OP_CLIENT_TLS_RECV - NLB_OPS_HTTP] = { "http_client_tls_recv", http_tls_on_recv },
	[HTTP_OP_CLIENT_TLS_SEND - NLB_OPS_HTTP] = { "http_client_tls_send", http_tls_on_send },
	[HTTP_OP_CLIENT_TLS_WAKE - NLB_OPS_HTTP] = { "http_client_tls_wake", http_tls_on_wake },
	[HTTP_OP_TARGET_TLS_RECV - NLB_OPS_HTTP] = { "http_target_tls_recv", http_tls_on_recv },
	[HTTP_OP_TARGET_TLS_SEND - NLB_OPS_HTTP] = { "http_target_tls_send", http_tls_on_send },
	[HTTP_OP_TARGET_TLS_WAKE - NLB_OPS_HTTP] = { "http_target_tls_wake", http_tls_on_wake },
};
_Static_assert(sizeof(http_ops) / sizeof(http_ops[0]) == HTTP_OP_END - NLB_OPS_HTTP,
	       "every HTTP op has a handler");

static int http_worker_init(struct worker *w)
{
	/* 2^10 clients a chunk: a chunk of idle clients is about 1 MiB of
	 * slots beside their buffers. */
	nlb_slot_arena_init(&w->http.clients, sizeof(struct http_client), 10);
	nlb_slot_arena_init(&w->http.targets, sizeof(struct http_target), 10);
	w->http.pools = calloc(NLB_MAX_GROUPS, sizeof(*w->http.pools));
	w->http.path = malloc(NLB_HTTP1_HEAD_LIMIT + 3);
	return w->http.pools && w->http.path ? 0 : -ENOMEM;
}

static void http_worker_free(struct worker *w)
{
	for (size_t l = 0; l < w->rt->cfg->n_listeners; l++) {
		struct http_listener *hl = &w->listeners[l].http;
		if (w->listeners[l].started && hl->fd >= 0)
			close(hl->fd);
	}
	/* A worker that stopped early: what its slots still hold. */
	for (uint32_t i = 0; i < w->http.clients.n_slots; i++) {
		struct http_client *c = http_client_at(w, i);
		if (c->state != HC_FREE) {
			close(c->fd);
			http_tls_free(w, c);
			free(c->in.p);
			free(c->out);
			free(c->head);
			free(c->log);
		}
	}
	for (uint32_t i = 0; i < w->http.targets.n_slots; i++) {
		struct http_target *u = http_target_at(w, i);
		if (u->state != HU_FREE) {
			close(u->fd);
			http_tls_target_free(w, u);
			free(u->in.p);
			free(u->out);
			free(u->head);
		}
	}
	nlb_slot_arena_free(&w->http.clients);
	nlb_slot_arena_free(&w->http.targets);
	http_pools_free(w);
	free(w->http.path);
}

static void http_listener_take(struct worker *w, uint32_t l)
{
	const struct listener_rt *lr = &w->rt->listeners[l];
	struct http_listener *hl = &w->listeners[l].http;
	hl->fd = lr->fds && nlb_proto_http(lr->conf->protocol) ? lr->fds[w->id] : -1;
	for (int t = 0; t < HT_COUNT; t++)
		nlb_idle_init(&hl->timers[t]);
}

static void http_listener_arm(struct worker *w, uint32_t l)
{
	if (w->listeners[l].http.fd >= 0)
		arm_accept(w, l);
}

static bool http_listener_close(struct worker *w, uint32_t l)
{
	struct http_listener *hl = &w->listeners[l].http;
	if (hl->fd >= 0) {
		worker_listen_stop(w, hl->fd, true);
		hl->fd = -1;
	}
	return !hl->accepting &&
	       atomic_load_explicit(&wstats(w, l)->active, memory_order_relaxed) == 0;
}

static void http_stop(struct worker *w)
{
	for (size_t l = 0; l < w->rt->cfg->n_listeners; l++) {
		struct http_listener *hl = &w->listeners[l].http;
		if (hl->fd >= 0)
			worker_listen_stop(w, hl->fd, true);
		hl->fd = -1;
	}
	for (uint32_t i = 0; i < w->http.clients.n_slots; i++) {
		struct http_client *c = http_client_at(w, i);
		if (c->state != HC_FREE && c->state != HC_CLOSING)
			http_client_stop(w, c);
	}
	http_pools_tick(w, true);
}

static uint32_t http_open_count(const struct worker *w)
{
	return w->http.clients.live;
}

static bool http_busy(const struct worker *w)
{
	if (w->http.clients.live || w->http.targets.live)
		return true;
	for (size_t l = 0; l < w->rt->cfg->n_listeners; l++)
		if (w->listeners[l].http.accepting)
			return true;
	return false;
}

static void http_tick(struct worker *w)
{
	for (size_t l = 0; l < w->rt->cfg->n_listeners; l++) {
		struct http_listener *hl = &w->listeners[l].http;
		for (int t = HT_NONE + 1; t < HT_COUNT; t++) {
			struct http_client *c;
			while ((c = nlb_idle_oldest(&w->http.clients, &hl->timers[t])) &&
			       c->deadline_ms <= w->now_ms)
				http_client_timeout(w, c);
		}
		if (hl->paused && w->now_ms >= hl->resume_ms && !w->stopping && hl->fd >= 0) {
			hl->paused = false;
			if (!hl->accepting)
				arm_accept(w, (uint32_t)l);
		}
	}
	http_pools_tick(w, w->stopping);
}

/* Requests to targets past their deregistration delay are reset. */
static void http_reset_drained(struct worker *w)
{
	for (uint32_t i = 0; i < w->http.clients.n_slots; i++) {
		struct http_client *c = http_client_at(w, i);
		if (c->state == HC_FREE || c->state == HC_CLOSING || c->upstream == HTTP_NO_IDX)
			continue;
		if (target_state(w->rt, c->group, c->target) == TARGET_DRAIN_CLOSING) {
			STAT_INC(wstats(w, c->listener), drain_reset);
			c->reason = "drain_reset";
			http_client_close(w, c, true);
		}
	}
	http_pools_tick(w, false);
}

static void http_reset_all(struct worker *w)
{
	for (uint32_t i = 0; i < w->http.clients.n_slots; i++) {
		struct http_client *c = http_client_at(w, i);
		if (c->state != HC_FREE && c->state != HC_CLOSING) {
			STAT_INC(wstats(w, c->listener), shutdown_reset);
			c->reason = "shutdown_reset";
			http_client_close(w, c, true);
		}
	}
	http_pools_tick(w, true);
}

const struct stream_proto http_proto = {
	.name = "http",
	.op_base = NLB_OPS_HTTP,
	.ops = http_ops,
	.n_ops = sizeof(http_ops) / sizeof(http_ops[0]),
	.worker_init = http_worker_init,
	.worker_free = http_worker_free,
	.listener_take = http_listener_take,
	.listener_arm = http_listener_arm,
	.listener_close = http_listener_close,
	.stop = http_stop,
	.open_count = http_open_count,
	.busy = http_busy,
	.tick = http_tick,
	.reset_drained = http_reset_drained,
	.reset_all = http_reset_all,
};
