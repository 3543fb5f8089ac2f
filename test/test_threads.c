/* Suite "threads": every thread nlb has, busy at once.  TCP and UDP
 * request/response traffic and HTTP requests through two workers, while
 * the health thread probes every 20 ms, the metrics thread is scraped
 * (directly, and through an http listener whose target it is),
 * the admin thread drains, adds back and reweighs a target, and the main
 * thread reloads the file, over and over.  The traffic gets no error,
 * nlb exits 0, and its log has no sanitizer report: built with
 * `make test TSAN=1` (ThreadSanitizer, as issue 22 asks) a data race
 * between those threads fails it here. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"

TestSuite(threads, .init = t_setup, .fini = t_teardown, .timeout = 120);

struct control {
	const char *sock;
	uint16_t metrics_port, http_port, second;
	pid_t nlb;
	atomic_bool stop;
	atomic_int scrapes, commands, reloads, http_ok, failures, restored;
};

/* One HTTP/1.0 GET on 127.0.0.1:port: 0 when a whole response came. */
static int get(uint16_t port, const char *path)
{
	int fd = t_connect(port);
	if (fd < 0)
		return -1;
	char req[128];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: t\r\n\r\n", path);
	int ok = t_write_all(fd, req, (size_t)n) == 0;
	static _Thread_local char buf[1 << 16];
	ssize_t got = ok ? t_read_full(fd, buf, sizeof(buf) - 1, 3000) : -1;
	t_close(fd);
	if (got <= 0)
		return -1;
	buf[got] = '\0';
	return strncmp(buf, "HTTP/1.1 200", 12) == 0 || strncmp(buf, "HTTP/1.0 200", 12) == 0 ?
	       0 : -1;
}

static void *control_run(void *arg)
{
	struct control *c = arg;
	static const char *const cmds[] = {
		"show targets", "show listeners", "show stats",
		"drain target g 127.0.0.1:%u", "add target g 127.0.0.1:%u",
		"set weight g 127.0.0.1:%u 3", "set weight g 127.0.0.1:%u 1", "reload",
	};
	unsigned round = 0;
	while (!atomic_load(&c->stop)) {
		if (get(c->metrics_port, "/metrics") == 0)
			atomic_fetch_add(&c->scrapes, 1);
		else
			atomic_fetch_add(&c->failures, 1);
		if (get(c->http_port, "/metrics") == 0)
			atomic_fetch_add(&c->http_ok, 1);
		char cmd[96], out[4096];
		snprintf(cmd, sizeof(cmd), cmds[round % (sizeof(cmds) / sizeof(*cmds))],
			 (unsigned)c->second);
		/* A reload still under way from an earlier SIGHUP may end
		 * between the drain and the add, and make the target what the
		 * file says: active.  The add is then refused, rightly. */
		int rc = t_admin_command(c->sock, cmd, out, sizeof(out));
		bool restored = rc != 0 && strncmp(cmd, "add target", 10) == 0 &&
				strstr(out, "is already in group");
		if (restored)
			atomic_fetch_add(&c->restored, 1);
		if (rc == 0 || restored) {
			atomic_fetch_add(&c->commands, 1);
		} else {
			atomic_fetch_add(&c->failures, 1);
			fprintf(stderr, "threads: \"%s\": %s\n", cmd, out);
		}
		/* a reload restores what the file says: not between the drain
		 * and the add that brings the target back */
		if (round % 2 == 0 && kill(c->nlb, SIGHUP) == 0)
			atomic_fetch_add(&c->reloads, 1);
		round++;
		t_sleep_ms(10);
	}
	return NULL;
}

/* nlb-bench MODE against 127.0.0.1:port for 5 s: its JSON summary. */
static struct t_nlb *load(const char *mode, uint16_t port)
{
	char addr[32];
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	const char *argv[] = { t_bench_bin(), mode, addr, "-c", "4", "-d", "5", "--timeout", "3000",
			       "--json", NULL };
	struct t_nlb *l = t_spawn(argv, NULL);
	T_ASSERT(l);
	return l;
}

static void load_ok(struct t_nlb *l, const char *mode)
{
	int rc = t_nlb_wait(l, 30000);
	char *out = t_nlb_log(l);
	cr_expect_eq(rc, 0, "%s: exit %d: %s", mode, rc, out ? out : "");
	cr_expect(out && strstr(out, "\"errors_total\":0,"), "%s: %s", mode, out ? out : "");
	cr_expect(out && !strstr(out, "\"responses\":0,"), "%s answered nothing", mode);
	free(out);
	t_nlb_free(l);
}

T_TEST(threads, control_threads_beside_traffic)
{
	uint16_t t1 = t_free_port(), t2 = t_free_port();
	uint16_t vip = t_free_port(), web = t_free_port(), metrics = t_free_port();
	struct t_nlb *s1 = t_bench_echo(t1), *s2 = t_bench_echo(t2);
	char sock[64];
	snprintf(sock, sizeof(sock), "/tmp/nlb-threads-%d.sock", (int)getpid());
	/* the http listener's target is nlb's own metrics endpoint: HTTP
	 * requests cross a worker to the metrics thread and back */
	char *conf = t_write_config(
		"allow_root = true;\nworkers = 2;\nlog_level = \"warn\";\n"
		"admin = { socket = \"%s\"; };\nstats = { listen = \"127.0.0.1:%u\"; };\n"
		"listeners = ( { name = \"vip\"; protocol = \"tcp_udp\"; address = \"127.0.0.1:%u\";\n"
		"  target_group = \"g\"; },\n"
		"  { name = \"web\"; protocol = \"http\"; address = \"127.0.0.1:%u\";\n"
		"  default_action = { forward = \"h\"; }; } );\n"
		"target_groups = ( { name = \"g\"; targets = ( { address = \"127.0.0.1:%u\"; },\n"
		"  { address = \"127.0.0.1:%u\"; } );\n"
		"  health_check = { protocol = \"tcp\"; interval_ms = 20; timeout_ms = 15; }; },\n"
		"  { name = \"h\"; targets = ( { address = \"127.0.0.1:%u\"; } ); } );\n",
		sock, metrics, vip, web, t1, t2, metrics);
	T_ASSERT(conf);
	struct t_nlb *n = t_nlb_start(conf);
	T_ASSERT(n);
	T_ASSERT(t_nlb_wait_listening(n, vip, 10000) == 0, ": nlb is not listening");
	struct control c = { .sock = sock, .metrics_port = metrics, .http_port = web, .second = t2,
			     .nlb = n->pid };
	pthread_t th_control;
	T_ASSERT(pthread_create(&th_control, NULL, control_run, &c) == 0);
	struct t_nlb *tcp = load("tcp_rr", vip), *udp = load("udp_rr", vip);
	load_ok(tcp, "tcp_rr");
	load_ok(udp, "udp_rr");
	atomic_store(&c.stop, true);
	pthread_join(th_control, NULL);
	cr_log_info("beside 5 s of tcp_rr and udp_rr: %d metrics scrapes, %d admin commands, %d "
		    "reloads, %d HTTP answers, %d failures (%d adds refused after a reload had restored "
		    "the target)", atomic_load(&c.scrapes), atomic_load(&c.commands),
		    atomic_load(&c.reloads), atomic_load(&c.http_ok), atomic_load(&c.failures),
		    atomic_load(&c.restored));
	cr_expect_gt(atomic_load(&c.scrapes), 20);
	cr_expect_gt(atomic_load(&c.commands), 20);
	cr_expect_gt(atomic_load(&c.reloads), 5);
	cr_expect_gt(atomic_load(&c.http_ok), 20);
	cr_expect_eq(atomic_load(&c.failures), 0);
	int rc = t_nlb_stop(n, 15000);
	char *log = t_nlb_log(n);
	cr_expect_eq(rc, 0, "nlb's exit %d", rc);
	cr_expect(log && !strstr(log, "ThreadSanitizer") && !strstr(log, "AddressSanitizer") &&
		  !strstr(log, "runtime error"), "a sanitizer spoke:\n%s", log ? log : "");
	free(log);
	t_nlb_free(n);
	t_nlb_stop(s1, 5000);
	t_nlb_stop(s2, 5000);
	t_nlb_free(s1);
	t_nlb_free(s2);
	t_file_remove(conf);
	unlink(sock);
}
