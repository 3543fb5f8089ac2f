/* UDP proxying's types: a flow, the send contexts datagrams leave
 * through, and what a worker and each of its listeners keep for UDP. */
#ifndef NLB_STREAM_UDP_FLOW_T_H
#define NLB_STREAM_UDP_FLOW_T_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "flowtab.h"
#include "idle_list.h"
#include "proxyproto.h"
#include "ring.h"
#include "slot_arena.h"
#include "core/proto-t.h"

/* UDP's completions (its block of core/proto-t.h). */
enum udp_op {
	UDP_OP_RECV = NLB_OPS_UDP,	/* multishot recvmsg on a listener; idx = listener */
	UDP_OP_FLOW_RECV,		/* multishot recvmsg on a flow's target socket */
	UDP_OP_SEND,			/* a datagram to a target; idx = buffer, gen = listener */
	UDP_OP_SENDMSG,			/* a datagram or GSO batch; idx = send context */
	UDP_OP_END,
};

enum udp_flow_state {
	UFLOW_FREE = 0,
	UFLOW_OPEN,
	UFLOW_CLOSING,		/* its receive is being cancelled */
};

/* A UDP flow: one client address and port on one listener, pinned to a
 * target through its own connected socket, so the kernel matches the
 * target's answers to it. */
struct udp_flow {
	struct nlb_slot slot;		/* index, generation, idle-list links */
	int fd;				/* connected to the target */
	uint32_t target;		/* slot in the group */
	uint32_t src_slot;		/* per-source limit handle (admission.c) */
	uint64_t last_ms;
	uint64_t key_hash;
	uint16_t listener;
	uint8_t group;			/* as struct conn's */
	uint8_t state;			/* enum udp_flow_state */
	uint8_t inflight;		/* the recv, while armed */
	uint8_t target_spoke;		/* an answer came (passive health) */
	uint8_t starved;		/* recv ended for lack of buffers */
	uint8_t has_local;		/* local: the address the client wrote to */
	uint8_t split_to_target;	/* GSO refused on the way: send one by one */
	uint8_t split_to_client;
	struct sockaddr_storage client;	/* as received, for answers */
	socklen_t client_len;
	struct in6_addr local;		/* wildcard listeners (IPv4 mapped) */
	uint8_t pp_len;			/* proxy_protocol v2: this header before */
	uint8_t pp_hdr[NLB_PROXYPROTO_V2_MAX_OUT];	/* each datagram to the target */
};

/* A sendmsg in flight reads these until it completes: an answer to a
 * client (its address, IP_PKTINFO when the listener is a wildcard) or a
 * GRO batch to either side (UDP_SEGMENT).  flow and gen find the flow
 * again if the kernel refuses the batch and it must go one by one. */
struct udp_send_ctx {
	struct msghdr msg;
	struct iovec iov[2];		/* [0] the payload, or a PROXY header and [1] it */
	struct sockaddr_storage name;
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} ctl;
	uint32_t flow, gen;
	uint16_t listener;		/* whose counter row a failure goes to */
	uint16_t bid;
	uint16_t gso;			/* segment size, 0: one datagram */
	bool to_client;
	uint32_t next_free;
};

/* A worker's UDP side of one listener slot. */
struct udp_listener {
	int fd;				/* this worker's socket, or -1 */
	bool armed;			/* multishot recvmsg armed */
	bool starved;			/* ... ended for lack of buffers */
	struct msghdr msg;		/* recvmsg layout: name and control room */
	struct nlb_idle_list idle;	/* flows, least recently active first */
	uint64_t idle_ms;		/* the listener's udp_idle_timeout_ms */
};

/* A worker's UDP state. */
struct udp_worker {
	struct nlb_bufring bufs;
	uint32_t max_datagram;		/* the configuration's udp_max_datagram */
	struct nlb_slot_arena flows;	/* struct udp_flow */
	struct nlb_flowtab *table;	/* tuple -> flow slot */
	struct msghdr flow_msg;		/* recvmsg layout on target sockets */
	struct udp_send_ctx **ctx;
	uint32_t n_ctx, ctx_free;
	uint32_t *starved;		/* flows waiting for buffers */
	uint32_t n_starved, cap_starved;
	bool bufs_returned;
};

#endif
