/* UDP flows.  A datagram from a client arrives through a multishot
 * recvmsg on the worker's listening socket (SO_REUSEPORT hashes a
 * client's 4-tuple to the same worker every time) into the worker's UDP
 * buffer ring.  Its tuple finds the flow in the worker's flow table, or a
 * new flow picks a target by the group's algorithm and opens a connected
 * socket to it; the datagram goes out on that socket from the buffer it
 * arrived in.  The target's answers come back through a multishot
 * recvmsg on the flow's socket and leave from the listener's socket, so
 * the client sees the address it wrote to.  A buffer goes back to the
 * ring when the send that carries it completes.  Receiving and sending
 * are stream/udp_send.c's; the module's hooks into the worker loop are
 * stream/udp_worker.c's. */
#include "stream/udp_proxy.h"

#include <errno.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flowtab.h"
#include "health_check.h"
#include "log.h"
#include "tunables.h"
#include "tuple_hash.h"
#include "udp_batch.h"
#include "balance/pick.h"
#include "balance/target_set.h"
#include "core/worker.h"
#include "stream/admission.h"
#include "stream/udp_send.h"

static inline struct udp_flow *flow_at(struct worker *w, uint32_t idx)
{
	return nlb_slot_at(&w->udp.flows, idx);
}

/* f's place in the idle order: its listener's list. */
static inline struct nlb_idle_list *flow_idle(struct worker *w, const struct udp_flow *f)
{
	return &w->listeners[f->listener].udp.idle;
}

/* f's slot back, its socket closed: no request refers to it any more. */
static void flow_free(struct worker *w, struct udp_flow *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	f->state = UFLOW_FREE;
	nlb_slot_free(&w->udp.flows, f);
}

static void flow_touch(struct worker *w, struct udp_flow *f)
{
	if (f->last_ms != w->now_ms)
		w->active_now++;	/* sizes the worker's wait (loop.c) */
	f->last_ms = w->now_ms;
	nlb_idle_touch(&w->udp.flows, flow_idle(w, f), &f->slot);
}

static void arm_recv(struct worker *w, int fd, struct msghdr *msg, uint64_t ud)
{
	struct io_uring_sqe *sqe = nlb_ring_sqe(&w->ring);
	io_uring_prep_recvmsg_multishot(sqe, fd, msg, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = NLB_UDP_BUF_GROUP;
	io_uring_sqe_set_data64(sqe, ud);
}

void udp_arm_listener(struct worker *w, uint32_t lidx)
{
	struct worker_listener *wl = &w->listeners[lidx];
	if (wl->udp.fd < 0 || !w->udp.bufs.br)
		return;		/* no buffers (udp_worker_sync failed): logged there */
	arm_recv(w, wl->udp.fd, &wl->udp.msg, ud_pack(UDP_OP_RECV, lidx, 0));
	wl->udp.armed = true;
	wl->udp.starved = false;
}

static void arm_flow(struct worker *w, struct udp_flow *f)
{
	arm_recv(w, f->fd, &w->udp.flow_msg, ud_pack(UDP_OP_FLOW_RECV, f->slot.idx, f->slot.gen));
	f->inflight = 1;
	f->starved = 0;
}

static void flow_starved(struct worker *w, struct udp_flow *f)
{
	if (w->udp.n_starved == w->udp.cap_starved) {
		uint32_t cap = w->udp.cap_starved ? w->udp.cap_starved * 2 : 64;
		uint32_t *n = realloc(w->udp.starved, cap * sizeof(*n));
		if (!n)
			return;	/* the flow stays silent until its next datagram re-arms it */
		w->udp.starved = n;
		w->udp.cap_starved = cap;
	}
	f->starved = 1;
	w->udp.starved[w->udp.n_starved++] = f->slot.idx;
}

static int flow_tuple(const struct worker *w, uint32_t lidx, const struct sockaddr *client,
		      struct nlb_tuple *key)
{
	const struct nlb_listener_conf *lc = w->rt->listeners[lidx].conf;
	return nlb_tuple_from_sockaddr(key, client, (const struct sockaddr *)&lc->addr.ss,
				       IPPROTO_UDP);
}

static void flow_close(struct worker *w, struct udp_flow *f)
{
	if (f->state != UFLOW_OPEN)
		return;
	struct nlb_tuple key;
	uint32_t v;
	if (flow_tuple(w, f->listener, (const struct sockaddr *)&f->client, &key) == 0 &&
	    nlb_flowtab_lookup(w->udp.table, &key, f->key_hash, w->now_ms, &v) == 0 && v == f->slot.idx)
		nlb_flowtab_remove(w->udp.table, &key, f->key_hash);
	nlb_idle_remove(&w->udp.flows, flow_idle(w, f), &f->slot);
	pick_conn_add(w->rt, w->id, f->group, f->target, -1);
	admission_release(w, f->listener, f->src_slot);
	atomic_fetch_sub_explicit(&w->rt->listeners[f->listener].udp_flows, 1,
				  memory_order_relaxed);
	STAT_DEC(wstats(w, f->listener), udp_flows_active);
	f->state = UFLOW_CLOSING;
	if (!f->inflight) {
		flow_free(w, f);
		return;
	}
	struct io_uring_sqe *sqe = nlb_ring_sqe(&w->ring);
	io_uring_prep_cancel64(sqe, ud_pack(UDP_OP_FLOW_RECV, f->slot.idx, f->slot.gen), 0);
	io_uring_sqe_set_data64(sqe, ud_pack(OP_NONE, 0, 0));
	sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
}

/* May the flow keep its target?  Not once the target is unhealthy while
 * others take flows (UDP has no connection to keep, so the next datagram
 * goes elsewhere), nor once its draining has run out.  A healthy target
 * keeps its flows whatever else changes, and so does a draining one
 * until its deregistration delay ends. */
static bool flow_keeps_target(struct worker *w, const struct udp_flow *f)
{
	size_t g = f->group;
	enum target_state st = target_state(w->rt, g, f->target);
	if (st == TARGET_DRAINING)
		return true;
	if (st != TARGET_ACTIVE)
		return false;
	const struct group_rt *grt = &w->rt->groups[g];
	if (atomic_load_explicit(&grt->health[f->target], memory_order_relaxed) != NLB_HC_UNHEALTHY)
		return true;
	return pick_eligible(w->rt, g, f->target, 0);	/* fail-open: all are */
}

/* proxy_protocol v2 for UDP: the header every datagram of f to its
 * target starts with (the spec's DGRAM form): the client, and the
 * address it wrote to. */
static void flow_proxy_header(struct udp_flow *f, const struct nlb_listener_conf *lc)
{
	struct sockaddr_storage dst = lc->addr.ss;
	if (f->has_local) {
		uint16_t port = (uint16_t)htons((uint16_t)nlb_addr_port((const struct sockaddr *)&dst));
		memset(&dst, 0, sizeof(dst));
		if (f->client.ss_family == AF_INET) {
			struct sockaddr_in *a = (struct sockaddr_in *)&dst;
			a->sin_family = AF_INET;
			a->sin_port = port;
			memcpy(&a->sin_addr, &f->local.s6_addr[12], 4);
		} else {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&dst;
			a->sin6_family = AF_INET6;
			a->sin6_port = port;
			a->sin6_addr = f->local;
		}
	}
	int n = nlb_proxyproto_write_v2(f->pp_hdr, sizeof(f->pp_hdr), SOCK_DGRAM,
					(const struct sockaddr *)&f->client,
					(const struct sockaddr *)&dst);
	if (n > 0)
		f->pp_len = (uint8_t)n;
}

static struct udp_flow *flow_open(struct worker *w, uint32_t lidx, const struct nlb_tuple *key,
				  uint64_t key_hash, const struct io_uring_recvmsg_out *o,
				  struct msghdr *msg)
{
	struct listener_rt *lr = &w->rt->listeners[lidx];
	const struct nlb_listener_conf *lc = lr->conf;
	size_t group = lc->group;
	const struct nlb_group_conf *gc = w->rt->groups[group].conf;
	if (o->namelen > sizeof(struct sockaddr_in6))
		return NULL;
	if (atomic_load_explicit(&lr->state, memory_order_relaxed) != LISTENER_ACTIVE) {
		/* Removed by a reload: its flows go on, no new one starts. */
		STAT_INC(wstats(w, lidx), udp_no_target);
		return NULL;
	}
	if (atomic_load_explicit(&w->rt->memory_over, memory_order_relaxed)) {
		STAT_INC(wstats(w, lidx), udp_memory_refused);
		return NULL;
	}
	uint32_t slot;
	if (admission_check(w, lidx, io_uring_recvmsg_name((struct io_uring_recvmsg_out *)o),
			    true, &slot) < 0)
		return NULL;
	int fd = -1;
	struct udp_flow *f = NULL;
	uint32_t n = atomic_fetch_add_explicit(&lr->udp_flows, 1, memory_order_relaxed);
	if (n >= lc->max_flows) {
		atomic_fetch_sub_explicit(&lr->udp_flows, 1, memory_order_relaxed);
		admission_release(w, lidx, slot);
		STAT_INC(wstats(w, lidx), udp_flow_limit);
		return NULL;
	}
	/* A reload that raised max_flows is in force before this worker's
	 * next tick grows its table: grow it now rather than evict an open
	 * flow. */
	if (nlb_flowtab_count(w->udp.table) >= nlb_flowtab_capacity(w->udp.table) &&
	    (udp_worker_sync(w) < 0 ||
	     nlb_flowtab_count(w->udp.table) >= nlb_flowtab_capacity(w->udp.table))) {
		STAT_INC(wstats(w, lidx), udp_nomem);
		goto fail;
	}
	uint64_t lb_hash = nlb_tuple_hash(key, gc->hash_seed, (enum nlb_hash_fields)gc->hash_fields);
	int t = pick_target(w->rt, &w->pick, group, lb_hash, 0, 0);
	if (t < 0) {
		STAT_INC(wstats(w, lidx), udp_no_target);
		goto fail;
	}
	const struct target_rt *tr = target_at(w->rt, group, (uint32_t)t);
	fd = socket(tr->addr.ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd >= 0 && w->rt->udp_gro)
		setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one));	/* batches are an optimisation */
	if (fd < 0 || connect(fd, (const struct sockaddr *)&tr->addr.ss, tr->addr.len) < 0 ||
	    !(f = nlb_slot_alloc(&w->udp.flows))) {
		STAT_INC(wstats(w, lidx), udp_nomem);
		goto fail;
	}
	f->fd = fd;
	f->src_slot = slot;
	f->target = (uint32_t)t;
	f->listener = (uint16_t)lidx;
	f->group = (uint8_t)group;
	f->state = UFLOW_OPEN;
	f->key_hash = key_hash;
	f->last_ms = w->now_ms;
	memset(&f->client, 0, sizeof(f->client));
	memcpy(&f->client, io_uring_recvmsg_name((struct io_uring_recvmsg_out *)o), o->namelen);
	f->client_len = o->namelen;
	if (lr->wildcard) {
		/* The address the client wrote to, for the answers' source. */
		struct io_uring_recvmsg_out *mo = (struct io_uring_recvmsg_out *)o;
		for (struct cmsghdr *c = io_uring_recvmsg_cmsg_firsthdr(mo, msg); c;
		     c = io_uring_recvmsg_cmsg_nexthdr(mo, msg, c)) {
			if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
				struct in_pktinfo pi;
				memcpy(&pi, CMSG_DATA(c), sizeof(pi));
				memset(&f->local, 0, sizeof(f->local));
				memcpy(&f->local.s6_addr[12], &pi.ipi_addr, 4);
				f->has_local = 1;
			} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
				struct in6_pktinfo pi;
				memcpy(&pi, CMSG_DATA(c), sizeof(pi));
				f->local = pi.ipi6_addr;
				f->has_local = 1;
			}
		}
	}
	f->pp_len = 0;
	if (gc->proxy_protocol == NLB_PP_V2)
		flow_proxy_header(f, lc);
	nlb_flowtab_insert(w->udp.table, key, key_hash, f->slot.idx, w->now_ms);
	nlb_idle_append(&w->udp.flows, flow_idle(w, f), &f->slot);
	pick_conn_add(w->rt, w->id, group, f->target, 1);
	STAT_INC(wstats(w, lidx), udp_flows);
	STAT_INC(wstats(w, lidx), udp_flows_active);
	arm_flow(w, f);
	return f;
fail:
	if (fd >= 0)
		close(fd);
	admission_release(w, lidx, slot);
	atomic_fetch_sub_explicit(&lr->udp_flows, 1, memory_order_relaxed);
	return NULL;
}

/* A datagram or batch from a client on listener lidx, in buffer bid. */
static void on_client_datagram(struct worker *w, uint32_t lidx, uint16_t bid, int res)
{
	struct worker_listener *wl = &w->listeners[lidx];
	struct udp_dgram d;
	struct nlb_tuple key;
	if (!udp_datagram(w, lidx, bid, res, &wl->udp.msg, &d) ||
	    flow_tuple(w, lidx, io_uring_recvmsg_name(d.o), &key) < 0) {
		udp_buf_recycle(w, bid);
		return;
	}
	uint64_t kh = nlb_tuple_hash(&key, 0, NLB_HASH_5TUPLE);
	struct udp_flow *f = NULL;
	uint32_t v;
	if (nlb_flowtab_lookup(w->udp.table, &key, kh, w->now_ms, &v) == 0 && v < w->udp.flows.n_slots) {
		f = flow_at(w, v);
		if (f->state != UFLOW_OPEN) {
			f = NULL;
		} else if (!flow_keeps_target(w, f)) {
			STAT_INC(wstats(w, lidx), udp_moved);
			flow_close(w, f);
			f = NULL;
		}
	}
	if (!f)
		f = flow_open(w, lidx, &key, kh, d.o, &wl->udp.msg);
	if (!f) {
		udp_buf_recycle(w, bid);
		return;
	}
	flow_touch(w, f);
	STAT_ADD(wstats(w, lidx), udp_in, d.count);
	STAT_ADD(wstats(w, lidx), bytes_in, d.len);
	struct io_uring_sqe *sqe;
	if (d.count == 1 && !f->pp_len) {
		sqe = nlb_ring_sqe(&w->ring);
		io_uring_prep_send(sqe, f->fd, d.payload, d.len, 0);
		/* gen is free in this user_data: it carries the listener,
		 * whose row counts a failed send. */
		io_uring_sqe_set_data64(sqe, ud_pack(UDP_OP_SEND, bid, lidx));
		return;
	}
	uint32_t ci;
	struct udp_send_ctx *c = NULL;
	/* A batch whose datagrams each need a PROXY header cannot go as one
	 * GSO send; nor can one the path refused as such. */
	bool split = d.count > 1 && (f->split_to_target || f->pp_len);
	if (split || !(c = udp_ctx_get(w, &ci))) {
		/* Without a context it still goes, only not through the ring. */
		udp_send_split(w, lidx, f->fd, NULL, d.payload, d.len, d.gso ? d.gso : d.len,
			   f->pp_len ? f : NULL);
		if (split && !f->pp_len)
			STAT_INC(wstats(w, lidx), udp_gso_split);
		udp_buf_recycle(w, bid);
		return;
	}
	udp_ctx_fill(c, f, bid, &d, false);
	if (f->pp_len) {
		c->iov[1] = c->iov[0];
		c->iov[0].iov_base = f->pp_hdr;
		c->iov[0].iov_len = f->pp_len;
		c->msg.msg_iovlen = 2;
	} else {
		udp_ctx_add_gso(c);
	}
	sqe = nlb_ring_sqe(&w->ring);
	io_uring_prep_sendmsg(sqe, f->fd, &c->msg, 0);
	io_uring_sqe_set_data64(sqe, ud_pack(UDP_OP_SENDMSG, ci, 0));
}

/* An answer (or batch) from f's target in buffer bid: back to the client
 * from the listener's socket (and, bound to a wildcard, from the address
 * the client wrote to). */
static void on_target_datagram(struct worker *w, struct udp_flow *f, uint16_t bid, int res)
{
	struct udp_dgram d;
	struct worker_listener *wl = &w->listeners[f->listener];
	uint32_t ci;
	struct udp_send_ctx *c;
	struct worker_stats *st = wstats(w, f->listener);
	if (!udp_datagram(w, f->listener, bid, res, &w->udp.flow_msg, &d) || wl->udp.fd < 0) {
		udp_buf_recycle(w, bid);
		return;
	}
	if (!(c = udp_ctx_get(w, &ci))) {
		STAT_INC(st, udp_nomem);
		udp_buf_recycle(w, bid);
		return;
	}
	if (!f->target_spoke) {
		f->target_spoke = 1;
		pick_live_result(w->rt, w->id, f->group, f->target, true);
	}
	flow_touch(w, f);
	STAT_ADD(st, udp_out, d.count);
	STAT_ADD(st, bytes_out, d.len);
	udp_ctx_fill(c, f, bid, &d, true);
	memcpy(&c->name, &f->client, f->client_len);
	c->msg.msg_name = &c->name;
	c->msg.msg_namelen = f->client_len;
	if (f->has_local) {
		size_t off = 0;
		memset(&c->ctl, 0, sizeof(c->ctl));
		if (f->client.ss_family == AF_INET) {
			struct in_pktinfo pi;
			memset(&pi, 0, sizeof(pi));
			memcpy(&pi.ipi_spec_dst, &f->local.s6_addr[12], 4);
			nlb_cmsg_put(c->ctl.buf, &off, IPPROTO_IP, IP_PKTINFO, &pi, sizeof(pi));
		} else {
			struct in6_pktinfo pi;
			memset(&pi, 0, sizeof(pi));
			pi.ipi6_addr = f->local;
			nlb_cmsg_put(c->ctl.buf, &off, IPPROTO_IPV6, IPV6_PKTINFO, &pi, sizeof(pi));
		}
		c->msg.msg_control = c->ctl.buf;
		c->msg.msg_controllen = off;
	}
	if (d.count > 1 && f->split_to_client) {
		STAT_INC(st, udp_gso_split);
		udp_send_split(w, f->listener, wl->udp.fd, &c->msg, d.payload, d.len, d.gso, NULL);
		udp_ctx_put(w, ci);
		udp_buf_recycle(w, bid);
		return;
	}
	if (d.count > 1)
		udp_ctx_add_gso(c);
	struct io_uring_sqe *sqe = nlb_ring_sqe(&w->ring);
	io_uring_prep_sendmsg(sqe, wl->udp.fd, &c->msg, 0);
	io_uring_sqe_set_data64(sqe, ud_pack(UDP_OP_SENDMSG, ci, 0));
}

void udp_on_listener_recv(struct worker *w, const struct io_uring_cqe *cqe)
{
	uint32_t lidx = ud_idx(cqe->user_data);
	struct worker_listener *wl = &w->listeners[lidx];
	if (cqe->flags & IORING_CQE_F_BUFFER)
		on_client_datagram(w, lidx, (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT),
				   cqe->res);
	if (cqe->flags & IORING_CQE_F_MORE)
		return;
	wl->udp.armed = false;
	if (w->stopping || wl->udp.fd < 0)
		return;
	if (cqe->res == -ENOBUFS)
		wl->udp.starved = true;	/* datagrams wait in the socket meanwhile */
	else
		udp_arm_listener(w, lidx);
}

void udp_on_flow_recv(struct worker *w, const struct io_uring_cqe *cqe)
{
	uint32_t idx = ud_idx(cqe->user_data);
	bool buf = cqe->flags & IORING_CQE_F_BUFFER;
	uint16_t bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
	struct udp_flow *f = idx < w->udp.flows.n_slots ? flow_at(w, idx) : NULL;
	if (!f || f->slot.gen != ud_gen(cqe->user_data) || f->state == UFLOW_FREE) {
		if (buf)
			udp_buf_recycle(w, bid);
		worker_stale(w, cqe);
		return;
	}
	bool more = cqe->flags & IORING_CQE_F_MORE;
	if (!more)
		f->inflight = 0;
	if (f->state == UFLOW_CLOSING) {
		if (buf)
			udp_buf_recycle(w, bid);
		if (!more)
			flow_free(w, f);
		return;
	}
	if (buf)
		on_target_datagram(w, f, bid, cqe->res);
	if (cqe->res == -ECONNREFUSED) {
		/* ICMP port unreachable: nothing listens on the target. */
		STAT_INC(wstats(w, f->listener), udp_target_refused);
		pick_live_result(w->rt, w->id, f->group, f->target, false);
		f->target_spoke = 0;
	}
	if (more)
		return;
	if (cqe->res == -ENOBUFS)
		flow_starved(w, f);
	else
		arm_flow(w, f);
}

static void on_send_done(struct worker *w, uint32_t lidx, uint16_t bid, int res)
{
	udp_buf_recycle(w, bid);
	if (res >= 0)
		return;
	if (res == -ECONNREFUSED)
		STAT_INC(wstats(w, lidx), udp_target_refused);
	else
		STAT_INC(wstats(w, lidx), udp_send_error);
}

/* A sendmsg through c ended.  A batch the kernel refused as a batch
 * (EINVAL or EMSGSIZE: segments above the path MTU; EIO: no checksum
 * offload) goes again one datagram at a time, and so does every later
 * batch of that flow in that direction. */
static void on_sendmsg_done(struct worker *w, struct udp_send_ctx *c, int res)
{
	struct udp_flow *f = c->flow < w->udp.flows.n_slots ? flow_at(w, c->flow) : NULL;
	bool refused = res == -EINVAL || res == -EMSGSIZE || res == -EIO;
	if (c->gso && refused && f && f->slot.gen == c->gen && f->state == UFLOW_OPEN) {
		STAT_INC(wstats(w, c->listener), udp_gso_split);
		char *payload = c->iov[0].iov_base;
		unsigned len = (unsigned)c->iov[0].iov_len;
		if (c->to_client) {
			struct worker_listener *wl = &w->listeners[f->listener];
			/* the same address and source, without UDP_SEGMENT */
			c->msg.msg_controllen -= CMSG_SPACE(sizeof(uint16_t));
			if (!c->msg.msg_controllen)
				c->msg.msg_control = NULL;
			f->split_to_client = 1;
			if (wl->udp.fd >= 0)
				udp_send_split(w, c->listener, wl->udp.fd, &c->msg, payload, len,
					   c->gso, NULL);
		} else {
			f->split_to_target = 1;
			udp_send_split(w, c->listener, f->fd, NULL, payload, len, c->gso, NULL);
		}
		res = 0;
	}
	on_send_done(w, c->listener, c->bid, res);
}

void udp_on_send(struct worker *w, const struct io_uring_cqe *cqe)
{
	/* gen carries the listener, whose row counts a failed send. */
	on_send_done(w, ud_gen(cqe->user_data), (uint16_t)ud_idx(cqe->user_data), cqe->res);
}

void udp_on_sendmsg(struct worker *w, const struct io_uring_cqe *cqe)
{
	uint32_t idx = ud_idx(cqe->user_data);
	if (idx >= w->udp.n_ctx) {
		worker_stale(w, cqe);
		return;
	}
	on_sendmsg_done(w, w->udp.ctx[idx], cqe->res);
	udp_ctx_put(w, idx);
}

void udp_rearm_starved(struct worker *w)
{
	if (!w->udp.bufs_returned)
		return;
	w->udp.bufs_returned = false;
	for (size_t l = 0; l < w->rt->cfg->n_listeners; l++)
		if (w->listeners[l].udp.starved && !w->stopping)
			udp_arm_listener(w, (uint32_t)l);
	uint32_t n = w->udp.n_starved;
	w->udp.n_starved = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct udp_flow *f = flow_at(w, w->udp.starved[i]);
		if (f->state == UFLOW_OPEN && f->starved && !f->inflight)
			arm_flow(w, f);
		else if (f->state == UFLOW_CLOSING && !f->inflight)
			flow_free(w, f);
	}
}

void udp_tick(struct worker *w)
{
	if (!w->udp.table)
		return;
	for (size_t l = 0; l < w->rt->cfg->n_listeners; l++) {
		struct worker_listener *wl = &w->listeners[l];
		struct udp_flow *f;
		while ((f = nlb_idle_oldest(&w->udp.flows, &wl->udp.idle))) {
			if (f->last_ms + wl->udp.idle_ms > w->now_ms)
				break;
			STAT_INC(wstats(w, (uint32_t)l), udp_expired);
			flow_close(w, f);
		}
	}
}

void udp_reset_drained(struct worker *w)
{
	for (uint32_t i = 0; i < w->udp.flows.n_slots; i++) {
		struct udp_flow *f = flow_at(w, i);
		if (f->state == UFLOW_OPEN &&
		    target_state(w->rt, f->group, f->target) == TARGET_DRAIN_CLOSING) {
			STAT_INC(wstats(w, f->listener), udp_drain_reset);
			flow_close(w, f);
		}
	}
}

/* The flow table holds every flow open at once (never evicting one whose
 * socket is open): capacity flows, this worker's open flows moved over
 * from the table it replaces. */
static int flows_resize(struct worker *w, size_t capacity)
{
	struct nlb_flowtab *t;
	int ret = nlb_flowtab_create(&t, capacity);
	if (ret < 0)
		return ret;
	for (uint32_t i = 0; w->udp.table && i < w->udp.flows.n_slots; i++) {
		struct udp_flow *f = flow_at(w, i);
		struct nlb_tuple key;
		if (f->state == UFLOW_OPEN &&
		    flow_tuple(w, f->listener, (const struct sockaddr *)&f->client, &key) == 0)
			nlb_flowtab_insert(t, &key, f->key_hash, f->slot.idx, w->now_ms);
	}
	if (w->udp.table)
		nlb_flowtab_destroy(w->udp.table);
	w->udp.table = t;
	return 0;
}

int udp_worker_sync(struct worker *w)
{
	const struct nlb_config *cfg = w->rt->cfg;
	/* Room for every flow the listeners allow, and for those still open
	 * on listeners a reload removed. */
	uint64_t flows = 0;
	for (size_t l = 0; l < cfg->n_listeners; l++) {
		const struct nlb_listener_conf *lc = &cfg->listeners[l];
		w->listeners[l].udp.idle_ms = lc->udp_idle_timeout_ms;
		if (!nlb_proto_udp(lc->protocol))
			continue;
		flows += lc->removed ? atomic_load_explicit(&wstats(w, l)->udp_flows_active,
							    memory_order_relaxed)
				     : lc->max_flows;
	}
	if (flows == 0)
		return 0;
	if (flows > NLB_FLOWTAB_MAX_CAPACITY)
		flows = NLB_FLOWTAB_MAX_CAPACITY;
	int ret = 0;
	if (!w->udp.table || nlb_flowtab_capacity(w->udp.table) < flows)
		ret = flows_resize(w, (size_t)flows);
	if (ret == 0 && !w->udp.bufs.br)
		ret = udp_bufs_init(w);
	return ret;
}

void udp_listener_init(struct worker *w, uint32_t lidx)
{
	struct worker_listener *wl = &w->listeners[lidx];
	memset(&wl->udp.msg, 0, sizeof(wl->udp.msg));
	/* rounded up so that the control messages after it are aligned */
	wl->udp.msg.msg_namelen = CMSG_ALIGN(sizeof(struct sockaddr_in6));
	wl->udp.msg.msg_controllen = w->rt->udp_gro ? CMSG_SPACE(sizeof(int)) : 0;
	if (w->rt->listeners[lidx].wildcard)
		wl->udp.msg.msg_controllen += CMSG_SPACE(sizeof(struct in6_pktinfo));
}
