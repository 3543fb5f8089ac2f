/* A TCP connection's life, from accept to close: connect with timeout
 * and retries, forwarding by copy or splice, half-close, resets, idle
 * timeout.  Its completion handlers are listed in stream/tcp_worker.c's
 * op table. */
#ifndef NLB_STREAM_TCP_PROXY_H
#define NLB_STREAM_TCP_PROXY_H

#include "core/proto-t.h"
#include "core/worker-t.h"

/* A client connection accepted on listener lidx. */
void tcp_accept(struct worker *w, uint32_t lidx, int fd);

/* The completions of a connection's requests. */
worker_op_fn tcp_on_connect;	/* TCP_OP_CONNECT */
worker_op_fn tcp_on_timeout;	/* TCP_OP_CONNECT_TIMEOUT, TCP_OP_HEADER_TIMEOUT */
worker_op_fn tcp_on_header_poll;	/* TCP_OP_HEADER_POLL */
worker_op_fn tcp_on_recv;	/* TCP_OP_RECV */
worker_op_fn tcp_on_send;	/* TCP_OP_SEND */
worker_op_fn tcp_on_poll;	/* TCP_OP_POLL_IN, TCP_OP_POLL_OUT, TCP_OP_SPLICE_MORE */

/* Housekeeping: idle timeouts, and resets at the shutdown deadline. */
void tcp_tick(struct worker *w);
void tcp_reset_all(struct worker *w);

/* Resets the connections to targets whose deregistration delay passed. */
void tcp_reset_drained(struct worker *w);

/* After buffers came back: re-arm receives that ran out of them. */
void tcp_rearm_starved(struct worker *w);


#endif
