/* Routes through rtnetlink (no shell-out): adding and deleting one, and
 * listing those of one protocol in one table; and the prefixes they are
 * for, as the configuration writes them.  nlb announces its service
 * addresses as routes that a routing daemon (BIRD) exports by BGP. */
#ifndef NLB_RTNL_ROUTE_H
#define NLB_RTNL_ROUTE_H

#include <stddef.h>
#include <stdint.h>

/* A route "PREFIX dev OIF table T proto P metric M". */
struct nlb_route {
	int family;		/* AF_INET or AF_INET6 */
	uint8_t dst[16];	/* the prefix's address (4 bytes for IPv4) */
	uint8_t len;		/* its length in bits */
	uint8_t protocol;	/* rtm_protocol: who owns the route */
	uint32_t table;
	uint32_t metric;	/* RTA_PRIORITY */
	int oif;		/* the interface's index */
};

struct nlb_cidr;

/* "203.0.113.10/32" or "2001:db8::10/128" into r's family, dst and len,
 * as nlb_cidr_parse (acl.h) reads prefixes (its rules: numeric, the
 * length left out for a host route, no leading zero in it, no bit set
 * past it; ::ffff:a.b.c.d is IPv4's); -EINVAL when it is not one. */
int nlb_prefix_parse(const char *text, struct nlb_route *r);
/* The prefix as nlb_cidr_format writes it; always NUL-terminates. */
const char *nlb_prefix_format(const struct nlb_route *r, char *buf, size_t len);
/* r's prefix in acl.h's form (IPv4 mapped), for nlb_cidr_contains. */
void nlb_route_to_cidr(const struct nlb_route *r, struct nlb_cidr *c);

/* A NETLINK_ROUTE socket, or -errno. */
int nlb_rtnl_open(void);

/* Adds (replacing one with the same prefix, table and metric) or
 * deletes r, and waits for the kernel's answer: 0 or -errno (-ESRCH:
 * nothing to delete). */
int nlb_rtnl_add(int fd, const struct nlb_route *r);
int nlb_rtnl_del(int fd, const struct nlb_route *r);

/* The IPv4 and IPv6 routes of table and protocol, into out (at most cap;
 * the rest are counted, not stored): how many there are, or -errno. */
int nlb_rtnl_list(int fd, uint32_t table, uint8_t protocol, struct nlb_route *out, size_t cap);

/* Reads one reply buffer of a route dump (len bytes), calling each on
 * every route of table and protocol in it: 1 when the dump's end is in
 * it, 0 when more follows, -errno for an error message or a malformed
 * one.  nlb_rtnl_list's parser, apart for the fuzzer. */
int nlb_rtnl_parse_dump(const void *buf, size_t len, uint32_t table, uint8_t protocol,
			void (*each)(const struct nlb_route *r, void *arg), void *arg);

#endif
