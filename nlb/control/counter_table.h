/* The one table of what nlb counts and how it says so: every counter of
 * the exit stats line and show stats (name, kind, meaning), and every
 * metric family of the metrics endpoint (name, type, HELP, labels, and
 * for those made of counters, which counters each series adds up).  The
 * stats line (stats_visit), the metrics (metrics_render) and the page
 * doc/nlb-metrics.7 (metrics_page_write, make doc) are all made from
 * it, so none can list what the others do not. */
#ifndef NLB_COUNTER_TABLE_H
#define NLB_COUNTER_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/counters-t.h"

/* The control threads' counters, after the workers' on the stats line
 * (their values: stats_visit), each with the family that has it per
 * group (MF_END: none). */
#define NLB_CONTROL_STATS(X)                                                            \
	X(health_probes, counter, "health probes finished, pass or fail, all groups",   \
	  MF_HEALTH_PROBES)                                                             \
	X(health_changes, counter,                                                      \
	  "target health state changes, from probes and from passive detection",        \
	  MF_HEALTH_STATE_CHANGES)                                                      \
	X(table_builds, counter, "balancing tables built and put in force, all groups: " \
	  "at start, by reloads, the admin socket and health changes", MF_TABLE_BUILDS) \
	X(admin_commands, counter, "admin socket command lines answered", MF_END)       \
	X(admin_errors, counter, "admin socket command lines answered with an error", MF_END)

/* A worker counter, by name: COUNTER(accepted). */
enum counter_id {
	COUNTER_NONE = 0,		/* ends a list */
#define NLB_COUNTER_ID(name, ...) COUNTER_##name,
	NLB_WORKER_STATS(NLB_COUNTER_ID)
	NLB_WORKER_STATS_UDP_SPLIT(NLB_COUNTER_ID)
#undef NLB_COUNTER_ID
	COUNTER_END,
};
#define COUNTER(name) COUNTER_##name

/* A counter of the stats line, or one the metrics keep apart. */
struct stat_counter {
	const char *name;
	const char *kind;		/* "counter" (only grows) or "gauge" */
	const char *meaning;		/* one line, no final period */
	enum counter_id id;		/* a worker counter's; COUNTER_NONE: a control thread's */
	/* Kept apart for the metrics: the stats line adds it into this
	 * counter instead of showing it (NULL: on the stats line). */
	const char *added_into;
	/* A control thread's: the family with its per-group counts (or
	 * MF_END); a worker counter's series name it themselves. */
	int family;
};

/* The workers', the UDP parts kept apart, then the control threads',
 * each group in stats line order. */
extern const struct stat_counter nlb_stat_counters[];
extern const size_t nlb_n_stat_counters;

/* Whose series a metric family has; each scope brings its labels. */
enum metric_scope {
	SCOPE_PROCESS = 0,		/* none */
	SCOPE_LISTENER,			/* listener: its name (listeners a reload removed: none) */
	SCOPE_WORKER,			/* worker: 0 .. workers - 1 */
	SCOPE_GROUP,			/* target_group: its name */
	SCOPE_TARGET,			/* target_group, target: the target's address */
	SCOPE_CERTIFICATE,		/* listener, file: a tls listener's certificate */
	SCOPE_RULE,			/* listener, priority: an http listener's rules */
	SCOPE_PREFIX,			/* prefix: a prefix of announce = { } */
};

/* Which listeners have a series. */
enum listener_side {
	ON_ANY = 0,
	ON_TCP,				/* listeners that accept TCP: all but udp */
	ON_UDP,				/* udp and tcp_udp listeners */
	ON_TLS,				/* tls listeners */
	ON_HTTP,			/* http listeners */
	ON_GATEWAY,			/* gateways */
};

#define SERIES_MAX_SUM 4

struct metric_series {
	const char *value;		/* of the family's label; NULL when it has none */
	enum listener_side on;		/* listener families only */
	/* Added up for the value (listener and worker families), COUNTER_NONE
	 * ends; none: the renderer's own source, named by the family. */
	enum counter_id sum[SERIES_MAX_SUM + 1];
};

/* A "histogram" (listener families only) has its series as buckets:
 * label "le", cumulative, "+Inf" last, each a name_bucket sample; then
 * name_sum, from the counter sum_ms in seconds, and name_count, the +Inf
 * bucket's value again. */
struct metric_family {
	const char *name;
	const char *type;		/* "counter", "gauge" or "histogram" */
	const char *help;		/* the HELP line's text */
	enum metric_scope scope;
	const char *label;		/* besides the scope's; NULL: none */
	const struct metric_series *series;	/* in exposition order; NULL: none */
	size_t n_series;
	const char *value_doc;		/* not made of counters: what the value is */
	enum counter_id sum_ms;		/* a histogram's _sum, in milliseconds */
};

/* Whether f is a histogram (struct metric_family). */
bool metric_family_is_histogram(const struct metric_family *f);

/* The families in exposition order. */
enum metric_family_id {
	MF_BUILD_INFO = 0,
	MF_START_TIME,
	MF_WORKERS,
	MF_RESIDENT_MEMORY,
	MF_MEMORY_BUDGET,
	MF_ANNOUNCED,
	MF_ACTIVE_FLOWS,
	MF_NEW_FLOWS,
	MF_PROCESSED_BYTES,
	MF_TCP_CLOSED,
	MF_CLIENT_RESETS,
	MF_TARGET_RESETS,
	MF_RESETS,
	MF_CONNECT_ERRORS,
	MF_FLOW_TABLE_HITS,
	MF_AUTO_SPLICE,
	MF_BUFFER_WAITS,
	MF_ACCEPT_PAUSED,
	MF_UDP_DATAGRAMS,
	MF_UDP_DROPPED,
	MF_UDP_FLOWS_ENDED,
	MF_UDP_TARGET_UNREACHABLE,
	MF_UDP_GRO_BATCHES,
	MF_UDP_GSO_SPLIT,
	MF_TLS_ACTIVE,
	MF_TLS_HANDSHAKES,
	MF_TLS_RESUMPTIONS,
	MF_TLS_HANDSHAKE_DURATION,
	MF_TLS_HANDSHAKE_TIME,
	MF_TLS_HANDSHAKE_ERRORS,
	MF_TLS_CERT_NOT_AFTER,
	MF_HTTP_REQUESTS,
	MF_HTTP_ELB_RESPONSES,
	MF_HTTP_RULE_ANSWERS,
	MF_HTTP_RULE_MATCHES,
	MF_HTTP_TARGET_RESPONSES,
	MF_HTTP_TARGET_RESPONSE_TIME,
	MF_HTTP_TARGET_CONNECTIONS,
	MF_HTTP_RETRIES,
	MF_HTTP_INCOMPLETE,
	MF_ACCESS_LOG_LINES,
	MF_GATEWAY_PACKETS,
	MF_GATEWAY_FLOWS,
	MF_GATEWAY_DROPPED,
	MF_GATEWAY_BATCHED,
	MF_GATEWAY_GSO_SPLIT,
	MF_WORKER_ACCEPTED,
	MF_WORKER_ACTIVE_FLOWS,
	MF_HEALTHY_HOSTS,
	MF_UNHEALTHY_HOSTS,
	MF_TARGET_HEALTH,
	MF_TARGET_HEALTH_STATE,
	MF_TARGET_DRAINING,
	MF_TARGET_ACTIVE_CONNECTIONS,
	MF_TARGET_WEIGHT,
	MF_TABLE_BUILDS,
	MF_HEALTH_PROBES,
	MF_HEALTH_STATE_CHANGES,
	MF_END,
};

extern const struct metric_family nlb_metric_families[MF_END];

/* A worker counter's value in a sum. */
uint64_t stats_sum_get(const struct stats_sum *s, enum counter_id id);

/* The sum of a series' counters in s. */
uint64_t metric_series_value(const struct metric_series *series, const struct stats_sum *s);

#endif
