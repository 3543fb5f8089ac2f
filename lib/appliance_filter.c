/* nlb-appliance's rule list (see appliance_filter.h): a word parser and
 * a first-match walk. */
#include "appliance_filter.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	int proto;
} protos[] = {
	{ "any", -1 }, { "tcp", IPPROTO_TCP }, { "udp", IPPROTO_UDP },
	{ "icmp", IPPROTO_ICMP }, { "sctp", IPPROTO_SCTP },
};

/* The next word of *p (split on spaces and tabs) into w (cap bytes);
 * false at the end.  A word too long is cut, and so fails to match. */
static bool next_word(const char **p, char *w, size_t cap)
{
	const char *s = *p;
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = 0;
	while (*s && *s != ' ' && *s != '\t') {
		if (n + 1 < cap)
			w[n++] = *s;
		else
			n = cap;	/* marks it too long */
		s++;
	}
	*p = s;
	if (n == cap)
		w[0] = '\x01', w[1] = '\0';
	else
		w[n] = '\0';
	return n > 0;
}

/* "N" or "N-M", 0..65535, N <= M. */
static int port_range(const char *w, uint16_t *lo, uint16_t *hi)
{
	unsigned a = 0, b = 0;
	int n = 0;
	if (sscanf(w, "%5u%n", &a, &n) != 1 || w[0] < '0' || w[0] > '9')
		return -EINVAL;
	b = a;
	if (w[n] == '-') {
		const char *m = w + n + 1;
		int k = 0;
		if (*m < '0' || *m > '9' || sscanf(m, "%5u%n", &b, &k) != 1 || m[k])
			return -EINVAL;
	} else if (w[n]) {
		return -EINVAL;
	}
	if (a > 65535 || b > 65535 || a > b)
		return -EINVAL;
	*lo = (uint16_t)a;
	*hi = (uint16_t)b;
	return 0;
}

int nlb_appliance_filter_add(struct nlb_appliance_filter *f, const char *text, char *err,
			     size_t errlen)
{
	struct nlb_appliance_rule r = { .proto = -1, .sport_hi = 65535, .dport_hi = 65535 };
	const char *p = text;
	char w[16];
	if (!next_word(&p, w, sizeof(w)) || (strcmp(w, "allow") && strcmp(w, "deny"))) {
		snprintf(err, errlen, "a rule starts with \"allow\" or \"deny\"");
		return -EINVAL;
	}
	r.deny = w[0] == 'd';
	if (!next_word(&p, w, sizeof(w))) {
		snprintf(err, errlen, "a protocol follows: any, tcp, udp, icmp or sctp");
		return -EINVAL;
	}
	size_t i;
	for (i = 0; i < sizeof(protos) / sizeof(*protos); i++)
		if (!strcmp(w, protos[i].name))
			break;
	if (i == sizeof(protos) / sizeof(*protos)) {
		snprintf(err, errlen, "unknown protocol (any, tcp, udp, icmp or sctp)");
		return -EINVAL;
	}
	r.proto = protos[i].proto;
	bool sport = false, dport = false;
	while (next_word(&p, w, sizeof(w))) {
		bool is_s = !strcmp(w, "sport"), is_d = !strcmp(w, "dport");
		if ((!is_s && !is_d) || (is_s && sport) || (is_d && dport)) {
			snprintf(err, errlen, "after the protocol: \"sport\" and \"dport\", once each");
			return -EINVAL;
		}
		if (r.proto != IPPROTO_TCP && r.proto != IPPROTO_UDP && r.proto != IPPROTO_SCTP) {
			snprintf(err, errlen, "ports need tcp, udp or sctp");
			return -EINVAL;
		}
		if (!next_word(&p, w, sizeof(w)) ||
		    port_range(w, is_s ? &r.sport_lo : &r.dport_lo, is_s ? &r.sport_hi : &r.dport_hi)) {
			snprintf(err, errlen, "a port is N or N-M, 0 to 65535");
			return -EINVAL;
		}
		sport |= is_s;
		dport |= is_d;
	}
	if (f->n >= NLB_APPLIANCE_RULES_MAX) {
		snprintf(err, errlen, "at most %d rules", NLB_APPLIANCE_RULES_MAX);
		return -ENOSPC;
	}
	f->rule[f->n++] = r;
	return 0;
}

static bool rule_matches(const struct nlb_appliance_rule *r, const struct nlb_ip_packet *pkt)
{
	int proto = pkt->l4_proto == IPPROTO_ICMPV6 ? IPPROTO_ICMP : pkt->l4_proto;
	if (r->proto >= 0 && r->proto != proto)
		return false;
	bool any_port = r->sport_lo == 0 && r->sport_hi == 65535 && r->dport_lo == 0 &&
			r->dport_hi == 65535;
	if (any_port)
		return true;
	if (!pkt->has_ports || pkt->icmp_error)
		return false;
	uint16_t s = ntohs(pkt->flow.sport), d = ntohs(pkt->flow.dport);
	return s >= r->sport_lo && s <= r->sport_hi && d >= r->dport_lo && d <= r->dport_hi;
}

bool nlb_appliance_filter_allows(const struct nlb_appliance_filter *f,
				 const struct nlb_ip_packet *pkt, size_t *rule)
{
	for (size_t i = 0; i < f->n; i++)
		if (rule_matches(&f->rule[i], pkt)) {
			*rule = i;
			return !f->rule[i].deny;
		}
	*rule = f->n;
	return true;
}

static int ports_text(char *out, size_t cap, const char *key, uint16_t lo, uint16_t hi)
{
	if (lo == 0 && hi == 65535)
		return 0;
	if (lo == hi)
		return snprintf(out, cap, " %s %u", key, lo);
	return snprintf(out, cap, " %s %u-%u", key, lo, hi);
}

void nlb_appliance_rule_text(const struct nlb_appliance_rule *r,
			     char out[NLB_APPLIANCE_RULE_TEXT])
{
	const char *proto = "any";
	for (size_t i = 0; i < sizeof(protos) / sizeof(*protos); i++)
		if (protos[i].proto == r->proto)
			proto = protos[i].name;
	int n = snprintf(out, NLB_APPLIANCE_RULE_TEXT, "%s %s", r->deny ? "deny" : "allow", proto);
	n += ports_text(out + n, NLB_APPLIANCE_RULE_TEXT - (size_t)n, "sport", r->sport_lo,
			r->sport_hi);
	ports_text(out + n, NLB_APPLIANCE_RULE_TEXT - (size_t)n, "dport", r->dport_lo, r->dport_hi);
}
