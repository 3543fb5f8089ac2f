/* A growable text buffer: appends with printf formats or raw bytes,
 * doubling its room as needed.  A failed allocation is sticky, so a
 * writer appends freely and checks once at the end. */
#ifndef NLB_STRBUF_H
#define NLB_STRBUF_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

struct nlb_strbuf {
	char *p;		/* NUL-terminated when len > 0 (or after any append) */
	size_t len;
	size_t cap;
	bool failed;		/* an append did not fit and could not grow */
};

/* A zeroed struct is an empty buffer; these need no init call. */
int nlb_strbuf_append(struct nlb_strbuf *b, const void *data, size_t n);
int nlb_strbuf_printf(struct nlb_strbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Appends s as the inside of a quoted Prometheus label value (text
 * format 0.0.4): backslash, double quote and line feed escaped as \\, \"
 * and \n, every other byte as is. */
int nlb_strbuf_label_value(struct nlb_strbuf *b, const char *s);

/* Returns 0, or -ENOMEM if any append since the last reset failed. */
static inline int nlb_strbuf_status(const struct nlb_strbuf *b)
{
	return b->failed ? -ENOMEM : 0;
}

/* Empties the buffer, keeping its room. */
void nlb_strbuf_reset(struct nlb_strbuf *b);
void nlb_strbuf_free(struct nlb_strbuf *b);

#endif
