/* The table walker: applies a section's key table (lib/config_keys.c) to
 * a libconfig group, and the small readers the loader's sections share
 * (lists of groups, names).  Errors as lib/config_error.h writes them. */
#ifndef NLB_CONFIG_WALK_H
#define NLB_CONFIG_WALK_H

#include <libconfig.h>
#include <stddef.h>

#include "config_error.h"
#include "config_keys.h"

/* How a section names itself in messages.  prefix starts value errors
 * ("listener \"web\": "), where ends unknown-key errors ("in listener
 * \"web\""), who starts missing-key errors ("listener"). */
struct cfg_section {
	const char *prefix;
	const char *where;
	const char *who;
};

/* "target group \"<name up to 200 bytes>\"" fits. */
#define LABEL_LEN 240

/* Applies section's key table to the group setting g, writing into base
 * (the section's struct): refuses keys the table does not know, checks
 * and stores the ones present in file order (so the first error reported
 * is the first in the file), then fills defaults and refuses missing
 * required keys.  0, -EINVAL or -ENOMEM. */
int cfg_apply_keys(const struct cfg_loader *ld, const struct cfg_section *sec,
		   enum nlb_config_section section, const config_setting_t *g, void *base);

/* Sets *out to the list named key in g (NULL when absent: an empty list)
 * and *n to its length, after cfg_apply_keys has checked its type; every
 * element must be a group (elem_name names one in the error). */
int cfg_get_list(const struct cfg_loader *ld, const config_setting_t *g, const char *key,
		 const char *elem_name, config_setting_t **out, size_t *n);

/* g's member key, or g itself when it has none: where an error about key
 * points. */
const config_setting_t *cfg_member_or(const config_setting_t *g, const char *key);

/* Reads the "name" of a listener or group before its other keys, into
 * label as 'kind "name"', so that every later message can say which one
 * is wrong. */
int cfg_read_name(const struct cfg_loader *ld, const config_setting_t *g, const char *kind,
		  char *label, size_t len);

#endif
