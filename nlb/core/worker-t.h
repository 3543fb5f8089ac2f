/* A worker: a pinned thread with its own io_uring, its own listening
 * sockets, and everything its connections and flows use.  Nothing here
 * is touched by another thread except the stop eventfd and the counter
 * rows (read-only). */
#ifndef NLB_CORE_WORKER_T_H
#define NLB_CORE_WORKER_T_H

#include <linux/time_types.h>
#include <liburing.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "ring.h"
#include "srclimit.h"
#include "tls_end.h"
#include "balance/pick-t.h"
#include "core/counters-t.h"
#include "core/proto-t.h"
#include "core/runtime.h"
#include "gateway/gw_conn-t.h"
#include "http/http_conn-t.h"
#include "stream/tcp_conn-t.h"
#include "stream/udp_flow-t.h"

/* A worker's part of one listener slot: each protocol's sockets and idle
 * order, and the per-source limits they share. */
struct worker_listener {
	struct tcp_listener tcp;
	struct udp_listener udp;
	struct http_listener http;
	struct gw_listener *gw;		/* a gateway's (allocated when taken) */
	struct nlb_srclimit srclimit;	/* per-source limits (stream/admission.c) */
	bool started;			/* this worker serves the slot */
	bool released;			/* ... and, removed, let go of it */
};

struct worker {
	unsigned id;
	int cpu;
	pthread_t thread;
	const struct nlb_runtime *rt;
	struct io_uring ring;
	struct nlb_ring_features feat;
	bool ring_ready;
	int stop_fd;
	uint64_t stop_val;
	int init_error;		/* set before the start barrier */
	pthread_barrier_t *barrier;

	/* The completion dispatch table, from the protocols' op blocks. */
	struct worker_op ops[NLB_OPS];
	/* Protocols whose worker_init ran (rt->protocols order): the ones
	 * worker_free is owed to. */
	unsigned n_protos_started;

	uint64_t now_ms;
	/* Connections with traffic in one tick of the coarse clock: how many
	 * requests can be in flight at once, which sizes the batch of
	 * completions the worker waits for (loop.c). */
	uint32_t active_now;		/* touched since now_ms last changed */
	uint32_t active_last;		/* ... in the tick before */
	const struct nlb_config *cfg_seen;	/* what the tick was computed from */
	bool listeners_closing;		/* a removed listener is not let go yet */
	bool stopping;
	bool done;
	uint64_t stop_deadline_ms;
	struct __kernel_timespec tick_ts;
	uint32_t drain_close_seen;	/* rt->drain_close_seq last acted on */
	/* Completion queue overflows: batches that found it full, and the
	 * counts last warned of (loop.c) */
	unsigned cq_full, cq_full_seen, cq_dropped_seen;

	struct worker_listener *listeners;	/* NLB_MAX_LISTENERS slots */
	struct tcp_worker tcp;
	struct udp_worker udp;
	struct http_worker http;
	struct gw_worker gw;
	struct nlb_tls_pool tls_pool;	/* send buffers of TLS ends (lib/tls_end.h) */

	struct pick_state pick;		/* the balancing algorithms' own */

	/* Counters, one row per listener (index into cfg->listeners),
	 * allocated by worker_start and freed by worker_free_stats once
	 * nobody reads them; other threads only load them. */
	struct worker_stats *stats;
	size_t n_stats;
};

#endif
