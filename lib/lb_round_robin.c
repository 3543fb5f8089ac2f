/* round_robin: NGINX's smooth weighted round robin (see lb_pick.h). */
#include "lb_pick.h"

int nlb_lb_round_robin(const struct nlb_lb_table *t, uint64_t tried, int64_t *current)
{
	int best = -1;
	int64_t total = 0;
	for (uint32_t i = 0; i < t->n_targets; i++) {
		if (!nlb_lb_eligible(t, i, tried))
			continue;
		current[i] += t->weight[i];
		total += t->weight[i];
		if (best < 0 || current[i] > current[best])
			best = (int)i;
	}
	if (best < 0)
		return -ENOENT;
	current[best] -= total;
	return best;
}
