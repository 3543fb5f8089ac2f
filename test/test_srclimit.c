/* Tests for lib/srclimit.c: the concurrent limit, the token bucket (rates
 * 1 to 2^32 - 1, long gaps, a clock going backwards), both together,
 * eviction that never takes a source holding connections, and random
 * operations checked against a simple model; and that a table gives its
 * memory back and allocates nothing after init. */
#include <criterion/criterion.h>

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "srclimit.h"
#include "helpers.h"

/* Bytes allocated and not freed, for heap_is_given_back: LeakSanitizer
 * cannot tell here, as test/lsan.supp suppresses every leak whose stack
 * passes through libcriterion.so, and every test body's does. */
#ifdef __SANITIZE_ADDRESS__
size_t __sanitizer_get_current_allocated_bytes(void);
static size_t heap_in_use(void)
{
	return __sanitizer_get_current_allocated_bytes();
}
#else
static size_t heap_in_use(void)
{
	return mallinfo2().uordblks;
}
#endif

#define MS  1000000ull
#define SEC 1000000000ull
#define NO  NLB_SRCLIMIT_NO_SLOT

static const uint8_t key[16] = "srclimit-testke";	/* and a NUL */

/* ::ffff:a.b.c.d, as nlb_tuple holds IPv4. */
struct addr {
	uint8_t b[16];
};

static struct addr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	struct addr x = { .b = { [10] = 0xff, [11] = 0xff,
				 [12] = a, [13] = b, [14] = c, [15] = d } };
	return x;
}

/* 2001:db8::k, or with k's low 32 bits alone the IPv4-compatible form of
 * the same four bytes when compat (::a.b.c.d, which is not ::ffff:). */
static struct addr v6(uint32_t k, int compat)
{
	struct addr x = { .b = { 0 } };
	if (!compat) {
		x.b[0] = 0x20;
		x.b[1] = 0x01;
		x.b[2] = 0x0d;
		x.b[3] = 0xb8;
	}
	x.b[12] = (uint8_t)(k >> 24);
	x.b[13] = (uint8_t)(k >> 16);
	x.b[14] = (uint8_t)(k >> 8);
	x.b[15] = (uint8_t)k;
	return x;
}

static void make(struct nlb_srclimit *t, uint32_t max_conns, uint32_t rate,
		 uint32_t capacity)
{
	cr_assert_eq(nlb_srclimit_init(t, max_conns, rate, capacity, key), 0);
	cr_assert_eq(nlb_srclimit_verify(t), 0);
}

/* admit's result; *slot (if slot is not NULL) gets the handle. */
static int admit(struct nlb_srclimit *t, struct addr a, uint64_t now,
		 uint32_t *slot)
{
	uint32_t s = 0xdeadbeef;
	int r = nlb_srclimit_admit(t, a.b, now, &s);
	if (r != 0)
		cr_assert_eq(s, NO, "a refusal gives no slot");
	if (slot != NULL)
		*slot = s;
	return r;
}

static int64_t conns(const struct nlb_srclimit *t, struct addr a)
{
	return nlb_srclimit_conns(t, a.b);
}

T_UNIT(srclimit, init_refuses_bad_capacity)
{
	struct nlb_srclimit t;

	cr_assert_eq(nlb_srclimit_init(&t, 1, 0, 0, key), -EINVAL);
	cr_assert_eq(nlb_srclimit_init(&t, 0, 1, NLB_SRCLIMIT_MAX_CAPACITY + 1,
				       key), -EINVAL);
	cr_assert_null(t.entries);
	make(&t, 1, 1, 1);
	nlb_srclimit_free(&t);
	cr_assert_null(t.entries);
	nlb_srclimit_free(&t);	/* twice is harmless */
}

T_UNIT(srclimit, disabled_table_admits_everything)
{
	struct nlb_srclimit zero;
	struct nlb_srclimit off;
	uint32_t slot;

	memset(&zero, 0, sizeof(zero));
	/* Both limits 0: nothing allocated, whatever the capacity. */
	cr_assert_eq(nlb_srclimit_init(&off, 0, 0, 0, key), 0);
	cr_assert_null(off.entries);
	for (int i = 0; i < 1000; i++) {
		cr_assert_eq(admit(&zero, v4(10, 0, 0, 1), 0, &slot), 0);
		cr_assert_eq(slot, NO);
		cr_assert_eq(admit(&off, v4(10, 0, 0, 1), 0, &slot), 0);
		cr_assert_eq(slot, NO);
	}
	nlb_srclimit_release(&zero, NO);
	nlb_srclimit_release(&zero, 0);
	nlb_srclimit_release(&off, 5);
	cr_assert_eq(conns(&zero, v4(10, 0, 0, 1)), -ENOENT);
	cr_assert_eq(nlb_srclimit_verify(&zero), 0);
	cr_assert_eq(nlb_srclimit_verify(&off), 0);
	nlb_srclimit_free(&zero);
	nlb_srclimit_free(&off);
}

T_UNIT(srclimit, concurrent_limit)
{
	struct nlb_srclimit t;
	struct addr a = v4(10, 0, 0, 1);
	uint32_t slot, s;

	make(&t, 3, 0, 100);
	cr_assert_eq(admit(&t, a, 0, &slot), 0);
	cr_assert_neq(slot, NO);
	for (int i = 1; i < 3; i++) {
		cr_assert_eq(admit(&t, a, 0, &s), 0);
		cr_assert_eq(s, slot, "one slot per source");
	}
	cr_assert_eq(admit(&t, a, 0, NULL), -EMFILE);
	cr_assert_eq(admit(&t, a, 1000 * SEC, NULL), -EMFILE);
	cr_assert_eq(conns(&t, a), 3);

	/* Other sources are unaffected, and an IPv4 address is not the
	 * IPv6 addresses that end in the same four bytes. */
	struct addr others[] = { v4(10, 0, 0, 2), v6(0x0a000001, 0),
				 v6(0x0a000001, 1) };
	for (size_t i = 0; i < 3; i++) {
		for (int k = 0; k < 3; k++)
			cr_assert_eq(admit(&t, others[i], 0, NULL), 0);
		cr_assert_eq(admit(&t, others[i], 0, NULL), -EMFILE);
		cr_assert_eq(conns(&t, others[i]), 3);
	}
	cr_assert_eq(conns(&t, a), 3);
	cr_assert_eq(t.count, 4);

	nlb_srclimit_release(&t, slot);
	cr_assert_eq(conns(&t, a), 2);
	cr_assert_eq(admit(&t, a, 0, &s), 0);
	cr_assert_eq(s, slot);
	cr_assert_eq(admit(&t, a, 0, NULL), -EMFILE);
	cr_assert_eq(nlb_srclimit_verify(&t), 0);

	/* Without a rate limit a source leaves with its last connection,
	 * and releasing more is harmless. */
	for (int i = 0; i < 3; i++)
		nlb_srclimit_release(&t, slot);
	cr_assert_eq(conns(&t, a), -ENOENT);
	cr_assert_eq(t.count, 3);
	nlb_srclimit_release(&t, slot);
	nlb_srclimit_release(&t, NO);
	nlb_srclimit_release(&t, 12345);
	cr_assert_eq(t.count, 3);
	cr_assert_eq(conns(&t, others[0]), 3);
	cr_assert_eq(nlb_srclimit_verify(&t), 0);
	nlb_srclimit_free(&t);
}

T_UNIT(srclimit, rate_ten_per_second)
{
	struct nlb_srclimit t;
	struct addr a = v6(1, 0), b = v6(2, 0);
	uint64_t now = 5 * SEC;
	uint32_t slot;

	make(&t, 0, 10, 100);
	for (int i = 0; i < 10; i++) {
		cr_assert_eq(admit(&t, a, now, &slot), 0, "admit %d", i);
		cr_assert_eq(slot, NO, "nothing to release without a count");
	}
	cr_assert_eq(admit(&t, a, now, NULL), -EAGAIN);
	cr_assert_eq(admit(&t, b, now, NULL), 0, "other sources unaffected");

	/* One token every 100 ms, not a nanosecond earlier. */
	cr_assert_eq(admit(&t, a, now + 100 * MS - 1, NULL), -EAGAIN);
	cr_assert_eq(admit(&t, a, now + 100 * MS, NULL), 0);
	cr_assert_eq(admit(&t, a, now + 100 * MS, NULL), -EAGAIN);
	cr_assert_eq(admit(&t, a, now + 250 * MS, NULL), 0);
	cr_assert_eq(admit(&t, a, now + 250 * MS, NULL), -EAGAIN);
	/* The half token left over at 250 ms counts. */
	cr_assert_eq(admit(&t, a, now + 300 * MS, NULL), 0);
	cr_assert_eq(admit(&t, a, now + 300 * MS, NULL), -EAGAIN);

	/* After hours the bucket is full: ten, not more. */
	now += 5ull * 3600 * SEC;
	for (int i = 0; i < 10; i++)
		cr_assert_eq(admit(&t, a, now, NULL), 0, "admit %d", i);
	cr_assert_eq(admit(&t, a, now, NULL), -EAGAIN);

	/* Half a second refills five. */
	now += 500 * MS;
	for (int i = 0; i < 5; i++)
		cr_assert_eq(admit(&t, a, now, NULL), 0, "admit %d", i);
	cr_assert_eq(admit(&t, a, now, NULL), -EAGAIN);
	cr_assert_eq(conns(&t, a), 0);
	cr_assert_eq(nlb_srclimit_verify(&t), 0);
	nlb_srclimit_free(&t);
}

T_UNIT(srclimit, rate_one_per_second)
{
	struct nlb_srclimit t;
	struct addr a = v4(192, 0, 2, 7);
	uint64_t now = 0;

	make(&t, 0, 1, 10);
	cr_assert_eq(admit(&t, a, now, NULL), 0);
	for (int i = 0; i < 100; i++) {
		cr_assert_eq(admit(&t, a, now + SEC - 1, NULL), -EAGAIN);
		now += SEC;
		cr_assert_eq(admit(&t, a, now, NULL), 0, "second %d", i);
		cr_assert_eq(admit(&t, a, now, NULL), -EAGAIN);
	}
	/* A day idle: still a burst of one. */
	now += 86400 * SEC;
	cr_assert_eq(admit(&t, a, now, NULL), 0);
	cr_assert_eq(admit(&t, a, now, NULL), -EAGAIN);
	nlb_srclimit_free(&t);
}

T_UNIT(srclimit, rate_one_million_per_second)
{
	struct nlb_srclimit t;
	struct addr a = v6(7, 0);
	/* Near 2^63 ns: no overflow from large clock values either. */
	uint64_t now = (1ull << 63) - 10 * SEC;

	make(&t, 0, 1000000, 10);
	for (int i = 0; i < 1000000; i++)
		if (admit(&t, a, now, NULL) != 0)
			cr_assert_fail("admit %d refused", i);
	cr_assert_eq(admit(&t, a, now, NULL), -EAGAIN);
	/* One token a microsecond. */
	for (int i = 0; i < 1000; i++) {
		cr_assert_eq(admit(&t, a, now + 999, NULL), -EAGAIN);
		now += 1000;
		cr_assert_eq(admit(&t, a, now, NULL), 0, "us %d", i);
		cr_assert_eq(admit(&t, a, now, NULL), -EAGAIN);
	}
	now += 400;
	cr_assert_eq(admit(&t, a, now, NULL), -EAGAIN);
	now += 600;
	cr_assert_eq(admit(&t, a, now, NULL), 0);

	now += 3600 * SEC;
	int passed = 0;
	while (admit(&t, a, now, NULL) == 0)
		passed++;
	cr_assert_eq(passed, 1000000);
	nlb_srclimit_free(&t);
}

T_UNIT(srclimit, rate_largest)
{
	struct nlb_srclimit t;
	struct addr a = v6(8, 0);
	uint64_t now = 123;

	/* full = (2^32 - 1) * 1e9 and a refill of just under a second: both
	 * near 2^62, still no overflow. */
	make(&t, 0, UINT32_MAX, 10);
	for (int i = 0; i < 1000; i++)
		cr_assert_eq(admit(&t, a, now, NULL), 0);
	now += SEC - 1;
	cr_assert_eq(admit(&t, a, now, NULL), 0);
	now += 100000ull * 3600 * SEC;
	cr_assert_eq(admit(&t, a, now, NULL), 0);
	cr_assert_eq(nlb_srclimit_verify(&t), 0);
	nlb_srclimit_free(&t);
}

T_UNIT(srclimit, clock_going_backwards_adds_nothing)
{
	struct nlb_srclimit t;
	struct addr a = v4(10, 1, 1, 1);

	make(&t, 0, 10, 10);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(admit(&t, a, 10 * SEC, NULL), 0);
	cr_assert_eq(admit(&t, a, 5 * SEC, NULL), -EAGAIN);
	cr_assert_eq(admit(&t, a, 10 * SEC + 50 * MS, NULL), -EAGAIN);
	/* Measured from 10 s, where the bucket last refilled. */
	cr_assert_eq(admit(&t, a, 10 * SEC + 100 * MS, NULL), 0);
	cr_assert_eq(admit(&t, a, 10 * SEC + 100 * MS, NULL), -EAGAIN);
	nlb_srclimit_free(&t);
}

T_UNIT(srclimit, both_limits)
{
	struct nlb_srclimit t;
	struct addr a = v4(10, 0, 0, 9);
	uint32_t s1, s2, s;

	make(&t, 2, 3, 10);
	cr_assert_eq(admit(&t, a, 0, &s1), 0);
	cr_assert_eq(admit(&t, a, 0, &s2), 0);
	cr_assert_eq(s1, s2);
	/* The concurrent limit refuses first and takes no token. */
	for (int i = 0; i < 10; i++)
		cr_assert_eq(admit(&t, a, 0, &s), -EMFILE);
	nlb_srclimit_release(&t, s1);
	cr_assert_eq(admit(&t, a, 0, &s), 0, "the third token was left");
	nlb_srclimit_release(&t, s);
	cr_assert_eq(conns(&t, a), 1);

	/* Now the bucket refuses though a connection is free; a release
	 * with what the refusal gave changes nothing. */
	cr_assert_eq(admit(&t, a, 0, &s), -EAGAIN);
	nlb_srclimit_release(&t, s);
	cr_assert_eq(conns(&t, a), 1);
	cr_assert_eq(nlb_srclimit_verify(&t), 0);

	/* The last release keeps the source: its bucket is still empty. */
	nlb_srclimit_release(&t, s1);
	cr_assert_eq(conns(&t, a), 0);
	cr_assert_eq(admit(&t, a, 0, NULL), -EAGAIN);
	cr_assert_eq(admit(&t, a, SEC / 3 - 1, NULL), -EAGAIN);
	cr_assert_eq(admit(&t, a, SEC / 3 + 1, &s), 0);
	cr_assert_eq(s, s1);
	cr_assert_eq(conns(&t, a), 1);
	nlb_srclimit_release(&t, s);
	cr_assert_eq(conns(&t, a), 0);
	cr_assert_eq(nlb_srclimit_verify(&t), 0);
	nlb_srclimit_free(&t);
}

T_UNIT(srclimit, full_table_evicts_least_recently_used_idle_source)
{
	struct nlb_srclimit t;

	/* Rate only: every source is idle, all can be evicted. */
	make(&t, 0, 10, 4);
	for (uint8_t i = 1; i <= 4; i++)
		cr_assert_eq(admit(&t, v4(10, 0, 0, i), 0, NULL), 0);
	cr_assert_eq(t.count, 4);
	/* 1 is used again (admitted) and 2 refused: 3 is the oldest. */
	cr_assert_eq(admit(&t, v4(10, 0, 0, 1), 1, NULL), 0);
	for (int i = 0; i < 9; i++)
		cr_assert_eq(admit(&t, v4(10, 0, 0, 2), 2, NULL), 0);
	cr_assert_eq(admit(&t, v4(10, 0, 0, 2), 2, NULL), -EAGAIN);
	cr_assert_eq(admit(&t, v4(10, 0, 0, 5), 3, NULL), 0);
	cr_assert_eq(t.count, 4);
	cr_assert_eq(t.evictions, 1);
	cr_assert_eq(conns(&t, v4(10, 0, 0, 3)), -ENOENT);
	cr_assert_eq(conns(&t, v4(10, 0, 0, 2)), 0);
	/* The refused source kept its empty bucket. */
	cr_assert_eq(admit(&t, v4(10, 0, 0, 2), 4, NULL), -EAGAIN);
	/* Then 4, 1, 5 go in that order. */
	cr_assert_eq(admit(&t, v4(10, 0, 0, 6), 5, NULL), 0);
	cr_assert_eq(conns(&t, v4(10, 0, 0, 4)), -ENOENT);
	cr_assert_eq(admit(&t, v4(10, 0, 0, 7), 6, NULL), 0);
	cr_assert_eq(conns(&t, v4(10, 0, 0, 1)), -ENOENT);
	cr_assert_eq(admit(&t, v4(10, 0, 0, 8), 7, NULL), 0);
	cr_assert_eq(conns(&t, v4(10, 0, 0, 5)), -ENOENT);
	cr_assert_eq(t.evictions, 4);
	cr_assert_eq(nlb_srclimit_verify(&t), 0);
	nlb_srclimit_free(&t);
}

T_UNIT(srclimit, sources_holding_connections_are_never_evicted)
{
	struct nlb_srclimit t;
	uint32_t slot[5];

	make(&t, 1, 10, 4);
	/* Four idle sources (admitted and released): a fifth evicts one. */
	for (uint8_t i = 0; i < 4; i++) {
		cr_assert_eq(admit(&t, v4(10, 0, 1, i), 0, &slot[i]), 0);
		nlb_srclimit_release(&t, slot[i]);
	}
	cr_assert_eq(admit(&t, v4(10, 0, 1, 4), 0, &slot[4]), 0);
	cr_assert_eq(t.evictions, 1);
	cr_assert_eq(conns(&t, v4(10, 0, 1, 0)), -ENOENT);
	nlb_srclimit_release(&t, slot[4]);
	cr_assert_eq(nlb_srclimit_verify(&t), 0);

	/* Four sources each holding a connection: no room for a fifth. */
	for (uint8_t i = 0; i < 4; i++)
		cr_assert_eq(admit(&t, v6(100 + i, 0), 1, &slot[i]), 0);
	cr_assert_eq(t.evictions, 5);
	for (int k = 0; k < 10; k++)
		cr_assert_eq(admit(&t, v6(200 + k, 0), 1, NULL), -ENOSPC);
	for (uint8_t i = 0; i < 4; i++)
		cr_assert_eq(conns(&t, v6(100 + i, 0)), 1);
	cr_assert_eq(t.evictions, 5);
	cr_assert_eq(nlb_srclimit_verify(&t), 0);

	/* After a release the fifth fits, in place of the released one. */
	nlb_srclimit_release(&t, slot[2]);
	cr_assert_eq(admit(&t, v6(200, 0), 1, &slot[4]), 0);
	cr_assert_eq(slot[4], slot[2]);
	cr_assert_eq(conns(&t, v6(102, 0)), -ENOENT);
	cr_assert_eq(admit(&t, v6(201, 0), 1, NULL), -ENOSPC);
	for (uint8_t i = 0; i < 4; i++)
		if (i != 2)
			nlb_srclimit_release(&t, slot[i]);
	nlb_srclimit_release(&t, slot[4]);
	cr_assert_eq(nlb_srclimit_verify(&t), 0);
	nlb_srclimit_free(&t);
}

T_UNIT(srclimit, concurrent_only_frees_slots_without_eviction)
{
	struct nlb_srclimit t;
	uint32_t slot[4];

	make(&t, 2, 0, 4);
	for (uint8_t i = 0; i < 4; i++)
		cr_assert_eq(admit(&t, v4(172, 16, 0, i), 0, &slot[i]), 0);
	cr_assert_eq(admit(&t, v4(172, 16, 0, 9), 0, NULL), -ENOSPC);
	cr_assert_eq(admit(&t, v4(172, 16, 0, 1), 0, NULL), 0, "known source");
	nlb_srclimit_release(&t, slot[0]);
	cr_assert_eq(t.count, 3);
	cr_assert_eq(admit(&t, v4(172, 16, 0, 9), 0, NULL), 0);
	cr_assert_eq(t.evictions, 0);
	cr_assert_eq(nlb_srclimit_verify(&t), 0);
	nlb_srclimit_free(&t);
}

T_UNIT(srclimit, one_chain_holds_every_source)
{
	/* Capacity 1 has one chain, so does the eviction path of capacity
	 * 1; capacity 3 (4 chains) with 40 sources makes chains collide. */
	struct nlb_srclimit t;
	uint32_t s;

	make(&t, 0, 1, 1);
	for (uint32_t k = 0; k < 50; k++) {
		cr_assert_eq(admit(&t, v6(k, 0), k, NULL), 0);
		cr_assert_eq(admit(&t, v6(k, 0), k, NULL), -EAGAIN);
		cr_assert_eq(t.count, 1);
		cr_assert_eq(nlb_srclimit_verify(&t), 0);
	}
	cr_assert_eq(t.evictions, 49);
	nlb_srclimit_free(&t);

	make(&t, 1, 0, 3);
	uint32_t held[3];
	for (uint32_t round = 0; round < 40; round++) {
		for (uint32_t i = 0; i < 3; i++)
			cr_assert_eq(admit(&t, v6(round * 3 + i, 0), 0,
					   &held[i]), 0);
		cr_assert_eq(admit(&t, v6(1000, 0), 0, &s), -ENOSPC);
		cr_assert_eq(nlb_srclimit_verify(&t), 0);
		for (uint32_t i = 0; i < 3; i++)
			nlb_srclimit_release(&t, held[(i + round) % 3]);
		cr_assert_eq(t.count, 0);
		cr_assert_eq(nlb_srclimit_verify(&t), 0);
	}
	nlb_srclimit_free(&t);
}

T_UNIT(srclimit, hash_is_keyed)
{
	/* The same sources under two keys land on different chains. */
	struct nlb_srclimit a, b;
	uint8_t key2[16];

	memcpy(key2, key, 16);
	key2[15] ^= 1;
	cr_assert_eq(nlb_srclimit_init(&a, 0, 1, 1024, key), 0);
	cr_assert_eq(nlb_srclimit_init(&b, 0, 1, 1024, key2), 0);
	for (uint32_t k = 0; k < 1024; k++) {
		cr_assert_eq(admit(&a, v6(k, 0), 0, NULL), 0);
		cr_assert_eq(admit(&b, v6(k, 0), 0, NULL), 0);
	}
	size_t same = 0;
	for (uint32_t c = 0; c <= a.mask; c++)
		same += (a.heads[c] == 0) == (b.heads[c] == 0);
	cr_assert_lt(same, 1024, "occupied chains should differ");
	nlb_srclimit_free(&a);
	nlb_srclimit_free(&b);
}

T_UNIT(srclimit, heap_is_given_back)
{
	static const uint32_t conf[][3] = {
		{ 3, 0, 64 }, { 0, 10, 64 }, { 2, 5, 1000 }, { 1, 1, 1 },
	};
	struct nlb_srclimit t;
	size_t before = heap_in_use(), grew = SIZE_MAX, changed = 0;
	int failed = 0;

	/* No assertion before the end: Criterion keeps some memory for its
	 * own bookkeeping as assertions pass, which would blur the count. */
	for (unsigned round = 0; round < 200; round++) {
		const uint32_t *c = conf[round % 4];
		uint32_t held[64];
		size_t n = 0;

		failed |= nlb_srclimit_init(&t, c[0], c[1], c[2], key) != 0;
		size_t mid = heap_in_use();
		if (mid - before < grew)
			grew = mid - before;
		for (uint32_t i = 0; i < 5000; i++) {
			struct addr a = v6(i % 97, 0);
			uint32_t slot;
			if (nlb_srclimit_admit(&t, a.b, i * MS, &slot) == 0 &&
			    slot != NO && n < 64)
				held[n++] = slot;
			if (i % 3 == 0 && n > 0)
				nlb_srclimit_release(&t, held[--n]);
		}
		changed += heap_in_use() != mid;
		failed |= nlb_srclimit_verify(&t) != 0;
		nlb_srclimit_free(&t);
	}
	size_t after = heap_in_use();
	cr_assert_eq(failed, 0);
	cr_assert_eq(changed, 0, "admit or release changed the heap");
	cr_assert_eq(after, before, "%zd bytes not given back",
		     (ssize_t)(after - before));
	/* And the measure does see a table: capacity 1 is 48 + 4 bytes. */
	cr_assert_geq(grew, 52);
}

/* ---- random operations against a model ---------------------------------- */

#define KEYS  48
#define LIVE  4096

/* Per source: presence, open connections, the slot they were given,
 * tokens in billionths as of last (refilled with 128-bit arithmetic and
 * no shortcut, unlike the table), and a sequence number that orders the
 * idle sources: the smallest is evicted.  Plain scans. */
struct msrc {
	int present;
	uint32_t conns;
	uint32_t slot;
	uint64_t tokens;
	uint64_t last;
	uint64_t seq;
};

struct model {
	struct msrc src[KEYS];
	uint32_t max_conns, rate, capacity, count;
	uint64_t next_seq, evictions;
	int live[LIVE];		/* the source of each open connection */
	size_t n_live;
	/* admitted, refused with -EMFILE, -EAGAIN, -ENOSPC; evictions */
	uint64_t outcomes[5];
};

static uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Source k: half IPv4-mapped, half IPv6 ending in the same bytes. */
static struct addr key_addr(int k)
{
	return k % 2 ? v6((uint32_t)k / 2, 0)
		     : v4(10, 9, 8, (uint8_t)(k / 2));
}

static void model_refill(const struct model *m, struct msrc *x, uint64_t now)
{
	if (now <= x->last)
		return;
	unsigned __int128 t = (unsigned __int128)(now - x->last) * m->rate +
			      x->tokens;
	unsigned __int128 full = (unsigned __int128)m->rate * SEC;
	x->tokens = (uint64_t)(t < full ? t : full);
	x->last = now;
}

static int model_admit(struct model *m, int k, uint64_t now)
{
	struct msrc *x = &m->src[k];

	if (!x->present) {
		if (m->count == m->capacity) {
			int lru = -1;
			for (int i = 0; i < KEYS; i++) {
				const struct msrc *y = &m->src[i];
				if (y->present && y->conns == 0 &&
				    (lru < 0 || y->seq < m->src[lru].seq))
					lru = i;
			}
			if (lru < 0)
				return -ENOSPC;
			m->src[lru].present = 0;
			m->count--;
			m->evictions++;
		}
		x->present = 1;
		x->conns = 0;
		x->tokens = (uint64_t)m->rate * SEC;
		x->last = now;
		m->count++;
	}
	if (m->rate)
		model_refill(m, x, now);
	if (m->max_conns && x->conns >= m->max_conns)
		return -EMFILE;
	if (m->rate && x->tokens < SEC) {
		if (x->conns == 0)
			x->seq = m->next_seq++;
		return -EAGAIN;
	}
	if (m->rate)
		x->tokens -= SEC;
	if (m->max_conns)
		x->conns++;
	else
		x->seq = m->next_seq++;
	return 0;
}

static void model_release(struct model *m, int k)
{
	struct msrc *x = &m->src[k];

	if (--x->conns != 0)
		return;
	if (m->rate) {
		x->seq = m->next_seq++;
	} else {
		x->present = 0;
		m->count--;
	}
}

static void stress(uint32_t max_conns, uint32_t rate, uint32_t capacity,
		   unsigned ops, uint64_t rng)
{
	struct nlb_srclimit t;
	struct model *m = calloc(1, sizeof(*m));
	uint64_t now = 1000 * SEC;

	cr_assert_not_null(m);
	make(&t, max_conns, rate, capacity);
	m->max_conns = max_conns;
	m->rate = rate;
	m->capacity = capacity;

	for (unsigned op = 0; op < ops; op++) {
		uint64_t r = rng_next(&rng);
		unsigned what = (unsigned)(r % 100);
		int k = (int)((r >> 8) % KEYS);

		if (what < 55) {
			struct addr a = key_addr(k);
			uint32_t slot;
			int want = model_admit(m, k, now);
			int got = admit(&t, a, now, &slot);
			cr_assert_eq(got, want, "op %u: source %d: %d, "
				     "model %d", op, k, got, want);
			m->outcomes[want == 0 ? 0 : want == -EMFILE ? 1 :
				    want == -EAGAIN ? 2 : 3]++;
			if (want == 0 && max_conns) {
				if (m->src[k].conns > 1)
					cr_assert_eq(slot, m->src[k].slot,
						     "op %u", op);
				m->src[k].slot = slot;
				cr_assert_lt(m->n_live, LIVE);
				m->live[m->n_live++] = k;
			} else if (want == 0) {
				cr_assert_eq(slot, NO);
			}
		} else if (what < 90) {
			if (m->n_live == 0)
				continue;
			size_t i = (size_t)((r >> 16) % m->n_live);
			int src = m->live[i];
			m->live[i] = m->live[--m->n_live];
			nlb_srclimit_release(&t, m->src[src].slot);
			model_release(m, src);
		} else if (what < 99) {
			/* Steps short enough for sources to run their buckets
			 * dry, and now and then an hour. */
			now += (r >> 16) % (rate > 1000 ? 2000 : 20 * MS);
			if (what == 98 && (r >> 48) % 64 == 0)
				now += 3600 * SEC;
		} else {
			/* The clock steps back a little now and then. */
			now -= (r >> 16) % (50 * MS);
		}
		cr_assert_eq(t.count, m->count, "op %u", op);
		cr_assert_eq(t.evictions, m->evictions, "op %u", op);
		if (op % 1024 == 0) {
			cr_assert_eq(nlb_srclimit_verify(&t), 0, "op %u", op);
			for (int i = 0; i < KEYS; i++)
				cr_assert_eq(conns(&t, key_addr(i)),
					     m->src[i].present ?
					     (int64_t)m->src[i].conns : -ENOENT,
					     "op %u source %d", op, i);
		}
	}
	cr_assert_eq(nlb_srclimit_verify(&t), 0);
	/* Release everything: the counts come back to zero. */
	while (m->n_live > 0) {
		int src = m->live[--m->n_live];
		nlb_srclimit_release(&t, m->src[src].slot);
		model_release(m, src);
	}
	for (int i = 0; i < KEYS; i++)
		cr_assert_eq(conns(&t, key_addr(i)),
			     m->src[i].present ? 0 : -ENOENT);
	cr_assert_eq(nlb_srclimit_verify(&t), 0);
	m->outcomes[4] = m->evictions;
	cr_log_info("max %u rate %u capacity %u: admitted %llu emfile %llu "
		    "eagain %llu enospc %llu evicted %llu", max_conns, rate,
		    capacity, (unsigned long long)m->outcomes[0],
		    (unsigned long long)m->outcomes[1],
		    (unsigned long long)m->outcomes[2],
		    (unsigned long long)m->outcomes[3],
		    (unsigned long long)m->outcomes[4]);
	/* Every run must have admitted plenty and refused for each reason
	 * its limits allow. */
	cr_assert_gt(m->outcomes[0], ops / 10);
	if (max_conns)
		cr_assert_gt(m->outcomes[1], 100);
	if (rate && rate < ops)		/* a faster bucket never runs dry */
		cr_assert_gt(m->outcomes[2], 100);
	if (max_conns && capacity < KEYS)
		cr_assert_gt(m->outcomes[3], 100);
	if (rate && capacity < KEYS)
		cr_assert_gt(m->outcomes[4], 100);
	nlb_srclimit_free(&t);
	free(m);
}

T_UNIT(srclimit, random_ops_both_limits_match_model, .timeout = 60)
{
	stress(3, 5, 16, 200000, 1);
}

T_UNIT(srclimit, random_ops_concurrent_limit_match_model, .timeout = 60)
{
	stress(4, 0, 16, 200000, 2);
}

T_UNIT(srclimit, random_ops_rate_limit_match_model, .timeout = 60)
{
	stress(0, 3, 16, 200000, 3);
}

T_UNIT(srclimit, random_ops_fast_rate_small_table_match_model, .timeout = 60)
{
	stress(2, 1000000, 5, 200000, 4);
}

T_UNIT(srclimit, random_ops_roomy_table_match_model, .timeout = 60)
{
	stress(3, 7, 64, 200000, 5);
}
