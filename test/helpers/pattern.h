/* Data patterns and checksums: the bytes test clients and servers send,
 * regenerated from (seed, offset) anywhere, and an order-sensitive sum
 * of what was received, so no stream needs to be kept to be checked. */
#ifndef NLB_TEST_PATTERN_H
#define NLB_TEST_PATTERN_H

#include <stddef.h>
#include <stdint.h>

/* One I/O chunk: big enough that 64 MiB is a few thousand syscalls. */
#define T_CHUNK (64 * 1024)

/* An order-sensitive checksum (FNV-1a 64) that does not depend on how the
 * stream was cut into reads. */
#define T_SUM_INIT 0xcbf29ce484222325ULL
uint64_t t_sum_update(uint64_t sum, const void *buf, size_t len);

/* Byte i of stream "seed" is a pure function of (seed, i), so writers can
 * regenerate any stretch after a partial write. */
void t_pattern_fill(void *buf, uint64_t off, size_t len, uint64_t seed);

/* Checksum of the first len bytes of stream seed. */
uint64_t t_pattern_sum(uint64_t seed, uint64_t len);

#endif
