/* lib/log: the line format and the per-call-site rate limiter, on a clock
 * the test sets (no sleeping): a burst passes, the rest is dropped, the
 * next line that passes reports how many were, the budget comes back with
 * time, threads sharing a site lose no count, and a line below the level
 * takes nothing from the budget. */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "log.h"
#include "tunables.h"

TestSuite(log);

static uint64_t fake_now = 1000000;

static uint64_t fake_clock(void)
{
	return fake_now;
}

/* The limiter alone. */
T_UNIT(log, burst_then_steady_rate)
{
	struct nlb_log_rl rl = { 0 };
	uint64_t sup = 99, t = 5000;
	for (unsigned i = 0; i < NLB_LOG_RL_BURST; i++) {
		cr_assert(nlb_log_rl_pass(&rl, t, &sup), "line %u of the burst dropped", i);
		cr_assert_eq(sup, 0);
	}
	for (unsigned i = 0; i < 80; i++)
		cr_assert(!nlb_log_rl_pass(&rl, t, &sup), "line %u past the burst passed", i);

	/* Just short of one interval: still nothing. */
	cr_assert(!nlb_log_rl_pass(&rl, t + NLB_LOG_RL_INTERVAL_MS - 1, &sup));
	/* One interval on: one line, which tells of the 81 dropped. */
	t += NLB_LOG_RL_INTERVAL_MS;
	cr_assert(nlb_log_rl_pass(&rl, t, &sup));
	cr_assert_eq(sup, 81);
	cr_assert(!nlb_log_rl_pass(&rl, t, &sup));
	/* The steady rate: one line per interval, each telling of the one
	 * dropped in between. */
	for (unsigned i = 0; i < 10; i++) {
		t += NLB_LOG_RL_INTERVAL_MS;
		cr_assert(nlb_log_rl_pass(&rl, t, &sup), "interval %u", i);
		cr_assert_eq(sup, 1);
		cr_assert(!nlb_log_rl_pass(&rl, t, &sup));
	}

	/* Quiet for a whole burst's worth of intervals: a full burst again,
	 * its first line telling of the last drop. */
	t += (uint64_t)NLB_LOG_RL_BURST * NLB_LOG_RL_INTERVAL_MS;
	for (unsigned i = 0; i < NLB_LOG_RL_BURST; i++) {
		cr_assert(nlb_log_rl_pass(&rl, t, &sup), "line %u of the second burst", i);
		cr_assert_eq(sup, i == 0 ? 1 : 0);
	}
	cr_assert(!nlb_log_rl_pass(&rl, t, &sup));
}

/* A clock that goes back (it should not; a test clock might) never
 * opens the gate wider than the burst. */
T_UNIT(log, earlier_time_grants_nothing_extra)
{
	struct nlb_log_rl rl = { 0 };
	uint64_t sup;
	unsigned passed = 0;
	for (unsigned i = 0; i < 100; i++)
		passed += nlb_log_rl_pass(&rl, 100000 - i, &sup);
	cr_assert_leq(passed, NLB_LOG_RL_BURST);
}

struct flood {
	struct nlb_log_rl *rl;
	unsigned lines;
	unsigned passed;
	uint64_t reported;
};

static void *flood_main(void *arg)
{
	struct flood *f = arg;
	for (unsigned i = 0; i < f->lines; i++) {
		uint64_t sup;
		if (nlb_log_rl_pass(f->rl, 7777, &sup)) {
			f->passed++;
			f->reported += sup;
		}
	}
	return NULL;
}

/* Four threads on one site at one instant: exactly a burst passes, and
 * every other line is counted as suppressed, none lost or counted twice. */
T_UNIT(log, threads_share_a_site_exactly)
{
	enum { THREADS = 4, LINES = 50000 };
	struct nlb_log_rl rl = { 0 };
	struct flood f[THREADS];
	pthread_t th[THREADS];
	for (int i = 0; i < THREADS; i++) {
		f[i] = (struct flood){ &rl, LINES, 0, 0 };
		cr_assert_eq(pthread_create(&th[i], NULL, flood_main, &f[i]), 0);
	}
	unsigned passed = 0;
	uint64_t reported = 0;
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		passed += f[i].passed;
		reported += f[i].reported;
	}
	cr_assert_eq(passed, NLB_LOG_RL_BURST);
	/* What no line has reported yet is still in the state. */
	uint64_t pending = atomic_load(&rl.suppressed);
	cr_assert_eq(reported + pending, (uint64_t)THREADS * LINES - NLB_LOG_RL_BURST);
}

/* Sends stderr to a temporary file for the test's lines; returns the
 * saved stderr and the file's fd. */
static int capture(int *file)
{
	char path[] = "/tmp/nlb-test-log-XXXXXX";
	*file = mkstemp(path);
	cr_assert_geq(*file, 0);
	unlink(path);
	int saved = dup(STDERR_FILENO);
	cr_assert_geq(saved, 0);
	cr_assert_geq(dup2(*file, STDERR_FILENO), 0);
	return saved;
}

static char *release(int saved, int file)
{
	dup2(saved, STDERR_FILENO);
	close(saved);
	off_t len = lseek(file, 0, SEEK_END);
	char *text = calloc(1, (size_t)len + 1);
	cr_assert_not_null(text);
	cr_assert_eq(pread(file, text, (size_t)len, 0), len);
	close(file);
	return text;
}

static unsigned count(const char *text, const char *needle)
{
	unsigned n = 0;
	for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* One call site, through the macro: its own lines, then suppressed=N on
 * the first line after the drops, in the key=value line format. */
static void warn_site(unsigned i)
{
	nlb_warn_rl("accept: \"%s\" %u", "Too many open files", i);
}

T_UNIT(log, macro_writes_suppressed_count)
{
	nlb_log_set_clock(fake_clock);
	nlb_log_set_level(NLB_LOG_INFO);
	int file, saved = capture(&file);
	for (unsigned i = 0; i < 100; i++)
		warn_site(i);
	fake_now += NLB_LOG_RL_INTERVAL_MS;
	warn_site(100);
	/* Another site has a budget of its own. */
	nlb_warn_rl("another site");
	nlb_log_set_clock(NULL);
	char *text = release(saved, file);

	cr_assert_eq(count(text, "\n"), NLB_LOG_RL_BURST + 2, "%s", text);
	cr_assert_eq(count(text, "suppressed="), 1, "%s", text);
	cr_assert_not_null(strstr(text, " level=warn msg=\"accept: \\\"Too many open files\\\" 19\"\n"),
			   "%s", text);
	cr_assert_null(strstr(text, "Too many open files\\\" 20\""), "%s", text);
	cr_assert_not_null(strstr(text, " level=warn msg=\"accept: \\\"Too many open files\\\" 100\" "
				  "suppressed=80\n"), "%s", text);
	cr_assert_not_null(strstr(text, "msg=\"another site\"\n"), "%s", text);
	cr_assert_eq(strncmp(text, "ts=", 3), 0, "%s", text);
	free(text);
}

/* A debug line with the level at info is neither written nor counted:
 * when debug is turned on the site still has its whole burst. */
static void debug_site(void)
{
	nlb_debug_rl("per connection");
}

T_UNIT(log, lines_below_the_level_take_no_budget)
{
	nlb_log_set_clock(fake_clock);
	nlb_log_set_level(NLB_LOG_INFO);
	int file, saved = capture(&file);
	for (unsigned i = 0; i < 1000; i++)
		debug_site();
	nlb_log_set_level(NLB_LOG_DEBUG);
	for (unsigned i = 0; i < NLB_LOG_RL_BURST; i++)
		debug_site();
	nlb_log_set_level(NLB_LOG_INFO);
	nlb_log_set_clock(NULL);
	char *text = release(saved, file);
	cr_assert_eq(count(text, "msg=\"per connection\"\n"), NLB_LOG_RL_BURST, "%s", text);
	cr_assert_eq(count(text, "suppressed="), 0, "%s", text);
	free(text);
}
