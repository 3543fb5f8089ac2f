/* nlb-bench serve: a target server on io_uring.
 *
 * Each thread owns a ring and its own SO_REUSEPORT listening socket (TCP,
 * UDP or both) and serves the connections the kernel hashes to it.  TCP:
 * multishot accept; reads land in a provided-buffer ring, so an idle
 * connection holds no buffer and thousands of them cost a slot each.
 *   echo     recv (one buffer) -> send it all -> recv ...: bytes come back in
 *            order; on EOF nothing is owed (the last send completed), close.
 *   discard  multishot recv, every buffer recycled at once; EOF -> close.
 *   source   one --size send after another from a shared chunk, plus a
 *            multishot recv that drops input and notices EOF -> close.
 * UDP: multishot recvmsg into a buffer ring; each datagram is sent back to
 * its sender straight from the buffer it arrived in (discard: dropped;
 * source means echo for UDP).  The socket has UDP_GRO on (unless --no-gro):
 * a buffer can then hold a batch of datagrams of one sender, all of
 * gso_size bytes but the last, which the UDP_GRO cmsg gives; such a batch
 * goes back as one sendmsg with UDP_SEGMENT = gso_size, so the sender gets
 * the same datagrams, of the same sizes, as it sent.
 * A connection is closed only when none of its requests is in the ring
 * (cancel first, close when the last completion is seen). */
#include "serve.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_ring.h"
#include "log.h"
#include "net.h"
#include "ring.h"
#include "sys.h"
#include "user_data.h"
#include "defaults.h"

#define SERVE_BGID_TCP      0u
#define SERVE_BGID_UDP      1u

enum serve_op {
	SOP_NONE = 0,		/* cancels: nothing to do */
	SOP_STOP,
	SOP_ACCEPT,
	SOP_RECV,
	SOP_SEND,
	SOP_UDP_RECV,
	SOP_UDP_SEND,
	SOP_ACCEPT_PAUSE,	/* accept failed for lack of resources: re-arm later */
};

struct serve_conn {
	int fd;
	uint32_t gen;
	uint16_t pending;	/* requests in the ring */
	uint8_t used;
	uint8_t closing;	/* cancelled; close when pending == 0 */
	uint8_t parked;		/* waiting for a receive buffer */
	int bid;		/* echo: buffer being sent back, -1 if none */
	uint32_t send_off;	/* echo: bytes of bid already sent */
	uint32_t send_len;	/* echo: bytes in bid */
};

struct serve_udp_tx {
	struct msghdr msg;
	struct iovec iov;
	/* UDP_SEGMENT, for echoing a GRO batch */
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} ctl;
};

/* A provided-buffer ring and how many of its buffers we hold: a receive
 * is armed only while the kernel has one left to give (else the
 * connection parks until one comes back). */
struct serve_bufs {
	struct nlb_bufring ring;
	unsigned out;
};

struct serve_worker {
	const struct bench_opts *o;
	unsigned id;
	pthread_t tid;
	int lfd;		/* TCP listener or -1 */
	int ufd;		/* UDP socket or -1 */
	int stop_fd;
	uint64_t stop_buf;
	int err;

	struct bench_ring ring;
	int ring_ok;
	struct serve_bufs tcpbuf;
	struct serve_bufs udpbuf;
	int stopping;

	struct serve_conn *conns;
	uint32_t *free_slots;
	uint32_t nfree;
	uint32_t *parked;	/* slots waiting for buffers, LIFO */
	uint32_t nparked;
	int accept_armed;	/* or its pause timer */
	struct __kernel_timespec accept_pause;
	int udp_parked;		/* UDP recvmsg ended for lack of buffers */

	/* recvmsg template: name room, and control room for UDP_GRO */
	struct msghdr udp_msg;
	struct serve_udp_tx *udp_tx;	/* one per UDP buffer */
	uint64_t udp_send_errors;

	char *chunk;		/* source mode payload */
	uint64_t accept_errors;
};

static void conn_close(struct serve_worker *w, struct serve_conn *c);

static uint32_t conn_slot(const struct serve_worker *w, const struct serve_conn *c)
{
	return (uint32_t)(c - w->conns);
}

static struct io_uring_sqe *conn_sqe(struct serve_worker *w, struct serve_conn *c,
				     unsigned op)
{
	struct io_uring_sqe *sqe = bench_sqe(&w->ring);
	io_uring_sqe_set_data64(sqe, bench_ud(op, conn_slot(w, c), c->gen));
	c->pending++;
	return sqe;
}

/* The buffer a completion carries, counted as ours; -1 if none. */
static int buf_take(struct serve_bufs *b, const struct io_uring_cqe *cqe)
{
	int bid = nlb_bufring_cqe_bid(cqe);
	if (bid >= 0)
		b->out++;
	return bid;
}

/* Gives buffer bid back; the kernel sees it at the loop's next flush. */
static void buf_put(struct serve_bufs *b, unsigned bid)
{
	nlb_bufring_recycle(&b->ring, bid);
	b->out--;
}

static int bufs_all_out(const struct serve_bufs *b)
{
	return b->out >= b->ring.count;
}

static void arm_accept(struct serve_worker *w)
{
	struct io_uring_sqe *sqe = bench_sqe(&w->ring);
	io_uring_prep_multishot_accept(sqe, w->lfd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, bench_ud(SOP_ACCEPT, 0, 0));
	w->accept_armed = 1;
}

static void arm_udp_recv(struct serve_worker *w)
{
	struct io_uring_sqe *sqe = bench_sqe(&w->ring);
	io_uring_prep_recvmsg_multishot(sqe, w->ufd, &w->udp_msg, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = SERVE_BGID_UDP;
	io_uring_sqe_set_data64(sqe, bench_ud(SOP_UDP_RECV, 0, 0));
	w->udp_parked = 0;
}

static void park(struct serve_worker *w, struct serve_conn *c)
{
	if (c->parked)
		return;
	if (w->nparked == SERVE_MAX_CONNS) {
		/* Full of entries for slots freed (or re-parked) since: keep
		 * one per slot still parked. */
		uint32_t n = 0;
		for (uint32_t i = 0; i < w->nparked; i++) {
			struct serve_conn *p = &w->conns[w->parked[i]];
			if (p->used && p->parked == 1) {
				p->parked = 2;	/* mark: kept once */
				w->parked[n++] = w->parked[i];
			}
		}
		for (uint32_t i = 0; i < n; i++)
			w->conns[w->parked[i]].parked = 1;
		w->nparked = n;
	}
	c->parked = 1;
	w->parked[w->nparked++] = conn_slot(w, c);
}

/* Echo: one receive into a ring buffer, picked when data arrives. */
static void arm_recv_one(struct serve_worker *w, struct serve_conn *c)
{
	if (bufs_all_out(&w->tcpbuf)) {
		park(w, c);
		return;
	}
	struct io_uring_sqe *sqe = conn_sqe(w, c, SOP_RECV);
	io_uring_prep_recv(sqe, c->fd, NULL, SERVE_TCP_BUF_SIZE, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = SERVE_BGID_TCP;
}

/* Discard and source: receive until EOF, dropping everything. */
static void arm_recv_multi(struct serve_worker *w, struct serve_conn *c)
{
	if (bufs_all_out(&w->tcpbuf)) {
		park(w, c);
		return;
	}
	struct io_uring_sqe *sqe = conn_sqe(w, c, SOP_RECV);
	io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = SERVE_BGID_TCP;
}

static void arm_recv(struct serve_worker *w, struct serve_conn *c)
{
	if (w->o->serve_mode == BENCH_SERVE_ECHO)
		arm_recv_one(w, c);
	else
		arm_recv_multi(w, c);
}

/* Echo: send what is left of buffer c->bid. */
static void arm_echo_send(struct serve_worker *w, struct serve_conn *c)
{
	const unsigned char *buf = nlb_bufring_addr(&w->tcpbuf.ring, (unsigned)c->bid);
	struct io_uring_sqe *sqe = conn_sqe(w, c, SOP_SEND);
	io_uring_prep_send(sqe, c->fd, buf + c->send_off, c->send_len - c->send_off,
			   MSG_WAITALL | MSG_NOSIGNAL);
}

static void arm_source_send(struct serve_worker *w, struct serve_conn *c)
{
	struct io_uring_sqe *sqe = conn_sqe(w, c, SOP_SEND);
	io_uring_prep_send(sqe, c->fd, w->chunk, w->o->req_size, MSG_WAITALL | MSG_NOSIGNAL);
}

static void conn_free(struct serve_worker *w, struct serve_conn *c)
{
	if (c->bid >= 0) {
		buf_put(&w->tcpbuf, (unsigned)c->bid);
		c->bid = -1;
	}
	close(c->fd);
	c->fd = -1;
	c->used = 0;
	c->closing = 0;
	c->parked = 0;	/* a stale entry in w->parked is skipped: !used */
	c->gen++;
	w->free_slots[w->nfree++] = conn_slot(w, c);
}

/* Closes now if nothing is in the ring, else cancels and closes when the
 * last completion comes back. */
static void conn_close(struct serve_worker *w, struct serve_conn *c)
{
	if (c->pending == 0) {
		conn_free(w, c);
		return;
	}
	if (c->closing)
		return;
	c->closing = 1;
	struct io_uring_sqe *sqe = bench_sqe(&w->ring);
	io_uring_prep_cancel_fd(sqe, c->fd, IORING_ASYNC_CANCEL_ALL);
	io_uring_sqe_set_data64(sqe, bench_ud(SOP_NONE, 0, 0));
}

static void on_accept(struct serve_worker *w, struct io_uring_cqe *cqe)
{
	if (!(cqe->flags & IORING_CQE_F_MORE))
		w->accept_armed = 0;
	if (cqe->res < 0) {
		/* EMFILE and friends: say so once in a while, keep accepting,
		 * after a pause (the failing connection is still queued). */
		if (cqe->res != -ECANCELED && (w->accept_errors++ & 1023) == 0)
			nlb_warn("nlb-bench serve: accept: %s", strerror(-cqe->res));
		if (!w->accept_armed && !w->stopping) {
			w->accept_pause = nlb_ring_timespec(SERVE_ACCEPT_PAUSE_NS);
			struct io_uring_sqe *sqe = bench_sqe(&w->ring);
			io_uring_prep_timeout(sqe, &w->accept_pause, 0, 0);
			io_uring_sqe_set_data64(sqe, bench_ud(SOP_ACCEPT_PAUSE, 0, 0));
			w->accept_armed = 1;
		}
		return;
	}
	int fd = cqe->res;
	if (w->nfree == 0) {
		close(fd);
		return;
	}
	struct serve_conn *c = &w->conns[w->free_slots[--w->nfree]];
	c->fd = fd;
	c->used = 1;
	c->pending = 0;
	c->bid = -1;
	bench_set_nodelay(fd);
	if (w->o->serve_mode == BENCH_SERVE_SOURCE)
		arm_source_send(w, c);
	arm_recv(w, c);
}

static void on_recv(struct serve_worker *w, struct serve_conn *c, struct io_uring_cqe *cqe)
{
	int bid = buf_take(&w->tcpbuf, cqe);
	int more = (cqe->flags & IORING_CQE_F_MORE) != 0;
	if (!more)
		c->pending--;

	if (c->closing) {
		if (bid >= 0)
			buf_put(&w->tcpbuf, (unsigned)bid);
		if (c->pending == 0)
			conn_free(w, c);
		return;
	}
	if (w->o->serve_mode == BENCH_SERVE_ECHO) {
		if (cqe->res > 0 && bid >= 0) {
			c->bid = bid;
			c->send_off = 0;
			c->send_len = (uint32_t)cqe->res;
			arm_echo_send(w, c);
		} else if (cqe->res == -ENOBUFS) {
			park(w, c);
		} else {
			/* EOF (the last send has completed: nothing owed) or error. */
			if (bid >= 0)
				buf_put(&w->tcpbuf, (unsigned)bid);
			conn_close(w, c);
		}
		return;
	}

	/* discard, source */
	if (bid >= 0)
		buf_put(&w->tcpbuf, (unsigned)bid);
	if (cqe->res > 0) {
		if (!more)
			arm_recv_multi(w, c);
	} else if (cqe->res == -ENOBUFS) {
		park(w, c);
	} else {
		conn_close(w, c);
	}
}

static void on_send(struct serve_worker *w, struct serve_conn *c, struct io_uring_cqe *cqe)
{
	c->pending--;
	if (c->closing) {
		if (c->pending == 0)
			conn_free(w, c);
		return;
	}
	if (cqe->res <= 0) {
		conn_close(w, c);
		return;
	}
	if (w->o->serve_mode == BENCH_SERVE_SOURCE) {
		arm_source_send(w, c);
		return;
	}
	/* echo: MSG_WAITALL only stops short on error or signal; finish. */
	c->send_off += (uint32_t)cqe->res;
	if (c->send_off < c->send_len) {
		arm_echo_send(w, c);
		return;
	}
	buf_put(&w->tcpbuf, (unsigned)c->bid);
	c->bid = -1;
	arm_recv_one(w, c);
}

/* The UDP_GRO cmsg's segment size of a received buffer, 0 if it has none
 * (a single datagram). */
static unsigned udp_gro_size(struct io_uring_recvmsg_out *out, struct msghdr *msg)
{
	if (msg->msg_controllen == 0)
		return 0;
	for (struct cmsghdr *cm = io_uring_recvmsg_cmsg_firsthdr(out, msg); cm;
	     cm = io_uring_recvmsg_cmsg_nexthdr(out, msg, cm)) {
		if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(int))) {
			int g;
			memcpy(&g, CMSG_DATA(cm), sizeof(g));
			return g > 0 && g <= UINT16_MAX ? (unsigned)g : 0;
		}
	}
	return 0;
}

static void on_udp_send(struct serve_worker *w, struct io_uring_cqe *cqe)
{
	unsigned bid = bench_ud_slot(cqe->user_data);
	/* A GSO echo the path cannot take (EIO: no checksum offload,
	 * EINVAL: segments above the MTU) is lost: say so now and then. */
	if (cqe->res < 0 && cqe->res != -ECANCELED && w->udp_tx[bid].msg.msg_controllen &&
	    (w->udp_send_errors++ & 1023) == 0)
		nlb_warn("nlb-bench serve: UDP echo with UDP_SEGMENT: %s (serve --no-gro "
			 "echoes datagram by datagram)", strerror(-cqe->res));
	buf_put(&w->udpbuf, bid);
}

static void on_udp_recv(struct serve_worker *w, struct io_uring_cqe *cqe)
{
	int bid = buf_take(&w->udpbuf, cqe);
	if (!(cqe->flags & IORING_CQE_F_MORE)) {
		if (cqe->res == -ENOBUFS)
			w->udp_parked = 1;
		else if (!w->stopping)
			arm_udp_recv(w);
	}
	if (bid < 0)
		return;
	unsigned char *buf = nlb_bufring_addr(&w->udpbuf.ring, (unsigned)bid);
	struct io_uring_recvmsg_out *out =
		cqe->res >= 0 ? io_uring_recvmsg_validate(buf, cqe->res, &w->udp_msg) : NULL;
	if (!out || (out->flags & MSG_TRUNC) || out->namelen > w->udp_msg.msg_namelen ||
	    w->o->serve_mode == BENCH_SERVE_DISCARD) {
		buf_put(&w->udpbuf, (unsigned)bid);
		return;
	}
	struct serve_udp_tx *tx = &w->udp_tx[bid];
	memset(&tx->msg, 0, sizeof(tx->msg));
	tx->iov.iov_base = io_uring_recvmsg_payload(out, &w->udp_msg);
	tx->iov.iov_len = io_uring_recvmsg_payload_length(out, cqe->res, &w->udp_msg);
	tx->msg.msg_name = io_uring_recvmsg_name(out);
	tx->msg.msg_namelen = out->namelen;
	tx->msg.msg_iov = &tx->iov;
	tx->msg.msg_iovlen = 1;
	unsigned gso = udp_gro_size(out, &w->udp_msg);
	if (gso > 0 && tx->iov.iov_len > gso) {
		/* A GRO batch: back as the datagrams it was made of. */
		tx->msg.msg_control = tx->ctl.buf;
		tx->msg.msg_controllen = sizeof(tx->ctl.buf);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&tx->msg);
		cm->cmsg_level = SOL_UDP;
		cm->cmsg_type = UDP_SEGMENT;
		cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
		uint16_t seg = (uint16_t)gso;
		memcpy(CMSG_DATA(cm), &seg, sizeof(seg));
	}
	struct io_uring_sqe *sqe = bench_sqe(&w->ring);
	io_uring_prep_sendmsg(sqe, w->ufd, &tx->msg, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, bench_ud(SOP_UDP_SEND, (uint32_t)bid, 0));
}

/* Re-arms receives that stopped for lack of buffers, if some came back. */
static void unpark(struct serve_worker *w)
{
	while (w->nparked > 0 && !bufs_all_out(&w->tcpbuf)) {
		struct serve_conn *c = &w->conns[w->parked[--w->nparked]];
		if (!c->used || !c->parked || c->closing)
			continue;
		c->parked = 0;
		arm_recv(w, c);
	}
	if (w->udp_parked && !bufs_all_out(&w->udpbuf) && !w->stopping)
		arm_udp_recv(w);
	if (w->lfd >= 0 && !w->accept_armed && !w->stopping)
		arm_accept(w);
}

static void dispatch(struct serve_worker *w, struct io_uring_cqe *cqe)
{
	uint64_t ud = cqe->user_data;
	unsigned op = bench_ud_op(ud);
	bench_cqe_final(&w->ring, cqe);

	switch (op) {
	case SOP_STOP:
		w->stopping = 1;
		return;
	case SOP_ACCEPT:
		on_accept(w, cqe);
		return;
	case SOP_ACCEPT_PAUSE:
		w->accept_armed = 0;	/* unpark() re-arms it */
		return;
	case SOP_UDP_RECV:
		on_udp_recv(w, cqe);
		return;
	case SOP_UDP_SEND:
		on_udp_send(w, cqe);
		return;
	case SOP_RECV:
	case SOP_SEND: {
		uint32_t slot = bench_ud_slot(ud);
		struct serve_conn *c = slot < SERVE_MAX_CONNS ? &w->conns[slot] : NULL;
		if (!c || !c->used || c->gen != bench_ud_gen(ud)) {
			nlb_warn("nlb-bench serve: stale completion op=%u slot=%u", op, slot);
			return;
		}
		if (op == SOP_RECV)
			on_recv(w, c, cqe);
		else
			on_send(w, c, cqe);
		return;
	}
	default:
		return;
	}
}

static int worker_setup(struct serve_worker *w)
{
	int ret = bench_ring_init(&w->ring, SERVE_SQ_ENTRIES, SERVE_CQ_ENTRIES);
	if (ret < 0)
		return ret;
	w->ring_ok = 1;
	if (w->lfd >= 0) {
		ret = nlb_bufring_init(&w->ring.ring, &w->tcpbuf.ring, SERVE_BGID_TCP,
				       SERVE_TCP_BUFS, SERVE_TCP_BUF_SIZE);
		if (ret < 0)
			return ret;
		w->conns = calloc(SERVE_MAX_CONNS, sizeof(*w->conns));
		w->free_slots = malloc(SERVE_MAX_CONNS * sizeof(*w->free_slots));
		w->parked = malloc(SERVE_MAX_CONNS * sizeof(*w->parked));
		if (!w->conns || !w->free_slots || !w->parked)
			return -ENOMEM;
		for (uint32_t i = 0; i < SERVE_MAX_CONNS; i++) {
			w->conns[i].fd = -1;
			w->conns[i].bid = -1;
			w->free_slots[i] = SERVE_MAX_CONNS - 1 - i;
		}
		w->nfree = SERVE_MAX_CONNS;
		if (w->o->serve_mode == BENCH_SERVE_SOURCE) {
			w->chunk = malloc(w->o->req_size);
			if (!w->chunk)
				return -ENOMEM;
			for (size_t i = 0; i < w->o->req_size; i++)
				w->chunk[i] = (char)('a' + i % 26);
		}
	}
	if (w->ufd >= 0) {
		ret = nlb_bufring_init(&w->ring.ring, &w->udpbuf.ring, SERVE_BGID_UDP,
				       SERVE_UDP_BUFS, SERVE_UDP_BUF_SIZE);
		if (ret < 0)
			return ret;
		w->udp_tx = calloc(SERVE_UDP_BUFS, sizeof(*w->udp_tx));
		if (!w->udp_tx)
			return -ENOMEM;
		w->udp_msg.msg_namelen = sizeof(struct sockaddr_storage);
		if (!w->o->no_gro)
			w->udp_msg.msg_controllen = CMSG_SPACE(sizeof(int));
	}
	return 0;
}

static void worker_teardown(struct serve_worker *w)
{
	if (w->ring_ok) {
		/* The drain first: until then a request may write into a buffer. */
		nlb_ring_cancel_all(&w->ring.ring, &w->ring.ops, 1000);
		nlb_bufring_free(&w->ring.ring, &w->tcpbuf.ring);
		nlb_bufring_free(&w->ring.ring, &w->udpbuf.ring);
		io_uring_queue_exit(&w->ring.ring);
	}
	if (w->conns) {
		for (uint32_t i = 0; i < SERVE_MAX_CONNS; i++)
			if (w->conns[i].used)
				close(w->conns[i].fd);
	}
	free(w->conns);
	free(w->free_slots);
	free(w->parked);
	free(w->udp_tx);
	free(w->chunk);
}

static void *worker_main(void *arg)
{
	struct serve_worker *w = arg;
	int ret = worker_setup(w);
	if (ret < 0) {
		w->err = ret;
		nlb_err("nlb-bench serve: thread %u: set-up failed: %s", w->id, strerror(-ret));
		worker_teardown(w);
		bench_sys_wake_main();
		return NULL;
	}

	struct io_uring_sqe *sqe = bench_sqe(&w->ring);
	io_uring_prep_poll_add(sqe, w->stop_fd, POLLIN);
	io_uring_sqe_set_data64(sqe, bench_ud(SOP_STOP, 0, 0));
	if (w->lfd >= 0)
		arm_accept(w);
	if (w->ufd >= 0)
		arm_udp_recv(w);

	while (!w->stopping) {
		ret = io_uring_submit_and_wait(&w->ring.ring, 1);
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
			w->err = ret;
			nlb_err("nlb-bench serve: thread %u: io_uring_enter: %s", w->id,
				strerror(-ret));
			bench_sys_wake_main();
			break;
		}
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;
		io_uring_for_each_cqe(&w->ring.ring, head, cqe) {
			dispatch(w, cqe);
			n++;
		}
		io_uring_cq_advance(&w->ring.ring, n);
		/* Recycled buffers, all at once, before unpark re-arms receives. */
		nlb_bufring_flush(&w->tcpbuf.ring);
		nlb_bufring_flush(&w->udpbuf.ring);
		if (!w->stopping)
			unpark(w);
	}
	worker_teardown(w);
	return NULL;
}

int bench_serve(const struct bench_opts *o)
{
	struct nlb_addr addr = o->addr;
	unsigned nt = o->threads;
	struct serve_worker *ws = calloc(nt, sizeof(*ws));
	if (!ws)
		return -ENOMEM;
	int stop_fd = eventfd(0, EFD_CLOEXEC);
	if (stop_fd < 0) {
		free(ws);
		return -errno;
	}

	int ret = 0, gro_err = 0;
	unsigned made = 0;
	for (; made < nt; made++) {
		struct serve_worker *w = &ws[made];
		w->o = o;
		w->id = made;
		w->stop_fd = stop_fd;
		w->lfd = -1;
		w->ufd = -1;
		/* The first socket fixes the port when ADDR asks for port 0. */
		if (o->tcp) {
			w->lfd = bench_listen_socket(&addr, SOCK_STREAM);
			if (w->lfd < 0) {
				ret = w->lfd;
				break;
			}
		}
		if (o->udp) {
			w->ufd = bench_listen_socket(&addr, SOCK_DGRAM);
			if (w->ufd >= 0)
				bench_set_rcvbuf(w->ufd, SERVE_UDP_RCVBUF);
			if (w->ufd >= 0 && !o->no_gro) {
				int one = 1;
				if (setsockopt(w->ufd, SOL_UDP, UDP_GRO, &one, sizeof(one)) != 0) {
					gro_err = -errno;
					close(w->ufd);
					w->ufd = gro_err;
				}
			}
			if (w->ufd < 0) {
				ret = w->ufd;
				if (w->lfd >= 0)
					close(w->lfd);
				break;
			}
		}
	}
	char text[NLB_ADDRSTRLEN];
	nlb_addr_format((const struct sockaddr *)&addr.ss, text, sizeof(text));
	if (ret < 0 && gro_err) {
		fprintf(stderr, "nlb-bench serve: cannot enable UDP_GRO on %s: %s (serve --no-gro "
			"works without it)\n", text, strerror(-ret));
		goto out;
	}
	if (ret < 0) {
		fprintf(stderr, "nlb-bench serve: cannot listen on %s: %s\n", text, strerror(-ret));
		goto out;
	}

	sigset_t old;
	bench_sys_block_signals(&old);
	unsigned started = 0;
	for (; started < nt; started++) {
		ret = -pthread_create(&ws[started].tid, NULL, worker_main, &ws[started]);
		if (ret < 0) {
			fprintf(stderr, "nlb-bench serve: pthread_create: %s\n", strerror(-ret));
			break;
		}
	}
	if (ret == 0) {
		fprintf(stderr, "nlb-bench serve: %s on %s%s%s\n", bench_serve_mode_name(o->serve_mode),
			text, o->udp ? (o->tcp ? " (tcp+udp)" : " (udp)") : "",
			o->udp && o->no_gro ? " without UDP GRO" : "");
		for (;;) {
			int sig = bench_sys_wait_signal(-1);
			if (sig == SIGINT || sig == SIGTERM)
				break;
			int failed = 0;
			for (unsigned i = 0; i < nt; i++)
				failed |= ws[i].err != 0;
			if (failed) {
				ret = -EIO;
				break;
			}
		}
	}
	uint64_t one = 1;
	if (write(stop_fd, &one, sizeof(one)) != sizeof(one))
		ret = ret ? ret : -errno;
	for (unsigned i = 0; i < started; i++)
		pthread_join(ws[i].tid, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
out:
	for (unsigned i = 0; i < made; i++) {
		if (ws[i].lfd >= 0)
			close(ws[i].lfd);
		if (ws[i].ufd >= 0)
			close(ws[i].ufd);
	}
	close(stop_fd);
	free(ws);
	return ret;
}
