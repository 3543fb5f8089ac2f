/* The one list of every counter nlb reports (stats_visit): the workers'
 * rows summed (core/counters-t.h), then the health and admin threads'. */
#ifndef NLB_STATS_H
#define NLB_STATS_H

#include <stdatomic.h>
#include <stdint.h>

#include "control/control_counters-t.h"
#include "core/counters-t.h"

struct nlb_runtime;
struct worker;

/* Every counter nlb reports, as (name, value) to fn, in one order for
 * the exit stats line and the admin socket's show stats: the workers'
 * sums, then the health thread's, the balancing tables built (all of
 * rt's groups), then the admin socket's (h, a may be NULL: zeros).
 * Safe while the workers run: relaxed loads. */
typedef void stats_fn(void *arg, const char *name, uint64_t value);
void stats_visit(const struct worker *workers, unsigned n, const struct nlb_runtime *rt,
		 const struct health_counters *h, const struct admin_counters *a,
		 stats_fn *fn, void *arg);

#endif
