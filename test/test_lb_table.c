/* Suite "lb_table": building target groups' balancing tables and
 * publishing new ones under readers that never lock (lib/lb_table.c). */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "lb_table.h"
#include "tuple_hash.h"
#include "helpers.h"

enum { N_TARGETS = 4 };

static struct nlb_target_conf targets[N_TARGETS];

/* The targets' addresses are their Maglev keys, as nlb passes them. */
static int build(const struct nlb_group_conf *g, const uint32_t *w, struct nlb_lb_table **t)
{
	const char *keys[N_TARGETS];
	for (int i = 0; i < N_TARGETS; i++)
		keys[i] = g->targets[i].addr_text;
	return nlb_lb_table_build(g, keys, w, N_TARGETS, t);
}

static struct nlb_group_conf group(enum nlb_algorithm alg)
{
	for (int i = 0; i < N_TARGETS; i++)
		snprintf(targets[i].addr_text, sizeof(targets[i].addr_text), "127.0.0.1:%d", 9001 + i);
	struct nlb_group_conf g = {
		.name = "g", .algorithm = alg, .maglev_table_size = 65537,
		.targets = targets, .n_targets = N_TARGETS,
	};
	return g;
}

T_UNIT(lb_table, build_counts_and_excludes_weight_zero)
{
	struct nlb_group_conf g = group(NLB_ALG_MAGLEV);
	const uint32_t w[N_TARGETS] = { 1, 0, 2, 1 };
	struct nlb_lb_table *t = NULL;
	cr_assert_eq(build(&g, w, &t), 0);
	cr_expect_eq(t->n_targets, N_TARGETS);
	cr_expect_eq(t->n_eligible, 3);
	unsigned owned[N_TARGETS] = { 0 };
	for (uint64_t h = 0; h < 200000; h++) {
		int i = nlb_maglev_lookup(&t->maglev, nlb_siphash13(&h, sizeof(h), 1, 2));
		cr_assert(i >= 0 && i < N_TARGETS);
		owned[i]++;
	}
	cr_expect_eq(owned[1], 0, "a weight-0 target owns %u of 200000 lookups", owned[1]);
	/* weight 2 owns about twice what weight 1 does */
	cr_expect(owned[2] > owned[0] * 17 / 10 && owned[2] < owned[0] * 23 / 10,
		  "weights 1:2 own %u:%u", owned[0], owned[2]);
	nlb_lb_table_free(t);

	/* no maglev table for the other algorithms, all-zero weights: none eligible */
	g = group(NLB_ALG_ROUND_ROBIN);
	const uint32_t zero[N_TARGETS] = { 0 };
	cr_assert_eq(build(&g, zero, &t), 0);
	cr_expect_eq(t->n_eligible, 0);
	cr_expect_null(t->maglev.entries);
	nlb_lb_table_free(t);
}

/* Readers pick through whatever table is published, with no lock, and
 * check that the target they got has weight in that very table; a writer
 * publishes 400 tables with one target drained in turn.  A table freed
 * under a reader shows up as a wrong answer here and as a use-after-free
 * under `make test SANITIZE=1`. */
struct shared {
	_Atomic(struct nlb_lb_table *) slot;
	struct nlb_qsbr q;
	atomic_bool stop;
	atomic_ulong bad, picks;
};

struct reader_arg {
	struct shared *s;
	unsigned id;
};

static void *reader(void *p)
{
	struct reader_arg *a = p;
	struct shared *s = a->s;
	uint64_t h = a->id;
	while (!atomic_load(&s->stop)) {
		const struct nlb_lb_table *t = atomic_load_explicit(&s->slot, memory_order_acquire);
		for (int k = 0; k < 64; k++) {
			h = nlb_siphash13(&h, sizeof(h), 3, 4);
			int i = nlb_maglev_lookup(&t->maglev, h);
			if (i < 0 || (uint32_t)i >= t->n_targets || t->weight[i] == 0)
				atomic_fetch_add(&s->bad, 1);
		}
		atomic_fetch_add(&s->picks, 64);
		nlb_qsbr_quiescent(&s->q, a->id);
	}
	nlb_qsbr_offline(&s->q, a->id);
	return NULL;
}

T_UNIT(lb_table, publish_under_readers, .timeout = 60)
{
	struct nlb_group_conf g = group(NLB_ALG_MAGLEV);
	struct shared s;
	memset(&s, 0, sizeof(s));
	cr_assert_eq(nlb_qsbr_init(&s.q, 2), 0);
	uint32_t w[N_TARGETS] = { 1, 1, 1, 1 };
	struct nlb_lb_table *t = NULL;
	cr_assert_eq(build(&g, w, &t), 0);
	atomic_init(&s.slot, t);

	pthread_t th[2];
	struct reader_arg args[2] = { { &s, 0 }, { &s, 1 } };
	for (int i = 0; i < 2; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, reader, &args[i]), 0);
	int published = 0;
	for (int round = 0; round < 400; round++) {
		for (int i = 0; i < N_TARGETS; i++)
			w[i] = i == round % N_TARGETS ? 0 : (uint32_t)(1 + round % 3);
		struct nlb_lb_table *n = NULL;
		cr_assert_eq(build(&g, w, &n), 0);
		published += nlb_lb_table_publish(&s.slot, n, &s.q, 5000) == 0;
	}
	atomic_store(&s.stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	cr_expect_eq(published, 400, "%d of 400 publishes completed", published);
	cr_expect_eq(atomic_load(&s.bad), 0, "%lu picks got a target without weight",
		     atomic_load(&s.bad));
	cr_expect_gt(atomic_load(&s.picks), 400 * 64);
	/* the last table is the one published last: target 399 % 4 drained */
	const struct nlb_lb_table *last = atomic_load(&s.slot);
	cr_expect_eq(last->weight[399 % N_TARGETS], 0);
	nlb_lb_table_free(atomic_load(&s.slot));
	nlb_qsbr_free(&s.q);
}
