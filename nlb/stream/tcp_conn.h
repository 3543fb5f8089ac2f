/* A worker's TCP pools: connection slots, the copy path's buffer queues
 * and send contexts, the splice path's pipes.  Pure bookkeeping on
 * struct tcp_worker: no ring operation, no counter. */
#ifndef NLB_STREAM_TCP_CONN_H
#define NLB_STREAM_TCP_CONN_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

#include "stream/tcp_conn-t.h"

/* Empty pools; with copy, the provided-buffer ring and the arrays that
 * queue its buffers.  0 or -errno (tcp_pools_free frees what was made). */
int tcp_pools_init(struct tcp_worker *t, struct io_uring *ring, bool copy);
/* Frees every pool, closing pipes; connections' descriptors are the
 * caller's. */
void tcp_pools_free(struct tcp_worker *t, struct io_uring *ring);

static inline struct conn *tcp_conn_at(const struct tcp_worker *t, uint32_t idx)
{
	return nlb_slot_at(&t->conns, idx);
}

/* A fresh connection: no descriptors, no queued bytes, no pipe; NULL
 * when out of memory. */
struct conn *tcp_conn_alloc(struct tcp_worker *t);
/* Gives c's slot back (its generation moves on); c holds nothing now. */
void tcp_conn_free(struct tcp_worker *t, struct conn *c);

/* A buffer of the ring back to the kernel (at the batch's end). */
void tcp_buf_recycle(struct tcp_worker *t, uint16_t bid);
/* The buffers of one receive of len bytes, the first bid: with a bundle
 * several, whole but the last, in ring order.  Queued on h, or, with h
 * NULL, given back. */
void tcp_take_received(struct tcp_worker *t, struct half *h, uint16_t bid, uint32_t len);
/* Queues len bytes of buffer bid on h, to be sent in order. */
void tcp_half_enqueue(struct tcp_worker *t, struct half *h, uint16_t bid, uint32_t len);
/* Drops h's queue, its buffers back to the ring. */
void tcp_half_drop_queue(struct tcp_worker *t, struct half *h);

/* A sendmsg context that never moves, or NULL when out of memory. */
struct send_ctx *tcp_sctx_get(struct tcp_worker *t, uint32_t *idx);
void tcp_sctx_put(struct tcp_worker *t, uint32_t idx);

/* A pipe for h's splices, from the pool or new: 0 or -errno. */
int tcp_half_take_pipe(struct tcp_worker *t, struct half *h);
/* h's pipe back to the pool (closed instead if it still holds bytes). */
void tcp_half_release_pipe(struct tcp_worker *t, struct half *h);

#endif
