/* Suite "appliance_filter": nlb-appliance's rule list
 * (lib/appliance_filter.c): what parses and what is refused with why,
 * the canonical text round trip, and first-match decisions on packets
 * read by lib/ip_packet.c. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "appliance_filter.h"
#include "helpers.h"

/* A packet as ip_packet.c would read it: only what rules look at. */
static struct nlb_ip_packet pkt(int proto, uint16_t sport, uint16_t dport)
{
	struct nlb_ip_packet p = { .version = 4, .l4_proto = (uint8_t)proto };
	p.has_ports = proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP;
	if (p.has_ports) {
		p.flow.sport = htons(sport);
		p.flow.dport = htons(dport);
	}
	p.flow.proto = (uint8_t)proto;
	return p;
}

static void add_ok(struct nlb_appliance_filter *f, const char *text)
{
	char err[128] = "";
	cr_assert_eq(nlb_appliance_filter_add(f, text, err, sizeof(err)), 0, "%s: %s", text, err);
}

T_UNIT(appliance_filter, parses_and_round_trips)
{
	static const struct {
		const char *in, *text;
	} c[] = {
		{ "deny tcp dport 23", "deny tcp dport 23" },
		{ "  deny\tudp  ", "deny udp" },
		{ "allow icmp", "allow icmp" },
		{ "deny any", "deny any" },
		{ "allow sctp sport 1-2", "allow sctp sport 1-2" },
		{ "deny tcp dport 8000-8099 sport 1024-65535", "deny tcp sport 1024-65535 dport 8000-8099" },
		{ "deny udp sport 0-65535", "deny udp" },
		{ "deny tcp dport 7-7", "deny tcp dport 7" },
		{ "allow tcp sport 0 dport 65535", "allow tcp sport 0 dport 65535" },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(*c); i++) {
		struct nlb_appliance_filter f = { 0 }, g = { 0 };
		add_ok(&f, c[i].in);
		char text[NLB_APPLIANCE_RULE_TEXT];
		nlb_appliance_rule_text(&f.rule[0], text);
		cr_expect_str_eq(text, c[i].text, "%s", c[i].in);
		add_ok(&g, text);
		cr_expect_eq(memcmp(&f.rule[0], &g.rule[0], sizeof(f.rule[0])), 0, "%s", text);
	}
}

T_UNIT(appliance_filter, refusals_say_why)
{
	static const struct {
		const char *in, *why;
	} c[] = {
		{ "", "starts with" },
		{ "drop tcp", "starts with" },
		{ "deny", "a protocol follows" },
		{ "deny gre", "unknown protocol" },
		{ "deny tcp port 23", "\"sport\" and \"dport\"" },
		{ "deny tcp dport 1 dport 2", "once each" },
		{ "deny icmp dport 1", "ports need tcp, udp or sctp" },
		{ "deny any sport 1", "ports need" },
		{ "deny tcp dport", "a port is N or N-M" },
		{ "deny tcp dport 65536", "a port is" },
		{ "deny tcp dport 9-8", "a port is" },
		{ "deny tcp dport -1", "a port is" },
		{ "deny tcp dport +1", "a port is" },
		{ "deny tcp dport 1-", "a port is" },
		{ "deny tcp dport 1x", "a port is" },
		{ "deny tcp dport 123456", "a port is" },
		{ "deny tcpudpicmpsctpanyxx", "unknown protocol" },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(*c); i++) {
		struct nlb_appliance_filter f = { 0 };
		char err[128] = "";
		cr_expect_eq(nlb_appliance_filter_add(&f, c[i].in, err, sizeof(err)), -EINVAL, "%s",
			     c[i].in);
		cr_expect(strstr(err, c[i].why), "\"%s\": \"%s\", want \"%s\"", c[i].in, err, c[i].why);
		cr_expect_eq(f.n, 0);
	}
	struct nlb_appliance_filter f = { 0 };
	for (int i = 0; i < NLB_APPLIANCE_RULES_MAX; i++)
		add_ok(&f, "deny udp");
	char err[128];
	cr_expect_eq(nlb_appliance_filter_add(&f, "deny udp", err, sizeof(err)), -ENOSPC);
}

T_UNIT(appliance_filter, first_match_decides)
{
	struct nlb_appliance_filter f = { 0 };
	add_ok(&f, "allow tcp dport 2323");
	add_ok(&f, "deny tcp dport 23");
	add_ok(&f, "deny tcp dport 2300-2399");
	add_ok(&f, "deny udp sport 53");
	add_ok(&f, "deny icmp");
	size_t r;
	struct nlb_ip_packet p = pkt(IPPROTO_TCP, 40000, 23);
	cr_expect(!nlb_appliance_filter_allows(&f, &p, &r));
	cr_expect_eq(r, 1);
	p = pkt(IPPROTO_TCP, 40000, 2323);
	cr_expect(nlb_appliance_filter_allows(&f, &p, &r));
	cr_expect_eq(r, 0);
	p = pkt(IPPROTO_TCP, 40000, 2350);
	cr_expect(!nlb_appliance_filter_allows(&f, &p, &r));
	cr_expect_eq(r, 2);
	p = pkt(IPPROTO_TCP, 23, 80);
	cr_expect(nlb_appliance_filter_allows(&f, &p, &r), "sport 23 is not dport 23");
	cr_expect_eq(r, 5, "no rule: index n");
	p = pkt(IPPROTO_UDP, 53, 40000);
	cr_expect(!nlb_appliance_filter_allows(&f, &p, &r));
	cr_expect_eq(r, 3);
	p = pkt(IPPROTO_ICMP, 0, 0);
	cr_expect(!nlb_appliance_filter_allows(&f, &p, &r));
	p = pkt(IPPROTO_ICMPV6, 0, 0);
	cr_expect(!nlb_appliance_filter_allows(&f, &p, &r), "icmp covers ICMPv6");
	/* a fragment has no ports: only rules without ports match it */
	p = pkt(IPPROTO_TCP, 40000, 23);
	p.has_ports = false;
	p.fragment = true;
	cr_expect(nlb_appliance_filter_allows(&f, &p, &r));
	cr_expect_eq(r, 5);
	struct nlb_appliance_filter any = { 0 };
	add_ok(&any, "deny tcp");
	cr_expect(!nlb_appliance_filter_allows(&any, &p, &r), "a rule without ports takes fragments");
	struct nlb_appliance_filter none = { 0 };
	cr_expect(nlb_appliance_filter_allows(&none, &p, &r), "no rules: allowed");
	cr_expect_eq(r, 0);
}
