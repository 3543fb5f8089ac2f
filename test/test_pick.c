/* Suite "pick": the balancing algorithms (lib/lb_pick.h, lib/lb_*.c) on
 * tables and connection counts built here, no worker and no nlb: round
 * robin's smooth weighted sequence and exact shares, least_conn's fewest
 * per weight and turning ties, random2's lighter of two and its fallback,
 * maglev's owner and deterministic retries; each skips tried targets and
 * weight 0.  Last, nlb's glue (nlb/balance/pick.c) on a runtime without
 * workers.  End to end through nlb is test_balance's. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "helpers.h"
#include "helpers/nlb_runtime.h"
#include "balance/pick.h"
#include "lb_pick.h"
#include "tuple_hash.h"

TestSuite(pick, .init = t_setup, .fini = t_teardown);

enum { MAX_T = 8, ROWS = 2 };

static struct nlb_target_conf targets[MAX_T];

/* The table of a group of n targets with weights w, for algorithm alg;
 * the targets' addresses (127.0.0.1:9001..) are their Maglev keys, as
 * nlb passes them. */
static struct nlb_lb_table *table(enum nlb_algorithm alg, const uint32_t *w, size_t n)
{
	const char *keys[MAX_T];
	for (size_t i = 0; i < n; i++) {
		snprintf(targets[i].addr_text, sizeof(targets[i].addr_text), "127.0.0.1:%zu",
			 9001 + i);
		keys[i] = targets[i].addr_text;
	}
	struct nlb_group_conf g = {
		.name = "g", .algorithm = alg, .maglev_table_size = 65537,
		.targets = targets, .n_targets = n,
	};
	struct nlb_lb_table *t = NULL;
	cr_assert_eq(nlb_lb_table_build(&g, keys, w, n, &t), 0);
	return t;
}

/* Connections per target in ROWS rows, as nlb's workers count them. */
struct conns {
	_Atomic uint32_t row[ROWS][MAX_T];
};

/* Target i gets c[i] connections, split over the rows so that a load
 * read from one row alone would be wrong. */
static struct nlb_lb_load load_of(struct conns *k, const uint32_t *c, size_t n)
{
	for (size_t i = 0; i < MAX_T; i++) {
		uint32_t v = i < n ? c[i] : 0;
		atomic_store(&k->row[0][i], v / 2);
		atomic_store(&k->row[1][i], v - v / 2);
	}
	return (struct nlb_lb_load){ .rows = &k->row[0][0], .stride = MAX_T, .n_rows = ROWS };
}

#define BIT(i) (1ull << (i))

/* ---- round_robin -------------------------------------------------------- */

T_UNIT(pick, round_robin_nginx_sequence)
{
	static const uint32_t w[] = { 5, 1, 1 };
	struct nlb_lb_table *t = table(NLB_ALG_ROUND_ROBIN, w, 3);
	int64_t current[3] = { 0 };
	char seq[15] = "";
	for (int i = 0; i < 14; i++) {
		int p = nlb_lb_round_robin(t, 0, current);
		cr_assert(p >= 0 && p < 3, "pick %d: %d", i, p);
		seq[i] = (char)('a' + p);
	}
	/* NGINX's documented sequence for weights 5, 1, 1, and again. */
	cr_expect_str_eq(seq, "aabacaaaabacaa");
	for (int i = 0; i < 3; i++)
		cr_expect_eq(current[i], 0, "after two rounds current[%d] = %lld", i,
			     (long long)current[i]);
	nlb_lb_table_free(t);
}

/* Over every round of sum(weights) picks, each target is picked exactly
 * its weight's times, and the running weights are back to zero. */
T_UNIT(pick, round_robin_shares)
{
	static const uint32_t w[] = { 3, 7, 1, 4, 2 };
	enum { N = 5, SUM = 17, ROUNDS = 20 };
	struct nlb_lb_table *t = table(NLB_ALG_ROUND_ROBIN, w, N);
	int64_t current[N] = { 0 };
	unsigned got[N] = { 0 };
	for (unsigned k = 1; k <= SUM * ROUNDS; k++) {
		int p = nlb_lb_round_robin(t, 0, current);
		cr_assert(p >= 0 && p < N);
		got[p]++;
		if (k % SUM)
			continue;
		for (int i = 0; i < N; i++) {
			cr_assert_eq(got[i], w[i] * (k / SUM), "round %u: target %d (weight %u) "
				     "picked %u times", k / SUM, i, w[i], got[i]);
			cr_assert_eq(current[i], 0, "round %u: current[%d] = %lld", k / SUM, i,
				     (long long)current[i]);
		}
	}
	nlb_lb_table_free(t);
}

T_UNIT(pick, round_robin_skips_tried_and_weight_zero)
{
	static const uint32_t w[] = { 1, 1, 0, 1 };
	struct nlb_lb_table *t = table(NLB_ALG_ROUND_ROBIN, w, 4);
	int64_t current[4] = { 0 };
	unsigned got[4] = { 0 };
	int prev = -1;
	for (int i = 0; i < 100; i++) {
		int p = nlb_lb_round_robin(t, BIT(1), current);
		cr_assert(p == 0 || p == 3, "pick %d went to %d (tried or weight 0)", i, p);
		cr_expect_neq(p, prev, "pick %d: %d twice in a row", i, p);
		prev = p;
		got[p]++;
	}
	cr_expect(got[0] == 50 && got[3] == 50, "split %u/%u", got[0], got[3]);

	/* Nothing left: no pick, and the running weights stay as they were. */
	int64_t before[4];
	memcpy(before, current, sizeof(before));
	cr_expect_eq(nlb_lb_round_robin(t, BIT(0) | BIT(1) | BIT(3), current), -ENOENT);
	cr_expect_eq(memcmp(before, current, sizeof(before)), 0);
	nlb_lb_table_free(t);
}

/* ---- least_conn --------------------------------------------------------- */

T_UNIT(pick, least_conn_fewest_per_weight)
{
	static const uint32_t w[] = { 1, 2, 1, 0 };
	struct nlb_lb_table *t = table(NLB_ALG_LEAST_CONN, w, 4);
	struct conns k;
	uint32_t rotate = 0;

	/* Per unit of weight 3, 2, 1: the third; weight 0 never, however idle. */
	struct nlb_lb_load l = load_of(&k, (const uint32_t[]){ 3, 4, 1, 0 }, 4);
	for (int i = 0; i < 8; i++)
		cr_expect_eq(nlb_lb_least_conn(t, 0, &l, &rotate), 2);
	/* 3, 2, 5: the second, whose 4 connections are 2 per unit. */
	l = load_of(&k, (const uint32_t[]){ 3, 4, 5, 0 }, 4);
	for (int i = 0; i < 8; i++)
		cr_expect_eq(nlb_lb_least_conn(t, 0, &l, &rotate), 1);
	/* It tried the second: the next lightest. */
	cr_expect_eq(nlb_lb_least_conn(t, BIT(1), &l, &rotate), 0);
	cr_expect_eq(nlb_lb_least_conn(t, BIT(0) | BIT(1) | BIT(2), &l, &rotate), -ENOENT);
	nlb_lb_table_free(t);
}

T_UNIT(pick, least_conn_rotates_ties)
{
	static const uint32_t w[] = { 1, 1, 1 };
	struct nlb_lb_table *t = table(NLB_ALG_LEAST_CONN, w, 3);
	struct conns k;
	struct nlb_lb_load l = load_of(&k, (const uint32_t[]){ 2, 2, 2 }, 3);
	uint32_t rotate = 0;
	for (int i = 0; i < 30; i++) {
		cr_expect_eq(nlb_lb_least_conn(t, 0, &l, &rotate), i % 3, "pick %d", i);
		cr_expect_eq(rotate, (uint32_t)i + 1, "one step per pick");
	}

	/* Two tie, one is heavier: the two share, the heavy one gets none. */
	l = load_of(&k, (const uint32_t[]){ 1, 5, 1 }, 3);
	unsigned got[3] = { 0 };
	for (int i = 0; i < 30; i++)
		got[nlb_lb_least_conn(t, 0, &l, &rotate)]++;
	cr_expect(got[0] > 0 && got[2] > 0 && got[1] == 0, "%u/%u/%u", got[0], got[1], got[2]);
	nlb_lb_table_free(t);
}

/* ---- random2 ------------------------------------------------------------ */

T_UNIT(pick, random2_picks_the_lighter_of_two)
{
	struct conns k;
	uint64_t rng = 0x1234567;
	uint32_t rotate = 0;

	/* Two targets: both drawn (or, failing that, both looked at by
	 * least_conn), the lighter wins. */
	static const uint32_t w2[] = { 1, 1 };
	struct nlb_lb_table *t = table(NLB_ALG_RANDOM2, w2, 2);
	struct nlb_lb_load l = load_of(&k, (const uint32_t[]){ 5, 0 }, 2);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(nlb_lb_random2(t, 0, &l, &rng, &rotate), 1);
	/* Per unit of weight: 4 connections at weight 4 are lighter than 2 at 1. */
	nlb_lb_table_free(t);
	static const uint32_t w2b[] = { 1, 4 };
	t = table(NLB_ALG_RANDOM2, w2b, 2);
	l = load_of(&k, (const uint32_t[]){ 2, 4 }, 2);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(nlb_lb_random2(t, 0, &l, &rng, &rotate), 1);
	nlb_lb_table_free(t);

	/* Four: the heaviest loses to any other and is never picked; the
	 * lightest wins whenever drawn, so it is picked most. */
	static const uint32_t w4[] = { 1, 1, 1, 1 };
	t = table(NLB_ALG_RANDOM2, w4, 4);
	rotate = 0;
	l = load_of(&k, (const uint32_t[]){ 1, 2, 3, 4 }, 4);
	unsigned got[4] = { 0 };
	for (int i = 0; i < 1200; i++) {
		int p = nlb_lb_random2(t, 0, &l, &rng, &rotate);
		cr_assert(p >= 0 && p < 4);
		got[p]++;
	}
	cr_expect_eq(got[3], 0, "the heaviest was picked %u times", got[3]);
	cr_expect(got[0] > got[1] && got[1] > got[2] && got[2] > 0, "%u/%u/%u", got[0], got[1],
		  got[2]);
	cr_expect_eq(rotate, 0, "fell back to least_conn with four eligible");
	nlb_lb_table_free(t);
}

T_UNIT(pick, random2_is_its_random_state)
{
	static const uint32_t w[] = { 1, 1, 1, 1, 1, 1 };
	struct nlb_lb_table *t = table(NLB_ALG_RANDOM2, w, 6);
	struct conns k;
	struct nlb_lb_load l = load_of(&k, (const uint32_t[]){ 0 }, 0);
	uint64_t a = 99, b = 99;
	uint32_t ra = 0, rb = 0;
	unsigned got[6] = { 0 };
	for (int i = 0; i < 600; i++) {
		uint64_t before = a;
		int p = nlb_lb_random2(t, 0, &l, &a, &ra);
		cr_assert_eq(nlb_lb_random2(t, 0, &l, &b, &rb), p, "pick %d: same state, other pick", i);
		cr_assert_neq(a, before, "the random state did not move");
		cr_assert_neq(a, 0);
		got[p]++;
	}
	/* Equal loads go to the first drawn: every target, at random. */
	for (int i = 0; i < 6; i++)
		cr_expect_gt(got[i], 0, "target %d never picked", i);
	nlb_lb_table_free(t);
}

T_UNIT(pick, random2_only_eligible)
{
	static const uint32_t w[] = { 1, 0, 1, 1, 1 };
	struct nlb_lb_table *t = table(NLB_ALG_RANDOM2, w, 5);
	struct conns k;
	struct nlb_lb_load l = load_of(&k, (const uint32_t[]){ 0 }, 0);
	uint64_t rng = 7;
	uint32_t rotate = 0;
	unsigned got[5] = { 0 };
	for (int i = 0; i < 600; i++) {
		int p = nlb_lb_random2(t, BIT(3), &l, &rng, &rotate);
		cr_assert(p == 0 || p == 2 || p == 4, "pick %d went to %d", i, p);
		got[p]++;
	}
	cr_expect(got[0] && got[2] && got[4], "%u/%u/%u", got[0], got[2], got[4]);
	nlb_lb_table_free(t);
}

T_UNIT(pick, random2_falls_back_when_few_are_eligible)
{
	static const uint32_t w[] = { 0, 1, 0, 1, 0, 1, 0, 1 };
	struct nlb_lb_table *t = table(NLB_ALG_RANDOM2, w, MAX_T);
	struct conns k;
	struct nlb_lb_load l = load_of(&k, (const uint32_t[]){ 0, 3, 0, 2, 0, 9, 0, 9 }, MAX_T);
	uint64_t rng = 1;
	uint32_t rotate = 0;
	/* One left: two distinct never come up, least_conn picks it. */
	for (int i = 0; i < 50; i++)
		cr_assert_eq(nlb_lb_random2(t, BIT(1) | BIT(5) | BIT(7), &l, &rng, &rotate), 3);
	cr_expect_eq(rotate, 50, "least_conn did not pick (rotate %u)", rotate);
	/* Two left, drawn or not: the lighter. */
	for (int i = 0; i < 200; i++)
		cr_assert_eq(nlb_lb_random2(t, BIT(5) | BIT(7), &l, &rng, &rotate), 3);
	/* None left. */
	cr_expect_eq(nlb_lb_random2(t, BIT(1) | BIT(3) | BIT(5) | BIT(7), &l, &rng, &rotate),
		     -ENOENT);
	nlb_lb_table_free(t);
}

/* ---- maglev ------------------------------------------------------------- */

/* A flow's hash as nlb makes one, here of a counter. */
static uint64_t flow_hash(uint64_t i)
{
	return nlb_siphash13(&i, sizeof(i), 3, 4);
}

T_UNIT(pick, maglev_first_try_is_the_owner)
{
	static const uint32_t w[] = { 1, 2, 1, 1 };
	struct nlb_lb_table *t = table(NLB_ALG_MAGLEV, w, 4);
	struct conns k;
	struct nlb_lb_load l = load_of(&k, (const uint32_t[]){ 9, 0, 0, 0 }, 4);
	uint32_t rotate = 0;
	for (uint64_t i = 0; i < 20000; i++) {
		uint64_t h = flow_hash(i);
		cr_assert_eq(nlb_lb_maglev(t, h, 0, 0, &l, &rotate), nlb_maglev_lookup(&t->maglev, h),
			     "flow %llu", (unsigned long long)i);
	}
	cr_expect_eq(rotate, 0, "a first try looked at loads");
	nlb_lb_table_free(t);
}

/* A retry re-hashes: the same answer for the same (hash, attempt, tried)
 * in any picker, whatever its state; never a tried target; spread over
 * the others. */
T_UNIT(pick, maglev_retries_rehash_deterministically)
{
	static const uint32_t w[] = { 1, 1, 1, 1 };
	struct nlb_lb_table *t = table(NLB_ALG_MAGLEV, w, 4);
	struct conns k;
	/* Distinct loads: a fallback to least_conn would not depend on
	 * where its rotation stands either. */
	struct nlb_lb_load l = load_of(&k, (const uint32_t[]){ 0, 1, 2, 3 }, 4);
	uint32_t rot_a = 0, rot_b = 12345;
	unsigned moved = 0, owned_by_0 = 0, to[4] = { 0 };
	for (uint64_t i = 0; i < 20000; i++) {
		uint64_t h = flow_hash(i);
		int owner = nlb_maglev_lookup(&t->maglev, h);
		for (unsigned attempt = 1; attempt <= 3; attempt++) {
			int a = nlb_lb_maglev(t, h, attempt, BIT(owner), &l, &rot_a);
			int b = nlb_lb_maglev(t, h, attempt, BIT(owner), &l, &rot_b);
			cr_assert_eq(a, b, "flow %llu attempt %u: %d and %d", (unsigned long long)i,
				     attempt, a, b);
			cr_assert(a >= 0 && a < 4 && a != owner, "flow %llu retried to %d (owner %d)",
				  (unsigned long long)i, a, owner);
			if (owner == 0 && attempt == 1) {
				owned_by_0++;
				to[a]++;
			}
		}
		/* A retry re-hashes even when the owner was not tried. */
		moved += nlb_lb_maglev(t, h, 1, 0, &l, &rot_a) != owner;
	}
	cr_expect_gt(moved, 20000 / 2, "a retry left %u of 20000 flows on their owner",
		     20000 - moved);
	/* 0's flows, refused by it, go to the three others about evenly. */
	for (int i = 1; i < 4; i++)
		cr_expect(to[i] > owned_by_0 / 5, "target %d got %u of target 0's %u flows", i,
			  to[i], owned_by_0);
	nlb_lb_table_free(t);
}

T_UNIT(pick, maglev_falls_back_past_tried_targets)
{
	static const uint32_t w[] = { 1, 1, 0, 1 };
	struct nlb_lb_table *t = table(NLB_ALG_MAGLEV, w, 4);
	struct conns k;
	struct nlb_lb_load l = load_of(&k, (const uint32_t[]){ 0 }, 0);
	uint32_t rotate = 0;
	for (uint64_t i = 0; i < 2000; i++) {
		uint64_t h = flow_hash(i);
		/* Weight 0 owns no entry of the table. */
		cr_assert_neq(nlb_lb_maglev(t, h, 0, 0, &l, &rotate), 2);
		/* One left, whether a re-hash lands on it or least_conn finds it. */
		cr_assert_eq(nlb_lb_maglev(t, h, 1, BIT(0) | BIT(1), &l, &rotate), 3);
		cr_assert_eq(nlb_lb_maglev(t, h, 2, BIT(0) | BIT(1) | BIT(3), &l, &rotate), -ENOENT);
	}
	cr_expect_gt(rotate, 0, "least_conn never took over");
	nlb_lb_table_free(t);
}

/* ---- nlb's glue, on a runtime without workers --------------------------- */

T_TEST(pick, runtime_picks_and_counts_per_worker)
{
	struct nlb_runtime rt;
	t_runtime_start(&rt, 2,
		"target_groups = (\n"
		"  { name = \"rr\"; algorithm = \"round_robin\"; targets = (\n"
		"    { address = \"127.0.0.1:9001\"; weight = 5; },\n"
		"    { address = \"127.0.0.1:9002\"; }, { address = \"127.0.0.1:9003\"; } ); },\n"
		"  { name = \"lc\"; algorithm = \"least_conn\"; targets = (\n"
		"    { address = \"127.0.0.1:9001\"; }, { address = \"127.0.0.1:9002\"; } ); } );\n");
	struct pick_state ps = { 0 };
	T_ASSERT(pick_worker_init(&rt, 1, &ps) == 0);

	char seq[8] = "";
	for (int i = 0; i < 7; i++)
		seq[i] = (char)('a' + pick_target(&rt, &ps, 0, 0, 0, 0));
	cr_expect_str_eq(seq, "aabacaa");
	cr_expect_eq(pick_target(&rt, &ps, 0, 0, 1, BIT(0) | BIT(1) | BIT(2)), -ENOENT);
	cr_expect(pick_eligible(&rt, 0, 2, 0));
	cr_expect(!pick_eligible(&rt, 0, 2, BIT(2)));
	cr_expect(!pick_eligible(&rt, 0, 3, 0), "a target past the group's");
	cr_expect(!pick_fail_closed(&rt, 0));

	/* Connections counted by two workers, summed by least_conn. */
	pick_conn_add(&rt, 0, 1, 0, 2);
	pick_conn_add(&rt, 1, 1, 1, 1);
	cr_expect_eq(pick_active_conns(&rt, 1, 0), 2);
	cr_expect_eq(pick_active_conns(&rt, 1, 1), 1);
	cr_expect_eq(pick_target(&rt, &ps, 1, 0, 0, 0), 1);
	pick_conn_add(&rt, 0, 1, 1, 2);
	cr_expect_eq(pick_active_conns(&rt, 1, 1), 3);
	cr_expect_eq(pick_target(&rt, &ps, 1, 0, 0, 0), 0);
	pick_conn_add(&rt, 0, 1, 1, -2);
	pick_conn_add(&rt, 1, 1, 1, -1);
	pick_conn_add(&rt, 0, 1, 0, -2);
	cr_expect_eq(pick_active_conns(&rt, 1, 0) + pick_active_conns(&rt, 1, 1), 0);

	/* Failed connects in a row, per worker; a success clears them. */
	const struct group_rt *g = &rt.groups[1];
	pick_live_result(&rt, 1, 1, 0, false);
	pick_live_result(&rt, 1, 1, 0, false);
	cr_expect_eq(atomic_load(&g->live_fail[1 * g->active_stride + 0]), 2);
	cr_expect_eq(atomic_load(&g->live_fail[0 * g->active_stride + 0]), 0);
	pick_live_result(&rt, 1, 1, 0, true);
	cr_expect_eq(atomic_load(&g->live_fail[1 * g->active_stride + 0]), 0);

	pick_worker_free(&ps);
	cr_expect_null(ps.rr_current);
	t_runtime_stop(&rt);
}
