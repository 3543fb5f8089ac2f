/* What a worker offers the protocol modules it runs: its ring, its
 * counter rows, cancelling what is armed on a descriptor, and noting a
 * completion that names a slot no longer there.  The loop that drives
 * all of it is core/loop.c. */
#ifndef NLB_CORE_WORKER_H
#define NLB_CORE_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/worker-t.h"

/* Queues the cancel of every request on fd (close(2) would not cancel
 * them); the fd must stay open until the cancel is submitted. */
void worker_cancel_fd(struct worker *w, int fd);

/* Closes fd with the ring's next submission: no syscall of its own. */
void worker_ring_close(struct worker *w, int fd);
/* A socket of a connection: TCP_NODELAY on; SO_LINGER 0, so that its
 * close sends a reset; closed at once with a reset. */
void worker_set_nodelay(int fd);
void worker_set_linger0(int fd);
void worker_close_reset(int fd);

/* What is queued goes to the kernel now rather than with the rest of the
 * batch: called after a TLS handshake step, which costs hundreds of
 * microseconds of CPU, so that the answers of the batch's earlier
 * handshakes do not wait behind the later ones' crypto (one enter per
 * step, about 1% of it). */
void worker_submit_now(struct worker *w);

/* Stops listening on fd, one of this worker's listening sockets: cancels
 * what is armed on it and closes it (shut_rd: a TCP socket, taken out of
 * its SO_REUSEPORT group at once). */
void worker_listen_stop(struct worker *w, int fd, bool shut_rd);

/* Out of descriptors: every listener of this worker stops accepting for
 * NLB_ACCEPT_PAUSE_MS (clients wait in the backlog); an armed multishot
 * accept fails with EMFILE on its own and is not re-armed while paused. */
void worker_pause_accept(struct worker *w);

/* A completion for a slot that is gone or was taken again: logged with
 * the op's name (rate limited).  Cannot happen while a protocol counts
 * its requests in flight right. */
void worker_stale(struct worker *w, const struct io_uring_cqe *cqe);

/* This worker's counter row for listener lidx. */
static inline struct worker_stats *wstats(struct worker *w, uint32_t lidx)
{
	return &w->stats[lidx];
}

#endif
