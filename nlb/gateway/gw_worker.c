/* Gateway mode as a protocol module of the worker loop (core/proto-t.h),
 * and its data path (doc/gateway.md).  A packet the TUN queue gives this
 * worker is read behind room for the GENEVE header, its flow found (or an
 * appliance picked for it), the header written in front of it and the
 * whole sent to the appliance from this worker's GENEVE socket at the
 * end of the batch of completions, packets of one size to one appliance
 * together as one GSO send; a buffer is read into again once its send
 * completed.  A packet an appliance returns reaches the worker that owns
 * its flow (the cookie's first byte names it, and a reuseport program
 * steers on it: core/listener.c), is checked against the flow, and its
 * inner packet is written to the TUN; with one worker the socket takes
 * GRO batches, each packet of one checked and written alike.  No
 * allocation per packet. */
#include "gateway/gw_worker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/udp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "geneve.h"
#include "ip_packet.h"
#include "log.h"
#include "spsc_ring.h"
#include "tun.h"
#include "udp_batch.h"
#include "balance/pick.h"
#include "balance/target_set.h"
#include "core/worker.h"

/* Flow expiry examines at most this many flows per table per tick. */
#define GW_EXPIRE_WORK 4096

static inline uint64_t gw_ud(unsigned op, uint32_t l, uint32_t b)
{
	return ud_pack(op, l << 16 | b, 0);
}

static const struct nlb_listener_conf *gw_conf(struct worker *w, uint32_t l)
{
	return w->rt->listeners[l].conf;
}

static bool is_gateway(struct worker *w, uint32_t l)
{
	return gw_conf(w, l)->protocol == NLB_PROTO_GATEWAY;
}

static void arm_tun_read(struct worker *w, uint32_t l, uint32_t b)
{
	struct gw_listener *g = w->listeners[l].gw;
	if (g->closing || g->tun_fd < 0)
		return;
	struct io_uring_sqe *sqe = nlb_ring_sqe(&w->ring);
	io_uring_prep_read(sqe, g->tun_fd, g->out[b].data + NLB_GENEVE_AWS_LEN,
			   GW_BUF_SIZE - NLB_GENEVE_AWS_LEN, 0);
	io_uring_sqe_set_data64(sqe, gw_ud(GW_OP_TUN_READ, l, b));
	g->out[b].busy = true;
	g->inflight++;
}

/* The one multishot receive of the gateway's socket, into its buffer
 * ring. */
static void arm_recv(struct worker *w, uint32_t l)
{
	struct gw_listener *g = w->listeners[l].gw;
	if (g->closing || g->udp_fd < 0 || g->recv_armed)
		return;
	struct io_uring_sqe *sqe = nlb_ring_sqe(&w->ring);
	io_uring_prep_recvmsg_multishot(sqe, g->udp_fd, &g->rmsg, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = (uint16_t)g->rbufs.bgid;
	io_uring_sqe_set_data64(sqe, gw_ud(GW_OP_RECV, l, 0));
	g->recv_armed = true;
	g->starved = false;
	g->inflight++;
}

/* The flow table of a packet's flow: TCP's idle timeout is not the
 * others'. */
static struct nlb_flowtab *table_of(struct gw_listener *g, const struct nlb_ip_packet *p)
{
	return p->flow.proto == IPPROTO_TCP ? g->tcp : g->other;
}

/* A packet's flow under the gateway's stickiness: its key into *key, and
 * the key's hash under the group's seed. */
static uint64_t flow_of(struct worker *w, const struct nlb_listener_conf *lc,
			const struct nlb_ip_packet *p, struct nlb_tuple *key)
{
	nlb_ip_flow_key(p, (enum nlb_gw_stickiness)lc->gw.stickiness, key);
	return nlb_tuple_hash(key, w->rt->groups[lc->group].conf->hash_seed, NLB_HASH_5TUPLE);
}

/* A flow's GENEVE cookie: this worker (the byte returns are steered on),
 * then 24 bits of the flow's hash (doc/gateway.md). */
static uint32_t cookie_of(const struct worker *w, uint64_t hash)
{
	return (uint32_t)w->id << 24 | (uint32_t)(hash & 0xffffff);
}

/* May a flow stay with appliance t?  As the GWLB's target_failover: a
 * deregistered appliance keeps its flows through the deregistration
 * delay (draining), and they move once it has passed; an unhealthy one
 * keeps them with no_rebalance, and loses them at once with rebalance. */
static bool flow_keeps(struct worker *w, const struct nlb_listener_conf *lc, uint32_t t)
{
	enum target_state st = target_state(w->rt, lc->group, t);
	if (st == TARGET_FREE || st == TARGET_DRAIN_CLOSING)
		return false;
	if (st == TARGET_DRAINING || lc->gw.failover == NLB_GW_NO_REBALANCE)
		return true;
	return pick_eligible(w->rt, lc->group, t, 0);
}

/* Where an ICMP answer to `to` (as struct nlb_tuple holds addresses)
 * comes from: the gateway's address, when it is of to's family and not a
 * wildcard; otherwise the address this host would send to `to` from, as
 * the kernel answers from a router's own address (a route lookup: a UDP
 * socket connected, never used).  0, or -errno. */
static int icmp_source(const struct nlb_listener_conf *lc, const uint8_t to[16], bool v4,
		       uint8_t src[16])
{
	struct nlb_tuple self;
	if ((lc->addr.ss.ss_family == AF_INET) == v4 && !nlb_addr_wildcard(&lc->addr) &&
	    nlb_tuple_from_sockaddr(&self, (const struct sockaddr *)&lc->addr.ss, NULL, 0) == 0) {
		memcpy(src, self.src, 16);
		return 0;
	}
	struct sockaddr_storage ss = { 0 };
	socklen_t sl;
	if (v4) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons(9);
		memcpy(&a->sin_addr, to + 12, 4);
		sl = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(9);
		memcpy(&a->sin6_addr, to, 16);
		sl = sizeof(*a);
	}
	int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int r = connect(fd, (struct sockaddr *)&ss, sl) < 0 ||
		getsockname(fd, (struct sockaddr *)&ss, &sl) < 0 ? -errno : 0;
	close(fd);
	if (r == 0)
		r = nlb_tuple_from_sockaddr(&self, (const struct sockaddr *)&ss, NULL, 0);
	if (r == 0)
		memcpy(src, self.src, 16);
	return r;
}

/* A TCP packet over the MTU: the sender is told so (ICMP fragmentation
 * needed, or packet too big) for its path MTU discovery; one answer at
 * a time, the rest only counted. */
static void too_big(struct worker *w, uint32_t l, const uint8_t *pkt, size_t len,
		    const struct nlb_ip_packet *p)
{
	struct gw_listener *g = w->listeners[l].gw;
	if (g->icmp.busy || g->closing || g->tun_fd < 0)
		return;
	/* a TCP packet's flow, as nlb_ip_packet gives it, is its own */
	uint8_t src[16];
	if (icmp_source(gw_conf(w, l), p->flow.src, p->version == 4, src) < 0)
		return;		/* no address to answer from */
	int n = nlb_icmp_too_big(pkt, len, NLB_TUN_MTU, src, g->icmp.data, GW_BUF_SIZE);
	if (n < 0)
		return;
	struct io_uring_sqe *sqe = nlb_ring_sqe(&w->ring);
	io_uring_prep_write(sqe, g->tun_fd, g->icmp.data, (unsigned)n, 0);
	io_uring_sqe_set_data64(sqe, gw_ud(GW_OP_ICMP_WRITE, l, 0));
	g->icmp.busy = true;
	g->inflight++;
}

static void on_icmp_write(struct worker *w, const struct io_uring_cqe *cqe)
{
	uint32_t l = ud_idx(cqe->user_data) >> 16;
	struct gw_listener *g = w->listeners[l].gw;
	g->inflight--;
	g->icmp.busy = false;
	if (cqe->res < 0)
		STAT_INC(wstats(w, l), gw_tun_error);
	else
		STAT_INC(wstats(w, l), gw_icmp_too_big);
}

static void on_tun_read(struct worker *w, const struct io_uring_cqe *cqe)
{
	uint32_t l = ud_idx(cqe->user_data) >> 16, b = ud_idx(cqe->user_data) & 0xffff;
	struct gw_listener *g = w->listeners[l].gw;
	g->inflight--;
	g->out[b].busy = false;
	if (cqe->res <= 0) {
		if (cqe->res != -ECANCELED && cqe->res != -EBADF && cqe->res != 0)
			arm_tun_read(w, l, b);
		return;
	}
	const struct nlb_listener_conf *lc = gw_conf(w, l);
	struct worker_stats *st = wstats(w, l);
	uint8_t *pkt = g->out[b].data + NLB_GENEVE_AWS_LEN;
	size_t len = (size_t)cqe->res;
	struct nlb_ip_packet p;
	if (nlb_ip_packet_parse(pkt, len, &p) < 0) {
		STAT_INC(st, gw_bad_packet);
		arm_tun_read(w, l, b);
		return;
	}
	if (len > NLB_TUN_MTU) {
		STAT_INC(st, gw_too_big);
		if (p.flow.proto == IPPROTO_TCP && !p.icmp_error)
			too_big(w, l, pkt, len, &p);
		arm_tun_read(w, l, b);
		return;
	}
	struct nlb_tuple key;
	uint64_t hash = flow_of(w, lc, &p, &key);
	struct nlb_flowtab *tab = table_of(g, &p);
	uint32_t t;
	if (nlb_flowtab_lookup(tab, &key, hash, w->now_ms, &t) < 0 || !flow_keeps(w, lc, t)) {
		int pick = pick_target(w->rt, &w->pick, lc->group, hash, 0, 0);
		if (pick < 0) {
			STAT_INC(st, gw_no_target);
			arm_tun_read(w, l, b);
			return;
		}
		t = (uint32_t)pick;
		nlb_flowtab_insert(tab, &key, hash, t, w->now_ms);
		STAT_INC(st, gw_flows);
	}
	struct nlb_geneve_aws hdr = {
		.protocol = p.version == 4 ? NLB_GENEVE_PROTO_IPV4 : NLB_GENEVE_PROTO_IPV6,
		.endpoint_id = lc->gw.endpoint_id,
		.attachment_id = lc->gw.attachment_id,
		.cookie = cookie_of(w, hash),
	};
	struct gw_buf *x = &g->out[b];
	nlb_geneve_write(x->data, &hdr);
	const struct target_rt *tr = target_at(w->rt, lc->group, t);
	memcpy(&x->peer, &tr->addr.ss, tr->addr.len);
	x->peer_len = tr->addr.len;
	x->target = t;
	x->len = (uint16_t)(NLB_GENEVE_AWS_LEN + len);
	x->busy = true;
	g->pending[g->n_pending++] = (uint8_t)b;
}

/* The packets read in this batch of completions leave: those of one
 * appliance and one size together as GSO sends (lib/udp_batch.h). */
static void send_pending(struct worker *w, uint32_t l)
{
	struct gw_listener *g = w->listeners[l].gw;
	size_t n = g->n_pending;
	g->n_pending = 0;
	if (g->closing || g->udp_fd < 0) {
		for (size_t i = 0; i < n; i++)
			g->out[g->pending[i]].busy = false;
		return;
	}
	uint64_t dest[GW_BUFS];
	uint16_t len[GW_BUFS], order[GW_BUFS];
	struct nlb_gso_send plan[GW_BUFS];
	for (size_t i = 0; i < n; i++) {
		const struct gw_buf *x = &g->out[g->pending[i]];
		/* one that must go alone has a destination of its own */
		bool alone = x->alone || x->len > g->gso_max;
		dest[i] = alone ? 1ull << 32 | g->pending[i] : x->target;
		len[i] = x->len;
	}
	size_t ns = nlb_gso_plan(dest, len, n, order, plan);
	unsigned s = 0;
	for (size_t k = 0; k < ns; k++) {
		while (g->sends[s].busy)
			s++;	/* each busy one holds a buffer: one is free */
		struct gw_send *x = &g->sends[s];
		x->n = (uint8_t)plan[k].count;
		for (unsigned i = 0; i < x->n; i++) {
			uint8_t b = g->pending[order[plan[k].first + i]];
			x->buf[i] = b;
			x->iov[i] = (struct iovec){ g->out[b].data, g->out[b].len };
		}
		struct gw_buf *head = &g->out[x->buf[0]];
		x->msg = (struct msghdr){ .msg_name = &head->peer, .msg_namelen = head->peer_len,
					  .msg_iov = x->iov, .msg_iovlen = x->n };
		if (x->n > 1) {
			size_t off = 0;
			uint16_t segment = plan[k].segment;
			nlb_cmsg_put(x->ctl.buf, &off, SOL_UDP, UDP_SEGMENT, &segment,
				     sizeof(segment));
			x->msg.msg_control = x->ctl.buf;
			x->msg.msg_controllen = off;
		}
		struct io_uring_sqe *sqe = nlb_ring_sqe(&w->ring);
		io_uring_prep_sendmsg(sqe, g->udp_fd, &x->msg, 0);
		io_uring_sqe_set_data64(sqe, gw_ud(GW_OP_SEND, l, s));
		x->busy = true;
		g->inflight++;
	}
}

/* A send ended.  A GSO send the kernel refused whole (EINVAL or
 * EMSGSIZE: segments above the path MTU, where single packets would be
 * fragmented; EIO: no checksum offload) goes again a packet at a time,
 * and so do later packets as long (gso_max). */
static void on_send(struct worker *w, const struct io_uring_cqe *cqe)
{
	uint32_t l = ud_idx(cqe->user_data) >> 16, s = ud_idx(cqe->user_data) & 0xffff;
	struct gw_listener *g = w->listeners[l].gw;
	struct gw_send *x = &g->sends[s];
	struct worker_stats *st = wstats(w, l);
	g->inflight--;
	x->busy = false;
	int res = cqe->res;
	if (x->n > 1 && (res == -EINVAL || res == -EMSGSIZE || res == -EIO)) {
		STAT_INC(st, gw_gso_split);
		uint16_t segment = g->out[x->buf[0]].len;
		if (segment <= g->gso_max)
			g->gso_max = (uint16_t)(segment - 1);
		for (unsigned i = 0; i < x->n; i++) {
			g->out[x->buf[i]].alone = true;
			g->pending[g->n_pending++] = x->buf[i];
		}
		return;
	}
	if (res < 0)
		STAT_ADD(st, gw_send_error, x->n);
	else
		STAT_ADD(st, gw_to_appliance, x->n);
	if (res >= 0 && x->n > 1)
		STAT_ADD(st, gw_batched_out, x->n);
	for (unsigned i = 0; i < x->n; i++) {
		struct gw_buf *b = &g->out[x->buf[i]];
		b->busy = b->alone = false;
		arm_tun_read(w, l, x->buf[i]);
	}
}

/* One returned packet (len bytes at data) from `from`: checked against
 * its flow, which is taken up if this worker does not hold it; the
 * offset of its inner packet, or -1 (dropped and counted). */
static int check_return(struct worker *w, uint32_t l, const uint8_t *data, size_t len,
			const struct sockaddr *from)
{
	struct gw_listener *g = w->listeners[l].gw;
	const struct nlb_listener_conf *lc = gw_conf(w, l);
	struct worker_stats *st = wstats(w, l);
	struct nlb_geneve_aws hdr;
	enum nlb_geneve_error why;
	int off = nlb_geneve_parse(data, len, &hdr, &why);
	struct nlb_ip_packet p;
	if (off < 0 || nlb_ip_packet_parse(data + off, len - (size_t)off, &p) < 0 ||
	    hdr.endpoint_id != lc->gw.endpoint_id || hdr.attachment_id != lc->gw.attachment_id) {
		STAT_INC(st, gw_bad_geneve);
		return -1;
	}
	struct nlb_tuple key;
	uint64_t hash = flow_of(w, lc, &p, &key);
	/* The cookie's flow bits must be the packet's flow's; its worker
	 * byte only steered it here. */
	if ((hdr.cookie ^ cookie_of(w, hash)) & 0xffffff) {
		STAT_INC(st, gw_unknown_flow);
		return -1;
	}
	struct nlb_flowtab *tab = table_of(g, &p);
	uint32_t t;
	if (nlb_flowtab_lookup(tab, &key, hash, w->now_ms, &t) < 0) {
		/* A flow this worker does not hold: another nlb's, before or
		 * after a binary upgrade, or one its table let go.  Taken up
		 * when it comes from the appliance the group picks for it. */
		int pick = pick_target(w->rt, &w->pick, lc->group, hash, 0, 0);
		if (pick < 0 || !from ||
		    !nlb_sockaddr_equal(from, (const struct sockaddr *)
					&target_at(w->rt, lc->group, (uint32_t)pick)->addr.ss)) {
			STAT_INC(st, gw_unknown_flow);
			return -1;
		}
		t = (uint32_t)pick;
		nlb_flowtab_insert(tab, &key, hash, t, w->now_ms);
		STAT_INC(st, gw_flows_adopted);
	}
	const struct nlb_addr *appliance = &target_at(w->rt, lc->group, t)->addr;
	if (!from || !nlb_sockaddr_equal(from, (const struct sockaddr *)&appliance->ss)) {
		STAT_INC(st, gw_wrong_appliance);
		return -1;
	}
	return off;
}

/* One returned packet, of a datagram from `from`: checked, and its
 * inner packet written to the TUN from where it lies in receive buffer
 * bid (false: dropped). */
static bool return_one(struct worker *w, uint32_t l, uint8_t *data, size_t len,
		       const struct sockaddr *from, unsigned bid)
{
	struct gw_listener *g = w->listeners[l].gw;
	int off = check_return(w, l, data, len, from);
	if (off < 0)
		return false;
	struct io_uring_sqe *sqe = nlb_ring_sqe(&w->ring);
	io_uring_prep_write(sqe, g->tun_fd, data + off, (unsigned)(len - (size_t)off), 0);
	io_uring_sqe_set_data64(sqe, gw_ud(GW_OP_TUN_WRITE, l, bid));
	g->inflight++;
	return true;
}

/* Ring `from` -> `to` of gateway l's hand-offs; made (by its writer,
 * `from`) when make and there is none yet, else NULL. */
static struct nlb_spsc_ring *handoff_ring(struct worker *w, uint32_t l, unsigned from,
					  unsigned to, bool make)
{
	_Atomic(struct nlb_spsc_ring *) *slot =
		&w->rt->listeners[l].gw_handoff[(size_t)from * w->rt->n_workers + to];
	struct nlb_spsc_ring *r = atomic_load_explicit(slot, memory_order_acquire);
	if (r || !make)
		return r;
	if (!(r = malloc(sizeof(*r))) || nlb_spsc_ring_init(r, GW_HANDOFF_RING) < 0) {
		free(r);
		return NULL;
	}
	atomic_store_explicit(slot, r, memory_order_release);
	return r;
}

/* A return worker `owner` must check (its cookie names it): copied into
 * the ring to it, the sender's address first; it is told at the end of
 * the batch. */
static void hand_off(struct worker *w, uint32_t l, unsigned owner, const struct sockaddr *from,
		     socklen_t from_len, const uint8_t *data, size_t len)
{
	struct gw_listener *g = w->listeners[l].gw;
	struct sockaddr_in6 head;
	memset(&head, 0, sizeof(head));
	if (from)
		memcpy(&head, from, from_len < sizeof(head) ? from_len : sizeof(head));
	struct nlb_spsc_ring *r = handoff_ring(w, l, w->id, owner, true);
	if (!r || !nlb_spsc_ring_push_record(r, &head, sizeof(head), data, len)) {
		STAT_INC(wstats(w, l), gw_handoff_full);
		return;
	}
	STAT_INC(wstats(w, l), gw_handed_off);
	g->wake[owner / 64] |= 1ull << (owner % 64);
	g->waking = true;
}

/* The owners handed returns in this batch are told, one message to
 * each one's ring; a failed message costs only time (each tick drains
 * every ring too). */
static void wake_owners(struct worker *w, uint32_t l)
{
	struct gw_listener *g = w->listeners[l].gw;
	g->waking = false;
	for (unsigned i = 0; i < sizeof(g->wake) / sizeof(g->wake[0]); i++) {
		while (g->wake[i]) {
			unsigned owner = i * 64 + (unsigned)__builtin_ctzll(g->wake[i]);
			g->wake[i] &= g->wake[i] - 1;
			int fd = atomic_load_explicit(&w->rt->ring_fds[owner], memory_order_acquire);
			if (fd < 0)
				continue;
			struct io_uring_sqe *sqe = nlb_ring_sqe(&w->ring);
			io_uring_prep_msg_ring(sqe, fd, 0, gw_ud(GW_OP_HANDOFF, l, w->id), 0);
			io_uring_sqe_set_data64(sqe, gw_ud(GW_OP_HANDOFF_WAKE, l, owner));
			sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
		}
	}
}

/* What worker `from` handed over for gateway l: each return checked as
 * if it had come here, and written to the TUN at once (a write(2): the
 * packet lies in a buffer of one). */
static void take_handoffs(struct worker *w, uint32_t l, unsigned from)
{
	struct gw_listener *g = w->listeners[l].gw;
	if (!g || g->closing || g->tun_fd < 0 || !w->rt->listeners[l].gw_handoff)
		return;
	struct nlb_spsc_ring *r = handoff_ring(w, l, from, w->id, false);
	struct worker_stats *st = wstats(w, l);
	const size_t head = sizeof(struct sockaddr_in6);
	size_t n;
	while (r && (n = nlb_spsc_ring_pop_record(r, g->handoff_buf, head + GW_BUF_SIZE)) != 0) {
		if (n == SIZE_MAX || n <= head) {
			STAT_INC(st, gw_bad_geneve);
			continue;
		}
		const struct sockaddr *sender = (const struct sockaddr *)g->handoff_buf;
		uint8_t *data = g->handoff_buf + head;
		int off = check_return(w, l, data, n - head,
				       sender->sa_family ? sender : NULL);
		if (off < 0)
			continue;
		if (write(g->tun_fd, data + off, n - head - (size_t)off) < 0)
			STAT_INC(st, gw_tun_error);
		else
			STAT_INC(st, gw_returned);
	}
}

static void on_handoff(struct worker *w, const struct io_uring_cqe *cqe)
{
	uint32_t l = ud_idx(cqe->user_data) >> 16, from = ud_idx(cqe->user_data) & 0xffff;
	if (l < NLB_MAX_LISTENERS && from < w->rt->n_workers)
		take_handoffs(w, l, from);
}

static void on_handoff_wake(struct worker *w, const struct io_uring_cqe *cqe)
{
	(void)w;
	nlb_debug_rl("gateway: telling worker %u of handed-over returns failed: %s (its "
		     "next tick takes them)", ud_idx(cqe->user_data) & 0xffff, strerror(-cqe->res));
}

/* A returned datagram, or GRO batch of them, in buffer bid of the
 * receive ring: each packet checked and written to the TUN.  Returns
 * how many TUN writes read the buffer (0: give it back now). */
static unsigned returned(struct worker *w, uint32_t l, unsigned bid, int res)
{
	struct gw_listener *g = w->listeners[l].gw;
	struct worker_stats *st = wstats(w, l);
	struct io_uring_recvmsg_out *o =
		io_uring_recvmsg_validate(nlb_bufring_addr(&g->rbufs, bid), res, &g->rmsg);
	if (!o || (o->flags & MSG_TRUNC)) {
		STAT_INC(st, gw_bad_geneve);
		return 0;
	}
	uint8_t *data = io_uring_recvmsg_payload(o, &g->rmsg);
	size_t len = io_uring_recvmsg_payload_length(o, res, &g->rmsg);
	const struct sockaddr *from = o->namelen <= g->rmsg.msg_namelen ?
				      io_uring_recvmsg_name(o) : NULL;
	size_t segment = g->gro ? nlb_recvmsg_gro_size(o, &g->rmsg, (unsigned)len) : 0;
	if (!segment)
		segment = len;
	else
		STAT_ADD(st, gw_batched_in, (len + segment - 1) / segment);
	unsigned writes = 0;
	bool handoff = w->rt->listeners[l].gw_handoff != NULL;
	for (size_t off = 0; off < len; off += segment) {
		size_t n = len - off < segment ? len - off : segment;
		/* the cookie's first byte names the worker of the flow */
		unsigned owner = n >= NLB_GENEVE_AWS_LEN ? data[off + NLB_GENEVE_AWS_LEN - 4] : w->id;
		if (handoff && owner != w->id && owner < w->rt->n_workers)
			hand_off(w, l, owner, from, o->namelen, data + off, n);
		else
			writes += return_one(w, l, data + off, n, from, bid);
	}
	return writes;
}

static void on_recv(struct worker *w, const struct io_uring_cqe *cqe)
{
	uint32_t l = ud_idx(cqe->user_data) >> 16;
	struct gw_listener *g = w->listeners[l].gw;
	int bid = nlb_bufring_cqe_bid(cqe);
	if (!(cqe->flags & IORING_CQE_F_MORE)) {
		g->recv_armed = false;
		g->inflight--;
	}
	unsigned writes;
	if (cqe->res > 0 && bid >= 0 && !g->closing && g->tun_fd >= 0 &&
	    (writes = returned(w, l, (unsigned)bid, cqe->res))) {
		g->rrefs[bid] = (uint8_t)writes;
		bid = -1;	/* in TUN writes: given back when the last completes */
	}
	if (bid >= 0)
		nlb_bufring_recycle(&g->rbufs, (unsigned)bid);
	if (g->recv_armed || g->closing)
		return;
	if (cqe->res == -ENOBUFS)
		g->starved = true;	/* re-armed after the batch gives some back */
	else if (cqe->res != -ECANCELED && cqe->res != -EBADF)
		arm_recv(w, l);
}

static void on_tun_write(struct worker *w, const struct io_uring_cqe *cqe)
{
	uint32_t l = ud_idx(cqe->user_data) >> 16, bid = ud_idx(cqe->user_data) & 0xffff;
	struct gw_listener *g = w->listeners[l].gw;
	g->inflight--;
	if (--g->rrefs[bid] == 0)
		nlb_bufring_recycle(&g->rbufs, bid);
	if (cqe->res < 0)
		STAT_INC(wstats(w, l), gw_tun_error);
	else
		STAT_INC(wstats(w, l), gw_returned);
}

static const struct worker_op gw_ops[] = {
	[GW_OP_TUN_READ - NLB_OPS_GATEWAY] = { "gw_tun_read", on_tun_read },
	[GW_OP_SEND - NLB_OPS_GATEWAY] = { "gw_send", on_send },
	[GW_OP_RECV - NLB_OPS_GATEWAY] = { "gw_recv", on_recv },
	[GW_OP_TUN_WRITE - NLB_OPS_GATEWAY] = { "gw_tun_write", on_tun_write },
	[GW_OP_ICMP_WRITE - NLB_OPS_GATEWAY] = { "gw_icmp_write", on_icmp_write },
	[GW_OP_HANDOFF - NLB_OPS_GATEWAY] = { "gw_handoff", on_handoff },
	[GW_OP_HANDOFF_WAKE - NLB_OPS_GATEWAY] = { "gw_handoff_wake", on_handoff_wake },
};
_Static_assert(sizeof(gw_ops) / sizeof(gw_ops[0]) == GW_OP_END - NLB_OPS_GATEWAY,
	       "every gateway op has a handler");

static void gw_listener_free(struct worker *w, struct gw_listener *g)
{
	if (!g)
		return;
	for (unsigned i = 0; i < GW_BUFS; i++)
		free(g->out[i].data);
	if (g->rbufs.br)
		nlb_bufring_free(&w->ring, &g->rbufs);
	free(g->icmp.data);
	free(g->handoff_buf);
	if (g->tcp)
		nlb_flowtab_destroy(g->tcp);
	if (g->other)
		nlb_flowtab_destroy(g->other);
	free(g);
}

static void gw_listener_take(struct worker *w, uint32_t l)
{
	if (!is_gateway(w, l))
		return;
	const struct listener_rt *lr = &w->rt->listeners[l];
	struct gw_listener *g = calloc(1, sizeof(*g));
	size_t cap = w->rt->cfg->flow_table_size;
	bool ok = g && nlb_flowtab_create(&g->tcp, cap) == 0 &&
		  nlb_flowtab_create(&g->other, cap) == 0;
	for (unsigned i = 0; ok && i < GW_BUFS; i++)
		ok = (g->out[i].data = malloc(GW_BUF_SIZE)) != NULL;
	ok = ok && (g->icmp.data = malloc(GW_BUF_SIZE));
	ok = ok && (!lr->gw_handoff ||
		    (g->handoff_buf = malloc(sizeof(struct sockaddr_in6) + GW_BUF_SIZE)));
	g->gro = w->rt->gw_gro;
	g->gso_max = UINT16_MAX;
	int r = ok ? nlb_bufring_init(&w->ring, &g->rbufs, GW_BUF_GROUP + (int)l, GW_RBUF_COUNT,
				      g->gro ? GW_RBUF_SIZE_GRO : GW_RBUF_SIZE) : -ENOMEM;
	if (r < 0) {
		nlb_err("worker %u: gateway %s: no buffers: %s", w->id, lr->conf->name, strerror(-r));
		gw_listener_free(w, g);
		return;
	}
	/* What a multishot receive puts before each datagram: the sender's
	 * address, and UDP_GRO's control message when batches come. */
	g->rmsg.msg_namelen = CMSG_ALIGN(sizeof(struct sockaddr_in6));	/* control after it aligned */
	g->rmsg.msg_controllen = g->gro ? CMSG_SPACE(sizeof(int)) : 0;
	g->tun_fd = lr->tun_fds ? lr->tun_fds[w->id] : -1;
	g->udp_fd = lr->udp_fds ? lr->udp_fds[w->id] : -1;
	w->listeners[l].gw = g;
	w->gw.n_gateways++;
}

static void gw_listener_arm(struct worker *w, uint32_t l)
{
	struct gw_listener *g = w->listeners[l].gw;
	if (!g || !is_gateway(w, l))
		return;
	for (uint32_t b = 0; b < GW_BUFS; b++)
		if (!g->out[b].busy)
			arm_tun_read(w, l, b);
	arm_recv(w, l);
}

/* Stops reading: the queue and the socket are cancelled and closed. */
static void gw_close(struct worker *w, struct gw_listener *g)
{
	if (g->closing)
		return;
	g->closing = true;
	if (g->tun_fd >= 0)
		worker_listen_stop(w, g->tun_fd, false);
	if (g->udp_fd >= 0)
		worker_listen_stop(w, g->udp_fd, false);
	g->tun_fd = g->udp_fd = -1;
}

static bool gw_listener_close(struct worker *w, uint32_t l)
{
	struct gw_listener *g = w->listeners[l].gw;
	if (!g)
		return true;
	gw_close(w, g);
	if (g->inflight)
		return false;
	gw_listener_free(w, g);
	w->listeners[l].gw = NULL;
	w->gw.n_gateways--;
	return true;
}

/* Flows end with the worker: there is no connection to finish. */
static void gw_stop(struct worker *w)
{
	for (size_t l = 0; l < w->rt->cfg->n_listeners; l++)
		if (w->listeners[l].gw)
			gw_close(w, w->listeners[l].gw);
}

static bool gw_busy(const struct worker *w)
{
	for (size_t l = 0; l < w->rt->cfg->n_listeners; l++)
		if (w->listeners[l].gw && w->listeners[l].gw->inflight)
			return true;
	return false;
}

static void gw_tick(struct worker *w)
{
	for (size_t l = 0; l < w->rt->cfg->n_listeners; l++) {
		struct gw_listener *g = w->listeners[l].gw;
		if (!g || g->closing)
			continue;
		const struct nlb_listener_conf *lc = gw_conf(w, (uint32_t)l);
		nlb_flowtab_expire(g->tcp, w->now_ms, lc->idle_timeout_ms, GW_EXPIRE_WORK);
		nlb_flowtab_expire(g->other, w->now_ms, lc->udp_idle_timeout_ms, GW_EXPIRE_WORK);
		/* hand-offs whose message was lost */
		for (unsigned from = 0; w->rt->listeners[l].gw_handoff && from < w->rt->n_workers;
		     from++)
			if (from != w->id)
				take_handoffs(w, (uint32_t)l, from);
	}
}

static void gw_worker_free(struct worker *w)
{
	for (size_t l = 0; l < w->rt->cfg->n_listeners; l++) {
		struct gw_listener *g = w->listeners[l].gw;
		if (!g)
			continue;
		if (g->tun_fd >= 0)
			close(g->tun_fd);
		if (g->udp_fd >= 0)
			close(g->udp_fd);
		gw_listener_free(w, g);
		w->listeners[l].gw = NULL;
	}
}

/* Packets read in the batch leave; buffers given back reach the kernel;
 * a receive that ran out of them starts again. */
static void gw_after_batch(struct worker *w)
{
	if (!w->gw.n_gateways)
		return;
	for (size_t l = 0; l < w->rt->cfg->n_listeners; l++) {
		struct gw_listener *g = w->listeners[l].gw;
		if (!g)
			continue;
		if (g->n_pending)
			send_pending(w, (uint32_t)l);
		if (g->waking)
			wake_owners(w, (uint32_t)l);
		nlb_bufring_flush(&g->rbufs);
		if (g->starved)
			arm_recv(w, (uint32_t)l);
	}
}

const struct stream_proto gateway_proto = {
	.name = "gateway",
	.op_base = NLB_OPS_GATEWAY,
	.ops = gw_ops,
	.n_ops = sizeof(gw_ops) / sizeof(gw_ops[0]),
	.worker_free = gw_worker_free,
	.listener_take = gw_listener_take,
	.listener_arm = gw_listener_arm,
	.listener_close = gw_listener_close,
	.stop = gw_stop,
	.busy = gw_busy,
	.tick = gw_tick,
	.after_batch = gw_after_batch,
};
