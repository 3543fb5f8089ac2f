/* The loaded configuration's types and bounds: struct nlb_config and its
 * listeners, target groups, health checks and targets, as the loader
 * (lib/config.c) fills them from the key tables (lib/config_keys.c).
 * Types only, so that the key tables can name their fields without
 * including the loader.  Include config.h. */
#ifndef NLB_CONFIG_SNAPSHOT_T_H
#define NLB_CONFIG_SNAPSHOT_T_H

#include <linux/time_types.h>
#include <stddef.h>
#include <stdint.h>

#include "acl.h"
#include "addr.h"
#include "cpu_list.h"
#include "health_check.h"
#include "http1_forward.h"
#include "log.h"
#include "rtnl_route.h"

/* Upper bound of "workers"; 0 (one per CPU nlb may run on) is capped to
 * it too. */
#define NLB_CONFIG_MAX_WORKERS 1024

/* A target's weight is 0 .. this (the file's and the admin socket's). */
#define NLB_TARGET_WEIGHT_MAX 1000u

/* Largest configuration file, in bytes.  It bounds what a load reads and
 * what libconfig builds from it, which a reload does beside the
 * configuration in force: 16 MiB of allow list (738,701 /24 prefixes,
 * one a line, seven times the 100,000 doc/performance.md measures) checks in
 * 1.1 s with a 136 MiB peak (nlb -t).  Larger files are refused. */
#define NLB_CONFIG_MAX_BYTES (16u << 20)

enum nlb_forwarding {
	NLB_FWD_AUTO = 0,
	NLB_FWD_SPLICE,
	NLB_FWD_COPY,
};

enum nlb_protocol {
	NLB_PROTO_TCP = 0,
	NLB_PROTO_UDP,
	NLB_PROTO_TCP_UDP,
	NLB_PROTO_TLS,			/* TCP, TLS terminated */
	NLB_PROTO_HTTP,			/* HTTP/1.x, requests balanced one by one */
	NLB_PROTO_HTTPS,		/* HTTP/1.x in TLS terminated */
	NLB_PROTO_GATEWAY,		/* an entry of "gateways": IP packets over GENEVE */
};

/* Which worker's socket takes a new TCP connection: the kernel's hash of
 * the 4-tuple, or the worker pinned to the CPU that took the SYN. */
enum nlb_steering {
	NLB_STEER_HASH = 0,
	NLB_STEER_CPU,
};

/* The listener protocols that accept TCP connections, and UDP datagrams;
 * and those whose connections the TCP stream module proxies whole (an
 * http listener's are the HTTP module's). */
static inline int nlb_proto_tcp(enum nlb_protocol p)
{
	return p != NLB_PROTO_UDP && p != NLB_PROTO_GATEWAY;
}
static inline int nlb_proto_stream(enum nlb_protocol p)
{
	return p == NLB_PROTO_TCP || p == NLB_PROTO_TCP_UDP || p == NLB_PROTO_TLS;
}
/* The listener protocols of the HTTP module, and those that terminate
 * TLS (a tls = { } block). */
static inline int nlb_proto_http(enum nlb_protocol p)
{
	return p == NLB_PROTO_HTTP || p == NLB_PROTO_HTTPS;
}
static inline int nlb_proto_tls(enum nlb_protocol p)
{
	return p == NLB_PROTO_TLS || p == NLB_PROTO_HTTPS;
}
static inline int nlb_proto_udp(enum nlb_protocol p)
{
	return p == NLB_PROTO_UDP || p == NLB_PROTO_TCP_UDP;
}

enum nlb_algorithm {
	NLB_ALG_MAGLEV = 0,		/* the default */
	NLB_ALG_ROUND_ROBIN,
	NLB_ALG_LEAST_CONN,
	NLB_ALG_RANDOM2,
};

/* The PROXY protocol header a target group's targets are sent. */
enum nlb_proxy_protocol {
	NLB_PP_NONE = 0,
	NLB_PP_V1,
	NLB_PP_V2,
};

enum nlb_hc_protocol {
	NLB_HC_TCP = 0,
	NLB_HC_HTTP,
	NLB_HC_TLS,			/* a TLS handshake */
	NLB_HC_HTTPS,			/* http over TLS */
};

struct nlb_tls_server;
struct nlb_http_rules;
struct nlb_tls_client;

/* A TLS listener's versions and ciphers (doc/tls.md has the lists). */
enum nlb_tls_policy {
	NLB_TLS_POLICY_13_12 = 0,	/* TLS 1.3, and 1.2 with ECDHE and AEAD: the default */
	NLB_TLS_POLICY_13_ONLY,
	NLB_TLS_POLICY_COMPAT,		/* ... and TLS 1.2's ECDHE CBC suites */
};

enum nlb_tls_alpn {
	NLB_TLS_ALPN_NONE = 0,		/* no ALPN answered */
	NLB_TLS_ALPN_HTTP1_ONLY,	/* http/1.1 or http/1.0, when offered */
};

struct nlb_tls_cert_conf {
	char *cert, *key;		/* PEM paths; cert holds the chain after it */
	int line;
};

/* A tls listener's tls = { ... }. */
struct nlb_tls_listener_conf {
	struct nlb_tls_cert_conf *certs;	/* the first is the default */
	size_t n_certs;
	enum nlb_tls_policy policy;
	enum nlb_tls_alpn alpn;
	char *ticket_keys;		/* NULL: keys of this process, rotated daily */
	uint32_t session_tickets;	/* TLS 1.3 tickets a handshake sends; 0: no resumption */
	uint32_t handshake_timeout_ms;
	/* Not in the file: built by the loader from the above, freed with
	 * the configuration (lib/tls_server.h). */
	struct nlb_tls_server *server;
	int line;
};

/* A target group's tls = { ... }: connections to its targets are TLS. */
struct nlb_tls_group_conf {
	unsigned enabled;
	char *ca;			/* NULL: encrypted, not verified */
	char *server_name;		/* SNI and the name verified; NULL: the target's address */
	struct nlb_tls_client *client;	/* built by the loader (lib/tls_client.h) */
	int line;
};

/* A target group's active health check; enabled only when the group has
 * a health_check = { ... } setting. */
struct nlb_health_conf {
	unsigned enabled;
	enum nlb_hc_protocol protocol;
	uint32_t port;			/* 0 = the target's traffic port */
	uint32_t interval_ms;
	uint32_t timeout_ms;
	uint32_t healthy_threshold;
	uint32_t unhealthy_threshold;
	char *path;			/* http */
	char *matcher_text;		/* http */
	struct nlb_hc_matcher matcher;
	unsigned proxy_protocol;	/* probes start with the group's PROXY header */
	/* tls, https on a group without tls = { }: an unverified client
	 * context of the check's own (else the group's is used). */
	struct nlb_tls_client *tls_client;
	int line;
};

/* What a target group's targets speak: set by "protocol", or inferred
 * from the listeners that use the group (lib/config_http.c). */
enum nlb_group_protocol {
	NLB_GROUP_TCP = 0,		/* tcp and tls listeners' (and the default) */
	NLB_GROUP_UDP,
	NLB_GROUP_TCP_UDP,
	NLB_GROUP_HTTP,			/* http listeners' */
	NLB_GROUP_GENEVE,		/* gateways' appliances */
};

/* A gateway's flows (lib/ip_packet.h's enum nlb_gw_stickiness). */
enum nlb_gw_failover {
	NLB_GW_NO_REBALANCE = 0,	/* a flow stays with its appliance until idle */
	NLB_GW_REBALANCE,		/* ... or moves when it is unhealthy or deregistered */
};

/* An entry of "gateways" (doc/gateway.md), kept as a listener of protocol
 * gateway: its address is where GENEVE goes out and comes back. */
struct nlb_gateway_conf {
	char *tun;			/* the TUN device's name */
	char *endpoint_text, *attachment_text;	/* as written */
	uint64_t endpoint_id, attachment_id;	/* GENEVE options 1 and 2 */
	unsigned stickiness;		/* enum nlb_gw_stickiness */
	unsigned failover;		/* enum nlb_gw_failover */
};

/* An http listener's keys (doc/http.md). */
struct nlb_http_listener_conf {
	uint32_t request_timeout_ms;	/* 408 when no whole head in time */
	uint32_t keepalive_timeout_ms;	/* idle between requests: FIN */
	uint32_t max_header_bytes;	/* a bigger head: 431 */
	uint64_t max_body_bytes;	/* a bigger request body: 413; 0: no limit */
	enum nlb_xff_mode xff;
	char *forward;			/* default_action = { forward = "group"; } */
	int forward_line;
	/* rules = ( ... ), built by lib/config_rules.c; NULL: none.
	 * Shared by the configurations that have the same rules. */
	struct nlb_http_rules *rules;
};

struct nlb_target_conf {
	struct nlb_addr addr;
	char addr_text[NLB_ADDRSTRLEN];	/* as written in the file */
	uint32_t weight;		/* 0..NLB_TARGET_WEIGHT_MAX */
	int line;
};

struct nlb_group_conf {
	char *name;
	enum nlb_algorithm algorithm;
	uint32_t connect_timeout_ms;
	struct __kernel_timespec connect_timeout_ts;	/* the same, for linked timeouts */
	uint32_t connect_retries;
	uint32_t maglev_table_size;	/* prime, >= 100 x targets with weight */
	unsigned hash_fields;		/* enum nlb_hash_fields */
	uint64_t hash_seed;
	unsigned fail_open;		/* no healthy target: send to all */
	uint32_t deregistration_delay_ms;	/* a removed target's connections live this long */
	uint32_t max_targets;		/* slots for targets added at run time */
	enum nlb_proxy_protocol proxy_protocol;	/* header sent to targets first */
	struct nlb_health_conf health;
	struct nlb_tls_group_conf tls;
	char *protocol_text;		/* "protocol" as written; NULL: inferred */
	enum nlb_group_protocol protocol;
	uint32_t response_timeout_ms;	/* http: a response head within this, else 504 */
	/* Not in the file: a bit per enum nlb_protocol of the listeners
	 * that use it (lib/config_http.c infers protocol from them). */
	unsigned listener_protocols;
	struct nlb_target_conf *targets;
	size_t n_targets;
	/* Not in the file: a group a reload removed, kept at its slot (no
	 * targets, no check) while its targets drain (reload.c). */
	unsigned removed;
	int line;
};

struct nlb_listener_conf {
	char *name;
	enum nlb_protocol protocol;
	struct nlb_addr addr;
	char addr_text[NLB_ADDRSTRLEN];
	char *target_group;		/* name as written (http: default_action's forward) */
	size_t group;			/* index into nlb_config.groups */
	uint64_t idle_timeout_ms;
	uint32_t max_connections;	/* 0 = unlimited */
	uint64_t udp_idle_timeout_ms;	/* udp, tcp_udp */
	uint32_t max_flows;		/* udp, tcp_udp: flows at once, all workers */
	unsigned accept_proxy_protocol;	/* tcp: clients start with a PROXY header */
	uint32_t proxy_protocol_timeout_ms;	/* ... which must arrive within this */
	enum nlb_steering steering;	/* tcp sockets: SO_REUSEPORT's choice */
	uint32_t max_connections_per_source;	/* per worker; 0 = no limit */
	uint32_t new_connections_per_source_per_s;	/* per worker; 0 = no limit */
	struct nlb_acl *allow, *deny;	/* NULL = no list; deny wins */
	struct nlb_tls_listener_conf tls;	/* protocol tls */
	struct nlb_http_listener_conf http;	/* protocol http */
	struct nlb_gateway_conf gw;		/* protocol gateway */
	/* Not in the file: a removed listener whose slot still drains (or
	 * has drained), kept by reloads at its index (reload.c). */
	unsigned removed;
	int line;
};

/* A prefix of announce: the route it becomes (family, dst, len) and the
 * text the file gave. */
struct nlb_announce_prefix {
	struct nlb_route route;
	char text[64];
};

struct nlb_config {
	char *path;
	uint32_t workers;		/* 0 in the file = n_cpus, resolved here */
	char *cpus_text;		/* "cpus" as written; NULL: absent */
	/* The CPUs workers are pinned to, ascending: those of "cpus", else
	 * all of the affinity mask nlb was started with (a CPU of "cpus"
	 * outside that mask is refused).  Worker i runs on
	 * cpus[i % n_cpus]; n_cpus >= 1. */
	uint16_t cpus[NLB_CPU_LIST_MAX];
	uint32_t n_cpus;
	enum nlb_log_level log_level;
	uint64_t shutdown_timeout_ms;
	enum nlb_forwarding forwarding;
	uint32_t flow_table_size;	/* flows per worker */
	/* stats = { listen = "127.0.0.1:9100"; }: Prometheus metrics */
	unsigned stats_enabled;
	struct nlb_addr stats_listen;
	char stats_listen_text[NLB_ADDRSTRLEN];
	int stats_line;			/* of listen, for bind errors */
	/* admin = { socket = "/run/nlb/admin.sock"; mode = 0600; } */
	char *admin_socket;		/* NULL: no admin socket */
	uint32_t admin_mode;		/* permission bits, e.g. 0600 */
	/* Privileges: dropped to user (and group) once the sockets are
	 * bound; as root without a user nlb refuses to run unless
	 * allow_root. */
	char *user, *group;
	unsigned allow_root;
	/* seccomp = true: after start only the system calls nlb makes are
	 * allowed, and its rings only the io_uring operations it submits
	 * (nlb/core/sandbox.c). */
	unsigned seccomp;
	/* access_log = { path = "..."; }: one line per HTTP request */
	char *access_log_path;		/* NULL: no access log */
	int access_log_line;
	/* announce = { table; prefixes; withdraw_delay_ms; }: a route per
	 * prefix kept while nlb can serve it (doc/scaleout.md) */
	unsigned announce_enabled;
	uint32_t announce_table;
	uint64_t announce_withdraw_delay_ms;
	struct nlb_announce_prefix *announce_prefixes;
	size_t n_announce;
	int announce_line;
	uint32_t udp_max_datagram;	/* bytes; 65535 = any */
	unsigned udp_gro;		/* GRO/GSO batching, with udp_max_datagram 65535 */
	uint32_t ring_cq_entries;	/* each worker's completion queue */
	uint32_t max_memory_mb;		/* resident memory budget; 0: none */
	struct nlb_listener_conf *listeners;
	size_t n_listeners;
	struct nlb_group_conf *groups;
	size_t n_groups;
};

/* The CPU worker i is pinned to: the CPUs in turn. */
static inline unsigned nlb_config_worker_cpu(const struct nlb_config *c, unsigned i)
{
	return c->cpus[i % c->n_cpus];
}

#endif
