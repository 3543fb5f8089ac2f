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
	GW_OP_HANDOFF,				/* another worker handed returns over (idx: its id) */
	GW_OP_HANDOFF_WAKE,			/* telling the owner failed (only then a completion) */
	GW_OP_END,
};

/* TUN reads in flight per gateway per worker, each a packet's room. */
#define GW_BUFS 32
/* A TUN packet up to the MTU and the GENEVE header before it. */
#define GW_BUF_SIZE (40 + 9216)
/* Returned packets: a provided-buffer ring per gateway per worker, filled
 * by one multishot receive; a buffer is given back once the inner
 * packets in it are in the TUN.  Room for recvmsg's header, the sender's
 * address and the UDP_GRO control message before the datagram, or the
 * GRO batch of up to 64 KiB (its pages are touched only as data lands). */
#define GW_RBUF_COUNT 256
#define GW_RBUF_HEADROOM 128
#define GW_RBUF_SIZE (GW_RBUF_HEADROOM + GW_BUF_SIZE)
#define GW_RBUF_SIZE_GRO (GW_RBUF_HEADROOM + 65536)
/* A hand-off ring between two workers: room for a GRO batch or two. */
#define GW_HANDOFF_RING (256 * 1024)

/* Buffer groups: the TCP and UDP modules have 0 and 1; gateway slot l
 * has GW_BUF_GROUP + l. */
#define GW_BUF_GROUP 16

struct gw_buf {
	uint8_t *data;
	struct sockaddr_storage peer;	/* the appliance it goes to */
	socklen_t peer_len;
	uint32_t target;		/* ... its slot in the group */
	uint16_t len;			/* the GENEVE packet's length */
	bool busy;			/* read into, queued or sent */
	bool alone;			/* sent without GSO: a batch it was in was refused */
};

/* One sendmsg to an appliance: a GENEVE packet, or several of one size
 * (the last may be shorter) as one GSO send. */
struct gw_send {
	struct msghdr msg;
	struct iovec iov[GW_BUFS];
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} ctl;
	uint8_t buf[GW_BUFS];		/* the gw_bufs it carries */
	uint8_t n;
	bool busy;
};

/* A worker's side of one gateway. */
struct gw_listener {
	int tun_fd;			/* this worker's queue of the TUN device */
	int udp_fd;			/* this worker's GENEVE socket (SO_REUSEPORT) */
	bool closing;
	uint32_t inflight;
	struct nlb_flowtab *tcp, *other;	/* flow -> appliance slot */
	struct gw_buf out[GW_BUFS];	/* TUN reads, then sends */
	uint8_t pending[GW_BUFS];	/* read, to be sent at the batch's end */
	uint8_t n_pending;
	struct gw_send sends[GW_BUFS];
	/* The longest packet sent in GSO batches: one less than the
	 * shortest the kernel refused (the path to an appliance is
	 * narrower than its segments; single packets get fragmented). */
	uint16_t gso_max;
	struct nlb_bufring rbufs;	/* receives, then TUN writes */
	uint8_t rrefs[GW_RBUF_COUNT];	/* TUN writes still reading each buffer */
	bool gro;			/* receives may be GRO batches */
	struct msghdr rmsg;		/* the multishot receive's layout */
	bool recv_armed;		/* the multishot receive is in the ring */
	bool starved;			/* it ended for want of buffers: re-armed once some are back */
	struct gw_buf icmp;		/* an ICMP answer being written */
	uint64_t wake[4];		/* workers handed returns this batch (a bit each) */
	bool waking;			/* some bit of wake is set */
	uint8_t *handoff_buf;		/* a handed-over return, read from its ring */
};

struct gw_worker {
	uint32_t n_gateways;		/* slots this worker serves */
};

#endif
