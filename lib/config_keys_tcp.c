/* The keys a TCP listener (tcp, tcp_udp, tls, http) has beyond every listener's:
 * TCP stream's part of the listener section (config_keys-t.h). */
#include "config_keys-t.h"

#include <stddef.h>

static const char *const steering_names[] = {
	[NLB_STEER_HASH] = "hash",
	[NLB_STEER_CPU] = "cpu",
};

_Static_assert(sizeof(enum nlb_steering) == sizeof(unsigned int), "enum size");

static const struct key_spec keys[] = {
	/* The AWS NLB's 350 s, so clients tuned for it keep working; at
	 * most a day.  Then the connection is reset. */
	UINT_KEY(struct nlb_listener_conf, idle_timeout_ms, 1, 86400000, 350000, "ms", RELOAD),
	UINT_KEY(struct nlb_listener_conf, max_connections, 0, 10000000, 0, "connections",
		 RESTART),
	/* Behind another balancer: HAProxy's accept-proxy and its 3 s
	 * default for a client to send the header. */
	BOOL_KEY(struct nlb_listener_conf, accept_proxy_protocol, 0, RELOAD),
	UINT_KEY(struct nlb_listener_conf, proxy_protocol_timeout_ms, 1, 60000, 3000, "ms",
		 RELOAD),
	/* Opt-in: right where the NIC spreads flows over CPUs (RSS), and it
	 * gives up the 4-tuple's stickiness to one worker. */
	ENUM_KEY(struct nlb_listener_conf, steering, steering_names, NLB_STEER_HASH, RESTART),
};

const struct key_part nlb_tcp_listener_keys = {
	keys, ARRAY_LEN(keys), NLB_PROTO_BIT(NLB_PROTO_TCP) | NLB_PROTO_BIT(NLB_PROTO_TCP_UDP) |
		NLB_PROTO_BIT(NLB_PROTO_TLS) | NLB_PROTO_BIT(NLB_PROTO_HTTP) |
		NLB_PROTO_BIT(NLB_PROTO_HTTPS),
};
