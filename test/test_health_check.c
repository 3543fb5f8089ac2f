/* lib/health_check: matcher forms and edges, the status line parser fed
 * at every byte boundary, the verdict on an answer (wait, pass or fail),
 * the probe request, and the state machine on scripted and exhaustive
 * sequences. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "health_check.h"

TestSuite(health_check);

/* A byte string with its length, so cases may hold NUL. */
#define S(lit) lit, sizeof(lit) - 1

/* ---- matcher ---- */

struct matcher_good {
	const char *text;
	uint32_t n;
	struct nlb_hc_range item[4];	/* the first min(n, 4) items */
};

static const struct matcher_good matcher_good[] = {
	{ "200", 1, { { 200, 200 } } },
	{ "200-399", 1, { { 200, 399 } } },
	{ "200,204,301", 3, { { 200, 200 }, { 204, 204 }, { 301, 301 } } },
	{ "200,300-399", 2, { { 200, 200 }, { 300, 399 } } },
	{ "300-399,200", 2, { { 300, 399 }, { 200, 200 } } },
	{ "100", 1, { { 100, 100 } } },
	{ "599", 1, { { 599, 599 } } },
	{ "100-599", 1, { { 100, 599 } } },
	{ "200-200", 1, { { 200, 200 } } },
	{ "200,200", 2, { { 200, 200 }, { 200, 200 } } },
	{ "200-299,250-350", 2, { { 200, 299 }, { 250, 350 } } },
	{ "200,201,202,203,204,205,206,207,208,209,210,211,212,213,214,215", 16,
	  { { 200, 200 }, { 201, 201 }, { 202, 202 }, { 203, 203 } } },
};

T_UNIT(health_check, matcher_good_forms)
{
	for (size_t i = 0; i < sizeof(matcher_good) / sizeof(matcher_good[0]); i++) {
		const struct matcher_good *c = &matcher_good[i];
		struct nlb_hc_matcher m;

		memset(&m, 0xa5, sizeof(m));
		cr_assert_eq(nlb_hc_matcher_parse(c->text, &m), 0, "\"%s\"", c->text);
		cr_assert_eq(m.n, c->n, "\"%s\": n = %u", c->text, m.n);
		for (uint32_t k = 0; k < c->n && k < 4; k++) {
			cr_expect_eq(m.item[k].lo, c->item[k].lo, "\"%s\" item %u lo", c->text, k);
			cr_expect_eq(m.item[k].hi, c->item[k].hi, "\"%s\" item %u hi", c->text, k);
		}
	}
}

static const char *const matcher_bad[] = {
	"", "2", "20", "99", "099", "000", "600", "999", "1000", "2000", "0200",
	"200-", "-200", "-", ",", "200--300", "200-300-400", "399-200", "600-700",
	"100-600", "099-200", "200-3999", "200,", ",200", "200,,204", " 200", "200 ",
	"200, 204", "200 ,204", "200\n", "2OO", "+200", "20x", "abc", "200;204",
	"200.0", "2e2", "200-2x9",
	/* 17 items */
	"200,201,202,203,204,205,206,207,208,209,210,211,212,213,214,215,216",
	"200-201,202,203,204,205,206,207,208,209,210,211,212,213,214,215,216-299,300",
};

T_UNIT(health_check, matcher_bad_forms)
{
	for (size_t i = 0; i < sizeof(matcher_bad) / sizeof(matcher_bad[0]); i++) {
		struct nlb_hc_matcher m, before;

		memset(&m, 0x5a, sizeof(m));
		before = m;
		cr_expect_eq(nlb_hc_matcher_parse(matcher_bad[i], &m), -EINVAL,
			     "\"%s\" accepted", matcher_bad[i]);
		/* A refused text must leave the previous matcher in place. */
		cr_expect(memcmp(&m, &before, sizeof(m)) == 0, "\"%s\" wrote *out", matcher_bad[i]);
	}
	struct nlb_hc_matcher m;
	cr_expect_eq(nlb_hc_matcher_parse(NULL, &m), -EINVAL);
	cr_expect_eq(nlb_hc_matcher_parse("200", NULL), -EINVAL);
}

struct matcher_probe {
	const char *text;
	int status;
	bool match;
};

static const struct matcher_probe matcher_probe[] = {
	{ "200", 199, false }, { "200", 200, true }, { "200", 201, false },
	{ "200-399", 199, false }, { "200-399", 200, true }, { "200-399", 300, true },
	{ "200-399", 399, true }, { "200-399", 400, false },
	{ "200,204,301", 200, true }, { "200,204,301", 203, false },
	{ "200,204,301", 204, true }, { "200,204,301", 205, false },
	{ "200,204,301", 301, true }, { "200,204,301", 302, false },
	{ "200,300-399", 200, true }, { "200,300-399", 201, false },
	{ "200,300-399", 299, false }, { "200,300-399", 300, true },
	{ "200,300-399", 399, true }, { "200,300-399", 400, false },
	{ "100-599", 99, false }, { "100-599", 100, true }, { "100-599", 599, true },
	{ "100-599", 600, false }, { "100-599", 0, false }, { "100-599", -200, false },
	{ "100-599", INT32_MAX, false }, { "100-599", INT32_MIN, false },
	{ "599", 599, true }, { "100", 100, true },
	{ "200,201,202,203,204,205,206,207,208,209,210,211,212,213,214,215", 215, true },
	{ "200,201,202,203,204,205,206,207,208,209,210,211,212,213,214,215", 216, false },
};

T_UNIT(health_check, matcher_match_edges)
{
	for (size_t i = 0; i < sizeof(matcher_probe) / sizeof(matcher_probe[0]); i++) {
		const struct matcher_probe *c = &matcher_probe[i];
		struct nlb_hc_matcher m;

		cr_assert_eq(nlb_hc_matcher_parse(c->text, &m), 0, "\"%s\"", c->text);
		cr_expect_eq(nlb_hc_matcher_match(&m, c->status), c->match,
			     "\"%s\" vs %d: want %s", c->text, c->status, c->match ? "match" : "no match");
	}
}

T_UNIT(health_check, matcher_empty_matches_nothing)
{
	struct nlb_hc_matcher m = { 0 };

	cr_expect_not(nlb_hc_matcher_match(&m, 200));
}

/* ---- status line ---- */

struct status_case {
	const char *buf;
	size_t len;
	int ret;	/* bytes of the status line, -EAGAIN or -EINVAL */
	int status;	/* when ret > 0 */
};

static const struct status_case status_ok[] = {
	{ S("HTTP/1.1 200 OK\r\n"), 17, 200 },
	{ S("HTTP/1.0 404 Not Found\r\n"), 24, 404 },
	{ S("HTTP/1.1 200\r\n"), 14, 200 },
	{ S("HTTP/1.1 200\n"), 13, 200 },
	{ S("HTTP/1.1 200 OK\n"), 16, 200 },
	{ S("HTTP/1.1 503 \r\n"), 15, 503 },
	{ S("HTTP/1.1 301 Moved\tPermanently\r\n"), 32, 301 },
	{ S("HTTP/1.1 200 \xc3\x87" "a va\r\n"), 21, 200 },	/* obs-text */
	{ S("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 17, 200 },
	{ S("HTTP/1.1 200 OK\nServer: x\n\n"), 16, 200 },
	{ S("HTTP/1.1 000\r\n"), 14, 0 },
	{ S("HTTP/1.1 999 ?\r\n"), 16, 999 },
	{ S("HTTP/1.0 100 Continue\r\n"), 23, 100 },
};

/* Complete or not, what can never become a valid status line. */
static const struct status_case status_bad[] = {
	{ S("HTTP/2 200 OK\r\n"), -EINVAL, 0 },
	{ S("HTTP/2.0 200\r\n"), -EINVAL, 0 },
	{ S("HTTP/1.2 200\r\n"), -EINVAL, 0 },
	{ S("HTTP/1.x 200\r\n"), -EINVAL, 0 },
	{ S("http/1.1 200\r\n"), -EINVAL, 0 },
	{ S("HTTP/1.1  200\r\n"), -EINVAL, 0 },
	{ S("HTTP/1.1\t200\r\n"), -EINVAL, 0 },
	{ S("HTTP/1.1 20\r\n"), -EINVAL, 0 },
	{ S("HTTP/1.1 2\r\n"), -EINVAL, 0 },
	{ S("HTTP/1.1 \r\n"), -EINVAL, 0 },
	{ S("HTTP/1.1\r\n"), -EINVAL, 0 },
	{ S("HTTP/1.1 20X OK\r\n"), -EINVAL, 0 },
	{ S("HTTP/1.1 -20 OK\r\n"), -EINVAL, 0 },
	{ S("HTTP/1.1 2000 OK\r\n"), -EINVAL, 0 },
	{ S("HTTP/1.1 200OK\r\n"), -EINVAL, 0 },
	{ S("HTTP/1.1 200\tOK\r\n"), -EINVAL, 0 },
	{ S("HTTP/1.1 200\rX"), -EINVAL, 0 },
	{ S("HTTP/1.1 200 OK\rX\n"), -EINVAL, 0 },
	{ S("HTTP/1.1 200 OK\r\r\n"), -EINVAL, 0 },
	{ S("HTTP/1.1 200 O\x01K\r\n"), -EINVAL, 0 },
	{ S("HTTP/1.1 200 OK\0\r\n"), -EINVAL, 0 },
	{ S("HTTP/1.1 200 OK\x7f\r\n"), -EINVAL, 0 },
	{ S(" HTTP/1.1 200 OK\r\n"), -EINVAL, 0 },
	{ S("\r\nHTTP/1.1 200 OK\r\n"), -EINVAL, 0 },
	{ S("\n"), -EINVAL, 0 },
	{ S("SSH-2.0-OpenSSH_9.2\r\n"), -EINVAL, 0 },
	{ S("\x16\x03\x01\x00\x05"), -EINVAL, 0 },	/* a TLS record */
	{ S("\x15\x03\x03\x00\x02\x02\x28"), -EINVAL, 0 },	/* a TLS alert */
	{ S("<html>"), -EINVAL, 0 },
	{ S("GET / HTTP/1.1\r\n"), -EINVAL, 0 },
};

static const struct status_case status_partial[] = {
	{ S(""), -EAGAIN, 0 },
	{ S("H"), -EAGAIN, 0 },
	{ S("HTTP/"), -EAGAIN, 0 },
	{ S("HTTP/1.1"), -EAGAIN, 0 },
	{ S("HTTP/1.1 "), -EAGAIN, 0 },
	{ S("HTTP/1.1 20"), -EAGAIN, 0 },
	{ S("HTTP/1.1 200"), -EAGAIN, 0 },
	{ S("HTTP/1.1 200 OK"), -EAGAIN, 0 },
	{ S("HTTP/1.1 200\r"), -EAGAIN, 0 },
	{ S("HTTP/1.1 200 OK\r"), -EAGAIN, 0 },
};

/* Runs the parser on an exact-size heap copy so that ASan catches any
 * read past len. */
static int status_of(const char *buf, size_t len, int *status)
{
	char *copy = malloc(len ? len : 1);
	int ret;

	cr_assert_not_null(copy);
	memcpy(copy, buf, len);
	ret = nlb_hc_http_status(copy, len, status);
	free(copy);
	return ret;
}

static void check_status_table(const struct status_case *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int status = -12345;
		int ret = status_of(t[i].buf, t[i].len, &status);

		cr_expect_eq(ret, t[i].ret, "case %zu (\"%.*s\"): got %d, want %d", i,
			     (int)t[i].len, t[i].buf, ret, t[i].ret);
		if (t[i].ret > 0)
			cr_expect_eq(status, t[i].status, "case %zu: status %d, want %d", i,
				     status, t[i].status);
		else
			cr_expect_eq(status, -12345, "case %zu: *status written on failure", i);
	}
}

T_UNIT(health_check, status_complete)
{
	check_status_table(status_ok, sizeof(status_ok) / sizeof(status_ok[0]));
}

T_UNIT(health_check, status_garbage)
{
	check_status_table(status_bad, sizeof(status_bad) / sizeof(status_bad[0]));
}

T_UNIT(health_check, status_incomplete)
{
	check_status_table(status_partial, sizeof(status_partial) / sizeof(status_partial[0]));
}

/* Every prefix of a valid response: -EAGAIN while the line is short of
 * its terminator, then the same answer however many more bytes came. */
T_UNIT(health_check, status_every_split)
{
	for (size_t i = 0; i < sizeof(status_ok) / sizeof(status_ok[0]); i++) {
		const struct status_case *c = &status_ok[i];

		for (size_t k = 0; k <= c->len; k++) {
			int status = -1;
			int ret = status_of(c->buf, k, &status);

			if (k < (size_t)c->ret) {
				cr_expect_eq(ret, -EAGAIN, "case %zu, %zu of %zu bytes: got %d", i, k,
					     c->len, ret);
			} else {
				cr_expect_eq(ret, c->ret, "case %zu, %zu bytes: got %d", i, k, ret);
				cr_expect_eq(status, c->status, "case %zu, %zu bytes", i, k);
			}
		}
	}
}

/* Every prefix of garbage: -EAGAIN at first perhaps, but once -EINVAL
 * always -EINVAL, and -EINVAL for the whole. */
T_UNIT(health_check, status_garbage_every_split)
{
	for (size_t i = 0; i < sizeof(status_bad) / sizeof(status_bad[0]); i++) {
		const struct status_case *c = &status_bad[i];
		bool refused = false;

		for (size_t k = 0; k <= c->len; k++) {
			int status = -1;
			int ret = status_of(c->buf, k, &status);

			cr_expect(ret == -EAGAIN || ret == -EINVAL, "case %zu, %zu bytes: got %d", i,
				  k, ret);
			if (refused)
				cr_expect_eq(ret, -EINVAL, "case %zu, %zu bytes: refused, then not", i, k);
			refused = refused || ret == -EINVAL;
		}
		cr_expect(refused, "case %zu never refused", i);
	}
}

/* "HTTP/2 200" fails at its sixth byte, not after a timeout. */
T_UNIT(health_check, status_fails_early)
{
	int status;

	cr_expect_eq(status_of(S("HTTP/2"), &status), -EINVAL);
	cr_expect_eq(status_of(S("HTTP/"), &status), -EAGAIN);
	cr_expect_eq(status_of(S("X"), &status), -EINVAL);
	cr_expect_eq(status_of(S("HTTP/1.1 2x"), &status), -EINVAL);
}

/* A line of total bytes: "HTTP/1.1 200 " then 'a's up to the end. */
static char *long_line(size_t total, const char *end)
{
	size_t elen = strlen(end);
	char *b = malloc(total);

	cr_assert_not_null(b);
	cr_assert(total >= 13 + elen);
	memcpy(b, "HTTP/1.1 200 ", 13);
	memset(b + 13, 'a', total - 13 - elen);
	memcpy(b + total - elen, end, elen);
	return b;
}

T_UNIT(health_check, status_length_limit)
{
	const size_t max = NLB_HC_STATUS_LINE_MAX;
	int status;
	char *b;

	/* Exactly at the limit, either terminator. */
	b = long_line(max, "\n");
	cr_expect_eq(nlb_hc_http_status(b, max, &status), (int)max);
	cr_expect_eq(status, 200);
	free(b);
	b = long_line(max, "\r\n");
	cr_expect_eq(nlb_hc_http_status(b, max, &status), (int)max);
	free(b);

	/* One over: LF at index max, or CR at max - 1. */
	b = long_line(max + 1, "\n");
	cr_expect_eq(nlb_hc_http_status(b, max + 1, &status), -EINVAL);
	cr_expect_eq(nlb_hc_http_status(b, max, &status), -EINVAL);
	cr_expect_eq(nlb_hc_http_status(b, max - 1, &status), -EAGAIN);
	free(b);
	b = long_line(max + 1, "\r\n");
	cr_expect_eq(nlb_hc_http_status(b, max + 1, &status), -EINVAL);
	/* The CR is the limit's last byte: no LF can follow in time. */
	cr_expect_eq(nlb_hc_http_status(b, max, &status), -EINVAL);
	free(b);

	/* No terminator at all, well past the limit. */
	b = long_line(4 * max, "a");
	cr_expect_eq(nlb_hc_http_status(b, 4 * max, &status), -EINVAL);
	cr_expect_eq(nlb_hc_http_status(b, max, &status), -EINVAL);
	cr_expect_eq(nlb_hc_http_status(b, max - 1, &status), -EAGAIN);
	free(b);
}

/* ---- verdict ---- */

struct verdict_case {
	const char *buf;
	size_t got, room;
	int ret;
	bool pass;
	const char *why;
};

T_UNIT(health_check, verdict)
{
	static const char not_http[] = "not an HTTP/1.x status line";
	static const struct verdict_case cases[] = {
		{ S("HTTP/1.1 200 OK\r\n"), 64, 0, true, "HTTP 200" },
		{ S("HTTP/1.1 204\n"), 64, 0, true, "HTTP 204" },
		{ S("HTTP/1.0 302 Found\r\nLocation: /\r\n"), 64, 0, false, "HTTP 302" },
		{ S("HTTP/1.1 999 Odd\r\n"), 64, 0, false, "HTTP 999" },
		/* more may come: wait */
		{ S("HTTP/1.1 200 O"), 64, -EAGAIN, false, NULL },
		{ S(""), 64, -EAGAIN, false, NULL },
		/* ... unless the buffer is full */
		{ S("HTTP/1.1 200 O"), 14, 0, false, not_http },
		{ S("HTTP/1.1 200 OK\r\n"), 17, 0, true, "HTTP 200" },
		{ S("HTTP/2 200\r\n"), 64, 0, false, not_http },
		{ S("SSH-2.0-OpenSSH_9.2\r\n"), 64, 0, false, not_http },
		{ S("\x15\x03\x03\x00\x02\x02\x28"), 64, 0, false, not_http },
		{ S("HTTP/1.1 200 O\rK\r\n"), 64, 0, false, not_http },
	};
	struct nlb_hc_matcher m;
	cr_assert_eq(nlb_hc_matcher_parse("200-299", &m), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct verdict_case *c = &cases[i];
		bool pass = !c->pass;
		char why[48] = "untouched";
		int r = nlb_hc_http_verdict(c->buf, c->got, c->room, &m, &pass, why, sizeof(why));
		cr_expect_eq(r, c->ret, "case %zu: %d", i, r);
		if (r == 0) {
			cr_expect_eq(pass, c->pass, "case %zu", i);
			cr_expect_str_eq(why, c->why, "case %zu", i);
		} else {
			cr_expect_str_eq(why, "untouched", "case %zu", i);
		}
	}
}

/* ---- request ---- */

T_UNIT(health_check, request_exact)
{
	static const char want[] = "GET /health HTTP/1.1\r\n"
				   "Host: 10.0.0.1:8080\r\n"
				   "Connection: close\r\n"
				   "User-Agent: nlb-health-check\r\n"
				   "\r\n";
	char buf[256];

	cr_assert_eq(nlb_hc_http_request(buf, sizeof(buf), "/health", "10.0.0.1:8080"),
		     (int)strlen(want));
	cr_expect_str_eq(buf, want);

	cr_assert_gt(nlb_hc_http_request(buf, sizeof(buf), "/", "[::1]:80"), 0);
	cr_expect_str_eq(buf, "GET / HTTP/1.1\r\nHost: [::1]:80\r\nConnection: close\r\n"
			      "User-Agent: nlb-health-check\r\n\r\n");

	cr_assert_gt(nlb_hc_http_request(buf, sizeof(buf), "/a/b?c=d&e=%20", "example.com"), 0);
	cr_expect_str_eq(buf, "GET /a/b?c=d&e=%20 HTTP/1.1\r\nHost: example.com\r\n"
			      "Connection: close\r\nUser-Agent: nlb-health-check\r\n\r\n");
}

T_UNIT(health_check, request_nospc)
{
	const int n = (int)strlen("GET /health HTTP/1.1\r\nHost: h\r\nConnection: close\r\n"
				  "User-Agent: nlb-health-check\r\n\r\n");
	char buf[256];

	/* Exactly fits with its NUL; one byte less does not. */
	cr_expect_eq(nlb_hc_http_request(buf, (size_t)n + 1, "/health", "h"), n);
	cr_expect_eq(buf[n], '\0');
	cr_expect_eq(nlb_hc_http_request(buf, (size_t)n, "/health", "h"), -ENOSPC);
	cr_expect_eq(nlb_hc_http_request(buf, 1, "/health", "h"), -ENOSPC);
	cr_expect_eq(nlb_hc_http_request(NULL, 0, "/health", "h"), -ENOSPC);

	/* Every size below the need, on an exact heap buffer for ASan. */
	for (int len = 1; len <= n; len++) {
		char *b = malloc((size_t)len);

		cr_assert_not_null(b);
		cr_expect_eq(nlb_hc_http_request(b, (size_t)len, "/health", "h"), -ENOSPC,
			     "len %d", len);
		free(b);
	}
}

T_UNIT(health_check, request_bad_input)
{
	static const char *const bad_path[] = {
		"", "health", "*", "http://h/", " /", "/a b", "/a\tb", "/a\r\nX-Injected: 1",
		"/a\n", "/a\r", "/\x01", "/\x7f", "/\x1b[0m",
	};
	static const char *const bad_host[] = {
		"", "a b", "h\r\nX-Injected: 1", "h\n", "h\t", "h\x7f", " h",
	};
	char buf[256];

	for (size_t i = 0; i < sizeof(bad_path) / sizeof(bad_path[0]); i++)
		cr_expect_eq(nlb_hc_http_request(buf, sizeof(buf), bad_path[i], "h"), -EINVAL,
			     "path \"%s\" accepted", bad_path[i]);
	for (size_t i = 0; i < sizeof(bad_host) / sizeof(bad_host[0]); i++)
		cr_expect_eq(nlb_hc_http_request(buf, sizeof(buf), "/", bad_host[i]), -EINVAL,
			     "host \"%s\" accepted", bad_host[i]);
	cr_expect_eq(nlb_hc_http_request(buf, sizeof(buf), NULL, "h"), -EINVAL);
	cr_expect_eq(nlb_hc_http_request(buf, sizeof(buf), "/", NULL), -EINVAL);
	/* A bad path is reported as such, whatever the room. */
	cr_expect_eq(nlb_hc_http_request(buf, 1, "nope", "h"), -EINVAL);
}

/* ---- path ---- */

/* A path of len bytes: "/" then letters; a static buffer per call site
 * is the caller's (len < cap). */
static char *long_path(char *buf, size_t cap, size_t len)
{
	cr_assert_lt(len, cap);
	buf[0] = '/';
	for (size_t i = 1; i < len; i++)
		buf[i] = (char)('a' + i % 26);
	buf[len] = '\0';
	return buf;
}

T_UNIT(health_check, path_limits)
{
	static char path[NLB_HC_PATH_MAX + 2];
	size_t bad = 99;

	cr_expect_eq(NLB_HC_PATH_MAX, 1024, "the AWS limit");
	cr_expect_eq(nlb_hc_path_check("/", NULL), 0);
	cr_expect_eq(nlb_hc_path_check("/health?x=1&y=%20#f", NULL), 0);
	cr_expect_eq(nlb_hc_path_check(long_path(path, sizeof(path), NLB_HC_PATH_MAX), &bad), 0);
	cr_expect_eq(bad, 99, "*bad written on success");
	cr_expect_eq(nlb_hc_path_check(long_path(path, sizeof(path), NLB_HC_PATH_MAX + 1), NULL),
		     -ENAMETOOLONG);
	cr_expect_eq(nlb_hc_path_check(NULL, NULL), -EINVAL);
	cr_expect_eq(nlb_hc_path_check("", NULL), -EINVAL);
	cr_expect_eq(nlb_hc_path_check("health", NULL), -EINVAL);
	cr_expect_eq(nlb_hc_path_check("*", NULL), -EINVAL);
	/* A bad byte in an over-long path is what gets reported. */
	long_path(path, sizeof(path), NLB_HC_PATH_MAX + 1);
	path[5] = ' ';
	cr_expect_eq(nlb_hc_path_check(path, &bad), -EILSEQ);
	cr_expect_eq(bad, 5);
}

/* Every byte value after "/a": visible ASCII passes, anything else is
 * refused at its offset; the edges named for the reader. */
T_UNIT(health_check, path_bytes)
{
	for (unsigned c = 1; c <= 0xff; c++) {
		char path[] = "/aXb";
		size_t bad = 0;

		path[2] = (char)c;
		bool ok = c >= 0x21 && c <= 0x7e;
		int r = nlb_hc_path_check(path, &bad);
		cr_expect_eq(r, ok ? 0 : -EILSEQ, "byte 0x%02x: %d", c, r);
		if (!ok)
			cr_expect_eq(bad, 2, "byte 0x%02x at offset %zu", c, bad);
	}
	cr_expect_eq(nlb_hc_path_check("/\x1f", NULL), -EILSEQ);	/* last control byte */
	cr_expect_eq(nlb_hc_path_check("/ ", NULL), -EILSEQ);		/* space, 0x20 */
	cr_expect_eq(nlb_hc_path_check("/!", NULL), 0);			/* first allowed, 0x21 */
	cr_expect_eq(nlb_hc_path_check("/~", NULL), 0);			/* last allowed, 0x7e */
	cr_expect_eq(nlb_hc_path_check("/\x7f", NULL), -EILSEQ);	/* DEL */
	cr_expect_eq(nlb_hc_path_check("/\x80", NULL), -EILSEQ);	/* first non-ASCII */
	cr_expect_eq(nlb_hc_path_check("/caf\xc3\xa9", NULL), -EILSEQ);	/* UTF-8 */
}

/* The request takes what the check takes, and NLB_HC_REQUEST_ROOM is
 * exact: the longest path with an IPv6 Host fills it to the NUL. */
T_UNIT(health_check, request_longest_path)
{
	static char path[NLB_HC_PATH_MAX + 2];
	static const char host[] = "[fe80::1234:5678:9abc:def0%enp0s31f6]:65535";
	size_t room = NLB_HC_REQUEST_ROOM(sizeof(host) - 1);
	char *buf = malloc(room);

	cr_assert_not_null(buf);
	long_path(path, sizeof(path), NLB_HC_PATH_MAX);
	cr_expect_eq(nlb_hc_http_request(buf, room, path, host), (int)room - 1);
	cr_expect_eq(strncmp(buf + 4, path, NLB_HC_PATH_MAX), 0, "the whole path is sent");
	cr_expect_eq(nlb_hc_http_request(buf, room - 1, path, host), -ENOSPC);
	long_path(path, sizeof(path), NLB_HC_PATH_MAX + 1);
	cr_expect_eq(nlb_hc_http_request(buf, room + 1, path, host), -EINVAL,
		     "a path the loader refuses is refused here too");
	cr_expect_eq(nlb_hc_http_request(buf, room, "/\x80", host), -EINVAL);
	free(buf);
}

/* ---- state machine ---- */

struct hc_script {
	const char *name;
	uint32_t healthy, unhealthy;	/* thresholds */
	const char *events;		/* P pass, F fail */
	const char *states;		/* after each event: I, H, U */
};

static const struct hc_script hc_scripts[] = {
	{ "initial + pass -> healthy", 3, 3, "P", "H" },
	{ "initial, pass even with a high healthy threshold", 10, 3, "P", "H" },
	{ "initial fails to unhealthy", 3, 3, "FFF", "IIU" },
	{ "initial fails, then a pass", 3, 3, "FFP", "IIH" },
	{ "initial, unhealthy threshold 1", 3, 1, "F", "U" },
	{ "healthy, u-1 fails stay, one more -> unhealthy", 3, 3, "PFFF", "HHHU" },
	{ "healthy, a pass resets the fails", 3, 3, "PFFPFFF", "HHHHHHU" },
	{ "healthy stays healthy on passes", 3, 3, "PPPPP", "HHHHH" },
	{ "unhealthy, h-1 passes stay, one more -> healthy", 3, 2, "FFPPP", "IUUUH" },
	{ "unhealthy, an interleaved fail resets the passes", 3, 2, "FFPPFPPP", "IUUUUUUH" },
	{ "unhealthy stays unhealthy on fails", 3, 2, "FFFFF", "IUUUU" },
	{ "round trip", 2, 2, "PFFPPFPFF", "HHUUHHHHU" },
	{ "thresholds 1", 1, 1, "FPFPPFF", "UHUHHUU" },
	{ "thresholds 0 count as 1", 0, 0, "FPFP", "UHUH" },
	{ "thresholds 10", 10, 10, "PFFFFFFFFFPFFFFFFFFFF",
	  "HHHHHHHHHHHHHHHHHHHHU" },
	{ "unhealthy, 9 passes then 10", 10, 2, "FFPPPPPPPPPFPPPPPPPPPP",
	  "IUUUUUUUUUUUUUUUUUUUUH" },
};

static enum nlb_hc_state state_of(char c)
{
	return c == 'H' ? NLB_HC_HEALTHY : c == 'U' ? NLB_HC_UNHEALTHY : NLB_HC_INITIAL;
}

T_UNIT(health_check, state_scripts)
{
	for (size_t i = 0; i < sizeof(hc_scripts) / sizeof(hc_scripts[0]); i++) {
		const struct hc_script *s = &hc_scripts[i];
		struct nlb_hc_target t = { 0 };
		uint32_t streak = 0;

		cr_assert_eq(strlen(s->events), strlen(s->states), "%s: bad script", s->name);
		for (size_t k = 0; s->events[k] != '\0'; k++) {
			bool pass = s->events[k] == 'P';
			enum nlb_hc_state got = nlb_hc_observe(&t, pass, s->healthy, s->unhealthy);

			streak = k > 0 && s->events[k - 1] == s->events[k] ? streak + 1 : 1;
			cr_expect_eq(got, state_of(s->states[k]), "%s: after event %zu got %s", s->name,
				     k + 1, nlb_hc_state_name(got));
			cr_expect_eq(t.state, got, "%s: return and t->state differ", s->name);
			cr_expect_eq(t.passes, pass ? streak : 0, "%s: event %zu passes %u", s->name,
				     k + 1, t.passes);
			cr_expect_eq(t.fails, pass ? 0 : streak, "%s: event %zu fails %u", s->name,
				     k + 1, t.fails);
		}
	}
}

/* Every sequence of up to 10 results for thresholds 1..4, against the
 * rules stated from the history alone: leave INITIAL on the first pass or
 * the u-th fail in a row, HEALTHY on the u-th fail in a row since it was
 * entered, UNHEALTHY on the h-th pass in a row; otherwise stay. */
T_UNIT(health_check, state_exhaustive)
{
	for (uint32_t h = 1; h <= 4; h++)
	for (uint32_t u = 1; u <= 4; u++)
	for (unsigned len = 1; len <= 10; len++)
	for (unsigned bits = 0; bits < (1u << len); bits++) {
		struct nlb_hc_target t = { 0 };
		enum nlb_hc_state model = NLB_HC_INITIAL;
		uint32_t run_p = 0, run_f = 0;

		for (unsigned k = 0; k < len; k++) {
			bool pass = (bits >> k) & 1;

			run_p = pass ? run_p + 1 : 0;
			run_f = pass ? 0 : run_f + 1;
			if (model == NLB_HC_INITIAL)
				model = pass ? NLB_HC_HEALTHY : run_f == u ? NLB_HC_UNHEALTHY : model;
			else if (model == NLB_HC_HEALTHY && run_f == u)
				model = NLB_HC_UNHEALTHY;
			else if (model == NLB_HC_UNHEALTHY && run_p == h)
				model = NLB_HC_HEALTHY;
			cr_assert_eq(nlb_hc_observe(&t, pass, h, u), model,
				     "h %u u %u seq %#x/%u step %u", h, u, bits, len, k);
		}
	}
}

T_UNIT(health_check, state_lowered_threshold)
{
	/* Unhealthy with 2 passes towards 5; a reload to 3 lets the next
	 * pass through rather than waiting for a streak of exactly 3. */
	struct nlb_hc_target t = { NLB_HC_UNHEALTHY, 0, 0 };

	cr_expect_eq(nlb_hc_observe(&t, true, 5, 2), NLB_HC_UNHEALTHY);
	cr_expect_eq(nlb_hc_observe(&t, true, 5, 2), NLB_HC_UNHEALTHY);
	cr_expect_eq(nlb_hc_observe(&t, true, 2, 2), NLB_HC_HEALTHY);

	struct nlb_hc_target t2 = { NLB_HC_HEALTHY, 0, 0 };
	cr_expect_eq(nlb_hc_observe(&t2, false, 2, 5), NLB_HC_HEALTHY);
	cr_expect_eq(nlb_hc_observe(&t2, false, 2, 5), NLB_HC_HEALTHY);
	cr_expect_eq(nlb_hc_observe(&t2, false, 2, 1), NLB_HC_UNHEALTHY);
}

T_UNIT(health_check, state_counters_saturate)
{
	struct nlb_hc_target t = { NLB_HC_HEALTHY, UINT32_MAX, 0 };

	cr_expect_eq(nlb_hc_observe(&t, true, 3, 3), NLB_HC_HEALTHY);
	cr_expect_eq(t.passes, UINT32_MAX);
	cr_expect_eq(nlb_hc_observe(&t, false, 3, 3), NLB_HC_HEALTHY);
	cr_expect_eq(t.passes, 0);
	cr_expect_eq(t.fails, 1);

	struct nlb_hc_target t2 = { NLB_HC_UNHEALTHY, 0, UINT32_MAX };
	cr_expect_eq(nlb_hc_observe(&t2, false, 3, 3), NLB_HC_UNHEALTHY);
	cr_expect_eq(t2.fails, UINT32_MAX);
}

T_UNIT(health_check, state_out_of_range_is_initial)
{
	struct nlb_hc_target t = { (enum nlb_hc_state)42, 0, 0 };

	cr_expect_eq(nlb_hc_observe(&t, false, 3, 3), NLB_HC_INITIAL);
	t.state = (enum nlb_hc_state)42;
	cr_expect_eq(nlb_hc_observe(&t, true, 3, 3), NLB_HC_HEALTHY);
}

T_UNIT(health_check, state_names)
{
	cr_expect_str_eq(nlb_hc_state_name(NLB_HC_INITIAL), "initial");
	cr_expect_str_eq(nlb_hc_state_name(NLB_HC_HEALTHY), "healthy");
	cr_expect_str_eq(nlb_hc_state_name(NLB_HC_UNHEALTHY), "unhealthy");
	cr_expect_str_eq(nlb_hc_state_name((enum nlb_hc_state)42), "unknown");
	cr_expect_eq(NLB_HC_INITIAL, 0);
}
