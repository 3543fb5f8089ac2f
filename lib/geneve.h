/* GENEVE (RFC 8926) as the AWS Gateway Load Balancer speaks it: an
 * 8-byte base header whose protocol type names the inner packet (0x0800
 * IPv4, 0x86DD IPv6: no Ethernet header), VNI 0, and three options of
 * class 0x0108: the gateway's endpoint id (type 1, 8 bytes), the
 * attachment id (type 2, 8 bytes) and the flow cookie (type 3, 4 bytes).
 * nlb writes exactly that 40-byte header and reads it back from the
 * appliances, which return each packet with the header it was sent with.
 * Pure: the caller gives the buffers; the outer IP and UDP headers are
 * the kernel's (a UDP socket on port 6081). */
#ifndef NLB_GENEVE_H
#define NLB_GENEVE_H

#include <stddef.h>
#include <stdint.h>

#define NLB_GENEVE_PORT 6081
#define NLB_GENEVE_AWS_CLASS 0x0108
#define NLB_GENEVE_PROTO_IPV4 0x0800
#define NLB_GENEVE_PROTO_IPV6 0x86DD
/* The header nlb writes: 8 base bytes, options 12 + 12 + 8. */
#define NLB_GENEVE_AWS_LEN 40
/* What encapsulation adds on the wire: outer IPv4 20 (no IP options),
 * UDP 8, GENEVE 40. */
#define NLB_GENEVE_OVERHEAD 68

enum {
	NLB_GENEVE_OPT_ENDPOINT = 1,
	NLB_GENEVE_OPT_ATTACHMENT = 2,
	NLB_GENEVE_OPT_COOKIE = 3,
};

/* Why a packet read as GENEVE was refused (counted by reason). */
enum nlb_geneve_error {
	NLB_GENEVE_OK = 0,
	NLB_GENEVE_E_TRUNCATED,		/* shorter than its base header or its options */
	NLB_GENEVE_E_VERSION,		/* version not 0 */
	NLB_GENEVE_E_OAM,		/* the O bit: control, not data */
	NLB_GENEVE_E_CRITICAL,		/* an option with the critical bit nlb does not know */
	NLB_GENEVE_E_OPTION,		/* an option running past the options, or an AWS
					 * option of the wrong length */
	NLB_GENEVE_E_PROTOCOL,		/* protocol type neither IPv4 nor IPv6 */
	NLB_GENEVE_E_MISSING,		/* no endpoint, attachment or cookie option */
	NLB_GENEVE_E_COUNT,
};

/* The AWS fields of one header. */
struct nlb_geneve_aws {
	uint16_t protocol;		/* NLB_GENEVE_PROTO_IPV4 or _IPV6 */
	uint64_t endpoint_id;
	uint64_t attachment_id;
	uint32_t cookie;
};

/* Writes the NLB_GENEVE_AWS_LEN-byte header for g into out (at least
 * that long). */
void nlb_geneve_write(uint8_t *out, const struct nlb_geneve_aws *g);

/* Reads the GENEVE packet p (a UDP payload of len bytes): g filled, and
 * the offset of the inner packet returned, which may be len (an empty
 * inner packet is the caller's to refuse).  Options of other classes,
 * and unknown ones of AWS's class without the critical bit, are skipped;
 * of a repeated AWS option the last one counts; the VNI, the C bit and
 * reserved bits are ignored, as RFC 8926 has a receiver do.  -EINVAL
 * when refused, g untouched and the reason in *err; the first check that
 * fails names it, in this order: truncated base header, version, OAM,
 * protocol, truncated options, then option by option. */
int nlb_geneve_parse(const uint8_t *p, size_t len, struct nlb_geneve_aws *g,
		     enum nlb_geneve_error *err);

/* A reason's name for logs and metrics: "truncated", "version", ... */
const char *nlb_geneve_error_name(enum nlb_geneve_error e);

#endif
