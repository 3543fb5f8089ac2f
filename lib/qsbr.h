/* Quiescent-state-based reclamation for tables that workers read without
 * locks.  Each worker announces once per loop iteration that it holds no
 * reference from before; a writer that swapped a pointer waits until
 * every worker has announced since the swap, then frees the old table. */
#ifndef NLB_QSBR_H
#define NLB_QSBR_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define NLB_QSBR_OFFLINE UINT64_MAX

struct nlb_qsbr_reader {
	_Atomic uint64_t seen;		/* epoch at the last quiescent point */
} __attribute__((aligned(64)));

struct nlb_qsbr {
	_Atomic uint64_t epoch;
	unsigned n_readers;
	struct nlb_qsbr_reader *readers;
};

int nlb_qsbr_init(struct nlb_qsbr *q, unsigned n_readers);
void nlb_qsbr_free(struct nlb_qsbr *q);

/* Reader r holds no table reference taken before this call. */
static inline void nlb_qsbr_quiescent(struct nlb_qsbr *q, unsigned r)
{
	atomic_store_explicit(&q->readers[r].seen,
			      atomic_load_explicit(&q->epoch, memory_order_seq_cst),
			      memory_order_seq_cst);
}

/* Reader r has stopped reading for good (a worker that exits). */
static inline void nlb_qsbr_offline(struct nlb_qsbr *q, unsigned r)
{
	atomic_store_explicit(&q->readers[r].seen, NLB_QSBR_OFFLINE, memory_order_seq_cst);
}

/* Returns 0 once every reader has passed a quiescent point after the
 * call began, or -ETIMEDOUT after timeout_ms (then nothing may be freed). */
int nlb_qsbr_synchronize(struct nlb_qsbr *q, unsigned timeout_ms);

/* The same without waiting, for a writer with its own loop: advance
 * returns an epoch; once passed() says every reader has reached it,
 * what was unpublished before advance may be freed. */
uint64_t nlb_qsbr_advance(struct nlb_qsbr *q);
bool nlb_qsbr_passed(const struct nlb_qsbr *q, uint64_t epoch);

#endif
