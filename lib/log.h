/* Logging to stderr, one line per event: ts=... level=... msg="..." and,
 * when lines of the same call site were dropped, suppressed=N.  The level
 * is set once at start-up, before any worker runs; the _rl variants limit
 * each call site to a burst, then a steady rate. */
#ifndef NLB_LOG_H
#define NLB_LOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

enum nlb_log_level {
	NLB_LOG_ERROR = 0,
	NLB_LOG_WARN,
	NLB_LOG_INFO,
	NLB_LOG_DEBUG,
};

void nlb_log_set_level(enum nlb_log_level level);
enum nlb_log_level nlb_log_get_level(void);
int nlb_log_level_parse(const char *name, enum nlb_log_level *out);
const char *nlb_log_level_name(enum nlb_log_level level);

void nlb_log(enum nlb_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define nlb_err(...)   nlb_log(NLB_LOG_ERROR, __VA_ARGS__)
#define nlb_warn(...)  nlb_log(NLB_LOG_WARN, __VA_ARGS__)
#define nlb_info(...)  nlb_log(NLB_LOG_INFO, __VA_ARGS__)
#define nlb_debug(...) do { if (nlb_log_get_level() >= NLB_LOG_DEBUG) \
	nlb_log(NLB_LOG_DEBUG, __VA_ARGS__); } while (0)

/* ---- rate-limited lines ------------------------------------------------
 * For lines a remote peer can make nlb write over and over (one per
 * connection, datagram or failed accept): a flood must not fill the disk.
 * Each call site passes NLB_LOG_RL_BURST lines at once, then one every
 * NLB_LOG_RL_INTERVAL_MS (lib/tunables.h); the first line that passes after some were
 * dropped ends with suppressed=N, how many.  Lines bounded by the
 * configuration (health changes, reloads, start and stop) stay unlimited. */

/* One call site's state: zero-initialised, so a static one needs no set-up.
 * Shared by every thread that reaches the site, hence atomics. */
struct nlb_log_rl {
	/* GCRA: when the bucket would be full again, in ms of the clock */
	_Atomic uint64_t tat_ms;
	_Atomic uint64_t suppressed;	/* dropped since the last line passed */
};

/* Whether a line may pass at now_ms.  If it may, *suppressed gets (and the
 * state forgets) how many were dropped before it; if not, it is counted. */
bool nlb_log_rl_pass(struct nlb_log_rl *rl, uint64_t now_ms, uint64_t *suppressed);

/* The limiter's clock, CLOCK_MONOTONIC in ms; tests set their own (NULL
 * puts the real one back). */
void nlb_log_set_clock(uint64_t (*now_ms)(void));

void nlb_log_rl(struct nlb_log_rl *rl, enum nlb_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The level is checked first, so a line that would not be written takes
 * nothing from the budget. */
#define NLB_LOG_RL_SITE(level, ...) do {				\
	static struct nlb_log_rl nlb_log_rl_site_;			\
	if ((int)(level) <= (int)nlb_log_get_level())			\
		nlb_log_rl(&nlb_log_rl_site_, (level), __VA_ARGS__);	\
} while (0)

#define nlb_err_rl(...)   NLB_LOG_RL_SITE(NLB_LOG_ERROR, __VA_ARGS__)
#define nlb_warn_rl(...)  NLB_LOG_RL_SITE(NLB_LOG_WARN, __VA_ARGS__)
#define nlb_info_rl(...)  NLB_LOG_RL_SITE(NLB_LOG_INFO, __VA_ARGS__)
#define nlb_debug_rl(...) NLB_LOG_RL_SITE(NLB_LOG_DEBUG, __VA_ARGS__)

#endif
