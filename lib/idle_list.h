/* An idle order over objects of a slot arena: least recently active
 * first, so idle timeouts look at the head and stop at the first object
 * that is not due.  Intrusive (the objects' struct nlb_slot links) and
 * by index, so lists cost two words each, and a worker keeps one per
 * listener and protocol.  An object is on a list when it has a previous
 * one or is its head. */
#ifndef NLB_IDLE_LIST_H
#define NLB_IDLE_LIST_H

#include <stdbool.h>
#include <stdint.h>

#include "slot_arena.h"

struct nlb_idle_list {
	uint32_t head, tail;
};

static inline void nlb_idle_init(struct nlb_idle_list *l)
{
	l->head = l->tail = NLB_SLOT_NONE;
}

static inline bool nlb_idle_empty(const struct nlb_idle_list *l)
{
	return l->head == NLB_SLOT_NONE;
}

/* The least recently active object, or NULL. */
static inline void *nlb_idle_oldest(const struct nlb_slot_arena *a, const struct nlb_idle_list *l)
{
	return l->head == NLB_SLOT_NONE ? NULL : nlb_slot_at(a, l->head);
}

/* Takes s off l; nothing when s is on no list. */
static inline void nlb_idle_remove(const struct nlb_slot_arena *a, struct nlb_idle_list *l,
				   struct nlb_slot *s)
{
	if (s->prev != NLB_SLOT_NONE)
		((struct nlb_slot *)nlb_slot_at(a, s->prev))->next = s->next;
	else if (l->head == s->idx)
		l->head = s->next;
	else
		return;
	if (s->next != NLB_SLOT_NONE)
		((struct nlb_slot *)nlb_slot_at(a, s->next))->prev = s->prev;
	else
		l->tail = s->prev;
	s->prev = s->next = NLB_SLOT_NONE;
}

/* Puts s, on no list, last (most recently active). */
static inline void nlb_idle_append(const struct nlb_slot_arena *a, struct nlb_idle_list *l,
				   struct nlb_slot *s)
{
	s->next = NLB_SLOT_NONE;
	s->prev = l->tail;
	if (l->tail != NLB_SLOT_NONE)
		((struct nlb_slot *)nlb_slot_at(a, l->tail))->next = s->idx;
	else
		l->head = s->idx;
	l->tail = s->idx;
}

/* s was active just now: last, wherever it was. */
static inline void nlb_idle_touch(const struct nlb_slot_arena *a, struct nlb_idle_list *l,
				  struct nlb_slot *s)
{
	if (l->tail == s->idx)
		return;
	nlb_idle_remove(a, l, s);
	nlb_idle_append(a, l, s);
}

#endif
