/* Loads a libconfig file into struct nlb_config and validates it whole.
 * Each key is described once, as data, in a table per section; one walker
 * applies the tables and reports the first error as "FILE:LINE: message". */
#include "config.h"

#include "acl.h"

#include "maglev.h"
#include "tunables.h"
#include "tuple_hash.h"

#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- names of enumerated values ---------------------------------------- */

/* Indexed by enum value, so a table lookup is the conversion both ways. */
static const char *const forwarding_names[] = {
	[NLB_FWD_AUTO] = "auto",
	[NLB_FWD_SPLICE] = "splice",
	[NLB_FWD_COPY] = "copy",
};

static const char *const protocol_names[] = {
	[NLB_PROTO_TCP] = "tcp",
	[NLB_PROTO_UDP] = "udp",
	[NLB_PROTO_TCP_UDP] = "tcp_udp",
};

static const char *const algorithm_names[] = {
	[NLB_ALG_MAGLEV] = "maglev",
	[NLB_ALG_ROUND_ROBIN] = "round_robin",
	[NLB_ALG_LEAST_CONN] = "least_conn",
	[NLB_ALG_RANDOM2] = "random2",
};

static const char *const hash_field_names[] = {
	[NLB_HASH_5TUPLE] = "5tuple",
	[NLB_HASH_SOURCE_IP] = "source_ip",
};

/* Same order as enum nlb_log_level; log.c owns the names, but the key
 * table needs them as an array to list the choices in an error. */
static const char *const proxy_protocol_names[] = {
	[NLB_PP_NONE] = "none",
	[NLB_PP_V1] = "v1",
	[NLB_PP_V2] = "v2",
};
_Static_assert(sizeof(enum nlb_proxy_protocol) == sizeof(unsigned int), "enum size");

static const char *const log_level_names[] = {
	[NLB_LOG_ERROR] = "error",
	[NLB_LOG_WARN] = "warn",
	[NLB_LOG_INFO] = "info",
	[NLB_LOG_DEBUG] = "debug",
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Enum fields are written through an unsigned int; that is only sound
 * while the compiler gives these enums that size. */
_Static_assert(sizeof(enum nlb_forwarding) == sizeof(unsigned int), "enum size");
_Static_assert(sizeof(enum nlb_protocol) == sizeof(unsigned int), "enum size");
_Static_assert(sizeof(enum nlb_algorithm) == sizeof(unsigned int), "enum size");
_Static_assert(sizeof(enum nlb_hash_fields) == sizeof(unsigned int), "enum size");
_Static_assert(sizeof(enum nlb_log_level) == sizeof(unsigned int), "enum size");

static const char *enum_name(const char *const *names, size_t n, unsigned v)
{
	return v < n ? names[v] : "?";
}

const char *nlb_forwarding_name(enum nlb_forwarding f)
{
	return enum_name(forwarding_names, ARRAY_LEN(forwarding_names), f);
}

const char *nlb_protocol_name(enum nlb_protocol p)
{
	return enum_name(protocol_names, ARRAY_LEN(protocol_names), p);
}

const char *nlb_algorithm_name(enum nlb_algorithm a)
{
	return enum_name(algorithm_names, ARRAY_LEN(algorithm_names), a);
}

/* ---- the key tables ------------------------------------------------------ */

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

#define UINT_KEY(s, field, lo, hi, dflt) {				\
	.name = #field, .type = KEY_UINT, .offset = offsetof(s, field),	\
	.size = sizeof(((s *)0)->field), .min = (lo), .max = (hi),	\
	.def = (dflt) }
#define ENUM_KEY(s, field, table, dflt) {				\
	.name = #field, .type = KEY_ENUM, .offset = offsetof(s, field),	\
	.names = (table), .n_names = ARRAY_LEN(table), .def = (dflt) }
#define STRING_KEY(s, key, field) {					\
	.name = (key), .type = KEY_STRING, .required = 1,		\
	.offset = offsetof(s, field) }
#define ADDR_KEY(s, field, text) {					\
	.name = "address", .type = KEY_ADDR, .required = 1,		\
	.offset = offsetof(s, field), .text_offset = offsetof(s, text) }
#define LIST_KEY(key) { .name = (key), .type = KEY_LIST }
#define BOOL_KEY(s, field, dflt) {					\
	.name = #field, .type = KEY_BOOL, .offset = offsetof(s, field),	\
	.def = (dflt) }
#define GROUP_KEY(key) { .name = (key), .type = KEY_GROUP }
#define CIDRS_KEY(s, field) {						\
	.name = #field, .type = KEY_CIDRS, .offset = offsetof(s, field) }
/* An optional string; its default is filled by the section's loader. */
#define OPT_STRING_KEY(s, key, field) {					\
	.name = (key), .type = KEY_STRING, .offset = offsetof(s, field) }

/* The upper bound on workers keeps per-worker arrays sane; the CPU count
 * that 0 resolves to is capped to the same value.  cpus is checked and
 * resolved by load_cpus. */
static const struct key_spec top_keys[] = {
	UINT_KEY(struct nlb_config, workers, 0, NLB_CONFIG_MAX_WORKERS, 0),
	OPT_STRING_KEY(struct nlb_config, "cpus", cpus_text),
	ENUM_KEY(struct nlb_config, log_level, log_level_names, NLB_LOG_INFO),
	UINT_KEY(struct nlb_config, shutdown_timeout_ms, 0, 3600000, 10000),
	ENUM_KEY(struct nlb_config, forwarding, forwarding_names, NLB_FWD_AUTO),
	/* 65536 flows per worker: about 6 MiB of address space, touched
	 * only as flows arrive. */
	UINT_KEY(struct nlb_config, flow_table_size, 1024, 16777216, 65536),
	/* The largest UDP datagram forwarded; larger ones are dropped and
	 * counted.  At 65535 (any datagram) GRO batches fit the buffers too,
	 * so nlb receives and forwards them whole; below it GRO is off. */
	UINT_KEY(struct nlb_config, udp_max_datagram, 512, 65535, 65535),
	/* Off only to measure what it gains, or around a kernel bug. */
	BOOL_KEY(struct nlb_config, udp_gro, 1),
	GROUP_KEY("stats"),
	GROUP_KEY("admin"),
	OPT_STRING_KEY(struct nlb_config, "user", user),
	OPT_STRING_KEY(struct nlb_config, "group", group),
	BOOL_KEY(struct nlb_config, allow_root, 0),
	LIST_KEY("listeners"),
	LIST_KEY("target_groups"),
};

struct admin_keys {
	char *socket;
	uint32_t mode;
};

static const struct key_spec stats_keys[] = {
	{ .name = "listen", .type = KEY_ADDR, .required = 1,
	  .offset = offsetof(struct nlb_config, stats_listen),
	  .text_offset = offsetof(struct nlb_config, stats_listen_text) },
};

/* mode is read as libconfig gives it: 1.5 drops the leading zero of
 * 0600 and reads 600 in decimal, so the digits are taken as octal. */
static const struct key_spec admin_keys[] = {
	STRING_KEY(struct admin_keys, "socket", socket),
	UINT_KEY(struct admin_keys, mode, 0, 777, 600),
};

/* idle_timeout_ms default is AWS NLB's 350 s, so clients tuned for that
 * keep working; the maximum is one day. */
static const struct key_spec listener_keys[] = {
	STRING_KEY(struct nlb_listener_conf, "name", name),
	ENUM_KEY(struct nlb_listener_conf, protocol, protocol_names, NLB_PROTO_TCP),
	ADDR_KEY(struct nlb_listener_conf, addr, addr_text),
	STRING_KEY(struct nlb_listener_conf, "target_group", target_group),
	UINT_KEY(struct nlb_listener_conf, idle_timeout_ms, 1, 86400000, 350000),
	UINT_KEY(struct nlb_listener_conf, max_connections, 0, 10000000, 0),
	/* UDP: the AWS NLB's 120 s flow idle timeout; flows held at once
	 * (each costs a socket to its target). */
	UINT_KEY(struct nlb_listener_conf, udp_idle_timeout_ms, 1, 86400000, 120000),
	UINT_KEY(struct nlb_listener_conf, max_flows, 1, 10000000, 100000),
	/* Behind another balancer: HAProxy's accept-proxy and its 3 s
	 * default for a client to send the header. */
	BOOL_KEY(struct nlb_listener_conf, accept_proxy_protocol, 0),
	UINT_KEY(struct nlb_listener_conf, proxy_protocol_timeout_ms, 1, 60000, 3000),
	UINT_KEY(struct nlb_listener_conf, max_connections_per_source, 0, 10000000, 0),
	UINT_KEY(struct nlb_listener_conf, new_connections_per_source_per_s, 0, 10000000, 0),
	CIDRS_KEY(struct nlb_listener_conf, allow),
	CIDRS_KEY(struct nlb_listener_conf, deny),
};

static const struct key_spec group_keys[] = {
	STRING_KEY(struct nlb_group_conf, "name", name),
	ENUM_KEY(struct nlb_group_conf, algorithm, algorithm_names, NLB_ALG_MAGLEV),
	UINT_KEY(struct nlb_group_conf, connect_timeout_ms, 1, 600000, 2000),
	UINT_KEY(struct nlb_group_conf, connect_retries, 0, 16, 2),
	/* 65537, as in the Maglev paper and Katran: a prime above 100 x
	 * targets keeps imbalance near 1% up to 655 targets. */
	UINT_KEY(struct nlb_group_conf, maglev_table_size, 2, NLB_MAGLEV_MAX_SIZE,
		 NLB_MAGLEV_DEFAULT_SIZE),
	ENUM_KEY(struct nlb_group_conf, hash_fields, hash_field_names, NLB_HASH_5TUPLE),
	UINT_KEY(struct nlb_group_conf, hash_seed, 0, LLONG_MAX, 0),
	/* As the AWS NLB: with no healthy target, better all than none. */
	BOOL_KEY(struct nlb_group_conf, fail_open, 1),
	/* The AWS NLB's default and maximum: 300 s, one hour. */
	UINT_KEY(struct nlb_group_conf, deregistration_delay_ms, 0, 3600000, 300000),
	/* Targets (draining ones included) a group can hold at run time;
	 * each slot costs a few hundred bytes. */
	UINT_KEY(struct nlb_group_conf, max_targets, 1, NLB_MAGLEV_MAX_BACKENDS, 1024),
	ENUM_KEY(struct nlb_group_conf, proxy_protocol, proxy_protocol_names, NLB_PP_NONE),
	GROUP_KEY("health_check"),
	LIST_KEY("targets"),
};

static const char *const hc_protocol_names[] = {
	[NLB_HC_TCP] = "tcp",
	[NLB_HC_HTTP] = "http",
};
_Static_assert(sizeof(enum nlb_hc_protocol) == sizeof(unsigned int), "enum size");

/* The AWS NLB's defaults: every 30 s, 10 s timeout, 5 passes to come
 * back, 2 failures to go. */
static const struct key_spec health_keys[] = {
	ENUM_KEY(struct nlb_health_conf, protocol, hc_protocol_names, NLB_HC_TCP),
	UINT_KEY(struct nlb_health_conf, port, 0, 65535, 0),
	UINT_KEY(struct nlb_health_conf, interval_ms, 10, 3600000, 30000),
	UINT_KEY(struct nlb_health_conf, timeout_ms, 10, 600000, 10000),
	UINT_KEY(struct nlb_health_conf, healthy_threshold, 1, 100, 5),
	UINT_KEY(struct nlb_health_conf, unhealthy_threshold, 1, 100, 2),
	OPT_STRING_KEY(struct nlb_health_conf, "path", path),
	OPT_STRING_KEY(struct nlb_health_conf, "matcher", matcher_text),
	/* Off by default: a probe is not a client, and a target that
	 * requires the header says so by failing it. */
	BOOL_KEY(struct nlb_health_conf, proxy_protocol, 0),
};

static const struct key_spec target_keys[] = {
	ADDR_KEY(struct nlb_target_conf, addr, addr_text),
	UINT_KEY(struct nlb_target_conf, weight, 0, NLB_TARGET_WEIGHT_MAX, 1),
};

/* ---- errors ---------------------------------------------------------------- */

struct loader {
	const char *path;
	char *err;
	size_t errlen;
};

/* Writes "FILE:LINE: message" (or "FILE: message" when line is 0) and
 * returns -EINVAL.  FILE is always the path: @include is refused, so
 * every line is one of that file's. */
static int vfail_line(const struct loader *ld, unsigned line, const char *fmt,
		      va_list ap)
{
	if (ld->err == NULL || ld->errlen == 0)
		return -EINVAL;

	int n;
	if (line > 0)
		n = snprintf(ld->err, ld->errlen, "%s:%u: ", ld->path, line);
	else
		n = snprintf(ld->err, ld->errlen, "%s: ", ld->path);
	if (n >= 0 && (size_t)n < ld->errlen)
		vsnprintf(ld->err + n, ld->errlen - (size_t)n, fmt, ap);
	/* Quoted values come from the file and may hold "\n" escapes; the
	 * error must stay one line. */
	for (char *c = ld->err; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = ' ';
	return -EINVAL;
}

__attribute__((format(printf, 3, 4)))
static int fail_line(const struct loader *ld, unsigned line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vfail_line(ld, line, fmt, ap);
	va_end(ap);
	return r;
}

/* The same at the line of setting s, so callers can `return fail(...)`. */
__attribute__((format(printf, 3, 4)))
static int fail(const struct loader *ld, const config_setting_t *s,
		const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vfail_line(ld, config_setting_source_line(s), fmt, ap);
	va_end(ap);
	return r;
}

static int fail_nomem(const struct loader *ld)
{
	if (ld->err != NULL && ld->errlen > 0)
		snprintf(ld->err, ld->errlen, "%s: out of memory", ld->path);
	return -ENOMEM;
}

/* How a section names itself in messages.  prefix starts value errors
 * ("listener \"web\": "), where ends unknown-key errors ("in listener
 * \"web\""), who starts missing-key errors ("listener"). */
struct section {
	const char *prefix;
	const char *where;
	const char *who;
};

/* ---- the table walker ------------------------------------------------------ */

static int is_int(const config_setting_t *s)
{
	int t = config_setting_type(s);
	return t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64;
}

static const struct key_spec *find_key(const struct key_spec *keys, size_t n,
				       const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static void store_uint(void *field, size_t size, unsigned long long v)
{
	if (size == sizeof(uint64_t)) {
		uint64_t x = v;
		memcpy(field, &x, sizeof(x));
	} else {
		uint32_t x = (uint32_t)v;
		memcpy(field, &x, sizeof(x));
	}
}

/* An allow or deny list: an array of prefixes, each checked (the error
 * names its line), into a built nlb_acl.  An empty array is no list. */
static int set_cidrs(const struct loader *ld, const struct section *sec,
		     const struct key_spec *k, const config_setting_t *s, void *field)
{
	int type = config_setting_type(s);
	if (type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST)
		return fail(ld, s, "%s\"%s\" must be an array of prefixes "
			    "[ \"10.0.0.0/8\", \"2001:db8::/32\" ]", sec->prefix, k->name);
	int n = config_setting_length(s);
	struct nlb_acl *old;
	memcpy(&old, field, sizeof(old));
	nlb_acl_free(old);
	old = NULL;
	memcpy(field, &old, sizeof(old));
	if (n == 0)
		return 0;
	struct nlb_acl *acl = nlb_acl_new();
	if (acl == NULL)
		return fail_nomem(ld);
	/* Stored at once, so nlb_config_free frees it whatever fails next. */
	memcpy(field, &acl, sizeof(acl));
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *v = config_setting_get_string(e);
		struct nlb_cidr c;
		if (v == NULL)
			return fail(ld, e, "%s\"%s\": entry %d must be a string", sec->prefix,
				    k->name, i + 1);
		if (nlb_cidr_parse(v, &c) < 0)
			return fail(ld, e, "%s\"%s\": bad prefix \"%s\" (expected a.b.c.d/len or "
				    "v6/len with no bits set past len)", sec->prefix, k->name, v);
		int r = nlb_acl_add(acl, &c);
		if (r == -ENOSPC)
			return fail(ld, e, "%s\"%s\": more than %u prefixes", sec->prefix,
				    k->name, NLB_ACL_MAX_PREFIXES);
		if (r < 0)
			return fail_nomem(ld);
	}
	if (nlb_acl_build(acl) < 0)
		return fail_nomem(ld);
	return 0;
}

static int set_key(const struct loader *ld, const struct section *sec,
		   const struct key_spec *k, const config_setting_t *s,
		   void *base)
{
	char *field = (char *)base + k->offset;

	switch (k->type) {
	case KEY_UINT: {
		if (!is_int(s))
			return fail(ld, s, "%s\"%s\" must be an integer",
				    sec->prefix, k->name);
		long long v = config_setting_get_int64(s);
		if (v < k->min || v > k->max)
			return fail(ld, s, "%s\"%s\" must be between %lld and %lld (got %lld)",
				    sec->prefix, k->name, k->min, k->max, v);
		store_uint(field, k->size, (unsigned long long)v);
		return 0;
	}
	case KEY_ENUM: {
		if (config_setting_type(s) != CONFIG_TYPE_STRING)
			return fail(ld, s, "%s\"%s\" must be a string",
				    sec->prefix, k->name);
		const char *v = config_setting_get_string(s);
		for (size_t i = 0; i < k->n_names; i++) {
			if (strcmp(v, k->names[i]) == 0) {
				unsigned int e = (unsigned int)i;
				memcpy(field, &e, sizeof(e));
				return 0;
			}
		}
		char choices[128] = "";
		size_t used = 0;
		for (size_t i = 0; i < k->n_names && used < sizeof(choices); i++) {
			int w = snprintf(choices + used, sizeof(choices) - used,
					 "%s%s", i ? ", " : "", k->names[i]);
			if (w < 0)
				break;
			used += (size_t)w;
		}
		return fail(ld, s, "%s\"%s\" must be one of %s (got \"%s\")",
			    sec->prefix, k->name, choices, v);
	}
	case KEY_STRING: {
		if (config_setting_type(s) != CONFIG_TYPE_STRING)
			return fail(ld, s, "%s\"%s\" must be a string",
				    sec->prefix, k->name);
		const char *v = config_setting_get_string(s);
		if (*v == '\0')
			return fail(ld, s, "%s\"%s\" must not be empty",
				    sec->prefix, k->name);
		char *copy = strdup(v);
		if (copy == NULL)
			return fail_nomem(ld);
		char *old;
		memcpy(&old, field, sizeof(old));
		free(old);
		memcpy(field, &copy, sizeof(copy));
		return 0;
	}
	case KEY_ADDR: {
		if (config_setting_type(s) != CONFIG_TYPE_STRING)
			return fail(ld, s, "%s\"%s\" must be a string",
				    sec->prefix, k->name);
		const char *v = config_setting_get_string(s);
		/* Port 0 would bind an ephemeral port nobody can reach, or
		 * send traffic nowhere; both are configuration mistakes. */
		struct nlb_addr a;
		if (nlb_addr_parse(v, 0, &a) < 0)
			return fail(ld, s, "%sbad address \"%s\" (expected host:port or [v6]:port)",
				    sec->prefix, v);
		memcpy(field, &a, sizeof(a));
		/* nlb_addr_parse refuses text that does not fit, so this
		 * copy never truncates. */
		snprintf((char *)base + k->text_offset, NLB_ADDRSTRLEN, "%s", v);
		return 0;
	}
	case KEY_LIST:
		if (config_setting_type(s) != CONFIG_TYPE_LIST)
			return fail(ld, s, "%s\"%s\" must be a list ( ... )",
				    sec->prefix, k->name);
		return 0;
	case KEY_BOOL: {
		if (config_setting_type(s) != CONFIG_TYPE_BOOL)
			return fail(ld, s, "%s\"%s\" must be true or false",
				    sec->prefix, k->name);
		unsigned int b = config_setting_get_bool(s) ? 1 : 0;
		memcpy(field, &b, sizeof(b));
		return 0;
	}
	case KEY_CIDRS:
		return set_cidrs(ld, sec, k, s, field);
	case KEY_GROUP:
		if (config_setting_type(s) != CONFIG_TYPE_GROUP)
			return fail(ld, s, "%s\"%s\" must be a group { ... }",
				    sec->prefix, k->name);
		return 0;
	}
	return fail(ld, s, "internal error: key \"%s\" has no type", k->name);
}

/* Applies keys[] to the group setting g, writing into base: refuses keys
 * the table does not know, checks and stores the ones present in file
 * order (so the first error reported is the first in the file), then
 * fills defaults and refuses missing required keys. */
static int apply_keys(const struct loader *ld, const struct section *sec,
		      const struct key_spec *keys, size_t n_keys,
		      const config_setting_t *g, void *base)
{
	int r;

	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const struct key_spec *k = find_key(keys, n_keys,
						    config_setting_name(s));
		if (k == NULL)
			return fail(ld, s, "unknown key \"%s\" %s",
				    config_setting_name(s), sec->where);
		if ((r = set_key(ld, sec, k, s, base)) < 0)
			return r;
	}

	for (size_t i = 0; i < n_keys; i++) {
		const struct key_spec *k = &keys[i];
		if (config_setting_get_member(g, k->name) != NULL)
			continue;
		if (k->required)
			return fail(ld, g, "%s is missing \"%s\"", sec->who, k->name);
		if (k->type == KEY_UINT) {
			store_uint((char *)base + k->offset, k->size,
				   (unsigned long long)k->def);
		} else if (k->type == KEY_ENUM || k->type == KEY_BOOL) {
			unsigned int e = (unsigned int)k->def;
			memcpy((char *)base + k->offset, &e, sizeof(e));
		}
	}
	return 0;
}

/* Returns the list named key in g (NULL when absent: an empty list) after
 * apply_keys has checked its type; every element must be a group. */
static int get_list(const struct loader *ld, const config_setting_t *g,
		    const char *key, const char *elem_name,
		    config_setting_t **out, size_t *n)
{
	config_setting_t *list = config_setting_get_member(g, key);
	*out = list;
	*n = 0;
	if (list == NULL)
		return 0;
	for (int i = 0; i < config_setting_length(list); i++) {
		const config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
		if (config_setting_type(e) != CONFIG_TYPE_GROUP)
			return fail(ld, e, "each entry of \"%s\" must be a %s { ... }",
				    key, elem_name);
	}
	*n = (size_t)config_setting_length(list);
	return 0;
}

static const config_setting_t *member_or(const config_setting_t *g,
					 const char *key)
{
	const config_setting_t *s = config_setting_get_member(g, key);
	return s != NULL ? s : g;
}

/* "target group \"<name up to 200 bytes>\"" fits. */
#define LABEL_LEN 240

/* Reads the "name" of a listener or group before its other keys, so that
 * every later message can say which one is wrong. */
static int read_name(const struct loader *ld, const config_setting_t *g,
		     const char *kind, char *label, size_t len)
{
	const config_setting_t *s = config_setting_get_member(g, "name");
	if (s == NULL)
		return fail(ld, g, "%s is missing \"name\"", kind);
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return fail(ld, s, "%s: \"name\" must be a string", kind);
	if (*config_setting_get_string(s) == '\0')
		return fail(ld, s, "%s: \"name\" must not be empty", kind);
	/* Names are cut in messages only, never in the loaded config. */
	snprintf(label, len, "%s \"%.200s\"", kind, config_setting_get_string(s));
	return 0;
}

/* ---- sections ---------------------------------------------------------- */

static int load_target(const struct loader *ld, const config_setting_t *g,
		       const struct nlb_group_conf *grp, const char *glabel,
		       struct nlb_target_conf *t)
{
	char prefix[LABEL_LEN + 32], where[LABEL_LEN + 32], who[LABEL_LEN + 32];
	snprintf(prefix, sizeof(prefix), "%s: ", glabel);
	snprintf(where, sizeof(where), "in a target of %s", glabel);
	snprintf(who, sizeof(who), "a target of %s", glabel);
	const struct section sec = { prefix, where, who };

	t->line = config_setting_source_line(g);
	int r = apply_keys(ld, &sec, target_keys, ARRAY_LEN(target_keys), g, t);
	if (r < 0)
		return r;

	/* Two entries for one target would double its share silently;
	 * weight is the way to say that. */
	for (const struct nlb_target_conf *o = grp->targets; o < t; o++) {
		if (nlb_addr_equal(&o->addr, &t->addr))
			return fail(ld, member_or(g, "address"),
				    "%s: duplicate target \"%s\" (first at line %d)",
				    glabel, t->addr_text, o->line);
	}
	return 0;
}

/* The paper's rule, checked at load so a table never silently loses
 * its balance: M prime, and M >= 100 x targets that take flows. */
static int check_maglev_size(const struct loader *ld, const config_setting_t *g,
			     const struct nlb_group_conf *grp, const char *label)
{
	if (grp->algorithm != NLB_ALG_MAGLEV)
		return 0;
	size_t n = 0;
	for (size_t i = 0; i < grp->n_targets; i++)
		n += grp->targets[i].weight > 0;
	size_t m = grp->maglev_table_size;
	if (nlb_maglev_check(m, n) == 0)
		return 0;
	const config_setting_t *at = member_or(g, "maglev_table_size");
	if (!nlb_is_prime(m))
		return fail(ld, at, "%s: \"maglev_table_size\" must be a prime (got %zu; %zu is)",
			    label, m, nlb_next_prime(m));
	return fail(ld, at, "%s: \"maglev_table_size\" %zu is too small for %zu targets "
		    "(at least 100 x targets: %zu, a prime)", label, m, n,
		    nlb_next_prime(100 * n));
}

/* health_check.path, by the probe's own rule (nlb_hc_path_check), so
 * that nlb -t passes no path a probe could not send.  The path is quoted
 * only when short: the error is one line. */
static int check_path(const struct loader *ld, const config_setting_t *h, const char *path,
		      const char *prefix)
{
	const config_setting_t *at = member_or(h, "path");
	size_t bad = 0, len = strlen(path);
	switch (nlb_hc_path_check(path, &bad)) {
	case 0:
		return 0;
	case -ENAMETOOLONG:
		return fail(ld, at, "%s\"path\" is %zu characters long, more than %d",
			    prefix, len, NLB_HC_PATH_MAX);
	case -EILSEQ: {
		unsigned char c = (unsigned char)path[bad];
		return fail(ld, at, "%s\"path\" holds byte 0x%02x (%s) at offset %zu; it takes "
			    "visible ASCII only (0x21-0x7e): percent-encode others, e.g. a space "
			    "as %%20", prefix, c, c == ' ' ? "a space" : c < 0x20 || c == 0x7f ?
			    "a control byte" : "not ASCII", bad);
	}
	default:
		return fail(ld, at, "%s\"path\" must start with / (got \"%.64s%s\")", prefix,
			    path, len > 64 ? "..." : "");
	}
}

static int load_health(const struct loader *ld, const config_setting_t *g,
		       struct nlb_group_conf *grp, const char *label)
{
	struct nlb_health_conf *hc = &grp->health;
	const config_setting_t *h = config_setting_get_member(g, "health_check");
	if (h == NULL)
		return 0;
	char prefix[LABEL_LEN + 48], where[LABEL_LEN + 48];
	snprintf(prefix, sizeof(prefix), "%s: health_check: ", label);
	snprintf(where, sizeof(where), "in health_check of %s", label);
	const struct section sec = { prefix, where, "health_check" };
	int r = apply_keys(ld, &sec, health_keys, ARRAY_LEN(health_keys), h, hc);
	if (r < 0)
		return r;
	hc->enabled = 1;
	hc->line = config_setting_source_line(h);
	if (!hc->path && !(hc->path = strdup("/")))
		return fail_nomem(ld);
	if (!hc->matcher_text && !(hc->matcher_text = strdup("200-399")))
		return fail_nomem(ld);
	if ((r = check_path(ld, h, hc->path, prefix)) < 0)
		return r;
	if (hc->proxy_protocol && grp->proxy_protocol == NLB_PP_NONE)
		return fail(ld, member_or(h, "proxy_protocol"), "%s\"proxy_protocol\" needs the "
			    "group's proxy_protocol (\"v1\" or \"v2\") to say which header", prefix);
	if (nlb_hc_matcher_parse(hc->matcher_text, &hc->matcher) < 0)
		return fail(ld, member_or(h, "matcher"), "%s\"matcher\" must be codes "
			    "100-599 like \"200\", \"200-399\" or \"200,204,301\" (got \"%s\")",
			    prefix, hc->matcher_text);
	return 0;
}

static int load_group(const struct loader *ld, const config_setting_t *g,
		      struct nlb_config *cfg, struct nlb_group_conf *grp)
{
	char label[LABEL_LEN], prefix[LABEL_LEN + 32], where[LABEL_LEN + 32];
	int r;

	grp->line = config_setting_source_line(g);
	if ((r = read_name(ld, g, "target group", label, sizeof(label))) < 0)
		return r;
	snprintf(prefix, sizeof(prefix), "%s: ", label);
	snprintf(where, sizeof(where), "in %s", label);
	const struct section sec = { prefix, where, "target group" };
	if ((r = apply_keys(ld, &sec, group_keys, ARRAY_LEN(group_keys), g, grp)) < 0)
		return r;
	grp->connect_timeout_ts.tv_sec = grp->connect_timeout_ms / 1000;
	grp->connect_timeout_ts.tv_nsec = (long long)(grp->connect_timeout_ms % 1000) * 1000000;

	for (const struct nlb_group_conf *o = cfg->groups; o < grp; o++) {
		if (strcmp(o->name, grp->name) == 0)
			return fail(ld, member_or(g, "name"),
				    "duplicate target group name \"%s\" (first at line %d)",
				    grp->name, o->line);
	}

	if ((r = load_health(ld, g, grp, label)) < 0)
		return r;

	config_setting_t *list;
	size_t n;
	if ((r = get_list(ld, g, "targets", "target", &list, &n)) < 0)
		return r;
	if (n == 0)
		return 0;
	if (n > grp->max_targets)
		return fail(ld, list, "%s: %zu targets, more than \"max_targets\" %u",
			    label, n, (unsigned)grp->max_targets);
	grp->targets = calloc(n, sizeof(*grp->targets));
	if (grp->targets == NULL)
		return fail_nomem(ld);
	for (size_t i = 0; i < n; i++) {
		r = load_target(ld, config_setting_get_elem(list, (unsigned)i),
				grp, label, &grp->targets[i]);
		if (r < 0)
			return r;
		grp->n_targets = i + 1;
	}
	return check_maglev_size(ld, g, grp, label);
}

/* Which transport protocols a listener binds, so that tcp on :53 and udp
 * on :53 do not count as the same address. */
static unsigned proto_mask(enum nlb_protocol p)
{
	switch (p) {
	case NLB_PROTO_TCP:
		return 1;
	case NLB_PROTO_UDP:
		return 2;
	case NLB_PROTO_TCP_UDP:
		return 3;
	}
	return 0;
}

static int load_listener(const struct loader *ld, const config_setting_t *g,
			 struct nlb_config *cfg, struct nlb_listener_conf *l)
{
	char label[LABEL_LEN], prefix[LABEL_LEN + 32], where[LABEL_LEN + 32];
	int r;

	l->line = config_setting_source_line(g);
	if ((r = read_name(ld, g, "listener", label, sizeof(label))) < 0)
		return r;
	snprintf(prefix, sizeof(prefix), "%s: ", label);
	snprintf(where, sizeof(where), "in %s", label);
	const struct section sec = { prefix, where, "listener" };
	if ((r = apply_keys(ld, &sec, listener_keys, ARRAY_LEN(listener_keys), g, l)) < 0)
		return r;

	for (const struct nlb_listener_conf *o = cfg->listeners; o < l; o++) {
		if (strcmp(o->name, l->name) == 0)
			return fail(ld, member_or(g, "name"),
				    "duplicate listener name \"%s\" (first at line %d)",
				    l->name, o->line);
		if ((proto_mask(o->protocol) & proto_mask(l->protocol)) &&
		    nlb_addr_equal(&o->addr, &l->addr))
			return fail(ld, member_or(g, "address"),
				    "%s: address \"%s\" is already used by listener \"%s\" (line %d)",
				    label, l->addr_text, o->name, o->line);
	}

	size_t gi;
	for (gi = 0; gi < cfg->n_groups; gi++)
		if (strcmp(cfg->groups[gi].name, l->target_group) == 0)
			break;
	if (gi == cfg->n_groups)
		return fail(ld, member_or(g, "target_group"),
			    "%s: unknown target_group \"%s\"", label, l->target_group);
	l->group = gi;
	if (l->protocol != NLB_PROTO_TCP && cfg->groups[gi].proxy_protocol == NLB_PP_V1)
		return fail(ld, member_or(g, "target_group"),
			    "%s: target group \"%s\" sends PROXY protocol v1, which cannot carry "
			    "UDP; use \"v2\"", label, l->target_group);
	if (l->protocol == NLB_PROTO_UDP && l->accept_proxy_protocol)
		return fail(ld, member_or(g, "accept_proxy_protocol"),
			    "%s: \"accept_proxy_protocol\" applies to TCP connections; this "
			    "listener is udp", label);
	return 0;
}

/* ---- the file's text ------------------------------------------------------ */

/* What the checks of the text look at; next_token skips the rest. */
enum token_kind {
	TOKEN_END = 0,
	TOKEN_INT,		/* an integer literal without the L suffix */
	TOKEN_DIRECTIVE,	/* '@' and the word after it */
};

struct token {
	enum token_kind kind;
	const char *start;
	size_t len;
	unsigned line;
	int too_big;		/* TOKEN_INT: does not fit in libconfig 1.5's 32 bits */
};

struct scan {
	const char *p, *end;
	unsigned line;
};

static int is_alpha(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Reads an integer literal at p (sign, 0x, digits) into t; returns where
 * it ends, or, for an INT64 (L) or float literal, past it with t->kind
 * TOKEN_END: the walker's range and type checks deal with those. */
static const char *scan_number(const char *p, const char *end, struct token *t)
{
	int neg = *p == '-', hex = 0;
	unsigned long long v = 0;

	t->kind = TOKEN_END;
	t->start = p;
	t->too_big = 0;
	if (*p == '-' || *p == '+')
		p++;
	if (p + 1 < end && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		hex = 1;
		p += 2;
	}
	for (; p < end; p++) {
		int d;
		if (is_digit(*p))
			d = *p - '0';
		else if (hex && *p >= 'a' && *p <= 'f')
			d = *p - 'a' + 10;
		else if (hex && *p >= 'A' && *p <= 'F')
			d = *p - 'A' + 10;
		else
			break;
		v = v * (hex ? 16 : 10) + (unsigned)d;
		/* Past 2^40 the exact value no longer matters. */
		if (v > (1ULL << 40)) {
			t->too_big = 1;
			v = 1ULL << 40;
		}
	}
	if (p < end && *p == 'L')
		return p;		/* INT64 literal: stored exactly */
	if (!hex && p < end && (*p == '.' || *p == 'e' || *p == 'E')) {
		while (p < end && (is_digit(*p) || *p == '.' || *p == 'e' || *p == 'E' ||
				   *p == '+' || *p == '-'))
			p++;
		return p;		/* a float: the type check refuses it */
	}
	/* Hex literals are 32-bit patterns in libconfig (0xFFFFFFFF is -1),
	 * so their limit is UINT32_MAX. */
	unsigned long long limit = hex ? UINT32_MAX :
				   neg ? (unsigned long long)INT_MAX + 1 : INT_MAX;
	if (v > limit)
		t->too_big = 1;
	t->kind = TOKEN_INT;
	t->len = (size_t)(p - t->start);
	return p;
}

/* The next integer literal or directive of the text, by libconfig 1.5's
 * token rules (lib/scanner.l): nothing in a comment or a string counts,
 * so both checks below see the file as libconfig does.  Lines are
 * counted as libconfig counts them, by '\n'.  TOKEN_END at the end. */
static void next_token(struct scan *sc, struct token *t)
{
	const char *p = sc->p, *end = sc->end;

	while (p < end) {
		char c = *p;
		if (c == '\n') {
			sc->line++;
			p++;
		} else if (c == '#' || (c == '/' && p + 1 < end && p[1] == '/')) {
			while (p < end && *p != '\n')
				p++;
		} else if (c == '/' && p + 1 < end && p[1] == '*') {
			for (p += 2; p < end && !(*p == '*' && p + 1 < end && p[1] == '/'); p++)
				if (*p == '\n')
					sc->line++;
			p = end - p >= 2 ? p + 2 : end;
		} else if (c == '"') {
			for (p++; p < end && *p != '"'; p++) {
				if (*p == '\\' && p + 1 < end)
					p++;
				if (*p == '\n')
					sc->line++;
			}
			if (p < end)
				p++;
		} else if (c == '@') {
			t->kind = TOKEN_DIRECTIVE;
			t->start = p;
			t->line = sc->line;
			for (p++; p < end && (is_alpha(*p) || *p == '_'); p++)
				;
			t->len = (size_t)(p - t->start);
			sc->p = p;
			return;
		} else if (is_alpha(c) || c == '*') {
			while (p < end && (*p == '-' || *p == '_' || *p == '*' ||
					   is_digit(*p) || is_alpha(*p)))
				p++;
		} else if (is_digit(c) || ((c == '-' || c == '+') && p + 1 < end &&
					    is_digit(p[1]))) {
			p = scan_number(p, end, t);
			if (t->kind == TOKEN_INT) {
				t->line = sc->line;
				sc->p = p;
				return;
			}
		} else {
			p++;
		}
	}
	sc->p = p;
	t->kind = TOKEN_END;
}

/* Refuses, before libconfig reads the text, what it would read wrong or
 * act on: a NUL byte (libconfig reads a C string: the rest of the file
 * would be dropped unseen) and @include (libconfig opens the file it
 * names itself; nlb reads its one file once, so a reload, run as the
 * unprivileged user, sees one consistent version of it). */
static int check_text(const struct loader *ld, const char *text, size_t len)
{
	const char *nul = memchr(text, '\0', len);
	if (nul != NULL) {
		unsigned line = 1;
		for (const char *c = text; c < nul; c++)
			line += *c == '\n';
		return fail_line(ld, line, "a NUL byte: a configuration file is text");
	}

	static const char include[] = "@include";
	struct scan sc = { text, text + len, 1 };
	struct token t;
	for (next_token(&sc, &t); t.kind != TOKEN_END; next_token(&sc, &t))
		if (t.kind == TOKEN_DIRECTIVE && t.len == sizeof(include) - 1 &&
		    memcmp(t.start, include, t.len) == 0)
			return fail_line(ld, t.line, "@include is not supported: the configuration "
					 "is one file, read once (copy the included settings into it)");
	return 0;
}

/* libconfig 1.5 stores a decimal literal too large for 32 bits as its low
 * 32 bits (5000000000 reads back as 705032704), which could land inside a
 * valid range.  Later versions promote it to INT64, which the range checks
 * catch; for 1.5 the text libconfig parsed is scanned for such literals.
 * Runs only after libconfig accepted it, so tokens are well formed. */
static int check_int_literals(const struct loader *ld, const char *text, size_t len)
{
	struct scan sc = { text, text + len, 1 };
	struct token t;
	for (next_token(&sc, &t); t.kind != TOKEN_END; next_token(&sc, &t))
		if (t.kind == TOKEN_INT && t.too_big)
			return fail_line(ld, t.line, "integer %.*s does not fit in 32 bits "
					 "(write %.*sL for a 64-bit integer)", (int)t.len, t.start,
					 (int)t.len, t.start);
	return 0;
}

/* Writes "FILE: cannot VERB: reason" and returns -e. */
static int fail_io(const struct loader *ld, const char *verb, int e)
{
	if (ld->err != NULL && ld->errlen > 0)
		snprintf(ld->err, ld->errlen, "%s: cannot %s: %s", ld->path, verb, strerror(e));
	return -e;
}

static int fail_too_big(const struct loader *ld)
{
	if (ld->err != NULL && ld->errlen > 0)
		snprintf(ld->err, ld->errlen, "%s: larger than %u bytes (%u MiB), the limit "
			 "for a configuration file", ld->path, NLB_CONFIG_MAX_BYTES,
			 NLB_CONFIG_MAX_BYTES >> 20);
	return -EFBIG;
}

/* Reads the whole file, once, into a NUL-terminated buffer: libconfig
 * parses that buffer and the checks scan it, so they all see one version
 * of a file that may be replaced at any time.  Only a regular file of at
 * most NLB_CONFIG_MAX_BYTES is read, and never past that: a directory
 * (which libconfig would read as an empty, valid file), a device that
 * never ends (/dev/zero) or a FIFO are refused.  Open errors are reported
 * with their errno (libconfig only says "file I/O error"). */
static int read_file(const struct loader *ld, char **out, size_t *len)
{
	/* O_NONBLOCK: opening a FIFO with no writer would wait for one. */
	int fd = open(ld->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return fail_io(ld, "open", errno);

	struct stat st;
	int r = 0;
	if (fstat(fd, &st) < 0) {
		r = fail_io(ld, "open", errno);
	} else if (S_ISDIR(st.st_mode)) {
		r = fail_io(ld, "open", EISDIR);
	} else if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		if (ld->err != NULL && ld->errlen > 0)
			snprintf(ld->err, ld->errlen, "%s: not a regular file", ld->path);
	} else if (st.st_size > NLB_CONFIG_MAX_BYTES) {
		r = fail_too_big(ld);
	}

	/* Room for what fstat says and one byte more, to see a file that
	 * grew; grown as needed up to one byte past the limit. */
	char *buf = NULL;
	size_t n = 0, cap = 0;
	if (r == 0) {
		cap = st.st_size < NLB_CONFIG_MAX_BYTES ? (size_t)st.st_size + 1 :
			(size_t)NLB_CONFIG_MAX_BYTES + 1;
		if ((buf = malloc(cap + 1)) == NULL)
			r = fail_nomem(ld);
	}
	while (r == 0 && n <= NLB_CONFIG_MAX_BYTES) {
		if (n == cap) {
			cap = cap > NLB_CONFIG_MAX_BYTES / 2 ? (size_t)NLB_CONFIG_MAX_BYTES + 1 :
				2 * cap;
			char *nb = realloc(buf, cap + 1);
			if (nb == NULL) {
				r = fail_nomem(ld);
				break;
			}
			buf = nb;
		}
		ssize_t got = read(fd, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			r = fail_io(ld, "read", errno);
		else if (got == 0)
			break;
		else
			n += (size_t)got;
	}
	close(fd);
	if (r == 0 && n > NLB_CONFIG_MAX_BYTES)
		r = fail_too_big(ld);
	if (r < 0) {
		free(buf);
		return r;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

/* Resolves the CPUs workers run on: "cpus", each of which must be in the
 * affinity mask nlb was started with (taskset, systemd's CPUAffinity=, a
 * container's cpuset), or else that whole mask.  Read from the calling
 * thread, which at start and at reload (main or admin thread) still has
 * the mask nlb inherited: only workers ever pin themselves. */
static int load_cpus(const struct loader *ld, const config_setting_t *root,
		     struct nlb_config *cfg)
{
	cpu_set_t allowed, want;
	int r = nlb_cpu_allowed(&allowed);
	if (r < 0)
		return fail(ld, NULL, "cannot read the CPUs nlb may run on "
			    "(sched_getaffinity): %s", strerror(-r));
	want = allowed;
	if (cfg->cpus_text != NULL) {
		const config_setting_t *s = member_or(root, "cpus");
		if (nlb_cpu_list_parse(cfg->cpus_text, strlen(cfg->cpus_text), &want) < 0)
			return fail(ld, s, "\"cpus\": bad CPU list \"%s\" (expected CPU numbers "
				    "below %d and ranges, comma-separated, no spaces: \"2-5,8\")",
				    cfg->cpus_text, NLB_CPU_LIST_MAX);
		for (int c = 0; c < NLB_CPU_LIST_MAX; c++) {
			if (!CPU_ISSET(c, &want) || CPU_ISSET(c, &allowed))
				continue;
			/* Cut with "..." rather than past the error's room. */
			char list[200];
			if (nlb_cpu_list_format(&allowed, list, sizeof(list)) >= sizeof(list))
				memcpy(list + sizeof(list) - 4, "...", 4);
			return fail(ld, s, "\"cpus\": CPU %d is not one nlb may run on "
				    "(allowed: %s)", c, list);
		}
	}
	cfg->n_cpus = 0;
	for (int c = 0; c < NLB_CPU_LIST_MAX; c++)
		if (CPU_ISSET(c, &want))
			cfg->cpus[cfg->n_cpus++] = (uint16_t)c;
	return 0;
}

static int load_stats_admin(const struct loader *ld, const config_setting_t *root,
			    struct nlb_config *cfg)
{
	const config_setting_t *g = config_setting_get_member(root, "stats");
	int r;
	if (g) {
		const struct section sec = { "stats: ", "in stats", "stats" };
		if ((r = apply_keys(ld, &sec, stats_keys, ARRAY_LEN(stats_keys), g, cfg)) < 0)
			return r;
		cfg->stats_enabled = 1;
		cfg->stats_line = config_setting_source_line(member_or(g, "listen"));
	}
	g = config_setting_get_member(root, "admin");
	if (g) {
		const struct section sec = { "admin: ", "in admin", "admin" };
		struct admin_keys a = { NULL, 0 };
		r = apply_keys(ld, &sec, admin_keys, ARRAY_LEN(admin_keys), g, &a);
		cfg->admin_socket = a.socket;
		if (r < 0)
			return r;
		uint32_t mode = 0;
		for (uint32_t v = a.mode, shift = 0; v; v /= 10, shift += 3) {
			if (v % 10 > 7)
				return fail(ld, member_or(g, "mode"), "admin: \"mode\" is octal, as "
					    "in chmod: 0600, 0660 (got %u)", (unsigned)a.mode);
			mode |= (v % 10) << shift;
		}
		cfg->admin_mode = mode;
		if (cfg->admin_socket[0] != '/' ||
		    strlen(cfg->admin_socket) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			return fail(ld, member_or(g, "socket"), "admin: \"socket\" must be an "
				    "absolute path shorter than %zu bytes",
				    sizeof(((struct sockaddr_un *)0)->sun_path));
	}
	return 0;
}

static int load_root(const struct loader *ld, const config_setting_t *root,
		     struct nlb_config *cfg)
{
	static const struct section top = { "", "at top level", "configuration" };
	config_setting_t *list;
	size_t n;
	int r;

	if ((r = apply_keys(ld, &top, top_keys, ARRAY_LEN(top_keys), root, cfg)) < 0)
		return r;
	/* A group is what the user switches to: alone it means nothing. */
	if (cfg->group && !cfg->user)
		return fail(ld, member_or(root, "group"), "\"group\" needs \"user\" (nlb "
			    "switches to both once its sockets are bound)");
	if ((r = load_cpus(ld, root, cfg)) < 0)
		return r;
	if (cfg->workers == 0)
		cfg->workers = cfg->n_cpus < NLB_CONFIG_MAX_WORKERS ? cfg->n_cpus :
			       NLB_CONFIG_MAX_WORKERS;
	if ((r = load_stats_admin(ld, root, cfg)) < 0)
		return r;

	/* Groups first: listeners refer to them by name. */
	if ((r = get_list(ld, root, "target_groups", "target group", &list, &n)) < 0)
		return r;
	if (n > NLB_MAX_GROUPS)
		return fail(ld, list, "%zu target groups, more than %u", n, NLB_MAX_GROUPS);
	if (n > 0 && (cfg->groups = calloc(n, sizeof(*cfg->groups))) == NULL)
		return fail_nomem(ld);
	for (size_t i = 0; i < n; i++) {
		/* Counted before loading so nlb_config_free sees whatever a
		 * failed load left half-built. */
		cfg->n_groups = i + 1;
		r = load_group(ld, config_setting_get_elem(list, (unsigned)i),
			       cfg, &cfg->groups[i]);
		if (r < 0)
			return r;
	}

	if ((r = get_list(ld, root, "listeners", "listener", &list, &n)) < 0)
		return r;
	if (n > NLB_MAX_LISTENERS)
		return fail(ld, list, "%zu listeners, more than %u", n, NLB_MAX_LISTENERS);
	if (n > 0 && (cfg->listeners = calloc(n, sizeof(*cfg->listeners))) == NULL)
		return fail_nomem(ld);
	for (size_t i = 0; i < n; i++) {
		cfg->n_listeners = i + 1;
		r = load_listener(ld, config_setting_get_elem(list, (unsigned)i),
				  cfg, &cfg->listeners[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

int nlb_config_parse(const char *path, const char *text, size_t len,
		     struct nlb_config **out, char *err, size_t errlen)
{
	const struct loader ld = { path, err, errlen };
	int r;

	*out = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (text[len] != '\0')
		return fail_line(&ld, 0, "internal error: the text is not NUL-terminated");
	if ((r = check_text(&ld, text, len)) < 0)
		return r;

	config_t lc;
	config_init(&lc);
	if (!config_read_string(&lc, text)) {
		/* A string has no file name: the error is the path's. */
		r = fail_line(&ld, (unsigned)config_error_line(&lc), "%s",
			      config_error_text(&lc));
		config_destroy(&lc);
		return r;
	}

	r = check_int_literals(&ld, text, len);
	struct nlb_config *cfg = NULL;
	if (r == 0) {
		cfg = calloc(1, sizeof(*cfg));
		if (cfg == NULL || (cfg->path = strdup(path)) == NULL)
			r = fail_nomem(&ld);
	}
	if (r == 0)
		r = load_root(&ld, config_root_setting(&lc), cfg);
	config_destroy(&lc);

	if (r < 0) {
		nlb_config_free(cfg);
		return r;
	}
	*out = cfg;
	return 0;
}

int nlb_config_load(const char *path, struct nlb_config **out,
		    char *err, size_t errlen)
{
	const struct loader ld = { path, err, errlen };
	char *text = NULL;
	size_t len = 0;

	*out = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	int r = read_file(&ld, &text, &len);
	if (r < 0)
		return r;
	r = nlb_config_parse(path, text, len, out, err, errlen);
	free(text);
	return r;
}

void nlb_config_free(struct nlb_config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < cfg->n_listeners; i++) {
		free(cfg->listeners[i].name);
		free(cfg->listeners[i].target_group);
		nlb_acl_free(cfg->listeners[i].allow);
		nlb_acl_free(cfg->listeners[i].deny);
	}
	free(cfg->listeners);
	for (size_t i = 0; i < cfg->n_groups; i++) {
		free(cfg->groups[i].name);
		free(cfg->groups[i].targets);
		free(cfg->groups[i].health.path);
		free(cfg->groups[i].health.matcher_text);
	}
	free(cfg->groups);
	free(cfg->admin_socket);
	free(cfg->user);
	free(cfg->group);
	free(cfg->cpus_text);
	free(cfg->path);
	free(cfg);
}
