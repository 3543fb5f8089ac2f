/* In-process target servers on 127.0.0.1, each on its own thread: echo,
 * tag, sink and source, silent, reset and HTTP modes, with how every
 * connection ended; and a target that never completes a connect. */
#ifndef NLB_TEST_SERVERS_H
#define NLB_TEST_SERVERS_H

#include <stddef.h>
#include <stdint.h>

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

/* "EOF", "reset", "error", "server reset", "still open": for messages. */
const char *t_end_name(enum t_end e);

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

#endif
