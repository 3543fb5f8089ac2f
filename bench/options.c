/* nlb-bench command line parsing. */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char bench_usage[] =
"usage: nlb-bench serve [--mode echo|discard|source] [--udp|--tcp-udp] [--no-gro]\n"
"                       [--size N] [-t THREADS] ADDR\n"
"       nlb-bench MODE ADDR [-t THREADS] [-c CONNS] [-d SECONDS | -n COUNT]\n"
"                       [--size REQ[,RESP]] [--rate PER_SEC] [--timeout MS] [--json]\n"
"                       [--verify] [--interval SECONDS]\n"
"       nlb-bench udp_stream ADDR [--gso N] [--no-gso] [--size REQ] [options as above]\n"
"\n"
"ADDR is 127.0.0.1:9001 or [::1]:9001.  Sizes take a k or m suffix (KiB, MiB).\n"
"\n"
"serve: a target server on io_uring, one ring and SO_REUSEPORT socket per thread\n"
"  --mode echo     write back every byte read; on EOF finish writing, then close\n"
"  --mode discard  read and drop\n"
"  --mode source   write --size chunks (default 64k) until the peer closes\n"
"  --udp           UDP only: each datagram back to its sender (--mode discard:\n"
"                  dropped); --tcp-udp: both on the same port\n"
"  --no-gro        UDP without UDP_GRO: by default a batch of one sender's\n"
"                  datagrams is received at once and echoed as one UDP_SEGMENT\n"
"                  (GSO) send of the same datagrams\n"
"  -t THREADS      default 1\n"
"\n"
"client MODEs:\n"
"  tcp_rr      request/response on CONNS persistent connections\n"
"  tcp_crr     connect, one request/response, close; reports connections/s\n"
"  tcp_stream  send REQ-byte chunks (default 64k) as fast as possible; Gbit/s\n"
"  udp_rr      datagram request/response, one UDP socket (source port) per flow\n"
"  udp_stream  bursts of N datagrams of REQ bytes (default 16 x 1200) per flow,\n"
"              each burst echoed back in full before the flow sends the next;\n"
"              reports datagrams/s (answered bursts x N / s).  Every datagram\n"
"              starts with the burst's 8-byte number; the flows' sockets have\n"
"              UDP_GRO on, so a batch of echoed datagrams is one receive\n"
"    --gso N      N datagrams per burst, 1..64 (default 16), sent as one sendmsg\n"
"                 with UDP_SEGMENT = REQ (GSO); N x REQ must be <= 65507\n"
"    --no-gso     (or --gso-off) send the same N datagrams one sendmsg each\n"
"  -t THREADS     threads, each with its own io_uring (default: CPUs)\n"
"  -c CONNS       connections or flows, split across threads (default 16)\n"
"  -d SECONDS     run time (default 10); -n COUNT: stop after COUNT requests\n"
"  --size REQ[,RESP]  request and response bytes (default 64,REQ); against\n"
"                 serve --mode echo RESP must equal REQ; udp_rr needs REQ >= 8;\n"
"                 udp_stream takes REQ only (8..65507, default 1200)\n"
"  --rate PER_SEC open loop: total requests/s spread over connections, latency\n"
"                 measured from each request's intended send time (udp_stream:\n"
"                 a request is a burst)\n"
"  --timeout MS   a request unanswered this long is a timeout (default 5000)\n"
"  --json         print one JSON object instead of text\n"
"  --verify       tcp_rr, tcp_crr, udp_rr against serve --mode echo: each\n"
"                 request's bytes are a function of (connection, request\n"
"                 number) and its answer must equal it byte for byte; one\n"
"                 that differs is an error of its own, corrupt, and the bytes\n"
"                 that differ are counted (corrupt_bytes)\n"
"  --interval S   also print each S seconds' figures as they end (one JSON\n"
"                 object a line with --json): answered, errors, corrupt\n"
"                 bytes, latency p50 p99 max, and p99 from each request's\n"
"                 real send (with --rate the rest counts from when it was\n"
"                 due); the last line covers the rest of the run, so the\n"
"                 lines add up to the totals\n"
"\n"
"Output: throughput; latency p50 p90 p99 p99.9 max in microseconds; requests =\n"
"answered + errors (refused, reset, timeout, short, other, corrupt) + in\n"
"flight at the deadline (0 with -n).  tcp_stream counts each send as a request,\n"
"answered when the kernel has taken all of it.  udp_stream counts a burst as a\n"
"request, answered when all N of its datagrams are back, and a timeout when any\n"
"is lost; latency is the burst's round trip.  udp_rr counts answers that come\n"
"after their request timed out as late (slow, not lost).  Progress each second\n"
"when stdout is a tty (not with --interval).\n";

static const char *const mode_names[] = {
	[BENCH_SERVE] = "serve",
	[BENCH_TCP_RR] = "tcp_rr",
	[BENCH_TCP_CRR] = "tcp_crr",
	[BENCH_TCP_STREAM] = "tcp_stream",
	[BENCH_UDP_RR] = "udp_rr",
	[BENCH_UDP_STREAM] = "udp_stream",
};

static const char *const serve_mode_names[] = {
	[BENCH_SERVE_ECHO] = "echo",
	[BENCH_SERVE_DISCARD] = "discard",
	[BENCH_SERVE_SOURCE] = "source",
};

const char *bench_mode_name(enum bench_mode m)
{
	return (unsigned)m < sizeof(mode_names) / sizeof(mode_names[0]) ? mode_names[m] : "?";
}

const char *bench_serve_mode_name(enum bench_serve_mode m)
{
	return (unsigned)m < sizeof(serve_mode_names) / sizeof(serve_mode_names[0]) ?
		serve_mode_names[m] : "?";
}

/* "123", "64k", "1m": bytes, 1..BENCH_MAX_SIZE.  *end is where it stopped. */
static int parse_size(const char *s, size_t *out, const char **end)
{
	char *e;
	errno = 0;
	if (*s < '0' || *s > '9')
		return -EINVAL;
	unsigned long long v = strtoull(s, &e, 10);
	if (errno != 0)
		return -EINVAL;
	if (*e == 'k' || *e == 'K') {
		v *= 1024;
		e++;
	} else if (*e == 'm' || *e == 'M') {
		v *= 1024 * 1024;
		e++;
	}
	if (v == 0 || v > BENCH_MAX_SIZE)
		return -EINVAL;
	*out = (size_t)v;
	*end = e;
	return 0;
}

static int parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
	char *e;
	errno = 0;
	if (*s < '0' || *s > '9')
		return -EINVAL;
	unsigned long long v = strtoull(s, &e, 10);
	if (errno != 0 || *e != '\0' || v == 0 || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_double(const char *s, double max, double *out)
{
	char *e;
	errno = 0;
	double v = strtod(s, &e);
	if (errno != 0 || e == s || *e != '\0' || !isfinite(v) || v <= 0 || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

enum {
	OPT_MODE = 256,
	OPT_UDP,
	OPT_TCP_UDP,
	OPT_NO_GRO,
	OPT_SIZE,
	OPT_RATE,
	OPT_TIMEOUT,
	OPT_JSON,
	OPT_GSO,
	OPT_NO_GSO,
	OPT_VERIFY,
	OPT_INTERVAL,
};

static const struct option long_opts[] = {
	{ "mode", required_argument, NULL, OPT_MODE },
	{ "udp", no_argument, NULL, OPT_UDP },
	{ "tcp-udp", no_argument, NULL, OPT_TCP_UDP },
	{ "no-gro", no_argument, NULL, OPT_NO_GRO },
	{ "size", required_argument, NULL, OPT_SIZE },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "gso", required_argument, NULL, OPT_GSO },
	{ "no-gso", no_argument, NULL, OPT_NO_GSO },
	{ "gso-off", no_argument, NULL, OPT_NO_GSO },
	{ "verify", no_argument, NULL, OPT_VERIFY },
	{ "interval", required_argument, NULL, OPT_INTERVAL },
	{ "threads", required_argument, NULL, 't' },
	{ "connections", required_argument, NULL, 'c' },
	{ "duration", required_argument, NULL, 'd' },
	{ "count", required_argument, NULL, 'n' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); return -EINVAL; } while (0)

int bench_opts_parse(int argc, char **argv, struct bench_opts *o,
		     char *err, size_t errlen)
{
	memset(o, 0, sizeof(*o));
	o->tcp = 1;
	o->conns = BENCH_DEF_CONNS;
	o->timeout_ms = BENCH_DEF_TIMEOUT_MS;
	int threads_given = 0, duration_given = 0, mode_given = 0;
	int client_only = 0, serve_only = 0, stream_only = 0, resp_given = 0;
	o->burst = BENCH_DEF_BURST;
	o->gso = 1;
	err[0] = '\0';

	if (argc < 2)
		FAIL("missing MODE");
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
		return 1;
	size_t m;
	for (m = 0; m < sizeof(mode_names) / sizeof(mode_names[0]); m++)
		if (strcmp(argv[1], mode_names[m]) == 0)
			break;
	if (m == sizeof(mode_names) / sizeof(mode_names[0]))
		FAIL("unknown mode '%s' (serve, tcp_rr, tcp_crr, tcp_stream, udp_rr, udp_stream)",
		     argv[1]);
	o->mode = (enum bench_mode)m;
	o->mode_name = mode_names[m];

	optind = 1;
	opterr = 0;
	int c;
	unsigned long long u;
	const char *end;
	while ((c = getopt_long(argc - 1, argv + 1, ":t:c:d:n:h", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_MODE:
			serve_only = 1;
			mode_given = 1;
			if (strcmp(optarg, "echo") == 0)
				o->serve_mode = BENCH_SERVE_ECHO;
			else if (strcmp(optarg, "discard") == 0)
				o->serve_mode = BENCH_SERVE_DISCARD;
			else if (strcmp(optarg, "source") == 0)
				o->serve_mode = BENCH_SERVE_SOURCE;
			else
				FAIL("--mode: '%s' is not echo, discard or source", optarg);
			break;
		case OPT_UDP:
			serve_only = 1;
			o->tcp = 0;
			o->udp = 1;
			break;
		case OPT_TCP_UDP:
			serve_only = 1;
			o->tcp = 1;
			o->udp = 1;
			break;
		case OPT_NO_GRO:
			serve_only = 1;
			o->no_gro = 1;
			break;
		case OPT_SIZE:
			if (parse_size(optarg, &o->req_size, &end) != 0)
				FAIL("--size: '%s' is not a size in 1..64m", optarg);
			o->resp_size = o->req_size;
			if (*end == ',') {
				if (parse_size(end + 1, &o->resp_size, &end) != 0 || *end != '\0')
					FAIL("--size: '%s' is not REQ[,RESP]", optarg);
				client_only = 1;
				resp_given = 1;
			} else if (*end != '\0') {
				FAIL("--size: '%s' is not REQ[,RESP]", optarg);
			}
			o->size_given = 1;
			break;
		case OPT_RATE:
			client_only = 1;
			if (parse_double(optarg, 1e9, &o->rate) != 0)
				FAIL("--rate: '%s' is not a rate in (0, 1e9]", optarg);
			break;
		case OPT_TIMEOUT:
			client_only = 1;
			if (parse_uint(optarg, 3600u * 1000, &u) != 0)
				FAIL("--timeout: '%s' is not milliseconds in 1..3600000", optarg);
			o->timeout_ms = u;
			break;
		case OPT_JSON:
			client_only = 1;
			o->json = 1;
			break;
		case OPT_VERIFY:
			client_only = 1;
			o->verify = 1;
			break;
		case OPT_INTERVAL:
			client_only = 1;
			if (parse_double(optarg, 86400.0, &o->interval_s) != 0 || o->interval_s < 0.01)
				FAIL("--interval: '%s' is not seconds in 0.01..86400", optarg);
			break;
		case OPT_GSO:
			stream_only = 1;
			if (parse_uint(optarg, BENCH_MAX_BURST, &u) != 0)
				FAIL("--gso: '%s' is not a number of datagrams per burst in 1..%u",
				     optarg, BENCH_MAX_BURST);
			o->burst = (unsigned)u;
			break;
		case OPT_NO_GSO:
			stream_only = 1;
			o->gso = 0;
			break;
		case 't':
			if (parse_uint(optarg, BENCH_MAX_THREADS, &u) != 0)
				FAIL("-t: '%s' is not a thread count in 1..%u", optarg, BENCH_MAX_THREADS);
			o->threads = (unsigned)u;
			threads_given = 1;
			break;
		case 'c':
			client_only = 1;
			if (parse_uint(optarg, BENCH_MAX_CONNS, &u) != 0)
				FAIL("-c: '%s' is not a connection count in 1..%u", optarg, BENCH_MAX_CONNS);
			o->conns = (unsigned)u;
			break;
		case 'd':
			client_only = 1;
			if (parse_double(optarg, 365.0 * 86400, &o->duration_s) != 0)
				FAIL("-d: '%s' is not a duration in seconds", optarg);
			duration_given = 1;
			break;
		case 'n':
			client_only = 1;
			if (parse_uint(optarg, UINT64_MAX / 2, &u) != 0)
				FAIL("-n: '%s' is not a positive count", optarg);
			o->count = u;
			break;
		case 'h':
			return 1;
		case ':':
			FAIL("option '%s' needs a value", argv[optind > 1 ? optind : 1]);
		default:
			FAIL("unknown option '%s'", argv[optind > 1 ? optind : 1]);
		}
	}
	/* getopt_long permutes, so the operands are at the end. */
	int operands = argc - 1 - optind;
	if (operands != 1)
		FAIL(operands == 0 ? "missing ADDR" : "more than one ADDR");
	const char *addr = argv[1 + optind];
	if (nlb_addr_parse(addr, o->mode == BENCH_SERVE, &o->addr) != 0)
		FAIL("'%s' is not an address like 127.0.0.1:9001 or [::1]:9001", addr);
	snprintf(o->addr_text, sizeof(o->addr_text), "%s", addr);

	if (o->mode == BENCH_SERVE) {
		if (client_only || stream_only)
			FAIL("serve takes --mode, --udp, --tcp-udp, --no-gro, --size N and -t only");
		if (!threads_given)
			o->threads = 1;
		if (!o->size_given)
			o->req_size = BENCH_DEF_STREAM_SIZE;
		o->resp_size = o->req_size;
		(void)mode_given;
		return 0;
	}

	if (serve_only)
		FAIL("--mode, --udp, --tcp-udp and --no-gro are for serve");
	if (stream_only && o->mode != BENCH_UDP_STREAM)
		FAIL("--gso and --no-gso are for udp_stream");
	if (!threads_given) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		o->threads = n > 0 ? (unsigned)n : 1;
		if (o->threads > BENCH_MAX_THREADS)
			o->threads = BENCH_MAX_THREADS;
	}
	if (!o->size_given) {
		o->req_size = o->mode == BENCH_TCP_STREAM ? BENCH_DEF_STREAM_SIZE :
			o->mode == BENCH_UDP_STREAM ? BENCH_DEF_UDP_STREAM_SIZE : BENCH_DEF_RR_SIZE;
		o->resp_size = o->req_size;
	}
	if (o->mode == BENCH_TCP_STREAM)
		o->resp_size = 0;
	if (o->mode == BENCH_UDP_RR) {
		if (o->req_size < BENCH_MIN_UDP_SIZE || o->req_size > BENCH_MAX_UDP_SIZE ||
		    o->resp_size < BENCH_MIN_UDP_SIZE || o->resp_size > BENCH_MAX_UDP_SIZE)
			FAIL("udp_rr: --size must be in %u..%u", BENCH_MIN_UDP_SIZE, BENCH_MAX_UDP_SIZE);
	}
	if (o->mode == BENCH_UDP_STREAM) {
		if (resp_given)
			FAIL("udp_stream: --size takes REQ only (every datagram comes back as sent)");
		if (o->req_size < BENCH_MIN_UDP_SIZE || o->req_size > BENCH_MAX_UDP_SIZE)
			FAIL("udp_stream: --size must be in %u..%u", BENCH_MIN_UDP_SIZE,
			     BENCH_MAX_UDP_SIZE);
		if ((uint64_t)o->burst * o->req_size > BENCH_MAX_UDP_SIZE)
			FAIL("udp_stream: a burst of %u x %zu bytes is %llu bytes, more than the "
			     "%u a GSO send (and a GRO batch) can carry: lower --gso or --size",
			     o->burst, o->req_size,
			     (unsigned long long)o->burst * o->req_size, BENCH_MAX_UDP_SIZE);
	}
	if (o->verify) {
		if (o->mode != BENCH_TCP_RR && o->mode != BENCH_TCP_CRR && o->mode != BENCH_UDP_RR)
			FAIL("--verify is for tcp_rr, tcp_crr and udp_rr");
		if (o->resp_size != o->req_size)
			FAIL("--verify checks an echo: --size takes REQ only");
	}
	if (!duration_given)
		o->duration_s = o->count ? 0.0 : BENCH_DEF_DURATION_S;
	if (o->threads > o->conns)
		o->threads = o->conns;
	return 0;
}
