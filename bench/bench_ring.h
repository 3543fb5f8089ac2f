/* nlb-bench's rings: lib/ring's, plus the count of requests still owed a
 * final completion, which nlb_ring_cancel_all waits on before a thread
 * frees the memory its requests point into, and an SQE getter that
 * cannot fail. */
#ifndef BENCH_BENCH_RING_H
#define BENCH_BENCH_RING_H

#include <liburing.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "ring.h"

struct bench_ring {
	struct io_uring ring;
	/* Requests submitted whose last CQE (one without IORING_CQE_F_MORE)
	 * has not been seen yet. */
	uint64_t ops;
};

/* Creates the ring in the calling thread (nlb_ring_init: the best flags
 * the kernel takes; cq_entries is rounded up).  0 or -errno. */
static inline int bench_ring_init(struct bench_ring *r, unsigned sq_entries,
				  unsigned cq_entries)
{
	struct nlb_ring_features feat;	/* unused: nlb-bench has no fallbacks */
	r->ops = 0;
	return nlb_ring_init(&r->ring, sq_entries, cq_entries, &feat);
}

/* An SQE, submitting first if the SQ is full; counts it in r->ops.  Aborts
 * if the kernel will not take any (cannot happen with SUBMIT_ALL). */
static inline struct io_uring_sqe *bench_sqe(struct bench_ring *r)
{
	struct io_uring_sqe *sqe = nlb_ring_sqe(&r->ring);
	if (!sqe) {
		fprintf(stderr, "nlb-bench: io_uring submission queue stuck\n");
		abort();
	}
	r->ops++;
	return sqe;
}

/* To be called for every CQE: returns 1 if it is its request's last. */
static inline int bench_cqe_final(struct bench_ring *r, const struct io_uring_cqe *cqe)
{
	if (cqe->flags & IORING_CQE_F_MORE)
		return 0;
	r->ops--;
	return 1;
}

#endif
