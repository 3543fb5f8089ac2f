/* UDP batches: GSO's and GRO's control messages, and the cutting of a
 * queue of datagrams into GSO sends (udp_batch.h). */
#include "udp_batch.h"

#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>

void nlb_cmsg_put(char *buf, size_t *off, int level, int type, const void *data, size_t len)
{
	struct cmsghdr *cm = (struct cmsghdr *)(buf + *off);
	cm->cmsg_level = level;
	cm->cmsg_type = type;
	cm->cmsg_len = CMSG_LEN(len);
	memcpy(CMSG_DATA(cm), data, len);
	*off += CMSG_SPACE(len);
}

unsigned nlb_cmsg_gro_size(const struct cmsghdr *c, size_t len)
{
	int gso;
	if (c->cmsg_level != SOL_UDP || c->cmsg_type != UDP_GRO ||
	    c->cmsg_len < CMSG_LEN(sizeof(gso)))
		return 0;
	memcpy(&gso, CMSG_DATA(c), sizeof(gso));
	return gso > 0 && (size_t)gso < len ? (unsigned)gso : 0;
}

unsigned nlb_recvmsg_gro_size(struct io_uring_recvmsg_out *o, struct msghdr *msg, unsigned len)
{
	unsigned gso = 0;
	for (struct cmsghdr *c = io_uring_recvmsg_cmsg_firsthdr(o, msg); c && !gso;
	     c = io_uring_recvmsg_cmsg_nexthdr(o, msg, c))
		gso = nlb_cmsg_gro_size(c, len);
	return gso;
}

size_t nlb_gso_plan(const uint64_t *dest, const uint16_t *len, size_t n, uint16_t *order,
		    struct nlb_gso_send *sends)
{
	/* n is a ring's worth of datagrams (tens): quadratic is fine, and
	 * nothing is allocated. */
	uint64_t taken[NLB_GSO_QUEUE_MAX / 64];
	if (n > NLB_GSO_QUEUE_MAX)
		n = NLB_GSO_QUEUE_MAX;
	memset(taken, 0, (n + 63) / 64 * sizeof(uint64_t));
#define TAKEN(i) (taken[(i) / 64] >> ((i) % 64) & 1)
#define TAKE(i) (taken[(i) / 64] |= 1ull << ((i) % 64))
	size_t k = 0, ns = 0;
	for (size_t i = 0; i < n; i++) {
		if (TAKEN(i))
			continue;
		struct nlb_gso_send *s = &sends[ns++];
		*s = (struct nlb_gso_send){ (uint16_t)k, 1, len[i] };
		order[k++] = (uint16_t)i;
		TAKE(i);
		size_t bytes = len[i];
		for (size_t j = i + 1; j < n && len[i] > 0; j++) {
			if (TAKEN(j) || dest[j] != dest[i])
				continue;
			/* One of this destination that cannot join ends the
			 * send: the ones after it must not overtake it. */
			if (s->count == NLB_GSO_MAX_SEGMENTS || len[j] > len[i] || len[j] == 0 ||
			    bytes + len[j] > NLB_GSO_MAX_BYTES)
				break;
			order[k++] = (uint16_t)j;
			TAKE(j);
			s->count++;
			bytes += len[j];
			if (len[j] < len[i])
				break;	/* a shorter one is the last */
		}
	}
#undef TAKEN
#undef TAKE
	return ns;
}
