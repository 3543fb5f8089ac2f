/* Logging to stderr, one line per event: "ts level=... msg=...".
 * The level is set once at start-up, before any worker runs. */
#ifndef NLB_LOG_H
#define NLB_LOG_H

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

#endif
