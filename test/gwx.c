/* The gateway suites' shared steps (see gwx.h). */
#include "gwx.h"

#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "helpers.h"

/* nlb-bench serve --mode echo [extra] on addr in ns, once it says so. */
struct t_nlb *gwx_serve(const struct t_netns *ns, const char *addr, const char *extra)
{
	const char *argv[] = { t_bench_bin(), "serve", "--mode", "echo", addr, extra, NULL };
	struct t_nlb *h = t_netns_spawn(ns, argv);
	T_ASSERT(h, ": %s", t_netns_err());
	if (t_nlb_log_wait(h, "echo on", 5000) != 0) {
		t_nlb_dump_log(h, "nlb-bench serve did not start");
		T_ASSERT(false, ": nlb-bench serve %s in %s did not start", addr, ns->name);
	}
	return h;
}

/* A socket made in ns and connected to addr:port (TCP: within 3 s). */
int gwx_connect(const struct t_netns *ns, int type, const char *addr, uint16_t port)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	bool v6 = strchr(addr, ':');
	if (v6) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		T_ASSERT(inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1);
	} else {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		T_ASSERT(inet_pton(AF_INET, addr, &s4->sin_addr) == 1);
	}
	int fd = t_netns_socket(ns, v6 ? AF_INET6 : AF_INET, type, 0);
	T_ASSERT(fd >= 0, ": %s", t_netns_err());
	struct timeval tv = { 3, 0 };
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	int rc = connect(fd, (struct sockaddr *)&ss, v6 ? sizeof *s6 : sizeof *s4);
	int e = errno;
	if (rc != 0)
		close(fd);
	T_ASSERT(rc == 0, ": connect from %s to %s port %u: %s", ns->name, addr, port, strerror(e));
	return fd;
}

/* A TCP round trip from ns to the echo server at addr:port. */
void gwx_tcp_echo_ok(const struct t_netns *ns, const char *addr, uint16_t port)
{
	int fd = gwx_connect(ns, SOCK_STREAM, addr, port);
	static const char msg[] = "through the lab";
	int rc = t_round_trip(fd, msg, sizeof msg, 3000);
	close(fd);
	T_ASSERT(rc == 0, ": TCP round trip from %s to %s port %u: %s", ns->name, addr, port,
		 strerror(-rc));
}

ssize_t gwx_udp_ask(int fd, const void *msg, size_t len, void *got, size_t cap)
{
	ssize_t n = -1;
	for (int i = 0; i < 6 && n < 0; i++) {
		cr_assert_eq(send(fd, msg, len, 0), (ssize_t)len);
		struct pollfd p = { fd, POLLIN, 0 };
		if (poll(&p, 1, 500) == 1)
			n = recv(fd, got, cap, 0);
	}
	return n;
}

/* A UDP datagram from ns to the echo server at addr:port, and back. */
void gwx_udp_echo_ok(const struct t_netns *ns, const char *addr, uint16_t port)
{
	int fd = gwx_connect(ns, SOCK_DGRAM, addr, port);
	static const char msg[] = "a datagram through the lab";
	char got[64];
	ssize_t n = gwx_udp_ask(fd, msg, sizeof msg, got, sizeof got);
	close(fd);
	T_ASSERT(n == (ssize_t)sizeof msg && !memcmp(got, msg, sizeof msg),
		 ": UDP echo from %s to %s port %u: %zd bytes back", ns->name, addr, port, n);
}

