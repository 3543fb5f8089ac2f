/* A TLS listener's server side, built from its configuration: one
 * SSL_CTX per certificate set (RSA and ECDSA certificates with the same
 * names share one), the certificate picked by SNI (exact name, then
 * wildcard, else the first: the default), the policy's versions and
 * ciphers, ALPN, renegotiation refused, session tickets under keys that
 * every worker shares (and every host, with ticket_keys).  Immutable once
 * built but for the ticket keys' rotation, so workers share one; a
 * reload builds another.  OpenSSL never sees a socket here: the caller
 * gives each SSL its memory BIOs. */
#ifndef NLB_TLS_SERVER_H
#define NLB_TLS_SERVER_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config_snapshot-t.h"

/* What `nlbctl show certificates` and the metrics say of a certificate. */
struct nlb_tls_cert_info {
	const char *file;		/* the cert path as configured */
	int line;			/* of its entry in the configuration */
	char subject[256];		/* one line, RFC 2253 */
	char names[1024];		/* subjectAltName DNS names, comma-separated */
	char key_type[16];		/* "RSA-2048", "EC-P-256", ... */
	int64_t not_after;		/* Unix seconds */
};

/* Loads conf's certificates, keys, chains and ticket keys (files read
 * now, as the calling user).  0, or -errno with err saying what is
 * wrong in one line, and *err_line the configuration line it concerns
 * (a certificate's entry, or tls's own line for the ticket keys). */
int nlb_tls_server_new(const struct nlb_tls_listener_conf *conf, struct nlb_tls_server **out,
		       char *err, size_t errlen, int *err_line);
/* Drops the configuration's hold on s; each SSL made from it holds s
 * too, until OpenSSL frees it. */
void nlb_tls_server_free(struct nlb_tls_server *s);

/* A new server-side SSL on the default certificate's context, in accept
 * state, with no BIO yet; NULL when out of memory.  Thread-safe. */
SSL *nlb_tls_server_ssl(struct nlb_tls_server *s);

/* The certificates, in configuration order. */
size_t nlb_tls_server_n_certs(const struct nlb_tls_server *s);
const struct nlb_tls_cert_info *nlb_tls_server_cert(const struct nlb_tls_server *s, size_t i);

/* True once ssl, server side, has seen a renegotiation attempt after its
 * handshake (TLS 1.2 ClientHello on an established session): refused by
 * OpenSSL (SSL_OP_NO_RENEGOTIATION); the caller closes and counts. */
bool nlb_tls_renegotiation_seen(const SSL *ssl);

#endif
