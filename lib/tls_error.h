/* Why a TLS handshake failed, as a small fixed set of reasons: the
 * label of nlb_tls_handshake_errors_total and of log lines.  Read from
 * OpenSSL's error queue after a failed call, which it then clears. */
#ifndef NLB_TLS_ERROR_H
#define NLB_TLS_ERROR_H

#include <openssl/ssl.h>

enum nlb_tls_fail {
	NLB_TLS_FAIL_NOT_TLS = 0,	/* bytes that are no TLS record (plain HTTP, noise) */
	NLB_TLS_FAIL_VERSION,		/* only versions the policy refuses (SSL 3, TLS 1.0, 1.1) */
	NLB_TLS_FAIL_CIPHER,		/* no cipher, group or signature in common */
	NLB_TLS_FAIL_ALERT,		/* the peer sent a fatal alert */
	NLB_TLS_FAIL_EOF,		/* the peer closed or reset mid-handshake */
	NLB_TLS_FAIL_TIMEOUT,		/* handshake_timeout_ms passed (set by the caller) */
	NLB_TLS_FAIL_VERIFY,		/* a target's certificate failed verification */
	NLB_TLS_FAIL_RENEGOTIATION,	/* a renegotiation attempt (set by the caller) */
	NLB_TLS_FAIL_PROTOCOL,		/* any other malformed or unexpected message */
	NLB_TLS_FAIL_N,
};

/* "not_tls", "version", ... : the metric label. */
const char *nlb_tls_fail_name(enum nlb_tls_fail f);

/* The reason for a handshake call that returned SSL_get_error() ==
 * ssl_error (SSL_ERROR_SSL or SSL_ERROR_SYSCALL), from the error queue,
 * which it clears.  Never NLB_TLS_FAIL_TIMEOUT or _RENEGOTIATION. */
enum nlb_tls_fail nlb_tls_fail_classify(const SSL *ssl, int ssl_error);

#endif
