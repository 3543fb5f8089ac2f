/* Target selection: which target of a group a new connection tries, by
 * the group's algorithm (lib/lb_pick.h), reading the group's published
 * table without a lock; and the per-worker counters the algorithms and
 * health read.  A worker calls these with the runtime, its id and its
 * own picking state (pick-t.h). */
#ifndef NLB_PICK_H
#define NLB_PICK_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "balance/pick-t.h"
#include "core/runtime.h"

int pick_worker_init(const struct nlb_runtime *rt, unsigned worker, struct pick_state *ps);
/* After a reload: state for groups it added.  0 or -ENOMEM. */
int pick_worker_sync(const struct nlb_runtime *rt, struct pick_state *ps);
void pick_worker_free(struct pick_state *ps);

/* Picks a target of group by its algorithm for a flow whose tuple hashes
 * to hash, skipping those whose bit is set in tried (indexes below 64);
 * attempt counts earlier tries.  Returns the index, or -ENOENT when no
 * target is left. */
int pick_target(const struct nlb_runtime *rt, struct pick_state *ps, size_t group,
		uint64_t hash, unsigned attempt, uint64_t tried);

/* Does group take no new flows because no target is healthy? */
bool pick_fail_closed(const struct nlb_runtime *rt, size_t group);

/* May target t of group take a new flow (has weight, not in tried)? */
bool pick_eligible(const struct nlb_runtime *rt, size_t group, uint32_t t, uint64_t tried);

/* A connection of worker to target t of group begins / ends (least_conn,
 * random2). */
static inline void pick_conn_add(const struct nlb_runtime *rt, unsigned worker, size_t group,
				 uint32_t t, int delta)
{
	struct group_rt *g = &rt->groups[group];
	_Atomic uint32_t *n = &g->active[worker * g->active_stride + t];
	atomic_store_explicit(n, atomic_load_explicit(n, memory_order_relaxed) + (uint32_t)delta,
			      memory_order_relaxed);
}

/* A connect of worker to target t of group failed (one that
 * pick_connect_failure_is_target says tells of the target) or
 * succeeded: passive health detection counts failures in a row. */
static inline void pick_live_result(const struct nlb_runtime *rt, unsigned worker, size_t group,
				    uint32_t t, bool ok)
{
	struct group_rt *g = &rt->groups[group];
	_Atomic uint32_t *n = &g->live_fail[worker * g->active_stride + t];
	uint32_t v = atomic_load_explicit(n, memory_order_relaxed);
	if (ok && v == 0)
		return;
	atomic_store_explicit(n, ok ? 0 : v + 1, memory_order_relaxed);
}

/* Whether a target connect that failed with res (-errno) tells of the
 * target, for passive detection: refused, timed out, reset, unreachable
 * (a route, an ICMP error), a failed TLS handshake do; this host out of
 * local ports, descriptors or memory does not. */
static inline bool pick_connect_failure_is_target(int res)
{
	switch (-res) {
	case EADDRNOTAVAIL:
	case EADDRINUSE:
	case EMFILE:
	case ENFILE:
	case ENOBUFS:
	case ENOMEM:
		return false;
	default:
		return true;
	}
}

/* Sum over workers of connections to target t of group. */
uint64_t pick_active_conns(const struct nlb_runtime *rt, size_t group, uint32_t t);

#endif
