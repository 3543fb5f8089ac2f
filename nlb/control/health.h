/* The health-probe thread: probes every target of every group that has a
 * health_check, on its own epoll loop, keeps each target's state, reads
 * the workers' passive failure counts, and publishes a new balancing
 * table for each batch of state changes of a group (at most one per
 * NLB_HEALTH_PUBLISH_HOLD_MS after the first).  Workers only ever read
 * its results. */
#ifndef NLB_HEALTH_H
#define NLB_HEALTH_H

#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>

#include "control/control_counters-t.h"
#include "control/control_thread.h"
#include "core/runtime.h"

struct health_probe;

/* One target group's probe results and state changes, written by the
 * probe thread only, read by the metrics thread. */
struct health_group_stats {
	_Atomic uint64_t passed;
	_Atomic uint64_t failed;
	_Atomic uint64_t changes;	/* probe and passive state changes */
};

/* One target group's changes waiting to be published; the probe
 * thread's own. */
struct health_batch {
	bool dirty;			/* a probe of the group holds a change */
	uint64_t hold_until_ms;		/* no publish before (the last + hold-down) */
};

struct health {
	struct nlb_runtime *rt;
	struct control_thread thread;	/* "nlb-health" */
	int epfd;
	/* Per group slot (NLB_MAX_GROUPS), the probe thread's own: one
	 * probe per target slot while the group has a check, else NULL. */
	struct health_probe **probes;
	uint32_t *n_probes;
	size_t n_groups;		/* group slots at the last sync */
	uint64_t version;		/* rt->targets_version last followed */
	struct health_counters counters;
	/* Per group slot; freed by health_stop: the metrics thread must be
	 * stopped first. */
	struct health_group_stats *groups;
	struct health_batch *batches;	/* per group slot */
};

/* Starts the thread (always: a reload may add a check to any group). */
int health_start(struct health *h, struct nlb_runtime *rt);
void health_stop(struct health *h);

#endif
