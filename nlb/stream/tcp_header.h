/* The PROXY protocol on TCP connections: the header a client on an
 * accept_proxy_protocol listener starts with (read with polls and peeks,
 * so bytes after it stay for the target), the addresses it gives, and
 * the header a group's targets are sent. */
#ifndef NLB_STREAM_TCP_HEADER_H
#define NLB_STREAM_TCP_HEADER_H

#include <sys/socket.h>

#include "config.h"
#include "core/worker-t.h"

/* The client's address: the one its PROXY header gave, or its own; NULL
 * (errno set) if the socket cannot say. */
const struct sockaddr *tcp_conn_client(const struct conn *c, struct sockaddr_storage *ss);
/* The address the client connected to, likewise. */
const struct sockaddr *tcp_conn_local(const struct conn *c, struct sockaddr_storage *ss);

/* c, just accepted, waits for its header (state CONN_HEADER) until its
 * listener's proxy_protocol_timeout_ms.  0, or -ENOMEM (counted; the
 * caller closes c). */
int tcp_header_start(struct worker *w, struct conn *c);

/* The header's poll completed with res: 1 when the whole header is read
 * off the socket (its addresses now stand for c's), 0 when more is
 * awaited (re-armed), or -ETIMEDOUT / -EPROTO when c must be closed with
 * a reset (counted: proxy_header_timeout, proxy_header_invalid). */
int tcp_header_on_poll(struct worker *w, struct conn *c, int res);

/* c's header state back to the worker's pool (c is closing). */
void tcp_header_release(struct tcp_worker *t, struct conn *c);

/* Sends c's target the group's PROXY header, before any byte of the
 * client's; 0 or -errno. */
int tcp_header_send(const struct conn *c, enum nlb_proxy_protocol version);

#endif
