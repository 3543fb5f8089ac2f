/* Handshake failure reasons (see tls_error.h): OpenSSL's reason codes
 * (openssl/sslerr.h, 3.0) sorted into the few a metric label can carry. */
#include "tls_error.h"

#include <openssl/err.h>

static const char *const fail_names[NLB_TLS_FAIL_N] = {
	[NLB_TLS_FAIL_NOT_TLS] = "not_tls",
	[NLB_TLS_FAIL_VERSION] = "version",
	[NLB_TLS_FAIL_CIPHER] = "cipher",
	[NLB_TLS_FAIL_ALERT] = "alert",
	[NLB_TLS_FAIL_EOF] = "eof",
	[NLB_TLS_FAIL_TIMEOUT] = "timeout",
	[NLB_TLS_FAIL_VERIFY] = "verify",
	[NLB_TLS_FAIL_RENEGOTIATION] = "renegotiation",
	[NLB_TLS_FAIL_PROTOCOL] = "protocol",
};

const char *nlb_tls_fail_name(enum nlb_tls_fail f)
{
	if ((unsigned)f >= NLB_TLS_FAIL_N)
		return "unknown";
	return fail_names[f];
}

/* One queued error's class; NLB_TLS_FAIL_N for one that names no
 * particular reason (a wrapper such as "PEM lib", another library's). */
static enum nlb_tls_fail classify_one(unsigned long e)
{
	if (ERR_SYSTEM_ERROR(e))
		return NLB_TLS_FAIL_EOF;	/* a reset, or a read error under it */
	if (ERR_GET_LIB(e) != ERR_LIB_SSL)
		return NLB_TLS_FAIL_N;
	int reason = ERR_GET_REASON(e);
	/* Reasons from 1000 up are the alert the peer sent, 1000 + its
	 * code (SSL_AD_REASON_OFFSET). */
	if (reason >= SSL_AD_REASON_OFFSET && reason < SSL_AD_REASON_OFFSET + 256)
		return NLB_TLS_FAIL_ALERT;
	switch (reason) {
	/* The record layer's first look at the bytes: no TLS record header.
	 * OpenSSL names plain HTTP and proxy CONNECT requests itself. */
	case SSL_R_WRONG_VERSION_NUMBER:
	case SSL_R_HTTP_REQUEST:
	case SSL_R_HTTPS_PROXY_REQUEST:
	case SSL_R_PACKET_LENGTH_TOO_LONG:
	case SSL_R_ENCRYPTED_LENGTH_TOO_LONG:
	case SSL_R_RECORD_LENGTH_MISMATCH:
	case SSL_R_UNKNOWN_PROTOCOL:
		return NLB_TLS_FAIL_NOT_TLS;
	case SSL_R_UNSUPPORTED_PROTOCOL:
	case SSL_R_UNSUPPORTED_SSL_VERSION:
	case SSL_R_VERSION_TOO_LOW:
	case SSL_R_WRONG_SSL_VERSION:
	case SSL_R_BAD_PROTOCOL_VERSION_NUMBER:
	case SSL_R_INAPPROPRIATE_FALLBACK:
		return NLB_TLS_FAIL_VERSION;
	case SSL_R_NO_SHARED_CIPHER:
	case SSL_R_NO_SHARED_GROUPS:
	case SSL_R_NO_SUITABLE_KEY_SHARE:
	case SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM:
	case SSL_R_NO_SHARED_SIGNATURE_ALGORITHMS:
		return NLB_TLS_FAIL_CIPHER;
	case SSL_R_CERTIFICATE_VERIFY_FAILED:
		return NLB_TLS_FAIL_VERIFY;
	case SSL_R_UNEXPECTED_EOF_WHILE_READING:
		return NLB_TLS_FAIL_EOF;
	default:
		return NLB_TLS_FAIL_PROTOCOL;
	}
}

enum nlb_tls_fail nlb_tls_fail_classify(const SSL *ssl, int ssl_error)
{
	enum nlb_tls_fail f = NLB_TLS_FAIL_N;
	unsigned long e;
	int queued = 0;

	(void)ssl;
	/* The oldest error is the cause, the later ones what it broke:
	 * the first with a class other than "protocol" wins.  The queue is
	 * drained so that the next connection on this thread starts clean. */
	while ((e = ERR_get_error()) != 0) {
		queued = 1;
		if (f == NLB_TLS_FAIL_N || f == NLB_TLS_FAIL_PROTOCOL) {
			enum nlb_tls_fail one = classify_one(e);
			if (one != NLB_TLS_FAIL_N)
				f = one;
		}
	}
	ERR_clear_error();
	if (f != NLB_TLS_FAIL_N)
		return f;
	/* SSL_ERROR_SYSCALL with nothing queued: the transport ended
	 * (SSL_ERROR_ZERO_RETURN: the peer's close_notify, mid-handshake). */
	if (!queued && (ssl_error == SSL_ERROR_SYSCALL || ssl_error == SSL_ERROR_ZERO_RETURN))
		return NLB_TLS_FAIL_EOF;
	return NLB_TLS_FAIL_PROTOCOL;
}
