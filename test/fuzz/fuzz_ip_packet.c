/* libFuzzer target for lib/ip_packet.c.  The first byte picks the
 * stickiness checked first and the MTU of the answer; the rest is read
 * as an IP packet (every stickiness is checked on every input: it costs
 * little, and a key bug then shows whatever the first byte).  Besides the sanitizers' checks it aborts when the reader
 * breaks its contract: a result outside {0, -EINVAL}, a refusal that
 * leaves *out set, lengths or offsets past the input, ports where there
 * are none, a flow other than the packet's own addresses and protocol
 * (unless it is an ICMP error's), a different reading of the packet cut
 * at its length (what follows is padding), a key that is not the same
 * for both directions (the parsed packet reversed, and the packet's
 * bytes reversed and read again) or that keeps what its stickiness
 * drops.  And when nlb_icmp_too_big answers, its answer must be as long
 * as the RFCs allow, carry correct checksums, quote the packet, and read
 * back as an ICMP error with the packet's flow key. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ip_packet.h"

#define CHECK(cond) do {						\
		if (!(cond)) {						\
			fprintf(stderr, "fuzz_ip_packet: %s:%d: %s\n",	\
				__FILE__, __LINE__, #cond);		\
			abort();					\
		}							\
	} while (0)

static const uint8_t src4[16] = { [10] = 0xff, [11] = 0xff, 192, 0, 2, 254 };
static const uint8_t src6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0xfe };

static uint16_t r16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* The ones'-complement sum, not complemented: 0xffff over a message
 * whose checksum is right. */
static uint16_t sum(const uint8_t *p, size_t n, uint64_t acc)
{
	for (size_t i = 0; i < n; i++)
		acc += (i & 1) ? p[i] : (uint64_t)p[i] << 8;
	while (acc > 0xffff)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)acc;
}

static bool proto_has_ports(uint8_t proto)
{
	return proto == 6 || proto == 17 || proto == 132 || proto == 136;
}

static void check_key(const struct nlb_ip_packet *pkt, enum nlb_gw_stickiness s,
		      struct nlb_tuple *k)
{
	nlb_ip_flow_key(pkt, s, k);
	CHECK(k->zero[0] == 0 && k->zero[1] == 0 && k->zero[2] == 0);
	int c = memcmp(k->src, k->dst, 16);
	CHECK(c < 0 || (c == 0 && r16((const uint8_t *)&k->sport) <= r16((const uint8_t *)&k->dport)));
	if (s != NLB_GW_STICKY_5TUPLE || pkt->fragment || !pkt->has_ports)
		CHECK(k->sport == 0 && k->dport == 0);
	CHECK(k->proto == (s == NLB_GW_STICKY_2TUPLE ? 0 : pkt->flow.proto));
	/* the same key for the flow reversed */
	struct nlb_ip_packet rev = *pkt;
	memcpy(rev.flow.src, pkt->flow.dst, 16);
	memcpy(rev.flow.dst, pkt->flow.src, 16);
	rev.flow.sport = pkt->flow.dport;
	rev.flow.dport = pkt->flow.sport;
	struct nlb_tuple kr;
	nlb_ip_flow_key(&rev, s, &kr);
	CHECK(nlb_tuple_equal(k, &kr));
}

static void check_packet(const uint8_t *p, size_t n, const struct nlb_ip_packet *pkt)
{
	CHECK(pkt->version == 4 || pkt->version == 6);
	CHECK(pkt->version == p[0] >> 4);
	CHECK(pkt->length <= n && pkt->l4_offset <= pkt->length);
	CHECK(pkt->l4_offset >= (pkt->version == 4 ? 20 : 40));
	CHECK(!pkt->fragment || (!pkt->has_ports && !pkt->icmp_error));
	CHECK(pkt->has_ports || (pkt->flow.sport == 0 && pkt->flow.dport == 0));
	CHECK(!pkt->has_ports || proto_has_ports(pkt->flow.proto));
	if (pkt->icmp_error) {
		CHECK(pkt->l4_proto == (pkt->version == 4 ? 1 : 58));
		CHECK(pkt->length - pkt->l4_offset >= 8);
		return;
	}
	/* not an error: the flow is the packet's own */
	CHECK(pkt->flow.proto == pkt->l4_proto);
	if (pkt->version == 4) {
		static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
		CHECK(memcmp(pkt->flow.src, mapped, 12) == 0 && memcmp(pkt->flow.dst, mapped, 12) == 0);
		CHECK(memcmp(pkt->flow.src + 12, p + 12, 4) == 0);
		CHECK(memcmp(pkt->flow.dst + 12, p + 16, 4) == 0);
	} else {
		CHECK(memcmp(pkt->flow.src, p + 8, 16) == 0 && memcmp(pkt->flow.dst, p + 24, 16) == 0);
	}
	CHECK(pkt->has_ports == (proto_has_ports(pkt->l4_proto) && !pkt->fragment));
	if (pkt->has_ports) {
		CHECK(pkt->l4_offset + 4u <= pkt->length);
		CHECK(memcmp(&pkt->flow.sport, p + pkt->l4_offset, 4) == 0);
	}
}

/* The packet's bytes with source and destination swapped (addresses, and
 * ports when it has them), read again: the same key under every
 * stickiness. */
static void check_reversed(const uint8_t *p, const struct nlb_ip_packet *pkt,
			   const struct nlb_tuple key[3])
{
	static uint8_t rev[65536];
	memcpy(rev, p, pkt->length);
	size_t a = pkt->version == 4 ? 12 : 8, w = pkt->version == 4 ? 4 : 16;
	memcpy(rev + a, p + a + w, w);
	memcpy(rev + a + w, p + a, w);
	if (pkt->has_ports) {
		memcpy(rev + pkt->l4_offset, p + pkt->l4_offset + 2, 2);
		memcpy(rev + pkt->l4_offset + 2, p + pkt->l4_offset, 2);
	}
	struct nlb_ip_packet r;
	CHECK(nlb_ip_packet_parse(rev, pkt->length, &r) == 0);
	CHECK(r.has_ports == pkt->has_ports && r.fragment == pkt->fragment &&
	      r.icmp_error == pkt->icmp_error);
	for (int s = 0; s < 3; s++) {
		struct nlb_tuple k;
		nlb_ip_flow_key(&r, s, &k);
		CHECK(nlb_tuple_equal(&k, &key[s]));
	}
}

static uint8_t out[2048];

/* The answer to p (n bytes, read as pkt), when there is one. */
static void check_too_big(const uint8_t *p, size_t n, const struct nlb_ip_packet *pkt,
			  const struct nlb_tuple key[3], uint32_t mtu)
{
	bool v4 = pkt->version == 4;
	const uint8_t *src = v4 ? src4 : src6;
	int r = nlb_icmp_too_big(p, n, mtu, src, out, sizeof(out));
	CHECK(r == -EINVAL || r > 0);
	if (r < 0) {
		CHECK(nlb_icmp_too_big(p, n, mtu, src, out, 0) == -EINVAL);
		return;
	}
	/* the quote: as much of the packet (not its padding) as fits */
	size_t hdr = v4 ? 28 : 48, max = v4 ? 576 : 1280;
	size_t q = pkt->length < max - hdr ? pkt->length : max - hdr;
	CHECK((size_t)r == hdr + q);
	CHECK(memcmp(out + hdr, p, q) == 0);
	CHECK(nlb_icmp_too_big(p, n, mtu, src, out, (size_t)r - 1) == -ENOSPC);
	CHECK(nlb_icmp_too_big(p, n, mtu, src, out, (size_t)r) == r);
	CHECK(!pkt->icmp_error);
	if (v4) {
		CHECK(sum(out, 20, 0) == 0xffff);
		CHECK(sum(out + 20, (size_t)r - 20, 0) == 0xffff);
		CHECK(out[20] == 3 && out[21] == 4 && r16(out + 26) == mtu);
		CHECK(memcmp(out + 16, p + 12, 4) == 0 && memcmp(out + 12, src + 12, 4) == 0);
		/* answered: DF, not a later fragment, a unicast source and
		 * destination */
		CHECK((r16(p + 6) & 0x4000) && (r16(p + 6) & 0x1fff) == 0);
		CHECK((p[12] | p[13] | p[14] | p[15]) != 0 && p[12] < 224);
		CHECK((p[16] & 0xf0) != 224 && (p[16] & p[17] & p[18] & p[19]) != 0xff);
	} else {
		uint64_t acc = (size_t)r - 40 + 58;
		for (int i = 8; i < 40; i += 2)
			acc += r16(out + i);
		CHECK(sum(out + 40, (size_t)r - 40, acc) == 0xffff);
		CHECK(out[40] == 2 && out[41] == 0 && r16(out + 44) == mtu >> 16 &&
		      r16(out + 46) == (mtu & 0xffff));
		CHECK(memcmp(out + 24, p + 8, 16) == 0 && memcmp(out + 8, src, 16) == 0);
		static const uint8_t any[16];
		CHECK(p[8] != 0xff && p[24] != 0xff && memcmp(p + 8, any, 16) != 0);
	}
	struct nlb_ip_packet a;
	CHECK(nlb_ip_packet_parse(out, (size_t)r, &a) == 0);
	CHECK(a.version == pkt->version && a.l4_proto == (v4 ? 1 : 58) && a.length == r);
	/* The quote holds the packet's IP header, so the answer is keyed as
	 * the packet when its header chain and ports are inside the quote:
	 * always in IPv4 (at most 60 + 4 bytes, the quote at least the
	 * packet or 548), not for an IPv6 extension header chain longer than
	 * the 1232 bytes quoted: with the chain but not the ports the
	 * 3- and 2-tuple keys still match; without the chain the answer is
	 * its own flow. */
	size_t need = pkt->l4_offset + (pkt->has_ports ? 4u : 0u);
	if (v4)
		CHECK(need <= q);
	if (pkt->l4_offset <= q) {
		CHECK(a.icmp_error);
		for (int s = need <= q ? 0 : 1; s < 3; s++) {
			struct nlb_tuple k;
			nlb_ip_flow_key(&a, s, &k);
			CHECK(nlb_tuple_equal(&k, &key[s]));
		}
	} else {
		CHECK(!a.icmp_error && a.flow.proto == 58 && !a.has_ports);
		CHECK(memcmp(a.flow.src, src, 16) == 0 && memcmp(a.flow.dst, p + 8, 16) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	enum nlb_gw_stickiness s = (enum nlb_gw_stickiness)(data[0] % 3);
	uint32_t mtu = 1280 + data[0];
	/* libFuzzer's copy ends where the input does: ASan sees a read past */
	const uint8_t *p = data + 1;
	size_t n = size - 1;
	struct nlb_ip_packet pkt;
	memset(&pkt, 0xa5, sizeof(pkt));
	int r = nlb_ip_packet_parse(p, n, &pkt);
	CHECK(r == 0 || r == -EINVAL);
	if (r < 0) {
		static const struct nlb_ip_packet zero;
		CHECK(memcmp(&pkt, &zero, sizeof(pkt)) == 0);
		uint8_t o[8];
		CHECK(nlb_icmp_too_big(p, n, mtu, src6, o, sizeof(o)) == -EINVAL);
		return 0;
	}
	check_packet(p, n, &pkt);
	/* bytes past the length are padding: cut there, the same reading */
	struct nlb_ip_packet cut;
	CHECK(nlb_ip_packet_parse(p, pkt.length, &cut) == 0);
	CHECK(memcmp(&cut, &pkt, sizeof(pkt)) == 0);
	struct nlb_tuple key[3];
	for (int k = 0; k < 3; k++)
		check_key(&pkt, (enum nlb_gw_stickiness)((s + k) % 3), &key[(s + k) % 3]);
	if (!pkt.icmp_error)
		check_reversed(p, &pkt, key);
	check_too_big(p, n, &pkt, key, mtu);
	return 0;
}
