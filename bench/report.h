/* The result of a client run, printed as text or as one JSON object, and
 * with --interval each interval's figures as a line. */
#ifndef BENCH_REPORT_H
#define BENCH_REPORT_H

#include <stdio.h>

#include "histogram.h"
#include "load.h"
#include "options.h"

struct bench_result {
	const struct bench_opts *o;
	unsigned threads;
	unsigned conns;
	double duration_s;
	struct load_stats st;		/* summed over threads */
	const struct nlb_hist *hist;	/* latency, ns, merged */
};

uint64_t bench_result_errors(const struct bench_result *r);
/* Answered requests per second (connections/s for tcp_crr). */
double bench_result_rate(const struct bench_result *r);
/* Payload bits per second both ways, in Gbit/s. */
double bench_result_gbit(const struct bench_result *r);
/* udp_stream: datagrams delivered per second, answered bursts x N / s:
 * only the datagrams of bursts that came back whole. */
double bench_result_dgram_rate(const struct bench_result *r);

void bench_report_text(FILE *f, const struct bench_result *r);
void bench_report_json(FILE *f, const struct bench_result *r);

/* --interval: the line of interval n (from 1), ending t_s seconds into the
 * run (unix_s on the wall clock) and span_s long: d holds its counts (the
 * differences of the threads' totals), h its latencies (as the report's:
 * from when each request was due), sh the same from each request's real
 * start (the same but for an open loop behind its schedule). */
void bench_report_interval(FILE *f, const struct bench_opts *o, unsigned n, double t_s,
			   double unix_s, double span_s, const struct load_stats *d,
			   const struct nlb_hist *h, const struct nlb_hist *sh);

#endif
