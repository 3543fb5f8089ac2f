/* Gateway mode's types (doc/gateway.md): what a worker keeps for each
 * gateway it serves: its TUN queue and GENEVE socket, the buffers that
 * packets move through, and its flows. */
#ifndef NLB_GATEWAY_GW_CONN_T_H
#define NLB_GATEWAY_GW_CONN_T_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "flowtab.h"
#include "ring.h"
#include "core/proto-t.h"

/* Gateway's completions (its block of core/proto-t.h); idx = listener
 * slot << 16 | buffer (a TUN read's, or the receive ring's buffer id). */
enum gw_op {
	GW_OP_TUN_READ = NLB_OPS_GATEWAY,	/* a packet from the TUN queue */
	GW_OP_SEND,				/* ... wrapped, sent to its appliance */
	GW_OP_RECV,				/* packets appliances returned (multishot) */
	GW_OP_TUN_WRITE,			/* ... unwrapped, written to the TUN */
	GW_OP_ICMP_WRITE,			/* an ICMP "too big" to a sender */
	GW_OP_END,
};

/* TUN reads in flight per gateway per worker, each a packet's room. */
#define GW_BUFS 32
/* A TUN packet up to the MTU and the GENEVE header before it. */
#define GW_BUF_SIZE (40 + 9216)
/* Returned packets: a provided-buffer ring per gateway per worker, filled
 * by one multishot receive; a buffer is given back once its inner packet
 * is in the TUN.  Room for recvmsg's header and the sender's address
 * before the datagram. */
#define GW_RBUF_COUNT 256
#define GW_RBUF_SIZE (64 + GW_BUF_SIZE)
/* Buffer groups: the TCP and UDP modules have 0 and 1; gateway slot l
 * has GW_BUF_GROUP + l. */
#define GW_BUF_GROUP 16

struct gw_buf {
	uint8_t *data;
	struct msghdr msg;
	struct iovec iov;
	struct sockaddr_storage peer;	/* the appliance sent to, or returned from */
	bool busy;			/* an operation on it is in the ring */
};

/* A worker's side of one gateway. */
struct gw_listener {
	int tun_fd;			/* this worker's queue of the TUN device */
	int udp_fd;			/* this worker's GENEVE socket (SO_REUSEPORT) */
	bool closing;
	uint32_t inflight;
	struct nlb_flowtab *tcp, *other;	/* flow -> appliance slot */
	struct gw_buf out[GW_BUFS];	/* TUN reads, then sends */
	struct nlb_bufring rbufs;	/* receives, then TUN writes */
	struct msghdr rmsg;		/* the multishot receive's layout */
	bool recv_armed;		/* the multishot receive is in the ring */
	bool starved;			/* it ended for want of buffers: re-armed once some are back */
	struct gw_buf icmp;		/* an ICMP answer being written */
};

struct gw_worker {
	uint32_t n_gateways;		/* slots this worker serves */
};

#endif
