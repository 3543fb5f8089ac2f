/* The PROXY protocol (HAProxy's proxy-protocol.txt), versions 1 and 2:
 * an incremental, strict parser and the two encoders.  Pure byte
 * handling: no I/O and no allocation, so it is safe in any worker. */
#ifndef NLB_PROXYPROTO_H
#define NLB_PROXYPROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* The longest v1 line is 107 bytes including CRLF ("PROXY UNKNOWN" with
 * two full IPv6 addresses and ports); one more holds a NUL for logging. */
#define NLB_PROXYPROTO_V1_MAX 108

/* The largest v2 header the parser accepts (16-byte fixed part, address
 * block, TLVs).  The protocol allows 16 + 65535; 2048 covers the largest
 * address block (AF_UNIX, 216) plus TLVs such as AUTHORITY, ALPN and a
 * few SSL sub-TLVs, while keeping the bytes a peer can make us buffer
 * before its data small.  Bigger headers are refused with -EMSGSIZE. */
#define NLB_PROXYPROTO_V2_MAX 2048

/* What the v2 encoder writes at most: the fixed part and an IPv6 block. */
#define NLB_PROXYPROTO_V2_MAX_OUT (16 + 36)

/* The v2 commands; v1 headers are always NLB_PP_PROXY. */
enum {
	NLB_PP_LOCAL = 0,	/* health check by the proxy itself */
	NLB_PP_PROXY = 1,	/* relayed on behalf of a client */
};

/* A parsed header.  The rule for callers is has_addr: when set, src and
 * dst (AF_INET or AF_INET6, ports filled, scope 0) replace the
 * connection's addresses; when clear (v2 LOCAL, v2 AF_UNSPEC or AF_UNIX,
 * v1 UNKNOWN) the real connection addresses stay in force. */
struct nlb_proxyproto {
	int version;		/* 1 or 2 */
	int command;		/* NLB_PP_LOCAL or NLB_PP_PROXY */
	int family;		/* as announced: AF_UNSPEC, AF_INET, AF_INET6, AF_UNIX */
	int transport;		/* SOCK_STREAM, SOCK_DGRAM or 0 (unspecified) */
	int has_addr;
	struct sockaddr_storage src, dst;
	/* v2 PROXY with AF_INET, AF_INET6 or AF_UNIX: the TLVs after the
	 * address block, as offsets into the parsed buffer; the chain is
	 * well formed but not interpreted.  0 otherwise: a LOCAL or AF_UNSPEC
	 * header's bytes are skipped unchecked, as the spec says. */
	size_t tlv_off, tlv_len;
};

/* Parses the header at the start of buf[0..len).  Returns the header's
 * length (> 0; the bytes after it are payload) and fills *out; or
 * -EAGAIN when buf is a strict prefix of a header that may still turn
 * out valid (read more and call again with all the bytes); -EINVAL as
 * soon as the bytes cannot start a valid header; -EMSGSIZE for a v2
 * header longer than NLB_PROXYPROTO_V2_MAX.  *out is written only on
 * success. */
int nlb_proxyproto_parse(const uint8_t *buf, size_t len,
			 struct nlb_proxyproto *out);

/* Write a v1 line ("PROXY TCP4 ..." or "PROXY TCP6 ...\r\n") or a v2
 * PROXY header (transport SOCK_STREAM or SOCK_DGRAM) for src and dst,
 * each AF_INET or AF_INET6.  Mixed families go out as IPv6 with the IPv4
 * side IPv4-mapped; a pair that is IPv4 on both sides, IPv4-mapped
 * included, goes out as IPv4.  IPv6 scope ids cannot be carried and are
 * dropped.  Return the bytes written, -ENOSPC when cap is too small
 * (NLB_PROXYPROTO_V1_MAX and NLB_PROXYPROTO_V2_MAX_OUT always suffice),
 * -EAFNOSUPPORT for another family, -EINVAL for NULL addresses or an
 * unknown transport.  write_v1 adds a NUL after the line when cap has
 * room for it (not counted). */
int nlb_proxyproto_write_v1(uint8_t *buf, size_t cap,
			    const struct sockaddr *src, const struct sockaddr *dst);
int nlb_proxyproto_write_v2(uint8_t *buf, size_t cap, int transport,
			    const struct sockaddr *src, const struct sockaddr *dst);

/* TLV types and flags nlb writes (proxy-protocol.txt, 2.2). */
#define NLB_PP2_TYPE_ALPN 0x01
#define NLB_PP2_TYPE_AUTHORITY 0x02
#define NLB_PP2_TYPE_SSL 0x20
#define NLB_PP2_SUBTYPE_SSL_VERSION 0x21
#define NLB_PP2_SUBTYPE_SSL_CIPHER 0x23
#define NLB_PP2_CLIENT_SSL 0x01
/* The largest PP2_TYPE_SSL value nlb_proxyproto_ssl_value writes. */
#define NLB_PROXYPROTO_SSL_VALUE_MAX (5 + 3 + 255 + 3 + 255)

/* Appends a TLV (type, len bytes of val) to the v2 header of hlen bytes
 * at buf, as nlb_proxyproto_write_v2 wrote it, and grows its length
 * field.  Returns the header's new length, -ENOSPC when cap is too small,
 * or -EINVAL when buf is no v2 header or the header would pass 65535
 * bytes after its fixed part. */
int nlb_proxyproto_add_tlv(uint8_t *buf, size_t cap, size_t hlen, uint8_t type,
			   const void *val, size_t len);

/* The value of a PP2_TYPE_SSL TLV for a client that spoke TLS and sent
 * no certificate: client PP2_CLIENT_SSL, verify nonzero (no certificate
 * was verified), then the SSL_VERSION ("TLSv1.3") and SSL_CIPHER
 * sub-TLVs.  Returns its length, or -ENOSPC. */
int nlb_proxyproto_ssl_value(uint8_t *buf, size_t cap, const char *version, const char *cipher);

/* A header that names no client: v1 "PROXY UNKNOWN\r\n", v2 LOCAL with
 * no addresses.  The spec's form for connections the proxy makes on its
 * own behalf, such as health checks; the receiver keeps the connection's
 * own addresses.  Returns the bytes written, -ENOSPC or -EINVAL (version
 * not 1 or 2). */
int nlb_proxyproto_write_local(uint8_t *buf, size_t cap, int version);

#endif
