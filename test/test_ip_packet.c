/* Suite "ip_packet": lib/ip_packet.c.  Packets are laid out here by hand
 * (IPv4 and IPv6 headers, TCP/UDP/SCTP/ICMP headers, extension headers)
 * and read back: each protocol's flow and ports, the symmetric key under
 * each stickiness, fragments of one datagram keyed alike, ICMP errors
 * keyed as the flow they quote, each malformed packet refused, every
 * prefix read at the end of a page followed by an inaccessible one; and
 * the ICMP "too big" answer decoded field by field, with both checksums
 * recomputed by this file's own checksum, its size caps and refusals. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "helpers.h"
#include "ip_packet.h"

enum { TCP = 6, UDP = 17, SCTP = 132, UDPLITE = 136, ICMP = 1, ICMP6 = 58 };

#define DF 0x4000
#define MF 0x2000

static void w16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t r16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* The ones'-complement sum of n bytes on top of acc, not complemented:
 * a message carrying a correct checksum sums to 0xffff. */
static uint16_t sum(const uint8_t *p, size_t n, uint64_t acc)
{
	for (size_t i = 0; i < n; i++)
		acc += (i & 1) ? p[i] : (uint64_t)p[i] << 8;
	while (acc > 0xffff)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)acc;
}

/* An address as struct nlb_tuple holds it (IPv4 mapped). */
static void addr(const char *s, uint8_t out[16])
{
	memset(out, 0, 16);
	if (strchr(s, ':') != NULL) {
		cr_assert_eq(inet_pton(AF_INET6, s, out), 1, "%s", s);
		return;
	}
	out[10] = out[11] = 0xff;
	cr_assert_eq(inet_pton(AF_INET, s, out + 12), 1, "%s", s);
}

/* An IPv4 header (no options) of a packet of total bytes, with frag as
 * the flags-and-offset word; its checksum is filled though nlb does not
 * read it.  Returns 20. */
static size_t put4(uint8_t *b, const char *src, const char *dst, uint8_t proto, size_t total,
		   uint16_t frag)
{
	uint8_t a[16];
	memset(b, 0, 20);
	b[0] = 0x45;
	w16(b + 2, (uint16_t)total);
	w16(b + 4, 0x1234);
	w16(b + 6, frag);
	b[8] = 64;
	b[9] = proto;
	addr(src, a);
	memcpy(b + 12, a + 12, 4);
	addr(dst, a);
	memcpy(b + 16, a + 12, 4);
	w16(b + 10, (uint16_t)~sum(b, 20, 0));
	return 20;
}

/* An IPv6 header whose payload is payload bytes.  Returns 40. */
static size_t put6(uint8_t *b, const char *src, const char *dst, uint8_t nh, size_t payload)
{
	memset(b, 0, 40);
	b[0] = 0x60;
	w16(b + 4, (uint16_t)payload);
	b[6] = nh;
	b[7] = 64;
	addr(src, b + 8);
	addr(dst, b + 24);
	return 40;
}

/* An upper-layer header with ports: TCP 20 bytes, SCTP 12, UDP and
 * UDP-Lite 8; returns its length. */
static size_t put_l4(uint8_t *b, uint8_t proto, uint16_t sport, uint16_t dport)
{
	size_t n = proto == TCP ? 20 : proto == SCTP ? 12 : 8;
	memset(b, 0, n);
	w16(b, sport);
	w16(b + 2, dport);
	if (proto == TCP)
		b[12] = 5 << 4;
	return n;
}

/* An ICMP or ICMPv6 header: type, code, checksum left 0, 4 more bytes. */
static size_t put_icmp(uint8_t *b, uint8_t type, uint8_t code, uint32_t rest)
{
	memset(b, 0, 8);
	b[0] = type;
	b[1] = code;
	w16(b + 4, (uint16_t)(rest >> 16));
	w16(b + 6, (uint16_t)rest);
	return 8;
}

/* A whole IPv4 packet with ports (TCP, UDP, SCTP, UDP-Lite) or an ICMP
 * echo request (ICMP) and data bytes after that header.  Returns its
 * length. */
static size_t pkt4(uint8_t *b, const char *src, const char *dst, uint8_t proto, uint16_t sport,
		   uint16_t dport, size_t data, uint16_t frag)
{
	size_t l4 = proto == ICMP ? put_icmp(b + 20, 8, 0, 0x00010001)
				  : put_l4(b + 20, proto, sport, dport);
	memset(b + 20 + l4, 0xab, data);
	return put4(b, src, dst, proto, 20 + l4 + data, frag) + l4 + data;
}

/* The same in IPv6 (ICMP6: an echo request). */
static size_t pkt6(uint8_t *b, const char *src, const char *dst, uint8_t proto, uint16_t sport,
		   uint16_t dport, size_t data)
{
	size_t l4 = proto == ICMP6 ? put_icmp(b + 40, 128, 0, 0x00010001)
				   : put_l4(b + 40, proto, sport, dport);
	memset(b + 40 + l4, 0xab, data);
	return put6(b, src, dst, proto, l4 + data) + l4 + data;
}

/* An ICMP (v4) error from src to dst quoting q (n bytes).  Returns its
 * length. */
static size_t err4(uint8_t *b, const char *src, const char *dst, uint8_t type, uint8_t code,
		   const uint8_t *q, size_t n)
{
	put_icmp(b + 20, type, code, 0);
	memcpy(b + 28, q, n);
	w16(b + 22, (uint16_t)~sum(b + 20, 8 + n, 0));
	return put4(b, src, dst, ICMP, 28 + n, 0) + 8 + n;
}

static size_t err6(uint8_t *b, const char *src, const char *dst, uint8_t type, uint8_t code,
		   const uint8_t *q, size_t n)
{
	put_icmp(b + 40, type, code, type == 2 ? 1280 : 0);
	memcpy(b + 48, q, n);
	return put6(b, src, dst, ICMP6, 8 + n) + 8 + n;
}

static struct nlb_ip_packet parse_ok(const uint8_t *b, size_t n)
{
	struct nlb_ip_packet p;
	int r = nlb_ip_packet_parse(b, n, &p);
	cr_assert_eq(r, 0, "parse: %d", r);
	return p;
}

static struct nlb_tuple key_of(const uint8_t *b, size_t n, enum nlb_gw_stickiness s)
{
	struct nlb_ip_packet p = parse_ok(b, n);
	struct nlb_tuple k;
	memset(&k, 0x5a, sizeof(k));	/* the key must set every byte */
	nlb_ip_flow_key(&p, s, &k);
	return k;
}

/* A flow as the parser writes it: the packet's direction, ports in
 * network byte order. */
static struct nlb_tuple flow(const char *src, uint16_t sport, const char *dst, uint16_t dport,
			     uint8_t proto)
{
	struct nlb_tuple t;
	memset(&t, 0, sizeof(t));
	addr(src, t.src);
	addr(dst, t.dst);
	t.sport = htons(sport);
	t.dport = htons(dport);
	t.proto = proto;
	return t;
}

#define expect_key_eq(a, b, ...) cr_expect(nlb_tuple_equal(&(a), &(b)), __VA_ARGS__)
#define expect_key_ne(a, b, ...) cr_expect(!nlb_tuple_equal(&(a), &(b)), __VA_ARGS__)

static const uint8_t port_protos[] = { TCP, UDP, SCTP, UDPLITE };

T_UNIT(ip_packet, ipv4_ports)
{
	uint8_t b[256];
	for (size_t i = 0; i < sizeof(port_protos); i++) {
		uint8_t proto = port_protos[i];
		size_t n = pkt4(b, "10.0.0.1", "192.0.2.7", proto, 40000, 443, 5, DF);
		struct nlb_ip_packet p = parse_ok(b, n);
		cr_expect_eq(p.version, 4);
		cr_expect_eq(p.l4_proto, proto);
		cr_expect(p.has_ports && !p.fragment && !p.icmp_error, "proto %u", proto);
		cr_expect_eq(p.length, n);
		cr_expect_eq(p.l4_offset, 20);
		struct nlb_tuple want = flow("10.0.0.1", 40000, "192.0.2.7", 443, proto);
		expect_key_eq(p.flow, want, "proto %u: the flow as sent", proto);
	}
	/* options: the upper layer starts after IHL * 4 */
	size_t n = pkt4(b, "10.0.0.1", "192.0.2.7", TCP, 1, 2, 0, 0);
	memmove(b + 28, b + 20, n - 20);
	memset(b + 20, 1, 8);			/* NOPs */
	b[0] = 0x47;
	w16(b + 2, (uint16_t)(n + 8));
	struct nlb_ip_packet p = parse_ok(b, n + 8);
	cr_expect_eq(p.l4_offset, 28);
	cr_expect_eq(ntohs(p.flow.sport), 1);
	cr_expect_eq(ntohs(p.flow.dport), 2);
}

T_UNIT(ip_packet, ipv6_ports)
{
	uint8_t b[256];
	for (size_t i = 0; i < sizeof(port_protos); i++) {
		uint8_t proto = port_protos[i];
		size_t n = pkt6(b, "2001:db8::1", "2001:db8:1::2", proto, 5353, 53, 3);
		struct nlb_ip_packet p = parse_ok(b, n);
		cr_expect_eq(p.version, 6);
		cr_expect_eq(p.l4_proto, proto);
		cr_expect(p.has_ports && !p.fragment && !p.icmp_error, "proto %u", proto);
		cr_expect_eq(p.length, n);
		cr_expect_eq(p.l4_offset, 40);
		struct nlb_tuple want = flow("2001:db8::1", 5353, "2001:db8:1::2", 53, proto);
		expect_key_eq(p.flow, want, "proto %u: the flow as sent", proto);
	}
}

/* A protocol without ports (GRE) is keyed by addresses and protocol. */
T_UNIT(ip_packet, other_protocol_has_no_ports)
{
	uint8_t b[64];
	memset(b + 20, 0xee, 8);
	size_t n = put4(b, "10.0.0.1", "10.0.0.2", 47, 28, 0) + 8;
	struct nlb_ip_packet p = parse_ok(b, n);
	cr_expect(!p.has_ports && p.l4_proto == 47 && p.flow.proto == 47);
	cr_expect(p.flow.sport == 0 && p.flow.dport == 0);
}

T_UNIT(ip_packet, keys_are_symmetric)
{
	uint8_t a[256], b[256];
	static const struct {
		const char *x, *y;
		uint8_t proto;
	} cases[] = {
		{ "10.0.0.1", "192.0.2.7", TCP }, { "192.0.2.7", "10.0.0.1", UDP },
		{ "2001:db8::1", "2001:db8::2", SCTP }, { "2001:db8::9", "2001:db8::2", TCP },
		{ "10.0.0.1", "10.0.0.1", TCP },	/* same address: the ports order them */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool v6 = strchr(cases[i].x, ':') != NULL;
		size_t na = v6 ? pkt6(a, cases[i].x, cases[i].y, cases[i].proto, 40000, 443, 0)
			       : pkt4(a, cases[i].x, cases[i].y, cases[i].proto, 40000, 443, 0, 0);
		size_t nb = v6 ? pkt6(b, cases[i].y, cases[i].x, cases[i].proto, 443, 40000, 10)
			       : pkt4(b, cases[i].y, cases[i].x, cases[i].proto, 443, 40000, 10, 0);
		for (int s = NLB_GW_STICKY_5TUPLE; s <= NLB_GW_STICKY_2TUPLE; s++) {
			struct nlb_tuple ka = key_of(a, na, s), kb = key_of(b, nb, s);
			expect_key_eq(ka, kb, "case %zu stickiness %d: both directions alike", i, s);
			cr_expect(ka.zero[0] == 0 && ka.zero[1] == 0 && ka.zero[2] == 0);
			cr_expect(memcmp(ka.src, ka.dst, 16) < 0 ||
				  (memcmp(ka.src, ka.dst, 16) == 0 &&
				   ntohs(ka.sport) <= ntohs(ka.dport)), "lower side first");
		}
	}
	/* the lower side first, its port with it */
	size_t n = pkt4(a, "192.0.2.7", "10.0.0.1", TCP, 443, 40000, 0, 0);
	struct nlb_tuple k = key_of(a, n, NLB_GW_STICKY_5TUPLE);
	struct nlb_tuple want = flow("10.0.0.1", 40000, "192.0.2.7", 443, TCP);
	expect_key_eq(k, want);
	n = pkt4(a, "10.0.0.1", "10.0.0.1", TCP, 443, 80, 0, 0);
	k = key_of(a, n, NLB_GW_STICKY_5TUPLE);
	want = flow("10.0.0.1", 80, "10.0.0.1", 443, TCP);
	expect_key_eq(k, want);
}

T_UNIT(ip_packet, keys_tell_flows_apart)
{
	uint8_t b[128];
	size_t n = pkt4(b, "10.0.0.1", "192.0.2.7", TCP, 40000, 443, 0, 0);
	struct nlb_tuple base5 = key_of(b, n, NLB_GW_STICKY_5TUPLE),
			 base3 = key_of(b, n, NLB_GW_STICKY_3TUPLE),
			 base2 = key_of(b, n, NLB_GW_STICKY_2TUPLE);
	struct nlb_tuple k;

	n = pkt4(b, "10.0.0.1", "192.0.2.7", TCP, 40001, 443, 0, 0);	/* another source port */
	k = key_of(b, n, NLB_GW_STICKY_5TUPLE);
	expect_key_ne(k, base5, "5-tuple: ports count");
	k = key_of(b, n, NLB_GW_STICKY_3TUPLE);
	expect_key_eq(k, base3, "3-tuple: ports do not");
	cr_expect(k.sport == 0 && k.dport == 0 && k.proto == TCP);

	n = pkt4(b, "10.0.0.1", "192.0.2.7", UDP, 40000, 443, 0, 0);	/* another protocol */
	k = key_of(b, n, NLB_GW_STICKY_5TUPLE);
	expect_key_ne(k, base5);
	k = key_of(b, n, NLB_GW_STICKY_3TUPLE);
	expect_key_ne(k, base3, "3-tuple: the protocol counts");
	k = key_of(b, n, NLB_GW_STICKY_2TUPLE);
	expect_key_eq(k, base2, "2-tuple: it does not");
	cr_expect(k.sport == 0 && k.dport == 0 && k.proto == 0);

	n = pkt4(b, "10.0.0.2", "192.0.2.7", TCP, 40000, 443, 0, 0);	/* another address */
	for (int s = NLB_GW_STICKY_5TUPLE; s <= NLB_GW_STICKY_2TUPLE; s++) {
		k = key_of(b, n, s);
		struct nlb_tuple base = s == 0 ? base5 : s == 1 ? base3 : base2;
		expect_key_ne(k, base, "stickiness %d: addresses count", s);
	}
	/* swapped ports on the same addresses are another flow */
	n = pkt4(b, "10.0.0.1", "192.0.2.7", TCP, 443, 40000, 0, 0);
	k = key_of(b, n, NLB_GW_STICKY_5TUPLE);
	expect_key_ne(k, base5);

	/* a fragment's key has no ports, whatever the packet says */
	struct nlb_ip_packet frag = parse_ok(b, n);
	frag.fragment = true;
	nlb_ip_flow_key(&frag, NLB_GW_STICKY_5TUPLE, &k);
	expect_key_eq(k, base3);

	/* an IPv4 flow and the IPv4-mapped IPv6 one are held alike */
	n = pkt6(b, "::ffff:10.0.0.1", "::ffff:192.0.2.7", TCP, 40000, 443, 0);
	k = key_of(b, n, NLB_GW_STICKY_5TUPLE);
	expect_key_eq(k, base5);
}

/* A datagram of 3 IPv4 fragments (offsets in 8-byte units): every one
 * keyed by addresses and protocol, alike, also the first, which has its
 * ports; the same as the unfragmented flow's 3-tuple key. */
T_UNIT(ip_packet, ipv4_fragments)
{
	uint8_t b[256];
	size_t n = pkt4(b, "10.0.0.1", "192.0.2.7", UDP, 5000, 53, 0, 0);
	struct nlb_tuple whole3 = key_of(b, n, NLB_GW_STICKY_3TUPLE);
	static const uint16_t frags[] = { MF, MF | 3, 6, MF | 0x1fff, DF | 6 };
	for (size_t i = 0; i < sizeof(frags) / sizeof(frags[0]); i++) {
		bool first = (frags[i] & 0x1fff) == 0;
		/* a later fragment's bytes are data, not a header */
		n = first ? pkt4(b, "10.0.0.1", "192.0.2.7", UDP, 5000, 53, 16, frags[i])
			  : put4(b, "10.0.0.1", "192.0.2.7", UDP, 20 + 24, frags[i]) + 24;
		if (!first)
			memset(b + 20, 0x77, 24);
		struct nlb_ip_packet p = parse_ok(b, n);
		cr_expect(p.fragment && !p.has_ports, "fragment %zu", i);
		cr_expect(p.flow.sport == 0 && p.flow.dport == 0);
		cr_expect_eq(p.l4_proto, UDP);
		for (int s = NLB_GW_STICKY_5TUPLE; s <= NLB_GW_STICKY_3TUPLE; s++) {
			struct nlb_tuple k = key_of(b, n, s);
			expect_key_eq(k, whole3, "fragment %zu stickiness %d", i, s);
		}
	}
	/* DF alone is not a fragment */
	n = pkt4(b, "10.0.0.1", "192.0.2.7", UDP, 5000, 53, 0, DF);
	cr_expect(!parse_ok(b, n).fragment);
	/* a later fragment of 2 bytes is fine: no header is read there */
	n = put4(b, "10.0.0.1", "192.0.2.7", TCP, 22, 100) + 2;
	cr_expect(parse_ok(b, n).fragment);
}

/* IPv6 fragments: a fragment header (next header, reserved, offset << 3
 * | M, identification) after a destination options header. */
static size_t frag6(uint8_t *b, uint16_t offset, bool more, bool v6_first_l4, size_t data)
{
	size_t at = put6(b, "2001:db8::1", "2001:db8::2", 60, 0);
	memset(b + at, 0, 8);		/* destination options, 8 bytes, PadN */
	b[at] = 44;
	b[at + 2] = 1;
	b[at + 3] = 4;
	at += 8;
	memset(b + at, 0, 8);
	b[at] = UDP;
	w16(b + at + 2, (uint16_t)(offset << 3 | more));
	memcpy(b + at + 4, "\x12\x34\x56\x78", 4);
	at += 8;
	if (v6_first_l4)
		at += put_l4(b + at, UDP, 5000, 53);
	memset(b + at, 0x77, data);
	at += data;
	w16(b + 4, (uint16_t)(at - 40));
	return at;
}

T_UNIT(ip_packet, ipv6_fragments)
{
	uint8_t b[256];
	size_t n = pkt6(b, "2001:db8::2", "2001:db8::1", UDP, 53, 5000, 0);
	struct nlb_tuple whole3 = key_of(b, n, NLB_GW_STICKY_3TUPLE);
	struct nlb_tuple whole5 = key_of(b, n, NLB_GW_STICKY_5TUPLE);
	static const struct {
		uint16_t offset;
		bool more, first;
	} frags[] = { { 0, true, true }, { 3, true, false }, { 6, false, false } };
	for (size_t i = 0; i < sizeof(frags) / sizeof(frags[0]); i++) {
		n = frag6(b, frags[i].offset, frags[i].more, frags[i].first, 16);
		struct nlb_ip_packet p = parse_ok(b, n);
		cr_expect(p.fragment && !p.has_ports, "fragment %zu", i);
		cr_expect_eq(p.l4_proto, UDP);
		cr_expect_eq(p.l4_offset, 56);
		for (int s = NLB_GW_STICKY_5TUPLE; s <= NLB_GW_STICKY_3TUPLE; s++) {
			struct nlb_tuple k = key_of(b, n, s);
			expect_key_eq(k, whole3, "fragment %zu stickiness %d", i, s);
		}
	}
	/* an atomic fragment (offset 0, M 0) is a whole packet */
	n = frag6(b, 0, false, true, 0);
	struct nlb_ip_packet p = parse_ok(b, n);
	cr_expect(!p.fragment && p.has_ports);
	cr_expect_eq(p.l4_offset, 56);
	struct nlb_tuple k = key_of(b, n, NLB_GW_STICKY_5TUPLE);
	expect_key_eq(k, whole5);
	/* a later fragment's data is not read as a header, however short */
	n = frag6(b, 9, false, false, 0);
	cr_expect(parse_ok(b, n).fragment);
}

/* Hop-by-hop, routing (8 bytes), destination options (24), AH (24),
 * then TCP 40000 -> 22 at *l4.  Returns the packet's length. */
static size_t chain6(uint8_t *b, size_t *l4)
{
	size_t at = put6(b, "2001:db8::1", "2001:db8::2", 0, 0);
	static const struct {
		uint8_t next;
		size_t len;
	} chain[] = { { 43, 8 }, { 60, 24 }, { 51, 24 }, { TCP, 16 } };
	for (size_t i = 0; i < 4; i++) {
		memset(b + at, 0, chain[i].len);
		b[at] = chain[i].next;
		/* AH: 4-byte words minus 2; the others: 8-byte words minus 1 */
		b[at + 1] = (uint8_t)(i == 3 ? chain[i].len / 4 - 2 : chain[i].len / 8 - 1);
		at += chain[i].len;
	}
	*l4 = at;
	at += put_l4(b + at, TCP, 40000, 22);
	w16(b + 4, (uint16_t)(at - 40));
	return at;
}

T_UNIT(ip_packet, extension_header_chain)
{
	uint8_t b[256];
	size_t l4, at = chain6(b, &l4);
	struct nlb_ip_packet p = parse_ok(b, at);
	cr_expect_eq(p.l4_proto, TCP);
	cr_expect_eq(p.l4_offset, l4);
	cr_expect(p.has_ports && !p.fragment);
	struct nlb_tuple want = flow("2001:db8::1", 40000, "2001:db8::2", 22, TCP);
	expect_key_eq(p.flow, want);

	/* ESP (after AH here) ends the walk: protocol 50, no ports */
	b[l4 - 16] = 50;
	p = parse_ok(b, at);
	cr_expect(p.l4_proto == 50 && p.flow.proto == 50 && !p.has_ports);
	cr_expect_eq(p.l4_offset, l4);
	/* so does No Next Header */
	b[l4 - 16] = 59;
	p = parse_ok(b, at);
	cr_expect(p.l4_proto == 59 && !p.has_ports);
}

T_UNIT(ip_packet, echo_has_no_ports)
{
	uint8_t a[128], b[128];
	size_t na = pkt4(a, "10.0.0.1", "192.0.2.7", ICMP, 0, 0, 8, 0);
	size_t nb = pkt4(b, "192.0.2.7", "10.0.0.1", ICMP, 0, 0, 8, 0);
	b[20] = 0;	/* echo reply */
	struct nlb_ip_packet p = parse_ok(a, na), q = parse_ok(b, nb);
	cr_expect(!p.has_ports && !p.icmp_error && p.l4_proto == ICMP && p.flow.proto == ICMP);
	cr_expect(!q.has_ports && !q.icmp_error);
	struct nlb_tuple ka = key_of(a, na, NLB_GW_STICKY_5TUPLE), kb = key_of(b, nb, NLB_GW_STICKY_5TUPLE);
	expect_key_eq(ka, kb, "request and reply alike");
	cr_expect(ka.sport == 0 && ka.dport == 0);

	na = pkt6(a, "2001:db8::1", "2001:db8::2", ICMP6, 0, 0, 8);
	nb = pkt6(b, "2001:db8::2", "2001:db8::1", ICMP6, 0, 0, 8);
	b[40] = 129;
	p = parse_ok(a, na);
	q = parse_ok(b, nb);
	cr_expect(!p.has_ports && !p.icmp_error && p.l4_proto == ICMP6);
	cr_expect(!q.has_ports && !q.icmp_error);
	ka = key_of(a, na, NLB_GW_STICKY_5TUPLE);
	kb = key_of(b, nb, NLB_GW_STICKY_5TUPLE);
	expect_key_eq(ka, kb);
	/* an ICMP message too short for its header is still this flow's */
	na = put4(a, "10.0.0.1", "192.0.2.7", ICMP, 22, 0) + 2;
	a[20] = 3;
	p = parse_ok(a, na);
	cr_expect(!p.icmp_error && p.flow.proto == ICMP);
}

/* A router 198.51.100.1 answers a packet 10.0.0.1 -> 192.0.2.7 (the
 * original) with an error to 10.0.0.1, quoting the original: the error
 * is keyed as the original's flow, which is the key of its replies too. */
T_UNIT(ip_packet, icmp4_error_is_the_quoted_flow)
{
	static const uint8_t types[] = { 3, 4, 5, 11, 12 };
	uint8_t orig[256], e[512], reply[128];
	for (size_t pi = 0; pi < sizeof(port_protos); pi++) {
		uint8_t proto = port_protos[pi];
		size_t no = pkt4(orig, "10.0.0.1", "192.0.2.7", proto, 40000, 443, 100, DF);
		size_t nr = pkt4(reply, "192.0.2.7", "10.0.0.1", proto, 443, 40000, 0, 0);
		for (size_t ti = 0; ti < sizeof(types); ti++) {
			/* RFC 792: the header and 8 bytes; RFC 1812: more */
			size_t quoted[] = { 28, no };
			for (size_t qi = 0; qi < 2; qi++) {
				size_t n = err4(e, "198.51.100.1", "10.0.0.1", types[ti], 0, orig,
						quoted[qi]);
				struct nlb_ip_packet p = parse_ok(e, n);
				cr_expect(p.icmp_error && p.has_ports && !p.fragment);
				cr_expect_eq(p.l4_proto, ICMP);
				struct nlb_tuple want = flow("10.0.0.1", 40000, "192.0.2.7", 443, proto);
				expect_key_eq(p.flow, want, "type %u: the quoted flow", types[ti]);
				for (int s = NLB_GW_STICKY_5TUPLE; s <= NLB_GW_STICKY_2TUPLE; s++) {
					struct nlb_tuple ke = key_of(e, n, s), ko = key_of(orig, no, s),
							 kr = key_of(reply, nr, s);
					expect_key_eq(ke, ko, "type %u stickiness %d", types[ti], s);
					expect_key_eq(ke, kr);
				}
			}
		}
	}
	/* an error about an echo request: the echo's flow, no ports */
	size_t no = pkt4(orig, "10.0.0.1", "192.0.2.7", ICMP, 0, 0, 8, 0);
	size_t n = err4(e, "198.51.100.1", "10.0.0.1", 11, 0, orig, 28);
	struct nlb_ip_packet p = parse_ok(e, n);
	cr_expect(p.icmp_error && !p.has_ports && p.flow.proto == ICMP);
	struct nlb_tuple ke = key_of(e, n, NLB_GW_STICKY_5TUPLE), ko = key_of(orig, no, NLB_GW_STICKY_5TUPLE);
	expect_key_eq(ke, ko);
	/* about a fragment: the fragment's key */
	no = pkt4(orig, "10.0.0.1", "192.0.2.7", UDP, 5000, 53, 16, MF);
	n = err4(e, "198.51.100.1", "10.0.0.1", 11, 1, orig, 28);
	p = parse_ok(e, n);
	cr_expect(p.icmp_error && !p.has_ports && !p.fragment && p.flow.proto == UDP);
	ke = key_of(e, n, NLB_GW_STICKY_5TUPLE);
	ko = key_of(orig, no, NLB_GW_STICKY_5TUPLE);
	expect_key_eq(ke, ko);
	/* an error that is itself fragmented (first or later fragment) is
	 * keyed as a fragment, by its own addresses, like its other pieces */
	no = pkt4(orig, "10.0.0.1", "192.0.2.7", TCP, 40000, 443, 0, 0);
	for (int later = 0; later < 2; later++) {
		n = err4(e, "198.51.100.1", "10.0.0.1", 3, 4, orig, no);
		w16(e + 6, later ? 0x10 : MF);
		p = parse_ok(e, n);
		cr_expect(p.fragment && !p.icmp_error && !p.has_ports && p.flow.proto == ICMP);
		struct nlb_tuple own = flow("198.51.100.1", 0, "10.0.0.1", 0, ICMP);
		expect_key_eq(p.flow, own);
	}
}

T_UNIT(ip_packet, icmp6_error_is_the_quoted_flow)
{
	uint8_t orig[256], e[512], reply[128];
	for (size_t pi = 0; pi < sizeof(port_protos); pi++) {
		uint8_t proto = port_protos[pi];
		size_t no = pkt6(orig, "2001:db8::1", "2001:db8:9::7", proto, 40000, 443, 100);
		size_t nr = pkt6(reply, "2001:db8:9::7", "2001:db8::1", proto, 443, 40000, 0);
		for (uint8_t type = 1; type <= 4; type++) {
			size_t n = err6(e, "2001:db8:ff::1", "2001:db8::1", type, 0, orig, no);
			struct nlb_ip_packet p = parse_ok(e, n);
			cr_expect(p.icmp_error && p.has_ports && !p.fragment);
			cr_expect_eq(p.l4_proto, ICMP6);
			struct nlb_tuple want = flow("2001:db8::1", 40000, "2001:db8:9::7", 443, proto);
			expect_key_eq(p.flow, want, "type %u", type);
			for (int s = NLB_GW_STICKY_5TUPLE; s <= NLB_GW_STICKY_2TUPLE; s++) {
				struct nlb_tuple ke = key_of(e, n, s), ko = key_of(orig, no, s),
						 kr = key_of(reply, nr, s);
				expect_key_eq(ke, ko, "type %u stickiness %d", type, s);
				expect_key_eq(ke, kr);
			}
		}
	}
	/* informational messages are their own flow: 128 and up */
	size_t no = pkt6(orig, "2001:db8::1", "2001:db8:9::7", TCP, 40000, 443, 0);
	size_t n = err6(e, "2001:db8:ff::1", "2001:db8::1", 133, 0, orig, no);
	struct nlb_ip_packet p = parse_ok(e, n);
	cr_expect(!p.icmp_error && !p.has_ports && p.flow.proto == ICMP6);
	/* an error about a fragment: the fragment's key */
	no = frag6(orig, 0, true, true, 16);
	n = err6(e, "2001:db8:ff::1", "2001:db8::1", 3, 1, orig, no);
	p = parse_ok(e, n);
	cr_expect(p.icmp_error && !p.has_ports && p.flow.proto == UDP);
	struct nlb_tuple ke = key_of(e, n, NLB_GW_STICKY_5TUPLE), ko = key_of(orig, no, NLB_GW_STICKY_5TUPLE);
	expect_key_eq(ke, ko);
}

/* A quote cut inside the upper-layer header gives the protocol without
 * ports (the 3-tuple key still matches); cut inside the IP header (or an
 * IPv6 extension header), the error is its own flow.  The quoted total
 * or payload length is never held against what is there. */
T_UNIT(ip_packet, truncated_quotes)
{
	uint8_t orig[256], e[512];
	size_t no = pkt4(orig, "10.0.0.1", "192.0.2.7", TCP, 40000, 443, 100, 0);
	size_t n = err4(e, "198.51.100.1", "10.0.0.1", 3, 3, orig, 23);
	struct nlb_ip_packet p = parse_ok(e, n);
	cr_expect(p.icmp_error && !p.has_ports && p.flow.proto == TCP);
	struct nlb_tuple ke = key_of(e, n, NLB_GW_STICKY_3TUPLE), ko = key_of(orig, no, NLB_GW_STICKY_3TUPLE);
	expect_key_eq(ke, ko);
	n = err4(e, "198.51.100.1", "10.0.0.1", 3, 3, orig, 24);	/* exactly the ports */
	p = parse_ok(e, n);
	cr_expect(p.icmp_error && p.has_ports && ntohs(p.flow.dport) == 443);

	n = err4(e, "198.51.100.1", "10.0.0.1", 3, 3, orig, 19);	/* IP header cut */
	p = parse_ok(e, n);
	cr_expect(!p.icmp_error && !p.has_ports);
	struct nlb_tuple own = flow("198.51.100.1", 0, "10.0.0.1", 0, ICMP);
	expect_key_eq(p.flow, own, "the error's own flow");
	n = err4(e, "198.51.100.1", "10.0.0.1", 3, 3, orig, 0);		/* nothing quoted */
	p = parse_ok(e, n);
	cr_expect(!p.icmp_error);
	expect_key_eq(p.flow, own);
	/* a quoted IPv6 packet in an ICMPv4 error cannot be read */
	uint8_t o6[128];
	size_t n6 = pkt6(o6, "2001:db8::1", "2001:db8::2", TCP, 1, 2, 0);
	n = err4(e, "198.51.100.1", "10.0.0.1", 3, 3, o6, n6);
	cr_expect(!parse_ok(e, n).icmp_error);
	/* a quoted header with bad IHL cannot either */
	memcpy(orig, "\x44", 1);
	n = err4(e, "198.51.100.1", "10.0.0.1", 3, 3, orig, 28);
	cr_expect(!parse_ok(e, n).icmp_error);

	/* IPv6: cut in the upper-layer header, in the IPv6 header, and in an
	 * extension header */
	no = pkt6(orig, "2001:db8::1", "2001:db8::2", UDP, 40000, 53, 100);
	n = err6(e, "2001:db8:ff::1", "2001:db8::1", 1, 4, orig, 42);
	p = parse_ok(e, n);
	cr_expect(p.icmp_error && !p.has_ports && p.flow.proto == UDP);
	ke = key_of(e, n, NLB_GW_STICKY_3TUPLE);
	ko = key_of(orig, no, NLB_GW_STICKY_3TUPLE);
	expect_key_eq(ke, ko);
	n = err6(e, "2001:db8:ff::1", "2001:db8::1", 1, 4, orig, 39);
	p = parse_ok(e, n);
	cr_expect(!p.icmp_error && p.flow.proto == ICMP6);
	no = frag6(orig, 0, false, true, 0);
	n = err6(e, "2001:db8:ff::1", "2001:db8::1", 1, 4, orig, 44);	/* in the dest opts */
	p = parse_ok(e, n);
	cr_expect(!p.icmp_error && p.flow.proto == ICMP6);
	own = flow("2001:db8:ff::1", 0, "2001:db8::1", 0, ICMP6);
	expect_key_eq(p.flow, own);
}

/* Bytes after the header's length are the link's padding. */
T_UNIT(ip_packet, trailing_padding)
{
	uint8_t b[256];
	size_t n = pkt4(b, "10.0.0.1", "192.0.2.7", TCP, 1, 2, 0, 0);
	memset(b + n, 0xcc, 26);
	struct nlb_ip_packet p = parse_ok(b, n + 26);
	cr_expect_eq(p.length, n);
	n = pkt6(b, "2001:db8::1", "2001:db8::2", UDP, 1, 2, 0);
	memset(b + n, 0xcc, 30);
	p = parse_ok(b, n + 30);
	cr_expect_eq(p.length, n);
	cr_expect(p.has_ports);
}

/* Each case is a well-formed packet with one thing broken. */
T_UNIT(ip_packet, malformed_packets)
{
	uint8_t b[256], ok4[128], ok6[128];
	size_t n4 = pkt4(ok4, "10.0.0.1", "192.0.2.7", TCP, 1, 2, 0, 0);
	size_t n6 = pkt6(ok6, "2001:db8::1", "2001:db8::2", UDP, 1, 2, 0);
	struct nlb_ip_packet p;
	cr_assert_eq(nlb_ip_packet_parse(ok4, n4, &p), 0);
	cr_assert_eq(nlb_ip_packet_parse(ok6, n6, &p), 0);
	enum { V4, V6 };
	static const struct {
		const char *what;
		int base;
		int at, val;		/* b[at] = val, unless at < 0 */
		int len;		/* the length given: the packet's plus this */
	} cases[] = {
		{ "empty", V4, -1, 0, -40 },
		{ "version 0", V4, 0, 0x05, 0 },
		{ "version 5", V4, 0, 0x55, 0 },
		{ "version 6 with an IPv4 header", V4, 0, 0x65, 0 },
		{ "version 7", V6, 0, 0x70, 0 },
		{ "IPv4 shorter than 20", V4, -1, 0, -21 },
		{ "IHL 4", V4, 0, 0x44, 0 },
		{ "IHL 0", V4, 0, 0x40, 0 },
		{ "IHL past the end", V4, 0, 0x4f, 0 },
		{ "total length past len", V4, -1, 0, -1 },
		{ "total length below IHL", V4, 3, 19, 0 },
		{ "TCP header of 3 bytes", V4, 3, 23, 0 },
		{ "first fragment with 2 bytes of TCP", V4, 3, 22, 0 },
		{ "IPv6 shorter than 40", V6, -1, 0, -9 },
		{ "payload length past len", V6, -1, 0, -1 },
		{ "jumbogram (payload length 0)", V6, 5, 0, 0 },
		{ "UDP header of 3 bytes", V6, 5, 3, 0 },
		{ "hop-by-hop past the end", V6, 6, 0, 0 },
		{ "routing header past the end", V6, 6, 43, 0 },
		{ "AH past the end", V6, 6, 51, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool v6 = cases[i].base == V6;
		size_t n = v6 ? n6 : n4;
		memcpy(b, v6 ? ok6 : ok4, n);
		if (cases[i].at >= 0)
			b[cases[i].at] = (uint8_t)cases[i].val;
		if (strstr(cases[i].what, "first fragment") != NULL)
			w16(b + 6, MF);
		size_t len = (size_t)((int)n + cases[i].len > 0 ? (int)n + cases[i].len : 0);
		memset(&p, 0x5a, sizeof(p));
		cr_expect_eq(nlb_ip_packet_parse(b, len, &p), -EINVAL, "%s", cases[i].what);
		struct nlb_ip_packet zero;
		memset(&zero, 0, sizeof(zero));
		cr_expect(memcmp(&p, &zero, sizeof(p)) == 0, "%s: out zeroed", cases[i].what);
	}
	/* an extension header whose length runs past the payload */
	size_t at = put6(b, "2001:db8::1", "2001:db8::2", 60, 16);
	memset(b + at, 0, 16);
	b[at] = TCP;
	b[at + 1] = 2;		/* 24 bytes, 16 there */
	cr_expect_eq(nlb_ip_packet_parse(b, at + 16, &p), -EINVAL);
	b[at + 1] = 1;		/* 16 bytes, then TCP with nothing left */
	cr_expect_eq(nlb_ip_packet_parse(b, at + 16, &p), -EINVAL);
	b[at] = 59;
	cr_expect_eq(nlb_ip_packet_parse(b, at + 16, &p), 0);
	at = put6(b, "2001:db8::1", "2001:db8::2", 44, 4);	/* a fragment header of 4 */
	memcpy(b + at, "\x11\x00\x00\x01", 4);			/* UDP, offset 0, M */
	cr_expect_eq(nlb_ip_packet_parse(b, at + 4, &p), -EINVAL);
	b[at + 3] = 0;
	cr_expect_eq(nlb_ip_packet_parse(b, at + 4, &p), -EINVAL);
	/* 40 + 65535 bytes do not fit the 16-bit length */
	static uint8_t big[40 + 65535];
	put6(big, "2001:db8::1", "2001:db8::2", 59, 65535);
	cr_expect_eq(nlb_ip_packet_parse(big, sizeof(big), &p), -EINVAL);
	w16(big + 4, 65496);
	cr_expect_eq(nlb_ip_packet_parse(big, sizeof(big), &p), -EINVAL);
	w16(big + 4, 65495);
	cr_expect_eq(nlb_ip_packet_parse(big, sizeof(big), &p), 0);
	cr_expect_eq(p.length, 65535);
	/* payload length 0 is refused whatever follows (RFC 2675 jumbogram) */
	put6(b, "2001:db8::1", "2001:db8::2", 59, 0);
	cr_expect_eq(nlb_ip_packet_parse(b, 40, &p), -EINVAL);
	cr_expect_eq(nlb_ip_packet_parse(b, 48, &p), -EINVAL);
}

/* Every prefix of each packet, at the end of a page followed by an
 * inaccessible one: a read past the length faults in every build.  Each
 * prefix as it is (its IP length then runs past it) and with its IP
 * length cut to match, so that the extension headers and the quoted
 * packet are read up to the page's end. */
T_UNIT(ip_packet, every_prefix_at_page_end)
{
	long page = sysconf(_SC_PAGESIZE);
	uint8_t *map = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert(map != MAP_FAILED);
	cr_assert_eq(mprotect(map + page, (size_t)page, PROT_NONE), 0);
	enum { N = 8 };
	uint8_t pk[N][512], orig[256], out[1500];
	size_t n[N], l4;
	n[0] = pkt4(pk[0], "10.0.0.1", "192.0.2.7", TCP, 1, 2, 4, DF);
	n[1] = pkt6(pk[1], "2001:db8::1", "2001:db8::2", SCTP, 1, 2, 4);
	size_t no = pkt4(orig, "10.0.0.1", "192.0.2.7", UDP, 1, 2, 0, 0);
	n[2] = err4(pk[2], "198.51.100.1", "10.0.0.1", 3, 4, orig, no);
	no = frag6(orig, 0, false, true, 0);
	n[3] = err6(pk[3], "2001:db8:ff::1", "2001:db8::1", 2, 0, orig, no);
	n[4] = frag6(pk[4], 0, true, true, 8);
	n[5] = pkt6(pk[5], "2001:db8::1", "2001:db8::2", ICMP6, 0, 0, 0);
	n[6] = chain6(pk[6], &l4);
	/* an error quoting a packet with IPv4 options (IHL 6) */
	no = pkt4(orig + 4, "10.0.0.1", "192.0.2.7", UDP, 1, 2, 0, 0);
	memmove(orig, orig + 4, 20);
	memset(orig + 20, 1, 4);
	orig[0] = 0x46;
	n[7] = err4(pk[7], "198.51.100.1", "10.0.0.1", 3, 4, orig, no + 4);
	for (size_t i = 0; i < N; i++) {
		bool v6 = pk[i][0] >> 4 == 6;
		for (size_t k = 0; k <= n[i]; k++) {
			for (int fix = 0; fix < 2; fix++) {
				uint8_t *at = map + page - k;
				memcpy(at, pk[i], k);
				if (fix && v6 && k >= 40)
					w16(at + 4, (uint16_t)(k - 40));
				else if (fix && !v6 && k >= 20)
					w16(at + 2, (uint16_t)k);
				struct nlb_ip_packet p;
				int r = nlb_ip_packet_parse(at, k, &p);
				cr_expect(r == 0 || r == -EINVAL);
				r = nlb_icmp_too_big(at, k, 1280, pk[i] + 8, out, sizeof(out));
				cr_expect(r > 0 || r == -EINVAL);
			}
		}
		struct nlb_ip_packet p;
		cr_expect_eq(nlb_ip_packet_parse(map + page - n[i], n[i], &p), 0, "packet %zu", i);
	}
	munmap(map, (size_t)page * 2);
}

/* ---- nlb_icmp_too_big ---------------------------------------------- */

/* The IPv6 pseudo-header's sum (RFC 8200 8.1) for an ICMPv6 message of
 * len bytes between the addresses of the IPv6 header at ip. */
static uint64_t pseudo6(const uint8_t *ip, size_t len)
{
	uint64_t acc = 0;
	for (size_t i = 8; i < 40; i += 2)
		acc += r16(ip + i);
	return acc + len + ICMP6;
}

/* The IPv4 answer's every field, both checksums recomputed with the
 * checksum field taken as 0 and summed whole (0xffff when correct). */
static void check_answer4(const uint8_t *o, int r, const uint8_t *pkt, size_t quote,
			  const char *src, uint16_t mtu)
{
	cr_assert_eq(r, (int)(28 + quote));
	cr_expect_eq(o[0], 0x45);
	cr_expect_eq(o[1], 0);
	cr_expect_eq(r16(o + 2), r);
	cr_expect_eq(r16(o + 6) & 0xbfff, 0, "no fragment offset, MF");
	cr_expect_eq(r16(o + 6) & 0x4000, 0, "DF clear");
	cr_expect_eq(o[8], 64);
	cr_expect_eq(o[9], ICMP);
	uint8_t a[16];
	addr(src, a);
	cr_expect(memcmp(o + 12, a + 12, 4) == 0, "from the gateway");
	cr_expect(memcmp(o + 16, pkt + 12, 4) == 0, "to the packet's source");
	uint8_t h[20];
	memcpy(h, o, 20);
	h[10] = h[11] = 0;
	cr_expect_eq(r16(o + 10), (uint16_t)~sum(h, 20, 0), "IPv4 header checksum");
	cr_expect_eq(sum(o, 20, 0), 0xffff);
	const uint8_t *icmp = o + 20;
	cr_expect_eq(icmp[0], 3);
	cr_expect_eq(icmp[1], 4);
	cr_expect_eq(r16(icmp + 4), 0, "unused");
	cr_expect_eq(r16(icmp + 6), mtu, "next-hop MTU");
	cr_expect(memcmp(icmp + 8, pkt, quote) == 0, "the packet quoted");
	uint8_t m[600];
	memcpy(m, icmp, 8 + quote);
	m[2] = m[3] = 0;
	cr_expect_eq(r16(icmp + 2), (uint16_t)~sum(m, 8 + quote, 0), "ICMP checksum");
	cr_expect_eq(sum(icmp, 8 + quote, 0), 0xffff);
}

static void check_answer6(const uint8_t *o, int r, const uint8_t *pkt, size_t quote,
			  const char *src, uint32_t mtu)
{
	cr_assert_eq(r, (int)(48 + quote));
	cr_expect_eq(o[0], 0x60);
	cr_expect(o[1] == 0 && o[2] == 0 && o[3] == 0, "traffic class and flow label 0");
	cr_expect_eq(r16(o + 4), r - 40);
	cr_expect_eq(o[6], ICMP6);
	cr_expect_eq(o[7], 64);
	uint8_t a[16];
	addr(src, a);
	cr_expect(memcmp(o + 8, a, 16) == 0, "from the gateway");
	cr_expect(memcmp(o + 24, pkt + 8, 16) == 0, "to the packet's source");
	const uint8_t *icmp = o + 40;
	cr_expect_eq(icmp[0], 2);
	cr_expect_eq(icmp[1], 0);
	cr_expect_eq((uint32_t)r16(icmp + 4) << 16 | r16(icmp + 6), mtu, "MTU");
	cr_expect(memcmp(icmp + 8, pkt, quote) == 0, "the packet quoted");
	static uint8_t m[1280];
	memcpy(m, icmp, 8 + quote);
	m[2] = m[3] = 0;
	size_t len = 8 + quote;
	cr_expect_eq(r16(icmp + 2), (uint16_t)~sum(m, len, pseudo6(o, len)), "ICMPv6 checksum");
	cr_expect_eq(sum(icmp, len, pseudo6(o, len)), 0xffff);
}

T_UNIT(ip_packet, too_big_ipv4)
{
	uint8_t src[16], b[1600], o[1600];
	addr("192.0.2.254", src);
	size_t n = pkt4(b, "10.0.0.1", "192.0.2.7", TCP, 40000, 443, 100, DF);
	int r = nlb_icmp_too_big(b, n, 1400, src, o, sizeof(o));
	check_answer4(o, r, b, n, "192.0.2.254", 1400);
	/* padding after the packet is not quoted */
	memset(b + n, 0xcc, 10);
	r = nlb_icmp_too_big(b, n + 10, 1400, src, o, sizeof(o));
	check_answer4(o, r, b, n, "192.0.2.254", 1400);
	/* 576 bytes at most: the header and the first 548 bytes */
	n = pkt4(b, "10.0.0.1", "192.0.2.7", UDP, 40000, 443, 1472, DF);
	cr_assert_eq(n, 1500);
	r = nlb_icmp_too_big(b, n, 1280, src, o, sizeof(o));
	cr_expect_eq(r, 576);
	check_answer4(o, r, b, 548, "192.0.2.254", 1280);
	n = pkt4(b, "10.0.0.1", "192.0.2.7", UDP, 40000, 443, 520, DF);	/* 548: all of it */
	r = nlb_icmp_too_big(b, n, 0xffff, src, o, sizeof(o));
	check_answer4(o, r, b, 548, "192.0.2.254", 0xffff);
	n = pkt4(b, "10.0.0.1", "192.0.2.7", UDP, 40000, 443, 521, DF);	/* 549: one byte left out */
	r = nlb_icmp_too_big(b, n, 0xffff, src, o, sizeof(o));
	check_answer4(o, r, b, 548, "192.0.2.254", 0xffff);
	/* an ICMP echo and a first fragment are answered */
	n = pkt4(b, "10.0.0.1", "192.0.2.7", ICMP, 0, 0, 56, DF);
	r = nlb_icmp_too_big(b, n, 576, src, o, sizeof(o));
	check_answer4(o, r, b, n, "192.0.2.254", 576);
	n = pkt4(b, "10.0.0.1", "192.0.2.7", TCP, 40000, 443, 100, DF | MF);
	r = nlb_icmp_too_big(b, n, 576, src, o, sizeof(o));
	check_answer4(o, r, b, n, "192.0.2.254", 576);
	/* the answer is an error keyed as the packet's flow */
	n = pkt4(b, "10.0.0.1", "192.0.2.7", SCTP, 40000, 443, 1000, DF);
	r = nlb_icmp_too_big(b, n, 1400, src, o, sizeof(o));
	struct nlb_ip_packet p = parse_ok(o, (size_t)r);
	cr_expect(p.icmp_error && p.has_ports && p.l4_proto == ICMP);
	struct nlb_tuple ka = key_of(o, (size_t)r, NLB_GW_STICKY_5TUPLE),
			 kp = key_of(b, n, NLB_GW_STICKY_5TUPLE);
	expect_key_eq(ka, kp);
}

T_UNIT(ip_packet, too_big_ipv6)
{
	uint8_t src[16], b[1600], o[1600];
	addr("2001:db8:ff::1", src);
	size_t n = pkt6(b, "2001:db8::1", "2001:db8::2", TCP, 40000, 443, 100);
	int r = nlb_icmp_too_big(b, n, 1280, src, o, sizeof(o));
	check_answer6(o, r, b, n, "2001:db8:ff::1", 1280);
	memset(b + n, 0xcc, 10);
	r = nlb_icmp_too_big(b, n + 10, 1280, src, o, sizeof(o));
	check_answer6(o, r, b, n, "2001:db8:ff::1", 1280);
	/* 1280 bytes at most: the first 1232 bytes quoted */
	n = pkt6(b, "2001:db8::1", "2001:db8::2", UDP, 40000, 443, 1452);
	cr_assert_eq(n, 1500);
	r = nlb_icmp_too_big(b, n, 0x12345678, src, o, sizeof(o));
	cr_expect_eq(r, 1280);
	check_answer6(o, r, b, 1232, "2001:db8:ff::1", 0x12345678);
	n = pkt6(b, "2001:db8::1", "2001:db8::2", UDP, 40000, 443, 1232 - 48);	/* all of it */
	r = nlb_icmp_too_big(b, n, 1280, src, o, sizeof(o));
	check_answer6(o, r, b, 1232, "2001:db8:ff::1", 1280);
	n = pkt6(b, "2001:db8::1", "2001:db8::2", UDP, 40000, 443, 1233 - 48);	/* one byte left out */
	r = nlb_icmp_too_big(b, n, 1280, src, o, sizeof(o));
	check_answer6(o, r, b, 1232, "2001:db8:ff::1", 1280);
	/* an echo, an informational ICMPv6 message, a fragment: answered */
	n = pkt6(b, "2001:db8::1", "2001:db8::2", ICMP6, 0, 0, 56);
	r = nlb_icmp_too_big(b, n, 1280, src, o, sizeof(o));
	check_answer6(o, r, b, n, "2001:db8:ff::1", 1280);
	n = frag6(b, 0, true, true, 800);
	r = nlb_icmp_too_big(b, n, 1280, src, o, sizeof(o));
	check_answer6(o, r, b, n, "2001:db8:ff::1", 1280);
	n = frag6(b, 100, true, false, 800);
	r = nlb_icmp_too_big(b, n, 1280, src, o, sizeof(o));
	check_answer6(o, r, b, n, "2001:db8:ff::1", 1280);
	/* the answer is an error keyed as the packet's flow */
	n = pkt6(b, "2001:db8::1", "2001:db8::2", UDP, 40000, 443, 1400);
	r = nlb_icmp_too_big(b, n, 1280, src, o, sizeof(o));
	struct nlb_ip_packet p = parse_ok(o, (size_t)r);
	cr_expect(p.icmp_error && p.has_ports && p.l4_proto == ICMP6);
	struct nlb_tuple ka = key_of(o, (size_t)r, NLB_GW_STICKY_5TUPLE),
			 kp = key_of(b, n, NLB_GW_STICKY_5TUPLE);
	expect_key_eq(ka, kp);
}

T_UNIT(ip_packet, too_big_refusals)
{
	uint8_t src4[16], src6[16], b[512], orig[128], o[1600];
	addr("192.0.2.254", src4);
	addr("2001:db8:ff::1", src6);
	size_t n = pkt4(b, "10.0.0.1", "192.0.2.7", TCP, 1, 2, 0, 0);
	cr_expect_eq(nlb_icmp_too_big(b, n, 1400, src4, o, sizeof(o)), -EINVAL, "DF not set");
	n = pkt4(b, "10.0.0.1", "192.0.2.7", TCP, 1, 2, 0, DF);
	cr_expect_gt(nlb_icmp_too_big(b, n, 1400, src4, o, sizeof(o)), 0);
	cr_expect_eq(nlb_icmp_too_big(b, n, 0x10000, src4, o, sizeof(o)), -EINVAL,
		     "an MTU the 16-bit field cannot hold");
	n = put4(b, "10.0.0.1", "192.0.2.7", TCP, 40, DF | MF | 8) + 20;
	cr_expect_eq(nlb_icmp_too_big(b, n, 1400, src4, o, sizeof(o)), -EINVAL, "later fragment");
	n = put4(b, "10.0.0.1", "192.0.2.7", TCP, 40, DF | 8) + 20;
	cr_expect_eq(nlb_icmp_too_big(b, n, 1400, src4, o, sizeof(o)), -EINVAL, "last fragment");
	static const char *const bad_src4[] = {
		"0.0.0.0", "224.0.0.1", "239.255.255.255", "240.0.0.1", "255.255.255.255",
	};
	for (size_t i = 0; i < sizeof(bad_src4) / sizeof(bad_src4[0]); i++) {
		n = pkt4(b, bad_src4[i], "192.0.2.7", TCP, 1, 2, 0, DF);
		cr_expect_eq(nlb_icmp_too_big(b, n, 1400, src4, o, sizeof(o)), -EINVAL,
			     "source %s", bad_src4[i]);
	}
	static const char *const bad_dst4[] = { "224.0.0.251", "239.1.2.3", "255.255.255.255" };
	for (size_t i = 0; i < sizeof(bad_dst4) / sizeof(bad_dst4[0]); i++) {
		n = pkt4(b, "10.0.0.1", bad_dst4[i], UDP, 1, 2, 0, DF);
		cr_expect_eq(nlb_icmp_too_big(b, n, 1400, src4, o, sizeof(o)), -EINVAL,
			     "destination %s", bad_dst4[i]);
	}
	/* ICMP errors, even with a quote nlb cannot read */
	static const uint8_t types4[] = { 3, 4, 5, 11, 12 };
	size_t no = pkt4(orig, "192.0.2.7", "10.0.0.1", TCP, 1, 2, 0, DF);
	for (size_t i = 0; i < sizeof(types4); i++) {
		n = err4(b, "10.0.0.1", "192.0.2.7", types4[i], 0, orig, no);
		w16(b + 6, DF);
		cr_expect_eq(nlb_icmp_too_big(b, n, 1400, src4, o, sizeof(o)), -EINVAL,
			     "ICMP type %u", types4[i]);
		n = err4(b, "10.0.0.1", "192.0.2.7", types4[i], 0, orig, 4);
		w16(b + 6, DF);
		cr_expect_eq(nlb_icmp_too_big(b, n, 1400, src4, o, sizeof(o)), -EINVAL,
			     "ICMP type %u, short quote", types4[i]);
	}
	/* not IPv4 or IPv6, or malformed */
	n = pkt4(b, "10.0.0.1", "192.0.2.7", TCP, 1, 2, 0, DF);
	b[0] = 0x55;
	cr_expect_eq(nlb_icmp_too_big(b, n, 1400, src4, o, sizeof(o)), -EINVAL, "version 5");
	b[0] = 0x45;
	cr_expect_eq(nlb_icmp_too_big(b, n - 1, 1400, src4, o, sizeof(o)), -EINVAL, "truncated");
	cr_expect_eq(nlb_icmp_too_big(b, 0, 1400, src4, o, sizeof(o)), -EINVAL, "empty");

	n = pkt6(b, "2001:db8::1", "2001:db8::2", UDP, 1, 2, 0);
	cr_expect_gt(nlb_icmp_too_big(b, n, 1280, src6, o, sizeof(o)), 0);
	static const char *const bad6[][2] = {
		{ "::", "2001:db8::2" }, { "ff02::1", "2001:db8::2" },
		{ "ff0e::1234", "2001:db8::2" }, { "2001:db8::1", "ff02::1" },
		{ "2001:db8::1", "ff05::1:3" },
	};
	for (size_t i = 0; i < sizeof(bad6) / sizeof(bad6[0]); i++) {
		n = pkt6(b, bad6[i][0], bad6[i][1], UDP, 1, 2, 0);
		cr_expect_eq(nlb_icmp_too_big(b, n, 1280, src6, o, sizeof(o)), -EINVAL,
			     "%s -> %s", bad6[i][0], bad6[i][1]);
	}
	no = pkt6(orig, "2001:db8::2", "2001:db8::1", TCP, 1, 2, 0);
	for (uint8_t type = 0; type < 128; type += 9) {
		n = err6(b, "2001:db8::1", "2001:db8::2", type, 0, orig, no);
		cr_expect_eq(nlb_icmp_too_big(b, n, 1280, src6, o, sizeof(o)), -EINVAL,
			     "ICMPv6 type %u", type);
	}
	for (uint8_t type = 1; type <= 4; type++) {
		n = err6(b, "2001:db8::1", "2001:db8::2", type, 0, orig, 0);
		cr_expect_eq(nlb_icmp_too_big(b, n, 1280, src6, o, sizeof(o)), -EINVAL,
			     "ICMPv6 type %u with nothing quoted", type);
	}
	/* an ICMPv6 error in a first fragment, past a destination options
	 * header that follows the fragment header */
	size_t at = put6(b, "2001:db8::1", "2001:db8::2", 44, 0);
	memset(b + at, 0, 16);
	b[at] = 60;
	w16(b + at + 2, 1);		/* offset 0, M */
	b[at + 8] = ICMP6;
	at += 16;
	at += put_icmp(b + at, 1, 0, 0);
	memset(b + at, 0, 40);
	at += 40;
	w16(b + 4, (uint16_t)(at - 40));
	cr_expect_eq(nlb_icmp_too_big(b, at, 1280, src6, o, sizeof(o)), -EINVAL,
		     "ICMPv6 error behind a fragment header");
	b[56] = 128;
	cr_expect_gt(nlb_icmp_too_big(b, at, 1280, src6, o, sizeof(o)), 0, "an echo there is answered");
	n = pkt6(b, "2001:db8::1", "2001:db8::2", UDP, 1, 2, 0);
	w16(b + 4, 0);
	cr_expect_eq(nlb_icmp_too_big(b, n, 1280, src6, o, sizeof(o)), -EINVAL, "jumbogram");
}

T_UNIT(ip_packet, too_big_no_space)
{
	uint8_t src4[16], src6[16], b[1600], o[1600];
	addr("192.0.2.254", src4);
	addr("2001:db8:ff::1", src6);
	size_t n4 = pkt4(b, "10.0.0.1", "192.0.2.7", TCP, 1, 2, 100, DF);
	cr_expect_eq(nlb_icmp_too_big(b, n4, 1400, src4, o, 28 + n4 - 1), -ENOSPC);
	cr_expect_eq(nlb_icmp_too_big(b, n4, 1400, src4, o, 0), -ENOSPC);
	cr_expect_eq(nlb_icmp_too_big(b, n4, 1400, src4, o, 28 + n4), (int)(28 + n4));
	n4 = pkt4(b, "10.0.0.1", "192.0.2.7", TCP, 1, 2, 1400, DF);
	cr_expect_eq(nlb_icmp_too_big(b, n4, 1400, src4, o, 575), -ENOSPC);
	cr_expect_eq(nlb_icmp_too_big(b, n4, 1400, src4, o, 576), 576);
	/* a refusal comes first */
	w16(b + 6, 0);
	cr_expect_eq(nlb_icmp_too_big(b, n4, 1400, src4, o, 0), -EINVAL);

	size_t n6 = pkt6(b, "2001:db8::1", "2001:db8::2", UDP, 1, 2, 100);
	cr_expect_eq(nlb_icmp_too_big(b, n6, 1280, src6, o, 48 + n6 - 1), -ENOSPC);
	cr_expect_eq(nlb_icmp_too_big(b, n6, 1280, src6, o, 48 + n6), (int)(48 + n6));
	n6 = pkt6(b, "2001:db8::1", "2001:db8::2", UDP, 1, 2, 1400);
	cr_expect_eq(nlb_icmp_too_big(b, n6, 1280, src6, o, 1279), -ENOSPC);
	cr_expect_eq(nlb_icmp_too_big(b, n6, 1280, src6, o, 1280), 1280);
}
