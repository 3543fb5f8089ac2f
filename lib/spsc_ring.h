/* A byte ring with one writer thread and one reader thread, no locks:
 * the writer copies a record in whole or not at all (a full ring refuses
 * it, so a slow reader costs the writer a dropped record, never a wait);
 * the reader takes whatever whole records are there.  Used for the
 * access log: each worker writes its lines, one thread writes them out. */
#ifndef NLB_SPSC_RING_H
#define NLB_SPSC_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nlb_spsc_ring {
	char *buf;
	size_t cap;				/* a power of two */
	_Alignas(64) _Atomic uint64_t head;	/* bytes ever written (the writer's) */
	_Alignas(64) _Atomic uint64_t tail;	/* bytes ever read (the reader's) */
};

/* A ring of cap bytes (rounded up to a power of two, at least 4 KiB);
 * its pages cost nothing until written.  0 or -ENOMEM. */
int nlb_spsc_ring_init(struct nlb_spsc_ring *r, size_t cap);
void nlb_spsc_ring_free(struct nlb_spsc_ring *r);

/* Writer: appends n bytes, or nothing and false when they do not fit. */
bool nlb_spsc_ring_push(struct nlb_spsc_ring *r, const void *p, size_t n);

/* Reader: moves up to cap bytes of what was pushed into out.  When the
 * ring holds more, it stops after the last newline that fits: records
 * are lines, each shorter than cap.  Returns the bytes moved. */
size_t nlb_spsc_ring_pop(struct nlb_spsc_ring *r, char *out, size_t cap);

/* Writer: one record, head then body (either may be empty), after its
 * length (4 bytes), whole or not at all: false when it does not fit. */
bool nlb_spsc_ring_push_record(struct nlb_spsc_ring *r, const void *head, size_t head_len,
			       const void *body, size_t body_len);

/* Reader: the oldest record of push_record into out: its length, 0 when
 * there is none (records are never empty), or SIZE_MAX for one longer
 * than cap, which is taken and dropped. */
size_t nlb_spsc_ring_pop_record(struct nlb_spsc_ring *r, void *out, size_t cap);

#endif
