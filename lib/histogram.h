/* A log-linear latency histogram in the manner of HdrHistogram: values are
 * uint64 (nanoseconds by convention), recorded exactly below 128 and above
 * that into 128 equal sub-buckets per power of two, so a bucket is at most
 * 1/128 (0.78%) of its value wide and a reported value (the bucket's middle)
 * is within 0.4% of any value recorded into it.  The whole uint64 range is
 * covered (1 ns .. 584 years) in constant memory (7424 buckets, 58 KiB); recording
 * is a few instructions and never allocates.  Not thread-safe: one
 * histogram per thread, merged at the end. */
#ifndef NLB_HISTOGRAM_H
#define NLB_HISTOGRAM_H

#include <stdint.h>

#define NLB_HIST_SUB_BITS 7
#define NLB_HIST_SUB      (1u << NLB_HIST_SUB_BITS)
/* Index of UINT64_MAX plus one: (63 - SUB_BITS) * SUB + (2 * SUB - 1) + 1. */
#define NLB_HIST_BUCKETS  ((65 - NLB_HIST_SUB_BITS) * NLB_HIST_SUB)

struct nlb_hist {
	uint64_t count;
	uint64_t min;		/* UINT64_MAX while empty */
	uint64_t max;
	double sum;		/* for the mean only */
	uint64_t buckets[NLB_HIST_BUCKETS];
};

/* Heap-allocated, empty; NULL when out of memory. */
struct nlb_hist *nlb_hist_new(void);
void nlb_hist_free(struct nlb_hist *h);
void nlb_hist_reset(struct nlb_hist *h);

void nlb_hist_record(struct nlb_hist *h, uint64_t value);
void nlb_hist_record_n(struct nlb_hist *h, uint64_t value, uint64_t n);

/* dst += src; src is unchanged. */
void nlb_hist_merge(struct nlb_hist *dst, const struct nlb_hist *src);

/* The smallest recorded value v such that at least p percent of the values
 * are <= v, reported as its bucket's middle clamped to [min, max]; p is
 * clamped to [0, 100]; p = 0 gives min, p = 100 gives max exactly.
 * 0 for an empty histogram. */
uint64_t nlb_hist_percentile(const struct nlb_hist *h, double p);

uint64_t nlb_hist_count(const struct nlb_hist *h);
uint64_t nlb_hist_min(const struct nlb_hist *h);	/* 0 when empty */
uint64_t nlb_hist_max(const struct nlb_hist *h);
double nlb_hist_mean(const struct nlb_hist *h);		/* 0 when empty */

/* Bucket geometry, exposed for tests: the bucket a value falls in and the
 * lowest and highest value that bucket holds. */
unsigned nlb_hist_bucket_of(uint64_t value);
uint64_t nlb_hist_bucket_low(unsigned bucket);
uint64_t nlb_hist_bucket_high(unsigned bucket);

#endif
