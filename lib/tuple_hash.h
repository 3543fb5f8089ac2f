/* Flow identity and its hash: owns struct nlb_tuple (a fixed 40-byte,
 * padding-free layout that is hashed and compared bytewise) and the keyed
 * SipHash-1-3 that every balancing decision and the flow table hash with. */
#ifndef NLB_TUPLE_HASH_H
#define NLB_TUPLE_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"

/* Addresses and ports are in network byte order.  IPv4 addresses are held
 * IPv4-mapped (::ffff:a.b.c.d), so a client seen on an AF_INET socket and
 * the same client seen on a dual-stack AF_INET6 socket make the same tuple
 * and the same hash.  Every byte is defined (constructors memset first):
 * compare with nlb_tuple_equal, hash with nlb_tuple_hash. */
struct nlb_tuple {
	uint8_t src[16];
	uint8_t dst[16];
	uint16_t sport;
	uint16_t dport;
	uint8_t proto;		/* IPPROTO_TCP, IPPROTO_UDP */
	uint8_t zero[3];	/* always 0: keeps the layout free of padding */
};

_Static_assert(sizeof(struct nlb_tuple) == 40, "nlb_tuple has no padding");

enum nlb_hash_fields {
	NLB_HASH_5TUPLE = 0,	/* addresses, ports and protocol */
	NLB_HASH_SOURCE_IP = 1,	/* source address only: client stickiness */
};

/* Fills *t from a source and a destination socket address (AF_INET or
 * AF_INET6, complete for their family); dst may be NULL when the
 * destination is unknown or irrelevant (it is then all zero).  proto is
 * an IPPROTO_ value.  Returns 0, -EAFNOSUPPORT for another family or
 * -EINVAL for a proto outside 0..255; *t is zeroed on failure. */
int nlb_tuple_from_sockaddr(struct nlb_tuple *t, const struct sockaddr *src,
			    const struct sockaddr *dst, int proto);

/* The same from nlb_addr (dst may be NULL). */
int nlb_tuple_from_addr(struct nlb_tuple *t, const struct nlb_addr *src,
			const struct nlb_addr *dst, int proto);

static inline int nlb_tuple_equal(const struct nlb_tuple *a,
				  const struct nlb_tuple *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

/* SipHash-1-3 (Aumasson and Bernstein; one compression and three
 * finalisation rounds, the variant Rust's HashMap and CPython 3.11 use)
 * of len bytes under the 128-bit key (k0, k1), read little-endian on
 * every host so the result is the same everywhere. */
uint64_t nlb_siphash13(const void *data, size_t len, uint64_t k0, uint64_t k1);

/* nlb_siphash13 under the key (seed, 0) of the whole tuple (40 bytes) for
 * NLB_HASH_5TUPLE or of the 16 source address bytes for
 * NLB_HASH_SOURCE_IP (an unknown value hashes as NLB_HASH_5TUPLE).  The
 * same tuple and seed give the same value in every process and on every
 * machine, so balancers behind ECMP pick alike without sharing state.
 * With a secret seed the hash also resists flows crafted to collide. */
uint64_t nlb_tuple_hash(const struct nlb_tuple *t, uint64_t seed,
			enum nlb_hash_fields fields);

#endif
