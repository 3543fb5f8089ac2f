/* UDP as a protocol module of the worker loop (core/proto-t.h): its op
 * table and its part of the worker's start, reloads, ticks and stop.
 * The flows themselves are stream/udp_proxy.c's. */
#include "stream/udp_worker.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flowtab.h"
#include "tunables.h"
#include "core/worker.h"
#include "stream/udp_proxy.h"
#include "stream/udp_send.h"

static const struct worker_op udp_ops[] = {
	[UDP_OP_RECV - NLB_OPS_UDP] = { "udp_recv", udp_on_listener_recv },
	[UDP_OP_FLOW_RECV - NLB_OPS_UDP] = { "udp_flow_recv", udp_on_flow_recv },
	[UDP_OP_SEND - NLB_OPS_UDP] = { "udp_send", udp_on_send },
	[UDP_OP_SENDMSG - NLB_OPS_UDP] = { "udp_sendmsg", udp_on_sendmsg },
};
_Static_assert(sizeof(udp_ops) / sizeof(udp_ops[0]) == UDP_OP_END - NLB_OPS_UDP,
	       "every UDP op has a handler");

/* Flow slots come 2^10 at a time. */
_Static_assert(NLB_UDP_FLOW_CHUNK == 1024u, "NLB_UDP_FLOW_CHUNK is 2^10: the arena's chunk shift");
#define FLOW_CHUNK_SHIFT 10

static int udp_worker_init(struct worker *w)
{
	nlb_slot_arena_init(&w->udp.flows, sizeof(struct udp_flow), FLOW_CHUNK_SHIFT);
	w->udp.ctx_free = NO_IDX;
	w->udp.max_datagram = w->rt->cfg->udp_max_datagram;
	memset(&w->udp.flow_msg, 0, sizeof(w->udp.flow_msg));
	w->udp.flow_msg.msg_controllen = w->rt->udp_gro ? CMSG_SPACE(sizeof(int)) : 0;
	_Static_assert(sizeof(struct io_uring_recvmsg_out) + CMSG_ALIGN(sizeof(struct sockaddr_in6)) +
		       CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(int)) <=
		       NLB_UDP_BUF_HEADROOM, "recvmsg's headroom fits in NLB_UDP_BUF_HEADROOM");
	return udp_worker_sync(w);
}

static void udp_worker_free(struct worker *w)
{
	for (size_t l = 0; l < w->rt->cfg->n_listeners; l++) {
		struct udp_listener *ul = &w->listeners[l].udp;
		if (w->listeners[l].started && ul->fd >= 0)
			close(ul->fd);
	}
	for (uint32_t i = 0; i < w->udp.flows.n_slots; i++) {
		struct udp_flow *f = nlb_slot_at(&w->udp.flows, i);
		if (f->state != UFLOW_FREE && f->fd >= 0)
			close(f->fd);
	}
	nlb_slot_arena_free(&w->udp.flows);
	udp_ctx_free_all(w);
	free(w->udp.starved);
	w->udp.starved = NULL;
	if (w->udp.table)
		nlb_flowtab_destroy(w->udp.table);
	w->udp.table = NULL;
	if (w->udp.bufs.br)
		nlb_bufring_free(&w->ring, &w->udp.bufs);
}

static void udp_listener_take(struct worker *w, uint32_t l)
{
	const struct listener_rt *lr = &w->rt->listeners[l];
	struct udp_listener *ul = &w->listeners[l].udp;
	/* A gateway's GENEVE sockets are the gateway module's. */
	ul->fd = lr->udp_fds && nlb_proto_udp(lr->conf->protocol) ? lr->udp_fds[w->id] : -1;
	nlb_idle_init(&ul->idle);
	ul->idle_ms = lr->conf->udp_idle_timeout_ms;
	udp_listener_init(w, l);
}

/* Answers to open flows leave from the listener's socket: it is closed
 * only once they are gone; released then. */
static bool udp_listener_close(struct worker *w, uint32_t l)
{
	struct udp_listener *ul = &w->listeners[l].udp;
	if (ul->fd >= 0 && nlb_idle_empty(&ul->idle)) {
		worker_listen_stop(w, ul->fd, false);
		ul->fd = -1;
	}
	return ul->fd < 0 && !ul->armed;
}

/* UDP flows end with the worker: there is no connection to finish, and
 * answers could not leave anyway. */
static void udp_stop(struct worker *w)
{
	for (size_t l = 0; l < w->rt->cfg->n_listeners; l++) {
		struct udp_listener *ul = &w->listeners[l].udp;
		if (ul->fd >= 0)
			worker_listen_stop(w, ul->fd, false);
		ul->fd = -1;
	}
}

static void udp_after_batch(struct worker *w)
{
	if (!w->udp.bufs.br)
		return;
	nlb_bufring_flush(&w->udp.bufs);
	udp_rearm_starved(w);
}

const struct stream_proto udp_proto = {
	.name = "udp",
	.op_base = NLB_OPS_UDP,
	.ops = udp_ops,
	.n_ops = sizeof(udp_ops) / sizeof(udp_ops[0]),
	.worker_init = udp_worker_init,
	.worker_sync = udp_worker_sync,
	.worker_free = udp_worker_free,
	.listener_take = udp_listener_take,
	.listener_arm = udp_arm_listener,
	.listener_close = udp_listener_close,
	.stop = udp_stop,
	.tick = udp_tick,
	.reset_drained = udp_reset_drained,
	.after_batch = udp_after_batch,
};
