/* How one key of the configuration file is described, as data: its
 * type, where it is stored, its range and default.  The key tables
 * (lib/config_keys.c) are arrays of these; the walker (lib/config_walk.c)
 * applies them to the file. */
#ifndef NLB_KEY_SPEC_T_H
#define NLB_KEY_SPEC_T_H

#include <stddef.h>

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

struct key_spec {
	const char *name;
	enum key_type type;
	int required;
	size_t offset;		/* of the field in the section's struct */
	size_t size;		/* KEY_UINT: 4 or 8 */
	long long min, max;	/* KEY_UINT */
	long long def;		/* KEY_UINT value or KEY_ENUM index */
	const char *const *names;	/* KEY_ENUM */
	size_t n_names;
	size_t text_offset;	/* KEY_ADDR: char[NLB_ADDRSTRLEN] for the text */
};

#endif
