/* TCP requests for tcp_rr, tcp_crr and tcp_stream.
 *
 * A request on a connection without a socket starts with the connect, so a
 * refused or reset target shows up as failed requests, never as a stall:
 *   tcp_rr      [connect] send REQ + receive RESP; the connection stays up.
 *   tcp_crr     connect, send REQ + receive RESP, close: a request is a
 *               connection, and the client closes first (TIME_WAIT on this
 *               side; loopback reuses it with net.ipv4.tcp_tw_reuse=2).
 *   tcp_stream  [connect] send one REQ-byte chunk; answered when the send
 *               completes (the kernel took it all).
 * The send and the receive are submitted together (MSG_WAITALL both); a
 * request is answered when both have completed.  On an error the
 * connection is cancelled, closed when its last completion is seen, and
 * re-opened by the next request after the back-off.
 *
 * --verify: a connection sends its own request, request c->seq of
 * connection c->id (verify.h), and reads its answer into its own buffer,
 * each chunk compared as it lands; the answer settles as corrupt when any
 * byte differed (the connection stays: every byte came, so the next
 * answer starts where it should). */
#include <errno.h>
#include <unistd.h>

#include "load.h"
#include "net.h"
#include "verify.h"

static void finish_close(struct load_worker *w, struct load_conn *c)
{
	close(c->fd);
	c->fd = -1;
	c->closing = 0;
	c->gen++;
	load_schedule(w, c);
}

static void drop(struct load_worker *w, struct load_conn *c)
{
	if (c->pending == 0)
		finish_close(w, c);
	else
		load_conn_cancel(w, c);
}

static void arm_recv(struct load_worker *w, struct load_conn *c)
{
	uint64_t left = w->o->resp_size - c->got;
	unsigned len = left < LOAD_SINK_SIZE ? (unsigned)left : LOAD_SINK_SIZE;
	struct io_uring_sqe *sqe = load_conn_sqe(w, c, LOP_RECV);
	io_uring_prep_recv(sqe, c->fd, c->vin ? c->vin : w->sink, len, MSG_WAITALL);
}

static void issue(struct load_worker *w, struct load_conn *c)
{
	struct io_uring_sqe *sqe = load_conn_sqe(w, c, LOP_SEND);
	io_uring_prep_send(sqe, c->fd, c->vout ? c->vout : w->sendbuf, w->o->req_size,
			   MSG_WAITALL | MSG_NOSIGNAL);
	if (w->o->mode != BENCH_TCP_STREAM)
		arm_recv(w, c);
}

static int tcp_conn_init(struct load_worker *w, struct load_conn *c)
{
	(void)w;
	c->fd = -1;
	return 0;
}

static void tcp_kick(struct load_worker *w, struct load_conn *c)
{
	if (load_req_begin(w, c) != 0)
		return;
	c->got = 0;
	c->sent = 0;
	c->seq++;
	if (c->vout)
		bench_verify_fill(c->vout, 0, w->o->req_size, c->id, c->seq);
	if (c->fd >= 0) {
		issue(w, c);
		return;
	}
	int fd = bench_tcp_socket(&w->o->addr);
	if (fd < 0) {
		load_req_fail(w, c, LOAD_ERR_OTHER);
		load_schedule(w, c);
		return;
	}
	c->fd = fd;
	struct io_uring_sqe *sqe = load_conn_sqe(w, c, LOP_CONNECT);
	io_uring_prep_connect(sqe, fd, (const struct sockaddr *)&w->o->addr.ss, w->o->addr.len);
}

static void answered(struct load_worker *w, struct load_conn *c)
{
	load_req_answered(w, c);
	if (w->o->mode == BENCH_TCP_CRR) {
		/* Both halves completed: nothing of c's is in the ring. */
		close(c->fd);
		c->fd = -1;
	}
	load_schedule(w, c);
}

static void tcp_complete(struct load_worker *w, struct load_conn *c, unsigned op,
			 const struct io_uring_cqe *cqe)
{
	int res = cqe->res;

	if (c->closing) {
		if (c->pending == 0)
			finish_close(w, c);
		return;
	}
	switch (op) {
	case LOP_CONNECT:
		if (res < 0) {
			load_req_fail(w, c, load_err_of(res));
			drop(w, c);
			return;
		}
		issue(w, c);
		return;
	case LOP_SEND:
		if (res < 0 || (size_t)res < w->o->req_size) {
			/* MSG_WAITALL stops short only when the connection broke. */
			load_req_fail(w, c, res < 0 ? load_err_of(res) : LOAD_ERR_RESET);
			drop(w, c);
			return;
		}
		w->st.bytes_out += (uint64_t)res;
		c->sent = 1;
		if (w->o->mode == BENCH_TCP_STREAM || c->got >= w->o->resp_size)
			answered(w, c);
		return;
	case LOP_RECV:
		if (res <= 0) {
			load_req_fail(w, c, res == 0 ? LOAD_ERR_SHORT : load_err_of(res));
			drop(w, c);
			return;
		}
		w->st.bytes_in += (uint64_t)res;
		if (c->vin)
			load_verify(w, c, c->vin, c->got, (size_t)res);
		c->got += (uint64_t)res;
		if (c->got < w->o->resp_size)
			arm_recv(w, c);
		else if (c->sent)
			answered(w, c);
		return;
	default:
		return;
	}
}

static void tcp_expire(struct load_worker *w, struct load_conn *c)
{
	/* A late reply would be taken for the next one: start afresh. */
	if (c->fd >= 0)
		drop(w, c);
}

const struct load_mode load_mode_tcp = {
	.conn_init = tcp_conn_init,
	.kick = tcp_kick,
	.complete = tcp_complete,
	.expire = tcp_expire,
};
