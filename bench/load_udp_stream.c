/* UDP bursts for udp_stream.  Each flow is its own connected UDP socket, as
 * in udp_rr, with one recvmsg always armed.  A request is a burst of N
 * (--gso) datagrams of REQ bytes, each starting with the burst's 8-byte
 * sequence number: with GSO (the default, N > 1) one sendmsg of N x REQ
 * bytes with a UDP_SEGMENT cmsg of REQ, which the kernel sends as the N
 * datagrams; with --no-gso (or N = 1) N sendmsgs of one datagram each.
 *
 * The sockets have UDP_GRO on, so datagrams echoed back can arrive as one
 * buffer: L bytes with a UDP_GRO cmsg of g are ceil(L / g) datagrams, all
 * of g bytes but the last; a buffer without the cmsg is one datagram.
 * Only a buffer's first 8 bytes are looked at: one burst is in flight per
 * flow, so a batch holds datagrams of one burst, and those of a burst that
 * already timed out fail the sequence check.  A burst is answered when N of
 * its datagrams are back and its sends have completed; one lost datagram
 * leaves it to time out.  A datagram shorter than REQ is a short reply. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "load.h"
#include "net.h"

static int use_gso(const struct bench_opts *o)
{
	return o->gso && o->burst > 1;
}

static void arm_recv(struct load_worker *w, struct load_conn *c)
{
	/* The kernel writes back msg_controllen; cmsg_len 0 means "none"
	 * whether or not it does. */
	memset(&c->rctl, 0, sizeof(c->rctl));
	c->rmsg.msg_control = c->rctl.buf;
	c->rmsg.msg_controllen = sizeof(c->rctl.buf);
	c->rmsg.msg_flags = 0;
	struct io_uring_sqe *sqe = load_conn_sqe(w, c, LOP_RECV);
	io_uring_prep_recvmsg(sqe, c->fd, &c->rmsg, 0);
}

/* The segment size of the UDP_GRO cmsg c's last receive carried, or 0. */
static unsigned gro_size(const struct load_conn *c)
{
	const struct cmsghdr *cm = &c->rctl.align;
	if (cm->cmsg_len < CMSG_LEN(sizeof(int)) || cm->cmsg_level != SOL_UDP ||
	    cm->cmsg_type != UDP_GRO)
		return 0;
	int g;
	memcpy(&g, CMSG_DATA(cm), sizeof(g));
	return g > 0 ? (unsigned)g : 0;
}

static int fail_setup(struct load_worker *w, const char *what, int err)
{
	char why[256];
	snprintf(why, sizeof(why), "nlb-bench udp_stream: %s: %s", what, strerror(-err));
	load_abort(w, err, why);
	return err;
}

static int stream_conn_init(struct load_worker *w, struct load_conn *c)
{
	const struct bench_opts *o = w->o;
	const unsigned n = o->burst;
	int fd = bench_udp_connected(&o->addr);
	if (fd < 0)
		return fd;
	c->fd = fd;
	bench_set_rcvbuf(fd, LOAD_UDP_STREAM_RCVBUF);

	int one = 1, zero = 0;
	if (setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) != 0)
		return fail_setup(w, "cannot turn UDP_GRO on (a kernel without UDP GRO?)", -errno);
	/* Sets no default segment size: only asks whether the kernel has
	 * UDP GSO at all, before the first send. */
	if (use_gso(o) && setsockopt(fd, SOL_UDP, UDP_SEGMENT, &zero, sizeof(zero)) != 0)
		return fail_setup(w, "no UDP_SEGMENT (a kernel without UDP GSO? --no-gso "
				  "sends one datagram per sendmsg)", -errno);

	/* The udp_rr layout: one datagram per sendmsg, replies into hdr_in
	 * and the sink (8 + 64 KiB: any datagram and any GRO batch).  With
	 * GSO the send is one sendmsg carrying the whole burst. */
	load_udp_msgs(w, c);
	if (use_gso(o)) {
		if (!w->iovs) {
			w->iovs = calloc((size_t)w->nconns * 2 * n, sizeof(*w->iovs));
			if (!w->iovs)
				return -ENOMEM;
			memset(&w->gso_ctl, 0, sizeof(w->gso_ctl));
			struct cmsghdr *cm = &w->gso_ctl.align;
			cm->cmsg_level = SOL_UDP;
			cm->cmsg_type = UDP_SEGMENT;
			cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
			uint16_t seg = (uint16_t)o->req_size;
			memcpy(CMSG_DATA(cm), &seg, sizeof(seg));
		}
		/* Datagram i is iovecs 2i (the sequence number) and 2i + 1
		 * (the shared payload): N datagrams from 8 + REQ - 8 bytes. */
		struct iovec *iov = &w->iovs[(size_t)(c - w->conns) * 2 * n];
		for (unsigned i = 0; i < n; i++) {
			iov[2 * i].iov_base = &c->hdr_out;
			iov[2 * i].iov_len = sizeof(c->hdr_out);
			iov[2 * i + 1].iov_base = w->sendbuf;
			iov[2 * i + 1].iov_len = o->req_size - sizeof(c->hdr_out);
		}
		c->smsg.msg_iov = iov;
		c->smsg.msg_iovlen = 2 * n;
		c->smsg.msg_control = w->gso_ctl.buf;
		c->smsg.msg_controllen = sizeof(w->gso_ctl.buf);
	}

	arm_recv(w, c);
	return 0;
}

static void stream_kick(struct load_worker *w, struct load_conn *c)
{
	if (c->sending) {
		/* The previous burst's sends still read hdr_out. */
		c->kick_deferred = 1;
		return;
	}
	if (load_req_begin(w, c) != 0)
		return;
	c->seq++;
	c->hdr_out = c->seq;
	c->got = 0;
	c->sent = 0;
	c->answered = 0;
	unsigned sends = use_gso(w->o) ? 1 : w->o->burst;
	c->sending = (uint8_t)sends;
	for (unsigned i = 0; i < sends; i++) {
		struct io_uring_sqe *sqe = load_conn_sqe(w, c, LOP_SEND);
		io_uring_prep_sendmsg(sqe, c->fd, &c->smsg, MSG_NOSIGNAL);
	}
}

static void on_send(struct load_worker *w, struct load_conn *c, int res)
{
	const struct bench_opts *o = w->o;
	c->sending--;
	if (res < 0) {
		/* EIO: no checksum offload on the way; EMSGSIZE (EINVAL
		 * before 6.x): segments above the route's MTU. */
		if (use_gso(o) && (res == -EIO || res == -EINVAL || res == -EMSGSIZE)) {
			char why[320];
			snprintf(why, sizeof(why), "nlb-bench udp_stream: a UDP_SEGMENT (GSO) send "
				 "to %s failed: %s: the route there cannot take UDP GSO (no "
				 "checksum offload, or %zu-byte datagrams above its MTU); "
				 "--no-gso sends one datagram per sendmsg", o->addr_text,
				 strerror(-res), o->req_size);
			load_abort(w, -EIO, why);
		}
		load_req_fail(w, c, load_err_of(res));
	} else {
		w->st.bytes_out += (uint64_t)res;
		w->st.dgrams_out += use_gso(o) ? o->burst : 1;
	}
	if (c->sending > 0)
		return;
	if (c->busy) {
		c->sent = 1;
		if (c->answered)
			load_req_ok(w, c);
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
	unsigned seg = gro_size(c);
	uint64_t dgrams = seg ? ((uint64_t)res + seg - 1) / seg : 1;
	if (seg == 0)
		seg = (unsigned)res;
	arm_recv(w, c);
	w->st.bytes_in += (uint64_t)res;
	w->st.dgrams_in += dgrams;
	if (!c->busy || (size_t)res < sizeof(c->hdr_in) || c->hdr_in != c->seq)
		return;		/* of a burst already settled */
	if (seg < w->o->req_size) {
		load_req_fail(w, c, LOAD_ERR_SHORT);
		load_schedule(w, c);
		return;
	}
	c->got += dgrams;
	if (c->got < w->o->burst)
		return;
	c->answered = 1;
	if (c->sent) {
		load_req_ok(w, c);
		load_schedule(w, c);
	}
}

static void stream_complete(struct load_worker *w, struct load_conn *c, unsigned op,
			    const struct io_uring_cqe *cqe)
{
	if (op == LOP_SEND)
		on_send(w, c, cqe->res);
	else if (op == LOP_RECV)
		on_recv(w, c, cqe->res);
}

static void stream_expire(struct load_worker *w, struct load_conn *c)
{
	/* Nothing to undo: the rest of a lost burst fails the sequence
	 * check, and the next burst waits for the sends still in the ring. */
	(void)w;
	(void)c;
}

const struct load_mode load_mode_udp_stream = {
	.conn_init = stream_conn_init,
	.kick = stream_kick,
	.complete = stream_complete,
	.expire = stream_expire,
};
