/* maglev: the flow's owner in the Maglev table, re-hashed on retries
 * (see lb_pick.h; the table itself is maglev.c's). */
#include "lb_pick.h"

/* splitmix64's finaliser: spreads a retry's re-hash over the table. */
static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

int nlb_lb_maglev(const struct nlb_lb_table *t, uint64_t hash, unsigned attempt,
		  uint64_t tried, const struct nlb_lb_load *load, uint32_t *rotate)
{
	/* First try: the table's owner of the flow.  A retry re-hashes
	 * (deterministically, so every nlb retries the same way) and,
	 * past a few collisions with tried targets, falls back to the
	 * least loaded target not tried. */
	uint64_t h = hash;
	for (unsigned k = 0; k < 8; k++) {
		if (attempt || k)
			h = mix64(hash + (uint64_t)(attempt * 8u + k) * 0x9e3779b97f4a7c15ull);
		int i = nlb_maglev_lookup(&t->maglev, h);
		if (i < 0)
			return -ENOENT;
		if (nlb_lb_eligible(t, (uint32_t)i, tried))
			return i;
	}
	return nlb_lb_least_conn(t, tried, load, rotate);
}
