/* The list of every counter nlb reports: the sum of the workers' own
 * counters, the health thread's and the admin socket's.  The exit stats
 * line and the admin socket's show stats both read it here, so they
 * cannot disagree. */
#include "stats.h"

#include "admin.h"
#include "health.h"
#include "worker.h"

void stats_visit(const struct worker *workers, unsigned n, const struct health *h,
		 const struct admin *a, stats_fn *fn, void *arg)
{
#define NLB_STAT_SUM(name)                                                       \
	{                                                                        \
		uint64_t sum = 0;                                                \
		for (unsigned i = 0; i < n; i++)                                 \
			sum += atomic_load_explicit(&workers[i].stats.name,      \
						    memory_order_relaxed);       \
		fn(arg, #name, sum);                                             \
	}
	NLB_WORKER_STATS(NLB_STAT_SUM)
#undef NLB_STAT_SUM
	fn(arg, "health_probes", atomic_load_explicit(&h->probes_done, memory_order_relaxed));
	fn(arg, "health_changes", atomic_load_explicit(&h->changes, memory_order_relaxed));
	fn(arg, "admin_commands", a ? atomic_load_explicit(&a->commands, memory_order_relaxed) : 0);
	fn(arg, "admin_errors", a ? atomic_load_explicit(&a->errors, memory_order_relaxed) : 0);
}
