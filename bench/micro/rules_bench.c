/* Micro-benchmark of listener rules (lib/http_rules.c, lib/http_path.c):
 * the work a worker adds to a request on a listener with rules, which is
 * normalising its path and walking the rules to the first that holds,
 * for 1, 20 and 100 rules whose last is the match (every rule before it
 * evaluated and failed), over requests whose paths vary.  Rules come
 * from configuration text through the real loader.  Built by `make` as
 * build/rules-bench; run it without arguments.  Each figure is the
 * median of several runs, in nanoseconds per request on one thread. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "http1_head.h"
#include "http_path.h"
#include "http_rules.h"
#include "micro.h"

#define REQUESTS 64
#define ROUNDS   (1u << 14)
#define REPEAT   7

/* n rules, the kinds of bench/http_rules, the last matching
 * "/bench/..." on host 127.0.0.1. */
static struct nlb_config *load(unsigned n)
{
	size_t cap = 64 + 200 * (size_t)n + 1024, off = 0;
	char *t = malloc(cap);
	if (!t)
		return NULL;
	off += (size_t)snprintf(t + off, cap - off, "listeners = ( { name = \"www\"; protocol = "
				"\"http\"; address = \"127.0.0.1:80\"; rules = (\n");
	for (unsigned i = 1; i < n; i++) {
		switch (i % 5) {
		case 0: off += (size_t)snprintf(t + off, cap - off, "{ priority = %u; host = ( "
			"\"api%u.example.com\", \"*.svc%u.example.net\" ); forward = \"web\"; },\n",
			i, i, i); break;
		case 1: off += (size_t)snprintf(t + off, cap - off, "{ priority = %u; path = ( "
			"\"/v%u/*\", \"/api/v%u/*/items\" ); forward = \"web\"; },\n", i, i, i); break;
		case 2: off += (size_t)snprintf(t + off, cap - off, "{ priority = %u; header = { name "
			"= \"x-tenant-%u\"; values = ( \"gold*\" ); }; forward = \"web\"; },\n", i, i);
			break;
		case 3: off += (size_t)snprintf(t + off, cap - off, "{ priority = %u; query = ( { key "
			"= \"shard\"; value = \"%u\"; } ); path = \"/bench/*\"; forward = \"web\"; },\n",
			i, i); break;
		case 4: off += (size_t)snprintf(t + off, cap - off, "{ priority = %u; method = ( "
			"\"PUT\", \"DELETE\" ); path = \"/bench/*\"; forward = \"web\"; },\n", i); break;
		}
	}
	snprintf(t + off, cap - off, "{ priority = %u; host = \"127.0.0.1\"; path = \"/bench/*\"; "
		 "forward = \"web\"; } );\n default_action = { forward = \"web\"; }; } );\n"
		 "target_groups = ( { name = \"web\"; } );\n", n);
	struct nlb_config *cfg = NULL;
	char err[512];
	if (nlb_config_parse("bench.conf", t, strlen(t), &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "rules-bench: %s\n", err);
		cfg = NULL;
	}
	free(t);
	return cfg;
}

struct request {
	char buf[512];
	struct nlb_http1_head head;
};

int main(void)
{
	static struct request req[REQUESTS];
	static const char *const ua[] = { "curl/7.88.1", "Mozilla/5.0 (X11; Linux x86_64)" };
	uint64_t seed = 1;
	for (unsigned i = 0; i < REQUESTS; i++) {
		int n = snprintf(req[i].buf, sizeof(req[i].buf),
				 "GET /bench/%llx/item%u?id=%u HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
				 "User-Agent: %s\r\nAccept: */*\r\nX-Request-Id: %llx\r\n\r\n",
				 (unsigned long long)(rng_next(&seed) & 0xffffff), i, i, ua[i % 2],
				 (unsigned long long)rng_next(&seed));
		nlb_http1_head_init(&req[i].head, NLB_HTTP1_REQUEST, 0, sizeof(req[i].buf));
		if (nlb_http1_head_parse(&req[i].head, req[i].buf, (size_t)n) != n) {
			fprintf(stderr, "rules-bench: request %u did not parse\n", i);
			return 1;
		}
	}
	static char path[NLB_HTTP1_HEAD_LIMIT + 3];
	struct sockaddr_in src = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	printf("listener rules: path normalised and rules walked, the last rule the match\n");
	printf("%u requests of varied paths, %u rounds, median of %u runs\n", REQUESTS, ROUNDS,
	       REPEAT);
	static const unsigned counts[] = { 1, 20, 100 };
	for (size_t c = 0; c < sizeof(counts) / sizeof(*counts); c++) {
		struct nlb_config *cfg = load(counts[c]);
		if (!cfg)
			return 1;
		const struct nlb_http_rules *rules = cfg->listeners[0].http.rules;
		double ns[REPEAT];
		uint64_t sink = 0;
		for (unsigned r = 0; r < REPEAT; r++) {
			uint64_t t0 = now_ns();
			for (unsigned k = 0; k < ROUNDS; k++)
				for (unsigned i = 0; i < REQUESTS; i++) {
					const struct nlb_http1_head *h = &req[i].head;
					const char *b = req[i].buf, *target = b + h->target.at;
					int plen = nlb_http_path_normalise(target, h->target.len, path,
									   sizeof(path));
					struct nlb_http_request_view v = {
						.method = b + h->method_text.at,
						.method_len = h->method_text.len,
						.host = b + h->host.at,
						.host_len = nlb_http_host_name_len(b + h->host.at,
										   h->host.len),
						.path = path, .path_len = plen > 0 ? (size_t)plen : 0,
						.head = h, .buf = b, .src = (const struct sockaddr *)&src,
					};
					v.query = nlb_http_target_query(target, h->target.len,
									&v.query_len);
					sink += (uint64_t)nlb_http_rules_match(rules, &v);
				}
			ns[r] = (double)(now_ns() - t0) / ((double)ROUNDS * REQUESTS);
			if (sink != (uint64_t)(r + 1) * ROUNDS * REQUESTS * (counts[c] - 1)) {
				fprintf(stderr, "rules-bench: the last rule did not match\n");
				return 1;
			}
		}
		printf("%3u rules: %6.0f ns per request\n", counts[c], micro_median(ns, REPEAT));
		nlb_config_free(cfg);
	}
	return 0;
}
