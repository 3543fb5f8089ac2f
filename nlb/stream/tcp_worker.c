/* TCP as a protocol module of the worker loop (core/proto-t.h): its op
 * table, its listening sockets' accepts (and the pause when descriptors
 * run out), and its part of the worker's start, reloads, ticks and
 * stop.  A connection's own life is stream/tcp_proxy.c's. */
#include "stream/tcp_worker.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "flowtab.h"
#include "log.h"
#include "tunables.h"
#include "core/worker.h"
#include "stream/tcp_conn.h"
#include "stream/tcp_proxy.h"
#include "stream/tcp_tls.h"

static void arm_accept(struct worker *w, uint32_t l)
{
	struct tcp_listener *tl = &w->listeners[l].tcp;
	struct io_uring_sqe *sqe = nlb_ring_sqe(&w->ring);
	io_uring_prep_multishot_accept(sqe, tl->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, ud_pack(TCP_OP_ACCEPT, l, 0));
	tl->accepting = true;
}

static bool accept_error_is_resource(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

static void on_accept(struct worker *w, const struct io_uring_cqe *cqe)
{
	uint32_t l = ud_idx(cqe->user_data);
	struct tcp_listener *tl = &w->listeners[l].tcp;
	if (!(cqe->flags & IORING_CQE_F_MORE))
		tl->accepting = false;
	if (cqe->res >= 0) {
		tcp_accept(w, l, cqe->res);
	} else if (accept_error_is_resource(-cqe->res)) {
		/* Out of descriptors: back off instead of spinning on
		 * accept; clients wait in the backlog meanwhile. */
		if (!tl->paused) {
			nlb_warn_rl("worker %u: listener %s: accept paused: %s", w->id,
				    w->rt->listeners[l].conf->name, strerror(-cqe->res));
			STAT_INC(wstats(w, l), accept_paused);
		}
		tl->paused = true;
		tl->resume_ms = w->now_ms + NLB_ACCEPT_PAUSE_MS;
	} else if (cqe->res != -ECANCELED && cqe->res != -EINTR && cqe->res != -ECONNABORTED) {
		nlb_warn_rl("worker %u: listener %s: accept: %s", w->id,
			    w->rt->listeners[l].conf->name, strerror(-cqe->res));
	}
	if (!tl->accepting && !tl->paused && !w->stopping && tl->fd >= 0)
		arm_accept(w, l);
}

static const struct worker_op tcp_ops[] = {
	[TCP_OP_ACCEPT - NLB_OPS_TCP] = { "tcp_accept", on_accept },
	[TCP_OP_CONNECT - NLB_OPS_TCP] = { "tcp_connect", tcp_on_connect },
	[TCP_OP_CONNECT_TIMEOUT - NLB_OPS_TCP] = { "tcp_connect_timeout", tcp_on_timeout },
	[TCP_OP_HEADER_POLL - NLB_OPS_TCP] = { "tcp_header_poll", tcp_on_header_poll },
	[TCP_OP_HEADER_TIMEOUT - NLB_OPS_TCP] = { "tcp_header_timeout", tcp_on_timeout },
	[TCP_OP_RECV - NLB_OPS_TCP] = { "tcp_recv", tcp_on_recv },
	[TCP_OP_SEND - NLB_OPS_TCP] = { "tcp_send", tcp_on_send },
	[TCP_OP_POLL_IN - NLB_OPS_TCP] = { "tcp_poll_in", tcp_on_poll },
	[TCP_OP_POLL_OUT - NLB_OPS_TCP] = { "tcp_poll_out", tcp_on_poll },
	[TCP_OP_SPLICE_MORE - NLB_OPS_TCP] = { "tcp_splice_more", tcp_on_poll },
};
_Static_assert(sizeof(tcp_ops) / sizeof(tcp_ops[0]) == TCP_OP_END - NLB_OPS_TCP,
	       "every TCP op has a handler");

/* The configuration's timeouts, and the flow table once a group uses
 * maglev (at start, and after each reload). */
static int tcp_worker_sync(struct worker *w)
{
	const struct nlb_config *cfg = w->rt->cfg;
	bool maglev = false;
	for (size_t g = 0; g < cfg->n_groups; g++)
		maglev = maglev || (!cfg->groups[g].removed &&
				    cfg->groups[g].algorithm == NLB_ALG_MAGLEV);
	/* A flow is forgotten after the longest idle timeout of the
	 * listeners: as long as a connection of it could live. */
	w->tcp.flow_idle_ms = 0;
	for (size_t l = 0; l < cfg->n_listeners; l++) {
		uint64_t idle = cfg->listeners[l].idle_timeout_ms;
		w->listeners[l].tcp.idle_ms = idle;
		if (idle > w->tcp.flow_idle_ms)
			w->tcp.flow_idle_ms = idle;
	}
	return maglev && !w->tcp.flows ? nlb_flowtab_create(&w->tcp.flows, cfg->flow_table_size) : 0;
}

static int tcp_worker_init(struct worker *w)
{
	w->tcp.reserve_fd = -1;
	/* The buffer ring with splice too: TLS connections always copy,
	 * and a reload may add a tls listener.  Its pages cost nothing
	 * until a receive fills them. */
	int ret = tcp_pools_init(&w->tcp, &w->ring, true);
	if (ret < 0)
		return ret;
	w->tcp.reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return tcp_worker_sync(w);
}

static void tcp_worker_free(struct worker *w)
{
	for (size_t l = 0; l < w->rt->cfg->n_listeners; l++) {
		struct tcp_listener *tl = &w->listeners[l].tcp;
		if (w->listeners[l].started && tl->fd >= 0)
			close(tl->fd);
	}
	/* A worker that stopped early: its connections' TLS, then the
	 * send buffers they gave back. */
	for (uint32_t i = 0; i < w->tcp.conns.n_slots; i++)
		tls_conn_free(&w->tls_pool, tcp_conn_at(&w->tcp, i)->tls);
	tcp_pools_free(&w->tcp, &w->ring);
	if (w->tcp.flows)
		nlb_flowtab_destroy(w->tcp.flows);
	w->tcp.flows = NULL;
	if (w->tcp.reserve_fd >= 0)
		close(w->tcp.reserve_fd);
}

static void tcp_listener_take(struct worker *w, uint32_t l)
{
	const struct listener_rt *lr = &w->rt->listeners[l];
	struct tcp_listener *tl = &w->listeners[l].tcp;
	/* An http listener's sockets are the HTTP module's. */
	tl->fd = lr->fds && nlb_proto_stream(lr->conf->protocol) ? lr->fds[w->id] : -1;
	nlb_idle_init(&tl->idle);
	nlb_idle_init(&tl->hs);
	nlb_idle_init(&tl->target_hs);
	tl->idle_ms = lr->conf->idle_timeout_ms;
}

static void tcp_listener_arm(struct worker *w, uint32_t l)
{
	if (w->listeners[l].tcp.fd >= 0)
		arm_accept(w, l);
}

/* Released once the listening socket is closed, its accept has posted
 * its last completion and no connection of it is left. */
static bool tcp_listener_close(struct worker *w, uint32_t l)
{
	struct tcp_listener *tl = &w->listeners[l].tcp;
	if (tl->fd >= 0) {
		worker_listen_stop(w, tl->fd, true);
		tl->fd = -1;
	}
	return !tl->accepting &&
	       atomic_load_explicit(&wstats(w, l)->active, memory_order_relaxed) == 0;
}

static void tcp_stop(struct worker *w)
{
	for (size_t l = 0; l < w->rt->cfg->n_listeners; l++) {
		struct tcp_listener *tl = &w->listeners[l].tcp;
		if (tl->fd >= 0)
			worker_listen_stop(w, tl->fd, true);
		tl->fd = -1;
	}
}

static uint32_t tcp_open_count(const struct worker *w)
{
	return w->tcp.conns.live;
}

/* A stopping worker also waits for each multishot accept's last
 * completion: a client it accepted after the cancel was sent still
 * arrives in one, and a worker gone by then would leave its descriptor
 * to be closed at exit, a reset for the client. */
static bool tcp_busy(const struct worker *w)
{
	if (w->tcp.conns.live)
		return true;
	for (size_t l = 0; l < w->rt->cfg->n_listeners; l++)
		if (w->listeners[l].tcp.accepting)
			return true;
	return false;
}

static void tcp_worker_tick(struct worker *w)
{
	tcp_tick(w);
	if (w->tcp.reserve_fd < 0)
		w->tcp.reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	for (size_t l = 0; l < w->rt->cfg->n_listeners; l++) {
		struct tcp_listener *tl = &w->listeners[l].tcp;
		if (tl->paused && w->now_ms >= tl->resume_ms && !w->stopping &&
		    w->tcp.reserve_fd >= 0 && tl->fd >= 0) {
			tl->paused = false;
			if (!tl->accepting)
				arm_accept(w, (uint32_t)l);
		}
	}
}

static void tcp_after_batch(struct worker *w)
{
	if (!w->tcp.bufs.br)
		return;
	nlb_bufring_flush(&w->tcp.bufs);
	tcp_rearm_starved(w);
	w->tcp.bufs_returned = false;
}

const struct stream_proto tcp_proto = {
	.name = "tcp",
	.op_base = NLB_OPS_TCP,
	.ops = tcp_ops,
	.n_ops = sizeof(tcp_ops) / sizeof(tcp_ops[0]),
	.worker_init = tcp_worker_init,
	.worker_sync = tcp_worker_sync,
	.worker_free = tcp_worker_free,
	.listener_take = tcp_listener_take,
	.listener_arm = tcp_listener_arm,
	.listener_close = tcp_listener_close,
	.stop = tcp_stop,
	.open_count = tcp_open_count,
	.busy = tcp_busy,
	.tick = tcp_worker_tick,
	.reset_drained = tcp_reset_drained,
	.reset_all = tcp_reset_all,
	.after_batch = tcp_after_batch,
};
