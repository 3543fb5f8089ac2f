/* nlb-bench end to end: `serve` as the target, each client mode for a
 * second with --json, and a target killed in the middle of a run.  Checks
 * accounting (requests = responses + errors + in_flight) and that runs end;
 * no throughput or latency thresholds.
 *
 * The binary is $NLB_BENCH (make test sets it), else build/nlb-bench.
 * The server listens on port 0 and the test reads the port the kernel gave
 * it from its "nlb-bench serve: MODE on 127.0.0.1:PORT" line: the kernel
 * picks a free port and nothing can take it between the pick and the bind.
 * Every process is a t_spawn child: t_teardown kills and reaps whatever a
 * failed test left behind. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

TestSuite(bench, .init = t_setup, .fini = t_teardown, .timeout = 60);

static const char *bench_bin(void)
{
	const char *p = getenv("NLB_BENCH");
	if (p && *p)
		return p;
	if (access("build/nlb-bench", X_OK) == 0)
		return "build/nlb-bench";
	cr_assert_fail("set NLB_BENCH to the nlb-bench binary (make test does)");
	return NULL;
}

struct served {
	struct t_nlb *h;
	char addr[32];		/* 127.0.0.1:PORT */
};

/* Starts `nlb-bench serve --mode MODE [extra] 127.0.0.1:0` and learns its
 * port. */
static void serve_start(struct served *s, const char *mode, const char *extra)
{
	const char *argv[8];
	int n = 0;
	argv[n++] = bench_bin();
	argv[n++] = "serve";
	argv[n++] = "--mode";
	argv[n++] = mode;
	if (extra)
		argv[n++] = extra;
	argv[n++] = "127.0.0.1:0";
	argv[n] = NULL;
	s->h = t_spawn(argv, NULL);
	cr_assert_not_null(s->h, "spawning %s serve: %s", argv[0], strerror(errno));

	static const char marker[] = " on 127.0.0.1:";
	unsigned long port = 0;
	int64_t deadline = t_now_ms() + 5000;
	while (port == 0 && t_now_ms() < deadline) {
		char *log = t_nlb_log(s->h);
		char *p = log ? strstr(log, marker) : NULL;
		if (p && strchr(p, '\n'))
			port = strtoul(p + sizeof(marker) - 1, NULL, 10);
		free(log);
		if (port == 0)
			t_sleep_ms(10);
	}
	if (port == 0 || port > 65535) {
		t_nlb_dump_log(s->h, "serve did not say where it listens");
		t_failed();
		cr_assert_fail("serve did not start");
	}
	snprintf(s->addr, sizeof(s->addr), "127.0.0.1:%lu", port);
}

static void serve_stop(struct served *s)
{
	int rc = t_nlb_stop(s->h, 5000);
	if (rc != 0)
		t_nlb_dump_log(s->h, "serve did not exit 0 on SIGTERM");
	cr_expect_eq(rc, 0, "serve exit code %d on SIGTERM", rc);
	t_nlb_free(s->h);
	s->h = NULL;
}

struct outcome {
	int rc;
	uint64_t requests, responses, in_flight, errors, errors_total;
	double duration_s;
	int parsed;
};

static int json_u64(const char *obj, const char *key, uint64_t *out)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *p = strstr(obj, pat);
	if (!p)
		return -1;
	char *end;
	*out = strtoull(p + strlen(pat), &end, 10);
	return end == p + strlen(pat) ? -1 : 0;
}

/* Sums every value of the "errors" object. */
static int json_errors(const char *obj, uint64_t *out)
{
	const char *p = strstr(obj, "\"errors\":{");
	if (!p)
		return -1;
	p += strlen("\"errors\":{");
	*out = 0;
	while (*p && *p != '}') {
		const char *colon = strchr(p, ':');
		if (!colon)
			return -1;
		char *end;
		*out += strtoull(colon + 1, &end, 10);
		if (end == colon + 1)
			return -1;
		p = *end == ',' ? end + 1 : end;
	}
	return *p == '}' ? 0 : -1;
}

static void parse(const char *out, struct outcome *o)
{
	const char *obj = out ? strstr(out, "{\"mode\":") : NULL;
	o->parsed = obj &&
		json_u64(obj, "requests", &o->requests) == 0 &&
		json_u64(obj, "responses", &o->responses) == 0 &&
		json_u64(obj, "in_flight", &o->in_flight) == 0 &&
		json_u64(obj, "errors_total", &o->errors_total) == 0 &&
		json_errors(obj, &o->errors) == 0 &&
		strstr(obj, "\"latency_us\":{\"p50\":") != NULL;
	const char *d = obj ? strstr(obj, "\"duration_s\":") : NULL;
	o->duration_s = d ? strtod(d + strlen("\"duration_s\":"), NULL) : -1;
}

static void expect_accounting(const struct outcome *o, const char *out)
{
	if (!o->parsed)
		fprintf(stderr, "---- client output ----\n%s\n----\n", out ? out : "(none)");
	cr_assert(o->parsed, "no JSON report from the client");
	cr_expect_eq(o->errors, o->errors_total, "errors %llu, errors_total %llu",
		     (unsigned long long)o->errors, (unsigned long long)o->errors_total);
	cr_expect_eq(o->requests, o->responses + o->errors + o->in_flight,
		     "requests %llu != responses %llu + errors %llu + in_flight %llu",
		     (unsigned long long)o->requests, (unsigned long long)o->responses,
		     (unsigned long long)o->errors, (unsigned long long)o->in_flight);
}

/* Runs `nlb-bench MODE ADDR args... --json` to completion. */
static void run_client(const char *mode, const char *addr, const char *const args[],
		       int timeout_ms, struct outcome *o, char **out)
{
	const char *argv[24];
	int n = 0;
	argv[n++] = bench_bin();
	argv[n++] = mode;
	argv[n++] = addr;
	for (int i = 0; args[i]; i++)
		argv[n++] = args[i];
	argv[n++] = "--json";
	argv[n] = NULL;
	memset(o, 0, sizeof(*o));
	o->rc = t_run(argv, timeout_ms, out);
	parse(*out, o);
}

/* A one-second run of mode against a fresh `serve --mode smode`. */
static void one_second(const char *mode, const char *smode, const char *sextra,
		       const char *const args[])
{
	struct served s;
	serve_start(&s, smode, sextra);
	struct outcome o;
	char *out = NULL;
	run_client(mode, s.addr, args, 10000, &o, &out);
	cr_expect_eq(o.rc, 0, "%s exit code %d", mode, o.rc);
	expect_accounting(&o, out);
	cr_expect_gt(o.responses, 0, "%s: no responses", mode);
	cr_expect_eq(o.errors, 0, "%s: %llu errors against a healthy serve", mode,
		     (unsigned long long)o.errors);
	if (o.rc != 0 || !o.parsed || o.responses == 0)
		fprintf(stderr, "---- %s output ----\n%s\n----\n", mode, out ? out : "");
	free(out);
	serve_stop(&s);
}

Test(bench, tcp_rr)
{
	static const char *const args[] = { "-d", "1", "-c", "8", "-t", "2", NULL };
	one_second("tcp_rr", "echo", NULL, args);
}

Test(bench, tcp_crr)
{
	static const char *const args[] = { "-d", "1", "-c", "8", "-t", "2", NULL };
	one_second("tcp_crr", "echo", NULL, args);
}

Test(bench, tcp_stream)
{
	static const char *const args[] = { "-d", "1", "-c", "2", "-t", "2", NULL };
	one_second("tcp_stream", "discard", NULL, args);
}

Test(bench, udp_rr)
{
	static const char *const args[] = { "-d", "1", "-c", "8", "-t", "2", NULL };
	one_second("udp_rr", "echo", "--udp", args);
}

Test(bench, tcp_rr_open_loop)
{
	static const char *const args[] = { "-d", "1", "-c", "4", "-t", "1",
					    "--rate", "2000", "--size", "100", NULL };
	one_second("tcp_rr", "echo", NULL, args);
}

Test(bench, tcp_rr_count)
{
	/* -n: every request is settled when the run ends, and a healthy
	 * target answers them all. */
	struct served s;
	serve_start(&s, "echo", "-t2");
	static const char *const args[] = { "-n", "5000", "-c", "7", "-t", "2",
					    "--size", "1000", NULL };
	struct outcome o;
	char *out = NULL;
	run_client("tcp_rr", s.addr, args, 30000, &o, &out);
	cr_expect_eq(o.rc, 0);
	expect_accounting(&o, out);
	cr_expect_eq(o.in_flight, 0);
	cr_expect_eq(o.requests, 5000);
	cr_expect_eq(o.responses, 5000);
	free(out);
	serve_stop(&s);
}

Test(bench, killed_server)
{
	/* SIGKILL the target half-way through a 2 s run: the client must
	 * count errors (reset, short, refused) and end on time. */
	struct served s;
	serve_start(&s, "echo", NULL);
	const char *argv[] = { bench_bin(), "tcp_rr", s.addr, "-d", "2", "-c", "8",
			       "-t", "2", "--json", NULL };
	int64_t t0 = t_now_ms();
	struct t_nlb *c = t_spawn(argv, NULL);
	cr_assert_not_null(c);
	t_sleep_ms(700);
	kill(s.h->pid, SIGKILL);
	cr_expect_eq(t_nlb_wait(s.h, 5000), 128 + SIGKILL);
	t_nlb_free(s.h);

	int64_t left = t0 + 2000 + 2000 - t_now_ms();
	int rc = t_nlb_wait(c, left > 0 ? (int)left : 0);
	cr_expect_eq(rc, 0, "client exit %d (-ETIMEDOUT: still running 2 s after its deadline)",
		     rc);
	char *out = t_nlb_log(c);
	struct outcome o;
	memset(&o, 0, sizeof(o));
	parse(out, &o);
	expect_accounting(&o, out);
	cr_expect_gt(o.errors, 0, "a killed target must show up as errors");
	cr_expect_gt(o.responses, 0, "the target answered before it was killed");
	free(out);
	t_nlb_free(c);
}

Test(bench, serve_sigint_and_usage)
{
	struct served s;
	serve_start(&s, "discard", NULL);
	kill(s.h->pid, SIGINT);
	cr_expect_eq(t_nlb_wait(s.h, 5000), 0, "serve must exit 0 on SIGINT");
	t_nlb_free(s.h);

	const char *bad[] = { bench_bin(), "tcp_rr", "127.0.0.1:1", "--size", "0", NULL };
	char *out = NULL;
	cr_expect_eq(t_run(bad, 5000, &out), 2, "a bad option is exit code 2");
	cr_expect(out && strstr(out, "usage:"), "a bad option prints the usage");
	free(out);
}
