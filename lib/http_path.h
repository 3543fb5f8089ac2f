/* A request target's path as listener rules see it (RFC 3986, 6.2.2):
 * percent-encoded unreserved characters decoded, other percent-encodings
 * kept with upper-case hex, runs of slashes merged, dot segments removed.
 * So "/v1/../admin", "/%2e%2e/admin", "//admin" and "/%61dmin" all read
 * "/admin", and a rule cannot be stepped around by spelling a path
 * another way.  Pure; the caller gives the buffer. */
#ifndef NLB_HTTP_PATH_H
#define NLB_HTTP_PATH_H

#include <stddef.h>

/* The path of an origin-form ("/a?q") or absolute-form
 * ("http://h/a?q") target, normalised into out (cap bytes, at least len
 * + 3), NUL-terminated.  Returns its length; -ERANGE when a ".." would
 * go above the root; -EINVAL for a target that is neither form ("*",
 * an authority) or a '%' not followed by two hex digits; -ENOSPC. */
int nlb_http_path_normalise(const char *target, size_t len, char *out, size_t cap);

/* The authority of an absolute-form target ("http://user@h:80/a":
 * "h:80", without userinfo), which stands for the request's Host (RFC
 * 9112, 3.2.2); NULL (and *auth_len 0) for any other form or an empty
 * one. */
const char *nlb_http_target_authority(const char *target, size_t len, size_t *auth_len);

/* The query of a target: what follows its first '?', without it and up
 * to a '#'; len 0
 * (and a pointer past the target) when it has none. */
const char *nlb_http_target_query(const char *target, size_t len, size_t *query_len);

#endif
