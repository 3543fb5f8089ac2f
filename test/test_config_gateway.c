/* Suite "config_gateway": the entries of "gateways" (lib/config_gateway.c):
 * each kept as a listener of protocol gateway after the listeners, its
 * keys and defaults, and each refusal with its file:line. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "helpers.h"

static int parse(const char *text, struct nlb_config **cfg, char *err, size_t len)
{
	return nlb_config_parse("g.conf", text, strlen(text), cfg, err, len);
}

#define GROUPS "target_groups = ( { name = \"fw\"; protocol = \"geneve\";\n" \
	       "  targets = ( { address = \"192.0.2.10:6081\"; } ); },\n" \
	       "  { name = \"web\"; targets = ( { address = \"127.0.0.1:9001\"; } ); } );\n"

T_UNIT(config_gateway, keys_and_defaults)
{
	static const char text[] =
		"listeners = ( { name = \"web\"; address = \"127.0.0.1:80\"; target_group = \"web\"; } );\n"
		"gateways = (\n"
		"  { name = \"inspect\"; tun = \"nlbgw0\"; address = \"10.0.0.1:6081\";\n"
		"    target_group = \"fw\"; endpoint_id = \"0x0123456789abcdef\"; attachment_id = \"7\";\n"
		"    stickiness = \"2tuple\"; idle_timeout_ms = 60000; udp_idle_timeout_ms = 5000;\n"
		"    target_failover = \"rebalance\"; },\n"
		"  { name = \"second\"; tun = \"nlbgw1\"; address = \"10.0.0.1:6082\"; target_group = \"fw\"; } );\n"
		GROUPS;
	struct nlb_config *cfg;
	char err[512];
	cr_assert_eq(parse(text, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg->n_listeners, 3, "the listener, then the two gateways");
	const struct nlb_listener_conf *g = &cfg->listeners[1], *h = &cfg->listeners[2];
	cr_expect_eq(g->protocol, NLB_PROTO_GATEWAY);
	cr_expect_str_eq(g->name, "inspect");
	cr_expect_str_eq(g->gw.tun, "nlbgw0");
	cr_expect_str_eq(g->addr_text, "10.0.0.1:6081");
	cr_expect_eq(g->group, 0);
	cr_expect_eq(g->gw.endpoint_id, 0x0123456789abcdefull);
	cr_expect_eq(g->gw.attachment_id, 7);
	cr_expect_eq(g->gw.stickiness, 2);
	cr_expect_eq(g->idle_timeout_ms, 60000);
	cr_expect_eq(g->udp_idle_timeout_ms, 5000);
	cr_expect_eq(g->gw.failover, NLB_GW_REBALANCE);
	cr_expect_eq(h->gw.endpoint_id, 0);
	cr_expect_eq(h->gw.stickiness, 0, "5tuple by default");
	cr_expect_eq(h->idle_timeout_ms, 350000, "the GWLB's TCP idle timeout");
	cr_expect_eq(h->udp_idle_timeout_ms, 120000);
	cr_expect_eq(h->gw.failover, NLB_GW_NO_REBALANCE);
	cr_expect_eq(cfg->groups[0].protocol, NLB_GROUP_GENEVE);
	nlb_config_free(cfg);
}

T_UNIT(config_gateway, refusals)
{
	static const struct {
		const char *what, *gateway;
		int line;
		const char *msg;
	} cases[] = {
		{ "no tun", "name = \"g\"; address = \"10.0.0.1:6081\"; target_group = \"fw\";", 1,
		  "\"tun\"" },
		{ "no address", "name = \"g\"; tun = \"t0\"; target_group = \"fw\";", 1, "\"address\"" },
		{ "tun too long", "name = \"g\"; tun = \"abcdefghijklmnopq\"; address = \"10.0.0.1:6081\";"
		  " target_group = \"fw\";", 1, "\"tun\" is an interface name" },
		{ "tun with /", "name = \"g\"; tun = \"a/b\"; address = \"10.0.0.1:6081\"; target_group ="
		  " \"fw\";", 1, "\"tun\" is an interface name" },
		{ "bad endpoint id", "name = \"g\"; tun = \"t0\"; address = \"10.0.0.1:6081\"; target_group"
		  " = \"fw\"; endpoint_id = \"0xzz\";", 1, "\"endpoint_id\" is a 64-bit number" },
		{ "endpoint id over 64 bits", "name = \"g\"; tun = \"t0\"; address = \"10.0.0.1:6081\"; "
		  "target_group = \"fw\"; endpoint_id = \"0x10000000000000000\";", 1,
		  "\"endpoint_id\" is a 64-bit number" },
		{ "decimal attachment over 64 bits", "name = \"g\"; tun = \"t0\"; address = "
		  "\"10.0.0.1:6081\"; target_group = \"fw\"; attachment_id = \"18446744073709551616\";",
		  1, "\"attachment_id\" is a 64-bit number" },
		{ "unknown group", "name = \"g\"; tun = \"t0\"; address = \"10.0.0.1:6081\"; target_group"
		  " = \"nope\";", 1, "unknown target_group \"nope\"" },
		{ "not a geneve group", "name = \"g\"; tun = \"t0\"; address = \"10.0.0.1:6081\"; "
		  "target_group = \"web\";", 1, "must have protocol = \"geneve\"" },
		{ "idle timeout below the GWLB's", "name = \"g\"; tun = \"t0\"; address = \"10.0.0.1:6081\";"
		  " target_group = \"fw\"; idle_timeout_ms = 1000;", 1, "idle_timeout_ms" },
		{ "bad stickiness", "name = \"g\"; tun = \"t0\"; address = \"10.0.0.1:6081\"; target_group"
		  " = \"fw\"; stickiness = \"4tuple\";", 1, "stickiness" },
		{ "a listener's key", "name = \"g\"; tun = \"t0\"; address = \"10.0.0.1:6081\"; "
		  "target_group = \"fw\"; max_flows = 5;", 1, "max_flows" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		char text[1024];
		snprintf(text, sizeof(text), "gateways = ( { %s } );\n" GROUPS, cases[i].gateway);
		struct nlb_config *cfg = NULL;
		char err[512] = "";
		cr_expect_eq(parse(text, &cfg, err, sizeof(err)), -EINVAL, "%s", cases[i].what);
		char line[32];
		snprintf(line, sizeof(line), "g.conf:%d:", cases[i].line);
		cr_expect(strncmp(err, line, strlen(line)) == 0 && strstr(err, cases[i].msg),
			  "%s: \"%s\", want %s ... %s", cases[i].what, err, line, cases[i].msg);
		nlb_config_free(cfg);
	}
	/* between entries: names, addresses, devices; and a geneve group
	 * used by a listener */
	static const struct {
		const char *what, *text, *msg;
	} pairs[] = {
		{ "a name twice",
		  "listeners = ( { name = \"g\"; address = \"127.0.0.1:80\"; target_group = \"web\"; } );\n"
		  "gateways = ( { name = \"g\"; tun = \"t0\"; address = \"10.0.0.1:6081\"; target_group = \"fw\"; } );\n",
		  "g.conf:2: gateway \"g\": the name is taken by the listener at line 1" },
		{ "an address twice",
		  "gateways = ( { name = \"a\"; tun = \"t0\"; address = \"10.0.0.1:6081\"; target_group = \"fw\"; },\n"
		  "  { name = \"b\"; tun = \"t1\"; address = \"10.0.0.1:6081\"; target_group = \"fw\"; } );\n",
		  "already used by gateway \"a\"" },
		{ "a device twice",
		  "gateways = ( { name = \"a\"; tun = \"t0\"; address = \"10.0.0.1:6081\"; target_group = \"fw\"; },\n"
		  "  { name = \"b\"; tun = \"t0\"; address = \"10.0.0.1:6082\"; target_group = \"fw\"; } );\n",
		  "tun \"t0\" is already gateway \"a\"'s" },
		{ "a listener on a geneve group",
		  "listeners = ( { name = \"l\"; protocol = \"udp\"; address = \"127.0.0.1:53\"; target_group = \"fw\"; } );\n",
		  "which a udp listener cannot use" },
	};
	for (size_t i = 0; i < sizeof(pairs) / sizeof(*pairs); i++) {
		char text[2048];
		snprintf(text, sizeof(text), "%s" GROUPS, pairs[i].text);
		struct nlb_config *cfg = NULL;
		char err[512] = "";
		cr_expect_eq(parse(text, &cfg, err, sizeof(err)), -EINVAL, "%s", pairs[i].what);
		cr_expect(strstr(err, pairs[i].msg), "%s: \"%s\", want \"%s\"", pairs[i].what, err,
			  pairs[i].msg);
		nlb_config_free(cfg);
	}
}
