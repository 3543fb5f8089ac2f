/* The loader's part for http listeners and the protocol of target groups
 * (lib/config.c calls these): default_action, and the table of which
 * listener protocol goes with which group protocol and keys. */
#ifndef NLB_CONFIG_HTTP_H
#define NLB_CONFIG_HTTP_H

#include <libconfig.h>

#include "config_error.h"
#include "config_snapshot-t.h"

/* A group's "protocol", when written: into grp->protocol.  0 or -EINVAL. */
int cfg_group_protocol(const struct cfg_loader *ld, const config_setting_t *g,
		       struct nlb_group_conf *grp, const char *label);

/* An http listener's default_action (its group's name into
 * l->target_group) and the keys it may not have; any other listener's
 * target_group, which it must have.  0, -EINVAL or -ENOMEM. */
int cfg_listener_action(const struct cfg_loader *ld, const config_setting_t *g,
			struct nlb_listener_conf *l, const char *label);

/* Listener l uses group grp: the two must go together (doc/http.md's
 * table); a group without "protocol" takes its listeners'.  0 or -EINVAL. */
int cfg_listener_group_pair(const struct cfg_loader *ld, const config_setting_t *g,
			    const struct nlb_listener_conf *l, struct nlb_group_conf *grp,
			    const char *label);

/* access_log's path: absolute, in a directory the loading user (root at
 * start, "user" on reloads) may create files in.  0 or -EINVAL. */
int cfg_access_log_dir(const struct cfg_loader *ld, const struct nlb_config *cfg);

#endif
