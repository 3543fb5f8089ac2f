/* Socket addresses as nlb names them: "host:port" and "[v6]:port".
 * Owns parsing and formatting only; no name resolution (an edge balancer
 * must not depend on DNS to start). */
#ifndef NLB_ADDR_H
#define NLB_ADDR_H

#include <stddef.h>
#include <sys/socket.h>

/* "255.255.255.255:65535" and "[ffff:...:ffff%scope]:65535" both fit. */
#define NLB_ADDRSTRLEN 64

struct nlb_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* Parses "1.2.3.4:80" or "[::1]:80" (numeric only).  Port 0 is refused
 * unless allow_port0.  Returns 0 or -EINVAL. */
int nlb_addr_parse(const char *text, int allow_port0, struct nlb_addr *out);

/* Formats as nlb_addr_parse reads it; always NUL-terminates. */
const char *nlb_addr_format(const struct sockaddr *sa, char *buf, size_t len);

/* The address alone, numeric, no port and no brackets ("::1"): for
 * X-Forwarded-For and a TLS client's name check; "unknown" (as in
 * RFC 7239) when sa is neither IPv4 nor IPv6.  Always NUL-terminates. */
const char *nlb_addr_host(const struct sockaddr *sa, char *buf, size_t len);

int nlb_addr_family(const struct nlb_addr *a);
int nlb_addr_port(const struct sockaddr *sa);
int nlb_addr_equal(const struct nlb_addr *a, const struct nlb_addr *b);
/* Is it 0.0.0.0 or ::, any address of its family? */
int nlb_addr_wildcard(const struct nlb_addr *a);
/* The same for two sockaddrs (a datagram's sender against a target):
 * family, port, address and IPv6 scope. */
int nlb_sockaddr_equal(const struct sockaddr *a, const struct sockaddr *b);

#endif
