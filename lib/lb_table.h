/* A target group's balancing table: what a pick reads (effective weights
 * and, for maglev, the lookup table), immutable once published.  Tables
 * are built off the data path and swapped in through an atomic pointer
 * (nlb's target_set.c, which frees the old one once every reader has
 * passed a quiescent point). */
#ifndef NLB_LB_TABLE_H
#define NLB_LB_TABLE_H

#include <stdatomic.h>
#include <stdint.h>

#include "config.h"
#include "maglev.h"

struct nlb_lb_table {
	struct nlb_maglev maglev;	/* algorithm maglev only */
	uint32_t n_targets;
	uint32_t n_eligible;		/* targets with weight > 0 */
	uint32_t fail_closed;		/* none healthy and fail_open off */
	uint32_t weight[];		/* effective weight; 0 = no new flows */
};

/* Builds the table of group g (its algorithm, Maglev size and seed) for
 * n targets with Maglev keys keys[i] (their addresses) and weights[i]
 * (0: no new flows).  Returns 0, -ENOMEM or -EINVAL (a weight above
 * 1000). */
int nlb_lb_table_build(const struct nlb_group_conf *g, const char *const *keys,
		       const uint32_t *weights, size_t n, struct nlb_lb_table **out);
void nlb_lb_table_free(struct nlb_lb_table *t);

#endif
