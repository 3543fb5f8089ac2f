/* Command line of nlb-bench: one struct for the server and the client
 * modes, filled from argv and checked as a whole. */
#ifndef BENCH_OPTIONS_H
#define BENCH_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "defaults.h"

enum bench_mode {
	BENCH_SERVE = 0,
	BENCH_TCP_RR,
	BENCH_TCP_CRR,
	BENCH_TCP_STREAM,
	BENCH_UDP_RR,
	BENCH_UDP_STREAM,
};

enum bench_serve_mode {
	BENCH_SERVE_ECHO = 0,
	BENCH_SERVE_DISCARD,
	BENCH_SERVE_SOURCE,
};

struct bench_opts {
	enum bench_mode mode;
	const char *mode_name;
	struct nlb_addr addr;
	char addr_text[NLB_ADDRSTRLEN];

	/* serve */
	enum bench_serve_mode serve_mode;
	int tcp;			/* serve TCP */
	int udp;			/* serve UDP */
	int no_gro;			/* serve UDP without UDP_GRO (and GSO echoes) */

	/* both: serve --size is the source chunk; clients: request size */
	size_t req_size;
	size_t resp_size;
	int size_given;

	unsigned threads;
	unsigned conns;
	double duration_s;		/* 0 = none (only with -n) */
	uint64_t count;			/* 0 = no limit */
	double rate;			/* total requests per second, 0 = closed loop */
	uint64_t timeout_ms;
	int json;
	/* tcp_rr, tcp_crr, udp_rr: requests from bench_verify_fill, answers
	 * checked byte for byte (a mismatch is a LOAD_ERR_CORRUPT error) */
	int verify;
	/* > 0: a line of the interval's figures every interval_s seconds */
	double interval_s;

	/* udp_stream: datagrams per burst (--gso N), sent as one UDP_SEGMENT
	 * sendmsg when gso is set (default) or one sendmsg each (--no-gso) */
	unsigned burst;
	int gso;
};

extern const char bench_usage[];

const char *bench_mode_name(enum bench_mode m);
const char *bench_serve_mode_name(enum bench_serve_mode m);

/* Parses argv (argv[1] is the mode).  Returns 0, 1 when help was asked
 * for, or -EINVAL with a one-line reason in err. */
int bench_opts_parse(int argc, char **argv, struct bench_opts *o,
		     char *err, size_t errlen);

#endif
