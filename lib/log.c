/* Logging to stderr: "ts=... level=... msg=\"...\"", one line per event,
 * written with a single write(2) so lines from different threads never
 * interleave. */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Atomic int log_level = NLB_LOG_INFO;

static const char *const level_names[] = {
	[NLB_LOG_ERROR] = "error",
	[NLB_LOG_WARN] = "warn",
	[NLB_LOG_INFO] = "info",
	[NLB_LOG_DEBUG] = "debug",
};

void nlb_log_set_level(enum nlb_log_level level)
{
	atomic_store_explicit(&log_level, level, memory_order_relaxed);
}

enum nlb_log_level nlb_log_get_level(void)
{
	return atomic_load_explicit(&log_level, memory_order_relaxed);
}

int nlb_log_level_parse(const char *name, enum nlb_log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = (enum nlb_log_level)i;
			return 0;
		}
	}
	return -1;
}

const char *nlb_log_level_name(enum nlb_log_level level)
{
	return level <= NLB_LOG_DEBUG ? level_names[level] : "?";
}

void nlb_log(enum nlb_log_level level, const char *fmt, ...)
{
	if ((int)level > (int)nlb_log_get_level())
		return;

	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);

	char line[1400];
	int n = snprintf(line, sizeof(line),
			 "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s msg=\"",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			 tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
			 nlb_log_level_name(level));
	/* Quotes and control bytes inside the message are escaped so the
	 * line stays one parseable key=value record. */
	for (const char *p = msg; *p && n < (int)sizeof(line) - 4; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"' || c == '\\') {
			line[n++] = '\\';
			line[n++] = (char)c;
		} else if (c < 0x20) {
			line[n++] = ' ';
		} else {
			line[n++] = (char)c;
		}
	}
	line[n++] = '"';
	line[n++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, (size_t)n);
	(void)w;
}
