/* IP packets for the gateway (see ip_packet.h): owns reading an IPv4 or
 * IPv6 packet's flow (its addresses, protocol and ports, or those of the
 * packet an ICMP error quotes), the symmetric flow key, and the ICMP
 * "fragmentation needed" / ICMPv6 "packet too big" answer.  Pure: reads
 * only inside the given bytes, allocates nothing. */
#include "ip_packet.h"

#include <errno.h>
#include <string.h>

enum {
	IPV4_HLEN = 20,
	IPV6_HLEN = 40,
	ICMP_HLEN = 8,		/* type, code, checksum, 4 more: then the quote */
	PORTS_LEN = 4,		/* source and destination port lead TCP, UDP, SCTP */
	/* RFC 1812 4.3.2.3: an IPv4 ICMP error holds at most 576 bytes. */
	ICMP4_MAX = 576,
	/* RFC 4443 2.4 (c): an ICMPv6 error must not exceed the minimum MTU. */
	ICMP6_MAX = 1280,
	ANSWER_TTL = 64,
};

enum {
	P_HOPOPTS = 0,
	P_ICMP = 1,
	P_TCP = 6,
	P_UDP = 17,
	P_ROUTING = 43,
	P_FRAGMENT = 44,
	P_ESP = 50,
	P_AH = 51,
	P_ICMPV6 = 58,
	P_NONE = 59,
	P_DSTOPTS = 60,
	P_SCTP = 132,
	P_UDPLITE = 136,
};

#define IPV4_DF 0x4000
#define IPV4_MF 0x2000
#define IPV4_OFFSET 0x1fff

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void wr32(uint8_t *p, uint32_t v)
{
	wr16(p, (uint16_t)(v >> 16));
	wr16(p + 2, (uint16_t)v);
}

/* IPv4 addresses as struct nlb_tuple holds them: ::ffff:a.b.c.d. */
static void map4(uint8_t out[16], const uint8_t *a)
{
	memset(out, 0, 10);
	out[10] = 0xff;
	out[11] = 0xff;
	memcpy(out + 12, a, 4);
}

static bool proto_has_ports(uint8_t proto)
{
	return proto == P_TCP || proto == P_UDP || proto == P_SCTP || proto == P_UDPLITE;
}

/* The network layer as far as the flow needs it. */
struct l3 {
	uint8_t proto;		/* upper-layer protocol (for a fragment: as its header names it) */
	bool fragment;		/* part of a fragmented datagram */
	bool first;		/* not a later fragment: what follows is an upper-layer header */
	size_t l4;		/* where the upper-layer header (or a fragment's data) starts */
	size_t end;		/* where the packet ends */
};

/* Walks the IPv6 extension headers from nh at off up to end, into h.
 * A fragment header ends the walk when the packet is a fragment: the
 * next header it names is the only protocol every fragment carries, so
 * all of them are keyed alike (RFC 8200 4.5); an atomic fragment (offset
 * 0, M 0) is a whole packet and the walk goes on.  ESP (encrypted beyond
 * it) and No Next Header end it too.  -EINVAL when a header runs past
 * end.  Every header is at least 8 bytes, so the walk ends. */
static int walk6(const uint8_t *p, size_t end, uint8_t nh, size_t off, struct l3 *h)
{
	h->fragment = false;
	h->first = true;
	for (;;) {
		size_t hl;
		switch (nh) {
		case P_HOPOPTS:
		case P_ROUTING:
		case P_DSTOPTS:
			if (end - off < 2)
				return -EINVAL;
			hl = ((size_t)p[off + 1] + 1) * 8;
			break;
		case P_AH:
			/* RFC 4302 2.2: length in 4-byte words, minus 2. */
			if (end - off < 2)
				return -EINVAL;
			hl = ((size_t)p[off + 1] + 2) * 4;
			break;
		case P_FRAGMENT: {
			hl = 8;
			if (end - off < hl)
				return -EINVAL;
			uint16_t fo = rd16(p + off + 2);	/* offset << 3 | res | M */
			if ((fo & 0xfff9) != 0) {
				h->fragment = true;
				h->first = (fo >> 3) == 0;
				h->proto = p[off];
				h->l4 = off + hl;
				h->end = end;
				return 0;
			}
			break;
		}
		default:	/* ESP, No Next Header, or an upper-layer protocol */
			h->proto = nh;
			h->l4 = off;
			h->end = end;
			return 0;
		}
		if (hl > end - off)
			return -EINVAL;
		nh = p[off];
		off += hl;
	}
}

/* The IPv4 header at p (len bytes there).  A quoted header (inside an
 * ICMP error) is usually cut short, so its total length is not held
 * against what is there; the packet is then what is present. */
static int read4(const uint8_t *p, size_t len, bool quoted, struct l3 *h,
		 struct nlb_tuple *flow)
{
	if (len < IPV4_HLEN || p[0] >> 4 != 4)
		return -EINVAL;
	size_t ihl = (size_t)(p[0] & 0x0f) * 4;
	if (ihl < IPV4_HLEN || ihl > len)
		return -EINVAL;
	size_t total = rd16(p + 2);
	if (!quoted && (total < ihl || total > len))
		return -EINVAL;
	uint16_t frag = rd16(p + 6);
	h->fragment = (frag & (IPV4_MF | IPV4_OFFSET)) != 0;
	h->first = (frag & IPV4_OFFSET) == 0;
	h->proto = p[9];
	h->l4 = ihl;
	h->end = quoted ? len : total;
	map4(flow->src, p + 12);
	map4(flow->dst, p + 16);
	return 0;
}

/* The IPv6 header at p and its extension headers; quoted as for read4. */
static int read6(const uint8_t *p, size_t len, bool quoted, struct l3 *h,
		 struct nlb_tuple *flow)
{
	if (len < IPV6_HLEN || p[0] >> 4 != 6)
		return -EINVAL;
	size_t end = len;
	if (!quoted) {
		size_t plen = rd16(p + 4);
		/* 0 is a jumbogram's (RFC 2675), whose length is in a
		 * hop-by-hop option; no TUN MTU nlb uses comes near 64 KiB,
		 * and a packet with nothing after its header has no flow. */
		if (plen == 0 || plen > len - IPV6_HLEN)
			return -EINVAL;
		end = IPV6_HLEN + plen;
	}
	memcpy(flow->src, p + 8, 16);
	memcpy(flow->dst, p + 24, 16);
	return walk6(p, end, p[6], IPV6_HLEN, h);
}

static int read_ip(const uint8_t *p, size_t len, int version, bool quoted, struct l3 *h,
		   struct nlb_tuple *flow)
{
	return version == 4 ? read4(p, len, quoted, h, flow) : read6(p, len, quoted, h, flow);
}

static bool icmp_type_is_error(int version, uint8_t type)
{
	if (version == 4)	/* unreachable, source quench, redirect, time exceeded, parameter */
		return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
	return type >= 1 && type <= 4;	/* RFC 4443 2.1: errors are 0..127; 1..4 quote */
}

/* The flow of the packet an ICMP error quotes, q (n bytes), of the
 * error's own IP version.  False when its IP header (with the IPv6
 * extension headers) is not all there: the error then keeps its own
 * flow.  Ports when the first 4 bytes of the quoted upper-layer header
 * are there and the quoted packet was not a fragment, whose flow has
 * none. */
static bool read_quoted(const uint8_t *q, size_t n, int version, struct nlb_ip_packet *out)
{
	struct l3 h;
	struct nlb_tuple flow;
	memset(&flow, 0, sizeof(flow));
	if (read_ip(q, n, version, true, &h, &flow) < 0)
		return false;
	flow.proto = h.proto;
	out->has_ports = !h.fragment && proto_has_ports(h.proto) && h.end - h.l4 >= PORTS_LEN;
	if (out->has_ports) {
		memcpy(&flow.sport, q + h.l4, 2);
		memcpy(&flow.dport, q + h.l4 + 2, 2);
	}
	out->flow = flow;
	return true;
}

/* nlb_ip_packet_parse, also giving the network layer it read. */
static int parse(const uint8_t *p, size_t len, struct nlb_ip_packet *out, struct l3 *h)
{
	memset(out, 0, sizeof(*out));
	if (len < 1)
		return -EINVAL;
	int version = p[0] >> 4;
	if (version != 4 && version != 6)
		return -EINVAL;
	if (read_ip(p, len, version, false, h, &out->flow) < 0)
		return -EINVAL;
	/* length is 16 bits: an IPv6 packet of 40 + 65535 bytes does not
	 * fit, nor does it fit a TUN device (its MTU is at most 65535). */
	if (h->end > UINT16_MAX)
		return -EINVAL;
	size_t l4len = h->end - h->l4;
	/* A first fragment's ports are not used, but one cut before them
	 * is the tiny-fragment trick (RFC 1858): refused as well. */
	if (proto_has_ports(h->proto) && h->first && l4len < PORTS_LEN)
		return -EINVAL;
	out->version = (uint8_t)version;
	out->l4_proto = h->proto;
	out->fragment = h->fragment;
	out->length = (uint16_t)h->end;
	out->l4_offset = (uint16_t)h->l4;
	out->flow.proto = h->proto;
	if (proto_has_ports(h->proto) && !h->fragment) {
		out->has_ports = true;
		memcpy(&out->flow.sport, p + h->l4, 2);
		memcpy(&out->flow.dport, p + h->l4 + 2, 2);
		return 0;
	}
	uint8_t icmp = version == 4 ? P_ICMP : P_ICMPV6;
	if (h->proto == icmp && !h->fragment && l4len >= ICMP_HLEN &&
	    icmp_type_is_error(version, p[h->l4]))
		out->icmp_error = read_quoted(p + h->l4 + ICMP_HLEN, l4len - ICMP_HLEN, version, out);
	return 0;
}

int nlb_ip_packet_parse(const uint8_t *p, size_t len, struct nlb_ip_packet *out)
{
	struct l3 h;
	int err = parse(p, len, out, &h);
	if (err < 0)
		memset(out, 0, sizeof(*out));
	return err;
}

void nlb_ip_flow_key(const struct nlb_ip_packet *pkt, enum nlb_gw_stickiness s,
		     struct nlb_tuple *key)
{
	memset(key, 0, sizeof(*key));
	const struct nlb_tuple *f = &pkt->flow;
	uint16_t sport = f->sport, dport = f->dport;
	if (s != NLB_GW_STICKY_5TUPLE || pkt->fragment || !pkt->has_ports)
		sport = dport = 0;
	/* Lower side first; ports compared as the bytes on the wire. */
	int c = memcmp(f->src, f->dst, 16);
	if (c == 0)
		c = memcmp(&sport, &dport, 2);
	bool swap = c > 0;
	memcpy(key->src, swap ? f->dst : f->src, 16);
	memcpy(key->dst, swap ? f->src : f->dst, 16);
	key->sport = swap ? dport : sport;
	key->dport = swap ? sport : dport;
	key->proto = s == NLB_GW_STICKY_2TUPLE ? 0 : f->proto;
}

/* The Internet checksum (RFC 1071): a 32-bit sum of big-endian 16-bit
 * words, folded and complemented by csum_fold.  Inputs here are at most
 * 1280 bytes, far from overflowing 32 bits. */
static uint32_t csum_add(uint32_t acc, const uint8_t *p, size_t n)
{
	for (; n >= 2; p += 2, n -= 2)
		acc += rd16(p);
	if (n)
		acc += (uint32_t)p[0] << 8;
	return acc;
}

static uint16_t csum_fold(uint32_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)~acc;
}

/* Only a packet that asked not to be fragmented (DF) is answered; the
 * others are the fragmenter's.  RFC 1122 3.2.2 and RFC 1812 4.3.2.7: no
 * ICMP error about an ICMP error, about a fragment other than the first,
 * about a datagram whose source is not one host (0.0.0.0, multicast,
 * class E and limited broadcast, which is in class E), nor about one sent
 * to multicast or limited broadcast. */
static int too_big4(const uint8_t *pkt, const struct l3 *h, uint32_t mtu,
		    const uint8_t src[16], uint8_t *out, size_t cap)
{
	uint16_t frag = rd16(pkt + 6);
	if (!(frag & IPV4_DF) || (frag & IPV4_OFFSET))
		return -EINVAL;
	/* even one whose quote nlb_ip_packet_parse could not read */
	if (h->proto == P_ICMP && h->end > h->l4 && icmp_type_is_error(4, pkt[h->l4]))
		return -EINVAL;
	const uint8_t *s = pkt + 12, *d = pkt + 16;
	if ((s[0] | s[1] | s[2] | s[3]) == 0 || s[0] >= 224)
		return -EINVAL;
	if ((d[0] & 0xf0) == 224 || (d[0] & d[1] & d[2] & d[3]) == 0xff)
		return -EINVAL;
	if (mtu > 0xffff)	/* RFC 1191: the next-hop MTU is 16 bits */
		return -EINVAL;
	size_t quote = h->end;
	if (quote > ICMP4_MAX - IPV4_HLEN - ICMP_HLEN)
		quote = ICMP4_MAX - IPV4_HLEN - ICMP_HLEN;
	size_t total = IPV4_HLEN + ICMP_HLEN + quote;
	if (cap < total)
		return -ENOSPC;
	memset(out, 0, IPV4_HLEN + ICMP_HLEN);
	out[0] = 0x45;
	wr16(out + 2, (uint16_t)total);
	out[8] = ANSWER_TTL;
	out[9] = P_ICMP;
	memcpy(out + 12, src + 12, 4);
	memcpy(out + 16, s, 4);
	wr16(out + 10, csum_fold(csum_add(0, out, IPV4_HLEN)));
	uint8_t *icmp = out + IPV4_HLEN;
	icmp[0] = 3;		/* destination unreachable */
	icmp[1] = 4;		/* fragmentation needed and DF set */
	wr16(icmp + 6, (uint16_t)mtu);	/* RFC 1191: low half of the unused word */
	memcpy(icmp + ICMP_HLEN, pkt, quote);
	wr16(icmp + 2, csum_fold(csum_add(0, icmp, ICMP_HLEN + quote)));
	return (int)total;
}

/* RFC 4443 2.4 (e): no error about an ICMPv6 error, nor about a packet
 * from an address that is not one host (::, multicast).  2.4 (e.2) allows
 * Packet Too Big to a multicast destination (for path MTU discovery of
 * multicast), but the gateway forwards unicast flows only: refused.
 * Unlike IPv4, a later fragment is answered: RFC 4443 has no rule against
 * it, and its source can send smaller fragments. */
static int too_big6(const uint8_t *pkt, const struct l3 *h, uint32_t mtu,
		    const uint8_t src[16], uint8_t *out, size_t cap)
{
	struct l3 up = *h;
	/* A first fragment's upper-layer header may lie past more
	 * extension headers than the flow reading walked. */
	if (h->fragment && h->first && walk6(pkt, h->end, h->proto, h->l4, &up) < 0)
		up = *h;
	if (up.proto == P_ICMPV6 && up.first && up.end > up.l4 && pkt[up.l4] < 128)
		return -EINVAL;
	static const uint8_t zero[16];
	const uint8_t *s = pkt + 8, *d = pkt + 24;
	if (memcmp(s, zero, 16) == 0 || s[0] == 0xff || d[0] == 0xff)
		return -EINVAL;
	size_t quote = h->end;
	if (quote > ICMP6_MAX - IPV6_HLEN - ICMP_HLEN)
		quote = ICMP6_MAX - IPV6_HLEN - ICMP_HLEN;
	size_t plen = ICMP_HLEN + quote, total = IPV6_HLEN + plen;
	if (cap < total)
		return -ENOSPC;
	memset(out, 0, IPV6_HLEN + ICMP_HLEN);
	out[0] = 0x60;
	wr16(out + 4, (uint16_t)plen);
	out[6] = P_ICMPV6;
	out[7] = ANSWER_TTL;
	memcpy(out + 8, src, 16);
	memcpy(out + 24, s, 16);
	uint8_t *icmp = out + IPV6_HLEN;
	icmp[0] = 2;		/* packet too big */
	wr32(icmp + 4, mtu);
	memcpy(icmp + ICMP_HLEN, pkt, quote);
	/* RFC 8200 8.1 pseudo-header: addresses, length, next header. */
	uint32_t acc = csum_add(0, out + 8, 32);
	acc += (uint32_t)plen + P_ICMPV6;
	wr16(icmp + 2, csum_fold(csum_add(acc, icmp, plen)));
	return (int)total;
}

int nlb_icmp_too_big(const uint8_t *pkt, size_t len, uint32_t mtu, const uint8_t src[16],
		     uint8_t *out, size_t cap)
{
	/* Only what nlb_ip_packet_parse accepts is answered: anything else
	 * is not forwarded either. */
	struct nlb_ip_packet ip;
	struct l3 h;
	if (parse(pkt, len, &ip, &h) < 0)
		return -EINVAL;
	return ip.version == 4 ? too_big4(pkt, &h, mtu, src, out, cap)
			       : too_big6(pkt, &h, mtu, src, out, cap);
}
