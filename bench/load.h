/* The load engine behind the client modes: a thread per -t with its own
 * ring and its share of the connections, the life of a request (begin, then
 * exactly one of ok or fail), open-loop pacing, per-request timeouts and the
 * deadline.  A mode (load_tcp.c, load_udp.c, load_udp_stream.c) supplies
 * what a request is on the wire through struct load_mode.
 *
 * Accounting, exact by construction: load_req_begin counts a request and
 * marks the connection busy; load_req_ok and load_req_fail each clear busy
 * and count a response or an error; so requests = responses + errors +
 * busy, and busy at the end is what is reported as in flight. */
#ifndef BENCH_LOAD_H
#define BENCH_LOAD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "bench_ring.h"
#include "histogram.h"
#include "options.h"
#include "user_data.h"
#include "defaults.h"

enum load_err {
	LOAD_ERR_REFUSED = 0,	/* ECONNREFUSED (TCP connect, ICMP for UDP) */
	LOAD_ERR_RESET,		/* ECONNRESET, EPIPE, ECONNABORTED, a send cut short */
	LOAD_ERR_TIMEOUT,	/* no answer within --timeout, or ETIMEDOUT */
	LOAD_ERR_SHORT,		/* closed (TCP) or too small (UDP) before the full reply */
	LOAD_ERR_OTHER,		/* anything else: EADDRNOTAVAIL, EMFILE, ENETUNREACH ... */
	LOAD_ERR_CORRUPT,	/* --verify: the whole answer came, not equal to the request */
	LOAD_ERR_KINDS,
};

enum load_op {
	LOP_NONE = 0,		/* cancellations: nothing to do */
	LOP_STOP,		/* the stop eventfd became readable (SIGINT/SIGTERM) */
	LOP_DEADLINE,
	LOP_TICK,
	LOP_TIMER,		/* a connection's pacing or back-off timer */
	LOP_CONNECT,
	LOP_SEND,
	LOP_RECV,
};

struct load_stats {
	uint64_t requests;
	uint64_t responses;
	uint64_t in_flight;
	uint64_t errors[LOAD_ERR_KINDS];
	uint64_t bytes_out;
	uint64_t bytes_in;
	uint64_t dgrams_out;	/* udp_stream: datagrams sent */
	uint64_t dgrams_in;	/* udp_stream: datagrams received, stale ones too */
	uint64_t corrupt_bytes;	/* --verify: answer bytes that differ from the request's */
	uint64_t late;		/* udp_rr: answers to requests already failed (timeout) */
	uint64_t end_ns;
};

struct load_conn {
	int fd;
	uint32_t gen;
	uint16_t pending;	/* requests in the ring for this fd (not the timer) */
	uint8_t busy;		/* a request is counted and not finished */
	uint8_t closing;	/* cancelled; the fd is closed when pending == 0 */
	uint8_t timer;		/* its timer is armed */
	uint8_t sent;		/* the request's bytes are all sent */
	uint8_t answered;	/* udp: the reply arrived (udp_stream: all of it) */
	uint8_t sending;	/* udp: sendmsgs in the ring */
	uint8_t kick_deferred;	/* udp: start the next request when it completes */
	uint8_t corrupt;	/* --verify: a byte of this answer differed */
	uint64_t origin_ns;	/* latency is measured from here */
	uint64_t started_ns;	/* when the request really started (timeouts) */
	uint64_t next_ns;	/* --rate: intended start of the next request */
	uint64_t retry_ns;	/* after an error: no new request before this */
	uint64_t got;		/* reply bytes so far (udp_stream: datagrams) */
	uint64_t seq;		/* udp, --verify: the current request's number */
	uint64_t id;		/* run-wide connection number (--verify's content) */
	/* --verify: this connection's request (tcp: req_size, udp: its
	 * payload) and where its answers land (tcp: up to LOAD_SINK_SIZE at
	 * a time; udp: the payload and one byte more, to see a longer one) */
	char *vout;
	char *vin;
	struct __kernel_timespec ts;
	/* udp: 8-byte sequence header + shared payload, both ways */
	uint64_t hdr_out;
	uint64_t hdr_in;
	struct msghdr smsg;
	struct msghdr rmsg;
	struct iovec siov[2];
	struct iovec riov[2];
	/* udp_stream: room for the UDP_GRO cmsg of a receive */
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} rctl;
};

struct load_worker;

/* What a request is for one client mode. */
struct load_mode {
	/* Prepares connection c before the start (udp: socket + receive).
	 * 0 or -errno (the run is abandoned). */
	int (*conn_init)(struct load_worker *w, struct load_conn *c);
	/* Starts a request on idle connection c; must call load_req_begin
	 * and do nothing more if that refuses. */
	void (*kick)(struct load_worker *w, struct load_conn *c);
	/* A completion of LOP_CONNECT, LOP_SEND or LOP_RECV for c; pending
	 * has already been decremented if it was the request's last. */
	void (*complete)(struct load_worker *w, struct load_conn *c, unsigned op,
			 const struct io_uring_cqe *cqe);
	/* c's request has just been failed as a timeout: drop what it left. */
	void (*expire)(struct load_worker *w, struct load_conn *c);
};

extern const struct load_mode load_mode_tcp;
/* c's send (hdr_out, then the shared payload) and receive (hdr_in, then
 * the sink) messages, as udp_rr and udp_stream both lay them out. */
void load_udp_msgs(struct load_worker *w, struct load_conn *c);
extern const struct load_mode load_mode_udp;
extern const struct load_mode load_mode_udp_stream;

/* State shared by the threads of one run. */
struct load_run {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned ready;			/* threads whose set-up is done (or failed) */
	int go;				/* set by main once start_ns is */
	int abort;			/* set with go if a thread failed */
	uint64_t start_ns;
	int stop_fd;			/* eventfd, written once to stop every thread */
	atomic_uint done;		/* threads finished */
	atomic_int aborted;		/* load_abort was called */
	uint32_t total_conns;
};

struct load_worker {
	const struct bench_opts *o;
	const struct load_mode *mode;
	struct load_run *run;
	unsigned id;
	pthread_t tid;
	int err;

	struct bench_ring ring;
	int ring_ok;
	struct load_conn *conns;
	uint32_t nconns;
	uint32_t first_conn;	/* run-wide index of conns[0] */
	uint64_t quota;		/* requests still to start (UINT64_MAX: no -n) */
	uint64_t busy;		/* connections with a request in flight */
	uint64_t interval_ns;	/* --rate: gap between one connection's requests */
	uint64_t timeout_ns;
	uint64_t tick_ns;
	uint64_t deadline_ns;	/* 0: none */
	int stopping;
	uint64_t stop_buf;

	char *sendbuf;		/* request payload, shared by all connections */
	char *sink;		/* replies are read here and never looked at */
	/* udp_stream with GSO: each connection's burst, 2 x N iovecs (its
	 * sequence number, the payload) ... */
	struct iovec *iovs;
	/* ... sent with this UDP_SEGMENT cmsg (gso_size = REQ) */
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} gso_ctl;

	struct __kernel_timespec tick_ts;
	struct __kernel_timespec deadline_ts;

	struct load_stats st;
	struct nlb_hist *hist;	/* latency, ns */

	/* --interval: latencies since the client last took them (ihist as
	 * the report's, from when each request was due; shist from when it
	 * really started, which leaves out how far an open loop fell behind
	 * its schedule), and the lock that the client and this thread
	 * (around each batch of completions) hold to read st and take them */
	struct nlb_hist *ihist;
	struct nlb_hist *shist;
	pthread_mutex_t ilock;

	/* Copies for the progress line; written by this thread only. */
	atomic_uint_fast64_t p_requests;
	atomic_uint_fast64_t p_responses;
	atomic_uint_fast64_t p_errors;
};

/* Thread body; w is filled by the caller (o, mode, run, id, conns range,
 * quota). */
void *load_worker_main(void *arg);

/* Counts a new request on c and marks it busy.  -1 (nothing counted) when
 * the thread is stopping or its -n share is used up. */
int load_req_begin(struct load_worker *w, struct load_conn *c);
void load_req_ok(struct load_worker *w, struct load_conn *c);
/* No-op when c is not busy (its request was already settled). */
void load_req_fail(struct load_worker *w, struct load_conn *c, enum load_err kind);
/* --verify: checks len answer bytes at buf, offset off of c's current
 * request; counts the bytes that differ and marks c->corrupt. */
void load_verify(struct load_worker *w, struct load_conn *c, const void *buf, uint64_t off,
		 size_t len);
/* Settles c's request whose whole answer came: ok, or corrupt when
 * load_verify marked it. */
void load_req_answered(struct load_worker *w, struct load_conn *c);

enum load_err load_err_of(int res);

/* Starts c's next request now, arms its timer for later (--rate, back-off),
 * or leaves it idle (stopping, -n used up, busy, closing). */
void load_schedule(struct load_worker *w, struct load_conn *c);

/* An SQE tagged (op, c) and counted in c->pending. */
struct io_uring_sqe *load_conn_sqe(struct load_worker *w, struct load_conn *c, unsigned op);

/* Cancels everything c has in the ring and marks it closing. */
void load_conn_cancel(struct load_worker *w, struct load_conn *c);

/* The run cannot go on (the kernel lacks something it needs): the first
 * thread to call it prints why, every thread stops, and the run ends with
 * err (-EIO: already said). */
void load_abort(struct load_worker *w, int err, const char *why);

#endif
