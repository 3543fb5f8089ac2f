/* Suite "qsbr": the contract of lib/qsbr.h's advance and passed, the two
 * calls nlb's control plane makes (nlb/balance/target_set.c; test_target_set
 * runs that code itself).  A writer that swapped a pointer, took an epoch
 * from advance and then saw passed(epoch) may free the old object: no
 * reader can still hold it.  A freed object is poisoned first, so a
 * reader that still held one sees a bad canary in a plain build and ASan
 * reports the use after free in `make test SANITIZE=1`.  Also: a reader
 * that has not passed a quiescent point since the advance holds it back,
 * one passed before it does not count, and offline readers never do. */
#include <criterion/criterion.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "qsbr.h"

TestSuite(qsbr, .init = t_setup, .fini = t_teardown);

#define SNAP_MAGIC 0x5153425220414c49ull	/* "QSBR ALI" */
#define SNAP_DEAD  0xdeaddeaddeaddeadull
#define SNAP_WORDS 6

/* What the writer publishes.  Atomic (relaxed) fields: the poisoning
 * store before free must not be optimised away as dead. */
struct snap {
	_Atomic uint64_t magic;
	_Atomic uint64_t gen;
	_Atomic uint64_t word[SNAP_WORDS];	/* gen * (i + 1): torn or reused memory shows */
};

static struct snap *snap_new(uint64_t gen)
{
	struct snap *s = malloc(sizeof *s);
	if (!s)
		abort();
	atomic_store_explicit(&s->gen, gen, memory_order_relaxed);
	for (unsigned i = 0; i < SNAP_WORDS; i++)
		atomic_store_explicit(&s->word[i], gen * (i + 1), memory_order_relaxed);
	atomic_store_explicit(&s->magic, SNAP_MAGIC, memory_order_relaxed);
	return s;
}

static void snap_kill(struct snap *s)
{
	atomic_store_explicit(&s->magic, SNAP_DEAD, memory_order_relaxed);
	for (unsigned i = 0; i < SNAP_WORDS; i++)
		atomic_store_explicit(&s->word[i], SNAP_DEAD, memory_order_relaxed);
	free(s);
}

/* Whether s looks like a live snapshot; *gen gets its generation. */
static bool snap_ok(struct snap *s, uint64_t *gen)
{
	if (atomic_load_explicit(&s->magic, memory_order_relaxed) != SNAP_MAGIC)
		return false;
	uint64_t g = atomic_load_explicit(&s->gen, memory_order_relaxed);
	for (unsigned i = 0; i < SNAP_WORDS; i++)
		if (atomic_load_explicit(&s->word[i], memory_order_relaxed) != g * (i + 1))
			return false;
	*gen = g;
	return atomic_load_explicit(&s->magic, memory_order_relaxed) == SNAP_MAGIC;
}

static _Atomic(struct snap *) current;

struct reader {
	struct nlb_qsbr *q;
	unsigned id;
	atomic_bool *stop;
	pthread_t thread;
	/* The latest generation read, for the writer to wait on: with the
	 * test's other jobs on both CPUs a reader may not run at all
	 * before the writer is done. */
	_Atomic uint64_t seen;
	/* Results, read after join. */
	uint64_t reads, gens, bad, backwards;
	uint64_t bad_magic;
};

/* Loads the pointer, checks the object twice around a yield (so the
 * writer gets to run while we hold it), then passes a quiescent point. */
static void *reader_main(void *arg)
{
	struct reader *r = arg;
	uint64_t last = 0;
	while (!atomic_load(r->stop)) {
		struct snap *s = atomic_load_explicit(&current, memory_order_acquire);
		uint64_t g1 = 0, g2 = 0;
		bool ok = snap_ok(s, &g1);
		if (r->reads % 4 == 0)
			sched_yield();
		ok = ok && snap_ok(s, &g2) && g1 == g2;
		if (!ok) {
			if (!r->bad++)
				r->bad_magic = atomic_load_explicit(&s->magic, memory_order_relaxed);
		} else {
			if (g1 < last)
				r->backwards++;
			if (g1 != last)
				r->gens++;
			last = g1;
			atomic_store_explicit(&r->seen, g1, memory_order_relaxed);
		}
		r->reads++;
		nlb_qsbr_quiescent(r->q, r->id);
	}
	nlb_qsbr_offline(r->q, r->id);
	return NULL;
}

/* A writer's retired list, as nlb keeps one: what it swapped out, with
 * the epoch advance gave; freed from the list once passed says so. */
struct retired {
	struct snap *s;
	uint64_t epoch;
};

static unsigned reclaim(struct nlb_qsbr *q, struct retired *list, unsigned n)
{
	unsigned kept = 0;
	for (unsigned i = 0; i < n; i++) {
		if (nlb_qsbr_passed(q, list[i].epoch))
			snap_kill(list[i].s);
		else
			list[kept++] = list[i];
	}
	return kept;
}

/* A writer republishes 2,000 times while two readers read without locks,
 * never waiting: every old snapshot is poisoned and freed once passed
 * says every reader is past it. */
T_TEST(qsbr, republish_under_readers, .timeout = 60)
{
	enum { READERS = 2, ROUNDS = 2000 };
	struct nlb_qsbr q;
	T_ASSERT(nlb_qsbr_init(&q, READERS) == 0);
	atomic_store(&current, snap_new(1));
	atomic_bool stop = false;
	struct reader r[READERS];
	memset(r, 0, sizeof r);
	for (unsigned i = 0; i < READERS; i++) {
		r[i].q = &q;
		r[i].id = i;
		r[i].stop = &stop;
		T_ASSERT(pthread_create(&r[i].thread, NULL, reader_main, &r[i]) == 0);
	}
	for (unsigned i = 0; i < READERS; i++)		/* each has read generation 1 */
		while (atomic_load_explicit(&r[i].seen, memory_order_relaxed) == 0)
			sched_yield();
	static struct retired list[ROUNDS];
	unsigned waiting = 0, most_waiting = 0;
	for (uint64_t gen = 2; gen <= ROUNDS + 1; gen++) {
		struct snap *old = atomic_exchange_explicit(&current, snap_new(gen),
							    memory_order_seq_cst);
		list[waiting++] = (struct retired){ old, nlb_qsbr_advance(&q) };
		waiting = reclaim(&q, list, waiting);
		if (waiting > most_waiting)
			most_waiting = waiting;
		if (gen % 64 == 0)
			sched_yield();
	}
	for (unsigned i = 0; i < READERS; i++) {	/* ... and the last, within 10 s */
		for (int spins = 0; spins < 100000 && atomic_load_explicit(
			     &r[i].seen, memory_order_relaxed) != ROUNDS + 1; spins++) {
			waiting = reclaim(&q, list, waiting);
			usleep(100);
		}
	}
	atomic_store(&stop, true);
	for (unsigned i = 0; i < READERS; i++)
		pthread_join(r[i].thread, NULL);
	/* Both offline now: everything may go. */
	waiting = reclaim(&q, list, waiting);
	cr_expect_eq(waiting, 0, "%u snapshots still waiting with both readers offline",
		     waiting);
	snap_kill(atomic_load(&current));
	nlb_qsbr_free(&q);

	for (unsigned i = 0; i < READERS; i++) {
		cr_expect_eq(r[i].bad, 0, "reader %u saw %" PRIu64 " damaged snapshots "
			     "(first magic %#" PRIx64 "): one was freed under it",
			     i, r[i].bad, r[i].bad_magic);
		cr_expect_eq(r[i].backwards, 0, "reader %u saw the generation go back", i);
		cr_expect_gt(r[i].gens, 1, "reader %u never saw a new generation", i);
	}
	cr_log_info("qsbr/republish_under_readers: %d rounds; at most %u waiting; reads %"
		    PRIu64 " and %" PRIu64, ROUNDS, most_waiting, r[0].reads, r[1].reads);
}

/* A reader that holds the old object until told to let go: passed stays
 * false all that time, and the reader finds the object intact. */
struct holder {
	struct nlb_qsbr *q;
	atomic_int state;	/* 1: holding the old object; 2: let go; 3: done */
	bool intact;
};

static void *holder_main(void *arg)
{
	struct holder *h = arg;
	struct snap *s = atomic_load_explicit(&current, memory_order_acquire);
	atomic_store(&h->state, 1);
	while (atomic_load(&h->state) != 2)
		sched_yield();
	uint64_t g;
	h->intact = snap_ok(s, &g) && g == 1;
	nlb_qsbr_quiescent(h->q, 0);
	atomic_store(&h->state, 3);
	nlb_qsbr_offline(h->q, 0);
	return NULL;
}

T_TEST(qsbr, waits_for_a_reader_holding_the_object, .timeout = 30)
{
	struct nlb_qsbr q;
	T_ASSERT(nlb_qsbr_init(&q, 1) == 0);
	atomic_store(&current, snap_new(1));
	struct holder h = { .q = &q };
	pthread_t th;
	T_ASSERT(pthread_create(&th, NULL, holder_main, &h) == 0);
	while (atomic_load(&h.state) == 0)
		sched_yield();
	struct snap *old = atomic_exchange(&current, snap_new(2));
	uint64_t epoch = nlb_qsbr_advance(&q);
	bool early = false;
	for (int i = 0; i < 1000; i++)
		early |= nlb_qsbr_passed(&q, epoch);
	atomic_store(&h.state, 2);
	while (atomic_load(&h.state) != 3)
		sched_yield();
	bool after = nlb_qsbr_passed(&q, epoch);
	pthread_join(th, NULL);
	snap_kill(old);
	snap_kill(atomic_load(&current));
	nlb_qsbr_free(&q);
	cr_expect(!early, "passed while the reader held the old object");
	cr_expect(after, "not passed after the reader's quiescent point");
	cr_expect(h.intact, "the reader's object was damaged while it held it");
}

/* Reader 0 passed a quiescent point before the advance, which does not
 * count; reader 1 is offline, which never holds anything back; with no
 * readers at all everything has passed. */
T_TEST(qsbr, passed_counts_only_later_quiescent_points, .timeout = 30)
{
	struct nlb_qsbr q;
	T_ASSERT(nlb_qsbr_init(&q, 2) == 0);
	nlb_qsbr_offline(&q, 1);
	nlb_qsbr_quiescent(&q, 0);
	uint64_t e1 = nlb_qsbr_advance(&q);
	cr_expect(!nlb_qsbr_passed(&q, e1), "passed on a quiescent point before the advance");
	nlb_qsbr_quiescent(&q, 0);
	cr_expect(nlb_qsbr_passed(&q, e1), "not passed after reader 0's quiescent point");
	uint64_t e2 = nlb_qsbr_advance(&q);
	cr_expect_gt(e2, e1, "epochs do not increase");
	cr_expect(nlb_qsbr_passed(&q, e1), "an older epoch stopped being passed");
	cr_expect(!nlb_qsbr_passed(&q, e2));
	nlb_qsbr_offline(&q, 0);
	cr_expect(nlb_qsbr_passed(&q, e2), "offline readers held the epoch back");
	nlb_qsbr_free(&q);

	T_ASSERT(nlb_qsbr_init(&q, 0) == 0);
	cr_expect(nlb_qsbr_passed(&q, nlb_qsbr_advance(&q)), "no readers at all");
	nlb_qsbr_free(&q);
}
