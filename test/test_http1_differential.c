/* Suite "http1_differential": nlb's HTTP/1 parsers against Node's
 * http_parser (Debian's libhttp-parser-dev), an independent reading of
 * the same RFCs, on valid messages made from a seeded generator: request
 * and response heads with random fields, bodies by Content-Length and by
 * chunks with extensions and trailers, several messages in a row on one
 * connection.  Both must agree on the method, target, version, status,
 * every field name and value, the body's length and where each message
 * ends.  Then each message with one byte changed: wherever both still
 * accept it, they must still agree (nlb refusing more is its strictness;
 * accepting what http_parser refuses would be a finding, and fails). */
#include <criterion/criterion.h>

#include <errno.h>
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "http1_chunked.h"
#include "http1_head.h"

#define MSG_MAX 16384
#define FIELDS 24

/* What a parser saw of one message. */
struct seen {
	char method[16];
	char url[512];
	int minor;
	int status;
	int nfields;
	char name[FIELDS][64];
	char value[FIELDS][160];
	uint64_t body;		/* payload bytes */
	size_t end;		/* offset just past the message */
};

static uint64_t rng;

static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static char pick(const char *set)
{
	return set[rnd((unsigned)strlen(set))];
}

static const char tchars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!#$%&'*+^`|~";
static const char uchars[] = "abcxyzABC0129-._~!$&'()*+,;=:@/?%";
static const char vchars[] = "abcdefghijklmnopqrstuvwxyz ABCXYZ0123456789!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

/* Appends a field nlb and http_parser treat alike: no name http_parser
 * gives a meaning to (those come from the generator's own choices). */
static size_t add_field(char *b, size_t o)
{
	char name[24];
	size_t n = 1 + rnd(12);
	for (size_t i = 0; i < n; i++)
		name[i] = pick(tchars);
	name[0] = 'X';
	name[1 < n ? 1 : 0] = n > 1 ? '-' : 'X';
	name[n] = '\0';
	o += (size_t)sprintf(b + o, "%s:%s", name, rnd(3) ? " " : rnd(2) ? "\t" : "");
	size_t v = rnd(40);
	for (size_t i = 0; i < v; i++)
		b[o++] = pick(vchars);
	while (v && b[o - 1] == ' ')
		b[--o] = 'v', o++;
	return o + (size_t)sprintf(b + o, "\r\n");
}

/* One valid message into b; returns its length. */
static size_t make_message(char *b, bool request)
{
	static const char *const methods[] = { "GET", "HEAD", "POST", "PUT", "DELETE",
					       "OPTIONS", "PATCH", "TRACE" };
	static const int statuses[] = { 200, 201, 204, 301, 304, 404, 500, 503 };
	size_t o;
	int status = 0;
	bool minor0 = rnd(5) == 0;
	if (request) {
		o = (size_t)sprintf(b, "%s /", methods[rnd(8)]);
		size_t u = rnd(60);
		for (size_t i = 0; i < u; i++)
			b[o++] = pick(uchars);
		o += (size_t)sprintf(b + o, " HTTP/1.%d\r\n", minor0 ? 0 : 1);
	} else {
		status = statuses[rnd(8)];
		o = (size_t)sprintf(b, "HTTP/1.%d %d %s\r\n", minor0 ? 0 : 1, status,
				    rnd(4) ? "Some Reason" : "");
	}
	unsigned nf = rnd(10);
	unsigned host_at = rnd(nf + 1);
	for (unsigned k = 0; k <= nf; k++) {
		if (k == host_at && request)
			o += (size_t)sprintf(b + o, "Host: %s\r\n",
					     rnd(2) ? "example.com:8080" : "[::1]");
		if (k < nf)
			o = add_field(b, o);
	}
	bool no_body = status == 204 || status == 304;
	unsigned framing = no_body ? 0 : rnd(3);	/* none, length, chunks */
	if (framing == 2 && minor0 && request)
		framing = 1;				/* no chunked in 1.0 requests */
	if (framing == 0 && !request && !no_body)
		framing = 1;				/* no read-until-close here */
	if (framing == 1) {
		size_t len = rnd(300);
		o += (size_t)sprintf(b + o, "Content-Length: %zu\r\n\r\n", len);
		for (size_t i = 0; i < len; i++)
			b[o++] = (char)rnd(256);
	} else if (framing == 2) {
		o += (size_t)sprintf(b + o, "Transfer-Encoding: %schunked\r\n\r\n",
				     rnd(4) ? "" : "gzip, ");
		unsigned chunks = rnd(5);
		for (unsigned k = 0; k < chunks; k++) {
			size_t len = 1 + rnd(200);
			o += (size_t)sprintf(b + o, rnd(2) ? "%zx" : "%zX", len);
			if (rnd(3) == 0)
				o += (size_t)sprintf(b + o, ";ext%u=%s", k, rnd(2) ? "tok" : "\"q s\"");
			o += (size_t)sprintf(b + o, "\r\n");
			for (size_t i = 0; i < len; i++)
				b[o++] = (char)rnd(256);
			o += (size_t)sprintf(b + o, "\r\n");
		}
		o += (size_t)sprintf(b + o, "0\r\n%s\r\n", rnd(3) ? "" : "X-Trailer: t\r\n");
	} else {
		o += (size_t)sprintf(b + o, "\r\n");
	}
	return o;
}

/* http_parser's view, gathered by its callbacks. */
struct hp {
	struct seen *s;
	int in_value;
	bool complete;
	bool trailers;	/* past the head: fields now are trailers, not kept */
};

static void cat(char *dst, size_t cap, const char *p, size_t n)
{
	size_t l = strlen(dst);
	if (l + n >= cap)
		n = cap - 1 - l;
	memcpy(dst + l, p, n);
	dst[l + n] = '\0';
}

static int hp_url(http_parser *p, const char *at, size_t n)
{
	struct hp *h = p->data;
	cat(h->s->url, sizeof(h->s->url), at, n);
	return 0;
}

static int hp_field(http_parser *p, const char *at, size_t n)
{
	struct hp *h = p->data;
	if (h->trailers)
		return 0;
	if (h->in_value || h->s->nfields == 0) {
		if (h->s->nfields == FIELDS)
			return 1;
		h->s->nfields++;
		h->in_value = 0;
	}
	cat(h->s->name[h->s->nfields - 1], 64, at, n);
	return 0;
}

static int hp_value(http_parser *p, const char *at, size_t n)
{
	struct hp *h = p->data;
	if (h->trailers)
		return 0;
	h->in_value = 1;
	cat(h->s->value[h->s->nfields - 1], 160, at, n);
	return 0;
}

static int hp_headers(http_parser *p)
{
	struct hp *h = p->data;
	/* RFC 9112, 5: a field value has no trailing OWS; http_parser 2.9
	 * keeps it, so it is trimmed here before comparing. */
	for (int k = 0; k < h->s->nfields; k++) {
		char *v = h->s->value[k];
		size_t l = strlen(v);
		while (l && (v[l - 1] == ' ' || v[l - 1] == '\t'))
			v[--l] = '\0';
	}
	h->trailers = true;
	h->in_value = 0;
	h->s->minor = p->http_minor;
	h->s->status = p->status_code;
	if (p->type == HTTP_REQUEST)
		snprintf(h->s->method, sizeof(h->s->method), "%s",
			 http_method_str((enum http_method)p->method));
	return 0;
}

static int hp_body(http_parser *p, const char *at, size_t n)
{
	(void)at;
	struct hp *h = p->data;
	h->s->body += n;
	return 0;
}

static int hp_complete(http_parser *p)
{
	struct hp *h = p->data;
	h->complete = true;
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings hp_settings = {
	.on_url = hp_url,
	.on_header_field = hp_field,
	.on_header_value = hp_value,
	.on_headers_complete = hp_headers,
	.on_body = hp_body,
	.on_message_complete = hp_complete,
};

/* Parses the messages of b in turn with http_parser; returns how many
 * it read whole (stopping at its first error). */
static int hp_parse(const char *b, size_t len, bool request, struct seen *out, int max)
{
	http_parser p;
	http_parser_init(&p, request ? HTTP_REQUEST : HTTP_RESPONSE);
	size_t off = 0;
	int n = 0;
	while (n < max && off < len) {
		struct hp h = { .s = &out[n] };
		memset(&out[n], 0, sizeof(out[n]));
		p.data = &h;
		size_t got = http_parser_execute(&p, &hp_settings, b + off, len - off);
		if (!h.complete)
			break;
		http_parser_pause(&p, 0);
		off += got;
		out[n].end = off;
		n++;
	}
	return n;
}

/* The same with nlb's parsers: head, then the body as the head frames it. */
static int nlb_parse(const char *b, size_t len, bool request, struct seen *out, int max)
{
	size_t off = 0;
	int n = 0;
	struct nlb_http1_head *h = malloc(sizeof(*h));
	cr_assert_not_null(h);
	while (n < max && off < len) {
		struct seen *s = &out[n];
		memset(s, 0, sizeof(*s));
		nlb_http1_head_init(h, request ? NLB_HTTP1_REQUEST : NLB_HTTP1_RESPONSE, 0, MSG_MAX);
		const char *m = b + off;
		int r = nlb_http1_head_parse(h, m, len - off);
		if (r <= 0)
			break;
		snprintf(s->method, sizeof(s->method), "%.*s", h->method_text.len,
			 m + h->method_text.at);
		snprintf(s->url, sizeof(s->url), "%.*s", h->target.len, m + h->target.at);
		s->minor = h->minor;
		s->status = h->status;
		s->nfields = (int)h->nfields;
		for (uint32_t k = 0; k < h->nfields && k < FIELDS; k++) {
			snprintf(s->name[k], 64, "%.*s", h->field[k].name.len, m + h->field[k].name.at);
			snprintf(s->value[k], 160, "%.*s", h->field[k].value.len,
				 m + h->field[k].value.at);
		}
		size_t at = off + (size_t)r;
		switch (nlb_http1_head_body(h, NLB_HTTP1_M_OTHER)) {
		case NLB_HTTP1_BODY_NONE:
			break;
		case NLB_HTTP1_BODY_LENGTH:
			if (h->content_length > len - at)
				goto out;
			s->body = h->content_length;
			at += h->content_length;
			break;
		case NLB_HTTP1_BODY_CHUNKED: {
			struct nlb_http1_chunked c;
			nlb_http1_chunked_init(&c, 0, 4096);
			ssize_t used = nlb_http1_chunked_scan(&c, b + at, len - at);
			if (used < 0 || !c.done)
				goto out;
			s->body = c.data_bytes;
			at += (size_t)used;
			break;
		}
		default:
			goto out;
		}
		s->end = at;
		off = at;
		n++;
	}
out:
	free(h);
	return n;
}

static void expect_same(const struct seen *a, const struct seen *b, const char *what, int k)
{
	cr_assert_str_eq(a->method, b->method, "%s message %d: method", what, k);
	cr_assert_str_eq(a->url, b->url, "%s message %d: target", what, k);
	cr_assert_eq(a->minor, b->minor, "%s message %d: version", what, k);
	cr_assert_eq(a->status, b->status, "%s message %d: status", what, k);
	cr_assert_eq(a->nfields, b->nfields, "%s message %d: %d fields, http_parser %d", what, k,
		     a->nfields, b->nfields);
	for (int f = 0; f < a->nfields && f < FIELDS; f++) {
		cr_assert_str_eq(a->name[f], b->name[f], "%s message %d field %d", what, k, f);
		cr_assert_str_eq(a->value[f], b->value[f], "%s message %d field %d (%s): [%s] [%s]", what, k,
				 f, a->name[f], a->value[f], b->value[f]);
	}
	cr_assert_eq(a->body, b->body, "%s message %d: body %lu, http_parser %lu", what, k,
		     (unsigned long)a->body, (unsigned long)b->body);
	cr_assert_eq(a->end, b->end, "%s message %d: ends at %zu, http_parser %zu", what, k,
		     a->end, b->end);
}

T_UNIT(http1_differential, valid_messages_agree)
{
	char *b = malloc(4 * MSG_MAX);
	struct seen *ours = calloc(4, sizeof(*ours)), *theirs = calloc(4, sizeof(*theirs));
	cr_assert(b && ours && theirs);
	rng = 0x9e3779b97f4a7c15ULL;
	for (int round = 0; round < 3000; round++) {
		bool request = rnd(10) < 7;
		int count = 1 + (int)rnd(3);
		size_t len = 0;
		for (int k = 0; k < count; k++)
			len += make_message(b + len, request);
		int n = nlb_parse(b, len, request, ours, 4);
		int m = hp_parse(b, len, request, theirs, 4);
		cr_assert_eq(n, count, "round %d: nlb read %d of %d messages:\n%.*s", round, n,
			     count, (int)len, b);
		cr_assert_eq(m, count, "round %d: http_parser read %d of %d messages", round, m,
			     count);
		for (int k = 0; k < count; k++)
			expect_same(&ours[k], &theirs[k], request ? "request" : "response", k);
	}
	free(b);
	free(ours);
	free(theirs);
}

/* http_parser knows a fixed list of methods; RFC 9110 (9.1) lets any
 * token be one, and nlb takes them. */
static bool hp_knows(const char *method)
{
	for (int m = 0; m <= HTTP_SOURCE; m++)
		if (strcmp(http_method_str((enum http_method)m), method) == 0)
			return true;
	return false;
}

T_UNIT(http1_differential, one_byte_changed)
{
	char *b = malloc(MSG_MAX);
	struct seen *ours = calloc(1, sizeof(*ours)), *theirs = calloc(1, sizeof(*theirs));
	cr_assert(b && ours && theirs);
	rng = 0x2545f4914f6cdd1dULL;
	int both = 0, only_theirs = 0, extension = 0;
	static const char bytes[] = " \t\r\n:;,\"=-+0aZ\x7f\x80\x00";
	for (int round = 0; round < 20000; round++) {
		bool request = rnd(10) < 7;
		size_t len = make_message(b, request);
		b[rnd((unsigned)len)] = bytes[rnd(sizeof(bytes) - 1)];
		int n = nlb_parse(b, len, request, ours, 1);
		int m = hp_parse(b, len, request, theirs, 1);
		if (n == 1 && m == 1) {
			/* http_parser does not refuse a field with an empty name
			 * or a URL http_parser reads differently; both are
			 * refused by nlb, so they never reach here. */
			if (ours->body != theirs->body || ours->end != theirs->end)
				fprintf(stderr, "round %d:\n%.*s\n", round, (int)len, b);
			expect_same(ours, theirs, request ? "changed request" : "changed response", 0);
			both++;
		} else if (m == 1) {
			only_theirs++;
		} else if (n == 1 && request && !hp_knows(ours->method)) {
			extension++;
		} else {
			cr_assert_eq(n, 0, "round %d: nlb accepts what http_parser refuses:\n%.*s",
				     round, (int)len, b);
		}
	}
	/* the comparison happened, and nlb refused more than nothing */
	cr_expect_gt(both, 1000);
	cr_expect_gt(only_theirs, 100);
	cr_expect_lt(extension, 1000);
	free(b);
	free(ours);
	free(theirs);
}
