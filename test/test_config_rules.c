/* Suite "config_rules": lib/config_rules.c, an http listener's
 * rules = ( ... ) read from the configuration.  The issue's example
 * loaded, each field checked; the shapes the ALB takes (a string or a list
 * of values, header and query forms, redirect and fixed_response defaults,
 * wildcards in paths); and every refusal, each with its file:line and its
 * message: priorities (range, unique), counts (rules, values, bytes),
 * conditions (none, a path not normalised, a bad CIDR), actions (none, two,
 * an unknown group, weights, stickiness, redirect status, a redirect to
 * itself, an unknown #{keyword}, fixed status and body) and unknown keys. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "helpers.h"
#include "http_rules.h"

/* The issue's example, verbatim. */
static const char example[] =
	"listeners = ( { name = \"www\"; protocol = \"http\"; address = \"127.0.0.1:80\";\n"
	"  rules = (\n"
	"    { priority = 10; host = ( \"api.example.com\" ); path = ( \"/v1/*\" ); forward = \"api\"; },\n"
	"    { priority = 20; header = { name = \"x-canary\"; values = ( \"1\" ); };\n"
	"      forward = ( { target_group = \"web-new\"; weight = 10; }, { target_group = \"web\"; weight = 90; } );\n"
	"      stickiness = { duration_s = 86400; }; },\n"
	"    { priority = 30; path = ( \"/old/*\" ); redirect = { status = 301; path = \"/new/#{path}\"; }; },\n"
	"    { priority = 40; method = ( \"TRACE\" ); fixed_response = { status = 403; content_type = \"text/plain\"; body = \"no\\n\"; }; }\n"
	"  );\n"
	"  default_action = { forward = \"web\"; }; } );\n"
	"target_groups = ( { name = \"api\"; }, { name = \"web\"; }, { name = \"web-new\"; } );\n";

static int parse(const char *text, struct nlb_config **cfg, char *err, size_t len)
{
	*cfg = NULL;
	return nlb_config_parse("r.conf", text, strlen(text), cfg, err, len);
}

static size_t group_index(const struct nlb_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_groups; i++)
		if (strcmp(cfg->groups[i].name, name) == 0)
			return i;
	cr_assert_fail("no group %s", name);
	return 0;
}

T_UNIT(config_rules, issue_example)
{
	struct nlb_config *cfg;
	char err[512];
	cr_assert_eq(parse(example, &cfg, err, sizeof(err)), 0, "%s", err);
	const struct nlb_listener_conf *l = &cfg->listeners[0];
	cr_expect_str_eq(l->target_group, "web", "the default action");
	const struct nlb_http_rules *r = l->http.rules;
	cr_assert_not_null(r);
	cr_assert_eq(r->n, 4);
	cr_expect_eq(r->conds, NLB_RULE_HOST | NLB_RULE_PATH | NLB_RULE_HEADER | NLB_RULE_METHOD);

	const struct nlb_http_rule *u = &r->rule[0];
	cr_expect_eq(u->priority, 10);
	cr_expect_eq(u->line, 3);
	cr_expect_eq(u->conds, NLB_RULE_HOST | NLB_RULE_PATH);
	cr_assert_eq(u->n_host, 1);
	cr_expect_str_eq(u->host[0].p, "api.example.com");
	cr_expect_eq(u->host[0].len, 15);
	cr_assert_eq(u->n_path, 1);
	cr_expect_str_eq(u->path[0].p, "/v1/*");
	cr_expect_eq(u->path[0].len, 5);
	cr_expect_eq(u->n_method + u->n_header + u->n_query + u->n_source, 0);
	cr_expect_null(u->source);
	cr_expect_eq(u->action, NLB_RULE_FORWARD);
	cr_assert_eq(u->n_to, 1);
	cr_expect_str_eq(u->to[0].group_name, "api");
	cr_expect_eq(u->to[0].group, group_index(cfg, "api"));
	cr_expect_eq(u->to[0].weight, 1);
	cr_expect_eq(u->to[0].cookie, nlb_http_rule_cookie("api"));
	cr_expect_eq(u->total_weight, 1);
	cr_expect_eq(u->sticky_s, 0);

	u = &r->rule[1];
	cr_expect_eq(u->priority, 20);
	cr_expect_eq(u->line, 4);
	cr_expect_eq(u->conds, NLB_RULE_HEADER);
	cr_assert_eq(u->n_header, 1);
	cr_expect_str_eq(u->header[0].name.p, "x-canary");
	cr_assert_eq(u->header[0].n, 1);
	cr_expect_str_eq(u->header[0].value[0].p, "1");
	cr_expect_eq(u->action, NLB_RULE_FORWARD);
	cr_assert_eq(u->n_to, 2);
	cr_expect_str_eq(u->to[0].group_name, "web-new");
	cr_expect_eq(u->to[0].group, group_index(cfg, "web-new"));
	cr_expect_eq(u->to[0].weight, 10);
	cr_expect_str_eq(u->to[1].group_name, "web");
	cr_expect_eq(u->to[1].group, group_index(cfg, "web"));
	cr_expect_eq(u->to[1].weight, 90);
	cr_expect_eq(u->total_weight, 100);
	cr_expect_eq(u->sticky_s, 86400);

	u = &r->rule[2];
	cr_expect_eq(u->priority, 30);
	cr_expect_eq(u->line, 7);
	cr_expect_eq(u->conds, NLB_RULE_PATH);
	cr_expect_str_eq(u->path[0].p, "/old/*");
	cr_expect_eq(u->action, NLB_RULE_REDIRECT);
	cr_expect_eq(u->redirect.status, 301);
	cr_expect_str_eq(u->redirect.protocol, "#{protocol}");
	cr_expect_str_eq(u->redirect.host, "#{host}");
	cr_expect_str_eq(u->redirect.port, "#{port}");
	cr_expect_str_eq(u->redirect.path, "/new/#{path}");
	cr_expect_str_eq(u->redirect.query, "#{query}");

	u = &r->rule[3];
	cr_expect_eq(u->priority, 40);
	cr_expect_eq(u->line, 8);
	cr_expect_eq(u->conds, NLB_RULE_METHOD);
	cr_assert_eq(u->n_method, 1);
	cr_expect_str_eq(u->method[0].p, "TRACE");
	cr_expect_eq(u->action, NLB_RULE_FIXED);
	cr_expect_eq(u->fixed_status, 403);
	cr_expect_str_eq(u->content_type, "text/plain");
	cr_expect_str_eq(u->body, "no\n");
	cr_expect_eq(u->body_len, 3);

	cr_expect_not_null(r->hits);
	cr_expect_geq(r->hit_rows, cfg->workers);
	cr_expect_eq(cfg->groups[group_index(cfg, "web-new")].protocol, NLB_GROUP_HTTP,
		     "a group only a rule names is an http group too");
	nlb_config_free(cfg);
}

/* A listener (address 127.0.0.1:80) whose rules start at line 4. */
static const char head[] =
	"listeners = ( { name = \"www\"; protocol = \"http\"; address = \"127.0.0.1:80\";\n"
	"  default_action = { forward = \"web\"; };\n"
	"  rules = (\n";
static const char tail[] =
	"\n  ); } );\n"
	"target_groups = ( { name = \"api\"; }, { name = \"web\"; }, { name = \"web-new\"; },\n"
	"  { name = \"tcp\"; protocol = \"tcp\"; } );\n";

static char *wrap(const char *rules)
{
	size_t n = strlen(head) + strlen(rules) + strlen(tail) + 1;
	char *t = malloc(n);
	cr_assert_not_null(t);
	snprintf(t, n, "%s%s%s", head, rules, tail);
	return t;
}

/* rules loads; returns the configuration. */
static struct nlb_config *load_ok(const char *rules)
{
	char *t = wrap(rules), err[512];
	struct nlb_config *cfg;
	int r = parse(t, &cfg, err, sizeof(err));
	free(t);
	cr_assert_eq(r, 0, "%s\nrefused: %s", rules, err);
	return cfg;
}

/* rules is refused at line with a message holding msg. */
static void refuse(const char *what, const char *rules, int line, const char *msg)
{
	char *t = wrap(rules), err[1024], prefix[32];
	struct nlb_config *cfg;
	int r = parse(t, &cfg, err, sizeof(err));
	free(t);
	cr_expect_eq(r, -EINVAL, "%s: %d", what, r);
	cr_expect_null(cfg, "%s", what);
	nlb_config_free(cfg);
	if (r != -EINVAL)
		return;
	snprintf(prefix, sizeof(prefix), "r.conf:%d: ", line);
	cr_expect(strncmp(err, prefix, strlen(prefix)) == 0, "%s: \"%s\", want line %d", what, err,
		  line);
	cr_expect_not_null(strstr(err, msg), "%s: \"%s\" lacks \"%s\"", what, err, msg);
	cr_expect_null(strchr(err, '\n'), "%s: one line", what);
}

T_UNIT(config_rules, shapes_accepted)
{
	struct nlb_config *cfg = load_ok(
		"{ priority = 1; host = \"a.test\"; path = \"/a?c/*\"; method = \"GET\"; forward = \"web\"; },\n"
		"{ priority = 2; path = ( \"/1\", \"/2\", \"/3\", \"/4\", \"/5\" ); forward = \"web\"; },\n"
		"{ priority = 3; header = ( { name = \"a\"; values = \"x\"; }, { name = \"b\"; values = ( \"1\", \"2\" ); } );\n"
		"  query = ( { key = \"k\"; value = \"v\"; }, { value = \"w\"; } ); forward = \"web\"; },\n"
		"{ priority = 4; source = [ \"10.0.0.0/8\", \"2001:db8::/32\" ]; forward = \"web\";\n"
		"  stickiness = { enabled = false; duration_s = 5; }; },\n"
		"{ priority = 5; path = \"*.gif\"; redirect = { status = 302; protocol = \"HTTPS\"; };\n },\n"
		"{ priority = 6; path = \"/p\"; redirect = { status = 301; port = \"81\"; }; },\n"
		"{ priority = 7; path = \"/q\"; redirect = { status = 301; query = \"a=#{query}&b=1\";\n"
		"  host = \"#{host}.example\"; }; },\n"
		"{ priority = 8; path = \"/f\"; fixed_response = { status = 599; }; },\n"
		"{ priority = 50000; path = \"/%20%2F\"; forward = ( { target_group = \"api\"; },\n"
		"  { target_group = \"web\"; weight = 0; } ); stickiness = { }; }");
	const struct nlb_http_rules *r = cfg->listeners[0].http.rules;
	cr_assert_eq(r->n, 9);
	const struct nlb_http_rule *u = r->rule;
	cr_expect_str_eq(u[0].path[0].p, "/a?c/*", "a '?' in a path pattern is a wildcard");
	cr_expect_eq(u[1].n_path, 5);
	cr_expect_str_eq(u[1].path[4].p, "/5");
	cr_expect_eq(u[2].n_header, 2);
	cr_expect_eq(u[2].header[1].n, 2);
	cr_expect_eq(u[2].n_query, 2);
	cr_expect_str_eq(u[2].query[0].key.p, "k");
	cr_expect_eq(u[2].query[1].key.len, 0, "a pair without key");
	cr_expect_null(u[2].query[1].key.p);
	cr_expect_str_eq(u[2].query[1].value.p, "w");
	cr_expect_eq(u[3].n_source, 2);
	cr_expect_not_null(u[3].source);
	cr_expect_eq(u[3].sticky_s, 0, "enabled = false");
	cr_expect_str_eq(u[4].redirect.protocol, "https", "lower-cased");
	cr_expect_eq(u[4].redirect.status, 302);
	cr_expect_str_eq(u[5].redirect.port, "81");
	cr_expect_str_eq(u[6].redirect.query, "a=#{query}&b=1");
	cr_expect_str_eq(u[6].redirect.host, "#{host}.example");
	cr_expect_eq(u[7].fixed_status, 599);
	cr_expect_null(u[7].content_type, "none sent");
	cr_expect_str_eq(u[7].body, "");
	cr_expect_eq(u[7].body_len, 0);
	cr_expect_eq(u[8].priority, 50000);
	cr_expect_eq(u[8].to[0].weight, 1, "weight 1 by default");
	cr_expect_eq(u[8].to[1].weight, 0);
	cr_expect_eq(u[8].total_weight, 1);
	cr_expect_eq(u[8].sticky_s, NLB_HTTP_STICKY_DEFAULT_S);
	nlb_config_free(cfg);

	/* the limits themselves: 100 rules, 128 bytes, 999, 604800, 1024 */
	char *big = malloc(100 * 64 + 2048);
	cr_assert_not_null(big);
	size_t n = 0;
	for (int i = 1; i <= 100; i++)
		n += (size_t)sprintf(big + n, "%s{ priority = %d; path = \"/%d\"; forward = \"web\"; }",
				     i > 1 ? ",\n" : "", i * 500, i);
	cfg = load_ok(big);
	cr_expect_eq(cfg->listeners[0].http.rules->n, 100);
	nlb_config_free(cfg);
	n = (size_t)sprintf(big, "{ priority = 1; host = \"");
	memset(big + n, 'h', 128);
	n += 128;
	n += (size_t)sprintf(big + n, "\"; forward = ( { target_group = \"web\"; weight = 999; } );\n"
			     "  stickiness = { duration_s = 604800; }; },\n"
			     "{ priority = 2; path = \"/b\"; fixed_response = { status = 200; body = \"");
	memset(big + n, 'b', 1024);
	n += 1024;
	sprintf(big + n, "\"; }; }");
	cfg = load_ok(big);
	u = cfg->listeners[0].http.rules->rule;
	cr_expect_eq(u[0].host[0].len, 128);
	cr_expect_eq(u[0].to[0].weight, 999);
	cr_expect_eq(u[0].sticky_s, 604800);
	cr_expect_eq(u[1].body_len, 1024);
	nlb_config_free(cfg);
	free(big);
}

T_UNIT(config_rules, priority_refusals)
{
	refuse("duplicate priority",
	       "{ priority = 10; path = \"/a\"; forward = \"web\"; },\n"
	       "{ priority = 5; path = \"/b\"; forward = \"web\"; },\n"
	       "{ priority = 10; path = \"/c\"; forward = \"web\"; }", 6,
	       "listener \"www\": two rules have priority 10 (the other at line 4); priorities are unique");
	refuse("priority 0", "{ path = \"/a\";\n priority = 0; forward = \"web\"; }", 5,
	       "listener \"www\": each rule has a \"priority\" from 1 to 50000");
	refuse("priority 50001", "{ priority = 50001; path = \"/a\"; forward = \"web\"; }", 4,
	       "\"priority\" from 1 to 50000");
	refuse("priority negative", "{ priority = -1; path = \"/a\"; forward = \"web\"; }", 4,
	       "\"priority\" from 1 to 50000");
	refuse("priority huge", "{ priority = 4294967297L; path = \"/a\"; forward = \"web\"; }", 4,
	       "\"priority\" from 1 to 50000");
	refuse("priority missing", "{ path = \"/a\"; forward = \"web\"; }", 4,
	       "\"priority\" from 1 to 50000");
	refuse("priority a string", "{ priority = \"1\"; path = \"/a\"; forward = \"web\"; }", 4,
	       "\"priority\" from 1 to 50000");
	refuse("a rule not a group", "\"x\", \"y\"", 4, "each rule is a group");
}

T_UNIT(config_rules, count_refusals)
{
	char *big = malloc(101 * 64);
	cr_assert_not_null(big);
	size_t n = 0;
	for (int i = 1; i <= 101; i++)
		n += (size_t)sprintf(big + n, "%s{ priority = %d; path = \"/\"; forward = \"web\"; }",
				     i > 1 ? ",\n" : "", i);
	refuse("101 rules", big, 3, "listener \"www\": at most 100 rules a listener (the ALB's "
	       "limit), not 101");
	free(big);

	refuse("6 hosts",
	       "{ priority = 1; host = (\n \"a\", \"b\", \"c\", \"d\", \"e\", \"f\" ); forward = \"web\"; }",
	       4, "listener \"www\": rule 1: \"host\" takes 1 to 5 values, not 6");
	refuse("6 header values",
	       "{ priority = 2; header = { name = \"x\";\n values = ( \"1\", \"2\", \"3\", \"4\", \"5\", \"6\" ); };\n"
	       " forward = \"web\"; }", 5, "rule 2: \"header values\" takes 1 to 5 values, not 6");
	refuse("6 header conditions",
	       "{ priority = 2; header = ( { name = \"a\"; values = \"1\"; }, { name = \"a\"; values = \"1\"; },\n"
	       "{ name = \"a\"; values = \"1\"; }, { name = \"a\"; values = \"1\"; }, { name = \"a\"; values = \"1\"; },\n"
	       "{ name = \"a\"; values = \"1\"; } ); forward = \"web\"; }", 4,
	       "\"header\" is a group or a list of 1 to 5 groups");
	refuse("6 query pairs",
	       "{ priority = 2; query = ( { value = \"1\"; }, { value = \"1\"; }, { value = \"1\"; },\n"
	       "{ value = \"1\"; }, { value = \"1\"; }, { value = \"1\"; } ); forward = \"web\"; }", 4,
	       "\"query\" is a list of 1 to 5");
	refuse("no values", "{ priority = 3; path = ( ); forward = \"web\"; }", 4,
	       "\"path\" takes 1 to 5 values, not 0");
	refuse("6 groups",
	       "{ priority = 2; path = \"/\"; forward = ( { target_group = \"web\"; }, { target_group = \"web\"; },\n"
	       "{ target_group = \"web\"; }, { target_group = \"web\"; }, { target_group = \"web\"; },\n"
	       "{ target_group = \"web\"; } ); }", 4, "list of 1 to 5 { target_group");

	char rule[512];
	char v129[130];
	memset(v129, 'a', 129);
	v129[129] = '\0';
	snprintf(rule, sizeof(rule), "{ priority = 1;\n host = \"%s\"; forward = \"web\"; }", v129);
	refuse("host of 129 bytes", rule, 5, "rule 1: host values are 1 to 128 bytes, not 129");
	snprintf(rule, sizeof(rule), "{ priority = 1; path = ( \"/\",\n \"/%s\" ); forward = \"web\"; }",
		 v129 + 1);
	refuse("path of 129 bytes", rule, 5, "rule 1: path values are 1 to 128 bytes, not 129");
	snprintf(rule, sizeof(rule), "{ priority = 1; header = { name = \"x\";\n values = \"%s\"; };"
		 " forward = \"web\"; }", v129);
	refuse("header value of 129 bytes", rule, 5, "header values values are 1 to 128 bytes, not 129");
	snprintf(rule, sizeof(rule), "{ priority = 1; query = ( {\n key = \"%s\"; value = \"v\"; } );"
		 " forward = \"web\"; }", v129);
	refuse("query key of 129 bytes", rule, 5, "query key values are 1 to 128 bytes, not 129");
	snprintf(rule, sizeof(rule), "{ priority = 1; path = \"/\"; redirect = { status = 301;\n"
		 " host = \"%s\"; }; }", v129);
	refuse("redirect host of 129 bytes", rule, 5, "redirect: \"host\" is at most 128 bytes");
	refuse("empty value", "{ priority = 1; method = \"\"; forward = \"web\"; }", 4,
	       "method values are 1 to 128 bytes, not 0");
}

T_UNIT(config_rules, condition_refusals)
{
	refuse("no condition", "{ priority = 7;\n forward = \"web\"; }", 4,
	       "listener \"www\": rule 7: a rule needs at least one condition (host, path, method, "
	       "header, query or source)");
	refuse("path not normalised", "{ priority = 1; path = \"/a/../b\"; forward = \"web\"; }", 4,
	       "rule 1: path \"/a/../b\" is matched against normalised paths (no \"//\", \".\" or "
	       "\"..\" segments, unreserved characters not percent-encoded): write /b");
	refuse("path with //", "{ priority = 1; path = \"//a/*\"; forward = \"web\"; }", 4,
	       "write /a/*");
	refuse("path with .", "{ priority = 1; path = \"/a/./*\"; forward = \"web\"; }", 4,
	       "write /a/*");
	refuse("path encoding unreserved", "{ priority = 1; path = \"/%61/*\"; forward = \"web\"; }", 4,
	       "write /a/*");
	refuse("path lower-case hex", "{ priority = 1; path = \"/%2f\"; forward = \"web\"; }", 4,
	       "write /%2F");
	refuse("path with ? kept on a fix", "{ priority = 1; path = \"/a/../?\"; forward = \"web\"; }", 4,
	       "write /?");
	refuse("path above the root", "{ priority = 1; path = \"/../a\"; forward = \"web\"; }", 4,
	       "path \"/../a\" is matched against normalised paths");
	refuse("path bad %", "{ priority = 1; path = \"/%zz\"; forward = \"web\"; }", 4,
	       "path \"/%zz\" is matched against normalised paths");
	refuse("path * then dot segments", "{ priority = 1; path = \"*/../x\"; forward = \"web\"; }",
	       4, "path \"*/../x\" is matched against normalised paths");
	refuse("path without /", "{ priority = 1; path = \"a/b\"; forward = \"web\"; }", 4,
	       "path \"a/b\" must start with '/' or '*'");
	refuse("path with a space", "{ priority = 1; path = \"/a b\"; forward = \"web\"; }", 4,
	       "path \"/a b\": only visible ASCII, no spaces");
	refuse("host with a colon", "{ priority = 1; host = \"a.test:80\"; forward = \"web\"; }", 4,
	       "host \"a.test:80\": only letters, digits, '-', '.', '*' and '?'");
	refuse("method lower-case", "{ priority = 1; method = \"get\"; forward = \"web\"; }", 4,
	       "method \"get\": only upper-case letters, '-' and '_'");
	refuse("header name with a space",
	       "{ priority = 1; header = { name = \"x y\"; values = \"1\"; }; forward = \"web\"; }", 4,
	       "header name \"x y\": only a field name's characters");
	refuse("header without values",
	       "{ priority = 1; header = { name = \"x\"; }; forward = \"web\"; }", 4,
	       "a header condition is { name = \"...\"; values = ( \"...\" ); }");
	refuse("header with another key",
	       "{ priority = 1; header = { name = \"x\"; values = \"1\";\n value = \"2\"; }; forward = \"web\"; }",
	       5, "unknown key \"value\" in header");
	refuse("query without value",
	       "{ priority = 1; query = ( { key = \"x\"; } ); forward = \"web\"; }", 4,
	       "a query pair needs \"value\"");
	refuse("query a group", "{ priority = 1; query = { value = \"x\"; }; forward = \"web\"; }", 4,
	       "\"query\" is a list of 1 to 5");
	refuse("values a number", "{ priority = 1; path = 5; forward = \"web\"; }", 4,
	       "\"path\" is a string or a list of strings");
	refuse("values not strings", "{ priority = 1; path = ( \"/\",\n 5 ); forward = \"web\"; }", 5,
	       "\"path\" values are strings");
	refuse("bad CIDR", "{ priority = 3; path = \"/\";\n source = ( \"10.0.0.0/33\" ); forward = \"web\"; }", 5,
	       "rule 3: source \"10.0.0.0/33\" is not a CIDR prefix");
	refuse("CIDR host bits", "{ priority = 3; source = \"10.0.0.1/8\"; forward = \"web\"; }", 4,
	       "source \"10.0.0.1/8\" is not a CIDR prefix");
	refuse("CIDR a name", "{ priority = 3; source = ( \"::/0\", \"localhost\" ); forward = \"web\"; }",
	       4, "source \"localhost\" is not a CIDR prefix");
	refuse("unknown key in a rule", "{ priority = 9; path = \"/\";\n hots = \"a\"; forward = \"web\"; }",
	       5, "listener \"www\": rule 9: unknown key \"hots\" in a rule");
}

T_UNIT(config_rules, action_refusals)
{
	refuse("no action", "{ priority = 1; path = \"/\"; }", 4,
	       "rule 1: a rule has one action: \"forward\", \"redirect\" or \"fixed_response\"");
	refuse("two actions",
	       "{ priority = 1; path = \"/\"; forward = \"web\";\n fixed_response = { status = 200; }; }", 4,
	       "a rule has one action");
	refuse("stickiness alone", "{ priority = 1; path = \"/\"; stickiness = { }; }", 4,
	       "a rule has one action");
	refuse("unknown group", "{ priority = 1; path = \"/\";\n forward = \"nope\"; }", 5,
	       "rule 1: forward: unknown target group \"nope\"");
	refuse("unknown group in a list",
	       "{ priority = 1; path = \"/\"; forward = ( { target_group = \"web\"; },\n"
	       " { target_group = \"nope\"; weight = 1; } ); }", 5,
	       "forward: unknown target group \"nope\"");
	refuse("a tcp group", "{ priority = 1; path = \"/\";\n forward = \"tcp\"; }", 5,
	       "target group \"tcp\" has protocol \"tcp\", which an http listener cannot use");
	refuse("a group twice",
	       "{ priority = 1; path = \"/\"; forward = ( { target_group = \"web\"; },\n"
	       " { target_group = \"web\"; } ); }", 5, "target group \"web\" is listed twice");
	refuse("weight 1000",
	       "{ priority = 1; path = \"/\"; forward = ( { target_group = \"web\";\n weight = 1000; } ); }",
	       5, "rule 1: forward: \"weight\" is 0 to 999, not 1000");
	refuse("weight negative",
	       "{ priority = 1; path = \"/\"; forward = ( { target_group = \"web\"; weight = -1; } ); }", 4,
	       "\"weight\" is 0 to 999, not -1");
	refuse("weight a string",
	       "{ priority = 1; path = \"/\"; forward = ( { target_group = \"web\"; weight = \"1\"; } ); }",
	       4, "forward: \"weight\" is a number");
	refuse("all weights 0",
	       "{ priority = 1; path = \"/\"; forward = (\n { target_group = \"web\"; weight = 0; },\n"
	       " { target_group = \"api\"; weight = 0; } ); }", 4,
	       "rule 1: forward: every weight is 0, so no request could be sent anywhere");
	refuse("forward entry without a group",
	       "{ priority = 1; path = \"/\"; forward = ( { weight = 1; } ); }", 4,
	       "each entry names its \"target_group\"");
	refuse("forward entry unknown key",
	       "{ priority = 1; path = \"/\"; forward = ( { target_group = \"web\"; weigth = 1; } ); }", 4,
	       "unknown key \"weigth\" in forward");
	refuse("stickiness 0",
	       "{ priority = 1; path = \"/\"; forward = \"web\"; stickiness = {\n duration_s = 0; }; }", 5,
	       "rule 1: stickiness: \"duration_s\" is 1 to 604800 (7 days), not 0");
	refuse("stickiness 604801",
	       "{ priority = 1; path = \"/\"; forward = \"web\"; stickiness = { duration_s = 604801; }; }",
	       4, "\"duration_s\" is 1 to 604800 (7 days), not 604801");
	refuse("stickiness with redirect",
	       "{ priority = 1; path = \"/\"; redirect = { status = 301; port = \"81\"; };\n"
	       " stickiness = { }; }", 5, "\"stickiness\" goes with \"forward\"");
	refuse("stickiness enabled not a bool",
	       "{ priority = 1; path = \"/\"; forward = \"web\"; stickiness = { enabled = 1; }; }", 4,
	       "stickiness: \"enabled\" is true or false");
	refuse("stickiness unknown key",
	       "{ priority = 1; path = \"/\"; forward = \"web\"; stickiness = { duration = 5; }; }", 4,
	       "unknown key \"duration\" in stickiness");

	refuse("redirect status 303",
	       "{ priority = 1; path = \"/\"; redirect = {\n status = 303; port = \"81\"; }; }", 5,
	       "rule 1: redirect: \"status\" is 301 or 302");
	refuse("redirect without status",
	       "{ priority = 1; path = \"/\"; redirect = {\n port = \"81\"; }; }", 4,
	       "redirect: \"status\" is 301 or 302");
	refuse("redirect to itself (all defaults)",
	       "{ priority = 1; path = \"/\"; redirect = {\n status = 301; }; }", 4,
	       "rule 1: redirect: this redirects every request to its own URL, a loop");
	refuse("redirect to itself (its own port and protocol)",
	       "{ priority = 1; path = \"/\"; redirect = { status = 302; protocol = \"HTTP\";\n"
	       " port = \"80\"; path = \"/#{path}\"; }; }", 4, "its own URL, a loop");
	refuse("unknown keyword",
	       "{ priority = 1; path = \"/\"; redirect = { status = 301;\n path = \"/x/#{uri}\"; }; }", 5,
	       "rule 1: redirect: \"path\": unknown keyword in \"/x/#{uri}\"");
	refuse("keyword of another case",
	       "{ priority = 1; path = \"/\"; redirect = { status = 301; protocol = \"#{PROTOCOL}\"; }; }",
	       4, "unknown keyword in \"#{PROTOCOL}\"");
	refuse("redirect protocol ftp",
	       "{ priority = 1; path = \"/\"; redirect = { status = 301; protocol = \"ftp\"; }; }", 4,
	       "\"protocol\" is \"http\", \"https\" or \"#{protocol}\"");
	refuse("redirect port 0",
	       "{ priority = 1; path = \"/\"; redirect = { status = 301; port = \"0\"; }; }", 4,
	       "\"port\" is 1 to 65535 or \"#{port}\"");
	refuse("redirect port text",
	       "{ priority = 1; path = \"/\"; redirect = { status = 301; port = \"8o\"; }; }", 4,
	       "\"port\" is 1 to 65535 or \"#{port}\"");
	refuse("redirect path relative",
	       "{ priority = 1; path = \"/\"; redirect = { status = 301; path = \"#{path}\"; }; }", 4,
	       "\"path\" starts with '/'");
	refuse("redirect query with ?",
	       "{ priority = 1; path = \"/\"; redirect = { status = 301; query = \"?a\"; }; }", 4,
	       "\"query\" is written without its '?'");
	refuse("redirect with a space",
	       "{ priority = 1; path = \"/\"; redirect = { status = 301; host = \"a b\"; }; }", 4,
	       "redirect: \"host\": only visible ASCII, no spaces");
	refuse("redirect unknown key",
	       "{ priority = 1; path = \"/\"; redirect = { status = 301; code = 1; }; }", 4,
	       "unknown key \"code\" in redirect");

	refuse("fixed status 199",
	       "{ priority = 1; path = \"/\"; fixed_response = {\n status = 199; }; }", 5,
	       "rule 1: fixed_response: \"status\" is 200 to 599");
	refuse("fixed status 600",
	       "{ priority = 1; path = \"/\"; fixed_response = { status = 600; }; }", 4,
	       "fixed_response: \"status\" is 200 to 599");
	refuse("fixed without status",
	       "{ priority = 1; path = \"/\"; fixed_response = { body = \"x\"; }; }", 4,
	       "fixed_response: \"status\" is 200 to 599");
	char *rule = malloc(2048);
	cr_assert_not_null(rule);
	int n = sprintf(rule, "{ priority = 1; path = \"/\"; fixed_response = { status = 200;\n"
			" body = \"");
	memset(rule + n, 'x', 1025);
	sprintf(rule + n + 1025, "\"; }; }");
	refuse("body of 1025 bytes", rule, 5,
	       "rule 1: fixed_response: \"body\" is at most 1024 bytes, not 1025");
	free(rule);
	refuse("body a number",
	       "{ priority = 1; path = \"/\"; fixed_response = { status = 200; body = 1; }; }", 4,
	       "\"body\" is a string");
	refuse("content_type with a control",
	       "{ priority = 1; path = \"/\"; fixed_response = { status = 200; content_type = \"a\\nb\"; }; }",
	       4, "\"content_type\" has a control character");
	refuse("content_type empty",
	       "{ priority = 1; path = \"/\"; fixed_response = { status = 200; content_type = \"\"; }; }",
	       4, "\"content_type\" is 1 to 128 bytes");
	refuse("fixed unknown key",
	       "{ priority = 1; path = \"/\"; fixed_response = { status = 200; type = \"a\"; }; }", 4,
	       "unknown key \"type\" in fixed_response");
}

T_UNIT(config_rules, rules_shape_refusals)
{
	char err[512];
	struct nlb_config *cfg;
	static const char not_list[] =
		"listeners = ( { name = \"www\"; protocol = \"http\"; address = \"127.0.0.1:80\";\n"
		"  default_action = { forward = \"web\"; };\n"
		"  rules = \"x\"; } );\n"
		"target_groups = ( { name = \"web\"; } );\n";
	cr_expect_eq(parse(not_list, &cfg, err, sizeof(err)), -EINVAL);
	cr_expect(strncmp(err, "r.conf:3: ", 10) == 0, "%s", err);
	cr_expect_not_null(strstr(err, "\"rules\" must be a list"), "%s", err);
	static const char on_tcp[] =
		"listeners = ( { name = \"t\"; address = \"127.0.0.1:80\"; target_group = \"g\";\n"
		"  rules = ( { priority = 1; path = \"/\"; forward = \"g\"; } ); } );\n"
		"target_groups = ( { name = \"g\"; } );\n";
	cr_expect_eq(parse(on_tcp, &cfg, err, sizeof(err)), -EINVAL);
	cr_expect(strncmp(err, "r.conf:2: ", 10) == 0, "%s", err);
	cr_expect_not_null(strstr(err, "\"rules\" belongs to http and https listeners"), "%s", err);
}
