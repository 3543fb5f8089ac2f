/* Suite "admin": the admin socket and nlbctl, end to end through the real
 * nlb ($NLB_BIN) and nlbctl ($NLB_CTL).  Each test runs nlb with
 * admin = { socket = ...; } in a fresh directory of its own, changes
 * targets with nlbctl and checks what the echo targets see: these are the
 * admin-socket analogues of suite "drain" (reload by SIGHUP).  Groups use
 * round_robin on one worker, and no test has health checks unless it
 * says so, so a server's accept count is exactly the connections nlb
 * sent it.  Raw connections to the socket check the line protocol and
 * what nlb does with bad input. */
#include <criterion/criterion.h>

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "helpers.h"
#include "px.h"

TestSuite(admin, .init = t_setup, .fini = t_teardown);

/* ---- nlb with an admin socket ------------------------------------------ */

struct adm {
	struct px p;
	char dir[64];		/* mkdtemp: the socket's directory */
	char sock[100];		/* fits sun_path */
	unsigned mode;		/* admin_mode, e.g. 0600 */
};

static void adm_init(struct adm *a, unsigned mode)
{
	memset(a, 0, sizeof(*a));
	px_init(&a->p, "auto");
	snprintf(a->dir, sizeof(a->dir), "/tmp/nlb-admin-XXXXXX");
	T_ASSERT(mkdtemp(a->dir) != NULL, ": mkdtemp: %s", strerror(errno));
	snprintf(a->sock, sizeof(a->sock), "%s/admin.sock", a->dir);
	a->mode = mode;
}

/* The configuration: the admin block, then t_write_proxy_config's text. */
static char *adm_conf_text(const struct adm *a)
{
	char *path = t_write_proxy_config(&a->p.conf);
	T_ASSERT(path, ": writing config: %s", strerror(errno));
	char *body = t_file_read(path, NULL);
	t_file_remove(path);
	T_ASSERT(body, ": reading the config");
	char *text = NULL;
	/* libconfig reads 0660 as decimal 660; nlb takes its digits as
	 * octal, as chmod does. */
	T_ASSERT(asprintf(&text, "admin = { socket = \"%s\"; mode = 0%o; };\n%s", a->sock,
			  a->mode, body) > 0);
	free(body);
	return text;
}

static void adm_start(struct adm *a)
{
	T_ASSERT(t_nlb_bin(), ": NLB_BIN is not set (run through make test)");
	char *text = adm_conf_text(a);
	a->p.conf_path = t_write_config("%s", text);
	free(text);
	T_ASSERT(a->p.conf_path, ": writing config: %s", strerror(errno));
	px_spawn(&a->p, a->p.conf_path);
}

/* Removes the directory (nlb removed its socket at exit). */
static void adm_free(struct adm *a)
{
	px_free(&a->p);
	unlink(a->sock);
	rmdir(a->dir);
}

/* ---- nlbctl ------------------------------------------------------------- */

static const char *ctl_bin(void)
{
	static char path[PATH_MAX];
	const char *c = getenv("NLB_CTL");
	if (c && *c)
		return c;
	T_ASSERT(t_nlb_bin(), ": neither NLB_CTL nor NLB_BIN is set");
	char bin[PATH_MAX];
	snprintf(bin, sizeof(bin), "%s", t_nlb_bin());
	snprintf(path, sizeof(path), "%s/nlbctl", dirname(bin));
	return path;
}

/* Runs nlbctl with the words of the printf-formatted command (with
 * "-s SOCKET" first when sock is not NULL).  Returns its exit code;
 * *out, if not NULL, gets what it printed (stdout and stderr), malloc'd. */
static int ctl_run(const char *sock, char **out, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int ctl_run(const char *sock, char **out, const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	const char *argv[32];
	int n = 0;
	argv[n++] = ctl_bin();
	if (sock) {
		argv[n++] = "-s";
		argv[n++] = sock;
	}
	char *save = NULL;
	for (char *w = strtok_r(cmd, " ", &save); w && n < 31; w = strtok_r(NULL, " ", &save))
		argv[n++] = w;
	argv[n] = NULL;
	return t_run(argv, 10000, out);
}

/* nlbctl COMMAND on a's socket, which must succeed; returns its output
 * (free it). */
#define ctl_ok(a, ...) ctl_expect((a), 0, __VA_ARGS__)

static char *ctl_expect(struct adm *a, int want, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static char *ctl_expect(struct adm *a, int want, const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	char *out = NULL;
	int rc = ctl_run(a->sock, &out, "%s", cmd);
	if (rc != want) {
		px_failed(&a->p, "nlbctl");
		cr_assert_fail("nlbctl %s: exit %d (want %d), output:\n%s", cmd, rc, want,
			       out ? out : "(none)");
	}
	return out ? out : strdup("");
}

/* nlbctl COMMAND must fail with exit 1 and say want. */
#define ctl_error(a, want, ...) do {					\
	char *ctl_out_ = ctl_expect((a), 1, __VA_ARGS__);		\
	bool ctl_has_ = strstr(ctl_out_, (want)) != NULL;		\
	if (!ctl_has_)							\
		px_failed(&(a)->p, "nlbctl's error");			\
	cr_assert(ctl_has_, "nlbctl said \"%s\", want \"%s\"", ctl_out_, (want)); \
	free(ctl_out_);							\
} while (0)

/* The line of text containing needle, copied into line; false if none. */
static bool find_line(const char *text, const char *needle, char *line, size_t cap)
{
	const char *hit = strstr(text, needle);
	if (!hit)
		return false;
	const char *start = hit;
	while (start > text && start[-1] != '\n')
		start--;
	size_t len = strcspn(start, "\n");
	snprintf(line, cap, "%.*s", (int)len, start);
	return true;
}

/* The number after key= in line (key at the start or after a space), or
 * -1. */
static long long kv(const char *line, const char *key)
{
	size_t klen = strlen(key);
	for (const char *p = line; (p = strstr(p, key)) != NULL; p += klen) {
		if ((p == line || p[-1] == ' ') && p[klen] == '=')
			return p[klen + 1] >= '0' && p[klen + 1] <= '9' ?
				strtoll(p + klen + 1, NULL, 10) : -1;
	}
	return -1;
}

/* The show targets line of 127.0.0.1:port, or an empty string. */
static void target_line(struct adm *a, uint16_t port, char *line, size_t cap)
{
	char *out = ctl_ok(a, "show targets web");
	char needle[64];
	snprintf(needle, sizeof(needle), "target=127.0.0.1:%u ", port);
	if (!find_line(out, needle, line, cap))
		line[0] = '\0';
	free(out);
}

/* Polls nlbctl's output of cmd until it contains want; 0 or -ETIMEDOUT. */
static int ctl_wait(struct adm *a, const char *cmd, const char *want, int timeout_ms)
{
	int64_t deadline = t_now_ms() + timeout_ms;
	for (;;) {
		char *out = ctl_ok(a, "%s", cmd);
		bool found = strstr(out, want) != NULL;
		free(out);
		if (found)
			return 0;
		if (t_now_ms() >= deadline)
			return -ETIMEDOUT;
		t_sleep_ms(20);
	}
}

/* ---- raw connections to the socket ------------------------------------- */

struct raw {
	int fd;
	char buf[8192];
	size_t len;
};

static int raw_connect(const char *path, struct raw *r)
{
	memset(r, 0, sizeof(*r));
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	r->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (r->fd < 0)
		return -errno;
	if (connect(r->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int e = errno;
		close(r->fd);
		r->fd = -1;
		return -e;
	}
	return 0;
}

static int raw_send(struct raw *r, const void *buf, size_t len)
{
	return t_write_all(r->fd, buf, len);
}

/* The next line (without '\n') into line; its length, -EPIPE at EOF,
 * -ETIMEDOUT, or -errno. */
static int raw_line(struct raw *r, char *line, size_t cap, int timeout_ms)
{
	int64_t deadline = t_now_ms() + timeout_ms;
	for (;;) {
		char *nl = memchr(r->buf, '\n', r->len);
		if (nl) {
			size_t len = (size_t)(nl - r->buf);
			snprintf(line, cap, "%.*s", (int)len, r->buf);
			r->len -= len + 1;
			memmove(r->buf, nl + 1, r->len);
			return (int)len;
		}
		if (r->len == sizeof(r->buf))
			return -E2BIG;
		int left = (int)(deadline - t_now_ms());
		struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
		if (left <= 0 || poll(&pfd, 1, left) == 0)
			return -ETIMEDOUT;
		ssize_t n = recv(r->fd, r->buf + r->len, sizeof(r->buf) - r->len, 0);
		if (n == 0)
			return -EPIPE;
		if (n < 0)
			return -errno;
		r->len += (size_t)n;
	}
}

/* Reads one reply: data lines are counted, the final line goes into
 * final.  1 for "ok", 0 for "error: ...", or -errno. */
static int raw_reply(struct raw *r, char *final, size_t cap, unsigned *data_lines)
{
	unsigned n = 0;
	for (;;) {
		int len = raw_line(r, final, cap, 5000);
		if (len < 0)
			return len;
		if (strcmp(final, "ok") == 0 || strncmp(final, "error: ", 7) == 0) {
			if (data_lines)
				*data_lines = n;
			return final[0] == 'o';
		}
		n++;
	}
}

/* Sends a command line (len bytes, may hold anything) and expects an
 * error reply; returns it in final. */
static void raw_expect_error(struct adm *a, struct raw *r, const void *line, size_t len,
			     char *final, size_t cap)
{
	px_assert(&a->p, raw_send(r, line, len) == 0, "sending to the admin socket");
	int rc = raw_reply(r, final, cap, NULL);
	px_assert(&a->p, rc == 0, "reply to a bad line: %d (%s), want an error line", rc,
		  rc == 1 ? "ok" : rc < 0 ? strerror(-rc) : final);
}

/* ---- a fixture: nlb with an admin socket over echo targets ------------- */

#define FIX_SERVERS 3

struct fix {
	struct adm a;
	struct t_server *srv[FIX_SERVERS];
	uint16_t port[FIX_SERVERS];
};

/* FIX_SERVERS echo servers, the first n_listed of them targets in the
 * file; group_extra as t_proxy_conf's.  nlb serves when it returns. */
static void fix_start(struct fix *f, unsigned n_listed, const char *group_extra)
{
	memset(f, 0, sizeof(*f));
	adm_init(&f->a, 0600);
	f->a.p.conf.group_extra = group_extra;
	for (unsigned i = 0; i < FIX_SERVERS; i++) {
		f->srv[i] = t_server_start(T_SRV_ECHO, 0);
		T_ASSERT(f->srv[i] != NULL);
		f->port[i] = t_server_port(f->srv[i]);
		if (i < n_listed)
			px_target(&f->a.p, f->port[i]);
	}
	adm_start(&f->a);
}

static unsigned fix_accepted(struct fix *f, unsigned i)
{
	return t_server_accepted(f->srv[i]);
}

/* Are the servers' accept counts exactly want[]? */
static bool fix_counts(struct fix *f, const unsigned want[FIX_SERVERS])
{
	for (unsigned i = 0; i < FIX_SERVERS; i++)
		if (fix_accepted(f, i) != want[i])
			return false;
	return true;
}

#define fix_assert_counts(f, what, ...) do {				\
	const unsigned want_[FIX_SERVERS] = { __VA_ARGS__ };		\
	px_assert(&(f)->a.p, fix_counts((f), want_),			\
		  "%s: accepted %u %u %u, want %u %u %u", (what),	\
		  fix_accepted((f), 0), fix_accepted((f), 1), fix_accepted((f), 2), \
		  want_[0], want_[1], want_[2]);			\
} while (0)

/* Stops nlb (exit 0 expected; its stats line is then read with px_stat). */
static void fix_stop(struct fix *f)
{
	px_stop_ok(&f->a.p);
}

static void fix_free(struct fix *f)
{
	adm_free(&f->a);
	for (unsigned i = 0; i < FIX_SERVERS; i++)
		t_server_free(f->srv[i]);
}

/* ---- tests -------------------------------------------------------------- */

/* A target added through the socket takes new connections at once: round
 * robin over the two sends each half. */
T_TEST(admin, add_target_takes_connections, .timeout = 30)
{
	struct fix f;
	fix_start(&f, 1, NULL);
	struct adm *a = &f.a;
	free(ctl_ok(a, "add target web 127.0.0.1:%u", f.port[1]));
	char line[512];
	target_line(a, f.port[1], line, sizeof(line));
	px_assert(&a->p, strstr(line, "weight=1 health=unchecked state=active connections=0"),
		  "show targets after add: \"%s\"", line);
	px_assert(&a->p, t_nlb_log_contains(a->p.nlb, "in group web: added (weight 1)"));
	px_connect_n(&a->p, 10);
	fix_assert_counts(&f, "round robin over A and the added B", 5, 5, 0);
	/* Adding it again is an error, with a weight or without. */
	ctl_error(a, "already in group web", "add target web 127.0.0.1:%u weight 3", f.port[1]);
	fix_stop(&f);
	cr_expect_eq(px_stat(&a->p, "admin_errors"), 1);
	fix_free(&f);
}

/* The test: a drained target gets no new connection and its open
 * one survives, past the deregistration delay too (drain has none); add
 * brings it back with the connection still open. */
T_TEST(admin, drain_keeps_open_connection, .timeout = 30)
{
	struct fix f;
	fix_start(&f, 1, "deregistration_delay_ms = 200;");
	struct adm *a = &f.a;
	uint16_t ap = f.port[0];
	int c = px_connect(&a->p);
	px_round_trip_ok(&a->p, c, "before the drain");
	free(ctl_ok(a, "add target web 127.0.0.1:%u", f.port[1]));
	free(ctl_ok(a, "drain target web 127.0.0.1:%u", ap));

	px_connect_n(&a->p, 6);
	fix_assert_counts(&f, "after the drain", 1, 6, 0);
	px_round_trip_ok(&a->p, c, "draining");
	char line[512];
	target_line(a, ap, line, sizeof(line));
	px_assert(&a->p, strstr(line, "state=draining connections=1 deadline_ms=none"),
		  "show targets of the drained A: \"%s\"", line);
	/* Three times the group's deregistration delay: drain has none. */
	t_sleep_ms(600);
	px_round_trip_ok(&a->p, c, "drained, past deregistration_delay_ms");
	px_assert(&a->p, !t_nlb_log_contains(a->p.nlb, "draining ended"));

	/* Commands that do not apply to a drained target say why. */
	ctl_error(a, "is drained", "drain target web 127.0.0.1:%u", ap);
	ctl_error(a, "is drained (add target brings it back)", "set weight web 127.0.0.1:%u 5",
		  ap);

	/* Back, with its weight, keeping its connection. */
	free(ctl_ok(a, "add target web 127.0.0.1:%u", ap));
	px_assert(&a->p, t_nlb_log_contains(a->p.nlb, "added again while draining (weight 1)"));
	px_connect_n(&a->p, 4);
	fix_assert_counts(&f, "A back", 1 + 2, 6 + 2, 0);
	px_round_trip_ok(&a->p, c, "after add brought A back");
	t_close(c);

	/* A drained target keeps its slot when its connections are gone,
	 * until it is removed. */
	free(ctl_ok(a, "drain target web 127.0.0.1:%u", ap));
	px_assert(&a->p, ctl_wait(a, "show targets", "state=draining connections=0 "
				  "deadline_ms=none", 3000) == 0, "A is not listed drained and idle");
	free(ctl_ok(a, "remove target web 127.0.0.1:%u", ap));
	px_assert(&a->p, t_nlb_log_wait(a->p.nlb, "in group web: draining ended", 3000) == 0);
	target_line(a, ap, line, sizeof(line));
	px_assert(&a->p, line[0] == '\0', "A still listed after remove: %s", line);
	fix_stop(&f);
	cr_expect_eq(px_stat(&a->p, "drain_reset"), 0);
	fix_free(&f);
}

/* remove is a reload that drops the target: its connection is reset at
 * deregistration_delay_ms, then the slot is free, and a later add takes
 * it (max_targets 2 leaves no other). */
T_TEST(admin, remove_resets_after_delay_and_slot_reused, .timeout = 30)
{
	struct fix f;
	fix_start(&f, 2, "deregistration_delay_ms = 1000; max_targets = 2;");
	struct adm *a = &f.a;
	uint16_t ap = f.port[0], dp = f.port[2];
	int c = px_connect(&a->p);
	px_round_trip_ok(&a->p, c, "before the removal");
	fix_assert_counts(&f, "the first connection", 1, 0, 0);

	free(ctl_ok(a, "remove target web 127.0.0.1:%u", ap));
	char line[512];
	target_line(a, ap, line, sizeof(line));
	long long left = kv(line, "deadline_ms");
	px_assert(&a->p, strstr(line, "state=draining connections=1") && left >= 0 &&
		  left <= 1000, "show targets of the removed A: \"%s\"", line);
	px_connect_n(&a->p, 4);
	fix_assert_counts(&f, "after remove", 1, 4, 0);
	ctl_error(a, "more than max_targets 2", "add target web 127.0.0.1:%u", dp);
	ctl_error(a, "already being removed", "remove target web 127.0.0.1:%u", ap);
	px_round_trip_ok(&a->p, c, "draining, before the delay");

	int rc = t_wait_closed(c, 5000);
	px_assert(&a->p, rc == -ECONNRESET, "the removed target's connection ended with %s, "
		  "want a reset", rc == 0 ? "EOF" : strerror(-rc));
	t_close(c);
	px_assert(&a->p, t_nlb_log_wait(a->p.nlb, "in group web: draining ended", 3000) == 0);
	px_assert(&a->p, t_nlb_log_contains(a->p.nlb, "connections reset at the deadline"));
	free(ctl_ok(a, "add target web 127.0.0.1:%u", dp));
	px_connect_n(&a->p, 4);
	fix_assert_counts(&f, "D in A's slot", 1, 4 + 2, 2);
	fix_stop(&f);
	cr_expect_eq(px_stat(&a->p, "drain_reset"), 1);
	cr_expect_eq(px_stat(&a->p, "admin_errors"), 2);
	fix_free(&f);
}

/* set weight changes the split of new connections. */
T_TEST(admin, set_weight_splits_round_robin, .timeout = 30)
{
	struct fix f;
	fix_start(&f, 2, NULL);
	struct adm *a = &f.a;
	uint16_t bp = f.port[1];
	free(ctl_ok(a, "set weight web 127.0.0.1:%u 3", bp));
	px_assert(&a->p, t_nlb_log_contains(a->p.nlb, "in group web: weight 1 -> 3"));
	px_connect_n(&a->p, 8);
	fix_assert_counts(&f, "weights 1:3 over 8 connections", 2, 6, 0);
	free(ctl_ok(a, "set weight web 127.0.0.1:%u 0", bp));
	px_connect_n(&a->p, 3);
	fix_assert_counts(&f, "weight 0", 2 + 3, 6, 0);
	char line[512];
	target_line(a, bp, line, sizeof(line));
	px_assert(&a->p, kv(line, "weight") == 0 && strstr(line, "state=active"), "%s", line);

	ctl_error(a, "weight must be an integer from 0 to 1000 (got \"1001\")",
		  "set weight web 127.0.0.1:%u 1001", bp);
	ctl_error(a, "weight must be", "set weight web 127.0.0.1:%u -1", bp);
	ctl_error(a, "no target 127.0.0.1:1 in group web", "set weight web 127.0.0.1:1 2");
	fix_stop(&f);
	fix_free(&f);
}

/* show targets, show listeners and show stats after known traffic: four
 * connections, three closed, one open. */
T_TEST(admin, show_output_after_traffic, .timeout = 30)
{
	struct fix f;
	fix_start(&f, 1, NULL);
	struct adm *a = &f.a;
	free(ctl_ok(a, "add target web 127.0.0.1:%u weight 2", f.port[1]));
	px_connect_n(&a->p, 3);
	int c = px_connect(&a->p);
	px_round_trip_ok(&a->p, c, "the open one");
	px_assert(&a->p, ctl_wait(a, "show stats", "\nactive=1\n", 3000) == 0 &&
		  ctl_wait(a, "show stats", "\nclosed=3\n", 3000) == 0,
		  "show stats never said active=1 closed=3");

	char *out = ctl_ok(a, "show stats");
	char line[512];
	px_assert(&a->p, find_line(out, "accepted=", line, sizeof(line)) &&
		  kv(line, "accepted") == 4, "show stats: %s", out);
	px_assert(&a->p, strstr(out, "\nbytes_in=16\n") && strstr(out, "\nbytes_out=16\n") &&
		  strstr(out, "\nno_target=0\n") && strstr(out, "\nadmin_errors=0\n"),
		  "show stats: %s", out);
	unsigned lines = 0;
	for (const char *p = out; (p = strchr(p, '\n')) != NULL; p++)
		lines++;
	free(out);

	out = ctl_ok(a, "show listeners");
	char want[128];
	snprintf(want, sizeof(want), "listener=web protocol=tcp address=127.0.0.1:%u group=web "
		 "connections=1\n", a->p.conf.listen_port);
	px_assert(&a->p, strcmp(out, want) == 0, "show listeners: \"%s\", want \"%s\"", out,
		  want);
	free(out);

	out = ctl_ok(a, "show targets");
	long long conns = 0;
	unsigned targets = 0;
	for (unsigned i = 0; i < 2; i++) {
		char needle[128];
		snprintf(needle, sizeof(needle), "group=web target=127.0.0.1:%u weight=%u "
			 "health=unchecked state=active connections=", f.port[i], i + 1);
		if (find_line(out, needle, line, sizeof(line))) {
			targets++;
			conns += kv(line, "connections");
		}
	}
	px_assert(&a->p, targets == 2 && conns == 1, "show targets (want both, 1 connection "
		  "between them): %s", out);
	free(out);
	ctl_error(a, "unknown target group \"nope\"", "show targets nope");

	t_close(c);
	fix_stop(&f);
	/* The exit line has the same counters as show stats. */
	char *log = t_nlb_log(a->p.nlb);
	char stats[4096];
	px_assert(&a->p, find_line(log, "msg=\"stats ", stats, sizeof(stats)));
	unsigned fields = 0;
	for (const char *p = stats; (p = strchr(p, '=')) != NULL; p++)
		fields++;
	free(log);
	px_assert(&a->p, fields == lines + 3, "show stats has %u lines, the stats line %u "
		  "counters", lines, fields - 3);	/* ts=, level=, msg= */
	cr_expect_eq(px_stat(&a->p, "admin_errors"), 1);
	cr_expect_eq(px_stat(&a->p, "accepted"), 4);
	fix_free(&f);
}

/* With a health check, an added target starts "initial" and is shown
 * with its state as the probes find it. */
T_TEST(admin, show_health_of_added_targets, .timeout = 30)
{
	struct t_blackhole *bh = t_blackhole_start();
	T_ASSERT(bh);
	struct fix f;
	fix_start(&f, 1, "health_check = { interval_ms = 100; timeout_ms = 10000; "
		  "healthy_threshold = 1; };");
	struct adm *a = &f.a;
	char want[128];
	snprintf(want, sizeof(want), "target 127.0.0.1:%u in group web: initial -> healthy",
		 f.port[0]);
	px_assert(&a->p, t_nlb_log_wait(a->p.nlb, want, 3000) == 0, "A never passed");

	/* A probe of the black hole stays pending for 10 s: still initial. */
	free(ctl_ok(a, "add target web 127.0.0.1:%u weight 2", bh->port));
	free(ctl_ok(a, "add target web 127.0.0.1:%u", f.port[1]));
	char line[512];
	target_line(a, bh->port, line, sizeof(line));
	px_assert(&a->p, strstr(line, "weight=2 health=initial state=active"), "%s", line);
	snprintf(want, sizeof(want), "target 127.0.0.1:%u in group web: initial -> healthy",
		 f.port[1]);
	px_assert(&a->p, t_nlb_log_wait(a->p.nlb, want, 3000) == 0, "the added B never passed");
	target_line(a, f.port[1], line, sizeof(line));
	px_assert(&a->p, strstr(line, "weight=1 health=healthy state=active"), "%s", line);
	fix_stop(&f);
	fix_free(&f);
	t_blackhole_free(bh);
}

static void rewrite_config(struct adm *a, const char *text)
{
	FILE *f = fopen(a->p.conf_path, "w");
	T_ASSERT(f && fputs(text, f) >= 0 && fclose(f) == 0, ": writing %s", a->p.conf_path);
}

/* reload through the socket: the file's changes applied with the summary
 * line; a target added through the socket and absent from the file is
 * removed (the file is the truth); a broken file is an error with its
 * file:line and nothing changes. */
T_TEST(admin, reload_through_socket, .timeout = 30)
{
	struct fix f;
	fix_start(&f, 1, "deregistration_delay_ms = 0;");
	struct adm *a = &f.a;
	free(ctl_ok(a, "add target web 127.0.0.1:%u", f.port[1]));

	/* The file now lists A and C; B is the admin socket's only. */
	px_target(&a->p, f.port[2]);
	char *text = adm_conf_text(a);
	rewrite_config(a, text);
	free(text);
	char *out = ctl_ok(a, "reload");
	px_assert(&a->p, strstr(out, "applied: targets added=1 removed=1 reweighted=0 "
			    "returned=0; target groups added=0 removed=0; listeners added=0 removed=0; "
			    "0 changes need a "
			    "restart"), "reload: %s", out);
	free(out);
	char line[512];
	target_line(a, f.port[1], line, sizeof(line));
	px_assert(&a->p, line[0] == '\0' || strstr(line, "state=draining"),
		  "B, absent from the file, is still active: %s", line);
	px_connect_n(&a->p, 4);
	fix_assert_counts(&f, "after the reload", 2, 0, 2);

	rewrite_config(a, "workers = 1;\nlisteners = (\n  { name = 1; }\n);\n");
	char want[PATH_MAX + 16];
	snprintf(want, sizeof(want), "nlbctl: %s:3: ", a->p.conf_path);
	ctl_error(a, want, "reload");
	px_assert(&a->p, t_nlb_log_contains(a->p.nlb, "reload failed, still running"));
	px_connect_n(&a->p, 2);
	fix_assert_counts(&f, "after the refused reload", 3, 0, 3);
	fix_stop(&f);
	fix_free(&f);
}

/* Bad input on the socket: each bad line gets an error line, an oversized
 * one closes the connection after its error, and nlb serves on. */
T_TEST(admin, bad_input_is_refused, .timeout = 30)
{
	struct fix f;
	fix_start(&f, 1, NULL);
	struct adm *a = &f.a;
	struct raw r;
	px_assert(&a->p, raw_connect(a->sock, &r) == 0, "connect to %s", a->sock);
	char final[1024];
	static const struct {
		const char *line;
		size_t len;
		const char *want;
	} bad[] = {
#define BAD(text, want) { text, sizeof(text) - 1, want }
		BAD("frobnicate\n", "error: unknown command \"frobnicate\""),
		BAD("show everything\n", "error: unknown command \"show everything\""),
		BAD("add target\n", "error: usage: add target GROUP ADDR [weight N]"),
		BAD("add target web\n", "error: usage: add target GROUP ADDR [weight N]"),
		BAD("show stats now please\n", "error: usage: show stats"),
		BAD("a b c d e f g h i j\n", "error: unknown command \"a\""),
		BAD("add target web 127.0.0.1\n", "error: bad address \"127.0.0.1\""),
		BAD("add target web localhost:80\n", "error: bad address \"localhost:80\""),
		BAD("add target web 127.0.0.1:0\n", "error: bad address"),
		BAD("add target web 127.0.0.1:9 wait 3\n", "error: usage: add target"),
		BAD("add target api 127.0.0.1:9\n", "error: unknown target group \"api\""),
		BAD("drain target web 127.0.0.1:9\n", "error: no target 127.0.0.1:9 in group web"),
		BAD("\x01\x02\xfe\xff garbage\x7f\r\n",
		    "error: unknown command \"\\x01\\x02\\xfe\\xff\""),
		BAD("show\0stats\n", "error: NUL byte in the command line"),
		BAD("\0\0\0\n", "error: NUL byte in the command line"),
#undef BAD
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		raw_expect_error(a, &r, bad[i].line, bad[i].len, final, sizeof(final));
		px_assert(&a->p, strncmp(final, bad[i].want, strlen(bad[i].want)) == 0,
			  "line %zu: \"%s\", want \"%s...\"", i, final, bad[i].want);
	}
	/* Empty lines are no command: no reply; the connection goes on. */
	const char *empty = "\n \t\n\r\nhelp\n";
	px_assert(&a->p, raw_send(&r, empty, strlen(empty)) == 0);
	unsigned data = 0;
	px_assert(&a->p, raw_reply(&r, final, sizeof(final), &data) == 1 && data >= 8,
		  "help after empty lines: \"%s\" after %u lines", final, data);

	/* 5000 bytes with no end of line: an error, then the close. */
	char *big = malloc(5000);
	T_ASSERT(big);
	memset(big, 'x', 5000);
	raw_expect_error(a, &r, big, 5000, final, sizeof(final));
	free(big);
	px_assert(&a->p, strcmp(final, "error: line longer than 4096 bytes; closing the "
			    "connection") == 0, "%s", final);
	int rc = raw_line(&r, final, sizeof(final), 3000);
	px_assert(&a->p, rc == -EPIPE, "after the oversized line: %d, want EOF", rc);
	close(r.fd);

	/* A line of exactly 4096 bytes is a line (an unknown command). */
	px_assert(&a->p, raw_connect(a->sock, &r) == 0);
	char *max = malloc(4097);
	T_ASSERT(max);
	memset(max, 'y', 4096);
	max[4096] = '\n';
	raw_expect_error(a, &r, max, 4097, final, sizeof(final));
	free(max);
	px_assert(&a->p, strstr(final, "unknown command \"yyyy"), "%s", final);

	/* Half-closed: the last command without '\n', then our FIN. */
	px_assert(&a->p, raw_send(&r, "show listeners", 14) == 0 && shutdown(r.fd, SHUT_WR) == 0);
	px_assert(&a->p, raw_reply(&r, final, sizeof(final), &data) == 1 && data == 1,
		  "half-closed show listeners: \"%s\"", final);
	px_assert(&a->p, raw_line(&r, final, sizeof(final), 3000) == -EPIPE);
	close(r.fd);

	/* Closed at once after two commands, without reading the replies. */
	px_assert(&a->p, raw_connect(a->sock, &r) == 0);
	const char *two = "show stats\nshow targets\n";
	px_assert(&a->p, raw_send(&r, two, strlen(two)) == 0);
	close(r.fd);

	int c = px_connect(&a->p);
	px_round_trip_ok(&a->p, c, "after the bad input");
	t_close(c);
	char *out = ctl_ok(a, "show stats");
	px_assert(&a->p, strstr(out, "\nadmin_errors=17\n"), "show stats: %s", out);
	free(out);
	fix_stop(&f);
	cr_expect_eq(px_stat(&a->p, "admin_errors"), 17);
	fix_free(&f);
}

/* Many clients at once: 16 are served together, the rest wait in the
 * backlog until one of those leaves, and every one is answered. */
T_TEST(admin, many_clients_wait_their_turn, .timeout = 30)
{
	struct fix f;
	fix_start(&f, 1, NULL);
	struct adm *a = &f.a;
	enum { N = 24, SERVED = 16 };
	struct raw *r = calloc(N, sizeof(*r));
	T_ASSERT(r);
	for (int i = 0; i < N; i++) {
		px_assert(&a->p, raw_connect(a->sock, &r[i]) == 0, "client %d", i);
		px_assert(&a->p, raw_send(&r[i], "show listeners\n", 15) == 0);
	}
	char final[256];
	for (int i = 0; i < SERVED; i++)
		px_assert(&a->p, raw_reply(&r[i], final, sizeof(final), NULL) == 1,
			  "client %d of the first 16: \"%s\"", i, final);
	struct pollfd pfd = { .fd = r[SERVED].fd, .events = POLLIN };
	px_assert(&a->p, poll(&pfd, 1, 200) == 0, "a 17th client was served with 16 open");
	for (int i = 0; i < SERVED; i++)
		close(r[i].fd);
	for (int i = SERVED; i < N; i++) {
		px_assert(&a->p, raw_reply(&r[i], final, sizeof(final), NULL) == 1,
			  "client %d, after the first 16 left: \"%s\"", i, final);
		close(r[i].fd);
	}
	free(r);
	int c = px_connect(&a->p);
	px_round_trip_ok(&a->p, c, "after 24 admin clients");
	t_close(c);
	fix_stop(&f);
	cr_expect_eq(px_stat(&a->p, "admin_commands"), N);
	fix_free(&f);
}

/* The socket file: its mode is exactly the configured one whatever the
 * umask, missing directories are made (0755), and it is gone after exit. */
static void check_mode(unsigned mode, mode_t umask_now, const char *subdir)
{
	struct adm a;
	adm_init(&a, mode);
	if (subdir) {
		char dir[64];
		snprintf(dir, sizeof(dir), "%s", a.dir);
		snprintf(a.sock, sizeof(a.sock), "%s/%s/admin.sock", dir, subdir);
	}
	px_target(&a.p, t_free_port());	/* no traffic here */
	mode_t old = umask(umask_now);
	adm_start(&a);
	umask(old);
	struct stat st;
	px_assert(&a.p, stat(a.sock, &st) == 0 && S_ISSOCK(st.st_mode), "%s is not a socket",
		  a.sock);
	px_assert(&a.p, (st.st_mode & 07777) == mode, "mode %04o with umask %03o, want %04o",
		  (unsigned)(st.st_mode & 07777), (unsigned)umask_now, mode);
	char dir[128];
	snprintf(dir, sizeof(dir), "%s", a.sock);
	*strrchr(dir, '/') = '\0';
	px_assert(&a.p, stat(dir, &st) == 0 && (st.st_mode & 07777) == (subdir ? 0755 : 0700),
		  "directory %s has mode %04o", dir, (unsigned)(st.st_mode & 07777));
	free(ctl_ok(&a, "show listeners"));
	px_stop_ok(&a.p);
	px_assert(&a.p, access(a.sock, F_OK) < 0 && errno == ENOENT, "%s is left after exit",
		  a.sock);
	if (subdir) {
		rmdir(dir);
		*strrchr(dir, '/') = '\0';
		rmdir(dir);
	}
	adm_free(&a);
}

T_TEST(admin, socket_mode_0600, .timeout = 30)
{
	check_mode(0600, 022, NULL);
}

T_TEST(admin, socket_mode_0660_any_umask, .timeout = 30)
{
	check_mode(0660, 0, NULL);
	check_mode(0660, 077, "run/nlb");
}

/* Runs nlb on a's configuration, expecting it to refuse to start with
 * reason in its log. */
static void expect_refused(struct adm *a, const char *reason)
{
	char *text = adm_conf_text(a);
	a->p.conf_path = t_write_config("%s", text);
	free(text);
	struct t_nlb *h = t_nlb_start(a->p.conf_path);
	T_ASSERT(h);
	int rc = t_nlb_wait(h, 5000);
	char *log = t_nlb_log(h);
	bool ok = rc == 1 && log && strstr(log, reason);
	if (!ok)
		t_nlb_dump_log(h, "nlb started");
	free(log);
	t_nlb_free(h);
	T_ASSERT(ok, ": exit %d (want 1 and \"%s\" in the log)", rc, reason);
}

/* A stale socket file is replaced; any other file, or a socket another
 * nlb serves, stops nlb at start with the reason, unless it is started
 * with -u (a binary upgrade), which takes the socket over. */
T_TEST(admin, socket_file_kept_or_replaced, .timeout = 30)
{
	struct adm a;
	adm_init(&a, 0600);
	px_target(&a.p, t_free_port());

	/* A regular file where the socket goes: refused, left alone. */
	FILE *f = fopen(a.sock, "w");
	T_ASSERT(f && fputs("keep me\n", f) >= 0 && fclose(f) == 0);
	expect_refused(&a, "the file exists and is not a socket");
	char *kept = t_file_read(a.sock, NULL);
	T_ASSERT(kept && strcmp(kept, "keep me\n") == 0, ": the file was changed");
	free(kept);
	unlink(a.sock);

	/* A socket file nobody listens on (an nlb killed with -9). */
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", a.sock);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	T_ASSERT(s >= 0 && bind(s, (struct sockaddr *)&sun, sizeof(sun)) == 0);
	close(s);
	px_spawn(&a.p, a.p.conf_path);
	free(ctl_ok(&a, "show stats"));

	/* A second nlb (another port) on the same socket: refused. */
	struct adm b;
	adm_init(&b, 0600);
	snprintf(b.sock, sizeof(b.sock), "%s", a.sock);
	px_target(&b.p, t_free_port());
	expect_refused(&b, "in use by another process (another nlb? for a binary upgrade, "
		       "start the new one with -u)");
	free(ctl_ok(&a, "show stats"));

	/* The same with -u, a binary upgrade: the new nlb takes the socket
	 * over; the old one, stopping, leaves the new one's file. */
	const char *argv[] = { t_nlb_bin(), "-u", "-c", b.p.conf_path, NULL };
	b.p.nlb = t_spawn(argv, NULL);
	T_ASSERT(b.p.nlb);
	px_assert(&b.p, t_nlb_log_wait(b.p.nlb, " running: ", 10000) == 0, "nlb -u did not start");
	px_assert(&b.p, t_nlb_log_wait(b.p.nlb, "taken over from the running nlb (-u)", 10) == 0,
		  "no word of the takeover");
	int64_t before = -1, after = -1;
	T_ASSERT(t_admin_stat(a.sock, "admin_commands", &before) == 0);
	px_stop_ok(&a.p);
	T_ASSERT(t_admin_stat(a.sock, "admin_commands", &after) == 0, ": the socket went with "
		 "the old nlb");
	T_ASSERT(after == before + 1, ": the socket is not the new nlb's (%lld, then %lld)",
		 (long long)before, (long long)after);
	px_stop_ok(&b.p);
	t_nlb_free(b.p.nlb);
	t_file_remove(b.p.conf_path);
	rmdir(b.dir);
	adm_free(&a);
}

/* nlbctl's exit codes: 0 ok, 1 an error from nlb (its message on
 * stderr), 2 usage errors and sockets it cannot reach. */
T_TEST(admin, nlbctl_exit_codes, .timeout = 30)
{
	struct fix f;
	fix_start(&f, 1, NULL);
	struct adm *a = &f.a;
	char *out = ctl_ok(a, "help");
	px_assert(&a->p, strstr(out, "add target GROUP ADDR [weight N]") && !strstr(out, "\nok"),
		  "help: %s", out);
	free(out);
	out = ctl_expect(a, 1, "drain target nope 127.0.0.1:1");
	px_assert(&a->p, strcmp(out, "nlbctl: unknown target group \"nope\"\n") == 0, "%s", out);
	free(out);
	ctl_error(a, "unknown command \"fly\"", "fly");

	/* The socket from the environment when there is no -s. */
	setenv("NLB_ADMIN_SOCKET", a->sock, 1);
	int rc = ctl_run(NULL, &out, "show listeners");
	px_assert(&a->p, rc == 0 && strstr(out, "listener=web "), "NLB_ADMIN_SOCKET: exit %d, %s",
		  rc, out ? out : "");
	free(out);

	char missing[128];
	snprintf(missing, sizeof(missing), "%s/none.sock", a->dir);
	rc = ctl_run(missing, &out, "show stats");
	px_assert(&a->p, rc == 2 && strstr(out, missing) && strstr(out, "No such file"),
		  "unreachable socket: exit %d, %s", rc, out ? out : "");
	free(out);
	rc = ctl_run(a->sock, &out, "%s", "");
	px_assert(&a->p, rc == 2 && strstr(out, "usage: nlbctl"), "no command: exit %d, %s", rc,
		  out ? out : "");
	free(out);
	rc = ctl_run(a->sock, &out, "-x show stats");
	px_assert(&a->p, rc == 2, "unknown option: exit %d, %s", rc, out ? out : "");
	free(out);
	fix_stop(&f);

	/* nlb gone: its socket file with it, so nothing to reach. */
	rc = ctl_run(a->sock, &out, "show stats");
	px_assert(&a->p, rc == 2 && strstr(out, "cannot connect to"), "after exit: %d, %s", rc,
		  out ? out : "");
	free(out);
	unsetenv("NLB_ADMIN_SOCKET");
	fix_free(&f);
}
