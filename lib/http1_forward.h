/* The heads nlb sends on: a client's request as a target gets it, and a
 * target's response as the client gets it (RFC 9110, 7.6).  The request
 * line and the status code pass as they came; hop-by-hop fields
 * (Connection and what it names, Keep-Alive, Proxy-Connection, TE,
 * Upgrade unless the exchange upgrades) are dropped and nlb writes its
 * own Connection; X-Forwarded-For follows the listener's mode, as the
 * AWS Application Load Balancer's xff_header_processing, and
 * X-Forwarded-Proto and X-Forwarded-Port are nlb's, whatever the client
 * sent.  Bodies pass unchanged, so Transfer-Encoding and Content-Length
 * stay as they are. */
#ifndef NLB_HTTP1_FORWARD_H
#define NLB_HTTP1_FORWARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http1_head.h"

enum nlb_xff_mode {
	NLB_XFF_APPEND = 0,	/* "a, b" from the client, then ", <client>" (default) */
	NLB_XFF_PRESERVE,	/* as the client sent it, nothing added */
	NLB_XFF_REMOVE,		/* none */
};

/* What nlb knows of the client side of a request. */
struct nlb_http1_origin {
	enum nlb_xff_mode xff;
	const char *client;	/* the client's address, IPv6 without brackets */
	const char *proto;	/* "http" or "https" */
	uint16_t port;		/* the listener's port */
};

/* Writes into out (cap bytes) the head a target gets for request h
 * (parsed from buf): HTTP/1.0 requests keep their version and ask for
 * keep-alive, so a target answers them in a form a 1.0 client reads;
 * an upgrade request keeps Upgrade and says Connection: upgrade.
 * Returns the head's length, or -ENOSPC when it does not fit. */
int nlb_http1_forward_request(const struct nlb_http1_head *h, const char *buf,
			      const struct nlb_http1_origin *o, char *out, size_t cap);

/* Writes the head a client of HTTP/1.<client_minor> gets for response h:
 * "HTTP/1.1" and the target's status and reason, its end-to-end fields,
 * then Connection: close when nlb closes after it (close), keep-alive
 * for a 1.0 client that stays, upgrade for a 101; extra (whole lines,
 * each ending CRLF; NULL: none) after the target's fields, for nlb's
 * own (a stickiness cookie).  Returns the length, or -ENOSPC. */
int nlb_http1_forward_response(const struct nlb_http1_head *h, const char *buf,
			       int client_minor, bool close, const char *extra, char *out,
			       size_t cap);

#endif
