/* libFuzzer target for nlb_tls_ticket_keys_parse (a listener's
 * tls.ticket_keys file): besides the sanitizers' checks, aborts when it
 * breaks its own contract: a result outside 1..cap, -EINVAL and -E2BIG;
 * a bad line past the input's last line (or 0 for anything but "no
 * key"); keys of mixed or odd lengths; keys that do not survive being
 * written back as base64 and parsed again; or a smaller cap that does
 * not refuse the same input with -E2BIG. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls_ticket_keys.h"

#define CHECK(cond) do {						\
		if (!(cond)) {						\
			fprintf(stderr, "fuzz_tls_ticket_keys: %s:%d: %s\n", \
				__FILE__, __LINE__, #cond);		\
			abort();					\
		}							\
	} while (0)

#define CAP NLB_TLS_TICKET_KEYS_MAX

/* Lines as the parser counts them: a last line needs no '\n'. */
static int count_lines(const char *s, size_t n)
{
	int lines = 0;
	for (size_t i = 0; i < n; i++)
		lines += s[i] == '\n';
	return lines + (n > 0 && s[n - 1] != '\n');
}

/* Padded RFC 4648 base64 of len bytes into out; its length. */
static size_t b64(const uint8_t *in, size_t len, char *out)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = i + 1 < len ? tab[v >> 6 & 63] : '=';
		out[o++] = i + 2 < len ? tab[v & 63] : '=';
	}
	return o;
}

/* The keys as a file: one base64 line each, in the parser's byte order. */
static size_t write_back(const struct nlb_tls_ticket_key *k, int n, char *out)
{
	size_t o = 0;
	for (int i = 0; i < n; i++) {
		uint8_t raw[80];
		size_t part = k[i].aes_len;
		memcpy(raw, k[i].name, 16);
		memcpy(raw + 16, k[i].hmac, part);
		memcpy(raw + 16 + part, k[i].aes, part);
		o += b64(raw, 16 + 2 * part, out + o);
		out[o++] = '\n';
	}
	return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy: ASan catches a read past size. */
	char *in = malloc(size ? size : 1);
	CHECK(in != NULL);
	memcpy(in, data, size);

	struct nlb_tls_ticket_key keys[CAP];
	int bad = -1;
	int r = nlb_tls_ticket_keys_parse(in, size, keys, CAP, &bad);
	int lines = count_lines(in, size);

	CHECK((r >= 1 && r <= CAP) || r == -EINVAL || r == -E2BIG);
	if (r == -EINVAL)
		CHECK(bad >= 0 && bad <= lines);
	if (r == -E2BIG)
		CHECK(bad >= CAP + 1 && bad <= lines);
	if (r > 0) {
		CHECK(keys[0].aes_len == 16 || keys[0].aes_len == 32);
		for (int i = 0; i < r; i++)
			CHECK(keys[i].aes_len == keys[0].aes_len &&
			      keys[i].hmac_len == keys[0].aes_len);

		/* Written back, the same keys. */
		static char text[CAP * 110];
		size_t n = write_back(keys, r, text);
		struct nlb_tls_ticket_key again[CAP];
		CHECK(nlb_tls_ticket_keys_parse(text, n, again, CAP, &bad) == r);
		CHECK(memcmp(keys, again, (size_t)r * sizeof(keys[0])) == 0);

		/* One key fewer allowed: refused at a later line. */
		int bad2 = -1;
		CHECK(nlb_tls_ticket_keys_parse(in, size, again, (size_t)r - 1, &bad2) == -E2BIG);
		CHECK(bad2 >= r && bad2 <= lines);
	}
	free(in);
	return 0;
}
