/* Suite "helpers": the test helpers alone (test/helpers/), servers and
 * clients talking directly, without nlb in between: the data and reset
 * checks the proxy suite makes through nlb.  When these pass and a proxied
 * one fails, the fault is nlb's. */
#include <criterion/criterion.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

#define MiB (1024ULL * 1024)

TestSuite(helpers, .init = t_setup, .fini = t_teardown);

T_TEST(helpers, direct_bulk, .timeout = 30)
{
	struct t_server_opts so = {
		.mode = T_SRV_SINK_SOURCE, .source_bytes = 64 * MiB, .source_seed = 2,
	};
	struct t_server *srv = t_server_start_opts(&so);
	T_ASSERT(srv);
	int fd = t_connect(t_server_port(srv));
	T_ASSERT(fd >= 0);
	struct t_bulk_result r = { 0 };
	int rc = t_bulk(fd, 64 * MiB, 1, true, 20000, &r);
	t_close(fd);
	T_ASSERT(rc == 0, ": %s", strerror(-rc));
	cr_expect_eq(r.received, 64 * MiB);
	cr_expect_eq(r.sum, t_pattern_sum(2, 64 * MiB));
	T_ASSERT(t_server_wait_closed(srv, 1, 5000) == 0);
	struct t_conn_result sr;
	T_ASSERT(t_server_result(srv, 0, &sr) == 0);
	cr_expect_eq(sr.end, T_END_EOF);
	cr_expect_eq(sr.bytes_in, 64 * MiB);
	cr_expect_eq(sr.sum_in, t_pattern_sum(1, 64 * MiB));
	t_server_free(srv);
}

T_TEST(helpers, direct_half_close_and_resets, .timeout = 30)
{
	struct t_server *ans = t_server_start(T_SRV_EOF_ANSWER, 0);
	struct t_server *echo = t_server_start(T_SRV_ECHO, 0);
	struct t_server *rst = t_server_start(T_SRV_RESET, 0);
	struct t_server *tag = t_server_start(T_SRV_TAG, 0);
	T_ASSERT(ans && echo && rst && tag);

	int fd = t_connect(t_server_port(ans));
	char reply[128] = "", want[128];
	struct t_bulk_result r = { .keep = reply, .cap = sizeof reply - 1 };
	T_ASSERT(t_bulk(fd, 1000, 9, true, 5000, &r) == 0);
	t_close(fd);
	snprintf(want, sizeof want, "bytes=1000 sum=%016" PRIx64 "\n",
		 t_pattern_sum(9, 1000));
	cr_expect_str_eq(reply, want);

	fd = t_connect(t_server_port(echo));
	T_ASSERT(t_round_trip(fd, "abc", 3, 5000) == 0);
	t_close_reset(fd);
	T_ASSERT(t_server_wait_closed(echo, 1, 5000) == 0);
	struct t_conn_result sr;
	T_ASSERT(t_server_result(echo, 0, &sr) == 0);
	cr_expect_eq(sr.end, T_END_RESET, "server saw %s", t_end_name(sr.end));

	fd = t_connect(t_server_port(rst));
	T_ASSERT(t_write_all(fd, "x", 1) == 0);
	int rc = t_wait_closed(fd, 5000);
	t_close(fd);
	cr_expect_eq(rc, -ECONNRESET, "client saw %s", t_closed_how(rc));

	fd = t_connect(t_server_port(tag));
	char got[16] = "";
	T_ASSERT(t_write_all(fd, "?", 1) == 0);
	T_ASSERT(t_read_full(fd, got, 6, 5000) > 0);
	t_close(fd);
	cr_expect_eq(strtoul(got, NULL, 10), t_server_port(tag));

	struct t_blackhole *bh = t_blackhole_start();
	cr_expect(bh, "no black hole on this kernel");
	t_blackhole_free(bh);

	t_server_free(ans);
	t_server_free(echo);
	t_server_free(rst);
	t_server_free(tag);
}
