/* The values of the stats line's counters (the list and their meaning:
 * control/counter_table.h): the workers' rows summed, then the health
 * and admin threads' counters. */
#ifndef NLB_STATS_H
#define NLB_STATS_H

#include <stdint.h>

#include "control/control_counters-t.h"

struct nlb_runtime;
struct worker;

/* Every counter of the stats line, as (name, value) to fn in the table's
 * order, for the exit stats line and the admin socket's show stats: the
 * workers' sums (each UDP part added into its counter), then the health
 * thread's, the balancing tables built (all of rt's groups), then the
 * admin socket's (rt, h, a may be NULL: zeros).
 * Safe while the workers run: relaxed loads. */
typedef void stats_fn(void *arg, const char *name, uint64_t value);
void stats_visit(const struct worker *workers, unsigned n, const struct nlb_runtime *rt,
		 const struct health_counters *h, const struct admin_counters *a,
		 stats_fn *fn, void *arg);

#endif
