/* Ports on 127.0.0.1 (see ports.h). */
#include "ports.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "clock.h"

static uint16_t ports_given[256];
static size_t n_ports_given;

static bool port_bindable(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	struct sockaddr_in a = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	/* No SO_REUSEADDR: a port with TIME_WAIT leftovers is not "free". */
	bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
		  listen(fd, 1) == 0;
	close(fd);
	return ok;
}

static uint16_t port_from_kernel(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	struct sockaddr_in a = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	socklen_t len = sizeof a;
	uint16_t port = 0;
	if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* bind(port 0) hands out ports from the ephemeral range, the same range
 * every outgoing connect() draws its source port from.  With tests running
 * in parallel and thousands of connections in flight, a port freed here
 * can be taken as a source port before nlb binds it.  So pick at random
 * below that range when there is room, and fall back to the kernel. */
uint16_t t_free_port(void)
{
	static uint64_t rnd;
	unsigned lo = 32768, hi = 60999;
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re");
	if (f) {
		if (fscanf(f, "%u %u", &lo, &hi) != 2) {
			lo = 32768;
			hi = 60999;
		}
		fclose(f);
	}
	if (!rnd) {
		rnd = ((uint64_t)getpid() << 32) ^ nlb_clock_ns() ^ 1;
	}
	unsigned from = 0, to = 0;
	if (lo > 12000) {
		from = 10000;
		to = lo - 1;
	} else if (hi < 63000) {
		from = hi + 1;
		to = 65535;
	}
	for (int tries = 0; from && tries < 1000; tries++) {
		rnd ^= rnd << 13;
		rnd ^= rnd >> 7;
		rnd ^= rnd << 17;
		uint16_t p = (uint16_t)(from + rnd % (to - from + 1));
		bool seen = false;
		for (size_t i = 0; i < n_ports_given; i++)
			seen |= ports_given[i] == p;
		if (seen || !port_bindable(p))
			continue;
		if (n_ports_given < sizeof ports_given / sizeof ports_given[0])
			ports_given[n_ports_given++] = p;
		return p;
	}
	return port_from_kernel();
}

int t_listeners_in(const char *path, uint16_t port)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	char line[512];
	int n = 0;
	/* "  sl  local_address rem_address   st ..."; addresses are
	 * HEXADDR:HEXPORT, state 0A is LISTEN. */
	if (fgets(line, sizeof line, f)) {
		while (fgets(line, sizeof line, f)) {
			char local[128], remote[128];
			unsigned st;
			if (sscanf(line, " %*s %127s %127s %x", local, remote, &st) != 3)
				continue;
			char *colon = strrchr(local, ':');
			if (colon && st == 0x0A && strtoul(colon + 1, NULL, 16) == port)
				n++;
		}
	}
	fclose(f);
	return n;
}

int t_listeners(uint16_t port)
{
	return t_listeners_in("/proc/net/tcp", port) + t_listeners_in("/proc/net/tcp6", port);
}

int t_port_hold(uint16_t *port)
{
	*port = t_free_port();
	if (!*port)
		return -EADDRNOTAVAIL;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	struct sockaddr_in a = {
		.sin_family = AF_INET,
		.sin_port = htons(*port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}
