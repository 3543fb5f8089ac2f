/* HTTP/1.x message heads (RFC 9110, RFC 9112): a request's, a response's,
 * or a response's status line alone (health checks).  The one HTTP/1
 * parser of nlb: pure and incremental, it keeps where it stopped, so a
 * head that arrives a byte at a time costs one pass, not one per byte.
 *
 * Strict where requests are concerned, with request smuggling in mind: a
 * request is refused, never repaired, when its framing could be read two
 * ways (both Content-Length and Transfer-Encoding, two Content-Lengths, a
 * signed or spaced one, chunked not last, an unknown coding), when a line
 * ends other than with CRLF, when a line is folded, or when Host is
 * missing or given twice.  The reason is kept (http1_error.h) and maps to
 * the status nlb answers with. */
#ifndef NLB_HTTP1_HEAD_H
#define NLB_HTTP1_HEAD_H

#include <stddef.h>
#include <stdint.h>

#include "http1_error.h"

/* Fields kept per head; one more is NLB_HTTP1_E_TOO_MANY_FIELDS (431).
 * HAProxy's default (tune.http.maxhdr) is 101. */
#define NLB_HTTP1_FIELDS_MAX 100

/* Spans are 16-bit offsets, so no head may be longer. */
#define NLB_HTTP1_HEAD_LIMIT 65535

enum nlb_http1_kind {
	NLB_HTTP1_REQUEST = 1,
	NLB_HTTP1_RESPONSE,
	NLB_HTTP1_STATUS_LINE,		/* a response's first line, then stop */
};

enum nlb_http1_method {
	NLB_HTTP1_M_OTHER = 0,		/* a token nlb has no name for */
	NLB_HTTP1_M_GET,
	NLB_HTTP1_M_HEAD,
	NLB_HTTP1_M_POST,
	NLB_HTTP1_M_PUT,
	NLB_HTTP1_M_DELETE,
	NLB_HTTP1_M_CONNECT,
	NLB_HTTP1_M_OPTIONS,
	NLB_HTTP1_M_TRACE,
	NLB_HTTP1_M_PATCH,
};

/* What a head says about itself (flags). */
enum {
	NLB_HTTP1_F_CONTENT_LENGTH = 0x01,	/* content_length holds it */
	NLB_HTTP1_F_TRANSFER_ENCODING = 0x02,
	NLB_HTTP1_F_CHUNKED = 0x04,		/* chunked is the final coding */
	NLB_HTTP1_F_CONN_CLOSE = 0x08,		/* Connection: close */
	NLB_HTTP1_F_CONN_KEEP_ALIVE = 0x10,	/* Connection: keep-alive */
	NLB_HTTP1_F_CONN_UPGRADE = 0x20,	/* Connection: upgrade */
	NLB_HTTP1_F_UPGRADE = 0x40,		/* an Upgrade field */
	NLB_HTTP1_F_EXPECT_CONTINUE = 0x80,	/* Expect: 100-continue */
	NLB_HTTP1_F_HOST = 0x100,		/* host holds it */
};

/* Bytes [at, at + len) of the buffer the head was parsed from. */
struct nlb_http1_span {
	uint16_t at, len;
};

struct nlb_http1_field {
	struct nlb_http1_span name;
	struct nlb_http1_span value;	/* without leading or trailing SP/HTAB */
};

/* How the body after a head is delimited (RFC 9112, 6.3). */
enum nlb_http1_body {
	NLB_HTTP1_BODY_NONE = 1,
	NLB_HTTP1_BODY_LENGTH,		/* content_length bytes */
	NLB_HTTP1_BODY_CHUNKED,		/* http1_chunked.h finds its end */
	NLB_HTTP1_BODY_UNTIL_CLOSE,	/* a response's, up to the target's FIN */
	NLB_HTTP1_BODY_TUNNEL,		/* a 2xx to CONNECT or a 101: bytes both ways */
};

struct nlb_http1_head {
	/* Where the next call resumes; set by nlb_http1_head_init. */
	uint32_t pos;
	uint32_t max;
	uint8_t kind;
	uint8_t opts;
	uint8_t state;
	uint8_t vpos;			/* within "HTTP/1.x" */
	uint16_t mark;			/* start of the token being read */
	uint16_t value_end;		/* past the last non-blank value byte */
	uint8_t te_chunked_seen;	/* chunked in any Transfer-Encoding */

	/* The message, once nlb_http1_head_parse returned its length. */
	enum nlb_http1_error error;	/* why it failed, else NONE */
	enum nlb_http1_method method;
	struct nlb_http1_span method_text;
	struct nlb_http1_span target;
	struct nlb_http1_span reason;
	struct nlb_http1_span host;
	uint8_t minor;			/* HTTP/1.<minor> */
	uint16_t status;		/* a response's: 100..599; a status line's: 000..999 */
	uint32_t flags;			/* NLB_HTTP1_F_* */
	uint64_t content_length;
	uint32_t length;		/* of the head, through its empty line */
	uint32_t nfields;
	struct nlb_http1_field field[NLB_HTTP1_FIELDS_MAX];
};

/* Readies h for a new message of the given kind; max caps the head's
 * length (at most NLB_HTTP1_HEAD_LIMIT). */
void nlb_http1_head_init(struct nlb_http1_head *h, enum nlb_http1_kind kind, unsigned opts,
			 size_t max);

/* Parses on from where the last call stopped; buf holds the message from
 * its first byte (len bytes), and the bytes given before are unchanged.
 * Returns the head's length (the status line's, for STATUS_LINE) once it
 * is complete; -EAGAIN when all len bytes belong to a valid head that has
 * not ended; -E2BIG when it has not ended within max bytes or holds more
 * than NLB_HTTP1_FIELDS_MAX fields; -EINVAL as soon as a byte cannot
 * belong to a valid head.  After an error h->error says why, and further
 * calls return the same error.  Empty lines before a request line are
 * skipped (RFC 9112, 2.2). */
int nlb_http1_head_parse(struct nlb_http1_head *h, const char *buf, size_t len);

/* How the body after a complete head is delimited.  For a response,
 * request_method is the method of the request it answers (a HEAD's
 * answer has no body whatever it says); ignored for a request. */
enum nlb_http1_body nlb_http1_head_body(const struct nlb_http1_head *h,
					enum nlb_http1_method request_method);

/* The first field named name (case-insensitive), or NULL. */
const struct nlb_http1_field *nlb_http1_head_field(const struct nlb_http1_head *h,
						   const char *buf, const char *name);

#endif
