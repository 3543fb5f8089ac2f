/* The end of a chunked body (RFC 9112, 7.1): chunk sizes, extensions,
 * data and trailers, found incrementally in bytes that nlb forwards as
 * they are.  Strict as the head parser is: sizes are hexadecimal below
 * 2^60, every line ends with CRLF, extensions and trailer fields have
 * their grammar's form, and a chunk's data is followed by CRLF. */
#ifndef NLB_HTTP1_CHUNKED_H
#define NLB_HTTP1_CHUNKED_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "http1_error.h"

/* A chunk-size line (size and extensions) longer than this is refused:
 * extensions carry no meaning nlb or its targets use. */
#define NLB_HTTP1_CHUNK_LINE_MAX 4096

struct nlb_http1_chunked {
	uint64_t left;			/* data bytes left in this chunk, or its size so far */
	uint64_t data_bytes;		/* payload seen, all chunks */
	uint32_t line_bytes;		/* of the size line or the trailers so far */
	uint32_t max_trailers;
	uint8_t state;
	uint8_t opts;			/* NLB_HTTP1_LENIENT: bare LF line ends */
	uint8_t done;			/* the last CRLF has been scanned */
	enum nlb_http1_error error;
};

/* Readies c for a body; max_trailers caps the trailer section's bytes
 * (431 past it, as a head over its limit). */
void nlb_http1_chunked_init(struct nlb_http1_chunked *c, unsigned opts, size_t max_trailers);

/* Scans the next len bytes of the body.  Returns how many of them belong
 * to it (fewer than len only when the body ends within them: c->done is
 * then set and the rest is the next message); -EINVAL with c->error set
 * as soon as a byte breaks the grammar; -E2BIG when a size line or the
 * trailers outgrow their limits. */
ssize_t nlb_http1_chunked_scan(struct nlb_http1_chunked *c, const char *buf, size_t len);

#endif
