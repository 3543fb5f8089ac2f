/* The metrics endpoint's reading of a request head and the choice of
 * its answer (metrics_request.h), apart from the socket so it can be
 * fuzzed as the metrics thread runs it. */
#include "metrics_request.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "http1_head.h"

static bool span_eq(const char *p, size_t n, const char *s)
{
	return strlen(s) == n && memcmp(p, s, n) == 0;
}

int nlb_metrics_request(const char *buf, size_t len, size_t max, enum nlb_metrics_answer *out,
			enum nlb_http1_error *why)
{
	struct nlb_http1_head req;
	nlb_http1_head_init(&req, NLB_HTTP1_REQUEST, NLB_HTTP1_LENIENT, max);
	int r = nlb_http1_head_parse(&req, buf, len);
	if (r == -EAGAIN)
		return r;
	*why = req.error;
	if (r < 0) {
		*out = r == -E2BIG ? NLB_METRICS_TOO_LARGE : NLB_METRICS_BAD;
		return 0;
	}
	/* The path is the target up to its query, which is ignored (some
	 * scrapers add parameters). */
	const char *target = buf + req.target.at;
	size_t plen = 0;
	while (plen < req.target.len && target[plen] != '?')
		plen++;
	if (!span_eq(target, plen, "/metrics"))
		*out = NLB_METRICS_NOT_FOUND;
	else if (req.method == NLB_HTTP1_M_HEAD)
		*out = NLB_METRICS_PAGE_HEAD;
	else if (req.method == NLB_HTTP1_M_GET)
		*out = NLB_METRICS_PAGE;
	else
		*out = NLB_METRICS_NOT_ALLOWED;
	return 0;
}
