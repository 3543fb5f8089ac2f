/* Announcing the service addresses (doc/scaleout.md): for each prefix of
 * announce = { }, a route "PREFIX dev lo table T proto 249 metric PID"
 * kept while nlb can serve it (a listener of its address, or a wildcard
 * of its family, open, and a healthy target in its group), which a
 * routing daemon (BIRD) exports by BGP.  Each process owns its own
 * routes (its pid as the metric), so an old and a new nlb of a binary
 * upgrade both announce; routes of a process that is gone are removed
 * at start.  Runs on the main thread, the control plane's clock. */
#ifndef NLB_CONTROL_ANNOUNCE_H
#define NLB_CONTROL_ANNOUNCE_H

#include <stddef.h>
#include <stdint.h>

#include "core/runtime.h"

/* The routing protocol number of nlb's routes (rtm_protocol): unused by
 * iproute2's list; `echo "249 nlb" > /etc/iproute2/rt_protos.d/nlb.conf`
 * names it. */
#define NLB_RTPROT 249

struct announce {
	int fd;			/* rtnetlink; -1: nothing announced */
	int lo;			/* the loopback device's index */
	uint32_t metric;	/* this process's pid */
	int stopping;		/* withdrawn for good (SIGTERM) */
};

/* Before the privilege drop, when the configuration has announce: the
 * rtnetlink socket, rt->announced, and the stale routes of table and
 * protocol 249 removed (those whose metric is no running nlb's pid).
 * 0 (nothing to do without announce) or -errno with err set. */
int announce_open(struct announce *a, struct nlb_runtime *rt, char *err, size_t errlen);

/* Each tick: a route added where a prefix became servable, deleted
 * where it stopped being; each change logged. */
void announce_tick(struct announce *a, struct nlb_runtime *rt);

/* SIGTERM: every route of this process deleted, none added again.
 * Returns how many were announced. */
size_t announce_withdraw(struct announce *a, struct nlb_runtime *rt);

/* At exit: what is still announced withdrawn, the socket closed. */
void announce_close(struct announce *a, struct nlb_runtime *rt);

#endif
