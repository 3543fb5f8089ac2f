/* Connections from a worker to the targets of http groups: opened for a
 * request, kept between requests in a pool per target (newest reused
 * first), watched there by a poll so a target that closes one is seen at
 * once, and closed when idle past NLB_HTTP_POOL_IDLE_MS or when their
 * target leaves or changes. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "tunables.h"
#include "balance/pick.h"
#include "balance/target_set.h"
#include "http/http_steps.h"

/* g's pools, grown to its target slots; NULL when out of memory (then
 * nothing is pooled). */
static struct http_pool *pool_of(struct worker *w, size_t g)
{
	struct http_pool *p = &w->http.pools[g];
	uint32_t n = w->rt->groups[g].max_targets;
	if (p->n >= n)
		return p;
	struct nlb_idle_list *idle = realloc(p->idle, n * sizeof(*idle));
	if (!idle)
		return NULL;
	p->idle = idle;
	uint32_t *count = realloc(p->count, n * sizeof(*count));
	if (!count)
		return NULL;
	p->count = count;
	for (uint32_t t = p->n; t < n; t++) {
		nlb_idle_init(&p->idle[t]);
		p->count[t] = 0;
	}
	p->n = n;
	return p;
}

static void pool_remove(struct worker *w, struct http_target *u)
{
	struct http_pool *p = &w->http.pools[u->group];
	nlb_idle_remove(&w->http.targets, &p->idle[u->target], &u->slot);
	p->count[u->target]--;
}

static void attach(struct http_target *u, struct http_client *c)
{
	u->client = c->slot.idx;
	u->client_gen = c->slot.gen;
	c->upstream = u->slot.idx;
	u->spoke = u->head_done = u->reusable = u->send_failed = 0;
	u->in.len = u->in.off = u->in.pending = 0;
	u->out_len = u->out_sent = 0;
	nlb_http1_head_init(u->head, NLB_HTTP1_RESPONSE, NLB_HTTP1_LENIENT, NLB_HTTP_BUF_SIZE);
}

static void cancel_poll(struct worker *w, struct http_target *u)
{
	struct io_uring_sqe *sqe = nlb_ring_sqe(&w->ring);
	io_uring_prep_cancel64(sqe, http_target_ud(u, HTTP_OP_TARGET_POLL), 0);
	io_uring_sqe_set_data64(sqe, ud_pack(OP_NONE, 0, 0));
	sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
}

/* A new connection's socket and buffers, its connect under way. */
static struct http_target *open_new(struct worker *w, struct http_client *c, size_t g,
				    uint32_t t, uint32_t gen)
{
	const struct target_rt *tr = target_at(w->rt, g, t);
	struct http_target *u = nlb_slot_alloc(&w->http.targets);
	if (!u)
		return NULL;
	u->fd = socket(tr->addr.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	u->in.p = malloc(NLB_HTTP_BUF_SIZE);
	u->head = malloc(sizeof(*u->head));
	if (u->fd < 0 || !u->in.p || !u->head) {
		if (u->fd >= 0)
			close(u->fd);
		free(u->in.p);
		free(u->head);
		nlb_slot_free(&w->http.targets, u);
		return NULL;
	}
	worker_set_nodelay(u->fd);
	u->in.cap = NLB_HTTP_BUF_SIZE;
	u->state = HU_CONNECTING;
	u->group = (uint8_t)g;
	u->target = t;
	u->target_gen = gen;
	attach(u, c);
	/* The connect and its timeout are one link, in one submission. */
	if (io_uring_sq_space_left(&w->ring) < 2)
		io_uring_submit(&w->ring);
	struct io_uring_sqe *sqe = nlb_ring_sqe(&w->ring);
	io_uring_prep_connect(sqe, u->fd, (const struct sockaddr *)&tr->addr.ss, tr->addr.len);
	io_uring_sqe_set_data64(sqe, http_target_ud(u, HTTP_OP_TARGET_CONNECT));
	sqe->flags |= IOSQE_IO_LINK;
	sqe = nlb_ring_sqe(&w->ring);
	/* The group's configuration holds the timespec; the kernel reads
	 * it at submission, within this worker's QSBR period. */
	io_uring_prep_link_timeout(
		sqe, (struct __kernel_timespec *)&w->rt->groups[g].conf->connect_timeout_ts, 0);
	io_uring_sqe_set_data64(sqe, http_target_ud(u, HTTP_OP_TARGET_CONNECT_TIMEOUT));
	u->inflight += 2;
	STAT_INC(wstats(w, c->listener), http_target_new);
	return u;
}

struct http_target *http_target_get(struct worker *w, struct http_client *c, size_t g,
				    uint32_t t, bool fresh, bool *reused)
{
	uint32_t gen = atomic_load_explicit(&target_at(w->rt, g, t)->gen, memory_order_relaxed);
	struct http_pool *p = fresh ? NULL : pool_of(w, g);
	while (p && !nlb_idle_empty(&p->idle[t])) {
		struct http_target *u = nlb_slot_at(&w->http.targets, p->idle[t].tail);
		pool_remove(w, u);
		if (u->target_gen != gen) {
			/* The slot was given to another target since. */
			u->state = HU_BUSY;
			http_target_close(w, u);
			continue;
		}
		if (u->polling)
			cancel_poll(w, u);
		u->state = HU_BUSY;
		u->reused = 1;
		attach(u, c);
		*reused = true;
		return u;
	}
	*reused = false;
	return open_new(w, c, g, t, gen);
}

void http_target_release(struct worker *w, struct http_target *u, bool reusable)
{
	u->client = HTTP_NO_IDX;
	struct http_pool *p = reusable && !w->stopping ? pool_of(w, u->group) : NULL;
	uint32_t gen = atomic_load_explicit(&target_at(w->rt, u->group, u->target)->gen,
					    memory_order_relaxed);
	if (!p || p->count[u->target] >= NLB_HTTP_POOL_MAX || gen != u->target_gen ||
	    target_state(w->rt, u->group, u->target) != TARGET_ACTIVE || u->in.len > u->in.off ||
	    !http_tls_target_idle_ok(u)) {
		http_target_close(w, u);
		return;
	}
	u->state = HU_IDLE;
	u->idle_since_ms = w->now_ms;
	nlb_idle_append(&w->http.targets, &p->idle[u->target], &u->slot);
	p->count[u->target]++;
	/* Anything from an idle connection (FIN, reset, stray bytes) ends it. */
	struct io_uring_sqe *sqe = nlb_ring_sqe(&w->ring);
	io_uring_prep_poll_add(sqe, u->fd, POLLIN | POLLRDHUP);
	io_uring_sqe_set_data64(sqe, http_target_ud(u, HTTP_OP_TARGET_POLL));
	u->inflight++;
	u->polling = 1;
}

void http_target_maybe_free(struct worker *w, struct http_target *u)
{
	if (u->state != HU_CLOSING || u->inflight)
		return;
	worker_ring_close(w, u->fd);
	http_tls_target_free(w, u);
	free(u->in.p);
	free(u->out);
	free(u->head);
	u->state = HU_FREE;
	nlb_slot_free(&w->http.targets, u);
}

void http_target_close(struct worker *w, struct http_target *u)
{
	if (u->state == HU_CLOSING) {
		http_target_maybe_free(w, u);	/* a completion came back */
		return;
	}
	if (u->state == HU_FREE)
		return;
	if (u->state == HU_IDLE)
		pool_remove(w, u);
	u->state = HU_CLOSING;
	u->client = HTTP_NO_IDX;
	if (u->tls)
		http_tls_target_closing(u);
	if (u->inflight)
		worker_cancel_fd(w, u->fd);
	http_target_maybe_free(w, u);
}

struct http_target *http_target_of(struct worker *w, const struct io_uring_cqe *cqe)
{
	uint64_t ud = cqe->user_data;
	uint32_t idx = ud_idx(ud);
	struct http_target *u = idx < w->http.targets.n_slots ? http_target_at(w, idx) : NULL;
	if (u && u->slot.gen == ud_gen(ud) && u->state != HU_FREE)
		return u;
	worker_stale(w, cqe);
	return NULL;
}

void http_on_target_connect(struct worker *w, const struct io_uring_cqe *cqe)
{
	struct http_target *u = http_target_of(w, cqe);
	if (!u)
		return;
	u->inflight--;
	if (ud_op(cqe->user_data) == HTTP_OP_TARGET_CONNECT_TIMEOUT || u->state != HU_CONNECTING) {
		http_target_maybe_free(w, u);
		return;
	}
	struct http_client *c = http_target_client(w, u);
	if (!c) {
		http_target_close(w, u);
		return;
	}
	int res = cqe->res;
	if (res == 0) {
		struct nlb_tls_client *cli = w->rt->groups[u->group].conf->tls.client;
		if (!cli) {
			u->state = HU_BUSY;
			http_exchange_connected(w, c, u);
			return;
		}
		/* Its handshake next, in the connect's state. */
		if ((res = http_tls_target_start(w, u, cli)) == 0)
			return;
		if (res == -ENOMEM)
			STAT_INC(wstats(w, c->listener), nomem);
	}
	/* Failed: the socket goes now. */
	c->upstream = HTTP_NO_IDX;
	http_target_close(w, u);
	http_exchange_connect_failed(w, c, res);
}

void http_on_target_poll(struct worker *w, const struct io_uring_cqe *cqe)
{
	struct http_target *u = http_target_of(w, cqe);
	if (!u)
		return;
	u->inflight--;
	u->polling = 0;
	if (u->state == HU_IDLE && cqe->res != -ECANCELED)
		http_target_close(w, u);
	else
		http_target_maybe_free(w, u);
}

void http_pools_tick(struct worker *w, bool all)
{
	for (size_t g = 0; g < NLB_MAX_GROUPS; g++) {
		struct http_pool *p = &w->http.pools[g];
		for (uint32_t t = 0; t < p->n; t++) {
			if (!p->count[t])
				continue;
			bool gone = all || target_state(w->rt, g, t) != TARGET_ACTIVE;
			struct http_target *u;
			while ((u = nlb_idle_oldest(&w->http.targets, &p->idle[t])) &&
			       (gone || u->idle_since_ms + NLB_HTTP_POOL_IDLE_MS <= w->now_ms))
				http_target_close(w, u);
		}
	}
}

void http_pools_free(struct worker *w)
{
	if (!w->http.pools)
		return;
	for (size_t g = 0; g < NLB_MAX_GROUPS; g++) {
		free(w->http.pools[g].idle);
		free(w->http.pools[g].count);
	}
	free(w->http.pools);
	w->http.pools = NULL;
}
