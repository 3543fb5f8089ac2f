/* Micro-benchmark of allow/deny lists (lib/acl.c): the time to parse,
 * add and build 1,000, 100,000 and 1,000,000 random prefixes from text, the
 * memory the built set holds, and single-thread lookups per second for
 * addresses that hit, miss, half and half, and random IPv4 clients.
 * Built by `make` as build/acl-bench; run it without arguments.
 *
 * The prefixes: 80% IPv4 with lengths shaped like a routing table (half
 * /24, a fifth /22-/23, the rest /16-/21 and /25-/32) anywhere in
 * 1.0.0.0-223.255.255.255; 20% IPv6 under 2000::/3, /32-/64 with most at
 * /48, one in ten /128.  Lookups run over 2^20 precomputed addresses
 * (16 MiB, beyond the caches like real clients).  Each figure is the
 * median of several runs. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acl.h"
#include "micro.h"

#define NADDR   (1u << 20)
#define LOOKUPS (1u << 24)
#define REPEAT  5

/* Clears the bits of a past len. */
static void mask_to(uint8_t a[16], unsigned len)
{
	for (unsigned bit = len; bit < 128; bit++)
		a[bit / 8] &= (uint8_t)~(0x80u >> (bit % 8));
}

static unsigned v4_len(uint64_t r)
{
	unsigned k = (unsigned)(r % 100);
	if (k < 50)
		return 24;
	if (k < 70)
		return 22 + (unsigned)(r >> 8) % 2;
	if (k < 90)
		return 16 + (unsigned)(r >> 8) % 6;		/* 16..21 */
	return 25 + (unsigned)(r >> 8) % 8;			/* 25..32 */
}

static unsigned v6_len(uint64_t r)
{
	unsigned k = (unsigned)(r % 100);
	if (k < 10)
		return 128;
	if (k < 60)
		return 48;
	return 32 + (unsigned)(r >> 8) % 33;			/* 32..64 */
}

/* n prefixes as text, one NLB_CIDRSTRLEN slot each. */
static char *make_texts(size_t n, uint64_t seed)
{
	char *texts = malloc(n * NLB_CIDRSTRLEN);
	uint64_t rng = seed;

	if (texts == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		uint64_t r = rng_next(&rng), r1 = rng_next(&rng),
			 r2 = rng_next(&rng);
		struct nlb_cidr c;
		memset(&c, 0, sizeof(c));
		if (r % 10 < 8) {
			c.addr[10] = c.addr[11] = 0xff;
			memcpy(c.addr + 12, &r1, 4);
			c.addr[12] = (uint8_t)(1 + c.addr[12] % 223);
			c.len = (uint8_t)(96 + v4_len(r >> 8));
		} else {
			memcpy(c.addr, &r1, 8);
			memcpy(c.addr + 8, &r2, 8);
			c.addr[0] = (uint8_t)(0x20 | (c.addr[0] & 0x1f));
			c.len = (uint8_t)v6_len(r >> 8);
		}
		mask_to(c.addr, c.len);
		nlb_cidr_format(&c, texts + i * NLB_CIDRSTRLEN, NLB_CIDRSTRLEN);
	}
	return texts;
}

struct load_times {
	double parse, add, build;	/* ms */
};

/* Parses, adds and builds the n texts; the set is left in *out. */
static struct load_times load(const char *texts, size_t n,
			      struct nlb_cidr *scratch, struct nlb_acl **out)
{
	struct load_times t;
	uint64_t t0 = now_ns();
	for (size_t i = 0; i < n; i++)
		if (nlb_cidr_parse(texts + i * NLB_CIDRSTRLEN, &scratch[i]) < 0) {
			fprintf(stderr, "parse %s failed\n",
				texts + i * NLB_CIDRSTRLEN);
			exit(1);
		}
	uint64_t t1 = now_ns();
	struct nlb_acl *acl = nlb_acl_new();
	if (acl == NULL)
		exit(1);
	for (size_t i = 0; i < n; i++)
		if (nlb_acl_add(acl, &scratch[i]) < 0) {
			fprintf(stderr, "add failed\n");
			exit(1);
		}
	uint64_t t2 = now_ns();
	if (nlb_acl_build(acl) < 0) {
		fprintf(stderr, "build failed\n");
		exit(1);
	}
	uint64_t t3 = now_ns();
	t.parse = (double)(t1 - t0) / 1e6;
	t.add = (double)(t2 - t1) / 1e6;
	t.build = (double)(t3 - t2) / 1e6;
	*out = acl;
	return t;
}

enum mix { MIX_HIT, MIX_MISS, MIX_HALF, MIX_V4_RANDOM, MIX_COUNT };

static const char *const mix_name[MIX_COUNT] = {
	"hits (inside a prefix)",
	"misses",
	"50% hits, 50% misses",
	"random IPv4 clients",
};

static void random_v4(uint64_t r, uint8_t a[16])
{
	memset(a, 0, 10);
	a[10] = a[11] = 0xff;
	memcpy(a + 12, &r, 4);
}

/* An address outside the set: random, rejected while the set holds it.
 * The IPv4 space is mostly covered by a large list (as by a routing
 * table), so IPv4 misses take a few tries; IPv6 ones almost never. */
static void random_miss(const struct nlb_acl *acl, uint64_t *rng,
			uint8_t a[16])
{
	for (;;) {
		uint64_t r = rng_next(rng), r2 = rng_next(rng);
		if (r % 10 < 8) {
			random_v4(r >> 8, a);
		} else {
			memcpy(a, &r, 8);
			memcpy(a + 8, &r2, 8);
			a[0] = (uint8_t)(0x20 | (a[0] & 0x1f));
		}
		if (!nlb_acl_match(acl, a))
			return;
	}
}

static void random_hit(const struct nlb_cidr *p, size_t n, uint64_t *rng,
		       uint8_t a[16])
{
	uint64_t r = rng_next(rng), r1 = rng_next(rng), r2 = rng_next(rng);
	const struct nlb_cidr *c = &p[r % n];
	memcpy(a, &r1, 8);
	memcpy(a + 8, &r2, 8);
	for (unsigned bit = 0; bit < c->len; bit++) {
		uint8_t m = (uint8_t)(0x80u >> (bit % 8));
		a[bit / 8] = (uint8_t)((a[bit / 8] & ~m) | (c->addr[bit / 8] & m));
	}
}

static void make_addrs(const struct nlb_acl *acl, const struct nlb_cidr *p,
		       size_t n, enum mix mix, uint8_t (*addrs)[16])
{
	uint64_t rng = 0x61636c2d62656e63ULL + (uint64_t)mix;

	for (size_t i = 0; i < NADDR; i++) {
		switch (mix) {
		case MIX_HIT:
			random_hit(p, n, &rng, addrs[i]);
			break;
		case MIX_MISS:
			random_miss(acl, &rng, addrs[i]);
			break;
		case MIX_HALF:
			if (rng_next(&rng) % 2)
				random_hit(p, n, &rng, addrs[i]);
			else
				random_miss(acl, &rng, addrs[i]);
			break;
		default:
			random_v4(rng_next(&rng), addrs[i]);
			break;
		}
	}
}

/* Median ns per lookup; *hits counts the last run's matches. */
static double bench_lookups(const struct nlb_acl *acl,
			    const uint8_t (*addrs)[16], size_t *hits)
{
	double ns[REPEAT];

	for (int rep = 0; rep < REPEAT; rep++) {
		size_t acc = 0;
		uint64_t t0 = now_ns();
		for (uint32_t i = 0; i < LOOKUPS; i++)
			acc += nlb_acl_match(acl, addrs[i & (NADDR - 1)]);
		ns[rep] = (double)(now_ns() - t0) / LOOKUPS;
		*hits = acc;
	}
	return micro_median(ns, REPEAT);
}

static void run(size_t n, uint8_t (*addrs)[16])
{
	char *texts = make_texts(n, 0x6e6c62 + n);
	struct nlb_cidr *p = malloc(n * sizeof(*p));
	double parse[REPEAT], add[REPEAT], build[REPEAT], total[REPEAT];
	struct nlb_acl *acl = NULL;

	if (texts == NULL || p == NULL)
		exit(1);
	for (int rep = 0; rep < REPEAT; rep++) {
		nlb_acl_free(acl);
		struct load_times t = load(texts, n, p, &acl);
		parse[rep] = t.parse;
		add[rep] = t.add;
		build[rep] = t.build;
		total[rep] = t.parse + t.add + t.build;
	}
	size_t mem = nlb_acl_memory(acl);
	printf("%zu prefixes (80%% IPv4, 20%% IPv6)\n", n);
	printf("  load: %.1f ms (parse %.1f, add %.1f, build %.1f)\n",
	       micro_median(total, REPEAT), micro_median(parse, REPEAT),
	       micro_median(add, REPEAT), micro_median(build, REPEAT));
	printf("  memory: %.2f MiB (%.1f bytes a prefix, %zu nodes of 96 bytes)\n",
	       (double)mem / (1 << 20), (double)mem / (double)n, mem / 96);
	for (int m = 0; m < MIX_COUNT; m++) {
		size_t hits;
		make_addrs(acl, p, n, (enum mix)m, addrs);
		double ns = bench_lookups(acl, (const uint8_t (*)[16])addrs,
					  &hits);
		printf("  lookup, %-24s %6.1f ns  %6.1f M/s  (%.0f%% hit)\n",
		       mix_name[m], ns, 1e3 / ns,
		       100.0 * (double)hits / LOOKUPS);
	}
	nlb_acl_free(acl);
	free(p);
	free(texts);
}

int main(void)
{
	uint8_t (*addrs)[16] = malloc(NADDR * sizeof(*addrs));

	if (addrs == NULL)
		return 1;
	printf("median of %d runs; lookups: %u over %u addresses, one thread\n",
	       REPEAT, LOOKUPS, NADDR);
	/* A hand-kept list for scale, then the sizes a generated blocklist
	 * or a routing table reaches. */
	run(1000, addrs);
	run(100000, addrs);
	run(1000000, addrs);
	free(addrs);
	return 0;
}
