/* What the gateway suites (test_gateway_lab.c, test_gateway.c) share: an
 * echo server (nlb-bench serve) in one of the lab's namespaces, sockets
 * connected from another, and TCP and UDP round trips through the lab;
 * each step fails the test, saying where, when it cannot be done. */
#ifndef NLB_TEST_GWX_H
#define NLB_TEST_GWX_H

#include <stdint.h>

#include "helpers/gateway_lab.h"

struct t_nlb;

/* nlb-bench serve --mode echo [extra] on addr in ns, once it says so. */
struct t_nlb *gwx_serve(const struct t_netns *ns, const char *addr, const char *extra);
/* A socket of type made in ns and connected to addr:port (TCP: within
 * 3 s); the caller closes it. */
int gwx_connect(const struct t_netns *ns, int type, const char *addr, uint16_t port);
/* A TCP round trip from ns to the echo server at addr:port. */
void gwx_tcp_echo_ok(const struct t_netns *ns, const char *addr, uint16_t port);
/* A UDP datagram from ns to the echo server at addr:port, and back
 * (resent every 500 ms, six times at most). */
void gwx_udp_echo_ok(const struct t_netns *ns, const char *addr, uint16_t port);

#endif
