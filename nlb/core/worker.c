/* The per-core loop: one pinned thread, one io_uring, its own
 * SO_REUSEPORT listening sockets.  Each iteration submits, waits, then
 * dispatches a batch of completions and gives buffers back in one go.
 * The worker owns everything it touches; other threads only write its
 * stop eventfd and read its counters. */
#include "clock.h"
#include "core/worker.h"

#include "stream/admission.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "stream/admission.h"
#include "balance/pick.h"
#include "cpu_list.h"
#include "log.h"
#include "stream/tcp_proxy.h"
#include "stream/udp_proxy.h"
#include "balance/target_set.h"
#include "tunables.h"


static void arm_accept(struct worker *w, uint32_t lidx)
{
	struct worker_listener *wl = &w->listeners[lidx];
	struct io_uring_sqe *sqe = nlb_ring_sqe(&w->ring);
	io_uring_prep_multishot_accept(sqe, wl->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, ud_pack(OP_ACCEPT, lidx, 0));
	wl->accepting = true;
}

static void arm_stop_read(struct worker *w)
{
	struct io_uring_sqe *sqe = nlb_ring_sqe(&w->ring);
	io_uring_prep_read(sqe, w->stop_fd, &w->stop_val, sizeof(w->stop_val), 0);
	io_uring_sqe_set_data64(sqe, ud_pack(OP_STOP, 0, 0));
}

static void arm_tick(struct worker *w)
{
	struct io_uring_sqe *sqe = nlb_ring_sqe(&w->ring);
	io_uring_prep_timeout(sqe, &w->tick_ts, 0, 0);
	io_uring_sqe_set_data64(sqe, ud_pack(OP_TICK, 0, 0));
}

static bool accept_error_is_resource(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

static void on_accept(struct worker *w, const struct io_uring_cqe *cqe)
{
	uint32_t lidx = ud_idx(cqe->user_data);
	struct worker_listener *wl = &w->listeners[lidx];
	if (!(cqe->flags & IORING_CQE_F_MORE))
		wl->accepting = false;
	if (cqe->res >= 0) {
		tcp_accept(w, lidx, cqe->res);
	} else if (accept_error_is_resource(-cqe->res)) {
		/* Out of descriptors: back off instead of spinning on
		 * accept; clients wait in the backlog meanwhile. */
		if (!wl->paused) {
			nlb_warn_rl("worker %u: listener %s: accept paused: %s", w->id,
				 w->rt->listeners[lidx].conf->name, strerror(-cqe->res));
			STAT_INC(wstats(w, lidx), accept_paused);
		}
		wl->paused = true;
		wl->resume_ms = w->now_ms + NLB_ACCEPT_PAUSE_MS;
	} else if (cqe->res != -ECANCELED && cqe->res != -EINTR && cqe->res != -ECONNABORTED) {
		nlb_warn_rl("worker %u: listener %s: accept: %s", w->id,
			 w->rt->listeners[lidx].conf->name, strerror(-cqe->res));
	}
	if (!wl->accepting && !wl->paused && !w->stopping && wl->fd >= 0)
		arm_accept(w, lidx);
}

/* Whether a multishot accept has yet to post its last completion.  A
 * stopping worker waits for it: a client it accepted after the cancel was
 * sent still arrives in a completion, and a worker gone by then would
 * leave its descriptor to be closed at exit, a reset for the client. */
static bool accept_armed(const struct worker *w)
{
	for (size_t l = 0; l < w->rt->cfg->n_listeners; l++)
		if (w->listeners[l].accepting)
			return true;
	return false;
}

void worker_cancel_fd(struct worker *w, int fd)
{
	struct io_uring_sqe *sqe = nlb_ring_sqe(&w->ring);
	io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
	io_uring_sqe_set_data64(sqe, ud_pack(OP_NONE, 0, 0));
	sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
}

/* Stops listening on fd (a listening socket of this worker's): cancels
 * what is armed on it and closes it. */
static void listen_stop(struct worker *w, int fd, bool tcp)
{
	worker_cancel_fd(w, fd);
	/* The cancel must reach the kernel while the fd still exists. */
	io_uring_submit(&w->ring);
	/* shutdown takes the socket out of the SO_REUSEPORT group now;
	 * close alone leaves it listening until io_uring's teardown drops
	 * its reference, and connections the kernel queues there meanwhile
	 * would be reset. */
	if (tcp)
		shutdown(fd, SHUT_RD);
	close(fd);
}

static void begin_stop(struct worker *w)
{
	w->stopping = true;
	w->stop_deadline_ms = w->now_ms + w->rt->cfg->shutdown_timeout_ms;
	for (size_t l = 0; l < w->rt->cfg->n_listeners; l++) {
		struct worker_listener *wl = &w->listeners[l];
		/* UDP flows end with the worker: there is no connection
		 * to finish, and answers could not leave anyway. */
		if (wl->ufd >= 0)
			listen_stop(w, wl->ufd, false);
		wl->ufd = -1;
		if (wl->fd >= 0)
			listen_stop(w, wl->fd, true);
		wl->fd = -1;
	}
	/* Also with nothing to drain: the line says the listening sockets are
	 * closed, which is what a binary upgrade waits for. */
	nlb_info("worker %u: stopped accepting, %u connections to drain", w->id, w->live);
}

/* Out of descriptors: stop accepting for a while.  An armed multishot
 * accept fails with EMFILE on its own and is not re-armed while paused. */
void worker_pause_accept(struct worker *w)
{
	for (size_t l = 0; l < w->rt->cfg->n_listeners; l++) {
		struct worker_listener *wl = &w->listeners[l];
		if (!wl->paused)
			STAT_INC(wstats(w, (uint32_t)l), accept_paused);
		wl->paused = true;
		wl->resume_ms = w->now_ms + NLB_ACCEPT_PAUSE_MS;
	}
}

/* This worker's sockets of listener l (at start, or added by a reload),
 * with empty idle lists. */
static struct worker_listener *listener_take(struct worker *w, uint32_t l)
{
	const struct listener_rt *lr = &w->rt->listeners[l];
	struct worker_listener *wl = &w->listeners[l];
	wl->fd = lr->fds ? lr->fds[w->id] : -1;
	wl->ufd = lr->udp_fds ? lr->udp_fds[w->id] : -1;
	wl->lru_head = wl->lru_tail = NO_IDX;
	wl->ulru_head = wl->ulru_tail = NO_IDX;
	wl->started = true;
	return wl;
}

/* A listener added by a reload: this worker's sockets, armed. */
static void listener_start(struct worker *w, uint32_t l)
{
	const struct listener_rt *lr = &w->rt->listeners[l];
	struct worker_listener *wl = listener_take(w, l);
	if (admission_listener_init(w, l) < 0)
		nlb_warn("worker %u: listener %s: no per-source table, limits off", w->id,
			 lr->conf->name);
	if (w->stopping)
		return;		/* closed with the others when the worker ends */
	if (wl->fd >= 0)
		arm_accept(w, l);
	udp_listener_init(w, l);
	udp_arm_listener(w, l);
}

/* A listener removed by a reload: no new client from now on; the slot
 * is let go once this worker has nothing of it left (its accept's last
 * completion, connections, UDP flows). */
static void listener_close(struct worker *w, uint32_t l)
{
	struct listener_rt *lr = (struct listener_rt *)&w->rt->listeners[l];
	struct worker_listener *wl = &w->listeners[l];
	if (wl->fd >= 0) {
		listen_stop(w, wl->fd, true);
		wl->fd = -1;
	}
	/* Answers to open flows leave from the listener's socket. */
	if (wl->ufd >= 0 && wl->ulru_head == NO_IDX) {
		listen_stop(w, wl->ufd, false);
		wl->ufd = -1;
	}
	if (wl->fd < 0 && wl->ufd < 0 && !wl->accepting && !wl->udp_armed &&
	    atomic_load_explicit(&wstats(w, l)->active, memory_order_relaxed) == 0) {
		wl->released = true;
		atomic_fetch_sub_explicit(&lr->holders, 1, memory_order_release);
	}
}

/* Follows listeners added and removed by reloads. */
static void listeners_sync(struct worker *w)
{
	const struct nlb_config *cfg = w->rt->cfg;
	w->listeners_closing = false;
	for (size_t l = 0; l < cfg->n_listeners; l++) {
		struct worker_listener *wl = &w->listeners[l];
		enum listener_state st = atomic_load_explicit(&w->rt->listeners[l].state,
							      memory_order_acquire);
		if (st == LISTENER_ACTIVE && !wl->started) {
			listener_start(w, (uint32_t)l);
		} else if (st == LISTENER_CLOSING && wl->started && !wl->released) {
			listener_close(w, (uint32_t)l);
			w->listeners_closing |= !wl->released;
		}
	}
}

static uint64_t tick_ms(const struct nlb_config *cfg);

/* What this worker keeps from the configuration, read again after a
 * reload replaced it: timeouts, and the tick that enforces them. */
static void config_cache(struct worker *w)
{
	const struct nlb_config *cfg = w->rt->cfg;
	w->cfg_seen = cfg;
	uint64_t t = tick_ms(cfg);
	w->tick_ts.tv_sec = (long long)(t / 1000);
	w->tick_ts.tv_nsec = (long long)(t % 1000) * 1000000;
	w->flow_idle_ms = 0;
	for (size_t l = 0; l < cfg->n_listeners; l++) {
		struct worker_listener *wl = &w->listeners[l];
		wl->idle_ms = cfg->listeners[l].idle_timeout_ms;
		wl->udp_idle_ms = cfg->listeners[l].udp_idle_timeout_ms;
		/* A flow is forgotten after the longest idle timeout of the
		 * listeners: as long as a connection of it could live. */
		if (wl->idle_ms > w->flow_idle_ms)
			w->flow_idle_ms = wl->idle_ms;
	}
}

/* What a reload may need this worker to allocate before it takes up the
 * configuration's listeners and groups: round robin state for added
 * groups, a TCP flow table once a group uses maglev, UDP buffers and a
 * larger UDP flow table.  Run by the worker that owns them. */
static void worker_provision(struct worker *w)
{
	int ret;
	if ((ret = pick_worker_sync(w->rt, &w->pick)) < 0)
		nlb_err("worker %u: round robin state for an added group: %s (it is balanced "
			"by least connections here)", w->id, strerror(-ret));
	if ((ret = tcp_worker_sync(w)) < 0)
		nlb_err("worker %u: flow table: %s (maglev places flows by hash alone here)",
			w->id, strerror(-ret));
	if ((ret = udp_worker_sync(w)) < 0)
		nlb_err("worker %u: udp flow table or buffers: %s (added UDP listeners take no "
			"datagrams here; max_flows as before)", w->id, strerror(-ret));
}

static void on_tick(struct worker *w)
{
	if (w->rt->cfg != w->cfg_seen) {
		config_cache(w);
		worker_provision(w);
		listeners_sync(w);
	} else if (w->listeners_closing) {
		listeners_sync(w);
	}
	uint32_t seq = atomic_load_explicit(&w->rt->drain_close_seq, memory_order_acquire);
	if (seq != w->drain_close_seen) {
		w->drain_close_seen = seq;
		tcp_reset_drained(w);
		udp_reset_drained(w);
	}
	tcp_tick(w);
	udp_tick(w);
	if (w->reserve_fd < 0)
		w->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	for (size_t l = 0; l < w->rt->cfg->n_listeners; l++) {
		struct worker_listener *wl = &w->listeners[l];
		if (wl->paused && w->now_ms >= wl->resume_ms && !w->stopping &&
		    w->reserve_fd >= 0 && wl->fd >= 0) {
			wl->paused = false;
			if (!wl->accepting)
				arm_accept(w, (uint32_t)l);
		}
	}
	if (w->stopping && w->now_ms >= w->stop_deadline_ms && w->live) {
		nlb_info("worker %u: shutdown timeout, resetting %u connections", w->id, w->live);
		tcp_reset_all(w);
	}
	arm_tick(w);
}

static void dispatch(struct worker *w, const struct io_uring_cqe *cqe)
{
	switch (ud_op(cqe->user_data)) {
	case OP_NONE:
		break;
	case OP_STOP:
		if (!w->stopping)
			begin_stop(w);
		break;
	case OP_TICK:
		on_tick(w);
		break;
	case OP_ACCEPT:
		on_accept(w, cqe);
		break;
	case OP_UDP_RECV:
	case OP_UDP_FLOW_RECV:
	case OP_UDP_SEND_T:
	case OP_UDP_SENDMSG:
		udp_complete(w, cqe);
		break;
	default:
		tcp_complete(w, cqe);
		break;
	}
}

static uint64_t tick_ms(const struct nlb_config *cfg)
{
	uint64_t t = NLB_TICK_MAX_MS;
	for (size_t l = 0; l < cfg->n_listeners; l++) {
		uint64_t q = cfg->listeners[l].idle_timeout_ms / 8;
		uint64_t u = cfg->listeners[l].udp_idle_timeout_ms / 8;
		if (q < t)
			t = q;
		if (cfg->listeners[l].protocol != NLB_PROTO_TCP && u < t)
			t = u;
	}
	return t < NLB_TICK_MIN_MS ? NLB_TICK_MIN_MS : t;
}

static int worker_init(struct worker *w)
{
	const struct nlb_config *cfg = w->rt->cfg;
	/* The name tells workers apart in top -H, perf and the tests. */
	char name[16];
	snprintf(name, sizeof(name), "nlb-worker-%u", w->id);
	pthread_setname_np(pthread_self(), name);
	/* w->cpu is one of the CPUs nlb was given (config.c, load_cpus).
	 * If it cannot be pinned there (gone offline, a cpuset changed
	 * since), the thread keeps the mask it inherited, nlb's own, and
	 * its io-wq threads get that mask too: never a CPU outside it. */
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(w->cpu, &set);
	int pret = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (pret != 0) {
		nlb_warn("worker %u: cannot pin to CPU %d: %s; it runs on any CPU nlb may use",
			 w->id, w->cpu, strerror(pret));
		/* Should even that fail, io-wq is asked for w->cpu. */
		(void)nlb_cpu_allowed(&set);
	}

	int ret = nlb_ring_init(&w->ring, NLB_RING_SQ_ENTRIES, NLB_RING_CQ_ENTRIES, &w->feat);
	if (ret < 0) {
		/* Not root, each ring counts against RLIMIT_MEMLOCK (per
		 * user): say so, ENOMEM alone sends one looking for RAM. */
		nlb_err("worker %u: io_uring setup failed: %s%s", w->id, strerror(-ret),
			ret == -ENOMEM && geteuid() != 0 ?
			" (rings count against RLIMIT_MEMLOCK when not root: raise it, "
			"e.g. LimitMEMLOCK=infinity, or start nlb as root with \"user\" set)" : "");
		return ret;
	}
	if (!w->feat.recv_multishot || !w->feat.accept_multishot) {
		nlb_err("worker %u: this kernel lacks multishot accept/recv (Linux 6.0 or later is needed)",
			w->id);
		w->ring_ready = true;
		return -ENOSYS;
	}
	w->ring_ready = true;
	unsigned iowq[2] = { NLB_IOWQ_MAX_WORKERS, NLB_IOWQ_MAX_WORKERS };
	io_uring_register_iowq_max_workers(&w->ring, iowq);
	/* io-wq threads share the worker's CPU (nlb's mask if the pin
	 * failed), said explicitly rather than left to the kernel. */
	ret = io_uring_register_iowq_aff(&w->ring, sizeof(set), &set);
	if (ret < 0)
		nlb_warn("worker %u: cannot pin io-wq threads: %s", w->id, strerror(-ret));
	if (w->id == 0)
		nlb_info("io_uring: single_issuer=%d defer_taskrun=%d coop_taskrun=%d",
			 w->feat.single_issuer, w->feat.defer_taskrun, w->feat.coop_taskrun);

	ret = tcp_worker_init(w);
	if (ret < 0) {
		nlb_err("worker %u: buffers: %s", w->id, strerror(-ret));
		return ret;
	}
	ret = pick_worker_init(w->rt, w->id, &w->pick);
	if (ret < 0)
		return ret;

	w->listeners = calloc(NLB_MAX_LISTENERS, sizeof(*w->listeners));
	if (!w->listeners)
		return -ENOMEM;
	w->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	w->now_ms = nlb_clock_coarse_ms();
	for (size_t l = 0; l < cfg->n_listeners; l++)
		listener_take(w, (uint32_t)l);
	config_cache(w);
	ret = admission_worker_init(w);
	if (ret < 0) {
		nlb_err("worker %u: per-source limits: %s", w->id, strerror(-ret));
		return ret;
	}
	ret = udp_worker_init(w);
	if (ret < 0) {
		nlb_err("worker %u: udp: %s", w->id, strerror(-ret));
		return ret;
	}
	for (size_t l = 0; l < cfg->n_listeners; l++) {
		if (w->listeners[l].fd >= 0)
			arm_accept(w, (uint32_t)l);
		udp_arm_listener(w, (uint32_t)l);
	}
	arm_stop_read(w);
	arm_tick(w);
	return 0;
}

static void worker_run(struct worker *w)
{
	while (!w->done) {
		/* Nothing read from a published table survives an
		 * iteration: say so before sleeping. */
		nlb_qsbr_quiescent((struct nlb_qsbr *)&w->rt->qsbr, w->id);
		int ret = io_uring_submit_and_wait(&w->ring, 1);
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY && ret != -ETIME) {
			nlb_err("worker %u: io_uring_submit_and_wait: %s", w->id, strerror(-ret));
			break;
		}
		w->now_ms = nlb_clock_coarse_ms();
		w->bufs_returned = false;
		unsigned head, n = 0;
		struct io_uring_cqe *cqe;
		io_uring_for_each_cqe(&w->ring, head, cqe) {
			dispatch(w, cqe);
			n++;
		}
		io_uring_cq_advance(&w->ring, n);
		if (w->bufs.br) {
			nlb_bufring_flush(&w->bufs);
			tcp_rearm_starved(w);
		}
		if (w->ubufs.br) {
			nlb_bufring_flush(&w->ubufs);
			udp_rearm_starved(w);
		}
		if (w->stopping && w->live == 0 && !accept_armed(w))
			w->done = true;
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	w->init_error = worker_init(w);
	pthread_barrier_wait(w->barrier);
	if (w->init_error == 0)
		worker_run(w);
	nlb_qsbr_offline((struct nlb_qsbr *)&w->rt->qsbr, w->id);
	for (size_t l = 0; l < w->rt->cfg->n_listeners; l++) {
		const struct listener_rt *lr = &w->rt->listeners[l];
		int fd = w->listeners ? w->listeners[l].fd : lr->fds ? lr->fds[w->id] : -1;
		int ufd = w->listeners ? w->listeners[l].ufd : lr->udp_fds ? lr->udp_fds[w->id] : -1;
		if (fd >= 0)
			close(fd);
		if (ufd >= 0)
			close(ufd);
	}
	if (w->ring_ready) {
		udp_worker_free(w);
		tcp_worker_free(w);
		io_uring_queue_exit(&w->ring);
	}
	pick_worker_free(&w->pick);
	admission_worker_free(w);
	if (w->listeners && w->reserve_fd >= 0)
		close(w->reserve_fd);
	free(w->listeners);
	w->listeners = NULL;
	return NULL;
}

int worker_start(struct worker *w)
{
	/* Rows are allocated here, not by the thread, so that the exit
	 * stats line and the metrics thread can read them from the start
	 * to the end whatever the worker does. */
	size_t n = NLB_MAX_LISTENERS;	/* listeners added by reloads too */
	w->stats = aligned_alloc(64, n * sizeof(*w->stats));
	if (!w->stats)
		return -ENOMEM;
	w->n_stats = n;
	memset(w->stats, 0, n * sizeof(*w->stats));
	w->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (w->stop_fd < 0) {
		int err = -errno;
		worker_free_stats(w);
		return err;
	}
	int ret = pthread_create(&w->thread, NULL, worker_main, w);
	if (ret != 0) {
		close(w->stop_fd);
		worker_free_stats(w);
		return -ret;
	}
	return 0;
}

void worker_free_stats(struct worker *w)
{
	free(w->stats);
	w->stats = NULL;
	w->n_stats = 0;
}

void worker_stop(struct worker *w)
{
	uint64_t one = 1;
	ssize_t n = write(w->stop_fd, &one, sizeof(one));
	(void)n;
}
