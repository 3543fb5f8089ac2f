/* The client side (see clients.h). */
#include "clients.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "pattern.h"
#include "registry.h"
#include "time_ms.h"

/* Connects fd (of family AF_INET or AF_INET6) to the loopback address
 * of its family at port; closes it on failure. */
static int connect_loopback(int fd, int family, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		a->sin6_addr = in6addr_loopback;
		len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*a);
	}
	int rc;
	do
		rc = connect(fd, (struct sockaddr *)&ss, len);
	while (rc < 0 && errno == EINTR);
	if (rc < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

static int connect_family(int family, uint16_t port)
{
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	return connect_loopback(fd, family, port);
}

int t_connect_raw(uint16_t port)
{
	return connect_family(AF_INET, port);
}

int t_connect(uint16_t port)
{
	int fd = t_connect_raw(port);
	if (fd >= 0)
		t_register_fd(fd, true);
	return fd;
}

int t_connect6(uint16_t port)
{
	int fd = connect_family(AF_INET6, port);
	if (fd >= 0)
		t_register_fd(fd, true);
	return fd;
}

int t_admin_command(const char *sock_path, const char *cmd, char *buf, size_t cap)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(sock_path) >= sizeof sa.sun_path)
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    t_write_all(fd, cmd, strlen(cmd)) < 0 || t_write_all(fd, "\n", 1) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	/* The reply: lines, then "ok" (or "error: ..."). */
	size_t len = 0;
	int ret = -EMSGSIZE;
	buf[0] = '\0';
	while (len < cap - 1) {
		ssize_t n = t_read_full(fd, buf + len, 1, 5000);
		if (n <= 0) {
			ret = n < 0 ? (int)n : -EPIPE;
			break;
		}
		len++;
		buf[len] = '\0';
		if (buf[len - 1] != '\n')
			continue;
		const char *last = len >= 2 ? memrchr(buf, '\n', len - 1) : NULL;
		last = last ? last + 1 : buf;
		if (strcmp(last, "ok\n") == 0) {
			ret = 0;
			break;
		}
		if (strncmp(last, "error", 5) == 0) {
			ret = -EPROTO;
			break;
		}
	}
	close(fd);
	return ret;
}

int t_admin_stat(const char *sock_path, const char *key, int64_t *value)
{
	char buf[8192];
	int ret = t_admin_command(sock_path, "show stats", buf, sizeof buf);
	if (ret < 0)
		return ret;
	size_t klen = strlen(key);
	for (const char *line = buf; *line; line = strchr(line, '\n') + 1) {
		if (strncmp(line, key, klen) == 0 && line[klen] == '=') {
			*value = strtoll(line + klen + 1, NULL, 10);
			return 0;
		}
		if (!strchr(line, '\n'))
			break;
	}
	return -ENOENT;
}

int t_admin_wait_stat(const char *sock_path, const char *key, int64_t want, int timeout_ms)
{
	int64_t deadline = t_now_ms() + timeout_ms;
	int ret;
	for (;;) {
		int64_t v;
		ret = t_admin_stat(sock_path, key, &v);
		if (ret == 0 && v == want)
			return 0;
		if (t_now_ms() >= deadline)
			return ret < 0 ? ret : -ETIMEDOUT;
		t_sleep_ms(5);
	}
}

void t_close(int fd)
{
	if (fd < 0)
		return;
	t_register_fd(fd, false);
	close(fd);
}

void t_close_reset(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	t_close(fd);
}

int t_write_all(int fd, const void *buf, size_t len)
{
	size_t off = 0;
	while (off < len) {
		ssize_t n = send(fd, (const char *)buf + off, len - off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		off += (size_t)n;
	}
	return 0;
}

ssize_t t_read_full(int fd, void *buf, size_t len, int timeout_ms)
{
	int64_t deadline = t_now_ms() + timeout_ms;
	size_t off = 0;
	while (off < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int pr = poll(&p, 1, t_left_ms(deadline));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			return -errno;
		if (pr == 0)
			return -ETIMEDOUT;
		ssize_t n = recv(fd, (char *)buf + off, len - off, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	return (ssize_t)off;
}

int t_round_trip(int fd, const void *msg, size_t len, int timeout_ms)
{
	int64_t deadline = t_now_ms() + timeout_ms;
	char *back = malloc(len ? len : 1);
	if (!back)
		return -ENOMEM;
	size_t sent = 0, got = 0;
	int rc = 0;
	/* Write and read in one loop: a reply bigger than the socket
	 * buffers would otherwise deadlock against our own write. */
	while (got < len) {
		struct pollfd p = {
			.fd = fd,
			.events = POLLIN | (sent < len ? POLLOUT : 0),
		};
		int pr = poll(&p, 1, t_left_ms(deadline));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0) {
			rc = pr < 0 ? -errno : -ETIMEDOUT;
			break;
		}
		if (sent < len && (p.revents & POLLOUT)) {
			ssize_t n = send(fd, (const char *)msg + sent, len - sent,
					 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				rc = -errno;
				break;
			}
			if (n > 0)
				sent += (size_t)n;
		}
		if (p.revents & (POLLIN | POLLERR | POLLHUP)) {
			ssize_t n = recv(fd, back + got, len - got, MSG_DONTWAIT);
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				rc = -errno;
				break;
			}
			if (n == 0) {
				rc = -EPIPE;
				break;
			}
			if (n > 0)
				got += (size_t)n;
		}
	}
	if (!rc && memcmp(back, msg, len))
		rc = -EPROTO;
	free(back);
	return rc;
}

int t_wait_closed(int fd, int timeout_ms)
{
	int64_t deadline = t_now_ms() + timeout_ms;
	char buf[4096];
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int pr = poll(&p, 1, t_left_ms(deadline));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			return -errno;
		if (pr == 0)
			return -ETIMEDOUT;
		ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
		if (n == 0)
			return 0;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
	}
}

const char *t_closed_how(int rc)
{
	return rc == 0 ? "EOF" : rc == -ECONNRESET ? "reset" : strerror(-rc);
}

int t_bulk(int fd, uint64_t send_len, uint64_t seed, bool shut_wr,
	   int timeout_ms, struct t_bulk_result *r)
{
	int64_t deadline = t_now_ms() + timeout_ms;
	char *out = malloc(T_CHUNK), *in = malloc(T_CHUNK);
	size_t out_len = 0, out_off = 0;
	bool shut = false;
	int rc = 0;
	r->sent = r->received = 0;
	r->sum = T_SUM_INIT;
	if (!out || !in) {
		free(out);
		free(in);
		return -ENOMEM;
	}
	bool eof = false;
	for (;;) {
		bool sending = r->sent < send_len;
		if (!sending && shut_wr && !shut) {
			shutdown(fd, SHUT_WR);
			shut = true;
		}
		if (!sending && eof)
			break;
		struct pollfd p = {
			.fd = fd,
			.events = (eof ? 0 : POLLIN) | (sending ? POLLOUT : 0),
		};
		int pr = poll(&p, 1, t_left_ms(deadline));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0) {
			rc = pr < 0 ? -errno : -ETIMEDOUT;
			break;
		}
		if (sending && (p.revents & POLLOUT)) {
			if (out_off == out_len) {
				uint64_t left = send_len - r->sent;
				out_len = left < T_CHUNK ? (size_t)left : T_CHUNK;
				out_off = 0;
				t_pattern_fill(out, r->sent, out_len, seed);
			}
			ssize_t n = send(fd, out + out_off, out_len - out_off,
					 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				rc = -errno;
				break;
			}
			if (n > 0) {
				out_off += (size_t)n;
				r->sent += (uint64_t)n;
			}
		}
		if (!eof && (p.revents & (POLLIN | POLLERR | POLLHUP))) {
			ssize_t n = recv(fd, in, T_CHUNK, MSG_DONTWAIT);
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				rc = -errno;
				break;
			}
			if (n == 0) {
				/* The peer's half-close: keep sending. */
				eof = true;
				continue;
			}
			if (n > 0) {
				if (r->keep && r->received < r->cap) {
					size_t k = r->cap - (size_t)r->received;
					memcpy(r->keep + r->received, in,
					       k < (size_t)n ? k : (size_t)n);
				}
				r->sum = t_sum_update(r->sum, in, (size_t)n);
				r->received += (uint64_t)n;
			}
		}
	}
	free(out);
	free(in);
	return rc;
}

int t_connect_from(const char *src_ip, uint16_t src_port, uint16_t port)
{
	struct sockaddr_in src = {
		.sin_family = AF_INET,
		.sin_port = htons(src_port),
	};
	if (inet_pton(AF_INET, src_ip, &src.sin_addr) != 1)
		return -EINVAL;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(fd, (struct sockaddr *)&src, sizeof src) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	fd = connect_loopback(fd, AF_INET, port);
	if (fd >= 0)
		t_register_fd(fd, true);
	return fd;
}
