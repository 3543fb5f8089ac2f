/* nlb-bench client modes: tcp_rr, tcp_crr, tcp_stream, udp_rr,
 * udp_stream. */
#ifndef BENCH_CLIENT_H
#define BENCH_CLIENT_H

#include "options.h"

/* Runs the load, prints the report; 0, or -errno if it could not run. */
int bench_client(const struct bench_opts *o);

#endif
