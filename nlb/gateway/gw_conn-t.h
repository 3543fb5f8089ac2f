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
#include "core/proto-t.h"

/* Gateway's completions (its block of core/proto-t.h); idx = listener
 * slot << 16 | buffer. */
enum gw_op {
	GW_OP_TUN_READ = NLB_OPS_GATEWAY,	/* a packet from the TUN queue */
	GW_OP_SEND,				/* ... wrapped, sent to its appliance */
	GW_OP_RECV,				/* a packet an appliance returned */
	GW_OP_TUN_WRITE,			/* ... unwrapped, written to the TUN */
	GW_OP_ICMP_WRITE,			/* an ICMP "too big" to a sender */
	GW_OP_END,
};

/* Buffers per direction per gateway per worker, each a packet's room. */
#define GW_BUFS 32
/* A TUN packet up to the MTU and the GENEVE header before it. */
#define GW_BUF_SIZE (40 + 9216)

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
	struct gw_buf in[GW_BUFS];	/* receives, then TUN writes */
	struct gw_buf icmp;		/* an ICMP answer being written */
};

struct gw_worker {
	uint32_t n_gateways;		/* slots this worker serves */
};

#endif
