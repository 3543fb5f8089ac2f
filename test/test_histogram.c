/* lib/histogram: percentiles of known distributions, merge, bucket
 * geometry and edge values. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "helpers.h"
#include "histogram.h"

static struct nlb_hist *h;

static void setup(void)
{
	h = nlb_hist_new();
	cr_assert_not_null(h);
}

static void teardown(void)
{
	nlb_hist_free(h);
	h = NULL;
}

TestSuite(histogram, .init = setup, .fini = teardown);

static void expect_near(uint64_t got, uint64_t want, double rel, const char *what)
{
	double err = fabs((double)got - (double)want) / (double)want;
	cr_expect(err <= rel, "%s: got %llu, want %llu within %.2f%% (off by %.3f%%)", what,
		  (unsigned long long)got, (unsigned long long)want, rel * 100, err * 100);
}

T_UNIT(histogram, empty)
{
	cr_expect_eq(nlb_hist_count(h), 0);
	cr_expect_eq(nlb_hist_min(h), 0);
	cr_expect_eq(nlb_hist_max(h), 0);
	cr_expect_eq(nlb_hist_percentile(h, 50), 0);
	cr_expect_eq(nlb_hist_percentile(h, 100), 0);
	cr_expect(nlb_hist_mean(h) == 0.0);
}

T_UNIT(histogram, uniform)
{
	for (uint64_t v = 1; v <= 1000000; v++)
		nlb_hist_record(h, v);
	cr_expect_eq(nlb_hist_count(h), 1000000);
	cr_expect_eq(nlb_hist_min(h), 1);
	cr_expect_eq(nlb_hist_max(h), 1000000);
	expect_near(nlb_hist_percentile(h, 50), 500000, 0.01, "p50");
	expect_near(nlb_hist_percentile(h, 90), 900000, 0.01, "p90");
	expect_near(nlb_hist_percentile(h, 99), 990000, 0.01, "p99");
	expect_near(nlb_hist_percentile(h, 99.9), 999000, 0.01, "p99.9");
	cr_expect_eq(nlb_hist_percentile(h, 100), 1000000);
	cr_expect_eq(nlb_hist_percentile(h, 0), 1);
	expect_near((uint64_t)nlb_hist_mean(h), 500000, 0.0001, "mean");
}

T_UNIT(histogram, constant)
{
	nlb_hist_record_n(h, 123457, 1000);
	cr_expect_eq(nlb_hist_count(h), 1000);
	/* Clamped to [min, max], so a constant comes back exactly. */
	cr_expect_eq(nlb_hist_percentile(h, 1), 123457);
	cr_expect_eq(nlb_hist_percentile(h, 50), 123457);
	cr_expect_eq(nlb_hist_percentile(h, 99.99), 123457);
	cr_expect(nlb_hist_mean(h) == 123457.0);
}

T_UNIT(histogram, bimodal)
{
	/* 90% at 100 us, 10% at 10 ms: the tail must not bleed into p50. */
	nlb_hist_record_n(h, 100000, 9000);
	nlb_hist_record_n(h, 10000000, 1000);
	expect_near(nlb_hist_percentile(h, 50), 100000, 0.01, "p50");
	expect_near(nlb_hist_percentile(h, 90), 100000, 0.01, "p90");
	expect_near(nlb_hist_percentile(h, 90.01), 10000000, 0.01, "p90.01");
	expect_near(nlb_hist_percentile(h, 99), 10000000, 0.01, "p99");
	cr_expect_eq(nlb_hist_max(h), 10000000);
	expect_near((uint64_t)nlb_hist_mean(h), 1090000, 0.0001, "mean");
}

T_UNIT(histogram, merge_equals_single)
{
	struct nlb_hist *a = nlb_hist_new(), *b = nlb_hist_new();
	cr_assert(a && b);
	uint64_t x = 88172645463325252ull;
	for (int i = 0; i < 200000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		uint64_t v = x % 3600000000000ull;	/* up to an hour in ns */
		nlb_hist_record(h, v);
		nlb_hist_record(i % 3 ? a : b, v);
	}
	nlb_hist_merge(a, b);
	cr_expect_eq(nlb_hist_count(a), nlb_hist_count(h));
	cr_expect_eq(nlb_hist_min(a), nlb_hist_min(h));
	cr_expect_eq(nlb_hist_max(a), nlb_hist_max(h));
	cr_expect(memcmp(a->buckets, h->buckets, sizeof(h->buckets)) == 0);
	static const double ps[] = { 0, 1, 50, 90, 99, 99.9, 99.99, 100 };
	for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++)
		cr_expect_eq(nlb_hist_percentile(a, ps[i]), nlb_hist_percentile(h, ps[i]),
			     "p%g differs", ps[i]);
	cr_expect(fabs(nlb_hist_mean(a) - nlb_hist_mean(h)) <= nlb_hist_mean(h) * 1e-9);

	/* Merging an empty histogram changes nothing. */
	nlb_hist_reset(b);
	nlb_hist_merge(a, b);
	cr_expect_eq(nlb_hist_count(a), nlb_hist_count(h));
	cr_expect_eq(nlb_hist_min(a), nlb_hist_min(h));
	nlb_hist_free(a);
	nlb_hist_free(b);
}

T_UNIT(histogram, edge_values)
{
	nlb_hist_record(h, 0);
	cr_expect_eq(nlb_hist_percentile(h, 50), 0);
	cr_expect_eq(nlb_hist_max(h), 0);
	nlb_hist_record(h, UINT64_MAX);
	cr_expect_eq(nlb_hist_count(h), 2);
	cr_expect_eq(nlb_hist_min(h), 0);
	cr_expect_eq(nlb_hist_max(h), UINT64_MAX);
	cr_expect_eq(nlb_hist_percentile(h, 50), 0);
	cr_expect_eq(nlb_hist_percentile(h, 100), UINT64_MAX);
	expect_near(nlb_hist_percentile(h, 99), UINT64_MAX, 0.01, "p99 of {0, max}");
	cr_expect_eq(nlb_hist_bucket_of(0), 0);
	cr_expect_eq(nlb_hist_bucket_of(UINT64_MAX), NLB_HIST_BUCKETS - 1);
	cr_expect_eq(nlb_hist_bucket_high(NLB_HIST_BUCKETS - 1), UINT64_MAX);
	/* Out-of-range percentiles are clamped. */
	cr_expect_eq(nlb_hist_percentile(h, -5), 0);
	cr_expect_eq(nlb_hist_percentile(h, 250), UINT64_MAX);
}

T_UNIT(histogram, bucket_geometry)
{
	/* Buckets tile [0, UINT64_MAX] without gaps, each at most 1/128 of
	 * its lowest value wide. */
	cr_expect_eq(nlb_hist_bucket_low(0), 0);
	for (unsigned i = 0; i + 1 < NLB_HIST_BUCKETS; i++) {
		uint64_t lo = nlb_hist_bucket_low(i), hi = nlb_hist_bucket_high(i);
		cr_assert(lo <= hi, "bucket %u: low %llu > high %llu", i,
			  (unsigned long long)lo, (unsigned long long)hi);
		cr_assert_eq(nlb_hist_bucket_low(i + 1), hi + 1, "gap after bucket %u", i);
		cr_assert_eq(nlb_hist_bucket_of(lo), i);
		cr_assert_eq(nlb_hist_bucket_of(hi), i);
		if (lo >= NLB_HIST_SUB)
			cr_assert((double)(hi - lo + 1) / (double)lo <= 1.0 / NLB_HIST_SUB + 1e-12,
				  "bucket %u too wide", i);
	}
}

T_UNIT(histogram, precision_1ns_to_1h)
{
	/* A single value anywhere from 1 ns to an hour comes back within 1%
	 * (clamping aside: record a neighbour so min/max do not help). */
	for (double v = 1.0; v <= 3600e9; v *= 1.07) {
		nlb_hist_reset(h);
		uint64_t x = (uint64_t)v;
		nlb_hist_record(h, x);
		nlb_hist_record(h, x * 2 + 2);
		uint64_t got = nlb_hist_percentile(h, 50);
		cr_assert(fabs((double)got - (double)x) <= (double)x * 0.01 + 0.5,
			  "value %llu reported as %llu", (unsigned long long)x,
			  (unsigned long long)got);
	}
}
