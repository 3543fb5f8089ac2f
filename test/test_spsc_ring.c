/* Suite "spsc_ring": the byte ring of lib/spsc_ring.c: lines
 * pushed come out whole and in order across the wrap, a full ring refuses
 * a line whole, and one writer and one reader thread at full speed lose
 * or corrupt nothing; records (a length before each) likewise, and one
 * longer than the reader's room is dropped whole. */
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

/* A record's bytes: its number and length make them. */
static void record_fill(uint8_t *p, size_t n, unsigned k)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(k * 31 + i);
}

T_UNIT(spsc_ring, records_whole_in_order_across_the_wrap)
{
	struct nlb_spsc_ring r;
	cr_assert_eq(nlb_spsc_ring_init(&r, 4096), 0);
	uint8_t in[1500], out[1500], want[1500];
	cr_assert_eq(nlb_spsc_ring_pop_record(&r, out, sizeof(out)), 0, "an empty ring");
	unsigned pushed = 0, popped = 0;
	for (int round = 0; round < 200; round++) {
		/* a head of 28 bytes and a body, as gateway mode pushes them */
		while (true) {
			size_t body = 1 + (pushed * 97) % 1400;
			record_fill(in, 28 + body, pushed);
			if (!nlb_spsc_ring_push_record(&r, in, 28, in + 28, body))
				break;
			pushed++;
		}
		for (int k = 0; k < 2 && popped < pushed; k++, popped++) {
			size_t body = 1 + (popped * 97) % 1400;
			size_t n = nlb_spsc_ring_pop_record(&r, out, sizeof(out));
			cr_assert_eq(n, 28 + body, "record %u: %zu bytes", popped, n);
			record_fill(want, n, popped);
			cr_assert_arr_eq(out, want, n, "record %u changed", popped);
		}
	}
	cr_expect_gt(pushed, 400, "the ring wrapped often: %u records", pushed);
	/* one longer than the reader's room is taken and dropped */
	while (nlb_spsc_ring_pop_record(&r, out, sizeof(out)) != 0)
		;
	cr_assert(nlb_spsc_ring_push_record(&r, in, 28, in, 100));
	cr_assert(nlb_spsc_ring_push_record(&r, in, 0, in, 10));
	cr_expect_eq(nlb_spsc_ring_pop_record(&r, out, 50), SIZE_MAX);
	cr_expect_eq(nlb_spsc_ring_pop_record(&r, out, 50), 10);
	cr_expect_not(nlb_spsc_ring_push_record(&r, in, 0, in, 0), "an empty record");
	cr_expect_not(nlb_spsc_ring_push_record(&r, in, 1500, in, 3000), "more than the ring");
	nlb_spsc_ring_free(&r);
}

struct record_run {
	struct nlb_spsc_ring r;
	unsigned n;
};

static void *record_writer(void *arg)
{
	struct record_run *run = arg;
	uint8_t in[600];
	for (unsigned k = 0; k < run->n;) {
		size_t n = 1 + (k * 13) % sizeof(in);
		record_fill(in, n, k);
		if (nlb_spsc_ring_push_record(&run->r, NULL, 0, in, n))
			k++;
	}
	return NULL;
}

T_UNIT(spsc_ring, records_between_two_threads)
{
	struct record_run run = { .n = 200000 };
	cr_assert_eq(nlb_spsc_ring_init(&run.r, 8192), 0);
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, record_writer, &run), 0);
	uint8_t out[600], want[600];
	for (unsigned k = 0; k < run.n;) {
		size_t n = nlb_spsc_ring_pop_record(&run.r, out, sizeof(out));
		if (n == 0)
			continue;
		cr_assert_eq(n, 1 + (k * 13) % sizeof(out), "record %u", k);
		record_fill(want, n, k);
		cr_assert_arr_eq(out, want, n, "record %u changed", k);
		k++;
	}
	pthread_join(th, NULL);
	nlb_spsc_ring_free(&run.r);
}
