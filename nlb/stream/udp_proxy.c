/* UDP flows.  A datagram from a client arrives through a multishot
 * recvmsg on the worker's listening socket (SO_REUSEPORT hashes a
 * client's 4-tuple to the same worker every time) into the worker's UDP
 * buffer ring.  Its tuple finds the flow in the worker's flow table, or a
 * new flow picks a target by the group's algorithm and opens a connected
 * socket to it; the datagram goes out on that socket from the buffer it
 * arrived in.  The target's answers come back through a multishot
 * recvmsg on the flow's socket and leave from the listener's socket, so
 * the client sees the address it wrote to.  A buffer goes back to the
 * ring when the send that carries it completes. */
#include "stream/udp_proxy.h"

#include <errno.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stream/admission.h"
#include "balance/pick.h"
#include "flowtab.h"
#include "health_check.h"
#include "log.h"
#include "balance/target_set.h"
#include "tunables.h"
#include "tuple_hash.h"

enum udp_flow_state {
	UFLOW_FREE = 0,
	UFLOW_OPEN,
	UFLOW_CLOSING,
};

static inline struct udp_flow *uflow_at(struct worker *w, uint32_t idx)
{
	return &w->uchunks[idx / NLB_UDP_FLOW_CHUNK][idx % NLB_UDP_FLOW_CHUNK];
}

static void ubuf_recycle(struct worker *w, uint16_t bid)
{
	nlb_bufring_recycle(&w->ubufs, bid);
	w->ubufs_returned = true;
}

/* ---- flow slots ------------------------------------------------------ */

static int uflow_grow(struct worker *w)
{
	struct udp_flow **chunks = realloc(w->uchunks, (w->n_uchunks + 1) * sizeof(*chunks));
	if (!chunks)
		return -ENOMEM;
	w->uchunks = chunks;
	struct udp_flow *chunk = calloc(NLB_UDP_FLOW_CHUNK, sizeof(*chunk));
	if (!chunk)
		return -ENOMEM;
	chunks[w->n_uchunks++] = chunk;
	uint32_t base = w->n_uslots;
	for (uint32_t i = 0; i < NLB_UDP_FLOW_CHUNK; i++) {
		chunk[i].idx = base + i;
		chunk[i].fd = -1;
		chunk[i].lru_next = i + 1 < NLB_UDP_FLOW_CHUNK ? base + i + 1 : w->ufree_head;
	}
	w->ufree_head = base;
	w->n_uslots += NLB_UDP_FLOW_CHUNK;
	return 0;
}

static struct udp_flow *uflow_alloc(struct worker *w)
{
	if (w->ufree_head == NO_IDX && uflow_grow(w) < 0)
		return NULL;
	struct udp_flow *f = uflow_at(w, w->ufree_head);
	w->ufree_head = f->lru_next;
	f->lru_prev = f->lru_next = NO_IDX;
	f->inflight = f->target_spoke = f->starved = f->has_local = 0;
	f->split_to_target = f->split_to_client = 0;
	return f;
}

static void uflow_free(struct worker *w, struct udp_flow *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	f->gen = (f->gen + 1) & 0xffffff;
	f->state = UFLOW_FREE;
	f->lru_next = w->ufree_head;
	w->ufree_head = f->idx;
}

/* ---- idle order, per listener ---------------------------------------- */

static void ulru_remove(struct worker *w, struct udp_flow *f)
{
	struct worker_listener *l = &w->listeners[f->listener];
	if (f->lru_prev != NO_IDX)
		uflow_at(w, f->lru_prev)->lru_next = f->lru_next;
	else if (l->ulru_head == f->idx)
		l->ulru_head = f->lru_next;
	if (f->lru_next != NO_IDX)
		uflow_at(w, f->lru_next)->lru_prev = f->lru_prev;
	else if (l->ulru_tail == f->idx)
		l->ulru_tail = f->lru_prev;
	f->lru_prev = f->lru_next = NO_IDX;
}

static void ulru_append(struct worker *w, struct udp_flow *f)
{
	struct worker_listener *l = &w->listeners[f->listener];
	f->lru_next = NO_IDX;
	f->lru_prev = l->ulru_tail;
	if (l->ulru_tail != NO_IDX)
		uflow_at(w, l->ulru_tail)->lru_next = f->idx;
	else
		l->ulru_head = f->idx;
	l->ulru_tail = f->idx;
}

static void flow_touch(struct worker *w, struct udp_flow *f)
{
	f->last_ms = w->now_ms;
	if (w->listeners[f->listener].ulru_tail != f->idx) {
		ulru_remove(w, f);
		ulru_append(w, f);
	}
}

/* ---- receiving ---------------------------------------------------------- */

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
	if (wl->ufd < 0 || !w->ubufs.br)
		return;		/* no buffers (udp_worker_sync failed): logged there */
	arm_recv(w, wl->ufd, &wl->udp_msg, ud_pack(OP_UDP_RECV, lidx, 0));
	wl->udp_armed = true;
	wl->udp_starved = false;
}

static void arm_flow(struct worker *w, struct udp_flow *f)
{
	arm_recv(w, f->fd, &w->uflow_msg, ud_pack(OP_UDP_FLOW_RECV, f->idx, f->gen));
	f->inflight = 1;
	f->starved = 0;
}

static void flow_starved(struct worker *w, struct udp_flow *f)
{
	if (w->n_ustarved == w->cap_ustarved) {
		uint32_t cap = w->cap_ustarved ? w->cap_ustarved * 2 : 64;
		uint32_t *n = realloc(w->ustarved, cap * sizeof(*n));
		if (!n)
			return;	/* the flow stays silent until its next datagram re-arms it */
		w->ustarved = n;
		w->cap_ustarved = cap;
	}
	f->starved = 1;
	w->ustarved[w->n_ustarved++] = f->idx;
}

/* A datagram, or a GRO batch: datagrams of gso bytes each from one
 * sender (the last may be shorter), as the kernel coalesced them. */
struct dgram {
	struct io_uring_recvmsg_out *o;
	char *payload;
	unsigned len;
	unsigned gso;		/* 0: one datagram */
	unsigned count;		/* datagrams in it */
};

/* What recvmsg put in buffer bid (res bytes in msg's layout), or false
 * when it is larger than udp_max_datagram (dropped and counted on
 * listener lidx) or malformed. */
static bool datagram(struct worker *w, uint32_t lidx, uint16_t bid, int res, struct msghdr *msg,
		     struct dgram *d)
{
	void *buf = nlb_bufring_addr(&w->ubufs, bid);
	struct io_uring_recvmsg_out *o = io_uring_recvmsg_validate(buf, res, msg);
	if (!o)
		return false;
	d->o = o;
	d->payload = io_uring_recvmsg_payload(o, msg);
	d->len = io_uring_recvmsg_payload_length(o, res, msg);
	d->gso = 0;
	d->count = 1;
	if (w->rt->udp_gro) {
		for (struct cmsghdr *c = io_uring_recvmsg_cmsg_firsthdr(o, msg); c;
		     c = io_uring_recvmsg_cmsg_nexthdr(o, msg, c)) {
			int gso;
			if (c->cmsg_level != SOL_UDP || c->cmsg_type != UDP_GRO)
				continue;
			memcpy(&gso, CMSG_DATA(c), sizeof(gso));
			if (gso > 0 && (unsigned)gso < d->len) {
				d->gso = (unsigned)gso;
				d->count = (d->len + d->gso - 1) / d->gso;
				STAT_INC(wstats(w, lidx), udp_gro_batches);
			}
		}
	}
	if ((o->flags & MSG_TRUNC) || (!d->gso && d->len > w->udp_max_datagram)) {
		STAT_INC(wstats(w, lidx), udp_too_big);
		nlb_debug_rl("udp: dropped a datagram of %u bytes (at most %u are forwarded)",
			  o->payloadlen, w->udp_max_datagram);
		return false;
	}
	return true;
}

/* Appends a control message at *off in buf; the caller sized buf. */
static void put_cmsg(char *buf, size_t *off, int level, int type, const void *data, size_t len)
{
	struct cmsghdr *cm = (struct cmsghdr *)(buf + *off);
	cm->cmsg_level = level;
	cm->cmsg_type = type;
	cm->cmsg_len = CMSG_LEN(len);
	memcpy(CMSG_DATA(cm), data, len);
	*off += CMSG_SPACE(len);
}

/* Sends a batch one datagram at a time, at once: the kernel refuses a
 * GSO send whose segments exceed the path MTU, where plain sends are
 * fragmented instead.  That is rare (a client on a jumbo-frame link, a
 * target behind a narrower one), so this is one sendmmsg per 64
 * datagrams rather than ring operations sharing a buffer.  tmpl gives
 * the address and control messages, or NULL on a connected socket;
 * failures count on listener lidx. */
static void send_split(struct worker *w, uint32_t lidx, int fd, const struct msghdr *tmpl,
		       char *payload, unsigned len, unsigned gso, const struct udp_flow *pp)
{
	struct mmsghdr mm[64];
	struct iovec iov[64][2];
	unsigned off = 0;
	while (off < len) {
		unsigned n = 0;
		for (; n < 64 && off < len; n++) {
			unsigned seg = len - off < gso ? len - off : gso;
			struct iovec *v = iov[n];
			if (pp) {
				v->iov_base = (void *)pp->pp_hdr;
				v++->iov_len = pp->pp_len;
			}
			v->iov_base = payload + off;
			v->iov_len = seg;
			memset(&mm[n], 0, sizeof(mm[n]));
			if (tmpl)
				mm[n].msg_hdr = *tmpl;
			mm[n].msg_hdr.msg_iov = iov[n];
			mm[n].msg_hdr.msg_iovlen = pp ? 2 : 1;
			off += seg;
		}
		int sent = sendmmsg(fd, mm, n, MSG_DONTWAIT);
		if (sent < (int)n)
			STAT_ADD(wstats(w, lidx), udp_send_error,
				 n - (unsigned)(sent > 0 ? sent : 0));
	}
}

/* ---- flows -------------------------------------------------------------- */

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
	    nlb_flowtab_lookup(w->uflows, &key, f->key_hash, w->now_ms, &v) == 0 && v == f->idx)
		nlb_flowtab_remove(w->uflows, &key, f->key_hash);
	ulru_remove(w, f);
	pick_conn_add(w->rt, w->id, f->group, f->target, -1);
	admission_release(w, f->listener, f->src_slot);
	atomic_fetch_sub_explicit(&w->rt->listeners[f->listener].udp_flows, 1,
				  memory_order_relaxed);
	STAT_DEC(wstats(w, f->listener), udp_flows_active);
	f->state = UFLOW_CLOSING;
	if (!f->inflight) {
		uflow_free(w, f);
		return;
	}
	struct io_uring_sqe *sqe = nlb_ring_sqe(&w->ring);
	io_uring_prep_cancel64(sqe, ud_pack(OP_UDP_FLOW_RECV, f->idx, f->gen), 0);
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
	if (nlb_flowtab_count(w->uflows) >= nlb_flowtab_capacity(w->uflows) &&
	    (udp_worker_sync(w) < 0 ||
	     nlb_flowtab_count(w->uflows) >= nlb_flowtab_capacity(w->uflows))) {
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
	    !(f = uflow_alloc(w))) {
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
	nlb_flowtab_insert(w->uflows, key, key_hash, f->idx, w->now_ms);
	ulru_append(w, f);
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

static struct udp_send_ctx *uctx_get(struct worker *w, uint32_t *idx)
{
	if (w->uctx_free == NO_IDX)
		return NULL;
	*idx = w->uctx_free;
	struct udp_send_ctx *c = w->uctx[*idx];
	w->uctx_free = c->next_free;
	return c;
}

static void uctx_put(struct worker *w, uint32_t idx)
{
	w->uctx[idx]->next_free = w->uctx_free;
	w->uctx_free = idx;
}

/* Readies c to carry d (from buffer bid, on flow f) as one sendmsg. */
static void uctx_fill(struct udp_send_ctx *c, const struct udp_flow *f, uint16_t bid,
		      const struct dgram *d, bool to_client)
{
	memset(&c->msg, 0, sizeof(c->msg));
	c->iov[0].iov_base = d->payload;
	c->iov[0].iov_len = d->len;
	c->msg.msg_iov = c->iov;
	c->msg.msg_iovlen = 1;
	c->flow = f->idx;
	c->gen = f->gen;
	c->listener = f->listener;
	c->bid = bid;
	c->gso = (uint16_t)d->gso;
	c->to_client = to_client;
}

/* Adds the UDP_SEGMENT control message that makes c's batch leave as
 * the datagrams it arrived as. */
static void uctx_add_gso(struct udp_send_ctx *c)
{
	size_t off = c->msg.msg_controllen;
	uint16_t gso = c->gso;
	put_cmsg(c->ctl.buf, &off, SOL_UDP, UDP_SEGMENT, &gso, sizeof(gso));
	c->msg.msg_control = c->ctl.buf;
	c->msg.msg_controllen = off;
}

/* A datagram or batch from a client on listener lidx, in buffer bid. */
static void on_client_datagram(struct worker *w, uint32_t lidx, uint16_t bid, int res)
{
	struct worker_listener *wl = &w->listeners[lidx];
	struct dgram d;
	struct nlb_tuple key;
	if (!datagram(w, lidx, bid, res, &wl->udp_msg, &d) ||
	    flow_tuple(w, lidx, io_uring_recvmsg_name(d.o), &key) < 0) {
		ubuf_recycle(w, bid);
		return;
	}
	uint64_t kh = nlb_tuple_hash(&key, 0, NLB_HASH_5TUPLE);
	struct udp_flow *f = NULL;
	uint32_t v;
	if (nlb_flowtab_lookup(w->uflows, &key, kh, w->now_ms, &v) == 0 && v < w->n_uslots) {
		f = uflow_at(w, v);
		if (f->state != UFLOW_OPEN) {
			f = NULL;
		} else if (!flow_keeps_target(w, f)) {
			STAT_INC(wstats(w, lidx), udp_moved);
			flow_close(w, f);
			f = NULL;
		}
	}
	if (!f)
		f = flow_open(w, lidx, &key, kh, d.o, &wl->udp_msg);
	if (!f) {
		ubuf_recycle(w, bid);
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
		io_uring_sqe_set_data64(sqe, ud_pack(OP_UDP_SEND_T, bid, lidx));
		return;
	}
	uint32_t ci;
	struct udp_send_ctx *c = NULL;
	/* A batch whose datagrams each need a PROXY header cannot go as one
	 * GSO send; nor can one the path refused as such. */
	bool split = d.count > 1 && (f->split_to_target || f->pp_len);
	if (split || !(c = uctx_get(w, &ci))) {
		/* Without a context it still goes, only not through the ring. */
		send_split(w, lidx, f->fd, NULL, d.payload, d.len, d.gso ? d.gso : d.len,
			   f->pp_len ? f : NULL);
		if (split && !f->pp_len)
			STAT_INC(wstats(w, lidx), udp_gso_split);
		ubuf_recycle(w, bid);
		return;
	}
	uctx_fill(c, f, bid, &d, false);
	if (f->pp_len) {
		c->iov[1] = c->iov[0];
		c->iov[0].iov_base = f->pp_hdr;
		c->iov[0].iov_len = f->pp_len;
		c->msg.msg_iovlen = 2;
	} else {
		uctx_add_gso(c);
	}
	sqe = nlb_ring_sqe(&w->ring);
	io_uring_prep_sendmsg(sqe, f->fd, &c->msg, 0);
	io_uring_sqe_set_data64(sqe, ud_pack(OP_UDP_SENDMSG, ci, 0));
}

/* An answer (or batch) from f's target in buffer bid: back to the client
 * from the listener's socket (and, bound to a wildcard, from the address
 * the client wrote to). */
static void on_target_datagram(struct worker *w, struct udp_flow *f, uint16_t bid, int res)
{
	struct dgram d;
	struct worker_listener *wl = &w->listeners[f->listener];
	uint32_t ci;
	struct udp_send_ctx *c;
	struct worker_stats *st = wstats(w, f->listener);
	if (!datagram(w, f->listener, bid, res, &w->uflow_msg, &d) || wl->ufd < 0) {
		ubuf_recycle(w, bid);
		return;
	}
	if (!(c = uctx_get(w, &ci))) {
		STAT_INC(st, udp_nomem);
		ubuf_recycle(w, bid);
		return;
	}
	if (!f->target_spoke) {
		f->target_spoke = 1;
		pick_live_result(w->rt, w->id, f->group, f->target, true);
	}
	flow_touch(w, f);
	STAT_ADD(st, udp_out, d.count);
	STAT_ADD(st, bytes_out, d.len);
	uctx_fill(c, f, bid, &d, true);
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
			put_cmsg(c->ctl.buf, &off, IPPROTO_IP, IP_PKTINFO, &pi, sizeof(pi));
		} else {
			struct in6_pktinfo pi;
			memset(&pi, 0, sizeof(pi));
			pi.ipi6_addr = f->local;
			put_cmsg(c->ctl.buf, &off, IPPROTO_IPV6, IPV6_PKTINFO, &pi, sizeof(pi));
		}
		c->msg.msg_control = c->ctl.buf;
		c->msg.msg_controllen = off;
	}
	if (d.count > 1 && f->split_to_client) {
		STAT_INC(st, udp_gso_split);
		send_split(w, f->listener, wl->ufd, &c->msg, d.payload, d.len, d.gso, NULL);
		uctx_put(w, ci);
		ubuf_recycle(w, bid);
		return;
	}
	if (d.count > 1)
		uctx_add_gso(c);
	struct io_uring_sqe *sqe = nlb_ring_sqe(&w->ring);
	io_uring_prep_sendmsg(sqe, wl->ufd, &c->msg, 0);
	io_uring_sqe_set_data64(sqe, ud_pack(OP_UDP_SENDMSG, ci, 0));
}

static void on_listener_recv(struct worker *w, const struct io_uring_cqe *cqe)
{
	uint32_t lidx = ud_idx(cqe->user_data);
	struct worker_listener *wl = &w->listeners[lidx];
	if (cqe->flags & IORING_CQE_F_BUFFER)
		on_client_datagram(w, lidx, (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT),
				   cqe->res);
	if (cqe->flags & IORING_CQE_F_MORE)
		return;
	wl->udp_armed = false;
	if (w->stopping || wl->ufd < 0)
		return;
	if (cqe->res == -ENOBUFS)
		wl->udp_starved = true;	/* datagrams wait in the socket meanwhile */
	else
		udp_arm_listener(w, lidx);
}

static void on_flow_recv(struct worker *w, const struct io_uring_cqe *cqe)
{
	uint32_t idx = ud_idx(cqe->user_data);
	bool buf = cqe->flags & IORING_CQE_F_BUFFER;
	uint16_t bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
	struct udp_flow *f = idx < w->n_uslots ? uflow_at(w, idx) : NULL;
	if (!f || f->gen != ud_gen(cqe->user_data) || f->state == UFLOW_FREE) {
		if (buf)
			ubuf_recycle(w, bid);
		return;
	}
	bool more = cqe->flags & IORING_CQE_F_MORE;
	if (!more)
		f->inflight = 0;
	if (f->state == UFLOW_CLOSING) {
		if (buf)
			ubuf_recycle(w, bid);
		if (!more)
			uflow_free(w, f);
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
	ubuf_recycle(w, bid);
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
	struct udp_flow *f = c->flow < w->n_uslots ? uflow_at(w, c->flow) : NULL;
	bool refused = res == -EINVAL || res == -EMSGSIZE || res == -EIO;
	if (c->gso && refused && f && f->gen == c->gen && f->state == UFLOW_OPEN) {
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
			if (wl->ufd >= 0)
				send_split(w, c->listener, wl->ufd, &c->msg, payload, len,
					   c->gso, NULL);
		} else {
			f->split_to_target = 1;
			send_split(w, c->listener, f->fd, NULL, payload, len, c->gso, NULL);
		}
		res = 0;
	}
	on_send_done(w, c->listener, c->bid, res);
}

void udp_complete(struct worker *w, const struct io_uring_cqe *cqe)
{
	uint32_t idx = ud_idx(cqe->user_data);
	switch (ud_op(cqe->user_data)) {
	case OP_UDP_RECV:
		on_listener_recv(w, cqe);
		break;
	case OP_UDP_FLOW_RECV:
		on_flow_recv(w, cqe);
		break;
	case OP_UDP_SEND_T:
		on_send_done(w, ud_gen(cqe->user_data), (uint16_t)idx, cqe->res);
		break;
	case OP_UDP_SENDMSG:
		if (idx < w->n_uctx) {
			on_sendmsg_done(w, w->uctx[idx], cqe->res);
			uctx_put(w, idx);
		}
		break;
	default:
		break;
	}
}

void udp_rearm_starved(struct worker *w)
{
	if (!w->ubufs_returned)
		return;
	w->ubufs_returned = false;
	for (size_t l = 0; l < w->rt->cfg->n_listeners; l++)
		if (w->listeners[l].udp_starved && !w->stopping)
			udp_arm_listener(w, (uint32_t)l);
	uint32_t n = w->n_ustarved;
	w->n_ustarved = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct udp_flow *f = uflow_at(w, w->ustarved[i]);
		if (f->state == UFLOW_OPEN && f->starved && !f->inflight)
			arm_flow(w, f);
		else if (f->state == UFLOW_CLOSING && !f->inflight)
			uflow_free(w, f);
	}
}

void udp_tick(struct worker *w)
{
	if (!w->uflows)
		return;
	for (size_t l = 0; l < w->rt->cfg->n_listeners; l++) {
		struct worker_listener *wl = &w->listeners[l];
		while (wl->ulru_head != NO_IDX) {
			struct udp_flow *f = uflow_at(w, wl->ulru_head);
			if (f->last_ms + wl->udp_idle_ms > w->now_ms)
				break;
			STAT_INC(wstats(w, (uint32_t)l), udp_expired);
			flow_close(w, f);
		}
	}
}

void udp_reset_drained(struct worker *w)
{
	for (uint32_t i = 0; i < w->n_uslots; i++) {
		struct udp_flow *f = uflow_at(w, i);
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
static int uflows_resize(struct worker *w, size_t capacity)
{
	struct nlb_flowtab *t;
	int ret = nlb_flowtab_create(&t, capacity);
	if (ret < 0)
		return ret;
	for (uint32_t i = 0; w->uflows && i < w->n_uslots; i++) {
		struct udp_flow *f = uflow_at(w, i);
		struct nlb_tuple key;
		if (f->state == UFLOW_OPEN &&
		    flow_tuple(w, f->listener, (const struct sockaddr *)&f->client, &key) == 0)
			nlb_flowtab_insert(t, &key, f->key_hash, f->idx, w->now_ms);
	}
	if (w->uflows)
		nlb_flowtab_destroy(w->uflows);
	w->uflows = t;
	return 0;
}

static void uctx_free_all(struct worker *w)
{
	for (uint32_t i = 0; i < w->n_uctx; i++)
		free(w->uctx[i]);
	free(w->uctx);
	w->uctx = NULL;
	w->n_uctx = 0;
	w->uctx_free = NO_IDX;
}

/* The buffer ring and the send contexts, once some listener is UDP. */
static int ubufs_init(struct worker *w)
{
	/* Payload room for the largest datagram, or GRO batch, after the
	 * recvmsg header, the address and the control messages. */
	unsigned room = w->rt->udp_gro ? NLB_UDP_GRO_MAX : w->udp_max_datagram;
	/* a multiple of 64: each buffer's control messages stay aligned */
	unsigned size = (room + NLB_UDP_BUF_HEADROOM + 63) & ~63u;
	unsigned count = size > 16384 ? NLB_UDP_BUF_COUNT_LARGE : NLB_UDP_BUF_COUNT;
	/* Every context holds a buffer while in use: never more than these. */
	w->uctx = calloc(count, sizeof(*w->uctx));
	if (!w->uctx)
		return -ENOMEM;
	for (uint32_t i = 0; i < count; i++) {
		if (!(w->uctx[i] = calloc(1, sizeof(**w->uctx)))) {
			uctx_free_all(w);
			return -ENOMEM;
		}
		w->n_uctx = i + 1;
		w->uctx[i]->next_free = w->uctx_free;
		w->uctx_free = i;
	}
	int ret = nlb_bufring_init(&w->ring, &w->ubufs, NLB_UDP_BUF_GROUP, count, size);
	if (ret < 0)
		uctx_free_all(w);
	return ret;
}

int udp_worker_sync(struct worker *w)
{
	const struct nlb_config *cfg = w->rt->cfg;
	/* Room for every flow the listeners allow, and for those still open
	 * on listeners a reload removed. */
	uint64_t flows = 0;
	for (size_t l = 0; l < cfg->n_listeners; l++) {
		const struct nlb_listener_conf *lc = &cfg->listeners[l];
		if (lc->protocol == NLB_PROTO_TCP)
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
	if (!w->uflows || nlb_flowtab_capacity(w->uflows) < flows)
		ret = uflows_resize(w, (size_t)flows);
	if (ret == 0 && !w->ubufs.br)
		ret = ubufs_init(w);
	return ret;
}

void udp_listener_init(struct worker *w, uint32_t lidx)
{
	struct worker_listener *wl = &w->listeners[lidx];
	memset(&wl->udp_msg, 0, sizeof(wl->udp_msg));
	/* rounded up so that the control messages after it are aligned */
	wl->udp_msg.msg_namelen = CMSG_ALIGN(sizeof(struct sockaddr_in6));
	wl->udp_msg.msg_controllen = w->rt->udp_gro ? CMSG_SPACE(sizeof(int)) : 0;
	if (w->rt->listeners[lidx].wildcard)
		wl->udp_msg.msg_controllen += CMSG_SPACE(sizeof(struct in6_pktinfo));
}

int udp_worker_init(struct worker *w)
{
	const struct nlb_config *cfg = w->rt->cfg;
	w->ufree_head = NO_IDX;
	w->uctx_free = NO_IDX;
	w->udp_max_datagram = cfg->udp_max_datagram;
	memset(&w->uflow_msg, 0, sizeof(w->uflow_msg));
	w->uflow_msg.msg_controllen = w->rt->udp_gro ? CMSG_SPACE(sizeof(int)) : 0;
	for (size_t l = 0; l < cfg->n_listeners; l++)
		udp_listener_init(w, (uint32_t)l);
	_Static_assert(sizeof(struct io_uring_recvmsg_out) + CMSG_ALIGN(sizeof(struct sockaddr_in6)) +
		       CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(int)) <=
		       NLB_UDP_BUF_HEADROOM, "recvmsg's headroom fits in NLB_UDP_BUF_HEADROOM");
	return udp_worker_sync(w);
}

void udp_worker_free(struct worker *w)
{
	for (uint32_t i = 0; i < w->n_uchunks; i++) {
		for (uint32_t k = 0; k < NLB_UDP_FLOW_CHUNK; k++)
			if (w->uchunks[i][k].fd >= 0)
				close(w->uchunks[i][k].fd);
		free(w->uchunks[i]);
	}
	free(w->uchunks);
	w->uchunks = NULL;
	uctx_free_all(w);
	free(w->ustarved);
	w->ustarved = NULL;
	if (w->uflows)
		nlb_flowtab_destroy(w->uflows);
	w->uflows = NULL;
	if (w->ubufs.br)
		nlb_bufring_free(&w->ring, &w->ubufs);
}
