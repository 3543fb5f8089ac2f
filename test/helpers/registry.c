/* The registry of live helper objects (see registry.h), the fd baseline
 * and the leak check.  Criterion runs every test in its own forked
 * process, so the registry is plain per-process state, touched only by
 * the test's main thread. */
#include "registry.h"

#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

#define T_REG_MAX 64

struct t_entry {
	void *obj;
	void (*reclaim)(void *obj);
};

static struct t_entry reg[T_KIND__COUNT][T_REG_MAX];

/* fds handed out by t_connect: a byte per fd number, grown on demand. */
static unsigned char *reg_fd;
static size_t reg_fd_cap;

/* fd numbers open at t_setup, to name the extra ones at teardown. */
static unsigned char *base_fd;
static size_t base_fd_cap;
static int base_fd_count;

static bool test_failed;

void t_register(enum t_kind kind, void *obj, void (*reclaim)(void *obj))
{
	struct t_entry *tab = reg[kind];
	for (size_t i = 0; i < T_REG_MAX; i++)
		if (!tab[i].obj) {
			tab[i] = (struct t_entry){ obj, reclaim };
			return;
		}
	/* More live objects than any test needs means a helper bug. */
	fprintf(stderr, "helpers: registry full\n");
	abort();
}

void t_unregister(enum t_kind kind, void *obj)
{
	struct t_entry *tab = reg[kind];
	for (size_t i = 0; i < T_REG_MAX; i++)
		if (tab[i].obj == obj) {
			tab[i].obj = NULL;
			return;
		}
}

void t_register_fd(int fd, bool on)
{
	if (fd < 0)
		return;
	if ((size_t)fd >= reg_fd_cap) {
		size_t cap = reg_fd_cap ? reg_fd_cap : 1024;
		while (cap <= (size_t)fd)
			cap *= 2;
		unsigned char *p = realloc(reg_fd, cap);
		if (!p)
			abort();
		memset(p + reg_fd_cap, 0, cap - reg_fd_cap);
		reg_fd = p;
		reg_fd_cap = cap;
	}
	reg_fd[fd] = on;
}

/* Calls fn(fd, arg) for every entry of /proc/self/fd except the
 * directory's own fd. */
static int for_each_fd(void (*fn)(int fd, void *arg), void *arg)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -errno;
	int self = dirfd(d), n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		int fd = atoi(e->d_name);
		if (fd == self)
			continue;
		n++;
		if (fn)
			fn(fd, arg);
	}
	closedir(d);
	return n;
}

int t_fd_count(void)
{
	return for_each_fd(NULL, NULL);
}

static void base_fd_mark(int fd, void *arg)
{
	(void)arg;
	if ((size_t)fd >= base_fd_cap) {
		size_t cap = base_fd_cap ? base_fd_cap : 256;
		while (cap <= (size_t)fd)
			cap *= 2;
		unsigned char *p = realloc(base_fd, cap);
		if (!p)
			abort();
		memset(p + base_fd_cap, 0, cap - base_fd_cap);
		base_fd = p;
		base_fd_cap = cap;
	}
	base_fd[fd] = 1;
}

static void report_extra_fd(int fd, void *arg)
{
	int *shown = arg;
	if ((size_t)fd < base_fd_cap && base_fd[fd])
		return;
	if (++*shown > 20)
		return;
	char path[64], target[PATH_MAX];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, target, sizeof target - 1);
	target[n < 0 ? 0 : n] = '\0';
	fprintf(stderr, "  leaked fd %d -> %s\n", fd, target);
}

long t_raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	if (rl.rlim_cur != rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			return -errno;
	}
	return (long)rl.rlim_cur;
}

void t_failed(void)
{
	test_failed = true;
}

bool t_test_failed(void)
{
	return test_failed;
}

void t_setup(void)
{
	test_failed = false;
	/* A write to a connection nlb has reset must fail with EPIPE, not
	 * kill the test; children get SIGPIPE back in t_spawn. */
	signal(SIGPIPE, SIG_IGN);
	long n = t_raise_nofile();
	cr_assert(n > 0, "raising RLIMIT_NOFILE: %s", strerror((int)-n));
	if (base_fd)
		memset(base_fd, 0, base_fd_cap);
	base_fd_count = for_each_fd(base_fd_mark, NULL);
}

/* Counts of registered objects, for the leak check and the teardown. */
struct t_live {
	int nlb, srv, file, conn;
};

static struct t_live live_count(void)
{
	struct t_live l = { 0 };
	for (size_t i = 0; i < T_REG_MAX; i++) {
		l.nlb += reg[T_KIND_NLB][i].obj != NULL;
		l.srv += reg[T_KIND_SERVER][i].obj != NULL;
		l.file += reg[T_KIND_FILE][i].obj != NULL;
	}
	for (size_t fd = 0; fd < reg_fd_cap; fd++)
		l.conn += reg_fd[fd] != 0;
	return l;
}

#if defined(__SANITIZE_ADDRESS__)
/* This binary only (nlb and nlb-bench, run by the tests, keep checking
 * at their exit): no check when the runner exits, where Criterion 2.4
 * leaves a few allocations of its own.  Tests are checked one by one
 * instead (t_heap_leaked), while their memory is the only suspect. */
const char *__lsan_default_options(void);
const char *__lsan_default_options(void)
{
	return "leak_check_at_exit=0";
}

bool t_heap_leaked(void)
{
	return __lsan_do_recoverable_leak_check() != 0;
}
#else
bool t_heap_leaked(void)
{
	return false;
}
#endif

void t_check_leaks(void)
{
	if (t_heap_leaked()) {
		test_failed = true;
		cr_expect_fail("leak: the test left unreachable memory (LeakSanitizer's report above)");
	}
	struct t_live l = live_count();
	int now = t_fd_count();
	bool leaked = l.nlb || l.srv || l.file || l.conn || now != base_fd_count;
	if (!leaked)
		return;
	/* Accounted for here: the teardown reclaims quietly. */
	test_failed = true;
	cr_expect(l.nlb == 0, "leak: %d nlb process(es) not stopped/freed", l.nlb);
	cr_expect(l.srv == 0, "leak: %d server(s) not freed", l.srv);
	cr_expect(l.file == 0, "leak: %d temp file(s) not removed", l.file);
	cr_expect(l.conn == 0, "leak: %d client connection(s) not closed", l.conn);
	if (now != base_fd_count) {
		int shown = 0;
		for_each_fd(report_extra_fd, &shown);
	}
	cr_expect(now == base_fd_count,
		  "leak: %d fds open at the end of the test, %d at setup",
		  now, base_fd_count);
}

void t_teardown(void)
{
	struct t_live l = live_count();
	/* Slot by slot, each slot's nlb before its server and file. */
	for (size_t i = 0; i < T_REG_MAX; i++)
		for (int k = 0; k < T_KIND__COUNT; k++)
			if (reg[k][i].obj)
				reg[k][i].reclaim(reg[k][i].obj);
	for (size_t fd = 0; fd < reg_fd_cap; fd++)
		if (reg_fd[fd]) {
			reg_fd[fd] = 0;
			close((int)fd);
		}
	if (!(l.nlb || l.srv || l.file || l.conn))
		return;
	fprintf(stderr, "teardown reclaimed %d nlb, %d servers, %d files, "
		"%d connections%s\n", l.nlb, l.srv, l.file, l.conn,
		test_failed ? " (after a failure)" : "");
	if (!test_failed) {
		fflush(NULL);
		_exit(1);
	}
}
