/* Errors of a configuration load, one line each, naming the file and,
 * where there is one, the line. */
#include "config_error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

/* Writes "FILE:LINE: message" (or "FILE: message" when line is 0) and
 * returns -EINVAL.  FILE is always the path: @include is refused, so
 * every line is one of that file's. */
static int vfail_line(const struct cfg_loader *ld, unsigned line, const char *fmt, va_list ap)
{
	if (ld->err == NULL || ld->errlen == 0)
		return -EINVAL;

	int n;
	if (line > 0)
		n = snprintf(ld->err, ld->errlen, "%s:%u: ", ld->path, line);
	else
		n = snprintf(ld->err, ld->errlen, "%s: ", ld->path);
	if (n >= 0 && (size_t)n < ld->errlen)
		vsnprintf(ld->err + n, ld->errlen - (size_t)n, fmt, ap);
	/* Quoted values come from the file and may hold "\n" escapes; the
	 * error must stay one line. */
	for (char *c = ld->err; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = ' ';
	return -EINVAL;
}

int cfg_fail_line(const struct cfg_loader *ld, unsigned line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vfail_line(ld, line, fmt, ap);
	va_end(ap);
	return r;
}

int cfg_fail(const struct cfg_loader *ld, const config_setting_t *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vfail_line(ld, config_setting_source_line(s), fmt, ap);
	va_end(ap);
	return r;
}

int cfg_fail_nomem(const struct cfg_loader *ld)
{
	if (ld->err != NULL && ld->errlen > 0)
		snprintf(ld->err, ld->errlen, "%s: out of memory", ld->path);
	return -ENOMEM;
}
