/* How UDP datagrams are received and sent (stream/udp_send.c). */
#ifndef NLB_STREAM_UDP_SEND_H
#define NLB_STREAM_UDP_SEND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/worker-t.h"

/* A datagram, or a GRO batch: datagrams of gso bytes each from one
 * sender (the last may be shorter), as the kernel coalesced them. */
struct udp_dgram {
	struct io_uring_recvmsg_out *o;
	char *payload;
	unsigned len;
	unsigned gso;		/* 0: one datagram */
	unsigned count;		/* datagrams in it */
};

/* The buffer ring and the send contexts, once some listener is UDP; 0
 * or -errno. */
int udp_bufs_init(struct worker *w);
void udp_ctx_free_all(struct worker *w);

/* A buffer back to the ring (at the batch's end). */
void udp_buf_recycle(struct worker *w, uint16_t bid);

/* What recvmsg put in buffer bid (res bytes in msg's layout) into *d, or
 * false when it is larger than udp_max_datagram (dropped and counted on
 * listener lidx) or malformed. */
bool udp_datagram(struct worker *w, uint32_t lidx, uint16_t bid, int res, struct msghdr *msg,
		  struct udp_dgram *d);

/* Sends a batch (payload, len, datagrams of gso bytes) one datagram at a
 * time, at once, on fd; tmpl gives the address and control messages, or
 * NULL on a connected socket; pp, when not NULL, is a flow whose PROXY
 * header goes before each datagram.  Failures count on listener lidx. */
void udp_send_split(struct worker *w, uint32_t lidx, int fd, const struct msghdr *tmpl,
		    char *payload, unsigned len, unsigned gso, const struct udp_flow *pp);

/* A free send context, or NULL: there is one per buffer, and every one
 * in use holds a buffer. */
struct udp_send_ctx *udp_ctx_get(struct worker *w, uint32_t *idx);
void udp_ctx_put(struct worker *w, uint32_t idx);
/* Readies c to carry d (from buffer bid, on flow f) as one sendmsg. */
void udp_ctx_fill(struct udp_send_ctx *c, const struct udp_flow *f, uint16_t bid,
		  const struct udp_dgram *d, bool to_client);
/* Adds the UDP_SEGMENT control message that makes c's batch leave as
 * the datagrams it arrived as. */
void udp_ctx_add_gso(struct udp_send_ctx *c);

#endif
