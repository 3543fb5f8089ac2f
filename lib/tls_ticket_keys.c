/* Session ticket key files, parsed (see tls_ticket_keys.h): lines split
 * by hand, base64 decoded by a strict decoder of its own (padded RFC
 * 4648 only: a key file is written by a tool, so anything loose is a
 * mistake worth refusing before it becomes a key nobody else holds). */
#include "tls_ticket_keys.h"

#include <errno.h>
#include <string.h>

/* Base64 lengths of the two key sizes: 48 bytes in 64 characters, no
 * padding; 80 bytes in 108, one '='. */
#define B64_LEN_48 64u
#define B64_LEN_80 108u
#define KEY_MAX 80u

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Decodes n characters (a non-zero multiple of 4, '=' only as the last
 * one or two) into out, which has room for n / 4 * 3 bytes.  Bits the
 * padding leaves over must be zero, so each key has one spelling.
 * Returns the number of bytes, or -EINVAL. */
static int b64_decode(const char *s, size_t n, uint8_t *out)
{
	if (n == 0 || n % 4 != 0)
		return -EINVAL;
	size_t pad = s[n - 1] == '=' ? (s[n - 2] == '=' ? 2 : 1) : 0;
	size_t o = 0;
	for (size_t i = 0; i < n; i += 4) {
		size_t chars = i + 4 == n ? 4 - pad : 4;
		uint32_t acc = 0;
		for (size_t k = 0; k < 4; k++) {
			int v = 0;
			if (k < chars && (v = b64_value((unsigned char)s[i + k])) < 0)
				return -EINVAL;
			acc = acc << 6 | (uint32_t)v;
		}
		out[o++] = (uint8_t)(acc >> 16);
		if (chars == 2) {
			if (acc & 0xffffu)
				return -EINVAL;
			continue;
		}
		out[o++] = (uint8_t)(acc >> 8);
		if (chars == 3) {
			if (acc & 0xffu)
				return -EINVAL;
			continue;
		}
		out[o++] = (uint8_t)acc;
	}
	return (int)o;
}

/* Whether line (CR already cut) is one the parser skips: empty, blanks
 * only, or a comment. */
static int skipped(const char *line, size_t n)
{
	if (n > 0 && line[0] == '#')
		return 1;
	for (size_t i = 0; i < n; i++)
		if (line[i] != ' ' && line[i] != '\t')
			return 0;
	return 1;
}

/* One key line to a key: 0, or -EINVAL. */
static int parse_key(const char *line, size_t n, struct nlb_tls_ticket_key *k)
{
	uint8_t raw[KEY_MAX + 1];

	if (n != B64_LEN_48 && n != B64_LEN_80)
		return -EINVAL;
	int len = b64_decode(line, n, raw);
	if (len != 48 && len != 80)
		return -EINVAL;
	size_t part = len == 80 ? 32 : 16;
	memset(k, 0, sizeof(*k));
	/* Name, HMAC secret, AES key: the byte order of NGINX's
	 * ssl_session_ticket_key files. */
	memcpy(k->name, raw, 16);
	memcpy(k->hmac, raw + 16, part);
	memcpy(k->aes, raw + 16 + part, part);
	k->hmac_len = (uint8_t)part;
	k->aes_len = (uint8_t)part;
	memset(raw, 0, sizeof(raw));
	return 0;
}

int nlb_tls_ticket_keys_parse(const char *text, size_t len, struct nlb_tls_ticket_key *out,
			      size_t cap, int *bad_line)
{
	size_t n = 0, pos = 0;
	int line_no = 0;

	while (pos < len) {
		const char *line = text + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - line) : len - pos;
		pos += ll + (nl != NULL);
		line_no++;
		if (ll > 0 && line[ll - 1] == '\r')
			ll--;
		if (skipped(line, ll))
			continue;
		if (n == cap) {
			*bad_line = line_no;
			return -E2BIG;
		}
		if (parse_key(line, ll, &out[n]) < 0 ||
		    (n > 0 && out[n].aes_len != out[0].aes_len)) {
			*bad_line = line_no;
			return -EINVAL;
		}
		n++;
	}
	if (n == 0) {
		*bad_line = 0;
		return -EINVAL;
	}
	return (int)n;
}
