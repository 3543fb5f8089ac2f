/* The loader's part for "announce" (lib/config.c calls it): the routes
 * nlb keeps for its service addresses while it can serve them
 * (doc/scaleout.md). */
#ifndef NLB_CONFIG_ANNOUNCE_H
#define NLB_CONFIG_ANNOUNCE_H

#include <libconfig.h>

#include "config_error.h"
#include "config_snapshot-t.h"

/* Reads root's announce = { } into cfg, if there is one: table (not 0,
 * not 255, the kernel's local), 1 to NLB_ANNOUNCE_MAX distinct prefixes
 * without bits past their length, withdraw_delay_ms.  0 or -errno with
 * the FILE:LINE reason. */
int cfg_load_announce(const struct cfg_loader *ld, const config_setting_t *root,
		      struct nlb_config *cfg);

#define NLB_ANNOUNCE_MAX 16

#endif
