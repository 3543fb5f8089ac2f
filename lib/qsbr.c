/* Quiescent-state-based reclamation: an epoch counter the writer
 * advances, and one cache line per reader where it publishes the epoch
 * it last saw at a quiescent point.  Readers pay one load and one store
 * per loop iteration, on their own line; the writer only compares. */
#include "qsbr.h"

#include <errno.h>
#include <stdlib.h>

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
