/* Each target group's targets at run time: slots that targets take and
 * leave (reload, the admin socket), the balancing table built from them
 * and published to the workers, and draining of removed targets.
 * Everything here runs on the control plane, under rt->ctl_lock. */
#ifndef NLB_TARGET_SET_H
#define NLB_TARGET_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/runtime.h"

/* Start-up: every group's slots from its configuration, counters and
 * first table. */
int targets_init(struct nlb_runtime *rt);
void targets_free(struct nlb_runtime *rt);

/* Group slot g's runtime for gc: its slots hold gc's targets, and its
 * first table is built (not yet offered to anyone: the start, or a
 * reload before it publishes the configuration that names the group).
 * 0 or -ENOMEM; on failure the slot is left empty. */
int targets_group_add(struct nlb_runtime *rt, size_t g, const struct nlb_group_conf *gc);
/* Frees what targets_group_add allocated; no reader may see the slot. */
void targets_group_free(struct nlb_runtime *rt, size_t g);

/* A group whose health check a reload removed: every target counts as
 * healthy again, as in a group that never had one (the caller
 * publishes). */
void targets_health_off(struct nlb_runtime *rt, size_t g);

/* Builds group g's table from its slots' weights and health: an ACTIVE
 * target takes new flows when healthy (or when the group has no health
 * check); with none healthy, fail_open sends to all, else the table is
 * marked fail_closed.  Draining and free slots take none. */
int targets_build(const struct nlb_runtime *rt, size_t g, struct nlb_lb_table **out);

/* Builds and swaps in group g's table (counted in table_builds); the old
 * one is freed by targets_reclaim once every worker has passed it.  0 or
 * -ENOMEM (the group is then published again by the next targets_tick). */
int targets_publish(struct nlb_runtime *rt, size_t g);
void targets_reclaim(struct nlb_runtime *rt, bool all);
/* Replaced tables and configurations not freed yet (some reader may
 * still hold them).  Under ctl_lock. */
size_t targets_retired(const struct nlb_runtime *rt);

/* Reload: can group g take the target list of nc (enough free slots,
 * the Maglev table big enough: nc's when settings_too, as a reload that
 * replaces the group's settings, else the running one)?  0, or -EINVAL
 * with the reason in err. */
int targets_check(const struct nlb_runtime *rt, size_t g, const struct nlb_group_conf *nc,
		  bool settings_too, char *err, size_t errlen);

/* Reload: a replaced configuration, freed once no reader can hold it
 * (targets_reclaim).  Under ctl_lock. */
void targets_retire_config(struct nlb_runtime *rt, const struct nlb_config *old);

/* Reload: makes group g's targets those of nc (checked first).  New
 * addresses take a free slot, weights change in place, missing ones
 * (drained ones too) start draining for nc's deregistration_delay_ms,
 * and a draining one listed again comes back.  Publishes the table; counts what changed. */
struct targets_diff {
	unsigned added, removed, reweighted, returned;
};
void targets_apply(struct nlb_runtime *rt, size_t g, const struct nlb_group_conf *nc,
		   uint64_t now_ms, struct targets_diff *d);

/* A drained target (the admin socket's drain) has no deadline: its open
 * connections are never reset, and it keeps its slot until it is added
 * back or removed. */
#define TARGET_NO_DEADLINE UINT64_MAX

/* The admin socket's changes to one target of group g, under ctl_lock.
 * They take the same slot steps as a reload (targets_apply) and the same
 * checks (max_targets, the running Maglev table's size), and publish the
 * group's table.  Each returns 0, or -errno with the reason in err:
 *
 * add:    a new target takes a free slot (health "initial" with a health
 *         check); a draining one comes back with its connections, at
 *         tc->weight if weight_given, else its old weight.  -EEXIST if
 *         it is active already, -ENOSPC past max_targets, -EINVAL when
 *         the Maglev table is too small.
 * set_weight: an active target's weight.  -ENOENT, -EBUSY if draining.
 * drain:  an active target takes no new flows; its connections stay
 *         with no deadline (TARGET_NO_DEADLINE) and so does its slot.
 * remove: an active or drained target drains for the group's
 *         deregistration_delay_ms, as if a reload had dropped it;
 *         -EALREADY if it is being removed. */
int targets_add_one(struct nlb_runtime *rt, size_t g, const struct nlb_target_conf *tc,
		    bool weight_given, char *err, size_t errlen);
int targets_set_weight(struct nlb_runtime *rt, size_t g, const struct nlb_addr *addr,
		       const char *text, uint32_t weight, char *err, size_t errlen);
int targets_drain_one(struct nlb_runtime *rt, size_t g, const struct nlb_addr *addr,
		      const char *text, uint64_t now_ms, char *err, size_t errlen);
int targets_remove_one(struct nlb_runtime *rt, size_t g, const struct nlb_addr *addr,
		       const char *text, uint64_t now_ms, char *err, size_t errlen);

/* Periodic (takes ctl_lock): ends draining whose connections are gone,
 * tells workers to reset what a passed delay leaves, republishes tables
 * that could not be built, frees retired tables. */
void targets_tick(struct nlb_runtime *rt, uint64_t now_ms);

/* Group g's active targets of weight above 0 that are healthy, and
 * those whose first health check has not finished (fail-open aside):
 * what announce asks (doc/scaleout.md).  Takes ctl_lock. */
void targets_health_count(struct nlb_runtime *rt, size_t g, uint32_t *healthy,
			  uint32_t *initial);

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
