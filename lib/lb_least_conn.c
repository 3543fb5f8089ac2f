/* least_conn: fewest connections per unit of weight, ties in turn (see
 * lb_pick.h). */
#include "lb_pick.h"

int nlb_lb_least_conn(const struct nlb_lb_table *t, uint64_t tried,
		      const struct nlb_lb_load *load, uint32_t *rotate)
{
	uint32_t n = t->n_targets;
	if (n == 0)
		return -ENOENT;
	int best = -1;
	uint64_t best_load = 0;
	/* Start where the last pick left off, so ties rotate. */
	uint32_t start = (*rotate)++ % n;
	for (uint32_t k = 0; k < n; k++) {
		uint32_t i = (start + k) % n;
		if (!nlb_lb_eligible(t, i, tried))
			continue;
		uint64_t l = nlb_lb_load_of(load, i);
		if (best < 0 || nlb_lb_lighter(l, t->weight[i], best_load, t->weight[best])) {
			best = (int)i;
			best_load = l;
		}
	}
	return best < 0 ? -ENOENT : best;
}
