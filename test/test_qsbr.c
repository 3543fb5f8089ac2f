/* Suite "qsbr": the reclamation contract of lib/qsbr.h, without nlb.  A
 * writer that swapped a pointer and got 0 from nlb_qsbr_synchronize may
 * free the old object: no reader can still hold it.  A freed object is
 * poisoned first, so a reader that still held one sees a bad canary in a
 * plain build and ASan reports the use after free in `make test
 * SANITIZE=1`.  Also: -ETIMEDOUT while a reader has not passed a quiescent
 * point since the call began, and no wait at all for offline readers. */
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
		}
		r->reads++;
		nlb_qsbr_quiescent(r->q, r->id);
	}
	nlb_qsbr_offline(r->q, r->id);
	return NULL;
}

/* A writer republishes 2,000 times while two readers read without locks;
 * every old snapshot is poisoned and freed once synchronize says so. */
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
	int64_t t0 = t_now_ms();
	int failed_sync = 0, rc_sync = 0;
	for (uint64_t gen = 2; gen <= ROUNDS + 1; gen++) {
		struct snap *old = atomic_exchange_explicit(&current, snap_new(gen),
							    memory_order_seq_cst);
		int rc = nlb_qsbr_synchronize(&q, 10000);
		if (rc == 0) {
			snap_kill(old);
		} else if (!failed_sync++) {	/* leak it: a reader may hold it */
			rc_sync = rc;
		}
	}
	int64_t elapsed = t_now_ms() - t0;
	atomic_store(&stop, true);
	for (unsigned i = 0; i < READERS; i++)
		pthread_join(r[i].thread, NULL);
	/* Both offline now: nothing to wait for. */
	cr_expect_eq(nlb_qsbr_synchronize(&q, 0), 0);
	snap_kill(atomic_load(&current));
	nlb_qsbr_free(&q);

	cr_assert_eq(failed_sync, 0, "%d synchronize calls failed, the first with %d (%s)",
		     failed_sync, rc_sync, strerror(-rc_sync));
	for (unsigned i = 0; i < READERS; i++) {
		cr_expect_eq(r[i].bad, 0, "reader %u saw %" PRIu64 " damaged snapshots "
			     "(first magic %#" PRIx64 "): one was freed under it",
			     i, r[i].bad, r[i].bad_magic);
		cr_expect_eq(r[i].backwards, 0, "reader %u saw the generation go back", i);
		/* Each synchronize waited for every reader's next quiescent
		 * point, so each reader made at least ROUNDS passes. */
		cr_expect_geq(r[i].reads, ROUNDS, "reader %u: %" PRIu64 " reads", i, r[i].reads);
		cr_expect_gt(r[i].gens, 1, "reader %u never saw a new generation", i);
	}
	cr_log_info("qsbr/republish_under_readers: %d rounds in %lld ms; reads %" PRIu64
		    " and %" PRIu64 ", generations seen %" PRIu64 " and %" PRIu64,
		    ROUNDS, (long long)elapsed, r[0].reads, r[1].reads, r[0].gens, r[1].gens);
}

/* A reader that holds the old object across a 100 ms stall: synchronize
 * must not return before the reader's next quiescent point, and the
 * reader finds the object intact at the end of its stall. */
struct staller {
	struct nlb_qsbr *q;
	atomic_int state;	/* 1: holding the old object; 2: done with it */
	bool intact;
};

static void *staller_main(void *arg)
{
	struct staller *st = arg;
	struct snap *s = atomic_load_explicit(&current, memory_order_acquire);
	atomic_store(&st->state, 1);
	t_sleep_ms(100);
	uint64_t g;
	st->intact = snap_ok(s, &g) && g == 1;
	atomic_store(&st->state, 2);
	nlb_qsbr_quiescent(st->q, 0);
	nlb_qsbr_offline(st->q, 0);
	return NULL;
}

T_TEST(qsbr, waits_for_a_stalled_reader, .timeout = 30)
{
	struct nlb_qsbr q;
	T_ASSERT(nlb_qsbr_init(&q, 1) == 0);
	atomic_store(&current, snap_new(1));
	struct staller st = { .q = &q };
	pthread_t th;
	T_ASSERT(pthread_create(&th, NULL, staller_main, &st) == 0);
	while (atomic_load(&st.state) == 0)
		t_sleep_ms(1);
	struct snap *old = atomic_exchange(&current, snap_new(2));
	int64_t t0 = t_now_ms();
	int rc = nlb_qsbr_synchronize(&q, 10000);
	int64_t waited = t_now_ms() - t0;
	int state = atomic_load(&st.state);
	if (rc == 0)
		snap_kill(old);
	pthread_join(th, NULL);
	snap_kill(atomic_load(&current));
	nlb_qsbr_free(&q);
	cr_assert_eq(rc, 0, "synchronize: %d", rc);
	cr_expect_eq(state, 2, "synchronize returned while the reader held the old object");
	cr_expect(st.intact, "the reader's object was damaged during its stall");
	cr_expect_geq(waited, 50, "synchronize returned after %lld ms, the stall is 100 ms",
		      (long long)waited);
}

/* Reader 0 never passes a quiescent point after the call began (it passed
 * one before, which does not count); reader 1 is offline. */
T_TEST(qsbr, times_out_on_a_silent_reader, .timeout = 30)
{
	struct nlb_qsbr q;
	T_ASSERT(nlb_qsbr_init(&q, 2) == 0);
	nlb_qsbr_offline(&q, 1);
	nlb_qsbr_quiescent(&q, 0);
	cr_expect_eq(nlb_qsbr_synchronize(&q, 0), -ETIMEDOUT,
		     "timeout 0 with a reader to wait for");
	nlb_qsbr_quiescent(&q, 0);
	int64_t t0 = t_now_ms();
	int rc = nlb_qsbr_synchronize(&q, 50);
	int64_t waited = t_now_ms() - t0;
	cr_expect_eq(rc, -ETIMEDOUT, "synchronize: %d", rc);
	cr_expect(waited >= 45 && waited < 5000, "gave up after %lld ms, timeout 50",
		  (long long)waited);
	nlb_qsbr_offline(&q, 0);
	cr_expect_eq(nlb_qsbr_synchronize(&q, 0), 0, "both offline");
	nlb_qsbr_free(&q);
}

/* Offline readers are never waited for: 0 even with a timeout of 0, which
 * gives up at the first reader that would need a wait. */
T_TEST(qsbr, offline_readers_need_no_wait, .timeout = 30)
{
	struct nlb_qsbr q;
	T_ASSERT(nlb_qsbr_init(&q, 3) == 0);
	for (unsigned i = 0; i < 3; i++)
		nlb_qsbr_offline(&q, i);
	int64_t t0 = t_now_ms();
	for (int k = 0; k < 1000; k++)
		cr_assert_eq(nlb_qsbr_synchronize(&q, 0), 0, "call %d", k);
	cr_expect_lt(t_now_ms() - t0, 1000, "1,000 calls took %lld ms",
		     (long long)(t_now_ms() - t0));
	nlb_qsbr_free(&q);

	T_ASSERT(nlb_qsbr_init(&q, 0) == 0);
	cr_expect_eq(nlb_qsbr_synchronize(&q, 0), 0, "no readers at all");
	nlb_qsbr_free(&q);
}
