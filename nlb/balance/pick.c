/* Target selection, the runtime's side: each group publishes an
 * immutable struct nlb_lb_table (effective weights, and the Maglev lookup
 * table for algorithm maglev) through an atomic pointer; workers read it
 * without a lock, and a replaced table is freed only after every worker
 * has passed a quiescent point (qsbr.h).  The algorithms are lib/'s
 * (lb_pick.h); this file gives them the table, the workers' connection
 * counts and the worker's picking state:
 *   maglev       consistent hash of the flow's tuple (maglev.c); retries
 *                re-hash, so a refused target's flows spread evenly.
 *   round_robin  NGINX's smooth weighted round robin, per worker: each
 *                worker gives each target exactly its weight's share of
 *                every round of sum-of-weights picks it makes.
 *   least_conn   fewest connections per unit of weight, summed over all
 *                workers' counters; ties go round the group.
 *   random2      two random targets, the one with fewer connections per
 *                unit of weight (power of two choices). */
#include "balance/pick.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "lb_pick.h"
#include "tunables.h"

/* The workers' connection counts of group: one row per worker. */
static inline struct nlb_lb_load group_load(const struct nlb_runtime *rt, size_t group)
{
	const struct group_rt *g = &rt->groups[group];
	return (struct nlb_lb_load){
		.rows = g->active, .stride = g->active_stride, .n_rows = rt->n_workers,
	};
}

uint64_t pick_active_conns(const struct nlb_runtime *rt, size_t group, uint32_t t)
{
	struct nlb_lb_load load = group_load(rt, group);
	return nlb_lb_load_of(&load, t);
}

int pick_worker_sync(const struct nlb_runtime *rt, struct pick_state *ps)
{
	const struct nlb_config *cfg = rt->cfg;
	int ret = 0;
	for (size_t g = 0; g < cfg->n_groups; g++) {
		if (ps->rr_current[g] || cfg->groups[g].removed)
			continue;
		size_t n = rt->groups[g].max_targets;
		if (!(ps->rr_current[g] = calloc(n ? n : 1, sizeof(int64_t))))
			ret = -ENOMEM;
	}
	return ret;
}

int pick_worker_init(const struct nlb_runtime *rt, unsigned worker, struct pick_state *ps)
{
	ps->rr_current = calloc(NLB_MAX_GROUPS, sizeof(*ps->rr_current));
	if (!ps->rr_current)
		return -ENOMEM;
	ps->rng = nlb_clock_ns() * 0x9e3779b97f4a7c15ull ^ (worker + 1);
	return pick_worker_sync(rt, ps);
}

void pick_worker_free(struct pick_state *ps)
{
	if (!ps->rr_current)
		return;
	for (size_t g = 0; g < NLB_MAX_GROUPS; g++)
		free(ps->rr_current[g]);
	free(ps->rr_current);
	ps->rr_current = NULL;
}

bool pick_eligible(const struct nlb_runtime *rt, size_t group, uint32_t t, uint64_t tried)
{
	const struct nlb_lb_table *tab = atomic_load_explicit(&rt->groups[group].table,
							  memory_order_acquire);
	return t < tab->n_targets && nlb_lb_eligible(tab, t, tried);
}

int pick_target(const struct nlb_runtime *rt, struct pick_state *ps, size_t group,
		uint64_t hash, unsigned attempt, uint64_t tried)
{
	const struct group_rt *g = &rt->groups[group];
	/* Valid until this worker's next quiescent point, at the top of
	 * its loop: nothing here keeps it longer. */
	const struct nlb_lb_table *t = atomic_load_explicit(&g->table, memory_order_acquire);
	if (t->n_eligible == 0)
		return -ENOENT;
	struct nlb_lb_load load = group_load(rt, group);
	int idx = -ENOENT;
	switch (g->conf->algorithm) {
	case NLB_ALG_MAGLEV:
		idx = nlb_lb_maglev(t, hash, attempt, tried, &load, &ps->rotate);
		break;
	case NLB_ALG_ROUND_ROBIN:
		/* No state for it here (out of memory when a reload
		 * added the group): the next best spread. */
		idx = ps->rr_current[group] ? nlb_lb_round_robin(t, tried, ps->rr_current[group])
					    : nlb_lb_least_conn(t, tried, &load, &ps->rotate);
		break;
	case NLB_ALG_LEAST_CONN:
		idx = nlb_lb_least_conn(t, tried, &load, &ps->rotate);
		break;
	case NLB_ALG_RANDOM2:
		idx = nlb_lb_random2(t, tried, &load, &ps->rng, &ps->rotate);
		break;
	}
	return idx < 0 ? -ENOENT : idx;
}

bool pick_fail_closed(const struct nlb_runtime *rt, size_t group)
{
	const struct nlb_lb_table *t = atomic_load_explicit(&rt->groups[group].table,
							    memory_order_acquire);
	return t->fail_closed;
}
