/* UDP test targets and clients (see udp_srv.h). */
#include "udp_srv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"

#define MAX_TCP 32

struct t_udp_server {
	char ip[64];
	uint16_t port;
	bool tcp;
	int ufd, lfd, stop_fd;
	int conns[MAX_TCP];
	pthread_t thread;
	bool running;
	_Atomic unsigned datagrams;
};

static int fill_addr(const char *ip, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, ip, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		*len = sizeof(*a4);
		return 0;
	}
	if (inet_pton(AF_INET6, ip, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		*len = sizeof(*a6);
		return 0;
	}
	return -EINVAL;
}

uint16_t t_sockaddr_port(const struct sockaddr_storage *ss)
{
	return ntohs(ss->ss_family == AF_INET ? ((const struct sockaddr_in *)ss)->sin_port
					      : ((const struct sockaddr_in6 *)ss)->sin6_port);
}

static int bound(const char *ip, uint16_t port, int type)
{
	struct sockaddr_storage ss;
	socklen_t len;
	if (fill_addr(ip, port, &ss, &len) < 0)
		return -EINVAL;
	int fd = socket(ss.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Not for port 0: two UDP sockets with SO_REUSEADDR may be given
	 * the same ephemeral port, and then one 4-tuple. */
	int one = 1;
	if (port)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 128) < 0)) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static void serve_udp(struct t_udp_server *s)
{
	for (;;) {
		char buf[65536], out[65536 + 32];
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		ssize_t n = recvfrom(s->ufd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);
		if (n < 0)
			return;
		int h = snprintf(out, sizeof(out), "%u:%u:", s->port, t_sockaddr_port(&from));
		memcpy(out + h, buf, (size_t)n);
		sendto(s->ufd, out, (size_t)h + (size_t)n, 0, (struct sockaddr *)&from, flen);
		atomic_fetch_add(&s->datagrams, 1);
	}
}

static void *server_main(void *arg)
{
	struct t_udp_server *s = arg;
	for (;;) {
		struct pollfd p[3 + MAX_TCP];
		int n = 0;
		p[n++] = (struct pollfd){ .fd = s->stop_fd, .events = POLLIN };
		p[n++] = (struct pollfd){ .fd = s->ufd, .events = POLLIN };
		p[n++] = (struct pollfd){ .fd = s->lfd, .events = POLLIN };
		for (int i = 0; i < MAX_TCP; i++)
			p[n++] = (struct pollfd){ .fd = s->conns[i], .events = POLLIN };
		if (poll(p, (nfds_t)n, -1) < 0)
			continue;
		if (p[0].revents)
			return NULL;
		if (p[1].revents)
			serve_udp(s);
		if (p[2].revents) {
			int c = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
			for (int i = 0; c >= 0 && i < MAX_TCP; i++) {
				if (s->conns[i] < 0) {
					s->conns[i] = c;
					c = -1;
				}
			}
			if (c >= 0)
				close(c);
		}
		for (int i = 0; i < MAX_TCP; i++) {
			if (!p[3 + i].revents)
				continue;
			char buf[4096];
			ssize_t r = read(s->conns[i], buf, sizeof(buf));
			if (r <= 0 || write(s->conns[i], buf, (size_t)r) != r) {
				close(s->conns[i]);
				s->conns[i] = -1;
			}
		}
	}
}

int t_udp_server_restart(struct t_udp_server *s)
{
	s->ufd = bound(s->ip, s->port, SOCK_DGRAM);
	if (s->ufd < 0)
		return s->ufd;
	s->lfd = -1;
	if (s->tcp && (s->lfd = bound(s->ip, s->port, SOCK_STREAM)) < 0) {
		int err = s->lfd;
		close(s->ufd);
		return err;
	}
	for (int i = 0; i < MAX_TCP; i++)
		s->conns[i] = -1;
	s->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (pthread_create(&s->thread, NULL, server_main, s) != 0) {
		close(s->ufd);
		if (s->lfd >= 0)
			close(s->lfd);
		close(s->stop_fd);
		return -EAGAIN;
	}
	s->running = true;
	return 0;
}

struct t_udp_server *t_udp_server_start(const char *ip, uint16_t port, bool tcp)
{
	struct t_udp_server *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	snprintf(s->ip, sizeof(s->ip), "%s", ip);
	s->port = port ? port : t_free_port();
	s->tcp = tcp;
	if (!s->port || t_udp_server_restart(s) < 0) {
		free(s);
		return NULL;
	}
	return s;
}

void t_udp_server_stop(struct t_udp_server *s)
{
	if (!s->running)
		return;
	uint64_t one = 1;
	ssize_t w = write(s->stop_fd, &one, sizeof(one));
	(void)w;
	pthread_join(s->thread, NULL);
	close(s->stop_fd);
	close(s->ufd);
	if (s->lfd >= 0)
		close(s->lfd);
	for (int i = 0; i < MAX_TCP; i++)
		if (s->conns[i] >= 0)
			close(s->conns[i]);
	s->running = false;
}

void t_udp_server_free(struct t_udp_server *s)
{
	if (!s)
		return;
	t_udp_server_stop(s);
	free(s);
}

uint16_t t_udp_server_port(const struct t_udp_server *s)
{
	return s->port;
}

unsigned t_udp_server_datagrams(struct t_udp_server *s)
{
	return atomic_load(&s->datagrams);
}

int t_udp_socket(const char *ip)
{
	return bound(ip, 0, SOCK_DGRAM);
}

int t_tcp_listener(const char *ip, uint16_t *port)
{
	int fd = bound(ip, 0, SOCK_STREAM);
	if (fd >= 0)
		*port = t_udp_local_port(fd);
	return fd;
}

uint16_t t_udp_local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	return t_sockaddr_port(&ss);
}

ssize_t t_udp_ask(int fd, const char *ip, uint16_t port, const void *msg, size_t len,
		  char *answer, size_t cap, int timeout_ms)
{
	struct sockaddr_storage to, from;
	socklen_t tlen;
	if (fill_addr(ip, port, &to, &tlen) < 0)
		return -EINVAL;
	if (sendto(fd, msg, len, 0, (struct sockaddr *)&to, tlen) < 0)
		return -errno;
	ssize_t n = t_udp_recv_from(fd, answer, cap - 1, timeout_ms, &from);
	if (n < 0)
		return n;
	answer[n] = '\0';
	/* the same family, so the same length: tlen bytes of each */
	if (from.ss_family != to.ss_family || memcmp(&from, &to, tlen) != 0)
		return -EPROTO;
	return n;
}

int t_udp_answer_parse(const char *answer, unsigned *target, unsigned *via)
{
	return sscanf(answer, "%u:%u:", target, via) == 2 ? 0 : -EINVAL;
}

int t_udp_send_to(int fd, const char *ip, uint16_t port, const void *buf, size_t len)
{
	struct sockaddr_storage to;
	socklen_t tlen;
	if (fill_addr(ip, port, &to, &tlen) < 0)
		return -EINVAL;
	return sendto(fd, buf, len, 0, (struct sockaddr *)&to, tlen) == (ssize_t)len ? 0 : -errno;
}

int t_udp_send_gso_sa(int fd, const struct sockaddr_storage *to, const void *buf, size_t len,
		      uint16_t seg)
{
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} ctl;
	memset(&ctl, 0, sizeof(ctl));
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = {
		.msg_name = (void *)to,
		.msg_namelen = to->ss_family == AF_INET ? sizeof(struct sockaddr_in)
							: sizeof(struct sockaddr_in6),
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_UDP;
	cm->cmsg_type = UDP_SEGMENT;
	cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
	memcpy(CMSG_DATA(cm), &seg, sizeof(seg));
	return sendmsg(fd, &msg, 0) == (ssize_t)len ? 0 : -errno;
}

int t_udp_send_gso(int fd, const char *ip, uint16_t port, const void *buf, size_t len,
		   uint16_t seg)
{
	struct sockaddr_storage to;
	socklen_t tlen;
	if (fill_addr(ip, port, &to, &tlen) < 0)
		return -EINVAL;
	return t_udp_send_gso_sa(fd, &to, buf, len, seg);
}

ssize_t t_udp_recv_from(int fd, void *buf, size_t cap, int timeout_ms,
			struct sockaddr_storage *from)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	if (poll(&p, 1, timeout_ms) <= 0)
		return -ETIMEDOUT;
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	socklen_t flen = sizeof(ss);
	ssize_t n = recvfrom(fd, buf, cap, 0, (struct sockaddr *)&ss, &flen);
	if (n < 0)
		return -errno;
	if (from)
		*from = ss;
	return n;
}
