/* io_uring setup for one thread's ring (nlb's workers, nlb-bench's
 * threads): creation with the best flags this kernel accepts, the feature
 * probe, restrictions of what a ring may do, the SQE getter,
 * cancel-and-drain before teardown, timeouts' timespec, and the
 * provided-buffer ring. */
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
	bool min_wait;		/* IORING_FEAT_MIN_TIMEOUT (6.12): waits with a minimum */
	bool recv_bundle;	/* IORING_FEAT_RECVSEND_BUNDLE (6.10), on a kernel without
				 * 6.13.11-6.14's out-of-order buffers */
};

/* Whether a kernel of this release (uname -r) hands receive-bundle
 * buffers back out of ring order: 6.13.11 to 6.14.  Unparseable: true. */
bool nlb_ring_bundle_order_broken(const char *release);

/* Creates ring with sq/cq sizes, trying SINGLE_ISSUER|DEFER_TASKRUN
 * first and falling back.  Must run on the thread that will submit. */
int nlb_ring_init(struct io_uring *ring, unsigned sq, unsigned cq,
		  struct nlb_ring_features *feat);

/* What a restricted ring may do once enabled: seccomp does not see
 * io_uring's operations, so a process that filters its system calls
 * limits its rings too.  Everything not listed is refused. */
struct nlb_ring_restrictions {
	const uint8_t *sqe_ops;		/* IORING_OP_* that SQEs may carry */
	size_t n_sqe_ops;
	const uint8_t *register_ops;	/* IORING_(UN)REGISTER_* allowed after enabling */
	size_t n_register_ops;
	uint8_t sqe_flags;		/* IOSQE_* an SQE may carry */
};

/* Restrictions one ring takes at most (nlb_ring_init_restricted). */
#define NLB_RING_MAX_RESTRICTIONS 96

/* nlb_ring_init with the ring created disabled (IORING_SETUP_R_DISABLED),
 * restricted to r once probed and its fd registered, then enabled (r NULL:
 * nlb_ring_init).  Enabling makes the calling thread a SINGLE_ISSUER
 * ring's submitter: call it on that thread.  -errno when the kernel
 * refuses any step; there is then no ring to free. */
int nlb_ring_init_restricted(struct io_uring *ring, unsigned sq, unsigned cq,
			     struct nlb_ring_features *feat, const struct nlb_ring_restrictions *r);

/* Submits what is queued and waits, in one io_uring_enter, for wait_nr
 * completions, or for at least one once min_wait_us has passed, or for
 * timeout_ns in all (then -ETIME).  min_wait_us is ignored without
 * feat->min_wait (then it waits for wait_nr or the timeout).  Returns
 * what io_uring_enter returns (submitted SQEs) or -errno. */
int nlb_ring_submit_and_wait_batch(struct io_uring *ring, const struct nlb_ring_features *feat,
				   unsigned wait_nr, unsigned min_wait_us, uint64_t timeout_ns);

/* Every SQE for the caller; submits and retries once when the SQ is full. */
struct io_uring_sqe *nlb_ring_sqe(struct io_uring *ring);

/* Cancels every request in ring, then reaps and drops completions until
 * *inflight is 0 or timeout_ms has passed.  *inflight is the caller's count
 * of requests still owed their final completion (one without
 * IORING_CQE_F_MORE): each final one reaped takes one off; the cancel
 * counts itself in.  For a thread that must not free what its requests
 * point into while the kernel may still write there.  The ring stays up.
 * 0, -ETIME when the time ran out first, or -errno. */
int nlb_ring_cancel_all(struct io_uring *ring, uint64_t *inflight, int timeout_ms);

/* ns as the timespec an io_uring timeout takes (relative, or absolute on
 * CLOCK_MONOTONIC with IORING_TIMEOUT_ABS, the clock of lib/clock.h). */
static inline struct __kernel_timespec nlb_ring_timespec(uint64_t ns)
{
	struct __kernel_timespec ts = {
		.tv_sec = (long long)(ns / 1000000000u),
		.tv_nsec = (long long)(ns % 1000000000u),
	};
	return ts;
}

/* A provided-buffer ring of count buffers of size bytes each, all
 * posted to the kernel.  count must be a power of two <= 32768. */
struct nlb_bufring {
	struct io_uring_buf_ring *br;
	unsigned char *base;
	unsigned count, size, mask;
	unsigned pending;	/* added since the last advance */
	int bgid;
	/* The ring entry each buffer was last put in: a receive bundle
	 * names its first buffer, the rest follow it in ring order. */
	uint16_t *entry_of;
};

/* A receive with IORING_RECVSEND_BUNDLE in sqe->ioprio (6.10) may fill
 * several buffers, whole but the last, in ring order. */
#define NLB_RECVSEND_BUNDLE (1U << 4)

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
	b->entry_of[bid] = (uint16_t)((b->br->tail + b->pending) & b->mask);
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

/* The buffer after bid in a receive bundle: the next entry of the ring.
 * Safe to read until bid's bundle is handled: the entries a completion
 * took are not rewritten before their buffers come back. */
static inline unsigned nlb_bufring_next(const struct nlb_bufring *b, unsigned bid)
{
	return b->br->bufs[(b->entry_of[bid] + 1u) & b->mask].bid;
}

/* The id of the buffer a completion was given, -1 if it carries none. */
static inline int nlb_bufring_cqe_bid(const struct io_uring_cqe *cqe)
{
	if (!(cqe->flags & IORING_CQE_F_BUFFER))
		return -1;
	return (int)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
}

#endif
