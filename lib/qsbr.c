/* Quiescent-state-based reclamation: an epoch counter the writer
 * advances, and one cache line per reader where it publishes the epoch
 * it last saw at a quiescent point.  Readers pay one load and one store
 * per loop iteration, on their own line; only the writer waits. */
#include "qsbr.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int nlb_qsbr_init(struct nlb_qsbr *q, unsigned n_readers)
{
	q->readers = aligned_alloc(64, (n_readers ? n_readers : 1) * sizeof(*q->readers));
	if (!q->readers)
		return -ENOMEM;
	q->n_readers = n_readers;
	atomic_init(&q->epoch, 1);
	for (unsigned i = 0; i < n_readers; i++)
		atomic_init(&q->readers[i].seen, 1);
	return 0;
}

void nlb_qsbr_free(struct nlb_qsbr *q)
{
	free(q->readers);
	q->readers = NULL;
}

int nlb_qsbr_synchronize(struct nlb_qsbr *q, unsigned timeout_ms)
{
	uint64_t target = atomic_fetch_add_explicit(&q->epoch, 1, memory_order_seq_cst) + 1;
	struct timespec nap = { 0, 200000 };	/* 0.2 ms: a worker loop turns faster */
	uint64_t deadline = now_ms() + timeout_ms;
	for (unsigned r = 0; r < q->n_readers; r++) {
		while (atomic_load_explicit(&q->readers[r].seen, memory_order_seq_cst) < target) {
			if (now_ms() >= deadline)
				return -ETIMEDOUT;
			nanosleep(&nap, NULL);
		}
	}
	return 0;
}

uint64_t nlb_qsbr_advance(struct nlb_qsbr *q)
{
	return atomic_fetch_add_explicit(&q->epoch, 1, memory_order_seq_cst) + 1;
}

bool nlb_qsbr_passed(const struct nlb_qsbr *q, uint64_t epoch)
{
	for (unsigned r = 0; r < q->n_readers; r++) {
		if (atomic_load_explicit(&q->readers[r].seen, memory_order_seq_cst) < epoch)
			return false;
	}
	return true;
}
