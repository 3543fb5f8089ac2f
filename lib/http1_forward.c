/* Head rewriting for forwarding (see http1_forward.h): one pass over the
 * parsed fields, each copied or dropped, into a caller's buffer through a
 * bounded writer. */
#include "http1_forward.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

struct writer {
	char *p;
	size_t len, cap;
	bool full;
};

static void put(struct writer *w, const char *s, size_t n)
{
	if (w->full || n > w->cap - w->len) {
		w->full = true;
		return;
	}
	memcpy(w->p + w->len, s, n);
	w->len += n;
}

static void puts_(struct writer *w, const char *s)
{
	put(w, s, strlen(s));
}

static void put_span(struct writer *w, const char *buf, struct nlb_http1_span s)
{
	put(w, buf + s.at, s.len);
}

static bool name_is(const char *buf, struct nlb_http1_span s, const char *name)
{
	return strlen(name) == s.len && strncasecmp(buf + s.at, name, s.len) == 0;
}

/* Whether the Connection field(s) of h name this field (RFC 9110, 7.6.1:
 * a sender lists the hop-by-hop fields it added in Connection). */
static bool named_by_connection(const struct nlb_http1_head *h, const char *buf,
				struct nlb_http1_span name)
{
	for (uint32_t k = 0; k < h->nfields; k++) {
		if (!name_is(buf, h->field[k].name, "connection"))
			continue;
		const char *v = buf + h->field[k].value.at;
		size_t n = h->field[k].value.len, i = 0;
		while (i < n) {
			while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
				i++;
			size_t start = i;
			while (i < n && v[i] != ',' && v[i] != ' ' && v[i] != '\t')
				i++;
			if (i - start == name.len && strncasecmp(v + start, buf + name.at, name.len) == 0)
				return true;
		}
	}
	return false;
}

static bool hop_by_hop(const struct nlb_http1_head *h, const char *buf, struct nlb_http1_span name,
		       bool keep_upgrade)
{
	static const char *const always[] = { "connection", "keep-alive", "proxy-connection", "te" };
	for (size_t k = 0; k < sizeof(always) / sizeof(always[0]); k++)
		if (name_is(buf, name, always[k]))
			return true;
	if (name_is(buf, name, "upgrade"))
		return !keep_upgrade;
	/* Framing and the fields nlb writes itself are never dropped by a
	 * Connection option: "Connection: content-length" is an attack. */
	if (name_is(buf, name, "content-length") || name_is(buf, name, "transfer-encoding") ||
	    name_is(buf, name, "host"))
		return false;
	return named_by_connection(h, buf, name);
}

static void put_field(struct writer *w, const char *buf, const struct nlb_http1_field *f)
{
	put_span(w, buf, f->name);
	put(w, ": ", 2);
	put_span(w, buf, f->value);
	put(w, "\r\n", 2);
}

static bool upgrading_request(const struct nlb_http1_head *h)
{
	return (h->flags & NLB_HTTP1_F_UPGRADE) && (h->flags & NLB_HTTP1_F_CONN_UPGRADE);
}

int nlb_http1_forward_request(const struct nlb_http1_head *h, const char *buf,
			      const struct nlb_http1_origin *o, char *out, size_t cap)
{
	struct writer w = { out, 0, cap, false };
	bool upgrade = upgrading_request(h);
	/* The request line as it came, from the method to the version. */
	put(&w, buf + h->method_text.at, (size_t)(h->target.at + h->target.len - h->method_text.at));
	puts_(&w, h->minor ? " HTTP/1.1\r\n" : " HTTP/1.0\r\n");
	for (uint32_t k = 0; k < h->nfields; k++) {
		const struct nlb_http1_field *f = &h->field[k];
		if (hop_by_hop(h, buf, f->name, upgrade) ||
		    name_is(buf, f->name, "x-forwarded-proto") ||
		    name_is(buf, f->name, "x-forwarded-port"))
			continue;
		/* preserve: as it came; append: written below; remove: gone */
		if (name_is(buf, f->name, "x-forwarded-for") && o->xff != NLB_XFF_PRESERVE)
			continue;
		put_field(&w, buf, f);
	}
	if (o->xff == NLB_XFF_APPEND) {
		/* The client's fields, in order, become one list, then the client. */
		puts_(&w, "X-Forwarded-For: ");
		for (uint32_t k = 0; k < h->nfields; k++) {
			const struct nlb_http1_field *f = &h->field[k];
			if (name_is(buf, f->name, "x-forwarded-for") && f->value.len > 0) {
				put_span(&w, buf, f->value);
				put(&w, ", ", 2);
			}
		}
		puts_(&w, o->client);
		put(&w, "\r\n", 2);
	}
	char tail[96];
	int n = snprintf(tail, sizeof(tail), "X-Forwarded-Proto: %s\r\nX-Forwarded-Port: %u\r\n",
			 o->proto, (unsigned)o->port);
	put(&w, tail, (size_t)n);
	if (upgrade)
		puts_(&w, "Connection: upgrade\r\n");
	else if (h->minor == 0)
		puts_(&w, "Connection: keep-alive\r\n");
	put(&w, "\r\n", 2);
	return w.full ? -ENOSPC : (int)w.len;
}

int nlb_http1_forward_response(const struct nlb_http1_head *h, const char *buf,
			       int client_minor, bool close, const char *extra, char *out,
			       size_t cap)
{
	struct writer w = { out, 0, cap, false };
	bool upgrade = h->status == 101;
	char line[32];
	int n = snprintf(line, sizeof(line), "HTTP/1.1 %03u ", (unsigned)h->status);
	put(&w, line, (size_t)n);
	put_span(&w, buf, h->reason);
	put(&w, "\r\n", 2);
	for (uint32_t k = 0; k < h->nfields; k++)
		if (!hop_by_hop(h, buf, h->field[k].name, upgrade))
			put_field(&w, buf, &h->field[k]);
	if (extra)
		puts_(&w, extra);
	if (upgrade)
		puts_(&w, "Connection: upgrade\r\n");
	else if (close)
		puts_(&w, "Connection: close\r\n");
	else if (client_minor == 0)
		puts_(&w, "Connection: keep-alive\r\n");
	put(&w, "\r\n", 2);
	return w.full ? -ENOSPC : (int)w.len;
}
