/* What the micro-benchmarks share: a monotonic clock in nanoseconds, a
 * seeded generator (splitmix64), so that runs are repeatable, and the
 * median of a run's repeats. */
#ifndef NLB_BENCH_MICRO_H
#define NLB_BENCH_MICRO_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include "clock.h"

static inline uint64_t now_ns(void)
{
	return nlb_clock_ns();
}

static inline uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline int micro_by_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The median of v[0..n), which it sorts. */
static inline double micro_median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), micro_by_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#endif
