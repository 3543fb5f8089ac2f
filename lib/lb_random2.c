/* random2: the lighter of two random targets (see lb_pick.h). */
#include "lb_pick.h"
#include "rng.h"

int nlb_lb_random2(const struct nlb_lb_table *t, uint64_t tried,
		   const struct nlb_lb_load *load, uint64_t *rng, uint32_t *rotate)
{
	if (t->n_targets == 0)
		return -ENOENT;
	int a = -1, b = -1;
	for (unsigned k = 0; k < 16 && (a < 0 || b < 0); k++) {
		uint32_t i = (uint32_t)(nlb_rng_next(rng) % t->n_targets);
		if (!nlb_lb_eligible(t, i, tried) || (int)i == a)
			continue;
		if (a < 0)
			a = (int)i;
		else
			b = (int)i;
	}
	if (a < 0 || b < 0)	/* few eligible targets left: look at them all */
		return nlb_lb_least_conn(t, tried, load, rotate);
	uint64_t la = nlb_lb_load_of(load, (uint32_t)a);
	uint64_t lb = nlb_lb_load_of(load, (uint32_t)b);
	return nlb_lb_lighter(lb, t->weight[b], la, t->weight[a]) ? b : a;
}
