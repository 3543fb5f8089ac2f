/* The stats line's counters (counter_table.h) and their values: the sum
 * of the workers' own counters, the health thread's and the admin
 * socket's.  The exit stats line and the admin socket's show stats both
 * read them here, so they cannot disagree. */
#include "control/stats.h"

#include <string.h>

#include "control/counter_table.h"
#include "tunables.h"
#include "core/worker.h"

void stats_visit(const struct worker *workers, unsigned n, const struct nlb_runtime *rt,
		 const struct health_counters *h, const struct admin_counters *a,
		 stats_fn *fn, void *arg)
{
	struct stats_sum sum;
	memset(&sum, 0, sizeof(sum));
	for (unsigned i = 0; i < n; i++)
		for (size_t l = 0; l < workers[i].n_stats; l++)
			stats_sum_add(&sum, &workers[i].stats[l]);
	/* The UDP parts kept apart for the metrics, added back into the
	 * names the line always had. */
#define NLB_STAT_ADD_INTO(name, kind, meaning, into) sum.into += sum.name;
	NLB_WORKER_STATS_UDP_SPLIT(NLB_STAT_ADD_INTO)
#undef NLB_STAT_ADD_INTO

	struct control_sum {
#define NLB_CONTROL_FIELD(name, ...) uint64_t name;
		NLB_CONTROL_STATS(NLB_CONTROL_FIELD)
#undef NLB_CONTROL_FIELD
	} ctl;
	memset(&ctl, 0, sizeof(ctl));
	if (h) {
		ctl.health_probes = atomic_load_explicit(&h->probes_done, memory_order_relaxed);
		ctl.health_changes = atomic_load_explicit(&h->changes, memory_order_relaxed);
	}
	/* Every group slot: a removed group's builds stay in the total. */
	for (size_t g = 0; rt && rt->groups && g < NLB_MAX_GROUPS; g++)
		ctl.table_builds += atomic_load_explicit(&rt->groups[g].table_builds,
							 memory_order_relaxed);
	if (a) {
		ctl.admin_commands = atomic_load_explicit(&a->commands, memory_order_relaxed);
		ctl.admin_errors = atomic_load_explicit(&a->errors, memory_order_relaxed);
	}

#define NLB_STAT_EMIT(name, ...) fn(arg, #name, sum.name);
	NLB_WORKER_STATS(NLB_STAT_EMIT)
#undef NLB_STAT_EMIT
#define NLB_STAT_EMIT(name, ...) fn(arg, #name, ctl.name);
	NLB_CONTROL_STATS(NLB_STAT_EMIT)
#undef NLB_STAT_EMIT
}
