/* The per-core loop: one pinned thread, one io_uring.  Each iteration
 * submits, waits, then dispatches a batch of completions through the
 * worker's op table and lets each protocol give buffers back in one go.
 * The loop itself knows no protocol: it builds the table from the
 * protocol modules' descriptors (core/proto-t.h), follows reloads (the
 * tick recomputed, listener slots started and let go) and runs the
 * orderly stop. */
#include "core/loop.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "clock.h"
#include "cpu_list.h"
#include "log.h"
#include "tunables.h"
#include "balance/pick.h"
#include "core/sandbox.h"
#include "core/worker.h"
#include "stream/admission.h"

#define for_each_proto(w, p)								\
	for (const struct stream_proto *const *p##_it = (w)->rt->protocols, *p;	\
	     p##_it < (w)->rt->protocols + (w)->rt->n_protocols && (p = *p##_it, 1); p##_it++)

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

static void begin_stop(struct worker *w)
{
	w->stopping = true;
	w->stop_deadline_ms = w->now_ms + w->rt->cfg->shutdown_timeout_ms;
	uint32_t open = 0;
	for_each_proto(w, p) {
		if (p->stop)
			p->stop(w);
		if (p->open_count)
			open += p->open_count(w);
	}
	/* Also with nothing to drain: the line says the listening sockets are
	 * closed, which is what a binary upgrade waits for. */
	nlb_info("worker %u: stopped accepting, %u connections to drain", w->id, open);
}

/* A listener slot this worker takes up: at start, or added by a reload. */
static void listener_take(struct worker *w, uint32_t l)
{
	for_each_proto(w, p)
		if (p->listener_take)
			p->listener_take(w, l);
	w->listeners[l].started = true;
}

static void listener_arm(struct worker *w, uint32_t l)
{
	if (w->stopping)
		return;		/* closed with the others when the worker ends */
	for_each_proto(w, p)
		if (p->listener_arm)
			p->listener_arm(w, l);
}

/* A listener removed by a reload: no new client from now on; the slot
 * is let go once no protocol here holds anything of it. */
static void listener_close(struct worker *w, uint32_t l)
{
	bool done = true;
	for_each_proto(w, p)
		if (p->listener_close && !p->listener_close(w, l))
			done = false;
	if (done) {
		struct listener_rt *lr = (struct listener_rt *)&w->rt->listeners[l];
		w->listeners[l].released = true;
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
			listener_take(w, (uint32_t)l);
			if (admission_listener_init(w, (uint32_t)l) < 0)
				nlb_warn("worker %u: listener %s: no per-source table, limits off",
					 w->id, w->rt->listeners[l].conf->name);
			listener_arm(w, (uint32_t)l);
		} else if (st == LISTENER_CLOSING && wl->started && !wl->released) {
			listener_close(w, (uint32_t)l);
			w->listeners_closing |= !wl->released;
		}
	}
}

/* The tick: often enough to enforce the shortest idle or handshake
 * timeout within an eighth of it, within NLB_TICK_MIN_MS .. NLB_TICK_MAX_MS. */
static uint64_t tick_ms(const struct nlb_config *cfg)
{
	uint64_t t = NLB_TICK_MAX_MS;
	for (size_t l = 0; l < cfg->n_listeners; l++) {
		uint64_t q = cfg->listeners[l].idle_timeout_ms / 8;
		uint64_t u = cfg->listeners[l].udp_idle_timeout_ms / 8;
		if (q < t)
			t = q;
		if (nlb_proto_udp(cfg->listeners[l].protocol) && u < t)
			t = u;
		uint64_t h = cfg->listeners[l].tls.handshake_timeout_ms / 8;
		if (nlb_proto_tls(cfg->listeners[l].protocol) && h < t)
			t = h;
	}
	/* Target handshakes end at their group's connect_timeout_ms. */
	for (size_t g = 0; g < cfg->n_groups; g++) {
		uint64_t c = cfg->groups[g].connect_timeout_ms / 8;
		if (cfg->groups[g].tls.enabled && c < t)
			t = c;
	}
	return t < NLB_TICK_MIN_MS ? NLB_TICK_MIN_MS : t;
}

static void tick_cache(struct worker *w)
{
	w->cfg_seen = w->rt->cfg;
	uint64_t t = tick_ms(w->cfg_seen);
	w->tick_ts.tv_sec = (long long)(t / 1000);
	w->tick_ts.tv_nsec = (long long)(t % 1000) * 1000000;
}

/* What a reload may need this worker to allocate before it takes up the
 * configuration's listeners and groups: round robin state for added
 * groups, and each protocol's (timeouts, tables, buffers).  Run by the
 * worker that owns them. */
static void worker_provision(struct worker *w)
{
	int ret;
	if ((ret = pick_worker_sync(w->rt, &w->pick)) < 0)
		nlb_err("worker %u: round robin state for an added group: %s (it is balanced "
			"by least connections here)", w->id, strerror(-ret));
	for_each_proto(w, p)
		if (p->worker_sync && (ret = p->worker_sync(w)) < 0)
			nlb_err("worker %u: %s: taking up the reloaded configuration: %s (it goes "
				"on with what it had)", w->id, p->name, strerror(-ret));
}

static void on_tick(struct worker *w)
{
	if (w->rt->cfg != w->cfg_seen) {
		tick_cache(w);
		worker_provision(w);
		listeners_sync(w);
	} else if (w->listeners_closing) {
		listeners_sync(w);
	}
	uint32_t seq = atomic_load_explicit(&w->rt->drain_close_seq, memory_order_acquire);
	bool drained = seq != w->drain_close_seen;
	w->drain_close_seen = seq;
	uint32_t open = 0;
	for_each_proto(w, p) {
		if (drained && p->reset_drained)
			p->reset_drained(w);
		if (p->tick)
			p->tick(w);
		if (p->open_count)
			open += p->open_count(w);
	}
	/* Completions that found the queue full wait in the kernel, and the
	 * multishot requests they came from end (their protocols re-arm
	 * them): worth knowing, since each costs a round trip.  The kernel
	 * drops one only when it cannot allocate (koverflow). */
	unsigned dropped = IO_URING_READ_ONCE(*w->ring.cq.koverflow);
	if (w->cq_full != w->cq_full_seen || dropped != w->cq_dropped_seen) {
		nlb_warn_rl("worker %u: completion queue overflowed (full at %u batches, %u completions "
			    "lost; ring_cq_entries = %u)", w->id, w->cq_full - w->cq_full_seen,
			    dropped - w->cq_dropped_seen, w->rt->cfg->ring_cq_entries);
		w->cq_full_seen = w->cq_full;
		w->cq_dropped_seen = dropped;
	}
	if (w->stopping && w->now_ms >= w->stop_deadline_ms && open) {
		nlb_info("worker %u: shutdown timeout, resetting %u connections", w->id, open);
		for_each_proto(w, p)
			if (p->reset_all)
				p->reset_all(w);
	}
	arm_tick(w);
}

static void on_stop(struct worker *w, const struct io_uring_cqe *cqe)
{
	(void)cqe;
	if (!w->stopping)
		begin_stop(w);
}

static void on_tick_op(struct worker *w, const struct io_uring_cqe *cqe)
{
	(void)cqe;
	on_tick(w);
}

static const struct worker_op core_ops[] = {
	[OP_NONE - NLB_OPS_CORE] = { "none", NULL },
	[OP_STOP - NLB_OPS_CORE] = { "stop", on_stop },
	[OP_TICK - NLB_OPS_CORE] = { "tick", on_tick_op },
};

/* w->ops from the core's block and each protocol's.  -EINVAL when a
 * block is taken twice or a protocol has more ops than its block holds:
 * a programming error, found at the first start. */
static int ops_build(struct worker *w)
{
	memset(w->ops, 0, sizeof(w->ops));
	for (unsigned i = 0; i < sizeof(core_ops) / sizeof(core_ops[0]); i++)
		w->ops[NLB_OPS_CORE + i] = core_ops[i];
	for_each_proto(w, p) {
		if (p->op_base % NLB_OP_BLOCK || p->op_base == NLB_OPS_CORE ||
		    p->op_base + NLB_OP_BLOCK > NLB_OPS || p->n_ops > NLB_OP_BLOCK ||
		    w->ops[p->op_base].name) {
			nlb_err("worker %u: protocol %s: bad op block %u (%u ops)", w->id, p->name,
				p->op_base, p->n_ops);
			return -EINVAL;
		}
		for (unsigned i = 0; i < p->n_ops; i++)
			w->ops[p->op_base + i] = p->ops[i];
		/* Marks the block taken even where an op is unnamed. */
		if (!w->ops[p->op_base].name)
			w->ops[p->op_base].name = p->name;
	}
	return 0;
}

static void dispatch(struct worker *w, const struct io_uring_cqe *cqe)
{
	const struct worker_op *op = &w->ops[ud_op(cqe->user_data)];
	if (op->handler)
		op->handler(w, cqe);
}

/* Pins the calling worker thread to w->cpu.  w->cpu is one of the CPUs
 * nlb was given (config.c, load_cpus).  If it cannot be pinned there
 * (gone offline, a cpuset changed since), the thread keeps the mask it
 * inherited, nlb's own, and set says that mask: its io-wq threads get it
 * too, never a CPU outside it. */
static void pin(struct worker *w, cpu_set_t *set)
{
	/* The name tells workers apart in top -H, perf and the tests. */
	char name[16];
	snprintf(name, sizeof(name), "nlb-worker-%u", w->id);
	pthread_setname_np(pthread_self(), name);
	CPU_ZERO(set);
	CPU_SET(w->cpu, set);
	int ret = pthread_setaffinity_np(pthread_self(), sizeof(*set), set);
	if (ret != 0) {
		nlb_warn("worker %u: cannot pin to CPU %d: %s; it runs on any CPU nlb may use",
			 w->id, w->cpu, strerror(ret));
		/* Should even that fail, io-wq is asked for w->cpu. */
		(void)nlb_cpu_allowed(set);
	}
}

static int ring_init(struct worker *w, const cpu_set_t *set)
{
	unsigned cq = w->rt->cfg->ring_cq_entries;
	const struct nlb_ring_restrictions *restrict_to = sandbox_ring_restrictions(w->rt->cfg);
	int ret = nlb_ring_init_restricted(&w->ring, cq < NLB_RING_SQ_ENTRIES ? cq : NLB_RING_SQ_ENTRIES,
					   cq, &w->feat, restrict_to);
	if (ret < 0 && restrict_to) {
		/* The operator asked for the restrictions: no ring without. */
		nlb_err("worker %u: io_uring with restrictions (seccomp = true): %s: this kernel "
			"refuses a ring created disabled and restricted to nlb's operations "
			"(Linux 5.10 or later has them); set seccomp = false to run without",
			w->id, strerror(-ret));
		return ret;
	}
	if (ret < 0) {
		/* Not root, each ring counts against RLIMIT_MEMLOCK (per
		 * user): say so, ENOMEM alone sends one looking for RAM. */
		nlb_err("worker %u: io_uring setup failed: %s%s", w->id, strerror(-ret),
			ret == -ENOMEM && geteuid() != 0 ?
			" (rings count against RLIMIT_MEMLOCK when not root: raise it, "
			"e.g. LimitMEMLOCK=infinity, or start nlb as root with \"user\" set)" : "");
		return ret;
	}
	w->ring_ready = true;
	atomic_store_explicit(&w->rt->ring_fds[w->id], w->ring.ring_fd, memory_order_release);
	if (!w->feat.recv_multishot || !w->feat.accept_multishot) {
		nlb_err("worker %u: this kernel lacks multishot accept/recv (Linux 6.0 or later is needed)",
			w->id);
		return -ENOSYS;
	}
	unsigned iowq[2] = { NLB_IOWQ_MAX_WORKERS, NLB_IOWQ_MAX_WORKERS };
	io_uring_register_iowq_max_workers(&w->ring, iowq);
	/* io-wq threads share the worker's CPU (nlb's mask if the pin
	 * failed), said explicitly rather than left to the kernel. */
	ret = io_uring_register_iowq_aff(&w->ring, sizeof(*set), set);
	if (ret < 0)
		nlb_warn("worker %u: cannot pin io-wq threads: %s", w->id, strerror(-ret));
	if (w->id == 0)
		nlb_info("io_uring: single_issuer=%d defer_taskrun=%d coop_taskrun=%d",
			 w->feat.single_issuer, w->feat.defer_taskrun, w->feat.coop_taskrun);
	return 0;
}

static int worker_init(struct worker *w)
{
	const struct nlb_config *cfg = w->rt->cfg;
	cpu_set_t set;
	pin(w, &set);
	int ret = ops_build(w);
	if (ret < 0 || (ret = ring_init(w, &set)) < 0)
		return ret;
	if ((ret = pick_worker_init(w->rt, w->id, &w->pick)) < 0)
		return ret;
	w->listeners = calloc(NLB_MAX_LISTENERS, sizeof(*w->listeners));
	if (!w->listeners)
		return -ENOMEM;
	w->now_ms = nlb_clock_coarse_ms();
	tick_cache(w);
	/* Each protocol sets itself up before any socket is handed to it:
	 * a failure here leaves the sockets to close_untaken. */
	for_each_proto(w, p) {
		w->n_protos_started++;
		if (p->worker_init && (ret = p->worker_init(w)) < 0) {
			nlb_err("worker %u: %s: %s", w->id, p->name, strerror(-ret));
			return ret;
		}
	}
	for (size_t l = 0; l < cfg->n_listeners; l++)
		listener_take(w, (uint32_t)l);
	ret = admission_worker_init(w);
	if (ret < 0) {
		nlb_err("worker %u: per-source limits: %s", w->id, strerror(-ret));
		return ret;
	}
	for (size_t l = 0; l < cfg->n_listeners; l++)
		listener_arm(w, (uint32_t)l);
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
		/* Many clients at once: wait for a batch of completions, but
		 * at most NLB_WAIT_MIN_US before taking what is there.  A
		 * few clients (or a quiet minute) wake at the first: each
		 * one's next request depends on this answer, so waiting
		 * gains little and costs them latency. */
		uint32_t want = w->active_last / NLB_WAIT_DIV;
		if (want > NLB_WAIT_BATCH)
			want = NLB_WAIT_BATCH;
		bool batch = w->feat.min_wait && want >= NLB_WAIT_MIN_BATCH;
		int ret = nlb_ring_submit_and_wait_batch(&w->ring, &w->feat, batch ? want : 1,
							 batch ? NLB_WAIT_MIN_US : 0, NLB_WAIT_MAX_NS);
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY && ret != -ETIME) {
			nlb_err("worker %u: io_uring_submit_and_wait: %s", w->id, strerror(-ret));
			break;
		}
		uint64_t now = nlb_clock_coarse_ms();
		if (now != w->now_ms) {
			w->active_last = w->active_now;
			w->active_now = 0;
			w->now_ms = now;
		}
		unsigned head, n = 0;
		struct io_uring_cqe *cqe;
		io_uring_for_each_cqe(&w->ring, head, cqe) {
			dispatch(w, cqe);
			n++;
		}
		io_uring_cq_advance(&w->ring, n);
		/* More completions than the queue holds wait in the kernel's
		 * overflow list (the next enter flushes them): counted for the
		 * tick's warning. */
		if (IO_URING_READ_ONCE(*w->ring.sq.kflags) & IORING_SQ_CQ_OVERFLOW)
			w->cq_full++;
		bool busy = false;
		for_each_proto(w, p) {
			if (p->after_batch)
				p->after_batch(w);
			busy = busy || (p->busy && p->busy(w));
		}
		if (w->stopping && !busy)
			w->done = true;
	}
}

/* The sockets of listener slots this worker never took up (a failed
 * start, or added by a reload just before the stop): the protocols
 * close those they took. */
static void close_untaken(struct worker *w)
{
	for (size_t l = 0; l < w->rt->cfg->n_listeners; l++) {
		const struct listener_rt *lr = &w->rt->listeners[l];
		if (w->listeners && w->listeners[l].started)
			continue;
		if (lr->fds && lr->fds[w->id] >= 0)
			close(lr->fds[w->id]);
		if (lr->udp_fds && lr->udp_fds[w->id] >= 0)
			close(lr->udp_fds[w->id]);
		if (lr->tun_fds && lr->tun_fds[w->id] >= 0)
			close(lr->tun_fds[w->id]);
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
	/* What the last iteration queued (closes among it) goes in. */
	if (w->ring_ready)
		io_uring_submit(&w->ring);
	close_untaken(w);
	if (w->ring_ready) {
		/* Those whose worker_init ran, in reverse. */
		for (unsigned i = w->n_protos_started; i-- > 0;)
			if (w->rt->protocols[i]->worker_free)
				w->rt->protocols[i]->worker_free(w);
		atomic_store_explicit(&w->rt->ring_fds[w->id], -1, memory_order_release);
		io_uring_queue_exit(&w->ring);
	}
	pick_worker_free(&w->pick);
	nlb_tls_pool_drain(&w->tls_pool);
	admission_worker_free(w);
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
