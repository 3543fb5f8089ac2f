/* The list of every counter nlb reports: the sum of the workers' own
 * counters, the health thread's and the admin socket's.  The exit stats
 * line and the admin socket's show stats both read it here, so they
 * cannot disagree. */
#include "control/stats.h"

#include <string.h>

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
	/* The UDP parts kept apart for the metrics, folded back into the
	 * names the line always had. */
	sum.acl_denied += sum.udp_acl_denied;
	sum.source_limit += sum.udp_source_limit;
	sum.source_rate += sum.udp_source_rate;
	sum.drain_reset += sum.udp_drain_reset;
#define NLB_STAT_EMIT(name) fn(arg, #name, sum.name);
	NLB_WORKER_STATS(NLB_STAT_EMIT)
#undef NLB_STAT_EMIT
	fn(arg, "health_probes", h ? atomic_load_explicit(&h->probes_done, memory_order_relaxed) : 0);
	fn(arg, "health_changes", h ? atomic_load_explicit(&h->changes, memory_order_relaxed) : 0);
	/* Every group slot: a removed group's builds stay in the total. */
	uint64_t builds = 0;
	for (size_t g = 0; rt && rt->groups && g < NLB_MAX_GROUPS; g++)
		builds += atomic_load_explicit(&rt->groups[g].table_builds, memory_order_relaxed);
	fn(arg, "table_builds", builds);
	fn(arg, "admin_commands", a ? atomic_load_explicit(&a->commands, memory_order_relaxed) : 0);
	fn(arg, "admin_errors", a ? atomic_load_explicit(&a->errors, memory_order_relaxed) : 0);
}
