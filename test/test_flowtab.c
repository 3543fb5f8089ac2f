/* Tests for lib/flowtab.c: insert, lookup, update and remove; exact LRU
 * eviction when full; idle expiry bounded by max_work; and a million
 * random operations checked against a simple model, with a good hash and
 * with one that makes every probe chain collide. */
#include <criterion/criterion.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "flowtab.h"
#include "helpers.h"

/* Flow number k: 10.x.y.z:(k & 0xffff) -> 192.0.2.1:80, TCP. */
static struct nlb_tuple flow(uint32_t k)
{
	struct nlb_tuple t;

	memset(&t, 0, sizeof(t));
	t.src[10] = t.src[11] = 0xff;
	t.src[12] = 10;
	t.src[13] = (uint8_t)(k >> 16);
	t.src[14] = (uint8_t)(k >> 8);
	t.src[15] = (uint8_t)k;
	t.dst[10] = t.dst[11] = 0xff;
	t.dst[12] = 192;
	t.dst[15] = 1;
	t.sport = (uint16_t)(k * 7919);
	t.dport = 80;
	t.proto = IPPROTO_TCP;
	return t;
}

static uint64_t hash_of(uint32_t k)
{
	struct nlb_tuple t = flow(k);
	return nlb_tuple_hash(&t, 0, NLB_HASH_5TUPLE);
}

static void put(struct nlb_flowtab *t, uint32_t k, uint32_t v, uint64_t now)
{
	struct nlb_tuple tu = flow(k);
	cr_assert_eq(nlb_flowtab_insert(t, &tu, hash_of(k), v, now), 0);
}

/* The value of flow k, or -1 when absent. */
static int64_t get(struct nlb_flowtab *t, uint32_t k, uint64_t now)
{
	struct nlb_tuple tu = flow(k);
	uint32_t v;
	int r = nlb_flowtab_lookup(t, &tu, hash_of(k), now, &v);
	if (r == -ENOENT)
		return -1;
	cr_assert_eq(r, 0);
	return v;
}

static struct nlb_flowtab *make(size_t capacity)
{
	struct nlb_flowtab *t;
	cr_assert_eq(nlb_flowtab_create(&t, capacity), 0);
	cr_assert_not_null(t);
	return t;
}

T_UNIT(flowtab, create_refuses_bad_capacity)
{
	struct nlb_flowtab *t = (struct nlb_flowtab *)1;

	cr_assert_eq(nlb_flowtab_create(&t, 0), -EINVAL);
	cr_assert_null(t);
	cr_assert_eq(nlb_flowtab_create(&t, (size_t)NLB_FLOWTAB_MAX_CAPACITY + 1),
		     -EINVAL);
	t = make(1);
	cr_assert_eq(nlb_flowtab_capacity(t), 1);
	nlb_flowtab_destroy(t);
	nlb_flowtab_destroy(NULL);
}

T_UNIT(flowtab, insert_lookup_update_remove)
{
	struct nlb_flowtab *t = make(100);
	struct nlb_flowtab_stats st;

	cr_assert_eq(get(t, 1, 0), -1);
	for (uint32_t k = 0; k < 100; k++)
		put(t, k, k * 3, 10);
	cr_assert_eq(nlb_flowtab_count(t), 100);
	for (uint32_t k = 0; k < 100; k++)
		cr_assert_eq(get(t, k, 11), k * 3);
	cr_assert_eq(get(t, 100, 11), -1);

	/* Inserting a present flow replaces its value, not its place. */
	put(t, 5, 77, 12);
	cr_assert_eq(get(t, 5, 13), 77);
	cr_assert_eq(nlb_flowtab_count(t), 100);

	/* A lookup may leave the value out. */
	struct nlb_tuple tu = flow(6);
	cr_assert_eq(nlb_flowtab_lookup(t, &tu, hash_of(6), 14, NULL), 0);

	cr_assert_eq(nlb_flowtab_remove(t, &tu, hash_of(6)), 0);
	cr_assert_eq(nlb_flowtab_remove(t, &tu, hash_of(6)), -ENOENT);
	cr_assert_eq(get(t, 6, 15), -1);
	cr_assert_eq(nlb_flowtab_count(t), 99);
	cr_assert_eq(nlb_flowtab_verify(t), 0);

	nlb_flowtab_stats(t, &st);
	cr_assert_eq(st.inserts, 100);
	cr_assert_eq(st.updates, 1);
	cr_assert_eq(st.removals, 1);
	cr_assert_eq(st.hits, 100 + 1 + 1);
	cr_assert_eq(st.misses, 3);
	cr_assert_eq(st.evictions, 0);
	cr_assert_eq(st.expirations, 0);

	nlb_flowtab_clear(t);
	cr_assert_eq(nlb_flowtab_count(t), 0);
	cr_assert_eq(get(t, 1, 16), -1);
	cr_assert_eq(nlb_flowtab_verify(t), 0);
	put(t, 1, 1, 17);
	cr_assert_eq(get(t, 1, 18), 1);
	nlb_flowtab_destroy(t);
}

T_UNIT(flowtab, full_table_evicts_least_recently_used)
{
	struct nlb_flowtab *t = make(4);
	struct nlb_flowtab_stats st;

	put(t, 1, 1, 100);
	put(t, 2, 2, 101);
	put(t, 3, 3, 102);
	put(t, 4, 4, 103);
	/* Use 1 and 2 again: 3 is now the least recently used. */
	cr_assert_eq(get(t, 1, 104), 1);
	put(t, 2, 20, 105);
	put(t, 5, 5, 106);
	cr_assert_eq(nlb_flowtab_count(t), 4);
	cr_assert_eq(get(t, 3, 107), -1);
	/* Then 4, then 1 (touched at 104, before 2 and 5). */
	put(t, 6, 6, 108);
	cr_assert_eq(get(t, 4, 109), -1);
	put(t, 7, 7, 110);
	cr_assert_eq(get(t, 1, 111), -1);
	cr_assert_eq(get(t, 2, 112), 20);
	cr_assert_eq(get(t, 5, 113), 5);
	cr_assert_eq(get(t, 6, 114), 6);
	cr_assert_eq(get(t, 7, 115), 7);
	cr_assert_eq(nlb_flowtab_verify(t), 0);
	nlb_flowtab_stats(t, &st);
	cr_assert_eq(st.evictions, 3);
	nlb_flowtab_destroy(t);
}

T_UNIT(flowtab, expire_removes_only_idle_and_respects_max_work)
{
	struct nlb_flowtab *t = make(1000);
	struct nlb_flowtab_stats st;

	/* 0..299 last used at 1000 + k, 300..499 at 5000 + k. */
	for (uint32_t k = 0; k < 300; k++)
		put(t, k, k, 1000 + k);
	for (uint32_t k = 300; k < 500; k++)
		put(t, k, k, 5000 + k);
	/* Flow 10 used again late: it must survive. */
	cr_assert_eq(get(t, 10, 5600), 10);

	cr_assert_eq(nlb_flowtab_expire(t, 6000, 1000, 0), 0);
	cr_assert_eq(nlb_flowtab_count(t), 500);

	/* Idle means now - last > idle_ms: at 6000 with 1000, flows last
	 * used before 5000 go; 299 flows (all of 0..299 but 10). */
	size_t total = 0, r;
	unsigned calls = 0;
	while ((r = nlb_flowtab_expire(t, 6000, 1000, 37)) > 0) {
		cr_assert_leq(r, 37);
		total += r;
		calls++;
	}
	cr_assert_eq(total, 299);
	cr_assert_eq(calls, 9);	/* 8 full slices of 37, then 3 */
	cr_assert_eq(nlb_flowtab_count(t), 201);
	cr_assert_eq(get(t, 10, 6000), 10);
	for (uint32_t k = 0; k < 300; k++)
		if (k != 10)
			cr_assert_eq(get(t, k, 6000), -1, "flow %u", k);

	/* Exactly idle_ms idle stays; one more millisecond goes. */
	cr_assert_eq(nlb_flowtab_expire(t, 5300 + 1000, 1000, 1000), 0);
	cr_assert_eq(nlb_flowtab_expire(t, 5300 + 1001, 1000, 1000), 1);
	cr_assert_eq(get(t, 300, 6400), -1);

	/* A clock that went backwards expires nothing. */
	cr_assert_eq(nlb_flowtab_expire(t, 10, 0, 1000), 0);

	nlb_flowtab_stats(t, &st);
	cr_assert_eq(st.expirations, 300);
	cr_assert_eq(nlb_flowtab_verify(t), 0);
	nlb_flowtab_destroy(t);
}

T_UNIT(flowtab, colliding_hashes_stay_reachable)
{
	/* Every flow has the same hash: one long cluster, so removal in the
	 * middle must shift the rest back correctly. */
	struct nlb_flowtab *t = make(64);

	for (uint32_t k = 0; k < 64; k++) {
		struct nlb_tuple tu = flow(k);
		cr_assert_eq(nlb_flowtab_insert(t, &tu, 42, k, k), 0);
	}
	for (uint32_t k = 0; k < 64; k += 3) {
		struct nlb_tuple tu = flow(k);
		cr_assert_eq(nlb_flowtab_remove(t, &tu, 42), 0);
		cr_assert_eq(nlb_flowtab_verify(t), 0);
	}
	for (uint32_t k = 0; k < 64; k++) {
		struct nlb_tuple tu = flow(k);
		uint32_t v = UINT32_MAX;
		int r = nlb_flowtab_lookup(t, &tu, 42, 100, &v);
		if (k % 3 == 0) {
			cr_assert_eq(r, -ENOENT, "flow %u", k);
		} else {
			cr_assert_eq(r, 0, "flow %u", k);
			cr_assert_eq(v, k);
		}
	}
	nlb_flowtab_destroy(t);
}

/* ---- random operations against a model ---------------------------------- */

#define KEYS 512

/* The model: per key, presence, value, last use and a use sequence
 * number; the least recently used flow is the present key with the
 * smallest sequence number.  Plain scans: slow and obviously right. */
struct model {
	uint8_t present[KEYS];
	uint32_t value[KEYS];
	uint64_t last[KEYS];
	uint64_t seq[KEYS];
	uint64_t next_seq;
	size_t count;
	size_t capacity;
	uint64_t evictions, expirations;
};

static int model_lru(const struct model *m)
{
	int best = -1;
	for (int k = 0; k < KEYS; k++)
		if (m->present[k] && (best < 0 || m->seq[k] < m->seq[best]))
			best = k;
	return best;
}

static void model_touch(struct model *m, int k, uint64_t now)
{
	m->last[k] = now;
	m->seq[k] = m->next_seq++;
}

static uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* weak: hash a key to one of 7 values, so chains are long and the
 * backward shift is exercised on nearly every removal. */
static void stress(size_t capacity, int weak, unsigned ops, uint64_t rng)
{
	struct nlb_flowtab *t = make(capacity);
	struct model *m = calloc(1, sizeof(*m));
	uint64_t now = 1000;

	cr_assert_not_null(m);
	m->capacity = capacity;
	for (unsigned op = 0; op < ops; op++) {
		uint64_t r = rng_next(&rng);
		int k = (int)(r % KEYS);
		unsigned what = (unsigned)(r >> 32) % 100;
		struct nlb_tuple tu = flow((uint32_t)k);
		uint64_t h = weak ? (uint64_t)(k % 7) * 0x9e3779b97f4a7c15ULL
				  : hash_of((uint32_t)k);
		now += (r >> 48) % 3;

		if (what < 40) {
			uint32_t v;
			int got = nlb_flowtab_lookup(t, &tu, h, now, &v);
			if (m->present[k]) {
				cr_assert_eq(got, 0, "op %u: key %d lost", op, k);
				cr_assert_eq(v, m->value[k]);
				model_touch(m, k, now);
			} else {
				cr_assert_eq(got, -ENOENT, "op %u: key %d", op, k);
			}
		} else if (what < 75) {
			uint32_t v = (uint32_t)(r >> 8);
			cr_assert_eq(nlb_flowtab_insert(t, &tu, h, v, now), 0);
			if (!m->present[k]) {
				if (m->count == m->capacity) {
					m->present[model_lru(m)] = 0;
					m->count--;
					m->evictions++;
				}
				m->present[k] = 1;
				m->count++;
			}
			m->value[k] = v;
			model_touch(m, k, now);
		} else if (what < 90) {
			int got = nlb_flowtab_remove(t, &tu, h);
			cr_assert_eq(got, m->present[k] ? 0 : -ENOENT, "op %u", op);
			if (m->present[k]) {
				m->present[k] = 0;
				m->count--;
			}
		} else {
			uint64_t idle = (r >> 16) % 2000;
			size_t max_work = (size_t)((r >> 40) % 9);
			size_t want = 0;
			while (want < max_work) {
				int lru = model_lru(m);
				if (lru < 0 || now - m->last[lru] <= idle)
					break;
				m->present[lru] = 0;
				m->count--;
				want++;
			}
			m->expirations += want;
			cr_assert_eq(nlb_flowtab_expire(t, now, idle, max_work),
				     want, "op %u", op);
		}
		cr_assert_eq(nlb_flowtab_count(t), m->count, "op %u", op);
		if (op % 4096 == 0)
			cr_assert_eq(nlb_flowtab_verify(t), 0, "op %u", op);
	}
	cr_assert_eq(nlb_flowtab_verify(t), 0);
	for (int k = 0; k < KEYS; k++) {
		struct nlb_tuple tu = flow((uint32_t)k);
		uint64_t h = weak ? (uint64_t)(k % 7) * 0x9e3779b97f4a7c15ULL
				  : hash_of((uint32_t)k);
		uint32_t v;
		int got = nlb_flowtab_lookup(t, &tu, h, now, &v);
		cr_assert_eq(got, m->present[k] ? 0 : -ENOENT, "key %d", k);
		if (got == 0)
			cr_assert_eq(v, m->value[k]);
	}
	struct nlb_flowtab_stats st;
	nlb_flowtab_stats(t, &st);
	cr_assert_eq(st.evictions, m->evictions);
	cr_assert_eq(st.expirations, m->expirations);
	cr_log_info("evictions %llu expirations %llu",
		    (unsigned long long)m->evictions,
		    (unsigned long long)m->expirations);
	/* The run must have reached the interesting states. */
	cr_assert_gt(m->evictions, 1000);
	cr_assert_gt(m->expirations, 1000);
	free(m);
	nlb_flowtab_destroy(t);
}

T_UNIT(flowtab, million_random_ops_match_model, .timeout = 120)
{
	stress(200, 0, 1000000, 1);
}

T_UNIT(flowtab, random_ops_with_colliding_hashes_match_model, .timeout = 120)
{
	stress(100, 1, 200000, 2);
}
