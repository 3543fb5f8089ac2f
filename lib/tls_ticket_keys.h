/* Session ticket keys shared by every worker and every nlb host: the
 * file a listener's tls.ticket_keys names, parsed.  Pure text handling:
 * no OpenSSL, no I/O. */
#ifndef NLB_TLS_TICKET_KEYS_H
#define NLB_TLS_TICKET_KEYS_H

#include <stddef.h>
#include <stdint.h>

/* Keys a file may hold: one encrypting, the rest kept so tickets issued
 * under them still resume while a rotation reaches every host. */
#define NLB_TLS_TICKET_KEYS_MAX 8

/* One key, in the byte order of NGINX's ssl_session_ticket_key files:
 * 80 bytes (16 name, 32 HMAC-SHA256 secret, 32 AES-256 key) or 48 (16,
 * 16, 16: AES-128).  HAProxy's tls-ticket-keys lines hold the same sizes
 * but put the AES key before the HMAC secret. */
struct nlb_tls_ticket_key {
	uint8_t name[16];
	uint8_t hmac[32];
	uint8_t aes[32];
	uint8_t hmac_len;		/* 32 or 16 */
	uint8_t aes_len;		/* 32 or 16 */
};

/* Parses a ticket key file's len bytes: one key a line, base64 (RFC 4648,
 * padded) of 80 or 48 bytes, the length of the first for all; blank lines
 * and lines starting with '#' skipped; CRLF or LF.  The first key
 * encrypts new tickets, every key decrypts (NGINX's order: rotate by
 * adding the new key second on every host, then moving it first).
 * Returns the number of keys (1..cap), or -EINVAL with *bad_line the
 * 1-based line at fault (0: no key at all), or -E2BIG past cap keys
 * (*bad_line the first key too many). */
int nlb_tls_ticket_keys_parse(const char *text, size_t len, struct nlb_tls_ticket_key *out,
			      size_t cap, int *bad_line);

#endif
