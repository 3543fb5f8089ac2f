/* nlb-bench serve: the echo/discard/source target server. */
#ifndef BENCH_SERVE_H
#define BENCH_SERVE_H

#include "options.h"

/* Runs until SIGINT or SIGTERM; 0 then, -errno if it could not start or a
 * thread failed. */
int bench_serve(const struct bench_opts *o);

#endif
