/* The loader's part for an http listener's rules = ( ... ): each rule's
 * conditions and action read, checked with file:line errors, and built
 * into lib/http_rules.h's form (lib/config.c calls it once the
 * listener's default group is known). */
#ifndef NLB_CONFIG_RULES_H
#define NLB_CONFIG_RULES_H

#include <libconfig.h>

#include "config_error.h"
#include "config_snapshot-t.h"

/* Builds l->http.rules from g's "rules" (none: NULL).  0, -EINVAL or
 * -ENOMEM. */
int cfg_listener_rules(const struct cfg_loader *ld, const config_setting_t *g,
		       struct nlb_config *cfg, struct nlb_listener_conf *l, const char *label);

#endif
