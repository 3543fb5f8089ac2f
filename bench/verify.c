/* --verify's request content (see verify.h): a SplitMix64 stream keyed by
 * (connection, sequence), eight bytes per step. */
#include "verify.h"

static uint64_t mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Distinct keys for distinct (conn, seq) pairs while conn < 2^24 (the
 * slots' limit, BENCH_MAX_CONNS) and seq < 2^40, then scrambled. */
static uint64_t key_of(uint64_t conn, uint64_t seq)
{
	return mix(conn << 40 ^ seq);
}

static uint8_t byte_at(uint64_t key, uint64_t off, uint64_t *word, uint64_t *word_idx)
{
	uint64_t idx = off / 8;
	if (idx != *word_idx) {
		*word = mix(key + idx * 0x9e3779b97f4a7c15ULL);
		*word_idx = idx;
	}
	return (uint8_t)(*word >> (8 * (off % 8)));
}

void bench_verify_fill(void *buf, uint64_t off, size_t len, uint64_t conn, uint64_t seq)
{
	uint8_t *p = buf;
	uint64_t key = key_of(conn, seq), word = 0, word_idx = UINT64_MAX;
	for (size_t i = 0; i < len; i++)
		p[i] = byte_at(key, off + i, &word, &word_idx);
}

size_t bench_verify_diff(const void *buf, uint64_t off, size_t len, uint64_t conn,
			 uint64_t seq)
{
	const uint8_t *p = buf;
	uint64_t key = key_of(conn, seq), word = 0, word_idx = UINT64_MAX;
	size_t bad = 0;
	for (size_t i = 0; i < len; i++)
		bad += p[i] != byte_at(key, off + i, &word, &word_idx);
	return bad;
}
