/* lib/tls_hello: the ALPN protocol an http1 listener picks from a
 * client's list (preference, position, lists that stop making sense)
 * and how a certificate's name holds a server name (exact, wildcard). */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "helpers.h"
#include "tls_hello.h"

TestSuite(tls_hello);

/* A wire list and its length (string literals count their NUL). */
#define L(lit) (const unsigned char *)(lit), sizeof(lit) - 1

struct alpn_case {
	const unsigned char *in;
	unsigned inlen;
	const char *want;	/* NULL: -ENOENT */
};

T_UNIT(tls_hello, alpn)
{
	static const struct alpn_case cases[] = {
		{ L("\x08http/1.1"), "http/1.1" },
		{ L("\x02h2\x08http/1.1"), "http/1.1" },
		{ L("\x08http/1.0\x08http/1.1"), "http/1.1" },
		{ L("\x02h2\x08http/1.0"), "http/1.0" },
		{ L("\x02h2"), NULL },
		{ L(""), NULL },
		/* a name running past the list ends the walk */
		{ L("\x09http/1.1"), NULL },
		{ L("\x08http/1.0\x20http/1.1"), "http/1.0" },
		/* an empty name too, whatever follows */
		{ L("\x00\x08http/1.1"), NULL },
		{ L("\x07http/1.\x08http/1.1"), "http/1.1" },
		{ L("\x09http/1.1x"), NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct alpn_case *c = &cases[i];
		const unsigned char *out = NULL;
		unsigned char outlen = 0;
		int r = nlb_alpn_pick_http1(c->in, c->inlen, &out, &outlen);
		if (!c->want) {
			cr_expect_eq(r, -ENOENT, "case %zu: %d", i, r);
			continue;
		}
		cr_expect_eq(r, 0, "case %zu: %d", i, r);
		cr_expect(r == 0 && outlen == strlen(c->want) && !memcmp(out, c->want, outlen) &&
			  out > c->in && out + outlen <= c->in + c->inlen, "case %zu", i);
	}
}

struct sni_case {
	const char *name, *sni;
	enum nlb_sni_match want;
};

T_UNIT(tls_hello, sni)
{
	static const struct sni_case cases[] = {
		{ "a.test", "a.test", NLB_SNI_EXACT },
		{ "a.test", "A.Test", NLB_SNI_EXACT },
		{ "a.test", "b.test", NLB_SNI_NONE },
		{ "*.test", "a.test", NLB_SNI_WILDCARD },
		{ "*.test", "A.TEST", NLB_SNI_WILDCARD },
		{ "*.b.test", "a.b.test", NLB_SNI_WILDCARD },
		/* one label only, and not an empty one */
		{ "*.test", "a.b.test", NLB_SNI_NONE },
		{ "*.test", ".test", NLB_SNI_NONE },
		{ "*.test", "test", NLB_SNI_NONE },
		{ "*.test", "*.test", NLB_SNI_EXACT },
		{ "x*.test", "xa.test", NLB_SNI_NONE },
		{ "*.test", "a.testx", NLB_SNI_NONE },
		{ "", "", NLB_SNI_EXACT },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_expect_eq(nlb_sni_match(cases[i].name, cases[i].sni), cases[i].want,
			     "case %zu: %s, %s", i, cases[i].name, cases[i].sni);
}
