/* A TCP connection's life, from accept to close.  A connection is
 * connected to a target with IORING_OP_CONNECT under a linked timeout,
 * retried on other targets, then forwarded in one of two ways: copy
 * (multishot recv into the worker's provided buffers, one sendmsg in
 * flight per direction) or splice (multishot poll for readiness, then
 * splice(2) through a pooled pipe, inline on the worker, non-blocking).
 * A connection is freed only when no io_uring request refers to it.
 * Its pools are stream/tcp_conn.c's, its PROXY headers
 * stream/tcp_header.c's, its target choice stream/tcp_pick.c's; the
 * module's hooks into the worker loop are stream/tcp_worker.c's.
 *
 * A connection with TLS on either end (a tls listener's client, a
 * target group with tls) takes its steps in stream/tcp_proxy_tls.c;
 * the steps both share are in stream/tcp_proxy_steps.h. */
#include "stream/tcp_proxy.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "flowtab.h"
#include "log.h"
#include "tunables.h"
#include "balance/pick.h"
#include "balance/target_set.h"
#include "core/worker.h"
#include "stream/admission.h"
#include "stream/tcp_conn.h"
#include "stream/tcp_header.h"
#include "stream/tcp_pick.h"
#include "stream/tcp_proxy_steps.h"
#include "stream/tcp_tls.h"

static inline int half_src(const struct conn *c, int dir) { return dir == DIR_C2T ? c->cfd : c->tfd; }
static inline int half_dst(const struct conn *c, int dir) { return dir == DIR_C2T ? c->tfd : c->cfd; }



/* c goes to state, and onto that state's list, as of now. */
void tcp_conn_move(struct worker *w, struct conn *c, enum conn_state state)
{
	nlb_idle_remove(&w->tcp.conns, conn_idle(w, c), &c->slot);
	c->state = (uint8_t)state;
	c->last_active_ms = w->now_ms;
	nlb_idle_append(&w->tcp.conns, conn_idle(w, c), &c->slot);
}

/* ---- closing -------------------------------------------------------- */

static void conn_finalize(struct worker *w, struct conn *c)
{
	const struct listener_rt *lr = &w->rt->listeners[c->listener];
	for (int d = 0; d < 2; d++) {
		struct half *h = &c->half[d];
		if (h->pipe != NO_IDX)
			tcp_half_release_pipe(&w->tcp, h);
		else if (w->tcp.bufs.br)
			tcp_half_drop_queue(&w->tcp, h);
	}
	if (c->reset) {
		worker_set_linger0(c->cfd);
		if (c->tfd >= 0)
			worker_set_linger0(c->tfd);
	}
	/* Closed by the ring, with the next submission: no syscall of its
	 * own per socket. */
	worker_ring_close(w, c->cfd);
	if (c->tfd >= 0)
		worker_ring_close(w, c->tfd);
	if (c->tls) {
		if (c->tls->end[END_CLIENT].ssl)
			STAT_DEC(wstats(w, c->listener), tls_active);
		tls_conn_free(&w->tls_pool, c->tls);
		c->tls = NULL;
	}
	tcp_conn_uncount(w, c);
	admission_release(w, c->listener, c->src_slot);
	tcp_header_release(&w->tcp, c);
	if (lr->conf->max_connections)
		atomic_fetch_sub_explicit(&((struct listener_rt *)lr)->active, 1,
					  memory_order_relaxed);
	STAT_DEC(wstats(w, c->listener), active);
	STAT_INC(wstats(w, c->listener), closed);
	tcp_conn_free(&w->tcp, c);
}

void tcp_conn_maybe_finalize(struct worker *w, struct conn *c)
{
	if (c->state == CONN_CLOSING && c->inflight == 0)
		conn_finalize(w, c);
}

/* Starts closing: pending requests are cancelled (close(2) would not
 * cancel them) and the sockets are closed once the last one completes.
 * After this the caller must not touch c again. */
void tcp_conn_close(struct worker *w, struct conn *c, bool reset)
{
	if (c->state == CONN_CLOSING || c->state == CONN_FREE)
		return;
	nlb_idle_remove(&w->tcp.conns, conn_idle(w, c), &c->slot);
	c->state = CONN_CLOSING;
	c->reset = reset;
	if (c->inflight) {
		worker_cancel_fd(w, c->cfd);
		if (c->tfd >= 0)
			worker_cancel_fd(w, c->tfd);
	}
	tcp_conn_maybe_finalize(w, c);
}

/* A reset seen on the source (dir's reader) or destination (dir's writer). */
void tcp_count_reset(struct worker *w, const struct conn *c, int dir, bool on_src)
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
 * pass the FIN on.  When both directions are done, close: the close
 * sends that FIN (the destination's own FIN was read, so nothing unread
 * turns it into a reset), one system call fewer per connection. */
void tcp_half_shutdown(struct worker *w, struct conn *c, int dir)
{
	c->half[dir].flags |= HALF_SHUT;
	if (!(c->half[!dir].flags & HALF_SHUT))
		shutdown(half_dst(c, dir), SHUT_WR);
	else
		tcp_conn_close(w, c, false);
}

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
	tcp_arm_poll(w, c, dir, false);
}

void tcp_cancel_recv(struct worker *w, struct conn *c, int dir)
{
	struct half *h = &c->half[dir];
	if (!(h->flags & HALF_RECV) || (h->flags & HALF_RECV_CANCEL))
		return;
	struct io_uring_sqe *sqe = nlb_ring_sqe(&w->ring);
	io_uring_prep_cancel64(sqe, conn_ud_dir(c, TCP_OP_RECV, dir), 0);
	io_uring_sqe_set_data64(sqe, ud_pack(OP_NONE, 0, 0));
	sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	h->flags |= HALF_RECV_CANCEL;
}

void tcp_arm_recv(struct worker *w, struct conn *c, int dir)
{
	struct io_uring_sqe *sqe = nlb_ring_sqe(&w->ring);
	io_uring_prep_recv_multishot(sqe, half_src(c, dir), NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = NLB_BUF_GROUP;
	/* A bundle fills several buffers per completion when bytes wait:
	 * one completion per 16 KiB costs bulk copies dearly. */
	if (NLB_RECV_BUNDLE && w->feat.recv_bundle)
		sqe->ioprio |= NLB_RECVSEND_BUNDLE;
	io_uring_sqe_set_data64(sqe, conn_ud_dir(c, TCP_OP_RECV, dir));
	c->half[dir].flags |= HALF_RECV;
	c->inflight++;
	if (c->tls && dir == DIR_T2C)
		c->tls->target_ops++;
}

static void maybe_rearm_recv(struct worker *w, struct conn *c, int dir)
{
	if (c->tls) {
		tls_maybe_rearm(w, c, dir);
		return;
	}
	struct half *h = &c->half[dir];
	if (c->state != CONN_OPEN ||
	    (h->flags & (HALF_RECV | HALF_EOF | HALF_STARVED | HALF_SPLICE)) ||
	    h->queued >= NLB_DIR_LOW_WATER)
		return;
	tcp_arm_recv(w, c, dir);
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
	if (w->tcp.buf_next[bid] == NO_BUF) {
		io_uring_prep_send(sqe, dst, nlb_bufring_addr(&w->tcp.bufs, bid) + w->tcp.buf_off[bid],
				   w->tcp.buf_len[bid] - w->tcp.buf_off[bid], MSG_NOSIGNAL);
		n = 1;
	} else {
		uint32_t sidx;
		struct send_ctx *s = tcp_sctx_get(&w->tcp, &sidx);
		if (!s) {
			io_uring_prep_nop(sqe);
			io_uring_sqe_set_data64(sqe, ud_pack(OP_NONE, 0, 0));
			STAT_INC(wstats(w, c->listener), nomem);
			tcp_conn_close(w, c, true);
			return;
		}
		for (; bid != NO_BUF && n < NLB_SEND_IOV_MAX; bid = w->tcp.buf_next[bid], n++) {
			s->iov[n].iov_base = nlb_bufring_addr(&w->tcp.bufs, bid) + w->tcp.buf_off[bid];
			s->iov[n].iov_len = w->tcp.buf_len[bid] - w->tcp.buf_off[bid];
		}
		memset(&s->msg, 0, sizeof(s->msg));
		s->msg.msg_iov = s->iov;
		s->msg.msg_iovlen = n;
		io_uring_prep_sendmsg(sqe, dst, &s->msg, MSG_NOSIGNAL);
		h->send_ctx = sidx;
	}
	io_uring_sqe_set_data64(sqe, conn_ud_dir(c, TCP_OP_SEND, dir));
	h->send_nbufs = (uint8_t)n;
	h->flags |= HALF_SEND;
	c->inflight++;
}

/* dir's receive ended with -ENOBUFS: the worker's buffers are all
 * queued somewhere.  Wait for some to come back (tcp_rearm_starved)
 * rather than spinning on the kernel. */
void tcp_half_starve(struct worker *w, struct conn *c, int dir)
{
	if (w->tcp.n_starved == w->tcp.cap_starved) {
		uint32_t cap = w->tcp.cap_starved ? w->tcp.cap_starved * 2 : 64;
		uint64_t *arr = realloc(w->tcp.starved, cap * sizeof(*arr));
		if (!arr) {
			STAT_INC(wstats(w, c->listener), nomem);
			tcp_conn_close(w, c, true);
			return;
		}
		w->tcp.starved = arr;
		w->tcp.cap_starved = cap;
	}
	c->half[dir].flags |= HALF_STARVED;
	w->tcp.starved[w->tcp.n_starved++] = (uint64_t)c->slot.gen << 33 |
					     (uint64_t)c->slot.idx << 1 | (unsigned)dir;
}

static void on_recv(struct worker *w, struct conn *c, int dir, const struct io_uring_cqe *cqe)
{
	if (c->tls) {
		tls_on_recv(w, c, dir, cqe);
		return;
	}
	struct half *h = &c->half[dir];
	int res = cqe->res;
	bool more = cqe->flags & IORING_CQE_F_MORE;
	if (!more) {
		h->flags &= (uint16_t)~(HALF_RECV | HALF_RECV_CANCEL);
		c->inflight--;
	}
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		uint16_t bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		tcp_take_received(&w->tcp, res > 0 && c->state == CONN_OPEN ? h : NULL, bid,
				  res > 0 ? (uint32_t)res : 0);
	}
	if (c->state != CONN_OPEN) {
		tcp_conn_maybe_finalize(w, c);
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
			h->full_streak = (uint32_t)res >= NLB_BUF_SIZE ? h->full_streak + 1 : 0;
			if (h->full_streak >= NLB_AUTO_SPLICE_STREAK) {
				h->flags |= HALF_SPLICE;
				STAT_INC(wstats(w, c->listener), auto_splice);
				tcp_cancel_recv(w, c, dir);
			}
		}
		/* Backpressure: the destination is slower than the source.
		 * Stop receiving (the kernel's socket buffer and TCP window
		 * push back on the sender) until the queue drains. */
		if (h->queued >= NLB_DIR_HIGH_WATER)
			tcp_cancel_recv(w, c, dir);
		if (!more) {
			maybe_rearm_recv(w, c, dir);
			half_try_splice(w, c, dir);
		}
		return;
	}
	if (res == 0) {
		h->flags |= HALF_EOF;
		if (!(h->flags & HALF_SEND) && h->head == NO_BUF)
			tcp_half_shutdown(w, c, dir);
		return;
	}
	if (res == -ENOBUFS) {
		if (h->flags & HALF_SPLICE) {
			half_try_splice(w, c, dir);
			return;
		}
		STAT_INC(wstats(w, c->listener), buffer_wait);
		tcp_half_starve(w, c, dir);
		return;
	}
	if (res == -ECANCELED) {
		maybe_rearm_recv(w, c, dir);
		half_try_splice(w, c, dir);
		return;
	}
	tcp_count_reset(w, c, dir, true);
	tcp_conn_close(w, c, true);
}

void tcp_rearm_starved(struct worker *w)
{
	if (!w->tcp.bufs_returned || w->tcp.n_starved == 0)
		return;
	uint32_t n = w->tcp.n_starved;
	w->tcp.n_starved = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t e = w->tcp.starved[i];
		uint32_t idx = (uint32_t)(e >> 1) & 0xffffffffu;
		int dir = (int)(e & 1);
		struct conn *c = tcp_conn_at(&w->tcp, idx);
		/* Any live state: a TLS handshake receives too (maybe_rearm_recv
		 * knows which states read). */
		if (c->slot.gen != (uint32_t)(e >> 33) || c->state == CONN_FREE ||
		    c->state == CONN_CLOSING)
			continue;
		c->half[dir].flags &= (uint16_t)~HALF_STARVED;
		maybe_rearm_recv(w, c, dir);
	}
}

static void on_send(struct worker *w, struct conn *c, int dir, int res)
{
	if (c->tls) {
		tls_on_send(w, c, dir, res);
		return;
	}
	struct half *h = &c->half[dir];
	unsigned nbufs = h->send_nbufs;
	c->inflight--;
	h->flags &= (uint16_t)~HALF_SEND;
	h->send_nbufs = 0;
	if (h->send_ctx != NO_IDX) {
		tcp_sctx_put(&w->tcp, h->send_ctx);
		h->send_ctx = NO_IDX;
	}
	if (c->state != CONN_OPEN) {
		tcp_conn_maybe_finalize(w, c);
		return;
	}
	if (res == -EAGAIN) {
		/* Seen under load: io_uring gives up polling a request that
		 * was polled once and still found no room, hands it to io-wq,
		 * and there the non-blocking socket says EAGAIN.  Wait for
		 * room ourselves, then send again. */
		tcp_arm_poll(w, c, dir, true);
		return;
	}
	if (res < 0) {
		tcp_count_reset(w, c, dir, false);
		tcp_conn_close(w, c, true);
		return;
	}
	/* No MSG_WAITALL: a short send (the socket buffer filled) leaves
	 * the rest queued, to go out in the next send. */
	uint32_t left = (uint32_t)res;
	for (unsigned i = 0; i < nbufs && left > 0 && h->head != NO_BUF; i++) {
		uint16_t bid = h->head;
		uint32_t avail = w->tcp.buf_len[bid] - w->tcp.buf_off[bid];
		if (left < avail) {
			w->tcp.buf_off[bid] += left;
			h->queued -= left;
			left = 0;
			break;
		}
		left -= avail;
		h->queued -= avail;
		h->head = w->tcp.buf_next[bid];
		if (h->head == NO_BUF)
			h->tail = NO_BUF;
		tcp_buf_recycle(&w->tcp, bid);
	}
	if (h->head != NO_BUF) {
		start_send(w, c, dir);
		if (c->state != CONN_OPEN)
			return;
	} else if (h->flags & HALF_EOF) {
		tcp_half_shutdown(w, c, dir);
		return;
	}
	maybe_rearm_recv(w, c, dir);
	half_try_splice(w, c, dir);
}

void tcp_arm_poll(struct worker *w, struct conn *c, int dir, bool out)
{
	struct io_uring_sqe *sqe = nlb_ring_sqe(&w->ring);
	if (out) {
		io_uring_prep_poll_add(sqe, half_dst(c, dir), POLLOUT);
		io_uring_sqe_set_data64(sqe, conn_ud_dir(c, TCP_OP_POLL_OUT, dir));
		c->half[dir].flags |= HALF_POLL_OUT;
		if (c->tls && dir == DIR_C2T)
			c->tls->target_ops++;
	} else {
		c->half[dir].flags |= HALF_SPLICE;
		io_uring_prep_poll_multishot(sqe, half_src(c, dir), POLLIN | POLLRDHUP);
		io_uring_sqe_set_data64(sqe, conn_ud_dir(c, TCP_OP_POLL_IN, dir));
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
			ssize_t n = splice(w->tcp.pipes[h->pipe].rfd, NULL, dst, NULL, h->queued,
					   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n > 0) {
				h->queued -= (uint32_t)n;
				count_bytes(w, c, dir, (uint64_t)n);
				conn_touch(w, c);
				continue;
			}
			if (n < 0 && errno == EAGAIN) {
				if (!(h->flags & HALF_POLL_OUT))
					tcp_arm_poll(w, c, dir, true);
				return;
			}
			tcp_count_reset(w, c, dir, false);
			tcp_conn_close(w, c, true);
			return;
		}
		if (h->flags & HALF_EOF)
			return;
		if (tcp_half_take_pipe(&w->tcp, h) < 0) {
			STAT_INC(wstats(w, c->listener), nomem);
			tcp_conn_close(w, c, true);
			return;
		}
		ssize_t n = splice(src, NULL, w->tcp.pipes[h->pipe].wfd, NULL, NLB_PIPE_SIZE,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n > 0) {
			h->queued = (uint32_t)n;
			note_target_spoke(w, c, dir);
			continue;
		}
		/* Empty pipe: give it back, an idle connection holds none. */
		tcp_half_release_pipe(&w->tcp, h);
		if (n == 0) {
			h->flags |= HALF_EOF;
			tcp_half_shutdown(w, c, dir);
			return;
		}
		if (errno == EAGAIN)
			return;
		tcp_count_reset(w, c, dir, true);
		tcp_conn_close(w, c, true);
		return;
	}
	/* Still busy after our share of rounds: come back after the other
	 * connections' completions, through a NOP. */
	if (!(h->flags & HALF_MORE)) {
		struct io_uring_sqe *sqe = nlb_ring_sqe(&w->ring);
		io_uring_prep_nop(sqe);
		io_uring_sqe_set_data64(sqe, conn_ud_dir(c, TCP_OP_SPLICE_MORE, dir));
		h->flags |= HALF_MORE;
		c->inflight++;
	}
}

static void on_poll(struct worker *w, struct conn *c, int dir, unsigned kind,
		    const struct io_uring_cqe *cqe)
{
	struct half *h = &c->half[dir];
	bool more = cqe->flags & IORING_CQE_F_MORE;
	if (kind == TCP_OP_POLL_IN) {
		if (!more) {
			h->flags &= (uint16_t)~HALF_POLL_IN;
			c->inflight--;
		}
	} else {
		h->flags &= (uint16_t)~(kind == TCP_OP_POLL_OUT ? HALF_POLL_OUT : HALF_MORE);
		c->inflight--;
	}
	if (c->tls) {
		tls_on_poll_out(w, c, dir);
		return;
	}
	if (c->state != CONN_OPEN) {
		tcp_conn_maybe_finalize(w, c);
		return;
	}
	if (kind == TCP_OP_POLL_OUT && h->head != NO_BUF) {
		/* Room for a copy-path send that came back with EAGAIN. */
		start_send(w, c, dir);
		return;
	}
	if (cqe->res >= 0 || kind == TCP_OP_SPLICE_MORE)
		splice_pump(w, c, dir);
	half_try_splice(w, c, dir);
}

static void start_forwarding(struct worker *w, struct conn *c)
{
	if (c->tls) {
		tls_start_forwarding(w, c);
		return;
	}
	c->state = CONN_OPEN;
	conn_touch(w, c);
	for (int dir = 0; dir < 2; dir++) {
		if (w->rt->forwarding == NLB_FWD_SPLICE)
			tcp_arm_poll(w, c, dir, false);
		else
			tcp_arm_recv(w, c, dir);
	}
}

void tcp_conn_uncount(struct worker *w, struct conn *c)
{
	if (c->counted) {
		pick_conn_add(w->rt, w->id, c->group, c->target, -1);
		c->counted = 0;
	}
}

void tcp_start_connect(struct worker *w, struct conn *c)
{
	const struct listener_rt *lr = &w->rt->listeners[c->listener];
	size_t group = c->group;
	const struct group_rt *grt = &w->rt->groups[group];
	int t = tcp_pick(w, c);
	if (t < 0) {
		if (c->attempts == 0 && pick_fail_closed(w->rt, group))
			STAT_INC(wstats(w, c->listener), no_healthy);
		else
			STAT_INC(wstats(w, c->listener), no_target);
		nlb_debug_rl("listener %s: no target left for a client after %u attempts",
			  lr->conf->name, c->attempts);
		tcp_conn_close(w, c, true);
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
	if (fd < 0 && (errno == EMFILE || errno == ENFILE) && w->tcp.reserve_fd >= 0) {
		/* The client took the last descriptor: spend the reserve on
		 * its target socket, and let later clients wait in the
		 * backlog rather than be accepted and reset. */
		close(w->tcp.reserve_fd);
		w->tcp.reserve_fd = -1;
		worker_pause_accept(w);
		fd = socket(tc->addr.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	}
	if (fd < 0) {
		STAT_INC(wstats(w, c->listener), nomem);
		tcp_conn_close(w, c, true);
		return;
	}
	worker_set_nodelay(fd);
	c->tfd = fd;
	/* The connect and its timeout are one link: both must go in the
	 * same submission. */
	if (io_uring_sq_space_left(&w->ring) < 2)
		io_uring_submit(&w->ring);
	struct io_uring_sqe *sqe = nlb_ring_sqe(&w->ring);
	io_uring_prep_connect(sqe, fd, (const struct sockaddr *)&tc->addr.ss, tc->addr.len);
	io_uring_sqe_set_data64(sqe, conn_ud(c, TCP_OP_CONNECT));
	sqe->flags |= IOSQE_IO_LINK;
	sqe = nlb_ring_sqe(&w->ring);
	/* In the group's configuration: a reload that replaces it retires
	 * the old one only after this worker's next quiescent point, and
	 * the kernel reads it at submission, before that. */
	io_uring_prep_link_timeout(sqe, (struct __kernel_timespec *)&grt->conf->connect_timeout_ts,
				   0);
	io_uring_sqe_set_data64(sqe, conn_ud(c, TCP_OP_CONNECT_TIMEOUT));
	c->inflight += 2;
}

/* The target c tried is given up (its socket has no request left in the
 * ring): the next one, or the client closed once its group's retries
 * are spent. */
void tcp_next_target(struct worker *w, struct conn *c)
{
	close(c->tfd);
	c->tfd = -1;
	tcp_conn_uncount(w, c);
	if (c->attempts > w->rt->groups[c->group].conf->connect_retries) {
		STAT_INC(wstats(w, c->listener), no_target);
		tcp_conn_close(w, c, true);
		return;
	}
	tcp_start_connect(w, c);
}

static void on_connect(struct worker *w, struct conn *c, int res)
{
	c->inflight--;
	if (c->state != CONN_CONNECTING) {
		tcp_conn_maybe_finalize(w, c);
		return;
	}
	const struct nlb_group_conf *g = w->rt->groups[c->group].conf;
	if (res == 0) {
		if (target_state(w->rt, c->group, c->target) == TARGET_DRAIN_CLOSING) {
			STAT_INC(wstats(w, c->listener), drain_reset);
			tcp_conn_close(w, c, true);
			return;
		}
		int ret = g->proxy_protocol == NLB_PP_NONE ? 0 :
			  tcp_header_send(c, g->proxy_protocol);
		if (ret < 0) {
			STAT_INC(wstats(w, c->listener), connect_error);
			nlb_debug_rl("target %s in group %s: PROXY header not sent: %s",
				  target_at(w->rt, c->group, c->target)->addr_text, g->name,
				  strerror(-ret));
			tcp_conn_close(w, c, true);
			return;
		}
		if (g->tls.client)
			tls_start_target(w, c, g->tls.client);
		else
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
	if (pick_connect_failure_is_target(res))
		pick_live_result(w->rt, w->id, c->group, c->target, false);
	/* The connect has completed, and its linked timeout never touches
	 * the socket: closing it now is safe. */
	tcp_next_target(w, c);
}

/* The listener's allow/deny lists and per-source limits for c's client
 * (from its PROXY header, when it sent one); a refused client is reset
 * at once and costs no target connection.  False when refused. */
static bool conn_admit(struct worker *w, struct conn *c)
{
	const struct nlb_listener_conf *lc = w->rt->listeners[c->listener].conf;
	if (!lc->allow && !lc->deny && !w->listeners[c->listener].srclimit.entries)
		return true;
	struct sockaddr_storage ss;
	const struct sockaddr *client = tcp_conn_client(c, &ss);
	struct sockaddr none = { .sa_family = AF_UNSPEC };
	if (admission_check(w, c->listener, client ? client : &none, false, &c->src_slot) == 0)
		return true;
	tcp_conn_close(w, c, true);
	return false;
}

/* c is admitted: a TLS client's handshake first, else its target. */
static void conn_admitted(struct worker *w, struct conn *c)
{
	if (w->rt->listeners[c->listener].conf->protocol == NLB_PROTO_TLS)
		tls_start_client(w, c);
	else
		tcp_start_connect(w, c);
}

void tcp_accept(struct worker *w, uint32_t lidx, int fd)
{
	struct listener_rt *lr = &w->rt->listeners[lidx];
	uint32_t max = lr->conf->max_connections;
	/* Accepted while stopping (its completion came in the batch that
	 * stopped the worker, or before the cancel took effect): the kernel
	 * gave the client to us, so it drains like the others.  A reset here
	 * broke a few connections in every binary upgrade under load. */
	if (!admission_accept(w, lidx, fd))
		return;
	struct conn *c = tcp_conn_alloc(&w->tcp);
	if (!c) {
		if (max)
			atomic_fetch_sub_explicit(&lr->active, 1, memory_order_relaxed);
		STAT_INC(wstats(w, lidx), nomem);
		worker_close_reset(fd);
		return;
	}
	STAT_INC(wstats(w, lidx), accepted);
	STAT_INC(wstats(w, lidx), active);
	c->cfd = fd;		/* TCP_NODELAY inherited from the listener */
	c->listener = (uint16_t)lidx;
	c->group = (uint8_t)lr->conf->group;
	c->state = CONN_CONNECTING;
	c->last_active_ms = w->now_ms;
	w->active_now++;
	nlb_idle_append(&w->tcp.conns, conn_idle(w, c), &c->slot);
	if (lr->conf->accept_proxy_protocol) {
		if (tcp_header_start(w, c) < 0)
			tcp_conn_close(w, c, true);
	} else if (conn_admit(w, c)) {
		conn_admitted(w, c);
	}
}

/* Resets the connections to targets whose deregistration delay has
 * passed: rare, so a walk over all slots is fine. */
void tcp_reset_drained(struct worker *w)
{
	for (uint32_t i = 0; i < w->tcp.conns.n_slots; i++) {
		struct conn *c = tcp_conn_at(&w->tcp, i);
		if ((c->state != CONN_CONNECTING && c->state != CONN_TARGET_HS &&
		     c->state != CONN_OPEN) || !c->counted)
			continue;
		if (target_state(w->rt, c->group, c->target) == TARGET_DRAIN_CLOSING) {
			STAT_INC(wstats(w, c->listener), drain_reset);
			tcp_conn_close(w, c, true);
		}
	}
}

void tcp_tick(struct worker *w)
{
	/* Bounded work per tick: a full table drains over a few ticks. */
	if (w->tcp.flows)
		nlb_flowtab_expire(w->tcp.flows, w->now_ms, w->tcp.flow_idle_ms, 4096);
	for (size_t l = 0; l < w->rt->cfg->n_listeners; l++) {
		struct tcp_listener *tl = &w->listeners[l].tcp;
		struct conn *c;
		while ((c = nlb_idle_oldest(&w->tcp.conns, &tl->idle))) {
			if (c->last_active_ms + tl->idle_ms > w->now_ms)
				break;
			STAT_INC(wstats(w, c->listener), idle_timeout);
			tcp_conn_close(w, c, true);
		}
		tls_tick(w, tl);
	}
}

void tcp_reset_all(struct worker *w)
{
	for (uint32_t i = 0; i < w->tcp.conns.n_slots; i++) {
		struct conn *c = tcp_conn_at(&w->tcp, i);
		if (c->state != CONN_FREE && c->state != CONN_CLOSING) {
			STAT_INC(wstats(w, c->listener), shutdown_reset);
			tcp_conn_close(w, c, true);
		}
	}
}
/* ---- completions (stream/tcp_worker.c's op table) -------------------- */

/* The connection a completion is for, or NULL (logged) when its slot has
 * moved on; a buffer it carries goes back to the ring either way. */
static struct conn *conn_of(struct worker *w, const struct io_uring_cqe *cqe)
{
	uint64_t ud = cqe->user_data;
	uint32_t idx = ud_idx(ud);
	struct conn *c = idx < w->tcp.conns.n_slots ? tcp_conn_at(&w->tcp, idx) : NULL;
	if (c && c->slot.gen == ud_gen(ud) && c->state != CONN_FREE)
		return c;
	if (cqe->flags & IORING_CQE_F_BUFFER)
		tcp_buf_recycle(&w->tcp, (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT));
	worker_stale(w, cqe);
	return NULL;
}

void tcp_on_connect(struct worker *w, const struct io_uring_cqe *cqe)
{
	struct conn *c = conn_of(w, cqe);
	if (c)
		on_connect(w, c, cqe->res);
}

/* A linked timeout's own completion: only the count of requests. */
void tcp_on_timeout(struct worker *w, const struct io_uring_cqe *cqe)
{
	struct conn *c = conn_of(w, cqe);
	if (!c)
		return;
	c->inflight--;
	tcp_conn_maybe_finalize(w, c);
}

void tcp_on_header_poll(struct worker *w, const struct io_uring_cqe *cqe)
{
	struct conn *c = conn_of(w, cqe);
	if (!c)
		return;
	c->inflight--;
	if (c->state != CONN_HEADER) {
		tcp_conn_maybe_finalize(w, c);
		return;
	}
	int r = tcp_header_on_poll(w, c, cqe->res);
	if (r < 0) {
		tcp_conn_close(w, c, true);
	} else if (r == 1) {
		c->state = CONN_CONNECTING;
		if (conn_admit(w, c))
			conn_admitted(w, c);
	}
}

void tcp_on_recv(struct worker *w, const struct io_uring_cqe *cqe)
{
	struct conn *c = conn_of(w, cqe);
	if (c)
		on_recv(w, c, (int)ud_dir(cqe->user_data), cqe);
}

void tcp_on_send(struct worker *w, const struct io_uring_cqe *cqe)
{
	struct conn *c = conn_of(w, cqe);
	if (c)
		on_send(w, c, (int)ud_dir(cqe->user_data), cqe->res);
}

void tcp_on_poll(struct worker *w, const struct io_uring_cqe *cqe)
{
	struct conn *c = conn_of(w, cqe);
	if (c)
		on_poll(w, c, (int)ud_dir(cqe->user_data), ud_op(cqe->user_data), cqe);
}
