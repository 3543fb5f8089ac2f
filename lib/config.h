/* The configuration: a libconfig file loaded into an immutable snapshot.
 * Every error names file:line and what is wrong; a loaded snapshot is
 * valid as a whole (names resolved, ranges checked).  The public header:
 * the snapshot's types (config_snapshot-t.h), its keys (config_keys.h)
 * and the loader. */
#ifndef NLB_CONFIG_H
#define NLB_CONFIG_H

#include <stddef.h>

#include "config_keys.h"
#include "config_snapshot-t.h"

/* Reads path, a regular file of at most NLB_CONFIG_MAX_BYTES, once, and
 * parses what it read with nlb_config_parse.  On error returns -EINVAL
 * (the text, or not a regular file), -EFBIG (too large), -ENOMEM, or
 * open's or read's -errno (-ENOENT, -EACCES, -EISDIR, ...), and writes
 * one line into err: "FILE: what is wrong" or "FILE:LINE: what is wrong". */
int nlb_config_load(const char *path, struct nlb_config **out,
		    char *err, size_t errlen);

/* Parses and validates the len bytes of text, followed by a '\0' at
 * text[len] (libconfig reads a C string), as the file path: path names
 * it in errors and in the snapshot, and is never opened.  @include and
 * NUL bytes are refused.  Returns 0, -EINVAL or -ENOMEM, with err as
 * nlb_config_load's. */
int nlb_config_parse(const char *path, const char *text, size_t len,
		     struct nlb_config **out, char *err, size_t errlen);
void nlb_config_free(struct nlb_config *cfg);

#endif
