/* libFuzzer target for listener rules (lib/http_rules.c, lib/wildcard.c,
 * lib/http_path.c, lib/config_rules.c).  Each input describes up to four
 * rules with host and path patterns and a request (Host, raw target); the
 * rules are built either by hand (nlb_http_rules_new, then _finish) or by
 * writing them as configuration text for nlb_config_parse.  It aborts when
 *   - nlb_http_rules_match disagrees with the reference here (a recursive
 *     wildcard matcher, rules tried lowest priority first);
 *   - the normaliser returns other than a length, -EINVAL or -ERANGE,
 *     writes past len + 3 bytes (ASan), or gives a path that does not
 *     start with '/', holds "//", "/./", "/../", ends in "/." or "/..",
 *     holds a '%' not followed by upper-case hex of a reserved byte, or is
 *     not a fixed point (normalising it again changes it);
 *   - the loader accepts a path pattern that is not normalised, or refuses
 *     one that is;
 *   - the canonical text is not a line a rule in priority order, or a
 *     counted match is not found in the counters. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "http_path.h"
#include "http_rules.h"

#define CHECK(cond) do {						\
		if (!(cond)) {						\
			fprintf(stderr, "fuzz_http_rules: %s:%d: %s\n",	\
				__FILE__, __LINE__, #cond);		\
			abort();					\
		}							\
	} while (0)

#define RULES 4
#define PATS 2
#define PAT_MAX 12
#define TARGET_MAX 256

struct ref_rule {
	unsigned priority;
	unsigned n_host, n_path;
	char host[PATS][PAT_MAX + 1];
	char path[PATS][PAT_MAX + 1];
};

/* The input, read a byte at a time; 0 once it is used up. */
struct cursor {
	const uint8_t *p;
	size_t n;
};

static uint8_t take(struct cursor *c)
{
	if (!c->n)
		return 0;
	c->n--;
	return *c->p++;
}

/* ---- the reference -------------------------------------------------- */

static unsigned char low(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* memo[i][k]: 0 unknown, 1 no, 2 yes, for p + i against t + k. */
static uint8_t memo[PAT_MAX + 1][TARGET_MAX + 64];

static bool wild(const char *p, size_t pn, size_t i, const char *t, size_t tn, size_t k, bool fold)
{
	if (memo[i][k])
		return memo[i][k] == 2;
	bool m;
	if (i == pn)
		m = k == tn;
	else if (p[i] == '*')
		m = wild(p, pn, i + 1, t, tn, k, fold) ||
		    (k < tn && wild(p, pn, i, t, tn, k + 1, fold));
	else if (k == tn)
		m = false;
	else if (p[i] != '?' && (fold ? low((unsigned char)p[i]) != low((unsigned char)t[k])
				      : p[i] != t[k]))
		m = false;
	else
		m = wild(p, pn, i + 1, t, tn, k + 1, fold);
	memo[i][k] = m ? 2 : 1;
	return m;
}

static bool ref_wild(const char *p, const char *t, size_t tn, bool fold)
{
	size_t pn = strlen(p);
	CHECK(pn <= PAT_MAX && tn < sizeof(memo[0]));
	for (size_t i = 0; i <= pn; i++)
		memset(memo[i], 0, tn + 1);
	return wild(p, pn, 0, t, tn, 0, fold);
}

/* The priority of the first rule, lowest priority first, whose
 * conditions hold; 0 for none. */
static unsigned ref_match(const struct ref_rule *rr, size_t n, const char *host, size_t hlen,
			  const char *path, size_t plen)
{
	unsigned best = 0;
	for (size_t i = 0; i < n; i++) {
		const struct ref_rule *u = &rr[i];
		bool ok = true;
		if (u->n_host) {
			bool any = false;
			for (unsigned k = 0; host && k < u->n_host; k++)
				any |= ref_wild(u->host[k], host, hlen, true);
			ok &= any;
		}
		if (u->n_path) {
			bool any = false;
			for (unsigned k = 0; k < u->n_path; k++)
				any |= ref_wild(u->path[k], path, plen, false);
			ok &= any;
		}
		if (ok && (!best || u->priority < best))
			best = u->priority;
	}
	return best;
}

/* ---- the normaliser's contract -------------------------------------- */

static bool unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

static int upper_hex(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static bool has(const char *s, size_t n, const char *needle)
{
	return memmem(s, n, needle, strlen(needle)) != NULL;
}

/* Normalises target[0, len) into a buffer of exactly len + 3 bytes (ASan
 * sees a byte written past it), checks the result, and copies it into
 * out (at least len + 3 bytes). */
static int normalise_checked(const char *target, size_t len, char *out)
{
	char *buf = malloc(len + 3);
	CHECK(buf != NULL);
	/* one byte short of the promise: -ENOSPC, unless the target has
	 * neither form (judged first) */
	int s = nlb_http_path_normalise(target, len, buf, len + 2);
	int r = nlb_http_path_normalise(target, len, buf, len + 3);
	CHECK(r >= 0 || r == -EINVAL || r == -ERANGE);
	CHECK(s == -ENOSPC || (s == -EINVAL && r == -EINVAL));
	if (r < 0) {
		free(buf);
		return r;
	}
	size_t n = (size_t)r;
	CHECK(n + 1 <= len + 3 && buf[n] == '\0');
	CHECK(n >= 1 && buf[0] == '/');
	CHECK(!has(buf, n, "//") && !has(buf, n, "/./") && !has(buf, n, "/../"));
	CHECK(!(n >= 2 && memcmp(buf + n - 2, "/.", 2) == 0));
	CHECK(!(n >= 3 && memcmp(buf + n - 3, "/..", 3) == 0));
	CHECK(!memchr(buf, '?', n) && !memchr(buf, '#', n));
	for (size_t i = 0; i < n; i++) {
		if (buf[i] != '%')
			continue;
		CHECK(i + 2 < n);
		int hi = upper_hex(buf[i + 1]), lo = upper_hex(buf[i + 2]);
		CHECK(hi >= 0 && lo >= 0 && !unreserved((unsigned char)(hi << 4 | lo)));
	}
	/* a fixed point */
	char *again = malloc(n + 3);
	CHECK(again != NULL);
	CHECK(nlb_http_path_normalise(buf, n, again, n + 3) == r);
	CHECK(memcmp(again, buf, n + 1) == 0);
	free(again);
	memcpy(out, buf, n + 1);
	free(buf);
	return r;
}

/* ---- building the rules --------------------------------------------- */

static const char host_alpha[] = "ab.-*?A";
static const char path_alpha[] = "/a.b*?%2eE/";
static const char req_host_alpha[] = "abAB.-:1";

static void read_pattern(struct cursor *c, const char *alpha, size_t alen, bool path, char *out)
{
	size_t len = 1 + take(c) % PAT_MAX;
	for (size_t i = 0; i < len; i++)
		out[i] = alpha[take(c) % alen];
	if (path)
		out[0] = out[0] == '*' ? '*' : '/';
	out[len] = '\0';
}

static char *dup_or_die(const char *s)
{
	char *p = strdup(s);
	CHECK(p != NULL);
	return p;
}

static void set_pattern(struct nlb_rule_pattern *p, const char *s)
{
	p->p = dup_or_die(s);
	p->len = (uint32_t)strlen(s);
}

static struct nlb_http_rules *build_direct(const struct ref_rule *rr, size_t n)
{
	struct nlb_http_rules *r = nlb_http_rules_new();
	CHECK(r != NULL);
	r->rule = calloc(n, sizeof(*r->rule));
	CHECK(r->rule != NULL);
	for (size_t i = 0; i < n; i++) {
		struct nlb_http_rule *u = &r->rule[i];
		u->priority = rr[i].priority;
		for (unsigned k = 0; k < rr[i].n_host; k++)
			set_pattern(&u->host[k], rr[i].host[k]);
		for (unsigned k = 0; k < rr[i].n_path; k++)
			set_pattern(&u->path[k], rr[i].path[k]);
		u->n_host = (uint8_t)rr[i].n_host;
		u->n_path = (uint8_t)rr[i].n_path;
		u->conds = (u->n_host ? NLB_RULE_HOST : 0) | (u->n_path ? NLB_RULE_PATH : 0);
		u->action = NLB_RULE_FIXED;
		u->fixed_status = 200;
		r->n = i + 1;
	}
	size_t dup = 0;
	CHECK(nlb_http_rules_finish(r, &dup) == 0);
	CHECK(nlb_http_rules_counters(r, 2) == 0);
	return r;
}

/* Whether the loader should take path pattern p: when normalising it
 * (its '?' a wildcard, not a query; one starting with '*' as if a '/'
 * came first) leaves it as it is. */
static bool pattern_normal(const char *p)
{
	char in[PAT_MAX + 2], out[PAT_MAX + 4];
	size_t lead = p[0] == '*', n = strlen(p);
	in[0] = '/';
	for (size_t i = 0; i <= n; i++)
		in[lead + i] = p[i] == '?' ? '\x01' : p[i];
	int r = nlb_http_path_normalise(in, n + lead, out, sizeof(out));
	return r == (int)(n + lead) && memcmp(in, out, n + lead) == 0;
}

static void list(char *text, size_t cap, size_t *at, const char *key, char pats[][PAT_MAX + 1],
		 unsigned n)
{
	if (!n)
		return;
	*at += (size_t)snprintf(text + *at, cap - *at, " %s = (", key);
	for (unsigned k = 0; k < n; k++)
		*at += (size_t)snprintf(text + *at, cap - *at, "%s \"%s\"", k ? "," : "", pats[k]);
	*at += (size_t)snprintf(text + *at, cap - *at, " );");
}

/* NULL when the loader refused the rules, which it may only for a path
 * pattern that is not normalised. */
static struct nlb_config *build_config(struct ref_rule *rr, size_t n)
{
	static char text[4096];
	size_t at = (size_t)snprintf(text, sizeof(text),
				     "listeners = ( { name = \"f\"; protocol = \"http\"; "
				     "address = \"127.0.0.1:80\";\n"
				     " default_action = { forward = \"g\"; };\n rules = (\n");
	bool normal = true;
	for (size_t i = 0; i < n; i++) {
		at += (size_t)snprintf(text + at, sizeof(text) - at, "%s  { priority = %u;",
				       i ? ",\n" : "", rr[i].priority);
		list(text, sizeof(text), &at, "host", rr[i].host, rr[i].n_host);
		list(text, sizeof(text), &at, "path", rr[i].path, rr[i].n_path);
		at += (size_t)snprintf(text + at, sizeof(text) - at,
				       " fixed_response = { status = 200; }; }");
		for (unsigned k = 0; k < rr[i].n_path; k++)
			normal &= pattern_normal(rr[i].path[k]);
	}
	at += (size_t)snprintf(text + at, sizeof(text) - at,
			       " );\n } );\ntarget_groups = ( { name = \"g\"; } );\n");
	CHECK(at < sizeof(text));
	struct nlb_config *cfg = NULL;
	char err[512];
	int r = nlb_config_parse("fuzz.conf", text, at, &cfg, err, sizeof(err));
	if (r < 0) {
		CHECK(r == -EINVAL && cfg == NULL);
		if (normal || !strstr(err, "is matched against normalised paths"))
			fprintf(stderr, "fuzz_http_rules: refused:\n%s\n%s\n", text, err);
		CHECK(!normal && strstr(err, "is matched against normalised paths"));
		return NULL;
	}
	if (!normal)
		fprintf(stderr, "fuzz_http_rules: accepted:\n%s\n", text);
	CHECK(normal);
	CHECK(cfg->listeners[0].http.rules && cfg->listeners[0].http.rules->n == n);
	return cfg;
}

/* The text: a line a rule, lowest priority first. */
static void check_text(const struct nlb_http_rules *r)
{
	const char *p = r->text;
	CHECK(p != NULL);
	for (size_t i = 0; i < r->n; i++) {
		char want[32];
		int w = snprintf(want, sizeof(want), "priority=%u ", r->rule[i].priority);
		CHECK(strncmp(p, want, (size_t)w) == 0);
		CHECK(i == 0 || r->rule[i - 1].priority < r->rule[i].priority);
		p = strchr(p, '\n');
		CHECK(p != NULL);
		p++;
	}
	CHECK(*p == '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cursor c = { data, size };
	uint8_t mode = take(&c);
	size_t n = 1 + (mode & 3);
	bool via_config = mode & 4, no_host = mode & 8, absolute = mode & 16;

	struct ref_rule rr[RULES];
	memset(rr, 0, sizeof(rr));
	for (size_t i = 0; i < n; i++) {
		uint8_t f = take(&c);
		/* unique: the low bits are the index */
		rr[i].priority = 1 + ((unsigned)take(&c) << 2 | (unsigned)i);
		rr[i].n_host = f & 1 ? 1 + (f >> 2 & 1) : 0;
		rr[i].n_path = f & 2 ? 1 + (f >> 3 & 1) : 0;
		if (!rr[i].n_host && !rr[i].n_path && (via_config || (f & 16)))
			rr[i].n_path = 1;	/* the loader wants a condition */
		for (unsigned k = 0; k < rr[i].n_host; k++)
			read_pattern(&c, host_alpha, sizeof(host_alpha) - 1, false, rr[i].host[k]);
		for (unsigned k = 0; k < rr[i].n_path; k++)
			read_pattern(&c, path_alpha, sizeof(path_alpha) - 1, true, rr[i].path[k]);
	}

	/* The request: a Host from a small alphabet, then the raw target. */
	char host[32];
	size_t host_len = take(&c) % sizeof(host);
	for (size_t i = 0; i < host_len; i++)
		host[i] = req_host_alpha[take(&c) % (sizeof(req_host_alpha) - 1)];
	char target[TARGET_MAX + 16];
	size_t tlen = 0;
	if (absolute) {
		memcpy(target, "http://h", 8);
		tlen = 8;
	}
	size_t raw = c.n < TARGET_MAX ? c.n : TARGET_MAX;
	memcpy(target + tlen, c.p, raw);
	tlen += raw;

	char path[TARGET_MAX + 32];
	int plen = normalise_checked(target, tlen, path);

	struct nlb_config *cfg = NULL;
	struct nlb_http_rules *r;
	if (via_config) {
		cfg = build_config(rr, n);
		if (!cfg)
			return 0;
		r = cfg->listeners[0].http.rules;
	} else {
		r = build_direct(rr, n);
	}
	check_text(r);

	if (plen >= 0) {
		/* The Host without its port, the reference's own way. */
		size_t name = host_len;
		for (size_t i = host_len; i-- > 0;)
			if (host[i] == ':') {
				name = i;
				break;
			}
		CHECK(nlb_http_host_name_len(host, host_len) == name);
		struct nlb_http_request_view v = {
			.method = "GET",
			.method_len = 3,
			.host = no_host ? NULL : host,
			.host_len = no_host ? 0 : name,
			.path = path,
			.path_len = (size_t)plen,
		};
		int i = nlb_http_rules_match(r, &v);
		unsigned want = ref_match(rr, n, v.host, v.host_len, path, (size_t)plen);
		CHECK(i >= -1 && i < (int)r->n);
		CHECK((i < 0 ? 0 : r->rule[i].priority) == want);
		nlb_http_rules_count(r, 1, i);
		CHECK(nlb_http_rules_hits(r, i < 0 ? r->n : (size_t)i) == 1);
	}

	if (cfg)
		nlb_config_free(cfg);
	else
		nlb_http_rules_put(r);
	return 0;
}
