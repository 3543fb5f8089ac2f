/* Tests for lib/acl.c: which CIDR texts nlb_cidr_parse accepts and
 * refuses (and that format writes them back), membership at prefix
 * boundaries, for nested and /0 prefixes and across the IPv4 / IPv4-mapped
 * / AF_INET views of one client, the frozen-after-build contract, a
 * randomized cross-check against a linear scan, and a 100,000-prefix
 * load. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "acl.h"
#include "helpers.h"

/* ------------------------------------------------------------------ */
/* Helpers */

/* A 16-byte address from "a.b.c.d" (mapped) or a v6 text. */
static void A(const char *text, uint8_t out[16])
{
	memset(out, 0, 16);
	if (strchr(text, ':') != NULL) {
		cr_assert_eq(inet_pton(AF_INET6, text, out), 1, "%s", text);
		return;
	}
	out[10] = out[11] = 0xff;
	cr_assert_eq(inet_pton(AF_INET, text, out + 12), 1, "%s", text);
}

static struct nlb_cidr C(const char *text)
{
	struct nlb_cidr c;
	int r = nlb_cidr_parse(text, &c);
	cr_assert_eq(r, 0, "%s: parse returned %d", text, r);
	return c;
}

/* A built set of the given prefixes (NULL-terminated). */
static struct nlb_acl *make_acl(const char *const *texts)
{
	struct nlb_acl *acl = nlb_acl_new();
	cr_assert_not_null(acl);
	for (size_t i = 0; texts[i] != NULL; i++) {
		struct nlb_cidr c = C(texts[i]);
		cr_assert_eq(nlb_acl_add(acl, &c), 0, "%s", texts[i]);
	}
	cr_assert_eq(nlb_acl_build(acl), 0);
	return acl;
}

static bool match_text(const struct nlb_acl *acl, const char *text)
{
	uint8_t a[16];
	A(text, a);
	return nlb_acl_match(acl, a);
}

#define expect_in(acl, text) \
	cr_expect(match_text(acl, text), "%s should match", text)
#define expect_out(acl, text) \
	cr_expect(!match_text(acl, text), "%s should not match", text)

/* 128-bit arithmetic on network-order bytes; returns the carry/borrow. */
static int add_one(uint8_t a[16])
{
	for (int i = 15; i >= 0; i--)
		if (++a[i] != 0)
			return 0;
	return 1;
}

static int sub_one(uint8_t a[16])
{
	for (int i = 15; i >= 0; i--)
		if (a[i]-- != 0)
			return 0;
	return 1;
}

/* The last address of c: its address with every host bit set. */
static void last_of(const struct nlb_cidr *c, uint8_t out[16])
{
	memcpy(out, c->addr, 16);
	for (unsigned bit = c->len; bit < 128; bit++)
		out[bit / 8] |= (uint8_t)(0x80u >> (bit % 8));
}

/* SplitMix64: a fixed seed gives the same sequence everywhere. */
static uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Clears c's bits past len. */
static void mask_to(struct nlb_cidr *c, unsigned len)
{
	c->len = (uint8_t)len;
	for (unsigned bit = len; bit < 128; bit++)
		c->addr[bit / 8] &= (uint8_t)~(0x80u >> (bit % 8));
}

/* ------------------------------------------------------------------ */
/* Parsing */

struct good_case {
	const char *text;
	const char *addr;	/* as A() reads it */
	unsigned len;		/* over 128 bits */
	const char *canonical;	/* what format writes back */
};

static const struct good_case good[] = {
	{ "10.0.0.0/8", "10.0.0.0", 104, "10.0.0.0/8" },
	{ "192.0.2.0/24", "192.0.2.0", 120, "192.0.2.0/24" },
	{ "192.0.2.7", "192.0.2.7", 128, "192.0.2.7/32" },
	{ "192.0.2.7/32", "192.0.2.7", 128, "192.0.2.7/32" },
	{ "0.0.0.0/0", "0.0.0.0", 96, "0.0.0.0/0" },
	{ "128.0.0.0/1", "128.0.0.0", 97, "128.0.0.0/1" },
	{ "172.16.0.0/12", "172.16.0.0", 108, "172.16.0.0/12" },
	{ "255.255.255.254/31", "255.255.255.254", 127, "255.255.255.254/31" },
	{ "::/0", "::", 0, "::/0" },
	{ "::", "::", 128, "::/128" },
	{ "::1", "::1", 128, "::1/128" },
	{ "::1/128", "::1", 128, "::1/128" },
	{ "2001:db8::/32", "2001:db8::", 32, "2001:db8::/32" },
	{ "2001:0DB8:0000::/48", "2001:db8::", 48, "2001:db8::/48" },
	{ "2001:db8:0:0:0:0:0:1/128", "2001:db8::1", 128, "2001:db8::1/128" },
	{ "fe80::/10", "fe80::", 10, "fe80::/10" },
	{ "8000::/1", "8000::", 1, "8000::/1" },
	{ "2001:db8::ff00/120", "2001:db8::ff00", 120, "2001:db8::ff00/120" },
	/* IPv6 text for mapped prefixes is the IPv4 rule it equals. */
	{ "::ffff:0:0/96", "0.0.0.0", 96, "0.0.0.0/0" },
	{ "::ffff:10.0.0.0/104", "10.0.0.0", 104, "10.0.0.0/8" },
	{ "::ffff:0a00:0/104", "10.0.0.0", 104, "10.0.0.0/8" },
	/* Shorter than 96 bits it is an IPv6 rule and written as one. */
	{ "::fffe:0:0/95", "::fffe:0:0", 95, "::fffe:0:0/95" },
};

T_UNIT(acl, parses_good_forms)
{
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		const struct good_case *g = &good[i];
		struct nlb_cidr c;
		uint8_t want[16];

		memset(&c, 0xa5, sizeof(c));
		int r = nlb_cidr_parse(g->text, &c);
		cr_assert_eq(r, 0, "%s: parse returned %d", g->text, r);
		A(g->addr, want);
		cr_expect_arr_eq(c.addr, want, 16, "%s: address", g->text);
		cr_expect_eq(c.len, g->len, "%s: len %u", g->text, c.len);

		char buf[NLB_CIDRSTRLEN];
		cr_expect_eq(nlb_cidr_format(&c, buf, sizeof(buf)), buf);
		cr_expect_str_eq(buf, g->canonical, "%s: formatted as %s",
				 g->text, buf);
		struct nlb_cidr back = C(buf);
		cr_expect_arr_eq(back.addr, c.addr, 16, "%s: round trip", buf);
		cr_expect_eq(back.len, c.len, "%s: round trip len", buf);
	}
}

static const char *const bad[] = {
	"",
	"/8",			/* no address */
	"1.2.3.4/",		/* empty length */
	"1.2.3.4//8",
	"1.2.3.4/8/8",
	"1.2.3.0/33",		/* length out of range */
	"1.2.3.0/-1",
	"1.2.3.0/+24",
	"1.2.3.0/ 24",
	" 1.2.3.0/24",		/* spaces */
	"1.2.3.0 /24",
	"1.2.3.0/24 ",
	"1.2.3.0/24x",		/* trailing junk */
	"1.2.3.0/0x18",
	"1.2.3.0/1000",
	"1.2.3.0/4294967320",	/* 2^32 + 24: no wrap-around */
	"1.2.3.4/8",		/* host bits set */
	"10.0.0.1/8",
	"192.0.2.1/31",
	"128.0.0.0/0",
	"::1/127",
	"2001:db8::1/64",
	"8000::/0",
	"2001:db8::/15",
	"::ffff:10.0.0.1/104",
	"1.2.3",		/* shorthand inet_aton would take */
	"1.2.3/24",
	"0x0a.0.0.0/8",
	"010.0.0.0/8",		/* octal-looking octet (inet_pton refuses) */
	"256.0.0.0/8",
	"1.2.3.4.5/32",
	"::/129",
	"::1/200",
	"2001:db8::/",
	"2001:db8:::/32",
	"2001:db8::g/128",
	"fe80::1%eth0/64",	/* scoped addresses have no place in a rule */
	"fe80::1%eth0",
	"fe80::%1/64",
	"[::1]/128",		/* no brackets */
	"localhost",
	"any",
	/* Longer than any address. */
	"0000:0000:0000:0000:0000:0000:0000:0000:0000/128",
};

T_UNIT(acl, refuses_bad_forms)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct nlb_cidr c;
		memset(&c, 0x5a, sizeof(c));
		int r = nlb_cidr_parse(bad[i], &c);
		cr_expect_eq(r, -EINVAL, "\"%s\": parse returned %d, want -EINVAL",
			     bad[i], r);
		/* Nothing written on failure. */
		cr_expect_eq(c.len, 0x5a, "\"%s\": *out written", bad[i]);
	}
	struct nlb_cidr c;
	cr_expect_eq(nlb_cidr_parse(NULL, &c), -EINVAL);
	cr_expect_eq(nlb_cidr_parse("10.0.0.0/8", NULL), -EINVAL);
}

/* Decided: a length is plain decimal, so "08" is refused ("0" itself is
 * the /0 length). */
T_UNIT(acl, prefix_length_has_no_leading_zeros)
{
	struct nlb_cidr c;
	cr_expect_eq(nlb_cidr_parse("10.0.0.0/08", &c), -EINVAL);
	cr_expect_eq(nlb_cidr_parse("10.0.0.0/008", &c), -EINVAL);
	cr_expect_eq(nlb_cidr_parse("0.0.0.0/00", &c), -EINVAL);
	cr_expect_eq(nlb_cidr_parse("2001:db8::/032", &c), -EINVAL);
	cr_expect_eq(nlb_cidr_parse("0.0.0.0/0", &c), 0);
	cr_expect_eq(c.len, 96);
	cr_expect_eq(nlb_cidr_parse("10.0.0.0/8", &c), 0);
	cr_expect_eq(c.len, 104);
	cr_expect_eq(nlb_cidr_parse("::/0", &c), 0);
	cr_expect_eq(c.len, 0);
	cr_expect_eq(nlb_cidr_parse("2001:db8::/100", &c), 0);
	cr_expect_eq(c.len, 100);
}

T_UNIT(acl, format_truncates_and_terminates)
{
	struct nlb_cidr c = C("192.168.100.0/24");
	char buf[8];
	memset(buf, 'x', sizeof(buf));
	nlb_cidr_format(&c, buf, sizeof(buf));
	cr_expect_str_eq(buf, "192.168");

	/* The longest form fits NLB_CIDRSTRLEN. */
	char big[NLB_CIDRSTRLEN];
	c = C("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");
	nlb_cidr_format(&c, big, sizeof(big));
	cr_expect_str_eq(big, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");
	c = C("::ffff:255.255.255.255");
	nlb_cidr_format(&c, big, sizeof(big));
	cr_expect_str_eq(big, "255.255.255.255/32");
}

T_UNIT(acl, cidr_contains)
{
	struct nlb_cidr c = C("10.0.0.0/8");
	uint8_t a[16];
	A("10.255.255.255", a);
	cr_expect(nlb_cidr_contains(&c, a));
	A("11.0.0.0", a);
	cr_expect(!nlb_cidr_contains(&c, a));
	c = C("::/0");
	cr_expect(nlb_cidr_contains(&c, a));
}

/* ------------------------------------------------------------------ */
/* Building */

T_UNIT(acl, add_refuses_bad_prefixes)
{
	struct nlb_acl *acl = nlb_acl_new();
	cr_assert_not_null(acl);
	struct nlb_cidr c = C("10.0.0.0/8");

	/* A prefix assembled by hand is held to the parser's rules. */
	c.addr[15] = 1;
	cr_expect_eq(nlb_acl_add(acl, &c), -EINVAL, "host bits set");
	c = C("::/0");
	c.len = 129;
	cr_expect_eq(nlb_acl_add(acl, &c), -EINVAL, "len 129");
	cr_expect_eq(nlb_acl_add(acl, NULL), -EINVAL);
	cr_expect_eq(nlb_acl_add(NULL, &c), -EINVAL);
	cr_expect_eq(nlb_acl_count(acl), 0);
	nlb_acl_free(acl);
}

T_UNIT(acl, frozen_after_build)
{
	struct nlb_acl *acl = nlb_acl_new();
	cr_assert_not_null(acl);
	struct nlb_cidr c = C("10.0.0.0/8");

	cr_assert_eq(nlb_acl_add(acl, &c), 0);
	/* Not built yet: matches nothing. */
	expect_out(acl, "10.1.2.3");
	cr_assert_eq(nlb_acl_build(acl), 0);
	expect_in(acl, "10.1.2.3");
	c = C("192.0.2.0/24");
	cr_expect_eq(nlb_acl_add(acl, &c), -EBUSY);
	expect_out(acl, "192.0.2.1");
	/* A second build is harmless. */
	cr_expect_eq(nlb_acl_build(acl), 0);
	expect_in(acl, "10.1.2.3");
	cr_expect_eq(nlb_acl_count(acl), 1);
	cr_expect_eq(nlb_acl_build(NULL), -EINVAL);
	nlb_acl_free(acl);
	nlb_acl_free(NULL);
}

T_UNIT(acl, empty_and_null_match_nothing)
{
	uint8_t a[16];
	A("10.0.0.1", a);
	cr_expect(!nlb_acl_match(NULL, a));
	cr_expect_eq(nlb_acl_count(NULL), 0);

	struct nlb_acl *acl = nlb_acl_new();
	cr_assert_not_null(acl);
	cr_assert_eq(nlb_acl_build(acl), 0);
	cr_expect(!nlb_acl_match(acl, a));
	A("::", a);
	cr_expect(!nlb_acl_match(acl, a));
	cr_expect_eq(nlb_acl_count(acl), 0);

	struct sockaddr_in sin = { .sin_family = AF_INET };
	cr_expect(!nlb_acl_match_sockaddr(acl, (struct sockaddr *)&sin));
	cr_expect(!nlb_acl_match_sockaddr(NULL, (struct sockaddr *)&sin));
	nlb_acl_free(acl);
}

/* ------------------------------------------------------------------ */
/* Membership */

T_UNIT(acl, nested_prefixes)
{
	static const char *const p[] = {
		"10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.1.2.3/32",
		"2001:db8::/32", "2001:db8:1::/48", "2001:db8:1:2::/64",
		NULL,
	};
	struct nlb_acl *acl = make_acl(p);

	expect_in(acl, "10.0.0.0");
	expect_in(acl, "10.1.2.3");
	expect_in(acl, "10.1.2.4");
	expect_in(acl, "10.1.3.0");
	expect_in(acl, "10.200.0.1");
	expect_out(acl, "11.1.2.3");
	expect_out(acl, "9.255.255.255");
	expect_in(acl, "2001:db8:1:2::1");
	expect_in(acl, "2001:db8:ffff::1");
	expect_out(acl, "2001:db9::1");
	expect_out(acl, "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff");
	cr_expect_eq(nlb_acl_count(acl), 7);
	nlb_acl_free(acl);

	/* Only the inner ones: the gaps between them miss. */
	static const char *const q[] = {
		"10.1.2.0/24", "10.1.4.0/23", "10.1.2.128/25", "10.1.2.128/25",
		NULL,
	};
	acl = make_acl(q);
	expect_in(acl, "10.1.2.0");
	expect_in(acl, "10.1.2.255");
	expect_out(acl, "10.1.3.0");
	expect_in(acl, "10.1.4.0");
	expect_in(acl, "10.1.5.255");
	expect_out(acl, "10.1.6.0");
	expect_out(acl, "10.1.1.255");
	cr_expect_eq(nlb_acl_count(acl), 4, "duplicates count");
	nlb_acl_free(acl);
}

T_UNIT(acl, zero_length_prefixes)
{
	static const char *const v4_all[] = { "0.0.0.0/0", NULL };
	struct nlb_acl *acl = make_acl(v4_all);
	expect_in(acl, "0.0.0.0");
	expect_in(acl, "1.2.3.4");
	expect_in(acl, "255.255.255.255");
	expect_in(acl, "::ffff:1.2.3.4");
	expect_out(acl, "::");
	expect_out(acl, "::1");
	expect_out(acl, "2001:db8::1");
	expect_out(acl, "::fffe:ffff:ffff");
	expect_out(acl, "::1:0:0:0");
	nlb_acl_free(acl);

	static const char *const all[] = { "::/0", "10.0.0.0/8", NULL };
	acl = make_acl(all);
	expect_in(acl, "::");
	expect_in(acl, "::1");
	expect_in(acl, "2001:db8::1");
	expect_in(acl, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	expect_in(acl, "1.2.3.4");
	expect_in(acl, "255.255.255.255");
	nlb_acl_free(acl);
}

T_UNIT(acl, host_prefixes_are_exact)
{
	static const char *const p[] = {
		"192.0.2.7/32", "198.51.100.0", "2001:db8::7/128", "::1",
		NULL,
	};
	struct nlb_acl *acl = make_acl(p);
	expect_in(acl, "192.0.2.7");
	expect_out(acl, "192.0.2.6");
	expect_out(acl, "192.0.2.8");
	expect_in(acl, "198.51.100.0");
	expect_out(acl, "198.51.100.1");
	expect_in(acl, "2001:db8::7");
	expect_out(acl, "2001:db8::6");
	expect_out(acl, "2001:db8::8");
	expect_out(acl, "2001:db8::7:0");
	expect_in(acl, "::1");
	expect_out(acl, "::");
	expect_out(acl, "::2");
	/* ::1 is not the IPv4 loopback. */
	expect_out(acl, "127.0.0.1");
	nlb_acl_free(acl);
}

T_UNIT(acl, loopback)
{
	static const char *const p[] = { "127.0.0.0/8", "::1/128", NULL };
	struct nlb_acl *acl = make_acl(p);
	expect_in(acl, "127.0.0.5");
	expect_in(acl, "127.0.0.1");
	expect_in(acl, "127.255.255.255");
	expect_out(acl, "128.0.0.0");
	expect_out(acl, "126.255.255.255");
	expect_in(acl, "::1");
	expect_out(acl, "::2");
	expect_out(acl, "::127.0.0.5");	/* IPv4-compatible is not mapped */
	nlb_acl_free(acl);
}

/* First and last address in, one below and one above out, for lengths on
 * and off byte boundaries in both families. */
T_UNIT(acl, prefix_boundaries)
{
	static const char *const p[] = {
		"10.0.0.0/8", "172.16.0.0/12", "192.168.16.0/20",
		"192.168.34.0/23", "198.51.100.64/26", "203.0.113.6/31",
		"203.0.113.9/32", "100.64.0.0/10", "64.0.0.0/3",
		"2001:db8::/32", "2001:db9:8000::/33", "2001:dba::10/127",
		"2001:dbb::8/125", "fe80::/10", "2001:dbc::/57",
		"2001:dbd::ff/128", "4000::/3",
		NULL,
	};
	struct nlb_acl *acl = make_acl(p);
	for (size_t i = 0; p[i] != NULL; i++) {
		struct nlb_cidr c = C(p[i]);
		uint8_t first[16], last[16], below[16], above[16];
		char t[INET6_ADDRSTRLEN];

		memcpy(first, c.addr, 16);
		last_of(&c, last);
		memcpy(below, first, 16);
		memcpy(above, last, 16);
		cr_assert_eq(sub_one(below), 0);
		cr_assert_eq(add_one(above), 0);
		cr_expect(nlb_acl_match(acl, first), "%s: first", p[i]);
		cr_expect(nlb_acl_match(acl, last), "%s: last %s", p[i],
			  inet_ntop(AF_INET6, last, t, sizeof(t)));
		cr_expect(!nlb_acl_match(acl, below), "%s: one below %s", p[i],
			  inet_ntop(AF_INET6, below, t, sizeof(t)));
		cr_expect(!nlb_acl_match(acl, above), "%s: one above %s", p[i],
			  inet_ntop(AF_INET6, above, t, sizeof(t)));
	}
	nlb_acl_free(acl);
}

/* One IPv4 client, three views: IPv4-mapped bytes, an AF_INET sockaddr
 * and the AF_INET6 sockaddr a dual-stack socket reports. */
T_UNIT(acl, ipv4_rule_matches_every_view_of_a_client)
{
	static const char *const p[] = { "192.0.2.0/24", NULL };
	struct nlb_acl *acl = make_acl(p);

	expect_in(acl, "::ffff:192.0.2.55");

	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(4242) };
	inet_pton(AF_INET, "192.0.2.55", &sin.sin_addr);
	cr_expect(nlb_acl_match_sockaddr(acl, (struct sockaddr *)&sin));
	inet_pton(AF_INET, "192.0.3.55", &sin.sin_addr);
	cr_expect(!nlb_acl_match_sockaddr(acl, (struct sockaddr *)&sin));

	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6,
				     .sin6_port = htons(4242) };
	inet_pton(AF_INET6, "::ffff:192.0.2.55", &sin6.sin6_addr);
	cr_expect(nlb_acl_match_sockaddr(acl, (struct sockaddr *)&sin6));
	inet_pton(AF_INET6, "::ffff:192.0.3.55", &sin6.sin6_addr);
	cr_expect(!nlb_acl_match_sockaddr(acl, (struct sockaddr *)&sin6));
	/* The same bytes without the mapped head are another address. */
	inet_pton(AF_INET6, "::192.0.2.55", &sin6.sin6_addr);
	cr_expect(!nlb_acl_match_sockaddr(acl, (struct sockaddr *)&sin6));

	/* Other families and NULL never match. */
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	cr_expect(!nlb_acl_match_sockaddr(acl, (struct sockaddr *)&sun));
	cr_expect(!nlb_acl_match_sockaddr(acl, NULL));
	nlb_acl_free(acl);
}

/* Documented consequence of the mapped form: an IPv6 rule over
 * ::ffff:0:0/96 is an IPv4 rule too. */
T_UNIT(acl, ipv6_rule_over_mapped_range_matches_ipv4)
{
	static const char *const p[] = { "::ffff:0:0/96", NULL };
	struct nlb_acl *acl = make_acl(p);
	struct sockaddr_in sin = { .sin_family = AF_INET };
	inet_pton(AF_INET, "203.0.113.1", &sin.sin_addr);
	cr_expect(nlb_acl_match_sockaddr(acl, (struct sockaddr *)&sin));
	expect_out(acl, "2001:db8::1");
	nlb_acl_free(acl);

	static const char *const q[] = { "::ffff:c000:200/120", NULL };
	acl = make_acl(q);
	expect_in(acl, "192.0.2.200");
	expect_out(acl, "192.0.3.0");
	nlb_acl_free(acl);
}

/* ------------------------------------------------------------------ */
/* Randomized cross-check against a linear scan */

#define CROSS_PREFIXES 10000
#define CROSS_LOOKUPS  100000

/* The reference: a prefix as two big-endian 64-bit halves and masks. */
struct ref_prefix {
	uint64_t hi, lo, mhi, mlo;
};

static uint64_t be64(const uint8_t *b)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return v;
}

static void ref_make(const struct nlb_cidr *c, struct ref_prefix *r)
{
	unsigned len = c->len;
	r->hi = be64(c->addr);
	r->lo = be64(c->addr + 8);
	r->mhi = len == 0 ? 0 : len >= 64 ? ~0ULL : ~0ULL << (64 - len);
	r->mlo = len <= 64 ? 0 : len == 128 ? ~0ULL : ~0ULL << (128 - len);
}

static bool ref_match(const struct ref_prefix *p, size_t n,
		      const uint8_t addr[16])
{
	uint64_t hi = be64(addr), lo = be64(addr + 8);
	for (size_t i = 0; i < n; i++)
		if (((hi ^ p[i].hi) & p[i].mhi) == 0 &&
		    ((lo ^ p[i].lo) & p[i].mlo) == 0)
			return true;
	return false;
}

/* A random prefix.  Addresses come from small pools of leading bytes so
 * that prefixes overlap and share trie paths; a few are short (big slot
 * expansions), none so short that it swallows a whole family. */
static void random_prefix(uint64_t *rng, struct nlb_cidr *c)
{
	static const uint8_t v6_heads[8][4] = {
		{ 0x20, 0x01, 0x0d, 0xb8 }, { 0x20, 0x01, 0x0d, 0xb9 },
		{ 0x2a, 0x00, 0x14, 0x50 }, { 0x2a, 0x00, 0x14, 0x51 },
		{ 0x26, 0x00, 0x00, 0x00 }, { 0xfe, 0x80, 0x00, 0x00 },
		{ 0x20, 0x01, 0x00, 0x00 }, { 0x00, 0x64, 0xff, 0x9b },
	};
	uint64_t r = rng_next(rng), r1 = rng_next(rng), r2 = rng_next(rng);
	unsigned len;

	memcpy(c->addr, &r1, 8);
	memcpy(c->addr + 8, &r2, 8);
	if (r % 2 == 0) {
		/* IPv4: first octet from 16 values, /16 to /32; one in 200
		 * anywhere, /4 to /15. */
		memset(c->addr, 0, 10);
		c->addr[10] = c->addr[11] = 0xff;
		if ((r >> 8) % 200 == 0) {
			len = 96 + 4 + (unsigned)((r >> 16) % 12);
		} else {
			c->addr[12] = (uint8_t)(10 + (r >> 16) % 16);
			len = 96 + 16 + (unsigned)((r >> 24) % 17);
		}
	} else if ((r >> 8) % 200 == 0) {
		/* Short IPv6, kept off ::/3 so it never covers the mapped
		 * range. */
		c->addr[0] |= 0x20;
		len = 3 + (unsigned)((r >> 16) % 13);
	} else {
		memcpy(c->addr, v6_heads[(r >> 16) % 8], 4);
		len = 16 + (unsigned)((r >> 24) % 113);
	}
	mask_to(c, len);
}

/* An address to look up, around p[0..n): inside a prefix, at its edges,
 * just outside it or anywhere. */
static void random_lookup(uint64_t *rng, const struct nlb_cidr *p, size_t n,
			  uint8_t addr[16])
{
	uint64_t r = rng_next(rng), r1 = rng_next(rng), r2 = rng_next(rng);
	const struct nlb_cidr *c = &p[(r >> 8) % n];
	unsigned kind = (unsigned)(r % 100);

	if (kind < 50) {
		/* Inside: random host bits. */
		memcpy(addr, &r1, 8);
		memcpy(addr + 8, &r2, 8);
		for (unsigned bit = 0; bit < c->len; bit++) {
			uint8_t m = (uint8_t)(0x80u >> (bit % 8));
			addr[bit / 8] = (uint8_t)((addr[bit / 8] & ~m) |
						  (c->addr[bit / 8] & m));
		}
	} else if (kind < 70) {
		/* Edges: first, last, one below, one above. */
		if ((r >> 40) % 2 == 0)
			memcpy(addr, c->addr, 16);
		else
			last_of(c, addr);
		if ((r >> 41) % 2 == 0 && (r >> 40) % 2 == 0)
			sub_one(addr);
		else if ((r >> 41) % 2 == 0)
			add_one(addr);
	} else if (kind < 80) {
		/* One bit of the prefix flipped. */
		memcpy(addr, c->addr, 16);
		if (c->len > 0) {
			unsigned bit = (unsigned)(r1 % c->len);
			addr[bit / 8] ^= (uint8_t)(0x80u >> (bit % 8));
		}
	} else {
		/* Anywhere: an IPv4 client or a random IPv6 one. */
		memcpy(addr, &r1, 8);
		memcpy(addr + 8, &r2, 8);
		if (kind < 90) {
			memset(addr, 0, 10);
			addr[10] = addr[11] = 0xff;
		}
	}
}

T_UNIT(acl, random_cross_check, .timeout = 120)
{
	struct nlb_cidr *p = malloc(CROSS_PREFIXES * sizeof(*p));
	struct ref_prefix *ref = malloc(CROSS_PREFIXES * sizeof(*ref));
	struct nlb_acl *acl = nlb_acl_new(), *rev = nlb_acl_new();
	uint64_t rng = 0x61636c2d74657374ULL;	/* "acl-test" */

	cr_assert(p != NULL && ref != NULL && acl != NULL && rev != NULL);
	for (size_t i = 0; i < CROSS_PREFIXES; i++) {
		uint64_t r = rng_next(&rng);
		if (i > 0 && r % 10 < 3 && p[(r >> 8) % i].len < 128) {
			/* Nested: a longer prefix inside an earlier one. */
			const struct nlb_cidr *outer = &p[(r >> 8) % i];
			struct nlb_cidr c;
			uint64_t r1 = rng_next(&rng), r2 = rng_next(&rng);
			memcpy(c.addr, &r1, 8);
			memcpy(c.addr + 8, &r2, 8);
			for (unsigned bit = 0; bit < outer->len; bit++) {
				uint8_t m = (uint8_t)(0x80u >> (bit % 8));
				c.addr[bit / 8] = (uint8_t)(
					(c.addr[bit / 8] & ~m) |
					(outer->addr[bit / 8] & m));
			}
			mask_to(&c, outer->len + 1 +
				    (unsigned)((r >> 32) % (128u - outer->len)));
			p[i] = c;
		} else if (i > 0 && r % 10 == 3) {
			p[i] = p[(r >> 8) % i];	/* a duplicate */
		} else {
			random_prefix(&rng, &p[i]);
		}
		ref_make(&p[i], &ref[i]);
	}
	for (size_t i = 0; i < CROSS_PREFIXES; i++) {
		cr_assert_eq(nlb_acl_add(acl, &p[i]), 0);
		cr_assert_eq(nlb_acl_add(rev, &p[CROSS_PREFIXES - 1 - i]), 0);
	}
	cr_assert_eq(nlb_acl_build(acl), 0);
	cr_assert_eq(nlb_acl_build(rev), 0);
	cr_expect_eq(nlb_acl_count(acl), CROSS_PREFIXES);

	size_t hits = 0, wrong = 0;
	for (size_t i = 0; i < CROSS_LOOKUPS; i++) {
		uint8_t a[16];
		random_lookup(&rng, p, CROSS_PREFIXES, a);
		bool want = ref_match(ref, CROSS_PREFIXES, a);
		bool got = nlb_acl_match(acl, a);
		hits += want;
		if (got != want || nlb_acl_match(rev, a) != want) {
			char t[INET6_ADDRSTRLEN];
			cr_expect_fail("lookup %zu: %s: got %d, want %d", i,
				       inet_ntop(AF_INET6, a, t, sizeof(t)),
				       got, want);
			if (++wrong >= 10)
				break;
		}
	}
	/* Both answers must have been exercised in earnest. */
	cr_expect_gt(hits, CROSS_LOOKUPS / 10, "hits %zu", hits);
	cr_expect_lt(hits, CROSS_LOOKUPS * 9 / 10, "hits %zu", hits);
	nlb_acl_free(acl);
	nlb_acl_free(rev);
	free(p);
	free(ref);
}

/* ------------------------------------------------------------------ */
/* A large list */

#define LOAD_PREFIXES 100000

/* 100,000 prefixes, from text as a config file would give them: half
 * inside 10.0.0.0/8, half inside 2001:db8::/32, so that addresses outside
 * both are known misses. */
T_UNIT(acl, loads_100k_prefixes, .timeout = 120)
{
	struct nlb_acl *acl = nlb_acl_new();
	struct nlb_cidr *p = malloc(LOAD_PREFIXES * sizeof(*p));
	uint64_t rng = 100000;

	cr_assert(acl != NULL && p != NULL);
	for (size_t i = 0; i < LOAD_PREFIXES; i++) {
		uint64_t r = rng_next(&rng), r2 = rng_next(&rng);
		char text[NLB_CIDRSTRLEN];
		if (i % 2 == 0) {
			unsigned len = 16 + (unsigned)(r % 17);
			uint32_t a = (0x0au << 24 | (uint32_t)(r >> 8 & 0xffffff)) &
				     (uint32_t)(~0ULL << (32 - len));
			snprintf(text, sizeof(text), "%u.%u.%u.%u/%u", a >> 24,
				 a >> 16 & 0xff, a >> 8 & 0xff, a & 0xff, len);
		} else {
			struct nlb_cidr c;
			memset(&c, 0, sizeof(c));
			c.addr[0] = 0x20;
			c.addr[1] = 0x01;
			c.addr[2] = 0x0d;
			c.addr[3] = 0xb8;
			memcpy(c.addr + 4, &r2, 8);
			mask_to(&c, 40 + (unsigned)(r % 89));
			nlb_cidr_format(&c, text, sizeof(text));
		}
		cr_assert_eq(nlb_cidr_parse(text, &p[i]), 0, "%s", text);
		cr_assert_eq(nlb_acl_add(acl, &p[i]), 0, "%s", text);
	}
	cr_expect_eq(nlb_acl_count(acl), LOAD_PREFIXES);
	cr_assert_eq(nlb_acl_build(acl), 0);
	cr_expect_eq(nlb_acl_count(acl), LOAD_PREFIXES);
	/* The structure's own bound: at most 2n nodes of 96 bytes. */
	cr_expect_leq(nlb_acl_memory(acl), 4096 + 2 * 96 * (size_t)LOAD_PREFIXES,
		      "memory %zu", nlb_acl_memory(acl));

	for (size_t i = 0; i < LOAD_PREFIXES; i += 97) {
		uint8_t last[16];
		last_of(&p[i], last);
		cr_expect(nlb_acl_match(acl, p[i].addr), "prefix %zu first", i);
		cr_expect(nlb_acl_match(acl, last), "prefix %zu last", i);
	}
	expect_out(acl, "11.0.0.0");
	expect_out(acl, "9.255.255.255");
	expect_out(acl, "192.0.2.1");
	expect_out(acl, "2001:db9::1");
	expect_out(acl, "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff");
	expect_out(acl, "::1");
	nlb_acl_free(acl);
	free(p);
}

/* The cap on a list's length is enforced at add, and what was added
 * still builds. */
T_UNIT(acl, refuses_prefixes_past_the_cap, .timeout = 120)
{
	struct nlb_acl *acl = nlb_acl_new();
	struct nlb_cidr c = C("192.0.2.0/24");

	cr_assert_not_null(acl);
	for (size_t i = 0; i < NLB_ACL_MAX_PREFIXES; i++)
		cr_assert_eq(nlb_acl_add(acl, &c), 0, "add %zu", i);
	cr_expect_eq(nlb_acl_add(acl, &c), -ENOSPC);
	cr_expect_eq(nlb_acl_count(acl), NLB_ACL_MAX_PREFIXES);
	cr_assert_eq(nlb_acl_build(acl), 0);
	expect_in(acl, "192.0.2.1");
	expect_out(acl, "192.0.3.1");
	nlb_acl_free(acl);
}

/* The same prefixes compare equal whatever their order, duplicates and
 * covered prefixes; one address more does not. */
T_UNIT(acl, equal_sets)
{
	const char *a_list[] = { "10.0.0.0/8", "192.0.2.0/25", "192.0.2.128/25", "::1" };
	const char *b_list[] = { "192.0.2.128/25", "::1", "192.0.2.0/25", "10.0.0.0/8",
				 "10.1.0.0/16", "::1" };
	struct nlb_acl *a = nlb_acl_new(), *b = nlb_acl_new(), *c = nlb_acl_new();
	cr_assert(a && b && c);
	struct nlb_cidr x;
	for (size_t i = 0; i < 4; i++) {
		cr_assert_eq(nlb_cidr_parse(a_list[i], &x), 0);
		cr_assert_eq(nlb_acl_add(a, &x), 0);
		cr_assert_eq(nlb_acl_add(c, &x), 0);
	}
	for (size_t i = 0; i < 6; i++) {
		cr_assert_eq(nlb_cidr_parse(b_list[i], &x), 0);
		cr_assert_eq(nlb_acl_add(b, &x), 0);
	}
	cr_assert_eq(nlb_cidr_parse("::2", &x), 0);
	cr_assert_eq(nlb_acl_add(c, &x), 0);
	cr_assert_eq(nlb_acl_build(a), 0);
	cr_assert_eq(nlb_acl_build(b), 0);
	cr_assert_eq(nlb_acl_build(c), 0);
	cr_expect(nlb_acl_equal(a, b));
	cr_expect(!nlb_acl_equal(a, c));
	cr_expect(!nlb_acl_equal(a, NULL));
	cr_expect(nlb_acl_equal(NULL, NULL));
	nlb_acl_free(a);
	nlb_acl_free(b);
	nlb_acl_free(c);
}
