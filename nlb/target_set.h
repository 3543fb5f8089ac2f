/* Each target group's targets at run time: slots that targets take and
 * leave (reload, later the admin socket), the balancing table built from
 * them and published to the workers, and draining of removed targets.
 * Everything here runs on the control plane, under rt->ctl_lock. */
#ifndef NLB_TARGET_SET_H
#define NLB_TARGET_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime.h"

/* Start-up: every group's slots from its configuration, counters and
 * first table. */
int targets_init(struct nlb_runtime *rt);
void targets_free(struct nlb_runtime *rt);

/* Builds group g's table from its slots' weights and health: an ACTIVE
 * target takes new flows when healthy (or when the group has no health
 * check); with none healthy, fail_open sends to all, else the table is
 * marked fail_closed.  Draining and free slots take none. */
int targets_build(const struct nlb_runtime *rt, size_t g, struct nlb_lb_table **out);

/* Builds and swaps in group g's table; the old one is freed by
 * targets_reclaim once every worker has passed it.  0 or -ENOMEM (the
 * group is then published again by the next targets_tick). */
int targets_publish(struct nlb_runtime *rt, size_t g);
void targets_reclaim(struct nlb_runtime *rt, bool all);

/* Reload: can group g take the target list of nc (enough free slots,
 * the running Maglev table big enough)?  0, or -EINVAL with the reason
 * in err. */
int targets_check(const struct nlb_runtime *rt, size_t g, const struct nlb_group_conf *nc,
		  char *err, size_t errlen);

/* Reload: makes group g's targets those of nc (checked first).  New
 * addresses take a free slot, weights change in place, missing ones
 * start draining for nc's deregistration_delay_ms, and a draining one
 * listed again comes back.  Publishes the table; counts what changed. */
struct targets_diff {
	unsigned added, removed, reweighted, returned;
};
void targets_apply(struct nlb_runtime *rt, size_t g, const struct nlb_group_conf *nc,
		   uint64_t now_ms, struct targets_diff *d);

/* Periodic (takes ctl_lock): ends draining whose connections are gone,
 * tells workers to reset what a passed delay leaves, republishes tables
 * that could not be built, frees retired tables. */
void targets_tick(struct nlb_runtime *rt, uint64_t now_ms);

static inline struct target_rt *target_at(const struct nlb_runtime *rt, size_t g, uint32_t t)
{
	return &rt->groups[g].targets[t];
}

static inline enum target_state target_state(const struct nlb_runtime *rt, size_t g, uint32_t t)
{
	return (enum target_state)atomic_load_explicit(&rt->groups[g].targets[t].state,
						       memory_order_acquire);
}

#endif
