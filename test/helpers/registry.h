/* The registry of live helper objects and the leak check every test ends
 * with: suite setup and teardown, T_TEST and T_UNIT, T_ASSERT.  Helpers
 * that create an nlb process, a server, a temp file or a client fd
 * register it here; a test checks that it cleaned up after itself, and
 * t_teardown() reclaims what a failed test left (an nlb left running
 * would hold its ports and outlive the test). */
#ifndef NLB_TEST_REGISTRY_H
#define NLB_TEST_REGISTRY_H

#include <stdbool.h>

/* ---- suite setup and the leak check ---------------------------------- */

/* Ignores SIGPIPE, raises RLIMIT_NOFILE to the hard limit, and records the
 * open-fd baseline that t_teardown() compares against. */
void t_setup(void);

/* Expects that no helper object is still registered (nlb processes,
 * servers, temp files, client fds from t_connect) and that the process has
 * exactly the fds it had in t_setup().  Reclaims nothing. */
void t_check_leaks(void);

/* A Criterion test whose body is followed by t_check_leaks(), in the test
 * itself: Criterion 2.4 ignores assertions made in .fini (Snaipe/Criterion
 * issue #211), so a leak check there could not fail a test. */
#define T_TEST(suite, name, ...)					\
	static void suite##_##name##_body(void);			\
	Test(suite, name, ##__VA_ARGS__)				\
	{								\
		suite##_##name##_body();				\
		t_check_leaks();					\
	}								\
	static void suite##_##name##_body(void)

/* A unit test (no processes, servers or fds to account for) followed by
 * the heap check: under the sanitizers memory the test left unreachable
 * fails it.  Criterion does not fail a run for what happens in .fini, so
 * the check is in the test itself. */
#define T_UNIT(suite, name, ...)					\
	static void suite##_##name##_body(void);			\
	Test(suite, name, ##__VA_ARGS__)				\
	{								\
		suite##_##name##_body();				\
		cr_expect(!t_heap_leaked(), "leak: the test left unreachable "	\
			  "memory (LeakSanitizer's report above)");	\
	}								\
	static void suite##_##name##_body(void)

/* With the sanitizers: whether LeakSanitizer finds memory nothing points
 * to now (and prints where it was allocated); false in other builds.
 * t_check_leaks checks it too. */
bool t_heap_leaked(void);

/* Reclaims every helper object still registered.  If there were any and
 * neither t_failed() nor t_check_leaks() accounted for them (a plain
 * Test() that leaked), it reports them and exits 1, which Criterion shows
 * as "exited during its setup or teardown" -- but Criterion 2.4 does not
 * fail the run for it, so every test of such a suite is a T_TEST. */
void t_teardown(void);

/* Marks the running test as failed before an assertion aborts it: the
 * objects it leaves behind are then reclaimed by t_teardown() without
 * being reported as leaks as well. */
void t_failed(void);

/* Whether the running test was marked failed (t_failed, or a leak found
 * by t_check_leaks). */
bool t_test_failed(void);

/* cr_assert that first marks the test failed (see t_failed) and evaluates
 * cond once.  The optional rest starts with a string literal, appended to
 * the text of cond: T_ASSERT(fd >= 0, ": %s", strerror(-fd)). */
#define T_ASSERT(cond, ...) do {					\
	bool t_ok_ = (cond);						\
	if (!t_ok_)							\
		t_failed();						\
	cr_assert(t_ok_, "failed: " #cond __VA_ARGS__);			\
} while (0)

/* Raises the soft RLIMIT_NOFILE to the hard limit; returns the new soft
 * limit or -errno. */
long t_raise_nofile(void);

/* Number of open fds of this process (entries of /proc/self/fd). */
int t_fd_count(void);

/* ---- for the helpers that create objects ----------------------------- */

/* What a registered object is; each kind has its own line in the leak
 * report. */
enum t_kind {
	T_KIND_NLB = 0,		/* struct t_nlb (nlb_process.h) */
	T_KIND_SERVER,		/* struct t_server (servers.h) */
	T_KIND_FILE,		/* a temp file's malloc'd path (config_files.h) */
	T_KIND__COUNT,
};

/* Registers obj of kind; t_teardown() calls reclaim(obj) if it is still
 * registered then.  More live objects than any test needs (64 of a kind)
 * abort: a helper bug. */
void t_register(enum t_kind kind, void *obj, void (*reclaim)(void *obj));
void t_unregister(enum t_kind kind, void *obj);

/* Marks fd as a client connection the test must close (on), or closed
 * (off); t_teardown() closes those still open. */
void t_register_fd(int fd, bool on);

#endif
