/* Suite "tuple_hash": lib/tuple_hash.c: SipHash-1-3 against an
 * independent implementation, nlb_tuple_hash's pinned output, field
 * selection and seed, and the tuple's layout and constructors. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "tuple_hash.h"
#include "helpers.h"

static void v4_tuple(struct nlb_tuple *t, const char *src, int sport,
		     const char *dst, int dport, int proto)
{
	struct sockaddr_in s, d;
	memset(&s, 0, sizeof(s));
	memset(&d, 0, sizeof(d));
	s.sin_family = d.sin_family = AF_INET;
	cr_assert_eq(inet_pton(AF_INET, src, &s.sin_addr), 1);
	cr_assert_eq(inet_pton(AF_INET, dst, &d.sin_addr), 1);
	s.sin_port = htons((uint16_t)sport);
	d.sin_port = htons((uint16_t)dport);
	cr_assert_eq(nlb_tuple_from_sockaddr(t, (struct sockaddr *)&s,
					     (struct sockaddr *)&d, proto), 0);
}

static void v6_tuple(struct nlb_tuple *t, const char *src, int sport,
		     const char *dst, int dport, int proto)
{
	struct sockaddr_in6 s, d;
	memset(&s, 0, sizeof(s));
	memset(&d, 0, sizeof(d));
	s.sin6_family = d.sin6_family = AF_INET6;
	cr_assert_eq(inet_pton(AF_INET6, src, &s.sin6_addr), 1);
	cr_assert_eq(inet_pton(AF_INET6, dst, &d.sin6_addr), 1);
	s.sin6_port = htons((uint16_t)sport);
	d.sin6_port = htons((uint16_t)dport);
	cr_assert_eq(nlb_tuple_from_sockaddr(t, (struct sockaddr *)&s,
					     (struct sockaddr *)&d, proto), 0);
}

/* SipHash-1-3 under the key (0, 0), as CPython 3.11 computes hash(bytes)
 * with PYTHONHASHSEED=0: an implementation written independently. */
T_UNIT(tuple_hash, siphash13_matches_cpython)
{
	static const struct { const char *in; uint64_t out; } kat[] = {
		{ "a", 4644417185603328019ULL },
		{ "abcdefg", 7904145750247929094ULL },
		{ "abcdefgh", 4574395652268504554ULL },
		{ "abcdefghi", 17913969820989044453ULL },
		{ "hello world, this is nlb 0123456789",
		  9839851588704257503ULL },
	};
	for (size_t i = 0; i < sizeof(kat) / sizeof(kat[0]); i++)
		cr_assert_eq(nlb_siphash13(kat[i].in, strlen(kat[i].in), 0, 0),
			     kat[i].out, "\"%s\"", kat[i].in);
}

/* Pins nlb_tuple_hash itself: layout, key use and field selection.
 * Every nlb must agree on these values; change them only on purpose.
 * They were cross-checked against CPython 3.11 (PYTHONHASHSEED=0, so
 * SipHash-1-3 under the key (0, 0)) hashing the same 40 and 16 bytes. */
T_UNIT(tuple_hash, known_answers)
{
	struct nlb_tuple t;
	uint64_t h;

	v4_tuple(&t, "192.0.2.1", 12345, "198.51.100.7", 80, IPPROTO_TCP);
	h = nlb_tuple_hash(&t, 0, NLB_HASH_5TUPLE);
	cr_assert_eq(h, 0xb47c53a4323d1ee9ULL, "v4 5-tuple %016llx",
		     (unsigned long long)h);
	h = nlb_tuple_hash(&t, 0, NLB_HASH_SOURCE_IP);
	cr_assert_eq(h, 0x53a48c88a8f87d1bULL, "v4 source %016llx",
		     (unsigned long long)h);

	v6_tuple(&t, "2001:db8::1", 54321, "2001:db8::80", 443, IPPROTO_UDP);
	h = nlb_tuple_hash(&t, 0, NLB_HASH_5TUPLE);
	cr_assert_eq(h, 0x4e00d0adb55ab54eULL, "v6 5-tuple %016llx",
		     (unsigned long long)h);
	h = nlb_tuple_hash(&t, 0, NLB_HASH_SOURCE_IP);
	cr_assert_eq(h, 0xf1fc7ed3f2b8bc94ULL, "v6 source %016llx",
		     (unsigned long long)h);
}

T_UNIT(tuple_hash, layout_is_network_order_and_v4_mapped)
{
	struct nlb_tuple t;
	static const uint8_t src[16] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1,
	};

	v4_tuple(&t, "192.0.2.1", 0x1234, "198.51.100.7", 80, IPPROTO_TCP);
	cr_assert_eq(memcmp(t.src, src, 16), 0);
	cr_assert_eq(((const uint8_t *)&t.sport)[0], 0x12);
	cr_assert_eq(((const uint8_t *)&t.sport)[1], 0x34);
	cr_assert_eq(t.proto, IPPROTO_TCP);
	cr_assert_eq(t.zero[0] | t.zero[1] | t.zero[2], 0);

	/* The same client on a dual-stack socket is the same flow. */
	struct nlb_tuple m;
	v6_tuple(&m, "::ffff:192.0.2.1", 0x1234, "::ffff:198.51.100.7", 80,
		 IPPROTO_TCP);
	cr_assert(nlb_tuple_equal(&t, &m));
	cr_assert_eq(nlb_tuple_hash(&t, 5, NLB_HASH_5TUPLE),
		     nlb_tuple_hash(&m, 5, NLB_HASH_5TUPLE));
}

T_UNIT(tuple_hash, source_ip_ignores_ports_5tuple_does_not)
{
	struct nlb_tuple a, b, c, d;

	v4_tuple(&a, "203.0.113.9", 40000, "198.51.100.7", 80, IPPROTO_TCP);
	v4_tuple(&b, "203.0.113.9", 40001, "198.51.100.7", 80, IPPROTO_TCP);
	v4_tuple(&c, "203.0.113.9", 40000, "198.51.100.8", 443, IPPROTO_UDP);
	v4_tuple(&d, "203.0.113.10", 40000, "198.51.100.7", 80, IPPROTO_TCP);

	uint64_t ha = nlb_tuple_hash(&a, 11, NLB_HASH_SOURCE_IP);
	cr_assert_eq(ha, nlb_tuple_hash(&b, 11, NLB_HASH_SOURCE_IP));
	cr_assert_eq(ha, nlb_tuple_hash(&c, 11, NLB_HASH_SOURCE_IP));
	cr_assert_neq(ha, nlb_tuple_hash(&d, 11, NLB_HASH_SOURCE_IP));

	uint64_t fa = nlb_tuple_hash(&a, 11, NLB_HASH_5TUPLE);
	cr_assert_neq(fa, nlb_tuple_hash(&b, 11, NLB_HASH_5TUPLE));
	cr_assert_neq(fa, nlb_tuple_hash(&c, 11, NLB_HASH_5TUPLE));
	cr_assert_neq(fa, nlb_tuple_hash(&d, 11, NLB_HASH_5TUPLE));
	cr_assert_neq(fa, ha);

	/* Each field matters on its own in 5-tuple mode. */
	struct nlb_tuple e = a;
	e.dport = htons(81);
	cr_assert_neq(fa, nlb_tuple_hash(&e, 11, NLB_HASH_5TUPLE));
	e = a;
	e.proto = IPPROTO_UDP;
	cr_assert_neq(fa, nlb_tuple_hash(&e, 11, NLB_HASH_5TUPLE));
	e = a;
	e.dst[15] ^= 1;
	cr_assert_neq(fa, nlb_tuple_hash(&e, 11, NLB_HASH_5TUPLE));
}

T_UNIT(tuple_hash, seed_changes_hash_and_is_deterministic)
{
	struct nlb_tuple t;

	v6_tuple(&t, "2001:db8::1", 1, "2001:db8::2", 2, IPPROTO_TCP);
	uint64_t h0 = nlb_tuple_hash(&t, 0, NLB_HASH_5TUPLE);
	cr_assert_eq(h0, nlb_tuple_hash(&t, 0, NLB_HASH_5TUPLE));
	cr_assert_neq(h0, nlb_tuple_hash(&t, 1, NLB_HASH_5TUPLE));
	cr_assert_neq(nlb_tuple_hash(&t, 0, NLB_HASH_SOURCE_IP),
		      nlb_tuple_hash(&t, 1, NLB_HASH_SOURCE_IP));
}

T_UNIT(tuple_hash, constructors_refuse_and_zero)
{
	struct nlb_tuple t;
	struct sockaddr_in s;
	struct sockaddr_un_like { sa_family_t family; char path[30]; } u;

	memset(&s, 0, sizeof(s));
	s.sin_family = AF_INET;
	s.sin_port = htons(7);
	s.sin_addr.s_addr = htonl(0x7f000001);
	memset(&u, 0, sizeof(u));
	u.family = AF_UNIX;

	memset(&t, 0xaa, sizeof(t));
	cr_assert_eq(nlb_tuple_from_sockaddr(&t, (struct sockaddr *)&u, NULL,
					     IPPROTO_TCP), -EAFNOSUPPORT);
	static const struct nlb_tuple zero;
	cr_assert(nlb_tuple_equal(&t, &zero));
	cr_assert_eq(nlb_tuple_from_sockaddr(&t, (struct sockaddr *)&s,
					     (struct sockaddr *)&u,
					     IPPROTO_TCP), -EAFNOSUPPORT);
	cr_assert(nlb_tuple_equal(&t, &zero));
	cr_assert_eq(nlb_tuple_from_sockaddr(&t, (struct sockaddr *)&s, NULL,
					     256), -EINVAL);

	/* No destination: all zero there, the source still filled in. */
	memset(&t, 0xaa, sizeof(t));
	cr_assert_eq(nlb_tuple_from_sockaddr(&t, (struct sockaddr *)&s, NULL,
					     IPPROTO_UDP), 0);
	cr_assert_eq(t.src[15], 1);
	cr_assert_eq(t.sport, htons(7));
	cr_assert_eq(t.dport, 0);
	for (size_t i = 0; i < 16; i++)
		cr_assert_eq(t.dst[i], 0);

	/* Filled by hand, not by nlb_addr_parse, so these tests link
	 * without lib/addr.c. */
	struct nlb_addr a, b;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&a.ss;
	struct sockaddr_in *b4 = (struct sockaddr_in *)&b.ss;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a6->sin6_family = AF_INET6;
	cr_assert_eq(inet_pton(AF_INET6, "2001:db8::5", &a6->sin6_addr), 1);
	a6->sin6_port = htons(8080);
	a.len = sizeof(*a6);
	b4->sin_family = AF_INET;
	cr_assert_eq(inet_pton(AF_INET, "10.1.2.3", &b4->sin_addr), 1);
	b4->sin_port = htons(80);
	b.len = sizeof(*b4);
	cr_assert_eq(nlb_tuple_from_addr(&t, &a, &b, IPPROTO_TCP), 0);
	cr_assert_eq(t.src[0], 0x20);
	cr_assert_eq(t.src[15], 5);
	cr_assert_eq(t.sport, htons(8080));
	cr_assert_eq(t.dst[11], 0xff);
	cr_assert_eq(t.dst[12], 10);
	cr_assert_eq(t.dport, htons(80));
}
