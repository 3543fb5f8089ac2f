/* The answers nlb makes itself on an HTTP listener, as the AWS
 * Application Load Balancer makes them: a status line, a short HTML body
 * naming the status, and Connection: close when nlb closes after it. */
#ifndef NLB_HTTP1_ANSWER_H
#define NLB_HTTP1_ANSWER_H

#include <stdbool.h>
#include <stddef.h>

/* The reason phrase of status (RFC 9110, 15), "Unknown" for others. */
const char *nlb_http1_reason(int status);

/* Writes the whole answer into out (cap bytes); head_only leaves the
 * body out (the answer to a HEAD) but keeps its Content-Length.  Returns
 * its length, or -ENOSPC. */
int nlb_http1_answer(int status, bool close, bool head_only, char *out, size_t cap);

/* An answer a listener rule makes (a redirect, a fixed response):
 * status, then fields (whole lines, each ending CRLF; NULL: none), a
 * Content-Type when content_type is given, and body (body_len bytes)
 * with its Content-Length; head_only leaves the body out.  Returns its
 * length, or -ENOSPC. */
int nlb_http1_answer_with(int status, bool close, bool head_only, const char *fields,
			  const char *content_type, const char *body, size_t body_len, char *out,
			  size_t cap);

/* The longest answer nlb_http1_answer writes. */
#define NLB_HTTP1_ANSWER_MAX 512

#endif
