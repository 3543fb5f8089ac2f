/* libFuzzer target for what nlb reads itself of a TLS client's hello
 * (lib/tls_hello.c, which lib/tls_server.c's callbacks call; OpenSSL
 * parses the records and the extensions' framing).  The first byte picks
 * one reader.  Even: the rest is an ALPN list; the pick must be
 * http/1.1 when the list, walked here by hand up to where it stops
 * making sense, offers it, else http/1.0 when it offers that, else
 * none, and point into the list.  Odd: the rest is certificate names,
 * one a line, then a server name on the last line; pick_ctx's walk over
 * them (an exact name first, then the first wildcard) must pick the
 * name a matcher written here from the description picks.  The
 * sanitizers catch any read past the input. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls_hello.h"

#define CHECK(cond) do {						\
		if (!(cond)) {						\
			fprintf(stderr, "fuzz_tls_hello: %s:%d: %s\n",	\
				__FILE__, __LINE__, #cond);		\
			abort();					\
		}							\
	} while (0)

static void alpn(const uint8_t *in, size_t n)
{
	bool h11 = false, h10 = false;
	for (size_t i = 0; i < n;) {
		size_t l = in[i];
		if (l == 0 || i + 1 + l > n)
			break;
		h11 = h11 || (l == 8 && !memcmp(in + i + 1, "http/1.1", 8));
		h10 = h10 || (l == 8 && !memcmp(in + i + 1, "http/1.0", 8));
		i += 1 + l;
	}
	const unsigned char *out = NULL;
	unsigned char outlen = 0;
	int r = nlb_alpn_pick_http1(in, (unsigned)n, &out, &outlen);
	CHECK(r == 0 || r == -ENOENT);
	CHECK((r == 0) == (h11 || h10));
	if (r < 0)
		return;
	CHECK(outlen == 8 && out > in && out + outlen <= in + n);
	CHECK(!memcmp(out, h11 ? "http/1.1" : "http/1.0", 8));
	CHECK(out[-1] == 8);
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

static bool same(const char *a, const char *b)
{
	for (; *a && lower(*a) == lower(*b); a++, b++)
		;
	return lower(*a) == lower(*b);
}

/* "*.rest" holds "label.rest" for a label of one byte or more, no dot. */
static bool wild(const char *name, const char *sni)
{
	if (name[0] != '*' || name[1] != '.')
		return false;
	size_t k = 0;
	while (sni[k] && sni[k] != '.')
		k++;
	return k > 0 && sni[k] == '.' && same(name + 2, sni + k + 1);
}

#define NAMES 8

static void sni(const uint8_t *p, size_t n)
{
	char *text = malloc(n + 1);
	CHECK(text != NULL);
	memcpy(text, p, n);
	text[n] = '\0';		/* OpenSSL refuses a server name holding NUL */
	char *name[NAMES];
	size_t k = 0;
	char *line = text, *nl;
	while ((nl = strchr(line, '\n')) && k < NAMES) {
		*nl = '\0';
		name[k++] = line;
		line = nl + 1;
	}
	const char *sn = line;
	/* pick_ctx's walk, with lib's matcher and with this one */
	int exact = -1, first_wild = -1, ref_exact = -1, ref_wild = -1;
	for (size_t i = 0; i < k; i++) {
		enum nlb_sni_match m = nlb_sni_match(name[i], sn);
		CHECK(m == NLB_SNI_NONE || m == NLB_SNI_WILDCARD || m == NLB_SNI_EXACT);
		CHECK((m == NLB_SNI_EXACT) == same(name[i], sn));
		CHECK(m == NLB_SNI_EXACT || (m == NLB_SNI_WILDCARD) == wild(name[i], sn));
		if (m == NLB_SNI_EXACT && exact < 0)
			exact = (int)i;
		if (m == NLB_SNI_WILDCARD && first_wild < 0)
			first_wild = (int)i;
		if (same(name[i], sn) && ref_exact < 0)
			ref_exact = (int)i;
		if (!same(name[i], sn) && wild(name[i], sn) && ref_wild < 0)
			ref_wild = (int)i;
	}
	CHECK(exact == ref_exact && first_wild == ref_wild);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] % 2 == 0)
		alpn(data + 1, size - 1);
	else
		sni(data + 1, size - 1);
	return 0;
}
