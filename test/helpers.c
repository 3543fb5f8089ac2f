/* Test helpers (see helpers.h): owns the registry of live helper objects
 * that t_teardown() reclaims and reports, the nlb child processes, the
 * in-process target servers and their threads, and client-side socket I/O.
 * Criterion runs every test in its own forked process, so the registry is
 * plain per-process state, touched only by the test's main thread. */
#include "clock.h"
#include "helpers.h"

#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

/* One I/O chunk: big enough that 64 MiB is a few thousand syscalls. */
#define T_CHUNK (64 * 1024)

/* ---- the registry ------------------------------------------------------ */

#define T_REG_MAX 64

static struct t_nlb *reg_nlb[T_REG_MAX];
static struct t_server *reg_srv[T_REG_MAX];
static char *reg_file[T_REG_MAX];

/* fds handed out by t_connect: a byte per fd number, grown on demand. */
static unsigned char *reg_fd;
static size_t reg_fd_cap;

/* fd numbers open at t_setup, to name the extra ones at teardown. */
static unsigned char *base_fd;
static size_t base_fd_cap;
static int base_fd_count;

static bool test_failed;

static void reg_add(void **tab, void *p)
{
	for (size_t i = 0; i < T_REG_MAX; i++)
		if (!tab[i]) {
			tab[i] = p;
			return;
		}
	/* More live objects than any test needs means a helper bug. */
	fprintf(stderr, "helpers: registry full\n");
	abort();
}

static void reg_del(void **tab, void *p)
{
	for (size_t i = 0; i < T_REG_MAX; i++)
		if (tab[i] == p) {
			tab[i] = NULL;
			return;
		}
}

static void reg_fd_set(int fd, bool on)
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
		l.nlb += reg_nlb[i] != NULL;
		l.srv += reg_srv[i] != NULL;
		l.file += reg_file[i] != NULL;
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
	for (size_t i = 0; i < T_REG_MAX; i++) {
		if (reg_nlb[i]) {
			/* Once is enough when a failed assertion showed it. */
			if (!reg_nlb[i]->dumped && !test_failed)
				t_nlb_dump_log(reg_nlb[i], "not freed by the test");
			t_nlb_free(reg_nlb[i]);
		}
		if (reg_srv[i])
			t_server_free(reg_srv[i]);
		if (reg_file[i])
			t_file_remove(reg_file[i]);
	}
	for (size_t fd = 0; fd < reg_fd_cap; fd++)
		if (reg_fd[fd])
			t_close((int)fd);
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

int64_t t_now_ms(void)
{
	return (int64_t)nlb_clock_ms();
}

void t_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Milliseconds left until deadline, never negative. */
static int left_ms(int64_t deadline)
{
	int64_t l = deadline - t_now_ms();
	return l < 0 ? 0 : (int)l;
}

/* ---- ports and files --------------------------------------------------- */

static uint16_t ports_given[256];
static size_t n_ports_given;

static bool port_bindable(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	struct sockaddr_in a = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	/* No SO_REUSEADDR: a port with TIME_WAIT leftovers is not "free". */
	bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
		  listen(fd, 1) == 0;
	close(fd);
	return ok;
}

static uint16_t port_from_kernel(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	struct sockaddr_in a = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	socklen_t len = sizeof a;
	uint16_t port = 0;
	if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* bind(port 0) hands out ports from the ephemeral range, the same range
 * every outgoing connect() draws its source port from.  With tests running
 * in parallel and thousands of connections in flight, a port freed here
 * can be taken as a source port before nlb binds it.  So pick at random
 * below that range when there is room, and fall back to the kernel. */
uint16_t t_free_port(void)
{
	static uint64_t rnd;
	unsigned lo = 32768, hi = 60999;
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re");
	if (f) {
		if (fscanf(f, "%u %u", &lo, &hi) != 2) {
			lo = 32768;
			hi = 60999;
		}
		fclose(f);
	}
	if (!rnd) {
		rnd = ((uint64_t)getpid() << 32) ^ nlb_clock_ns() ^ 1;
	}
	unsigned from = 0, to = 0;
	if (lo > 12000) {
		from = 10000;
		to = lo - 1;
	} else if (hi < 63000) {
		from = hi + 1;
		to = 65535;
	}
	for (int tries = 0; from && tries < 1000; tries++) {
		rnd ^= rnd << 13;
		rnd ^= rnd >> 7;
		rnd ^= rnd << 17;
		uint16_t p = (uint16_t)(from + rnd % (to - from + 1));
		bool seen = false;
		for (size_t i = 0; i < n_ports_given; i++)
			seen |= ports_given[i] == p;
		if (seen || !port_bindable(p))
			continue;
		if (n_ports_given < sizeof ports_given / sizeof ports_given[0])
			ports_given[n_ports_given++] = p;
		return p;
	}
	return port_from_kernel();
}

static char *write_temp(const char *prefix, const char *suffix,
			const char *text, size_t len)
{
	char *path = NULL;
	if (asprintf(&path, "/tmp/%sXXXXXX%s", prefix, suffix) < 0)
		return NULL;
	int fd = mkostemps(path, (int)strlen(suffix), O_CLOEXEC);
	if (fd < 0) {
		free(path);
		return NULL;
	}
	size_t off = 0;
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n <= 0) {
			close(fd);
			unlink(path);
			free(path);
			return NULL;
		}
		off += (size_t)n;
	}
	close(fd);
	reg_add((void **)reg_file, path);
	return path;
}

/* Whether text sets "user" itself: a line that starts with it. */
static bool sets_user(const char *text)
{
	for (const char *l = text; l; l = strchr(l, '\n')) {
		l += *l == '\n';
		l += strspn(l, " \t");
		if (strncmp(l, "user", 4) == 0 && strchr(" \t=:", l[4]))
			return true;
	}
	return false;
}

char *t_config_text(const char *text)
{
	char *t = NULL;
	/* On the first line, not a line of its own, so the FILE:LINE of an
	 * error stays where the test wrote it. */
	if (strstr(text, "allow_root") || sets_user(text))
		return strdup(text);
	return asprintf(&t, "allow_root = true; %s", text) < 0 ? NULL : t;
}

/* The formatted text (through t_config_text unless exact) in a temp file. */
static char *write_config_v(bool exact, const char *fmt, va_list ap)
{
	char *text = NULL;
	if (vasprintf(&text, fmt, ap) < 0)
		return NULL;
	if (!exact) {
		char *t = t_config_text(text);
		free(text);
		if (!(text = t))
			return NULL;
	}
	char *path = write_temp("nlb-test-", ".conf", text, strlen(text));
	free(text);
	return path;
}

char *t_write_config(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *path = write_config_v(false, fmt, ap);
	va_end(ap);
	return path;
}

char *t_write_config_exact(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *path = write_config_v(true, fmt, ap);
	va_end(ap);
	return path;
}

void t_file_remove(char *path)
{
	if (!path)
		return;
	reg_del((void **)reg_file, path);
	unlink(path);
	free(path);
}

char *t_file_read(const char *path, size_t *lenp)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (!buf)
			break;
		if (len + 1 >= cap) {
			char *p = realloc(buf, cap * 2);
			if (!p) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = p;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (buf) {
		buf[len] = '\0';
		if (lenp)
			*lenp = len;
	}
	return buf;
}

void t_proxy_conf_defaults(struct t_proxy_conf *c)
{
	memset(c, 0, sizeof *c);
	c->workers = 1;
	c->log_level = "info";
	c->shutdown_timeout_ms = 10000;
	c->forwarding = "auto";
	c->idle_timeout_ms = 350000;
	c->max_connections = 0;
	c->connect_timeout_ms = 2000;
	c->connect_retries = 2;
	c->algorithm = "round_robin";
	for (size_t i = 0; i < T_MAX_TARGETS; i++)
		c->weights[i] = 1;
}

char *t_write_proxy_config(const struct t_proxy_conf *c)
{
	char targets[T_MAX_TARGETS * 64] = "";
	size_t off = 0;
	for (size_t i = 0; i < c->n_targets && i < T_MAX_TARGETS; i++)
		off += (size_t)snprintf(targets + off, sizeof targets - off,
			"%s{ address = \"127.0.0.1:%u\"; weight = %u; }",
			i ? ", " : "", c->targets[i], c->weights[i]);
	char hash_fields[64] = "";
	if (c->hash_fields)
		snprintf(hash_fields, sizeof hash_fields, " hash_fields = \"%s\";",
			 c->hash_fields);
	char admin[256] = "";
	if (c->admin_socket)
		snprintf(admin, sizeof admin, "admin = { socket = \"%s\"; };\n", c->admin_socket);
	return t_write_config(
		"%s"
		"workers = %u;\n"
		"log_level = \"%s\";\n"
		"shutdown_timeout_ms = %" PRIu64 ";\n"
		"forwarding = \"%s\";\n"
		"listeners = (\n"
		"  { name = \"web\"; protocol = \"tcp\"; address = \"127.0.0.1:%u\";"
		" target_group = \"web\"; idle_timeout_ms = %" PRIu64 ";"
		" max_connections = %u;%s%s }\n"
		");\n"
		"target_groups = (\n"
		"  { name = \"web\"; algorithm = \"%s\";%s"
		" connect_timeout_ms = %u; connect_retries = %u;%s%s\n"
		"    targets = ( %s ); }\n"
		");\n",
		admin, c->workers, c->log_level, c->shutdown_timeout_ms, c->forwarding,
		c->listen_port, c->idle_timeout_ms, c->max_connections,
		c->listener_extra ? " " : "", c->listener_extra ? c->listener_extra : "",
		c->algorithm ? c->algorithm : "round_robin", hash_fields,
		c->connect_timeout_ms, c->connect_retries,
		c->group_extra ? " " : "", c->group_extra ? c->group_extra : "",
		targets);
}

/* ---- the nlb process --------------------------------------------------- */

const char *t_nlb_bin(void)
{
	const char *b = getenv("NLB_BIN");
	return b && *b ? b : NULL;
}

struct t_nlb *t_spawn(const char *const argv[], const struct t_spawn_opts *o)
{
	struct t_nlb *h = calloc(1, sizeof *h);
	if (!h)
		return NULL;
	snprintf(h->log_path, sizeof h->log_path, "/tmp/nlb-test-log-XXXXXX");
	int logfd = mkostemp(h->log_path, O_CLOEXEC);
	if (logfd < 0) {
		free(h);
		return NULL;
	}
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0) {
		int e = errno;
		close(logfd);
		unlink(h->log_path);
		free(h);
		errno = e;
		return NULL;
	}
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		/* Only async-signal-safe calls from here to exec: the parent
		 * has server threads that may hold locks. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		if (o && (o->nofile_soft > 0 || o->nofile_hard > 0)) {
			struct rlimit rl;
			if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
				if (o->nofile_hard > 0)
					rl.rlim_max = (rlim_t)o->nofile_hard;
				if (o->nofile_soft > 0)
					rl.rlim_cur = (rlim_t)o->nofile_soft;
				if (rl.rlim_cur > rl.rlim_max)
					rl.rlim_cur = rl.rlim_max;
				setrlimit(RLIMIT_NOFILE, &rl);
			}
		}
		dup2(devnull, 0);
		dup2(logfd, 1);
		dup2(logfd, 2);
		/* The test's own sockets (servers, held ports) must not live
		 * on in the daemon. */
		close_range(3, ~0U, 0);
		signal(SIGPIPE, SIG_DFL);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	int e = errno;
	close(logfd);
	close(devnull);
	if (pid < 0) {
		unlink(h->log_path);
		free(h);
		errno = e;
		return NULL;
	}
	h->pid = pid;
	reg_add((void **)reg_nlb, h);
	return h;
}

struct t_nlb *t_nlb_start(const char *config_path)
{
	const char *bin = t_nlb_bin();
	if (!bin) {
		errno = ENOENT;
		return NULL;
	}
	const char *argv[] = { bin, "-c", config_path, NULL };
	return t_spawn(argv, NULL);
}

struct t_nlb *t_nlb_start_opts(const char *config_path, const struct t_spawn_opts *o)
{
	const char *bin = t_nlb_bin();
	if (!bin) {
		errno = ENOENT;
		return NULL;
	}
	const char *argv[] = { bin, "-c", config_path, NULL };
	return t_spawn(argv, o);
}

static int exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -EINVAL;
}

int t_nlb_wait(struct t_nlb *h, int timeout_ms)
{
	int64_t deadline = t_now_ms() + timeout_ms;
	while (!h->exited) {
		int st;
		pid_t r = waitpid(h->pid, &st, WNOHANG);
		if (r == h->pid) {
			h->exited = true;
			h->status = st;
			break;
		}
		if (r < 0 && errno != EINTR)
			return -errno;
		if (t_now_ms() >= deadline)
			return -ETIMEDOUT;
		t_sleep_ms(5);
	}
	return exit_code(h->status);
}

int t_nlb_stop(struct t_nlb *h, int timeout_ms)
{
	if (h->exited)
		return exit_code(h->status);
	kill(h->pid, SIGTERM);
	int rc = t_nlb_wait(h, timeout_ms);
	if (rc == -ETIMEDOUT) {
		kill(h->pid, SIGKILL);
		t_nlb_wait(h, 5000);
		return -ETIMEDOUT;
	}
	return rc;
}

void t_nlb_free(struct t_nlb *h)
{
	if (!h)
		return;
	if (!h->exited) {
		kill(h->pid, SIGKILL);
		int st;
		while (waitpid(h->pid, &st, 0) < 0 && errno == EINTR)
			;
		h->exited = true;
		h->status = st;
	}
	reg_del((void **)reg_nlb, h);
	if (getenv("T_KEEP_LOGS"))
		fprintf(stderr, "nlb log kept: %s\n", h->log_path);
	else
		unlink(h->log_path);
	free(h);
}

char *t_nlb_log(struct t_nlb *h)
{
	return t_file_read(h->log_path, NULL);
}

bool t_nlb_log_contains(struct t_nlb *h, const char *needle)
{
	char *log = t_nlb_log(h);
	bool found = log && strstr(log, needle);
	free(log);
	return found;
}

int t_nlb_log_count(struct t_nlb *h, const char *needle)
{
	char *log = t_nlb_log(h);
	int n = 0;
	for (const char *at = log; at && (at = strstr(at, needle)); at += strlen(needle))
		n++;
	free(log);
	return n;
}

int t_nlb_log_wait(struct t_nlb *h, const char *needle, int timeout_ms)
{
	int64_t deadline = t_now_ms() + timeout_ms;
	for (;;) {
		if (t_nlb_log_contains(h, needle))
			return 0;
		if (t_now_ms() >= deadline)
			return -ETIMEDOUT;
		t_sleep_ms(10);
	}
}

void t_nlb_dump_log(struct t_nlb *h, const char *why)
{
	enum { TAIL_LINES = 60 };
	if (!h)
		return;
	h->dumped = true;
	char *log = t_nlb_log(h);
	fprintf(stderr, "---- nlb pid %d output (%s), last %d lines ----\n",
		(int)h->pid, why, TAIL_LINES);
	if (log) {
		size_t len = strlen(log);
		const char *start = log + len;
		int lines = 0;
		while (start > log && lines <= TAIL_LINES)
			if (*--start == '\n' && start + 1 != log + len)
				lines++;
		if (lines > TAIL_LINES)
			start++;
		fputs(start, stderr);
		if (len && log[len - 1] != '\n')
			fputc('\n', stderr);
	}
	fprintf(stderr, "---- end of nlb output ----\n");
	free(log);
}

int64_t t_nlb_stat(struct t_nlb *h, const char *key)
{
	static const char marker[] = "msg=\"stats ";
	char *log = t_nlb_log(h);
	if (!log)
		return -1;
	char *line = NULL;
	for (char *p = log; (p = strstr(p, marker)); p++)
		line = p + sizeof marker - 1;
	int64_t val = -1;
	size_t klen = strlen(key);
	/* Tokens are separated by spaces; the first or last may carry the
	 * msg's quote. */
	for (char *p = line; p && *p && *p != '\n';) {
		while (*p == ' ' || *p == '"')
			p++;
		char *tok = p;
		while (*p && *p != ' ' && *p != '\n')
			p++;
		if ((size_t)(p - tok) > klen && !strncmp(tok, key, klen) &&
		    tok[klen] == '=') {
			char *end;
			long long v = strtoll(tok + klen + 1, &end, 10);
			if (end != tok + klen + 1)
				val = v;
			break;
		}
	}
	free(log);
	return val;
}

int t_run(const char *const argv[], int timeout_ms, char **output)
{
	if (output)
		*output = NULL;
	struct t_nlb *h = t_spawn(argv, NULL);
	if (!h)
		return -errno;
	int rc = t_nlb_wait(h, timeout_ms);
	if (rc == -ETIMEDOUT) {
		kill(h->pid, SIGKILL);
		t_nlb_wait(h, 5000);
	}
	if (output)
		*output = t_nlb_log(h);
	t_nlb_free(h);
	return rc;
}

static bool port_listening_in(const char *path, uint16_t port)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	char line[512];
	bool found = false;
	/* "  sl  local_address rem_address   st ..."; addresses are
	 * HEXADDR:HEXPORT, state 0A is LISTEN. */
	if (fgets(line, sizeof line, f)) {
		while (!found && fgets(line, sizeof line, f)) {
			char local[128], remote[128];
			unsigned st;
			if (sscanf(line, " %*s %127s %127s %x", local, remote, &st) != 3)
				continue;
			char *colon = strrchr(local, ':');
			if (colon && st == 0x0A &&
			    strtoul(colon + 1, NULL, 16) == port)
				found = true;
		}
	}
	fclose(f);
	return found;
}

int t_nlb_wait_listening(struct t_nlb *h, uint16_t port, int timeout_ms)
{
	int64_t deadline = t_now_ms() + timeout_ms;
	for (;;) {
		if (port_listening_in("/proc/net/tcp", port) ||
		    port_listening_in("/proc/net/tcp6", port))
			return 0;
		if (h && t_nlb_wait(h, 0) != -ETIMEDOUT)
			return -ECHILD;
		if (t_now_ms() >= deadline)
			return -ETIMEDOUT;
		t_sleep_ms(10);
	}
}

/* ---- /proc ------------------------------------------------------------- */

static long proc_status_field(pid_t pid, const char *field)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	long val = -ENOENT;
	size_t flen = strlen(field);
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, field, flen) && line[flen] == ':') {
			val = strtol(line + flen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return val;
}

long t_proc_threads(pid_t pid)
{
	return proc_status_field(pid, "Threads");
}

/* From smaps_rollup, which walks the page tables: VmRSS in status comes
 * from per-CPU counters that can lag by hundreds of KiB on this kernel. */
long t_proc_rss_kb(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return proc_status_field(pid, "VmRSS");
	long kb = -1;
	while (fgets(line, sizeof line, f)) {
		if (sscanf(line, "Rss: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

long t_proc_fds(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return -errno;
	long n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

int t_proc_nofile(pid_t pid, long *soft, long *hard)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/limits", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	int rc = -ENOENT;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, "Max open files", 14)) {
			if (sscanf(line + 14, " %ld %ld", soft, hard) == 2)
				rc = 0;
			break;
		}
	fclose(f);
	return rc;
}

/* ---- data patterns and checksums --------------------------------------- */

uint64_t t_sum_update(uint64_t sum, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	for (size_t i = 0; i < len; i++) {
		sum ^= p[i];
		sum *= 0x100000001b3ULL;
	}
	return sum;
}

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

void t_pattern_fill(void *buf, uint64_t off, size_t len, uint64_t seed)
{
	unsigned char *p = buf;
	uint64_t key = splitmix64(seed);
	size_t i = 0;
	while (i < len) {
		uint64_t pos = off + i;
		uint64_t word = splitmix64(key ^ (pos >> 3));
		unsigned b = (unsigned)(pos & 7);
		if (b == 0 && len - i >= 8) {
			memcpy(p + i, &word, 8);	/* little-endian bytes */
			i += 8;
			continue;
		}
		p[i++] = (unsigned char)(word >> (8 * b));
	}
}

uint64_t t_pattern_sum(uint64_t seed, uint64_t len)
{
	static char buf[T_CHUNK];
	uint64_t sum = T_SUM_INIT;
	for (uint64_t off = 0; off < len; off += T_CHUNK) {
		size_t n = len - off < T_CHUNK ? (size_t)(len - off) : T_CHUNK;
		t_pattern_fill(buf, off, n, seed);
		sum = t_sum_update(sum, buf, n);
	}
	return sum;
}

/* ---- in-process target servers ----------------------------------------- */

/* One accepted connection, owned by the server thread while it runs. */
struct t_sconn {
	struct t_sconn *prev, *next;
	int fd;
	uint32_t events;		/* current epoll interest */
	uint64_t bytes_in, bytes_out, sum_in;
	char *pend;			/* echo bytes the peer has not taken */
	size_t pend_len, pend_off;
	uint64_t src_off;		/* sink/source progress */
	bool src_done, eof;
	char req[256];			/* T_SRV_HTTP: the request's first bytes */
	size_t req_len;
	uint32_t tail;			/* the last 4 bytes read, for "\r\n\r\n" */
};

struct t_server {
	struct t_server_opts o;
	int lfd, epfd, wakefd;
	pthread_t thread;
	bool running;
	struct t_sconn *conns;
	char *buf;			/* server thread's I/O buffer */
	char tag[16];
	size_t tag_len;
	atomic_uint accepted, open, closed;
	pthread_mutex_t lock;		/* guards results */
	struct t_conn_result results[T_SERVER_RESULTS];
	atomic_uint http_status;	/* T_SRV_HTTP's answer now */
	unsigned http_answered;		/* guarded by lock, as is: */
	char http_last[256];		/* the last request's head */
};

/* epoll data.ptr values that are not connections. */
static char listen_mark, wake_mark;

static void sconn_end(struct t_server *s, struct t_sconn *c, enum t_end end,
		      int err)
{
	if (end == T_END_SERVER_RESET) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };
		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	}
	/* epoll drops a socket only when every descriptor of it is closed;
	 * a child being forked may hold a copy, so remove it explicitly. */
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	struct t_conn_result r = {
		.end = end, .err = err, .bytes_in = c->bytes_in,
		.bytes_out = c->bytes_out, .sum_in = c->sum_in,
	};
	pthread_mutex_lock(&s->lock);
	unsigned i = atomic_load(&s->closed);
	if (i < T_SERVER_RESULTS)
		s->results[i] = r;
	/* Published under the lock, after the result, so a reader that sees
	 * closed > i also sees results[i]. */
	atomic_fetch_add(&s->closed, 1);
	pthread_mutex_unlock(&s->lock);
	atomic_fetch_sub(&s->open, 1);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c->pend);
	free(c);
}

static void sconn_end_errno(struct t_server *s, struct t_sconn *c, int err)
{
	sconn_end(s, c, err == ECONNRESET ? T_END_RESET : T_END_ERROR, err);
}

static void sconn_want(struct t_server *s, struct t_sconn *c, uint32_t ev)
{
	if (c->events == ev)
		return;
	struct epoll_event e = { .events = ev, .data.ptr = c };
	epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &e);
	c->events = ev;
}

/* Sends what it can; returns bytes sent, or -errno (not -EAGAIN). */
static ssize_t sconn_send(struct t_sconn *c, const void *buf, size_t len)
{
	size_t off = 0;
	while (off < len) {
		ssize_t n = send(c->fd, (const char *)buf + off, len - off,
				 MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return -errno;
		}
		off += (size_t)n;
	}
	c->bytes_out += off;
	return (ssize_t)off;
}

/* Returns false if the connection ended. */
static bool sconn_echo_flush(struct t_server *s, struct t_sconn *c)
{
	ssize_t n = sconn_send(c, c->pend + c->pend_off, c->pend_len - c->pend_off);
	if (n < 0) {
		sconn_end_errno(s, c, (int)-n);
		return false;
	}
	c->pend_off += (size_t)n;
	if (c->pend_off == c->pend_len) {
		c->pend_off = c->pend_len = 0;
		sconn_want(s, c, EPOLLIN);
	} else {
		/* Stop reading until the peer takes what it sent: that is
		 * the backpressure a real echo server applies. */
		sconn_want(s, c, EPOLLOUT);
	}
	return true;
}

/* Returns false if the connection ended. */
static bool sconn_source(struct t_server *s, struct t_sconn *c)
{
	while (c->src_off < s->o.source_bytes) {
		uint64_t left = s->o.source_bytes - c->src_off;
		size_t len = left < T_CHUNK ? (size_t)left : T_CHUNK;
		t_pattern_fill(s->buf, c->src_off, len, s->o.source_seed);
		ssize_t n = sconn_send(c, s->buf, len);
		if (n < 0) {
			sconn_end_errno(s, c, (int)-n);
			return false;
		}
		c->src_off += (uint64_t)n;
		if ((size_t)n < len)
			return true;	/* EAGAIN: keep EPOLLOUT */
	}
	if (!c->src_done) {
		c->src_done = true;
		shutdown(c->fd, SHUT_WR);
	}
	if (c->eof) {
		sconn_end(s, c, T_END_EOF, 0);
		return false;
	}
	sconn_want(s, c, EPOLLIN);
	return true;
}

/* T_SRV_HTTP: looks for the end of the request head in the n bytes just
 * read into s->buf; once there, answers and ends the connection.  Returns
 * true if the connection ended. */
static bool sconn_http(struct t_server *s, struct t_sconn *c, size_t n)
{
	bool done = false;
	for (size_t i = 0; i < n && !done; i++) {
		unsigned char b = (unsigned char)s->buf[i];
		if (c->req_len < sizeof c->req - 1)
			c->req[c->req_len++] = (char)b;
		c->tail = c->tail << 8 | b;
		done = c->tail == 0x0d0a0d0a;	/* "\r\n\r\n" */
	}
	if (!done)
		return false;
	c->req[c->req_len] = '\0';
	char reply[96];
	int len = snprintf(reply, sizeof reply,
			   "HTTP/1.1 %u X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
			   atomic_load(&s->http_status));
	ssize_t w = sconn_send(c, reply, (size_t)len);
	pthread_mutex_lock(&s->lock);
	s->http_answered++;
	memcpy(s->http_last, c->req, c->req_len + 1);
	pthread_mutex_unlock(&s->lock);
	if (w < 0)
		sconn_end_errno(s, c, (int)-w);
	else
		sconn_end(s, c, T_END_EOF, 0);
	return true;
}

static void sconn_readable(struct t_server *s, struct t_sconn *c)
{
	/* A few reads per wakeup, so one busy connection cannot starve the
	 * thousands of others. */
	for (int round = 0; round < 4; round++) {
		ssize_t n = recv(c->fd, s->buf, T_CHUNK, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				sconn_end_errno(s, c, errno);
			return;
		}
		if (n == 0) {
			c->eof = true;
			if (s->o.mode == T_SRV_EOF_ANSWER) {
				char reply[96];
				int len = snprintf(reply, sizeof reply,
					"bytes=%" PRIu64 " sum=%016" PRIx64 "\n",
					c->bytes_in, c->sum_in);
				ssize_t w = sconn_send(c, reply, (size_t)len);
				if (w < 0) {
					sconn_end_errno(s, c, (int)-w);
					return;
				}
			}
			if (s->o.mode == T_SRV_SINK_SOURCE && !c->src_done) {
				sconn_want(s, c, EPOLLOUT);
				return;
			}
			sconn_end(s, c, T_END_EOF, 0);
			return;
		}
		c->bytes_in += (uint64_t)n;
		c->sum_in = t_sum_update(c->sum_in, s->buf, (size_t)n);
		switch (s->o.mode) {
		case T_SRV_ECHO: {
			ssize_t w = sconn_send(c, s->buf, (size_t)n);
			if (w < 0) {
				sconn_end_errno(s, c, (int)-w);
				return;
			}
			if (w < n) {
				c->pend = realloc(c->pend, (size_t)(n - w));
				if (!c->pend)
					abort();
				memcpy(c->pend, s->buf + w, (size_t)(n - w));
				c->pend_len = (size_t)(n - w);
				c->pend_off = 0;
				sconn_want(s, c, EPOLLOUT);
				return;
			}
			break;
		}
		case T_SRV_TAG: {
			ssize_t w = sconn_send(c, s->tag, s->tag_len);
			if (w < 0) {
				sconn_end_errno(s, c, (int)-w);
				return;
			}
			break;
		}
		case T_SRV_RESET:
			sconn_end(s, c, T_END_SERVER_RESET, 0);
			return;
		case T_SRV_HTTP:
			if (sconn_http(s, c, (size_t)n))
				return;
			break;
		case T_SRV_EOF_ANSWER:
		case T_SRV_SINK_SOURCE:
		case T_SRV_SILENT:
			break;
		}
	}
}

static void sconn_event(struct t_server *s, struct t_sconn *c, uint32_t ev)
{
	if (ev & EPOLLERR) {
		int err = 0;
		socklen_t len = sizeof err;
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		sconn_end_errno(s, c, err ? err : EIO);
		return;
	}
	if (s->o.mode == T_SRV_SILENT) {
		/* Never reads: a FIN or reset from the peer is all it acts on. */
		if (ev & (EPOLLRDHUP | EPOLLHUP))
			sconn_end(s, c, T_END_EOF, 0);
		return;
	}
	if (ev & EPOLLOUT) {
		if (s->o.mode == T_SRV_ECHO && c->pend_len) {
			if (!sconn_echo_flush(s, c))
				return;
		} else if (s->o.mode == T_SRV_SINK_SOURCE && !c->src_done) {
			if (!sconn_source(s, c))
				return;
		}
	}
	if ((ev & (EPOLLIN | EPOLLHUP)) && !(s->o.mode == T_SRV_ECHO && c->pend_len))
		sconn_readable(s, c);
	else if ((ev & EPOLLHUP) && !(ev & EPOLLOUT))
		sconn_end(s, c, T_END_ERROR, EPIPE);
}

static void server_accept(struct t_server *s)
{
	for (int i = 0; i < 64; i++) {
		int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR)
				fprintf(stderr, "t_server %u: accept: %s\n",
					s->o.port, strerror(errno));
			return;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		struct t_sconn *c = calloc(1, sizeof *c);
		if (!c)
			abort();
		c->fd = fd;
		c->sum_in = T_SUM_INIT;
		switch (s->o.mode) {
		case T_SRV_SILENT:
			c->events = EPOLLRDHUP;
			break;
		case T_SRV_SINK_SOURCE:
			c->events = s->o.source_bytes ? EPOLLIN | EPOLLOUT : EPOLLIN;
			c->src_done = !s->o.source_bytes;
			break;
		default:
			c->events = EPOLLIN;
			break;
		}
		struct epoll_event e = { .events = c->events, .data.ptr = c };
		if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &e) < 0)
			abort();
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
		atomic_fetch_add(&s->open, 1);
		atomic_fetch_add(&s->accepted, 1);
	}
}

static void *server_main(void *arg)
{
	struct t_server *s = arg;
	struct epoll_event evs[256];
	for (;;) {
		int n = epoll_wait(s->epfd, evs, 256, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;
			if (p == &wake_mark)
				return NULL;
			if (p == &listen_mark)
				server_accept(s);
		}
		/* Connections after the listener: an accepted connection may
		 * be freed by its own event in this batch, never by another. */
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;
			if (p != &listen_mark)
				sconn_event(s, p, evs[i].events);
		}
	}
	return NULL;
}

static int server_listen(struct t_server *s)
{
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return -errno;
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = {
		.sin_family = AF_INET,
		.sin_port = htons(s->o.port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	if (bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 ||
	    listen(lfd, s->o.backlog) < 0) {
		int e = errno;
		close(lfd);
		return -e;
	}
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	int wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (epfd < 0 || wakefd < 0) {
		int e = errno;
		close(lfd);
		if (epfd >= 0)
			close(epfd);
		if (wakefd >= 0)
			close(wakefd);
		return -e;
	}
	struct epoll_event le = { .events = EPOLLIN, .data.ptr = &listen_mark };
	struct epoll_event we = { .events = EPOLLIN, .data.ptr = &wake_mark };
	epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &le);
	epoll_ctl(epfd, EPOLL_CTL_ADD, wakefd, &we);
	s->lfd = lfd;
	s->epfd = epfd;
	s->wakefd = wakefd;
	int e = pthread_create(&s->thread, NULL, server_main, s);
	if (e) {
		close(lfd);
		close(epfd);
		close(wakefd);
		return -e;
	}
	s->running = true;
	return 0;
}

struct t_server *t_server_start_opts(const struct t_server_opts *o)
{
	struct t_server *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->o = *o;
	if (!s->o.port)
		s->o.port = t_free_port();
	if (!s->o.backlog)
		s->o.backlog = 4096;
	s->tag_len = (size_t)snprintf(s->tag, sizeof s->tag, "%u\n",
				      s->o.tag ? s->o.tag : s->o.port);
	atomic_init(&s->http_status, s->o.http_status ? s->o.http_status : 200);
	s->buf = malloc(T_CHUNK);
	pthread_mutex_init(&s->lock, NULL);
	int rc = s->buf ? server_listen(s) : -ENOMEM;
	if (rc < 0) {
		pthread_mutex_destroy(&s->lock);
		free(s->buf);
		free(s);
		errno = -rc;
		return NULL;
	}
	reg_add((void **)reg_srv, s);
	return s;
}

struct t_server *t_server_start(enum t_srv_mode mode, uint16_t port)
{
	struct t_server_opts o = { .mode = mode, .port = port };
	return t_server_start_opts(&o);
}

void t_server_stop(struct t_server *s)
{
	if (!s || !s->running)
		return;
	uint64_t one = 1;
	if (write(s->wakefd, &one, sizeof one) != sizeof one)
		abort();
	pthread_join(s->thread, NULL);
	s->running = false;
	while (s->conns)
		sconn_end(s, s->conns, T_END_STOPPED, 0);
	close(s->lfd);
	close(s->epfd);
	close(s->wakefd);
}

int t_server_restart(struct t_server *s)
{
	if (s->running)
		return -EBUSY;
	return server_listen(s);
}

void t_server_free(struct t_server *s)
{
	if (!s)
		return;
	t_server_stop(s);
	reg_del((void **)reg_srv, s);
	pthread_mutex_destroy(&s->lock);
	free(s->buf);
	free(s);
}

uint16_t t_server_port(const struct t_server *s)
{
	return s->o.port;
}

unsigned t_server_accepted(struct t_server *s)
{
	return atomic_load(&s->accepted);
}

unsigned t_server_open(struct t_server *s)
{
	return atomic_load(&s->open);
}

unsigned t_server_closed(struct t_server *s)
{
	return atomic_load(&s->closed);
}

int t_server_result(struct t_server *s, unsigned i, struct t_conn_result *r)
{
	int rc = -ENOENT;
	pthread_mutex_lock(&s->lock);
	if (i < atomic_load(&s->closed) && i < T_SERVER_RESULTS) {
		*r = s->results[i];
		rc = 0;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static int wait_counter(atomic_uint *ctr, unsigned n, int timeout_ms)
{
	int64_t deadline = t_now_ms() + timeout_ms;
	while (atomic_load(ctr) < n) {
		if (t_now_ms() >= deadline)
			return -ETIMEDOUT;
		t_sleep_ms(2);
	}
	return 0;
}

int t_server_wait_closed(struct t_server *s, unsigned n, int timeout_ms)
{
	return wait_counter(&s->closed, n, timeout_ms);
}

int t_server_wait_accepted(struct t_server *s, unsigned n, int timeout_ms)
{
	return wait_counter(&s->accepted, n, timeout_ms);
}

/* ---- a target that never completes a connect --------------------------- */

/* 0 if a non-blocking connect to port completes within ms, -EINPROGRESS if
 * it is still pending, -errno if it failed; *fdp gets the socket. */
static int connect_within(uint16_t port, int ms, int *fdp)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	*fdp = fd;
	if (fd < 0)
		return -errno;
	struct sockaddr_in a = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return -errno;
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	if (poll(&p, 1, ms) == 0)
		return -EINPROGRESS;
	int err = 0;
	socklen_t len = sizeof err;
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
	return -err;
}

struct t_blackhole *t_blackhole_start(void)
{
	struct t_blackhole *b = calloc(1, sizeof *b);
	if (!b)
		return NULL;
	b->port = t_free_port();
	b->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {
		.sin_family = AF_INET,
		.sin_port = htons(b->port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	/* Backlog 0 still admits one connection into the accept queue;
	 * once it is there the queue is full and SYNs are dropped. */
	if (b->lfd < 0 || bind(b->lfd, (struct sockaddr *)&a, sizeof a) < 0 ||
	    listen(b->lfd, 0) < 0)
		goto fail;
	for (;;) {
		int fd, rc = connect_within(b->port, 300, &fd);
		if (rc == -EINPROGRESS) {
			close(fd);	/* the proof: this connect hung */
			return b;
		}
		if (rc < 0 || b->n_fillers == (int)(sizeof b->fillers / sizeof b->fillers[0])) {
			if (fd >= 0)
				close(fd);
			goto fail;
		}
		b->fillers[b->n_fillers++] = fd;
	}
fail:
	t_blackhole_free(b);
	return NULL;
}

void t_blackhole_free(struct t_blackhole *b)
{
	if (!b)
		return;
	for (int i = 0; i < b->n_fillers; i++)
		close(b->fillers[i]);
	if (b->lfd >= 0)
		close(b->lfd);
	free(b);
}

/* ---- client side ------------------------------------------------------- */

/* Connects fd to 127.0.0.1:port (retrying on EINTR) with TCP_NODELAY;
 * closes fd on failure.  Returns fd or -errno. */
/* Connects fd (of family AF_INET or AF_INET6) to the loopback address
 * of its family at port; closes it on failure. */
static int connect_loopback(int fd, int family, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		a->sin6_addr = in6addr_loopback;
		len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*a);
	}
	int rc;
	do
		rc = connect(fd, (struct sockaddr *)&ss, len);
	while (rc < 0 && errno == EINTR);
	if (rc < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

static int connect_family(int family, uint16_t port)
{
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	return connect_loopback(fd, family, port);
}

int t_connect_raw(uint16_t port)
{
	return connect_family(AF_INET, port);
}

int t_connect(uint16_t port)
{
	int fd = t_connect_raw(port);
	if (fd >= 0)
		reg_fd_set(fd, true);
	return fd;
}

int t_connect6(uint16_t port)
{
	int fd = connect_family(AF_INET6, port);
	if (fd >= 0)
		reg_fd_set(fd, true);
	return fd;
}

int t_admin_stat(const char *sock_path, const char *key, int64_t *value)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(sock_path) >= sizeof sa.sun_path)
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	static const char cmd[] = "show stats\n";
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    t_write_all(fd, cmd, sizeof cmd - 1) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	/* The reply: "name=value" lines, then "ok". */
	char buf[8192];
	size_t len = 0;
	int ret = -EPROTO;
	while (len < sizeof buf - 1) {
		ssize_t n = t_read_full(fd, buf + len, 1, 5000);
		if (n <= 0) {
			ret = n < 0 ? (int)n : -EPIPE;
			break;
		}
		len++;
		buf[len] = '\0';
		if (len >= 3 && strcmp(buf + len - 3, "ok\n") == 0 &&
		    (len == 3 || buf[len - 4] == '\n')) {
			ret = -ENOENT;
			break;
		}
	}
	close(fd);
	if (ret != -ENOENT)
		return ret;
	size_t klen = strlen(key);
	for (const char *line = buf; *line; line = strchr(line, '\n') + 1) {
		if (strncmp(line, key, klen) == 0 && line[klen] == '=') {
			*value = strtoll(line + klen + 1, NULL, 10);
			return 0;
		}
		if (!strchr(line, '\n'))
			break;
	}
	return -ENOENT;
}

int t_admin_wait_stat(const char *sock_path, const char *key, int64_t want, int timeout_ms)
{
	int64_t deadline = t_now_ms() + timeout_ms;
	int ret;
	for (;;) {
		int64_t v;
		ret = t_admin_stat(sock_path, key, &v);
		if (ret == 0 && v == want)
			return 0;
		if (t_now_ms() >= deadline)
			return ret < 0 ? ret : -ETIMEDOUT;
		t_sleep_ms(5);
	}
}

void t_close(int fd)
{
	if (fd < 0)
		return;
	reg_fd_set(fd, false);
	close(fd);
}

void t_close_reset(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	t_close(fd);
}

int t_write_all(int fd, const void *buf, size_t len)
{
	size_t off = 0;
	while (off < len) {
		ssize_t n = send(fd, (const char *)buf + off, len - off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		off += (size_t)n;
	}
	return 0;
}

ssize_t t_read_full(int fd, void *buf, size_t len, int timeout_ms)
{
	int64_t deadline = t_now_ms() + timeout_ms;
	size_t off = 0;
	while (off < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int pr = poll(&p, 1, left_ms(deadline));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			return -errno;
		if (pr == 0)
			return -ETIMEDOUT;
		ssize_t n = recv(fd, (char *)buf + off, len - off, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	return (ssize_t)off;
}

int t_round_trip(int fd, const void *msg, size_t len, int timeout_ms)
{
	int64_t deadline = t_now_ms() + timeout_ms;
	char *back = malloc(len ? len : 1);
	if (!back)
		return -ENOMEM;
	size_t sent = 0, got = 0;
	int rc = 0;
	/* Write and read in one loop: a reply bigger than the socket
	 * buffers would otherwise deadlock against our own write. */
	while (got < len) {
		struct pollfd p = {
			.fd = fd,
			.events = POLLIN | (sent < len ? POLLOUT : 0),
		};
		int pr = poll(&p, 1, left_ms(deadline));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0) {
			rc = pr < 0 ? -errno : -ETIMEDOUT;
			break;
		}
		if (sent < len && (p.revents & POLLOUT)) {
			ssize_t n = send(fd, (const char *)msg + sent, len - sent,
					 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				rc = -errno;
				break;
			}
			if (n > 0)
				sent += (size_t)n;
		}
		if (p.revents & (POLLIN | POLLERR | POLLHUP)) {
			ssize_t n = recv(fd, back + got, len - got, MSG_DONTWAIT);
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				rc = -errno;
				break;
			}
			if (n == 0) {
				rc = -EPIPE;
				break;
			}
			if (n > 0)
				got += (size_t)n;
		}
	}
	if (!rc && memcmp(back, msg, len))
		rc = -EPROTO;
	free(back);
	return rc;
}

int t_wait_closed(int fd, int timeout_ms)
{
	int64_t deadline = t_now_ms() + timeout_ms;
	char buf[4096];
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int pr = poll(&p, 1, left_ms(deadline));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			return -errno;
		if (pr == 0)
			return -ETIMEDOUT;
		ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
		if (n == 0)
			return 0;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
	}
}

int t_bulk(int fd, uint64_t send_len, uint64_t seed, bool shut_wr,
	   int timeout_ms, struct t_bulk_result *r)
{
	int64_t deadline = t_now_ms() + timeout_ms;
	char *out = malloc(T_CHUNK), *in = malloc(T_CHUNK);
	size_t out_len = 0, out_off = 0;
	bool shut = false;
	int rc = 0;
	r->sent = r->received = 0;
	r->sum = T_SUM_INIT;
	if (!out || !in) {
		free(out);
		free(in);
		return -ENOMEM;
	}
	bool eof = false;
	for (;;) {
		bool sending = r->sent < send_len;
		if (!sending && shut_wr && !shut) {
			shutdown(fd, SHUT_WR);
			shut = true;
		}
		if (!sending && eof)
			break;
		struct pollfd p = {
			.fd = fd,
			.events = (eof ? 0 : POLLIN) | (sending ? POLLOUT : 0),
		};
		int pr = poll(&p, 1, left_ms(deadline));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0) {
			rc = pr < 0 ? -errno : -ETIMEDOUT;
			break;
		}
		if (sending && (p.revents & POLLOUT)) {
			if (out_off == out_len) {
				uint64_t left = send_len - r->sent;
				out_len = left < T_CHUNK ? (size_t)left : T_CHUNK;
				out_off = 0;
				t_pattern_fill(out, r->sent, out_len, seed);
			}
			ssize_t n = send(fd, out + out_off, out_len - out_off,
					 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				rc = -errno;
				break;
			}
			if (n > 0) {
				out_off += (size_t)n;
				r->sent += (uint64_t)n;
			}
		}
		if (!eof && (p.revents & (POLLIN | POLLERR | POLLHUP))) {
			ssize_t n = recv(fd, in, T_CHUNK, MSG_DONTWAIT);
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				rc = -errno;
				break;
			}
			if (n == 0) {
				/* The peer's half-close: keep sending. */
				eof = true;
				continue;
			}
			if (n > 0) {
				if (r->keep && r->received < r->cap) {
					size_t k = r->cap - (size_t)r->received;
					memcpy(r->keep + r->received, in,
					       k < (size_t)n ? k : (size_t)n);
				}
				r->sum = t_sum_update(r->sum, in, (size_t)n);
				r->received += (uint64_t)n;
			}
		}
	}
	free(out);
	free(in);
	return rc;
}

int t_connect_from(const char *src_ip, uint16_t src_port, uint16_t port)
{
	struct sockaddr_in src = {
		.sin_family = AF_INET,
		.sin_port = htons(src_port),
	};
	if (inet_pton(AF_INET, src_ip, &src.sin_addr) != 1)
		return -EINVAL;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(fd, (struct sockaddr *)&src, sizeof src) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	fd = connect_loopback(fd, AF_INET, port);
	if (fd >= 0)
		reg_fd_set(fd, true);
	return fd;
}

static int listeners_in(const char *path, uint16_t port)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	char line[512];
	int n = 0;
	/* As in port_listening_in: HEXADDR:HEXPORT, state 0A is LISTEN. */
	if (fgets(line, sizeof line, f)) {
		while (fgets(line, sizeof line, f)) {
			char local[128], remote[128];
			unsigned st;
			if (sscanf(line, " %*s %127s %127s %x", local, remote, &st) != 3)
				continue;
			char *colon = strrchr(local, ':');
			if (colon && st == 0x0A && strtoul(colon + 1, NULL, 16) == port)
				n++;
		}
	}
	fclose(f);
	return n;
}

int t_listeners(uint16_t port)
{
	return listeners_in("/proc/net/tcp", port) + listeners_in("/proc/net/tcp6", port);
}

/* ---- additions: HTTP servers, held ports ------------------------------- */

void t_server_set_http_status(struct t_server *s, unsigned status)
{
	atomic_store(&s->http_status, status);
}

unsigned t_server_http_last(struct t_server *s, char *buf, size_t len)
{
	pthread_mutex_lock(&s->lock);
	unsigned n = s->http_answered;
	if (len)
		snprintf(buf, len, "%s", s->http_last);
	pthread_mutex_unlock(&s->lock);
	return n;
}

int t_port_hold(uint16_t *port)
{
	*port = t_free_port();
	if (!*port)
		return -EADDRNOTAVAIL;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	struct sockaddr_in a = {
		.sin_family = AF_INET,
		.sin_port = htons(*port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}
