/* The metrics endpoint's reading of a request without I/O: the head a
 * scraper sent (what the metrics thread has received so far), parsed
 * leniently within a cap, and what it is answered: the page (GET or HEAD
 * of /metrics, any query ignored), 404, 405 or 400.  nlb/control/
 * metrics.c does the I/O and writes the answers. */
#ifndef NLB_METRICS_REQUEST_H
#define NLB_METRICS_REQUEST_H

#include <stddef.h>

#include "http1_error.h"

enum nlb_metrics_answer {
	NLB_METRICS_PAGE = 1,		/* 200 and the page */
	NLB_METRICS_PAGE_HEAD,		/* 200, the page's head alone (HEAD) */
	NLB_METRICS_NOT_FOUND,		/* 404: the path is not /metrics */
	NLB_METRICS_NOT_ALLOWED,	/* 405: /metrics, but not GET or HEAD */
	NLB_METRICS_BAD,		/* 400: not an HTTP/1 request head */
	NLB_METRICS_TOO_LARGE,		/* 400: no head's end within max bytes */
};

/* Reads the len bytes received (from the request's first byte) as a
 * request head of at most max bytes.  Returns -EAGAIN while they are a
 * valid head that has not ended (within max); otherwise 0 with the
 * answer in *out, and for NLB_METRICS_BAD and NLB_METRICS_TOO_LARGE the
 * parser's reason in *why (NLB_HTTP1_E_NONE for the others).  Parsed
 * from the start each call: heads are small, and scrapers send them
 * at once. */
int nlb_metrics_request(const char *buf, size_t len, size_t max, enum nlb_metrics_answer *out,
			enum nlb_http1_error *why);

#endif
