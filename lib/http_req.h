/* The head of an HTTP/1.x request, as far as a minimal server needs it
 * (the metrics endpoint): the method, the request target and the minor
 * version, with every header field checked for form but not kept.
 * Pure and incremental: call again with more bytes after -EAGAIN. */
#ifndef NLB_HTTP_REQ_H
#define NLB_HTTP_REQ_H

#include <stddef.h>

struct nlb_http_req {
	const char *method;	/* into buf, not NUL-terminated */
	size_t method_len;
	const char *target;
	size_t target_len;
	int minor;		/* HTTP/1.<minor>: 0 or 1 */
};

/* Parses the request head at the start of buf (len bytes): a request
 * line "METHOD SP target SP HTTP/1.x", header fields "name: value", and
 * the empty line that ends them.  Lines end with CRLF or a bare LF (a CR
 * must be followed by LF); empty lines before the request line are
 * skipped (RFC 9112, 2.2).  The method and field names are tokens, the
 * target printable ASCII without spaces, field values may hold HTAB, SP,
 * printable ASCII and bytes >= 0x80; a line starting with SP or HTAB
 * (obsolete folding) is refused.
 *
 * Returns the head's length through its empty line and fills *out;
 * -EAGAIN when buf holds a valid but incomplete head; -EINVAL as soon as
 * a byte cannot belong to a valid head (so garbage is refused without
 * waiting for more); -E2BIG when no head ends within max bytes. */
int nlb_http_req_parse(const char *buf, size_t len, size_t max, struct nlb_http_req *out);

#endif
