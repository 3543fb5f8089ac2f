/* Loading gateways (config_gateway.h). */
#include "config_gateway.h"

#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_keys-t.h"
#include "config_walk.h"
#include "tunables.h"

/* An id as AWS prints them, hexadecimal with 0x ("0x0123456789abcdef"),
 * or decimal; 64 bits. */
static int read_id(const char *text, uint64_t *out)
{
	const char *p = text;
	int base = 10;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		p += 2;
		base = 16;
	}
	if (!*p || strlen(p) > (base == 16 ? 16u : 20u))
		return -EINVAL;
	uint64_t v = 0;
	for (; *p; p++) {
		unsigned d;
		if (*p >= '0' && *p <= '9')
			d = (unsigned)(*p - '0');
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			d = (unsigned)(*p - 'a' + 10);
		else if (base == 16 && *p >= 'A' && *p <= 'F')
			d = (unsigned)(*p - 'A' + 10);
		else
			return -EINVAL;
		if (base == 10 && v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * (uint64_t)base + d;
	}
	*out = v;
	return 0;
}

/* What a geneve group cannot have: a PROXY header or TLS would change
 * the packets an appliance must return as they came. */
static int check_group(const struct cfg_loader *ld, const config_setting_t *g,
		       const struct nlb_group_conf *grp, const char *label)
{
	if (!grp->protocol_text || grp->protocol != NLB_GROUP_GENEVE)
		return cfg_fail(ld, cfg_member_or(g, "target_group"), "%s: target group \"%s\" "
				"must have protocol = \"geneve\" (its targets are appliances)",
				label, grp->name);
	if (grp->proxy_protocol != NLB_PP_NONE || grp->tls.enabled)
		return cfg_fail_line(ld, (unsigned)grp->line, "%s: a geneve group sends packets "
				     "as they came: no \"proxy_protocol\", no \"tls\"", label);
	return 0;
}

static int load_gateway(const struct cfg_loader *ld, const config_setting_t *g,
			struct nlb_config *cfg, struct nlb_listener_conf *l)
{
	char label[LABEL_LEN], prefix[LABEL_LEN + 32], where[LABEL_LEN + 32];
	int r;
	l->line = config_setting_source_line(g);
	l->protocol = NLB_PROTO_GATEWAY;
	if ((r = cfg_read_name(ld, g, "gateway", label, sizeof(label))) < 0)
		return r;
	snprintf(prefix, sizeof(prefix), "%s: ", label);
	snprintf(where, sizeof(where), "in %s", label);
	const struct cfg_section sec = { prefix, where, "gateway" };
	if ((r = cfg_apply_keys(ld, &sec, NLB_CONF_GATEWAY, g, l)) < 0)
		return r;
	size_t tl = strlen(l->gw.tun);
	if (tl >= IFNAMSIZ || strchr(l->gw.tun, '/') || strchr(l->gw.tun, ' ') ||
	    !strcmp(l->gw.tun, ".") || !strcmp(l->gw.tun, ".."))
		return cfg_fail(ld, cfg_member_or(g, "tun"), "%s: \"tun\" is an interface name "
				"of 1 to %d characters without '/' or spaces, not \"%s\"", label,
				IFNAMSIZ - 1, l->gw.tun);
	if (read_id(l->gw.endpoint_text, &l->gw.endpoint_id) < 0)
		return cfg_fail(ld, cfg_member_or(g, "endpoint_id"), "%s: \"endpoint_id\" is a "
				"64-bit number, 0x and hex digits or decimal, not \"%s\"", label,
				l->gw.endpoint_text);
	if (read_id(l->gw.attachment_text, &l->gw.attachment_id) < 0)
		return cfg_fail(ld, cfg_member_or(g, "attachment_id"), "%s: \"attachment_id\" is "
				"a 64-bit number, 0x and hex digits or decimal, not \"%s\"", label,
				l->gw.attachment_text);
	for (const struct nlb_listener_conf *o = cfg->listeners; o < l; o++) {
		bool gw = o->protocol == NLB_PROTO_GATEWAY;
		if (strcmp(o->name, l->name) == 0)
			return cfg_fail(ld, cfg_member_or(g, "name"), "%s: the name is taken by the "
					"%s at line %d", label, gw ? "gateway" : "listener", o->line);
		if ((gw || nlb_proto_udp(o->protocol)) && nlb_addr_equal(&o->addr, &l->addr))
			return cfg_fail(ld, cfg_member_or(g, "address"), "%s: address \"%s\" is "
					"already used by %s \"%s\" (line %d)", label, l->addr_text,
					gw ? "gateway" : "listener", o->name, o->line);
		if (gw && strcmp(o->gw.tun, l->gw.tun) == 0)
			return cfg_fail(ld, cfg_member_or(g, "tun"), "%s: tun \"%s\" is already "
					"gateway \"%s\"'s (line %d)", label, l->gw.tun, o->name,
					o->line);
	}
	size_t gi;
	for (gi = 0; gi < cfg->n_groups; gi++)
		if (strcmp(cfg->groups[gi].name, l->target_group) == 0)
			break;
	if (gi == cfg->n_groups)
		return cfg_fail(ld, cfg_member_or(g, "target_group"), "%s: unknown target_group "
				"\"%s\"", label, l->target_group);
	l->group = gi;
	cfg->groups[gi].listener_protocols |= 1u << NLB_PROTO_GATEWAY;
	return check_group(ld, g, &cfg->groups[gi], label);
}

int cfg_load_gateways(const struct cfg_loader *ld, const config_setting_t *root,
		      struct nlb_config *cfg)
{
	config_setting_t *list;
	size_t n;
	int r = cfg_get_list(ld, root, "gateways", "gateway", &list, &n);
	if (r < 0 || n == 0)
		return r;
	size_t base = cfg->n_listeners;
	if (base + n > NLB_MAX_LISTENERS)
		return cfg_fail(ld, list, "%zu listeners and gateways, more than %u", base + n,
				NLB_MAX_LISTENERS);
	struct nlb_listener_conf *ls = realloc(cfg->listeners, (base + n) * sizeof(*ls));
	if (!ls)
		return cfg_fail_nomem(ld);
	cfg->listeners = ls;
	memset(ls + base, 0, n * sizeof(*ls));
	for (size_t i = 0; i < n; i++) {
		cfg->n_listeners = base + i + 1;
		r = load_gateway(ld, config_setting_get_elem(list, (unsigned)i), cfg, &ls[base + i]);
		if (r < 0)
			return r;
	}
	return 0;
}

void cfg_gateway_free(struct nlb_gateway_conf *gw)
{
	free(gw->tun);
	free(gw->endpoint_text);
	free(gw->attachment_text);
	memset(gw, 0, sizeof(*gw));
}
