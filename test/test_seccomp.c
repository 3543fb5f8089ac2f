/* Suite "seccomp": the real nlb with seccomp = true does all it does
 * under the filter and the io_uring restrictions: TCP and UDP through a
 * tcp_udp listener, a tls listener, an http listener (whose target is
 * nlb's own metrics endpoint), health checks, a metrics scrape, admin
 * commands through nlbctl, an access log reopened, a reload that adds a
 * listener and a group and swaps a certificate, and a binary upgrade
 * (nlb -u takes the admin socket over; the old one drains and exits 0).
 * Every thread of both shows "Seccomp: 2" (filter) and "NoNewPrivs: 1"
 * in /proc; a call outside the list would have ended nlb with SIGSYS,
 * which its exit status would say.  Without the key, no filter. */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "px.h"

TestSuite(seccomp, .init = t_setup, .fini = t_teardown, .timeout = 120);

/* Every thread of pid: how many there are, and whether each has
 * "Seccomp:" seccomp and "NoNewPrivs:" nnp; the first that does not is
 * described in why.  -errno when /proc cannot be read. */
static int threads_check(pid_t pid, int seccomp, int nnp, bool *all, char *why, size_t len)
{
	char dir[64];
	snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	int n = 0;
	*all = true;
	why[0] = '\0';
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		if (e->d_name[0] == '.')
			continue;
		char path[384];
		snprintf(path, sizeof(path), "%s/%.16s/status", dir, e->d_name);
		char *text = t_file_read(path, NULL);
		if (!text)
			continue;	/* a thread that just ended */
		const char *s = strstr(text, "\nSeccomp:"), *p = strstr(text, "\nNoNewPrivs:");
		const char *name = strstr(text, "Name:");
		int sv = s ? atoi(s + 9) : -1, pv = p ? atoi(p + 12) : -1;
		if (sv != seccomp || pv != nnp) {
			if (*all)
				snprintf(why, len, "thread %.16s (%.*s): Seccomp %d, NoNewPrivs %d",
					 e->d_name, name ? (int)strcspn(name + 6, "\n") : 0,
					 name ? name + 6 : "", sv, pv);
			*all = false;
		}
		free(text);
		n++;
	}
	closedir(d);
	return n;
}

static void expect_filtered(struct px *p, const char *who, int min_threads)
{
	bool all;
	char why[256];
	int n = threads_check(p->nlb->pid, 2, 1, &all, why, sizeof(why));
	px_assert(p, n >= min_threads, "%s: %d threads (at least %d expected)", who, n,
		  min_threads);
	px_assert(p, all, "%s: %s", who, why);
}

static const char *ctl_bin(void)
{
	const char *c = getenv("NLB_CTL");
	T_ASSERT(c && *c && access(c, X_OK) == 0, ": NLB_CTL is not set (run through make test)");
	return c;
}

/* nlb-bench mode (tcp_rr, udp_rr) through 127.0.0.1:port for 2 s, with
 * no error and some answers. */
static void traffic_ok(struct px *p, const char *mode, uint16_t port)
{
	char addr[32];
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	const char *argv[] = { t_bench_bin(), mode, addr, "-c", "2", "-d", "2", "--timeout", "3000",
			       "--json", NULL };
	char *out = NULL;
	int rc = t_run(argv, 30000, &out);
	px_assert(p, rc == 0 && out && strstr(out, "\"errors_total\":0,") &&
		  !strstr(out, "\"responses\":0,"), "%s through nlb: exit %d: %s", mode, rc,
		  out ? out : "");
	free(out);
}

/* nlbctl -s sock with the words of cmd: exit 0, or the test fails. */
static void ctl_ok(struct px *p, const char *sock, const char *cmd, const char *expect)
{
	char words[256];
	snprintf(words, sizeof(words), "%s", cmd);
	const char *argv[16] = { ctl_bin(), "-s", sock };
	int n = 3;
	char *save = NULL;
	for (char *w = strtok_r(words, " ", &save); w && n < 15; w = strtok_r(NULL, " ", &save))
		argv[n++] = w;
	argv[n] = NULL;
	char *out = NULL;
	int rc = t_run(argv, 10000, &out);
	px_assert(p, rc == 0 && (!expect || (out && strstr(out, expect))),
		  "nlbctl %s: exit %d: %s", cmd, rc, out ? out : "");
	free(out);
}

/* The CN of the certificate nlb's tls listener on port shows for a.test,
 * after a round trip through it. */
static void tls_ok(struct px *p, uint16_t port, const char *want_cn)
{
	int fd;
	struct t_tls_client_opts o = { .sni = "a.test" };
	SSL *ssl = t_tls_connect(port, &o, &fd);
	px_assert(p, ssl != NULL, "TLS handshake with the tls listener");
	px_assert(p, t_tls_round_trip(ssl, "tls!", 4) == 0, "round trip over TLS");
	char cn[128];
	t_tls_peer_cn(ssl, cn, sizeof(cn));
	px_assert(p, strcmp(cn, want_cn) == 0, "certificate %s, not %s", cn, want_cn);
	t_tls_close(ssl, fd);
}

/* What the test runs: ports, targets, files. */
struct world {
	uint16_t vip, tls, web, metrics, more, t1, t2;
	char sock[64], alog[128], alog_moved[160], pem[128], key[128];
	struct t_tls certs;
};

/* The configuration; with more, the listener "more" and its group
 * "g2" that the reload adds. */
static char *conf_text(const struct world *w, bool more)
{
	char *text = NULL;
	char extra_l[256] = "", extra_g[256] = "";
	if (more) {
		snprintf(extra_l, sizeof(extra_l),
			 ",\n  { name = \"more\"; address = \"127.0.0.1:%u\"; target_group = \"g2\"; }",
			 w->more);
		snprintf(extra_g, sizeof(extra_g),
			 ",\n  { name = \"g2\"; targets = ( { address = \"127.0.0.1:%u\"; } ); }",
			 w->t2);
	}
	int n = asprintf(&text,
		"allow_root = true;\nworkers = 2;\nseccomp = true;\n"
		"admin = { socket = \"%s\"; };\nstats = { listen = \"127.0.0.1:%u\"; };\n"
		"access_log = { path = \"%s\"; };\n"
		"listeners = ( { name = \"vip\"; protocol = \"tcp_udp\"; address = \"127.0.0.1:%u\";\n"
		"  target_group = \"g\"; },\n"
		"  { name = \"sec\"; protocol = \"tls\"; address = \"127.0.0.1:%u\"; target_group = \"g\";\n"
		"    tls = { certificates = ( { cert = \"%s\"; key = \"%s\"; } ); }; },\n"
		"  { name = \"web\"; protocol = \"http\"; address = \"127.0.0.1:%u\";\n"
		"    default_action = { forward = \"h\"; }; }%s );\n"
		"target_groups = ( { name = \"g\"; targets = ( { address = \"127.0.0.1:%u\"; },\n"
		"  { address = \"127.0.0.1:%u\"; } );\n"
		"  health_check = { protocol = \"tcp\"; interval_ms = 50; timeout_ms = 40;\n"
		"    healthy_threshold = 1; }; },\n"
		"  { name = \"h\"; health_check = { protocol = \"http\"; path = \"/metrics\";\n"
		"    interval_ms = 50; timeout_ms = 40; healthy_threshold = 1; };\n"
		"    targets = ( { address = \"127.0.0.1:%u\"; } ); }%s );\n",
		w->sock, w->metrics, w->alog, w->vip, w->tls, w->pem, w->key, w->web, extra_l,
		w->t1, w->t2, w->metrics, extra_g);
	T_ASSERT(n > 0);
	return text;
}

static void world_init(struct world *w)
{
	memset(w, 0, sizeof(*w));
	w->vip = t_free_port();
	w->tls = t_free_port();
	w->web = t_free_port();
	w->metrics = t_free_port();
	w->more = t_free_port();
	w->t1 = t_free_port();
	w->t2 = t_free_port();
	T_ASSERT(t_tls_init(&w->certs) == 0, ": openssl req for the CA");
	T_ASSERT(t_tls_leaf(&w->certs, "a", "a.test", "DNS:a.test", "ec") == 0);
	t_tls_path(&w->certs, "a.pem", w->pem, sizeof(w->pem));
	t_tls_path(&w->certs, "a.key", w->key, sizeof(w->key));
	t_tls_path(&w->certs, "access.log", w->alog, sizeof(w->alog));
	snprintf(w->alog_moved, sizeof(w->alog_moved), "%s.1", w->alog);
	snprintf(w->sock, sizeof(w->sock), "/tmp/nlb-seccomp-%d.sock", (int)getpid());
}

/* Whether the metrics page at port answers 200, through curl. */
static void get_ok(struct px *p, uint16_t port, const char *what)
{
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/metrics", port);
	const char *args[] = { "-f", "-o", "/dev/null", url, NULL };
	int rc = px_curl(NULL, args);
	px_assert(p, rc == 0, "%s: curl exit %d", what, rc);
}

/* Everything one nlb does, under the filter, on p; its certificate for
 * a.test has CN cn. */
static void exercise(struct px *p, struct world *w, const char *who, const char *cn)
{
	traffic_ok(p, "tcp_rr", w->vip);
	traffic_ok(p, "udp_rr", w->vip);
	tls_ok(p, w->tls, cn);
	get_ok(p, w->web, "GET through the http listener");
	char *page = px_scrape(p, w->metrics);
	px_assert(p, strstr(page, "nlb_healthy_hosts"), "%s: the scrape: %.200s", who, page);
	free(page);
	ctl_ok(p, w->sock, "show targets", "health=healthy");
	ctl_ok(p, w->sock, "show listeners", "sec");
	ctl_ok(p, w->sock, "show stats", "accepted");
	ctl_ok(p, w->sock, "show certificates", "a.test");
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "drain target g 127.0.0.1:%u", w->t2);
	ctl_ok(p, w->sock, cmd, NULL);
	snprintf(cmd, sizeof(cmd), "add target g 127.0.0.1:%u", w->t2);
	ctl_ok(p, w->sock, cmd, NULL);
	snprintf(cmd, sizeof(cmd), "set weight g 127.0.0.1:%u 2", w->t2);
	ctl_ok(p, w->sock, cmd, NULL);
	/* the access log moved away and reopened, as logrotate does */
	T_ASSERT(rename(w->alog, w->alog_moved) == 0, ": %s: %s", w->alog, strerror(errno));
	ctl_ok(p, w->sock, "reopen", NULL);
	get_ok(p, w->web, "GET after the reopen");
	int64_t deadline = t_now_ms() + 5000;
	struct stat st;
	while (stat(w->alog, &st) != 0 && t_now_ms() < deadline)
		t_sleep_ms(20);
	px_assert(p, stat(w->alog, &st) == 0, "%s: the access log was not reopened", who);
	expect_filtered(p, who, 2 + 5);
}

T_TEST(seccomp, serves_reloads_and_upgrades_under_the_filter, .timeout = 120)
{
	struct world w;
	world_init(&w);
	struct t_nlb *s1 = t_bench_echo(w.t1), *s2 = t_bench_echo(w.t2);
	char *text = conf_text(&w, false);
	char *path = t_write_config("%s", text);
	free(text);
	T_ASSERT(path);
	struct px a;
	px_spawn_conf(&a, path);
	a.conf.listen_port = w.vip;
	px_assert(&a, t_nlb_log_contains(a.nlb, "seccomp: filter installed on every thread"),
		  "no word of the filter");
	/* every target healthy (the health thread's probes, TCP and HTTP) */
	int64_t deadline = t_now_ms() + 10000;
	while (t_nlb_log_count(a.nlb, "-> healthy") < 3 && t_now_ms() < deadline)
		t_sleep_ms(20);
	px_assert(&a, t_nlb_log_count(a.nlb, "-> healthy") >= 3, "targets not all healthy");
	exercise(&a, &w, "nlb", "a.test");

	/* A reload that adds a listener and a group and swaps the
	 * certificate behind the same file names; then through nlbctl. */
	T_ASSERT(t_tls_leaf(&w.certs, "a", "a2.test", "DNS:a.test", "ec") == 0);
	text = conf_text(&w, true);
	px_assert(&a, px_reload_text(&a, text) == 1, "the reload was not applied");
	free(text);
	int fd = t_connect(w.more);
	px_assert(&a, fd >= 0, "the listener the reload added: %s", strerror(-fd));
	px_round_trip_ok(&a, fd, "the listener the reload added");
	t_close(fd);
	tls_ok(&a, w.tls, "a2.test");
	ctl_ok(&a, w.sock, "reload", NULL);
	ctl_ok(&a, w.sock, "show targets", "g2");
	expect_filtered(&a, "nlb after the reloads", 2 + 5);

	/* The binary upgrade: B takes the admin socket over while A serves;
	 * A, told to stop, drains and exits 0.  The metrics socket is not
	 * shared (no SO_REUSEPORT: control/metrics.c), so B's is another. */
	w.metrics = t_free_port();
	text = conf_text(&w, true);
	char *path_b = t_write_config("%s", text);
	free(text);
	T_ASSERT(path_b);
	struct px b;
	memset(&b, 0, sizeof(b));
	b.conf.listen_port = w.vip;
	b.conf_path = path_b;
	const char *argv[] = { t_nlb_bin(), "-u", "-c", path_b, NULL };
	b.nlb = t_spawn(argv, NULL);
	T_ASSERT(b.nlb);
	px_assert(&b, t_nlb_log_wait(b.nlb, " running: ", 15000) == 0, "nlb -u did not start");
	px_assert(&b, t_nlb_log_contains(b.nlb, "taken over from the running nlb (-u)"),
		  "no word of the takeover");
	expect_filtered(&b, "nlb -u", 2 + 5);
	expect_filtered(&a, "the old nlb beside the new", 2 + 5);
	int rc = px_stop(&a);
	px_assert(&a, rc == 0, "the old nlb's exit after SIGTERM: %d (159 is SIGSYS: a call "
		  "outside the list)", rc);
	cr_expect(!t_nlb_log_contains(a.nlb, "Sanitizer"), "a sanitizer spoke in the old nlb");
	exercise(&b, &w, "nlb -u", "a2.test");
	rc = px_stop(&b);
	px_assert(&b, rc == 0, "the new nlb's exit after SIGTERM: %d (159 is SIGSYS)", rc);
	cr_expect(!t_nlb_log_contains(b.nlb, "Sanitizer"), "a sanitizer spoke in the new nlb");
	px_free(&b);
	px_free(&a);
	unlink(w.sock);
	t_nlb_stop(s1, 5000);
	t_nlb_stop(s2, 5000);
	t_nlb_free(s1);
	t_nlb_free(s2);
	t_tls_free(&w.certs);
}

/* Without the key: no filter on any thread, no_new_privs unset. */
T_TEST(seccomp, off_by_default, .timeout = 30)
{
	struct px p;
	px_init(&p, "auto");
	px_target(&p, t_free_port());
	p.conf.top_extra = "seccomp = false;";
	px_start(&p);
	bool all;
	char why[256];
	int n = threads_check(p.nlb->pid, 0, 0, &all, why, sizeof(why));
	px_assert(&p, n >= 3 && all, "%d threads: %s", n, why);
	px_assert(&p, !t_nlb_log_contains(p.nlb, "seccomp:"), "a word of seccomp");
	px_stop_ok(&p);
	px_free(&p);
}
