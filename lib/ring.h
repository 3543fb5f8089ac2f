/* io_uring setup for one worker: creation with the best flags this
 * kernel accepts, the feature probe, the provided-buffer ring, and the
 * constants liburing 2.3 lacks. */
#ifndef NLB_RING_H
#define NLB_RING_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

struct nlb_ring_features {
	bool single_issuer;	/* IORING_SETUP_SINGLE_ISSUER */
	bool defer_taskrun;	/* IORING_SETUP_DEFER_TASKRUN */
	bool coop_taskrun;
	bool ring_fd_registered;
	bool buf_ring;		/* IORING_REGISTER_PBUF_RING */
	bool recv_multishot;
	bool accept_multishot;
	bool poll_multishot;
};

/* Creates ring with sq/cq sizes, trying SINGLE_ISSUER|DEFER_TASKRUN
 * first and falling back.  Must run on the thread that will submit. */
int nlb_ring_init(struct io_uring *ring, unsigned sq, unsigned cq,
		  struct nlb_ring_features *feat);

/* Every SQE for the caller; submits and retries once when the SQ is full. */
struct io_uring_sqe *nlb_ring_sqe(struct io_uring *ring);

/* A provided-buffer ring of count buffers of size bytes each, all
 * posted to the kernel.  count must be a power of two <= 32768. */
struct nlb_bufring {
	struct io_uring_buf_ring *br;
	unsigned char *base;
	unsigned count, size, mask;
	unsigned pending;	/* added since the last advance */
	int bgid;
};

int nlb_bufring_init(struct io_uring *ring, struct nlb_bufring *b,
		     int bgid, unsigned count, unsigned size);
void nlb_bufring_free(struct io_uring *ring, struct nlb_bufring *b);

static inline unsigned char *nlb_bufring_addr(const struct nlb_bufring *b, unsigned bid)
{
	return b->base + (size_t)bid * b->size;
}

/* Gives a buffer back; visible to the kernel after nlb_bufring_flush. */
static inline void nlb_bufring_recycle(struct nlb_bufring *b, unsigned bid)
{
	io_uring_buf_ring_add(b->br, nlb_bufring_addr(b, bid), b->size, (unsigned short)bid,
			      (int)b->mask, (int)b->pending);
	b->pending++;
}

static inline void nlb_bufring_flush(struct nlb_bufring *b)
{
	if (b->pending) {
		io_uring_buf_ring_advance(b->br, (int)b->pending);
		b->pending = 0;
	}
}

#endif
