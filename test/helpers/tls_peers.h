/* TLS for integration tests: certificates made with the openssl command
 * (a CA and leaves it signed, in a temp directory of the test's own) and
 * a blocking TLS client on OpenSSL for the checks curl and s_client
 * cannot make (checksums both ways, a session kept across a reload). */
#ifndef NLB_TEST_TLS_PEERS_H
#define NLB_TEST_TLS_PEERS_H

#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>

struct t_tls {
	char dir[64];			/* holds ca.pem, ca.key and the leaves */
};

/* A fresh directory with a CA (EC P-256, CN nlb-test-ca): 0 or -errno. */
int t_tls_init(struct t_tls *t);
/* A leaf the CA signed: <dir>/<file>.pem and <file>.key, CN cn,
 * subjectAltName sans ("DNS:a.test,DNS:*.w.test"), key "ec" (P-256) or
 * "rsa" (2048).  0 or -1. */
int t_tls_leaf(struct t_tls *t, const char *file, const char *cn, const char *sans,
	       const char *key);
/* <dir>/<file> into out. */
const char *t_tls_path(const struct t_tls *t, const char *file, char *out, size_t len);
/* Removes the directory and what is in it. */
void t_tls_free(struct t_tls *t);

struct t_tls_client_opts {
	const char *sni;		/* NULL: none */
	const char *ca;			/* NULL: no verification */
	int max_version;		/* 0: any (TLS1_2_VERSION...) */
	SSL_SESSION *session;		/* resume this one */
	const char *alpn;		/* offered, comma-separated: "h2,http/1.1" */
	const char *before;		/* sent plain before the ClientHello (a PROXY header) */
	int *tickets;			/* counts the sessions (tickets) the server sends */
};

/* A TLS connection to 127.0.0.1:port, handshake done (blocking, 5 s
 * socket timeouts): its SSL, fd in *fd; NULL when it failed (the error
 * queue printed). */
SSL *t_tls_connect(uint16_t port, const struct t_tls_client_opts *o, int *fd);
/* Writes all of buf, reads back exactly len bytes: 0 or -1. */
int t_tls_round_trip(SSL *ssl, const void *buf, size_t len);
/* The peer certificate's subject CN into out ("" when none). */
const char *t_tls_peer_cn(SSL *ssl, char *out, size_t len);
/* send_len bytes of pattern seed sent while everything is read, then
 * close_notify; until the peer's close_notify or FIN, at most
 * timeout_ms.  0 or -1; *received and *sum (t_sum_update) of what came. */
int t_tls_bulk(SSL *ssl, int fd, uint64_t send_len, uint64_t seed, int timeout_ms,
	       uint64_t *received, uint64_t *sum);
/* close_notify, then the socket closed, the SSL freed. */
void t_tls_close(SSL *ssl, int fd);

#endif
