/* Per-source connection limits: owns one worker's table, for one listener,
 * of client addresses with their open-connection count and token bucket,
 * and the admit/release decisions made from it.  One per worker thread and
 * listener, no locks; nothing is allocated after nlb_srclimit_init. */
#ifndef NLB_SRCLIMIT_H
#define NLB_SRCLIMIT_H

#include <stdint.h>

#include "tunables.h"

/* Slots are uint32_t with NLB_SRCLIMIT_NO_SLOT as "none"; 2^24 sources
 * (about 830 MiB of table) is beyond any worker's listener. */
#define NLB_SRCLIMIT_MAX_CAPACITY (1u << 24)
#define NLB_SRCLIMIT_NO_SLOT      UINT32_MAX

struct nlb_srclimit_entry;

/* Embedded in the caller's per-worker listener state.  A zeroed struct is
 * a valid disabled table (admit always passes, release does nothing, free
 * is harmless), as is one initialised with both limits 0. */
struct nlb_srclimit {
	struct nlb_srclimit_entry *entries;	/* capacity of them */
	uint32_t *heads;	/* hash chains: slot + 1, 0 when empty */
	uint64_t k0, k1;	/* SipHash key */
	uint64_t full;		/* a full bucket: rate tokens, in 1e-9 token */
	uint32_t max_conns;	/* 0 = no concurrent limit */
	uint32_t rate;		/* new connections per second; 0 = no limit */
	uint32_t mask;		/* chains - 1, chains a power of two */
	uint32_t capacity;
	uint32_t count;		/* sources in the table */
	uint32_t fresh;		/* slots [fresh, capacity) never used yet */
	uint32_t free_head;	/* slots given back, chained */
	uint32_t idle_head;	/* evictable sources, most recently used */
	uint32_t idle_tail;	/* the next one evicted */
	uint64_t evictions;	/* idle sources dropped to make room */
};

/* The table's size for a listener whose max_connections is given (0 =
 * unlimited): live sources on one worker never outnumber the listener's
 * connections, so a table that large never refuses a source with -ENOSPC;
 * beyond NLB_SRCLIMIT_SOURCES the tunable bounds memory instead. */
static inline uint32_t nlb_srclimit_capacity(uint32_t max_connections)
{
	if (max_connections != 0 && max_connections < NLB_SRCLIMIT_SOURCES)
		return max_connections;
	return NLB_SRCLIMIT_SOURCES;
}

/* A table for at most capacity sources (1..NLB_SRCLIMIT_MAX_CAPACITY)
 * allowing each max_conns connections open at once and rate_per_s new
 * ones per second with a burst of rate_per_s (0 = that limit is off).
 * key is the secret 128-bit hash key: sources are the attacker's choice,
 * and an unkeyed hash would let them pile every source onto one chain.
 * With both limits 0 nothing is allocated and capacity is ignored.
 * Returns 0, -EINVAL or -ENOMEM (*t is then a disabled table). */
int nlb_srclimit_init(struct nlb_srclimit *t, uint32_t max_conns,
		      uint32_t rate_per_s, uint32_t capacity,
		      const uint8_t key[16]);
void nlb_srclimit_free(struct nlb_srclimit *t);

/* A connection from addr (16 bytes, IPv4 as ::ffff:a.b.c.d, as in
 * nlb_tuple) arrives at now_ns, a monotonic clock in nanoseconds (if it
 * goes backwards, no tokens are added until it passes its old value).
 * Returns 0 when admitted: one token is taken and the connection counted,
 * and *slot is the handle to give nlb_srclimit_release when it ends
 * (NLB_SRCLIMIT_NO_SLOT when there is no concurrent limit, so nothing to
 * count).  Otherwise *slot is NLB_SRCLIMIT_NO_SLOT and it returns
 * -EMFILE when the source has max_conns open, -EAGAIN when its bucket
 * is empty, or -ENOSPC when the source is new and every tracked source
 * holds connections; a refusal changes only the source's bucket refill
 * and its place in the eviction order. */
int nlb_srclimit_admit(struct nlb_srclimit *t, const uint8_t addr[16],
		       uint64_t now_ns, uint32_t *slot);

/* The connection admitted with slot has ended.  NLB_SRCLIMIT_NO_SLOT is
 * accepted and does nothing; so does a slot with no connection counted
 * (a double release, which is a caller's bug).  O(1) unless the source
 * leaves the table (no rate limit and its last connection), when its
 * hash chain is walked. */
void nlb_srclimit_release(struct nlb_srclimit *t, uint32_t slot);

/* Connections counted for addr, or -ENOENT when it is not in the table;
 * changes nothing.  For tests and diagnostics. */
int64_t nlb_srclimit_conns(const struct nlb_srclimit *t,
			   const uint8_t addr[16]);

/* Checks every internal invariant (chains, idle list, free slots, counts,
 * buckets within bounds); O(capacity), for tests.  0 or -EUCLEAN. */
int nlb_srclimit_verify(const struct nlb_srclimit *t);

#endif
