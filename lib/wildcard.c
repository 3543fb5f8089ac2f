/* '*' and '?' patterns (see wildcard.h). */
#include "wildcard.h"

static inline unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* Whether the star-free part p[0, n) matches t[0, n). */
static bool part_at(const char *p, const char *t, size_t n, bool fold)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char a = (unsigned char)p[i], b = (unsigned char)t[i];
		if (a == '?')
			continue;
		if (fold ? lower(a) != lower(b) : a != b)
			return false;
	}
	return true;
}

bool nlb_wildcard_match(const char *pat, size_t plen, const char *text, size_t tlen, bool fold)
{
	/* The part before the first star is anchored at the start. */
	size_t head = 0;
	while (head < plen && pat[head] != '*')
		head++;
	if (head == plen)
		return tlen == plen && part_at(pat, text, plen, fold);
	if (tlen < head || !part_at(pat, text, head, fold))
		return false;
	/* ... the part after the last star at the end ... */
	size_t tail = 0;
	while (pat[plen - 1 - tail] != '*')
		tail++;
	if (tlen - head < tail || !part_at(pat + plen - tail, text + tlen - tail, tail, fold))
		return false;
	/* ... and those between, leftmost first: a later match of one
	 * leaves less room for the rest, never more. */
	size_t p = head, t = head, pend = plen - tail, tend = tlen - tail;
	while (p < pend) {
		while (p < pend && pat[p] == '*')
			p++;
		size_t n = 0;
		while (p + n < pend && pat[p + n] != '*')
			n++;
		if (n == 0)
			break;
		for (;;) {
			if (tend - t < n)
				return false;
			if (part_at(pat + p, text + t, n, fold))
				break;
			t++;
		}
		t += n;
		p += n;
	}
	return true;
}
