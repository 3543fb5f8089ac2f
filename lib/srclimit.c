/* Per-source connection limits (see srclimit.h).  Owns one allocation per
 * table: the sources, on keyed hash chains, and the chain heads.  Sources
 * holding no connection are threaded on an idle list in use order, the
 * only ones eviction may take, so a live connection's count is never
 * lost. */
#include "srclimit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tuple_hash.h"

#define NS_PER_S 1000000000ull

/* Links are refs, slot + 1 with 0 for none, so that zeroed memory (a
 * zeroed table, calloc's chain heads) reads as empty. */
#define REF(s)  ((s) + 1)
#define SLOT(r) ((r) - 1)

/* Tokens are counted in billionths, so refilling elapsed_ns at rate per
 * second adds exactly elapsed_ns * rate: no division, no rounding, for
 * every rate.  The burst equals the rate (full = rate * 1e9 <= 2^62). */
struct nlb_srclimit_entry {
	uint8_t addr[16];
	uint64_t tokens;	/* in 1e-9 token, 0..full */
	uint64_t last_ns;	/* tokens is as of this time */
	uint32_t conns;		/* always 0 without a concurrent limit */
	uint32_t chain;		/* next on the hash chain, or the free list */
	uint32_t prev;		/* idle list, towards the most recently used */
	uint32_t next;		/* towards the least recently used */
};

_Static_assert(sizeof(struct nlb_srclimit_entry) == 48,
	       "a source is 48 bytes, padding-free");

int nlb_srclimit_init(struct nlb_srclimit *t, uint32_t max_conns,
		      uint32_t rate_per_s, uint32_t capacity,
		      const uint8_t key[16])
{
	memset(t, 0, sizeof(*t));
	if (max_conns == 0 && rate_per_s == 0)
		return 0;
	if (capacity == 0 || capacity > NLB_SRCLIMIT_MAX_CAPACITY)
		return -EINVAL;

	/* At least as many chains as sources: chains average at most one
	 * source, and the keyed hash keeps an attacker from lengthening
	 * any one of them. */
	size_t nchains = 1;
	while (nchains < capacity)
		nchains *= 2;

	/* calloc: both arrays start empty (all refs 0) without a pass over
	 * them, so pages become resident only as sources arrive. */
	size_t size = (size_t)capacity * sizeof(struct nlb_srclimit_entry) +
		      nchains * sizeof(uint32_t);
	void *mem = calloc(1, size);
	if (mem == NULL)
		return -ENOMEM;
	t->entries = mem;
	t->heads = (uint32_t *)(t->entries + capacity);
	memcpy(&t->k0, key, 8);
	memcpy(&t->k1, key + 8, 8);
	t->full = (uint64_t)rate_per_s * NS_PER_S;
	t->max_conns = max_conns;
	t->rate = rate_per_s;
	t->mask = (uint32_t)(nchains - 1);
	t->capacity = capacity;
	return 0;
}

void nlb_srclimit_free(struct nlb_srclimit *t)
{
	free(t->entries);
	memset(t, 0, sizeof(*t));
}

static inline uint32_t chain_of(const struct nlb_srclimit *t,
				const uint8_t addr[16])
{
	return (uint32_t)nlb_siphash13(addr, 16, t->k0, t->k1) & t->mask;
}

/* The slot holding addr on chain c, or NLB_SRCLIMIT_NO_SLOT. */
static uint32_t find(const struct nlb_srclimit *t, uint32_t c,
		     const uint8_t addr[16])
{
	for (uint32_t r = t->heads[c]; r != 0; r = t->entries[SLOT(r)].chain)
		if (memcmp(t->entries[SLOT(r)].addr, addr, 16) == 0)
			return SLOT(r);
	return NLB_SRCLIMIT_NO_SLOT;
}

static void idle_unlink(struct nlb_srclimit *t, uint32_t s)
{
	struct nlb_srclimit_entry *e = &t->entries[s];

	if (e->prev != 0)
		t->entries[SLOT(e->prev)].next = e->next;
	else
		t->idle_head = e->next;
	if (e->next != 0)
		t->entries[SLOT(e->next)].prev = e->prev;
	else
		t->idle_tail = e->prev;
}

static void idle_push_front(struct nlb_srclimit *t, uint32_t s)
{
	struct nlb_srclimit_entry *e = &t->entries[s];

	e->prev = 0;
	e->next = t->idle_head;
	if (t->idle_head != 0)
		t->entries[SLOT(t->idle_head)].prev = REF(s);
	else
		t->idle_tail = REF(s);
	t->idle_head = REF(s);
}

/* Takes slot s off its hash chain and out of the count; the caller has
 * taken it off the idle list if it was there and decides where it goes.
 * The chain is found by hashing again rather than storing the hash: this
 * runs on eviction and on a last release only, and keeps a source at 48
 * bytes. */
static void unchain(struct nlb_srclimit *t, uint32_t s)
{
	uint32_t *p = &t->heads[chain_of(t, t->entries[s].addr)];

	while (*p != REF(s))
		p = &t->entries[SLOT(*p)].chain;
	*p = t->entries[s].chain;
	t->count--;
}

/* Adds tokens for the time since the last refill, up to a full bucket.
 * A gap of a second or more fills any bucket (burst = rate), which also
 * keeps elapsed * rate below 1e9 * 2^32 < 2^62: no overflow however long
 * the source was idle.  A clock that went backwards adds nothing and
 * leaves last_ns where it was. */
static inline void refill(const struct nlb_srclimit *t,
			  struct nlb_srclimit_entry *e, uint64_t now_ns)
{
	if (now_ns <= e->last_ns)
		return;
	uint64_t elapsed = now_ns - e->last_ns;
	e->last_ns = now_ns;
	if (elapsed >= NS_PER_S) {
		e->tokens = t->full;
		return;
	}
	e->tokens += elapsed * t->rate;
	if (e->tokens > t->full)
		e->tokens = t->full;
}

/* Counts or refuses a connection from the source in slot s. */
static int admit_present(struct nlb_srclimit *t, uint32_t s, uint64_t now_ns,
			 uint32_t *slot)
{
	struct nlb_srclimit_entry *e = &t->entries[s];

	if (t->rate != 0)
		refill(t, e, now_ns);
	if (t->max_conns != 0 && e->conns >= t->max_conns)
		return -EMFILE;
	if (t->rate != 0 && e->tokens < NS_PER_S) {
		/* Keep a refused source away from eviction: dropping it
		 * would hand it a full bucket the next time. */
		if (e->conns == 0 && t->idle_head != REF(s)) {
			idle_unlink(t, s);
			idle_push_front(t, s);
		}
		return -EAGAIN;
	}
	if (t->rate != 0)
		e->tokens -= NS_PER_S;
	if (t->max_conns != 0) {
		if (e->conns++ == 0)
			idle_unlink(t, s);
		*slot = s;
	} else if (t->idle_head != REF(s)) {
		idle_unlink(t, s);
		idle_push_front(t, s);
	}
	return 0;
}

/* A slot for a new source: a given-back one, a never-used one, or the
 * least recently used idle source's.  Evicting an idle source whose
 * bucket is full loses nothing; one whose bucket is partly empty loses
 * that rate history and gets a full bucket if it comes back, the price
 * of bounded memory.  NLB_SRCLIMIT_NO_SLOT when every source holds
 * connections. */
static uint32_t take_slot(struct nlb_srclimit *t)
{
	uint32_t s;

	if (t->free_head != 0) {
		s = SLOT(t->free_head);
		t->free_head = t->entries[s].chain;
		return s;
	}
	if (t->fresh < t->capacity)
		return t->fresh++;
	if (t->idle_tail == 0)
		return NLB_SRCLIMIT_NO_SLOT;
	s = SLOT(t->idle_tail);
	idle_unlink(t, s);
	unchain(t, s);
	t->evictions++;
	return s;
}

int nlb_srclimit_admit(struct nlb_srclimit *t, const uint8_t addr[16],
		       uint64_t now_ns, uint32_t *slot)
{
	*slot = NLB_SRCLIMIT_NO_SLOT;
	if (t->max_conns == 0 && t->rate == 0)
		return 0;

	uint32_t c = chain_of(t, addr);
	uint32_t s = find(t, c, addr);
	if (s != NLB_SRCLIMIT_NO_SLOT)
		return admit_present(t, s, now_ns, slot);

	/* A new source starts with a full bucket and takes from it; it is
	 * admitted by both limits (each is at least 1) if it gets a slot.
	 * An eviction may have shortened chain c, so link at its head now. */
	s = take_slot(t);
	if (s == NLB_SRCLIMIT_NO_SLOT)
		return -ENOSPC;
	struct nlb_srclimit_entry *e = &t->entries[s];
	memcpy(e->addr, addr, 16);
	e->tokens = t->rate != 0 ? t->full - NS_PER_S : 0;
	e->last_ns = now_ns;
	e->chain = t->heads[c];
	t->heads[c] = REF(s);
	t->count++;
	if (t->max_conns != 0) {
		e->conns = 1;
		*slot = s;
	} else {
		e->conns = 0;
		idle_push_front(t, s);
	}
	return 0;
}

void nlb_srclimit_release(struct nlb_srclimit *t, uint32_t slot)
{
	/* Also rejects NLB_SRCLIMIT_NO_SLOT and anything on a disabled
	 * table, whose capacity is 0. */
	if (slot >= t->capacity)
		return;
	struct nlb_srclimit_entry *e = &t->entries[slot];
	if (e->conns == 0 || --e->conns != 0)
		return;
	if (t->rate != 0) {
		idle_push_front(t, slot);
		return;
	}
	/* Without a rate limit an idle source carries no state: give its
	 * slot back now rather than let it wait for eviction. */
	unchain(t, slot);
	e->chain = t->free_head;
	t->free_head = REF(slot);
}

int64_t nlb_srclimit_conns(const struct nlb_srclimit *t,
			   const uint8_t addr[16])
{
	if (t->capacity == 0)
		return -ENOENT;
	uint32_t s = find(t, chain_of(t, addr), addr);
	if (s == NLB_SRCLIMIT_NO_SLOT)
		return -ENOENT;
	return t->entries[s].conns;
}

int nlb_srclimit_verify(const struct nlb_srclimit *t)
{
	if (t->capacity == 0)
		return t->entries == NULL && t->count == 0 ? 0 : -EUCLEAN;
	if (t->fresh > t->capacity || t->count > t->fresh ||
	    t->full != (uint64_t)t->rate * NS_PER_S)
		return -EUCLEAN;

	/* Every chained source: a used slot on the chain its hash names,
	 * the first match for its address (so no address is there twice),
	 * its count and bucket within the limits.  The running total guards
	 * against cycles. */
	uint32_t n = 0, idle = 0;
	for (uint32_t c = 0; c <= t->mask; c++) {
		for (uint32_t r = t->heads[c]; r != 0;
		     r = t->entries[SLOT(r)].chain) {
			uint32_t s = SLOT(r);
			const struct nlb_srclimit_entry *e = &t->entries[s];
			if (s >= t->fresh || n++ == t->count ||
			    chain_of(t, e->addr) != c ||
			    find(t, c, e->addr) != s || e->tokens > t->full)
				return -EUCLEAN;
			if (t->max_conns == 0 ? e->conns != 0
					      : e->conns > t->max_conns)
				return -EUCLEAN;
			/* Without a rate limit a source leaves with its
			 * last connection. */
			if (e->conns == 0 && t->rate == 0)
				return -EUCLEAN;
			idle += e->conns == 0;
		}
	}
	if (n != t->count)
		return -EUCLEAN;

	/* The idle list: exactly the chained sources without connections,
	 * links agreeing both ways. */
	n = 0;
	uint32_t prev = 0;
	for (uint32_t r = t->idle_head; r != 0; r = t->entries[SLOT(r)].next) {
		uint32_t s = SLOT(r);
		const struct nlb_srclimit_entry *e = &t->entries[s];
		if (s >= t->fresh || n++ == idle || e->prev != prev ||
		    e->conns != 0 ||
		    find(t, chain_of(t, e->addr), e->addr) != s)
			return -EUCLEAN;
		prev = r;
	}
	if (n != idle || t->idle_tail != prev)
		return -EUCLEAN;

	n = 0;
	for (uint32_t r = t->free_head; r != 0; r = t->entries[SLOT(r)].chain) {
		uint32_t s = SLOT(r);
		if (s >= t->fresh || n++ == t->fresh - t->count ||
		    t->entries[s].conns != 0)
			return -EUCLEAN;
	}
	if (n != t->fresh - t->count)
		return -EUCLEAN;
	return 0;
}
