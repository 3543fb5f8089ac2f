/* The growable text buffer (see strbuf.h). */
#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for n more bytes and a NUL; false (and failed set) if not. */
static bool reserve(struct nlb_strbuf *b, size_t n)
{
	if (b->failed)
		return false;
	if (b->cap - b->len > n)	/* cap > len whenever cap > 0: the NUL */
		return true;
	size_t cap = b->cap ? b->cap : 256;
	while (cap - b->len <= n) {
		if (cap > ((size_t)-1) / 2) {
			b->failed = true;
			return false;
		}
		cap *= 2;
	}
	char *p = realloc(b->p, cap);
	if (!p) {
		b->failed = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

int nlb_strbuf_append(struct nlb_strbuf *b, const void *data, size_t n)
{
	if (!reserve(b, n))
		return -ENOMEM;
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int nlb_strbuf_printf(struct nlb_strbuf *b, const char *fmt, ...)
{
	if (b->failed)
		return -ENOMEM;
	va_list ap;
	va_start(ap, fmt);
	size_t room = b->cap - b->len;
	int n = vsnprintf(b->cap ? b->p + b->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = true;
		return -EINVAL;
	}
	if ((size_t)n < room) {
		b->len += (size_t)n;
		return 0;
	}
	/* It did not fit: grow, and format again into the new room. */
	if (!reserve(b, (size_t)n))
		return -ENOMEM;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

int nlb_strbuf_label_value(struct nlb_strbuf *b, const char *s)
{
	const char *run = s;
	for (; *s; s++) {
		const char *esc = *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : *s == '\n' ? "\\n" : NULL;
		if (!esc)
			continue;
		nlb_strbuf_append(b, run, (size_t)(s - run));
		nlb_strbuf_append(b, esc, 2);
		run = s + 1;
	}
	return nlb_strbuf_append(b, run, (size_t)(s - run));
}

void nlb_strbuf_reset(struct nlb_strbuf *b)
{
	b->len = 0;
	b->failed = false;
	if (b->p)
		b->p[0] = '\0';
}

void nlb_strbuf_free(struct nlb_strbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
	b->failed = false;
}
