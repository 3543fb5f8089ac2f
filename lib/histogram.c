/* Log-linear histogram; see histogram.h for the bucket layout.
 *
 * Bucket index of v: v itself below 2 * SUB (shift 0, exact); otherwise,
 * with e = floor(log2 v) and shift = e - SUB_BITS, the top SUB_BITS + 1 bits
 * of v (a number in [SUB, 2 * SUB)) plus shift * SUB.  Both cases meet at
 * 2 * SUB, so indexes are dense and monotonic in v. */
#include "histogram.h"

#include <stdlib.h>
#include <string.h>

_Static_assert(NLB_HIST_BUCKETS == 7424, "bucket count for 7 sub-bucket bits");

struct nlb_hist *nlb_hist_new(void)
{
	struct nlb_hist *h = malloc(sizeof(*h));
	if (h)
		nlb_hist_reset(h);
	return h;
}

void nlb_hist_free(struct nlb_hist *h)
{
	free(h);
}

void nlb_hist_reset(struct nlb_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

unsigned nlb_hist_bucket_of(uint64_t value)
{
	if (value < 2 * (uint64_t)NLB_HIST_SUB)
		return (unsigned)value;
	unsigned e = 63u - (unsigned)__builtin_clzll(value);
	unsigned shift = e - NLB_HIST_SUB_BITS;
	return shift * NLB_HIST_SUB + (unsigned)(value >> shift);
}

/* Shift and sub-bucket of a bucket index: inverse of nlb_hist_bucket_of. */
static void bucket_split(unsigned bucket, unsigned *shift, uint64_t *sub)
{
	if (bucket < 2 * NLB_HIST_SUB) {
		*shift = 0;
		*sub = bucket;
		return;
	}
	*shift = bucket / NLB_HIST_SUB - 1;
	*sub = bucket - *shift * NLB_HIST_SUB;
}

uint64_t nlb_hist_bucket_low(unsigned bucket)
{
	unsigned shift;
	uint64_t sub;
	bucket_split(bucket, &shift, &sub);
	return sub << shift;
}

uint64_t nlb_hist_bucket_high(unsigned bucket)
{
	unsigned shift;
	uint64_t sub;
	bucket_split(bucket, &shift, &sub);
	/* For the last bucket this is exactly UINT64_MAX, no overflow. */
	return (sub << shift) + ((1ull << shift) - 1);
}

void nlb_hist_record_n(struct nlb_hist *h, uint64_t value, uint64_t n)
{
	if (n == 0)
		return;
	h->buckets[nlb_hist_bucket_of(value)] += n;
	h->count += n;
	h->sum += (double)value * (double)n;
	if (value < h->min)
		h->min = value;
	if (value > h->max)
		h->max = value;
}

void nlb_hist_record(struct nlb_hist *h, uint64_t value)
{
	nlb_hist_record_n(h, value, 1);
}

void nlb_hist_merge(struct nlb_hist *dst, const struct nlb_hist *src)
{
	if (src->count == 0)
		return;
	for (unsigned i = 0; i < NLB_HIST_BUCKETS; i++)
		dst->buckets[i] += src->buckets[i];
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t nlb_hist_percentile(const struct nlb_hist *h, double p)
{
	if (h->count == 0)
		return 0;
	if (!(p > 0.0))		/* also catches NaN */
		return h->min;
	if (p >= 100.0)
		return h->max;

	/* rank = ceil(p% of count), in [1, count]. */
	double r = p / 100.0 * (double)h->count;
	uint64_t rank = (uint64_t)r;
	if ((double)rank < r)
		rank++;
	if (rank < 1)
		rank = 1;
	if (rank > h->count)
		rank = h->count;

	uint64_t seen = 0;
	for (unsigned i = 0; i < NLB_HIST_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen < rank)
			continue;
		uint64_t lo = nlb_hist_bucket_low(i);
		uint64_t v = lo + (nlb_hist_bucket_high(i) - lo) / 2;
		if (v < h->min)
			v = h->min;
		if (v > h->max)
			v = h->max;
		return v;
	}
	return h->max;
}

uint64_t nlb_hist_count(const struct nlb_hist *h)
{
	return h->count;
}

uint64_t nlb_hist_min(const struct nlb_hist *h)
{
	return h->count ? h->min : 0;
}

uint64_t nlb_hist_max(const struct nlb_hist *h)
{
	return h->max;
}

double nlb_hist_mean(const struct nlb_hist *h)
{
	return h->count ? h->sum / (double)h->count : 0.0;
}
