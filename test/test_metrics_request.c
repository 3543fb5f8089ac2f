/* lib/metrics_request: what the metrics endpoint answers a request head
 * (the page, its head, 404, 405, 400), a head cut short (wait), and one
 * past the cap.  test_metrics asks nlb the same over a socket. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "metrics_request.h"

TestSuite(metrics_request);

struct req_case {
	const char *head;
	int ret;
	enum nlb_metrics_answer answer;
};

T_UNIT(metrics_request, answers)
{
	static const struct req_case cases[] = {
		{ "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 0, NLB_METRICS_PAGE },
		{ "GET /metrics HTTP/1.0\r\n\r\n", 0, NLB_METRICS_PAGE },
		{ "GET /metrics?name[]=up HTTP/1.1\r\n\r\n", 0, NLB_METRICS_PAGE },
		{ "HEAD /metrics HTTP/1.1\r\n\r\n", 0, NLB_METRICS_PAGE_HEAD },
		{ "\r\nGET /metrics HTTP/1.1\n\n", 0, NLB_METRICS_PAGE },
		{ "GET / HTTP/1.1\r\n\r\n", 0, NLB_METRICS_NOT_FOUND },
		{ "GET /metricsx HTTP/1.1\r\n\r\n", 0, NLB_METRICS_NOT_FOUND },
		{ "GET /Metrics HTTP/1.1\r\n\r\n", 0, NLB_METRICS_NOT_FOUND },
		{ "GET /metrics/ HTTP/1.1\r\n\r\n", 0, NLB_METRICS_NOT_FOUND },
		{ "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 0, NLB_METRICS_NOT_ALLOWED },
		{ "BREW /metrics HTTP/1.1\r\n\r\n", 0, NLB_METRICS_NOT_ALLOWED },
		/* the path is checked first */
		{ "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 0, NLB_METRICS_NOT_FOUND },
		{ "GET /metrics HTTP/2\r\n\r\n", 0, NLB_METRICS_BAD },
		{ "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 0, NLB_METRICS_BAD },
		{ "GET /metrics HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 0, NLB_METRICS_BAD },
		{ "GET /metrics HTTP/1.1\r\nHost", -EAGAIN, 0 },
		{ "", -EAGAIN, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct req_case *c = &cases[i];
		enum nlb_metrics_answer a = 0;
		enum nlb_http1_error why = NLB_HTTP1_E_NONE;
		int r = nlb_metrics_request(c->head, strlen(c->head), 8192, &a, &why);
		cr_expect_eq(r, c->ret, "case %zu: %d", i, r);
		if (r == 0) {
			cr_expect_eq(a, c->answer, "case %zu: answer %d", i, a);
			cr_expect_eq(why != NLB_HTTP1_E_NONE, a == NLB_METRICS_BAD, "case %zu", i);
		}
	}
}

T_UNIT(metrics_request, head_past_the_cap)
{
	static const char start[] = "GET /metrics HTTP/1.1\r\nX: ";
	size_t max = 64;
	char *b = malloc(2 * max);
	cr_assert(b);
	memset(b, 'a', 2 * max);
	memcpy(b, start, sizeof(start) - 1);
	enum nlb_metrics_answer a = 0;
	enum nlb_http1_error why = NLB_HTTP1_E_NONE;
	cr_expect_eq(nlb_metrics_request(b, max - 1, max, &a, &why), -EAGAIN);
	cr_expect_eq(nlb_metrics_request(b, 2 * max, max, &a, &why), 0);
	cr_expect_eq(a, NLB_METRICS_TOO_LARGE);
	cr_expect_neq(why, NLB_HTTP1_E_NONE);
	/* a head that ends at the cap is whole */
	memcpy(b + max - 4, "\r\n\r\n", 4);
	cr_expect_eq(nlb_metrics_request(b, max, max, &a, &why), 0);
	cr_expect_eq(a, NLB_METRICS_PAGE);
	free(b);
}
