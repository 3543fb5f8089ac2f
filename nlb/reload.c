/* Reload.  The new file is loaded and validated whole; its target lists
 * are checked against every group's free slots before any group changes,
 * so a reload applies entirely or not at all.  Settings that a running
 * worker reads without a lock (listeners, algorithms, timeouts) are
 * compared and reported, not applied. */
#include "reload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "listener.h"
#include "log.h"
#include "target_set.h"
#include "tunables.h"

static bool str_differ(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

/* A listener's settings that only a restart applies: what it is bound
 * to and where it sends (its identity here), and what is counted
 * against tables sized or armed at start (flow tables, per-source
 * tables, the shared connection count). */
static bool listener_moved(const struct nlb_listener_conf *a, const struct nlb_listener_conf *b)
{
	return a->protocol != b->protocol || !nlb_addr_equal(&a->addr, &b->addr) ||
	       strcmp(a->target_group, b->target_group) != 0;
}

static bool listener_restart_only(const struct nlb_listener_conf *a,
				  const struct nlb_listener_conf *b)
{
	return a->max_connections != b->max_connections || a->max_flows != b->max_flows ||
	       a->max_connections_per_source != b->max_connections_per_source ||
	       a->new_connections_per_source_per_s != b->new_connections_per_source_per_s;
}

static const struct nlb_group_conf *group_named(const struct nlb_config *cfg, const char *name)
{
	for (size_t g = 0; g < cfg->n_groups; g++)
		if (strcmp(cfg->groups[g].name, name) == 0)
			return &cfg->groups[g];
	return NULL;
}

/* The running listener a listener of the file continues: same name, not
 * removed, not moved (protocol, address, group); -1 if none. */
static int kept_slot(const struct nlb_runtime *rt, const struct nlb_config *old,
		     const struct nlb_listener_conf *n)
{
	for (size_t l = 0; l < old->n_listeners; l++) {
		const struct nlb_listener_conf *o = &old->listeners[l];
		if (!o->removed && strcmp(o->name, n->name) == 0 && !listener_moved(o, n) &&
		    atomic_load_explicit(&rt->listeners[l].state, memory_order_relaxed) ==
			    LISTENER_ACTIVE)
			return (int)l;
	}
	return -1;
}

/* Whether new's settings can replace the running ones: the same target
 * groups (by name; adding or removing groups needs a restart), and no
 * UDP listener to add (each worker's UDP flow table and buffers are
 * sized at start).  Listeners may be added, removed or moved. */
static bool can_replace(const struct nlb_runtime *rt, const struct nlb_config *old,
			const struct nlb_config *new)
{
	if (old->n_groups != new->n_groups)
		return false;
	for (size_t g = 0; g < old->n_groups; g++)
		if (!group_named(new, old->groups[g].name))
			return false;
	for (size_t l = 0; l < new->n_listeners; l++)
		if (new->listeners[l].protocol != NLB_PROTO_TCP &&
		    kept_slot(rt, old, &new->listeners[l]) < 0)
			return false;
	return true;
}

/* A removed listener's entry, kept in every later configuration at its
 * slot: connections on it read their settings there while they last. */
static int placeholder(struct nlb_listener_conf *dst, const struct nlb_listener_conf *src)
{
	*dst = *src;
	dst->allow = dst->deny = NULL;	/* it takes no new client */
	dst->removed = 1;
	dst->name = strdup(src->name);
	dst->target_group = strdup(src->target_group);
	return dst->name && dst->target_group ? 0 : -ENOMEM;
}

/* Puts new's groups in old's order, and its listeners at their slots:
 * each kept listener at its own, removed ones as placeholders at theirs,
 * added ones at new slots (bound here), so that the indexes connections,
 * counters and workers hold keep meaning the same listener and group.
 * *first_new is the first added slot; *removed counts listeners removed
 * by this reload. */
static int align(struct nlb_runtime *rt, const struct nlb_config *old, struct nlb_config *new,
		 size_t *first_new, unsigned *removed, char *err, size_t errlen)
{
	size_t n_new = new->n_listeners;
	struct nlb_listener_conf *ls = calloc(NLB_MAX_LISTENERS, sizeof(*ls));
	bool *taken = calloc(n_new ? n_new : 1, sizeof(*taken));
	struct nlb_group_conf *gs = calloc(old->n_groups ? old->n_groups : 1, sizeof(*gs));
	int ret = -ENOMEM;
	size_t n = old->n_listeners, bound_from = old->n_listeners;
	*removed = 0;
	snprintf(err, errlen, "out of memory");
	if (!ls || !taken || !gs)
		goto fail;
	for (size_t l = 0; l < old->n_listeners; l++) {
		const struct nlb_listener_conf *o = &old->listeners[l];
		size_t k = n_new;
		for (size_t i = 0; !o->removed && i < n_new; i++)
			if (!taken[i] && kept_slot(rt, old, &new->listeners[i]) == (int)l)
				k = i;
		if (k < n_new) {
			ls[l] = new->listeners[k];	/* moved: new no longer owns it */
			taken[k] = true;
			continue;
		}
		if (placeholder(&ls[l], o) < 0)
			goto fail;
		*removed += !o->removed;
	}
	for (size_t i = 0; i < n_new; i++) {
		if (taken[i])
			continue;
		if (n == NLB_MAX_LISTENERS) {
			snprintf(err, errlen, "%s: more than %u listeners over this process's life "
				 "(removed ones count); a restart applies the file", new->path,
				 NLB_MAX_LISTENERS);
			ret = -ENOSPC;
			goto fail;
		}
		ls[n++] = new->listeners[i];
		taken[i] = true;
	}
	for (size_t g = 0; g < old->n_groups; g++)
		gs[g] = *group_named(new, old->groups[g].name);
	memcpy(new->groups, gs, old->n_groups * sizeof(*gs));
	for (size_t l = 0; l < n; l++) {
		if (ls[l].removed)
			continue;	/* its group index is old's, the same */
		for (size_t g = 0; g < new->n_groups; g++)
			if (strcmp(new->groups[g].name, ls[l].target_group) == 0)
				ls[l].group = g;
	}
	for (size_t l = bound_from; l < n; l++) {
		if ((ret = listener_bind(rt, l, &ls[l], err, errlen)) < 0) {
			while (l-- > bound_from)
				listener_unbind(rt, l);
			goto fail;
		}
	}
	free(new->listeners);
	new->listeners = ls;
	new->n_listeners = n;
	*first_new = bound_from;
	free(taken);
	free(gs);
	return 0;
fail:
	/* Entries moved from new are still new's; placeholders are ours. */
	for (size_t l = 0; ls && l < old->n_listeners; l++) {
		if (ls[l].removed) {
			free(ls[l].name);
			free(ls[l].target_group);
		}
	}
	free(ls);
	free(taken);
	free(gs);
	return ret;
}

static void swap_str(char **a, char **b)
{
	char *t = *a;
	*a = *b;
	*b = t;
}

/* Logs each change that only a restart applies; returns how many.  With
 * in_place, new replaces old: what it cannot change is set back to old's
 * value in new (strings swapped, so each configuration frees its own),
 * so that the configuration in force says what runs. */
static unsigned report_unapplied(struct nlb_config *old, struct nlb_config *new, bool in_place)
{
	unsigned n = 0;
#define UNAPPLIED(...) do { nlb_warn("reload: " __VA_ARGS__); n++; } while (0)
	if (old->workers != new->workers)
		UNAPPLIED("\"workers\" changed; not applied until a restart");
	if (old->forwarding != new->forwarding || old->flow_table_size != new->flow_table_size ||
	    old->udp_max_datagram != new->udp_max_datagram || old->udp_gro != new->udp_gro ||
	    old->stats_enabled != new->stats_enabled ||
	    (old->stats_enabled && !nlb_addr_equal(&old->stats_listen, &new->stats_listen)) ||
	    str_differ(old->admin_socket, new->admin_socket) ||
	    old->admin_mode != new->admin_mode || str_differ(old->user, new->user) ||
	    str_differ(old->group, new->group) || old->allow_root != new->allow_root ||
	    (!in_place && (old->shutdown_timeout_ms != new->shutdown_timeout_ms ||
			   old->log_level != new->log_level)))
		UNAPPLIED("global settings other than log_level and shutdown_timeout_ms changed "
			  "(workers, forwarding, flow_table_size, udp_*, stats, admin, user, "
			  "group, allow_root); not applied until a restart");
	if (in_place) {
		new->workers = old->workers;
		new->forwarding = old->forwarding;
		new->flow_table_size = old->flow_table_size;
		new->udp_max_datagram = old->udp_max_datagram;
		new->udp_gro = old->udp_gro;
		new->stats_enabled = old->stats_enabled;
		new->stats_listen = old->stats_listen;
		memcpy(new->stats_listen_text, old->stats_listen_text, sizeof(new->stats_listen_text));
		new->stats_line = old->stats_line;
		swap_str(&old->admin_socket, &new->admin_socket);
		new->admin_mode = old->admin_mode;
		swap_str(&old->user, &new->user);
		swap_str(&old->group, &new->group);
		new->allow_root = old->allow_root;
		for (size_t l = 0; l < old->n_listeners; l++) {
			struct nlb_listener_conf *a = &old->listeners[l], *b = &new->listeners[l];
			if (!a->removed && !b->removed && listener_restart_only(a, b)) {
				UNAPPLIED("listener %s: max_connections, max_flows or the per-source "
					  "limits changed; not applied until a restart", a->name);
				b->max_connections = a->max_connections;
				b->max_flows = a->max_flows;
				b->max_connections_per_source = a->max_connections_per_source;
				b->new_connections_per_source_per_s =
					a->new_connections_per_source_per_s;
			}
		}
		for (size_t g = 0; g < new->n_groups; g++) {
			struct nlb_group_conf *a = &old->groups[g], *b = &new->groups[g];
			if (a->max_targets != b->max_targets) {
				UNAPPLIED("target group %s: max_targets changed; not applied until a "
					  "restart", a->name);
				b->max_targets = a->max_targets;
			}
			/* The probe thread sizes its probes for the groups that
			 * have a check at start; its settings change in place. */
			if (a->health.enabled != b->health.enabled) {
				UNAPPLIED("target group %s: health_check %s; not applied until a "
					  "restart", a->name, b->health.enabled ? "added" : "removed");
				struct nlb_health_conf t = a->health;
				a->health = b->health;
				b->health = t;
			}
		}
	} else {
		UNAPPLIED("target groups added or removed, or a UDP listener added; only "
			  "target lists applied, the rest not until a restart");
	}
#undef UNAPPLIED
	return n;
}

/* Replaces the running settings by nc's (aligned): listeners and groups
 * first, then the configuration; the old one is retired.  Under ctl_lock;
 * target lists are applied afterwards (they publish the new tables). */
static void swap_in(struct nlb_runtime *rt, struct nlb_config *nc, size_t first_new)
{
	const struct nlb_config *old = rt->cfg;
	for (size_t g = 0; g < nc->n_groups; g++)
		atomic_store_explicit(&rt->groups[g].conf, &nc->groups[g], memory_order_release);
	for (size_t l = 0; l < nc->n_listeners; l++) {
		struct listener_rt *lr = &rt->listeners[l];
		const struct nlb_listener_conf *lc = &nc->listeners[l];
		atomic_store_explicit(&lr->conf, lc, memory_order_release);
		if (l >= first_new) {
			nlb_info("listener %s: added: %s %s -> target group %s", lc->name,
				 nlb_protocol_name(lc->protocol), lc->addr_text, lc->target_group);
		} else if (lc->removed && atomic_load_explicit(&lr->state, memory_order_relaxed) ==
			   LISTENER_ACTIVE) {
			/* Each worker closes its socket and lets go once it
			 * has nothing left on it (worker.c, listeners_sync). */
			atomic_store_explicit(&lr->holders, rt->n_workers, memory_order_relaxed);
			atomic_store_explicit(&lr->state, LISTENER_CLOSING, memory_order_release);
			nlb_info("listener %s: removed: no new clients; its open connections go on",
				 lc->name);
		}
	}
	atomic_store_explicit(&rt->cfg, nc, memory_order_release);
	nlb_log_set_level(nc->log_level);
	/* The health thread re-reads its probes' settings. */
	atomic_fetch_add_explicit(&rt->targets_version, 1, memory_order_release);
	targets_retire_config(rt, old);
}

static int reload_locked(struct nlb_runtime *rt, const char *path, uint64_t now_ms,
			 char *msg, size_t msglen)
{
	struct nlb_config *nc = NULL;
	char err[1024];
	int ret = nlb_config_load(path, &nc, err, sizeof(err));
	if (ret == 0) {
		bool in_place = can_replace(rt, rt->cfg, nc);
		size_t first_new = 0;
		unsigned lremoved = 0;
		if (in_place)
			ret = align(rt, rt->cfg, nc, &first_new, &lremoved, err, sizeof(err));
		if (ret == 0) {
			pthread_mutex_lock(&rt->ctl_lock);
			for (size_t g = 0; ret == 0 && g < rt->cfg->n_groups; g++) {
				const struct nlb_group_conf *ng = in_place ? &nc->groups[g] :
					group_named(nc, rt->groups[g].conf->name);
				if (ng)
					ret = targets_check(rt, g, ng, in_place, err, sizeof(err));
			}
			if (ret == 0) {
				/* Reported (and reverted in nc) only now: nothing
				 * is said of a reload that fails. */
				unsigned unapplied = report_unapplied(
					(struct nlb_config *)rt->cfg, nc, in_place);
				struct targets_diff sum = { 0 };
				if (in_place)
					swap_in(rt, nc, first_new);
				for (size_t g = 0; g < rt->cfg->n_groups; g++) {
					const struct nlb_group_conf *ng = in_place ? &nc->groups[g] :
						group_named(nc, rt->groups[g].conf->name);
					if (!ng)
						continue;
					struct targets_diff d;
					targets_apply(rt, g, ng, now_ms, &d);
					sum.added += d.added;
					sum.removed += d.removed;
					sum.reweighted += d.reweighted;
					sum.returned += d.returned;
				}
				pthread_mutex_unlock(&rt->ctl_lock);
				snprintf(msg, msglen, "reload: %s applied: targets added=%u removed=%u "
					 "reweighted=%u returned=%u; listeners added=%zu removed=%u; "
					 "settings %s; %u changes need a restart", path, sum.added,
					 sum.removed, sum.reweighted, sum.returned,
					 in_place ? nc->n_listeners - first_new : 0, lremoved,
					 in_place ? "applied" : "not applied", unapplied);
				nlb_info("%s", msg);
				if (!in_place)
					nlb_config_free(nc);
				return 0;
			}
			pthread_mutex_unlock(&rt->ctl_lock);
			for (size_t l = first_new; in_place && l < nc->n_listeners; l++)
				listener_unbind(rt, l);
		}
		nlb_config_free(nc);
	}
	snprintf(msg, msglen, "%s", err);
	nlb_err("reload failed, still running the previous configuration: %s", err);
	return ret;
}

int reload_config(struct nlb_runtime *rt, const char *path, uint64_t now_ms,
		  char *msg, size_t msglen)
{
	/* Not ctl_lock: loading a large file (allow lists) must not stall
	 * the health thread; ctl_lock is taken only to check and apply. */
	pthread_mutex_lock(&rt->reload_lock);
	int ret = reload_locked(rt, path, now_ms, msg, msglen);
	pthread_mutex_unlock(&rt->reload_lock);
	return ret;
}
