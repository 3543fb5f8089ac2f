/* UDP batches (GSO, Linux 4.18; GRO, 5.0): the control messages that
 * make one send leave as several datagrams or say how the kernel
 * coalesced a receive, and the cutting of a queue of datagrams into such
 * sends.  Used by UDP listeners, gateway mode and nlb-appliance. */
#ifndef NLB_UDP_BATCH_H
#define NLB_UDP_BATCH_H

#include <liburing.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Segments in one GSO send: the kernel's limit was 64 before 5.x raised
 * it, so the older one. */
#define NLB_GSO_MAX_SEGMENTS 64
/* Bytes in one GSO send: a UDP payload under IPv4's 65,507. */
#define NLB_GSO_MAX_BYTES 65000u
/* The longest queue nlb_gso_plan cuts. */
#define NLB_GSO_QUEUE_MAX 1024

/* Appends a control message at *off in buf; the caller sized buf. */
void nlb_cmsg_put(char *buf, size_t *off, int level, int type, const void *data, size_t len);

/* The segment size c says when it is a UDP_GRO control message of a
 * batch of len bytes; 0 when it is not, or the payload is one datagram. */
unsigned nlb_cmsg_gro_size(const struct cmsghdr *c, size_t len);

/* The segment size of a GRO receive (its UDP_GRO control message) that
 * a multishot recvmsg put in o, laid out as msg says; 0 when the payload
 * of len bytes is one datagram. */
unsigned nlb_recvmsg_gro_size(struct io_uring_recvmsg_out *o, struct msghdr *msg, unsigned len);

/* One send: order[first .. first + count) of the queue, each datagram of
 * segment bytes but the last, which may be shorter. */
struct nlb_gso_send {
	uint16_t first, count;
	uint16_t segment;
};

/* Cuts a queue of n datagrams (n <= NLB_GSO_QUEUE_MAX; more are left
 * out) into sends: dest[i] is where
 * datagram i goes (equal values may share a send), len[i] its length.
 * The datagrams of one destination leave in queue order; a send takes
 * the next ones of its destination while they have its first one's
 * length, then perhaps one shorter, up to NLB_GSO_MAX_SEGMENTS and
 * NLB_GSO_MAX_BYTES.  order[] (n entries) gets the queue's indices send
 * by send, sends[] (n entries at most) the sends; returns their number. */
size_t nlb_gso_plan(const uint64_t *dest, const uint16_t *len, size_t n, uint16_t *order,
		    struct nlb_gso_send *sends);

#endif
