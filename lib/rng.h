/* The one pseudo-random generator of the data path: xorshift64*, on a
 * state its caller owns (a worker's), so nothing is shared.  Not for
 * anything an attacker must not predict. */
#ifndef NLB_RNG_H
#define NLB_RNG_H

#include <stdint.h>

/* Advances *state (never 0) and returns the next value. */
static inline uint64_t nlb_rng_next(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * 0x2545f4914f6cdd1dull;
}

#endif
