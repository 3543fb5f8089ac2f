/* Test helpers shared by every test file: ports, config files, running the
 * real nlb binary, reading /proc, in-process target servers, client-side
 * socket I/O, and the leak check every test ends with (T_TEST).
 *
 * Conventions: functions that can fail return 0 (or a count / fd) on success
 * and -errno on failure, like the code under test.  Every helper that
 * creates a process, thread, fd or temp file has a matching cleanup, and
 * the object is registered so that a test can check that it cleaned up
 * after itself and t_teardown() can reclaim what a failed test left (an nlb
 * left running would hold its ports and outlive the test).  Use as:
 *
 *	TestSuite(foo, .init = t_setup, .fini = t_teardown);
 *	T_TEST(foo, bar, .timeout = 10) { ... }
 *
 * Everything binds and connects on 127.0.0.1 only. */
#ifndef NLB_TEST_HELPERS_H
#define NLB_TEST_HELPERS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

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

/* Milliseconds on CLOCK_MONOTONIC. */
int64_t t_now_ms(void);
void t_sleep_ms(int ms);

/* ---- ports and files ------------------------------------------------- */

/* A TCP port on 127.0.0.1 that is free now.  Chosen below the kernel's
 * ephemeral range when there is room (see helpers.c for why), never the
 * same twice in one process.  Returns 0 if none was found. */
uint16_t t_free_port(void);

/* printf-formats a file into a fresh mkstemp() file in /tmp (mode 0600);
 * returns its malloc'd path (free with t_file_remove) or NULL.  The tests
 * run as root, which nlb refuses without "user": unless the text mentions
 * allow_root or has a line starting with "user", "allow_root = true; " is
 * put before its first line (on it, so error line numbers do not move). */
char *t_write_config(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* text as t_write_config writes it, malloc'd (free it), or NULL. */
char *t_config_text(const char *text);

/* The same as t_write_config, written exactly as formatted. */
char *t_write_config_exact(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* Unlinks and frees a path from t_write_config/t_file_* helpers. */
void t_file_remove(char *path);

/* Reads a whole file into a malloc'd NUL-terminated buffer, or NULL. */
char *t_file_read(const char *path, size_t *len);

/* The usual one-listener, one-group configuration; fill with
 * t_proxy_conf_defaults() and override fields.  forwarding is written as is. */
#define T_MAX_TARGETS 8
struct t_proxy_conf {
	unsigned workers;
	const char *log_level;
	uint64_t shutdown_timeout_ms;
	const char *forwarding;		/* "auto", "splice", "copy" */
	uint16_t listen_port;
	uint64_t idle_timeout_ms;
	unsigned max_connections;	/* 0 = unlimited */
	unsigned connect_timeout_ms;
	unsigned connect_retries;
	uint16_t targets[T_MAX_TARGETS];
	size_t n_targets;
	const char *algorithm;		/* "round_robin" (the default here),
					 * "maglev", "least_conn", "random2" */
	const char *hash_fields;	/* NULL: not written (nlb's "5tuple") */
	unsigned weights[T_MAX_TARGETS];	/* 1 each by default */
	const char *group_extra;	/* NULL, or written verbatim at the
					 * end of the target group's keys, e.g.
					 * "health_check = { ... }; fail_open = false;" */
	const char *listener_extra;	/* likewise, at the end of the listener's */
	const char *admin_socket;	/* NULL, or the path of an admin socket */
};

/* Defaults: 1 worker, round_robin, every weight 1. */
void t_proxy_conf_defaults(struct t_proxy_conf *c);

/* Writes c as an nlb config file; returns its path like t_write_config. */
char *t_write_proxy_config(const struct t_proxy_conf *c);

/* ---- the nlb process ------------------------------------------------- */

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

/* ---- data patterns and checksums ------------------------------------- */

/* An order-sensitive checksum (FNV-1a 64) that does not depend on how the
 * stream was cut into reads. */
#define T_SUM_INIT 0xcbf29ce484222325ULL
uint64_t t_sum_update(uint64_t sum, const void *buf, size_t len);

/* Byte i of stream "seed" is a pure function of (seed, i), so writers can
 * regenerate any stretch after a partial write. */
void t_pattern_fill(void *buf, uint64_t off, size_t len, uint64_t seed);

/* Checksum of the first len bytes of stream seed. */
uint64_t t_pattern_sum(uint64_t seed, uint64_t len);

/* ---- in-process target servers --------------------------------------- */

enum t_srv_mode {
	T_SRV_ECHO = 1,		/* writes back what it reads; closes at EOF */
	T_SRV_TAG,		/* answers every read with "<tag>\n" */
	T_SRV_EOF_ANSWER,	/* reads to EOF, then writes
				 * "bytes=N sum=HEX\n" and closes */
	T_SRV_SINK_SOURCE,	/* checksums what it reads while sending
				 * source_bytes of stream source_seed, then
				 * shutdown(SHUT_WR); closes after both */
	T_SRV_SILENT,		/* accepts, never reads or writes */
	T_SRV_RESET,		/* resets the connection on its first read */
	T_SRV_HTTP,		/* reads a request up to its blank line, answers
				 * "HTTP/1.1 <http_status> X\r\nContent-Length:
				 * 0\r\nConnection: close\r\n\r\n" and closes;
				 * its result says T_END_EOF */
};

/* How a server-side connection ended. */
enum t_end {
	T_END_EOF = 1,		/* the peer's FIN was read */
	T_END_RESET,		/* a read or write saw ECONNRESET */
	T_END_ERROR,		/* any other error (see err) */
	T_END_SERVER_RESET,	/* T_SRV_RESET did it */
	T_END_STOPPED,		/* still open when the server stopped */
};

struct t_conn_result {
	enum t_end end;
	int err;		/* errno for T_END_ERROR */
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t sum_in;	/* t_sum_update over everything read */
};

struct t_server_opts {
	enum t_srv_mode mode;
	uint16_t port;		/* 0 = t_free_port() */
	unsigned tag;		/* T_SRV_TAG's answer; 0 = the port */
	uint64_t source_bytes;	/* T_SRV_SINK_SOURCE */
	uint64_t source_seed;
	int backlog;		/* 0 = 4096 */
	unsigned http_status;	/* T_SRV_HTTP's answer; 0 = 200 */
};

/* Results of the first T_SERVER_RESULTS connections are kept. */
#define T_SERVER_RESULTS 256

struct t_server;

/* Starts a server on 127.0.0.1 on its own thread (epoll, non-blocking,
 * thousands of connections).  Returns NULL on failure (errno set). */
struct t_server *t_server_start_opts(const struct t_server_opts *o);
struct t_server *t_server_start(enum t_srv_mode mode, uint16_t port);

/* Closes the listener and every connection (a normal close) and joins the
 * thread; the port stays reserved in the struct for t_server_restart. */
void t_server_stop(struct t_server *s);

/* Listens again on the same port (SO_REUSEADDR) after t_server_stop.
 * Counters and results carry on.  0 or -errno. */
int t_server_restart(struct t_server *s);

/* Stops (if running) and frees. */
void t_server_free(struct t_server *s);

uint16_t t_server_port(const struct t_server *s);

/* T_SRV_HTTP: the status of answers from now on (any thread). */
void t_server_set_http_status(struct t_server *s, unsigned status);

/* T_SRV_HTTP: copies the head of the last request answered (at most
 * len - 1 bytes of it, NUL-terminated) into buf; returns how many requests
 * were answered so far. */
unsigned t_server_http_last(struct t_server *s, char *buf, size_t len);
unsigned t_server_accepted(struct t_server *s);	/* since start */
unsigned t_server_open(struct t_server *s);	/* open now */
unsigned t_server_closed(struct t_server *s);	/* ended (any way) */

/* Copies the result of the i-th connection to end (in order of ending);
 * 0, or -ENOENT if fewer than i+1 have ended. */
int t_server_result(struct t_server *s, unsigned i, struct t_conn_result *r);

/* Waits until at least n connections have ended; 0 or -ETIMEDOUT. */
int t_server_wait_closed(struct t_server *s, unsigned n, int timeout_ms);

/* Waits until at least n connections are accepted; 0 or -ETIMEDOUT. */
int t_server_wait_accepted(struct t_server *s, unsigned n, int timeout_ms);

/* ---- a target that never completes a connect ------------------------- */

/* A listener with backlog 0 whose accept queue is kept full and never
 * accepted from: Linux drops further SYNs (tcp_abort_on_overflow = 0), so
 * a connect to it neither succeeds nor fails until the connector gives up.
 * t_blackhole_start proves that (a probe connect must stay pending for
 * 300 ms) before returning; NULL if it could not. */
struct t_blackhole {
	uint16_t port;
	int lfd;
	int fillers[4];
	int n_fillers;
};

struct t_blackhole *t_blackhole_start(void);
void t_blackhole_free(struct t_blackhole *b);

/* ---- client side ------------------------------------------------------ */

/* A blocking TCP connection to 127.0.0.1:port with TCP_NODELAY, registered
 * for the leak check; -errno on failure.  Close with t_close. */
int t_connect(uint16_t port);
/* The same to [::1]:port. */
int t_connect6(uint16_t port);

/* The same without the fd registry (so usable from any thread, and the
 * caller closes it with close(2)). */
int t_connect_raw(uint16_t port);

/* Closes fd from t_connect.  t_close_reset sends a RST instead of a FIN
 * (SO_LINGER 0). */
void t_close(int fd);
void t_close_reset(int fd);

/* Writes all of buf (MSG_NOSIGNAL); 0 or -errno. */
int t_write_all(int fd, const void *buf, size_t len);

/* Reads exactly len bytes unless EOF comes first, waiting at most
 * timeout_ms in total.  Returns the bytes read (< len only at EOF), or
 * -ETIMEDOUT / -ECONNRESET / -errno; data read before an error is lost. */
ssize_t t_read_full(int fd, void *buf, size_t len, int timeout_ms);

/* Writes msg and expects it back unchanged within timeout_ms; 0 or -errno
 * (-EPROTO if different bytes came back, -EPIPE on EOF). */
int t_round_trip(int fd, const void *msg, size_t len, int timeout_ms);

/* Waits for the peer to end the connection, discarding data.  Returns 0
 * on EOF, -ECONNRESET on reset, -ETIMEDOUT if still open. */
int t_wait_closed(int fd, int timeout_ms);

/* Sends send_len bytes of stream seed (then shutdown(SHUT_WR) if shut_wr)
 * while reading everything until EOF, in one poll loop so both directions
 * flow at once; an EOF that comes before we are done sending is a
 * half-close and sending goes on.  Returns 0 once all is sent and EOF was
 * read, else -errno (-ETIMEDOUT, -ECONNRESET, ...).  The first cap bytes
 * read are also copied to keep. */
struct t_bulk_result {
	uint64_t sent;
	uint64_t received;
	uint64_t sum;		/* of everything received */
	char *keep;
	size_t cap;
};

int t_bulk(int fd, uint64_t send_len, uint64_t seed, bool shut_wr,
	   int timeout_ms, struct t_bulk_result *r);

/* Counter key of "show stats" on nlb's admin socket at sock_path, read
 * now (nlb running); 0 with *value set, or -errno (-ENOENT: no such
 * counter). */
int t_admin_stat(const char *sock_path, const char *key, int64_t *value);

/* Waits until t_admin_stat(sock_path, key) reads want: 0, or -ETIMEDOUT
 * (or the last error) after timeout_ms.  For tests that must know nlb
 * has acted on something (a close, a refusal) before they go on. */
int t_admin_wait_stat(const char *sock_path, const char *key, int64_t want, int timeout_ms);

/* Like t_connect, but from src_ip:src_port (src_port 0: any).  The socket
 * gets SO_REUSEADDR before bind, so a port the test holds bound (without
 * listening) as a reservation, or whose last connection was closed with
 * t_close_reset, can be used again at once. */
int t_connect_from(const char *src_ip, uint16_t src_port, uint16_t port);

/* Number of TCP sockets in LISTEN on port, any address and family (from
 * /proc/net/tcp and tcp6, so every process's count): several processes
 * share a port with SO_REUSEPORT, one socket per worker each. */
int t_listeners(uint16_t port);

/* Reserves a fresh port on 127.0.0.1: bound with SO_REUSEADDR, never
 * listening, so a connect to it is refused, t_free_port never hands it out
 * (its bind fails) and a server or t_connect_from (both set SO_REUSEADDR)
 * can still use it.  Returns the socket (close it to let the port go) and
 * sets *port, or -errno. */
int t_port_hold(uint16_t *port);

#endif
