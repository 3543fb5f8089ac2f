/* Active health checks without I/O: status matcher, HTTP/1.x probe request
 * and status line, the verdict on an answer, and the per-target state
 * machine.  Everything here is pure so the probe thread's decisions can
 * be tested byte by byte. */
#include "health_check.h"

#include <errno.h>
#include <stdio.h>

#include "http1_head.h"

#define CODE_MIN 100
#define CODE_MAX 599

static bool is_digit(unsigned char c)
{
	/* Not isdigit(): that one follows the locale. */
	return c >= '0' && c <= '9';
}

/* Reads exactly three digits at *p into a code in CODE_MIN..CODE_MAX and
 * advances *p past them.  What follows is the caller's to check, so
 * "2000" fails there rather than here. */
static int parse_code(const char **p, uint16_t *out)
{
	const unsigned char *s = (const unsigned char *)*p;
	unsigned v;

	if (!is_digit(s[0]) || !is_digit(s[1]) || !is_digit(s[2]))
		return -EINVAL;
	v = (unsigned)(s[0] - '0') * 100 + (unsigned)(s[1] - '0') * 10 + (unsigned)(s[2] - '0');
	if (v < CODE_MIN || v > CODE_MAX)
		return -EINVAL;
	*out = (uint16_t)v;
	*p += 3;
	return 0;
}

int nlb_hc_matcher_parse(const char *text, struct nlb_hc_matcher *out)
{
	struct nlb_hc_matcher m = { 0 };
	const char *s = text;

	if (text == NULL || out == NULL)
		return -EINVAL;
	for (;;) {
		struct nlb_hc_range r;

		if (m.n == NLB_HC_MATCHER_MAX)
			return -EINVAL;
		if (parse_code(&s, &r.lo) != 0)
			return -EINVAL;
		r.hi = r.lo;
		if (*s == '-') {
			s++;
			if (parse_code(&s, &r.hi) != 0 || r.lo > r.hi)
				return -EINVAL;
		}
		m.item[m.n++] = r;
		if (*s == '\0')
			break;
		/* A comma must be followed by another item: "200," is refused
		 * by parse_code on the next turn. */
		if (*s != ',')
			return -EINVAL;
		s++;
	}
	/* Built aside and copied so that a refused text leaves *out as it
	 * was, e.g. the matcher of the previous config. */
	*out = m;
	return 0;
}

bool nlb_hc_matcher_match(const struct nlb_hc_matcher *m, int status)
{
	for (uint32_t i = 0; i < m->n && i < NLB_HC_MATCHER_MAX; i++)
		if (status >= m->item[i].lo && status <= m->item[i].hi)
			return true;
	return false;
}

int nlb_hc_http_status(const char *buf, size_t len, int *status)
{
	/* The HTTP/1 parser checks every byte as it comes, so garbage (a TLS
	 * alert, "HTTP/2", an SSH banner) fails at its first byte instead of
	 * after NLB_HC_STATUS_LINE_MAX bytes or a timeout. */
	struct nlb_http1_head h;
	nlb_http1_head_init(&h, NLB_HTTP1_STATUS_LINE, NLB_HTTP1_LENIENT, NLB_HC_STATUS_LINE_MAX);
	int r = nlb_http1_head_parse(&h, buf, len);
	if (r == -EAGAIN)
		return r;
	if (r < 0)
		return -EINVAL;
	*status = h.status;
	return r;
}

int nlb_hc_http_verdict(const char *buf, size_t got, size_t room, const struct nlb_hc_matcher *m,
			bool *pass, char *why, size_t whylen)
{
	int status = 0;
	int n = nlb_hc_http_status(buf, got, &status);
	if (n == -EAGAIN && got < room)
		return -EAGAIN;
	if (n < 0) {
		*pass = false;
		snprintf(why, whylen, "not an HTTP/1.x status line");
		return 0;
	}
	*pass = nlb_hc_matcher_match(m, status);
	snprintf(why, whylen, "HTTP %d", status);
	return 0;
}

/* A Host value: no byte that could end the field or line (SP, CR, LF)
 * or any other control character. */
static bool is_token_text(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p <= 0x20 || *p == 0x7f)
			return false;
	return true;
}

int nlb_hc_path_check(const char *path, size_t *bad)
{
	if (path == NULL || path[0] != '/')
		return -EINVAL;
	size_t i;
	/* Bytes first: a long path with a bad byte early is reported for
	 * the byte, the more useful of the two. */
	for (i = 0; path[i] != '\0'; i++) {
		unsigned char c = (unsigned char)path[i];

		if (c < 0x21 || c > 0x7e) {
			if (bad != NULL)
				*bad = i;
			return -EILSEQ;
		}
	}
	return i > NLB_HC_PATH_MAX ? -ENAMETOOLONG : 0;
}

int nlb_hc_http_request(char *buf, size_t len, const char *path, const char *host)
{
	int n;

	if (nlb_hc_path_check(path, NULL) < 0)
		return -EINVAL;
	if (host == NULL || host[0] == '\0' || !is_token_text(host))
		return -EINVAL;
	n = snprintf(buf, len, NLB_HC_REQUEST_FMT, path, host);
	/* n < 0 only when the request would exceed INT_MAX bytes, which
	 * no buffer here holds either. */
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return n;
}

enum nlb_hc_state nlb_hc_observe(struct nlb_hc_target *t, bool pass,
				 uint32_t healthy_threshold,
				 uint32_t unhealthy_threshold)
{
	uint32_t h = healthy_threshold != 0 ? healthy_threshold : 1;
	uint32_t u = unhealthy_threshold != 0 ? unhealthy_threshold : 1;

	/* Saturating, so a target that stays up for years does not wrap to
	 * zero and look like it has no history. */
	if (pass) {
		t->fails = 0;
		if (t->passes < UINT32_MAX)
			t->passes++;
	} else {
		t->passes = 0;
		if (t->fails < UINT32_MAX)
			t->fails++;
	}

	switch (t->state) {
	case NLB_HC_HEALTHY:
		if (!pass && t->fails >= u)
			t->state = NLB_HC_UNHEALTHY;
		break;
	case NLB_HC_UNHEALTHY:
		if (pass && t->passes >= h)
			t->state = NLB_HC_HEALTHY;
		break;
	case NLB_HC_INITIAL:
	default:
		/* First pass wins: see the header for why. */
		if (pass)
			t->state = NLB_HC_HEALTHY;
		else if (t->fails >= u)
			t->state = NLB_HC_UNHEALTHY;
		else
			t->state = NLB_HC_INITIAL;
		break;
	}
	return t->state;
}

const char *nlb_hc_state_name(enum nlb_hc_state s)
{
	switch (s) {
	case NLB_HC_INITIAL:
		return "initial";
	case NLB_HC_HEALTHY:
		return "healthy";
	case NLB_HC_UNHEALTHY:
		return "unhealthy";
	}
	return "unknown";
}
