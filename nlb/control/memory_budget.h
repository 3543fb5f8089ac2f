/* max_memory_mb: nlb's resident memory sampled by the main thread, and
 * the flag that makes workers refuse new connections and flows while it
 * is over the budget (doc/hardening.md, "Memory budget"). */
#ifndef NLB_CONTROL_MEMORY_BUDGET_H
#define NLB_CONTROL_MEMORY_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

#include "core/runtime.h"

struct memory_budget {
	int statm_fd;		/* /proc/self/statm, opened before the drop */
	uint64_t page_bytes;
	bool over;		/* as published in rt->memory_over */
};

/* Opens /proc/self/statm: 0 or -errno. */
int memory_budget_open(struct memory_budget *mb);
/* Samples the resident size into rt, compares it with the budget in
 * force, and publishes rt->memory_over (logging each change).  Returns
 * how long to wait before the next sample, in ms: shorter near the
 * budget, where a burst of connections can cross it quickly. */
unsigned memory_budget_tick(struct memory_budget *mb, struct nlb_runtime *rt);
void memory_budget_close(struct memory_budget *mb);

#endif
