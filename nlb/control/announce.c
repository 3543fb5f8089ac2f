/* Announcing the service addresses (announce.h). */
#include "control/announce.h"

#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acl.h"
#include "addr.h"
#include "log.h"
#include "rtnl_route.h"
#include "tuple_hash.h"
#include "balance/target_set.h"

/* This prefix's route for this process. */
static struct nlb_route route_of(const struct announce *a, const struct nlb_config *cfg,
				 size_t i)
{
	struct nlb_route r = cfg->announce_prefixes[i].route;
	r.table = cfg->announce_table;
	r.protocol = NLB_RTPROT;
	r.metric = a->metric;
	r.oif = a->lo;
	return r;
}

/* The first line of a /proc file (a process's comm) into buf, or "". */
static void first_line(const char *path, char *buf, size_t len)
{
	buf[0] = '\0';
	FILE *f = fopen(path, "r");
	if (f && !fgets(buf, (int)len, f))
		buf[0] = '\0';
	if (f)
		fclose(f);
}

/* Routes of table and protocol 249 left by a process that is gone (a
 * SIGKILL): deleted, each logged. */
static void remove_stale(struct announce *a, const struct nlb_config *cfg)
{
	struct nlb_route found[64];
	int n = nlb_rtnl_list(a->fd, cfg->announce_table, NLB_RTPROT, found, 64);
	if (n < 0) {
		nlb_warn("announce: cannot list the routes of table %u: %s", cfg->announce_table,
			 strerror(-n));
		return;
	}
	/* a running nlb: a process of the same program as this one */
	char mine[64], theirs[64], path[64];
	first_line("/proc/self/comm", mine, sizeof(mine));
	for (int i = 0; i < n && i < 64; i++) {
		char text[80];
		nlb_prefix_format(&found[i], text, sizeof(text));
		snprintf(path, sizeof(path), "/proc/%u/comm", (unsigned)found[i].metric);
		first_line(path, theirs, sizeof(theirs));
		if (found[i].metric == a->metric || (mine[0] && strcmp(mine, theirs) == 0)) {
			nlb_info("announce: %s metric %u in table %u is nlb process %u's: kept",
				 text, found[i].metric, cfg->announce_table, found[i].metric);
			continue;
		}
		int r = nlb_rtnl_del(a->fd, &found[i]);
		if (r < 0 && r != -ESRCH)
			nlb_warn("announce: cannot remove the stale route %s metric %u: %s", text,
				 found[i].metric, strerror(-r));
		else
			nlb_info("announce: removed the stale route %s metric %u from table %u "
				 "(process %u is gone)", text, found[i].metric, cfg->announce_table,
				 found[i].metric);
	}
}

int announce_open(struct announce *a, struct nlb_runtime *rt, char *err, size_t errlen)
{
	const struct nlb_config *cfg = rt->cfg;
	a->fd = -1;
	a->stopping = 0;
	if (!cfg->announce_enabled)
		return 0;
	a->metric = (uint32_t)getpid();
	a->lo = (int)if_nametoindex("lo");
	if (!a->lo) {
		snprintf(err, errlen, "%s:%d: announce: no loopback device: %s", cfg->path,
			 cfg->announce_line, strerror(errno));
		return -ENODEV;
	}
	rt->announced = calloc(cfg->n_announce, sizeof(*rt->announced));
	if (!rt->announced) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	a->fd = nlb_rtnl_open();
	if (a->fd < 0) {
		int r = a->fd;
		snprintf(err, errlen, "%s:%d: announce: rtnetlink: %s", cfg->path,
			 cfg->announce_line, strerror(-r));
		return r;
	}
	remove_stale(a, cfg);
	return 0;
}

/* Can nlb serve address p (in the prefix's family) now?  NULL if so,
 * else why not.  To be announced (not announced yet) a listener's group
 * also needs every target's first health check done: announced while
 * some are still unchecked, the host would send the first flows to the
 * targets checked first, where the other hosts spread them over all. */
static const char *why_not(struct nlb_runtime *rt, const struct nlb_config *cfg,
			   const struct nlb_route *p, bool announced)
{
	bool listener = false, settling = false;
	struct nlb_cidr prefix;
	nlb_route_to_cidr(p, &prefix);
	for (size_t l = 0; l < cfg->n_listeners; l++) {
		const struct nlb_listener_conf *lc = &cfg->listeners[l];
		const struct listener_rt *lr = &rt->listeners[l];
		if (lc->protocol == NLB_PROTO_GATEWAY || lc->removed ||
		    atomic_load_explicit(&lr->state, memory_order_acquire) != LISTENER_ACTIVE ||
		    (!lr->fds && !lr->udp_fds) || lc->addr.ss.ss_family != p->family)
			continue;
		struct nlb_tuple at;
		if (nlb_tuple_from_sockaddr(&at, (const struct sockaddr *)&lc->addr.ss, NULL, 0) < 0 ||
		    (!nlb_cidr_contains(&prefix, at.src) && !nlb_addr_wildcard(&lc->addr)))
			continue;
		listener = true;
		uint32_t healthy, initial;
		targets_health_count(rt, lc->group, &healthy, &initial);
		if (healthy && (announced || !initial))
			return NULL;
		settling = settling || (healthy && initial);
	}
	return !listener ? "no listener" : settling ? "health checks not done" :
	       "no healthy target";
}

static void set(struct announce *a, struct nlb_runtime *rt, size_t i, bool on, const char *why)
{
	const struct nlb_config *cfg = rt->cfg;
	struct nlb_route r = route_of(a, cfg, i);
	const char *text = cfg->announce_prefixes[i].text;
	int ret = on ? nlb_rtnl_add(a->fd, &r) : nlb_rtnl_del(a->fd, &r);
	if (ret < 0 && !(ret == -ESRCH && !on)) {
		nlb_warn_rl("announce: cannot %s %s in table %u: %s", on ? "add" : "delete",
			    text, cfg->announce_table, strerror(-ret));
		return;
	}
	atomic_store_explicit(&rt->announced[i], on, memory_order_relaxed);
	if (on)
		nlb_info("announce: %s announced (table %u, metric %u)", text, cfg->announce_table,
			 a->metric);
	else
		nlb_info("announce: %s withdrawn: %s", text, why);
}

void announce_tick(struct announce *a, struct nlb_runtime *rt)
{
	if (a->fd < 0 || a->stopping)
		return;
	const struct nlb_config *cfg = rt->cfg;
	for (size_t i = 0; i < cfg->n_announce; i++) {
		bool on = atomic_load_explicit(&rt->announced[i], memory_order_relaxed);
		const char *why = why_not(rt, cfg, &cfg->announce_prefixes[i].route, on);
		if (!why != on)
			set(a, rt, i, !why, why);
	}
}

size_t announce_withdraw(struct announce *a, struct nlb_runtime *rt)
{
	if (a->fd < 0)
		return 0;
	a->stopping = 1;
	size_t n = 0;
	for (size_t i = 0; i < rt->cfg->n_announce; i++)
		if (atomic_load_explicit(&rt->announced[i], memory_order_relaxed)) {
			set(a, rt, i, false, "stopping");
			n++;
		}
	return n;
}

void announce_close(struct announce *a, struct nlb_runtime *rt)
{
	if (a->fd < 0)
		return;
	announce_withdraw(a, rt);
	close(a->fd);
	a->fd = -1;
	free((void *)rt->announced);
	rt->announced = NULL;
}
