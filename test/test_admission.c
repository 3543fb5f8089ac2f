/* Suite "admission": who gets in, through the real nlb.  allow/deny lists
 * with IPv4 sources (127.0.0.x, bound by the client) and IPv6 (::1), the
 * per-source connection and rate limits exceeded and recovered, and UDP
 * flows refused the same way.  A refused client must be reset at once and
 * cost no connection to the target. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "helpers.h"
#include "px.h"
#include "udp_srv.h"

TestSuite(admission, .init = t_setup, .fini = t_teardown);

/* One echo target, one worker (per-source limits are per worker), and
 * listener_extra on the listener. */
static struct t_server *start(struct px *p, const char *listener_extra)
{
	struct t_server *t = t_server_start(T_SRV_ECHO, 0);
	T_ASSERT(t);
	px_init(p, "auto");
	p->conf.listener_extra = listener_extra;
	px_target(p, t_server_port(t));
	px_admin(p);
	px_start(p);
	return t;
}

/* A round trip from src through nlb: 0, or how it failed (a refused
 * client sees -ECONNRESET or -EPIPE). */
static int try_from(struct px *p, const char *src, int *keep)
{
	int fd = t_connect_from(src, 0, p->conf.listen_port);
	if (fd < 0)
		return fd;
	int rc = t_round_trip(fd, "ping", 4, 2000);
	if (rc == 0 && keep) {
		*keep = fd;
		return 0;
	}
	t_close(fd);
	return rc;
}

static bool refused(int rc)
{
	return rc == -ECONNRESET || rc == -EPIPE;
}

T_TEST(admission, allow_and_deny_ipv4, .timeout = 30)
{
	struct px p;
	struct t_server *t = start(&p, "allow = [ \"127.0.0.0/29\", \"10.0.0.0/8\" ];"
				       " deny = [ \"127.0.0.6/32\" ];");
	int rc = try_from(&p, "127.0.0.5", NULL);
	px_assert(&p, rc == 0, "127.0.0.5 (allowed) was refused: %s", strerror(-rc));
	rc = try_from(&p, "127.0.0.6", NULL);
	px_assert(&p, refused(rc), "127.0.0.6 (denied) got through: %s", strerror(-rc));
	rc = try_from(&p, "127.0.0.9", NULL);
	px_assert(&p, refused(rc), "127.0.0.9 (not allowed) got through: %s", strerror(-rc));
	rc = try_from(&p, "127.0.0.1", NULL);
	px_assert(&p, rc == 0, "127.0.0.1 was refused: %s", strerror(-rc));
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "acl_denied"), 2);
	cr_expect_eq(px_stat(&p, "accepted"), 4);
	cr_expect_eq(t_server_accepted(t), 2, "refused clients cost target connections");
	px_free(&p);
	t_server_free(t);
}

/* A connection from ::1 to [::1]:port whose reads wait 2 s at most;
 * t_close it. */
static int connect6(uint16_t port)
{
	int fd = t_connect6(port);
	struct timeval tv = { .tv_sec = 2 };
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Sends "six" on fd and reads the echo: 0, or -ECONNRESET / -EPIPE. */
static int echo6(int fd)
{
	char buf[3];
	if (send(fd, "six", 3, MSG_NOSIGNAL) != 3)
		return -errno;
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_WAITALL);
	if (n < 0)
		return -errno;
	return n == 3 && memcmp(buf, "six", 3) == 0 ? 0 : -EPIPE;
}

/* [::1] listener: deny wins over allow for the same address. */
T_TEST(admission, ipv6, .timeout = 30)
{
	struct t_server *t = t_server_start(T_SRV_ECHO, 0);
	T_ASSERT(t);
	uint16_t open_port = t_free_port(), shut_port = t_free_port();
	char *conf = t_write_config(
		"workers = 1;\n"
		"listeners = (\n"
		"  { name = \"open\"; address = \"[::1]:%u\"; target_group = \"g\";"
		" allow = [ \"::1/128\" ]; deny = [ \"10.0.0.0/8\" ]; },\n"
		"  { name = \"shut\"; address = \"[::1]:%u\"; target_group = \"g\";"
		" allow = [ \"::/0\" ]; deny = [ \"::1\" ]; }\n"
		");\n"
		"target_groups = ( { name = \"g\"; targets = ( { address = \"127.0.0.1:%u\"; } ); } );\n",
		open_port, shut_port, t_server_port(t));
	T_ASSERT(conf);
	struct px p;
	px_spawn_conf(&p, conf);
	int fd = connect6(open_port);
	px_assert(&p, fd >= 0, "connect [::1]:%u: %s", open_port, strerror(-fd));
	int rc = echo6(fd);
	t_close(fd);
	px_assert(&p, rc == 0, "::1 allowed was refused: %s", strerror(-rc));
	fd = connect6(shut_port);
	px_assert(&p, fd >= 0, "connect [::1]:%u: %s", shut_port, strerror(-fd));
	rc = echo6(fd);
	t_close(fd);
	px_assert(&p, refused(rc), "::1 denied got through: %s", strerror(-rc));
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "acl_denied"), 1);
	cr_expect_eq(t_server_accepted(t), 1);
	px_free(&p);
	t_server_free(t);
}

/* Two connections from one source at once; the third is refused until
 * one ends.  Another source is not affected. */
T_TEST(admission, connections_per_source, .timeout = 30)
{
	struct px p;
	struct t_server *t = start(&p, "max_connections_per_source = 2;");
	int a1, a2, b1;
	int rc = try_from(&p, "127.0.0.5", &a1);
	px_assert(&p, rc == 0, "first: %s", strerror(-rc));
	rc = try_from(&p, "127.0.0.5", &a2);
	px_assert(&p, rc == 0, "second: %s", strerror(-rc));
	rc = try_from(&p, "127.0.0.5", NULL);
	px_assert(&p, refused(rc), "a third connection from 127.0.0.5 got through: %s",
		  strerror(-rc));
	rc = try_from(&p, "127.0.0.6", &b1);
	px_assert(&p, rc == 0, "127.0.0.6 was refused: %s", strerror(-rc));
	t_close(a1);
	/* nlb sees the close when the target's echo of it comes back */
	px_assert(&p, t_server_wait_closed(t, 1, 2000) == 0, "the first connection never ended");
	/* ... and nlb lets go of it (and of its source's count) after that:
	 * the other two stay open. */
	px_wait_stat(&p, "active", 2, 2000);
	rc = try_from(&p, "127.0.0.5", NULL);
	px_assert(&p, rc == 0, "127.0.0.5 still refused after one closed: %s", strerror(-rc));
	t_close(a2);
	t_close(b1);
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "source_limit"), 1);
	cr_expect_eq(t_server_accepted(t), 4);
	px_free(&p);
	t_server_free(t);
}

/* Five new connections a second from one source, with a burst of five:
 * the sixth at once is refused; a second later there is room again. */
T_TEST(admission, new_connections_per_source, .timeout = 30)
{
	struct px p;
	struct t_server *t = start(&p, "new_connections_per_source_per_s = 5;");
	for (int i = 0; i < 5; i++) {
		int rc = try_from(&p, "127.0.0.5", NULL);
		px_assert(&p, rc == 0, "connection %d: %s", i, strerror(-rc));
	}
	int rc = try_from(&p, "127.0.0.5", NULL);
	px_assert(&p, refused(rc), "a sixth new connection got through: %s", strerror(-rc));
	rc = try_from(&p, "127.0.0.6", NULL);
	px_assert(&p, rc == 0, "another source was refused: %s", strerror(-rc));
	t_sleep_ms(1100);
	rc = try_from(&p, "127.0.0.5", NULL);
	px_assert(&p, rc == 0, "still refused a second later: %s", strerror(-rc));
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "source_rate"), 1);
	cr_expect_eq(t_server_accepted(t), 7);
	px_free(&p);
	t_server_free(t);
}

/* UDP: a denied client's datagrams start no flow and are dropped. */
T_TEST(admission, udp_denied, .timeout = 30)
{
	struct t_udp_server *t = t_udp_server_start("127.0.0.1", 0, false);
	T_ASSERT(t);
	uint16_t port = t_free_port();
	char *conf = t_write_config(
		"workers = 1;\n"
		"listeners = ( { name = \"dns\"; protocol = \"udp\"; address = \"127.0.0.1:%u\";"
		" target_group = \"g\"; deny = [ \"127.0.0.6\" ]; } );\n"
		"target_groups = ( { name = \"g\"; targets = ( { address = \"127.0.0.1:%u\"; } ); } );\n",
		port, t_udp_server_port(t));
	T_ASSERT(conf);
	struct px p;
	px_spawn_conf(&p, conf);
	char answer[256];
	int ok = t_udp_socket("127.0.0.5"), bad = t_udp_socket("127.0.0.6");
	T_ASSERT(ok >= 0 && bad >= 0);
	ssize_t n = t_udp_ask(ok, "127.0.0.1", port, "q", 1, answer, sizeof(answer), 2000);
	px_assert(&p, n > 0, "127.0.0.5 got no answer: %s", strerror((int)-n));
	n = t_udp_ask(bad, "127.0.0.1", port, "q", 1, answer, sizeof(answer), 300);
	px_assert(&p, n == -ETIMEDOUT, "127.0.0.6 (denied) got an answer");
	close(ok);
	close(bad);
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "acl_denied"), 1);
	cr_expect_eq(px_stat(&p, "udp_flows"), 1);
	cr_expect_eq(t_udp_server_datagrams(t), 1);
	px_free(&p);
	t_udp_server_free(t);
}

/* A list of 100,000 prefixes loads (the time it takes is measured by
 * build/acl-bench, not here) and is in force. */
T_TEST(admission, hundred_thousand_prefixes, .timeout = 60)
{
	struct t_server *t = t_server_start(T_SRV_ECHO, 0);
	T_ASSERT(t);
	uint16_t port = t_free_port();
	size_t cap = 100000 * 24 + 4096, off = 0;
	char *list = malloc(cap);
	T_ASSERT(list);
	/* 10.x.y.z/32 for 99,999 addresses, and 127.0.0.5 last */
	for (unsigned i = 0; i < 99999; i++)
		off += (size_t)snprintf(list + off, cap - off, "\"10.%u.%u.%u\", ", i >> 16,
					(i >> 8) & 255, i & 255);
	snprintf(list + off, cap - off, "\"127.0.0.5\"");
	char *conf = t_write_config(
		"workers = 1;\n"
		"listeners = ( { name = \"web\"; address = \"127.0.0.1:%u\"; target_group = \"g\";"
		" allow = [ %s ]; } );\n"
		"target_groups = ( { name = \"g\"; targets = ( { address = \"127.0.0.1:%u\"; } ); } );\n",
		port, list, t_server_port(t));
	free(list);
	T_ASSERT(conf);
	struct px p;
	px_spawn_conf(&p, conf);
	p.conf.listen_port = port;
	int rc = try_from(&p, "127.0.0.5", NULL);
	px_assert(&p, rc == 0, "127.0.0.5, the last prefix, was refused: %s", strerror(-rc));
	rc = try_from(&p, "127.0.0.6", NULL);
	px_assert(&p, refused(rc), "127.0.0.6, in no prefix, got through: %s", strerror(-rc));
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "acl_denied"), 1);
	px_free(&p);
	t_server_free(t);
}
