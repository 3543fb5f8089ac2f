/* Suite "udp_batch": lib/udp_batch.c.  The cutting of a queue of
 * datagrams into GSO sends, by hand on the cases that decide it (one
 * destination, several interleaved, a shorter one last, a longer one
 * after, the segment and byte limits, empty datagrams) and on random
 * queues checked against the rules every plan must keep; and the
 * UDP_SEGMENT and UDP_GRO control messages, written and read. */
#include <criterion/criterion.h>

#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>

#include "rng.h"
#include "udp_batch.h"

#define QMAX 256

struct plan {
	uint16_t order[QMAX];
	struct nlb_gso_send send[QMAX];
	size_t n;
};

static void cut(const uint64_t *dest, const uint16_t *len, size_t n, struct plan *p)
{
	memset(p, 0xa5, sizeof(*p));
	p->n = nlb_gso_plan(dest, len, n, p->order, p->send);
}

/* The rules every plan keeps: each datagram in exactly one send; a
 * send's datagrams go to one destination, all of its segment size but
 * the last, which is no longer; within the limits; each destination's
 * datagrams in queue order across the sends. */
static void check_rules(const uint64_t *dest, const uint16_t *len, size_t n,
			const struct plan *p)
{
	unsigned seen[QMAX] = { 0 };
	size_t covered = 0;
	for (size_t s = 0; s < p->n; s++) {
		const struct nlb_gso_send *x = &p->send[s];
		cr_assert_eq(x->first, covered, "send %zu starts at %u, not %zu", s, x->first, covered);
		cr_assert(x->count >= 1 && x->count <= NLB_GSO_MAX_SEGMENTS, "send %zu: %u", s,
			  x->count);
		size_t bytes = 0;
		uint16_t head = p->order[x->first];
		cr_assert_eq(x->segment, len[head], "send %zu: segment %u, first %u", s,
			     x->segment, len[head]);
		for (unsigned i = 0; i < x->count; i++) {
			uint16_t d = p->order[x->first + i];
			cr_assert_lt(d, n);
			seen[d]++;
			cr_assert_eq(dest[d], dest[head], "send %zu mixes destinations", s);
			if (i + 1 < x->count)
				cr_assert_eq(len[d], x->segment, "send %zu: datagram %u of %u bytes "
					     "before its end", s, i, len[d]);
			else
				cr_assert_leq(len[d], x->segment);
			bytes += len[d];
		}
		if (x->count > 1)
			cr_assert_leq(bytes, NLB_GSO_MAX_BYTES, "send %zu: %zu bytes", s, bytes);
		covered += x->count;
	}
	cr_assert_eq(covered, n, "%zu of %zu datagrams sent", covered, n);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(seen[i], 1, "datagram %zu sent %u times", i, seen[i]);
	/* per destination, the order of sending is the queue's */
	for (size_t a = 0; a < covered; a++)
		for (size_t b = a + 1; b < covered; b++)
			if (dest[p->order[a]] == dest[p->order[b]])
				cr_assert_lt(p->order[a], p->order[b], "datagrams %u and %u of one "
					     "destination overtook", p->order[a], p->order[b]);
}

Test(udp_batch, one_destination_one_size_is_one_send)
{
	uint64_t dest[8] = { 0 };
	uint16_t len[8] = { 100, 100, 100, 100, 100, 100, 100, 100 };
	struct plan p;
	cut(dest, len, 8, &p);
	check_rules(dest, len, 8, &p);
	cr_expect_eq(p.n, 1);
	cr_expect_eq(p.send[0].count, 8);
	cr_expect_eq(p.send[0].segment, 100);
}

Test(udp_batch, interleaved_destinations_are_gathered)
{
	uint64_t dest[6] = { 1, 2, 1, 2, 1, 3 };
	uint16_t len[6] = { 50, 70, 50, 70, 50, 9 };
	struct plan p;
	cut(dest, len, 6, &p);
	check_rules(dest, len, 6, &p);
	cr_assert_eq(p.n, 3);
	uint16_t want[6] = { 0, 2, 4, 1, 3, 5 };
	cr_expect_arr_eq(p.order, want, sizeof(want));
}

Test(udp_batch, a_shorter_one_ends_a_send_and_a_longer_one_starts_one)
{
	uint64_t dest[6] = { 0 };
	uint16_t len[6] = { 100, 100, 40, 100, 200, 200 };
	struct plan p;
	cut(dest, len, 6, &p);
	check_rules(dest, len, 6, &p);
	cr_assert_eq(p.n, 3);
	cr_expect_eq(p.send[0].count, 3, "100, 100, then 40 last");
	cr_expect_eq(p.send[1].count, 1, "100 alone: the next is longer");
	cr_expect_eq(p.send[2].count, 2);
	cr_expect_eq(p.send[2].segment, 200);
}

Test(udp_batch, a_longer_one_of_the_destination_is_not_overtaken)
{
	/* a longer datagram ends the send before it, and the ones after
	 * it follow it, never before it */
	uint64_t dest[4] = { 2, 2, 2, 2 };
	uint16_t len[4] = { 10, 30, 10, 10 };
	struct plan p;
	cut(dest, len, 4, &p);
	check_rules(dest, len, 4, &p);
	cr_expect_eq(p.n, 3);
	cr_expect_eq(p.send[0].count, 1, "10 alone: the next is longer");
	cr_expect_eq(p.send[1].count, 2, "30, then 10 last");
	cr_expect_eq(p.send[2].count, 1);
}

Test(udp_batch, limits_of_segments_and_bytes)
{
	static uint64_t dest[200];
	static uint16_t len[200];
	for (size_t i = 0; i < 200; i++)
		len[i] = 10;
	struct plan p;
	cut(dest, len, 200, &p);
	check_rules(dest, len, 200, &p);
	cr_expect_eq(p.n, 4, "200 in sends of 64: %zu", p.n);
	for (size_t i = 0; i < 20; i++)
		len[i] = 8540;	/* a full GENEVE packet: 7 fit 65,000 bytes */
	cut(dest, len, 20, &p);
	check_rules(dest, len, 20, &p);
	cr_expect_eq(p.n, 3);
	cr_expect_eq(p.send[0].count, 7);
}

Test(udp_batch, empty_datagrams_go_alone)
{
	uint64_t dest[4] = { 0 };
	uint16_t len[4] = { 0, 0, 20, 0 };
	struct plan p;
	cut(dest, len, 4, &p);
	check_rules(dest, len, 4, &p);
	cr_expect_eq(p.n, 4, "0 | 0 | 20 | 0: %zu sends", p.n);
}

Test(udp_batch, random_queues_keep_the_rules)
{
	uint64_t state = 0x5eed;
	static uint64_t dest[QMAX];
	static uint16_t len[QMAX];
	struct plan p;
	for (int round = 0; round < 2000; round++) {
		size_t n = 1 + nlb_rng_next(&state) % QMAX;
		unsigned dests = 1 + (unsigned)(nlb_rng_next(&state) % 4);
		unsigned sizes = 1 + (unsigned)(nlb_rng_next(&state) % 4);
		for (size_t i = 0; i < n; i++) {
			dest[i] = nlb_rng_next(&state) % dests;
			/* few sizes, big and small, so runs form and break */
			static const uint16_t pick[] = { 1500, 64, 9000, 0 };
			len[i] = pick[nlb_rng_next(&state) % sizes];
		}
		cut(dest, len, n, &p);
		check_rules(dest, len, n, &p);
	}
}

Test(udp_batch, control_messages_written_and_read)
{
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} ctl;
	size_t off = 0;
	uint16_t seg = 1400;
	nlb_cmsg_put(ctl.buf, &off, SOL_UDP, UDP_SEGMENT, &seg, sizeof(seg));
	cr_expect_eq(off, CMSG_SPACE(sizeof(seg)));
	struct msghdr m = { .msg_control = ctl.buf, .msg_controllen = off };
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	cr_assert(c);
	cr_expect_eq(c->cmsg_level, SOL_UDP);
	cr_expect_eq(c->cmsg_type, UDP_SEGMENT);
	uint16_t got;
	memcpy(&got, CMSG_DATA(c), sizeof(got));
	cr_expect_eq(got, 1400);

	/* what a multishot recvmsg lays out: header, name, control, payload */
	struct msghdr layout = { .msg_namelen = CMSG_ALIGN(sizeof(struct sockaddr_in6)),
				 .msg_controllen = CMSG_SPACE(sizeof(int)) };
	_Alignas(8) unsigned char buf[512] = { 0 };
	struct io_uring_recvmsg_out *o = (struct io_uring_recvmsg_out *)buf;
	o->namelen = sizeof(struct sockaddr_in);
	o->controllen = CMSG_SPACE(sizeof(int));
	o->payloadlen = 300;
	struct cmsghdr *g = (struct cmsghdr *)(buf + sizeof(*o) + layout.msg_namelen);
	g->cmsg_level = SOL_UDP;
	g->cmsg_type = UDP_GRO;
	g->cmsg_len = CMSG_LEN(sizeof(int));
	int size = 100;
	memcpy(CMSG_DATA(g), &size, sizeof(size));
	cr_expect_eq(nlb_recvmsg_gro_size(o, &layout, 300), 100, "a batch of 100-byte datagrams");
	cr_expect_eq(nlb_recvmsg_gro_size(o, &layout, 100), 0, "one datagram of the size");
	g->cmsg_type = UDP_SEGMENT;
	cr_expect_eq(nlb_recvmsg_gro_size(o, &layout, 300), 0, "no UDP_GRO message");
	o->controllen = 0;
	g->cmsg_type = UDP_GRO;
	cr_expect_eq(nlb_recvmsg_gro_size(o, &layout, 300), 0, "no control messages");
}
