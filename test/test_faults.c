/* Suite "faults": issue 22's faults, each against the real nlb.  A target
 * killed mid-transfer, a target that never reads, a client that never
 * reads, clients that trickle a byte at a time into a PROXY header, a TLS
 * handshake and an HTTP head, a completion queue too small for the load,
 * a memory budget inside a memory-limited cgroup, SIGHUP while the file
 * is being rewritten, SIGKILL of either process in a binary upgrade, and
 * a restart after SIGKILL.  What each must show is in its comment;
 * doc/hardening.md lists them with the faults other suites cover
 * (descriptor exhaustion, black-holed SYNs). */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "px.h"

TestSuite(faults, .init = t_setup, .fini = t_teardown, .timeout = 60);

/* Writes fd's stream seed without reading until a write has had to wait
 * stall_ms (backpressure) or limit bytes went; the bytes written. */
static uint64_t write_until_stalled(int fd, uint64_t seed, int stall_ms, uint64_t limit,
				    bool *stalled)
{
	static char buf[T_CHUNK];
	uint64_t off = 0;
	*stalled = false;
	while (off < limit) {
		t_pattern_fill(buf, off, sizeof(buf), seed);
		ssize_t n = send(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			off += (uint64_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			break;
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		if (poll(&p, 1, stall_ms) == 0) {
			*stalled = true;
			break;
		}
	}
	return off;
}

/* ---- targets that die or stall ---------------------------------------- */

/* The target is SIGKILLed while the client is sending: its kernel resets
 * the connection (data it never read), and nlb must pass the reset on to
 * the client at once rather than leave it waiting for an idle timeout. */
static void target_killed(const char *fwd)
{
	uint16_t tport = t_free_port();
	struct t_nlb *target = t_bench_echo(tport);
	struct px p;
	px_init(&p, fwd);
	px_target(&p, tport);
	px_start(&p);

	int fd = px_connect(&p);
	px_round_trip_ok(&p, fd, "before the kill");
	/* The client does not read: the echo stalls, and the target's
	 * receive queue fills with what it has not read. */
	bool stalled;
	uint64_t sent = write_until_stalled(fd, 1, 500, 256u << 20, &stalled);
	px_assert(&p, stalled, "the client was never held back (%" PRIu64 " bytes sent)", sent);
	T_ASSERT(kill(target->pid, SIGKILL) == 0);
	int64_t t0 = t_now_ms();
	int rc = t_wait_closed(fd, 5000);
	int64_t took = t_now_ms() - t0;
	t_close(fd);
	px_assert(&p, rc == -ECONNRESET, "client saw %s after the target was killed, want a reset",
		  t_closed_how(rc));
	cr_log_info("%s: reset %" PRId64 " ms after the kill, %" PRIu64 " bytes sent", fwd, took,
		    sent);
	t_nlb_wait(target, 5000);
	t_nlb_free(target);
	px_stop_ok(&p);
	cr_expect_geq(px_stat(&p, "target_reset"), 1, "nlb did not see the target's reset");
	cr_expect_eq(px_stat(&p, "active"), 0);
	px_free(&p);
}

T_TEST(faults, target_killed_mid_transfer_copy) { target_killed("copy"); }
T_TEST(faults, target_killed_mid_transfer_splice) { target_killed("splice"); }

/* Bound on what one stalled connection may hold between the two ends:
 * the kernel's socket buffers on loopback (up to 4 MiB to send and 6 MiB
 * to receive on each of the two sockets on the way) and nlb's own 128 KiB
 * or pipe; nlb itself must not grow by what it cannot deliver. */
#define STALL_BYTES_MAX (40u << 20)
#define STALL_RSS_GROWTH_KB (16 * 1024)

/* A target that accepts and never reads: the client's writes must stop
 * (backpressure reaches it) after a bounded amount, and nlb's memory
 * must not grow with what the client would send. */
static void target_never_reads(const char *fwd)
{
	struct t_server *silent = t_server_start(T_SRV_SILENT, 0);
	T_ASSERT(silent);
	struct px p;
	px_init(&p, fwd);
	px_target(&p, t_server_port(silent));
	px_start(&p);
	long rss0 = t_proc_rss_kb(p.nlb->pid);
	enum { CONNS = 2 };
	int fds[CONNS];
	uint64_t total = 0;
	for (int i = 0; i < CONNS; i++) {
		fds[i] = px_connect(&p);
		bool stalled;
		uint64_t sent = write_until_stalled(fds[i], (uint64_t)i, 1000, 1u << 30, &stalled);
		px_assert(&p, stalled, "connection %d: %" PRIu64 " bytes and still not held back", i,
			  sent);
		px_assert(&p, sent < STALL_BYTES_MAX,
			  "connection %d: %" PRIu64 " bytes taken before backpressure", i, sent);
		total += sent;
	}
	long rss1 = t_proc_rss_kb(p.nlb->pid);
	cr_log_info("%s: %d connections held back after %" PRIu64 " bytes in all; nlb's RSS %ld -> %ld KiB",
		    fwd, CONNS, total, rss0, rss1);
	px_assert(&p, rss1 - rss0 < STALL_RSS_GROWTH_KB, "nlb grew from %ld to %ld KiB", rss0, rss1);
	for (int i = 0; i < CONNS; i++)
		t_close(fds[i]);
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "nomem"), 0);
	px_free(&p);
	t_server_free(silent);
}

T_TEST(faults, target_never_reads_copy) { target_never_reads("copy"); }
T_TEST(faults, target_never_reads_splice) { target_never_reads("splice"); }

/* A target that writes its stream (seed 7) until the client has not read
 * for a second, then ends it: how much it wrote. */
struct source {
	int lfd;
	uint16_t port;
	pthread_t thread;
	uint64_t written;
	bool stalled;
	int err;
	atomic_bool done;	/* written and stalled are final */
};

static void *source_run(void *arg)
{
	struct source *s = arg;
	int fd = accept(s->lfd, NULL, NULL);
	if (fd < 0) {
		s->err = errno;
		atomic_store(&s->done, true);
		return NULL;
	}
	s->written = write_until_stalled(fd, 7, 1000, 1u << 30, &s->stalled);
	atomic_store(&s->done, true);
	shutdown(fd, SHUT_WR);
	/* the client reads it all, then closes */
	char b[256];
	while (recv(fd, b, sizeof(b), 0) > 0)
		;
	close(fd);
	return NULL;
}

static void source_start(struct source *s)
{
	memset(s, 0, sizeof(*s));
	s->port = t_free_port();
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	T_ASSERT(s->lfd >= 0);
	int one = 1;
	setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(s->port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	T_ASSERT(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(s->lfd, 8) == 0);
	T_ASSERT(pthread_create(&s->thread, NULL, source_run, s) == 0);
}

/* A client that never reads: the target's writes stop after a bounded
 * amount, nlb does not grow, and when the client reads at last every
 * byte arrives in order. */
static void client_never_reads(const char *fwd)
{
	struct source src;
	source_start(&src);
	struct px p;
	px_init(&p, fwd);
	px_target(&p, src.port);
	px_start(&p);
	long rss0 = t_proc_rss_kb(p.nlb->pid);
	int fd = px_connect(&p);
	/* the target stops when it has been held back for a second */
	int64_t deadline = t_now_ms() + 30000;
	while (!atomic_load(&src.done) && t_now_ms() < deadline)
		t_sleep_ms(50);
	long rss1 = t_proc_rss_kb(p.nlb->pid);
	px_assert(&p, src.stalled, "the target was never held back");
	px_assert(&p, src.written < STALL_BYTES_MAX, "the target wrote %" PRIu64 " bytes unread",
		  src.written);
	px_assert(&p, rss1 - rss0 < STALL_RSS_GROWTH_KB, "nlb grew from %ld to %ld KiB", rss0, rss1);
	/* now read it all: nothing lost, nothing out of order */
	uint64_t sum = T_SUM_INIT, got = 0;
	static char buf[T_CHUNK];
	for (;;) {
		ssize_t n = t_read_full(fd, buf, sizeof(buf), 10000);
		if (n <= 0)
			break;
		sum = t_sum_update(sum, buf, (size_t)n);
		got += (uint64_t)n;
		if ((size_t)n < sizeof(buf))
			break;
	}
	t_close(fd);
	pthread_join(src.thread, NULL);
	close(src.lfd);
	cr_log_info("%s: target held back after %" PRIu64 " bytes; nlb's RSS %ld -> %ld KiB", fwd,
		    src.written, rss0, rss1);
	cr_expect_eq(got, src.written, "client read %" PRIu64 " of %" PRIu64 " bytes", got,
		     src.written);
	cr_expect_eq(sum, t_pattern_sum(7, src.written), "the bytes differ from what was sent");
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "nomem"), 0);
	px_free(&p);
}

T_TEST(faults, client_never_reads_copy) { client_never_reads("copy"); }
T_TEST(faults, client_never_reads_splice) { client_never_reads("splice"); }

/* ---- slow clients ------------------------------------------------------ */

/* Sends msg a byte every every_ms, never finishing it, and reads what
 * comes back, until nlb ends the connection: 0 at EOF, -ECONNRESET, or
 * -ETIMEDOUT after timeout_ms.  *took: from the first byte to the end. */
static int trickle(int fd, const char *msg, size_t len, int every_ms, int timeout_ms,
		   char *got, size_t cap, int64_t *took)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	int64_t t0 = t_now_ms(), deadline = t0 + timeout_ms;
	size_t sent = 0, n_got = 0;
	int rc = -ETIMEDOUT;
	got[0] = '\0';
	while (t_now_ms() < deadline) {
		if (sent < len && send(fd, msg + sent, 1, MSG_NOSIGNAL) == 1)
			sent++;
		int64_t next = t_now_ms() + every_ms;
		bool ended = false;
		while (!ended && t_now_ms() < next) {
			struct pollfd pf = { .fd = fd, .events = POLLIN };
			if (poll(&pf, 1, t_left_ms(next)) <= 0)
				continue;
			ssize_t n = recv(fd, got + n_got, cap - 1 - n_got, MSG_DONTWAIT);
			if (n > 0) {
				n_got += (size_t)n;
				got[n_got] = '\0';
				if (n_got + 1 >= cap)
					n_got = 0;
			} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
				rc = n == 0 ? 0 : -errno;
				ended = true;
			}
		}
		if (ended)
			break;
	}
	*took = t_now_ms() - t0;
	return rc;
}

/* The slow client's deadline is the whole phase's: bytes arriving do not
 * extend it.  With a 1 s timeout and a byte every 150 ms the client must
 * be gone in about a second, not left open as long as it keeps trickling. */
#define SLOW_TIMEOUT_MS 1000
#define SLOW_EVERY_MS 150
#define SLOW_GRACE_MS 1500	/* the tick and a loaded machine */

/* A client of p's trickling msg (len bytes, never finished) must be
 * ended by the phase's timeout; what nlb answered lands in got. */
static void slow_client(struct px *p, const char *msg, size_t len, char *got, size_t cap,
			const char *what)
{
	int64_t took;
	int fd = px_connect(p);
	int rc = trickle(fd, msg, len, SLOW_EVERY_MS, 10000, got, cap, &took);
	t_close(fd);
	px_assert(p, rc != -ETIMEDOUT, "%s: still open after %" PRId64 " ms of trickling", what,
		  took);
	px_assert(p, took >= SLOW_TIMEOUT_MS - 100 && took <= SLOW_TIMEOUT_MS + SLOW_GRACE_MS,
		  "%s: ended after %" PRId64 " ms, want about %d", what, took, SLOW_TIMEOUT_MS);
}

T_TEST(faults, slowloris_proxy_header)
{
	struct t_server *echo = t_server_start(T_SRV_ECHO, 0);
	struct px p;
	px_init(&p, "auto");
	px_target(&p, t_server_port(echo));
	char extra[128];
	snprintf(extra, sizeof(extra),
		 "accept_proxy_protocol = true; proxy_protocol_timeout_ms = %d;", SLOW_TIMEOUT_MS);
	p.conf.listener_extra = extra;
	px_start(&p);
	static const char hdr[] = "PROXY TCP4 192.0.2.1 192.0.2.2 40000 80";
	char got[256];
	slow_client(&p, hdr, sizeof(hdr) - 1, got, sizeof(got), "PROXY header");
	cr_expect_eq(t_server_accepted(echo), 0, "a target was connected for a header never sent");
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "proxy_header_timeout"), 1);
	px_free(&p);
	t_server_free(echo);
}

T_TEST(faults, slowloris_tls_handshake)
{
	struct t_tls t;
	T_ASSERT(t_tls_init(&t) == 0 && t_tls_leaf(&t, "a", "a.test", "DNS:a.test", "ec") == 0);
	struct t_server *echo = t_server_start(T_SRV_ECHO, 0);
	struct px p;
	px_init(&p, "auto");
	p.conf.protocol = "tls";
	char extra[512], pem[128], key[128];
	snprintf(extra, sizeof(extra),
		 "tls = { certificates = ( { cert = \"%s\"; key = \"%s\"; } ); handshake_timeout_ms = %d; };",
		 t_tls_path(&t, "a.pem", pem, sizeof(pem)), t_tls_path(&t, "a.key", key, sizeof(key)),
		 SLOW_TIMEOUT_MS);
	p.conf.listener_extra = extra;
	px_target(&p, t_server_port(echo));
	px_start(&p);
	/* the start of a ClientHello: a handshake record of 512 bytes */
	static const char hello[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"
				    "0123456789abcdef0123456789abcdef";
	char got[256];
	slow_client(&p, hello, sizeof(hello) - 1, got, sizeof(got), "TLS handshake");
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "tls_fail_timeout"), 1);
	px_free(&p);
	t_server_free(echo);
	t_tls_free(&t);
}

T_TEST(faults, slowloris_http_head)
{
	struct t_server *web = t_server_start(T_SRV_HTTP, 0);
	struct px p;
	px_init(&p, "auto");
	p.conf.protocol = "http";
	char extra[128];
	snprintf(extra, sizeof(extra), "request_timeout_ms = %d;", SLOW_TIMEOUT_MS);
	p.conf.listener_extra = extra;
	px_target(&p, t_server_port(web));
	px_start(&p);
	static const char head[] = "GET / HTTP/1.1\r\nHost: a.test\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaa";
	char got[1024];
	slow_client(&p, head, sizeof(head) - 1, got, sizeof(got), "HTTP head");
	cr_expect(strncmp(got, "HTTP/1.1 408", 12) == 0, "answer: %.60s, want a 408", got);
	cr_expect_eq(t_server_accepted(web), 0, "the target saw a request never finished");
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "http_elb_408"), 1);
	px_free(&p);
	t_server_free(web);
}

/* ---- the completion queue ---------------------------------------------- */

/* nlb-bench MODE against 127.0.0.1:port: its process (t_nlb_wait, then
 * load_ok). */
static struct t_nlb *load(const char *mode, uint16_t port, const char *conns, const char *secs)
{
	char addr[32];
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	const char *argv[] = { t_bench_bin(), mode, addr, "-t", "1", "-c", conns, "-d", secs,
			       "--timeout", "5000", "--json", NULL };
	struct t_nlb *l = t_spawn(argv, NULL);
	T_ASSERT(l);
	return l;
}

static void load_ok(struct px *p, struct t_nlb *l, const char *mode)
{
	int rc = t_nlb_wait(l, 60000);
	char *out = t_nlb_log(l);
	px_assert(p, rc == 0 && out && strstr(out, "\"errors_total\":0,") &&
		  !strstr(out, "\"responses\":0,"), "%s: exit %d: %s", mode, rc, out ? out : "");
	cr_log_info("%s: %s", mode, out);
	free(out);
	t_nlb_free(l);
}

/* A 16-entry completion queue under hundreds of connections and flows:
 * completions overflow, the multishot accepts and receives they end are
 * re-armed, and every request is still answered. */
T_TEST(faults, tiny_completion_queue, .timeout = 120)
{
	uint16_t tport = t_free_port();
	struct t_nlb *target = t_bench_echo(tport);
	uint16_t tcp_port = t_free_port(), udp_port = t_free_port();
	char *conf = t_write_config(
		"workers = 1; ring_cq_entries = 16;\n"
		"listeners = ( { name = \"t\"; protocol = \"tcp\"; address = \"127.0.0.1:%u\"; target_group = \"g\"; },\n"
		"  { name = \"u\"; protocol = \"udp\"; address = \"127.0.0.1:%u\"; target_group = \"g\"; } );\n"
		"target_groups = ( { name = \"g\"; targets = ( { address = \"127.0.0.1:%u\"; } ); } );\n",
		tcp_port, udp_port, tport);
	T_ASSERT(conf);
	struct px p;
	px_spawn_conf(&p, conf);
	struct t_nlb *rr = load("tcp_rr", tcp_port, "256", "3");
	struct t_nlb *crr = load("tcp_crr", tcp_port, "32", "3");
	struct t_nlb *urr = load("udp_rr", udp_port, "128", "3");
	load_ok(&p, rr, "tcp_rr");
	load_ok(&p, crr, "tcp_crr");
	load_ok(&p, urr, "udp_rr");
	px_assert(&p, t_nlb_log_contains(p.nlb, "completion queue overflowed"),
		  "the queue never overflowed: the test proves nothing");
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "nomem"), 0);
	cr_expect_eq(px_stat(&p, "udp_nomem"), 0);
	px_free(&p);
	kill(target->pid, SIGTERM);
	t_nlb_wait(target, 5000);
	t_nlb_free(target);
}

/* ---- reload --------------------------------------------------------------- */

/* Writes text into path in place (truncated, then a few bytes at a time
 * with a pause between: a slow editor or deploy tool). */
struct slow_writer {
	const char *path, *text;
	pthread_t thread;
	int err;
};

static void *slow_write(void *arg)
{
	struct slow_writer *sw = arg;
	int fd = open(sw->path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0) {
		sw->err = errno;
		return NULL;
	}
	size_t len = strlen(sw->text);
	for (size_t off = 0; off < len; off += 16) {
		size_t n = len - off < 16 ? len - off : 16;
		if (write(fd, sw->text + off, n) != (ssize_t)n) {
			sw->err = errno;
			break;
		}
		t_sleep_ms(15);
	}
	close(fd);
	return NULL;
}

/* The answer (a T_SRV_TAG target's port) through 127.0.0.1:port. */
static unsigned tag_through(uint16_t port)
{
	int fd = t_connect(port);
	if (fd < 0)
		return 0;
	char buf[16] = { 0 };
	unsigned tag = 0;
	if (t_write_all(fd, "?", 1) == 0 && t_read_full(fd, buf, 6, 3000) > 0)
		tag = (unsigned)strtoul(buf, NULL, 10);
	t_close(fd);
	return tag;
}

/* SIGHUP while the file is being rewritten in place: nlb must neither
 * take half a file nor refuse it for being half written, but apply the
 * whole new one once it is written. */
T_TEST(faults, sighup_while_the_file_is_rewritten)
{
	struct t_server *a = t_server_start(T_SRV_TAG, 0), *b = t_server_start(T_SRV_TAG, 0);
	T_ASSERT(a && b);
	uint16_t l1 = t_free_port(), l2 = t_free_port();
	static const char fmt[] =
		"workers = 1;\n"
		"listeners = ( { name = \"one\"; protocol = \"tcp\"; address = \"127.0.0.1:%u\";\n"
		"                target_group = \"%s\"; }%s );\n"
		"target_groups = ( { name = \"a\"; targets = ( { address = \"127.0.0.1:%u\"; } ); },\n"
		"                  { name = \"b\"; targets = ( { address = \"127.0.0.1:%u\"; } ); } );\n";
	char two[160];
	snprintf(two, sizeof(two),
		 ",\n              { name = \"two\"; protocol = \"tcp\"; address = \"127.0.0.1:%u\";\n"
		 "                target_group = \"b\"; }", l2);
	char *conf = t_write_config(fmt, l1, "a", "", t_server_port(a), t_server_port(b));
	T_ASSERT(conf);
	struct px p;
	px_spawn_conf(&p, conf);
	px_assert(&p, tag_through(l1) == t_server_port(a), "before: not target a");

	char *text = NULL;
	T_ASSERT(asprintf(&text, fmt, l1, "b", two, t_server_port(a), t_server_port(b)) > 0);
	char *full = t_config_text(text);
	T_ASSERT(full);
	struct slow_writer sw = { .path = p.conf_path, .text = full };
	int applied = t_nlb_log_count(p.nlb, " applied: targets");
	T_ASSERT(pthread_create(&sw.thread, NULL, slow_write, &sw) == 0);
	t_sleep_ms(60);		/* a few chunks in: the file is half written */
	px_assert(&p, kill(p.nlb->pid, SIGHUP) == 0, "SIGHUP");
	pthread_join(sw.thread, NULL);
	T_ASSERT(sw.err == 0, ": writing the file: %s", strerror(sw.err));
	px_assert(&p, t_nlb_log_wait(p.nlb, " applied: targets", 10000) == 0,
		  "the reload never applied");
	px_assert(&p, !t_nlb_log_contains(p.nlb, "reload failed"), "the half-written file was refused");
	cr_expect_eq(t_nlb_log_count(p.nlb, " applied: targets") - applied, 1, "one reload applied");
	px_assert(&p, t_nlb_wait_listening(p.nlb, l2, 5000) == 0, "the second half's listener is missing");
	cr_expect_eq(tag_through(l1), t_server_port(b), "listener one did not move to group b");
	cr_expect_eq(tag_through(l2), t_server_port(b), "listener two does not reach group b");
	px_stop_ok(&p);
	px_free(&p);
	free(full);
	free(text);
	t_server_free(a);
	t_server_free(b);
}

/* ---- a memory budget ------------------------------------------------------ */

#define MEMCG_ROOT "/sys/fs/cgroup/memory"

static int memcg_write(const char *dir, const char *file, const char *value)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	FILE *f = fopen(path, "w");
	if (!f)
		return -errno;
	int ok = fputs(value, f) >= 0;
	ok = (fclose(f) == 0) && ok;
	return ok ? 0 : -errno;
}

static long long memcg_read(const char *dir, const char *file)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	char *text = t_file_read(path, NULL);
	long long v = text ? strtoll(text, NULL, 10) : -1;
	free(text);
	return v;
}

/* memory.oom_control's "oom_kill N" (the cgroup's OOM kills). */
static long long memcg_oom_kills(const char *dir)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/memory.oom_control", dir);
	char *text = t_file_read(path, NULL);
	const char *p = text ? strstr(text, "oom_kill ") : NULL;
	long long v = p ? strtoll(p + 9, NULL, 10) : -1;
	free(text);
	return v;
}

/* Whether fd is still open at nlb's end: nothing to read, no error. */
static bool still_held(int fd)
{
	struct pollfd pf = { .fd = fd, .events = POLLIN | POLLRDHUP };
	return poll(&pf, 1, 0) == 0;
}

/* An HTTP head of about 60 KiB that never ends: nlb keeps it (a buffer of
 * max_header_bytes per client, touched as it fills) until its timeout. */
static int half_head(uint16_t port)
{
	static char head[60000];
	static const char start[] = "GET / HTTP/1.1\r\nHost: a.test\r\nX-Big: ";
	if (!head[0]) {
		memset(head, 'a', sizeof(head));
		memcpy(head, start, sizeof(start) - 1);
	}
	int fd = t_connect(port);
	if (fd < 0)
		return fd;
	if (t_write_all(fd, head, sizeof(head)) < 0) {
		t_close(fd);
		return -EPIPE;
	}
	return fd;
}

/* nlb with max_memory_mb = 64 in a memory cgroup limited to 192 MiB, and
 * clients that each make it hold 60 KiB: once over its budget it resets
 * new clients (counted), keeps every client it holds, is never near the
 * cgroup's limit (failcnt 0, no OOM kill), and takes clients again once
 * those it held are gone. */
T_TEST(faults, memory_budget_in_a_memory_cgroup, .timeout = 120)
{
	enum { BUDGET_MB = 64, LIMIT_MB = 192, MAX_CLIENTS = 4000 };
	struct stat st;
	if (stat(MEMCG_ROOT "/memory.limit_in_bytes", &st) != 0)
		cr_skip_test("no cgroup v1 memory controller at " MEMCG_ROOT);
	char cg[128], num[32];
	snprintf(cg, sizeof(cg), MEMCG_ROOT "/nlbt-%d-mem", (int)getpid());
	T_ASSERT(mkdir(cg, 0755) == 0 || errno == EEXIST, ": mkdir %s: %s", cg, strerror(errno));
	snprintf(num, sizeof(num), "%d", LIMIT_MB << 20);
	T_ASSERT(memcg_write(cg, "memory.limit_in_bytes", num) == 0);

	struct t_server *web = t_server_start(T_SRV_HTTP, 0);
	struct px p;
	px_init(&p, "auto");
	p.conf.protocol = "http";
	p.conf.listener_extra = "max_header_bytes = 65535; request_timeout_ms = 120000;";
	char top[64];
	snprintf(top, sizeof(top), "max_memory_mb = %d;", BUDGET_MB);
	p.conf.top_extra = top;
	px_target(&p, t_server_port(web));
	px_admin(&p);
	/* Built with AddressSanitizer, nlb's freed memory waits in its
	 * quarantine (256 MiB) and would never come back under the budget:
	 * this nlb goes without it.  Other builds ignore the variable. */
	const char *asan = getenv("ASAN_OPTIONS");
	char *asan_was = asan ? strdup(asan) : NULL;
	T_ASSERT(setenv("ASAN_OPTIONS", "quarantine_size_mb=0", 1) == 0);
	px_start(&p);
	if (asan_was)
		setenv("ASAN_OPTIONS", asan_was, 1);
	else
		unsetenv("ASAN_OPTIONS");
	free(asan_was);
	snprintf(num, sizeof(num), "%d", (int)p.nlb->pid);
	px_assert(&p, memcg_write(cg, "cgroup.procs", num) == 0, "moving nlb into %s", cg);

	static int fds[MAX_CLIENTS];
	int held = 0, refused = 0;
	for (int i = 0; i < MAX_CLIENTS && refused < 20; i++) {
		int fd = half_head(p.conf.listen_port);
		/* Held: nlb counts it open; refused: reset.  Decided only when
		 * one of the two shows (nlb may accept it a while later). */
		int64_t deadline = t_now_ms() + 5000, active = -1;
		while (fd >= 0 && still_held(fd) && t_now_ms() < deadline &&
		       !(t_admin_stat(p.admin_sock, "active", &active) == 0 && active > held))
			t_sleep_ms(1);
		if (fd >= 0 && active > held && still_held(fd)) {
			fds[held++] = fd;
			continue;
		}
		px_assert(&p, fd < 0 || !still_held(fd), "client %d neither held nor refused", i);
		if (fd >= 0)
			t_close(fd);
		refused++;
	}
	long rss_kb = t_proc_rss_kb(p.nlb->pid);
	cr_log_info("%d clients held, then %d refused; nlb's RSS %ld KiB; cgroup peak %lld KiB",
		    held, refused, rss_kb, memcg_read(cg, "memory.max_usage_in_bytes") >> 10);
	px_assert(&p, refused >= 20, "nlb took %d clients of 60 KiB under a %d MiB budget", held,
		  BUDGET_MB);
	px_assert(&p, t_nlb_log_contains(p.nlb, "refusing new connections"),
		  "clients failed, but not for the budget");
	int64_t counted = -1;
	px_assert(&p, t_admin_stat(p.admin_sock, "memory_refused", &counted) == 0 && counted >= 20,
		  "memory_refused = %" PRId64, counted);
	px_assert(&p, kill(p.nlb->pid, 0) == 0 && t_nlb_wait(p.nlb, 0) == -ETIMEDOUT,
		  "nlb is gone");
	cr_expect_eq(memcg_read(cg, "memory.failcnt"), 0, "nlb's cgroup reached its limit");
	cr_expect_eq(memcg_oom_kills(cg), 0, "the OOM killer ran in nlb's cgroup");
	cr_expect_leq(rss_kb, BUDGET_MB * 1024 * 5 / 4, "nlb at %ld KiB, far over its budget",
		      rss_kb);
	/* every client it held is still held */
	int lost = 0;
	for (int i = 0; i < held; i++)
		lost += !still_held(fds[i]);
	cr_expect_eq(lost, 0, "%d of %d held clients were dropped", lost, held);
	for (int i = 0; i < held; i++)
		t_close(fds[i]);
	px_assert(&p, t_nlb_log_wait(p.nlb, "taking new connections and flows again", 10000) == 0,
		  "nlb never came back under its budget");
	int fd = px_connect(&p);
	static const char req[] = "GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n";
	T_ASSERT(t_write_all(fd, req, sizeof(req) - 1) == 0);
	char buf[512];
	size_t got;
	cr_expect_eq(px_read_response(fd, buf, sizeof(buf), &got, 5000, false), 200,
		     "a client after the budget was freed");
	t_close(fd);
	px_stop_ok(&p);
	px_free(&p);
	t_server_free(web);
	rmdir(cg);
}
