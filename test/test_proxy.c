/* Suite "proxy": the real nlb binary ($NLB_BIN) proxying real connections
 * to in-process target servers, all on 127.0.0.1.  Owns the end-to-end
 * checks of the TCP contract: byte transparency, half-close, resets,
 * retries, timeouts, limits, draining, scale, and the command line.
 * Every test picks its own ports, so the suite runs with --jobs=2. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "helpers.h"
#include "px.h"

#define MiB (1024ULL * 1024)

TestSuite(proxy, .init = t_setup, .fini = t_teardown);

static void px_round_trip(struct px *p, int fd, const void *msg, size_t len)
{
	int rc = t_round_trip(fd, msg, len, 10000);
	px_assert(p, rc == 0, "round trip of %zu bytes: %s", len, strerror(-rc));
}

/* ---- 1. round trip ----------------------------------------------------- */

static void round_trip(const char *fwd)
{
	struct t_server *echo = t_server_start(T_SRV_ECHO, 0);
	T_ASSERT(echo, ": echo server: %s", strerror(errno));
	struct px p;
	px_init(&p, fwd);
	px_target(&p, t_server_port(echo));
	px_start(&p);

	int fd = px_connect(&p);
	static char big[256 * 1024];
	t_pattern_fill(big, 0, sizeof big, 7);
	px_round_trip(&p, fd, "hello\n", 6);
	px_round_trip(&p, fd, big, 1000);
	px_round_trip(&p, fd, big, sizeof big);
	px_round_trip(&p, fd, "x", 1);
	t_close(fd);

	/* Our FIN travels on: the echo server reads EOF, not a reset. */
	px_assert(&p, t_server_wait_closed(echo, 1, 5000) == 0,
		  "target never saw the connection end");
	struct t_conn_result r;
	T_ASSERT(t_server_result(echo, 0, &r) == 0);
	cr_expect_eq(r.end, T_END_EOF, "target saw %s, want EOF", t_end_name(r.end));
	cr_expect_eq(r.bytes_in, 6 + 1000 + sizeof big + 1);

	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "accepted"), 1);
	px_free(&p);
	t_server_free(echo);
}

T_TEST(proxy, round_trip_copy, .timeout = 30) { round_trip("copy"); }
T_TEST(proxy, round_trip_splice, .timeout = 30) { round_trip("splice"); }
T_TEST(proxy, round_trip_auto, .timeout = 30) { round_trip("auto"); }

/* ---- 2. 64 MiB each way at once ---------------------------------------- */

static void bulk(const char *fwd)
{
	const uint64_t len = 64 * MiB, up = 0xA11CE, down = 0xB0B;
	struct t_server_opts so = {
		.mode = T_SRV_SINK_SOURCE, .source_bytes = len, .source_seed = down,
	};
	struct t_server *srv = t_server_start_opts(&so);
	T_ASSERT(srv, ": sink/source server: %s", strerror(errno));
	struct px p;
	px_init(&p, fwd);
	px_target(&p, t_server_port(srv));
	px_start(&p);

	/* Computed before the clock starts: they cost ~0.1 s each. */
	uint64_t want_up = t_pattern_sum(up, len), want_down = t_pattern_sum(down, len);

	int fd = px_connect(&p);
	struct t_bulk_result r = { 0 };
	int64_t t0 = t_now_ms();
	int rc = t_bulk(fd, len, up, true, 45000, &r);
	int64_t ms = t_now_ms() - t0;
	t_close(fd);
	/* The target's view, for the failure message as much as the checks. */
	struct t_conn_result sr = { 0 };
	bool ended = t_server_wait_closed(srv, 1, 10000) == 0 &&
		     t_server_result(srv, 0, &sr) == 0;
	px_assert(&p, rc == 0, "client: %s after %" PRIu64 " sent, %" PRIu64
		  " received; target: %s after %" PRIu64 " received, %" PRIu64
		  " sent", strerror(-rc), r.sent, r.received,
		  ended ? t_end_name(sr.end) : "still open", sr.bytes_in, sr.bytes_out);
	fprintf(stderr, "proxy/bulk_%s: 2 x 64 MiB in %" PRId64 " ms\n", fwd, ms);
	cr_expect_eq(r.received, len, "client received %" PRIu64 " bytes", r.received);
	cr_expect_eq(r.sum, want_down, "client's checksum differs");

	px_assert(&p, ended, "target never finished");
	cr_expect_eq(sr.end, T_END_EOF, "target saw %s", t_end_name(sr.end));
	cr_expect_eq(sr.bytes_in, len, "target received %" PRIu64 " bytes", sr.bytes_in);
	cr_expect_eq(sr.sum_in, want_up, "target's checksum differs");
	cr_expect_eq(sr.bytes_out, len);

	px_stop_ok(&p);
	/* auto moves both bulk directions from copy to splice mid-stream;
	 * the checksums above prove no byte was lost or reordered on the way. */
	if (strcmp(fwd, "auto") == 0)
		cr_expect_eq(px_stat(&p, "auto_splice"), 2, "auto moved %" PRId64
			     " directions to splice (want 2)", px_stat(&p, "auto_splice"));
	px_free(&p);
	t_server_free(srv);
}

T_TEST(proxy, bulk_64mib_copy, .timeout = 60) { bulk("copy"); }
T_TEST(proxy, bulk_64mib_splice, .timeout = 60) { bulk("splice"); }
T_TEST(proxy, bulk_64mib_auto, .timeout = 60) { bulk("auto"); }

/* ---- 3. half-close ----------------------------------------------------- */

static void half_close(const char *fwd)
{
	struct t_server *srv = t_server_start(T_SRV_EOF_ANSWER, 0);
	T_ASSERT(srv);
	struct px p;
	px_init(&p, fwd);
	px_target(&p, t_server_port(srv));
	px_start(&p);

	int fd = px_connect(&p);
	char reply[128] = "";
	struct t_bulk_result r = { .keep = reply, .cap = sizeof reply - 1 };
	/* Sends 1 MiB, then SHUT_WR; the answer can only come after the
	 * target has read our EOF, and t_bulk returns 0 only on EOF. */
	int rc = t_bulk(fd, MiB, 33, true, 15000, &r);
	t_close(fd);
	px_assert(&p, rc == 0, "half-closed exchange: %s (received %" PRIu64
		  " bytes: \"%s\")", strerror(-rc), r.received, reply);
	char want[128];
	snprintf(want, sizeof want, "bytes=%llu sum=%016" PRIx64 "\n",
		 MiB, t_pattern_sum(33, MiB));
	cr_expect_str_eq(reply, want);
	cr_expect_eq(r.received, strlen(want));

	px_stop_ok(&p);
	px_free(&p);
	t_server_free(srv);
}

T_TEST(proxy, half_close_copy, .timeout = 30) { half_close("copy"); }
T_TEST(proxy, half_close_splice, .timeout = 30) { half_close("splice"); }
T_TEST(proxy, half_close_auto, .timeout = 30) { half_close("auto"); }

/* The other order: the target sends its answer and half-closes first, and
 * the client, having read that EOF, still sends 1 MiB the target must get
 * whole. */
static void half_close_target_first(const char *fwd)
{
	struct t_server_opts so = {
		.mode = T_SRV_SINK_SOURCE, .source_bytes = 1024, .source_seed = 5,
	};
	struct t_server *srv = t_server_start_opts(&so);
	T_ASSERT(srv);
	struct px p;
	px_init(&p, fwd);
	px_target(&p, t_server_port(srv));
	px_start(&p);

	int fd = px_connect(&p);
	char first[1024];
	ssize_t n = t_read_full(fd, first, sizeof first, 5000);
	px_assert(&p, n == (ssize_t)sizeof first, "target's 1 KiB: %zd (%s)", n,
		  n < 0 ? strerror((int)-n) : "short");
	cr_expect_eq(t_sum_update(T_SUM_INIT, first, sizeof first), t_pattern_sum(5, 1024));
	int rc = t_wait_closed(fd, 5000);
	px_assert(&p, rc == 0, "target's EOF: %s", t_closed_how(rc));

	struct t_bulk_result r = { 0 };
	rc = t_bulk(fd, MiB, 6, true, 10000, &r);
	t_close(fd);
	struct t_conn_result sr = { 0 };
	bool ended = t_server_wait_closed(srv, 1, 5000) == 0 &&
		     t_server_result(srv, 0, &sr) == 0;
	px_assert(&p, rc == 0, "sending after the target's EOF: %s after %" PRIu64
		  " sent; target: %s after %" PRIu64 " received", strerror(-rc),
		  r.sent, ended ? t_end_name(sr.end) : "still open", sr.bytes_in);
	px_assert(&p, ended, "target never saw our EOF");
	cr_expect_eq(sr.end, T_END_EOF, "target saw %s", t_end_name(sr.end));
	cr_expect_eq(sr.bytes_in, MiB);
	cr_expect_eq(sr.sum_in, t_pattern_sum(6, MiB));

	px_stop_ok(&p);
	px_free(&p);
	t_server_free(srv);
}

T_TEST(proxy, half_close_target_first_copy, .timeout = 30)
{
	half_close_target_first("copy");
}

T_TEST(proxy, half_close_target_first_splice, .timeout = 30)
{
	half_close_target_first("splice");
}

/* ---- 4. a refused target is retried on another ------------------------- */

T_TEST(proxy, refused_target_retried, .timeout = 30)
{
	struct t_server *echo = t_server_start(T_SRV_ECHO, 0);
	T_ASSERT(echo);
	struct px p;
	px_init(&p, "auto");
	px_target(&p, t_free_port());	/* nothing listens there */
	px_target(&p, t_server_port(echo));
	px_start(&p);

	for (int i = 0; i < 20; i++) {
		int fd = px_connect(&p);
		char msg[32];
		int len = snprintf(msg, sizeof msg, "conn %d\n", i);
		int rc = t_round_trip(fd, msg, (size_t)len, 5000);
		t_close(fd);
		px_assert(&p, rc == 0, "connection %d: %s", i, strerror(-rc));
	}
	px_stop_ok(&p);
	int64_t refused = px_stat(&p, "connect_refused");
	cr_expect_gt(refused, 0, "connect_refused = %" PRId64, refused);
	cr_expect_eq(px_stat(&p, "no_target"), 0);
	cr_expect_eq(t_server_accepted(echo), 20);
	px_free(&p);
	t_server_free(echo);
}

/* ---- 5. all targets down ----------------------------------------------- */

T_TEST(proxy, all_targets_down, .timeout = 30)
{
	/* Target A is an echo server stopped before nlb starts and restarted
	 * later on the same port; nothing ever listens on B. */
	struct t_server *echo = t_server_start(T_SRV_ECHO, 0);
	T_ASSERT(echo);
	t_server_stop(echo);
	uint16_t down_a = t_server_port(echo), down_b = t_free_port();
	struct px p;
	px_init(&p, "auto");
	px_target(&p, down_a);
	px_target(&p, down_b);
	p.conf.connect_timeout_ms = 2000;
	p.conf.connect_retries = 2;
	px_start(&p);

	for (int i = 0; i < 3; i++) {
		int fd = px_connect(&p);
		int64_t t0 = t_now_ms();
		/* Refusals on loopback are immediate, so anything near the
		 * 2 s connect timeout means nlb waited for nothing. */
		int rc = t_wait_closed(fd, 1000);
		int64_t ms = t_now_ms() - t0;
		t_close(fd);
		px_assert(&p, rc == 0 || rc == -ECONNRESET,
			  "client %d not closed within 1 s (%s)", i, t_closed_how(rc));
		fprintf(stderr, "proxy/all_targets_down: client %d closed by %s after %" PRId64 " ms\n",
			i, t_closed_how(rc), ms);
	}

	/* A target comes back: nlb keeps serving. */
	int rc = t_server_restart(echo);
	T_ASSERT(rc == 0, ": echo server back on %u: %s", down_a, strerror(-rc));
	for (int i = 0; i < 5; i++) {
		int fd = px_connect(&p);
		rc = t_round_trip(fd, "back\n", 5, 5000);
		t_close(fd);
		px_assert(&p, rc == 0, "after recovery, connection %d: %s", i,
			  strerror(-rc));
	}
	px_stop_ok(&p);
	cr_expect_eq(t_server_accepted(echo), 5);
	cr_expect_eq(px_stat(&p, "no_target"), 3);
	/* Each of the 3 clients tried both targets at least. */
	cr_expect_geq(px_stat(&p, "connect_refused"), 6);
	px_free(&p);
	t_server_free(echo);
}

/* ---- 6. connect timeout ------------------------------------------------ */

T_TEST(proxy, connect_timeout, .timeout = 30)
{
	/* Taken first: a skipped test gets no teardown. */
	struct t_blackhole *bh = t_blackhole_start();
	if (!bh)
		cr_skip_test("no local black hole: a connect to a listener with "
			     "a full accept queue completed or failed");
	struct px p;
	px_init(&p, "auto");
	px_target(&p, bh->port);
	p.conf.connect_timeout_ms = 300;
	p.conf.connect_retries = 0;
	px_start(&p);

	int fd = px_connect(&p);
	int64_t t0 = t_now_ms();
	int rc = t_wait_closed(fd, 3000);
	int64_t ms = t_now_ms() - t0;
	t_close(fd);
	px_assert(&p, rc == 0 || rc == -ECONNRESET,
		  "client not closed within 3 s (%s)", t_closed_how(rc));
	fprintf(stderr, "proxy/connect_timeout: closed by %s after %" PRId64 " ms\n",
		t_closed_how(rc), ms);
	cr_expect(ms >= 250 && ms < 2000,
		  "closed after %" PRId64 " ms, want ~300 ms", ms);
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "connect_timeout"), 1);
	cr_expect_eq(px_stat(&p, "no_target"), 1);
	px_free(&p);
	t_blackhole_free(bh);
}

/* A target that times out is retried on another that answers. */
T_TEST(proxy, connect_timeout_retried, .timeout = 30)
{
	struct t_blackhole *bh = t_blackhole_start();
	if (!bh)
		cr_skip_test("no local black hole (see connect_timeout)");
	struct t_server *echo = t_server_start(T_SRV_ECHO, 0);
	T_ASSERT(echo);
	struct px p;
	px_init(&p, "auto");
	px_target(&p, bh->port);
	px_target(&p, t_server_port(echo));
	p.conf.connect_timeout_ms = 300;
	p.conf.connect_retries = 1;
	px_start(&p);

	/* Round robin sends one of any two in a row to the black hole first. */
	for (int i = 0; i < 2; i++) {
		int fd = px_connect(&p);
		int rc = t_round_trip(fd, "late\n", 5, 3000);
		t_close(fd);
		px_assert(&p, rc == 0, "connection %d: %s", i, strerror(-rc));
	}
	px_stop_ok(&p);
	cr_expect_geq(px_stat(&p, "connect_timeout"), 1);
	cr_expect_eq(px_stat(&p, "no_target"), 0);
	cr_expect_eq(t_server_accepted(echo), 2);
	px_free(&p);
	t_server_free(echo);
	t_blackhole_free(bh);
}

/* ---- 7. idle timeout --------------------------------------------------- */

static void idle_timeout(const char *fwd)
{
	struct t_server *echo = t_server_start(T_SRV_ECHO, 0);
	T_ASSERT(echo);
	struct px p;
	px_init(&p, fwd);
	px_target(&p, t_server_port(echo));
	p.conf.idle_timeout_ms = 500;
	px_start(&p);

	int idle = px_connect(&p);
	px_round_trip(&p, idle, "i", 1);
	int64_t idle_since = t_now_ms();
	int busy = px_connect(&p);
	px_round_trip(&p, busy, "b", 1);

	/* The busy one round-trips a byte every 100 ms for 1.5 s; the idle
	 * one is watched meanwhile. */
	int64_t start = t_now_ms(), idle_closed_ms = -1;
	int idle_rc = -ETIMEDOUT;
	while (t_now_ms() - start < 1500) {
		if (idle_closed_ms < 0) {
			int rc = t_wait_closed(idle, 100);
			if (rc != -ETIMEDOUT) {
				idle_rc = rc;
				idle_closed_ms = t_now_ms() - idle_since;
			}
		} else {
			t_sleep_ms(100);
		}
		int rc = t_round_trip(busy, "k", 1, 1000);
		px_assert(&p, rc == 0, "busy connection died after %" PRId64 " ms: %s",
			  t_now_ms() - start, strerror(-rc));
	}
	if (idle_closed_ms < 0) {
		idle_rc = t_wait_closed(idle, 1500);
		if (idle_rc != -ETIMEDOUT)
			idle_closed_ms = t_now_ms() - idle_since;
	}
	t_close(idle);
	px_assert(&p, idle_closed_ms >= 0, "idle connection still open after 3 s");
	fprintf(stderr, "proxy/idle_timeout_%s: idle client closed by %s after %" PRId64 " ms\n",
		fwd, t_closed_how(idle_rc), idle_closed_ms);
	/* The README's contract: an idle timeout resets both sides. */
	cr_expect_eq(idle_rc, -ECONNRESET, "idle client: %s, want a reset",
		     t_closed_how(idle_rc));
	cr_expect(idle_closed_ms >= 450 && idle_closed_ms < 3000,
		  "idle connection closed after %" PRId64 " ms, want 500..3000",
		  idle_closed_ms);

	/* The target's side of the idle connection ended too (the busy one
	 * is still open, so it is the first to end). */
	px_assert(&p, t_server_wait_closed(echo, 1, 2000) == 0,
		  "target side of the idle connection still open");
	struct t_conn_result r;
	T_ASSERT(t_server_result(echo, 0, &r) == 0);
	cr_expect_eq(r.end, T_END_RESET, "target saw %s, want a reset", t_end_name(r.end));
	cr_expect_eq(r.bytes_in, 1, "the idle connection's target read %" PRIu64 " bytes",
		     r.bytes_in);
	fprintf(stderr, "proxy/idle_timeout_%s: target saw %s\n", fwd, t_end_name(r.end));

	px_round_trip(&p, busy, "still here", 10);
	t_close(busy);
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "idle_timeout"), 1);
	px_free(&p);
	t_server_free(echo);
}

T_TEST(proxy, idle_timeout_copy, .timeout = 30) { idle_timeout("copy"); }
T_TEST(proxy, idle_timeout_splice, .timeout = 30) { idle_timeout("splice"); }

/* ---- 8. 2,000 concurrent connections ----------------------------------- */

T_TEST(proxy, concurrent_2000, .timeout = 60)
{
	enum { N = 2000 };
	struct t_server *echo = t_server_start(T_SRV_ECHO, 0);
	T_ASSERT(echo);
	struct px p;
	px_init(&p, "auto");
	p.conf.workers = 2;
	px_target(&p, t_server_port(echo));
	px_start(&p);

	static int fds[N];
	for (int i = 0; i < N; i++) {
		fds[i] = t_connect(p.conf.listen_port);
		px_assert(&p, fds[i] >= 0, "connection %d: %s", i, strerror(-fds[i]));
	}
	/* All open at once, all in flight at once. */
	for (int i = 0; i < N; i++) {
		char msg[17];
		snprintf(msg, sizeof msg, "conn-%010d", i);
		int rc = t_write_all(fds[i], msg, 16);
		px_assert(&p, rc == 0, "write on %d: %s", i, strerror(-rc));
	}
	int bad = 0;
	for (int i = 0; i < N; i++) {
		char msg[17], back[17] = "";
		snprintf(msg, sizeof msg, "conn-%010d", i);
		ssize_t n = t_read_full(fds[i], back, 16, 10000);
		if (n != 16 || memcmp(back, msg, 16)) {
			if (bad++ < 5)
				fprintf(stderr, "connection %d: got %zd bytes \"%s\"%s%s\n",
					i, n, back, n < 0 ? ": " : "",
					n < 0 ? strerror((int)-n) : "");
		}
	}
	for (int i = 0; i < N; i++)
		t_close(fds[i]);
	px_assert(&p, bad == 0, "%d of %d connections failed their round trip", bad, N);
	px_assert(&p, t_server_wait_closed(echo, N, 20000) == 0,
		  "target saw %u of %d connections end", t_server_closed(echo), N);
	cr_expect_eq(t_server_accepted(echo), N);
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "accepted"), N);
	px_free(&p);
	t_server_free(echo);
}

/* ---- 9. SIGTERM drains ------------------------------------------------- */

/* More data in flight than the worker has copy buffers (512 of 16 KiB):
 * 80 clients send 1 MiB each to targets that read nothing at first (a
 * 4 KiB receive buffer), so each connection's queue in nlb fills to its
 * high-water mark (128 KiB; 80 of them are 10 MiB) and receives find no
 * buffer.  They wait, counted (nlb_tcp_buffer_waits_total), and once the
 * targets read, every waiting receive is taken up again: every stream
 * arrives whole and in order. */
#define STARVE_CONNS 80
#define STARVE_BYTES (1u << 20)

/* Client i's next chunk of its stream (seed i + 1), as much as its
 * socket takes without blocking: true when some was sent. */
static bool starve_send(int fd, int i, uint64_t *sent)
{
	static uint8_t chunk[T_CHUNK];
	size_t n = STARVE_BYTES - *sent < T_CHUNK ? STARVE_BYTES - *sent : T_CHUNK;
	if (n == 0)
		return false;
	t_pattern_fill(chunk, *sent, n, (uint64_t)i + 1);
	ssize_t w = send(fd, chunk, n, MSG_NOSIGNAL);
	if (w <= 0)
		return false;
	*sent += (uint64_t)w;
	return true;
}

T_TEST(proxy, buffers_run_out_and_come_back, .timeout = 60)
{
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int small = 4096, one = 1;
	uint16_t tport = t_free_port();
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(tport),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	T_ASSERT(lfd >= 0 && setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
		 setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) == 0 &&
		 bind(lfd, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(lfd, 256) == 0,
		 ": target listener: %s", strerror(errno));
	struct px p;
	px_init(&p, "copy");
	px_target(&p, tport);
	px_start(&p);
	int cfd[STARVE_CONNS], tfd[STARVE_CONNS];
	uint64_t sent[STARVE_CONNS] = { 0 }, got[STARVE_CONNS] = { 0 }, sum[STARVE_CONNS];
	for (int i = 0; i < STARVE_CONNS; i++) {
		cfd[i] = px_connect(&p);
		tfd[i] = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		px_assert(&p, tfd[i] >= 0, "target accept %d: %s", i, strerror(errno));
		fcntl(cfd[i], F_SETFL, fcntl(cfd[i], F_GETFL) | O_NONBLOCK);
		fcntl(tfd[i], F_SETFL, fcntl(tfd[i], F_GETFL) | O_NONBLOCK);
		sum[i] = T_SUM_INIT;
	}
	static uint8_t buf[T_CHUNK];
	/* Until no client can send more for 300 ms: the targets read
	 * nothing, so nlb's queues and then its buffers fill. */
	int64_t quiet_since = t_now_ms(), start = quiet_since;
	while (t_now_ms() - quiet_since < 300 && t_now_ms() - start < 10000) {
		for (int i = 0; i < STARVE_CONNS; i++) {
			if (starve_send(cfd[i], i, &sent[i]))
				quiet_since = t_now_ms();
		}
		t_sleep_ms(5);
	}
	uint64_t stalled = 0;
	for (int i = 0; i < STARVE_CONNS; i++)
		stalled += sent[i];
	/* Now the targets read everything, and the clients finish. */
	int done = 0;
	start = t_now_ms();
	while (done < STARVE_CONNS && t_now_ms() - start < 30000) {
		done = 0;
		for (int i = 0; i < STARVE_CONNS; i++) {
			starve_send(cfd[i], i, &sent[i]);
			ssize_t r;
			while ((r = recv(tfd[i], buf, sizeof(buf), 0)) > 0) {
				sum[i] = t_sum_update(sum[i], buf, (size_t)r);
				got[i] += (uint64_t)r;
			}
			done += got[i] == STARVE_BYTES;
		}
	}
	for (int i = 0; i < STARVE_CONNS; i++) {
		px_assert(&p, got[i] == STARVE_BYTES, "stream %d: %" PRIu64 " of %u bytes arrived "
			  "(%" PRIu64 " sent while the targets read nothing)", i, got[i], STARVE_BYTES,
			  stalled);
		px_assert(&p, sum[i] == t_pattern_sum((uint64_t)i + 1, STARVE_BYTES),
			  "stream %d arrived changed", i);
		t_close(cfd[i]);
		close(tfd[i]);
	}
	close(lfd);
	px_stop_ok(&p);
	int64_t waits = px_stat(&p, "buffer_wait");
	cr_expect_gt(waits, 0, "no receive waited for a buffer (%" PRIu64 " bytes were held while "
		     "the targets read nothing): the test did not reach what it tests", stalled);
	cr_expect_eq(px_stat(&p, "client_reset") + px_stat(&p, "target_reset"), 0);
	px_free(&p);
}

T_TEST(proxy, sigterm_drains, .timeout = 30)
{
	struct t_server *echo = t_server_start(T_SRV_ECHO, 0);
	T_ASSERT(echo);
	struct px p;
	px_init(&p, "auto");
	px_target(&p, t_server_port(echo));
	p.conf.shutdown_timeout_ms = 10000;
	px_start(&p);

	int open_fd = px_connect(&p);
	px_round_trip(&p, open_fd, "before\n", 7);
	T_ASSERT(kill(p.nlb->pid, SIGTERM) == 0);

	/* New connections must be refused or closed; give nlb up to 2 s to
	 * act on the signal, connecting every 100 ms. */
	int64_t t0 = t_now_ms();
	const char *how = NULL;
	while (!how && t_now_ms() - t0 < 2000) {
		t_sleep_ms(100);
		int fd = t_connect(p.conf.listen_port);
		if (fd < 0) {
			how = fd == -ECONNREFUSED ? "refused" : strerror(-fd);
			break;
		}
		int rc = t_wait_closed(fd, 300);
		t_close(fd);
		if (rc != -ETIMEDOUT)
			how = t_closed_how(rc);
	}
	px_assert(&p, how, "2 s after SIGTERM new connections are still accepted "
		  "and left open");
	fprintf(stderr, "proxy/sigterm_drains: new connection after SIGTERM: %s\n", how);
	px_assert(&p, t_nlb_wait(p.nlb, 0) == -ETIMEDOUT,
		  "nlb exited with a connection open (%d)", t_nlb_wait(p.nlb, 0));

	/* The open connection is still served. */
	px_round_trip(&p, open_fd, "during\n", 7);
	t_close(open_fd);
	int64_t closed_at = t_now_ms();
	int rc = t_nlb_wait(p.nlb, 5000);
	int64_t ms = t_now_ms() - closed_at;
	px_assert(&p, rc == 0, "exit code %d after the last connection closed", rc);
	cr_expect_lt(ms, 2000, "exited %" PRId64 " ms after the last connection closed", ms);
	cr_expect(t_nlb_log_contains(p.nlb, "msg=\"stats "), "no stats line at exit");
	px_free(&p);
	t_server_free(echo);
}

T_TEST(proxy, sigterm_deadline, .timeout = 30)
{
	struct t_server *echo = t_server_start(T_SRV_ECHO, 0);
	T_ASSERT(echo);
	struct px p;
	px_init(&p, "auto");
	px_target(&p, t_server_port(echo));
	p.conf.shutdown_timeout_ms = 1000;
	px_start(&p);

	int fd = px_connect(&p);
	px_round_trip(&p, fd, "stay\n", 5);
	int64_t t0 = t_now_ms();
	T_ASSERT(kill(p.nlb->pid, SIGTERM) == 0);
	int rc = t_nlb_wait(p.nlb, 6000);
	int64_t ms = t_now_ms() - t0;
	px_assert(&p, rc == 0, "exit code %d (want 0) after %" PRId64 " ms", rc, ms);
	fprintf(stderr, "proxy/sigterm_deadline: exited %" PRId64 " ms after SIGTERM\n", ms);
	cr_expect(ms >= 900 && ms < 2500,
		  "exited after %" PRId64 " ms, want the 1000 ms deadline", ms);
	int crc = t_wait_closed(fd, 1000);
	t_close(fd);
	fprintf(stderr, "proxy/sigterm_deadline: client saw %s\n", t_closed_how(crc));
	/* The README's contract: the deadline resets both sides. */
	cr_expect_eq(crc, -ECONNRESET, "client connection: %s, want a reset",
		     t_closed_how(crc));
	px_assert(&p, t_server_wait_closed(echo, 1, 2000) == 0,
		  "target connection still open after nlb exited");
	struct t_conn_result r;
	T_ASSERT(t_server_result(echo, 0, &r) == 0);
	cr_expect_eq(r.end, T_END_RESET, "target saw %s, want a reset", t_end_name(r.end));
	px_free(&p);
	t_server_free(echo);
}

T_TEST(proxy, sigint_exits, .timeout = 30)
{
	struct t_server *echo = t_server_start(T_SRV_ECHO, 0);
	T_ASSERT(echo);
	struct px p;
	px_init(&p, "auto");
	px_target(&p, t_server_port(echo));
	px_start(&p);
	T_ASSERT(kill(p.nlb->pid, SIGINT) == 0);
	int rc = t_nlb_wait(p.nlb, 3000);
	px_assert(&p, rc == 0, "exit code %d after SIGINT", rc);
	cr_expect(t_nlb_log_contains(p.nlb, "msg=\"stats "), "no stats line at exit");
	px_free(&p);
	t_server_free(echo);
}

/* ---- 10. 5,000 idle connections add no threads ------------------------- */

/* Also a budget check: the test process holds 10,000 fds (both ends) and
 * nlb 10,000 sockets, under a hard RLIMIT_NOFILE of 20,000 here, so in
 * splice mode an idle connection cannot keep two pipes (4 more fds) open. */
static void idle_5000(const char *fwd)
{
	enum { N = 5000 };
	struct t_server *echo = t_server_start(T_SRV_ECHO, 0);
	T_ASSERT(echo);
	struct px p;
	px_init(&p, fwd);
	p.conf.workers = 2;
	px_target(&p, t_server_port(echo));
	px_start(&p);
	pid_t pid = p.nlb->pid;

	/* px_start waited for "running", logged once every thread is up. */
	long threads0 = t_proc_threads(pid), rss0 = t_proc_rss_kb(pid);
	T_ASSERT(threads0 > 0 && rss0 > 0);

	static int fds[N];
	for (int i = 0; i < N; i++) {
		fds[i] = t_connect(p.conf.listen_port);
		px_assert(&p, fds[i] >= 0, "connection %d: %s", i, strerror(-fds[i]));
		char msg[9];
		snprintf(msg, sizeof msg, "%08d", i);
		int rc = t_round_trip(fds[i], msg, 8, 5000);
		px_assert(&p, rc == 0, "connection %d (nlb has %ld fds): %s", i,
			  t_proc_fds(pid), strerror(-rc));
	}
	t_sleep_ms(1000);
	long threads1 = t_proc_threads(pid), rss1 = t_proc_rss_kb(pid);
	long nfds = t_proc_fds(pid);
	fprintf(stderr, "proxy/idle_5000_%s: threads %ld -> %ld; RSS %ld -> %ld KiB "
		"= %.0f bytes per proxied connection; nlb holds %ld fds\n",
		fwd, threads0, threads1, rss0, rss1,
		(double)(rss1 - rss0) * 1024.0 / N, nfds);
	cr_expect_eq(threads1, threads0, "%d idle connections changed nlb's threads "
		     "from %ld to %ld", N, threads0, threads1);

	for (int i = 0; i < N; i++)
		t_close(fds[i]);
	px_assert(&p, t_server_wait_closed(echo, N, 30000) == 0,
		  "target saw %u of %d connections end", t_server_closed(echo), N);
	px_stop_ok(&p);
	px_free(&p);
	t_server_free(echo);
}

T_TEST(proxy, idle_5000_splice, .timeout = 60) { idle_5000("splice"); }
T_TEST(proxy, idle_5000_copy, .timeout = 60) { idle_5000("copy"); }
T_TEST(proxy, idle_5000_auto, .timeout = 60) { idle_5000("auto"); }

/* ---- 11. max_connections ----------------------------------------------- */

T_TEST(proxy, max_connections, .timeout = 30)
{
	enum { MAX = 10 };
	struct t_server *echo = t_server_start(T_SRV_ECHO, 0);
	T_ASSERT(echo);
	struct px p;
	px_init(&p, "auto");
	px_target(&p, t_server_port(echo));
	p.conf.max_connections = MAX;
	px_admin(&p);
	px_start(&p);

	int fds[MAX];
	for (int i = 0; i < MAX; i++) {
		fds[i] = px_connect(&p);
		px_round_trip(&p, fds[i], "in\n", 3);
	}
	int over = px_connect(&p);
	int rc = t_wait_closed(over, 1000);
	t_close(over);
	px_assert(&p, rc == -ECONNRESET, "connection %d: %s within 1 s, want a reset",
		  MAX + 1, t_closed_how(rc));
	cr_expect_eq(t_server_accepted(echo), MAX, "the refused connection reached a target");

	t_close(fds[0]);
	px_assert(&p, t_server_wait_closed(echo, 1, 2000) == 0, "close not passed on");
	/* The target saw the FIN before nlb let go of the slot. */
	px_wait_stat(&p, "active", MAX - 1, 2000);
	fds[0] = px_connect(&p);
	px_round_trip(&p, fds[0], "again\n", 6);
	for (int i = 0; i < MAX; i++)
		t_close(fds[i]);
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "limit"), 1);
	px_free(&p);
	t_server_free(echo);
}

/* ---- 12. resets pass through ------------------------------------------- */

static void reset_from_client(const char *fwd)
{
	struct t_server *echo = t_server_start(T_SRV_ECHO, 0);
	T_ASSERT(echo);
	struct px p;
	px_init(&p, fwd);
	px_target(&p, t_server_port(echo));
	px_start(&p);

	int fd = px_connect(&p);
	px_round_trip(&p, fd, "soon reset\n", 11);
	t_close_reset(fd);
	px_assert(&p, t_server_wait_closed(echo, 1, 3000) == 0,
		  "target connection still open 3 s after the client's reset");
	struct t_conn_result r;
	T_ASSERT(t_server_result(echo, 0, &r) == 0);
	cr_expect_eq(r.end, T_END_RESET, "target saw %s, want a reset", t_end_name(r.end));
	px_stop_ok(&p);
	px_free(&p);
	t_server_free(echo);
}

static void reset_from_target(const char *fwd)
{
	struct t_server *rst = t_server_start(T_SRV_RESET, 0);
	T_ASSERT(rst);
	struct px p;
	px_init(&p, fwd);
	px_target(&p, t_server_port(rst));
	px_start(&p);

	int fd = px_connect(&p);
	px_assert(&p, t_write_all(fd, "x", 1) == 0, "write");
	int rc = t_wait_closed(fd, 3000);
	t_close(fd);
	px_assert(&p, rc == -ECONNRESET, "client saw %s, want a reset", t_closed_how(rc));
	px_stop_ok(&p);
	px_free(&p);
	t_server_free(rst);
}

T_TEST(proxy, reset_from_client_copy, .timeout = 30) { reset_from_client("copy"); }
T_TEST(proxy, reset_from_client_splice, .timeout = 30) { reset_from_client("splice"); }
T_TEST(proxy, reset_from_target_copy, .timeout = 30) { reset_from_target("copy"); }
T_TEST(proxy, reset_from_target_splice, .timeout = 30) { reset_from_target("splice"); }
T_TEST(proxy, reset_from_client_auto, .timeout = 30) { reset_from_client("auto"); }
T_TEST(proxy, reset_from_target_auto, .timeout = 30) { reset_from_target("auto"); }

/* ---- 13. command line -------------------------------------------------- */

T_TEST(proxy, check_good_config, .timeout = 30)
{
	T_ASSERT(t_nlb_bin(), ": NLB_BIN is not set");
	struct t_proxy_conf c;
	t_proxy_conf_defaults(&c);
	c.listen_port = t_free_port();
	c.targets[c.n_targets++] = t_free_port();
	c.targets[c.n_targets++] = t_free_port();
	char *path = t_write_proxy_config(&c);
	T_ASSERT(path);
	const char *argv[] = { t_nlb_bin(), "-t", "-c", path, NULL };
	char *out = NULL;
	int rc = t_run(argv, 10000, &out);
	cr_expect_eq(rc, 0, "nlb -t on a good config: exit %d, output:\n%s", rc,
		     out ? out : "");
	free(out);
	t_file_remove(path);
}

/* The broken setting is on a line of its own, or every setting of the
 * broken group is on one line, so whichever setting the error names, the
 * line is the one we expect. */
static void check_bad(const char *what, const char *text, int line)
{
	char *path = t_write_config("%s", text);
	T_ASSERT(path);
	const char *argv[] = { t_nlb_bin(), "-t", "-c", path, NULL };
	char *out = NULL;
	int rc = t_run(argv, 10000, &out);
	char where[PATH_MAX + 16];
	snprintf(where, sizeof where, "%s:%d", path, line);
	cr_expect_eq(rc, 1, "%s: nlb -t exit %d, want 1; output:\n%s", what, rc,
		     out ? out : "");
	cr_expect(out && strstr(out, where), "%s: output does not name %s:\n%s",
		  what, where, out ? out : "");
	free(out);
	t_file_remove(path);
}

T_TEST(proxy, check_bad_config, .timeout = 30)
{
	T_ASSERT(t_nlb_bin(), ": NLB_BIN is not set");
	check_bad("syntax error",
		  "workers = 1;\n"
		  "log_level = \"info\";\n"
		  "listeners = (\n"
		  "  { name = \"web\" protocol = ; }\n"
		  ");\n", 4);
	check_bad("unknown target group",
		  "workers = 1;\n"
		  "listeners = (\n"
		  "  { name = \"web\"; protocol = \"tcp\"; address = \"127.0.0.1:18080\"; target_group = \"nope\"; idle_timeout_ms = 1000; max_connections = 0; }\n"
		  ");\n"
		  "target_groups = (\n"
		  "  { name = \"web\"; algorithm = \"round_robin\"; connect_timeout_ms = 1000; connect_retries = 1;\n"
		  "    targets = ( { address = \"127.0.0.1:18081\"; weight = 1; } ); }\n"
		  ");\n", 3);
	check_bad("bad forwarding",
		  "workers = 1;\n"
		  "forwarding = \"teleport\";\n"
		  "listeners = (\n"
		  "  { name = \"web\"; protocol = \"tcp\"; address = \"127.0.0.1:18080\"; target_group = \"web\"; idle_timeout_ms = 1000; max_connections = 0; }\n"
		  ");\n"
		  "target_groups = (\n"
		  "  { name = \"web\"; algorithm = \"round_robin\"; connect_timeout_ms = 1000; connect_retries = 1;\n"
		  "    targets = ( { address = \"127.0.0.1:18081\"; weight = 1; } ); }\n"
		  ");\n", 2);
}

T_TEST(proxy, version, .timeout = 30)
{
	T_ASSERT(t_nlb_bin(), ": NLB_BIN is not set");
	const char *argv[] = { t_nlb_bin(), "-V", NULL };
	char *out = NULL;
	int rc = t_run(argv, 5000, &out);
	cr_expect_eq(rc, 0, "nlb -V: exit %d", rc);
	/* The Makefile's VERSION is what -DNLB_VERSION carries. */
	char want[64] = "";
	const char *src = getenv("NLB_SRCDIR");
	if (src) {
		char mk[PATH_MAX];
		snprintf(mk, sizeof mk, "%s/Makefile", src);
		char *text = t_file_read(mk, NULL);
		char *v = text ? strstr(text, "\nVERSION") : NULL;
		if (v && (v = strstr(v, ":=")))
			sscanf(v + 2, " %63s", want);
		free(text);
	}
	if (*want)
		cr_expect(out && strstr(out, want), "nlb -V does not print %s:\n%s",
			  want, out ? out : "");
	else
		cr_expect(out && strpbrk(out, "0123456789"), "nlb -V prints no version:\n%s",
			  out ? out : "");
	free(out);
}

T_TEST(proxy, bind_in_use, .timeout = 30)
{
	T_ASSERT(t_nlb_bin(), ": NLB_BIN is not set");
	/* No SO_REUSEADDR or SO_REUSEPORT: nobody may share this port. */
	uint16_t port = t_free_port();
	int held = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	T_ASSERT(held >= 0);
	T_ASSERT(bind(held, (struct sockaddr *)&a, sizeof a) == 0, ": bind: %s", strerror(errno));
	T_ASSERT(listen(held, 16) == 0);

	struct px p;
	px_init(&p, "auto");
	p.conf.listen_port = port;
	px_target(&p, t_free_port());
	p.conf_path = t_write_proxy_config(&p.conf);
	T_ASSERT(p.conf_path);
	p.nlb = t_nlb_start(p.conf_path);
	T_ASSERT(p.nlb);
	int rc = t_nlb_wait(p.nlb, 5000);
	char name[32];
	snprintf(name, sizeof name, "127.0.0.1:%u", port);
	px_assert(&p, rc != -ETIMEDOUT, "nlb still running with %s taken", name);
	px_assert(&p, rc != 0, "nlb exited 0 with %s taken", name);
	px_assert(&p, t_nlb_log_contains(p.nlb, name), "the error does not name %s", name);
	px_free(&p);
	close(held);
}

T_TEST(proxy, raises_nofile, .timeout = 30)
{
	struct t_server *echo = t_server_start(T_SRV_ECHO, 0);
	T_ASSERT(echo);
	struct px p;
	px_init(&p, "auto");
	px_target(&p, t_server_port(echo));
	p.conf_path = t_write_proxy_config(&p.conf);
	T_ASSERT(p.conf_path);
	T_ASSERT(t_nlb_bin(), ": NLB_BIN is not set");
	const char *argv[] = { t_nlb_bin(), "-c", p.conf_path, NULL };
	struct t_spawn_opts so = { .nofile_soft = 256 };
	p.nlb = t_spawn(argv, &so);
	T_ASSERT(p.nlb);
	int rc = t_nlb_wait_listening(p.nlb, p.conf.listen_port, 5000);
	px_assert(&p, rc == 0, "not listening: %s", strerror(-rc));
	long soft = 0, hard = 0;
	T_ASSERT(t_proc_nofile(p.nlb->pid, &soft, &hard) == 0);
	cr_expect_eq(soft, hard, "nlb runs with RLIMIT_NOFILE %ld of %ld", soft, hard);
	px_stop_ok(&p);
	px_free(&p);
	t_server_free(echo);
}

/* Descriptors run out: nlb holds 64 (soft and hard), so about 25 proxied
 * connections fit.  Clients beyond that must wait in the backlog, not be
 * accepted and reset, and be served once earlier connections close. */
T_TEST(proxy, fd_exhaustion_pauses_accept, .timeout = 60)
{
	enum { N = 40, NOFILE = 64 };
	struct t_server *echo = t_server_start(T_SRV_ECHO, 0);
	T_ASSERT(echo);
	struct px p;
	px_init(&p, "auto");
	p.conf.workers = 1;
	px_target(&p, t_server_port(echo));
	p.conf_path = t_write_proxy_config(&p.conf);
	T_ASSERT(p.conf_path, ": writing config: %s", strerror(errno));
	struct t_spawn_opts so = { .nofile_soft = NOFILE, .nofile_hard = NOFILE };
	p.nlb = t_nlb_start_opts(p.conf_path, &so);
	T_ASSERT(p.nlb, ": starting nlb: %s", strerror(errno));
	px_assert(&p, t_nlb_wait_listening(p.nlb, p.conf.listen_port, 5000) == 0,
		  "nlb is not listening");

	static int fds[N];
	static bool served[N];
	int n_served = 0;
	for (int i = 0; i < N; i++) {
		fds[i] = px_connect(&p);
		char msg[9];
		snprintf(msg, sizeof msg, "%08d", i);
		served[i] = t_round_trip(fds[i], msg, 8, 300) == 0;
		n_served += served[i];
	}
	px_assert(&p, n_served > 0 && n_served < N,
		  "%d of %d served with %d descriptors (want some, not all)", n_served, N, NOFILE);
	/* Free descriptors: close every served connection. */
	for (int i = 0; i < N; i++) {
		if (served[i]) {
			t_close(fds[i]);
			fds[i] = -1;
		}
	}
	/* The rest sent their request into the backlog; each must now get its
	 * answer, none a reset. */
	int late = 0;
	for (int i = 0; i < N; i++) {
		if (fds[i] < 0)
			continue;
		char want[9], got[8];
		snprintf(want, sizeof want, "%08d", i);
		ssize_t r = t_read_full(fds[i], got, 8, 10000);
		px_assert(&p, r == 8 && memcmp(got, want, 8) == 0,
			  "waiting connection %d: %s", i,
			  r < 0 ? strerror((int)-r) : "short answer");
		late++;
		t_close(fds[i]);
	}
	cr_expect_eq(n_served + late, N);
	px_stop_ok(&p);
	cr_expect_gt(px_stat(&p, "accept_paused"), 0, "accept never paused");
	cr_expect_eq(px_stat(&p, "nomem"), 0, "clients were reset for lack of descriptors");
	cr_expect_eq(px_stat(&p, "accepted"), N);
	px_free(&p);
	t_server_free(echo);
}

/* ---- IPv6: listeners and targets on ::1, and mixed families ------------ */

T_TEST(proxy, ipv6_and_mixed_families, .timeout = 30)
{
	/* The v6 target: nlb-bench serve on [::1] (the in-process servers
	 * listen on 127.0.0.1 only). */
	uint16_t p6 = t_free_port();
	char target6[64];
	snprintf(target6, sizeof target6, "[::1]:%u", p6);
	const char *bench = getenv("NLB_BENCH");
	T_ASSERT(bench, ": NLB_BENCH is not set (run through make test)");
	const char *sargv[] = { bench, "serve", "--mode", "echo", target6, NULL };
	struct t_nlb *serve6 = t_spawn(sargv, NULL);
	T_ASSERT(serve6, ": spawning serve: %s", strerror(errno));
	T_ASSERT(t_nlb_wait_listening(serve6, p6, 5000) == 0, ": serve not listening on %s", target6);
	struct t_server *echo4 = t_server_start(T_SRV_ECHO, 0);
	T_ASSERT(echo4);

	uint16_t l66 = t_free_port(), l64 = t_free_port(), l46 = t_free_port();
	char *path = t_write_config(
		"workers = 1;\n"
		"listeners = (\n"
		"  { name = \"v6-v6\"; address = \"[::1]:%u\"; target_group = \"six\"; },\n"
		"  { name = \"v6-v4\"; address = \"[::1]:%u\"; target_group = \"four\"; },\n"
		"  { name = \"v4-v6\"; address = \"127.0.0.1:%u\"; target_group = \"six\"; } );\n"
		"target_groups = (\n"
		"  { name = \"six\"; targets = ( { address = \"%s\"; } ); },\n"
		"  { name = \"four\"; targets = ( { address = \"127.0.0.1:%u\"; } ); } );\n",
		l66, l64, l46, target6, t_server_port(echo4));
	T_ASSERT(path, ": writing config: %s", strerror(errno));
	struct t_nlb *nlb = t_nlb_start(path);
	T_ASSERT(nlb, ": starting nlb: %s", strerror(errno));
	T_ASSERT(t_nlb_log_wait(nlb, " running: ", 5000) == 0, ": nlb did not start");

	struct { const char *name; int fd; } c[] = {
		{ "[::1] -> [::1]", t_connect6(l66) },
		{ "[::1] -> 127.0.0.1", t_connect6(l64) },
		{ "127.0.0.1 -> [::1]", t_connect(l46) },
	};
	int ok = 0;
	for (size_t i = 0; i < 3; i++) {
		int rc = c[i].fd < 0 ? c[i].fd : t_round_trip(c[i].fd, "family\n", 7, 5000);
		if (rc == 0)
			ok++;
		else
			fprintf(stderr, "proxy/ipv6: %s: %s\n", c[i].name, strerror(-rc));
		t_close(c[i].fd);
	}
	int rc = t_nlb_stop(nlb, 15000);
	if (ok != 3 || rc != 0) {
		t_failed();
		t_nlb_dump_log(nlb, "ipv6");
	}
	cr_expect_eq(ok, 3, "%d of 3 family combinations round-tripped", ok);
	cr_expect_eq(rc, 0, "nlb exit code %d", rc);
	cr_expect_eq(t_nlb_stat(nlb, "accepted"), 3);
	t_nlb_free(nlb);
	t_file_remove(path);
	t_nlb_stop(serve6, 5000);
	t_nlb_free(serve6);
	t_server_free(echo4);
}

/* nlb -h says what a reload does now: the whole file, not only targets. */
T_TEST(proxy, help_says_what_a_reload_applies, .timeout = 30)
{
	T_ASSERT(t_nlb_bin(), ": NLB_BIN is not set");
	const char *argv[] = { t_nlb_bin(), "-h", NULL };
	char *out = NULL;
	int rc = t_run(argv, 5000, &out);
	T_ASSERT(out);
	cr_expect_eq(rc, 0, "nlb -h: exit %d", rc);
	cr_expect(strstr(out, "usage: nlb -c FILE"), "%s", out);
	cr_expect(!strstr(out, "applies its\ntarget changes"), "stale reload text: %s", out);
	cr_expect(strstr(out, "target groups") && strstr(out, "listeners") &&
		  strstr(out, "restart"), "nlb -h does not say what HUP applies: %s", out);
	free(out);
}
