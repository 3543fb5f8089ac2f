/* A target group's balancing table: what a pick reads (effective weights
 * and, for maglev, the lookup table), immutable once published.  Tables
 * are built off the data path and swapped in through an atomic pointer;
 * the old one is freed once every reader has passed a quiescent point. */
#ifndef NLB_LB_TABLE_H
#define NLB_LB_TABLE_H

#include <stdatomic.h>
#include <stdint.h>

#include "config.h"
#include "maglev.h"
#include "qsbr.h"

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

/* Swaps t into *slot, waits until no reader of q can hold the old table
 * and frees it.  If readers do not all pass a quiescent point within
 * timeout_ms the old table is leaked rather than freed under them, and
 * -ETIMEDOUT returned.  Never called by a reader. */
int nlb_lb_table_publish(_Atomic(struct nlb_lb_table *) *slot, struct nlb_lb_table *t,
			 struct nlb_qsbr *q, unsigned timeout_ms);

#endif
