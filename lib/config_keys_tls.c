/* The keys of TLS: a tls listener's tls = { ... } group and its
 * certificates, and a target group's tls = { ... } (config_keys-t.h).
 * What they mean is doc/tls.md's; lib/tls_server.c and lib/tls_client.c
 * build OpenSSL's contexts from them. */
#include "config_keys-t.h"

#include <stddef.h>

static const char *const tls_policy_names[] = {
	[NLB_TLS_POLICY_13_12] = "tls13-12",
	[NLB_TLS_POLICY_13_ONLY] = "tls13-only",
	[NLB_TLS_POLICY_COMPAT] = "compat",
};
_Static_assert(sizeof(enum nlb_tls_policy) == sizeof(unsigned int), "enum size");

static const char *const tls_alpn_names[] = {
	[NLB_TLS_ALPN_NONE] = "none",
	[NLB_TLS_ALPN_HTTP1_ONLY] = "http1-only",
};
_Static_assert(sizeof(enum nlb_tls_alpn) == sizeof(unsigned int), "enum size");

/* In a tls listener: the group itself (the loader reads it, and
 * requires it of tls listeners only). */
static const struct key_spec listener_keys[] = {
	{ .name = "tls", .type = KEY_GROUP, .apply = RELOAD },
};

const struct key_part nlb_tls_listener_keys = {
	listener_keys, ARRAY_LEN(listener_keys),
	NLB_PROTO_BIT(NLB_PROTO_TLS) | NLB_PROTO_BIT(NLB_PROTO_HTTPS),
};

/* Certificates, keys and ticket keys are read by every reload (as the
 * user nlb runs as), so a reload is how a certificate is renewed.  10 s
 * for a handshake, as HAProxy's timeout client and NGINX's
 * proxy_timeout are commonly set; a slow client is not a reason to keep
 * a half-open handshake longer.  Two tickets a handshake, OpenSSL's,
 * NGINX's and HAProxy's number: a client may open two connections that
 * resume (a TLS 1.3 ticket is meant to be used once); each costs about a
 * tenth of a full handshake's CPU, so 0 is there for listeners whose
 * clients never resume. */
static const struct key_spec tls_keys[] = {
	{ .name = "certificates", .type = KEY_LIST, .apply = RELOAD, .required = 1 },
	ENUM_KEY(struct nlb_tls_listener_conf, policy, tls_policy_names, NLB_TLS_POLICY_13_12,
		 RELOAD),
	ENUM_KEY(struct nlb_tls_listener_conf, alpn, tls_alpn_names, NLB_TLS_ALPN_NONE, RELOAD),
	OPT_STRING_KEY(struct nlb_tls_listener_conf, "ticket_keys", ticket_keys, NULL, RELOAD),
	UINT_KEY(struct nlb_tls_listener_conf, session_tickets, 0, 8, 2, NULL, RELOAD),
	UINT_KEY(struct nlb_tls_listener_conf, handshake_timeout_ms, 100, 600000, 10000, "ms",
		 RELOAD),
};

const struct key_part nlb_tls_keys = { tls_keys, ARRAY_LEN(tls_keys), 0 };

static const struct key_spec cert_keys[] = {
	STRING_KEY(struct nlb_tls_cert_conf, "cert", cert, RELOAD),
	STRING_KEY(struct nlb_tls_cert_conf, "key", key, RELOAD),
};

const struct key_part nlb_tls_cert_keys = { cert_keys, ARRAY_LEN(cert_keys), 0 };

/* A target group's tls: without ca, encrypted but not verified, as the
 * AWS NLB does with TLS target groups. */
static const struct key_spec group_tls_keys[] = {
	OPT_STRING_KEY(struct nlb_tls_group_conf, "ca", ca, NULL, RELOAD),
	OPT_STRING_KEY(struct nlb_tls_group_conf, "server_name", server_name, NULL, RELOAD),
};

const struct key_part nlb_group_tls_keys = { group_tls_keys, ARRAY_LEN(group_tls_keys), 0 };
