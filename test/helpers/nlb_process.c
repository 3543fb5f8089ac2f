/* Child processes, nlb's above all (see nlb_process.h). */
#include "nlb_process.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config_files.h"
#include "ports.h"
#include "registry.h"
#include "time_ms.h"

/* What t_teardown does with an nlb the test left running. */
static void nlb_reclaim(void *obj)
{
	struct t_nlb *h = obj;
	/* Once is enough when a failed assertion showed it. */
	if (!h->dumped && !t_test_failed())
		t_nlb_dump_log(h, "not freed by the test");
	t_nlb_free(h);
}

const char *t_nlb_bin(void)
{
	const char *b = getenv("NLB_BIN");
	return b && *b ? b : NULL;
}

const char *t_bench_bin(void)
{
	const char *p = getenv("NLB_BENCH");
	T_ASSERT(p && *p && access(p, X_OK) == 0, ": NLB_BENCH is not set (run through make test)");
	return p;
}

struct t_nlb *t_bench_echo(uint16_t port)
{
	char addr[32];
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	const char *argv[] = { t_bench_bin(), "serve", "--mode", "echo", "--tcp-udp", addr, NULL };
	struct t_nlb *s = t_spawn(argv, NULL);
	T_ASSERT(s);
	T_ASSERT(t_nlb_wait_listening(s, port, 5000) == 0, ": echo server on %s", addr);
	return s;
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
	t_register(T_KIND_NLB, h, nlb_reclaim);
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
	t_unregister(T_KIND_NLB, h);
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

int t_nlb_wait_listening(struct t_nlb *h, uint16_t port, int timeout_ms)
{
	int64_t deadline = t_now_ms() + timeout_ms;
	for (;;) {
		if (t_listeners(port) > 0)
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
