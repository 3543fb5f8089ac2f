/* An IP packet as the gateway sees it (RFC 791, RFC 8200): which flow it
 * belongs to.  A TCP, UDP or SCTP packet by its addresses, protocol and
 * ports; any other protocol by its addresses and protocol; an ICMP or
 * ICMPv6 error by the packet it quotes (so it reaches the appliance that
 * saw that flow); every fragment of a fragmented datagram, the first one
 * too, by addresses and protocol only (later fragments carry no ports,
 * and all of them must go the same way).  Pure. */
#ifndef NLB_IP_PACKET_H
#define NLB_IP_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tuple_hash.h"

/* What a gateway's flows are made of (its "stickiness"). */
enum nlb_gw_stickiness {
	NLB_GW_STICKY_5TUPLE = 0,	/* addresses, protocol, ports */
	NLB_GW_STICKY_3TUPLE,		/* addresses, protocol */
	NLB_GW_STICKY_2TUPLE,		/* addresses */
};

struct nlb_ip_packet {
	uint8_t version;		/* 4 or 6 */
	uint8_t l4_proto;		/* this packet's own upper-layer protocol */
	bool icmp_error;		/* flow is the quoted packet's */
	bool fragment;			/* part of a fragmented datagram */
	bool has_ports;			/* flow.sport and dport are the packet's */
	uint16_t length;		/* the IP packet's length by its header (<= len) */
	uint16_t l4_offset;		/* where its upper-layer header starts */
	/* The flow, as the packet (or the quoted one) says: addresses as
	 * struct nlb_tuple holds them (IPv4 mapped, ::ffff:a.b.c.d), ports
	 * in network byte order (0 where there are none), protocol. */
	struct nlb_tuple flow;
};

/* Reads the packet p of len bytes.  0, or -EINVAL when it is not a
 * well-formed IPv4 or IPv6 packet: version, header length, a total
 * length past len (bytes after the total length are allowed: padding),
 * an IPv6 payload length of 0 (jumbograms) or a packet over 65535 bytes,
 * an extension header chain past the end, or a TCP/UDP/SCTP header too
 * short for its ports in an unfragmented packet or a first fragment.
 * An ICMP error whose quoted packet cannot be read is the flow of the
 * error packet itself (addresses and ICMP), not a failure. */
int nlb_ip_packet_parse(const uint8_t *p, size_t len, struct nlb_ip_packet *out);

/* The flow key of pkt under s, the same for both directions of a flow
 * (the lower address/port side first): ports zero under 3TUPLE and for
 * fragments, protocol zero too under 2TUPLE.  Hash it with nlb_tuple_hash
 * (NLB_HASH_5TUPLE), compare it bytewise. */
void nlb_ip_flow_key(const struct nlb_ip_packet *pkt, enum nlb_gw_stickiness s,
		     struct nlb_tuple *key);

/* The ICMP answer to a packet that cannot be sent on whole: IPv4
 * "fragmentation needed" (type 3 code 4) with next-hop MTU mtu, or ICMPv6
 * "packet too big" (type 2) with MTU mtu, from src (the gateway's
 * address, 16 bytes as struct nlb_tuple holds them, of the packet's
 * family) to the packet's source, quoting as much of it as the RFCs
 * allow (IPv4: header and 8 bytes... up to 576 in all; IPv6: up to 1280
 * in all), checksums filled.  Written into out (cap bytes); returns its
 * length, -EINVAL for a packet that must not be answered (not one
 * nlb_ip_packet_parse reads, an ICMP error itself, IPv4 without DF or a
 * non-first IPv4 fragment, a source that is not one unicast host, a
 * multicast or broadcast destination, an IPv4 MTU over 65535) or
 * -ENOSPC. */
int nlb_icmp_too_big(const uint8_t *pkt, size_t len, uint32_t mtu, const uint8_t src[16],
		     uint8_t *out, size_t cap);

#endif
