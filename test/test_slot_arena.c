/* Suite "slot_arena": lib/slot_arena.h and lib/idle_list.h, the slots
 * and idle order TCP connections and UDP flows share. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <string.h>

#include "helpers.h"
#include "idle_list.h"
#include "slot_arena.h"

struct obj {
	struct nlb_slot slot;
	uint64_t payload[5];	/* 40 bytes: an odd size, rounded up */
	char tag;
};

TestSuite(slot_arena, .init = t_setup, .fini = t_teardown);

/* Indexes are dense and stable across chunks, objects come zeroed, a
 * freed slot comes back with a new generation, addresses never move. */
T_UNIT(slot_arena, alloc_free_and_generations)
{
	struct nlb_slot_arena a;
	nlb_slot_arena_init(&a, sizeof(struct obj), 2);	/* 4 per chunk */
	cr_assert_eq(a.elem_size % _Alignof(max_align_t), 0);
	struct obj *o[10];
	for (int i = 0; i < 10; i++) {
		o[i] = nlb_slot_alloc(&a);
		cr_assert_not_null(o[i]);
		cr_expect_eq(o[i]->slot.idx, (uint32_t)i, "slot %d has index %u", i, o[i]->slot.idx);
		cr_expect_eq(o[i]->slot.gen, 0);
		cr_expect_eq(o[i]->slot.prev, NLB_SLOT_NONE);
		cr_expect_eq(o[i]->slot.next, NLB_SLOT_NONE);
		o[i]->tag = (char)('a' + i);
		o[i]->payload[4] = 0xdead;
	}
	cr_expect_eq(a.n_chunks, 3);
	cr_expect_eq(a.n_slots, 12);
	cr_expect_eq(a.live, 10);
	for (int i = 0; i < 10; i++)
		cr_expect_eq(nlb_slot_at(&a, (uint32_t)i), o[i], "slot %d moved", i);
	nlb_slot_free(&a, o[3]);
	cr_expect_eq(a.live, 9);
	struct obj *again = nlb_slot_alloc(&a);
	cr_assert_eq(again, o[3], "the slot freed last is taken first");
	cr_expect_eq(again->slot.idx, 3);
	cr_expect_eq(again->slot.gen, 1);
	cr_expect_eq(again->tag, 0, "a taken slot is zeroed");
	cr_expect_eq(again->payload[4], 0);
	cr_expect_eq(o[4]->tag, 'e', "a neighbour was touched");
	/* Generations wrap at 24 bits. */
	again->slot.gen = NLB_SLOT_GEN_MASK;
	nlb_slot_free(&a, again);
	cr_expect_eq(((struct obj *)nlb_slot_alloc(&a))->slot.gen, 0);
	nlb_slot_arena_free(&a);
}

/* The idle order: appended last, touched to the end, removed from the
 * head, middle and tail, and a remove of an object on no list is
 * harmless. */
T_UNIT(slot_arena, idle_list_order)
{
	struct nlb_slot_arena a;
	nlb_slot_arena_init(&a, sizeof(struct obj), 3);
	struct nlb_idle_list l;
	nlb_idle_init(&l);
	cr_expect(nlb_idle_empty(&l));
	cr_expect_null(nlb_idle_oldest(&a, &l));
	struct obj *o[5];
	for (int i = 0; i < 5; i++) {
		o[i] = nlb_slot_alloc(&a);
		nlb_idle_append(&a, &l, &o[i]->slot);
	}
	nlb_idle_touch(&a, &l, &o[0]->slot);	/* 1 2 3 4 0 */
	nlb_idle_touch(&a, &l, &o[0]->slot);	/* already last */
	nlb_idle_remove(&a, &l, &o[3]->slot);	/* 1 2 4 0 */
	nlb_idle_remove(&a, &l, &o[3]->slot);	/* on no list: nothing */
	nlb_idle_remove(&a, &l, &o[1]->slot);	/* 2 4 0 */
	const int want[] = { 2, 4, 0 };
	int n = 0;
	for (uint32_t i = l.head; i != NLB_SLOT_NONE; n++) {
		struct obj *x = nlb_slot_at(&a, i);
		cr_assert_lt(n, 3, "the list is longer than 3");
		cr_expect_eq(x, o[want[n]], "position %d: slot %u, want %d", n, i, want[n]);
		i = x->slot.next;
	}
	cr_expect_eq(n, 3);
	cr_expect_eq(nlb_idle_oldest(&a, &l), o[2]);
	cr_expect_eq(l.tail, o[0]->slot.idx);
	/* Backwards too. */
	cr_expect_eq(o[0]->slot.prev, o[4]->slot.idx);
	cr_expect_eq(o[4]->slot.prev, o[2]->slot.idx);
	cr_expect_eq(o[2]->slot.prev, NLB_SLOT_NONE);
	for (int i = 0; i < 3; i++)
		nlb_idle_remove(&a, &l, &o[want[i]]->slot);
	cr_expect(nlb_idle_empty(&l));
	cr_expect_eq(l.tail, NLB_SLOT_NONE);
	nlb_slot_arena_free(&a);
}
