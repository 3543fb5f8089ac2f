/* Patterns with '*' (any run of bytes, empty too) and '?' (one byte),
 * as the AWS ALB's rule conditions take them: hosts, paths, header and
 * query values.  Matching is anchored at both ends. */
#ifndef NLB_WILDCARD_H
#define NLB_WILDCARD_H

#include <stdbool.h>
#include <stddef.h>

/* Whether text matches pat; fold compares ASCII letters without case.
 * The parts between stars are placed leftmost-first and never revisited,
 * so the cost is at most len(text) x len(pat) byte comparisons, and
 * about len(text) for patterns such as "/api/" then a star, or a star
 * then ".example.com". */
bool nlb_wildcard_match(const char *pat, size_t plen, const char *text, size_t tlen, bool fold);

#endif
