/* The single-writer single-reader byte ring (spsc_ring.h).  head and tail
 * only grow; their difference is what the ring holds.  The writer stores
 * the bytes, then publishes head with release order; the reader loads
 * head with acquire order, copies, then publishes tail, which frees the
 * space for the writer. */
#include "spsc_ring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int nlb_spsc_ring_init(struct nlb_spsc_ring *r, size_t cap)
{
	size_t c = 4096;
	while (c < cap)
		c <<= 1;
	r->buf = calloc(1, c);
	if (!r->buf)
		return -ENOMEM;
	r->cap = c;
	atomic_init(&r->head, 0);
	atomic_init(&r->tail, 0);
	return 0;
}

void nlb_spsc_ring_free(struct nlb_spsc_ring *r)
{
	free(r->buf);
	r->buf = NULL;
}

/* n bytes of p stored at position pos (not yet published). */
static void put(struct nlb_spsc_ring *r, uint64_t pos, const void *p, size_t n)
{
	if (n == 0)
		return;
	size_t at = (size_t)pos & (r->cap - 1);
	size_t first = n < r->cap - at ? n : r->cap - at;
	memcpy(r->buf + at, p, first);
	memcpy(r->buf, (const char *)p + first, n - first);
}

/* n bytes at position pos into out. */
static void get(const struct nlb_spsc_ring *r, uint64_t pos, void *out, size_t n)
{
	if (n == 0)
		return;
	size_t at = (size_t)pos & (r->cap - 1);
	size_t first = n < r->cap - at ? n : r->cap - at;
	memcpy(out, r->buf + at, first);
	memcpy((char *)out + first, r->buf, n - first);
}

bool nlb_spsc_ring_push(struct nlb_spsc_ring *r, const void *p, size_t n)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
	if (n > r->cap - (size_t)(head - tail))
		return false;
	put(r, head, p, n);
	atomic_store_explicit(&r->head, head + n, memory_order_release);
	return true;
}

bool nlb_spsc_ring_push_record(struct nlb_spsc_ring *r, const void *head_p, size_t head_len,
			       const void *body, size_t body_len)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
	size_t n = head_len + body_len;
	if (n == 0 || n > UINT32_MAX || 4 + n > r->cap - (size_t)(head - tail))
		return false;
	uint32_t len = (uint32_t)n;
	put(r, head, &len, 4);
	put(r, head + 4, head_p, head_len);
	put(r, head + 4 + head_len, body, body_len);
	atomic_store_explicit(&r->head, head + 4 + n, memory_order_release);
	return true;
}

size_t nlb_spsc_ring_pop_record(struct nlb_spsc_ring *r, void *out, size_t cap)
{
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
	if (head - tail < 4)
		return 0;
	uint32_t len;
	get(r, tail, &len, 4);
	size_t n = len <= cap ? len : SIZE_MAX;
	if (n != SIZE_MAX)
		get(r, tail + 4, out, len);
	atomic_store_explicit(&r->tail, tail + 4 + len, memory_order_release);
	return n;
}

size_t nlb_spsc_ring_pop(struct nlb_spsc_ring *r, char *out, size_t cap)
{
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
	size_t n = (size_t)(head - tail);
	if (n > cap) {
		/* Whole lines only: cut after the last newline that fits. */
		n = cap;
		while (n > 0) {
			size_t at = (size_t)(tail + n - 1) & (r->cap - 1);
			if (r->buf[at] == '\n')
				break;
			n--;
		}
	}
	get(r, tail, out, n);
	atomic_store_explicit(&r->tail, tail + n, memory_order_release);
	return n;
}
