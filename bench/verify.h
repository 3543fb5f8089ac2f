/* The content of nlb-bench's --verify requests: every byte of request
 * (connection, sequence) is a pure function of those two numbers and its
 * offset, so a client can regenerate what an echo must send back at any
 * offset, one chunk at a time, without keeping a copy of what it sent;
 * two requests (of one connection or of two) never carry the same bytes,
 * so an answer that belongs to another request, or a byte flipped on the
 * way, both show up as bytes that differ. */
#ifndef BENCH_VERIFY_H
#define BENCH_VERIFY_H

#include <stddef.h>
#include <stdint.h>

/* Writes bytes off .. off + len of request (conn, seq) into buf. */
void bench_verify_fill(void *buf, uint64_t off, size_t len, uint64_t conn, uint64_t seq);

/* How many of the len bytes at buf differ from bytes off .. off + len of
 * request (conn, seq): 0 when the answer is exact. */
size_t bench_verify_diff(const void *buf, uint64_t off, size_t len, uint64_t conn,
			 uint64_t seq);

#endif
