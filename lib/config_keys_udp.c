/* The keys a UDP listener (udp, tcp_udp) has beyond every listener's:
 * UDP's part of the listener section (config_keys-t.h). */
#include "config_keys-t.h"

#include <stddef.h>

static const struct key_spec keys[] = {
	/* The AWS NLB's 120 s flow idle timeout; flows held at once (each
	 * costs a socket to its target). */
	UINT_KEY(struct nlb_listener_conf, udp_idle_timeout_ms, 1, 86400000, 120000, "ms",
		 RELOAD),
	UINT_KEY(struct nlb_listener_conf, max_flows, 1, 10000000, 100000, "flows", RELOAD),
};

const struct key_part nlb_udp_listener_keys = {
	keys, ARRAY_LEN(keys), NLB_PROTO_BIT(NLB_PROTO_UDP) | NLB_PROTO_BIT(NLB_PROTO_TCP_UDP),
};
