/* Weighted Maglev hashing (Eisenbud et al., NSDI 2016): owns building the
 * lookup table of prime size M from backend keys and weights, and the
 * lookup from a flow hash to a backend index.  Tables are immutable once
 * built, so workers may share one read-only. */
#ifndef NLB_MAGLEV_H
#define NLB_MAGLEV_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

/* Backend indexes are stored as uint16_t: 65535 backends, index 0..65534. */
#define NLB_MAGLEV_MAX_BACKENDS 65535u
#define NLB_MAGLEV_MAX_WEIGHT   1000u
/* The paper's rule: M > 100 N keeps every backend within about 1% of its
 * share. */
#define NLB_MAGLEV_SIZE_FACTOR  100u
/* The paper's and Katran's size; enough for 655 backends. */
#define NLB_MAGLEV_DEFAULT_SIZE 65537u
/* 2^26 slots (128 MiB of table) is far beyond what 65535 backends need
 * (6.5 M); the cap keeps a typo from allocating gigabytes. */
#define NLB_MAGLEV_MAX_SIZE     (1u << 26)

struct nlb_maglev_backend {
	/* Stable identity, e.g. "127.0.0.1:9001" in canonical form; the
	 * permutation is derived from it, never from the position in the
	 * array.  Keys of a build must be distinct. */
	const char *key;
	uint32_t weight;	/* 0..NLB_MAGLEV_MAX_WEIGHT; 0 owns nothing */
};

struct nlb_maglev {
	uint16_t *entries;	/* size backend indexes; NULL when empty */
	uint32_t size;		/* M */
	uint32_t n;		/* backends given to the build */
};

/* Builds the table for backends[0..n) into *m (which must not hold a
 * table: free it first).  Each backend owns entries in proportion to its
 * weight; the table depends only on the keys, weights, size and seed,
 * never on the order of the array.  table_size must be a prime in
 * 2..MAX_SIZE; nlb_maglev_check adds the size-per-backend policy.
 * n == 0 or all weights 0 give an empty table (success).  Returns 0,
 * -EINVAL (size not prime or too large, n too large, weight >
 * MAX_WEIGHT, NULL or repeated key) or -ENOMEM; on failure *m is
 * empty. */
int nlb_maglev_build(struct nlb_maglev *m, size_t table_size,
		     const struct nlb_maglev_backend *backends, size_t n,
		     uint64_t seed);

void nlb_maglev_free(struct nlb_maglev *m);

/* 0 when M is a prime no larger than NLB_MAGLEV_MAX_SIZE and at least
 * NLB_MAGLEV_SIZE_FACTOR times n, the number of backends with weight > 0
 * (n <= NLB_MAGLEV_MAX_BACKENDS); -EINVAL otherwise. */
int nlb_maglev_check(size_t table_size, size_t n);

/* Exact for every size_t (deterministic Miller-Rabin on 64 bits). */
int nlb_is_prime(size_t x);

/* The smallest prime >= x, or 0 if there is none in size_t. */
size_t nlb_next_prime(size_t x);

/* The backend index owning hash, or -ENOENT for an empty table.  The slot
 * is the high part of hash * M (multiply-shift range reduction): no
 * division, and it uses the hash's high bits, leaving the low bits, which
 * the flow table indexes by, uncorrelated with the choice of backend. */
static inline int nlb_maglev_lookup(const struct nlb_maglev *m, uint64_t hash)
{
	if (m->entries == NULL)
		return -ENOENT;
	/* floor(hash * M / 2^64) in 64-bit arithmetic (M < 2^32), so every
	 * host, with or without 128-bit integers, picks the same slot. */
	uint64_t size = m->size;
	uint64_t lo = ((hash & 0xffffffffu) * size) >> 32;
	uint64_t slot = ((hash >> 32) * size + lo) >> 32;
	return m->entries[slot];
}

#endif
