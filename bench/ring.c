/* io_uring set-up and teardown for nlb-bench threads. */
#include "ring.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int bench_ring_init(struct bench_ring *r, unsigned sq_entries, unsigned cq_entries)
{
	static const unsigned tries[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_COOP_TASKRUN,
		0,
	};
	int ret = -EINVAL;

	memset(r, 0, sizeof(*r));
	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		struct io_uring_params p;
		memset(&p, 0, sizeof(p));
		p.flags = tries[i] | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE;
		p.cq_entries = cq_entries;
		ret = io_uring_queue_init_params(sq_entries, &r->ring, &p);
		if (ret == 0)
			return 0;
		if (ret != -EINVAL)
			break;
	}
	return ret;
}

void bench_ring_exit(struct bench_ring *r, int timeout_ms)
{
	struct io_uring_sqe *sqe = bench_sqe(r);
	io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
	io_uring_sqe_set_data64(sqe, 0);
	io_uring_submit(&r->ring);

	uint64_t deadline = nlb_clock_ns() + (uint64_t)timeout_ms * 1000000u;
	while (r->ops > 0) {
		uint64_t now = nlb_clock_ns();
		if (now >= deadline)
			break;
		struct __kernel_timespec ts;
		bench_ts_set(&ts, deadline - now);
		struct io_uring_cqe *cqe;
		int ret = io_uring_wait_cqe_timeout(&r->ring, &cqe, &ts);
		if (ret == -ETIME)
			break;
		if (ret < 0 && ret != -EINTR)
			break;
		unsigned head, n = 0;
		io_uring_for_each_cqe(&r->ring, head, cqe) {
			bench_cqe_final(r, cqe);
			n++;
		}
		io_uring_cq_advance(&r->ring, n);
	}
	io_uring_queue_exit(&r->ring);
}

struct io_uring_sqe *bench_sqe(struct bench_ring *r)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
	if (!sqe) {
		io_uring_submit(&r->ring);
		sqe = io_uring_get_sqe(&r->ring);
		if (!sqe) {
			fprintf(stderr, "nlb-bench: io_uring submission queue stuck\n");
			abort();
		}
	}
	r->ops++;
	return sqe;
}

int bench_bufring_init(struct bench_ring *r, struct bench_bufring *b,
		       unsigned bgid, unsigned count, unsigned size)
{
	memset(b, 0, sizeof(*b));
	size_t ring_bytes = (size_t)count * sizeof(struct io_uring_buf);
	long page = sysconf(_SC_PAGESIZE);
	void *mem;
	if (posix_memalign(&mem, (size_t)page, ring_bytes) != 0)
		return -ENOMEM;
	b->br = mem;
	b->base = malloc((size_t)count * size);
	if (!b->base) {
		free(mem);
		b->br = NULL;
		return -ENOMEM;
	}
	b->count = count;
	b->size = size;
	b->bgid = bgid;

	struct io_uring_buf_reg reg;
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (unsigned long)b->br;
	reg.ring_entries = count;
	reg.bgid = (uint16_t)bgid;
	io_uring_buf_ring_init(b->br);
	int ret = io_uring_register_buf_ring(&r->ring, &reg, 0);
	if (ret != 0) {
		free(b->base);
		free(mem);
		memset(b, 0, sizeof(*b));
		return ret;
	}
	unsigned mask = io_uring_buf_ring_mask(count);
	for (unsigned i = 0; i < count; i++)
		io_uring_buf_ring_add(b->br, bench_buf(b, i), size, (unsigned short)i,
				      mask, (int)i);
	io_uring_buf_ring_advance(b->br, (int)count);
	return 0;
}

void bench_bufring_free(struct bench_ring *r, struct bench_bufring *b)
{
	if (!b->br)
		return;
	if (r)
		io_uring_unregister_buf_ring(&r->ring, (int)b->bgid);
	free(b->base);
	free(b->br);
	memset(b, 0, sizeof(*b));
}

void bench_buf_recycle(struct bench_bufring *b, unsigned bid)
{
	io_uring_buf_ring_add(b->br, bench_buf(b, bid), b->size, (unsigned short)bid,
			      io_uring_buf_ring_mask(b->count), 0);
	io_uring_buf_ring_advance(b->br, 1);
	b->out--;
}
