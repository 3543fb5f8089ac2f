/* The per-worker flow table (see flowtab.h).  Owns two arrays sized at
 * creation: an index of 8-byte buckets (linear probing, at most half full,
 * backward-shift deletion, so no tombstones ever build up) and the flows
 * themselves, threaded on one doubly linked list in use order (exact LRU:
 * eviction takes the tail, expiry walks from it) or, when unused, on a
 * free list. */
#include "flowtab.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX

/* ref is slot + 1, 0 when the bucket is empty, so a zeroed index is an
 * empty one.  hash_lo (the hash's low 32 bits) gives the home bucket for
 * backward shifting without touching the flow, and filters probes: most
 * mismatches are settled without reading the 40-byte tuple. */
struct bucket {
	uint32_t hash_lo;
	uint32_t ref;
};

/* One cache line. */
struct flow {
	struct nlb_tuple tuple;
	uint64_t last_ms;
	uint32_t value;
	uint32_t hash_lo;	/* finds the bucket when evicting or expiring */
	uint32_t prev;		/* towards the most recently used */
	uint32_t next;		/* towards the least recently used; free list */
};

_Static_assert(sizeof(struct flow) == 64, "a flow is one cache line");

struct nlb_flowtab {
	struct bucket *buckets;
	struct flow *flows;
	uint32_t mask;		/* buckets - 1, buckets a power of two */
	uint32_t capacity;
	uint32_t count;
	uint32_t head;		/* most recently used, NONE when empty */
	uint32_t tail;		/* least recently used */
	uint32_t free_head;
	struct nlb_flowtab_stats stats;
};

int nlb_flowtab_create(struct nlb_flowtab **out, size_t capacity)
{
	*out = NULL;
	if (capacity == 0 || capacity > NLB_FLOWTAB_MAX_CAPACITY)
		return -EINVAL;

	/* At least twice as many buckets as flows: a full table is at most
	 * half full, where an unsuccessful linear probe averages 2.5
	 * buckets. */
	size_t nbuckets = 2;
	while (nbuckets < 2 * capacity)
		nbuckets *= 2;

	struct nlb_flowtab *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return -ENOMEM;
	t->buckets = calloc(nbuckets, sizeof(*t->buckets));
	t->flows = calloc(capacity, sizeof(*t->flows));
	if (t->buckets == NULL || t->flows == NULL) {
		nlb_flowtab_destroy(t);
		return -ENOMEM;
	}
	t->mask = (uint32_t)(nbuckets - 1);
	t->capacity = (uint32_t)capacity;
	nlb_flowtab_clear(t);
	*out = t;
	return 0;
}

void nlb_flowtab_destroy(struct nlb_flowtab *t)
{
	if (t == NULL)
		return;
	free(t->buckets);
	free(t->flows);
	free(t);
}

void nlb_flowtab_clear(struct nlb_flowtab *t)
{
	memset(t->buckets, 0, ((size_t)t->mask + 1) * sizeof(*t->buckets));
	for (uint32_t s = 0; s < t->capacity; s++)
		t->flows[s].next = s + 1 < t->capacity ? s + 1 : NONE;
	t->free_head = 0;
	t->head = NONE;
	t->tail = NONE;
	t->count = 0;
}

static void lru_unlink(struct nlb_flowtab *t, uint32_t s)
{
	struct flow *f = &t->flows[s];

	if (f->prev != NONE)
		t->flows[f->prev].next = f->next;
	else
		t->head = f->next;
	if (f->next != NONE)
		t->flows[f->next].prev = f->prev;
	else
		t->tail = f->prev;
}

static void lru_push_front(struct nlb_flowtab *t, uint32_t s)
{
	struct flow *f = &t->flows[s];

	f->prev = NONE;
	f->next = t->head;
	if (t->head != NONE)
		t->flows[t->head].prev = s;
	else
		t->tail = s;
	t->head = s;
}

/* The bucket holding tuple, or NONE; *empty (if not NULL) gets the empty
 * bucket that ended the probe, where the tuple belongs if added now. */
static uint32_t find(const struct nlb_flowtab *t,
		     const struct nlb_tuple *tuple, uint64_t hash,
		     uint32_t *empty)
{
	uint32_t h = (uint32_t)hash;

	for (uint32_t i = h & t->mask;; i = (i + 1) & t->mask) {
		const struct bucket *b = &t->buckets[i];
		if (b->ref == 0) {
			if (empty != NULL)
				*empty = i;
			return NONE;
		}
		if (b->hash_lo == h &&
		    nlb_tuple_equal(&t->flows[b->ref - 1].tuple, tuple))
			return i;
	}
}

/* Empties bucket i and pulls later members of its cluster back over the
 * gap, so every bucket stays reachable from its home without tombstones
 * (Knuth's algorithm R, TAOCP 6.4). */
static void bucket_delete(struct nlb_flowtab *t, uint32_t i)
{
	uint32_t j = i;

	for (;;) {
		j = (j + 1) & t->mask;
		if (t->buckets[j].ref == 0)
			break;
		uint32_t home = t->buckets[j].hash_lo & t->mask;
		/* j may fill the gap at i when i lies on its probe path,
		 * that is cyclically within [home, j). */
		if (((j - home) & t->mask) >= ((j - i) & t->mask)) {
			t->buckets[i] = t->buckets[j];
			i = j;
		}
	}
	t->buckets[i].hash_lo = 0;
	t->buckets[i].ref = 0;
}

/* Removes the flow in slot s from the index, the LRU list and the count,
 * and returns the slot to the free list. */
static void remove_slot(struct nlb_flowtab *t, uint32_t s)
{
	uint32_t i = t->flows[s].hash_lo & t->mask;

	while (t->buckets[i].ref != s + 1)
		i = (i + 1) & t->mask;
	bucket_delete(t, i);
	lru_unlink(t, s);
	t->flows[s].next = t->free_head;
	t->free_head = s;
	t->count--;
}

int nlb_flowtab_lookup(struct nlb_flowtab *t, const struct nlb_tuple *tuple,
		       uint64_t hash, uint64_t now_ms, uint32_t *value)
{
	uint32_t i = find(t, tuple, hash, NULL);

	if (i == NONE) {
		t->stats.misses++;
		return -ENOENT;
	}
	uint32_t s = t->buckets[i].ref - 1;
	struct flow *f = &t->flows[s];
	f->last_ms = now_ms;
	if (t->head != s) {
		lru_unlink(t, s);
		lru_push_front(t, s);
	}
	if (value != NULL)
		*value = f->value;
	t->stats.hits++;
	return 0;
}

int nlb_flowtab_insert(struct nlb_flowtab *t, const struct nlb_tuple *tuple,
		       uint64_t hash, uint32_t value, uint64_t now_ms)
{
	uint32_t empty = 0;	/* set by find when absent */
	uint32_t i = find(t, tuple, hash, &empty);
	uint32_t s;

	if (i != NONE) {
		s = t->buckets[i].ref - 1;
		t->flows[s].value = value;
		t->flows[s].last_ms = now_ms;
		if (t->head != s) {
			lru_unlink(t, s);
			lru_push_front(t, s);
		}
		t->stats.updates++;
		return 0;
	}

	if (t->count == t->capacity) {
		remove_slot(t, t->tail);
		t->stats.evictions++;
		/* The backward shift may have moved the end of our probe;
		 * the tuple is absent, so the first empty bucket from home
		 * is its place. */
		empty = (uint32_t)hash & t->mask;
		while (t->buckets[empty].ref != 0)
			empty = (empty + 1) & t->mask;
	}

	s = t->free_head;
	struct flow *f = &t->flows[s];
	t->free_head = f->next;
	f->tuple = *tuple;
	f->last_ms = now_ms;
	f->value = value;
	f->hash_lo = (uint32_t)hash;
	lru_push_front(t, s);
	t->buckets[empty].hash_lo = (uint32_t)hash;
	t->buckets[empty].ref = s + 1;
	t->count++;
	t->stats.inserts++;
	return 0;
}

int nlb_flowtab_remove(struct nlb_flowtab *t, const struct nlb_tuple *tuple,
		       uint64_t hash)
{
	uint32_t i = find(t, tuple, hash, NULL);

	if (i == NONE)
		return -ENOENT;
	remove_slot(t, t->buckets[i].ref - 1);
	t->stats.removals++;
	return 0;
}

size_t nlb_flowtab_expire(struct nlb_flowtab *t, uint64_t now_ms,
			  uint64_t idle_ms, size_t max_work)
{
	size_t removed = 0;

	for (size_t work = 0; work < max_work && t->tail != NONE; work++) {
		const struct flow *f = &t->flows[t->tail];
		/* A clock that went backwards makes now < last: keep it. */
		if (now_ms < f->last_ms || now_ms - f->last_ms <= idle_ms)
			break;
		remove_slot(t, t->tail);
		removed++;
	}
	t->stats.expirations += removed;
	return removed;
}

size_t nlb_flowtab_count(const struct nlb_flowtab *t)
{
	return t->count;
}

size_t nlb_flowtab_capacity(const struct nlb_flowtab *t)
{
	return t->capacity;
}

void nlb_flowtab_stats(const struct nlb_flowtab *t,
		       struct nlb_flowtab_stats *out)
{
	*out = t->stats;
}

int nlb_flowtab_verify(const struct nlb_flowtab *t)
{
	uint32_t used = 0;

	/* Every occupied bucket: a valid slot whose flow agrees, reachable
	 * from its home (no empty bucket in between) and found by a lookup
	 * at this very bucket (so no tuple is indexed twice). */
	for (uint32_t i = 0; i <= t->mask; i++) {
		const struct bucket *b = &t->buckets[i];
		if (b->ref == 0)
			continue;
		used++;
		uint32_t s = b->ref - 1;
		if (s >= t->capacity || t->flows[s].hash_lo != b->hash_lo)
			return -EUCLEAN;
		for (uint32_t k = b->hash_lo & t->mask; k != i;
		     k = (k + 1) & t->mask)
			if (t->buckets[k].ref == 0)
				return -EUCLEAN;
		if (find(t, &t->flows[s].tuple, b->hash_lo, NULL) != i)
			return -EUCLEAN;
	}
	if (used != t->count || t->count > t->capacity)
		return -EUCLEAN;

	/* The LRU list: count distinct flows (a repeat would be a cycle
	 * and overrun the count), links agreeing both ways, each indexed. */
	uint32_t n = 0, prev = NONE;
	for (uint32_t s = t->head; s != NONE; s = t->flows[s].next) {
		if (s >= t->capacity || n++ == t->count ||
		    t->flows[s].prev != prev)
			return -EUCLEAN;
		uint32_t i = find(t, &t->flows[s].tuple, t->flows[s].hash_lo,
				  NULL);
		if (i == NONE || t->buckets[i].ref != s + 1)
			return -EUCLEAN;
		prev = s;
	}
	if (n != t->count || t->tail != prev)
		return -EUCLEAN;

	n = 0;
	for (uint32_t s = t->free_head; s != NONE; s = t->flows[s].next)
		if (s >= t->capacity || n++ == t->capacity - t->count)
			return -EUCLEAN;
	if (n != t->capacity - t->count)
		return -EUCLEAN;
	return 0;
}
