/* What the micro-benchmarks share: a monotonic clock in nanoseconds and
 * a seeded generator (splitmix64), so that runs are repeatable. */
#ifndef NLB_BENCH_MICRO_H
#define NLB_BENCH_MICRO_H

#include <stdint.h>
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

#endif
