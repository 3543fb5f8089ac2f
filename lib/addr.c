/* Socket addresses as nlb writes them: "1.2.3.4:80", "[::1]:80" and
 * "[fe80::1%lo]:80".  Parsing is strict and numeric only (no DNS, no
 * shorthand such as "1.2.3" or unbracketed v6); formatting is its inverse. */
#include "addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Reads a decimal port that must run to the end of the string: digits
 * only, so "+80", " 80", "80x" and "" are all refused. */
static int parse_port(const char *s, int allow_port0, uint16_t *out)
{
	unsigned long v = 0;
	size_t n = 0;

	for (; s[n] != '\0'; n++) {
		if (s[n] < '0' || s[n] > '9')
			return -EINVAL;
		/* Five digits cover 65535; more would only be leading zeros
		 * or overflow, and neither is worth accepting. */
		if (n >= 5)
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[n] - '0');
	}
	if (n == 0 || v > 65535 || (v == 0 && !allow_port0))
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

/* A scope is an interface name or index.  if_nametoindex reads the
 * kernel's interface table, not DNS, so it keeps the "numeric" promise. */
static int parse_scope(const char *s, uint32_t *out)
{
	if (*s == '\0')
		return -EINVAL;
	if (s[0] >= '0' && s[0] <= '9') {
		unsigned long v = 0;
		for (const char *p = s; *p; p++) {
			if (*p < '0' || *p > '9' || v > UINT32_MAX / 10)
				return -EINVAL;
			v = v * 10 + (unsigned long)(*p - '0');
		}
		if (v == 0 || v > UINT32_MAX)
			return -EINVAL;
		*out = (uint32_t)v;
		return 0;
	}
	unsigned int idx = if_nametoindex(s);
	if (idx == 0)
		return -EINVAL;
	*out = idx;
	return 0;
}

static int parse_v6(char *buf, int allow_port0, struct nlb_addr *out)
{
	/* buf is "[host]:port" with the leading '[' already checked. */
	char *close = strchr(buf, ']');
	if (close == NULL || close[1] != ':')
		return -EINVAL;
	*close = '\0';

	struct sockaddr_in6 sin6;
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;

	char *host = buf + 1;
	char *pct = strchr(host, '%');
	if (pct != NULL) {
		*pct = '\0';
		if (parse_scope(pct + 1, &sin6.sin6_scope_id) < 0)
			return -EINVAL;
	}
	if (inet_pton(AF_INET6, host, &sin6.sin6_addr) != 1)
		return -EINVAL;

	uint16_t port;
	if (parse_port(close + 2, allow_port0, &port) < 0)
		return -EINVAL;
	sin6.sin6_port = htons(port);

	memset(out, 0, sizeof(*out));
	memcpy(&out->ss, &sin6, sizeof(sin6));
	out->len = sizeof(sin6);
	return 0;
}

static int parse_v4(char *buf, int allow_port0, struct nlb_addr *out)
{
	/* Exactly one ':' — more means an unbracketed v6 address, which is
	 * ambiguous ("::1:80") and therefore refused. */
	char *colon = strchr(buf, ':');
	if (colon == NULL || strchr(colon + 1, ':') != NULL)
		return -EINVAL;
	*colon = '\0';

	struct sockaddr_in sin;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	/* inet_pton accepts only the four-part dotted decimal form, unlike
	 * inet_aton, which would take "10.1" or "0x7f.1". */
	if (inet_pton(AF_INET, buf, &sin.sin_addr) != 1)
		return -EINVAL;

	uint16_t port;
	if (parse_port(colon + 1, allow_port0, &port) < 0)
		return -EINVAL;
	sin.sin_port = htons(port);

	memset(out, 0, sizeof(*out));
	memcpy(&out->ss, &sin, sizeof(sin));
	out->len = sizeof(sin);
	return 0;
}

int nlb_addr_parse(const char *text, int allow_port0, struct nlb_addr *out)
{
	char buf[NLB_ADDRSTRLEN];

	if (text == NULL || out == NULL)
		return -EINVAL;
	/* Anything longer than the longest valid form is garbage; copying
	 * lets the parsers cut the string in place. */
	size_t n = strlen(text);
	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, text, n + 1);

	if (buf[0] == '[')
		return parse_v6(buf, allow_port0, out);
	return parse_v4(buf, allow_port0, out);
}

const char *nlb_addr_host(const struct sockaddr *sa, char *buf, size_t len)
{
	const void *a = sa->sa_family == AF_INET ?
		(const void *)&((const struct sockaddr_in *)sa)->sin_addr :
		sa->sa_family == AF_INET6 ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr :
		NULL;
	if (len == 0)
		return buf;
	if (!a || !inet_ntop(sa->sa_family, a, buf, (socklen_t)len))
		snprintf(buf, len, "unknown");
	return buf;
}

const char *nlb_addr_format(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (buf == NULL || len == 0)
		return buf;
	if (sa == NULL) {
		snprintf(buf, len, "?");
		return buf;
	}

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		if (inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host)) == NULL)
			snprintf(host, sizeof(host), "?");
		snprintf(buf, len, "%s:%u", host, ntohs(sin->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
		if (inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host)) == NULL)
			snprintf(host, sizeof(host), "?");
		if (sin6->sin6_scope_id != 0) {
			/* Name the interface when it still exists so the text
			 * parses back to the same scope; else fall back to the
			 * index, which parses back too. */
			char ifname[IF_NAMESIZE];
			if (if_indextoname(sin6->sin6_scope_id, ifname) != NULL)
				snprintf(buf, len, "[%s%%%s]:%u", host, ifname,
					 ntohs(sin6->sin6_port));
			else
				snprintf(buf, len, "[%s%%%u]:%u", host,
					 (unsigned)sin6->sin6_scope_id,
					 ntohs(sin6->sin6_port));
		} else {
			snprintf(buf, len, "[%s]:%u", host, ntohs(sin6->sin6_port));
		}
	} else {
		snprintf(buf, len, "?family=%d", sa->sa_family);
	}
	return buf;
}

int nlb_addr_family(const struct nlb_addr *a)
{
	return a->ss.ss_family;
}

int nlb_addr_wildcard(const struct nlb_addr *a)
{
	if (a->ss.ss_family == AF_INET)
		return ((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr == htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)&a->ss)->sin6_addr);
}

int nlb_addr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return -EAFNOSUPPORT;
}

/* Compares the fields that name an endpoint, not the raw bytes: padding
 * and sin6_flowinfo say nothing about which socket is meant. */
int nlb_addr_equal(const struct nlb_addr *a, const struct nlb_addr *b)
{
	return nlb_sockaddr_equal((const struct sockaddr *)&a->ss, (const struct sockaddr *)&b->ss);
}

int nlb_sockaddr_equal(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return 0;
	if (a->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const struct sockaddr_in *)a;
		const struct sockaddr_in *y = (const struct sockaddr_in *)b;
		return x->sin_port == y->sin_port &&
		       x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a;
		const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)b;
		return x->sin6_port == y->sin6_port &&
		       x->sin6_scope_id == y->sin6_scope_id &&
		       memcmp(&x->sin6_addr, &y->sin6_addr,
			      sizeof(x->sin6_addr)) == 0;
	}
	return 0;
}
