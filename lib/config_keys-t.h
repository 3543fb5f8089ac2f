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
#include "config_snapshot-t.h"

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


/* A section's keys come in parts: a listener's common ones, then each
 * protocol module's own (config_keys_tcp.c, config_keys_udp.c), so a new
 * kind of listener brings its keys in a file of its own and one line in
 * the section's list.  protocols: the listener protocols a part serves,
 * a bit per enum nlb_protocol (0: every one, and every other section). */
struct key_part {
	const struct key_spec *keys;
	size_t n;
	unsigned protocols;
};

#define NLB_PROTO_BIT(p) (1u << (p))

/* Each listener protocol's own part (config_keys_tcp.c, config_keys_udp.c). */
extern const struct key_part nlb_tcp_listener_keys;
extern const struct key_part nlb_udp_listener_keys;
extern const struct key_part nlb_tls_listener_keys;
/* TLS's sections (config_keys_tls.c). */
extern const struct key_part nlb_tls_keys;
extern const struct key_part nlb_tls_cert_keys;
extern const struct key_part nlb_group_tls_keys;
extern const struct key_part nlb_http_listener_keys;
extern const struct key_part nlb_http_action_keys;
extern const struct key_part nlb_access_log_keys;
extern const struct key_part nlb_gateway_keys;
extern const struct key_part nlb_announce_keys;

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Every key says what a reload does with it (ap: RELOAD or RESTART). */
#define RELOAD NLB_CONFIG_RELOADS
#define RESTART NLB_CONFIG_RESTARTS

#define UINT_KEY(s, field, lo, hi, dflt, u, ap) {			\
	.name = #field, .type = KEY_UINT, .apply = (ap),		\
	.offset = offsetof(s, field), .size = sizeof(((s *)0)->field),	\
	.min = (lo), .max = (hi), .def = (dflt), .unit = (u) }
/* The same for a field inside a member struct (http.xff): the key is
 * named apart from the field's path. */
#define UINT_KEY_AS(s, key, field, lo, hi, dflt, u, ap) {		\
	.name = (key), .type = KEY_UINT, .apply = (ap),			\
	.offset = offsetof(s, field), .size = sizeof(((s *)0)->field),	\
	.min = (lo), .max = (hi), .def = (dflt), .unit = (u) }
#define ENUM_KEY_AS(s, key, field, table, dflt, ap) {			\
	.name = (key), .type = KEY_ENUM, .apply = (ap),			\
	.offset = offsetof(s, field), .names = (table),			\
	.n_names = ARRAY_LEN(table), .def = (dflt) }
#define ENUM_KEY(s, field, table, dflt, ap) {				\
	.name = #field, .type = KEY_ENUM, .apply = (ap),		\
	.offset = offsetof(s, field), .names = (table),			\
	.n_names = ARRAY_LEN(table), .def = (dflt) }
#define STRING_KEY(s, key, field, ap) {					\
	.name = (key), .type = KEY_STRING, .apply = (ap), .required = 1,	\
	.offset = offsetof(s, field) }
#define ADDR_KEY(s, field, text, ap) {					\
	.name = "address", .type = KEY_ADDR, .apply = (ap), .required = 1,	\
	.offset = offsetof(s, field), .text_offset = offsetof(s, text) }
#define LIST_KEY(key, ap) {						\
	.name = (key), .type = KEY_LIST, .apply = (ap), .def_text = "()" }
#define BOOL_KEY(s, field, dflt, ap) {					\
	.name = #field, .type = KEY_BOOL, .apply = (ap),		\
	.offset = offsetof(s, field), .def = (dflt) }
#define GROUP_KEY(key, ap) { .name = (key), .type = KEY_GROUP, .apply = (ap) }
#define CIDRS_KEY(s, field, ap) {					\
	.name = #field, .type = KEY_CIDRS, .apply = (ap),		\
	.offset = offsetof(s, field) }
/* An optional string: dflt is copied in when it is absent, or with NULL
 * the field stays NULL and the section's loader says what that means. */
#define OPT_STRING_KEY(s, key, field, dflt, ap) {			\
	.name = (key), .type = KEY_STRING, .apply = (ap),		\
	.offset = offsetof(s, field), .def_str = (dflt) }

#endif
