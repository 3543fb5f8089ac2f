/* Listener rules: evaluation, their text, their counters and their
 * lifetime (see http_rules.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http_rules.h"
#include "strbuf.h"
#include "wildcard.h"

struct nlb_http_rules *nlb_http_rules_new(void)
{
	struct nlb_http_rules *r = calloc(1, sizeof(*r));
	if (r)
		atomic_init(&r->refs, 1);
	return r;
}

static void pattern_free(struct nlb_rule_pattern *p)
{
	free(p->p);
	p->p = NULL;
}

static void rule_free(struct nlb_http_rule *u)
{
	for (unsigned i = 0; i < NLB_HTTP_RULE_VALUES_MAX; i++) {
		pattern_free(&u->host[i]);
		pattern_free(&u->path[i]);
		pattern_free(&u->method[i]);
		pattern_free(&u->header[i].name);
		for (unsigned k = 0; k < NLB_HTTP_RULE_VALUES_MAX; k++)
			pattern_free(&u->header[i].value[k]);
		pattern_free(&u->query[i].key);
		pattern_free(&u->query[i].value);
		pattern_free(&u->source_text[i]);
	}
	nlb_acl_free(u->source);
	for (unsigned i = 0; i < NLB_HTTP_RULE_GROUPS_MAX; i++)
		free(u->to[i].group_name);
	free(u->redirect.protocol);
	free(u->redirect.host);
	free(u->redirect.port);
	free(u->redirect.path);
	free(u->redirect.query);
	free(u->content_type);
	free(u->body);
}

void nlb_http_rules_hold(struct nlb_http_rules *r)
{
	if (r)
		atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
}

void nlb_http_rules_put(struct nlb_http_rules *r)
{
	if (!r || atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (size_t i = 0; i < r->n; i++)
		rule_free(&r->rule[i]);
	free(r->rule);
	free(r->text);
	free((void *)r->hits);
	free(r);
}

static int by_priority(const void *a, const void *b)
{
	const struct nlb_http_rule *x = a, *y = b;
	return x->priority < y->priority ? -1 : x->priority > y->priority;
}

/* Bytes a reader of `nlbctl show rules` can take as they are; the rest
 * as \xHH. */
static void text_escaped(struct nlb_strbuf *b, const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c > 0x20 && c < 0x7f && c != '\\' && c != '|' && c != ',')
			nlb_strbuf_append(b, &p[i], 1);
		else
			nlb_strbuf_printf(b, "\\x%02x", c);
	}
}

static void text_patterns(struct nlb_strbuf *b, const char *key,
			  const struct nlb_rule_pattern *v, unsigned n)
{
	if (!n)
		return;
	nlb_strbuf_printf(b, "%s%s=", *key ? " " : "", key);
	for (unsigned i = 0; i < n; i++) {
		if (i)
			nlb_strbuf_append(b, "|", 1);
		text_escaped(b, v[i].p, v[i].len);
	}
}

static void rule_text(struct nlb_strbuf *b, const struct nlb_http_rule *u)
{
	nlb_strbuf_printf(b, "priority=%u", u->priority);
	text_patterns(b, "host", u->host, u->n_host);
	text_patterns(b, "path", u->path, u->n_path);
	text_patterns(b, "method", u->method, u->n_method);
	for (unsigned i = 0; i < u->n_header; i++) {
		nlb_strbuf_printf(b, " header[");
		text_escaped(b, u->header[i].name.p, u->header[i].name.len);
		nlb_strbuf_printf(b, "]");
		text_patterns(b, "", u->header[i].value, u->header[i].n);
	}
	for (unsigned i = 0; i < u->n_query; i++) {
		nlb_strbuf_printf(b, " query[");
		if (u->query[i].key.len)
			text_escaped(b, u->query[i].key.p, u->query[i].key.len);
		else
			nlb_strbuf_printf(b, "*");
		nlb_strbuf_printf(b, "]=");
		text_escaped(b, u->query[i].value.p, u->query[i].value.len);
	}
	text_patterns(b, "source", u->source_text, u->n_source);
	switch (u->action) {
	case NLB_RULE_FORWARD:
		nlb_strbuf_printf(b, " -> forward ");
		for (unsigned i = 0; i < u->n_to; i++)
			nlb_strbuf_printf(b, "%s%s", i ? "," : "", u->to[i].group_name);
		if (u->n_to > 1) {
			nlb_strbuf_printf(b, " weights ");
			for (unsigned i = 0; i < u->n_to; i++)
				nlb_strbuf_printf(b, "%s%u", i ? "," : "", u->to[i].weight);
		}
		if (u->sticky_s)
			nlb_strbuf_printf(b, " sticky %us", u->sticky_s);
		break;
	case NLB_RULE_REDIRECT:
		nlb_strbuf_printf(b, " -> redirect %u %s://%s:%s%s?%s", u->redirect.status,
				  u->redirect.protocol, u->redirect.host, u->redirect.port,
				  u->redirect.path, u->redirect.query);
		break;
	case NLB_RULE_FIXED:
		nlb_strbuf_printf(b, " -> fixed_response %u %s ", u->fixed_status,
				  u->content_type ? u->content_type : "-");
		text_escaped(b, u->body ? u->body : "", u->body_len);
		break;
	}
	nlb_strbuf_append(b, "\n", 1);
}

int nlb_http_rules_finish(struct nlb_http_rules *r, size_t *dup)
{
	/* Stable for equal priorities, so *dup names the later one. */
	for (size_t i = 0; i < r->n; i++)
		for (size_t k = 0; k < i; k++)
			if (r->rule[k].priority == r->rule[i].priority) {
				*dup = i;
				return -EEXIST;
			}
	if (r->n)	/* an empty set may have no array: qsort's is nonnull */
		qsort(r->rule, r->n, sizeof(*r->rule), by_priority);
	struct nlb_strbuf b = { 0 };
	r->conds = 0;
	for (size_t i = 0; i < r->n; i++) {
		r->conds |= r->rule[i].conds;
		rule_text(&b, &r->rule[i]);
	}
	nlb_strbuf_append(&b, "", 0);
	if (nlb_strbuf_status(&b) < 0) {
		nlb_strbuf_free(&b);
		return -ENOMEM;
	}
	free(r->text);
	r->text = b.p ? b.p : strdup("");
	return r->text ? 0 : -ENOMEM;
}

int nlb_http_rules_counters(struct nlb_http_rules *r, size_t rows)
{
	if (r->hits && r->hit_rows >= rows)
		return 0;
	/* A row per worker, each on cache lines of its own. */
	size_t stride = (r->n + 1 + 7) / 8 * 8;
	_Atomic uint64_t *h = aligned_alloc(64, rows * stride * sizeof(*h));
	if (!h)
		return -ENOMEM;
	for (size_t i = 0; i < rows * stride; i++)
		atomic_init(&h[i], 0);
	free((void *)r->hits);	/* not shared yet: nothing counted */
	r->hits = h;
	r->hit_rows = rows;
	r->hit_stride = stride;
	return 0;
}

uint64_t nlb_http_rules_hits(const struct nlb_http_rules *r, size_t index)
{
	uint64_t sum = 0;
	for (size_t row = 0; r->hits && row < r->hit_rows && index <= r->n; row++)
		sum += atomic_load_explicit(&r->hits[row * r->hit_stride + index],
					    memory_order_relaxed);
	return sum;
}

size_t nlb_http_host_name_len(const char *host, size_t len)
{
	if (len && host[0] == '[') {
		const char *e = memchr(host, ']', len);
		return e ? (size_t)(e - host) + 1 : len;
	}
	for (size_t i = len; i-- > 0;)
		if (host[i] == ':')
			return i;
	return len;
}

/* ---- matching ----------------------------------------------------------- */

static bool any_pattern(const struct nlb_rule_pattern *v, unsigned n, const char *text,
			size_t len, bool fold)
{
	for (unsigned i = 0; i < n; i++)
		if (nlb_wildcard_match(v[i].p, v[i].len, text, len, fold))
			return true;
	return false;
}

static bool method_is(const struct nlb_http_rule *u, const struct nlb_http_request_view *v)
{
	for (unsigned i = 0; i < u->n_method; i++)
		if (u->method[i].len == v->method_len &&
		    memcmp(u->method[i].p, v->method, v->method_len) == 0)
			return true;
	return false;
}

static inline unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static bool name_is(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++)
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return false;
	return true;
}

/* Some field named h->name has a value matching one of h's. */
static bool header_holds(const struct nlb_rule_header *h, const struct nlb_http_request_view *v)
{
	const struct nlb_http1_head *head = v->head;
	for (uint32_t f = 0; f < head->nfields; f++) {
		const struct nlb_http1_field *fd = &head->field[f];
		if (!name_is(v->buf + fd->name.at, fd->name.len, h->name.p, h->name.len))
			continue;
		if (any_pattern(h->value, h->n, v->buf + fd->value.at, fd->value.len, true))
			return true;
	}
	return false;
}

/* Some key=value pair of the query matches one of the rule's pairs. */
static bool query_holds(const struct nlb_http_rule *u, const struct nlb_http_request_view *v)
{
	const char *q = v->query, *end = v->query + v->query_len;
	while (q < end) {
		const char *amp = memchr(q, '&', (size_t)(end - q));
		const char *pe = amp ? amp : end;
		const char *eq = memchr(q, '=', (size_t)(pe - q));
		const char *ke = eq ? eq : pe, *vs = eq ? eq + 1 : pe;
		for (unsigned i = 0; i < u->n_query; i++) {
			const struct nlb_rule_query *p = &u->query[i];
			if (p->key.len && !nlb_wildcard_match(p->key.p, p->key.len, q,
							      (size_t)(ke - q), true))
				continue;
			if (nlb_wildcard_match(p->value.p, p->value.len, vs, (size_t)(pe - vs), true))
				return true;
		}
		q = pe + (amp != NULL);
	}
	return false;
}

static bool rule_holds(const struct nlb_http_rule *u, const struct nlb_http_request_view *v)
{
	if ((u->conds & NLB_RULE_METHOD) && !method_is(u, v))
		return false;
	if ((u->conds & NLB_RULE_HOST) &&
	    (!v->host || !any_pattern(u->host, u->n_host, v->host, v->host_len, true)))
		return false;
	if ((u->conds & NLB_RULE_PATH) && !any_pattern(u->path, u->n_path, v->path, v->path_len,
						       false))
		return false;
	for (unsigned i = 0; i < u->n_header; i++)
		if (!header_holds(&u->header[i], v))
			return false;
	if ((u->conds & NLB_RULE_QUERY) && !query_holds(u, v))
		return false;
	if ((u->conds & NLB_RULE_SOURCE) && !nlb_acl_match_sockaddr(u->source, v->src))
		return false;
	return true;
}

int nlb_http_rules_match(const struct nlb_http_rules *r, const struct nlb_http_request_view *v)
{
	for (size_t i = 0; r && i < r->n; i++)
		if (rule_holds(&r->rule[i], v))
			return (int)i;
	return -1;
}

/* ---- redirects ---------------------------------------------------------- */

int nlb_redirect_word(const char *p, size_t *len)
{
	static const char *const words[NLB_RW_COUNT] = {
		[NLB_RW_PROTOCOL] = "#{protocol}", [NLB_RW_HOST] = "#{host}",
		[NLB_RW_PORT] = "#{port}", [NLB_RW_PATH] = "#{path}", [NLB_RW_QUERY] = "#{query}",
	};
	for (int i = 0; i < NLB_RW_COUNT; i++) {
		size_t n = strlen(words[i]);
		if (strncmp(p, words[i], n) == 0) {
			*len = n;
			return i;
		}
	}
	return -1;
}

/* ---- weighted forward --------------------------------------------------- */

uint64_t nlb_http_rule_cookie(const char *group_name)
{
	/* FNV-1a: the same on every host that has the same group names. */
	uint64_t h = 0xcbf29ce484222325ull;
	for (const unsigned char *p = (const unsigned char *)group_name; *p; p++)
		h = (h ^ *p) * 0x100000001b3ull;
	return h;
}

int nlb_http_rule_pick(const struct nlb_http_rule *u, bool has_sticky, uint64_t sticky,
		       uint64_t draw)
{
	if (has_sticky)
		for (unsigned i = 0; i < u->n_to; i++)
			if (u->to[i].cookie == sticky && u->to[i].weight)
				return (int)i;
	if (!u->total_weight)
		return -1;
	uint64_t x = draw % u->total_weight;
	for (unsigned i = 0; i < u->n_to; i++) {
		if (x < u->to[i].weight)
			return (int)i;
		x -= u->to[i].weight;
	}
	return -1;
}
