/* A worker's TCP connections, from accept to close.  A connection is
 * connected to a target with IORING_OP_CONNECT under a linked timeout,
 * retried on other targets, then forwarded in one of two ways: copy
 * (multishot recv into the worker's provided buffers, one sendmsg in
 * flight per direction) or splice (multishot poll for readiness, then
 * splice(2) through a pooled pipe, inline on the worker, non-blocking).
 * A connection is freed only when no io_uring request refers to it. */
#include "stream/tcp_proxy.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "stream/admission.h"
#include "balance/pick.h"
#include "core/listener.h"
#include "proxyproto.h"
#include "balance/target_set.h"
#include "log.h"
#include "tunables.h"
#include "flowtab.h"
#include "tuple_hash.h"

enum { DIR_C2T = 0, DIR_T2C = 1 };

static inline int half_src(const struct conn *c, int dir) { return dir == DIR_C2T ? c->cfd : c->tfd; }
static inline int half_dst(const struct conn *c, int dir) { return dir == DIR_C2T ? c->tfd : c->cfd; }

static inline uint64_t conn_ud(const struct conn *c, enum op op)
{
	return ud_pack(op, c->idx, c->gen);
}

static void set_nodelay(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void set_linger0(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

void tcp_close_reset(int fd)
{
	set_linger0(fd);
	close(fd);
}

/* ---- connection slots ---------------------------------------------- */

static int conn_grow(struct worker *w)
{
	struct conn **chunks = realloc(w->chunks, (w->n_chunks + 1) * sizeof(*chunks));
	if (!chunks)
		return -ENOMEM;
	w->chunks = chunks;
	struct conn *chunk = calloc(NLB_CONN_CHUNK, sizeof(*chunk));
	if (!chunk)
		return -ENOMEM;
	chunks[w->n_chunks++] = chunk;
	uint32_t base = w->n_slots;
	for (uint32_t i = 0; i < NLB_CONN_CHUNK; i++) {
		chunk[i].idx = base + i;
		chunk[i].lru_next = i + 1 < NLB_CONN_CHUNK ? base + i + 1 : w->free_head;
	}
	w->free_head = base;
	w->n_slots += NLB_CONN_CHUNK;
	return 0;
}

static struct conn *conn_alloc(struct worker *w)
{
	if (w->free_head == NO_IDX && conn_grow(w) < 0)
		return NULL;
	struct conn *c = conn_at(w, w->free_head);
	w->free_head = c->lru_next;
	uint32_t idx = c->idx, gen = c->gen;
	memset(c, 0, sizeof(*c));
	c->idx = idx;
	c->gen = gen;
	c->cfd = c->tfd = -1;
	for (int d = 0; d < 2; d++) {
		c->half[d].head = c->half[d].tail = NO_BUF;
		c->half[d].pipe = NO_IDX;
		c->half[d].send_ctx = NO_IDX;
	}
	c->lru_prev = c->lru_next = NO_IDX;
	c->src_slot = NLB_SRCLIMIT_NO_SLOT;
	w->live++;
	return c;
}

/* ---- idle order: least recently active first, per listener --------- */

static void lru_remove(struct worker *w, struct conn *c)
{
	struct worker_listener *l = &w->listeners[c->listener];
	if (c->lru_prev != NO_IDX)
		conn_at(w, c->lru_prev)->lru_next = c->lru_next;
	else if (l->lru_head == c->idx)
		l->lru_head = c->lru_next;
	else
		return;		/* not on the list */
	if (c->lru_next != NO_IDX)
		conn_at(w, c->lru_next)->lru_prev = c->lru_prev;
	else
		l->lru_tail = c->lru_prev;
	c->lru_prev = c->lru_next = NO_IDX;
}

static void lru_append(struct worker *w, struct conn *c)
{
	struct worker_listener *l = &w->listeners[c->listener];
	c->lru_next = NO_IDX;
	c->lru_prev = l->lru_tail;
	if (l->lru_tail != NO_IDX)
		conn_at(w, l->lru_tail)->lru_next = c->idx;
	else
		l->lru_head = c->idx;
	l->lru_tail = c->idx;
}

static inline void conn_touch(struct worker *w, struct conn *c)
{
	/* The clock is coarse: most completions in a burst see the same
	 * millisecond and skip the list surgery. */
	if (c->last_active_ms == w->now_ms)
		return;
	c->last_active_ms = w->now_ms;
	lru_remove(w, c);
	lru_append(w, c);
}

/* ---- buffers, send contexts and pipes ------------------------------- */

static void buf_recycle(struct worker *w, uint16_t bid)
{
	nlb_bufring_recycle(&w->bufs, bid);
	w->bufs_returned = true;
}

static void half_enqueue(struct worker *w, struct half *h, uint16_t bid, uint32_t len)
{
	w->buf_len[bid] = len;
	w->buf_off[bid] = 0;
	w->buf_next[bid] = NO_BUF;
	if (h->tail != NO_BUF)
		w->buf_next[h->tail] = bid;
	else
		h->head = bid;
	h->tail = bid;
	h->queued += len;
}

static void half_drop_queue(struct worker *w, struct half *h)
{
	while (h->head != NO_BUF) {
		uint16_t bid = h->head;
		h->head = w->buf_next[bid];
		buf_recycle(w, bid);
	}
	h->tail = NO_BUF;
	h->queued = 0;
}

static struct send_ctx *sctx_get(struct worker *w, uint32_t *idx)
{
	if (w->sctx_free == NO_IDX) {
		struct send_ctx **arr = realloc(w->sctx, (w->n_sctx + 1) * sizeof(*arr));
		if (!arr)
			return NULL;
		w->sctx = arr;
		struct send_ctx *s = calloc(1, sizeof(*s));
		if (!s)
			return NULL;
		s->next_free = NO_IDX;
		arr[w->n_sctx] = s;
		w->sctx_free = w->n_sctx++;
	}
	*idx = w->sctx_free;
	struct send_ctx *s = w->sctx[*idx];
	w->sctx_free = s->next_free;
	return s;
}

static void sctx_put(struct worker *w, uint32_t idx)
{
	w->sctx[idx]->next_free = w->sctx_free;
	w->sctx_free = idx;
}

static uint32_t pipe_get(struct worker *w)
{
	if (w->pipes_free != NO_IDX) {
		uint32_t idx = w->pipes_free;
		w->pipes_free = w->pipes[idx].next_free;
		w->pipes_cached--;
		return idx;
	}
	int fds[2];
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0)
		return NO_IDX;
	/* Larger pipes move more per splice; when the per-user pipe budget
	 * (pipe-user-pages-soft) is spent the kernel refuses and the pipe
	 * keeps its default size, which still works. */
	fcntl(fds[1], F_SETPIPE_SZ, (int)NLB_PIPE_SIZE);
	uint32_t idx;
	if (w->pipe_slots_free != NO_IDX) {
		idx = w->pipe_slots_free;
		w->pipe_slots_free = w->pipes[idx].next_free;
	} else {
		struct pipe_pair *arr = realloc(w->pipes, (w->n_pipes + 1) * sizeof(*arr));
		if (!arr) {
			close(fds[0]);
			close(fds[1]);
			return NO_IDX;
		}
		w->pipes = arr;
		idx = w->n_pipes++;
	}
	w->pipes[idx].rfd = fds[0];
	w->pipes[idx].wfd = fds[1];
	return idx;
}

/* A pipe that still holds bytes is closed, never reused. */
static void pipe_put(struct worker *w, uint32_t idx, bool dirty)
{
	struct pipe_pair *p = &w->pipes[idx];
	if (!dirty && w->pipes_cached < NLB_PIPE_POOL_KEEP) {
		p->next_free = w->pipes_free;
		w->pipes_free = idx;
		w->pipes_cached++;
		return;
	}
	close(p->rfd);
	close(p->wfd);
	p->rfd = p->wfd = -1;
	p->next_free = w->pipe_slots_free;
	w->pipe_slots_free = idx;
}

static void half_release_pipe(struct worker *w, struct half *h)
{
	if (h->pipe == NO_IDX)
		return;
	pipe_put(w, h->pipe, h->queued != 0);
	h->pipe = NO_IDX;
	h->queued = 0;
}

/* ---- closing -------------------------------------------------------- */

static void conn_uncount(struct worker *w, struct conn *c);

static void conn_finalize(struct worker *w, struct conn *c)
{
	const struct listener_rt *lr = &w->rt->listeners[c->listener];
	for (int d = 0; d < 2; d++) {
		struct half *h = &c->half[d];
		if (h->pipe != NO_IDX)
			half_release_pipe(w, h);
		else if (w->bufs.br)
			half_drop_queue(w, h);
	}
	if (c->reset) {
		set_linger0(c->cfd);
		if (c->tfd >= 0)
			set_linger0(c->tfd);
	}
	close(c->cfd);
	if (c->tfd >= 0)
		close(c->tfd);
	conn_uncount(w, c);
	admission_release(w, c->listener, c->src_slot);
	if (c->ext) {
		c->ext->next_free = w->ext_free;
		w->ext_free = c->ext;
		c->ext = NULL;
	}
	if (lr->conf->max_connections)
		atomic_fetch_sub_explicit(&((struct listener_rt *)lr)->active, 1,
					  memory_order_relaxed);
	STAT_DEC(wstats(w, c->listener), active);
	STAT_INC(wstats(w, c->listener), closed);
	c->gen = (c->gen + 1) & 0xffffff;
	c->state = CONN_FREE;
	c->lru_next = w->free_head;
	w->free_head = c->idx;
	w->live--;
}

static inline void conn_maybe_finalize(struct worker *w, struct conn *c)
{
	if (c->state == CONN_CLOSING && c->inflight == 0)
		conn_finalize(w, c);
}

/* Starts closing: pending requests are cancelled (close(2) would not
 * cancel them) and the sockets are closed once the last one completes.
 * After this the caller must not touch c again. */
static void conn_close(struct worker *w, struct conn *c, bool reset)
{
	if (c->state == CONN_CLOSING || c->state == CONN_FREE)
		return;
	c->state = CONN_CLOSING;
	c->reset = reset;
	lru_remove(w, c);
	if (c->inflight) {
		worker_cancel_fd(w, c->cfd);
		if (c->tfd >= 0)
			worker_cancel_fd(w, c->tfd);
	}
	conn_maybe_finalize(w, c);
}

/* A reset seen on the source (dir's reader) or destination (dir's writer). */
static void count_reset(struct worker *w, const struct conn *c, int dir, bool on_src)
{
	bool target = (dir == DIR_C2T) != on_src;
	if (target) {
		STAT_INC(wstats(w, c->listener), target_reset);
		/* A target resetting live connections counts toward passive
		 * health detection, like a refused connect. */
		pick_live_result(w->rt, w->id, c->group, c->target, false);
	} else {
		STAT_INC(wstats(w, c->listener), client_reset);
	}
}

/* The source of dir sent FIN and everything before it was delivered:
 * pass the FIN on.  When both directions are done, close. */
static void half_shutdown(struct worker *w, struct conn *c, int dir)
{
	struct half *h = &c->half[dir];
	h->flags |= HALF_SHUT;
	shutdown(half_dst(c, dir), SHUT_WR);
	if ((c->half[0].flags & HALF_SHUT) && (c->half[1].flags & HALF_SHUT))
		conn_close(w, c, false);
}

/* ---- copy path ------------------------------------------------------ */

static void arm_poll(struct worker *w, struct conn *c, int dir, bool out);

/* auto: once the copy side of a bulk direction is quiet (receive ended,
 * queue sent), hand the socket to the splice path; order is kept
 * because nothing is read from the socket in between. */
static void half_try_splice(struct worker *w, struct conn *c, int dir)
{
	struct half *h = &c->half[dir];
	if (c->state != CONN_OPEN || !(h->flags & HALF_SPLICE) ||
	    (h->flags & (HALF_RECV | HALF_SEND | HALF_POLL_IN | HALF_POLL_OUT | HALF_EOF)) ||
	    h->head != NO_BUF)
		return;
	arm_poll(w, c, dir, false);
}

static void cancel_recv(struct worker *w, struct conn *c, int dir)
{
	struct half *h = &c->half[dir];
	if (!(h->flags & HALF_RECV) || (h->flags & HALF_RECV_CANCEL))
		return;
	struct io_uring_sqe *sqe = nlb_ring_sqe(&w->ring);
	io_uring_prep_cancel64(sqe, conn_ud(c, (enum op)(OP_RECV + dir)), 0);
	io_uring_sqe_set_data64(sqe, ud_pack(OP_NONE, 0, 0));
	sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	h->flags |= HALF_RECV_CANCEL;
}

static void arm_recv(struct worker *w, struct conn *c, int dir)
{
	struct io_uring_sqe *sqe = nlb_ring_sqe(&w->ring);
	io_uring_prep_recv_multishot(sqe, half_src(c, dir), NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = NLB_BUF_GROUP;
	io_uring_sqe_set_data64(sqe, conn_ud(c, (enum op)(OP_RECV + dir)));
	c->half[dir].flags |= HALF_RECV;
	c->inflight++;
}

static void maybe_rearm_recv(struct worker *w, struct conn *c, int dir)
{
	struct half *h = &c->half[dir];
	if (c->state != CONN_OPEN ||
	    (h->flags & (HALF_RECV | HALF_EOF | HALF_STARVED | HALF_SPLICE)) ||
	    h->queued >= NLB_DIR_LOW_WATER)
		return;
	arm_recv(w, c, dir);
}

static void start_send(struct worker *w, struct conn *c, int dir)
{
	struct half *h = &c->half[dir];
	if (h->head == NO_BUF || (h->flags & HALF_SEND))
		return;
	struct io_uring_sqe *sqe = nlb_ring_sqe(&w->ring);
	int dst = half_dst(c, dir);
	uint16_t bid = h->head;
	unsigned n = 0;
	if (w->buf_next[bid] == NO_BUF) {
		io_uring_prep_send(sqe, dst, nlb_bufring_addr(&w->bufs, bid) + w->buf_off[bid],
				   w->buf_len[bid] - w->buf_off[bid], MSG_NOSIGNAL);
		n = 1;
	} else {
		uint32_t sidx;
		struct send_ctx *s = sctx_get(w, &sidx);
		if (!s) {
			io_uring_prep_nop(sqe);
			io_uring_sqe_set_data64(sqe, ud_pack(OP_NONE, 0, 0));
			STAT_INC(wstats(w, c->listener), nomem);
			conn_close(w, c, true);
			return;
		}
		for (; bid != NO_BUF && n < NLB_SEND_IOV_MAX; bid = w->buf_next[bid], n++) {
			s->iov[n].iov_base = nlb_bufring_addr(&w->bufs, bid) + w->buf_off[bid];
			s->iov[n].iov_len = w->buf_len[bid] - w->buf_off[bid];
		}
		memset(&s->msg, 0, sizeof(s->msg));
		s->msg.msg_iov = s->iov;
		s->msg.msg_iovlen = n;
		io_uring_prep_sendmsg(sqe, dst, &s->msg, MSG_NOSIGNAL);
		h->send_ctx = sidx;
	}
	io_uring_sqe_set_data64(sqe, conn_ud(c, (enum op)(OP_SEND + dir)));
	h->send_nbufs = (uint8_t)n;
	h->flags |= HALF_SEND;
	c->inflight++;
}

/* Bytes from the target: for passive health detection the target works
 * (a connect that succeeds and is then reset does not count as working). */
static inline void note_target_spoke(struct worker *w, struct conn *c, int dir)
{
	if (dir != DIR_T2C || c->target_spoke)
		return;
	c->target_spoke = 1;
	pick_live_result(w->rt, w->id, c->group, c->target, true);
}

static inline void count_bytes(struct worker *w, const struct conn *c, int dir, uint64_t n)
{
	if (dir == DIR_C2T)
		STAT_ADD(wstats(w, c->listener), bytes_in, n);
	else
		STAT_ADD(wstats(w, c->listener), bytes_out, n);
}

static void on_recv(struct worker *w, struct conn *c, int dir, const struct io_uring_cqe *cqe)
{
	struct half *h = &c->half[dir];
	int res = cqe->res;
	bool more = cqe->flags & IORING_CQE_F_MORE;
	if (!more) {
		h->flags &= (uint16_t)~(HALF_RECV | HALF_RECV_CANCEL);
		c->inflight--;
	}
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		uint16_t bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		if (res > 0 && c->state == CONN_OPEN)
			half_enqueue(w, h, bid, (uint32_t)res);
		else
			buf_recycle(w, bid);
	}
	if (c->state != CONN_OPEN) {
		conn_maybe_finalize(w, c);
		return;
	}
	if (res > 0) {
		count_bytes(w, c, dir, (uint64_t)res);
		note_target_spoke(w, c, dir);
		conn_touch(w, c);
		start_send(w, c, dir);
		if (c->state != CONN_OPEN)
			return;
		if (w->rt->forwarding == NLB_FWD_AUTO && !(h->flags & HALF_SPLICE)) {
			h->full_streak = (uint32_t)res == NLB_BUF_SIZE ? h->full_streak + 1 : 0;
			if (h->full_streak >= NLB_AUTO_SPLICE_STREAK) {
				h->flags |= HALF_SPLICE;
				STAT_INC(wstats(w, c->listener), auto_splice);
				cancel_recv(w, c, dir);
			}
		}
		/* Backpressure: the destination is slower than the source.
		 * Stop receiving (the kernel's socket buffer and TCP window
		 * push back on the sender) until the queue drains. */
		if (h->queued >= NLB_DIR_HIGH_WATER)
			cancel_recv(w, c, dir);
		if (!more) {
			maybe_rearm_recv(w, c, dir);
			half_try_splice(w, c, dir);
		}
		return;
	}
	if (res == 0) {
		h->flags |= HALF_EOF;
		if (!(h->flags & HALF_SEND) && h->head == NO_BUF)
			half_shutdown(w, c, dir);
		return;
	}
	if (res == -ENOBUFS) {
		if (h->flags & HALF_SPLICE) {
			half_try_splice(w, c, dir);
			return;
		}
		/* The worker's buffers are all queued somewhere: wait for some
		 * to come back rather than spinning on the kernel. */
		if (w->n_starved == w->cap_starved) {
			uint32_t cap = w->cap_starved ? w->cap_starved * 2 : 64;
			uint64_t *arr = realloc(w->starved, cap * sizeof(*arr));
			if (!arr) {
				STAT_INC(wstats(w, c->listener), nomem);
				conn_close(w, c, true);
				return;
			}
			w->starved = arr;
			w->cap_starved = cap;
		}
		h->flags |= HALF_STARVED;
		w->starved[w->n_starved++] = (uint64_t)c->gen << 33 | (uint64_t)c->idx << 1 | (unsigned)dir;
		return;
	}
	if (res == -ECANCELED) {
		maybe_rearm_recv(w, c, dir);
		half_try_splice(w, c, dir);
		return;
	}
	count_reset(w, c, dir, true);
	conn_close(w, c, true);
}

void tcp_rearm_starved(struct worker *w)
{
	if (!w->bufs_returned || w->n_starved == 0)
		return;
	uint32_t n = w->n_starved;
	w->n_starved = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t e = w->starved[i];
		uint32_t idx = (uint32_t)(e >> 1) & 0xffffffffu;
		int dir = (int)(e & 1);
		struct conn *c = conn_at(w, idx);
		if (c->gen != (uint32_t)(e >> 33) || c->state != CONN_OPEN)
			continue;
		c->half[dir].flags &= (uint16_t)~HALF_STARVED;
		maybe_rearm_recv(w, c, dir);
	}
}

static void on_send(struct worker *w, struct conn *c, int dir, int res)
{
	struct half *h = &c->half[dir];
	unsigned nbufs = h->send_nbufs;
	c->inflight--;
	h->flags &= (uint16_t)~HALF_SEND;
	h->send_nbufs = 0;
	if (h->send_ctx != NO_IDX) {
		sctx_put(w, h->send_ctx);
		h->send_ctx = NO_IDX;
	}
	if (c->state != CONN_OPEN) {
		conn_maybe_finalize(w, c);
		return;
	}
	if (res == -EAGAIN) {
		/* Seen under load: io_uring gives up polling a request that
		 * was polled once and still found no room, hands it to io-wq,
		 * and there the non-blocking socket says EAGAIN.  Wait for
		 * room ourselves, then send again. */
		arm_poll(w, c, dir, true);
		return;
	}
	if (res < 0) {
		count_reset(w, c, dir, false);
		conn_close(w, c, true);
		return;
	}
	/* No MSG_WAITALL: a short send (the socket buffer filled) leaves
	 * the rest queued, to go out in the next send. */
	uint32_t left = (uint32_t)res;
	for (unsigned i = 0; i < nbufs && left > 0 && h->head != NO_BUF; i++) {
		uint16_t bid = h->head;
		uint32_t avail = w->buf_len[bid] - w->buf_off[bid];
		if (left < avail) {
			w->buf_off[bid] += left;
			h->queued -= left;
			left = 0;
			break;
		}
		left -= avail;
		h->queued -= avail;
		h->head = w->buf_next[bid];
		if (h->head == NO_BUF)
			h->tail = NO_BUF;
		buf_recycle(w, bid);
	}
	if (h->head != NO_BUF) {
		start_send(w, c, dir);
		if (c->state != CONN_OPEN)
			return;
	} else if (h->flags & HALF_EOF) {
		half_shutdown(w, c, dir);
		return;
	}
	maybe_rearm_recv(w, c, dir);
	half_try_splice(w, c, dir);
}

/* ---- splice path ---------------------------------------------------- */

static void arm_poll(struct worker *w, struct conn *c, int dir, bool out)
{
	struct io_uring_sqe *sqe = nlb_ring_sqe(&w->ring);
	if (out) {
		io_uring_prep_poll_add(sqe, half_dst(c, dir), POLLOUT);
		io_uring_sqe_set_data64(sqe, conn_ud(c, (enum op)(OP_POLL_OUT + dir)));
		c->half[dir].flags |= HALF_POLL_OUT;
	} else {
		c->half[dir].flags |= HALF_SPLICE;
		io_uring_prep_poll_multishot(sqe, half_src(c, dir), POLLIN | POLLRDHUP);
		io_uring_sqe_set_data64(sqe, conn_ud(c, (enum op)(OP_POLL_IN + dir)));
		c->half[dir].flags |= HALF_POLL_IN;
	}
	c->inflight++;
}

/* Moves what is readable from dir's source to its destination through
 * the half's pipe, never blocking.  Leaves bytes in the pipe (and waits
 * for POLLOUT) when the destination is full: the pipe is the bound. */
static void splice_pump(struct worker *w, struct conn *c, int dir)
{
	struct half *h = &c->half[dir];
	int src = half_src(c, dir), dst = half_dst(c, dir);
	for (unsigned round = 0; round < NLB_SPLICE_ROUNDS; round++) {
		if (h->queued) {
			ssize_t n = splice(w->pipes[h->pipe].rfd, NULL, dst, NULL, h->queued,
					   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n > 0) {
				h->queued -= (uint32_t)n;
				count_bytes(w, c, dir, (uint64_t)n);
				conn_touch(w, c);
				continue;
			}
			if (n < 0 && errno == EAGAIN) {
				if (!(h->flags & HALF_POLL_OUT))
					arm_poll(w, c, dir, true);
				return;
			}
			count_reset(w, c, dir, false);
			conn_close(w, c, true);
			return;
		}
		if (h->flags & HALF_EOF)
			return;
		if (h->pipe == NO_IDX) {
			h->pipe = pipe_get(w);
			if (h->pipe == NO_IDX) {
				STAT_INC(wstats(w, c->listener), nomem);
				conn_close(w, c, true);
				return;
			}
		}
		ssize_t n = splice(src, NULL, w->pipes[h->pipe].wfd, NULL, NLB_PIPE_SIZE,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n > 0) {
			h->queued = (uint32_t)n;
			note_target_spoke(w, c, dir);
			continue;
		}
		/* Empty pipe: give it back, an idle connection holds none. */
		half_release_pipe(w, h);
		if (n == 0) {
			h->flags |= HALF_EOF;
			half_shutdown(w, c, dir);
			return;
		}
		if (errno == EAGAIN)
			return;
		count_reset(w, c, dir, true);
		conn_close(w, c, true);
		return;
	}
	/* Still busy after our share of rounds: come back after the other
	 * connections' completions, through a NOP. */
	if (!(h->flags & HALF_MORE)) {
		struct io_uring_sqe *sqe = nlb_ring_sqe(&w->ring);
		io_uring_prep_nop(sqe);
		io_uring_sqe_set_data64(sqe, conn_ud(c, (enum op)(OP_SPLICE_MORE + dir)));
		h->flags |= HALF_MORE;
		c->inflight++;
	}
}

static void on_poll(struct worker *w, struct conn *c, int dir, enum op kind,
		    const struct io_uring_cqe *cqe)
{
	struct half *h = &c->half[dir];
	bool more = cqe->flags & IORING_CQE_F_MORE;
	if (kind == OP_POLL_IN) {
		if (!more) {
			h->flags &= (uint16_t)~HALF_POLL_IN;
			c->inflight--;
		}
	} else {
		h->flags &= (uint16_t)~(kind == OP_POLL_OUT ? HALF_POLL_OUT : HALF_MORE);
		c->inflight--;
	}
	if (c->state != CONN_OPEN) {
		conn_maybe_finalize(w, c);
		return;
	}
	if (kind == OP_POLL_OUT && h->head != NO_BUF) {
		/* Room for a copy-path send that came back with EAGAIN. */
		start_send(w, c, dir);
		return;
	}
	if (cqe->res >= 0 || kind == OP_SPLICE_MORE)
		splice_pump(w, c, dir);
	half_try_splice(w, c, dir);
}

/* ---- connecting ----------------------------------------------------- */

static void start_forwarding(struct worker *w, struct conn *c)
{
	c->state = CONN_OPEN;
	conn_touch(w, c);
	for (int dir = 0; dir < 2; dir++) {
		if (w->rt->forwarding == NLB_FWD_SPLICE)
			arm_poll(w, c, dir, false);
		else
			arm_recv(w, c, dir);
	}
}

/* A maglev flow: the hash that picks its target (the client's address
 * and port and the listener's address, from the socket: the accept CQE
 * has none), and its key in the worker's flow table: the whole tuple, or
 * with hash_fields = source_ip the client's address and the group. */
struct flow {
	uint64_t lb_hash;
	uint64_t key_hash;
	struct nlb_tuple key;
};

/* The client's address: the one its PROXY header gave, or its own. */
static const struct sockaddr *conn_client(const struct conn *c, struct sockaddr_storage *ss)
{
	if (c->ext && c->ext->has_addr)
		return (const struct sockaddr *)&c->ext->client;
	socklen_t len = sizeof(*ss);
	if (getpeername(c->cfd, (struct sockaddr *)ss, &len) < 0)
		return NULL;
	return (const struct sockaddr *)ss;
}

/* The address the client connected to, likewise. */
static const struct sockaddr *conn_local(const struct conn *c, struct sockaddr_storage *ss)
{
	if (c->ext && c->ext->has_addr)
		return (const struct sockaddr *)&c->ext->local;
	socklen_t len = sizeof(*ss);
	if (getsockname(c->cfd, (struct sockaddr *)ss, &len) < 0)
		return NULL;
	return (const struct sockaddr *)ss;
}

static int flow_of(const struct conn *c, const struct nlb_listener_conf *lc,
		   const struct nlb_group_conf *gc, struct flow *f)
{
	struct sockaddr_storage peer;
	const struct sockaddr *client = conn_client(c, &peer);
	if (!client)
		return -errno;
	int ret = nlb_tuple_from_sockaddr(&f->key, client,
					  (const struct sockaddr *)&lc->addr.ss, IPPROTO_TCP);
	if (ret < 0)
		return ret;
	f->lb_hash = nlb_tuple_hash(&f->key, gc->hash_seed, (enum nlb_hash_fields)gc->hash_fields);
	if (gc->hash_fields == NLB_HASH_SOURCE_IP) {
		memset(f->key.dst, 0, sizeof(f->key.dst));
		f->key.sport = 0;
		f->key.dport = c->group;
		f->key.proto = 0;
	}
	f->key_hash = nlb_tuple_hash(&f->key, 0, NLB_HASH_5TUPLE);
	return 0;
}

/* maglev: a flow the table knows goes back to its target while that can
 * take it, so a client that was moved off a refusing target (source_ip)
 * stays where it works, and flows keep their target when the table
 * changes; anything else is placed by the hash and remembered. */
static int pick_flow(struct worker *w, struct conn *c, size_t group,
		     const struct nlb_listener_conf *lc, const struct nlb_group_conf *gc)
{
	struct flow f;
	if (flow_of(c, lc, gc, &f) < 0)
		return pick_target(w->rt, &w->pick, group, 0, c->attempts, c->tried);
	uint32_t v;
	if (w->flows && c->attempts == 0 &&
	    nlb_flowtab_lookup(w->flows, &f.key, f.key_hash, w->now_ms, &v) == 0 &&
	    pick_eligible(w->rt, group, v, c->tried)) {
		STAT_INC(wstats(w, c->listener), flow_hits);
		return (int)v;
	}
	int t = pick_target(w->rt, &w->pick, group, f.lb_hash, c->attempts, c->tried);
	if (t >= 0 && w->flows)
		nlb_flowtab_insert(w->flows, &f.key, f.key_hash, (uint32_t)t, w->now_ms);
	return t;
}

static void conn_uncount(struct worker *w, struct conn *c)
{
	if (c->counted) {
		pick_conn_add(w->rt, w->id, c->group, c->target, -1);
		c->counted = 0;
	}
}

static void start_connect(struct worker *w, struct conn *c)
{
	const struct listener_rt *lr = &w->rt->listeners[c->listener];
	size_t group = c->group;
	const struct group_rt *grt = &w->rt->groups[group];
	int t = grt->conf->algorithm == NLB_ALG_MAGLEV ?
		pick_flow(w, c, group, lr->conf, grt->conf) :
		pick_target(w->rt, &w->pick, group, 0, c->attempts, c->tried);
	if (t < 0) {
		if (c->attempts == 0 && pick_fail_closed(w->rt, group))
			STAT_INC(wstats(w, c->listener), no_healthy);
		else
			STAT_INC(wstats(w, c->listener), no_target);
		nlb_debug_rl("listener %s: no target left for a client after %u attempts",
			  lr->conf->name, c->attempts);
		conn_close(w, c, true);
		return;
	}
	/* The table offered slot t, so it holds this target until this
	 * worker's next quiescent point at least (target_set.c). */
	const struct target_rt *tc = target_at(w->rt, group, (uint32_t)t);
	c->target = (uint32_t)t;
	if (t < 64)
		c->tried |= 1ull << t;
	c->attempts++;
	pick_conn_add(w->rt, w->id, group, c->target, 1);
	c->counted = 1;
	int fd = socket(tc->addr.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 && (errno == EMFILE || errno == ENFILE) && w->reserve_fd >= 0) {
		/* The client took the last descriptor: spend the reserve on
		 * its target socket, and let later clients wait in the
		 * backlog rather than be accepted and reset. */
		close(w->reserve_fd);
		w->reserve_fd = -1;
		worker_pause_accept(w);
		fd = socket(tc->addr.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	}
	if (fd < 0) {
		STAT_INC(wstats(w, c->listener), nomem);
		conn_close(w, c, true);
		return;
	}
	set_nodelay(fd);
	c->tfd = fd;
	/* The connect and its timeout are one link: both must go in the
	 * same submission. */
	if (io_uring_sq_space_left(&w->ring) < 2)
		io_uring_submit(&w->ring);
	struct io_uring_sqe *sqe = nlb_ring_sqe(&w->ring);
	io_uring_prep_connect(sqe, fd, (const struct sockaddr *)&tc->addr.ss, tc->addr.len);
	io_uring_sqe_set_data64(sqe, conn_ud(c, OP_CONNECT));
	sqe->flags |= IOSQE_IO_LINK;
	sqe = nlb_ring_sqe(&w->ring);
	/* In the group's configuration: a reload that replaces it retires
	 * the old one only after this worker's next quiescent point, and
	 * the kernel reads it at submission, before that. */
	io_uring_prep_link_timeout(sqe, (struct __kernel_timespec *)&grt->conf->connect_timeout_ts,
				   0);
	io_uring_sqe_set_data64(sqe, conn_ud(c, OP_CONNECT_TIMEOUT));
	c->inflight += 2;
}

/* The PROXY header for c's target, before any byte of the client's.
 * Just connected, the socket's send buffer is empty, so these few bytes
 * leave at once and whole: a plain send, not a ring operation. */
static int send_proxy_header(const struct conn *c, enum nlb_proxy_protocol version)
{
	struct sockaddr_storage peer, local;
	const struct sockaddr *src = conn_client(c, &peer);
	const struct sockaddr *dst = conn_local(c, &local);
	if (!src || !dst)
		return -errno;
	uint8_t hdr[NLB_PROXYPROTO_V1_MAX];
	_Static_assert(NLB_PROXYPROTO_V1_MAX >= NLB_PROXYPROTO_V2_MAX_OUT, "room for v2");
	int n = version == NLB_PP_V1 ? nlb_proxyproto_write_v1(hdr, sizeof(hdr), src, dst) :
		nlb_proxyproto_write_v2(hdr, sizeof(hdr), SOCK_STREAM, src, dst);
	if (n < 0)
		return n;
	ssize_t sent = send(c->tfd, hdr, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (sent < 0)
		return -errno;
	return sent == n ? 0 : -EAGAIN;
}

static void on_connect(struct worker *w, struct conn *c, int res)
{
	c->inflight--;
	if (c->state != CONN_CONNECTING) {
		conn_maybe_finalize(w, c);
		return;
	}
	const struct nlb_group_conf *g = w->rt->groups[c->group].conf;
	if (res == 0) {
		if (target_state(w->rt, c->group, c->target) == TARGET_DRAIN_CLOSING) {
			STAT_INC(wstats(w, c->listener), drain_reset);
			conn_close(w, c, true);
			return;
		}
		int ret = g->proxy_protocol == NLB_PP_NONE ? 0 :
			  send_proxy_header(c, g->proxy_protocol);
		if (ret < 0) {
			STAT_INC(wstats(w, c->listener), connect_error);
			nlb_debug_rl("target %s in group %s: PROXY header not sent: %s",
				  target_at(w->rt, c->group, c->target)->addr_text, g->name,
				  strerror(-ret));
			conn_close(w, c, true);
			return;
		}
		start_forwarding(w, c);
		return;
	}
	const char *why;
	if (res == -ECANCELED || res == -ETIME) {
		STAT_INC(wstats(w, c->listener), connect_timeout);
		why = "timeout";
	} else if (res == -ECONNREFUSED) {
		STAT_INC(wstats(w, c->listener), connect_refused);
		why = "refused";
	} else {
		STAT_INC(wstats(w, c->listener), connect_error);
		why = strerror(-res);
	}
	nlb_debug_rl("target %s in group %s: connect failed (%s), attempt %u of %u",
		  target_at(w->rt, c->group, c->target)->addr_text, g->name, why, c->attempts,
		  g->connect_retries + 1);
	if (res == -ECANCELED || res == -ETIME || res == -ECONNREFUSED)
		pick_live_result(w->rt, w->id, c->group, c->target, false);
	/* The connect has completed, and its linked timeout never touches
	 * the socket: closing it now is safe. */
	close(c->tfd);
	c->tfd = -1;
	conn_uncount(w, c);
	if (c->attempts > g->connect_retries) {
		STAT_INC(wstats(w, c->listener), no_target);
		conn_close(w, c, true);
		return;
	}
	start_connect(w, c);
}

/* ---- entry points ---------------------------------------------------- */

/* The listener's allow/deny lists and per-source limits for c's client
 * (from its PROXY header, when it sent one); a refused client is reset
 * at once and costs no target connection.  False when refused. */
static bool conn_admit(struct worker *w, struct conn *c)
{
	const struct nlb_listener_conf *lc = w->rt->listeners[c->listener].conf;
	if (!lc->allow && !lc->deny && !w->listeners[c->listener].srclimit.entries)
		return true;
	struct sockaddr_storage ss;
	const struct sockaddr *client = conn_client(c, &ss);
	struct sockaddr none = { .sa_family = AF_UNSPEC };
	if (admission_check(w, c->listener, client ? client : &none, false, &c->src_slot) == 0)
		return true;
	conn_close(w, c, true);
	return false;
}

/* ---- the client's PROXY header -------------------------------------- */

/* Waits for more of the header (or its timeout): a poll, so that bytes
 * are only looked at, never taken, until a whole header is there. */
static void header_arm(struct worker *w, struct conn *c)
{
	struct conn_ext *x = c->ext;
	uint64_t left = x->deadline_ms > w->now_ms ? x->deadline_ms - w->now_ms : 0;
	x->left.tv_sec = (long long)(left / 1000);
	x->left.tv_nsec = (long long)(left % 1000) * 1000000;
	if (io_uring_sq_space_left(&w->ring) < 2)
		io_uring_submit(&w->ring);
	struct io_uring_sqe *sqe = nlb_ring_sqe(&w->ring);
	io_uring_prep_poll_add(sqe, c->cfd, POLLIN | POLLRDHUP);
	io_uring_sqe_set_data64(sqe, conn_ud(c, OP_HEADER_POLL));
	sqe->flags |= IOSQE_IO_LINK;
	sqe = nlb_ring_sqe(&w->ring);
	io_uring_prep_link_timeout(sqe, &x->left, 0);
	io_uring_sqe_set_data64(sqe, conn_ud(c, OP_HEADER_TIMEOUT));
	c->inflight += 2;
}

static void header_start(struct worker *w, struct conn *c)
{
	struct conn_ext *x = w->ext_free;
	if (x)
		w->ext_free = x->next_free;
	else if (!(x = malloc(sizeof(*x)))) {
		STAT_INC(wstats(w, c->listener), nomem);
		conn_close(w, c, true);
		return;
	}
	c->ext = x;
	x->has_addr = false;
	x->lowat = false;
	x->deadline_ms = w->now_ms + w->rt->listeners[c->listener].conf->proxy_protocol_timeout_ms;
	c->state = CONN_HEADER;
	header_arm(w, c);
}

static void header_refuse(struct worker *w, struct conn *c, const char *why)
{
	STAT_INC(wstats(w, c->listener), proxy_header_invalid);
	nlb_debug_rl("listener %s: client closed: %s", w->rt->listeners[c->listener].conf->name, why);
	conn_close(w, c, true);
}

/* Bytes (or the end) arrived: peek at all of them; a whole header is
 * then read off the socket, exactly, and the rest stays for the target. */
static void header_read(struct worker *w, struct conn *c, unsigned revents)
{
	struct conn_ext *x = c->ext;
	ssize_t n = recv(c->cfd, x->buf, sizeof(x->buf), MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		header_arm(w, c);
		return;
	}
	if (n <= 0) {
		header_refuse(w, c, n == 0 ? "closed before a PROXY header" : strerror(errno));
		return;
	}
	struct nlb_proxyproto pp;
	int r = nlb_proxyproto_parse(x->buf, (size_t)n, &pp);
	if (r == -EAGAIN) {
		if (revents & (POLLRDHUP | POLLHUP | POLLERR)) {
			header_refuse(w, c, "closed in the middle of a PROXY header");
			return;
		}
		/* Wake up only once there is more than what was seen. */
		int want = (int)n + 1;
		setsockopt(c->cfd, SOL_SOCKET, SO_RCVLOWAT, &want, sizeof(want));
		x->lowat = true;
		header_arm(w, c);
		return;
	}
	if (r < 0) {
		header_refuse(w, c, r == -EMSGSIZE ? "PROXY header too long" : "bad PROXY header");
		return;
	}
	if (recv(c->cfd, x->buf, (size_t)r, MSG_DONTWAIT) != r) {
		header_refuse(w, c, "PROXY header could not be read off the socket");
		return;
	}
	if (x->lowat) {
		int one = 1;
		setsockopt(c->cfd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof(one));
	}
	if (pp.has_addr) {
		x->client = pp.src;
		x->local = pp.dst;
		x->has_addr = true;
	}
	c->state = CONN_CONNECTING;
	if (conn_admit(w, c))
		start_connect(w, c);
}

static void on_header_poll(struct worker *w, struct conn *c, int res)
{
	c->inflight--;
	if (c->state != CONN_HEADER) {
		conn_maybe_finalize(w, c);
		return;
	}
	if (res == -ECANCELED) {
		/* the linked timeout went off first */
		STAT_INC(wstats(w, c->listener), proxy_header_timeout);
		conn_close(w, c, true);
		return;
	}
	if (res < 0) {
		header_refuse(w, c, strerror(-res));
		return;
	}
	header_read(w, c, (unsigned)res);
}

/* ---- entry points ---------------------------------------------------- */

void tcp_accept(struct worker *w, uint32_t lidx, int fd)
{
	struct listener_rt *lr = &w->rt->listeners[lidx];
	uint32_t max = lr->conf->max_connections;
	/* Accepted while stopping (its completion came in the batch that
	 * stopped the worker, or before the cancel took effect): the kernel
	 * gave the client to us, so it drains like the others.  A reset here
	 * broke a few connections in every binary upgrade under load. */
	if (max) {
		uint32_t n = atomic_fetch_add_explicit(&lr->active, 1, memory_order_relaxed);
		if (n >= max) {
			atomic_fetch_sub_explicit(&lr->active, 1, memory_order_relaxed);
			STAT_INC(wstats(w, lidx), limit);
			tcp_close_reset(fd);
			return;
		}
	}
	struct conn *c = conn_alloc(w);
	if (!c) {
		if (max)
			atomic_fetch_sub_explicit(&lr->active, 1, memory_order_relaxed);
		STAT_INC(wstats(w, lidx), nomem);
		tcp_close_reset(fd);
		return;
	}
	STAT_INC(wstats(w, lidx), accepted);
	STAT_INC(wstats(w, lidx), active);
	set_nodelay(fd);
	c->cfd = fd;
	c->listener = (uint16_t)lidx;
	c->group = (uint8_t)lr->conf->group;
	c->state = CONN_CONNECTING;
	c->last_active_ms = w->now_ms;
	lru_append(w, c);
	if (lr->conf->accept_proxy_protocol)
		header_start(w, c);
	else if (conn_admit(w, c))
		start_connect(w, c);
}

void tcp_complete(struct worker *w, const struct io_uring_cqe *cqe)
{
	uint64_t ud = cqe->user_data;
	uint32_t idx = ud_idx(ud);
	if (idx >= w->n_slots)
		return;
	struct conn *c = conn_at(w, idx);
	if (c->gen != ud_gen(ud) || c->state == CONN_FREE) {
		/* Cannot happen while inflight counts are right; a buffer
		 * must still go back, whatever it arrived with. */
		if (cqe->flags & IORING_CQE_F_BUFFER)
			buf_recycle(w, (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT));
		nlb_warn_rl("stale completion op=%d slot=%u", (int)ud_op(ud), idx);
		return;
	}
	enum op op = ud_op(ud);
	switch (op) {
	case OP_CONNECT:
		on_connect(w, c, cqe->res);
		break;
	case OP_CONNECT_TIMEOUT:
	case OP_HEADER_TIMEOUT:
		c->inflight--;
		conn_maybe_finalize(w, c);
		break;
	case OP_HEADER_POLL:
		on_header_poll(w, c, cqe->res);
		break;
	case OP_RECV:
	case OP_RECV_T:
		on_recv(w, c, op - OP_RECV, cqe);
		break;
	case OP_SEND:
	case OP_SEND_T:
		on_send(w, c, op - OP_SEND, cqe->res);
		break;
	case OP_POLL_IN:
	case OP_POLL_IN_T:
		on_poll(w, c, op - OP_POLL_IN, OP_POLL_IN, cqe);
		break;
	case OP_POLL_OUT:
	case OP_POLL_OUT_T:
		on_poll(w, c, op - OP_POLL_OUT, OP_POLL_OUT, cqe);
		break;
	case OP_SPLICE_MORE:
	case OP_SPLICE_MORE_T:
		on_poll(w, c, op - OP_SPLICE_MORE, OP_SPLICE_MORE, cqe);
		break;
	default:
		break;
	}
}

/* Resets the connections to targets whose deregistration delay has
 * passed: rare, so a walk over all slots is fine. */
void tcp_reset_drained(struct worker *w)
{
	for (uint32_t i = 0; i < w->n_slots; i++) {
		struct conn *c = conn_at(w, i);
		if ((c->state != CONN_CONNECTING && c->state != CONN_OPEN) || !c->counted)
			continue;
		if (target_state(w->rt, c->group, c->target) == TARGET_DRAIN_CLOSING) {
			STAT_INC(wstats(w, c->listener), drain_reset);
			conn_close(w, c, true);
		}
	}
}

void tcp_tick(struct worker *w)
{
	/* Bounded work per tick: a full table drains over a few ticks. */
	if (w->flows)
		nlb_flowtab_expire(w->flows, w->now_ms, w->flow_idle_ms, 4096);
	for (size_t l = 0; l < w->rt->cfg->n_listeners; l++) {
		struct worker_listener *wl = &w->listeners[l];
		while (wl->lru_head != NO_IDX) {
			struct conn *c = conn_at(w, wl->lru_head);
			if (c->last_active_ms + wl->idle_ms > w->now_ms)
				break;
			STAT_INC(wstats(w, c->listener), idle_timeout);
			conn_close(w, c, true);
		}
	}
}

void tcp_reset_all(struct worker *w)
{
	for (uint32_t i = 0; i < w->n_slots; i++) {
		struct conn *c = conn_at(w, i);
		if (c->state == CONN_HEADER || c->state == CONN_CONNECTING || c->state == CONN_OPEN) {
			STAT_INC(wstats(w, c->listener), shutdown_reset);
			conn_close(w, c, true);
		}
	}
}

int tcp_worker_sync(struct worker *w)
{
	const struct nlb_config *cfg = w->rt->cfg;
	bool maglev = false;
	for (size_t g = 0; g < cfg->n_groups; g++)
		maglev = maglev || (!cfg->groups[g].removed &&
				    cfg->groups[g].algorithm == NLB_ALG_MAGLEV);
	/* flow_idle_ms: config_cache (worker.c). */
	return maglev && !w->flows ? nlb_flowtab_create(&w->flows, cfg->flow_table_size) : 0;
}

int tcp_worker_init(struct worker *w)
{
	w->free_head = NO_IDX;
	w->sctx_free = NO_IDX;
	w->pipes_free = NO_IDX;
	w->pipe_slots_free = NO_IDX;
	int fret = tcp_worker_sync(w);
	if (fret < 0)
		return fret;
	if (w->rt->forwarding == NLB_FWD_SPLICE)
		return 0;
	int ret = nlb_bufring_init(&w->ring, &w->bufs, NLB_BUF_GROUP, NLB_BUF_COUNT, NLB_BUF_SIZE);
	if (ret < 0)
		return ret;
	w->buf_next = calloc(NLB_BUF_COUNT, sizeof(*w->buf_next));
	w->buf_len = calloc(NLB_BUF_COUNT, sizeof(*w->buf_len));
	w->buf_off = calloc(NLB_BUF_COUNT, sizeof(*w->buf_off));
	if (!w->buf_next || !w->buf_len || !w->buf_off)
		return -ENOMEM;
	return 0;
}

void tcp_worker_free(struct worker *w)
{
	for (uint32_t i = 0; i < w->n_slots; i++)
		free(conn_at(w, i)->ext);	/* a worker that stopped early */
	for (uint32_t i = 0; i < w->n_chunks; i++)
		free(w->chunks[i]);
	free(w->chunks);
	w->chunks = NULL;
	while (w->ext_free) {
		struct conn_ext *x = w->ext_free;
		w->ext_free = x->next_free;
		free(x);
	}
	for (uint32_t i = 0; i < w->n_sctx; i++)
		free(w->sctx[i]);
	free(w->sctx);
	w->sctx = NULL;
	for (uint32_t i = 0; i < w->n_pipes; i++) {
		if (w->pipes[i].rfd >= 0) {
			close(w->pipes[i].rfd);
			close(w->pipes[i].wfd);
		}
	}
	free(w->pipes);
	w->pipes = NULL;
	free(w->starved);
	if (w->flows)
		nlb_flowtab_destroy(w->flows);
	w->flows = NULL;
	free(w->buf_next);
	free(w->buf_len);
	free(w->buf_off);
	nlb_bufring_free(&w->ring, &w->bufs);
}
