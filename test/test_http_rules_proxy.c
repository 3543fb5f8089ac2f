/* Suite "http_rules_proxy": listener rules (issue 19) end to end, the real
 * nlb binary in front of NGINX serving three groups ("api", "web", "new";
 * each answers with its name and the request target it was sent).  Every
 * condition and action, priorities, wildcards, spellings of a path that
 * try to step around a rule, a weighted forward over 10,000 requests,
 * group stickiness by the NLBTG cookie, a reload that changes the rules
 * while a client keeps sending, and the rules' counters as nlbctl and
 * the metrics page show them. */
#include <criterion/criterion.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "helpers/nginx_peer.h"
#include "px.h"

TestSuite(http_rules_proxy, .init = t_setup, .fini = t_teardown);

/* NGINX with one server per group, and nlb over them. */
struct lab {
	struct t_nginx ng;
	uint16_t api, web, new_, listen, stats;
	char sock[64];
	struct px p;
};

static void lab_nginx(struct lab *b)
{
	b->api = t_free_port();
	b->web = t_free_port();
	b->new_ = t_free_port();
	char servers[1024];
	static const char srv[] =
		"server { listen 127.0.0.1:%u; keepalive_requests 100000;"
		" location / { return 200 \"srv=%s uri=$request_uri\\n\"; } }\n";
	int n = snprintf(servers, sizeof(servers), srv, b->api, "api");
	n += snprintf(servers + n, sizeof(servers) - (size_t)n, srv, b->web, "web");
	snprintf(servers + n, sizeof(servers) - (size_t)n, srv, b->new_, "new");
	T_ASSERT(t_nginx_start(&b->ng, servers, b->new_) == 0, ": nginx");
	b->listen = t_free_port();
	b->stats = t_free_port();
	snprintf(b->sock, sizeof(b->sock), "/tmp/nlb-rules-%d-%u.sock", (int)getpid(), b->listen);
}

/* The configuration with rules (the text inside "rules = ( ... )") and
 * extra listener keys. */
static char *lab_text_with(const struct lab *b, const char *rules, const char *extra)
{
	char *t = NULL;
	int n = asprintf(&t,
		"workers = 2;\nlog_level = \"info\";\n"
		"admin = { socket = \"%s\"; };\n"
		"stats = { listen = \"127.0.0.1:%u\"; };\n"
		"listeners = ( { name = \"www\"; protocol = \"http\"; address = \"127.0.0.1:%u\";\n"
		"  rules = ( %s );\n%s"
		"  default_action = { forward = \"web\"; }; } );\n"
		"target_groups = (\n"
		"  { name = \"api\"; targets = ( { address = \"127.0.0.1:%u\"; } ); },\n"
		"  { name = \"web\"; targets = ( { address = \"127.0.0.1:%u\"; } ); },\n"
		"  { name = \"new\"; targets = ( { address = \"127.0.0.1:%u\"; } ); } );\n",
		b->sock, b->stats, b->listen, rules, extra, b->api, b->web, b->new_);
	T_ASSERT(n > 0);
	return t;
}

static char *lab_text(const struct lab *b, const char *rules)
{
	return lab_text_with(b, rules, "");
}

static void lab_start_with(struct lab *b, const char *rules, const char *extra)
{
	char *t = lab_text_with(b, rules, extra);
	char *conf = t_write_config("%s", t);
	free(t);
	T_ASSERT(conf);
	px_spawn_conf(&b->p, conf);
	b->p.conf.listen_port = b->listen;
}

static void lab_start(struct lab *b, const char *rules)
{
	lab_start_with(b, rules, "");
}

static void lab_free(struct lab *b)
{
	unlink(b->sock);
	px_free(&b->p);
	t_nginx_free(&b->ng);
}

/* One exchange on fd: the request's status, the response in buf. */
static int ask_on(struct lab *b, int fd, const char *req, char *buf, size_t cap)
{
	size_t got = 0;
	px_assert(&b->p, t_write_all(fd, req, strlen(req)) == 0, "send");
	int st = px_read_response(fd, buf, cap - 1, &got, 3000, false);
	buf[st > 0 ? got : 0] = '\0';
	return st;
}

/* The same on a connection of its own. */
static int ask(struct lab *b, const char *req, char *buf, size_t cap)
{
	int fd = px_connect(&b->p);
	int st = ask_on(b, fd, req, buf, cap);
	t_close(fd);
	return st;
}

/* GET target with Host host and extra fields: "srv=<group> ..." expected,
 * the group's name returned (static), or the status as text. */
static const char *group_of(struct lab *b, const char *method, const char *host,
			    const char *target, const char *extra)
{
	static char name[16];
	char req[1024], buf[4096];
	snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: %s\r\n%s\r\n", method, target, host,
		 extra ? extra : "");
	int st = ask(b, req, buf, sizeof(buf));
	const char *s = strstr(buf, "srv=");
	if (st != 200 || !s) {
		snprintf(name, sizeof(name), "%d", st);
		return name;
	}
	snprintf(name, sizeof(name), "%.3s", s + 4);
	return name;
}

#define EXPECT_GROUP(b, want, method, host, target, extra)				\
	do {										\
		const char *got_ = group_of((b), (method), (host), (target), (extra));	\
		cr_expect_str_eq(got_, (want), "%s %s (Host %s): %s, want %s", (method),	\
				 (target), (host), got_, (want));				\
	} while (0)

/* Every condition, by the group or answer a request gets; the lowest
 * priority number wins wherever it is written. */
static const char conditions[] =
	"{ priority = 30; path = \"/p/*\"; forward = \"new\"; },\n"
	"{ priority = 10; host = ( \"api.example.com\", \"*.api.example.org\" ); path = ( \"/v1/*\" );"
	"  forward = \"api\"; },\n"
	"{ priority = 20; path = \"/p/x?\"; forward = \"api\"; },\n"
	"{ priority = 40; method = ( \"PUT\", \"PATCH\" ); forward = \"new\"; },\n"
	"{ priority = 50; header = { name = \"X-Canary\"; values = ( \"yes\", \"on*\" ); };"
	"  forward = \"new\"; },\n"
	"{ priority = 60; query = ( { key = \"version\"; value = \"2\"; }, { value = \"beta*\"; } );"
	"  forward = \"api\"; },\n"
	"{ priority = 70; source = ( \"10.0.0.0/8\" ); path = \"/src\"; forward = \"api\"; },\n"
	"{ priority = 71; source = ( \"127.0.0.1/32\", \"::1/128\" ); path = \"/src\"; forward = \"new\"; },\n"
	"{ priority = 80; path = ( \"/admin\", \"/admin/*\" ); fixed_response = { status = 403;"
	"  content_type = \"text/plain\"; body = \"no admin\\n\"; }; },\n"
	"{ priority = 90; method = \"TRACE\"; fixed_response = { status = 405; }; },\n"
	"{ priority = 100; path = \"/old/*\"; redirect = { status = 301; path = \"/new/#{path}\"; }; },\n"
	"{ priority = 110; host = \"www.example.com\"; path = \"/secure/*\";"
	"  redirect = { status = 302; protocol = \"https\"; port = \"443\"; }; },\n"
	"{ priority = 120; path = \"/moved\"; redirect = { status = 301; host = \"other.example.net\";"
	"  port = \"8443\"; protocol = \"https\"; path = \"/landing\"; query = \"from=#{host}&#{query}\"; }; }\n";

T_TEST(http_rules_proxy, every_condition_and_action, .timeout = 60)
{
	struct lab b;
	lab_nginx(&b);
	lab_start(&b, conditions);
	const char *h = "api.example.com";
	EXPECT_GROUP(&b, "api", "GET", h, "/v1/users", NULL);
	EXPECT_GROUP(&b, "api", "GET", "API.Example.COM:8080", "/v1/users", NULL);
	EXPECT_GROUP(&b, "api", "GET", "eu.api.example.org", "/v1/", NULL);
	EXPECT_GROUP(&b, "web", "GET", "api.example.org", "/v1/x", NULL);	/* wildcard needs a label */
	EXPECT_GROUP(&b, "web", "GET", h, "/v2/users", NULL);
	EXPECT_GROUP(&b, "web", "GET", "www.example.com", "/v1/users", NULL);
	/* 20 before 30: "/p/xy" matches both */
	EXPECT_GROUP(&b, "api", "GET", h, "/p/xy", NULL);
	EXPECT_GROUP(&b, "new", "GET", h, "/p/xyz", NULL);
	EXPECT_GROUP(&b, "new", "PUT", h, "/m", "Content-Length: 0\r\n");
	EXPECT_GROUP(&b, "web", "DELETE", h, "/m", NULL);
	EXPECT_GROUP(&b, "new", "GET", h, "/h", "x-canary: YES\r\n");
	EXPECT_GROUP(&b, "new", "GET", h, "/h", "X-Canary: no\r\nx-canary: online\r\n");
	EXPECT_GROUP(&b, "web", "GET", h, "/h", "X-Canary: no\r\n");
	EXPECT_GROUP(&b, "api", "GET", h, "/q?a=1&version=2", NULL);
	EXPECT_GROUP(&b, "api", "GET", h, "/q?tag=beta7", NULL);
	EXPECT_GROUP(&b, "web", "GET", h, "/q?version=20", NULL);
	EXPECT_GROUP(&b, "new", "GET", h, "/src", NULL);	/* 127.0.0.1, not 10/8 */
	/* an absolute-form target's host is the request's, not Host's */
	EXPECT_GROUP(&b, "web", "GET", h, "http://admin.internal/v1/users", NULL);
	EXPECT_GROUP(&b, "api", "GET", "elsewhere", "http://api.example.com:80/v1/users", NULL);

	/* fixed responses: status, type and body; and every spelling of
	 * /admin is /admin, so none steps around rule 80 */
	char buf[4096];
	static const char *const admin[] = {
		"/admin", "/admin/", "/v1/../admin", "/x/%2e%2e/admin", "/x/%2E%2e/admin/k",
		"//admin", "/./admin", "/%61dmin", "/%61%64%6d%69%6e/k", "/a/b/../../admin",
	};
	for (size_t i = 0; i < sizeof(admin) / sizeof(*admin); i++) {
		char req[256];
		snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", admin[i], h);
		int st = ask(&b, req, buf, sizeof(buf));
		cr_expect_eq(st, 403, "%s: %d", admin[i], st);
		cr_expect(strstr(buf, "Content-Type: text/plain\r\n") && strstr(buf, "\r\n\r\nno admin\n"),
			  "%s: %s", admin[i], buf);
	}
	/* a path above the root is a 400; an encoded slash is not a slash */
	static const char *const bad[] = { "/..", "/../admin", "/%2e%2e/admin", "/a/%2E%2E/../..",
					   "/%zz" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		char req[256];
		snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", bad[i], h);
		cr_expect_eq(ask(&b, req, buf, sizeof(buf)), 400, "%s", bad[i]);
	}
	EXPECT_GROUP(&b, "web", "GET", h, "/x%2Fadmin", NULL);
	/* the target gets the request target as sent */
	char req[512];
	snprintf(req, sizeof(req), "GET /v1/./a//b HTTP/1.1\r\nHost: %s\r\n\r\n", h);
	cr_expect_eq(ask(&b, req, buf, sizeof(buf)), 200);
	cr_expect(strstr(buf, "srv=api uri=/v1/./a//b\n"), "%s", buf);
	int st = ask(&b, "TRACE / HTTP/1.1\r\nHost: a\r\n\r\n", buf, sizeof(buf));
	cr_expect_eq(st, 405);
	cr_expect(strstr(buf, "Content-Length: 0\r\n"), "%s", buf);

	/* redirects: the ALB's templates (#{path}: the whole path without its
	 * first '/'), the default port left out */
	struct { const char *host, *target; int status; const char *location; } rd[] = {
		{ "www.example.com", "/old/a/b?q=1", 301, "http://www.example.com:%u/new/old/a/b?q=1" },
		{ "Www.Example.com:99", "/old/x", 301, "http://Www.Example.com:%u/new/old/x" },
		{ "www.example.com", "/secure/a?b=c", 302, "https://www.example.com/secure/a?b=c" },
		{ "www.example.com", "/moved?k=v", 301,
		  "https://other.example.net:8443/landing?from=www.example.com&k=v" },
	};
	for (size_t i = 0; i < sizeof(rd) / sizeof(*rd); i++) {
		snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", rd[i].target,
			 rd[i].host);
		st = ask(&b, req, buf, sizeof(buf));
		char want[256], line[300];
		snprintf(want, sizeof(want), rd[i].location, b.listen);
		snprintf(line, sizeof(line), "\r\nLocation: %s\r\n", want);
		cr_expect_eq(st, rd[i].status, "%s: %d", rd[i].target, st);
		cr_expect(strstr(buf, line), "%s: want %s in:\n%s", rd[i].target, want, buf);
	}

	/* the counts: nlbctl and the metrics page, by priority */
	char out[16384];
	int rc = t_admin_command(b.sock, "show rules", out, sizeof(out));
	px_assert(&b.p, rc == 0, "show rules: %d: %s", rc, out);
	cr_expect(strstr(out, "listener=www priority=10 host=api.example.com|*.api.example.org "
			      "path=/v1/* -> forward api matches=5\n"), "%s", out);
	cr_expect(strstr(out, "listener=www priority=80 path=/admin|/admin/* -> fixed_response 403 "
			      "text/plain no\\x20admin\\x0a matches=10\n"), "%s", out);
	cr_expect(strstr(out, "priority=100 path=/old/* -> redirect 301 "), "%s", out);
	/* the lines are in priority order */
	const char *p10 = strstr(out, "priority=10 "), *p20 = strstr(out, "priority=20 "),
		   *p30 = strstr(out, "priority=30 ");
	cr_expect(p10 && p20 && p30 && p10 < p20 && p20 < p30, "%s", out);
	char *m = px_scrape(&b.p, b.stats);
	cr_expect_eq(px_metric(m, "nlb_http_rule_matches_total{listener=\"www\",priority=\"10\"}"), 5);
	cr_expect_eq(px_metric(m, "nlb_http_rule_matches_total{listener=\"www\",priority=\"20\"}"), 1);
	cr_expect_eq(px_metric(m, "nlb_http_rule_matches_total{listener=\"www\",priority=\"71\"}"), 1);
	cr_expect_eq(px_metric(m, "nlb_http_rule_matches_total{listener=\"www\",priority=\"70\"}"), 0);
	cr_expect_eq(px_metric(m, "nlb_http_rule_matches_total{listener=\"www\",priority=\"80\"}"), 10);
	cr_expect_eq(px_metric(m, "nlb_http_rule_answers_total{listener=\"www\",action=\"redirect\"}"),
		     4);
	cr_expect_eq(px_metric(m, "nlb_http_rule_answers_total{listener=\"www\","
				  "action=\"fixed_response\"}"), 11);
	cr_expect_eq(px_metric(m, "nlb_http_elb_responses_total{listener=\"www\",code=\"400\"}"), 5);
	free(m);
	px_stop_ok(&b.p);
	cr_expect_eq(px_stat(&b.p, "http_redirects"), 4);
	cr_expect_eq(px_stat(&b.p, "http_fixed_responses"), 11);
	lab_free(&b);
}

/* With accept_proxy_protocol the source a rule sees is the PROXY
 * header's, v1 and v2 (IPv6) alike. */
T_TEST(http_rules_proxy, source_from_the_proxy_header, .timeout = 30)
{
	struct lab b;
	lab_nginx(&b);
	lab_start_with(&b, "{ priority = 1; source = ( \"10.0.0.0/8\", \"2001:db8::/32\" ); "
			   "forward = \"api\"; }", "  accept_proxy_protocol = true;\n");
	static const char get[] = "GET /s HTTP/1.1\r\nHost: a\r\n\r\n";
	struct { const char *pp; size_t len; const char *want; } c[] = {
		{ "PROXY TCP4 10.1.2.3 127.0.0.1 5555 80\r\n", 0, "srv=api" },
		{ "PROXY TCP4 192.0.2.7 127.0.0.1 5555 80\r\n", 0, "srv=web" },
		/* v2, TCP over IPv6, from 2001:db8::5 */
		{ "\r\n\r\n\0\r\nQUIT\n\x21\x21\0\x24"
		  "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x05"
		  "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01\x15\xb3\0\x50", 52, "srv=api" },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(*c); i++) {
		char req[256], buf[2048];
		size_t n = c[i].len ? c[i].len : strlen(c[i].pp);
		memcpy(req, c[i].pp, n);
		memcpy(req + n, get, sizeof(get));
		int fd = px_connect(&b.p);
		px_assert(&b.p, t_write_all(fd, req, n + sizeof(get) - 1) == 0, "send");
		size_t got = 0;
		int st = px_read_response(fd, buf, sizeof(buf) - 1, &got, 3000, false);
		buf[st > 0 ? got : 0] = '\0';
		t_close(fd);
		cr_expect_eq(st, 200, "case %zu: %d", i, st);
		cr_expect(strstr(buf, c[i].want), "case %zu: want %s: %s", i, c[i].want, buf);
	}
	px_stop_ok(&b.p);
	lab_free(&b);
}

/* A keep-alive connection's requests each go by the rules: a fixed
 * response between two forwards leaves the connection open. */
T_TEST(http_rules_proxy, rules_per_request_on_one_connection, .timeout = 30)
{
	struct lab b;
	lab_nginx(&b);
	lab_start(&b, conditions);
	int fd = px_connect(&b.p);
	char buf[4096];
	cr_expect_eq(ask_on(&b, fd, "GET /v1/a HTTP/1.1\r\nHost: api.example.com\r\n\r\n", buf,
			    sizeof(buf)), 200);
	cr_expect(strstr(buf, "srv=api"), "%s", buf);
	cr_expect_eq(ask_on(&b, fd, "GET /admin HTTP/1.1\r\nHost: a\r\n\r\n", buf, sizeof(buf)), 403);
	cr_expect_eq(ask_on(&b, fd, "GET /old/z HTTP/1.1\r\nHost: a\r\n\r\n", buf, sizeof(buf)), 301);
	cr_expect_eq(ask_on(&b, fd, "GET /z HTTP/1.1\r\nHost: a\r\n\r\n", buf, sizeof(buf)), 200);
	cr_expect(strstr(buf, "srv=web"), "%s", buf);
	t_close(fd);
	px_stop_ok(&b.p);
	cr_expect_eq(px_stat(&b.p, "accepted"), 1);
	lab_free(&b);
}

static const char weighted[] =
	"{ priority = 1; path = \"/w\"; forward = ( { target_group = \"new\"; weight = 10; },"
	"  { target_group = \"web\"; weight = 90; }, { target_group = \"api\"; weight = 0; } ); },\n"
	"{ priority = 2; path = \"/s\"; forward = ( { target_group = \"new\"; weight = 50; },"
	"  { target_group = \"web\"; weight = 50; } ); stickiness = { duration_s = 3600; }; }\n";

/* The NLBTG value in a response, or NULL. */
static const char *cookie_in(const char *resp, char *out, size_t cap)
{
	const char *c = strstr(resp, "\r\nSet-Cookie: NLBTG=");
	if (!c)
		return NULL;
	c += strlen("\r\nSet-Cookie: ");
	size_t n = strcspn(c, ";\r");
	snprintf(out, cap, "%.*s", (int)n, c);
	return out;
}

T_TEST(http_rules_proxy, weighted_forward_and_stickiness, .timeout = 120)
{
	struct lab b;
	lab_nginx(&b);
	lab_start(&b, weighted);
	/* 10,000 requests over 4 keep-alive connections: 10 % to new,
	 * 90 % to web, none to the group of weight 0 */
	enum { N = 10000, CONNS = 4 };
	int fds[CONNS];
	for (int i = 0; i < CONNS; i++)
		fds[i] = px_connect(&b.p);
	unsigned to_new = 0, to_web = 0, other = 0;
	char buf[4096];
	for (int i = 0; i < N; i++) {
		int st = ask_on(&b, fds[i % CONNS], "GET /w HTTP/1.1\r\nHost: a\r\n\r\n", buf,
				sizeof(buf));
		if (st == 200 && strstr(buf, "srv=new"))
			to_new++;
		else if (st == 200 && strstr(buf, "srv=web"))
			to_web++;
		else
			other++;
		cr_assert(!strstr(buf, "Set-Cookie"), "no stickiness on /w: %s", buf);
	}
	for (int i = 0; i < CONNS; i++)
		t_close(fds[i]);
	cr_expect_eq(other, 0, "%u answered otherwise", other);
	/* 1000 expected, binomial sd 30: 850..1150 is 5 sd either way */
	cr_expect(to_new >= 850 && to_new <= 1150, "new: %u of %d (want about 1000)", to_new, N);
	cr_expect_eq(to_new + to_web, N);

	/* stickiness: the first answer sets NLBTG, and with it every later
	 * request goes to the same group; each answer sets it again */
	char req[256], first[64], again[64];
	int st = ask(&b, "GET /s HTTP/1.1\r\nHost: a\r\n\r\n", buf, sizeof(buf));
	cr_assert_eq(st, 200);
	const char *grp = strstr(buf, "srv=new") ? "srv=new" : "srv=web";
	cr_assert(cookie_in(buf, first, sizeof(first)), "no NLBTG in:\n%s", buf);
	cr_expect(strstr(buf, "; Max-Age=3600; Path=/\r\n"), "%s", buf);
	snprintf(req, sizeof(req), "GET /s HTTP/1.1\r\nHost: a\r\nCookie: a=1; %s; b=2\r\n\r\n",
		 first);
	for (int i = 0; i < 200; i++) {
		st = ask(&b, req, buf, sizeof(buf));
		cr_assert_eq(st, 200);
		cr_assert(strstr(buf, grp), "request %d left %s: %s", i, grp, buf);
		cr_assert(cookie_in(buf, again, sizeof(again)) && !strcmp(again, first), "%s", buf);
	}
	/* without the cookie, both groups are seen */
	unsigned seen_new = 0;
	for (int i = 0; i < 200; i++) {
		st = ask(&b, "GET /s HTTP/1.1\r\nHost: a\r\nCookie: NLBTG=zz\r\n\r\n", buf, sizeof(buf));
		seen_new += st == 200 && strstr(buf, "srv=new") != NULL;
	}
	cr_expect(seen_new > 40 && seen_new < 160, "new: %u of 200", seen_new);
	px_stop_ok(&b.p);
	lab_free(&b);
}

/* ---- reload under load ------------------------------------------------- */

struct loader {
	struct lab *b;
	atomic_bool stop;
	atomic_uint ok, failed, to_api, to_new;
	pthread_t th;
};

/* Keep-alive requests for /r, one after another, until stopped. */
static void *load_run(void *arg)
{
	struct loader *l = arg;
	int fd = t_connect_raw(l->b->listen);
	char buf[4096];
	static const char req[] = "GET /r HTTP/1.1\r\nHost: a\r\n\r\n";
	while (fd >= 0 && !atomic_load(&l->stop)) {
		size_t got = 0;
		int st = -1;
		if (t_write_all(fd, req, sizeof(req) - 1) == 0)
			st = px_read_response(fd, buf, sizeof(buf) - 1, &got, 3000, false);
		buf[st > 0 ? got : 0] = '\0';
		if (st != 200) {
			atomic_fetch_add(&l->failed, 1);
			close(fd);
			fd = t_connect_raw(l->b->listen);
			continue;
		}
		atomic_fetch_add(&l->ok, 1);
		if (strstr(buf, "srv=api"))
			atomic_fetch_add(&l->to_api, 1);
		else if (strstr(buf, "srv=new"))
			atomic_fetch_add(&l->to_new, 1);
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

static void wait_ok(struct loader *l, unsigned more)
{
	unsigned want = atomic_load(&l->ok) + more;
	int64_t deadline = t_now_ms() + 10000;
	while (atomic_load(&l->ok) < want && t_now_ms() < deadline)
		t_sleep_ms(5);
	cr_assert(atomic_load(&l->ok) >= want, "the load stalled at %u", atomic_load(&l->ok));
}

T_TEST(http_rules_proxy, reload_changes_rules_under_load, .timeout = 60)
{
	struct lab b;
	lab_nginx(&b);
	static const char before[] = "{ priority = 5; path = \"/r\"; forward = \"api\"; },\n"
				     "{ priority = 6; path = \"/k\"; forward = \"web\"; }";
	static const char after[] = "{ priority = 5; path = \"/r\"; forward = \"new\"; },\n"
				    "{ priority = 6; path = \"/k\"; forward = \"web\"; }";
	lab_start(&b, before);
	struct loader l = { .b = &b };
	T_ASSERT(pthread_create(&l.th, NULL, load_run, &l) == 0);
	wait_ok(&l, 200);
	cr_expect_eq(atomic_load(&l.to_new), 0);
	/* the same rules again: applied, and their counts go on */
	char *t = lab_text(&b, before);
	cr_expect_eq(px_reload_text(&b.p, t), 1);
	free(t);
	wait_ok(&l, 200);
	char out[8192];
	cr_assert_eq(t_admin_command(b.sock, "show rules www", out, sizeof(out)), 0, "%s", out);
	const char *mt = strstr(out, "priority=5 ");
	mt = mt ? strstr(mt, "matches=") : NULL;
	cr_expect(mt && strtoull(mt + 8, NULL, 10) >= 400, "counts went on: %s", out);
	/* new rules: /r now goes to new, on the same keep-alive connection */
	t = lab_text(&b, after);
	cr_expect_eq(px_reload_text(&b.p, t), 1);
	free(t);
	unsigned api_then = atomic_load(&l.to_api);
	wait_ok(&l, 50);	/* at most the one request in flight went by the old rules */
	cr_expect(atomic_load(&l.to_api) <= api_then + 1, "api after the reload: %u -> %u", api_then,
		  atomic_load(&l.to_api));
	wait_ok(&l, 300);
	cr_expect(atomic_load(&l.to_new) >= 300, "to new: %u", atomic_load(&l.to_new));
	cr_assert_eq(t_admin_command(b.sock, "show rules", out, sizeof(out)), 0, "%s", out);
	cr_expect(strstr(out, "priority=5 path=/r -> forward new matches="), "%s", out);
	/* a reload that names a group that does not exist is refused whole */
	t = lab_text(&b, "{ priority = 5; path = \"/r\"; forward = \"nowhere\"; }");
	cr_expect_eq(px_reload_text(&b.p, t), 0);
	free(t);
	wait_ok(&l, 100);
	atomic_store(&l.stop, true);
	pthread_join(l.th, NULL);
	cr_expect_eq(atomic_load(&l.failed), 0, "%u requests failed", atomic_load(&l.failed));
	cr_assert_eq(t_admin_command(b.sock, "show rules nowhere", out, sizeof(out)), -EPROTO);
	cr_expect(strstr(out, "no http listener \"nowhere\""), "%s", out);
	px_stop_ok(&b.p);
	cr_expect_eq(px_stat(&b.p, "accepted"), 1, "one connection throughout");
	lab_free(&b);
}
