/* Quiescent-state-based reclamation for tables and configurations that
 * workers and control threads read without locks.  Each reader announces
 * once per loop iteration that it holds no reference from before; what a
 * writer swapped out is freed once every reader has announced since. */
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

/* For a writer that unpublished something: advance returns an epoch;
 * once passed() says every reader has reached it (or is offline), what
 * was unpublished before the advance may be freed.  The writer never
 * waits: nlb's control plane keeps a retired list and frees from it on
 * its own tick (nlb's target_set.c). */
uint64_t nlb_qsbr_advance(struct nlb_qsbr *q);
bool nlb_qsbr_passed(const struct nlb_qsbr *q, uint64_t epoch);

#endif
