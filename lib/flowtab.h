/* A worker's flow table: owns the map from a flow's tuple to the target
 * index it was given and the time it was last used, with exact LRU
 * eviction when full and idle expiry in bounded slices.  One per worker
 * thread, no locks; nothing is allocated after nlb_flowtab_create. */
#ifndef NLB_FLOWTAB_H
#define NLB_FLOWTAB_H

#include <stddef.h>
#include <stdint.h>

#include "tuple_hash.h"

/* Slot indexes are uint32_t with UINT32_MAX as "none"; 2^30 flows (64 GiB
 * of entries) is beyond any worker. */
#define NLB_FLOWTAB_MAX_CAPACITY (1u << 30)

struct nlb_flowtab;

struct nlb_flowtab_stats {
	uint64_t hits;		/* lookups that found the flow */
	uint64_t misses;
	uint64_t inserts;	/* new flows (not updates of a present one) */
	uint64_t updates;	/* inserts that found the flow present */
	uint64_t removals;	/* by nlb_flowtab_remove */
	uint64_t evictions;	/* least recently used, to make room */
	uint64_t expirations;	/* idle, by nlb_flowtab_expire */
};

/* A table holding up to capacity flows (1..NLB_FLOWTAB_MAX_CAPACITY).
 * Returns 0, -EINVAL or -ENOMEM. */
int nlb_flowtab_create(struct nlb_flowtab **out, size_t capacity);
void nlb_flowtab_destroy(struct nlb_flowtab *t);

/* In every call, hash is the caller's hash of tuple (nlb_tuple_hash with
 * NLB_HASH_5TUPLE); it must be the same each time for the same tuple.
 * now_ms is a monotonic clock in milliseconds and must not go backwards
 * (if it does, expiry may stop early; it never removes a fresh flow). */

/* 0 and *value (if value is not NULL) when present, and the flow becomes
 * the most recently used at now_ms; -ENOENT otherwise. */
int nlb_flowtab_lookup(struct nlb_flowtab *t, const struct nlb_tuple *tuple,
		       uint64_t hash, uint64_t now_ms, uint32_t *value);

/* Adds the flow, or replaces the value of the present one; either way it
 * becomes the most recently used at now_ms.  When the table is full, the
 * least recently used flow is evicted first (O(1)).  Always returns 0. */
int nlb_flowtab_insert(struct nlb_flowtab *t, const struct nlb_tuple *tuple,
		       uint64_t hash, uint32_t value, uint64_t now_ms);

/* 0, or -ENOENT when the flow is not present. */
int nlb_flowtab_remove(struct nlb_flowtab *t, const struct nlb_tuple *tuple,
		       uint64_t hash);

/* Removes flows idle for more than idle_ms (now_ms - last use > idle_ms),
 * oldest first, examining at most max_work flows; returns how many it
 * removed.  The LRU order is the idle order, so the walk stops at the
 * first flow still in use: a call costs O(min(expired + 1, max_work)),
 * and a caller calls again on a later tick while the return equals
 * max_work. */
size_t nlb_flowtab_expire(struct nlb_flowtab *t, uint64_t now_ms,
			  uint64_t idle_ms, size_t max_work);

/* Forgets every flow (statistics are kept); O(capacity). */
void nlb_flowtab_clear(struct nlb_flowtab *t);

size_t nlb_flowtab_count(const struct nlb_flowtab *t);
size_t nlb_flowtab_capacity(const struct nlb_flowtab *t);
void nlb_flowtab_stats(const struct nlb_flowtab *t,
		       struct nlb_flowtab_stats *out);

/* Checks every internal invariant (index and LRU list agree, probe chains
 * unbroken, count right); O(capacity), for tests.  0 or -EUCLEAN. */
int nlb_flowtab_verify(const struct nlb_flowtab *t);

#endif
