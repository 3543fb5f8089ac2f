/* Suite "http1": the HTTP/1 head parser (lib/http1_head.c) and the
 * chunked-body scanner (lib/http1_chunked.c).  Every input is fed whole
 * to a fresh parser, at every prefix to a fresh parser, and a byte at a
 * time to one parser that resumes, so all buffer boundaries are crossed
 * and resuming can be seen to change nothing.  Valid heads are -EAGAIN
 * until their last byte; invalid ones are refused at their first bad
 * byte (or at the empty line, for rules between fields) with the reason
 * and status the table gives; the smuggling cases of issue 18 each get
 * theirs. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "http1_chunked.h"
#include "http1_head.h"

#define MAX 8192

static bool span_is(const char *buf, struct nlb_http1_span s, const char *want)
{
	return strlen(want) == s.len && memcmp(buf + s.at, want, s.len) == 0;
}

/* Parses in (n bytes) whole, as each prefix and a byte at a time; the
 * three must agree.  Returns the whole-input result, *h filled by it. */
static int parse3(struct nlb_http1_head *h, enum nlb_http1_kind kind, unsigned opts,
		  const char *in, size_t n, size_t max)
{
	/* An exact-size heap copy: ASan sees a read past n. */
	char *copy = malloc(n ? n : 1);
	cr_assert_not_null(copy);
	memcpy(copy, in, n);
	nlb_http1_head_init(h, kind, opts, max);
	int whole = nlb_http1_head_parse(h, copy, n);
	struct nlb_http1_head *step = malloc(sizeof(*step));
	struct nlb_http1_head *fresh = malloc(sizeof(*fresh));
	cr_assert(step && fresh);
	nlb_http1_head_init(step, kind, opts, max);
	int r = -EAGAIN;
	for (size_t k = 0; k <= n; k++) {
		nlb_http1_head_init(fresh, kind, opts, max);
		int rf = nlb_http1_head_parse(fresh, copy, k);
		int rs = nlb_http1_head_parse(step, copy, k);
		cr_assert_eq(rf, rs, "\"%.*s\": prefix %zu: fresh %d, resumed %d", (int)n, in, k,
			     rf, rs);
		cr_assert_eq(fresh->error, step->error, "prefix %zu: reasons differ", k);
		if (r != -EAGAIN)
			cr_assert_eq(rs, r, "\"%.*s\": a decided head changed its mind at %zu",
				     (int)n, in, k);
		r = rs;
	}
	cr_assert_eq(r, whole, "\"%.*s\": whole %d, byte by byte %d", (int)n, in, whole, r);
	cr_assert_eq(step->error, h->error);
	if (whole > 0) {
		cr_assert_eq(step->nfields, h->nfields);
		cr_assert_eq(memcmp(step->field, h->field, h->nfields * sizeof(h->field[0])), 0);
		cr_assert_eq(step->flags, h->flags);
	}
	free(step);
	free(fresh);
	free(copy);
	return whole;
}

struct valid_case {
	const char *in;
	unsigned opts;
	const char *method;
	const char *target;
	int minor;
	uint32_t flags;		/* expected exactly */
	uint64_t length;	/* Content-Length */
	enum nlb_http1_body body;
	size_t head;		/* bytes of the head; 0: all of in */
};

#define F(x) NLB_HTTP1_F_##x
static const struct valid_case valid[] = {
	{ "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9100\r\nAccept: */*\r\n\r\n", 0, "GET",
	  "/metrics", 1, F(HOST), 0, NLB_HTTP1_BODY_NONE, 0 },
	{ "GET /metrics HTTP/1.0\r\n\r\n", 0, "GET", "/metrics", 0, 0, 0, NLB_HTTP1_BODY_NONE, 0 },
	{ "GET /metrics HTTP/1.0\n\n", NLB_HTTP1_LENIENT, "GET", "/metrics", 0, 0, 0,
	  NLB_HTTP1_BODY_NONE, 0 },
	{ "HEAD /metrics?x=1&y HTTP/1.1\r\n\r\n", NLB_HTTP1_LENIENT, "HEAD", "/metrics?x=1&y", 1, 0,
	  0, NLB_HTTP1_BODY_NONE, 0 },
	/* empty lines before the request line are skipped */
	{ "\r\n\r\nPOST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc", 0, "POST", "/a", 1,
	  F(HOST) | F(CONTENT_LENGTH), 3, NLB_HTTP1_BODY_LENGTH, 52 },
	{ "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 000\r\n\r\n", 0, "POST", "/a", 1,
	  F(HOST) | F(CONTENT_LENGTH), 0, NLB_HTTP1_BODY_NONE, 0 },
	{ "POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n", 0, "POST",
	  "/a", 1, F(HOST) | F(TRANSFER_ENCODING) | F(CHUNKED), 0, NLB_HTTP1_BODY_CHUNKED, 0 },
	{ "POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding:\tchunked \r\n\r\n",
	  0, "POST", "/a", 1, F(HOST) | F(TRANSFER_ENCODING) | F(CHUNKED), 0,
	  NLB_HTTP1_BODY_CHUNKED, 0 },
	/* values: empty, tabs, spaces, bytes >= 0x80 */
	{ "GET / HTTP/1.1\r\nHost: x\r\nX-Empty:\r\nX-Tab:\ta\t b \r\nX-Utf8: \xc3\xa9t\xc3\xa9\r\n\r\n",
	  0, "GET", "/", 1, F(HOST), 0, NLB_HTTP1_BODY_NONE, 0 },
	{ "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 0, "OPTIONS", "*", 1, F(HOST), 0,
	  NLB_HTTP1_BODY_NONE, 0 },
	{ "M-._~!#$%&'*+^`|x /x HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", 0, "M-._~!#$%&'*+^`|x", "/x",
	  1, F(HOST), 0, NLB_HTTP1_BODY_NONE, 0 },
	{ "GET http://example.com/x?y HTTP/1.1\r\nHost: example.com\r\n\r\n", 0, "GET",
	  "http://example.com/x?y", 1, F(HOST), 0, NLB_HTTP1_BODY_NONE, 0 },
	{ "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 0, "CONNECT",
	  "example.com:443", 1, F(HOST), 0, NLB_HTTP1_BODY_NONE, 0 },
	{ "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\r\n",
	  0, "GET", "/chat", 1, F(HOST) | F(UPGRADE) | F(CONN_UPGRADE) | F(CONN_KEEP_ALIVE), 0,
	  NLB_HTTP1_BODY_NONE, 0 },
	{ "PUT /f HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nContent-Length: 9\r\nConnection: close\r\n\r\n",
	  0, "PUT", "/f", 1, F(HOST) | F(EXPECT_CONTINUE) | F(CONTENT_LENGTH) | F(CONN_CLOSE), 9,
	  NLB_HTTP1_BODY_LENGTH, 0 },
	/* the lenient mode: a bare LF after a CRLF line, no Host */
	{ "GET /x HTTP/1.1\r\nA: b\n\r\n", NLB_HTTP1_LENIENT, "GET", "/x", 1, 0, 0,
	  NLB_HTTP1_BODY_NONE, 0 },
};

T_UNIT(http1, valid_requests)
{
	for (size_t k = 0; k < sizeof(valid) / sizeof(valid[0]); k++) {
		const struct valid_case *c = &valid[k];
		size_t len = strlen(c->in);
		size_t head = c->head ? c->head : len;
		struct nlb_http1_head h;
		int r = parse3(&h, NLB_HTTP1_REQUEST, c->opts, c->in, len, MAX);
		cr_assert_eq(r, (int)head, "case %zu: %d (%s), want %zu", k, r,
			     nlb_http1_error_name(h.error), head);
		cr_assert(span_is(c->in, h.method_text, c->method), "case %zu method", k);
		cr_assert(span_is(c->in, h.target, c->target), "case %zu target", k);
		cr_assert_eq(h.minor, c->minor, "case %zu minor", k);
		cr_assert_eq(h.flags, c->flags, "case %zu flags %#x, want %#x", k, h.flags, c->flags);
		cr_assert_eq(h.content_length, c->length, "case %zu length", k);
		cr_assert_eq(nlb_http1_head_body(&h, NLB_HTTP1_M_OTHER), c->body, "case %zu body", k);
	}
}

T_UNIT(http1, fields_kept_trimmed_in_order)
{
	static const char in[] = "GET / HTTP/1.1\r\nHost:  a.example \r\nX-A:\t1 2\t\r\n"
				 "x-a: \r\nCookie: c=1; d=2\r\n\r\n";
	struct nlb_http1_head h;
	cr_assert_eq(parse3(&h, NLB_HTTP1_REQUEST, 0, in, sizeof(in) - 1, MAX),
		     (int)sizeof(in) - 1);
	cr_assert_eq(h.nfields, 4);
	static const char *const want[][2] = {
		{ "Host", "a.example" }, { "X-A", "1 2" }, { "x-a", "" }, { "Cookie", "c=1; d=2" },
	};
	for (int k = 0; k < 4; k++) {
		cr_expect(span_is(in, h.field[k].name, want[k][0]), "name %d", k);
		cr_expect(span_is(in, h.field[k].value, want[k][1]), "value %d", k);
	}
	cr_expect(span_is(in, h.host, "a.example"));
	cr_expect_eq(nlb_http1_head_field(&h, in, "x-a"), &h.field[1]);
	cr_expect_null(nlb_http1_head_field(&h, in, "x-b"));
	cr_expect_eq(h.method, NLB_HTTP1_M_GET);
}

struct invalid_case {
	const char *in;
	unsigned opts;
	size_t bad_at;		/* index of the first byte that cannot belong */
	enum nlb_http1_error error;
	int status;		/* what nlb answers */
};

#define E(x) NLB_HTTP1_E_##x
static const struct invalid_case invalid[] = {
	{ "\x16\x03\x01\x02\x00", 0, 0, E(REQUEST_LINE), 400 },	/* a TLS ClientHello */
	{ " GET / HTTP/1.1\r\n\r\n", 0, 0, E(REQUEST_LINE), 400 },
	{ "GET  / HTTP/1.1\r\n\r\n", 0, 4, E(REQUEST_LINE), 400 },	/* two spaces */
	{ "GET / HTTP/1.1 \r\n\r\n", 0, 14, E(REQUEST_LINE), 400 },
	{ "GET /a b HTTP/1.1\r\n\r\n", 0, 7, E(REQUEST_LINE), 400 },	/* a space in the target */
	{ "GET /\x7f HTTP/1.1\r\n\r\n", 0, 5, E(REQUEST_LINE), 400 },
	{ "GET /\xc3\xa9 HTTP/1.1\r\n\r\n", 0, 5, E(REQUEST_LINE), 400 },
	{ "GET / HTTP/2.0\r\n\r\n", 0, 11, E(VERSION), 505 },
	{ "GET / HTTP/1.2\r\n\r\n", 0, 13, E(VERSION), 505 },
	{ "GET / http/1.1\r\n\r\n", 0, 6, E(REQUEST_LINE), 400 },
	{ "GET / HTTP/1.1\rX\n\r\n", 0, 15, E(BARE_CR), 400 },
	{ "GET\r\n\r\n", 0, 3, E(REQUEST_LINE), 400 },
	{ "G(T / HTTP/1.1\r\n\r\n", 0, 1, E(REQUEST_LINE), 400 },
	{ "GET / HTTP/1.1\r\nHost localhost\r\n\r\n", 0, 20, E(FIELD_NAME), 400 },
	{ "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 0, 20, E(FIELD_NAME), 400 },
	{ "GET / HTTP/1.1\r\n: empty name\r\n\r\n", 0, 16, E(FIELD_NAME), 400 },
	{ "GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 0, 25, E(OBS_FOLD), 400 },
	{ "GET / HTTP/1.1\r\nHost: x\r\n\tfolded\r\n\r\n", 0, 25, E(OBS_FOLD), 400 },
	{ "GET / HTTP/1.1\r\nA: b\x01\r\n\r\n", 0, 20, E(FIELD_VALUE), 400 },
	{ "GET / HTTP/1.1\r\nA: b\0c\r\n\r\n", 0, 20, E(FIELD_VALUE), 400 },
	{ "GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", 0, 21, E(BARE_CR), 400 },
	{ "GET / HTTP/1.1\r\nA: b\r\n\rX", 0, 23, E(BARE_CR), 400 },
	{ "\r\r\n", 0, 1, E(BARE_CR), 400 },
	/* strict line ends: a bare LF anywhere */
	{ "\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", 0, 0, E(BARE_LF), 400 },
	{ "GET / HTTP/1.1\nHost: x\r\n\r\n", 0, 14, E(BARE_LF), 400 },
	{ "GET / HTTP/1.1\r\nHost: x\nA: b\r\n\r\n", 0, 23, E(BARE_LF), 400 },
	{ "GET / HTTP/1.1\r\nHost: x\r\n\n", 0, 25, E(BARE_LF), 400 },
	/* Host */
	{ "GET / HTTP/1.1\r\nA: b\r\n\r\n", 0, 23, E(HOST_MISSING), 400 },
	{ "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", 0, 32, E(HOST_TWICE), 400 },
	{ "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 0, 25, E(HOST_INVALID), 400 },
	{ "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 0, 25, E(HOST_INVALID), 400 },
	{ "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 0, 25, E(HOST_INVALID), 400 },
	/* the target's form against the method */
	{ "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 0, 26, E(TARGET), 400 },
	{ "GET x HTTP/1.1\r\nHost: a\r\n\r\n", 0, 26, E(TARGET), 400 },
	{ "CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n", 0, 31, E(TARGET), 400 },
	{ "GET :// HTTP/1.1\r\nHost: a\r\n\r\n", 0, 28, E(TARGET), 400 },
	/* expectations */
	{ "GET / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n", 0, 39, E(EXPECT), 417 },
};

T_UNIT(http1, invalid_requests_refused_at_the_first_bad_byte)
{
	for (size_t k = 0; k < sizeof(invalid) / sizeof(invalid[0]); k++) {
		const struct invalid_case *c = &invalid[k];
		/* strlen stops at a NUL in the middle: then the bytes through it */
		size_t len = strlen(c->in) > c->bad_at ? strlen(c->in) : c->bad_at + 1;
		struct nlb_http1_head h;
		cr_assert_eq(parse3(&h, NLB_HTTP1_REQUEST, c->opts, c->in, c->bad_at, MAX), -EAGAIN,
			     "case %zu: before its bad byte", k);
		int r = parse3(&h, NLB_HTTP1_REQUEST, c->opts, c->in, c->bad_at + 1, MAX);
		cr_assert_eq(r, -EINVAL, "case %zu: at its bad byte: %d", k, r);
		cr_assert_eq(h.error, c->error, "case %zu: %s, want %s", k,
			     nlb_http1_error_name(h.error), nlb_http1_error_name(c->error));
		cr_assert_eq(nlb_http1_error_status(h.error), c->status, "case %zu status", k);
		cr_assert_eq(parse3(&h, NLB_HTTP1_REQUEST, c->opts, c->in, len, MAX), -EINVAL,
			     "case %zu: whole", k);
	}
}

/* Issue 18's smuggling suite, each refused with nothing to forward: a
 * head that is refused has no length a caller could forward. */
struct smuggle_case {
	const char *name;
	const char *in;
	enum nlb_http1_error error;
	int status;
};

static const struct smuggle_case smuggling[] = {
	{ "CL.TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG",
	  E(CL_AND_TE), 400 },
	{ "TE.CL", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n",
	  E(CL_AND_TE), 400 },
	{ "TE.TE xchunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n",
	  E(TE_UNKNOWN), 501 },
	{ "TE.TE two fields", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n",
	  E(TE_UNKNOWN), 501 },
	{ "TE.TE chunked then identity", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
	  E(TE_UNKNOWN), 501 },
	{ "TE.TE chunked not last", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
	  E(TE_NOT_CHUNKED), 400 },
	{ "TE.TE chunked twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
	  E(TE_NOT_CHUNKED), 400 },
	{ "TE.TE space before colon", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n",
	  E(FIELD_NAME), 400 },
	{ "TE.TE folded", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n , chunked\r\n\r\n",
	  E(OBS_FOLD), 400 },
	{ "TE.TE vertical tab", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\x0b" "chunked\r\n\r\n",
	  E(FIELD_VALUE), 400 },
	{ "TE.TE parameter", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;q=1\r\n\r\n",
	  E(TE_NOT_CHUNKED), 400 },
	{ "TE.TE quoted", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \"chunked\"\r\n\r\n",
	  E(TE_NOT_CHUNKED), 400 },
	{ "TE.TE empty element", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , chunked\r\n\r\n",
	  E(TE_NOT_CHUNKED), 400 },
	{ "TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
	  E(TE_HTTP10), 400 },
	{ "duplicate CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
	  E(CONTENT_LENGTH_TWICE), 400 },
	{ "differing CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
	  E(CONTENT_LENGTH_TWICE), 400 },
	{ "CL list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n",
	  E(CONTENT_LENGTH), 400 },
	{ "CL +5", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", E(CONTENT_LENGTH), 400 },
	{ "CL -5", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -5\r\n\r\n", E(CONTENT_LENGTH), 400 },
	{ "CL '5 5'", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5 5\r\n\r\n", E(CONTENT_LENGTH), 400 },
	{ "CL hex", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n", E(CONTENT_LENGTH), 400 },
	{ "CL empty", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", E(CONTENT_LENGTH), 400 },
	{ "CL overflow", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n",
	  E(CONTENT_LENGTH), 400 },
	{ "bare LF", "POST / HTTP/1.1\r\nHost: a\nContent-Length: 5\r\n\r\n", E(BARE_LF), 400 },
	{ "bare CR", "POST / HTTP/1.1\r\nHost: a\rContent-Length: 5\r\n\r\n", E(BARE_CR), 400 },
	{ "two Host", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", E(HOST_TWICE), 400 },
};

T_UNIT(http1, smuggling_refused)
{
	for (size_t k = 0; k < sizeof(smuggling) / sizeof(smuggling[0]); k++) {
		const struct smuggle_case *c = &smuggling[k];
		struct nlb_http1_head h;
		int r = parse3(&h, NLB_HTTP1_REQUEST, 0, c->in, strlen(c->in), MAX);
		cr_expect_eq(r, -EINVAL, "%s: %d", c->name, r);
		cr_expect_eq(h.error, c->error, "%s: %s, want %s", c->name,
			     nlb_http1_error_name(h.error), nlb_http1_error_name(c->error));
		cr_expect_eq(nlb_http1_error_status(h.error), c->status, "%s: status", c->name);
	}
	/* "5 " with the space as OWS is the value "5": fine, and so is "5\t" */
	static const char ows[] = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5 \r\n\r\n";
	struct nlb_http1_head h;
	cr_expect_gt(parse3(&h, NLB_HTTP1_REQUEST, 0, ows, sizeof(ows) - 1, MAX), 0);
	cr_expect_eq(h.content_length, 5);
}

/* A head of exactly max bytes fits; one byte more does not, and a head
 * that has not ended by max is -E2BIG whatever follows. */
T_UNIT(http1, size_cap)
{
	const size_t max = 8192;
	char *buf = malloc(max + 64);
	cr_assert(buf);
	const char *start = "GET /metrics HTTP/1.1\r\nHost: a\r\nX-Pad: ";
	size_t pad = max - strlen(start) - 4;
	size_t off = (size_t)sprintf(buf, "%s", start);
	memset(buf + off, 'a', pad);
	memcpy(buf + off + pad, "\r\n\r\n", 4);
	struct nlb_http1_head h;
	cr_assert_eq(parse3(&h, NLB_HTTP1_REQUEST, 0, buf, max, max), (int)max);
	cr_assert_eq(parse3(&h, NLB_HTTP1_REQUEST, 0, buf, max - 1, max), -EAGAIN);
	/* one more byte of padding: the head ends at max + 1 */
	memset(buf + off, 'a', pad + 1);
	memcpy(buf + off + pad + 1, "\r\n\r\n", 4);
	cr_assert_eq(parse3(&h, NLB_HTTP1_REQUEST, 0, buf, max - 1, max), -EAGAIN);
	cr_assert_eq(parse3(&h, NLB_HTTP1_REQUEST, 0, buf, max, max), -E2BIG);
	cr_assert_eq(h.error, NLB_HTTP1_E_HEAD_TOO_LARGE);
	cr_assert_eq(nlb_http1_error_status(h.error), 431);
	nlb_http1_head_init(&h, NLB_HTTP1_REQUEST, 0, max);
	cr_assert_eq(nlb_http1_head_parse(&h, buf, max + 1), -E2BIG);
	/* empty lines forever are no head either */
	for (size_t i = 0; i < max; i += 2)
		memcpy(buf + i, "\r\n", 2);
	cr_assert_eq(parse3(&h, NLB_HTTP1_REQUEST, 0, buf, max, max), -E2BIG);
	free(buf);
}

T_UNIT(http1, field_count_cap)
{
	char *buf = malloc(64 * 1024);
	cr_assert(buf);
	size_t off = (size_t)sprintf(buf, "GET / HTTP/1.1\r\nHost: a\r\n");
	for (int k = 1; k < NLB_HTTP1_FIELDS_MAX; k++)
		off += (size_t)sprintf(buf + off, "X-%d: v\r\n", k);
	memcpy(buf + off, "\r\n", 2);
	struct nlb_http1_head h;
	nlb_http1_head_init(&h, NLB_HTTP1_REQUEST, 0, 64 * 1024);
	cr_assert_eq(nlb_http1_head_parse(&h, buf, off + 2), (int)(off + 2));
	cr_assert_eq(h.nfields, NLB_HTTP1_FIELDS_MAX);
	off += (size_t)sprintf(buf + off, "X-last: v\r\n\r\n");
	nlb_http1_head_init(&h, NLB_HTTP1_REQUEST, 0, 64 * 1024);
	cr_assert_eq(nlb_http1_head_parse(&h, buf, off), -E2BIG);
	cr_assert_eq(h.error, NLB_HTTP1_E_TOO_MANY_FIELDS);
	cr_assert_eq(nlb_http1_error_status(h.error), 431);
	free(buf);
}

struct response_case {
	const char *in;
	unsigned opts;
	enum nlb_http1_method request;
	int ret;		/* 0: all of in */
	int status;
	const char *reason;
	enum nlb_http1_body body;
};

static const struct response_case responses[] = {
	{ "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n", 0, NLB_HTTP1_M_GET, 0, 200, "OK",
	  NLB_HTTP1_BODY_LENGTH },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n", 0, NLB_HTTP1_M_HEAD, 0, 200, "OK",
	  NLB_HTTP1_BODY_NONE },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 0, NLB_HTTP1_M_GET, 0, 200,
	  "OK", NLB_HTTP1_BODY_CHUNKED },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, br\r\n\r\n", 0, NLB_HTTP1_M_GET, 0, 200,
	  "OK", NLB_HTTP1_BODY_UNTIL_CLOSE },
	{ "HTTP/1.0 200 Fine thanks\r\n\r\n", 0, NLB_HTTP1_M_GET, 0, 200, "Fine thanks",
	  NLB_HTTP1_BODY_UNTIL_CLOSE },
	{ "HTTP/1.1 204\r\n\r\n", 0, NLB_HTTP1_M_DELETE, 0, 204, "", NLB_HTTP1_BODY_NONE },
	{ "HTTP/1.1 304 \r\nContent-Length: 5\r\n\r\n", 0, NLB_HTTP1_M_GET, 0, 304, "",
	  NLB_HTTP1_BODY_NONE },
	{ "HTTP/1.1 100 Continue\r\n\r\n", 0, NLB_HTTP1_M_PUT, 0, 100, "Continue",
	  NLB_HTTP1_BODY_NONE },
	{ "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", 0,
	  NLB_HTTP1_M_GET, 0, 101, "Switching Protocols", NLB_HTTP1_BODY_TUNNEL },
	{ "HTTP/1.1 200 OK\r\n\r\n", 0, NLB_HTTP1_M_CONNECT, 0, 200, "OK", NLB_HTTP1_BODY_TUNNEL },
	{ "HTTP/1.1 200 OK\nContent-Length: 0\n\n", NLB_HTTP1_LENIENT, NLB_HTTP1_M_GET, 0, 200,
	  "OK", NLB_HTTP1_BODY_NONE },
	{ "HTTP/1.1 200 OK\nContent-Length: 0\n\n", 0, NLB_HTTP1_M_GET, -EINVAL, 0, NULL, 0 },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 0,
	  NLB_HTTP1_M_GET, -EINVAL, 0, NULL, 0 },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", 0,
	  NLB_HTTP1_M_GET, -EINVAL, 0, NULL, 0 },
	{ "HTTP/1.1 2000 OK\r\n\r\n", 0, NLB_HTTP1_M_GET, -EINVAL, 0, NULL, 0 },
	{ "HTTP/1.1 20 OK\r\n\r\n", 0, NLB_HTTP1_M_GET, -EINVAL, 0, NULL, 0 },
	{ "HTTP/1.1 099 OK\r\n\r\n", 0, NLB_HTTP1_M_GET, -EINVAL, 0, NULL, 0 },
	{ "HTTP/1.1 600 OK\r\n\r\n", 0, NLB_HTTP1_M_GET, -EINVAL, 0, NULL, 0 },
	{ "HTTP/1.1 200 O\x01K\r\n\r\n", 0, NLB_HTTP1_M_GET, -EINVAL, 0, NULL, 0 },
	{ "ICY 200 OK\r\n\r\n", 0, NLB_HTTP1_M_GET, -EINVAL, 0, NULL, 0 },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 0, NLB_HTTP1_M_GET,
	  -EINVAL, 0, NULL, 0 },
};

T_UNIT(http1, responses)
{
	for (size_t k = 0; k < sizeof(responses) / sizeof(responses[0]); k++) {
		const struct response_case *c = &responses[k];
		size_t len = strlen(c->in);
		struct nlb_http1_head h;
		int r = parse3(&h, NLB_HTTP1_RESPONSE, c->opts, c->in, len, MAX);
		int want = c->ret ? c->ret : (int)len;
		cr_assert_eq(r, want, "case %zu: %d (%s), want %d", k, r,
			     nlb_http1_error_name(h.error), want);
		if (r < 0)
			continue;
		cr_assert_eq(h.status, c->status, "case %zu status", k);
		cr_assert(span_is(c->in, h.reason, c->reason), "case %zu reason", k);
		cr_assert_eq(nlb_http1_head_body(&h, c->request), c->body, "case %zu body", k);
	}
}

/* The status line alone (the health checks' use): stops at its end. */
T_UNIT(http1, status_line_alone)
{
	static const char in[] = "HTTP/1.1 503 Busy\r\nthis is not parsed\0\1\2";
	struct nlb_http1_head h;
	cr_assert_eq(parse3(&h, NLB_HTTP1_STATUS_LINE, 0, in, sizeof(in) - 1, 1024), 19);
	cr_assert_eq(h.status, 503);
	cr_assert(span_is(in, h.reason, "Busy"));
}

/* Scans body whole, byte by byte, and in two parts split at each point;
 * all must agree.  Returns the whole result, *c filled by it. */
static ssize_t scan3(struct nlb_http1_chunked *c, unsigned opts, const char *in, size_t n)
{
	char *copy = malloc(n ? n : 1);
	cr_assert_not_null(copy);
	memcpy(copy, in, n);
	nlb_http1_chunked_init(c, opts, 1024);
	ssize_t whole = nlb_http1_chunked_scan(c, copy, n);
	for (size_t split = 0; split <= n; split++) {
		struct nlb_http1_chunked s;
		nlb_http1_chunked_init(&s, opts, 1024);
		ssize_t a = nlb_http1_chunked_scan(&s, copy, split);
		ssize_t r;
		if (a < 0) {
			r = a;
		} else if (s.done) {
			r = a;
		} else {
			ssize_t b = nlb_http1_chunked_scan(&s, copy + split, n - split);
			r = b < 0 ? b : a + b;
		}
		cr_assert_eq(r, whole, "\"%.*s\" split at %zu: %zd, whole %zd", (int)n, in, split,
			     r, whole);
		cr_assert_eq(s.error, c->error);
		if (r >= 0)
			cr_assert_eq(s.data_bytes, c->data_bytes);
	}
	struct nlb_http1_chunked s;
	nlb_http1_chunked_init(&s, opts, 1024);
	ssize_t total = 0;
	for (size_t i = 0; i < n && !s.done; i++) {
		ssize_t r = nlb_http1_chunked_scan(&s, copy + i, 1);
		if (r < 0) {
			total = r;
			break;
		}
		total += r;
	}
	cr_assert_eq(total, whole, "\"%.*s\" byte by byte: %zd, whole %zd", (int)n, in, total,
		     whole);
	free(copy);
	return whole;
}

struct chunked_case {
	const char *in;
	unsigned opts;
	ssize_t ret;		/* bytes of the body; < 0: the error */
	uint64_t data;
	uint8_t done;
	enum nlb_http1_error error;
};

static const struct chunked_case chunked[] = {
	{ "0\r\n\r\n", 0, 5, 0, 1, 0 },
	{ "5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1", 0, 15, 5, 1, 0 },
	{ "A\r\n0123456789\r\n00\r\n\r\n", 0, 21, 10, 1, 0 },
	{ "5;a=b;c;d=\"q\\\"x\" ; e = f\r\nhello\r\n0\r\nX-Sum: 1\r\nY: \r\n\r\n", 0, 53, 5, 1, 0 },
	{ "5\r\nhel", 0, 6, 3, 0, 0 },
	{ "5\nhello\n0\n\n", NLB_HTTP1_LENIENT, 11, 5, 1, 0 },
	{ "5\nhello\r\n0\r\n\r\n", 0, -EINVAL, 0, 0, E(BARE_LF) },
	{ "5\r\nhello\r\n0\r\n\n", 0, -EINVAL, 0, 0, E(BARE_LF) },
	{ "5 \r\nhello\r\n0\r\n\r\n", 0, -EINVAL, 0, 0, E(CHUNK_SIZE) },
	{ "+5\r\nhello\r\n0\r\n\r\n", 0, -EINVAL, 0, 0, E(CHUNK_SIZE) },
	{ "0x5\r\nhello\r\n0\r\n\r\n", 0, -EINVAL, 0, 0, E(CHUNK_SIZE) },
	{ "\r\nhello\r\n0\r\n\r\n", 0, -EINVAL, 0, 0, E(CHUNK_SIZE) },
	{ "1000000000000000\r\n", 0, -EINVAL, 0, 0, E(CHUNK_SIZE) },
	{ "fffffffffffffffff\r\n", 0, -EINVAL, 0, 0, E(CHUNK_SIZE) },
	{ "5\r\nhelloX\r\n0\r\n\r\n", 0, -EINVAL, 0, 0, E(CHUNK_END) },
	{ "5\r\nhello\r0\r\n\r\n", 0, -EINVAL, 0, 0, E(BARE_CR) },
	{ "5;\r\nhello\r\n0\r\n\r\n", 0, -EINVAL, 0, 0, E(CHUNK_EXT) },
	{ "5;a=\r\nhello\r\n0\r\n\r\n", 0, -EINVAL, 0, 0, E(CHUNK_EXT) },
	{ "5;a=\"x\r\nhello\r\n0\r\n\r\n", 0, -EINVAL, 0, 0, E(CHUNK_EXT) },
	{ "5;a b\r\nhello\r\n0\r\n\r\n", 0, -EINVAL, 0, 0, E(CHUNK_EXT) },
	{ "0\r\n folded: x\r\n\r\n", 0, -EINVAL, 0, 0, E(OBS_FOLD) },
	{ "0\r\nX : y\r\n\r\n", 0, -EINVAL, 0, 0, E(FIELD_NAME) },
	{ "0\r\nX: \x01\r\n\r\n", 0, -EINVAL, 0, 0, E(FIELD_VALUE) },
};

T_UNIT(http1, chunked_bodies)
{
	for (size_t k = 0; k < sizeof(chunked) / sizeof(chunked[0]); k++) {
		const struct chunked_case *c = &chunked[k];
		struct nlb_http1_chunked s;
		ssize_t r = scan3(&s, c->opts, c->in, strlen(c->in));
		cr_assert_eq(r, c->ret, "case %zu: %zd (%s), want %zd", k, r,
			     nlb_http1_error_name(s.error), c->ret);
		cr_assert_eq(s.error, c->error, "case %zu: %s", k, nlb_http1_error_name(s.error));
		if (r < 0)
			continue;
		cr_assert_eq(s.data_bytes, c->data, "case %zu data", k);
		cr_assert_eq(s.done, c->done, "case %zu done", k);
	}
}

T_UNIT(http1, chunked_limits)
{
	/* a size line with extensions past NLB_HTTP1_CHUNK_LINE_MAX */
	char *buf = malloc(NLB_HTTP1_CHUNK_LINE_MAX + 16);
	cr_assert(buf);
	memcpy(buf, "5;", 2);
	memset(buf + 2, 'x', NLB_HTTP1_CHUNK_LINE_MAX + 14);
	struct nlb_http1_chunked c;
	nlb_http1_chunked_init(&c, 0, 1024);
	cr_assert_eq(nlb_http1_chunked_scan(&c, buf, NLB_HTTP1_CHUNK_LINE_MAX), NLB_HTTP1_CHUNK_LINE_MAX);
	cr_assert_eq(nlb_http1_chunked_scan(&c, buf + NLB_HTTP1_CHUNK_LINE_MAX, 1), -EINVAL);
	cr_assert_eq(c.error, NLB_HTTP1_E_CHUNK_EXT);
	/* trailers past their cap */
	memcpy(buf, "0\r\nX: ", 6);
	memset(buf + 6, 'v', 200);
	nlb_http1_chunked_init(&c, 0, 100);
	cr_assert_eq(nlb_http1_chunked_scan(&c, buf, 206), -E2BIG);
	cr_assert_eq(c.error, NLB_HTTP1_E_HEAD_TOO_LARGE);
	free(buf);
	/* a big chunk is skipped, not walked: 2^59 - 1 bytes of which we see 3 */
	nlb_http1_chunked_init(&c, 0, 1024);
	cr_assert_eq(nlb_http1_chunked_scan(&c, "7ffffffffffffff\r\nabc", 20), 20);
	cr_assert_eq(c.left, 0x7ffffffffffffffULL - 3);
}
