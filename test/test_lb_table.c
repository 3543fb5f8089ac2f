/* Suite "lb_table": building target groups' balancing tables
 * (lib/lb_table.c); publishing them under readers is test_target_set's. */
#include <criterion/criterion.h>

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
