/* How one key of the configuration file is described, as data: its type,
 * where it is stored, its range, default and unit, and what a reload does
 * with a change.  The key tables (config_keys.c) are arrays of these;
 * the walker (config_walk.c) applies them to the file.  Used only by
 * lib/config*.c: the rest of nlb sees keys through config_keys.h. */
#ifndef NLB_CONFIG_KEYS_T_H
#define NLB_CONFIG_KEYS_T_H

#include <stdbool.h>
#include <stddef.h>

#include "config_keys.h"

enum key_type {
	KEY_UINT = 1,	/* INT or INT64 in [min, max], stored in size bytes */
	KEY_ENUM,	/* string, one of names[], stored as unsigned int */
	KEY_STRING,	/* non-empty string, strdup'd into a char * */
	KEY_ADDR,	/* host:port, into struct nlb_addr + text copy */
	KEY_LIST,	/* a ( ) list; the caller walks its elements */
	KEY_CIDRS,	/* [ "10.0.0.0/8", ... ]: an nlb_acl *, NULL when empty */
	KEY_BOOL,	/* true / false, stored as unsigned int 0 or 1 */
	KEY_GROUP,	/* a { } group; the caller applies its own table */
};

/* How a reload compares and keeps a restart-only key whose running value
 * is not its field alone: one derived at load (cpus: the CPUs resolved),
 * or a group whose keys live in the top level's struct (stats, admin).
 * Both get the section's structs, running and loaded. */
struct key_running {
	bool (*differs)(const void *running, const void *loaded);
	void (*keep)(void *running, void *loaded);
};

struct key_spec {
	const char *name;
	enum key_type type;
	/* What a reload does with a change: NLB_CONFIG_UNDECIDED is a
	 * table without a decision, which the tests refuse. */
	enum nlb_config_apply apply;
	int required;
	size_t offset;		/* of the field in the section's struct */
	size_t size;		/* KEY_UINT: 4 or 8 */
	long long min, max;	/* KEY_UINT */
	long long def;		/* KEY_UINT value or KEY_ENUM index */
	const char *unit;	/* KEY_UINT: "ms", "bytes"...; NULL: a plain number */
	/* KEY_STRING: copied into the field when the key is absent; NULL:
	 * the field stays NULL (the loader resolves what that means). */
	const char *def_str;
	/* The default as a file writes it, where def does not say it:
	 * admin's mode 0600 (def is its digits), a list's (). */
	const char *def_text;
	const char *const *names;	/* KEY_ENUM */
	size_t n_names;
	size_t text_offset;	/* KEY_ADDR: char[NLB_ADDRSTRLEN] for the text */
	const struct key_running *running;	/* NULL: the field is the value */
};

#endif
