/* The loader's part for gateways (lib/config.c calls it): the entries of
 * "gateways", each kept as a listener of protocol gateway after the
 * listeners, with its group, which must be a geneve group. */
#ifndef NLB_CONFIG_GATEWAY_H
#define NLB_CONFIG_GATEWAY_H

#include <libconfig.h>

#include "config_error.h"
#include "config_snapshot-t.h"

/* Appends the gateways of root to cfg->listeners (after the listeners,
 * whose names and addresses they must not repeat).  0, -EINVAL or
 * -ENOMEM. */
int cfg_load_gateways(const struct cfg_loader *ld, const config_setting_t *root,
		      struct nlb_config *cfg);

/* Frees what a gateway adds to its listener struct. */
void cfg_gateway_free(struct nlb_gateway_conf *gw);

#endif
