/* The slot arena: chunks allocated as needed and kept until the arena is
 * freed, so an object's address and index hold for its whole life. */
#include "slot_arena.h"

#include <stdlib.h>
#include <string.h>

void nlb_slot_arena_init(struct nlb_slot_arena *a, size_t elem_size, unsigned chunk_shift)
{
	memset(a, 0, sizeof(*a));
	/* Rounded up so every object (and its struct nlb_slot) is aligned
	 * as malloc aligns. */
	size_t align = _Alignof(max_align_t);
	a->elem_size = (uint32_t)((elem_size + align - 1) / align * align);
	a->chunk_shift = chunk_shift;
	a->free_head = NLB_SLOT_NONE;
}

void nlb_slot_arena_free(struct nlb_slot_arena *a)
{
	for (uint32_t i = 0; i < a->n_chunks; i++)
		free(a->chunks[i]);
	free(a->chunks);
	a->chunks = NULL;
	a->n_chunks = a->n_slots = a->live = 0;
	a->free_head = NLB_SLOT_NONE;
}

static int grow(struct nlb_slot_arena *a)
{
	char **chunks = realloc(a->chunks, (a->n_chunks + 1) * sizeof(*chunks));
	if (!chunks)
		return -1;
	a->chunks = chunks;
	uint32_t n = 1u << a->chunk_shift;
	char *chunk = calloc(n, a->elem_size);
	if (!chunk)
		return -1;
	chunks[a->n_chunks++] = chunk;
	uint32_t base = a->n_slots;
	a->n_slots += n;
	/* Linked in index order, ahead of what is free already. */
	for (uint32_t i = 0; i < n; i++) {
		struct nlb_slot *s = (struct nlb_slot *)(chunk + (size_t)i * a->elem_size);
		s->idx = base + i;
		s->next = i + 1 < n ? base + i + 1 : a->free_head;
	}
	a->free_head = base;
	return 0;
}

void *nlb_slot_alloc(struct nlb_slot_arena *a)
{
	if (a->free_head == NLB_SLOT_NONE && grow(a) < 0)
		return NULL;
	struct nlb_slot *s = nlb_slot_at(a, a->free_head);
	a->free_head = s->next;
	memset((char *)s + sizeof(*s), 0, a->elem_size - sizeof(*s));
	s->prev = s->next = NLB_SLOT_NONE;
	a->live++;
	return s;
}

void nlb_slot_free(struct nlb_slot_arena *a, void *obj)
{
	struct nlb_slot *s = obj;
	s->gen = (s->gen + 1) & NLB_SLOT_GEN_MASK;
	s->prev = NLB_SLOT_NONE;
	s->next = a->free_head;
	a->free_head = s->idx;
	a->live--;
}
