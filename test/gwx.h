/* What the gateway suites (test_gateway_lab.c, test_gateway.c) share: an
 * echo server (nlb-bench serve) in one of the lab's namespaces, sockets
 * connected from another, and TCP and UDP round trips through the lab;
 * each step fails the test, saying where, when it cannot be done. */
#ifndef NLB_TEST_GWX_H
#define NLB_TEST_GWX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "helpers/gateway_lab.h"

struct t_nlb;

/* nlb-bench serve --mode echo [extra] on addr in ns, once it says so. */
struct t_nlb *gwx_serve(const struct t_netns *ns, const char *addr, const char *extra);
/* A socket of type made in ns and connected to addr:port (TCP: within
 * 3 s); the caller closes it. */
int gwx_connect(const struct t_netns *ns, int type, const char *addr, uint16_t port);
/* A TCP round trip from ns to the echo server at addr:port. */
void gwx_tcp_echo_ok(const struct t_netns *ns, const char *addr, uint16_t port);
/* msg (len bytes) sent on the connected datagram socket fd, again every
 * 500 ms until something comes back, six times at most (the first may
 * wait for neighbour resolution): the bytes read into got (cap), or -1. */
ssize_t gwx_udp_ask(int fd, const void *msg, size_t len, void *got, size_t cap);
/* A UDP datagram from ns to the echo server at addr:port, and back
 * (gwx_udp_ask). */
void gwx_udp_echo_ok(const struct t_netns *ns, const char *addr, uint16_t port);

#endif
