/* Weighted Maglev table construction (see maglev.h): owns the per-backend
 * permutations, the weighted order in which backends take their turns at
 * filling the table, and the primality tests that guard the table size.
 * Written from the paper's consistent hashing section and its "populate"
 * pseudocode; the weighting is nlb's own (see struct weight_class). */
#include "maglev.h"

#include <stdlib.h>
#include <string.h>

#include "tuple_hash.h"

#if SIZE_MAX > UINT32_MAX && !defined(__SIZEOF_INT128__)
#error "nlb_is_prime needs unsigned __int128 where size_t is 64 bits"
#endif

/* The two key halves that make h1 (offset) and h2 (skip) independent
 * functions of the same key and seed: "nlb-mgof" and "nlb-mgsk" in ASCII.
 * Changing them moves every flow; they are part of the table's format. */
#define H1_K1 0x6e6c622d6d676f66ULL
#define H2_K1 0x6e6c622d6d67736bULL

/* An empty slot while building; never a backend index because there are
 * at most 65535 backends (indexes up to 65534). */
#define SLOT_FREE 0xffffu

/* One backend with weight > 0. */
struct turn_state {
	const char *key;
	uint32_t index;		/* position in the caller's array */
	uint32_t weight;
	uint32_t pos;		/* next slot of its permutation to try */
	uint32_t skip;
};

/* Weighting.  Backends of equal weight w form a class.  A class runs
 * "waves" at virtual times 0, 1/w, 2/w, ...: in a wave each member, in
 * key order, takes one turn, and a turn places exactly one entry.  Waves
 * run in time order, and at equal times the heavier class goes first.  So
 * a backend takes a turn at each time k/w and owns entries in proportion
 * to its weight (within a wave's worth), as with Katran's cumulative
 * weights (each round every backend adds its weight to a credit and takes
 * a turn once the credit reaches the largest weight).  The differences:
 * every backend with weight > 0 takes a turn at time 0, so it owns at
 * least one entry whenever M is at least the number of such backends;
 * and choosing the next wave is a heap operation over the classes
 * (O(log classes) per wave, O(1) per entry) however far apart the weights
 * are, where rounds cost O(n * max weight / mean weight) per entry.  One
 * weight for all gives the paper's plain round robin. */
struct weight_class {
	uint32_t begin, end;	/* members: turn_state[begin..end) */
	uint32_t weight;
	uint64_t wave;		/* waves run so far */
};

static int by_key(const void *a, const void *b)
{
	const struct turn_state *x = a, *y = b;
	return strcmp(x->key, y->key);
}

/* Heaviest class first, then key order within a class. */
static int by_weight_then_key(const void *a, const void *b)
{
	const struct turn_state *x = a, *y = b;
	if (x->weight != y->weight)
		return x->weight > y->weight ? -1 : 1;
	return strcmp(x->key, y->key);
}

/* Wave times compared exactly as k_a * w_b < k_b * w_a (below 2^36);
 * classes are numbered heaviest first, so the lower number wins a tie. */
static int wave_before(const struct weight_class *c, uint32_t a, uint32_t b)
{
	uint64_t ta = c[a].wave * c[b].weight;
	uint64_t tb = c[b].wave * c[a].weight;
	return ta < tb || (ta == tb && a < b);
}

/* Restores the heap after heap[0]'s time advanced. */
static void sift_down(const struct weight_class *c, uint32_t *heap, size_t n)
{
	size_t i = 0;
	uint32_t top = heap[0];

	for (;;) {
		size_t k = 2 * i + 1;
		if (k >= n)
			break;
		if (k + 1 < n && wave_before(c, heap[k + 1], heap[k]))
			k++;
		if (!wave_before(c, heap[k], top))
			break;
		heap[i] = heap[k];
		i = k;
	}
	heap[i] = top;
}

int nlb_maglev_build(struct nlb_maglev *m, size_t table_size,
		     const struct nlb_maglev_backend *backends, size_t n,
		     uint64_t seed)
{
	struct turn_state *s = NULL;
	struct weight_class *cls = NULL;
	uint32_t *heap = NULL;
	size_t na = 0, nc = 0;
	int err = -EINVAL;

	memset(m, 0, sizeof(*m));
	/* A prime M makes every skip in 1..M-1 coprime with M, so each
	 * permutation visits every slot and the fill loop ends. */
	if (table_size < 2 || table_size > NLB_MAGLEV_MAX_SIZE ||
	    !nlb_is_prime(table_size) || n > NLB_MAGLEV_MAX_BACKENDS)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (backends[i].key == NULL ||
		    backends[i].weight > NLB_MAGLEV_MAX_WEIGHT)
			return -EINVAL;
		if (backends[i].weight > 0)
			na++;
	}
	if (na == 0) {
		m->size = (uint32_t)table_size;
		m->n = (uint32_t)n;
		return 0;
	}

	const uint32_t M = (uint32_t)table_size;
	s = calloc(na, sizeof(*s));
	/* At most one class per weight value, and never more than na. */
	size_t max_classes = na < NLB_MAGLEV_MAX_WEIGHT ?
			     na : NLB_MAGLEV_MAX_WEIGHT;
	cls = calloc(max_classes, sizeof(*cls));
	heap = malloc(max_classes * sizeof(*heap));
	m->entries = malloc((size_t)M * sizeof(*m->entries));
	if (s == NULL || cls == NULL || heap == NULL || m->entries == NULL) {
		err = -ENOMEM;
		goto fail;
	}

	for (size_t i = 0, r = 0; i < n; i++) {
		if (backends[i].weight == 0)
			continue;
		s[r].key = backends[i].key;
		s[r].index = (uint32_t)i;
		s[r].weight = backends[i].weight;
		r++;
	}
	/* Everything below depends on keys and weights only, never on list
	 * order: the table must not change when the same targets are
	 * listed differently. */
	qsort(s, na, sizeof(*s), by_key);
	for (size_t r = 1; r < na; r++)
		if (strcmp(s[r - 1].key, s[r].key) == 0)
			goto fail;
	qsort(s, na, sizeof(*s), by_weight_then_key);

	for (size_t r = 0; r < na; r++) {
		size_t len = strlen(s[r].key);
		uint64_t h1 = nlb_siphash13(s[r].key, len, seed, H1_K1);
		uint64_t h2 = nlb_siphash13(s[r].key, len, seed, H2_K1);
		s[r].pos = (uint32_t)(h1 % M);
		s[r].skip = (uint32_t)(h2 % (M - 1) + 1);
		if (r == 0 || s[r].weight != s[r - 1].weight) {
			cls[nc].begin = (uint32_t)r;
			cls[nc].weight = s[r].weight;
			/* Every wave time is 0, so class order is a heap. */
			heap[nc] = (uint32_t)nc;
			nc++;
		}
		cls[nc - 1].end = (uint32_t)r + 1;
	}

	memset(m->entries, 0xff, (size_t)M * sizeof(*m->entries));
	uint32_t filled = 0;
	for (;;) {
		struct weight_class *c = &cls[heap[0]];
		for (uint32_t r = c->begin; r < c->end; r++) {
			struct turn_state *t = &s[r];
			/* Walk the permutation (offset + j * skip) mod M
			 * incrementally to its first free slot. */
			uint32_t pos = t->pos;
			while (m->entries[pos] != SLOT_FREE) {
				pos += t->skip;
				if (pos >= M)
					pos -= M;
			}
			m->entries[pos] = (uint16_t)t->index;
			pos += t->skip;
			t->pos = pos >= M ? pos - M : pos;
			if (++filled == M)
				goto done;
		}
		c->wave++;
		sift_down(cls, heap, nc);
	}

done:
	m->size = M;
	m->n = (uint32_t)n;
	free(s);
	free(cls);
	free(heap);
	return 0;

fail:
	free(s);
	free(cls);
	free(heap);
	free(m->entries);
	memset(m, 0, sizeof(*m));
	return err;
}

void nlb_maglev_free(struct nlb_maglev *m)
{
	free(m->entries);
	memset(m, 0, sizeof(*m));
}

int nlb_maglev_check(size_t table_size, size_t n)
{
	if (n > NLB_MAGLEV_MAX_BACKENDS || table_size > NLB_MAGLEV_MAX_SIZE)
		return -EINVAL;
	/* table_size / FACTOR >= n is table_size >= FACTOR * n without the
	 * multiplication's overflow. */
	if (table_size / NLB_MAGLEV_SIZE_FACTOR < n)
		return -EINVAL;
	return nlb_is_prime(table_size) ? 0 : -EINVAL;
}

static uint64_t mulmod(uint64_t a, uint64_t b, uint64_t mod)
{
#ifdef __SIZEOF_INT128__
	return (uint64_t)((unsigned __int128)a * b % mod);
#else
	/* Only reached with a 32-bit size_t: a, b < mod < 2^32. */
	return a * b % mod;
#endif
}

static uint64_t powmod(uint64_t base, uint64_t exp, uint64_t mod)
{
	uint64_t r = 1;

	base %= mod;
	while (exp > 0) {
		if (exp & 1)
			r = mulmod(r, base, mod);
		base = mulmod(base, base, mod);
		exp >>= 1;
	}
	return r;
}

/* Miller-Rabin with the first twelve primes as bases has no false
 * positive below 3.3 * 10^24 (Sorenson and Webster, 2015), which covers
 * every 64-bit value: the answer is exact, not probabilistic. */
int nlb_is_prime(size_t x)
{
	static const uint64_t bases[] = {
		2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37,
	};
	uint64_t v = x;

	if (v < 2)
		return 0;
	for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
		if (v == bases[i])
			return 1;
		if (v % bases[i] == 0)
			return 0;
	}

	uint64_t d = v - 1;
	unsigned s = 0;
	while ((d & 1) == 0) {
		d >>= 1;
		s++;
	}
	for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
		uint64_t y = powmod(bases[i], d, v);
		if (y == 1 || y == v - 1)
			continue;
		unsigned j;
		for (j = 1; j < s; j++) {
			y = mulmod(y, y, v);
			if (y == v - 1)
				break;
		}
		if (j == s)
			return 0;
	}
	return 1;
}

size_t nlb_next_prime(size_t x)
{
	size_t p = x < 2 ? 2 : x;

	while (!nlb_is_prime(p)) {
		if (p == SIZE_MAX)
			return 0;
		p++;
	}
	return p;
}
