/* Socket set-ups the nlb-bench server and clients share.  Addresses are
 * lib/addr's struct nlb_addr.  Everything returns an fd or -errno. */
#ifndef BENCH_NET_H
#define BENCH_NET_H

#include "addr.h"

/* A bound SO_REUSEADDR + SO_REUSEPORT socket of type SOCK_STREAM (listening,
 * backlog SOMAXCONN) or SOCK_DGRAM; IPv6 sockets are V6ONLY.  If a's port
 * is 0 it is set to the one the kernel picked, so further sockets (one per
 * thread) join the same port. */
int bench_listen_socket(struct nlb_addr *a, int type);

/* A TCP socket for a's family with TCP_NODELAY set, not connected. */
int bench_tcp_socket(const struct nlb_addr *a);

/* A UDP socket connected to a, so it has a source port of its own. */
int bench_udp_connected(const struct nlb_addr *a);

/* Sets TCP_NODELAY; a failure is ignored (it costs latency only). */
void bench_set_nodelay(int fd);

/* Asks for a socket receive buffer of bytes: SO_RCVBUFFORCE (root, past
 * net.core.rmem_max), else SO_RCVBUF (capped at rmem_max).  Best effort: a
 * failure leaves the default. */
void bench_set_rcvbuf(int fd, int bytes);

#endif
