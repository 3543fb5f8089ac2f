/* What a worker offers the protocol modules it runs (core/worker.h). */
#include "core/worker.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "tunables.h"

void worker_ring_close(struct worker *w, int fd)
{
	struct io_uring_sqe *sqe = nlb_ring_sqe(&w->ring);
	io_uring_prep_close(sqe, fd);
	io_uring_sqe_set_data64(sqe, ud_pack(OP_NONE, 0, 0));
	sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
}

void worker_submit_now(struct worker *w)
{
	if (io_uring_sq_ready(&w->ring))
		io_uring_submit(&w->ring);
}

void worker_set_nodelay(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

void worker_set_linger0(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

void worker_close_reset(int fd)
{
	worker_set_linger0(fd);
	close(fd);
}

void worker_cancel_fd(struct worker *w, int fd)
{
	struct io_uring_sqe *sqe = nlb_ring_sqe(&w->ring);
	io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
	io_uring_sqe_set_data64(sqe, ud_pack(OP_NONE, 0, 0));
	sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
}

void worker_listen_stop(struct worker *w, int fd, bool shut_rd)
{
	worker_cancel_fd(w, fd);
	/* The cancel must reach the kernel while the fd still exists. */
	io_uring_submit(&w->ring);
	/* shutdown takes the socket out of the SO_REUSEPORT group now;
	 * close alone leaves it listening until io_uring's teardown drops
	 * its reference, and connections the kernel queues there meanwhile
	 * would be reset. */
	if (shut_rd)
		shutdown(fd, SHUT_RD);
	close(fd);
}

void worker_stale(struct worker *w, const struct io_uring_cqe *cqe)
{
	uint64_t ud = cqe->user_data;
	const char *name = w->ops[ud_op(ud)].name;
	nlb_warn_rl("worker %u: stale completion %s%s slot=%u gen=%u res=%d", w->id,
		    name ? name : "?", ud_dir(ud) ? " (target to client)" : "", ud_idx(ud),
		    ud_gen(ud), cqe->res);
}

void worker_pause_accept(struct worker *w)
{
	for (size_t l = 0; l < w->rt->cfg->n_listeners; l++) {
		struct tcp_listener *tl = &w->listeners[l].tcp;
		if (!tl->paused)
			STAT_INC(wstats(w, (uint32_t)l), accept_paused);
		tl->paused = true;
		tl->resume_ms = w->now_ms + NLB_ACCEPT_PAUSE_MS;
	}
}
