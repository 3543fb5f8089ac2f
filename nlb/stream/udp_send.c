/* How UDP datagrams are received and sent: what a recvmsg put in a
 * buffer (a datagram or a GRO batch), the send contexts a sendmsg reads
 * until it completes (address, IP_PKTINFO, UDP_SEGMENT), batches sent one
 * datagram at a time when the kernel refuses them whole, and the buffer
 * ring they all live in. */
#include "stream/udp_send.h"

#include <errno.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "tunables.h"
#include "udp_batch.h"
#include "core/worker.h"

void udp_buf_recycle(struct worker *w, uint16_t bid)
{
	nlb_bufring_recycle(&w->udp.bufs, bid);
	w->udp.bufs_returned = true;
}

/* What recvmsg put in buffer bid (res bytes in msg's layout), or false
 * when it is larger than udp_max_datagram (dropped and counted on
 * listener lidx) or malformed. */
bool udp_datagram(struct worker *w, uint32_t lidx, uint16_t bid, int res, struct msghdr *msg,
		  struct udp_dgram *d)
{
	void *buf = nlb_bufring_addr(&w->udp.bufs, bid);
	struct io_uring_recvmsg_out *o = io_uring_recvmsg_validate(buf, res, msg);
	if (!o)
		return false;
	d->o = o;
	d->payload = io_uring_recvmsg_payload(o, msg);
	d->len = io_uring_recvmsg_payload_length(o, res, msg);
	d->gso = 0;
	d->count = 1;
	if (w->rt->udp_gro && (d->gso = nlb_recvmsg_gro_size(o, msg, d->len))) {
		d->count = (d->len + d->gso - 1) / d->gso;
		STAT_INC(wstats(w, lidx), udp_gro_batches);
	}
	if ((o->flags & MSG_TRUNC) || (!d->gso && d->len > w->udp.max_datagram)) {
		STAT_INC(wstats(w, lidx), udp_too_big);
		nlb_debug_rl("udp: dropped a datagram of %u bytes (at most %u are forwarded)",
			  o->payloadlen, w->udp.max_datagram);
		return false;
	}
	return true;
}

/* Sends a batch one datagram at a time, at once: the kernel refuses a
 * GSO send whose segments exceed the path MTU, where plain sends are
 * fragmented instead.  That is rare (a client on a jumbo-frame link, a
 * target behind a narrower one), so this is one sendmmsg per 64
 * datagrams rather than ring operations sharing a buffer.  tmpl gives
 * the address and control messages, or NULL on a connected socket;
 * failures count on listener lidx. */
void udp_send_split(struct worker *w, uint32_t lidx, int fd, const struct msghdr *tmpl,
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

struct udp_send_ctx *udp_ctx_get(struct worker *w, uint32_t *idx)
{
	if (w->udp.ctx_free == NO_IDX)
		return NULL;
	*idx = w->udp.ctx_free;
	struct udp_send_ctx *c = w->udp.ctx[*idx];
	w->udp.ctx_free = c->next_free;
	return c;
}

void udp_ctx_put(struct worker *w, uint32_t idx)
{
	w->udp.ctx[idx]->next_free = w->udp.ctx_free;
	w->udp.ctx_free = idx;
}

/* Readies c to carry d (from buffer bid, on flow f) as one sendmsg. */
void udp_ctx_fill(struct udp_send_ctx *c, const struct udp_flow *f, uint16_t bid,
		  const struct udp_dgram *d, bool to_client)
{
	memset(&c->msg, 0, sizeof(c->msg));
	c->iov[0].iov_base = d->payload;
	c->iov[0].iov_len = d->len;
	c->msg.msg_iov = c->iov;
	c->msg.msg_iovlen = 1;
	c->flow = f->slot.idx;
	c->gen = f->slot.gen;
	c->listener = f->listener;
	c->bid = bid;
	c->gso = (uint16_t)d->gso;
	c->to_client = to_client;
}

/* Adds the UDP_SEGMENT control message that makes c's batch leave as
 * the datagrams it arrived as. */
void udp_ctx_add_gso(struct udp_send_ctx *c)
{
	size_t off = c->msg.msg_controllen;
	uint16_t gso = c->gso;
	nlb_cmsg_put(c->ctl.buf, &off, SOL_UDP, UDP_SEGMENT, &gso, sizeof(gso));
	c->msg.msg_control = c->ctl.buf;
	c->msg.msg_controllen = off;
}

void udp_ctx_free_all(struct worker *w)
{
	for (uint32_t i = 0; i < w->udp.n_ctx; i++)
		free(w->udp.ctx[i]);
	free(w->udp.ctx);
	w->udp.ctx = NULL;
	w->udp.n_ctx = 0;
	w->udp.ctx_free = NO_IDX;
}

/* The buffer ring and the send contexts, once some listener is UDP. */
int udp_bufs_init(struct worker *w)
{
	/* Payload room for the largest datagram, or GRO batch, after the
	 * recvmsg header, the address and the control messages. */
	unsigned room = w->rt->udp_gro ? NLB_UDP_GRO_MAX : w->udp.max_datagram;
	/* a multiple of 64: each buffer's control messages stay aligned */
	unsigned size = (room + NLB_UDP_BUF_HEADROOM + 63) & ~63u;
	unsigned count = size > 16384 ? NLB_UDP_BUF_COUNT_LARGE : NLB_UDP_BUF_COUNT;
	/* Every context holds a buffer while in use: never more than these. */
	w->udp.ctx = calloc(count, sizeof(*w->udp.ctx));
	if (!w->udp.ctx)
		return -ENOMEM;
	for (uint32_t i = 0; i < count; i++) {
		if (!(w->udp.ctx[i] = calloc(1, sizeof(**w->udp.ctx)))) {
			udp_ctx_free_all(w);
			return -ENOMEM;
		}
		w->udp.n_ctx = i + 1;
		w->udp.ctx[i]->next_free = w->udp.ctx_free;
		w->udp.ctx_free = i;
	}
	int ret = nlb_bufring_init(&w->ring, &w->udp.bufs, NLB_UDP_BUF_GROUP, count, size);
	if (ret < 0)
		udp_ctx_free_all(w);
	return ret;
}
