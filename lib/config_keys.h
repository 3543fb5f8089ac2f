/* The configuration's keys: a table per section of the file (what the
 * loader applies, lib/config.c), the names of enumerated values, and
 * what lib offers of the tables to the rest of nlb: a walk over every key
 * (type, default, range, unit, what a reload does with it) and, for a
 * reload, the keys only a restart applies. */
#ifndef NLB_CONFIG_KEYS_H
#define NLB_CONFIG_KEYS_H

#include <stdbool.h>
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
	NLB_CONF_TLS,			/* a tls listener's tls = { } */
	NLB_CONF_TLS_CERT,		/* an entry of its certificates */
	NLB_CONF_GROUP_TLS,		/* a target group's tls = { } */
	NLB_CONF_HTTP_ACTION,		/* an http listener's default_action = { } */
	NLB_CONF_ACCESS_LOG,		/* access_log = { } */
	NLB_CONF_GATEWAY,		/* an entry of gateways */
	NLB_CONF_ANNOUNCE,		/* announce = { } */
	NLB_CONF_SECTIONS,
};

/* What a reload does with a changed key. */
enum nlb_config_apply {
	NLB_CONFIG_UNDECIDED = 0,	/* a key nobody decided for: a bug */
	NLB_CONFIG_RELOADS,		/* a reload applies it */
	NLB_CONFIG_RESTARTS,		/* only a restart does; a reload keeps the running value */
};

/* One key, as nlb_config_keys_visit describes it. */
struct nlb_config_key {
	enum nlb_config_section section;
	/* The section as the file names it: "" (the top level), "stats",
	 * "admin", "listeners", "target_groups", "health_check" (in a
	 * target group), "targets" (in a target group). */
	const char *section_name;
	const char *name;
	/* "integer", "string", "boolean", "address" (a string host:port),
	 * "list" ( ), "group" { }, "prefix array" [ ]. */
	const char *type;
	enum nlb_config_apply apply;
	/* Listener keys: the protocols that have the key, a bit per enum
	 * nlb_protocol (1 << NLB_PROTO_UDP...); 0: every listener (and every
	 * key of the other sections). */
	unsigned protocols;
	bool required;
	/* The default as a file writes it (65536, "auto", true, 0600, ());
	 * "" when there is none: the key is required, or its absence means
	 * "none" (no stats endpoint, no allow list, every CPU...). */
	char def[32];
	/* integer keys: the range, and the unit ("ms", "bytes"...; NULL for
	 * a plain number). */
	bool has_range;
	long long min, max;
	const char *unit;
	/* string keys with a fixed set of values: the values. */
	const char *const *choices;
	size_t n_choices;
};

/* Calls fn for every key of every section, sections in the order of enum
 * nlb_config_section and keys in table order, until fn returns nonzero;
 * returns that value, or 0. */
typedef int nlb_config_key_fn(const struct nlb_config_key *key, void *arg);
int nlb_config_keys_visit(nlb_config_key_fn *fn, void *arg);

/* For a reload: compares running and loaded, two structs of section s
 * (struct nlb_config for NLB_CONF_TOP, NLB_CONF_STATS and NLB_CONF_ADMIN,
 * struct nlb_listener_conf, struct nlb_group_conf...), for each key of
 * s that only a restart applies.  A key whose value differs, as nlb runs
 * with it (workers and cpus as resolved, admin's mode as octal), is
 * passed to unapplied by name and set back in loaded to running's value
 * (strings are swapped, so that each struct still frees its own).  The
 * top level compares its stats and admin groups whole, as "stats" and
 * "admin".  Returns how many keys differed. */
typedef void nlb_config_unapplied_fn(const char *key, void *arg);
unsigned nlb_config_keep_restart_only(enum nlb_config_section s, void *running, void *loaded,
				      nlb_config_unapplied_fn *unapplied, void *arg);

/* For the loader (lib/config*.c): the parts of section s's keys, their
 * number in *n_parts (struct key_part is in config_keys-t.h). */
struct key_part;
const struct key_part *const *cfg_section_parts(enum nlb_config_section s, size_t *n_parts);

#endif
