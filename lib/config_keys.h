/* The configuration's keys: a table per section of the file, and the
 * names of enumerated values.  The tables are what the loader applies
 * (lib/config.c, through lib/config_walk.c). */
#ifndef NLB_CONFIG_KEYS_H
#define NLB_CONFIG_KEYS_H

#include <stddef.h>

#include "config_snapshot-t.h"

const char *nlb_forwarding_name(enum nlb_forwarding f);
const char *nlb_protocol_name(enum nlb_protocol p);
const char *nlb_algorithm_name(enum nlb_algorithm a);

/* The sections of the file, each with its table of keys.  stats and
 * admin are groups of the top level; a listener, a target group, a
 * target is an entry of its list; health_check is a group of a target
 * group. */
enum nlb_config_section {
	NLB_CONF_TOP = 0,
	NLB_CONF_STATS,
	NLB_CONF_ADMIN,
	NLB_CONF_LISTENER,
	NLB_CONF_GROUP,
	NLB_CONF_HEALTH,
	NLB_CONF_TARGET,
	NLB_CONF_SECTIONS,
};

struct key_spec;

/* The keys of section s, and their number in *n. */
const struct key_spec *cfg_section_keys(enum nlb_config_section s, size_t *n);

/* admin = { ... } is read into this, then checked and stored in
 * struct nlb_config (lib/config.c). */
struct admin_keys {
	char *socket;
	uint32_t mode;
};

#endif
