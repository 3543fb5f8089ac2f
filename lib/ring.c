/* io_uring setup for one thread's ring: flags tried from best to
 * plainest, a probe of what this kernel offers, the restrictions of a
 * ring created disabled (IORING_REGISTER_RESTRICTIONS), cancel-and-drain
 * before teardown, and the provided-buffer ring that liburing 2.3 can
 * register but not allocate. */
#include "ring.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "clock.h"

/* Kernel 6.10: receive bundles (IORING_RECVSEND_BUNDLE). */
#ifndef NLB_FEAT_RECVSEND_BUNDLE
#define NLB_FEAT_RECVSEND_BUNDLE (1U << 14)
#endif
/* Kernel 6.12: io_uring_getevents_arg.min_wait_usec is honoured. */
#ifndef NLB_FEAT_MIN_TIMEOUT
#define NLB_FEAT_MIN_TIMEOUT (1U << 15)
#endif

bool nlb_ring_bundle_order_broken(const char *release)
{
	unsigned major = 0, minor = 0, patch = 0;
	if (sscanf(release, "%u.%u.%u", &major, &minor, &patch) < 2)
		return true;	/* unknown: do without bundles */
	return major == 6 && ((minor == 13 && patch >= 11) || minor == 14);
}

/* Receive bundles handed buffers back out of ring order on 6.13.11 to
 * 6.14 (liburing issues 1409 and 1423); nlb reads the order from the
 * ring, so it does without bundles there. */
static bool bundle_order_broken(void)
{
	struct utsname u;
	return uname(&u) < 0 || nlb_ring_bundle_order_broken(u.release);
}

/* Limits r, on a ring created disabled, then enables it: from then on
 * an SQE of another opcode, or with a flag outside r->sqe_flags,
 * completes with -EACCES, and another register op fails with EACCES.
 * Enabling makes the calling thread a SINGLE_ISSUER ring's submitter. */
static int restrict_and_enable(struct io_uring *ring, const struct nlb_ring_restrictions *r)
{
	struct io_uring_restriction res[NLB_RING_MAX_RESTRICTIONS];
	size_t n = 0;
	if (r->n_sqe_ops + r->n_register_ops + 1 > NLB_RING_MAX_RESTRICTIONS)
		return -E2BIG;
	memset(res, 0, sizeof(res));
	for (size_t i = 0; i < r->n_sqe_ops; i++) {
		res[n].opcode = IORING_RESTRICTION_SQE_OP;
		res[n++].sqe_op = r->sqe_ops[i];
	}
	for (size_t i = 0; i < r->n_register_ops; i++) {
		res[n].opcode = IORING_RESTRICTION_REGISTER_OP;
		res[n++].register_op = r->register_ops[i];
	}
	/* Without this no flag at all is allowed: restrictions allow, they
	 * do not deny. */
	res[n].opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED;
	res[n++].sqe_flags = r->sqe_flags;
	/* liburing 2.3 declares helpers for both but its library lacks
	 * them: io_uring_register(2) directly. */
	if (syscall(__NR_io_uring_register, ring->ring_fd, IORING_REGISTER_RESTRICTIONS, res,
		    (unsigned)n) < 0)
		return -errno;
	if (syscall(__NR_io_uring_register, ring->ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL,
		    0) < 0)
		return -errno;
	return 0;
}

int nlb_ring_init(struct io_uring *ring, unsigned sq, unsigned cq,
		  struct nlb_ring_features *feat)
{
	return nlb_ring_init_restricted(ring, sq, cq, feat, NULL);
}

int nlb_ring_init_restricted(struct io_uring *ring, unsigned sq, unsigned cq,
			     struct nlb_ring_features *feat, const struct nlb_ring_restrictions *r)
{
	/* DEFER_TASKRUN (6.1) runs completions only when we enter the
	 * kernel to wait, in our thread: no IPIs, batched task work.
	 * COOP_TASKRUN (5.19) is the next best; plain rings still work. */
	static const unsigned tries[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
		0,
	};
	memset(feat, 0, sizeof(*feat));
	int ret = -EINVAL;
	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		struct io_uring_params p;
		memset(&p, 0, sizeof(p));
		p.flags = tries[i] | IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL |
			  IORING_SETUP_CLAMP | (r ? IORING_SETUP_R_DISABLED : 0);
		p.cq_entries = cq;
		ret = io_uring_queue_init_params(sq, ring, &p);
		if (ret == -EINVAL)
			continue;
		if (ret < 0)
			return ret;
		feat->min_wait = (p.features & NLB_FEAT_MIN_TIMEOUT) != 0;
		feat->recv_bundle = (p.features & NLB_FEAT_RECVSEND_BUNDLE) != 0 &&
				    !bundle_order_broken();
		feat->single_issuer = (tries[i] & IORING_SETUP_SINGLE_ISSUER) != 0;
		feat->defer_taskrun = (tries[i] & IORING_SETUP_DEFER_TASKRUN) != 0;
		feat->coop_taskrun = (tries[i] & IORING_SETUP_COOP_TASKRUN) != 0;
		break;
	}
	if (ret < 0)
		return ret;

	feat->ring_fd_registered = io_uring_register_ring_fd(ring) == 1;

	/* Multishot accept and provided-buffer rings arrived in 5.19,
	 * multishot recv in 6.0 together with IORING_OP_SEND_ZC: a probe
	 * that knows SEND_ZC therefore vouches for all of them. */
	struct io_uring_probe *probe = io_uring_get_probe_ring(ring);
	if (probe) {
		bool v6 = io_uring_opcode_supported(probe, IORING_OP_SEND_ZC);
		feat->recv_multishot = v6;
		feat->buf_ring = v6;
		feat->accept_multishot = v6;
		feat->poll_multishot = io_uring_opcode_supported(probe, IORING_OP_POLL_REMOVE);
		io_uring_free_probe(probe);
	}
	/* The probe and the ring fd's registration above need no register
	 * op of r: restrictions bind once the ring is enabled. */
	if (r && (ret = restrict_and_enable(ring, r)) < 0) {
		io_uring_queue_exit(ring);
		memset(ring, 0, sizeof(*ring));
		return ret;
	}
	return 0;
}

/* io_uring_getevents_arg as 6.12 has it: liburing 2.3's names the
 * min_wait_usec field pad. */
struct getevents_arg {
	uint64_t sigmask;
	uint32_t sigmask_sz;
	uint32_t min_wait_usec;
	uint64_t ts;
};
_Static_assert(sizeof(struct getevents_arg) == sizeof(struct io_uring_getevents_arg),
	       "the kernel's io_uring_getevents_arg");

int nlb_ring_submit_and_wait_batch(struct io_uring *ring, const struct nlb_ring_features *feat,
				   unsigned wait_nr, unsigned min_wait_us, uint64_t timeout_ns)
{
	/* What liburing's submit does before entering: publish the SQEs
	 * queued since the last submission. */
	struct io_uring_sq *sq = &ring->sq;
	unsigned tail = sq->sqe_tail;
	if (sq->sqe_head != tail) {
		sq->sqe_head = tail;
		io_uring_smp_store_release(sq->ktail, tail);
	}
	unsigned to_submit = tail - io_uring_smp_load_acquire(sq->khead);
	struct __kernel_timespec ts = nlb_ring_timespec(timeout_ns);
	struct getevents_arg arg = {
		.min_wait_usec = feat->min_wait ? min_wait_us : 0,
		.ts = (uint64_t)(uintptr_t)&ts,
	};
	unsigned flags = IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG;
	int fd = ring->ring_fd;
	if (feat->ring_fd_registered) {
		flags |= IORING_ENTER_REGISTERED_RING;
		fd = ring->enter_ring_fd;
	}
	int ret = (int)syscall(__NR_io_uring_enter, fd, to_submit, wait_nr, flags, &arg, sizeof(arg));
	return ret < 0 ? -errno : ret;
}

struct io_uring_sqe *nlb_ring_sqe(struct io_uring *ring)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	if (!sqe) {
		io_uring_submit(ring);
		sqe = io_uring_get_sqe(ring);
	}
	return sqe;
}

int nlb_ring_cancel_all(struct io_uring *ring, uint64_t *inflight, int timeout_ms)
{
	struct io_uring_sqe *sqe = nlb_ring_sqe(ring);
	if (!sqe)
		return -EBUSY;
	io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
	io_uring_sqe_set_data64(sqe, 0);
	(*inflight)++;
	/* A full CQ (EBUSY, EAGAIN) is emptied by the reaping below. */
	int ret = io_uring_submit(ring);
	if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
		return ret;

	uint64_t deadline = nlb_clock_ns() + (uint64_t)timeout_ms * 1000000u;
	while (*inflight > 0) {
		uint64_t now = nlb_clock_ns();
		if (now >= deadline)
			return -ETIME;
		struct __kernel_timespec ts = nlb_ring_timespec(deadline - now);
		struct io_uring_cqe *cqe;
		ret = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
		if (ret == -ETIME)
			return ret;
		if (ret < 0 && ret != -EINTR)
			return ret;
		unsigned head, n = 0;
		io_uring_for_each_cqe(ring, head, cqe) {
			if (!(cqe->flags & IORING_CQE_F_MORE))
				(*inflight)--;
			n++;
		}
		io_uring_cq_advance(ring, n);
	}
	return 0;
}

int nlb_bufring_init(struct io_uring *ring, struct nlb_bufring *b,
		     int bgid, unsigned count, unsigned size)
{
	if (count == 0 || (count & (count - 1)) || count > 32768)
		return -EINVAL;
	memset(b, 0, sizeof(*b));
	size_t ring_bytes = (size_t)count * sizeof(struct io_uring_buf);
	uint16_t *entry_of = calloc(count, sizeof(*entry_of));
	void *mem = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	/* Buffer memory is reserved, not touched: pages appear as data
	 * first lands in them, so an idle worker costs no resident memory. */
	void *base = mmap(NULL, (size_t)count * size, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	int ret = -ENOMEM;
	if (mem == MAP_FAILED || base == MAP_FAILED) {
		ret = -errno;
		goto fail;
	}
	if (!entry_of)
		goto fail;
	io_uring_buf_ring_init(mem);

	struct io_uring_buf_reg reg;
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (unsigned long)mem;
	reg.ring_entries = count;
	reg.bgid = (unsigned short)bgid;
	ret = io_uring_register_buf_ring(ring, &reg, 0);
	if (ret < 0)
		goto fail;
	b->br = mem;
	b->base = base;
	b->entry_of = entry_of;
	b->count = count;
	b->size = size;
	b->mask = count - 1;
	b->bgid = bgid;
	for (unsigned i = 0; i < count; i++)
		nlb_bufring_recycle(b, i);
	nlb_bufring_flush(b);
	return 0;
fail:
	if (mem != MAP_FAILED)
		munmap(mem, ring_bytes);
	if (base != MAP_FAILED)
		munmap(base, (size_t)count * size);
	free(entry_of);
	return ret;
}

void nlb_bufring_free(struct io_uring *ring, struct nlb_bufring *b)
{
	if (!b->br)
		return;
	io_uring_unregister_buf_ring(ring, b->bgid);
	munmap(b->br, (size_t)b->count * sizeof(struct io_uring_buf));
	munmap(b->base, (size_t)b->count * b->size);
	free(b->entry_of);
	memset(b, 0, sizeof(*b));
}
