/* A worker's UDP flows: datagrams received on its SO_REUSEPORT listening
 * sockets with multishot recvmsg, a flow per client address and port
 * with its own connected socket to the chosen target, answers sent back
 * from the listener's address, idle expiry.  Its completion handlers are
 * listed in stream/udp_worker.c's op table. */
#ifndef NLB_STREAM_UDP_PROXY_H
#define NLB_STREAM_UDP_PROXY_H

#include "core/proto-t.h"
#include "core/worker-t.h"

/* After a reload (and at start): the listeners' idle timeouts; the flow
 * table grows to the listeners' max_flows (it never shrinks), and buffers
 * appear once some listener is UDP.  0 or -ENOMEM (the worker then keeps
 * what it had). */
int udp_worker_sync(struct worker *w);
/* Listener lidx's receive header (at start, or when a reload added it). */
void udp_listener_init(struct worker *w, uint32_t lidx);

/* Starts receiving on listener lidx's UDP socket. */
void udp_arm_listener(struct worker *w, uint32_t lidx);

worker_op_fn udp_on_listener_recv;	/* UDP_OP_RECV */
worker_op_fn udp_on_flow_recv;		/* UDP_OP_FLOW_RECV */
worker_op_fn udp_on_send;		/* UDP_OP_SEND */
worker_op_fn udp_on_sendmsg;		/* UDP_OP_SENDMSG */

/* Housekeeping: idle flows end. */
void udp_tick(struct worker *w);

/* Ends the flows to targets whose deregistration delay has passed. */
void udp_reset_drained(struct worker *w);

/* After buffers came back: re-arm receives that ran out of them. */
void udp_rearm_starved(struct worker *w);

#endif
