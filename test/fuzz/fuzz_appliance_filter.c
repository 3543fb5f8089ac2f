/* libFuzzer target for nlb-appliance's rules (lib/appliance_filter.c):
 * their parser and their matching of packets.  An input is rule text up
 * to its first '\0' (a rule per line), then an IP packet.  Any line is a
 * rule or a refusal with a reason; an accepted rule's canonical text
 * parses back to the same rule, and its ranges are ordered.  A packet
 * lib/ip_packet.c reads gets the verdict of a reference written here
 * from the header's description: rules in order, the first that matches
 * decides, none matching allows; "icmp" is ICMP and ICMPv6; a rule with
 * ports matches only a packet that has its own ports. */
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "appliance_filter.h"
#include "ip_packet.h"

#define CHECK(cond) do {						\
		if (!(cond)) {						\
			fprintf(stderr, "fuzz_appliance_filter: %s:%d: %s\n", \
				__FILE__, __LINE__, #cond);		\
			abort();					\
		}							\
	} while (0)

/* Adds one line to f, checking the parser's contract on it. */
static void add_rule(struct nlb_appliance_filter *f, const char *text)
{
	static struct nlb_appliance_filter g;
	size_t before = f->n;
	char err[128] = "";
	int r = nlb_appliance_filter_add(f, text, err, sizeof(err));
	if (r < 0) {
		CHECK(f->n == before);
		CHECK((r == -EINVAL && err[0]) ||
		      (r == -ENOSPC && before == NLB_APPLIANCE_RULES_MAX));
		return;
	}
	CHECK(r == 0 && f->n == before + 1);
	const struct nlb_appliance_rule *u = &f->rule[before];
	CHECK(u->sport_lo <= u->sport_hi && u->dport_lo <= u->dport_hi);
	char canon[NLB_APPLIANCE_RULE_TEXT];
	nlb_appliance_rule_text(u, canon);
	g.n = 0;
	if (nlb_appliance_filter_add(&g, canon, err, sizeof(err)) != 0 ||
	    memcmp(u, &g.rule[0], sizeof(*u)) != 0) {
		fprintf(stderr, "fuzz_appliance_filter: \"%s\" -> \"%s\" does not round trip\n", text,
			canon);
		abort();
	}
}

static bool reference_matches(const struct nlb_appliance_rule *r, const struct nlb_ip_packet *p)
{
	if (r->proto >= 0) {
		bool icmp = p->l4_proto == IPPROTO_ICMP || p->l4_proto == IPPROTO_ICMPV6;
		if (r->proto == IPPROTO_ICMP ? !icmp : r->proto != p->l4_proto)
			return false;
	}
	if (r->sport_lo == 0 && r->sport_hi == 65535 && r->dport_lo == 0 && r->dport_hi == 65535)
		return true;
	if (!p->has_ports || p->icmp_error || p->fragment)
		return false;
	unsigned s = ntohs(p->flow.sport), d = ntohs(p->flow.dport);
	return r->sport_lo <= s && s <= r->sport_hi && r->dport_lo <= d && d <= r->dport_hi;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct nlb_appliance_filter f;
	f.n = 0;
	const uint8_t *nul = memchr(data, '\0', size);
	size_t text_len = nul ? (size_t)(nul - data) : size;
	char *text = malloc(text_len + 1);
	CHECK(text != NULL);
	memcpy(text, data, text_len);
	text[text_len] = '\0';
	for (char *line = text, *next; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		add_rule(&f, line);
	}
	free(text);

	if (!nul)
		return 0;
	struct nlb_ip_packet pkt;
	if (nlb_ip_packet_parse(nul + 1, size - text_len - 1, &pkt) != 0)
		return 0;
	size_t rule = SIZE_MAX, want = f.n;
	bool allowed = nlb_appliance_filter_allows(&f, &pkt, &rule);
	for (size_t i = 0; i < f.n && want == f.n; i++)
		if (reference_matches(&f.rule[i], &pkt))
			want = i;
	CHECK(rule == want);
	CHECK(allowed == (want == f.n || !f.rule[want].deny));
	return 0;
}
