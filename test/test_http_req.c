/* Suite "http_req": the request-head parser of the metrics endpoint
 * (lib/http_req.c), fed every prefix of each input so that the buffer
 * boundaries are all crossed: valid heads are -EAGAIN until their last
 * byte, invalid ones are refused at their first bad byte, never later. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "http_req.h"

static bool span_is(const char *p, size_t n, const char *s)
{
	return strlen(s) == n && memcmp(p, s, n) == 0;
}

struct valid_case {
	const char *in;
	const char *method;
	const char *target;
	int minor;
	size_t head;		/* bytes of the head; 0: all of in */
};

static const struct valid_case valid[] = {
	{ "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9100\r\nAccept: */*\r\n\r\n",
	  "GET", "/metrics", 1, 0 },
	{ "GET /metrics HTTP/1.0\n\n", "GET", "/metrics", 0, 0 },
	{ "HEAD /metrics?x=1&y HTTP/1.1\r\n\r\n", "HEAD", "/metrics?x=1&y", 1, 0 },
	/* empty lines before the request line are skipped */
	{ "\r\n\nPOST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", "POST", "/a", 1, 42 },
	/* values: empty, tabs, spaces, bytes >= 0x80 */
	{ "GET / HTTP/1.1\r\nX-Empty:\r\nX-Tab:\ta\t b \r\nX-Utf8: \xc3\xa9t\xc3\xa9\r\n\r\n",
	  "GET", "/", 1, 0 },
	{ "M-._~!#$%&'*+^`|x * HTTP/1.1\r\n\r\n", "M-._~!#$%&'*+^`|x", "*", 1, 0 },
	/* a bare LF ends a line after a CRLF one too */
	{ "GET /x HTTP/1.1\r\nA: b\n\r\n", "GET", "/x", 1, 0 },
};

T_UNIT(http_req, valid_heads_at_every_prefix)
{
	for (size_t k = 0; k < sizeof(valid) / sizeof(valid[0]); k++) {
		const struct valid_case *c = &valid[k];
		size_t len = strlen(c->in);
		size_t head = c->head ? c->head : len;
		struct nlb_http_req req;
		for (size_t n = 0; n < head; n++) {
			int r = nlb_http_req_parse(c->in, n, 8192, &req);
			cr_assert_eq(r, -EAGAIN, "case %zu: prefix of %zu bytes: %d", k, n, r);
		}
		for (size_t n = head; n <= len; n++) {
			memset(&req, 0, sizeof(req));
			int r = nlb_http_req_parse(c->in, n, 8192, &req);
			cr_assert_eq(r, (int)head, "case %zu: %zu bytes: %d, want %zu", k, n, r, head);
			cr_assert(span_is(req.method, req.method_len, c->method), "case %zu method", k);
			cr_assert(span_is(req.target, req.target_len, c->target), "case %zu target", k);
			cr_assert_eq(req.minor, c->minor, "case %zu minor", k);
		}
	}
}

struct invalid_case {
	const char *in;
	size_t bad_at;		/* index of the first byte that cannot belong */
};

static const struct invalid_case invalid[] = {
	{ "\x16\x03\x01\x02\x00", 0 },			/* a TLS ClientHello */
	{ " GET / HTTP/1.1\r\n\r\n", 0 },
	{ "GET  / HTTP/1.1\r\n\r\n", 4 },		/* two spaces */
	{ "GET / HTTP/1.1 \r\n\r\n", 14 },
	{ "GET /a b HTTP/1.1\r\n\r\n", 7 },		/* a space in the target */
	{ "GET /\x7f HTTP/1.1\r\n\r\n", 5 },
	{ "GET / HTTP/2.0\r\n\r\n", 11 },
	{ "GET / HTTP/1.2\r\n\r\n", 13 },
	{ "GET / http/1.1\r\n\r\n", 6 },
	{ "GET / HTTP/1.1\rX\n\r\n", 15 },		/* CR without LF */
	{ "GET\r\n\r\n", 3 },
	{ "G(T / HTTP/1.1\r\n\r\n", 1 },
	{ "GET / HTTP/1.1\r\nHost localhost\r\n\r\n", 20 },
	{ "GET / HTTP/1.1\r\n: empty name\r\n\r\n", 16 },
	{ "GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", 22 },	/* obsolete folding */
	{ "GET / HTTP/1.1\r\nA: b\x01\r\n\r\n", 20 },
	{ "GET / HTTP/1.1\r\nA: b\r\n\rX", 23 },
	{ "\r\r\n", 1 },
};

T_UNIT(http_req, invalid_heads_refused_at_the_first_bad_byte)
{
	for (size_t k = 0; k < sizeof(invalid) / sizeof(invalid[0]); k++) {
		const struct invalid_case *c = &invalid[k];
		size_t len = strlen(c->in) ? strlen(c->in) : 1;
		struct nlb_http_req req;
		for (size_t n = 0; n <= c->bad_at; n++) {
			int r = nlb_http_req_parse(c->in, n, 8192, &req);
			cr_assert_eq(r, -EAGAIN, "case %zu: prefix of %zu bytes: %d", k, n, r);
		}
		for (size_t n = c->bad_at + 1; n <= len; n++) {
			int r = nlb_http_req_parse(c->in, n, 8192, &req);
			cr_assert_eq(r, -EINVAL, "case %zu: %zu bytes: %d", k, n, r);
		}
	}
}

/* A head of exactly max bytes fits; one byte more does not, and a head
 * that has not ended by max is -E2BIG whatever follows. */
T_UNIT(http_req, size_cap)
{
	const size_t max = 8192;
	char *buf = malloc(max + 64);
	cr_assert(buf);
	const char *start = "GET /metrics HTTP/1.1\r\nX-Pad: ";
	size_t pad = max - strlen(start) - 4;
	size_t off = (size_t)sprintf(buf, "%s", start);
	memset(buf + off, 'a', pad);
	memcpy(buf + off + pad, "\r\n\r\n", 4);
	struct nlb_http_req req;
	cr_assert_eq(nlb_http_req_parse(buf, max, max, &req), (int)max);
	cr_assert_eq(nlb_http_req_parse(buf, max - 1, max, &req), -EAGAIN);
	/* one more byte of padding: the head ends at max + 1 */
	memset(buf + off, 'a', pad + 1);
	memcpy(buf + off + pad + 1, "\r\n\r\n", 4);
	cr_assert_eq(nlb_http_req_parse(buf, max - 1, max, &req), -EAGAIN);
	cr_assert_eq(nlb_http_req_parse(buf, max, max, &req), -E2BIG);
	cr_assert_eq(nlb_http_req_parse(buf, max + 1, max, &req), -E2BIG);
	/* empty lines forever are no head either */
	memset(buf, '\n', max);
	cr_assert_eq(nlb_http_req_parse(buf, max, max, &req), -E2BIG);
	free(buf);
}
