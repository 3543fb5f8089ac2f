/* Slots of one fixed size, in chunks that never move, named by a 32-bit
 * index: the objects a worker keeps per connection or flow.  Every object
 * starts with a struct nlb_slot: its index, a generation bumped each time
 * the slot is freed (a completion carries both, so one for a slot that
 * was freed and taken again is recognised) and two links, for an idle
 * list (idle_list.h) while in use and for the free list while not.
 * Single-threaded: the worker that owns the arena. */
#ifndef NLB_SLOT_ARENA_H
#define NLB_SLOT_ARENA_H

#include <stddef.h>
#include <stdint.h>

#define NLB_SLOT_NONE UINT32_MAX
/* Generations wrap at 24 bits: what a completion's user_data has room
 * for next to an op and a 32-bit index. */
#define NLB_SLOT_GEN_MASK 0xffffffu

struct nlb_slot {
	uint32_t idx;			/* own index, never changes */
	uint32_t gen;			/* bumped (mod 2^24) on free */
	uint32_t prev, next;		/* idle list; next links the free list */
};

struct nlb_slot_arena {
	char **chunks;
	uint32_t n_chunks;
	uint32_t n_slots;		/* slots in all chunks */
	uint32_t free_head;
	uint32_t live;			/* slots allocated now */
	uint32_t elem_size;		/* bytes per object, struct nlb_slot first */
	uint32_t chunk_shift;		/* 2^chunk_shift objects per chunk */
};

/* An empty arena of objects of elem_size bytes (at least a struct
 * nlb_slot), allocated 2^chunk_shift at a time. */
void nlb_slot_arena_init(struct nlb_slot_arena *a, size_t elem_size, unsigned chunk_shift);
/* Frees every chunk; objects still allocated are gone with them. */
void nlb_slot_arena_free(struct nlb_slot_arena *a);

static inline void *nlb_slot_at(const struct nlb_slot_arena *a, uint32_t idx)
{
	uint32_t mask = (1u << a->chunk_shift) - 1;
	return a->chunks[idx >> a->chunk_shift] + (size_t)(idx & mask) * a->elem_size;
}

/* A free slot, zeroed but for its index and generation, links at
 * NLB_SLOT_NONE; a new chunk when none is free.  NULL when out of memory. */
void *nlb_slot_alloc(struct nlb_slot_arena *a);
/* Gives obj's slot back: its generation moves on. */
void nlb_slot_free(struct nlb_slot_arena *a, void *obj);

#endif
