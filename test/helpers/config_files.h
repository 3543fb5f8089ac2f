/* Temp files: nlb configuration files (as written, or the usual
 * one-listener, one-group proxy), registered for the leak check, and
 * reading a whole file back. */
#ifndef NLB_TEST_CONFIG_FILES_H
#define NLB_TEST_CONFIG_FILES_H

#include <stddef.h>
#include <stdint.h>

/* printf-formats a file into a fresh mkstemp() file in /tmp (mode 0600);
 * returns its malloc'd path (free with t_file_remove) or NULL.  The tests
 * run as root, which nlb refuses without "user": unless the text mentions
 * allow_root or has a line starting with "user", "allow_root = true; " is
 * put before its first line (on it, so error line numbers do not move). */
char *t_write_config(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* text as t_write_config writes it, malloc'd (free it), or NULL. */
char *t_config_text(const char *text);

/* With NLB_TEST_SECCOMP=1 in the environment (`make test SECCOMP=1`),
 * every file these write (exactly as formatted or not) ends with a line
 * "seccomp = true;" unless its text mentions seccomp. */

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
	const char *protocol;		/* the listener's; NULL: "tcp"; "http" names
					 * the group in default_action */
	const char *admin_socket;	/* NULL, or the path of an admin socket */
	const char *top_extra;		/* NULL, or written verbatim at the top */
};

/* Defaults: 1 worker, round_robin, every weight 1. */
void t_proxy_conf_defaults(struct t_proxy_conf *c);

/* Writes c as an nlb config file; returns its path like t_write_config. */
char *t_write_proxy_config(const struct t_proxy_conf *c);

#endif
