/* nlb-bench: the target server (serve) and the load generators (tcp_rr,
 * tcp_crr, tcp_stream, udp_rr, udp_stream) in one binary. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "options.h"
#include "serve.h"
#include "sys.h"

int main(int argc, char **argv)
{
	struct bench_opts o;
	char err[256];
	int ret = bench_opts_parse(argc, argv, &o, err, sizeof(err));
	if (ret == 1) {
		fputs(bench_usage, stdout);
		return 0;
	}
	if (ret < 0) {
		fprintf(stderr, "nlb-bench: %s\n%s", err, bench_usage);
		return 2;
	}
	bench_sys_raise_nofile();
	if (o.mode == BENCH_SERVE)
		ret = bench_serve(&o);
	else
		ret = bench_client(&o);
	if (ret < 0 && ret != -EIO)
		fprintf(stderr, "nlb-bench %s: %s\n", o.mode_name, strerror(-ret));
	return ret < 0 ? 1 : 0;
}
