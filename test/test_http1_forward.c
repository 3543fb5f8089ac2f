/* Suite "http1_forward": the heads nlb sends on (lib/http1_forward.c)
 * and its own answers (lib/http1_answer.c).  Each output is parsed again
 * with nlb's strict parser, so what a target or client gets is a valid
 * message, and its fields are checked one by one. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "helpers.h"
#include "http1_answer.h"
#include "http1_forward.h"
#include "http1_head.h"

static struct nlb_http1_head in, out;

static void parse_in(enum nlb_http1_kind kind, const char *s)
{
	nlb_http1_head_init(&in, kind, 0, 16384);
	cr_assert_eq(nlb_http1_head_parse(&in, s, strlen(s)), (int)strlen(s), "%s", s);
}

/* The value of the only field named name in the output, "" if absent;
 * fails when there are two. */
static const char *value_of(const char *buf, const char *name)
{
	static char v[256];
	const struct nlb_http1_field *f = NULL;
	for (uint32_t k = 0; k < out.nfields; k++) {
		if (strlen(name) == out.field[k].name.len &&
		    strncasecmp(buf + out.field[k].name.at, name, out.field[k].name.len) == 0) {
			cr_assert_null(f, "two %s fields in:\n%s", name, buf);
			f = &out.field[k];
		}
	}
	if (!f)
		return "";
	snprintf(v, sizeof(v), "%.*s", f->value.len, buf + f->value.at);
	return v;
}

static char fwd[4096];

static void forward(const char *req, enum nlb_xff_mode mode)
{
	parse_in(NLB_HTTP1_REQUEST, req);
	struct nlb_http1_origin o = { mode, "192.0.2.7", "https", 8443 };
	int n = nlb_http1_forward_request(&in, req, &o, fwd, sizeof(fwd) - 1);
	cr_assert_gt(n, 0);
	fwd[n] = '\0';
	nlb_http1_head_init(&out, NLB_HTTP1_REQUEST, 0, 16384);
	cr_assert_eq(nlb_http1_head_parse(&out, fwd, (size_t)n), n, "not a valid head:\n%s", fwd);
}

T_UNIT(http1_forward, xff_modes)
{
	static const char req[] = "GET /a?b HTTP/1.1\r\nHost: app\r\nX-Forwarded-For: 10.0.0.1\r\n"
				  "X-Forwarded-Proto: gopher\r\nAccept: */*\r\n"
				  "X-Forwarded-For: 10.0.0.2, 10.0.0.3\r\nX-Forwarded-Port: 1\r\n\r\n";
	forward(req, NLB_XFF_APPEND);
	cr_expect(strncmp(fwd, "GET /a?b HTTP/1.1\r\n", 19) == 0, "%s", fwd);
	cr_expect_str_eq(value_of(fwd, "x-forwarded-for"), "10.0.0.1, 10.0.0.2, 10.0.0.3, 192.0.2.7");
	cr_expect_str_eq(value_of(fwd, "x-forwarded-proto"), "https");
	cr_expect_str_eq(value_of(fwd, "x-forwarded-port"), "8443");
	cr_expect_str_eq(value_of(fwd, "host"), "app");
	cr_expect_str_eq(value_of(fwd, "accept"), "*/*");
	cr_expect_str_eq(value_of(fwd, "connection"), "");

	forward(req, NLB_XFF_REMOVE);
	cr_expect_str_eq(value_of(fwd, "x-forwarded-for"), "");
	cr_expect_str_eq(value_of(fwd, "x-forwarded-proto"), "https");

	/* preserve: both of the client's fields, as they were */
	parse_in(NLB_HTTP1_REQUEST, req);
	struct nlb_http1_origin o = { NLB_XFF_PRESERVE, "192.0.2.7", "http", 80 };
	int n = nlb_http1_forward_request(&in, req, &o, fwd, sizeof(fwd) - 1);
	cr_assert_gt(n, 0);
	fwd[n] = '\0';
	cr_expect_not_null(strstr(fwd, "X-Forwarded-For: 10.0.0.1\r\n"), "%s", fwd);
	cr_expect_not_null(strstr(fwd, "X-Forwarded-For: 10.0.0.2, 10.0.0.3\r\n"), "%s", fwd);
	cr_expect_null(strstr(fwd, "192.0.2.7"));

	/* no field from the client: the client alone */
	forward("GET / HTTP/1.1\r\nHost: a\r\n\r\n", NLB_XFF_APPEND);
	cr_expect_str_eq(value_of(fwd, "x-forwarded-for"), "192.0.2.7");
}

T_UNIT(http1_forward, hop_by_hop_dropped)
{
	forward("POST /u HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Secret, content-length\r\n"
		"Keep-Alive: timeout=5\r\nX-Secret: 1\r\nTE: trailers\r\nProxy-Connection: x\r\n"
		"Upgrade: h2c\r\nContent-Length: 4\r\nX-Kept: 2\r\n\r\n", NLB_XFF_APPEND);
	cr_expect_str_eq(value_of(fwd, "connection"), "");
	cr_expect_str_eq(value_of(fwd, "keep-alive"), "");
	cr_expect_str_eq(value_of(fwd, "x-secret"), "");
	cr_expect_str_eq(value_of(fwd, "te"), "");
	cr_expect_str_eq(value_of(fwd, "proxy-connection"), "");
	cr_expect_str_eq(value_of(fwd, "upgrade"), "");
	/* a Connection option never removes framing */
	cr_expect_str_eq(value_of(fwd, "content-length"), "4");
	cr_expect_eq(out.content_length, 4);
	cr_expect_str_eq(value_of(fwd, "x-kept"), "2");
}

T_UNIT(http1_forward, versions_and_upgrade)
{
	forward("GET / HTTP/1.0\r\nConnection: close\r\n\r\n", NLB_XFF_APPEND);
	cr_expect(strncmp(fwd, "GET / HTTP/1.0\r\n", 16) == 0);
	cr_expect_str_eq(value_of(fwd, "connection"), "keep-alive");
	forward("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
		"Sec-WebSocket-Key: k\r\n\r\n", NLB_XFF_APPEND);
	cr_expect_str_eq(value_of(fwd, "upgrade"), "websocket");
	cr_expect_str_eq(value_of(fwd, "connection"), "upgrade");
	cr_expect_str_eq(value_of(fwd, "sec-websocket-key"), "k");
}

T_UNIT(http1_forward, too_small)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
	parse_in(NLB_HTTP1_REQUEST, req);
	struct nlb_http1_origin o = { NLB_XFF_APPEND, "192.0.2.7", "http", 80 };
	int n = nlb_http1_forward_request(&in, req, &o, fwd, sizeof(fwd));
	cr_assert_gt(n, 0);
	for (size_t cap = 0; cap < (size_t)n; cap++)
		cr_assert_eq(nlb_http1_forward_request(&in, req, &o, fwd, cap), -ENOSPC);
	cr_assert_eq(nlb_http1_forward_request(&in, req, &o, fwd, (size_t)n), n);
}

static void respond(const char *resp, int client_minor, bool close)
{
	nlb_http1_head_init(&in, NLB_HTTP1_RESPONSE, NLB_HTTP1_LENIENT, 16384);
	cr_assert_eq(nlb_http1_head_parse(&in, resp, strlen(resp)), (int)strlen(resp));
	int n = nlb_http1_forward_response(&in, resp, client_minor, close, NULL, fwd, sizeof(fwd) - 1);
	cr_assert_gt(n, 0);
	fwd[n] = '\0';
	nlb_http1_head_init(&out, NLB_HTTP1_RESPONSE, 0, 16384);
	cr_assert_eq(nlb_http1_head_parse(&out, fwd, (size_t)n), n, "not a valid head:\n%s", fwd);
}

T_UNIT(http1_forward, responses)
{
	/* a bare-LF answer comes out with CRLF, its hop-by-hop fields nlb's */
	respond("HTTP/1.1 200 OK\nKeep-Alive: timeout=4\nConnection: keep-alive\n"
		"Transfer-Encoding: chunked\nSet-Cookie: a=1\n\n", 1, false);
	cr_expect(strncmp(fwd, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", fwd);
	cr_expect_str_eq(value_of(fwd, "connection"), "");
	cr_expect_str_eq(value_of(fwd, "keep-alive"), "");
	cr_expect_str_eq(value_of(fwd, "transfer-encoding"), "chunked");
	cr_expect_str_eq(value_of(fwd, "set-cookie"), "a=1");
	respond("HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n", 0, false);
	cr_expect_str_eq(value_of(fwd, "connection"), "keep-alive");
	respond("HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\n", 1, true);
	cr_expect_str_eq(value_of(fwd, "connection"), "close");
	cr_expect_eq(out.status, 404);
	respond("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
		1, false);
	cr_expect_str_eq(value_of(fwd, "upgrade"), "websocket");
	cr_expect_str_eq(value_of(fwd, "connection"), "upgrade");
}

T_UNIT(http1_forward, answers)
{
	static const int codes[] = { 400, 408, 413, 417, 431, 501, 502, 503, 504, 505 };
	char buf[NLB_HTTP1_ANSWER_MAX];
	for (size_t k = 0; k < sizeof(codes) / sizeof(codes[0]); k++) {
		for (int close = 0; close < 2; close++) {
			int n = nlb_http1_answer(codes[k], close, false, buf, sizeof(buf));
			cr_assert_gt(n, 0);
			nlb_http1_head_init(&out, NLB_HTTP1_RESPONSE, 0, sizeof(buf));
			int h = nlb_http1_head_parse(&out, buf, (size_t)n);
			cr_assert_gt(h, 0, "%d: %.*s", codes[k], n, buf);
			cr_expect_eq(out.status, codes[k]);
			cr_expect_eq(out.content_length, (uint64_t)(n - h), "%d: body length", codes[k]);
			cr_expect_eq(!!(out.flags & NLB_HTTP1_F_CONN_CLOSE), close);
			cr_expect_str_neq(nlb_http1_reason(codes[k]), "Unknown");
			/* HEAD: the same head, no body */
			cr_expect_eq(nlb_http1_answer(codes[k], close, true, buf, sizeof(buf)), h);
		}
	}
	cr_expect_eq(nlb_http1_answer(502, true, false, buf, 40), -ENOSPC);
}
