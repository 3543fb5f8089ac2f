/* Suite "target_set": the reclamation nlb runs (nlb/balance/target_set.c), not a
 * model of it.  A group's replaced table waits on the runtime's retired
 * list until every QSBR reader, the workers and the health, metrics and
 * admin threads, has passed a quiescent point since it was replaced; an
 * offline reader holds nothing back.  Under `make test SANITIZE=1` the
 * readers of the second test would trip ASan on any table freed too soon. */
#include <criterion/criterion.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "helpers/nlb_runtime.h"
#include "core/runtime.h"
#include "balance/target_set.h"
#include "tunables.h"

TestSuite(target_set, .init = t_setup, .fini = t_teardown);

enum { WORKERS = 2, TARGETS = 4 };

/* A runtime as nlb's main builds one, for one maglev group of TARGETS
 * targets on 127.0.0.1:9001.. (no health check: all take flows). */
static void rt_start(struct nlb_runtime *rt)
{
	nlb_log_set_level(NLB_LOG_WARN);	/* not a line per weight change */
	t_runtime_start(rt, WORKERS,
		"target_groups = ( { name = \"g\"; algorithm = \"maglev\"; targets = (\n"
		"  { address = \"127.0.0.1:9001\"; }, { address = \"127.0.0.1:9002\"; },\n"
		"  { address = \"127.0.0.1:9003\"; }, { address = \"127.0.0.1:9004\"; } ); } );\n");
}

/* Every reader: the workers, then the control threads. */
static unsigned n_readers(const struct nlb_runtime *rt)
{
	return rt->n_workers + NLB_QSBR_THREADS;
}

static size_t retired(struct nlb_runtime *rt)
{
	pthread_mutex_lock(&rt->ctl_lock);
	targets_reclaim(rt, false);
	size_t n = targets_retired(rt);
	pthread_mutex_unlock(&rt->ctl_lock);
	return n;
}

static void publish(struct nlb_runtime *rt)
{
	pthread_mutex_lock(&rt->ctl_lock);
	T_ASSERT(targets_publish(rt, 0) == 0);
	pthread_mutex_unlock(&rt->ctl_lock);
}

/* One replaced table, and readers passing quiescent points one by one:
 * it is freed at the last of them, not before. */
T_UNIT(target_set, retired_table_waits_for_every_reader)
{
	struct nlb_runtime rt;
	rt_start(&rt);
	struct nlb_qsbr *q = &rt.qsbr;
	/* The control threads come online as nlb starts them. */
	for (unsigned k = 0; k < NLB_QSBR_THREADS; k++)
		nlb_qsbr_quiescent(q, NLB_QSBR_READER(&rt, k));
	const struct nlb_lb_table *before = atomic_load(&rt.groups[0].table);
	publish(&rt);
	cr_assert_neq(atomic_load(&rt.groups[0].table), before, "no new table was published");
	cr_assert_eq(retired(&rt), 1, "the replaced table is not waiting");
	for (unsigned r = 0; r < n_readers(&rt); r++) {
		cr_expect_eq(retired(&rt), 1, "freed before reader %u passed", r);
		nlb_qsbr_quiescent(q, r);
	}
	cr_expect_eq(retired(&rt), 0, "every reader passed, the table still waits");

	/* An offline reader (a thread not started, or gone) holds nothing. */
	nlb_qsbr_offline(q, NLB_QSBR_READER(&rt, NLB_QSBR_ADMIN));
	publish(&rt);
	for (unsigned r = 0; r < n_readers(&rt); r++)
		if (r != NLB_QSBR_READER(&rt, NLB_QSBR_ADMIN))
			nlb_qsbr_quiescent(q, r);
	cr_expect_eq(retired(&rt), 0, "an offline reader held a table back");

	/* A quiescent point passed before the replacement does not count. */
	nlb_qsbr_quiescent(q, 0);
	publish(&rt);
	for (unsigned r = 1; r < n_readers(&rt); r++)
		nlb_qsbr_quiescent(q, r);
	cr_expect_eq(retired(&rt), 1, "freed on a quiescent point older than the swap");
	nlb_qsbr_quiescent(q, 0);
	cr_expect_eq(retired(&rt), 0);
	t_runtime_stop(&rt);
}

struct reader {
	struct nlb_runtime *rt;
	unsigned id;
	atomic_bool *stop;
	pthread_t thread;
	uint64_t reads, bad;	/* read after the join */
};

/* Reads the group's table as a worker's pick does, holds it across a
 * yield (so the writer runs meanwhile), reads it again, then passes a
 * quiescent point. */
static void *reader_main(void *arg)
{
	struct reader *r = arg;
	uint64_t h = r->id + 1;
	while (!atomic_load(r->stop)) {
		const struct nlb_lb_table *t = atomic_load_explicit(&r->rt->groups[0].table,
								    memory_order_acquire);
		for (int pass = 0; pass < 2; pass++) {
			for (int k = 0; k < 16; k++) {
				h = h * 6364136223846793005ull + 1442695040888963407ull;
				int i = nlb_maglev_lookup(&t->maglev, h);
				if (i < 0 || (uint32_t)i >= t->n_targets || t->weight[i] == 0)
					r->bad++;
			}
			if (t->n_targets != TARGETS || t->n_eligible < TARGETS - 1)
				r->bad++;
			if (pass == 0 && r->reads % 4 == 0)
				sched_yield();
		}
		r->reads++;
		nlb_qsbr_quiescent(&r->rt->qsbr, r->id);
	}
	nlb_qsbr_offline(&r->rt->qsbr, r->id);
	return NULL;
}

/* The path a weight change takes in nlb (targets_set_weight publishes,
 * targets_tick reclaims), 2,000 times, while every reader reads the
 * table without a lock. */
T_UNIT(target_set, publish_and_reclaim_under_readers, .timeout = 120)
{
	enum { ROUNDS = 2000 };
	struct nlb_runtime rt;
	rt_start(&rt);
	atomic_bool stop = false;
	struct reader r[WORKERS + NLB_QSBR_THREADS];
	memset(r, 0, sizeof(r));
	for (unsigned i = 0; i < n_readers(&rt); i++) {
		r[i].rt = &rt;
		r[i].id = i;
		r[i].stop = &stop;
		nlb_qsbr_quiescent(&rt.qsbr, i);	/* online before the first swap */
		T_ASSERT(pthread_create(&r[i].thread, NULL, reader_main, &r[i]) == 0);
	}
	size_t most_waiting = 0;
	int failed = 0;
	for (unsigned round = 0; round < ROUNDS; round++) {
		/* One target at a time goes to weight 0 and back. */
		const struct target_rt *t = target_at(&rt, 0, round / 2 % TARGETS);
		char err[256];
		pthread_mutex_lock(&rt.ctl_lock);
		failed += targets_set_weight(&rt, 0, &t->addr, t->addr_text, round % 2 ? 1 : 0,
					     err, sizeof(err)) != 0;
		pthread_mutex_unlock(&rt.ctl_lock);
		targets_tick(&rt, t_now_ms());
		pthread_mutex_lock(&rt.ctl_lock);
		size_t n = targets_retired(&rt);
		pthread_mutex_unlock(&rt.ctl_lock);
		if (n > most_waiting)
			most_waiting = n;
	}
	atomic_store(&stop, true);
	for (unsigned i = 0; i < n_readers(&rt); i++)
		pthread_join(r[i].thread, NULL);
	cr_expect_eq(failed, 0, "%d weight changes failed", failed);
	/* Every reader is offline now: nothing may wait any longer. */
	cr_expect_eq(retired(&rt), 0, "tables still waiting with every reader gone");
	cr_expect_geq(most_waiting, 1, "no table ever waited for a reader");
	for (unsigned i = 0; i < n_readers(&rt); i++) {
		cr_expect_eq(r[i].bad, 0, "reader %u saw %llu bad reads (a freed or torn table)",
			     i, (unsigned long long)r[i].bad);
		cr_expect_gt(r[i].reads, 0, "reader %u never read", i);
	}
	cr_log_info("target_set: %d swaps, at most %zu tables waiting at once", ROUNDS,
		    most_waiting);
	t_runtime_stop(&rt);
}
