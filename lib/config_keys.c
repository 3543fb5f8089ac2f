/* The configuration's keys, as data: a table per section, each key with
 * its type, field, range, default, unit and what a reload does with it,
 * and the names of enumerated values.  The loader applies these tables,
 * nlb_config_keys_visit describes them (nlb.conf(5) is checked against
 * it) and a reload asks them which changes only a restart applies;
 * nothing else describes a key. */
#include "config_keys.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "config_keys-t.h"
#include "maglev.h"
#include "tunables.h"
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
	[NLB_PROTO_TLS] = "tls",
	[NLB_PROTO_HTTP] = "http",
	[NLB_PROTO_HTTPS] = "https",
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

static const char *const proxy_protocol_names[] = {
	[NLB_PP_NONE] = "none",
	[NLB_PP_V1] = "v1",
	[NLB_PP_V2] = "v2",
};
_Static_assert(sizeof(enum nlb_proxy_protocol) == sizeof(unsigned int), "enum size");

/* Same order as enum nlb_log_level; log.c owns the names, but the key
 * table needs them as an array to list the choices in an error. */
static const char *const log_level_names[] = {
	[NLB_LOG_ERROR] = "error",
	[NLB_LOG_WARN] = "warn",
	[NLB_LOG_INFO] = "info",
	[NLB_LOG_DEBUG] = "debug",
};


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
	/* Not a value of a listener's "protocol": gateways have a list. */
	if (p == NLB_PROTO_GATEWAY)
		return "gateway";
	return enum_name(protocol_names, ARRAY_LEN(protocol_names), p);
}

const char *nlb_algorithm_name(enum nlb_algorithm a)
{
	return enum_name(algorithm_names, ARRAY_LEN(algorithm_names), a);
}

/* ---- the key tables ------------------------------------------------------ */

/* What nlb runs with, for the restart-only keys whose field alone does
 * not say it (their struct key_running). */

static bool str_differ(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

static void swap_str(char **a, char **b)
{
	char *t = *a;
	*a = *b;
	*b = t;
}

/* The CPUs resolved: the same CPUs written another way, or "cpus"
 * dropped while naming every CPU of the mask, are no change. */
static bool cpus_differ(const void *running, const void *loaded)
{
	const struct nlb_config *o = running, *n = loaded;
	return o->n_cpus != n->n_cpus ||
	       memcmp(o->cpus, n->cpus, o->n_cpus * sizeof(o->cpus[0])) != 0;
}

static void cpus_keep(void *running, void *loaded)
{
	struct nlb_config *o = running, *n = loaded;
	n->n_cpus = o->n_cpus;
	memcpy(n->cpus, o->cpus, sizeof(n->cpus));
	swap_str(&o->cpus_text, &n->cpus_text);
}

static const struct key_running cpus_running = { cpus_differ, cpus_keep };

/* The metrics endpoint, or none: bound at start only. */
static bool stats_differ(const void *running, const void *loaded)
{
	const struct nlb_config *o = running, *n = loaded;
	return o->stats_enabled != n->stats_enabled ||
	       (o->stats_enabled && !nlb_addr_equal(&o->stats_listen, &n->stats_listen));
}

static void stats_keep(void *running, void *loaded)
{
	struct nlb_config *o = running, *n = loaded;
	n->stats_enabled = o->stats_enabled;
	n->stats_listen = o->stats_listen;
	memcpy(n->stats_listen_text, o->stats_listen_text, sizeof(n->stats_listen_text));
	n->stats_line = o->stats_line;
}

static const struct key_running stats_running = { stats_differ, stats_keep };

/* The admin socket, or none, and its mode as octal: created at start. */
static bool admin_differ(const void *running, const void *loaded)
{
	const struct nlb_config *o = running, *n = loaded;
	return str_differ(o->admin_socket, n->admin_socket) || o->admin_mode != n->admin_mode;
}

static void admin_keep(void *running, void *loaded)
{
	struct nlb_config *o = running, *n = loaded;
	swap_str(&o->admin_socket, &n->admin_socket);
	n->admin_mode = o->admin_mode;
}

static const struct key_running admin_running = { admin_differ, admin_keep };

/* The routes announced: set up at start, with the capability they need
 * kept only then. */
static bool announce_differ(const void *running, const void *loaded)
{
	const struct nlb_config *a = running, *b = loaded;
	if (a->announce_enabled != b->announce_enabled || a->announce_table != b->announce_table ||
	    a->announce_withdraw_delay_ms != b->announce_withdraw_delay_ms ||
	    a->n_announce != b->n_announce)
		return true;
	for (size_t i = 0; i < a->n_announce; i++) {
		const struct nlb_route *x = &a->announce_prefixes[i].route;
		const struct nlb_route *y = &b->announce_prefixes[i].route;
		if (x->family != y->family || x->len != y->len || memcmp(x->dst, y->dst, 16))
			return true;
	}
	return false;
}

static void announce_keep(void *running, void *loaded)
{
	struct nlb_config *o = running, *n = loaded;
	struct nlb_announce_prefix *p = o->announce_prefixes;
	size_t k = o->n_announce;
	o->announce_prefixes = n->announce_prefixes;
	o->n_announce = n->n_announce;
	n->announce_prefixes = p;
	n->n_announce = k;
	n->announce_enabled = o->announce_enabled;
	n->announce_table = o->announce_table;
	n->announce_withdraw_delay_ms = o->announce_withdraw_delay_ms;
	n->announce_line = o->announce_line;
}

static const struct key_running announce_running = { announce_differ, announce_keep };

/* The upper bound on workers keeps per-worker arrays sane; the CPU count
 * that 0 resolves to is capped to the same value.  cpus is checked and
 * resolved by load_cpus.  What a restart applies was sized or bound at
 * start: the workers and their rings, buffers and flow tables, the
 * metrics and admin sockets, the privileges. */
static const struct key_spec top_keys[] = {
	UINT_KEY(struct nlb_config, workers, 0, NLB_CONFIG_MAX_WORKERS, 0, NULL, RESTART),
	{ .name = "cpus", .type = KEY_STRING, .apply = RESTART,
	  .offset = offsetof(struct nlb_config, cpus_text), .running = &cpus_running },
	ENUM_KEY(struct nlb_config, log_level, log_level_names, NLB_LOG_INFO, RELOAD),
	UINT_KEY(struct nlb_config, shutdown_timeout_ms, 0, 3600000, 10000, "ms", RELOAD),
	ENUM_KEY(struct nlb_config, forwarding, forwarding_names, NLB_FWD_AUTO, RESTART),
	/* 65536 flows per worker: about 6 MiB of address space, touched
	 * only as flows arrive. */
	UINT_KEY(struct nlb_config, flow_table_size, 1024, 16777216, 65536, "flows per worker",
		 RESTART),
	/* The largest UDP datagram forwarded; larger ones are dropped and
	 * counted.  At 65535 (any datagram) GRO batches fit the buffers too,
	 * so nlb receives and forwards them whole; below it GRO is off. */
	UINT_KEY(struct nlb_config, udp_max_datagram, 512, 65535, 65535, "bytes", RESTART),
	/* Off only to measure what it gains, or around a kernel bug. */
	BOOL_KEY(struct nlb_config, udp_gro, 1, RESTART),
	/* Each worker's completion queue (its submission queue is 4096, or
	 * this if smaller).  Completions beyond it wait in the kernel's
	 * overflow list and end multishot requests, which nlb re-arms: a
	 * small queue costs speed, not connections. */
	UINT_KEY(struct nlb_config, ring_cq_entries, 16, 1048576, NLB_RING_CQ_ENTRIES, "entries",
		 RESTART),
	/* Over it (resident memory), new connections and flows are refused
	 * until nlb is back under 95% of it. */
	UINT_KEY(struct nlb_config, max_memory_mb, 0, 16777216, 0, "MiB", RELOAD),
	{ .name = "stats", .type = KEY_GROUP, .apply = RESTART, .running = &stats_running },
	{ .name = "admin", .type = KEY_GROUP, .apply = RESTART, .running = &admin_running },
	{ .name = "announce", .type = KEY_GROUP, .apply = RESTART, .running = &announce_running },
	/* A reload that changes the path reopens the log there. */
	GROUP_KEY("access_log", RELOAD),
	OPT_STRING_KEY(struct nlb_config, "user", user, NULL, RESTART),
	OPT_STRING_KEY(struct nlb_config, "group", group, NULL, RESTART),
	BOOL_KEY(struct nlb_config, allow_root, 0, RESTART),
	/* A filter, once installed, cannot be removed nor widened. */
	BOOL_KEY(struct nlb_config, seccomp, 0, RESTART),
	LIST_KEY("listeners", RELOAD),
	LIST_KEY("target_groups", RELOAD),
	LIST_KEY("gateways", RELOAD),
};

static const struct key_spec stats_keys[] = {
	{ .name = "listen", .type = KEY_ADDR, .apply = RESTART, .required = 1,
	  .offset = offsetof(struct nlb_config, stats_listen),
	  .text_offset = offsetof(struct nlb_config, stats_listen_text) },
};

/* Read into struct nlb_config.  mode is read as libconfig gives it: 1.5
 * drops the leading zero of 0600 and reads 600 in decimal, so the loader
 * takes the digits as octal (load_stats_admin). */
static const struct key_spec admin_keys[] = {
	STRING_KEY(struct nlb_config, "socket", admin_socket, RESTART),
	{ .name = "mode", .type = KEY_UINT, .apply = RESTART,
	  .offset = offsetof(struct nlb_config, admin_mode),
	  .size = sizeof(((struct nlb_config *)0)->admin_mode),
	  .min = 0, .max = 777, .def = 600, .def_text = "0600" },
};

/* idle_timeout_ms default is AWS NLB's 350 s, so clients tuned for that
 * keep working; the maximum is one day.  max_connections and the
 * per-source limits are counted in tables sized at start (the shared
 * connection count, each worker's per-source table): restart only.  A
 * changed name, protocol or address is another listener: a reload
 * removes the old one and adds it. */
/* A listener's keys for every protocol; each protocol's own are its
 * table's part (config_keys_tcp.c, config_keys_udp.c). */
static const struct key_spec listener_keys[] = {
	STRING_KEY(struct nlb_listener_conf, "name", name, RELOAD),
	ENUM_KEY(struct nlb_listener_conf, protocol, protocol_names, NLB_PROTO_TCP, RELOAD),
	ADDR_KEY(struct nlb_listener_conf, addr, addr_text, RELOAD),
	/* Required of all but http listeners, whose default_action names
	 * their group (the loader checks). */
	OPT_STRING_KEY(struct nlb_listener_conf, "target_group", target_group, NULL, RELOAD),
	UINT_KEY(struct nlb_listener_conf, max_connections_per_source, 0, 10000000, 0,
		 "connections per worker", RESTART),
	UINT_KEY(struct nlb_listener_conf, new_connections_per_source_per_s, 0, 10000000, 0,
		 "connections a second per worker", RESTART),
	CIDRS_KEY(struct nlb_listener_conf, allow, RELOAD),
	CIDRS_KEY(struct nlb_listener_conf, deny, RELOAD),
};

/* A group's target slots are sized when it is created: max_targets is
 * restart only. */
static const struct key_spec group_keys[] = {
	STRING_KEY(struct nlb_group_conf, "name", name, RELOAD),
	ENUM_KEY(struct nlb_group_conf, algorithm, algorithm_names, NLB_ALG_MAGLEV, RELOAD),
	UINT_KEY(struct nlb_group_conf, connect_timeout_ms, 1, 600000, 2000, "ms", RELOAD),
	UINT_KEY(struct nlb_group_conf, connect_retries, 0, 16, 2, NULL, RELOAD),
	/* 65537, as in the Maglev paper and Katran: a prime above 100 x
	 * targets keeps imbalance near 1% up to 655 targets. */
	UINT_KEY(struct nlb_group_conf, maglev_table_size, 2, NLB_MAGLEV_MAX_SIZE,
		 NLB_MAGLEV_DEFAULT_SIZE, "entries", RELOAD),
	ENUM_KEY(struct nlb_group_conf, hash_fields, hash_field_names, NLB_HASH_5TUPLE, RELOAD),
	UINT_KEY(struct nlb_group_conf, hash_seed, 0, LLONG_MAX, 0, NULL, RELOAD),
	/* As the AWS NLB: with no healthy target, better all than none. */
	BOOL_KEY(struct nlb_group_conf, fail_open, 1, RELOAD),
	/* The AWS NLB's default and maximum: 300 s, one hour. */
	UINT_KEY(struct nlb_group_conf, deregistration_delay_ms, 0, 3600000, 300000, "ms",
		 RELOAD),
	/* Targets (draining ones included) a group can hold at run time;
	 * each slot costs a few hundred bytes. */
	UINT_KEY(struct nlb_group_conf, max_targets, 1, NLB_MAGLEV_MAX_BACKENDS, 1024, "targets",
		 RESTART),
	ENUM_KEY(struct nlb_group_conf, proxy_protocol, proxy_protocol_names, NLB_PP_NONE,
		 RELOAD),
	GROUP_KEY("health_check", RELOAD),
	GROUP_KEY("tls", RELOAD),
	/* tcp, udp, tcp_udp, http; absent: what its listeners are
	 * (lib/config_http.c checks the table of what goes with what). */
	OPT_STRING_KEY(struct nlb_group_conf, "protocol", protocol_text, NULL, RELOAD),
	/* The ALB's idle timeout, 60 s, bounds its wait for a target. */
	UINT_KEY(struct nlb_group_conf, response_timeout_ms, 1, 3600000, 60000, "ms", RELOAD),
	LIST_KEY("targets", RELOAD),
};

static const char *const hc_protocol_names[] = {
	[NLB_HC_TCP] = "tcp",
	[NLB_HC_HTTP] = "http",
	[NLB_HC_TLS] = "tls",
	[NLB_HC_HTTPS] = "https",
};
_Static_assert(sizeof(enum nlb_hc_protocol) == sizeof(unsigned int), "enum size");

/* The AWS NLB's defaults: every 30 s, 10 s timeout, 5 passes to come
 * back, 2 failures to go; GET / passing on 200-399. */
static const struct key_spec health_keys[] = {
	ENUM_KEY(struct nlb_health_conf, protocol, hc_protocol_names, NLB_HC_TCP, RELOAD),
	UINT_KEY(struct nlb_health_conf, port, 0, 65535, 0, NULL, RELOAD),
	UINT_KEY(struct nlb_health_conf, interval_ms, 10, 3600000, 30000, "ms", RELOAD),
	UINT_KEY(struct nlb_health_conf, timeout_ms, 10, 600000, 10000, "ms", RELOAD),
	UINT_KEY(struct nlb_health_conf, healthy_threshold, 1, 100, 5, "probes", RELOAD),
	UINT_KEY(struct nlb_health_conf, unhealthy_threshold, 1, 100, 2, "probes", RELOAD),
	OPT_STRING_KEY(struct nlb_health_conf, "path", path, "/", RELOAD),
	OPT_STRING_KEY(struct nlb_health_conf, "matcher", matcher_text, "200-399", RELOAD),
	/* Off by default: a probe is not a client, and a target that
	 * requires the header says so by failing it. */
	BOOL_KEY(struct nlb_health_conf, proxy_protocol, 0, RELOAD),
};

static const struct key_spec target_keys[] = {
	ADDR_KEY(struct nlb_target_conf, addr, addr_text, RELOAD),
	UINT_KEY(struct nlb_target_conf, weight, 0, NLB_TARGET_WEIGHT_MAX, 1, NULL, RELOAD),
};

/* ---- sections ---------------------------------------------------------- */

#define ONE_PART(table) { table, ARRAY_LEN(table), 0 }

static const struct key_part top_part = ONE_PART(top_keys);
static const struct key_part stats_part = ONE_PART(stats_keys);
static const struct key_part admin_part = ONE_PART(admin_keys);
static const struct key_part listener_part = ONE_PART(listener_keys);
static const struct key_part group_part = ONE_PART(group_keys);
static const struct key_part health_part = ONE_PART(health_keys);
static const struct key_part target_part = ONE_PART(target_keys);

/* A listener's: every protocol's, then each protocol's own. */
static const struct key_part *const listener_parts[] = {
	&listener_part,
	&nlb_tcp_listener_keys,
	&nlb_udp_listener_keys,
	&nlb_tls_listener_keys,
	&nlb_http_listener_keys,
};

#define PARTS(...) (const struct key_part *const[]){ __VA_ARGS__ }

static const struct {
	const char *name;		/* as the file names it */
	const struct key_part *const *parts;
	size_t n_parts;
} sections[NLB_CONF_SECTIONS] = {
	[NLB_CONF_TOP] = { "", PARTS(&top_part), 1 },
	[NLB_CONF_STATS] = { "stats", PARTS(&stats_part), 1 },
	[NLB_CONF_ADMIN] = { "admin", PARTS(&admin_part), 1 },
	[NLB_CONF_LISTENER] = { "listeners", listener_parts, ARRAY_LEN(listener_parts) },
	[NLB_CONF_GROUP] = { "target_groups", PARTS(&group_part), 1 },
	[NLB_CONF_HEALTH] = { "health_check", PARTS(&health_part), 1 },
	[NLB_CONF_TARGET] = { "targets", PARTS(&target_part), 1 },
	[NLB_CONF_TLS] = { "tls", PARTS(&nlb_tls_keys), 1 },
	[NLB_CONF_TLS_CERT] = { "certificates", PARTS(&nlb_tls_cert_keys), 1 },
	[NLB_CONF_GROUP_TLS] = { "tls", PARTS(&nlb_group_tls_keys), 1 },
	[NLB_CONF_HTTP_ACTION] = { "default_action", PARTS(&nlb_http_action_keys), 1 },
	[NLB_CONF_ACCESS_LOG] = { "access_log", PARTS(&nlb_access_log_keys), 1 },
	[NLB_CONF_GATEWAY] = { "gateways", PARTS(&nlb_gateway_keys), 1 },
	[NLB_CONF_ANNOUNCE] = { "announce", PARTS(&nlb_announce_keys), 1 },
};

const struct key_part *const *cfg_section_parts(enum nlb_config_section s, size_t *n_parts)
{
	*n_parts = sections[s].n_parts;
	return sections[s].parts;
}

/* ---- what the tables say -------------------------------------------------- */

static const char *const type_names[] = {
	[KEY_UINT] = "integer",
	[KEY_ENUM] = "string",
	[KEY_STRING] = "string",
	[KEY_ADDR] = "address",
	[KEY_LIST] = "list",
	[KEY_CIDRS] = "prefix array",
	[KEY_BOOL] = "boolean",
	[KEY_GROUP] = "group",
};

static void describe(enum nlb_config_section s, const struct key_part *part,
		     const struct key_spec *k, struct nlb_config_key *d)
{
	memset(d, 0, sizeof(*d));
	d->section = s;
	d->protocols = part->protocols;
	d->section_name = sections[s].name;
	d->name = k->name;
	d->type = enum_name(type_names, ARRAY_LEN(type_names), k->type);
	d->apply = k->apply;
	d->required = k->required != 0;
	if (k->def_text != NULL)
		snprintf(d->def, sizeof(d->def), "%s", k->def_text);
	else if (k->type == KEY_UINT && !k->required)
		snprintf(d->def, sizeof(d->def), "%lld", k->def);
	else if (k->type == KEY_ENUM)
		snprintf(d->def, sizeof(d->def), "\"%s\"",
			 enum_name(k->names, k->n_names, (unsigned)k->def));
	else if (k->type == KEY_BOOL)
		snprintf(d->def, sizeof(d->def), "%s", k->def ? "true" : "false");
	else if (k->type == KEY_STRING && k->def_str != NULL)
		snprintf(d->def, sizeof(d->def), "\"%s\"", k->def_str);
	if (k->type == KEY_UINT) {
		d->has_range = true;
		d->min = k->min;
		d->max = k->max;
		d->unit = k->unit;
	}
	if (k->type == KEY_ENUM) {
		d->choices = k->names;
		d->n_choices = k->n_names;
	}
}

int nlb_config_keys_visit(nlb_config_key_fn *fn, void *arg)
{
	for (int s = 0; s < NLB_CONF_SECTIONS; s++) {
		for (size_t p = 0; p < sections[s].n_parts; p++) {
			const struct key_part *part = sections[s].parts[p];
			for (size_t i = 0; i < part->n; i++) {
				struct nlb_config_key d;
				describe((enum nlb_config_section)s, part, &part->keys[i], &d);
				int r = fn(&d, arg);
				if (r != 0)
					return r;
			}
		}
	}
	return 0;
}

/* ---- what a reload cannot apply ------------------------------------------ */

/* Whether key k's field differs between two structs of its section.
 * Lists, groups and prefix arrays have no field to compare: one that
 * only a restart applies needs a struct key_running. */
static bool field_differs(const struct key_spec *k, const void *running, const void *loaded)
{
	const char *a = (const char *)running + k->offset, *b = (const char *)loaded + k->offset;
	switch (k->type) {
	case KEY_UINT:
		return memcmp(a, b, k->size) != 0;
	case KEY_ENUM:
	case KEY_BOOL:
		return memcmp(a, b, sizeof(unsigned int)) != 0;
	case KEY_STRING: {
		const char *sa, *sb;
		memcpy(&sa, a, sizeof(sa));
		memcpy(&sb, b, sizeof(sb));
		return str_differ(sa, sb);
	}
	case KEY_ADDR: {
		struct nlb_addr x, y;
		memcpy(&x, a, sizeof(x));
		memcpy(&y, b, sizeof(y));
		return !nlb_addr_equal(&x, &y);
	}
	case KEY_LIST:
	case KEY_CIDRS:
	case KEY_GROUP:
		break;
	}
	return false;
}

/* Sets key k's field in loaded back to running's. */
static void field_keep(const struct key_spec *k, void *running, void *loaded)
{
	char *a = (char *)running + k->offset, *b = (char *)loaded + k->offset;
	switch (k->type) {
	case KEY_UINT:
		memcpy(b, a, k->size);
		break;
	case KEY_ENUM:
	case KEY_BOOL:
		memcpy(b, a, sizeof(unsigned int));
		break;
	case KEY_STRING: {
		char *sa, *sb;
		memcpy(&sa, a, sizeof(sa));
		memcpy(&sb, b, sizeof(sb));
		memcpy(a, &sb, sizeof(sb));
		memcpy(b, &sa, sizeof(sa));
		break;
	}
	case KEY_ADDR:
		memcpy(b, a, sizeof(struct nlb_addr));
		memcpy((char *)loaded + k->text_offset, (char *)running + k->text_offset,
		       NLB_ADDRSTRLEN);
		break;
	case KEY_LIST:
	case KEY_CIDRS:
	case KEY_GROUP:
		break;
	}
}

unsigned nlb_config_keep_restart_only(enum nlb_config_section s, void *running, void *loaded,
				      nlb_config_unapplied_fn *unapplied, void *arg)
{
	unsigned n = 0;
	for (size_t p = 0; p < sections[s].n_parts; p++) {
		for (size_t i = 0; i < sections[s].parts[p]->n; i++) {
			const struct key_spec *k = &sections[s].parts[p]->keys[i];
			if (k->apply != NLB_CONFIG_RESTARTS)
				continue;
			bool differs = k->running ? k->running->differs(running, loaded) :
					field_differs(k, running, loaded);
			if (!differs)
				continue;
			unapplied(k->name, arg);
			if (k->running)
				k->running->keep(running, loaded);
			else
				field_keep(k, running, loaded);
			n++;
		}
	}
	return n;
}
