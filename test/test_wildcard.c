/* Suite "wildcard": lib/wildcard.c, the '*' and '?' patterns of listener
 * rules.  Exact text, '*' over nothing and over runs, '?' as one byte,
 * anchoring at both ends, several stars, ASCII case folding on and off,
 * host patterns with a leading star, empty patterns and texts, and a
 * randomized comparison with a plain recursive matcher from a fixed
 * seed. */
#include <criterion/criterion.h>

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "helpers.h"
#include "wildcard.h"

static bool M(const char *pat, const char *text, bool fold)
{
	return nlb_wildcard_match(pat, strlen(pat), text, strlen(text), fold);
}

struct wc_case {
	const char *pat, *text;
	bool want;
};

static void check(const struct wc_case *c, size_t n, bool fold)
{
	for (size_t i = 0; i < n; i++)
		cr_expect_eq(M(c[i].pat, c[i].text, fold), c[i].want, "\"%s\" ~ \"%s\" (fold %d): "
			     "want %d", c[i].pat, c[i].text, fold, c[i].want);
}

#define CHECK(c, fold) check(c, sizeof(c) / sizeof(c[0]), fold)

T_UNIT(wildcard, exact)
{
	static const struct wc_case c[] = {
		{ "/api", "/api", true },
		{ "/api", "/ap", false },
		{ "/api", "/apix", false },
		{ "/api", "x/api", false },
		{ "/api", "/apj", false },
		{ "a", "a", true },
		{ "a", "b", false },
	};
	CHECK(c, false);
	CHECK(c, true);
}

T_UNIT(wildcard, star)
{
	static const struct wc_case c[] = {
		{ "*", "", true },
		{ "*", "anything at all", true },
		{ "**", "", true },
		{ "***", "abc", true },
		{ "/api/*", "/api/", true },
		{ "/api/*", "/api/v1/users", true },
		{ "/api/*", "/api", false },
		{ "/api/*", "/apiv1", false },
		{ "*.png", ".png", true },
		{ "*.png", "/img/a.png", true },
		{ "*.png", "/img/a.png.txt", false },
		{ "*.png", "/img/a.pn", false },
		{ "a*b", "ab", true },
		{ "a*b", "axxxb", true },
		{ "a*b", "axxxbx", false },
		{ "a*b", "b", false },
		{ "a*a", "a", false },	/* head and tail may not share a byte */
		{ "a*a", "aa", true },
		{ "ab*ba", "aba", false },
		{ "ab*ba", "abba", true },
	};
	CHECK(c, false);
}

T_UNIT(wildcard, question_mark)
{
	static const struct wc_case c[] = {
		{ "?", "a", true },
		{ "?", "?", true },
		{ "?", "", false },
		{ "?", "ab", false },
		{ "/v?/x", "/v1/x", true },
		{ "/v?/x", "/v/x", false },
		{ "/v?/x", "/v12/x", false },
		{ "???", "abc", true },
		{ "???", "ab", false },
		{ "?*", "", false },
		{ "?*", "a", true },
		{ "*?", "a", true },
		{ "*?", "", false },
		{ "*?*", "", false },
		{ "*?*", "x", true },
		{ "/a/*?.js", "/a/.js", false },
		{ "/a/*?.js", "/a/b.js", true },
	};
	CHECK(c, false);
}

T_UNIT(wildcard, anchored_both_ends)
{
	static const struct wc_case c[] = {
		{ "b", "abc", false },
		{ "b*", "abc", false },
		{ "*b", "abc", false },
		{ "*b*", "abc", true },
		{ "abc", "abcabc", false },
		{ "abc*", "abcabc", true },
		{ "*abc", "abcabc", true },
		{ "/x", "/x/", false },
	};
	CHECK(c, false);
}

T_UNIT(wildcard, several_stars)
{
	static const struct wc_case c[] = {
		{ "/a*b*c", "/abc", true },
		{ "/a*b*c", "/a1b2c", true },
		{ "/a*b*c", "/a1b2", false },
		{ "/a*b*c", "/acb", false },
		{ "/a*b*c", "/a_c_b_c", true },
		{ "/a*b*c", "/abcbc", true },
		{ "/a*b*c", "/abcx", false },
		{ "*a*b*", "ba", false },
		{ "*a*b*", "xaybz", true },
		{ "*ab*ab*", "abab", true },
		{ "*ab*ab*", "aab", false },
		{ "*ab*ab*", "aabab", true },
		{ "*aa*aa*", "aaa", false },
		{ "*aa*aa*", "aaaa", true },
		{ "*x?y*", "xxyy", true },
		{ "*x?y*", "xy", false },
		{ "a*?*?*c", "abc", false },
		{ "a*?*?*c", "abbc", true },
		{ "*/v?/*/*.json", "/api/v2/users/1.json", true },
		{ "*/v?/*/*.json", "/api/v2/1.json", false },
	};
	CHECK(c, false);
}

T_UNIT(wildcard, folding)
{
	/* On: ASCII letters only. */
	cr_expect(M("/API/*", "/api/x", true));
	cr_expect(M("Example.COM", "eXAMPLE.com", true));
	cr_expect(M("*.Example.com", "API.EXAMPLE.COM", true));
	cr_expect(!M("[", "{", true), "'[' is not an upper-case '{'");
	cr_expect(!M("@", "`", true), "'@' is not an upper-case '`'");
	cr_expect(!M("\xc3\x89", "\xc3\xa9", true), "no folding outside ASCII");
	cr_expect(M("a?C", "AbC", true));
	/* Off: exact. */
	cr_expect(!M("/API/*", "/api/x", false));
	cr_expect(!M("Example.COM", "eXAMPLE.com", false));
	cr_expect(M("/Api/*", "/Api/X", false));
	cr_expect(!M("*.png", "A.PNG", false));
	cr_expect(M("*.png", "A.PNG", true));
}

T_UNIT(wildcard, host_patterns)
{
	static const struct wc_case c[] = {
		{ "*.example.com", "api.example.com", true },
		{ "*.example.com", "a.b.example.com", true },
		{ "*.example.com", "example.com", false },
		{ "*.example.com", ".example.com", true },
		{ "*.example.com", "api.example.com.evil", false },
		{ "*.example.com", "apiexample.com", false },
		{ "api.*.com", "api.example.com", true },
		{ "api.*.com", "api.com", false },
		{ "www.example.???", "www.example.org", true },
		{ "www.example.???", "www.example.io", false },
	};
	CHECK(c, true);
}

T_UNIT(wildcard, empty)
{
	cr_expect(M("", "", false));
	cr_expect(!M("", "a", false));
	cr_expect(!M("a", "", false));
	cr_expect(M("*", "", false));
	cr_expect(!M("?", "", false));
	/* plen 0 with a pattern pointer that holds text: only the length counts */
	cr_expect(nlb_wildcard_match("abc", 0, "", 0, false));
	cr_expect(!nlb_wildcard_match("abc", 0, "abc", 3, false));
	/* the lengths bound both sides: bytes past them do not count */
	cr_expect(nlb_wildcard_match("ab*", 2, "abz", 2, false));
	cr_expect(nlb_wildcard_match("a*c", 2, "abz", 3, false));
	cr_expect(!nlb_wildcard_match("a*c", 3, "abcd", 2, false));
}

/* ---- against a reference ------------------------------------------------ */

static unsigned char low(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* The textbook recursion: exponential in the worst case, obviously right. */
static bool ref_match(const char *p, size_t pn, const char *t, size_t tn, bool fold)
{
	if (pn == 0)
		return tn == 0;
	if (p[0] == '*')
		return ref_match(p + 1, pn - 1, t, tn, fold) ||
		       (tn > 0 && ref_match(p, pn, t + 1, tn - 1, fold));
	if (tn == 0)
		return false;
	if (p[0] != '?' && (fold ? low((unsigned char)p[0]) != low((unsigned char)t[0])
				 : p[0] != t[0]))
		return false;
	return ref_match(p + 1, pn - 1, t + 1, tn - 1, fold);
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

T_UNIT(wildcard, matches_a_reference)
{
	/* Small alphabets, so that matches are common. */
	static const char pat_alpha[] = "abAB**??";
	static const char text_alpha[] = "abAB?*";
	uint64_t s = 0x9e3779b97f4a7c15ull;
	unsigned matched = 0, tried = 0;
	for (int i = 0; i < 20000; i++) {
		char p[12], t[16];
		size_t pn = xorshift(&s) % sizeof(p), tn = xorshift(&s) % sizeof(t);
		for (size_t k = 0; k < pn; k++)
			p[k] = pat_alpha[xorshift(&s) % (sizeof(pat_alpha) - 1)];
		/* half the texts are built from the pattern, to reach deep
		 * matches; the others are random */
		if (i & 1) {
			tn = 0;
			for (size_t k = 0; k < pn && tn < sizeof(t); k++) {
				if (p[k] == '*') {
					uint64_t r = xorshift(&s) % 4;
					while (r-- > 0 && tn < sizeof(t))
						t[tn++] = text_alpha[xorshift(&s) % 4];
				} else {
					t[tn++] = p[k] == '?' ? 'x' : p[k];
				}
			}
			if (tn && xorshift(&s) % 4 == 0)	/* and one byte changed */
				t[xorshift(&s) % tn] = text_alpha[xorshift(&s) % 6];
		} else {
			for (size_t k = 0; k < tn; k++)
				t[k] = text_alpha[xorshift(&s) % (sizeof(text_alpha) - 1)];
		}
		for (int fold = 0; fold <= 1; fold++) {
			bool want = ref_match(p, pn, t, tn, fold);
			bool got = nlb_wildcard_match(p, pn, t, tn, fold);
			tried++;
			matched += want;
			if (got != want)
				cr_assert_fail("case %d: \"%.*s\" ~ \"%.*s\" (fold %d): got %d, "
					       "want %d", i, (int)pn, p, (int)tn, t, fold, got, want);
		}
	}
	/* both outcomes well represented, or the comparison proves little */
	cr_expect_gt(matched, tried / 10, "%u of %u matched", matched, tried);
	cr_expect_lt(matched, tried * 9 / 10, "%u of %u matched", matched, tried);
}
