/* UDP requests for udp_rr: each flow is its own connected UDP socket (its
 * own source port), with one recvmsg always armed.  A request is one
 * datagram: an 8-byte sequence number followed by REQ - 8 bytes of payload;
 * the reply must carry the same first 8 bytes (an echo server does), which
 * is how a late reply to a timed-out request is recognised, counted (late)
 * and dropped.
 * A reply shorter than RESP is a short reply; an ICMP port unreachable
 * (ECONNREFUSED on the socket) fails the request as refused.
 *
 * --verify: the payload is the flow's own, request c->seq of flow c->id
 * (verify.h), and the answer lands in the flow's own buffer with room for
 * one byte more: an answer of the current request (its first 8 bytes) that
 * is longer, or whose payload differs, is corrupt. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "load.h"
#include "net.h"
#include "verify.h"

static void arm_recv(struct load_worker *w, struct load_conn *c)
{
	struct io_uring_sqe *sqe = load_conn_sqe(w, c, LOP_RECV);
	io_uring_prep_recvmsg(sqe, c->fd, &c->rmsg, 0);
}

void load_udp_msgs(struct load_worker *w, struct load_conn *c)
{
	c->siov[0].iov_base = &c->hdr_out;
	c->siov[0].iov_len = sizeof(c->hdr_out);
	c->siov[1].iov_base = c->vout ? c->vout : w->sendbuf;
	c->siov[1].iov_len = w->o->req_size - sizeof(c->hdr_out);
	memset(&c->smsg, 0, sizeof(c->smsg));
	c->smsg.msg_iov = c->siov;
	c->smsg.msg_iovlen = 2;

	/* The reply lands in hdr_in and the shared sink, room for any
	 * datagram (and GRO batch): its payload is never looked at; with
	 * --verify in the flow's own buffer (see above). */
	c->riov[0].iov_base = &c->hdr_in;
	c->riov[0].iov_len = sizeof(c->hdr_in);
	c->riov[1].iov_base = c->vin ? c->vin : w->sink;
	c->riov[1].iov_len = c->vin ? w->o->req_size - sizeof(c->hdr_in) + 1 : LOAD_SINK_SIZE;
	memset(&c->rmsg, 0, sizeof(c->rmsg));
	c->rmsg.msg_iov = c->riov;
	c->rmsg.msg_iovlen = 2;
}

static int udp_conn_init(struct load_worker *w, struct load_conn *c)
{
	int fd = bench_udp_connected(&w->o->addr);
	if (fd < 0)
		return fd;
	c->fd = fd;
	load_udp_msgs(w, c);
	arm_recv(w, c);
	return 0;
}

static void udp_kick(struct load_worker *w, struct load_conn *c)
{
	if (c->sending) {
		/* The previous request's sendmsg still uses smsg. */
		c->kick_deferred = 1;
		return;
	}
	if (load_req_begin(w, c) != 0)
		return;
	c->seq++;
	c->hdr_out = c->seq;
	if (c->vout)
		bench_verify_fill(c->vout, 0, w->o->req_size - sizeof(c->hdr_out), c->id, c->seq);
	c->sent = 0;
	c->answered = 0;
	c->sending = 1;
	struct io_uring_sqe *sqe = load_conn_sqe(w, c, LOP_SEND);
	io_uring_prep_sendmsg(sqe, c->fd, &c->smsg, MSG_NOSIGNAL);
}

static void on_send(struct load_worker *w, struct load_conn *c, int res)
{
	c->sending = 0;
	if (res < 0) {
		load_req_fail(w, c, load_err_of(res));
	} else {
		w->st.bytes_out += (uint64_t)res;
		c->sent = 1;
		if (c->busy && c->answered)
			load_req_answered(w, c);
	}
	c->kick_deferred = 0;
	load_schedule(w, c);
}

static void on_recv(struct load_worker *w, struct load_conn *c, int res)
{
	if (res == -ECANCELED || (res < 0 && w->stopping))
		return;
	if (res < 0) {
		load_req_fail(w, c, load_err_of(res));
		/* ECONNREFUSED is reported once and the socket stays usable;
		 * anything else means it is not: leave the flow to time out. */
		if (res == -ECONNREFUSED || res == -EINTR || res == -EAGAIN)
			arm_recv(w, c);
		load_schedule(w, c);
		return;
	}
	arm_recv(w, c);
	w->st.bytes_in += (uint64_t)res;
	if ((size_t)res >= sizeof(c->hdr_in) && c->hdr_in != 0 && c->hdr_in <= c->seq &&
	    (c->hdr_in != c->seq || !c->busy)) {
		/* a late reply to a request already settled: it was slow,
		 * not lost (counted apart from the timeout it got) */
		w->st.late++;
		return;
	}
	if (!c->busy || (size_t)res < sizeof(c->hdr_in) || c->hdr_in != c->seq)
		return;
	if ((size_t)res < w->o->resp_size) {
		load_req_fail(w, c, LOAD_ERR_SHORT);
		load_schedule(w, c);
		return;
	}
	if (c->vin) {
		size_t got = (size_t)res - sizeof(c->hdr_in);
		size_t want = w->o->req_size - sizeof(c->hdr_in);
		if (got > want) {	/* longer than the request: the extra byte differs */
			w->st.corrupt_bytes += got - want;
			c->corrupt = 1;
			got = want;
		}
		load_verify(w, c, c->vin, 0, got);
	}
	c->answered = 1;
	if (c->sent) {
		load_req_answered(w, c);
		load_schedule(w, c);
	}
}

static void udp_complete(struct load_worker *w, struct load_conn *c, unsigned op,
			 const struct io_uring_cqe *cqe)
{
	if (op == LOP_SEND)
		on_send(w, c, cqe->res);
	else if (op == LOP_RECV)
		on_recv(w, c, cqe->res);
}

static void udp_expire(struct load_worker *w, struct load_conn *c)
{
	/* Nothing to undo: a late reply fails the sequence check. */
	(void)w;
	(void)c;
}

const struct load_mode load_mode_udp = {
	.conn_init = udp_conn_init,
	.kick = udp_kick,
	.complete = udp_complete,
	.expire = udp_expire,
};
