/* The keys of an entry of "gateways" (doc/gateway.md), read into the
 * listener struct that carries a gateway (protocol gateway). */
#include "config_keys-t.h"

#include <stddef.h>

static const char *const stickiness_names[] = { "5tuple", "3tuple", "2tuple" };
static const char *const failover_names[] = {
	[NLB_GW_NO_REBALANCE] = "no_rebalance",
	[NLB_GW_REBALANCE] = "rebalance",
};

/* The GWLB's: flows idle 350 s (TCP; 60 s to 6000 s) and 120 s (the
 * rest), 5-tuple stickiness, no rebalancing.  A changed name, address or
 * tun is another gateway: a reload removes the old one and adds it. */
static const struct key_spec keys[] = {
	STRING_KEY(struct nlb_listener_conf, "name", name, RELOAD),
	STRING_KEY(struct nlb_listener_conf, "tun", gw.tun, RELOAD),
	ADDR_KEY(struct nlb_listener_conf, addr, addr_text, RELOAD),
	STRING_KEY(struct nlb_listener_conf, "target_group", target_group, RELOAD),
	OPT_STRING_KEY(struct nlb_listener_conf, "endpoint_id", gw.endpoint_text, "0x0", RELOAD),
	OPT_STRING_KEY(struct nlb_listener_conf, "attachment_id", gw.attachment_text, "0x0",
		       RELOAD),
	ENUM_KEY_AS(struct nlb_listener_conf, "stickiness", gw.stickiness, stickiness_names, 0,
		    RELOAD),
	UINT_KEY(struct nlb_listener_conf, idle_timeout_ms, 60000, 6000000, 350000, "ms", RELOAD),
	UINT_KEY(struct nlb_listener_conf, udp_idle_timeout_ms, 1000, 6000000, 120000, "ms",
		 RELOAD),
	ENUM_KEY_AS(struct nlb_listener_conf, "target_failover", gw.failover, failover_names,
		    NLB_GW_NO_REBALANCE, RELOAD),
};

const struct key_part nlb_gateway_keys = { keys, ARRAY_LEN(keys), 0 };
