/* A target group's TLS client side: one SSL_CTX for the group's
 * connections to its targets, TLS 1.2 or newer, verifying the chain
 * against the group's CA file and the name (server_name, or the target's
 * address) when one is given; without a CA, encrypting only (as the AWS
 * NLB does).  Immutable once built; workers share one; a reload builds
 * another. */
#ifndef NLB_TLS_CLIENT_H
#define NLB_TLS_CLIENT_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

#include "config_snapshot-t.h"

/* Loads conf's CA file (read now, as the calling user).  0, or -errno
 * with err saying what is wrong in one line. */
int nlb_tls_client_new(const struct nlb_tls_group_conf *conf, struct nlb_tls_client **out,
		       char *err, size_t errlen);
void nlb_tls_client_free(struct nlb_tls_client *c);

/* A new client-side SSL in connect state, no BIO yet, for a target whose
 * address is target_ip (numeric, no port): SNI is server_name when
 * configured (an address is never sent as SNI), and with a CA the
 * certificate must name server_name, or else target_ip.  NULL when out
 * of memory.  Thread-safe. */
SSL *nlb_tls_client_ssl(struct nlb_tls_client *c, const char *target_ip);

/* Whether the group verifies what its targets present. */
bool nlb_tls_client_verifies(const struct nlb_tls_client *c);

#endif
