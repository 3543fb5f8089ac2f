/* Data patterns and checksums (see pattern.h). */
#include "pattern.h"

#include <string.h>

uint64_t t_sum_update(uint64_t sum, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	for (size_t i = 0; i < len; i++) {
		sum ^= p[i];
		sum *= 0x100000001b3ULL;
	}
	return sum;
}

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

void t_pattern_fill(void *buf, uint64_t off, size_t len, uint64_t seed)
{
	unsigned char *p = buf;
	uint64_t key = splitmix64(seed);
	size_t i = 0;
	while (i < len) {
		uint64_t pos = off + i;
		uint64_t word = splitmix64(key ^ (pos >> 3));
		unsigned b = (unsigned)(pos & 7);
		if (b == 0 && len - i >= 8) {
			memcpy(p + i, &word, 8);	/* little-endian bytes */
			i += 8;
			continue;
		}
		p[i++] = (unsigned char)(word >> (8 * b));
	}
}

uint64_t t_pattern_sum(uint64_t seed, uint64_t len)
{
	static char buf[T_CHUNK];
	uint64_t sum = T_SUM_INIT;
	for (uint64_t off = 0; off < len; off += T_CHUNK) {
		size_t n = len - off < T_CHUNK ? (size_t)(len - off) : T_CHUNK;
		t_pattern_fill(buf, off, n, seed);
		sum = t_sum_update(sum, buf, n);
	}
	return sum;
}
