/* The workers' counters: the one list of what a worker counts (name and
 * meaning), one row per (worker, listener), and how a worker writes it.
 * Rows are written only by their worker (relaxed load+store, no atomic
 * read-modify-write on the hot path) and summed with relaxed loads by
 * whoever reads (control/stats.c, the metrics). */
#ifndef NLB_CORE_COUNTERS_T_H
#define NLB_CORE_COUNTERS_T_H

#include <stdatomic.h>
#include <stdint.h>

/* name, what it counts */
#define NLB_WORKER_STATS(X)                                                   \
	X(accepted)        /* client connections accepted */                  \
	X(active)          /* client connections open now (gauge) */          \
	X(closed)          /* client connections finished */                  \
	X(connect_refused) /* target connect attempts refused */              \
	X(connect_timeout) /* target connect attempts past connect_timeout */ \
	X(connect_error)   /* target connect attempts failing otherwise */    \
	X(no_target)       /* clients closed: no target left to try */        \
	X(no_healthy)      /* clients closed: no healthy target, fail-closed */ \
	X(limit)           /* clients refused by max_connections */           \
	X(acl_denied)      /* clients (connections, UDP flows) refused by allow/deny */ \
	X(source_limit)    /* ... refused by max_connections_per_source */     \
	X(source_rate)     /* ... refused by new_connections_per_source_per_s */ \
	X(proxy_header_invalid) /* clients closed: malformed or oversized PROXY header */ \
	X(proxy_header_timeout) /* clients closed: no whole PROXY header in time */ \
	X(idle_timeout)    /* connections reset after idle_timeout_ms */      \
	X(client_reset)    /* resets received from clients */                 \
	X(target_reset)    /* resets received from targets */                 \
	X(shutdown_reset)  /* connections reset at the shutdown deadline */   \
	X(drain_reset)     /* connections reset at a removed target's deregistration delay */ \
	X(bytes_in)        /* bytes from clients to targets */                \
	X(bytes_out)       /* bytes from targets to clients */                \
	X(auto_splice)     /* directions moved from copy to splice (auto) */  \
	X(flow_hits)       /* connections placed by the flow table */         \
	X(accept_paused)   /* times accepting paused for lack of fds */       \
	X(nomem)           /* connections refused for lack of memory/fds */   \
	X(udp_in)          /* datagrams from clients forwarded to targets */  \
	X(udp_out)         /* datagrams from targets forwarded to clients */  \
	X(udp_flows)       /* UDP flows started */                            \
	X(udp_flows_active) /* UDP flows open now (gauge) */                  \
	X(udp_expired)     /* flows ended by udp_idle_timeout_ms */           \
	X(udp_moved)       /* flows moved off a target that went unhealthy */ \
	X(udp_too_big)     /* datagrams dropped: larger than udp_max_datagram */ \
	X(udp_gro_batches) /* GRO batches received (their datagrams count in udp_in, udp_out) */ \
	X(udp_gso_split)   /* batches sent one datagram at a time: GSO refused (path MTU) */ \
	X(udp_flow_limit)  /* datagrams dropped: max_flows reached */         \
	X(udp_no_target)   /* datagrams dropped: no (healthy) target */       \
	X(udp_nomem)       /* datagrams dropped: no socket, flow or buffer */ \
	X(udp_send_error)  /* datagrams the kernel refused to send */         \
	X(udp_target_refused) /* ICMP port unreachable from a target */

/* The UDP part of four counters, kept apart from acl_denied,
 * source_limit, source_rate and drain_reset (which then count TCP
 * connections only) so that the metrics can tell a tcp_udp listener's
 * connections from its flows; the exit stats line adds them back into
 * those four names, as it always printed them. */
#define NLB_WORKER_STATS_UDP_SPLIT(X)                                         \
	X(udp_acl_denied)   /* new UDP flows refused by allow/deny */          \
	X(udp_source_limit) /* ... by max_connections_per_source */            \
	X(udp_source_rate)  /* ... by new_connections_per_source_per_s */      \
	X(udp_drain_reset)  /* UDP flows ended at a removed target's deregistration delay */

/* One worker's counters for one listener.  A worker holds a row per
 * listener (its index in cfg->listeners); rows are cache-line aligned so
 * no two workers ever write the same line. */
struct worker_stats {
#define NLB_STAT_FIELD(name) _Atomic uint64_t name;
	NLB_WORKER_STATS(NLB_STAT_FIELD)
	NLB_WORKER_STATS_UDP_SPLIT(NLB_STAT_FIELD)
#undef NLB_STAT_FIELD
} __attribute__((aligned(64)));

/* Plain sums of rows, for readers. */
struct stats_sum {
#define NLB_STAT_FIELD(name) uint64_t name;
	NLB_WORKER_STATS(NLB_STAT_FIELD)
	NLB_WORKER_STATS_UDP_SPLIT(NLB_STAT_FIELD)
#undef NLB_STAT_FIELD
};

/* Adds row into sum, one relaxed load per counter: each value is one the
 * row held, though not all from the same instant. */
static inline void stats_sum_add(struct stats_sum *sum, const struct worker_stats *row)
{
#define NLB_STAT_ADD(name) sum->name += atomic_load_explicit(&row->name, memory_order_relaxed);
	NLB_WORKER_STATS(NLB_STAT_ADD)
	NLB_WORKER_STATS_UDP_SPLIT(NLB_STAT_ADD)
#undef NLB_STAT_ADD
}

#define STAT_ADD(st, name, n)                                                  \
	atomic_store_explicit(&(st)->name,                                     \
			      atomic_load_explicit(&(st)->name, memory_order_relaxed) + (n), \
			      memory_order_relaxed)
#define STAT_INC(st, name) STAT_ADD(st, name, 1)
#define STAT_DEC(st, name) STAT_ADD(st, name, (uint64_t)-1)

#endif
