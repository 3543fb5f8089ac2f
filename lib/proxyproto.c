/* PROXY protocol v1 and v2, written from HAProxy's proxy-protocol.txt:
 * owns the wire formats, a strict incremental parser that tells "need more
 * bytes" from "never valid" as early as the bytes allow, and the encoders. */
#include "proxyproto.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "tuple_hash.h"

/* ---- layouts ------------------------------------------------------------- */

static const uint8_t v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
};

/* Byte arrays only, so the structs have no padding and no alignment
 * needs: they are memcpy'd to and from the wire. */
struct pp2_hdr {
	uint8_t sig[12];
	uint8_t ver_cmd;	/* version (high nibble, 2) and command */
	uint8_t fam;		/* family (high nibble) and transport */
	uint8_t len[2];		/* bytes after this header, big-endian */
};

struct pp2_ip4 {
	uint8_t src[4], dst[4];
	uint8_t sport[2], dport[2];
};

struct pp2_ip6 {
	uint8_t src[16], dst[16];
	uint8_t sport[2], dport[2];
};

#define PP2_UNIX_BLOCK 216	/* two 108-byte sun_path */
#define PP2_TLV_HDR 3		/* type, 16-bit length */
#define V1_LINE_MAX (NLB_PROXYPROTO_V1_MAX - 1)

_Static_assert(sizeof(struct pp2_hdr) == 16, "v2 fixed header is 16 bytes");
_Static_assert(sizeof(struct pp2_ip4) == 12, "v2 IPv4 block is 12 bytes");
_Static_assert(sizeof(struct pp2_ip6) == 36, "v2 IPv6 block is 36 bytes");
_Static_assert(NLB_PROXYPROTO_V2_MAX_OUT ==
	       sizeof(struct pp2_hdr) + sizeof(struct pp2_ip6), "v2 output size");
_Static_assert(NLB_PROXYPROTO_V2_MAX >= 16 + PP2_UNIX_BLOCK,
	       "the cap admits every address block");

/* ---- v1 field scanners --------------------------------------------------- */

/* Each scanner reads one field of p[0..n) up to and including its
 * terminator byte.  Returns 0 and *used (terminator included), -EAGAIN
 * when p runs out while the field can still become valid, or -EINVAL at
 * the first byte that rules it out.  Checking per byte, not per field,
 * is what lets garbage fail before a whole line has arrived. */

/* Dotted quad, exactly four decimal octets 0..255 without leading zeros
 * (the spec forbids them: "010" could be read as octal). */
static int scan_ip4(const uint8_t *p, size_t n, uint8_t term,
		    uint8_t out[4], size_t *used)
{
	unsigned octets = 0, digits = 0, val = 0;

	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		if (c >= '0' && c <= '9') {
			if (digits > 0 && val == 0)
				return -EINVAL;
			val = val * 10 + (unsigned)(c - '0');
			if (val > 255)
				return -EINVAL;
			digits++;
		} else if (c == '.') {
			if (digits == 0 || octets == 3)
				return -EINVAL;
			out[octets++] = (uint8_t)val;
			digits = val = 0;
		} else if (c == term) {
			if (digits == 0 || octets != 3)
				return -EINVAL;
			out[3] = (uint8_t)val;
			*used = i + 1;
			return 0;
		} else {
			return -EINVAL;
		}
	}
	return -EAGAIN;
}

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* IPv6 as the spec words it: groups of 1-4 hex digits (either case)
 * separated by ':', at most one "::" standing for one or more zero
 * groups, 128 bits in all.  The embedded dotted-quad tail that
 * inet_pton also takes is not in the spec and is refused; it would also
 * let a TCP6 line outgrow the 107-byte limit. */
static int scan_ip6(const uint8_t *p, size_t n, uint8_t term,
		    uint8_t out[16], size_t *used)
{
	uint16_t words[8];
	unsigned ngroups = 0;	/* groups completed */
	unsigned digits = 0;	/* in the group being read */
	unsigned val = 0;
	unsigned colons = 0;	/* consecutive ':' just read */
	int dcolon = -1;	/* group index where "::" stands, or -1 */

	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		int h = hexval(c);
		/* With "::" present at least one group is implied, so at most
		 * seven may be written. */
		unsigned room = dcolon >= 0 ? 7 : 8;

		if (h >= 0) {
			if (digits == 4)
				return -EINVAL;
			if (digits == 0) {
				/* A lone leading ':' must be the start of "::". */
				if (colons == 1 && ngroups == 0)
					return -EINVAL;
				if (ngroups + 1 > room)
					return -EINVAL;
			}
			val = val * 16 + (unsigned)h;
			digits++;
			colons = 0;
		} else if (c == ':') {
			if (digits > 0) {
				words[ngroups++] = (uint16_t)val;
				digits = val = 0;
				colons = 1;
				/* A separator promises another group or a "::";
				 * with the groups full, either overflows. */
				if (ngroups >= room)
					return -EINVAL;
			} else if (colons == 1) {
				if (dcolon >= 0)
					return -EINVAL;
				dcolon = (int)ngroups;
				colons = 2;
			} else if (colons == 2) {
				return -EINVAL;		/* ":::" */
			} else {
				colons = 1;		/* leading ':' */
			}
		} else if (c == term) {
			if (digits > 0)
				words[ngroups++] = (uint16_t)val;
			else if (colons != 2)
				return -EINVAL;		/* empty, or ends in one ':' */
			if (dcolon < 0 && ngroups != 8)
				return -EINVAL;
			unsigned zeros = 8 - ngroups;
			unsigned at = dcolon >= 0 ? (unsigned)dcolon : ngroups;
			for (unsigned g = 0, w = 0; g < 8; g++) {
				uint16_t v = 0;
				if (g < at || g >= at + zeros)
					v = words[w++];
				out[2 * g] = (uint8_t)(v >> 8);
				out[2 * g + 1] = (uint8_t)v;
			}
			*used = i + 1;
			return 0;
		} else {
			return -EINVAL;
		}
	}
	return -EAGAIN;
}

/* Decimal 0..65535 without leading zeros or sign. */
static int scan_port(const uint8_t *p, size_t n, uint8_t term,
		     uint16_t *out, size_t *used)
{
	unsigned digits = 0, val = 0;

	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		if (c >= '0' && c <= '9') {
			if (digits > 0 && val == 0)
				return -EINVAL;
			val = val * 10 + (unsigned)(c - '0');
			if (val > 65535)
				return -EINVAL;
			digits++;
		} else if (c == term && digits > 0) {
			*out = (uint16_t)val;
			*used = i + 1;
			return 0;
		} else {
			return -EINVAL;
		}
	}
	return -EAGAIN;
}

/* Compares p[0..n) with the literal s: 0 when all of s is there,
 * -EAGAIN when p is a shorter prefix of it, -EINVAL on a difference. */
static int scan_literal(const uint8_t *p, size_t n, const char *s)
{
	size_t k = strlen(s);
	size_t m = n < k ? n : k;

	if (memcmp(p, s, m) != 0)
		return -EINVAL;
	return m == k ? 0 : -EAGAIN;
}

static void set_in(struct sockaddr_storage *ss, const uint8_t addr[4],
		   const uint8_t port_be[2])
{
	struct sockaddr_in sin;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	memcpy(&sin.sin_addr, addr, 4);
	memcpy(&sin.sin_port, port_be, 2);
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, &sin, sizeof(sin));
}

static void set_in6(struct sockaddr_storage *ss, const uint8_t addr[16],
		    const uint8_t port_be[2])
{
	struct sockaddr_in6 sin6;
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	memcpy(&sin6.sin6_addr, addr, 16);
	memcpy(&sin6.sin6_port, port_be, 2);
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, &sin6, sizeof(sin6));
}

/* ---- v1 ------------------------------------------------------------------ */

/* "PROXY UNKNOWN" then CRLF, or a space and anything up to the first
 * CRLF (the spec tells receivers to ignore it).  pos is just past
 * "UNKNOWN"; n is already capped at the line limit. */
static int v1_unknown(const uint8_t *buf, size_t n, size_t pos)
{
	if (pos == n)
		return -EAGAIN;
	if (buf[pos] == '\r') {
		if (pos + 1 == n)
			return -EAGAIN;
		return buf[pos + 1] == '\n' ? (int)(pos + 2) : -EINVAL;
	}
	if (buf[pos] != ' ')
		return -EINVAL;
	for (size_t i = pos + 1; i + 1 < n; i++)
		if (buf[i] == '\r' && buf[i + 1] == '\n')
			return (int)(i + 2);
	/* The CRLF must end by byte 107, so byte 106 can only be its CR. */
	if (n >= V1_LINE_MAX - 1 && buf[V1_LINE_MAX - 2] != '\r')
		return -EINVAL;
	return -EAGAIN;
}

static int parse_v1_line(const uint8_t *buf, size_t n, struct nlb_proxyproto *pp)
{
	int r = scan_literal(buf, n, "PROXY ");
	if (r < 0)
		return r;

	size_t pos = 6;
	int v6;
	int r4 = scan_literal(buf + pos, n - pos, "TCP4 ");
	int r6 = scan_literal(buf + pos, n - pos, "TCP6 ");
	int ru = scan_literal(buf + pos, n - pos, "UNKNOWN");
	if (ru == 0) {
		pp->family = AF_UNSPEC;
		pp->transport = 0;
		pp->has_addr = 0;
		return v1_unknown(buf, n, pos + 7);
	}
	if (r4 == 0)
		v6 = 0;
	else if (r6 == 0)
		v6 = 1;
	else if (r4 == -EAGAIN || r6 == -EAGAIN || ru == -EAGAIN)
		return -EAGAIN;
	else
		return -EINVAL;
	pos += 5;

	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	size_t used;
	if (v6) {
		if ((r = scan_ip6(buf + pos, n - pos, ' ', src, &used)) < 0)
			return r;
		pos += used;
		if ((r = scan_ip6(buf + pos, n - pos, ' ', dst, &used)) < 0)
			return r;
	} else {
		if ((r = scan_ip4(buf + pos, n - pos, ' ', src, &used)) < 0)
			return r;
		pos += used;
		if ((r = scan_ip4(buf + pos, n - pos, ' ', dst, &used)) < 0)
			return r;
	}
	pos += used;
	if ((r = scan_port(buf + pos, n - pos, ' ', &sport, &used)) < 0)
		return r;
	pos += used;
	/* The spec refuses a lone CR or LF as the end of the line. */
	if ((r = scan_port(buf + pos, n - pos, '\r', &dport, &used)) < 0)
		return r;
	pos += used;
	if (pos == n)
		return -EAGAIN;
	if (buf[pos] != '\n')
		return -EINVAL;

	uint8_t sp[2] = { (uint8_t)(sport >> 8), (uint8_t)sport };
	uint8_t dp[2] = { (uint8_t)(dport >> 8), (uint8_t)dport };
	if (v6) {
		set_in6(&pp->src, src, sp);
		set_in6(&pp->dst, dst, dp);
	} else {
		set_in(&pp->src, src, sp);
		set_in(&pp->dst, dst, dp);
	}
	pp->family = v6 ? AF_INET6 : AF_INET;
	pp->transport = SOCK_STREAM;
	pp->has_addr = 1;
	return (int)(pos + 1);
}

static int parse_v1(const uint8_t *buf, size_t len, struct nlb_proxyproto *pp)
{
	/* Only the first 107 bytes can hold the line; a line still
	 * unfinished there never will be. */
	size_t n = len < V1_LINE_MAX ? len : V1_LINE_MAX;
	int r = parse_v1_line(buf, n, pp);
	if (r == -EAGAIN && len >= V1_LINE_MAX)
		return -EINVAL;
	pp->version = 1;
	pp->command = NLB_PP_PROXY;
	return r;
}

/* ---- v2 ------------------------------------------------------------------ */

/* The family/transport bytes the spec lists; it says other values must
 * be rejected, and an INET family with an unspecified transport (or the
 * reverse) is none of them.  Returns the address block size or -1. */
static int v2_block_size(uint8_t fam, int *family, int *transport)
{
	switch (fam) {
	case 0x00: *family = AF_UNSPEC; *transport = 0; return 0;
	case 0x11: *family = AF_INET; *transport = SOCK_STREAM; return 12;
	case 0x12: *family = AF_INET; *transport = SOCK_DGRAM; return 12;
	case 0x21: *family = AF_INET6; *transport = SOCK_STREAM; return 36;
	case 0x22: *family = AF_INET6; *transport = SOCK_DGRAM; return 36;
	case 0x31: *family = AF_UNIX; *transport = SOCK_STREAM; return PP2_UNIX_BLOCK;
	case 0x32: *family = AF_UNIX; *transport = SOCK_DGRAM; return PP2_UNIX_BLOCK;
	}
	return -1;
}

static int parse_v2(const uint8_t *buf, size_t len, struct nlb_proxyproto *pp)
{
	/* Not scan_literal: the signature holds a NUL. */
	size_t m = len < sizeof(v2_sig) ? len : sizeof(v2_sig);
	if (memcmp(buf, v2_sig, m) != 0)
		return -EINVAL;
	if (len < 13)
		return -EAGAIN;
	/* Version 2 only; commands LOCAL and PROXY only ("receivers must
	 * drop connections presenting unexpected values"). */
	if ((buf[12] >> 4) != 2 || (buf[12] & 0x0f) > NLB_PP_PROXY)
		return -EINVAL;
	if (len < 14)
		return -EAGAIN;
	int family, transport;
	int block = v2_block_size(buf[13], &family, &transport);
	if (block < 0)
		return -EINVAL;
	if (len < sizeof(struct pp2_hdr))
		return -EAGAIN;

	struct pp2_hdr h;
	memcpy(&h, buf, sizeof(h));
	size_t alen = (size_t)h.len[0] << 8 | h.len[1];
	size_t total = sizeof(h) + alen;
	if (total > NLB_PROXYPROTO_V2_MAX)
		return -EMSGSIZE;
	/* LOCAL: the spec says to discard the block "including the family
	 * which is ignored", and UNSPEC's bytes have no defined layout; both
	 * are skipped unchecked.  Otherwise the addresses must be there and
	 * the rest must be a well-formed TLV chain. */
	int checked = (buf[12] & 0x0f) == NLB_PP_PROXY && family != AF_UNSPEC;
	if (checked && alen < (size_t)block)
		return -EINVAL;

	/* TLVs: each type, 16-bit length, value, ending exactly at total.
	 * Walked over whatever has arrived so an overrun fails early. */
	size_t tlv = checked ? sizeof(h) + (size_t)block : total;
	for (size_t off = tlv; off < total; ) {
		if (total - off < PP2_TLV_HDR)
			return -EINVAL;
		if (len < off + PP2_TLV_HDR)
			return -EAGAIN;
		size_t vlen = (size_t)buf[off + 1] << 8 | buf[off + 2];
		if (vlen > total - off - PP2_TLV_HDR)
			return -EINVAL;
		off += PP2_TLV_HDR + vlen;
	}
	if (len < total)
		return -EAGAIN;

	pp->version = 2;
	pp->command = buf[12] & 0x0f;
	pp->family = family;
	pp->transport = transport;
	if (checked) {
		pp->tlv_off = tlv;
		pp->tlv_len = total - tlv;
	}
	/* LOCAL: "use the real connection endpoints"; AF_UNIX paths are no
	 * use to a TCP/UDP balancer, so they count as unknown too. */
	pp->has_addr = pp->command == NLB_PP_PROXY &&
		       (family == AF_INET || family == AF_INET6);
	if (pp->has_addr && family == AF_INET) {
		struct pp2_ip4 a;
		memcpy(&a, buf + sizeof(h), sizeof(a));
		set_in(&pp->src, a.src, a.sport);
		set_in(&pp->dst, a.dst, a.dport);
	} else if (pp->has_addr) {
		struct pp2_ip6 a;
		memcpy(&a, buf + sizeof(h), sizeof(a));
		set_in6(&pp->src, a.src, a.sport);
		set_in6(&pp->dst, a.dst, a.dport);
	}
	return (int)total;
}

int nlb_proxyproto_parse(const uint8_t *buf, size_t len,
			 struct nlb_proxyproto *out)
{
	struct nlb_proxyproto pp;
	int r;

	if (len == 0)
		return -EAGAIN;
	memset(&pp, 0, sizeof(pp));
	/* The first byte tells the versions apart: 'P' or CR. */
	if (buf[0] == 'P')
		r = parse_v1(buf, len, &pp);
	else if (buf[0] == v2_sig[0])
		r = parse_v2(buf, len, &pp);
	else
		r = -EINVAL;
	if (r > 0 && out != NULL)
		*out = pp;
	return r;
}

/* ---- encoders ------------------------------------------------------------ */

/* Both sides as 16-byte IPv4-mapped-or-IPv6 addresses, ports in network
 * order (the tuple's convention), and whether both are IPv4. */
static int endpoints(const struct sockaddr *src, const struct sockaddr *dst,
		     struct nlb_tuple *t, int *v4)
{
	if (src == NULL || dst == NULL)
		return -EINVAL;
	int r = nlb_tuple_from_sockaddr(t, src, dst, 0);
	if (r < 0)
		return r;
	/* A dual-stack [::] listener sees IPv4 clients as ::ffff:a.b.c.d;
	 * such a pair is IPv4 on the wire, so it goes out as TCP4/AF_INET
	 * and the receiver sees plain IPv4 addresses. */
	*v4 = IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)t->src) &&
	      IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)t->dst);
	return 0;
}

/* RFC 5952 text: lowercase, no leading zeros, the longest run of two or
 * more zero groups (the first of equals) as "::", no dotted tail, so that
 * scan_ip6 reads it back and the line stays short. */
static int format_ip6(const uint8_t a[16], char *out, size_t cap)
{
	unsigned w[8];
	int best = -1, best_len = 0;

	for (int g = 0; g < 8; g++)
		w[g] = (unsigned)a[2 * g] << 8 | a[2 * g + 1];
	for (int g = 0; g < 8; ) {
		int k = g;
		while (k < 8 && w[k] == 0)
			k++;
		if (k - g > best_len && k - g >= 2) {
			best = g;
			best_len = k - g;
		}
		g = k > g ? k : g + 1;
	}

	size_t n = 0;
	for (int g = 0; g < 8; g++) {
		int r;
		if (g == best) {
			r = snprintf(out + n, cap - n, "::");
			g += best_len - 1;
		} else {
			int sep = g > 0 && g != best + best_len;
			r = snprintf(out + n, cap - n, "%s%x", sep ? ":" : "", w[g]);
		}
		if (r < 0 || (size_t)r >= cap - n)
			return -ENOSPC;
		n += (size_t)r;
	}
	return (int)n;
}

int nlb_proxyproto_write_v1(uint8_t *buf, size_t cap,
			    const struct sockaddr *src, const struct sockaddr *dst)
{
	struct nlb_tuple t;
	int v4;
	int r = endpoints(src, dst, &t, &v4);
	if (r < 0)
		return r;

	char s[48], d[48], line[NLB_PROXYPROTO_V1_MAX];
	if (v4) {
		snprintf(s, sizeof(s), "%u.%u.%u.%u", t.src[12], t.src[13],
			 t.src[14], t.src[15]);
		snprintf(d, sizeof(d), "%u.%u.%u.%u", t.dst[12], t.dst[13],
			 t.dst[14], t.dst[15]);
	} else if (format_ip6(t.src, s, sizeof(s)) < 0 ||
		   format_ip6(t.dst, d, sizeof(d)) < 0) {
		return -ENOSPC;		/* cannot happen: 39 chars at most */
	}
	int n = snprintf(line, sizeof(line), "PROXY %s %s %s %u %u\r\n",
			 v4 ? "TCP4" : "TCP6", s, d, ntohs(t.sport), ntohs(t.dport));
	if (n < 0 || (size_t)n >= sizeof(line))
		return -ENOSPC;		/* cannot happen: 104 bytes at most */
	if ((size_t)n > cap)
		return -ENOSPC;
	memcpy(buf, line, (size_t)n);
	if ((size_t)n < cap)
		buf[n] = '\0';
	return n;
}

int nlb_proxyproto_write_v2(uint8_t *buf, size_t cap, int transport,
			    const struct sockaddr *src, const struct sockaddr *dst)
{
	uint8_t tp;
	if (transport == SOCK_STREAM)
		tp = 0x1;
	else if (transport == SOCK_DGRAM)
		tp = 0x2;
	else
		return -EINVAL;

	struct nlb_tuple t;
	int v4;
	int r = endpoints(src, dst, &t, &v4);
	if (r < 0)
		return r;

	struct pp2_hdr h;
	size_t alen = v4 ? sizeof(struct pp2_ip4) : sizeof(struct pp2_ip6);
	if (cap < sizeof(h) + alen)
		return -ENOSPC;
	memcpy(h.sig, v2_sig, sizeof(v2_sig));
	h.ver_cmd = 0x20 | NLB_PP_PROXY;
	h.fam = (uint8_t)((v4 ? 0x10 : 0x20) | tp);
	h.len[0] = (uint8_t)(alen >> 8);
	h.len[1] = (uint8_t)alen;
	memcpy(buf, &h, sizeof(h));

	/* t's ports are already in network order, as the wire wants. */
	if (v4) {
		struct pp2_ip4 a;
		memcpy(a.src, t.src + 12, 4);
		memcpy(a.dst, t.dst + 12, 4);
		memcpy(a.sport, &t.sport, 2);
		memcpy(a.dport, &t.dport, 2);
		memcpy(buf + sizeof(h), &a, sizeof(a));
	} else {
		struct pp2_ip6 a;
		memcpy(a.src, t.src, 16);
		memcpy(a.dst, t.dst, 16);
		memcpy(a.sport, &t.sport, 2);
		memcpy(a.dport, &t.dport, 2);
		memcpy(buf + sizeof(h), &a, sizeof(a));
	}
	return (int)(sizeof(h) + alen);
}

int nlb_proxyproto_add_tlv(uint8_t *buf, size_t cap, size_t hlen, uint8_t type,
			   const void *val, size_t len)
{
	if (hlen < sizeof(struct pp2_hdr) || memcmp(buf, v2_sig, sizeof(v2_sig)) != 0 ||
	    (buf[12] & 0xf0) != 0x20)
		return -EINVAL;
	size_t body = (size_t)buf[14] << 8 | buf[15];
	if (body != hlen - sizeof(struct pp2_hdr) || body + 3 + len > 0xffff)
		return -EINVAL;
	if (cap < hlen + 3 + len)
		return -ENOSPC;
	buf[hlen] = type;
	buf[hlen + 1] = (uint8_t)(len >> 8);
	buf[hlen + 2] = (uint8_t)len;
	if (len)
		memcpy(buf + hlen + 3, val, len);
	body += 3 + len;
	buf[14] = (uint8_t)(body >> 8);
	buf[15] = (uint8_t)body;
	return (int)(hlen + 3 + len);
}

static size_t put_sub(uint8_t *p, uint8_t type, const char *s, size_t n)
{
	p[0] = type;
	p[1] = (uint8_t)(n >> 8);
	p[2] = (uint8_t)n;
	memcpy(p + 3, s, n);
	return 3 + n;
}

int nlb_proxyproto_ssl_value(uint8_t *buf, size_t cap, const char *version, const char *cipher)
{
	size_t nv = strlen(version), nc = strlen(cipher);
	if (nv > 255 || nc > 255 || cap < 5 + 3 + nv + 3 + nc)
		return -ENOSPC;
	buf[0] = NLB_PP2_CLIENT_SSL;
	/* verify: 0 only for a client certificate that was verified */
	buf[1] = buf[2] = buf[3] = 0;
	buf[4] = 1;
	size_t off = 5;
	off += put_sub(buf + off, NLB_PP2_SUBTYPE_SSL_VERSION, version, nv);
	off += put_sub(buf + off, NLB_PP2_SUBTYPE_SSL_CIPHER, cipher, nc);
	return (int)off;
}

int nlb_proxyproto_write_local(uint8_t *buf, size_t cap, int version)
{
	static const char v1[] = "PROXY UNKNOWN\r\n";
	if (version == 1) {
		if (cap < sizeof(v1) - 1)
			return -ENOSPC;
		memcpy(buf, v1, sizeof(v1) - 1);
		return (int)sizeof(v1) - 1;
	}
	if (version != 2)
		return -EINVAL;
	if (cap < sizeof(v2_sig) + 4)
		return -ENOSPC;
	memcpy(buf, v2_sig, sizeof(v2_sig));
	buf[12] = 0x20 | NLB_PP_LOCAL;
	buf[13] = 0x00;		/* AF_UNSPEC, UNSPEC: no addresses */
	buf[14] = buf[15] = 0;
	return (int)sizeof(v2_sig) + 4;
}
