/* Suite "spsc_ring": the access log's byte ring (lib/spsc_ring.c): lines
 * pushed come out whole and in order across the wrap, a full ring refuses
 * a line whole, and one writer and one reader thread at full speed lose
 * or corrupt nothing. */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "helpers.h"
#include "spsc_ring.h"

T_UNIT(spsc_ring, lines_whole_and_in_order)
{
	struct nlb_spsc_ring r;
	cr_assert_eq(nlb_spsc_ring_init(&r, 100), 0);
	cr_assert_eq(r.cap, 4096);
	char line[64], out[8192];
	unsigned next = 0, seen = 0;
	for (int round = 0; round < 200; round++) {
		/* fill until refused, then read part, so the wrap moves */
		for (;;) {
			int n = snprintf(line, sizeof(line), "line %u\n", next);
			if (!nlb_spsc_ring_push(&r, line, (size_t)n))
				break;
			next++;
		}
		size_t got = nlb_spsc_ring_pop(&r, out, 1000 + (size_t)round * 7);
		cr_assert(got > 0 && out[got - 1] == '\n', "round %d: %zu bytes", round, got);
		for (char *p = out; p < out + got; p = strchr(p, '\n') + 1) {
			unsigned v;
			cr_assert_eq(sscanf(p, "line %u\n", &v), 1);
			cr_assert_eq(v, seen, "line %u after %u", v, seen);
			seen++;
		}
	}
	/* the rest, then nothing */
	size_t got = nlb_spsc_ring_pop(&r, out, sizeof(out));
	for (char *p = out; p < out + got; p = strchr(p, '\n') + 1)
		seen++;
	cr_assert_eq(seen, next, "%u lines read of %u pushed", seen, next);
	cr_assert_eq(nlb_spsc_ring_pop(&r, out, sizeof(out)), 0);
	nlb_spsc_ring_free(&r);
}

T_UNIT(spsc_ring, full_ring_refuses_whole)
{
	struct nlb_spsc_ring r;
	cr_assert_eq(nlb_spsc_ring_init(&r, 4096), 0);
	char big[4000];
	memset(big, 'x', sizeof(big));
	big[sizeof(big) - 1] = '\n';
	cr_assert(nlb_spsc_ring_push(&r, big, sizeof(big)));
	cr_assert_not(nlb_spsc_ring_push(&r, big, 97), "97 bytes into 96 free");
	cr_assert(nlb_spsc_ring_push(&r, big + 3904, 96));
	char out[8192];
	cr_assert_eq(nlb_spsc_ring_pop(&r, out, sizeof(out)), 4096);
	cr_assert_eq(nlb_spsc_ring_pop(&r, out, sizeof(out)), 0);
	nlb_spsc_ring_free(&r);
}

struct pair {
	struct nlb_spsc_ring r;
	unsigned lines, dropped;
};

static void *writer(void *arg)
{
	struct pair *p = arg;
	char line[64];
	for (unsigned i = 0; i < p->lines; i++) {
		int n = snprintf(line, sizeof(line), "%u %u\n", i, i * 2654435761u);
		if (!nlb_spsc_ring_push(&p->r, line, (size_t)n))
			p->dropped++;
	}
	return NULL;
}

T_UNIT(spsc_ring, two_threads, .timeout = 30)
{
	struct pair p = { .lines = 2000000 };
	cr_assert_eq(nlb_spsc_ring_init(&p.r, 1 << 16), 0);
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, writer, &p), 0);
	static char out[1 << 15];
	unsigned got = 0, last = 0;
	bool first = true, done = false;
	while (!done) {
		done = pthread_tryjoin_np(t, NULL) == 0;
		size_t n;
		while ((n = nlb_spsc_ring_pop(&p.r, out, sizeof(out))) > 0) {
			for (char *q = out; q < out + n; q = strchr(q, '\n') + 1) {
				unsigned i, h;
				cr_assert_eq(sscanf(q, "%u %u\n", &i, &h), 2);
				cr_assert_eq(h, i * 2654435761u, "line %u corrupted", i);
				cr_assert(first || i > last, "line %u after %u", i, last);
				first = false;
				last = i;
				got++;
			}
		}
	}
	cr_expect_eq(got + p.dropped, p.lines, "%u read, %u dropped", got, p.dropped);
	nlb_spsc_ring_free(&p.r);
}
