/* io_uring plumbing shared by the nlb-bench server and clients: ring set-up
 * with fallbacks, provided-buffer rings, user_data packing, SQE allocation
 * that never fails, and a count of requests still owed a final completion
 * (so a thread can cancel everything and wait before freeing memory). */
#ifndef BENCH_RING_H
#define BENCH_RING_H

#include <liburing.h>
#include <stdint.h>
#include <time.h>

#include "clock.h"

/* liburing 2.3 lacks these; the kernel (5.19+) has them. */
#ifndef IORING_ASYNC_CANCEL_ANY
#define IORING_ASYNC_CANCEL_ANY (1U << 2)
#endif

struct bench_ring {
	struct io_uring ring;
	/* Requests submitted whose last CQE (one without IORING_CQE_F_MORE)
	 * has not been seen yet. */
	uint64_t ops;
};

/* Creates the ring in the calling thread: SINGLE_ISSUER | DEFER_TASKRUN
 * where the kernel has it (6.1), else COOP_TASKRUN, else plain.  cq_entries
 * is rounded up by the kernel.  0 or -errno. */
int bench_ring_init(struct bench_ring *r, unsigned sq_entries, unsigned cq_entries);

/* Cancels every request, waits up to timeout_ms for their completions
 * (calling nothing: completions are dropped), then tears the ring down. */
void bench_ring_exit(struct bench_ring *r, int timeout_ms);

/* An SQE, submitting first if the SQ is full; counts it in r->ops.  Aborts
 * if the kernel will not take any (cannot happen with SUBMIT_ALL). */
struct io_uring_sqe *bench_sqe(struct bench_ring *r);

/* To be called for every CQE: returns 1 if it is its request's last. */
static inline int bench_cqe_final(struct bench_ring *r, const struct io_uring_cqe *cqe)
{
	if (cqe->flags & IORING_CQE_F_MORE)
		return 0;
	r->ops--;
	return 1;
}

/* user_data: op (8 bits) | slot (24 bits) | generation (32 bits).  A slot's
 * generation changes when it is reused, so a stale completion is spotted. */
#define BENCH_SLOT_MAX (1u << 24)

static inline uint64_t bench_ud(unsigned op, uint32_t slot, uint32_t gen)
{
	return (uint64_t)op << 56 | (uint64_t)(slot & 0xffffff) << 32 | gen;
}

static inline unsigned bench_ud_op(uint64_t ud)
{
	return (unsigned)(ud >> 56);
}

static inline uint32_t bench_ud_slot(uint64_t ud)
{
	return (uint32_t)(ud >> 32) & 0xffffff;
}

static inline uint32_t bench_ud_gen(uint64_t ud)
{
	return (uint32_t)ud;
}

/* A provided-buffer ring of count (power of two) buffers of size bytes. */
struct bench_bufring {
	struct io_uring_buf_ring *br;
	char *base;
	unsigned count;
	unsigned size;
	unsigned bgid;
	unsigned out;		/* buffers handed to us and not yet returned */
};

int bench_bufring_init(struct bench_ring *r, struct bench_bufring *b,
		       unsigned bgid, unsigned count, unsigned size);
void bench_bufring_free(struct bench_ring *r, struct bench_bufring *b);

static inline char *bench_buf(const struct bench_bufring *b, unsigned bid)
{
	return b->base + (size_t)bid * b->size;
}

/* Gives buffer bid back to the kernel. */
void bench_buf_recycle(struct bench_bufring *b, unsigned bid);

/* Buffer id of a completion that carries one, -1 otherwise.  Counts it as
 * handed out. */
static inline int bench_cqe_buf(struct bench_bufring *b, const struct io_uring_cqe *cqe)
{
	if (!(cqe->flags & IORING_CQE_F_BUFFER))
		return -1;
	b->out++;
	return (int)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
}

static inline void bench_ts_set(struct __kernel_timespec *ts, uint64_t ns)
{
	ts->tv_sec = (long long)(ns / 1000000000u);
	ts->tv_nsec = (long long)(ns % 1000000000u);
}

#endif
