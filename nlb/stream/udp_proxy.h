/* A worker's UDP flows: datagrams received on its SO_REUSEPORT listening
 * sockets with multishot recvmsg, a flow per client address and port
 * with its own connected socket to the chosen target, answers sent back
 * from the listener's address, idle expiry.  Called by the worker's
 * completion dispatch. */
#ifndef NLB_UDP_PROXY_H
#define NLB_UDP_PROXY_H

#include <liburing.h>

#include "core/worker.h"

/* Buffers, flow table and send contexts, when some listener is udp. */
int udp_worker_init(struct worker *w);
/* After a reload: the flow table grows to the listeners' max_flows (it
 * never shrinks), and buffers appear once some listener is UDP.  0 or
 * -ENOMEM (the worker then keeps what it had). */
int udp_worker_sync(struct worker *w);
/* Listener lidx's receive header (at start, or when a reload added it). */
void udp_listener_init(struct worker *w, uint32_t lidx);
void udp_worker_free(struct worker *w);

/* Starts receiving on listener lidx's UDP socket. */
void udp_arm_listener(struct worker *w, uint32_t lidx);

/* A completion of one of the OP_UDP_ operations. */
void udp_complete(struct worker *w, const struct io_uring_cqe *cqe);

/* Housekeeping: idle flows end. */
void udp_tick(struct worker *w);

/* Ends the flows to targets whose deregistration delay has passed. */
void udp_reset_drained(struct worker *w);

/* After buffers came back: re-arm receives that ran out of them. */
void udp_rearm_starved(struct worker *w);

#endif
