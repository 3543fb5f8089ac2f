/* nlb-bench's user_data: op (8 bits) | slot (24 bits) | generation (32
 * bits).  A slot's generation changes when it is reused, so a stale
 * completion is spotted.
 *
 * Why not nlb's packing (nlb/core/worker.h: op | 24-bit generation |
 * 32-bit index): the same idea with the widths the other way round.  nlb's
 * index is a full 32 bits because it names a listener, a buffer or a send
 * context as well as a slot, and its generation field carries a listener
 * for some ops; bench's slots stay below BENCH_MAX_CONNS (< 2^24) and keep
 * their whole 32-bit generation.  nlb's is being reworked with its slot
 * arena; bench can take that helper once it lives in lib/. */
#ifndef BENCH_USER_DATA_H
#define BENCH_USER_DATA_H

#include <stdint.h>

static inline uint64_t bench_ud(unsigned op, uint32_t slot, uint32_t gen)
{
	return (uint64_t)op << 56 | (uint64_t)(slot & 0xffffff) << 32 | gen;
}

static inline unsigned bench_ud_op(uint64_t ud)
{
	return (unsigned)(ud >> 56);
}

static inline uint32_t bench_ud_slot(uint64_t ud)
{
	return (uint32_t)(ud >> 32) & 0xffffff;
}

static inline uint32_t bench_ud_gen(uint64_t ud)
{
	return (uint32_t)ud;
}

#endif
