/* A worker's TCP connections, from accept to close: connect with timeout
 * and retries, forwarding by copy or splice, half-close, resets, idle
 * timeout.  Called by the worker's completion dispatch. */
#ifndef NLB_TCP_PROXY_H
#define NLB_TCP_PROXY_H

#include <liburing.h>

#include "core/worker.h"

int tcp_worker_init(struct worker *w);
/* After a reload: the flow table, once some group uses maglev.  0 or
 * -ENOMEM. */
int tcp_worker_sync(struct worker *w);
void tcp_worker_free(struct worker *w);

/* A client connection accepted on listener lidx. */
void tcp_accept(struct worker *w, uint32_t lidx, int fd);

/* A completion for connection slot idx (op and generation in user_data). */
void tcp_complete(struct worker *w, const struct io_uring_cqe *cqe);

/* Housekeeping: idle timeouts, and resets at the shutdown deadline. */
void tcp_tick(struct worker *w);
void tcp_reset_all(struct worker *w);

/* Resets the connections to targets whose deregistration delay passed. */
void tcp_reset_drained(struct worker *w);

/* After buffers came back: re-arm receives that ran out of them. */
void tcp_rearm_starved(struct worker *w);

/* Resets a socket we are done with (SO_LINGER 0, close). */
void tcp_close_reset(int fd);

#endif
