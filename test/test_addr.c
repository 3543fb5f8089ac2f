/* Tests for lib/addr.c: which texts nlb_addr_parse accepts and refuses,
 * that nlb_addr_format writes them back unchanged, and that equality
 * looks at family, address and port. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>

#include "addr.h"
#include "helpers.h"

struct good_case {
	const char *text;
	int family;
	int port;
	const char *canonical;	/* what format writes back */
};

static const struct good_case good[] = {
	{ "127.0.0.1:8080", AF_INET, 8080, "127.0.0.1:8080" },
	{ "0.0.0.0:80", AF_INET, 80, "0.0.0.0:80" },
	{ "255.255.255.255:65535", AF_INET, 65535, "255.255.255.255:65535" },
	{ "10.0.0.1:1", AF_INET, 1, "10.0.0.1:1" },
	{ "[::1]:8080", AF_INET6, 8080, "[::1]:8080" },
	{ "[::]:80", AF_INET6, 80, "[::]:80" },
	{ "[2001:db8::42]:443", AF_INET6, 443, "[2001:db8::42]:443" },
	/* inet_ntop writes the shortest form, so this one changes. */
	{ "[2001:0db8:0000:0000:0000:0000:0000:0001]:53", AF_INET6, 53,
	  "[2001:db8::1]:53" },
	{ "[::ffff:192.0.2.1]:80", AF_INET6, 80, "[::ffff:192.0.2.1]:80" },
	{ "[fe80::1%lo]:80", AF_INET6, 80, "[fe80::1%lo]:80" },
	/* A scope given by index comes back by name while "lo" exists. */
	{ "[fe80::1%1]:80", AF_INET6, 80, "[fe80::1%lo]:80" },
	/* Leading zeros are harmless and read as decimal. */
	{ "127.0.0.1:00080", AF_INET, 80, "127.0.0.1:80" },
};

T_UNIT(addr, parses_good_forms)
{
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		const struct good_case *c = &good[i];
		struct nlb_addr a;
		memset(&a, 0xa5, sizeof(a));

		int r = nlb_addr_parse(c->text, 0, &a);
		cr_assert_eq(r, 0, "%s: parse returned %d", c->text, r);
		cr_expect_eq(nlb_addr_family(&a), c->family, "%s: family", c->text);
		cr_expect_eq(nlb_addr_port((struct sockaddr *)&a.ss), c->port,
			     "%s: port", c->text);
		cr_expect_eq(a.len, c->family == AF_INET ? sizeof(struct sockaddr_in)
							 : sizeof(struct sockaddr_in6),
			     "%s: len %u", c->text, (unsigned)a.len);

		char buf[NLB_ADDRSTRLEN];
		const char *s = nlb_addr_format((struct sockaddr *)&a.ss, buf, sizeof(buf));
		cr_expect_eq(s, buf);
		cr_expect_str_eq(buf, c->canonical, "%s: formatted as %s", c->text, buf);

		/* The canonical text parses back to an equal address. */
		struct nlb_addr b;
		cr_assert_eq(nlb_addr_parse(buf, 0, &b), 0, "%s: reparse", buf);
		cr_expect(nlb_addr_equal(&a, &b), "%s: round trip differs", c->text);
	}
}

T_UNIT(addr, stores_address_bytes)
{
	struct nlb_addr a;
	cr_assert_eq(nlb_addr_parse("192.0.2.7:9001", 0, &a), 0);
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&a.ss;
	cr_expect_eq(sin->sin_family, AF_INET);
	cr_expect_eq(ntohl(sin->sin_addr.s_addr), 0xc0000207u);
	cr_expect_eq(ntohs(sin->sin_port), 9001);

	cr_assert_eq(nlb_addr_parse("[2001:db8::1]:9002", 0, &a), 0);
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&a.ss;
	const unsigned char want[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	cr_expect_eq(sin6->sin6_family, AF_INET6);
	cr_expect_arr_eq(sin6->sin6_addr.s6_addr, want, 16);
	cr_expect_eq(ntohs(sin6->sin6_port), 9002);
	cr_expect_eq(sin6->sin6_scope_id, 0);

	cr_assert_eq(nlb_addr_parse("[fe80::1%lo]:80", 0, &a), 0);
	cr_expect_eq(sin6->sin6_scope_id, if_nametoindex("lo"));
}

static const char *const bad[] = {
	"",
	"127.0.0.1",		/* missing port */
	"127.0.0.1:",		/* empty port */
	":80",			/* missing host */
	"127.0.0.1:65536",	/* port too large */
	"127.0.0.1:99999",
	"127.0.0.1:100000",
	"127.0.0.1:0",		/* port 0 without allow_port0 */
	"127.0.0.1:-1",
	"127.0.0.1:+80",
	"127.0.0.1: 80",
	" 127.0.0.1:80",
	"127.0.0.1:80 ",	/* trailing junk */
	"127.0.0.1:80x",
	"127.0.0.1:80:80",
	"127.0.0.1:0x50",
	"256.0.0.1:80",		/* octet out of range */
	"127.1:80",		/* shorthand inet_aton would take */
	"0x7f.0.0.1:80",
	"127.0.0.1.5:80",
	"localhost:80",		/* hostnames: no DNS */
	"example.com:443",
	"::1:80",		/* v6 must be bracketed */
	"::1",
	"[::1]",		/* missing port */
	"[::1]:",
	"[::1]80",
	"[::1]:80]",
	"[::1:80",
	"[::1]:65536",
	"[::1]:0",
	"[::1]:80x",		/* trailing junk */
	"[127.0.0.1]:80",	/* v4 in brackets */
	"[::g]:80",
	"[]:80",
	"[fe80::1%]:80",	/* empty scope */
	"[fe80::1%no-such-if0]:80",
	"[fe80::1%4294967296]:80",
	"garbage",
	/* Longer than NLB_ADDRSTRLEN. */
	"[0000:0000:0000:0000:0000:0000:0000:0001%lo]:0000000000000000000000080",
};

T_UNIT(addr, refuses_bad_forms)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct nlb_addr a;
		int r = nlb_addr_parse(bad[i], 0, &a);
		cr_expect_eq(r, -EINVAL, "\"%s\": parse returned %d, want -EINVAL",
			     bad[i], r);
	}
	struct nlb_addr a;
	cr_expect_eq(nlb_addr_parse(NULL, 0, &a), -EINVAL);
}

T_UNIT(addr, port0_only_when_allowed)
{
	struct nlb_addr a;
	cr_expect_eq(nlb_addr_parse("127.0.0.1:0", 0, &a), -EINVAL);
	cr_expect_eq(nlb_addr_parse("[::]:0", 0, &a), -EINVAL);

	cr_assert_eq(nlb_addr_parse("127.0.0.1:0", 1, &a), 0);
	cr_expect_eq(nlb_addr_port((struct sockaddr *)&a.ss), 0);
	cr_assert_eq(nlb_addr_parse("[::]:0", 1, &a), 0);
	cr_expect_eq(nlb_addr_port((struct sockaddr *)&a.ss), 0);
	/* allow_port0 does not relax anything else. */
	cr_expect_eq(nlb_addr_parse("127.0.0.1:65536", 1, &a), -EINVAL);
	cr_expect_eq(nlb_addr_parse("127.0.0.1", 1, &a), -EINVAL);
}

T_UNIT(addr, equal_compares_family_address_port)
{
	struct nlb_addr a, b;
	static const struct {
		const char *x, *y;
		int equal;
	} cases[] = {
		{ "127.0.0.1:80", "127.0.0.1:80", 1 },
		{ "127.0.0.1:80", "127.0.0.1:0080", 1 },
		{ "127.0.0.1:80", "127.0.0.1:81", 0 },
		{ "127.0.0.1:80", "127.0.0.2:80", 0 },
		{ "[::1]:80", "[0:0:0:0:0:0:0:1]:80", 1 },
		{ "[::1]:80", "[::1]:81", 0 },
		{ "[::1]:80", "[::2]:80", 0 },
		{ "[fe80::1]:80", "[fe80::1%lo]:80", 0 },
		{ "0.0.0.0:80", "[::]:80", 0 },
		{ "[::ffff:127.0.0.1]:80", "127.0.0.1:80", 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(nlb_addr_parse(cases[i].x, 0, &a), 0, "%s", cases[i].x);
		cr_assert_eq(nlb_addr_parse(cases[i].y, 0, &b), 0, "%s", cases[i].y);
		cr_expect_eq(nlb_addr_equal(&a, &b), cases[i].equal,
			     "%s vs %s", cases[i].x, cases[i].y);
		cr_expect_eq(nlb_addr_equal(&b, &a), cases[i].equal,
			     "%s vs %s (swapped)", cases[i].y, cases[i].x);
	}
}

T_UNIT(addr, format_truncates_and_terminates)
{
	struct nlb_addr a;
	cr_assert_eq(nlb_addr_parse("192.168.100.200:65535", 0, &a), 0);
	char buf[8];
	memset(buf, 'x', sizeof(buf));
	nlb_addr_format((struct sockaddr *)&a.ss, buf, sizeof(buf));
	cr_expect_str_eq(buf, "192.168");

	/* A family nlb does not speak is reported, not misread. */
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	char out[NLB_ADDRSTRLEN];
	nlb_addr_format((struct sockaddr *)&ss, out, sizeof(out));
	cr_expect_eq(out[0], '?');
	cr_expect_eq(nlb_addr_port((struct sockaddr *)&ss), -EAFNOSUPPORT);
}

T_UNIT(addr, format_longest_v6_fits)
{
	struct nlb_addr a;
	cr_assert_eq(nlb_addr_parse("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff%lo]:65535",
				    0, &a), 0);
	char buf[NLB_ADDRSTRLEN];
	nlb_addr_format((struct sockaddr *)&a.ss, buf, sizeof(buf));
	cr_expect_str_eq(buf, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff%lo]:65535");
}

T_UNIT(addr, host_is_the_address_alone)
{
	static const struct {
		const char *text, *host;
	} cases[] = {
		{ "127.0.0.1:80", "127.0.0.1" },
		{ "[::1]:443", "::1" },
		{ "[2001:db8::7]:8080", "2001:db8::7" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct nlb_addr a;
		char buf[64];
		cr_assert_eq(nlb_addr_parse(cases[i].text, 0, &a), 0, "%s", cases[i].text);
		cr_expect_str_eq(nlb_addr_host((const struct sockaddr *)&a.ss, buf, sizeof(buf)),
				 cases[i].host);
	}
	struct sockaddr_storage unix_addr = { .ss_family = AF_UNIX };
	char buf[16], tiny[4];
	cr_expect_str_eq(nlb_addr_host((const struct sockaddr *)&unix_addr, buf, sizeof(buf)),
			 "unknown");
	struct nlb_addr a;
	cr_assert_eq(nlb_addr_parse("10.0.0.1:1", 0, &a), 0);
	nlb_addr_host((const struct sockaddr *)&a.ss, tiny, sizeof(tiny));
	cr_expect_eq(strnlen(tiny, sizeof(tiny)) < sizeof(tiny), 1, "terminated when short");
}
