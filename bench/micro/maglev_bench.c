/* Micro-benchmark of the balancing path: Maglev table build time and the
 * cost of one decision (tuple hash + table lookup) for 10, 100 and 1000
 * targets, plus the flow table's hit and insert costs.  Not part of the
 * Makefile's globs; build line in the comment below.
 *
 *   gcc -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -pthread -Ilib \
 *       bench/micro/maglev_bench.c lib/maglev.c lib/tuple_hash.c \
 *       lib/flowtab.c -o build/maglev-bench && build/maglev-bench
 *
 * Each figure is the best of several repetitions: the least disturbed
 * run, the honest figure on a shared machine. */
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flowtab.h"
#include "maglev.h"
#include "tuple_hash.h"
#include "micro.h"

#define NTUPLES (1u << 16)	/* 2.5 MiB of tuples: beyond L2, like traffic */
#define LOOKUPS (1u << 24)
#define REPEAT  7

/* Random IPv4 clients (one in eight IPv6) to one listener. */
static void make_tuples(struct nlb_tuple *t, size_t n)
{
	uint64_t rng = 12345;

	for (size_t i = 0; i < n; i++) {
		uint64_t r = rng_next(&rng);
		memset(&t[i], 0, sizeof(t[i]));
		if ((r & 7) == 0) {
			uint64_t r2 = rng_next(&rng);
			t[i].src[0] = 0x20;
			t[i].src[1] = 0x01;
			memcpy(t[i].src + 8, &r2, 8);
		} else {
			t[i].src[10] = t[i].src[11] = 0xff;
			memcpy(t[i].src + 12, &r, 4);
		}
		t[i].dst[10] = t[i].dst[11] = 0xff;
		t[i].dst[12] = 192;
		t[i].dst[15] = 1;
		t[i].sport = (uint16_t)(r >> 32);
		t[i].dport = 0x5000;	/* 80, network order */
		t[i].proto = IPPROTO_TCP;
	}
}

static double bench_build(size_t M, const struct nlb_maglev_backend *b,
			  size_t n)
{
	double best = 1e30;

	for (int rep = 0; rep < REPEAT; rep++) {
		struct nlb_maglev m;
		uint64_t t0 = now_ns();
		if (nlb_maglev_build(&m, M, b, n, 1) < 0) {
			fprintf(stderr, "build failed\n");
			exit(1);
		}
		double ms = (double)(now_ns() - t0) / 1e6;
		nlb_maglev_free(&m);
		if (ms < best)
			best = ms;
	}
	return best;
}

/* mode 0: hash + lookup, 1: hash only, 2: lookup only (hashes ready). */
static double bench_lookup(const struct nlb_maglev *m,
			   const struct nlb_tuple *t, const uint64_t *hashes,
			   int mode, uint64_t *sink)
{
	double best = 1e30;

	for (int rep = 0; rep < REPEAT; rep++) {
		uint64_t acc = 0;
		uint64_t t0 = now_ns();
		for (uint32_t i = 0; i < LOOKUPS; i++) {
			uint32_t j = i & (NTUPLES - 1);
			if (mode == 0)
				acc += (uint64_t)nlb_maglev_lookup(m,
					nlb_tuple_hash(&t[j], 1,
						       NLB_HASH_5TUPLE));
			else if (mode == 1)
				acc += nlb_tuple_hash(&t[j], 1,
						      NLB_HASH_5TUPLE);
			else
				acc += (uint64_t)nlb_maglev_lookup(m,
								   hashes[j]);
		}
		double ns = (double)(now_ns() - t0) / LOOKUPS;
		*sink += acc;
		if (ns < best)
			best = ns;
	}
	return best;
}

static void bench_flowtab(const struct nlb_tuple *t, const uint64_t *hashes,
			  uint64_t *sink)
{
	struct nlb_flowtab *ft;
	double ins = 1e30, hit = 1e30, full = 1e30;

	if (nlb_flowtab_create(&ft, NTUPLES) < 0) {
		fprintf(stderr, "flowtab create failed\n");
		exit(1);
	}
	for (int rep = 0; rep < REPEAT; rep++) {
		nlb_flowtab_clear(ft);
		uint64_t t0 = now_ns();
		for (uint32_t i = 0; i < NTUPLES; i++)
			nlb_flowtab_insert(ft, &t[i], hashes[i], i, rep);
		double ns = (double)(now_ns() - t0) / NTUPLES;
		if (ns < ins)
			ins = ns;

		uint64_t acc = 0;
		t0 = now_ns();
		for (uint32_t i = 0; i < LOOKUPS; i++) {
			uint32_t j = (i * 40503u) & (NTUPLES - 1);
			uint32_t v = 0;
			nlb_flowtab_lookup(ft, &t[j], hashes[j], rep, &v);
			acc += v;
		}
		ns = (double)(now_ns() - t0) / LOOKUPS;
		*sink += acc;
		if (ns < hit)
			hit = ns;

		/* Full table, new flows: each insert evicts the LRU one. */
		t0 = now_ns();
		for (uint32_t i = 0; i < NTUPLES; i++) {
			struct nlb_tuple x = t[i];
			x.dport = 0x5100;
			nlb_flowtab_insert(ft, &x, hashes[i] ^ 0x5bd1e995, i,
					   rep);
		}
		ns = (double)(now_ns() - t0) / NTUPLES;
		if (ns < full)
			full = ns;
	}
	printf("flowtab, %u flows (full): insert %.1f ns, lookup hit %.1f ns, "
	       "insert with LRU eviction %.1f ns\n", NTUPLES, ins, hit, full);
	nlb_flowtab_destroy(ft);
}

int main(void)
{
	static char keys[1000][32];
	static struct nlb_maglev_backend b[1000];
	struct nlb_tuple *t = malloc(NTUPLES * sizeof(*t));
	uint64_t *hashes = malloc(NTUPLES * sizeof(*hashes));
	uint64_t sink = 0;

	if (t == NULL || hashes == NULL)
		return 1;
	make_tuples(t, NTUPLES);
	for (uint32_t i = 0; i < NTUPLES; i++)
		hashes[i] = nlb_tuple_hash(&t[i], 1, NLB_HASH_5TUPLE);
	for (size_t i = 0; i < 1000; i++) {
		snprintf(keys[i], sizeof(keys[i]), "10.%zu.%zu.%zu:9000",
			 i / 62500, i / 250 % 250, i % 250 + 1);
		b[i].key = keys[i];
		b[i].weight = 1;
	}

	/* M >= 100 n: 65537 serves up to 655 targets; for 1000 the
	 * smallest prime >= 100000 is used, and Katran's large size
	 * 655373 is shown for comparison. */
	const struct { size_t n, M; } cases[] = {
		{ 10, 65537 },
		{ 100, 65537 },
		{ 1000, 0 },
		{ 1000, 655373 },
	};
	printf("%-8s %-8s %10s %12s %10s %12s\n", "targets", "M", "build ms",
	       "hash+lookup", "hash only", "lookup only");
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		size_t n = cases[c].n;
		size_t M = cases[c].M != 0 ? cases[c].M :
			   nlb_next_prime(NLB_MAGLEV_SIZE_FACTOR * n);
		if (nlb_maglev_check(M, n) < 0) {
			fprintf(stderr, "M = %zu too small for %zu\n", M, n);
			return 1;
		}
		struct nlb_maglev m;
		double build = bench_build(M, b, n);
		if (nlb_maglev_build(&m, M, b, n, 1) < 0)
			return 1;
		double both = bench_lookup(&m, t, hashes, 0, &sink);
		double hash = bench_lookup(&m, t, hashes, 1, &sink);
		double look = bench_lookup(&m, t, hashes, 2, &sink);
		printf("%-8zu %-8zu %10.3f %9.1f ns %7.1f ns %9.1f ns\n", n, M,
		       build, both, hash, look);
		nlb_maglev_free(&m);
	}

	/* Unequal weights take the weighted path (several classes). */
	for (size_t i = 0; i < 1000; i++)
		b[i].weight = (uint32_t)(i % 10 + 1);
	printf("weights 1..10, 100 targets, M = 65537: build %.3f ms\n",
	       bench_build(65537, b, 100));
	for (size_t i = 0; i < 1000; i++)
		b[i].weight = i == 0 ? 1000 : 1;
	printf("weights 1000 and 99 x 1, M = 65537: build %.3f ms\n",
	       bench_build(65537, b, 100));

	bench_flowtab(t, hashes, &sink);
	/* Printed so the compiler must compute every lookup. */
	fprintf(stderr, "(checksum %" PRIu64 ")\n", sink);
	free(t);
	free(hashes);
	return 0;
}
