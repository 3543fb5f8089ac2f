/* Reload.  The new file is loaded and validated whole; its target lists
 * are checked against every group's free slots before any group changes,
 * so a reload applies entirely or not at all.  Settings that a running
 * worker reads without a lock (listeners, algorithms, timeouts) are
 * compared and reported, not applied. */
#include "reload.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "target_set.h"

static bool str_differ(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

static bool health_differ(const struct nlb_health_conf *a, const struct nlb_health_conf *b)
{
	return a->enabled != b->enabled || a->protocol != b->protocol || a->port != b->port ||
	       a->interval_ms != b->interval_ms || a->timeout_ms != b->timeout_ms ||
	       a->healthy_threshold != b->healthy_threshold ||
	       a->unhealthy_threshold != b->unhealthy_threshold ||
	       str_differ(a->path, b->path) || str_differ(a->matcher_text, b->matcher_text) ||
	       a->proxy_protocol != b->proxy_protocol;
}

/* Settings of a group other than its targets and deregistration delay. */
static bool group_differs(const struct nlb_group_conf *a, const struct nlb_group_conf *b)
{
	return a->algorithm != b->algorithm || a->connect_timeout_ms != b->connect_timeout_ms ||
	       a->connect_retries != b->connect_retries ||
	       a->maglev_table_size != b->maglev_table_size || a->hash_fields != b->hash_fields ||
	       a->hash_seed != b->hash_seed || a->fail_open != b->fail_open ||
	       a->max_targets != b->max_targets || a->proxy_protocol != b->proxy_protocol ||
	       health_differ(&a->health, &b->health);
}

static bool listener_differs(const struct nlb_listener_conf *a, const struct nlb_listener_conf *b)
{
	return strcmp(a->name, b->name) != 0 || a->protocol != b->protocol ||
	       !nlb_addr_equal(&a->addr, &b->addr) || strcmp(a->target_group, b->target_group) != 0 ||
	       a->idle_timeout_ms != b->idle_timeout_ms || a->max_connections != b->max_connections ||
	       a->udp_idle_timeout_ms != b->udp_idle_timeout_ms || a->max_flows != b->max_flows ||
	       a->accept_proxy_protocol != b->accept_proxy_protocol ||
	       a->proxy_protocol_timeout_ms != b->proxy_protocol_timeout_ms ||
	       a->max_connections_per_source != b->max_connections_per_source ||
	       a->new_connections_per_source_per_s != b->new_connections_per_source_per_s ||
	       !nlb_acl_equal(a->allow, b->allow) || !nlb_acl_equal(a->deny, b->deny);
}

static const struct nlb_group_conf *group_named(const struct nlb_config *cfg, const char *name)
{
	for (size_t g = 0; g < cfg->n_groups; g++)
		if (strcmp(cfg->groups[g].name, name) == 0)
			return &cfg->groups[g];
	return NULL;
}

/* Logs each change that only a restart applies; returns how many. */
static unsigned report_unapplied(const struct nlb_config *old, const struct nlb_config *new)
{
	unsigned n = 0;
#define UNAPPLIED(...) do { nlb_warn("reload: " __VA_ARGS__); n++; } while (0)
	if (old->workers != new->workers)
		UNAPPLIED("\"workers\" changed; not applied until a restart");
	if (old->forwarding != new->forwarding || old->flow_table_size != new->flow_table_size ||
	    old->shutdown_timeout_ms != new->shutdown_timeout_ms ||
	    old->udp_max_datagram != new->udp_max_datagram || old->udp_gro != new->udp_gro ||
	    old->stats_enabled != new->stats_enabled ||
	    (old->stats_enabled && !nlb_addr_equal(&old->stats_listen, &new->stats_listen)) ||
	    str_differ(old->admin_socket, new->admin_socket) ||
	    old->admin_mode != new->admin_mode || str_differ(old->user, new->user) ||
	    str_differ(old->group, new->group) || old->allow_root != new->allow_root ||
	    old->log_level != new->log_level)
		UNAPPLIED("global settings changed; not applied until a restart");
	bool listeners = old->n_listeners != new->n_listeners;
	for (size_t l = 0; !listeners && l < old->n_listeners; l++)
		listeners = listener_differs(&old->listeners[l], &new->listeners[l]);
	if (listeners)
		UNAPPLIED("listeners changed; not applied until a restart");
	for (size_t g = 0; g < new->n_groups; g++) {
		const struct nlb_group_conf *o = group_named(old, new->groups[g].name);
		if (!o)
			UNAPPLIED("new target group %s; not applied until a restart",
				  new->groups[g].name);
		else if (group_differs(o, &new->groups[g]))
			UNAPPLIED("settings of target group %s other than its targets and "
				  "deregistration_delay_ms changed; not applied until a restart",
				  o->name);
	}
	for (size_t g = 0; g < old->n_groups; g++)
		if (!group_named(new, old->groups[g].name))
			UNAPPLIED("target group %s is gone from the file; it keeps running "
				  "until a restart", old->groups[g].name);
#undef UNAPPLIED
	return n;
}

static int reload_locked(struct nlb_runtime *rt, const char *path, uint64_t now_ms,
			 char *msg, size_t msglen)
{
	struct nlb_config *nc = NULL;
	char err[1024];
	int ret = nlb_config_load(path, &nc, err, sizeof(err));
	if (ret < 0) {
		snprintf(msg, msglen, "%s", err);
		nlb_err("reload failed, still running the previous configuration: %s", err);
		return ret;
	}
	unsigned unapplied = report_unapplied(rt->cfg, nc);

	pthread_mutex_lock(&rt->ctl_lock);
	for (size_t g = 0; g < rt->cfg->n_groups; g++) {
		const struct nlb_group_conf *ng = group_named(nc, rt->groups[g].conf->name);
		if (ng && (ret = targets_check(rt, g, ng, err, sizeof(err))) < 0) {
			pthread_mutex_unlock(&rt->ctl_lock);
			snprintf(msg, msglen, "%s", err);
			nlb_err("reload failed, still running the previous configuration: %s", err);
			nlb_config_free(nc);
			return ret;
		}
	}
	struct targets_diff sum = { 0 };
	for (size_t g = 0; g < rt->cfg->n_groups; g++) {
		const struct nlb_group_conf *ng = group_named(nc, rt->groups[g].conf->name);
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
	snprintf(msg, msglen, "reload: %s applied: targets added=%u removed=%u reweighted=%u "
		 "returned=%u; %u changes need a restart", path, sum.added, sum.removed,
		 sum.reweighted, sum.returned, unapplied);
	nlb_info("%s", msg);
	nlb_config_free(nc);
	return 0;
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
