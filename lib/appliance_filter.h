/* The rule list of nlb-appliance, the reference GENEVE appliance for
 * gateway mode: lines such as "deny tcp dport 23", "deny udp",
 * "allow icmp", "deny any", "deny tcp dport 8000-8099 sport 1024-65535",
 * tried in order; the first that matches decides, and a packet no rule
 * matches is allowed.  Pure: parsed from text, matched against a packet
 * that lib/ip_packet.c read. */
#ifndef NLB_APPLIANCE_FILTER_H
#define NLB_APPLIANCE_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ip_packet.h"

#define NLB_APPLIANCE_RULES_MAX 64
/* The longest text of one rule nlb_appliance_rule_text writes. */
#define NLB_APPLIANCE_RULE_TEXT 64

struct nlb_appliance_rule {
	bool deny;
	int proto;			/* IPPROTO_*, -1: any; "icmp" is ICMP and ICMPv6 */
	uint16_t sport_lo, sport_hi;	/* 0-65535: any */
	uint16_t dport_lo, dport_hi;
};

struct nlb_appliance_filter {
	struct nlb_appliance_rule rule[NLB_APPLIANCE_RULES_MAX];
	size_t n;
};

/* Adds the rule text (one rule) at the end.  0, -EINVAL with why in err
 * (errlen bytes), or -ENOSPC past NLB_APPLIANCE_RULES_MAX rules. */
int nlb_appliance_filter_add(struct nlb_appliance_filter *f, const char *text, char *err,
			     size_t errlen);

/* Whether pkt passes; *rule is the index of the rule that decided, or
 * f->n when none matched.  A rule with ports matches only packets that
 * have ports (not fragments, not ICMP errors). */
bool nlb_appliance_filter_allows(const struct nlb_appliance_filter *f,
				 const struct nlb_ip_packet *pkt, size_t *rule);

/* The canonical text of r ("deny tcp dport 23"), which parses back to r. */
void nlb_appliance_rule_text(const struct nlb_appliance_rule *r,
			     char out[NLB_APPLIANCE_RULE_TEXT]);

#endif
