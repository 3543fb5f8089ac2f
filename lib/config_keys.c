/* The configuration's keys, as data: a table per section, each key with
 * its type, field, range and default, and the names of enumerated values.
 * The loader applies these tables; nothing else describes a key. */
#include "config_keys.h"

#include <limits.h>

#include "key_spec-t.h"
#include "maglev.h"
#include "tuple_hash.h"

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

/* ---- sections ---------------------------------------------------------- */

static const struct {
	const struct key_spec *keys;
	size_t n;
} sections[NLB_CONF_SECTIONS] = {
	[NLB_CONF_TOP] = { top_keys, ARRAY_LEN(top_keys) },
	[NLB_CONF_STATS] = { stats_keys, ARRAY_LEN(stats_keys) },
	[NLB_CONF_ADMIN] = { admin_keys, ARRAY_LEN(admin_keys) },
	[NLB_CONF_LISTENER] = { listener_keys, ARRAY_LEN(listener_keys) },
	[NLB_CONF_GROUP] = { group_keys, ARRAY_LEN(group_keys) },
	[NLB_CONF_HEALTH] = { health_keys, ARRAY_LEN(health_keys) },
	[NLB_CONF_TARGET] = { target_keys, ARRAY_LEN(target_keys) },
};

const struct key_spec *cfg_section_keys(enum nlb_config_section s, size_t *n)
{
	*n = sections[s].n;
	return sections[s].keys;
}
