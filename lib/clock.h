/* nlb's one clock: CLOCK_MONOTONIC, in the units its callers count in.
 * The coarse variant (the kernel's tick, a few ms, no syscall cost worth
 * naming) is for the workers' idle bookkeeping, where every completion
 * batch reads it; everything that measures or schedules uses the precise
 * one, the clock io_uring timeouts use too. */
#ifndef NLB_CLOCK_H
#define NLB_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t nlb_clock_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t nlb_clock_ms(void)
{
	return nlb_clock_ns() / 1000000u;
}

static inline uint64_t nlb_clock_coarse_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

#endif
