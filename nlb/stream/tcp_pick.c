/* Which target a TCP connection tries (stream/tcp_pick.h). */
#include "stream/tcp_pick.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "flowtab.h"
#include "tuple_hash.h"
#include "balance/pick.h"
#include "core/worker.h"
#include "stream/tcp_header.h"

/* A maglev flow: the hash that picks its target (the client's address
 * and port and the listener's address, from the socket: the accept CQE
 * has none), and its key in the worker's flow table: the whole tuple, or
 * with hash_fields = source_ip the client's address and the group. */
struct flow {
	uint64_t lb_hash;
	uint64_t key_hash;
	struct nlb_tuple key;
};

static int flow_of(const struct conn *c, const struct nlb_listener_conf *lc,
		   const struct nlb_group_conf *gc, struct flow *f)
{
	struct sockaddr_storage peer;
	const struct sockaddr *client = tcp_conn_client(c, &peer);
	if (!client)
		return -errno;
	int ret = nlb_tuple_from_sockaddr(&f->key, client,
					  (const struct sockaddr *)&lc->addr.ss, IPPROTO_TCP);
	if (ret < 0)
		return ret;
	f->lb_hash = nlb_tuple_hash(&f->key, gc->hash_seed, (enum nlb_hash_fields)gc->hash_fields);
	if (gc->hash_fields == NLB_HASH_SOURCE_IP) {
		memset(f->key.dst, 0, sizeof(f->key.dst));
		f->key.sport = 0;
		f->key.dport = c->group;
		f->key.proto = 0;
	}
	f->key_hash = nlb_tuple_hash(&f->key, 0, NLB_HASH_5TUPLE);
	return 0;
}

/* maglev: a flow the table knows goes back to its target while that can
 * take it, so a client that was moved off a refusing target (source_ip)
 * stays where it works, and flows keep their target when the table
 * changes; anything else is placed by the hash and remembered. */
static int pick_flow(struct worker *w, struct conn *c, size_t group,
		     const struct nlb_listener_conf *lc, const struct nlb_group_conf *gc)
{
	struct flow f;
	if (flow_of(c, lc, gc, &f) < 0)
		return pick_target(w->rt, &w->pick, group, 0, c->attempts, c->tried);
	struct nlb_flowtab *flows = w->tcp.flows;
	uint32_t v;
	if (flows && c->attempts == 0 &&
	    nlb_flowtab_lookup(flows, &f.key, f.key_hash, w->now_ms, &v) == 0 &&
	    pick_eligible(w->rt, group, v, c->tried)) {
		STAT_INC(wstats(w, c->listener), flow_hits);
		return (int)v;
	}
	int t = pick_target(w->rt, &w->pick, group, f.lb_hash, c->attempts, c->tried);
	if (t >= 0 && flows)
		nlb_flowtab_insert(flows, &f.key, f.key_hash, (uint32_t)t, w->now_ms);
	return t;
}

int tcp_pick(struct worker *w, struct conn *c)
{
	const struct nlb_listener_conf *lc = w->rt->listeners[c->listener].conf;
	const struct nlb_group_conf *gc = w->rt->groups[c->group].conf;
	return gc->algorithm == NLB_ALG_MAGLEV ? pick_flow(w, c, c->group, lc, gc) :
	       pick_target(w->rt, &w->pick, c->group, 0, c->attempts, c->tried);
}
