/* Loading announce = { } (config_announce.h). */
#include "config_announce.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config_keys-t.h"
#include "config_walk.h"

/* The table is required: which one BIRD learns is the operator's to say
 * (doc/scaleout.md uses 100).  Two seconds let a router with BFD move new
 * flows away before nlb stops accepting. */
static const struct key_spec keys[] = {
	{ .name = "table", .type = KEY_UINT, .apply = RESTART, .required = 1,
	  .offset = offsetof(struct nlb_config, announce_table),
	  .size = sizeof(((struct nlb_config *)0)->announce_table), .min = 1,
	  .max = 4294967295LL },
	{ .name = "prefixes", .type = KEY_LIST, .apply = RESTART, .required = 1 },
	UINT_KEY_AS(struct nlb_config, "withdraw_delay_ms", announce_withdraw_delay_ms, 0, 600000, 2000,
		    "ms", RESTART),
};

const struct key_part nlb_announce_keys = { keys, ARRAY_LEN(keys), 0 };

int cfg_load_announce(const struct cfg_loader *ld, const config_setting_t *root,
		      struct nlb_config *cfg)
{
	const config_setting_t *g = config_setting_get_member(root, "announce");
	if (!g)
		return 0;
	const struct cfg_section sec = { "announce: ", "in announce", "announce" };
	int r = cfg_apply_keys(ld, &sec, NLB_CONF_ANNOUNCE, g, cfg);
	if (r < 0)
		return r;
	cfg->announce_enabled = 1;
	cfg->announce_line = config_setting_source_line(g);
	if (cfg->announce_table == 255)
		return cfg_fail(ld, cfg_member_or(g, "table"), "announce: \"table\" 255 is the "
				"kernel's local table: name another (100, say)");
	const config_setting_t *list = config_setting_get_member(g, "prefixes");
	unsigned n = (unsigned)config_setting_length(list);
	if (n == 0 || n > NLB_ANNOUNCE_MAX)
		return cfg_fail(ld, list, "announce: \"prefixes\" lists 1 to %d prefixes, not %u",
				NLB_ANNOUNCE_MAX, n);
	if (!(cfg->announce_prefixes = calloc(n, sizeof(*cfg->announce_prefixes))))
		return cfg_fail_nomem(ld);
	for (unsigned i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(list, i);
		const char *text = config_setting_get_string(e);
		struct nlb_announce_prefix *p = &cfg->announce_prefixes[i];
		if (!text || strlen(text) >= sizeof(p->text) ||
		    nlb_prefix_parse(text, &p->route) < 0)
			return cfg_fail(ld, e, "announce: \"%s\" is not a prefix (\"203.0.113.10/32\", "
					"\"2001:db8::10/128\"; no bit set past its length)",
					text ? text : "(not a string)");
		snprintf(p->text, sizeof(p->text), "%s", text);
		for (unsigned k = 0; k < i; k++) {
			const struct nlb_route *q = &cfg->announce_prefixes[k].route;
			if (q->family == p->route.family && q->len == p->route.len &&
			    !memcmp(q->dst, p->route.dst, sizeof(q->dst)))
				return cfg_fail(ld, e, "announce: \"%s\" is listed twice", text);
		}
		cfg->n_announce = i + 1;
	}
	return 0;
}
