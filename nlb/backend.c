/* Target selection.  round_robin is NGINX's smooth weighted round robin:
 * each pick adds every target's weight to its current weight, takes the
 * largest and subtracts the total from it, which spreads a 5:1:1 group as
 * a a b a c a a rather than a a a a a b c.  State is per worker, so with W
 * workers each target is within W picks of its share. */
#include "backend.h"

#include <errno.h>
#include <stdlib.h>

int backend_worker_init(struct worker *w)
{
	const struct nlb_config *cfg = w->rt->cfg;
	w->rr_current = calloc(cfg->n_groups ? cfg->n_groups : 1, sizeof(*w->rr_current));
	if (!w->rr_current)
		return -ENOMEM;
	for (size_t g = 0; g < cfg->n_groups; g++) {
		size_t n = cfg->groups[g].n_targets;
		w->rr_current[g] = calloc(n ? n : 1, sizeof(int64_t));
		if (!w->rr_current[g])
			return -ENOMEM;
	}
	return 0;
}

void backend_worker_free(struct worker *w)
{
	if (!w->rr_current)
		return;
	for (size_t g = 0; g < w->rt->cfg->n_groups; g++)
		free(w->rr_current[g]);
	free(w->rr_current);
	w->rr_current = NULL;
}

static int pick_round_robin(int64_t *current, const struct nlb_group_conf *g, uint64_t tried)
{
	int best = -1;
	int64_t total = 0;
	for (size_t i = 0; i < g->n_targets; i++) {
		int64_t weight = g->targets[i].weight;
		if (weight == 0 || (i < 64 && (tried >> i) & 1))
			continue;
		current[i] += weight;
		total += weight;
		if (best < 0 || current[i] > current[best])
			best = (int)i;
	}
	if (best >= 0)
		current[best] -= total;
	return best;
}

int backend_pick(struct worker *w, size_t group, uint64_t tried)
{
	const struct nlb_group_conf *g = &w->rt->cfg->groups[group];
	int idx = -1;
	switch (g->algorithm) {
	case NLB_ALG_ROUND_ROBIN:
		idx = pick_round_robin(w->rr_current[group], g, tried);
		break;
	}
	return idx < 0 ? -ENOENT : idx;
}
