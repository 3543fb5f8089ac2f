/* The configuration file's text: the one read of the file, and the checks
 * of its text that libconfig does not make. */
#ifndef NLB_CONFIG_TEXT_H
#define NLB_CONFIG_TEXT_H

#include <stddef.h>

#include "config_error.h"

/* Reads ld->path, a regular file of at most NLB_CONFIG_MAX_BYTES, whole
 * and once, into *out (malloc'd, NUL-terminated; *len bytes before the
 * NUL).  0, or -EINVAL (not a regular file), -EFBIG, -ENOMEM, open's or
 * read's -errno, with the error written as "FILE: ...". */
int cfg_read_file(const struct cfg_loader *ld, char **out, size_t *len);

/* Before libconfig parses text: refuses a NUL byte and @include outside
 * comments and strings.  0 or -EINVAL ("FILE:LINE: ..."). */
int cfg_check_text(const struct cfg_loader *ld, const char *text, size_t len);

/* After libconfig accepted text: refuses an integer literal without the
 * L suffix that does not fit in 32 bits.  0 or -EINVAL. */
int cfg_check_int_literals(const struct cfg_loader *ld, const char *text, size_t len);

#endif
