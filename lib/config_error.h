/* Errors of a configuration load: one line, "FILE:LINE: message" (or
 * "FILE: message"), written into the caller's buffer. */
#ifndef NLB_CONFIG_ERROR_H
#define NLB_CONFIG_ERROR_H

#include <libconfig.h>
#include <stddef.h>

/* What is being loaded, and where its error goes (err may be NULL or
 * errlen 0: then nothing is written). */
struct cfg_loader {
	const char *path;
	char *err;
	size_t errlen;
};

/* Writes "FILE:LINE: message" (or "FILE: message" when line is 0) and
 * returns -EINVAL. */
__attribute__((format(printf, 3, 4)))
int cfg_fail_line(const struct cfg_loader *ld, unsigned line, const char *fmt, ...);

/* The same at the line of setting s, so callers can `return cfg_fail(...)`. */
__attribute__((format(printf, 3, 4)))
int cfg_fail(const struct cfg_loader *ld, const config_setting_t *s, const char *fmt, ...);

/* Writes "FILE: out of memory" and returns -ENOMEM. */
int cfg_fail_nomem(const struct cfg_loader *ld);

#endif
