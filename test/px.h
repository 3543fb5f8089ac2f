/* One nlb over one target group for integration tests: write the
 * configuration, start nlb and wait until it serves, stop it and read its
 * counters; on a failed assertion nlb's log tail is printed first. */
#ifndef NLB_TEST_PX_H
#define NLB_TEST_PX_H

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>

#include "helpers.h"

struct px {
	struct t_proxy_conf conf;
	char *conf_path;
	struct t_nlb *nlb;
	char admin_sock[64];		/* px_admin's */
};

/* Defaults of t_proxy_conf_defaults, the given forwarding, a fresh port. */
void px_init(struct px *p, const char *forwarding);
/* Adds a target on 127.0.0.1:port with weight 1, or weight. */
void px_target(struct px *p, uint16_t port);
void px_target_weight(struct px *p, uint16_t port, unsigned weight);

/* Marks the test failed, stops nlb (so its stats line is logged; killed
 * after 3 s) and prints the tail of its log. */
void px_failed(struct px *p, const char *what);

/* cond is evaluated once: it often does I/O. */
#define px_assert(p, cond, ...) do {					\
	bool px_ok_ = (cond);						\
	if (!px_ok_)							\
		px_failed((p), "failed: " #cond);			\
	cr_assert(px_ok_, __VA_ARGS__);					\
} while (0)

/* Gives p's nlb an admin socket (before px_start), for px_wait_stat. */
void px_admin(struct px *p);
/* Waits until nlb's running counter key reads want (the admin socket's
 * "show stats"), or fails the test after timeout_ms. */
void px_wait_stat(struct px *p, const char *key, int64_t want, int timeout_ms);

/* Writes p's configuration and runs nlb on it (px_spawn: on path). */
void px_start(struct px *p);
void px_spawn(struct px *p, const char *path);
/* A fresh p running nlb on conf (a t_write_config path p takes over),
 * serving once its log says so: for configurations px_spawn cannot wait
 * on (UDP listeners have no TCP socket to connect to). */
void px_spawn_conf(struct px *p, char *conf);
/* SIGTERM and wait; returns the exit code (see t_nlb_wait). */
int px_stop(struct px *p);
void px_stop_ok(struct px *p);
/* A counter from nlb's stats line (after px_stop). */
int64_t px_stat(struct px *p, const char *key);
void px_free(struct px *p);

/* Rewrites p's configuration file (from p->conf, or the given text),
 * sends SIGHUP and waits until nlb logs the outcome.  Returns 1 if the
 * reload was applied, 0 if nlb refused it, -ETIMEDOUT if it said neither. */
int px_reload(struct px *p);
int px_reload_text(struct px *p, const char *text);
int px_connect(struct px *p);
/* "ping" there and back on fd within 3 s, or the test fails naming what. */
void px_round_trip_ok(struct px *p, int fd, const char *what);
/* n connections through nlb, one round trip each, closed again. */
void px_connect_n(struct px *p, unsigned n);

struct t_nginx;
/* NGINX on 127.0.0.1:port answering each request with what it was sent:
 * "uri=... xff=... proto=... port=... conn=<its connection number>";
 * extra goes into its server block. */
void px_nginx_echo(struct t_nginx *n, uint16_t port, const char *extra);
/* curl -sS --max-time 10 with args: its exit code, and its output
 * (stdout and stderr, malloc'd) in *out. */
int px_curl(char **out, const char *const *args);

/* Reads one HTTP response from fd into buf (to a HEAD: the head alone):
 * its status, or -errno (-EPROTO: not HTTP; -ETIMEDOUT). */
int px_read_response(int fd, char *buf, size_t cap, size_t *got, int timeout_ms,
		     bool head_request);
/* The metrics page at 127.0.0.1:port, by curl (malloc'd). */
char *px_scrape(struct px *p, uint16_t port);
/* The value of the sample whose name and labels are exactly series, or
 * -1 when body has no such line. */
double px_metric(const char *body, const char *series);

#endif
