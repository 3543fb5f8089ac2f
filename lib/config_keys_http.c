/* The keys of an http listener beyond a TCP listener's, and of its
 * default_action = { } (config_keys-t.h).  What they mean is doc/http.md's;
 * lib/config_http.c checks how they go with the target group. */
#include "config_keys-t.h"

#include <stddef.h>

static const char *const xff_names[] = {
	[NLB_XFF_APPEND] = "append",
	[NLB_XFF_PRESERVE] = "preserve",
	[NLB_XFF_REMOVE] = "remove",
};
_Static_assert(sizeof(enum nlb_xff_mode) == sizeof(unsigned int), "enum size");

/* The ALB's 60 s for both waits.  16 KiB of head, as HAProxy's default
 * buffer and the ALB's request line and header limits; spans inside a
 * head are 16-bit, so 65,535 at most. */
static const struct key_spec keys[] = {
	UINT_KEY_AS(struct nlb_listener_conf, "request_timeout_ms", http.request_timeout_ms, 1,
		    3600000, 60000, "ms", RELOAD),
	UINT_KEY_AS(struct nlb_listener_conf, "keepalive_timeout_ms", http.keepalive_timeout_ms,
		    1, 3600000, 60000, "ms", RELOAD),
	UINT_KEY_AS(struct nlb_listener_conf, "max_header_bytes", http.max_header_bytes, 1024,
		    65535, 16384, "bytes", RELOAD),
	ENUM_KEY_AS(struct nlb_listener_conf, "xff", http.xff, xff_names, NLB_XFF_APPEND, RELOAD),
	/* No limit by default, as the ALB; 1 TiB at most. */
	UINT_KEY_AS(struct nlb_listener_conf, "max_body_bytes", http.max_body_bytes, 0,
		    1099511627776LL, 0, "bytes", RELOAD),
	GROUP_KEY("default_action", RELOAD),
	/* Read by lib/config_rules.c; a reload applies them to new requests. */
	LIST_KEY("rules", RELOAD),
};

const struct key_part nlb_http_listener_keys = {
	keys, ARRAY_LEN(keys), NLB_PROTO_BIT(NLB_PROTO_HTTP) | NLB_PROTO_BIT(NLB_PROTO_HTTPS),
};

static const struct key_spec action_keys[] = {
	STRING_KEY(struct nlb_http_listener_conf, "forward", forward, RELOAD),
};

const struct key_part nlb_http_action_keys = { action_keys, ARRAY_LEN(action_keys), 0 };

/* The access log's file: reopened by reloads and "nlbctl reopen", as the
 * user nlb runs as, so its directory must be writable by that user. */
static const struct key_spec access_log_keys[] = {
	STRING_KEY(struct nlb_config, "path", access_log_path, RELOAD),
};

const struct key_part nlb_access_log_keys = { access_log_keys, ARRAY_LEN(access_log_keys), 0 };
