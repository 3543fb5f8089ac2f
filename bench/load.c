/* The load engine: one thread's loop, request accounting, pacing, timeouts
 * and the deadline.  See load.h. */
#include "load.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "sys.h"
#include "verify.h"

enum load_err load_err_of(int res)
{
	switch (-res) {
	case ECONNREFUSED:
		return LOAD_ERR_REFUSED;
	case ECONNRESET:
	case EPIPE:
	case ECONNABORTED:
		return LOAD_ERR_RESET;
	case ETIMEDOUT:
		return LOAD_ERR_TIMEOUT;
	default:
		return LOAD_ERR_OTHER;
	}
}

static void publish(struct load_worker *w)
{
	uint64_t errors = 0;
	for (int k = 0; k < LOAD_ERR_KINDS; k++)
		errors += w->st.errors[k];
	atomic_store_explicit(&w->p_requests, w->st.requests, memory_order_relaxed);
	atomic_store_explicit(&w->p_responses, w->st.responses, memory_order_relaxed);
	atomic_store_explicit(&w->p_errors, errors, memory_order_relaxed);
}

int load_req_begin(struct load_worker *w, struct load_conn *c)
{
	if (w->stopping || w->quota == 0 || c->busy)
		return -1;
	if (w->quota != UINT64_MAX)
		w->quota--;
	uint64_t now = nlb_clock_ns();
	c->busy = 1;
	c->started_ns = now;
	if (w->interval_ns) {
		/* wrk2: latency counts from when the request should have gone. */
		c->origin_ns = c->next_ns;
		c->next_ns += w->interval_ns;
	} else {
		c->origin_ns = now;
	}
	c->corrupt = 0;
	w->busy++;
	w->st.requests++;
	return 0;
}

void load_req_ok(struct load_worker *w, struct load_conn *c)
{
	if (!c->busy)
		return;
	uint64_t now = nlb_clock_ns();
	c->busy = 0;
	w->busy--;
	w->st.responses++;
	uint64_t lat = now > c->origin_ns ? now - c->origin_ns : 0;
	nlb_hist_record(w->hist, lat);
	if (w->ihist) {
		nlb_hist_record(w->ihist, lat);
		nlb_hist_record(w->shist, now > c->started_ns ? now - c->started_ns : 0);
	}
}

void load_req_fail(struct load_worker *w, struct load_conn *c, enum load_err kind)
{
	if (!c->busy)
		return;
	c->busy = 0;
	w->busy--;
	w->st.errors[kind]++;
	c->retry_ns = nlb_clock_ns() + LOAD_BACKOFF_NS;
}

void load_verify(struct load_worker *w, struct load_conn *c, const void *buf, uint64_t off,
		 size_t len)
{
	size_t bad = bench_verify_diff(buf, off, len, c->id, c->seq);
	if (bad) {
		w->st.corrupt_bytes += bad;
		c->corrupt = 1;
	}
}

void load_req_answered(struct load_worker *w, struct load_conn *c)
{
	if (c->corrupt)
		load_req_fail(w, c, LOAD_ERR_CORRUPT);
	else
		load_req_ok(w, c);
}

struct io_uring_sqe *load_conn_sqe(struct load_worker *w, struct load_conn *c, unsigned op)
{
	struct io_uring_sqe *sqe = bench_sqe(&w->ring);
	io_uring_sqe_set_data64(sqe, bench_ud(op, (uint32_t)(c - w->conns), c->gen));
	c->pending++;
	return sqe;
}

void load_conn_cancel(struct load_worker *w, struct load_conn *c)
{
	if (c->closing)
		return;
	c->closing = 1;
	struct io_uring_sqe *sqe = bench_sqe(&w->ring);
	io_uring_prep_cancel_fd(sqe, c->fd, IORING_ASYNC_CANCEL_ALL);
	io_uring_sqe_set_data64(sqe, bench_ud(LOP_NONE, 0, 0));
}

void load_schedule(struct load_worker *w, struct load_conn *c)
{
	if (w->stopping || w->quota == 0 || c->busy || c->closing || c->timer)
		return;
	uint64_t at = c->retry_ns;
	if (w->interval_ns && c->next_ns > at)
		at = c->next_ns;
	if (at > nlb_clock_ns()) {
		c->ts = nlb_ring_timespec(at);
		struct io_uring_sqe *sqe = bench_sqe(&w->ring);
		io_uring_prep_timeout(sqe, &c->ts, 0, IORING_TIMEOUT_ABS);
		io_uring_sqe_set_data64(sqe, bench_ud(LOP_TIMER, (uint32_t)(c - w->conns), c->gen));
		c->timer = 1;
		return;
	}
	w->mode->kick(w, c);
}

void load_abort(struct load_worker *w, int err, const char *why)
{
	if (w->err == 0)
		w->err = err;
	if (atomic_exchange(&w->run->aborted, 1))
		return;
	nlb_err("%s", why);
	uint64_t one = 1;
	if (write(w->run->stop_fd, &one, sizeof(one)) != sizeof(one))
		nlb_err("nlb-bench: eventfd write: %s", strerror(errno));
}

static void arm_tick(struct load_worker *w)
{
	w->tick_ts = nlb_ring_timespec(w->tick_ns);
	struct io_uring_sqe *sqe = bench_sqe(&w->ring);
	io_uring_prep_timeout(sqe, &w->tick_ts, 0, 0);
	io_uring_sqe_set_data64(sqe, bench_ud(LOP_TICK, 0, 0));
}

/* Fails every request older than the timeout. */
static void on_tick(struct load_worker *w)
{
	uint64_t now = nlb_clock_ns();
	for (uint32_t i = 0; i < w->nconns && w->busy > 0; i++) {
		struct load_conn *c = &w->conns[i];
		if (!c->busy || now - c->started_ns < w->timeout_ns)
			continue;
		load_req_fail(w, c, LOAD_ERR_TIMEOUT);
		w->mode->expire(w, c);
		load_schedule(w, c);
	}
	arm_tick(w);
}

static void stop(struct load_worker *w)
{
	if (w->stopping)
		return;
	w->stopping = 1;
	w->st.end_ns = nlb_clock_ns();
}

static void dispatch(struct load_worker *w, const struct io_uring_cqe *cqe)
{
	uint64_t ud = cqe->user_data;
	unsigned op = bench_ud_op(ud);
	int final = bench_cqe_final(&w->ring, cqe);

	switch (op) {
	case LOP_NONE:
		return;
	case LOP_STOP:
	case LOP_DEADLINE:
		stop(w);
		return;
	case LOP_TICK:
		if (!w->stopping)
			on_tick(w);
		return;
	default:
		break;
	}

	uint32_t slot = bench_ud_slot(ud);
	struct load_conn *c = slot < w->nconns ? &w->conns[slot] : NULL;
	if (!c || c->gen != bench_ud_gen(ud)) {
		nlb_warn("nlb-bench: stale completion op=%u slot=%u", op, slot);
		return;
	}
	if (op == LOP_TIMER) {
		c->timer = 0;
		load_schedule(w, c);
		return;
	}
	if (final)
		c->pending--;
	w->mode->complete(w, c, op, cqe);
}

static int setup(struct load_worker *w)
{
	const struct bench_opts *o = w->o;
	unsigned cq = w->nconns * 4u + 64u;
	if (cq < 2 * LOAD_SQ_ENTRIES)	/* the kernel wants cq >= sq */
		cq = 2 * LOAD_SQ_ENTRIES;
	if (cq > LOAD_CQ_MAX)
		cq = LOAD_CQ_MAX;
	int ret = bench_ring_init(&w->ring, LOAD_SQ_ENTRIES, cq);
	if (ret < 0)
		return ret;
	w->ring_ok = 1;

	w->hist = nlb_hist_new();
	w->sendbuf = malloc(o->req_size);
	w->sink = malloc(LOAD_SINK_SIZE);
	w->conns = calloc(w->nconns, sizeof(*w->conns));
	if (!w->hist || !w->sendbuf || !w->sink || !w->conns)
		return -ENOMEM;
	for (size_t i = 0; i < o->req_size; i++)
		w->sendbuf[i] = (char)('A' + i % 26);
	w->timeout_ns = o->timeout_ms * 1000000u;
	w->tick_ns = w->timeout_ns / LOAD_TICK_DIV;
	if (w->tick_ns < LOAD_TICK_MIN_NS)
		w->tick_ns = LOAD_TICK_MIN_NS;
	if (w->tick_ns > LOAD_TICK_MAX_NS)
		w->tick_ns = LOAD_TICK_MAX_NS;
	if (o->rate > 0) {
		double gap = (double)w->run->total_conns * 1e9 / o->rate;
		w->interval_ns = gap < 1.0 ? 1 : (uint64_t)gap;
	}
	if (o->interval_s > 0 && (!(w->ihist = nlb_hist_new()) || !(w->shist = nlb_hist_new())))
		return -ENOMEM;
	for (uint32_t i = 0; i < w->nconns; i++) {
		struct load_conn *c = &w->conns[i];
		c->fd = -1;
		c->id = w->first_conn + i;
		if (o->verify) {
			/* tcp: the request whole, answers a chunk at a time;
			 * udp: the payload after the sequence number, and
			 * one byte more for an answer too long */
			int udp = o->mode == BENCH_UDP_RR;
			size_t out = udp ? o->req_size - sizeof(c->hdr_out) : o->req_size;
			size_t in = udp ? out + 1 :
				o->resp_size < LOAD_SINK_SIZE ? o->resp_size : LOAD_SINK_SIZE;
			c->vout = malloc(out);
			c->vin = malloc(in);
			if (!c->vout || !c->vin)
				return -ENOMEM;
		}
		ret = w->mode->conn_init(w, c);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static void teardown(struct load_worker *w)
{
	if (w->ring_ok) {
		nlb_ring_cancel_all(&w->ring.ring, &w->ring.ops, LOAD_DRAIN_MS);
		io_uring_queue_exit(&w->ring.ring);
	}
	w->ring_ok = 0;
	if (w->conns) {
		for (uint32_t i = 0; i < w->nconns; i++) {
			if (w->conns[i].fd >= 0)
				close(w->conns[i].fd);
			free(w->conns[i].vout);
			free(w->conns[i].vin);
		}
	}
	free(w->conns);
	w->conns = NULL;
	free(w->sendbuf);
	w->sendbuf = NULL;
	free(w->sink);
	w->sink = NULL;
	free(w->iovs);
	w->iovs = NULL;
}

static void run_loop(struct load_worker *w)
{
	struct load_run *run = w->run;
	uint64_t start = run->start_ns;

	struct io_uring_sqe *sqe = bench_sqe(&w->ring);
	io_uring_prep_poll_add(sqe, run->stop_fd, POLLIN);
	io_uring_sqe_set_data64(sqe, bench_ud(LOP_STOP, 0, 0));
	if (w->o->duration_s > 0) {
		w->deadline_ns = start + (uint64_t)(w->o->duration_s * 1e9);
		w->deadline_ts = nlb_ring_timespec(w->deadline_ns);
		sqe = bench_sqe(&w->ring);
		io_uring_prep_timeout(sqe, &w->deadline_ts, 0, IORING_TIMEOUT_ABS);
		io_uring_sqe_set_data64(sqe, bench_ud(LOP_DEADLINE, 0, 0));
	}
	arm_tick(w);

	/* --rate: connection g of the run starts at start + g * (1 / rate),
	 * so the whole run's requests are evenly spread from the first. */
	if (w->ihist)
		pthread_mutex_lock(&w->ilock);
	for (uint32_t i = 0; i < w->nconns; i++) {
		struct load_conn *c = &w->conns[i];
		c->next_ns = start + (w->first_conn + i) * (w->interval_ns / run->total_conns);
		load_schedule(w, c);
	}
	if (w->ihist)
		pthread_mutex_unlock(&w->ilock);

	for (;;) {
		if (w->quota == 0 && w->busy == 0)
			stop(w);
		if (w->stopping)
			break;
		int ret = io_uring_submit_and_wait(&w->ring.ring, 1);
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
			nlb_err("nlb-bench: thread %u: io_uring_enter: %s", w->id, strerror(-ret));
			w->err = ret;
			stop(w);
			break;
		}
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;
		if (w->ihist)
			pthread_mutex_lock(&w->ilock);
		io_uring_for_each_cqe(&w->ring.ring, head, cqe) {
			dispatch(w, cqe);
			n++;
		}
		io_uring_cq_advance(&w->ring.ring, n);
		if (w->ihist)
			pthread_mutex_unlock(&w->ilock);
		publish(w);
		/* The deadline CQE can sit behind a long batch: look at the
		 * clock too. */
		if (w->deadline_ns && nlb_clock_ns() >= w->deadline_ns)
			stop(w);
	}
	if (w->ihist)
		pthread_mutex_lock(&w->ilock);
	w->st.in_flight = w->busy;
	if (w->ihist)
		pthread_mutex_unlock(&w->ilock);
	publish(w);
}

void *load_worker_main(void *arg)
{
	struct load_worker *w = arg;
	struct load_run *run = w->run;

	int ret = setup(w);
	if (ret < 0) {
		w->err = ret;
		nlb_err("nlb-bench: thread %u: set-up failed: %s", w->id, strerror(-ret));
	}
	pthread_mutex_lock(&run->lock);
	run->ready++;
	pthread_cond_broadcast(&run->cond);
	while (!run->go)
		pthread_cond_wait(&run->cond, &run->lock);
	int abort_run = run->abort;
	pthread_mutex_unlock(&run->lock);
	if (ret == 0 && !abort_run)
		run_loop(w);
	teardown(w);
	atomic_fetch_add(&run->done, 1);
	bench_sys_wake_main();
	return NULL;
}
