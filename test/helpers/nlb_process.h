/* Child processes: the real nlb binary ($NLB_BIN) and any other program
 * a test runs, with their output in a temp log; waiting for them, reading
 * their logs and nlb's stats line; what /proc says about a process. */
#ifndef NLB_TEST_NLB_PROCESS_H
#define NLB_TEST_NLB_PROCESS_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct t_nlb {
	pid_t pid;
	char log_path[PATH_MAX];	/* stdout and stderr of the child */
	bool exited;
	int status;			/* raw waitpid() status once exited */
	bool dumped;			/* t_nlb_dump_log ran */
};

/* Options for t_spawn; zero means "inherit". */
struct t_spawn_opts {
	long nofile_soft;		/* RLIMIT_NOFILE soft limit in the child */
	long nofile_hard;		/* and hard limit (0: unchanged) */
};

/* Forks and execs argv (argv[0] is the program path) with stdin from
 * /dev/null and stdout+stderr into a fresh temp log file.  The child gets
 * SIGKILL if the test process dies, so a crashed or timed-out test leaves
 * no daemon behind.  Returns NULL on failure (errno set). */
struct t_nlb *t_spawn(const char *const argv[], const struct t_spawn_opts *o);

/* getenv("NLB_BIN") or NULL. */
const char *t_nlb_bin(void);

/* getenv("NLB_BENCH"), executable, or the test fails. */
const char *t_bench_bin(void);

/* nlb-bench's echo server, TCP and UDP, on 127.0.0.1:port, once it
 * listens (free it with t_nlb_stop and t_nlb_free). */
struct t_nlb *t_bench_echo(uint16_t port);

/* Runs "$NLB_BIN -c config_path". */
struct t_nlb *t_nlb_start(const char *config_path);
struct t_nlb *t_nlb_start_opts(const char *config_path, const struct t_spawn_opts *o);

/* Waits until something listens on 127.0.0.1:port (read from
 * /proc/net/tcp, so no connection is made that nlb would proxy and count),
 * up to timeout_ms.  Returns 0, -ETIMEDOUT, or -ECHILD if h exited first. */
int t_nlb_wait_listening(struct t_nlb *h, uint16_t port, int timeout_ms);

/* Waits for h to exit.  Returns its exit code (0..255), 128+signal if a
 * signal ended it, or -ETIMEDOUT if it is still running. */
int t_nlb_wait(struct t_nlb *h, int timeout_ms);

/* SIGTERM, then t_nlb_wait(timeout_ms); if it is still running, SIGKILL
 * and -ETIMEDOUT.  Returns like t_nlb_wait. */
int t_nlb_stop(struct t_nlb *h, int timeout_ms);

/* Kills (if running) and reaps h, removes its log and frees it. */
void t_nlb_free(struct t_nlb *h);

/* The child's output so far, malloc'd (free it), or NULL. */
char *t_nlb_log(struct t_nlb *h);

/* Whether the output so far contains needle. */
bool t_nlb_log_contains(struct t_nlb *h, const char *needle);

/* How many times needle occurs in the output so far. */
int t_nlb_log_count(struct t_nlb *h, const char *needle);

/* Polls the output until it contains needle; 0 or -ETIMEDOUT. */
int t_nlb_log_wait(struct t_nlb *h, const char *needle, int timeout_ms);

/* Writes the output to stderr with a header, for failure analysis. */
void t_nlb_dump_log(struct t_nlb *h, const char *why);

/* The value of counter key in the last line containing msg="stats
 * (logged at exit), or -1 if there is no such line or key. */
int64_t t_nlb_stat(struct t_nlb *h, const char *key);

/* Runs argv to completion (at most timeout_ms, then SIGKILL) and returns
 * its exit code like t_nlb_wait; *output (if not NULL) gets its combined
 * stdout+stderr, malloc'd. */
int t_run(const char *const argv[], int timeout_ms, char **output);

/* ---- /proc ----------------------------------------------------------- */

/* "Threads:" of /proc/PID/status, or -errno. */
long t_proc_threads(pid_t pid);

/* Number of open fds of pid, or -errno. */
long t_proc_fds(pid_t pid);

/* "VmRSS:" of /proc/PID/status in KiB, or -errno. */
long t_proc_rss_kb(pid_t pid);

/* Soft and hard "Max open files" of /proc/PID/limits; 0 or -errno. */
int t_proc_nofile(pid_t pid, long *soft, long *hard);

#endif
