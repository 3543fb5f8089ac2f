/* The HTTP/1 head parser (see http1_head.h): a state machine over the
 * bytes that stops where the buffer ends and resumes there, keeping spans
 * as offsets so the caller may move the buffer between calls.  The fields
 * that decide framing and routing (Content-Length, Transfer-Encoding,
 * Host, Connection, Expect, Upgrade) are judged as each one ends; the
 * rules between fields when the empty line arrives. */
#include "http1_head.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "http1_chars.h"

enum state {
	S_START = 0,		/* before a request line: empty lines skipped */
	S_START_LF,
	S_METHOD,
	S_TARGET_FIRST,
	S_TARGET,
	S_VERSION,		/* "HTTP/1.x", vpos bytes matched */
	S_REQUEST_LINE_END,
	S_STATUS_SP,
	S_STATUS,		/* three digits, vpos of them read */
	S_STATUS_AFTER,
	S_REASON,
	S_LINE_LF,		/* the start line's CR seen */
	S_FIELD_START,
	S_FIELD_NAME,
	S_VALUE_LEAD,
	S_VALUE,
	S_FIELD_LF,
	S_END_LF,
	S_DONE,
	S_FAILED,
};

static const struct {
	const char *name;
	enum nlb_http1_method method;
} methods[] = {
	{ "GET", NLB_HTTP1_M_GET }, { "HEAD", NLB_HTTP1_M_HEAD }, { "POST", NLB_HTTP1_M_POST },
	{ "PUT", NLB_HTTP1_M_PUT }, { "DELETE", NLB_HTTP1_M_DELETE },
	{ "CONNECT", NLB_HTTP1_M_CONNECT }, { "OPTIONS", NLB_HTTP1_M_OPTIONS },
	{ "TRACE", NLB_HTTP1_M_TRACE }, { "PATCH", NLB_HTTP1_M_PATCH },
};

void nlb_http1_head_init(struct nlb_http1_head *h, enum nlb_http1_kind kind, unsigned opts,
			 size_t max)
{
	memset(h, 0, offsetof(struct nlb_http1_head, field));
	h->kind = (uint8_t)kind;
	h->opts = (uint8_t)opts;
	h->max = (uint32_t)(max < NLB_HTTP1_HEAD_LIMIT ? max : NLB_HTTP1_HEAD_LIMIT);
	h->state = kind == NLB_HTTP1_REQUEST ? S_START : S_VERSION;
}

static struct nlb_http1_span span(size_t at, size_t end)
{
	return (struct nlb_http1_span){ (uint16_t)at, (uint16_t)(end - at) };
}

static bool span_is(const char *buf, struct nlb_http1_span s, const char *lower)
{
	return strlen(lower) == s.len && strncasecmp(buf + s.at, lower, s.len) == 0;
}

static bool lenient(const struct nlb_http1_head *h)
{
	return h->opts & NLB_HTTP1_LENIENT;
}

static enum nlb_http1_error line_error(const struct nlb_http1_head *h)
{
	return h->kind == NLB_HTTP1_REQUEST ? NLB_HTTP1_E_REQUEST_LINE : NLB_HTTP1_E_STATUS_LINE;
}

/* Calls fn on each element of a comma-separated list (RFC 9110, 5.6.1),
 * trimmed of OWS; stops at the first non-zero result. */
static enum nlb_http1_error each_element(const char *p, size_t n,
					 enum nlb_http1_error (*fn)(struct nlb_http1_head *,
								    const char *, size_t),
					 struct nlb_http1_head *h)
{
	size_t i = 0;
	for (;;) {
		size_t start = i;
		while (i < n && p[i] != ',')
			i++;
		size_t a = start, b = i;
		while (a < b && (p[a] == ' ' || p[a] == '\t'))
			a++;
		while (b > a && (p[b - 1] == ' ' || p[b - 1] == '\t'))
			b--;
		enum nlb_http1_error e = fn(h, p + a, b - a);
		if (e != NLB_HTTP1_E_NONE)
			return e;
		if (i == n)
			return NLB_HTTP1_E_NONE;
		i++;
	}
}

static bool is_token(const char *p, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!nlb_http1_is((unsigned char)p[i], NLB_HTTP1_C_TCHAR))
			return false;
	return true;
}

static bool word_is(const char *p, size_t n, const char *lower)
{
	return strlen(lower) == n && strncasecmp(p, lower, n) == 0;
}

/* One transfer coding.  Only bare tokens: parameters belong to TE, not to
 * Transfer-Encoding, and "chunked;x" is an old smuggling trick. */
static enum nlb_http1_error te_coding(struct nlb_http1_head *h, const char *p, size_t n)
{
	static const char *const known[] = { "gzip", "deflate", "compress", "x-gzip",
					     "x-compress" };
	if (!is_token(p, n))
		return NLB_HTTP1_E_TE_NOT_CHUNKED;
	if (word_is(p, n, "chunked")) {
		if (h->te_chunked_seen)
			return NLB_HTTP1_E_TE_NOT_CHUNKED;	/* applied twice */
		h->te_chunked_seen = 1;
		h->flags |= NLB_HTTP1_F_CHUNKED;
		return NLB_HTTP1_E_NONE;
	}
	h->flags &= ~(uint32_t)NLB_HTTP1_F_CHUNKED;	/* chunked is no longer last */
	for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
		if (word_is(p, n, known[k]))
			return NLB_HTTP1_E_NONE;
	/* A response passes whatever coding it has to the client. */
	return h->kind == NLB_HTTP1_REQUEST ? NLB_HTTP1_E_TE_UNKNOWN : NLB_HTTP1_E_NONE;
}

static enum nlb_http1_error connection_option(struct nlb_http1_head *h, const char *p, size_t n)
{
	if (word_is(p, n, "close"))
		h->flags |= NLB_HTTP1_F_CONN_CLOSE;
	else if (word_is(p, n, "keep-alive"))
		h->flags |= NLB_HTTP1_F_CONN_KEEP_ALIVE;
	else if (word_is(p, n, "upgrade"))
		h->flags |= NLB_HTTP1_F_CONN_UPGRADE;
	return NLB_HTTP1_E_NONE;
}

static enum nlb_http1_error content_length(struct nlb_http1_head *h, const char *p, size_t n)
{
	if (h->flags & NLB_HTTP1_F_CONTENT_LENGTH)
		return NLB_HTTP1_E_CONTENT_LENGTH_TWICE;
	if (n == 0)
		return NLB_HTTP1_E_CONTENT_LENGTH;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return NLB_HTTP1_E_CONTENT_LENGTH;	/* '+', '-', ',', SP */
		if (v > (INT64_MAX - 9) / 10)
			return NLB_HTTP1_E_CONTENT_LENGTH;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	h->content_length = v;
	h->flags |= NLB_HTTP1_F_CONTENT_LENGTH;
	return NLB_HTTP1_E_NONE;
}

/* The field just stored: what it means for framing and routing. */
static enum nlb_http1_error field_done(struct nlb_http1_head *h, const char *buf)
{
	const struct nlb_http1_field *f = &h->field[h->nfields - 1];
	const char *v = buf + f->value.at;
	size_t n = f->value.len;
	switch (f->name.len) {
	case 4:
		if (!span_is(buf, f->name, "host") || h->kind != NLB_HTTP1_REQUEST)
			break;
		if (h->flags & NLB_HTTP1_F_HOST)
			return NLB_HTTP1_E_HOST_TWICE;
		for (size_t i = 0; i < n; i++)
			if (!nlb_http1_is((unsigned char)v[i], NLB_HTTP1_C_HOST))
				return NLB_HTTP1_E_HOST_INVALID;
		h->flags |= NLB_HTTP1_F_HOST;
		h->host = f->value;
		break;
	case 6:
		if (!span_is(buf, f->name, "expect") || h->kind != NLB_HTTP1_REQUEST)
			break;
		if (!word_is(v, n, "100-continue"))
			return NLB_HTTP1_E_EXPECT;
		h->flags |= NLB_HTTP1_F_EXPECT_CONTINUE;
		break;
	case 7:
		if (span_is(buf, f->name, "upgrade"))
			h->flags |= NLB_HTTP1_F_UPGRADE;
		break;
	case 10:
		if (span_is(buf, f->name, "connection"))
			return each_element(v, n, connection_option, h);
		break;
	case 14:
		if (span_is(buf, f->name, "content-length"))
			return content_length(h, v, n);
		break;
	case 17:
		if (span_is(buf, f->name, "transfer-encoding")) {
			h->flags |= NLB_HTTP1_F_TRANSFER_ENCODING;
			return each_element(v, n, te_coding, h);
		}
		break;
	}
	return NLB_HTTP1_E_NONE;
}

/* RFC 9112, 3.2: origin-form for most, absolute-form for any (proxies'
 * clients), authority-form for CONNECT alone, asterisk-form for OPTIONS. */
static bool target_fits(const struct nlb_http1_head *h, const char *buf)
{
	const char *t = buf + h->target.at;
	size_t n = h->target.len;
	if (h->method == NLB_HTTP1_M_CONNECT) {
		if (memchr(t, ':', n) == NULL)
			return false;
		for (size_t i = 0; i < n; i++)
			if (!nlb_http1_is((unsigned char)t[i], NLB_HTTP1_C_HOST))
				return false;
		return true;
	}
	if (t[0] == '/')
		return true;
	if (n == 1 && t[0] == '*')
		return h->method == NLB_HTTP1_M_OPTIONS;
	/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), then "://" */
	size_t i = 0;
	if (!((t[0] | 0x20) >= 'a' && (t[0] | 0x20) <= 'z'))
		return false;
	while (i < n && (nlb_http1_is((unsigned char)t[i], NLB_HTTP1_C_HOST) && t[i] != ':'))
		i++;
	return n - i > 3 && memcmp(t + i, "://", 3) == 0;
}

/* The empty line is in: the rules that span fields. */
static enum nlb_http1_error head_done(struct nlb_http1_head *h, const char *buf)
{
	uint32_t f = h->flags;
	if ((f & NLB_HTTP1_F_CONTENT_LENGTH) && (f & NLB_HTTP1_F_TRANSFER_ENCODING))
		return NLB_HTTP1_E_CL_AND_TE;
	if (h->kind != NLB_HTTP1_REQUEST) {
		/* Framing depends on the class (RFC 9110, 15): none outside
		 * these.  A status line alone takes any three digits and
		 * leaves the judging to the health check's matcher. */
		if (h->status < 100 || h->status > 599)
			return NLB_HTTP1_E_STATUS_LINE;
		return NLB_HTTP1_E_NONE;
	}
	if (f & NLB_HTTP1_F_TRANSFER_ENCODING) {
		if (h->minor == 0)
			return NLB_HTTP1_E_TE_HTTP10;
		if (!(f & NLB_HTTP1_F_CHUNKED))
			return NLB_HTTP1_E_TE_NOT_CHUNKED;
	}
	if (h->minor == 1 && !(f & NLB_HTTP1_F_HOST) && !lenient(h))
		return NLB_HTTP1_E_HOST_MISSING;
	if (!target_fits(h, buf))
		return NLB_HTTP1_E_TARGET;
	return NLB_HTTP1_E_NONE;
}

static void name_method(struct nlb_http1_head *h, const char *buf)
{
	h->method = NLB_HTTP1_M_OTHER;
	for (size_t k = 0; k < sizeof(methods) / sizeof(methods[0]); k++)
		if (strlen(methods[k].name) == h->method_text.len &&
		    memcmp(buf + h->method_text.at, methods[k].name, h->method_text.len) == 0)
			h->method = methods[k].method;
}

static int fail(struct nlb_http1_head *h, enum nlb_http1_error e)
{
	h->state = S_FAILED;
	h->error = e;
	return e == NLB_HTTP1_E_HEAD_TOO_LARGE || e == NLB_HTTP1_E_TOO_MANY_FIELDS ? -E2BIG
										  : -EINVAL;
}

int nlb_http1_head_parse(struct nlb_http1_head *h, const char *buf, size_t len)
{
	if (h->state == S_DONE)
		return (int)h->length;
	if (h->state == S_FAILED)
		return fail(h, h->error);
	size_t n = len < h->max ? len : h->max;
	size_t i;
	enum nlb_http1_error e;
	for (i = h->pos; i < n; i++) {
		unsigned char c = (unsigned char)buf[i];
		switch ((enum state)h->state) {
		case S_START:
			if (c == '\r') {
				h->state = S_START_LF;
			} else if (c == '\n') {
				if (!lenient(h))
					return fail(h, NLB_HTTP1_E_BARE_LF);
			} else if (nlb_http1_is(c, NLB_HTTP1_C_TCHAR)) {
				h->mark = (uint16_t)i;
				h->state = S_METHOD;
			} else {
				return fail(h, NLB_HTTP1_E_REQUEST_LINE);
			}
			break;
		case S_START_LF:
			if (c != '\n')
				return fail(h, NLB_HTTP1_E_BARE_CR);
			h->state = S_START;
			break;
		case S_METHOD:
			if (c == ' ') {
				h->method_text = span(h->mark, i);
				name_method(h, buf);
				h->state = S_TARGET_FIRST;
			} else if (!nlb_http1_is(c, NLB_HTTP1_C_TCHAR)) {
				return fail(h, NLB_HTTP1_E_REQUEST_LINE);
			}
			break;
		case S_TARGET_FIRST:
			if (!nlb_http1_is(c, NLB_HTTP1_C_VCHAR))
				return fail(h, NLB_HTTP1_E_REQUEST_LINE);
			h->mark = (uint16_t)i;
			h->state = S_TARGET;
			break;
		case S_TARGET:
			while (i < n && nlb_http1_is((unsigned char)buf[i], NLB_HTTP1_C_VCHAR))
				i++;
			if (i == n) {
				i--;	/* the loop's i++ brings it back to n */
				break;
			}
			if (buf[i] != ' ')
				return fail(h, NLB_HTTP1_E_REQUEST_LINE);
			h->target = span(h->mark, i);
			h->state = S_VERSION;
			break;
		case S_VERSION:
			if (h->vpos < 5) {
				if (c != (unsigned char)"HTTP/"[h->vpos])
					return fail(h, line_error(h));
			} else if (h->vpos == 5 || h->vpos == 7) {
				if (c < '0' || c > '9')
					return fail(h, line_error(h));
				if (h->vpos == 5 ? c != '1' : c > '1')
					return fail(h, NLB_HTTP1_E_VERSION);
				h->minor = (uint8_t)(c - '0');
			} else if (c != '.') {
				return fail(h, line_error(h));
			}
			if (++h->vpos == 8) {
				h->vpos = 0;
				h->state = h->kind == NLB_HTTP1_REQUEST ? S_REQUEST_LINE_END : S_STATUS_SP;
			}
			break;
		case S_REQUEST_LINE_END:
			if (c == '\r') {
				h->state = S_LINE_LF;
			} else if (c == '\n' && lenient(h)) {
				h->state = S_FIELD_START;
			} else {
				return fail(h, c == '\n' ? NLB_HTTP1_E_BARE_LF : NLB_HTTP1_E_REQUEST_LINE);
			}
			break;
		case S_STATUS_SP:
			if (c != ' ')
				return fail(h, NLB_HTTP1_E_STATUS_LINE);
			h->state = S_STATUS;
			break;
		case S_STATUS:
			if (c < '0' || c > '9')
				return fail(h, NLB_HTTP1_E_STATUS_LINE);
			h->status = (uint16_t)(h->status * 10 + (c - '0'));
			if (++h->vpos == 3)
				h->state = S_STATUS_AFTER;
			break;
		case S_STATUS_AFTER:
			/* RFC 9112, 4: the SP before an empty reason may be missing. */
			h->mark = (uint16_t)(i + 1);
			if (c == ' ') {
				h->state = S_REASON;
				break;
			}
			h->mark = (uint16_t)i;
			/* fall through */
		case S_REASON:
			if (c == '\r' || c == '\n') {
				h->reason = span(h->mark, i);
				if (c == '\n' && !lenient(h))
					return fail(h, NLB_HTTP1_E_BARE_LF);
				if (c == '\r') {
					h->state = S_LINE_LF;
				} else if (h->kind == NLB_HTTP1_STATUS_LINE) {
					goto done;
				} else {
					h->state = S_FIELD_START;
				}
			} else if (!nlb_http1_is(c, NLB_HTTP1_C_VALUE) || h->state == S_STATUS_AFTER) {
				return fail(h, NLB_HTTP1_E_STATUS_LINE);
			}
			break;
		case S_LINE_LF:
			if (c != '\n')
				return fail(h, NLB_HTTP1_E_BARE_CR);
			if (h->kind == NLB_HTTP1_STATUS_LINE)
				goto done;
			h->state = S_FIELD_START;
			break;
		case S_FIELD_START:
			if (c == '\r') {
				h->state = S_END_LF;
			} else if (c == '\n') {
				if (!lenient(h))
					return fail(h, NLB_HTTP1_E_BARE_LF);
				goto end_of_head;
			} else if (nlb_http1_is(c, NLB_HTTP1_C_TCHAR)) {
				if (h->nfields == NLB_HTTP1_FIELDS_MAX)
					return fail(h, NLB_HTTP1_E_TOO_MANY_FIELDS);
				h->mark = (uint16_t)i;
				h->state = S_FIELD_NAME;
			} else {
				return fail(h, c == ' ' || c == '\t' ? NLB_HTTP1_E_OBS_FOLD
								     : NLB_HTTP1_E_FIELD_NAME);
			}
			break;
		case S_FIELD_NAME:
			if (c == ':') {
				h->field[h->nfields].name = span(h->mark, i);
				h->state = S_VALUE_LEAD;
			} else if (!nlb_http1_is(c, NLB_HTTP1_C_TCHAR)) {
				return fail(h, NLB_HTTP1_E_FIELD_NAME);
			}
			break;
		case S_VALUE_LEAD:
			h->mark = (uint16_t)i;
			h->value_end = (uint16_t)i;
			if (c == ' ' || c == '\t')
				break;
			h->state = S_VALUE;
			/* fall through */
		case S_VALUE:
			while (i < n && nlb_http1_is((unsigned char)buf[i], NLB_HTTP1_C_VALUE)) {
				if (buf[i] != ' ' && buf[i] != '\t')
					h->value_end = (uint16_t)(i + 1);
				i++;
			}
			if (i == n) {
				i--;
				break;
			}
			c = (unsigned char)buf[i];
			if (c == '\n' && !lenient(h))
				return fail(h, NLB_HTTP1_E_BARE_LF);
			if (c != '\r' && c != '\n')
				return fail(h, NLB_HTTP1_E_FIELD_VALUE);
			h->field[h->nfields].value =
				span(h->mark, h->value_end > h->mark ? h->value_end : h->mark);
			h->nfields++;
			e = field_done(h, buf);
			if (e != NLB_HTTP1_E_NONE)
				return fail(h, e);
			h->state = c == '\r' ? S_FIELD_LF : S_FIELD_START;
			break;
		case S_FIELD_LF:
			if (c != '\n')
				return fail(h, NLB_HTTP1_E_BARE_CR);
			h->state = S_FIELD_START;
			break;
		case S_END_LF:
			if (c != '\n')
				return fail(h, NLB_HTTP1_E_BARE_CR);
			goto end_of_head;
		case S_DONE:
		case S_FAILED:
			break;
		}
		continue;
end_of_head:
		e = head_done(h, buf);
		if (e != NLB_HTTP1_E_NONE)
			return fail(h, e);
done:
		h->state = S_DONE;
		h->length = (uint32_t)(i + 1);
		h->pos = h->length;
		return (int)h->length;
	}
	if (len >= h->max)
		return fail(h, NLB_HTTP1_E_HEAD_TOO_LARGE);
	h->pos = (uint32_t)i;
	return -EAGAIN;
}

enum nlb_http1_body nlb_http1_head_body(const struct nlb_http1_head *h,
					enum nlb_http1_method request_method)
{
	if (h->kind != NLB_HTTP1_REQUEST) {
		if (h->status == 101)
			return NLB_HTTP1_BODY_TUNNEL;
		if (h->status < 200 || h->status == 204 || h->status == 304 ||
		    request_method == NLB_HTTP1_M_HEAD)
			return NLB_HTTP1_BODY_NONE;
		if (request_method == NLB_HTTP1_M_CONNECT && h->status < 300)
			return NLB_HTTP1_BODY_TUNNEL;
		if (h->flags & NLB_HTTP1_F_TRANSFER_ENCODING)
			return h->flags & NLB_HTTP1_F_CHUNKED ? NLB_HTTP1_BODY_CHUNKED
							      : NLB_HTTP1_BODY_UNTIL_CLOSE;
		if (!(h->flags & NLB_HTTP1_F_CONTENT_LENGTH))
			return NLB_HTTP1_BODY_UNTIL_CLOSE;
	} else if (h->flags & NLB_HTTP1_F_CHUNKED) {
		return NLB_HTTP1_BODY_CHUNKED;
	}
	return h->content_length > 0 ? NLB_HTTP1_BODY_LENGTH : NLB_HTTP1_BODY_NONE;
}

const struct nlb_http1_field *nlb_http1_head_field(const struct nlb_http1_head *h,
						   const char *buf, const char *name)
{
	for (uint32_t k = 0; k < h->nfields; k++)
		if (span_is(buf, h->field[k].name, name))
			return &h->field[k];
	return NULL;
}
