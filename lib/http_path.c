/* Path normalisation for listener rules (see http_path.h). */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "http_path.h"

#include "http1_chars.h"

static int hex_value(char c)
{
	unsigned char u = (unsigned char)c;
	return nlb_http1_is(u, NLB_HTTP1_C_HEX) ? nlb_http1_hex_value(u) : -1;
}

/* RFC 3986, 2.3: ALPHA / DIGIT / "-" / "." / "_" / "~". */
static bool unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

/* Where the path of target starts, or -EINVAL; an absolute-form's
 * authority in [*auth, *auth + *auth_len) (else *auth_len 0). */
static int path_start(const char *t, size_t len, size_t *at, size_t *auth, size_t *auth_len)
{
	*auth_len = 0;
	if (len && t[0] == '/') {
		*at = 0;
		return 0;
	}
	/* absolute-form: scheme "://" authority, then the path (or none). */
	size_t i = 0;
	while (i < len && t[i] != ':' && t[i] != '/' && t[i] != '?')
		i++;
	if (i == 0 || i + 2 >= len || t[i] != ':' || t[i + 1] != '/' || t[i + 2] != '/')
		return -EINVAL;
	i += 3;
	*auth = i;
	while (i < len && t[i] != '/' && t[i] != '?' && t[i] != '#')
		i++;
	*auth_len = i - *auth;
	*at = i;
	return 0;
}

const char *nlb_http_target_authority(const char *target, size_t len, size_t *auth_len)
{
	size_t at, auth = 0;
	if (path_start(target, len, &at, &auth, auth_len) < 0 || !*auth_len) {
		*auth_len = 0;
		return NULL;
	}
	/* userinfo "@" is not the host (RFC 3986, 3.2.1) */
	const char *a = target + auth, *at_sign = memrchr(a, '@', *auth_len);
	if (at_sign) {
		*auth_len -= (size_t)(at_sign + 1 - a);
		a = at_sign + 1;
	}
	return a;
}

int nlb_http_path_normalise(const char *target, size_t len, char *out, size_t cap)
{
	size_t i, auth, auth_len;
	int r = path_start(target, len, &i, &auth, &auth_len);
	if (r < 0)
		return r;
	if (cap < 3 || cap - 3 < len)
		return -ENOSPC;
	size_t end = i;
	while (end < len && target[end] != '?' && target[end] != '#')
		end++;
	/* out ends with '/' before each segment: a segment is written
	 * decoded with a '/' after it, then judged: "." is taken back, ".."
	 * takes back the one before it too. */
	size_t n = 0;
	out[n++] = '/';
	bool last_plain = false;	/* the last segment was neither "." nor ".." */
	while (i < end) {
		while (i < end && target[i] == '/')
			i++;	/* "//": one slash */
		if (i == end)
			break;
		size_t seg = n;
		while (i < end && target[i] != '/') {
			if (target[i] != '%') {
				out[n++] = target[i++];
				continue;
			}
			int hi = i + 2 < end ? hex_value(target[i + 1]) : -1;
			int lo = i + 2 < end ? hex_value(target[i + 2]) : -1;
			if (hi < 0 || lo < 0)
				return -EINVAL;
			unsigned char d = (unsigned char)(hi << 4 | lo);
			if (unreserved(d)) {
				out[n++] = (char)d;
			} else {
				static const char hexd[] = "0123456789ABCDEF";
				out[n++] = '%';
				out[n++] = hexd[d >> 4];
				out[n++] = hexd[d & 15];
			}
			i += 3;
		}
		size_t slen = n - seg;
		last_plain = false;
		if (slen == 1 && out[seg] == '.') {
			n = seg;
		} else if (slen == 2 && out[seg] == '.' && out[seg + 1] == '.') {
			if (seg == 1)
				return -ERANGE;	/* above the root */
			n = seg - 1;	/* the '/' that ended the segment before */
			while (out[n - 1] != '/')
				n--;
		} else {
			out[n++] = '/';
			last_plain = true;
		}
	}
	/* "/a" stays "/a", "/a/" keeps its slash, "/a/." and "/a/b/.." end
	 * with one as RFC 3986's remove_dot_segments leaves them. */
	if (last_plain && target[end - 1] != '/')
		n--;
	out[n] = '\0';
	return (int)n;
}

const char *nlb_http_target_query(const char *target, size_t len, size_t *query_len)
{
	const char *q = memchr(target, '?', len);
	if (!q) {
		*query_len = 0;
		return target + len;
	}
	const char *end = target + len, *hash = memchr(q, '#', (size_t)(end - q));
	*query_len = (size_t)((hash ? hash : end) - (q + 1));
	return q + 1;
}
