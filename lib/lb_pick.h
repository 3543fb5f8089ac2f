/* Balancing algorithms: which target of a group a new flow tries, read
 * from the group's published table (lb_table.h), each target's load, and
 * what the picker keeps between picks.  Pure: no worker, no clock, no
 * lock; nlb's balance/pick.c hands them the runtime's tables and the
 * workers' connection counts.  One algorithm per file, lb_<algorithm>.c.
 *
 * Every algorithm returns the index of the target picked, or -ENOENT when
 * none may take the flow: a target takes new flows when its weight is
 * above 0 and its bit in tried (the targets a flow has tried already,
 * indexes below 64) is clear. */
#ifndef NLB_LB_PICK_H
#define NLB_LB_PICK_H

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lb_table.h"

/* Each target's load: connections counted in n_rows rows of stride
 * counters (nlb: a row per worker, written by that worker alone), target
 * t's in column t.  Read relaxed: a pick needs a recent count, not a
 * consistent snapshot. */
struct nlb_lb_load {
	const _Atomic uint32_t *rows;
	size_t stride;
	unsigned n_rows;
};

/* Target t's load: the sum of its column. */
static inline uint64_t nlb_lb_load_of(const struct nlb_lb_load *l, uint32_t t)
{
	uint64_t sum = 0;
	for (unsigned r = 0; r < l->n_rows; r++)
		sum += atomic_load_explicit(&l->rows[r * l->stride + t], memory_order_relaxed);
	return sum;
}

/* May target i of t take a new flow (has weight, not in tried)? */
static inline bool nlb_lb_eligible(const struct nlb_lb_table *t, uint32_t i, uint64_t tried)
{
	return t->weight[i] > 0 && !(i < 64 && (tried >> i) & 1);
}

/* Is a (load la, weight wa) less loaded than b?  la/wa < lb/wb without
 * division. */
static inline bool nlb_lb_lighter(uint64_t la, uint32_t wa, uint64_t lb, uint32_t wb)
{
	return la * wb < lb * wa;
}

/* round_robin: NGINX's smooth weighted round robin.  Relies on current,
 * the picker's running weights (t->n_targets of them, zero at first),
 * and updates them: each eligible target gains its weight, the one
 * picked (the highest, the first of equals) loses their total.  While
 * the eligible targets stay the same, every round of sum-of-weights picks
 * gives each exactly its weight's picks, spread out: weights 5, 1, 1 go
 * a a b a c a a.  Reads no load. */
int nlb_lb_round_robin(const struct nlb_lb_table *t, uint64_t tried, int64_t *current);

/* least_conn: the eligible target with the fewest connections per unit
 * of weight (load).  Ties go to the first in a rotation that starts at
 * *rotate % n_targets; updates *rotate (one step per call), so equally
 * loaded targets take turns. */
int nlb_lb_least_conn(const struct nlb_lb_table *t, uint64_t tried,
		      const struct nlb_lb_load *load, uint32_t *rotate);

/* random2: the power of two choices.  Draws targets with *rng (xorshift64*:
 * updated, and never 0 if it was not) until two distinct eligible ones
 * come up, 16 draws at most, and picks the one with fewer connections per
 * unit of weight (load), the first drawn of equals.  Without two, it
 * falls back to nlb_lb_least_conn over all (updating *rotate). */
int nlb_lb_random2(const struct nlb_lb_table *t, uint64_t tried,
		   const struct nlb_lb_load *load, uint64_t *rng, uint32_t *rotate);

/* maglev: the owner of hash in t's Maglev table, unless attempt > 0 (a
 * retry) or the owner is in tried; then the table is looked up with
 * re-hashes of (hash, attempt), deterministic so that every nlb retries a
 * flow alike, 8 lookups at most; past those, nlb_lb_least_conn (load,
 * *rotate).  Keeps no state of its own. */
int nlb_lb_maglev(const struct nlb_lb_table *t, uint64_t hash, unsigned attempt,
		  uint64_t tried, const struct nlb_lb_load *load, uint32_t *rotate);

#endif
