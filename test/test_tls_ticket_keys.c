/* Suite "tls_ticket_keys": the ticket key file parser
 * (lib/tls_ticket_keys.c).  Good files parse to the keys they spell, in
 * NGINX's byte order, whatever their comments, blank lines and line
 * ends; bad ones fail at the line at fault (bad base64, a length other
 * than 48 or 80 bytes, a length unlike the first key's, one key too
 * many), and a file without a key fails at line 0. */
#include <criterion/criterion.h>

#include <errno.h>
#include <string.h>

#include "tls_ticket_keys.h"
#include "helpers.h"

/* Bytes 0..79, 0xa0..0xef, and 0x50..0x7f, base64. */
#define K80A "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEy" \
	     "MzQ1Njc4OTo7PD0+P0BBQkNERUZHSElKS0xNTk8="
#define K80B "oKGio6SlpqeoqaqrrK2ur7CxsrO0tba3uLm6u7y9vr/AwcLDxMXGx8jJysvMzc7P0NHS" \
	     "09TV1tfY2drb3N3e3+Dh4uPk5ebn6Onq6+zt7u8="
#define K48A "UFFSU1RVVldYWVpbXF1eX2BhYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ent8fX5/"
/* K80A with the bits under its padding not zero: another spelling. */
#define K80A_LOOSE "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEy" \
		   "MzQ1Njc4OTo7PD0+P0BBQkNERUZHSElKS0xNTk9="
/* 64 bytes: valid base64, no key length. */
#define K64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEy" \
	    "MzQ1Njc4OTo7PD0+Pw=="
/* K80A without its padding, and K48A cut by a group. */
#define K80A_UNPADDED "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEy" \
		      "MzQ1Njc4OTo7PD0+P0BBQkNERUZHSElKS0xNTk8"
#define K48A_SHORT "UFFSU1RVVldYWVpbXF1eX2BhYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ent8"
/* K48A past its fifth character: "UFFS" x K48A_TAIL is as long as K48A. */
#define K48A_TAIL "1RVVldYWVpbXF1eX2BhYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ent8fX5/"

#define NINE_KEYS K80A "\n" K80B "\n" K80A "\n" K80B "\n" K80A "\n" K80B "\n" K80A "\n" \
		  K80B "\n" K80A "\n"

struct good_case {
	const char *what, *text;
	int keys;
	size_t key_len;			/* 80 or 48 */
};

static const struct good_case good[] = {
	{ "one 80-byte key", K80A "\n", 1, 80 },
	{ "no final newline", K80A, 1, 80 },
	{ "one 48-byte key", K48A "\n", 1, 48 },
	{ "two keys", K80A "\n" K80B "\n", 2, 80 },
	{ "CRLF", K80A "\r\n" K80B "\r\n", 2, 80 },
	{ "CRLF, no final newline", K80A "\r\n" K80B, 2, 80 },
	{ "comments and blank lines", "# rotated 2026-12-01\n\n" K80A "\n   \n#" K80B "\n\t\n"
	  K80B "\n", 2, 80 },
	{ "blank CRLF lines", "\r\n" K48A "\r\n\r\n", 1, 48 },
	{ "eight keys (the most)", K80A "\n" K80B "\n" K80A "\n" K80B "\n" K80A "\n" K80B "\n"
	  K80A "\n" K80B "\n", 8, 80 },
};

T_UNIT(tls_ticket_keys, good_files)
{
	for (size_t k = 0; k < sizeof(good) / sizeof(good[0]); k++) {
		const struct good_case *c = &good[k];
		struct nlb_tls_ticket_key keys[NLB_TLS_TICKET_KEYS_MAX];
		int bad = -1;
		int r = nlb_tls_ticket_keys_parse(c->text, strlen(c->text), keys,
						  NLB_TLS_TICKET_KEYS_MAX, &bad);
		cr_assert_eq(r, c->keys, "%s: %d keys, want %d (bad line %d)", c->what, r,
			     c->keys, bad);
		for (int i = 0; i < r; i++) {
			size_t part = c->key_len == 80 ? 32 : 16;
			cr_expect_eq((size_t)keys[i].hmac_len, part, "%s: key %d", c->what, i);
			cr_expect_eq((size_t)keys[i].aes_len, part, "%s: key %d", c->what, i);
		}
	}
}

/* Name, HMAC secret, AES key: NGINX's order of the decoded bytes. */
T_UNIT(tls_ticket_keys, byte_layout)
{
	struct nlb_tls_ticket_key k[2];
	uint8_t want[80];
	int bad = -1;
	const char text[] = K80A "\n" K48A "\n";

	cr_assert_eq(nlb_tls_ticket_keys_parse(K80A, strlen(K80A), k, 2, &bad), 1);
	for (int i = 0; i < 80; i++)
		want[i] = (uint8_t)i;
	cr_expect_arr_eq(k[0].name, want, 16);
	cr_expect_arr_eq(k[0].hmac, want + 16, 32);
	cr_expect_arr_eq(k[0].aes, want + 48, 32);

	cr_assert_eq(nlb_tls_ticket_keys_parse(K48A, strlen(K48A), k, 2, &bad), 1);
	for (int i = 0; i < 48; i++)
		want[i] = (uint8_t)(0x50 + i);
	cr_expect_arr_eq(k[0].name, want, 16);
	cr_expect_arr_eq(k[0].hmac, want + 16, 16);
	cr_expect_arr_eq(k[0].aes, want + 32, 16);

	/* Mixed: refused at the second. */
	cr_expect_eq(nlb_tls_ticket_keys_parse(text, strlen(text), k, 2, &bad), -EINVAL);
	cr_expect_eq(bad, 2);
}

struct bad_case {
	const char *what, *text;
	size_t len;			/* 0: strlen(text) */
	int err, line;
};

static const struct bad_case bad_cases[] = {
	{ "empty file", "", 0, -EINVAL, 0 },
	{ "comments only", "# no key yet\n\n#\n", 0, -EINVAL, 0 },
	{ "blank lines only", "\n\r\n  \n", 0, -EINVAL, 0 },
	{ "a bad character", "!" K80A "\n", 0, -EINVAL, 1 },
	{ "a bad character in place", "UFFS!" K48A_TAIL "\n", 0, -EINVAL, 1 },
	{ "leading space", " " K80A "\n", 0, -EINVAL, 1 },
	{ "trailing space", K80A " \n", 0, -EINVAL, 1 },
	{ "a comment after the key", K80A " # k1\n", 0, -EINVAL, 1 },
	{ "a lone CR inside", "UFFS\r" K48A_TAIL "\n", 0, -EINVAL, 1 },
	{ "a tab inside", "UFFS\t" K48A_TAIL "\n", 0, -EINVAL, 1 },
	{ "URL-safe alphabet", "UFFS-" K48A_TAIL "\n", 0, -EINVAL, 1 },
	{ "unpadded", K80A_UNPADDED "\n", 0, -EINVAL, 1 },
	{ "loose padding bits", K80A_LOOSE "\n", 0, -EINVAL, 1 },
	{ "cut short", K48A_SHORT "\n", 0, -EINVAL, 1 },
	{ "64 bytes", K64 "\n", 0, -EINVAL, 1 },
	{ "'=' inside", "UFFS=" K48A_TAIL "\n", 0, -EINVAL, 1 },
	{ "two keys on a line", K48A K48A "\n", 0, -EINVAL, 1 },
	{ "bad second key", K80A "\n" K80A_LOOSE "\n", 0, -EINVAL, 2 },
	{ "mixed lengths", K80A "\n# next\n" K48A "\n", 0, -EINVAL, 3 },
	{ "mixed lengths, 48 first", K48A "\r\n" K80A "\r\n", 0, -EINVAL, 2 },
	{ "a NUL byte", K48A "\n\0" K48A "\n", 2 * sizeof(K48A) + 1, -EINVAL, 2 },
	{ "nine keys", NINE_KEYS, 0, -E2BIG, 9 },
	{ "nine keys, comments between", "#a\n" K80A "\n\n" NINE_KEYS, 0, -E2BIG, 11 },
};

T_UNIT(tls_ticket_keys, bad_files)
{
	for (size_t k = 0; k < sizeof(bad_cases) / sizeof(bad_cases[0]); k++) {
		const struct bad_case *c = &bad_cases[k];
		struct nlb_tls_ticket_key keys[NLB_TLS_TICKET_KEYS_MAX];
		size_t len = c->len ? c->len : strlen(c->text);
		int bad = -1;
		int r = nlb_tls_ticket_keys_parse(c->text, len, keys, NLB_TLS_TICKET_KEYS_MAX,
						  &bad);
		cr_expect_eq(r, c->err, "%s: %d, want %d", c->what, r, c->err);
		cr_expect_eq(bad, c->line, "%s: line %d, want %d", c->what, bad, c->line);
	}
}

/* cap is the caller's: a smaller one refuses at the first key past it. */
T_UNIT(tls_ticket_keys, cap)
{
	struct nlb_tls_ticket_key keys[2];
	const char text[] = K48A "\n" K48A "\n" K48A "\n";
	int bad = -1;

	cr_expect_eq(nlb_tls_ticket_keys_parse(text, strlen(text), keys, 2, &bad), -E2BIG);
	cr_expect_eq(bad, 3);
	cr_expect_eq(nlb_tls_ticket_keys_parse(text, 2 * (sizeof(K48A)), keys, 2, &bad), 2);
}
