/* Ports on 127.0.0.1: one that is free now, one held so that connects to
 * it are refused, and who listens on a port (from /proc/net). */
#ifndef NLB_TEST_PORTS_H
#define NLB_TEST_PORTS_H

#include <stdint.h>

/* A TCP port on 127.0.0.1 that is free now.  Chosen below the kernel's
 * ephemeral range when there is room (see ports.c for why), never the
 * same twice in one process.  Returns 0 if none was found. */
uint16_t t_free_port(void);

/* Reserves a fresh port on 127.0.0.1: bound with SO_REUSEADDR, never
 * listening, so a connect to it is refused, t_free_port never hands it out
 * (its bind fails) and a server or t_connect_from (both set SO_REUSEADDR)
 * can still use it.  Returns the socket (close it to let the port go) and
 * sets *port, or -errno. */
int t_port_hold(uint16_t *port);

/* Number of TCP sockets in LISTEN on port, any address and family (from
 * /proc/net/tcp and tcp6, so every process's count): several processes
 * share a port with SO_REUSEPORT, one socket per worker each. */
int t_listeners(uint16_t port);
/* TCP sockets in LISTEN on port in a /proc/net/tcp-format file (path:
 * /proc/net/tcp6 too, or another namespace's /proc/PID/net/tcp); 0 when it
 * cannot be read. */
int t_listeners_in(const char *path, uint16_t port);

#endif
