/* The client side: connections to 127.0.0.1 (registered for the leak
 * check), reading and writing them with deadlines, bulk transfers both
 * ways at once, and nlb's counters read through its admin socket. */
#ifndef NLB_TEST_CLIENTS_H
#define NLB_TEST_CLIENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A blocking TCP connection to 127.0.0.1:port with TCP_NODELAY, registered
 * for the leak check; -errno on failure.  Close with t_close. */
int t_connect(uint16_t port);
/* The same to [::1]:port. */
int t_connect6(uint16_t port);

/* The same without the fd registry (so usable from any thread, and the
 * caller closes it with close(2)). */
int t_connect_raw(uint16_t port);

/* Like t_connect, but from src_ip:src_port (src_port 0: any).  The socket
 * gets SO_REUSEADDR before bind, so a port the test holds bound (without
 * listening) as a reservation, or whose last connection was closed with
 * t_close_reset, can be used again at once. */
int t_connect_from(const char *src_ip, uint16_t src_port, uint16_t port);

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

/* What t_wait_closed's rc says, for messages: "EOF", "reset" or the
 * error's text. */
const char *t_closed_how(int rc);

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

/* Sends cmd (one line, without its newline) to nlb's admin socket at
 * sock_path and reads the reply into buf (NUL-terminated, through its
 * last line): 0 when it ends "ok", -EPROTO when it is an error,
 * -EMSGSIZE when it does not fit, or -errno. */
int t_admin_command(const char *sock_path, const char *cmd, char *buf, size_t cap);
/* Counter key of "show stats" on nlb's admin socket at sock_path, read
 * now (nlb running); 0 with *value set, or -errno (-ENOENT: no such
 * counter). */
int t_admin_stat(const char *sock_path, const char *key, int64_t *value);

/* Waits until t_admin_stat(sock_path, key) reads want: 0, or -ETIMEDOUT
 * (or the last error) after timeout_ms.  For tests that must know nlb
 * has acted on something (a close, a refusal) before they go on. */
int t_admin_wait_stat(const char *sock_path, const char *key, int64_t want, int timeout_ms);

#endif
