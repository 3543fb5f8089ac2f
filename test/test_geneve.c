/* Suite "geneve": lib/geneve.c.  The header nlb writes, decoded here
 * field by field from RFC 8926's layout; write then parse; a packet laid
 * out by hand as aws-gateway-load-balancer-tunnel-handler reads them
 * (class 0x0108, types 1, 2, 3); options of other classes and unknown
 * AWS types skipped, unknown critical ones refused; each refusal reason;
 * every truncation, read from the end of a page followed by an
 * inaccessible one so a read past the length faults in every build. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "geneve.h"
#include "helpers.h"

#define U16(v) (uint8_t)((v) >> 8), (uint8_t)(v)

static const struct nlb_geneve_aws sample = {
	.protocol = NLB_GENEVE_PROTO_IPV4,
	.endpoint_id = 0x0123456789abcdefULL,
	.attachment_id = 0xfedcba9876543210ULL,
	.cookie = 0xa1b2c3d4,
};

/* A sentinel g, to show a refusal leaves it alone. */
static const struct nlb_geneve_aws untouched = {
	.protocol = 0x5a5a, .endpoint_id = 0x5a5a5a5a5a5a5a5aULL,
	.attachment_id = 0x5a5a5a5a5a5a5a5aULL, .cookie = 0x5a5a5a5a,
};

static void expect_fields(const struct nlb_geneve_aws *got,
			  const struct nlb_geneve_aws *want, const char *what)
{
	cr_expect_eq(got->protocol, want->protocol, "%s: protocol %#x", what, got->protocol);
	cr_expect_eq(got->endpoint_id, want->endpoint_id, "%s: endpoint %#llx", what,
		     (unsigned long long)got->endpoint_id);
	cr_expect_eq(got->attachment_id, want->attachment_id, "%s: attachment %#llx", what,
		     (unsigned long long)got->attachment_id);
	cr_expect_eq(got->cookie, want->cookie, "%s: cookie %#x", what, got->cookie);
}

/* ---- reading from the edge of a page ------------------------------------ */

/* Two pages, the second PROT_NONE: bytes copied to the end of the first
 * are followed by memory whose every read faults, sanitizers or not. */
struct guarded {
	uint8_t *map;
	size_t page;
};

static void guard_init(struct guarded *gp)
{
	gp->page = (size_t)sysconf(_SC_PAGESIZE);
	gp->map = mmap(NULL, 2 * gp->page, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(gp->map, MAP_FAILED);
	cr_assert_eq(mprotect(gp->map + gp->page, gp->page, PROT_NONE), 0);
}

static void guard_fini(struct guarded *gp)
{
	cr_expect_eq(munmap(gp->map, 2 * gp->page), 0);
}

/* p[0..len) moved to just before the inaccessible page. */
static const uint8_t *at_edge(struct guarded *gp, const uint8_t *p, size_t len)
{
	uint8_t *dst = gp->map + gp->page - len;
	memmove(dst, p, len);
	return dst;
}

/* Parses p[0..len) placed at the edge of a page. */
static int parse_guarded(const uint8_t *p, size_t len, struct nlb_geneve_aws *g,
			 enum nlb_geneve_error *err)
{
	struct guarded gp;
	guard_init(&gp);
	int r = nlb_geneve_parse(at_edge(&gp, p, len), len, g, err);
	guard_fini(&gp);
	return r;
}

/* ---- building packets ------------------------------------------------------ */

/* A GENEVE packet put together option by option; pkt_end fills in the
 * base header's option length from what was added. */
struct pkt {
	uint8_t b[512];
	size_t len;
};

static void pkt_begin(struct pkt *k, uint8_t ver, uint8_t flags, uint16_t proto)
{
	memset(k, 0, sizeof(*k));
	k->b[0] = (uint8_t)(ver << 6);
	k->b[1] = flags;
	k->b[2] = (uint8_t)(proto >> 8);
	k->b[3] = (uint8_t)proto;
	k->len = 8;
}

/* An option of class and type with words * 4 bytes of data, each fill. */
static void pkt_opt(struct pkt *k, uint16_t class, uint8_t type, unsigned words, uint8_t fill)
{
	uint8_t *o = k->b + k->len;
	o[0] = (uint8_t)(class >> 8);
	o[1] = (uint8_t)class;
	o[2] = type;
	o[3] = (uint8_t)words;
	memset(o + 4, fill, words * 4);
	k->len += 4 + words * 4;
}

static void pkt_u64(struct pkt *k, uint8_t type, uint64_t v)
{
	pkt_opt(k, NLB_GENEVE_AWS_CLASS, type, 2, 0);
	for (int i = 0; i < 8; i++)
		k->b[k->len - 8 + i] = (uint8_t)(v >> (56 - 8 * i));
}

static void pkt_cookie(struct pkt *k, uint32_t v)
{
	pkt_opt(k, NLB_GENEVE_AWS_CLASS, NLB_GENEVE_OPT_COOKIE, 1, 0);
	for (int i = 0; i < 4; i++)
		k->b[k->len - 4 + i] = (uint8_t)(v >> (24 - 8 * i));
}

static void pkt_aws(struct pkt *k, const struct nlb_geneve_aws *g)
{
	pkt_u64(k, NLB_GENEVE_OPT_ENDPOINT, g->endpoint_id);
	pkt_u64(k, NLB_GENEVE_OPT_ATTACHMENT, g->attachment_id);
	pkt_cookie(k, g->cookie);
}

/* Sets the option length; returns the header's length (the inner
 * packet's offset). */
static size_t pkt_end(struct pkt *k)
{
	size_t words = (k->len - 8) / 4;
	cr_assert_leq(words, 63, "a test built more options than GENEVE can say");
	k->b[0] = (uint8_t)((k->b[0] & 0xc0) | words);
	return k->len;
}

static void pkt_inner(struct pkt *k, size_t n)
{
	for (size_t i = 0; i < n; i++)
		k->b[k->len + i] = (uint8_t)(0x45 + i);
	k->len += n;
}

/* ---- writing ------------------------------------------------------------- */

T_UNIT(geneve, written_header_byte_for_byte)
{
	uint8_t out[NLB_GENEVE_AWS_LEN + 8];
	memset(out, 0xee, sizeof(out));
	nlb_geneve_write(out, &sample);

	static const uint8_t want[NLB_GENEVE_AWS_LEN] = {
		0x00 | 8, 0x00, U16(0x0800), 0x00, 0x00, 0x00, 0x00,
		U16(0x0108), 0x01, 2, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
		U16(0x0108), 0x02, 2, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10,
		U16(0x0108), 0x03, 1, 0xa1, 0xb2, 0xc3, 0xd4,
	};
	cr_expect_arr_eq(out, want, sizeof(want));
	for (size_t i = NLB_GENEVE_AWS_LEN; i < sizeof(out); i++)
		cr_expect_eq(out[i], 0xee, "byte %zu past the header written", i);

	/* The base header, RFC 8926 3.4, field by field. */
	cr_expect_eq(out[0] >> 6, 0, "version");
	cr_expect_eq((out[0] & 0x3f) * 4, NLB_GENEVE_AWS_LEN - 8, "option length, in words");
	cr_expect_eq(out[1] >> 7, 0, "O: data, not control");
	cr_expect_eq((out[1] >> 6) & 1, 0, "C: no critical option");
	cr_expect_eq(out[1] & 0x3f, 0, "reserved");
	cr_expect_eq(out[2] << 8 | out[3], NLB_GENEVE_PROTO_IPV4, "protocol type");
	cr_expect_eq(out[4] << 16 | out[5] << 8 | out[6], 0, "VNI");
	cr_expect_eq(out[7], 0, "reserved");

	/* The options, RFC 8926 3.5, in the order endpoint, attachment,
	 * cookie. */
	static const struct {
		uint8_t type, words;
		uint64_t value;
	} opts[] = {
		{ NLB_GENEVE_OPT_ENDPOINT, 2, 0x0123456789abcdefULL },
		{ NLB_GENEVE_OPT_ATTACHMENT, 2, 0xfedcba9876543210ULL },
		{ NLB_GENEVE_OPT_COOKIE, 1, 0xa1b2c3d4 },
	};
	size_t at = 8;
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		const uint8_t *o = out + at;
		cr_expect_eq(o[0] << 8 | o[1], NLB_GENEVE_AWS_CLASS, "option %zu class", i);
		cr_expect_eq(o[2] & 0x7f, opts[i].type, "option %zu type", i);
		cr_expect_eq(o[2] >> 7, 0, "option %zu not critical", i);
		cr_expect_eq(o[3] >> 5, 0, "option %zu reserved bits", i);
		cr_expect_eq(o[3] & 0x1f, opts[i].words, "option %zu length", i);
		uint64_t v = 0;
		for (size_t j = 0; j < opts[i].words * 4u; j++)
			v = v << 8 | o[4 + j];
		cr_expect_eq(v, opts[i].value, "option %zu value %#llx", i, (unsigned long long)v);
		at += 4 + opts[i].words * 4u;
	}
	cr_expect_eq(at, NLB_GENEVE_AWS_LEN);
}

T_UNIT(geneve, write_then_parse)
{
	static const struct nlb_geneve_aws cases[] = {
		{ NLB_GENEVE_PROTO_IPV4, 0x0123456789abcdefULL, 0xfedcba9876543210ULL, 0xa1b2c3d4 },
		{ NLB_GENEVE_PROTO_IPV6, 0x0123456789abcdefULL, 0xfedcba9876543210ULL, 0xa1b2c3d4 },
		{ NLB_GENEVE_PROTO_IPV4, 0, 0, 0 },
		{ NLB_GENEVE_PROTO_IPV6, UINT64_MAX, UINT64_MAX, UINT32_MAX },
		{ NLB_GENEVE_PROTO_IPV4, 1, 1ULL << 63, 0x80000001 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t buf[NLB_GENEVE_AWS_LEN + 20];
		nlb_geneve_write(buf, &cases[i]);
		memset(buf + NLB_GENEVE_AWS_LEN, 0x45, 20);
		for (size_t len = NLB_GENEVE_AWS_LEN; len <= sizeof(buf); len += 20) {
			struct nlb_geneve_aws g = untouched;
			enum nlb_geneve_error err = NLB_GENEVE_E_COUNT;
			int r = parse_guarded(buf, len, &g, &err);
			cr_expect_eq(r, NLB_GENEVE_AWS_LEN, "case %zu len %zu: %d (%s)", i, len, r,
				     nlb_geneve_error_name(err));
			cr_expect_eq(err, NLB_GENEVE_OK);
			expect_fields(&g, &cases[i], "round trip");
		}
	}
}

/* ---- what AWS sends ----------------------------------------------------- */

/* A packet as the GWLB sends one to an appliance, written out from RFC
 * 8926 and the options aws-gateway-load-balancer-tunnel-handler reads
 * (GenevePacket.cpp: class 0x108, type 1 with 8 bytes the GWLB
 * endpoint id, type 2 with 8 the attachment id, type 3 with 4 the flow
 * cookie), then the inner IPv4 packet itself, no Ethernet header. */
T_UNIT(geneve, parses_packet_as_gwlb_sends_it)
{
	static const uint8_t pkt[] = {
		/* ver 0, opt len 8 words; no O, no C; IPv4; VNI 0; reserved */
		0x08, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00,
		/* class 0x0108, type 1, 2 words: GWLB endpoint id */
		0x01, 0x08, 0x01, 0x02, 0x0a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f, 0x60, 0x71,
		/* class 0x0108, type 2, 2 words: attachment id */
		0x01, 0x08, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x12, 0x34, 0x56, 0x78,
		/* class 0x0108, type 3, 1 word: flow cookie */
		0x01, 0x08, 0x03, 0x01, 0xde, 0xad, 0xbe, 0xef,
		/* inner IPv4: 10.0.0.1 -> 10.0.1.2, UDP, 28 bytes */
		0x45, 0x00, 0x00, 0x1c, 0x00, 0x01, 0x00, 0x00, 0x40, 0x11, 0x00, 0x00,
		0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x01, 0x02,
		0x30, 0x39, 0x00, 0x35, 0x00, 0x08, 0x00, 0x00,
	};
	static const struct nlb_geneve_aws want = {
		NLB_GENEVE_PROTO_IPV4, 0x0a1b2c3d4e5f6071ULL, 0x12345678, 0xdeadbeef,
	};
	struct nlb_geneve_aws g = untouched;
	enum nlb_geneve_error err;
	int r = parse_guarded(pkt, sizeof(pkt), &g, &err);
	cr_assert_eq(r, 40, "%d (%s)", r, nlb_geneve_error_name(err));
	cr_expect_eq(err, NLB_GENEVE_OK);
	expect_fields(&g, &want, "gwlb");
	cr_expect_eq(pkt[r], 0x45, "the inner packet starts at the offset");

	/* nlb's own header for the same fields is the same 40 bytes. */
	uint8_t out[NLB_GENEVE_AWS_LEN];
	nlb_geneve_write(out, &want);
	cr_expect_arr_eq(out, pkt, sizeof(out));
}

T_UNIT(geneve, parses_ipv6_inner_packet)
{
	static const uint8_t pkt[] = {
		0x08, 0x00, 0x86, 0xdd, 0x00, 0x00, 0x00, 0x00,
		0x01, 0x08, 0x01, 0x02, 0, 0, 0, 0, 0, 0, 0, 1,
		0x01, 0x08, 0x02, 0x02, 0, 0, 0, 0, 0, 0, 0, 2,
		0x01, 0x08, 0x03, 0x01, 0, 0, 0, 3,
		/* the start of an IPv6 header */
		0x60, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3b, 0x40,
	};
	static const struct nlb_geneve_aws want = { NLB_GENEVE_PROTO_IPV6, 1, 2, 3 };
	struct nlb_geneve_aws g;
	enum nlb_geneve_error err;
	cr_expect_eq(parse_guarded(pkt, sizeof(pkt), &g, &err), 40);
	expect_fields(&g, &want, "ipv6");
}

/* ---- options nlb does not read -------------------------------------------- */

T_UNIT(geneve, other_classes_skipped_anywhere)
{
	struct pkt k;
	pkt_begin(&k, 0, 0, NLB_GENEVE_PROTO_IPV4);
	/* before: standard class, experimental class, a zero-length one */
	pkt_opt(&k, 0x0000, 0x01, 3, 0xff);
	pkt_opt(&k, 0xffff, 0x7f, 0, 0);
	pkt_u64(&k, NLB_GENEVE_OPT_ENDPOINT, sample.endpoint_id);
	/* between: AWS's neighbours by class, with AWS's type numbers */
	pkt_opt(&k, 0x0107, NLB_GENEVE_OPT_ATTACHMENT, 2, 0x11);
	pkt_u64(&k, NLB_GENEVE_OPT_ATTACHMENT, sample.attachment_id);
	pkt_opt(&k, 0x0109, NLB_GENEVE_OPT_COOKIE, 5, 0x22);
	pkt_cookie(&k, sample.cookie);
	/* after: one at the 5-bit length's maximum, 31 words */
	pkt_opt(&k, 0x0103, 0x05, 31, 0x33);
	size_t hdr = pkt_end(&k);
	cr_assert_eq(hdr, 8 + 16 + 4 + 12 + 12 + 12 + 24 + 8 + 128);
	pkt_inner(&k, 20);

	struct nlb_geneve_aws g = untouched;
	enum nlb_geneve_error err;
	int r = parse_guarded(k.b, k.len, &g, &err);
	cr_assert_eq(r, (int)hdr, "%d (%s)", r, nlb_geneve_error_name(err));
	expect_fields(&g, &sample, "other classes");
	cr_expect_eq(k.b[r], 0x45, "the inner packet starts at the offset");

	/* The header with nothing after it: the inner packet is empty. */
	cr_expect_eq(parse_guarded(k.b, hdr, &g, &err), (int)hdr);
}

T_UNIT(geneve, aws_options_in_any_order)
{
	struct pkt k;
	pkt_begin(&k, 0, 0, NLB_GENEVE_PROTO_IPV6);
	pkt_cookie(&k, sample.cookie);
	pkt_u64(&k, NLB_GENEVE_OPT_ATTACHMENT, sample.attachment_id);
	pkt_u64(&k, NLB_GENEVE_OPT_ENDPOINT, sample.endpoint_id);
	size_t hdr = pkt_end(&k);
	struct nlb_geneve_aws g, want = sample;
	enum nlb_geneve_error err;
	want.protocol = NLB_GENEVE_PROTO_IPV6;
	cr_expect_eq(parse_guarded(k.b, k.len, &g, &err), (int)hdr);
	expect_fields(&g, &want, "reversed");
}

T_UNIT(geneve, repeated_aws_option_last_counts)
{
	struct pkt k;
	pkt_begin(&k, 0, 0, NLB_GENEVE_PROTO_IPV4);
	pkt_u64(&k, NLB_GENEVE_OPT_ENDPOINT, 111);
	pkt_cookie(&k, 222);
	pkt_aws(&k, &sample);
	size_t hdr = pkt_end(&k);
	struct nlb_geneve_aws g;
	enum nlb_geneve_error err;
	cr_expect_eq(parse_guarded(k.b, k.len, &g, &err), (int)hdr);
	expect_fields(&g, &sample, "repeated");
}

T_UNIT(geneve, unknown_aws_type_skipped_unless_critical)
{
	static const uint8_t types[] = { 0, 4, 0x10, 0x7f };
	for (size_t i = 0; i < sizeof(types); i++) {
		struct pkt k;
		pkt_begin(&k, 0, 0, NLB_GENEVE_PROTO_IPV4);
		pkt_u64(&k, NLB_GENEVE_OPT_ENDPOINT, sample.endpoint_id);
		pkt_opt(&k, NLB_GENEVE_AWS_CLASS, types[i], 2, 0x77);
		pkt_u64(&k, NLB_GENEVE_OPT_ATTACHMENT, sample.attachment_id);
		pkt_cookie(&k, sample.cookie);
		size_t hdr = pkt_end(&k);
		struct nlb_geneve_aws g;
		enum nlb_geneve_error err;
		int r = parse_guarded(k.b, k.len, &g, &err);
		cr_expect_eq(r, (int)hdr, "type %#x: %d (%s)", types[i], r, nlb_geneve_error_name(err));
		expect_fields(&g, &sample, "unknown aws type");

		/* The same type with the critical bit: refused. */
		k.b[8 + 12 + 2] |= 0x80;
		g = untouched;
		cr_expect_eq(parse_guarded(k.b, k.len, &g, &err), -EINVAL);
		cr_expect_eq(err, NLB_GENEVE_E_CRITICAL, "type %#x: %s", types[i] | 0x80,
			     nlb_geneve_error_name(err));
		expect_fields(&g, &untouched, "refused");
	}
}

/* RFC 8926 3.5: an endpoint drops a packet with a critical option it
 * does not understand, of whatever class, wherever it is, and whatever
 * the C bit says. */
T_UNIT(geneve, critical_unknown_refused)
{
	static const struct {
		uint16_t class;
		uint8_t type;
		int where;		/* 0 before the AWS options, 1 after */
		uint8_t flags;
	} cases[] = {
		{ 0x0000, 0x80, 0, 0x40 },
		{ 0x0000, 0xff, 1, 0x40 },
		{ 0xffff, 0x81, 0, 0 },		/* C clear: the option's bit counts */
		{ 0x0109, 0x83, 1, 0 },
		/* AWS's type numbers with the critical bit are other types */
		{ NLB_GENEVE_AWS_CLASS, 0x81, 1, 0x40 },
		{ NLB_GENEVE_AWS_CLASS, 0x83, 0, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pkt k;
		pkt_begin(&k, 0, cases[i].flags, NLB_GENEVE_PROTO_IPV4);
		if (cases[i].where == 0)
			pkt_opt(&k, cases[i].class, cases[i].type, 1, 0);
		pkt_aws(&k, &sample);
		if (cases[i].where == 1)
			pkt_opt(&k, cases[i].class, cases[i].type, 0, 0);
		pkt_end(&k);
		struct nlb_geneve_aws g = untouched;
		enum nlb_geneve_error err = NLB_GENEVE_OK;
		cr_expect_eq(parse_guarded(k.b, k.len, &g, &err), -EINVAL, "case %zu", i);
		cr_expect_eq(err, NLB_GENEVE_E_CRITICAL, "case %zu: %s", i, nlb_geneve_error_name(err));
		expect_fields(&g, &untouched, "refused");
	}
}

/* What the RFC has receivers ignore is ignored: the C bit with no
 * critical option, reserved bits, the VNI. */
T_UNIT(geneve, ignored_bits_ignored)
{
	uint8_t buf[NLB_GENEVE_AWS_LEN];
	nlb_geneve_write(buf, &sample);
	buf[1] = 0x7f;			/* C and the 6 reserved bits */
	buf[4] = 0xab;			/* VNI */
	buf[6] = 0xcd;
	buf[7] = 0xff;			/* reserved */
	buf[8 + 3] |= 0xe0;		/* an option's 3 reserved bits */
	struct nlb_geneve_aws g;
	enum nlb_geneve_error err;
	int r = parse_guarded(buf, sizeof(buf), &g, &err);
	cr_expect_eq(r, NLB_GENEVE_AWS_LEN, "%d (%s)", r, nlb_geneve_error_name(err));
	expect_fields(&g, &sample, "ignored bits");
}

/* ---- refusals ------------------------------------------------------------ */

/* A valid header, then one byte changed; or a packet built to fail. */
T_UNIT(geneve, each_refusal_reason)
{
	uint8_t good[NLB_GENEVE_AWS_LEN];
	nlb_geneve_write(good, &sample);
	static const struct {
		const char *what;
		size_t at;
		uint8_t value;
		enum nlb_geneve_error want;
	} edits[] = {
		{ "version 1", 0, 0x40 | 8, NLB_GENEVE_E_VERSION },
		{ "version 2", 0, 0x80 | 8, NLB_GENEVE_E_VERSION },
		{ "version 3", 0, 0xc0 | 8, NLB_GENEVE_E_VERSION },
		{ "O bit", 1, 0x80, NLB_GENEVE_E_OAM },
		{ "O and C bits", 1, 0xc0, NLB_GENEVE_E_OAM },
		{ "protocol 0x6500", 2, 0x65, NLB_GENEVE_E_PROTOCOL },
		{ "protocol 0x0000", 2, 0x00, NLB_GENEVE_E_PROTOCOL },
		{ "protocol 0x0801", 3, 0x01, NLB_GENEVE_E_PROTOCOL },
		{ "opt len past the packet", 0, 9, NLB_GENEVE_E_TRUNCATED },
		{ "opt len 63", 0, 63, NLB_GENEVE_E_TRUNCATED },
		{ "opt len 0", 0, 0, NLB_GENEVE_E_MISSING },
		{ "endpoint 1 word", 8 + 3, 1, NLB_GENEVE_E_OPTION },
		{ "endpoint 3 words", 8 + 3, 3, NLB_GENEVE_E_OPTION },
		{ "attachment 0 words", 20 + 3, 0, NLB_GENEVE_E_OPTION },
		{ "attachment 1 word", 20 + 3, 1, NLB_GENEVE_E_OPTION },
		{ "cookie 0 words", 32 + 3, 0, NLB_GENEVE_E_OPTION },
		{ "cookie 2 words", 32 + 3, 2, NLB_GENEVE_E_OPTION },
		{ "cookie 31 words", 32 + 3, 31, NLB_GENEVE_E_OPTION },
		{ "endpoint of another class", 8 + 1, 0x09, NLB_GENEVE_E_MISSING },
		{ "attachment as type 4", 20 + 2, 4, NLB_GENEVE_E_MISSING },
		{ "cookie as type 0", 32 + 2, 0, NLB_GENEVE_E_MISSING },
		{ "endpoint critical", 8 + 2, 0x81, NLB_GENEVE_E_CRITICAL },
	};
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		uint8_t buf[NLB_GENEVE_AWS_LEN];
		memcpy(buf, good, sizeof(buf));
		buf[edits[i].at] = edits[i].value;
		struct nlb_geneve_aws g = untouched;
		enum nlb_geneve_error err = NLB_GENEVE_OK;
		int r = parse_guarded(buf, sizeof(buf), &g, &err);
		cr_expect_eq(r, -EINVAL, "%s: %d", edits[i].what, r);
		cr_expect_eq(err, edits[i].want, "%s: %s, not %s", edits[i].what,
			     nlb_geneve_error_name(err), nlb_geneve_error_name(edits[i].want));
		expect_fields(&g, &untouched, edits[i].what);
	}

	/* AWS options one word too long or too short, with room for it in
	 * the options: the length, not the room, is refused. */
	static const struct {
		uint8_t type;
		unsigned words;
	} sizes[] = {
		{ NLB_GENEVE_OPT_ENDPOINT, 1 }, { NLB_GENEVE_OPT_ENDPOINT, 3 },
		{ NLB_GENEVE_OPT_ATTACHMENT, 1 }, { NLB_GENEVE_OPT_ATTACHMENT, 3 },
		{ NLB_GENEVE_OPT_COOKIE, 0 }, { NLB_GENEVE_OPT_COOKIE, 2 },
	};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct pkt k;
		pkt_begin(&k, 0, 0, NLB_GENEVE_PROTO_IPV4);
		pkt_opt(&k, NLB_GENEVE_AWS_CLASS, sizes[i].type, sizes[i].words, 0);
		pkt_aws(&k, &sample);
		pkt_end(&k);
		struct nlb_geneve_aws g = untouched;
		enum nlb_geneve_error err;
		cr_expect_eq(parse_guarded(k.b, k.len, &g, &err), -EINVAL);
		cr_expect_eq(err, NLB_GENEVE_E_OPTION, "type %u in %u words: %s", sizes[i].type,
			     sizes[i].words, nlb_geneve_error_name(err));
		expect_fields(&g, &untouched, "wrong length");
	}

	/* An option, not the last, whose length runs past the options. */
	struct pkt k;
	pkt_begin(&k, 0, 0, NLB_GENEVE_PROTO_IPV4);
	pkt_aws(&k, &sample);
	pkt_opt(&k, 0x0000, 0x01, 2, 0);
	pkt_end(&k);
	k.b[40 + 3] = 3;		/* says 12 bytes, 8 are left */
	pkt_inner(&k, 40);		/* and bytes to read past them */
	enum nlb_geneve_error err;
	struct nlb_geneve_aws g;
	cr_expect_eq(parse_guarded(k.b, k.len, &g, &err), -EINVAL);
	cr_expect_eq(err, NLB_GENEVE_E_OPTION, "%s", nlb_geneve_error_name(err));

	/* Version checked before anything but the base header's length:
	 * a version 1 header may lay the rest out otherwise. */
	static const uint8_t v1[8] = { 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0 };
	cr_expect_eq(parse_guarded(v1, sizeof(v1), &g, &err), -EINVAL);
	cr_expect_eq(err, NLB_GENEVE_E_VERSION);
}

T_UNIT(geneve, each_missing_option)
{
	for (int drop = 1; drop <= 3; drop++) {
		struct pkt k;
		pkt_begin(&k, 0, 0, NLB_GENEVE_PROTO_IPV4);
		if (drop != NLB_GENEVE_OPT_ENDPOINT)
			pkt_u64(&k, NLB_GENEVE_OPT_ENDPOINT, 1);
		if (drop != NLB_GENEVE_OPT_ATTACHMENT)
			pkt_u64(&k, NLB_GENEVE_OPT_ATTACHMENT, 2);
		if (drop != NLB_GENEVE_OPT_COOKIE)
			pkt_cookie(&k, 3);
		pkt_opt(&k, 0x0000, 0x01, 1, 0);
		pkt_end(&k);
		struct nlb_geneve_aws g = untouched;
		enum nlb_geneve_error err;
		cr_expect_eq(parse_guarded(k.b, k.len, &g, &err), -EINVAL);
		cr_expect_eq(err, NLB_GENEVE_E_MISSING, "without type %d: %s", drop,
			     nlb_geneve_error_name(err));
		expect_fields(&g, &untouched, "missing");
	}
}

/* Every length short of the header is refused as truncated; each is
 * read at the edge of a page, so a parser trusting the option length
 * over len would fault. */
T_UNIT(geneve, every_truncation_refused)
{
	struct pkt plain, extra;
	pkt_begin(&plain, 0, 0, NLB_GENEVE_PROTO_IPV4);
	pkt_aws(&plain, &sample);
	pkt_end(&plain);
	pkt_begin(&extra, 0, 0, NLB_GENEVE_PROTO_IPV6);
	pkt_opt(&extra, 0x0000, 0x01, 4, 0x99);
	pkt_aws(&extra, &sample);
	pkt_opt(&extra, 0xffff, 0x02, 0, 0);
	pkt_end(&extra);
	struct pkt *pkts[] = { &plain, &extra };

	struct guarded gp;
	guard_init(&gp);
	for (size_t i = 0; i < 2; i++) {
		size_t hdr = pkts[i]->len;
		for (size_t len = 0; len < hdr; len++) {
			struct nlb_geneve_aws g = untouched;
			enum nlb_geneve_error err = NLB_GENEVE_OK;
			const uint8_t *p = at_edge(&gp, pkts[i]->b, len);
			cr_expect_eq(nlb_geneve_parse(p, len, &g, &err), -EINVAL,
				     "packet %zu, %zu of %zu bytes", i, len, hdr);
			cr_expect_eq(err, NLB_GENEVE_E_TRUNCATED, "packet %zu, %zu bytes: %s",
				     i, len, nlb_geneve_error_name(err));
			expect_fields(&g, &untouched, "truncated");
		}
		struct nlb_geneve_aws g;
		enum nlb_geneve_error err;
		cr_expect_eq(nlb_geneve_parse(at_edge(&gp, pkts[i]->b, hdr), hdr, &g, &err),
			     (int)hdr, "packet %zu whole", i);
	}
	guard_fini(&gp);
}

/* The option length cut short instead (the packet has all its bytes):
 * an option that no longer fits the options is refused as such, one
 * cut between options leaves AWS's missing. */
T_UNIT(geneve, every_short_option_length_refused)
{
	static const enum nlb_geneve_error want[8] = {
		NLB_GENEVE_E_MISSING,			/* no options */
		NLB_GENEVE_E_OPTION, NLB_GENEVE_E_OPTION,	/* in the endpoint */
		NLB_GENEVE_E_MISSING,			/* after it */
		NLB_GENEVE_E_OPTION, NLB_GENEVE_E_OPTION,	/* in the attachment */
		NLB_GENEVE_E_MISSING,			/* after it */
		NLB_GENEVE_E_OPTION,			/* in the cookie */
	};
	for (unsigned words = 0; words < 8; words++) {
		uint8_t buf[NLB_GENEVE_AWS_LEN];
		nlb_geneve_write(buf, &sample);
		buf[0] = (uint8_t)words;
		struct nlb_geneve_aws g = untouched;
		enum nlb_geneve_error err;
		cr_expect_eq(parse_guarded(buf, sizeof(buf), &g, &err), -EINVAL, "%u words", words);
		cr_expect_eq(err, want[words], "%u words: %s", words, nlb_geneve_error_name(err));
		expect_fields(&g, &untouched, "short option length");
	}
}

/* ---- names --------------------------------------------------------------- */

T_UNIT(geneve, error_names)
{
	static const char *const want[NLB_GENEVE_E_COUNT] = {
		[NLB_GENEVE_OK] = "ok",
		[NLB_GENEVE_E_TRUNCATED] = "truncated",
		[NLB_GENEVE_E_VERSION] = "version",
		[NLB_GENEVE_E_OAM] = "oam",
		[NLB_GENEVE_E_CRITICAL] = "critical",
		[NLB_GENEVE_E_OPTION] = "option",
		[NLB_GENEVE_E_PROTOCOL] = "protocol",
		[NLB_GENEVE_E_MISSING] = "missing",
	};
	for (int e = 0; e < NLB_GENEVE_E_COUNT; e++) {
		cr_assert_not_null(want[e], "reason %d has no expected name here", e);
		cr_expect_str_eq(nlb_geneve_error_name((enum nlb_geneve_error)e), want[e]);
	}
	cr_expect_str_eq(nlb_geneve_error_name(NLB_GENEVE_E_COUNT), "unknown");
	cr_expect_str_eq(nlb_geneve_error_name((enum nlb_geneve_error)-1), "unknown");
	cr_expect_str_eq(nlb_geneve_error_name((enum nlb_geneve_error)1000), "unknown");
}
