/* Target selection and the tables it reads.  Each group publishes an
 * immutable struct nlb_lb_table (effective weights, and the Maglev lookup
 * table for algorithm maglev) through an atomic pointer; workers read it
 * without a lock, and a replaced table is freed only after every worker
 * has passed a quiescent point (qsbr.h).  Algorithms:
 *   maglev       consistent hash of the flow's tuple (maglev.c); retries
 *                re-hash, so a refused target's flows spread evenly.
 *   round_robin  NGINX's smooth weighted round robin, per worker: with W
 *                workers each target is within W picks of its share.
 *   least_conn   fewest connections per unit of weight, summed over all
 *                workers' counters; ties go round the group.
 *   random2      two random targets, the one with fewer connections per
 *                unit of weight (power of two choices). */
#include "balance/pick.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "health_check.h"
#include "tunables.h"
#include "tuple_hash.h"

uint64_t pick_active_conns(const struct nlb_runtime *rt, size_t group, uint32_t t)
{
	const struct group_rt *g = &rt->groups[group];
	uint64_t sum = 0;
	for (unsigned w = 0; w < rt->n_workers; w++)
		sum += atomic_load_explicit(&g->active[w * g->active_stride + t],
					    memory_order_relaxed);
	return sum;
}

int pick_worker_sync(struct worker *w)
{
	const struct nlb_config *cfg = w->rt->cfg;
	int ret = 0;
	for (size_t g = 0; g < cfg->n_groups; g++) {
		if (w->rr_current[g] || cfg->groups[g].removed)
			continue;
		size_t n = w->rt->groups[g].max_targets;
		if (!(w->rr_current[g] = calloc(n ? n : 1, sizeof(int64_t))))
			ret = -ENOMEM;
	}
	return ret;
}

int pick_worker_init(struct worker *w)
{
	w->rr_current = calloc(NLB_MAX_GROUPS, sizeof(*w->rr_current));
	if (!w->rr_current)
		return -ENOMEM;
	w->rng = nlb_clock_ns() * 0x9e3779b97f4a7c15ull ^ (w->id + 1);
	return pick_worker_sync(w);
}

void pick_worker_free(struct worker *w)
{
	if (!w->rr_current)
		return;
	for (size_t g = 0; g < NLB_MAX_GROUPS; g++)
		free(w->rr_current[g]);
	free(w->rr_current);
	w->rr_current = NULL;
}

static inline bool eligible(const struct nlb_lb_table *t, uint32_t i, uint64_t tried)
{
	return t->weight[i] > 0 && !(i < 64 && (tried >> i) & 1);
}

/* splitmix64's finaliser: spreads a retry's re-hash over the table. */
static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static inline uint64_t rng_next(struct worker *w)
{
	/* xorshift64*: per worker, no shared state */
	w->rng ^= w->rng >> 12;
	w->rng ^= w->rng << 25;
	w->rng ^= w->rng >> 27;
	return w->rng * 0x2545f4914f6cdd1dull;
}

/* Is a (load la, weight wa) less loaded than b?  la/wa < lb/wb without
 * division. */
static inline bool lighter(uint64_t la, uint32_t wa, uint64_t lb, uint32_t wb)
{
	return la * wb < lb * wa;
}

static int pick_round_robin(int64_t *current, const struct nlb_lb_table *t, uint64_t tried)
{
	int best = -1;
	int64_t total = 0;
	for (uint32_t i = 0; i < t->n_targets; i++) {
		if (!eligible(t, i, tried))
			continue;
		current[i] += t->weight[i];
		total += t->weight[i];
		if (best < 0 || current[i] > current[best])
			best = (int)i;
	}
	if (best >= 0)
		current[best] -= total;
	return best;
}

static int pick_least_conn(struct worker *w, size_t group, const struct nlb_lb_table *t,
			   uint64_t tried)
{
	int best = -1;
	uint64_t best_load = 0;
	uint32_t n = t->n_targets;
	/* Start where the last pick left off, so ties rotate. */
	uint32_t start = w->rotate++ % n;
	for (uint32_t k = 0; k < n; k++) {
		uint32_t i = (start + k) % n;
		if (!eligible(t, i, tried))
			continue;
		uint64_t load = pick_active_conns(w->rt, group, i);
		if (best < 0 || lighter(load, t->weight[i], best_load, t->weight[best])) {
			best = (int)i;
			best_load = load;
		}
	}
	return best;
}

static int pick_random2(struct worker *w, size_t group, const struct nlb_lb_table *t,
			uint64_t tried)
{
	int a = -1, b = -1;
	for (unsigned k = 0; k < 16 && (a < 0 || b < 0); k++) {
		uint32_t i = (uint32_t)(rng_next(w) % t->n_targets);
		if (!eligible(t, i, tried) || (int)i == a)
			continue;
		if (a < 0)
			a = (int)i;
		else
			b = (int)i;
	}
	if (a < 0 || b < 0)	/* few eligible targets left: look at them all */
		return pick_least_conn(w, group, t, tried);
	uint64_t la = pick_active_conns(w->rt, group, (uint32_t)a);
	uint64_t lb = pick_active_conns(w->rt, group, (uint32_t)b);
	return lighter(lb, t->weight[b], la, t->weight[a]) ? b : a;
}

static int pick_maglev(struct worker *w, size_t group, const struct nlb_lb_table *t,
		       uint64_t hash, unsigned attempt, uint64_t tried)
{
	/* First try: the table's owner of the flow.  A retry re-hashes
	 * (deterministically, so every nlb retries the same way) and,
	 * past a few collisions with tried targets, falls back to the
	 * least loaded target not tried. */
	uint64_t h = hash;
	for (unsigned k = 0; k < 8; k++) {
		if (attempt || k)
			h = mix64(hash + (uint64_t)(attempt * 8u + k) * 0x9e3779b97f4a7c15ull);
		int i = nlb_maglev_lookup(&t->maglev, h);
		if (i < 0)
			return -1;
		if (eligible(t, (uint32_t)i, tried))
			return i;
	}
	return pick_least_conn(w, group, t, tried);
}

bool pick_eligible(struct worker *w, size_t group, uint32_t t, uint64_t tried)
{
	const struct nlb_lb_table *tab = atomic_load_explicit(&w->rt->groups[group].table,
							  memory_order_acquire);
	return t < tab->n_targets && eligible(tab, t, tried);
}

int pick_target(struct worker *w, size_t group, uint64_t hash, unsigned attempt,
		 uint64_t tried)
{
	const struct group_rt *g = &w->rt->groups[group];
	/* Valid until this worker's next quiescent point, at the top of
	 * its loop: nothing here keeps it longer. */
	const struct nlb_lb_table *t = atomic_load_explicit(&g->table, memory_order_acquire);
	if (t->n_eligible == 0)
		return -ENOENT;
	int idx = -1;
	switch (g->conf->algorithm) {
	case NLB_ALG_MAGLEV:
		idx = pick_maglev(w, group, t, hash, attempt, tried);
		break;
	case NLB_ALG_ROUND_ROBIN:
		/* No state for it here (out of memory when a reload
		 * added the group): the next best spread. */
		idx = w->rr_current[group] ? pick_round_robin(w->rr_current[group], t, tried)
					   : pick_least_conn(w, group, t, tried);
		break;
	case NLB_ALG_LEAST_CONN:
		idx = pick_least_conn(w, group, t, tried);
		break;
	case NLB_ALG_RANDOM2:
		idx = pick_random2(w, group, t, tried);
		break;
	}
	return idx < 0 ? -ENOENT : idx;
}

bool pick_fail_closed(struct worker *w, size_t group)
{
	const struct nlb_lb_table *t = atomic_load_explicit(&w->rt->groups[group].table,
							    memory_order_acquire);
	return t->fail_closed;
}
