/* Suite "http_rules": lib/http_rules.c, evaluated on rule sets loaded
 * from configuration text (nlb_config_parse) and on requests parsed by
 * lib/http1_head.c with their paths normalised by lib/http_path.c, as a
 * worker does.  Each condition (host: exact, wildcard, without case,
 * without port; path; method; header: name without case, values with
 * wildcards; query: key and value, a pair without key; source: IPv4 and
 * IPv6 CIDRs), the AND of a rule's conditions, the lowest priority first
 * whatever the file's order, -1 when none holds; the weighted pick's
 * shares, a weight 0 never picked, the stickiness cookie honoured only
 * for a group with weight; the cookie's value pinned; the counters; the
 * canonical text; finish's duplicate check. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "config.h"
#include "helpers.h"
#include "http1_head.h"
#include "http_path.h"
#include "http_rules.h"

/* ---- helpers ------------------------------------------------------------ */

/* The listener of the example around the given rules. */
static struct nlb_config *load(const char *rules)
{
	char text[8192], err[512];
	int n = snprintf(text, sizeof(text),
			 "listeners = ( { name = \"www\"; protocol = \"http\"; "
			 "address = \"127.0.0.1:80\";\n"
			 "  rules = (\n%s\n  );\n"
			 "  default_action = { forward = \"web\"; }; } );\n"
			 "target_groups = ( { name = \"api\"; }, { name = \"web\"; }, "
			 "{ name = \"web-new\"; } );\n", rules);
	cr_assert(n > 0 && (size_t)n < sizeof(text));
	struct nlb_config *cfg = NULL;
	int r = nlb_config_parse("r.conf", text, (size_t)n, &cfg, err, sizeof(err));
	cr_assert_eq(r, 0, "%s", err);
	cr_assert_not_null(cfg->listeners[0].http.rules);
	return cfg;
}

static struct nlb_http_rules *rules_of(struct nlb_config *cfg)
{
	return cfg->listeners[0].http.rules;
}

/* A request as a worker sees it. */
struct req {
	char buf[2048];
	char path[2048 + 3];
	struct nlb_http1_head head;
	struct nlb_addr src;
	struct nlb_http_request_view v;
};

/* Parses "METHOD target HTTP/1.x", the Host (NULL: none, and HTTP/1.0),
 * the fields in extra ("Name: value\r\n" each) and the client src
 * ("1.2.3.4:5", "[::1]:5"). */
static struct req *req_new(const char *method, const char *target, const char *host,
			   const char *extra, const char *src)
{
	struct req *q = calloc(1, sizeof(*q));
	cr_assert_not_null(q);
	int n;
	if (host)
		n = snprintf(q->buf, sizeof(q->buf), "%s %s HTTP/1.1\r\nHost: %s\r\n%s\r\n",
			     method, target, host, extra ? extra : "");
	else
		n = snprintf(q->buf, sizeof(q->buf), "%s %s HTTP/1.0\r\n%s\r\n", method, target,
			     extra ? extra : "");
	cr_assert(n > 0 && (size_t)n < sizeof(q->buf));
	nlb_http1_head_init(&q->head, NLB_HTTP1_REQUEST, 0, sizeof(q->buf));
	int r = nlb_http1_head_parse(&q->head, q->buf, (size_t)n);
	cr_assert_eq(r, n, "parse of %s %s: %d", method, target, r);
	const struct nlb_http1_head *h = &q->head;
	const char *t = q->buf + h->target.at;
	int plen = nlb_http_path_normalise(t, h->target.len, q->path, sizeof(q->path));
	cr_assert_geq(plen, 0, "%s: %d", target, plen);
	cr_assert_eq(nlb_addr_parse(src ? src : "192.0.2.1:40000", 0, &q->src), 0);
	q->v = (struct nlb_http_request_view){
		.method = q->buf + h->method_text.at,
		.method_len = h->method_text.len,
		.path = q->path,
		.path_len = (size_t)plen,
		.head = h,
		.buf = q->buf,
		.src = (const struct sockaddr *)&q->src.ss,
	};
	if (h->flags & NLB_HTTP1_F_HOST) {
		q->v.host = q->buf + h->host.at;
		q->v.host_len = nlb_http_host_name_len(q->v.host, h->host.len);
	}
	q->v.query = nlb_http_target_query(t, h->target.len, &q->v.query_len);
	return q;
}

/* The priority of the rule the request matches, 0 for none. */
static unsigned match_full(const struct nlb_http_rules *r, const char *method, const char *target,
			   const char *host, const char *extra, const char *src)
{
	struct req *q = req_new(method, target, host, extra, src);
	int i = nlb_http_rules_match(r, &q->v);
	free(q);
	cr_assert(i >= -1 && i < (int)r->n, "%d", i);
	return i < 0 ? 0 : r->rule[i].priority;
}

static unsigned match(const struct nlb_http_rules *r, const char *target, const char *host)
{
	return match_full(r, "GET", target, host, NULL, NULL);
}

/* ---- conditions --------------------------------------------------------- */

T_UNIT(http_rules, host)
{
	struct nlb_config *cfg = load(
		"{ priority = 1; host = ( \"api.example.com\", \"API2.example.com\" ); forward = \"api\"; },\n"
		"{ priority = 2; host = \"*.example.org\"; forward = \"api\"; },\n"
		"{ priority = 3; host = \"v?.example.net\"; forward = \"api\"; }\n");
	const struct nlb_http_rules *r = rules_of(cfg);
	cr_expect_eq(match(r, "/", "api.example.com"), 1);
	cr_expect_eq(match(r, "/", "API.Example.COM"), 1, "without case");
	cr_expect_eq(match(r, "/", "api2.example.com"), 1, "the second value");
	cr_expect_eq(match(r, "/", "api.example.com:8080"), 1, "without the port");
	cr_expect_eq(match(r, "/", "api.example.com."), 0);
	cr_expect_eq(match(r, "/", "xapi.example.com"), 0);
	cr_expect_eq(match(r, "/", "a.b.example.org"), 2);
	cr_expect_eq(match(r, "/", "A.EXAMPLE.ORG:443"), 2);
	cr_expect_eq(match(r, "/", "example.org"), 0, "the star's '.' is required");
	cr_expect_eq(match(r, "/", "v1.example.net"), 3);
	cr_expect_eq(match(r, "/", "v12.example.net"), 0);
	cr_expect_eq(match(r, "/", NULL), 0, "no Host, no host condition holds");
	nlb_config_free(cfg);
}

T_UNIT(http_rules, host_name_len)
{
	static const struct {
		const char *host;
		size_t want;
	} c[] = {
		{ "example.com", 11 }, { "example.com:80", 11 }, { "example.com:", 11 },
		{ "[::1]:8080", 5 }, { "[::1]", 5 }, { "[2001:db8::1]", 13 }, { "[::1", 4 },
		{ "", 0 }, { ":80", 0 }, { "1.2.3.4:5", 7 },
		{ "a:b:80", 3 },	/* the port follows the last ':' */
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		cr_expect_eq(nlb_http_host_name_len(c[i].host, strlen(c[i].host)), c[i].want,
			     "\"%s\"", c[i].host);
}

T_UNIT(http_rules, path)
{
	struct nlb_config *cfg = load(
		"{ priority = 1; path = ( \"/v1/*\", \"/exact\" ); forward = \"api\"; },\n"
		"{ priority = 2; path = \"*.png\"; forward = \"api\"; },\n"
		"{ priority = 3; path = \"/a?c\"; forward = \"api\"; }\n");
	const struct nlb_http_rules *r = rules_of(cfg);
	cr_expect_eq(match(r, "/v1/users", "h"), 1);
	cr_expect_eq(match(r, "/v1/", "h"), 1);
	cr_expect_eq(match(r, "/v1", "h"), 0);
	cr_expect_eq(match(r, "/exact", "h"), 1);
	cr_expect_eq(match(r, "/exact/", "h"), 0);
	cr_expect_eq(match(r, "/V1/users", "h"), 0, "paths keep their case");
	cr_expect_eq(match(r, "/x/../v1/y", "h"), 1, "normalised first");
	cr_expect_eq(match(r, "//v1//y", "h"), 1);
	cr_expect_eq(match(r, "/%76%31/y", "h"), 1, "%76%31 is v1");
	cr_expect_eq(match(r, "/v1/../admin", "h"), 0, "not stepped around");
	cr_expect_eq(match(r, "/v1/x?q=/exact", "h"), 1);
	cr_expect_eq(match(r, "/exact?x", "h"), 1, "the query is no part of the path");
	cr_expect_eq(match(r, "http://h/v1/z", "h"), 1, "absolute-form");
	cr_expect_eq(match(r, "/img/a.png", "h"), 2);
	cr_expect_eq(match(r, "/img/a.PNG", "h"), 0);
	cr_expect_eq(match(r, "/abc", "h"), 3, "'?' in a path pattern is one byte");
	cr_expect_eq(match(r, "/a/c", "h"), 3);
	cr_expect_eq(match(r, "/ac", "h"), 0);
	nlb_config_free(cfg);
}

T_UNIT(http_rules, method)
{
	struct nlb_config *cfg = load(
		"{ priority = 1; method = ( \"POST\", \"PUT\" ); forward = \"api\"; },\n"
		"{ priority = 2; method = \"PURGE\"; forward = \"api\"; }\n");
	const struct nlb_http_rules *r = rules_of(cfg);
	cr_expect_eq(match_full(r, "POST", "/", "h", NULL, NULL), 1);
	cr_expect_eq(match_full(r, "PUT", "/", "h", NULL, NULL), 1);
	cr_expect_eq(match_full(r, "GET", "/", "h", NULL, NULL), 0);
	cr_expect_eq(match_full(r, "POSTX", "/", "h", NULL, NULL), 0);
	cr_expect_eq(match_full(r, "PU", "/", "h", NULL, NULL), 0);
	cr_expect_eq(match_full(r, "post", "/", "h", NULL, NULL), 0, "methods keep their case");
	cr_expect_eq(match_full(r, "PURGE", "/", "h", NULL, NULL), 2,
		     "a method nlb has no name for");
	nlb_config_free(cfg);
}

T_UNIT(http_rules, header)
{
	struct nlb_config *cfg = load(
		"{ priority = 1; header = { name = \"X-Canary\"; values = ( \"on\", \"b*\" ); };\n"
		"  forward = \"api\"; },\n"
		"{ priority = 2; header = ( { name = \"a\"; values = \"1\"; },\n"
		"                           { name = \"b\"; values = \"?\"; } ); forward = \"api\"; }\n");
	const struct nlb_http_rules *r = rules_of(cfg);
	cr_expect_eq(match_full(r, "GET", "/", "h", "x-canary: on\r\n", NULL), 1);
	cr_expect_eq(match_full(r, "GET", "/", "h", "X-CANARY: ON\r\n", NULL), 1,
		     "names and values without case");
	cr_expect_eq(match_full(r, "GET", "/", "h", "X-Canary:   beta  \r\n", NULL), 1,
		     "the value without its blanks");
	cr_expect_eq(match_full(r, "GET", "/", "h", "X-Canary: b\r\n", NULL), 1);
	cr_expect_eq(match_full(r, "GET", "/", "h", "X-Canary: off\r\n", NULL), 0);
	cr_expect_eq(match_full(r, "GET", "/", "h", "X-Canary: onx\r\n", NULL), 0);
	cr_expect_eq(match_full(r, "GET", "/", "h", "X-Canary2: on\r\n", NULL), 0);
	cr_expect_eq(match_full(r, "GET", "/", "h", "X-Canar: on\r\n", NULL), 0);
	cr_expect_eq(match_full(r, "GET", "/", "h", NULL, NULL), 0);
	cr_expect_eq(match_full(r, "GET", "/", "h", "X-Canary: off\r\nx-canary: on\r\n", NULL), 1,
		     "any field of that name");
	/* each of a rule's header conditions */
	cr_expect_eq(match_full(r, "GET", "/", "h", "A: 1\r\nB: z\r\n", NULL), 2);
	cr_expect_eq(match_full(r, "GET", "/", "h", "A: 1\r\n", NULL), 0);
	cr_expect_eq(match_full(r, "GET", "/", "h", "B: z\r\n", NULL), 0);
	cr_expect_eq(match_full(r, "GET", "/", "h", "A: 1\r\nB: zz\r\n", NULL), 0);
	/* the Host field is a header like any other */
	nlb_config_free(cfg);
	cfg = load("{ priority = 5; header = { name = \"host\"; values = \"*.test\"; }; "
		   "forward = \"api\"; }\n");
	cr_expect_eq(match(rules_of(cfg), "/", "a.test"), 5);
	cr_expect_eq(match(rules_of(cfg), "/", "a.tes"), 0);
	nlb_config_free(cfg);
}

T_UNIT(http_rules, query)
{
	struct nlb_config *cfg = load(
		"{ priority = 1; query = ( { key = \"ver\"; value = \"2*\"; }, { value = \"debug\"; } );\n"
		"  forward = \"api\"; },\n"
		"{ priority = 2; query = ( { key = \"k?\"; value = \"*\"; } ); forward = \"api\"; }\n");
	const struct nlb_http_rules *r = rules_of(cfg);
	cr_expect_eq(match(r, "/x?ver=2", "h"), 1);
	cr_expect_eq(match(r, "/x?a=1&ver=22&b", "h"), 1, "any pair of the query");
	cr_expect_eq(match(r, "/x?VER=2B", "h"), 1, "keys and values without case");
	cr_expect_eq(match(r, "/x?ver=3", "h"), 0);
	cr_expect_eq(match(r, "/x?ver2=2", "h"), 0);
	cr_expect_eq(match(r, "/x?xver=2", "h"), 0);
	cr_expect_eq(match(r, "/x?a=debug", "h"), 1, "a pair without key: any key");
	cr_expect_eq(match(r, "/x?=debug", "h"), 1);
	cr_expect_eq(match(r, "/x?a=1&zz=DEBUG", "h"), 1);
	cr_expect_eq(match(r, "/x?debug", "h"), 0, "\"debug\" alone is a key, its value empty");
	cr_expect_eq(match(r, "/x?a=debugx", "h"), 0);
	cr_expect_eq(match(r, "/x", "h"), 0);
	cr_expect_eq(match(r, "/x?", "h"), 0);
	cr_expect_eq(match(r, "/x?&&", "h"), 0);
	cr_expect_eq(match(r, "/x?k1=", "h"), 2, "'*' takes the empty value");
	cr_expect_eq(match(r, "/x?k1", "h"), 2, "a key without '='");
	cr_expect_eq(match(r, "/x?k12=1", "h"), 0);
	cr_expect_eq(match(r, "/x?a=1&k2=x=y", "h"), 2, "the value is all after the first '='");
	cr_expect_eq(match(r, "http://h/x?ver=2", "h"), 1, "absolute-form");
	nlb_config_free(cfg);
}

T_UNIT(http_rules, source)
{
	struct nlb_config *cfg = load(
		"{ priority = 1; source = ( \"10.0.0.0/8\", \"2001:db8::/32\" ); forward = \"api\"; },\n"
		"{ priority = 2; source = \"192.0.2.7\"; forward = \"api\"; }\n");
	const struct nlb_http_rules *r = rules_of(cfg);
	cr_expect_eq(match_full(r, "GET", "/", "h", NULL, "10.1.2.3:1"), 1);
	cr_expect_eq(match_full(r, "GET", "/", "h", NULL, "10.255.255.255:65535"), 1);
	cr_expect_eq(match_full(r, "GET", "/", "h", NULL, "11.0.0.0:1"), 0);
	cr_expect_eq(match_full(r, "GET", "/", "h", NULL, "9.255.255.255:1"), 0);
	cr_expect_eq(match_full(r, "GET", "/", "h", NULL, "[2001:db8::1]:1"), 1);
	cr_expect_eq(match_full(r, "GET", "/", "h", NULL, "[2001:db8:ffff::]:1"), 1);
	cr_expect_eq(match_full(r, "GET", "/", "h", NULL, "[2001:db9::]:1"), 0);
	cr_expect_eq(match_full(r, "GET", "/", "h", NULL, "[::ffff:10.0.0.1]:1"), 1,
		     "an IPv4-mapped client is the IPv4 one");
	cr_expect_eq(match_full(r, "GET", "/", "h", NULL, "192.0.2.7:1"), 2, "a bare address: /32");
	cr_expect_eq(match_full(r, "GET", "/", "h", NULL, "192.0.2.8:1"), 0);
	/* no client address: no source condition holds */
	struct req *q = req_new("GET", "/", "h", NULL, "10.0.0.1:1");
	cr_expect_eq(nlb_http_rules_match(r, &q->v), 0);
	q->v.src = NULL;
	cr_expect_eq(nlb_http_rules_match(r, &q->v), -1);
	free(q);
	nlb_config_free(cfg);
}

T_UNIT(http_rules, conditions_and)
{
	struct nlb_config *cfg = load(
		"{ priority = 7; host = \"a.test\"; path = \"/p/*\"; method = \"POST\";\n"
		"  header = { name = \"x\"; values = \"1\"; }; query = ( { key = \"q\"; value = \"1\"; } );\n"
		"  source = \"10.0.0.0/8\"; forward = \"api\"; }\n");
	const struct nlb_http_rules *r = rules_of(cfg);
	cr_expect_eq(r->conds, NLB_RULE_HOST | NLB_RULE_PATH | NLB_RULE_METHOD | NLB_RULE_HEADER |
			       NLB_RULE_QUERY | NLB_RULE_SOURCE);
	cr_expect_eq(match_full(r, "POST", "/p/x?q=1", "a.test", "x: 1\r\n", "10.0.0.1:1"), 7);
	/* each condition failing alone */
	cr_expect_eq(match_full(r, "POST", "/p/x?q=1", "b.test", "x: 1\r\n", "10.0.0.1:1"), 0);
	cr_expect_eq(match_full(r, "POST", "/q/x?q=1", "a.test", "x: 1\r\n", "10.0.0.1:1"), 0);
	cr_expect_eq(match_full(r, "GET", "/p/x?q=1", "a.test", "x: 1\r\n", "10.0.0.1:1"), 0);
	cr_expect_eq(match_full(r, "POST", "/p/x?q=1", "a.test", "x: 2\r\n", "10.0.0.1:1"), 0);
	cr_expect_eq(match_full(r, "POST", "/p/x?q=2", "a.test", "x: 1\r\n", "10.0.0.1:1"), 0);
	cr_expect_eq(match_full(r, "POST", "/p/x?q=1", "a.test", "x: 1\r\n", "11.0.0.1:1"), 0);
	nlb_config_free(cfg);
}

/* ---- order -------------------------------------------------------------- */

T_UNIT(http_rules, lowest_priority_first)
{
	struct nlb_config *cfg = load(
		"{ priority = 300; path = \"/*\"; forward = \"api\"; },\n"
		"{ priority = 10; path = \"/a/*\"; host = \"x.test\"; forward = \"api\"; },\n"
		"{ priority = 50000; method = \"GET\"; forward = \"api\"; },\n"
		"{ priority = 20; path = \"/a/*\"; forward = \"api\"; },\n"
		"{ priority = 1; path = \"/a/b\"; method = \"PUT\"; forward = \"api\"; }\n");
	const struct nlb_http_rules *r = rules_of(cfg);
	cr_assert_eq(r->n, 5);
	static const unsigned order[] = { 1, 10, 20, 300, 50000 };
	for (size_t i = 0; i < r->n; i++)
		cr_expect_eq(r->rule[i].priority, order[i], "rule %zu", i);
	cr_expect_eq(r->rule[0].line, 7, "a rule keeps its line: %d", r->rule[0].line);
	cr_expect_eq(match(r, "/a/b", "x.test"), 10);
	cr_expect_eq(match(r, "/a/b", "y.test"), 20);
	cr_expect_eq(match_full(r, "PUT", "/a/b", "x.test", NULL, NULL), 1);
	cr_expect_eq(match(r, "/b", "x.test"), 300);
	cr_expect_eq(match_full(r, "GET", "http://h", "x.test", NULL, NULL), 300);
	struct req *q = req_new("PUT", "/a/c", "z", NULL, NULL);
	cr_expect_eq(nlb_http_rules_match(r, &q->v), 2, "index into the sorted rules");
	q->v.path = "";
	q->v.path_len = 0;
	cr_expect_eq(nlb_http_rules_match(r, &q->v), -1, "none holds (an OPTIONS * has no path)");
	cr_expect_eq(nlb_http_rules_match(NULL, &q->v), -1, "no rules");
	free(q);
	nlb_config_free(cfg);
}

/* ---- the weighted forward ----------------------------------------------- */

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

T_UNIT(http_rules, pick_follows_weights)
{
	struct nlb_config *cfg = load(
		"{ priority = 1; path = \"/*\";\n"
		"  forward = ( { target_group = \"api\"; weight = 25; },\n"
		"              { target_group = \"web\"; weight = 0; },\n"
		"              { target_group = \"web-new\"; weight = 75; } ); }\n");
	const struct nlb_http_rule *u = &rules_of(cfg)->rule[0];
	cr_assert_eq(u->n_to, 3);
	cr_expect_eq(u->total_weight, 100);
	cr_expect_str_eq(u->to[0].group_name, "api");
	cr_expect_str_eq(cfg->groups[u->to[0].group].name, "api");
	cr_expect_str_eq(cfg->groups[u->to[1].group].name, "web");
	cr_expect_str_eq(cfg->groups[u->to[2].group].name, "web-new");
	cr_expect_eq(u->sticky_s, 0);
	enum { N = 100000 };
	unsigned count[3] = { 0 };
	uint64_t s = 88172645463325252ull;
	for (int i = 0; i < N; i++) {
		int k = nlb_http_rule_pick(u, false, 0, xorshift(&s));
		cr_assert(k >= 0 && k < 3, "%d", k);
		count[k]++;
	}
	cr_expect_eq(count[1], 0, "weight 0 picked %u times", count[1]);
	cr_expect(count[0] > N * 24 / 100 && count[0] < N * 26 / 100, "api: %u of %d", count[0], N);
	cr_expect(count[2] > N * 74 / 100 && count[2] < N * 76 / 100, "web-new: %u of %d", count[2],
		  N);
	/* the draw maps onto the weights in order */
	cr_expect_eq(nlb_http_rule_pick(u, false, 0, 0), 0);
	cr_expect_eq(nlb_http_rule_pick(u, false, 0, 24), 0);
	cr_expect_eq(nlb_http_rule_pick(u, false, 0, 25), 2);
	cr_expect_eq(nlb_http_rule_pick(u, false, 0, 99), 2);
	cr_expect_eq(nlb_http_rule_pick(u, false, 0, 100), 0);
	cr_expect_eq(nlb_http_rule_pick(u, false, 0, UINT64_MAX), 0, "2^64-1 mod 100 is 15");
	nlb_config_free(cfg);
}

T_UNIT(http_rules, pick_sticky)
{
	struct nlb_config *cfg = load(
		"{ priority = 1; path = \"/*\";\n"
		"  forward = ( { target_group = \"api\"; weight = 1; },\n"
		"              { target_group = \"web\"; weight = 0; },\n"
		"              { target_group = \"web-new\"; weight = 999; } );\n"
		"  stickiness = { duration_s = 60; }; }\n");
	const struct nlb_http_rule *u = &rules_of(cfg)->rule[0];
	cr_expect_eq(u->sticky_s, 60);
	uint64_t api = nlb_http_rule_cookie("api"), web = nlb_http_rule_cookie("web");
	cr_expect_eq(u->to[0].cookie, api);
	cr_expect_eq(u->to[1].cookie, web);
	cr_expect_eq(u->to[2].cookie, nlb_http_rule_cookie("web-new"));
	uint64_t s = 1;
	unsigned to_api = 0, to_web = 0;
	for (int i = 0; i < 10000; i++) {
		uint64_t d = xorshift(&s);
		/* a cookie naming a group with weight: that group, whatever the draw */
		cr_assert_eq(nlb_http_rule_pick(u, true, api, d), 0);
		/* naming one with none, or none of them: the draw */
		int w = nlb_http_rule_pick(u, true, web, d);
		cr_assert_eq(w, nlb_http_rule_pick(u, false, 0, d));
		cr_assert_eq(nlb_http_rule_pick(u, true, 12345, d), w);
		/* the value without has_sticky means nothing */
		cr_assert_eq(nlb_http_rule_pick(u, false, api, d), w);
		to_api += w == 0;
		to_web += w == 1;
	}
	cr_expect_eq(to_web, 0);
	cr_expect_lt(to_api, 50, "weight 1 of 1000: %u of 10000", to_api);
	/* every weight 0 (not loadable, but a reload could not make it so
	 * either): -1 even with a cookie */
	struct nlb_http_rule z = { .n_to = 2 };
	z.to[0].cookie = api;
	z.to[1].cookie = web;
	cr_expect_eq(nlb_http_rule_pick(&z, true, api, 5), -1);
	cr_expect_eq(nlb_http_rule_pick(&z, false, 0, 5), -1);
	nlb_config_free(cfg);
}

T_UNIT(http_rules, cookie_is_stable)
{
	/* FNV-1a 64 of the name: pinned, since clients hold the values
	 * across reloads and upgrades, and hosts must agree on them. */
	cr_expect_eq(nlb_http_rule_cookie("web"), 0x5ea0e11948721ef1ull);
	cr_expect_eq(nlb_http_rule_cookie("web-new"), 0xae2a9263a4556a12ull);
	cr_expect_eq(nlb_http_rule_cookie("api"), 0xe74fc019056aae07ull);
	cr_expect_eq(nlb_http_rule_cookie(""), 0xcbf29ce484222325ull);
	cr_expect_eq(nlb_http_rule_cookie("web"), nlb_http_rule_cookie("web"));
	cr_expect_neq(nlb_http_rule_cookie("web"), nlb_http_rule_cookie("Web"));
	/* the same name in two loads: the same value */
	struct nlb_config *a = load("{ priority = 1; path = \"/*\"; forward = \"web-new\"; }\n");
	struct nlb_config *b = load("{ priority = 9; path = \"/x\"; forward = \"web-new\"; }\n");
	cr_expect_eq(rules_of(a)->rule[0].to[0].cookie, rules_of(b)->rule[0].to[0].cookie);
	cr_expect_eq(rules_of(a)->rule[0].to[0].weight, 1, "a single group: weight 1");
	cr_expect_eq(rules_of(a)->rule[0].total_weight, 1);
	nlb_config_free(a);
	nlb_config_free(b);
}

/* ---- counters ----------------------------------------------------------- */

T_UNIT(http_rules, counters)
{
	struct nlb_config *cfg = load(
		"{ priority = 2; path = \"/b\"; forward = \"api\"; },\n"
		"{ priority = 1; path = \"/a\"; forward = \"api\"; }\n");
	struct nlb_http_rules *r = rules_of(cfg);
	cr_assert_not_null(r->hits, "the loader gives a row per worker");
	cr_expect_geq(r->hit_rows, cfg->workers);
	cr_expect_geq(r->hit_stride, r->n + 1);
	cr_expect_eq(r->hit_stride % 8, 0, "rows on cache lines of their own");
	cr_expect_eq((uintptr_t)r->hits % 64, 0);
	for (size_t i = 0; i <= r->n; i++)
		cr_expect_eq(nlb_http_rules_hits(r, i), 0);
	/* more rows: new, zeroed counters; as many or fewer: kept */
	size_t rows = r->hit_rows + 3;
	cr_assert_eq(nlb_http_rules_counters(r, rows), 0);
	cr_assert_eq(r->hit_rows, rows);
	_Atomic uint64_t *kept = r->hits;
	cr_assert_eq(nlb_http_rules_counters(r, 1), 0);
	cr_expect_eq(r->hits, kept);
	cr_expect_eq(r->hit_rows, rows);

	struct req *q = req_new("GET", "/a", "h", NULL, NULL);
	int i = nlb_http_rules_match(r, &q->v);
	cr_assert_eq(i, 0);
	free(q);
	nlb_http_rules_count(r, 0, i);
	nlb_http_rules_count(r, rows - 1, i);
	nlb_http_rules_count(r, 1, 1);
	nlb_http_rules_count(r, 0, -1);	/* the default action: index n */
	nlb_http_rules_count(r, 2, -1);
	nlb_http_rules_count(r, 2, -1);
	nlb_http_rules_count(r, rows, 0);	/* no such row: not counted */
	cr_expect_eq(nlb_http_rules_hits(r, 0), 2);
	cr_expect_eq(nlb_http_rules_hits(r, 1), 1);
	cr_expect_eq(nlb_http_rules_hits(r, r->n), 3);
	cr_expect_eq(nlb_http_rules_hits(r, r->n + 1), 0, "past the default: nothing");
	/* each row its own */
	cr_expect_eq(r->hits[0 * r->hit_stride + 0], 1);
	cr_expect_eq(r->hits[(rows - 1) * r->hit_stride + 0], 1);
	cr_expect_eq(r->hits[2 * r->hit_stride + r->n], 2);
	nlb_config_free(cfg);

	/* eight rules: the default's counter is the ninth, not the next
	 * row's first */
	cfg = load("{ priority = 1; path = \"/1\"; forward = \"api\"; },\n"
		   "{ priority = 2; path = \"/2\"; forward = \"api\"; },\n"
		   "{ priority = 3; path = \"/3\"; forward = \"api\"; },\n"
		   "{ priority = 4; path = \"/4\"; forward = \"api\"; },\n"
		   "{ priority = 5; path = \"/5\"; forward = \"api\"; },\n"
		   "{ priority = 6; path = \"/6\"; forward = \"api\"; },\n"
		   "{ priority = 7; path = \"/7\"; forward = \"api\"; },\n"
		   "{ priority = 8; path = \"/8\"; forward = \"api\"; }\n");
	r = rules_of(cfg);
	cr_assert_eq(r->n, 8);
	cr_assert_eq(nlb_http_rules_counters(r, 2), 0);
	cr_expect_geq(r->hit_stride, 9);
	nlb_http_rules_count(r, 0, -1);
	nlb_http_rules_count(r, 1, 7);
	cr_expect_eq(nlb_http_rules_hits(r, 8), 1);
	cr_expect_eq(nlb_http_rules_hits(r, 7), 1);
	cr_expect_eq(nlb_http_rules_hits(r, 0), 0);
	nlb_config_free(cfg);

	/* a set without counters counts nothing */
	struct nlb_http_rules *e = nlb_http_rules_new();
	cr_assert_not_null(e);
	nlb_http_rules_count(e, 0, -1);
	cr_expect_eq(nlb_http_rules_hits(e, 0), 0);
	nlb_http_rules_put(e);
}

/* ---- text, finish, lifetime --------------------------------------------- */

T_UNIT(http_rules, canonical_text)
{
	struct nlb_config *cfg = load(
		"{ priority = 40; method = ( \"TRACE\" ); fixed_response = { status = 403; "
		"content_type = \"text/plain\"; body = \"no\\n\"; }; },\n"
		"{ priority = 10; host = ( \"api.example.com\" ); path = ( \"/v1/*\" ); forward = \"api\"; },\n"
		"{ priority = 30; path = ( \"/old/*\" ); redirect = { status = 301; path = \"/new/#{path}\"; }; },\n"
		"{ priority = 20; header = { name = \"x-canary\"; values = ( \"1\" ); };\n"
		"  forward = ( { target_group = \"web-new\"; weight = 10; }, { target_group = \"web\"; weight = 90; } );\n"
		"  stickiness = { duration_s = 86400; }; },\n"
		"{ priority = 50; query = ( { key = \"a\"; value = \"b|c\"; }, { value = \"x,y\"; } );\n"
		"  source = ( \"10.0.0.0/8\", \"::1\" ); fixed_response = { status = 204; }; }\n");
	const struct nlb_http_rules *r = rules_of(cfg);
	cr_assert_not_null(r->text);
	cr_expect_str_eq(r->text,
		"priority=10 host=api.example.com path=/v1/* -> forward api\n"
		"priority=20 header[x-canary]=1 -> forward web-new,web weights 10,90 sticky 86400s\n"
		"priority=30 path=/old/* -> redirect 301 #{protocol}://#{host}:#{port}/new/#{path}?#{query}\n"
		"priority=40 method=TRACE -> fixed_response 403 text/plain no\\x0a\n"
		"priority=50 query[a]=b\\x7cc query[*]=x\\x2cy source=10.0.0.0/8|::1 -> fixed_response 204 - \n");
	/* one line a rule, in priority order */
	size_t lines = 0;
	unsigned last = 0;
	for (const char *p = r->text; *p; p = strchr(p, '\n') + 1) {
		unsigned prio;
		cr_assert_eq(sscanf(p, "priority=%u", &prio), 1, "%s", p);
		cr_expect_gt(prio, last);
		last = prio;
		lines++;
		cr_assert_not_null(strchr(p, '\n'));
	}
	cr_expect_eq(lines, r->n);
	nlb_config_free(cfg);
}

static char *dup_or_die(const char *s)
{
	char *p = strdup(s);
	cr_assert_not_null(p);
	return p;
}

/* A set built by hand, as the fuzz target builds one: finish sorts it,
 * refuses a priority given twice, and the last put frees it all. */
T_UNIT(http_rules, finish_by_hand)
{
	struct nlb_http_rules *r = nlb_http_rules_new();
	cr_assert_not_null(r);
	cr_assert_not_null(r->rule = calloc(3, sizeof(*r->rule)));
	static const unsigned prio[] = { 5, 3, 4 };
	for (size_t i = 0; i < 3; i++) {
		struct nlb_http_rule *u = &r->rule[i];
		u->priority = prio[i];
		u->conds = NLB_RULE_PATH;
		u->path[0].p = dup_or_die(i == 1 ? "/a*" : "/*");
		u->path[0].len = (uint32_t)strlen(u->path[0].p);
		u->n_path = 1;
		u->action = NLB_RULE_FORWARD;
		u->to[0].group_name = dup_or_die("g");
		u->to[0].weight = 1;
		u->n_to = 1;
		u->total_weight = 1;
		r->n = i + 1;
	}
	size_t dup = 99;
	cr_assert_eq(nlb_http_rules_finish(r, &dup), 0);
	cr_expect_eq(dup, 99, "untouched on success");
	cr_expect_str_eq(r->text, "priority=3 path=/a* -> forward g\n"
				  "priority=4 path=/* -> forward g\n"
				  "priority=5 path=/* -> forward g\n");
	cr_expect_eq(r->conds, NLB_RULE_PATH);
	struct req *q = req_new("GET", "/b", "h", NULL, NULL);
	cr_expect_eq(nlb_http_rules_match(r, &q->v), 1);
	free(q);
	/* a priority twice: the later one named */
	r->rule[2].priority = 3;
	cr_expect_eq(nlb_http_rules_finish(r, &dup), -EEXIST);
	cr_expect_eq(dup, 2);
	r->rule[2].priority = 5;
	r->rule[1].priority = 3;
	cr_expect_eq(nlb_http_rules_finish(r, &dup), -EEXIST);
	cr_expect_eq(dup, 1);
	/* held twice: the first put frees nothing (LeakSanitizer and ASan
	 * would tell otherwise) */
	nlb_http_rules_hold(r);
	nlb_http_rules_put(r);
	cr_expect_eq(r->n, 3);
	nlb_http_rules_put(r);
	nlb_http_rules_hold(NULL);
	nlb_http_rules_put(NULL);

	/* no rules: an empty text */
	struct nlb_http_rules *e = nlb_http_rules_new();
	cr_assert_not_null(e);
	cr_assert_eq(nlb_http_rules_finish(e, &dup), 0);
	cr_expect_str_eq(e->text, "");
	nlb_http_rules_put(e);
}

T_UNIT(http_rules, no_rules_no_set)
{
	char err[256];
	struct nlb_config *cfg;
	static const char text[] =
		"listeners = ( { name = \"w\"; protocol = \"http\"; address = \"127.0.0.1:80\";\n"
		"  rules = ( ); default_action = { forward = \"web\"; }; },\n"
		"  { name = \"v\"; protocol = \"http\"; address = \"127.0.0.1:81\";\n"
		"  default_action = { forward = \"web\"; }; } );\n"
		"target_groups = ( { name = \"web\"; } );\n";
	int r = nlb_config_parse("r.conf", text, strlen(text), &cfg, err, sizeof(err));
	cr_assert_eq(r, 0, "%s", err);
	cr_expect_null(cfg->listeners[0].http.rules);
	cr_expect_null(cfg->listeners[1].http.rules);
	nlb_config_free(cfg);
}
