/* Why an HTTP/1 message was refused: one reason per rule the parsers in
 * http1_head.h and http1_chunked.h enforce, each with the status nlb
 * answers a client with and a short name for counters and the access log;
 * and the one option that relaxes two of those rules. */
#ifndef NLB_HTTP1_ERROR_H
#define NLB_HTTP1_ERROR_H

/* Parser options. */
enum {
	/* Accept a bare LF as a line end and an HTTP/1.1 request without
	 * Host: for nlb's own endpoints and for targets' answers (whose
	 * heads nlb rewrites), never for requests nlb forwards. */
	NLB_HTTP1_LENIENT = 0x1,
};

enum nlb_http1_error {
	NLB_HTTP1_E_NONE = 0,
	NLB_HTTP1_E_REQUEST_LINE,	/* not "method SP target SP HTTP/1.x" */
	NLB_HTTP1_E_STATUS_LINE,	/* not "HTTP/1.x SP 3DIGIT [SP reason]" */
	NLB_HTTP1_E_VERSION,		/* HTTP/ with a version other than 1.0, 1.1 */
	NLB_HTTP1_E_TARGET,		/* a request target whose form the method cannot take */
	NLB_HTTP1_E_FIELD_NAME,		/* not a token before ':' (SP before ':' included) */
	NLB_HTTP1_E_FIELD_VALUE,	/* a control character or NUL in a value */
	NLB_HTTP1_E_OBS_FOLD,		/* a line starting with SP or HTAB */
	NLB_HTTP1_E_BARE_CR,		/* CR not followed by LF */
	NLB_HTTP1_E_BARE_LF,		/* LF without CR where the message is strict */
	NLB_HTTP1_E_HEAD_TOO_LARGE,	/* the head (or the trailers) over its limit */
	NLB_HTTP1_E_TOO_MANY_FIELDS,	/* over NLB_HTTP1_FIELDS_MAX fields */
	NLB_HTTP1_E_CONTENT_LENGTH,	/* empty, signed, spaced, listed or not decimal */
	NLB_HTTP1_E_CONTENT_LENGTH_TWICE, /* two Content-Length fields */
	NLB_HTTP1_E_CL_AND_TE,		/* both Content-Length and Transfer-Encoding */
	NLB_HTTP1_E_TE_NOT_CHUNKED,	/* chunked missing, not last, repeated or with parameters */
	NLB_HTTP1_E_TE_UNKNOWN,		/* a transfer coding nlb does not know */
	NLB_HTTP1_E_TE_HTTP10,		/* Transfer-Encoding in an HTTP/1.0 request */
	NLB_HTTP1_E_HOST_MISSING,	/* an HTTP/1.1 request without Host */
	NLB_HTTP1_E_HOST_TWICE,
	NLB_HTTP1_E_HOST_INVALID,	/* a byte a host and port cannot hold */
	NLB_HTTP1_E_EXPECT,		/* an expectation other than 100-continue */
	NLB_HTTP1_E_CHUNK_SIZE,		/* not hexadecimal, or 2^60 bytes and more */
	NLB_HTTP1_E_CHUNK_EXT,		/* a malformed or overlong chunk extension */
	NLB_HTTP1_E_CHUNK_END,		/* chunk data not followed by CRLF */
	NLB_HTTP1_E_COUNT
};

/* The status nlb answers a request refused for e with: 400 for most,
 * 431 for size, 501 for an unknown coding, 505 for a version, 417 for an
 * expectation.  0 for NLB_HTTP1_E_NONE or a value out of range. */
int nlb_http1_error_status(enum nlb_http1_error e);

/* A short lower-case name ("bare_lf", "cl_and_te"), never NULL. */
const char *nlb_http1_error_name(enum nlb_http1_error e);

#endif
