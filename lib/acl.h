/* Listener allow and deny lists: owns CIDR prefix parsing ("10.0.0.0/8",
 * "2001:db8::/32") and a set of prefixes, built once, that answers "does
 * any prefix contain this address" in at most 16 steps without locks. */
#ifndef NLB_ACL_H
#define NLB_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128" (49) fits. */
#define NLB_CIDRSTRLEN 64

/* A full IPv4 routing table is about a million prefixes; four times that
 * is beyond any list an operator keeps by hand or generates on purpose.
 * The cap bounds a runaway list at about 0.9 GB (at most 192 bytes of
 * nodes a prefix, see acl.c, plus 17 while building). */
#define NLB_ACL_MAX_PREFIXES (1u << 22)

/* A prefix over 128 bits.  IPv4 prefixes are held IPv4-mapped:
 * 10.0.0.0/8 is ::ffff:10.0.0.0/104.  So one set serves both families,
 * and a client seen on a dual-stack [::] socket as ::ffff:a.b.c.d
 * matches the same IPv4 rules as on an AF_INET socket.  The other side of
 * that coin: an IPv6 rule over ::ffff:0:0/96 (or ::/0) also matches IPv4
 * clients, which is what such a rule says. */
struct nlb_cidr {
	uint8_t addr[16];	/* network order; every bit past len is 0 */
	uint8_t len;		/* 0..128 over the 128 bits, IPv4 ones 96..128 */
};

/* Parses "a.b.c.d/len" (len 0..32), "a.b.c.d" (/32), "v6/len" (len
 * 0..128) and "v6" (/128), numeric only.  Strict: dotted quads as
 * inet_pton reads them, no scope ("fe80::1%eth0"), no spaces, no sign, no
 * leading zeros in len ("08" could be read as octal; "0" is fine), nothing
 * after len.  Host bits set past len are refused too: "10.0.0.1/8" is
 * most likely a typo for 10.0.0.1/32 or 10.0.0.0/8, and guessing which
 * would silently allow or deny the wrong clients.  Returns 0 or -EINVAL;
 * *out is written only on success. */
int nlb_cidr_parse(const char *text, struct nlb_cidr *out);

/* Formats as nlb_cidr_parse reads it, IPv4 form for prefixes within
 * ::ffff:0:0/96 (so ::ffff:0:0/96 is written "0.0.0.0/0"); always
 * NUL-terminates (truncating below NLB_CIDRSTRLEN). */
const char *nlb_cidr_format(const struct nlb_cidr *c, char *buf, size_t len);

/* Whether c contains the 16-byte address (IPv4-mapped for IPv4). */
bool nlb_cidr_contains(const struct nlb_cidr *c, const uint8_t addr[16]);

struct nlb_acl;

/* An empty set, accepting prefixes until nlb_acl_build.  NULL when out
 * of memory. */
struct nlb_acl *nlb_acl_new(void);

/* Adds a copy of *c.  Duplicates and overlapping prefixes are fine (the
 * set is their union).  Returns 0, -EINVAL (len > 128 or host bits set),
 * -EBUSY (already built), -ENOSPC (NLB_ACL_MAX_PREFIXES reached) or
 * -ENOMEM. */
int nlb_acl_add(struct nlb_acl *acl, const struct nlb_cidr *c);

/* Compiles the prefixes added so far into the lookup structure and
 * freezes the set: later adds fail with -EBUSY, and from here on
 * nlb_acl_match may run in any number of threads at once (publish the
 * pointer to them with release semantics, as any shared snapshot).
 * Before a successful build the set matches nothing.  A second call does
 * nothing.  Returns 0 or -ENOMEM (the set is then unchanged, still
 * unbuilt). */
int nlb_acl_build(struct nlb_acl *acl);

/* NULL is fine. */
void nlb_acl_free(struct nlb_acl *acl);

/* Prefixes added, duplicates and covered ones included. */
size_t nlb_acl_count(const struct nlb_acl *acl);

/* Bytes held by the set (the lookup nodes once built). */
size_t nlb_acl_memory(const struct nlb_acl *acl);

/* Whether any prefix contains the address (16 bytes, network order,
 * IPv4-mapped for IPv4).  False for a NULL, empty or unbuilt set.
 * At most 16 node visits, no allocation, no writes. */
bool nlb_acl_match(const struct nlb_acl *acl, const uint8_t addr[16]);

/* The same for an AF_INET or AF_INET6 socket address; false for any
 * other family or a NULL sa.  The IPv6 scope id is ignored. */
bool nlb_acl_match_sockaddr(const struct nlb_acl *acl,
			    const struct sockaddr *sa);

/* Whether two built sets were built from the same prefixes, in any
 * order, duplicates and prefixes inside others aside (NULL and empty
 * sets are equal).  The same addresses split differently (a /24 and two
 * /25s) may compare unequal: for telling whether a list changed. */
bool nlb_acl_equal(const struct nlb_acl *a, const struct nlb_acl *b);

#endif
