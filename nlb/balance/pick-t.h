/* A worker's picking state: what the balancing algorithms (lb_pick.h)
 * keep between picks.  struct worker embeds it; only its worker touches
 * it. */
#ifndef NLB_PICK_T_H
#define NLB_PICK_T_H

#include <stdint.h>

struct pick_state {
	/* round robin: smooth weighted current weights, per group slot
	 * (NLB_MAX_GROUPS; NULL until the group exists: pick_worker_sync) */
	int64_t **rr_current;
	uint32_t rotate;		/* least_conn: where ties start */
	uint64_t rng;			/* random2 */
};

#endif
