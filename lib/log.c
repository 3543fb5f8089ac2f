/* Logging to stderr: "ts=... level=... msg=\"...\"" (and " suppressed=N"
 * after rate-limited lines were dropped), one line per event, written with
 * a single write(2) so lines from different threads never interleave; and
 * the per-call-site rate limiter. */
#include "clock.h"
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tunables.h"

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

/* Writes one line; suppressed > 0 appends suppressed=N. */
static void vlog(enum nlb_log_level level, uint64_t suppressed, const char *fmt, va_list ap)
{
	/* The exit stats line, the longest, is some 4 KiB. */
	char msg[8192];
	vsnprintf(msg, sizeof(msg), fmt, ap);

	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);

	char line[8192 + 400];
	int n = snprintf(line, sizeof(line),
			 "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s msg=\"",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			 tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
			 nlb_log_level_name(level));
	/* Quotes and control bytes inside the message are escaped so the
	 * line stays one parseable key=value record.  Room is kept for the
	 * closing quote, suppressed=N and the newline. */
	for (const char *p = msg; *p && n < (int)sizeof(line) - 40; p++) {
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
	if (suppressed)
		n += snprintf(line + n, sizeof(line) - (size_t)n, " suppressed=%llu",
			      (unsigned long long)suppressed);
	line[n++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, (size_t)n);
	(void)w;
}

void nlb_log(enum nlb_log_level level, const char *fmt, ...)
{
	if ((int)level > (int)nlb_log_get_level())
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog(level, 0, fmt, ap);
	va_end(ap);
}

/* ---- the rate limiter ----------------------------------------------------- */

/* GCRA, a token bucket in one word: tat is when the bucket would be full
 * again.  Each line that passes moves it one interval on; a line passes
 * while tat is less than a burst's worth of intervals ahead of now.  One
 * compare-and-swap, no lock: worker threads share call sites. */
bool nlb_log_rl_pass(struct nlb_log_rl *rl, uint64_t now_ms, uint64_t *suppressed)
{
	const uint64_t tolerance = (uint64_t)(NLB_LOG_RL_BURST - 1) * NLB_LOG_RL_INTERVAL_MS;
	uint64_t tat = atomic_load_explicit(&rl->tat_ms, memory_order_relaxed);
	for (;;) {
		uint64_t from = tat > now_ms ? tat : now_ms;
		if (from - now_ms > tolerance) {
			atomic_fetch_add_explicit(&rl->suppressed, 1, memory_order_relaxed);
			return false;
		}
		if (atomic_compare_exchange_weak_explicit(&rl->tat_ms, &tat,
							  from + NLB_LOG_RL_INTERVAL_MS,
							  memory_order_relaxed,
							  memory_order_relaxed))
			break;
	}
	/* A line dropped by another thread just now is told by the next. */
	*suppressed = atomic_exchange_explicit(&rl->suppressed, 0, memory_order_relaxed);
	return true;
}


static _Atomic(uint64_t (*)(void)) rl_clock = nlb_clock_coarse_ms;

void nlb_log_set_clock(uint64_t (*now_ms)(void))
{
	atomic_store(&rl_clock, now_ms ? now_ms : nlb_clock_coarse_ms);
}

void nlb_log_rl(struct nlb_log_rl *rl, enum nlb_log_level level, const char *fmt, ...)
{
	if ((int)level > (int)nlb_log_get_level())
		return;
	uint64_t suppressed;
	if (!nlb_log_rl_pass(rl, atomic_load(&rl_clock)(), &suppressed))
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog(level, suppressed, fmt, ap);
	va_end(ap);
}
