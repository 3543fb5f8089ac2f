/* Target slots, table publishing and draining.  A removed target keeps
 * its slot (and so its index in connections, counters and flow tables)
 * until it has drained: no table offers it, no worker can still hold a
 * table that did (QSBR epoch), and no connection to it is left.  Only
 * then may another target take the slot. */
#include "balance/target_set.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "balance/pick.h"
#include "core/listener.h"
#include "health_check.h"
#include "log.h"

/* Something no longer published, freed once every reader has passed
 * epoch: a group's replaced table, or a replaced configuration. */
struct retired {
	void *obj;
	void (*free_obj)(void *obj);
	uint64_t epoch;
	struct retired *next;
};

static void free_table(void *obj)
{
	nlb_lb_table_free(obj);
}

static void free_config(void *obj)
{
	nlb_config_free(obj);
}

/* Queues r for obj, unpublished just now.  Under ctl_lock. */
static uint64_t retire(struct nlb_runtime *rt, struct retired *r, void *obj,
		       void (*free_obj)(void *))
{
	r->obj = obj;
	r->free_obj = free_obj;
	r->epoch = nlb_qsbr_advance(&rt->qsbr);
	r->next = rt->retired;
	rt->retired = r;
	return r->epoch;
}

/* Cache-line rows of 32-bit counters. */
static size_t counter_stride(size_t n_targets)
{
	return (n_targets + 15) / 16 * 16;
}

static uint8_t initial_health(const struct group_rt *grt)
{
	return grt->conf->health.enabled ? NLB_HC_INITIAL : NLB_HC_HEALTHY;
}

/* Puts target tc into free slot i.  No connection, counter row or table
 * refers to the slot, so plain writes are safe until state turns ACTIVE. */
static void slot_take(struct nlb_runtime *rt, size_t g, uint32_t i,
		      const struct nlb_target_conf *tc)
{
	struct group_rt *grt = &rt->groups[g];
	struct target_rt *t = &grt->targets[i];
	t->addr = tc->addr;
	memcpy(t->addr_text, tc->addr_text, sizeof(t->addr_text));
	t->weight = tc->weight;
	t->drain_start_ms = t->drain_until_ms = t->drain_epoch = 0;
	for (unsigned w = 0; w < rt->n_workers; w++)
		atomic_store_explicit(&grt->live_fail[w * grt->active_stride + i], 0,
				      memory_order_relaxed);
	atomic_store_explicit(&grt->health[i], initial_health(grt), memory_order_relaxed);
	atomic_fetch_add_explicit(&t->gen, 1, memory_order_relaxed);
	atomic_store_explicit(&t->state, TARGET_ACTIVE, memory_order_release);
}

int targets_group_add(struct nlb_runtime *rt, size_t g, const struct nlb_group_conf *gc)
{
	struct group_rt *grt = &rt->groups[g];
	atomic_store_explicit(&grt->conf, gc, memory_order_relaxed);
	grt->max_targets = gc->max_targets;
	grt->drain_ms = gc->deregistration_delay_ms;
	grt->active_stride = counter_stride(grt->max_targets);
	size_t cells = rt->n_workers * grt->active_stride;
	grt->targets = calloc(grt->max_targets, sizeof(*grt->targets));
	grt->active = aligned_alloc(64, cells * sizeof(uint32_t));
	grt->live_fail = aligned_alloc(64, cells * sizeof(uint32_t));
	grt->health = calloc(grt->max_targets, sizeof(*grt->health));
	struct nlb_lb_table *t = NULL;
	if (!grt->targets || !grt->active || !grt->live_fail || !grt->health)
		goto nomem;
	for (size_t i = 0; i < cells; i++) {
		atomic_init(&grt->active[i], 0);
		atomic_init(&grt->live_fail[i], 0);
	}
	for (size_t i = 0; i < gc->n_targets; i++)
		slot_take(rt, g, (uint32_t)i, &gc->targets[i]);
	grt->n_slots = (uint32_t)gc->n_targets;
	int ret = targets_build(rt, g, &t);
	if (ret < 0) {
		targets_group_free(rt, g);
		return ret;
	}
	atomic_store_explicit(&grt->table, t, memory_order_release);
	atomic_fetch_add_explicit(&grt->table_builds, 1, memory_order_relaxed);
	return 0;
nomem:
	targets_group_free(rt, g);
	return -ENOMEM;
}

void targets_group_free(struct nlb_runtime *rt, size_t g)
{
	struct group_rt *grt = &rt->groups[g];
	nlb_lb_table_free(atomic_load(&grt->table));
	free(grt->targets);
	free(grt->active);
	free(grt->live_fail);
	free(grt->health);
	memset(grt, 0, sizeof(*grt));
}

int targets_init(struct nlb_runtime *rt)
{
	int ret = nlb_qsbr_init(&rt->qsbr, rt->n_workers + NLB_QSBR_THREADS);
	if (ret < 0)
		return ret;
	/* Offline until they run (the metrics and admin threads only when
	 * configured), so that they hold no reclamation back. */
	for (unsigned k = 0; k < NLB_QSBR_THREADS; k++)
		nlb_qsbr_offline(&rt->qsbr, NLB_QSBR_READER(rt, k));
	pthread_mutex_init(&rt->ctl_lock, NULL);
	for (size_t g = 0; g < rt->cfg->n_groups; g++)
		if ((ret = targets_group_add(rt, g, &rt->cfg->groups[g])) < 0)
			return ret;
	return 0;
}

void targets_free(struct nlb_runtime *rt)
{
	targets_reclaim(rt, true);
	for (size_t g = 0; rt->groups && g < rt->cfg->n_groups; g++)
		targets_group_free(rt, g);
	nlb_qsbr_free(&rt->qsbr);
	pthread_mutex_destroy(&rt->ctl_lock);
}

int targets_build(const struct nlb_runtime *rt, size_t g, struct nlb_lb_table **out)
{
	const struct group_rt *grt = &rt->groups[g];
	size_t n = grt->n_slots;
	uint32_t *w = calloc(n ? n : 1, sizeof(*w));
	uint32_t *all = calloc(n ? n : 1, sizeof(*all));
	const char **keys = calloc(n ? n : 1, sizeof(*keys));
	int ret = -ENOMEM;
	if (!w || !all || !keys)
		goto out;
	uint32_t healthy = 0, configured = 0;
	for (size_t i = 0; i < n; i++) {
		const struct target_rt *t = &grt->targets[i];
		keys[i] = t->addr_text;
		if (atomic_load_explicit(&t->state, memory_order_relaxed) != TARGET_ACTIVE)
			continue;
		all[i] = t->weight;
		bool up = atomic_load_explicit(&grt->health[i], memory_order_relaxed) == NLB_HC_HEALTHY;
		w[i] = up ? t->weight : 0;
		healthy += w[i] > 0;
		configured += t->weight > 0;
	}
	bool closed = false;
	if (healthy == 0 && configured > 0) {
		if (grt->conf->fail_open)
			memcpy(w, all, n * sizeof(*w));
		else
			closed = true;
	}
	ret = nlb_lb_table_build(grt->conf, keys, w, n, out);
	if (ret == 0)
		(*out)->fail_closed = closed;
out:
	free(w);
	free(all);
	free(keys);
	return ret;
}

int targets_publish(struct nlb_runtime *rt, size_t g)
{
	struct group_rt *grt = &rt->groups[g];
	struct nlb_lb_table *t;
	struct retired *r = malloc(sizeof(*r));
	int ret = r ? targets_build(rt, g, &t) : -ENOMEM;
	if (ret < 0) {
		free(r);
		if (!grt->stale)
			nlb_err("target group %s: cannot build a table (%s); retrying",
				grt->conf->name, strerror(-ret));
		grt->stale = true;
		return ret;
	}
	grt->stale = false;
	atomic_fetch_add_explicit(&grt->table_builds, 1, memory_order_relaxed);
	uint64_t epoch = retire(rt, r, atomic_exchange_explicit(&grt->table, t, memory_order_seq_cst),
				free_table);
	/* From this epoch on no worker can pick a target this table left
	 * out: draining slots may count from here. */
	for (uint32_t i = 0; i < grt->n_slots; i++) {
		struct target_rt *s = &grt->targets[i];
		if (atomic_load_explicit(&s->state, memory_order_relaxed) >= TARGET_DRAINING &&
		    s->drain_epoch == 0)
			s->drain_epoch = epoch;
	}
	return 0;
}

void targets_retire_config(struct nlb_runtime *rt, const struct nlb_config *old)
{
	struct retired *r = malloc(sizeof(*r));
	if (!r) {
		/* Kept for good rather than freed under a reader. */
		nlb_warn("reload: out of memory; the replaced configuration is kept");
		return;
	}
	retire(rt, r, (struct nlb_config *)old, free_config);
}

void targets_reclaim(struct nlb_runtime *rt, bool all)
{
	for (struct retired **pp = &rt->retired; *pp;) {
		struct retired *r = *pp;
		if (all || nlb_qsbr_passed(&rt->qsbr, r->epoch)) {
			*pp = r->next;
			r->free_obj(r->obj);
			free(r);
		} else {
			pp = &r->next;
		}
	}
}

size_t targets_retired(const struct nlb_runtime *rt)
{
	size_t n = 0;
	for (const struct retired *r = rt->retired; r; r = r->next)
		n++;
	return n;
}

/* The slot (not FREE) that holds addr, or -1. */
static int slot_find(const struct group_rt *grt, const struct nlb_addr *addr)
{
	for (uint32_t i = 0; i < grt->n_slots; i++) {
		const struct target_rt *t = &grt->targets[i];
		if (atomic_load_explicit(&t->state, memory_order_relaxed) != TARGET_FREE &&
		    nlb_addr_equal(&t->addr, addr))
			return (int)i;
	}
	return -1;
}

/* Does nc list a target at addr? */
static bool listed_in(const struct nlb_group_conf *nc, const struct nlb_addr *addr)
{
	for (size_t k = 0; k < nc->n_targets; k++)
		if (nlb_addr_equal(&nc->targets[k].addr, addr))
			return true;
	return false;
}

/* Would group g fit need slots in use and eligible targets with weight?
 * max_targets is fixed at start, and so is a running Maglev table's size.
 * 0, or -ENOSPC / -EINVAL with the reason in err. */
/* settings: the group's configuration the table will be built from (the
 * running one, or a reload's that replaces it). */
static int room_check(const struct group_rt *grt, const struct nlb_group_conf *settings,
		      size_t need, size_t eligible, char *err, size_t errlen)
{
	if (need > grt->max_targets) {
		snprintf(err, errlen, "target group %s: %zu targets with those still draining, "
			 "more than max_targets %u (a restart applies a new max_targets)",
			 grt->conf->name, need, grt->max_targets);
		return -ENOSPC;
	}
	if (settings->algorithm == NLB_ALG_MAGLEV &&
	    nlb_maglev_check(settings->maglev_table_size, eligible) < 0) {
		snprintf(err, errlen, "target group %s: %zu targets need a larger maglev_table_size "
			 "than %u", settings->name, eligible, (unsigned)settings->maglev_table_size);
		return -EINVAL;
	}
	return 0;
}

int targets_check(const struct nlb_runtime *rt, size_t g, const struct nlb_group_conf *nc,
		  bool settings_too, char *err, size_t errlen)
{
	const struct group_rt *grt = &rt->groups[g];
	/* Slots in use after the change: every listed target, plus those
	 * still draining that the list leaves out. */
	size_t need = nc->n_targets, eligible = 0;
	for (uint32_t i = 0; i < grt->n_slots; i++) {
		const struct target_rt *t = &grt->targets[i];
		if (atomic_load_explicit(&t->state, memory_order_relaxed) != TARGET_FREE)
			need += !listed_in(nc, &t->addr);
	}
	for (size_t k = 0; k < nc->n_targets; k++)
		eligible += nc->targets[k].weight > 0;
	return room_check(grt, settings_too ? nc : grt->conf, need, eligible, err, errlen) < 0 ?
		-EINVAL : 0;
}

/* Slot i of group g takes no new flow from the next table on; its open
 * connections are reset at until (TARGET_NO_DEADLINE: never).  An ACTIVE
 * target starts draining; a drained one (no deadline) gets a deadline. */
static void slot_leave(struct nlb_runtime *rt, size_t g, uint32_t i, uint64_t now_ms,
		       uint64_t until)
{
	struct group_rt *grt = &rt->groups[g];
	struct target_rt *t = &grt->targets[i];
	if (atomic_load_explicit(&t->state, memory_order_relaxed) == TARGET_ACTIVE) {
		t->drain_epoch = 0;	/* set when the table without it is out */
		atomic_store_explicit(&t->state, TARGET_DRAINING, memory_order_release);
		rt->n_draining++;
	}
	t->drain_start_ms = now_ms;
	t->drain_until_ms = until;
	if (until == TARGET_NO_DEADLINE)
		nlb_info("target %s in group %s: drained, takes no new flows; its open "
			 "connections stay until they end", t->addr_text, grt->conf->name);
	else
		nlb_info("target %s in group %s: removed, draining for up to %llu ms",
			 t->addr_text, grt->conf->name, (unsigned long long)(until - now_ms));
}

/* A draining target listed or added again: back as if new (health checks
 * start over), keeping its open connections. */
static void slot_return(struct nlb_runtime *rt, size_t g, uint32_t i, uint32_t weight)
{
	struct group_rt *grt = &rt->groups[g];
	struct target_rt *t = &grt->targets[i];
	t->weight = weight;
	atomic_store_explicit(&grt->health[i], initial_health(grt), memory_order_relaxed);
	atomic_fetch_add_explicit(&t->gen, 1, memory_order_relaxed);
	atomic_store_explicit(&t->state, TARGET_ACTIVE, memory_order_release);
	rt->n_draining--;
	nlb_info("target %s in group %s: added again while draining (weight %u)",
		 t->addr_text, grt->conf->name, (unsigned)weight);
}

/* A new target takes the first free slot, or the next never used one
 * (the caller checked there is room). */
static void slot_add(struct nlb_runtime *rt, size_t g, const struct nlb_target_conf *tc)
{
	struct group_rt *grt = &rt->groups[g];
	uint32_t slot = grt->n_slots;
	for (uint32_t s = 0; s < grt->n_slots; s++) {
		if (atomic_load_explicit(&grt->targets[s].state, memory_order_relaxed) ==
		    TARGET_FREE) {
			slot = s;
			break;
		}
	}
	if (slot == grt->n_slots)
		grt->n_slots++;
	slot_take(rt, g, slot, tc);
	nlb_info("target %s in group %s: added (weight %u)", tc->addr_text, grt->conf->name,
		 (unsigned)tc->weight);
}

void targets_health_off(struct nlb_runtime *rt, size_t g)
{
	struct group_rt *grt = &rt->groups[g];
	for (uint32_t i = 0; i < grt->n_slots; i++)
		atomic_store_explicit(&grt->health[i], NLB_HC_HEALTHY, memory_order_relaxed);
}

/* After any change of group g's slots: the health thread follows
 * targets_version, the workers the new table. */
static void group_changed(struct nlb_runtime *rt, size_t g)
{
	atomic_fetch_add_explicit(&rt->targets_version, 1, memory_order_release);
	targets_publish(rt, g);
}

static bool drained(const struct target_rt *t)
{
	return atomic_load_explicit(&t->state, memory_order_relaxed) == TARGET_DRAINING &&
	       t->drain_until_ms == TARGET_NO_DEADLINE;
}

void targets_apply(struct nlb_runtime *rt, size_t g, const struct nlb_group_conf *nc,
		   uint64_t now_ms, struct targets_diff *d)
{
	struct group_rt *grt = &rt->groups[g];
	memset(d, 0, sizeof(*d));
	grt->drain_ms = nc->deregistration_delay_ms;
	/* Leaving first, so that their slots are not handed out below.  The
	 * file is the whole truth: a drained target it leaves out is removed
	 * as well. */
	for (uint32_t i = 0; i < grt->n_slots; i++) {
		struct target_rt *t = &grt->targets[i];
		if ((atomic_load_explicit(&t->state, memory_order_relaxed) != TARGET_ACTIVE &&
		     !drained(t)) || listed_in(nc, &t->addr))
			continue;
		slot_leave(rt, g, i, now_ms, now_ms + grt->drain_ms);
		d->removed++;
	}
	for (size_t k = 0; k < nc->n_targets; k++) {
		const struct nlb_target_conf *tc = &nc->targets[k];
		int i = slot_find(grt, &tc->addr);
		if (i < 0) {
			slot_add(rt, g, tc);	/* targets_check saw to the room */
			d->added++;
		} else if (atomic_load_explicit(&grt->targets[i].state, memory_order_relaxed) !=
			   TARGET_ACTIVE) {
			slot_return(rt, g, (uint32_t)i, tc->weight);
			d->returned++;
		} else if (grt->targets[i].weight != tc->weight) {
			grt->targets[i].weight = tc->weight;
			d->reweighted++;
		}
	}
	group_changed(rt, g);
}

/* ---- one target at a time (the admin socket) -------------------------- */

/* Slots in use and eligible targets (ACTIVE, weight > 0) of a group. */
static void group_usage(const struct group_rt *grt, size_t *used, size_t *eligible)
{
	*used = *eligible = 0;
	for (uint32_t i = 0; i < grt->n_slots; i++) {
		const struct target_rt *t = &grt->targets[i];
		enum target_state st = atomic_load_explicit(&t->state, memory_order_relaxed);
		*used += st != TARGET_FREE;
		*eligible += st == TARGET_ACTIVE && t->weight > 0;
	}
}

/* The ACTIVE target at addr, or -ENOENT / -EBUSY (draining) with the
 * reason in err. */
static int find_active(const struct group_rt *grt, const struct nlb_addr *addr,
		       const char *text, char *err, size_t errlen)
{
	int i = slot_find(grt, addr);
	if (i < 0) {
		snprintf(err, errlen, "no target %s in group %s", text, grt->conf->name);
		return -ENOENT;
	}
	if (atomic_load_explicit(&grt->targets[i].state, memory_order_relaxed) != TARGET_ACTIVE) {
		snprintf(err, errlen, "target %s in group %s is %s (add target brings it back)",
			 text, grt->conf->name, drained(&grt->targets[i]) ? "drained" :
			 "being removed");
		return -EBUSY;
	}
	return i;
}

int targets_add_one(struct nlb_runtime *rt, size_t g, const struct nlb_target_conf *tc,
		    bool weight_given, char *err, size_t errlen)
{
	struct group_rt *grt = &rt->groups[g];
	size_t used, eligible;
	group_usage(grt, &used, &eligible);
	int i = slot_find(grt, &tc->addr);
	if (i >= 0 && atomic_load_explicit(&grt->targets[i].state, memory_order_relaxed) ==
		      TARGET_ACTIVE) {
		snprintf(err, errlen, "target %s is already in group %s (set weight changes "
			 "its weight)", tc->addr_text, grt->conf->name);
		return -EEXIST;
	}
	uint32_t weight = i >= 0 && !weight_given ? grt->targets[i].weight : tc->weight;
	int ret = room_check(grt, grt->conf, used + (i < 0), eligible + (weight > 0), err, errlen);
	if (ret < 0)
		return ret;
	if (i >= 0)
		slot_return(rt, g, (uint32_t)i, weight);
	else
		slot_add(rt, g, tc);
	group_changed(rt, g);
	return 0;
}

int targets_set_weight(struct nlb_runtime *rt, size_t g, const struct nlb_addr *addr,
		       const char *text, uint32_t weight, char *err, size_t errlen)
{
	struct group_rt *grt = &rt->groups[g];
	int i = find_active(grt, addr, text, err, errlen);
	if (i < 0)
		return i;
	struct target_rt *t = &grt->targets[i];
	size_t used, eligible;
	group_usage(grt, &used, &eligible);
	eligible += (weight > 0) - (t->weight > 0);
	int ret = room_check(grt, grt->conf, used, eligible, err, errlen);
	if (ret < 0)
		return ret;
	nlb_info("target %s in group %s: weight %u -> %u", t->addr_text, grt->conf->name,
		 (unsigned)t->weight, (unsigned)weight);
	t->weight = weight;
	group_changed(rt, g);
	return 0;
}

int targets_drain_one(struct nlb_runtime *rt, size_t g, const struct nlb_addr *addr,
		      const char *text, uint64_t now_ms, char *err, size_t errlen)
{
	int i = find_active(&rt->groups[g], addr, text, err, errlen);
	if (i < 0)
		return i;
	slot_leave(rt, g, (uint32_t)i, now_ms, TARGET_NO_DEADLINE);
	group_changed(rt, g);
	return 0;
}

int targets_remove_one(struct nlb_runtime *rt, size_t g, const struct nlb_addr *addr,
		       const char *text, uint64_t now_ms, char *err, size_t errlen)
{
	struct group_rt *grt = &rt->groups[g];
	int i = slot_find(grt, addr);
	if (i < 0) {
		snprintf(err, errlen, "no target %s in group %s", text, grt->conf->name);
		return -ENOENT;
	}
	struct target_rt *t = &grt->targets[i];
	if (atomic_load_explicit(&t->state, memory_order_relaxed) != TARGET_ACTIVE &&
	    !drained(t)) {
		snprintf(err, errlen, "target %s in group %s is already being removed", text,
			 grt->conf->name);
		return -EALREADY;
	}
	slot_leave(rt, g, (uint32_t)i, now_ms, now_ms + grt->drain_ms);
	group_changed(rt, g);
	return 0;
}

void targets_health_count(struct nlb_runtime *rt, size_t g, uint32_t *healthy,
			  uint32_t *initial)
{
	pthread_mutex_lock(&rt->ctl_lock);
	const struct group_rt *grt = &rt->groups[g];
	*healthy = *initial = 0;
	for (uint32_t i = 0; i < grt->n_slots; i++) {
		if (atomic_load_explicit(&grt->targets[i].state, memory_order_relaxed) !=
		    TARGET_ACTIVE || grt->targets[i].weight == 0)
			continue;
		uint8_t h = atomic_load_explicit(&grt->health[i], memory_order_relaxed);
		*healthy += h == NLB_HC_HEALTHY;
		*initial += h == NLB_HC_INITIAL;
	}
	pthread_mutex_unlock(&rt->ctl_lock);
}

void targets_tick(struct nlb_runtime *rt, uint64_t now_ms)
{
	pthread_mutex_lock(&rt->ctl_lock);
	for (size_t l = 0; l < rt->cfg->n_listeners; l++) {
		struct listener_rt *lr = &rt->listeners[l];
		if (atomic_load_explicit(&lr->state, memory_order_relaxed) != LISTENER_CLOSING ||
		    atomic_load_explicit(&lr->holders, memory_order_acquire) != 0)
			continue;
		/* Every worker closed its sockets and has nothing left on it. */
		listener_release(rt, l);
		atomic_store_explicit(&lr->state, LISTENER_CLOSED, memory_order_release);
		nlb_info("listener %s: closed (removed by a reload; its connections have ended)",
			 lr->conf->name);
	}
	for (size_t g = 0; g < rt->cfg->n_groups; g++) {
		struct group_rt *grt = &rt->groups[g];
		if (grt->stale)
			targets_publish(rt, g);
		for (uint32_t i = 0; rt->n_draining && i < grt->n_slots; i++) {
			struct target_rt *t = &grt->targets[i];
			enum target_state st = atomic_load_explicit(&t->state, memory_order_relaxed);
			if (st < TARGET_DRAINING)
				continue;
			uint64_t open = pick_active_conns(rt, g, i);
			if (st == TARGET_DRAINING && now_ms >= t->drain_until_ms && open) {
				nlb_info("target %s in group %s: deregistration delay of %llu ms "
					 "passed, resetting its %llu open connections", t->addr_text,
					 grt->conf->name,
					 (unsigned long long)(t->drain_until_ms - t->drain_start_ms),
					 (unsigned long long)open);
				atomic_store_explicit(&t->state, TARGET_DRAIN_CLOSING,
						      memory_order_release);
				atomic_fetch_add_explicit(&rt->drain_close_seq, 1,
							  memory_order_release);
				st = TARGET_DRAIN_CLOSING;
			}
			/* A drained target stays until added back or removed. */
			if (open || t->drain_until_ms == TARGET_NO_DEADLINE || t->drain_epoch == 0 ||
			    !nlb_qsbr_passed(&rt->qsbr, t->drain_epoch))
				continue;
			nlb_info("target %s in group %s: draining ended after %llu ms (%s)",
				 t->addr_text, grt->conf->name,
				 (unsigned long long)(now_ms - t->drain_start_ms),
				 st == TARGET_DRAIN_CLOSING ? "connections reset at the deadline"
							    : "no connection left");
			atomic_store_explicit(&t->state, TARGET_FREE, memory_order_release);
			atomic_fetch_add_explicit(&rt->targets_version, 1, memory_order_release);
			rt->n_draining--;
		}
	}
	targets_reclaim(rt, false);
	pthread_mutex_unlock(&rt->ctl_lock);
}
