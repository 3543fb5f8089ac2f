/* Suite "maglev": lib/maglev.c's tables: entry shares for equal and
 * unequal weights, disruption when a target leaves, spread of real flow
 * hashes, independence from list order, the size checks and the primes
 * they rely on. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maglev.h"
#include "tuple_hash.h"
#include "helpers.h"

#define MAXB 1000

/* Keys as the config loader writes targets: "10.0.X.Y:9000". */
static char keys[MAXB][32];

static void make_backends(struct nlb_maglev_backend *b, size_t n,
			  uint32_t weight)
{
	for (size_t i = 0; i < n; i++) {
		snprintf(keys[i], sizeof(keys[i]), "10.0.%zu.%zu:9000",
			 i / 250, i % 250 + 1);
		b[i].key = keys[i];
		b[i].weight = weight;
	}
}

static void owned(const struct nlb_maglev *m, size_t *count, size_t n)
{
	memset(count, 0, n * sizeof(*count));
	for (uint32_t s = 0; s < m->size; s++) {
		cr_assert_lt(m->entries[s], n, "slot %u holds %u", s,
			     m->entries[s]);
		count[m->entries[s]]++;
	}
}

/* Slots whose owner's key differs between two tables of one size. */
static size_t differing(const struct nlb_maglev *a,
			const struct nlb_maglev_backend *ba,
			const struct nlb_maglev *b,
			const struct nlb_maglev_backend *bb)
{
	size_t d = 0;

	cr_assert_eq(a->size, b->size);
	for (uint32_t s = 0; s < a->size; s++)
		if (strcmp(ba[a->entries[s]].key, bb[b->entries[s]].key) != 0)
			d++;
	return d;
}

/* splitmix64: a fixed, seedable generator so every run sees the same
 * "random" flows. */
static uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

T_UNIT(maglev, equal_weights_own_floor_or_ceil_of_share)
{
	static struct nlb_maglev_backend b[100];
	struct nlb_maglev m;
	size_t count[100];

	make_backends(b, 100, 1);
	cr_assert_eq(nlb_maglev_build(&m, 65537, b, 100, 0), 0);
	cr_assert_eq(m.size, 65537);
	owned(&m, count, 100);
	for (size_t i = 0; i < 100; i++)
		cr_assert(count[i] == 655 || count[i] == 656,
			  "%s owns %zu", b[i].key, count[i]);
	nlb_maglev_free(&m);
}

T_UNIT(maglev, weights_1_2_3_give_shares_1_2_3_sixths)
{
	struct nlb_maglev_backend b[3];
	struct nlb_maglev m;
	size_t count[3];

	make_backends(b, 3, 0);
	for (size_t i = 0; i < 3; i++)
		b[i].weight = (uint32_t)i + 1;
	cr_assert_eq(nlb_maglev_build(&m, 65537, b, 3, 0), 0);
	owned(&m, count, 3);
	for (size_t i = 0; i < 3; i++) {
		double share = (double)count[i] / m.size;
		double want = (double)(i + 1) / 6;
		cr_assert(share > want - 0.01 && share < want + 0.01,
			  "weight %zu: share %.4f, want %.4f", i + 1, share,
			  want);
	}
	nlb_maglev_free(&m);
}

T_UNIT(maglev, extreme_weight_ratio_stays_proportional)
{
	/* 1 : 1000 is the widest ratio allowed; 65537 * 1/1001 = 65.5. */
	struct nlb_maglev_backend b[2];
	struct nlb_maglev m;
	size_t count[2];

	make_backends(b, 2, 0);
	b[0].weight = 1000;
	b[1].weight = 1;
	cr_assert_eq(nlb_maglev_build(&m, 65537, b, 2, 0), 0);
	owned(&m, count, 2);
	cr_assert(count[1] >= 65 && count[1] <= 66, "weight 1 owns %zu",
		  count[1]);
	nlb_maglev_free(&m);
}

T_UNIT(maglev, removing_one_of_ten_moves_at_most_12_percent)
{
	struct nlb_maglev_backend b[10], rest[9];
	struct nlb_maglev full, less;

	make_backends(b, 10, 1);
	cr_assert_eq(nlb_maglev_build(&full, 65537, b, 10, 0), 0);
	/* Whichever target leaves. */
	for (size_t gone = 0; gone < 10; gone++) {
		for (size_t i = 0, k = 0; i < 10; i++)
			if (i != gone)
				rest[k++] = b[i];
		cr_assert_eq(nlb_maglev_build(&less, 65537, rest, 9, 0), 0);
		size_t d = differing(&full, b, &less, rest);
		cr_assert_leq(d, 65537 * 12 / 100, "removing %s moved %zu",
			      b[gone].key, d);
		/* Its own tenth must move, at least. */
		cr_assert_geq(d, 65537 / 10 - 1);
		nlb_maglev_free(&less);
	}
	nlb_maglev_free(&full);
}

T_UNIT(maglev, random_flows_spread_within_5_percent)
{
	static struct nlb_maglev_backend b[100];
	struct nlb_maglev m;
	size_t count[100] = { 0 };
	uint64_t rng = 42;
	const size_t flows = 1000000;

	make_backends(b, 100, 1);
	cr_assert_eq(nlb_maglev_build(&m, 65537, b, 100, 7), 0);
	for (size_t f = 0; f < flows; f++) {
		struct nlb_tuple t;
		memset(&t, 0, sizeof(t));
		uint64_t r = rng_next(&rng);
		t.src[10] = 0xff;
		t.src[11] = 0xff;
		memcpy(t.src + 12, &r, 4);
		t.sport = (uint16_t)(r >> 32);
		t.dst[10] = 0xff;
		t.dst[11] = 0xff;
		t.dst[12] = 192;
		t.dst[15] = 1;
		t.dport = htons(80);
		t.proto = IPPROTO_TCP;
		int i = nlb_maglev_lookup(&m, nlb_tuple_hash(&t, 7,
							     NLB_HASH_5TUPLE));
		cr_assert(i >= 0 && i < 100);
		count[i]++;
	}
	double mean = (double)flows / 100;
	for (size_t i = 0; i < 100; i++)
		cr_assert(count[i] > mean * 0.95 && count[i] < mean * 1.05,
			  "%s got %zu flows, mean %.0f", b[i].key, count[i],
			  mean);
	nlb_maglev_free(&m);
}

T_UNIT(maglev, list_order_does_not_matter)
{
	static struct nlb_maglev_backend b[50], shuffled[50];
	struct nlb_maglev x, y;
	uint64_t rng = 1;

	make_backends(b, 50, 1);
	for (size_t i = 0; i < 50; i++)
		b[i].weight = (uint32_t)(i % 4 + 1);
	memcpy(shuffled, b, sizeof(b));
	for (size_t i = 49; i > 0; i--) {
		size_t j = rng_next(&rng) % (i + 1);
		struct nlb_maglev_backend tmp = shuffled[i];
		shuffled[i] = shuffled[j];
		shuffled[j] = tmp;
	}
	cr_assert_eq(nlb_maglev_build(&x, 65537, b, 50, 3), 0);
	cr_assert_eq(nlb_maglev_build(&y, 65537, shuffled, 50, 3), 0);
	cr_assert_eq(differing(&x, b, &y, shuffled), 0);
	nlb_maglev_free(&x);
	nlb_maglev_free(&y);
}

T_UNIT(maglev, seed_decides_the_table)
{
	static struct nlb_maglev_backend b[20];
	struct nlb_maglev x, y, z;

	make_backends(b, 20, 1);
	cr_assert_eq(nlb_maglev_build(&x, 65537, b, 20, 99), 0);
	cr_assert_eq(nlb_maglev_build(&y, 65537, b, 20, 99), 0);
	cr_assert_eq(nlb_maglev_build(&z, 65537, b, 20, 100), 0);
	cr_assert_eq(memcmp(x.entries, y.entries, 65537 * sizeof(uint16_t)),
		     0);
	/* Independent tables agree on about 1/20 of the slots. */
	size_t d = differing(&x, b, &z, b);
	cr_assert_gt(d, 65537 * 8 / 10, "only %zu slots differ", d);
	nlb_maglev_free(&x);
	nlb_maglev_free(&y);
	nlb_maglev_free(&z);
}

/* Every nlb of one version must build the same table from the same
 * configuration (ECMP spreads a flow's packets across them, and a rolling
 * upgrade mixes versions): pin a few owners and the whole table so a
 * change to the permutation, the weighting or the lookup is a deliberate
 * one.  The values were reproduced by a separate Python model written
 * from the comments in maglev.c. */
T_UNIT(maglev, table_is_pinned)
{
	struct nlb_maglev_backend b[3] = {
		{ "127.0.0.1:9001", 1 },
		{ "127.0.0.1:9002", 2 },
		{ "[::1]:9003", 3 },
	};
	struct nlb_maglev m;
	static const struct { uint64_t hash; int owner; } pins[] = {
		{ 0x0000000000000000ULL, 2 },
		{ 0x4000000000000000ULL, 0 },
		{ 0x8000000000000000ULL, 1 },
		{ 0xc000000000000000ULL, 1 },
		{ 0xffffffffffffffffULL, 1 },
	};
	uint64_t fp = 0;

	cr_assert_eq(nlb_maglev_build(&m, 65537, b, 3, 0), 0);
	for (size_t i = 0; i < sizeof(pins) / sizeof(pins[0]); i++) {
		int got = nlb_maglev_lookup(&m, pins[i].hash);
		cr_expect_eq(got, pins[i].owner, "hash %016llx -> %d",
			     (unsigned long long)pins[i].hash, got);
	}
	/* The whole table, as integers so the host's byte order is no
	 * part of it. */
	for (uint32_t s = 0; s < m.size; s++)
		fp = fp * 1000003 + m.entries[s];
	cr_assert_eq(fp, 0x33a64abbe8bc544aULL, "fingerprint %016llx",
		     (unsigned long long)fp);
	nlb_maglev_free(&m);
}

T_UNIT(maglev, weight_zero_owns_nothing)
{
	struct nlb_maglev_backend b[5], without[4];
	struct nlb_maglev m, w;
	size_t count[5];

	make_backends(b, 5, 10);
	b[2].weight = 0;
	cr_assert_eq(nlb_maglev_build(&m, 1009, b, 5, 0), 0);
	owned(&m, count, 5);
	cr_assert_eq(count[2], 0);
	for (size_t i = 0; i < 5; i++)
		if (i != 2)
			cr_assert_gt(count[i], 0);
	/* Weight 0 is the same as absent. */
	for (size_t i = 0, k = 0; i < 5; i++)
		if (i != 2)
			without[k++] = b[i];
	cr_assert_eq(nlb_maglev_build(&w, 1009, without, 4, 0), 0);
	cr_assert_eq(differing(&m, b, &w, without), 0);
	nlb_maglev_free(&m);
	nlb_maglev_free(&w);
}

T_UNIT(maglev, every_weighted_backend_owns_something)
{
	static struct nlb_maglev_backend b[100];
	struct nlb_maglev m;
	size_t count[100];

	make_backends(b, 100, 1000);
	b[17].weight = 1;
	cr_assert_eq(nlb_maglev_build(&m, 10007, b, 100, 0), 0);
	owned(&m, count, 100);
	cr_assert_geq(count[17], 1);
	nlb_maglev_free(&m);
}

T_UNIT(maglev, empty_table_lookup_is_enoent)
{
	struct nlb_maglev_backend b[3];
	struct nlb_maglev m;

	cr_assert_eq(nlb_maglev_build(&m, 65537, NULL, 0, 0), 0);
	cr_assert_eq(nlb_maglev_lookup(&m, 12345), -ENOENT);
	nlb_maglev_free(&m);

	make_backends(b, 3, 0);
	cr_assert_eq(nlb_maglev_build(&m, 65537, b, 3, 0), 0);
	cr_assert_eq(nlb_maglev_lookup(&m, 0), -ENOENT);
	cr_assert_eq(nlb_maglev_lookup(&m, UINT64_MAX), -ENOENT);
	nlb_maglev_free(&m);
	/* A freed table is empty too. */
	cr_assert_eq(nlb_maglev_lookup(&m, 1), -ENOENT);
}

T_UNIT(maglev, single_backend_owns_all)
{
	struct nlb_maglev_backend b[1];
	struct nlb_maglev m;
	size_t count[1];

	make_backends(b, 1, 5);
	cr_assert_eq(nlb_maglev_build(&m, 101, b, 1, 0), 0);
	owned(&m, count, 1);
	cr_assert_eq(count[0], 101);
	nlb_maglev_free(&m);
}

T_UNIT(maglev, build_refuses_bad_input)
{
	struct nlb_maglev_backend b[3];
	struct nlb_maglev m;

	make_backends(b, 3, 1);
	cr_assert_eq(nlb_maglev_build(&m, 65536, b, 3, 0), -EINVAL);
	cr_assert_null(m.entries);
	cr_assert_eq(nlb_maglev_lookup(&m, 1), -ENOENT);
	cr_assert_eq(nlb_maglev_build(&m, 1, b, 3, 0), -EINVAL);
	cr_assert_eq(nlb_maglev_build(&m, 0, b, 3, 0), -EINVAL);
	/* Prime but beyond the cap. */
	cr_assert_eq(nlb_maglev_build(&m, 2147483647, b, 3, 0), -EINVAL);

	b[1].weight = NLB_MAGLEV_MAX_WEIGHT + 1;
	cr_assert_eq(nlb_maglev_build(&m, 65537, b, 3, 0), -EINVAL);
	b[1].weight = NLB_MAGLEV_MAX_WEIGHT;
	cr_assert_eq(nlb_maglev_build(&m, 65537, b, 3, 0), 0);
	nlb_maglev_free(&m);

	b[1].key = NULL;
	cr_assert_eq(nlb_maglev_build(&m, 65537, b, 3, 0), -EINVAL);
	b[1].key = b[2].key;
	cr_assert_eq(nlb_maglev_build(&m, 65537, b, 3, 0), -EINVAL);
	cr_assert_null(m.entries);
	/* A repeat is refused whatever the weights. */
	b[1].weight = 7;
	cr_assert_eq(nlb_maglev_build(&m, 65537, b, 3, 0), -EINVAL);

	/* More backends than a uint16_t index can name. */
	cr_assert_eq(nlb_maglev_build(&m, 65537, b,
				      NLB_MAGLEV_MAX_BACKENDS + 1, 0), -EINVAL);
}

T_UNIT(maglev, check_enforces_prime_and_100_per_backend)
{
	cr_assert_eq(nlb_maglev_check(65537, 655), 0);
	cr_assert_eq(nlb_maglev_check(65537, 656), -EINVAL);
	cr_assert_eq(nlb_maglev_check(65537, 0), 0);
	cr_assert_eq(nlb_maglev_check(65536, 10), -EINVAL);
	cr_assert_eq(nlb_maglev_check(65541, 10), -EINVAL);	/* 3 * 21847 */
	cr_assert_eq(nlb_maglev_check(65539, 10), 0);
	cr_assert_eq(nlb_maglev_check(101, 1), 0);
	cr_assert_eq(nlb_maglev_check(97, 1), -EINVAL);
	cr_assert_eq(nlb_maglev_check(100003, 1000), 0);
	cr_assert_eq(nlb_maglev_check(99991, 1000), -EINVAL);
	cr_assert_eq(nlb_maglev_check(1, 0), -EINVAL);
	cr_assert_eq(nlb_maglev_check(0, 0), -EINVAL);
	/* No overflow in 100 * n. */
	cr_assert_eq(nlb_maglev_check(65537, SIZE_MAX / 50), -EINVAL);
	cr_assert_eq(nlb_maglev_check(2147483647, 1), -EINVAL);
}

T_UNIT(maglev, is_prime_is_exact)
{
	static const size_t primes[] = {
		2, 3, 5, 37, 41, 101, 65537, 100003, 655373, 2147483647,
		4294967291u, 2305843009213693951ULL,	/* 2^61 - 1 */
		18446744073709551557ULL,		/* largest below 2^64 */
	};
	static const size_t composites[] = {
		0, 1, 4, 9, 65536, 65535, 561, 1105,	/* Carmichael */
		2047,				/* strong pseudoprime to 2 */
		3215031751ULL,			/* to 2, 3, 5, 7 */
		3825123056546413051ULL,		/* to 2..23 */
		18446744073709551615ULL,	/* 2^64 - 1 */
		4294967297ULL,			/* 641 * 6700417 */
	};
	for (size_t i = 0; i < sizeof(primes) / sizeof(primes[0]); i++)
		cr_assert(nlb_is_prime(primes[i]), "%zu", primes[i]);
	for (size_t i = 0; i < sizeof(composites) / sizeof(composites[0]); i++)
		cr_assert(!nlb_is_prime(composites[i]), "%zu", composites[i]);
	/* Agrees with trial division over a range. */
	for (size_t x = 0; x < 20000; x++) {
		int p = x >= 2;
		for (size_t d = 2; d * d <= x && p; d++)
			p = x % d != 0;
		cr_assert_eq(nlb_is_prime(x), p, "%zu", x);
	}
	cr_assert_eq(nlb_next_prime(100000), 100003);
	cr_assert_eq(nlb_next_prime(65537), 65537);
	cr_assert_eq(nlb_next_prime(0), 2);
	cr_assert_eq(nlb_next_prime(SIZE_MAX), 0);
}
