/* Suite "config_http": what HTTP adds to the configuration
 * (lib/config_http.c, lib/config_keys_http.c): an http listener's keys and
 * default_action, a group's protocol, inferred or given, and the table of
 * which listener goes with which group and keys, each refusal with its
 * file:line. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "helpers.h"

static int parse(const char *text, struct nlb_config **cfg, char *err, size_t len)
{
	return nlb_config_parse("h.conf", text, strlen(text), cfg, err, len);
}

T_UNIT(config_http, listener_keys_and_defaults)
{
	static const char text[] =
		"listeners = (\n"
		"  { name = \"a\"; protocol = \"http\"; address = \"127.0.0.1:80\";\n"
		"    default_action = { forward = \"web\"; }; },\n"
		"  { name = \"b\"; protocol = \"http\"; address = \"127.0.0.1:81\"; xff = \"remove\";\n"
		"    request_timeout_ms = 5000; keepalive_timeout_ms = 7000; max_header_bytes = 8192;\n"
		"    max_body_bytes = 4096;\n"
		"    default_action = { forward = \"web\"; }; } );\n"
		"target_groups = ( { name = \"web\"; response_timeout_ms = 3000; } );\n";
	struct nlb_config *cfg;
	char err[512];
	cr_assert_eq(parse(text, &cfg, err, sizeof(err)), 0, "%s", err);
	const struct nlb_listener_conf *a = &cfg->listeners[0], *b = &cfg->listeners[1];
	cr_expect_eq(a->protocol, NLB_PROTO_HTTP);
	cr_expect_str_eq(a->target_group, "web");
	cr_expect_eq(a->group, 0);
	cr_expect_eq(a->http.xff, NLB_XFF_APPEND);
	cr_expect_eq(a->http.request_timeout_ms, 60000);
	cr_expect_eq(a->http.keepalive_timeout_ms, 60000);
	cr_expect_eq(a->http.max_header_bytes, 16384);
	cr_expect_eq(b->http.xff, NLB_XFF_REMOVE);
	cr_expect_eq(b->http.request_timeout_ms, 5000);
	cr_expect_eq(b->http.keepalive_timeout_ms, 7000);
	cr_expect_eq(b->http.max_header_bytes, 8192);
	cr_expect_eq(a->http.max_body_bytes, 0, "no limit by default");
	cr_expect_eq(b->http.max_body_bytes, 4096);
	cr_expect_eq(cfg->groups[0].protocol, NLB_GROUP_HTTP, "inferred from its listeners");
	cr_expect_eq(cfg->groups[0].response_timeout_ms, 3000);
	nlb_config_free(cfg);
}

T_UNIT(config_http, refusals)
{
	static const struct {
		const char *what, *text;
		int line;
		const char *msg;
	} cases[] = {
		{ "no default_action",
		  "listeners = ( { name = \"a\"; protocol = \"http\";\n address = \"127.0.0.1:80\"; } );\n"
		  "target_groups = ( { name = \"web\"; } );\n", 1, "needs default_action" },
		{ "target_group on http",
		  "listeners = ( { name = \"a\"; protocol = \"http\"; address = \"127.0.0.1:80\";\n"
		  " target_group = \"web\"; default_action = { forward = \"web\"; }; } );\n"
		  "target_groups = ( { name = \"web\"; } );\n", 2, "not in \"target_group\"" },
		{ "unknown group",
		  "listeners = ( { name = \"a\"; protocol = \"http\"; address = \"127.0.0.1:80\";\n"
		  " default_action = {\n forward = \"nope\"; }; } );\n"
		  "target_groups = ( { name = \"web\"; } );\n", 3, "unknown target group \"nope\"" },
		{ "http key on tcp",
		  "listeners = ( { name = \"a\"; address = \"127.0.0.1:80\"; target_group = \"web\";\n"
		  " xff = \"append\"; } );\n"
		  "target_groups = ( { name = \"web\"; } );\n", 2,
		  "\"xff\" belongs to http and https listeners; this one is tcp" },
		{ "https without tls",
		  "listeners = ( { name = \"a\"; protocol = \"https\"; address = \"127.0.0.1:443\";\n"
		  " default_action = { forward = \"web\"; }; } );\n"
		  "target_groups = ( { name = \"web\"; } );\n", 1,
		  "an https listener needs tls = { certificates" },
		{ "tls on http",
		  "listeners = ( { name = \"a\"; protocol = \"http\"; address = \"127.0.0.1:80\";\n"
		  " default_action = { forward = \"web\"; };\n tls = { }; } );\n"
		  "target_groups = ( { name = \"web\"; } );\n", 3,
		  "\"tls\" belongs to tls and https listeners; this one is http" },
		{ "target_group on https",
		  "listeners = ( { name = \"a\"; protocol = \"https\"; address = \"127.0.0.1:443\";\n"
		  " target_group = \"web\"; } );\n"
		  "target_groups = ( { name = \"web\"; } );\n", 2, "an https listener names its group" },
		{ "udp key on http",
		  "listeners = ( { name = \"a\"; protocol = \"http\"; address = \"127.0.0.1:80\";\n"
		  " default_action = { forward = \"web\"; };\n udp_idle_timeout_ms = 5; } );\n"
		  "target_groups = ( { name = \"web\"; } );\n", 3,
		  "\"udp_idle_timeout_ms\" belongs to udp and tcp_udp listeners" },
		{ "shared group",
		  "listeners = ( { name = \"a\"; protocol = \"http\"; address = \"127.0.0.1:80\";\n"
		  " default_action = { forward = \"web\"; }; },\n"
		  " { name = \"b\"; address = \"127.0.0.1:81\";\n target_group = \"web\"; } );\n"
		  "target_groups = ( { name = \"web\"; } );\n", 4, "needs a group of its own" },
		{ "tcp group for http",
		  "listeners = ( { name = \"a\"; protocol = \"http\"; address = \"127.0.0.1:80\";\n"
		  " default_action = { forward = \"web\"; }; } );\n"
		  "target_groups = ( { name = \"web\"; protocol = \"tcp\"; } );\n", 2,
		  "which an http listener cannot use" },
		{ "http group for tcp",
		  "listeners = ( { name = \"a\"; address = \"127.0.0.1:80\";\n target_group = \"web\"; } );\n"
		  "target_groups = ( { name = \"web\"; protocol = \"http\"; } );\n", 2,
		  "which a tcp listener cannot use" },
		{ "proxy_protocol on http group",
		  "listeners = ( { name = \"a\"; protocol = \"http\"; address = \"127.0.0.1:80\";\n"
		  " default_action = { forward = \"web\"; }; } );\n"
		  "target_groups = (\n { name = \"web\"; proxy_protocol = \"v2\"; } );\n", 4,
		  "\"proxy_protocol\" cannot be used by an http group" },
		{ "hash_fields on http group",
		  "target_groups = (\n { name = \"web\"; protocol = \"http\"; hash_fields = \"source_ip\"; } );\n",
		  2, "\"hash_fields\" means nothing" },
		{ "bad group protocol",
		  "target_groups = ( { name = \"web\";\n protocol = \"sctp\"; } );\n", 2,
		  "must be one of tcp, udp, tcp_udp, http" },
		{ "access_log relative",
		  "access_log = {\n path = \"access.log\"; };\n", 2, "must be an absolute path" },
		{ "access_log directory",
		  "access_log = {\n path = \"/nonexistent-nlb-dir/access.log\"; };\n", 2,
		  "cannot create files in /nonexistent-nlb-dir" },
		{ "max_header_bytes range",
		  "listeners = ( { name = \"a\"; protocol = \"http\"; address = \"127.0.0.1:80\";\n"
		  " max_header_bytes = 70000; default_action = { forward = \"web\"; }; } );\n"
		  "target_groups = ( { name = \"web\"; } );\n", 2, "max_header_bytes" },
	};
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct nlb_config *cfg = NULL;
		char err[512], prefix[32];
		int r = parse(cases[k].text, &cfg, err, sizeof(err));
		cr_expect_eq(r, -EINVAL, "%s: %d", cases[k].what, r);
		cr_expect_null(cfg);
		nlb_config_free(cfg);
		snprintf(prefix, sizeof(prefix), "h.conf:%d: ", cases[k].line);
		cr_expect(strncmp(err, prefix, strlen(prefix)) == 0, "%s: \"%s\", want line %d",
			  cases[k].what, err, cases[k].line);
		cr_expect_not_null(strstr(err, cases[k].msg), "%s: \"%s\" lacks \"%s\"",
				   cases[k].what, err, cases[k].msg);
	}
}
