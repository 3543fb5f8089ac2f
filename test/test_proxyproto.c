/* Tests for lib/proxyproto.c: valid v1 and v2 headers parse to what they
 * say and every strict prefix of them asks for more bytes; garbage fails
 * at the first byte that rules it out and stays failed; the encoders'
 * output parses back to the addresses given, mixed families included. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "addr.h"
#include "proxyproto.h"
#include "helpers.h"

/* The v2 signature; a string literal, so sizeof counts its NUL byte. */
#define SIG "\r\n\r\n\0\r\nQUIT\n"
#define F39 "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
/* 192.0.2.1 -> 198.51.100.2, ports 40000 and 443. */
#define V4_BLOCK "\xc0\x00\x02\x01" "\xc6\x33\x64\x02" "\x9c\x40" "\x01\xbb"
/* 2001:db8::1 -> 2001:db8::2, ports 40000 and 443. */
#define V6_BLOCK "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01" \
		 "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x02" "\x9c\x40" "\x01\xbb"

#define BYTES(lit) (const uint8_t *)(lit), sizeof(lit) - 1

static const char *fmt(const struct sockaddr_storage *ss, char *buf)
{
	return nlb_addr_format((const struct sockaddr *)ss, buf, NLB_ADDRSTRLEN);
}

/* ---- valid headers --------------------------------------------------------- */

struct good_case {
	const char *what;
	const uint8_t *bytes;
	size_t len;
	int version, command, family, transport, has_addr;
	const char *src, *dst;		/* as nlb_addr_format writes them */
	size_t tlv_len;
};

static const struct good_case good[] = {
	{ "v1 TCP4", BYTES("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"),
	  1, NLB_PP_PROXY, AF_INET, SOCK_STREAM, 1, "192.168.0.1:56324", "192.168.0.11:443", 0 },
	{ "v1 TCP4 longest", BYTES("PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n"),
	  1, NLB_PP_PROXY, AF_INET, SOCK_STREAM, 1,
	  "255.255.255.255:65535", "255.255.255.255:65535", 0 },
	{ "v1 TCP4 zeros", BYTES("PROXY TCP4 0.0.0.0 10.0.0.1 0 80\r\n"),
	  1, NLB_PP_PROXY, AF_INET, SOCK_STREAM, 1, "0.0.0.0:0", "10.0.0.1:80", 0 },
	{ "v1 TCP6", BYTES("PROXY TCP6 2001:db8::1 2001:db8::2 40000 443\r\n"),
	  1, NLB_PP_PROXY, AF_INET6, SOCK_STREAM, 1, "[2001:db8::1]:40000", "[2001:db8::2]:443", 0 },
	{ "v1 TCP6 longest", BYTES("PROXY TCP6 " F39 " " F39 " 65535 65535\r\n"),
	  1, NLB_PP_PROXY, AF_INET6, SOCK_STREAM, 1,
	  "[" F39 "]:65535", "[" F39 "]:65535", 0 },
	{ "v1 TCP6 short forms", BYTES("PROXY TCP6 ::1 :: 1 2\r\n"),
	  1, NLB_PP_PROXY, AF_INET6, SOCK_STREAM, 1, "[::1]:1", "[::]:2", 0 },
	/* Upper case and four-digit groups are allowed by the spec. */
	{ "v1 TCP6 long forms", BYTES("PROXY TCP6 FE80:0000:0000:0000:0000:0000:0000:0001 "
				      "1:2:3:4:5:6:7:8 9 10\r\n"),
	  1, NLB_PP_PROXY, AF_INET6, SOCK_STREAM, 1, "[fe80::1]:9", "[1:2:3:4:5:6:7:8]:10", 0 },
	{ "v1 TCP6 :: at the ends", BYTES("PROXY TCP6 1:2:3:4:5:6:7:: ::2:3:4:5:6:7:8 1 1\r\n"),
	  1, NLB_PP_PROXY, AF_INET6, SOCK_STREAM, 1, "[1:2:3:4:5:6:7:0]:1", "[0:2:3:4:5:6:7:8]:1", 0 },
	{ "v1 UNKNOWN short", BYTES("PROXY UNKNOWN\r\n"),
	  1, NLB_PP_PROXY, AF_UNSPEC, 0, 0, NULL, NULL, 0 },
	{ "v1 UNKNOWN longest", BYTES("PROXY UNKNOWN " F39 " " F39 " 65535 65535\r\n"),
	  1, NLB_PP_PROXY, AF_UNSPEC, 0, 0, NULL, NULL, 0 },
	/* The rest of an UNKNOWN line is ignored, whatever it holds. */
	{ "v1 UNKNOWN junk", BYTES("PROXY UNKNOWN \x01\n\r x\r\n"),
	  1, NLB_PP_PROXY, AF_UNSPEC, 0, 0, NULL, NULL, 0 },

	{ "v2 TCP4", BYTES(SIG "\x21\x11\x00\x0c" V4_BLOCK),
	  2, NLB_PP_PROXY, AF_INET, SOCK_STREAM, 1, "192.0.2.1:40000", "198.51.100.2:443", 0 },
	{ "v2 UDP4", BYTES(SIG "\x21\x12\x00\x0c" V4_BLOCK),
	  2, NLB_PP_PROXY, AF_INET, SOCK_DGRAM, 1, "192.0.2.1:40000", "198.51.100.2:443", 0 },
	{ "v2 TCP6", BYTES(SIG "\x21\x21\x00\x24" V6_BLOCK),
	  2, NLB_PP_PROXY, AF_INET6, SOCK_STREAM, 1, "[2001:db8::1]:40000", "[2001:db8::2]:443", 0 },
	{ "v2 UDP6", BYTES(SIG "\x21\x22\x00\x24" V6_BLOCK),
	  2, NLB_PP_PROXY, AF_INET6, SOCK_DGRAM, 1, "[2001:db8::1]:40000", "[2001:db8::2]:443", 0 },
	{ "v2 LOCAL", BYTES(SIG "\x20\x00\x00\x00"),
	  2, NLB_PP_LOCAL, AF_UNSPEC, 0, 0, NULL, NULL, 0 },
	/* LOCAL: addresses present but to be ignored. */
	{ "v2 LOCAL with addresses", BYTES(SIG "\x20\x11\x00\x0c" V4_BLOCK),
	  2, NLB_PP_LOCAL, AF_INET, SOCK_STREAM, 0, NULL, NULL, 0 },
	/* UNSPEC bytes have no layout; they are skipped, not read as TLVs. */
	{ "v2 PROXY UNSPEC", BYTES(SIG "\x21\x00\x00\x05" "\xff\xff\xff\xff\xff"),
	  2, NLB_PP_PROXY, AF_UNSPEC, 0, 0, NULL, NULL, 0 },
	/* ALPN "h2", an empty NOOP, AUTHORITY "a.example". */
	{ "v2 TCP4 with TLVs", BYTES(SIG "\x21\x11\x00\x20" V4_BLOCK
				     "\x01\x00\x02" "h2" "\x04\x00\x00"
				     "\x02\x00\x09" "a.example"),
	  2, NLB_PP_PROXY, AF_INET, SOCK_STREAM, 1, "192.0.2.1:40000", "198.51.100.2:443", 20 },
	{ "v2 TCP6 with a TLV", BYTES(SIG "\x21\x21\x00\x28" V6_BLOCK "\x04\x00\x01" "z"),
	  2, NLB_PP_PROXY, AF_INET6, SOCK_STREAM, 1, "[2001:db8::1]:40000", "[2001:db8::2]:443", 4 },
};

/* sizes of the v2 UNIX header and the largest accepted one, built below */
static uint8_t unix_hdr[16 + 216 + 3];
static uint8_t cap_hdr[NLB_PROXYPROTO_V2_MAX];

static void build_big_headers(void)
{
	memcpy(unix_hdr, SIG "\x21\x31", 14);
	unix_hdr[14] = 0;
	unix_hdr[15] = 216 + 3;
	memcpy(unix_hdr + 16, "/run/client.sock", 16);
	memcpy(unix_hdr + 16 + 108, "/run/server.sock", 16);
	memcpy(unix_hdr + 16 + 216, "\x04\x00\x00", 3);

	/* PROXY TCP4 and one NOOP TLV that fills up to exactly the cap. */
	size_t alen = NLB_PROXYPROTO_V2_MAX - 16, vlen = alen - 12 - 3;
	memset(cap_hdr, 0x5a, sizeof(cap_hdr));
	memcpy(cap_hdr, SIG "\x21\x11", 14);
	cap_hdr[14] = (uint8_t)(alen >> 8);
	cap_hdr[15] = (uint8_t)alen;
	memcpy(cap_hdr + 16, V4_BLOCK, 12);
	cap_hdr[28] = 0x04;
	cap_hdr[29] = (uint8_t)(vlen >> 8);
	cap_hdr[30] = (uint8_t)vlen;
}

/* Parses c: whole, then with payload after it, then every strict prefix. */
static void check_good(const struct good_case *c)
{
	uint8_t buf[NLB_PROXYPROTO_V2_MAX + 64];
	struct nlb_proxyproto pp;
	char a[NLB_ADDRSTRLEN];

	cr_assert_leq(c->len + 64, sizeof(buf));
	memset(&pp, 0xa5, sizeof(pp));
	int r = nlb_proxyproto_parse(c->bytes, c->len, &pp);
	cr_assert_eq(r, (int)c->len, "%s: parse returned %d, want %zu", c->what, r, c->len);
	cr_expect_eq(pp.version, c->version, "%s: version %d", c->what, pp.version);
	cr_expect_eq(pp.command, c->command, "%s: command %d", c->what, pp.command);
	cr_expect_eq(pp.family, c->family, "%s: family %d", c->what, pp.family);
	cr_expect_eq(pp.transport, c->transport, "%s: transport %d", c->what, pp.transport);
	cr_expect_eq(pp.has_addr, c->has_addr, "%s: has_addr %d", c->what, pp.has_addr);
	cr_expect_eq(pp.tlv_len, c->tlv_len, "%s: tlv_len %zu", c->what, pp.tlv_len);
	if (c->tlv_len > 0)
		cr_expect_eq(pp.tlv_off + pp.tlv_len, c->len, "%s: TLVs end the header", c->what);
	if (c->has_addr) {
		cr_expect_str_eq(fmt(&pp.src, a), c->src, "%s: src %s", c->what, a);
		cr_expect_str_eq(fmt(&pp.dst, a), c->dst, "%s: dst %s", c->what, a);
	}

	/* Payload after the header is not consumed, even when it looks like
	 * another header or the end of a v1 line. */
	static const char payload[] = "\r\nGET / HTTP/1.1\r\n\r\nPROXY TCP4 ";
	memcpy(buf, c->bytes, c->len);
	memcpy(buf + c->len, payload, sizeof(payload) - 1);
	r = nlb_proxyproto_parse(buf, c->len + sizeof(payload) - 1, &pp);
	cr_expect_eq(r, (int)c->len, "%s: with payload returned %d", c->what, r);

	for (size_t k = 0; k < c->len; k++) {
		struct nlb_proxyproto before;
		memset(&pp, 0x5a, sizeof(pp));
		before = pp;
		r = nlb_proxyproto_parse(c->bytes, k, &pp);
		cr_expect_eq(r, -EAGAIN, "%s: prefix of %zu bytes returned %d", c->what, k, r);
		cr_expect_eq(memcmp(&pp, &before, sizeof(pp)), 0,
			     "%s: prefix of %zu bytes wrote *out", c->what, k);
	}
}

T_UNIT(proxyproto, valid_headers_and_their_prefixes)
{
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		check_good(&good[i]);
}

T_UNIT(proxyproto, valid_big_v2_headers)
{
	build_big_headers();
	const struct good_case big[] = {
		{ "v2 UNIX stream", unix_hdr, sizeof(unix_hdr),
		  2, NLB_PP_PROXY, AF_UNIX, SOCK_STREAM, 0, NULL, NULL, 3 },
		{ "v2 at the size cap", cap_hdr, sizeof(cap_hdr),
		  2, NLB_PP_PROXY, AF_INET, SOCK_STREAM, 1, "192.0.2.1:40000",
		  "198.51.100.2:443", NLB_PROXYPROTO_V2_MAX - 16 - 12 },
	};
	for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++)
		check_good(&big[i]);
}

T_UNIT(proxyproto, v1_unknown_line_of_107_bytes)
{
	/* "PROXY UNKNOWN " + 91 bytes + CRLF = 107: the longest line. */
	uint8_t line[107];
	memcpy(line, "PROXY UNKNOWN ", 14);
	memset(line + 14, 'x', 91);
	memcpy(line + 105, "\r\n", 2);
	const struct good_case c = { "107-byte UNKNOWN", line, sizeof(line),
				     1, NLB_PP_PROXY, AF_UNSPEC, 0, 0, NULL, NULL, 0 };
	check_good(&c);
}

/* ---- garbage ------------------------------------------------------------- */

struct bad_case {
	const char *what;
	const uint8_t *bytes;
	size_t len;
	size_t fail_at;		/* shortest prefix that fails */
	int err;
};

/* ok is a valid prefix; the first byte of rest makes it invalid. */
#define BAD(what, ok, rest, err) \
	{ what, (const uint8_t *)(ok rest), sizeof(ok rest) - 1, sizeof(ok), err }

static const struct bad_case bad[] = {
	BAD("HTTP request", "", "GET / HTTP/1.1\r\n\r\n", -EINVAL),
	BAD("TLS hello", "", "\x16\x03\x01\x02\x00", -EINVAL),
	BAD("SSH banner", "", "SSH-2.0-x\r\n", -EINVAL),
	BAD("P then garbage", "P", "OST / HTTP/1.1\r\n", -EINVAL),
	BAD("lowercase proxy", "", "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", -EINVAL),
	BAD("no space after PROXY", "PROXY", "\tTCP4 1.2.3.4 5.6.7.8 1 2\r\n", -EINVAL),
	BAD("two spaces after PROXY", "PROXY ", " TCP4 1.2.3.4 5.6.7.8 1 2\r\n", -EINVAL),
	BAD("lowercase tcp4", "PROXY ", "tcp4 1.2.3.4 5.6.7.8 1 2\r\n", -EINVAL),
	BAD("TCP5", "PROXY TCP", "5 1.2.3.4 5.6.7.8 1 2\r\n", -EINVAL),
	BAD("UDP4", "PROXY U", "DP4 1.2.3.4 5.6.7.8 1 2\r\n", -EINVAL),
	BAD("two spaces after TCP4", "PROXY TCP4 ", " 1.2.3.4 5.6.7.8 1 2\r\n", -EINVAL),
	BAD("three octets", "PROXY TCP4 1.2.3", " 5.6.7.8 1 2\r\n", -EINVAL),
	BAD("five octets", "PROXY TCP4 1.2.3.4", ".5 5.6.7.8 1 2\r\n", -EINVAL),
	BAD("octet 256", "PROXY TCP4 25", "6.1.1.1 5.6.7.8 1 2\r\n", -EINVAL),
	BAD("octet with leading zero", "PROXY TCP4 0", "1.2.3.4 5.6.7.8 1 2\r\n", -EINVAL),
	BAD("empty octet", "PROXY TCP4 1.", ".3.4 5.6.7.8 1 2\r\n", -EINVAL),
	BAD("hex octet", "PROXY TCP4 0", "x7f.0.0.1 5.6.7.8 1 2\r\n", -EINVAL),
	BAD("v6 under TCP4", "PROXY TCP4 ", "::1 ::1 1 2\r\n", -EINVAL),
	BAD("bad destination", "PROXY TCP4 1.2.3.4 5.6.7", " 1 2\r\n", -EINVAL),
	BAD("port 65536", "PROXY TCP4 1.2.3.4 5.6.7.8 6553", "6 2\r\n", -EINVAL),
	BAD("port 99999", "PROXY TCP4 1.2.3.4 5.6.7.8 1 9999", "9\r\n", -EINVAL),
	BAD("port 080", "PROXY TCP4 1.2.3.4 5.6.7.8 0", "80 2\r\n", -EINVAL),
	BAD("port 00", "PROXY TCP4 1.2.3.4 5.6.7.8 1 0", "0\r\n", -EINVAL),
	BAD("port -1", "PROXY TCP4 1.2.3.4 5.6.7.8 ", "-1 2\r\n", -EINVAL),
	BAD("port +1", "PROXY TCP4 1.2.3.4 5.6.7.8 1 ", "+1\r\n", -EINVAL),
	BAD("empty port", "PROXY TCP4 1.2.3.4 5.6.7.8 ", " 2\r\n", -EINVAL),
	BAD("missing port", "PROXY TCP4 1.2.3.4 5.6.7.8 1", "\r\n", -EINVAL),
	BAD("trailing space", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2", " \r\n", -EINVAL),
	BAD("extra field", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2", " 3\r\n", -EINVAL),
	BAD("lone LF", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2", "\n", -EINVAL),
	BAD("lone CR", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r", "X", -EINVAL),
	BAD("CR CR LF", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r", "\r\n", -EINVAL),
	BAD("v4 under TCP6", "PROXY TCP6 1", ".2.3.4 5.6.7.8 1 2\r\n", -EINVAL),
	BAD("dotted v6 tail", "PROXY TCP6 ::ffff:1", ".2.3.4 ::1 1 2\r\n", -EINVAL),
	BAD("seven groups", "PROXY TCP6 1:2:3:4:5:6:7", " ::1 1 2\r\n", -EINVAL),
	BAD("nine groups", "PROXY TCP6 1:2:3:4:5:6:7:8", ":9 ::1 1 2\r\n", -EINVAL),
	BAD(":: among eight groups", "PROXY TCP6 1:2:3:4:5:6:7::", "8 ::1 1 2\r\n", -EINVAL),
	BAD("two ::", "PROXY TCP6 1::2:", ":3 ::1 1 2\r\n", -EINVAL),
	BAD(":::", "PROXY TCP6 1::", ":2 ::1 1 2\r\n", -EINVAL),
	BAD("five hex digits", "PROXY TCP6 1234", "5:: ::1 1 2\r\n", -EINVAL),
	BAD("leading single colon", "PROXY TCP6 :", "1::2 ::1 1 2\r\n", -EINVAL),
	BAD("trailing single colon", "PROXY TCP6 1::2:", " ::1 1 2\r\n", -EINVAL),
	BAD("v6 scope", "PROXY TCP6 fe80::1", "%lo ::1 1 2\r\n", -EINVAL),
	BAD("bracketed v6", "PROXY TCP6 ", "[::1] ::1 1 2\r\n", -EINVAL),
	BAD("UNKNOWN then junk", "PROXY UNKNOWN", "X\r\n", -EINVAL),
	BAD("UNKNOWN lone CR", "PROXY UNKNOWN\r", "X", -EINVAL),

	BAD("v2 version 1", SIG, "\x11\x11\x00\x0c" V4_BLOCK, -EINVAL),
	BAD("v2 version 3", SIG, "\x31\x11\x00\x0c" V4_BLOCK, -EINVAL),
	BAD("v2 version 0", SIG, "\x01\x11\x00\x0c" V4_BLOCK, -EINVAL),
	BAD("v2 command 2", SIG, "\x22\x11\x00\x0c" V4_BLOCK, -EINVAL),
	BAD("v2 command 15", SIG, "\x2f\x11\x00\x0c" V4_BLOCK, -EINVAL),
	BAD("v2 family 4", SIG "\x21", "\x41\x00\x0c" V4_BLOCK, -EINVAL),
	BAD("v2 family 15", SIG "\x21", "\xf1\x00\x0c" V4_BLOCK, -EINVAL),
	BAD("v2 transport 3", SIG "\x21", "\x13\x00\x0c" V4_BLOCK, -EINVAL),
	BAD("v2 INET, no transport", SIG "\x21", "\x10\x00\x0c" V4_BLOCK, -EINVAL),
	BAD("v2 UNSPEC, STREAM", SIG "\x20", "\x01\x00\x00", -EINVAL),
	BAD("v2 TCP4 length 11", SIG "\x21\x11\x00", "\x0b" V4_BLOCK, -EINVAL),
	BAD("v2 TCP4 length 0", SIG "\x21\x11\x00", "\x00", -EINVAL),
	BAD("v2 TCP6 length 12", SIG "\x21\x21\x00", "\x0c" V4_BLOCK, -EINVAL),
	BAD("v2 UNIX length 36", SIG "\x21\x31\x00", "\x24" V6_BLOCK, -EINVAL),
	/* 12 + 2: two bytes cannot hold a TLV's type and length. */
	BAD("v2 truncated TLV header", SIG "\x21\x11\x00", "\x0e" V4_BLOCK "\x04\x00", -EINVAL),
	BAD("v2 TLV overruns", SIG "\x21\x11\x00\x12" V4_BLOCK "\x01\x00", "\x04" "abc", -EINVAL),
	BAD("v2 second TLV overruns", SIG "\x21\x11\x00\x14" V4_BLOCK "\x04\x00\x00" "\x01\x01",
	    "\x00" "ab", -EINVAL),
	BAD("v2 over the cap", SIG "\x21\x11\x07", "\xf1" V4_BLOCK, -EMSGSIZE),
	BAD("v2 largest length", SIG "\x21\x11\xff", "\xff" V4_BLOCK, -EMSGSIZE),
	/* The cap applies even where the bytes would be skipped. */
	BAD("v2 LOCAL over the cap", SIG "\x20\x00\x08", "\x00", -EMSGSIZE),
};

/* Every prefix shorter than fail_at asks for more; fail_at bytes and
 * every longer prefix return err; *out is never written. */
static void check_bad(const struct bad_case *c)
{
	for (size_t k = 0; k <= c->len; k++) {
		struct nlb_proxyproto pp, before;
		memset(&pp, 0x5a, sizeof(pp));
		before = pp;
		int r = nlb_proxyproto_parse(c->bytes, k, &pp);
		int want = k < c->fail_at ? -EAGAIN : c->err;
		cr_expect_eq(r, want, "%s: prefix of %zu bytes returned %d, want %d",
			     c->what, k, r, want);
		cr_expect_eq(memcmp(&pp, &before, sizeof(pp)), 0, "%s: wrote *out", c->what);
	}
}

T_UNIT(proxyproto, garbage_fails_at_the_first_bad_byte)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_bad(&bad[i]);
}

T_UNIT(proxyproto, wrong_signature_byte_at_each_position)
{
	static const uint8_t v2[] = SIG "\x21\x11\x00\x0c" V4_BLOCK;
	static const uint8_t v1[] = "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n";
	const struct { const uint8_t *b; size_t len, sig; } hdrs[] = {
		{ v2, sizeof(v2) - 1, 12 },
		{ v1, sizeof(v1) - 1, 6 },	/* "PROXY " */
	};

	for (size_t h = 0; h < 2; h++) {
		for (size_t i = 0; i < hdrs[h].sig; i++) {
			uint8_t buf[64];
			memcpy(buf, hdrs[h].b, hdrs[h].len);
			/* 0x20 flips the case of letters and turns CR, LF and
			 * NUL into other control or space bytes. */
			buf[i] ^= 0x20;
			char what[64];
			snprintf(what, sizeof(what), "v%zu signature byte %zu", 2 - h, i);
			const struct bad_case c = { what, buf, hdrs[h].len, i + 1, -EINVAL };
			check_bad(&c);
		}
	}
}

T_UNIT(proxyproto, unknown_line_without_crlf_in_107_bytes)
{
	uint8_t line[120];
	memcpy(line, "PROXY UNKNOWN ", 14);
	memset(line + 14, 'x', sizeof(line) - 14);

	/* Byte 106 (index 105) is not a CR: the CRLF can no longer end by
	 * byte 107, so 106 bytes already fail. */
	memcpy(line + 106, "\r\n", 2);
	const struct bad_case late = { "CRLF at 107-108", line, 108, 106, -EINVAL };
	check_bad(&late);

	/* A CR at index 105 needs its LF next. */
	line[105] = '\r';
	line[106] = 'x';
	const struct bad_case nolf = { "CR at 106, no LF", line, 108, 107, -EINVAL };
	check_bad(&nolf);

	/* No CRLF at all: no amount of further bytes is -EAGAIN forever. */
	memset(line + 14, 'x', sizeof(line) - 14);
	const struct bad_case none = { "no CRLF", line, sizeof(line), 106, -EINVAL };
	check_bad(&none);
}

T_UNIT(proxyproto, null_out_is_allowed)
{
	static const char h[] = "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n";
	cr_expect_eq(nlb_proxyproto_parse((const uint8_t *)h, sizeof(h) - 1, NULL),
		     (int)sizeof(h) - 1);
	cr_expect_eq(nlb_proxyproto_parse(NULL, 0, NULL), -EAGAIN);
}

/* ---- encoders ------------------------------------------------------------- */

static struct sockaddr_storage sa(const char *text)
{
	struct nlb_addr a;
	cr_assert_eq(nlb_addr_parse(text, 1, &a), 0, "bad test address %s", text);
	return a.ss;
}

#define SA(ss) ((const struct sockaddr *)&(ss))

struct enc_case {
	const char *src, *dst;
	const char *v1;			/* the exact line */
	int family;			/* what both encoders announce */
	const char *psrc, *pdst;	/* as the parser reports them */
};

static const struct enc_case enc[] = {
	{ "192.0.2.1:40000", "198.51.100.2:443",
	  "PROXY TCP4 192.0.2.1 198.51.100.2 40000 443\r\n", AF_INET,
	  "192.0.2.1:40000", "198.51.100.2:443" },
	{ "[2001:db8::1]:1", "[2001:db8::2]:65535",
	  "PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n", AF_INET6,
	  "[2001:db8::1]:1", "[2001:db8::2]:65535" },
	/* Mixed: the IPv4 side goes IPv4-mapped, in hex groups. */
	{ "192.0.2.1:40000", "[2001:db8::2]:443",
	  "PROXY TCP6 ::ffff:c000:201 2001:db8::2 40000 443\r\n", AF_INET6,
	  "[::ffff:192.0.2.1]:40000", "[2001:db8::2]:443" },
	{ "[2001:db8::1]:40000", "198.51.100.2:443",
	  "PROXY TCP6 2001:db8::1 ::ffff:c633:6402 40000 443\r\n", AF_INET6,
	  "[2001:db8::1]:40000", "[::ffff:198.51.100.2]:443" },
	/* What a dual-stack [::] listener sees: IPv4 on the wire. */
	{ "[::ffff:192.0.2.1]:40000", "[::ffff:198.51.100.2]:443",
	  "PROXY TCP4 192.0.2.1 198.51.100.2 40000 443\r\n", AF_INET,
	  "192.0.2.1:40000", "198.51.100.2:443" },
	{ "[::ffff:192.0.2.1]:40000", "198.51.100.2:443",
	  "PROXY TCP4 192.0.2.1 198.51.100.2 40000 443\r\n", AF_INET,
	  "192.0.2.1:40000", "198.51.100.2:443" },
	{ "[::ffff:192.0.2.1]:40000", "[2001:db8::2]:443",
	  "PROXY TCP6 ::ffff:c000:201 2001:db8::2 40000 443\r\n", AF_INET6,
	  "[::ffff:192.0.2.1]:40000", "[2001:db8::2]:443" },
	/* RFC 5952 text: the longest zero run (the first of equals) is
	 * "::", a single zero group is not, no leading zeros. */
	{ "[2001:db8:0:0:1:0:0:1]:1", "[1:0:1:0:1:0:1:0]:2",
	  "PROXY TCP6 2001:db8::1:0:0:1 1:0:1:0:1:0:1:0 1 2\r\n", AF_INET6,
	  "[2001:db8::1:0:0:1]:1", "[1:0:1:0:1:0:1:0]:2" },
	{ "[::]:0", "[1::]:0", "PROXY TCP6 :: 1:: 0 0\r\n", AF_INET6, "[::]:0", "[1::]:0" },
	{ "[1:0:0:2:0:0:0:3]:5", "[0:0:1:0:0:0:0:0]:6",
	  "PROXY TCP6 1:0:0:2::3 0:0:1:: 5 6\r\n", AF_INET6,
	  "[1:0:0:2::3]:5", "[0:0:1::]:6" },
	{ "[" F39 "]:65535", "[" F39 "]:65535",
	  "PROXY TCP6 " F39 " " F39 " 65535 65535\r\n", AF_INET6,
	  "[" F39 "]:65535", "[" F39 "]:65535" },
};

T_UNIT(proxyproto, encoders_round_trip)
{
	for (size_t i = 0; i < sizeof(enc) / sizeof(enc[0]); i++) {
		const struct enc_case *c = &enc[i];
		struct sockaddr_storage s = sa(c->src), d = sa(c->dst);
		uint8_t buf[NLB_PROXYPROTO_V1_MAX + NLB_PROXYPROTO_V2_MAX_OUT];
		struct nlb_proxyproto pp;
		char a[NLB_ADDRSTRLEN];

		memset(buf, 0x5a, sizeof(buf));
		int n = nlb_proxyproto_write_v1(buf, NLB_PROXYPROTO_V1_MAX, SA(s), SA(d));
		cr_assert_eq(n, (int)strlen(c->v1), "%s %s: write_v1 returned %d",
			     c->src, c->dst, n);
		cr_expect_eq(memcmp(buf, c->v1, (size_t)n), 0, "%s %s: wrote \"%.*s\"",
			     c->src, c->dst, n, (const char *)buf);
		cr_expect_eq(buf[n], '\0', "NUL after the line when it fits");
		cr_assert_eq(nlb_proxyproto_parse(buf, (size_t)n, &pp), n);
		cr_expect_eq(pp.version, 1);
		cr_expect_eq(pp.family, c->family);
		cr_expect_eq(pp.has_addr, 1);
		cr_expect_str_eq(fmt(&pp.src, a), c->psrc, "v1 src %s", a);
		cr_expect_str_eq(fmt(&pp.dst, a), c->pdst, "v1 dst %s", a);

		static const int transports[] = { SOCK_STREAM, SOCK_DGRAM };
		for (size_t t = 0; t < 2; t++) {
			n = nlb_proxyproto_write_v2(buf, sizeof(buf), transports[t],
						    SA(s), SA(d));
			int want = 16 + (c->family == AF_INET ? 12 : 36);
			cr_assert_eq(n, want, "%s %s: write_v2 returned %d", c->src, c->dst, n);
			cr_expect_eq(buf[12], 0x21, "version 2, PROXY");
			cr_expect_eq(buf[13], (c->family == AF_INET ? 0x10 : 0x20) |
				     (transports[t] == SOCK_STREAM ? 1 : 2));
			cr_assert_eq(nlb_proxyproto_parse(buf, (size_t)n, &pp), n);
			cr_expect_eq(pp.version, 2);
			cr_expect_eq(pp.command, NLB_PP_PROXY);
			cr_expect_eq(pp.family, c->family);
			cr_expect_eq(pp.transport, transports[t]);
			cr_expect_eq(pp.has_addr, 1);
			cr_expect_eq(pp.tlv_len, 0);
			cr_expect_str_eq(fmt(&pp.src, a), c->psrc, "v2 src %s", a);
			cr_expect_str_eq(fmt(&pp.dst, a), c->pdst, "v2 dst %s", a);
		}
	}
}

T_UNIT(proxyproto, v2_encoding_bytes)
{
	struct sockaddr_storage s = sa("192.0.2.1:40000"), d = sa("198.51.100.2:443");
	uint8_t buf[NLB_PROXYPROTO_V2_MAX_OUT];
	static const uint8_t want4[] = SIG "\x21\x11\x00\x0c" V4_BLOCK;
	cr_assert_eq(nlb_proxyproto_write_v2(buf, sizeof(buf), SOCK_STREAM, SA(s), SA(d)), 28);
	cr_expect_arr_eq(buf, want4, 28);

	s = sa("[2001:db8::1]:40000");
	d = sa("[2001:db8::2]:443");
	static const uint8_t want6[] = SIG "\x21\x22\x00\x24" V6_BLOCK;
	cr_assert_eq(nlb_proxyproto_write_v2(buf, sizeof(buf), SOCK_DGRAM, SA(s), SA(d)), 52);
	cr_expect_arr_eq(buf, want6, 52);
}

/* TLVs appended to a written header parse back as the header's TLV
 * chain, byte for byte; the length field follows. */
T_UNIT(proxyproto, v2_tlvs_for_a_tls_client)
{
	struct sockaddr_storage s = sa("192.0.2.1:40000"), d = sa("198.51.100.2:443");
	uint8_t buf[NLB_PROXYPROTO_V2_MAX];
	int n = nlb_proxyproto_write_v2(buf, sizeof(buf), SOCK_STREAM, SA(s), SA(d));
	cr_assert_eq(n, 28);
	n = nlb_proxyproto_add_tlv(buf, sizeof(buf), (size_t)n, NLB_PP2_TYPE_AUTHORITY, "a.test", 6);
	cr_assert_eq(n, 28 + 9);
	uint8_t ssl[NLB_PROXYPROTO_SSL_VALUE_MAX];
	int nv = nlb_proxyproto_ssl_value(ssl, sizeof(ssl), "TLSv1.3", "TLS_AES_128_GCM_SHA256");
	cr_assert_eq(nv, 5 + 3 + 7 + 3 + 22);
	static const uint8_t want_ssl[] = "\x01\x00\x00\x00\x01" "\x21\x00\x07TLSv1.3"
					  "\x23\x00\x16TLS_AES_128_GCM_SHA256";
	cr_expect_arr_eq(ssl, want_ssl, (size_t)nv);
	n = nlb_proxyproto_add_tlv(buf, sizeof(buf), (size_t)n, NLB_PP2_TYPE_SSL, ssl, (size_t)nv);
	cr_assert_eq(n, 28 + 9 + 3 + nv);
	cr_expect_eq((size_t)buf[14] << 8 | buf[15], (size_t)n - 16, "length field");

	struct nlb_proxyproto pp;
	cr_assert_eq(nlb_proxyproto_parse(buf, (size_t)n, &pp), n);
	cr_expect_eq(pp.tlv_off, 28);
	cr_expect_eq(pp.tlv_len, (size_t)n - 28);
	static const uint8_t want_auth[] = "\x02\x00\x06" "a.test";
	cr_expect_arr_eq(buf + 28, want_auth, 9);
	cr_expect_eq(buf[37], NLB_PP2_TYPE_SSL);
	cr_expect_arr_eq(buf + 40, want_ssl, (size_t)nv);

	/* Errors: no room (nothing written), not a v2 header, a v1 line. */
	uint8_t before = buf[n];
	cr_expect_eq(nlb_proxyproto_add_tlv(buf, (size_t)n + 3, (size_t)n, 1, "xy", 2), -ENOSPC);
	cr_expect_eq(buf[n], before);
	cr_expect_eq(nlb_proxyproto_add_tlv(buf, sizeof(buf), (size_t)n - 1, 1, "x", 1), -EINVAL);
	uint8_t v1[NLB_PROXYPROTO_V1_MAX];
	int n1 = nlb_proxyproto_write_v1(v1, sizeof(v1), SA(s), SA(d));
	cr_expect_eq(nlb_proxyproto_add_tlv(v1, sizeof(v1), (size_t)n1, 1, "x", 1), -EINVAL);
	cr_expect_eq(nlb_proxyproto_ssl_value(ssl, 10, "TLSv1.3", "X"), -ENOSPC);
}

T_UNIT(proxyproto, encoder_errors)
{
	struct sockaddr_storage s4 = sa("192.0.2.1:1"), d4 = sa("192.0.2.2:2");
	struct sockaddr_storage s6 = sa("[2001:db8::1]:1");
	uint8_t buf[128];

	/* Too small by one writes nothing; exactly enough writes no NUL. */
	static const char line[] = "PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r\n";
	size_t n = sizeof(line) - 1;
	memset(buf, 0x5a, sizeof(buf));
	cr_expect_eq(nlb_proxyproto_write_v1(buf, n - 1, SA(s4), SA(d4)), -ENOSPC);
	cr_expect_eq(nlb_proxyproto_write_v1(buf, 0, SA(s4), SA(d4)), -ENOSPC);
	cr_expect_eq(buf[0], 0x5a, "nothing written on -ENOSPC");
	cr_expect_eq(nlb_proxyproto_write_v1(buf, n, SA(s4), SA(d4)), (int)n);
	cr_expect_eq(buf[n], 0x5a, "no NUL without room for it");

	memset(buf, 0x5a, sizeof(buf));
	cr_expect_eq(nlb_proxyproto_write_v2(buf, 27, SOCK_STREAM, SA(s4), SA(d4)), -ENOSPC);
	cr_expect_eq(nlb_proxyproto_write_v2(buf, 51, SOCK_STREAM, SA(s6), SA(d4)), -ENOSPC);
	cr_expect_eq(buf[0], 0x5a, "nothing written on -ENOSPC");
	cr_expect_eq(nlb_proxyproto_write_v2(buf, 28, SOCK_STREAM, SA(s4), SA(d4)), 28);
	cr_expect_eq(nlb_proxyproto_write_v2(buf, 52, SOCK_STREAM, SA(s6), SA(d4)), 52);

	struct sockaddr_un un;
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	cr_expect_eq(nlb_proxyproto_write_v1(buf, sizeof(buf), (struct sockaddr *)&un, SA(d4)),
		     -EAFNOSUPPORT);
	cr_expect_eq(nlb_proxyproto_write_v2(buf, sizeof(buf), SOCK_STREAM, SA(s4),
					     (struct sockaddr *)&un), -EAFNOSUPPORT);
	cr_expect_eq(nlb_proxyproto_write_v1(buf, sizeof(buf), NULL, SA(d4)), -EINVAL);
	cr_expect_eq(nlb_proxyproto_write_v2(buf, sizeof(buf), SOCK_STREAM, SA(s4), NULL),
		     -EINVAL);
	cr_expect_eq(nlb_proxyproto_write_v2(buf, sizeof(buf), SOCK_RAW, SA(s4), SA(d4)),
		     -EINVAL);
	cr_expect_eq(nlb_proxyproto_write_v2(buf, sizeof(buf), 0, SA(s4), SA(d4)), -EINVAL);
}

/* The encoder drops what the wire cannot carry: a v6 scope id. */
T_UNIT(proxyproto, scope_id_is_dropped)
{
	struct sockaddr_storage s = sa("[fe80::1%lo]:1"), d = sa("[fe80::2]:2");
	uint8_t buf[NLB_PROXYPROTO_V1_MAX];
	struct nlb_proxyproto pp;
	int n = nlb_proxyproto_write_v1(buf, sizeof(buf), SA(s), SA(d));
	cr_assert_gt(n, 0);
	cr_expect_eq(memcmp(buf, "PROXY TCP6 fe80::1 fe80::2 1 2\r\n", (size_t)n), 0);
	cr_assert_eq(nlb_proxyproto_parse(buf, (size_t)n, &pp), n);
	cr_expect_eq(((struct sockaddr_in6 *)&pp.src)->sin6_scope_id, 0);
}

/* The health-check form: it parses back as "no addresses". */
T_UNIT(proxyproto, local_headers)
{
	uint8_t b[64];
	struct nlb_proxyproto pp;
	int n = nlb_proxyproto_write_local(b, sizeof(b), 1);
	cr_assert_eq(n, 15);
	cr_expect(memcmp(b, "PROXY UNKNOWN\r\n", 15) == 0);
	cr_assert_eq(nlb_proxyproto_parse(b, (size_t)n, &pp), n);
	cr_expect_eq(pp.has_addr, 0);
	n = nlb_proxyproto_write_local(b, sizeof(b), 2);
	cr_assert_eq(n, 16);
	cr_assert_eq(nlb_proxyproto_parse(b, (size_t)n, &pp), 16);
	cr_expect_eq(pp.command, NLB_PP_LOCAL);
	cr_expect_eq(pp.has_addr, 0);
	cr_expect_eq(nlb_proxyproto_write_local(b, 15, 2), -ENOSPC);
	cr_expect_eq(nlb_proxyproto_write_local(b, 14, 1), -ENOSPC);
	cr_expect_eq(nlb_proxyproto_write_local(b, sizeof(b), 3), -EINVAL);
}
