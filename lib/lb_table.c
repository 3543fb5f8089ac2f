/* Building and freeing target groups' balancing tables.
 * Maglev permutations are keyed by each target's address, not its
 * position, so the same targets build the same table in every nlb. */
#include "lb_table.h"

#include <errno.h>
#include <stdlib.h>

int nlb_lb_table_build(const struct nlb_group_conf *g, const char *const *keys,
		       const uint32_t *weights, size_t n, struct nlb_lb_table **out)
{
	struct nlb_lb_table *t = calloc(1, sizeof(*t) + (n ? n : 1) * sizeof(uint32_t));
	if (!t)
		return -ENOMEM;
	t->n_targets = (uint32_t)n;
	for (size_t i = 0; i < n; i++) {
		t->weight[i] = weights[i];
		t->n_eligible += weights[i] > 0;
	}
	if (g->algorithm == NLB_ALG_MAGLEV && n) {
		struct nlb_maglev_backend *b = calloc(n, sizeof(*b));
		if (!b) {
			free(t);
			return -ENOMEM;
		}
		for (size_t i = 0; i < n; i++) {
			b[i].key = keys[i];
			b[i].weight = weights[i];
		}
		int err = nlb_maglev_build(&t->maglev, g->maglev_table_size, b, n, g->hash_seed);
		free(b);
		if (err < 0) {
			free(t);
			return err;
		}
	}
	*out = t;
	return 0;
}

void nlb_lb_table_free(struct nlb_lb_table *t)
{
	if (!t)
		return;
	nlb_maglev_free(&t->maglev);
	free(t);
}
