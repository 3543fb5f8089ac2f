/* GENEVE (RFC 8926) as the AWS Gateway Load Balancer speaks it: owns the
 * wire layout of the base header and of option TLVs, the writer of the
 * 40-byte header nlb sends to appliances, and the strict reader of what
 * they send back.  Every multi-byte field is big-endian and read byte by
 * byte: the header sits at any alignment in a receive buffer. */
#include "geneve.h"

#include <errno.h>

/* ---- layouts ------------------------------------------------------------- */

/* Base header (RFC 8926 3.4):
 *   byte 0     Ver (2 bits) | Opt Len (6 bits, in 4-byte words)
 *   byte 1     O | C | 6 reserved bits
 *   bytes 2-3  protocol type
 *   bytes 4-6  VNI
 *   byte 7     reserved */
#define BASE_LEN	8
#define VER_SHIFT	6
#define OPT_LEN_MASK	0x3f
#define FLAG_O		0x80

/* Option (RFC 8926 3.5):
 *   bytes 0-1  class
 *   byte 2     type, its high bit the critical bit
 *   byte 3     3 reserved bits | Length (5 bits, in 4-byte words)
 * then Length * 4 bytes of data. */
#define OPT_HDR_LEN	4
#define OPT_CRITICAL	0x80
#define OPT_DATA_MASK	0x1f

/* Both lengths count 4-byte words. */
#define WORD		4

#define ENDPOINT_LEN	8
#define ATTACHMENT_LEN	8
#define COOKIE_LEN	4

_Static_assert(NLB_GENEVE_AWS_LEN == BASE_LEN + 3 * OPT_HDR_LEN +
	       ENDPOINT_LEN + ATTACHMENT_LEN + COOKIE_LEN,
	       "the AWS header is the base header and three options");
_Static_assert((NLB_GENEVE_AWS_LEN - BASE_LEN) % WORD == 0 &&
	       (NLB_GENEVE_AWS_LEN - BASE_LEN) / WORD <= OPT_LEN_MASK,
	       "the AWS options fit the 6-bit option length");
_Static_assert(NLB_GENEVE_OVERHEAD == 20 + 8 + NLB_GENEVE_AWS_LEN,
	       "outer IPv4 (no options) and UDP headers, then GENEVE");

static const char *const error_names[NLB_GENEVE_E_COUNT] = {
	[NLB_GENEVE_OK] = "ok",
	[NLB_GENEVE_E_TRUNCATED] = "truncated",
	[NLB_GENEVE_E_VERSION] = "version",
	[NLB_GENEVE_E_OAM] = "oam",
	[NLB_GENEVE_E_CRITICAL] = "critical",
	[NLB_GENEVE_E_OPTION] = "option",
	[NLB_GENEVE_E_PROTOCOL] = "protocol",
	[NLB_GENEVE_E_MISSING] = "missing",
};

/* ---- big-endian fields --------------------------------------------------- */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

/* ---- writing ------------------------------------------------------------- */

/* One AWS-class option header for data_len bytes at p; returns where its
 * data goes.  Reserved bits and the critical bit are zero: AWS's options
 * are not critical (an appliance that does not know them may forward). */
static uint8_t *put_option(uint8_t *p, uint8_t type, unsigned data_len)
{
	put16(p, NLB_GENEVE_AWS_CLASS);
	p[2] = type;
	p[3] = (uint8_t)(data_len / WORD);
	return p + OPT_HDR_LEN;
}

void nlb_geneve_write(uint8_t *out, const struct nlb_geneve_aws *g)
{
	uint8_t *p;

	/* Version 0.  Neither O (this is data, not control) nor C (no
	 * critical option follows: RFC 8926 sets C only when one does). */
	out[0] = (uint8_t)((NLB_GENEVE_AWS_LEN - BASE_LEN) / WORD);
	out[1] = 0;
	put16(out + 2, g->protocol);
	/* VNI 0 and the reserved byte: GWLB carries its identities in
	 * the options, not in the VNI. */
	put32(out + 4, 0);

	p = put_option(out + BASE_LEN, NLB_GENEVE_OPT_ENDPOINT, ENDPOINT_LEN);
	put64(p, g->endpoint_id);
	p = put_option(p + ENDPOINT_LEN, NLB_GENEVE_OPT_ATTACHMENT, ATTACHMENT_LEN);
	put64(p, g->attachment_id);
	p = put_option(p + ATTACHMENT_LEN, NLB_GENEVE_OPT_COOKIE, COOKIE_LEN);
	put32(p, g->cookie);
}

/* ---- reading ------------------------------------------------------------- */

static int refuse(enum nlb_geneve_error *err, enum nlb_geneve_error why)
{
	*err = why;
	return -EINVAL;
}

/* An AWS-class option of type with data d of len bytes into g.  Returns
 * its bit in the "seen" mask, 0 for a type nlb does not know, or -EINVAL
 * when a known type has the wrong length (its value would be
 * misread, so the packet cannot be trusted). */
static int read_aws_option(uint8_t type, const uint8_t *d, size_t len,
			   struct nlb_geneve_aws *g)
{
	switch (type) {
	case NLB_GENEVE_OPT_ENDPOINT:
		if (len != ENDPOINT_LEN)
			return -EINVAL;
		g->endpoint_id = get64(d);
		break;
	case NLB_GENEVE_OPT_ATTACHMENT:
		if (len != ATTACHMENT_LEN)
			return -EINVAL;
		g->attachment_id = get64(d);
		break;
	case NLB_GENEVE_OPT_COOKIE:
		if (len != COOKIE_LEN)
			return -EINVAL;
		g->cookie = get32(d);
		break;
	default:
		return 0;
	}
	return 1 << type;
}

#define SEEN_ALL (1 << NLB_GENEVE_OPT_ENDPOINT | 1 << NLB_GENEVE_OPT_ATTACHMENT | \
		  1 << NLB_GENEVE_OPT_COOKIE)

/* Checks the base header's fields first (a version other than 0 may lay
 * out the rest differently), then walks the options.  g is written only
 * when the packet is accepted. */
int nlb_geneve_parse(const uint8_t *p, size_t len, struct nlb_geneve_aws *g,
		     enum nlb_geneve_error *err)
{
	struct nlb_geneve_aws found = { 0 };
	unsigned seen = 0;

	if (len < BASE_LEN)
		return refuse(err, NLB_GENEVE_E_TRUNCATED);
	if (p[0] >> VER_SHIFT != 0)
		return refuse(err, NLB_GENEVE_E_VERSION);
	if (p[1] & FLAG_O)
		return refuse(err, NLB_GENEVE_E_OAM);
	found.protocol = get16(p + 2);
	if (found.protocol != NLB_GENEVE_PROTO_IPV4 && found.protocol != NLB_GENEVE_PROTO_IPV6)
		return refuse(err, NLB_GENEVE_E_PROTOCOL);
	/* The C bit and the reserved bits are not checked: RFC 8926 has
	 * receivers ignore reserved bits, and every option's critical bit
	 * is looked at below whatever C says. */
	size_t end = BASE_LEN + (size_t)(p[0] & OPT_LEN_MASK) * WORD;
	if (end > len)
		return refuse(err, NLB_GENEVE_E_TRUNCATED);

	/* at and end are both BASE_LEN plus whole words, so while at < end
	 * an option header's 4 bytes are there. */
	for (size_t at = BASE_LEN; at < end;) {
		const uint8_t *o = p + at;
		uint16_t class = get16(o);
		uint8_t type = o[2];
		size_t data_len = (size_t)(o[3] & OPT_DATA_MASK) * WORD;
		if (data_len > end - at - OPT_HDR_LEN)
			return refuse(err, NLB_GENEVE_E_OPTION);
		int bit = 0;
		if (class == NLB_GENEVE_AWS_CLASS) {
			bit = read_aws_option(type, o + OPT_HDR_LEN, data_len, &found);
			if (bit < 0)
				return refuse(err, NLB_GENEVE_E_OPTION);
		}
		/* RFC 8926 3.5: a critical option the endpoint does not
		 * understand means the packet must be dropped. */
		if (bit == 0 && (type & OPT_CRITICAL))
			return refuse(err, NLB_GENEVE_E_CRITICAL);
		seen |= (unsigned)bit;
		at += OPT_HDR_LEN + data_len;
	}
	if (seen != SEEN_ALL)
		return refuse(err, NLB_GENEVE_E_MISSING);
	*g = found;
	*err = NLB_GENEVE_OK;
	return (int)end;
}

const char *nlb_geneve_error_name(enum nlb_geneve_error e)
{
	if ((unsigned)e >= NLB_GENEVE_E_COUNT)
		return "unknown";
	return error_names[e];
}
